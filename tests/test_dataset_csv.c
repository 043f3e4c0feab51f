/*
 * test_dataset_csv.c: a training table given as CSV (a CasJobs download)
 * reads into the same dataset as the same rows in FITS (engine/gp_dataset.c
 * through engine/gp_csv.h): every magnitude, target, flag, objID, bad-row
 * bit and count, and the split made from them; bad cells written as CasJobs
 * writes them (empty, null, NaN, -9999) are counted as the FITS table's NaN
 * and -9999; objIDs stay exact 64-bit integers; an objID column of null
 * cells only is no objID column, and a row without an id in a column with
 * ids is an object of its own (as a FITS table's null objID); a model that needs images is
 * refused a CSV; a ragged row or text in a numeric column is refused naming
 * file, line and column.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fitsio.h>

#include "galpost/gp_model.h"
#include "gp_dataset.h"
#include "gp_test_util.h"
#include "train/gp_train_run.h"

#define N 40
enum { C_ID, C_RA, C_Z, C_MAG, C_EXT = C_MAG + 5, C_LGM = C_EXT + 5, C_SFR, C_OH, C_OHM, C_VDISP,
       C_LINE, C_SIG = C_LINE + 4, NCOL };
static const char *const colname[NCOL] = {
    "objID", "ra", "z", "modelMag_u", "modelMag_g", "modelMag_r", "modelMag_i", "modelMag_z",
    "extinction_u", "extinction_g", "extinction_r", "extinction_i", "extinction_z",
    "lgm_tot_p50", "sfr_tot_p50", "oh_p50", "oh_measurable", "v_disp",
    "h_alpha_flux", "h_beta_flux", "nii_6584_flux", "oiii_5007_flux", "sigma_pix_g" };

/* The rows: floats as the FITS table holds them (E columns), z and ra as
 * doubles, objID above 2^53 (a double cannot tell neighbours apart). */
typedef struct rows {
    uint64_t id[N];
    double   v[N][NCOL];   /* C_ID unused */
    const char *cell[N][NCOL];   /* the CSV's spelling of a missing value, NULL: the number */
} rows;

static void make_rows(rows *r)
{
    memset(r, 0, sizeof *r);
    gp_test_seed("dataset_csv");
    for (int i = 0; i < N; i++) {
        r->id[i] = 1237648720693755918ull + (uint64_t)i;
        r->v[i][C_RA] = 150.0 + 0.001 * i + 1e-9 * gp_test_uniform();
        r->v[i][C_Z] = 0.02 + 0.003 * i + 1e-7 * gp_test_uniform();
        for (int b = 0; b < 5; b++) {
            r->v[i][C_MAG + b] = (float)(18.5 - 0.4 * b + 0.3 * gp_test_normal());
            r->v[i][C_EXT + b] = (float)(0.02 + 0.01 * gp_test_uniform());
        }
        r->v[i][C_LGM] = (float)(10.0 + 0.5 * gp_test_normal());
        r->v[i][C_SFR] = (float)(0.3 * gp_test_normal());
        r->v[i][C_OHM] = i % 3 != 0;
        r->v[i][C_OH] = r->v[i][C_OHM] ? (float)(8.9 + 0.1 * gp_test_normal()) : -9999.0;
        r->v[i][C_VDISP] = (float)(90.0 + 3.0 * i + gp_test_uniform());
        for (int l = 0; l < 4; l++) r->v[i][C_LINE + l] = (float)(30.0 + 20.0 * gp_test_normal());
        r->v[i][C_SIG] = (float)(0.0055 + 0.001 * gp_test_uniform());
    }
    /* bad cells, each in the FITS table as NaN or -9999 and in the CSV as CasJobs may write it */
    r->v[2][C_MAG + 1] = NAN;       r->cell[2][C_MAG + 1] = "";        /* photometry */
    r->v[4][C_EXT + 2] = -9999.0;   r->cell[4][C_EXT + 2] = "-9999";   /* photometry */
    r->v[6][C_LGM] = NAN;           r->cell[6][C_LGM] = "null";        /* core */
    r->v[8][C_LINE + 1] = NAN;      r->cell[8][C_LINE + 1] = "NaN";    /* line */
    r->v[10][C_VDISP] = NAN;        r->cell[10][C_VDISP] = "NULL";     /* core (M_BH from v_disp) */
    r->v[12][C_OH] = -9999.0;       r->v[12][C_OHM] = 1;               /* flagged, no value: counted */
    r->v[14][C_Z] = NAN;            r->cell[14][C_Z] = " ";            /* core; a blank cell */
    r->id[16] = r->id[0];                                              /* a doubled row */
    r->id[18] = 9223372036854775807ull;                                /* the largest bigint */
}

