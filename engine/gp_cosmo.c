/* gp_cosmo.c: flat LambdaCDM distances (physics.md section 8). */
#include "config.h"

#include <math.h>
#include <pthread.h>

#include "gp_cosmo.h"

#define DZ     5e-4
#define ZMAX   3.0
#define NCELL  6000   /* ZMAX / DZ */

static double dc_table[NCELL + 1];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static double inv_e(double z)
{
    double a = 1.0 + z;
    return 1.0 / sqrt(GP_COSMO_OMEGA_M * a * a * a + 1.0 - GP_COSMO_OMEGA_M);
}

static double hubble_distance(void) { return GP_COSMO_C_KMS / GP_COSMO_H0; }

static void table_build(void)
{
    double dh = hubble_distance();
    dc_table[0] = 0.0;
    for (int i = 0; i < NCELL; i++) {
        double z0 = i * DZ, z1 = z0 + DZ;
        double cell = DZ / 6.0 * (inv_e(z0) + 4.0 * inv_e(0.5 * (z0 + z1)) + inv_e(z1));
        dc_table[i + 1] = dc_table[i] + dh * cell;
    }
}

double gp_cosmo_comoving_mpc(double z)
{
    if (!(z > 0.0)) return 0.0;
    pthread_once(&table_once, table_build);
    if (z >= ZMAX) {
        /* Simpson on the remainder beyond the table */
        int n = 2 * (int)ceil((z - ZMAX) / DZ) + 2;
        double h = (z - ZMAX) / n, s = inv_e(ZMAX) + inv_e(z);
        for (int k = 1; k < n; k++) s += (k & 1 ? 4.0 : 2.0) * inv_e(ZMAX + k * h);
        return dc_table[NCELL] + hubble_distance() * s * h / 3.0;
    }
    double x = z / DZ;
    int i = (int)x;
    double t = x - i;
    /* quadratic correction: exact to the integrand's slope inside the cell */
    double z0 = i * DZ;
    double lin = dc_table[i] + t * (dc_table[i + 1] - dc_table[i]);
    double e0 = inv_e(z0), e1 = inv_e(z0 + DZ);
    double curv = 0.5 * hubble_distance() * DZ * t * (t - 1.0) * (e1 - e0);
    return lin + curv;
}

double gp_cosmo_lumdist_mpc(double z) { return (1.0 + z) * gp_cosmo_comoving_mpc(z); }
double gp_cosmo_angdist_mpc(double z) { return gp_cosmo_comoving_mpc(z) / (1.0 + z); }

double gp_cosmo_distmod(double z)
{
    return 5.0 * log10(gp_cosmo_lumdist_mpc(z)) + 25.0;
}

double gp_cosmo_kpc_per_arcsec(double z)
{
    return gp_cosmo_angdist_mpc(z) * 1000.0 * M_PI / 648000.0;
}

double gp_cosmo_age_gyr(double z)
{
    double ol = 1.0 - GP_COSMO_OMEGA_M;
    /* 1/H0 in Gyr: 977.792 / H0 */
    double th = 977.7922216807891 / GP_COSMO_H0;
    return th * 2.0 / (3.0 * sqrt(ol)) *
           asinh(sqrt(ol / GP_COSMO_OMEGA_M) * pow(1.0 + z, -1.5));
}

double gp_cosmo_z_from_comoving(double dc_mpc)
{
    if (dc_mpc < 0.0) return -1.0;
    pthread_once(&table_once, table_build);
    if (dc_mpc > dc_table[NCELL]) return -1.0;
    int lo = 0, hi = NCELL;
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (dc_table[mid] <= dc_mpc) lo = mid; else hi = mid;
    }
    /* Newton refinement from the bracketing cell */
    double z = lo * DZ + DZ * (dc_mpc - dc_table[lo]) / (dc_table[hi] - dc_table[lo] + 1e-300);
    for (int k = 0; k < 3; k++) {
        double f = gp_cosmo_comoving_mpc(z) - dc_mpc;
        z -= f / (hubble_distance() * inv_e(z));
    }
    return z;
}
