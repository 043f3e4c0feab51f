/*
 * gp_cuda_flows.cu: the CUDA backend's member_sample operation
 * (gp_backend.h): an ensemble member's posterior sampling in one kernel.
 *
 * Composed layer by layer (gp_realnvp_apply), a member's 25 conditioners
 * cost ~250 launches per chunk, and every hidden activation [rows x 64]
 * makes several round trips through device memory: at 4096 galaxies x 100
 * samples the flows took 22 ms on an H200, a quarter of the pipeline, at
 * ~4 TFLOP/s.  Here each thread carries one sample row through the whole
 * chain (gp_cuda_elem.h's gp_cu_flowstep_inverse and friends) with its 64
 * activations in registers, and each block stages the current
 * conditioner's weights (packed and transposed once a call, k_pack) in
 * shared memory, where every thread of a warp reads the same words (a
 * broadcast), 8 outputs accumulated side by side.  The context terms (W_ctx trunk + b
 * for each conditioner, per galaxy) are computed first by cuBLAS, as the
 * composed path does.  Models whose conditioners are not 64 wide (or
 * deeper than gp_cuda_elem.h's limits) are declined by member_sample_fits
 * and composed by gp_infer.
 *
 * GP_CUDA_FLOW_OCC=3 (benchmarks, read at open: gp_cuda.flow_occ3) runs
 * the kernel at three blocks an SM (registers capped, some spilled)
 * instead of two.
 */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "gp_cuda.h"
#include "gp_cuda_chain.h"

#define GP_CU_FLOW_THREADS 128

/* Packed conditioner j of the chain: blob [nterms x GP_CU_COND_W_FLOATS]. */
__global__ void k_pack(const gp_cu_chain ch, int nterms, float *blob)
{
    const size_t n = (size_t)nterms * GP_CU_COND_W_FLOATS;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        int j = (int)(i / GP_CU_COND_W_FLOATS);
        blob[i] = gp_cu_cond_pack_at(gp_cu_chain_cond(&ch, j), i % GP_CU_COND_W_FLOATS);
    }
}

/* Packed conditioner j into shared memory by the whole block (after the
 * previous one's readers are done): the first layer, the nmid hidden
 * layers in use, and from the hidden biases on, in 16-byte words. */
__device__ static void stage(const gp_cu_chain &ch, int j, int nmid, gp_cu_cond_w *w)
{
    const float4 *src = (const float4 *)(ch.packed + (size_t)j * GP_CU_COND_W_FLOATS);
    float4 *dst = (float4 *)w;
    int a_end, b_begin, all;
    gp_cu_cond_w_parts(nmid, &a_end, &b_begin, &all);
    __syncthreads();
    for (int i = threadIdx.x; i < a_end; i += blockDim.x) dst[i] = src[i];
    for (int i = b_begin + threadIdx.x; i < all; i += blockDim.x) dst[i] = src[i];
    __syncthreads();
}

/* One thread per sample row; whole blocks stride together over the rows,
 * because every thread takes part in the staging.  The sequence is the
 * composed path's (gp_infer): core couplings last-stored first, + the core
 * means, O/H, line couplings, + the line means. */
template <int MinBlocks>
__global__ void __launch_bounds__(GP_CU_FLOW_THREADS, MinBlocks)
k_member_sample(const gp_cu_chain ch, int rows)
{
    __shared__ __align__(16) gp_cu_cond_w w;
    for (int base = blockIdx.x * blockDim.x; base < rows; base += gridDim.x * blockDim.x) {
        const int r = base + (int)threadIdx.x, on = r < rows;
        const int g = on ? ch.row_gal[r] : 0;
        const size_t gh = (size_t)g * GP_CU_FLOW_H;
        float xc[4] = { 0, 0, 0, 0 }, xo = 0.0f, xl[4] = { 0, 0, 0, 0 };
        if (on) gp_cu_member_noise(r, &ch, xc, &xo, xl);
        /* steps 0..ncore-1: core couplings ncore-1..0; step ncore: O/H;
         * then line couplings nline-1..0 (one copy of the coupling code) */
        for (int s = 0; s <= ch.ncore + ch.nline; s++) {
            if (s == ch.ncore) {
                if (on)
                    for (int d = 0; d < 4; d++) xc[d] += ch.head[(size_t)g * 5 + d];
                stage(ch, ch.ncore + ch.nline, ch.oh.nmid, &w);
                if (on) xo = gp_cu_oh_inverse(&ch, &w, ch.oh.G + gh, xc, xo, ch.head[(size_t)g * 5 + 4]);
                continue;
            }
            const int line = s > ch.ncore, i = line ? ch.ncore + ch.nline - s : ch.ncore - 1 - s;
            const gp_cu_flowstep *st = line ? &ch.line[i] : &ch.core[i];
            stage(ch, line ? ch.ncore + i : i, st->c.nmid, &w);
            if (on) gp_cu_flowstep_inverse(st, &w, st->c.G + gh, line ? ch.line_S : ch.core_S, ch.act, ch.slope,
                                           line ? xl : xc);
        }
        if (on) gp_cu_member_store(r, &ch, xc, xo, xl);
    }
}

static_assert(sizeof(gp_cu_chain) <= 4000, "the chain must fit a kernel's 4 KB of arguments");

int gp_cuda_member_sample_fits(gp_backend *be, const gp_net *net, int k)
{
    (void)be;
    gp_cu_chain ch;
    return net && gp_cu_chain_fill(net, k, &ch);
}

