/* cli_positions.c: a CSV list of galaxy positions (cli_positions.h). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galpost/gp_image.h"
#include "cli/cli_positions.h"
#include "gp_csv.h"
#include "gp_fits_util.h"

/* Sets the row's reason (the first one found); -1 when out of memory. */
static int row_fail(gp_cli_position *p, const char *fmt, ...)
{
    if (p->why) return 0;
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return (p->why = strdup(buf)) ? 0 : -1;
}

/* One angle cell: -1 when out of memory. */
static int read_angle(gp_cli_position *p, const char *name, const char *s, int ra, double *v)
{
    *v = NAN;
    if (!*s) return row_fail(p, "column '%s' is empty", name);
    double a;
    if (gp_angle_parse(s, ra, &a))
        return row_fail(p, "column '%s': '%.40s' is not an angle (degrees, or %s)", name, s, ra ? "h:m:s" : "d:m:s");
    if (ra ? !(a >= 0.0 && a <= 360.0) : !(a >= -90.0 && a <= 90.0))
        return row_fail(p, "column '%s': %.40s is outside %s degrees", name, s, ra ? "0..360" : "-90..90");
    *v = a;
    return 0;
}

int gp_cli_positions_read(const char *path, gp_cli_positions **out, gp_error *err)
{
    *out = NULL;
    FILE *in = fopen(path, "r");
    if (!in) return GP_FAIL(err, GP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    gp_cli_positions *p = calloc(1, sizeof *p);
    gp_csv csv;
    memset(&csv, 0, sizeof csv);
    int st = p ? gp_csv_open(&csv, path, in, "ra", "ra, dec[, objID]", err)
               : GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory", path);
    int ira = -1, idec = -1, iid = -1;
    if (!st) {
        p->path = path;
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
        if (p->n == cap) {
            long nc = cap ? 2 * cap : 256;
            gp_cli_position *nr = realloc(p->row, sizeof *nr * (size_t)nc);
            if (!nr) { st = GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory at line %ld", path, csv.lineno); break; }
            p->row = nr;
            cap = nc;
        }
        gp_cli_position *r = &p->row[p->n++];
        memset(r, 0, sizeof *r);
        r->ra = r->dec = NAN;
        r->line = csv.lineno;
        char **f = csv.field;
        int oom = 0;
        if (csv.nfield != csv.nnames)
            oom = row_fail(r, "%d fields, the header (line %ld) has %d", csv.nfield, csv.hdrline, csv.nnames);
        else {
            oom = read_angle(r, csv.names[ira], f[ira], 1, &r->ra) ||
                  read_angle(r, csv.names[idec], f[idec], 0, &r->dec);
            if (!oom && iid >= 0 && gp_parse_objid(f[iid], &r->objid)) {
                r->objid = 0;
                oom = row_fail(r, "column '%s': '%.40s' is not an object ID", csv.names[iid], f[iid]);
            }
        }
        if (oom) st = GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory at line %ld", path, csv.lineno);
    }
    gp_csv_close(&csv);
    if (fclose(in) && !st) st = GP_FAIL(err, GP_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    if (st) { gp_cli_positions_free(p); return st; }
    *out = p;
    return GP_OK;
}

void gp_cli_positions_free(gp_cli_positions *p)
{
    if (!p) return;
    for (long r = 0; r < p->n; r++) free(p->row[r].why);
    free(p->row);
    free(p);
}

void gp_cli_positions_where(const gp_cli_positions *p, long r, char *buf, size_t size)
{
    if (r < 0 || r >= p->n) snprintf(buf, size, "%s: row ?", p->path);
    else snprintf(buf, size, "%s: row %ld (line %ld)", p->path, r + 1, p->row[r].line);
}