static void write_fits(const rows *r, const char *path, int with_id)
{
    fitsfile *f = NULL;
    int st = 0;
    char p[300];
    snprintf(p, sizeof p, "!%s", path);
    fits_create_file(&f, p, &st);
    fits_create_img(f, FLOAT_IMG, 0, NULL, &st);
    char *tt[NCOL], *tf[NCOL];
    for (int c = 0; c < NCOL; c++) {
        tt[c] = (char *)colname[c];
        tf[c] = c == C_ID ? "K" : c == C_OHM ? "J" : (c == C_RA || c == C_Z) ? "D" : "E";
    }
    const int first = with_id ? 0 : 1;
    fits_create_tbl(f, BINARY_TBL, N, NCOL - first, tt + first, tf + first, NULL, "GALAXIES", &st);
    if (with_id) {
        LONGLONG ids[N];
        for (int i = 0; i < N; i++) ids[i] = (LONGLONG)r->id[i];
        fits_write_col(f, TLONGLONG, 1, 1, 1, N, ids, &st);
    }
    for (int c = 1; c < NCOL; c++) {
        double col[N];
        for (int i = 0; i < N; i++) col[i] = r->v[i][c];
        fits_write_col(f, TDOUBLE, c + 1 - first, 1, 1, N, col, &st);
    }
    fits_close_file(f, &st);
    assert_int_equal(st, 0);
}

enum {
    CSV_EXACT = 1,    /* 17 significant digits: strtod gives back the very value */
    CSV_DRESSED = 2,  /* a preamble, comments (one with commas), blank lines, CRLF, quotes, lower-case names */
    CSV_NO_ID = 4,
    CSV_NULL_ID = 8,  /* an objID column of null and empty cells only */
    CSV_SOME_NULL_ID = 16,   /* ids, but no id (null, empty) in rows some_null() */
};

/* The rows without an id of CSV_SOME_NULL_ID (and of the FITS table's null cells). */
static int some_null(int i) { return i % 4 == 3; }

/* The rows as CSV, with a text column 'class' the dataset does not read. */
static void write_csv(const rows *r, const char *path, int how)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    const char *eol = how & CSV_DRESSED ? "\r\n" : "\n";
    if (how & CSV_DRESSED) fprintf(f, "#Table1%s# galpost_train, from CasJobs, DR17%s%s", eol, eol, eol);
    for (int c = (how & CSV_NO_ID) ? 1 : 0; c < NCOL; c++) {
        char nm[64];
        snprintf(nm, sizeof nm, "%s", colname[c]);
        if (how & CSV_DRESSED)
            for (char *p = nm; *p; p++) *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        fprintf(f, "%s,", nm);
    }
    fprintf(f, "class%s", eol);
    for (int i = 0; i < N; i++) {
        if ((how & CSV_DRESSED) && i == N / 2) fprintf(f, "%s# page 2%s", eol, eol);
        if (how & CSV_NULL_ID) fprintf(f, "%s,", i % 3 == 0 ? "null" : i % 3 == 1 ? "" : "NULL");
        else if ((how & CSV_SOME_NULL_ID) && some_null(i)) fprintf(f, "%s,", i % 8 == 3 ? "null" : "");
        else if (!(how & CSV_NO_ID)) fprintf(f, (how & CSV_DRESSED) && i % 2 ? "\"%llu\"," : "%llu,", (unsigned long long)r->id[i]);
        for (int c = 1; c < NCOL; c++) {
            if (r->cell[i][c]) fprintf(f, "%s,", r->cell[i][c]);
            else if (c == C_OHM) fprintf(f, "%d,", (int)r->v[i][c]);
            else if (how & CSV_EXACT) fprintf(f, "%.17g,", r->v[i][c]);
            else fprintf(f, (c == C_RA || c == C_Z) ? "%.10g," : "%.7g,", r->v[i][c]);
        }
        fprintf(f, "GALAXY%s", eol);
    }
    fclose(f);
}

/* The test rows, written as a FITS table and as a CSV file under fresh
 * temporary names. */
