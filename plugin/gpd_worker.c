/*
 * gpd_worker.c: galpostd's worker thread.  It owns the model, the
 * catalogue and a small cache of open frames, and turns a gathered job
 * (positions + band images) into posterior results.  It never calls XPA.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gp_hash.h"
#include "gp_source_check.h"
#include "gpd_daemon.h"

/* ------------------------------------------------------- frame cache */

/* A file name cfitsio reads through its decompression (.gz, .bz2, .Z, .zip). */
static int compressed_name(const char *path)
{
    static const char *const ext[] = { ".gz", ".bz2", ".Z", ".zip" };
    size_t n = strlen(path);
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
        size_t k = strlen(ext[i]);
        if (n > k && !strcmp(path + n - k, ext[i])) return 1;
    }
    return 0;
}

#define CACHE_SLOTS 16

struct cache_entry {
    char      key[GPD_PATH_MAX + 32];
    gpd_file_id id;     /* the file's identity before it was opened */
    gp_frame *frame;
    char     *cards;    /* a file's header as opened, to compare with DS9's */
    int       ncards;
    uint64_t  used;
};

struct gpd_frame_cache {
    struct cache_entry e[CACHE_SLOTS];
    uint64_t           clock;
};

static void cache_free(gpd_frame_cache *c)
{
    if (!c) return;
    for (int i = 0; i < CACHE_SLOTS; i++) { gp_frame_close(c->e[i].frame); free(c->e[i].cards); }
    free(c);
}

/* A file must be what DS9 shows: its header, as opened, against DS9's
 * (taken at gather time).  The main thread already compared a plain FITS
 * file and fetched the frame from DS9 when it differed; this catches a
 * compressed file (too slow to read on the main thread, see gpd_header.c)
 * and a file replaced since the gather.  A file the main thread trusted
 * without a header (unchanged since found the same, gpd_verified.c) must
 * still have the identity it had then.  A comparison that finds the file
 * the same is reported in the source for the main thread to remember. */
static int check_header(gpd_source *s, const struct cache_entry *e, const gpd_file_id *now, gp_error *err)
{
    char nm[GPD_PATH_MAX + 64];
    if (s->mem) return GP_OK;
    if (s->trusted) {
        if (gpd_file_id_equal(now, &s->id)) return GP_OK;
        s->worker_changed = 1;
        return GP_FAIL(err, GP_ERR_DATA,
                       "%s: the file changed on disk while the request was read; infer again",
                       gpd_source_name(s, nm, sizeof nm));
    }
    if (!s->hdr || !e->cards) return GP_OK;
    char why[512];
    int d = gpd_header_differs(s->hdr, e->cards, e->ncards, why, sizeof why);
    if (d < 0) return GP_FAIL(err, GP_ERR_NOMEM, "%s: %s", gpd_source_name(s, nm, sizeof nm), why);
    if (d > 0)
        return GP_FAIL(err, GP_ERR_DATA,
                       "%s: the file on disk is not what DS9 shows (it changed after loading: %s); reload it in DS9",
                       gpd_source_name(s, nm, sizeof nm), why);
    s->worker_checked = 1;
    s->worker_id = e->id;
    return GP_OK;
}

