/* gp_mock_population.c: one mock galaxy, physics.md sections 0-6 and the MGS
 * selection.  Every [M] value that was tuned is listed in sim/CALIBRATION.md. */
#include "config.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#include "gp_cosmo.h"
#include "gp_mock.h"
#include "gp_mock_profile.h"
#include "gp_mock_rng.h"

/* lines and labels: gp_mock_lines.c */
void gp_mock_lines_draw(gp_mock_rng *pop, gp_mock_rng *obs, gp_mock_galaxy *g);

/* ---- Baldry+12 double Schechter, inverse CDF in log M ---- */
#define MF_LO   6.0
#define MF_HI   12.5
#define MF_N    6501
static double mf_cdf[MF_N];
static pthread_once_t mf_once = PTHREAD_ONCE_INIT;

static double mf_phi(double logm)
{
    double x = pow(10.0, logm - 10.66);
    return log(10.0) * exp(-x) * (3.96e-3 * pow(x, -0.35 + 1.0) + 0.79e-3 * pow(x, -1.47 + 1.0));
}

static void mf_build(void)
{
    double h = (MF_HI - MF_LO) / (MF_N - 1);
    mf_cdf[0] = 0.0;
    for (int i = 1; i < MF_N; i++) {
        double a = MF_LO + (i - 1) * h;
        mf_cdf[i] = mf_cdf[i - 1] + h / 6.0 * (mf_phi(a) + 4.0 * mf_phi(a + 0.5 * h) + mf_phi(a + h));
    }
}

static double mf_cdf_at(double logm)
{
    double h = (MF_HI - MF_LO) / (MF_N - 1), x = (logm - MF_LO) / h;
    int i = (int)x;
    if (i < 0) return 0.0;
    if (i >= MF_N - 1) return mf_cdf[MF_N - 1];
    return mf_cdf[i] + (x - i) * (mf_cdf[i + 1] - mf_cdf[i]);
}

static double mf_draw(double u, double lo, double hi)
{
    double c = mf_cdf_at(lo) + u * (mf_cdf_at(hi) - mf_cdf_at(lo));
    int a = 0, b = MF_N - 1;
    while (b - a > 1) { int m = (a + b) / 2; if (mf_cdf[m] <= c) a = m; else b = m; }
    double h = (MF_HI - MF_LO) / (MF_N - 1);
    double t = (c - mf_cdf[a]) / (mf_cdf[b] - mf_cdf[a] + 1e-300);
    return MF_LO + (a + t) * h;
}

void gp_mock_popopt_default(gp_mock_popopt *o)
{
    o->zmin = 0.005; o->zmax = 0.33;
    o->logm_min = 8.0; o->logm_max = 12.0;
    o->select_mgs = 1;
    o->rlim_unselected = 23.0;
    o->single_try = 0;
    o->fixed_obs = NULL;
}

double gp_mock_expected_count(const gp_mock_popopt *o, double omega_sr)
{
    pthread_once(&mf_once, mf_build);
    double d0 = gp_cosmo_comoving_mpc(o->zmin), d1 = gp_cosmo_comoving_mpc(o->zmax);
    double vol = omega_sr / 3.0 * (d1 * d1 * d1 - d0 * d0 * d0);
    return vol * (mf_cdf_at(o->logm_max) - mf_cdf_at(o->logm_min));
}

/* ---- relations ---- */
static double clip(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }

/* star-forming main sequence: Renzini & Peng 2015 ridge, evolving with cosmic time
 * as Speagle+14 (relative to its value at z = 0.1) */
static double main_sequence(double logm, double z)
{
    double t = gp_cosmo_age_gyr(z), t01 = gp_cosmo_age_gyr(0.1);
    double sp = (0.84 - 0.026 * t) * logm - (6.51 - 0.11 * t);
    double sp01 = (0.84 - 0.026 * t01) * logm - (6.51 - 0.11 * t01);
    return 0.76 * logm - 7.64 + (sp - sp01);
}

/* Tremonti+04 MZR (T04 / MPA-JHU oh_p50 scale) */
static double mzr_t04(double logm)
{
    double x = clip(logm, 8.5, 11.5);
    return -1.492 + 1.847 * x - 0.08026 * x * x;
}

/* Zahid+16 broken power law [M] */
static double sigma_zahid(double logm)
{
    double d = logm - 10.26;
    return 118.0 * pow(10.0, (d < 0 ? 0.40 : 0.29) * d);
}

