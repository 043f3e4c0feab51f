/*
 * gp_train_layers.c: MLPs and conditional flows, forward and backward, on
 * the backend interface.  The forward passes compute exactly what
 * gp_net_forward.c computes at inference (the conditioner's input is the
 * concatenation [x_kept, context] that the inference code splits), in the
 * density direction (data -> base) of the flows.
 */
#include <stdlib.h>
#include <string.h>

#include "gp_train.h"

#define TRY(x) do { int st_ = (x); if (st_) return st_; } while (0)

static float *balloc(gp_backend *be, size_t floats)
{
    return be->ops->alloc(be, sizeof(float) * (floats ? floats : 1));
}

int gp_tmlp_bind(gp_tmlp *m, const gp_tparams *ps, const char *prefix, int in, int act_last,
                 gp_act act, float slope, int cap, gp_error *err)
{
    gp_backend *be = ps->be;
    memset(m, 0, sizeof *m);
    m->in = in;
    m->act_last = act_last;
    m->act = act;
    m->slope = slope;
    m->cap = cap;
    int prev = in, width = in;
    for (int i = 0; i < GP_MLP_MAX_LAYERS; i++) {
        char key[GP_WEIGHTS_NAME_MAX + 1];
        snprintf(key, sizeof key, "%s.%d.weight", prefix, i);
        gp_tparam *W = gp_tparams_find(ps, key);
        if (!W) break;
        snprintf(key, sizeof key, "%s.%d.bias", prefix, i);
        gp_tparam *b = gp_tparams_find(ps, key);
        if (!b || W->ndim != 2 || W->dims[1] != prev || b->n != (size_t)W->dims[0])
            return GP_FAIL(err, GP_ERR_FORMAT, "MLP '%s' layer %d: weight/bias missing or not [out x %d]",
                           prefix, i, prev);
        m->W[i] = W;
        m->b[i] = b;
        m->out[i] = (int)W->dims[0];
        prev = m->out[i];
        if (prev > width) width = prev;
        m->nl = i + 1;
    }
    if (m->nl == 0) return GP_FAIL(err, GP_ERR_NOTFOUND, "MLP '%s': no layer '%s.0.weight'", prefix, prefix);
    m->width = width;
    for (int i = 0; i < m->nl; i++)
        if (!(m->y[i] = balloc(be, (size_t)cap * m->out[i])))
            return GP_FAIL(err, GP_ERR_NOMEM, "MLP '%s': cannot allocate activations", prefix);
    m->g0 = balloc(be, (size_t)cap * width);
    m->g1 = balloc(be, (size_t)cap * width);
    if (!m->g0 || !m->g1) return GP_FAIL(err, GP_ERR_NOMEM, "MLP '%s': cannot allocate gradients", prefix);
    return GP_OK;
}

void gp_tmlp_free(gp_tmlp *m, gp_backend *be)
{
    for (int i = 0; i < m->nl; i++) be->ops->free(be, m->y[i]);
    be->ops->free(be, m->g0);
    be->ops->free(be, m->g1);
    memset(m, 0, sizeof *m);
}

int gp_tmlp_forward(gp_backend *be, gp_tmlp *m, const float *X, int rows, float **Y, gp_error *err)
{
    if (rows > m->cap) return GP_FAIL(err, GP_ERR_ARG, "MLP: %d rows exceed the capacity %d", rows, m->cap);
    m->x = X;
    const float *in = X;
    int prev = m->in;
    for (int i = 0; i < m->nl; i++) {
        gp_act a = (i < m->nl - 1 || m->act_last) ? m->act : GP_ACT_NONE;
        TRY(be->ops->dense(be, in, rows, prev, m->W[i]->w, m->b[i]->w, m->out[i], a, m->slope, m->y[i], err));
        in = m->y[i];
        prev = m->out[i];
    }
    *Y = m->y[m->nl - 1];
    return GP_OK;
}

