/*
 * gp_train_model.c: the model's two trainable parts on the backend
 * interface: the VAE (encoder + decoder: reconstruction MSE + KL) and one
 * ensemble member of the flow stage (trunk, heads, classifier, flows).
 */
#include <stdlib.h>
#include <string.h>

#include "galpost/gp_model.h"
#include "gp_train.h"

#define TRY(x) do { int st_ = (x); if (st_) return st_; } while (0)

static float *balloc(gp_backend *be, size_t floats)
{
    return be->ops->alloc(be, sizeof(float) * (floats ? floats : 1));
}

static gp_tparam *need(const gp_tparams *ps, const char *name, size_t n, gp_error *err)
{
    gp_tparam *p = gp_tparams_find(ps, name);
    if (!p) { GP_FAIL(err, GP_ERR_NOTFOUND, "model has no tensor '%s'", name); return NULL; }
    if (p->n != n) { GP_FAIL(err, GP_ERR_FORMAT, "tensor '%s' has %zu values, expected %zu", name, p->n, n); return NULL; }
    return p;
}

/* ---------------------------------------------------------------- VAE */

int gp_tvae_bind(gp_tvae *v, const gp_tparams *ps, const gp_weights *w, int cap, gp_error *err)
{
    gp_backend *be = ps->be;
    memset(v, 0, sizeof *v);
    const int64_t *ch;
    size_t nch;
    int64_t lat;
    double slope;
    TRY(gp_weights_meta_i64_array(w, "encoder.channels", &ch, &nch, err));
    TRY(gp_weights_meta_i64(w, "encoder.latent", &lat, err));
    TRY(gp_weights_meta_f64(w, "mlp.leaky_slope", &slope, err));
    if (nch != 4) return GP_FAIL(err, GP_ERR_FORMAT, "metadata 'encoder.channels' must hold 4 values");
    v->latent = (int)lat;
    v->slope = (float)slope;
    v->cap = cap;
    for (int i = 0; i < 4; i++) { v->ch[i] = (int)ch[i]; v->hs[i] = GP_CUTOUT_SIZE >> i; }
    v->flat = v->ch[3] * v->hs[3] * v->hs[3];
    char name[64];
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "enc.conv%d.weight", i);
        if (!(v->cw[i] = need(ps, name, (size_t)v->ch[i + 1] * v->ch[i] * 16, err))) return err ? err->status : GP_ERR_FORMAT;
        snprintf(name, sizeof name, "enc.conv%d.bias", i);
        if (!(v->cb[i] = need(ps, name, (size_t)v->ch[i + 1], err))) return err ? err->status : GP_ERR_FORMAT;
        /* deconv i: ch[3-i] -> ch[2-i] */
        snprintf(name, sizeof name, "dec.deconv%d.weight", i);
        if (!(v->dw[i] = need(ps, name, (size_t)v->ch[3 - i] * v->ch[2 - i] * 16, err))) return err ? err->status : GP_ERR_FORMAT;
        snprintf(name, sizeof name, "dec.deconv%d.bias", i);
        if (!(v->db[i] = need(ps, name, (size_t)v->ch[2 - i], err))) return err ? err->status : GP_ERR_FORMAT;
    }
    size_t L = (size_t)v->latent, F = (size_t)v->flat;
    if (!(v->muW = need(ps, "enc.fc_mu.weight", L * F, err)) || !(v->mub = need(ps, "enc.fc_mu.bias", L, err)) ||
        !(v->lvW = need(ps, "enc.fc_logvar.weight", L * F, err)) || !(v->lvb = need(ps, "enc.fc_logvar.bias", L, err)) ||
        !(v->dfW = need(ps, "dec.fc.weight", L * F, err)) || !(v->dfb = need(ps, "dec.fc.bias", F, err)))
        return err ? err->status : GP_ERR_FORMAT;
    size_t big = 0;
    for (int i = 0; i < 4; i++) {
        size_t s = (size_t)v->ch[i] * v->hs[i] * v->hs[i];
        if (s > big) big = s;
    }
    size_t n = (size_t)cap;
    for (int i = 0; i < 3; i++) v->a[i] = balloc(be, n * v->ch[i + 1] * v->hs[i + 1] * v->hs[i + 1]);
    v->mu = balloc(be, n * L); v->lv = balloc(be, n * L); v->eps = balloc(be, n * L); v->z = balloc(be, n * L);
    v->dmu = balloc(be, n * L); v->dlv = balloc(be, n * L); v->dz = balloc(be, n * L);
    v->dfc = balloc(be, n * F);
    v->d[0] = balloc(be, n * v->ch[2] * v->hs[2] * v->hs[2]);
    v->d[1] = balloc(be, n * v->ch[1] * v->hs[1] * v->hs[1]);
    v->rec = balloc(be, n * GP_CUTOUT_PIXELS);
    v->g_big0 = balloc(be, n * big);
    v->g_big1 = balloc(be, n * big);
    v->g_flat = balloc(be, n * F);
    if (!v->a[0] || !v->a[1] || !v->a[2] || !v->mu || !v->lv || !v->eps || !v->z || !v->dmu || !v->dlv ||
        !v->dz || !v->dfc || !v->d[0] || !v->d[1] || !v->rec || !v->g_big0 || !v->g_big1 || !v->g_flat)
        return GP_FAIL(err, GP_ERR_NOMEM, "VAE: cannot allocate activations for %d images", cap);
    return GP_OK;
}

