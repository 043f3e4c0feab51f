/*
 * test_real_redshift.c: the shipped photometry-only model on real SDSS
 * galaxies with spectroscopic redshifts (../shared/data/sdss-tables/
 * dr14-galaxies-specz.csv, read in place; skipped when absent).
 *
 * The models are trained on the mock sky only, so this is the one check of
 * the shipped weights against real labels.  The table's model magnitudes are
 * not extinction-corrected and it has no extinction column: a typical
 * Galactic E(B-V) = 0.03 (the mock's median) is removed from every galaxy
 * with the SFD-based R_b of the mock.  Main-sample galaxies (r <= 17.77).
 *
 * Asserted (with the figures of weights/README.md, 2026-11-26: NMAD 0.0196,
 * 68% coverage 0.687, outliers 0.032, bias -0.003):
 *  - every galaxy is inferred, with a finite redshift median;
 *  - NMAD of dz/(1+z) < 0.03 and |median bias| < 0.01;
 *  - catastrophic outliers (|dz|/(1+z) > 0.05) < 6%;
 *  - the central 68% intervals contain 62-74% of the true redshifts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "galpost/gp_model.h"
#include "gp_test_util.h"

#define MAXROWS 4000

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_of(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* column index of name in a CSV header line, -1 when missing */
static int csv_column(char *header, const char *name)
{
    int k = 0;
    for (char *tok = strtok(header, ",\r\n"); tok; tok = strtok(NULL, ",\r\n"), k++)
        if (!strcmp(tok, name)) return k;
    return -1;
}

static void test_photometric_redshifts(void **state)
{
    (void)state;
    const char *data = getenv("GP_SHARED_DATA"), *top = getenv("GP_TOP_SRCDIR");
    char path[4096], model_path[4096];
    snprintf(path, sizeof path, "%s/sdss-tables/dr14-galaxies-specz.csv", data ? data : "");
    snprintf(model_path, sizeof model_path, "%s/weights/galpost-photometry.gpw", top ? top : ".");
    if (!data || access(path, R_OK) != 0) { skip(); return; }
    assert_int_equal(access(model_path, R_OK), 0);

    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[4096], head[4096];
    assert_non_null(fgets(line, sizeof line, f));
    const char *names[6] = { "u", "g", "r", "i", "z", "redshift" };
    int col[6];
    for (int c = 0; c < 6; c++) {
        memcpy(head, line, sizeof head);
        col[c] = csv_column(head, names[c]);
        assert_true(col[c] >= 0);
    }
    static const double r_ext[GP_NMAG] = { 4.239, 3.303, 2.285, 1.698, 1.263 };
    gp_galaxy *gal = calloc(MAXROWS, sizeof *gal);
    double *ztrue = calloc(MAXROWS, sizeof *ztrue);
    assert_non_null(gal);
    assert_non_null(ztrue);
    int n = 0;
    while (n < MAXROWS && fgets(line, sizeof line, f)) {
        double v[32];
        int k = 0;
        for (char *tok = strtok(line, ",\r\n"); tok && k < 32; tok = strtok(NULL, ",\r\n")) v[k++] = strtod(tok, NULL);
        if (k <= col[5] || v[col[2]] > 17.77) continue;
        gal[n].id = (uint64_t)n + 1;
        for (int b = 0; b < GP_NMAG; b++) gal[n].mag[b] = (float)(v[col[b]] - r_ext[b] * 0.03);
        ztrue[n++] = v[col[5]];
    }
    fclose(f);
    printf("# %d main-sample galaxies from %s\n", n, path);
    assert_true(n > 1000);

    gp_model_options o = gp_model_options_default();
    o.backend = GP_BACKEND_CPU;
    gp_model *m = NULL;
    gp_error err;
    if (gp_model_open(model_path, &o, &m, &err)) fail_msg("gp_model_open: %s", err.msg);
    assert_int_equal(gp_model_uses_image(m), 0);
    gp_infer_options io = gp_infer_options_default();
    io.nsamples = 200;
    gp_result *res = calloc((size_t)n, sizeof *res);
    assert_non_null(res);
    assert_int_equal(gp_infer(m, gal, (size_t)n, &io, res, &err), GP_OK);

    double *dz = malloc(sizeof(double) * (size_t)n), *dev = malloc(sizeof(double) * (size_t)n);
    assert_non_null(dz);
    assert_non_null(dev);
    int inside = 0, outl = 0;
    for (int i = 0; i < n; i++) {
        double zm = res[i].summary.median[GP_Q_Z];
        assert_true(isfinite(zm));
        dz[i] = (zm - ztrue[i]) / (1.0 + ztrue[i]);
        if (fabs(dz[i]) > 0.05) outl++;
        if (ztrue[i] >= res[i].summary.p16[GP_Q_Z] && ztrue[i] <= res[i].summary.p84[GP_Q_Z]) inside++;
    }
    double bias = median_of(memcpy(dev, dz, sizeof(double) * (size_t)n), n);
    for (int i = 0; i < n; i++) dev[i] = fabs(dz[i] - bias);
    double nmad = 1.4826 * median_of(dev, n);
    double cover = (double)inside / n, frac_out = (double)outl / n;
    printf("# real SDSS photometric redshifts: bias %+.4f NMAD %.4f outliers %.3f 68%% coverage %.3f\n",
           bias, nmad, frac_out, cover);
    assert_true(nmad < 0.03);
    assert_true(fabs(bias) < 0.01);
    assert_true(frac_out < 0.06);
    assert_true(cover > 0.62 && cover < 0.74);
    gp_result_free(res, (size_t)n);
    free(res); free(dz); free(dev); free(gal); free(ztrue);
    gp_model_close(m);
}

int main(void)
{
    const char *data = getenv("GP_SHARED_DATA");
    char path[4096];
    snprintf(path, sizeof path, "%s/sdss-tables/dr14-galaxies-specz.csv", data ? data : "");
    if (!data || access(path, R_OK) != 0) {
        printf("# skip: no %s (../shared/data absent)\n", path);
        return 77;
    }
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_photometric_redshifts) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
