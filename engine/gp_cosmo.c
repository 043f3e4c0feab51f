/* gp_cosmo.c: distances (see gp_cosmo.h). */
#include <math.h>

#include "gp_cosmo.h"

#define GP_C_OVER_H0 4282.749400   /* Mpc, c / (70 km/s/Mpc) */
#define GP_OMEGA_M   0.3

static double inv_e(double z)
{
    double a = 1.0 + z;
    return 1.0 / sqrt(GP_OMEGA_M * a * a * a + 1.0 - GP_OMEGA_M);
}

double gp_cosmo_comoving_distance_mpc(double z)
{
    if (!(z > 0)) return 0.0;
    /* Simpson's rule on an even number of intervals, ~1e-9 relative */
    int n = 2 * (int)ceil(z / 0.01);
    if (n < 8) n = 8;
    double h = z / n, s = inv_e(0) + inv_e(z);
    for (int i = 1; i < n; i++) s += (i & 1 ? 4.0 : 2.0) * inv_e(i * h);
    return GP_C_OVER_H0 * s * h / 3.0;
}

double gp_cosmo_luminosity_distance_mpc(double z)
{
    return (1.0 + z) * gp_cosmo_comoving_distance_mpc(z);
}

double gp_cosmo_angular_distance_mpc(double z)
{
    return gp_cosmo_comoving_distance_mpc(z) / (1.0 + z);
}

double gp_cosmo_distance_modulus(double z)
{
    double dl = gp_cosmo_luminosity_distance_mpc(z);
    return dl > 0 ? 5.0 * log10(dl) + 25.0 : -INFINITY;
}
