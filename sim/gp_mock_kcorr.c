/* gp_mock_kcorr.c: Chilingarian, Melchior & Zolotukhin (2010, 2012) K-corrections
 * to z = 0, K(z, c) = sum a_xy z^x c^y with c the observed colour (physics.md section 6). */
#include "config.h"

#include "gp_mock.h"

/* rows x = 1..7 (powers of z), columns y = 0..3 (powers of colour) */
static const double kc_u[7][4] = {   /* u, colour u-r */
    { 10.3686, -6.12658, 2.58748, -0.299322 }, { -138.069, 45.0511, -10.8074, 0.95854 },
    { 540.494, -43.7644, 3.84259, 0 }, { -1005.28, 10.9763, 0, 0 }, { 710.482, 0, 0, 0 },
    { 0, 0, 0, 0 }, { 0, 0, 0, 0 } };
static const double kc_g[7][4] = {   /* g, colour g-r */
    { -2.45204, 4.10188, 10.5258, -13.5889 }, { 56.7969, -140.913, 144.572, 57.2155 },
    { -466.949, 222.789, -917.46, -78.0591 }, { 2906.77, 1500.8, 1689.97, 30.889 },
    { -10453.7, -4419.56, -1011.01, 0 }, { 17568, 3236.68, 0, 0 }, { -10820.7, 0, 0, 0 } };
static const double kc_r[7][4] = {   /* r, colour g-r */
    { 1.83285, -2.71446, 4.97336, -3.66864 }, { -19.7595, 10.5033, 18.8196, 6.07785 },
    { 33.6059, -120.713, -49.299, 0 }, { 144.371, 216.453, 0, 0 }, { -295.39, 0, 0, 0 },
    { 0, 0, 0, 0 }, { 0, 0, 0, 0 } };
static const double kc_i[7][4] = {   /* i, colour g-i */
    { -2.21853, 3.94007, 0.678402, -1.24751 }, { -15.7929, -19.3587, 15.0137, 2.27779 },
    { 118.791, -40.0709, -30.6727, 0 }, { -134.571, 125.799, 0, 0 }, { -55.4483, 0, 0, 0 },
    { 0, 0, 0, 0 }, { 0, 0, 0, 0 } };
static const double kc_z[7][4] = {   /* z, colour r-z */
    { 0.669031, -3.08016, 9.87081, -7.07135 }, { -18.6165, 8.24314, -14.2716, 13.8663 },
    { 94.1113, 11.2971, -11.9588, 0 }, { -225.428, -17.8509, 0, 0 }, { 197.505, 0, 0, 0 },
    { 0, 0, 0, 0 }, { 0, 0, 0, 0 } };

/* colour ranges where the polynomials are trusted (clip outside: they are wild) */
static const double cmin[5] = { 0.5, 0.0, 0.0, 0.0, 0.0 };
static const double cmax[5] = { 3.5, 1.3, 1.3, 1.8, 1.2 };

double gp_mock_kcorr(int band, double z, double colour)
{
    const double (*a)[4];
    switch (band) {
    case GP_BAND_U: a = kc_u; break;
    case GP_BAND_G: a = kc_g; break;
    case GP_BAND_R: a = kc_r; break;
    case GP_BAND_I: a = kc_i; break;
    default:        a = kc_z; break;
    }
    double c = colour < cmin[band] ? cmin[band] : colour > cmax[band] ? cmax[band] : colour;
    double k = 0.0, zx = 1.0;
    for (int x = 0; x < 7; x++) {
        zx *= z;
        double cy = 1.0, row = 0.0;
        for (int y = 0; y < 4; y++) { row += a[x][y] * cy; cy *= c; }
        k += row * zx;
    }
    return k;
}
