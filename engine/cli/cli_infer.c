/*
 * cli_infer.c: `galpost infer`, posterior inference from the command line.
 *
 *   galpost infer [options] --cutout FILE.fits [--mags U,G,R,I,Z]
 *       one galaxy: a 160x160x3 gri cutout (magnitudes from --mags or the
 *       cutout's MAG_U..MAG_Z keywords); prints the summary table or JSON.
 *   galpost infer [options] --frames F1,F2,F3[,...] --ra RA --dec DEC
 *       [--mags U,G,R,I,Z | --catalog FILE]
 *       one galaxy on SDSS-like frames with WCS (bands from FILTER or the
 *       file name; g, r and i needed): each band is cut at (RA, Dec)
 *       through its own WCS; colours from --mags, a catalogue, or measured
 *       on u, g, r, i, z frames when all five are given.
 *   galpost infer [options] --frames U,G,R,I,Z --positions LIST -o OUT.fits
 *       the galaxies at the positions of a list (ra, dec[, objID]) on one
 *       set of frames, in batch: each as the one-galaxy --frames run
 *       measures and infers it (colours measured on the five frames).
 *   galpost infer [options] --shard FILE [--shard FILE ...] --row K
 *       one galaxy of a catalogue in the training format (sim/FORMAT.md).
 *   galpost infer [options] --shard FILE [--shard FILE ...] -o OUT.fits
 *       a whole catalogue in batch: a FITS table of summaries (and samples
 *       with --keep-samples), written in constant memory under a temporary
 *       name and renamed when complete; progress on a terminal.
 *   galpost infer [options] --catalog FILE -o OUT.fits
 *       every row of a photometric catalogue (CSV or FITS, PhotoObj
 *       columns) in batch, magnitudes only: the photometry-only model.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "galpost/gp_fits.h"
#include "galpost/gp_image.h"
#include "galpost/gp_model.h"
#include "cli/cli_common.h"
#include "cli/cli_infer_progress.h"
#include "cli/cli_positions.h"
#include "cli/cli_shard_why.h"
#include "cpu/gp_cpu.h"
#include "gp_hash.h"
#include "cli/gp_cli.h"
#include "gp_json.h"
#include "gp_dataset.h"
#include "gp_derived.h"

#define MAX_SHARDS GP_DATASET_MAX_SHARDS


static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: galpost infer [options] --cutout FILE.fits [--mags U,G,R,I,Z]\n"
        "       galpost infer [options] --frames G,R,I[,U,Z] --ra RA --dec DEC [--mags ...|--catalog F]\n"
        "       galpost infer [options] --frames U,G,R,I,Z --positions LIST -o OUT.fits\n"
        "       galpost infer [options] --shard FILE [--shard FILE...] --row K\n"
        "       galpost infer [options] --shard FILE [--shard FILE...] -o OUT.fits\n"
        "       galpost infer [options] --catalog FILE -o OUT.fits\n"
        "\n"
        "one galaxy:\n"
        "  --cutout FILE     160x160x3 FITS cube of g, r, i planes in nanomaggies\n"
        "  --mags U,G,R,I,Z  extinction-corrected ugriz model magnitudes (AB);\n"
        "                    default: the cutout's MAG_U..MAG_Z keywords\n"
        "  --id N            galaxy id keying the sampler (default: OBJID or 1 for a\n"
        "                    cutout, the position for frames, objID for a catalogue)\n"
        "one galaxy on frames with WCS (SDSS frame-*.fits, .fits.bz2 too):\n"
        "  --frames F,...    the g, r, i (and optionally u, z) frames; band from the\n"
        "                    FILTER keyword or the file name\n"
        "  --ra RA --dec DEC ICRS position: degrees, or h:m:s d:m:s\n"
        "  --catalog FILE    colours from a photometric catalogue (PhotoObj columns,\n"
        "                    FITS or CSV) matched within 2 arcsec; without --mags or\n"
        "                    --catalog, magnitudes are measured on the u..z frames\n"
        "  --zeropoint ZP    AB zero point of frames in counts whose header has none:\n"
        "                    one for all bands, or BAND=ZP,... (g=27.1,r=27,i=26.8)\n"
        "many galaxies on the same frames, in batch (-o, --keep-samples, --batch,\n"
        "--restart as for --shard below):\n"
        "  --positions F     CSV or FITS table (ra, dec[, objID]) or DS9 region file\n"
        "                    (fk5/icrs/galactic/fk4 centres); '-': standard input;\n"
        "                    each galaxy measured and cut as one\n"
        "                    --frames --ra --dec run does it (the five frames needed);\n"
        "                    ids: objID, else the position (as without --id)\n"
        "a catalogue (the training format of sim/FORMAT.md: cutout cube + table):\n"
        "  --shard FILE      a shard; repeat for several (up to 256)\n"
        "  --row K           infer row K (from 1, over all shards in order) and print it\n"
        "  -o, --output F    batch: write a FITS table of summaries to F\n"
        "  --keep-samples N  batch: also store N samples per galaxy (HDU SAMPLES)\n"
        "  --batch B         galaxies per inference call (default 64; 1024 on a GPU)\n"
        "  --restart         batch: discard an interrupted run's rows (OUT.fits.partial)\n"
        "                    and start over; without it the same command resumes\n"
        "a photometric catalogue (PhotoObj columns, FITS or CSV), every row in batch:\n"
        "  --catalog FILE -o OUT.fits   magnitudes only, so the photometry-only model\n"
        "                    (default: $GALPOST_PHOTOMETRY_MODEL or the installed one);\n"
        "                    ids from the objID column, else the row number\n"
        "options:\n"
        "  -m, --model FILE  weights file (default: $GALPOST_MODEL or the installed model)\n"
        "  --samples N       posterior samples (default 1000)\n"
        "  --seed S          sampler seed (default 1)\n"
        "  --threads T       CPU threads (default: all CPUs)\n"
        "  --backend B       auto, cpu or cuda (default auto)\n"
        "  --json            one galaxy: print the summary as JSON\n"
        "  --samples-out F   one galaxy: write the samples as text (one row per sample)\n"
        "an output that is one of the inputs, or an option the input does not use, is\n"
        "refused (exit 2)\n");
}

/* One galaxy's result as JSON: the magnitudes it was given and where they came
 * from, the input checks, the quantities, BPT and the derived line diagnostics. */
static void print_json(const gp_result *r, const char *model, const float mag[5], const char *source,
                       const char *pixels, FILE *f)
{
    const gp_summary *s = &r->summary;
    fprintf(f, "{\"id\": %llu", (unsigned long long)r->id);
    /* the position (degrees, 1e-8: 0.04 mas), null where the input has none */
    const double pos[2] = { r->ra, r->dec };
    for (int k = 0; k < 2; k++) {
        fprintf(f, k ? ", \"dec\": " : ", \"ra\": ");
        if (isfinite(pos[k])) fprintf(f, "%.8f", pos[k]);
        else fputs("null", f);
    }
    fprintf(f, ", \"model\": ");
    gp_json_str(f, model);
    /* frames in counts: what was done to their pixels (gp_frame_pixels_note) */
    if (pixels && *pixels) {
        fprintf(f, ", \"pixels\": ");
        gp_json_str(f, pixels);
    }
    fprintf(f, ", \"nsamples\": %d, \"flags\": %u, \"magnitudes\": {\"ugriz\": [", r->nsamples, r->flags);
    for (int b = 0; b < 5; b++) { if (b) fprintf(f, ", "); gp_json_num(f, mag[b]); }
    fprintf(f, "], \"source\": ");
    gp_json_str(f, source);
    fprintf(f, "}, ");
    gp_json_checks(f, r, ", ");
    fprintf(f, ", ");
    /* the line quantities are log10(1 + F) as in the FITS tables (LINEUNIT), not
     * the fluxes of the text summary */
    fprintf(f, "\"line_unit\": \"log10(1+F), F in 1e-17 erg/s/cm2\", ");
    fprintf(f, "\"quantities\": {");
    for (int q = 0; q < GP_NQ; q++) {
        fprintf(f, "%s\"%s\": {\"median\": %.6g, \"p16\": %.6g, \"p84\": %.6g, \"mean\": %.6g, \"std\": %.6g",
                q ? ", " : "", gp_quantity_name(q), s->median[q], s->p16[q], s->p84[q], s->mean[q], s->std[q]);
        /* a line's 68% interval, from 0 (an upper limit) where F <= 0 is 16% likely or more */
        if (q >= GP_Q_HALPHA)
            fprintf(f, ", \"lo68\": %.6g, \"hi68\": %.6g, \"p_zero\": %.6g", s->lo68[q], s->hi68[q], s->p_zero[q]);
        fprintf(f, "}");
    }
    fprintf(f, "}, ");
    gp_json_corr(f, s, "");
    fprintf(f, ", \"p_detect\": %.6g, ", s->p_detect);
    gp_json_bpt(f, s);   /* (as in the plug-in's summary json) */
    /* the derived diagnostics by the FITS tables' names and units (gp_derived.h) */
    fprintf(f, ", \"derived\": {");
    for (int k = 0; k < GP_NDERIVED; k++) {
        const gp_stat *d = gp_derived_stat(s, k);
        fprintf(f, "%s\"%s\": {\"median\": ", k ? ", " : "", gp_derived_name(k));
        gp_json_num(f, d->median);
        gp_json_member(f, "p16", d->p16);
        gp_json_member(f, "p84", d->p84);
        fprintf(f, ", \"n\": %d, \"unit\": ", d->n);
        gp_json_str(f, gp_derived_unit(k));
        fprintf(f, "}");
    }
    fprintf(f, "}}\n");
}

