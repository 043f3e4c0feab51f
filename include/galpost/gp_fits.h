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
    uint64_t objid;          /* OBJID keyword */
    float    mag[GP_NMAG];   /* MAG_U .. MAG_Z keywords, NAN when absent */
} gp_cutout_info;

/*
 * gp_cutout_read_fits() - read one gri cutout: the first image HDU of
 * `path` with NAXIS1 = NAXIS2 = GP_CUTOUT_SIZE and NAXIS3 = 3 (planes g, r,
 * i, nanomaggies, north up).
 *
 * Returned:
 *   out       float*            GP_CUTOUT_PIXELS values.
 *   info      gp_cutout_info*   Optional keywords (may be NULL).
 * Function return value:
 *   GP_OK; GP_ERR_FITS (cannot open or read; cfitsio's message and the
 *   path); GP_ERR_FORMAT (wrong dimensions, naming them).
 */
int gp_cutout_read_fits(const char *path, float *out, gp_cutout_info *info,
                        gp_error *err);

/*
 * gp_cutout_write_fits() - write one cutout as gp_cutout_read_fits()
 * reads it, atomically (temporary file, then rename).
 */
int gp_cutout_write_fits(const char *path, const float *cutout,
                         const gp_cutout_info *info, gp_error *err);

#ifdef __cplusplus
}
#endif
#endif