void gp_tvae_free(gp_tvae *v, gp_backend *be)
{
    float *bufs[] = { v->a[0], v->a[1], v->a[2], v->mu, v->lv, v->eps, v->z, v->dmu, v->dlv, v->dz,
                      v->dfc, v->d[0], v->d[1], v->rec, v->g_big0, v->g_big1, v->g_flat };
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) if (bufs[i]) be->ops->free(be, bufs[i]);
    memset(v, 0, sizeof *v);
}

int gp_tvae_encode(gp_backend *be, gp_tvae *v, const float *x, int n, gp_error *err)
{
    if (n > v->cap) return GP_FAIL(err, GP_ERR_ARG, "VAE: %d images exceed the capacity %d", n, v->cap);
    const float *in = x;
    for (int i = 0; i < 3; i++) {
        TRY(be->ops->conv2d(be, in, n, v->ch[i], v->hs[i], v->hs[i], v->cw[i]->w, v->cb[i]->w, v->ch[i + 1],
                            4, 2, 1, GP_ACT_LEAKY_RELU, v->slope, v->a[i], err));
        in = v->a[i];
    }
    TRY(be->ops->dense(be, v->a[2], n, v->flat, v->muW->w, v->mub->w, v->latent, GP_ACT_NONE, 0.0f, v->mu, err));
    return be->ops->dense(be, v->a[2], n, v->flat, v->lvW->w, v->lvb->w, v->latent, GP_ACT_NONE, 0.0f, v->lv, err);
}

