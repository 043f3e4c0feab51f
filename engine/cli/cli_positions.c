/* cli_positions.c: a list of galaxy positions (cli_positions.h): which kind
 * of file it is, the CSV reader, and the rows the three readers share. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "galpost/gp_image.h"
#include "cli/cli_positions_read.h"
#include "gp_csv.h"
#include "gp_fits_util.h"

int gp_cli_position_fail(gp_cli_position *p, const char *fmt, ...)
{
    if (p->why) return 0;
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return (p->why = strdup(buf)) ? 0 : -1;
}

int gp_cli_position_angle(gp_cli_position *p, const char *what, const char *s, int ra, double *v)
{
    *v = NAN;
    if (!*s) return gp_cli_position_fail(p, "%s is empty", what);
    double a;
    if (gp_angle_parse(s, ra, &a))
        return gp_cli_position_fail(p, "%s: '%.40s' is not an angle (degrees, or %s)", what, s, ra ? "h:m:s" : "d:m:s");
    if (ra ? !(a >= 0.0 && a <= 360.0) : !(a >= -90.0 && a <= 90.0))
        return gp_cli_position_fail(p, "%s: %.40s is outside %s degrees", what, s, ra ? "0..360" : "-90..90");
    *v = a;
    return 0;
}

gp_cli_position *gp_cli_positions_add(gp_cli_positions *p, long *cap, long line)
{
    if (p->n == *cap) {
        long nc = *cap ? 2 * *cap : 256;
        gp_cli_position *nr = realloc(p->row, sizeof *nr * (size_t)nc);
        if (!nr) return NULL;
        p->row = nr;
        *cap = nc;
    }
    gp_cli_position *r = &p->row[p->n++];
    memset(r, 0, sizeof *r);
    r->ra = r->dec = NAN;
    r->line = line;
    return r;
}

static int read_csv(gp_cli_positions *p, FILE *in, gp_error *err)
{
    const char *path = p->name;   /* (for messages: the file is open as in) */
    gp_csv csv;
    memset(&csv, 0, sizeof csv);
    int st = gp_csv_open(&csv, path, in, "ra", "ra, dec[, objID]", err);
    int ira = -1, idec = -1, iid = -1;
    if (!st) {
        ira = gp_csv_col(&csv, "ra");
        idec = gp_csv_col(&csv, "dec");
        iid = gp_csv_col(&csv, "objID");
        p->has_objid = iid >= 0;
        if (ira < 0 || idec < 0)
            st = GP_FAIL(err, GP_ERR_NOTFOUND, "%s: no '%s' column in the header (line %ld): a positions list "
                         "needs ra and dec (degrees or h:m:s, d:m:s), objID optional",
                         path, ira < 0 ? "ra" : "dec", csv.hdrline);
    }
    long cap = 0;
    int got = 0;
    while (!st && !(st = gp_csv_next(&csv, &got, err)) && got) {
        gp_cli_position *r = gp_cli_positions_add(p, &cap, csv.lineno);
        if (!r) { st = GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory at line %ld", path, csv.lineno); break; }
        char **f = csv.field;
        int oom = 0;
        if (csv.nfield != csv.nnames)
            oom = gp_cli_position_fail(r, "%d fields, the header (line %ld) has %d", csv.nfield, csv.hdrline, csv.nnames);
        else {
            char what[2][80];
            snprintf(what[0], sizeof what[0], "column '%.60s'", csv.names[ira]);
            snprintf(what[1], sizeof what[1], "column '%.60s'", csv.names[idec]);
            oom = gp_cli_position_angle(r, what[0], f[ira], 1, &r->ra) ||
                  gp_cli_position_angle(r, what[1], f[idec], 0, &r->dec);
            if (!oom && iid >= 0 && gp_parse_objid(f[iid], &r->objid)) {
                r->objid = 0;
                oom = gp_cli_position_fail(r, "column '%s': '%.40s' is not an object ID", csv.names[iid], f[iid]);
            }
        }
        if (oom) st = GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory at line %ld", path, csv.lineno);
    }
    gp_csv_close(&csv);
    return st;
}

int gp_cli_positions_read(const char *path, gp_cli_positions **out, gp_error *err)
{
    return gp_cli_positions_read_as(path, NULL, out, err);
}

