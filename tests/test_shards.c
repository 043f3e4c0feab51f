/*
 * test_shards.c: `galpost shards` builds training shards from an SDSS-like
 * export and the frames of its fields, run as a real process on real files.
 *
 * Two mock fields (frames with WCS and truth tables, `galpost mock field`)
 * stand in for downloaded SDSS fields; the export is their truth tables with
 * the rerun and field columns a CasJobs export has, plus two rows that
 * cannot be cut: one off the frames, one in a field whose frames are absent.
 * Checked:
 *  - exactly the rows the engine can cut are written, in field order, and
 *    each plane equals the engine's own cutout of its field's frames at the
 *    row's position (bit for bit);
 *  - the table rows travel with their planes (objID), every export column
 *    is kept, the header keys of sim/FORMAT.md are set, no checksum of the
 *    export is carried over, the printed shard count is the files';
 *  - one thread and all CPUs write the same bytes (the two fields cut in
 *    parallel); a shard size of exactly the galaxies gives one shard;
 *  - each row's cutout_flags is the cutout code's flags (some cutouts of
 *    the mock fields cross a frame edge);
 *  - the shards read as a training data set (gp_dataset_open with images)
 *    and `galpost train` trains an image model on them, its log counting the
 *    edge cutouts, `galpost eval` counts them among its test galaxies and
 *    `galpost infer --shard` gives their results the edge flag (1);
 *    the export itself (no cutout_flags: unknown) trains the photometry-only
 *    model;
 *  - the two bad rows are left out and named in shards.log;
 *  - --list-frames prints the SAS addresses of the absent field's frames
 *    only; bad arguments and a directory holding shards are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <dirent.h>
#include <sys/wait.h>

#include <fitsio.h>

#include "galpost/gp_image.h"
#include "galpost/gp_model.h"
#include "gp_dataset.h"
#include "image_fixture.h"

#define NFIELD 2
static char *dir;
static struct { int run, camcol, field, rerun; long ngal; } fo[NFIELD];
static const int field_no[NFIELD] = { 100, 101 };

/* A field file: kind "frame-g", "truth", ... */
static void field_path(int k, const char *kind, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s-%06d-%d-%04d.fits", dir, kind, fo[k].run, fo[k].camcol, fo[k].field);
}

/* `galpost mock field` writes the frames, photoObj and truth of a field. */
static int setup(void **state)
{
    (void)state;
    dir = fx_tmpdir();
    if (!dir) return -1;
    const char *top = getenv("GP_TOP_BUILDDIR");
    for (int k = 0; k < NFIELD; k++) {
        char cmd[8300];
        snprintf(cmd, sizeof cmd, "'%s/galpost' mock field --seed %d --field %d -o '%s' >/dev/null 2>&1",
                 top ? top : ".", 5 + k, field_no[k], dir);
        if (system(cmd) != 0) { fprintf(stderr, "galpost mock field failed\n"); return -1; }
        fo[k].field = -1;
        DIR *d = opendir(dir);
        struct dirent *e;
        int run, camcol, field;
        while (d && (e = readdir(d)))
            if (sscanf(e->d_name, "frame-g-%6d-%1d-%4d.fits", &run, &camcol, &field) == 3 && field == field_no[k]) {
                fo[k].run = run;
                fo[k].camcol = camcol;
                fo[k].field = field;
            }
        if (d) closedir(d);
        if (fo[k].field < 0) return -1;
        char path[4300], name[4400];
        field_path(k, "frame-r", path, sizeof path);
        fitsfile *f = NULL;
        int st = 0;
        fits_open_file(&f, path, READONLY, &st);
        if (fits_read_key(f, TINT, "RERUN", &fo[k].rerun, NULL, &st)) { st = 0; fo[k].rerun = 301; }
        fits_close_file(f, &st);
        field_path(k, "truth", path, sizeof path);
        snprintf(name, sizeof name, "%s[GALAXIES]", path);
        st = 0;
        fits_open_file(&f, name, READONLY, &st);
        fits_get_num_rows(f, &fo[k].ngal, &st);
        fits_close_file(f, &st);
        if (st) return -1;
    }
    return 0;
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

static long lines_containing(const char *path, const char *text)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[8192];
    long n = 0;
    while (fgets(line, sizeof line, f)) n += strstr(line, text) != NULL;
    fclose(f);
    return n;
}

