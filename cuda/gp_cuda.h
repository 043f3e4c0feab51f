/*
 * gp_cuda.h: state and internal functions of the CUDA backend (C++ under
 * nvcc only; the engine never includes a CUDA header).
 *
 *   gp_cuda_backend.cu  open/close, memory, copies, host index arrays,
 *                       the operation table
 *   gp_cuda_kernels.cu  element-wise kernels (bodies in gp_cuda_elem.h)
 *   gp_cuda_dnn.cu      dense layers (cuBLAS) and convolutions (cuDNN),
 *                       forward and backward
 *   gp_cuda_flows.cu    member_sample: a member's flows fused in one kernel
 *   gp_cuda_train.cu    the training operations other than the backward
 *                       passes of dense layers and convolutions: element-wise
 *                       kernels and the losses' deterministic reductions
 *
 * All work goes to one stream per backend, so operations are ordered and
 * the host waits only in download(), sync(), fence_wait() and for buffers
 * it refills (staging, index slots).  Every CUDA, cuBLAS and cuDNN status
 * is checked; a failure becomes GP_ERR_BACKEND with the
 * library's message, the operation and its shape.  A backend is used by one
 * host thread at a time (like the model that owns it).
 */
#ifndef GALPOST_GP_CUDA_H
#define GALPOST_GP_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime.h>
#include <cublas_v2.h>
#include <cudnn.h>

#include "gp_cuda_elem.h"

/* Host index arrays staged to the device (see gp_cuda_index). */
#define GP_CUDA_INDEX_SLOTS 16   /* gp_infer stages 2K + 1 arrays a chunk (K members) */
/* Convolution plans kept (descriptors + algorithm per shape and direction):
 * a training step of the VAE alone uses 17. */
#define GP_CUDA_CONV_PLANS  64
/* Blocks of the first pass of a reduction (gp_cuda_train.cu). */
#define GP_CUDA_RED_BLOCKS  1024

/* What a convolution plan runs, on the geometry of `transpose`: the
 * forward convolution, its data gradient (the adjoint) or its filter
 * gradient. */
enum { GP_CUDA_CONV_FWD = 0, GP_CUDA_CONV_BWD_DATA = 1, GP_CUDA_CONV_BWD_FILTER = 2 };

typedef struct gp_cuda_index_slot {
    void        *host;     /* pinned copy of the last contents */
    void        *dev;      /* device copy */
    size_t       cap;      /* bytes allocated in both */
    size_t       bytes;    /* bytes of the last contents */
    cudaEvent_t  copied;   /* recorded after the last host -> device copy */
    unsigned long long used;
} gp_cuda_index_slot;

typedef struct gp_cuda_conv_plan {
    int    valid;
    int    key[12];        /* transpose, n, cin, h, w, cout, k, stride, pad, tf32, kind,
                              find (1: algorithm timed by cudnnFind, 0: heuristics) */
    cudnnTensorDescriptor_t      in, out;
    cudnnFilterDescriptor_t      filter;
    cudnnConvolutionDescriptor_t conv;
    int    algo;           /* cudnnConvolutionFwdAlgo_t, ...BwdDataAlgo_t or ...BwdFilterAlgo_t */
    size_t workspace;      /* bytes */
    unsigned long long used;
} gp_cuda_conv_plan;

typedef struct gp_cuda {
    int            device;
    int            tf32;          /* GP_CUDA_TF32=1: TF32 tensor cores allowed */
    int            find_algo;     /* 1: cudnnFind (benchmark), 0: heuristics */
    int            flow_occ3;     /* GP_CUDA_FLOW_OCC=3: the flow kernel at 3 blocks an SM */
    int            elem_generic;  /* GP_CUDA_ELEM=generic: bias/activation and stretch by the
                                     element-wise kernels, not one block a plane (benchmarks) */
    cudaStream_t   stream;
    cublasHandle_t blas;
    cudnnHandle_t  dnn;
    cudaMemPool_t  pool;          /* stream-ordered allocations, or NULL */
    /* mirrored constants, freed at close */
    void         **mirrors;
    size_t         nmirrors, capmirrors;
    /* convolution workspace */
    void          *ws;
    size_t         ws_bytes;
    gp_cuda_index_slot index[GP_CUDA_INDEX_SLOTS];
    gp_cuda_conv_plan  plans[GP_CUDA_CONV_PLANS];
    /* page-locked upload staging (host_staging): two buffers used in turn,
     * each with the event recorded after the last copy out of it */
    void          *pinned[2];
    size_t         pinned_bytes[2];
    cudaEvent_t    pinned_done[2];
    int            pinned_next;
    /* overlapped uploads (upload_slot): a copy stream; per slot the event
     * of its last release (on `stream`) and of its last copy (on
     * `copy_stream`) */
    cudaStream_t   copy_stream;
    cudaEvent_t    slot_free[2], slot_ready[2];
    int            slot_released[2];
    /* fences (fence_record / fence_wait), created on first use */
    cudaEvent_t    fence[2];
    /* callers' page-locked memory (host_alloc) */
    void         **host_ptr;
    size_t        *host_len;
    size_t         nhost, caphost;
    /* reductions of the losses: GP_CUDA_RED_BLOCKS + 1 device doubles and
     * one pinned host double, allocated on first use */
    double        *red, *red_host;
    unsigned long long clock;
} gp_cuda;

