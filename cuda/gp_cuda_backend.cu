/*
 * gp_cuda_backend.cu: the CUDA backend's table of operations, its memory,
 * copies and the staging of host index arrays; gp_backend_open_cuda().
 *
 * Memory handed out by alloc() comes from a stream-ordered pool owned by
 * the backend (cudaMallocFromPoolAsync), so the engine's per-chunk
 * buffers cost no cudaMalloc/cudaFree after the first chunk; constants
 * (mirror) get their own cudaMalloc and live until close.  Index arrays
 * (row_gal, sample_idx, gal_id, idx, tidx) arrive in host memory: short
 * ones travel by value in the kernel's arguments, longer ones are staged
 * through pinned buffers that remember their contents, so the same rows
 * map is copied once per chunk, not once per layer.
 *
 * Environment: GP_CUDA_TF32=1 allows TF32 tensor cores in cuBLAS and
 * cuDNN (float32 is the default); GP_CUDA_CONV_ALGO=heuristic picks
 * convolution algorithms by cuDNN's heuristics instead of timing them
 * (cudnnFind); GP_CUDA_CHUNK=N sets the galaxies per inference chunk
 * (default: from the device's free memory); GP_CUDA_FLOW_OCC=3 runs the
 * flow kernel at three blocks an SM (gp_cuda_flows.cu); GP_CUDA_ELEM=generic
 * runs bias/activation and the stretch as element-wise kernels instead of
 * one block a plane (gp_cuda_kernels.cu; for benchmarks).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gp_cuda.h"

/* Device bytes one galaxy needs in an inference chunk (cutout, encoder
 * activations, flow rows at 1000 samples), with a margin. */
#define GP_CUDA_BYTES_PER_GALAXY ((size_t)6 << 20)

/* ------------------------------------------------------------ errors */

int gp_cuda_fail_rt(gp_error *err, cudaError_t e, const char *what, const char *call,
                    const char *func, const char *file, int line)
{
    (void)cudaGetLastError();  /* clear a non-sticky error so later checks are not misled */
    return gp_error_set(err, GP_ERR_BACKEND, func, file, line, "CUDA %s: %s failed: %s (%s)",
                        what, call, cudaGetErrorString(e), cudaGetErrorName(e));
}

int gp_cuda_fail_blas(gp_error *err, cublasStatus_t s, const char *what, const char *call,
                      const char *func, const char *file, int line)
{
    (void)cudaGetLastError();
    return gp_error_set(err, GP_ERR_BACKEND, func, file, line, "CUDA %s: %s failed: %s (%s)",
                        what, call, cublasGetStatusString(s), cublasGetStatusName(s));
}

int gp_cuda_fail_dnn(gp_error *err, cudnnStatus_t s, const char *what, const char *call,
                     const char *func, const char *file, int line)
{
    char detail[512];
    detail[0] = '\0';
    cudnnGetLastErrorString(detail, sizeof detail);
    (void)cudaGetLastError();
    return gp_error_set(err, GP_ERR_BACKEND, func, file, line, "CUDA %s: %s failed: %s%s%s",
                        what, call, cudnnGetErrorString(s), detail[0] ? ": " : "", detail);
}

int gp_cuda_enter(gp_cuda *c, const char *what, gp_error *err)
{
    int cur = -1;
    GP_CU(err, what, cudaGetDevice, &cur);
    if (cur != c->device) GP_CU(err, what, cudaSetDevice, c->device);
    return GP_OK;
}

/* cudaMalloc, giving the pool's cached memory back once if it fails. */
static cudaError_t device_malloc(gp_cuda *c, void **p, size_t bytes)
{
    cudaError_t e = cudaMalloc(p, bytes ? bytes : 1);
    if (e == cudaErrorMemoryAllocation && c->pool) {
        (void)cudaGetLastError();
        if (cudaStreamSynchronize(c->stream) == cudaSuccess && cudaMemPoolTrimTo(c->pool, 0) == cudaSuccess)
            e = cudaMalloc(p, bytes ? bytes : 1);
    }
    if (e != cudaSuccess) *p = NULL;
    return e;
}

/* ------------------------------------------------------------ memory */

static void *cu_alloc(gp_backend *be, size_t bytes)
{
    gp_cuda *c = gp_cuda_of(be);
    if (gp_cuda_enter(c, "alloc", NULL)) return NULL;
    if (bytes == 0) bytes = 1;
    void *p = NULL;
    cudaError_t e;
    if (c->pool) {
        e = cudaMallocFromPoolAsync(&p, bytes, c->pool, c->stream);
        if (e == cudaErrorMemoryAllocation) {
            /* the pool keeps freed memory: give it back and retry once */
            (void)cudaGetLastError();
            if (cudaStreamSynchronize(c->stream) == cudaSuccess && cudaMemPoolTrimTo(c->pool, 0) == cudaSuccess)
                e = cudaMallocFromPoolAsync(&p, bytes, c->pool, c->stream);
        }
    } else {
        e = cudaMalloc(&p, bytes);
    }
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        return NULL;
    }
    return p;
}