/* Member mm's conditioner j in the chain's packed order (core couplings,
 * line couplings, O/H), ncore and nline couplings. */
static const gp_cond_mlp *member_cond(const gp_member *mm, int ncore, int nline, int j)
{
    if (j < ncore) return &mm->core_flow.layer[j].cond;
    if (j < ncore + nline) return &mm->line_flow.layer[j - ncore].cond;
    return &mm->oh_flow.cond;
}

/* The packing and the sampling kernels for ch (its context terms, index
 * arrays and outputs filled; packed: nterms x GP_CU_COND_W_FLOATS). */
static int launch(gp_cuda *c, const gp_cu_chain &ch, int nterms, int rows, const char *what, gp_error *err)
{
    k_pack<<<(unsigned)((nterms * GP_CU_COND_W_FLOATS + 255) / 256), 256, 0, c->stream>>>(ch, nterms,
                                                                                      (float *)ch.packed);
    GP_CU_LAUNCHED(err, what);
    unsigned blocks = (unsigned)((rows + GP_CU_FLOW_THREADS - 1) / GP_CU_FLOW_THREADS);
    /* registers: ~225 a thread and no spill at 2 blocks an SM (the default),
     * or 168 with ~50 bytes spilled at 3 (GP_CUDA_FLOW_OCC=3) */
    if (c->flow_occ3) k_member_sample<3><<<blocks, GP_CU_FLOW_THREADS, 0, c->stream>>>(ch, rows);
    else k_member_sample<2><<<blocks, GP_CU_FLOW_THREADS, 0, c->stream>>>(ch, rows);
    GP_CU_LAUNCHED(err, what);
    return GP_OK;
}

int gp_cuda_member_sample(gp_backend *be, const gp_net *net, int k, uint64_t seed, const uint64_t *gal_id,
                          const int *row_gal, const int *sample_idx, int rows, const float *trunk,
                          const float *head, const float *lhead, int ngal, float *core, float *oh,
                          float *line, gp_error *err)
{
    gp_cuda *c = gp_cuda_of(be);
    if (!net || k < 0 || k >= net->K || rows < 0 || ngal < 1)
        return GP_FAIL(err, GP_ERR_ARG, "CUDA member_sample: member %d of %d, %d rows, %d galaxies", k,
                       net ? net->K : 0, rows, ngal);
    if (rows == 0) return GP_OK;
    gp_cu_chain ch;
    if (!gp_cu_chain_fill(net, k, &ch))
        return GP_FAIL(err, GP_ERR_ARG, "CUDA member_sample: member %d's conditioners are not %d wide with "
                       "at most %d hidden layers (member_sample_fits says so; compose the flows)",
                       k, GP_CU_FLOW_H, GP_CU_COND_MID);
    char what[96];
    snprintf(what, sizeof what, "member_sample %d rows of %d galaxies (member %d)", rows, ngal, k);
    for (int r = 0; r < rows; r++)
        if (row_gal[r] < 0 || row_gal[r] >= ngal)
            return GP_FAIL(err, GP_ERR_ARG, "CUDA %s: row %d maps to galaxy %d", what, r, row_gal[r]);
    int st = gp_cuda_enter(c, what, err);
    if (st) return st;
    /* context terms G = trunk W_ctx^T + b0 (the composed path's dense), one
     * [ngal x H] block per conditioner, then the packed conditioners */
    const size_t per = (size_t)ngal * GP_CU_FLOW_H;
    const int nterms = ch.ncore + ch.nline + 1;
    float *G = (float *)be->ops->alloc(be, sizeof(float) * (per + GP_CU_COND_W_FLOATS) * (size_t)nterms);
    if (!G) return GP_FAIL(err, GP_ERR_NOMEM, "CUDA %s: cannot allocate %d context terms", what, nterms);
    for (int j = 0; j < nterms && !st; j++) {
        const gp_cond_mlp *cm = member_cond(&net->member[k], ch.ncore, ch.nline, j);
        float *Gj = G + per * (size_t)j;
        ((gp_cu_cond *)gp_cu_chain_cond(&ch, j))->G = Gj;
        st = gp_cuda_dense(be, trunk, ngal, cm->nctx, cm->w_ctx, cm->net.layer[0].b, cm->net.layer[0].out,
                           GP_ACT_NONE, 0.0f, Gj, err);
    }
    const void *d_id = NULL, *d_rg = NULL, *d_si = NULL;
    if (!st) st = gp_cuda_index(c, gal_id, sizeof(uint64_t) * (size_t)ngal, &d_id, what, err);
    if (!st) st = gp_cuda_index(c, row_gal, sizeof(int) * (size_t)rows, &d_rg, what, err);
    if (!st) st = gp_cuda_index(c, sample_idx, sizeof(int) * (size_t)rows, &d_si, what, err);
    if (!st) {
        ch.head = head;
        ch.lhead = lhead;
        ch.seed = seed;
        ch.gal_id = (const uint64_t *)d_id;
        ch.row_gal = (const int *)d_rg;
        ch.sample_idx = (const int *)d_si;
        ch.out_core = core;
        ch.out_oh = oh;
        ch.out_line = line;
        ch.packed = G + per * (size_t)nterms;   /* (16-byte aligned: per is a multiple of 64) */
        st = launch(c, ch, nterms, rows, what, err);
    }
    be->ops->free(be, G);   /* stream-ordered: after the kernels */
    return st;
}
