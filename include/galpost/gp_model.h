/*
 * gp_model.h: the galpost model (design.md section 2) and inference.
 *
 * A model is opened from a weights file (gp_weights.h) on a backend (the
 * CPU backend is always built; CUDA is optional).  gp_infer() turns a batch
 * of galaxies, each a gri cutout in nanomaggies plus ugriz magnitudes, into
 * posterior samples of the nine quantities and their summaries
 * (design.md section 3).
 *
 * Sampling is reproducible: the noise of sample s of galaxy `id` is drawn
 * from Philox4x32-10 keyed by (seed, id) and indexed by (s, stream), so the
 * same request gives the same samples for any batch size, thread count or
 * backend.
 */
#ifndef GALPOST_GP_MODEL_H
#define GALPOST_GP_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "galpost/gp_error.h"
#include "galpost/gp_weights.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Image and photometry inputs. */
#define GP_CUTOUT_SIZE   160                /* pixels per side */
#define GP_CUTOUT_BANDS  3                  /* g, r, i planes in this order */
#define GP_CUTOUT_PIXELS (GP_CUTOUT_BANDS * GP_CUTOUT_SIZE * GP_CUTOUT_SIZE)
#define GP_PIXEL_SCALE   0.396              /* arcsec per pixel */
#define GP_NMAG          5                  /* u, g, r, i, z */

/* The nine posterior quantities, in sample order. */
typedef enum gp_quantity {
    GP_Q_LOGMSTAR = 0,  /* log10 M* / Msun            (lgm_tot_p50) */
    GP_Q_LOGSFR,        /* log10 SFR / (Msun/yr)      (sfr_tot_p50) */
    GP_Q_Z,             /* redshift                   (z)           */
    GP_Q_LOGMBH,        /* log10 M_BH / Msun (McConnell & Ma 2013)  */
    GP_Q_OH,            /* 12 + log10(O/H), T04 scale (oh_p50)      */
    GP_Q_HALPHA,        /* log10(1 + max(F,0)), F in 1e-17 erg/s/cm2; samples >= 0 */
    GP_Q_HBETA,
    GP_Q_NII6584,
    GP_Q_OIII5007,
    GP_NQ
} gp_quantity;

#define GP_NCORE  4    /* M*, SFR, z, M_BH: the core flow's dimensions */
#define GP_NLINE  4    /* the line flow's dimensions */

/* Column name (MPA-JHU style), unit and a short label of a quantity. */
const char *gp_quantity_name(int q);
const char *gp_quantity_unit(int q);
const char *gp_quantity_label(int q);

/* BPT classes, in gp_summary.p_bpt order. */
typedef enum gp_bpt_class {
    GP_BPT_STARFORMING = 0,  /* below Kauffmann+03 */
    GP_BPT_COMPOSITE,        /* between Kauffmann+03 and Kewley+01 */
    GP_BPT_SEYFERT,          /* above Kewley+01, above Schawinski+07 */
    GP_BPT_LINER,            /* above Kewley+01, below Schawinski+07 */
    GP_NBPT
} gp_bpt_class;
/* gp_bpt_class_name(), gp_bpt_class_key(): a BPT class's name and key.
 *
 * Given:
 *   c         a gp_bpt_class (0 .. GP_NBPT-1), or -1 for an undefined class
 *
 * Returned:
 *   name      "star-forming", "composite", "Seyfert" or "LINER": the value
 *             of a class in the text summaries, in the FITS tables' bpt_class
 *             column and in the JSON summaries' bpt.class; "undefined" for any
 *             other c (JSON writes null instead)
 *   key       "sf", "composite", "seyfert" or "liner": the class's part of
 *             the names of its probability, p_KEY in the JSON summaries' bpt
 *             object (galpost infer --json and galpostd's summary json alike)
 *             and p_bpt_KEY in the FITS tables; NULL for any other c
 *
 * Both are static strings; neither function fails. */
const char *gp_bpt_class_name(int c);
const char *gp_bpt_class_key(int c);

/* Backends. */
typedef enum gp_backend_kind {
    GP_BACKEND_AUTO = 0,   /* CUDA when built and a device is present, else CPU */
    GP_BACKEND_CPU,
    GP_BACKEND_CUDA
} gp_backend_kind;

typedef struct gp_model gp_model;

