/*
 * gp_cpu_flows.c: the CPU backend's member_sample operation (gp_backend.h):
 * posterior sampling of one ensemble member fused over blocks of rows.
 *
 * Every sample row goes through its own chain (base noise, 12 core
 * couplings, O/H, 12 line couplings) that touches no other row, so the
 * chain runs block by block (GP_FLOW_BLOCK rows, ~40 KB of activations in
 * L1/L2) with one parallel region per call instead of one pass over all
 * rows per operation.  Each conditioner's first layer is split as in
 * gp_cond_mlp_forward: the context part W_ctx trunk + b once per galaxy
 * before the region, the row part (1 to 4 inputs) as a short loop; hidden
 * and output layers run on the block through the AVX-512 row GEMM or the
 * fixed-order dense kernel (gp_cpu_dense_rows.c; OpenBLAS's sgemm sums in
 * an order that depends on the number of rows).  A row's
 * arithmetic does not depend on the block it falls in, the batch or the
 * thread count, so samples are bit-identical in any batch with any number
 * of threads; they equal the composed path's (gp_realnvp_apply) up to the
 * order of the sums of the first layer's 1-4 row inputs.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "galpost/gp_model.h"
#include "gp_cpu.h"
#include "gp_cpu_math.h"
#include "gp_net.h"
#include "gp_parallel.h"
#include "gp_rng.h"

#define GP_FLOW_BLOCK 60   /* 10 of the row GEMM's 6-row tiles, 15 of the dense kernel's 4-row tiles (64 left a part-empty tile in each) */

typedef struct flow_job {
    gp_backend *be;
    const gp_net *net;
    const gp_member *mm;
    uint64_t seed;
    const uint64_t *gal_id;
    const int *row_gal, *sample_idx;
    int rows, ngal, width;        /* width: widest conditioner layer */
    const float *head, *lhead;
    const float *Gcore, *Gline, *Goh;   /* [couplings x ngal x H] context terms (+ first bias) */
    float *core, *oh, *line;
    int failed;
} flow_job;

static void act_inplace(float *x, size_t n, gp_act act, float slope)
{
    gp_cpu_bias_act_row(x, n, 0.0f, act, slope);
}

/* h[r][u] = (sum_i x[r][i] w[u][i]) + g[row_gal[r]][u], summed in i order,
 * vectorized over u through wt = w transposed [nrow x H]; with leaky = 1,
 * then the leaky ReLU exactly as gp_cpu_bias_act_row with a zero bias
 * applies it (v = h + 0, v > 0 ? v : slope v), in the same pass */
GP_CPU_HOT static void first_layer(const float *x, int R, int nrow, const float *wt, int H, const float *G,
                                   const int *rg, int leaky, float slope, float *h)
{
    for (int r = 0; r < R; r++) {
        float *o = h + (size_t)r * H;
        const float *xr = x + (size_t)r * nrow, *g = G + (size_t)rg[r] * H;
        for (int u = 0; u < H; u++) o[u] = xr[0] * wt[u];
        for (int i = 1; i < nrow; i++)
            for (int u = 0; u < H; u++) o[u] += xr[i] * wt[(size_t)i * H + u];
        if (leaky)
            for (int u = 0; u < H; u++) { float v = (o[u] + g[u]) + 0.0f; o[u] = v > 0.0f ? v : slope * v; }
        else
            for (int u = 0; u < H; u++) o[u] += g[u];
    }
}

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
/* first_layer for H = 64 with AVX-512: a row's 64 sums in four registers
 * (the same multiplications and additions in the same order, no fused
 * multiply-add, so the same bits), stored once; the generic loops spent
 * more on the vectorizer's loop control than on the arithmetic. */
__attribute__((target("avx512f")))
static void first_layer64_avx512(const float *x, int R, int nrow, const float *wt, const float *G, const int *rg,
                                 int leaky, float slope, float *h)
{
    const __m512 zero = _mm512_setzero_ps(), vs = _mm512_set1_ps(slope);
    for (int r = 0; r < R; r++) {
        const float *xr = x + (size_t)r * nrow, *g = G + (size_t)rg[r] * 64;
        __m512 o[4];
        __m512 x0 = _mm512_set1_ps(xr[0]);
#pragma GCC unroll 4
        for (int v = 0; v < 4; v++) o[v] = _mm512_mul_ps(x0, _mm512_loadu_ps(wt + 16 * v));
        for (int i = 1; i < nrow; i++) {
            __m512 xi = _mm512_set1_ps(xr[i]);
#pragma GCC unroll 4
            for (int v = 0; v < 4; v++)
                o[v] = _mm512_add_ps(o[v], _mm512_mul_ps(xi, _mm512_loadu_ps(wt + (size_t)i * 64 + 16 * v)));
        }
#pragma GCC unroll 4
        for (int v = 0; v < 4; v++) {
            __m512 y = _mm512_add_ps(o[v], _mm512_loadu_ps(g + 16 * v));
            if (leaky) {
                y = _mm512_add_ps(y, zero);
                y = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(y, zero, _CMP_GT_OQ), _mm512_mul_ps(vs, y), y);
            }
            _mm512_storeu_ps(h + (size_t)r * 64 + 16 * v, y);
        }
    }
}
#endif

