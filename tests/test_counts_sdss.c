/*
 * test_counts_sdss.c: frames in counts with an AB zero point (gp_image.h,
 * "Frames in counts"), made from real SDSS frames
 * (../shared/data/sdss-frames, read in place; exit 77 when absent).
 *
 * The g, r and i frames of three main-sample galaxies are written again
 * (cfitsio) in counts, as an observer's reduced frames are: pixels
 * x / 10^(-0.4 (ZP - 22.5)) plus a sky pedestal of some hundred counts
 * (not sky-subtracted), each band with another keyword and spelling of the
 * unit: g BUNIT = 'counts' and MAGZP = 25.31 with 420 counts of sky, r no
 * BUNIT and MAGZERO = 26.05 with 610, i BUNIT = 'ADU' and PHOTZP = 24.87
 * (PHOTSYS = 'AB') with 275.  The 6" aperture photometry of each galaxy
 * on them must agree with the nanomaggy originals' within 0.001 mag (the
 * annulus takes the pedestal away; what is left is float32 rounding of
 * the counts, measured (2026) below 2e-5 mag), and its sky must be the
 * pedestal in nanomaggies.  Their cutouts must be the originals' minus a
 * constant (float32 rounding: within 1e-3 of the pixel rms), and that
 * constant is the sky estimate's error: the cutout's local sky (the
 * clipped median of the pixels 40"-60" out) less the pedestal, i.e. the
 * sky that SDSS's own sky subtraction left in the original there, which
 * the test measures on the original with the photometry's estimator over
 * that annulus and must match within 1e-3 rms; it must also be below 0.25
 * of the pixel rms (1.4826 MAD of the photometry's annulus): measured
 * (2026) 0.003-0.18 rms, 5e-5 to 5.4e-3 nmgy per pixel (a statistical
 * error alone would be 1.25 x rms / sqrt(~25000) = 0.008 rms).  The old
 * code refused the 'counts' and 'ADU' frames and took the r frame's counts
 * for nanomaggies (3.55 mag too bright, 610 nmgy of sky per cutout pixel).
 *
 * A frame in nanomaggies (BUNIT = 'nanomaggy') that also carries MAGZP
 * is not rescaled: its photometry and cutouts are the original's to the
 * bit, and the SDSS originals themselves report no zero point.  Counts
 * without a zero point, or with one that cannot be used (out of range,
 * PHOTSYS = 'VEGA', not a number), are refused, naming the frame and the
 * keywords that would do.
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

#include <fitsio.h>

#include "galpost/gp_image.h"
#include "image_fixture.h"
#include "sdss_frames.h"

static char *dir;
#define gal sf_gal
#define NGAL SF_NGAL

static const struct {
    const char *bunit;   /* NULL: BUNIT removed */
    const char *key;
    double zp, pedestal; /* counts */
} cal[3] = {
    { "counts", "MAGZP", 25.31, 420.0 },
    { NULL, "MAGZERO", 26.05, 610.0 },
    { "ADU", "PHOTZP", 24.87, 275.0 },
};

/* Writes src again at dst with its pixels x / 10^(-0.4 (zp - 22.5)) +
 * pedestal (zp NAN: pixels unchanged), BUNIT set to bunit (NULL: removed;
 * "" left as is) and the keyword key = zp (key NULL: none); photsys
 * (when not NULL) as PHOTSYS. */
static void write_copy(const char *src, const char *dst, const char *bunit, const char *key, double zp,
                       double pedestal, const char *photsys)
{
    char c_unit[80], c_key[80], c_sys[80];
    const char *cards[4];
    int nc = 0;
    if (!bunit) cards[nc++] = "-BUNIT";
    else if (bunit[0]) {
        snprintf(c_unit, sizeof c_unit, "BUNIT = '%s' / pixel unit", bunit);
        cards[nc++] = c_unit;
    }
    if (key) {
        snprintf(c_key, sizeof c_key, "%s = %.6f / AB zero point", key, isfinite(zp) ? zp : 25.0);
        cards[nc++] = c_key;
    }
    if (photsys) {
        snprintf(c_sys, sizeof c_sys, "PHOTSYS = '%s' / photometric system", photsys);
        cards[nc++] = c_sys;
    }
    cards[nc] = NULL;
    if (isfinite(zp)) sf_write_scaled(src, dst, 1.0 / pow(10.0, -0.4 * (zp - 22.5)), pedestal, NULL, cards);
    else sf_write_scaled(src, dst, 1.0, 0.0, NULL, cards);
}

