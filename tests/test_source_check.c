/*
 * test_source_check.c: the source check (GP_FLAG_NO_SOURCE, engine/
 * gp_source_check.h) on synthetic cutouts drawn afresh each run (a galaxy
 * passes; noise, zeros, a constant band, a cutout beside a galaxy and one
 * just below the S/N limit are flagged; NaN pixels are left out), through
 * gp_infer() (flag and numbers in the result, NaN without a cutout), and on
 * real SDSS frames (../shared/data/sdss-frames, skipped when absent): the
 * five main-sample galaxies of test_real_sdss.c pass (measured S/N 273-1307,
 * peak within 3.4"), blank sky and positions 12.5" beside them are flagged
 * (measured on 890 blank positions: S/N -5.9 to 5.3; 12.5" beside the
 * galaxies, where no other source lies, S/N -1.9 to 13 or a peak beyond
 * the limit).
 *
 * `test_source_check --write-cutouts DIR` writes galaxy.fits, blank.fits
 * and zeros.fits there for test_source_check_cli.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fitsio.h>

#include "galpost/gp_image.h"
#include "galpost/gp_model.h"
#include "gp_source_check.h"
#include "gp_test_util.h"

#define NPL ((size_t)GP_CUTOUT_SIZE * GP_CUTOUT_SIZE)

/* Gaussian noise of sigma[b] per band (sigma 0: none) */
static void noise(float *c, const double sigma[3])
{
    for (int b = 0; b < 3; b++)
        for (size_t p = 0; p < NPL; p++) c[b * NPL + p] = (float)(sigma[b] * gp_test_normal());
}

/* adds an exponential disc of total flux amp (nanomaggies, each band) and
 * scale length h pixels centred at (x0, y0) */
static void add_disc(float *c, double amp, double h, double x0, double y0)
{
    double norm = amp / (2 * M_PI * h * h);
    for (int y = 0; y < GP_CUTOUT_SIZE; y++)
        for (int x = 0; x < GP_CUTOUT_SIZE; x++) {
            double v = norm * exp(-hypot(x - x0, y - y0) / h);
            for (int b = 0; b < 3; b++) c[b * NPL + (size_t)y * GP_CUTOUT_SIZE + x] += (float)v;
        }
}

static const double sky_sigma[3] = { 0.017, 0.027, 0.045 };   /* SDSS-like, nanomaggies */

static gp_source check(const float *c)
{
    gp_source s;
    gp_error err;
    assert_int_equal(gp_source_check(c, &s, &err), GP_OK);
    return s;
}

static void test_galaxy_passes(void **state)
{
    (void)state;
    float *c = malloc(sizeof(float) * GP_CUTOUT_PIXELS);
    assert_non_null(c);
    for (int k = 0; k < 20; k++) {
        noise(c, sky_sigma);
        /* 18.5 mag or brighter (>= 40 nmgy), 1-8 px scale, within 0.5 px */
        double amp = 40 + 400 * gp_test_uniform(), h = 1 + 7 * gp_test_uniform();
        add_disc(c, amp, h, 79.5 + gp_test_uniform() - 0.5, 79.5 + gp_test_uniform() - 0.5);
        gp_source s = check(c);
        assert_true(isfinite(s.snr) && s.snr > 2 * GP_SOURCE_SNR_LIMIT);
        /* (the limit is GP_SOURCE_PEAK_LIMIT, 4.75"; on a faint, broad
         * disc, 40-50 nmgy with an 8-pixel scale length, the climb on a 3x3
         * box ended 1" or more off in 1-2% of noise draws, up to 1.15", and
         * a 1" check failed 1 run in 12; on the 5x5 box, 0.3% of draws) */
        if (!(s.peak >= 0 && s.peak < 2.0))
            fail_msg("disc of %.0f nmgy, h %.1f px: peak %.2f\" from the centre (S/N %.1f)", amp, h, s.peak, s.snr);
        assert_int_equal(s.blank_band, -1);
        assert_int_equal(s.no_source, 0);
    }
    free(c);
}

