/* gp_mock_profile.c: Gaussian-mixture Sersic profiles and circular photometry. */
#include "config.h"

#include <math.h>
#include <pthread.h>

#include "gp_mock_profile.h"

/* Hogg & Lang 2013 (PASP 125, 719), SDSS-truncated profiles, as in the Tractor. */
static double exp_amp[GP_MOG_EXP_N] = { 2.34853813e-03, 3.07995260e-02, 2.23364214e-01,
    1.17949102e+00, 4.33873750e+00, 5.99820770e+00 };
static double exp_var[GP_MOG_EXP_N] = { 1.20078965e-03, 8.84526493e-03, 3.91463084e-02,
    1.39976817e-01, 4.60962500e-01, 1.50159566e+00 };
static double dev_amp[GP_MOG_DEV_N] = { 4.26347652e-02, 2.40127183e-01, 6.85907632e-01,
    1.51937350e+00, 2.83627243e+00, 4.46467501e+00, 5.72440830e+00, 5.60989349e+00 };
static double dev_var[GP_MOG_DEV_N] = { 2.23759216e-04, 1.00220099e-03, 4.18731126e-03,
    1.69432589e-02, 6.84850479e-02, 2.87207080e-01, 1.33320254e+00, 8.40215071e+00 };
static pthread_once_t mog_once = PTHREAD_ONCE_INIT;

double gp_mock_mix_enclosed(int n, const double *amp, const double *var, double r)
{
    double s = 0.0;
    for (int k = 0; k < n; k++) s += amp[k] * (1.0 - exp(-0.5 * r * r / var[k]));
    return s;
}

double gp_mock_mix_radius(int n, const double *amp, const double *var, double frac)
{
    double tot = 0.0, vmax = 0.0;
    for (int k = 0; k < n; k++) { tot += amp[k]; if (var[k] > vmax) vmax = var[k]; }
    double lo = 0.0, hi = 10.0 * sqrt(vmax);
    for (int it = 0; it < 50; it++) {
        double mid = 0.5 * (lo + hi);
        if (gp_mock_mix_enclosed(n, amp, var, mid) < frac * tot) lo = mid; else hi = mid;
    }
    return 0.5 * (lo + hi);
}

static void normalise(double *amp, double *var, int n)
{
    double s = 0.0;
    for (int k = 0; k < n; k++) s += amp[k];
    for (int k = 0; k < n; k++) amp[k] /= s;
    double rh = gp_mock_mix_radius(n, amp, var, 0.5);
    for (int k = 0; k < n; k++) var[k] /= rh * rh;
}

static void mog_init(void)
{
    normalise(exp_amp, exp_var, GP_MOG_EXP_N);
    normalise(dev_amp, dev_var, GP_MOG_DEV_N);
}

void gp_mock_mog_get(int sersic_n, const double **amp, const double **var, int *ncomp)
{
    pthread_once(&mog_once, mog_init);
    if (sersic_n == 4) { *amp = dev_amp; *var = dev_var; *ncomp = GP_MOG_DEV_N; }
    else               { *amp = exp_amp; *var = exp_var; *ncomp = GP_MOG_EXP_N; }
}

int gp_mock_galaxy_circular_mix(const gp_mock_galaxy *g, int band, int with_psf,
                                double *amp, double *var)
{
    const double *ea, *ev, *da, *dv;
    int ne, nd, n = 0;
    gp_mock_mog_get(1, &ea, &ev, &ne);
    gp_mock_mog_get(4, &da, &dv, &nd);
    double bt = g->bt_band[band];
    double rd2 = g->re_disk * g->re_disk * g->q_disk;   /* circularised */
    double rb2 = g->re_bulge * g->re_bulge * g->q_bulge;
    const gp_mock_psf *p = &g->obs.psf[band];
    double ps[2] = { p->sigma1 * p->sigma1, p->sigma2 * p->sigma2 };
    double pf[2] = { p->frac1, 1.0 - p->frac1 };
    int np = with_psf ? 2 : 1;
    for (int j = 0; j < np; j++) {
        double pv = with_psf ? ps[j] : 0.0, pa = with_psf ? pf[j] : 1.0;
        for (int k = 0; k < ne; k++) { amp[n] = (1.0 - bt) * ea[k] * pa; var[n] = ev[k] * rd2 + pv; n++; }
        for (int k = 0; k < nd; k++) { amp[n] = bt * da[k] * pa; var[n] = dv[k] * rb2 + pv; n++; }
    }
    return n;
}

void gp_mock_mix_petrosian(int n, const double *amp, const double *var,
                           double *r_petro, double *frac_petro, double *r50, double *r90)
{
    /* SDSS: Petrosian ratio = mean SB in 0.8r-1.25r over mean SB inside r; 0.2 */
    double lo = 0.05, hi = 200.0;
    for (int it = 0; it < 60; it++) {
        double r = sqrt(lo * hi);
        double in = gp_mock_mix_enclosed(n, amp, var, r) / (r * r);
        double ann = (gp_mock_mix_enclosed(n, amp, var, 1.25 * r) -
                      gp_mock_mix_enclosed(n, amp, var, 0.8 * r)) / ((1.5625 - 0.64) * r * r);
        if (ann / in > 0.2) lo = r; else hi = r;
    }
    double rp = sqrt(lo * hi);
    double fp = gp_mock_mix_enclosed(n, amp, var, 2.0 * rp);
    double tot = 0.0;
    for (int k = 0; k < n; k++) tot += amp[k];
    *r_petro = rp;
    *frac_petro = fp / tot;
    /* radii enclosing 50% and 90% of the Petrosian flux */
    double a = 0.0, b = 2.0 * rp;
    for (int it = 0; it < 50; it++) {
        double m = 0.5 * (a + b);
        if (gp_mock_mix_enclosed(n, amp, var, m) < 0.5 * fp) a = m; else b = m;
    }
    *r50 = 0.5 * (a + b);
    a = 0.0; b = 2.0 * rp;
    for (int it = 0; it < 50; it++) {
        double m = 0.5 * (a + b);
        if (gp_mock_mix_enclosed(n, amp, var, m) < 0.9 * fp) a = m; else b = m;
    }
    *r90 = 0.5 * (a + b);
}
