/*
 * gp_model_random.c: untrained models with random weights, carrying the
 * complete metadata of a real model (architecture, masks, normalisation,
 * band stretch).  Weights are N(0, 1/fan_in) from Philox (so the same seed
 * gives the same file), biases zero; the last layer of every flow
 * conditioner is scaled by arch->flow_gain (0.05 by default) so that
 * untrained flows stay near the identity.  Normalisation statistics are typical SDSS Main Galaxy Sample
 * values (physics.md), so that an untrained model's outputs are at least in
 * physical ranges.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "galpost/gp_model.h"
#include "galpost/gp_weights.h"
#include "gp_net.h"
#include "gp_rng.h"

gp_arch gp_arch_default(void)
{
    gp_arch a;
    memset(&a, 0, sizeof a);
    a.uses_image = 1;
    a.enc_channels[0] = 32; a.enc_channels[1] = 64; a.enc_channels[2] = 128;
    a.latent = 32;
    a.trunk_layers = 2;
    a.trunk[0] = 256; a.trunk[1] = 256;
    a.head_hidden = 128;
    a.flow_hidden = 64;
    a.flow_depth = 2;
    a.couplings = 12;
    a.ensemble = 1;
    a.scale_bound = 3.0f;
    a.leaky_slope = 0.2f;
    a.flow_gain = 0.05f;
    return a;
}

typedef struct rand_ctx {
    gp_weights_writer *wr;
    uint64_t seed;
    uint32_t counter;
    gp_error *err;
} rand_ctx;

static int add_random(rand_ctx *c, const char *name, int ndim, const int64_t *dims,
                      double stddev)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)dims[i];
    float *v = malloc(sizeof(float) * n);
    if (!v) return GP_FAIL(c->err, GP_ERR_NOMEM, "cannot allocate tensor '%s'", name);
    uint32_t tensor = c->counter++;
    for (size_t i = 0; i < n; i += 4) {
        float r[4];
        gp_rng_normals4(c->seed, 0xC0FFEE00ull + tensor, (uint32_t)(i / 4), 7, r);
        for (size_t k = 0; k < 4 && i + k < n; k++) v[i + k] = (float)(stddev * r[k]);
    }
    int st = gp_weights_writer_add_tensor(c->wr, name, ndim, dims, v, c->err);
    free(v);
    return st;
}

static int add_zeros(rand_ctx *c, const char *name, int ndim, const int64_t *dims)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)dims[i];
    float *v = calloc(n, sizeof(float));
    if (!v) return GP_FAIL(c->err, GP_ERR_NOMEM, "cannot allocate tensor '%s'", name);
    int st = gp_weights_writer_add_tensor(c->wr, name, ndim, dims, v, c->err);
    free(v);
    return st;
}

static int add_dense(rand_ctx *c, const char *prefix, int in, int out, double gain)
{
    char name[300];
    int64_t wd[2] = { out, in }, bd[1] = { out };
    snprintf(name, sizeof name, "%s.weight", prefix);
    int st = add_random(c, name, 2, wd, gain / sqrt((double)in));
    if (st) return st;
    snprintf(name, sizeof name, "%s.bias", prefix);
    return add_zeros(c, name, 1, bd);
}

static int add_mlp(rand_ctx *c, const char *prefix, int in, const int *hidden, int nh,
                   int out, double last_gain)
{
    int prev = in;
    char name[300];
    for (int i = 0; i < nh; i++) {
        snprintf(name, sizeof name, "%s.%d", prefix, i);
        int st = add_dense(c, name, prev, hidden[i], sqrt(2.0));
        if (st) return st;
        prev = hidden[i];
    }
    if (out <= 0) return GP_OK;
    snprintf(name, sizeof name, "%s.%d", prefix, nh);
    return add_dense(c, name, prev, out, last_gain);
}

static int check_arch(const gp_arch *a, gp_error *err)
{
    if (a->latent < 1 || a->latent > 1024 || a->trunk_layers < 1 || a->trunk_layers > GP_ARCH_MAX_HIDDEN ||
        a->head_hidden < 1 || a->head_hidden > 65536 || a->flow_hidden < 1 || a->flow_hidden > 65536 ||
        a->flow_depth < 1 || a->flow_depth > GP_MLP_MAX_LAYERS - 1 || a->couplings < 1 ||
        a->couplings > GP_FLOW_MAX_LAYERS || a->ensemble < 1 || a->ensemble > GP_ENSEMBLE_MAX ||
        !(a->scale_bound > 0 && a->scale_bound <= 20) || !(a->leaky_slope >= 0 && a->leaky_slope < 1) || !(a->flow_gain > 0 && a->flow_gain <= 10))
        return GP_FAIL(err, GP_ERR_ARG, "architecture out of range (latent %d, trunk layers %d, head %d, flow %dx%d, couplings %d, ensemble %d)",
                       a->latent, a->trunk_layers, a->head_hidden, a->flow_hidden, a->flow_depth, a->couplings, a->ensemble);
    for (int i = 0; i < a->trunk_layers; i++)
        if (a->trunk[i] < 1 || a->trunk[i] > 65536) return GP_FAIL(err, GP_ERR_ARG, "trunk width %d out of range", a->trunk[i]);
    for (int i = 0; i < 3; i++)
        if (a->uses_image && (a->enc_channels[i] < 1 || a->enc_channels[i] > 4096))
            return GP_FAIL(err, GP_ERR_ARG, "encoder width %d out of range", a->enc_channels[i]);
    return GP_OK;
}

/* Alternating masks: even couplings keep dims {0,1}, odd keep {2,3}; every
 * third pair uses the interleaved {0,2} / {1,3} split so that each dim is
 * conditioned on each other one. */
