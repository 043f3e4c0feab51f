/*
 * gp_cpu_stretch.c: the band stretch y = (asinh(x / soft) - offset) / scale
 * with gp_asinhf (gp_cpu_math.h), eight pixels at a time with AVX2 where
 * the CPU has it.  The AVX2 path performs gp_asinhf's double-precision
 * operations one for one (no fused multiply-add), so both paths give the
 * same bits; libm's asinhf is ~20x slower and does not vectorize.
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

void gp_cpu_stretch_plane(float *p, size_t n, float inv_soft, float off, float inv_scale)
{
    static int have_avx2 = -1;
    if (have_avx2 < 0) have_avx2 = __builtin_cpu_supports("avx2") ? 1 : 0;
    if (have_avx2) stretch_avx2(p, n, inv_soft, off, inv_scale);
    else stretch_scalar(p, n, inv_soft, off, inv_scale);
}
#else
void gp_cpu_stretch_plane(float *p, size_t n, float inv_soft, float off, float inv_scale)
{
    stretch_scalar(p, n, inv_soft, off, inv_scale);
}
#endif
