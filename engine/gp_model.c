/* gp_model.c: opening a model on a backend, and facts about it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "galpost/gp_model.h"
#include "gp_model_internal.h"

static const char *const qnames[GP_NQ] = {
    "lgm_tot_p50", "sfr_tot_p50", "z", "log_mbh", "oh_p50",
    "h_alpha_flux", "h_beta_flux", "nii_6584_flux", "oiii_5007_flux",
};
static const char *const qunits[GP_NQ] = {
    "log10 Msun", "log10 Msun/yr", "", "log10 Msun", "12+log10(O/H)",
    "log10(1+F/1e-17 cgs)", "log10(1+F/1e-17 cgs)", "log10(1+F/1e-17 cgs)", "log10(1+F/1e-17 cgs)",
};
static const char *const qlabels[GP_NQ] = {
    "log M*", "log SFR", "z", "log M_BH", "12+log(O/H)",
    "Halpha", "Hbeta", "[NII]6584", "[OIII]5007",
};
static const char *const bptnames[GP_NBPT] = { "star-forming", "composite", "Seyfert", "LINER" };
static const char *const bptkeys[GP_NBPT] = { "sf", "composite", "seyfert", "liner" };

const char *gp_quantity_name(int q) { return q >= 0 && q < GP_NQ ? qnames[q] : "?"; }
const char *gp_quantity_unit(int q) { return q >= 0 && q < GP_NQ ? qunits[q] : "?"; }
const char *gp_quantity_label(int q) { return q >= 0 && q < GP_NQ ? qlabels[q] : "?"; }
const char *gp_bpt_class_name(int c) { return c >= 0 && c < GP_NBPT ? bptnames[c] : "undefined"; }
const char *gp_bpt_class_key(int c) { return c >= 0 && c < GP_NBPT ? bptkeys[c] : NULL; }

gp_model_options gp_model_options_default(void)
{
    gp_model_options o = { GP_BACKEND_AUTO, 0, 0 };
    return o;
}

gp_infer_options gp_infer_options_default(void)
{
    gp_infer_options o = { 1000, 1, 0 };
    return o;
}

uint64_t gp_position_key(double ra, double dec)
{
    /* RA 360 is RA 0: the 0.5" steps counted modulo the circle */
    long long r = llround(ra * 7200.0) % (360LL * 7200);
    uint64_t a = (uint64_t)(r < 0 ? r + 360LL * 7200 : r), b = (uint64_t)llround((dec + 90.0) * 7200.0);
    return (a << 32) ^ b;
}

int gp_model_open(const char *path, const gp_model_options *opt, gp_model **out, gp_error *err)
{
    if (!path || !out) return GP_FAIL(err, GP_ERR_ARG, "gp_model_open: NULL path or output");
    *out = NULL;
    gp_model_options o = opt ? *opt : gp_model_options_default();
    if (o.threads < 0 || o.threads > 256)
        return GP_FAIL(err, GP_ERR_ARG, "thread count %d outside 0..256", o.threads);
    gp_model *m = calloc(1, sizeof *m);
    if (!m) return GP_FAIL(err, GP_ERR_NOMEM, "cannot allocate a model for %s", path);
    int st = gp_weights_open(path, &m->w, err);
    if (st) { free(m); return st; }
    if (o.backend == GP_BACKEND_CUDA) {
        if ((st = gp_backend_open_cuda(o.device, &m->be, err))) goto fail;
    } else if (o.backend == GP_BACKEND_AUTO) {
        gp_error cerr;
        gp_error_clear(&cerr);
        if (gp_backend_open_cuda(o.device, &m->be, &cerr) != GP_OK) {
            snprintf(m->note, sizeof m->note, "CUDA not used: %s", cerr.msg);
            m->be = NULL;
        }
    }
    if (!m->be && (st = gp_backend_open_cpu(o.threads, &m->be, err))) goto fail;
    if ((st = gp_net_load(m->w, m->be, &m->net, err))) goto fail;
    *out = m;
    return GP_OK;
fail:
    gp_net_free(&m->net);
    gp_backend_close(m->be);
    gp_weights_close(m->w);
    free(m);
    return st;
}

void *gp_model_host_alloc(gp_model *m, size_t bytes)
{
    const gp_backend_ops *ops = m->be->ops;
    if (ops->host_alloc) {
        gp_error herr;
        gp_error_clear(&herr);
        void *p = ops->host_alloc(m->be, bytes, &herr);
        if (p) return p;
        /* no page-locked memory to be had: plain memory works, only slower */
    }
    void *p = NULL;
    return posix_memalign(&p, 64, bytes ? bytes : 1) == 0 ? p : NULL;
}

