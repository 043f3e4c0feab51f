/*
 * gp_cosmo.h: distances in the flat LambdaCDM cosmology of galpost
 * (H0 = 70 km/s/Mpc, Omega_m = 0.3; ../shared/docs/physics.md section 8).
 * Internal header of libgalpost (used by sim/ and by inference).
 *
 * All functions are pure and thread-safe.  Distances are tabulated once on
 * a grid of dz = 5e-4 with Simpson's rule per cell (thread-safe lazy
 * initialisation); beyond the table (z > 3.0) the integral is done directly.
 */
#ifndef GALPOST_GP_COSMO_H
#define GALPOST_GP_COSMO_H

#define GP_COSMO_H0      70.0       /* km/s/Mpc */
#define GP_COSMO_OMEGA_M 0.3
#define GP_COSMO_C_KMS   299792.458
#define GP_COSMO_MPC_CM  3.0857e24  /* cm per Mpc (physics.md section 7) */

/*
 * gp_cosmo_comoving_mpc() - line-of-sight comoving distance D_C(z) in Mpc.
 * Given: z (>= 0; negative z gives 0).  Returns D_C in Mpc.
 */
double gp_cosmo_comoving_mpc(double z);

/* gp_cosmo_lumdist_mpc() - luminosity distance D_L = (1+z) D_C, Mpc. */
double gp_cosmo_lumdist_mpc(double z);

/* gp_cosmo_angdist_mpc() - angular-diameter distance D_A = D_C/(1+z), Mpc. */
double gp_cosmo_angdist_mpc(double z);

/* gp_cosmo_distmod() - distance modulus 5 log10(D_L / 10 pc); z > 0. */
double gp_cosmo_distmod(double z);

/* gp_cosmo_kpc_per_arcsec() - proper transverse scale D_A * (pi/648000) * 1000. */
double gp_cosmo_kpc_per_arcsec(double z);

/* gp_cosmo_age_gyr() - age of the Universe at redshift z, Gyr (analytic). */
double gp_cosmo_age_gyr(double z);

/*
 * gp_cosmo_z_from_comoving() - inverse of D_C: the z with D_C(z) = dc_mpc,
 * for 0 <= dc_mpc <= D_C(3).  Returns -1 outside that range.
 */
double gp_cosmo_z_from_comoving(double dc_mpc);

#endif
