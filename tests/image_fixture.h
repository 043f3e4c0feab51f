/*
 * image_fixture.h: helpers for the image tests: FITS frames with a TAN WCS
 * written by cfitsio, an independent gnomonic projection (the oracle the
 * wcslib-based code is checked against), and a seeded random generator.
 */
#ifndef GALPOST_TESTS_IMAGE_FIXTURE_H
#define GALPOST_TESTS_IMAGE_FIXTURE_H

#include <stdint.h>

/* A frame's geometry: pixel (x, y) -> tangent plane (xi, eta) in degrees
 * = cd * (x - crpix1, y - crpix2). */
typedef struct fx_wcs {
    double crval[2];   /* RA, Dec of the reference point, degrees */
    double crpix[2];
    double cd[2][2];   /* degrees per pixel */
} fx_wcs;

/* CD for a scale (arcsec/px), a rotation (degrees, north through east) and
 * parity (east_left = 1: standard sky orientation). */
void fx_cd(fx_wcs *w, double scale, double rot_deg, int east_left);

/* Gnomonic projection (independent of wcslib). */
void fx_pix_to_sky(const fx_wcs *w, double x, double y, double *ra, double *dec);
void fx_sky_to_pix(const fx_wcs *w, double ra, double dec, double *x, double *y);

/*
 * fx_write_frame() - write an nx x ny float image with the WCS (w may be
 * NULL: no WCS keywords) and, when filter is not NULL, a FILTER keyword.
 * Returns 0 on success.
 */
int fx_write_frame(const char *path, long nx, long ny, const float *data,
                   const fx_wcs *w, const char *filter);

/*
 * fx_edit_card() - in the primary header of the FITS file at path, replace
 * keyword key's card by card (a whole header card, e.g.
 * "CTYPE1  = 'GLON-TAN'"), appending it when absent, or delete the keyword
 * when card is NULL.  Returns 0 on success.
 */
int fx_edit_card(const char *path, const char *key, const char *card);

/* ICRS <-> galactic (degrees) by the Hipparcos rotation matrix
 * (independent of wcslib). */
void fx_icrs_to_gal(double ra, double dec, double *l, double *b);
void fx_gal_to_icrs(double l, double b, double *ra, double *dec);

/* A fresh temporary directory (mkdtemp) and its removal with everything in it. */
char *fx_tmpdir(void);
void  fx_rmtree(const char *dir);

/* DIR/NAME (a static buffer, overwritten by the next call), and the same
 * after writing `text` into that file (NULL when it cannot). */
const char *fx_path(const char *dir, const char *name);
const char *fx_write_text(const char *dir, const char *name, const char *text);

/* Seeded generator: seed from GP_TEST_SEED or the clock; printed once. */
uint64_t fx_seed(void);
double   fx_uniform(uint64_t *s);   /* [0, 1) */
double   fx_gauss(uint64_t *s);     /* N(0, 1) */

/*
 * fx_gaussian() - add an axis-aligned elliptical Gaussian of total flux
 * `flux`, standard deviations sx, sy (pixels), centred on FITS pixel
 * (x0, y0), integrated over each pixel exactly (erf), to the nx x ny
 * row-major image m.  Point-symmetric about (x0, y0).
 */
void fx_gaussian(double *m, long nx, long ny, double flux, double x0, double y0,
                 double sx, double sy);

/* Read a whole file into memory (malloc); NULL on failure. */
void *fx_slurp(const char *path, size_t *len);

#endif