static void test_noise_zeros_constant_fail(void **state)
{
    (void)state;
    float *c = malloc(sizeof(float) * GP_CUTOUT_PIXELS);
    assert_non_null(c);
    for (int k = 0; k < 20; k++) {   /* pure noise: S/N ~ N(0, 1) */
        double sig[3];
        for (int b = 0; b < 3; b++) sig[b] = sky_sigma[b] * (0.3 + 3 * gp_test_uniform());
        noise(c, sig);
        gp_source s = check(c);
        assert_true(isfinite(s.snr) && fabs(s.snr) < 6);
        assert_int_equal(s.blank_band, -1);
        assert_int_equal(s.no_source, 1);
    }
    memset(c, 0, sizeof(float) * GP_CUTOUT_PIXELS);   /* all zeros */
    gp_source s = check(c);
    assert_int_equal(s.no_source, 1);
    assert_int_equal(s.blank_band, 0);
    assert_true(s.snr == 0.0);
    /* a galaxy, but the r band constant (or zero) everywhere */
    for (int v = 0; v < 2; v++) {
        noise(c, sky_sigma);
        add_disc(c, 200, 3, 79.5, 79.5);
        float cst = v ? 0.0f : (float)(0.1 + gp_test_uniform());
        for (size_t p = 0; p < NPL; p++) c[NPL + p] = cst;
        s = check(c);
        assert_int_equal(s.no_source, 1);
        assert_int_equal(s.blank_band, 1);
        assert_true(s.snr == 0.0);
    }
    /* constant plus a noiseless source in the middle: no sky to judge by */
    memset(c, 0, sizeof(float) * GP_CUTOUT_PIXELS);
    add_disc(c, 200, 3, 79.5, 79.5);
    for (size_t p = 0; p < GP_CUTOUT_PIXELS; p++) c[p] += 0.25f;
    s = check(c);
    assert_int_equal(s.no_source, 1);
    free(c);
}

/* a bright, large galaxy 10-15" (25-38 px) from the centre: its disc covers
 * the centre (S/N above the limit there) but the climb leaves for its peak */
static void test_beside_a_galaxy_fails(void **state)
{
    (void)state;
    float *c = malloc(sizeof(float) * GP_CUTOUT_PIXELS);
    assert_non_null(c);
    for (int k = 0; k < 10; k++) {
        noise(c, sky_sigma);
        double d = 25 + 13 * gp_test_uniform(), a = 2 * M_PI * gp_test_uniform();
        add_disc(c, 3000, 8 + 4 * gp_test_uniform(), 79.5 + d * cos(a), 79.5 + d * sin(a));
        gp_source s = check(c);
        assert_true(s.snr > GP_SOURCE_SNR_LIMIT);   /* the disc is there ... */
        assert_true(s.peak > GP_SOURCE_PEAK_LIMIT);  /* ... but not centred */
        assert_int_equal(s.no_source, 1);
        /* the same galaxy at the centre passes */
        noise(c, sky_sigma);
        add_disc(c, 3000, 10, 79.5, 79.5);
        s = check(c);
        assert_int_equal(s.no_source, 0);
    }
    free(c);
}

/* the S/N limit: on one noise field, S/N is linear in the source's flux;
 * the flux 10% above the limit's passes and 10% below fails */
static void test_snr_limit_edge(void **state)
{
    (void)state;
    float *base = malloc(sizeof(float) * GP_CUTOUT_PIXELS), *c = malloc(sizeof(float) * GP_CUTOUT_PIXELS);
    assert_non_null(base);
    assert_non_null(c);
    for (int k = 0; k < 10; k++) {
        noise(base, sky_sigma);
        double h = 1.5 + 2 * gp_test_uniform();
        memcpy(c, base, sizeof(float) * GP_CUTOUT_PIXELS);
        double s0 = check(c).snr;
        add_disc(c, 10.0, h, 79.5, 79.5);
        double s1 = check(c).snr;
        assert_true(s1 > s0);
        double amp = 10.0 * (GP_SOURCE_SNR_LIMIT - s0) / (s1 - s0);   /* S/N = limit */
        for (int side = -1; side <= 1; side += 2) {
            memcpy(c, base, sizeof(float) * GP_CUTOUT_PIXELS);
            add_disc(c, amp * (1 + 0.1 * side), h, 79.5, 79.5);
            gp_source s = check(c);
            assert_true(fabs(s.snr - GP_SOURCE_SNR_LIMIT * (1 + 0.1 * side) - 0.1 * side * -s0) < 0.5);
            assert_int_equal(s.no_source, side < 0);
        }
    }
    free(base);
    free(c);
}