int gp_tmlp_backward(gp_backend *be, gp_tmlp *m, int rows, float *dY, float *dX, gp_error *err)
{
    float *g = dY;
    for (int i = m->nl - 1; i >= 0; i--) {
        gp_act a = (i < m->nl - 1 || m->act_last) ? m->act : GP_ACT_NONE;
        if (a != GP_ACT_NONE)
            TRY(be->ops->act_backward(be, m->y[i], g, (size_t)rows * m->out[i], a, m->slope, g, err));
        const float *input = i == 0 ? m->x : m->y[i - 1];
        int in = i == 0 ? m->in : m->out[i - 1];
        float *gx = i == 0 ? dX : (g == m->g0 ? m->g1 : m->g0);
        TRY(be->ops->dense_backward(be, input, rows, in, m->W[i]->w, m->out[i], g, gx,
                                    m->W[i]->g, m->b[i]->g, err));
        g = gx;
    }
    return GP_OK;
}

/* ------------------------------------------------------------- flows */

static int flow_alloc(gp_tflow *f, gp_backend *be, gp_error *err)
{
    int maxin = 0;
    for (int l = 0; l < f->nl; l++) {
        int nin = (f->nrowin ? f->nrowin : f->nkeep[l]) + f->ctx;
        if (nin > maxin) maxin = nin;
    }
    f->xs = balloc(be, (size_t)(f->nl + 1) * f->cap * f->dim);
    f->in = balloc(be, (size_t)f->nl * f->cap * maxin);
    f->dst = balloc(be, (size_t)f->cap * 2 * f->dim);
    f->din = balloc(be, (size_t)f->cap * maxin);
    f->ldw = balloc(be, (size_t)f->cap);
    f->ld = be->ops->alloc(be, sizeof(double) * (size_t)(f->cap ? f->cap : 1));
    if (!f->xs || !f->in || !f->dst || !f->din || !f->ldw || !f->ld)
        return GP_FAIL(err, GP_ERR_NOMEM, "flow: cannot allocate buffers for %d rows", f->cap);
    return GP_OK;
}

int gp_tflow_bind_realnvp(gp_tflow *f, const gp_tparams *ps, const gp_weights *w, const char *prefix,
                          const char *metakey, int dim, int ctx, gp_act act, float slope, int cap,
                          gp_error *err)
{
    memset(f, 0, sizeof *f);
    f->dim = dim;
    f->ctx = ctx;
    f->cap = cap;
    char key[GP_WEIGHTS_NAME_MAX + 1];
    int64_t nl;
    snprintf(key, sizeof key, "%s.couplings", metakey);
    TRY(gp_weights_meta_i64(w, key, &nl, err));
    if (nl < 1 || nl > GP_FLOW_MAX_LAYERS) return GP_FAIL(err, GP_ERR_FORMAT, "metadata '%s' = %lld", key, (long long)nl);
    f->nl = (int)nl;
    double S;
    snprintf(key, sizeof key, "%s.scale_bound", metakey);
    TRY(gp_weights_meta_f64(w, key, &S, err));
    f->S = (float)S;
    const int64_t *masks;
    size_t nm;
    snprintf(key, sizeof key, "%s.masks", metakey);
    TRY(gp_weights_meta_i64_array(w, key, &masks, &nm, err));
    if (nm != (size_t)f->nl * dim) return GP_FAIL(err, GP_ERR_FORMAT, "metadata '%s' has %zu values", key, nm);
    for (int l = 0; l < f->nl; l++) {
        for (int d = 0; d < dim; d++) {
            if (masks[l * dim + d]) f->keep[l][f->nkeep[l]++] = d;
            else f->trans[l][f->nt[l]++] = d;
        }
        if (!f->nkeep[l] || !f->nt[l]) return GP_FAIL(err, GP_ERR_FORMAT, "metadata '%s': coupling %d is degenerate", key, l);
        snprintf(key, sizeof key, "%s.%d.net", prefix, l);
        TRY(gp_tmlp_bind(&f->cond[l], ps, key, f->nkeep[l] + ctx, 0, act, slope, cap, err));
        if (f->cond[l].out[f->cond[l].nl - 1] != 2 * f->nt[l])
            return GP_FAIL(err, GP_ERR_FORMAT, "flow '%s' coupling %d: conditioner gives %d outputs, expected %d",
                           prefix, l, f->cond[l].out[f->cond[l].nl - 1], 2 * f->nt[l]);
    }
    return flow_alloc(f, ps->be, err);
}

