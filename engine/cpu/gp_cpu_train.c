/*
 * gp_cpu_train.c: the CPU backend's training operations (gp_backend.h,
 * "training"): backward passes of dense layers, activations and
 * convolutions (im2col/col2im + cblas_sgemm), the reparameterisation, the
 * losses, the coupling layers' backward, block copies and Adam.
 *
 * Convolution backward passes spread images over our threads; every thread
 * accumulates weight and bias gradients into its own buffer and the buffers
 * are added in thread order afterwards, so results are deterministic for a
 * given thread count.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "gp_cpu.h"
#include "gp_parallel.h"

int gp_cpu_zero(gp_backend *be, void *x, size_t bytes, gp_error *err)
{
    (void)be; (void)err;
    if (bytes) memset(x, 0, bytes);
    return GP_OK;
}

int gp_cpu_dense_backward(gp_backend *be, const float *X, int rows, int in,
                              const float *W, int out, const float *dY, float *dX,
                              float *dW, float *db, gp_error *err)
{
    if (rows < 0 || in < 1 || out < 1)
        return GP_FAIL(err, GP_ERR_ARG, "dense_backward: invalid shape rows=%d in=%d out=%d", rows, in, out);
    if (rows == 0) return GP_OK;
    gp_blas_set_threads(be->threads);
    if (dX)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, in, out, 1.0f,
                    dY, out, W, in, 0.0f, dX, in);
    if (dW)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, rows, 1.0f,
                    dY, out, X, in, 1.0f, dW, in);
    if (db)
        for (int r = 0; r < rows; r++) {
            const float *g = dY + (size_t)r * out;
            for (int o = 0; o < out; o++) db[o] += g[o];
        }
    return GP_OK;
}

int gp_cpu_act_backward(gp_backend *be, const float *Y, const float *dY, size_t n,
                            gp_act act, float slope, float *dX, gp_error *err)
{
    (void)be;
    switch (act) {
    case GP_ACT_NONE:
        if (dX != dY) memmove(dX, dY, sizeof(float) * n);
        break;
    case GP_ACT_RELU:
        for (size_t i = 0; i < n; i++) dX[i] = Y[i] > 0.0f ? dY[i] : 0.0f;
        break;
    case GP_ACT_LEAKY_RELU:
        for (size_t i = 0; i < n; i++) dX[i] = Y[i] > 0.0f ? dY[i] : slope * dY[i];
        break;
    case GP_ACT_TANH:
        for (size_t i = 0; i < n; i++) dX[i] = dY[i] * (1.0f - Y[i] * Y[i]);
        break;
    case GP_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++) dX[i] = dY[i] * Y[i] * (1.0f - Y[i]);
        break;
    default:
        return GP_FAIL(err, GP_ERR_ARG, "act_backward: unknown activation %d", (int)act);
    }
    return GP_OK;
}

/* ------------------------------------------------------ convolutions */

struct convb_job {
    const float *X, *W, *dY;
    float *dX;
    int n, cin, h, w, cout, k, s, p, ho, wo;
    int transpose, nthreads;
    float *dW_part, *db_part;   /* [nthreads x wsize], [nthreads x cout] */
    size_t wsize;
    int failed;
};

