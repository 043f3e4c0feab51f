/*
 * cli_shards.c: `galpost shards`, training shards (sim/FORMAT.md) from a
 * real SDSS export and the SDSS frames of its fields.
 *
 *   galpost shards -t EXPORT.fits --frames DIR -o OUTDIR [--shard-size N]
 *       every row of the export (a CasJobs table with objID, ra, dec, run,
 *       camcol, field and the columns of sim/FORMAT.md) gets its g, r, i
 *       cutout, cut through each band's own WCS by the engine's cutout code
 *       (the one DS9 clicks use); rows and cutouts go to OUTDIR/shard-NNNNN.fits
 *       in field order, each row with its cutout's flags (cutout_flags: 1
 *       crosses a frame edge, 2 masked, 4 resampled); rows whose frames are
 *       missing or whose centre is off them are left out and listed in
 *       OUTDIR/shards.log (by their row in the export, counted from 1).
 *   galpost shards -t EXPORT.fits --list-frames [--frames DIR]
 *       prints the SAS address of every frame the export needs (those not
 *       yet in DIR), one per line, for `wget -i`.
 *
 * Frames are looked for as DIR/frame-B-RRRRRR-C-FFFF.fits[.bz2], in
 * DIR/RRRRRR-C-FFFF/ and in DIR/RUN/CAMCOL/ (the SAS layout).
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <fitsio.h>

#include "galpost/gp_image.h"
#include "galpost/gp_model.h"
#include "cli/gp_cli.h"
#include "gp_fits_util.h"
#include "gp_parallel.h"
#include "gp_shard_write.h"

#define SAS_FRAMES "https://data.sdss.org/sas/%s/eboss/photoObj/frames/%d/%d/%d/frame-%c-%06d-%d-%04d.fits.bz2"


static void usage(FILE *f)
{
    fprintf(f,
        "usage: galpost shards -t EXPORT.fits --frames DIR -o OUTDIR [--shard-size N]\n"
        "       galpost shards -t EXPORT.fits --list-frames [--frames DIR] [--release R]\n"
        "  Training shards (sim/FORMAT.md) from a real SDSS export (the CasJobs query of\n"
        "  sim/FORMAT.md, downloaded as FITS) and the SDSS frames of its fields: each\n"
        "  galaxy's g, r, i cutout is cut through each band's WCS, north up.\n"
        "options:\n"
        "  -t, --table FILE   the export (its first binary table; needs objID, ra, dec,\n"
        "                     run, camcol, field; rerun optional, 301)\n"
        "  --frames DIR       where the frame-{g,r,i}-RRRRRR-C-FFFF.fits[.bz2] files are\n"
        "                     (directly, in RRRRRR-C-FFFF/ or in RUN/CAMCOL/)\n"
        "  -o, --output DIR   shards are written there as shard-NNNNN.fits\n"
        "  --shard-size N     galaxies per shard (5000)\n"
        "  --threads T        fields cut at once (0: all CPUs); the shards do not depend on it\n"
        "  --list-frames      print the SAS address of each frame not found in DIR\n"
        "  --release R        data release of those addresses (dr17)\n");
}

/* One export row: where it is and which field's frames hold it. */
typedef struct shard_row {
    long   row;             /* 1-based table row */
    double ra, dec;
    long   run, rerun, camcol, field;
} shard_row;

static int cmp_field(const void *a, const void *b)
{
    const shard_row *x = a, *y = b;
    if (x->run != y->run) return x->run < y->run ? -1 : 1;
    if (x->camcol != y->camcol) return x->camcol < y->camcol ? -1 : 1;
    if (x->field != y->field) return x->field < y->field ? -1 : 1;
    return x->row < y->row ? -1 : x->row > y->row;
}

static int same_field(const shard_row *a, const shard_row *b)
{
    return a->run == b->run && a->camcol == b->camcol && a->field == b->field;
}

/* cfitsio's failure `status` on stderr, after the printf-style context. */
#define FITS_REPORT(status, ...) do { gp_error e_; gp_fits_fail(&e_, (status), __VA_ARGS__); \
        fprintf(stderr, "galpost shards: %s\n", e_.msg); } while (0)

