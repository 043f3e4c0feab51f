/*
 * gp_fits_util.h: internal helpers shared by the FITS/WCS files of the
 * engine (frames, cutouts, photometry, catalogues).  Not installed.
 */
#ifndef GALPOST_GP_FITS_UTIL_H
#define GALPOST_GP_FITS_UTIL_H

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

/* The frame's 2-axis celestial wcsprm (set up), or NULL. */
const struct wcsprm *gp_frame_wcs(const gp_frame *f);

#endif