int gp_cli_positions_read_as(const char *path, const char *name, gp_cli_positions **out, gp_error *err)
{
    *out = NULL;
    gp_cli_positions *p = calloc(1, sizeof *p);
    if (!p) return GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory", name ? name : path);
    p->path = path;
    p->name = name ? name : path;
    path = p->name;   /* (below: path names the list in messages, p->file is opened) */
    /* cfitsio's extended file names (an HDU, a row filter) name a FITS
     * table; the file is the part before the first '[' */
    const char *b = strchr(p->path, '[');
    size_t len = strlen(p->path);
    if (b && b != p->path && p->path[len - 1] == ']' && access(p->path, F_OK) != 0) p->select = b;
    p->file = p->select ? strndup(p->path, (size_t)(p->select - p->path)) : strdup(p->path);
    if (!p->file) { free(p); return GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory", path); }
    FILE *in = fopen(p->file, "rb");
    if (!in) {
        int e = errno;
        int st = p->select ? GP_FAIL(err, GP_ERR_IO, "%s: cannot open %s: %s", path, p->file, strerror(e))
                           : GP_FAIL(err, GP_ERR_IO, "%s: cannot open: %s", path, strerror(e));
        gp_cli_positions_free(p);
        return st;
    }
    /* by content: a FITS file begins with the SIMPLE card (as gp_catalog_open
     * tells its FITS tables), a region file with DS9's comment or a region */
    char magic[9] = "";
    size_t got = fread(magic, 1, 8, in);
    magic[got] = '\0';
    rewind(in);
    int st;
    /* (a gzipped file, as VizieR serves tables: cfitsio reads it as it is) */
    int gz = got >= 2 && (unsigned char)magic[0] == 0x1f && (unsigned char)magic[1] == 0x8b;
    if (p->select && strcmp(magic, "SIMPLE  ") && !gz) {
        st = GP_FAIL(err, GP_ERR_FORMAT, "%s: [...] after a file name selects a FITS table's HDU or rows, and the file "
                     "is not a FITS file", path);
    } else if (!strcmp(magic, "SIMPLE  ") || gz) {
        p->format = GP_CLI_POSITIONS_FITS;
        st = gp_cli_positions_read_fits(p, err);
        if (st && gz && err) {
            char was[sizeof err->msg];
            snprintf(was, sizeof was, "%s", err->msg);
            GP_FAIL(err, st, "%s: gzip-compressed, read as a FITS table (a CSV list or region file must be "
                    "gunzipped first): %s", path, was);
        }
    } else if (gp_cli_positions_is_ds9(in)) {
        p->format = GP_CLI_POSITIONS_DS9;
        st = gp_cli_positions_read_ds9(p, in, err);
    } else {
        p->format = GP_CLI_POSITIONS_CSV;
        st = read_csv(p, in, err);
    }
    if (fclose(in) && !st) st = GP_FAIL(err, GP_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    /* a list without a single row is a mistake (a region file of settings
     * only, an empty table), not an empty batch */
    if (!st && p->n == 0)
        st = GP_FAIL(err, GP_ERR_DATA, "%s: no positions in it (read as %s)", path,
                     p->format == GP_CLI_POSITIONS_FITS ? "a FITS table" :
                     p->format == GP_CLI_POSITIONS_DS9 ? "a DS9 region file: no circle, ellipse, box, annulus, point or panda region" :
                     "a CSV list");
    if (st) { gp_cli_positions_free(p); return st; }
    *out = p;
    return GP_OK;
}

void gp_cli_positions_free(gp_cli_positions *p)
{
    if (!p) return;
    for (long r = 0; r < p->n; r++) free(p->row[r].why);
    free(p->row);
    free(p->file);
    free(p);
}

void gp_cli_positions_where(const gp_cli_positions *p, long r, char *buf, size_t size)
{
    const char *name = p->name ? p->name : p->path;
    if (r < 0 || r >= p->n) snprintf(buf, size, "%s: row ?", name);
    else if (p->row[r].line <= 0) snprintf(buf, size, "%s: row %ld", name, r + 1);
    else snprintf(buf, size, "%s: row %ld (line %ld)", name, r + 1, p->row[r].line);
}
