#ifndef VECTOR_KERNELS_H
#define VECTOR_KERNELS_H

// The element-wise loops of a forward pass that dominate after the matrix products: weight
// decoding, the SwiGLU gate and softmax. They are C so that each can be compiled
// for several instruction sets and picked at load time by the CPU it runs on (Swift has no
// per-function target attribute; a build flag would make the whole binary require AVX-512).
// Every variant does the same IEEE operations in the same order, without fused multiply-adds,
// so the numbers are the same bits on every CPU.

#include <stdint.h>

#pragma clang fp contract(off)

/// e^x for float32, within 2 ulp: Cody-Waite reduction x = n·ln2 + r with |r| <= ln2/2, a
/// degree-6 polynomial for e^r (Cephes' expf coefficients), and 2^n put in the exponent bits.
/// Inputs are clamped to [-87.3, 88.4], where e^x is a normal float.
static inline float qk_exp(float x) {
    const float low = -87.33654f, high = 88.37626f;
    float above = x < low ? low : x;
    x = above > high ? high : above;
    // Adding 1.5·2²³ rounds x·log2(e) to the nearest integer n and leaves n in the low mantissa bits.
    const float shifter = 12582912.0f;
    float shifted = x * 1.44269504f + shifter;
    float n = shifted - shifter;
    float r = (x - n * 0.693359375f) - n * -2.1219444e-4f;
    float p = 1.98756915e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float expR = p * (r * r) + r + 1.0f;
    union { float f; uint32_t u; } s = { shifted }, k = { shifter }, two;
    two.u = (s.u - k.u + 127u) << 23;
    return expR * two.f;
}

/// Softmax of one row in place: m = the largest x[i] (eight interleaved partial maxima, a
/// compare-and-select each, then the rest in order), x[i] = e^(x[i] - m), then each times
/// 1 / Σ x[i] (eight interleaved partial sums as in `qk_rms_norm`).
void qk_softmax(float *x, long count);

/// out[i] = gate[i] / (1 + e^-gate[i]) * up[i] (SwiGLU, as PyTorch's vectorised SiLU computes it).
void qk_silu_gate(const float *gate, const float *up, float *out, long count);

/// x[i] += y[i] for i < count (the residual stream).
void qk_add(float *x, const float *y, long count);

/// HF's RMSNorm of one row: y[i] = gain[i] * (x[i] * (1 / sqrt(mean(x²) + eps))), the sum of
/// squares in eight interleaved partial sums (lane k takes i ≡ k mod 8), then the rest in order.
void qk_rms_norm(const float *x, long count, const float *gain, float eps, float *y);

/// Rotary embedding of one head in the rotate-half layout: for i < half,
/// (first[i], second[i]) = (a·cos[i] - b·sin[i], b·cos[i] + a·sin[i]) with a, b the old values.
void qk_rotate_half(float *first, float *second, const float *cos, const float *sin, long half);

/// GGUF 32-element blocks to float32; `half` maps each of the 65,536 half-precision bit
/// patterns to its float (exact). Q4_0: x = (q - 8)·d; Q4_1: x = q·d + m; Q8_0: x = q·d.
void qk_decode_q4_0(const uint8_t *source, float *destination, long blocks, const float *half);
void qk_decode_q4_1(const uint8_t *source, float *destination, long blocks, const float *half);
void qk_decode_q8_0(const uint8_t *source, float *destination, long blocks, const float *half);

/// GGUF K-quant 256-element super-blocks to float32, each sub-block's values as
/// `(d * scale) * q - (dmin * min)` (Q4_K: 4-bit q; Q5_K: 5-bit q, its fifth bits in a plane of
/// their own) or `(d * scale) * (q - 32)` (Q6_K: 6-bit q, 16 signed 8-bit scales).
void qk_decode_q4_k(const uint8_t *source, float *destination, long blocks, const float *half);
void qk_decode_q5_k(const uint8_t *source, float *destination, long blocks, const float *half);
void qk_decode_q6_k(const uint8_t *source, float *destination, long blocks, const float *half);

/// A hint to the core that this thread is spinning on a memory word (x86 `pause`), which
/// spares the memory system and a sibling hardware thread.
static inline void qk_spin_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/// Fixes glibc's allocator thresholds so that freed blocks up to 32 MB (the largest threshold
/// glibc accepts on 64-bit systems) stay in the heap, and up to 128 MB of free space at its top
/// before it is handed back to the kernel. Does nothing without glibc.
void qk_keep_freed_memory(void);

#endif