static void cu_free(gp_backend *be, void *p)
{
    gp_cuda *c = gp_cuda_of(be);
    if (!p || gp_cuda_enter(c, "free", NULL)) return;
    if (c->pool) (void)cudaFreeAsync(p, c->stream);
    else (void)cudaFree(p);
    (void)cudaGetLastError();
}

/* A copy queued on the backend's stream, ordered before the kernels queued
 * after it.  The source may be reused as soon as this returns: pageable
 * memory is staged by the driver before cudaMemcpyAsync returns,
 * page-locked memory is waited for. */
static int copy_in(gp_cuda *c, void *dst, const void *src, size_t bytes, const char *what,
                   gp_error *err)
{
    GP_CU(err, what, cudaMemcpyAsync, dst, src, bytes, cudaMemcpyDefault, c->stream);
    /* from the staging buffers: not waited for (host_staging waits) */
    for (int h = 0; h < 2; h++) {
        const char *p = (const char *)c->pinned[h];
        if (p && (const char *)src >= p && (const char *)src + bytes <= p + c->pinned_bytes[h]) {
            GP_CU(err, what, cudaEventRecord, c->pinned_done[h], c->stream);
            return GP_OK;
        }
    }
    cudaPointerAttributes a;
    GP_CU(err, what, cudaPointerGetAttributes, &a, src);
    if (a.type == cudaMemoryTypeHost) GP_CU(err, what, cudaStreamSynchronize, c->stream);
    return GP_OK;
}

/* Host -> device (or device -> device). */
static int cu_upload(gp_backend *be, void *dst, const void *src, size_t bytes, gp_error *err)
{
    gp_cuda *c = gp_cuda_of(be);
    if (!bytes) return GP_OK;
    if (!dst || !src) return GP_FAIL(err, GP_ERR_ARG, "CUDA upload of %zu bytes: NULL pointer", bytes);
    int st = gp_cuda_enter(c, "upload", err);
    if (st) return st;
    char what[64];
    snprintf(what, sizeof what, "upload of %zu bytes", bytes);
    return copy_in(c, dst, src, bytes, what, err);
}

/* Page-locked host buffers for uploads, two used in turn and grown on
 * demand: a buffer is handed out again once the copies out of it (queued
 * by copy_in without waiting) have finished, so the caller fills one while
 * the other's copy is in flight. */
static void *cu_host_staging(gp_backend *be, size_t bytes, gp_error *err)
{
    gp_cuda *c = gp_cuda_of(be);
    if (gp_cuda_enter(c, "host staging", err)) return NULL;
    int h = c->pinned_next;
    char what[80];
    snprintf(what, sizeof what, "page-locked staging of %zu bytes", bytes);
    cudaError_t e = cudaSuccess;
    const char *call = "cudaEventSynchronize";
    if (c->pinned_done[h]) e = cudaEventSynchronize(c->pinned_done[h]);  /* its last copy */
    if (e == cudaSuccess && bytes > c->pinned_bytes[h]) {
        if (c->pinned[h]) (void)cudaFreeHost(c->pinned[h]);
        c->pinned[h] = NULL;
        c->pinned_bytes[h] = 0;
        call = "cudaMallocHost";
        e = cudaMallocHost(&c->pinned[h], bytes);
        if (e == cudaSuccess) c->pinned_bytes[h] = bytes;
        else c->pinned[h] = NULL;
    }
    if (e == cudaSuccess && !c->pinned_done[h]) {
        call = "cudaEventCreateWithFlags";
        e = cudaEventCreateWithFlags(&c->pinned_done[h], cudaEventDisableTiming);
    }
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        gp_cuda_fail_rt(err, e, what, call, __func__, __FILE__, __LINE__);
        return NULL;
    }
    c->pinned_next = h ^ 1;
    return c->pinned[h];
}

/* Callers' page-locked memory (gp_cutouts_alloc), remembered so that
 * host_owns() is an address check. */
static void *cu_host_alloc(gp_backend *be, size_t bytes, gp_error *err)
{
    gp_cuda *c = gp_cuda_of(be);
    if (gp_cuda_enter(c, "host allocation", err)) return NULL;
    char what[80];
    snprintf(what, sizeof what, "page-locked host allocation of %zu bytes", bytes);
    if (c->nhost == c->caphost) {
        size_t cap = c->caphost ? 2 * c->caphost : 8;
        void **p = (void **)realloc(c->host_ptr, cap * sizeof *p);
        if (p) c->host_ptr = p;
        size_t *l = p ? (size_t *)realloc(c->host_len, cap * sizeof *l) : NULL;
        if (l) c->host_len = l;
        if (!p || !l) { GP_FAIL(err, GP_ERR_NOMEM, "%s: cannot grow the table", what); return NULL; }
        c->caphost = cap;
    }
    void *p = NULL;
    cudaError_t e = cudaMallocHost(&p, bytes ? bytes : 1);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        gp_cuda_fail_rt(err, e, what, "cudaMallocHost", __func__, __FILE__, __LINE__);
        return NULL;
    }
    c->host_ptr[c->nhost] = p;
    c->host_len[c->nhost] = bytes;
    c->nhost++;
    return p;
}

