/*
 * gp_fill.h: the value a masked or off-frame pixel takes in the aperture
 * photometry and the cutouts (gp_image.h, "Masked pixels"): its mirror
 * image about the centre when that one is consistent with the galaxy's
 * own azimuthal profile at its radius, else the profile.  Not installed.
 */
#ifndef GALPOST_GP_FILL_H
#define GALPOST_GP_FILL_H

/* A mirror image more than GP_FILL_KSIGMA robust sigmas (of its 1-pixel
 * ring) from the profile at its radius (the ring medians interpolated) is
 * not the galaxy's (a companion, a star, a cosmic ray): the profile is
 * taken instead.  Chosen on the real frames of tests/test_edge_sdss.c and
 * tests/test_masked_sdss.c. */
#define GP_FILL_KSIGMA 3.0
/* Rings with fewer finite pixels than this take the mirror image as it is
 * (too few to judge it by; the core, where the mirror is best). */
#define GP_FILL_MIN_RING 8
/* Rings inside this elliptical radius (pixels) take the mirror image as it
 * is: the core, steep across a 1-pixel ring, where the mirror is best. */
#define GP_FILL_MIN_B 4
/* Fewest pixels above 2 sky sigmas in the symmetric template for the
 * isophotes' shape to be measured (else nothing is judged), and the
 * flattest axis ratio taken. */
#define GP_FILL_MIN_SHAPE 30
#define GP_FILL_MIN_Q 0.2

/* The azimuthal profile of a section about (xc, yc): for each ring b of
 * pixel centres at elliptical radius [b, b + 1), the median and the
 * robust sigma (1.4826 x the median absolute deviation) of its finite
 * pixels. */
typedef struct gp_ring_profile {
    int nring;       /* rings 0 .. nring - 1 */
    double *med;     /* median per ring, frame units */
    double *sig;     /* robust sigma per ring */
    int *cnt;        /* finite pixels per ring */
    double xc, yc;   /* the centre, FITS pixel coordinates */
    double rmax;     /* pixels within rmax of it were used */
    int shaped;      /* the isophotes' shape was measured; else nothing
                        is judged (mirror images taken as they are) */
    double q;        /* the isophotes' axis ratio (1: circles) */
    double cs, sn;   /* cos, sin of the major axis's angle from +x */
} gp_ring_profile;

/*
 * gp_ring_profile_make() - the isophotes' shape and profile of sec (w x h
 * pixels from FITS pixel (x0, y0)) about (xc, yc).  The shape: the second
 * moments, within rshape, of the symmetric template min(p, mirror image of
 * p) (p alone where the mirror image is masked or off the section) where
 * it is more than 2 rms above sky (a companion opposite a pixel drops
 * out); measured only from at least
 * GP_FILL_MIN_SHAPE such pixels, and pairs making at least half the finite
 * pixels within rshape (an edge through the centre leaves a strip), else
 * rp->shaped is 0.  The profile: median and robust sigma of the finite
 * pixels within rmax in 1-pixel rings of elliptical radius (the semi-major
 * axis of the isophote through the pixel).  Returns 0, or -1 when memory
 * runs out (rp then holds nothing to free).
 */
int gp_ring_profile_make(const float *sec, long x0, long y0, long w, long h,
                         double xc, double yc, double rshape, double rmax, double sky, double rms,
                         gp_ring_profile *rp);

/* gp_ring_profile_free() - frees what gp_ring_profile_make() allocated. */
void gp_ring_profile_free(gp_ring_profile *rp);

/*
 * gp_fill_value() - the value of the masked (or off-frame) pixel at (x, y),
 * FITS pixel coordinates: its mirror image about (rp->xc, rp->yc)
 * (gp_mirror_value()) when that exists and lies within GP_FILL_KSIGMA
 * robust sigmas (of the pixel's ring) of the profile there, or is not
 * judged (no shape measured, or the ring has fewer than GP_FILL_MIN_RING
 * finite pixels); else, when judged, that profile value.  The profile:
 * the ring medians, each at its ring's middle radius, interpolated
 * linearly to the pixel's elliptical radius (from the neighbouring ring on
 * its side when that one has GP_FILL_MIN_RING pixels too).  Returns 1 (mirror image), 2 (the profile: the mirror
 * image inconsistent with the profile, or absent when absent_too is set),
 * or 0 (no value) and sets *v for 1 and 2.
 */
int gp_fill_value(const float *sec, long x0, long y0, long w, long h,
                  const gp_ring_profile *rp, double x, double y, int absent_too, double *v);

#endif
