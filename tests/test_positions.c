/*
 * test_positions.c: the lists of galpost infer --positions
 * (engine/cli/cli_positions.h) read from files written here: DS9 region
 * files as DS9 8 saves them (degrees and sexagesimal, several regions on a
 * line, text={objID}), galactic and FK4 centres turned into FK5, unusable regions
 * (excluded, image and ecliptic coordinates, polygons, none
 * before a coordinate system) kept as failed
 * rows naming what is wrong, FITS tables as TOPCAT, CasJobs and VizieR
 * write them (ra/dec, RAJ2000/DEJ2000 in degrees or sexagesimal strings,
 * objID) and FITS tables that cannot be read, with their messages; a CSV
 * list is still read as one.
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
#include <sys/stat.h>
#include <cmocka.h>

#include "cli/cli_positions.h"
#include "image_fixture.h"

static char *dir;

static const char *path_of(const char *name) { return fx_path(dir, name); }

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

static gp_cli_positions *read_ok(const char *path)
{
    gp_cli_positions *p = NULL;
    gp_error err;
    int st = gp_cli_positions_read(path, &p, &err);
    if (st) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(st, GP_OK);
    assert_non_null(p);
    return p;
}

/* row r (0-based) read at (ra, dec) within 1e-9 degrees, on `line` */
static void assert_row(const gp_cli_positions *p, long r, double ra, double dec, uint64_t id, long line)
{
    assert_true(r < p->n);
    if (p->row[r].why) fprintf(stderr, "row %ld: %s\n", r + 1, p->row[r].why);
    assert_null(p->row[r].why);
    assert_true(fabs(p->row[r].ra - ra) < 1e-9);
    assert_true(fabs(p->row[r].dec - dec) < 1e-9);
    assert_true(p->row[r].objid == id);
    assert_int_equal(p->row[r].line, line);
}

/* row r failed, its reason holding `why`, and where() saying `where` */
static void assert_failed(const gp_cli_positions *p, long r, const char *why, const char *where)
{
    assert_true(r < p->n);
    assert_non_null(p->row[r].why);
    if (!strstr(p->row[r].why, why)) fprintf(stderr, "row %ld: '%s', expected '%s'\n", r + 1, p->row[r].why, why);
    assert_non_null(strstr(p->row[r].why, why));
    char buf[4400], want[4400];
    gp_cli_positions_where(p, r, buf, sizeof buf);
    snprintf(want, sizeof want, "%s: %s", p->path, where);
    assert_string_equal(buf, want);
}

/* As DS9 8.4 saves regions (Region > Save, ds9 format, fk5, degrees and
 * then sexagesimal), with regions typed in its syntax after them. */
static const char *DS9_FILE =
    "# Region file format: DS9 version 4.1\n"
    "global color=green dashlist=8 3 width=1 font=\"helvetica 10 normal roman\" select=1 highlite=1 dash=0 "
    "fixed=0 edit=1 move=1 delete=1 include=1 source=1\n"
    "fk5\n"
    "circle(229.5257,42.7447,5\") # text={1237662301903192106}\n"
    "point(15:18:06.180,+42:44:41.00) # point=x\n"
    "ellipse(229.5,-42.7,5\",3\",45) # color=red text={NGC 5907}\n"
    "box(0.5,0.25,10\",5\",0)\n"
    "# text(229.5,42.7) text={a label}\n"
    "annulus(359.75,-89.5,2\",4\",6\") # text={12}\n"
    "fk5;circle(10,20,1\") ; circle 11 21 1\" # text={7}\n"
    "icrs\n"
    "circle point(15h18m06.18s,42d44m41.0s)\n"
    "x point 229.5d -1.5d\n"
    "\n"
    "j2000;point(0:00:00.0,-00:30:00.0)\n";

static void test_ds9_regions(void **state)
{
    (void)state;
    gp_cli_positions *p = read_ok(write_text("saved.reg", DS9_FILE));
    assert_int_equal(p->format, GP_CLI_POSITIONS_DS9);
    assert_int_equal(p->n, 10);
    double ra_hms = 15 * (15 + 18 / 60.0 + 6.18 / 3600), dec_dms = 42 + 44 / 60.0 + 41.0 / 3600;
    assert_row(p, 0, 229.5257, 42.7447, 1237662301903192106ull, 4);
    assert_row(p, 1, ra_hms, dec_dms, 0, 5);
    assert_row(p, 2, 229.5, -42.7, 0, 6);   /* (a text that is not an ID: no ID) */
    assert_row(p, 3, 0.5, 0.25, 0, 7);
    assert_row(p, 4, 359.75, -89.5, 12, 9);
    assert_row(p, 5, 10, 20, 0, 10);
    assert_row(p, 6, 11, 21, 7, 10);        /* (the line's properties are its last region's) */
    assert_row(p, 7, ra_hms, dec_dms, 0, 12);
    assert_row(p, 8, 229.5, -1.5, 0, 13);
    assert_row(p, 9, 0, -0.5, 0, 15);
    assert_true(p->has_objid);
    char buf[4400];
    gp_cli_positions_where(p, 1, buf, sizeof buf);
    assert_true(strstr(buf, "saved.reg: row 2 (line 5)") != NULL);
    gp_cli_positions_free(p);
}