/* A photometry-only model given an image: say once that it is not used. */
static void image_unused_note(gp_model *m, const char *what)
{
    if (!gp_model_uses_image(m))
        fprintf(stderr, "galpost infer: note: %s is a photometry-only model: %s not used, only the magnitudes\n",
                gp_model_path(m), what);
}

static int write_samples(const gp_result *r, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) { fprintf(stderr, "galpost infer: cannot write --samples-out %s: %s\n", path, strerror(errno)); return 1; }
    fprintf(f, "#");
    for (int q = 0; q < GP_NQ; q++) fprintf(f, " %s", gp_quantity_name(q));
    fprintf(f, "\n");
    for (int i = 0; i < r->nsamples; i++) {
        for (int q = 0; q < GP_NQ; q++) fprintf(f, "%s%.7g", q ? " " : "", r->samples[i * GP_NQ + q]);
        fprintf(f, "\n");
    }
    errno = 0;
    int bad = fflush(f) ? errno : ferror(f) ? EIO : 0;
    if (fclose(f) && !bad) bad = errno ? errno : EIO;
    if (bad) {
        fprintf(stderr, "galpost infer: error writing --samples-out %s: %s\n", path, strerror(bad));
        unlink(path);   /* (not a half-written file that looks complete) */
        return 1;
    }
    return 0;
}

/* What measured colours are, for the one galaxy's source and a --positions
 * batch's PHOTNOTE. */
#define MEASURED_SOURCE "measured on the frames (6\" aperture, local sky; NOT extinction-corrected)"

/* The frames of a --frames list by band (NULL where none was given): each
 * file opened, its band told (FILTER or the file name), --zeropoint
 * applied; g, r and i are needed, and u and z too when `need_all` names why
 * (the colours are measured on the frames).  0, 1 (an error) or 2 (a band
 * missing: a usage error, as every missing input is), with the reason on
 * stderr; what was opened is in band[] either way, for frames_close(). */
static int frames_open(const char *list, const double zeropoint[GP_NBANDS], const char *need_all,
                       gp_frame *band[GP_NBANDS])
{
    gp_error err;
    char buf[8192], *save = NULL;
    for (int b = 0; b < GP_NBANDS; b++) band[b] = NULL;
    if (strlen(list) >= sizeof buf) { fprintf(stderr, "galpost infer: --frames list too long\n"); return 2; }
    strcpy(buf, list);
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        gp_frame *f;
        if (gp_frame_open_file(tok, &f, &err)) { fprintf(stderr, "galpost infer: %s\n", err.msg); return 1; }
        int b = gp_frame_band(f);
        if (b < 0 || b >= GP_NBANDS) {
            fprintf(stderr, "galpost infer: %s: cannot tell its band (no FILTER keyword, no band in the file name)\n", tok);
            gp_frame_close(f);
            return 1;
        }
        if (band[b]) {
            fprintf(stderr, "galpost infer: two %s frames: %s and %s\n", gp_band_name(b), gp_frame_name(band[b]), tok);
            gp_frame_close(f);
            return 1;
        }
        band[b] = f;
        /* --zeropoint: for frames in counts whose header has none */
        if (gp_frame_set_zeropoint(f, zeropoint[b], "--zeropoint", &err)) {
            fprintf(stderr, "galpost infer: %s\n", err.msg);
            return 1;
        }
    }
    /* a band the input needs and --frames lacks is a usage error (exit 2),
     * like every other missing input: g, r and i always, u and z when the
     * colours are measured on the frames */
    for (int k = 0; k < 3; k++)
        if (!band[GP_BAND_G + k]) {
            fprintf(stderr, "galpost infer: no %c frame among --frames (g, r and i are needed)\n", "gri"[k]);
            return 2;
        }
    for (int b = 0; b < GP_NBANDS && need_all; b++)
        if (!band[b]) {
            fprintf(stderr, "galpost infer: no %s frame among --frames: measured colours need u, g, r, i and z "
                    "frames%s\n", gp_band_name(b), need_all);
            return 2;
        }
    return 0;
}

static void frames_close(gp_frame *band[GP_NBANDS])
{
    for (int b = 0; b < GP_NBANDS; b++) { gp_frame_close(band[b]); band[b] = NULL; }
}

/* A galaxy's colours measured on the five frames at (ra, dec), into g->mag
 * with GP_FLAG_PHOT_MEASURED; nonzero with why[] set when they cannot be:
 * "colours: REASON (...)", asking whether a galaxy is there unless the
 * pixels there are masked or off the frame (the reason says so), and
 * adding `alt` (other sources of magnitudes) when not NULL. */
static int frames_measure(gp_frame *const band[GP_NBANDS], double ra, double dec, gp_galaxy *g,
                          const char *alt, char *why, size_t size)
{
    gp_error err;
    uint32_t pf = 0;
    if (gp_phot_magnitudes(band, ra, dec, NULL, g->mag, NULL, &pf, &err)) {
        int ask = !strstr(err.msg, " masked pixels ") && !strstr(err.msg, " off the frame edge ");
        if (ask || alt)
            snprintf(why, size, "colours: %s (%s%s%s)", err.msg, ask ? "is there a galaxy at this position?" : "",
                     ask && alt ? " " : "", alt ? alt : "");
        else
            snprintf(why, size, "colours: %s", err.msg);
        return 1;
    }
    g->flags |= GP_FLAG_PHOT_MEASURED;
    return 0;
}

/* One galaxy cut out of frames with WCS. */
static int infer_frames(gp_model *m, const char *list, double ra, double dec, const float *mags,
                        const char *catalog, uint64_t id, int nsamples, uint64_t seed, int json,
                        const char *samples_out, const double zeropoint[GP_NBANDS])
{
    gp_frame *band[GP_NBANDS];
    gp_catalog *cat = NULL;
    float *pix = NULL;
    gp_error err;
    int rc = frames_open(list, zeropoint, !mags && !catalog ? " (or give --mags or --catalog)" : NULL, band);
    if (rc) goto out;
    rc = 1;
    gp_frame *gri[3] = { band[GP_BAND_G], band[GP_BAND_R], band[GP_BAND_I] };
    pix = malloc(sizeof(float) * GP_CUTOUT_PIXELS);
    if (!pix) { fprintf(stderr, "galpost infer: out of memory\n"); goto out; }
    uint32_t flags = 0;
    if (gp_cutout_gri(gri, ra, dec, pix, &flags, &err)) { fprintf(stderr, "galpost infer: %s\n", err.msg); goto out; }
    gp_galaxy g = { id, pix, {0}, flags };
    const char *source;
    char srcbuf[5000];
    if (mags) {
        memcpy(g.mag, mags, sizeof g.mag);
        source = "command line";
    } else if (catalog) {
        gp_catalog_entry e;
        if (gp_catalog_open(catalog, &cat, &err)) { fprintf(stderr, "galpost infer: %s\n", err.msg); goto out; }
        /* rows that could not be read are never matched: say how many,
         * before the match (the galaxy may be one of them) and in the source */
        size_t first = 0, nbad = gp_catalog_unreadable(cat, &first);
        char unread[64] = "";
        if (nbad) {
            gp_catalog_entry fe;
            gp_error ferr;
            gp_catalog_row(cat, first, &fe, &ferr);
            fprintf(stderr, "galpost infer: %s: %zu row%s could not be read and %s not matched (the first: %s)\n",
                    catalog, nbad, nbad == 1 ? "" : "s", nbad == 1 ? "was" : "were", ferr.msg);
            snprintf(unread, sizeof unread, "; %zu unreadable row%s not matched", nbad, nbad == 1 ? "" : "s");
        }
        if (gp_catalog_match(cat, ra, dec, 2.0, &e, &err)) { fprintf(stderr, "galpost infer: %s\n", err.msg); goto out; }
        memcpy(g.mag, e.mag, sizeof g.mag);
        g.flags |= GP_FLAG_PHOT_CATALOG;
        /* the row as a person finds it: from 1, and a CSV file's line as an editor counts it */
        char where[64];
        gp_catalog_row_where(cat, e.row, where, sizeof where);
        snprintf(srcbuf, sizeof srcbuf, "catalogue %s: %s, %.2f\" away%s%s", catalog, where, e.sep,
                 gp_catalog_has_extinction(cat) ? ", extinction-corrected" : ", NOT extinction-corrected (no extinction columns)",
                 unread);
        source = srcbuf;
    } else {
        /* all five frames are there (checked above): the position is the
         * question, unless the pixels there are masked or off the frame */
        char why[sizeof srcbuf];
        if (frames_measure(band, ra, dec, &g, "magnitudes can also come from --mags or --catalog", why, sizeof why)) {
            fprintf(stderr, "galpost infer: %s\n", why);
            goto out;
        }
        source = MEASURED_SOURCE;
    }
    char pixels[4096];
    gp_frame_pixels_note(band, NULL, 1, pixels, sizeof pixels);
    gp_infer_options io = { nsamples, seed, samples_out != NULL };
    gp_result r;
    if (gp_infer(m, &g, 1, &io, &r, &err)) { fprintf(stderr, "galpost infer: %s\n", err.msg); goto out; }
    r.ra = ra;
    r.dec = dec;
    if (json) print_json(&r, gp_model_path(m), g.mag, source, pixels, stdout);
    else {
        printf("model: %s (%s%s)\n", gp_model_path(m), gp_model_backend_name(m),
               gp_model_is_trained(m) ? "" : ", UNTRAINED random weights");
        printf("input: RA %.6f Dec %+.6f; g %s, r %s, i %s", ra, dec, gp_frame_name(gri[0]),
               gp_frame_name(gri[1]), gp_frame_name(gri[2]));
        /* u and z too when given: the measured magnitudes came from them */
        for (int b = 0; b < GP_NBANDS; b++)
            if (band[b] && b != GP_BAND_G && b != GP_BAND_R && b != GP_BAND_I)
                printf(", %s %s", gp_band_name(b), gp_frame_name(band[b]));
        printf("\n");
        if (pixels[0]) printf("pixels: %s\n", pixels);
        printf("magnitudes u g r i z = %.3f %.3f %.3f %.3f %.3f (%s)\n", g.mag[0], g.mag[1], g.mag[2],
               g.mag[3], g.mag[4], source);
        gp_summary_print(&r, stdout);
    }
    rc = samples_out ? write_samples(&r, samples_out) : 0;
    gp_result_free(&r, 1);
out:
    frames_close(band);
    gp_catalog_close(cat);
    free(pix);
    return rc;
}

