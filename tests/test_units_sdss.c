/*
 * test_units_sdss.c: frames in AB flux density (nJy, uJy, mJy, Jy), in
 * counts per second with a zero point (MAGZP, MAGZERO, FLUXMAG0), in counts
 * with a zero point given by hand, and the ambiguous ones refused
 * (gp_image.h, "Frames in counts", "Frames in flux density"), made from
 * the real SDSS g, r, i frames of three main-sample galaxies
 * (../shared/data/sdss-frames, read in place; exit 77 when absent).
 *
 * Flux densities: the pixels x 3631 (nJy), x 3.631e-3 (uJy) ...; their
 * aperture photometry and cutouts must be the originals' within float32
 * rounding (1e-4 mag, 1e-3 of the pixel rms): no local sky is taken off
 * (they are calibrated, sky-subtracted products) and zero-point keywords
 * they carry are not read.  The old code refused BUNIT 'nJy'.
 *
 * Counts per second: pixels x / 10^(-0.4 (ZP - 22.5)) + a pedestal with
 * ZP the zero point of the rate (the pixel values as stored) and an
 * EXPTIME that must not be used; photometry within 1e-3 mag, cutouts the
 * originals' minus a constant.  The old code refused 'counts/s', and took
 * the counts of a FLUXMAG0 frame without BUNIT for nanomaggies.
 *
 * A zero point given by hand calibrates counts without a keyword, never
 * one whose header has its own, nor a nanomaggy frame; taken back (NaN),
 * the frame is refused again.  Two zero-point keywords that disagree
 * (MAGZP for the exposure beside a FLUXMAG0 per second), a rate without a
 * zero point, 'MJy/sr' and 'MJy' are refused naming the file, the HDU and
 * the keywords.
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
#include "sdss_frames.h"

static char *dir;
#define NP ((size_t)GP_CUTOUT_SIZE * GP_CUTOUT_SIZE)

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The photometry and cutout of galaxy g on frame f. */
static void measure_frame(gp_frame *f, int g, gp_phot *p, float *cut)
{
    gp_error err;
    if (gp_phot_aperture(f, sf_gal[g].ra, sf_gal[g].dec, NULL, p, &err)) fail_msg("galaxy %d: %s", g, err.msg);
    if (gp_cutout_band(f, sf_gal[g].ra, sf_gal[g].dec, cut, NULL, &err)) fail_msg("galaxy %d: %s", g, err.msg);
}

static void measure(const char *path, int g, gp_phot *p, float *cut)
{
    gp_frame *f = NULL;
    gp_error err;
    if (gp_frame_open_file(path, &f, &err)) fail_msg("%s", err.msg);
    measure_frame(f, g, p, cut);
    gp_frame_close(f);
}

/* The cutout c1 against the original's c0: the median offset and the
 * largest departure from it. */
static void cut_diff(const float *c0, const float *c1, double *off, double *spread)
{
    double *d = malloc(sizeof(double) * NP);
    assert_non_null(d);
    for (size_t k = 0; k < NP; k++) d[k] = (double)c1[k] - (double)c0[k];
    qsort(d, NP, sizeof *d, cmp_double);
    *off = d[NP / 2];
    *spread = fmax(d[NP - 1] - *off, *off - d[0]);
    free(d);
}