/* Galactic centres rotated to FK5 J2000: against astropy 8.0's Galactic ->
 * FK5(J2000) within 0.1 arcsec (the frames' own definitions differ by less:
 * the galactic pole's J2000 values).  Galactic sexagesimal longitudes are
 * degrees, not hours.  Ecliptic centres are failed rows: DS9 writes them
 * for the equinox of the image's DATE-OBS (3 arcmin from J2000's for an
 * SDSS frame of 2004), which the file does not name. */
static void assert_near(const gp_cli_positions *p, long r, double ra, double dec, long line)
{
    assert_true(r < p->n);
    if (p->row[r].why) fprintf(stderr, "row %ld: %s\n", r + 1, p->row[r].why);
    assert_null(p->row[r].why);
    double dra = fabs(p->row[r].ra - ra);
    if (dra > 180) dra = 360 - dra;
    dra *= cos(dec * M_PI / 180);
    if (!(dra < 0.1 / 3600 && fabs(p->row[r].dec - dec) < 0.1 / 3600))
        fail_msg("row %ld: (%.7f, %.7f), expected (%.7f, %.7f)", r + 1, p->row[r].ra, p->row[r].dec, ra, dec);
    assert_int_equal(p->row[r].line, line);
}

static void test_ds9_galactic_ecliptic(void **state)
{
    (void)state;
    gp_cli_positions *p = read_ok(write_text("gal.reg",
        "# Region file format: DS9 version 4.1\n"
        "galactic\n"
        "circle(0,0,5\")\n"                                  /* 1 */
        "circle(90.0000000,30.0000000,5\") # text={42}\n"    /* 2 */
        "point(200:00:00,-45:00:00) # point=x\n"             /* 3: degrees, not hours */
        "galactic;ellipse 123.4 -60.2 6\" 3\" 30\n"          /* 4 */
        "ecliptic\n"
        "circle(90,0,5\")\n"                                 /* 5 */
        "box(200,-45,10\",5\",0)\n"                           /* 6 */
        "circle(+10:00:00,+80:00:00,5\")\n"                  /* 7 */
        "galactic;circle(400,10,5\")\n"                      /* 8: longitude out of range */
        "fk5;circle(229.5,42.7,5\")\n"));                    /* 9: as it is */
    assert_int_equal(p->n, 9);
    assert_near(p, 0, 266.4049962, -28.9361724, 3);
    assert_near(p, 1, 269.2994160, 61.0328472, 4);
    assert_true(p->row[1].objid == 42);
    assert_near(p, 2, 57.3526483, -10.4625331, 5);
    assert_near(p, 3, 13.0923565, 2.6709022, 6);
    const char *ecl = "ecliptic positions are not converted (DS9 writes them at the equinox of the image's "
                      "date): save the regions in fk5 or icrs";
    assert_failed(p, 4, ecl, "row 5 (line 8)");
    assert_failed(p, 5, ecl, "row 6 (line 9)");
    assert_failed(p, 6, ecl, "row 7 (line 10)");
    assert_failed(p, 7, "circle: longitude 400 is outside 0..360 degrees", "row 8 (line 11)");
    /* the latitude alone is no FK5 Dec: the failed row's output holds none */
    assert_true(isnan(p->row[7].ra) && isnan(p->row[7].dec));
    assert_row(p, 8, 229.5, 42.7, 0, 12);
    gp_cli_positions_free(p);
}

/* FK4 (B1950) centres turned into FK5 J2000: against astropy 8's FK4(B1950,
 * obstime B1950) -> FK5(J2000) within 0.1 arcsec; sexagesimal RAs in hours. */
