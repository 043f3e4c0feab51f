/*
 * gp_catalog.c: a local photometric catalogue (FITS table or CSV with SDSS
 * PhotoObj columns; the CSV through gp_csv.h) held in memory, sorted by
 * declination for cone matching (include/galpost/gp_image.h).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fitsio.h>

#include "galpost/gp_image.h"
#include "gp_csv.h"
#include "gp_fits_table.h"
#include "gp_fits_util.h"

struct gp_catalog {
    char   *path;
    size_t  n;
    double *ra, *dec;
    float  *mag;      /* n x 5 */
    float  *ext;      /* n x 5 */
    int    *type;     /* n, -1 when unknown */
    uint64_t *objid;  /* n, 0 when the catalogue has no objID column */
    int     has_objid;   /* it has one */
    int     has_ext;
    size_t *order;    /* usable rows sorted by dec */
    double *sdec;     /* their declinations */
    size_t  nuse;     /* usable rows */
    size_t *border;   /* unusable rows with a usable position, sorted by dec */
    double *bsdec;    /* their declinations */
    size_t  nbadpos;  /* how many */
    long   *line;     /* n: a CSV row's line in the file (from 1); NULL for FITS */
    unsigned char *bad;  /* n: the row could not be read (its reason in errs) */
    struct row_error { size_t row; char *msg; } *errs;   /* by row, ascending */
    size_t  nerrs, errcap;
    char   *colname[12];  /* ra, dec, modelMag_u..z, extinction_u..z as the file names them */
};

static const char *const bands = "ugriz";

/* A_b / A_r for SDSS bands (Schlegel, Finkbeiner & Davis 1998, Table 6:
 * 5.155, 3.793, 2.751, 2.086, 1.479 per E(B-V)), for catalogues that give
 * only extinction_r. */
static const float ext_ratio[5] = { 5.155f / 2.751f, 3.793f / 2.751f, 1.0f, 2.086f / 2.751f, 1.479f / 2.751f };

double gp_sky_separation(double ra1, double dec1, double ra2, double dec2)
{
    const double d2r = M_PI / 180.0;
    double s1 = sin(0.5 * (dec2 - dec1) * d2r), s2 = sin(0.5 * (ra2 - ra1) * d2r);
    double a = s1 * s1 + cos(dec1 * d2r) * cos(dec2 * d2r) * s2 * s2;
    if (a > 1) a = 1;
    return 2.0 * asin(sqrt(a)) / d2r * 3600.0;
}

void gp_catalog_close(gp_catalog *c)
{
    if (!c) return;
    free(c->path); free(c->ra); free(c->dec); free(c->mag); free(c->ext); free(c->order);
    free(c->type);
    free(c->objid);
    free(c->sdec);
    free(c->border);
    free(c->bsdec);
    free(c->line);
    free(c->bad);
    for (size_t i = 0; i < c->nerrs; i++) free(c->errs[i].msg);
    free(c->errs);
    for (int k = 0; k < 12; k++) free(c->colname[k]);
    free(c);
}

/* Why row `row` could not be read (a CSV cell that is not a number, a line
 * with the wrong number of fields), kept for gp_catalog_row(). */
