/*
 * cli_positions_fits.c: a FITS table as a --positions list
 * (cli_positions.h): its first table HDU's ra and dec columns (degrees, or
 * sexagesimal strings) and an optional objID column, as TOPCAT, CasJobs
 * and VizieR write them.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli_positions_read.h"
#include "gp_fits_table.h"
#include "gp_fits_util.h"

/* The names a column of RA or Dec goes by, in the order they are looked
 * for (case-insensitive): ours and CasJobs', then VizieR's. */
static const char *const ra_names[] = { "ra", "raj2000", "ra_icrs", NULL };
static const char *const dec_names[] = { "dec", "dej2000", "decj2000", "de_icrs", "dec_icrs", NULL };

/* Where the table is, for messages: "HDU 2" or "HDU 2 (PHOTOOBJ)". */
static void hdu_name(fitsfile *fp, char *buf, size_t size)
{
    int hdu = 0, status = 0;
    char extname[FLEN_VALUE] = "";
    fits_get_hdu_num(fp, &hdu);
    if (fits_read_key(fp, TSTRING, "EXTNAME", extname, NULL, &status)) { fits_clear_errmsg(); *extname = '\0'; }
    if (*extname) snprintf(buf, size, "HDU %d (%s)", hdu, extname);
    else snprintf(buf, size, "HDU %d", hdu);
}

/* The table's column names, "a, b, c" (the first ones, within size). */
static void column_names(fitsfile *fp, char *buf, size_t size)
{
    int ncol = 0, status = 0;
    *buf = '\0';
    fits_get_num_cols(fp, &ncol, &status);
    size_t len = 0;
    for (int c = 1; c <= ncol && !status; c++) {
        char key[FLEN_KEYWORD], name[FLEN_VALUE] = "";
        snprintf(key, sizeof key, "TTYPE%d", c);
        if (fits_read_key(fp, TSTRING, key, name, NULL, &status)) break;
        int w = snprintf(buf + len, size - len, "%s%s", len ? ", " : "", name);
        if (w < 0 || (size_t)w >= size - len) { if (size > 4) strcpy(buf + size - 4, "..."); break; }
        len += (size_t)w;
    }
    fits_clear_errmsg();
}

/* One coordinate column: numbers in degrees, or strings.  What it holds
 * goes to v (NaN where a cell is null), or s[n] strings of width+1. */
typedef struct coord_col {
    int     col;
    char    name[FLEN_VALUE];   /* as the file spells it */
    int     is_string;
    long    width;
    double *v;
    char   *s;
} coord_col;

static int find_coord(fitsfile *fp, const char *path, const char *where, const char *const *names, coord_col *c,
                      gp_error *err)
{
    memset(c, 0, sizeof *c);
    for (int k = 0; names[k] && !c->col; k++) c->col = gp_fits_table_col(fp, names[k]);
    if (!c->col) {
        char cols[1024];
        column_names(fp, cols, sizeof cols);
        int ra = names == ra_names;
        return GP_FAIL(err, GP_ERR_NOTFOUND, "%s: %s: no '%s' column (nor %s): a positions table needs ra and dec "
                       "(degrees), objID optional; its columns: %s", path, where, ra ? "ra" : "dec",
                       ra ? "RAJ2000, RA_ICRS" : "DEJ2000, DECJ2000, DE_ICRS, DEC_ICRS", *cols ? cols : "none");
    }
    int status = 0, type = 0;
    long repeat = 0;
    char key[FLEN_KEYWORD], unit[FLEN_VALUE] = "";
    snprintf(key, sizeof key, "TTYPE%d", c->col);
    fits_read_key(fp, TSTRING, key, c->name, NULL, &status);
    fits_get_eqcoltype(fp, c->col, &type, &repeat, &c->width, &status);
    if (status) return gp_fits_fail(err, status, "%s: %s: cannot read column %d", path, where, c->col);
    snprintf(key, sizeof key, "TUNIT%d", c->col);
    if (fits_read_key(fp, TSTRING, key, unit, NULL, &status)) { fits_clear_errmsg(); *unit = '\0'; }
    c->is_string = type == TSTRING;
    if (!c->is_string && repeat != 1)
        return GP_FAIL(err, GP_ERR_FORMAT, "%s: %s: column '%s' holds %ld values a row, not one angle", path, where,
                       c->name, repeat);
    if (type == TCOMPLEX || type == TDBLCOMPLEX || type == TLOGICAL || type == TBIT)
        return GP_FAIL(err, GP_ERR_FORMAT, "%s: %s: column '%s' does not hold numbers or text", path, where, c->name);
    if (!c->is_string && *unit && strcasecmp(unit, "deg") && strcasecmp(unit, "degree") && strcasecmp(unit, "degrees"))
        return GP_FAIL(err, GP_ERR_FORMAT, "%s: %s: column '%s' is in '%s' (TUNIT%d): --positions reads degrees",
                       path, where, c->name, unit, c->col);
    return GP_OK;
}

