/*
 * gp_test_table_csv.c: write a training shard's galaxy table (HDU
 * 'GALAXIES', else the first binary table) as CSV on standard output, as a
 * CasJobs download would hold it, for tests/test_train_csv.sh:
 *
 *   gp_test_table_csv SHARD.fits > table.csv
 *
 * Every scalar numeric column, in file order: integers in full (objID
 * exactly), floating-point values with 17 significant digits, so that
 * strtod() gives back the very double cfitsio reads (a float32 value
 * included), and NaN as "NaN".  Text and vector columns are left out.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <fitsio.h>

static int fail(const char *path, int st)
{
    char msg[FLEN_STATUS];
    fits_get_errstatus(st, msg);
    fprintf(stderr, "gp_test_table_csv: %s: %s\n", path, msg);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 2) { fprintf(stderr, "usage: gp_test_table_csv SHARD.fits > table.csv\n"); return 2; }
    const char *path = argv[1];
    fitsfile *f = NULL;
    int st = 0;
    if (fits_open_file(&f, path, READONLY, &st)) return fail(path, st);
    if (fits_movnam_hdu(f, BINARY_TBL, "GALAXIES", 0, &st)) {
        st = 0;
        int type = 0;
        for (int h = 2; !fits_movabs_hdu(f, h, &type, &st) && type != BINARY_TBL; h++) {}
        if (st) return fail(path, st);
    }
    long nrows = 0;
    int ncols = 0;
    fits_get_num_rows(f, &nrows, &st);
    fits_get_num_cols(f, &ncols, &st);
    if (st) return fail(path, st);
    int *kind = calloc((size_t)ncols + 1, sizeof *kind);   /* 0 skip, 1 signed, 2 unsigned 64, 3 float */
    void **col = calloc((size_t)ncols + 1, sizeof *col);
    if (!kind || !col) { fprintf(stderr, "gp_test_table_csv: out of memory\n"); return 1; }
    int first = 1;
    for (int c = 1; c <= ncols; c++) {
        int type = 0;
        long rep = 0, width = 0;
        if (fits_get_eqcoltype(f, c, &type, &rep, &width, &st)) return fail(path, st);
        if (rep != 1 || type == TSTRING || type == TCOMPLEX || type == TDBLCOMPLEX) continue;
        kind[c] = type == TFLOAT || type == TDOUBLE ? 3 : type == TULONGLONG ? 2 : 1;
        col[c] = malloc(8 * (size_t)(nrows ? nrows : 1));
        if (!col[c]) { fprintf(stderr, "gp_test_table_csv: out of memory\n"); return 1; }
        int anynul = 0;
        if (kind[c] == 3) { double nul = NAN; fits_read_col(f, TDOUBLE, c, 1, 1, nrows, &nul, col[c], &anynul, &st); }
        else if (kind[c] == 2) fits_read_col(f, TULONGLONG, c, 1, 1, nrows, NULL, col[c], &anynul, &st);
        else fits_read_col(f, TLONGLONG, c, 1, 1, nrows, NULL, col[c], &anynul, &st);
        if (st) return fail(path, st);
        char key[FLEN_KEYWORD], name[FLEN_VALUE];
        snprintf(key, sizeof key, "TTYPE%d", c);
        if (fits_read_key(f, TSTRING, key, name, NULL, &st)) return fail(path, st);
        printf("%s%s", first ? "" : ",", name);
        first = 0;
    }
    printf("\n");
    for (long i = 0; i < nrows; i++) {
        first = 1;
        for (int c = 1; c <= ncols; c++) {
            if (!kind[c]) continue;
            if (!first) putchar(',');
            first = 0;
            if (kind[c] == 1) printf("%lld", ((LONGLONG *)col[c])[i]);
            else if (kind[c] == 2) printf("%llu", ((ULONGLONG *)col[c])[i]);
            else if (isnan(((double *)col[c])[i])) printf("NaN");
            else printf("%.17g", ((double *)col[c])[i]);
        }
        putchar('\n');
    }
    for (int c = 1; c <= ncols; c++) free(col[c]);
    free(col);
    free(kind);
    fits_close_file(f, &st);
    return ferror(stdout) ? 1 : 0;
}
