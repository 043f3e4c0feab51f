/*
 * gp_test_results_dump.c: one galaxy of a `galpost infer -o` table, in the
 * text forms of the one-galaxy run, for tests/test_infer_positions.sh:
 *
 *   gp_test_results_dump OUT.fits row K       SUMMARY row K (from 1): lines
 *       "objID N", "status S", "flags F", "message TEXT", then "COLUMN V"
 *       for every floating-point column, V with 9 significant digits (the
 *       float32 value exactly)
 *   gp_test_results_dump OUT.fits samples K   SAMPLES row K as galpost infer
 *       --samples-out writes a galaxy's samples: "# NAME ..." then one line
 *       per sample, "%.7g" values separated by blanks
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fitsio.h>

static int fail(const char *path, int st)
{
    char msg[FLEN_STATUS];
    fits_get_errstatus(st, msg);
    fprintf(stderr, "gp_test_results_dump: %s: %s\n", path, msg);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[2], "row") && strcmp(argv[2], "samples")) || atol(argv[3]) < 1) {
        fprintf(stderr, "usage: gp_test_results_dump OUT.fits row|samples K\n");
        return 2;
    }
    const char *path = argv[1];
    int samples = !strcmp(argv[2], "samples");
    long row = atol(argv[3]);
    fitsfile *f = NULL;
    int st = 0, ncols = 0;
    long nrows = 0;
    if (fits_open_file(&f, path, READONLY, &st) ||
        fits_movnam_hdu(f, BINARY_TBL, samples ? "SAMPLES" : "SUMMARY", 0, &st) ||
        fits_get_num_rows(f, &nrows, &st) || fits_get_num_cols(f, &ncols, &st))
        return fail(path, st);
    if (row > nrows) { fprintf(stderr, "gp_test_results_dump: %s: %ld rows\n", path, nrows); return 1; }
    char name[256][FLEN_VALUE];
    int type[256];
    long rep[256];
    if (ncols > 256) { fprintf(stderr, "gp_test_results_dump: %d columns\n", ncols); return 1; }
    for (int c = 1; c <= ncols; c++) {
        char key[FLEN_KEYWORD];
        long width;
        snprintf(key, sizeof key, "TTYPE%d", c);
        if (fits_read_key(f, TSTRING, key, name[c - 1], NULL, &st) ||
            fits_get_coltype(f, c, &type[c - 1], &rep[c - 1], &width, &st))
            return fail(path, st);
    }
    if (samples) {
        long n = rep[1];
        float *v = malloc(sizeof(float) * (size_t)(n * ncols));
        if (!v) return 1;
        printf("#");
        for (int c = 2; c <= ncols; c++) {
            int any = 0;
            printf(" %s", name[c - 1]);
            if (fits_read_col(f, TFLOAT, c, row, 1, n, NULL, v + (size_t)(c - 2) * n, &any, &st)) return fail(path, st);
        }
        printf("\n");
        for (long i = 0; i < n; i++) {
            for (int c = 2; c <= ncols; c++) printf("%s%.7g", c > 2 ? " " : "", v[(size_t)(c - 2) * n + i]);
            printf("\n");
        }
        free(v);
    } else {
        for (int c = 1; c <= ncols; c++) {
            int any = 0;
            if (type[c - 1] == TSTRING) {
                char buf[1024], *p = buf;
                if (fits_read_col(f, TSTRING, c, row, 1, 1, NULL, &p, &any, &st)) return fail(path, st);
                printf("%s %s\n", name[c - 1], buf);
            } else if (type[c - 1] == TFLOAT || type[c - 1] == TDOUBLE) {
                double d;
                if (fits_read_col(f, TDOUBLE, c, row, 1, 1, NULL, &d, &any, &st)) return fail(path, st);
                printf("%s %.9g\n", name[c - 1], d);
            } else {
                ULONGLONG u;
                if (fits_read_col(f, TULONGLONG, c, row, 1, 1, NULL, &u, &any, &st)) return fail(path, st);
                printf("%s %llu\n", name[c - 1], (unsigned long long)u);
            }
        }
    }
    fits_close_file(f, &st);
    return ferror(stdout) ? 1 : 0;
}