static int open_dataset(gp_model *m, const char **shards, int n, gp_dataset **d)
{
    gp_error err;
    int flags = GP_DATASET_NO_TARGETS | (gp_model_uses_image(m) ? GP_DATASET_IMAGES : 0);
    if (gp_dataset_open(shards, n, flags, d, &err)) {
        fprintf(stderr, "galpost infer: %s\n", err.msg);
        return 1;
    }
    return 0;
}

/* A shard row's cutout flags as galpost shards recorded them (cutout_flags,
 * sim/FORMAT.md; 0 when the shard has none), passed to the result as those
 * of a cutout galpost infer cuts itself. */
static uint32_t shard_cutout_flags(const gp_dataset *d, long r)
{
    int32_t cf = d->cutout_flags[r];
    return cf > 0 ? (uint32_t)cf & (GP_FLAG_EDGE | GP_FLAG_MASKED | GP_FLAG_RESAMPLED) : 0u;
}

static int infer_row(gp_model *m, const char **shards, int n, long row, int nsamples,
                     uint64_t seed, int json, const char *samples_out)
{
    gp_dataset *d;
    if (open_dataset(m, shards, n, &d)) return 1;
    int rc = 1;
    float *pix = NULL;
    gp_error err;
    if (row >= d->n) { fprintf(stderr, "galpost infer: --row %ld: the shards have %ld rows\n", row + 1, d->n); goto out; }
    if (d->bad[row]) {
        /* the shard, its row and the column */
        gp_cli_shard_rows *w = gp_cli_shard_why_new(d);
        char why[512];
        if (w) gp_cli_shard_why(w, row, why, sizeof why);
        fprintf(stderr, "galpost infer: %s\n", w ? why : "out of memory");
        gp_cli_shard_why_free(w);
        goto out;
    }
    gp_galaxy g = { d->id[row], NULL, {0}, 0 };
    memcpy(g.mag, d->mag + row * 5, sizeof g.mag);
    if (d->has_images) {
        g.flags = shard_cutout_flags(d, row);
        pix = malloc(sizeof(float) * GP_CUTOUT_PIXELS);
        if (!pix || gp_dataset_read_images(d, &row, 1, pix, &err)) {
            fprintf(stderr, "galpost infer: %s\n", pix ? err.msg : "out of memory");
            goto out;
        }
        g.cutout = pix;
    }
    gp_infer_options io = { nsamples, seed, samples_out != NULL };
    gp_result r;
    if (gp_infer(m, &g, 1, &io, &r, &err)) { fprintf(stderr, "galpost infer: %s\n", err.msg); goto out; }
    r.ra = d->ra[row];
    r.dec = d->dec[row];
    if (json) print_json(&r, gp_model_path(m), g.mag, "catalogue (training shard), extinction-corrected", NULL, stdout);
    else {
        printf("model: %s (%s%s)\n", gp_model_path(m), gp_model_backend_name(m),
               gp_model_is_trained(m) ? "" : ", UNTRAINED random weights");
        char where[4200];   /* with its line when the shard is CSV */
        gp_cli_shard_rows *wh = gp_cli_shard_why_new(d);
        if (wh) gp_cli_shard_where(wh, row, where, sizeof where);
        else gp_dataset_row_where(d, row, 0, where, sizeof where);
        gp_cli_shard_why_free(wh);
        printf("input: %s, objID %llu, magnitudes u g r i z = %.3f %.3f %.3f %.3f %.3f (catalogue, extinction-corrected)\n",
               where, (unsigned long long)g.id,
               g.mag[0], g.mag[1], g.mag[2], g.mag[3], g.mag[4]);
        gp_summary_print(&r, stdout);
        const float *t = d->target + row * GP_NQ;
        int any = 0;
        for (int q = 0; q < GP_NQ; q++) any |= isfinite(t[q]);
        if (any) {
            printf("  catalogue values:");
            for (int q = 0; q < GP_NQ; q++)
                if (isfinite(t[q]))   /* as the table has it: the flux F of a line, the redshift */
                    printf(" %s %.3f", gp_quantity_label(q),
                           q >= GP_Q_HALPHA ? gp_line_flux_of_target(t[q]) : gp_target_truth(q, t[q]));
            printf("\n");
        }
    }
    rc = samples_out ? write_samples(&r, samples_out) : 0;
    gp_result_free(&r, 1);
out:
    free(pix);
    gp_dataset_close(d);
    return rc;
}

/* Where a batch's galaxies come from: the rows of training-format shards
 * (magnitudes and, for an image model, cutouts), of a photometric
 * catalogue (magnitudes only), or of a list of positions on frames
 * (cutouts and colours measured on the frames). */
typedef struct batch_source {
    long n;                       /* rows, in output order */
    int  images;                  /* the galaxies need cutouts (read_images) */
    /* galaxy r's id and magnitudes; nonzero with why[] set for a row that
     * cannot be inferred (it is written as a failed row) */
    int  (*row)(void *ctx, long r, gp_galaxy *g, char *why, size_t size);
    int  (*read_images)(void *ctx, const long *rows, int n, float *pix, gp_error *err);
    void *ctx;
    const char *phot_note;        /* recorded as PHOTNOTE in the table (NULL: none) */
    const char *pixels_note;      /* recorded as PIXNOTE (NULL or "": none) */
    /* for the progress record (cli_infer_progress.h): the input as named
     * (failed rows' messages name it) and its content */
    const char *input_what;       /* how a user gives it */
    char input_names[512];
    char input_content[512];
    /* more settings a resumed run must share (the frames, the aperture) */
    gp_progress_setting extra[3];
    int nextra;
    /* row r's position (degrees) for the table's ra and dec; NaN where
     * unknown.  NULL: no positions */
    void (*position)(void *ctx, long r, double *ra, double *dec);
} batch_source;

/* A shard batch's rows, and why a failed one failed (its shard, row and
 * column: cli_shard_why.h) */
typedef struct shard_ctx {
    gp_dataset       *d;
    gp_cli_shard_rows *why;
} shard_ctx;

static int shard_row(void *ctx, long r, gp_galaxy *g, char *why, size_t size)
{
    const shard_ctx *c = ctx;
    const gp_dataset *d = c->d;
    g->id = d->id[r];
    g->flags = d->has_images ? shard_cutout_flags(d, r) : 0u;
    if (d->bad[r]) { gp_cli_shard_why(c->why, r, why, size); return 1; }
    memcpy(g->mag, d->mag + r * 5, sizeof g->mag);
    return 0;
}

static void shard_position(void *ctx, long r, double *ra, double *dec)
{
    const gp_dataset *d = ((shard_ctx *)ctx)->d;
    *ra = d->ra[r];
    *dec = d->dec[r];
}

static int shard_images(void *ctx, const long *rows, int n, float *pix, gp_error *err)
{
    return gp_dataset_read_images(((shard_ctx *)ctx)->d, rows, n, pix, err);
}

/* A catalogue row's galaxy: its objID (or its 1-based row number when the
 * catalogue has none) and its extinction-corrected magnitudes.  A failed
 * row keeps its objID when its cell can be read; when the catalogue has an
 * objID column but that cell cannot be read, its message says that the id
 * is the row number (first, so that the table's message column keeps it). */
static int catalog_galaxy(void *ctx, long r, gp_galaxy *g, char *why, size_t size)
{
    const gp_catalog *c = ctx;
    gp_catalog_entry e;
    gp_error err;
    int st = gp_catalog_row(c, (size_t)r, &e, &err);
    g->id = e.objid ? e.objid : (uint64_t)r + 1;
    g->flags = 0;
    g->cutout = NULL;
    if (st && !e.objid && gp_catalog_has_objid(c)) {
        snprintf(why, size, "no readable objID: id %ld is the row number (from 1); %s", r + 1, err.msg);
        return 1;
    }
    if (st) { snprintf(why, size, "%s", err.msg); return 1; }
    memcpy(g->mag, e.mag, sizeof g->mag);
    return 0;
}

static void catalog_position(void *ctx, long r, double *ra, double *dec)
{
    gp_catalog_entry e;
    gp_error err;
    (void)gp_catalog_row(ctx, (size_t)r, &e, &err);   /* (a failed row's position where it has one) */
    *ra = e.ra;
    *dec = e.dec;
}

/* GP_INFER_TEST_STOP=WHERE (tests only: tests/test_infer_resume.sh): make
 * the batch fail or be killed at WHERE, to make the state that a failure or
 * a kill at that moment leaves, which no timing could make reliably:
 * "model-read" (the model cannot be read again for the progress record's
 * settings), "after-rename" (killed once the finished table is renamed into
 * OUT, before the record is removed). */
static int test_stop(const char *where)
{
    const char *e = getenv("GP_INFER_TEST_STOP");
    return e && !strcmp(e, where);
}

