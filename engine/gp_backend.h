/*
 * gp_backend.h: the compute backend interface (internal).
 *
 * The model code (gp_net_*.c) sees only this table of operations, in the
 * manner of ggml's backends: the CPU backend (engine/cpu/) is always built
 * and is the reference; the CUDA backend (cuda/) implements the same table.
 * Buffers passed to the operations are backend memory obtained from
 * ops->alloc(); host data cross with upload/download.  Every operation
 * returns a gp_status and fills the error record; none aborts.
 *
 * Index arrays (gal_id, row_gal, sample_idx, idx, tidx) and the stretch
 * parameters (soft, offset, scale) are always host memory; a device backend
 * copies them itself.  coupling()'s logdet is backend memory.  Constant data (weights)
 * reach the backend once, through ops->mirror().
 *
 * Shapes use row-major (C) order.  Dense weights are [out x in] like
 * PyTorch's nn.Linear; convolution weights are [Cout x Cin x k x k] and
 * transposed-convolution weights [Cin x Cout x k x k] like PyTorch.
 */
#ifndef GALPOST_GP_BACKEND_H
#define GALPOST_GP_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "galpost/gp_error.h"

typedef enum gp_act {
    GP_ACT_NONE = 0,
    GP_ACT_RELU,
    GP_ACT_LEAKY_RELU,  /* slope taken from the call */
    GP_ACT_TANH,
    GP_ACT_SIGMOID
} gp_act;

typedef struct gp_backend gp_backend;
struct gp_net;

/* One convolution of a stack (ops->conv_stack): weights [cout x cin x k x k]. */
typedef struct gp_conv_layer {
    int cin, cout, k, stride, pad;
    const float *W, *b;
} gp_conv_layer;

