/*
 * gp_net.h: the model's architecture and its stages (internal).
 *
 * Layout (design.md section 2; tensor names and metadata keys are listed in
 * weights/FORMAT.md, "Model metadata keys"):
 *   encoder   enc.conv{0,1,2} (k4 s2 p1, LeakyReLU) -> enc.fc_mu, enc.fc_logvar
 *   decoder   dec.fc (LeakyReLU) -> dec.deconv{0,1,2} (LeakyReLU but the last)
 *   member k of the ensemble (prefix m<k>.):
 *     trunk       MLP, activation after every layer
 *     core_head   MLP -> 5 standardized means (M*, SFR, z, M_BH, O/H)
 *     classifier  MLP -> 1 logit (metallicity measurable)
 *     core_flow   RealNVP over the 4 core residuals, context = trunk output
 *     oh_flow     1-D conditional affine over the O/H residual,
 *                 context = [trunk output, standardized core values]
 *     line_head   MLP -> 4 standardized line means
 *     line_flow   RealNVP over the 4 line residuals, context = trunk output
 * MLPs apply the activation between layers (not after the last) except the
 * trunk, which also activates its output.
 */
#ifndef GALPOST_GP_NET_H
#define GALPOST_GP_NET_H

#include <float.h>
#include <math.h>
#include <stdint.h>

#include "galpost/gp_weights.h"
#include "gp_backend.h"
#include "gp_ood.h"

#define GP_MLP_MAX_LAYERS   8
#define GP_FLOW_MAX_LAYERS  32
#define GP_FLOW_MAX_DIM     4
#define GP_ENSEMBLE_MAX     16
#define GP_ENC_CONVS        3
#define GP_NPHOT            9   /* u-g, g-r, r-i, i-z, u, g, r, i, z */

typedef struct gp_dense {
    int in, out;
    const float *W;   /* [out x in] */
    const float *b;   /* [out] */
} gp_dense;

typedef struct gp_mlp {
    int      nlayers;
    gp_dense layer[GP_MLP_MAX_LAYERS];
    int      act_last;   /* activation after the last layer too */
} gp_mlp;

typedef struct gp_conv {
    int cin, cout, k, stride, pad;
    const float *W;   /* conv: [cout x cin x k x k]; transposed: [cin x cout x k x k] */
    const float *b;   /* [cout] */
} gp_conv;

/* An MLP whose input is [per-row part (nrow), per-galaxy part (nctx)]: its
 * first layer is split at load time into W_row [H x nrow] and W_ctx
 * [H x nctx] so the per-galaxy part is computed once per galaxy. */
typedef struct gp_cond_mlp {
    gp_mlp   net;        /* the layers as stored (first layer unsplit) */
    int      nrow, nctx;
    float   *w_row;      /* [H x nrow], owned by the net's arena */
    float   *w_ctx;      /* [H x nctx] */
} gp_cond_mlp;

typedef struct gp_coupling {
    int    nkeep, nt;
    int    keep[GP_FLOW_MAX_DIM];   /* conditioning dims (mask 1), increasing */
    int    trans[GP_FLOW_MAX_DIM];  /* transformed dims (mask 0), increasing */
    gp_cond_mlp cond;               /* [x_keep, context] -> [s_raw (nt), t (nt)] */
} gp_coupling;

typedef struct gp_realnvp {
    int         dim, ctx, nlayers;
    float       scale_bound;        /* s = S tanh(s_raw / S) */
    gp_coupling layer[GP_FLOW_MAX_LAYERS];
} gp_realnvp;

typedef struct gp_affine1d {
    float  scale_bound;
    gp_cond_mlp cond;               /* [core values (4), trunk] -> [s_raw, t] */
} gp_affine1d;

typedef struct gp_member {
    gp_mlp      trunk, core_head, classifier, line_head;
    gp_realnvp  core_flow, line_flow;
    gp_affine1d oh_flow;
} gp_member;