/* The open frame of a source (cached); the cache keeps ownership. */
static int cache_frame(gpd_frame_cache *c, gpd_source *s, gp_frame **out, gp_error *err)
{
    char key[sizeof c->e[0].key];
    gpd_file_id id;
    memset(&id, 0, sizeof id);
    char nm[GPD_PATH_MAX + 64];
    /* a file that is not what DS9 shows came through XPA (mem) */
    if (s->mem) {
        snprintf(key, sizeof key, "mem:%016llx:%zu", (unsigned long long)gp_fnv1a(GP_FNV1A_BASIS, s->mem, s->memlen), s->memlen);
    } else if (s->path[0]) {
        /* not a plain file (EINVAL): opened each time, never trusted */
        int e = gpd_file_identity(s->path, &id);
        if (e && e != EINVAL)
            return GP_FAIL(err, GP_ERR_IO, "%s: the file DS9 loaded cannot be read (%s): reload it in DS9",
                           gpd_source_name(s, nm, sizeof nm), strerror(e));
        snprintf(key, sizeof key, "%s", s->path);
    } else {
        return GP_FAIL(err, GP_ERR_NOTFOUND, "frame %d: no image", s->frame);
    }
    c->clock++;
    for (int i = 0; i < CACHE_SLOTS; i++) {
        struct cache_entry *e = &c->e[i];
        if (!e->frame || strcmp(e->key, key)) continue;
        /* the file as opened, unless it changed on disk since; opened
         * within a clock tick of its last change, it is opened again once
         * that change is long enough past to be told from a later one */
        if (s->mem || (gpd_file_id_equal(&e->id, &id) &&
                       (gpd_file_id_settled(&e->id) || !gpd_file_id_settled(&id)))) {
            e->used = c->clock;
            *out = e->frame;
            return check_header(s, e, &id, err);
        }
        gp_frame_close(e->frame);   /* the file changed on disk: reopen */
        e->frame = NULL;
        free(e->cards);
        e->cards = NULL;
    }
    int lru = -1;
    for (int i = 0; i < CACHE_SLOTS && lru < 0; i++)
        if (!c->e[i].frame) lru = i;
    if (lru < 0) {
        lru = 0;
        for (int i = 1; i < CACHE_SLOTS; i++)
            if (c->e[i].used < c->e[lru].used) lru = i;
    }
    gp_frame *f = NULL;
    char *cards = NULL;
    int ncards = 0;
    int rc = !s->mem ? gp_frame_open_file(s->path, &f, err)
                     : gp_frame_open_memory(s->mem, s->memlen, s->path[0] ? s->path : "DS9 frame (no file)", &f, err);
    /* A compressed file whose open cfitsio failed is tried once more: its
     * in-memory gunzip has failed now and then on a complete, unchanged
     * .fits.gz ("could not allocate memory", status 113, as for a gzip
     * stream that yields no bytes; three times in the CI's ASan and
     * distcheck passes, never on rerun; cause not found) */
    if (rc == GP_ERR_FITS && !s->mem && compressed_name(s->path)) {
        gpd_log(GPD_LOG_WARN, "frame %d: %s; trying once more", s->frame, err->msg);
        rc = gp_frame_open_file(s->path, &f, err);
    }
    if (!rc && !s->mem && (rc = gp_frame_header(f, &cards, &ncards, err))) gp_frame_close(f);
    if (rc) {
        gp_error_prefix(err, "frame %d", s->frame);
        return rc;
    }
    struct cache_entry *e = &c->e[lru];
    gp_frame_close(e->frame);
    free(e->cards);
    snprintf(e->key, sizeof e->key, "%s", key);
    e->id = id;
    e->frame = f;
    e->cards = cards;
    e->ncards = ncards;
    e->used = c->clock;
    *out = f;
    return check_header(s, e, &id, err);
}

/* -------------------------------------------------------------- model */

static void model_facts(gpd_daemon *d)
{
    pthread_mutex_lock(&d->mu);
    if (d->model) {
        snprintf(d->model_path, sizeof d->model_path, "%s", gp_model_path(d->model));
        snprintf(d->backend_name, sizeof d->backend_name, "%s", gp_model_backend_name(d->model));
        snprintf(d->backend_note, sizeof d->backend_note, "%s", gp_model_backend_note(d->model));
        d->model_trained = gp_model_is_trained(d->model);
        d->model_threads = gp_model_threads(d->model);
        d->model_ensemble = gp_model_ensemble_size(d->model);
        d->model_image = gp_model_uses_image(d->model);
    }
    d->catalog_loaded = d->catalog != NULL;
    if (d->catalog) {
        /* rows that could not be read are never matched: said, not skipped silently */
        size_t nbad = gp_catalog_unreadable(d->catalog, NULL);
        char unread[64] = "";
        if (nbad) snprintf(unread, sizeof unread, ", %zu unreadable row%s never matched", nbad, nbad == 1 ? "" : "s");
        snprintf(d->catalog_desc, sizeof d->catalog_desc, "%s (%zu rows%s%s)", gp_catalog_path(d->catalog),
                 gp_catalog_size(d->catalog), gp_catalog_has_extinction(d->catalog) ? "" : ", no extinction columns",
                 unread);
    } else
        snprintf(d->catalog_desc, sizeof d->catalog_desc, "none");
    pthread_mutex_unlock(&d->mu);
}