void gp_model_host_free(gp_model *m, void *p)
{
    if (!p) return;
    const gp_backend_ops *ops = m ? m->be->ops : NULL;
    if (ops && ops->host_owns && ops->host_owns(m->be, p, 1)) ops->host_free(m->be, p);
    else free(p);
}

void gp_model_host_areas_free(gp_model *m)
{
    for (int i = 0; i < 2; i++) {
        gp_model_host_free(m, m->dl[i]);
        m->dl[i] = NULL;
        m->dl_bytes[i] = 0;
    }
}

void gp_model_close(gp_model *m)
{
    if (!m) return;
    gp_model_host_areas_free(m);
    gp_backend_close(m->be);
    gp_net_free(&m->net);
    gp_weights_close(m->w);
    free(m);
}

float *gp_cutouts_alloc(gp_model *m, size_t n, gp_error *err)
{
    if (!m) { GP_FAIL(err, GP_ERR_ARG, "gp_cutouts_alloc: NULL model"); return NULL; }
    if (n > ((size_t)1 << 30)) { GP_FAIL(err, GP_ERR_ARG, "gp_cutouts_alloc: %zu cutouts is too many", n); return NULL; }
    size_t bytes = sizeof(float) * GP_CUTOUT_PIXELS * (n ? n : 1);
    void *p = gp_model_host_alloc(m, bytes);
    if (!p) GP_FAIL(err, GP_ERR_NOMEM, "gp_cutouts_alloc: cannot allocate %zu cutouts (%zu bytes)", n, bytes);
    return p;
}

void gp_cutouts_free(gp_model *m, float *p)
{
    gp_model_host_free(m, p);
}

const char *gp_model_path(const gp_model *m) { return gp_weights_path(m->w); }
const char *gp_model_backend_name(const gp_model *m) { return m->be->description; }
const char *gp_model_backend_note(const gp_model *m) { return m->note; }
int gp_model_threads(const gp_model *m) { return m->be->threads; }
int gp_model_uses_image(const gp_model *m) { return m->net.uses_image; }
int gp_model_ensemble_size(const gp_model *m) { return m->net.K; }
int gp_model_is_trained(const gp_model *m) { return m->net.trained; }
const gp_weights *gp_model_weights(const gp_model *m) { return m->w; }

#ifndef GP_DATADIR
#define GP_DATADIR "/usr/local/share/galpost"
#endif

/* The file in $env when set, else PKGDATADIR/file; `what` names it in the
 * message when it is not readable. */
static int installed_model_path(const char *env_name, const char *file, const char *what, char *buf,
                                size_t size, gp_error *err)
{
    const char *env = getenv(env_name);
    char installed[4096];
    snprintf(installed, sizeof installed, "%s/%s", GP_DATADIR, file);
    const char *cand = env && *env ? env : installed;
    if (strlen(cand) + 1 > size) return GP_FAIL(err, GP_ERR_ARG, "model path buffer too small");
    if (access(cand, R_OK) != 0)
        return GP_FAIL(err, GP_ERR_NOTFOUND, "no model given and the %s %s is not readable (%s%s%s)", what, cand,
                       env && *env ? "$" : "install galpost, set $", env_name, env && *env ? "" : " or use --model");
    memcpy(buf, cand, strlen(cand) + 1);
    return GP_OK;
}

int gp_model_default_path(char *buf, size_t size, gp_error *err)
{
    return installed_model_path("GALPOST_MODEL", "galpost-default.gpw", "default model", buf, size, err);
}

int gp_model_default_photometry_path(char *buf, size_t size, gp_error *err)
{
    return installed_model_path("GALPOST_PHOTOMETRY_MODEL", "galpost-photometry.gpw", "photometry-only model",
                                buf, size, err);
}

static long mlp_params(const gp_mlp *mm)
{
    long n = 0;
    for (int i = 0; i < mm->nlayers; i++) n += (long)mm->layer[i].in * mm->layer[i].out + mm->layer[i].out;
    return n;
}

static void print_mlp(FILE *f, const char *name, const gp_mlp *mm)
{
    fprintf(f, "    %-12s %d", name, mm->layer[0].in);
    for (int i = 0; i < mm->nlayers; i++) fprintf(f, " -> %d", mm->layer[i].out);
    fprintf(f, "%s  (%ld parameters)\n", mm->act_last ? " (activated)" : "", mlp_params(mm));
}