typedef struct gp_model_options {
    gp_backend_kind backend;   /* default GP_BACKEND_AUTO */
    int             threads;   /* CPU threads; 0 = number of online CPUs */
    int             device;    /* CUDA device ordinal */
} gp_model_options;

/* gp_model_options_default() - AUTO backend, all CPUs, device 0. */
gp_model_options gp_model_options_default(void);

/*
 * gp_model_open() - load a model from a weights file onto a backend.
 *
 * Given:
 *   path      const char*              Weights file.
 *   opt       const gp_model_options*  Options (NULL: defaults).
 * Returned:
 *   out       gp_model**               The model; free with gp_model_close().
 *   err       gp_error*
 * Function return value:
 *   GP_OK; any gp_weights_open() status; GP_ERR_FORMAT or GP_ERR_NOTFOUND
 *   when the architecture metadata or a tensor is missing or inconsistent
 *   (message names the key or tensor); GP_ERR_BACKEND when the requested
 *   backend is not available (with AUTO, the CPU is used instead and
 *   gp_model_backend_note() says why).
 */
int  gp_model_open(const char *path, const gp_model_options *opt,
                   gp_model **out, gp_error *err);
void gp_model_close(gp_model *m);

/*
 * gp_cutouts_alloc() - memory for n cutouts that m's backend reads fastest.
 *
 * For a GPU backend it is page-locked host memory: gp_infer() copies
 * cutouts that lie there one after another, in the order of its galaxy
 * array, straight to the device while the device encodes the previous
 * block, with no gathering copy on the host.  For the CPU backend it is
 * plain memory (64-byte aligned).  Cutouts anywhere else give the same
 * results, only more slowly on a GPU.
 *
 * Given:
 *   m         gp_model*   The model whose backend will read the cutouts.
 *   n         size_t      Cutouts (n x GP_CUTOUT_PIXELS floats).
 * Returned:
 *   err       gp_error*   Why it failed.
 * Function return value:
 *   The memory (falls back to plain memory when page-locked memory cannot
 *   be had), or NULL with GP_ERR_NOMEM or GP_ERR_ARG in err.  Release it
 *   with gp_cutouts_free(m, p) before gp_model_close(m).
 */
float *gp_cutouts_alloc(gp_model *m, size_t n, gp_error *err);
void   gp_cutouts_free(gp_model *m, float *p);

/* Facts about an open model. */
const char *gp_model_path(const gp_model *m);
const char *gp_model_backend_name(const gp_model *m); /* "cpu" or "cuda:N (name)" */
const char *gp_model_backend_note(const gp_model *m); /* why AUTO fell back, or "" */
int         gp_model_threads(const gp_model *m);
int         gp_model_uses_image(const gp_model *m);   /* 0 for photometry-only */
int         gp_model_ensemble_size(const gp_model *m);
int         gp_model_is_trained(const gp_model *m);   /* 0 for random weights */
const gp_weights *gp_model_weights(const gp_model *m);

/*
 * gp_model_print_architecture() - describe the model's stages (shapes,
 * widths, flows and their masks, ensemble, normalisation, band stretch and
 * parameter counts), as `galpost model info` prints it.
 */
void gp_model_print_architecture(const gp_model *m, FILE *out);

/* Input flags, passed through to the result. */
#define GP_FLAG_EDGE        0x1u  /* the cutout crosses a frame edge (padded) */
#define GP_FLAG_MASKED      0x2u  /* masked or non-finite pixels were filled */
#define GP_FLAG_RESAMPLED   0x4u  /* the cutout was resampled through WCS */
#define GP_FLAG_PHOT_CATALOG  0x10u /* magnitudes from a photometric catalogue */
#define GP_FLAG_PHOT_MEASURED 0x20u /* magnitudes measured on the frames */
#define GP_FLAG_NONDETECTION  0x40u /* measured: the u or z aperture held no
                                       positive flux; that magnitude is set to
                                       GP_NONDETECTION_MAG, as SDSS writes a
                                       non-detection (and the training data
                                       have it), then held at 5 sigma (0x100) */
#define GP_NONDETECTION_MAG   30.0f
/* Result flags, set by gp_infer(): the inputs lie outside the training set's. */
#define GP_FLAG_PHOT_CLIPPED  0x100u /* a colour or magnitude lay more than
                                        5 standard deviations from the training
                                        split's mean and was held there (e.g. a
                                        band's non-detection) */