int gpd_load_model(gpd_daemon *d, const gpd_config *cfg, gp_error *err)
{
    char path[GPD_PATH_MAX];
    if (cfg->model[0]) snprintf(path, sizeof path, "%s", cfg->model);
    else if (gp_model_default_path(path, sizeof path, err)) return err->status;
    gp_model_options o = gp_model_options_default();
    o.backend = cfg->backend;
    o.threads = cfg->threads;
    gp_model *m = NULL;
    int st = gp_model_open(path, &o, &m, err);
    if (st) return st;
    gp_catalog *c = NULL;
    if (cfg->catalog[0] && (st = gp_catalog_open(cfg->catalog, &c, err))) {
        gp_model_close(m);
        return st;
    }
    /* the main thread lists the catalogue under mu (xpaget galpost catalog) */
    pthread_mutex_lock(&d->mu);
    gp_model *old_m = d->model;
    gp_catalog *old_c = d->catalog;
    d->model = m;
    d->catalog = c;
    pthread_mutex_unlock(&d->mu);
    gp_model_close(old_m);
    gp_catalog_close(old_c);
    model_facts(d);
    gpd_log(GPD_LOG_INFO, "model %s on %s%s; catalogue %s", path, gp_model_backend_name(m),
            gp_model_is_trained(m) ? "" : " (UNTRAINED: random weights)", d->catalog_desc);
    if (*gp_model_backend_note(m)) gpd_log(GPD_LOG_WARN, "%s", gp_model_backend_note(m));
    return GP_OK;
}

void gpd_daemon_free_models(gpd_daemon *d)
{
    gp_model_close(d->model);
    gp_catalog_close(d->catalog);
    cache_free(d->cache);
    d->model = NULL;
    d->catalog = NULL;
    d->cache = NULL;
}

/* ------------------------------------------------------------ compute */

