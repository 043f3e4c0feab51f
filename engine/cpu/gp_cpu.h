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
#endif