/* Reads the position and field columns of the export's first binary table. */
static int read_table(const char *path, fitsfile **out, shard_row **rows, long *nrows)
{
    fitsfile *f = NULL;
    int st = 0;
    if (fits_open_table(&f, path, READONLY, &st)) {
        FITS_REPORT(st, "%s: cannot open as a FITS table", path);
        st = 0;
        if (f) fits_close_file(f, &st);   /* (cfitsio leaves a file without a table open) */
        return 1;
    }
    long n = 0, pcount = 0;
    fits_get_num_rows(f, &n, &st);
    if (!st && !fits_read_key(f, TLONG, "PCOUNT", &pcount, NULL, &st) && pcount > 0) {
        fprintf(stderr, "galpost shards: %s: variable-length columns (PCOUNT %ld) are not supported\n", path, pcount);
        fits_close_file(f, &st);
        return 1;
    }
    static const char *const need[6] = { "objID", "ra", "dec", "run", "camcol", "field" };
    int col[7] = { 0 };
    for (int k = 0; k < 6 && !st; k++) {
        char name[32];
        snprintf(name, sizeof name, "%s", need[k]);
        if (fits_get_colnum(f, CASEINSEN, name, &col[k], &st)) {
            fprintf(stderr, "galpost shards: %s: no '%s' column\n", path, need[k]);
            fits_close_file(f, &st);
            return 1;
        }
    }
    {
        int s2 = 0;
        if (fits_get_colnum(f, CASEINSEN, "rerun", &col[6], &s2)) { col[6] = 0; fits_clear_errmsg(); }
    }
    shard_row *r = calloc((size_t)(n ? n : 1), sizeof *r);
    double *v = malloc(sizeof(double) * (size_t)(n ? n : 1));
    if (!r || !v) {
        free(r); free(v);
        fits_close_file(f, &st);
        fprintf(stderr, "galpost shards: out of memory for %ld rows\n", n);
        return 1;
    }
    for (long i = 0; i < n; i++) { r[i].row = i + 1; r[i].rerun = 301; }
    for (int k = 1; k < 7 && !st; k++) {
        if (!col[k]) continue;
        double nul = NAN;
        int any = 0;
        fits_read_col(f, TDOUBLE, col[k], 1, 1, n, &nul, v, &any, &st);
        for (long i = 0; i < n && !st; i++) {
            switch (k) {
            case 1: r[i].ra = v[i]; break;
            case 2: r[i].dec = v[i]; break;
            case 3: r[i].run = isfinite(v[i]) ? (long)v[i] : -1; break;
            case 4: r[i].camcol = isfinite(v[i]) ? (long)v[i] : -1; break;
            case 5: r[i].field = isfinite(v[i]) ? (long)v[i] : -1; break;
            case 6: r[i].rerun = isfinite(v[i]) ? (long)v[i] : 301; break;
            }
        }
    }
    free(v);
    if (st) {
        FITS_REPORT(st, "%s: cannot read the table", path);
        free(r);
        st = 0;
        fits_close_file(f, &st);
        return 1;
    }
    *out = f;
    *rows = r;
    *nrows = n;
    return 0;
}

/* The path of a field's frame in dir, or 0 when none of the layouts has it. */
static int find_frame(const char *dir, const shard_row *r, char band, char *buf, size_t n)
{
    char name[64];
    snprintf(name, sizeof name, "frame-%c-%06ld-%ld-%04ld.fits", band, r->run, r->camcol, r->field);
    for (int s = 0; s < 3; s++) {   /* DIR/, DIR/RRRRRR-C-FFFF/, DIR/RUN/CAMCOL/ */
        char d[64] = "";
        if (s == 1) snprintf(d, sizeof d, "%06ld-%ld-%04ld/", r->run, r->camcol, r->field);
        if (s == 2) snprintf(d, sizeof d, "%ld/%ld/", r->run, r->camcol);
        for (int z = 0; z < 2; z++) {
            snprintf(buf, n, "%s/%s%s%s", dir, d, name, z ? ".bz2" : "");
            if (access(buf, R_OK) == 0) return 1;
        }
    }
    return 0;
}

static int list_frames(const shard_row *r, long n, const char *dir, const char *release)
{
    long listed = 0;
    for (long i = 0; i < n; i++) {
        if (i > 0 && same_field(&r[i], &r[i - 1])) continue;
        if (r[i].run < 0 || r[i].camcol < 1 || r[i].camcol > 6 || r[i].field < 0) continue;
        for (const char *b = "gri"; *b; b++) {
            char path[4200];
            if (dir && find_frame(dir, &r[i], *b, path, sizeof path)) continue;
            printf(SAS_FRAMES "\n", release, (int)r[i].rerun, (int)r[i].run, (int)r[i].camcol, *b, (int)r[i].run,
                   (int)r[i].camcol, (int)r[i].field);
            listed++;
        }
    }
    fprintf(stderr, "galpost shards: %ld frame%s to fetch\n", listed, listed == 1 ? "" : "s");
    return 0;
}