static void cu_host_free(gp_backend *be, void *p)
{
    gp_cuda *c = gp_cuda_of(be);
    if (!p) return;
    for (size_t i = 0; i < c->nhost; i++)
        if (c->host_ptr[i] == p) {
            /* copies out of it may still be queued */
            if (cudaSetDevice(c->device) == cudaSuccess) {
                if (c->copy_stream) (void)cudaStreamSynchronize(c->copy_stream);
                (void)cudaStreamSynchronize(c->stream);
                (void)cudaFreeHost(p);
            }
            (void)cudaGetLastError();
            c->host_ptr[i] = c->host_ptr[c->nhost - 1];
            c->host_len[i] = c->host_len[c->nhost - 1];
            c->nhost--;
            return;
        }
}

static int cu_host_owns(gp_backend *be, const void *p, size_t bytes)
{
    gp_cuda *c = gp_cuda_of(be);
    const char *q = (const char *)p;
    for (size_t i = 0; i < c->nhost; i++) {
        const char *a = (const char *)c->host_ptr[i];
        if (q >= a && bytes <= c->host_len[i] && (size_t)(q - a) <= c->host_len[i] - bytes) return 1;
    }
    return 0;
}

/* The copy stream and the slots' events, created on first use. */
static int slots_ready(gp_cuda *c, gp_error *err)
{
    if (!c->copy_stream)
        GP_CU(err, "overlapped uploads: copy stream", cudaStreamCreateWithFlags, &c->copy_stream,
              cudaStreamNonBlocking);
    for (int s = 0; s < 2; s++) {
        if (!c->slot_free[s])
            GP_CU(err, "overlapped uploads: events", cudaEventCreateWithFlags, &c->slot_free[s],
                  cudaEventDisableTiming);
        if (!c->slot_ready[s])
            GP_CU(err, "overlapped uploads: events", cudaEventCreateWithFlags, &c->slot_ready[s],
                  cudaEventDisableTiming);
    }
    return GP_OK;
}

static int cu_slot_release(gp_backend *be, int s, gp_error *err)
{
    gp_cuda *c = gp_cuda_of(be);
    if (s < 0 || s > 1) return GP_FAIL(err, GP_ERR_ARG, "CUDA upload slot %d: must be 0 or 1", s);
    int st = gp_cuda_enter(c, "upload slot release", err);
    if (!st) st = slots_ready(c, err);
    if (st) return st;
    GP_CU(err, "upload slot release", cudaEventRecord, c->slot_free[s], c->stream);
    c->slot_released[s] = 1;
    return GP_OK;
}

/* The copy waits for the slot's last release (or, never released, for
 * everything queued so far); the compute stream waits for the copy. */
static int cu_upload_slot(gp_backend *be, int s, void *dst, const void *src, size_t bytes, gp_error *err)
{
    gp_cuda *c = gp_cuda_of(be);
    if (s < 0 || s > 1) return GP_FAIL(err, GP_ERR_ARG, "CUDA upload slot %d: must be 0 or 1", s);
    if (!bytes) return GP_OK;
    if (!dst || !src) return GP_FAIL(err, GP_ERR_ARG, "CUDA upload of %zu bytes: NULL pointer", bytes);
    int st = gp_cuda_enter(c, "upload", err);
    if (!st) st = slots_ready(c, err);
    if (st) return st;
    char what[80];
    snprintf(what, sizeof what, "overlapped upload of %zu bytes (slot %d)", bytes, s);
    int h = -1;
    for (int i = 0; i < 2; i++) {
        const char *p = (const char *)c->pinned[i];
        if (p && (const char *)src >= p && (const char *)src + bytes <= p + c->pinned_bytes[i]) h = i;
    }
    if (h < 0 && !cu_host_owns(be, src, bytes))
        return GP_FAIL(err, GP_ERR_ARG, "%s: the source is not page-locked memory of this backend", what);
    if (!c->slot_released[s]) GP_CU(err, what, cudaEventRecord, c->slot_free[s], c->stream);
    GP_CU(err, what, cudaStreamWaitEvent, c->copy_stream, c->slot_free[s], 0);
    GP_CU(err, what, cudaMemcpyAsync, dst, src, bytes, cudaMemcpyHostToDevice, c->copy_stream);
    GP_CU(err, what, cudaEventRecord, c->slot_ready[s], c->copy_stream);
    if (h >= 0) GP_CU(err, what, cudaEventRecord, c->pinned_done[h], c->copy_stream);
    GP_CU(err, what, cudaStreamWaitEvent, c->stream, c->slot_ready[s], 0);
    c->slot_released[s] = 0;
    return GP_OK;
}

