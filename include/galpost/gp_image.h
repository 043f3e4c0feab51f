/*
 * gp_image.h: band images with WCS, galaxy cutouts, aperture photometry and
 * local photometric catalogues: everything that turns the frames an observer
 * has loaded (SDSS-like frames in nanomaggies) into a gp_galaxy for
 * gp_infer() (gp_model.h).
 *
 * Frames
 *   A gp_frame is one 2-D image with its celestial WCS (parsed by wcslib)
 *   and its band.  It is opened from a FITS file on disk (any name cfitsio
 *   accepts, including .fits.bz2/.gz and extended syntax such as
 *   "f.fits[1]") or from a FITS file held in memory (as received from DS9
 *   through XPA).  Pixels are not read at open: each cutout or photometry
 *   call reads only the rectangle of pixels it needs (fits_read_subset), so
 *   a click on a 2048x1489 SDSS frame reads about 170x170 pixels per band.
 *   A frame is not thread-safe: use one frame from one thread at a time.
 *
 * Pixel coordinates follow FITS: (1, 1) is the centre of the first pixel.
 *
 * Frames in counts
 *   galpost measures nanomaggies (m_AB = 22.5 - 2.5 log10 f): a frame with
 *   BUNIT naming nanomaggies, or with no BUNIT and no zero point, is used
 *   as it is (SDSS frames: results to the bit as before this was added,
 *   whatever zero-point keywords they carry).  A frame whose BUNIT is
 *   absent or names counts ('counts', 'count', 'cts', 'ADU', 'DN',
 *   'electrons', 'e-', any case, alone or per pixel) or counts per second
 *   (the same followed by '/s', '/sec', 's-1', ...: 'counts/s', 'e-/s',
 *   'ELECTRONS/S', 'ADU/s', 'DN/s') and whose header holds an AB zero
 *   point, the first of
 *       MAGZP    (ZTF/PTF science images, DN)
 *       MAGZERO  (DES, DECam community pipeline)
 *       PHOTZP   (ESO science data products; PHOTSYS, when present, must
 *                 be 'AB')
 *       FLUXMAG0 (HSC and LSST-stack calexps and coadds: the pixel sum of
 *                 a magnitude-0 source, ZP = 2.5 log10 FLUXMAG0)
 *   is calibrated as its pixels are read (gp_frame_read_section()):
 *       x_nmgy = x * 10^(-0.4 (ZP - 22.5)).
 *   The rule for counts per second: a zero point is for the pixel values
 *   as they are stored, m_AB = ZP - 2.5 log10(pixel value), whatever BUNIT
 *   says: for a frame in counts/s, the zero point of a rate of 1 count/s
 *   (SExtractor's MAG_ZEROPOINT is read this way, and SCAMP/SWarp write
 *   zero points for the pixels they resample; ZTF's MAGZP, the DECam
 *   pipeline's MAGZERO, which legacypipe hands to SExtractor as it is, and
 *   HSC's FLUXMAG0 are each for the image's own pixel values).  EXPTIME is
 *   never used to turn a zero point for counts into one for the rate or
 *   back: a zero point defined per second of an image in counts (CASU's
 *   MAGZPT, legacypipe's CCDZPT, both needing 2.5 log10 EXPTIME added) is
 *   not read.  The zero point must be a number in GP_ZEROPOINT_MIN..MAX
 *   (FLUXMAG0 > 0 giving one); one that is not, one on another system
 *   (PHOTSYS = 'VEGA'), or two keywords of the frame that disagree by
 *   more than 0.01 mag (as a per-second zero point beside a per-exposure
 *   one would, by 2.5 log10 EXPTIME) makes gp_frame_check_unit() refuse
 *   the frame, naming the file, its HDU and the keywords, rather than
 *   guess.  Not read, as their conventions need more than the pixel value:
 *   MAGZPT, CCDZPT, PHOTZPT (HST: the STmag constant of PHOTFLAM), bare ZP
 *   or ZPT (no agreed meaning).  A frame in counts without any of them is
 *   refused, naming the keywords, unless a zero point is given by hand
 *   (gp_frame_set_zeropoint(): galpost infer --zeropoint, galpostd's set
 *   zeropoint), which holds for frames in counts whose header has no
 *   usable zero point (a usable one in the header wins).  Such frames are
 *   usually not sky-subtracted: aperture photometry subtracts its
 *   annulus's sky anyway, and cutouts subtract a local sky
 *   (gp_cutout_band()).  gp_frame_calibration() describes the conversion.
 *
 * Frames in flux density
 *   A frame whose BUNIT is an AB flux density per pixel, 'nJy' (Rubin/LSST
 *   calexps and coadds), 'uJy', 'mJy' or 'Jy' (case as written: 'MJy' is
 *   mega, and 'MJy/sr' a surface brightness, both refused), alone or per
 *   pixel, is scaled as read: 1 nanomaggy = 3631 nJy exactly (the AB zero
 *   point is 3631 Jy), x_nmgy = x_nJy / 3631.  Zero-point keywords are not
 *   read for them, and their cutouts get no local sky: such images are
 *   calibrated, background-subtracted products (the LSST pipelines
 *   subtract a background model from calexps and coadds, as SDSS does from
 *   its frames), and a 40"-60" sky taken off again would cut into the
 *   wings of large galaxies the training cutouts keep.  gp_frame_zeropoint()
 *   is NaN for them; gp_frame_calibration() names the scaling.
 *
 * Cutouts
 *   A cutout is GP_CUTOUT_SIZE x GP_CUTOUT_SIZE pixels of GP_PIXEL_SCALE
 *   arcsec on a gnomonic (TAN) grid centred on (ra, dec), north up and east
 *   left: row-major, row 0 is the southernmost row (FITS order, so that the
 *   array written as a FITS image displays north up), column 0 the eastern
 *   edge.  The reference point lies at FITS pixel (80.5, 80.5), the corner
 *   shared by the four central pixels; the cutout's own WCS is
 *   CRPIX = 80.5, 80.5, CRVAL = ra, dec, CD = diag(-s, +s), s = 0.396"/px.
 *   Each band is cut through its own WCS (SDSS bands are offset by several
 *   pixels).  When a frame's pixel grid already is the cutout's grid (same
 *   scale within 0.1%, same orientation within 0.06 deg, north up, east left),
 *   pixels are copied with an integer shift (the galaxy is then within half
 *   a pixel of the centre); otherwise each cutout pixel is resampled by
 *   bilinear interpolation at its centre and multiplied by the ratio of the
 *   cutout pixel area to the frame pixel area, which conserves flux
 *   (nanomaggies per pixel) and sets GP_FLAG_RESAMPLED.
 *   Cutout pixels that fall off the frame set GP_FLAG_EDGE and cutout
 *   pixels that need a non-finite frame pixel (NaN, Inf, BLANK) set
 *   GP_FLAG_MASKED; both are filled as "Masked pixels" below says, with 0
 *   (the sky level of sky-subtracted frames) when their mirror image is
 *   masked or off the frame too.  Only non-finite pixels on the frame count
 *   towards the refusal of a cutout that is more than half masked.
 *
 * Masked pixels
 *   A masked pixel (a bad column, a cosmic-ray or saturation mask, a chip
 *   gap) takes the value of its point-symmetric counterpart about the
 *   object's centre, the given (ra, dec), when that one is finite and on
 *   the frame, as SExtractor's MASK_TYPE CORRECT does: galaxies are close
 *   to point-symmetric (an elliptical profile exactly).  The counterpart's
 *   value is interpolated bilinearly at the mirror position (from the
 *   finite pixels of the four around it; the nearest must be finite), in
 *   the frame's own pixels.  A mirror image inconsistent with the galaxy's
 *   own azimuthal profile is not taken: when it lies more than 3 robust
 *   sigmas (1.4826 MAD) of its 1-pixel ring of elliptical radius from the
 *   profile at its radius (the medians of the finite pixels in the rings,
 *   each at its ring's middle radius, interpolated linearly), that value
 *   is used (a companion, a star or a cosmic ray opposite the pixel;
 *   gp_phot.profiled).  The
 *   ellipse is the second moments, within 6", of min(p, mirror image of p)
 *   above 2 sky sigmas, a pixel without a mirror image standing for its
 *   pair; the check is made from elliptical radius 4 pixels out, in rings
 *   of at least 8 finite pixels, and only when at least 30 pixels measure
 *   the shape and pairs are half of the finite pixels (an edge through the
 *   centre leaves too few: mirror images are then copied as they are).
 *   In the photometry, masked aperture pixels whose
 *   mirror image is masked too (or off the frame) take the aperture's mean
 *   radial profile (1-pixel rings of finite pixels) at their radius, and
 *   when that estimate is more than GP_PHOT_MAX_LOST (3%) of the flux and
 *   more than the flux error, the band's photometry is refused
 *   (GP_ERR_DATA, naming the frame, the band and the fraction) rather than
 *   returned biased.  Counting masked pixels as sky, as before, made a
 *   galaxy with a 7x7 NaN patch on its core 0.5 mag too faint.  Frames
 *   without masked pixels give the same values as before, to the bit.
 *
 *   Pixels off the frame, where an aperture or a cutout crosses the frame
 *   edge, are masked pixels in all of this (one code path): the mirror
 *   image, else the radial profile and the refusal; they set GP_FLAG_EDGE
 *   rather than GP_FLAG_MASKED, which tells that part of the aperture or
 *   cutout was reconstructed.  With the centre on the frame the mirror image
 *   of an off-frame pixel is on it, unless the aperture also crosses the
 *   opposite edge (a narrow frame) or, near a corner, the other axis's edge.
 *   Before, the photometry left such pixels out and the cutout padded them
 *   with 0: on real SDSS galaxies (tests/test_edge_sdss.c) an edge through
 *   the centre made them 0.57-0.99 mag too faint (an edge half the radius
 *   from it, 0.04-0.14 mag), where mirror images give two of them within
 *   0.06 mag.  The reconstruction is as good as the galaxy's
 *   point symmetry about the given position (not the light's centroid): a
 *   companion's core opposite masked pixels is replaced by the isophote's
 *   median, but its wings pass the 3-sigma test (a galaxy with one 4" from
 *   its centre comes out 0.13-0.14 mag too bright with a fifth of its
 *   aperture off the frame on the side away from it, 0.19-0.24 mag when
 *   mirror images were copied whatever they held; and 0.24-0.27 mag too
 *   faint with the companion's half off the frame, its light lost).
 *   Apertures inside the frame give the same values as before, to the bit.
 *
 * Photometry
 *   Aperture photometry on nanomaggy images: the flux inside a circle of
 *   radius R (exact pixel/circle overlap, estimated with 8x8 sub-pixels on
 *   pixels crossing the circle) minus the local sky, the 3-sigma-clipped
 *   median of the pixels whose centres lie in the annulus R_in..R_out, times
 *   the aperture area.  The annulus uses its finite pixels on the frame
 *   only (near the frame edge, the part of it on the frame; at least 20
 *   pixels), not mirror images.  m = 22.5 - 2.5 log10(flux / nanomaggy): AB
 *   magnitudes, on the SDSS frame calibration.  Measured magnitudes are NOT
 *   corrected for Galactic extinction (SDSS frames carry no extinction
 *   map); catalogue magnitudes are (gp_catalog_match()).
 *
 * Catalogues
 *   A local photometric catalogue is a FITS binary table or a CSV file
 *   (header line of column names) with SDSS PhotoObj columns: ra, dec
 *   (degrees, ICRS), modelMag_u .. modelMag_z and extinction_u ..
 *   extinction_z (or the vector columns modelMag[5], extinction[5] of
 *   photoObj files).  Column names are matched case-insensitively.  With
 *   extinction_r alone, the other bands' extinctions are A_r times the
 *   Schlegel, Finkbeiner & Davis (1998) ratios (5.155, 3.793, 2.751, 2.086,
 *   1.479)/2.751.  Without extinction columns the magnitudes are used as
 *   they are, and gp_catalog_has_extinction() says so.  An optional integer
 *   column 'type' (PhotoObj: 3 galaxy, 6 star) and an optional objID
 *   column (unsigned 64-bit) are kept with each row.  Rows whose
 *   magnitudes are not finite or are SDSS sentinels (<= -9000 or >= 9000)
 *   are never matched.
 */