/* One shard being written: the cube grows plane by plane under a temporary
 * name; close_shard() sizes it, appends the rows and renames the file. */
typedef struct shard_out {
    fitsfile *f;
    char path[4200], tmp[4300];
    long ngal;
    long *rows;             /* table rows of its planes */
    int *cflags;            /* their cutouts' GP_FLAG_EDGE/MASKED/RESAMPLED bits */
} shard_out;

static int open_shard(shard_out *s, const char *outdir, long k, long first, long cap)
{
    int st = 0;
    snprintf(s->path, sizeof s->path, "%s/shard-%05ld.fits", outdir, k);
    snprintf(s->tmp, sizeof s->tmp, "!%s.partial", s->path);
    s->ngal = 0;
    gp_error err;
    /* sized for `cap` planes; close_shard() cuts it to those written */
    gp_shard_cube c = { "gri", GP_CUTOUT_SIZE, GP_PIXEL_SCALE, cap, first,
                        "SDSS", "SDSS frames cut by galpost shards", 0, "no seed: real data" };
    if (fits_create_file(&s->f, s->tmp, &st)) {
        FITS_REPORT(st, "%s: cannot create", s->tmp + 1);
        s->f = NULL;
        return 1;
    }
    if (gp_shard_cube_create(s->f, &c, s->tmp + 1, &err)) {
        fprintf(stderr, "galpost shards: %s\n", err.msg);
        int s2 = 0;
        fits_delete_file(s->f, &s2);
        s->f = NULL;
        return 1;
    }
    return 0;
}

static int close_shard(shard_out *s, fitsfile *table)
{
    int st = 0;
    long naxes[4] = { GP_CUTOUT_SIZE, GP_CUTOUT_SIZE, GP_CUTOUT_BANDS, s->ngal };
    fits_resize_img(s->f, FLOAT_IMG, 4, naxes, &st);
    fits_update_key(s->f, TLONG, "NGAL", &s->ngal, "galaxies in this shard", &st);
    /* the export's table layout, then its rows in plane order */
    fits_copy_header(table, s->f, &st);
    long zero = 0;
    fits_update_key(s->f, TLONG, "NAXIS2", &zero, NULL, &st);
    fits_update_key(s->f, TSTRING, "EXTNAME", "GALAXIES", "row k: plane k of the primary cube", &st);
    /* the export's checksums describe its own rows */
    for (const char *const *k = (const char *const[]){ "CHECKSUM", "DATASUM", NULL }; *k && !st; k++) {
        int s2 = 0;
        if (fits_delete_key(s->f, *k, &s2)) fits_clear_errmsg();
    }
    fits_set_hdustruc(s->f, &st);
    for (long i = 0; i < s->ngal && !st; i++) fits_copy_rows(table, s->f, s->rows[i], 1, &st);
    /* what the cutout code said of each plane (sim/FORMAT.md: cutout_flags), so
     * that train and eval can count the cutouts crossing a frame edge; an
     * export that already has the column gets this run's values */
    int col = 0;
    if (!st) {
        int s2 = 0;
        if (fits_get_colnum(s->f, CASEINSEN, "cutout_flags", &col, &s2)) {
            fits_clear_errmsg();
            fits_get_num_cols(s->f, &col, &st);
            col++;
            fits_insert_col(s->f, col, "cutout_flags", "1J", &st);
            char key[16];
            snprintf(key, sizeof key, "TTYPE%d", col);
            fits_modify_comment(s->f, key, "cutout: 1 crosses a frame edge, 2 masked, 4 resampled", &st);
        }
    }
    if (!st && s->ngal) fits_write_col(s->f, TINT, col, 1, 1, s->ngal, s->cflags, &st);
    const char *tmp = s->tmp + 1;
    fits_close_file(s->f, &st);
    s->f = NULL;
    if (st) {
        FITS_REPORT(st, "%s: cannot write", tmp);
        unlink(tmp);
        return 1;
    }
    if (rename(tmp, s->path) != 0) {
        fprintf(stderr, "galpost shards: cannot rename %s to %s: %s\n", tmp, s->path, strerror(errno));
        unlink(tmp);
        return 1;
    }
    return 0;
}

