#include "VectorKernels.h"

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
