/*
 * gp_cosmo.h: distances in flat LambdaCDM with H0 = 70, Omega_m = 0.3
 * (physics.md section 8) (internal).
 */
#ifndef GALPOST_GP_COSMO_H
#define GALPOST_GP_COSMO_H

/* Comoving distance D_C(z) in Mpc (z >= 0), by Simpson's rule. */
double gp_cosmo_comoving_distance_mpc(double z);
/* Luminosity distance D_L = (1+z) D_C in Mpc. */
double gp_cosmo_luminosity_distance_mpc(double z);
/* Angular-diameter distance D_A = D_C/(1+z) in Mpc. */
double gp_cosmo_angular_distance_mpc(double z);
/* Distance modulus 5 log10(D_L / 10 pc). */
double gp_cosmo_distance_modulus(double z);

#endif