/* A block of whole fields cut in parallel, one field per thread at a time
 * (each thread opens its field's frames: a gp_frame is not thread-safe);
 * the results are written in row order afterwards, so the shards do not
 * depend on the number of threads. */
#define BLOCK_ROWS 512
#define CUT_MSG    1024   /* as gp_error.msg */
enum { CUT_OK = 0, CUT_NO_FRAMES = 1, CUT_OFF = 2, CUT_ERROR = 3 };
typedef struct cut_block {
    const shard_row *r;       /* the block's first row */
    const long *field0;       /* nf + 1 offsets of the fields' first rows */
    const char *dir;
    float *cut;               /* rows x GP_CUTOUT_PIXELS */
    int *status;
    uint32_t *flags;
    char (*msg)[CUT_MSG];
} cut_block;

static void cut_fields(void *ctx, size_t begin, size_t end)
{
    cut_block *c = ctx;
    for (size_t f = begin; f < end; f++) {
        long a = c->field0[f], b = c->field0[f + 1];
        const shard_row *row = &c->r[a];
        gp_frame *gri[3] = { NULL, NULL, NULL };
        char why[CUT_MSG] = "";
        for (int k = 0; k < 3 && !*why; k++) {
            char path[4200];
            gp_error err;
            if (!find_frame(c->dir, row, "gri"[k], path, sizeof path))
                snprintf(why, sizeof why, "no %c frame in %s", "gri"[k], c->dir);
            else if (gp_frame_open_file(path, &gri[k], &err))
                snprintf(why, sizeof why, "%s", err.msg);
        }
        for (long i = a; i < b; i++) {
            c->flags[i] = 0;
            if (*why) { c->status[i] = CUT_NO_FRAMES; snprintf(c->msg[i], sizeof c->msg[i], "%s", why); continue; }
            gp_error err;
            int st = gp_cutout_gri(gri, c->r[i].ra, c->r[i].dec, c->cut + (size_t)i * GP_CUTOUT_PIXELS,
                                   &c->flags[i], &err);
            /* GP_ERR_DATA: the centre is off the frames or most pixels are not finite */
            c->status[i] = st == GP_OK ? CUT_OK : st == GP_ERR_DATA ? CUT_OFF : CUT_ERROR;
            if (st) snprintf(c->msg[i], sizeof c->msg[i], "%s", err.msg);
        }
        for (int k = 0; k < 3; k++) gp_frame_close(gri[k]);
    }
}

