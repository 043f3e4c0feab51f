/*
 * test_shards.c: `galpost shards` builds training shards from an SDSS-like
 * export and the frames of its field, run as a real process on real files.
 *
 * A mock field (frames with WCS and its truth table, sim/) stands in for a
 * downloaded SDSS field; the export is the truth table with the rerun and
 * field columns a CasJobs export has, plus two rows that cannot be cut: one
 * off the frames, one in a field whose frames are absent.  Checked:
 *  - every other row is written, in field order, and each plane equals the
 *    engine's own cutout of the frames at the row's position (bit for bit);
 *  - the table rows travel with their planes (objID), every export column
 *    is kept, the header keys of sim/FORMAT.md are set;
 *  - one thread and all CPUs write the same bytes;
 *  - the shards read as a training data set (gp_dataset_open with images);
 *  - the two bad rows are left out and named in shards.log;
 *  - --list-frames prints the SAS addresses of the absent field's frames
 *    only; bad arguments are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <fitsio.h>

#include "galpost/gp_image.h"
#include "galpost/gp_model.h"
#include <dirent.h>
#include <sys/wait.h>

#include "gp_dataset.h"
#include "image_fixture.h"

static char *dir;
static struct { int run, camcol, field, rerun; } fo;
static long ngal;

/* A field file: kind "frame-g", "truth", ... */
static void field_path(const char *kind, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s-%06d-%d-%04d.fits", dir, kind, fo.run, fo.camcol, fo.field);
}

/* `galpost mock field` writes the frames, photoObj and truth of one field;
 * run, camcol and field from the frame's name, rerun from its header. */
static int setup(void **state)
{
    (void)state;
    dir = fx_tmpdir();
    if (!dir) return -1;
    const char *top = getenv("GP_TOP_BUILDDIR");
    char cmd[8300];
    snprintf(cmd, sizeof cmd, "'%s/galpost' mock field --seed 5 -o '%s' >/dev/null 2>&1", top ? top : ".", dir);
    if (system(cmd) != 0) { fprintf(stderr, "galpost mock field failed\n"); return -1; }
    DIR *d = opendir(dir);
    struct dirent *e;
    int found = 0;
    while (d && (e = readdir(d)))
        if (sscanf(e->d_name, "frame-g-%6d-%1d-%4d.fits", &fo.run, &fo.camcol, &fo.field) == 3) found = 1;
    if (d) closedir(d);
    if (!found) return -1;
    char path[4300];
    field_path("frame-r", path, sizeof path);
    fitsfile *f = NULL;
    int st = 0;
    fits_open_file(&f, path, READONLY, &st);
    if (fits_read_key(f, TINT, "RERUN", &fo.rerun, NULL, &st)) { st = 0; fo.rerun = 301; }
    fits_close_file(f, &st);
    field_path("truth", path, sizeof path);
    char name[4400];
    snprintf(name, sizeof name, "%s[GALAXIES]", path);
    st = 0;
    fits_open_file(&f, name, READONLY, &st);
    fits_get_num_rows(f, &ngal, &st);
    fits_close_file(f, &st);
    return st ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    fx_rmtree(dir);
    free(dir);
    return 0;
}

static int run(const char *args, const char *out)
{
    const char *top = getenv("GP_TOP_BUILDDIR");
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "'%s/galpost' shards %s >'%s' 2>&1", top ? top : ".", args, out);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int file_contains(const char *path, const char *text)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[8192];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) found = strstr(line, text) != NULL;
    fclose(f);
    return found;
}

/* The export: the field's truth table, with rerun and field columns, and
 * two more rows copied from row 1: one moved off the frames, one moved to
 * field 999 (no frames). */
