#ifndef QKPROBE_CBLAS_SHIM_H
#define QKPROBE_CBLAS_SHIM_H
#include <cblas.h>

/* OpenBLAS picks its kernels when it loads (DYNAMIC_ARCH builds), from the CPU or from
   $OPENBLAS_CORETYPE. Releases older than the CPU fall back to slower kernels: Debian 12's 0.3.21
   runs Zen 4/5 with its Haswell (AVX2) kernels, two thirds as fast as its AVX-512 ones. These entry
   points are exported by such builds but not declared in cblas.h; weak, so that a build without
   them still links and the re-selection below reports that it could not run. */
extern void gotoblas_dynamic_init(void) __attribute__((weak));
extern void gotoblas_dynamic_quit(void) __attribute__((weak));

/* Runs OpenBLAS's kernel selection again (it reads $OPENBLAS_CORETYPE). Call it before the first
   BLAS routine. Returns 0 when the library has no run-time selection. */
static inline int qkprobe_openblas_reselect_kernels(void) {
    if (!gotoblas_dynamic_init || !gotoblas_dynamic_quit) return 0;
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
    return 1;
}

/* Whether the CPU has the AVX-512 subsets that OpenBLAS's SkylakeX kernels use. */
static inline int qkprobe_cpu_has_avx512(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#else
    return 0;
#endif
}
#endif
