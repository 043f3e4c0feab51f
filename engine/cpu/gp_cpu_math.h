/*
 * gp_cpu_math.h: element-wise kernels of the CPU backend written so that
 * GCC vectorizes them (internal).
 *
 * GP_CPU_HOT marks a loop function for GCC's full vectorizer, without the
 * FP-trap assumption that stops it from turning branches into selects, in
 * an AVX2 clone chosen at run time next to the baseline one.  Neither
 * changes a result: the loops have no reductions and -std=c11 keeps
 * multiply-adds uncontracted, so every value is the one the plain loop
 * gives (sqrt without errno is the same sqrt).
 */
#ifndef GALPOST_GP_CPU_MATH_H
#define GALPOST_GP_CPU_MATH_H
#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__)
#define GP_CPU_OPT __attribute__((optimize("O3,no-trapping-math,no-math-errno")))
#define GP_CPU_INLINE static inline __attribute__((always_inline, optimize("O3,no-trapping-math,no-math-errno")))
#else
#define GP_CPU_OPT
#define GP_CPU_INLINE static inline
#endif
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(GP_NO_CLONES)
#define GP_CPU_HOT GP_CPU_OPT __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define GP_CPU_HOT GP_CPU_OPT
#endif

/* log1p's coefficients (Cephes' logf, relative error ~1e-7 for
 * f in [sqrt(1/2) - 1, sqrt(2) - 1]) */
#define GP_LOGF_P0 7.0376836292e-2f
#define GP_LOGF_P1 -1.1514610310e-1f
#define GP_LOGF_P2 1.1676998740e-1f
#define GP_LOGF_P3 -1.2420140846e-1f
#define GP_LOGF_P4 1.4249322787e-1f
#define GP_LOGF_P5 -1.6668057665e-1f
#define GP_LOGF_P6 2.0000714765e-1f
#define GP_LOGF_P7 -2.4999993993e-1f
#define GP_LOGF_P8 3.3333331174e-1f
#define GP_LN2_HI 0.693359375f
#define GP_LN2_LO -2.12194440e-4f
#define GP_SQRT2F 1.41421356f

/* asinh(x) in float arithmetic, within 3 ulp (2.2e-7 relative) of the
 * correctly rounded value (|x| < 2^-12: x itself, exact to float precision;
 * +-inf and NaN pass through).  With a = |x| and t = a + a^2 / (sqrt(a^2 +
 * 1) + 1) (= a + sqrt(a^2 + 1) - 1 without its cancellation), asinh(a) =
 * log1p(t): for t < sqrt(2) - 1 the series of log1p(f) is taken at f = t
 * itself; above, at f = m - 1 where 1 + t = 2^e m, m in [sqrt(1/2),
 * sqrt(2)), plus e ln 2; for a > 2^12 (where a^2 would lose the +1 or
 * overflow), log(2a) = log(a) + ln 2, within 2e-9 of asinh(a).  The vector
 * paths of gp_cpu_stretch.c do the same operations (one float sqrt, one
 * float division, fused multiply-adds where fmaf is written), so they give
 * the same bits.  Replaces a double-precision log(a + sqrt(a^2 + 1)) whose
 * divide and sqrt on doubles cost ~8% of the pipeline. */
GP_CPU_INLINE float gp_asinhf(float x)
{
    float a = fabsf(x);
    float a2 = a * a;
    float q = sqrtf(a2 + 1.0f);
    float t = a + a2 / (q + 1.0f);
    int big = a > 0x1p12f;
    float u = big ? a : 1.0f + t;
    uint32_t ub, mb;
    memcpy(&ub, &u, sizeof ub);
    uint32_t d = ub - 0x3F3504F3u;                      /* 0x3F3504F3: sqrt(1/2) */
    int32_t k = (int32_t)d >> 23;                       /* u = 2^k m, m in [sqrt(1/2), sqrt(2)) */
    mb = ub - (d & 0xFF800000u);
    float m;
    memcpy(&m, &mb, sizeof m);
    float f = m - 1.0f, e = (float)(k + big);
    int small = !big && t < GP_SQRT2F - 1.0f;
    f = small ? t : f;
    e = small ? 0.0f : e;
    float z = f * f;
    float p = fmaf(GP_LOGF_P0, f, GP_LOGF_P1);
    p = fmaf(p, f, GP_LOGF_P2);
    p = fmaf(p, f, GP_LOGF_P3);
    p = fmaf(p, f, GP_LOGF_P4);
    p = fmaf(p, f, GP_LOGF_P5);
    p = fmaf(p, f, GP_LOGF_P6);
    p = fmaf(p, f, GP_LOGF_P7);
    p = fmaf(p, f, GP_LOGF_P8);
    float y = f * z * p;
    y = fmaf(GP_LN2_LO, e, y);
    y = fmaf(-0.5f, z, y);
    float r = f + y;
    r = fmaf(GP_LN2_HI, e, r);
    r = a < 0x1p-12f ? a : r;
    r = a <= 3.4028234663852886e38f ? r : a;   /* inf and NaN */
    return copysignf(r, x);
}

/* y[i] = (asinh(x[i] * inv_soft) - off) * inv_scale, n values in place:
 * gp_asinhf with AVX-512 or AVX2 + FMA where the CPU has them (the same operations
 * in the same order, so the same bits), else the scalar loop.
 * (gp_cpu_stretch.c) */
void gp_cpu_stretch_plane(float *p, size_t n, float inv_soft, float off, float inv_scale);
#endif
