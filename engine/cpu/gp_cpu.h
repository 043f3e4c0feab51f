/* gp_cpu.h: the CPU backend's internal functions. */
#ifndef GALPOST_GP_CPU_H
#define GALPOST_GP_CPU_H
#include <math.h>
#include <stddef.h>
#include "gp_backend.h"

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

void gp_cpu_im2col(const float *x, int cin, int h, int w, int k, int s, int p,
                   int ho, int wo, float *col);
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
