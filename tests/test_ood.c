/* test_ood.c: the training-set likeness check (engine/gp_ood.c) and its use
 * by gp_infer.
 *  - gp_ood_fit: mean and covariance against naive loops (L L^T against the
 *    covariance by relative error), distances against the explicit inverse
 *    of the covariance (Gauss-Jordan), on fresh random correlated rows;
 *  - the limit: on fresh rows from the same distribution about 1% lie above
 *    the 99% limit, while rows shifted by 6 standard deviations all do;
 *  - non-finite values: +inf distance, and gp_ood_fit refuses them by row;
 *  - weights: write and read back exactly; malformed keys refused by name;
 *  - gp_infer with an image model carrying a check: latent_d2 equals the
 *    reference distance of [mu, ln sigma] from the encoder, and exactly the
 *    galaxies above the stored limit get GP_FLAG_IMAGE_UNLIKE; a model
 *    without the check and a photometry model give NaN and no flag;
 *  - the photometry check (ood.phot): phot_d2 against a reference from the
 *    magnitudes by hand, exactly the galaxies above its limit flagged
 *    GP_FLAG_PHOT_UNLIKE, a check of the wrong size refused at load; the
 *    photometry standardized once for the networks and the check gives the
 *    bits of each standardization on its own. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "galpost/gp_model.h"
#include "galpost/gp_weights.h"
#include "gp_model_internal.h"
#include "gp_ood.h"
#include "train/gp_train.h"
#include "gp_test_util.h"

/* rows x = A z + b with z standard normal: covariance A A^T */
static double *correlated_rows(long n, int D, const double *A, const double *b, double shift)
{
    double *x = malloc(sizeof(double) * (size_t)n * D), *z = malloc(sizeof(double) * D);
    for (long r = 0; r < n; r++) {
        for (int j = 0; j < D; j++) z[j] = gp_test_normal() + shift;
        for (int i = 0; i < D; i++) {
            double v = b[i];
            for (int j = 0; j < D; j++) v += A[i * D + j] * z[j];
            x[(size_t)r * D + i] = v;
        }
    }
    free(z);
    return x;
}

/* inverse of a D x D matrix by Gauss-Jordan with partial pivoting */
static void invert(const double *M, int D, double *inv)
{
    double *a = malloc(sizeof(double) * D * 2 * D);
    for (int i = 0; i < D; i++)
        for (int j = 0; j < 2 * D; j++) a[i * 2 * D + j] = j < D ? M[i * D + j] : (j - D == i);
    for (int c = 0; c < D; c++) {
        int p = c;
        for (int r = c + 1; r < D; r++) if (fabs(a[r * 2 * D + c]) > fabs(a[p * 2 * D + c])) p = r;
        for (int j = 0; j < 2 * D; j++) { double t = a[c * 2 * D + j]; a[c * 2 * D + j] = a[p * 2 * D + j]; a[p * 2 * D + j] = t; }
        double d = a[c * 2 * D + c];
        for (int j = 0; j < 2 * D; j++) a[c * 2 * D + j] /= d;
        for (int r = 0; r < D; r++) {
            if (r == c) continue;
            double f = a[r * 2 * D + c];
            for (int j = 0; j < 2 * D; j++) a[r * 2 * D + j] -= f * a[c * 2 * D + j];
        }
    }
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) inv[i * D + j] = a[i * 2 * D + D + j];
    free(a);
}

static double quad_form(const double *inv, const double *mean, const double *x, int D)
{
    double s = 0;
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) s += (x[i] - mean[i]) * inv[i * D + j] * (x[j] - mean[j]);
    return s;
}

/* gp_test_rewrite_weights edit: a d2 limit without the rest of the check */
static int set_d2_limit_only(const gp_weights *w, gp_weights_writer *wr, void *ctx, gp_error *err)
{
    (void)w;
    (void)ctx;
    return gp_weights_writer_set_f64(wr, "ood.latent.d2_limit", 10.0, err);
}

