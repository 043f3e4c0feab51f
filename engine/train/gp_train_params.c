/*
 * gp_train_params.c: the parameter set of a model being trained: values,
 * gradients and Adam moments of every tensor, in backend memory; loading
 * from and writing to weights files (checkpoints carry the moments).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gp_train.h"

#define TRY(x) do { int st_ = (x); if (st_) return st_; } while (0)

int gp_backend_check_training(const gp_backend *be, gp_error *err)
{
    const gp_backend_ops *o = be->ops;
    struct { const void *fn; const char *name; } need[] = {
        { (const void *)o->zero, "zero" }, { (const void *)o->dense_backward, "dense_backward" },
        { (const void *)o->act_backward, "act_backward" }, { (const void *)o->conv2d_backward, "conv2d_backward" },
        { (const void *)o->conv_transpose2d_backward, "conv_transpose2d_backward" },
        { (const void *)o->reparam, "reparam" }, { (const void *)o->reparam_backward, "reparam_backward" },
        { (const void *)o->kl_normal, "kl_normal" }, { (const void *)o->coupling_backward, "coupling_backward" },
        { (const void *)o->mse, "mse" }, { (const void *)o->bce_logits, "bce_logits" },
        { (const void *)o->normal_nll, "normal_nll" }, { (const void *)o->copy_cols, "copy_cols" },
        { (const void *)o->axpby, "axpby" }, { (const void *)o->adam, "adam" }, { (const void *)o->sumsq, "sumsq" },
    };
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (!need[i].fn)
            return GP_FAIL(err, GP_ERR_BACKEND, "backend '%s' does not implement the training operation '%s' (gp_backend.h)",
                           o->name, need[i].name);
    return GP_OK;
}

static int starts(const char *s, const char *prefix)
{
    return !prefix || !strncmp(s, prefix, strlen(prefix));
}

int gp_tparams_from_weights(gp_backend *be, const gp_weights *w, gp_tparams *ps, gp_error *err)
{
    memset(ps, 0, sizeof *ps);
    ps->be = be;
    size_t nt = gp_weights_tensor_count(w);
    ps->p = calloc(nt ? nt : 1, sizeof *ps->p);
    if (!ps->p) return GP_FAIL(err, GP_ERR_NOMEM, "cannot allocate %zu parameters", nt);
    for (size_t i = 0; i < nt; i++) {
        gp_tensor_info t;
        TRY(gp_weights_tensor_at(w, i, &t, err));
        if (!strncmp(t.name, "adam.", 5)) continue;
        gp_tparam *p = &ps->p[ps->n];
        snprintf(p->name, sizeof p->name, "%s", t.name);
        p->ndim = t.ndim;
        memcpy(p->dims, t.dims, sizeof p->dims);
        p->n = (size_t)t.nelem;
        size_t bytes = sizeof(float) * p->n;
        p->w = be->ops->alloc(be, bytes);
        p->g = be->ops->alloc(be, bytes);
        p->m = be->ops->alloc(be, bytes);
        p->v = be->ops->alloc(be, bytes);
        ps->n++;
        if (!p->w || !p->g || !p->m || !p->v)
            return GP_FAIL(err, GP_ERR_NOMEM, "cannot allocate parameter '%s' (%zu values)", p->name, p->n);
        TRY(be->ops->upload(be, p->w, t.data, bytes, err));
        TRY(be->ops->zero(be, p->g, bytes, err));
        TRY(be->ops->zero(be, p->m, bytes, err));
        TRY(be->ops->zero(be, p->v, bytes, err));
    }
    return GP_OK;
}

int gp_tparams_load(gp_tparams *ps, const gp_weights *w, int moments, gp_error *err)
{
    gp_backend *be = ps->be;
    for (int i = 0; i < ps->n; i++) {
        gp_tparam *p = &ps->p[i];
        const float *d;
        TRY(gp_weights_tensor_shaped(w, p->name, p->ndim, p->dims, &d, err));
        TRY(be->ops->upload(be, p->w, d, sizeof(float) * p->n, err));
        if (!moments) continue;
        char key[GP_WEIGHTS_NAME_MAX + 16];
        snprintf(key, sizeof key, "adam.m.%s", p->name);
        if (strlen(key) > GP_WEIGHTS_NAME_MAX) continue;
        if (gp_weights_tensor_shaped(w, key, p->ndim, p->dims, &d, NULL) == GP_OK)
            TRY(be->ops->upload(be, p->m, d, sizeof(float) * p->n, err));
        snprintf(key, sizeof key, "adam.v.%s", p->name);
        if (gp_weights_tensor_shaped(w, key, p->ndim, p->dims, &d, NULL) == GP_OK)
            TRY(be->ops->upload(be, p->v, d, sizeof(float) * p->n, err));
    }
    return GP_OK;
}

gp_tparam *gp_tparams_find(const gp_tparams *ps, const char *name)
{
    for (int i = 0; i < ps->n; i++)
        if (!strcmp(ps->p[i].name, name)) return &ps->p[i];
    return NULL;
}

void gp_tparams_free(gp_tparams *ps)
{
    if (!ps || !ps->p) return;
    for (int i = 0; i < ps->n; i++) {
        gp_tparam *p = &ps->p[i];
        ps->be->ops->free(ps->be, p->w);
        ps->be->ops->free(ps->be, p->g);
        ps->be->ops->free(ps->be, p->m);
        ps->be->ops->free(ps->be, p->v);
    }
    free(ps->p);
    memset(ps, 0, sizeof *ps);
}

int gp_tparams_zero_grad(gp_tparams *ps, const char *prefix, gp_error *err)
{
    for (int i = 0; i < ps->n; i++)
        if (starts(ps->p[i].name, prefix))
            TRY(ps->be->ops->zero(ps->be, ps->p[i].g, sizeof(float) * ps->p[i].n, err));
    return GP_OK;
}

int gp_tparams_reset_moments(gp_tparams *ps, const char *prefix, gp_error *err)
{
    for (int i = 0; i < ps->n; i++)
        if (starts(ps->p[i].name, prefix)) {
            TRY(ps->be->ops->zero(ps->be, ps->p[i].m, sizeof(float) * ps->p[i].n, err));
            TRY(ps->be->ops->zero(ps->be, ps->p[i].v, sizeof(float) * ps->p[i].n, err));
        }
    return GP_OK;
}

double gp_train_adaptive_clip(double *ema, double norm, double factor, double weight)
{
    if (!isfinite(norm)) return 1.0;
    if (!(*ema > 0)) { *ema = norm; return 1.0; }
    double bound = factor * *ema, scale = 1.0;
    if (norm > bound) { scale = bound / norm; norm = bound; }
    *ema = (1.0 - weight) * *ema + weight * norm;
    return scale;
}

int gp_tparams_grad_norm(gp_tparams *ps, const char *prefix, double *norm, gp_error *err)
{
    gp_backend *be = ps->be;
    double total = 0.0;
    for (int i = 0; i < ps->n; i++) {
        if (!starts(ps->p[i].name, prefix)) continue;
        double s;
        TRY(be->ops->sumsq(be, ps->p[i].g, ps->p[i].n, &s, err));
        total += s;
    }
    *norm = sqrt(total);
    return GP_OK;
}

int gp_tparams_adam_scaled(gp_tparams *ps, const char *prefix, float lr, long t, float scale, gp_error *err)
{
    gp_backend *be = ps->be;
    for (int i = 0; i < ps->n; i++) {
        gp_tparam *p = &ps->p[i];
        if (!starts(p->name, prefix)) continue;
        if (scale != 1.0f) TRY(be->ops->axpby(be, scale, p->g, 0.0f, p->g, p->n, p->g, err));
        TRY(be->ops->adam(be, p->w, p->g, p->m, p->v, p->n, lr, 0.9f, 0.999f, 1e-8f, t, err));
    }
    return GP_OK;
}

int gp_tparams_diverged(const char *prefix, double norm, long t, gp_error *err)
{
    if (isfinite(norm)) return GP_OK;
    return GP_FAIL(err, GP_ERR_DATA, "training diverged: gradient norm of '%s*' is %g at step %ld",
                   prefix ? prefix : "", norm, t);
}

int gp_tparams_adam(gp_tparams *ps, const char *prefix, float lr, long t, float clip,
                    double *gnorm, gp_error *err)
{
    double norm;
    TRY(gp_tparams_grad_norm(ps, prefix, &norm, err));
    if (gnorm) *gnorm = norm;
    TRY(gp_tparams_diverged(prefix, norm, t, err));
    float scale = (clip > 0 && norm > clip) ? (float)(clip / norm) : 1.0f;
    return gp_tparams_adam_scaled(ps, prefix, lr, t, scale, err);
}

int gp_tparams_write(const gp_tparams *ps, gp_weights_writer *wr, int moments, gp_error *err)
{
    gp_backend *be = ps->be;
    size_t maxn = 1;
    for (int i = 0; i < ps->n; i++) if (ps->p[i].n > maxn) maxn = ps->p[i].n;
    float *h = malloc(sizeof(float) * maxn);
    if (!h) return GP_FAIL(err, GP_ERR_NOMEM, "cannot allocate %zu floats", maxn);
    int st = GP_OK;
    for (int i = 0; i < ps->n && !st; i++) {
        const gp_tparam *p = &ps->p[i];
        st = be->ops->download(be, h, p->w, sizeof(float) * p->n, err);
        if (!st) st = gp_weights_writer_add_tensor(wr, p->name, p->ndim, p->dims, h, err);
        if (!moments || st) continue;
        char key[GP_WEIGHTS_NAME_MAX + 16];
        snprintf(key, sizeof key, "adam.m.%s", p->name);
        if (strlen(key) > GP_WEIGHTS_NAME_MAX) continue;
        st = be->ops->download(be, h, p->m, sizeof(float) * p->n, err);
        if (!st) st = gp_weights_writer_add_tensor(wr, key, p->ndim, p->dims, h, err);
        snprintf(key, sizeof key, "adam.v.%s", p->name);
        if (!st) st = be->ops->download(be, h, p->v, sizeof(float) * p->n, err);
        if (!st) st = gp_weights_writer_add_tensor(wr, key, p->ndim, p->dims, h, err);
    }
    free(h);
    return st;
}

int gp_weights_copy_meta(const gp_weights *w, gp_weights_writer *wr, gp_error *err)
{
    size_t n = gp_weights_meta_count(w);
    for (size_t i = 0; i < n; i++) {
        gp_meta_entry e;
        TRY(gp_weights_meta_at(w, i, &e, err));
        switch (e.type) {
        case GP_META_STR: TRY(gp_weights_writer_set_str(wr, e.key, e.str, err)); break;
        case GP_META_I64: TRY(gp_weights_writer_set_i64(wr, e.key, e.i64, err)); break;
        case GP_META_F64: TRY(gp_weights_writer_set_f64(wr, e.key, e.f64, err)); break;
        case GP_META_I64_ARRAY: TRY(gp_weights_writer_set_i64_array(wr, e.key, e.i64s, e.count, err)); break;
        case GP_META_F64_ARRAY: TRY(gp_weights_writer_set_f64_array(wr, e.key, e.f64s, e.count, err)); break;
        default: return GP_FAIL(err, GP_ERR_FORMAT, "%s: metadata '%s' has unknown type %d",
                                gp_weights_path(w), e.key, (int)e.type);
        }
    }
    return GP_OK;
}
