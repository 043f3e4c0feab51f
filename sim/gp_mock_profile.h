/*
 * gp_mock_profile.h: Sersic profiles as Gaussian mixtures (Hogg & Lang 2013,
 * the SDSS-truncated "lux" exponential, 6 components, and "luv" de
 * Vaucouleurs, 8 components), renormalised here so that the half-light
 * radius of each mixture is exactly 1.  Circularised helpers give enclosed
 * fluxes, Petrosian quantities and PSF magnitudes analytically.
 */
#ifndef GALPOST_GP_MOCK_PROFILE_H
#define GALPOST_GP_MOCK_PROFILE_H

#include "gp_mock.h"

#define GP_MOG_EXP_N 6
#define GP_MOG_DEV_N 8
#define GP_MOG_MAX   (2 * (GP_MOG_EXP_N + GP_MOG_DEV_N))

/* gp_mock_mog_get() - unit-flux, unit-half-light mixture: n = 1 (exp) or 4 (dev). */
void gp_mock_mog_get(int sersic_n, const double **amp, const double **var, int *ncomp);

/*
 * gp_mock_galaxy_circular_mix() - circularised mixture (arcsec^2 variances)
 * of galaxy g in `band`, optionally convolved with the band's PSF.
 * Returns the number of components written (<= GP_MOG_MAX); amplitudes sum to 1.
 */
int gp_mock_galaxy_circular_mix(const gp_mock_galaxy *g, int band, int with_psf,
                                double *amp, double *var);

/* Petrosian radius, flux fraction and R50/R90 (arcsec) of a circular mixture. */
void gp_mock_mix_petrosian(int n, const double *amp, const double *var,
                           double *r_petro, double *frac_petro, double *r50, double *r90);

/* Radius (arcsec) enclosing `frac` of the mixture's flux. */
double gp_mock_mix_radius(int n, const double *amp, const double *var, double frac);

#endif
