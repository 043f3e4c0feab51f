/* gp_test_util.h: helpers shared by the cmocka tests. */
#ifndef GALPOST_GP_TEST_UTIL_H
#define GALPOST_GP_TEST_UTIL_H
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* xorshift64*: fresh random inputs per run (seed printed for reproduction). */
static uint64_t gp_test_rng_state;
static inline void gp_test_seed(const char *name)
{
    const char *env = getenv("GP_TEST_SEED");
    gp_test_rng_state = env ? strtoull(env, NULL, 10) : ((uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20));
    if (!gp_test_rng_state) gp_test_rng_state = 88172645463325252ull;
    fprintf(stderr, "%s: GP_TEST_SEED=%llu\n", name, (unsigned long long)gp_test_rng_state);
}
static inline double gp_test_uniform(void)
{
    uint64_t x = gp_test_rng_state;
    x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
    gp_test_rng_state = x;
    return ((x * 2685821657736338717ull) >> 11) * (1.0 / 9007199254740992.0);
}
static inline double gp_test_normal(void)
{
    double u1 = gp_test_uniform(), u2 = gp_test_uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
}
static inline void gp_test_fill(float *x, size_t n, double scale)
{
    for (size_t i = 0; i < n; i++) x[i] = (float)(scale * gp_test_normal());
}
/* max |a-b| / (max|b| + tiny); NaN anywhere gives +inf */
static inline double gp_test_relerr(const float *a, const double *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i]) || !isfinite(b[i])) return INFINITY;
        double d = fabs(a[i] - b[i]);
        if (d > num) num = d;
        if (fabs(b[i]) > den) den = fabs(b[i]);
    }
    return num / (den + 1e-30);
}
/* A temporary file name in $TMPDIR (caller unlinks). */
static inline void gp_test_tmpname(char *buf, size_t n, const char *suffix)
{
    const char *dir = getenv("TMPDIR");
    static int counter;
    snprintf(buf, n, "%s/gp_test_%d_%d%s", dir ? dir : "/tmp", (int)getpid(), counter++, suffix);
}
#endif