int gp_tflow_bind_affine1d(gp_tflow *f, const gp_tparams *ps, const gp_weights *w, const char *prefix,
                           int nrowin, int ctx, gp_act act, float slope, int cap, gp_error *err)
{
    memset(f, 0, sizeof *f);
    f->dim = 1;
    f->ctx = ctx;
    f->cap = cap;
    f->nl = 1;
    f->nrowin = nrowin;
    f->nt[0] = 1;
    f->trans[0][0] = 0;
    double S;
    TRY(gp_weights_meta_f64(w, "flow.oh.scale_bound", &S, err));
    f->S = (float)S;
    TRY(gp_tmlp_bind(&f->cond[0], ps, prefix, nrowin + ctx, 0, act, slope, cap, err));
    if (f->cond[0].out[f->cond[0].nl - 1] != 2)
        return GP_FAIL(err, GP_ERR_FORMAT, "flow '%s': conditioner must give 2 outputs", prefix);
    return flow_alloc(f, ps->be, err);
}

void gp_tflow_free(gp_tflow *f, gp_backend *be)
{
    for (int l = 0; l < f->nl; l++) gp_tmlp_free(&f->cond[l], be);
    be->ops->free(be, f->xs);
    be->ops->free(be, f->in);
    be->ops->free(be, f->dst);
    be->ops->free(be, f->din);
    be->ops->free(be, f->ldw);
    be->ops->free(be, f->ld);
    memset(f, 0, sizeof *f);
}

static int nin_of(const gp_tflow *f, int l) { return (f->nrowin ? f->nrowin : f->nkeep[l]) + f->ctx; }

int gp_tflow_nll_forward(gp_backend *be, gp_tflow *f, const float *r, const float *rowin,
                         const float *ctx, const float *mask, int rows, double w, double *loss,
                         gp_error *err)
{
    if (rows > f->cap) return GP_FAIL(err, GP_ERR_ARG, "flow: %d rows exceed the capacity %d", rows, f->cap);
    const gp_backend_ops *o = be->ops;
    size_t xsz = (size_t)f->cap * f->dim;
    TRY(o->copy_cols(be, r, rows, f->dim, 0, f->xs, f->dim, 0, f->dim, 0, err));
    /* log-determinants accumulate in backend memory (coupling's contract) */
    TRY(o->zero(be, f->ld, sizeof(double) * (size_t)rows, err));
    double *ld = malloc(sizeof(double) * (size_t)(rows ? rows : 1));
    float *hm = malloc(sizeof(float) * (size_t)(rows ? rows : 1));
    if (!ld || !hm) { free(ld); free(hm); return GP_FAIL(err, GP_ERR_NOMEM, "flow: cannot allocate log-determinants"); }
    int st = GP_OK;
    for (int l = 0; l < f->nl && !st; l++) {
        int nin = nin_of(f, l);
        float *x = f->xs + (size_t)l * xsz, *xn = x + xsz;
        float *in = f->in + (size_t)l * f->cap * nin;
        int nk = f->nrowin ? f->nrowin : f->nkeep[l];
        if (f->nrowin) st = o->copy_cols(be, rowin, rows, f->nrowin, 0, in, nin, 0, f->nrowin, 0, err);
        else
            for (int j = 0; j < nk && !st; j++)
                st = o->copy_cols(be, x, rows, f->dim, f->keep[l][j], in, nin, j, 1, 0, err);
        if (!st) st = o->copy_cols(be, ctx, rows, f->ctx, 0, in, nin, nk, f->ctx, 0, err);
        if (!st) st = gp_tmlp_forward(be, &f->cond[l], in, rows, &f->st[l], err);
        if (!st) st = o->copy_cols(be, x, rows, f->dim, 0, xn, f->dim, 0, f->dim, 0, err);
        if (!st) st = o->coupling(be, xn, rows, f->dim, f->trans[l], f->nt[l], f->st[l], f->S, +1, f->ld, err);
    }
    if (!st && loss) st = o->download(be, ld, f->ld, sizeof(double) * (size_t)rows, err);
    if (!st && loss) {
        const float *z = f->xs + (size_t)f->nl * xsz;
        st = o->normal_nll(be, z, mask, rows, f->dim, w, loss, NULL, err);
        if (!st && mask) st = o->download(be, hm, mask, sizeof(float) * (size_t)rows, err);
        double acc = 0.0;
        for (int i = 0; i < rows; i++) acc += (mask ? hm[i] : 1.0) * ld[i];
        *loss -= w * acc;
    }
    free(ld);
    free(hm);
    return st;
}