/* Conditioner on a block: Y [R x out] from xrow [R x nrow] and the
 * per-galaxy first-layer term G [ngal x H]. h0, h1: R x width scratch. */
static void cond_block(const flow_job *j, const gp_cond_mlp *c, const float *G, const int *rg, int R,
                       const float *xrow, float *h0, float *h1, float *Y)
{
    const gp_net *net = j->net;
    const gp_dense *l0 = &c->net.layer[0];
    const int H = l0->out, nrow = c->nrow;
    int single = c->net.nlayers == 1;
    float *h = single ? Y : h0;
    float wrt[GP_FLOW_MAX_DIM * 256];
    /* the hidden layer's activation fused into the first layer's pass */
    int fused = !single && net->act == GP_ACT_LEAKY_RELU;
    if (nrow <= GP_FLOW_MAX_DIM && H <= 256) {
        for (int u = 0; u < H; u++)
            for (int i = 0; i < nrow; i++) wrt[(size_t)i * H + u] = c->w_row[(size_t)u * nrow + i];
#if defined(__GNUC__) && defined(__x86_64__)
        if (H == 64 && gp_cpu_have_avx512())
            first_layer64_avx512(xrow, R, nrow, wrt, G, rg, fused, net->slope, h);
        else
#endif
            first_layer(xrow, R, nrow, wrt, H, G, rg, fused, net->slope, h);
    } else {
        fused = 0;
        for (int r = 0; r < R; r++) {
            const float *g = G + (size_t)rg[r] * H, *x = xrow + (size_t)r * nrow;
            float *o = h + (size_t)r * H;
            for (int u = 0; u < H; u++) {
                const float *w = c->w_row + (size_t)u * nrow;
                float acc = x[0] * w[0];
                for (int i = 1; i < nrow; i++) acc += x[i] * w[i];
                o[u] = acc + g[u];
            }
        }
    }
    if (single) {
        if (c->net.act_last) act_inplace(Y, (size_t)R * H, net->act, net->slope);
        return;
    }
    if (!fused) act_inplace(h0, (size_t)R * H, net->act, net->slope);
    const float *in = h0;
    for (int i = 1; i < c->net.nlayers; i++) {
        const gp_dense *d = &c->net.layer[i];
        int last = i == c->net.nlayers - 1;
        float *out = last ? Y : (in == h0 ? h1 : h0);
        gp_act a = (!last || c->net.act_last) ? net->act : GP_ACT_NONE;
        const float *wt = NULL;
        if (d->out % 64 == 0 && gp_cpu_have_avx512() && a != GP_ACT_TANH && a != GP_ACT_SIGMOID)
            wt = gp_cpu_dense_wt(j->be, d->W, d->out, d->in);
        if (wt) {
            gp_cpu_gemm_rows64_avx512(in, R, d->in, wt, d->out, d->b, a, net->slope, out);
        } else if (gp_cpu_dense_rows(in, R, d->in, d->W, d->out, d->b, out) == 0) {
            gp_cpu_bias_act_cols(out, R, d->out, (size_t)d->out, NULL, a, net->slope);
        } else {   /* no memory for the partial sums: right values, not in the fixed order */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, R, d->out, d->in, 1.0f, in, d->in, d->W, d->in,
                        0.0f, out, d->out);
            gp_cpu_bias_act_cols(out, R, d->out, (size_t)d->out, d->b, a, net->slope);
        }
        in = out;
    }
}

/* x_t = (x_t - t) exp(-s), s = S tanh(s_raw / S): sampling direction */
static void couple_inverse(float *x, int R, int dim, const int *tidx, int nt, const float *st, float S)
{
    for (int r = 0; r < R; r++) {
        float *xr = x + (size_t)r * dim;
        const float *sr = st + (size_t)r * 2 * nt;
        for (int k = 0; k < nt; k++) {
            float s = S * tanhf(sr[k] / S), t = sr[nt + k];
            xr[tidx[k]] = (xr[tidx[k]] - t) * expf(-s);
        }
    }
}

