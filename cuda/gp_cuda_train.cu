/*
 * gp_cuda_train.cu: the CUDA backend's training operations (gp_backend.h,
 * "training") other than the backward passes of dense layers and
 * convolutions (gp_cuda_dnn.cu): activation and latent backward passes,
 * the losses, the coupling layers' backward, block copies, Adam, and the
 * bias-gradient sums those backward passes share.
 *
 * The per-element arithmetic is gp_cuda_elem.h's, written like the CPU
 * backend's (engine/cpu/gp_cpu_train.c) term by term, doubles where it
 * uses doubles.  Sums are deterministic: a loss is reduced in double by a
 * grid whose size depends only on the number of terms, each block adding
 * its grid-stride share and then a fixed tree in shared memory; one block
 * adds the block sums the same way and the result is downloaded.  Bias
 * gradients are summed the same way, per channel.  No atomics, so a
 * training step gives the same bits on every run on a given card.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "gp_cuda.h"

#define GP_CU_BLOCK 256   /* a power of two (the tree reductions halve it) */

#define TRY(x) do { int st_ = (x); if (st_) return st_; } while (0)

static unsigned grid_for(size_t n)
{
    size_t b = (n + GP_CU_BLOCK - 1) / GP_CU_BLOCK;
    const size_t maxb = (size_t)1 << 19;
    return (unsigned)(b < maxb ? (b ? b : 1) : maxb);
}

#define GRID_STRIDE(i, n) \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (size_t)gridDim.x * blockDim.x)

/* ------------------------------------------------------- reductions */

/* The block's sum of v over its threads, in a fixed order; every thread
 * gets it.  sh holds blockDim.x doubles. */
__device__ static double block_sum(double v, double *sh)
{
    sh[threadIdx.x] = v;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    double r = sh[0];
    __syncthreads();
    return r;
}

/* part[block] = sum of f(i) over the block's grid-stride share of 0..n-1 */
template <class F>
__global__ void k_reduce(size_t n, F f, double *part)
{
    __shared__ double sh[GP_CU_BLOCK];
    double acc = 0.0;
    GRID_STRIDE(i, n) acc += f(i);
    double s = block_sum(acc, sh);
    if (threadIdx.x == 0) part[blockIdx.x] = s;
}

/* *out = sum of part[0..nb-1], one block */
__global__ void k_finish(const double *part, int nb, double *out)
{
    __shared__ double sh[GP_CU_BLOCK];
    double acc = 0.0;
    for (int i = threadIdx.x; i < nb; i += blockDim.x) acc += part[i];
    double s = block_sum(acc, sh);
    if (threadIdx.x == 0) *out = s;
}

static int red_alloc(gp_cuda *c, const char *what, gp_error *err)
{
    if (c->red) return GP_OK;
    GP_CU(err, what, cudaMalloc, (void **)&c->red, sizeof(double) * (GP_CUDA_RED_BLOCKS + 1));
    cudaError_t e = cudaMallocHost((void **)&c->red_host, sizeof(double));
    if (e != cudaSuccess) {
        (void)cudaFree(c->red);
        c->red = NULL;
        c->red_host = NULL;
        return gp_cuda_fail_rt(err, e, what, "cudaMallocHost", __func__, __FILE__, __LINE__);
    }
    return GP_OK;
}

void gp_cuda_train_free(gp_cuda *c)
{
    if (c->red) (void)cudaFree(c->red);
    if (c->red_host) (void)cudaFreeHost(c->red_host);
    c->red = c->red_host = NULL;
}

/* Run f(i) for i < n (its side effects: the gradients) and, with sum,
 * *sum = the deterministic double sum of its values (waits for it). */
template <class F>
static int reduce(gp_cuda *c, size_t n, const F &f, double *sum, const char *what, gp_error *err)
{
    if (sum) *sum = 0.0;
    if (n == 0) return GP_OK;
    TRY(red_alloc(c, what, err));
    unsigned nb = grid_for(n);
    if (nb > GP_CUDA_RED_BLOCKS) nb = GP_CUDA_RED_BLOCKS;
    k_reduce<<<nb, GP_CU_BLOCK, 0, c->stream>>>(n, f, c->red);
    GP_CU_LAUNCHED(err, what);
    if (!sum) return GP_OK;
    k_finish<<<1, GP_CU_BLOCK, 0, c->stream>>>(c->red, (int)nb, c->red + GP_CUDA_RED_BLOCKS);
    GP_CU_LAUNCHED(err, what);
    GP_CU(err, what, cudaMemcpyAsync, c->red_host, c->red + GP_CUDA_RED_BLOCKS, sizeof(double),
          cudaMemcpyDeviceToHost, c->stream);
    GP_CU(err, what, cudaStreamSynchronize, c->stream);
    *sum = *c->red_host;
    return GP_OK;
}