#ifndef GALPOST_GP_IMAGE_H
#define GALPOST_GP_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "galpost/gp_error.h"
#include "galpost/gp_model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* SDSS bands, in gp_galaxy.mag order. */
typedef enum gp_band {
    GP_BAND_UNKNOWN = -1,
    GP_BAND_U = 0,
    GP_BAND_G,
    GP_BAND_R,
    GP_BAND_I,
    GP_BAND_Z,
    GP_NBANDS
} gp_band;

/* gp_band_name() - "u", "g", "r", "i", "z", or "?" for anything else. */
const char *gp_band_name(int band);

/*
 * gp_band_from_filter() - the band named by a FILTER keyword value.
 *
 * Given:
 *   value     const char*  e.g. "g", "r ", "i'", "SDSS-z", "sdss_u".
 * Function return value:
 *   A gp_band, or GP_BAND_UNKNOWN.
 */
int gp_band_from_filter(const char *value);

/*
 * gp_band_from_filename() - the band named by an SDSS-style file name:
 * frame-g-..., stamp-r-..., fpC-RRRRRR-iC-..., or any base name with the
 * band letter alone between '-', '_' or '.' separators (mock-g.fits).
 *
 * Function return value:
 *   A gp_band, or GP_BAND_UNKNOWN.
 */