static void test_flux_density(void **state)
{
    (void)state;
    static const struct { const char *bunit; double per_nmgy; const char *ext; } u[3] = {
        { "nJy", 3631.0, NULL }, { "uJy/pixel", 3.631, "IMAGE" }, { "nJy", 3631.0, "IMAGE" },
    };
    float *c0 = malloc(sizeof(float) * NP), *c1 = malloc(sizeof(float) * NP);
    assert_true(c0 && c1);
    int nfail = 0;
    for (int g = 0; g < SF_NGAL; g++)
        for (int b = 0; b < 3; b++) {
            char src[4096], dst[4096], card[80];
            sf_frame_path(src, sizeof src, g, "gri"[b]);
            snprintf(dst, sizeof dst, "%s/fluxd-%c.fits", dir, "gri"[b]);
            snprintf(card, sizeof card, "BUNIT = '%s'", u[b].bunit);
            /* FLUXMAG0 of an HSC coadd (ZP 27): not read for a flux density */
            const char *cards[] = { card, "FLUXMAG0 = 63095734448.0194", NULL };
            double f = u[b].bunit[0] == 'u' ? 3631.0 / 1000.0 : 3631.0;
            sf_write_scaled(src, dst, f, 0.0, u[b].ext, cards);
            gp_frame *fr = NULL;
            gp_error err;
            if (gp_frame_open_file(dst, &fr, &err)) fail_msg("%s", err.msg);
            assert_true(isnan(gp_frame_zeropoint(fr, NULL)));
            if (!strstr(gp_frame_calibration(fr), "(1 nanomaggy = 3631 nJy)") ||
                !strstr(gp_frame_calibration(fr), u[b].bunit))
                fail_msg("calibration '%s'", gp_frame_calibration(fr));
            gp_phot p0, p1;
            measure(src, g, &p0, c0);
            measure_frame(fr, g, &p1, c1);
            gp_frame_close(fr);
            double dm = -2.5 * log10(p1.flux / p0.flux), off, spread;
            cut_diff(c0, c1, &off, &spread);
            printf("# galaxy %d %c '%s'%s: %+.2e mag, sky %+.2e rms off; cutout offset %+.1e rms, spread %.1e rms\n",
                   g, "gri"[b], u[b].bunit, u[b].ext ? " (HDU 2)" : "", dm, (p1.sky - p0.sky) / p0.sky_rms,
                   off / p0.sky_rms, spread / p0.sky_rms);
            if (!(fabs(dm) < 1e-4)) nfail++, printf("#  ^ photometry beyond 1e-4 mag\n");
            if (!(fabs(off) < 1e-3 * p0.sky_rms)) nfail++, printf("#  ^ the cutout's sky was changed\n");
            if (!(spread < 1e-3 * p0.sky_rms)) nfail++, printf("#  ^ cutout not the original's\n");
        }
    /* mJy and Jy: the pixels themselves, 1 nanomaggy = 3.631e-3 mJy = 3.631e-6 Jy */
    static const struct { const char *bunit; double per_nmgy; } big[] = { { "mJy", 3.631e-3 }, { "Jy", 3.631e-6 } };
    for (size_t k = 0; k < sizeof big / sizeof big[0]; k++) {
        char src[4096], dst[4096], card[80];
        sf_frame_path(src, sizeof src, 0, 'r');
        snprintf(dst, sizeof dst, "%s/big-r.fits", dir);
        snprintf(card, sizeof card, "BUNIT = '%s'", big[k].bunit);
        const char *cards[] = { card, NULL };
        sf_write_scaled(src, dst, big[k].per_nmgy, 0.0, NULL, cards);
        gp_frame *f0 = NULL, *f1 = NULL;
        gp_error err;
        if (gp_frame_open_file(src, &f0, &err) || gp_frame_open_file(dst, &f1, &err)) fail_msg("%s", err.msg);
        if (!strstr(gp_frame_calibration(f1), big[k].bunit)) fail_msg("calibration '%s'", gp_frame_calibration(f1));
        double *a = sf_read_box(f0, 900, 700, 64, 64), *c = sf_read_box(f1, 900, 700, 64, 64);
        double worst = 0;
                for (int i = 0; i < 64 * 64; i++)
            if (a[i] != 0 && fabs(c[i] / a[i] - 1) > worst) worst = fabs(c[i] / a[i] - 1);
        printf("# '%s': pixels within %.1e of the nanomaggy frame's\n", big[k].bunit, worst);
        assert_true(worst < 1e-6);
        free(a); free(c);
        gp_frame_close(f0);
        gp_frame_close(f1);
    }
    free(c0); free(c1);
    assert_int_equal(nfail, 0);
}