static void test_fit_against_reference(void **state)
{
    (void)state;
    enum { D = 7 };
    const long n = 4000;
    double A[D * D], b[D];
    for (int i = 0; i < D * D; i++) A[i] = 0.3 * gp_test_normal();   /* well conditioned: */
    for (int i = 0; i < D; i++) { A[i * D + i] += 2.5; b[i] = 3 * gp_test_normal(); }   /* fresh each run */
    double *x = correlated_rows(n, D, A, b, 0.0);
    gp_ood o;
    gp_error err;
    assert_int_equal(gp_ood_fit(x, n, D, 0.99, &o, &err), GP_OK);
    assert_int_equal(o.dim, D);
    assert_int_equal(o.rows, n);
    /* naive mean and covariance (n - 1) */
    double mean[D] = { 0 }, cov[D * D] = { 0 };
    for (long r = 0; r < n; r++) for (int i = 0; i < D; i++) mean[i] += x[r * D + i] / n;
    for (long r = 0; r < n; r++)
        for (int i = 0; i < D; i++)
            for (int j = 0; j < D; j++) cov[i * D + j] += (x[r * D + i] - mean[i]) * (x[r * D + j] - mean[j]) / (n - 1);
    double vmax = 0;   /* the documented ridge: 1e-6 of the largest variance */
    for (int i = 0; i < D; i++) if (cov[i * D + i] > vmax) vmax = cov[i * D + i];
    for (int i = 0; i < D; i++) cov[i * D + i] += 1e-6 * vmax;
    float fm[D], fc[D * D];
    for (int i = 0; i < D; i++) fm[i] = (float)o.mean[i];
    double em = gp_test_relerr(fm, mean, D);
    /* L L^T from the packed factor */
    const double *L = o.chol;
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) {
            double s = 0;
            for (int k = 0; k <= (i < j ? i : j); k++) s += L[i * (i + 1) / 2 + k] * L[j * (j + 1) / 2 + k];
            fc[i * D + j] = (float)s;
        }
    double ec = gp_test_relerr(fc, cov, D * D);
    printf("# mean relative error %.2g, L L^T against the covariance %.2g\n", em, ec);
    assert_true(em < 1e-6);
    assert_true(ec < 1e-6);
    /* distances against the explicit inverse, on fresh rows */
    double inv[D * D];
    invert(cov, D, inv);
    double *y = correlated_rows(50, D, A, b, 0.3);
    float got[50];
    double want[50];
    for (int r = 0; r < 50; r++) {
        got[r] = (float)gp_ood_distance2(&o, y + r * D);
        want[r] = quad_form(inv, mean, y + r * D, D);
    }
    double ed = gp_test_relerr(got, want, 50);
    printf("# squared distances against the explicit inverse: relative error %.2g\n", ed);
    assert_true(ed < 1e-5);
    /* the limit is the 99%% quantile of the fitted rows' own distances */
    long above = 0;
    for (long r = 0; r < n; r++) above += gp_ood_distance2(&o, x + r * D) > o.d2_limit;
    assert_true(above >= 38 && above <= 41);
    /* fresh rows: about 1% above; rows 6 sigma off in every z: all above */
    double *f = correlated_rows(20000, D, A, b, 0.0), *g = correlated_rows(200, D, A, b, 6.0);
    long fa = 0, ga = 0;
    for (long r = 0; r < 20000; r++) fa += gp_ood_distance2(&o, f + r * D) > o.d2_limit;
    for (long r = 0; r < 200; r++) ga += gp_ood_distance2(&o, g + r * D) > o.d2_limit;
    printf("# fresh rows above the 99%% limit: %ld of 20000; shifted rows: %ld of 200 (limit %.2f)\n", fa, ga, o.d2_limit);
    assert_true(fa > 100 && fa < 330);
    assert_int_equal(ga, 200);
    /* a non-finite value is infinitely far; no check gives NaN */
    y[3] = NAN;
    assert_true(isinf(gp_ood_distance2(&o, y)));
    gp_ood none = { 0 };
    assert_true(isnan(gp_ood_distance2(&none, y)));
    /* the fit refuses non-finite rows and names the row */
    gp_ood bad;
    x[17 * D + 2] = INFINITY;
    assert_int_equal(gp_ood_fit(x, n, D, 0.99, &bad, &err), GP_ERR_DATA);
    assert_non_null(strstr(err.msg, "row 17"));
    assert_int_equal(bad.dim, 0);
    assert_int_equal(gp_ood_fit(x, D, D, 0.99, &bad, &err), GP_ERR_ARG);
    assert_int_equal(gp_ood_fit(x, n, D, 1.0, &bad, &err), GP_ERR_ARG);
    gp_ood_free(&o);
    assert_null(o.mean);
    free(x); free(y); free(f); free(g);
}