static void make_pair(rows *r, char fits[256], int fits_id, char csv[256], int csv_how)
{
    make_rows(r);
    gp_test_tmpname(fits, 256, ".fits");
    gp_test_tmpname(csv, 256, ".csv");
    write_fits(r, fits, fits_id);
    write_csv(r, csv, csv_how);
}

static int same_float(float a, float b) { return (isnan(a) && isnan(b)) || !memcmp(&a, &b, sizeof a); }

/* The two datasets are the same, value for value (tol = 0: bit for bit). */
static void assert_same_dataset(const gp_dataset *a, const gp_dataset *b, double tol)
{
    assert_int_equal(a->n, b->n);
    for (long i = 0; i < a->n; i++) {
        assert_true(a->id[i] == b->id[i]);
        assert_int_equal(a->bad[i], b->bad[i]);
        assert_int_equal(a->oh_ok[i], b->oh_ok[i]);
        for (int k = 0; k < 5; k++) {
            float x = a->mag[i * 5 + k], y = b->mag[i * 5 + k];
            if (tol == 0) assert_true(same_float(x, y));
            else assert_true((isnan(x) && isnan(y)) || fabsf(x - y) <= tol * fabsf(x));
        }
        for (int q = 0; q < GP_NQ; q++) {
            float x = a->target[i * GP_NQ + q], y = b->target[i * GP_NQ + q];
            if (tol == 0) assert_true(same_float(x, y));
            else assert_true((isnan(x) && isnan(y)) || fabsf(x - y) <= tol * (fabsf(x) + 1.0f));
        }
        for (int k = 0; k < 3; k++) {
            float x = a->sigma_pix[i * 3 + k], y = b->sigma_pix[i * 3 + k];
            if (tol == 0) assert_true(same_float(x, y));
            else assert_true((isnan(x) && isnan(y)) || fabsf(x - y) <= tol * fabsf(x));
        }
    }
    for (int r = 0; r < GP_BAD_NREASON; r++) assert_int_equal(a->nbad[r], b->nbad[r]);
    assert_int_equal(a->nbad_rows, b->nbad_rows);
    assert_int_equal(a->noh_flag_no_value, b->noh_flag_no_value);
    assert_int_equal(a->nduplicate_ids, b->nduplicate_ids);
    assert_int_equal(a->nmissing_ids, b->nmissing_ids);
    assert_int_equal(a->mbh_from_vdisp, b->mbh_from_vdisp);
    assert_int_equal(a->nshards, b->nshards);
}

static gp_dataset *open1(const char *path, int flags)
{
    const char *p[1] = { path };
    gp_dataset *d = NULL;
    gp_error err;
    int st = gp_dataset_open(p, 1, flags, &d, &err);
    if (st) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(st, GP_OK);
    return d;
}

/* Same rows, FITS and CSV (exact digits, and dressed as a download may be):
 * the same dataset bit for bit, the bad cells counted alike, objIDs exact,
 * the same split. */
