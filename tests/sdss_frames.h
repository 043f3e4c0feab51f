/*
 * sdss_frames.h: real SDSS frames for the cmocka tests, read in place from
 * $GP_SHARED_DATA/sdss-frames (../shared/data; never copied into the
 * project), and the cfitsio copies the tests change: cropped, or with
 * pixels masked (NaN).  The helpers fail the running cmocka test on error.
 */
#ifndef GALPOST_TESTS_SDSS_FRAMES_H
#define GALPOST_TESTS_SDSS_FRAMES_H
#include <stddef.h>

#include "galpost/gp_image.h"

/* Main-sample galaxies of test_real_sdss (r aperture magnitudes 15.1-17.5)
 * and the field whose frames hold them. */
typedef struct { double ra, dec; const char *field; } sf_galaxy;
extern const sf_galaxy sf_gal[];
#define SF_NGAL 3

/* The data folder ($GP_SHARED_DATA) when its frames are there, else NULL
 * after printing "# skip: ..." (the test then exits 77). */
const char *sf_data(void);

/* Path of galaxy g's frame in band ('u'..'z'). */
void sf_frame_path(char *p, size_t n, int g, char band);

/* Frame pixels [x0, x0 + w) x [y0, y0 + h) as double (free() them). */
double *sf_read_box(gp_frame *f, long x0, long y0, long w, long h);

/* Writes to dst the frame at src, or its pixels [crop[0], crop[1]] x
 * [crop[2], crop[3]] (FITS, inclusive: an image section, CRPIX shifted)
 * when crop is not NULL, with the box nan[0..3] of the copy's own pixels
 * (same layout) set to NaN when nan is not NULL. */
void sf_copy_frame(const char *src, const char *dst, const long crop[4], const long nan[4]);

/* Writes to dst the frame at src with its pixels x * factor + add (as
 * float), in the primary HDU, or, when extname is not NULL, in HDU 2 of
 * that EXTNAME after an empty primary; then the header cards of cards[]
 * (NULL-terminated; "KEY = value / comment" as in a template, replacing a
 * card of that keyword, or "-KEY" to delete it). */
void sf_write_scaled(const char *src, const char *dst, double factor, double add, const char *extname,
                     const char *const *cards);

#endif