static void flow_masks(int L, int64_t *m)
{
    static const int64_t pat[4][4] = { {1,1,0,0}, {0,0,1,1}, {1,0,1,0}, {0,1,0,1} };
    for (int l = 0; l < L; l++) {
        int p = (l / 2) % 2 == 0 ? (l & 1) : 2 + (l & 1);
        memcpy(m + 4 * l, pat[p], sizeof pat[p]);
    }
}

int gp_model_write_random(const char *path, const gp_arch *arch, uint64_t seed, gp_error *err)
{
    gp_arch a = arch ? *arch : gp_arch_default();
    int st = check_arch(&a, err);
    if (st) return st;
    gp_weights_writer *wr = NULL;
    if ((st = gp_weights_writer_new(&wr, err))) return st;
    rand_ctx c = { wr, seed, 0, err };

    /* typical MGS statistics: colours u-g, g-r, r-i, i-z; magnitudes ugriz */
    const double phot_mean[GP_NPHOT] = { 1.65, 0.80, 0.40, 0.30, 19.3, 17.7, 16.9, 16.5, 16.2 };
    const double phot_std[GP_NPHOT] = { 0.40, 0.20, 0.10, 0.12, 1.0, 0.9, 0.8, 0.8, 0.8 };
    /* targets: log M*, log SFR, z, log M_BH, O/H, lines as log10(1+F) */
    const double tmean[9] = { 10.6, 0.0, 0.10, 7.6, 9.0, 2.0, 1.5, 1.8, 1.4 };
    const double tstd[9] = { 0.55, 1.0, 0.05, 0.8, 0.15, 0.6, 0.5, 0.6, 0.5 };
    const double soft[3] = { 0.017, 0.029, 0.046 }, off[3] = { 0, 0, 0 }, scl[3] = { 3, 3, 3 };
    char date[32];
    time_t now = time(NULL);
    struct tm tmv;
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tmv));
    int64_t masks[4 * GP_FLOW_MAX_LAYERS];
    flow_masks(a.couplings, masks);