static void test_latent_vector(void **state)
{
    (void)state;
    float mu[3] = { 0.5f, -1.0f, 2.0f }, sg[3] = { 1.0f, 0.25f, 0.0f };
    double x[6];
    gp_ood_latent_vector(mu, sg, 3, x);
    assert_true(x[0] == 0.5 && x[1] == -1.0 && x[2] == 2.0);
    assert_true(x[3] == 0.0 && fabs(x[4] - log(0.25)) < 1e-15);
    assert_true(isinf(x[5]) && x[5] < 0);
}

/* the random image model of path `src` with a check [mean, chol, limit] added, written to `dst` */
/* A random check of D values (mean, lower-triangular factor with a positive
 * diagonal; limit and rows left to the caller) and the explicit inverse of
 * its covariance L L^T in inv [D x D], the reference for its distances. */
static void random_check(int D, gp_ood *o, double *inv)
{
    memset(o, 0, sizeof *o);
    o->dim = D;
    o->mean = malloc(sizeof(double) * D);
    o->chol = malloc(sizeof(double) * D * (D + 1) / 2);
    for (int i = 0; i < D; i++) o->mean[i] = 0.3 * gp_test_normal();
    for (int i = 0, k = 0; i < D; i++)
        for (int j = 0; j <= i; j++, k++) o->chol[k] = j == i ? 0.5 + gp_test_uniform() : 0.2 * gp_test_normal();
    o->quantile = 0.999;
    o->rows = 1000;
    double *cov = calloc((size_t)D * D, sizeof(double));
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++)
            for (int k = 0; k <= (i < j ? i : j); k++) cov[i * D + j] += o->chol[i * (i + 1) / 2 + k] * o->chol[j * (j + 1) / 2 + k];
    invert(cov, D, inv);
    free(cov);
}

static void add_check(const char *src, const char *dst, const gp_ood *o)
{
    gp_error err;
    if (gp_test_add_latent_check(src, dst, o, &err) != GP_OK) fail_msg("adding the check: %s", err.msg);
}