static void convb_chunk(void *ctx, size_t begin, size_t end)
{
    struct convb_job *j = ctx;
    for (size_t t = begin; t < end; t++) {
        size_t i0 = t * (size_t)j->n / (size_t)j->nthreads;
        size_t i1 = (t + 1) * (size_t)j->n / (size_t)j->nthreads;
        float *dW = j->dW_part + t * j->wsize;
        float *db = j->db_part + t * (size_t)j->cout;
        int K = j->cin * j->k * j->k, P = j->ho * j->wo;        /* conv2d */
        int Kt = j->cout * j->k * j->k, Pt = j->h * j->w;        /* transposed */
        size_t colsz = j->transpose ? (size_t)Kt * Pt : (size_t)K * P;
        float *col = malloc(sizeof(float) * colsz);
        float *dcol = malloc(sizeof(float) * colsz);
        if (!col || !dcol) { free(col); free(dcol); j->failed = 1; return; }
        for (size_t i = i0; i < i1; i++) {
            const float *x = j->X + i * (size_t)j->cin * j->h * j->w;
            const float *dy = j->dY + i * (size_t)j->cout * P;
            float *dx = j->dX ? j->dX + i * (size_t)j->cin * j->h * j->w : NULL;
            for (int c = 0; c < j->cout; c++) {
                const float *row = dy + (size_t)c * P;
                double acc = 0.0;
                for (int q = 0; q < P; q++) acc += row[q];
                db[c] += (float)acc;
            }
            if (!j->transpose) {
                gp_cpu_im2col(x, j->cin, j->h, j->w, j->k, j->s, j->p, j->ho, j->wo, col);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, j->cout, K, P, 1.0f,
                            dy, P, col, P, 1.0f, dW, K);
                if (dx) {
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, P, j->cout, 1.0f,
                                j->W, K, dy, P, 0.0f, dcol, P);
                    gp_cpu_col2im(dcol, j->cin, j->h, j->w, j->k, j->s, j->p, j->ho, j->wo, dx);
                }
            } else {
                /* forward: col = W^T x, y = col2im(col); so dcol = im2col(dy) */
                gp_cpu_im2col(dy, j->cout, j->ho, j->wo, j->k, j->s, j->p, j->h, j->w, dcol);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, j->cin, Kt, Pt, 1.0f,
                            x, Pt, dcol, Pt, 1.0f, dW, Kt);
                if (dx)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, j->cin, Pt, Kt, 1.0f,
                                j->W, Kt, dcol, Pt, 0.0f, dx, Pt);
            }
        }
        free(col);
        free(dcol);
    }
}

static int run_convb(gp_backend *be, struct convb_job *j, float *dW, float *db, gp_error *err)
{
    int T = be->threads < 1 ? 1 : be->threads;
    if (T > j->n) T = j->n < 1 ? 1 : j->n;
    j->nthreads = T;
    j->wsize = (size_t)j->cout * j->cin * j->k * j->k;
    j->dW_part = calloc((size_t)T * j->wsize, sizeof(float));
    j->db_part = calloc((size_t)T * j->cout, sizeof(float));
    if (!j->dW_part || !j->db_part) {
        free(j->dW_part); free(j->db_part);
        return GP_FAIL(err, GP_ERR_NOMEM, "convolution backward %dx%dx%d -> %d: out of memory",
                       j->cin, j->h, j->w, j->cout);
    }
    if (T > 1) {
        gp_blas_set_threads(1);
        gp_parallel_for(T, (size_t)T, convb_chunk, j);
    } else {
        gp_blas_set_threads(be->threads);
        convb_chunk(j, 0, 1);
    }
    for (int t = 0; t < T; t++) {
        if (dW) {
            const float *src = j->dW_part + (size_t)t * j->wsize;
            for (size_t q = 0; q < j->wsize; q++) dW[q] += src[q];
        }
        if (db) {
            const float *src = j->db_part + (size_t)t * j->cout;
            for (int c = 0; c < j->cout; c++) db[c] += src[c];
        }
    }
    free(j->dW_part);
    free(j->db_part);
    if (j->failed)
        return GP_FAIL(err, GP_ERR_NOMEM, "convolution backward %dx%dx%d -> %d: out of memory for im2col",
                       j->cin, j->h, j->w, j->cout);
    return GP_OK;
}

int gp_cpu_conv2d_backward(gp_backend *be, const float *X, int n, int cin, int h, int w,
                               const float *W, int cout, int k, int stride, int pad,
                               const float *dY, float *dX, float *dW, float *db, gp_error *err)
{
    if (n < 0 || cin < 1 || h < 1 || w < 1 || cout < 1 || k < 1 || stride < 1 || pad < 0 ||
        h + 2 * pad < k || w + 2 * pad < k)
        return GP_FAIL(err, GP_ERR_ARG, "conv2d_backward: invalid shape n=%d cin=%d %dx%d cout=%d k=%d s=%d p=%d",
                       n, cin, h, w, cout, k, stride, pad);
    if (n == 0) return GP_OK;
    struct convb_job j;
    memset(&j, 0, sizeof j);
    j.X = X; j.W = W; j.dY = dY; j.dX = dX; j.n = n; j.cin = cin; j.h = h; j.w = w;
    j.cout = cout; j.k = k; j.s = stride; j.p = pad;
    j.ho = (h + 2 * pad - k) / stride + 1;
    j.wo = (w + 2 * pad - k) / stride + 1;
    return run_convb(be, &j, dW, db, err);
}