/* A device -> host copy queued on the backend's stream. */
static int queue_download(gp_backend *be, void *dst, const void *src, size_t bytes, int wait, gp_error *err)
{
    gp_cuda *c = gp_cuda_of(be);
    if (!bytes) return GP_OK;
    if (!dst || !src) return GP_FAIL(err, GP_ERR_ARG, "CUDA download of %zu bytes: NULL pointer", bytes);
    int st = gp_cuda_enter(c, "download", err);
    if (st) return st;
    char what[64];
    snprintf(what, sizeof what, "%sdownload of %zu bytes", wait ? "" : "queued ", bytes);
    GP_CU(err, what, cudaMemcpyAsync, dst, src, bytes, cudaMemcpyDefault, c->stream);
    if (wait) GP_CU(err, what, cudaStreamSynchronize, c->stream);
    return GP_OK;
}

/* Device -> host: waits for the queued work and the copy. */
static int cu_download(gp_backend *be, void *dst, const void *src, size_t bytes, gp_error *err)
{
    return queue_download(be, dst, src, bytes, 1, err);
}

/* Device -> host, queued: returns at once (the copy runs beside the work
 * queued later when dst is page-locked; from pageable memory the driver
 * waits for it). */
static int cu_download_async(gp_backend *be, void *dst, const void *src, size_t bytes, gp_error *err)
{
    return queue_download(be, dst, src, bytes, 0, err);
}

static int cu_fence_record(gp_backend *be, int f, gp_error *err)
{
    gp_cuda *c = gp_cuda_of(be);
    if (f < 0 || f > 1) return GP_FAIL(err, GP_ERR_ARG, "CUDA fence %d: must be 0 or 1", f);
    int st = gp_cuda_enter(c, "fence", err);
    if (st) return st;
    if (!c->fence[f]) GP_CU(err, "fence", cudaEventCreateWithFlags, &c->fence[f], cudaEventDisableTiming);
    GP_CU(err, "fence", cudaEventRecord, c->fence[f], c->stream);
    return GP_OK;
}

static int cu_fence_wait(gp_backend *be, int f, gp_error *err)
{
    gp_cuda *c = gp_cuda_of(be);
    if (f < 0 || f > 1) return GP_FAIL(err, GP_ERR_ARG, "CUDA fence %d: must be 0 or 1", f);
    if (!c->fence[f]) return GP_OK;
    int st = gp_cuda_enter(c, "fence wait", err);
    if (st) return st;
    GP_CU(err, "fence wait", cudaEventSynchronize, c->fence[f]);
    return GP_OK;
}

static int cu_sync(gp_backend *be, gp_error *err)
{
    gp_cuda *c = gp_cuda_of(be);
    int st = gp_cuda_enter(c, "sync", err);
    if (st) return st;
    GP_CU(err, "sync", cudaStreamSynchronize, c->stream);
    return GP_OK;
}

static int mirror_copy(gp_cuda *c, const float *host, size_t n, void **out, gp_error *err)
{
    char what[64];
    snprintf(what, sizeof what, "mirror of %zu floats", n);
    int st = gp_cuda_enter(c, what, err);
    if (st) return st;
    if (!host && n) return GP_FAIL(err, GP_ERR_ARG, "CUDA %s: NULL host data", what);
    if (c->nmirrors == c->capmirrors) {
        size_t cap = c->capmirrors ? 2 * c->capmirrors : 256;
        void **m = (void **)realloc(c->mirrors, sizeof(void *) * cap);
        if (!m) return GP_FAIL(err, GP_ERR_NOMEM, "CUDA %s: cannot grow the mirror table", what);
        c->mirrors = m;
        c->capmirrors = cap;
    }
    void *d = NULL;
    GP_CU(err, what, device_malloc, c, &d, sizeof(float) * n);
    c->mirrors[c->nmirrors++] = d;  /* owned from here on, freed at close */
    /* on the backend's stream, so that kernels queued later see the data
     * (a plain cudaMemcpy from pageable memory may return before its DMA) */
    if (n && (st = copy_in(c, d, host, sizeof(float) * n, what, err))) return st;
    *out = d;
    return GP_OK;
}

static const float *cu_mirror(gp_backend *be, const float *host, size_t n, gp_error *err)
{
    void *d = NULL;
    if (mirror_copy(gp_cuda_of(be), host, n, &d, err)) return NULL;
    return (const float *)d;
}

int gp_cuda_workspace(gp_cuda *c, size_t bytes, const char *what, gp_error *err)
{
    if (bytes <= c->ws_bytes) return GP_OK;
    GP_CU(err, what, cudaStreamSynchronize, c->stream);  /* the old one may be in use */
    if (c->ws) (void)cudaFree(c->ws);
    c->ws = NULL;
    c->ws_bytes = 0;
    GP_CU(err, what, device_malloc, c, &c->ws, bytes);
    c->ws_bytes = bytes;
    return GP_OK;
}

/* ------------------------------------------------- host index arrays */