typedef struct gp_backend_ops {
    const char *name;

    /* memory */
    void *(*alloc)(gp_backend *be, size_t bytes);            /* NULL on failure */
    void  (*free)(gp_backend *be, void *p);
    int   (*upload)(gp_backend *be, void *dst, const void *src, size_t bytes, gp_error *err);
    int   (*download)(gp_backend *be, void *dst, const void *src, size_t bytes, gp_error *err);
    int   (*sync)(gp_backend *be, gp_error *err);
    /* A backend pointer holding a copy of n constant host floats, owned by
     * the backend until close (the CPU backend returns `host` itself). */
    const float *(*mirror)(gp_backend *be, const float *host, size_t n, gp_error *err);

    /* Y[rows x out] = act(X[rows x in] * W[out x in]^T + b[out]); b may be NULL. */
    int (*dense)(gp_backend *be, const float *X, int rows, int in,
                 const float *W, const float *b, int out, gp_act act,
                 float slope, float *Y, gp_error *err);

    /* Y[n x Cout x Ho x Wo] = act(conv2d(X[n x Cin x H x W], W) + b), with
     * Ho = (H + 2p - k)/s + 1. */
    int (*conv2d)(gp_backend *be, const float *X, int n, int cin, int h, int w,
                  const float *W, const float *b, int cout, int k, int stride,
                  int pad, gp_act act, float slope, float *Y, gp_error *err);

    /* Transposed convolution (the adjoint of conv2d), Ho = (H-1)s - 2p + k. */
    int (*conv_transpose2d)(gp_backend *be, const float *X, int n, int cin,
                            int h, int w, const float *W, const float *b,
                            int cout, int k, int stride, int pad, gp_act act,
                            float slope, float *Y, gp_error *err);

    /* In place y = (asinh(x / soft[c]) - offset[c]) / scale[c] over n images of
     * `bands` planes of `plane` pixels. */
    int (*stretch)(gp_backend *be, float *x, int n, int bands, int plane,
                   const float *soft, const float *offset, const float *scale,
                   gp_error *err);

    /* Standard normals for rows of samples: out[r*dim + d] is normal d of
     * sample sample_idx[r] of galaxy gal_id[row_gal[r]] in `stream`
     * (gp_rng.h), dim <= 4. */
    int (*normals)(gp_backend *be, uint64_t seed, const uint64_t *gal_id,
                   const int *row_gal, const int *sample_idx, int rows,
                   int stream, int dim, float *out, gp_error *err);

    /* Y[r x n] += C[row_gal[r] x n]: add a per-galaxy row to every sample row. */
    int (*add_rows)(gp_backend *be, float *Y, int rows, int n, const float *C,
                    const int *row_gal, gp_error *err);

    /* Gather columns: Y[r x m] = X[r x ncols][:, idx[0..m-1]]. */
    int (*gather_cols)(gp_backend *be, const float *X, int rows, int ncols,
                       const int *idx, int m, float *Y, gp_error *err);

    /* Affine coupling step on x[rows x dim] at the transformed columns
     * tidx[0..nt-1], with st[rows x 2nt] = [s_raw | t] and s = S tanh(s_raw/S):
     * dir = +1: x_t = x_t * exp(s) + t  (forward, data -> base);
     * dir = -1: x_t = (x_t - t) * exp(-s) (inverse, base -> data).
     * logdet (double, may be NULL) accumulates +sum(s) for dir = +1 and
     * -sum(s) for dir = -1. */
    int (*coupling)(gp_backend *be, float *x, int rows, int dim,
                    const int *tidx, int nt, const float *st, float S, int dir,
                    double *logdet, gp_error *err);

    /* Y = X + Z elementwise (n values). */
    int (*add)(gp_backend *be, const float *X, const float *Z, size_t n,
               float *Y, gp_error *err);

    /* In place x[i] = act(x[i]) over n values. */
    int (*activate)(gp_backend *be, float *x, size_t n, gp_act act, float slope,
                    gp_error *err);

    /* Release backend state (may be NULL). */
    void (*close)(gp_backend *be);

    /* Y[i] = exp(0.5 X[i]) (sigma from the log-variance). */
    int (*exp_half)(gp_backend *be, const float *X, size_t n, float *Y,
                    gp_error *err);

    /* Optional, may be NULL (the model code then calls conv2d per layer).
     * A stack of nconv convolutions, each followed by act (slope for
     * LeakyReLU): X [n x layer[0].cin x h x w] -> Y [n x Cout x Ho x Wo]
     * (NCHW), the values conv2d gives layer by layer up to the order of
     * the sums.  The CPU backend runs it image by image in cache. */
    int (*conv_stack)(gp_backend *be, const float *X, int n, int h, int w,
                      int nconv, const gp_conv_layer *layer, gp_act act,
                      float slope, float *Y, gp_error *err);

    /* Optional, may be NULL (gp_infer then composes normals, the flows and
     * add_rows).  Posterior sampling of ensemble member k for `rows` sample
     * rows (row r: sample sample_idx[r] of galaxy row_gal[r], whose id is
     * gal_id[row_gal[r]]): Philox base noise (gp_rng.h) -> core flow ->
     * + head[:, 0:4] -> O/H flow conditioned on those -> + head[:, 4] ->
     * line flow -> + lhead, giving the standardized core [rows x 4],
     * oh [rows] and line [rows x 4].  trunk [ngal x T], head [ngal x 5] and
     * lhead [ngal x 4] are the member's per-galaxy outputs.  The values are
     * the composed path's up to the order of the sums. */
    int (*member_sample)(gp_backend *be, const struct gp_net *net, int k, uint64_t seed,
                         const uint64_t *gal_id, const int *row_gal, const int *sample_idx,
                         int rows, const float *trunk, const float *head, const float *lhead,
                         int ngal, float *core, float *oh, float *line, gp_error *err);
    /* Optional, may be NULL (member_sample then takes every net).  1 when
     * member_sample runs member k of net, 0 when the caller must compose
     * the flows (the CUDA backend's fused kernel takes conditioners of
     * one width and depth only). */
    int (*member_sample_fits)(gp_backend *be, const struct gp_net *net, int k);

    /* Optional, may be NULL.  A page-locked host buffer of at least `bytes`
     * owned by the backend, from which upload() copies fastest (a GPU's
     * DMA engine reads it directly, with no staging copy by the driver).
     * Calls return two buffers in turn, each once the uploads from it
     * have finished (upload() from it returns at once, the copy ordered
     * before the work queued after it): fill one while the other's copy is
     * in flight.  A buffer is valid until the next-but-one call or close.
     * NULL with *err filled when it cannot be had: the caller then uploads
     * from its own memory. */
    void *(*host_staging)(gp_backend *be, size_t bytes, gp_error *err);

    /* Optional, may be NULL (gp_infer then scans every pixel on the host
     * before inference).  flags[g] = 1 (backend int memory, zeroed by the
     * caller) for each image g < n of x [n x per] holding an inf or a NaN;
     * the others' flags are left as they are. */
    int (*flag_nonfinite)(gp_backend *be, const float *x, int n, size_t per, int *flags, gp_error *err);

    /* Optional, may be NULL (all three or none).  Host memory that callers
     * keep their inputs in (gp_cutouts_alloc) and that upload() and
     * upload_slot() read directly, page-locked for a GPU: host_alloc()
     * returns at least `bytes` of it, or NULL with *err filled;
     * host_free() releases it; host_owns() is 1 when [p, p + bytes) lies
     * inside one such allocation (an address range check, no driver
     * call), else 0. */
    void *(*host_alloc)(gp_backend *be, size_t bytes, gp_error *err);
    void  (*host_free)(gp_backend *be, void *p);
    int   (*host_owns)(gp_backend *be, const void *p, size_t bytes);

    /* Optional, may be NULL (both or none; uploads then use upload() and
     * run in turn with the computations).  Uploads that overlap the
     * computations, through two slots (s = 0 or 1), each naming a
     * destination buffer the caller reuses:
     *   slot_release(be, s): the work queued so far is the last to read or
     *     write slot s's destination; call it once after allocating that
     *     buffer and again after queueing the last work that uses it.
     *   upload_slot(be, s, dst, src, bytes): copy bytes from src into dst
     *     on a copy engine of its own, once the work queued before slot s's
     *     last release has finished (not the work queued since); the work
     *     queued after this call waits for the copy.  src must be
     *     host_staging() or host_alloc() memory and stay unchanged until
     *     the next download() or sync(); it returns at once. */
    int (*slot_release)(gp_backend *be, int s, gp_error *err);
    int (*upload_slot)(gp_backend *be, int s, void *dst, const void *src, size_t bytes, gp_error *err);

    /* Optional, may be NULL (all three or none; gp_infer then downloads
     * with download(), which waits).  Downloads that let the host go on:
     *   download_async(be, dst, src, bytes): copy bytes from backend memory
     *     src into host memory dst once the work queued before it has
     *     finished, and return at once (beside the work queued after it
     *     when dst is host_alloc() memory); dst holds the data once a fence
     *     recorded after the call has been waited for.
     *   fence_record(be, f): fence f (0 or 1) marks the work queued so far.
     *   fence_wait(be, f): wait until the work fence f marks has finished
     *     (not the work queued since); a fence never recorded is done. */
    int (*download_async)(gp_backend *be, void *dst, const void *src, size_t bytes, gp_error *err);
    int (*fence_record)(gp_backend *be, int f, gp_error *err);
    int (*fence_wait)(gp_backend *be, int f, gp_error *err);

    /* Optional, may be NULL (gp_infer then uploads the cutouts, calls
     * stretch and gp_net_encode).  The encoder on cutouts in host memory:
     * cutouts[i] [3 x 160 x 160] for i < n, stretched with net's constants
     * as stretch() does, then net's convolutions and its mean and
     * log-variance layers into mu and logvar [n x latent] (backend
     * memory); scratch: gp_net_encoder_scratch(net, n) floats of backend
     * memory.  The values of the composed path up to the order of the
     * sums.  The CPU backend stretches each image while it is in cache. */
    int (*encode_cutouts)(gp_backend *be, const struct gp_net *net, const float *const *cutouts, int n,
                          float *scratch, float *mu, float *logvar, gp_error *err);

    /* ---- training (engine/train/): backward passes, losses, Adam ----
     * Gradient buffers named d* are backend memory.  "+=" accumulates
     * (parameter gradients are zeroed once per step with `zero`); "="
     * overwrites.  Losses are returned through a host double. */

    /* x[0..bytes) = 0. */
    int (*zero)(gp_backend *be, void *x, size_t bytes, gp_error *err);

    /* Backward of dense: dX = dY W (dX may be NULL), dW += dY^T X,
     * db += column sums of dY (db may be NULL).  dY is the gradient with
     * respect to the pre-activation output (see act_backward). */
    int (*dense_backward)(gp_backend *be, const float *X, int rows, int in,
                          const float *W, int out, const float *dY, float *dX,
                          float *dW, float *db, gp_error *err);

    /* dX[i] = dY[i] * act'(x_i), from the activation's OUTPUT Y (dX may
     * alias dY).  LeakyReLU needs slope > 0 or relies on Y > 0 <=> x > 0. */
    int (*act_backward)(gp_backend *be, const float *Y, const float *dY,
                        size_t n, gp_act act, float slope, float *dX,
                        gp_error *err);

    /* Backward of conv2d for n images (dY with respect to the
     * pre-activation output): dX = conv2d^T(dY) (dX may be NULL),
     * dW += sum over images, db += sums of dY per channel.  Deterministic
     * for a given thread count. */
    int (*conv2d_backward)(gp_backend *be, const float *X, int n, int cin,
                           int h, int w, const float *W, int cout, int k,
                           int stride, int pad, const float *dY, float *dX,
                           float *dW, float *db, gp_error *err);

    /* Backward of conv_transpose2d, same conventions (X is the layer's
     * input [n x cin x h x w], dY [n x cout x Ho x Wo]). */
    int (*conv_transpose2d_backward)(gp_backend *be, const float *X, int n,
                                     int cin, int h, int w, const float *W,
                                     int cout, int k, int stride, int pad,
                                     const float *dY, float *dX, float *dW,
                                     float *db, gp_error *err);

    /* Reparameterisation z = mu + exp(logvar/2) eps over n values. */
    int (*reparam)(gp_backend *be, const float *mu, const float *logvar,
                   const float *eps, size_t n, float *z, gp_error *err);
    /* Its backward: dmu = dz, dlogvar = dz eps exp(logvar/2) / 2 (both "="). */
    int (*reparam_backward)(gp_backend *be, const float *logvar,
                            const float *eps, const float *dz, size_t n,
                            float *dmu, float *dlogvar, gp_error *err);
    /* KL(N(mu, exp(logvar)) || N(0,1)) summed over n values, times
     * `weight`: *loss += weight * sum 0.5 (mu^2 + e^lv - 1 - lv);
     * dmu += weight mu, dlogvar += weight 0.5 (e^lv - 1). */
    int (*kl_normal)(gp_backend *be, const float *mu, const float *logvar,
                     size_t n, double weight, double *loss, float *dmu,
                     float *dlogvar, gp_error *err);

    /* Backward of `coupling` in the forward direction (dir = +1), given
     * the layer's INPUT x [rows x dim]: dx (in place on dy, [rows x dim])
     * = dy at kept columns, dy exp(s) at transformed ones; dst [rows x 2nt]
     * = gradient w.r.t. [s_raw | t] ("=").  The loss carries
     * ld_weight[r] * log|det| of row r (ld_weight may be NULL: 0). */
    int (*coupling_backward)(gp_backend *be, const float *x, int rows, int dim,
                             const int *tidx, int nt, const float *st, float S,
                             const float *ld_weight, float *dy, float *dst,
                             gp_error *err);

    /* Weighted squared error over rows x dim with mask[r] (NULL: all 1):
     * *loss += w sum_r mask_r sum_d (P - T)^2; dP = 2 w mask (P - T) ("=").
     * (Per-row weights carry the batch normalisation.) */
    int (*mse)(gp_backend *be, const float *P, const float *T,
               const float *mask, int rows, int dim, double w, double *loss,
               float *dP, gp_error *err);

    /* Binary cross-entropy on logits: *loss += w sum_r mask_r
     * [softplus(l) - y l]; dl = w mask (sigmoid(l) - y) ("="). */
    int (*bce_logits)(gp_backend *be, const float *logit, const float *y,
                      const float *mask, int rows, double w, double *loss,
                      float *dlogit, gp_error *err);

    /* Standard-normal negative log-density of rows x dim values:
     * *loss += w sum_r mask_r sum_d (z^2/2 + log(2 pi)/2); dz = w mask z ("="). */
    int (*normal_nll)(gp_backend *be, const float *z, const float *mask,
                      int rows, int dim, double w, double *loss, float *dz,
                      gp_error *err);

    /* Strided block copy: Y[r, yoff + j] (= or +=, by `accumulate`)
     * X[r, xoff + j] for r < rows, j < m; X has xcols columns, Y ycols
     * (concatenation and its adjoint). */
    int (*copy_cols)(gp_backend *be, const float *X, int rows, int xcols,
                     int xoff, float *Y, int ycols, int yoff, int m,
                     int accumulate, gp_error *err);

    /* Y = a X + b Z elementwise (Y may alias X or Z). */
    int (*axpby)(gp_backend *be, float a, const float *X, float b,
                 const float *Z, size_t n, float *Y, gp_error *err);

    /* Adam (Kingma & Ba 2015) on n parameters at step t >= 1:
     * m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
     * w -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps). */
    int (*adam)(gp_backend *be, float *w, const float *g, float *m, float *v,
                size_t n, float lr, float b1, float b2, float eps, long t,
                gp_error *err);

    /* Sum of squares of n values into *out (host), for gradient clipping
     * and diagnostics. */
    int (*sumsq)(gp_backend *be, const float *x, size_t n, double *out,
                 gp_error *err);
} gp_backend_ops;

