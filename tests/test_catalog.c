/*
 * test_catalog.c: local photometric catalogues (CSV and FITS, SDSS PhotoObj
 * columns): cone matching, extinction correction, sentinel rows, clear
 * errors for malformed files; the real photoObj fixture when present.
 */
#include <fitsio.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "galpost/gp_image.h"
#include "image_fixture.h"

static char *dir;

static const char *write_text(const char *name, const char *text)
{
    const char *p = fx_write_text(dir, name, text);
    assert_non_null(p);
    return p;
}

static int setup(void **state)
{
    (void)state;
    dir = fx_tmpdir();
    return dir ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    fx_rmtree(dir);
    free(dir);
    return 0;
}

static const char *CSV =
    "#Table1\n"
    "objID,ra,dec,modelMag_u,modelMag_g,modelMag_r,modelMag_i,modelMag_z,"
    "extinction_u,extinction_g,extinction_r,extinction_i,extinction_z\n"
    "1,150.0000,2.0000,19.5,18.1,17.4,17.0,16.8,0.20,0.15,0.10,0.08,0.06\n"
    "1237648720693755918,150.0010,2.0000,20.5,19.1,18.4,18.0,17.8,0.21,0.16,0.11,0.09,0.07\n"
    "# a comment\n"
    "3,150.0002,2.0001,-9999,-9999,-9999,-9999,-9999,0,0,0,0,0\n"
    "4,10.0,-30.0,21.0,20.0,19.5,19.2,19.0,0.05,0.04,0.03,0.02,0.01\n"
    "\n"
    "5,359.9999,0.0,18.0,17.0,16.5,16.2,16.0,0.1,0.1,0.1,0.1,0.1\n";

static void test_csv_match_and_extinction(void **state)
{
    (void)state;
    const char *p = write_text("cat.csv", CSV);
    gp_catalog *c = NULL;
    gp_error err;
    assert_int_equal(gp_catalog_open(p, &c, &err), GP_OK);
    assert_int_equal(gp_catalog_size(c), 5);
    assert_true(gp_catalog_has_extinction(c));
    gp_catalog_entry m;
    /* object 3 (sentinels) is closer to this query than object 1 but unusable */
    assert_int_equal(gp_catalog_match(c, 150.00025, 2.0001, 2.0, &m, &err), GP_OK);
    assert_int_equal(m.row, 0);
    assert_true(m.objid == 1);
    assert_true(fabs(m.sep - gp_sky_separation(150.00025, 2.0001, 150.0, 2.0)) < 1e-9);
    const float want[5] = { 19.30f, 17.95f, 17.30f, 16.92f, 16.74f };
    for (int b = 0; b < 5; b++) assert_true(fabs(m.mag[b] - want[b]) < 1e-5);
    assert_true(fabs(m.extinction[0] - 0.20f) < 1e-6);
    /* the second object, 3.6" east */
    assert_int_equal(gp_catalog_match(c, 150.0011, 2.0, 1.0, &m, &err), GP_OK);
    assert_int_equal(m.row, 1);
    /* nothing within 1" */
    assert_int_equal(gp_catalog_match(c, 150.0005, 2.0, 1.0, &m, &err), GP_ERR_NOTFOUND);
    assert_non_null(strstr(err.msg, "cat.csv"));
    /* across RA = 0 */
    assert_int_equal(gp_catalog_match(c, 0.0001, 0.0, 1.0, &m, &err), GP_OK);
    assert_int_equal(m.row, 4);
    assert_int_equal(gp_catalog_match(c, 150.0, 2.0, -1.0, &m, &err), GP_ERR_ARG);
    /* rows by number: the sentinel row is refused */
    assert_int_equal(gp_catalog_row(c, 1, &m, &err), GP_OK);
    assert_true(m.ra == 150.001 && m.type == -1 && fabs(m.mag[2] - 18.29f) < 1e-5);
    assert_true(m.objid == 1237648720693755918ULL);   /* above 2^53: not through a double */
    assert_int_equal(gp_catalog_row(c, 2, &m, &err), GP_ERR_DATA);
    assert_true(m.row == 2 && m.objid == 3);   /* still named, for a failed row in a batch */
    /* the message names the row (from 1: row index 2 is the third data
     * row, as a person counts them), its line and the column */
    assert_non_null(strstr(err.msg, "cat.csv: row 3 (line 6): column 'modelMag_u' = -9999 is not a usable magnitude"));
    assert_int_equal(gp_catalog_row(c, 5, &m, &err), GP_ERR_ARG);
    gp_catalog_close(c);
}