/* The settings a resumed batch must share with the run that started it: all
 * that changes the table's bytes (cli_infer_progress.h).  Free to differ:
 * --batch and --threads on the CPU (a galaxy's result depends on the seed,
 * its id and the model only, not on the others in its call), the model's
 * file name (the MODEL keyword keeps the first run's) and the progress
 * line. */
static int batch_settings(gp_progress *p, gp_model *m, const batch_source *src, int nsamples,
                          uint64_t seed, int keep, int batch)
{
    int n = 0;
#define SET(k, w, ...) do { p->set[n].key = k; p->set[n].what = w; \
                            snprintf(p->set[n].val, sizeof p->set[n].val, __VA_ARGS__); n++; } while (0)
    SET("input", src->input_what, "%s", src->input_names);
    SET("data", "the input's content", "%s", src->input_content);
    char id[160];
    if (test_stop("model-read") ? (errno = EIO, 1) : gp_progress_file_identity(gp_model_path(m), id, sizeof id)) {
        fprintf(stderr, "galpost infer: cannot read the model %s: %s\n", gp_model_path(m), strerror(errno));
        return 1;
    }
    SET("model", "the model (--model, by content)", "%s", id);
    SET("seed", "--seed", "%llu", (unsigned long long)seed);
    SET("samples", "--samples", "%d", nsamples);
    SET("keep-samples", "--keep-samples", "%d", keep);
    /* the rows the table's messages name ("FILE: row N"): counted from 0
     * before 2026-11-27, so a record without this line is another galpost's */
    SET("row-numbers", "the numbering of rows in the table's messages", "from 1");
    const char *be = gp_model_backend_name(m);
    if (!strncmp(be, "cpu", 3))   /* the AMX convolutions round their sums otherwise */
        SET("compute", "the compute (--backend; the CPU's AMX use, GP_CPU_NO_AMX)", "cpu%s",
            gp_model_uses_image(m) && gp_cpu_have_amx() ? ", AMX" : "");
    else {   /* "cuda:0 (NAME, 79.1 GiB...)": the device and card, and the calls' size */
        char card[128];
        snprintf(card, sizeof card, "%s", be);
        char *cut = strstr(card, ", ");
        if (cut) { cut[0] = ')'; cut[1] = 0; }
        SET("compute", "the compute (--backend, the card, --batch)", "%s, batch %d", card, batch);
    }
    for (int k = 0; k < src->nextra; k++) SET(src->extra[k].key, src->extra[k].what, "%s", src->extra[k].val);
#undef SET
    p->nset = n;
    return 0;
}

/* A batch into OUT.fits, resumable: rows go to OUT.fits.partial (and
 * .partial.samples), and OUT.fits.partial.progress records, after the
 * first call and then at most every second, after an interrupt and before
 * the final rename, how many rows are there and their digest.  A rerun
 * with the same settings takes up the rows recorded and goes on from the
 * next; one with other settings is refused, naming the first that differs;
 * --restart starts over. */
static int infer_batch(gp_model *m, const batch_source *src, const char *output, int nsamples,
                       uint64_t seed, int keep, int batch, int restart)
{
    gp_error err;
    gp_results_writer *w = NULL;
    gp_progress prog;
    gp_cli_signals saved;
    int rc = 1, locked = 0, keep_partial = 0, decided = 0;
    long synced = 0, first = 0, failed = 0;
    float *pix = NULL;
    char part[4200], spart[4300];
    gp_results_partial_path(output, 0, part, sizeof part);
    gp_results_partial_path(output, 1, spart, sizeof spart);
    gp_galaxy *g = calloc((size_t)batch, sizeof *g);
    gp_result *res = calloc((size_t)batch, sizeof *res);
    long *rows = calloc((size_t)batch, sizeof *rows);
    /* page-locked on a GPU: each batch's cutouts, stored in order, are
     * copied straight to the device (gp_cutouts_alloc) */
    if (src->images && !(pix = gp_cutouts_alloc(m, (size_t)batch, &err))) {
        fprintf(stderr, "galpost infer: %s\n", err.msg);
        goto out;
    }
    if (!g || !res || !rows) { fprintf(stderr, "galpost infer: out of memory\n"); goto out; }
    if (gp_progress_lock(&prog, output)) goto out;
    locked = 1;
    if (batch_settings(&prog, m, src, nsamples, seed, keep, batch)) goto out;
    {
        gp_progress_record rec;
        char why[256];
        int have = gp_progress_read(&prog, &rec, why, sizeof why);
        if (have < 0 && !restart) {
            fprintf(stderr, "galpost infer: %s: %s: the partial results of %s cannot be resumed; "
                    "add --restart to start over\n", prog.path, why, output);
            keep_partial = 1;
            goto out;
        }
        if (have > 0 && rec.rows > 0 && !restart) {
            /* a run killed after renaming its finished table into OUT and
             * before removing the record: a record of every row, no
             * OUT.partial, and OUT */
            struct stat sb;
            int finished = rec.rows == src->n && stat(part, &sb) != 0 && errno == ENOENT && stat(output, &sb) == 0;
            const char *was;
            int k = gp_progress_differs(&prog, &rec, &was);
            if (k >= 0 && finished) {
                fprintf(stderr, "galpost infer: %s records that a run made with other settings finished %s: %s is %s there, "
                        "%s in this run; rerun with the same settings to check %s, or add --restart to compute it again\n",
                        prog.path, output, prog.set[k].what, was, prog.set[k].val, output);
                keep_partial = 1;
                goto out;
            }
            if (k >= 0) {
                fprintf(stderr, "galpost infer: %s holds %ld rows of an interrupted run made with other settings: "
                        "%s is %s there, %s in this run; rerun with the same settings to resume, "
                        "or add --restart to start over\n", part, rec.rows, prog.set[k].what, was, prog.set[k].val);
                keep_partial = 1;
                goto out;
            }
            if (rec.rows > src->n) {   /* (the data setting makes this a damaged record) */
                fprintf(stderr, "galpost infer: %s counts %ld rows, the input has %ld: add --restart to start over\n",
                        prog.path, rec.rows, src->n);
                keep_partial = 1;
                goto out;
            }
            if (finished) {
                if (gp_results_check_finished(output, keep, rec.rows, rec.digest, &err)) {
                    fprintf(stderr, "galpost infer: %s records a finished run of all %ld rows of %s, but %s does not hold "
                            "them: %s; %s was changed or replaced after that run: add --restart to compute it again "
                            "(or remove %s)\n", prog.path, rec.rows, output, output, err.msg, output, prog.path);
                    keep_partial = 1;
                    goto out;
                }
                /* (the samples file a run killed within the close kept) */
                if (unlink(spart) != 0 && errno != ENOENT)
                    fprintf(stderr, "galpost infer: cannot remove %s: %s\n", spart, strerror(errno));
                fprintf(stderr, "galpost infer: %s is already complete: its %ld rows (%ld failed) are the ones %s "
                        "records for these settings (a run killed after renaming the table into place); "
                        "nothing to compute, the stale record is removed\n", output, rec.rows, rec.failed, prog.path);
                decided = 1;
                rc = 0;
                goto out;
            }
            if (gp_results_writer_resume(output, keep, rec.rows, rec.digest, &w, &err)) {
                fprintf(stderr, "galpost infer: cannot resume: %s; add --restart to start over\n", err.msg);
                w = NULL;
                keep_partial = 1;
                goto out;
            }
            first = synced = rec.rows;
            failed = rec.failed;
            fprintf(stderr, "galpost infer: resuming %s at row %ld of %ld (rows 1..%ld from an interrupted run, in %s)\n",
                    output, first + 1, src->n, first, part);
        } else if (have != 0 && gp_progress_clear(&prog)) {
            /* (--restart, or a record of no rows) */
            fprintf(stderr, "galpost infer: cannot clear the progress record %s: %s\n", prog.path, strerror(errno));
            goto out;
        }
    }
    decided = 1;   /* (resumed, or starting over: the record is this run's from here) */
    if (!w && (gp_results_writer_open_resumable(output, gp_model_path(m), keep, &w, &err) ||
               (src->phot_note && gp_results_writer_set_key(w, "PHOTNOTE", src->phot_note, "the input magnitudes", &err)) ||
               (src->pixels_note && *src->pixels_note &&
                gp_results_writer_set_key(w, "PIXNOTE", src->pixels_note, "what was done to the frames' pixels", &err)))) {
        fprintf(stderr, "galpost infer: %s\n", err.msg);
        goto out;
    }
    gp_cli_interrupts_catch(&saved);
    int tty = gp_cli_is_terminal();
    double t0 = now_s(), last = 0, last_sync = t0;
    gp_infer_options io = { nsamples, seed, keep > 0 };
    const char *nl = "";   /* "\n" after a progress line */
    for (long start = first; start < src->n; start += batch) {
        if (gp_cli_interrupted) break;
        int nb = (int)(src->n - start < batch ? src->n - start : batch);
        int ngood = 0;
        for (int k = 0; k < nb; k++) {
            gp_galaxy one;
            char why[sizeof res->message];
            if (src->row(src->ctx, start + k, &one, why, sizeof why)) continue;
            rows[ngood] = start + k;
            one.cutout = pix ? pix + (size_t)ngood * GP_CUTOUT_PIXELS : NULL;
            g[ngood++] = one;
        }
        if (pix && ngood && src->read_images(src->ctx, rows, ngood, pix, &err)) {
            fprintf(stderr, "%sgalpost infer: %s\n", nl, err.msg);
            goto stop;
        }
        if (ngood) {
            int st = gp_infer(m, g, (size_t)ngood, &io, res, &err);
            if (st && st != GP_ERR_DATA) { fprintf(stderr, "%sgalpost infer: %s\n", nl, err.msg); goto stop; }
        }
        /* write in input order, unusable rows as failed rows */
        int j = 0;
        for (int k = 0; k < nb; k++) {
            gp_result one;
            gp_result *p;
            if (j < ngood && rows[j] == start + k) p = &res[j++];
            else {
                gp_galaxy gb;
                memset(&one, 0, sizeof one);
                (void)src->row(src->ctx, start + k, &gb, one.message, sizeof one.message);
                one.id = gb.id;
                one.status = GP_ERR_DATA;
                one.summary.bpt_class = -1;
                one.latent_d2 = one.latent_d2_limit = NAN;
                one.phot_d2 = one.phot_d2_limit = NAN;
                one.source_snr = one.source_peak = NAN;
                p = &one;
            }
            p->ra = p->dec = NAN;
            if (src->position) src->position(src->ctx, start + k, &p->ra, &p->dec);
            if (p->status) failed++;
            if (gp_results_writer_append(w, p, 1, &err)) {
                fprintf(stderr, "%sgalpost infer: %s\n", nl, err.msg);
                gp_result_free(res, (size_t)ngood);
                goto stop;
            }
        }
        gp_result_free(res, (size_t)ngood);
        long done = start + nb;
        double tn = now_s(), t = tn - t0;
        /* the progress record: after the first call, then every second
         * (a killed run loses at most that), and after the last */
        if (synced == first || tn - last_sync >= 1.0 || done == src->n) {
            uint64_t digest;
            long n;
            if (gp_results_writer_sync(w, &n, &digest, &err)) { fprintf(stderr, "%sgalpost infer: %s\n", nl, err.msg); goto stop; }
            if (gp_progress_write(&prog, n, failed, digest)) {
                fprintf(stderr, "%sgalpost infer: cannot write the progress record %s: %s\n", nl, prog.path, strerror(errno));
                goto stop;
            }
            synced = n;
            last_sync = tn;
        }
        if (tty && (t - last > 0.5 || done == src->n)) {
            double rate = (done - first) / (t > 0 ? t : 1e-9);
            double eta = (src->n - done) / (rate > 0 ? rate : 1);
            char resumed[48] = "";
            if (first) snprintf(resumed, sizeof resumed, " (resumed at row %ld)", first + 1);
            fprintf(stderr, "\rgalpost infer: %ld/%ld galaxies%s  %.1f/s  ETA %dm%02ds  failed %ld   ",
                    done, src->n, resumed, rate, (int)(eta / 60), (int)eta % 60, failed);
            nl = "\n";
            last = t;
        }
    }
    gp_cli_interrupts_restore(&saved);
    fprintf(stderr, "%s", nl);
    nl = "";
    if (gp_cli_interrupted) {
        long n = synced;
        uint64_t digest;
        if (gp_results_writer_sync(w, &n, &digest, &err) == GP_OK &&
            gp_progress_write(&prog, n, failed, digest) == 0)
            synced = n;
        if (synced == 0) {
            fprintf(stderr, "galpost infer: interrupted: %s not written\n", output);
            goto out;
        }
        if (gp_results_writer_suspend(w, &err)) fprintf(stderr, "galpost infer: %s\n", err.msg);
        w = NULL;
        keep_partial = 1;
        fprintf(stderr, "galpost infer: interrupted after %ld of %ld rows: %s not written; rows 1..%ld are kept in %s%s%s "
                "(%s records them): run the same command again to resume at row %ld, or add --restart to start over\n",
                synced, src->n, output, synced, part, keep ? " and " : "", keep ? spart : "", prog.path, synced + 1);
        goto out;
    }
    if (gp_results_writer_close(w, &err)) {
        w = NULL;
        fprintf(stderr, "galpost infer: %s\n", err.msg);
        /* (a resumable writer keeps its files: the record counts every row) */
        keep_partial = 1;
        fprintf(stderr, "galpost infer: the rows are kept in %s: run the same command again to finish %s, "
                "or add --restart to start over\n", part, output);
        goto out;
    }
    w = NULL;
    if (test_stop("after-rename")) raise(SIGKILL);
    double t = now_s() - t0;
    if (first)
        fprintf(stderr, "galpost infer: %ld galax%s (%ld failed) -> %s; resumed at row %ld: %ld in %.1f s (%.1f galaxies/s)\n",
                src->n, src->n == 1 ? "y" : "ies", failed, output, first + 1, src->n - first, t,
                (src->n - first) / (t > 0 ? t : 1e-9));
    else
        fprintf(stderr, "galpost infer: %ld galax%s (%ld failed) in %.1f s (%.1f galaxies/s) -> %s\n",
                src->n, src->n == 1 ? "y" : "ies", failed, t, src->n / (t > 0 ? t : 1e-9), output);
    rc = 0;
    goto out;
stop:
    /* an error part way: what the record counts stays for a rerun */
    gp_cli_interrupts_restore(&saved);
    if (synced > 0) {
        if (gp_results_writer_suspend(w, &err)) fprintf(stderr, "galpost infer: %s\n", err.msg);
        w = NULL;
        keep_partial = 1;
        fprintf(stderr, "galpost infer: rows 1..%ld are kept in %s: run the same command again to resume at row %ld, "
                "or add --restart to start over\n", synced, part, synced + 1);
    }
out:
    if (w) gp_results_writer_abort(w);
    /* before the decision to resume or start over, the record and the
     * partial results are an earlier run's: an error then (the model not
     * read again, the settings not made) leaves them as they are, for the
     * next run to resume; only an empty record (none, or the file the lock
     * created) goes */
    if (locked) gp_progress_release(&prog, !keep_partial && (decided || gp_progress_empty(&prog)));
    free(g); free(res); free(rows);
    gp_cutouts_free(m, pix);
    return rc;
}