int gp_band_from_filename(const char *path);

/* ------------------------------------------------------------- frames */

typedef struct gp_frame gp_frame;

/*
 * gp_frame_open_file() - open a band image on disk.
 *
 * Opens the first HDU holding an image of at least 2 x 2 pixels (more
 * axes are allowed when they have length 1), parses its WCS with wcslib
 * and finds its band from the FILTER keyword, else from the file name.
 * The file stays open; pixels are read on demand.
 *
 * Given:
 *   path      const char*   File name (cfitsio syntax).
 * Returned:
 *   out       gp_frame**    The frame; close with gp_frame_close().
 *   err       gp_error*
 * Function return value:
 *   GP_OK; GP_ERR_ARG (NULL argument); GP_ERR_FITS (cannot open or read,
 *   message names the file and cfitsio's reason); GP_ERR_NOTFOUND (no
 *   image HDU); GP_ERR_FORMAT (image of more than one plane);
 *   GP_ERR_NOMEM.  A frame without a usable celestial WCS opens fine:
 *   gp_frame_has_wcs() tells, and cutouts then fail with GP_ERR_WCS.
 */
int gp_frame_open_file(const char *path, gp_frame **out, gp_error *err);

/*
 * gp_frame_open_memory() - open a band image from a FITS file in memory.
 *
 * Given:
 *   buf, len  const void*, size_t  The FITS bytes (copied).
 *   name      const char*   A name for messages, also used to find the
 *                           band when there is no FILTER keyword (may be
 *                           NULL: "(memory)").
 * Returned:
 *   out       gp_frame**
 *   err       gp_error*
 * Function return value:
 *   As gp_frame_open_file(); GP_ERR_FORMAT when len is too small to hold
 *   a FITS header (2880 bytes).
 */