/* A FITS table whose objID is a double (it cannot hold 19-digit ids): refused,
 * naming the file; a long string column is read whatever its width. */
static void test_fits_objid_columns(void **state)
{
    (void)state;
    for (int kind = 0; kind < 2; kind++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/objid%d.fits", dir, kind);
        fitsfile *f = NULL;
        int st = 0;
        char name[4200];
        snprintf(name, sizeof name, "!%s", p);
        char *ttype[5] = { "objID", "ra", "dec", "modelMag", "extinction" };
        char *tform[5] = { kind ? "100A" : "D", "D", "D", "5E", "5E" };
        fits_create_file(&f, name, &st);
        fits_create_tbl(f, BINARY_TBL, 1, 5, ttype, tform, NULL, "CAT", &st);
        double ra = 10, dec = 20, idd = 1237648720693755918.0;
        float mag[5] = { 19, 18, 17, 16.5f, 16 }, ext[5] = { 0 };
        char idtext[101] = "   1237648720693755918", *idp = idtext;
        if (kind) fits_write_col(f, TSTRING, 1, 1, 1, 1, &idp, &st);
        else fits_write_col(f, TDOUBLE, 1, 1, 1, 1, &idd, &st);
        fits_write_col(f, TDOUBLE, 2, 1, 1, 1, &ra, &st);
        fits_write_col(f, TDOUBLE, 3, 1, 1, 1, &dec, &st);
        fits_write_col(f, TFLOAT, 4, 1, 1, 5, mag, &st);
        fits_write_col(f, TFLOAT, 5, 1, 1, 5, ext, &st);
        fits_close_file(f, &st);
        assert_int_equal(st, 0);
        gp_catalog *c = NULL;
        gp_error err;
        if (kind == 0) {
            assert_int_equal(gp_catalog_open(p, &c, &err), GP_ERR_FORMAT);
            assert_non_null(strstr(err.msg, "objid0.fits"));
            assert_non_null(strstr(err.msg, "objID"));
        } else {
            assert_int_equal(gp_catalog_open(p, &c, &err), GP_OK);
            gp_catalog_entry m;
            assert_int_equal(gp_catalog_row(c, 0, &m, &err), GP_OK);
            assert_true(m.objid == 1237648720693755918ULL);
            gp_catalog_close(c);
        }
    }
}

static void test_csv_without_extinction(void **state)
{
    (void)state;
    const char *p = write_text("noext.csv",
        "ra,dec,modelMag_u,modelMag_g,modelMag_r,modelMag_i,modelMag_z\n"
        "20.5,-3.25,19.0,18.0,17.0,16.5,16.25\n");
    gp_catalog *c = NULL;
    gp_error err;
    assert_int_equal(gp_catalog_open(p, &c, &err), GP_OK);
    assert_false(gp_catalog_has_extinction(c));
    gp_catalog_entry m;
    assert_int_equal(gp_catalog_match(c, 20.5, -3.25, 0.5, &m, &err), GP_OK);
    assert_true(m.mag[4] == 16.25f && m.extinction[4] == 0.0f);
    assert_true(m.objid == 0);   /* no objID column */
    gp_catalog_close(c);
    /* an objID that is not a non-negative integer: that row fails, naming
     * the file, row, line and column; it is never matched */
    p = write_text("badid.csv",
        "objid,ra,dec,modelMag_u,modelMag_g,modelMag_r,modelMag_i,modelMag_z\n"
        "7,20.5,-3.25,19.0,18.0,17.0,16.5,16.25\n"
        "-8,20.6,-3.25,19.0,18.0,17.0,16.5,16.25\n");
    assert_int_equal(gp_catalog_open(p, &c, &err), GP_OK);
    assert_int_equal(gp_catalog_size(c), 2);
    assert_int_equal(gp_catalog_row(c, 0, &m, &err), GP_OK);
    assert_true(m.objid == 7);
    assert_int_equal(gp_catalog_row(c, 1, &m, &err), GP_ERR_DATA);
    assert_non_null(strstr(err.msg, "badid.csv: row 2 (line 3): column 'objid': '-8' is not an object ID"));
    /* never matched: a query on it is told why */
    assert_int_equal(gp_catalog_match(c, 20.6, -3.25, 0.5, &m, &err), GP_ERR_DATA);
    assert_non_null(strstr(err.msg, "badid.csv: row 2 (line 3), the nearest object within 0.50\""));
    assert_non_null(strstr(err.msg, "cannot be used: column 'objid': '-8' is not an object ID"));
    gp_catalog_close(c);
}

