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
#ifdef GALPOST_GP_MODEL_H
/* n synthetic galaxies: a Gaussian blob (random amplitude and radius) on
 * noise in each band, plausible ugriz magnitudes, random ids, no flags.
 * Returns the cutouts' buffer (caller frees), NULL when out of memory. */
static inline float *gp_test_galaxies(gp_galaxy *gal, int n)
{
    float *cut = malloc(sizeof(float) * GP_CUTOUT_PIXELS * (size_t)(n > 0 ? n : 1));
    if (!cut) return NULL;
    for (int g = 0; g < n; g++) {
        float *c = cut + (size_t)g * GP_CUTOUT_PIXELS;
        double amp = 0.5 + 3 * gp_test_uniform(), rad = 3 + 10 * gp_test_uniform();
        for (int b = 0; b < 3; b++)
            for (int y = 0; y < GP_CUTOUT_SIZE; y++)
                for (int x = 0; x < GP_CUTOUT_SIZE; x++) {
                    double r2 = (x - 79.5) * (x - 79.5) + (y - 79.5) * (y - 79.5);
                    c[(b * GP_CUTOUT_SIZE + y) * GP_CUTOUT_SIZE + x] =
                        (float)(amp * (1 + 0.3 * b) * exp(-r2 / (2 * rad * rad)) + 0.03 * gp_test_normal());
                }
        gal[g].id = 1000 + (uint64_t)(gp_test_uniform() * 1e12);
        gal[g].cutout = c;
        double r = 14.5 + 3 * gp_test_uniform();
        float m[5] = { (float)(r + 1.8), (float)(r + 0.8), (float)r, (float)(r - 0.4), (float)(r - 0.7) };
        memcpy(gal[g].mag, m, sizeof m);
        gal[g].flags = 0;
    }
    return cut;
}
#endif

/* A temporary file name in $TMPDIR (caller unlinks). */
static inline void gp_test_tmpname(char *buf, size_t n, const char *suffix)
{
    const char *dir = getenv("TMPDIR");
    static int counter;
    snprintf(buf, n, "%s/gp_test_%d_%d%s", dir ? dir : "/tmp", (int)getpid(), counter++, suffix);
}

#ifdef GALPOST_GP_MODEL_H
/* A model of random weights (architecture a, NULL: the default) on the CPU
 * backend with `threads` threads, its file already removed; NULL (the
 * reason on stderr) on failure. */
static inline gp_model *gp_test_random_model(const gp_arch *a, int threads)
{
    char path[512];
    gp_test_tmpname(path, sizeof path, ".gpw");
    gp_error err;
    gp_model *m = NULL;
    if (gp_model_write_random(path, a, (uint64_t)(gp_test_uniform() * 1e9), &err) == GP_OK) {
        gp_model_options o = gp_model_options_default();
        o.backend = GP_BACKEND_CPU;
        o.threads = threads;
        if (gp_model_open(path, &o, &m, &err) != GP_OK) m = NULL;
    }
    if (!m) fprintf(stderr, "random model: %s\n", err.msg);
    unlink(path);
    return m;
}
#endif
#if defined(GALPOST_GP_TRAIN_H)
/* The weights file `src` written again to `dst`, every key and tensor, with
 * edit(w, wr, ctx) (when not NULL) changing or adding metadata of the copy
 * first; GP_OK or the failing call's status. */
typedef int (*gp_test_weights_edit)(const gp_weights *w, gp_weights_writer *wr, void *ctx, gp_error *err);
static inline int gp_test_rewrite_weights(const char *src, const char *dst, gp_test_weights_edit edit, void *ctx,
                                          gp_error *err)
{
    gp_weights *w = NULL;
    gp_weights_writer *wr = NULL;
    int st = gp_weights_open(src, &w, err);
    if (!st) st = gp_weights_writer_new(&wr, err);
    if (!st) st = gp_weights_copy_meta(w, wr, err);
    if (!st && edit) st = edit(w, wr, ctx, err);
    for (size_t i = 0; !st && i < gp_weights_tensor_count(w); i++) {
        gp_tensor_info t;
        st = gp_weights_tensor_at(w, i, &t, err);
        if (!st) st = gp_weights_writer_add_tensor(wr, t.name, t.ndim, t.dims, t.data, err);
    }
    if (!st) st = gp_weights_writer_write(wr, dst, err);
    gp_weights_writer_free(wr);
    gp_weights_close(w);
    return st;
}
#endif
#if defined(GP_OOD_H) && defined(GALPOST_GP_TRAIN_H)
struct gp_test_check { const char *prefix; const gp_ood *o; };
static inline int gp_test_add_check_edit(const gp_weights *w, gp_weights_writer *wr, void *ctx, gp_error *err)
{
    (void)w;
    const struct gp_test_check *c = ctx;
    return c->o ? gp_ood_write(c->o, c->prefix, wr, err) : GP_OK;
}
/* The weights file `src` written again to `dst` with the check o stored under
 * `prefix` ("ood.latent", "ood.phot"; o NULL: without it); GP_OK or the
 * failing call's status. */
static inline int gp_test_add_check(const char *src, const char *dst, const char *prefix, const gp_ood *o,
                                    gp_error *err)
{
    struct gp_test_check c = { prefix, o };
    return gp_test_rewrite_weights(src, dst, gp_test_add_check_edit, &c, err);
}
static inline int gp_test_add_latent_check(const char *src, const char *dst, const gp_ood *o, gp_error *err)
{
    return gp_test_add_check(src, dst, "ood.latent", o, err);
}
#endif
#endif