struct gp_backend {
    const gp_backend_ops *ops;
    int   threads;       /* CPU threads for the CPU backend */
    int   device;        /* CUDA device ordinal */
    int   chunk_galaxies; /* galaxies per inference chunk this backend wants
                            (0: the engine's default); the CUDA backend
                            sizes it from the device's free memory */
    int   chunk_rows;     /* sample rows per inference chunk (0: default) */
    int   deterministic;  /* set by the caller (training): every operation
                            must give the same bits from run to run; the CUDA
                            backend then picks convolution algorithms by
                            cuDNN's heuristics instead of timing them */
    char  description[128];
    void *impl;          /* backend private state */
};

/*
 * gp_backend_open_cpu() / gp_backend_open_cuda() - create a backend.
 * gp_backend_open_cuda() returns GP_ERR_BACKEND when galpost was built
 * without CUDA, no device is usable or the CUDA module cannot be loaded,
 * with the reason in the message.  It loads the CUDA module (below) only
 * after the NVIDIA driver reported a device, so that a process on a
 * machine without one never maps cuBLAS and cuDNN (about 150 MB).
 * In the module itself, gp_backend_open_cuda() is the backend's own.
 */
int  gp_backend_open_cpu(int threads, gp_backend **out, gp_error *err);
int  gp_backend_open_cuda(int device, gp_backend **out, gp_error *err);
void gp_backend_close(gp_backend *be);