int gp_frame_open_memory(const void *buf, size_t len, const char *name,
                         gp_frame **out, gp_error *err);

/* gp_frame_close() - close the file and free the frame (NULL allowed). */
void gp_frame_close(gp_frame *f);

/* Facts about an open frame. */
const char *gp_frame_name(const gp_frame *f);   /* path or given name */
int   gp_frame_band(const gp_frame *f);         /* gp_band */
long  gp_frame_width(const gp_frame *f);        /* NAXIS1 */
long  gp_frame_height(const gp_frame *f);       /* NAXIS2 */
int   gp_frame_has_wcs(const gp_frame *f);      /* 1: celestial WCS usable */
double gp_frame_pixel_scale(const gp_frame *f); /* arcsec/pixel at the
                                                   reference point; 0 without WCS */

/*
 * gp_frame_wcs_note() - why a frame whose header has a celestial WCS cannot
 * use it, or "" (a usable WCS, or none at all).  Positions are ICRS: a WCS
 * in ICRS or FK5 J2000 equatorial coordinates is used as it is, a galactic
 * one (GLON/GLAT) is rotated to ICRS, and any other system (FK4 B1950, FK5
 * of another equinox, ecliptic, supergalactic) is not used, rather than
 * read as ICRS: gp_frame_has_wcs() is 0 and this says why.
 */
const char *gp_frame_wcs_note(const gp_frame *f);

/*
 * gp_frame_check_unit() - GP_OK when the frame's pixels may be in
 * nanomaggies, as read: no BUNIT keyword, a BUNIT naming nanomaggies
 * ('nanomaggy', 'nanomaggies', 'nmgy', with or without '/pixel'), a flux
 * density ("Frames in flux density" above), or counts (per second)
 * calibrated by a zero point ("Frames in counts" above).  Any other BUNIT
 * ('counts' or 'electrons/s' without a zero point, 'MJy/sr', ...), or an
 * unusable or ambiguous zero point, is GP_ERR_DATA naming the frame and its
 * HDU ("f.fits (HDU 2 'SCI')"), the unit (or the keywords) and the
 * zero-point keywords that would do.  Cutouts and
 * aperture photometry refuse such frames; a frame in counts with neither
 * BUNIT nor zero point cannot be told from a calibrated one (its results
 * are flagged as unlike the training set, RESULT FLAGS in galpost(1)).
 */
int gp_frame_check_unit(const gp_frame *f, gp_error *err);

/* The zero points galpost takes, in magnitudes (AB, for the pixel value as
 * stored). */
#define GP_ZEROPOINT_MIN 15.0
#define GP_ZEROPOINT_MAX 40.0

/*
 * gp_frame_zeropoint() - the AB zero point by which the frame's counts are
 * turned into nanomaggies ("Frames in counts" above), or NaN when its
 * pixels are used as they are or are a flux density ("Frames in flux
 * density").
 *
 * Returned:
 *   key       const char**  The keyword it came from ("MAGZP", ...,
 *                           "FLUXMAG0"; "ZP" for a zero point given by
 *                           hand; "" with NaN); may be NULL.
 */
double gp_frame_zeropoint(const gp_frame *f, const char **key);

/*
 * gp_frame_set_zeropoint() - a zero point given by hand, for a frame in
 * counts or counts per second (BUNIT absent or naming them) whose header
 * has no usable zero point: from now on its pixels are read as
 * x * 10^(-0.4 (zp - 22.5)), as for one in the header (it is the zero
 * point of the pixel values as stored, "Frames in counts" above).  A frame
 * whose header gives a usable zero point, or whose pixels are nanomaggies,
 * a flux density or another unit, is left as it is.  A frame without BUNIT
 * or zero point, taken as nanomaggies otherwise, is taken as counts: who
 * gives a zero point says the frames are in counts.
 *
 * Given:
 *   zp        double       AB magnitude in GP_ZEROPOINT_MIN..MAX, or NaN to
 *                          take back an earlier one (the header's
 *                          calibration again).
 *   source    const char*  Who gave it, for gp_frame_calibration(): "...,
 *                          ZP = 27 given by SOURCE" (e.g. "--zeropoint");
 *                          NULL: "hand".
 * Function return value:
 *   GP_OK (applied or not needed); GP_ERR_ARG (NULL frame; zp neither NaN
 *   nor a magnitude in range: message names the frame and the source).
 */
