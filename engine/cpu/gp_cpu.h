/* gp_cpu.h: the CPU backend's internal functions. */
#ifndef GALPOST_GP_CPU_H
#define GALPOST_GP_CPU_H
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include "gp_backend.h"

/* The CPU backend's state (be->impl). */
typedef struct gp_cpu_wcache gp_cpu_wcache;
#define GP_CPU_CACHE_SLOTS 8
typedef struct gp_cpu_impl {
    pthread_mutex_t mx;
    struct { void *p; size_t bytes; } slot[GP_CPU_CACHE_SLOTS];   /* large freed blocks */
    size_t cached;
    gp_cpu_wcache *wcache;   /* reordered convolution weights (gp_cpu_encoder.c) */
} gp_cpu_impl;
void gp_cpu_wcache_free(gp_cpu_wcache *c);
/* Convolution weights channels-last, [cout x k x k x cin] (transposed = 0)
 * or [k x k x cin x cout] (1), cached by the backend (gp_cpu_wcache.c). */
const float *gp_cpu_conv_weights(gp_backend *be, const gp_conv_layer *L, int transposed);
/* W [out x in] transposed, cached by the backend; NULL when out of memory. */
const float *gp_cpu_dense_wt(gp_backend *be, const float *W, int out, int in);
/* W [out x (c x p)] reading a CHW map, reordered to read the same map
 * stored HWC (Wh[o][i c + ch] = W[o][ch p + i]), cached; NULL when out of
 * memory. */
const float *gp_cpu_dense_hwc(gp_backend *be, const float *W, int out, int c, int p);
/* Y = act(X WT + b) on R rows, N a multiple of 64, AVX-512 (check
 * gp_cpu_have_avx512() first); each row's values independent of R. */
void gp_cpu_gemm_rows64_avx512(const float *X, int R, int K, const float *WT, int N, const float *bias,
                               gp_act act, float slope, float *Y);
int gp_cpu_have_avx512(void);
/* Y [R x N] = X [R x K] W^T + b (b may be NULL), W [N x K] as stored, each
 * output summed in one fixed order (16 interleaved fused chains, then a
 * fixed tree, then the bias: gp_cpu_dense_rows.c), so that a row's values
 * depend on that row alone and are the same bits on every instruction set.
 * Returns 0, or -1 when out of memory.  _path forces 0 scalar, 1 AVX2, 2
 * AVX-512 (tests); -2 when the CPU lacks it. */
int gp_cpu_dense_rows(const float *X, int R, int K, const float *W, int N, const float *b, float *Y);
int gp_cpu_dense_rows_path(const float *X, int R, int K, const float *W, int N, const float *b, float *Y,
                           int path);
/* Two layers on the same rows in one pass over X (the encoder's mean and
 * log-variance): Y1 [R x N1] = X W1^T + b1 and Y2 [R x N2] = X W2^T + b2,
 * the bits of two gp_cpu_dense_rows calls. */
int gp_cpu_dense_rows_pair(const float *X, int R, int K, const float *W1, int N1, const float *b1, float *Y1,
                           const float *W2, int N2, const float *b2, float *Y2);
/* 1 when the AMX kernels below may run: built with them, CPUID has
 * AMX-TILE, AMX-BF16 and AVX512-BF16, the kernel granted the tile state
 * (asked once per process), and GP_CPU_NO_AMX is unset, empty or "0" (read
 * at every call, so a test or benchmark can compare both paths). */
int gp_cpu_have_amx(void);
/* AMX split-bf16 convolution (gp_cpu_amx.c), as accurate as fp32:
 * pack_b: Wr [N x K] (gp_cpu_conv_weights' order) -> B, three bf16 planes
 * of N x K in the tile layout (K, N multiples of 32); */
void gp_cpu_amx_pack_b(const float *Wr, int N, int K, uint16_t *B);
/* conv_x6: the implicit-GEMM form, no im2col: x, the band's padded HWC
 * input rows (pitch wp pixels of c channels; the first is output row 0's
 * first tap row) -> C, row q = oy wq + ox (wq = wp / s rounded up; only ox
 * < wo are outputs) of N channels, for rows output rows; k c a multiple of
 * 32.  A: scratch of gp_cpu_amx_conv_scratch() uint16 values (64-byte
 * aligned), which also gives C's row count (*c_rows). */