static void realnvp_block(const flow_job *j, const gp_realnvp *f, const float *G, const int *rg, int R,
                          float *x, float *xk, float *st, float *h0, float *h1)
{
    for (int i = f->nlayers - 1; i >= 0; i--) {
        const gp_coupling *c = &f->layer[i];
        for (int r = 0; r < R; r++)
            for (int k = 0; k < c->nkeep; k++) xk[(size_t)r * c->nkeep + k] = x[(size_t)r * f->dim + c->keep[k]];
        cond_block(j, &c->cond, G + (size_t)i * j->ngal * c->cond.net.layer[0].out, rg, R, xk, h0, h1, st);
        couple_inverse(x, R, f->dim, c->trans, c->nt, st, f->scale_bound);
    }
}

static void blocks_range(void *ctx, size_t begin, size_t end)
{
    flow_job *j = ctx;
    const gp_member *mm = j->mm;
    const size_t W = (size_t)j->width, B = GP_FLOW_BLOCK;
    /* xc, xo, xl, xk, st, h0, h1 */
    float *s = gp_cpu_thread_scratch(B * (4 + 1 + 4 + 4 + 2 * GP_FLOW_MAX_DIM) + 2 * B * W);
    if (!s) { j->failed = 1; return; }
    float *xc = s, *xo = xc + B * 4, *xl = xo + B, *xk = xl + B * 4, *st = xk + B * 4;
    float *h0 = st + B * 2 * GP_FLOW_MAX_DIM, *h1 = h0 + B * W;
    for (size_t blk = begin; blk < end; blk++) {
        int r0 = (int)(blk * B), R = j->rows - r0 < (int)B ? j->rows - r0 : (int)B;
        const int *rg = j->row_gal + r0;
        for (int r = 0; r < R; r++) {
            uint64_t id = j->gal_id[rg[r]];
            uint32_t smp = (uint32_t)j->sample_idx[r0 + r];
            float n4[4];
            gp_rng_normals4(j->seed, id, smp, GP_STREAM_CORE, xc + (size_t)r * 4);
            gp_rng_normals4(j->seed, id, smp, GP_STREAM_OH, n4);
            xo[r] = n4[0];
            gp_rng_normals4(j->seed, id, smp, GP_STREAM_LINE, xl + (size_t)r * 4);
        }
        /* core: noise -> residual -> + head means (standardized values) */
        realnvp_block(j, &mm->core_flow, j->Gcore, rg, R, xc, xk, st, h0, h1);
        for (int r = 0; r < R; r++)
            for (int d = 0; d < GP_NCORE; d++) xc[(size_t)r * 4 + d] += j->head[(size_t)rg[r] * (GP_NCORE + 1) + d];
        /* O/H given the sampled core values */
        cond_block(j, &mm->oh_flow.cond, j->Goh, rg, R, xc, h0, h1, st);
        static const int only[1] = { 0 };
        couple_inverse(xo, R, 1, only, 1, st, mm->oh_flow.scale_bound);
        for (int r = 0; r < R; r++) xo[r] += j->head[(size_t)rg[r] * (GP_NCORE + 1) + GP_NCORE];
        /* lines */
        realnvp_block(j, &mm->line_flow, j->Gline, rg, R, xl, xk, st, h0, h1);
        for (int r = 0; r < R; r++)
            for (int d = 0; d < GP_NLINE; d++) xl[(size_t)r * 4 + d] += j->lhead[(size_t)rg[r] * GP_NLINE + d];
        memcpy(j->core + (size_t)r0 * GP_NCORE, xc, sizeof(float) * (size_t)R * GP_NCORE);
        memcpy(j->oh + r0, xo, sizeof(float) * (size_t)R);
        memcpy(j->line + (size_t)r0 * GP_NLINE, xl, sizeof(float) * (size_t)R * GP_NLINE);
    }
}

/* G [ngal x H] = trunk W_ctx^T + b for one conditioner */
static void context_term(const gp_cond_mlp *c, const float *trunk, int ngal, float *G)
{
    const gp_dense *l0 = &c->net.layer[0];
    /* a galaxy's context must not depend on the batch: the fixed-order kernel */
    if (gp_cpu_dense_rows(trunk, ngal, c->nctx, c->w_ctx, l0->out, l0->b, G) == 0) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, ngal, l0->out, c->nctx, 1.0f, trunk, c->nctx,
                c->w_ctx, c->nctx, 0.0f, G, l0->out);
    gp_cpu_bias_act_cols(G, ngal, l0->out, (size_t)l0->out, l0->b, GP_ACT_NONE, 0.0f);
}

/* The context terms of the conditioners, one conditioner per item, over
 * the backend's threads (each G written by one thread, with the same
 * kernel, so the same bits as in one thread; serial, they were ~1% of the
 * pipeline's wall time with one of two threads idle). */