/* The photometry and cutout of galaxy g on the frame at path. */
static void measure(const char *path, int g, gp_phot *p, float *cut)
{
    gp_frame *f = NULL;
    gp_error err;
    if (gp_frame_open_file(path, &f, &err)) fail_msg("%s", err.msg);
    if (gp_phot_aperture(f, gal[g].ra, gal[g].dec, NULL, p, &err)) fail_msg("galaxy %d: %s", g, err.msg);
    uint32_t fl = 0;
    if (gp_cutout_band(f, gal[g].ra, gal[g].dec, cut, &fl, &err)) fail_msg("galaxy %d: %s", g, err.msg);
    if (fl & (GP_FLAG_EDGE | GP_FLAG_MASKED)) printf("# galaxy %d: cutout flags %#x\n", g, (unsigned)fl);
    gp_frame_close(f);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void test_counts_agree(void **state)
{
    (void)state;
    const size_t np = GP_CUTOUT_SIZE * GP_CUTOUT_SIZE;
    float *c0 = malloc(sizeof(float) * np), *c1 = malloc(sizeof(float) * np);
    double *d = malloc(sizeof(double) * np);
    assert_true(c0 && c1 && d);
    int nfail = 0;
    double worst_m = 0, worst_sky = 0;
    for (int g = 0; g < NGAL; g++)
        for (int b = 0; b < 3; b++) {
            char src[4096], dst[4096];
            sf_frame_path(src, sizeof src, g, "gri"[b]);
            snprintf(dst, sizeof dst, "%s/counts-%c.fits", dir, "gri"[b]);
            write_copy(src, dst, cal[b].bunit, cal[b].key, cal[b].zp, cal[b].pedestal, b == 2 ? "AB" : NULL);
            /* the frame says what it does */
            gp_frame *f = NULL;
            gp_error err;
            const char *key = NULL;
            if (gp_frame_open_file(dst, &f, &err)) fail_msg("%s", err.msg);
            assert_true(fabs(gp_frame_zeropoint(f, &key) - cal[b].zp) < 1e-9);
            assert_string_equal(key, cal[b].key);
            char want[200];
            snprintf(want, sizeof want, "x 10^(-0.4 (%s - 22.5)), %s = %.4g", cal[b].key, cal[b].key, cal[b].zp);
            if (!strstr(gp_frame_calibration(f), want)) fail_msg("calibration '%s'", gp_frame_calibration(f));
            assert_non_null(strstr(gp_frame_calibration(f), cal[b].bunit ? cal[b].bunit : "no BUNIT"));
            gp_frame_close(f);

            gp_phot p0, p1, pl;
            measure(src, g, &p0, c0);
            measure(dst, g, &p1, c1);
            /* the original's own sky (what SDSS's sky subtraction left) in
             * the cutout's sky annulus, 40"-60" */
            gp_phot_options lo = { 6.0, 40.0, 60.0 };
            if (gp_frame_open_file(src, &f, &err) || gp_phot_aperture(f, gal[g].ra, gal[g].dec, &lo, &pl, &err))
                fail_msg("%s", err.msg);
            gp_frame_close(f);
            const double s = pow(10.0, -0.4 * (cal[b].zp - 22.5));
            double dm = -2.5 * log10(p1.flux / p0.flux);
            double dsky = p1.sky - p0.sky - cal[b].pedestal * s;
            /* cutouts: the original's minus a constant */
            for (size_t k = 0; k < np; k++) d[k] = (double)c1[k] - (double)c0[k];
            qsort(d, np, sizeof *d, cmp_double);
            double off = d[np / 2], spread = fmax(d[np - 1] - off, off - d[0]);
            printf("# galaxy %d %c (%s = %.2f, %.0f counts of sky): %.4f mag, %+.2e mag; sky %+.2e nmgy off the "
                   "pedestal; cutout offset %+.4f rms (%.2e nmgy; the original's 40\"-60\" sky %+.2e), "
                   "spread %.1e rms\n",
                   g, "gri"[b], cal[b].key, cal[b].zp, cal[b].pedestal, 22.5 - 2.5 * log10(p0.flux), dm, dsky,
                   off / p0.sky_rms, off, pl.sky, spread / p0.sky_rms);
            if (!(fabs(dm) < 1e-3)) nfail++, printf("#  ^ photometry beyond 0.001 mag\n");
            if (!(fabs(dsky) < 1e-3 * p0.sky_rms)) nfail++, printf("#  ^ sky is not the pedestal\n");
            if (!(fabs(p1.sky_rms / p0.sky_rms - 1) < 1e-3)) nfail++, printf("#  ^ sky rms differs\n");
            if (!(fabs(off + pl.sky) < 1e-3 * p0.sky_rms)) nfail++, printf("#  ^ cutout sky is not the pedestal\n");
            if (!(fabs(off) < 0.25 * p0.sky_rms)) nfail++, printf("#  ^ cutout sky beyond 0.25 rms\n");
            if (!(spread < 1e-3 * p0.sky_rms)) nfail++, printf("#  ^ cutout not the original's minus a constant\n");
            if (fabs(dm) > worst_m) worst_m = fabs(dm);
            if (fabs(off / p0.sky_rms) > worst_sky) worst_sky = fabs(off / p0.sky_rms);
        }
    printf("# largest: %.2e mag, cutout sky %.4f rms\n", worst_m, worst_sky);
    free(c0); free(c1); free(d);
    assert_int_equal(nfail, 0);
}

/* BUNIT = 'nanomaggy' with a MAGZP keyword: used as it is, to the bit. */
static void test_nanomaggy_not_rescaled(void **state)
{
    (void)state;
    const size_t np = GP_CUTOUT_SIZE * GP_CUTOUT_SIZE;
    float *c0 = malloc(sizeof(float) * np), *c1 = malloc(sizeof(float) * np);
    assert_true(c0 && c1);
    for (int b = 0; b < 3; b++) {
        char src[4096], dst[4096];
        sf_frame_path(src, sizeof src, 0, "gri"[b]);
        snprintf(dst, sizeof dst, "%s/nmgy-%c.fits", dir, "gri"[b]);
        write_copy(src, dst, "", "MAGZP", NAN, 0, NULL);   /* MAGZP = 25 */
        gp_frame *f = NULL;
        gp_error err;
        const char *key = NULL;
        if (gp_frame_open_file(src, &f, &err)) fail_msg("%s", err.msg);
        assert_true(isnan(gp_frame_zeropoint(f, &key)));   /* the SDSS original */
        assert_string_equal(key, "");
        assert_string_equal(gp_frame_calibration(f), "");
        gp_frame_close(f);
        if (gp_frame_open_file(dst, &f, &err)) fail_msg("%s", err.msg);
        assert_true(isnan(gp_frame_zeropoint(f, NULL)));
        assert_string_equal(gp_frame_calibration(f), "");
        gp_frame_close(f);
        gp_phot p0, p1;
        measure(src, 0, &p0, c0);
        measure(dst, 0, &p1, c1);
        assert_memory_equal(&p0.flux, &p1.flux, sizeof p0.flux);
        assert_memory_equal(&p0.sky, &p1.sky, sizeof p0.sky);
        assert_memory_equal(c0, c1, sizeof(float) * np);
    }
    free(c0); free(c1);
}

/* Counts without a usable zero point are refused, saying which keywords
 * would do; a frame without BUNIT or zero point is taken as nanomaggies,
 * as before. */
static void test_counts_refused(void **state)
{
    (void)state;
    static const struct {
        const char *bunit, *key;
        double zp;
        const char *photsys, *why;
    } cases[] = {
        { "counts", NULL, NAN, NULL, "with no photometric zero point" },
        { "DN", NULL, NAN, NULL, "with no photometric zero point" },
        { "electrons", NULL, NAN, NULL, "with no photometric zero point" },
        { "counts", "MAGZP", 3.5, NULL, "MAGZP = 3.5" },
        { NULL, "MAGZERO", 55.0, NULL, "MAGZERO = 55" },
        { "counts", "PHOTZP", 24.0, "VEGA", "'VEGA' system (PHOTSYS)" },
        { "MJy/sr", "MAGZP", 25.0, NULL, "'MJy/sr' (BUNIT)" },   /* (counts/s with MAGZP: test_units_sdss) */
        { "counts", "MAGZP", NAN, NULL, "MAGZP = 'abc" },   /* not a number */
    };
    char src[4096], dst[4096];
    sf_frame_path(src, sizeof src, 0, 'r');
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        snprintf(dst, sizeof dst, "%s/refused-r.fits", dir);
        /* pixels as they are: only the keywords matter here */
        write_copy(src, dst, cases[c].bunit, cases[c].key, NAN, 0, cases[c].photsys);
        if (cases[c].key) {
            char card[81];
            if (isnan(cases[c].zp)) snprintf(card, sizeof card, "%-8s= 'abc     ' / AB zero point", cases[c].key);
            else snprintf(card, sizeof card, "%-8s= %20.4g / AB zero point", cases[c].key, cases[c].zp);
            assert_int_equal(fx_edit_card(dst, cases[c].key, card), 0);
        }
        gp_frame *f = NULL;
        gp_error err;
        if (gp_frame_open_file(dst, &f, &err)) fail_msg("%s", err.msg);
        gp_phot p;
        float *cut = malloc(sizeof(float) * GP_CUTOUT_SIZE * GP_CUTOUT_SIZE);
        assert_non_null(cut);
        int sp = gp_phot_aperture(f, gal[0].ra, gal[0].dec, NULL, &p, &err);
        printf("# %s%s%s: %s\n", cases[c].bunit ? cases[c].bunit : "no BUNIT", cases[c].key ? ", " : "",
               cases[c].key ? cases[c].key : "", err.msg);
        assert_int_equal(sp, GP_ERR_DATA);
        assert_non_null(strstr(err.msg, "refused-r.fits"));
        assert_non_null(strstr(err.msg, cases[c].why));
        assert_non_null(strstr(err.msg, "MAGZP"));
        assert_non_null(strstr(err.msg, "MAGZERO"));
        assert_non_null(strstr(err.msg, "PHOTZP"));
        assert_int_equal(gp_cutout_band(f, gal[0].ra, gal[0].dec, cut, NULL, &err), GP_ERR_DATA);
        assert_non_null(strstr(err.msg, "PHOTZP"));
        free(cut);
        gp_frame_close(f);
    }
    /* no BUNIT, no zero point: nanomaggies, as before */
    write_copy(src, dst, NULL, NULL, NAN, 0, NULL);
    gp_frame *f = NULL;
    gp_error err;
    gp_phot p;
    if (gp_frame_open_file(dst, &f, &err)) fail_msg("%s", err.msg);
    assert_int_equal(gp_phot_aperture(f, gal[0].ra, gal[0].dec, NULL, &p, &err), GP_OK);
    assert_true(isnan(gp_frame_zeropoint(f, NULL)));
    gp_frame_close(f);
}

int main(void)
{
    if (!sf_data()) return 77;
    dir = fx_tmpdir();
    if (!dir) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_agree),
        cmocka_unit_test(test_nanomaggy_not_rescaled),
        cmocka_unit_test(test_counts_refused),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    fx_rmtree(dir);
    free(dir);
    return rc;
}