static void test_counts_per_second(void **state)
{
    (void)state;
    static const struct { const char *bunit, *key; double zp, pedestal; } cal[3] = {
        { "counts/s", "MAGZP", 24.12, 3.1 },
        { NULL, "FLUXMAG0", 26.40, 45.0 },       /* no BUNIT: HSC-like counts */
        { "ELECTRONS/S", "MAGZERO", 25.05, 0.7 },
    };
    float *c0 = malloc(sizeof(float) * NP), *c1 = malloc(sizeof(float) * NP);
    assert_true(c0 && c1);
    int nfail = 0;
    for (int g = 0; g < SF_NGAL; g++)
        for (int b = 0; b < 3; b++) {
            char src[4096], dst[4096], unit[80], zp[80];
            sf_frame_path(src, sizeof src, g, "gri"[b]);
            snprintf(dst, sizeof dst, "%s/rate-%c.fits", dir, "gri"[b]);
            if (cal[b].bunit) snprintf(unit, sizeof unit, "BUNIT = '%s'", cal[b].bunit);
            else snprintf(unit, sizeof unit, "-BUNIT");
            if (!strcmp(cal[b].key, "FLUXMAG0")) snprintf(zp, sizeof zp, "FLUXMAG0 = %.10g", pow(10.0, 0.4 * cal[b].zp));
            else snprintf(zp, sizeof zp, "%s = %.4f", cal[b].key, cal[b].zp);
            /* an EXPTIME that must not be used (2.5 log10 90 = 4.9 mag) */
            const char *cards[] = { unit, zp, "EXPTIME = 90.0", NULL };
            const double s = pow(10.0, -0.4 * (cal[b].zp - 22.5));
            sf_write_scaled(src, dst, 1.0 / s, cal[b].pedestal, NULL, cards);
            gp_frame *f = NULL;
            gp_error err;
            const char *key = NULL;
            if (gp_frame_open_file(dst, &f, &err)) fail_msg("%s", err.msg);
            assert_true(fabs(gp_frame_zeropoint(f, &key) - cal[b].zp) < 1e-6);
            assert_string_equal(key, cal[b].key);
            gp_frame_close(f);
            gp_phot p0, p1;
            measure(src, g, &p0, c0);
            measure(dst, g, &p1, c1);
            double dm = -2.5 * log10(p1.flux / p0.flux), off, spread;
            cut_diff(c0, c1, &off, &spread);
            printf("# galaxy %d %c '%s' %s = %.2f: %+.2e mag; cutout offset %+.4f rms, spread %.1e rms\n", g, "gri"[b],
                   cal[b].bunit ? cal[b].bunit : "(no BUNIT)", cal[b].key, cal[b].zp, dm, off / p0.sky_rms,
                   spread / p0.sky_rms);
            if (!(fabs(dm) < 1e-3)) nfail++, printf("#  ^ photometry beyond 0.001 mag\n");
            if (!(fabs(off) < 0.25 * p0.sky_rms)) nfail++, printf("#  ^ the pedestal was not taken off the cutout\n");
            if (!(spread < 1e-3 * p0.sky_rms)) nfail++, printf("#  ^ cutout not the original's minus a constant\n");
        }
    free(c0); free(c1);
    assert_int_equal(nfail, 0);
}

