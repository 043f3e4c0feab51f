/*
 * gp_cpu_conv.c: convolutions of the CPU backend through im2col/col2im and
 * cblas_sgemm.
 *
 * A convolution is cut into work items of (image, band of output rows); an
 * item unfolds its rows into a per-thread im2col buffer sized to stay in
 * the L2 cache, multiplies it by the weights with single-threaded
 * cblas_sgemm straight into the output, and applies bias and activation to
 * the still-cached result.  Items are spread over the backend's thread
 * pool.  Every output value is one GEMM dot product over the same
 * K = Cin k k terms in the same order whatever the band, the batch or the
 * thread that computed it, so a galaxy's features are bit-identical in any
 * batch and with any thread count.
 */
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "gp_cpu.h"
#include "gp_cpu_math.h"
#include "gp_parallel.h"

/* im2col restricted to output rows [oy0, oy1):
 * col[(c*k + ky)*k + kx][(oy-oy0)*wo + ox] = x[c][oy*s - p + ky][ox*s - p + kx] (0 outside) */
GP_CPU_HOT void gp_cpu_im2col_rows(const float *x, int cin, int h, int w, int k, int s, int p,
                        int wo, int oy0, int oy1, float *col)
{
    size_t npix = (size_t)(oy1 - oy0) * wo;
    for (int c = 0; c < cin; c++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                float *dst = col + ((size_t)(c * k + ky) * k + kx) * npix;
                const float *src = x + (size_t)c * h * w;
                /* output columns whose input column lies inside: lo <= ox < hi */
                int lo = 0, hi = wo;
                while (lo < wo && lo * s - p + kx < 0) lo++;
                while (hi > lo && (hi - 1) * s - p + kx >= w) hi--;
                for (int oy = oy0; oy < oy1; oy++) {
                    int iy = oy * s - p + ky;
                    float *drow = dst + (size_t)(oy - oy0) * wo;
                    if (iy < 0 || iy >= h) { memset(drow, 0, sizeof(float) * (size_t)wo); continue; }
                    const float *srow = src + (size_t)iy * w - p + kx;
                    for (int ox = 0; ox < lo; ox++) drow[ox] = 0.0f;
                    if (s == 1) memcpy(drow + lo, srow + lo, sizeof(float) * (size_t)(hi - lo));
                    else if (s == 2) for (int ox = lo; ox < hi; ox++) drow[ox] = srow[2 * ox];
                    else for (int ox = lo; ox < hi; ox++) drow[ox] = srow[(size_t)ox * s];
                    for (int ox = hi; ox < wo; ox++) drow[ox] = 0.0f;
                }
            }
}

void gp_cpu_im2col(const float *x, int cin, int h, int w, int k, int s, int p,
                   int ho, int wo, float *col)
{
    gp_cpu_im2col_rows(x, cin, h, w, k, s, p, wo, 0, ho, col);
}

/* The adjoint of im2col: y[c][iy][ix] += col[...] */
void gp_cpu_col2im(const float *col, int cout, int h, int w, int k, int s,
                   int p, int hi, int wi, float *y)
{
    /* y has shape [cout x h x w]; col has [cout*k*k x hi*wi] */
    memset(y, 0, sizeof(float) * (size_t)cout * h * w);
    for (int c = 0; c < cout; c++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                const float *src = col + ((size_t)(c * k + ky) * k + kx) * (size_t)hi * wi;
                float *dst = y + (size_t)c * h * w;
                for (int iy = 0; iy < hi; iy++) {
                    int oy = iy * s - p + ky;
                    if (oy < 0 || oy >= h) continue;
                    const float *srow = src + (size_t)iy * wi;
                    float *drow = dst + (size_t)oy * w;
                    for (int ix = 0; ix < wi; ix++) {
                        int ox = ix * s - p + kx;
                        if (ox >= 0 && ox < w) drow[ox] += srow[ix];
                    }
                }
            }
}

GP_CPU_HOT void gp_cpu_bias_act_row(float *y, size_t n, float b, gp_act act, float slope)
{
    switch (act) {
    case GP_ACT_NONE:
        if (b != 0.0f) for (size_t i = 0; i < n; i++) y[i] += b;
        break;
    case GP_ACT_RELU:
        for (size_t i = 0; i < n; i++) { float v = y[i] + b; y[i] = v > 0.0f ? v : 0.0f; }
        break;
    case GP_ACT_LEAKY_RELU:
        for (size_t i = 0; i < n; i++) { float v = y[i] + b; y[i] = v > 0.0f ? v : slope * v; }
        break;
    default:
        for (size_t i = 0; i < n; i++) y[i] = gp_cpu_activate(y[i] + b, act, slope);
    }
}

