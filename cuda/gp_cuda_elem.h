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

/* The same over one plane: plane p (of channel p mod channels), elements
 * t, t + nt, ... of it.  A convolution's kernel runs one block a plane, so
 * no element needs the 64-bit division of gp_cu_bias_act_at (emulated on
 * the GPU: it took more time than the memory traffic). */
GP_CU_FN void gp_cu_bias_act_plane(size_t p, float *y, int channels, int plane,
                                   const float *b, int t, int nt, int act, float slope)
{
    float *yp = y + p * (size_t)plane;
    const float bv = b ? b[p % (size_t)channels] : 0.0f;
    for (int j = t; j < plane; j += nt) yp[j] = gp_cu_act(yp[j] + bv, act, slope);
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

/* The same over one plane (band p mod bands), elements t, t + nt, ... */
GP_CU_FN void gp_cu_stretch_plane(size_t p, float *x, int bands, int plane,
                                  const float *inv_soft, const float *offset,
                                  const float *inv_scale, int t, int nt)
{
    float *xp = x + p * (size_t)plane;
    const int c = (int)(p % (size_t)bands);
    const float s = inv_soft[c], o = offset[c], k = inv_scale[c];
    for (int j = t; j < plane; j += nt) xp[j] = (asinhf(xp[j] * s) - o) * k;
}

/* Element i of flag_nonfinite: flags[i / per] = 1 when x[i] is an inf or
 * a NaN (exponent bits all ones, as gp_infer's host check decides); other
 * flags are left as they are. */
GP_CU_FN void gp_cu_flag_nonfinite_at(size_t i, const float *x, size_t per, int *flags)
{
    union { float f; uint32_t u; } v;
    v.f = x[i];
    if ((v.u & 0x7F800000u) == 0x7F800000u) flags[i / per] = 1;
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

/* ---- training (gp_cpu_train.c); "+=" and "=" as there ---- */

/* dX[i] = dY[i] act'(x_i) from the activation's output Y (dX may alias dY). */
GP_CU_FN void gp_cu_act_backward_at(size_t i, const float *Y, const float *dY, int act,
                                    float slope, float *dX)
{
    float g = dY[i];
    switch (act) {
    case GP_ACT_RELU: dX[i] = Y[i] > 0.0f ? g : 0.0f; break;
    case GP_ACT_LEAKY_RELU: dX[i] = Y[i] > 0.0f ? g : slope * g; break;
    case GP_ACT_TANH: dX[i] = g * (1.0f - Y[i] * Y[i]); break;
    case GP_ACT_SIGMOID: dX[i] = g * Y[i] * (1.0f - Y[i]); break;
    default: dX[i] = g; break;
    }
}

GP_CU_FN void gp_cu_reparam_at(size_t i, const float *mu, const float *logvar, const float *eps,
                               float *z)
{
    z[i] = mu[i] + expf(0.5f * logvar[i]) * eps[i];
}

/* dmu = dz, dlogvar = dz eps exp(logvar/2) / 2 (dmu may alias dz). */
GP_CU_FN void gp_cu_reparam_backward_at(size_t i, const float *logvar, const float *eps,
                                        const float *dz, float *dmu, float *dlogvar)
{
    float g = dz[i];
    dlogvar[i] = 0.5f * g * eps[i] * expf(0.5f * logvar[i]);
    dmu[i] = g;
}

/* Term i of the KL sum (before `weight`); dmu, dlogvar (may be NULL) += the
 * weighted gradients, in double then rounded as the CPU backend does. */
GP_CU_FN double gp_cu_kl_at(size_t i, const float *mu, const float *logvar, double weight,
                            float *dmu, float *dlogvar)
{
    double m = mu[i], lv = logvar[i], e = exp(lv);
    if (dmu) dmu[i] += (float)(weight * m);
    if (dlogvar) dlogvar[i] += (float)(weight * 0.5 * (e - 1.0));
    return 0.5 * (m * m + e - 1.0 - lv);
}

/* Row r of coupling_backward (forward direction): dy in place, dst "=". */
GP_CU_FN void gp_cu_coupling_backward_row(int r, const float *x, int dim, const int *tidx, int nt,
                                          const float *st, float S, const float *ld_weight,
                                          float *dy, float *dst)
{
    const float *xr = x + (size_t)r * dim;
    const float *sr = st + (size_t)r * 2 * nt;
    float *g = dy + (size_t)r * dim;
    float *gs = dst + (size_t)r * 2 * nt;
    float lw = ld_weight ? ld_weight[r] : 0.0f;
    for (int k = 0; k < nt; k++) {
        float th = tanhf(sr[k] / S);
        float s = S * th, es = expf(s);
        float gy = g[tidx[k]];
        float ds = gy * xr[tidx[k]] * es + lw;
        gs[k] = ds * (1.0f - th * th);
        gs[nt + k] = gy;
        g[tidx[k]] = gy * es;
    }
}

/* Term i = r * dim + d of the masked squared error (before w); dP "=". */
GP_CU_FN double gp_cu_mse_at(size_t i, const float *P, const float *T, const float *mask,
                             int dim, double w, float *dP)
{
    double m = mask ? mask[i / (size_t)dim] : 1.0;
    double e = (double)P[i] - T[i];
    if (dP) dP[i] = (float)(2.0 * w * m * e);
    return m * e * e;
}

/* Term r of the binary cross-entropy on logits (before w); dlogit "=". */
GP_CU_FN double gp_cu_bce_at(size_t r, const float *logit, const float *y, const float *mask,
                             double w, float *dlogit)
{
    double m = mask ? mask[r] : 1.0, l = logit[r];
    double sp = l > 0 ? l + log1p(exp(-l)) : log1p(exp(l));  /* softplus */
    if (dlogit) dlogit[r] = (float)(w * m * (1.0 / (1.0 + exp(-l)) - y[r]));
    return m * (sp - y[r] * l);
}

/* Term i = r * dim + d of the standard-normal NLL (before w); dz "=". */
GP_CU_FN double gp_cu_normal_nll_at(size_t i, const float *z, const float *mask, int dim,
                                    double w, float *dz)
{
    const double half_log_2pi = 0.91893853320467274178;
    double m = mask ? mask[i / (size_t)dim] : 1.0;
    if (dz) dz[i] = (float)(w * m * z[i]);
    return m * (0.5 * (double)z[i] * z[i] + half_log_2pi);
}

GP_CU_FN double gp_cu_sumsq_at(size_t i, const float *x)
{
    return (double)x[i] * x[i];
}

/* Element i = r * m + j of copy_cols: Y[r, yoff + j] (=|+=) X[r, xoff + j]. */
GP_CU_FN void gp_cu_copy_cols_at(size_t i, const float *X, int xcols, int xoff, float *Y,
                                 int ycols, int yoff, int m, int accumulate)
{
    size_t r = i / (size_t)m, j = i % (size_t)m;
    float v = X[r * (size_t)xcols + xoff + j];
    float *y = Y + r * (size_t)ycols + yoff + j;
    if (accumulate) *y += v;
    else *y = v;
}

GP_CU_FN void gp_cu_axpby_at(size_t i, float a, const float *X, float b, const float *Z, float *Y)
{
    Y[i] = a * X[i] + b * Z[i];
}

/* One Adam update; a = lr sqrt(c2) / c1 and epsh = eps sqrt(c2) computed
 * by the caller in double and rounded to float, as the CPU backend does. */
GP_CU_FN void gp_cu_adam_at(size_t i, float *w, const float *g, float *m, float *v, float a,
                            float b1, float b2, float epsh)
{
    m[i] = b1 * m[i] + (1.0f - b1) * g[i];
    v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
    w[i] -= a * m[i] / (sqrtf(v[i]) + epsh);
}

/* ---- posterior sampling of one ensemble member, fused (member_sample) ----
 *
 * One sample row's whole chain, as the CPU backend's member_sample and the
 * composed path compute it: Philox base noise, the core flow's couplings
 * in the sampling direction, + the core head means, the O/H conditioner on
 * the sampled core values, + the O/H mean, the line flow, + the line means.
 * Conditioners of width GP_CU_FLOW_H only (a row's activations stay in
 * registers on the GPU), with at most GP_CU_COND_MID hidden layers between
 * the first and the output layer; the first layer's context part (W_ctx
 * trunk + b, per galaxy) is precomputed into G.  The chain travels in the
 * kernel's arguments (which take at most 4 KB), so it holds few pointers
 * and its indices are bytes. */
#define GP_CU_FLOW_H     64
#define GP_CU_COND_MID   2
#define GP_CU_CHAIN_MAX  16   /* couplings per flow */

typedef struct gp_cu_cond {
    const float *w_row;                     /* [H x nrow] first layer, row part */
    const float *w_mid[GP_CU_COND_MID];     /* [H x H] hidden layers */
    const float *b_mid[GP_CU_COND_MID];     /* [H] */
    const float *w_out, *b_out;             /* [nout x H], [nout] */
    const float *G;                         /* [ngal x H] context part + first bias */
    unsigned char nrow, nmid, nout, act_last;
} gp_cu_cond;

typedef struct gp_cu_flowstep {
    gp_cu_cond    c;
    unsigned char nkeep, nt, keep[4], trans[4];
} gp_cu_flowstep;

typedef struct gp_cu_chain {
    gp_cu_flowstep core[GP_CU_CHAIN_MAX], line[GP_CU_CHAIN_MAX];   /* in stored order */
    gp_cu_cond     oh;
    const float   *packed;                  /* [ncore + nline + 1] packed conditioners
                                               (gp_cu_cond_w): core, line, O/H */
    int            ncore, nline, act;
    float          slope, core_S, line_S, oh_S;
    const float   *head, *lhead;            /* [ngal x 5], [ngal x 4] */
    uint64_t       seed;
    const uint64_t *gal_id;
    const int     *row_gal, *sample_idx;
    float         *out_core, *out_oh, *out_line;   /* [rows x 4], [rows], [rows x 4] */
} gp_cu_chain;

/* One conditioner's weights packed for the fused sampler: the hidden and
 * output layers transposed ([u][v]: input u's weights to every output v
 * side by side), so that a thread accumulates 8 outputs at once from two
 * 16-byte reads, with zeros past nrow, nmid and nout.  gp_cuda_member_sample
 * packs every conditioner once a call (gp_cu_cond_pack_at); a block of the
 * kernel copies the current one into shared memory, where all threads of a
 * warp read the same words (broadcasts) at offsets known at compile time. */
typedef struct gp_cu_cond_w {
    float w_row[GP_CU_FLOW_H * 4];                               /* [u * nrow + i] */
    float w_midT[GP_CU_COND_MID][GP_CU_FLOW_H * GP_CU_FLOW_H];   /* [u * H + v] = W[v][u] */
    float b_mid[GP_CU_COND_MID][GP_CU_FLOW_H];
    float w_outT[GP_CU_FLOW_H * 8];                              /* [u * 8 + o] = W_out[o][u] */
    float b_out[8];
} gp_cu_cond_w;
#define GP_CU_COND_W_FLOATS (sizeof(gp_cu_cond_w) / sizeof(float))

/* Float i (< GP_CU_COND_W_FLOATS) of c's packed weights. */
GP_CU_FN float gp_cu_cond_pack_at(const gp_cu_cond *c, size_t i)
{
    const size_t H = GP_CU_FLOW_H;
    const size_t o_mid = offsetof(gp_cu_cond_w, w_midT) / sizeof(float);
    const size_t o_bmid = offsetof(gp_cu_cond_w, b_mid) / sizeof(float);
    const size_t o_out = offsetof(gp_cu_cond_w, w_outT) / sizeof(float);
    const size_t o_bout = offsetof(gp_cu_cond_w, b_out) / sizeof(float);
    if (i < o_mid) return i < H * c->nrow ? c->w_row[i] : 0.0f;
    if (i < o_bmid) {
        size_t m = (i - o_mid) / (H * H), r = (i - o_mid) % (H * H), u = r / H, v = r % H;
        return m < c->nmid ? c->w_mid[m][v * H + u] : 0.0f;
    }
    if (i < o_out) {
        size_t m = (i - o_bmid) / H, v = (i - o_bmid) % H;
        return m < c->nmid ? c->b_mid[m][v] : 0.0f;
    }
    if (i < o_bout) {
        size_t u = (i - o_out) / 8, o = (i - o_out) % 8;
        return o < c->nout ? c->w_out[o * H + u] : 0.0f;
    }
    return i - o_bout < c->nout ? c->b_out[i - o_bout] : 0.0f;
}

/* The parts of a packed conditioner with nmid hidden layers that the
 * sampler reads, in 16-byte words: [0, *a_end) (first layer, the hidden
 * layers in use) and [*b_begin, *all) (hidden biases, output layer). */
GP_CU_FN void gp_cu_cond_w_parts(int nmid, int *a_end, int *b_begin, int *all)
{
    *a_end = (int)(offsetof(gp_cu_cond_w, w_midT) / 16) + nmid * GP_CU_FLOW_H * GP_CU_FLOW_H / 4;
    *b_begin = (int)(offsetof(gp_cu_cond_w, b_mid) / 16);
    *all = (int)(sizeof(gp_cu_cond_w) / 16);
}

/* o[0..7] = p[0..7] (p 16-byte aligned): two 16-byte reads on the GPU. */
GP_CU_FN void gp_cu_load8(const float *p, float *o)
{
#ifdef __CUDA_ARCH__
    const float4 a = ((const float4 *)p)[0], b = ((const float4 *)p)[1];
    o[0] = a.x; o[1] = a.y; o[2] = a.z; o[3] = a.w;
    o[4] = b.x; o[5] = b.y; o[6] = b.z; o[7] = b.w;
#else
    for (int j = 0; j < 8; j++) o[j] = p[j];
#endif
}

/* acc[j] = sum over u < GP_CU_FLOW_H, in order from 0, of
 * WT[u * stride + j] h[u], for j < 8 (WT 16-byte aligned, stride a
 * multiple of 4): 8 independent sums. */
GP_CU_FN void gp_cu_sum8(const float *WT, int stride, const float *h, float *acc)
{
    float wv[8];
#ifdef __CUDACC__
#pragma unroll
#endif
    for (int j = 0; j < 8; j++) acc[j] = 0.0f;
#ifdef __CUDACC__
#pragma unroll
#endif
    for (int u = 0; u < GP_CU_FLOW_H; u++) {
        const float hu = h[u];
        gp_cu_load8(WT + u * stride, wv);
#ifdef __CUDACC__
#pragma unroll
#endif
        for (int j = 0; j < 8; j++) acc[j] += wv[j] * hu;
    }
}

/* out[0..nout-1] = the conditioner c (weights packed in w) on the row
 * inputs xin[0..nrow-1] of a row whose galaxy's G row is gG:
 * h = act(W_row xin + gG), the hidden layers, then the output layer
 * (activated when act_last).  Each output's sum runs over the inputs in
 * order, from 0, and adds the bias last; 8 outputs are summed side by side
 * (independent chains, which the GPU overlaps).  On the GPU the loops over
 * inputs are unrolled (h stays in registers) and the loops over groups of
 * 8 outputs are not (the code of a layer stays small enough for the
 * instruction caches). */
GP_CU_FN void gp_cu_cond_row(const gp_cu_cond *c, const gp_cu_cond_w *w, const float *gG,
                             const float *xin, int act, float slope, float *out)
{
    float h[GP_CU_FLOW_H], h2[GP_CU_FLOW_H], xv[4], acc[8], wv[8];
    const int nrow = c->nrow;
    /* (fixed indices: the inputs stay in registers) */
    for (int i = 0; i < 4; i++) xv[i] = i < nrow ? xin[i] : 0.0f;
#ifdef __CUDACC__
#pragma unroll
#endif
    for (int u = 0; u < GP_CU_FLOW_H; u++) {
        float v = xv[0] * w->w_row[u * nrow];
        for (int i = 1; i < 4; i++)
            if (i < nrow) v += xv[i] * w->w_row[u * nrow + i];
        h[u] = gp_cu_act(v + gG[u], act, slope);
    }
#ifdef __CUDACC__
#pragma unroll 1
#endif
    for (int m = 0; m < c->nmid; m++) {
        const float *WT = w->w_midT[m];
#ifdef __CUDACC__
#pragma unroll 1
#endif
        for (int v0 = 0; v0 < GP_CU_FLOW_H; v0 += 8) {
            gp_cu_sum8(WT + v0, GP_CU_FLOW_H, h, acc);
            gp_cu_load8(w->b_mid[m] + v0, wv);
#ifdef __CUDACC__
#pragma unroll
#endif
            for (int j = 0; j < 8; j++) h2[v0 + j] = gp_cu_act(acc[j] + wv[j], act, slope);
        }
#ifdef __CUDACC__
#pragma unroll
#endif
        for (int u = 0; u < GP_CU_FLOW_H; u++) h[u] = h2[u];
    }
    gp_cu_sum8(w->w_outT, 8, h, acc);
    for (int o = 0; o < c->nout; o++) {
        float a = acc[o] + w->b_out[o];
        out[o] = c->act_last ? gp_cu_act(a, act, slope) : a;
    }
}

/* One coupling in the sampling direction on a row's values x[]:
 * x_t = (x_t - t) exp(-s), s = S tanh(s_raw / S), [s_raw | t] from the
 * conditioner (weights staged in w) on the kept values. */
GP_CU_FN void gp_cu_flowstep_inverse(const gp_cu_flowstep *s, const gp_cu_cond_w *w, const float *gG,
                                     float S, int act, float slope, float *x)
{
    float xk[4] = { 0.0f, 0.0f, 0.0f, 0.0f }, st[8];
    int tidx[4];
    for (int k = 0; k < s->nkeep; k++) xk[k] = x[s->keep[k]];
    for (int k = 0; k < s->nt; k++) tidx[k] = s->trans[k];
    gp_cu_cond_row(&s->c, w, gG, xk, act, slope, st);
    gp_cu_coupling_row(0, x, 4, tidx, s->nt, st, S, -1, NULL);
}

/* Conditioner j of a chain in its packed order: core couplings, line
 * couplings, O/H. */
GP_CU_FN const gp_cu_cond *gp_cu_chain_cond(const gp_cu_chain *ch, int j)
{
    if (j < ch->ncore) return &ch->core[j].c;
    if (j < ch->ncore + ch->nline) return &ch->line[j - ch->ncore].c;
    return &ch->oh;
}

/* Base noise of row r: core[4], O/H, line[4]. */
GP_CU_FN void gp_cu_member_noise(int r, const gp_cu_chain *ch, float *xc, float *xo, float *xl)
{
    uint64_t id = ch->gal_id[ch->row_gal[r]];
    uint32_t smp = (uint32_t)ch->sample_idx[r];
    float n4[4];
    gp_rng_normals4(ch->seed, id, smp, GP_STREAM_CORE, xc);
    gp_rng_normals4(ch->seed, id, smp, GP_STREAM_OH, n4);
    *xo = n4[0];
    gp_rng_normals4(ch->seed, id, smp, GP_STREAM_LINE, xl);
}

/* The O/H step on row values: xo = (xo - t) exp(-s) + the O/H mean, from
 * the conditioner (weights staged in w) on the sampled core values xc. */
GP_CU_FN float gp_cu_oh_inverse(const gp_cu_chain *ch, const gp_cu_cond_w *w, const float *gG,
                                const float *xc, float xo, float mean)
{
    float st[8];
    const int only[1] = { 0 };
    gp_cu_cond_row(&ch->oh, w, gG, xc, ch->act, ch->slope, st);
    gp_cu_coupling_row(0, &xo, 1, only, 1, st, ch->oh_S, -1, NULL);
    return xo + mean;
}

/* Row r's results: the core values xc, O/H xo and line residuals xl (+ the
 * line means) into ch->out_core, ch->out_oh and ch->out_line. */
GP_CU_FN void gp_cu_member_store(int r, const gp_cu_chain *ch, const float *xc, float xo, const float *xl)
{
    const int g = ch->row_gal[r];
    for (int d = 0; d < 4; d++) {
        ch->out_core[(size_t)r * 4 + d] = xc[d];
        ch->out_line[(size_t)r * 4 + d] = xl[d] + ch->lhead[(size_t)g * 4 + d];
    }
    ch->out_oh[r] = xo;
}

#endif