static void test_ds9_fk4(void **state)
{
    (void)state;
    gp_cli_positions *p = read_ok(write_text("fk4.reg",
        "# Region file format: DS9 version 4.1\n"
        "fk4\n"
        "circle(229.5,42.7,5\")\n"                  /* 1 */
        "point(13:20:00.000,+36:54:00.00)\n"         /* 2: hours */
        "b1950;circle 0 0 5\"\n"                    /* 3 */
        "fk4;ellipse(123.4,60.2,6\",3\",30)\n"       /* 4 */
        "circle(359.9,-89.5,5\")\n"                 /* 5: near the pole, across 0h */
        "circle(229.5,95,5\")\n"));                 /* 6: Dec out of range */
    assert_int_equal(p->n, 6);
    assert_near(p, 0, 229.9453654, 42.5200701, 3);
    assert_near(p, 1, 200.5685629, 36.6389224, 4);
    assert_near(p, 2, 0.6406910, 0.2784094, 5);
    assert_near(p, 3, 124.4426174, 60.0446688, 6);
    assert_near(p, 4, 0.4632175, -89.2215023, 7);
    assert_failed(p, 5, "circle: Dec 95 is outside -90..90 degrees", "row 6 (line 8)");
    assert_true(isnan(p->row[5].ra) && isnan(p->row[5].dec));
    gp_cli_positions_free(p);
}

/* What cannot be a galaxy's position: a failed row each, saying why. */
static void test_ds9_unusable(void **state)
{
    (void)state;
    gp_cli_positions *p = read_ok(write_text("bad.reg",
        "# Region file format: DS9 version 4.1\n"
        "circle(100,100,20)\n"                         /* 1: no system (physical) */
        "image\n"
        "circle(1024.5,744.5,20)\n"                    /* 2 */
        "physical;point(10,10)\n"                      /* 3 */
        "fk5\n"
        "-circle(229.5,42.7,3\")\n"                    /* 4: excluded */
        "polygon(229.5,42.7,229.6,42.7,229.6,42.8)\n"  /* 5 */
        "galactic;circle(73.2,98.1,5\")\n"             /* 6 */
        "ecliptic;circle(229.5,42.7,5\")\n"            /* 7 */
        "wcs;circle(229.5,42.7,5\")\n"                 /* 8 */
        "fk5;circle(429.5,42.7,5\")\n"                 /* 9 */
        "circle(229.5,4x2.7,5\")\n"                    /* 10 */
        "circle(229.5)\n"                              /* 11 */
        "cirle(229.5,42.7,5\")\n"                      /* 12 */
        "circle(1:00:00,+89:00:00,5\")\n"));           /* 13: usable */
    assert_int_equal(p->n, 13);
    assert_failed(p, 0, "circle: no coordinate system before it (DS9 reads physical pixels then): save the regions in fk5",
                  "row 1 (line 2)");
    assert_failed(p, 1, "circle: image coordinates are pixels of one image, not sky positions: save the regions in fk5",
                  "row 2 (line 4)");
    assert_failed(p, 2, "point: physical coordinates are pixels", "row 3 (line 5)");
    assert_failed(p, 3, "an excluded region (-circle) marks where not to look, not a galaxy", "row 4 (line 7)");
    assert_failed(p, 4, "a polygon region has no centre to take", "row 5 (line 8)");
    assert_failed(p, 5, "circle: latitude 98.1 is outside -90..90 degrees", "row 6 (line 9)");
    assert_failed(p, 6, "ecliptic positions are not converted", "row 7 (line 10)");
    assert_failed(p, 7, "'wcs' is the sky system of an image", "row 8 (line 11)");
    assert_failed(p, 8, "circle: RA 429.5 is outside 0..360 degrees", "row 9 (line 12)");
    assert_failed(p, 9, "circle: '4x2.7' is not a Dec", "row 10 (line 13)");
    assert_failed(p, 10, "circle: no centre", "row 11 (line 14)");
    assert_failed(p, 11, "'cirle' is not a DS9 region or coordinate system", "row 12 (line 15)");
    assert_row(p, 12, 15.0, 89.0, 0, 16);
    gp_cli_positions_free(p);
}

/* Told by content: without DS9's comment, a first line that is a region
 * or a system; a CSV list (whose name says .reg) is still a CSV. */