static void print_flow(FILE *f, const char *name, const gp_realnvp *fl)
{
    long n = 0;
    for (int l = 0; l < fl->nlayers; l++) n += mlp_params(&fl->layer[l].cond.net);
    fprintf(f, "    %-12s RealNVP, %d-D, %d affine couplings, context %d, conditioner", name, fl->dim,
            fl->nlayers, fl->ctx);
    const gp_mlp *c = &fl->layer[0].cond.net;
    fprintf(f, " [kept + context] -> ");
    for (int i = 0; i < c->nlayers; i++) fprintf(f, "%s%d", i ? " -> " : "", c->layer[i].out);
    fprintf(f, ", S = %g  (%ld parameters)\n      masks (1 = kept):", fl->scale_bound, n);
    for (int l = 0; l < fl->nlayers; l++) {
        char m[GP_FLOW_MAX_DIM + 1] = "";
        for (int d = 0; d < fl->dim; d++) m[d] = '0';
        for (int k = 0; k < fl->layer[l].nkeep; k++) m[fl->layer[l].keep[k]] = '1';
        m[fl->dim] = 0;
        fprintf(f, " %s", m);
    }
    fprintf(f, "\n");
}

void gp_model_print_architecture(const gp_model *m, FILE *f)
{
    const gp_net *n = &m->net;
    fprintf(f, "architecture:\n  variant: %s model, %s, activation %s (slope %g), ensemble of %d flow stage%s\n",
            n->uses_image ? "image + photometry" : "photometry-only",
            n->trained ? "trained" : "UNTRAINED (random weights)", gp_act_name(n->act), n->slope, n->K,
            n->K == 1 ? "" : "s");
    if (n->uses_image) {
        long p = 0;
        fprintf(f, "  band stretch: y = (asinh(x/soft) - offset)/scale; soft g,r,i = %g %g %g nmgy; offset %g %g %g; scale %g %g %g\n",
                n->soft[0], n->soft[1], n->soft[2], n->offset[0], n->offset[1], n->offset[2],
                n->scale[0], n->scale[1], n->scale[2]);
        fprintf(f, "  VAE encoder: 3x%dx%d", n->enc_h[0], n->enc_h[0]);
        for (int i = 0; i < GP_ENC_CONVS; i++) {
            const gp_conv *c = &n->enc_conv[i];
            fprintf(f, " -> conv k%d s%d p%d -> %dx%dx%d", c->k, c->stride, c->pad, c->cout, n->enc_h[i + 1], n->enc_h[i + 1]);
            p += (long)c->cout * c->cin * c->k * c->k + c->cout;
        }
        p += 2L * (n->enc_mu.in * (long)n->latent + n->latent);
        fprintf(f, " -> fc -> mu, logvar (%d each)  (%ld parameters)\n", n->latent, p);
        long d = (long)n->dec_fc.in * n->dec_fc.out + n->dec_fc.out;
        for (int i = 0; i < GP_ENC_CONVS; i++)
            d += (long)n->dec_deconv[i].cin * n->dec_deconv[i].cout * 16 + n->dec_deconv[i].cout;
        fprintf(f, "  VAE decoder: mirror with transposed convolutions  (%ld parameters)\n", d);
    }
    fprintf(f, "  trunk input: %d = %s4 colours + 5 magnitudes\n", n->trunk_in,
            n->uses_image ? "latent mu + sigma + " : "");
    for (int k = 0; k < n->K; k++) {
        const gp_member *mm = &n->member[k];
        fprintf(f, "  member %d:\n", k);
        print_mlp(f, "trunk", &mm->trunk);
        print_mlp(f, "core head", &mm->core_head);
        print_mlp(f, "classifier", &mm->classifier);
        print_mlp(f, "line head", &mm->line_head);
        print_flow(f, "core flow", &mm->core_flow);
        fprintf(f, "    %-12s 1-D conditional affine, context [core (4), trunk (%d)], S = %g  (%ld parameters)\n",
                "O/H flow", n->trunk_out, mm->oh_flow.scale_bound, mlp_params(&mm->oh_flow.cond.net));
        print_flow(f, "line flow", &mm->line_flow);
        if (k == 0 && n->K > 2) { fprintf(f, "  members 1..%d: same shapes\n", n->K - 1); break; }
    }
    fprintf(f, "  photometry standardisation (u-g g-r r-i i-z u g r i z):\n    mean");
    for (int i = 0; i < GP_NPHOT; i++) fprintf(f, " %.4g", n->phot_mean[i]);
    fprintf(f, "\n    std ");
    for (int i = 0; i < GP_NPHOT; i++) fprintf(f, " %.4g", n->phot_std[i]);
    fprintf(f, "\n  targets (standardised with mean, std):\n");
    for (int q = 0; q < GP_NQ; q++)
        fprintf(f, "    %-16s %-26s mean %.5g std %.5g\n", gp_quantity_name(q), gp_quantity_unit(q),
                n->target_mean[q], n->target_std[q]);
    if (n->z_softplus > 0)
        fprintf(f, "    (z is trained as s ln(exp(z/s) - 1), s = %g: its posterior samples are positive)\n", n->z_softplus);
}