/* Rows that cannot be read: counted (gp_catalog_unreadable), never matched,
 * and each keeps its objID where that cell can be read: in a line with the
 * wrong number of fields only a first-column objID is (no field before it
 * can be missing or extra). */
static void test_unreadable_rows(void **state)
{
    (void)state;
    const char *p = write_text("unread.csv",
        "objID,ra,dec,modelMag_u,modelMag_g,modelMag_r,modelMag_i,modelMag_z\n"
        "7,20.5,-3.25,19.0,18.0,17.0,16.5,16.25\n"
        "8,20.5,-3.25,19.0,18.0\n"
        "x9,20.5,-3.25,19.0,18.0\n"
        "10,20.5,-3.25,19.0,abc,17.0,16.5,16.25\n");
    gp_catalog *c = NULL;
    gp_error err;
    gp_catalog_entry m;
    assert_int_equal(gp_catalog_open(p, &c, &err), GP_OK);
    assert_true(gp_catalog_has_objid(c));
    size_t first = 99;
    assert_int_equal(gp_catalog_unreadable(c, &first), 3);
    assert_int_equal(first, 1);
    const uint64_t want[4] = { 7, 8, 0, 10 };
    for (size_t r = 0; r < 4; r++) {
        assert_int_equal(gp_catalog_row(c, r, &m, &err), r ? GP_ERR_DATA : GP_OK);
        assert_true(m.objid == want[r]);
    }
    assert_int_equal(gp_catalog_match(c, 20.5, -3.25, 1.0, &m, &err), GP_OK);
    assert_int_equal(m.row, 0);
    gp_catalog_close(c);
    /* objID in another column: a ragged line's cells cannot be told apart */
    p = write_text("unread2.csv",
        "ra,dec,objID,modelMag_u,modelMag_g,modelMag_r,modelMag_i,modelMag_z\n"
        "20.5,-3.25,8,19.0,18.0\n");
    assert_int_equal(gp_catalog_open(p, &c, &err), GP_OK);
    assert_int_equal(gp_catalog_row(c, 0, &m, &err), GP_ERR_DATA);
    assert_true(m.objid == 0);
    assert_int_equal(gp_catalog_unreadable(c, NULL), 1);
    gp_catalog_close(c);
    /* no objID column; every row read */
    p = write_text("unread3.csv",
        "ra,dec,modelMag_u,modelMag_g,modelMag_r,modelMag_i,modelMag_z\n"
        "20.5,-3.25,-9999,18.0,17.0,16.5,16.25\n");
    assert_int_equal(gp_catalog_open(p, &c, &err), GP_OK);
    assert_false(gp_catalog_has_objid(c));
    first = 99;
    assert_int_equal(gp_catalog_unreadable(c, &first), 0);   /* a sentinel is read, only unusable */
    assert_int_equal(first, 99);
    gp_catalog_close(c);
}

/* Where a row is, as messages and the colours' source say: its row from 1
 * and, in a CSV file, its line as an editor counts it (header, comment and
 * blank lines included); a FITS table has rows only. */
