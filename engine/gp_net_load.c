/*
 * gp_net_load.c: build the architecture from a weights file.  Every
 * metadata value and tensor shape is checked against the others before the
 * model is used, so an inconsistent file is refused with a message naming
 * the key or tensor instead of being read out of bounds.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galpost/gp_model.h"
#include "gp_net.h"

int gp_act_parse(const char *s, gp_act *out)
{
    if (!strcmp(s, "relu")) *out = GP_ACT_RELU;
    else if (!strcmp(s, "leaky_relu")) *out = GP_ACT_LEAKY_RELU;
    else if (!strcmp(s, "tanh")) *out = GP_ACT_TANH;
    else return -1;
    return 0;
}

const char *gp_act_name(gp_act a)
{
    switch (a) {
    case GP_ACT_RELU: return "relu";
    case GP_ACT_LEAKY_RELU: return "leaky_relu";
    case GP_ACT_TANH: return "tanh";
    case GP_ACT_SIGMOID: return "sigmoid";
    default: return "none";
    }
}

static int mirror(gp_backend *be, const float **p, size_t n, const char *name, gp_error *err)
{
    const float *d = be->ops->mirror(be, *p, n, err);
    if (!d) { gp_error_prefix(err, "tensor '%s'", name); return err ? err->status : GP_ERR_BACKEND; }
    *p = d;
    return GP_OK;
}

static int load_dense(const gp_weights *w, gp_backend *be, const char *name, int in, int out,
                      gp_dense *d, gp_error *err)
{
    char key[300];
    int64_t wd[2] = { out, in }, bd[1] = { out };
    snprintf(key, sizeof key, "%s.weight", name);
    int st = gp_weights_tensor_shaped(w, key, 2, wd, &d->W, err);
    if (st) return st;
    snprintf(key, sizeof key, "%s.bias", name);
    st = gp_weights_tensor_shaped(w, key, 1, bd, &d->b, err);
    if (st) return st;
    d->in = in;
    d->out = out;
    if (!be) return GP_OK;
    if ((st = mirror(be, &d->W, (size_t)in * out, name, err))) return st;
    return mirror(be, &d->b, (size_t)out, name, err);
}

/* An MLP prefix.0 .. prefix.(n-1): input width `in`, output width `out`. */
static int load_mlp(const gp_weights *w, gp_backend *be, const char *prefix, int in, int out,
                    int act_last, gp_mlp *m, gp_error *err)
{
    memset(m, 0, sizeof *m);
    m->act_last = act_last;
    int prev = in;
    for (int i = 0; i < GP_MLP_MAX_LAYERS + 1; i++) {
        char key[300];
        gp_tensor_info t;
        snprintf(key, sizeof key, "%s.%d.weight", prefix, i);
        if (gp_weights_tensor(w, key, &t, NULL) != GP_OK) break;
        if (i == GP_MLP_MAX_LAYERS)
            return GP_FAIL(err, GP_ERR_FORMAT, "%s: MLP '%s' has more than %d layers",
                           gp_weights_path(w), prefix, GP_MLP_MAX_LAYERS);
        if (t.ndim != 2 || t.dims[1] != prev || t.dims[0] < 1 || t.dims[0] > 65536)
            return GP_FAIL(err, GP_ERR_FORMAT,
                           "%s: tensor '%s' must be [out x %d], found rank %d [%lld x %lld]",
                           gp_weights_path(w), key, prev, t.ndim, (long long)t.dims[0],
                           (long long)(t.ndim > 1 ? t.dims[1] : 0));
        snprintf(key, sizeof key, "%s.%d", prefix, i);
        int st = load_dense(w, be, key, prev, (int)t.dims[0], &m->layer[i], err);
        if (st) return st;
        prev = (int)t.dims[0];
        m->nlayers = i + 1;
    }
    if (m->nlayers == 0)
        return GP_FAIL(err, GP_ERR_NOTFOUND, "%s: tensor '%s.0.weight' not found (MLP '%s')",
                       gp_weights_path(w), prefix, prefix);
    if (prev != out)
        return GP_FAIL(err, GP_ERR_FORMAT, "%s: MLP '%s' ends with %d outputs, expected %d",
                       gp_weights_path(w), prefix, prev, out);
    return GP_OK;
}