/* Garn & Best 2010 A_Halpha(M*) */
double gp_mock_garn_best(double logm);
double gp_mock_garn_best(double logm)
{
    if (logm < 8.66) return 0.292;
    if (logm > 11.96) return 2.164;
    double x = logm - 10.0;
    return 0.91 + 0.77 * x + 0.11 * x * x - 0.09 * x * x * x;
}

/* Smith+17 0.1(g-r) red and blue sequences, Mr = 0.1M_r - 5 log h */
static void smith_colours(double mr, double z, double *red, double *red_rms,
                          double *blue, double *blue_rms)
{
    *red = 0.932 - 0.032 * (mr + 20.0);
    *red_rms = clip(0.07 + 0.01 * (mr + 20.0), 0.03, 0.15);
    double cb = 0.62 - 0.11 * (mr + 20.0), cf = 0.40 - 0.0286 * (mr + 16.0);
    *blue = log10(pow(10.0, 9.0 * cb) + pow(10.0, 9.0 * cf)) / 9.0;
    *blue_rms = clip(0.12 + 0.02 * (mr + 20.0), 0.02, 0.15);
    if (z > 0.1) { *red -= 0.18 * (z - 0.1); *blue -= 0.25 * (z - 0.1); }
}

/* rest-frame (z = 0) colour anchors u-g, r-i, i-z versus g-r (Fukugita+95 types [M],
 * tuned against dr14-galaxies-specz.csv: sim/CALIBRATION.md) */
static const double anchor_gr[3] = { 0.35, 0.60, 0.77 };
/* u-g of the blue and red populations: value at g-r = 0.35 (blue) or 0.77 (red),
 * slope in g-r (tuned against the real u-r bimodality: CALIBRATION.md section 6) */
static const double ug_blue[2] = { 0.82, 1.60 };
/* main-sequence scatter of star-forming galaxies (dex) and the u-g response to the
 * offset from the main sequence at fixed g-r (mag per dex; CALIBRATION.md section 8) */
#define GP_MOCK_MS_SCATTER 0.2
#define GP_MOCK_UG_MS_SLOPE 0.3
_Static_assert(GP_MOCK_UG_MS_SLOPE * GP_MOCK_MS_SCATTER < 0.07,
               "the u-g term must fit in the 0.07 mag of u-g scatter it takes a part of");
static const double ug_red[2] = { 1.75, 1.00 };
static const double anchor_ri[3] = { 0.18, 0.33, 0.40 };
static const double anchor_iz[3] = { 0.13, 0.27, 0.29 };

static double anchor_interp(const double *y, double gr)
{
    int k = gr < anchor_gr[1] ? 0 : 1;
    double t = (gr - anchor_gr[k]) / (anchor_gr[k + 1] - anchor_gr[k]);
    return y[k] + t * (y[k + 1] - y[k]);
}

/* Calzetti k at ugriz band centres, and SFD-based extinction R_b (Schlafly & Finkbeiner 11) */
static const double k_band[5] = { 6.10, 4.77, 3.57, 2.81, 2.21 };
static const double r_ext[5] = { 4.239, 3.303, 2.285, 1.698, 1.263 };
/* SDSS system relative to AB: u = u_AB + 0.04, z = z_AB - 0.02 */
static const double ab_offset[5] = { 0.04, 0.0, 0.0, 0.0, -0.02 };
/* photometric calibration scatter (mag) */
static const double calib_err[5] = { 0.02, 0.01, 0.01, 0.01, 0.015 };

/* ---- physical properties (stream: POPULATION) ---- */
static void draw_physics(gp_mock_rng *r, const gp_mock_popopt *o, gp_mock_galaxy *g)
{
    /* redshift: uniform in comoving volume */
    double d0 = gp_cosmo_comoving_mpc(o->zmin), d1 = gp_cosmo_comoving_mpc(o->zmax);
    double u = gp_mock_rng_uniform(r);
    double dc = cbrt(d0 * d0 * d0 + u * (d1 * d1 * d1 - d0 * d0 * d0));
    g->z = gp_cosmo_z_from_comoving(dc);
    g->logm_true = mf_draw(gp_mock_rng_uniform(r), o->logm_min, o->logm_max);
}

/* quick, conservative test: can this (M*, z) be brighter than r = rlim at all? */
static int could_be_visible(const gp_mock_galaxy *g, double rlim)
{
    /* bluest plausible M/L: log M/L_r >= -0.75 (and 3 sigma of luminosity scatter) */
    double mr = 4.65 - 2.5 * (g->logm_true + 0.75 + 0.3);
    double m = mr + gp_cosmo_distmod(g->z) - 0.15;
    return m < rlim + 0.5;
}

