/* test_mock_output.c: training shards and mock fields through cfitsio and wcslib:
 * layout, determinism, split invariance, atomicity, WCS round trip, bad arguments. */
#include "config.h"

#include <fitsio.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wcslib/wcshdr.h>
#include <wcslib/wcs.h>

#include <cmocka.h>

#include "galpost/gp_plot.h"
#include "gp_plot_internal.h"
#include "gp_mock_field.h"
#include "gp_mock_shards.h"
#include "gp_mock_table.h"

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/gp_test_mock_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static unsigned char *slurp(const char *path, long *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)*n);
    if (b && fread(b, 1, (size_t)*n, f) != (size_t)*n) { free(b); b = NULL; }
    fclose(f);
    return b;
}

static void make_dir(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tmpdir, name);
    mkdir(buf, 0755);
}

static void test_shards(void **state)
{
    (void)state;
    char d1[512], d2[512], d3[512], p[1024], q[1024];
    make_dir(d1, sizeof d1, "a"); make_dir(d2, sizeof d2, "b"); make_dir(d3, sizeof d3, "c");
    gp_mock_shard_opt o;
    gp_mock_shard_opt_default(&o);
    o.seed = 42; o.n = 40; o.shard_size = 16; o.outdir = d1; o.nthreads = 2;
    gp_error err;
    assert_int_equal(gp_mock_write_shards(&o, &err), GP_OK);
    o.outdir = d2; o.nthreads = 1;
    assert_int_equal(gp_mock_write_shards(&o, &err), GP_OK);
    for (int k = 0; k < 3; k++) {
        o.outdir = d1; gp_mock_shard_path(&o, k, p, sizeof p);
        o.outdir = d2; gp_mock_shard_path(&o, k, q, sizeof q);
        long n1, n2;
        unsigned char *a = slurp(p, &n1), *b = slurp(q, &n2);
        assert_non_null(a); assert_non_null(b);
        assert_int_equal(n1, n2);
        assert_memory_equal(a, b, (size_t)n1);   /* same bytes, 1 or 2 threads */
        free(a); free(b);
    }
    /* layout: cube 160 x 160 x 3 x 16, table with the SDSS/MPA-JHU columns */
    o.outdir = d1;
    gp_mock_shard_path(&o, 1, p, sizeof p);
    fitsfile *f;
    int st = 0, naxis;
    long naxes[4];
    fits_open_file(&f, p, READONLY, &st);
    fits_get_img_dim(f, &naxis, &st);
    fits_get_img_size(f, 4, naxes, &st);
    assert_int_equal(st, 0);
    assert_int_equal(naxis, 4);
    assert_int_equal(naxes[0], 160); assert_int_equal(naxes[1], 160);
    assert_int_equal(naxes[2], 3); assert_int_equal(naxes[3], 16);
    char bands[32], bunit[32];
    long first;
    fits_read_key(f, TSTRING, "BANDS", bands, NULL, &st);
    fits_read_key(f, TSTRING, "BUNIT", bunit, NULL, &st);
    fits_read_key(f, TLONG, "FIRSTIDX", &first, NULL, &st);
    assert_int_equal(st, 0);
    assert_string_equal(bands, "gri");
    assert_string_equal(bunit, "nanomaggy");
    assert_int_equal(first, 16);
    float *plane = malloc(sizeof(float) * 3 * 160 * 160);
    assert_non_null(plane);
    fits_read_img(f, TFLOAT, 1, 3 * 160 * 160, NULL, plane, NULL, &st);
    for (int k = 0; k < 3 * 160 * 160; k++) assert_true(isfinite(plane[k]));
    fits_movnam_hdu(f, BINARY_TBL, "GALAXIES", 0, &st);
    long nrows;
    int ncols;
    fits_get_num_rows(f, &nrows, &st);
    fits_get_num_cols(f, &ncols, &st);
    assert_int_equal(st, 0);
    assert_int_equal(nrows, 16);
    assert_int_equal(ncols, gp_mock_table_ncols());
    static const char *need[] = { "objID", "ra", "dec", "z", "modelMag_u", "modelMagErr_z", "extinction_i",
        "petroMag_r", "petroR50_r", "lgm_tot_p50", "sfr_tot_p50", "oh_p50", "v_disp", "log_mbh",
        "h_alpha_flux", "h_beta_flux_err", "nii_6584_flux", "oiii_5007_flux", "bptclass", "oh_measurable" };
    for (size_t k = 0; k < sizeof need / sizeof need[0]; k++) {
        int col;
        fits_get_colnum(f, CASESEN, (char *)need[k], &col, &st);
        assert_int_equal(st, 0);
    }
    /* split invariance: galaxies 16..23 written alone equal rows 1..8 of shard 1 */
    int zcol;
    double z1[8], z2[8];
    fits_get_colnum(f, CASESEN, "z", &zcol, &st);
    fits_read_col(f, TDOUBLE, zcol, 1, 1, 8, NULL, z1, NULL, &st);
    fits_close_file(f, &st);
    gp_mock_shard_opt o2 = o;
    o2.outdir = d3; o2.first = 16; o2.n = 8; o2.shard_size = 8;
    assert_int_equal(gp_mock_write_shards(&o2, &err), GP_OK);
    gp_mock_shard_path(&o2, 0, q, sizeof q);
    float *plane2 = malloc(sizeof(float) * 3 * 160 * 160);
    assert_non_null(plane2);
    fits_open_file(&f, q, READONLY, &st);
    fits_read_img(f, TFLOAT, 1, 3 * 160 * 160, NULL, plane2, NULL, &st);
    fits_movnam_hdu(f, BINARY_TBL, "GALAXIES", 0, &st);
    fits_read_col(f, TDOUBLE, zcol, 1, 1, 8, NULL, z2, NULL, &st);
    fits_close_file(f, &st);
    assert_int_equal(st, 0);
    assert_memory_equal(z1, z2, sizeof z1);
    assert_memory_equal(plane, plane2, sizeof(float) * 3 * 160 * 160);
    free(plane); free(plane2);
}