int gp_tvae_step(gp_backend *be, gp_tvae *v, const float *x, int n, const float *eps_host,
                 double beta, double *rec_loss, double *kl, int backward, gp_error *err)
{
    const gp_backend_ops *o = be->ops;
    size_t L = (size_t)v->latent * n;
    TRY(gp_tvae_encode(be, v, x, n, err));
    TRY(o->upload(be, v->eps, eps_host, sizeof(float) * L, err));
    TRY(o->reparam(be, v->mu, v->lv, v->eps, L, v->z, err));
    TRY(o->dense(be, v->z, n, v->latent, v->dfW->w, v->dfb->w, v->flat, GP_ACT_LEAKY_RELU, v->slope, v->dfc, err));
    const float *in = v->dfc;
    for (int i = 0; i < 3; i++) {
        float *out = i == 2 ? v->rec : v->d[i];
        TRY(o->conv_transpose2d(be, in, n, v->ch[3 - i], v->hs[3 - i], v->hs[3 - i], v->dw[i]->w, v->db[i]->w,
                                v->ch[2 - i], 4, 2, 1, i == 2 ? GP_ACT_NONE : GP_ACT_LEAKY_RELU, v->slope, out, err));
        in = out;
    }
    double w = 1.0 / n;
    float *drec = v->g_big0;
    TRY(o->mse(be, v->rec, x, NULL, n, GP_CUTOUT_PIXELS, w, rec_loss, backward ? drec : NULL, err));
    if (!backward) return o->kl_normal(be, v->mu, v->lv, L, beta * w, kl, NULL, NULL, err);
    /* decoder backward */
    float *g = drec, *other = v->g_big1;
    for (int i = 2; i >= 0; i--) {
        const float *xin = i == 0 ? v->dfc : v->d[i - 1];
        int cin = v->ch[3 - i], hin = v->hs[3 - i];
        float *gx = i == 0 ? v->g_flat : other;
        TRY(o->conv_transpose2d_backward(be, xin, n, cin, hin, hin, v->dw[i]->w, v->ch[2 - i], 4, 2, 1, g, gx,
                                         v->dw[i]->g, v->db[i]->g, err));
        TRY(o->act_backward(be, xin, gx, (size_t)n * cin * hin * hin, GP_ACT_LEAKY_RELU, v->slope, gx, err));
        if (i > 0) { other = g; g = gx; }
    }
    TRY(o->dense_backward(be, v->z, n, v->latent, v->dfW->w, v->flat, v->g_flat, v->dz, v->dfW->g, v->dfb->g, err));
    TRY(o->reparam_backward(be, v->lv, v->eps, v->dz, L, v->dmu, v->dlv, err));
    double klv = 0.0;
    TRY(o->kl_normal(be, v->mu, v->lv, L, beta * w, &klv, v->dmu, v->dlv, err));
    if (kl) *kl += klv;
    /* encoder backward: fc heads -> flat gradient (sum of both) */
    TRY(o->dense_backward(be, v->a[2], n, v->flat, v->muW->w, v->latent, v->dmu, v->g_flat, v->muW->g, v->mub->g, err));
    float *tmp = v->g_big1;
    TRY(o->dense_backward(be, v->a[2], n, v->flat, v->lvW->w, v->latent, v->dlv, tmp, v->lvW->g, v->lvb->g, err));
    TRY(o->axpby(be, 1.0f, v->g_flat, 1.0f, tmp, (size_t)n * v->flat, v->g_flat, err));
    g = v->g_flat;
    float *bufs[2] = { v->g_big0, v->g_big1 };
    for (int i = 2; i >= 0; i--) {
        size_t nout = (size_t)n * v->ch[i + 1] * v->hs[i + 1] * v->hs[i + 1];
        TRY(o->act_backward(be, v->a[i], g, nout, GP_ACT_LEAKY_RELU, v->slope, g, err));
        const float *xin = i == 0 ? x : v->a[i - 1];
        float *gx = i == 0 ? NULL : bufs[i & 1];
        TRY(o->conv2d_backward(be, xin, n, v->ch[i], v->hs[i], v->hs[i], v->cw[i]->w, v->ch[i + 1], 4, 2, 1,
                               g, gx, v->cw[i]->g, v->cb[i]->g, err));
        g = gx;
    }
    return GP_OK;
}

/* ------------------------------------------------------- flow member */

int gp_tmember_bind(gp_tmember *m, const gp_tparams *ps, const gp_weights *w, int k, int tin,
                    gp_act act, float slope, int cap, gp_error *err)
{
    gp_backend *be = ps->be;
    memset(m, 0, sizeof *m);
    m->k = k;
    m->tin = tin;
    m->cap = cap;
    char pre[64];
    snprintf(pre, sizeof pre, "m%d.trunk", k);
    TRY(gp_tmlp_bind(&m->trunk, ps, pre, tin, 1, act, slope, cap, err));
    int T = m->trunk.out[m->trunk.nl - 1];
    m->T = T;
    snprintf(pre, sizeof pre, "m%d.core_head", k);
    TRY(gp_tmlp_bind(&m->core_head, ps, pre, T, 0, act, slope, cap, err));
    snprintf(pre, sizeof pre, "m%d.classifier", k);
    TRY(gp_tmlp_bind(&m->classifier, ps, pre, T, 0, act, slope, cap, err));
    snprintf(pre, sizeof pre, "m%d.line_head", k);
    TRY(gp_tmlp_bind(&m->line_head, ps, pre, T, 0, act, slope, cap, err));
    if (m->core_head.out[m->core_head.nl - 1] != GP_NCORE + 1 || m->classifier.out[m->classifier.nl - 1] != 1 ||
        m->line_head.out[m->line_head.nl - 1] != GP_NLINE)
        return GP_FAIL(err, GP_ERR_FORMAT, "member %d: head output widths are not 5, 1, 4", k);
    snprintf(pre, sizeof pre, "m%d.core_flow", k);
    TRY(gp_tflow_bind_realnvp(&m->core_flow, ps, w, pre, "flow.core", GP_NCORE, T, act, slope, cap, err));
    snprintf(pre, sizeof pre, "m%d.line_flow", k);
    TRY(gp_tflow_bind_realnvp(&m->line_flow, ps, w, pre, "flow.line", GP_NLINE, T, act, slope, cap, err));
    snprintf(pre, sizeof pre, "m%d.oh_flow.net", k);
    TRY(gp_tflow_bind_affine1d(&m->oh_flow, ps, w, pre, GP_NCORE, T, act, slope, cap, err));
    size_t n = (size_t)cap;
    m->dtrunk = balloc(be, n * T);
    m->dtmp = balloc(be, n * T);
    m->g_head = balloc(be, n * 5);
    m->g_cls = balloc(be, n);
    m->g_line = balloc(be, n * 4);
    m->tmp_a = balloc(be, n * 9);     /* targets split: core 4 | oh 1 | lines 4 */
    m->tmp_b = balloc(be, n * 9);     /* head outputs split the same way */
    m->res = balloc(be, n * 9);       /* residuals */
    m->mask_oh = balloc(be, n);
    if (!m->dtrunk || !m->dtmp || !m->g_head || !m->g_cls || !m->g_line || !m->tmp_a || !m->tmp_b || !m->res || !m->mask_oh)
        return GP_FAIL(err, GP_ERR_NOMEM, "member %d: cannot allocate buffers", k);
    return GP_OK;
}