#define GP_FLAG_IMAGE_UNLIKE  0x200u /* the cutout's latent inputs are unlike the
                                        training images': latent_d2 above
                                        latent_d2_limit (gp_result) */
#define GP_FLAG_PHOT_UNLIKE   0x400u /* the colours and magnitudes together are
                                        unlike the training set's: phot_d2
                                        above phot_d2_limit (gp_result) */
#define GP_FLAG_NO_SOURCE     0x800u /* no source at the centre of the cutout:
                                        source_snr below GP_SOURCE_SNR_LIMIT
                                        (empty sky, noise, zeros, a blank or
                                        constant band), or source_peak beyond
                                        GP_SOURCE_PEAK_LIMIT (the centre lies
                                        beside a source, on its slope) */
/* The limits of GP_FLAG_NO_SOURCE, chosen on 60,000 mock training galaxies
 * (least S/N 22.8, 1 in 1000 below 53; 2 with a peak beyond 4.75", a
 * brighter neighbour within 5") against 890 real blank-sky cutouts of SDSS
 * frames (S/N -6.0 to 5.2) and cutouts 10-15" beside real galaxies. */
#define GP_SOURCE_SNR_LIMIT   15.0
#define GP_SOURCE_PEAK_LIMIT  4.75   /* arcsec: 12 cutout pixels */

/* One galaxy to infer. */
typedef struct gp_galaxy {
    uint64_t     id;       /* keys the sampler together with the seed */
    const float *cutout;   /* GP_CUTOUT_PIXELS floats (g, r, i planes, row-major,
                              north up, east left, nanomaggies); NULL allowed
                              for a photometry-only model */
    float        mag[GP_NMAG]; /* extinction-corrected ugriz model magnitudes (AB) */
    uint32_t     flags;    /* GP_FLAG_* describing the inputs */
} gp_galaxy;

typedef struct gp_infer_options {
    int      nsamples;     /* posterior samples per galaxy (default 1000) */
    uint64_t seed;         /* sampler seed (default 1) */
    int      keep_samples; /* non-zero: gp_result.samples is filled */
} gp_infer_options;

gp_infer_options gp_infer_options_default(void);

/*
 * gp_position_key() - the gp_galaxy.id of a galaxy known by its position.
 *
 * RA and Dec rounded to 0.5 arcsec (RA modulo 360 degrees), so that the same position gives the
 * same samples for the same seed and model, also when it was copied from
 * a summary that prints it to 1e-6 degree.  galpost infer --frames
 * (without --id) and galpostd both key their galaxies with it, so that
 * the same position on the same frames gives the same posterior in both.
 *
 * Given:
 *   ra, dec   double   Position in degrees (ICRS; ra 0..360, dec -90..90).
 * Function return value:
 *   The identifier (no errors; any finite ra, dec gives one).
 */
uint64_t gp_position_key(double ra, double dec);

/* Median and central 68% interval of a derived quantity. */
typedef struct gp_stat {
    double median, p16, p84;
    int    n;              /* samples for which it is defined */
} gp_stat;

/* Posterior summaries (design.md section 3). */
typedef struct gp_summary {
    double  median[GP_NQ], p16[GP_NQ], p84[GP_NQ];
    double  mean[GP_NQ], std[GP_NQ];
    /* The 68% credible interval: [p16, p84], except for a line whose
     * samples at F = 0 (y = 0, the point mass of an undetected line) are
     * 16% or more of them: there [0, 68th percentile], an upper limit
     * (gp_interval_probs()), since [p16, p84] = [0, p84] would hold 84% of
     * the probability. */
    double  lo68[GP_NQ], hi68[GP_NQ];
    double  p_zero[GP_NQ];     /* lines: the fraction of samples at F = 0;
                                  0 for the other quantities */
    double  corr[GP_NQ][GP_NQ];/* Pearson r over the samples; NaN off the
                                  diagonal where either quantity has no
                                  spread (a line with every sample at F = 0) */
    double  p_detect;          /* probability the metallicity is measurable */
    double  p_bpt[GP_NBPT];    /* class probabilities over samples where all
                                  four lines are positive */
    int     bpt_class;         /* most probable class, -1 when undefined */
    int     bpt_n;             /* samples with a defined class */
    /* per-sample derived line diagnostics */
    gp_stat sfr_halpha;        /* log10 SFR(Halpha) in the fibre, Kennicutt &
                                  Evans 2012, Balmer-decrement dust corrected */
    gp_stat balmer_decrement;  /* Halpha / Hbeta */
    gp_stat a_v;               /* A_V (Calzetti 2000) from the decrement */
    gp_stat oh_n2;             /* 12+log(O/H), PP04 N2 linear */
    gp_stat oh_o3n2;           /* 12+log(O/H), PP04 O3N2 */
    gp_stat log_n2;            /* log([NII]/Halpha) */
    gp_stat log_o3;            /* log([OIII]/Hbeta) */
} gp_summary;