int gp_cpu_conv_transpose2d_backward(gp_backend *be, const float *X, int n, int cin,
                                         int h, int w, const float *W, int cout, int k,
                                         int stride, int pad, const float *dY, float *dX,
                                         float *dW, float *db, gp_error *err)
{
    int ho = (h - 1) * stride - 2 * pad + k, wo = (w - 1) * stride - 2 * pad + k;
    if (n < 0 || cin < 1 || h < 1 || w < 1 || cout < 1 || k < 1 || stride < 1 || pad < 0 ||
        ho < 1 || wo < 1)
        return GP_FAIL(err, GP_ERR_ARG, "conv_transpose2d_backward: invalid shape n=%d cin=%d %dx%d cout=%d k=%d s=%d p=%d",
                       n, cin, h, w, cout, k, stride, pad);
    if (n == 0) return GP_OK;
    struct convb_job j;
    memset(&j, 0, sizeof j);
    j.X = X; j.W = W; j.dY = dY; j.dX = dX; j.n = n; j.cin = cin; j.h = h; j.w = w;
    j.cout = cout; j.k = k; j.s = stride; j.p = pad; j.ho = ho; j.wo = wo; j.transpose = 1;
    /* wsize = cin x cout x k x k either way */
    return run_convb(be, &j, dW, db, err);
}

/* ------------------------------------------------- latent and losses */

int gp_cpu_reparam(gp_backend *be, const float *mu, const float *logvar, const float *eps,
                       size_t n, float *z, gp_error *err)
{
    (void)be; (void)err;
    for (size_t i = 0; i < n; i++) z[i] = mu[i] + expf(0.5f * logvar[i]) * eps[i];
    return GP_OK;
}

int gp_cpu_reparam_backward(gp_backend *be, const float *logvar, const float *eps,
                                const float *dz, size_t n, float *dmu, float *dlogvar,
                                gp_error *err)
{
    (void)be; (void)err;
    for (size_t i = 0; i < n; i++) {
        float g = dz[i];
        dlogvar[i] = 0.5f * g * eps[i] * expf(0.5f * logvar[i]);
        dmu[i] = g;
    }
    return GP_OK;
}

int gp_cpu_kl_normal(gp_backend *be, const float *mu, const float *logvar, size_t n,
                         double weight, double *loss, float *dmu, float *dlogvar, gp_error *err)
{
    (void)be; (void)err;
    double acc = 0.0;
    for (size_t i = 0; i < n; i++) {
        double m = mu[i], lv = logvar[i], e = exp(lv);
        acc += 0.5 * (m * m + e - 1.0 - lv);
        if (dmu) dmu[i] += (float)(weight * m);
        if (dlogvar) dlogvar[i] += (float)(weight * 0.5 * (e - 1.0));
    }
    if (loss) *loss += weight * acc;
    return GP_OK;
}

int gp_cpu_coupling_backward(gp_backend *be, const float *x, int rows, int dim,
                                 const int *tidx, int nt, const float *st, float S,
                                 const float *ld_weight, float *dy, float *dst, gp_error *err)
{
    (void)be;
    if (nt < 1 || nt > dim) return GP_FAIL(err, GP_ERR_ARG, "coupling_backward: %d transformed of %d dims", nt, dim);
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * dim;
        const float *sr = st + (size_t)r * 2 * nt;
        float *g = dy + (size_t)r * dim;
        float *gs = dst + (size_t)r * 2 * nt;
        float lw = ld_weight ? ld_weight[r] : 0.0f;
        for (int k = 0; k < nt; k++) {
            float th = tanhf(sr[k] / S);
            float s = S * th, es = expf(s);
            float gy = g[tidx[k]];
            float ds = gy * xr[tidx[k]] * es + lw;
            gs[k] = ds * (1.0f - th * th);
            gs[nt + k] = gy;
            g[tidx[k]] = gy * es;
        }
    }
    return GP_OK;
}