GP_CPU_HOT void gp_cpu_bias_act_cols(float *y, int rows, int cols, size_t ld, const float *bias,
                          gp_act act, float slope)
{
    for (int r = 0; r < rows; r++) {
        float *v = y + (size_t)r * ld;
        switch (act) {
        case GP_ACT_NONE:
            if (bias) for (int c = 0; c < cols; c++) v[c] += bias[c];
            break;
        case GP_ACT_RELU:
            for (int c = 0; c < cols; c++) { float t = v[c] + (bias ? bias[c] : 0.0f); v[c] = t > 0.0f ? t : 0.0f; }
            break;
        case GP_ACT_LEAKY_RELU:
            for (int c = 0; c < cols; c++) { float t = v[c] + (bias ? bias[c] : 0.0f); v[c] = t > 0.0f ? t : slope * t; }
            break;
        default:
            for (int c = 0; c < cols; c++) v[c] = gp_cpu_activate(v[c] + (bias ? bias[c] : 0.0f), act, slope);
        }
    }
}

/* gp_cpu_bias_act_cols from src into dst (rows x cols each, contiguous):
 * the same operations, one pass instead of an in-place pass and a copy. */
GP_CPU_HOT void gp_cpu_bias_act_copy(float *restrict dst, const float *restrict src, int rows, int cols,
                                     const float *bias, gp_act act, float slope)
{
    for (int r = 0; r < rows; r++) {
        const float *v = src + (size_t)r * cols;
        float *d = dst + (size_t)r * cols;
        switch (act) {
        case GP_ACT_NONE:
            for (int c = 0; c < cols; c++) d[c] = bias ? v[c] + bias[c] : v[c];
            break;
        case GP_ACT_RELU:
            for (int c = 0; c < cols; c++) { float t = v[c] + (bias ? bias[c] : 0.0f); d[c] = t > 0.0f ? t : 0.0f; }
            break;
        case GP_ACT_LEAKY_RELU:
            for (int c = 0; c < cols; c++) { float t = v[c] + (bias ? bias[c] : 0.0f); d[c] = t > 0.0f ? t : slope * t; }
            break;
        default:
            for (int c = 0; c < cols; c++) d[c] = gp_cpu_activate(v[c] + (bias ? bias[c] : 0.0f), act, slope);
        }
    }
}

void gp_cpu_bias_act(float *y, int channels, size_t plane, const float *b,
                     gp_act act, float slope)
{
    for (int c = 0; c < channels; c++) gp_cpu_bias_act_row(y + (size_t)c * plane, plane, b ? b[c] : 0.0f, act, slope);
}

struct conv_job {
    const float *X, *W, *b;
    int cin, h, w, cout, k, stride, pad, ho, wo;
    int band_rows, bands;   /* output rows per item, items per image */
    gp_act act;
    float slope;
    float *Y;
    int transpose;
    int failed;
};

/* items [begin, end): item i is band i % bands of image i / bands */
static void conv_items(void *ctx, size_t begin, size_t end)
{
    struct conv_job *j = ctx;
    const int K = j->cin * j->k * j->k;
    const size_t plane = (size_t)j->ho * j->wo;
    float *col = gp_cpu_thread_scratch((size_t)K * j->band_rows * j->wo);
    if (!col) { j->failed = 1; return; }
    for (size_t it = begin; it < end; it++) {
        size_t img = it / (size_t)j->bands;
        int oy0 = (int)(it % (size_t)j->bands) * j->band_rows;
        int oy1 = oy0 + j->band_rows < j->ho ? oy0 + j->band_rows : j->ho;
        int npix = (oy1 - oy0) * j->wo;
        const float *x = j->X + img * (size_t)j->cin * j->h * j->w;
        float *y = j->Y + img * (size_t)j->cout * plane + (size_t)oy0 * j->wo;
        gp_cpu_im2col_rows(x, j->cin, j->h, j->w, j->k, j->stride, j->pad, j->wo, oy0, oy1, col);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, j->cout, npix, K, 1.0f, j->W, K,
                    col, npix, 0.0f, y, (int)plane);
        for (int c = 0; c < j->cout; c++)
            gp_cpu_bias_act_row(y + (size_t)c * plane, (size_t)npix, j->b ? j->b[c] : 0.0f, j->act, j->slope);
    }
}