static void test_detection(void **state)
{
    (void)state;
    gp_cli_positions *p = read_ok(write_text("plain.txt", "fk5;circle(229.5257,42.7447,5\")\n"));
    assert_int_equal(p->format, GP_CLI_POSITIONS_DS9);
    assert_row(p, 0, 229.5257, 42.7447, 0, 1);
    gp_cli_positions_free(p);
    p = read_ok(write_text("tiled.txt", "tile 2\nfk5;circle(229.5,42.7,5\")\n"));   /* (DS9 writes it for frame 2) */
    assert_int_equal(p->format, GP_CLI_POSITIONS_DS9);
    assert_row(p, 0, 229.5, 42.7, 0, 2);
    gp_cli_positions_free(p);
    p = read_ok(write_text("typed.txt", "\n# my galaxies\nicrs\ncircle 229.5 42.7 5\"\n"));
    assert_int_equal(p->format, GP_CLI_POSITIONS_DS9);
    assert_row(p, 0, 229.5, 42.7, 0, 4);
    gp_cli_positions_free(p);
    p = read_ok(write_text("list.reg", "# positions\nra,dec,objID\n229.5,42.7,5\n15:18:06.18,+42:44:41.0,\n"));
    assert_int_equal(p->format, GP_CLI_POSITIONS_CSV);
    assert_int_equal(p->n, 2);
    assert_row(p, 0, 229.5, 42.7, 5, 3);
    assert_row(p, 1, 15 * (15 + 18 / 60.0 + 6.18 / 3600), 42 + 44 / 60.0 + 41.0 / 3600, 0, 4);
    gp_cli_positions_free(p);
}

/* ------------------------------------------------------------ FITS */

/* A FITS table of `ncol` columns named/typed/unit'd as given, rows filled
 * by fill(); the primary HDU empty, as TOPCAT and astropy write it. */
static const char *write_table(const char *name, int ncol, char **ttype, char **tform, char **tunit,
                               void (*fill)(fitsfile *, int *))
{
    const char *p = path_of(name);
    char bang[4200];
    snprintf(bang, sizeof bang, "!%s", p);
    fitsfile *fp = NULL;
    int status = 0;
    fits_create_file(&fp, bang, &status);
    fits_create_img(fp, 8, 0, NULL, &status);
    fits_create_tbl(fp, BINARY_TBL, 0, ncol, ttype, tform, tunit, "RESULTS", &status);
    fill(fp, &status);
    fits_close_file(fp, &status);
    assert_int_equal(status, 0);
    return p;
}

static void fill_casjobs(fitsfile *fp, int *status)
{
    double ra[4] = { 229.5257, NAN, 361.0, 0.0 }, dec[4] = { 42.7447, 10.0, 1.0, -90.0 };
    LONGLONG id[4] = { 1237662301903192106LL, 2, 3, 0 };
    fits_write_col(fp, TDOUBLE, 1, 1, 1, 4, ra, status);
    fits_write_col(fp, TDOUBLE, 2, 1, 1, 4, dec, status);
    fits_write_col(fp, TLONGLONG, 3, 1, 1, 4, id, status);
}

static void test_fits_table(void **state)
{
    (void)state;
    char *ttype[] = { "RA", "Dec", "objID" }, *tform[] = { "D", "D", "K" }, *tunit[] = { "deg", "", "" };
    gp_cli_positions *p = read_ok(write_table("casjobs.fits", 3, ttype, tform, tunit, fill_casjobs));
    assert_int_equal(p->format, GP_CLI_POSITIONS_FITS);
    assert_int_equal(p->n, 4);
    assert_true(p->has_objid);
    assert_row(p, 0, 229.5257, 42.7447, 1237662301903192106ull, 0);
    assert_failed(p, 1, "column 'RA' is null", "row 2");
    assert_true(p->row[1].objid == 2);
    assert_failed(p, 2, "column 'RA': 361 is outside 0..360 degrees", "row 3");
    assert_row(p, 3, 0.0, -90.0, 0, 0);
    gp_cli_positions_free(p);
}

static void fill_vizier(fitsfile *fp, int *status)
{
    char *ra[3] = { "15 18 06.18", " 13 22 02.342 ", "xx 10" }, *dec[3] = { "+42 44 41.0", "+36:43:54.70", "+10 00" };
    char *id[3] = { "1237662301903192106", "", "not-an-id" };
    fits_write_col(fp, TSTRING, 1, 1, 1, 3, ra, status);
    fits_write_col(fp, TSTRING, 2, 1, 1, 3, dec, status);
    fits_write_col(fp, TSTRING, 3, 1, 1, 3, id, status);
}

static void test_fits_sexagesimal(void **state)
{
    (void)state;
    char *ttype[] = { "RAJ2000", "DEJ2000", "OBJID" }, *tform[] = { "14A", "12A", "19A" },
         *tunit[] = { "h:m:s", "d:m:s", "" };
    gp_cli_positions *p = read_ok(write_table("vizier.fits", 3, ttype, tform, tunit, fill_vizier));
    assert_int_equal(p->n, 3);
    assert_row(p, 0, 15 * (15 + 18 / 60.0 + 6.18 / 3600), 42 + 44 / 60.0 + 41.0 / 3600, 1237662301903192106ull, 0);
    assert_row(p, 1, 15 * (13 + 22 / 60.0 + 2.342 / 3600), 36 + 43 / 60.0 + 54.70 / 3600, 0, 0);
    assert_failed(p, 2, "column 'RAJ2000': 'xx10' is not an angle (degrees, or h:m:s)", "row 3");
    gp_cli_positions_free(p);
}