/* ---- backend modules (engine/gp_backend_module.c) ----
 *
 * A backend built as a loadable module (the CUDA backend: galpost-cuda.so
 * in $(pkglibdir), or the file named by $GALPOST_CUDA_MODULE) exports one
 * constant gp_backend_module named GP_BACKEND_MODULE_SYMBOL.  The module
 * and libgalpost share the structures of this header and gp_error (and
 * struct gp_net, should a module implement member_sample): GP_BACKEND_ABI
 * changes whenever one of them changes, and a module whose abi, structure
 * sizes or galpost version differ from the library's is refused, never
 * called. */
#define GP_BACKEND_ABI 3   /* 2: encode_cutouts; 3: member_sample_fits, CUDA member_sample,
                              download_async and fences */
#define GP_BACKEND_MODULE_SYMBOL "gp_backend_module_entry"

typedef struct gp_backend_module {
    int         abi;           /* GP_BACKEND_ABI the module was built with */
    unsigned    ops_size;      /* sizeof(gp_backend_ops) */
    unsigned    backend_size;  /* sizeof(gp_backend) */
    unsigned    error_size;    /* sizeof(gp_error) */
    const char *version;       /* the galpost version (PACKAGE_VERSION) */
    const char *name;          /* "cuda" */
    int (*open)(int device, gp_backend **out, gp_error *err);
} gp_backend_module;