/* NaN pixels are left out; a cutout of NaN is blank; NULL refused */
static void test_nan_and_args(void **state)
{
    (void)state;
    float *c = malloc(sizeof(float) * GP_CUTOUT_PIXELS);
    assert_non_null(c);
    noise(c, sky_sigma);
    add_disc(c, 200, 3, 79.5, 79.5);
    double clean = check(c).snr;
    for (int k = 0; k < 200; k++) c[(size_t)(gp_test_uniform() * GP_CUTOUT_PIXELS)] = NAN;
    c[NPL + 79 * GP_CUTOUT_SIZE + 80] = NAN;   /* in the aperture */
    c[2 * NPL + 80 * GP_CUTOUT_SIZE + 79] = INFINITY;
    gp_source s = check(c);
    assert_true(isfinite(s.snr) && isfinite(s.peak));
    assert_true(s.snr > 0.5 * clean && s.snr < 1.5 * clean);
    assert_int_equal(s.no_source, 0);
    for (size_t p = 0; p < GP_CUTOUT_PIXELS; p++) c[p] = NAN;
    s = check(c);
    assert_int_equal(s.no_source, 1);
    assert_false(s.snr >= GP_SOURCE_SNR_LIMIT);
    /* half of the cutout padded with zeros (a frame edge) still passes */
    noise(c, sky_sigma);
    add_disc(c, 200, 3, 79.5, 79.5);
    for (int b = 0; b < 3; b++)
        for (int y = 0; y < GP_CUTOUT_SIZE; y++)
            for (int x = 0; x < 70; x++) c[b * NPL + (size_t)y * GP_CUTOUT_SIZE + x] = 0.0f;
    s = check(c);
    assert_int_equal(s.blank_band, -1);
    assert_int_equal(s.no_source, 0);
    gp_error err;
    gp_error_clear(&err);
    assert_int_equal(gp_source_check(NULL, &s, &err), GP_ERR_ARG);
    assert_int_equal(err.status, GP_ERR_ARG);
    assert_int_equal(gp_source_check(c, NULL, &err), GP_ERR_ARG);
    free(c);
}

/* through gp_infer: the flag and numbers reach the result, the posteriors
 * do not depend on them, and a galaxy without a cutout is not judged */
static gp_model *small_model(int uses_image, char *path, size_t n)
{
    gp_arch a = gp_arch_default();
    a.uses_image = uses_image;
    a.enc_channels[0] = 4; a.enc_channels[1] = 6; a.enc_channels[2] = 8;
    a.latent = 8; a.trunk[0] = 32; a.trunk[1] = 24; a.head_hidden = 16;
    a.flow_hidden = 16; a.couplings = 4;
    gp_error err;
    gp_test_tmpname(path, n, ".gpw");
    if (gp_model_write_random(path, &a, 5, &err)) fail_msg("%s", err.msg);
    gp_model_options o = gp_model_options_default();
    o.backend = GP_BACKEND_CPU;
    gp_model *m = NULL;
    if (gp_model_open(path, &o, &m, &err)) fail_msg("%s", err.msg);
    return m;
}

/* through gp_infer: the flag and numbers reach the result, the posteriors
 * do not depend on them, and a galaxy without a cutout is not judged */
