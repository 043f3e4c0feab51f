/*
 * gp_ood.c: the training-set likeness check (gp_ood.h).  The covariance's
 * Cholesky factor comes from LAPACK's dpotrf in OpenBLAS.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gp_ood.h"

/* LAPACK (OpenBLAS implements it in C, without the hidden length argument). */
extern void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info);

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void gp_ood_free(gp_ood *o)
{
    if (!o) return;
    free(o->mean);
    free(o->chol);
    memset(o, 0, sizeof *o);
}

double gp_ood_distance2(const gp_ood *o, const double *x)
{
    if (!o || o->dim <= 0 || o->dim > GP_OOD_MAX_DIM) return NAN;
    const int D = o->dim;
    double y[GP_OOD_MAX_DIM], d2 = 0.0;
    const double *row = o->chol;
    for (int i = 0; i < D; i++) {
        if (!isfinite(x[i])) return INFINITY;
        double v = x[i] - o->mean[i];
        for (int j = 0; j < i; j++) v -= row[j] * y[j];
        y[i] = v / row[i];
        d2 += y[i] * y[i];
        row += i + 1;
    }
    return d2;
}

void gp_ood_latent_vector(const float *mu, const float *sigma, int L, double *x)
{
    for (int i = 0; i < L; i++) {
        x[i] = mu[i];
        x[L + i] = sigma[i] > 0 ? log((double)sigma[i]) : -INFINITY;
    }
}

int gp_ood_fit(const double *x, long n, int dim, double quantile, gp_ood *out, gp_error *err)
{
    if (!x || !out) return GP_FAIL(err, GP_ERR_ARG, "gp_ood_fit: NULL argument");
    memset(out, 0, sizeof *out);
    if (dim < 1 || dim > GP_OOD_MAX_DIM || n <= dim)
        return GP_FAIL(err, GP_ERR_ARG, "gp_ood_fit: %ld rows of %d values (need 1-%d values and more rows than values)",
                       n, dim, GP_OOD_MAX_DIM);
    if (!(quantile > 0.5 && quantile < 1.0))
        return GP_FAIL(err, GP_ERR_ARG, "gp_ood_fit: quantile %g outside (0.5, 1)", quantile);
    const size_t D = (size_t)dim;
    double *mean = calloc(D, sizeof *mean), *cov = calloc(D * D, sizeof *cov);
    double *chol = malloc(sizeof(double) * D * (D + 1) / 2), *d2 = malloc(sizeof(double) * (size_t)n);
    int st = GP_OK;
    if (!mean || !cov || !chol || !d2) { st = GP_FAIL(err, GP_ERR_NOMEM, "gp_ood_fit: cannot allocate for %d values", dim); goto fail; }
    for (long r = 0; r < n; r++)
        for (size_t i = 0; i < D; i++) {
            double v = x[(size_t)r * D + i];
            if (!isfinite(v)) { st = GP_FAIL(err, GP_ERR_DATA, "gp_ood_fit: row %ld, value %zu is not finite", r, i); goto fail; }
            mean[i] += v;
        }
    for (size_t i = 0; i < D; i++) mean[i] /= (double)n;
    /* covariance (lower triangle of the row-major matrix, then mirrored) */
    for (long r = 0; r < n; r++) {
        const double *xr = x + (size_t)r * D;
        for (size_t i = 0; i < D; i++) {
            double di = xr[i] - mean[i];
            for (size_t j = 0; j <= i; j++) cov[i * D + j] += di * (xr[j] - mean[j]);
        }
    }
    double vmax = 0.0;
    for (size_t i = 0; i < D; i++) {
        for (size_t j = 0; j <= i; j++) cov[i * D + j] = cov[j * D + i] = cov[i * D + j] / (double)(n - 1);
        if (cov[i * D + i] > vmax) vmax = cov[i * D + i];
    }
    /* A ridge of 1e-6 of the largest variance: a dimension the VAE collapsed (nearly
     * constant) must not turn float rounding, e.g. another backend's, into distance. */
    for (size_t i = 0; i < D; i++) cov[i * D + i] += 1e-6 * vmax;
    /* The row-major lower triangle is the column-major upper one: dpotrf("U")
     * leaves U (A = U^T U) there, i.e. L = U^T row-major. */
    int nn = dim, info = 0;
    dpotrf_("U", &nn, cov, &nn, &info);
    if (info != 0) {
        st = GP_FAIL(err, GP_ERR_DATA, "gp_ood_fit: the covariance of %ld rows of %d values is not positive definite (dpotrf info %d)",
                     n, dim, info);
        goto fail;
    }
    size_t k = 0;
    for (size_t i = 0; i < D; i++)
        for (size_t j = 0; j <= i; j++) chol[k++] = cov[i * D + j];
    out->dim = dim;
    out->mean = mean;
    out->chol = chol;
    out->quantile = quantile;
    out->rows = n;
    for (long r = 0; r < n; r++) d2[r] = gp_ood_distance2(out, x + (size_t)r * D);
    qsort(d2, (size_t)n, sizeof *d2, cmp_double);
    /* linear interpolation between order statistics at q (n - 1) */
    double pos = quantile * (double)(n - 1);
    long lo = (long)floor(pos);
    double fr = pos - (double)lo;
    out->d2_limit = lo + 1 < n ? d2[lo] + fr * (d2[lo + 1] - d2[lo]) : d2[n - 1];
    free(cov);
    free(d2);
    return GP_OK;
fail:
    free(mean);
    free(cov);
    free(chol);
    free(d2);
    memset(out, 0, sizeof *out);
    return st;
}

