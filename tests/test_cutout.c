/*
 * test_cutout.c: cutouts through each frame's WCS against an analytic sky.
 *
 * Frames are real FITS files written with cfitsio; the expected values come
 * from an independent gnomonic projection (image_fixture.c), not wcslib.
 * The sky is an off-centre Gaussian plus a gradient, so any error of
 * orientation, parity, scale or centring shows up.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "galpost/gp_image.h"
#include "image_fixture.h"

#define N GP_CUTOUT_SIZE

static char *dir;
static uint64_t rng;

/* The cutout centre and the analytic sky (nanomaggies per arcsec^2). */
static double RA0 = 150.1, DEC0 = 2.2;

static double sky_sb(double ra, double dec)
{
    double pra = RA0 + 3.0 / 3600.0 / cos(DEC0 * M_PI / 180.0), pdec = DEC0 - 2.0 / 3600.0;
    double r = gp_sky_separation(ra, dec, pra, pdec);
    return exp(-r * r / (2.0 * 6.0 * 6.0)) + 0.002 * (dec - DEC0) * 3600.0 + 0.05;
}

static char *path_in(const char *name)
{
    static char p[4][4096];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

/* Write a frame whose pixels hold the analytic sky times the pixel area. */
static void write_sky_frame(const char *path, long nx, long ny, const fx_wcs *w, double scale,
                            const char *filter)
{
    float *d = malloc(sizeof(float) * nx * ny);
    assert_non_null(d);
    for (long y = 1; y <= ny; y++)
        for (long x = 1; x <= nx; x++) {
            double ra, dec;
            fx_pix_to_sky(w, (double)x, (double)y, &ra, &dec);
            d[(y - 1) * nx + (x - 1)] = (float)(sky_sb(ra, dec) * scale * scale);
        }
    assert_int_equal(fx_write_frame(path, nx, ny, d, w, filter), 0);
    free(d);
}

/* Sky position of cutout pixel (i, j), 0-based, by the independent TAN. */
static void cutout_pix_sky(double ra, double dec, int i, int j, double *pra, double *pdec)
{
    fx_wcs cw = { { ra, dec }, { 80.5, 80.5 }, { { 0 } } };
    fx_cd(&cw, GP_PIXEL_SCALE, 0.0, 1);
    fx_pix_to_sky(&cw, i + 1.0, j + 1.0, pra, pdec);
}

/* Max |cutout / pixel area - analytic| over the on-frame pixels. */
static double max_sky_error(const float *cut, double ra, double dec, const gp_frame *f, long *nzero)
{
    double worst = 0;
    long zeros = 0;
    const double a = GP_PIXEL_SCALE * GP_PIXEL_SCALE;
    for (int j = 0; j < N; j++)
        for (int i = 0; i < N; i++) {
            double pra, pdec;
            cutout_pix_sky(ra, dec, i, j, &pra, &pdec);
            if (f && !gp_frame_contains(f, pra, pdec)) {
                if (cut[j * N + i] == 0.0f) zeros++;
                continue;
            }
            double e = fabs(cut[j * N + i] / a - sky_sb(pra, pdec));
            if (!(e <= worst)) worst = isnan(e) ? INFINITY : e;  /* NaN never passes */
        }
    if (nzero) *nzero = zeros;
    return worst;
}

static int setup(void **state)
{
    (void)state;
    dir = fx_tmpdir();
    rng = fx_seed();
    /* a fresh centre each run, away from the poles */
    RA0 = 360.0 * fx_uniform(&rng);
    DEC0 = -60.0 + 120.0 * fx_uniform(&rng);
    return dir ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    fx_rmtree(dir);
    free(dir);
    return 0;
}

static void test_aligned_frame_is_copied(void **state)
{
    (void)state;
    /* The cutout's own orientation and scale, reference point a fraction of a pixel away. */
    fx_wcs w = { { RA0, DEC0 }, { 150.3 + fx_uniform(&rng) * 0.4, 140.6 }, { { 0 } } };
    fx_cd(&w, GP_PIXEL_SCALE, 0.0, 1);
    const char *p = path_in("aligned.fits");
    write_sky_frame(p, 300, 280, &w, GP_PIXEL_SCALE, "r");
    gp_frame *f = NULL;
    gp_error err;
    assert_int_equal(gp_frame_open_file(p, &f, &err), GP_OK);
    assert_true(gp_frame_has_wcs(f));
    assert_true(fabs(gp_frame_pixel_scale(f) - GP_PIXEL_SCALE) < 1e-6);
    float *cut = malloc(sizeof(float) * N * N);
    uint32_t fl = 0;
    assert_int_equal(gp_cutout_band(f, RA0, DEC0, cut, &fl, &err), GP_OK);
    assert_int_equal(fl & GP_FLAG_RESAMPLED, 0);
    assert_int_equal(fl & GP_FLAG_EDGE, 0);
    /* Pixels are the frame's own, shifted by a whole number of pixels. */
    double x, y;
    fx_sky_to_pix(&w, RA0, DEC0, &x, &y);
    long sx = lround(x - 80.5), sy = lround(y - 80.5);
    float *frame = malloc(sizeof(float) * 300 * 280);
    assert_int_equal(gp_frame_read_section(f, 1, 1, 300, 280, frame, &err), GP_OK);
    for (int j = 0; j < N; j++)
        for (int i = 0; i < N; i++)
            assert_true(cut[j * N + i] == frame[(j + sy) * 300 + (i + sx)]);
    free(frame);
    free(cut);
    gp_frame_close(f);
}

static void check_resampled(double scale, double rot, int east_left, const char *name)
{
    fx_wcs w = { { RA0 + 0.002, DEC0 - 0.001 }, { 200.0, 190.0 }, { { 0 } } };
    fx_cd(&w, scale, rot, east_left);
    const char *p = path_in(name);
    long n = (long)(2 * 190 * GP_PIXEL_SCALE / scale) + 100;
    w.crpix[0] = w.crpix[1] = 0.5 * n;
    write_sky_frame(p, n, n, &w, scale, NULL);
    gp_frame *f = NULL;
    gp_error err;
    assert_int_equal(gp_frame_open_file(p, &f, &err), GP_OK);
    float *cut = malloc(sizeof(float) * N * N);
    uint32_t fl = 0;
    int st = gp_cutout_band(f, RA0, DEC0, cut, &fl, &err);
    if (st) fail_msg("%s", err.msg);
    assert_true(fl & GP_FLAG_RESAMPLED);
    assert_int_equal(fl & (GP_FLAG_EDGE | GP_FLAG_MASKED), 0);
    /* bilinear on a 6" Gaussian sampled at <= 0.5": error well under 1% of the peak */
    double e = max_sky_error(cut, RA0, DEC0, NULL, NULL);
    if (!(e < 4e-3)) fail_msg("%s: max error %g (scale %g rot %g east_left %d)", name, e, scale, rot, east_left);
    free(cut);
    gp_frame_close(f);
}

static void test_rotated_finer_frame(void **state)
{
    (void)state;
    check_resampled(0.30, 35.0 + 10 * fx_uniform(&rng), 1, "rot.fits");
}

static void test_flipped_coarser_frame(void **state)
{
    (void)state;
    check_resampled(0.50, -80.0 - 10 * fx_uniform(&rng), 0, "flip.fits");
}

static void test_sdss_like_frame(void **state)
{
    (void)state;
    /* SDSS frames: 0.396"/px, axes near 90 degrees from north */
    check_resampled(0.3961, 90.0 + 0.3 * fx_uniform(&rng), 1, "sdss.fits");
}

/* Cutout pixels off the frame take their mirror image about the centre
 * when that one is on the frame (gp_image.h, "Masked pixels"), else 0.
 * The frame's grid is the cutout's and the centre a pixel corner, (20.5,
 * 100.5) then (20.5, 20.5), so cutout pixel (i, j) lies on frame pixel
 * (i - 59, j + 21) then (i - 59, j - 59), and its mirror image is exactly
 * cutout pixel (159 - i, 159 - j). */
static void test_edge_is_mirrored_and_flagged(void **state)
{
    (void)state;
    for (int corner = 0; corner < 2; corner++) {
        fx_wcs w = { { RA0, DEC0 }, { 20.5, corner ? 20.5 : 100.5 }, { { 0 } } };
        fx_cd(&w, GP_PIXEL_SCALE, 0.0, 1);
        const char *p = path_in(corner ? "corner.fits" : "edge.fits");
        write_sky_frame(p, 200, 200, &w, GP_PIXEL_SCALE, "g");
        gp_frame *f = NULL;
        gp_error err;
        assert_int_equal(gp_frame_open_file(p, &f, &err), GP_OK);
        float *cut = malloc(sizeof(float) * N * N);
        uint32_t fl = 0;
        assert_int_equal(gp_cutout_band(f, RA0, DEC0, cut, &fl, &err), GP_OK);
        assert_int_equal(fl, GP_FLAG_EDGE);   /* not MASKED: off the frame is not masked */
        long zeros = 0;
        double e = max_sky_error(cut, RA0, DEC0, f, &zeros);
        assert_true(e < 4e-3);
        long off = 0, mirrored = 0, padded = 0, replaced = 0;
        const long sy = corner ? -59 : 21;
        for (int j = 0; j < N; j++)
            for (int i = 0; i < N; i++) {
                long x = i - 59, y = j + sy, mx = 41 - x, my = (corner ? 41 : 201) - y;
                if (x >= 1 && x <= 200 && y >= 1 && y <= 200) continue;
                off++;
                float v = cut[j * N + i];
                if (mx >= 1 && mx <= 200 && my >= 1 && my <= 200) {
                    /* the frame's value at the mirror position, copied,
                     * unless more than 3 sigmas from the median of its
                     * isophote (the Gaussian is 3.6" off the centre:
                     * its bright side's mirror images), then that median */
                    if (v != cut[(N - 1 - j) * N + (N - 1 - i)]) replaced++;
                    assert_true(v != 0.0f && isfinite(v));
                    mirrored++;
                } else {
                    assert_true(v == 0.0f);
                    padded++;
                }
            }
        /* 60 columns left of the frame; at the corner 60 rows below it too,
         * of which two 60x60 squares have their mirror image off the frame */
        printf("# %s: %ld cutout pixels off the frame, %ld mirrored (%ld of them replaced by their isophote's "
               "median), %ld padded with 0\n", corner ? "corner" : "edge", off, mirrored, replaced, padded);
        assert_true(replaced < mirrored / 10);
        assert_int_equal(off, corner ? (long)N * N - 100L * 100 : 60L * N);
        assert_int_equal(padded, corner ? 2L * 60 * 60 : 0);
        assert_int_equal(zeros, padded);
        free(cut);
        gp_frame_close(f);
    }
}

static void test_off_image_and_no_wcs_fail(void **state)
{
    (void)state;
    fx_wcs w = { { RA0, DEC0 }, { 50.0, 50.0 }, { { 0 } } };
    fx_cd(&w, GP_PIXEL_SCALE, 0.0, 1);
    const char *p = path_in("small.fits");
    write_sky_frame(p, 100, 100, &w, GP_PIXEL_SCALE, "i");
    gp_frame *f = NULL;
    gp_error err;
    float *cut = malloc(sizeof(float) * N * N);
    assert_int_equal(gp_frame_open_file(p, &f, &err), GP_OK);
    /* 1 arcmin away: off the 40" frame */
    assert_int_equal(gp_cutout_band(f, RA0, DEC0 + 1.0 / 60.0, cut, NULL, &err), GP_ERR_DATA);
    assert_non_null(strstr(err.msg, "off the image"));
    assert_non_null(strstr(err.msg, "small.fits"));
    gp_frame_close(f);

    float d[64 * 64];
    for (int k = 0; k < 64 * 64; k++) d[k] = 1.0f;
    const char *q = path_in("nowcs.fits");
    assert_int_equal(fx_write_frame(q, 64, 64, d, NULL, "g"), 0);
    assert_int_equal(gp_frame_open_file(q, &f, &err), GP_OK);
    assert_false(gp_frame_has_wcs(f));
    assert_int_equal(gp_frame_band(f), GP_BAND_G);
    assert_int_equal(gp_cutout_band(f, RA0, DEC0, cut, NULL, &err), GP_ERR_WCS);
    assert_non_null(strstr(err.msg, "nowcs.fits"));
    assert_non_null(strstr(err.msg, "no celestial WCS"));
    gp_frame_close(f);

    assert_int_equal(gp_frame_open_file(path_in("missing.fits"), &f, &err), GP_ERR_FITS);
    assert_non_null(strstr(err.msg, "missing.fits"));
    free(cut);
}

/* A frame whose WCS is in galactic coordinates (GLON-TAN/GLAT-TAN): pixel
 * positions of ICRS points and the cutout's pixels against the independent
 * projection and rotation (image_fixture.c); read as if it were ICRS, every
 * position lands tens of degrees away. */
static void test_galactic_frame(void **state)
{
    (void)state;
    const double scale = 0.45;
    fx_wcs w = { { 0, 0 }, { 240.0, 230.0 }, { { 0 } } };
    fx_icrs_to_gal(RA0 + 0.002, DEC0 - 0.001, &w.crval[0], &w.crval[1]);
    fx_cd(&w, scale, 20.0 + 20 * fx_uniform(&rng), 1);
    const long n = 480;
    float *d = malloc(sizeof(float) * n * n);
    assert_non_null(d);
    for (long y = 1; y <= n; y++)
        for (long x = 1; x <= n; x++) {
            double l, b, ra, dec;
            fx_pix_to_sky(&w, (double)x, (double)y, &l, &b);
            fx_gal_to_icrs(l, b, &ra, &dec);
            d[(y - 1) * n + (x - 1)] = (float)(sky_sb(ra, dec) * scale * scale);
        }
    const char *p = path_in("galactic.fits");
    assert_int_equal(fx_write_frame(p, n, n, d, &w, "r"), 0);
    free(d);
    assert_int_equal(fx_edit_card(p, "CTYPE1", "CTYPE1  = 'GLON-TAN'"), 0);
    assert_int_equal(fx_edit_card(p, "CTYPE2", "CTYPE2  = 'GLAT-TAN'"), 0);
    assert_int_equal(fx_edit_card(p, "RADESYS", NULL), 0);
    gp_frame *f = NULL;
    gp_error err;
    assert_int_equal(gp_frame_open_file(p, &f, &err), GP_OK);
    assert_true(gp_frame_has_wcs(f));
    assert_string_equal(gp_frame_wcs_note(f), "");
    for (int k = 0; k < 5; k++) {
        double ra = RA0 + (fx_uniform(&rng) - 0.5) * 0.02, dec = DEC0 + (fx_uniform(&rng) - 0.5) * 0.02;
        double l, b, xo, yo, x, y, ra2, dec2;
        fx_icrs_to_gal(ra, dec, &l, &b);
        fx_sky_to_pix(&w, l, b, &xo, &yo);
        assert_int_equal(gp_frame_sky_to_pixel(f, ra, dec, &x, &y, &err), GP_OK);
        /* 0.002 px = 1 mas: the galactic pole and node (wcsccs) against
         * the rotation matrix, both the Hipparcos definition */
        if (!(fabs(x - xo) < 0.002 && fabs(y - yo) < 0.002))
            fail_msg("RA %.6f Dec %.6f: pixel (%.4f, %.4f), expected (%.4f, %.4f)", ra, dec, x, y, xo, yo);
        assert_int_equal(gp_frame_pixel_to_sky(f, x, y, &ra2, &dec2, &err), GP_OK);
        assert_true(gp_sky_separation(ra, dec, ra2, dec2) < 1e-4);
    }
    float *cut = malloc(sizeof(float) * N * N);
    uint32_t fl = 0;
    if (gp_cutout_band(f, RA0, DEC0, cut, &fl, &err)) fail_msg("%s", err.msg);
    assert_true(fl & GP_FLAG_RESAMPLED);
    assert_int_equal(fl & (GP_FLAG_EDGE | GP_FLAG_MASKED), 0);
    double e = max_sky_error(cut, RA0, DEC0, NULL, NULL);
    if (!(e < 4e-3)) fail_msg("galactic frame: max error %g", e);
    free(cut);
    gp_frame_close(f);
}

/* Celestial systems other than ICRS/FK5 J2000 and galactic are not read as
 * ICRS: the frame has no usable WCS, and the cutout says why. */
static void test_other_sky_systems_refused(void **state)
{
    (void)state;
    static const struct { const char *name, *k1, *c1, *k2, *c2, *k3, *c3, *why; int usable; } cases[] = {
        { "fk4.fits", "RADESYS", "RADESYS = 'FK4     '", "EQUINOX", "EQUINOX =               1950.0", NULL, NULL, "FK4 B1950", 0 },
        { "b1950.fits", "RADESYS", NULL, "EQUINOX", "EQUINOX =               1950.0", NULL, NULL, "FK4 B1950", 0 },
        { "fk5j1975.fits", "RADESYS", "RADESYS = 'FK5     '", "EQUINOX", "EQUINOX =               1975.0", NULL, NULL,
          "FK5 coordinates of equinox J1975", 0 },
        { "ecl.fits", "CTYPE1", "CTYPE1  = 'ELON-TAN'", "CTYPE2", "CTYPE2  = 'ELAT-TAN'", "RADESYS", NULL, "ELON/ELAT", 0 },
        { "fk5j2000.fits", "RADESYS", "RADESYS = 'FK5     '", "EQUINOX", "EQUINOX =               2000.0", NULL, NULL, "", 1 },
        { "eq2000.fits", "RADESYS", NULL, "EQUINOX", "EQUINOX =               2000.0", NULL, NULL, "", 1 },
    };
    fx_wcs w = { { RA0, DEC0 }, { 100.5, 100.5 }, { { 0 } } };
    fx_cd(&w, GP_PIXEL_SCALE, 10.0, 1);
    float *cut = malloc(sizeof(float) * N * N);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const char *p = path_in(cases[c].name);
        write_sky_frame(p, 200, 200, &w, GP_PIXEL_SCALE, "g");
        assert_int_equal(fx_edit_card(p, cases[c].k1, cases[c].c1), 0);
        assert_int_equal(fx_edit_card(p, cases[c].k2, cases[c].c2), 0);
        if (cases[c].k3) assert_int_equal(fx_edit_card(p, cases[c].k3, cases[c].c3), 0);
        gp_frame *f = NULL;
        gp_error err;
        assert_int_equal(gp_frame_open_file(p, &f, &err), GP_OK);
        int st = gp_cutout_band(f, RA0, DEC0, cut, NULL, &err);
        if (cases[c].usable) {
            if (st) fail_msg("%s: %s", cases[c].name, err.msg);
            assert_true(gp_frame_has_wcs(f));
            assert_string_equal(gp_frame_wcs_note(f), "");
        } else {
            if (gp_frame_has_wcs(f)) fail_msg("%s: its WCS is read as ICRS", cases[c].name);
            assert_non_null(strstr(gp_frame_wcs_note(f), cases[c].why));
            assert_int_equal(st, GP_ERR_WCS);
            assert_non_null(strstr(err.msg, cases[c].name));
            assert_non_null(strstr(err.msg, cases[c].why));
            double x, y;
            assert_int_equal(gp_frame_sky_to_pixel(f, RA0, DEC0, &x, &y, &err), GP_ERR_WCS);
            assert_non_null(strstr(err.msg, cases[c].why));
        }
        gp_frame_close(f);
    }
    free(cut);
}