static void write_export(const char *path, double *ra_off, uint64_t ids[2])
{
    char truth[4300];
    field_path("truth", truth, sizeof truth);
    fitsfile *in = NULL, *out = NULL;
    int st = 0;
    char inname[4400], outname[4500];
    snprintf(inname, sizeof inname, "%s[GALAXIES]", truth);
    snprintf(outname, sizeof outname, "!%s", path);
    fits_open_file(&in, inname, READONLY, &st);
    fits_create_file(&out, outname, &st);
    fits_create_img(out, BYTE_IMG, 0, NULL, &st);
    fits_copy_hdu(in, out, 0, &st);
    assert_int_equal(st, 0);
    long n = 0;
    int ncol = 0;
    fits_get_num_rows(out, &n, &st);
    fits_get_num_cols(out, &ncol, &st);
    fits_insert_col(out, ncol + 1, "rerun", "J", &st);
    fits_insert_col(out, ncol + 2, "field", "J", &st);
    for (long i = 1; i <= n; i++) {
        int rr = fo.rerun, ff = fo.field;
        fits_write_col(out, TINT, ncol + 1, i, 1, 1, &rr, &st);
        fits_write_col(out, TINT, ncol + 2, i, 1, 1, &ff, &st);
    }
    long rowlen = 0;
    fits_read_key(out, TLONG, "NAXIS1", &rowlen, NULL, &st);
    unsigned char *bytes = malloc((size_t)rowlen);
    assert_non_null(bytes);
    fits_read_tblbytes(out, 1, 1, rowlen, bytes, &st);
    fits_insert_rows(out, n, 2, &st);
    fits_write_tblbytes(out, n + 1, 1, rowlen, bytes, &st);
    fits_write_tblbytes(out, n + 2, 1, rowlen, bytes, &st);
    free(bytes);
    int cra = 0, cid = 0;
    fits_get_colnum(out, CASEINSEN, "ra", &cra, &st);
    fits_get_colnum(out, CASEINSEN, "objID", &cid, &st);
    double ra1 = 0;
    fits_read_col(out, TDOUBLE, cra, 1, 1, 1, NULL, &ra1, NULL, &st);
    double far = ra1 + 1.0;
    int field999 = 999;
    long long id1 = 7000000001LL, id2 = 7000000002LL;
    fits_write_col(out, TDOUBLE, cra, n + 1, 1, 1, &far, &st);
    fits_write_col(out, TLONGLONG, cid, n + 1, 1, 1, &id1, &st);
    fits_write_col(out, TINT, ncol + 2, n + 2, 1, 1, &field999, &st);
    fits_write_col(out, TLONGLONG, cid, n + 2, 1, 1, &id2, &st);
    fits_close_file(out, &st);
    fits_close_file(in, &st);
    assert_int_equal(st, 0);
    *ra_off = far;
    ids[0] = (uint64_t)id1;
    ids[1] = (uint64_t)id2;
}