static void draw_star_formation(gp_mock_rng *r, gp_mock_galaxy *g)
{
    double fq = 1.0 - exp(-pow(pow(10.0, g->logm_true - 10.56), 0.80));
    double ms = main_sequence(g->logm_true, g->z);
    double u = gp_mock_rng_uniform(r);
    if (u < fq * 0.78) {
        g->sfstate = GP_SFSTATE_QUENCHED;
        g->logsfr_true = g->logm_true - 12.0 + 0.4 * gp_mock_rng_normal(r);
    } else if (u < fq) {
        g->sfstate = GP_SFSTATE_GREEN;
        g->logsfr_true = ms + gp_mock_rng_range(r, -1.4, -0.45);
    } else {
        g->sfstate = GP_SFSTATE_SF;
        /* physics.md: N(0, 0.2-0.3) */
        g->logsfr_true = ms + GP_MOCK_MS_SCATTER * gp_mock_rng_normal(r);
    }
    /* metallicity (T04 scale): MZR, FMR-like shift with the offset from the MS, scatter */
    g->oh_true = mzr_t04(g->logm_true) - 0.08 * clip(g->logsfr_true - ms, -1.5, 1.0) +
                 0.08 * gp_mock_rng_normal(r);
    /* host dust (Garn & Best 2010), 0.3 mag scatter */
    g->a_halpha = fmax(0.0, gp_mock_garn_best(g->logm_true) + 0.3 * gp_mock_rng_normal(r));
}

static void draw_structure(gp_mock_rng *r, gp_mock_galaxy *g)
{
    double lm = g->logm_true, m = pow(10.0, lm);
    double bt;
    if (g->sfstate == GP_SFSTATE_QUENCHED)
        bt = clip(0.55 + 0.15 * (lm - 10.5) + 0.18 * gp_mock_rng_normal(r), 0.1, 1.0);
    else
        bt = clip(0.12 + 0.15 * (lm - 10.0) + (g->sfstate == GP_SFSTATE_GREEN ? 0.15 : 0.0) +
                  0.12 * gp_mock_rng_normal(r), 0.0, 0.85);
    g->bt = bt;
    /* Shen+03 sizes by type; early type when bulge dominated */
    double r50;
    if (bt > 0.5) {
        r50 = 2.88e-6 * pow(m, 0.56) * exp(0.32 * gp_mock_rng_normal(r));
    } else {
        double m0 = 3.98e10;
        double s = 0.34 + (0.47 - 0.34) / (1.0 + (m / m0) * (m / m0));
        r50 = 0.1 * pow(m, 0.14) * pow(1.0 + m / m0, 0.39 - 0.14) * exp(s * gp_mock_rng_normal(r));
    }
    r50 = clip(r50, 0.2, 60.0);
    g->r50_kpc = r50;
    double kpc_as = gp_cosmo_kpc_per_arcsec(g->z);
    double r50_as = r50 / kpc_as;
    /* bulge compact relative to disk; scale both so the face-on composite has R50 */
    double kappa = bt > 0.5 ? 0.6 : 0.35;
    double cosi = gp_mock_rng_uniform(r), q0 = 0.2;
    g->q_disk = sqrt(q0 * q0 + (1.0 - q0 * q0) * cosi * cosi);
    g->q_bulge = clip(0.75 + 0.15 * gp_mock_rng_normal(r), 0.3, 1.0);
    g->pa = 180.0 * gp_mock_rng_uniform(r);
    const double *ea, *ev, *da, *dv;
    int ne, nd;
    gp_mock_mog_get(1, &ea, &ev, &ne);
    gp_mock_mog_get(4, &da, &dv, &nd);
    double amp[GP_MOG_EXP_N + GP_MOG_DEV_N], var[GP_MOG_EXP_N + GP_MOG_DEV_N];
    int n = 0;
    for (int k = 0; k < ne; k++) { amp[n] = (1 - bt) * ea[k]; var[n++] = ev[k]; }
    for (int k = 0; k < nd; k++) { amp[n] = bt * da[k]; var[n++] = dv[k] * kappa * kappa; }
    double rh = gp_mock_mix_radius(n, amp, var, 0.5);
    g->re_disk = r50_as / rh;
    g->re_bulge = kappa * g->re_disk;
    /* velocity dispersion: Zahid+16, discs lower [M] */
    g->sigma_e = sigma_zahid(lm) * pow(10.0, -0.1 * (1.0 - bt) + 0.1 * gp_mock_rng_normal(r));
    g->log_mbh_true = 8.32 + 5.64 * log10(g->sigma_e / 200.0) + 0.38 * gp_mock_rng_normal(r);
}