static void compute_infer(gpd_daemon *d, gpd_job *job)
{
    if (!d->cache) d->cache = calloc(1, sizeof *d->cache);
    int n = job->nshape;
    job->out = calloc((size_t)(n ? n : 1), sizeof *job->out);
    gp_frame **fr = calloc((size_t)(job->nsrc ? job->nsrc : 1), sizeof *fr);
    int *open_st = calloc((size_t)(job->nsrc ? job->nsrc : 1), sizeof *open_st);
    char (*open_msg)[512] = calloc((size_t)(job->nsrc ? job->nsrc : 1), sizeof *open_msg);
    gp_galaxy *gal = calloc((size_t)(n ? n : 1), sizeof *gal);
    float *cut = malloc(sizeof(float) * GP_CUTOUT_PIXELS * (size_t)(n ? n : 1));
    int *gi = calloc((size_t)(n ? n : 1), sizeof *gi);
    if (!d->cache || !job->out || !fr || !open_st || !open_msg || !gal || !cut || !gi) {
        job->status = GP_ERR_NOMEM;
        snprintf(job->error, sizeof job->error, "out of memory for %d galaxies", n);
        goto done;
    }
    gp_error err;
    double t_begin = gpd_now();
    int cur_src = -1;
    for (int i = 0; i < job->nsrc; i++) {
        gpd_source *s = &job->src[i];
        /* images of unknown band read through XPA are of no use */
        if (s->band == GP_BAND_UNKNOWN && !s->path[0] && s->frame != job->cur_frame) { open_st[i] = -1; continue; }
        open_st[i] = cache_frame(d->cache, s, &fr[i], &err);
        if (open_st[i]) {
            snprintf(open_msg[i], sizeof open_msg[i], "%s", err.msg);
            continue;
        }
        /* the file's FILTER keyword (or name) wins over the guess made in DS9 */
        int b = gp_frame_band(fr[i]);
        if (b != GP_BAND_UNKNOWN) s->band = b;
        /* set zeropoint, for frames in counts without one (this request's
         * setting: NaN takes back what an earlier request gave a cached frame) */
        double zp = s->band >= 0 && s->band < GP_NBANDS ? job->cfg.zeropoint[s->band] : NAN;
        if (gp_frame_set_zeropoint(fr[i], zp, "set zeropoint", &err)) {
            open_st[i] = err.status;
            snprintf(open_msg[i], sizeof open_msg[i], "%s", err.msg);
            continue;
        }
        if (s->frame == job->cur_frame && cur_src < 0) cur_src = i;
    }
    int uses_image = gp_model_uses_image(d->model);
    if (gpd_inputs_refuse(job, uses_image, d->catalog, job->error, sizeof job->error)) {
        job->status = GP_ERR_NOTFOUND;
        goto done;
    }
    gpd_opened op = { fr, open_st, (const char (*)[512])open_msg, cur_src };
    int k = 0;
    for (int i = 0; i < n; i++) {
        gpd_shape *sh = &job->shapes[i];
        gpd_outcome *o = &job->out[i];
        gpd_result *r = &o->res;
        uint32_t flags = 0;
        int has_cut = 0;
        float *c = cut + (size_t)k * GP_CUTOUT_PIXELS;
        int st = gpd_inputs_galaxy(job, &op, uses_image, d->catalog, sh, c, &has_cut, &flags, r, o->message,
                                   sizeof o->message);
        if (st) {
            o->status = st;
            continue;
        }
        gal[k].id = gp_position_key(sh->ra, sh->dec);   /* as galpost infer --frames */
        gal[k].cutout = has_cut ? c : NULL;
        memcpy(gal[k].mag, r->mag, sizeof gal[k].mag);
        gal[k].flags = flags;
        gi[k] = i;
        k++;
        /* overlay position in the current frame when DS9 gave none */
        o->has_image = sh->has_image;
        o->x = sh->x;
        o->y = sh->y;
        o->rpix = sh->rpix;
        if (!sh->has_image && cur_src >= 0 && gp_frame_has_wcs(fr[cur_src])) {
            double x, y;
            if (gp_frame_sky_to_pixel(fr[cur_src], sh->ra, sh->dec, &x, &y, NULL) == GP_OK) {
                o->has_image = 1;
                o->x = x;
                o->y = y;
                double sc = gp_frame_pixel_scale(fr[cur_src]);
                o->rpix = sh->radius > 0 && sc > 0 ? sh->radius / sc : 0;
            }
        }
        /* the overlay goes beside the galaxy, not on it: a click or a small
         * region on a large galaxy gives a radius smaller than the galaxy */
        if (has_cut && o->has_image && cur_src >= 0) {
            double ext, sc = gp_frame_pixel_scale(fr[cur_src]);
            if (gp_source_extent(c, &ext, NULL) == GP_OK && isfinite(ext) && sc > 0 && ext / sc > o->rpix)
                o->rpix = ext / sc;
        }
    }
    if (k > 0) {
        gp_infer_options io = gp_infer_options_default();
        io.nsamples = job->cfg.samples;
        io.seed = job->cfg.seed;
        io.keep_samples = 1;
        gp_result *res = calloc((size_t)k, sizeof *res);
        if (!res) {
            job->status = GP_ERR_NOMEM;
            snprintf(job->error, sizeof job->error, "out of memory for %d results", k);
            goto done;
        }
        double t0 = gpd_now();
        int st = gp_infer(d->model, gal, (size_t)k, &io, res, &err);
        double ms = (gpd_now() - t0) * 1e3 / k;
        gpd_log(GPD_LOG_DEBUG, "request %llu: frames, cutouts and colours %.1f ms, inference %.1f ms for %d galaxies",
                (unsigned long long)job->seq, (t0 - t_begin) * 1e3, ms * k, k);
        if (st && st != GP_ERR_DATA) {
            job->status = st;
            snprintf(job->error, sizeof job->error, "inference failed: %s", err.msg);
            gp_result_free(res, (size_t)k);
            free(res);
            goto done;
        }
        for (int j = 0; j < k; j++) {
            gpd_outcome *o = &job->out[gi[j]];
            if (res[j].status != GP_OK) {
                o->status = res[j].status;
                snprintf(o->message, sizeof o->message, "%s", res[j].message);
                gp_result_free(&res[j], 1);
                continue;
            }
            o->status = GP_OK;
            o->res.r = res[j];
            o->res.r.ra = o->res.ra;   /* (the samples' FITS table names the position) */
            o->res.r.dec = o->res.dec;
            o->res.seed = job->cfg.seed;
            o->res.compute_ms = ms;
            o->res.model_trained = gp_model_is_trained(d->model);
            snprintf(o->res.model, sizeof o->res.model, "%s", gp_model_path(d->model));
            job->nok++;
        }
        free(res);
    }
done:
    free(fr); free(open_st); free(open_msg); free(gal); free(cut); free(gi);
}