static void fill_one(fitsfile *fp, int *status)
{
    double v = 1.0;
    fits_write_col(fp, TDOUBLE, 1, 1, 1, 1, &v, status);
}

static void fill_two(fitsfile *fp, int *status)
{
    double v[2] = { 1.0, 2.0 };
    fits_write_col(fp, TDOUBLE, 1, 1, 1, 2, v, status);
    fits_write_col(fp, TDOUBLE, 2, 1, 1, 2, v, status);
}

static void read_fails(const char *path, int want, const char *msg)
{
    gp_cli_positions *p = NULL;
    gp_error err;
    int st = gp_cli_positions_read(path, &p, &err);
    assert_int_equal(st, want);
    assert_null(p);
    if (!strstr(err.msg, msg)) fprintf(stderr, "'%s', expected '%s'\n", err.msg, msg);
    assert_non_null(strstr(err.msg, msg));
    assert_non_null(strstr(err.msg, path));
}

/* A copy of file a at b, byte for byte (cfitsio would parse b's brackets). */
static void copy_file(const char *a, const char *b)
{
    char *to = strdup(b);
    assert_non_null(to);
    FILE *in = fopen(a, "rb"), *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) assert_int_equal(fwrite(buf, 1, n, out), n);
    assert_int_equal(fclose(in), 0);
    assert_int_equal(fclose(out), 0);
    free(to);
}

/* cfitsio's extended file names: an HDU by number or name, a row filter;
 * [...] after a file that is not FITS, or an HDU that is not there: refused. */
static void test_fits_extended(void **state)
{
    (void)state;
    char p[4096];   /* (path_of's buffer is reused by the next call) */
    snprintf(p, sizeof p, "%s", path_of("two.fits"));
    char bang[4200];
    snprintf(bang, sizeof bang, "!%s", p);
    fitsfile *fp = NULL;
    int status = 0;
    char *t1[] = { "x" }, *f1[] = { "D" }, *t2[] = { "ra", "dec", "r" }, *f2[] = { "D", "D", "E" };
    fits_create_file(&fp, bang, &status);
    fits_create_img(fp, 8, 0, NULL, &status);
    fits_create_tbl(fp, BINARY_TBL, 0, 1, t1, f1, NULL, "FIRST", &status);
    double x = 1.0, ra[3] = { 200.25, 200.5, 201.0 }, dec[3] = { 36.5, 36.75, 37.0 };
    float r[3] = { 16.5f, 17.25f, 18.5f };
    fits_write_col(fp, TDOUBLE, 1, 1, 1, 1, &x, &status);
    fits_create_tbl(fp, BINARY_TBL, 0, 3, t2, f2, NULL, "GALS", &status);
    fits_write_col(fp, TDOUBLE, 1, 1, 1, 3, ra, &status);
    fits_write_col(fp, TDOUBLE, 2, 1, 1, 3, dec, &status);
    fits_write_col(fp, TFLOAT, 3, 1, 1, 3, r, &status);
    fits_close_file(fp, &status);
    assert_int_equal(status, 0);
    char name[4300];
    /* the first table has no ra: the file alone is refused, naming the column
     * and how to name the next HDU */
    read_fails(p, GP_ERR_NOTFOUND, "no 'ra' column");
    snprintf(name, sizeof name, "the file has 3 HDUs: name another as %s[2] (counted from 0", p);
    read_fails(p, GP_ERR_NOTFOUND, name);
    snprintf(name, sizeof name, "%s[2]", p);
    gp_cli_positions *l = read_ok(name);
    assert_int_equal(l->format, GP_CLI_POSITIONS_FITS);
    assert_int_equal(l->n, 3);
    assert_row(l, 2, 201.0, 37.0, 0, 0);
    gp_cli_positions_free(l);
    snprintf(name, sizeof name, "%s[GALS][r < 17.77]", p);
    l = read_ok(name);
    assert_int_equal(l->n, 2);
    assert_row(l, 0, 200.25, 36.5, 0, 0);
    assert_row(l, 1, 200.5, 36.75, 0, 0);
    gp_cli_positions_free(l);
    snprintf(name, sizeof name, "%s[7]", p);
    read_fails(name, GP_ERR_FITS, "or the HDU and rows [...] names");
    snprintf(name, sizeof name, "%s[2]", write_text("list.csv", "ra,dec\n1,2\n"));
    read_fails(name, GP_ERR_FORMAT, "is not a FITS file");
    snprintf(name, sizeof name, "%s.missing[2]", p);
    read_fails(name, GP_ERR_IO, "cannot open");
    /* a file that has such a name is that file */
    l = read_ok(write_text("odd[2]", "ra,dec\n1,2\n"));
    assert_int_equal(l->format, GP_CLI_POSITIONS_CSV);
    assert_row(l, 0, 1.0, 2.0, 0, 2);
    gp_cli_positions_free(l);
    /* a FITS table so named too (cfitsio would read "odd[2]" as HDU 2 of a
     * file "odd"), and one in a directory with brackets in its name: the
     * first table, which has no ra, then a file of GALS alone */
    char two[4200], lit[4200], sub[4200], in_sub[4300];
    snprintf(two, sizeof two, "%s", path_of("two.fits"));
    snprintf(lit, sizeof lit, "%s", path_of("lit[2]"));
    copy_file(two, lit);
    read_fails(lit, GP_ERR_NOTFOUND, "HDU 2 (FIRST): no 'ra' column");
    snprintf(sub, sizeof sub, "%s", path_of("run[1]"));
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(in_sub, sizeof in_sub, "%s/gals.fits", sub);
    snprintf(name, sizeof name, "!%s", path_of("gals.fits"));
    fits_create_file(&fp, name, &status);
    fits_create_img(fp, 8, 0, NULL, &status);
    fits_create_tbl(fp, BINARY_TBL, 0, 3, t2, f2, NULL, "GALS", &status);
    fits_write_col(fp, TDOUBLE, 1, 1, 1, 3, ra, &status);
    fits_write_col(fp, TDOUBLE, 2, 1, 1, 3, dec, &status);
    fits_write_col(fp, TFLOAT, 3, 1, 1, 3, r, &status);
    fits_close_file(fp, &status);
    assert_int_equal(status, 0);
    copy_file(path_of("gals.fits"), in_sub);
    l = read_ok(in_sub);
    assert_int_equal(l->format, GP_CLI_POSITIONS_FITS);
    assert_int_equal(l->n, 3);
    assert_row(l, 1, 200.5, 36.75, 0, 0);
    gp_cli_positions_free(l);
}