struct kl_term {
    const float *mu, *lv;
    double w;
    float *dmu, *dlv;
    __device__ double operator()(size_t i) const { return gp_cu_kl_at(i, mu, lv, w, dmu, dlv); }
};
struct mse_term {
    const float *P, *T, *mask;
    int dim;
    double w;
    float *dP;
    __device__ double operator()(size_t i) const { return gp_cu_mse_at(i, P, T, mask, dim, w, dP); }
};
struct bce_term {
    const float *l, *y, *mask;
    double w;
    float *dl;
    __device__ double operator()(size_t i) const { return gp_cu_bce_at(i, l, y, mask, w, dl); }
};
struct nll_term {
    const float *z, *mask;
    int dim;
    double w;
    float *dz;
    __device__ double operator()(size_t i) const { return gp_cu_normal_nll_at(i, z, mask, dim, w, dz); }
};
struct sumsq_term {
    const float *x;
    __device__ double operator()(size_t i) const { return gp_cu_sumsq_at(i, x); }
};

/* ---------------------------------------------------- bias gradients */

/* dense layout: db[j] += column sum j of dY [rows x cols], rows in order */
__global__ void k_col_sums(const float *dY, int rows, int cols, float *db)
{
    GRID_STRIDE(j, (size_t)cols) {
        double s = 0.0;
        for (int r = 0; r < rows; r++) s += dY[(size_t)r * cols + j];
        db[j] += (float)s;
    }
}

/* NCHW: block c sums channel c over n images of `plane` values */
__global__ void k_chan_sums(const float *dY, int n, int channels, size_t plane, float *db)
{
    __shared__ double sh[GP_CU_BLOCK];
    const int c = blockIdx.x;
    const size_t total = (size_t)n * plane;
    double acc = 0.0;
    for (size_t j = threadIdx.x; j < total; j += blockDim.x) {
        size_t img = j / plane, q = j % plane;
        acc += dY[(img * channels + c) * plane + q];
    }
    double s = block_sum(acc, sh);
    if (threadIdx.x == 0) db[c] += (float)s;
}

int gp_cuda_k_channel_sums(gp_cuda *c, const float *dY, int n, int channels, size_t plane,
                           float *db, const char *what, gp_error *err)
{
    if (!db || n <= 0 || channels <= 0 || plane == 0) return GP_OK;
    if (plane == 1)
        k_col_sums<<<grid_for((size_t)channels), GP_CU_BLOCK, 0, c->stream>>>(dY, n, channels, db);
    else
        k_chan_sums<<<(unsigned)channels, GP_CU_BLOCK, 0, c->stream>>>(dY, n, channels, plane, db);
    GP_CU_LAUNCHED(err, what);
    return GP_OK;
}

/* --------------------------------------------------- element kernels */

__global__ void k_act_backward(const float *Y, const float *dY, size_t n, int act, float slope, float *dX)
{
    GRID_STRIDE(i, n) gp_cu_act_backward_at(i, Y, dY, act, slope, dX);
}

__global__ void k_reparam(const float *mu, const float *lv, const float *eps, size_t n, float *z)
{
    GRID_STRIDE(i, n) gp_cu_reparam_at(i, mu, lv, eps, z);
}

__global__ void k_reparam_backward(const float *lv, const float *eps, const float *dz, size_t n,
                                   float *dmu, float *dlv)
{
    GRID_STRIDE(i, n) gp_cu_reparam_backward_at(i, lv, eps, dz, dmu, dlv);
}

__global__ void k_coupling_backward(const float *x, int rows, int dim, const int *tidx, gp_cu_small small,
                                    int nt, const float *st, float S, const float *ldw, float *dy, float *dst)
{
    const int *ix = tidx ? tidx : small.v;
    GRID_STRIDE(r, (size_t)rows) gp_cu_coupling_backward_row((int)r, x, dim, ix, nt, st, S, ldw, dy, dst);
}

__global__ void k_copy_cols(const float *X, size_t total, int xcols, int xoff, float *Y, int ycols,
                            int yoff, int m, int accumulate)
{
    GRID_STRIDE(i, total) gp_cu_copy_cols_at(i, X, xcols, xoff, Y, ycols, yoff, m, accumulate);
}

__global__ void k_axpby(float a, const float *X, float b, const float *Z, size_t n, float *Y)
{
    GRID_STRIDE(i, n) gp_cu_axpby_at(i, a, X, b, Z, Y);
}

__global__ void k_adam(float *w, const float *g, float *m, float *v, size_t n, float a, float b1,
                       float b2, float epsh)
{
    GRID_STRIDE(i, n) gp_cu_adam_at(i, w, g, m, v, a, b1, b2, epsh);
}

/* ------------------------------------------------------- operations */