static void test_weights_round_trip(void **state)
{
    (void)state;
    enum { D = 5 };
    gp_arch a = gp_arch_default();
    a.enc_channels[0] = 4; a.enc_channels[1] = 4; a.enc_channels[2] = 4;
    a.latent = 8; a.ensemble = 1; a.trunk[0] = 16; a.trunk[1] = 16; a.head_hidden = 8; a.flow_hidden = 8; a.couplings = 2;
    char src[512], dst[512];
    gp_test_tmpname(src, sizeof src, ".gpw");
    gp_test_tmpname(dst, sizeof dst, ".gpw");
    gp_error err;
    assert_int_equal(gp_model_write_random(src, &a, 3, &err), GP_OK);
    double A[D * D] = { 0 }, b[D] = { 0 };
    for (int i = 0; i < D; i++) A[i * D + i] = 1.0 + i;
    double *x = correlated_rows(500, D, A, b, 0.0);
    gp_ood o, r;
    assert_int_equal(gp_ood_fit(x, 500, D, 0.95, &o, &err), GP_OK);
    add_check(src, dst, &o);
    gp_weights *w;
    assert_int_equal(gp_weights_open(dst, &w, &err), GP_OK);
    assert_int_equal(gp_ood_read(w, "ood.latent", D, &r, &err), GP_OK);
    assert_int_equal(r.dim, D);
    assert_memory_equal(r.mean, o.mean, sizeof(double) * D);
    assert_memory_equal(r.chol, o.chol, sizeof(double) * D * (D + 1) / 2);
    assert_true(r.d2_limit == o.d2_limit && r.quantile == 0.95 && r.rows == 500);
    gp_ood_free(&r);
    /* the wrong dimension is refused by key */
    assert_int_equal(gp_ood_read(w, "ood.latent", D + 1, &r, &err), GP_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "ood.latent.mean"));
    gp_weights_close(w);
    /* an image model of latent 8 needs a check of 16 values: gp_model_open refuses 5, naming the file and key */
    gp_model *m = NULL;
    gp_model_options mo = gp_model_options_default();
    mo.backend = GP_BACKEND_CPU;
    assert_int_equal(gp_model_open(dst, &mo, &m, &err), GP_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "ood.latent.mean"));
    assert_non_null(strstr(err.msg, dst));
    /* a non-positive diagonal is refused */
    o.chol[2] = -1.0;   /* L[1][1] */
    add_check(src, dst, &o);
    assert_int_equal(gp_weights_open(dst, &w, &err), GP_OK);
    assert_int_equal(gp_ood_read(w, "ood.latent", D, &r, &err), GP_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "ood.latent.chol"));
    gp_weights_close(w);
    /* a quantile the fit would refuse, and a key of the check without its mean */
    o.chol[2] = 1.0;
    o.quantile = 0.4;
    add_check(src, dst, &o);
    assert_int_equal(gp_weights_open(dst, &w, &err), GP_OK);
    assert_int_equal(gp_ood_read(w, "ood.latent", D, &r, &err), GP_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "ood.latent.quantile"));
    gp_weights_close(w);
    assert_int_equal(gp_test_rewrite_weights(src, dst, set_d2_limit_only, NULL, &err), GP_OK);
    assert_int_equal(gp_weights_open(dst, &w, &err), GP_OK);
    assert_int_equal(gp_ood_read(w, "ood.latent", D, &r, &err), GP_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "ood.latent.d2_limit"));
    gp_weights_close(w);
    /* without the keys: no check, no error */
    assert_int_equal(gp_weights_open(src, &w, &err), GP_OK);
    assert_int_equal(gp_ood_read(w, "ood.latent", D, &r, &err), GP_OK);
    assert_int_equal(r.dim, 0);
    gp_weights_close(w);
    gp_ood_free(&o);
    free(x);
    unlink(src);
    unlink(dst);
}