/* The input of a batch as named: one name, or how many and a fingerprint
 * of the names (the first shown) when they do not fit. */
static void input_names(batch_source *src, const char *opt, const char *const *names, int n)
{
    uint64_t h = GP_FNV1A_BASIS;
    size_t len = 0;
    for (int k = 0; k < n; k++) { h = gp_fnv1a(h, names[k], strlen(names[k]) + 1); len += strlen(names[k]) + 1; }
    if (n == 1 && len < 300) snprintf(src->input_names, sizeof src->input_names, "%s %s", opt, names[0]);
    else
        snprintf(src->input_names, sizeof src->input_names, "%d %s files, names fingerprint %016llx (the first: %.300s)",
                 n, opt, (unsigned long long)h, names[0]);
}

static int infer_shards(gp_model *m, const char **shards, int n, const char *output, int nsamples,
                        uint64_t seed, int keep, int batch, int restart)
{
    gp_dataset *d;
    if (open_dataset(m, shards, n, &d)) return 1;
    shard_ctx ctx = { d, gp_cli_shard_why_new(d) };
    if (!ctx.why) { fprintf(stderr, "galpost infer: out of memory\n"); gp_dataset_close(d); return 1; }
    batch_source src = { d->n, d->has_images, shard_row, shard_images, &ctx, NULL, NULL, "the --shard files (by name)", "", "", {{0}}, 0,
                         shard_position };
    input_names(&src, "--shard", shards, n);
    /* the shards' content: the table's values the batch reads and each
     * file's size (reading every cutout again would take a good part of
     * the run) */
    uint64_t h = GP_FNV1A_BASIS;
    h = gp_fnv1a(h, d->shard_first, sizeof(long) * (size_t)(d->nshards + 1));
    h = gp_fnv1a(h, d->id, sizeof(uint64_t) * (size_t)d->n);
    h = gp_fnv1a(h, d->mag, sizeof(float) * 5 * (size_t)d->n);
    h = gp_fnv1a(h, d->bad, (size_t)d->n);
    h = gp_fnv1a(h, d->cutout_flags, sizeof(int32_t) * (size_t)d->n);
    h = gp_fnv1a(h, d->ra, sizeof(double) * (size_t)d->n);
    h = gp_fnv1a(h, d->dec, sizeof(double) * (size_t)d->n);
    for (int k = 0; k < n; k++) {
        struct stat st;
        long long size = stat(shards[k], &st) == 0 ? (long long)st.st_size : -1;
        h = gp_fnv1a(h, &size, sizeof size);
    }
    snprintf(src.input_content, sizeof src.input_content, "%ld rows, fingerprint %016llx (the table's values, the files' sizes)",
             d->n, (unsigned long long)h);
    int rc = infer_batch(m, &src, output, nsamples, seed, keep, batch, restart);
    gp_cli_shard_why_free(ctx.why);
    gp_dataset_close(d);
    return rc;
}

/* A photometric catalogue in batch: magnitudes only, so a photometry-only
 * model. */
static int infer_catalog(gp_model *m, const char *path, const char *output, int nsamples,
                         uint64_t seed, int keep, int batch, int restart)
{
    if (gp_model_uses_image(m)) {
        fprintf(stderr, "galpost infer: %s needs g, r, i cutouts and %s gives magnitudes only: "
                "use a photometry-only model (--model .../galpost-photometry.gpw)\n", gp_model_path(m), path);
        return 2;
    }
    gp_catalog *c = NULL;
    gp_error err;
    if (gp_catalog_open(path, &c, &err)) { fprintf(stderr, "galpost infer: %s\n", err.msg); return 1; }
    if (!gp_catalog_has_extinction(c))
        fprintf(stderr, "galpost infer: %s has no extinction columns: its magnitudes are used as they are "
                "(the model expects them corrected for Galactic extinction)\n", path);
    batch_source src = { (long)gp_catalog_size(c), 0, catalog_galaxy, NULL, c,
                         gp_catalog_has_extinction(c) ? NULL
                                                      : "NOT corrected for Galactic extinction: the catalogue has no extinction columns",
                         NULL, "the --catalog file (by name)", "", "", {{0}}, 0, catalog_position };
    input_names(&src, "--catalog", &path, 1);
    int rc = 1;
    if (gp_progress_file_identity(path, src.input_content, sizeof src.input_content))
        fprintf(stderr, "galpost infer: cannot read %s: %s\n", path, strerror(errno));
    else
        rc = infer_batch(m, &src, output, nsamples, seed, keep, batch, restart);
    gp_catalog_close(c);
    return rc;
}