static void test_hand_zeropoint(void **state)
{
    (void)state;
    const double zp = 27.35, pedestal = 300.0, s = pow(10.0, -0.4 * (zp - 22.5));
    float *c0 = malloc(sizeof(float) * NP), *c1 = malloc(sizeof(float) * NP);
    assert_true(c0 && c1);
    char src[4096], dst[4096];
    gp_error err;
    gp_phot p0, p1;
    /* counts without a keyword, with and without BUNIT */
    static const char *const units[] = { "BUNIT = 'ADU'", "-BUNIT" };
    for (int k = 0; k < 2; k++) {
        sf_frame_path(src, sizeof src, 1, 'r');
        snprintf(dst, sizeof dst, "%s/hand-r.fits", dir);
        const char *cards[] = { units[k], NULL };
        sf_write_scaled(src, dst, 1.0 / s, pedestal, NULL, cards);
        gp_frame *f = NULL;
        if (gp_frame_open_file(dst, &f, &err)) fail_msg("%s", err.msg);
        if (k == 0) assert_int_equal(gp_frame_check_unit(f, &err), GP_ERR_DATA);
        assert_int_equal(gp_frame_set_zeropoint(f, zp, "--zeropoint", &err), GP_OK);
        const char *key = NULL;
        assert_true(gp_frame_zeropoint(f, &key) == zp);
        assert_string_equal(key, "ZP");
        if (!strstr(gp_frame_calibration(f), "ZP = 27.35 given by --zeropoint"))
            fail_msg("calibration '%s'", gp_frame_calibration(f));
        measure(src, 1, &p0, c0);
        measure_frame(f, 1, &p1, c1);
        double dm = -2.5 * log10(p1.flux / p0.flux), off, spread;
        cut_diff(c0, c1, &off, &spread);
        printf("# hand zero point, %s: %+.2e mag, cutout offset %+.4f rms, spread %.1e rms\n", units[k], dm,
               off / p0.sky_rms, spread / p0.sky_rms);
        assert_true(fabs(dm) < 1e-3);
        assert_true(fabs(off) < 0.25 * p0.sky_rms && spread < 1e-3 * p0.sky_rms);
        /* taken back: refused again ('ADU'), or nanomaggies again (no BUNIT) */
        assert_int_equal(gp_frame_set_zeropoint(f, NAN, NULL, &err), GP_OK);
        assert_true(isnan(gp_frame_zeropoint(f, NULL)));
        assert_int_equal(gp_frame_check_unit(f, &err), k == 0 ? GP_ERR_DATA : GP_OK);
        /* out of range */
        assert_int_equal(gp_frame_set_zeropoint(f, 12.0, "set zeropoint", &err), GP_ERR_ARG);
        assert_non_null(strstr(err.msg, "set zeropoint"));
        gp_frame_close(f);
    }
    /* the header's zero point wins */
    const char *cards[] = { "BUNIT = 'counts'", "MAGZP = 27.35", NULL };
    sf_write_scaled(src, dst, 1.0 / s, pedestal, NULL, cards);
    gp_frame *f = NULL;
    if (gp_frame_open_file(dst, &f, &err)) fail_msg("%s", err.msg);
    assert_int_equal(gp_frame_set_zeropoint(f, 30.0, "--zeropoint", &err), GP_OK);
    const char *key = NULL;
    assert_true(fabs(gp_frame_zeropoint(f, &key) - zp) < 1e-9);
    assert_string_equal(key, "MAGZP");
    gp_frame_close(f);
    /* a nanomaggy frame is not touched: to the bit */
    if (gp_frame_open_file(src, &f, &err)) fail_msg("%s", err.msg);
    assert_int_equal(gp_frame_set_zeropoint(f, 30.0, "--zeropoint", &err), GP_OK);
    assert_string_equal(gp_frame_calibration(f), "");
    measure_frame(f, 1, &p1, c1);
    measure(src, 1, &p0, c0);
    assert_memory_equal(&p0.flux, &p1.flux, sizeof p0.flux);
    assert_memory_equal(c0, c1, sizeof(float) * NP);
    gp_frame_close(f);
    free(c0); free(c1);
}

static void test_zeropoint_text(void **state)
{
    (void)state;
    double zp[GP_NBANDS];
    gp_error err;
    char buf[128];
    assert_int_equal(gp_zeropoint_parse("header", zp, &err), GP_OK);
    for (int b = 0; b < GP_NBANDS; b++) assert_true(isnan(zp[b]));
    gp_zeropoint_format(zp, buf, sizeof buf);
    assert_string_equal(buf, "header");
    assert_int_equal(gp_zeropoint_parse(" 27.0 ", zp, &err), GP_OK);
    for (int b = 0; b < GP_NBANDS; b++) assert_true(zp[b] == 27.0);
    gp_zeropoint_format(zp, buf, sizeof buf);
    assert_string_equal(buf, "27");
    assert_int_equal(gp_zeropoint_parse("g=27.1,r=27 i=26.85", zp, &err), GP_OK);
    assert_true(isnan(zp[GP_BAND_U]) && isnan(zp[GP_BAND_Z]));
    assert_true(zp[GP_BAND_G] == 27.1 && zp[GP_BAND_R] == 27.0 && zp[GP_BAND_I] == 26.85);
    gp_zeropoint_format(zp, buf, sizeof buf);
    assert_string_equal(buf, "g=27.1,r=27,i=26.85");
    static const struct { const char *text, *why; } bad[] = {
        { "abc", "'abc' is not 'header', a magnitude" }, { "", "empty" }, { "0x1b", "'0x1b'" },
        { "nan", "'nan'" }, { "45", "'45'" }, { "x=27", "'x=27' is not BAND=ZP" },
        { "g=99", "'99' is not a magnitude between 15 and 40" }, { "g=27,g=28", "band g given twice" },
        { "g=", "'' is not a magnitude" },
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        zp[0] = 1.0;
        assert_int_equal(gp_zeropoint_parse(bad[k].text, zp, &err), GP_ERR_ARG);
        if (!strstr(err.msg, bad[k].why)) fail_msg("'%s': %s", bad[k].text, err.msg);
        assert_true(zp[0] == 1.0);   /* untouched */
    }
}

