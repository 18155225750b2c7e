#include "VectorKernels.h"
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#pragma clang fp contract(off)

// One clone per instruction set, chosen by the dynamic loader from the CPU's features.
#if defined(__x86_64__) && defined(__linux__)
#define PER_CPU __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define PER_CPU
#endif

static inline float larger(float a, float b) { return a > b ? a : b; }

PER_CPU
void qk_softmax(float *x, long count) {
    float top[8] = {-__builtin_inff(), -__builtin_inff(), -__builtin_inff(), -__builtin_inff(),
                    -__builtin_inff(), -__builtin_inff(), -__builtin_inff(), -__builtin_inff()};
    long i = 0;
    for (; i + 8 <= count; i += 8) {
        for (int k = 0; k < 8; k++) top[k] = larger(x[i + k], top[k]);
    }
    float maximum = larger(larger(larger(top[0], top[1]), larger(top[2], top[3])),
                           larger(larger(top[4], top[5]), larger(top[6], top[7])));
    for (; i < count; i++) maximum = larger(x[i], maximum);

    // The exponentials in a loop of their own, at the full vector width; then their sum.
    for (i = 0; i < count; i++) x[i] = qk_exp(x[i] - maximum);
    float partial[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (i = 0; i + 8 <= count; i += 8) {
        for (int k = 0; k < 8; k++) partial[k] += x[i + k];
    }
    float total = ((partial[0] + partial[1]) + (partial[2] + partial[3])) + ((partial[4] + partial[5]) + (partial[6] + partial[7]));
    for (; i < count; i++) total += x[i];
    float inverse = 1.0f / total;
    for (i = 0; i < count; i++) x[i] *= inverse;
}

PER_CPU
void qk_silu_gate(const float *gate, const float *up, float *out, long count) {
    for (long i = 0; i < count; i++) out[i] = gate[i] / (1.0f + qk_exp(-gate[i])) * up[i];
}

PER_CPU
void qk_add(float *x, const float *y, long count) {
    for (long i = 0; i < count; i++) x[i] += y[i];
}

PER_CPU
void qk_rms_norm(const float *x, long count, const float *gain, float eps, float *y) {
    float partial[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    long i = 0;
    for (; i + 8 <= count; i += 8) {
        for (int k = 0; k < 8; k++) partial[k] += x[i + k] * x[i + k];
    }
    float total = ((partial[0] + partial[1]) + (partial[2] + partial[3])) + ((partial[4] + partial[5]) + (partial[6] + partial[7]));
    for (; i < count; i++) total += x[i] * x[i];
    float scale = 1.0f / __builtin_sqrtf(total / (float)count + eps);
    for (i = 0; i < count; i++) y[i] = gain[i] * (x[i] * scale);
}

PER_CPU
void qk_rotate_half(float *first, float *second, const float *cos, const float *sin, long half) {
    for (long i = 0; i < half; i++) {
        float a = first[i], b = second[i];
        first[i] = a * cos[i] - b * sin[i];
        second[i] = b * cos[i] + a * sin[i];
    }
}

static inline float half_at(const uint8_t *p, const float *half) {
    return half[(uint32_t)p[0] | (uint32_t)p[1] << 8];
}

PER_CPU
void qk_decode_q4_0(const uint8_t *source, float *destination, long blocks, const float *half) {
    for (long b = 0; b < blocks; b++) {
        const uint8_t *block = source + b * 18, *qs = block + 2;
        float *out = destination + b * 32;
        float d = half_at(block, half);
        for (int j = 0; j < 16; j++) {
            out[j] = (float)((int32_t)(qs[j] & 0x0F) - 8) * d;
            out[j + 16] = (float)((int32_t)(qs[j] >> 4) - 8) * d;
        }
    }
}

PER_CPU
void qk_decode_q4_1(const uint8_t *source, float *destination, long blocks, const float *half) {
    for (long b = 0; b < blocks; b++) {
        const uint8_t *block = source + b * 20, *qs = block + 4;
        float *out = destination + b * 32;
        float d = half_at(block, half), m = half_at(block + 2, half);
        for (int j = 0; j < 16; j++) {
            out[j] = (float)(qs[j] & 0x0F) * d + m;
            out[j + 16] = (float)(qs[j] >> 4) * d + m;
        }
    }
}

PER_CPU
void qk_decode_q8_0(const uint8_t *source, float *destination, long blocks, const float *half) {
    for (long b = 0; b < blocks; b++) {
        const uint8_t *block = source + b * 34;
        const int8_t *qs = (const int8_t *)(block + 2);
        float *out = destination + b * 32;
        float d = half_at(block, half);
        for (int j = 0; j < 32; j++) out[j] = (float)qs[j] * d;
    }
}

// The 6-bit scale and minimum of sub-block `sub` (0-7) of a Q4_K/Q5_K super-block, packed in 12 bytes.
static inline void k_scale_min(const uint8_t *packed, int sub, float *scale, float *min) {
    if (sub < 4) {
        *scale = (float)(packed[sub] & 0x3F);
        *min = (float)(packed[sub + 4] & 0x3F);
    } else {
        int j = sub - 4;
        *scale = (float)((packed[j + 8] & 0x0F) | ((packed[j] >> 2) & 0x30));
        *min = (float)((packed[j + 8] >> 4) | ((packed[j + 4] >> 2) & 0x30));
    }
}

// One Q4_K or Q5_K super-block: 256 values from 4-bit `qs`, with fifth bits from `qh` when it
// is not null (bit `sub` of byte l is the fifth bit of element l of sub-block `sub`).
static inline void decode_k_super_block(const uint8_t *block, const uint8_t *qh, const uint8_t *qs, float *out,
                                        const float *half) {
    const uint8_t *scales = block + 4;
    float d = half_at(block, half), dmin = half_at(block + 2, half);
    for (int sub = 0; sub < 8; sub++) {
        float scale, min;
        k_scale_min(scales, sub, &scale, &min);
        float dl = d * scale, ml = dmin * min;
        const uint8_t *run = qs + (sub / 2) * 32;
        int shift = (sub % 2) * 4;
        float *o = out + sub * 32;
        for (int l = 0; l < 32; l++) {
            int q = (run[l] >> shift) & 0x0F;
            if (qh) q |= ((qh[l] >> sub) & 1) << 4;
            o[l] = dl * (float)q - ml;
        }
    }
}

PER_CPU
void qk_decode_q4_k(const uint8_t *source, float *destination, long blocks, const float *half) {
    for (long b = 0; b < blocks; b++) {
        const uint8_t *block = source + b * 144;
        decode_k_super_block(block, 0, block + 16, destination + b * 256, half);
    }
}

PER_CPU
void qk_decode_q5_k(const uint8_t *source, float *destination, long blocks, const float *half) {
    for (long b = 0; b < blocks; b++) {
        const uint8_t *block = source + b * 176;
        decode_k_super_block(block, block + 16, block + 48, destination + b * 256, half);
    }
}

PER_CPU
void qk_decode_q6_k(const uint8_t *source, float *destination, long blocks, const float *half) {
    for (long b = 0; b < blocks; b++) {
        const uint8_t *block = source + b * 210, *ql = block, *qh = block + 128;
        const int8_t *scales = (const int8_t *)(block + 192);
        float *out = destination + b * 256;
        float d = half_at(block + 208, half);
        // Element 128h + 32j + l: low nibble from byte 64h + 32(j % 2) + l (high nibble when j >= 2),
        // top two bits from byte 32h + l (bits 2j, 2j + 1); scale of group (128h + 32j + l) / 16.
        for (int h = 0; h < 2; h++) {
            for (int j = 0; j < 4; j++) {
                const uint8_t *low = ql + 64 * h + 32 * (j % 2), *top = qh + 32 * h;
                int lowShift = 4 * (j / 2), topShift = 2 * j;
                for (int part = 0; part < 2; part++) {
                    float dl = d * (float)scales[8 * h + 2 * j + part];
                    float *o = out + 128 * h + 32 * j + 16 * part;
                    for (int l = 16 * part; l < 16 * part + 16; l++) {
                        int q = ((low[l] >> lowShift) & 0x0F) | (((top[l] >> topShift) & 0x03) << 4);
                        o[l - 16 * part] = dl * (float)(q - 32);
                    }
                }
            }
        }
    }
}

void qk_keep_freed_memory(void) {
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 128 << 20);
#endif
}