int gp_cpu_mse(gp_backend *be, const float *P, const float *T, const float *mask, int rows,
                   int dim, double w, double *loss, float *dP, gp_error *err)
{
    (void)be; (void)err;
    double acc = 0.0;
    for (int r = 0; r < rows; r++) {
        double m = mask ? mask[r] : 1.0;
        for (int d = 0; d < dim; d++) {
            size_t i = (size_t)r * dim + d;
            double e = (double)P[i] - T[i];
            acc += m * e * e;
            if (dP) dP[i] = (float)(2.0 * w * m * e);
        }
    }
    if (loss) *loss += w * acc;
    return GP_OK;
}

int gp_cpu_bce_logits(gp_backend *be, const float *logit, const float *y, const float *mask,
                          int rows, double w, double *loss, float *dlogit, gp_error *err)
{
    (void)be; (void)err;
    double acc = 0.0;
    for (int r = 0; r < rows; r++) {
        double m = mask ? mask[r] : 1.0, l = logit[r];
        double sp = l > 0 ? l + log1p(exp(-l)) : log1p(exp(l));  /* softplus */
        acc += m * (sp - y[r] * l);
        if (dlogit) dlogit[r] = (float)(w * m * (1.0 / (1.0 + exp(-l)) - y[r]));
    }
    if (loss) *loss += w * acc;
    return GP_OK;
}

int gp_cpu_normal_nll(gp_backend *be, const float *z, const float *mask, int rows, int dim,
                          double w, double *loss, float *dz, gp_error *err)
{
    (void)be; (void)err;
    const double half_log_2pi = 0.91893853320467274178;
    double acc = 0.0;
    for (int r = 0; r < rows; r++) {
        double m = mask ? mask[r] : 1.0;
        for (int d = 0; d < dim; d++) {
            size_t i = (size_t)r * dim + d;
            acc += m * (0.5 * (double)z[i] * z[i] + half_log_2pi);
            if (dz) dz[i] = (float)(w * m * z[i]);
        }
    }
    if (loss) *loss += w * acc;
    return GP_OK;
}

int gp_cpu_copy_cols(gp_backend *be, const float *X, int rows, int xcols, int xoff, float *Y,
                         int ycols, int yoff, int m, int accumulate, gp_error *err)
{
    (void)be;
    if (xoff < 0 || yoff < 0 || m < 0 || xoff + m > xcols || yoff + m > ycols)
        return GP_FAIL(err, GP_ERR_ARG, "copy_cols: block of %d columns at %d/%d outside %d/%d columns",
                       m, xoff, yoff, xcols, ycols);
    for (int r = 0; r < rows; r++) {
        const float *x = X + (size_t)r * xcols + xoff;
        float *y = Y + (size_t)r * ycols + yoff;
        if (accumulate) for (int j = 0; j < m; j++) y[j] += x[j];
        else memcpy(y, x, sizeof(float) * (size_t)m);
    }
    return GP_OK;
}

int gp_cpu_axpby(gp_backend *be, float a, const float *X, float b, const float *Z, size_t n,
                     float *Y, gp_error *err)
{
    (void)be; (void)err;
    for (size_t i = 0; i < n; i++) Y[i] = a * X[i] + b * Z[i];
    return GP_OK;
}

int gp_cpu_adam(gp_backend *be, float *w, const float *g, float *m, float *v, size_t n,
                    float lr, float b1, float b2, float eps, long t, gp_error *err)
{
    (void)be;
    if (t < 1) return GP_FAIL(err, GP_ERR_ARG, "adam: step %ld < 1", t);
    double c1 = 1.0 - pow(b1, (double)t), c2 = 1.0 - pow(b2, (double)t);
    float a = (float)(lr * sqrt(c2) / c1);
    float epsh = (float)(eps * sqrt(c2));
    for (size_t i = 0; i < n; i++) {
        m[i] = b1 * m[i] + (1.0f - b1) * g[i];
        v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
        w[i] -= a * m[i] / (sqrtf(v[i]) + epsh);
    }
    return GP_OK;
}

int gp_cpu_sumsq(gp_backend *be, const float *x, size_t n, double *out, gp_error *err)
{
    (void)be; (void)err;
    double acc = 0.0;
    for (size_t i = 0; i < n; i++) acc += (double)x[i] * x[i];
    *out = acc;
    return GP_OK;
}