int gp_frame_set_zeropoint(gp_frame *f, double zp, const char *source, gp_error *err);

/*
 * gp_zeropoint_parse() - zero points given by hand, from text: "header"
 * (none: every zero point from the frames' headers), one magnitude for
 * every band ("27.0"), or BAND=ZP pairs separated by commas or blanks
 * ("g=27.1,r=27.0,i=26.8"; bands not named: from the header).  Magnitudes
 * in decimal, GP_ZEROPOINT_MIN..MAX.
 *
 * Returned:
 *   zp        double[GP_NBANDS]  per band u..z, NaN where none is given;
 *                                untouched on error.
 * Function return value:
 *   GP_OK; GP_ERR_ARG quoting the word that is not a band or a magnitude
 *   in range, or a band given twice.
 */
int gp_zeropoint_parse(const char *text, double zp[GP_NBANDS], gp_error *err);

/* gp_zeropoint_format() - zp as gp_zeropoint_parse() reads it: "header",
 * "27" (all bands alike), or "g=27.1,r=27" (n: size of buf). */
void gp_zeropoint_format(const double zp[GP_NBANDS], char *buf, size_t n);

/*
 * gp_frame_calibration() - "" when the frame's pixels are used as they are,
 * else what is done to them, for the lines of results that name their
 * inputs: e.g. "'counts' (BUNIT) x 10^(-0.4 (MAGZP - 22.5)), MAGZP = 25.31"
 * ("counts (no BUNIT)" without BUNIT), "'nJy' (BUNIT) x 0.000275406 (1
 * nanomaggy = 3631 nJy), sky as it is", "... ZP = 27 given by
 * --zeropoint".  Owned by the frame.
 */
const char *gp_frame_calibration(const gp_frame *f);

/*
 * gp_frame_pixels_note() - what was done to the pixels of a galaxy's frames
 * in counts, band by band, for the "pixels" line of results: "g NAME:
 * CALIBRATION, local sky subtracted from the cutout; r ..." (the sky part
 * for g, r and i when they gave a cutout), "" when every frame's pixels are
 * used as they are.  The one wording of galpost infer and galpostd.
 *
 * Given:
 *   band      the frames of bands u, g, r, i, z (gp_band), NULL for a band
 *             not used
 *   name      how to name each band's frame, or NULL (or a NULL entry) for
 *             gp_frame_name()
 *   cutout    nonzero when the g, r and i frames gave a cutout
 *   n         the size of buf
 * Returned:
 *   buf       the text, truncated to n - 1 characters
 */
void gp_frame_pixels_note(gp_frame *const band[GP_NBANDS], const char *const name[GP_NBANDS], int cutout,
                          char *buf, size_t n);

/*
 * gp_frame_check_measurable() - GP_OK when pixels can be measured at sky
 * positions on the frame: it has a usable celestial WCS and its pixels may
 * be in nanomaggies (gp_frame_check_unit).  Cutouts and aperture photometry
 * call it first.
 *
 * Function return value:
 *   GP_OK; GP_ERR_WCS naming the frame and why (gp_frame_wcs_note(), or no
 *   celestial WCS keywords); GP_ERR_DATA (the unit); GP_ERR_ARG.
 */
int gp_frame_check_measurable(const gp_frame *f, gp_error *err);

/*
 * gp_frame_header() - the frame's header cards as stored in its HDU: *ncards
 * records of 80 characters (blank-padded, END not included) in one
 * NUL-terminated malloc'ed string (free()).  A tile-compressed image gives
 * its table header, as DS9's `fits header` shows it.
 *
 * Function return value:
 *   GP_OK; GP_ERR_ARG; GP_ERR_NOMEM; GP_ERR_FITS.
 */
int gp_frame_header(const gp_frame *f, char **cards, int *ncards, gp_error *err);

/* gp_frame_set_band() - override the band (e.g. an RGB frame's channel). */
void gp_frame_set_band(gp_frame *f, int band);

/*
 * gp_frame_sky_to_pixel() / gp_frame_pixel_to_sky() - convert between
 * ICRS degrees and FITS pixel coordinates through the frame's WCS.
 *
 * Function return value:
 *   GP_OK; GP_ERR_WCS (no WCS, or the point has no valid projection;
 *   message names the frame and the position).
 */
int gp_frame_sky_to_pixel(const gp_frame *f, double ra, double dec,
                          double *x, double *y, gp_error *err);
int gp_frame_pixel_to_sky(const gp_frame *f, double x, double y,
                          double *ra, double *dec, gp_error *err);

/*
 * gp_frame_contains() - 1 when (ra, dec) falls on the frame, i.e. its
 * pixel position lies within [0.5, NAXIS + 0.5] on both axes; 0 when it
 * does not or the frame has no WCS.
 */
int gp_frame_contains(const gp_frame *f, double ra, double dec);

