/*
 * gpd_commands.c: galpostd's XPA sub-commands and its job queue.
 *
 * Handlers run inside XPA callbacks on the main thread and stay short:
 * requests that need DS9 or the model become jobs; gpd_queue_run(), called
 * from the main loop, moves jobs through gather (DS9) -> compute (worker)
 * -> publish (DS9).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "galpost/gp_fits.h"
#include "galpost/gp_weights.h"
#include "gp_xpa.h"
#include "gpd_daemon.h"

double gpd_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static const char help_text[] =
    "galpostd: posterior galaxy physics for DS9 (XPA access point 'galpost')\n"
    "\n"
    "xpaset -p galpost infer [selected|all|crosshair|RA DEC] [ds9 TARGET] [tag WORD]\n"
    "    infer the galaxies in DS9's selected regions (default), all shape regions of the\n"
    "    current frame, at the crosshair, or at RA DEC (degrees, or h:m:s d:m:s); TARGET is\n"
    "    the DS9 to use (title or XPA method, default from 'set ds9'); returns at once,\n"
    "    the result is drawn in DS9 when ready; 'xpaget galpost job WORD' follows it\n"
    "    an image model needs g, r, i images (and a catalogue or u, z images for ugriz); a\n"
    "    photometry-only model needs one image with a WCS and a catalogue, or u, g, r, i, z\n"
    "    images; 'xpaget galpost status' says which (needs:)\n"
    "xpaget galpost summary [ID] [text|json]   posterior summary (default: the last result)\n"
    "xpaget galpost samples [ID] [text|fits]   posterior samples (text rows or a FITS table)\n"
    "xpaget galpost bpt [ID]                  BPT class probabilities and line ratios\n"
    "xpaget galpost job [WORD]                state of a request: queued, running, done, failed\n"
    "xpaget galpost status                    model, backend, catalogue, needs, queue, timings\n"
    "xpaget galpost model [info]              the model (info: every metadata key and tensor)\n"
    "xpaget galpost catalog [N] [all]         the N brightest catalogue galaxies (all: any type)\n"
    "xpaget galpost set [KEY]                 current settings\n"
    "xpaset -p galpost set KEY VALUE          change a setting (model, backend, threads, samples,\n"
    "    seed, catalog, match_radius, aperture, ds9, log, log_level, overlay, plot, show_errors,\n"
    "    max_queue, max_galaxies, zeropoint; timeout only at start-up)\n"
    "xpaset -p galpost set zeropoint ZP|BAND=ZP,...|header  AB zero point of frames in counts\n"
    "    whose header has none (header: the frames' own keywords only, the default)\n"
    "xpaset -p galpost plot [ID] [ds9 TARGET] [tag WORD]  draw the BPT diagram of a result\n"
    "xpaset -p galpost clear [ds9 TARGET] [tag WORD]      remove galpost's overlays from DS9\n"
    "xpaset -p galpost quit                   stop galpostd\n"
    "xpaget galpost help                      this text; see galpostd(1)\n";

const char *gpd_help_text(void) { return help_text; }

/* ------------------------------------------------------------ helpers */

static int reply(char **out, size_t *outlen, char *text)
{
    if (!text) return -1;
    *out = text;
    *outlen = strlen(text);
    return 0;
}

static int fail(char *errmsg, size_t n, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static int fail(char *errmsg, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errmsg, n, fmt, ap);
    va_end(ap);
    return -1;
}

static char *dupf(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
static char *dupf(const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    int r = vasprintf(&s, fmt, ap);
    va_end(ap);
    return r < 0 ? NULL : s;
}

/* Split params into at most max words (copied into buf). */
static int words(const char *params, char *buf, size_t n, char **w, int max)
{
    snprintf(buf, n, "%s", params);
    int k = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save)) {
        if (k == max) return -1;
        w[k++] = t;
    }
    return k;
}

static gpd_result *find_result(gpd_daemon *d, int id)
{
    if (id <= 0) id = d->next_id;
    if (id <= 0 || id > d->next_id || id <= d->next_id - GPD_RESULTS_KEPT) return NULL;
    gpd_result *r = d->results[(id - 1) % GPD_RESULTS_KEPT];
    return r && r->id == id ? r : NULL;
}

static const gpd_job *last_job(const gpd_daemon *d)
{
    return d->nfinished ? d->finished[(d->nfinished - 1) % GPD_JOBS_KEPT] : NULL;
}

