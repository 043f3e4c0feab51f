/*
 * gp_cpu_backend.c: the CPU backend, the reference implementation of
 * gp_backend_ops.  Memory is host memory; dense layers use cblas_sgemm;
 * element-wise operations are plain loops, parallel over rows where it pays.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "gp_cpu.h"
#include "gp_parallel.h"
#include "gp_rng.h"

static void *cpu_alloc(gp_backend *be, size_t bytes)
{
    (void)be;
    if (bytes == 0) bytes = 1;
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes) != 0) return NULL;
    return p;
}

static void cpu_free(gp_backend *be, void *p) { (void)be; free(p); }

static int cpu_copy(gp_backend *be, void *dst, const void *src, size_t bytes, gp_error *err)
{
    (void)be; (void)err;
    if (bytes) memmove(dst, src, bytes);
    return GP_OK;
}

static const float *cpu_mirror(gp_backend *be, const float *host, size_t n, gp_error *err)
{
    (void)be; (void)n; (void)err;
    return host;
}

static int cpu_sync(gp_backend *be, gp_error *err) { (void)be; (void)err; return GP_OK; }

static int cpu_dense(gp_backend *be, const float *X, int rows, int in,
                     const float *W, const float *b, int out, gp_act act,
                     float slope, float *Y, gp_error *err)
{
    if (rows < 0 || in < 1 || out < 1)
        return GP_FAIL(err, GP_ERR_ARG, "dense: invalid shape rows=%d in=%d out=%d", rows, in, out);
    if (rows == 0) return GP_OK;
    gp_blas_set_threads(be->threads);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, out, in, 1.0f,
                X, in, W, in, 0.0f, Y, out);
    for (int r = 0; r < rows; r++) {
        float *y = Y + (size_t)r * out;
        for (int o = 0; o < out; o++)
            y[o] = gp_cpu_activate(y[o] + (b ? b[o] : 0.0f), act, slope);
    }
    return GP_OK;
}

static int cpu_stretch(gp_backend *be, float *x, int n, int bands, int plane,
                       const float *soft, const float *offset, const float *scale,
                       gp_error *err)
{
    (void)be; (void)err;
    for (int i = 0; i < n; i++)
        for (int c = 0; c < bands; c++) {
            float *p = x + ((size_t)i * bands + c) * (size_t)plane;
            const float inv_soft = 1.0f / soft[c], inv_scale = 1.0f / scale[c];
            for (int k = 0; k < plane; k++) p[k] = (asinhf(p[k] * inv_soft) - offset[c]) * inv_scale;
        }
    return GP_OK;
}

static int cpu_normals(gp_backend *be, uint64_t seed, const uint64_t *gal_id,
                       const int *row_gal, const int *sample_idx, int rows,
                       int stream, int dim, float *out, gp_error *err)
{
    (void)be;
    if (dim < 1 || dim > 4) return GP_FAIL(err, GP_ERR_ARG, "normals: dim %d outside 1..4", dim);
    for (int r = 0; r < rows; r++) {
        float n4[4];
        gp_rng_normals4(seed, gal_id[row_gal[r]], (uint32_t)sample_idx[r], (uint32_t)stream, n4);
        memcpy(out + (size_t)r * dim, n4, sizeof(float) * (size_t)dim);
    }
    return GP_OK;
}

static int cpu_add_rows(gp_backend *be, float *Y, int rows, int n, const float *C,
                        const int *row_gal, gp_error *err)
{
    (void)be; (void)err;
    for (int r = 0; r < rows; r++) {
        float *y = Y + (size_t)r * n;
        const float *c = C + (size_t)row_gal[r] * n;
        for (int k = 0; k < n; k++) y[k] += c[k];
    }
    return GP_OK;
}

static int cpu_gather_cols(gp_backend *be, const float *X, int rows, int ncols,
                           const int *idx, int m, float *Y, gp_error *err)
{
    (void)be; (void)err;
    for (int r = 0; r < rows; r++)
        for (int k = 0; k < m; k++) Y[(size_t)r * m + k] = X[(size_t)r * ncols + idx[k]];
    return GP_OK;
}

static int cpu_coupling(gp_backend *be, float *x, int rows, int dim,
                        const int *tidx, int nt, const float *st, float S, int dir,
                        double *logdet, gp_error *err)
{
    (void)be;
    if (dir != 1 && dir != -1) return GP_FAIL(err, GP_ERR_ARG, "coupling: direction %d", dir);
    for (int r = 0; r < rows; r++) {
        float *xr = x + (size_t)r * dim;
        const float *sr = st + (size_t)r * 2 * nt;
        double ld = 0.0;
        for (int k = 0; k < nt; k++) {
            float s = S * tanhf(sr[k] / S), t = sr[nt + k];
            if (dir > 0) xr[tidx[k]] = xr[tidx[k]] * expf(s) + t;
            else xr[tidx[k]] = (xr[tidx[k]] - t) * expf(-s);
            ld += s;
        }
        if (logdet) logdet[r] += dir > 0 ? ld : -ld;
    }
    return GP_OK;
}

static int cpu_add(gp_backend *be, const float *X, const float *Z, size_t n, float *Y, gp_error *err)
{
    (void)be; (void)err;
    for (size_t i = 0; i < n; i++) Y[i] = X[i] + Z[i];
    return GP_OK;
}

static int cpu_exp_half(gp_backend *be, const float *X, size_t n, float *Y, gp_error *err)
{
    (void)be; (void)err;
    for (size_t i = 0; i < n; i++) Y[i] = expf(0.5f * X[i]);
    return GP_OK;
}

static int cpu_activate(gp_backend *be, float *x, size_t n, gp_act act, float slope, gp_error *err)
{
    (void)be; (void)err;
    for (size_t i = 0; i < n; i++) x[i] = gp_cpu_activate(x[i], act, slope);
    return GP_OK;
}

static const gp_backend_ops cpu_ops = {
    .name = "cpu",
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_copy,
    .download = cpu_copy,
    .sync = cpu_sync,
    .mirror = cpu_mirror,
    .dense = cpu_dense,
    .conv2d = gp_cpu_conv2d,
    .conv_transpose2d = gp_cpu_conv_transpose2d,
    .stretch = cpu_stretch,
    .normals = cpu_normals,
    .add_rows = cpu_add_rows,
    .gather_cols = cpu_gather_cols,
    .coupling = cpu_coupling,
    .add = cpu_add,
    .exp_half = cpu_exp_half,
    .activate = cpu_activate,
    .close = NULL,
    /* training (gp_cpu_train.c) */
    .zero = gp_cpu_zero,
    .dense_backward = gp_cpu_dense_backward,
    .act_backward = gp_cpu_act_backward,
    .conv2d_backward = gp_cpu_conv2d_backward,
    .conv_transpose2d_backward = gp_cpu_conv_transpose2d_backward,
    .reparam = gp_cpu_reparam,
    .reparam_backward = gp_cpu_reparam_backward,
    .kl_normal = gp_cpu_kl_normal,
    .coupling_backward = gp_cpu_coupling_backward,
    .mse = gp_cpu_mse,
    .bce_logits = gp_cpu_bce_logits,
    .normal_nll = gp_cpu_normal_nll,
    .copy_cols = gp_cpu_copy_cols,
    .axpby = gp_cpu_axpby,
    .adam = gp_cpu_adam,
    .sumsq = gp_cpu_sumsq,
};

int gp_backend_open_cpu(int threads, gp_backend **out, gp_error *err)
{
    if (!out) return GP_FAIL(err, GP_ERR_ARG, "gp_backend_open_cpu: NULL output");
    if (threads < 0 || threads > 256)
        return GP_FAIL(err, GP_ERR_ARG, "thread count %d outside 0..256", threads);
    gp_backend *be = calloc(1, sizeof *be);
    if (!be) return GP_FAIL(err, GP_ERR_NOMEM, "cannot allocate the CPU backend");
    be->ops = &cpu_ops;
    be->threads = threads ? threads : gp_cpu_count();
    snprintf(be->description, sizeof be->description, "cpu (%d thread%s, OpenBLAS)",
             be->threads, be->threads == 1 ? "" : "s");
    *out = be;
    return GP_OK;
}

void gp_backend_close(gp_backend *be)
{
    if (!be) return;
    if (be->ops && be->ops->close) be->ops->close(be);
    free(be);
}