static void test_through_infer(void **state)
{
    (void)state;
    char path[4096];
    gp_model *m = small_model(1, path, sizeof path);
    float *c = malloc(sizeof(float) * GP_CUTOUT_PIXELS * 3);
    assert_non_null(c);
    noise(c, sky_sigma);
    add_disc(c, 300, 3, 79.5, 79.5);
    noise(c + GP_CUTOUT_PIXELS, sky_sigma);
    memset(c + 2 * GP_CUTOUT_PIXELS, 0, sizeof(float) * GP_CUTOUT_PIXELS);
    c[2 * GP_CUTOUT_PIXELS] = NAN;   /* a galaxy that fails is not judged */
    gp_galaxy g[3];
    for (int i = 0; i < 3; i++)
        g[i] = (gp_galaxy){ (uint64_t)(i + 1), c + (size_t)i * GP_CUTOUT_PIXELS,
                            { 18.5f, 17.2f, 16.6f, 16.2f, 16.0f }, 0 };
    gp_infer_options io = gp_infer_options_default();
    io.nsamples = 20;
    gp_result r[3];
    gp_error err;
    assert_int_equal(gp_infer(m, g, 3, &io, r, &err), GP_ERR_DATA);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(r[i].status, GP_OK);
        gp_source s = check(g[i].cutout);
        assert_true(r[i].source_snr == s.snr && r[i].source_peak == s.peak);
        assert_int_equal((r[i].flags & GP_FLAG_NO_SOURCE) != 0, i == 1);
    }
    assert_true(r[0].source_snr > GP_SOURCE_SNR_LIMIT);
    assert_int_not_equal(r[2].status, GP_OK);
    assert_true(isnan(r[2].source_snr) && isnan(r[2].source_peak));
    assert_false(r[2].flags & GP_FLAG_NO_SOURCE);
    /* the blank galaxy's posterior is what it was: the flag changes nothing */
    gp_result r1;
    assert_int_equal(gp_infer(m, &g[1], 1, &io, &r1, &err), GP_OK);
    for (int q = 0; q < GP_NQ; q++) assert_true(r1.summary.median[q] == r[1].summary.median[q]);
    gp_result_free(r, 3);
    gp_result_free(&r1, 1);
    gp_model_close(m);
    unlink(path);

    /* a photometry-only model: a blank cutout it does not read is not judged
     * when the magnitudes were given (catalogue, --mags), and is when they
     * were measured on the frames at this position; no cutout: not judged */
    m = small_model(0, path, sizeof path);
    gp_galaxy pg[2] = { g[1], g[1] };
    pg[1].flags = GP_FLAG_PHOT_MEASURED;
    assert_int_equal(gp_infer(m, pg, 2, &io, r, &err), GP_OK);
    assert_true(isnan(r[0].source_snr) && isnan(r[0].source_peak));
    assert_false(r[0].flags & GP_FLAG_NO_SOURCE);
    gp_source sb = check(g[1].cutout);
    assert_true(r[1].source_snr == sb.snr && (r[1].flags & GP_FLAG_NO_SOURCE));
    gp_result_free(r, 2);
    g[0].cutout = NULL;
    assert_int_equal(gp_infer(m, g, 1, &io, r, &err), GP_OK);
    assert_true(isnan(r[0].source_snr) && isnan(r[0].source_peak));
    assert_false(r[0].flags & GP_FLAG_NO_SOURCE);
    gp_result_free(r, 1);
    gp_model_close(m);
    unlink(path);
    free(c);
}

/* the text summary says which verdict it is: no source at all, or a bright
 * position on the slope of something beside it ("no source" at S/N 665
 * read as a bug to a user) */
static void test_summary_wording(void **state)
{
    (void)state;
    for (int off = 0; off < 2; off++) {
        gp_result r;
        memset(&r, 0, sizeof r);
        r.status = GP_OK;
        r.nsamples = 0;
        r.summary.bpt_class = -1;
        r.latent_d2 = r.latent_d2_limit = r.phot_d2 = r.phot_d2_limit = NAN;
        r.flags = GP_FLAG_NO_SOURCE;
        r.source_snr = off ? 664.8 : 3.2;
        r.source_peak = off ? 5.0 : 0.4;
        char *txt = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&txt, &len);
        assert_non_null(f);
        gp_summary_print(&r, f);
        fclose(f);
        if (off) {
            assert_non_null(strstr(txt, "WARNING: the cutout is not centred on a source"));
            assert_null(strstr(txt, "no source at the centre"));
        } else {
            assert_non_null(strstr(txt, "WARNING: no source at the centre of the cutout"));
            assert_null(strstr(txt, "not centred"));
        }
        free(txt);
    }
}

/* real frames: the five galaxies of test_real_sdss.c pass; blank sky (picked
 * at least 8" from any 2.5-sigma pixel of the smoothed r frame) and the
 * positions 12.5" east and west of the galaxies are flagged */
