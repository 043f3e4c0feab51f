/*
 * gp_cuda_chain.h: an ensemble member's flows as the fused sampler's chain
 * (gp_cu_chain of gp_cuda_elem.h); internal.
 *
 * Plain C that also compiles under nvcc, so that tests/gpu/test_cuda_elem.c
 * builds the same chain from a CPU-backend model and checks
 * the fused sampler's arithmetic against the CPU backend on machines without
 * a GPU.
 */
#ifndef GALPOST_GP_CUDA_CHAIN_H
#define GALPOST_GP_CUDA_CHAIN_H

#include <string.h>

#include "gp_cuda_elem.h"
#ifdef __cplusplus
extern "C" {
#endif
#include "gp_net.h"
#ifdef __cplusplus
}
#endif

/* o = conditioner c when the fused sampler runs it (first layer of width
 * GP_CU_FLOW_H with nrow (1..4) row inputs, up to GP_CU_COND_MID hidden
 * layers H -> H, an output layer H -> nout <= 8): 1, else 0.  o->G is left
 * NULL (the caller's context terms). */
static inline int gp_cu_cond_fill(const gp_cond_mlp *c, int nrow, int nout, gp_cu_cond *o)
{
    const gp_mlp *m = &c->net;
    const int H = GP_CU_FLOW_H;
    memset(o, 0, sizeof *o);
    if (m->nlayers < 2 || m->nlayers > 2 + GP_CU_COND_MID) return 0;
    if (c->nrow != nrow || nrow < 1 || nrow > 4 || m->layer[0].out != H) return 0;
    for (int i = 1; i < m->nlayers - 1; i++) {
        if (m->layer[i].in != H || m->layer[i].out != H) return 0;
        o->w_mid[i - 1] = m->layer[i].W;
        o->b_mid[i - 1] = m->layer[i].b;
    }
    const gp_dense *last = &m->layer[m->nlayers - 1];
    if (last->in != H || last->out != nout || nout < 1 || nout > 8) return 0;
    o->w_row = c->w_row;
    o->w_out = last->W;
    o->b_out = last->b;
    o->nrow = (unsigned char)nrow;
    o->nmid = (unsigned char)(m->nlayers - 2);
    o->nout = (unsigned char)nout;
    o->act_last = (unsigned char)(m->act_last != 0);
    return 1;
}

static inline int gp_cu_flow_fill(const gp_realnvp *f, gp_cu_flowstep *s, int *n)
{
    if (f->dim != 4 || f->nlayers < 0 || f->nlayers > GP_CU_CHAIN_MAX) return 0;
    for (int i = 0; i < f->nlayers; i++) {
        const gp_coupling *c = &f->layer[i];
        if (c->nkeep < 1 || c->nkeep > 4 || c->nt < 1 || c->nt > 4) return 0;
        if (!gp_cu_cond_fill(&c->cond, c->nkeep, 2 * c->nt, &s[i].c)) return 0;
        s[i].nkeep = (unsigned char)c->nkeep;
        s[i].nt = (unsigned char)c->nt;
        for (int k = 0; k < 4; k++) {
            s[i].keep[k] = (unsigned char)(k < c->nkeep ? c->keep[k] : 0);
            s[i].trans[k] = (unsigned char)(k < c->nt ? c->trans[k] : 0);
        }
    }
    *n = f->nlayers;
    return 1;
}

/* *ch = member k of net as a chain (weights as net holds them: device
 * pointers for a net on the CUDA backend): 1 when the fused sampler runs
 * it, else 0 (the caller then composes the flows layer by layer).  The
 * context terms (each step's c.G), head, lhead, seed, index arrays and
 * outputs are the caller's to fill. */
static inline int gp_cu_chain_fill(const gp_net *net, int k, gp_cu_chain *ch)
{
    memset(ch, 0, sizeof *ch);
    if (k < 0 || k >= net->K) return 0;
    const gp_member *mm = &net->member[k];
    if (!gp_cu_flow_fill(&mm->core_flow, ch->core, &ch->ncore)) return 0;
    if (!gp_cu_flow_fill(&mm->line_flow, ch->line, &ch->nline)) return 0;
    if (!gp_cu_cond_fill(&mm->oh_flow.cond, 4, 2, &ch->oh)) return 0;
    ch->act = (int)net->act;
    ch->slope = net->slope;
    ch->core_S = mm->core_flow.scale_bound;
    ch->line_S = mm->line_flow.scale_bound;
    ch->oh_S = mm->oh_flow.scale_bound;
    return 1;
}

#endif