int gp_cuda_zero(gp_backend *be, void *x, size_t bytes, gp_error *err)
{
    gp_cuda *c = gp_cuda_of(be);
    if (!bytes) return GP_OK;
    char what[64];
    snprintf(what, sizeof what, "zero of %zu bytes", bytes);
    TRY(gp_cuda_enter(c, what, err));
    GP_CU(err, what, cudaMemsetAsync, x, 0, bytes, c->stream);
    return GP_OK;
}

int gp_cuda_act_backward(gp_backend *be, const float *Y, const float *dY, size_t n, gp_act act,
                         float slope, float *dX, gp_error *err)
{
    gp_cuda *c = gp_cuda_of(be);
    if ((int)act < GP_ACT_NONE || (int)act > GP_ACT_SIGMOID)
        return GP_FAIL(err, GP_ERR_ARG, "act_backward: unknown activation %d", (int)act);
    if (n == 0 || (act == GP_ACT_NONE && dX == dY)) return GP_OK;
    char what[64];
    snprintf(what, sizeof what, "act_backward of %zu values", n);
    TRY(gp_cuda_enter(c, what, err));
    k_act_backward<<<grid_for(n), GP_CU_BLOCK, 0, c->stream>>>(Y, dY, n, (int)act, slope, dX);
    GP_CU_LAUNCHED(err, what);
    return GP_OK;
}

int gp_cuda_reparam(gp_backend *be, const float *mu, const float *logvar, const float *eps,
                    size_t n, float *z, gp_error *err)
{
    gp_cuda *c = gp_cuda_of(be);
    if (n == 0) return GP_OK;
    TRY(gp_cuda_enter(c, "reparam", err));
    k_reparam<<<grid_for(n), GP_CU_BLOCK, 0, c->stream>>>(mu, logvar, eps, n, z);
    GP_CU_LAUNCHED(err, "reparam");
    return GP_OK;
}

int gp_cuda_reparam_backward(gp_backend *be, const float *logvar, const float *eps,
                             const float *dz, size_t n, float *dmu, float *dlogvar, gp_error *err)
{
    gp_cuda *c = gp_cuda_of(be);
    if (n == 0) return GP_OK;
    TRY(gp_cuda_enter(c, "reparam_backward", err));
    k_reparam_backward<<<grid_for(n), GP_CU_BLOCK, 0, c->stream>>>(logvar, eps, dz, n, dmu, dlogvar);
    GP_CU_LAUNCHED(err, "reparam_backward");
    return GP_OK;
}

int gp_cuda_kl_normal(gp_backend *be, const float *mu, const float *logvar, size_t n,
                      double weight, double *loss, float *dmu, float *dlogvar, gp_error *err)
{
    gp_cuda *c = gp_cuda_of(be);
    if (n == 0 || (!loss && !dmu && !dlogvar)) return GP_OK;
    char what[64];
    snprintf(what, sizeof what, "kl_normal of %zu values", n);
    TRY(gp_cuda_enter(c, what, err));
    kl_term f = { mu, logvar, weight, dmu, dlogvar };
    double acc;
    TRY(reduce(c, n, f, loss ? &acc : NULL, what, err));
    if (loss) *loss += weight * acc;
    return GP_OK;
}

int gp_cuda_coupling_backward(gp_backend *be, const float *x, int rows, int dim, const int *tidx,
                              int nt, const float *st, float S, const float *ld_weight, float *dy,
                              float *dst, gp_error *err)
{
    gp_cuda *c = gp_cuda_of(be);
    if (nt < 1 || nt > dim) return GP_FAIL(err, GP_ERR_ARG, "coupling_backward: %d transformed of %d dims", nt, dim);
    if (rows <= 0) return GP_OK;
    char what[96];
    snprintf(what, sizeof what, "coupling_backward %d rows x %d (%d transformed)", rows, dim, nt);
    gp_cu_small small;
    TRY(gp_cuda_small_copy(tidx, nt, dim, &small, what, err));
    TRY(gp_cuda_enter(c, what, err));
    const void *d_idx = NULL;
    if (nt > GP_CU_SMALL) TRY(gp_cuda_index(c, tidx, sizeof(int) * (size_t)nt, &d_idx, what, err));
    k_coupling_backward<<<grid_for((size_t)rows), GP_CU_BLOCK, 0, c->stream>>>(
        x, rows, dim, (const int *)d_idx, small, nt, st, S, ld_weight, dy, dst);
    GP_CU_LAUNCHED(err, what);
    return GP_OK;
}

int gp_cuda_mse(gp_backend *be, const float *P, const float *T, const float *mask, int rows,
                int dim, double w, double *loss, float *dP, gp_error *err)
{
    gp_cuda *c = gp_cuda_of(be);
    if (rows <= 0 || dim <= 0 || (!loss && !dP)) return GP_OK;
    char what[64];
    snprintf(what, sizeof what, "mse %d x %d", rows, dim);
    TRY(gp_cuda_enter(c, what, err));
    mse_term f = { P, T, mask, dim, w, dP };
    double acc;
    TRY(reduce(c, (size_t)rows * dim, f, loss ? &acc : NULL, what, err));
    if (loss) *loss += w * acc;
    return GP_OK;
}

