/*
 * gp_cpu_stretch.c: the band stretch y = (asinh(x / soft) - offset) / scale
 * with gp_asinhf (gp_cpu_math.h), sixteen pixels at a time with AVX-512 or
 * eight with AVX2 where the CPU has them.  The vector paths perform
 * gp_asinhf's double-precision operations one for one (no fused
 * multiply-add), so all paths give the same bits; libm's asinhf is ~20x
 * slower and does not vectorize.
 */
#include <stddef.h>

#include "gp_cpu_math.h"

static void stretch_scalar(float *p, size_t n, float inv_soft, float off, float inv_scale)
{
    for (size_t k = 0; k < n; k++) p[k] = (gp_asinhf(p[k] * inv_soft) - off) * inv_scale;
}

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx2")))
static __m256d log_ge1_avx2(__m256d z)
{
    const __m256i mant = _mm256_set1_epi64x(0x000FFFFFFFFFFFFFll), one = _mm256_set1_epi64x(0x3FF0000000000000ll);
    const __m256i magic = _mm256_set1_epi64x(0x4330000000000000ll);
    __m256i bits = _mm256_castpd_si256(z);
    __m256d m = _mm256_castsi256_pd(_mm256_or_si256(_mm256_and_si256(bits, mant), one));
    __m256d kd = _mm256_castsi256_pd(_mm256_or_si256(magic, _mm256_srli_epi64(bits, 52)));
    kd = _mm256_sub_pd(kd, _mm256_set1_pd(4503599627370496.0 + 1023.0));
    __m256d big = _mm256_and_pd(_mm256_cmp_pd(m, _mm256_set1_pd(1.4142135623730951), _CMP_GT_OQ), _mm256_set1_pd(1.0));
    m = _mm256_mul_pd(m, _mm256_sub_pd(_mm256_set1_pd(1.0), _mm256_mul_pd(_mm256_set1_pd(0.5), big)));
    kd = _mm256_add_pd(kd, big);
    __m256d s = _mm256_div_pd(_mm256_sub_pd(m, _mm256_set1_pd(1.0)), _mm256_add_pd(m, _mm256_set1_pd(1.0)));
    __m256d s2 = _mm256_mul_pd(s, s);
    __m256d p = _mm256_add_pd(_mm256_set1_pd(1.0 / 9), _mm256_mul_pd(s2, _mm256_set1_pd(1.0 / 11)));
    p = _mm256_add_pd(_mm256_set1_pd(1.0 / 7), _mm256_mul_pd(s2, p));
    p = _mm256_add_pd(_mm256_set1_pd(1.0 / 5), _mm256_mul_pd(s2, p));
    p = _mm256_add_pd(_mm256_set1_pd(1.0 / 3), _mm256_mul_pd(s2, p));
    p = _mm256_mul_pd(s2, p);
    __m256d two_s = _mm256_mul_pd(_mm256_set1_pd(2.0), s);
    return _mm256_add_pd(_mm256_mul_pd(kd, _mm256_set1_pd(0.69314718055994530942)),
                         _mm256_add_pd(two_s, _mm256_mul_pd(two_s, p)));
}

__attribute__((target("avx2")))
static __m128 asinh4_avx2(__m128 a)
{
    __m256d d = _mm256_cvtps_pd(a);
    __m256d q = _mm256_add_pd(_mm256_mul_pd(d, d), _mm256_set1_pd(1.0));
    return _mm256_cvtpd_ps(log_ge1_avx2(_mm256_add_pd(d, _mm256_sqrt_pd(q))));
}

__attribute__((target("avx2")))
static void stretch_avx2(float *p, size_t n, float inv_soft, float off, float inv_scale)
{
    const __m256 vs = _mm256_set1_ps(inv_soft), vo = _mm256_set1_ps(off), vc = _mm256_set1_ps(inv_scale);
    const __m256 sign = _mm256_set1_ps(-0.0f), tiny = _mm256_set1_ps(0x1p-12f), fmax = _mm256_set1_ps(3.4028234663852886e38f);
    size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        __m256 x = _mm256_mul_ps(_mm256_loadu_ps(p + k), vs);
        __m256 a = _mm256_andnot_ps(sign, x);
        __m256 f = _mm256_set_m128(asinh4_avx2(_mm256_extractf128_ps(a, 1)), asinh4_avx2(_mm256_castps256_ps128(a)));
        f = _mm256_blendv_ps(f, a, _mm256_cmp_ps(a, tiny, _CMP_LT_OQ));           /* a < 2^-12: a */
        f = _mm256_blendv_ps(a, f, _mm256_cmp_ps(a, fmax, _CMP_LE_OQ));           /* inf, NaN: a */
        f = _mm256_or_ps(f, _mm256_and_ps(x, sign));                               /* copysign */
        _mm256_storeu_ps(p + k, _mm256_mul_ps(_mm256_sub_ps(f, vo), vc));
    }
    stretch_scalar(p + k, n - k, inv_soft, off, inv_scale);
}

