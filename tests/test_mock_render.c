/* test_mock_render.c: mock images against a naive reference, flux in a large aperture,
 * noise level, saturation and determinism. */
#include "config.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gp_mock.h"
#include "gp_mock_profile.h"
#include "gp_mock_render.h"

#define S 160
static const int gri[3] = { GP_BAND_G, GP_BAND_R, GP_BAND_I };

/* naive: every Gaussian evaluated at every pixel with exp() */
static void naive_render(const gp_mock_galaxy *g, int band, double x0, double y0, double *out)
{
    double jac[4];
    gp_mock_jac_northup(jac);
    double sc = 1.0 / GP_MOCK_PIXSCALE;
    const gp_mock_psf *p = &g->obs.psf[band];
    double th = g->pa * M_PI / 180.0, ue = sin(th), un = cos(th);
    memset(out, 0, sizeof(double) * S * S);
    for (int comp = 0; comp < 2; comp++) {
        const double *amp, *var;
        int n;
        gp_mock_mog_get(comp ? 4 : 1, &amp, &var, &n);
        double frac = comp ? g->bt_band[band] : 1 - g->bt_band[band];
        double re = comp ? g->re_bulge : g->re_disk, q = comp ? g->q_bulge : g->q_disk;
        for (int k = 0; k < n; k++)
            for (int j = 0; j < 2; j++) {
                double smaj = var[k] * re * re, smin = smaj * q * q;
                /* pixel covariance: x = -E, y = N */
                double cee = smaj * ue * ue + smin * un * un, cnn = smaj * un * un + smin * ue * ue;
                double cen = (smaj - smin) * ue * un;
                double ps = j ? p->sigma2 : p->sigma1;
                double sxx = cee * sc * sc + ps * ps * sc * sc + 1.0 / 12, syy = cnn * sc * sc + ps * ps * sc * sc + 1.0 / 12;
                double sxy = -cen * sc * sc;
                double det = sxx * syy - sxy * sxy;
                double f = g->flux_true[band] * frac * amp[k] * (j ? 1 - p->frac1 : p->frac1);
                for (int yy = 0; yy < S; yy++)
                    for (int xx = 0; xx < S; xx++) {
                        double dx = xx - x0, dy = yy - y0;
                        double qf = (syy * dx * dx - 2 * sxy * dx * dy + sxx * dy * dy) / det;
                        out[yy * S + xx] += f / (2 * M_PI * sqrt(det)) * exp(-0.5 * qf);
                    }
            }
    }
    (void)jac;
}

static void test_against_naive(void **state)
{
    (void)state;
    gp_error err;
    float *img = malloc(sizeof(float) * 3 * S * S);
    double *ref = malloc(sizeof(double) * S * S);
    assert_non_null(img); assert_non_null(ref);
    for (uint64_t idx = 0; idx < 4; idx++) {
        gp_mock_galaxy g;
        assert_int_equal(gp_mock_galaxy_draw(555, idx, NULL, &g, &err), GP_OK);
        gp_mock_canvas c = { img, S, S, { 0 }, &g.obs, GP_BAND_R, 1e-6 * g.obs.sigma_pix[GP_BAND_R] };
        gp_mock_jac_northup(c.jac);
        memset(img, 0, sizeof(float) * S * S);
        gp_mock_shape sh;
        gp_mock_shape_of(&g, GP_BAND_R, &sh);
        double x0 = 79.5 + 0.37, y0 = 79.5 - 0.21;
        gp_mock_render_galaxy(&c, &sh, g.flux_true[GP_BAND_R], x0, y0);
        naive_render(&g, GP_BAND_R, x0, y0, ref);
        double peak = 0, maxdiff = 0;
        for (int k = 0; k < S * S; k++) {
            assert_true(isfinite(img[k]));
            if (ref[k] > peak) peak = ref[k];
            double d = fabs(img[k] - ref[k]);
            if (d > maxdiff) maxdiff = d;
        }
        /* recurrence and truncation error: below 1e-4 of the peak and of the pixel noise */
        assert_true(maxdiff < 1e-4 * peak + 1e-4 * g.obs.sigma_pix[GP_BAND_R]);
    }
    free(img); free(ref);
}