int gp_ood_write(const gp_ood *o, const char *prefix, gp_weights_writer *wr, gp_error *err)
{
    if (!o || !prefix || !wr) return GP_FAIL(err, GP_ERR_ARG, "gp_ood_write: NULL argument");
    if (o->dim <= 0) return GP_OK;
    char key[128];
    size_t D = (size_t)o->dim;
    int st;
    snprintf(key, sizeof key, "%s.mean", prefix);
    if ((st = gp_weights_writer_set_f64_array(wr, key, o->mean, D, err))) return st;
    snprintf(key, sizeof key, "%s.chol", prefix);
    if ((st = gp_weights_writer_set_f64_array(wr, key, o->chol, D * (D + 1) / 2, err))) return st;
    snprintf(key, sizeof key, "%s.d2_limit", prefix);
    if ((st = gp_weights_writer_set_f64(wr, key, o->d2_limit, err))) return st;
    snprintf(key, sizeof key, "%s.quantile", prefix);
    if ((st = gp_weights_writer_set_f64(wr, key, o->quantile, err))) return st;
    snprintf(key, sizeof key, "%s.rows", prefix);
    return gp_weights_writer_set_i64(wr, key, o->rows, err);
}

int gp_ood_read(const gp_weights *w, const char *prefix, int dim, gp_ood *out, gp_error *err)
{
    if (!w || !prefix || !out) return GP_FAIL(err, GP_ERR_ARG, "gp_ood_read: NULL argument");
    memset(out, 0, sizeof *out);
    char key[128];
    const double *mean, *chol;
    size_t nm, nc;
    snprintf(key, sizeof key, "%s.mean", prefix);
    int st = gp_weights_meta_f64_array(w, key, &mean, &nm, err);
    if (st == GP_ERR_NOTFOUND) {   /* no check: every other key must be absent too */
        static const char *other[] = { "chol", "d2_limit", "quantile", "rows" };
        for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
            const char *any;   /* present whatever its type: not GP_ERR_NOTFOUND */
            snprintf(key, sizeof key, "%s.%s", prefix, other[i]);
            if (gp_weights_meta_str(w, key, &any, NULL) != GP_ERR_NOTFOUND)
                return GP_FAIL(err, GP_ERR_FORMAT, "metadata '%s' without '%s.mean'", key, prefix);
        }
        gp_error_clear(err);
        return GP_OK;
    }
    if (st) return st;   /* present with another type */
    const size_t D = (size_t)dim;
    if (dim < 1 || dim > GP_OOD_MAX_DIM)
        return GP_FAIL(err, GP_ERR_FORMAT, "%s: a check of %d values is beyond the %d galpost supports", key, dim, GP_OOD_MAX_DIM);
    if (nm != D)
        return GP_FAIL(err, GP_ERR_FORMAT, "%s: %zu values, the model's check needs %d", key, nm, dim);
    snprintf(key, sizeof key, "%s.chol", prefix);
    if (gp_weights_meta_f64_array(w, key, &chol, &nc, NULL) != GP_OK || nc != D * (D + 1) / 2)
        return GP_FAIL(err, GP_ERR_FORMAT, "%s: missing or not %zu values", key, D * (D + 1) / 2);
    for (size_t i = 0; i < D; i++)
        if (!isfinite(mean[i])) return GP_FAIL(err, GP_ERR_FORMAT, "%s.mean: value %zu is not finite", prefix, i);
    for (size_t i = 0, k = 0; i < D; i++)
        for (size_t j = 0; j <= i; j++, k++)
            if (!isfinite(chol[k]) || (j == i && !(chol[k] > 0)))
                return GP_FAIL(err, GP_ERR_FORMAT, "%s: element (%zu, %zu) is %g (a Cholesky factor needs a finite lower triangle and a positive diagonal)",
                               key, i, j, chol[k]);
    double lim = NAN, q = NAN;
    int64_t rows = 0;
    snprintf(key, sizeof key, "%s.d2_limit", prefix);
    if (gp_weights_meta_f64(w, key, &lim, NULL) != GP_OK || !(lim > 0) || !isfinite(lim))
        return GP_FAIL(err, GP_ERR_FORMAT, "%s: missing or not a positive number", key);
    snprintf(key, sizeof key, "%s.quantile", prefix);
    if (gp_weights_meta_f64(w, key, &q, NULL) != GP_OK || !(q > 0.5 && q < 1))
        return GP_FAIL(err, GP_ERR_FORMAT, "%s: missing or outside (0.5, 1)", key);
    snprintf(key, sizeof key, "%s.rows", prefix);
    if (gp_weights_meta_i64(w, key, &rows, NULL) != GP_OK || rows <= 0)
        return GP_FAIL(err, GP_ERR_FORMAT, "%s: missing or not positive", key);
    out->mean = malloc(sizeof(double) * D);
    out->chol = malloc(sizeof(double) * D * (D + 1) / 2);
    if (!out->mean || !out->chol) {
        gp_ood_free(out);
        return GP_FAIL(err, GP_ERR_NOMEM, "gp_ood_read: cannot allocate %d values", dim);
    }
    memcpy(out->mean, mean, sizeof(double) * D);
    memcpy(out->chol, chol, sizeof(double) * D * (D + 1) / 2);
    out->dim = dim;
    out->d2_limit = lim;
    out->quantile = q;
    out->rows = (long)rows;
    return GP_OK;
}
