/* gp_model.c: opening a model on a backend, and facts about it. */
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

const char *gp_quantity_name(int q) { return q >= 0 && q < GP_NQ ? qnames[q] : "?"; }
const char *gp_quantity_unit(int q) { return q >= 0 && q < GP_NQ ? qunits[q] : "?"; }
const char *gp_quantity_label(int q) { return q >= 0 && q < GP_NQ ? qlabels[q] : "?"; }
const char *gp_bpt_class_name(int c) { return c >= 0 && c < GP_NBPT ? bptnames[c] : "undefined"; }

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

void gp_model_close(gp_model *m)
{
    if (!m) return;
    gp_backend_close(m->be);
    gp_net_free(&m->net);
    gp_weights_close(m->w);
    free(m);
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

int gp_model_default_path(char *buf, size_t size, gp_error *err)
{
    const char *env = getenv("GALPOST_MODEL");
    const char *cand = env && *env ? env : GP_DATADIR "/galpost-default.gpw";
    if (strlen(cand) + 1 > size) return GP_FAIL(err, GP_ERR_ARG, "model path buffer too small");
    if (access(cand, R_OK) != 0)
        return GP_FAIL(err, GP_ERR_NOTFOUND, "no model given and the default model %s is not readable%s",
                       cand, env && *env ? " ($GALPOST_MODEL)" : " (install galpost, set $GALPOST_MODEL or use --model)");
    memcpy(buf, cand, strlen(cand) + 1);
    return GP_OK;
}