/* Parse "[ID] [fmt]" where fmt is one of fmts; returns -1 with a message. */
static int parse_id_format(gpd_daemon *d, const char *cmd, const char *params, const char *const *fmts,
                           gpd_result **res, int *fmt, char *errmsg, size_t n)
{
    char buf[512], *w[3];
    int nw = words(params, buf, sizeof buf, w, 3);
    int id = 0;
    *fmt = 0;
    if (nw < 0 || nw > 2) return fail(errmsg, n, "%s: too many words in '%s'", cmd, params);
    for (int i = 0; i < nw; i++) {
        const char *s = w[i];
        if (*s == '#') s++;
        if (isdigit((unsigned char)*s)) {
            char *end;
            long v = strtol(s, &end, 10);
            if (*end || v <= 0 || v > 1000000000L) return fail(errmsg, n, "%s: '%s' is not a result number", cmd, w[i]);
            id = (int)v;
            continue;
        }
        if (!strcmp(w[i], "last")) continue;
        int k = 0;
        for (; fmts && fmts[k]; k++)
            if (!strcmp(w[i], fmts[k])) break;
        if (!fmts || !fmts[k])
            return fail(errmsg, n, "%s: '%s' is neither a result number nor a known format", cmd, w[i]);
        *fmt = k;
    }
    *res = find_result(d, id);
    if (!*res) {
        if (d->next_id == 0) {
            const gpd_job *j = last_job(d);
            if (j && j->state == GPD_JOB_FAILED && j->kind == GPD_JOB_INFER)
                return fail(errmsg, n, "%s: no result yet; the last request failed: %s", cmd, j->error);
            return fail(errmsg, n, "%s: no result yet: infer a galaxy first (xpaset -p galpost infer ...)", cmd);
        }
        int lo = d->next_id - GPD_RESULTS_KEPT + 1;
        return fail(errmsg, n, "%s: no result #%d (kept: #%d to #%d)", cmd, id, lo < 1 ? 1 : lo, d->next_id);
    }
    return 0;
}

/* --------------------------------------------------------- get handlers */

static int get_summary(void *ctx, const char *cmd, const char *params, char **out, size_t *outlen,
                       char *errmsg, size_t n)
{
    static const char *const fmts[] = { "text", "json", NULL };
    gpd_result *r;
    int fmt;
    if (parse_id_format(ctx, cmd, params, fmts, &r, &fmt, errmsg, n)) return -1;
    return reply(out, outlen, fmt ? gpd_format_summary_json(r) : gpd_format_summary_text(r));
}