static int read_coord(fitsfile *fp, const char *path, long n, coord_col *c, gp_error *err)
{
    int status = 0, anynul = 0;
    size_t m = (size_t)(n ? n : 1);
    if (!c->is_string) {
        double nul = NAN;
        if (!(c->v = malloc(sizeof(double) * m))) return GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory", path);
        if (fits_read_col(fp, TDOUBLE, c->col, 1, 1, n, &nul, c->v, &anynul, &status))
            return gp_fits_fail(err, status, "%s: cannot read column '%s'", path, c->name);
        return GP_OK;
    }
    size_t w = (size_t)c->width + 1;
    char **ptr = malloc(sizeof(char *) * m);
    c->s = calloc(m, w);
    if (!ptr || !c->s) { free(ptr); return GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory", path); }
    for (long i = 0; i < n; i++) ptr[i] = c->s + (size_t)i * w;
    char nul[] = "";
    fits_read_col(fp, TSTRING, c->col, 1, 1, n, nul, ptr, &anynul, &status);
    free(ptr);
    if (status) return gp_fits_fail(err, status, "%s: cannot read column '%s'", path, c->name);
    return GP_OK;
}

/* Row i's angle from column c into *v (the row's reason where it cannot):
 * -1 only when memory runs out. */
static int row_angle(gp_cli_position *r, const coord_col *c, long i, int ra, double *v)
{
    char what[FLEN_VALUE + 16];
    snprintf(what, sizeof what, "column '%s'", c->name);
    if (!c->is_string) {
        *v = NAN;
        double a = c->v[i];
        if (!isfinite(a)) return gp_cli_position_fail(r, "%s is null", what);
        if (ra ? !(a >= 0.0 && a <= 360.0) : !(a >= -90.0 && a <= 90.0))
            return gp_cli_position_fail(r, "%s: %.10g is outside %s degrees", what, a, ra ? "0..360" : "-90..90");
        *v = a;
        return 0;
    }
    /* trimmed; VizieR's "15 18 06.18" as "15:18:06.18" */
    char b[80];
    gp_fits_table_angle_text(c->s + (size_t)i * ((size_t)c->width + 1), b, sizeof b);
    return gp_cli_position_angle(r, what, b, ra, v);
}

/* A file by its name alone, at its first table HDU (as fits_open_table()
 * does for a name without [...]), the name not parsed for cfitsio's
 * extended syntax: a file called "cat[2].fits", or in a directory "run[1]",
 * is that file.  cfitsio's status. */
static int open_first_table(fitsfile **fp, const char *path, int *status)
{
    int n = 0, type = 0;
    if (fits_open_diskfile(fp, path, READONLY, status) || fits_get_num_hdus(*fp, &n, status)) return *status;
    for (int h = 1; h <= n; h++) {
        if (fits_movabs_hdu(*fp, h, &type, status)) return *status;
        if (type == ASCII_TBL || type == BINARY_TBL) return 0;
    }
    return *status = NOT_TABLE;
}

int gp_cli_positions_read_fits(gp_cli_positions *p, gp_error *err)
{
    const char *path = p->name ? p->name : p->path;   /* (in messages) */
    fitsfile *fp = NULL;
    int status = 0;
    const int extended = p->select != NULL;
    /* the first table HDU (cfitsio's own choice for a file without an
     * extension named), or what an extended name selects */
    if (extended ? fits_open_table(&fp, p->path, READONLY, &status) : open_first_table(&fp, p->file, &status)) {
        int st = gp_fits_fail(err, status, "%s: cannot open as a FITS table (--positions reads the first table HDU%s)", path,
                              extended ? " or the HDU and rows [...] names" : "");
        status = 0;
        if (fp) fits_close_file(fp, &status);   /* (a file without a table is left open) */
        return st;
    }
    char where[FLEN_VALUE + 16];
    hdu_name(fp, where, sizeof where);
    long n = 0;
    coord_col cra, cdec;
    memset(&cra, 0, sizeof cra);
    memset(&cdec, 0, sizeof cdec);
    uint64_t *id = NULL;
    unsigned char *bad = NULL;
    int st = GP_OK;
    if (fits_get_num_rows(fp, &n, &status)) st = gp_fits_fail(err, status, "%s: %s: cannot read the table size", path, where);
    if (!st) st = find_coord(fp, path, where, ra_names, &cra, err);
    if (!st) st = find_coord(fp, path, where, dec_names, &cdec, err);
    if (st == GP_ERR_NOTFOUND && err && !strchr(path, '[') && !strcmp(path, p->path)) {   /* (a file, by its name) */
        /* another HDU may hold the positions: say how to name it */
        int nhdu = 0, cur = 0, s2 = 0;
        fits_get_num_hdus(fp, &nhdu, &s2);
        fits_get_hdu_num(fp, &cur);
        if (!s2 && nhdu > cur) {
            char was[sizeof err->msg];
            snprintf(was, sizeof was, "%s", err->msg);
            GP_FAIL(err, st, "%s; the file has %d HDUs: name another as %s[%d] (counted from 0, the primary) or "
                    "by its EXTNAME", was, nhdu, path, cur);
        }
    }
    if (!st) st = read_coord(fp, path, n, &cra, err);
    if (!st) st = read_coord(fp, path, n, &cdec, err);
    int cid = st ? 0 : gp_fits_table_col(fp, "objID");
    p->has_objid = cid != 0;
    if (cid) {
        id = calloc((size_t)(n ? n : 1), sizeof *id);
        bad = malloc((size_t)(n ? n : 1));
        if (!id || !bad) st = GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory", path);
        else st = gp_fits_table_objid(fp, path, cid, n, id, bad, err);
    }
    long cap = 0;
    for (long i = 0; i < n && !st; i++) {
        gp_cli_position *r = gp_cli_positions_add(p, &cap, 0);
        int oom = !r;
        if (r) {
            oom = row_angle(r, &cra, i, 1, &r->ra) || row_angle(r, &cdec, i, 0, &r->dec);
            if (id) r->objid = id[i];
            if (!oom && bad && bad[i]) oom = gp_cli_position_fail(r, "column 'objID' is not an object ID");
        }
        if (oom) st = GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory at row %ld", path, i + 1);
    }
    free(cra.v); free(cra.s); free(cdec.v); free(cdec.s); free(id); free(bad);
    status = 0;
    fits_close_file(fp, &status);
    return st;
}