static void test_csv_as_fits(void **state)
{
    (void)state;
    rows r;
    char fits[256], csv[256], dressed[256];
    make_pair(&r, fits, 1, csv, CSV_EXACT);
    gp_test_tmpname(dressed, sizeof dressed, ".csv");
    write_csv(&r, dressed, CSV_EXACT | CSV_DRESSED);
    gp_dataset *a = open1(fits, 0), *b = open1(csv, 0), *c = open1(dressed, 0);
    /* the bad cells: photometry rows 2 (empty) and 4 (-9999), core rows 6 (null), 10 (NULL v_disp)
     * and 14 (blank z), line row 8 (NaN) */
    assert_int_equal(b->n, N);
    assert_int_equal(b->nbad[0], 2);
    assert_int_equal(b->nbad[1], 3);
    assert_int_equal(b->nbad[2], 1);
    assert_int_equal(b->nbad_rows, 6);
    assert_true((b->bad[2] & GP_BAD_PHOT) && (b->bad[4] & GP_BAD_PHOT) && (b->bad[6] & GP_BAD_CORE) &&
                (b->bad[8] & GP_BAD_LINE) && (b->bad[10] & GP_BAD_CORE) && (b->bad[14] & GP_BAD_CORE));
    assert_false(b->bad[0] || b->bad[1] || b->bad[12]);
    assert_int_equal(b->noh_flag_no_value, 1);
    assert_int_equal(b->nduplicate_ids, 1);
    assert_true(b->mbh_from_vdisp);
    /* objIDs exactly (through a double, ids 0..3 would be one number) */
    assert_true(b->id[1] == 1237648720693755919ull && b->id[3] == 1237648720693755921ull);
    assert_true(b->id[18] == 9223372036854775807ull);
    assert_same_dataset(a, b, 0);
    assert_same_dataset(a, c, 0);
    /* the report says the same */
    char *ra = NULL, *rb = NULL;
    size_t la = 0, lb = 0;
    FILE *fa = open_memstream(&ra, &la), *fb = open_memstream(&rb, &lb);
    gp_dataset_report(a, fa);
    gp_dataset_report(b, fb);
    fclose(fa);
    fclose(fb);
    assert_string_equal(ra, rb);
    assert_non_null(strstr(rb, "40 rows in 1 shard, 34 usable, 6 bad"));
    free(ra);
    free(rb);
    /* the split made from them */
    int8_t pa[N], pb[N];
    gp_error err;
    assert_int_equal(gp_train_partition(a, 7, 5, 0, pa, &err), GP_OK);
    assert_int_equal(gp_train_partition(b, 7, 5, 0, pb, &err), GP_OK);
    assert_memory_equal(pa, pb, sizeof pa);
    gp_dataset_close(a);
    gp_dataset_close(b);
    gp_dataset_close(c);
    /* FITS and CSV shards together: rows in order, the CSV's after the FITS's */
    const char *two[2] = { fits, csv };
    gp_dataset *m = NULL;
    assert_int_equal(gp_dataset_open(two, 2, 0, &m, &err), GP_OK);
    assert_int_equal(m->n, 2 * N);
    assert_int_equal(m->shard_first[1], N);
    assert_true(m->id[N + 1] == 1237648720693755919ull);
    assert_int_equal(m->nbad_rows, 12);
    gp_dataset_close(m);
    unlink(fits);
    unlink(csv);
    unlink(dressed);
}

/* gp_dataset_open_table() (cli_shard_why.c reads a failed row's cells again
 * through it): a CSV table is the same table as the dataset read, each row
 * with its line in the file (the dressed file's preamble, blank lines and
 * comments counted); a FITS file has no lines. */
static void test_csv_table_lines(void **state)
{
    (void)state;
    rows r;
    char fits[256], dressed[256];
    make_pair(&r, fits, 1, dressed, CSV_EXACT | CSV_DRESSED);
    gp_error err;
    fitsfile *f = NULL;
    long *lines = (long *)1;
    assert_int_equal(gp_dataset_open_table(dressed, &f, &lines, &err), GP_OK);
    assert_non_null(f);
    assert_non_null(lines);
    /* "#Table1", a comment, a blank line, the header (line 4); at row N/2 a blank line and "# page 2" */
    for (long i = 0; i < N; i++) assert_int_equal(lines[i], 5 + i + (i >= N / 2 ? 2 : 0));
    long nrows = 0;
    int st = 0, col = 0, anynul = 0;
    fits_get_num_rows(f, &nrows, &st);
    assert_int_equal(nrows, N);
    fits_get_colnum(f, CASEINSEN, "modelMag_u", &col, &st);
    double u[N], nul = NAN;
    fits_read_col(f, TDOUBLE, col, 1, 1, N, &nul, u, &anynul, &st);
    assert_int_equal(st, 0);
    for (int i = 0; i < N; i++) {
        if (r.cell[i][C_MAG]) assert_true(isnan(u[i]) || u[i] < -9990);   /* the missing value as written */
        else assert_true(u[i] == r.v[i][C_MAG]);
    }
    fits_close_file(f, &st);
    free(lines);
    lines = (long *)1;
    assert_int_equal(gp_dataset_open_table(fits, &f, &lines, &err), GP_OK);
    assert_null(lines);
    fits_close_file(f, &st);
    /* a file that is neither: refused as by gp_dataset_open, nothing returned */
    assert_int_equal(gp_dataset_open_table("/nonexistent/x.fits", &f, &lines, &err) != GP_OK, 1);
    assert_null(f);
    assert_null(lines);
    unlink(fits);
    unlink(dressed);
}

/* Fewer digits (7 significant for the float32 columns, 10 for the doubles),
 * as a download may print them: the same rows within float parse precision,
 * the same bad rows. */
