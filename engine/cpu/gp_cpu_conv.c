/*
 * gp_cpu_conv.c: convolutions of the CPU backend through im2col/col2im and
 * cblas_sgemm.  Images are processed independently (one GEMM per image with
 * a shape that does not depend on the batch), so a galaxy's features are
 * bit-identical whatever batch it is computed in.  With several images and
 * threads, images are spread over our threads and OpenBLAS runs single
 * threaded; with one image, OpenBLAS gets the threads.
 */
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "gp_cpu.h"
#include "gp_parallel.h"

/* col[(c*k + ky)*k + kx][oy*wo + ox] = x[c][oy*s - p + ky][ox*s - p + kx] (0 outside) */
void gp_cpu_im2col(const float *x, int cin, int h, int w, int k, int s, int p,
                   int ho, int wo, float *col)
{
    for (int c = 0; c < cin; c++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                float *dst = col + ((size_t)(c * k + ky) * k + kx) * (size_t)ho * wo;
                const float *src = x + (size_t)c * h * w;
                for (int oy = 0; oy < ho; oy++) {
                    int iy = oy * s - p + ky;
                    float *drow = dst + (size_t)oy * wo;
                    if (iy < 0 || iy >= h) { memset(drow, 0, sizeof(float) * (size_t)wo); continue; }
                    const float *srow = src + (size_t)iy * w;
                    for (int ox = 0; ox < wo; ox++) {
                        int ix = ox * s - p + kx;
                        drow[ox] = (ix >= 0 && ix < w) ? srow[ix] : 0.0f;
                    }
                }
            }
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

void gp_cpu_bias_act(float *y, int channels, size_t plane, const float *b,
                     gp_act act, float slope)
{
    for (int c = 0; c < channels; c++) {
        float bc = b ? b[c] : 0.0f;
        float *row = y + (size_t)c * plane;
        for (size_t i = 0; i < plane; i++) row[i] = gp_cpu_activate(row[i] + bc, act, slope);
    }
}

struct conv_job {
    const float *X, *W, *b;
    int cin, h, w, cout, k, stride, pad, ho, wo;
    gp_act act;
    float slope;
    float *Y;
    int transpose;
    int failed;
};

static void conv_range(void *ctx, size_t begin, size_t end)
{
    struct conv_job *j = ctx;
    if (!j->transpose) {
        size_t colsz = (size_t)j->cin * j->k * j->k * (size_t)j->ho * j->wo;
        float *col = malloc(sizeof(float) * colsz);
        if (!col) { j->failed = 1; return; }
        for (size_t i = begin; i < end; i++) {
            const float *x = j->X + i * (size_t)j->cin * j->h * j->w;
            float *y = j->Y + i * (size_t)j->cout * j->ho * j->wo;
            gp_cpu_im2col(x, j->cin, j->h, j->w, j->k, j->stride, j->pad, j->ho, j->wo, col);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, j->cout,
                        j->ho * j->wo, j->cin * j->k * j->k, 1.0f, j->W,
                        j->cin * j->k * j->k, col, j->ho * j->wo, 0.0f, y,
                        j->ho * j->wo);
            gp_cpu_bias_act(y, j->cout, (size_t)j->ho * j->wo, j->b, j->act, j->slope);
        }
        free(col);
    } else {
        /* X[cin x h x w] -> col[cout*k*k x h*w] = W^T X, W is [cin x cout*k*k] */
        size_t colsz = (size_t)j->cout * j->k * j->k * (size_t)j->h * j->w;
        float *col = malloc(sizeof(float) * colsz);
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
        free(col);
    }
}

static int run_conv(gp_backend *be, struct conv_job *j, int n, gp_error *err)
{
    int threads = be->threads;
    if (n >= 2 && threads > 1) {
        gp_blas_set_threads(1);
        gp_parallel_for(threads, (size_t)n, conv_range, j);
    } else {
        gp_blas_set_threads(threads);
        conv_range(j, 0, (size_t)n);
    }
    if (j->failed)
        return GP_FAIL(err, GP_ERR_NOMEM, "convolution %dx%dx%d -> %d: out of memory for im2col",
                       j->cin, j->h, j->w, j->cout);
    return GP_OK;
}

int gp_cpu_conv2d(gp_backend *be, const float *X, int n, int cin, int h, int w,
                  const float *W, const float *b, int cout, int k, int stride,
                  int pad, gp_act act, float slope, float *Y, gp_error *err)
{
    if (n < 0 || cin < 1 || h < 1 || w < 1 || cout < 1 || k < 1 || stride < 1 || pad < 0 ||
        h + 2 * pad < k || w + 2 * pad < k)
        return GP_FAIL(err, GP_ERR_ARG, "conv2d: invalid shape n=%d cin=%d %dx%d cout=%d k=%d s=%d p=%d",
                       n, cin, h, w, cout, k, stride, pad);
    struct conv_job j = { X, W, b, cin, h, w, cout, k, stride, pad,
                          (h + 2 * pad - k) / stride + 1, (w + 2 * pad - k) / stride + 1,
                          act, slope, Y, 0, 0 };
    return run_conv(be, &j, n, err);
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
                          act, slope, Y, 1, 0 };
    return run_conv(be, &j, n, err);
}