/* The result for one galaxy. */
typedef struct gp_result {
    uint64_t   id;
    double     ra, dec;        /* the galaxy's position (degrees, ICRS) for
                                  result tables; gp_infer() sets NaN (it
                                  never sees positions) and the caller fills
                                  them in where it knows them */
    int        status;         /* GP_OK, or why this galaxy failed */
    char       message[256];   /* the failure, naming the galaxy */
    uint32_t   flags;          /* the input flags, and GP_FLAG_PHOT_CLIPPED,
                                  GP_FLAG_IMAGE_UNLIKE, GP_FLAG_PHOT_UNLIKE,
                                  GP_FLAG_NO_SOURCE */
    double     latent_d2;      /* squared Mahalanobis distance of the image's
                                  latent inputs [mu, ln sigma] from the
                                  training rows' mean under their covariance;
                                  NaN for a photometry model or a model
                                  stored without the check */
    double     latent_d2_limit;/* the model's limit: the training rows' 99.9%
                                  quantile of the same distance (NaN as above);
                                  the posteriors of a galaxy above it are
                                  returned unchanged but flagged */
    double     phot_d2;        /* the same for the photometry: the four
                                  colours and r, standardized, from the
                                  training rows' (both kinds of model); NaN
                                  for a model stored without the check */
    double     phot_d2_limit;  /* its 99.9% quantile on the training rows */
    double     source_snr;     /* signal-to-noise of the g + r + i flux within
                                  2.4" of the cutout's centre, against each
                                  band's sky noise measured beyond 25"; 0 when
                                  a band is blank or constant; NaN without a
                                  cutout or for a galaxy that failed */
    double     source_peak;    /* arcsec from the centre to the brightness
                                  peak reached by climbing from it (the
                                  climb stops beyond GP_SOURCE_PEAK_LIMIT);
                                  NaN as source_snr */
    int        nsamples;
    float     *samples;        /* nsamples x GP_NQ, row-major; NULL unless
                                  keep_samples; free with gp_result_free() */
    gp_summary summary;
} gp_result;

/*
 * gp_infer() - posterior inference on a batch of galaxies.
 *
 * Given:
 *   m         gp_model*                The model.
 *   gal       const gp_galaxy*         n galaxies.
 *   n         size_t
 *   opt       const gp_infer_options*  NULL: defaults.
 * Returned:
 *   res       gp_result*               n results, in input order.
 *   err       gp_error*                The first failure.
 * Function return value:
 *   GP_OK when every galaxy succeeded.  A galaxy with unusable input
 *   (non-finite pixels or magnitudes, missing cutout for an image model)
 *   gets its own status and message in res[i] and the others are still
 *   computed; the call then returns that galaxy's status (GP_ERR_DATA).
 *   GP_ERR_ARG for bad arguments; GP_ERR_NOMEM; GP_ERR_BACKEND.
 */
int gp_infer(gp_model *m, const gp_galaxy *gal, size_t n,
             const gp_infer_options *opt, gp_result *res, gp_error *err);

/* gp_result_free() - free the samples of n results (not the array). */
void gp_result_free(gp_result *res, size_t n);

/*
 * gp_summary_compute() - summaries of nsamples x GP_NQ samples (the line
 * quantities in the log10(1+F) form).  Used by gp_infer(); public so that
 * pooled or external samples get identical summaries.
 *
 * Returned:
 *   out       gp_summary*   (p_detect is left untouched)
 * Function return value:
 *   GP_OK; GP_ERR_ARG (nsamples < 2); GP_ERR_DATA (a non-finite sample);
 *   GP_ERR_NOMEM.
 */
int gp_summary_compute(const float *samples, int nsamples, gp_summary *out,
                       gp_error *err);