static int exists(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f) fclose(f);
    return f != NULL;
}

/* The export: both fields' truth tables with rerun and field columns (and
 * a checksum, as astropy or CasJobs may write), then two more rows copied
 * from row 1: one moved 1 degree east (off the frames), one to field 999
 * (no frames).  Returns the row count. */
static long write_export(const char *path, uint64_t ids[2])
{
    fitsfile *in = NULL, *out = NULL;
    int st = 0, ncol = 0;
    char name[4500], outname[4500], truth[4300];
    snprintf(outname, sizeof outname, "!%s", path);
    fits_create_file(&out, outname, &st);
    fits_create_img(out, BYTE_IMG, 0, NULL, &st);
    long n = 0;
    for (int k = 0; k < NFIELD; k++) {
        field_path(k, "truth", truth, sizeof truth);
        snprintf(name, sizeof name, "%s[GALAXIES]", truth);
        fits_open_file(&in, name, READONLY, &st);
        if (k == 0) {
            fits_copy_hdu(in, out, 0, &st);
            fits_get_num_cols(out, &ncol, &st);
            fits_insert_col(out, ncol + 1, "rerun", "J", &st);
            fits_insert_col(out, ncol + 2, "field", "J", &st);
        } else {
            /* the same layout without the two columns: copy the rows byte by byte */
            long rowlen = 0, nin = 0;
            fits_read_key(in, TLONG, "NAXIS1", &rowlen, NULL, &st);
            fits_get_num_rows(in, &nin, &st);
            unsigned char *bytes = malloc((size_t)rowlen);
            assert_non_null(bytes);
            fits_insert_rows(out, n, nin, &st);
            for (long i = 1; i <= nin && !st; i++) {
                fits_read_tblbytes(in, i, 1, rowlen, bytes, &st);
                fits_write_tblbytes(out, n + i, 1, rowlen, bytes, &st);
            }
            free(bytes);
        }
        long n1 = 0;
        fits_get_num_rows(out, &n1, &st);
        for (long i = n + 1; i <= n1; i++) {
            int rr = fo[k].rerun, ff = fo[k].field;
            fits_write_col(out, TINT, ncol + 1, i, 1, 1, &rr, &st);
            fits_write_col(out, TINT, ncol + 2, i, 1, 1, &ff, &st);
        }
        n = n1;
        fits_close_file(in, &st);
        assert_int_equal(st, 0);
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
    fits_write_chksum(out, &st);
    fits_close_file(out, &st);
    assert_int_equal(st, 0);
    ids[0] = (uint64_t)id1;
    ids[1] = (uint64_t)id2;
    return n + 2;
}

/* Shard files of outdir (up to 64), in order; returns their count. */
static int list_shards(const char *outdir, char names[][4600])
{
    int n = 0;
    while (n < 64) {
        snprintf(names[n], 4600, "%s/shard-%05d.fits", outdir, n);
        if (!exists(names[n])) break;
        n++;
    }
    return n;
}

static void test_shards_from_frames(void **state)
{
    (void)state;
    char export[4400], outdir[4400], log[4400], cmd[16000], want[256];
    snprintf(export, sizeof export, "%s/export.fits", dir);
    snprintf(outdir, sizeof outdir, "%s/shards", dir);
    snprintf(log, sizeof log, "%s/cli.log", dir);
    uint64_t bad_ids[2];
    long nrows = write_export(export, bad_ids);

    /* the engine's own cutouts: which rows lie on their field's frames */
    gp_frame *gri[NFIELD][3];
    for (int k = 0; k < NFIELD; k++)
        for (int b = 0; b < 3; b++) {
            char kind[16], path[4300];
            snprintf(kind, sizeof kind, "frame-%c", "gri"[b]);
            field_path(k, kind, path, sizeof path);
            gp_error err;
            assert_int_equal(gp_frame_open_file(path, &gri[k][b], &err), GP_OK);
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
        for (long i = 1; i <= fo[0].ngal + fo[1].ngal; i++) {
            double ra, dec;
            fits_read_col(f, TDOUBLE, cra, i, 1, 1, NULL, &ra, NULL, &st);
            fits_read_col(f, TDOUBLE, cdec, i, 1, 1, NULL, &dec, NULL, &st);
            gp_error err;
            nok += gp_cutout_gri(gri[i > fo[0].ngal], ra, dec, want_px, NULL, &err) == GP_OK;
        }
        fits_close_file(f, &st);
        assert_int_equal(st, 0);
    }
    assert_true(nok > 40);

    /* shards of 16: several shards, the last one partial */
    snprintf(cmd, sizeof cmd, "-t '%s' --frames '%s' -o '%s' --shard-size 16", export, dir, outdir);
    assert_int_equal(run(cmd, log), 0);
    char names[64][4600];
    int nshards = list_shards(outdir, names);
    assert_int_equal(nshards, (nok + 15) / 16);
    snprintf(want, sizeof want, "%ld of %ld galaxies in %d shards", nok, nrows, nshards);
    assert_true(file_contains(log, want));
    /* shards.log names the export's rows as every message names a row,
     * "TABLE: row N", counted from 1 (the last two of nrows are the bad ones) */
    char slog[4500], frow[4700];
    snprintf(slog, sizeof slog, "%s/shards.log", outdir);
    snprintf(frow, sizeof frow, "# galpost shards: rows are rows of %s, counted from 1\n", export);
    assert_true(file_contains(slog, frow));
    snprintf(frow, sizeof frow, "%s: row %ld: left out", export, nrows - 1);   /* off the frames */
    assert_true(file_contains(slog, frow));
    snprintf(frow, sizeof frow, "%s: row %ld: left out: no frames", export, nrows);
    assert_true(file_contains(slog, frow));
    assert_true(file_contains(slog, "-0999: no g frame"));

    /* every plane against the engine's cutout of its field's frames */
    long total = 0, nedge = 0, nedge0 = 0;   /* cutouts crossing a frame edge, all and in shard 0 */
    const char *paths[64];
    for (int k = 0; k < nshards; k++) {
        paths[k] = names[k];
        fitsfile *f = NULL;
        int st = 0, naxis = 0;
        long naxes[4] = { 0 }, ngk = 0, first = -1, nr = 0;
        char fmt[80] = "", origin[80] = "", bands[80] = "", sum[80] = "";
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
        assert_true(ngk == 16 || k == nshards - 1);
        fits_movnam_hdu(f, BINARY_TBL, "GALAXIES", 0, &st);
        fits_get_num_rows(f, &nr, &st);
        assert_int_equal(nr, ngk);
        assert_int_equal(fits_read_key(f, TSTRING, "CHECKSUM", sum, NULL, &st), KEY_NO_EXIST);
        st = 0;
        fits_clear_errmsg();
        int cra, cdec, cid, cfield, cflags, ncol = 0;
        fits_get_colnum(f, CASEINSEN, "cutout_flags", &cflags, &st);   /* what the cutout code said */
        fits_get_colnum(f, CASEINSEN, "ra", &cra, &st);
        fits_get_colnum(f, CASEINSEN, "dec", &cdec, &st);
        fits_get_colnum(f, CASEINSEN, "objID", &cid, &st);
        fits_get_colnum(f, CASEINSEN, "field", &cfield, &st);   /* the export's own columns travel */
        fits_get_num_cols(f, &ncol, &st);
        assert_int_equal(st, 0);
        assert_true(ncol > 40);
        for (long i = 1; i <= nr; i++) {
            double ra, dec;
            long long id;
            int field, cf = -1;
            fits_read_col(f, TINT, cflags, i, 1, 1, NULL, &cf, NULL, &st);
            fits_read_col(f, TDOUBLE, cra, i, 1, 1, NULL, &ra, NULL, &st);
            fits_read_col(f, TDOUBLE, cdec, i, 1, 1, NULL, &dec, NULL, &st);
            fits_read_col(f, TLONGLONG, cid, i, 1, 1, NULL, &id, NULL, &st);
            fits_read_col(f, TINT, cfield, i, 1, 1, NULL, &field, NULL, &st);
            assert_int_equal(st, 0);
            assert_true((uint64_t)id != bad_ids[0] && (uint64_t)id != bad_ids[1]);
            assert_true(field == field_no[0] || field == field_no[1]);
            gp_error err;
            uint32_t flags = 0;
            assert_int_equal(gp_cutout_gri(gri[field == field_no[1]], ra, dec, want_px, &flags, &err), GP_OK);
            fits_movabs_hdu(f, 1, NULL, &st);
            fits_read_img(f, TFLOAT, (long long)(i - 1) * GP_CUTOUT_PIXELS + 1, GP_CUTOUT_PIXELS, NULL, got, NULL, &st);
            assert_int_equal(st, 0);
            assert_memory_equal(got, want_px, sizeof(float) * GP_CUTOUT_PIXELS);
            assert_int_equal(cf, (int)(flags & (GP_FLAG_EDGE | GP_FLAG_MASKED | GP_FLAG_RESAMPLED)));
            nedge += (flags & GP_FLAG_EDGE) != 0;
            if (k == 0) nedge0 += (flags & GP_FLAG_EDGE) != 0;
            fits_movnam_hdu(f, BINARY_TBL, "GALAXIES", 0, &st);
        }
        total += nr;
        fits_close_file(f, &st);
        char partial[4700];
        snprintf(partial, sizeof partial, "%.4600s.partial", names[k]);
        assert_false(exists(partial));
    }
    assert_int_equal(total, nok);
    assert_true(nedge > 0 && nedge < nok);   /* the mock fields have galaxies near their edges */
    /* each listed in shards.log, by its export row counted from 1 */
    assert_int_equal(lines_containing(slog, ": cutout crosses the frame edge (filled from mirror images)"), nedge);
    {
        char rowof[4600];
        snprintf(rowof, sizeof rowof, "%s: row ", export);
        assert_int_equal(lines_containing(slog, rowof), nedge + (nrows - nok));   /* and the rows left out */
    }
    for (int k = 0; k < NFIELD; k++)
        for (int b = 0; b < 3; b++) gp_frame_close(gri[k][b]);

    /* the same bytes from one thread (the run above used all CPUs) */
    snprintf(cmd, sizeof cmd, "-t '%s' --frames '%s' -o '%s/one' --shard-size 16 --threads 1", export, dir, dir);
    assert_int_equal(run(cmd, log), 0);
    for (int k = 0; k < nshards; k++) {
        snprintf(cmd, sizeof cmd, "cmp -s '%.4600s' '%s/one/shard-%05d.fits'", names[k], dir, k);
        assert_int_equal(system(cmd), 0);
    }
    /* a shard size of exactly the galaxies: one shard, said so */
    snprintf(cmd, sizeof cmd, "-t '%s' --frames '%s' -o '%s/exact' --shard-size %ld", export, dir, dir, nok);
    assert_int_equal(run(cmd, log), 0);
    snprintf(want, sizeof want, "%ld of %ld galaxies in 1 shard in", nok, nrows);
    assert_true(file_contains(log, want));
    char exact[64][4600];
    snprintf(cmd, sizeof cmd, "%s/exact", dir);
    assert_int_equal(list_shards(cmd, exact), 1);

    /* the shards are a training data set with images */
    gp_dataset *d = NULL;
    gp_error err;
    assert_int_equal(gp_dataset_open(paths, nshards, GP_DATASET_IMAGES, &d, &err), GP_OK);
    assert_int_equal(d->n, nok);
    long row0 = 0;
    assert_int_equal(gp_dataset_read_images(d, &row0, 1, got, &err), GP_OK);
    assert_int_equal(d->ncutout_edge, nedge);   /* cutout_flags read, counted, the rows kept */
    assert_int_equal(d->ncutout_unknown, 0);
    assert_int_equal(d->nbad_rows, 0);
    gp_dataset_close(d);
    /* a table without cutout_flags (the export; shards written before the column): unknown */
    const char *ex[1] = { export };
    assert_int_equal(gp_dataset_open(ex, 1, 0, &d, &err), GP_OK);
    assert_int_equal(d->ncutout_unknown, d->n);
    assert_int_equal(d->ncutout_edge, 0);
    assert_int_equal(d->cutout_flags[0], -1);
    gp_dataset_close(d);

    /* the whole real-data path: the image model trains on the shards, the
     * photometry-only model on the export as it is (its first binary table) */
    const char *top = getenv("GP_TOP_BUILDDIR");
    char tcmd[20000], tlog[4600];
    snprintf(tlog, sizeof tlog, "%s/train.log", dir);
    snprintf(tcmd, sizeof tcmd, "'%s/galpost' train -o '%s/img.gpw' -w '%s/img.work' --vae-count 40 --vae-epochs 1 "
             "--ensemble 1 --flow-epochs 1 --threads 1 --enc-channels 4,8,8 --latent 8 --trunk 32,16 --head-hidden 16 "
             "--flow-hidden 16 --couplings 2 '%s'/shard-*.fits >'%s' 2>&1", top ? top : ".", dir, dir, outdir, tlog);
    assert_int_equal(system(tcmd), 0);
    snprintf(want, sizeof want, "data: %ld rows in %d shards", nok, nshards);
    assert_true(file_contains(tlog, want));
    snprintf(want, sizeof want, "cutouts: %ld rows crossing a frame edge", nedge);
    assert_true(file_contains(tlog, want));
    snprintf(want, sizeof want, "%s/img.work/train.log", dir);
    assert_true(file_contains(want, "cutouts: "));
    /* galpost eval counts its test galaxies with padded cutouts, and gives each its edge flag */
    snprintf(tcmd, sizeof tcmd, "'%s/galpost' eval -m '%s/img.gpw' -o '%s/eval' --no-baselines --samples 20 --threads 1 "
             "'%s'/shard-*.fits >'%s' 2>&1", top ? top : ".", dir, dir, outdir, tlog);
    assert_int_equal(system(tcmd), 0);
    {
        char rep[4600], csv[4600], line[8192];
        snprintf(rep, sizeof rep, "%s/eval/report.md", dir);
        snprintf(csv, sizeof csv, "%s/eval/galaxies.csv", dir);
        FILE *f = fopen(csv, "r");
        assert_non_null(f);
        long ntest = -1, nflag = 0;   /* rows and rows with flag bit 1 (flags is the last but one column) */
        while (fgets(line, sizeof line, f)) {
            char *last = strrchr(line, ','), *prev;
            ntest++;
            if (!last || ntest == 0) continue;
            *last = 0;
            prev = strrchr(line, ',');
            nflag += prev && (strtoul(prev + 1, NULL, 10) & GP_FLAG_EDGE);
        }
        fclose(f);
        assert_true(ntest > 0);
        snprintf(want, sizeof want, "crossing a frame edge (the shards' cutout_flags; evaluated as they are): %ld of %ld test",
                 nflag, ntest);
        assert_true(file_contains(rep, want));
    }
    /* galpost infer over the first shard: the padded cutouts' results carry the edge flag */
    snprintf(tcmd, sizeof tcmd, "'%s/galpost' infer --model '%s/img.gpw' --samples 20 --threads 1 -o '%s/post.fits' "
             "--shard '%s/shard-00000.fits' >'%s' 2>&1", top ? top : ".", dir, dir, outdir, tlog);
    {
        char post[4600];
        snprintf(post, sizeof post, "%s/post.fits[1]", dir);
        assert_int_equal(system(tcmd), 0);
        fitsfile *f = NULL;
        int st = 0, cf = 0;
        long nr = 0, n1 = 0;
        fits_open_file(&f, post, READONLY, &st);
        fits_get_num_rows(f, &nr, &st);
        fits_get_colnum(f, CASEINSEN, "flags", &cf, &st);
        for (long i = 1; i <= nr && !st; i++) {
            int fl = 0;
            fits_read_col(f, TINT, cf, i, 1, 1, NULL, &fl, NULL, &st);
            n1 += (fl & GP_FLAG_EDGE) != 0;
        }
        fits_close_file(f, &st);
        assert_int_equal(st, 0);
        assert_int_equal(nr, 16);
        assert_true(nedge0 > 0);
        assert_int_equal(n1, nedge0);
    }
    snprintf(tcmd, sizeof tcmd, "'%s/galpost' train --photometry -o '%s/phot.gpw' -w '%s/phot.work' --vae-count 20 "
             "--ensemble 1 --flow-epochs 1 --threads 1 '%s' >'%s' 2>&1", top ? top : ".", dir, dir, export, tlog);
    assert_int_equal(system(tcmd), 0);
    snprintf(want, sizeof want, "data: %ld rows in 1 shard", nrows);
    assert_true(file_contains(tlog, want));

    /* a directory holding shards is refused (they would be trained on with these) */
    snprintf(cmd, sizeof cmd, "-t '%s' --frames '%s' -o '%s' --shard-size 1000", export, dir, outdir);
    assert_int_equal(run(cmd, log), 1);
    assert_true(file_contains(log, "already holds shard files"));

    /* --list-frames: only the absent field's three frames */
    snprintf(cmd, sizeof cmd, "-t '%s' --frames '%s' --list-frames", export, dir);
    assert_int_equal(run(cmd, log), 0);
    snprintf(want, sizeof want, "/eboss/photoObj/frames/%d/%d/%d/frame-g-%06d-%d-0999.fits.bz2", fo[0].rerun,
             fo[0].run, fo[0].camcol, fo[0].run, fo[0].camcol);
    assert_true(file_contains(log, "https://data.sdss.org/sas/dr17"));
    assert_true(file_contains(log, want));
    assert_true(file_contains(log, "3 frames to fetch"));
    snprintf(want, sizeof want, "-%04d.fits.bz2", fo[0].field);
    assert_false(file_contains(log, want));
    /* without --frames, every frame */
    snprintf(cmd, sizeof cmd, "-t '%s' --list-frames --release dr16", export);
    assert_int_equal(run(cmd, log), 0);
    assert_true(file_contains(log, "9 frames to fetch"));
    assert_true(file_contains(log, "/sas/dr16/"));

    /* refusals */
    snprintf(cmd, sizeof cmd, "--frames '%s' -o '%s/r1'", dir, dir);
    assert_int_equal(run(cmd, log), 2);
    snprintf(cmd, sizeof cmd, "-t '%s' -o '%s/r2'", export, dir);
    assert_int_equal(run(cmd, log), 2);
    snprintf(cmd, sizeof cmd, "-t '%s/absent.fits' --frames '%s' -o '%s/r3'", dir, dir, dir);
    assert_int_equal(run(cmd, log), 1);
    assert_true(file_contains(log, "absent.fits"));
    char image[4300];
    field_path(0, "frame-r", image, sizeof image);   /* an image, no table */
    snprintf(cmd, sizeof cmd, "-t '%s' --frames '%s' -o '%s/r4'", image, dir, dir);
    assert_int_equal(run(cmd, log), 1);
    /* frames elsewhere: nothing to write, an error, no shard */
    snprintf(cmd, sizeof cmd, "-t '%s' --frames '%s/one' -o '%s/r5'", export, dir, dir);
    assert_int_equal(run(cmd, log), 1);
    assert_true(file_contains(log, "nothing written"));
    snprintf(cmd, sizeof cmd, "%s/r5/shard-00000.fits", dir);
    assert_false(exists(cmd));
    free(want_px);
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_shards_from_frames) };
    return cmocka_run_group_tests(tests, setup, teardown);
}