/* Read under another name (standard input's copy): rows and messages name
 * the list by it, whatever the format; the file is still what is read. */
static void test_read_as(void **state)
{
    (void)state;
    gp_error err;
    gp_cli_positions *p = NULL;
    char buf[4400];
    assert_int_equal(gp_cli_positions_read_as(write_text("spool1", "ra,dec\n1,2\nxx,3\n"), "standard input", &p, &err),
                     GP_OK);
    assert_int_equal(p->n, 2);
    assert_row(p, 0, 1.0, 2.0, 0, 2);
    gp_cli_positions_where(p, 1, buf, sizeof buf);
    assert_string_equal(buf, "standard input: row 2 (line 3)");
    gp_cli_positions_free(p);
    assert_int_equal(gp_cli_positions_read_as(write_text("spool2", "fk5\ncircle(1,2,3\")\n"), "standard input", &p, &err),
                     GP_OK);
    assert_int_equal(p->format, GP_CLI_POSITIONS_DS9);
    gp_cli_positions_where(p, 0, buf, sizeof buf);
    assert_string_equal(buf, "standard input: row 1 (line 2)");
    gp_cli_positions_free(p);
    /* errors: a CSV without ra, a FITS table without ra (no "[N]" hint for it) */
    assert_int_equal(gp_cli_positions_read_as(write_text("spool3", "x,y\n1,2\n"), "standard input", &p, &err),
                     GP_ERR_NOTFOUND);
    assert_null(p);
    assert_true(strncmp(err.msg, "standard input: no 'ra' column", 30) == 0);
    char *ttype[] = { "x" }, *tform[] = { "D" };
    assert_int_equal(gp_cli_positions_read_as(write_table("spool4.fits", 1, ttype, tform, NULL, fill_one), "standard input",
                                              &p, &err), GP_ERR_NOTFOUND);
    assert_true(strncmp(err.msg, "standard input: ", 16) == 0);
    assert_null(strstr(err.msg, "spool4"));
    assert_null(strstr(err.msg, "name another"));
}