static int build(const shard_row *r, long n, fitsfile *table, const char *tpath, const char *dir, const char *outdir,
                 long shard_size, int threads)
{
    char logpath[4200];
    snprintf(logpath, sizeof logpath, "%s/shards.log", outdir);
    FILE *log = fopen(logpath, "w");
    if (!log) { fprintf(stderr, "galpost shards: %s: cannot write: %s\n", logpath, strerror(errno)); return 1; }
    /* the rows named here are the export's, counted from 1 as a person counts
     * them (and as FITS does), named "TABLE: row N" as every galpost message
     * names a row */
    fprintf(log, "# galpost shards: rows are rows of %s, counted from 1\n", tpath);
    shard_out s = { 0 };
    s.rows = malloc(sizeof(long) * (size_t)shard_size);
    s.cflags = malloc(sizeof(int) * (size_t)shard_size);
    float *cut = malloc(sizeof(float) * GP_CUTOUT_PIXELS * BLOCK_ROWS);
    int *status = malloc(sizeof(int) * BLOCK_ROWS);
    uint32_t *flags = malloc(sizeof(uint32_t) * BLOCK_ROWS);
    char (*msg)[CUT_MSG] = malloc(sizeof *msg * BLOCK_ROWS);
    long *field0 = malloc(sizeof(long) * (BLOCK_ROWS + 1));
    int rc = 1, tty = gp_cli_is_terminal();
    long written = 0, nshard = 0, no_frames = 0, off = 0, failed = 0, edge = 0, done = 0;
    time_t t0 = time(NULL);
    if (!cut || !s.rows || !s.cflags || !status || !flags || !msg || !field0) { fprintf(stderr, "galpost shards: out of memory\n"); goto out; }
    gp_cli_signals saved;
    gp_cli_interrupts_catch(&saved);
    while (done < n && !gp_cli_interrupted) {
        /* whole fields, up to BLOCK_ROWS rows (a larger field alone) */
        long nb = 0, nf = 0;
        while (done + nb < n) {
            long e = done + nb + 1;
            while (e < n && same_field(&r[e], &r[done + nb])) e++;
            if (nb > 0 && e - done > BLOCK_ROWS) break;
            field0[nf++] = nb;
            nb = e - done;
            if (nb >= BLOCK_ROWS) break;
        }
        field0[nf] = nb;
        if (nb > BLOCK_ROWS) {   /* one field of more rows than a block: cut it in pieces of one field */
            float *c2 = realloc(cut, sizeof(float) * GP_CUTOUT_PIXELS * (size_t)nb);
            int *s2 = realloc(status, sizeof(int) * (size_t)nb);
            uint32_t *f2 = realloc(flags, sizeof(uint32_t) * (size_t)nb);
            char (*m2)[CUT_MSG] = realloc(msg, sizeof *msg * (size_t)nb);
            if (c2) cut = c2;
            if (s2) status = s2;
            if (f2) flags = f2;
            if (m2) msg = m2;
            if (!c2 || !s2 || !f2 || !m2) { fprintf(stderr, "galpost shards: out of memory for a field of %ld rows\n", nb); goto out; }
        }
        cut_block cb = { r + done, field0, dir, cut, status, flags, msg };
        (void)gp_parallel_dynamic(threads, (size_t)nf, cut_fields, &cb);
        for (long i = 0; i < nb; i++) {
            const shard_row *row = &r[done + i];
            if (status[i] == CUT_NO_FRAMES) {
                if (i == 0 || !same_field(row, row - 1))
                    fprintf(log, "field %06ld-%ld-%04ld: %s\n", row->run, row->camcol, row->field, msg[i]);
                fprintf(log, "%s: row %ld: left out: no frames\n", tpath, row->row);
                no_frames++;
                continue;
            }
            if (status[i] != CUT_OK) {
                fprintf(log, "%s: row %ld: left out: %s\n", tpath, row->row, msg[i]);
                if (status[i] == CUT_OFF) off++;
                else failed++;
                continue;
            }
            if (flags[i] & GP_FLAG_EDGE) {
                fprintf(log, "%s: row %ld: cutout crosses the frame edge (filled from mirror images)\n", tpath, row->row);
                edge++;
            }
            if (!s.f && open_shard(&s, outdir, nshard, written, shard_size)) goto out;
            long long fpix = (long long)s.ngal * GP_CUTOUT_PIXELS + 1;
            int st = 0;
            if (fits_write_img(s.f, TFLOAT, fpix, GP_CUTOUT_PIXELS, cut + (size_t)i * GP_CUTOUT_PIXELS, &st)) {
                FITS_REPORT(st, "%s: cannot write", s.tmp + 1);
                goto out;
            }
            s.cflags[s.ngal] = (int)(flags[i] & (GP_FLAG_EDGE | GP_FLAG_MASKED | GP_FLAG_RESAMPLED));
            s.rows[s.ngal++] = row->row;
            written++;
            if (s.ngal == shard_size) {
                if (close_shard(&s, table)) goto out;
                nshard++;
            }
        }
        done += nb;
        if (tty) {
            double el = difftime(time(NULL), t0);
            fprintf(stderr, "\rgalpost shards: %ld/%ld rows, %ld written  %.0f rows/s   ", done, n, written,
                    el > 0 ? done / el : 0.0);
        }
    }
    gp_cli_interrupts_restore(&saved);
    if (tty) fprintf(stderr, "\n");
    if (gp_cli_interrupted) { fprintf(stderr, "galpost shards: interrupted; the complete shards stay, the current one is removed\n"); goto out; }
    if (s.f) {
        if (close_shard(&s, table)) goto out;
        nshard++;
    }
    fprintf(stderr, "galpost shards: %ld of %ld galaxies in %ld shard%s in %s (%ld left out: %ld without frames, "
            "%ld off their frames or with unusable pixels, %ld failed; %ld crossing a frame edge; see %s)\n", written,
            n, nshard, nshard == 1 ? "" : "s", outdir, no_frames + off + failed, no_frames, off, failed, edge, logpath);
    if (failed) fprintf(stderr, "galpost shards: %ld cutouts failed (errors other than the position: see %s)\n", failed, logpath);
    rc = written > 0 ? 0 : 1;
    if (!written) fprintf(stderr, "galpost shards: no galaxy could be cut: nothing written\n");
out:
    if (s.f) { int st = 0; fits_delete_file(s.f, &st); }
    free(cut); free(status); free(flags); free(msg); free(field0);
    free(s.rows); free(s.cflags);
    fclose(log);
    return rc;
}