/*
 * gp_frame_read_section() - read a rectangle of pixels as float.
 *
 * Given:
 *   x0, y0    long     First pixel (FITS, 1-based), inside the image.
 *   nx, ny    long     Size; the rectangle must lie inside the image.
 * Returned:
 *   out       float*   nx*ny values, row-major from (x0, y0); BLANK and
 *                      non-finite pixels are NaN.  Counts calibrated by a
 *                      zero point are returned in nanomaggies (x 10^(-0.4
 *                      (ZP - 22.5))), flux densities too (nJy / 3631),
 *                      other frames' pixels as stored.
 * Function return value:
 *   GP_OK; GP_ERR_ARG (rectangle outside the image); GP_ERR_FITS.
 */
int gp_frame_read_section(gp_frame *f, long x0, long y0, long nx, long ny,
                          float *out, gp_error *err);

/* ------------------------------------------------------------ cutouts */

/*
 * gp_cutout_band() - one band's GP_CUTOUT_SIZE^2 cutout at (ra, dec).
 *
 * Given:
 *   f         gp_frame*    The band image (needs a celestial WCS).
 *   ra, dec   double       Centre, ICRS degrees.
 * Returned:
 *   out       float*       GP_CUTOUT_SIZE * GP_CUTOUT_SIZE values.
 *   flags     uint32_t*    GP_FLAG_EDGE, GP_FLAG_MASKED, GP_FLAG_RESAMPLED
 *                          are OR-ed in (may be NULL).
 *   err       gp_error*
 *
 * The cutout's sky level is 0, as on sky-subtracted nanomaggy frames: from
 * a frame in counts calibrated by a zero point (gp_frame_zeropoint()) the
 * local sky is subtracted: the 3-sigma-clipped median (the photometry's
 * sky estimator) of the frame's finite pixels whose centres lie 40" to 60"
 * from (ra, dec), beyond the cutout's inscribed circle (at least 400 of
 * them; about 25000 on SDSS frames, the part of the annulus on the frame
 * near an edge).  Its statistical error is about 1.25 x the pixel rms /
 * sqrt(n), under 1% of the pixel noise; a bright galaxy's wings and
 * neighbours there add to it (on real SDSS frames made into counts,
 * tests/test_counts_sdss.c, the cutouts came out the originals' minus
 * 0.003-0.18 of the pixel rms, the sky SDSS's own subtraction had left
 * there).  Nanomaggy frames are not touched.
 *
 * Function return value:
 *   GP_OK; GP_ERR_WCS (no celestial WCS: message names the frame);
 *   GP_ERR_DATA (the unit (gp_frame_check_unit()), the centre is off the
 *   frame, more than half of the cutout's on-frame pixels are not finite,
 *   or, for a frame in counts, fewer than 400 finite pixels in the local
 *   sky's annulus); GP_ERR_FITS; GP_ERR_NOMEM.
 */
int gp_cutout_band(gp_frame *f, double ra, double dec, float *out,
                   uint32_t *flags, gp_error *err);

/*
 * gp_cutout_gri() - the g, r, i cutout of gp_galaxy.cutout.
 *
 * Given:
 *   gri       gp_frame*[3]  The g, r and i frames, in this order.
 * Returned:
 *   out       float*        GP_CUTOUT_PIXELS values (g, r, i planes).
 *   flags     uint32_t*     As gp_cutout_band(), all bands OR-ed.
 * Function return value:
 *   As gp_cutout_band(), the message prefixed by the band; GP_ERR_ARG
 *   when a frame is NULL.
 */
int gp_cutout_gri(gp_frame *const gri[3], double ra, double dec, float *out,
                  uint32_t *flags, gp_error *err);

/* --------------------------------------------------------- photometry */

typedef struct gp_phot_options {
    double radius;     /* aperture radius, arcsec (default 6) */
    double sky_inner;  /* sky annulus, arcsec (default 0: 2 * radius) */
    double sky_outer;  /*            (default 0: 3 * radius) */
} gp_phot_options;

/* Largest fraction of an aperture's flux that may lie under unrecoverable
 * masked pixels (see "Masked pixels" above): 3%, a bias of at most 0.033 mag
 * if the profile estimate of that flux were wholly wrong, within the 2-3%
 * calibration uncertainty of SDSS u and z and a fifteenth of the 0.5 mag a
 * masked core used to cost. */
#define GP_PHOT_MAX_LOST 0.03

/* gp_phot_options_default() - radius 6", annulus 2R..3R. */
gp_phot_options gp_phot_options_default(void);