int gp_cuda_index(gp_cuda *c, const void *host, size_t bytes, const void **out,
                  const char *what, gp_error *err)
{
    *out = NULL;
    if (bytes == 0) return GP_OK;
    if (!host) return GP_FAIL(err, GP_ERR_ARG, "CUDA %s: NULL index array", what);
    gp_cuda_index_slot *s = NULL;
    for (int i = 0; i < GP_CUDA_INDEX_SLOTS; i++) {
        gp_cuda_index_slot *t = &c->index[i];
        if (t->bytes == bytes && memcmp(t->host, host, bytes) == 0) {
            t->used = ++c->clock;
            *out = t->dev;
            return GP_OK;
        }
        if (!s || t->used < s->used) s = t;
    }
    /* reuse the least recently used slot */
    s->bytes = 0;
    if (s->cap < bytes) {
        GP_CU(err, what, cudaStreamSynchronize, c->stream);  /* its buffers may be in use */
        if (s->host) (void)cudaFreeHost(s->host);
        if (s->dev) (void)cudaFree(s->dev);
        s->host = s->dev = NULL;
        s->cap = 0;
        size_t cap = bytes < 4096 ? 4096 : bytes + bytes / 2;
        GP_CU(err, what, cudaMallocHost, &s->host, cap);
        GP_CU(err, what, device_malloc, c, &s->dev, cap);
        s->cap = cap;
    } else if (s->copied) {
        /* the pinned buffer is free once its last copy has gone */
        GP_CU(err, what, cudaEventSynchronize, s->copied);
    }
    if (!s->copied) GP_CU(err, what, cudaEventCreateWithFlags, &s->copied, cudaEventDisableTiming);
    memcpy(s->host, host, bytes);
    GP_CU(err, what, cudaMemcpyAsync, s->dev, s->host, bytes, cudaMemcpyHostToDevice, c->stream);
    GP_CU(err, what, cudaEventRecord, s->copied, c->stream);
    s->bytes = bytes;
    s->used = ++c->clock;
    *out = s->dev;
    return GP_OK;
}

/* Small index arrays travel by value in the kernel's arguments. */
int gp_cuda_small_copy(const int *idx, int m, int limit, gp_cu_small *s, const char *what,
                      gp_error *err)
{
    memset(s, 0, sizeof *s);
    s->n = m;
    for (int k = 0; k < m; k++) {
        if (idx[k] < 0 || idx[k] >= limit)
            return GP_FAIL(err, GP_ERR_ARG, "CUDA %s: index %d = %d outside 0..%d", what, k, idx[k], limit - 1);
        if (k < GP_CU_SMALL) s->v[k] = idx[k];
    }
    return GP_OK;
}

#define TRY(x) do { int st_ = (x); if (st_) return st_; } while (0)

/* ------------------------------------------------- element operations */

static int cu_stretch(gp_backend *be, float *x, int n, int bands, int plane,
                      const float *soft, const float *offset, const float *scale, gp_error *err)
{
    gp_cuda *c = gp_cuda_of(be);
    if (n < 0 || bands < 1 || bands > GP_CU_SMALL || plane < 0)
        return GP_FAIL(err, GP_ERR_ARG, "CUDA stretch: invalid shape n=%d bands=%d (at most %d) plane=%d",
                       n, bands, GP_CU_SMALL, plane);
    gp_cu_stretch_par p;
    memset(&p, 0, sizeof p);
    for (int b = 0; b < bands; b++) {
        p.inv_soft[b] = 1.0f / soft[b];   /* as the CPU backend, in float */
        p.offset[b] = offset[b];
        p.inv_scale[b] = 1.0f / scale[b];
    }
    char what[80];
    snprintf(what, sizeof what, "stretch %dx%dx%d", n, bands, plane);
    TRY(gp_cuda_enter(c, what, err));
    return gp_cuda_k_stretch(c, x, (size_t)n * bands * (size_t)plane, bands, (size_t)plane, &p, what, err);
}

static int cu_normals(gp_backend *be, uint64_t seed, const uint64_t *gal_id,
                      const int *row_gal, const int *sample_idx, int rows,
                      int stream, int dim, float *out, gp_error *err)
{
    gp_cuda *c = gp_cuda_of(be);
    if (dim < 1 || dim > 4) return GP_FAIL(err, GP_ERR_ARG, "normals: dim %d outside 1..4", dim);
    if (rows < 0) return GP_FAIL(err, GP_ERR_ARG, "normals: %d rows", rows);
    if (rows == 0) return GP_OK;
    char what[80];
    snprintf(what, sizeof what, "normals %d rows x %d (stream %d)", rows, dim, stream);
    int ngal = 0;
    for (int r = 0; r < rows; r++) {
        if (row_gal[r] < 0) return GP_FAIL(err, GP_ERR_ARG, "CUDA %s: row %d maps to galaxy %d", what, r, row_gal[r]);
        if (row_gal[r] >= ngal) ngal = row_gal[r] + 1;
    }
    TRY(gp_cuda_enter(c, what, err));
    const void *d_id, *d_rg, *d_si;
    TRY(gp_cuda_index(c, gal_id, sizeof(uint64_t) * (size_t)ngal, &d_id, what, err));
    TRY(gp_cuda_index(c, row_gal, sizeof(int) * (size_t)rows, &d_rg, what, err));
    TRY(gp_cuda_index(c, sample_idx, sizeof(int) * (size_t)rows, &d_si, what, err));
    return gp_cuda_k_normals(c, seed, (const uint64_t *)d_id, (const int *)d_rg, (const int *)d_si,
                             rows, stream, dim, out, what, err);
}

