/*
 * gp_net_forward.c: the model's stages, written only against the backend
 * interface (gp_backend.h).
 */
#include <string.h>

#include "galpost/gp_model.h"
#include "gp_net.h"

#define TRY(x) do { int st_ = (x); if (st_) return st_; } while (0)

int gp_net_photometry_unclipped(const gp_net *net, const float mag[5], float out[GP_NPHOT],
                                double unclipped[GP_NPHOT])
{
    float raw[GP_NPHOT];
    gp_phot_raw(mag, raw);
    int clipped = 0;
    for (int i = 0; i < GP_NPHOT; i++) {
        double v = (raw[i] - net->phot_mean[i]) / net->phot_std[i];   /* in float, as gp_phot_check_vector */
        out[i] = (float)gp_phot_clip(v);
        clipped += v > GP_PHOT_CLIP || v < -GP_PHOT_CLIP;
        if (unclipped) unclipped[i] = v;
    }
    return clipped;
}

int gp_net_photometry(const gp_net *net, const float mag[5], float out[GP_NPHOT])
{
    return gp_net_photometry_unclipped(net, mag, out, NULL);
}

int gp_mlp_width(const gp_mlp *m)
{
    int wmax = 1;
    for (int i = 0; i < m->nlayers; i++)
        if (m->layer[i].out > wmax) wmax = m->layer[i].out;
    return wmax;
}

/* Layers from `first` on; X [rows x layer[first].in]. tmp: 2 x rows x width. */
static int mlp_from(gp_backend *be, const gp_mlp *m, int first, gp_act act, float slope,
                    const float *X, int rows, float *tmp, float *Y, gp_error *err)
{
    const float *in = X;
    size_t half = (size_t)rows * gp_mlp_width(m);
    for (int i = first; i < m->nlayers; i++) {
        const gp_dense *d = &m->layer[i];
        int last = i == m->nlayers - 1;
        float *out = last ? Y : tmp + (size_t)((i - first) & 1) * half;
        gp_act a = (!last || m->act_last) ? act : GP_ACT_NONE;
        TRY(be->ops->dense(be, in, rows, d->in, d->W, d->b, d->out, a, slope, out, err));
        in = out;
    }
    return GP_OK;
}

int gp_mlp_forward(gp_backend *be, const gp_mlp *m, gp_act act, float slope,
                   const float *X, int rows, float *tmp, float *Y, gp_error *err)
{
    return mlp_from(be, m, 0, act, slope, X, rows, tmp, Y, err);
}

size_t gp_cond_mlp_scratch(const gp_cond_mlp *c, int rows, int ngal)
{
    size_t w = (size_t)gp_mlp_width(&c->net);
    return (size_t)ngal * w + (size_t)rows * w + 2 * (size_t)rows * w;
}

int gp_cond_mlp_forward(gp_backend *be, const gp_cond_mlp *c, gp_act act,
                        float slope, const float *Xrow, int rows,
                        const float *C, int ngal, const int *row_gal,
                        float *scratch, float *Y, gp_error *err)
{
    const gp_dense *l0 = &c->net.layer[0];
    size_t w = (size_t)gp_mlp_width(&c->net);
    float *G = scratch;                       /* [ngal x H]: context part + bias */
    float *H = G + (size_t)ngal * w;          /* [rows x H] */
    float *tmp = H + (size_t)rows * w;        /* 2 x rows x w */
    int single = c->net.nlayers == 1;
    TRY(be->ops->dense(be, C, ngal, c->nctx, c->w_ctx, l0->b, l0->out, GP_ACT_NONE, 0.0f, G, err));
    float *h = single ? Y : H;
    TRY(be->ops->dense(be, Xrow, rows, c->nrow, c->w_row, NULL, l0->out, GP_ACT_NONE, 0.0f, h, err));
    TRY(be->ops->add_rows(be, h, rows, l0->out, G, row_gal, err));
    if (single) {
        if (c->net.act_last) TRY(be->ops->activate(be, Y, (size_t)rows * l0->out, act, slope, err));
        return GP_OK;
    }
    TRY(be->ops->activate(be, H, (size_t)rows * l0->out, act, slope, err));
    return mlp_from(be, &c->net, 1, act, slope, H, rows, tmp, Y, err);
}

size_t gp_realnvp_scratch(const gp_realnvp *f, int rows, int ngal)
{
    size_t need = 0;
    for (int l = 0; l < f->nlayers; l++) {
        const gp_coupling *c = &f->layer[l];
        size_t s = gp_cond_mlp_scratch(&c->cond, rows, ngal) + (size_t)rows * (c->nkeep + 2 * c->nt);
        if (s > need) need = s;
    }
    return need;
}

