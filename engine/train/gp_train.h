/*
 * gp_train.h: the training engine (internal).
 *
 * Parameters live in a gp_tparams set: one entry per tensor of the model
 * file (names as in gp_model_random.c / weights/FORMAT.md), each with its
 * value, gradient and Adam moments in backend memory.  Layers are run
 * forward and backward only through gp_backend_ops, so training runs on any
 * backend that implements the training operations.
 *
 * Conventions: a layer's forward pass keeps what its backward pass needs
 * (inputs and post-activation outputs) in buffers owned by the layer
 * object, sized for `cap` rows; backward passes accumulate parameter
 * gradients and overwrite input gradients.
 */
#ifndef GALPOST_GP_TRAIN_H
#define GALPOST_GP_TRAIN_H

#include <stdint.h>
#include <stdio.h>

#include "galpost/gp_weights.h"
#include "gp_backend.h"
#include "gp_net.h"

/* splitmix64 (Steele, Lea & Flood 2014): one step of the generator whose
 * state advances by 0x9E3779B97F4A7C15, as a mixing function of x.  The
 * trainer's shuffles and split and the evaluation's baselines and PIT
 * draws use it (the model's noise uses Philox, gp_rng.h). */
static inline uint64_t gp_splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* GP_OK when the backend implements every training operation of
 * gp_backend.h, else GP_ERR_BACKEND naming the first missing one. */
int gp_backend_check_training(const gp_backend *be, gp_error *err);

/* ---------------------------------------------------------- parameters */

typedef struct gp_tparam {
    char    name[GP_WEIGHTS_NAME_MAX + 1];
    int     ndim;
    int64_t dims[GP_WEIGHTS_MAX_DIMS];
    size_t  n;
    float  *w, *g, *m, *v;       /* backend memory */
} gp_tparam;

typedef struct gp_tparams {
    gp_backend *be;
    gp_tparam  *p;
    int         n;
} gp_tparams;

/* Every tensor of an open weights file becomes a parameter. */
int  gp_tparams_from_weights(gp_backend *be, const gp_weights *w, gp_tparams *ps, gp_error *err);
/* Load values (and Adam moments "adam.m.NAME"/"adam.v.NAME" when present) from a file with the same tensors. */
int  gp_tparams_load(gp_tparams *ps, const gp_weights *w, int moments, gp_error *err);
gp_tparam *gp_tparams_find(const gp_tparams *ps, const char *name);
void gp_tparams_free(gp_tparams *ps);
/* Zero the gradients of parameters whose names start with prefix. */
int  gp_tparams_zero_grad(gp_tparams *ps, const char *prefix, gp_error *err);
/* Gradient norm over the parameters whose names start with prefix. */
int  gp_tparams_grad_norm(gp_tparams *ps, const char *prefix, double *norm, gp_error *err);
/* Adaptive clipping: the factor (<= 1) that brings a gradient of norm
 * `norm` within `factor` times *ema, the running mean of the previous
 * norms, then *ema moves toward the (clipped) norm with weight `weight`.
 * *ema = 0 means no history: it becomes norm and nothing is clipped.  A
 * non-finite norm returns 1 and leaves *ema as it is (the caller reports
 * the divergence). */
double gp_train_adaptive_clip(double *ema, double norm, double factor, double weight);
/* GP_OK for a finite gradient norm; else GP_ERR_DATA "training diverged" naming prefix and step t. */
int  gp_tparams_diverged(const char *prefix, double norm, long t, gp_error *err);
/* Adam on the prefix's parameters, their gradients first multiplied by scale (1: as they are). */
int  gp_tparams_adam_scaled(gp_tparams *ps, const char *prefix, float lr, long t, float scale, gp_error *err);
/* Global gradient norm over the prefix, then Adam with clipping to clip (<= 0: none). */
int  gp_tparams_adam(gp_tparams *ps, const char *prefix, float lr, long t, float clip,
                     double *gnorm, gp_error *err);
/* Reset Adam moments of the prefix (a new stage starts fresh). */
int  gp_tparams_reset_moments(gp_tparams *ps, const char *prefix, gp_error *err);
/* Add every parameter (and, with moments, "adam.m."/"adam.v." tensors) to a writer. */
int  gp_tparams_write(const gp_tparams *ps, gp_weights_writer *wr, int moments, gp_error *err);
/* Copy all metadata of `w` into the writer. */
int  gp_weights_copy_meta(const gp_weights *w, gp_weights_writer *wr, gp_error *err);

/* --------------------------------------------------------------- layers */

typedef struct gp_tmlp {
    int        nl, in, act_last;
    int        out[GP_MLP_MAX_LAYERS];
    gp_tparam *W[GP_MLP_MAX_LAYERS], *b[GP_MLP_MAX_LAYERS];
    gp_act     act;
    float      slope;
    int        cap;                       /* rows the buffers hold */
    const float *x;                       /* last forward input */
    float     *y[GP_MLP_MAX_LAYERS];      /* post-activation outputs */
    float     *g0, *g1;                   /* gradient ping-pong [cap x width] */
    int        width;
} gp_tmlp;

/* Bind MLP prefix.0 .. from the parameter set (in = input width). */
int  gp_tmlp_bind(gp_tmlp *m, const gp_tparams *ps, const char *prefix, int in, int act_last,
                  gp_act act, float slope, int cap, gp_error *err);
void gp_tmlp_free(gp_tmlp *m, gp_backend *be);
/* Forward: returns the output buffer (owned by the MLP) in *Y. */
int  gp_tmlp_forward(gp_backend *be, gp_tmlp *m, const float *X, int rows, float **Y, gp_error *err);
/* Backward: dY [rows x out] (may be modified) -> dX [rows x in] (NULL: not needed). */
int  gp_tmlp_backward(gp_backend *be, gp_tmlp *m, int rows, float *dY, float *dX, gp_error *err);