static int cu_add_rows(gp_backend *be, float *Y, int rows, int n, const float *C,
                       const int *row_gal, gp_error *err)
{
    gp_cuda *c = gp_cuda_of(be);
    if (rows < 0 || n < 0) return GP_FAIL(err, GP_ERR_ARG, "add_rows: invalid shape %d x %d", rows, n);
    if (rows == 0 || n == 0) return GP_OK;
    char what[80];
    snprintf(what, sizeof what, "add_rows %d x %d", rows, n);
    TRY(gp_cuda_enter(c, what, err));
    const void *d_rg;
    TRY(gp_cuda_index(c, row_gal, sizeof(int) * (size_t)rows, &d_rg, what, err));
    return gp_cuda_k_add_rows(c, Y, rows, n, C, (const int *)d_rg, what, err);
}

static int cu_gather_cols(gp_backend *be, const float *X, int rows, int ncols,
                          const int *idx, int m, float *Y, gp_error *err)
{
    gp_cuda *c = gp_cuda_of(be);
    if (rows < 0 || ncols < 1 || m < 0)
        return GP_FAIL(err, GP_ERR_ARG, "gather_cols: invalid shape %d x %d -> %d", rows, ncols, m);
    if (rows == 0 || m == 0) return GP_OK;
    char what[80];
    snprintf(what, sizeof what, "gather_cols %d x %d -> %d", rows, ncols, m);
    gp_cu_small small;
    TRY(gp_cuda_small_copy(idx, m, ncols, &small, what, err));
    TRY(gp_cuda_enter(c, what, err));
    const void *d_idx = NULL;
    if (m > GP_CU_SMALL) TRY(gp_cuda_index(c, idx, sizeof(int) * (size_t)m, &d_idx, what, err));
    return gp_cuda_k_gather(c, X, rows, ncols, (const int *)d_idx, &small, m, Y, what, err);
}

static int cu_coupling(gp_backend *be, float *x, int rows, int dim, const int *tidx, int nt,
                       const float *st, float S, int dir, double *logdet, gp_error *err)
{
    gp_cuda *c = gp_cuda_of(be);
    if (dir != 1 && dir != -1) return GP_FAIL(err, GP_ERR_ARG, "coupling: direction %d", dir);
    if (rows < 0 || dim < 1 || nt < 0 || nt > dim)
        return GP_FAIL(err, GP_ERR_ARG, "coupling: invalid shape rows=%d dim=%d nt=%d", rows, dim, nt);
    if (rows == 0) return GP_OK;
    char what[80];
    snprintf(what, sizeof what, "coupling %d rows x %d (%d transformed, dir %d)", rows, dim, nt, dir);
    gp_cu_small small;
    TRY(gp_cuda_small_copy(tidx, nt, dim, &small, what, err));
    TRY(gp_cuda_enter(c, what, err));
    const void *d_idx = NULL;
    if (nt > GP_CU_SMALL) TRY(gp_cuda_index(c, tidx, sizeof(int) * (size_t)nt, &d_idx, what, err));
    return gp_cuda_k_coupling(c, x, rows, dim, (const int *)d_idx, &small, nt, st, S, dir, logdet, what, err);
}

static int cu_add(gp_backend *be, const float *X, const float *Z, size_t n, float *Y, gp_error *err)
{
    gp_cuda *c = gp_cuda_of(be);
    TRY(gp_cuda_enter(c, "add", err));
    return gp_cuda_k_add(c, X, Z, n, Y, "add", err);
}

static int cu_flag_nonfinite(gp_backend *be, const float *x, int n, size_t per, int *flags, gp_error *err)
{
    gp_cuda *c = gp_cuda_of(be);
    if (n < 0 || per < 1) return GP_FAIL(err, GP_ERR_ARG, "flag_nonfinite: %d images of %zu values", n, per);
    char what[64];
    snprintf(what, sizeof what, "flag_nonfinite %d x %zu", n, per);
    TRY(gp_cuda_enter(c, what, err));
    return gp_cuda_k_flag_nonfinite(c, x, (size_t)n * per, per, flags, what, err);
}

static int cu_exp_half(gp_backend *be, const float *X, size_t n, float *Y, gp_error *err)
{
    gp_cuda *c = gp_cuda_of(be);
    TRY(gp_cuda_enter(c, "exp_half", err));
    return gp_cuda_k_exp_half(c, X, n, Y, "exp_half", err);
}