typedef struct context_job {
    const gp_cond_mlp *cond[2 * GP_FLOW_MAX_LAYERS + 1];
    float *G[2 * GP_FLOW_MAX_LAYERS + 1];
    const float *trunk;
    int ngal;
} context_job;

static void context_items(void *ctx, size_t begin, size_t end)
{
    context_job *c = ctx;
    for (size_t i = begin; i < end; i++) context_term(c->cond[i], c->trunk, c->ngal, c->G[i]);
}

static int cond_width(const gp_cond_mlp *c)
{
    return gp_mlp_width(&c->net);
}

int gp_cpu_member_sample(gp_backend *be, const gp_net *net, int k, uint64_t seed, const uint64_t *gal_id,
                         const int *row_gal, const int *sample_idx, int rows, const float *trunk,
                         const float *head, const float *lhead, int ngal, float *core, float *oh,
                         float *line, gp_error *err)
{
    if (k < 0 || k >= net->K || rows < 0 || ngal < 1)
        return GP_FAIL(err, GP_ERR_ARG, "member_sample: member %d of %d, %d rows, %d galaxies", k, net->K, rows, ngal);
    if (rows == 0) return GP_OK;
    const gp_member *mm = &net->member[k];
    const gp_realnvp *fc = &mm->core_flow, *fl = &mm->line_flow;
    if (fc->dim != GP_NCORE || fl->dim != GP_NLINE)
        return GP_FAIL(err, GP_ERR_ARG, "member_sample: flows of %d and %d dimensions", fc->dim, fl->dim);
    /* context terms of every conditioner: sizes */
    size_t nG = 0;
    int width = cond_width(&mm->oh_flow.cond);
    for (int i = 0; i < fc->nlayers; i++) {
        nG += (size_t)ngal * fc->layer[i].cond.net.layer[0].out;
        if (cond_width(&fc->layer[i].cond) > width) width = cond_width(&fc->layer[i].cond);
    }
    for (int i = 0; i < fl->nlayers; i++) {
        nG += (size_t)ngal * fl->layer[i].cond.net.layer[0].out;
        if (cond_width(&fl->layer[i].cond) > width) width = cond_width(&fl->layer[i].cond);
    }
    /* the per-layer G offsets assume one H per flow (realnvp_block indexes i x ngal x H) */
    for (int i = 1; i < fc->nlayers; i++)
        if (fc->layer[i].cond.net.layer[0].out != fc->layer[0].cond.net.layer[0].out)
            return GP_FAIL(err, GP_ERR_ARG, "member_sample: core flow conditioners of different widths");
    for (int i = 1; i < fl->nlayers; i++)
        if (fl->layer[i].cond.net.layer[0].out != fl->layer[0].cond.net.layer[0].out)
            return GP_FAIL(err, GP_ERR_ARG, "member_sample: line flow conditioners of different widths");
    nG += (size_t)ngal * mm->oh_flow.cond.net.layer[0].out;
    float *G = malloc(sizeof(float) * nG);
    if (!G) return GP_FAIL(err, GP_ERR_NOMEM, "member_sample: cannot allocate %zu context floats", nG);
    gp_blas_set_threads(1);
    float *pos = G;
    flow_job j = { be, net, mm, seed, gal_id, row_gal, sample_idx, rows, ngal, width, head, lhead,
                   NULL, NULL, NULL, core, oh, line, 0 };
    context_job cj;
    size_t nc = 0;
    cj.trunk = trunk;
    cj.ngal = ngal;
    j.Gcore = pos;
    for (int i = 0; i < fc->nlayers; i++) {
        cj.cond[nc] = &fc->layer[i].cond;
        cj.G[nc++] = pos;
        pos += (size_t)ngal * fc->layer[i].cond.net.layer[0].out;
    }
    j.Gline = pos;
    for (int i = 0; i < fl->nlayers; i++) {
        cj.cond[nc] = &fl->layer[i].cond;
        cj.G[nc++] = pos;
        pos += (size_t)ngal * fl->layer[i].cond.net.layer[0].out;
    }
    j.Goh = pos;
    cj.cond[nc] = &mm->oh_flow.cond;
    cj.G[nc++] = pos;
    gp_parallel_for(be->threads, nc, context_items, &cj);
    size_t nblk = ((size_t)rows + GP_FLOW_BLOCK - 1) / GP_FLOW_BLOCK;
    gp_parallel_dynamic(be->threads, nblk, blocks_range, &j);   /* a block per claim */
    free(G);
    if (j.failed) return GP_FAIL(err, GP_ERR_NOMEM, "member_sample: out of memory for per-thread scratch");
    return GP_OK;
}
