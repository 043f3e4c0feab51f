/*
 * gp_cpu_stretch.c: the band stretch y = (asinh(x / soft) - offset) / scale
 * with gp_asinhf (gp_cpu_math.h), sixteen pixels at a time with AVX-512 or
 * eight with AVX2 + FMA where the CPU has them.  The vector paths perform
 * gp_asinhf's float operations one for one (fused multiply-adds exactly
 * where it calls fmaf), so all paths give the same bits; libm's asinhf is
 * ~20x slower and does not vectorize.
 */
#include <stddef.h>

#include "gp_cpu_math.h"

static void stretch_scalar(float *p, size_t n, float inv_soft, float off, float inv_scale)
{
    for (size_t k = 0; k < n; k++) p[k] = (gp_asinhf(p[k] * inv_soft) - off) * inv_scale;
}

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

/* gp_asinhf on 8 floats, the same operations (AVX2 + FMA) */
__attribute__((target("avx2,fma")))
static __m256 asinh8_avx2(__m256 x)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256 a = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
    __m256 a2 = _mm256_mul_ps(a, a);
    __m256 q = _mm256_sqrt_ps(_mm256_add_ps(a2, one));
    __m256 t = _mm256_add_ps(a, _mm256_div_ps(a2, _mm256_add_ps(q, one)));
    __m256 big = _mm256_cmp_ps(a, _mm256_set1_ps(0x1p12f), _CMP_GT_OQ);
    __m256i ub = _mm256_castps_si256(_mm256_blendv_ps(_mm256_add_ps(one, t), a, big));
    __m256i d = _mm256_sub_epi32(ub, _mm256_set1_epi32(0x3F3504F3));
    __m256i k = _mm256_sub_epi32(_mm256_srai_epi32(d, 23), _mm256_castps_si256(big));   /* big: -1 */
    __m256 m = _mm256_castsi256_ps(_mm256_sub_epi32(ub, _mm256_and_si256(d, _mm256_set1_epi32((int)0xFF800000u))));
    __m256 f = _mm256_sub_ps(m, one), e = _mm256_cvtepi32_ps(k);
    __m256 small = _mm256_andnot_ps(big, _mm256_cmp_ps(t, _mm256_set1_ps(GP_SQRT2F - 1.0f), _CMP_LT_OQ));
    f = _mm256_blendv_ps(f, t, small);
    e = _mm256_andnot_ps(small, e);
    __m256 z = _mm256_mul_ps(f, f);
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(GP_LOGF_P0), f, _mm256_set1_ps(GP_LOGF_P1));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(GP_LOGF_P2));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(GP_LOGF_P3));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(GP_LOGF_P4));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(GP_LOGF_P5));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(GP_LOGF_P6));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(GP_LOGF_P7));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(GP_LOGF_P8));
    __m256 y = _mm256_mul_ps(_mm256_mul_ps(f, z), p);
    y = _mm256_fmadd_ps(_mm256_set1_ps(GP_LN2_LO), e, y);
    y = _mm256_fmadd_ps(_mm256_set1_ps(-0.5f), z, y);
    __m256 r = _mm256_add_ps(f, y);
    r = _mm256_fmadd_ps(_mm256_set1_ps(GP_LN2_HI), e, r);
    r = _mm256_blendv_ps(r, a, _mm256_cmp_ps(a, _mm256_set1_ps(0x1p-12f), _CMP_LT_OQ));            /* a < 2^-12: a */
    r = _mm256_blendv_ps(a, r, _mm256_cmp_ps(a, _mm256_set1_ps(3.4028234663852886e38f), _CMP_LE_OQ)); /* inf, NaN: a */
    return _mm256_or_ps(r, _mm256_and_ps(x, _mm256_set1_ps(-0.0f)));                               /* copysign */
}

__attribute__((target("avx2,fma")))
static void stretch_avx2(float *p, size_t n, float inv_soft, float off, float inv_scale)
{
    const __m256 vs = _mm256_set1_ps(inv_soft), vo = _mm256_set1_ps(off), vc = _mm256_set1_ps(inv_scale);
    size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        __m256 x = _mm256_mul_ps(_mm256_loadu_ps(p + k), vs);
        __m256 f = asinh8_avx2(x);
        _mm256_storeu_ps(p + k, _mm256_mul_ps(_mm256_sub_ps(f, vo), vc));
    }
    stretch_scalar(p + k, n - k, inv_soft, off, inv_scale);
}