static void test_csv_short_digits(void **state)
{
    (void)state;
    rows r;
    char fits[256], csv[256];
    make_pair(&r, fits, 1, csv, 0);
    gp_dataset *a = open1(fits, 0), *b = open1(csv, 0);
    assert_same_dataset(a, b, 2e-6);
    gp_dataset_close(a);
    gp_dataset_close(b);
    unlink(fits);
    unlink(csv);
}

/* Without objID: both kinds number the rows the same way. */
static void test_csv_no_objid(void **state)
{
    (void)state;
    rows r;
    char fits[256], csv[256];
    make_pair(&r, fits, 0, csv, CSV_EXACT | CSV_NO_ID);
    gp_dataset *a = open1(fits, 0), *b = open1(csv, 0);
    assert_true(b->id[5] == 5);
    assert_same_dataset(a, b, 0);
    gp_dataset_close(a);
    gp_dataset_close(b);
    unlink(fits);
    unlink(csv);
}

/* A CSV body under a given header; the status and message of opening it. */
static int open_text(const char *text, int flags, char *path, size_t n, gp_error *err)
{
    gp_test_tmpname(path, n, ".csv");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    const char *p[1] = { path };
    gp_dataset *d = NULL;
    int st = gp_dataset_open(p, 1, flags, &d, err);
    gp_dataset_close(d);
    unlink(path);
    return st;
}

#define HDR_TAIL ",modelMag_g,modelMag_r,modelMag_i,modelMag_z,extinction_u,extinction_g," \
            "extinction_r,extinction_i,extinction_z,z,lgm_tot_p50,sfr_tot_p50,v_disp,oh_p50,h_alpha_flux," \
            "h_beta_flux,nii_6584_flux,oiii_5007_flux\n"
#define HDR "objID,modelMag_u" HDR_TAIL
#define ROW(id) id ",19.1,18.0,17.5,17.2,17.0,0.1,0.08,0.05,0.04,0.03,0.05,10.5,0.2,150,9.0,50,15,20,10\n"

/* An objID column without a single id (every cell null or empty, as an
 * export may write a column it could not fill): the table has no objID,
 * its rows numbered as a FITS table's without one, not all given id 0 (one
 * id for every row: all but one reported as duplicates, and one part of a
 * split by id).  A column with some ids keeps them. */