static void test_row_where(void **state)
{
    (void)state;
    const char *p = write_text("where.csv",
        "# DR17 export\n"
        "objID,ra,dec,modelMag_u,modelMag_g,modelMag_r,modelMag_i,modelMag_z\n"
        "# a comment\n"
        "\n"
        "7,20.5,-3.25,19.0,18.0,17.0,16.5,16.25\n"
        "8,21.5,-3.25,19.0,18.0,17.0,16.5,16.25\n");
    gp_catalog *c = NULL;
    gp_error err;
    gp_catalog_entry m;
    char buf[64];
    assert_int_equal(gp_catalog_open(p, &c, &err), GP_OK);
    assert_int_equal(gp_catalog_match(c, 21.5, -3.25, 1.0, &m, &err), GP_OK);
    gp_catalog_row_where(c, m.row, buf, sizeof buf);
    assert_string_equal(buf, "row 2 (line 6)");
    gp_catalog_row_where(c, 0, buf, sizeof buf);
    assert_string_equal(buf, "row 1 (line 5)");
    gp_catalog_row_where(c, 2, buf, sizeof buf);
    assert_string_equal(buf, "row ?");
    gp_catalog_close(c);
}

/* A FITS objID column, signed (CasJobs' bigint) or unsigned (TZERO = 2^63,
 * astropy's uint64): both read exactly, an unsigned id above 2^63 too (it
 * overflowed the signed read and failed the whole catalogue) */
static void test_fits_objid_signedness(void **state)
{
    (void)state;
    for (int uns = 0; uns < 2; uns++) {
        char p[4096], name[4200];
        snprintf(p, sizeof p, "%s/objid-%s.fits", dir, uns ? "unsigned" : "signed");
        snprintf(name, sizeof name, "!%s", p);
        fitsfile *f = NULL;
        int st = 0;
        char *ttype[4] = { "objID", "ra", "dec", "modelMag" };
        char *tform[4] = { uns ? "1W" : "1K", "D", "D", "5E" };
        fits_create_file(&f, name, &st);
        fits_create_tbl(f, BINARY_TBL, 2, 4, ttype, tform, NULL, "CAT", &st);
        double ra[2] = { 10, 11 }, dec[2] = { 20, 20 };
        float mag[10] = { 19, 18, 17, 16.5f, 16, 19, 18, 17, 16.5f, 16 };
        if (uns) {
            ULONGLONG id[2] = { 1237648720693755918ULL, 18446744073709551615ULL };
            fits_write_col(f, TULONGLONG, 1, 1, 1, 2, id, &st);
        } else {
            LONGLONG id[2] = { 1237648720693755918LL, 5 };
            fits_write_col(f, TLONGLONG, 1, 1, 1, 2, id, &st);
        }
        fits_write_col(f, TDOUBLE, 2, 1, 1, 2, ra, &st);
        fits_write_col(f, TDOUBLE, 3, 1, 1, 2, dec, &st);
        fits_write_col(f, TFLOAT, 4, 1, 1, 10, mag, &st);
        fits_close_file(f, &st);
        assert_int_equal(st, 0);
        gp_catalog *c = NULL;
        gp_error err;
        assert_int_equal(gp_catalog_open(p, &c, &err), GP_OK);
        gp_catalog_entry m;
        assert_int_equal(gp_catalog_row(c, 0, &m, &err), GP_OK);
        assert_true(m.objid == 1237648720693755918ULL);
        assert_int_equal(gp_catalog_row(c, 1, &m, &err), GP_OK);
        assert_true(m.objid == (uns ? 18446744073709551615ULL : 5));
        assert_true(gp_catalog_has_objid(c));
        gp_catalog_close(c);
    }
}

