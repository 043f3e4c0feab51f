/* gp_fits_table.c: table columns more than one reader needs (gp_fits_table.h). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gp_fits_table.h"
#include "gp_fits_util.h"

int gp_fits_table_col(fitsfile *fp, const char *name)
{
    int status = 0, col = 0;
    char tmpl[FLEN_VALUE];
    snprintf(tmpl, sizeof tmpl, "%s", name);
    fits_get_colnum(fp, CASEINSEN, tmpl, &col, &status);
    fits_clear_errmsg();
    /* COL_NOT_UNIQUE: several match ("ra" and "RA"), col is the first */
    return status == 0 || status == COL_NOT_UNIQUE ? col : 0;
}

int gp_fits_table_objid(fitsfile *fp, const char *path, int col, long n, uint64_t *id, unsigned char *bad,
                        gp_error *err)
{
    int status = 0, typecode = 0, anynul = 0;
    long repeat = 0, width = 0;
    fits_get_coltype(fp, col, &typecode, &repeat, &width, &status);
    if (status) return gp_fits_fail(err, status, "%s: cannot read the objID column", path);
    if (typecode == TFLOAT || typecode == TDOUBLE || typecode == TCOMPLEX || typecode == TDBLCOMPLEX)
        return GP_FAIL(err, GP_ERR_FORMAT, "%s: objID is a floating-point column, which cannot hold 64-bit object IDs exactly",
                       path);
    if (bad) memset(bad, 0, (size_t)n);
    if (typecode != TSTRING) {
        /* a signed column (CasJobs' bigint) as it is, the bits of a
         * negative value kept; an unsigned one (TZERO = 2^63, as astropy
         * writes uint64) exactly, above 2^63 too */
        int eqtype = 0;
        fits_get_eqcoltype(fp, col, &eqtype, &repeat, &width, &status);
        if (eqtype == TULONGLONG) {
            ULONGLONG nul = 0;
            fits_read_col(fp, TULONGLONG, col, 1, 1, n, &nul, (ULONGLONG *)id, &anynul, &status);
        } else {
            LONGLONG nul = 0;
            fits_read_col(fp, TLONGLONG, col, 1, 1, n, &nul, (LONGLONG *)id, &anynul, &status);
        }
        if (status) return gp_fits_fail(err, status, "%s: cannot read the objID column", path);
        return GP_OK;
    }
    char *buf = malloc((size_t)repeat + 1);
    if (!buf) return GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory", path);
    int st = GP_OK;
    for (long i = 0; i < n && !st; i++) {
        char *p = buf;
        *buf = '\0';
        if (fits_read_col(fp, TSTRING, col, i + 1, 1, 1, NULL, &p, &anynul, &status))
            st = gp_fits_fail(err, status, "%s: cannot read the objID column", path);
        else if (gp_parse_objid(buf, &id[i])) {
            id[i] = 0;
            if (bad) bad[i] = 1;
            else st = GP_FAIL(err, GP_ERR_FORMAT, "%s: row %ld: objID '%s' is not an object ID", path, i + 1, buf);
        }
    }
    free(buf);
    return st;
}

void gp_fits_table_angle_text(const char *cell, char *out, size_t size)
{
    size_t o = 0;
    if (!size) return;
    for (const char *s = cell; *s && o + 1 < size; s++) {
        if (isspace((unsigned char)*s)) {
            while (isspace((unsigned char)s[1])) s++;
            if (s[1] && o && isdigit((unsigned char)out[o - 1])) out[o++] = ':';
            continue;
        }
        out[o++] = *s;
    }
    out[o] = '\0';
}
