/* gp_mock_obs.c: SDSS observing conditions: PSF, sky, calibration, gain and dark variance. */
#include "config.h"

#include <math.h>
#include <pthread.h>

#include "gp_mock.h"
#include "gp_mock_rng.h"

const char gp_mock_band_names[GP_MOCK_NBAND] = { 'u', 'g', 'r', 'i', 'z' };
const char *const gp_mock_line_names[GP_MOCK_NLINE] = { "h_alpha", "h_beta", "nii_6584", "oiii_5007" };

/* physics.md section 5: gain (e-/DN) and dark variance (DN^2) by band and camcol */
static const double gain_tab[5][6] = {
    { 1.62, 1.595, 1.59, 1.60, 1.47, 2.17 },
    { 3.32, 3.855, 3.845, 3.995, 4.05, 4.035 },
    { 4.71, 4.60, 4.72, 4.76, 4.725, 4.895 },
    { 5.165, 6.565, 4.86, 4.885, 4.64, 4.76 },
    { 4.745, 5.155, 4.885, 4.775, 3.48, 4.69 } };
static const double dark_tab[5][6] = {
    { 9.61, 12.6025, 8.7025, 12.6025, 9.3025, 7.0225 },
    { 15.6025, 1.44, 1.3225, 1.96, 1.1025, 1.8225 },
    { 1.8225, 1.00, 1.3225, 1.3225, 0.81, 0.9025 },
    { 7.84, 5.76, 4.6225, 6.25, 7.84, 5.0625 },
    { 0.81, 1.0, 1.0, 9.61, 1.8225, 1.21 } };

/* [M] typical nanomaggies per count, sky offsets from r and PSF width ratios to r */
static const double nmgy_count[5] = { 0.010, 0.0038, 0.0052, 0.0069, 0.033 };
static const double sky_offset[5] = { 22.1 - 20.86, 21.9 - 20.86, 0.0, 20.2 - 20.86, 19.0 - 20.86 };
static const double psf_ratio[5] = { 1.12, 1.05, 1.0, 0.944, 0.93 };

double gp_mock_gain(int band, int camcol, int run)
{
    if (band == GP_BAND_U && camcol == 2 && run > 1100) return 1.825;
    return gain_tab[band][camcol - 1];
}

double gp_mock_dark_variance(int band, int camcol, int run)
{
    if (run > 1500) {
        if (band == GP_BAND_I && camcol == 2) return 6.25;
        if (band == GP_BAND_I && camcol == 4) return 7.5625;
        if (band == GP_BAND_Z && camcol == 4) return 12.6025;
        if (band == GP_BAND_Z && camcol == 5) return 2.1025;
    }
    return dark_tab[band][camcol - 1];
}

/* half width at half maximum, in core sigmas, of the double Gaussian:
 * exp(-x^2/2) + 0.1 exp(-x^2/8) reaches half of its peak 1.1 at x = hwhm_core */
static double hwhm_core;
static pthread_once_t hwhm_once = PTHREAD_ONCE_INIT;

static void hwhm_solve(void)
{
    double lo = 1.0, hi = 1.5;
    for (int it = 0; it < 60; it++) {
        double m = 0.5 * (lo + hi);
        double v = exp(-0.5 * m * m) + 0.1 * exp(-m * m / 8.0);
        if (v > 0.55) lo = m; else hi = m;
    }
    hwhm_core = 0.5 * (lo + hi);
}

void gp_mock_psf_set(gp_mock_psf *p, double fwhm)
{
    /* core + wing with sigma2 = 2 sigma1 and wing/core peak ratio 0.1:
     * profile exp(-x^2/2) + 0.1 exp(-x^2/8) reaches half of its peak 1.1 at x = h */
    pthread_once(&hwhm_once, hwhm_solve);
    double h = hwhm_core;
    p->fwhm = fwhm;
    p->sigma1 = fwhm / (2.0 * h);
    p->sigma2 = 2.0 * p->sigma1;
    p->frac1 = 1.0 / (1.0 + 0.1 * 4.0);   /* fluxes: 1 : 0.1 * (sigma2/sigma1)^2 */
}

void gp_mock_obs_draw(gp_mock_rng *r, gp_mock_obs *obs)
{
    obs->camcol = 1 + (int)(gp_mock_rng_uniform(r) * 6.0);
    if (obs->camcol > 6) obs->camcol = 6;
    obs->run = 94 + (int)(gp_mock_rng_uniform(r) * 8000.0);
    /* r-band seeing: log-normal, median 1.43", quartiles 1.30"/1.58" (DR7) */
    double fwhm_r = 1.43 * exp(0.144 * gp_mock_rng_normal(r));
    /* r-band sky: median 20.86, quartiles 20.70/21.03 mag/arcsec^2 */
    double sky_r = 20.86 + 0.245 * gp_mock_rng_normal(r);
    for (int b = 0; b < GP_MOCK_NBAND; b++) {
        double fw = fwhm_r * psf_ratio[b] * exp(0.03 * gp_mock_rng_normal(r));
        gp_mock_psf_set(&obs->psf[b], fw);
        obs->sky_mag[b] = sky_r + sky_offset[b] + 0.10 * gp_mock_rng_normal(r);
        obs->sky_nmgy[b] = pow(10.0, -0.4 * (obs->sky_mag[b] - 22.5)) *
                           GP_MOCK_PIXSCALE * GP_MOCK_PIXSCALE;
        obs->nmgy_per_count[b] = nmgy_count[b] * exp(0.06 * gp_mock_rng_normal(r));
        obs->gain[b] = gp_mock_gain(b, obs->camcol, obs->run);
        obs->dark_var[b] = gp_mock_dark_variance(b, obs->camcol, obs->run);
        double sky_dn = obs->sky_nmgy[b] / obs->nmgy_per_count[b];
        obs->sigma_pix[b] = obs->nmgy_per_count[b] * sqrt(sky_dn / obs->gain[b] + obs->dark_var[b]);
    }
}
