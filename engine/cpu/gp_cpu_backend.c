/*
 * gp_cpu_backend.c: the CPU backend, the reference implementation of
 * gp_backend_ops.  Memory is host memory; dense layers use the fixed-order
 * kernel (gp_cpu_dense_rows.c) on blocks of rows spread over our thread
 * pool (gp_parallel.h); element-wise operations are plain loops, parallel
 * where it pays.
 *
 * Large buffers freed through ops->free are kept in a small cache and
 * handed out again by ops->alloc, so that inference does not fault fresh
 * pages in on every call (a batch's buffers are ~130 MB).
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gp_cpu.h"
#include "gp_cpu_math.h"
#include "gp_parallel.h"
#include "gp_rng.h"

/* ---- per-thread scratch: one buffer per slot (GP_CPU_SCRATCH_SLOTS) */

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
struct thread_scratch { float *p[GP_CPU_SCRATCH_SLOTS]; size_t n[GP_CPU_SCRATCH_SLOTS]; };

static void scratch_free(void *v)
{
    struct thread_scratch *s = v;
    if (s)
        for (int i = 0; i < GP_CPU_SCRATCH_SLOTS; i++) free(s->p[i]);
    free(s);
}

static void scratch_init(void) { pthread_key_create(&scratch_key, scratch_free); }

float *gp_cpu_thread_scratch_slot(int slot, size_t floats)
{
    if (slot < 0 || slot >= GP_CPU_SCRATCH_SLOTS) return NULL;
    pthread_once(&scratch_once, scratch_init);
    struct thread_scratch *s = pthread_getspecific(scratch_key);
    if (!s) {
        if (!(s = calloc(1, sizeof *s))) return NULL;
        if (pthread_setspecific(scratch_key, s)) { free(s); return NULL; }
    }
    if (s->n[slot] < floats) {
        void *p = NULL;
        if (posix_memalign(&p, 64, sizeof(float) * (floats ? floats : 1)) != 0) return NULL;
        free(s->p[slot]);
        s->p[slot] = p;
        s->n[slot] = floats;
    }
    return s->p[slot];
}

float *gp_cpu_thread_scratch(size_t floats)
{
    return gp_cpu_thread_scratch_slot(0, floats);
}

/* ---- memory, with a cache of large blocks */

#define CACHE_SLOTS GP_CPU_CACHE_SLOTS
#define CACHE_MIN_BYTES ((size_t)1 << 20)      /* smaller blocks go straight to malloc */
#define CACHE_MAX_BYTES ((size_t)256 << 20)    /* total kept */

typedef gp_cpu_impl cpu_impl;

/* Allocation sizes are recorded in a 64-byte header before the block. */
#define HDR 64

static void *cpu_alloc(gp_backend *be, size_t bytes)
{
    cpu_impl *im = be->impl;
    if (bytes == 0) bytes = 1;
    if (bytes > (size_t)-1 - HDR) return NULL;
    if (im && bytes >= CACHE_MIN_BYTES) {
        int best = -1;
        pthread_mutex_lock(&im->mx);
        for (int i = 0; i < CACHE_SLOTS; i++)
            if (im->slot[i].p && im->slot[i].bytes >= bytes && im->slot[i].bytes <= 2 * bytes &&
                (best < 0 || im->slot[i].bytes < im->slot[best].bytes))
                best = i;
        void *p = NULL;
        if (best >= 0) {
            p = im->slot[best].p;
            im->cached -= im->slot[best].bytes;
            im->slot[best].p = NULL;
        }
        pthread_mutex_unlock(&im->mx);
        if (p) return (char *)p + HDR;
    }
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes + HDR) != 0) return NULL;
    *(size_t *)p = bytes;
    return (char *)p + HDR;
}

static void cpu_free(gp_backend *be, void *q)
{
    if (!q) return;
    cpu_impl *im = be->impl;
    void *p = (char *)q - HDR;
    size_t bytes = *(size_t *)p;
    if (im && bytes >= CACHE_MIN_BYTES && bytes <= CACHE_MAX_BYTES) {
        pthread_mutex_lock(&im->mx);
        /* make room: drop the smallest blocks until this one fits */
        while (im->cached + bytes > CACHE_MAX_BYTES) {
            int victim = -1;
            for (int i = 0; i < CACHE_SLOTS; i++)
                if (im->slot[i].p && (victim < 0 || im->slot[i].bytes < im->slot[victim].bytes)) victim = i;
            if (victim < 0) break;
            free(im->slot[victim].p);
            im->cached -= im->slot[victim].bytes;
            im->slot[victim].p = NULL;
        }
        int free_slot = -1;
        for (int i = 0; i < CACHE_SLOTS && free_slot < 0; i++)
            if (!im->slot[i].p) free_slot = i;
        if (free_slot >= 0 && im->cached + bytes <= CACHE_MAX_BYTES) {
            im->slot[free_slot].p = p;
            im->slot[free_slot].bytes = bytes;
            im->cached += bytes;
            p = NULL;
        }
        pthread_mutex_unlock(&im->mx);
    }
    free(p);
}