static void draw_colours(gp_mock_rng *r, gp_mock_galaxy *g)
{
    double lm = g->logm_true;
    double ssfr = g->logsfr_true - lm;
    double w = 1.0 / (1.0 + exp((ssfr + 10.8) / 0.3));
    /* first-guess luminosity for the colour-magnitude relation */
    double gi0 = 0.75 + 0.45 * w;
    double mi0 = (1.15 + 0.70 * gi0 - lm) / 0.4;
    double mr01 = mi0 + 0.35 + 0.775;   /* to 0.1M_r - 5 log h (h = 0.7) */
    double red, red_rms, blue, blue_rms;
    smith_colours(mr01, g->z, &red, &red_rms, &blue, &blue_rms);
    double rms = (1.0 - w) * blue_rms + w * red_rms;
    g->gr01 = (1.0 - w) * blue + w * red + rms * gp_mock_rng_normal(r);
    /* 0.1(g-r) -> (g-r) at z = 0: the band shift reddens red spectra more than
     * flat blue ones (physics.md gives a constant -0.1 as rough; tuned, CALIBRATION.md) */
    double gr = g->gr01 - 0.13 * clip((g->gr01 - 0.4) / 0.55, 0.0, 1.0);
    /* u-g: the blue and red populations follow their own lines in (g-r, u-g), mixed
     * with the same sSFR weight as g-r, so that u-r separates them as in the real
     * sample (tuned, CALIBRATION.md section 6) */
    /* On the main sequence a galaxy above it (younger stars) is bluer in u-g at the
     * same g-r: in the real line table u-g at fixed g-r and r tracks the Halpha
     * equivalent width of star-forming galaxies.  That term takes part of the 0.07
     * mag of u-g scatter, whose total the real MGS sample fixes (CALIBRATION.md
     * section 8).  The sSFR weight w below the main sequence adds another 0.15
     * mag/dex in the same direction, so u-g responds 0.45 mag/dex in all. */
    double ug_ms = 0.0, ug_rms = 0.07;
    if (g->sfstate == GP_SFSTATE_SF) {
        double a = GP_MOCK_UG_MS_SLOPE * GP_MOCK_MS_SCATTER;
        ug_ms = -GP_MOCK_UG_MS_SLOPE * (g->logsfr_true - main_sequence(lm, g->z));
        ug_rms = sqrt(0.07 * 0.07 - a * a);
    }
    double ug = (1.0 - w) * (ug_blue[0] + ug_blue[1] * (gr - 0.35)) +
                w * (ug_red[0] + ug_red[1] * (gr - 0.77)) + ug_ms + ug_rms * gp_mock_rng_normal(r);
    double ri = anchor_interp(anchor_ri, gr) + 0.03 * gp_mock_rng_normal(r);
    double iz = anchor_interp(anchor_iz, gr) + 0.04 * gp_mock_rng_normal(r);
    /* individual dust beyond the mean already in the colour relations (SF and green):
     * A_band = k_band E_s, E_s = 0.44 E_gas, E_gas = A_Halpha / k_Halpha */
    double da[5] = { 0, 0, 0, 0, 0 };
    if (g->sfstate != GP_SFSTATE_QUENCHED) {
        double des = 0.44 * (g->a_halpha - gp_mock_garn_best(lm)) / 3.326;
        for (int b = 0; b < 5; b++) da[b] = k_band[b] * des;
    }
    ug += da[0] - da[1]; gr += da[1] - da[2]; ri += da[2] - da[3]; iz += da[3] - da[4];
    g->rest_col[0] = ug; g->rest_col[1] = gr; g->rest_col[2] = ri; g->rest_col[3] = iz;
    /* Taylor+11 M/L with 0.1 dex scatter in M/L */
    double gi = gr + ri;
    double mi = (1.15 + 0.70 * gi - lm + 0.10 * gp_mock_rng_normal(r)) / 0.4;
    g->absmag[GP_BAND_I] = mi;
    g->absmag[GP_BAND_R] = mi + ri;
    g->absmag[GP_BAND_G] = mi + ri + gr;
    g->absmag[GP_BAND_U] = mi + ri + gr + ug;
    g->absmag[GP_BAND_Z] = mi - iz;
}

