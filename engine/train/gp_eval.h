/*
 * gp_eval.h: `galpost eval`, the held-out evaluation of a trained model
 * (internal).
 *
 * The test split is recomputed from the model's metadata (train.split.*)
 * and the same data, so it is exactly the set the training never saw.
 * Posterior samples come from gp_infer() on the weights file, as a user
 * gets them.  Figures per quantity (paper Tables 1 and 2): R^2 of the
 * posterior median, RMSE, bias, NMAD, outlier fraction (|median - true| >
 * 3 NMAD), sigma_ale (root mean square of the within-member spread, half
 * the 16-84% range) and sigma_epi (root mean variance of the member
 * medians), coverage of the central 68% and 95%
 * intervals, the PIT histogram and its Kolmogorov-Smirnov distance from
 * uniform; the detectability classifier's accuracy and confusion matrix;
 * and baselines trained on the same train split: photometry + MLP, image
 * embedding (VAE latent mean and sigma, photometry) + MLP, image embedding
 * (latent mean, photometry) + kNN (k = 10).
 */
#ifndef GALPOST_GP_EVAL_H
#define GALPOST_GP_EVAL_H

#include <signal.h>
#include <stdint.h>

#include "galpost/gp_error.h"

typedef struct gp_eval_opts {
    const char *model;
    const char *const *data;
    int         ndata;
    const char *outdir;        /* metrics.csv, galaxies.csv, report.md, PNGs */
    const char *latents;       /* the trainer's latent cache (optional, saves encoding) */
    int         nsamples;      /* posterior samples per galaxy (200) */
    uint64_t    seed;
    int         threads;
    long        max_test;      /* 0: the whole test split */
    long        max_baseline_train; /* 0: the whole train split */
    int         baselines;
    int         record;        /* write eval.* figures into the model file */
    int         progress;
    volatile sig_atomic_t *interrupted;
} gp_eval_opts;

void gp_eval_opts_default(gp_eval_opts *o);

/*
 * gp_eval_pit() - probability integral transform of a true value among n
 * posterior samples, `below` of them smaller than it and `ties` equal to it.
 * Given u in [0, 1), the rank is below + floor(u (ties + 1)) (at most
 * below + ties) and the PIT (rank + 0.5) / (n + 1).  Without ties this is
 * the usual (below + 0.5) / (n + 1); with ties (a true line flux of exactly
 * 0, y = log10(1 + max(F, 0)) = 0, where the posterior also has a point
 * mass) it is the randomized PIT, uniform for a calibrated posterior,
 * instead of piling up at one end of the tie.  gp_eval_run() takes u from a
 * hash of the galaxy's objID and the quantity, so reports are reproducible.
 */
double gp_eval_pit(long below, long ties, long n, double u);

/*
 * gp_eval_pit_covered() - 1 when a true value of PIT `pit` lies in the
 * central `level` (0.68, 0.95) of its posterior, |pit - 0.5| <= level / 2,
 * else 0.  For a continuous posterior this is the central interval's
 * coverage; where the posterior has a point mass (line fluxes at F <= 0,
 * reported as y = 0) the interval [0, p84] contains every true 0, so
 * interval coverage overstates calibration there, while the randomized
 * PIT's coverage is `level` for a calibrated posterior.  gp_eval_run()
 * reports both.
 */
int gp_eval_pit_covered(double pit, double level);

int  gp_eval_run(const gp_eval_opts *o, gp_error *err);

#endif