typedef struct gp_net {
    const gp_weights *w;
    gp_backend *be;        /* weights are mirrored to this backend */
    int    uses_image;
    int    trained;
    gp_act act;            /* activation of every MLP */
    float  slope;          /* LeakyReLU slope (MLPs and convolutions) */
    /* image */
    float  soft[3], offset[3], scale[3];  /* band stretch */
    int    latent;
    int    enc_h[GP_ENC_CONVS + 1];       /* spatial size per stage: 160, 80, 40, 20 */
    gp_conv  enc_conv[GP_ENC_CONVS];
    gp_dense enc_mu, enc_logvar;
    gp_dense dec_fc;
    gp_ood   latent_ood;  /* training-set likeness of [mu, ln sigma] (dim 0: none stored) */
    gp_conv  dec_deconv[GP_ENC_CONVS];
    /* photometry and targets */
    float  phot_mean[GP_NPHOT], phot_std[GP_NPHOT];
    gp_ood phot_ood;      /* training-set likeness of the photometry (gp_phot_check_vector; dim 0: none) */
    double target_mean[9], target_std[9];
    double z_softplus;    /* target.z_softplus: the z target's scale s (gp_z_from_target); 0: z itself */
    int    trunk_in, trunk_out;
    /* ensemble */
    float    *arena;       /* split first layers of the conditioners */
    int       K;
    gp_member member[GP_ENSEMBLE_MAX];
} gp_net;

/* The redshift a z target t stands for.  Models with target.z_softplus = s
 * are trained on t = s ln(exp(z/s) - 1), whose inverse
 * z = s ln(1 + exp(t/s)) is positive for every t: a flow on t cannot put
 * posterior mass at z <= 0.  The two agree within 2e-15 for z >= 30 s and
 * differ only near 0 (z = s gives t = 0.54 s).  s = 0: t is z itself (files
 * written before the key existed). */
static inline double gp_z_from_target(double t, double s)
{
    if (!(s > 0.0)) return t;
    double x = t / s;
    if (x > 30.0) return t;
    /* samples are floats: below t = -2.04 (s = 0.02) the exact value is under
     * the least float, so it is held at FLT_MIN (1.2e-38) to stay positive */
    double z = s * log1p(exp(x));
    return z > FLT_MIN ? z : FLT_MIN;
}

/* The z target of a redshift z > 0 for scale s > 0 (inverse of
 * gp_z_from_target); NaN for z <= 0. */
static inline double gp_z_to_target(double z, double s)
{
    if (!(s > 0.0)) return z;
    if (!(z > 0.0)) return NAN;
    double x = z / s;
    return x > 30.0 ? z : s * log(expm1(x));
}

/* Build the architecture from an open weights file, validating every key
 * and tensor shape.  Tensor data stay in the file mapping. */
int gp_net_load(const gp_weights *w, gp_backend *be, gp_net *net, gp_error *err);

/* Activation names in the metadata: "relu", "leaky_relu", "tanh". */
int gp_act_parse(const char *s, gp_act *out);
const char *gp_act_name(gp_act a);

/* ---- stages (host or backend memory as the backend dictates) ---- */

/* Standardized photometry inputs are held within +-GP_PHOT_CLIP standard deviations
 * of the training split, in training and in inference alike.  A band's non-detection
 * (SDSS writes modelMag 30 with an error of hundreds of magnitudes), a saturated or a
 * blended object would otherwise put the networks far outside anything they were
 * trained on: one mock u-band dropout (u - g = 11, 35 standard deviations) got a
 * redshift posterior 1.1 wide and a log M_BH one of hundreds of dex.  Within 5
 * standard deviations lie all but about 1 in 10^4 of the mock's galaxies. */
#define GP_PHOT_CLIP 5.0

/* The photometry inputs before standardization, in their order: the colours
 * u-g, g-r, r-i, i-z, then the magnitudes u, g, r, i, z (float arithmetic,
 * as in inference; training takes its statistics from the same values). */
static inline void gp_phot_raw(const float mag[5], float raw[GP_NPHOT])
{
    for (int i = 0; i < 4; i++) raw[i] = mag[i] - mag[i + 1];
    for (int i = 0; i < 5; i++) raw[4 + i] = mag[i];
}

/* v clipped to [-GP_PHOT_CLIP, GP_PHOT_CLIP]; NaN stays NaN (the input check rejects it). */
static inline double gp_phot_clip(double v)
{
    return v > GP_PHOT_CLIP ? GP_PHOT_CLIP : v < -GP_PHOT_CLIP ? -GP_PHOT_CLIP : v;
}

/* Standardized photometry: 4 colours then 5 magnitudes, each clipped (gp_phot_clip).
 * Returns how many of the nine were clipped. */
int gp_net_photometry(const gp_net *net, const float mag[5], float out[GP_NPHOT]);

/* gp_net_photometry(), and in unclipped (NULL: not wanted) the nine values
 * before the clip, the photometry check's (gp_phot_check_select): inference
 * standardizes each galaxy once for both. */