/* Pixels in another unit than nanomaggies (BUNIT) are refused by cutouts
 * and photometry, naming the unit; no BUNIT or a nanomaggy spelling is fine. */
static void test_pixel_unit(void **state)
{
    (void)state;
    static const struct { const char *card; int ok; } cases[] = {
        { NULL, 1 }, { "BUNIT   = 'nanomaggy'", 1 }, { "BUNIT   = 'nanomaggies'", 1 }, { "BUNIT   = 'nMgy    '", 1 },
        { "BUNIT   = 'counts  '", 0 }, { "BUNIT   = 'DN      '", 0 }, { "BUNIT   = 'ADU     '", 0 },
        { "BUNIT   = 'electrons/s'", 0 }, { "BUNIT   = 'MJy/sr  '", 0 },
        /* the documented '/pixel' spellings, and surface brightness, which a
         * prefix match took for nanomaggies per pixel (2 mag off at 0.396") */
        { "BUNIT   = 'nanomaggy/pixel'", 1 }, { "BUNIT   = 'nmgy/pix'", 1 }, { "BUNIT   = 'nanomaggies / pixel'", 1 },
        { "BUNIT   = 'nanomaggy/arcsec2'", 0 }, { "BUNIT   = 'nmgy/arcsec^2'", 0 }, { "BUNIT   = 'nanomaggiesx'", 0 },
    };
    fx_wcs w = { { RA0, DEC0 }, { 100.5, 100.5 }, { { 0 } } };
    fx_cd(&w, GP_PIXEL_SCALE, 0.0, 1);
    float *cut = malloc(sizeof(float) * N * N);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const char *p = path_in("unit.fits");
        write_sky_frame(p, 200, 200, &w, GP_PIXEL_SCALE, "r");
        if (cases[c].card) assert_int_equal(fx_edit_card(p, "BUNIT", cases[c].card), 0);
        gp_frame *f = NULL;
        gp_error err;
        assert_int_equal(gp_frame_open_file(p, &f, &err), GP_OK);
        gp_phot ph;
        int st = gp_cutout_band(f, RA0, DEC0, cut, NULL, &err);
        int sp = gp_phot_aperture(f, RA0, DEC0, NULL, &ph, &err);
        if (cases[c].ok) {
            if (st || sp) fail_msg("%s: %s", cases[c].card ? cases[c].card : "no BUNIT", err.msg);
            assert_int_equal(gp_frame_check_unit(f, &err), GP_OK);
        } else {
            if (st != GP_ERR_DATA || sp != GP_ERR_DATA)
                fail_msg("%s: cutout %d, photometry %d (expected refusals)", cases[c].card, st, sp);
            char unit[32];
            sscanf(cases[c].card + 11, "%31[^' ]", unit);
            char want[64];
            snprintf(want, sizeof want, "'%s' (BUNIT)", unit);
            if (!strstr(err.msg, want) || !strstr(err.msg, "unit.fits") || !strstr(err.msg, "nanomaggies"))
                fail_msg("%s: message '%s'", cases[c].card, err.msg);
        }
        gp_frame_close(f);
    }
    free(cut);
}