static void test_atomic_and_bad_args(void **state)
{
    (void)state;
    char d[512], p[1024], partial[1100];
    make_dir(d, sizeof d, "atomic");
    gp_mock_shard_opt o;
    gp_mock_shard_opt_default(&o);
    o.seed = 1; o.n = 64; o.shard_size = 64; o.outdir = d;
    volatile sig_atomic_t stop = 1;
    o.interrupted = &stop;
    gp_error err;
    assert_int_equal(gp_mock_write_shards(&o, &err), GP_ERR_INTERRUPTED);
    gp_mock_shard_path(&o, 0, p, sizeof p);
    snprintf(partial, sizeof partial, "%s.partial", p);
    assert_int_not_equal(access(p, F_OK), 0);        /* nothing that looks complete */
    assert_int_not_equal(access(partial, F_OK), 0);  /* and no leftovers */
    assert_non_null(strstr(err.msg, "interrupted"));
    o.interrupted = NULL;
    o.n = 0;
    assert_int_equal(gp_mock_write_shards(&o, &err), GP_ERR_ARG);
    o.n = -5;
    assert_int_equal(gp_mock_write_shards(&o, &err), GP_ERR_ARG);
    o.n = 4; o.outdir = "/nonexistent/dir";
    assert_int_equal(gp_mock_write_shards(&o, &err), GP_ERR_IO);
    assert_non_null(strstr(err.msg, "/nonexistent/dir"));
    gp_mock_field_opt fo;
    gp_mock_field_opt_default(&fo);
    fo.outdir = d; fo.camcol = 7;
    assert_int_equal(gp_mock_write_field(&fo, NULL, &err), GP_ERR_ARG);
    assert_non_null(strstr(err.msg, "camcol"));
}

