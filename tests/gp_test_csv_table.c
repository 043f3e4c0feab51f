/*
 * gp_test_csv_table.c: write a small CSV table as a FITS binary table, as
 * TOPCAT or CasJobs would save it, for tests/test_infer_positions.sh:
 *
 *   gp_test_csv_table OUT.fits < table.csv
 *
 * The first line names the columns; the primary HDU is empty and the table
 * is HDU 2 (EXTNAME 'TABLE').  A column named objID (any case) is 64-bit
 * integers (an empty cell 0); a column whose every cell is a number is
 * doubles (an empty cell NaN, a null) with TUNIT 'deg' for ra and dec;
 * any other column is text.  Fields are split on commas, no quoting.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <fitsio.h>

#define MAXCOL 16
#define MAXROW 4096

static char *cell[MAXROW + 1][MAXCOL];

static int split(char *line, char **f)
{
    int n = 0;
    line[strcspn(line, "\r\n")] = '\0';
    for (char *s = line;; ) {
        if (n == MAXCOL) return -1;
        f[n++] = s;
        char *c = strchr(s, ',');
        if (!c) break;
        *c = '\0';
        s = c + 1;
    }
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 2) { fprintf(stderr, "usage: gp_test_csv_table OUT.fits < table.csv\n"); return 2; }
    static char buf[MAXROW + 1][512];
    int ncol = -1;
    long nrow = 0;
    while (nrow <= MAXROW && fgets(buf[nrow], sizeof buf[nrow], stdin)) {
        int n = split(buf[nrow], cell[nrow]);
        if (ncol < 0) ncol = n;
        if (n != ncol) { fprintf(stderr, "gp_test_csv_table: line %ld: %d fields, not %d\n", nrow + 1, n, ncol); return 1; }
        nrow++;
    }
    if (ncol < 1 || nrow > MAXROW) { fprintf(stderr, "gp_test_csv_table: no header, or over %d rows\n", MAXROW); return 1; }
    nrow--;   /* (the header) */
    char *ttype[MAXCOL], *tform[MAXCOL], *tunit[MAXCOL], forms[MAXCOL][32];
    int kind[MAXCOL];   /* 0 objID, 1 number, 2 text */
    for (int c = 0; c < ncol; c++) {
        ttype[c] = cell[0][c];
        tunit[c] = "";
        size_t w = 1;
        kind[c] = !strcasecmp(ttype[c], "objID") ? 0 : 1;
        for (long r = 1; r <= nrow; r++) {
            char *end;
            if (strlen(cell[r][c]) > w) w = strlen(cell[r][c]);
            if (kind[c] == 1 && *cell[r][c] && (strtod(cell[r][c], &end), *end)) kind[c] = 2;
        }
        if (kind[c] == 0) snprintf(forms[c], sizeof forms[c], "K");
        else if (kind[c] == 1) snprintf(forms[c], sizeof forms[c], "D");
        else snprintf(forms[c], sizeof forms[c], "%zuA", w);
        tform[c] = forms[c];
        if (kind[c] == 1 && (!strcasecmp(ttype[c], "ra") || !strcasecmp(ttype[c], "dec"))) tunit[c] = "deg";
    }
    char name[4200];
    snprintf(name, sizeof name, "!%s", argv[1]);
    fitsfile *fp = NULL;
    int st = 0;
    fits_create_file(&fp, name, &st);
    fits_create_img(fp, 8, 0, NULL, &st);
    fits_create_tbl(fp, BINARY_TBL, 0, ncol, ttype, tform, tunit, "TABLE", &st);
    for (long r = 1; r <= nrow && !st; r++)
        for (int c = 0; c < ncol && !st; c++) {
            if (kind[c] == 0) {
                LONGLONG v = (LONGLONG)strtoull(cell[r][c], NULL, 10);
                fits_write_col(fp, TLONGLONG, c + 1, r, 1, 1, &v, &st);
            } else if (kind[c] == 1) {
                double v = *cell[r][c] ? strtod(cell[r][c], NULL) : NAN;
                fits_write_col(fp, TDOUBLE, c + 1, r, 1, 1, &v, &st);
            } else
                fits_write_col(fp, TSTRING, c + 1, r, 1, 1, &cell[r][c], &st);
        }
    fits_close_file(fp, &st);
    if (st) {
        char msg[FLEN_STATUS];
        fits_get_errstatus(st, msg);
        fprintf(stderr, "gp_test_csv_table: %s: %s\n", argv[1], msg);
        return 1;
    }
    return 0;
}