int gp_cli_shards(int argc, char **argv)
{
    static const struct option opts[] = {
        {"table", required_argument, 0, 't'}, {"frames", required_argument, 0, 'F'},
        {"output", required_argument, 0, 'o'}, {"shard-size", required_argument, 0, 'n'},
        {"list-frames", no_argument, 0, 'l'}, {"release", required_argument, 0, 'R'},
        {"threads", required_argument, 0, 'T'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *table = NULL, *dir = NULL, *outdir = NULL, *release = "dr17";
    long shard_size = 5000, threads = 0;
    int list = 0, c, shard_size_given = 0, release_given = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "ht:o:", opts, NULL)) != -1) {
        switch (c) {
        case 't': table = optarg; break;
        case 'F': dir = optarg; break;
        case 'o': outdir = optarg; break;
        case 'n':
            shard_size_given = 1;
            if (gp_cli_parse_int(optarg, 1, 1000000, &shard_size)) {
                fprintf(stderr, "galpost shards: --shard-size must be 1..1000000, got '%s'\n", optarg);
                return 2;
            }
            break;
        case 'l': list = 1; break;
        case 'T':
            if (gp_cli_parse_int(optarg, 0, 256, &threads)) {
                fprintf(stderr, "galpost shards: --threads must be 0..256, got '%s'\n", optarg);
                return 2;
            }
            break;
        case 'R': release = optarg; release_given = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) { fprintf(stderr, "galpost shards: unexpected argument '%s'\n", argv[optind]); return 2; }
    if (!table) { fprintf(stderr, "galpost shards: -t EXPORT.fits is required\n"); usage(stderr); return 2; }
    if (!list && (!dir || !outdir)) { fprintf(stderr, "galpost shards: give --frames DIR and -o OUTDIR (or --list-frames)\n"); return 2; }
    if (list && outdir) { fprintf(stderr, "galpost shards: -o does not go with --list-frames (the addresses go to standard output)\n"); return 2; }
    if (list && shard_size_given) { fprintf(stderr, "galpost shards: --shard-size does not go with --list-frames\n"); return 2; }
    if (!list && release_given) { fprintf(stderr, "galpost shards: --release goes with --list-frames\n"); return 2; }
    /* a mistyped frames directory would leave every galaxy out "without frames" */
    struct stat sb;
    if (dir && stat(dir, &sb) != 0) {
        fprintf(stderr, "galpost shards: --frames %s: %s\n", dir, errno == ENOENT ? "no such directory" : strerror(errno));
        return 1;
    }
    if (dir && !S_ISDIR(sb.st_mode)) { fprintf(stderr, "galpost shards: --frames %s is not a directory\n", dir); return 1; }
    if (!list) {
        /* the log is the one output with a fixed name that an input could have */
        char logpath[4200];
        snprintf(logpath, sizeof logpath, "%s/shards.log", outdir);
        int rc = gp_cli_output_clash("shards", "-o DIR (its shards.log)", logpath, "-t", table);
        if (rc) return rc;
        gp_error err;
        if (gp_outdir_ready(outdir, "galpost shards", &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        /* shards of an earlier run would be trained on with these (shard-*.fits) */
        DIR *d = opendir(outdir);
        struct dirent *e;
        int old = 0;
        while (d && (e = readdir(d)))
            if (!strncmp(e->d_name, "shard-", 6) && strstr(e->d_name, ".fits")) old = 1;
        if (d) closedir(d);
        if (old) {
            fprintf(stderr, "galpost shards: %s already holds shard files: remove them or choose another directory\n", outdir);
            return 1;
        }
    }
    fitsfile *f = NULL;
    shard_row *r = NULL;
    long n = 0;
    if (read_table(table, &f, &r, &n)) return 1;
    qsort(r, (size_t)n, sizeof *r, cmp_field);
    int rc = list ? list_frames(r, n, dir, release) : build(r, n, f, table, dir, outdir, shard_size,
                                                               threads > 0 ? (int)threads : gp_cpu_count());
    int st = 0;
    fits_close_file(f, &st);
    free(r);
    return rc;
}