static void test_csv_null_objid(void **state)
{
    (void)state;
    rows r;
    char fits[256], csv[256];
    make_pair(&r, fits, 0, csv, CSV_EXACT | CSV_NULL_ID);
    gp_dataset *a = open1(fits, 0), *b = open1(csv, 0);
    assert_true(b->id[5] == 5);
    assert_int_equal(b->nduplicate_ids, 0);
    assert_same_dataset(a, b, 0);
    gp_dataset_close(a);
    gp_dataset_close(b);
    /* one id in the column: it is an objID column */
    char text[4096];
    snprintf(text, sizeof text, "objID,modelMag_u" HDR_TAIL ROW("null") ROW("12345") ROW(""));
    FILE *f = fopen(csv, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    b = open1(csv, GP_DATASET_NO_TARGETS);
    assert_int_equal(b->n, 3);
    assert_true(b->id[1] == 12345);
    assert_true(b->id[0] == 0 && b->id[2] == 2);   /* no id: shard 0 << 32 | row */
    assert_int_equal(b->nmissing_ids, 2);
    gp_dataset_close(b);
    unlink(fits);
    unlink(csv);
}

/* ra and dec (carried into inference tables): degrees or sexagesimal as a
 * catalogue prints them (colons or blanks); a cell that is neither, out of
 * range, or null, is NaN and never
 * refuses the table or makes its row bad (a position only labels a result).
 * Without the columns: NaN. */
static void test_csv_positions(void **state)
{
    (void)state;
    char csv[256], text[4096];
    gp_test_tmpname(csv, sizeof csv, ".csv");
    snprintf(text, sizeof text, "objID,ra,dec,modelMag_u" HDR_TAIL "%s%s%s%s%s%s",
             ROW("1,229.5257,-42.7447"), ROW("2,15:18:06.18,+42:44:41.0"), ROW("3,abc,12:3x"), ROW("4,null,"),
             ROW("5,25:00:00,+91"), ROW("6,15 18 06.18,+42 44 41.0"));
    FILE *f = fopen(csv, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    gp_dataset *d = open1(csv, GP_DATASET_NO_TARGETS);
    assert_int_equal(d->n, 6);
    assert_int_equal(d->nbad_rows, 0);
    assert_true(d->ra[0] == 229.5257 && d->dec[0] == -42.7447);
    assert_true(fabs(d->ra[1] - (15 + 18 / 60.0 + 6.18 / 3600) * 15) < 1e-9);
    assert_true(fabs(d->dec[1] - (42 + 44 / 60.0 + 41.0 / 3600)) < 1e-9);
    for (int i = 2; i < 5; i++) assert_true(isnan(d->ra[i]) && isnan(d->dec[i]));   /* (5: out of range) */
    assert_true(d->ra[5] == d->ra[1] && d->dec[5] == d->dec[1]);   /* VizieR's blanks as colons */
    gp_dataset_close(d);
    /* no position columns */
    snprintf(text, sizeof text, "objID,modelMag_u" HDR_TAIL ROW("5"));
    f = fopen(csv, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    d = open1(csv, GP_DATASET_NO_TARGETS);
    assert_true(d->n == 1 && isnan(d->ra[0]) && isnan(d->dec[0]));
    gp_dataset_close(d);
    unlink(csv);
}

/* Some rows without an id in a column with ids (empty or null in the CSV; a
 * null cell, TNULL, in FITS): each is an object of its own, numbered by
 * shard and row as in a table without objID, not id 0 (which made them one
 * object: reported as duplicates of one another, all in one part of the
 * split); counted and reported.  CSV and FITS alike. */
static void test_csv_some_null_objid(void **state)
{
    (void)state;
    rows r;
    char fits[256], csv[256];
    make_pair(&r, fits, 1, csv, CSV_EXACT | CSV_SOME_NULL_ID);
    /* the FITS table: the same rows' objID cells null */
    fitsfile *f = NULL;
    int st = 0;
    fits_open_table(&f, fits, READWRITE, &st);
    LONGLONG nv = -1;
    fits_write_key(f, TLONGLONG, "TNULL1", &nv, "no id", &st);
    fits_set_btblnull(f, 1, nv, &st);
    for (int i = 0; i < N; i++) if (some_null(i)) fits_write_col_null(f, 1, i + 1, 1, 1, &st);
    fits_close_file(f, &st);
    assert_int_equal(st, 0);
    gp_dataset *a = open1(fits, 0), *b = open1(csv, 0);
    assert_same_dataset(a, b, 0);
    int nnull = 0;
    for (int i = 0; i < N; i++) {
        if (!some_null(i)) { assert_true(b->id[i] == r.id[i]); continue; }
        assert_true(b->id[i] == (uint64_t)i);
        nnull++;
    }
    assert_int_equal(nnull, 10);
    assert_int_equal(a->nmissing_ids, nnull);
    assert_int_equal(b->nmissing_ids, nnull);
    assert_int_equal(b->nduplicate_ids, 1);   /* row 16's, a doubled row 0; none among the rows without id */
    char *rep = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&rep, &len);
    gp_dataset_report(b, m);
    fclose(m);
    assert_non_null(strstr(rep, "note: 10 rows have an objID column but no id (empty or null cell): each is an object "
                                "of its own, split by its shard and row as in a table without objID\n"));
    assert_non_null(strstr(rep, "note: 1 rows repeat the objID"));
    free(rep);
    /* the split: the rows without id are not one object in one part */
    int8_t part[N];
    gp_error err;
    assert_int_equal(gp_train_partition(b, 7, 5, 0, part, &err), GP_OK);
    int seen[4] = { 0, 0, 0, 0 }, nparts = 0;
    for (int i = 0; i < N; i++)
        if (some_null(i) && part[i] >= 0 && !seen[part[i]]++) nparts++;
    assert_true(nparts >= 2);
    /* an id that is the CSV's own mark of a null cell elsewhere (2^63) stays an id */
    r.id[0] = 9223372036854775808ull;
    write_csv(&r, csv, CSV_EXACT | CSV_SOME_NULL_ID);
    gp_dataset_close(b);
    b = open1(csv, 0);
    assert_true(b->id[0] == 9223372036854775808ull);
    assert_true(b->id[3] == 3);
    assert_int_equal(b->nmissing_ids, nnull);
    gp_dataset_close(a);
    gp_dataset_close(b);
    unlink(fits);
    unlink(csv);
}

static void test_csv_malformed(void **state)
{
    (void)state;
    char path[256], want[512];
    gp_error err;
    /* the reference: it opens */
    assert_int_equal(open_text(HDR ROW("1") ROW("2"), 0, path, sizeof path, &err), GP_OK);
    /* a ragged row (line 4: one field short) */
    assert_int_equal(open_text(HDR ROW("1") ROW("2") "3,19.1,18.0\n", 0, path, sizeof path, &err), GP_ERR_FORMAT);
    snprintf(want, sizeof want, "%s: line 4: 3 fields, the header (line 1) has 20 columns", path);
    assert_string_equal(err.msg, want);
    /* one field too many, after a comment line */
    assert_int_equal(open_text(HDR "# c\n" ROW("1") "2,19.1,18.0,17.5,17.2,17.0,0.1,0.08,0.05,0.04,0.03,0.05,10.5,0.2,150,9.0,"
                               "50,15,20,10,7\n", 0, path, sizeof path, &err), GP_ERR_FORMAT);
    snprintf(want, sizeof want, "%s: line 4: 21 fields, the header (line 1) has 20 columns", path);
    assert_string_equal(err.msg, want);
    /* text in a numeric column, named as the header spells it */
    assert_int_equal(open_text("OBJID,MODELMAG_U" HDR_TAIL ROW("1") "2,abc,18.0,17.5,17.2,17.0,0.1,0.08,0.05,0.04,0.03,"
                               "0.05,10.5,0.2,150,9.0,50,15,20,10\n", 0, path, sizeof path, &err), GP_ERR_FORMAT);
    snprintf(want, sizeof want, "%s: line 3, column 'MODELMAG_U': 'abc' is not a number", path);
    assert_non_null(strstr(err.msg, want));
    /* ... and in a target column */
    assert_int_equal(open_text(HDR ROW("1") "2,19.1,18.0,17.5,17.2,17.0,0.1,0.08,0.05,0.04,0.03,0.05,10.5x,0.2,150,9.0,"
                               "50,15,20,10\n", 0, path, sizeof path, &err), GP_ERR_FORMAT);
    snprintf(want, sizeof want, "%s: line 3, column 'lgm_tot_p50': '10.5x' is not a number", path);
    assert_non_null(strstr(err.msg, want));
    /* an objID a spreadsheet turned into a float: not an object ID */
    assert_int_equal(open_text(HDR ROW("1.23764872069376e+18"), 0, path, sizeof path, &err), GP_ERR_FORMAT);
    snprintf(want, sizeof want, "%s: line 2, column 'objID': '1.23764872069376e+18' is not an object ID", path);
    assert_non_null(strstr(err.msg, want));
    /* a required column missing */
    assert_int_equal(open_text("objID,modelMag_u,modelMag_g\n1,18.2,17.1\n", 0, path, sizeof path, &err), GP_ERR_NOTFOUND);
    snprintf(want, sizeof want, "%s: table has no column 'extinction_u'", path);
    assert_non_null(strstr(err.msg, want));
    /* not comma-separated */
    assert_int_equal(open_text("objID;modelMag_u\n1;18.2\n", 0, path, sizeof path, &err), GP_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "line 1 looks ';'-delimited"));
    /* empty */
    assert_int_equal(open_text("", 0, path, sizeof path, &err), GP_ERR_FORMAT);
    snprintf(want, sizeof want, "%s: empty: no header line with column names", path);
    assert_string_equal(err.msg, want);
}

/* A model that needs images is refused a CSV, naming the file and where
 * cutouts come from; the same file opens without images. */
static void test_csv_image_model(void **state)
{
    (void)state;
    char path[256];
    gp_error err;
    assert_int_equal(open_text(HDR ROW("1"), GP_DATASET_IMAGES, path, sizeof path, &err), GP_ERR_ARG);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "needs images"));
    assert_non_null(strstr(err.msg, "galpost shards"));
    assert_int_equal(open_text(HDR ROW("1"), GP_DATASET_NO_TARGETS | GP_DATASET_IMAGES, path, sizeof path, &err), GP_ERR_ARG);
    assert_int_equal(open_text(HDR ROW("1"), 0, path, sizeof path, &err), GP_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_as_fits),
        cmocka_unit_test(test_csv_table_lines),
        cmocka_unit_test(test_csv_short_digits),
        cmocka_unit_test(test_csv_no_objid),
        cmocka_unit_test(test_csv_null_objid),
        cmocka_unit_test(test_csv_positions),
        cmocka_unit_test(test_csv_some_null_objid),
        cmocka_unit_test(test_csv_malformed),
        cmocka_unit_test(test_csv_image_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