static void test_nan_pixels_masked_or_refused(void **state)
{
    (void)state;
    fx_wcs w = { { RA0, DEC0 }, { 100.5, 100.5 }, { { 0 } } };
    fx_cd(&w, GP_PIXEL_SCALE, 0.0, 1);
    long n = 200;
    float *d = malloc(sizeof(float) * n * n);
    for (long k = 0; k < n * n; k++) d[k] = 0.25f;
    for (long y = 90; y < 100; y++)
        for (long x = 90; x < 100; x++) d[y * n + x] = NAN;
    const char *p = path_in("holes.fits");
    assert_int_equal(fx_write_frame(p, n, n, d, &w, "r"), 0);
    gp_frame *f = NULL;
    gp_error err;
    float *cut = malloc(sizeof(float) * N * N);
    uint32_t fl = 0;
    assert_int_equal(gp_frame_open_file(p, &f, &err), GP_OK);
    assert_int_equal(gp_cutout_band(f, RA0, DEC0, cut, &fl, &err), GP_OK);
    assert_true(fl & GP_FLAG_MASKED);
    long zeros = 0, finite = 0;
    for (int k = 0; k < N * N; k++) {
        if (isfinite(cut[k])) finite++;
        if (cut[k] == 0.0f) zeros++;
    }
    assert_int_equal(finite, (long)N * N);
    /* the 10x10 hole (frame pixels 91..100) takes its mirror image about the
     * centre, pixel 100.5 (101..110, unmasked): 0.25 like the rest */
    assert_int_equal(zeros, 0);
    for (int k = 0; k < N * N; k++) assert_true(cut[k] == 0.25f);
    gp_frame_close(f);

    /* a hole centred on the centre is its own mirror image: filled with 0 */
    for (long k = 0; k < n * n; k++) d[k] = 0.25f;
    for (long y = 95; y < 105; y++)
        for (long x = 95; x < 105; x++) d[y * n + x] = NAN;
    const char *s = path_in("holes2.fits");
    assert_int_equal(fx_write_frame(s, n, n, d, &w, "r"), 0);
    fl = 0;
    assert_int_equal(gp_frame_open_file(s, &f, &err), GP_OK);
    assert_int_equal(gp_cutout_band(f, RA0, DEC0, cut, &fl, &err), GP_OK);
    assert_true(fl & GP_FLAG_MASKED);
    zeros = 0;
    for (int k = 0; k < N * N; k++) zeros += cut[k] == 0.0f;
    assert_int_equal(zeros, 100);
    gp_frame_close(f);

    for (long k = 0; k < n * n; k++) d[k] = NAN;
    const char *q = path_in("allnan.fits");
    assert_int_equal(fx_write_frame(q, n, n, d, &w, "r"), 0);
    assert_int_equal(gp_frame_open_file(q, &f, &err), GP_OK);
    assert_int_equal(gp_cutout_band(f, RA0, DEC0, cut, NULL, &err), GP_ERR_DATA);
    assert_non_null(strstr(err.msg, "not finite"));
    gp_frame_close(f);
    free(cut);
    free(d);
}