int gp_realnvp_apply(gp_backend *be, const gp_realnvp *f, gp_act act,
                     float slope, float *x, int rows, const float *ctx,
                     int ngal, const int *row_gal, int dir, double *logdet,
                     float *scratch, gp_error *err)
{
    if (dir != 1 && dir != -1) return GP_FAIL(err, GP_ERR_ARG, "realnvp: direction %d", dir);
    for (int i = 0; i < f->nlayers; i++) {
        int l = dir > 0 ? i : f->nlayers - 1 - i;
        const gp_coupling *c = &f->layer[l];
        float *xk = scratch;                              /* [rows x nkeep] */
        float *st = xk + (size_t)rows * c->nkeep;         /* [rows x 2nt] */
        float *cs = st + (size_t)rows * 2 * c->nt;
        TRY(be->ops->gather_cols(be, x, rows, f->dim, c->keep, c->nkeep, xk, err));
        TRY(gp_cond_mlp_forward(be, &c->cond, act, slope, xk, rows, ctx, ngal, row_gal, cs, st, err));
        TRY(be->ops->coupling(be, x, rows, f->dim, c->trans, c->nt, st, f->scale_bound, dir, logdet, err));
    }
    return GP_OK;
}

size_t gp_affine1d_scratch(const gp_affine1d *f, int rows, int ngal)
{
    return gp_cond_mlp_scratch(&f->cond, rows, ngal) + 2 * (size_t)rows;
}

int gp_affine1d_apply(gp_backend *be, const gp_affine1d *f, gp_act act,
                      float slope, float *x, int rows, const float *core,
                      const float *ctx, int ngal, const int *row_gal, int dir,
                      double *logdet, float *scratch, gp_error *err)
{
    float *st = scratch;
    float *cs = st + 2 * (size_t)rows;
    static const int only[1] = { 0 };
    TRY(gp_cond_mlp_forward(be, &f->cond, act, slope, core, rows, ctx, ngal, row_gal, cs, st, err));
    return be->ops->coupling(be, x, rows, 1, only, 1, st, f->scale_bound, dir, logdet, err);
}

size_t gp_net_encoder_scratch(const gp_net *net, int n)
{
    size_t a = 0;
    for (int i = 0; i < GP_ENC_CONVS; i++) {
        size_t s = (size_t)net->enc_conv[i].cout * net->enc_h[i + 1] * net->enc_h[i + 1];
        if (s > a) a = s;
    }
    /* two ping-pong activations per image */
    return 2 * a * (size_t)n;
}

int gp_net_encode(gp_backend *be, const gp_net *net, const float *x, int n,
                  float *scratch, float *mu, float *logvar, gp_error *err)
{
    size_t half = gp_net_encoder_scratch(net, n) / 2;
    const float *in = x;
    if (be->ops->conv_stack) {
        gp_conv_layer layer[GP_ENC_CONVS];
        for (int i = 0; i < GP_ENC_CONVS; i++) {
            const gp_conv *c = &net->enc_conv[i];
            gp_conv_layer l = { c->cin, c->cout, c->k, c->stride, c->pad, c->W, c->b };
            layer[i] = l;
        }
        TRY(be->ops->conv_stack(be, x, n, net->enc_h[0], net->enc_h[0], GP_ENC_CONVS, layer,
                                GP_ACT_LEAKY_RELU, net->slope, scratch, err));
        in = scratch;
    } else for (int i = 0; i < GP_ENC_CONVS; i++) {
        const gp_conv *c = &net->enc_conv[i];
        float *out = scratch + (size_t)(i & 1) * half;
        TRY(be->ops->conv2d(be, in, n, c->cin, net->enc_h[i], net->enc_h[i], c->W, c->b,
                            c->cout, c->k, c->stride, c->pad, GP_ACT_LEAKY_RELU, net->slope, out, err));
        in = out;
    }
    TRY(be->ops->dense(be, in, n, net->enc_mu.in, net->enc_mu.W, net->enc_mu.b, net->latent,
                       GP_ACT_NONE, 0.0f, mu, err));
    return be->ops->dense(be, in, n, net->enc_logvar.in, net->enc_logvar.W, net->enc_logvar.b,
                          net->latent, GP_ACT_NONE, 0.0f, logvar, err);
}

int gp_net_decode(gp_backend *be, const gp_net *net, const float *z, int n,
                  float *scratch, float *out, gp_error *err)
{
    size_t half = gp_net_encoder_scratch(net, n) / 2;
    float *h = scratch;
    TRY(be->ops->dense(be, z, n, net->latent, net->dec_fc.W, net->dec_fc.b, net->dec_fc.out,
                       GP_ACT_LEAKY_RELU, net->slope, h, err));
    const float *in = h;
    for (int i = 0; i < GP_ENC_CONVS; i++) {
        const gp_conv *d = &net->dec_deconv[i];
        int hin = net->enc_h[GP_ENC_CONVS - i];
        int last = i == GP_ENC_CONVS - 1;
        float *o = last ? out : scratch + (size_t)((i + 1) & 1) * half;
        TRY(be->ops->conv_transpose2d(be, in, n, d->cin, hin, hin, d->W, d->b, d->cout, d->k,
                                      d->stride, d->pad, last ? GP_ACT_NONE : GP_ACT_LEAKY_RELU,
                                      net->slope, o, err));
        in = o;
    }
    return GP_OK;
}