void gp_tmember_free(gp_tmember *m, gp_backend *be)
{
    gp_tmlp_free(&m->trunk, be); gp_tmlp_free(&m->core_head, be);
    gp_tmlp_free(&m->classifier, be); gp_tmlp_free(&m->line_head, be);
    gp_tflow_free(&m->core_flow, be); gp_tflow_free(&m->line_flow, be); gp_tflow_free(&m->oh_flow, be);
    float *bufs[] = { m->dtrunk, m->dtmp, m->g_head, m->g_cls, m->g_line, m->tmp_a, m->tmp_b, m->res, m->mask_oh };
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) if (bufs[i]) be->ops->free(be, bufs[i]);
    memset(m, 0, sizeof *m);
}

int gp_tmember_step(gp_backend *be, gp_tmember *m, const float *X, const float *Y,
                    const float *ohm, int rows, int backward, gp_tlosses *L, gp_error *err)
{
    const gp_backend_ops *o = be->ops;
    if (rows > m->cap) return GP_FAIL(err, GP_ERR_ARG, "member: %d rows exceed the capacity %d", rows, m->cap);
    size_t n = (size_t)rows;
    double w = 1.0 / rows;
    float *trunk, *head, *cls, *lh;
    TRY(gp_tmlp_forward(be, &m->trunk, X, rows, &trunk, err));
    TRY(gp_tmlp_forward(be, &m->core_head, trunk, rows, &head, err));
    TRY(gp_tmlp_forward(be, &m->classifier, trunk, rows, &cls, err));
    TRY(gp_tmlp_forward(be, &m->line_head, trunk, rows, &lh, err));
    /* split targets: tmp_a = [core | oh | lines] as three contiguous blocks */
    float *yc = m->tmp_a, *yoh = yc + n * 4, *yl = yoh + n;
    float *hc = m->tmp_b, *hoh = hc + n * 4;
    float *rc = m->res, *roh = rc + n * 4, *rl = roh + n;
    TRY(o->copy_cols(be, Y, rows, 9, 0, yc, 4, 0, 4, 0, err));
    TRY(o->copy_cols(be, Y, rows, 9, 4, yoh, 1, 0, 1, 0, err));
    TRY(o->copy_cols(be, Y, rows, 9, 5, yl, 4, 0, 4, 0, err));
    TRY(o->copy_cols(be, head, rows, 5, 0, hc, 4, 0, 4, 0, err));
    TRY(o->copy_cols(be, head, rows, 5, 4, hoh, 1, 0, 1, 0, err));
    TRY(o->copy_cols(be, ohm, rows, 1, 0, m->mask_oh, 1, 0, 1, 0, err));
    /* residuals (the heads are not trained through the flows) */
    TRY(o->axpby(be, 1.0f, yc, -1.0f, hc, n * 4, rc, err));
    TRY(o->axpby(be, 1.0f, yoh, -1.0f, hoh, n, roh, err));
    TRY(o->axpby(be, 1.0f, yl, -1.0f, lh, n * 4, rl, err));
    /* head losses: gradients land in g_head [core 4 | oh 1] via the split buffers */
    float *dhc = m->dtmp, *dhoh = dhc + n * 4;   /* dtmp holds >= 5 n floats (T >= 5) */
    TRY(o->mse(be, hc, yc, NULL, rows, 4, w, &L->mse_core, dhc, err));
    TRY(o->mse(be, hoh, yoh, m->mask_oh, rows, 1, w, &L->mse_oh, dhoh, err));
    TRY(o->mse(be, lh, yl, NULL, rows, 4, w, &L->mse_line, m->g_line, err));
    TRY(o->bce_logits(be, cls, m->mask_oh, NULL, rows, w, &L->bce, m->g_cls, err));
    TRY(gp_tflow_nll_forward(be, &m->core_flow, rc, NULL, trunk, NULL, rows, w, &L->nll_core, err));
    TRY(gp_tflow_nll_forward(be, &m->oh_flow, roh, yc, trunk, m->mask_oh, rows, w, &L->nll_oh, err));
    TRY(gp_tflow_nll_forward(be, &m->line_flow, rl, NULL, trunk, NULL, rows, w, &L->nll_line, err));
    {
        float *hl = malloc(sizeof(float) * n * 2);
        if (!hl) return GP_FAIL(err, GP_ERR_NOMEM, "cannot allocate classifier copies");
        int st = o->download(be, hl, cls, sizeof(float) * n, err);
        if (!st) st = o->download(be, hl + n, m->mask_oh, sizeof(float) * n, err);
        if (st) { free(hl); return st; }
        for (size_t i = 0; i < n; i++) {
            L->correct += ((hl[i] > 0.0f) == (hl[n + i] > 0.5f));
            L->rows_oh += hl[n + i] > 0.5f;
        }
        L->rows += rows;
        free(hl);
    }
    if (!backward) return GP_OK;
    TRY(o->zero(be, m->dtrunk, sizeof(float) * n * m->T, err));
    /* flows: context gradients into dtrunk; with joint, residual gradients too (r = y - head) */
    TRY(gp_tflow_nll_backward(be, &m->core_flow, NULL, rows, w, m->dtrunk, m->joint ? rc : NULL, err));
    TRY(gp_tflow_nll_backward(be, &m->oh_flow, m->mask_oh, rows, w, m->dtrunk, m->joint ? roh : NULL, err));
    TRY(gp_tflow_nll_backward(be, &m->line_flow, NULL, rows, w, m->dtrunk, m->joint ? rl : NULL, err));
    if (m->joint) {
        TRY(o->axpby(be, 1.0f, dhc, -1.0f, rc, n * 4, dhc, err));
        TRY(o->axpby(be, 1.0f, dhoh, -1.0f, roh, n, dhoh, err));
        TRY(o->axpby(be, 1.0f, m->g_line, -1.0f, rl, n * 4, m->g_line, err));
    }
    TRY(o->copy_cols(be, dhc, rows, 4, 0, m->g_head, 5, 0, 4, 0, err));
    TRY(o->copy_cols(be, dhoh, rows, 1, 0, m->g_head, 5, 4, 1, 0, err));
    TRY(gp_tmlp_backward(be, &m->core_head, rows, m->g_head, m->dtmp, err));
    TRY(o->axpby(be, 1.0f, m->dtrunk, 1.0f, m->dtmp, n * m->T, m->dtrunk, err));
    TRY(gp_tmlp_backward(be, &m->classifier, rows, m->g_cls, m->dtmp, err));
    TRY(o->axpby(be, 1.0f, m->dtrunk, 1.0f, m->dtmp, n * m->T, m->dtrunk, err));
    TRY(gp_tmlp_backward(be, &m->line_head, rows, m->g_line, m->dtmp, err));
    TRY(o->axpby(be, 1.0f, m->dtrunk, 1.0f, m->dtmp, n * m->T, m->dtrunk, err));
    return gp_tmlp_backward(be, &m->trunk, rows, m->dtrunk, NULL, err);
}