static void apply_kcorrections(gp_mock_galaxy *g)
{
    double dm = gp_cosmo_distmod(g->z);
    double k[5] = { 0, 0, 0, 0, 0 }, m[5];
    for (int it = 0; it < 3; it++) {
        for (int b = 0; b < 5; b++) m[b] = g->absmag[b] + dm + k[b];
        k[GP_BAND_U] = gp_mock_kcorr(GP_BAND_U, g->z, m[0] - m[2]);
        k[GP_BAND_G] = gp_mock_kcorr(GP_BAND_G, g->z, m[1] - m[2]);
        k[GP_BAND_R] = gp_mock_kcorr(GP_BAND_R, g->z, m[1] - m[2]);
        k[GP_BAND_I] = gp_mock_kcorr(GP_BAND_I, g->z, m[1] - m[3]);
        k[GP_BAND_Z] = gp_mock_kcorr(GP_BAND_Z, g->z, m[2] - m[4]);
    }
    for (int b = 0; b < 5; b++) {
        g->kcorr[b] = k[b];
        g->mag_true[b] = g->absmag[b] + dm + k[b] + ab_offset[b] + r_ext[b] * g->ebv;
        g->extinction[b] = r_ext[b] * g->ebv;
        g->flux_true[b] = pow(10.0, -0.4 * (g->mag_true[b] - 22.5));
    }
    /* bulges redder than discs: band B/T relative to r [M] */
    static const double bt_scale[5] = { 0.70, 0.85, 1.0, 1.05, 1.08 };
    for (int b = 0; b < 5; b++) g->bt_band[b] = clip(g->bt * bt_scale[b], 0.0, 1.0);
}

/* ---- catalogue photometry (stream: OBSERVE) ---- */
static double flux_sigma(const gp_mock_galaxy *g, int b, double flux, double area_as2)
{
    return gp_mock_flux_sigma(&g->obs, b, flux, area_as2);
}

double gp_mock_flux_sigma(const gp_mock_obs *o, int b, double flux, double area_as2)
{
    double npix = area_as2 / (GP_MOCK_PIXSCALE * GP_MOCK_PIXSCALE);
    double var = npix * o->sigma_pix[b] * o->sigma_pix[b] +
                 fmax(flux, 0.0) * o->nmgy_per_count[b] / o->gain[b];
    return sqrt(var);
}

static double mag_from_flux(double f) { return 22.5 - 2.5 * log10(fmax(f, 1e-3)); }

static void observe_photometry(gp_mock_rng *r, gp_mock_galaxy *g)
{
    double amp[GP_MOG_MAX], var[GP_MOG_MAX];
    for (int b = 0; b < 5; b++) {
        int n = gp_mock_galaxy_circular_mix(g, b, 1, amp, var);
        /* effective noise area of a model fit: 4 pi sigma_eff^2 with flux-weighted variance */
        double s2 = 0.0;
        for (int k = 0; k < n; k++) s2 += amp[k] * var[k];
        double sf = flux_sigma(g, b, g->flux_true[b], 4.0 * M_PI * s2);
        double f = g->flux_true[b] * pow(10.0, -0.4 * calib_err[b] * gp_mock_rng_normal(r)) +
                   sf * gp_mock_rng_normal(r);
        g->modelmag[b] = mag_from_flux(f);
        g->modelmag_err[b] = 1.0857 * sf / fmax(f, 1e-3);
        /* 3" fibre magnitude */
        g->fibermag[b] = g->mag_true[b] - 2.5 * log10(fmax(gp_mock_mix_enclosed(n, amp, var, 1.5), 1e-6));
        if (b == GP_BAND_R) {
            double rp, fp, r50, r90;
            gp_mock_mix_petrosian(n, amp, var, &rp, &fp, &r50, &r90);
            double fpet = g->flux_true[b] * fp;
            double sp = flux_sigma(g, b, fpet, M_PI * 4.0 * rp * rp);
            double fo = fpet * pow(10.0, -0.4 * calib_err[b] * gp_mock_rng_normal(r)) +
                        sp * gp_mock_rng_normal(r);
            g->petromag_r = mag_from_flux(fo);
            g->petromag_err_r = 1.0857 * sp / fmax(fo, 1e-3);
            double sn = fpet / sp;
            double rel = sqrt(0.03 * 0.03 + 1.0 / (sn * sn));
            g->petror50_r = r50 * exp(rel * gp_mock_rng_normal(r));
            g->petror90_r = r90 * exp(rel * gp_mock_rng_normal(r));
            /* PSF magnitude: matched filter with the PSF (single-Gaussian approximation) */
            const gp_mock_psf *p = &g->obs.psf[b];
            double sp2 = p->frac1 * p->sigma1 * p->sigma1 + (1 - p->frac1) * p->sigma2 * p->sigma2;
            double fpsf = 0.0;
            for (int k = 0; k < n; k++) fpsf += amp[k] * 2.0 * sp2 / (var[k] + sp2);
            g->psfmag_r = mag_from_flux(g->flux_true[b] * fpsf);
        }
    }
    g->mu50 = g->petromag_r - g->extinction[GP_BAND_R] +
              2.5 * log10(2.0 * M_PI * g->petror50_r * g->petror50_r);
}

