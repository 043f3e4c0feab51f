/*
 * gp_mock.h: the mock SDSS sky (internal API of libgpsim).
 *
 * A galaxy is drawn from a counter-based stream keyed by (seed, index):
 * population physics (../shared/docs/physics.md sections 0-7), observing
 * conditions, catalogue photometry with SDSS-like errors, fibre emission
 * lines, MPA-JHU-style labels, and the SDSS Main Galaxy Sample selection.
 * Rendering (gp_mock_render.c) turns it into nanomaggy images.
 */
#ifndef GALPOST_GP_MOCK_H
#define GALPOST_GP_MOCK_H

#include <stdint.h>

#include "galpost/gp_error.h"

#define GP_MOCK_NBAND     5
#define GP_MOCK_PIXSCALE  0.396      /* arcsec per pixel */
#define GP_MOCK_EXPTIME   53.907456  /* s */
#define GP_MOCK_SENTINEL  (-9999.0)
#define GP_MOCK_NLINE     4          /* Halpha, Hbeta, [NII]6584, [OIII]5007 */

enum { GP_BAND_U, GP_BAND_G, GP_BAND_R, GP_BAND_I, GP_BAND_Z };
enum { GP_LINE_HA, GP_LINE_HB, GP_LINE_NII, GP_LINE_OIII };
enum { GP_SFSTATE_SF = 0, GP_SFSTATE_GREEN = 1, GP_SFSTATE_QUENCHED = 2 };
enum { GP_AGN_NONE = 0, GP_AGN_SEYFERT = 1, GP_AGN_LINER = 2 };

extern const char gp_mock_band_names[GP_MOCK_NBAND];
extern const char *const gp_mock_line_names[GP_MOCK_NLINE];

/* Double-Gaussian PSF of one band (arcsec). */
typedef struct gp_mock_psf {
    double fwhm;          /* FWHM of the summed profile */
    double sigma1, sigma2;/* core and wing sigma, sigma2 = 2 sigma1 */
    double frac1;         /* flux fraction in the core */
} gp_mock_psf;

/* Observing conditions of one galaxy (or one field). */
typedef struct gp_mock_obs {
    int    run, camcol;
    gp_mock_psf psf[GP_MOCK_NBAND];
    double sky_mag[GP_MOCK_NBAND];  /* mag/arcsec^2 */
    double sky_nmgy[GP_MOCK_NBAND]; /* per pixel, subtracted */
    double nmgy_per_count[GP_MOCK_NBAND];
    double gain[GP_MOCK_NBAND], dark_var[GP_MOCK_NBAND];
    double sigma_pix[GP_MOCK_NBAND];/* sky-limited noise per pixel, nmgy */
} gp_mock_obs;

typedef struct gp_mock_galaxy {
    uint64_t index;
    int64_t  objid;
    double   ra, dec;
    int      selected;           /* passes the MGS cuts */
    /* --- physical truth --- */
    double z;
    double logm_true, logsfr_true, oh_true, sigma_e, log_mbh_true;
    int    sfstate, agn;
    double a_halpha;             /* mag, host dust */
    double bt;                   /* r-band bulge-to-total */
    double re_disk, re_bulge;    /* arcsec, semi-major half-light radii */
    double q_disk, q_bulge, pa;  /* pa: degrees east of north */
    double r50_kpc;
    double gr01;                 /* rest-frame 0.1(g-r) */
    double rest_col[4];          /* rest z=0 u-g, g-r, r-i, i-z */
    double absmag[GP_MOCK_NBAND];
    double kcorr[GP_MOCK_NBAND];
    double mag_true[GP_MOCK_NBAND]; /* apparent, incl. Galactic extinction */
    double flux_true[GP_MOCK_NBAND];/* nmgy, incl. extinction */
    double bt_band[GP_MOCK_NBAND];
    double ebv;                  /* SFD E(B-V) */
    /* --- observing conditions and catalogue --- */
    gp_mock_obs obs;
    double modelmag[GP_MOCK_NBAND], modelmag_err[GP_MOCK_NBAND];
    double extinction[GP_MOCK_NBAND];
    double psfmag_r, fibermag[GP_MOCK_NBAND];
    double petromag_r, petromag_err_r, petror50_r, petror90_r, mu50;
    double fib_frac_sf, fib_frac_agn;
    /* --- lines (fibre, 1e-17 erg/s/cm^2) and labels --- */
    double line_true[GP_MOCK_NLINE], line_flux[GP_MOCK_NLINE], line_err[GP_MOCK_NLINE];
    int    bptclass, bpt_agn_type, oh_measurable;
    double lgm_tot_p50, sfr_tot_p50, oh_p50, v_disp, v_disp_err, log_mbh, log_mbh_vdisp;
} gp_mock_galaxy;

/* Population options. */
typedef struct gp_mock_popopt {
    double zmin, zmax;        /* redshift range of the volume, default 0.005-0.33 */
    double logm_min, logm_max;/* default 8.0-12.0 */
    int    select_mgs;        /* 1: draw until the MGS cuts pass; 0: draw once */
    double rlim_unselected;   /* with select_mgs = 0: redraw while r_P > this */
    int    single_try;        /* 1: one draw only; GP_ERR_NOTFOUND when it fails the cut */
    const struct gp_mock_obs *fixed_obs;  /* non-NULL: these conditions (a field) */
} gp_mock_popopt;

void gp_mock_popopt_default(gp_mock_popopt *o);

/*
 * gp_mock_galaxy_draw() - draw galaxy `index` of the run `seed`.
 *
 * Given:   seed, index, opt (NULL: defaults).
 * Returned: g, filled.
 * Function return value: GP_OK; GP_ERR_ARG for bad options;
 *   GP_ERR_DATA when no galaxy passed the cuts in 1e6 tries;
 *   GP_ERR_NOTFOUND with single_try when the one draw fails the cut (err untouched).
 */
int gp_mock_galaxy_draw(uint64_t seed, uint64_t index, const gp_mock_popopt *opt,
                        gp_mock_galaxy *g, gp_error *err);

/* gp_mock_obs_draw() - draw observing conditions (per galaxy or per field). */
struct gp_mock_rng;
void gp_mock_obs_draw(struct gp_mock_rng *r, gp_mock_obs *obs);

/* SDSS gain (e-/DN) and dark variance (DN^2) by band, camcol (1-6) and run. */
double gp_mock_gain(int band, int camcol, int run);
double gp_mock_dark_variance(int band, int camcol, int run);

/* gp_mock_psf_set() - double-Gaussian PSF of the given total FWHM. */
void gp_mock_psf_set(gp_mock_psf *p, double fwhm);

/* Line-ratio helpers (BPT). */
double gp_mock_kauffmann03(double n2);
double gp_mock_kewley01(double n2);
int gp_mock_bpt_classify(const double flux[GP_MOCK_NLINE], const double err[GP_MOCK_NLINE],
                         int *agn_type);

/* Chilingarian K-correction of `band` for observed colour c at z (public for tests). */
double gp_mock_kcorr(int band, double z, double colour);

/* Enclosed-flux fraction helpers on circularised Gaussian mixtures. */
double gp_mock_mix_enclosed(int n, const double *amp, const double *var, double r);

/* Expected number of galaxies (8 < log M* < 12, zmin < z < zmax) in solid angle omega (sr). */
double gp_mock_expected_count(const gp_mock_popopt *o, double omega_sr);

/* Catalogue flux error (nmgy) of a source of flux f and noise area area_as2 (arcsec^2). */
double gp_mock_flux_sigma(const gp_mock_obs *o, int band, double flux, double area_as2);

#endif