/* A galaxy (elliptical Gaussian, 100 nanomaggies, sds 1.5" x 1.0", noise
 * 0.01) on an aligned frame with a 7x7 NaN patch beside its core, on the
 * major axis: the cutout's patch takes the mirror image about the galaxy's
 * centre, so the cutout holds the unmasked cutout's flux (filled with 0,
 * as before, it lost over 25%).  Tolerance as in test_photometry's
 * test_masked_core_recovered: bilinear interpolation at the mirror
 * positions, (1/8)(|d2M/dx2| + |d2M/dy2|) summed over the patch for the
 * noiseless image M, plus 4 sigma of the noise of 2 x 49 pixels. */
static void test_masked_core_filled_from_mirror(void **state)
{
    (void)state;
    const long n = 200;
    fx_wcs w = { { RA0, DEC0 }, { 100.0 + fx_uniform(&rng), 100.0 + fx_uniform(&rng) }, { { 0 } } };
    fx_cd(&w, GP_PIXEL_SCALE, 0.0, 1);
    double xc = w.crpix[0], yc = w.crpix[1], rms = 0.01;
    double *m = calloc((size_t)(n * n), sizeof(double));
    float *d = malloc(sizeof(float) * n * n);
    float *c0 = malloc(sizeof(float) * N * N), *c1 = malloc(sizeof(float) * N * N);
    assert_true(m && d && c0 && c1);
    fx_gaussian(m, n, n, 100.0, xc, yc, 1.5 / GP_PIXEL_SCALE, 1.0 / GP_PIXEL_SCALE);
    for (long k = 0; k < n * n; k++) d[k] = (float)(m[k] + rms * fx_gauss(&rng));
    gp_frame *f = NULL;
    gp_error err;
    uint32_t fl = 0;
    const char *p = path_in("gal.fits");
    assert_int_equal(fx_write_frame(p, n, n, d, &w, "r"), 0);
    assert_int_equal(gp_frame_open_file(p, &f, &err), GP_OK);
    assert_int_equal(gp_cutout_band(f, RA0, DEC0, c0, &fl, &err), GP_OK);
    gp_frame_close(f);
    assert_int_equal(fl, 0);
    long xa = (long)floor(xc + 0.25) + 1, yb = lround(yc);
    double fpatch = 0, bound = 0;
    for (long y = yb - 3; y <= yb + 3; y++)
        for (long x = xa; x <= xa + 6; x++) {
            d[(y - 1) * n + x - 1] = NAN;
            fpatch += m[(y - 1) * n + x - 1];
            const double *q = &m[(lround(2 * yc - y) - 1) * n + lround(2 * xc - x) - 1];
            bound += (fabs(q[1] - 2 * q[0] + q[-1]) + fabs(q[n] - 2 * q[0] + q[-n])) / 8.0;
        }
    assert_true(fpatch > 25.0);
    p = path_in("gal-masked.fits");
    assert_int_equal(fx_write_frame(p, n, n, d, &w, "r"), 0);
    fl = 0;
    assert_int_equal(gp_frame_open_file(p, &f, &err), GP_OK);
    assert_int_equal(gp_cutout_band(f, RA0, DEC0, c1, &fl, &err), GP_OK);
    gp_frame_close(f);
    assert_int_equal(fl, GP_FLAG_MASKED);
    double s0 = 0, s1 = 0;
    long changed = 0, zeros = 0;
    for (int k = 0; k < N * N; k++) {
        s0 += c0[k];
        s1 += c1[k];
        changed += c0[k] != c1[k];
        zeros += c1[k] == 0.0f;
    }
    assert_int_equal(changed, 49);   /* the patch, and nothing else */
    assert_int_equal(zeros, 0);
    double tol = bound + 4.0 * sqrt(2.0 * 49.0) * rms;
    printf("# cutout: patch %.2f nmgy, cutout sum %.3f vs unmasked %.3f, tolerance %.3f\n", fpatch, s1, s0, tol);
    if (!(fabs(s1 - s0) < tol)) fail_msg("cutout sum %.4f, unmasked %.4f, tolerance %.4f", s1, s0, tol);
    free(m); free(d); free(c0); free(c1);
}