static void test_field(void **state)
{
    (void)state;
    char d[512], p[1024];
    make_dir(d, sizeof d, "field");
    gp_mock_field_opt o;
    gp_mock_field_opt_default(&o);
    o.seed = 7; o.outdir = d; o.run = 4321; o.camcol = 2; o.field = 55; o.ra = 150.0; o.dec = 20.0;
    gp_error err;
    long ngal = 0;
    assert_int_equal(gp_mock_write_field(&o, &ngal, &err), GP_OK);
    assert_true(ngal > 20);
    double crval[5][2];
    for (int b = 0; b < 5; b++) {
        char kind[16];
        snprintf(kind, sizeof kind, "frame-%c", gp_mock_band_names[b]);
        gp_mock_field_path(&o, kind, p, sizeof p);
        fitsfile *f;
        int st = 0, run, camcol, field, nkeys;
        char filt[16], bunit[32], exptime[32];
        double nmgy;
        long naxes[2];
        fits_open_file(&f, p, READONLY, &st);
        fits_get_img_size(f, 2, naxes, &st);
        fits_read_key(f, TINT, "RUN", &run, NULL, &st);
        fits_read_key(f, TINT, "CAMCOL", &camcol, NULL, &st);
        fits_read_key(f, TINT, "FIELD", &field, NULL, &st);
        fits_read_key(f, TSTRING, "FILTER", filt, NULL, &st);
        fits_read_key(f, TSTRING, "BUNIT", bunit, NULL, &st);
        fits_read_key(f, TSTRING, "EXPTIME", exptime, NULL, &st);
        fits_read_key(f, TDOUBLE, "NMGY", &nmgy, NULL, &st);
        assert_int_equal(st, 0);
        assert_int_equal(naxes[0], 2048); assert_int_equal(naxes[1], 1489);
        assert_int_equal(run, 4321); assert_int_equal(camcol, 2); assert_int_equal(field, 55);
        assert_int_equal(filt[0], gp_mock_band_names[b]);
        assert_string_equal(bunit, "nanomaggy");
        assert_true(fabs(atof(exptime) - 53.907456) < 1e-9);
        assert_true(nmgy > 0);
        /* WCS through wcslib: pixel -> sky -> pixel round trip */
        char *hdr;
        fits_hdr2str(f, 1, NULL, 0, &hdr, &nkeys, &st);
        assert_int_equal(st, 0);
        int nreject, nwcs;
        struct wcsprm *wcs;
        assert_int_equal(wcspih(hdr, nkeys, WCSHDR_all, 0, &nreject, &nwcs, &wcs), 0);
        assert_true(nwcs >= 1);
        assert_int_equal(wcsset(wcs), 0);
        double pix[2] = { 317.25, 1201.5 }, img[2], phi, theta, world[2], back[2];
        int stat;
        assert_int_equal(wcsp2s(wcs, 1, 2, pix, img, &phi, &theta, world, &stat), 0);
        assert_int_equal(wcss2p(wcs, 1, 2, world, &phi, &theta, img, back, &stat), 0);
        assert_true(fabs(back[0] - pix[0]) < 1e-6 && fabs(back[1] - pix[1]) < 1e-6);
        double cen[2] = { 1025, 745 };
        wcsp2s(wcs, 1, 2, cen, img, &phi, &theta, world, &stat);
        crval[b][0] = world[0]; crval[b][1] = world[1];
        assert_true(fabs(world[0] - 150.0) < 0.01 && fabs(world[1] - 20.0) < 0.01);
        wcsvfree(&nwcs, &wcs);
        fits_free_memory(hdr, &st);
        fits_close_file(f, &st);
    }
    /* bands offset by a few pixels, not more than ~15 */
    int offset = 0;
    for (int b = 0; b < 5; b++) {
        double dx = (crval[b][0] - crval[2][0]) * cos(20.0 * M_PI / 180) * 3600 / 0.396;
        double dy = (crval[b][1] - crval[2][1]) * 3600 / 0.396;
        double r = hypot(dx, dy);
        assert_true(r < 20.0);
        if (r > 0.5) offset++;
    }
    assert_true(offset >= 2);
    /* catalogue and truth */
    gp_mock_field_path(&o, "photoObj", p, sizeof p);
    fitsfile *f;
    int st = 0;
    long nrows;
    fits_open_file(&f, p, READONLY, &st);
    fits_movnam_hdu(f, BINARY_TBL, "PHOTOOBJ", 0, &st);
    fits_get_num_rows(f, &nrows, &st);
    fits_close_file(f, &st);
    assert_int_equal(st, 0);
    assert_true(nrows > 100);
    gp_mock_field_path(&o, "truth", p, sizeof p);
    fits_open_file(&f, p, READONLY, &st);
    fits_movnam_hdu(f, BINARY_TBL, "GALAXIES", 0, &st);
    fits_get_num_rows(f, &nrows, &st);
    fits_close_file(f, &st);
    assert_int_equal(st, 0);
    assert_int_equal(nrows, ngal);
}

