/* cli_shard_why.c: why a shard row cannot be inferred, naming its column
 * (cli_shard_why.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fitsio.h>

#include "cli/cli_shard_why.h"

struct gp_cli_shard_rows {
    const gp_dataset *d;
    int       shard;      /* the open shard, -1 for none */
    fitsfile *f;          /* at its galaxy table; NULL when it cannot be read */
    long     *lines;      /* a CSV shard's rows' lines (from 1); NULL for FITS */
};

gp_cli_shard_rows *gp_cli_shard_why_new(const gp_dataset *d)
{
    gp_cli_shard_rows *w = calloc(1, sizeof *w);
    if (w) { w->d = d; w->shard = -1; }
    return w;
}

static void close_shard(gp_cli_shard_rows *w)
{
    int st = 0;
    if (w->f) fits_close_file(w->f, &st);
    w->f = NULL;
    free(w->lines);
    w->lines = NULL;
    w->shard = -1;
}

void gp_cli_shard_why_free(gp_cli_shard_rows *w)
{
    if (!w) return;
    close_shard(w);
    free(w);
}

/* The shard's galaxy table as gp_dataset_open read it (FITS, or a CSV
 * table through the same reader, with its rows' lines); w->f NULL when it
 * cannot be read again. */
static void open_table(gp_cli_shard_rows *w, int s)
{
    gp_error err;
    if (gp_dataset_open_table(w->d->shard_path[s], &w->f, &w->lines, &err)) {
        w->f = NULL;
        w->lines = NULL;
        fits_clear_errmsg();
    }
    w->shard = s;
}

/* Cell `row` (1-based) of column `name` (case-insensitive) as a double, NaN
 * for a null; its spelling in the file in `as`.  Nonzero when unreadable. */
static int read_cell(fitsfile *f, const char *name, long row, double *v, char as[FLEN_VALUE])
{
    int st = 0, col = 0, anynul = 0;
    double nul = NAN;
    char key[FLEN_KEYWORD];
    if (fits_get_colnum(f, CASEINSEN, (char *)name, &col, &st)) { fits_clear_errmsg(); return 1; }
    snprintf(key, sizeof key, "TTYPE%d", col);
    if (fits_read_key(f, TSTRING, key, as, NULL, &st)) { st = 0; snprintf(as, FLEN_VALUE, "%s", name); }
    if (fits_read_col(f, TDOUBLE, col, row, 1, 1, &nul, v, &anynul, &st)) { fits_clear_errmsg(); return 1; }
    return 0;
}

/* gp_dataset's test of a magnitude or extinction cell */
static int usable(double v) { return isfinite(v) && v > -9990.0; }

/* The photometry cell that made the row bad, in `out`; nonzero when none
 * is found. */
static int phot_why(fitsfile *f, long local, int csv, char *out, size_t size)
{
    for (int b = 0; b < 5; b++) {
        char mname[16], ename[16], mas[FLEN_VALUE], eas[FLEN_VALUE];
        double m, e;
        snprintf(mname, sizeof mname, "modelMag_%c", "ugriz"[b]);
        snprintf(ename, sizeof ename, "extinction_%c", "ugriz"[b]);
        if (read_cell(f, mname, local + 1, &m, mas) || read_cell(f, ename, local + 1, &e, eas)) return 1;
        const char *col = !usable(m) ? mas : !usable(e) ? eas : NULL;
        double v = !usable(m) ? m : e;
        const char *what = !usable(m) ? "magnitude" : "extinction";
        if (col && isnan(v)) {
            snprintf(out, size, "column '%s' is empty%s or NaN: not a usable %s", col, csv ? ", null" : "", what);
            return 0;
        }
        if (col) { snprintf(out, size, "column '%s' = %g is not a usable %s", col, v, what); return 0; }
        if (!(m - e >= 5.0 && m - e <= 40.0)) {
            snprintf(out, size, "columns '%s' - '%s' = %g - %g = %g: the corrected magnitude is not in 5..40", mas, eas, m,
                     e, m - e);
            return 0;
        }
    }
    return 1;
}

/* Row r's shard, opened in w; its row in that shard (0-based). */
static long seek_row(gp_cli_shard_rows *w, long r)
{
    const gp_dataset *d = w->d;
    int s = 0;
    while (s + 1 < d->nshards && r >= d->shard_first[s + 1]) s++;
    if (w->shard != s) {
        close_shard(w);
        open_table(w, s);
    }
    return r - d->shard_first[s];
}

void gp_cli_shard_where(gp_cli_shard_rows *w, long r, char *buf, size_t size)
{
    long local = seek_row(w, r);
    gp_dataset_row_where(w->d, r, w->f && w->lines ? w->lines[local] : 0, buf, size);
}

void gp_cli_shard_why(gp_cli_shard_rows *w, long r, char *why, size_t size)
{
    const gp_dataset *d = w->d;
    long local = seek_row(w, r);
    char where[4200];   /* "SHARD: row K (line L; row R of the input)", from 1 */
    gp_dataset_row_where(d, r, w->f && w->lines ? w->lines[local] : 0, where, sizeof where);
    char cell[400] = "";
    int found = 0;
    if (d->bad[r] & GP_BAD_PHOT) found = w->f && !phot_why(w->f, local, w->lines != NULL, cell, sizeof cell);
    if (!found)
        snprintf(cell, sizeof cell, "%s", d->bad[r] & GP_BAD_PHOT ? "unusable photometry (NaN, sentinel or absurd magnitude or extinction)"
                                          : d->bad[r] & GP_BAD_IMAGE ? "non-finite pixels in the cutout" : "unusable row");
    snprintf(why, size, "%s: %s", where, cell);
}