/* A --positions batch: each row's g, r, i cutout and colours measured on
 * the frames as infer_frames() does them for one galaxy (frames_measure()),
 * the frames opened once.  row() does that work and keeps the result in its
 * row's slot (infer_batch() asks for the rows of a call in order, at most
 * `nslot` of them, then the cutouts of those that worked, then again the
 * rows that failed, for their messages). */
typedef struct pos_slot {
    long      row;        /* the row held, -1 none */
    int       failed;
    gp_galaxy g;          /* (its cutout: the slot's in pix) */
    char      why[sizeof ((gp_result *)0)->message];
} pos_slot;

typedef struct positions_ctx {
    const gp_cli_positions *pos;
    gp_frame *const *band;   /* [GP_NBANDS] */
    long      nslot;
    pos_slot *slot;
    float    *pix;           /* nslot cutouts */
} positions_ctx;

static int position_row(void *ctx, long r, gp_galaxy *g, char *why, size_t size)
{
    positions_ctx *c = ctx;
    pos_slot *s = &c->slot[r % c->nslot];
    if (s->row != r) {
        const gp_cli_position *p = &c->pos->row[r];
        float *pix = c->pix + (size_t)(r % c->nslot) * GP_CUTOUT_PIXELS;
        gp_frame *gri[3] = { c->band[GP_BAND_G], c->band[GP_BAND_R], c->band[GP_BAND_I] };
        char where[4400], msg[sizeof s->why];
        gp_error err;
        gp_cli_positions_where(c->pos, r, where, sizeof where);
        memset(s, 0, sizeof *s);
        s->row = r;
        s->failed = 1;
        /* the sampler key, as one galaxy's: the objID (galpost infer --frames
         * --ra --dec --id OBJID), else the position (without --id); 0 for a
         * row whose position cannot be read */
        s->g.id = p->objid ? p->objid : isfinite(p->ra) && isfinite(p->dec) ? gp_position_key(p->ra, p->dec) : 0;
        if (p->why) snprintf(why, size, "%s: %s", where, p->why);
        else if (gp_cutout_gri(gri, p->ra, p->dec, pix, &s->g.flags, &err))
            snprintf(why, size, "%s: %s", where, err.msg);
        else if (frames_measure(c->band, p->ra, p->dec, &s->g, NULL, msg, sizeof msg))
            snprintf(why, size, "%s: %s", where, msg);
        else
            s->failed = 0;
        if (s->failed) snprintf(s->why, sizeof s->why, "%s", why);
    } else if (s->failed)
        snprintf(why, size, "%s", s->why);
    *g = s->g;
    g->cutout = NULL;
    return s->failed;
}

static void position_position(void *ctx, long r, double *ra, double *dec)
{
    const gp_cli_position *p = &((positions_ctx *)ctx)->pos->row[r];
    *ra = p->ra;    /* (NaN for a cell that could not be read) */
    *dec = p->dec;
}

static int position_images(void *ctx, const long *rows, int n, float *pix, gp_error *err)
{
    const positions_ctx *c = ctx;
    for (int k = 0; k < n; k++) {
        const pos_slot *s = &c->slot[rows[k] % c->nslot];
        if (s->row != rows[k] || s->failed)   /* (infer_batch() asks for the rows it was given) */
            return GP_FAIL(err, GP_ERR_ARG, "--positions row %ld: no cutout made", rows[k] + 1);
        memcpy(pix + (size_t)k * GP_CUTOUT_PIXELS, c->pix + (size_t)(rows[k] % c->nslot) * GP_CUTOUT_PIXELS,
               sizeof(float) * GP_CUTOUT_PIXELS);
    }
    return GP_OK;
}

/* Galaxies at the positions of a list, on one set of frames, in batch. */
/* A --positions list's content identity (for resuming): its file's, and
 * for a cfitsio extended name ("cat.fits[GALS][r < 17.77]") the HDU and
 * rows it selects.  -1 with errno set when it cannot be read. */
static int positions_identity(const gp_cli_positions *pos, char *out, size_t size)
{
    int st = gp_progress_file_identity(pos->file, out, size);
    if (!st && pos->select) snprintf(out + strlen(out), size - strlen(out), ", %s", pos->select);
    return st;
}

static int infer_positions(gp_model *m, const char *frames, const char *path, const double zeropoint[GP_NBANDS],
                           const char *output, int nsamples, uint64_t seed, int keep, int batch, int restart)
{
    gp_frame *band[GP_NBANDS];
    gp_cli_positions *pos = NULL;
    positions_ctx ctx = { 0 };
    gp_error err;
    char spool[4096] = "";   /* a copy of standard input, while it exists */
    gp_cli_signals saved;
    int caught = 0;          /* SIGINT and SIGTERM caught while the copy exists */
    int rc = frames_open(frames, zeropoint, " (--positions measures every galaxy's colours on the frames)", band);
    if (rc) goto out;
    rc = 1;
    /* "-": standard input, copied to a file (read twice: by content, then
     * as a list) that is gone once both are done */
    const char *file = path, *name = NULL;
    if (!strcmp(path, "-")) {
        /* Ctrl-C (as when typing the list) or SIGTERM stops the copy or
         * waits for the reads, and ends the process once it is removed */
        gp_cli_interrupts_catch(&saved);
        caught = 1;
        if (isatty(STDIN_FILENO))
            fprintf(stderr, "galpost infer: reading the --positions list from standard input (end it with Ctrl-D)\n");
        if (gp_cli_stdin_copy("galpost infer", spool, sizeof spool)) goto out;
        file = spool;
        name = "standard input";
    }
    if (gp_cli_positions_read_as(file, name, &pos, &err)) { fprintf(stderr, "galpost infer: %s\n", err.msg); goto out; }
    image_unused_note(m, "the frames' cutouts are");
    ctx.pos = pos;
    ctx.band = band;
    ctx.nslot = batch;
    ctx.slot = malloc(sizeof *ctx.slot * (size_t)batch);
    ctx.pix = malloc(sizeof(float) * GP_CUTOUT_PIXELS * (size_t)batch);
    if (!ctx.slot || !ctx.pix) { fprintf(stderr, "galpost infer: out of memory\n"); goto out; }
    for (int k = 0; k < batch; k++) ctx.slot[k].row = -1;
    /* the cutout always, as for one galaxy: its flags, and the source check */
    batch_source src = { pos->n, 1, position_row, position_images, &ctx, MEASURED_SOURCE, NULL,
                         "the --positions file (by name)", "", "", {{0}}, 0, position_position };
    input_names(&src, "--positions", &path, 1);
    if (positions_identity(pos, src.input_content, sizeof src.input_content)) {
        fprintf(stderr, "galpost infer: cannot read %s: %s\n", name ? name : path, strerror(errno));
        goto out;
    }
    if (spool[0]) { unlink(spool); spool[0] = '\0'; }
    if (caught) {
        gp_cli_interrupts_restore(&saved);
        caught = 0;
        if (gp_cli_interrupted) {
            fprintf(stderr, "galpost infer: interrupted while reading standard input: nothing done\n");
            goto out;
        }
    }
    /* the frames by content (not by name: moved frames are the same), band
     * by band, and what turns their pixels into nanomaggies */
    uint64_t h = GP_FNV1A_BASIS;
    char bands[16] = "";
    for (int b = 0; b < GP_NBANDS; b++) {
        char id[160];
        if (gp_progress_file_identity(gp_frame_name(band[b]), id, sizeof id)) {
            fprintf(stderr, "galpost infer: cannot read %s: %s\n", gp_frame_name(band[b]), strerror(errno));
            goto out;
        }
        h = gp_fnv1a(h, gp_band_name(b), 2);
        h = gp_fnv1a(h, id, strlen(id) + 1);
        strcat(bands, gp_band_name(b));
    }
    char zp[256];
    gp_zeropoint_format(zeropoint, zp, sizeof zp);
    gp_progress_setting *x = src.extra;
    x[0].key = "frames";
    x[0].what = "the --frames files (by content)";
    snprintf(x[0].val, sizeof x[0].val, "%s, fingerprint %016llx", bands, (unsigned long long)h);
    x[1].key = "zeropoint";
    x[1].what = "--zeropoint";
    snprintf(x[1].val, sizeof x[1].val, "%s", *zp ? zp : "none");
    gp_phot_options po = gp_phot_options_default();
    x[2].key = "aperture";
    x[2].what = "the photometry (aperture radius, sky annulus)";
    snprintf(x[2].val, sizeof x[2].val, "radius %g\", sky %g-%g\"", po.radius,
             po.sky_inner > 0 ? po.sky_inner : 2 * po.radius, po.sky_outer > 0 ? po.sky_outer : 3 * po.radius);
    src.nextra = 3;
    char pixels[4096];
    gp_frame_pixels_note(band, NULL, 1, pixels, sizeof pixels);
    src.pixels_note = pixels;
    rc = infer_batch(m, &src, output, nsamples, seed, keep, batch, restart);
out:
    free(ctx.slot);
    free(ctx.pix);
    if (spool[0]) unlink(spool);
    if (caught) gp_cli_interrupts_restore(&saved);
    gp_cli_positions_free(pos);
    frames_close(band);
    return rc;
}