static double sq(double x, void *a) { (void)a; return x * x; }

static void test_plot(void **state)
{
    (void)state;
    char p[1024];
    snprintf(p, sizeof p, "%s/plot.png", tmpdir);
    gp_error err;
    gp_plot *pl = gp_plot_new(400, 300, 1, 2, &err);
    assert_non_null(pl);
    double x[3] = { 0, 1, 2 }, y[3] = { 1, NAN, 3 };
    gp_plot_scatter(pl, x, y, 3, &(gp_plot_style){ 1, 0, 0, 0.5, 2, 0, 0, "points" });
    gp_plot_curve(pl, sq, NULL, 0, 2, 20, NULL);
    assert_int_equal(gp_plot_panel(pl, 1), GP_OK);
    assert_int_equal(gp_plot_hist(pl, x, 3, 3, 0, 3, 1, NULL), GP_OK);
    assert_int_equal(gp_plot_panel(pl, 2), GP_ERR_ARG);
    assert_int_equal(gp_plot_limits(pl, 1, 1, 0, 1), GP_ERR_ARG);
    assert_int_equal(gp_plot_write_png(pl, p, &err), GP_OK);
    gp_plot_free(pl);
    long n;
    unsigned char *b = slurp(p, &n);
    assert_non_null(b);
    assert_true(n > 100 && !memcmp(b + 1, "PNG", 3));
    free(b);
    assert_null(gp_plot_new(10, 10, 1, 1, &err));
    pl = gp_plot_new(100, 100, 1, 1, &err);
    assert_int_equal(gp_plot_write_png(pl, "/nonexistent/x.png", &err), GP_ERR_IO);
    gp_plot_free(pl);
    gp_plot_release_fonts();
}

/* A figure like galpost eval's calibration.png: nine curves near the
 * diagonal from (0, 0) to (1, 1), the dashed ideal, ten legend entries;
 * labelled = 0 draws the same without labels (no legend). */
static gp_plot *calibration_figure(int labelled, const char *path)
{
    static const char *const name[10] = { "log M*", "log SFR", "z", "log M_BH", "12+log(O/H)", "Halpha",
                                          "Hbeta", "[NII]6584", "[OIII]5007", "ideal" };
    gp_error err;
    gp_plot *p = gp_plot_new(900, 800, 1, 1, &err);
    assert_non_null(p);
    gp_plot_limits(p, 0, 1, 0, 1);
    gp_plot_labels(p, "calibration: central credible intervals", "nominal coverage", "observed coverage");
    for (int q = 0; q < 9; q++) {
        double x[21], y[21];
        for (int i = 0; i < 21; i++) {
            x[i] = i / 20.0;
            y[i] = x[i] + (q - 4) * 0.012 * sin(M_PI * x[i]);   /* within a few percent of the ideal */
        }
        gp_plot_style cs = { 0.1 * q, 0.5, 1 - 0.1 * q, 1, 2, 0, 0, labelled ? name[q] : NULL };
        gp_plot_line(p, x, y, 21, &cs);
    }
    double ix[2] = { 0, 1 };
    gp_plot_style ds = { 0, 0, 0, 1, 1, 1, 0, labelled ? name[9] : NULL };
    gp_plot_line(p, ix, ix, 2, &ds);
    assert_int_equal(gp_plot_write_png(p, path, &err), GP_OK);
    return p;
}