static void test_memory_frame_matches_file(void **state)
{
    (void)state;
    fx_wcs w = { { RA0, DEC0 }, { 120.0, 130.0 }, { { 0 } } };
    fx_cd(&w, 0.4, 20.0, 1);
    const char *p = path_in("frame-z-000001-1-0001.fits");
    write_sky_frame(p, 260, 260, &w, 0.4, NULL);
    size_t len = 0;
    void *buf = fx_slurp(p, &len);
    assert_non_null(buf);
    gp_frame *a = NULL, *b = NULL;
    gp_error err;
    assert_int_equal(gp_frame_open_file(p, &a, &err), GP_OK);
    assert_int_equal(gp_frame_open_memory(buf, len, "frame-z-000001-1-0001.fits", &b, &err), GP_OK);
    free(buf);  /* the frame keeps its own copy */
    assert_int_equal(gp_frame_band(b), GP_BAND_Z);
    float *ca = malloc(sizeof(float) * N * N), *cb = malloc(sizeof(float) * N * N);
    assert_int_equal(gp_cutout_band(a, RA0, DEC0, ca, NULL, &err), GP_OK);
    assert_int_equal(gp_cutout_band(b, RA0, DEC0, cb, NULL, &err), GP_OK);
    assert_memory_equal(ca, cb, sizeof(float) * N * N);
    free(ca); free(cb);
    gp_frame_close(a);
    gp_frame_close(b);
    char junk[4000];
    memset(junk, 'x', sizeof junk);
    assert_int_not_equal(gp_frame_open_memory(junk, sizeof junk, "junk", &b, &err), GP_OK);
    assert_null(b);
    assert_int_equal(gp_frame_open_memory(junk, 100, "short", &b, &err), GP_ERR_FORMAT);
}