size_t gp_cpu_amx_conv_scratch(int wp, int c, int k, int s, int wo, int rows, size_t *c_rows);
void gp_cpu_amx_conv_x6(const float *x, int wp, int c, int k, int s, int wo, int rows, const uint16_t *B, int N,
                        uint16_t *A, float *C);
/* A convolution's weights packed for gp_cpu_amx_conv_x6 (the order of
 * gp_cpu_conv_weights(be, L, 0)), cached by the backend; NULL when out of
 * memory. */
const uint16_t *gp_cpu_conv_weights_amx(gp_backend *be, const gp_conv_layer *L);
int gp_cpu_member_sample(gp_backend *be, const struct gp_net *net, int k, uint64_t seed,
                         const uint64_t *gal_id, const int *row_gal, const int *sample_idx, int rows,
                         const float *trunk, const float *head, const float *lhead, int ngal,
                         float *core, float *oh, float *line, gp_error *err);
int gp_cpu_conv_stack(gp_backend *be, const float *X, int n, int h, int w, int nconv,
                      const gp_conv_layer *layer, gp_act act, float slope, float *Y, gp_error *err);
/* gp_cpu_conv_stack on images X[i] (i < n, each [cin x h x w], cin <= 4),
 * each stretched as it is read, y = (asinh(x / soft[c]) - offset[c]) /
 * scale[c] with the constants and arithmetic of ops->stretch: the same
 * bits as stretching copies of the images and calling gp_cpu_conv_stack,
 * with no batch-sized copy of the inputs.  hwc_out: Y's images stored
 * [Ho x Wo x Cout] (the same values, not transposed back to NCHW). */
int gp_cpu_conv_stack_cutouts(gp_backend *be, const float *const *X, int n, int h, int w, const float *soft,
                              const float *offset, const float *scale, int hwc_out, int nconv,
                              const gp_conv_layer *layer, gp_act act, float slope, float *Y, gp_error *err);
/* ops->encode_cutouts (gp_backend.h). */
int gp_cpu_encode_cutouts(gp_backend *be, const struct gp_net *net, const float *const *cutouts, int n,
                          float *scratch, float *mu, float *logvar, gp_error *err);

static inline float gp_cpu_activate(float v, gp_act act, float slope)
{
    switch (act) {
    case GP_ACT_RELU: return v > 0.0f ? v : 0.0f;
    case GP_ACT_LEAKY_RELU: return v > 0.0f ? v : slope * v;
    case GP_ACT_TANH: return tanhf(v);
    case GP_ACT_SIGMOID: return 1.0f / (1.0f + expf(-v));
    case GP_ACT_NONE: default: return v;
    }
}

/* Per-thread scratch of at least `floats` floats, 64-byte aligned, kept
 * for the thread's lifetime (freed when the thread exits); NULL when out of
 * memory.  Only valid until the same thread asks again for the same slot.
 * gp_cpu_thread_scratch is slot 0 (the kernels' activations); slot 1 is
 * the dense kernel's partial sums, which it needs while a caller (the
 * flows) holds slot 0. */
#define GP_CPU_SCRATCH_SLOTS 2
float *gp_cpu_thread_scratch(size_t floats);
float *gp_cpu_thread_scratch_slot(int slot, size_t floats);

/* y[i] = act(y[i] + b) for n values (b a scalar). */
void gp_cpu_bias_act_row(float *y, size_t n, float b, gp_act act, float slope);
/* rows x cols block with row stride ld: y[r][c] = act(y[r][c] + bias[c]) (bias may be NULL). */
void gp_cpu_bias_act_cols(float *y, int rows, int cols, size_t ld, const float *bias,
                          gp_act act, float slope);
/* dst[r][c] = act(src[r][c] + bias[c]), rows x cols each contiguous: the
 * bits of gp_cpu_bias_act_cols on src, then a copy. */