/* The legend covers no curve: every pixel under the legend box of the
 * figure is white in the same figure drawn without a legend (the legend
 * used to sit in the top right corner, over the curves' ends). */
static void test_plot_legend_clear(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/calibration.png", tmpdir);
    gp_plot *with = calibration_figure(1, path), *without = calibration_figure(0, path);
    double box[4];
    assert_int_equal(gp_plot_legend_box(with, 0, box), GP_OK);
    assert_true(box[2] > 60 && box[3] == 16 * 10 - 1);
    double none[4];
    assert_int_equal(gp_plot_legend_box(without, 0, none), GP_ERR_ARG);   /* no labels, no legend */
    int stride;
    const unsigned char *px = gp_plot_pixels(without, &stride);
    long covered = 0, inside = 0;
    for (int y = (int)box[1]; y < (int)(box[1] + box[3]); y++)
        for (int x = (int)box[0]; x < (int)(box[0] + box[2]); x++) {
            covered += ((const uint32_t *)(px + (size_t)y * stride))[x] != 0xFFFFFFFFu;
            inside++;
        }
    assert_true(inside > 1000);
    assert_int_equal(covered, 0);
    /* the old place, the top right corner, would have covered the curves */
    int bx, by;
    long top_right = 0;
    for (int y = 0; y < (int)box[3]; y++)
        for (int x = 0; x < (int)box[2]; x++) {
            int X = 62 + (900 - 62 - 16) - 6 - (int)box[2] + x, Y = 30 + 6 + y;
            top_right += ((const uint32_t *)(px + (size_t)Y * stride))[X] != 0xFFFFFFFFu;
        }
    assert_true(top_right > 0);

    /* the placement itself on a made-up image: ink everywhere but one hole,
     * and nowhere (the top right corner, as before) */
    enum { W = 200, H = 150 };
    uint32_t *img = malloc(sizeof(uint32_t) * W * H);
    assert_non_null(img);
    for (int i = 0; i < W * H; i++) img[i] = 0xFF000000u;
    for (int y = 90; y < 120; y++)
        for (int x = 40; x < 90; x++) img[y * W + x] = 0xFFFFFFFFu;
    assert_int_equal(gp_plot_legend_place((const unsigned char *)img, W * 4, 10, 10, 180, 130, 40, 20, &bx, &by), 0);
    assert_true(bx >= 40 && bx + 40 <= 90 && by >= 90 && by + 20 <= 120);
    for (int i = 0; i < W * H; i++) img[i] = 0xFFFFFFFFu;
    assert_int_equal(gp_plot_legend_place((const unsigned char *)img, W * 4, 10, 10, 180, 130, 40, 20, &bx, &by), 0);
    assert_int_equal(bx, 10 + 180 - 6 - 40);
    assert_int_equal(by, 10 + 6);
    /* a box larger than the panel: the top right corner, said so */
    assert_int_equal(gp_plot_legend_place((const unsigned char *)img, W * 4, 10, 10, 180, 130, 200, 20, &bx, &by), -1);
    free(img);
    gp_plot_free(with);
    gp_plot_free(without);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shards),
        cmocka_unit_test(test_atomic_and_bad_args),
        cmocka_unit_test(test_field),
        cmocka_unit_test(test_plot_legend_clear),
        cmocka_unit_test(test_plot),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