static int load_cond(gp_net *net, const char *prefix, int nrow, int nctx, int out,
                     gp_cond_mlp *c, float **arena_pos, gp_error *err)
{
    /* the first layer is used split; keep its host copy for splitting */
    int st = load_mlp(net->w, NULL, prefix, nrow + nctx, out, 0, &c->net, err);
    if (st) return st;
    c->nrow = nrow;
    c->nctx = nctx;
    const gp_dense *l0 = &c->net.layer[0];
    c->w_row = *arena_pos;
    c->w_ctx = *arena_pos + (size_t)l0->out * nrow;
    for (int h = 0; h < l0->out; h++) {
        memcpy(c->w_row + (size_t)h * nrow, l0->W + (size_t)h * l0->in, sizeof(float) * (size_t)nrow);
        memcpy(c->w_ctx + (size_t)h * nctx, l0->W + (size_t)h * l0->in + nrow, sizeof(float) * (size_t)nctx);
    }
    *arena_pos += (size_t)l0->out * (nrow + nctx);
    gp_backend *be = net->be;
    const float *wr = c->w_row, *wc = c->w_ctx;
    if ((st = mirror(be, &wr, (size_t)l0->out * nrow, prefix, err))) return st;
    if ((st = mirror(be, &wc, (size_t)l0->out * nctx, prefix, err))) return st;
    c->w_row = (float *)wr;
    c->w_ctx = (float *)wc;
    for (int i = 0; i < c->net.nlayers; i++) {
        gp_dense *d = &c->net.layer[i];
        if (i > 0 && (st = mirror(be, &d->W, (size_t)d->in * d->out, prefix, err))) return st;
        if ((st = mirror(be, &d->b, (size_t)d->out, prefix, err))) return st;
    }
    return GP_OK;
}

static int meta_f64s(const gp_weights *w, const char *key, size_t n, double *out,
                     int positive, gp_error *err)
{
    const double *v;
    size_t got;
    int st = gp_weights_meta_f64_array(w, key, &v, &got, err);
    if (st) return st;
    if (got != n)
        return GP_FAIL(err, GP_ERR_FORMAT, "%s: metadata '%s' has %zu values, expected %zu",
                       gp_weights_path(w), key, got, n);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i]) || (positive && !(v[i] > 0)))
            return GP_FAIL(err, GP_ERR_FORMAT, "%s: metadata '%s'[%zu] = %g is not %s",
                           gp_weights_path(w), key, i, v[i], positive ? "a positive number" : "finite");
        out[i] = v[i];
    }
    return GP_OK;
}

static int meta_int(const gp_weights *w, const char *key, int64_t lo, int64_t hi,
                    int *out, gp_error *err)
{
    int64_t v;
    int st = gp_weights_meta_i64(w, key, &v, err);
    if (st) return st;
    if (v < lo || v > hi)
        return GP_FAIL(err, GP_ERR_FORMAT, "%s: metadata '%s' = %lld outside %lld..%lld",
                       gp_weights_path(w), key, (long long)v, (long long)lo, (long long)hi);
    *out = (int)v;
    return GP_OK;
}