static void test_shards_from_frames(void **state)
{
    (void)state;
    char export[4400], outdir[4400], log[4400], cmd[16000], shard[4600], shard1[4600];
    snprintf(export, sizeof export, "%s/export.fits", dir);
    snprintf(outdir, sizeof outdir, "%s/shards", dir);
    snprintf(log, sizeof log, "%s/cli.log", dir);
    double far;
    uint64_t bad_ids[2];
    write_export(export, &far, bad_ids);
    assert_true(ngal > 20);

    /* the engine's own cutouts: which truth rows lie on the frames */
    gp_frame *gri[3];
    for (int b = 0; b < 3; b++) {
        char kind[16], path[4300];
        snprintf(kind, sizeof kind, "frame-%c", "gri"[b]);
        field_path(kind, path, sizeof path);
        gp_error err;
        assert_int_equal(gp_frame_open_file(path, &gri[b], &err), GP_OK);
    }
    float *want_px = malloc(sizeof(float) * GP_CUTOUT_PIXELS), *got = malloc(sizeof(float) * GP_CUTOUT_PIXELS);
    assert_non_null(want_px);
    assert_non_null(got);
    long nok = 0;
    {
        fitsfile *f = NULL;
        int st = 0, cra, cdec;
        fits_open_table(&f, export, READONLY, &st);
        fits_get_colnum(f, CASEINSEN, "ra", &cra, &st);
        fits_get_colnum(f, CASEINSEN, "dec", &cdec, &st);
        for (long i = 1; i <= ngal; i++) {
            double ra, dec;
            fits_read_col(f, TDOUBLE, cra, i, 1, 1, NULL, &ra, NULL, &st);
            fits_read_col(f, TDOUBLE, cdec, i, 1, 1, NULL, &dec, NULL, &st);
            gp_error err;
            nok += gp_cutout_gri(gri, ra, dec, want_px, NULL, &err) == GP_OK;
        }
        fits_close_file(f, &st);
        assert_int_equal(st, 0);
    }
    assert_true(nok > 20 && nok <= ngal);

    /* shards of 16: several shards, the last one partial */
    snprintf(cmd, sizeof cmd, "-t '%s' --frames '%s' -o '%s' --shard-size 16", export, dir, outdir);
    assert_int_equal(run(cmd, log), 0);
    char want[128];
    snprintf(want, sizeof want, "%ld of %ld galaxies", nok, ngal + 2);
    assert_true(file_contains(log, want));
    char slog[4500];
    snprintf(slog, sizeof slog, "%s/shards.log", outdir);
    char frow[64];
    snprintf(frow, sizeof frow, "row %ld: left out", ngal + 1);   /* off the frames */
    assert_true(file_contains(slog, frow));
    snprintf(frow, sizeof frow, "row %ld: left out: no frames", ngal + 2);
    assert_true(file_contains(slog, frow));
    assert_true(file_contains(slog, "-0999: no g frame"));

    /* every plane against the engine's cutout of the same frames */
    const char *paths[16];
    char names[16][4600];
    long total = 0;
    int nshards = 0;
    for (int k = 0; k < 16; k++) {
        snprintf(names[k], sizeof names[k], "%s/shard-%05d.fits", outdir, k);
        FILE *t = fopen(names[k], "rb");
        if (!t) break;
        fclose(t);
        paths[nshards++] = names[k];
        fitsfile *f = NULL;
        int st = 0, naxis = 0;
        long naxes[4] = { 0 }, ngk = 0, first = -1, nrows = 0;
        char fmt[80] = "", origin[80] = "", bands[80] = "";
        fits_open_file(&f, names[k], READONLY, &st);
        fits_get_img_param(f, 4, NULL, &naxis, naxes, &st);
        fits_read_key(f, TLONG, "NGAL", &ngk, NULL, &st);
        fits_read_key(f, TLONG, "FIRSTIDX", &first, NULL, &st);
        fits_read_key(f, TSTRING, "GPFORMAT", fmt, NULL, &st);
        fits_read_key(f, TSTRING, "ORIGIN", origin, NULL, &st);
        fits_read_key(f, TSTRING, "BANDS", bands, NULL, &st);
        assert_int_equal(st, 0);
        assert_int_equal(naxis, 4);
        assert_true(naxes[0] == GP_CUTOUT_SIZE && naxes[1] == GP_CUTOUT_SIZE && naxes[2] == 3);
        assert_int_equal(naxes[3], ngk);
        assert_int_equal(first, total);
        assert_string_equal(fmt, "galpost-train-1");
        assert_string_equal(origin, "SDSS");
        assert_string_equal(bands, "gri");
        assert_true(ngk == 16 || k > 0);
        fits_movnam_hdu(f, BINARY_TBL, "GALAXIES", 0, &st);
        fits_get_num_rows(f, &nrows, &st);
        assert_int_equal(nrows, ngk);
        int cra, cdec, cid, cfield, ncol = 0;
        fits_get_colnum(f, CASEINSEN, "ra", &cra, &st);
        fits_get_colnum(f, CASEINSEN, "dec", &cdec, &st);
        fits_get_colnum(f, CASEINSEN, "objID", &cid, &st);
        fits_get_colnum(f, CASEINSEN, "field", &cfield, &st);   /* the export's own columns travel */
        fits_get_num_cols(f, &ncol, &st);
        assert_int_equal(st, 0);
        assert_true(ncol > 40);
        for (long i = 1; i <= nrows; i++) {
            double ra, dec;
            long long id;
            fits_read_col(f, TDOUBLE, cra, i, 1, 1, NULL, &ra, NULL, &st);
            fits_read_col(f, TDOUBLE, cdec, i, 1, 1, NULL, &dec, NULL, &st);
            fits_read_col(f, TLONGLONG, cid, i, 1, 1, NULL, &id, NULL, &st);
            assert_int_equal(st, 0);
            assert_true((uint64_t)id != bad_ids[0] && (uint64_t)id != bad_ids[1]);
            gp_error err;
            uint32_t flags = 0;
            assert_int_equal(gp_cutout_gri(gri, ra, dec, want_px, &flags, &err), GP_OK);
            fits_movabs_hdu(f, 1, NULL, &st);
            fits_read_img(f, TFLOAT, (long long)(i - 1) * GP_CUTOUT_PIXELS + 1, GP_CUTOUT_PIXELS, NULL, got, NULL, &st);
            assert_int_equal(st, 0);
            assert_memory_equal(got, want_px, sizeof(float) * GP_CUTOUT_PIXELS);
            fits_movnam_hdu(f, BINARY_TBL, "GALAXIES", 0, &st);
        }
        total += nrows;
        fits_close_file(f, &st);
    }
    assert_int_equal(total, nok);
    assert_true(nshards >= 2);
    snprintf(shard, sizeof shard, "%s/shard-%05d.fits.partial", outdir, 0);
    assert_true(fopen(shard, "rb") == NULL);   /* no partial file left */
    for (int b = 0; b < 3; b++) gp_frame_close(gri[b]);

    /* the same shards from one thread (the run above used all CPUs) */
    snprintf(cmd, sizeof cmd, "-t '%s' --frames '%s' -o '%s/one' --shard-size 16 --threads 1", export, dir, dir);
    assert_int_equal(run(cmd, log), 0);
    for (int k = 0; k < nshards; k++) {
        snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s/one/shard-%05d.fits'", names[k], dir, k);
        assert_int_equal(system(cmd), 0);
    }

    /* the shards are a training data set with images */
    gp_dataset *d = NULL;
    gp_error err;
    assert_int_equal(gp_dataset_open(paths, nshards, GP_DATASET_IMAGES, &d, &err), GP_OK);
    assert_int_equal(d->n, nok);
    long row0 = 0;
    assert_int_equal(gp_dataset_read_images(d, &row0, 1, got, &err), GP_OK);
    gp_dataset_close(d);

    /* --list-frames: only the absent field's three frames */
    snprintf(cmd, sizeof cmd, "-t '%s' --frames '%s' --list-frames", export, dir);
    assert_int_equal(run(cmd, log), 0);
    snprintf(want, sizeof want, "/eboss/photoObj/frames/%d/%d/%d/frame-g-%06d-%d-0999.fits.bz2", fo.rerun, fo.run,
             fo.camcol, fo.run, fo.camcol);
    assert_true(file_contains(log, "https://data.sdss.org/sas/dr17"));
    assert_true(file_contains(log, want));
    assert_true(file_contains(log, "3 frames to fetch"));
    snprintf(want, sizeof want, "-%04d.fits.bz2", fo.field);
    assert_false(file_contains(log, want));
    /* without --frames, every frame */
    snprintf(cmd, sizeof cmd, "-t '%s' --list-frames --release dr16", export);
    assert_int_equal(run(cmd, log), 0);
    assert_true(file_contains(log, "6 frames to fetch"));
    assert_true(file_contains(log, "/sas/dr16/"));

    /* refusals */
    snprintf(cmd, sizeof cmd, "--frames '%s' -o '%s'", dir, outdir);
    assert_int_equal(run(cmd, log), 2);
    snprintf(cmd, sizeof cmd, "-t '%s' -o '%s'", export, outdir);
    assert_int_equal(run(cmd, log), 2);
    snprintf(cmd, sizeof cmd, "-t '%s/absent.fits' --frames '%s' -o '%s'", dir, dir, outdir);
    assert_int_equal(run(cmd, log), 1);
    assert_true(file_contains(log, "absent.fits"));
    char truth[4300];
    field_path("frame-r", truth, sizeof truth);   /* an image, no table */
    snprintf(cmd, sizeof cmd, "-t '%s' --frames '%s' -o '%s/s2'", truth, dir, dir);
    assert_int_equal(run(cmd, log), 1);
    /* frames elsewhere: nothing to write, an error, no shard */
    snprintf(cmd, sizeof cmd, "-t '%s' --frames '%s/shards' -o '%s/s3'", export, dir, dir);
    assert_int_equal(run(cmd, log), 1);
    snprintf(shard1, sizeof shard1, "%s/s3/shard-00000.fits", dir);
    assert_true(fopen(shard1, "rb") == NULL);
    free(want_px);
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_shards_from_frames) };
    return cmocka_run_group_tests(tests, setup, teardown);
}
