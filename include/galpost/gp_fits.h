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
 * galaxy: objID, ra, dec (gp_result.ra, .dec: degrees, NaN when unknown),
 * status, flags, latent_d2, latent_d2_limit, phot_d2,
 * phot_d2_limit, source_snr, source_peak, for each quantity NAME_median,
 * NAME_p16, NAME_p84, NAME_mean, NAME_std, then p_detect, the BPT class
 * probabilities, bpt_class, the derived line diagnostics, for each line
 * NAME_lo68, NAME_hi68 (its 68% credible interval: [p16, p84], or from 0 up
 * to the 68th percentile where F <= 0 is 16% likely or more, an upper limit;
 * gp_interval_probs()) and NAME_p_zero (the fraction of samples at F = 0),
 * corr (the 9 x 9 posterior correlation matrix, TDIM (9,9), in the order of
 * the header keyword CORRORD) and message.  With
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

/*
 * gp_results_writer_close() - finish: append SAMPLES behind SUMMARY, close
 * and rename into place; then remove the temporary samples file.  The
 * writer is freed either way.  On failure the temporary files are removed,
 * except a resumable writer's, which gp_results_writer_resume() can take
 * up again (it drops a SAMPLES table appended before the failure).
 */
int gp_results_writer_close(gp_results_writer *w, gp_error *err);

/* Abandon: remove the temporary file(s) and free the writer. */
void gp_results_writer_abort(gp_results_writer *w);

/*
 * gp_results_writer_open_resumable() - as gp_results_writer_open(), with
 * temporary files whose names do not change from run to run (see
 * gp_results_partial_path(); any already there are replaced), so that a
 * run stopped part way can be taken up again: gp_results_writer_sync()
 * says how many rows are in them and their digest,
 * gp_results_writer_suspend() closes them without removing them, and
 * gp_results_writer_resume() reopens them.  One process at a time may use
 * an output's temporary files: the caller keeps others out (galpost infer
 * holds a lock on its progress record).
 *
 * Given, Returned, Function return value: as gp_results_writer_open().
 */
int gp_results_writer_open_resumable(const char *path, const char *model, int nsamples_kept,
                                     gp_results_writer **out, gp_error *err);

/*
 * gp_results_partial_path() - the name of a resumable writer's temporary
 * file for output `path`: PATH.partial (SUMMARY, and SAMPLES once
 * gp_results_writer_close() has appended it), or with `samples` nonzero
 * PATH.partial.samples (the SAMPLES rows while they are added).
 *
 * Returned:
 *   buf    char*  The name, in `size` bytes.
 * Function return value:
 *   0; -1 when it does not fit (or a NULL argument).
 */
int gp_results_partial_path(const char *path, int samples, char *buf, size_t size);

/*
 * gp_results_writer_sync() - write the rows appended so far through to the
 * temporary file(s) (cfitsio's buffers and NAXIS2 flushed to the operating
 * system: they survive the process being killed) and give how many there
 * are and a digest of their bytes (64-bit FNV-1a of the SUMMARY rows and of
 * the SAMPLES rows, combined), to be recorded for
 * gp_results_writer_resume().  The digest is continued over the rows added
 * since the last sync, read back from the file.
 *
 * Returned:
 *   rows    long*      Rows written (may be NULL).
 *   digest  uint64_t*  Their digest (may be NULL).
 * Function return value:
 *   GP_OK; GP_ERR_ARG for a NULL writer; GP_ERR_FITS naming the output;
 *   GP_ERR_NOMEM.
 */
int gp_results_writer_sync(gp_results_writer *w, long *rows, uint64_t *digest, gp_error *err);

/*
 * gp_results_writer_suspend() - close a resumable writer's temporary files
 * without removing them or renaming anything, and free the writer.  Rows
 * appended after the last gp_results_writer_sync() may be in them; a resume
 * at the synced count drops them.
 *
 * Function return value:
 *   GP_OK; GP_ERR_ARG for a NULL writer; GP_ERR_FITS naming the output
 *   (the writer is freed either way).
 */
int gp_results_writer_suspend(gp_results_writer *w, gp_error *err);

/*
 * gp_results_writer_resume() - take up a suspended (or killed) resumable
 * writer's temporary files for output `path` at row `rows`: the SUMMARY
 * table (and with `nsamples_kept` > 0 the SAMPLES table) must have the
 * columns this galpost writes and at least `rows` rows, whose bytes must
 * give `digest` (as gp_results_writer_sync() gave it); rows after them
 * (written after the last sync) and a SAMPLES table appended by an
 * unfinished close are dropped.  Nothing is changed when a check fails.
 * Appending then continues at row rows + 1; the header is the one the
 * first writer wrote.
 *
 * Given:
 *   path           const char*  Output file (as given to the first writer).
 *   nsamples_kept  int          As given to the first writer.
 *   rows           long         Rows to keep (a synced count).
 *   digest         uint64_t     Their digest from gp_results_writer_sync().
 * Returned:
 *   out            gp_results_writer**
 * Function return value:
 *   GP_OK; GP_ERR_NOTFOUND when a temporary file is missing; GP_ERR_FORMAT
 *   when a table is not a partial result table of this layout, has fewer
 *   rows or rows whose digest differs (each naming the file); GP_ERR_FITS;
 *   GP_ERR_NOMEM; GP_ERR_ARG for bad arguments.
 */
int gp_results_writer_resume(const char *path, int nsamples_kept, long rows, uint64_t digest,
                             gp_results_writer **out, gp_error *err);

/*
 * gp_results_check_finished() - check that the finished table `path` (as
 * gp_results_writer_close() of a resumable writer renamed it into place)
 * holds exactly `rows` rows, in the SUMMARY table (and with
 * `nsamples_kept` > 0 the SAMPLES table; with 0, no SAMPLES table), with
 * the columns this galpost writes, whose bytes give `digest` as
 * gp_results_writer_sync() gave it after the last row: the table a
 * progress record of all its rows describes.  The headers are not compared.
 * The file is only read.
 *
 * Given:
 *   path           const char*  The finished table.
 *   nsamples_kept  int          As given to the writer.
 *   rows           long         The rows it must hold.
 *   digest         uint64_t     Their digest from gp_results_writer_sync().
 * Function return value:
 *   GP_OK; GP_ERR_NOTFOUND when the file is missing; GP_ERR_FORMAT when it
 *   is not a result table of this layout, holds another number of rows or
 *   rows whose digest differs (each naming the file); GP_ERR_FITS;
 *   GP_ERR_IO; GP_ERR_NOMEM; GP_ERR_ARG for bad arguments.
 */
int gp_results_check_finished(const char *path, int nsamples_kept, long rows, uint64_t digest,
                              gp_error *err);

#ifdef __cplusplus
}
#endif
#endif