static void test_fits_unreadable(void **state)
{
    (void)state;
    char *t1[] = { "x_image", "y_image" }, *f1[] = { "D", "D" }, *u1[] = { "pix", "pix" };
    read_fails(write_table("xy.fits", 2, t1, f1, u1, fill_two), GP_ERR_NOTFOUND,
               ": HDU 2 (RESULTS): no 'ra' column (nor RAJ2000, RA_ICRS): a positions table needs ra and dec "
               "(degrees), objID optional; its columns: x_image, y_image");
    char *t2[] = { "ra", "elevation" }, *f2[] = { "D", "D" }, *u2[] = { "deg", "deg" };
    read_fails(write_table("nodec.fits", 2, t2, f2, u2, fill_two), GP_ERR_NOTFOUND, "no 'dec' column (nor DEJ2000");
    char *t3[] = { "ra", "dec" }, *f3[] = { "D", "D" }, *u3[] = { "rad", "rad" };
    read_fails(write_table("rad.fits", 2, t3, f3, u3, fill_two), GP_ERR_FORMAT,
               "column 'ra' is in 'rad' (TUNIT1): --positions reads degrees");
    char *t4[] = { "ra", "dec", "objid" }, *f4[] = { "D", "D", "D" }, *u4[] = { "", "", "" };
    read_fails(write_table("fid.fits", 3, t4, f4, u4, fill_two), GP_ERR_FORMAT, "objID is a floating-point column");
    /* an image alone: no table */
    const char *p = path_of("image.fits");
    char bang[4200];
    snprintf(bang, sizeof bang, "!%s", p);
    fitsfile *fp = NULL;
    int status = 0;
    long ax[2] = { 4, 4 };
    fits_create_file(&fp, bang, &status);
    fits_create_img(fp, FLOAT_IMG, 2, ax, &status);
    float z[16] = { 0 };
    fits_write_img(fp, TFLOAT, 1, 16, z, &status);
    fits_close_file(fp, &status);
    assert_int_equal(status, 0);
    read_fails(p, GP_ERR_FITS, "cannot open as a FITS table (--positions reads the first table HDU)");
}

/* A CSV list reads as before, its failed rows named by line. */
static void test_csv(void **state)
{
    (void)state;
    gp_cli_positions *p = read_ok(write_text("pos.csv", "ra,dec,name\n200.377497,36.903089,a\n200.5,abc,b\n"));
    assert_int_equal(p->format, GP_CLI_POSITIONS_CSV);
    assert_false(p->has_objid);
    assert_row(p, 0, 200.377497, 36.903089, 0, 2);
    assert_failed(p, 1, "column 'dec': 'abc' is not an angle", "row 2 (line 3)");
    gp_cli_positions_free(p);
    read_fails(write_text("nora.csv", "RA_deg,dec\n1,2\n"), GP_ERR_NOTFOUND, "no 'ra' column in the header (line 1)");
}

/* Statements as DS9 reads them: a 'global' line's settings end at ';' and
 * the regions after it count; a sexagesimal centre without a system is
 * fk5 (plain numbers stay physical pixels); regions marked 'background'
 * (sky for DS9's photometry) and regions after a word that is no system
 * fail; wcs0 is an image's system. */