#define S(k, v) if (!st) st = gp_weights_writer_set_str(wr, k, v, err)
#define I(k, v) if (!st) st = gp_weights_writer_set_i64(wr, k, v, err)
#define F(k, v) if (!st) st = gp_weights_writer_set_f64(wr, k, v, err)
#define FA(k, v, n) if (!st) st = gp_weights_writer_set_f64_array(wr, k, v, n, err)
#define IA(k, v, n) if (!st) st = gp_weights_writer_set_i64_array(wr, k, v, n, err)
    S("galpost.kind", "model");
    S("model.variant", a.uses_image ? "image" : "photometry");
    I("model.trained", 0);
    S("model.description", "UNTRAINED: random weights, for tests and as a training start");
    S("mlp.activation", "leaky_relu");
    F("mlp.leaky_slope", a.leaky_slope);
    S("input.bands", "g,r,i");
    I("input.size", GP_CUTOUT_SIZE);
    F("input.pixel_scale_arcsec", GP_PIXEL_SCALE);
    S("input.unit", "nanomaggies");
    S("phot.names", "u-g,g-r,r-i,i-z,u,g,r,i,z");
    FA("phot.mean", phot_mean, GP_NPHOT);
    FA("phot.std", phot_std, GP_NPHOT);
    S("target.names", "lgm_tot_p50,sfr_tot_p50,z,log_mbh,oh_p50,h_alpha_flux,h_beta_flux,nii_6584_flux,oiii_5007_flux");
    S("target.units", "log10 Msun,log10 Msun/yr,,log10 Msun,12+log10(O/H),log10(1+F/1e-17 erg/s/cm2),log10(1+F/1e-17 erg/s/cm2),log10(1+F/1e-17 erg/s/cm2),log10(1+F/1e-17 erg/s/cm2)");
    FA("target.mean", tmean, 9);
    FA("target.std", tstd, 9);
    I("ensemble.size", a.ensemble);
    I("flow.core.couplings", a.couplings);
    IA("flow.core.masks", masks, (size_t)4 * a.couplings);
    F("flow.core.scale_bound", a.scale_bound);
    S("flow.core.layout", "conditioner input [x_kept, context]; output [s_raw, t]; s = S tanh(s_raw/S); forward y = x exp(s) + t");
    I("flow.line.couplings", a.couplings);
    IA("flow.line.masks", masks, (size_t)4 * a.couplings);
    F("flow.line.scale_bound", a.scale_bound);
    F("flow.oh.scale_bound", a.scale_bound);
    S("flow.oh.layout", "conditioner input [standardized core (4), trunk]; output [s_raw, t]; s = S tanh(s_raw/S); forward u = r exp(s) + t, sampling r = (u - t) exp(-s)");
    S("provenance.command", "gp_model_write_random");
    I("provenance.seed", (int64_t)seed);
    S("provenance.date", date);
    S("provenance.data", "none (untrained)");
    if (a.uses_image) {
        S("image.stretch", "y = (asinh(x / softening) - offset) / scale, per band g, r, i");
        FA("image.softening", soft, 3);
        FA("image.offset", off, 3);
        FA("image.scale", scl, 3);
        int64_t ch[4] = { 3, a.enc_channels[0], a.enc_channels[1], a.enc_channels[2] };
        IA("encoder.channels", ch, 4);
        I("encoder.kernel", 4);
        I("encoder.stride", 2);
        I("encoder.padding", 1);
        I("encoder.latent", a.latent);
    }
    if (st) goto done;

    int trunk_in = GP_NPHOT;
    if (a.uses_image) {
        char name[64];
        int cin = 3, hw = GP_CUTOUT_SIZE;
        for (int i = 0; i < 3; i++) {
            int64_t wd[4] = { a.enc_channels[i], cin, 4, 4 }, bd[1] = { a.enc_channels[i] };
            snprintf(name, sizeof name, "enc.conv%d.weight", i);
            if ((st = add_random(&c, name, 4, wd, sqrt(2.0 / (cin * 16))))) goto done;
            snprintf(name, sizeof name, "enc.conv%d.bias", i);
            if ((st = add_zeros(&c, name, 1, bd))) goto done;
            cin = a.enc_channels[i];
            hw /= 2;
        }
        int flat = cin * hw * hw;
        if ((st = add_dense(&c, "enc.fc_mu", flat, a.latent, 1.0))) goto done;
        if ((st = add_dense(&c, "enc.fc_logvar", flat, a.latent, 0.1))) goto done;
        if ((st = add_dense(&c, "dec.fc", a.latent, flat, sqrt(2.0)))) goto done;
        for (int i = 0; i < 3; i++) {
            int ci = a.enc_channels[2 - i], co = i == 2 ? 3 : a.enc_channels[1 - i];
            int64_t wd[4] = { ci, co, 4, 4 }, bd[1] = { co };
            snprintf(name, sizeof name, "dec.deconv%d.weight", i);
            if ((st = add_random(&c, name, 4, wd, sqrt(2.0 / (ci * 4))))) goto done;
            snprintf(name, sizeof name, "dec.deconv%d.bias", i);
            if ((st = add_zeros(&c, name, 1, bd))) goto done;
        }
        trunk_in = 2 * a.latent + GP_NPHOT;
    }
    int T = a.trunk[a.trunk_layers - 1];
    int fh[GP_MLP_MAX_LAYERS];
    for (int i = 0; i < a.flow_depth; i++) fh[i] = a.flow_hidden;
    for (int k = 0; k < a.ensemble; k++) {
        char pre[128];
        snprintf(pre, sizeof pre, "m%d.trunk", k);
        if ((st = add_mlp(&c, pre, trunk_in, a.trunk, a.trunk_layers, 0, 1.0))) goto done;
        snprintf(pre, sizeof pre, "m%d.core_head", k);
        if ((st = add_mlp(&c, pre, T, &a.head_hidden, 1, GP_NCORE + 1, 0.5))) goto done;
        snprintf(pre, sizeof pre, "m%d.classifier", k);
        if ((st = add_mlp(&c, pre, T, &a.head_hidden, 1, 1, 0.5))) goto done;
        snprintf(pre, sizeof pre, "m%d.line_head", k);
        if ((st = add_mlp(&c, pre, T, &a.head_hidden, 1, GP_NLINE, 0.5))) goto done;
        for (int f = 0; f < 2; f++)
            for (int l = 0; l < a.couplings; l++) {
                snprintf(pre, sizeof pre, "m%d.%s.%d.net", k, f ? "line_flow" : "core_flow", l);
                if ((st = add_mlp(&c, pre, 2 + T, fh, a.flow_depth, 4, a.flow_gain))) goto done;
            }
        snprintf(pre, sizeof pre, "m%d.oh_flow.net", k);
        if ((st = add_mlp(&c, pre, GP_NCORE + T, fh, a.flow_depth, 2, a.flow_gain))) goto done;
    }
    st = gp_weights_writer_write(wr, path, err);
done:
    gp_weights_writer_free(wr);
    return st;
#undef S
#undef I
#undef F
#undef FA
#undef IA
}