int gp_cli_infer(int argc, char **argv)
{
    static const struct option opts[] = {
        {"cutout", required_argument, 0, 'c'}, {"mags", required_argument, 0, 'g'},
        {"id", required_argument, 0, 'i'}, {"model", required_argument, 0, 'M'},
        {"samples", required_argument, 0, 'n'}, {"seed", required_argument, 0, 's'},
        {"threads", required_argument, 0, 't'}, {"backend", required_argument, 0, 'b'},
        {"json", no_argument, 0, 'j'}, {"samples-out", required_argument, 0, 'O'},
        {"shard", required_argument, 0, 'S'}, {"row", required_argument, 0, 'r'},
        {"output", required_argument, 0, 'o'}, {"keep-samples", required_argument, 0, 'k'},
        {"batch", required_argument, 0, 'B'}, {"restart", no_argument, 0, 'X'},
        {"frames", required_argument, 0, 'F'}, {"ra", required_argument, 0, 'R'},
        {"dec", required_argument, 0, 'D'}, {"catalog", required_argument, 0, 'C'},
        {"zeropoint", required_argument, 0, 'Z'}, {"positions", required_argument, 0, 'P'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *shards[MAX_SHARDS];
    int nshards = 0;
    long row = -1, keep = 0, batch = 0;   /* 0: 64 on the CPU, 1024 on a GPU */
    const char *output = NULL, *frames = NULL, *catalog = NULL, *positions = NULL;
    double ra = NAN, dec = NAN;
    double zeropoint[GP_NBANDS] = { NAN, NAN, NAN, NAN, NAN };
    int have_samples = 0, have_zp = 0;
    const char *cutout = NULL, *model = NULL, *samples_out = NULL;
    float mags[5] = {NAN, NAN, NAN, NAN, NAN};
    int have_mags = 0, json = 0, restart = 0;
    long nsamples = 1000, threads = 0, seed = 1, id = -1;
    gp_backend_kind backend = GP_BACKEND_AUTO;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "hm:o:", opts, NULL)) != -1) {
        switch (c) {
        case 'S':
            if (nshards == MAX_SHARDS) { fprintf(stderr, "galpost infer: more than %d --shard files\n", MAX_SHARDS); return 2; }
            shards[nshards++] = optarg;
            break;
        case 'r':   /* from 1, as every message counts rows; row holds it from 0 */
            if (gp_cli_parse_int(optarg, 1, 0x7fffffffffffffffL, &row)) {
                fprintf(stderr, "galpost infer: bad --row '%s'%s\n", optarg,
                        strspn(optarg, " 0") == strlen(optarg) && *optarg ? ": rows count from 1 (the first row is --row 1)" : "");
                return 2;
            }
            row--;
            break;
        case 'o': output = optarg; break;
        case 'k': if (gp_cli_parse_int(optarg, 1, 1000000, &keep)) { fprintf(stderr, "galpost infer: --keep-samples must be 1..1000000, got '%s'\n", optarg); return 2; } break;
        case 'B': if (gp_cli_parse_int(optarg, 1, 4096, &batch)) { fprintf(stderr, "galpost infer: --batch must be 1..4096, got '%s'\n", optarg); return 2; } break;
        case 'c': cutout = optarg; break;
        case 'F': frames = optarg; break;
        case 'Z': {
            gp_error zerr;
            if (gp_zeropoint_parse(optarg, zeropoint, &zerr)) { fprintf(stderr, "galpost infer: --zeropoint: %s\n", zerr.msg); return 2; }
            have_zp = 1;
            break;
        }
        case 'C': catalog = optarg; break;
        case 'P': positions = optarg; break;
        /* degrees or sexagesimal, as galpostd's infer RA DEC and DS9 print them */
        case 'R': if (gp_angle_parse(optarg, 1, &ra) || !(ra >= 0.0 && ra <= 360.0)) { fprintf(stderr, "galpost infer: --ra must be 0..360 degrees or 0:00:00..24:00:00 (h:m:s), got '%s'\n", optarg); return 2; } break;
        case 'D': if (gp_angle_parse(optarg, 0, &dec) || !(dec >= -90.0 && dec <= 90.0)) { fprintf(stderr, "galpost infer: --dec must be -90..90 degrees or d:m:s, got '%s'\n", optarg); return 2; } break;
        case 'g':
            if (gp_cli_parse_mags(optarg, mags)) { fprintf(stderr, "galpost infer: --mags needs five magnitudes U,G,R,I,Z between 5 and 40, got '%s'\n", optarg); return 2; }
            have_mags = 1;
            break;
        case 'i': if (gp_cli_parse_int(optarg, 0, 0x7fffffffffffffffL, &id)) { fprintf(stderr, "galpost infer: bad --id '%s'\n", optarg); return 2; } break;
        case 'm': /* as galpost eval spells it */
        case 'M': model = optarg; break;
        case 'n': have_samples = 1; if (gp_cli_parse_int(optarg, 2, 1000000, &nsamples)) { fprintf(stderr, "galpost infer: --samples must be 2..1000000, got '%s'\n", optarg); return 2; } break;
        case 's': if (gp_cli_parse_int(optarg, 0, 0x7fffffffffffffffL, &seed)) { fprintf(stderr, "galpost infer: bad --seed '%s'\n", optarg); return 2; } break;
        case 't': if (gp_cli_parse_int(optarg, 0, 256, &threads)) { fprintf(stderr, "galpost infer: --threads must be 0..256, got '%s'\n", optarg); return 2; } break;
        case 'b': if (gp_cli_parse_backend(optarg, &backend)) { fprintf(stderr, "galpost infer: --backend must be auto, cpu or cuda, got '%s'\n", optarg); return 2; } break;
        case 'j': json = 1; break;
        case 'X': restart = 1; break;
        case 'O': samples_out = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        /* --frames g.fits r.fits i.fits, or a shell glob after --frames: say how the list is written */
        const char *x = argv[optind], *dot = strrchr(x, '.');
        int fitsish = dot && (!strcmp(dot, ".fits") || !strcmp(dot, ".fit") || !strcmp(dot, ".fts") || !strcmp(dot, ".fz") ||
                              !strcmp(dot, ".gz") || !strcmp(dot, ".bz2"));
        if (frames && fitsish) {
            fprintf(stderr, "galpost infer: unexpected argument '%s': --frames takes one comma-separated list "
                    "(--frames frame-g.fits,frame-r.fits,frame-i.fits[,frame-u.fits,frame-z.fits])\n", x);
            return 2;
        }
        fprintf(stderr, "galpost infer: unexpected argument '%s'\n", x);
        usage(stderr);
        return 2;
    }

    /* which input; then refuse every option the mode would ignore */
    if (positions && !frames) {   /* (a list of positions needs frames to be measured on) */
        fprintf(stderr, "galpost infer: --positions goes with --frames (the galaxies at those positions on the frames)\n");
        return 2;
    }
    int inputs = !!cutout + !!frames + (nshards > 0) + (catalog && !frames);
    if (inputs == 0) {
        fprintf(stderr, "galpost infer: an input is required: --cutout FILE, --frames G,R,I --ra RA --dec DEC, "
                "--shard FILE (--row K or -o OUT.fits) or --catalog FILE -o OUT.fits\n");
        usage(stderr);
        return 2;
    }
    if (inputs > 1) {
        fprintf(stderr, "galpost infer: give one input: --cutout, --frames (with --catalog for the colours), "
                "--shard or --catalog\n");
        return 2;
    }
    if (positions) {
        /* every galaxy's colours are measured, its id is its objID or position */
        const char *no = isfinite(ra) || isfinite(dec) ? "--ra and --dec" : have_mags ? "--mags" : catalog ? "--catalog" :
                         id >= 0 ? "--id" : json ? "--json" : samples_out ? "--samples-out" : NULL;
        if (no) {
            fprintf(stderr, "galpost infer: %s does not go with --positions (each row's position, objID and colours "
                    "measured on the frames; the results go to the -o table)\n", no);
            return 2;
        }
        if (!output) { fprintf(stderr, "galpost infer: --positions is a batch: give -o OUT.fits\n"); return 2; }
    }
    /* --shard or --catalog with -o, or --frames with --positions and -o */
    int batch_mode = ((!frames && !cutout) || positions) && output != NULL;
    if (!frames && (isfinite(ra) || isfinite(dec))) {
        fprintf(stderr, "galpost infer: --ra and --dec go with --frames\n");
        return 2;
    }
    if (row >= 0 && !nshards) { fprintf(stderr, "galpost infer: --row goes with --shard\n"); return 2; }
    if (have_zp && !frames) { fprintf(stderr, "galpost infer: --zeropoint goes with --frames\n"); return 2; }
    if ((output || keep || batch) && (cutout || frames) && !positions) {
        /* with --frames, a --catalog gives one galaxy's colours: say that, not "go with --catalog" */
        fprintf(stderr, "galpost infer: %s infers one galaxy: -o, --keep-samples and --batch go with a batch, "
                "--shard FILE or --catalog FILE without --frames%s\n", cutout ? "--cutout" : "--frames",
                frames ? " (many galaxies on the same frames: --frames ... --positions LIST -o OUT.fits)" : "");
        return 2;
    }
    if (restart && !batch_mode) {
        fprintf(stderr, "galpost infer: --restart goes with a batch (--shard, --catalog or --frames --positions, "
                "with -o OUT.fits)\n");
        return 2;
    }
    if (batch_mode) {
        const char *in = catalog ? "--catalog" : "--shard";
        if (json) { fprintf(stderr, "galpost infer: --json does not go with %s ... -o (the results go to the FITS table)\n", in); return 2; }
        if (samples_out) { fprintf(stderr, "galpost infer: --samples-out does not go with %s ... -o (use --keep-samples N)\n", in); return 2; }
        if (id >= 0) { fprintf(stderr, "galpost infer: --id does not go with %s ... -o (ids come from the objID column)\n", in); return 2; }
    }
    if (nshards) {
        if ((row >= 0) == (output != NULL)) { fprintf(stderr, "galpost infer: with --shard, give either --row K or -o OUT.fits\n"); return 2; }
        if (!output && (keep || batch)) { fprintf(stderr, "galpost infer: --keep-samples and --batch need -o OUT.fits\n"); return 2; }
        if (have_mags) { fprintf(stderr, "galpost infer: --mags does not go with --shard (the magnitudes come from its table)\n"); return 2; }
        if (id >= 0) { fprintf(stderr, "galpost infer: --id does not go with --shard (ids come from its objID column)\n"); return 2; }
    }
    if (catalog && !frames) {
        if (!output) { fprintf(stderr, "galpost infer: --catalog without --frames is a batch: give -o OUT.fits\n"); return 2; }
        if (have_mags) { fprintf(stderr, "galpost infer: --mags does not go with a --catalog batch\n"); return 2; }
    }
    if (frames && !positions) {
        if (!isfinite(ra) || !isfinite(dec)) {
            fprintf(stderr, "galpost infer: --frames needs --ra and --dec (or --positions LIST -o OUT.fits)\n");
            return 2;
        }
        if (have_mags && catalog) { fprintf(stderr, "galpost infer: give --mags or --catalog, not both\n"); return 2; }
    }
    if (output && !have_samples) nsamples = 100;   /* design.md: 100 in batch */
    if (keep > nsamples) { fprintf(stderr, "galpost infer: --keep-samples %ld exceeds --samples %ld\n", keep, nsamples); return 2; }

    /* --frames names files: a folder (as galpost shards --frames takes) is a usage error saying so */
    if (frames) {
        char fl[8192], *save = NULL;
        struct stat sb;
        snprintf(fl, sizeof fl, "%s", frames);
        for (char *t = strtok_r(fl, ",", &save); t; t = strtok_r(NULL, ",", &save))
            if (stat(t, &sb) == 0 && S_ISDIR(sb.st_mode)) {
                fprintf(stderr, "galpost infer: --frames %s is a folder: --frames takes the frame files, "
                        "comma-separated (--frames %s/frame-g-....fits,%s/frame-r-....fits,...)\n", t, t, t);
                return 2;
            }
    }

    /* the model: a --catalog batch has magnitudes only, so without --model
     * the installed photometry-only model */
    char def[4096];
    gp_error err;
    if (!model) {
        int st = catalog && !frames ? gp_model_default_photometry_path(def, sizeof def, &err)
                                    : gp_model_default_path(def, sizeof def, &err);
        if (st) { fprintf(stderr, "galpost infer: %s\n", err.msg); return 1; }
        model = def;
    }

    /* outputs: never an input, and writable, before any work */
    {
        const char *outs[2] = { output, samples_out }, *outopt[2] = { "-o", "--samples-out" };
        for (int o = 0; o < 2; o++) {
            if (!outs[o]) continue;
            int rc = gp_cli_output_clash("infer", outopt[o], outs[o], "--model", model);
            if (!rc) rc = gp_cli_output_clash("infer", outopt[o], outs[o], "--cutout", cutout);
            if (!rc) rc = gp_cli_output_clash("infer", outopt[o], outs[o], "--catalog", catalog);
            if (!rc && positions && strcmp(positions, "-"))   /* ("-": standard input, no file) */
                rc = gp_cli_output_clash("infer", outopt[o], outs[o], "--positions", positions);
            for (int k = 0; k < nshards && !rc; k++) rc = gp_cli_output_clash("infer", outopt[o], outs[o], "--shard", shards[k]);
            if (frames && !rc) {
                char fl[8192], *save = NULL;
                snprintf(fl, sizeof fl, "%s", frames);
                for (char *t = strtok_r(fl, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save))
                    rc = gp_cli_output_clash("infer", outopt[o], outs[o], "--frames", t);
            }
            if (rc) return rc;
            if (gp_cli_output_writable("infer", outopt[o], outs[o], o == 1)) return 1;
        }
    }

    if (positions) {
        gp_model *m = gp_cli_open_model(model, backend, (int)threads);
        if (!m) return 1;
        if (batch == 0) batch = strncmp(gp_model_backend_name(m), "cuda", 4) == 0 ? 1024 : 64;
        int rc = infer_positions(m, frames, positions, zeropoint, output, (int)nsamples, (uint64_t)seed, (int)keep,
                                 (int)batch, restart);
        gp_model_close(m);
        return rc;
    }
    if (frames) {
        gp_model *m = gp_cli_open_model(model, backend, (int)threads);
        if (!m) return 1;
        image_unused_note(m, "the frames' cutout is");
        /* without --id, the position keys the sampler as in galpostd (0.5") */
        uint64_t pid = gp_position_key(ra, dec);
        int rc = infer_frames(m, frames, ra, dec, have_mags ? mags : NULL, catalog,
                              id >= 0 ? (uint64_t)id : pid, (int)nsamples, (uint64_t)seed, json, samples_out,
                              zeropoint);
        gp_model_close(m);
        return rc;
    }
    if (catalog) {
        gp_model *m = gp_cli_open_model(model, backend, (int)threads);
        if (!m) return 1;
        if (batch == 0) batch = strncmp(gp_model_backend_name(m), "cuda", 4) == 0 ? 1024 : 64;
        int rc = infer_catalog(m, catalog, output, (int)nsamples, (uint64_t)seed, (int)keep, (int)batch, restart);
        gp_model_close(m);
        return rc;
    }
    if (nshards) {
        gp_model *m = gp_cli_open_model(model, backend, (int)threads);
        if (!m) return 1;
        image_unused_note(m, "the shards' cutouts are");
        /* a GPU runs large batches several times faster (bench/RESULTS.md) */
        if (batch == 0) batch = strncmp(gp_model_backend_name(m), "cuda", 4) == 0 ? 1024 : 64;
        int rc = output ? infer_shards(m, shards, nshards, output, (int)nsamples, (uint64_t)seed, (int)keep, (int)batch, restart)
                        : infer_row(m, shards, nshards, row, (int)nsamples, (uint64_t)seed, json, samples_out);
        gp_model_close(m);
        return rc;
    }

    float *pix = malloc(sizeof(float) * GP_CUTOUT_PIXELS);
    if (!pix) { fprintf(stderr, "galpost infer: out of memory\n"); return 1; }
    gp_cutout_info info;
    memset(&info, 0, sizeof info);
    if (gp_cutout_read_fits(cutout, pix, &info, &err) && !(info.objid_bad && id >= 0)) {
        /* (a malformed OBJID does not matter when --id names the galaxy) */
        fprintf(stderr, "galpost infer: %s%s\n", err.msg, info.objid_bad ? " (or give --id N)" : "");
        free(pix);
        return 1;
    }
    if (!have_mags) {
        for (int b = 0; b < 5; b++) mags[b] = info.mag[b];
        for (int b = 0; b < 5; b++)
            if (info.mag_bad & (1u << b)) {
                fprintf(stderr, "galpost infer: %s: keyword MAG_%c is not a number: give --mags U,G,R,I,Z\n", cutout, "UGRIZ"[b]);
                free(pix);
                return 1;
            }
        for (int b = 0; b < 5; b++)
            if (!isfinite(mags[b])) {
                fprintf(stderr, "galpost infer: %s has no MAG_%c keyword: give --mags U,G,R,I,Z\n", cutout, "UGRIZ"[b]);
                free(pix);
                return 2;
            }
    }
    gp_model *m = gp_cli_open_model(model, backend, (int)threads);
    if (!m) { free(pix); return 1; }
    image_unused_note(m, "the cutout is");
    gp_galaxy g = { id >= 0 ? (uint64_t)id : (info.objid ? info.objid : 1), pix, {0}, 0 };
    memcpy(g.mag, mags, sizeof mags);
    gp_infer_options io = { (int)nsamples, (uint64_t)seed, samples_out != NULL };
    gp_result r;
    int st = gp_infer(m, &g, 1, &io, &r, &err);
    r.ra = info.ra;     /* (the cutout's RA and DEC keywords; NaN without) */
    r.dec = info.dec;
    int rc = 0;
    /* unusable inputs (a non-finite pixel): name the file they came from */
    if (st) { fprintf(stderr, "galpost infer: %s%s%s\n", st == GP_ERR_DATA ? cutout : "", st == GP_ERR_DATA ? ": " : "", err.msg); rc = 1; }
    else {
        if (json) print_json(&r, gp_model_path(m), g.mag, have_mags ? "command line" : "cutout keywords", NULL, stdout);
        else {
            printf("model: %s (%s%s)\n", gp_model_path(m), gp_model_backend_name(m),
                   gp_model_is_trained(m) ? "" : ", UNTRAINED random weights");
            printf("input: %s, magnitudes u g r i z = %.3f %.3f %.3f %.3f %.3f (%s)\n", cutout,
                   mags[0], mags[1], mags[2], mags[3], mags[4], have_mags ? "command line" : "cutout keywords");
            gp_summary_print(&r, stdout);
        }
        if (samples_out && write_samples(&r, samples_out)) rc = 1;
        gp_result_free(&r, 1);
    }
    gp_model_close(m);
    free(pix);
    return rc;
}