static int row_error(gp_catalog *c, size_t row, gp_error *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int row_error(gp_catalog *c, size_t row, gp_error *err, const char *fmt, ...)
{
    if (c->nerrs == c->errcap) {
        size_t nc = c->errcap ? 2 * c->errcap : 16;
        struct row_error *ne = realloc(c->errs, sizeof *ne * nc);
        if (!ne) return GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory", c->path);
        c->errs = ne;
        c->errcap = nc;
    }
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char *m = strdup(buf);
    if (!m) return GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory", c->path);
    c->errs[c->nerrs].row = row;
    c->errs[c->nerrs++].msg = m;
    return GP_OK;
}

static const char *row_error_msg(const gp_catalog *c, size_t row)
{
    size_t a = 0, b = c->nerrs;
    while (a < b) {
        size_t m = a + (b - a) / 2;
        if (c->errs[m].row < row) a = m + 1; else b = m;
    }
    return a < c->nerrs && c->errs[a].row == row ? c->errs[a].msg : NULL;
}

const char *gp_catalog_path(const gp_catalog *c) { return c ? c->path : ""; }
size_t gp_catalog_size(const gp_catalog *c) { return c ? c->n : 0; }
int gp_catalog_has_extinction(const gp_catalog *c) { return c && c->has_ext; }
int gp_catalog_has_objid(const gp_catalog *c) { return c && c->has_objid; }

size_t gp_catalog_unreadable(const gp_catalog *c, size_t *first)
{
    if (!c || !c->nerrs) return 0;
    if (first) *first = c->errs[0].row;   /* (by row, ascending) */
    return c->nerrs;
}

static int catalog_alloc(gp_catalog *c, size_t n, gp_error *err)
{
    c->n = n;
    size_t m = n ? n : 1;
    c->ra = malloc(sizeof(double) * m);
    c->dec = malloc(sizeof(double) * m);
    c->mag = malloc(sizeof(float) * 5 * m);
    c->ext = calloc(5 * m, sizeof(float));
    c->type = malloc(sizeof(int) * m);
    c->objid = calloc(m, sizeof(uint64_t));
    if (!c->ra || !c->dec || !c->mag || !c->ext || !c->type || !c->objid)
        return GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory for %zu rows", c->path, n);
    return GP_OK;
}

/* ------------------------------------------------------------- FITS */

/* Read a 5-band quantity: scalar columns PREFIX_u..z or a vector PREFIX[5]. */
static int fits_read_bands(gp_catalog *c, fitsfile *fp, const char *prefix, float *dst,
                           int required, int *found, gp_error *err)
{
    int status = 0;
    long n = (long)c->n;
    *found = 0;
    int cols[5], nscalar = 0;
    for (int b = 0; b < 5; b++) {
        char name[64];
        snprintf(name, sizeof name, "%s_%c", prefix, bands[b]);
        cols[b] = gp_fits_table_col(fp, name);
        if (cols[b]) nscalar++;
    }
    float *tmp = malloc(sizeof(float) * (size_t)(n ? n : 1) * 5);
    if (!tmp) return GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory", c->path);
    float nul = NAN;
    int anynul = 0;
    if (nscalar == 1 && cols[2] && !strcmp(prefix, "extinction")) {
        fits_read_col(fp, TFLOAT, cols[2], 1, 1, n, &nul, tmp, &anynul, &status);
        for (long i = 0; i < n; i++)
            for (int b = 0; b < 5; b++) dst[5 * i + b] = tmp[i] * ext_ratio[b];
    } else if (nscalar == 5) {
        for (int b = 0; b < 5 && !status; b++) {
            fits_read_col(fp, TFLOAT, cols[b], 1, 1, n, &nul, tmp, &anynul, &status);
            for (long i = 0; i < n; i++) dst[5 * i + b] = tmp[i];
        }
    } else {
        int col = gp_fits_table_col(fp, prefix), typecode = 0;
        long repeat = 0, width = 0;
        if (col) fits_get_coltype(fp, col, &typecode, &repeat, &width, &status);
        if (!col || repeat < 5) {
            free(tmp);
            if (!required) return GP_OK;
            return GP_FAIL(err, GP_ERR_NOTFOUND,
                           "%s: no %s_u..%s_z columns (found %d of 5) and no 5-element %s column",
                           c->path, prefix, prefix, nscalar, prefix);
        }
        free(tmp);
        tmp = malloc(sizeof(float) * (size_t)(n ? n : 1) * (size_t)repeat);
        if (!tmp) return GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory", c->path);
        fits_read_col(fp, TFLOAT, col, 1, 1, n * repeat, &nul, tmp, &anynul, &status);
        for (long i = 0; i < n; i++)
            for (int b = 0; b < 5; b++) dst[5 * i + b] = tmp[i * repeat + b];
    }
    free(tmp);
    if (status) return gp_fits_fail(err, status, "%s: cannot read the %s columns", c->path, prefix);
    *found = 1;
    return GP_OK;
}

static int catalog_read_fits(gp_catalog *c, gp_error *err)
{
    fitsfile *fp = NULL;
    int status = 0;
    if (fits_open_table(&fp, c->path, READONLY, &status)) {
        int st = gp_fits_fail(err, status, "%s: cannot open as a FITS table", c->path);
        status = 0;
        if (fp) fits_close_file(fp, &status);   /* (cfitsio leaves a file without a table open) */
        return st;
    }
    long n = 0;
    fits_get_num_rows(fp, &n, &status);
    int cra = gp_fits_table_col(fp, "ra"), cdec = gp_fits_table_col(fp, "dec");
    int st = GP_OK;
    if (status) st = gp_fits_fail(err, status, "%s: cannot read the table size", c->path);
    else if (!cra) st = GP_FAIL(err, GP_ERR_NOTFOUND, "%s: no 'ra' column", c->path);
    else if (!cdec) st = GP_FAIL(err, GP_ERR_NOTFOUND, "%s: no 'dec' column", c->path);
    else st = catalog_alloc(c, (size_t)n, err);
    if (!st) {
        double nul = NAN;
        int anynul = 0;
        fits_read_col(fp, TDOUBLE, cra, 1, 1, n, &nul, c->ra, &anynul, &status);
        fits_read_col(fp, TDOUBLE, cdec, 1, 1, n, &nul, c->dec, &anynul, &status);
        if (status) st = gp_fits_fail(err, status, "%s: cannot read ra/dec", c->path);
    }
    int found = 0;
    if (!st) st = fits_read_bands(c, fp, "modelMag", c->mag, 1, &found, err);
    if (!st) st = fits_read_bands(c, fp, "extinction", c->ext, 0, &c->has_ext, err);
    int cid = gp_fits_table_col(fp, "objID");
    c->has_objid = cid != 0;
    if (!st && cid) st = gp_fits_table_objid(fp, c->path, cid, (long)c->n, c->objid, NULL, err);
    int ctype = gp_fits_table_col(fp, "type");
    for (long i = 0; !st && i < n; i++) c->type[i] = -1;
    if (!st && ctype) {
        int nul = -1, anynul = 0;
        status = 0;
        if (fits_read_col(fp, TINT, ctype, 1, 1, n, &nul, c->type, &anynul, &status))
            st = gp_fits_fail(err, status, "%s: cannot read the type column", c->path);
    }
    status = 0;
    fits_close_file(fp, &status);
    return st;
}

/* -------------------------------------------------------------- CSV */

static int catalog_read_csv(gp_catalog *c, FILE *in, gp_error *err)
{
    gp_csv csv;
    int st = gp_csv_open(&csv, c->path, in, NULL, "ra, dec, modelMag_u, ...", err);
    if (st) { gp_csv_close(&csv); return st; }
    char **names = csv.names, **f = csv.field;
    const int nnames = csv.nnames;
    const long hdrline = csv.hdrline;
    int icol[12], only_r = 0, itype = -1, iid = -1;
    size_t rows = 0, rcap = 0;

    const char *need[2] = { "ra", "dec" };
    for (int k = 0; k < 2 && !st; k++)
        if ((icol[k] = gp_csv_col(&csv, need[k])) < 0)
            st = GP_FAIL(err, GP_ERR_NOTFOUND, "%s: no '%s' column in the header (line %ld)", c->path, need[k], hdrline);
    for (int b = 0; b < 5 && !st; b++) {
        char nm[32];
        snprintf(nm, sizeof nm, "modelMag_%c", bands[b]);
        if ((icol[2 + b] = gp_csv_col(&csv, nm)) < 0)
            st = GP_FAIL(err, GP_ERR_NOTFOUND, "%s: no '%s' column in the header (line %ld)", c->path, nm, hdrline);
    }
    int n_ext = 0;
    for (int b = 0; b < 5 && !st; b++) {
        char nm[32];
        snprintf(nm, sizeof nm, "extinction_%c", bands[b]);
        icol[7 + b] = gp_csv_col(&csv, nm);
        if (icol[7 + b] >= 0) n_ext++;
    }
    if (!st) {
        only_r = n_ext == 1 && icol[7 + 2] >= 0;
        if (n_ext != 0 && n_ext != 5 && !only_r)
            st = GP_FAIL(err, GP_ERR_NOTFOUND, "%s: only %d of the 5 extinction_u..z columns (and not extinction_r alone)", c->path, n_ext);
    }
    if (!st) {
        c->has_ext = n_ext == 5 || only_r;
        for (int k = 0; k < 12; k++)
            if (icol[k] >= 0 && !(c->colname[k] = strdup(names[icol[k]]))) {
                st = GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory", c->path);
                break;
            }
        itype = gp_csv_col(&csv, "type");
        iid = gp_csv_col(&csv, "objID");
        c->has_objid = iid >= 0;
    }

    int got = 0;
    while (!st && !(st = gp_csv_next(&csv, &got, err)) && got) {
        const int nf = csv.nfield;
        const long lineno = csv.lineno;
        if (rows == rcap) {
            size_t nc = rcap ? 2 * rcap : 1024;
            double *nra = realloc(c->ra, sizeof(double) * nc);
            if (nra) c->ra = nra;
            double *ndec = realloc(c->dec, sizeof(double) * nc);
            if (ndec) c->dec = ndec;
            float *nmag = realloc(c->mag, sizeof(float) * 5 * nc);
            if (nmag) c->mag = nmag;
            float *next = realloc(c->ext, sizeof(float) * 5 * nc);
            if (next) c->ext = next;
            int *ntype = realloc(c->type, sizeof(int) * nc);
            if (ntype) c->type = ntype;
            uint64_t *nid = realloc(c->objid, sizeof(uint64_t) * nc);
            if (nid) c->objid = nid;
            long *nline = realloc(c->line, sizeof(long) * nc);
            if (nline) c->line = nline;
            unsigned char *nbad = realloc(c->bad, nc);
            if (nbad) c->bad = nbad;
            if (!nra || !ndec || !nmag || !next || !ntype || !nid || !nline || !nbad) {
                st = GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory at line %ld", c->path, lineno);
                break;
            }
            rcap = nc;
        }
        c->line[rows] = lineno;
        c->bad[rows] = 0;
        c->objid[rows] = 0;
        c->type[rows] = -1;
        if (nf != nnames) {
            /* its cells cannot be told apart: a failed row, the rest are
             * read.  An objID in the first column is still its own (no
             * field before it to be missing or extra), so the row keeps
             * its id when that cell is one. */
            if (iid == 0 && gp_parse_objid(f[0], &c->objid[rows])) c->objid[rows] = 0;
            c->ra[rows] = c->dec[rows] = NAN;
            for (int b = 0; b < 5; b++) c->mag[5 * rows + b] = c->ext[5 * rows + b] = NAN;
            c->bad[rows] = 1;
            if ((st = row_error(c, rows, err, "%d fields, the header (line %ld) has %d", nf, hdrline, nnames)))
                break;
            rows++;
            continue;
        }
        double v[12];
        int nv = c->has_ext ? 12 : 7;
        for (int k = 0; k < nv && !st; k++) {
            if (icol[k] < 0) { v[k] = NAN; continue; }   /* extinction_r alone */
            const char *s = f[icol[k]];
            if (gp_csv_number(s, &v[k])) {
                /* "null", "abc": a failed row naming the cell, like NaN and -9999 */
                if (!c->bad[rows]) {
                    c->bad[rows] = 1;
                    st = row_error(c, rows, err, "column '%s': '%.40s' is not a number", names[icol[k]], s);
                }
            }
        }
        if (st) break;
        c->ra[rows] = v[0];
        c->dec[rows] = v[1];
        c->type[rows] = itype >= 0 && *f[itype] ? atoi(f[itype]) : -1;
        if (iid >= 0 && gp_parse_objid(f[iid], &c->objid[rows])) {
            c->objid[rows] = 0;
            if (!c->bad[rows]) {
                c->bad[rows] = 1;
                if ((st = row_error(c, rows, err, "column '%s': '%.40s' is not an object ID", names[iid], f[iid])))
                    break;
            }
        }
        for (int b = 0; b < 5; b++) {
            c->mag[5 * rows + b] = (float)v[2 + b];
            c->ext[5 * rows + b] = !c->has_ext ? 0.0f : only_r ? (float)v[7 + 2] * ext_ratio[b] : (float)v[7 + b];
        }
        rows++;
    }
    gp_csv_close(&csv);
    if (st) return st;
    c->n = rows;
    return GP_OK;
}

/* ---------------------------------------------------------- sorting */

struct dec_row { double dec; size_t row; };

static int cmp_dec_row(const void *a, const void *b)
{
    double x = ((const struct dec_row *)a)->dec, y = ((const struct dec_row *)b)->dec;
    return (x > y) - (x < y);
}

static int pos_usable(const gp_catalog *c, size_t i)
{
    return isfinite(c->ra[i]) && isfinite(c->dec[i]) && c->dec[i] >= -90 && c->dec[i] <= 90;
}

static int row_usable(const gp_catalog *c, size_t i)
{
    if (c->bad && c->bad[i]) return 0;
    if (!pos_usable(c, i)) return 0;
    for (int b = 0; b < 5; b++) {
        float m = c->mag[5 * i + b], e = c->ext[5 * i + b];
        if (!isfinite(m) || m <= -9000 || m >= 9000 || !isfinite(e) || e < -1 || e > 50) return 0;
    }
    return 1;
}

int gp_catalog_open(const char *path, gp_catalog **out, gp_error *err)
{
    if (!path || !out) return GP_FAIL(err, GP_ERR_ARG, "gp_catalog_open: NULL argument");
    *out = NULL;
    FILE *in = fopen(path, "rb");
    if (!in) return GP_FAIL(err, GP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    gp_catalog *c = calloc(1, sizeof *c);
    if (c) c->path = strdup(path);
    if (!c || !c->path) { fclose(in); gp_catalog_close(c); return GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory", path); }
    char magic[9] = "";
    size_t got = fread(magic, 1, 8, in);
    magic[got] = '\0';
    int st;
    if (!strcmp(magic, "SIMPLE  ")) {
        fclose(in);
        st = catalog_read_fits(c, err);
    } else {
        rewind(in);
        st = catalog_read_csv(c, in, err);
        fclose(in);
    }
    if (st) { gp_catalog_close(c); return st; }
    /* index the usable rows by declination, and apart the unusable rows
     * whose position is usable: a query that only such a row is near is
     * told why it cannot be matched */
    size_t m1 = c->n ? c->n : 1;
    struct dec_row *dr = malloc(sizeof *dr * m1), *db = malloc(sizeof *db * m1);
    c->order = malloc(sizeof(size_t) * m1);
    c->sdec = malloc(sizeof(double) * m1);
    c->border = malloc(sizeof(size_t) * m1);
    c->bsdec = malloc(sizeof(double) * m1);
    if (!dr || !db || !c->order || !c->sdec || !c->border || !c->bsdec) {
        free(dr);
        free(db);
        gp_catalog_close(c);
        return GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory", path);
    }
    size_t k = 0, kb = 0;
    for (size_t i = 0; i < c->n; i++)
        if (row_usable(c, i)) { dr[k].dec = c->dec[i]; dr[k].row = i; k++; }
        else if (pos_usable(c, i)) { db[kb].dec = c->dec[i]; db[kb].row = i; kb++; }
    qsort(dr, k, sizeof *dr, cmp_dec_row);
    qsort(db, kb, sizeof *db, cmp_dec_row);
    for (size_t i = 0; i < k; i++) { c->order[i] = dr[i].row; c->sdec[i] = dr[i].dec; }
    for (size_t i = 0; i < kb; i++) { c->border[i] = db[i].row; c->bsdec[i] = db[i].dec; }
    free(dr);
    free(db);
    c->nuse = k;
    c->nbadpos = kb;
    *out = c;
    return GP_OK;
}

static void fill_entry(const gp_catalog *c, size_t r, gp_catalog_entry *out)
{
    out->row = r;
    out->ra = c->ra[r];
    out->dec = c->dec[r];
    out->sep = 0;
    out->type = c->type ? c->type[r] : -1;
    out->objid = c->objid ? c->objid[r] : 0;
    for (int b = 0; b < 5; b++) {
        out->extinction[b] = c->ext[5 * r + b];
        out->mag[b] = c->mag[5 * r + b] - c->ext[5 * r + b];
    }
}

/* The nearest of the `k` rows `order` (declinations `sdec`, ascending)
 * within `radius` arcsec of (ra, dec): its separation, INFINITY if none. */
static double nearest(const gp_catalog *c, const size_t *order, const double *sdec, size_t k, double ra,
                      double dec, double radius, size_t *row)
{
    /* first row with dec >= dec - radius */
    double lo = dec - radius / 3600.0, hi = dec + radius / 3600.0;
    size_t a = 0, b = k;
    while (a < b) {
        size_t m = a + (b - a) / 2;
        if (sdec[m] < lo) a = m + 1; else b = m;
    }
    double best = INFINITY;
    for (size_t i = a; i < k && sdec[i] <= hi; i++) {
        size_t r = order[i];
        double s = gp_sky_separation(ra, dec, c->ra[r], c->dec[r]);
        if (s < best) { best = s; *row = r; }
    }
    return best;
}

/* Where row `row` is, as a person counts: "row N" from 1 (the first data
 * row is row 1) and, for a CSV file, " (line L)" from 1. */
static void row_where(const gp_catalog *c, size_t row, char *buf, size_t n)
{
    if (c->line) snprintf(buf, n, "row %zu (line %ld)", row + 1, c->line[row]);
    else snprintf(buf, n, "row %zu", row + 1);
}

void gp_catalog_row_where(const gp_catalog *c, size_t row, char *buf, size_t n)
{
    if (!buf || !n) return;
    if (!c || row >= c->n) snprintf(buf, n, "row ?");
    else row_where(c, row, buf, n);
}

static void row_why(const gp_catalog *c, size_t row, char *buf, size_t n);

int gp_catalog_match(const gp_catalog *c, double ra, double dec, double radius,
                     gp_catalog_entry *out, gp_error *err)
{
    if (!c || !out || !(radius > 0) || !isfinite(ra) || !isfinite(dec))
        return GP_FAIL(err, GP_ERR_ARG, "gp_catalog_match: bad argument");
    size_t brow = 0;
    double best = nearest(c, c->order, c->sdec, c->nuse, ra, dec, radius, &brow);
    if (!(best <= radius)) {
        /* an unusable row there is the object the user is pointing at:
         * say why it cannot be used rather than that nothing is there */
        double bad = nearest(c, c->border, c->bsdec, c->nbadpos, ra, dec, radius, &brow);
        if (bad <= radius) {
            memset(out, 0, sizeof *out);
            out->row = brow;
            out->ra = c->ra[brow];
            out->dec = c->dec[brow];
            out->sep = bad;
            out->objid = c->objid ? c->objid[brow] : 0;
            out->type = c->type ? c->type[brow] : -1;
            char where[64], why[600];
            row_where(c, brow, where, sizeof where);
            row_why(c, brow, why, sizeof why);
            return GP_FAIL(err, GP_ERR_DATA, "%s: %s, the nearest object within %.2f\" of RA %.6f Dec %.6f (%.2f\" "
                           "away), cannot be used: %s", c->path, where, radius, ra, dec, bad, why);
        }
        return GP_FAIL(err, GP_ERR_NOTFOUND, "%s: no object within %.2f\" of RA %.6f Dec %.6f",
                       c->path, radius, ra, dec);
    }
    fill_entry(c, brow, out);
    out->sep = best;
    return GP_OK;
}

/* Why row `row` is unusable, naming the column. */
static void row_why(const gp_catalog *c, size_t row, char *buf, size_t n)
{
    const char *why = row_error_msg(c, row);
    if (why) { snprintf(buf, n, "%s", why); return; }
    static const char *const dflt[12] = { "ra", "dec", "modelMag_u", "modelMag_g", "modelMag_r", "modelMag_i", "modelMag_z",
                                          "extinction_u", "extinction_g", "extinction_r", "extinction_i", "extinction_z" };
#define NAME(k) (c->colname[k] ? c->colname[k] : dflt[k])
    double pos[2] = { c->ra[row], c->dec[row] };
    for (int k = 0; k < 2; k++)
        if (isnan(pos[k])) {
            snprintf(buf, n, "column '%s' is empty or NaN: not a usable position", NAME(k));
            return;
        } else if (!isfinite(pos[k]) || (k == 1 && (pos[k] < -90 || pos[k] > 90))) {
            snprintf(buf, n, "column '%s' = %g is not a usable position", NAME(k), pos[k]);
            return;
        }
    for (int b = 0; b < 5; b++) {
        float m = c->mag[5 * row + b], e = c->ext[5 * row + b];
        if (!isfinite(m) || m <= -9000 || m >= 9000) {
            if (isnan(m)) snprintf(buf, n, "column '%s' is empty or NaN: not a usable magnitude", NAME(2 + b));
            else snprintf(buf, n, "column '%s' = %g is not a usable magnitude", NAME(2 + b), m);
            return;
        }
        if (!isfinite(e) || e < -1 || e > 50) {
            int k = c->colname[7 + b] || !c->colname[9] ? 7 + b : 9;   /* extinction_r alone */
            if (isnan(e)) snprintf(buf, n, "column '%s' is empty or NaN: not a usable extinction", NAME(k));
            else snprintf(buf, n, "column '%s' gives extinction %g, not a usable one", NAME(k), e);
            return;
        }
    }
#undef NAME
    snprintf(buf, n, "no usable position or magnitudes");
}

/* Why row `row` is unusable, naming the row (from 1), its CSV line and the
 * column. */
static int row_unusable(const gp_catalog *c, size_t row, gp_error *err)
{
    char where[64], why[600];
    row_where(c, row, where, sizeof where);
    row_why(c, row, why, sizeof why);
    return GP_FAIL(err, GP_ERR_DATA, "%s: %s: %s", c->path, where, why);
}

int gp_catalog_row(const gp_catalog *c, size_t row, gp_catalog_entry *out, gp_error *err)
{
    if (!c || !out || row >= c->n)
        return GP_FAIL(err, GP_ERR_ARG, "%s: row index %zu (from 0) is past the last of %zu rows", c ? c->path : "(null)",
                        row, c ? c->n : 0);
    if (!row_usable(c, row)) {
        memset(out, 0, sizeof *out);
        out->row = row;
        out->objid = c->objid ? c->objid[row] : 0;
        out->type = c->type ? c->type[row] : -1;
        out->ra = out->dec = NAN;   /* (a position only where both cells read) */
        if (pos_usable(c, row)) { out->ra = c->ra[row]; out->dec = c->dec[row]; }
        return row_unusable(c, row, err);
    }
    fill_entry(c, row, out);
    return GP_OK;
}
