/* test_mock_cosmo.c: engine/gp_cosmo against physics.md section 8 and a naive integral. */
#include "config.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "gp_cosmo.h"

static double naive_dc(double z)
{
    /* midpoint rule with 200000 steps */
    int n = 200000;
    double h = z / n, s = 0;
    for (int i = 0; i < n; i++) {
        double a = 1.0 + (i + 0.5) * h;
        s += 1.0 / sqrt(0.3 * a * a * a + 0.7);
    }
    return 299792.458 / 70.0 * s * h;
}

static void test_physics_table(void **state)
{
    (void)state;
    static const double z[5] = { 0.01, 0.05, 0.1, 0.2, 0.3 };
    static const double dl[5] = { 43.16, 222.29, 460.30, 980.07, 1552.72 };
    static const double dm[5] = { 33.175, 36.735, 38.315, 39.956, 40.956 };
    static const double kpc[5] = { 0.2051, 0.9775, 1.8443, 3.2997, 4.4543 };
    for (int k = 0; k < 5; k++) {
        assert_true(fabs(gp_cosmo_lumdist_mpc(z[k]) - dl[k]) < 0.006 + 1e-5 * dl[k]);
        assert_true(fabs(gp_cosmo_distmod(z[k]) - dm[k]) < 0.0006);
        assert_true(fabs(gp_cosmo_kpc_per_arcsec(z[k]) - kpc[k]) < 0.00006);
    }
    /* Speagle's t at z = 0.1 quoted in physics.md: 12.17 Gyr */
    assert_true(fabs(gp_cosmo_age_gyr(0.1) - 12.17) < 0.01);
}

static void test_random_against_naive(void **state)
{
    (void)state;
    srand(12345);
    for (int k = 0; k < 20; k++) {
        double z = 0.6 * rand() / (double)RAND_MAX + 1e-3;
        double ref = naive_dc(z), got = gp_cosmo_comoving_mpc(z);
        assert_true(isfinite(got));
        assert_true(fabs(got - ref) / ref < 1e-6);
        assert_true(fabs(gp_cosmo_angdist_mpc(z) * (1 + z) * (1 + z) - gp_cosmo_lumdist_mpc(z)) < 1e-9 * ref);
        double zi = gp_cosmo_z_from_comoving(got);
        assert_true(fabs(zi - z) < 1e-9);
    }
    assert_true(gp_cosmo_z_from_comoving(-1.0) < 0);
    assert_true(gp_cosmo_comoving_mpc(0.0) == 0.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_physics_table),
        cmocka_unit_test(test_random_against_naive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
