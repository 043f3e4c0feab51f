/*
 * gp_source_check.h: is there a source at the centre of a cutout?
 *
 * The model was trained on cutouts centred on a galaxy, and it answers with
 * a confident galaxy posterior whatever it is given: empty sky, a cube of
 * zeros, a click beside the galaxy.  Those inputs land among the training
 * images' latent representations (gp_ood.h does not catch them), so this
 * check looks at the pixels themselves, on the host, before and apart from
 * the backend (identical on the CPU and the GPU).  gp_infer() runs it on
 * every galaxy that has a cutout and sets GP_FLAG_NO_SOURCE (gp_model.h)
 * when it fails; the posteriors are not changed.
 *
 * The statistic, per cutout (g, r, i planes, nanomaggies):
 *   - each band's sky level and noise: the median and 1.4826 x the median
 *     absolute deviation of the finite, non-zero pixels on a lattice of
 *     every fourth row and column beyond 64 pixels (25") from the centre
 *     (about 800 pixels: zeros are the padding of a cutout that crosses
 *     a frame edge; where more than half of those pixels are equal the
 *     noise is their rms about the median instead);
 *   - snr: the sky-subtracted g + r + i flux within GP_SOURCE_APERTURE
 *     pixels of the centre over its noise, sqrt(sum of N sigma_b^2) over
 *     the bands (N pixels in the aperture; pixel noise taken as
 *     uncorrelated, so on resampled real cutouts blank sky spreads about
 *     1.7 times wider than N(0, 1));
 *   - peak: from the brightest of the four central pixels, climb the
 *     g + r + i image smoothed by a 5x5 box to its first local maximum;
 *     peak is that maximum's distance from the centre, the climb stopping
 *     once it lies beyond GP_SOURCE_PEAK_LIMIT (the centre then lies on
 *     the slope of something else: the halo of a galaxy beside it).
 * A band with fewer than 64 usable sky pixels or none that differ (blank,
 * all zeros, constant) makes snr 0.  Non-finite pixels are left out of
 * every sum (gp_infer() refuses such a galaxy before judging it).
 * Cost: about 2,000 pixels read and two selections over 800 values per
 * band; no allocation.
 */
#ifndef GP_SOURCE_CHECK_H
#define GP_SOURCE_CHECK_H

#include "galpost/gp_error.h"
#include "galpost/gp_model.h"

/* Aperture radius of snr, pixels (2.4"). */
#define GP_SOURCE_APERTURE 6.0

typedef struct gp_source {
    double snr;         /* central g + r + i signal-to-noise (0 when a band is blank) */
    double peak;        /* distance of the climb's end from the centre, arcsec */
    int    blank_band;  /* -1, or the first band (0 g, 1 r, 2 i) that is blank or constant */
    int    no_source;   /* 1: blank_band >= 0, or snr below GP_SOURCE_SNR_LIMIT,
                           or peak beyond GP_SOURCE_PEAK_LIMIT (gp_model.h) */
} gp_source;

/*
 * gp_source_check() - judge whether a cutout has a source at its centre.
 *
 * Given:
 *   cutout    const float*  GP_CUTOUT_PIXELS values: g, r, i planes of
 *                           GP_CUTOUT_SIZE^2, row-major, centred on the
 *                           corner shared by the four central pixels.
 * Returned:
 *   out       gp_source*    The statistics and the verdict.
 *   err       gp_error*     Why it failed.
 * Function return value:
 *   GP_OK; GP_ERR_ARG when cutout or out is NULL.
 */
int gp_source_check(const float *cutout, gp_source *out, gp_error *err);

/*
 * gp_source_extent() - how far the galaxy at a cutout's centre visibly
 * reaches: the radius of its isophote at the pixel noise.
 *
 * The sky-subtracted g + r + i pixels (skies and noises as
 * gp_source_check() measures them; pixels with a non-finite or exactly 0
 * value in a band, a frame edge's padding, left out) in 1-pixel rings
 * about the centre out to the sky region (64 pixels, 25"), the rings from
 * 4 pixels out cut into 8 sectors of position angle.  An inner ring whose
 * median falls below the noise of one pixel of the sum, sqrt(sigma_g^2 +
 * sigma_r^2 + sigma_i^2), is the extent; else each sector goes out to its
 * first ring whose median is below that noise or clearly above the lowest
 * median inside it (3 times the median's own noise: light rising again is
 * a neighbour's or a star's), and the extent is the fourth largest of the
 * eight (a neighbour or a star over three sectors does not stretch it; an
 * elongated galaxy gives about three quarters of its extent along the
 * major axis).  A small galaxy inside a brighter one's halo, where that
 * light is flat or falls away from it, or fills the sky region, can still
 * be given a good part of the halo's extent (trials of a 100-300
 * nanomaggy disc 20-60 pixels from one of 2,000-20,000 with a 12-pixel
 * scale length: up to 25 pixels too much, and 40 in 0.3% of the draws of
 * the worst case).  About 13,000 pixels read and 280 selections of a few dozen
 * values: for one galaxy at a time (galpostd keeps its overlay outside
 * it), not for batches.
 *
 * Given:
 *   cutout    const float*  As gp_source_check().
 * Returned:
 *   extent    double*       Radius in arcsec: 0 when even the central
 *                           ring lies below the noise, 25.3 when no ring
 *                           inside the sky region does; NAN when a band is
 *                           blank (no sky to measure against).
 *   err       gp_error*     Why it failed.
 * Function return value:
 *   GP_OK; GP_ERR_ARG when cutout or extent is NULL; GP_ERR_NOMEM.
 */
int gp_source_extent(const float *cutout, double *extent, gp_error *err);

#endif
