/*
 * gp_train_run.h: the training protocol (`galpost train`) and the pieces
 * `galpost eval` shares with it (internal).
 *
 * Protocol (design.md section 2, after the seed paper):
 *  1. usable rows are ordered by a seeded hash of their objID; the first
 *     vae_count go to the VAE, the rest are split 70/15/15 into the flow
 *     stage's train, validation and test sets (gp_train_partition);
 *  2. the VAE is trained on its part (reconstruction SSE on the stretched
 *     image + beta KL to N(0,1), Adam) and frozen;
 *  3. its latent means and standard deviations, with the standardized
 *     photometry, are the trunk input of each of the K ensemble members,
 *     trained with different seeds by MSE (heads) + BCE (classifier) + NLL
 *     of the residuals (flows), early-stopped on the validation loss;
 *  4. standardization statistics (photometry, targets) come from the train
 *     split and the band stretch from the VAE part; they, the protocol
 *     settings and the provenance go to the weights metadata.
 * A checkpoint in the work directory after every epoch (and every few
 * minutes within long VAE epochs) lets an interrupted run resume.
 */
#ifndef GALPOST_GP_TRAIN_RUN_H
#define GALPOST_GP_TRAIN_RUN_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "galpost/gp_model.h"
#include "gp_dataset.h"

enum { GP_PART_BAD = -1, GP_PART_VAE = 0, GP_PART_TRAIN = 1, GP_PART_VAL = 2, GP_PART_TEST = 3 };

typedef struct gp_train_opts {
    const char *const *data;   /* shard paths */
    int         ndata;
    const char *out;           /* output weights file */
    const char *workdir;       /* checkpoints, latent cache, log */
    const char *encoder_from;  /* take the trained VAE (and stretch) from this model: skip stage 2 */
    gp_arch     arch;
    uint64_t    seed;
    int         threads;       /* CPU backend threads (0: all) */
    gp_backend_kind backend;   /* GP_BACKEND_CPU (the default), _CUDA, or _AUTO (CUDA when usable) */
    int         device;        /* CUDA device ordinal */
    long        vae_count;     /* galaxies reserved for the VAE; < 0: the default
                                  (a quarter of the usable rows for an image model
                                  whose VAE is trained here, none otherwise); 0 is
                                  refused for an image model without encoder_from */
    long        max_rows;      /* use at most this many usable rows (0: all) */
    int         vae_epochs, vae_batch;
    float       vae_lr;
    double      vae_beta;
    double      vae_soft;     /* the band stretch's asinh softening, in units of the
                                 cutouts' median sky sigma (1) */
    int         flow_epochs, flow_batch, patience;
    float       flow_lr;
    const char *command;       /* provenance */
    FILE       *log;           /* log file (may be NULL) */
    int         progress;      /* progress line on stderr */
    volatile sig_atomic_t *interrupted;
} gp_train_opts;

void gp_train_opts_default(gp_train_opts *o);

/* Run the whole protocol; resumes from workdir/checkpoint.gpw when present
 * and made with the same settings (gp_train_run refuses one made with
 * others, naming the first that differs; see man/galpost.1, train). */
int gp_train_run(const gp_train_opts *o, gp_error *err);

/*
 * gp_train_partition() - part[i] for every row of d: GP_PART_BAD for rows
 * with bad bits, else VAE/TRAIN/VAL/TEST (see above).  max_rows > 0 keeps
 * only the first max_rows usable rows of the seeded order (the others get
 * GP_PART_BAD).  A row whose only bad bit is GP_BAD_IMAGE (found by
 * gp_train_screen_images, after a first partition) keeps its place in the
 * order and then gets GP_PART_BAD: leaving it out changes no other row's
 * part.
 */
int gp_train_partition(const gp_dataset *d, uint64_t seed, long vae_count, long max_rows,
                       int8_t *part, gp_error *err);

/*
 * gp_train_screen_images() - read once the cutouts of the rows whose part
 * is in `parts` (bits 1 << GP_PART_*), mark those with non-finite pixels bad
 * (gp_dataset_check_images: GP_BAD_IMAGE, counted in d->nbad) and set their
 * part to GP_PART_BAD; no other row's part changes (gp_train_partition).
 * note(ctx, line), when given, receives one line per such row ("SHARD: row
 * K (row R of the input): cutout with non-finite pixels", the first 20) and
 * the count; a progress line goes to stderr when `progress`.  *nfound: the
 * rows found.  Returns GP_ERR_INTERRUPTED when *interrupted becomes set.
 */
int gp_train_screen_images(gp_dataset *d, int8_t *part, unsigned parts, int progress,
                           volatile sig_atomic_t *interrupted,
                           void (*note)(void *ctx, const char *line), void *ctx, long *nfound,
                           gp_error *err);

/* Format seconds as "1h02m", "3m20s" or "12s". */
void gp_train_fmt_time(double s, char *buf, size_t n);

#endif