static void deconv_images(void *ctx, size_t begin, size_t end)
{
    struct conv_job *j = ctx;
    /* X[cin x h x w] -> col[cout*k*k x h*w] = W^T X, W is [cin x cout*k*k] */
    size_t colsz = (size_t)j->cout * j->k * j->k * (size_t)j->h * j->w;
    float *col = gp_cpu_thread_scratch(colsz);
    if (!col) { j->failed = 1; return; }
    for (size_t i = begin; i < end; i++) {
        const float *x = j->X + i * (size_t)j->cin * j->h * j->w;
        float *y = j->Y + i * (size_t)j->cout * j->ho * j->wo;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans,
                    j->cout * j->k * j->k, j->h * j->w, j->cin, 1.0f, j->W,
                    j->cout * j->k * j->k, x, j->h * j->w, 0.0f, col,
                    j->h * j->w);
        gp_cpu_col2im(col, j->cout, j->ho, j->wo, j->k, j->stride, j->pad, j->h, j->w, y);
        gp_cpu_bias_act(y, j->cout, (size_t)j->ho * j->wo, j->b, j->act, j->slope);
    }
}

#define GP_CONV_COL_FLOATS (448u * 1024u)   /* im2col buffer per item: 1.75 MB, inside L2 */

int gp_cpu_conv2d(gp_backend *be, const float *X, int n, int cin, int h, int w,
                  const float *W, const float *b, int cout, int k, int stride,
                  int pad, gp_act act, float slope, float *Y, gp_error *err)
{
    if (n < 0 || cin < 1 || h < 1 || w < 1 || cout < 1 || k < 1 || stride < 1 || pad < 0 ||
        h + 2 * pad < k || w + 2 * pad < k)
        return GP_FAIL(err, GP_ERR_ARG, "conv2d: invalid shape n=%d cin=%d %dx%d cout=%d k=%d s=%d p=%d",
                       n, cin, h, w, cout, k, stride, pad);
    if (n == 0) return GP_OK;
    struct conv_job j = { X, W, b, cin, h, w, cout, k, stride, pad,
                          (h + 2 * pad - k) / stride + 1, (w + 2 * pad - k) / stride + 1,
                          0, 0, act, slope, Y, 0, 0 };
    size_t row_floats = (size_t)cin * k * k * j.wo;
    int rows = (int)(GP_CONV_COL_FLOATS / row_floats);
    if (rows < 1) rows = 1;
    int bands = (j.ho + rows - 1) / rows;
    /* fewer images than threads: cut each image into at least `threads` bands */
    if (n < be->threads && bands < be->threads) bands = be->threads < j.ho ? be->threads : j.ho;
    j.band_rows = (j.ho + bands - 1) / bands;
    j.bands = (j.ho + j.band_rows - 1) / j.band_rows;
    gp_blas_set_threads(1);
    gp_parallel_for(be->threads, (size_t)n * j.bands, conv_items, &j);
    if (j.failed)
        return GP_FAIL(err, GP_ERR_NOMEM, "convolution %dx%dx%d -> %d: out of memory for im2col",
                       cin, h, w, cout);
    return GP_OK;
}

int gp_cpu_conv_transpose2d(gp_backend *be, const float *X, int n, int cin,
                            int h, int w, const float *W, const float *b,
                            int cout, int k, int stride, int pad, gp_act act,
                            float slope, float *Y, gp_error *err)
{
    int ho = (h - 1) * stride - 2 * pad + k, wo = (w - 1) * stride - 2 * pad + k;
    if (n < 0 || cin < 1 || h < 1 || w < 1 || cout < 1 || k < 1 || stride < 1 || pad < 0 ||
        ho < 1 || wo < 1)
        return GP_FAIL(err, GP_ERR_ARG, "conv_transpose2d: invalid shape n=%d cin=%d %dx%d cout=%d k=%d s=%d p=%d",
                       n, cin, h, w, cout, k, stride, pad);
    struct conv_job j = { X, W, b, cin, h, w, cout, k, stride, pad, ho, wo,
                          0, 0, act, slope, Y, 1, 0 };
    if (n >= 2 && be->threads > 1) {
        gp_blas_set_threads(1);
        gp_parallel_for(be->threads, (size_t)n, deconv_images, &j);
    } else {
        gp_blas_set_threads(be->threads);
        deconv_images(&j, 0, (size_t)n);
    }
    if (j.failed)
        return GP_FAIL(err, GP_ERR_NOMEM, "transposed convolution %dx%dx%d -> %d: out of memory",
                       cin, h, w, cout);
    return GP_OK;
}