int gp_cuda_bce_logits(gp_backend *be, const float *logit, const float *y, const float *mask,
                       int rows, double w, double *loss, float *dlogit, gp_error *err)
{
    gp_cuda *c = gp_cuda_of(be);
    if (rows <= 0 || (!loss && !dlogit)) return GP_OK;
    char what[64];
    snprintf(what, sizeof what, "bce_logits of %d rows", rows);
    TRY(gp_cuda_enter(c, what, err));
    bce_term f = { logit, y, mask, w, dlogit };
    double acc;
    TRY(reduce(c, (size_t)rows, f, loss ? &acc : NULL, what, err));
    if (loss) *loss += w * acc;
    return GP_OK;
}

int gp_cuda_normal_nll(gp_backend *be, const float *z, const float *mask, int rows, int dim,
                       double w, double *loss, float *dz, gp_error *err)
{
    gp_cuda *c = gp_cuda_of(be);
    if (rows <= 0 || dim <= 0 || (!loss && !dz)) return GP_OK;
    char what[64];
    snprintf(what, sizeof what, "normal_nll %d x %d", rows, dim);
    TRY(gp_cuda_enter(c, what, err));
    nll_term f = { z, mask, dim, w, dz };
    double acc;
    TRY(reduce(c, (size_t)rows * dim, f, loss ? &acc : NULL, what, err));
    if (loss) *loss += w * acc;
    return GP_OK;
}

int gp_cuda_copy_cols(gp_backend *be, const float *X, int rows, int xcols, int xoff, float *Y,
                      int ycols, int yoff, int m, int accumulate, gp_error *err)
{
    gp_cuda *c = gp_cuda_of(be);
    if (xoff < 0 || yoff < 0 || m < 0 || xoff + m > xcols || yoff + m > ycols)
        return GP_FAIL(err, GP_ERR_ARG, "copy_cols: block of %d columns at %d/%d outside %d/%d columns",
                       m, xoff, yoff, xcols, ycols);
    if (rows <= 0 || m == 0) return GP_OK;
    char what[96];
    snprintf(what, sizeof what, "copy_cols %d rows x %d of %d -> %d", rows, m, xcols, ycols);
    TRY(gp_cuda_enter(c, what, err));
    size_t total = (size_t)rows * m;
    k_copy_cols<<<grid_for(total), GP_CU_BLOCK, 0, c->stream>>>(X, total, xcols, xoff, Y, ycols, yoff, m,
                                                                  accumulate);
    GP_CU_LAUNCHED(err, what);
    return GP_OK;
}

int gp_cuda_axpby(gp_backend *be, float a, const float *X, float b, const float *Z, size_t n,
                  float *Y, gp_error *err)
{
    gp_cuda *c = gp_cuda_of(be);
    if (n == 0) return GP_OK;
    TRY(gp_cuda_enter(c, "axpby", err));
    k_axpby<<<grid_for(n), GP_CU_BLOCK, 0, c->stream>>>(a, X, b, Z, n, Y);
    GP_CU_LAUNCHED(err, "axpby");
    return GP_OK;
}

int gp_cuda_adam(gp_backend *be, float *w, const float *g, float *m, float *v, size_t n, float lr,
                 float b1, float b2, float eps, long t, gp_error *err)
{
    gp_cuda *c = gp_cuda_of(be);
    if (t < 1) return GP_FAIL(err, GP_ERR_ARG, "adam: step %ld < 1", t);
    if (n == 0) return GP_OK;
    /* the bias corrections folded into the step and epsilon, as the CPU backend */
    double c1 = 1.0 - pow(b1, (double)t), c2 = 1.0 - pow(b2, (double)t);
    float a = (float)(lr * sqrt(c2) / c1);
    float epsh = (float)(eps * sqrt(c2));
    TRY(gp_cuda_enter(c, "adam", err));
    k_adam<<<grid_for(n), GP_CU_BLOCK, 0, c->stream>>>(w, g, m, v, n, a, b1, b2, epsh);
    GP_CU_LAUNCHED(err, "adam");
    return GP_OK;
}

int gp_cuda_sumsq(gp_backend *be, const float *x, size_t n, double *out, gp_error *err)
{
    gp_cuda *c = gp_cuda_of(be);
    char what[64];
    snprintf(what, sizeof what, "sumsq of %zu values", n);
    TRY(gp_cuda_enter(c, what, err));
    sumsq_term f = { x };
    return reduce(c, n, f, out, what, err);
}