/* One aperture measurement. */
typedef struct gp_phot {
    double flux;       /* sky-subtracted flux in the aperture, frame units
                          (nanomaggies) */
    double flux_err;   /* 1-sigma from the sky noise: sqrt(A s^2 (1 + (pi/2) A/n)),
                          A aperture area in pixels, s the sky rms, n the
                          number of sky pixels; pi/2: the variance of the
                          sky's median over its mean's (no source Poisson
                          term) */
    double sky;        /* sky level per pixel */
    double sky_rms;    /* sky rms per pixel (1.4826 MAD) */
    double area;       /* aperture area, pixels (masked and off-frame
                          pixels included: they are filled) */
    int    nsky;       /* sky pixels used */
    uint32_t flags;    /* GP_FLAG_EDGE: part of the aperture is off the
                          frame and was filled; GP_FLAG_MASKED: non-finite
                          pixels in the aperture were filled (see "Masked
                          pixels" above) */
    double recovered;  /* flux put into masked and off-frame pixels from
                          their mirror images (included in flux),
                          nanomaggies */
    double lost_frac;  /* estimated fraction of flux under masked or
                          off-frame pixels whose mirror images are masked
                          or off the frame too, filled from the radial
                          profile (included in flux); at most
                          GP_PHOT_MAX_LOST (or below flux_err) when the
                          measurement is returned */
    double profiled;   /* flux put into masked and off-frame pixels whose
                          mirror images were not the galaxy's (more than
                          3 robust sigmas from its isophote's median: a
                          companion, a star), from the median of their
                          isophote (included in flux), nanomaggies */
} gp_phot;

/*
 * gp_phot_aperture() - aperture photometry at (ra, dec) on one frame.
 *
 * Given:
 *   f         gp_frame*               Frame with WCS.
 *   ra, dec   double                  ICRS degrees.
 *   opt       const gp_phot_options*  NULL: defaults.
 * Returned:
 *   out       gp_phot*
 * Function return value:
 *   GP_OK; GP_ERR_ARG (radii not 0 < R <= R_in < R_out <= 300");
 *   GP_ERR_WCS; GP_ERR_DATA (centre off the frame, fewer than 20 finite
 *   sky pixels on the frame; more than GP_PHOT_MAX_LOST of the flux, and
 *   more than flux_err, under masked or off-frame pixels whose mirror
 *   images are masked or off the frame too: the message names the frame,
 *   the band, the fraction and the pixels, "N pixels off the frame edge"
 *   and/or "N masked pixels"); GP_ERR_FITS; GP_ERR_NOMEM.
 */
int gp_phot_aperture(gp_frame *f, double ra, double dec,
                     const gp_phot_options *opt, gp_phot *out, gp_error *err);

/*
 * gp_phot_magnitudes() - ugriz AB magnitudes measured on five frames.
 *
 * Given:
 *   ugriz     gp_frame*[5]  Frames in band order; any may be NULL.
 *   ra, dec, opt            As gp_phot_aperture().
 * Returned:
 *   mag       float[5]      Magnitudes 22.5 - 2.5 log10(flux).
 *   magerr    float[5]      1.0857 flux_err / flux (may be NULL).
 *   flags     uint32_t*     Photometry flags OR-ed (may be NULL).
 * Function return value:
 *   GP_OK; GP_ERR_NOTFOUND when a band has no frame (message: "no u
 *   frame: ..."); GP_ERR_DATA when a band's aperture has too much flux
 *   under unrecoverable masked or off-frame pixels, or the g, r or i flux is not positive
 *   (a u or z flux that is not positive is a non-detection: magnitude
 *   GP_NONDETECTION_MAG, magerr NaN, GP_FLAG_NONDETECTION in flags); the
 *   gp_phot_aperture() statuses, prefixed by the band.
 */
int gp_phot_magnitudes(gp_frame *const ugriz[GP_NBANDS], double ra, double dec,
                       const gp_phot_options *opt, float mag[GP_NBANDS],
                       float magerr[GP_NBANDS], uint32_t *flags, gp_error *err);

/* ---------------------------------------------------------- catalogue */

typedef struct gp_catalog gp_catalog;

/*
 * gp_catalog_open() - read a photometric catalogue (FITS table or CSV,
 * told apart by the first bytes) into memory.
 *
 * Given:
 *   path      const char*
 * Returned:
 *   out       gp_catalog**   Close with gp_catalog_close().
 * Function return value:
 *   GP_OK; GP_ERR_IO (cannot open); GP_ERR_FITS; GP_ERR_NOTFOUND (a
 *   required column is missing: message names the file and the column);
 *   GP_ERR_FORMAT (no comma-separated header line: message says which
 *   delimiter the file seems to use; FITS objID of floating type);
 *   GP_ERR_NOMEM.
 *   A CSV data line with the wrong number of fields, or a cell that is not
 *   a number ("null", "abc") or not an object ID, does not fail the
 *   catalogue: that row is kept as unusable, and gp_catalog_row() says
 *   why.
 */
int  gp_catalog_open(const char *path, gp_catalog **out, gp_error *err);
void gp_catalog_close(gp_catalog *c);

const char *gp_catalog_path(const gp_catalog *c);
size_t      gp_catalog_size(const gp_catalog *c);       /* rows read */
int         gp_catalog_has_extinction(const gp_catalog *c);
int         gp_catalog_has_objid(const gp_catalog *c);  /* it has an objID column */

/*
 * gp_catalog_unreadable() - how many rows could not be read (a CSV line
 * with the wrong number of fields, a cell that is not a number or not an
 * object ID); gp_catalog_match() never matches them (it names the nearest,
 * GP_ERR_DATA, when only such rows lie within the radius), so a caller that
 * matches says how many there are.  With first != NULL and a nonzero
 * count, *first is the first such row (0-based), for gp_catalog_row() to
 * say why.
 */
