/* test_fits_io.c: cutout FITS files and result tables, written and read
 * back with cfitsio; atomic writes leave nothing half-written. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fitsio.h>
#include <sys/stat.h>

#include "galpost/gp_fits.h"
#include "gp_test_util.h"

static void test_cutout_round_trip(void **state)
{
    (void)state;
    char path[512];
    gp_test_tmpname(path, sizeof path, ".fits");
    float *c = malloc(sizeof(float) * GP_CUTOUT_PIXELS), *d = malloc(sizeof(float) * GP_CUTOUT_PIXELS);
    gp_test_fill(c, GP_CUTOUT_PIXELS, 1.0);
    gp_cutout_info in = { 150.25, 2.5, 1237648720693755918ull, {18.1f, 17.0f, 16.5f, 16.2f, 16.0f} };
    gp_error err;
    assert_int_equal(gp_cutout_write_fits(path, c, &in, &err), GP_OK);
    gp_cutout_info out;
    assert_int_equal(gp_cutout_read_fits(path, d, &out, &err), GP_OK);
    assert_memory_equal(c, d, sizeof(float) * GP_CUTOUT_PIXELS);
    assert_true(out.ra == in.ra && out.dec == in.dec);
    assert_true(out.objid == in.objid);
    for (int b = 0; b < 5; b++) assert_true(fabs(out.mag[b] - in.mag[b]) < 1e-5);
    assert_int_equal(out.mag_bad, 0);
    /* an id above 2^63 round-trips (the writer's OBJID is unsigned) */
    in.objid = 18446744073709551615ull;
    assert_int_equal(gp_cutout_write_fits(path, c, &in, &err), GP_OK);
    assert_int_equal(gp_cutout_read_fits(path, d, &out, &err), GP_OK);
    assert_true(out.objid == in.objid);
    /* OBJID as a string keyword, exactly; MAG_R not a number is marked, not absent */
    {
        fitsfile *g;
        int gst = 0;
        fits_open_file(&g, path, READWRITE, &gst);
        fits_update_key(g, TSTRING, "OBJID", "1237648702973329533", NULL, &gst);
        fits_update_key(g, TSTRING, "MAG_R", "abc", NULL, &gst);
        fits_close_file(g, &gst);
        assert_int_equal(gst, 0);
        assert_int_equal(gp_cutout_read_fits(path, d, &out, &err), GP_OK);
        assert_true(out.objid == 1237648702973329533ull);
        assert_int_equal(out.mag_bad, 1u << 2);
        assert_true(isnan(out.mag[2]) && fabs(out.mag[1] - in.mag[1]) < 1e-5);
        long long neg = -5;
        gst = 0;
        fits_open_file(&g, path, READWRITE, &gst);
        fits_update_key(g, TLONGLONG, "OBJID", &neg, NULL, &gst);
        fits_close_file(g, &gst);
        assert_int_equal(gst, 0);
        memset(d, 0, sizeof(float) * GP_CUTOUT_PIXELS);
        assert_int_equal(gp_cutout_read_fits(path, d, &out, &err), GP_ERR_FORMAT);
        assert_non_null(strstr(err.msg, path));
        assert_non_null(strstr(err.msg, "OBJID"));
        /* the OBJID alone: pixels and the other keywords still read, for a caller with its own id */
        assert_true(out.objid_bad && out.objid == 0);
        assert_true(fabs(out.mag[1] - in.mag[1]) < 1e-5);
        assert_memory_equal(d, c, sizeof(float) * GP_CUTOUT_PIXELS);
        assert_int_equal(gp_cutout_read_fits(path, d, NULL, &err), GP_OK);   /* keywords not asked for */
    }
    unlink(path);
    /* wrong shape: a 2-D image */
    fitsfile *f;
    int fst = 0;
    long ax[2] = { 160, 160 };
    fits_create_file(&f, path, &fst);
    fits_create_img(f, FLOAT_IMG, 2, ax, &fst);
    long first[2] = {1, 1};
    fits_write_pix(f, TFLOAT, first, 160 * 160, c, &fst);
    fits_close_file(f, &fst);
    assert_int_equal(fst, 0);
    assert_int_equal(gp_cutout_read_fits(path, d, NULL, &err), GP_ERR_FORMAT);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "NAXIS=2"));
    unlink(path);
    assert_int_equal(gp_cutout_read_fits(path, d, NULL, &err), GP_ERR_FITS);
    assert_non_null(strstr(err.msg, path));
    /* unwritable place: error, nothing left */
    assert_int_not_equal(gp_cutout_write_fits("/nonexistent-dir/x.fits", c, NULL, &err), GP_OK);
    free(c); free(d);
}