static int cu_activate(gp_backend *be, float *x, size_t n, gp_act act, float slope, gp_error *err)
{
    gp_cuda *c = gp_cuda_of(be);
    TRY(gp_cuda_enter(c, "activate", err));
    return gp_cuda_k_activate(c, x, n, act, slope, "activate", err);
}

/* ------------------------------------------------------ open / close */

static void cu_close(gp_backend *be)
{
    gp_cuda *c = gp_cuda_of(be);
    if (!c) return;
    if (cudaSetDevice(c->device) == cudaSuccess) {
        if (c->stream) (void)cudaStreamSynchronize(c->stream);
        gp_cuda_plans_free(c);
        gp_cuda_train_free(c);
        for (size_t i = 0; i < c->nmirrors; i++) (void)cudaFree(c->mirrors[i]);
        if (c->ws) (void)cudaFree(c->ws);
        if (c->copy_stream) (void)cudaStreamSynchronize(c->copy_stream);
        for (int h = 0; h < 2; h++) {
            if (c->pinned[h]) (void)cudaFreeHost(c->pinned[h]);
            if (c->pinned_done[h]) (void)cudaEventDestroy(c->pinned_done[h]);
            if (c->slot_free[h]) (void)cudaEventDestroy(c->slot_free[h]);
            if (c->slot_ready[h]) (void)cudaEventDestroy(c->slot_ready[h]);
            if (c->fence[h]) (void)cudaEventDestroy(c->fence[h]);
        }
        /* callers' page-locked memory not freed by them */
        for (size_t i = 0; i < c->nhost; i++) (void)cudaFreeHost(c->host_ptr[i]);
        if (c->copy_stream) (void)cudaStreamDestroy(c->copy_stream);
        for (int i = 0; i < GP_CUDA_INDEX_SLOTS; i++) {
            gp_cuda_index_slot *s = &c->index[i];
            if (s->host) (void)cudaFreeHost(s->host);
            if (s->dev) (void)cudaFree(s->dev);
            if (s->copied) (void)cudaEventDestroy(s->copied);
        }
        if (c->blas) (void)cublasDestroy(c->blas);
        if (c->dnn) (void)cudnnDestroy(c->dnn);
        /* allocations still out are released with their last free */
        if (c->pool) (void)cudaMemPoolDestroy(c->pool);
        if (c->stream) (void)cudaStreamDestroy(c->stream);
        (void)cudaGetLastError();
    }
    free(c->mirrors);
    free(c->host_ptr);
    free(c->host_len);
    free(c);
    be->impl = NULL;
}

static gp_backend_ops make_ops(void)
{
    gp_backend_ops o;
    memset(&o, 0, sizeof o);
    o.name = "cuda";
    o.alloc = cu_alloc;
    o.free = cu_free;
    o.upload = cu_upload;
    o.download = cu_download;
    o.sync = cu_sync;
    o.mirror = cu_mirror;
    o.dense = gp_cuda_dense;
    o.conv2d = gp_cuda_conv2d;
    o.conv_transpose2d = gp_cuda_conv_transpose2d;
    o.stretch = cu_stretch;
    o.normals = cu_normals;
    o.add_rows = cu_add_rows;
    o.gather_cols = cu_gather_cols;
    o.coupling = cu_coupling;
    o.add = cu_add;
    o.activate = cu_activate;
    o.close = cu_close;
    o.exp_half = cu_exp_half;
    o.flag_nonfinite = cu_flag_nonfinite;
    o.host_staging = cu_host_staging;
    o.host_alloc = cu_host_alloc;
    o.host_free = cu_host_free;
    o.host_owns = cu_host_owns;
    o.slot_release = cu_slot_release;
    o.upload_slot = cu_upload_slot;
    o.download_async = cu_download_async;
    o.fence_record = cu_fence_record;
    o.fence_wait = cu_fence_wait;
    o.member_sample = gp_cuda_member_sample;
    o.member_sample_fits = gp_cuda_member_sample_fits;
    /* training */
    o.zero = gp_cuda_zero;
    o.dense_backward = gp_cuda_dense_backward;
    o.act_backward = gp_cuda_act_backward;
    o.conv2d_backward = gp_cuda_conv2d_backward;
    o.conv_transpose2d_backward = gp_cuda_conv_transpose2d_backward;
    o.reparam = gp_cuda_reparam;
    o.reparam_backward = gp_cuda_reparam_backward;
    o.kl_normal = gp_cuda_kl_normal;
    o.coupling_backward = gp_cuda_coupling_backward;
    o.mse = gp_cuda_mse;
    o.bce_logits = gp_cuda_bce_logits;
    o.normal_nll = gp_cuda_normal_nll;
    o.copy_cols = gp_cuda_copy_cols;
    o.axpby = gp_cuda_axpby;
    o.adam = gp_cuda_adam;
    o.sumsq = gp_cuda_sumsq;
    return o;
}

static const gp_backend_ops cuda_ops = make_ops();

static int env_flag(const char *name)
{
    const char *v = getenv(name);
    return v && strcmp(v, "1") == 0;
}

