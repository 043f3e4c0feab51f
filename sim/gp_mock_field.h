/*
 * gp_mock_field.h: full mock SDSS fields: frame-{u,g,r,i,z}-RRRRRR-C-FFFF.fits
 * (2048 x 1489, nanomaggies, TAN WCS offset by a few pixels between bands as in
 * SDSS, SDSS-like headers, calibration vector and sky extensions like real
 * frames), photoObj-RRRRRR-C-FFFF.fits (PhotoObj-like catalogue of detected
 * sources) and truth-RRRRRR-C-FFFF.fits (every galaxy, background galaxy and star).
 * All files are written to NAME.partial and renamed when complete.
 */
#ifndef GALPOST_GP_MOCK_FIELD_H
#define GALPOST_GP_MOCK_FIELD_H

#include "gp_mock.h"

#define GP_FRAME_NX 2048
#define GP_FRAME_NY 1489

typedef struct gp_mock_field_opt {
    uint64_t seed;
    int run, camcol, field, rerun;
    double ra, dec;          /* centre of the r frame, degrees */
    const char *outdir;
    double catalog_rlim;     /* catalogue depth (r), default 22.2 */
} gp_mock_field_opt;

void gp_mock_field_opt_default(gp_mock_field_opt *o);

/*
 * gp_mock_write_field() - simulate and write one field.
 * Returned: ngal (galaxies of z <= 0.33 in the truth table, may be NULL).
 * Function return value: GP_OK, GP_ERR_ARG (naming the option), GP_ERR_IO,
 *   GP_ERR_WCS, GP_ERR_FITS, GP_ERR_NOMEM.
 */
int gp_mock_write_field(const gp_mock_field_opt *o, long *ngal, gp_error *err);

/* gp_mock_field_path() - path of a field file: kind "frame-r", "photoObj", "truth". */
void gp_mock_field_path(const gp_mock_field_opt *o, const char *kind, char *buf, size_t n);

#endif