static void fake_result(gp_result *r, uint64_t id, int nsamp, int ok)
{
    memset(r, 0, sizeof *r);
    r->id = id;
    r->nsamples = nsamp;
    r->status = ok ? GP_OK : GP_ERR_DATA;
    if (!ok) snprintf(r->message, sizeof r->message, "galaxy %llu: bad pixels", (unsigned long long)id);
    r->samples = malloc(sizeof(float) * nsamp * GP_NQ);
    gp_test_fill(r->samples, (size_t)nsamp * GP_NQ, 1.0);
    gp_error e;
    assert_int_equal(gp_summary_compute(r->samples, nsamp, &r->summary, &e), GP_OK);
    r->summary.p_detect = 0.25;
}

static void test_results_table(void **state)
{
    (void)state;
    char path[512];
    gp_test_tmpname(path, sizeof path, ".fits");
    gp_results_writer *w;
    gp_error err;
    assert_int_equal(gp_results_writer_open(path, "model.gpw", 20, &w, &err), GP_OK);
    struct stat sb;
    assert_int_not_equal(stat(path, &sb), 0);   /* nothing at the final name yet */
    gp_result r[3];
    fake_result(&r[0], 11, 20, 1);
    fake_result(&r[1], 12, 20, 0);
    /* a long message is kept whole: the reason after a long path */
    memset(r[1].message, 'p', 200);
    snprintf(r[1].message + 200, sizeof r[1].message - 200, ": galaxy 12: bad pixels");
    fake_result(&r[2], 13, 20, 1);
    /* positions: a galaxy's, a failed galaxy's, none (NaN) */
    r[0].ra = 229.52571234567; r[0].dec = -42.74471234567;
    r[1].ra = 0.000123; r[1].dec = 89.5;
    r[2].ra = r[2].dec = NAN;
    assert_int_equal(gp_results_writer_append(w, r, 2, &err), GP_OK);
    assert_int_equal(gp_results_writer_append(w, r + 2, 1, &err), GP_OK);
    assert_int_equal(gp_results_writer_close(w, &err), GP_OK);
    fitsfile *f;
    int fst = 0, col, anynul;
    long nrows;
    assert_int_equal(fits_open_table(&f, path, READONLY, &fst), 0);
    fits_get_num_rows(f, &nrows, &fst);
    assert_int_equal(nrows, 3);
    LONGLONG ids[3];
    fits_get_colnum(f, CASEINSEN, "objID", &col, &fst);
    fits_read_col(f, TLONGLONG, col, 1, 1, 3, NULL, ids, &anynul, &fst);
    assert_true(ids[0] == 11 && ids[1] == 12 && ids[2] == 13);
    /* ra and dec in degrees, in full double precision, right after objID;
     * NaN (a null cell) for the galaxy without a position */
    for (int k = 0; k < 2; k++) {
        double v[3];
        char unit[FLEN_VALUE] = "", key[16];
        fits_get_colnum(f, CASEINSEN, k ? "dec" : "ra", &col, &fst);
        assert_int_equal(fst, 0);
        assert_int_equal(col, 2 + k);
        fits_read_col(f, TDOUBLE, col, 1, 1, 3, NULL, v, &anynul, &fst);
        assert_true(v[0] == (k ? r[0].dec : r[0].ra));
        assert_true(v[1] == (k ? r[1].dec : r[1].ra));
        assert_true(isnan(v[2]));
        snprintf(key, sizeof key, "TUNIT%d", col);
        fits_read_key(f, TSTRING, key, unit, NULL, &fst);
        assert_string_equal(unit, "deg");
    }
    double med[3];
    fits_get_colnum(f, CASEINSEN, "lgm_tot_p50_median", &col, &fst);
    fits_read_col(f, TDOUBLE, col, 1, 1, 3, NULL, med, &anynul, &fst);
    assert_true(fabs(med[0] - r[0].summary.median[0]) < 1e-6 * (1 + fabs(med[0])));
    assert_true(isnan(med[1]));  /* failed galaxy: NaN summaries */
    /* each line's 68% interval and P(F = 0), named as in the JSON (lo68, hi68,
     * p_zero; once NAME_pzero here), NaN for the failed galaxy */
    static const char *const line_stat[3] = { "lo68", "hi68", "p_zero" };
    for (int q = GP_Q_HALPHA; q < GP_NQ; q++)
        for (int k = 0; k < 3; k++) {
            char name[64];
            double v[3];
            snprintf(name, sizeof name, "%s_%s", gp_quantity_name(q), line_stat[k]);
            fits_get_colnum(f, CASEINSEN, name, &col, &fst);
            if (fst) fail_msg("no column %s (cfitsio status %d)", name, fst);
            fits_read_col(f, TDOUBLE, col, 1, 1, 3, NULL, v, &anynul, &fst);
            for (int i = 0; i < 3; i += 2) {
                const gp_summary *sm = &r[i].summary;
                double want = k == 0 ? sm->lo68[q] : k == 1 ? sm->hi68[q] : sm->p_zero[q];
                if (!(fabs(v[i] - want) <= 1e-6 * (1 + fabs(want))))
                    fail_msg("row %d %s = %.9g, summary %.9g", i + 1, name, v[i], want);
            }
            assert_true(isnan(v[1]));
        }
    /* the correlation matrix: a 9 x 9 vector column (TDIM) in the order CORRORD
     * names, NaN for the failed galaxy */
    {
        double cm[3][GP_NQ * GP_NQ];
        int naxis = 0;
        long naxes[2] = { 0, 0 };
        char order[512] = "", want[512] = "", *op = order;
        fits_get_colnum(f, CASEINSEN, "corr", &col, &fst);
        assert_int_equal(fst, 0);
        fits_read_tdim(f, col, 2, &naxis, naxes, &fst);
        assert_true(fst == 0 && naxis == 2 && naxes[0] == GP_NQ && naxes[1] == GP_NQ);
        fits_read_col(f, TDOUBLE, col, 1, 1, 3 * GP_NQ * GP_NQ, NULL, cm, &anynul, &fst);
        assert_int_equal(fst, 0);
        for (int i = 0; i < 3; i += 2)
            for (int a = 0; a < GP_NQ; a++)
                for (int b = 0; b < GP_NQ; b++)
                    if (!(fabs(cm[i][a * GP_NQ + b] - r[i].summary.corr[a][b]) < 1e-6))
                        fail_msg("row %d corr[%d][%d] = %g, summary %g", i + 1, a, b, cm[i][a * GP_NQ + b],
                                 r[i].summary.corr[a][b]);
        for (int k = 0; k < GP_NQ * GP_NQ; k++) assert_true(isnan(cm[1][k]));
        /* symmetric, with a unit diagonal (not an empty matrix: an off-diagonal r
         * of random samples can itself be near 0) */
        for (int a = 0; a < GP_NQ; a++) {
            assert_true(fabs(cm[0][a * GP_NQ + a] - 1.0) < 1e-6);
            for (int b = 0; b < a; b++) assert_true(fabs(cm[0][a * GP_NQ + b] - cm[0][b * GP_NQ + a]) < 1e-7);
        }
        char *lp = NULL;
        fits_read_key_longstr(f, "CORRORD", &lp, NULL, &fst);
        assert_int_equal(fst, 0);
        snprintf(order, sizeof order, "%s", lp);
        fits_free_memory(lp, &fst);
        for (int q = 0; q < GP_NQ; q++)
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%s", q ? " " : "", gp_quantity_name(q));
        assert_string_equal(op, want);
    }
    double pd;
    fits_get_colnum(f, CASEINSEN, "p_detect", &col, &fst);
    fits_read_col(f, TDOUBLE, col, 3, 1, 1, NULL, &pd, &anynul, &fst);
    assert_true(fabs(pd - 0.25) < 1e-7);
    char msg[260], *mp = msg;
    fits_get_colnum(f, CASEINSEN, "message", &col, &fst);
    fits_read_col(f, TSTRING, col, 2, 1, 1, NULL, &mp, &anynul, &fst);
    assert_string_equal(msg, r[1].message);
    /* samples HDU */
    fits_movnam_hdu(f, BINARY_TBL, "SAMPLES", 0, &fst);
    assert_int_equal(fst, 0);
    float z[20];
    fits_get_colnum(f, CASEINSEN, "z", &col, &fst);
    fits_read_col(f, TFLOAT, col, 3, 1, 20, NULL, z, &anynul, &fst);
    for (int k = 0; k < 20; k++) assert_true(z[k] == r[2].samples[k * GP_NQ + GP_Q_Z]);
    /* SAMPLES is the last HDU, after SUMMARY, with every row */
    int nhdu = 0;
    fits_get_num_hdus(f, &nhdu, &fst);
    assert_int_equal(nhdu, 3);
    fits_get_num_rows(f, &nrows, &fst);
    assert_int_equal(nrows, 3);
    fits_read_col(f, TLONGLONG, 1, 1, 1, 3, NULL, ids, &anynul, &fst);
    assert_true(ids[0] == 11 && ids[1] == 12 && ids[2] == 13);
    fits_close_file(f, &fst);
    assert_int_equal(fst, 0);
    unlink(path);
    /* no partial file left (the table's, and the samples' kept apart until close) */
    char partial[600], partial_s[640];
    snprintf(partial, sizeof partial, "%s.partial-%d", path, (int)getpid());
    snprintf(partial_s, sizeof partial_s, "%s.samples", partial);
    assert_int_not_equal(stat(partial, &sb), 0);
    assert_int_not_equal(stat(partial_s, &sb), 0);
    /* aborted, with and without samples: no file at the final name, no partial file left */
    for (int keep = 0; keep <= 20; keep += 20) {
        assert_int_equal(gp_results_writer_open(path, NULL, keep, &w, &err), GP_OK);
        assert_int_equal(gp_results_writer_append(w, r, 1, &err), GP_OK);
        assert_int_equal(stat(partial, &sb), 0);
        if (keep) assert_int_equal(stat(partial_s, &sb), 0);
        gp_results_writer_abort(w);
        assert_int_not_equal(stat(path, &sb), 0);
        assert_int_not_equal(stat(partial, &sb), 0);
        assert_int_not_equal(stat(partial_s, &sb), 0);
    }
    gp_result_free(r, 3);
    /* an unwritable directory is refused with the path in the message */
    assert_int_equal(gp_results_writer_open("/nonexistent-dir/out.fits", NULL, 0, &w, &err), GP_ERR_FITS);
    assert_non_null(strstr(err.msg, "/nonexistent-dir/out.fits"));
}

int main(void)
{
    gp_test_seed("test_fits_io");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cutout_round_trip),
        cmocka_unit_test(test_results_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
