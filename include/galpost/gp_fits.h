/*
 * gp_fits.h: FITS input and output of galpost's own products (cutouts,
 * result tables).  Frames with WCS, cutting and photometry are in
 * gp_image.h.
 */
#ifndef GALPOST_GP_FITS_H
#define GALPOST_GP_FITS_H

#include <stddef.h>
#include <stdint.h>

#include "galpost/gp_error.h"
#include "galpost/gp_model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Facts read along with a cutout (NAN / 0 when absent). */
typedef struct gp_cutout_info {
    double   ra, dec;        /* RA, DEC keywords (degrees) */
    uint64_t objid;          /* OBJID keyword, exact (integer or string keyword) */
    float    mag[GP_NMAG];   /* MAG_U .. MAG_Z keywords, NAN when absent or bad */
    unsigned mag_bad;        /* read: bit b set when MAG_<band b> is present but
                                not a finite number; ignored by the writer */
    int      objid_bad;      /* read: OBJID is present but not an object ID
                                (objid is then 0); ignored by the writer */
} gp_cutout_info;

/*
 * gp_cutout_read_fits() - read one gri cutout: the first image HDU of
 * `path` with NAXIS1 = NAXIS2 = GP_CUTOUT_SIZE and NAXIS3 = 3 (planes g, r,
 * i, nanomaggies, north up).
 *
 * Returned:
 *   out       float*            GP_CUTOUT_PIXELS values.
 *   info      gp_cutout_info*   Optional keywords (may be NULL).
 * The OBJID keyword is read exactly as a 64-bit unsigned integer, from an
 * integer keyword or a string keyword holding decimal digits.
 *
 * Function return value:
 *   GP_OK; GP_ERR_FITS (cannot open or read; cfitsio's message and the
 *   path); GP_ERR_FORMAT (wrong dimensions, naming them; with info, an
 *   OBJID that is negative, not an integer or 2^64 or more, naming the
 *   file and the keyword: then alone out and info are still filled, with
 *   info->objid_bad set, for a caller that has an ID of its own).
 */
int gp_cutout_read_fits(const char *path, float *out, gp_cutout_info *info,
                        gp_error *err);

/*
 * gp_cutout_write_fits() - write one cutout as gp_cutout_read_fits()
 * reads it, atomically (temporary file, then rename).
 */
int gp_cutout_write_fits(const char *path, const float *cutout,
                         const gp_cutout_info *info, gp_error *err);

/* ----------------------------------------------------- result tables */

typedef struct gp_results_writer gp_results_writer;

/*
 * gp_results_writer_open() - start a FITS table of posterior summaries.
 *
 * The file is written under a temporary name next to `path` and renamed
 * into place only by gp_results_writer_close(), so an interrupted run never
 * leaves a file that looks complete.  HDU 1 ("SUMMARY") has one row per
 * galaxy: objID, status, flags, latent_d2, latent_d2_limit, phot_d2,
 * phot_d2_limit, source_snr, source_peak, for each quantity NAME_median,
 * NAME_p16, NAME_p84, NAME_mean, NAME_std, then p_detect, the BPT class
 * probabilities, bpt_class, the derived line diagnostics and message.  With
 * `nsamples_kept` > 0, HDU 2 ("SAMPLES") holds one row per galaxy with one
 * vector column of nsamples_kept values per quantity.
 *
 * Given:
 *   path           const char*  Output file.
 *   model          const char*  Model file name (recorded in the header).
 *   nsamples_kept  int          0, or the samples per galaxy to store.
 * Returned:
 *   out            gp_results_writer**
 * Function return value:
 *   GP_OK; GP_ERR_FITS / GP_ERR_IO naming the path; GP_ERR_NOMEM.
 */
int gp_results_writer_open(const char *path, const char *model, int nsamples_kept,
                           gp_results_writer **out, gp_error *err);

/*
 * gp_results_writer_set_key() - record a string keyword in the SUMMARY
 * header (e.g. how the input magnitudes were obtained).
 *
 * Given:
 *   key, value, comment  const char*  FITS keyword (8 characters at most),
 *                                     its value (long strings continue) and
 *                                     comment.
 * Function return value:
 *   GP_OK; GP_ERR_ARG for a NULL writer or a bad key; GP_ERR_FITS naming
 *   the path.
 */
int gp_results_writer_set_key(gp_results_writer *w, const char *key, const char *value,
                              const char *comment, gp_error *err);

/* Append n results (samples are stored only when kept and present). */
int gp_results_writer_append(gp_results_writer *w, const gp_result *res,
                             size_t n, gp_error *err);

/* Finish: close and rename into place.  The writer is freed either way. */
int gp_results_writer_close(gp_results_writer *w, gp_error *err);

/* Abandon: remove the temporary file and free the writer. */
void gp_results_writer_abort(gp_results_writer *w);

#ifdef __cplusplus
}
#endif
#endif