/* The same sixteen pixels at a time with AVX-512 (8 doubles per vector). */
__attribute__((target("avx512f")))
static __m512d log_ge1_avx512(__m512d z)
{
    const __m512i mant = _mm512_set1_epi64(0x000FFFFFFFFFFFFFll), one = _mm512_set1_epi64(0x3FF0000000000000ll);
    const __m512i magic = _mm512_set1_epi64(0x4330000000000000ll);
    __m512i bits = _mm512_castpd_si512(z);
    __m512d m = _mm512_castsi512_pd(_mm512_or_si512(_mm512_and_si512(bits, mant), one));
    __m512d kd = _mm512_castsi512_pd(_mm512_or_si512(magic, _mm512_srli_epi64(bits, 52)));
    kd = _mm512_sub_pd(kd, _mm512_set1_pd(4503599627370496.0 + 1023.0));
    __mmask8 gt = _mm512_cmp_pd_mask(m, _mm512_set1_pd(1.4142135623730951), _CMP_GT_OQ);
    __m512d big = _mm512_mask_blend_pd(gt, _mm512_setzero_pd(), _mm512_set1_pd(1.0));
    m = _mm512_mul_pd(m, _mm512_sub_pd(_mm512_set1_pd(1.0), _mm512_mul_pd(_mm512_set1_pd(0.5), big)));
    kd = _mm512_add_pd(kd, big);
    __m512d s = _mm512_div_pd(_mm512_sub_pd(m, _mm512_set1_pd(1.0)), _mm512_add_pd(m, _mm512_set1_pd(1.0)));
    __m512d s2 = _mm512_mul_pd(s, s);
    __m512d p = _mm512_add_pd(_mm512_set1_pd(1.0 / 9), _mm512_mul_pd(s2, _mm512_set1_pd(1.0 / 11)));
    p = _mm512_add_pd(_mm512_set1_pd(1.0 / 7), _mm512_mul_pd(s2, p));
    p = _mm512_add_pd(_mm512_set1_pd(1.0 / 5), _mm512_mul_pd(s2, p));
    p = _mm512_add_pd(_mm512_set1_pd(1.0 / 3), _mm512_mul_pd(s2, p));
    p = _mm512_mul_pd(s2, p);
    __m512d two_s = _mm512_mul_pd(_mm512_set1_pd(2.0), s);
    return _mm512_add_pd(_mm512_mul_pd(kd, _mm512_set1_pd(0.69314718055994530942)),
                         _mm512_add_pd(two_s, _mm512_mul_pd(two_s, p)));
}

__attribute__((target("avx512f")))
static __m256 asinh8_avx512(__m256 a)
{
    __m512d d = _mm512_cvtps_pd(a);
    __m512d q = _mm512_add_pd(_mm512_mul_pd(d, d), _mm512_set1_pd(1.0));
    return _mm512_cvtpd_ps(log_ge1_avx512(_mm512_add_pd(d, _mm512_sqrt_pd(q))));
}

__attribute__((target("avx512f")))
static void stretch_avx512(float *p, size_t n, float inv_soft, float off, float inv_scale)
{
    const __m512 vs = _mm512_set1_ps(inv_soft), vo = _mm512_set1_ps(off), vc = _mm512_set1_ps(inv_scale);
    const __m512i absmask = _mm512_set1_epi32(0x7FFFFFFF), signmask = _mm512_set1_epi32((int)0x80000000u);
    const __m512 tiny = _mm512_set1_ps(0x1p-12f), fmax = _mm512_set1_ps(3.4028234663852886e38f);
    size_t k = 0;
    for (; k + 16 <= n; k += 16) {
        __m512 x = _mm512_mul_ps(_mm512_loadu_ps(p + k), vs);
        __m512 a = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(x), absmask));
        __m256 lo = asinh8_avx512(_mm512_castps512_ps256(a));
        __m256 hi = asinh8_avx512(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)));
        __m512 f = _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(lo)), _mm256_castps_pd(hi), 1));
        f = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, tiny, _CMP_LT_OQ), f, a);        /* a < 2^-12: a */
        f = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, fmax, _CMP_LE_OQ), a, f);        /* inf, NaN: a */
        f = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(f),
                                                _mm512_and_si512(_mm512_castps_si512(x), signmask)));
        _mm512_storeu_ps(p + k, _mm512_mul_ps(_mm512_sub_ps(f, vo), vc));
    }
    stretch_scalar(p + k, n - k, inv_soft, off, inv_scale);
}

void gp_cpu_stretch_plane(float *p, size_t n, float inv_soft, float off, float inv_scale)
{
    static int isa = -1;   /* 2: AVX-512F, 1: AVX2, 0: neither */
    if (isa < 0) isa = __builtin_cpu_supports("avx512f") ? 2 : __builtin_cpu_supports("avx2") ? 1 : 0;
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