static void test_band_names(void **state)
{
    (void)state;
    assert_int_equal(gp_band_from_filter("g"), GP_BAND_G);
    assert_int_equal(gp_band_from_filter(" r "), GP_BAND_R);
    assert_int_equal(gp_band_from_filter("i'"), GP_BAND_I);
    assert_int_equal(gp_band_from_filter("SDSS-z"), GP_BAND_Z);
    assert_int_equal(gp_band_from_filter("sdss_u"), GP_BAND_U);
    assert_int_equal(gp_band_from_filter("Halpha"), GP_BAND_UNKNOWN);
    assert_int_equal(gp_band_from_filter(""), GP_BAND_UNKNOWN);
    assert_int_equal(gp_band_from_filename("/d/frame-g-004510-4-0030.fits.bz2"), GP_BAND_G);
    assert_int_equal(gp_band_from_filename("stamp-u-164.4311-39.0359.fits"), GP_BAND_U);
    assert_int_equal(gp_band_from_filename("fpC-001000-i1-0100.fit"), GP_BAND_I);
    assert_int_equal(gp_band_from_filename("mock_r.fits"), GP_BAND_R);
    assert_int_equal(gp_band_from_filename("frame-irg-004510-4-0030.jpg"), GP_BAND_UNKNOWN);
    assert_int_equal(gp_band_from_filename("image.fits"), GP_BAND_UNKNOWN);
    assert_string_equal(gp_band_name(GP_BAND_Z), "z");
    assert_string_equal(gp_band_name(7), "?");
}