/* extinction_r alone: the other bands scaled by the SFD98 ratios */
static void test_csv_extinction_r_only(void **state)
{
    (void)state;
    const char *p = write_text("extr.csv",
        "ra,dec,modelMag_u,modelMag_g,modelMag_r,modelMag_i,modelMag_z,extinction_r\n"
        "20.5,-3.25,19.0,18.0,17.0,16.5,16.25,0.2751\n");
    gp_catalog *c = NULL;
    gp_error err;
    assert_int_equal(gp_catalog_open(p, &c, &err), GP_OK);
    assert_true(gp_catalog_has_extinction(c));
    gp_catalog_entry m;
    assert_int_equal(gp_catalog_match(c, 20.5, -3.25, 0.5, &m, &err), GP_OK);
    const double a[5] = { 0.5155, 0.3793, 0.2751, 0.2086, 0.1479 }, mag[5] = { 19.0, 18.0, 17.0, 16.5, 16.25 };
    for (int b = 0; b < 5; b++) {
        assert_true(fabs(m.extinction[b] - a[b]) < 1e-5);
        assert_true(fabs(m.mag[b] - (mag[b] - a[b])) < 1e-5);
    }
    gp_catalog_close(c);
}

/* A query that only an unusable row is near (its position readable, a
 * magnitude 'null' or -9999) is told that row and why, not that nothing is
 * there; a usable row within the radius still wins, however farther; a row
 * whose position cannot be read leaves the plain "no object". */
static void test_match_names_unusable_row(void **state)
{
    (void)state;
    const char *p = write_text("near.csv",
        "objID,ra,dec,modelMag_u,modelMag_g,modelMag_r,modelMag_i,modelMag_z\n"
        "11,30.0,10.0,19.0,18.0,17.0,16.5,16.25\n"
        "12,30.0,10.0005,19.0,18.0,17.0,16.5,16.25\n"
        "13,30.0,10.001,-9999,18.0,17.0,16.5,16.25\n"
        "14,30.0,10.002,null,18.0,17.0,16.5,16.25\n"
        "15,30.0,10.003,19.0\n"
        "16,x,10.004,19.0,18.0,17.0,16.5,16.25\n");
    gp_catalog *c = NULL;
    gp_error err;
    gp_catalog_entry m;
    assert_int_equal(gp_catalog_open(p, &c, &err), GP_OK);
    /* on row 4 ('null' u): GP_ERR_DATA naming it, its line, the column */
    assert_int_equal(gp_catalog_match(c, 30.0, 10.002, 2.0, &m, &err), GP_ERR_DATA);
    assert_non_null(strstr(err.msg, "near.csv: row 4 (line 5), the nearest object within 2.00\" of RA 30.000000 Dec "
                                    "10.002000 (0.00\" away), cannot be used: column 'modelMag_u': 'null' is not a number"));
    assert_true(m.row == 3 && m.objid == 14 && m.ra == 30.0 && m.dec == 10.002 && m.sep < 1e-6);
    /* 1" off the sentinel row 3, 2.6" from row 2: row 3 named */
    assert_int_equal(gp_catalog_match(c, 30.0, 10.0013, 1.5, &m, &err), GP_ERR_DATA);
    assert_non_null(strstr(err.msg, "near.csv: row 3 (line 4), the nearest object within 1.50\""));
    assert_non_null(strstr(err.msg, "cannot be used: column 'modelMag_u' = -9999 is not a usable magnitude"));
    assert_true(m.row == 2 && m.objid == 13 && fabs(m.sep - gp_sky_separation(30.0, 10.0013, 30.0, 10.001)) < 1e-9);
    /* a usable row within the radius wins over a nearer unusable one */
    assert_int_equal(gp_catalog_match(c, 30.0, 10.0009, 2.0, &m, &err), GP_OK);
    assert_true(m.row == 1 && m.objid == 12);
    /* rows whose position cannot be read (a ragged line, ra 'x') are never near */
    assert_int_equal(gp_catalog_match(c, 30.0, 10.003, 1.0, &m, &err), GP_ERR_NOTFOUND);
    assert_non_null(strstr(err.msg, "near.csv: no object within 1.00\""));
    assert_int_equal(gp_catalog_match(c, 30.0, 10.004, 1.0, &m, &err), GP_ERR_NOTFOUND);
    /* beyond the radius of everything: nothing */
    assert_int_equal(gp_catalog_match(c, 31.0, 10.002, 2.0, &m, &err), GP_ERR_NOTFOUND);
    gp_catalog_close(c);
}