static void cpu_close(gp_backend *be)
{
    cpu_impl *im = be->impl;
    if (!im) return;
    for (int i = 0; i < CACHE_SLOTS; i++) free(im->slot[i].p);
    gp_cpu_wcache_free(im->wcache);
    pthread_mutex_destroy(&im->mx);
    free(im);
    be->impl = NULL;
}

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

struct dense_job {
    const float *X, *W, *b;
    int rows, in, out, block;
    gp_act act;
    float slope;
    float *Y;
    int nomem;      /* set by a block that could not get its buffer */
};

/* row blocks [begin, end) of `block` rows: the fixed-order dense kernel
 * (bias included), then the activation while the block is in cache */
static void dense_blocks(void *ctx, size_t begin, size_t end)
{
    struct dense_job *j = ctx;
    for (size_t blk = begin; blk < end; blk++) {
        int r0 = (int)blk * j->block, r1 = r0 + j->block < j->rows ? r0 + j->block : j->rows;
        float *y = j->Y + (size_t)r0 * j->out;
        if (gp_cpu_dense_rows(j->X + (size_t)r0 * j->in, r1 - r0, j->in, j->W, j->out, j->b, y)) {
            j->nomem = 1;
            continue;
        }
        gp_cpu_bias_act_cols(y, r1 - r0, j->out, (size_t)j->out, NULL, j->act, j->slope);
    }
}

/* Each output row's sums run in one fixed order whatever the blocking
 * (gp_cpu_dense_rows), so blocks are free to vary with the thread count
 * and a row's values do not depend on the batch. */
static int cpu_dense(gp_backend *be, const float *X, int rows, int in,
                     const float *W, const float *b, int out, gp_act act,
                     float slope, float *Y, gp_error *err)
{
    if (rows < 0 || in < 1 || out < 1)
        return GP_FAIL(err, GP_ERR_ARG, "dense: invalid shape rows=%d in=%d out=%d", rows, in, out);
    if (rows == 0) return GP_OK;
    struct dense_job j = { X, W, b, rows, in, out, rows, act, slope, Y, 0 };
    double flops = 2.0 * rows * in * out;
    int threads = be->threads;
    if (threads > 1 && flops >= 2e6 && rows >= 2) {
        /* blocks of at least 8 rows, about 4 per thread for balance; one
         * per thread when the weights outgrow L2 (the encoder's mu and
         * logvar layers, 6.5 MB each): every block streams all of W */
        int nblk = 4 * threads;
        if (nblk > rows / 8) nblk = rows / 8 > threads ? rows / 8 : threads;
        if ((size_t)in * out * sizeof(float) > ((size_t)2 << 20)) nblk = threads;
        if (nblk > rows) nblk = rows;
        j.block = (rows + nblk - 1) / nblk;
        nblk = (rows + j.block - 1) / j.block;
        gp_parallel_for(threads, (size_t)nblk, dense_blocks, &j);
    } else {
        dense_blocks(&j, 0, 1);
    }
    if (j.nomem)
        return GP_FAIL(err, GP_ERR_NOMEM, "dense %dx%d -> %d: cannot allocate the partial sums", rows, in, out);
    return GP_OK;
}

struct stretch_job {
    float *x;
    int bands, plane;
    const float *soft, *offset, *scale;
};

/* planes [begin, end) of n x bands */
static void stretch_planes(void *ctx, size_t begin, size_t end)
{
    struct stretch_job *j = ctx;
    for (size_t i = begin; i < end; i++) {
        int c = (int)(i % (size_t)j->bands);
        gp_cpu_stretch_plane(j->x + i * (size_t)j->plane, (size_t)j->plane, 1.0f / j->soft[c], j->offset[c], 1.0f / j->scale[c]);
    }
}

static int cpu_stretch(gp_backend *be, float *x, int n, int bands, int plane,
                       const float *soft, const float *offset, const float *scale,
                       gp_error *err)
{
    (void)err;
    struct stretch_job j = { x, bands, plane, soft, offset, scale };
    gp_parallel_for(be->threads, (size_t)n * bands, stretch_planes, &j);
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
    .close = cpu_close,
    .conv_stack = gp_cpu_conv_stack,
    .encode_cutouts = gp_cpu_encode_cutouts,
    .member_sample = gp_cpu_member_sample,
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
    cpu_impl *im = calloc(1, sizeof *im);
    if (!im || pthread_mutex_init(&im->mx, NULL) != 0) {
        free(im);
        free(be);
        return GP_FAIL(err, GP_ERR_NOMEM, "cannot allocate the CPU backend");
    }
    be->impl = im;
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