static int get_samples(void *ctx, const char *cmd, const char *params, char **out, size_t *outlen,
                       char *errmsg, size_t n)
{
    gpd_daemon *d = ctx;
    static const char *const fmts[] = { "text", "fits", NULL };
    gpd_result *r;
    int fmt;
    if (parse_id_format(d, cmd, params, fmts, &r, &fmt, errmsg, n)) return -1;
    if (fmt == 0) return reply(out, outlen, gpd_format_samples_text(r));
    /* FITS: the engine's result table (summary + samples HDUs) through a
     * private temporary file */
    char path[GPD_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/samples-%d.fits", d->tmpdir, r->id);
    gp_results_writer *w = NULL;
    gp_error err;
    int st = gp_results_writer_open(path, r->model, r->r.nsamples, &w, &err);
    if (!st) st = gp_results_writer_append(w, &r->r, 1, &err);
    if (!st) st = gp_results_writer_close(w, &err);
    else if (w) gp_results_writer_abort(w);
    if (st) return fail(errmsg, n, "samples: %s", err.msg);
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long len = -1;
    if (f && !fseek(f, 0, SEEK_END) && (len = ftell(f)) > 0 && !fseek(f, 0, SEEK_SET) &&
        (buf = malloc((size_t)len)) && fread(buf, 1, (size_t)len, f) == (size_t)len) {
        fclose(f);
        unlink(path);
        *out = buf;
        *outlen = (size_t)len;
        return 0;
    }
    if (f) fclose(f);
    free(buf);
    unlink(path);
    return fail(errmsg, n, "samples: cannot read back the FITS table %s", path);
}

static int get_bpt(void *ctx, const char *cmd, const char *params, char **out, size_t *outlen,
                   char *errmsg, size_t n)
{
    gpd_result *r;
    int fmt;
    if (parse_id_format(ctx, cmd, params, NULL, &r, &fmt, errmsg, n)) return -1;
    return reply(out, outlen, gpd_format_bpt_text(r));
}

static const char *state_name(gpd_job_state s)
{
    switch (s) {
    case GPD_JOB_QUEUED: return "queued";
    case GPD_JOB_GATHER: case GPD_JOB_COMPUTE: case GPD_JOB_COMPUTED: return "running";
    case GPD_JOB_DONE: return "done";
    case GPD_JOB_FAILED: return "failed";
    }
    return "?";
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_timing(const gpd_daemon *d, int col)
{
    int n = d->ntimings < GPD_TIMINGS_KEPT ? d->ntimings : GPD_TIMINGS_KEPT;
    if (n == 0) return NAN;
    double v[GPD_TIMINGS_KEPT];
    for (int i = 0; i < n; i++) v[i] = d->timings[i][col];
    qsort(v, (size_t)n, sizeof v[0], cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* What a request needs from DS9, for this model and catalogue. */
static const char *inputs_needed(int uses_image, int catalog)
{
    if (uses_image)
        return catalog ? "g, r, i images with a celestial WCS (cutouts); ugriz from the catalogue, "
                         "else measured on u, g, r, i, z images"
                       : "g, r, i images with a celestial WCS (cutouts) and u, z images (ugriz measured; "
                         "no catalogue)";
    return catalog ? "one image with a celestial WCS (positions; photometry-only model); ugriz from the catalogue, "
                     "else measured on u, g, r, i, z images"
                   : "u, g, r, i, z images with a celestial WCS (photometry-only model, ugriz measured; with a "
                     "catalogue one image would do: set catalog FILE)";
}

/* The catalogue set last (under mu): that of the newest set catalog still
 * to be swapped in by the worker, else the one in use. */
static const gp_catalog *catalog_set(const gpd_daemon *d, int *pending)
{
    const gpd_job *p = NULL;
    if (d->current && d->current->catalog_only && !d->current->catalog_swapped) p = d->current;
    for (const gpd_job *j = d->head; j; j = j->next)
        if (j->catalog_only) p = j;
    *pending = p != NULL;
    return p ? p->catalog : d->catalog;
}

static void catalog_desc(const gp_catalog *c, char *buf, size_t n)
{
    if (!c) { snprintf(buf, n, "none"); return; }
    size_t nbad = gp_catalog_unreadable(c, NULL);
    char unread[64] = "";
    if (nbad) snprintf(unread, sizeof unread, ", %zu unreadable row%s never matched", nbad, nbad == 1 ? "" : "s");
    snprintf(buf, n, "%s (%zu rows%s%s)", gp_catalog_path(c), gp_catalog_size(c),
             gp_catalog_has_extinction(c) ? "" : ", no extinction columns", unread);
}

static int get_status(void *ctx, const char *cmd, const char *params, char **out, size_t *outlen,
                      char *errmsg, size_t n)
{
    gpd_daemon *d = ctx;
    if (params[strspn(params, " \t")]) return fail(errmsg, n, "%s: takes no parameters", cmd);
    char *s = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&s, &len);
    if (!f) return fail(errmsg, n, "out of memory");
    pthread_mutex_lock(&d->mu);
    fprintf(f, "name: %s\nversion: %s\npid: %ld\nuptime_s: %.1f\n", d->cfg.name, PACKAGE_VERSION,
            (long)getpid(), gpd_now() - d->t_start);
    fprintf(f, "model: %s%s\nbackend: %s\n", d->model_path,
            d->model_trained ? "" : " (UNTRAINED: random weights, not physics)", d->backend_name);
    if (d->backend_note[0]) fprintf(f, "backend_note: %s\n", d->backend_note);
    int pending;
    const gp_catalog *cs = catalog_set(d, &pending);
    if (pending) {
        /* set, for the requests queued after it */
        char desc[GPD_PATH_MAX + 64];
        catalog_desc(cs, desc, sizeof desc);
        fprintf(f, "catalog: %s (set; requests queued before it use %s)\n", desc, d->catalog_desc);
    } else
        fprintf(f, "catalog: %s\n", d->catalog_desc);
    fprintf(f, "needs: %s\n", inputs_needed(d->model_image, pending ? cs != NULL : d->catalog_loaded));
    pthread_mutex_unlock(&d->mu);
    fprintf(f, "samples: %d\nseed: %llu\nds9: %s\n", d->cfg.samples, (unsigned long long)d->cfg.seed, d->cfg.ds9);
    fprintf(f, "queue: %d queued, %s\n", d->nqueued, d->current ? "1 running" : "idle");
    fprintf(f, "requests: %ld done, %ld failed\ngalaxies: %ld\n", d->n_jobs - d->n_failed, d->n_failed, d->n_galaxies);
    if (d->ntimings) {
        const double *t = d->timings[(d->ntimings - 1) % GPD_TIMINGS_KEPT];
        fprintf(f, "last_ms: gather %.1f compute %.1f publish %.1f total %.1f\n", t[0], t[1], t[2], t[3]);
        fprintf(f, "median_ms: gather %.1f compute %.1f publish %.1f total %.1f (last %d requests)\n",
                median_timing(d, 0), median_timing(d, 1), median_timing(d, 2), median_timing(d, 3),
                d->ntimings < GPD_TIMINGS_KEPT ? d->ntimings : GPD_TIMINGS_KEPT);
    }
    long hf, hs;
    gpd_verified_counts(&hf, &hs);
    fprintf(f, "ds9_headers: %ld fetched, %ld not fetched (files unchanged since found to be what DS9 shows)\n",
            hf, hs);
    if (d->next_id) fprintf(f, "last_result: #%d\n", d->next_id);
    if (d->last_error[0]) fprintf(f, "last_error: %s\n", d->last_error);
    fclose(f);
    return reply(out, outlen, s);
}

static int get_model(void *ctx, const char *cmd, const char *params, char **out, size_t *outlen,
                     char *errmsg, size_t n)
{
    gpd_daemon *d = ctx;
    char buf[256], *w[2];
    int nw = words(params, buf, sizeof buf, w, 2);
    if (nw < 0 || nw > 1 || (nw == 1 && strcmp(w[0], "info")))
        return fail(errmsg, n, "%s: expected nothing or 'info', got '%s'", cmd, params);
    if (nw == 1) {
        /* the weights file read again, so the worker's model is untouched */
        gp_weights *wf = NULL;
        gp_error err;
        char path[GPD_PATH_MAX];
        pthread_mutex_lock(&d->mu);
        snprintf(path, sizeof path, "%s", d->model_path);
        pthread_mutex_unlock(&d->mu);
        if (gp_weights_open(path, &wf, &err)) return fail(errmsg, n, "model info: %s", err.msg);
        char *s = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&s, &len);
        if (!f) { gp_weights_close(wf); return fail(errmsg, n, "out of memory"); }
        gp_weights_print_info(wf, f, &err);
        fclose(f);
        gp_weights_close(wf);
        return reply(out, outlen, s);
    }
    pthread_mutex_lock(&d->mu);
    char *s = dupf("path: %s\ntrained: %s\nbackend: %s\nthreads: %d\nuses_image: %s\nensemble: %d\n%s%s%s",
                   d->model_path, d->model_trained ? "yes" : "no (random weights: posteriors are not physics)",
                   d->backend_name, d->model_threads, d->model_image ? "yes" : "no (photometry only)",
                   d->model_ensemble, d->backend_note[0] ? "backend_note: " : "", d->backend_note,
                   d->backend_note[0] ? "\n" : "");
    pthread_mutex_unlock(&d->mu);
    return reply(out, outlen, s);
}

struct bright { double r; size_t row; };

static int cmp_bright(const void *a, const void *b)
{
    double x = ((const struct bright *)a)->r, y = ((const struct bright *)b)->r;
    return (x > y) - (x < y);
}

/* The brightest catalogue objects (galaxies when the catalogue has types). */
static int get_catalog(void *ctx, const char *cmd, const char *params, char **out, size_t *outlen,
                       char *errmsg, size_t n)
{
    gpd_daemon *d = ctx;
    char buf[256], *w[3];
    int nw = words(params, buf, sizeof buf, w, 3), all = 0;
    long count = 10;
    if (nw < 0) return fail(errmsg, n, "%s: usage: catalog [N] [all]", cmd);
    for (int i = 0; i < nw; i++) {
        char *end;
        if (!strcmp(w[i], "all")) all = 1;
        else if ((count = strtol(w[i], &end, 10)) < 1 || *end || count > 100000)
            return fail(errmsg, n, "%s: '%s' is not a count (1..100000) or 'all'", cmd, w[i]);
    }
    pthread_mutex_lock(&d->mu);
    int pending;
    const gp_catalog *c = catalog_set(d, &pending);   /* the one set last, in use or not yet */
    if (!c) {
        pthread_mutex_unlock(&d->mu);
        return fail(errmsg, n, "%s: no catalogue (xpaset -p galpost set catalog FILE)", cmd);
    }
    size_t rows = gp_catalog_size(c), k = 0;
    struct bright *b = malloc(sizeof *b * (rows ? rows : 1));
    gp_catalog_entry e;
    for (size_t i = 0; b && i < rows; i++)
        if (gp_catalog_row(c, i, &e, NULL) == GP_OK && (all || e.type < 0 || e.type == 3)) {
            b[k].r = e.mag[GP_BAND_R];
            b[k++].row = i;
        }
    char *s = NULL;
    size_t len = 0;
    FILE *f = b ? open_memstream(&s, &len) : NULL;
    if (f) {
        qsort(b, k, sizeof *b, cmp_bright);
        fprintf(f, "# row ra dec u g r i z type (extinction-corrected, brightest in r first)\n");
        for (size_t i = 0; i < k && i < (size_t)count; i++) {
            gp_catalog_row(c, b[i].row, &e, NULL);
            fprintf(f, "%zu %.7f %+.7f %.3f %.3f %.3f %.3f %.3f %d\n", e.row + 1, e.ra, e.dec, e.mag[0], e.mag[1],
                    e.mag[2], e.mag[3], e.mag[4], e.type);
        }
        fclose(f);
    }
    pthread_mutex_unlock(&d->mu);
    free(b);
    if (!s) return fail(errmsg, n, "out of memory");
    return reply(out, outlen, s);
}

static int get_help(void *ctx, const char *cmd, const char *params, char **out, size_t *outlen,
                    char *errmsg, size_t n)
{
    (void)ctx; (void)cmd; (void)params; (void)errmsg; (void)n;
    return reply(out, outlen, strdup(help_text));
}

/* The newest request with this tag (any request when tag is ""). */
static const gpd_job *find_job(const gpd_daemon *d, const char *tag)
{
    const gpd_job *found = NULL;
    for (const gpd_job *j = d->head; j; j = j->next)
        if (!*tag || !strcmp(j->tag, tag)) found = j;
    if (found) return found;
    if (d->current && (!*tag || !strcmp(d->current->tag, tag))) return d->current;
    int k = d->nfinished < GPD_JOBS_KEPT ? d->nfinished : GPD_JOBS_KEPT;
    for (int i = 0; i < k; i++) {
        const gpd_job *j = d->finished[(d->nfinished - 1 - i) % GPD_JOBS_KEPT];
        if (!*tag || !strcmp(j->tag, tag)) return j;
    }
    return NULL;
}

static int get_job(void *ctx, const char *cmd, const char *params, char **out, size_t *outlen,
                   char *errmsg, size_t n)
{
    gpd_daemon *d = ctx;
    char buf[256], *w[2];
    int nw = words(params, buf, sizeof buf, w, 2);
    if (nw < 0 || nw > 1) return fail(errmsg, n, "%s: expected at most one tag, got '%s'", cmd, params);
    const gpd_job *j = find_job(d, nw ? w[0] : "");
    if (!j) return fail(errmsg, n, "%s: no request %s%s", cmd, nw ? "tagged " : "yet", nw ? w[0] : "");
    const char *tag = j->tag[0] ? j->tag : "-";
    if (j->state == GPD_JOB_FAILED) return reply(out, outlen, dupf("%s failed: %s\n", tag, j->error));
    if (j->state == GPD_JOB_DONE)
        return reply(out, outlen, dupf("%s done%s%s%s%s\n", tag, j->ids[0] ? " " : "", j->ids,
                                       j->error[0] ? "; " : "", j->error));
    return reply(out, outlen, dupf("%s %s\n", tag, state_name(j->state)));
}

static int get_set(void *ctx, const char *cmd, const char *params, char **out, size_t *outlen,
                   char *errmsg, size_t n)
{
    gpd_daemon *d = ctx;
    char buf[256], *w[2], v[GPD_PATH_MAX + 64];
    int nw = words(params, buf, sizeof buf, w, 2);
    if (nw < 0 || nw > 1) return fail(errmsg, n, "%s: expected at most one key", cmd);
    if (nw == 1) {
        if (gpd_config_get(&d->cfg, w[0], v, sizeof v)) return fail(errmsg, n, "set: unknown setting '%s'", w[0]);
        return reply(out, outlen, dupf("%s\n", v));
    }
    char *s = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&s, &len);
    if (!f) return fail(errmsg, n, "out of memory");
    for (int i = 0; gpd_config_keys[i]; i++) {
        gpd_config_get(&d->cfg, gpd_config_keys[i], v, sizeof v);
        fprintf(f, "%s %s\n", gpd_config_keys[i], v);
    }
    fclose(f);
    return reply(out, outlen, s);
}

/* --------------------------------------------------------- set handlers */

static int no_data(const char *cmd, size_t len, char *errmsg, size_t n)
{
    if (len > 0)
        return fail(errmsg, n, "%s: takes no data (%zu bytes sent); give its parameters on the command line", cmd, len);
    return 0;
}

static gpd_job *job_new(gpd_daemon *d, gpd_job_kind kind, char *errmsg, size_t n)
{
    if (d->nqueued >= d->cfg.max_queue) {
        fail(errmsg, n, "busy: %d requests are already queued (max_queue); try again", d->nqueued);
        return NULL;
    }
    gpd_job *j = calloc(1, sizeof *j);
    if (!j) { fail(errmsg, n, "out of memory"); return NULL; }
    j->seq = ++d->next_seq;
    j->kind = kind;
    j->state = GPD_JOB_QUEUED;
    j->cfg = d->cfg;
    j->t_submit = gpd_now();
    return j;
}

static void job_enqueue(gpd_daemon *d, gpd_job *j)
{
    if (d->tail) d->tail->next = j; else d->head = j;
    d->tail = j;
    d->nqueued++;
    gpd_wake(d);
}

static int set_infer(void *ctx, const char *cmd, const char *params, const char *buf, size_t len,
                     char *errmsg, size_t n)
{
    gpd_daemon *d = ctx;
    (void)buf;
    if (no_data(cmd, len, errmsg, n)) return -1;
    gpd_infer_args a;
    if (gpd_parse_infer(params, &a, errmsg, n)) return -1;
    gpd_job *j = job_new(d, GPD_JOB_INFER, errmsg, n);
    if (!j) return -1;
    j->args = a;
    snprintf(j->tag, sizeof j->tag, "%s", a.tag);
    snprintf(j->target, sizeof j->target, "%s", a.target[0] ? a.target : d->cfg.ds9);
    job_enqueue(d, j);
    gpd_log(GPD_LOG_DEBUG, "request %llu queued: infer %s", (unsigned long long)j->seq, params);
    return 0;
}

/* Parse "[ds9 TARGET] [tag WORD]" (and one free word into *word when not
 * NULL); returns -1 with a message. */
static int target_tag(const char *cmd, const char *params, const char *def, char *target, size_t tn,
                      char *tag, size_t gn, char *word, size_t wn, char *errmsg, size_t n)
{
    char b[1400], *w[6];
    int nw = words(params, b, sizeof b, w, 6);
    snprintf(target, tn, "%s", def);
    tag[0] = '\0';
    if (word) word[0] = '\0';
    if (nw < 0) return fail(errmsg, n, "%s: too many words", cmd);
    for (int i = 0; i < nw; i++) {
        if ((!strcmp(w[i], "ds9") || !strcmp(w[i], "tag")) && i + 1 < nw) {
            if (!strcmp(w[i], "ds9")) snprintf(target, tn, "%s", w[i + 1]);
            else snprintf(tag, gn, "%s", w[i + 1]);
            i++;
        } else if (word && !word[0]) {
            snprintf(word, wn, "%s", w[i]);
        } else {
            return fail(errmsg, n, "%s: unexpected '%s' (usage: %s%s [ds9 TARGET] [tag WORD])", cmd, w[i], cmd,
                        word ? " [ID]" : "");
        }
    }
    return 0;
}

static int set_clear(void *ctx, const char *cmd, const char *params, const char *buf, size_t len,
                     char *errmsg, size_t n)
{
    gpd_daemon *d = ctx;
    (void)buf;
    if (no_data(cmd, len, errmsg, n)) return -1;
    char target[1024], tag[64];
    if (target_tag(cmd, params, d->cfg.ds9, target, sizeof target, tag, sizeof tag, NULL, 0, errmsg, n)) return -1;
    gpd_job *j = job_new(d, GPD_JOB_CLEAR, errmsg, n);
    if (!j) return -1;
    snprintf(j->target, sizeof j->target, "%s", target);
    snprintf(j->tag, sizeof j->tag, "%s", tag);
    job_enqueue(d, j);
    return 0;
}

int gpd_queue_reload(gpd_daemon *d, char *msg, size_t msglen)
{
    gpd_job *j = job_new(d, GPD_JOB_RELOAD, msg, msglen);
    if (!j) return -1;
    snprintf(j->tag, sizeof j->tag, "reload");
    job_enqueue(d, j);
    return 0;
}

static int set_plot(void *ctx, const char *cmd, const char *params, const char *buf, size_t len,
                    char *errmsg, size_t n)
{
    gpd_daemon *d = ctx;
    (void)buf;
    if (no_data(cmd, len, errmsg, n)) return -1;
    char target[1024], tag[64], rest[64];
    if (target_tag(cmd, params, d->cfg.ds9, target, sizeof target, tag, sizeof tag, rest, sizeof rest, errmsg, n))
        return -1;
    gpd_result *r;
    int fmt;
    if (parse_id_format(d, cmd, rest, NULL, &r, &fmt, errmsg, n)) return -1;
    gpd_job *j = job_new(d, GPD_JOB_PLOT, errmsg, n);
    if (!j) return -1;
    j->out = calloc(1, sizeof *j->out);
    float *samples = r->r.samples ? malloc(sizeof(float) * GP_NQ * (size_t)r->r.nsamples) : NULL;
    if (!j->out || (r->r.samples && !samples)) {
        free(samples);
        gpd_job_free(j);
        return fail(errmsg, n, "out of memory");
    }
    j->out[0].res = *r;
    if (samples) memcpy(samples, r->r.samples, sizeof(float) * GP_NQ * (size_t)r->r.nsamples);
    j->out[0].res.r.samples = samples;
    j->nshape = 1;
    j->nok = 1;
    snprintf(j->target, sizeof j->target, "%s", target);
    snprintf(j->tag, sizeof j->tag, "%s", tag);
    job_enqueue(d, j);
    return 0;
}

/* set catalog: the file is read before the answer, so that a file that is
 * no catalogue is refused by set itself (the setting unchanged), and
 * swapped in by the worker in queue order (a job tagged reload): requests
 * queued before it use the previous catalogue, those after it this one.
 * xpaget galpost catalog and status answer for it at once (catalog_set). */
static int set_catalog_now(gpd_daemon *d, const gpd_config *c, const char *value, char *errmsg, size_t n)
{
    gp_error e;
    gp_catalog *cat = NULL;
    if (c->catalog[0] && gp_catalog_open(c->catalog, &cat, &e)) return fail(errmsg, n, "set catalog: %s", e.msg);
    gpd_job *j = job_new(d, GPD_JOB_RELOAD, errmsg, n);
    if (!j) { gp_catalog_close(cat); return -1; }
    j->catalog_only = 1;
    j->catalog = cat;
    snprintf(j->tag, sizeof j->tag, "reload");
    d->cfg = *c;
    j->cfg = *c;
    gpd_log(GPD_LOG_INFO, "set catalog %s", value);
    job_enqueue(d, j);
    return 0;
}

static int set_set(void *ctx, const char *cmd, const char *params, const char *buf, size_t len,
                   char *errmsg, size_t n)
{
    gpd_daemon *d = ctx;
    (void)buf;
    if (no_data(cmd, len, errmsg, n)) return -1;
    const char *p = params + strspn(params, " \t");
    size_t kl = strcspn(p, " \t");
    char key[64];
    if (kl == 0 || kl >= sizeof key) return fail(errmsg, n, "set: usage: set KEY VALUE (xpaget galpost set: the settings)");
    memcpy(key, p, kl);
    key[kl] = '\0';
    char value[GPD_PATH_MAX];
    snprintf(value, sizeof value, "%s", p + kl + strspn(p + kl, " \t"));
    size_t vl = strlen(value);
    while (vl && (value[vl - 1] == ' ' || value[vl - 1] == '\t' || value[vl - 1] == '\n')) value[--vl] = '\0';
    if (!vl) return fail(errmsg, n, "set %s: no value", key);
    if (!strcmp(key, "name") || !strcmp(key, "pidfile") || !strcmp(key, "timeout"))
        return fail(errmsg, n, "set: '%s' can only be changed when galpostd starts (configuration file or --%s)", key, key);
    gpd_config c = d->cfg;
    if (gpd_config_set(&c, key, value, errmsg, n)) return -1;
    /* a model or catalogue that cannot be opened is refused here, with the
     * settings left as they are: the reload would fail later, in the
     * background, while `set` answered success and showed the bad value */
    if (!strcmp(key, "model") && c.model[0]) {
        gp_weights *w = NULL;
        gp_error e;
        if (gp_weights_open(c.model, &w, &e)) return fail(errmsg, n, "set model: %s", e.msg);
        gp_weights_close(w);
    }
    if (!strcmp(key, "catalog") || !strcmp(key, "catalogue")) return set_catalog_now(d, &c, value, errmsg, n);
    if (!strcmp(key, "log") && gpd_log_open(c.log, c.log_level))
        return fail(errmsg, n, "set log: cannot open %s", c.log);
    d->cfg = c;
    if (!strcmp(key, "log_level")) gpd_log_set_level(c.log_level);
    gpd_log(GPD_LOG_INFO, "set %s %s", key, value);
    if (gpd_config_key_reloads(key)) return gpd_queue_reload(d, errmsg, n);
    return 0;
}

static int set_quit(void *ctx, const char *cmd, const char *params, const char *buf, size_t len,
                    char *errmsg, size_t n)
{
    gpd_daemon *d = ctx;
    (void)buf;
    if (no_data(cmd, len, errmsg, n)) return -1;
    if (params[strspn(params, " \t")]) return fail(errmsg, n, "%s: takes no parameters", cmd);
    gpd_log(GPD_LOG_INFO, "quit requested through XPA");
    d->quit = 1;
    gpd_wake(d);
    return 0;
}

const gpx_command gpd_commands[] = {
    { "infer", "[selected|all|crosshair|RA DEC] [ds9 TARGET] [tag WORD]: infer galaxies", NULL, set_infer },
    { "summary", "[ID] [text|json]: posterior summary", get_summary, NULL },
    { "samples", "[ID] [text|fits]: posterior samples", get_samples, NULL },
    { "bpt", "[ID]: BPT class probabilities", get_bpt, NULL },
    { "job", "[TAG]: state of a request", get_job, NULL },
    { "status", "model, backend, catalogue, what a request needs, queue and timings", get_status, NULL },
    { "model", "[info]: the model", get_model, NULL },
    { "catalog", "[N] [all]: the brightest catalogue galaxies", get_catalog, NULL },
    { "set", "[KEY] | KEY VALUE: settings", get_set, set_set },
    { "plot", "[ID] [ds9 TARGET] [tag WORD]: draw the BPT diagram of a result", NULL, set_plot },
    { "clear", "[ds9 TARGET] [tag WORD]: remove the overlays", NULL, set_clear },
    { "quit", "stop galpostd", NULL, set_quit },
    { "help", "the sub-commands", get_help, NULL },
};
const size_t gpd_ncommands = sizeof gpd_commands / sizeof gpd_commands[0];

void gpd_unknown_command(void *ctx, const char *word, int set, char *errmsg, size_t errlen)
{
    const gpd_daemon *d = ctx;
    gpd_unknown_message(gpd_commands, gpd_ncommands, d && d->cfg.name[0] ? d->cfg.name : "galpost",
                        word, set, errmsg, errlen);
}

/* -------------------------------------------------------------- queue */

void gpd_job_free(gpd_job *j)
{
    if (!j) return;
    gp_catalog_close(j->catalog);
    for (int i = 0; i < j->nsrc; i++) { free(j->src[i].mem); free(j->src[i].hdr); }
    free(j->src);
    free(j->shapes);
    if (j->out)
        for (int i = 0; i < j->nshape; i++) gp_result_free(&j->out[i].res.r, 1);
    free(j->out);
    free(j);
}

/* Keep a finished job (light: no images, no samples) for `job TAG`. */
static void job_finish(gpd_daemon *d, gpd_job *j, gpd_job_state state)
{
    j->state = state;
    j->t_done = gpd_now();
    gp_catalog_close(j->catalog);   /* set catalog's previous one, or its own if never swapped */
    j->catalog = NULL;
    for (int i = 0; i < j->nsrc; i++) { free(j->src[i].mem); free(j->src[i].hdr); }
    free(j->src);
    j->src = NULL;
    j->nsrc = 0;
    if (j->out)
        for (int i = 0; i < j->nshape; i++) gp_result_free(&j->out[i].res.r, 1);
    free(j->out);
    j->out = NULL;
    free(j->shapes);
    j->shapes = NULL;
    d->n_jobs++;
    if (state == GPD_JOB_FAILED) {
        d->n_failed++;
        snprintf(d->last_error, sizeof d->last_error, "%s", j->error);
        /* the observer clicked in DS9: tell them there (not when DS9 is gone) */
        if (j->kind != GPD_JOB_RELOAD && j->cfg.show_errors && j->status != GP_ERR_XPA)
            gpd_ds9_show_error(j->target, j->error);
    } else if (j->kind == GPD_JOB_INFER && j->error[0] && j->cfg.show_errors) {
        /* done, but some galaxies failed or were not inferred: their regions
         * got no overlay, so say why in DS9 too */
        gpd_ds9_show_error(j->target, j->error);
    }
    double total = (j->t_done - j->t_submit) * 1e3;
    if (j->kind == GPD_JOB_INFER && state == GPD_JOB_DONE) {
        double *t = d->timings[d->ntimings % GPD_TIMINGS_KEPT];
        t[0] = (j->t_gathered - j->t_start) * 1e3;
        t[1] = (j->t_computed - j->t_gathered) * 1e3;
        t[2] = (j->t_done - j->t_computed) * 1e3;
        t[3] = total;
        d->ntimings++;
        gpd_log(GPD_LOG_INFO, "request %llu%s%s done: %s in %.1f ms (gather %.1f, compute %.1f, publish %.1f)%s%s",
                (unsigned long long)j->seq, j->tag[0] ? " tag " : "", j->tag, j->ids, total, t[0], t[1], t[2],
                j->error[0] ? "; " : "", j->error);
    } else if (state == GPD_JOB_FAILED) {
        gpd_log(GPD_LOG_WARN, "request %llu%s%s failed after %.1f ms: %s", (unsigned long long)j->seq,
                j->tag[0] ? " tag " : "", j->tag, total, j->error);
    } else {
        static const char *const kinds[] = { "infer", "clear", "reload", "plot" };
        gpd_log(GPD_LOG_INFO, "request %llu (%s) done in %.1f ms", (unsigned long long)j->seq, kinds[j->kind], total);
    }
    gpd_job **slot = &d->finished[d->nfinished % GPD_JOBS_KEPT];
    if (d->nfinished >= GPD_JOBS_KEPT) gpd_job_free(*slot);
    *slot = j;
    d->nfinished++;
    if (d->current == j) d->current = NULL;
}

static void store_result(gpd_daemon *d, gpd_result *src)
{
    gpd_result *r = malloc(sizeof *r);
    if (!r) return;
    *r = *src;
    src->r.samples = NULL;   /* moved */
    gpd_result **slot = &d->results[(r->id - 1) % GPD_RESULTS_KEPT];
    if (*slot) {
        gp_result_free(&(*slot)->r, 1);
        free(*slot);
    }
    *slot = r;
    d->n_galaxies++;
}

static void publish(gpd_daemon *d, gpd_job *j)
{
    if (j->status) {
        job_finish(d, j, GPD_JOB_FAILED);
        return;
    }
    int nfail = 0, first_fail = -1;
    for (int i = 0; i < j->nshape; i++) {
        gpd_outcome *o = &j->out[i];
        if (o->status == GP_OK) {
            o->res.id = ++d->next_id;
            size_t l = strlen(j->ids);
            snprintf(j->ids + l, sizeof j->ids - l, "%s#%d", l ? " " : "", o->res.id);
        } else {
            nfail++;
            if (first_fail < 0) first_fail = i;
        }
    }
    gp_error err;
    int st = gpd_ds9_publish(d, j, &err);
    for (int i = 0; i < j->nshape; i++)
        if (j->out[i].status == GP_OK) store_result(d, &j->out[i].res);
    if (j->nok == 0) {
        if (j->nshape > 1)
            snprintf(j->error, sizeof j->error, "all %d galaxies failed; the first: %s", j->nshape,
                     j->out[first_fail].message);
        else
            snprintf(j->error, sizeof j->error, "%s", first_fail >= 0 ? j->out[first_fail].message : "no galaxy");
        job_finish(d, j, GPD_JOB_FAILED);
        return;
    }
    if (st) {
        snprintf(j->error, sizeof j->error, "results %s computed but not shown: %s", j->ids, err.msg);
        job_finish(d, j, GPD_JOB_FAILED);
        return;
    }
    if (nfail)
        snprintf(j->error, sizeof j->error, "%d of %d galaxies failed; the first: %s", nfail, j->nshape,
                 j->out[first_fail].message);
    if (j->nskipped) {
        size_t l = strlen(j->error);
        snprintf(j->error + l, sizeof j->error - l, "%s%d%s region%s beyond max_galaxies (%d) not inferred",
                 l ? "; " : "", j->nskipped, j->nskipped >= GPD_REGIONS_COUNTED - j->nshape ? " or more" : "",
                 j->nskipped == 1 ? "" : "s", j->cfg.max_galaxies);
    }
    job_finish(d, j, GPD_JOB_DONE);
}

void gpd_queue_run(gpd_daemon *d)
{
    for (;;) {
        gpd_job *j = d->current;
        if (j) {
            pthread_mutex_lock(&d->mu);
            int computed = j->state == GPD_JOB_COMPUTED;
            pthread_mutex_unlock(&d->mu);
            if (!computed) return;   /* the worker will wake us */
            /* files the worker found to be what DS9 shows */
            if (j->kind == GPD_JOB_INFER) gpd_verified_from_worker(j);
            if (j->kind == GPD_JOB_INFER) publish(d, j);
            else job_finish(d, j, j->status ? GPD_JOB_FAILED : GPD_JOB_DONE);
            continue;
        }
        if (!d->head || d->quit) return;
        j = d->head;
        d->head = j->next;
        if (!d->head) d->tail = NULL;
        j->next = NULL;
        d->nqueued--;
        d->current = j;
        j->t_start = gpd_now();
        gp_error err;
        if (j->kind == GPD_JOB_CLEAR || j->kind == GPD_JOB_PLOT) {
            j->state = GPD_JOB_GATHER;
            int st = j->kind == GPD_JOB_CLEAR ? gpd_ds9_clear(j->target, &err) : gpd_ds9_plot(d, j, &err);
            if (j->kind == GPD_JOB_CLEAR && !st) {   /* forget what was drawn in that DS9 */
                gpd_ds9_identity(j);
                for (int k = 0; k < d->ndrawn; k++)
                    if (!strcmp(d->drawn[k].target, j->ds9id)) d->drawn[k--] = d->drawn[--d->ndrawn];
            }
            if (st) {
                j->status = err.status;
                snprintf(j->error, sizeof j->error, "%s: %s", j->kind == GPD_JOB_CLEAR ? "clear" : "plot", err.msg);
            }
            job_finish(d, j, j->status ? GPD_JOB_FAILED : GPD_JOB_DONE);
            continue;
        }
        if (j->kind == GPD_JOB_INFER) {
            j->state = GPD_JOB_GATHER;
            if (gpd_ds9_gather(j, &err)) {
                j->status = err.status;
                snprintf(j->error, sizeof j->error, "%s", err.msg);
                job_finish(d, j, GPD_JOB_FAILED);
                continue;
            }
        }
        j->t_gathered = gpd_now();
        gpd_worker_submit(d, j);
        return;
    }
}