static void test_infer_flags(void **state)
{
    (void)state;
    enum { NG = 6 };
    gp_arch a = gp_arch_default();
    a.enc_channels[0] = 4; a.enc_channels[1] = 6; a.enc_channels[2] = 8;
    a.latent = 8; a.trunk[0] = 32; a.trunk[1] = 24; a.head_hidden = 16;
    a.flow_hidden = 16; a.couplings = 4; a.ensemble = 2;
    const int L = a.latent, D = 2 * L;
    char src[512], dst[512], phot[512];
    gp_test_tmpname(src, sizeof src, ".gpw");
    gp_test_tmpname(dst, sizeof dst, ".gpw");
    gp_test_tmpname(phot, sizeof phot, ".gpw");
    gp_error err;
    assert_int_equal(gp_model_write_random(src, &a, 21, &err), GP_OK);
    gp_galaxy gal[NG];
    float *cut = gp_test_galaxies(gal, NG);
    assert_non_null(cut);
    /* reference latents from the encoder of the model without a check */
    gp_model_options mo = gp_model_options_default();
    mo.backend = GP_BACKEND_CPU;
    mo.threads = 2;
    gp_model *m;
    assert_int_equal(gp_model_open(src, &mo, &m, &err), GP_OK);
    const gp_net *net = &m->net;
    float *x = malloc(sizeof(float) * GP_CUTOUT_PIXELS * NG), *scr = malloc(sizeof(float) * gp_net_encoder_scratch(net, NG));
    float *mu = malloc(sizeof(float) * NG * L), *lv = malloc(sizeof(float) * NG * L);
    memcpy(x, cut, sizeof(float) * GP_CUTOUT_PIXELS * NG);
    assert_int_equal(m->be->ops->stretch(m->be, x, NG, 3, GP_CUTOUT_SIZE * GP_CUTOUT_SIZE, net->soft, net->offset, net->scale, &err), GP_OK);
    assert_int_equal(gp_net_encode(m->be, net, x, NG, scr, mu, lv, &err), GP_OK);
    gp_infer_options io = gp_infer_options_default();
    io.nsamples = 20;
    gp_result r0[NG];
    assert_int_equal(gp_infer(m, gal, NG, &io, r0, &err), GP_OK);
    for (int g = 0; g < NG; g++) {   /* no check stored: NaN, no flag */
        assert_true(isnan(r0[g].latent_d2) && isnan(r0[g].latent_d2_limit));
        assert_false(r0[g].flags & GP_FLAG_IMAGE_UNLIKE);
    }
    gp_result_free(r0, NG);
    gp_model_close(m);
    /* a random check; reference distances from the explicit inverse of L L^T */
    gp_ood o;
    double *inv = malloc(sizeof(double) * D * D), want[NG];
    random_check(D, &o, inv);
    o.d2_limit = 1e300;
    for (int g = 0; g < NG; g++) {
        double v[64], sg[32];
        for (int j = 0; j < L; j++) { v[j] = mu[g * L + j]; sg[j] = exp(0.5 * lv[g * L + j]); v[L + j] = log(sg[j]); }
        want[g] = quad_form(inv, o.mean, v, D);
    }
    add_check(src, dst, &o);
    gp_result r[NG];
    assert_int_equal(gp_model_open(dst, &mo, &m, &err), GP_OK);
    assert_int_equal(gp_infer(m, gal, NG, &io, r, &err), GP_OK);
    float got[NG];
    for (int g = 0; g < NG; g++) {
        got[g] = (float)r[g].latent_d2;
        assert_true(r[g].latent_d2_limit == 1e300);
        assert_false(r[g].flags & GP_FLAG_IMAGE_UNLIKE);
    }
    double e = gp_test_relerr(got, want, NG);
    printf("# latent_d2 of %d galaxies against the reference: relative error %.2g (%.1f .. %.1f)\n", NG, e, want[0], want[NG - 1]);
    assert_true(e < 1e-4);
    gp_result_free(r, NG);
    gp_model_close(m);
    /* a limit between the distances: exactly the galaxies above it are flagged, the
     * input flags kept, the samples unchanged */
    double sorted[NG];
    memcpy(sorted, want, sizeof sorted);
    for (int i = 1; i < NG; i++)
        for (int j = i; j > 0 && sorted[j] < sorted[j - 1]; j--) { double t = sorted[j]; sorted[j] = sorted[j - 1]; sorted[j - 1] = t; }
    o.d2_limit = 0.5 * (sorted[NG / 2 - 1] + sorted[NG / 2]);
    add_check(src, dst, &o);
    gal[1].flags = GP_FLAG_EDGE;
    io.keep_samples = 1;
    gp_result rf[NG], rn[NG];
    assert_int_equal(gp_model_open(src, &mo, &m, &err), GP_OK);
    assert_int_equal(gp_infer(m, gal, NG, &io, rn, &err), GP_OK);
    gp_model_close(m);
    assert_int_equal(gp_model_open(dst, &mo, &m, &err), GP_OK);
    assert_int_equal(gp_infer(m, gal, NG, &io, rf, &err), GP_OK);
    int flagged = 0;
    for (int g = 0; g < NG; g++) {
        int above = want[g] > o.d2_limit;
        flagged += above;
        assert_int_equal(!!(rf[g].flags & GP_FLAG_IMAGE_UNLIKE), above);
        assert_int_equal(rf[g].flags & ~GP_FLAG_IMAGE_UNLIKE, rn[g].flags);
        assert_memory_equal(rf[g].samples, rn[g].samples, sizeof(float) * io.nsamples * GP_NQ);
    }
    assert_int_equal(flagged, NG / 2);
    gp_result_free(rf, NG);
    gp_result_free(rn, NG);
    gp_model_close(m);
    /* a photometry model has no latent inputs */
    a.uses_image = 0;
    assert_int_equal(gp_model_write_random(phot, &a, 22, &err), GP_OK);
    assert_int_equal(gp_model_open(phot, &mo, &m, &err), GP_OK);
    assert_int_equal(gp_infer(m, gal, NG, &io, r, &err), GP_OK);
    for (int g = 0; g < NG; g++) assert_true(isnan(r[g].latent_d2) && !(r[g].flags & GP_FLAG_IMAGE_UNLIKE));
    gp_result_free(r, NG);
    gp_model_close(m);
    gp_ood_free(&o);
    free(inv); free(x); free(scr); free(mu); free(lv); free(cut);
    unlink(src); unlink(dst); unlink(phot);
}