size_t gp_catalog_unreadable(const gp_catalog *c, size_t *first);

/* A catalogue match. */
typedef struct gp_catalog_entry {
    size_t row;                  /* 0-based data row index (messages say
                                    "row N" with N = row + 1) */
    double ra, dec;              /* the object's position */
    double sep;                  /* separation from the query, arcsec */
    float  mag[GP_NBANDS];       /* modelMag - extinction, ugriz */
    float  extinction[GP_NBANDS];/* 0 when the catalogue has none */
    int    type;                 /* PhotoObj type (3 galaxy, 6 star), -1 if unknown */
    uint64_t objid;              /* the objID column, 0 if the catalogue has none
                                    or the row's cell cannot be read (in a CSV
                                    line with the wrong number of fields, only
                                    a first-column objID is read) */
} gp_catalog_entry;

/*
 * gp_catalog_match() - the nearest usable object within `radius`.
 *
 * Given:
 *   ra, dec   double    Query position, ICRS degrees.
 *   radius    double    Match radius, arcsec (> 0).
 * Returned:
 *   out       gp_catalog_entry*
 * Function return value:
 *   GP_OK; GP_ERR_NOTFOUND (nothing within radius); GP_ERR_DATA (no
 *   usable object within radius, but a row that cannot be used is: the
 *   nearest such row, whose position could be read; out->row, ra, dec,
 *   sep, objid and type are set, the rest zeroed, and the message names
 *   the file, the row from 1, a CSV file's line, the column and why, e.g.
 *   "cat.csv: row 5 (line 6), the nearest object within 2.00" of RA ...
 *   Dec ... (0.36" away), cannot be used: column 'modelMag_u': 'null' is
 *   not a number"); GP_ERR_ARG.
 *   A caller that falls back to other magnitudes treats GP_ERR_DATA as
 *   no match, and can pass its message on.
 */
int gp_catalog_match(const gp_catalog *c, double ra, double dec, double radius,
                     gp_catalog_entry *out, gp_error *err);

/*
 * gp_catalog_row() - row `row` (0-based, in file order) of the catalogue,
 * as gp_catalog_match() would return it (sep = 0).
 *
 * Function return value:
 *   GP_OK; GP_ERR_ARG (row out of range); GP_ERR_DATA (the row has no
 *   usable position or magnitudes, or could not be read: it is never
 *   matched; out->row, objid and type are still set, ra and dec where the
 *   row's position is usable (else NaN), the rest zeroed; the
 *   message names the file, the row counted from 1 as a person counts data
 *   rows (row index 0 is "row 1"), for a CSV file its line counted from 1,
 *   the column and why, e.g. "cat.csv: row 2 (line 3): column 'modelMag_u'
 *   = -9999 is not a usable magnitude").
 */
int gp_catalog_row(const gp_catalog *c, size_t row, gp_catalog_entry *out, gp_error *err);

/*
 * gp_catalog_row_where() - where a catalogue row is, as every message about
 * it says: "row N" counted from 1 (row index 0 is "row 1") and, for a CSV
 * file, " (line L)", its line in the file counted from 1 as an editor counts
 * (the header, comment and blank lines are counted, so L is not N + 1 when
 * there are any).
 *
 * Given:
 *   c         const gp_catalog*  the catalogue
 *   row       size_t             0-based row index (< gp_catalog_size(c))
 *   n         size_t             the size of buf
 * Returned:
 *   buf       char*              the text, truncated to n - 1 characters;
 *                                "row ?" for a row out of range
 */
void gp_catalog_row_where(const gp_catalog *c, size_t row, char *buf, size_t n);

/* gp_sky_separation() - angular distance between two positions, arcsec. */
double gp_sky_separation(double ra1, double dec1, double ra2, double dec2);

/*
 * gp_angle_parse() - an angle as a user types it: decimal degrees
 * ("229.5257", "-1e-3") or sexagesimal with colons ("15:18:06.18",
 * "+42:44:40.98", "-0:30"), whose first part is hours when `hours` (an RA).
 * galpost infer --ra/--dec and galpostd's infer RA DEC read positions
 * with it, so both take what DS9 and catalogues print.
 *
 * Given:
 *   s         const char*   the text (the whole of it must be the angle)
 *   hours     int           non-zero: sexagesimal is hours (x 15 degrees)
 * Returned:
 *   deg       double*       degrees (unchanged on failure)
 * Function return value:
 *   0, or -1 for text that is not an angle (empty, "nan", "inf",
 *   hexadecimal, trailing characters, minutes or seconds of 60 or more,
 *   more than three parts).  The range is the caller's to check.
 */
int gp_angle_parse(const char *s, int hours, double *deg);

#ifdef __cplusplus
}
#endif
#endif /* GALPOST_GP_IMAGE_H */