static void test_aperture_flux(void **state)
{
    (void)state;
    gp_error err;
    float *img = malloc(sizeof(float) * 3 * S * S);
    assert_non_null(img);
    int tested = 0;
    for (uint64_t idx = 100; idx < 160 && tested < 20; idx++) {
        gp_mock_galaxy g;
        assert_int_equal(gp_mock_galaxy_draw(777, idx, NULL, &g, &err), GP_OK);
        if (fmax(g.re_disk, g.re_bulge) > 6.0) continue;   /* must fit the 63" stamp */
        tested++;
        /* noiseless: the model holds the catalogue flux */
        assert_int_equal(gp_mock_render_cutout(777, &g, gri, 3, S, GP_MOCK_CUTOUT_ALONE | GP_MOCK_CUTOUT_NONOISE,
                                               img, &err), GP_OK);
        for (int b = 0; b < 3; b++) {
            double s = 0;
            for (int k = 0; k < S * S; k++) s += img[b * S * S + k];
            assert_true(fabs(s - g.flux_true[gri[b]]) < 0.01 * g.flux_true[gri[b]]);
        }
        /* with noise: within 5 sigma of the summed pixel variance */
        assert_int_equal(gp_mock_render_cutout(777, &g, gri, 3, S, GP_MOCK_CUTOUT_ALONE, img, &err), GP_OK);
        for (int b = 0; b < 3; b++) {
            const gp_mock_obs *o = &g.obs;
            int band = gri[b];
            double s = 0;
            for (int k = 0; k < S * S; k++) s += img[b * S * S + k];
            double var = S * S * o->sigma_pix[band] * o->sigma_pix[band] +
                         g.flux_true[band] * o->nmgy_per_count[band] / o->gain[band];
            assert_true(fabs(s - g.flux_true[band]) < 5 * sqrt(var) + 0.01 * g.flux_true[band]);
        }
        /* the noise in an empty corner matches the sky-limited sigma */
        double s1 = 0, s2 = 0;
        int n = 0;
        for (int y = 0; y < 30; y++)
            for (int x = 0; x < 30; x++) { double v = img[S * S + y * S + x]; s1 += v; s2 += v * v; n++; }
        double sd = sqrt(s2 / n - (s1 / n) * (s1 / n));
        assert_true(fabs(sd / g.obs.sigma_pix[GP_BAND_R] - 1.0) < 0.1);
    }
    assert_true(tested >= 10);
    free(img);
}

static void test_determinism_and_saturation(void **state)
{
    (void)state;
    gp_error err;
    float *a = malloc(sizeof(float) * 3 * S * S), *b = malloc(sizeof(float) * 3 * S * S);
    assert_non_null(a); assert_non_null(b);
    gp_mock_galaxy g;
    assert_int_equal(gp_mock_galaxy_draw(31, 5, NULL, &g, &err), GP_OK);
    assert_int_equal(gp_mock_render_cutout(31, &g, gri, 3, S, 0, a, &err), GP_OK);
    assert_int_equal(gp_mock_render_cutout(31, &g, gri, 3, S, 0, b, &err), GP_OK);
    assert_memory_equal(a, b, sizeof(float) * 3 * S * S);
    assert_int_equal(gp_mock_render_cutout(32, &g, gri, 3, S, 0, b, &err), GP_OK);
    assert_true(memcmp(a, b, sizeof(float) * 3 * S * S) != 0);
    assert_int_equal(gp_mock_render_cutout(31, &g, gri, 3, 4, 0, b, &err), GP_ERR_ARG);
    /* a r = 10 star saturates: clipped core and a bleed trail along the columns */
    gp_mock_canvas c = { a, S, S, { 0 }, &g.obs, GP_BAND_R, 1e-3 * g.obs.sigma_pix[GP_BAND_R] };
    gp_mock_jac_northup(c.jac);
    memset(a, 0, sizeof(float) * S * S);
    gp_mock_render_star(&c, pow(10.0, -0.4 * (10.0 - 22.5)), 80, 80);
    gp_mock_render_saturate(&c, 0.0, 1.0);
    double cimg = g.obs.nmgy_per_count[GP_BAND_R];
    float sat = (float)((GP_MOCK_SATURATION_DN - g.obs.sky_nmgy[GP_BAND_R] / cimg) * cimg);
    int trail = 0;
    for (int y = 0; y < S; y++) {
        assert_true(a[y * S + 80] <= sat);
        if (a[y * S + 80] == sat) trail++;
    }
    int across = 0;
    for (int x = 0; x < S; x++) if (a[80 * S + x] == sat) across++;
    assert_true(trail > 2 * across);   /* elongated along y */
    free(a); free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_naive),
        cmocka_unit_test(test_aperture_flux),
        cmocka_unit_test(test_determinism_and_saturation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