void gp_cpu_bias_act_copy(float *restrict dst, const float *restrict src, int rows, int cols, const float *bias,
                          gp_act act, float slope);

void gp_cpu_im2col(const float *x, int cin, int h, int w, int k, int s, int p,
                   int ho, int wo, float *col);
void gp_cpu_im2col_rows(const float *x, int cin, int h, int w, int k, int s, int p,
                        int wo, int oy0, int oy1, float *col);
void gp_cpu_col2im(const float *col, int cout, int h, int w, int k, int s,
                   int p, int hi, int wi, float *y);
void gp_cpu_bias_act(float *y, int channels, size_t plane, const float *b,
                     gp_act act, float slope);
int gp_cpu_conv2d(gp_backend *be, const float *X, int n, int cin, int h, int w,
                  const float *W, const float *b, int cout, int k, int stride,
                  int pad, gp_act act, float slope, float *Y, gp_error *err);
int gp_cpu_conv_transpose2d(gp_backend *be, const float *X, int n, int cin,
                            int h, int w, const float *W, const float *b,
                            int cout, int k, int stride, int pad, gp_act act,
                            float slope, float *Y, gp_error *err);
/* training operations (gp_cpu_train.c); see gp_backend.h */
int gp_cpu_zero(gp_backend *be, void *x, size_t bytes, gp_error *err);
int gp_cpu_dense_backward(gp_backend *be, const float *X, int rows, int in,
                          const float *W, int out, const float *dY, float *dX,
                          float *dW, float *db, gp_error *err);
int gp_cpu_act_backward(gp_backend *be, const float *Y, const float *dY, size_t n,
                        gp_act act, float slope, float *dX, gp_error *err);
int gp_cpu_conv2d_backward(gp_backend *be, const float *X, int n, int cin, int h, int w,
                           const float *W, int cout, int k, int stride, int pad,
                           const float *dY, float *dX, float *dW, float *db, gp_error *err);
int gp_cpu_conv_transpose2d_backward(gp_backend *be, const float *X, int n, int cin,
                                     int h, int w, const float *W, int cout, int k,
                                     int stride, int pad, const float *dY, float *dX,
                                     float *dW, float *db, gp_error *err);
int gp_cpu_reparam(gp_backend *be, const float *mu, const float *logvar, const float *eps,
                   size_t n, float *z, gp_error *err);
int gp_cpu_reparam_backward(gp_backend *be, const float *logvar, const float *eps,
                            const float *dz, size_t n, float *dmu, float *dlogvar,
                            gp_error *err);
int gp_cpu_kl_normal(gp_backend *be, const float *mu, const float *logvar, size_t n,
                     double weight, double *loss, float *dmu, float *dlogvar, gp_error *err);
int gp_cpu_coupling_backward(gp_backend *be, const float *x, int rows, int dim,
                             const int *tidx, int nt, const float *st, float S,
                             const float *ld_weight, float *dy, float *dst, gp_error *err);
int gp_cpu_mse(gp_backend *be, const float *P, const float *T, const float *mask, int rows,
               int dim, double w, double *loss, float *dP, gp_error *err);
int gp_cpu_bce_logits(gp_backend *be, const float *logit, const float *y, const float *mask,
                      int rows, double w, double *loss, float *dlogit, gp_error *err);
int gp_cpu_normal_nll(gp_backend *be, const float *z, const float *mask, int rows, int dim,
                      double w, double *loss, float *dz, gp_error *err);
int gp_cpu_copy_cols(gp_backend *be, const float *X, int rows, int xcols, int xoff, float *Y,
                     int ycols, int yoff, int m, int accumulate, gp_error *err);
int gp_cpu_axpby(gp_backend *be, float a, const float *X, float b, const float *Z, size_t n,
                 float *Y, gp_error *err);
int gp_cpu_adam(gp_backend *be, float *w, const float *g, float *m, float *v, size_t n,
                float lr, float b1, float b2, float eps, long t, gp_error *err);
int gp_cpu_sumsq(gp_backend *be, const float *x, size_t n, double *out, gp_error *err);
#endif