static int mgs_selected(const gp_mock_galaxy *g)
{
    if (g->petromag_r - g->extinction[GP_BAND_R] > 17.77) return 0;
    if (g->mu50 > 24.5) return 0;
    if (g->fibermag[GP_BAND_G] < 15.0 || g->fibermag[GP_BAND_R] < 15.0 ||
        g->fibermag[GP_BAND_I] < 14.5) return 0;
    if (g->psfmag_r - g->modelmag[GP_BAND_R] <= 0.3) return 0;
    return 1;
}

int gp_mock_galaxy_draw(uint64_t seed, uint64_t index, const gp_mock_popopt *opt,
                        gp_mock_galaxy *g, gp_error *err)
{
    gp_mock_popopt def;
    if (!opt) { gp_mock_popopt_default(&def); opt = &def; }
    if (!(opt->zmin >= 0.0 && opt->zmax > opt->zmin && opt->zmax <= 0.6))
        return GP_FAIL(err, GP_ERR_ARG, "mock population: redshift range %g-%g is not within 0-0.6",
                       opt->zmin, opt->zmax);
    if (!(opt->logm_min >= MF_LO && opt->logm_max <= MF_HI && opt->logm_max > opt->logm_min))
        return GP_FAIL(err, GP_ERR_ARG, "mock population: log M* range %g-%g is not within %g-%g",
                       opt->logm_min, opt->logm_max, MF_LO, MF_HI);
    pthread_once(&mf_once, mf_build);
    double rlim = opt->select_mgs ? 17.77 : opt->rlim_unselected;
    gp_mock_rng pop, obs;
    gp_mock_rng_init(&pop, seed, index, GP_STREAM_POPULATION);
    gp_mock_rng_init(&obs, seed, index, GP_STREAM_OBSERVE);
    long max_attempts = opt->single_try ? 1 : 1000000;
    for (long attempt = 0; attempt < max_attempts; attempt++) {
        memset(g, 0, sizeof *g);
        g->index = index;
        draw_physics(&pop, opt, g);
        if (!could_be_visible(g, rlim + 0.5)) continue;
        draw_star_formation(&pop, g);
        draw_structure(&pop, g);
        g->ebv = clip(0.03 * exp(0.55 * gp_mock_rng_normal(&pop)), 0.005, 0.25);
        draw_colours(&pop, g);
        apply_kcorrections(g);
        if (g->mag_true[GP_BAND_R] - g->extinction[GP_BAND_R] > rlim + 1.0) continue;
        if (opt->fixed_obs) g->obs = *opt->fixed_obs;
        else gp_mock_obs_draw(&obs, &g->obs);
        observe_photometry(&obs, g);
        g->selected = mgs_selected(g);
        if (opt->select_mgs ? !g->selected
                            : g->petromag_r - g->extinction[GP_BAND_R] > opt->rlim_unselected)
            continue;
        gp_mock_lines_draw(&pop, &obs, g);
        /* a position in the northern SDSS footprint (shards; fields overwrite it) */
        gp_mock_rng pos;
        gp_mock_rng_init(&pos, seed, index, GP_STREAM_POSITION);
        g->ra = gp_mock_rng_range(&pos, 110.0, 260.0);
        g->dec = asin(gp_mock_rng_range(&pos, sin(-5.0 * M_PI / 180), sin(65.0 * M_PI / 180))) * 180.0 / M_PI;
        g->objid = (int64_t)(0x0580000000000000LL | (int64_t)(index & 0xffffffffffffLL));
        return GP_OK;
    }
    if (opt->single_try) return GP_ERR_NOTFOUND;
    return GP_FAIL(err, GP_ERR_DATA, "mock population: galaxy %llu: nothing passed the cuts in 1e6 draws",
                   (unsigned long long)index);
}