static void test_real_frames(void **state)
{
    (void)state;
    const char *data = getenv("GP_SHARED_DATA");
    static const char *const field[2] = { "003918-3-0213", "004510-4-0030" };
    /* each with two directions (degrees from east towards north) in which
     * 12.5" away lies no other source */
    static const struct { double ra, dec; int field; double dir[2]; } gal[] = {
        { 229.525730, 42.744718, 0, { 0, 180 } }, { 200.377497, 36.903089, 1, { 0, 180 } },
        { 200.448238, 36.768266, 1, { 0, 180 } }, { 200.509758, 36.731862, 1, { 0, 180 } },
        { 200.512458, 36.748041, 1, { 180, 270 } },
    };
    static const struct { double ra, dec; int field; } blank[] = {
        { 229.594394, 42.723200, 0 }, { 229.486045, 42.769854, 0 }, { 229.577964, 42.752482, 0 },
        { 200.410940, 36.719705, 1 }, { 200.466662, 36.824057, 1 }, { 200.471519, 36.822259, 1 },
    };
    gp_frame *fr[2][3] = { { NULL } };
    gp_error err;
    char path[4096];
    for (int f = 0; f < 2; f++)
        for (int b = 0; b < 3; b++) {
            snprintf(path, sizeof path, "%s/sdss-frames/%s/frame-%c-%s.fits.bz2", data ? data : "", field[f],
                     "gri"[b], field[f]);
            if (!data || access(path, R_OK) != 0) {
                printf("# skip: no %s\n", path);
                for (int g = 0; g < 2; g++) for (int k = 0; k < 3; k++) if (fr[g][k]) gp_frame_close(fr[g][k]);
                skip();
                return;
            }
            if (gp_frame_open_file(path, &fr[f][b], &err)) fail_msg("%s", err.msg);
        }
    float *c = malloc(sizeof(float) * GP_CUTOUT_PIXELS);
    assert_non_null(c);
    for (size_t i = 0; i < sizeof gal / sizeof gal[0]; i++) {
        if (gp_cutout_gri(fr[gal[i].field], gal[i].ra, gal[i].dec, c, NULL, &err)) fail_msg("%s", err.msg);
        gp_source s = check(c);
        printf("# galaxy %zu: S/N %.1f, peak %.2f\"\n", i, s.snr, s.peak);
        assert_true(s.snr > 10 * GP_SOURCE_SNR_LIMIT);
        assert_true(s.peak < GP_SOURCE_PEAK_LIMIT);
        assert_int_equal(s.no_source, 0);
        for (int k = 0; k < 2; k++) {
            double a = gal[i].dir[k] * M_PI / 180;
            double ra = gal[i].ra + 12.5 / 3600 * cos(a) / cos(gal[i].dec * M_PI / 180);
            double dec = gal[i].dec + 12.5 / 3600 * sin(a);
            if (gp_cutout_gri(fr[gal[i].field], ra, dec, c, NULL, &err)) fail_msg("%s", err.msg);
            s = check(c);
            printf("#   12.5\" at %.0f deg: S/N %.1f, peak %.2f\"\n", gal[i].dir[k], s.snr, s.peak);
            assert_int_equal(s.no_source, 1);
        }
    }
    for (size_t i = 0; i < sizeof blank / sizeof blank[0]; i++) {
        if (gp_cutout_gri(fr[blank[i].field], blank[i].ra, blank[i].dec, c, NULL, &err)) fail_msg("%s", err.msg);
        gp_source s = check(c);
        printf("# blank %zu: S/N %.1f, peak %.2f\"\n", i, s.snr, s.peak);
        assert_true(isfinite(s.snr) && fabs(s.snr) < 8);
        assert_int_equal(s.no_source, 1);
    }
    free(c);
    for (int f = 0; f < 2; f++)
        for (int b = 0; b < 3; b++) gp_frame_close(fr[f][b]);
}

/* DIR/galaxy.fits, blank.fits, zeros.fits: 160x160x3 cutouts in nanomaggies */
static int write_cutouts(const char *dir)
{
    float *c = malloc(sizeof(float) * GP_CUTOUT_PIXELS);
    if (!c) return 1;
    static const char *const name[3] = { "galaxy", "blank", "zeros" };
    for (int k = 0; k < 3; k++) {
        if (k == 2) memset(c, 0, sizeof(float) * GP_CUTOUT_PIXELS);
        else noise(c, sky_sigma);
        if (k == 0) add_disc(c, 300, 3, 79.5, 79.5);
        char path[4096];
        snprintf(path, sizeof path, "!%s/%s.fits", dir, name[k]);
        fitsfile *f = NULL;
        int st = 0;
        long nax[3] = { GP_CUTOUT_SIZE, GP_CUTOUT_SIZE, 3 };
        fits_create_file(&f, path, &st);
        fits_create_img(f, FLOAT_IMG, 3, nax, &st);
        fits_write_img(f, TFLOAT, 1, GP_CUTOUT_PIXELS, c, &st);
        fits_close_file(f, &st);
        if (st) { fits_report_error(stderr, st); free(c); return 1; }
    }
    free(c);
    return 0;
}

/* gp_source_extent(): an exponential disc of central surface brightness
 * I0 (summed over the three bands) falls to the pixel noise of the sum at
 * r = h ln(I0 / noise); the first ring below it, [k, k + 1), starts about
 * half a pixel inside. */
static double disc_isophote(double amp, double h)
{
    const double noise = sqrt(sky_sigma[0] * sky_sigma[0] + sky_sigma[1] * sky_sigma[1] + sky_sigma[2] * sky_sigma[2]);
    return h * log(3 * amp / (2 * M_PI * h * h) / noise) - 0.5;
}

