/*
 * gp_fits_util.h: internal helpers shared by the FITS/WCS files of the
 * engine (frames, cutouts, photometry, catalogues).  Not installed.
 */
#ifndef GALPOST_GP_FITS_UTIL_H
#define GALPOST_GP_FITS_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "galpost/gp_error.h"
#include "galpost/gp_image.h"

struct wcsprm;

/*
 * gp_fits_fail() - fill `err` with GP_ERR_FITS: the printf-style context
 * followed by cfitsio's text for `status` and its newest error-stack
 * message; clears cfitsio's error stack.  Returns GP_ERR_FITS.
 */
int gp_fits_fail(gp_error *err, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/*
 * gp_parse_objid() - a decimal object ID, blanks around it allowed, exactly
 * (a 19-digit SDSS objID through a double would lose its low digits): 0 and
 * *id, or -1 when s is not a non-negative integer below 2^64.  An empty s is
 * no ID (*id = 0).  For catalogue cells and the OBJID keyword alike.
 */
int gp_parse_objid(const char *s, uint64_t *id);

/*
 * gp_mirror_value() - the value a masked pixel takes from its point-symmetric
 * counterpart about the object's centre (SExtractor's MASK_TYPE CORRECT):
 * the frame at (x, y), FITS pixel coordinates (the mirror image 2c - p of
 * the masked pixel p about the centre c), bilinearly interpolated from the
 * finite pixels among the four around it, provided the pixel nearest (x, y)
 * is finite and lies in the section (as SExtractor asks of its mirror
 * pixel).  sec holds w x h pixels from FITS pixel (x0, y0).  Returns 1 and
 * sets *v, or 0 when the mirror image is masked too or off the section.
 * Interpolating, not taking the nearest pixel, matters: the mirror images of
 * all pixels share one sub-pixel offset from the grid, and copying the
 * nearest pixels would shift a patch by up to half a pixel along the
 * profile's gradient.
 */
int gp_mirror_value(const float *sec, long x0, long y0, long w, long h,
                    double x, double y, double *v);

/*
 * gp_clipped_sky() - the local sky estimator of the photometry's annulus
 * and of the cutouts of frames calibrated by a zero point: the
 * 3-sigma-clipped median of v[0..n) (at most 5 passes) and its robust rms
 * (1.4826 x the median absolute deviation).  v is reordered.  Returns the
 * number of values kept; 0, with *sky and *rms NaN, when n is 0 or memory
 * runs out.
 */
size_t gp_clipped_sky(float *v, size_t n, double *sky, double *rms);

/* The frame's 2-axis celestial wcsprm (set up), or NULL. */
const struct wcsprm *gp_frame_wcs(const gp_frame *f);

#endif
