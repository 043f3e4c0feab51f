/* gp_cpu_simd.h: small vector helpers shared by the CPU backend's AVX-512
 * kernels (internal; include only where immintrin.h may be used). */
#ifndef GALPOST_GP_CPU_SIMD_H
#define GALPOST_GP_CPU_SIMD_H
#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#include "gp_backend.h"

/* ReLU or LeakyReLU (vslope = the slope in every lane) on 16 values, the
 * kernels' epilogue; other activations pass through (callers handle them
 * apart). */
__attribute__((target("avx512f")))
static inline __m512 gp_cpu_act_avx512(__m512 y, gp_act act, __m512 vslope)
{
    const __m512 zero = _mm512_setzero_ps();
    __mmask16 pos = _mm512_cmp_ps_mask(y, zero, _CMP_GT_OQ);
    if (act == GP_ACT_LEAKY_RELU) return _mm512_mask_blend_ps(pos, _mm512_mul_ps(y, vslope), y);
    if (act == GP_ACT_RELU) return _mm512_mask_blend_ps(pos, zero, y);
    return y;
}
#endif
#endif