static void test_malformed_csv_refused(void **state)
{
    (void)state;
    gp_catalog *c = NULL;
    gp_error err;
    const char *p = write_text("nomag.csv", "ra,dec,modelMag_u,modelMag_g,modelMag_r,modelMag_i\n1,2,3,4,5,6\n");
    assert_int_equal(gp_catalog_open(p, &c, &err), GP_ERR_NOTFOUND);
    assert_non_null(strstr(err.msg, "modelMag_z"));
    assert_null(c);
    /* a line with the wrong number of fields, a cell that is not a number
     * ("abc", "null"): failed rows naming row, line and column; the other
     * rows are read */
    gp_catalog_entry m;
    p = write_text("short.csv", "ra,dec,modelMag_u,modelMag_g,modelMag_r,modelMag_i,modelMag_z\n1,2,13,14,15,16,17\n1,2,3\n"
                   "3,4,13,14,15,16,17\n");
    assert_int_equal(gp_catalog_open(p, &c, &err), GP_OK);
    assert_int_equal(gp_catalog_size(c), 3);
    assert_int_equal(gp_catalog_row(c, 1, &m, &err), GP_ERR_DATA);
    assert_non_null(strstr(err.msg, "short.csv: row 2 (line 3): 3 fields, the header (line 1) has 7"));
    assert_int_equal(gp_catalog_row(c, 2, &m, &err), GP_OK);
    assert_true(m.ra == 3 && m.mag[4] == 17);
    gp_catalog_close(c);
    p = write_text("text.csv", "ra,dec,modelMag_u,modelMag_g,modelMag_r,modelMag_i,modelMag_z\n1,2,13,14,abc,16,17\n"
                   "1,2,13,14,15,16,null\n1,2,13,14,15,16,17\n");
    assert_int_equal(gp_catalog_open(p, &c, &err), GP_OK);
    assert_int_equal(gp_catalog_row(c, 0, &m, &err), GP_ERR_DATA);
    assert_non_null(strstr(err.msg, "text.csv: row 1 (line 2): column 'modelMag_r': 'abc' is not a number"));
    assert_int_equal(gp_catalog_row(c, 1, &m, &err), GP_ERR_DATA);
    assert_non_null(strstr(err.msg, "text.csv: row 2 (line 3): column 'modelMag_z': 'null' is not a number"));
    assert_int_equal(gp_catalog_row(c, 2, &m, &err), GP_OK);
    assert_int_equal(gp_catalog_match(c, 1, 2, 1.0, &m, &err), GP_OK);
    assert_int_equal(m.row, 2);
    gp_catalog_close(c);
    /* another delimiter is named, not "no header" */
    p = write_text("semi.csv", "objID;ra;dec\n1;2;3\n");
    assert_int_equal(gp_catalog_open(p, &c, &err), GP_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "semi.csv: no comma-separated header line: line 1 looks ';'-delimited"));
    c = NULL;
    p = write_text("partial.csv", "ra,dec,modelMag_u,modelMag_g,modelMag_r,modelMag_i,modelMag_z,extinction_u\n1,2,3,4,5,6,7,8\n");
    assert_int_equal(gp_catalog_open(p, &c, &err), GP_ERR_NOTFOUND);
    assert_non_null(strstr(err.msg, "extinction"));
    p = write_text("empty.csv", "");
    assert_int_equal(gp_catalog_open(p, &c, &err), GP_ERR_FORMAT);
    char missing[4200];
    snprintf(missing, sizeof missing, "%s/none.csv", dir);
    assert_int_equal(gp_catalog_open(missing, &c, &err), GP_ERR_IO);
    assert_non_null(strstr(err.msg, "none.csv"));
}