static void test_extent(void **state)
{
    (void)state;
    float *c = malloc(sizeof(float) * GP_CUTOUT_PIXELS);
    assert_non_null(c);
    gp_error err;
    double ext;
    for (int k = 0; k < 20; k++) {
        noise(c, sky_sigma);
        double amp = 40 + 400 * gp_test_uniform(), h = 1 + 7 * gp_test_uniform();
        add_disc(c, amp, h, 79.5, 79.5);
        double want = disc_isophote(amp, h);
        /* a third of the discs with a companion 20 pixels out, whose
         * light (to the noise) covers the rings from 12 to 28 pixels over a
         * seventh of their circumference, a third with a bright star 25
         * pixels out: the sectors' medians move by a pixel or two, where a
         * mean over the rings would stretch the extent past the companion
         * (by 5-13 pixels on 400 draws; 0-3 without a neighbour, the noise
         * moving a broad disc's isophote most) */
        const int comp = k % 3;
        if (comp == 1) add_disc(c, 500, 1.0, 79.5 + 20, 79.5);
        if (comp == 2) add_disc(c, 5000, 0.7, 79.5 - 18, 79.5 + 17);
        assert_int_equal(gp_source_extent(c, &ext, &err), GP_OK);
        const double e = ext / GP_PIXEL_SCALE - want;
        if (!(e >= -(1.5 + 0.5 * h) && e <= (comp ? 2.5 + 0.7 * h : 1.5 + 0.5 * h)))
            fail_msg("disc of %.0f nmgy, h %.1f px%s: extent %.2f px, isophote %.2f px", amp, h,
                     comp == 1 ? " with a companion" : (comp == 2 ? " beside a star" : ""), ext / GP_PIXEL_SCALE, want);
    }
    /* a small galaxy 25 pixels from a brighter, larger one whose light
     * (to the noise) covers half of every ring around it out to 55
     * pixels, rising towards it: each sector stops where the light rises
     * again or falls to the noise, and the fourth largest of the eight is
     * the small galaxy's (10-14 pixels on 3,000 draws, against an isophote
     * of 10.25; a median over whole rings gave 17-29) */
    for (int k = 0; k < 5; k++) {
        noise(c, sky_sigma);
        add_disc(c, 100, 2.0, 79.5, 79.5);
        add_disc(c, 3000, 4.0, 79.5 + 25, 79.5);
        assert_int_equal(gp_source_extent(c, &ext, &err), GP_OK);
        const double e = ext / GP_PIXEL_SCALE - disc_isophote(100, 2.0);
        if (!(e >= -4.0 && e <= 5.5))
            fail_msg("a small disc beside a bright one: extent %.2f px, isophote %.2f px", ext / GP_PIXEL_SCALE,
                     disc_isophote(100, 2.0));
    }
    /* sky alone: nothing reaches past the central ring or two */
    noise(c, sky_sigma);
    assert_int_equal(gp_source_extent(c, &ext, &err), GP_OK);
    assert_true(ext >= 0 && ext <= 2 * GP_PIXEL_SCALE);
    /* a disc brighter than the sky region allows: the search ends there */
    noise(c, sky_sigma);
    add_disc(c, 1e5, 20, 79.5, 79.5);
    assert_int_equal(gp_source_extent(c, &ext, &err), GP_OK);
    assert_true(fabs(ext - 64 * GP_PIXEL_SCALE) < 1e-9);
    /* a blank band: no sky to measure against */
    noise(c, sky_sigma);
    for (size_t p = 0; p < NPL; p++) c[NPL + p] = 0.0f;
    assert_int_equal(gp_source_extent(c, &ext, &err), GP_OK);
    assert_true(isnan(ext));
    assert_int_equal(gp_source_extent(NULL, &ext, &err), GP_ERR_ARG);
    assert_int_equal(gp_source_extent(c, NULL, &err), GP_ERR_ARG);
    free(c);
}

int main(int argc, char **argv)
{
    gp_test_seed("test_source_check");
    if (argc == 3 && !strcmp(argv[1], "--write-cutouts")) return write_cutouts(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_galaxy_passes),
        cmocka_unit_test(test_noise_zeros_constant_fail),
        cmocka_unit_test(test_beside_a_galaxy_fails),
        cmocka_unit_test(test_snr_limit_edge),
        cmocka_unit_test(test_nan_and_args),
        cmocka_unit_test(test_through_infer),
        cmocka_unit_test(test_summary_wording),
        cmocka_unit_test(test_real_frames),
        cmocka_unit_test(test_extent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
