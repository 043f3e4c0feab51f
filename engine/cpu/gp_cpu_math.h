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

/* y[i] = (asinh(x[i] * inv_soft) - off) * inv_scale, n values in place:
 * gp_asinhf with AVX2 where the CPU has it (the same operations in the same
 * order, so the same bits), else the scalar loop.  (gp_cpu_backend.c) */
void gp_cpu_stretch_plane(float *p, size_t n, float inv_soft, float off, float inv_scale);
#endif
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(GP_NO_CLONES)
#define GP_CPU_HOT GP_CPU_OPT __attribute__((target_clones("avx2", "default")))
#else
#define GP_CPU_HOT GP_CPU_OPT

/* y[i] = (asinh(x[i] * inv_soft) - off) * inv_scale, n values in place:
 * gp_asinhf with AVX2 where the CPU has it (the same operations in the same
 * order, so the same bits), else the scalar loop.  (gp_cpu_backend.c) */
void gp_cpu_stretch_plane(float *p, size_t n, float inv_soft, float off, float inv_scale);
#endif

/* log(z) for finite z >= 1, to about 1e-10 relative: z = 2^e m with m in
 * [sqrt(1/2), sqrt(2)), log m = 2 atanh(s), s = (m-1)/(m+1), |s| < 0.172,
 * by its series to s^11.  Branch-free, so that it vectorizes. */
GP_CPU_INLINE double gp_log_ge1(double z)
{
    uint64_t bits, mb, kb;
    memcpy(&bits, &z, sizeof bits);
    mb = (bits & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull;   /* m in [1, 2) */
    kb = 0x4330000000000000ull | (bits >> 52);                     /* 2^52 + biased exponent */
    double m, kd;
    memcpy(&m, &mb, sizeof m);
    memcpy(&kd, &kb, sizeof kd);
    kd -= 4503599627370496.0 + 1023.0;
    double big = m > 1.4142135623730951 ? 1.0 : 0.0;
    m *= 1.0 - 0.5 * big;
    kd += big;
    double s = (m - 1.0) / (m + 1.0), s2 = s * s;
    double p = s2 * (1.0 / 3 + s2 * (1.0 / 5 + s2 * (1.0 / 7 + s2 * (1.0 / 9 + s2 * (1.0 / 11)))));
    return kd * 0.69314718055994530942 + (2.0 * s + 2.0 * s * p);
}

/* asinh(x) in float through double, within 1 ulp of the correctly rounded
 * value (|x| < 2^-12: x itself, exact to float precision; +-inf and NaN
 * pass through). */
GP_CPU_INLINE float gp_asinhf(float x)
{
    float a = fabsf(x);
    double d = a;
    double r = gp_log_ge1(d + sqrt(d * d + 1.0));
    float f = a < 0x1p-12f ? a : (float)r;
    f = a <= 3.4028234663852886e38f ? f : a;   /* inf and NaN */
    return copysignf(f, x);
}

/* y[i] = (asinh(x[i] * inv_soft) - off) * inv_scale, n values in place:
 * gp_asinhf with AVX2 where the CPU has it (the same operations in the same
 * order, so the same bits), else the scalar loop.  (gp_cpu_backend.c) */
void gp_cpu_stretch_plane(float *p, size_t n, float inv_soft, float off, float inv_scale);
#endif
