/*
 * gp_cuda_elem.h: the bodies of the CUDA backend's element-wise kernels
 * (internal).
 *
 * Each function computes one element (or one row) of an operation of
 * gp_backend_ops exactly as the CPU backend does (engine/cpu/), from plain
 * pointers and an index.  The kernels in gp_cuda_kernels.cu are grid-stride
 * loops around them; the same functions compile as plain C, so that
 * tests/gpu/test_cuda_elem.c checks their index arithmetic against the CPU
 * backend on machines without a GPU.  This header is C99 and also compiles
 * under nvcc.
 */
#ifndef GALPOST_GP_CUDA_ELEM_H
#define GALPOST_GP_CUDA_ELEM_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
#include "gp_backend.h"
#ifdef __cplusplus
}
#endif
#include "gp_rng.h"

#ifdef __CUDACC__
#define GP_CU_FN static __host__ __device__ inline
#else
#define GP_CU_FN static inline
#endif

/* Small arrays passed to kernels by value (no device copy). */
#define GP_CU_SMALL 8

/* act(v) as gp_cpu_activate(). */
GP_CU_FN float gp_cu_act(float v, int act, float slope)
{
    switch (act) {
    case GP_ACT_RELU: return v > 0.0f ? v : 0.0f;
    case GP_ACT_LEAKY_RELU: return v > 0.0f ? v : slope * v;
    case GP_ACT_TANH: return tanhf(v);
    case GP_ACT_SIGMOID: return 1.0f / (1.0f + expf(-v));
    default: return v;
    }
}

/* y[i] = act(y[i] + b[c]) over planes of `plane` values of `channels`
 * channels (c = (i / plane) mod channels); b may be NULL.  Dense layers use
 * plane = 1, channels = outputs. */
GP_CU_FN void gp_cu_bias_act_at(size_t i, float *y, int channels, size_t plane,
                                const float *b, int act, float slope)
{
    int c = (int)((i / plane) % (size_t)channels);
    y[i] = gp_cu_act(y[i] + (b ? b[c] : 0.0f), act, slope);
}

/* x[i] = (asinh(x[i] * inv_soft[c]) - offset[c]) * inv_scale[c], with the
 * reciprocals computed in float by the caller as the CPU backend does. */
GP_CU_FN void gp_cu_stretch_at(size_t i, float *x, int bands, size_t plane,
                               const float *inv_soft, const float *offset,
                               const float *inv_scale)
{
    int c = (int)((i / plane) % (size_t)bands);
    x[i] = (asinhf(x[i] * inv_soft[c]) - offset[c]) * inv_scale[c];
}

/* Row r of the normals operation: out[r*dim + d], d < dim <= 4. */
GP_CU_FN void gp_cu_normals_row(int r, uint64_t seed, const uint64_t *gal_id,
                                const int *row_gal, const int *sample_idx,
                                int stream, int dim, float *out)
{
    float n4[4];
    gp_rng_normals4(seed, gal_id[row_gal[r]], (uint32_t)sample_idx[r], (uint32_t)stream, n4);
    for (int d = 0; d < dim; d++) out[(size_t)r * dim + d] = n4[d];
}

/* Y[i] += C[row_gal[r] * n + k] with i = r * n + k. */
GP_CU_FN void gp_cu_add_rows_at(size_t i, float *Y, int n, const float *C,
                                const int *row_gal)
{
    size_t r = i / (size_t)n, k = i % (size_t)n;
    Y[i] += C[(size_t)row_gal[r] * n + k];
}

/* Y[i] = X[r * ncols + idx[k]] with i = r * m + k. */
GP_CU_FN void gp_cu_gather_at(size_t i, const float *X, int ncols, const int *idx,
                              int m, float *Y)
{
    size_t r = i / (size_t)m, k = i % (size_t)m;
    Y[i] = X[r * (size_t)ncols + idx[k]];
}

/* Row r of the affine coupling (see gp_backend_ops.coupling). */
GP_CU_FN void gp_cu_coupling_row(int r, float *x, int dim, const int *tidx, int nt,
                                 const float *st, float S, int dir, double *logdet)
{
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

GP_CU_FN void gp_cu_add_at(size_t i, const float *X, const float *Z, float *Y)
{
    Y[i] = X[i] + Z[i];
}

GP_CU_FN void gp_cu_exp_half_at(size_t i, const float *X, float *Y)
{
    Y[i] = expf(0.5f * X[i]);
}

GP_CU_FN void gp_cu_activate_at(size_t i, float *x, int act, float slope)
{
    x[i] = gp_cu_act(x[i], act, slope);
}

#endif