static void test_fits_table(void **state)
{
    (void)state;
    char p[4096], name[4100];
    snprintf(p, sizeof p, "%s/cat.fits", dir);
    snprintf(name, sizeof name, "!%s", p);
    char *ttype[12] = { "RA", "DEC", "modelMag_u", "modelMag_g", "modelMag_r", "modelMag_i", "modelMag_z",
                        "extinction_u", "extinction_g", "extinction_r", "extinction_i", "extinction_z" };
    char *tform[12] = { "D", "D", "E", "E", "E", "E", "E", "E", "E", "E", "E", "E" };
    fitsfile *fp = NULL;
    int status = 0;
    fits_create_file(&fp, name, &status);
    fits_create_tbl(fp, BINARY_TBL, 0, 12, ttype, tform, NULL, "PHOTO", &status);
    double ra[3] = { 30.0, 30.001, 31.0 }, dec[3] = { 5.0, 5.0, 5.0 };
    fits_write_col(fp, TDOUBLE, 1, 1, 1, 3, ra, &status);
    fits_write_col(fp, TDOUBLE, 2, 1, 1, 3, dec, &status);
    for (int k = 0; k < 10; k++) {
        float v[3] = { 18.0f + k, 19.0f + k, 20.0f + k };
        if (k >= 5) v[0] = v[1] = v[2] = 0.01f * (float)(k - 4);
        fits_write_col(fp, TFLOAT, 3 + k, 1, 1, 3, v, &status);
    }
    fits_close_file(fp, &status);
    assert_int_equal(status, 0);
    gp_catalog *c = NULL;
    gp_error err;
    assert_int_equal(gp_catalog_open(p, &c, &err), GP_OK);
    assert_int_equal(gp_catalog_size(c), 3);
    assert_true(gp_catalog_has_extinction(c));
    gp_catalog_entry m;
    assert_int_equal(gp_catalog_match(c, 30.001, 5.0001, 1.0, &m, &err), GP_OK);
    assert_int_equal(m.row, 1);
    for (int b = 0; b < 5; b++)
        assert_true(fabs(m.mag[b] - ((19.0f + b) - 0.01f * (b + 1))) < 1e-5);
    gp_catalog_close(c);
}

/* The real SDSS photoObj fixture: vector MODELMAG[5] and EXTINCTION[5]. */
static void test_real_photoobj(void **state)
{
    (void)state;
    const char *shared = getenv("GP_SHARED_DATA");
    char p[4096];
    snprintf(p, sizeof p, "%s/sdss-fixtures/frame-r-001000-1-0100/photoObj-001000-1-0100.fits",
             shared ? shared : "../shared/data");
    FILE *t = fopen(p, "rb");
    if (!t) skip();
    fclose(t);
    gp_catalog *c = NULL;
    gp_error err;
    assert_int_equal(gp_catalog_open(p, &c, &err), GP_OK);
    assert_true(gp_catalog_has_extinction(c));
    /* independent read of every row with cfitsio */
    fitsfile *fp = NULL;
    int status = 0, cra, cdec, cmag, cext, cid, anynul;
    long n = 0;
    fits_open_table(&fp, p, READONLY, &status);
    fits_get_num_rows(fp, &n, &status);
    fits_get_colnum(fp, CASEINSEN, "RA", &cra, &status);
    fits_get_colnum(fp, CASEINSEN, "DEC", &cdec, &status);
    fits_get_colnum(fp, CASEINSEN, "MODELMAG", &cmag, &status);
    fits_get_colnum(fp, CASEINSEN, "EXTINCTION", &cext, &status);
    fits_get_colnum(fp, CASEINSEN, "OBJID", &cid, &status);
    assert_int_equal(status, 0);
    assert_int_equal(gp_catalog_size(c), (size_t)n);
    int matched = 0;
    for (long r = 1; r <= n; r++) {
        double ra, dec;
        float mag[5], ext[5];
        fits_read_col(fp, TDOUBLE, cra, r, 1, 1, NULL, &ra, &anynul, &status);
        fits_read_col(fp, TDOUBLE, cdec, r, 1, 1, NULL, &dec, &anynul, &status);
        fits_read_col(fp, TFLOAT, cmag, r, 1, 5, NULL, mag, &anynul, &status);
        fits_read_col(fp, TFLOAT, cext, r, 1, 5, NULL, ext, &anynul, &status);
        char idtext[64] = "", *idp = idtext;
        fits_read_col(fp, TSTRING, cid, r, 1, 1, NULL, &idp, &anynul, &status);
        assert_int_equal(status, 0);
        int usable = 1;
        for (int b = 0; b < 5; b++) if (!(mag[b] > -9000 && mag[b] < 9000)) usable = 0;
        gp_catalog_entry m;
        int st = gp_catalog_match(c, ra, dec, 0.01, &m, &err);
        if (!usable) continue;
        assert_int_equal(st, GP_OK);
        if ((long)m.row != r - 1) continue;   /* a duplicate position (deblended child) */
        assert_true(m.type >= 0 && m.type <= 8);    /* PhotoObj TYPE read along */
        char mine[32];
        snprintf(mine, sizeof mine, "%llu", (unsigned long long)m.objid);
        assert_true(m.objid > 0);
        const char *idt = idtext;
        while (*idt == ' ') idt++;
        assert_true(strncmp(idt, mine, strlen(mine)) == 0);   /* the OBJID string, digit for digit */
        assert_true(idt[strlen(mine)] == '\0' || idt[strlen(mine)] == ' ');
        for (int b = 0; b < 5; b++) assert_true(fabs(m.mag[b] - (mag[b] - ext[b])) < 1e-4);
        matched++;
    }
    fits_close_file(fp, &status);
    assert_true(matched > 0);
    gp_catalog_close(c);
}