/* gp_asinhf on 16 floats, the same operations (AVX-512) */
__attribute__((target("avx512f")))
static __m512 asinh16_avx512(__m512 x)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 a = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(0x7FFFFFFF)));
    __m512 a2 = _mm512_mul_ps(a, a);
    __m512 q = _mm512_sqrt_ps(_mm512_add_ps(a2, one));
    __m512 t = _mm512_add_ps(a, _mm512_div_ps(a2, _mm512_add_ps(q, one)));
    __mmask16 big = _mm512_cmp_ps_mask(a, _mm512_set1_ps(0x1p12f), _CMP_GT_OQ);
    __m512i ub = _mm512_castps_si512(_mm512_mask_blend_ps(big, _mm512_add_ps(one, t), a));
    __m512i d = _mm512_sub_epi32(ub, _mm512_set1_epi32(0x3F3504F3));
    __m512i k = _mm512_srai_epi32(d, 23);
    k = _mm512_mask_add_epi32(k, big, k, _mm512_set1_epi32(1));
    __m512 m = _mm512_castsi512_ps(_mm512_sub_epi32(ub, _mm512_and_si512(d, _mm512_set1_epi32((int)0xFF800000u))));
    __m512 f = _mm512_sub_ps(m, one), e = _mm512_cvtepi32_ps(k);
    __mmask16 small = _mm512_kandn(big, _mm512_cmp_ps_mask(t, _mm512_set1_ps(GP_SQRT2F - 1.0f), _CMP_LT_OQ));
    f = _mm512_mask_blend_ps(small, f, t);
    e = _mm512_mask_blend_ps(small, e, _mm512_setzero_ps());
    __m512 z = _mm512_mul_ps(f, f);
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(GP_LOGF_P0), f, _mm512_set1_ps(GP_LOGF_P1));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(GP_LOGF_P2));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(GP_LOGF_P3));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(GP_LOGF_P4));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(GP_LOGF_P5));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(GP_LOGF_P6));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(GP_LOGF_P7));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(GP_LOGF_P8));
    __m512 y = _mm512_mul_ps(_mm512_mul_ps(f, z), p);
    y = _mm512_fmadd_ps(_mm512_set1_ps(GP_LN2_LO), e, y);
    y = _mm512_fmadd_ps(_mm512_set1_ps(-0.5f), z, y);
    __m512 r = _mm512_add_ps(f, y);
    r = _mm512_fmadd_ps(_mm512_set1_ps(GP_LN2_HI), e, r);
    r = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, _mm512_set1_ps(0x1p-12f), _CMP_LT_OQ), r, a);             /* a < 2^-12: a */
    r = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, _mm512_set1_ps(3.4028234663852886e38f), _CMP_LE_OQ), a, r); /* inf, NaN: a */
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(r),                                         /* copysign */
                                               _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32((int)0x80000000u))));
}

__attribute__((target("avx512f")))
static void stretch_avx512(float *p, size_t n, float inv_soft, float off, float inv_scale)
{
    const __m512 vs = _mm512_set1_ps(inv_soft), vo = _mm512_set1_ps(off), vc = _mm512_set1_ps(inv_scale);
    size_t k = 0;
    for (; k + 16 <= n; k += 16) {
        __m512 x = _mm512_mul_ps(_mm512_loadu_ps(p + k), vs);
        __m512 f = asinh16_avx512(x);
        _mm512_storeu_ps(p + k, _mm512_mul_ps(_mm512_sub_ps(f, vo), vc));
    }
    stretch_scalar(p + k, n - k, inv_soft, off, inv_scale);
}

void gp_cpu_stretch_plane(float *p, size_t n, float inv_soft, float off, float inv_scale)
{
    static int isa = -1;   /* 2: AVX-512F, 1: AVX2 + FMA, 0: neither */
    if (isa < 0)
        isa = __builtin_cpu_supports("avx512f") ? 2 : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 1 : 0;
    if (isa == 2) stretch_avx512(p, n, inv_soft, off, inv_scale);
    else if (isa == 1) stretch_avx2(p, n, inv_soft, off, inv_scale);
    else stretch_scalar(p, n, inv_soft, off, inv_scale);
}
#else
void gp_cpu_stretch_plane(float *p, size_t n, float inv_soft, float off, float inv_scale)
{
    stretch_scalar(p, n, inv_soft, off, inv_scale);
}
#endif