/*
 * gp_backend_module_load() - load a backend module file once and check it.
 *
 * Given:    path   the module file (a shared object)
 * Returned: *out   its entry, valid for the life of the process (modules
 *                  are never unloaded); NULL on failure
 * Function return value: GP_OK; GP_ERR_BACKEND (with the file name and
 *   the reason: dlopen's message, the symbol missing, or an ABI, size or
 *   version mismatch); GP_ERR_ARG for NULL arguments.
 * Thread-safe.  A file that failed is tried again at the next call.
 */
int gp_backend_module_load(const char *path, const gp_backend_module **out, gp_error *err);

/*
 * gp_backend_cuda_module_path() - the CUDA module file: $GALPOST_CUDA_MODULE
 * when set and not empty, else GP_PKGLIBDIR "/galpost-cuda.so".  Returns
 * a pointer to static or environment storage.
 */
const char *gp_backend_cuda_module_path(void);

/*
 * gp_backend_cuda_probe() - whether CUDA device `device` can exist, asked of
 * the NVIDIA driver (libcuda.so.1: cuInit, cuDeviceGetCount) without
 * loading the CUDA runtime, cuBLAS or cuDNN.
 * Function return value: GP_OK when the driver reports more than `device`
 * devices; GP_ERR_BACKEND with the reason (no driver library, cuInit's
 * error, no or too few devices).  Thread-safe; the driver library stays
 * loaded once found.
 */
int gp_backend_cuda_probe(int device, gp_error *err);

#endif