static void test_ds9_statements(void **state)
{
    (void)state;
    gp_cli_positions *p = read_ok(write_text("stmt.reg",
        "global color=red font=\"helvetica 10; normal\"; fk5; circle(200.3774970,36.9030890,5\")\n"   /* 1 */
        "image\n"
        "circle(13:21:30.5993,+36:54:11.120,5\")\n"                                                   /* 2: fk5 */
        "circle(200.1,36.2,5\")\n"                                                                     /* 3: pixels */
        "fk5\n"
        "circle(200.1,36.2,15\") # background\n"                                                       /* 4 */
        "annulus(200.1,36.2,10\",20\") # text={background} background\n"                              /* 5 */
        "circle(200.2,36.3,5\") # text={background}\n"                                                 /* 6: a label */
        "gal; circle(73.2,58.1,5\")\n"                                                                 /* 7 */
        "fk5; wcs0; circle(200.1,36.2,5\")\n"));                                                      /* 8 */
    assert_int_equal(p->n, 8);
    assert_row(p, 0, 200.377497, 36.903089, 0, 1);
    /* image in force: DS9 still reads a sexagesimal centre as fk5 (checked with
     * DS9 8: "image; circle(12:00:16.49,+29:56:26.5,5\")" comes back as an fk5
     * circle), plain numbers as pixels */
    assert_row(p, 1, 15 * (13 + 21 / 60.0 + 30.5993 / 3600), 36 + 54 / 60.0 + 11.12 / 3600, 0, 3);
    assert_failed(p, 2, "circle: image coordinates are pixels", "row 3 (line 4)");
    gp_cli_positions_free(p);
    p = read_ok(write_text("nosys.reg", "circle(13:21:30.5993,+36:54:11.120,5\")\ncircle(200.1,36.2,5\")\n"));
    assert_int_equal(p->n, 2);
    assert_row(p, 0, 15 * (13 + 21 / 60.0 + 30.5993 / 3600), 36 + 54 / 60.0 + 11.12 / 3600, 0, 1);
    assert_failed(p, 1, "circle: no coordinate system before it (DS9 reads physical pixels then)", "row 2 (line 2)");
    gp_cli_positions_free(p);
    p = read_ok(write_text("stmt2.reg",
        "fk5\n"
        "circle(200.1,36.2,15\") # background\n"
        "annulus(200.1,36.2,10\",20\") # text={background} background\n"
        "circle(200.2,36.3,5\") # text={background}\n"
        "gal; circle(73.2,58.1,5\")\n"
        "fk5; wcs0; circle(200.1,36.2,5\")\n"
        "fk6\n"
        "circle(200.1,36.2,5\") # a typo'd system on its own line\n"
        "cirle 200.1 36.2 5\"\n"));
    assert_int_equal(p->n, 7);   /* (one row per region: the stray words have none) */
    assert_failed(p, 0, "a background region marks sky for DS9's photometry, not a galaxy", "row 1 (line 2)");
    assert_failed(p, 1, "a background region marks sky", "row 2 (line 3)");
    assert_row(p, 2, 200.2, 36.3, 0, 4);
    assert_failed(p, 3, "circle: it follows 'gal', which is no coordinate system DS9 knows: save the regions in fk5",
                  "row 4 (line 5)");
    assert_failed(p, 4, "'wcs' is the sky system of an image", "row 5 (line 6)");
    assert_failed(p, 5, "circle: it follows 'fk6', which is no coordinate system DS9 knows", "row 6 (line 8)");
    assert_failed(p, 6, "'cirle' is not a DS9 region or coordinate system", "row 7 (line 9)");
    gp_cli_positions_free(p);
}

/* A list without one row is refused, whatever its kind; a gzipped FITS
 * table (as VizieR serves them) is read as FITS. */
static void test_empty_and_gzip(void **state)
{
    (void)state;
    read_fails(write_text("empty.reg", "# Region file format: DS9 version 4.1\nglobal color=green\nfk5\n"), GP_ERR_DATA,
               "empty.reg: no positions in it (read as a DS9 region file");
    read_fails(write_text("empty.csv", "ra,dec\n"), GP_ERR_DATA, "empty.csv: no positions in it (read as a CSV list)");
    char *ttype[] = { "RA", "Dec", "objID" }, *tform[] = { "D", "D", "K" }, *tunit[] = { "deg", "", "" };
    const char *gz = write_table("casjobs.fits.gz", 3, ttype, tform, tunit, fill_casjobs);
    FILE *f = fopen(gz, "rb");
    assert_non_null(f);
    assert_true(fgetc(f) == 0x1f && fgetc(f) == 0x8b);   /* (cfitsio wrote it gzipped) */
    fclose(f);
    gp_cli_positions *p = read_ok(gz);
    assert_int_equal(p->format, GP_CLI_POSITIONS_FITS);
    assert_int_equal(p->n, 4);
    assert_row(p, 0, 229.5257, 42.7447, 1237662301903192106ull, 0);
    gp_cli_positions_free(p);
    /* a gzipped CSV list: said to be gzip, not a broken FITS file */
    const char *csv = write_text("l.csv", "ra,dec\n229.5,42.7\n");
    char cmd[8400];
    snprintf(cmd, sizeof cmd, "gzip -c '%s' > '%s.gz'", csv, csv);
    if (system(cmd) == 0) {
        char gzp[4200];
        snprintf(gzp, sizeof gzp, "%s.gz", csv);
        read_fails(gzp, GP_ERR_FITS, "l.csv.gz: gzip-compressed, read as a FITS table (a CSV list or region file must "
                                     "be gunzipped first)");
    } else
        fprintf(stderr, "(no gzip program: the gzipped CSV case is left out)\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ds9_regions),
        cmocka_unit_test(test_ds9_unusable),
        cmocka_unit_test(test_ds9_galactic_ecliptic),
        cmocka_unit_test(test_ds9_fk4),
        cmocka_unit_test(test_ds9_statements),
        cmocka_unit_test(test_empty_and_gzip),
        cmocka_unit_test(test_detection),
        cmocka_unit_test(test_fits_table),
        cmocka_unit_test(test_fits_sexagesimal),
        cmocka_unit_test(test_fits_extended),
        cmocka_unit_test(test_read_as),
        cmocka_unit_test(test_fits_unreadable),
        cmocka_unit_test(test_csv),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