/* A conditional flow (RealNVP, or the 1-D affine flow as dim 1 with one
 * coupling whose conditioner takes [cond_row, ctx]). */
typedef struct gp_tflow {
    int      dim, ctx, nl, nrowin;        /* nrowin: per-row conditioner input (affine1d: 4) */
    int      nkeep[GP_FLOW_MAX_LAYERS], nt[GP_FLOW_MAX_LAYERS];
    int      keep[GP_FLOW_MAX_LAYERS][GP_FLOW_MAX_DIM], trans[GP_FLOW_MAX_LAYERS][GP_FLOW_MAX_DIM];
    float    S;
    gp_tmlp  cond[GP_FLOW_MAX_LAYERS];
    int      cap;
    float   *xs;                          /* [(nl+1) x cap x dim] inputs of each layer */
    float   *in;                          /* [nl x cap x (nkeep|nrowin + ctx)] conditioner inputs */
    float   *st[GP_FLOW_MAX_LAYERS];      /* conditioner outputs (the MLP's buffers) */
    float   *dst, *din, *ldw;             /* scratch */
    double  *ld;                          /* [cap] log-determinants (backend memory) */
} gp_tflow;

/* RealNVP: prefix "m0.core_flow", masks from the file's metadata key (flow.core). */
int  gp_tflow_bind_realnvp(gp_tflow *f, const gp_tparams *ps, const gp_weights *w, const char *prefix,
                           const char *metakey, int dim, int ctx, gp_act act, float slope, int cap,
                           gp_error *err);
/* 1-D affine flow: prefix "m0.oh_flow", scale bound key flow.oh.scale_bound. */
int  gp_tflow_bind_affine1d(gp_tflow *f, const gp_tparams *ps, const gp_weights *w, const char *prefix,
                            int nrowin, int ctx, gp_act act, float slope, int cap, gp_error *err);
void gp_tflow_free(gp_tflow *f, gp_backend *be);
/*
 * Negative log-likelihood of rows x dim values r under the flow given
 * context ctx [rows x ctx] (and for affine1d the per-row conditioner input
 * rowin [rows x nrowin]): z = f(r), loss += w sum_r mask_r (-log N(z) - log|det|).
 * Backward (after forward): dctx += gradient w.r.t. the context; dr
 * (may be NULL) = gradient w.r.t. r.
 */
int  gp_tflow_nll_forward(gp_backend *be, gp_tflow *f, const float *r, const float *rowin,
                          const float *ctx, const float *mask, int rows, double w, double *loss,
                          gp_error *err);
int  gp_tflow_nll_backward(gp_backend *be, gp_tflow *f, const float *mask, int rows, double w,
                           float *dctx, float *dr, gp_error *err);

/* ---------------------------------------------------------------- VAE */

typedef struct gp_tvae {
    int        latent, ch[4], hs[4], flat;
    gp_tparam *cw[3], *cb[3], *muW, *mub, *lvW, *lvb, *dfW, *dfb, *dw[3], *db[3];
    float      slope;
    int        cap;
    float     *a[3];            /* encoder conv outputs */
    float     *mu, *lv, *eps, *z, *dfc, *d[2], *rec;
    float     *g_big0, *g_big1, *dmu, *dlv, *dz, *g_flat;
} gp_tvae;

int  gp_tvae_bind(gp_tvae *v, const gp_tparams *ps, const gp_weights *w, int cap, gp_error *err);
void gp_tvae_free(gp_tvae *v, gp_backend *be);
/* Encoder only: x [n x 3 x 160 x 160] stretched -> mu, logvar (owned buffers). */
int  gp_tvae_encode(gp_backend *be, gp_tvae *v, const float *x, int n, gp_error *err);
/* One training step's forward + backward on n stretched images (eps: host
 * normals [n x latent]): loss terms per image summed into *rec_loss, *kl. */
int  gp_tvae_step(gp_backend *be, gp_tvae *v, const float *x, int n, const float *eps_host,
                  double beta, double *rec_loss, double *kl, int backward, gp_error *err);

/* ------------------------------------------------------- flow stage */

typedef struct gp_tmember {
    int      k, T, tin;
    int      joint;     /* 0 (the paper's protocol): the heads learn only from
                           their MSE, the flows see the residuals as data;
                           1: the flows' NLL also trains the heads (exact
                           gradient of the total loss; used by the tests) */
    gp_tmlp  trunk, core_head, classifier, line_head;
    gp_tflow core_flow, line_flow, oh_flow;
    int      cap;
    float   *dtrunk, *g_head, *g_cls, *g_line, *tmp_a, *tmp_b, *res, *mask_oh, *dtmp;
} gp_tmember;

/* Loss parts of one batch (sums over rows, before the 1/rows weight). */
typedef struct gp_tlosses {
    double mse_core, mse_oh, mse_line, bce, nll_core, nll_oh, nll_line;
    long   rows, rows_oh;
    long   correct;          /* classifier right */
} gp_tlosses;

int  gp_tmember_bind(gp_tmember *m, const gp_tparams *ps, const gp_weights *w, int k, int tin,
                     gp_act act, float slope, int cap, gp_error *err);
void gp_tmember_free(gp_tmember *m, gp_backend *be);
/*
 * One batch: X [rows x tin] trunk inputs, Y [rows x 9] standardized
 * targets (O/H arbitrary where not measurable), ohm [rows] 1/0 measurable.
 * Adds to *L; with backward, accumulates gradients of the mean loss.
 */
int  gp_tmember_step(gp_backend *be, gp_tmember *m, const float *X, const float *Y,
                     const float *ohm, int rows, int backward, gp_tlosses *L, gp_error *err);

#endif