static inline gp_cuda *gp_cuda_of(gp_backend *be) { return (gp_cuda *)be->impl; }

/* ---- error reporting: `what` names the operation and its shape ---- */

int gp_cuda_fail_rt(gp_error *err, cudaError_t e, const char *what, const char *call,
                    const char *func, const char *file, int line);
int gp_cuda_fail_blas(gp_error *err, cublasStatus_t s, const char *what, const char *call,
                      const char *func, const char *file, int line);
int gp_cuda_fail_dnn(gp_error *err, cudnnStatus_t s, const char *what, const char *call,
                     const char *func, const char *file, int line);

/* GP_CU(err, what, cudaFn, args...): call, and on failure return GP_ERR_BACKEND. */
#define GP_CU(err, what, fn, ...) do { cudaError_t e_ = fn(__VA_ARGS__); \
    if (e_ != cudaSuccess) return gp_cuda_fail_rt((err), e_, (what), #fn, __func__, __FILE__, __LINE__); } while (0)
#define GP_CUBLAS(err, what, fn, ...) do { cublasStatus_t s_ = fn(__VA_ARGS__); \
    if (s_ != CUBLAS_STATUS_SUCCESS) return gp_cuda_fail_blas((err), s_, (what), #fn, __func__, __FILE__, __LINE__); } while (0)
#define GP_CUDNN(err, what, fn, ...) do { cudnnStatus_t s_ = fn(__VA_ARGS__); \
    if (s_ != CUDNN_STATUS_SUCCESS) return gp_cuda_fail_dnn((err), s_, (what), #fn, __func__, __FILE__, __LINE__); } while (0)
/* After a kernel launch. */
#define GP_CU_LAUNCHED(err, what) do { cudaError_t e_ = cudaGetLastError(); \
    if (e_ != cudaSuccess) return gp_cuda_fail_rt((err), e_, (what), "kernel launch", __func__, __FILE__, __LINE__); } while (0)

/* Make the backend's device current in the calling thread. */
int gp_cuda_enter(gp_cuda *c, const char *what, gp_error *err);

/* *out = a device copy of `bytes` of host index data (row_gal, sample_idx,
 * gal_id, idx, ...), valid for work queued on the backend's stream until its
 * slot is reused (after GP_CUDA_INDEX_SLOTS further distinct arrays).
 * Contents equal to a staged array are not copied again.  bytes = 0 gives
 * *out = NULL.  GP_OK, GP_ERR_ARG or GP_ERR_BACKEND. */
int gp_cuda_index(gp_cuda *c, const void *host, size_t bytes, const void **out,
                  const char *what, gp_error *err);

/* Device scratch of at least `bytes` for convolutions. */
int gp_cuda_workspace(gp_cuda *c, size_t bytes, const char *what, gp_error *err);

/* ---- kernels (gp_cuda_kernels.cu); pointers are device memory ---- */

typedef struct gp_cu_small { int n; int v[GP_CU_SMALL]; } gp_cu_small;
/* s = idx[0..m-1] (the first GP_CU_SMALL of them, all checked to lie in
 * 0..limit-1): GP_OK or GP_ERR_ARG. */
int gp_cuda_small_copy(const int *idx, int m, int limit, gp_cu_small *s, const char *what,
                       gp_error *err);
typedef struct gp_cu_stretch_par {
    float inv_soft[GP_CU_SMALL], offset[GP_CU_SMALL], inv_scale[GP_CU_SMALL];
} gp_cu_stretch_par;

int gp_cuda_k_bias_act(gp_cuda *c, float *y, size_t n, int channels, size_t plane,
                       const float *b, gp_act act, float slope, const char *what, gp_error *err);
int gp_cuda_k_stretch(gp_cuda *c, float *x, size_t n, int bands, size_t plane,
                      const gp_cu_stretch_par *p, const char *what, gp_error *err);
int gp_cuda_k_normals(gp_cuda *c, uint64_t seed, const uint64_t *gal_id, const int *row_gal,
                      const int *sample_idx, int rows, int stream, int dim, float *out,
                      const char *what, gp_error *err);
int gp_cuda_k_add_rows(gp_cuda *c, float *Y, int rows, int n, const float *C,
                       const int *row_gal, const char *what, gp_error *err);
/* idx: device array, or NULL with the indices in `small` */
int gp_cuda_k_gather(gp_cuda *c, const float *X, int rows, int ncols, const int *idx,
                     const gp_cu_small *small, int m, float *Y, const char *what, gp_error *err);
int gp_cuda_k_coupling(gp_cuda *c, float *x, int rows, int dim, const int *tidx,
                       const gp_cu_small *small, int nt, const float *st, float S, int dir,
                       double *logdet, const char *what, gp_error *err);
int gp_cuda_k_add(gp_cuda *c, const float *X, const float *Z, size_t n, float *Y,
                  const char *what, gp_error *err);
int gp_cuda_k_flag_nonfinite(gp_cuda *c, const float *x, size_t n, size_t per, int *flags,
                             const char *what, gp_error *err);
int gp_cuda_k_exp_half(gp_cuda *c, const float *X, size_t n, float *Y, const char *what,
                       gp_error *err);
int gp_cuda_k_activate(gp_cuda *c, float *x, size_t n, gp_act act, float slope,
                       const char *what, gp_error *err);

/* ---- cuBLAS / cuDNN (gp_cuda_dnn.cu) ---- */

int gp_cuda_dense(gp_backend *be, const float *X, int rows, int in, const float *W,
                  const float *b, int out, gp_act act, float slope, float *Y, gp_error *err);
int gp_cuda_conv2d(gp_backend *be, const float *X, int n, int cin, int h, int w,
                   const float *W, const float *b, int cout, int k, int stride, int pad,
                   gp_act act, float slope, float *Y, gp_error *err);
int gp_cuda_conv_transpose2d(gp_backend *be, const float *X, int n, int cin, int h, int w,
                             const float *W, const float *b, int cout, int k, int stride,
                             int pad, gp_act act, float slope, float *Y, gp_error *err);
int gp_cuda_dense_backward(gp_backend *be, const float *X, int rows, int in, const float *W,
                           int out, const float *dY, float *dX, float *dW, float *db, gp_error *err);
int gp_cuda_conv2d_backward(gp_backend *be, const float *X, int n, int cin, int h, int w,
                            const float *W, int cout, int k, int stride, int pad,
                            const float *dY, float *dX, float *dW, float *db, gp_error *err);
int gp_cuda_conv_transpose2d_backward(gp_backend *be, const float *X, int n, int cin, int h,
                                      int w, const float *W, int cout, int k, int stride,
                                      int pad, const float *dY, float *dX, float *dW, float *db,
                                      gp_error *err);
/* Release the convolution plans. */
void gp_cuda_plans_free(gp_cuda *c);

/* ---- member_sample (gp_cuda_flows.cu), see gp_backend.h ---- */

struct gp_net;
int gp_cuda_member_sample_fits(gp_backend *be, const struct gp_net *net, int k);
int gp_cuda_member_sample(gp_backend *be, const struct gp_net *net, int k, uint64_t seed,
                          const uint64_t *gal_id, const int *row_gal, const int *sample_idx, int rows,
                          const float *trunk, const float *head, const float *lhead, int ngal,
                          float *core, float *oh, float *line, gp_error *err);

/* ---- training operations (gp_cuda_train.cu), see gp_backend.h ---- */

/* db[c] += sum over images i and positions q of dY[(i * channels + c) * plane + q],
 * summed in a fixed order in double (dense layers: plane 1). */
int gp_cuda_k_channel_sums(gp_cuda *c, const float *dY, int n, int channels, size_t plane,
                           float *db, const char *what, gp_error *err);
/* Release the reduction buffers. */
void gp_cuda_train_free(gp_cuda *c);

int gp_cuda_zero(gp_backend *be, void *x, size_t bytes, gp_error *err);
int gp_cuda_act_backward(gp_backend *be, const float *Y, const float *dY, size_t n, gp_act act,
                         float slope, float *dX, gp_error *err);
int gp_cuda_reparam(gp_backend *be, const float *mu, const float *logvar, const float *eps,
                    size_t n, float *z, gp_error *err);
int gp_cuda_reparam_backward(gp_backend *be, const float *logvar, const float *eps,
                             const float *dz, size_t n, float *dmu, float *dlogvar, gp_error *err);
int gp_cuda_kl_normal(gp_backend *be, const float *mu, const float *logvar, size_t n,
                      double weight, double *loss, float *dmu, float *dlogvar, gp_error *err);
int gp_cuda_coupling_backward(gp_backend *be, const float *x, int rows, int dim, const int *tidx,
                              int nt, const float *st, float S, const float *ld_weight, float *dy,
                              float *dst, gp_error *err);
int gp_cuda_mse(gp_backend *be, const float *P, const float *T, const float *mask, int rows,
                int dim, double w, double *loss, float *dP, gp_error *err);
int gp_cuda_bce_logits(gp_backend *be, const float *logit, const float *y, const float *mask,
                       int rows, double w, double *loss, float *dlogit, gp_error *err);
int gp_cuda_normal_nll(gp_backend *be, const float *z, const float *mask, int rows, int dim,
                       double w, double *loss, float *dz, gp_error *err);
int gp_cuda_copy_cols(gp_backend *be, const float *X, int rows, int xcols, int xoff, float *Y,
                      int ycols, int yoff, int m, int accumulate, gp_error *err);
int gp_cuda_axpby(gp_backend *be, float a, const float *X, float b, const float *Z, size_t n,
                  float *Y, gp_error *err);
int gp_cuda_adam(gp_backend *be, float *w, const float *g, float *m, float *v, size_t n, float lr,
                 float b1, float b2, float eps, long t, gp_error *err);
int gp_cuda_sumsq(gp_backend *be, const float *x, size_t n, double *out, gp_error *err);

#endif