int gp_tflow_nll_backward(gp_backend *be, gp_tflow *f, const float *mask, int rows, double w,
                          float *dctx, float *dr, gp_error *err)
{
    const gp_backend_ops *o = be->ops;
    size_t xsz = (size_t)f->cap * f->dim;
    const float *z = f->xs + (size_t)f->nl * xsz;
    float *g = f->xs + (size_t)f->nl * xsz;   /* reuse the output slot for dz (z no longer needed after) */
    /* ld weight: -w mask */
    if (mask) TRY(o->axpby(be, (float)-w, mask, 0.0f, mask, (size_t)rows, f->ldw, err));
    else {
        float *h = malloc(sizeof(float) * (size_t)(rows ? rows : 1));
        if (!h) return GP_FAIL(err, GP_ERR_NOMEM, "flow: cannot allocate weights");
        for (int i = 0; i < rows; i++) h[i] = (float)-w;
        int st = o->upload(be, f->ldw, h, sizeof(float) * (size_t)rows, err);
        free(h);
        if (st) return st;
    }
    TRY(o->normal_nll(be, z, mask, rows, f->dim, w, NULL, g, err));
    for (int l = f->nl - 1; l >= 0; l--) {
        const float *x = f->xs + (size_t)l * xsz;
        int nin = nin_of(f, l);
        int nk = f->nrowin ? f->nrowin : f->nkeep[l];
        TRY(o->coupling_backward(be, x, rows, f->dim, f->trans[l], f->nt[l], f->st[l], f->S, f->ldw, g, f->dst, err));
        TRY(gp_tmlp_backward(be, &f->cond[l], rows, f->dst, f->din, err));
        if (!f->nrowin)
            for (int j = 0; j < nk; j++)
                TRY(o->copy_cols(be, f->din, rows, nin, j, g, f->dim, f->keep[l][j], 1, 1, err));
        if (dctx) TRY(o->copy_cols(be, f->din, rows, nin, nk, dctx, f->ctx, 0, f->ctx, 1, err));
        /* the gradient moves to slot l (the input of layer l) */
        float *gl = f->xs + (size_t)l * xsz;
        if (l > 0) {
            /* x of layer l is needed no more (layer l-1 needs xs[l-1]) */
            TRY(o->copy_cols(be, g, rows, f->dim, 0, gl, f->dim, 0, f->dim, 0, err));
            g = gl;
        }
    }
    if (dr) TRY(o->copy_cols(be, g, rows, f->dim, 0, dr, f->dim, 0, f->dim, 0, err));
    return GP_OK;
}