/* ------------------------------------------------------------- thread */

static void compute_reload(gpd_daemon *d, gpd_job *job)
{
    gp_error err;
    if (job->catalog_only) {
        /* set catalog opened it; in use from here on, in queue order (the
         * main thread lists it under mu, xpaget galpost catalog) */
        pthread_mutex_lock(&d->mu);
        gp_catalog *old_c = d->catalog;
        d->catalog = job->catalog;
        job->catalog = old_c;   /* closed when the job finishes */
        job->catalog_swapped = 1;
        pthread_mutex_unlock(&d->mu);
        model_facts(d);
        gpd_log(GPD_LOG_INFO, "catalogue %s", d->catalog_desc);
        return;
    }
    if (gpd_load_model(d, &job->cfg, &err)) {
        job->status = err.status;
        snprintf(job->error, sizeof job->error, "reload failed, keeping the previous model: %s", err.msg);
    }
}

void gpd_wake(gpd_daemon *d)
{
    char c = 'w';
    ssize_t r = write(d->wake[1], &c, 1);
    (void)r;
}

static void *worker_main(void *arg)
{
    gpd_daemon *d = arg;
    pthread_mutex_lock(&d->mu);
    for (;;) {
        while (!d->work && !d->stop) pthread_cond_wait(&d->cv, &d->mu);
        if (d->stop) break;
        gpd_job *job = d->work;
        pthread_mutex_unlock(&d->mu);
        if (job->kind == GPD_JOB_INFER) compute_infer(d, job);
        else if (job->kind == GPD_JOB_RELOAD) compute_reload(d, job);
        pthread_mutex_lock(&d->mu);
        job->t_computed = gpd_now();
        job->state = GPD_JOB_COMPUTED;
        d->work = NULL;
        gpd_wake(d);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

int gpd_worker_start(gpd_daemon *d, gp_error *err)
{
    int rc = pthread_create(&d->thread, NULL, worker_main, d);
    if (rc) return GP_FAIL(err, GP_ERR_INTERNAL, "cannot start the worker thread: %s", strerror(rc));
    d->thread_started = 1;
    return GP_OK;
}

void gpd_worker_submit(gpd_daemon *d, gpd_job *job)
{
    pthread_mutex_lock(&d->mu);
    job->state = GPD_JOB_COMPUTE;
    d->work = job;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

void gpd_worker_stop(gpd_daemon *d)
{
    if (!d->thread_started) return;
    pthread_mutex_lock(&d->mu);
    d->stop = 1;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
    pthread_join(d->thread, NULL);
    d->thread_started = 0;
}