int gp_net_photometry_unclipped(const gp_net *net, const float mag[5], float out[GP_NPHOT],
                                double unclipped[GP_NPHOT]);

/* The vector the photometry check (`ood.phot.*`, gp_ood.h) measures: the four
 * colours and r, standardized as the networks' inputs but not clipped.  The
 * nine inputs span only these five dimensions (the other magnitudes are r
 * plus colours), and a Mahalanobis distance does not depend on which basis
 * of them is used.  A colour combination the training set never had (a
 * blend, a bad band, a star) lies far out even when each value alone is
 * within the clip.  mean, std: the training split's statistics as floats
 * (net->phot_mean and phot_std in inference, the same values in training). */
#define GP_PHOT_OOD_DIM 5
static const int gp_phot_check_col[GP_PHOT_OOD_DIM] = { 0, 1, 2, 3, 6 };   /* u-g, g-r, r-i, i-z, r */
static inline void gp_phot_check_vector(const float mean[GP_NPHOT], const float std[GP_NPHOT], const float mag[5],
                                        double x[GP_PHOT_OOD_DIM])
{
    float raw[GP_NPHOT];
    gp_phot_raw(mag, raw);
    for (int i = 0; i < GP_PHOT_OOD_DIM; i++) {
        int c = gp_phot_check_col[i];
        x[i] = (raw[c] - mean[c]) / std[c];
    }
}

/* The same vector from the nine standardized, unclipped values
 * (gp_net_photometry_unclipped: the same float arithmetic, the same values). */
static inline void gp_phot_check_select(const double unclipped[GP_NPHOT], double x[GP_PHOT_OOD_DIM])
{
    for (int i = 0; i < GP_PHOT_OOD_DIM; i++) x[i] = unclipped[gp_phot_check_col[i]];
}

/* Scratch bytes the encoder needs for n images. */
size_t gp_net_encoder_scratch(const gp_net *net, int n);

/* x: n stretched images [n x 3 x 160 x 160] -> mu, logvar [n x latent]. */
int gp_net_encode(gp_backend *be, const gp_net *net, const float *x, int n,
                  float *scratch, float *mu, float *logvar, gp_error *err);

/* z [n x latent] -> stretched images [n x 3 x 160 x 160]. */
int gp_net_decode(gp_backend *be, const gp_net *net, const float *z, int n,
                  float *scratch, float *out, gp_error *err);

/* MLP on rows; `tmp` holds 2 x rows x (widest layer). */
int gp_mlp_forward(gp_backend *be, const gp_mlp *m, gp_act act, float slope,
                   const float *X, int rows, float *tmp, float *Y, gp_error *err);
int gp_mlp_width(const gp_mlp *m);  /* widest layer output */

/*
 * RealNVP on rows of samples.  ctx is [ngal x flow->ctx] (one context per
 * galaxy); row_gal maps each of the `rows` rows to its galaxy.  dir = -1
 * maps base noise to data (sampling), dir = +1 data to base (density) and
 * accumulates log|det| into logdet (double, may be NULL).
 * scratch: gp_realnvp_scratch() floats.
 */
size_t gp_realnvp_scratch(const gp_realnvp *f, int rows, int ngal);
int gp_realnvp_apply(gp_backend *be, const gp_realnvp *f, gp_act act,
                     float slope, float *x, int rows, const float *ctx,
                     int ngal, const int *row_gal, int dir, double *logdet,
                     float *scratch, gp_error *err);

/* 1-D affine flow: x[rows] in place, conditioned on core[rows x 4] (per
 * row) and ctx [ngal x trunk] (per galaxy).  dir as for RealNVP. */
size_t gp_affine1d_scratch(const gp_affine1d *f, int rows, int ngal);
int gp_affine1d_apply(gp_backend *be, const gp_affine1d *f, gp_act act,
                      float slope, float *x, int rows, const float *core,
                      const float *ctx, int ngal, const int *row_gal, int dir,
                      double *logdet, float *scratch, gp_error *err);

/* Conditioner MLP: Y [rows x out] from Xrow [rows x nrow] and C [ngal x nctx]. */
size_t gp_cond_mlp_scratch(const gp_cond_mlp *c, int rows, int ngal);
int gp_cond_mlp_forward(gp_backend *be, const gp_cond_mlp *c, gp_act act,
                        float slope, const float *Xrow, int rows,
                        const float *C, int ngal, const int *row_gal,
                        float *scratch, float *Y, gp_error *err);

void gp_net_free(gp_net *net);

#endif