/* Each band is cut through its own WCS: a point source at (RA0, DEC0) sits
 * at the cutout centre in all three bands although the frames are offset
 * by several pixels and rotated differently. */
static void test_gri_each_band_centred(void **state)
{
    (void)state;
    const char *names[3] = { "frame-g-1.fits", "frame-r-1.fits", "frame-i-1.fits" };
    gp_frame *fr[3];
    gp_error err;
    for (int b = 0; b < 3; b++) {
        fx_wcs w = { { RA0, DEC0 }, { 150.0 + 3.7 * b, 150.0 - 5.2 * b }, { { 0 } } };
        fx_cd(&w, GP_PIXEL_SCALE, 90.0 + 0.05 * b, 1);
        long n = 300;
        float *d = malloc(sizeof(float) * n * n);
        for (long y = 1; y <= n; y++)
            for (long x = 1; x <= n; x++) {
                double ra, dec;
                fx_pix_to_sky(&w, (double)x, (double)y, &ra, &dec);
                double r = gp_sky_separation(ra, dec, RA0, DEC0);
                d[(y - 1) * n + x - 1] = (float)exp(-r * r / (2 * 1.2 * 1.2));
            }
        assert_int_equal(fx_write_frame(path_in(names[b]), n, n, d, &w, NULL), 0);
        free(d);
        assert_int_equal(gp_frame_open_file(path_in(names[b]), &fr[b], &err), GP_OK);
        assert_int_equal(gp_frame_band(fr[b]), GP_BAND_G + b);
    }
    float *cut = malloc(sizeof(float) * GP_CUTOUT_PIXELS);
    uint32_t fl = 0;
    assert_int_equal(gp_cutout_gri(fr, RA0, DEC0, cut, &fl, &err), GP_OK);
    for (int b = 0; b < 3; b++) {
        double s = 0, sx = 0, sy = 0;
        for (int j = 0; j < N; j++)
            for (int i = 0; i < N; i++) {
                double v = cut[b * N * N + j * N + i];
                s += v; sx += v * i; sy += v * j;
            }
        /* centre of the grid, 0-based: 79.5 */
        assert_true(fabs(sx / s - 79.5) < 0.05);
        assert_true(fabs(sy / s - 79.5) < 0.05);
    }
    gp_frame *missing[3] = { fr[0], NULL, fr[2] };
    assert_int_equal(gp_cutout_gri(missing, RA0, DEC0, cut, &fl, &err), GP_ERR_ARG);
    assert_non_null(strstr(err.msg, "no r frame"));
    free(cut);
    for (int b = 0; b < 3; b++) gp_frame_close(fr[b]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_band_names),
        cmocka_unit_test(test_aligned_frame_is_copied),
        cmocka_unit_test(test_rotated_finer_frame),
        cmocka_unit_test(test_flipped_coarser_frame),
        cmocka_unit_test(test_sdss_like_frame),
        cmocka_unit_test(test_edge_is_mirrored_and_flagged),
        cmocka_unit_test(test_off_image_and_no_wcs_fail),
        cmocka_unit_test(test_nan_pixels_masked_or_refused),
        cmocka_unit_test(test_masked_core_filled_from_mirror),
        cmocka_unit_test(test_galactic_frame),
        cmocka_unit_test(test_other_sky_systems_refused),
        cmocka_unit_test(test_pixel_unit),
        cmocka_unit_test(test_memory_frame_matches_file),
        cmocka_unit_test(test_gri_each_band_centred),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