/* gp_infer with the photometry check (`ood.phot.*`): phot_d2 against a
 * reference from the magnitudes by hand (colours and r, standardized by the
 * model's statistics, explicit inverse of the covariance); exactly the
 * galaxies above the limit flagged GP_FLAG_PHOT_UNLIKE, nothing else changed;
 * a check of the wrong size refused at load, naming it. */
static void test_infer_phot_check(void **state)
{
    (void)state;
    enum { NG = 24, D = GP_PHOT_OOD_DIM };
    gp_arch a = gp_arch_default();
    a.uses_image = 0; a.ensemble = 1; a.trunk[0] = 16; a.trunk[1] = 16; a.head_hidden = 8; a.flow_hidden = 8; a.couplings = 2;
    char src[256], dst[256];
    gp_test_tmpname(src, sizeof src, ".gpw");
    gp_test_tmpname(dst, sizeof dst, ".gpw");
    gp_error err;
    assert_int_equal(gp_model_write_random(src, &a, 23, &err), GP_OK);
    gp_galaxy gal[NG];
    float *cut = gp_test_galaxies(gal, NG);
    assert_non_null(cut);
    for (int g = 0; g < NG; g++)   /* colours spread over a few tenths of a magnitude */
        for (int b = 0; b < 5; b++) gal[g].mag[b] += (float)(0.3 * gp_test_normal());
    gp_model_options mo = gp_model_options_default();
    mo.backend = GP_BACKEND_CPU;
    mo.threads = 2;
    gp_model *m;
    assert_int_equal(gp_model_open(src, &mo, &m, &err), GP_OK);
    float pm[GP_NPHOT], ps[GP_NPHOT];
    memcpy(pm, m->net.phot_mean, sizeof pm);
    memcpy(ps, m->net.phot_std, sizeof ps);
    gp_infer_options io = gp_infer_options_default();
    io.nsamples = 20;
    io.keep_samples = 1;
    gp_result rn[NG];
    assert_int_equal(gp_infer(m, gal, NG, &io, rn, &err), GP_OK);
    for (int g = 0; g < NG; g++) {   /* no check stored: NaN, no flag */
        assert_true(isnan(rn[g].phot_d2) && isnan(rn[g].phot_d2_limit));
        assert_false(rn[g].flags & GP_FLAG_PHOT_UNLIKE);
    }
    gp_model_close(m);

    gp_ood o;
    double *inv = malloc(sizeof(double) * D * D), want[NG];
    random_check(D, &o, inv);
    for (int g = 0; g < NG; g++) {
        const float *mg = gal[g].mag;
        /* u-g, g-r, r-i, i-z (inputs 0-3) and r (input 6) */
        double raw[D] = { mg[0] - mg[1], mg[1] - mg[2], mg[2] - mg[3], mg[3] - mg[4], mg[2] };
        const int col[D] = { 0, 1, 2, 3, 6 };
        double v[D];
        for (int i = 0; i < D; i++) v[i] = (raw[i] - pm[col[i]]) / ps[col[i]];
        want[g] = quad_form(inv, o.mean, v, D);
    }
    double sorted[NG];
    memcpy(sorted, want, sizeof sorted);
    for (int i = 1; i < NG; i++)
        for (int j = i; j > 0 && sorted[j] < sorted[j - 1]; j--) { double t = sorted[j]; sorted[j] = sorted[j - 1]; sorted[j - 1] = t; }
    o.d2_limit = 0.5 * (sorted[NG / 2 - 1] + sorted[NG / 2]);
    assert_int_equal(gp_test_add_check(src, dst, "ood.phot", &o, &err), GP_OK);
    assert_int_equal(gp_model_open(dst, &mo, &m, &err), GP_OK);
    gp_result r[NG];
    assert_int_equal(gp_infer(m, gal, NG, &io, r, &err), GP_OK);
    float got[NG];
    int flagged = 0;
    for (int g = 0; g < NG; g++) {
        got[g] = (float)r[g].phot_d2;
        assert_true(r[g].phot_d2_limit == o.d2_limit);
        int above = want[g] > o.d2_limit;
        flagged += above;
        assert_int_equal(!!(r[g].flags & GP_FLAG_PHOT_UNLIKE), above);
        assert_int_equal(r[g].flags & ~GP_FLAG_PHOT_UNLIKE, rn[g].flags);
        assert_memory_equal(r[g].samples, rn[g].samples, sizeof(float) * io.nsamples * GP_NQ);
    }
    double e = gp_test_relerr(got, want, NG);
    printf("# phot_d2 of %d galaxies against the reference: relative error %.2g\n", NG, e);
    assert_true(e < 1e-4);
    assert_int_equal(flagged, NG / 2);
    /* gp_infer standardizes each galaxy's photometry once for the networks'
     * input and the check (gp_net_photometry_unclipped): the same bits as
     * gp_net_photometry and gp_phot_check_vector each on its own, clipped
     * (a u dropout) or not, and phot_d2 exactly the check's distance */
    for (int g = 0; g < NG; g++) {
        float in1[GP_NPHOT], in2[GP_NPHOT], mg[5];
        double v[GP_NPHOT], x1[D], x2[D];
        gp_phot_check_vector(m->net.phot_mean, m->net.phot_std, gal[g].mag, x1);
        assert_true(r[g].phot_d2 == gp_ood_distance2(&m->net.phot_ood, x1));
        memcpy(mg, gal[g].mag, sizeof mg);
        if (g % 4 == 0) mg[0] += 20.0f;
        int c1 = gp_net_photometry(&m->net, mg, in1);
        int c2 = gp_net_photometry_unclipped(&m->net, mg, in2, v);
        assert_int_equal(c1, c2);
        if (g % 4 == 0) assert_true(c1 > 0);
        assert_memory_equal(in1, in2, sizeof in1);
        /* against a naive reference written from design.md (u-g, g-r, r-i,
         * i-z, then u..z; standardized; held at +-5 sigma): gp_net_photometry
         * is now a wrapper of the unclipped one, so in1 == in2 alone could not fail */
        int nclip = 0;
        for (int k = 0; k < GP_NPHOT; k++) {
            float raw = k < 4 ? mg[k] - mg[k + 1] : mg[k - 4];
            double z = (raw - m->net.phot_mean[k]) / m->net.phot_std[k];
            nclip += fabs(z) > 5.0;
            double want_in = z > 5.0 ? 5.0 : z < -5.0 ? -5.0 : z;
            assert_true(fabs(in2[k] - want_in) <= 1e-6 * fmax(1.0, fabs(want_in)));
            assert_true(v[k] == z);
        }
        assert_int_equal(c2, nclip);
        gp_phot_check_vector(m->net.phot_mean, m->net.phot_std, mg, x1);
        gp_phot_check_select(v, x2);
        assert_memory_equal(x1, x2, sizeof x1);
    }
    gp_result_free(r, NG);
    gp_result_free(rn, NG);
    gp_model_close(m);

    /* a check of another size is refused, naming it */
    gp_ood o4 = o;
    o4.dim = 4;
    assert_int_equal(gp_test_add_check(src, dst, "ood.phot", &o4, &err), GP_OK);
    m = NULL;
    assert_int_equal(gp_model_open(dst, &mo, &m, &err), GP_ERR_FORMAT);
    assert_null(m);
    assert_non_null(strstr(err.msg, "ood.phot"));
    gp_ood_free(&o);
    free(inv); free(cut);
    unlink(src); unlink(dst);
}

int main(void)
{
    gp_test_seed("test_ood");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fit_against_reference),
        cmocka_unit_test(test_latent_vector),
        cmocka_unit_test(test_weights_round_trip),
        cmocka_unit_test(test_infer_flags),
        cmocka_unit_test(test_infer_phot_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