/*
 * gp_interval_probs() - where a credible interval of a line quantity
 * starts and ends, as probabilities (the quantiles to take).
 *
 * A line's posterior (y = log10(1 + F), samples of F <= 0 returned as
 * y = 0) has a point mass at 0 for an undetected line.  When that mass
 * reaches past the central interval's lower end, the central interval
 * [0, q((1 + level)/2)] would hold more than `level` of the probability
 * (84% for 68%); the interval that starts at 0 and holds `level` is
 * [0, q(level)], an upper limit.  Samples from a calibrated posterior so
 * fall inside it `level` of the time, where they fell inside [p16, p84]
 * up to 84% of the time.  (When p_zero > level the interval is {0}, which
 * holds p_zero.)
 *
 * Given:
 *   p_zero    double   The fraction of the samples at y = 0, in [0, 1].
 *   level     double   The interval's probability, in (0, 1): 0.68, 0.95.
 * Returned:
 *   plo, phi  double*  The probabilities whose quantiles bound the
 *                      interval: (1 - level)/2 and (1 + level)/2, or 0 and
 *                      level for the interval that starts at 0 (the
 *                      quantile at 0 is 0 there).
 * Function return value:
 *   1 for the interval that starts at 0 (report it as an upper limit),
 *   0 for the central one.
 */
int gp_interval_probs(double p_zero, double level, double *plo, double *phi);

/*
 * gp_summary_print() - the human-readable summary table of one result.
 */
void gp_summary_print(const gp_result *r, FILE *out);

/*
 * gp_model_default_path() - the model used when none is named: the file
 * in $GALPOST_MODEL when set, else the installed default model
 * (PKGDATADIR/galpost-default.gpw).
 *
 * Returned:
 *   buf       char*     The path (NUL-terminated).
 * Function return value:
 *   GP_OK; GP_ERR_NOTFOUND when neither exists (message says where it
 *   looked); GP_ERR_ARG when buf is too small.
 */
int gp_model_default_path(char *buf, size_t size, gp_error *err);

/*
 * gp_model_default_photometry_path() - the photometry-only model used when
 * only magnitudes are given and no model is named: the file in
 * $GALPOST_PHOTOMETRY_MODEL when set, else the installed one
 * (PKGDATADIR/galpost-photometry.gpw).
 *
 * Returned:
 *   buf       char*     The path (NUL-terminated).
 * Function return value:
 *   GP_OK; GP_ERR_NOTFOUND when it is not readable (message says where it
 *   looked); GP_ERR_ARG when buf is too small.
 */
int gp_model_default_photometry_path(char *buf, size_t size, gp_error *err);

/* ------------------------------------------------------- architecture */

#define GP_ARCH_MAX_HIDDEN 6

/* Architecture choices recorded in a weights file (design.md section 2). */
typedef struct gp_arch {
    int   uses_image;                       /* 0: photometry-only variant */
    int   enc_channels[3];                  /* conv widths (32, 64, 128) */
    int   latent;                           /* latent dimensions (32) */
    int   trunk_layers;                     /* trunk depth (2) */
    int   trunk[GP_ARCH_MAX_HIDDEN];        /* trunk widths (256, 256) */
    int   head_hidden;                      /* hidden width of heads (128) */
    int   flow_hidden;                      /* conditioner width (64) */
    int   flow_depth;                       /* conditioner hidden layers (2) */
    int   couplings;                        /* RealNVP couplings (12) */
    int   ensemble;                         /* ensemble members K (1) */
    float scale_bound;                      /* S in s = S tanh(s_raw/S) (3) */
    float leaky_slope;                      /* LeakyReLU slope (0.2) */
    float flow_gain;                        /* init scale of the flow
                                               conditioners' last layer (0.05:
                                               near-identity flows) */
} gp_arch;

/* gp_arch_default() - the defaults above, image variant. */
gp_arch gp_arch_default(void);

/*
 * gp_model_write_random() - write an untrained model with random weights
 * (model.trained = 0): for tests, and the starting point of training.
 *
 * Given:
 *   path      const char*       Output weights file (written atomically).
 *   arch      const gp_arch*    Architecture (NULL: defaults).
 *   seed      uint64_t          Seed of the initialisation.
 * Function return value:
 *   GP_OK; GP_ERR_ARG (architecture out of range); GP_ERR_IO; GP_ERR_NOMEM.
 */
int gp_model_write_random(const char *path, const gp_arch *arch, uint64_t seed,
                          gp_error *err);

#ifdef __cplusplus
}
#endif
#endif /* GALPOST_GP_MODEL_H */