/* Masks of a RealNVP: metadata `key` holds nlayers x dim 0/1 values. */
static int load_realnvp(gp_net *net, const char *prefix, const char *metakey,
                        int dim, int ctx, gp_realnvp *f, float **arena_pos, gp_error *err)
{
    const gp_weights *w = net->w;
    char key[300];
    memset(f, 0, sizeof *f);
    f->dim = dim;
    f->ctx = ctx;
    snprintf(key, sizeof key, "%s.couplings", metakey);
    int st = meta_int(w, key, 1, GP_FLOW_MAX_LAYERS, &f->nlayers, err);
    if (st) return st;
    double sb;
    snprintf(key, sizeof key, "%s.scale_bound", metakey);
    if ((st = gp_weights_meta_f64(w, key, &sb, err))) return st;
    if (!(sb > 0 && sb <= 20))
        return GP_FAIL(err, GP_ERR_FORMAT, "%s: metadata '%s' = %g outside (0, 20]", gp_weights_path(w), key, sb);
    f->scale_bound = (float)sb;
    const int64_t *masks;
    size_t nm;
    snprintf(key, sizeof key, "%s.masks", metakey);
    if ((st = gp_weights_meta_i64_array(w, key, &masks, &nm, err))) return st;
    if (nm != (size_t)f->nlayers * dim)
        return GP_FAIL(err, GP_ERR_FORMAT, "%s: metadata '%s' has %zu values, expected %d couplings x %d dims",
                       gp_weights_path(w), key, nm, f->nlayers, dim);
    for (int l = 0; l < f->nlayers; l++) {
        gp_coupling *c = &f->layer[l];
        for (int d = 0; d < dim; d++) {
            int64_t m = masks[l * dim + d];
            if (m != 0 && m != 1)
                return GP_FAIL(err, GP_ERR_FORMAT, "%s: metadata '%s'[%d] = %lld is not 0 or 1",
                               gp_weights_path(w), key, l * dim + d, (long long)m);
            if (m) c->keep[c->nkeep++] = d;
            else c->trans[c->nt++] = d;
        }
        if (c->nkeep == 0 || c->nt == 0)
            return GP_FAIL(err, GP_ERR_FORMAT, "%s: metadata '%s': coupling %d keeps %d of %d dims (needs 1..%d)",
                           gp_weights_path(w), key, l, c->nkeep, dim, dim - 1);
        char pre[300];
        snprintf(pre, sizeof pre, "%s.%d.net", prefix, l);
        if ((st = load_cond(net, pre, c->nkeep, ctx, 2 * c->nt, &c->cond, arena_pos, err))) return st;
    }
    return GP_OK;
}

/* Floats needed for the split first layers of all conditioners. */
static size_t arena_floats(const gp_weights *w, int K)
{
    size_t total = 0;
    for (size_t i = 0; i < gp_weights_tensor_count(w); i++) {
        gp_tensor_info t;
        if (gp_weights_tensor_at(w, i, &t, NULL)) continue;
        size_t len = strlen(t.name);
        if (len > 13 && !strcmp(t.name + len - 13, ".net.0.weight")) total += (size_t)t.nelem;
    }
    (void)K;
    return total;
}