static void test_ambiguous_refused(void **state)
{
    (void)state;
    static const struct { const char *c1, *c2, *c3; const char *ext; const char *why[3]; } cases[] = {
        /* a zero point for the exposure's counts beside one per second (EXPTIME 90 s) */
        { "BUNIT = 'counts'", "MAGZP = 29.12", "FLUXMAG0 = 4.9403474e+9", "IMAGE",
          { "(HDU 2 'IMAGE')", "MAGZP = 29.1200 and FLUXMAG0 = 4.94035e+09", "disagree by 4.886 mag" } },
        { "BUNIT = 'e-/s'", "-MAGZP", NULL, NULL,
          { "(HDU 1)", "'e-/s' (BUNIT) with no photometric zero point", "counts per second" } },
        { "BUNIT = 'MJy/sr'", NULL, NULL, NULL, { "'MJy/sr' (BUNIT)", "'nJy'", "FLUXMAG0" } },
        { "BUNIT = 'MJy'", NULL, NULL, NULL, { "'MJy' (BUNIT)", "not nanomaggies", "MAGZP" } },
        { "BUNIT = 'counts'", "FLUXMAG0 = -5.0", NULL, NULL, { "FLUXMAG0 = -5", "magnitude-0", "(HDU 1)" } },
        { "BUNIT = 'counts'", "MAGZP = 25.0", "MAGZERO = 'abc'", NULL, { "MAGZERO = 'abc", "(HDU 1)", "MAGZP" } },
    };
    char src[4096], dst[4096];
    sf_frame_path(src, sizeof src, 0, 'r');
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        snprintf(dst, sizeof dst, "%s/ambiguous-r.fits", dir);
        const char *cards[] = { cases[c].c1, cases[c].c2, cases[c].c3, NULL };
        sf_write_scaled(src, dst, 1.0, 0.0, cases[c].ext, cards);
        gp_frame *f = NULL;
        gp_error err;
        gp_phot p;
        if (gp_frame_open_file(dst, &f, &err)) fail_msg("%s", err.msg);
        int st = gp_phot_aperture(f, sf_gal[0].ra, sf_gal[0].dec, NULL, &p, &err);
        printf("# %s%s%s: %s\n", cases[c].c1, cases[c].c2 ? ", " : "", cases[c].c2 ? cases[c].c2 : "", err.msg);
        assert_int_equal(st, GP_ERR_DATA);
        assert_non_null(strstr(err.msg, "ambiguous-r.fits"));
        for (int k = 0; k < 3; k++)
            if (!strstr(err.msg, cases[c].why[k])) fail_msg("no '%s' in: %s", cases[c].why[k], err.msg);
        gp_frame_close(f);
    }
    /* two that agree (within 0.01 mag) are one zero point */
    const char *cards[] = { "BUNIT = 'counts'", "MAGZP = 25.310", "MAGZERO = 25.305", NULL };
    sf_write_scaled(src, dst, 1.0, 0.0, NULL, cards);
    gp_frame *f = NULL;
    gp_error err;
    const char *key = NULL;
    if (gp_frame_open_file(dst, &f, &err)) fail_msg("%s", err.msg);
    assert_int_equal(gp_frame_check_unit(f, &err), GP_OK);
    assert_true(gp_frame_zeropoint(f, &key) == 25.31);
    assert_string_equal(key, "MAGZP");
    gp_frame_close(f);
}

int main(void)
{
    if (!sf_data()) return 77;
    dir = fx_tmpdir();
    if (!dir) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flux_density),
        cmocka_unit_test(test_counts_per_second),
        cmocka_unit_test(test_hand_zeropoint),
        cmocka_unit_test(test_zeropoint_text),
        cmocka_unit_test(test_ambiguous_refused),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    fx_rmtree(dir);
    free(dir);
    return rc;
}
