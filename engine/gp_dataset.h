/*
 * gp_dataset.h: training and evaluation samples (internal).
 *
 * A sample is one or more shards in the training format of sim/FORMAT.md,
 * which is also the format of a real SDSS/MPA-JHU export: a FITS file with
 * a BINTABLE of SDSS/MPA-JHU columns (one row per galaxy) and an aligned
 * float32 cutout cube N x 3 x 160 x 160 (g, r, i; nanomaggies), either an
 * image HDU of the same file or a file named next to it.  Without cutouts
 * (the photometry-only model) a shard may also be the table alone as CSV,
 * as CasJobs downloads it (engine/gp_csv.h: a header line of the same
 * column names in any case, '#' comments; an empty cell, null or NaN is
 * NaN): it is read into an in-memory FITS table, so every rule below holds
 * for it unchanged.
 *
 * Columns used: modelMag_{u,g,r,i,z} and extinction_{u,g,r,i,z} (the
 * photometry is extinction-corrected model magnitudes); lgm_tot_p50,
 * sfr_tot_p50, z; log_mbh (the training target of sim/FORMAT.md; a real
 * export computes it from v_disp by McConnell & Ma 2013) or, without that
 * column, log M = 8.32 + 5.64 log10(v_disp / 200 km/s); oh_p50 with oh_measurable (or oh_p50 > 0 when there is no
 * flag); h_alpha_flux, h_beta_flux, nii_6584_flux, oiii_5007_flux as
 * y = log10(1 + max(F, 0)); objID when present.
 *
 * cutout_flags (written by `galpost shards`) says which cutouts cross a
 * frame edge; such rows are counted and reported, not left out.
 *
 * Rows that cannot be used (NaN, -9999 sentinels, non-positive v_disp,
 * magnitudes outside 5..40, a cutout with non-finite pixels) are marked bad
 * with a reason, counted and reported; they are never used.  A missing
 * metallicity is not bad: it is the classifier's label.
 */
#ifndef GALPOST_GP_DATASET_H
#define GALPOST_GP_DATASET_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include <fitsio.h>

#include "galpost/gp_error.h"
#include "galpost/gp_model.h"
#include "gp_net.h"

#define GP_DATASET_MAX_SHARDS 256

enum {
    GP_BAD_PHOT   = 1u << 0,   /* magnitude or extinction NaN / sentinel / absurd */
    GP_BAD_CORE   = 1u << 1,   /* M*, SFR, z or M_BH unusable */
    GP_BAD_LINE   = 1u << 2,   /* a line flux NaN or sentinel */
    GP_BAD_IMAGE  = 1u << 3,   /* non-finite pixels in the cutout */
    GP_BAD_NREASON = 4
};

/* A line's training target from its measured flux F (1e-17 erg/s/cm^2):
 * sign(F) log10(1 + |F|).  For F >= 0 it is design.md's quantity
 * y = log10(1 + max(F, 0)); below, it continues it smoothly (same slope
 * at 0, logarithmic for large |F|) instead of piling every F <= 0 on
 * y = 0.  A flow cannot put a point mass on y = 0, so trained on the pile
 * it gave galaxies with undetected lines too little probability of
 * F <= 0 (their truths fell inside the 68% interval 1% of the time);
 * trained on the measured fluxes it learns P(F <= 0), and inference
 * reports samples below 0 as F = 0. */
static inline double gp_line_target(double F)
{
    return F >= 0.0 ? log10(1.0 + F) : -log10(1.0 - F);
}

/* The measured flux F of a line target (inverse of gp_line_target). */
static inline double gp_line_flux_of_target(double target)
{
    return target >= 0.0 ? pow(10.0, target) - 1.0 : 1.0 - pow(10.0, -target);
}

/* The reported line quantity y = log10(1 + max(F, 0)) of a target. */
static inline double gp_line_truth(double target)
{
    return target > 0.0 ? target : 0.0;
}

/* The redshift target's softplus scale s (gp_z_to_target, engine/gp_net.h):
 * galpost train trains on t = s ln(exp(z/s) - 1) and records s as
 * target.z_softplus, so that no posterior sample has z <= 0.  s is about
 * the photometric redshift error: the target is z itself within 1.4e-4
 * above z = 0.1 (2e-15 above 0.6) and 0.0017 below it at z = 0.05.  A row with z <= 0 is unusable
 * (GP_BAD_CORE). */
#define GP_Z_SOFTPLUS 0.02

/* The reported quantity of training target v of quantity q: the redshift of
 * a z target, gp_line_truth() of a line target, v itself otherwise. */
static inline double gp_target_truth(int q, double v)
{
    if (q == GP_Q_Z) return gp_z_from_target(v, GP_Z_SOFTPLUS);
    if (q >= GP_Q_HALPHA) return gp_line_truth(v);
    return v;
}