int gp_net_load(const gp_weights *w, gp_backend *be, gp_net *net, gp_error *err)
{
    memset(net, 0, sizeof *net);
    net->w = w;
    net->be = be;
    const char *path = gp_weights_path(w);
    const char *s;
    int st;

    if ((st = gp_weights_meta_str(w, "model.variant", &s, err))) return st;
    if (!strcmp(s, "image")) net->uses_image = 1;
    else if (!strcmp(s, "photometry")) net->uses_image = 0;
    else return GP_FAIL(err, GP_ERR_FORMAT, "%s: metadata 'model.variant' = '%s' (expected 'image' or 'photometry')", path, s);
    int64_t trained = 0;
    if ((st = gp_weights_meta_i64(w, "model.trained", &trained, err))) return st;
    net->trained = trained != 0;
    if ((st = gp_weights_meta_str(w, "mlp.activation", &s, err))) return st;
    if (gp_act_parse(s, &net->act))
        return GP_FAIL(err, GP_ERR_FORMAT, "%s: metadata 'mlp.activation' = '%s' (expected relu, leaky_relu or tanh)", path, s);
    double slope;
    if ((st = gp_weights_meta_f64(w, "mlp.leaky_slope", &slope, err))) return st;
    if (!(slope >= 0 && slope < 1))
        return GP_FAIL(err, GP_ERR_FORMAT, "%s: metadata 'mlp.leaky_slope' = %g outside [0, 1)", path, slope);
    net->slope = (float)slope;

    double pm[GP_NPHOT], ps[GP_NPHOT];
    if ((st = meta_f64s(w, "phot.mean", GP_NPHOT, pm, 0, err))) return st;
    if ((st = meta_f64s(w, "phot.std", GP_NPHOT, ps, 1, err))) return st;
    for (int i = 0; i < GP_NPHOT; i++) { net->phot_mean[i] = (float)pm[i]; net->phot_std[i] = (float)ps[i]; }
    if ((st = meta_f64s(w, "target.mean", 9, net->target_mean, 0, err))) return st;
    if ((st = meta_f64s(w, "target.std", 9, net->target_std, 1, err))) return st;
    net->z_softplus = 0.0;
    {
        gp_error zerr;
        gp_error_clear(&zerr);
        double zs = 0.0;
        st = gp_weights_meta_f64(w, "target.z_softplus", &zs, &zerr);
        if (st == GP_OK) {
            if (!(zs > 0.0 && zs < 1.0))
                return GP_FAIL(err, GP_ERR_FORMAT, "%s: metadata 'target.z_softplus' = %g outside (0, 1)", path, zs);
            net->z_softplus = zs;
        } else if (st != GP_ERR_NOTFOUND) {
            *err = zerr;   /* names the file and the key */
            return st;
        }
        st = GP_OK;
    }

    if ((st = meta_int(w, "ensemble.size", 1, GP_ENSEMBLE_MAX, &net->K, err))) return st;

    if (net->uses_image) {
        double v3[3];
        if ((st = meta_f64s(w, "image.softening", 3, v3, 1, err))) return st;
        for (int i = 0; i < 3; i++) net->soft[i] = (float)v3[i];
        if ((st = meta_f64s(w, "image.offset", 3, v3, 0, err))) return st;
        for (int i = 0; i < 3; i++) net->offset[i] = (float)v3[i];
        if ((st = meta_f64s(w, "image.scale", 3, v3, 1, err))) return st;
        for (int i = 0; i < 3; i++) net->scale[i] = (float)v3[i];
        const int64_t *ch;
        size_t nch;
        if ((st = gp_weights_meta_i64_array(w, "encoder.channels", &ch, &nch, err))) return st;
        if (nch != GP_ENC_CONVS + 1 || ch[0] != GP_CUTOUT_BANDS)
            return GP_FAIL(err, GP_ERR_FORMAT, "%s: metadata 'encoder.channels' must hold %d values starting with %d",
                           path, GP_ENC_CONVS + 1, GP_CUTOUT_BANDS);
        for (size_t i = 1; i < nch; i++)
            if (ch[i] < 1 || ch[i] > 4096)
                return GP_FAIL(err, GP_ERR_FORMAT, "%s: metadata 'encoder.channels'[%zu] = %lld outside 1..4096",
                               path, i, (long long)ch[i]);
        if ((st = meta_int(w, "encoder.latent", 1, 1024, &net->latent, err))) return st;
        int k, stride, pad;
        if ((st = meta_int(w, "encoder.kernel", 1, 16, &k, err))) return st;
        if ((st = meta_int(w, "encoder.stride", 1, 8, &stride, err))) return st;
        if ((st = meta_int(w, "encoder.padding", 0, 8, &pad, err))) return st;
        net->enc_h[0] = GP_CUTOUT_SIZE;
        for (int i = 0; i < GP_ENC_CONVS; i++) {
            int hin = net->enc_h[i];
            if (hin + 2 * pad < k)
                return GP_FAIL(err, GP_ERR_FORMAT, "%s: encoder geometry k=%d s=%d p=%d shrinks the image to nothing", path, k, stride, pad);
            net->enc_h[i + 1] = (hin + 2 * pad - k) / stride + 1;
            /* the decoder must invert the size exactly */
            if ((net->enc_h[i + 1] - 1) * stride - 2 * pad + k != hin)
                return GP_FAIL(err, GP_ERR_FORMAT, "%s: encoder geometry k=%d s=%d p=%d is not invertible by the decoder at size %d",
                               path, k, stride, pad, hin);
            gp_conv *c = &net->enc_conv[i];
            c->cin = (int)ch[i]; c->cout = (int)ch[i + 1]; c->k = k; c->stride = stride; c->pad = pad;
            char key[64];
            int64_t wd[4] = { c->cout, c->cin, k, k }, bd[1] = { c->cout };
            snprintf(key, sizeof key, "enc.conv%d.weight", i);
            if ((st = gp_weights_tensor_shaped(w, key, 4, wd, &c->W, err))) return st;
            snprintf(key, sizeof key, "enc.conv%d.bias", i);
            if ((st = gp_weights_tensor_shaped(w, key, 1, bd, &c->b, err))) return st;
            if ((st = mirror(be, &c->W, (size_t)c->cout * c->cin * k * k, key, err))) return st;
            if ((st = mirror(be, &c->b, (size_t)c->cout, key, err))) return st;
            /* decoder stage mirrors encoder stage i */
            gp_conv *d = &net->dec_deconv[GP_ENC_CONVS - 1 - i];
            d->cin = c->cout; d->cout = c->cin; d->k = k; d->stride = stride; d->pad = pad;
            int64_t dd[4] = { d->cin, d->cout, k, k }, db[1] = { d->cout };
            snprintf(key, sizeof key, "dec.deconv%d.weight", GP_ENC_CONVS - 1 - i);
            if ((st = gp_weights_tensor_shaped(w, key, 4, dd, &d->W, err))) return st;
            snprintf(key, sizeof key, "dec.deconv%d.bias", GP_ENC_CONVS - 1 - i);
            if ((st = gp_weights_tensor_shaped(w, key, 1, db, &d->b, err))) return st;
            if ((st = mirror(be, &d->W, (size_t)d->cout * d->cin * k * k, key, err))) return st;
            if ((st = mirror(be, &d->b, (size_t)d->cout, key, err))) return st;
        }
        int flat = (int)ch[GP_ENC_CONVS] * net->enc_h[GP_ENC_CONVS] * net->enc_h[GP_ENC_CONVS];
        if ((st = load_dense(w, be, "enc.fc_mu", flat, net->latent, &net->enc_mu, err))) return st;
        if ((st = load_dense(w, be, "enc.fc_logvar", flat, net->latent, &net->enc_logvar, err))) return st;
        if ((st = load_dense(w, be, "dec.fc", net->latent, flat, &net->dec_fc, err))) return st;
        net->trunk_in = 2 * net->latent + GP_NPHOT;
        if ((st = gp_ood_read(w, "ood.latent", 2 * net->latent, &net->latent_ood, err))) {
            gp_error_prefix(err, "%s", path);
            return st;
        }
    } else {
        net->trunk_in = GP_NPHOT;
    }
    if ((st = gp_ood_read(w, "ood.phot", GP_PHOT_OOD_DIM, &net->phot_ood, err))) {
        gp_error_prefix(err, "%s", path);
        gp_ood_free(&net->latent_ood);
        return st;
    }

    size_t nar = arena_floats(w, net->K);
    net->arena = malloc(sizeof(float) * (nar ? nar : 1));
    if (!net->arena) {
        st = GP_FAIL(err, GP_ERR_NOMEM, "%s: cannot allocate %zu floats for the flow conditioners", path, nar);
        goto fail;
    }
    float *pos = net->arena;

    for (int k = 0; k < net->K; k++) {
        gp_member *m = &net->member[k];
        char pre[64];
        snprintf(pre, sizeof pre, "m%d.trunk", k);
        /* trunk output width: the last layer's rows */
        gp_tensor_info t;
        int last = -1;
        for (int i = 0; i < GP_MLP_MAX_LAYERS; i++) {
            char key[96];
            snprintf(key, sizeof key, "%s.%d.weight", pre, i);
            if (gp_weights_tensor(w, key, &t, NULL)) break;
            last = i;
        }
        if (last < 0) { st = GP_FAIL(err, GP_ERR_NOTFOUND, "%s: tensor '%s.0.weight' not found (ensemble member %d of %d)", path, pre, k, net->K); goto fail; }
        {
            char key[96];
            snprintf(key, sizeof key, "%s.%d.weight", pre, last);
            gp_weights_tensor(w, key, &t, NULL);
            if (t.ndim != 2 || t.dims[0] < 1 || t.dims[0] > 65536) { st = GP_FAIL(err, GP_ERR_FORMAT, "%s: tensor '%s' is not a [out x in] matrix", path, key); goto fail; }
            int tout = (int)t.dims[0];
            if (k == 0) net->trunk_out = tout;
            else if (tout != net->trunk_out) { st = GP_FAIL(err, GP_ERR_FORMAT, "%s: ensemble member %d trunk width %d differs from member 0 (%d)", path, k, tout, net->trunk_out); goto fail; }
        }
        if ((st = load_mlp(w, be, pre, net->trunk_in, net->trunk_out, 1, &m->trunk, err))) goto fail;
        snprintf(pre, sizeof pre, "m%d.core_head", k);
        if ((st = load_mlp(w, be, pre, net->trunk_out, GP_NCORE + 1, 0, &m->core_head, err))) goto fail;
        snprintf(pre, sizeof pre, "m%d.classifier", k);
        if ((st = load_mlp(w, be, pre, net->trunk_out, 1, 0, &m->classifier, err))) goto fail;
        snprintf(pre, sizeof pre, "m%d.line_head", k);
        if ((st = load_mlp(w, be, pre, net->trunk_out, GP_NLINE, 0, &m->line_head, err))) goto fail;
        snprintf(pre, sizeof pre, "m%d.core_flow", k);
        if ((st = load_realnvp(net, pre, "flow.core", GP_NCORE, net->trunk_out, &m->core_flow, &pos, err))) goto fail;
        snprintf(pre, sizeof pre, "m%d.line_flow", k);
        if ((st = load_realnvp(net, pre, "flow.line", GP_NLINE, net->trunk_out, &m->line_flow, &pos, err))) goto fail;
        double sb;
        if ((st = gp_weights_meta_f64(w, "flow.oh.scale_bound", &sb, err))) goto fail;
        if (!(sb > 0 && sb <= 20)) { st = GP_FAIL(err, GP_ERR_FORMAT, "%s: metadata 'flow.oh.scale_bound' = %g outside (0, 20]", path, sb); goto fail; }
        m->oh_flow.scale_bound = (float)sb;
        snprintf(pre, sizeof pre, "m%d.oh_flow.net", k);
        if ((st = load_cond(net, pre, GP_NCORE, net->trunk_out, 2, &m->oh_flow.cond, &pos, err))) goto fail;
    }
    if ((size_t)(pos - net->arena) > nar) {
        st = GP_FAIL(err, GP_ERR_INTERNAL, "%s: conditioner arena overflow", path);
        goto fail;
    }
    return GP_OK;
fail:
    free(net->arena);
    net->arena = NULL;
    gp_ood_free(&net->latent_ood);
    gp_ood_free(&net->phot_ood);
    return st;
}

void gp_net_free(gp_net *net)
{
    if (!net) return;
    free(net->arena);
    net->arena = NULL;
    gp_ood_free(&net->latent_ood);
    gp_ood_free(&net->phot_ood);
}