static void test_separation(void **state)
{
    (void)state;
    assert_true(fabs(gp_sky_separation(0, 0, 0, 1) - 3600.0) < 1e-6);
    assert_true(fabs(gp_sky_separation(10, 80, 190, 80) - 20 * 3600.0) < 1e-6);
    assert_true(fabs(gp_sky_separation(359.5, 0, 0.5, 0) - 3600.0) < 1e-6);
    assert_true(gp_sky_separation(12.3, -45.6, 12.3, -45.6) == 0.0);
}

/* An image without a table is refused naming the file, and nothing of it is
 * kept (cfitsio leaves such a file open unless closed: LeakSanitizer in
 * CI's sanitizer pass sees it). */
static void test_fits_without_table(void **state)
{
    (void)state;
    char p[4096], name[4100];
    snprintf(p, sizeof p, "%s/image.fits", dir);
    snprintf(name, sizeof name, "!%s", p);
    fitsfile *fp = NULL;
    int status = 0;
    long ax[2] = { 4, 4 };
    float z[16] = { 0 };
    fits_create_file(&fp, name, &status);
    fits_create_img(fp, FLOAT_IMG, 2, ax, &status);
    fits_write_img(fp, TFLOAT, 1, 16, z, &status);
    fits_close_file(fp, &status);
    assert_int_equal(status, 0);
    gp_catalog *c = NULL;
    gp_error err;
    assert_int_equal(gp_catalog_open(p, &c, &err), GP_ERR_FITS);
    assert_null(c);
    assert_non_null(strstr(err.msg, p));
    assert_non_null(strstr(err.msg, "cannot open as a FITS table"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_separation),
        cmocka_unit_test(test_csv_match_and_extinction),
        cmocka_unit_test(test_csv_without_extinction),
        cmocka_unit_test(test_fits_objid_columns),
        cmocka_unit_test(test_unreadable_rows),
        cmocka_unit_test(test_row_where),
        cmocka_unit_test(test_fits_objid_signedness),
        cmocka_unit_test(test_csv_extinction_r_only),
        cmocka_unit_test(test_match_names_unusable_row),
        cmocka_unit_test(test_malformed_csv_refused),
        cmocka_unit_test(test_fits_table),
        cmocka_unit_test(test_fits_without_table),
        cmocka_unit_test(test_real_photoobj),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