typedef struct gp_dataset {
    long      n;               /* rows over all shards */
    float    *mag;             /* [n x 5] extinction-corrected ugriz */
    float    *target;          /* [n x 9] training targets (gp_quantity order);
                                  O/H is NaN when not measurable; lines as
                                  gp_line_target(F), which keeps a measured
                                  F <= 0 (the reported quantity is
                                  gp_line_truth() of it) */
    uint8_t  *oh_ok;           /* metallicity measurable */
    uint8_t  *bad;             /* GP_BAD_* bits, 0 = usable */
    uint64_t *id;              /* objID, or shard << 32 | row when absent (no
                                  column, or a null or empty cell) */
    float    *sigma_pix;       /* [n x 3] g, r, i pixel noise (nmgy), NaN if absent */
    int32_t  *cutout_flags;    /* [n] the cutout_flags column (sim/FORMAT.md): the
                                  GP_FLAG_EDGE, GP_FLAG_MASKED and GP_FLAG_RESAMPLED
                                  bits `galpost shards` got from the cutout code;
                                  -1 (unknown) for rows of shards without the column
                                  (the mock's, those written before it) */
    double   *ra, *dec;        /* [n] the ra and dec columns (degrees, ICRS),
                                  NaN where absent; not checked (inference
                                  copies them into its result table) */
    long      ncutout_edge;    /* rows with GP_FLAG_EDGE there (kept) */
    long      ncutout_unknown; /* rows with cutout_flags -1 */
    long      nbad[GP_BAD_NREASON];
    long      nbad_rows;
    long      noh_flag_no_value; /* oh_measurable = 1 without a usable oh_p50 (not measurable) */
    long      nduplicate_ids;  /* rows repeating an earlier row's objID (reported, kept) */
    long      nmissing_ids;    /* rows with a null or empty cell in an objID column
                                  that has ids (reported, kept, id from shard/row) */
    int       has_images;
    int       mbh_from_vdisp;  /* 1: M_BH from v_disp (no log_mbh column); 0: log_mbh */
    int       nshards;
    char     *shard_path[GP_DATASET_MAX_SHARDS];
    long      shard_first[GP_DATASET_MAX_SHARDS + 1];
    void     *cube[GP_DATASET_MAX_SHARDS];   /* fitsfile* of each shard's cube */
} gp_dataset;

/* gp_dataset_open() flags (0 and 1 keep their old meaning). */
#define GP_DATASET_IMAGES     1   /* open the cutout cubes */
#define GP_DATASET_NO_TARGETS 2   /* inference only: the truth columns are
                                     optional (NaN when absent) and never make
                                     a row bad; photometry and images still do */

/*
 * gp_dataset_open() - read the tables of `nshards` shards (and open their
 * cubes with GP_DATASET_IMAGES).  A text file is read as a CSV table (FITS
 * and CSV shards may be mixed), refused with GP_DATASET_IMAGES.
 * Function return value: GP_OK; GP_ERR_FITS, GP_ERR_NOTFOUND (a required
 * column or the cube is missing: the message names file and column);
 * GP_ERR_FORMAT (cube shape does not match the table; a CSV row with
 * another number of fields than the header, or a cell that is not a number
 * in a column read, or not an integer in objID: the message names file,
 * line and column; neither FITS nor text); GP_ERR_ARG (a CSV with
 * GP_DATASET_IMAGES: the message names the file and says where cutouts come
 * from); GP_ERR_IO; GP_ERR_NOMEM.
 */
int gp_dataset_open(const char *const *paths, int nshards, int flags,
                    gp_dataset **out, gp_error *err);

/*
 * gp_dataset_open_table() - the galaxy table of one shard as
 * gp_dataset_open() reads it, to read cells of it again (cli_shard_why.c):
 * HDU 'GALAXIES', else the first binary table, of a FITS file; a CSV table
 * (any text file) converted by the same reader, into an in-memory FITS
 * table 'GALAXIES' of the columns gp_dataset_open() reads (1D, as parsed:
 * "null", an empty cell and NaN are NaN) and objID (1K).
 * Given:
 *   path   const char*  the shard
 * Returned:
 *   f      fitsfile**   the table, current HDU; fits_close_file() it
 *   lines  long**       NULL, or: NULL for a FITS file, else each table
 *                       row's line in the CSV file (from 1), malloc'ed
 * Function return value: GP_OK; as gp_dataset_open() for the table (not
 * the cube): GP_ERR_FITS, GP_ERR_NOTFOUND (no binary table), GP_ERR_FORMAT
 * (the CSV rules; neither FITS nor text), GP_ERR_IO, GP_ERR_NOMEM.
 */
int gp_dataset_open_table(const char *path, fitsfile **f, long **lines, gp_error *err);

/* Read the cutouts of rows[0..n-1] into out [n x 3 x 160 x 160]. */
int gp_dataset_read_images(gp_dataset *d, const long *rows, int n, float *out,
                           gp_error *err);

/* Mark rows whose cutouts hold non-finite pixels (reads every cube once). */
int gp_dataset_check_images(gp_dataset *d, const long *rows, long n, gp_error *err);

/* Print counts of rows and of bad rows by reason. */
void gp_dataset_report(const gp_dataset *d, FILE *out);

/*
 * gp_dataset_row_where() - where row r of the dataset is, as a person counts
 * rows (from 1, as FITS viewers do, as galpost shards' log and galpost infer
 * --row do): "SHARD: row K", K the row of its shard, then in parentheses its
 * CSV line ("line L") and, when the shard is not the first, its row over all
 * shards ("row R of the input"), separated by "; ".  Every message about a
 * dataset row names it so.
 * Given:
 *   d      const gp_dataset*  the dataset
 *   r      long               the row, 0-based over all shards (d->n > r >= 0)
 *   line   long               its CSV line (from 1), or 0 for none
 *   size   size_t             the size of buf
 * Returned:
 *   buf    char*              the text, truncated to size - 1 characters
 */
void gp_dataset_row_where(const gp_dataset *d, long r, long line, char *buf, size_t size);

void gp_dataset_close(gp_dataset *d);

/* McConnell & Ma (2013) black-hole mass from the velocity dispersion. */
double gp_mbh_from_vdisp(double v_disp_kms);

/* The least v_disp (km/s) that gives an M_BH label when a table has v_disp
 * but no log_mbh column: SDSS dispersions at or below 70 km/s are below the
 * instrumental resolution, and the export's SQL writes log_mbh = -9999 for
 * them (sim/FORMAT.md), so both kinds of table leave the same rows out. */
#define GP_VDISP_MIN 70.0

#endif