static int cuda_init(gp_backend *be, gp_cuda *c, gp_error *err)
{
    char what[64];
    snprintf(what, sizeof what, "open of device %d", c->device);
    GP_CU(err, what, cudaSetDevice, c->device);
    cudaDeviceProp prop;
    GP_CU(err, what, cudaGetDeviceProperties, &prop, c->device);
    size_t free_b = 0, total_b = 0;
    GP_CU(err, what, cudaMemGetInfo, &free_b, &total_b);
    GP_CU(err, what, cudaStreamCreateWithFlags, &c->stream, cudaStreamNonBlocking);
    int pools = 0;
    GP_CU(err, what, cudaDeviceGetAttribute, &pools, cudaDevAttrMemoryPoolsSupported, c->device);
    if (pools) {
        /* optional: without a pool, alloc() falls back to cudaMalloc */
        cudaMemPoolProps props;
        memset(&props, 0, sizeof props);
        props.allocType = cudaMemAllocationTypePinned;
        props.handleTypes = cudaMemHandleTypeNone;
        props.location.type = cudaMemLocationTypeDevice;
        props.location.id = c->device;
        uint64_t keep = UINT64_MAX;  /* keep freed memory for the next chunk */
        if (cudaMemPoolCreate(&c->pool, &props) != cudaSuccess) c->pool = NULL;
        else if (cudaMemPoolSetAttribute(c->pool, cudaMemPoolAttrReleaseThreshold, &keep) != cudaSuccess) {
            (void)cudaMemPoolDestroy(c->pool);
            c->pool = NULL;
        }
        (void)cudaGetLastError();
    }
    c->tf32 = env_flag("GP_CUDA_TF32");
    const char *algo = getenv("GP_CUDA_CONV_ALGO");
    c->find_algo = !(algo && strcmp(algo, "heuristic") == 0);
    const char *occ = getenv("GP_CUDA_FLOW_OCC");
    c->flow_occ3 = occ && strcmp(occ, "3") == 0;
    const char *el = getenv("GP_CUDA_ELEM");
    c->elem_generic = el && strcmp(el, "generic") == 0;
    GP_CUBLAS(err, what, cublasCreate, &c->blas);
    GP_CUBLAS(err, what, cublasSetStream, c->blas, c->stream);
    GP_CUBLAS(err, what, cublasSetMathMode, c->blas,
              c->tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH);
    GP_CUDNN(err, what, cudnnCreate, &c->dnn);
    GP_CUDNN(err, what, cudnnSetStream, c->dnn, c->stream);

    /* inference chunks sized from the free memory, a quarter of it at most */
    long chunk = (long)(free_b / 4 / GP_CUDA_BYTES_PER_GALAXY);
    const char *ch = getenv("GP_CUDA_CHUNK");
    if (ch && atol(ch) > 0) chunk = atol(ch);
    if (chunk < 64) chunk = 64;
    /* at most 1024: a batch of several chunks overlaps one chunk's host
     * summaries with the next chunk's GPU work (gp_infer) */
    if (chunk > 1024) chunk = 1024;
    be->chunk_galaxies = (int)chunk;
    be->chunk_rows = (int)(chunk * 1000 < (1L << 22) ? chunk * 1000 : (1L << 22));
    snprintf(be->description, sizeof be->description, "cuda:%d (%.60s, %.1f GiB%s)", c->device,
             prop.name, (double)total_b / (1024.0 * 1024.0 * 1024.0), c->tf32 ? ", TF32" : "");
    return GP_OK;
}

int gp_backend_open_cuda(int device, gp_backend **out, gp_error *err)
{
    if (!out) return GP_FAIL(err, GP_ERR_ARG, "gp_backend_open_cuda: NULL output");
    *out = NULL;
    if (device < 0) return GP_FAIL(err, GP_ERR_ARG, "CUDA device %d: the ordinal must be >= 0", device);
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        return GP_FAIL(err, GP_ERR_BACKEND, "no usable CUDA device: cudaGetDeviceCount failed: %s (%s)",
                       cudaGetErrorString(e), cudaGetErrorName(e));
    }
    if (count < 1) return GP_FAIL(err, GP_ERR_BACKEND, "no CUDA device present");
    if (device >= count)
        return GP_FAIL(err, GP_ERR_BACKEND, "CUDA device %d requested but only %d device%s present",
                       device, count, count == 1 ? " is" : "s are");
    gp_backend *be = (gp_backend *)calloc(1, sizeof *be);
    gp_cuda *c = (gp_cuda *)calloc(1, sizeof *c);
    if (!be || !c) {
        free(be);
        free(c);
        return GP_FAIL(err, GP_ERR_NOMEM, "cannot allocate the CUDA backend");
    }
    be->ops = &cuda_ops;
    be->threads = 1;
    be->device = device;
    be->impl = c;
    c->device = device;
    int st = cuda_init(be, c, err);
    if (st) {
        cu_close(be);
        free(be);
        return st;
    }
    *out = be;
    return GP_OK;
}
