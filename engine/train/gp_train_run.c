/*
 * gp_train_run.c: the training protocol of `galpost train` (see
 * gp_train_run.h): partition, statistics, VAE stage, encoding, flow stage
 * with an ensemble of K members, checkpoints, progress and the final
 * weights file.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "galpost/gp_model.h"
#include "galpost/gp_weights.h"
#include "gp_model_internal.h"
#include "gp_rng.h"
#include "gp_train.h"
#include "gp_train_run.h"
#include "gp_latent_cache.h"
#include "gp_hash.h"

#define TRY(x) do { if ((st = (x)) != GP_OK) goto done; } while (0)

void gp_train_opts_default(gp_train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->arch = gp_arch_default();
    o->seed = 1;
    o->backend = GP_BACKEND_CPU;
    o->vae_count = -1;         /* the default: 25% of the usable rows for an image model's own VAE, else none */
    o->vae_epochs = 4;
    o->vae_batch = 16;
    o->vae_lr = 1e-3f;
    o->vae_beta = 1.0;
    o->vae_soft = 1.0;
    o->flow_epochs = 60;
    o->flow_batch = 256;
    o->patience = 8;
    o->flow_lr = 1e-3f;
}

void gp_train_fmt_time(double s, char *buf, size_t n)
{
    if (!isfinite(s) || s < 0) { snprintf(buf, n, "?"); return; }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ldh%02ldm", t / 3600, (t / 60) % 60);
    else if (t >= 60) snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
    else snprintf(buf, n, "%lds", t);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void logf_(const gp_train_opts *o, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void logf_(const gp_train_opts *o, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    char stamp[32];
    time_t t = time(NULL);
    struct tm tmv;
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", gmtime_r(&t, &tmv));
    if (o->progress) fprintf(stderr, "\r\033[K");
    fprintf(stderr, "%s\n", line);
    if (o->log) { fprintf(o->log, "%s %s\n", stamp, line); fflush(o->log); }
}

static void progress_line(const gp_train_opts *o, const char *stage, int epoch, int epochs, long done,
                          long total, double loss, double rate, double eta)
{
    if (!o->progress) return;
    char e[32];
    gp_train_fmt_time(eta, e, sizeof e);
    char l[40] = "";   /* NaN: a stage without a loss (encoding) */
    if (!isnan(loss)) snprintf(l, sizeof l, "  loss %.4g", loss);
    fprintf(stderr, "\r\033[K%s epoch %d/%d  %ld/%ld%s  %.1f galaxies/s  ETA %s", stage, epoch, epochs,
            done, total, l, rate, e);
    fflush(stderr);
}

static void shuffle(long *a, long n, uint64_t seed, uint64_t salt)
{
    uint64_t s = gp_splitmix64(seed ^ gp_splitmix64(salt));
    for (long i = n - 1; i > 0; i--) {
        s = gp_splitmix64(s);
        long j = (long)(s % (uint64_t)(i + 1));
        long t = a[i]; a[i] = a[j]; a[j] = t;
    }
}

typedef struct keyed { uint64_t key; long row; } keyed;
static int cmp_keyed(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return x->row < y->row ? -1 : x->row > y->row;
}

int gp_train_partition(const gp_dataset *d, uint64_t seed, long vae_count, long max_rows,
                       int8_t *part, gp_error *err)
{
    keyed *k = malloc(sizeof(keyed) * (size_t)(d->n ? d->n : 1));
    if (!k) return GP_FAIL(err, GP_ERR_NOMEM, "cannot allocate the partition of %ld rows", d->n);
    long nu = 0;
    for (long i = 0; i < d->n; i++) {
        part[i] = GP_PART_BAD;
        if (d->bad[i] & ~GP_BAD_IMAGE) continue;   /* (GP_BAD_IMAGE alone: keeps its place, see below) */
        k[nu].key = gp_splitmix64(gp_splitmix64(seed ^ 0x5151A7ull) ^ d->id[i]);
        k[nu].row = i;
        nu++;
    }
    qsort(k, (size_t)nu, sizeof(keyed), cmp_keyed);
    if (max_rows > 0 && nu > max_rows) nu = max_rows;
    if (vae_count < 0 || vae_count >= nu) {
        free(k);
        return GP_FAIL(err, GP_ERR_ARG, "VAE part of %ld galaxies leaves nothing for the flow stage (%ld usable rows)",
                       vae_count, nu);
    }
    long rest = nu - vae_count;
    long ntrain = (long)(0.70 * rest), nval = (long)(0.15 * rest);
    for (long j = 0; j < nu; j++) {
        long r = k[j].row;
        if (d->bad[r]) part[r] = GP_PART_BAD;   /* a cutout with non-finite pixels: its slot stays empty */
        else if (j < vae_count) part[r] = GP_PART_VAE;
        else if (j - vae_count < ntrain) part[r] = GP_PART_TRAIN;
        else if (j - vae_count < ntrain + nval) part[r] = GP_PART_VAL;
        else part[r] = GP_PART_TEST;
    }
    free(k);
    return GP_OK;
}

int gp_train_screen_images(gp_dataset *d, int8_t *part, unsigned parts, int progress,
                           volatile sig_atomic_t *interrupted,
                           void (*note)(void *ctx, const char *line), void *ctx, long *nfound,
                           gp_error *err)
{
    *nfound = 0;
    long n = 0;
    for (long i = 0; i < d->n; i++) n += part[i] >= 0 && (parts & (1u << part[i]));
    long *rows = malloc(sizeof(long) * (size_t)(n ? n : 1));
    if (!rows) return GP_FAIL(err, GP_ERR_NOMEM, "cannot allocate the list of %ld cutouts to screen", n);
    n = 0;
    for (long i = 0; i < d->n; i++) if (part[i] >= 0 && (parts & (1u << part[i]))) rows[n++] = i;
    int st = GP_OK;
    double t0 = now_s(), shown = t0;
    const long CH = 64;
    char line[1200];
    for (long i0 = 0; i0 < n && !st; i0 += CH) {
        if (interrupted && *interrupted) {
            st = GP_FAIL(err, GP_ERR_INTERRUPTED, "interrupted while screening the cutouts (%ld of %ld read)", i0, n);
            break;
        }
        long nb = n - i0 < CH ? n - i0 : CH;
        st = gp_dataset_check_images(d, rows + i0, nb, err);
        for (long j = i0; !st && j < i0 + nb; j++) {
            long r = rows[j];
            if (!(d->bad[r] & GP_BAD_IMAGE)) continue;
            part[r] = GP_PART_BAD;
            if (note && *nfound < 20) {
                char where[1100];
                gp_dataset_row_where(d, r, 0, where, sizeof where);
                snprintf(line, sizeof line, "%s: cutout with non-finite pixels: left out", where);
                note(ctx, line);
            }
            (*nfound)++;
        }
        double t = now_s();
        if (progress && (t - shown > 0.5 || i0 + nb == n)) {
            char e[32];
            double rate = (i0 + nb) / (t - t0 > 1e-9 ? t - t0 : 1e-9);
            gp_train_fmt_time((n - i0 - nb) / rate, e, sizeof e);
            fprintf(stderr, "\r\033[K[screen cutouts] %ld/%ld  %.0f cutouts/s  ETA %s", i0 + nb, n, rate, e);
            fflush(stderr);
            shown = t;
        }
    }
    if (progress) fprintf(stderr, "\r\033[K");
    free(rows);
    if (!st && note) {
        snprintf(line, sizeof line, "cutouts screened: %ld read in %.1f s, %ld with non-finite pixels%s", n,
                 now_s() - t0, *nfound, *nfound > 20 ? " (the first 20 named above)" : "");
        note(ctx, line);
    }
    return st;
}

/* -------------------------------------------------------- statistics */

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Band stretch from up to 256 VAE cutouts: softening = `soft_sigmas` times
 * the median over galaxies of the border pixels' robust sigma; offset,
 * scale = mean, std of the asinh-stretched pixels. */
static int stretch_stats(gp_dataset *d, const long *rows, long n, double soft_sigmas, double soft[3], double off[3],
                         double scl[3], gp_error *err)
{
    long m = n < 256 ? n : 256;
    float *img = malloc(sizeof(float) * GP_CUTOUT_PIXELS);
    float *sig = malloc(sizeof(float) * 3 * (size_t)(m ? m : 1));
    float *border = malloc(sizeof(float) * 4 * 10 * GP_CUTOUT_SIZE);
    int st = GP_OK;
    if (!img || !sig || !border) { st = GP_FAIL(err, GP_ERR_NOMEM, "cannot allocate stretch statistics"); goto done; }
    const int S = GP_CUTOUT_SIZE;
    for (long i = 0; i < m; i++) {
        long r = rows[i * (n / m)];
        TRY(gp_dataset_read_images(d, &r, 1, img, err));
        for (int b = 0; b < 3; b++) {
            const float *p = img + (size_t)b * S * S;
            int nb = 0;
            for (int y = 0; y < S; y++)
                for (int x = 0; x < S; x++)
                    if (y < 10 || y >= S - 10 || x < 10 || x >= S - 10) {
                        if (nb < 4 * 10 * S) border[nb++] = p[y * S + x];
                    }
            qsort(border, (size_t)nb, sizeof(float), cmp_float);
            float med = border[nb / 2];
            for (int q = 0; q < nb; q++) border[q] = fabsf(border[q] - med);
            qsort(border, (size_t)nb, sizeof(float), cmp_float);
            sig[b * m + i] = 1.4826f * border[nb / 2];
        }
    }
    for (int b = 0; b < 3; b++) {
        qsort(sig + b * m, (size_t)m, sizeof(float), cmp_float);
        soft[b] = soft_sigmas * sig[b * m + m / 2];
        if (!(soft[b] > 0)) soft[b] = 0.01;
    }
    /* moments of the stretched pixels */
    double s1[3] = { 0, 0, 0 }, s2[3] = { 0, 0, 0 };
    long cnt = 0;
    for (long i = 0; i < m; i++) {
        long r = rows[i * (n / m)];
        TRY(gp_dataset_read_images(d, &r, 1, img, err));
        for (int b = 0; b < 3; b++)
            for (int q = 0; q < S * S; q += 7) {
                double v = asinh(img[(size_t)b * S * S + q] / soft[b]);
                s1[b] += v; s2[b] += v * v;
            }
        cnt += (S * S + 6) / 7;
    }
    for (int b = 0; b < 3; b++) {
        off[b] = s1[b] / cnt;
        double var = s2[b] / cnt - off[b] * off[b];
        scl[b] = var > 1e-6 ? sqrt(var) : 1.0;
    }
done:
    free(img); free(sig); free(border);
    return st;
}

/* ----------------------------------------------------------- settings */

/* Everything that changes what a run computes, recorded in its checkpoint
 * as ckpt.set.<key> = a string: a rerun resumes only when every one is the
 * same (check_settings).  Left out, free to differ on a resume: the output
 * file (-o), the work directory, the log, the progress line and the
 * provenance command.  The data are compared by content (rows, objIDs,
 * magnitudes, targets, flags), not by file name; --encoder-from by the
 * file's size and hash; the compute by backend and CPU thread count (a
 * run is reproducible for a given seed and thread count, or card). */
#define GP_NSET_MAX 40
typedef struct run_setting {
    const char *key;    /* ckpt.set.<key> */
    const char *what;   /* how a user sets it, for the messages */
    const char *absent; /* the value of a setting added later, for the
                           checkpoints written before it (which ran at its
                           default); NULL: a checkpoint must record it */
    char val[200];
} run_setting;

/* ----------------------------------------------------------- state */

typedef struct run_state {
    int    stage;          /* 0 VAE, 1 flow, 2 done */
    int    vae_epoch;      /* completed epochs */
    long   vae_batch;      /* completed batches of the current epoch */
    long   vae_step;
    int    member;         /* current member */
    int    flow_epoch;     /* completed epochs of the member */
    long   flow_step;
    double best_val;
    int    bad_epochs;
    int    best_epoch;
    double vae_seconds, flow_seconds;
    double vae_last_loss;
    double vae_gnorm_ema;  /* running mean of the VAE's (clipped) gradient norm; 0: none yet */
    long   vae_clipped;    /* VAE steps whose gradient was clipped */
    double member_val[GP_ENSEMBLE_MAX];
    int    member_epochs[GP_ENSEMBLE_MAX];
} run_state;

typedef struct run_ctx {
    const gp_train_opts *o;
    gp_backend *be;
    gp_weights *init;
    gp_tparams ps;
    run_state  s;
    char ckpt[4096], init_path[4096], latents[4096];
    float *best;           /* host copy of the current member's best parameters */
    size_t best_n;
    long nrows;
    run_setting set[GP_NSET_MAX];   /* this run's settings (ckpt.set.*) */
    int nset;
} run_ctx;

static int file_identity(const char *path, char *out, size_t n, gp_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return GP_FAIL(err, GP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    uint64_t h = GP_FNV1A_BASIS;
    long long size = 0;
    unsigned char buf[65536];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, f)) > 0) { h = gp_fnv1a(h, buf, k); size += (long long)k; }
    int bad = ferror(f);
    fclose(f);
    if (bad) return GP_FAIL(err, GP_ERR_IO, "%s: read error", path);
    snprintf(out, n, "%lld bytes, FNV-1a %016llx", size, (unsigned long long)h);
    return GP_OK;
}

/* A float setting, as short as reads back to the same float (0.001, not 0.00100000005). */
static const char *fmt_float(char *buf, size_t n, float v)
{
    snprintf(buf, n, "%.7g", (double)v);
    if (strtof(buf, NULL) != v) snprintf(buf, n, "%.9g", (double)v);
    return buf;
}

static int run_settings(run_ctx *c, const gp_dataset *d, gp_error *err)
{
    char fb[32];
    const gp_train_opts *o = c->o;
    const gp_arch *a = &o->arch;
    int n = 0;
#define SET(k, w, ...) do { c->set[n].key = k; c->set[n].what = w; c->set[n].absent = NULL; \
                            snprintf(c->set[n].val, sizeof c->set[n].val, __VA_ARGS__); n++; } while (0)
    SET("kind", "the model kind (--photometry)", "%s", a->uses_image ? "image" : "photometry-only");
    SET("enc-channels", "--enc-channels", "%d,%d,%d", a->enc_channels[0], a->enc_channels[1], a->enc_channels[2]);
    SET("latent", "--latent", "%d", a->latent);
    {
        char t[64] = "";
        size_t pos = 0;
        for (int i = 0; i < a->trunk_layers && i < GP_ARCH_MAX_HIDDEN && pos < sizeof t; i++)
            pos += (size_t)snprintf(t + pos, sizeof t - pos, "%s%d", i ? "," : "", a->trunk[i]);
        SET("trunk", "--trunk", "%s", t);
    }
    SET("head-hidden", "--head-hidden", "%d", a->head_hidden);
    SET("flow-hidden", "--flow-hidden", "%d", a->flow_hidden);
    SET("flow-depth", "the flow conditioners' depth (gp_arch.flow_depth)", "%d", a->flow_depth);
    SET("couplings", "--couplings", "%d", a->couplings);
    SET("scale-bound", "the coupling scale bound (gp_arch.scale_bound)", "%s", fmt_float(fb, sizeof fb, a->scale_bound));
    SET("leaky-slope", "the LeakyReLU slope (gp_arch.leaky_slope)", "%s", fmt_float(fb, sizeof fb, a->leaky_slope));
    SET("flow-gain", "the flows' initial gain (gp_arch.flow_gain)", "%s", fmt_float(fb, sizeof fb, a->flow_gain));
    SET("ensemble", "--ensemble", "%d", a->ensemble);
    SET("seed", "--seed", "%llu", (unsigned long long)o->seed);
    if (o->vae_count < 0) SET("vae-count", "--vae-count", "the default");
    else SET("vae-count", "--vae-count", "%ld", o->vae_count);
    if (o->max_rows > 0) SET("max-rows", "--max-rows", "%ld", o->max_rows);
    else SET("max-rows", "--max-rows", "all rows");
    SET("vae-epochs", "--vae-epochs", "%d", o->vae_epochs);
    SET("vae-batch", "--vae-batch", "%d", o->vae_batch);
    SET("vae-lr", "--vae-lr", "%s", fmt_float(fb, sizeof fb, o->vae_lr));
    SET("vae-beta", "--vae-beta", "%.17g", o->vae_beta);
    /* recorded always, so that a checkpoint of --vae-soft 4 is not resumed
     * without it; checkpoints from before the option ran at 1 */
    SET("vae-soft", "--vae-soft", "%.17g", o->vae_soft);
    c->set[n - 1].absent = "1";
    SET("flow-epochs", "--flow-epochs", "%d", o->flow_epochs);
    SET("flow-batch", "--flow-batch", "%d", o->flow_batch);
    SET("flow-lr", "--flow-lr", "%s", fmt_float(fb, sizeof fb, o->flow_lr));
    SET("patience", "--patience", "%d", o->patience);
    if (o->encoder_from) {
        char id[160];
        int st = file_identity(o->encoder_from, id, sizeof id, err);
        if (st) return st;
        SET("encoder-from", "--encoder-from", "%s", id);
    } else
        SET("encoder-from", "--encoder-from", "none");
    {
        uint64_t h = GP_FNV1A_BASIS;
        h = gp_fnv1a(h, d->id, sizeof(uint64_t) * (size_t)d->n);
        h = gp_fnv1a(h, d->mag, sizeof(float) * 5 * (size_t)d->n);
        h = gp_fnv1a(h, d->target, sizeof(float) * 9 * (size_t)d->n);
        h = gp_fnv1a(h, d->oh_ok, (size_t)d->n);
        for (long i = 0; i < d->n; i++) { uint8_t b = d->bad[i] & (uint8_t)~GP_BAD_IMAGE; h = gp_fnv1a(h, &b, 1); }
        SET("data", "the data (the shards' rows and values)", "%ld rows in %d shard%s, fingerprint %016llx", d->n,
            d->nshards, d->nshards == 1 ? "" : "s", (unsigned long long)h);
    }
    if (!strncmp(c->be->description, "cpu", 3))
        SET("compute", "the compute (--backend, --threads)", "cpu, %d thread%s", c->be->threads, c->be->threads == 1 ? "" : "s");
    else {   /* "cuda:0 (NAME, 79.1 GiB...)": the device and card */
        char card[128];
        snprintf(card, sizeof card, "%s", c->be->description);
        char *cut = strstr(card, ", ");
        if (cut) { cut[0] = ')'; cut[1] = 0; }
        SET("compute", "the compute (--backend, --device)", "%s", card);
    }
#undef SET
    c->nset = n;
    return GP_OK;
}

/* Refuse a checkpoint made with other settings (or by a galpost that did not
 * record them), naming the first that differs. */
static int check_settings(const run_ctx *c, gp_error *err)
{
    gp_weights *w = NULL;
    int st = gp_weights_open(c->ckpt, &w, err);
    if (st) return st;
    for (int i = 0; i < c->nset && !st; i++) {
        char key[96];
        const char *v;
        snprintf(key, sizeof key, "ckpt.set.%s", c->set[i].key);
        int have = gp_weights_meta_str(w, key, &v, NULL) == GP_OK;
        if (!have && c->set[i].absent) {
            v = c->set[i].absent;   /* written before the setting was: its default */
            have = 1;
        }
        if (!have) {
            st = GP_FAIL(err, GP_ERR_ARG, "%s: the checkpoint does not record %s (%s; written by %s galpost): it cannot "
                         "be told to match this run; remove the work directory %s to start afresh, or give another -w",
                         c->ckpt, c->set[i].what, key, i == 0 ? "an older" : "another", c->o->workdir);
        } else if (strcmp(v, c->set[i].val)) {
            st = GP_FAIL(err, GP_ERR_ARG, "%s: the checkpoint was made with other settings: %s is %s there, %s in this "
                         "run; remove the work directory %s to start afresh, or give another -w", c->ckpt,
                         c->set[i].what, v, c->set[i].val, c->o->workdir);
        }
    }
    gp_weights_close(w);
    return st;
}

static int member_prefix(char *buf, size_t n, int k) { return snprintf(buf, n, "m%d.", k); }

static int save_checkpoint(run_ctx *c, gp_error *err)
{
    gp_weights_writer *wr = NULL;
    int st = gp_weights_writer_new(&wr, err);
    if (st) return st;
    const run_state *s = &c->s;
#define I(k, v) if (!st) st = gp_weights_writer_set_i64(wr, k, v, err)
#define F(k, v) if (!st) st = gp_weights_writer_set_f64(wr, k, v, err)
    if (!st) st = gp_weights_writer_set_str(wr, "galpost.kind", "checkpoint", err);
    for (int i = 0; i < c->nset && !st; i++) {
        char key[96];
        snprintf(key, sizeof key, "ckpt.set.%s", c->set[i].key);
        st = gp_weights_writer_set_str(wr, key, c->set[i].val, err);
    }
    I("ckpt.seed", (int64_t)c->o->seed);
    I("ckpt.rows", c->nrows);
    I("ckpt.stage", s->stage);
    I("ckpt.vae_epoch", s->vae_epoch);
    I("ckpt.vae_batch", s->vae_batch);
    I("ckpt.vae_step", s->vae_step);
    I("ckpt.member", s->member);
    I("ckpt.flow_epoch", s->flow_epoch);
    I("ckpt.flow_step", s->flow_step);
    F("ckpt.best_val", isfinite(s->best_val) ? s->best_val : 1e300);
    I("ckpt.bad_epochs", s->bad_epochs);
    I("ckpt.best_epoch", s->best_epoch);
    F("ckpt.vae_seconds", s->vae_seconds);
    F("ckpt.flow_seconds", s->flow_seconds);
    F("ckpt.vae_last_loss", s->vae_last_loss);
    F("ckpt.vae_gnorm_ema", s->vae_gnorm_ema);
    I("ckpt.vae_clipped", s->vae_clipped);
    F("ckpt.z_softplus", GP_Z_SOFTPLUS);   /* the redshift target the flow members are trained on */
    if (!st) st = gp_weights_writer_set_f64_array(wr, "ckpt.member_val", s->member_val, GP_ENSEMBLE_MAX, err);
    {
        int64_t me[GP_ENSEMBLE_MAX];
        for (int k = 0; k < GP_ENSEMBLE_MAX; k++) me[k] = s->member_epochs[k];
        if (!st) st = gp_weights_writer_set_i64_array(wr, "ckpt.member_epochs", me, GP_ENSEMBLE_MAX, err);
    }
#undef I
#undef F
    if (!st) st = gp_tparams_write(&c->ps, wr, 1, err);
    /* the member's best-epoch copy, once it has one (before its first epoch the
     * buffer holds nothing of it: load_checkpoint then finds no best.* and
     * starts from none, as here) */
    if (!st && c->best && s->stage == 1 && isfinite(s->best_val)) {
        char pre[32];
        member_prefix(pre, sizeof pre, s->member);
        size_t off = 0;
        for (int i = 0; i < c->ps.n && !st; i++) {
            gp_tparam *p = &c->ps.p[i];
            if (strncmp(p->name, pre, strlen(pre))) continue;
            char key[GP_WEIGHTS_NAME_MAX + 8];
            snprintf(key, sizeof key, "best.%s", p->name);
            st = gp_weights_writer_add_tensor(wr, key, p->ndim, p->dims, c->best + off, err);
            off += p->n;
        }
    }
    if (!st) st = gp_weights_writer_write(wr, c->ckpt, err);
    gp_weights_writer_free(wr);
    return st;
}

static int load_checkpoint(run_ctx *c, gp_error *err)
{
    gp_weights *w = NULL;
    int st = gp_weights_open(c->ckpt, &w, err);
    if (st) return st;
    int64_t v;
    double f;
    run_state *s = &c->s;
    if ((st = gp_weights_meta_i64(w, "ckpt.seed", &v, err))) goto done;
    if ((uint64_t)v != c->o->seed) { st = GP_FAIL(err, GP_ERR_ARG, "%s: checkpoint of seed %lld, this run has seed %llu (remove the work directory to start afresh)", c->ckpt, (long long)v, (unsigned long long)c->o->seed); goto done; }
    if ((st = gp_weights_meta_i64(w, "ckpt.rows", &v, err))) goto done;
    if (v != c->nrows) { st = GP_FAIL(err, GP_ERR_ARG, "%s: checkpoint of a %lld-row data set, this run has %ld rows", c->ckpt, (long long)v, c->nrows); goto done; }
#define GI(k, dst) if ((st = gp_weights_meta_i64(w, k, &v, err))) goto done; dst = v
#define GF(k, dst) if ((st = gp_weights_meta_f64(w, k, &f, err))) goto done; dst = f
    GI("ckpt.stage", s->stage);
    if (s->stage >= 1) {
        /* flow members already trained on one redshift target must not be
         * finished on another (the final file records one target.z_softplus) */
        double zs = 0.0;
        if (gp_weights_meta_f64(w, "ckpt.z_softplus", &zs, NULL) != GP_OK) zs = 0.0;
        if (zs != GP_Z_SOFTPLUS) {
            st = GP_FAIL(err, GP_ERR_ARG, "%s: checkpoint's flow stage was trained on %s, this galpost trains on "
                         "s ln(exp(z/s) - 1) with s = %g (remove the checkpoint to retrain the flow stage; "
                         "--encoder-from keeps the VAE)", c->ckpt,
                         zs > 0 ? "another redshift transform" : "z itself", GP_Z_SOFTPLUS);
            goto done;
        }
    }
    GI("ckpt.vae_epoch", s->vae_epoch);
    GI("ckpt.vae_batch", s->vae_batch);
    GI("ckpt.vae_step", s->vae_step);
    GI("ckpt.member", s->member);
    GI("ckpt.flow_epoch", s->flow_epoch);
    GI("ckpt.flow_step", s->flow_step);
    GF("ckpt.best_val", s->best_val);
    if (s->best_val >= 1e300) s->best_val = INFINITY;   /* save_checkpoint's "none yet" */
    GI("ckpt.bad_epochs", s->bad_epochs);
    GI("ckpt.best_epoch", s->best_epoch);
    GF("ckpt.vae_seconds", s->vae_seconds);
    GF("ckpt.flow_seconds", s->flow_seconds);
    GF("ckpt.vae_last_loss", s->vae_last_loss);
    /* (absent from checkpoints written before the clip: the mean restarts) */
    if (gp_weights_meta_f64(w, "ckpt.vae_gnorm_ema", &f, NULL) == GP_OK) s->vae_gnorm_ema = f;
    if (gp_weights_meta_i64(w, "ckpt.vae_clipped", &v, NULL) == GP_OK) s->vae_clipped = v;
#undef GI
#undef GF
    {
        const double *mv;
        const int64_t *me;
        size_t n;
        if ((st = gp_weights_meta_f64_array(w, "ckpt.member_val", &mv, &n, err))) goto done;
        for (size_t k = 0; k < n && k < GP_ENSEMBLE_MAX; k++) s->member_val[k] = mv[k];
        if ((st = gp_weights_meta_i64_array(w, "ckpt.member_epochs", &me, &n, err))) goto done;
        for (size_t k = 0; k < n && k < GP_ENSEMBLE_MAX; k++) s->member_epochs[k] = (int)me[k];
    }
    if ((st = gp_tparams_load(&c->ps, w, 1, err))) goto done;
    if (s->stage == 1 && c->best) {
        char pre[32];
        member_prefix(pre, sizeof pre, s->member);
        size_t off = 0;
        for (int i = 0; i < c->ps.n; i++) {
            gp_tparam *p = &c->ps.p[i];
            if (strncmp(p->name, pre, strlen(pre))) continue;
            char key[GP_WEIGHTS_NAME_MAX + 8];
            snprintf(key, sizeof key, "best.%s", p->name);
            const float *d;
            if (gp_weights_tensor_shaped(w, key, p->ndim, p->dims, &d, NULL) == GP_OK)
                memcpy(c->best + off, d, sizeof(float) * p->n);
            else
                c->s.best_val = INFINITY;   /* no best copy yet */
            off += p->n;
        }
    }
done:
    gp_weights_close(w);
    return st;
}

/* Host copies of member k's parameters (to = 1: params -> best; 0: best -> params). */
static int member_copy(run_ctx *c, int k, int to_best, gp_error *err)
{
    char pre[32];
    member_prefix(pre, sizeof pre, k);
    size_t off = 0;
    for (int i = 0; i < c->ps.n; i++) {
        gp_tparam *p = &c->ps.p[i];
        if (strncmp(p->name, pre, strlen(pre))) continue;
        int st = to_best ? c->be->ops->download(c->be, c->best + off, p->w, sizeof(float) * p->n, err)
                         : c->be->ops->upload(c->be, p->w, c->best + off, sizeof(float) * p->n, err);
        if (st) return st;
        off += p->n;
    }
    return GP_OK;
}

/* ----------------------------------------------------------- stages */

static void vae_eps(uint64_t seed, uint64_t id, int epoch, int latent, float *eps)
{
    for (int d = 0; d < latent; d += 4) {
        float r[4];
        gp_rng_normals4(seed ^ 0xE75ull, id, (uint32_t)epoch, 16u + (uint32_t)(d / 4), r);
        for (int q = 0; q < 4 && d + q < latent; q++) eps[d + q] = r[q];
    }
}

/* The VAE's gradient-norm clip: a step whose encoder + decoder gradient
 * norm exceeds GP_VAE_CLIP times the running mean of the previous steps'
 * norms is scaled down to that bound (both parts by the same factor).
 * The reconstruction loss is a sum over 76,800 pixels, so one image the
 * encoder maps far out (a log-variance of 11, say) can give one batch a
 * gradient a thousand times the usual: unclipped, such a spike sent a
 * 14-epoch training of the shipped architecture to NaN in six steps
 * (step 4261, norm 5e7 against ~2e4).  The mean (weight 1/50, the bound
 * counted instead of a clipped spike) starts at the first step's norm.
 * Returns through *scale the factor for both parts' gradients (1: not
 * clipped); a non-finite norm is the divergence error. */
#define GP_VAE_CLIP 4.0
static int vae_clip(run_ctx *c, float *scale, gp_error *err)
{
    double ne, nd;
    int st = gp_tparams_grad_norm(&c->ps, "enc.", &ne, err);
    if (!st) st = gp_tparams_grad_norm(&c->ps, "dec.", &nd, err);
    if (!st) st = gp_tparams_diverged("enc.", ne, c->s.vae_step, err);
    if (!st) st = gp_tparams_diverged("dec.", nd, c->s.vae_step, err);
    if (st) return st;
    *scale = (float)gp_train_adaptive_clip(&c->s.vae_gnorm_ema, sqrt(ne * ne + nd * nd), GP_VAE_CLIP, 0.02);
    if (*scale < 1.0f) c->s.vae_clipped++;
    return GP_OK;
}

static int stage_vae(run_ctx *c, gp_dataset *d, const long *vrows, long nv, const float soft[3],
                     const float off[3], const float scl[3], gp_error *err)
{
    const gp_train_opts *o = c->o;
    gp_backend *be = c->be;
    int B = o->vae_batch;
    gp_tvae v;
    memset(&v, 0, sizeof v);
    int st = gp_tvae_bind(&v, &c->ps, c->init, B, err);
    float *hx = malloc(sizeof(float) * (size_t)B * GP_CUTOUT_PIXELS);
    float *x = be->ops->alloc(be, sizeof(float) * (size_t)B * GP_CUTOUT_PIXELS);
    float *eps = malloc(sizeof(float) * (size_t)B * v.latent + 1);
    long *order = malloc(sizeof(long) * (size_t)nv);
    if (!st && (!hx || !x || !eps || !order)) st = GP_FAIL(err, GP_ERR_NOMEM, "VAE: cannot allocate a batch of %d cutouts", B);
    if (st) goto done;
    long nb = nv / B;   /* full batches only */
    double t0 = now_s(), last_ckpt = t0;
    double sec0 = c->s.vae_seconds;
    long done_total = (long)c->s.vae_epoch * nb + c->s.vae_batch, all = (long)o->vae_epochs * nb;
    long session_batches = 0;
    while (c->s.vae_epoch < o->vae_epochs) {
        int ep = c->s.vae_epoch;
        for (long i = 0; i < nv; i++) order[i] = vrows[i];
        shuffle(order, nv, o->seed, 0xAE00ull + (uint64_t)ep);
        /* the epoch's mean loss leaves out clipped steps: one such batch
         * (loss 1e17, say) would otherwise hide the other 499 */
        double ep_rec = 0, ep_kl = 0;
        long ep_n = 0, ep_clipped = 0;
        for (long b = c->s.vae_batch; b < nb; b++) {
            if (o->interrupted && *o->interrupted) {
                st = save_checkpoint(c, err);
                if (!st) st = GP_FAIL(err, GP_ERR_INTERRUPTED, "interrupted in VAE epoch %d after %ld batches; checkpoint %s written, rerun the same command to resume",
                                      ep + 1, b, c->ckpt);
                goto done;
            }
            const long *br = order + b * B;
            TRY(gp_dataset_read_images(d, br, B, hx, err));
            TRY(be->ops->upload(be, x, hx, sizeof(float) * (size_t)B * GP_CUTOUT_PIXELS, err));
            TRY(be->ops->stretch(be, x, B, 3, GP_CUTOUT_SIZE * GP_CUTOUT_SIZE, soft, off, scl, err));
            for (int i = 0; i < B; i++) vae_eps(o->seed, d->id[br[i]], ep, v.latent, eps + (size_t)i * v.latent);
            TRY(gp_tparams_zero_grad(&c->ps, "enc.", err));
            TRY(gp_tparams_zero_grad(&c->ps, "dec.", err));
            double rec = 0, kl = 0;
            TRY(gp_tvae_step(be, &v, x, B, eps, o->vae_beta, &rec, &kl, 1, err));
            c->s.vae_step++;
            float scale;
            TRY(vae_clip(c, &scale, err));   /* (the norms once: gp_tparams_adam would take them again) */
            TRY(gp_tparams_adam_scaled(&c->ps, "enc.", o->vae_lr, c->s.vae_step, scale, err));
            TRY(gp_tparams_adam_scaled(&c->ps, "dec.", o->vae_lr, c->s.vae_step, scale, err));
            if (!isfinite(rec) || !isfinite(kl)) { st = GP_FAIL(err, GP_ERR_DATA, "VAE diverged at step %ld (loss %g + %g)", c->s.vae_step, rec, kl); goto done; }
            if (scale < 1.0f) ep_clipped++;
            else { ep_rec += rec * B; ep_kl += kl * B; ep_n += B; }
            c->s.vae_batch = b + 1;
            done_total++;
            session_batches++;
            double el = now_s() - t0;
            double rate = session_batches * B / (el > 1e-9 ? el : 1e-9);
            progress_line(o, "[vae]", ep + 1, o->vae_epochs, (b + 1) * B, nb * B, ep_n ? (ep_rec + ep_kl) / ep_n : 0,
                          rate, (all - done_total) * (double)B / rate);
            if (o->log && (b + 1) % 50 == 0)
            {
                fprintf(o->log, "vae epoch %d batch %ld/%ld rec %.2f kl %.2f (per image) %.1f img/s\n", ep + 1, b + 1, nb,
                        ep_n ? ep_rec / ep_n : 0, ep_n ? ep_kl / ep_n : 0, rate);
                fflush(o->log);
            }
            if (now_s() - last_ckpt > 300) {
                c->s.vae_seconds = sec0 + (now_s() - t0);
                TRY(save_checkpoint(c, err));
                last_ckpt = now_s();
            }
        }
        c->s.vae_epoch++;
        c->s.vae_batch = 0;
        c->s.vae_seconds = sec0 + (now_s() - t0);
        if (ep_n) c->s.vae_last_loss = (ep_rec + ep_kl) / ep_n;
        logf_(o, "vae epoch %d/%d: reconstruction %.2f + KL %.2f per image (%ld images; %ld clipped batches left out, "
              "%ld in all; %.1f min so far)", ep + 1, o->vae_epochs, ep_n ? ep_rec / ep_n : 0, ep_n ? ep_kl / ep_n : 0,
              ep_n, ep_clipped, c->s.vae_clipped, c->s.vae_seconds / 60);
        TRY(save_checkpoint(c, err));
        last_ckpt = now_s();
    }
done:
    gp_tvae_free(&v, be);
    if (x) be->ops->free(be, x);
    free(hx); free(eps); free(order);
    return st;
}

/* The fingerprint of a latent cache for these rows, this encoder ("enc.*"
 * parameters, downloaded from the backend) and this stretch. */
static int latent_key(run_ctx *c, gp_dataset *d, const long *rows, long n, const float soft[3],
                      const float off[3], const float scl[3], int latent, uint64_t *key, gp_error *err)
{
    gp_latent_tensor t[256];
    int nt = 0, st = GP_OK;
    for (int i = 0; i < c->ps.n && !st; i++) {
        gp_tparam *p = &c->ps.p[i];
        if (strncmp(p->name, "enc.", 4)) continue;
        if (nt == 256) { st = GP_FAIL(err, GP_ERR_INTERNAL, "more than 256 encoder tensors"); break; }
        float *h = malloc(sizeof(float) * (p->n ? p->n : 1));
        if (!h) { st = GP_FAIL(err, GP_ERR_NOMEM, "cannot allocate a copy of %s", p->name); break; }
        t[nt].name = p->name; t[nt].data = h; t[nt].n = p->n; nt++;
        st = c->be->ops->download(c->be, h, p->w, sizeof(float) * p->n, err);
    }
    float s9[9] = { soft[0], soft[1], soft[2], off[0], off[1], off[2], scl[0], scl[1], scl[2] };
    const long *lists[1] = { rows };
    if (!st) st = gp_latent_cache_key_rows(d, 1, lists, &n, t, nt, s9, latent, key, err);
    for (int i = 0; i < nt; i++) free((void *)t[i].data);
    return st;
}

/* Encode rows with the (frozen) encoder: out [n x 2*latent] = [mu, sigma].
 * Cached in the work directory (gp_latent_cache.h), and read back only for
 * the same rows, encoder and stretch. */
static int encode_rows(run_ctx *c, gp_dataset *d, const long *rows, long n, const float soft[3],
                       const float off[3], const float scl[3], int latent, float *out, gp_error *err)
{
    const gp_train_opts *o = c->o;
    uint64_t key;
    char why[160];
    int kst = latent_key(c, d, rows, n, soft, off, scl, latent, &key, err);
    if (kst) return kst;
    if (gp_latent_cache_read(c->latents, n, latent, key, out, why, sizeof why)) {
        logf_(o, "latents of %ld galaxies read from %s", n, c->latents);
        return GP_OK;
    }
    if (access(c->latents, F_OK) == 0) logf_(o, "latent cache %s not used (%s): encoding again", c->latents, why);
    gp_backend *be = c->be;
    int B = 32;
    gp_tvae v;
    memset(&v, 0, sizeof v);
    int st = gp_tvae_bind(&v, &c->ps, c->init, B, err);
    float *hx = malloc(sizeof(float) * (size_t)B * GP_CUTOUT_PIXELS);
    float *x = be->ops->alloc(be, sizeof(float) * (size_t)B * GP_CUTOUT_PIXELS);
    float *hm = malloc(sizeof(float) * (size_t)B * latent * 2);
    if (!st && (!hx || !x || !hm)) st = GP_FAIL(err, GP_ERR_NOMEM, "cannot allocate the encoding batch");
    double t0 = now_s();
    for (long i0 = 0; !st && i0 < n; i0 += B) {
        if (o->interrupted && *o->interrupted) { st = GP_FAIL(err, GP_ERR_INTERRUPTED, "interrupted while encoding; rerun to resume"); break; }
        int nb = (int)(n - i0 < B ? n - i0 : B);
        TRY(gp_dataset_read_images(d, rows + i0, nb, hx, err));
        for (int i = 0; i < nb; i++)
            for (size_t p = 0; p < GP_CUTOUT_PIXELS; p++)
                if (!isfinite(hx[(size_t)i * GP_CUTOUT_PIXELS + p])) {
                    char where[1100];
                    gp_dataset_row_where(d, rows[i0 + i], 0, where, sizeof where);
                    st = GP_FAIL(err, GP_ERR_DATA, "%s: cutout with non-finite pixels", where);
                    goto done;
                }
        TRY(be->ops->upload(be, x, hx, sizeof(float) * (size_t)nb * GP_CUTOUT_PIXELS, err));
        TRY(be->ops->stretch(be, x, nb, 3, GP_CUTOUT_SIZE * GP_CUTOUT_SIZE, soft, off, scl, err));
        TRY(gp_tvae_encode(be, &v, x, nb, err));
        TRY(be->ops->exp_half(be, v.lv, (size_t)nb * latent, v.lv, err));
        TRY(be->ops->download(be, hm, v.mu, sizeof(float) * (size_t)nb * latent, err));
        TRY(be->ops->download(be, hm + (size_t)nb * latent, v.lv, sizeof(float) * (size_t)nb * latent, err));
        for (int i = 0; i < nb; i++) {
            memcpy(out + (size_t)(i0 + i) * 2 * latent, hm + (size_t)i * latent, sizeof(float) * latent);
            memcpy(out + (size_t)(i0 + i) * 2 * latent + latent, hm + (size_t)(nb + i) * latent, sizeof(float) * latent);
        }
        double el = now_s() - t0, rate = (i0 + nb) / (el > 1e-9 ? el : 1e-9);
        progress_line(o, "[encode]", 1, 1, i0 + nb, n, NAN, rate, (n - i0 - nb) / rate);
    }
    if (!st) {
        logf_(o, "encoded %ld galaxies in %.1f s", n, now_s() - t0);
        gp_error werr;
        if (gp_latent_cache_write(c->latents, n, latent, key, out, &werr))
            logf_(o, "latent cache not kept: %s", werr.msg);
    }
done:
    gp_tvae_free(&v, be);
    if (x) be->ops->free(be, x);
    free(hx); free(hm);
    return st;
}

typedef struct flow_data {
    float *X, *Y, *M;   /* host [n x tin], [n x 9], [n] */
    long n;
} flow_data;

static int eval_member(run_ctx *c, gp_tmember *m, const flow_data *fd, float *bx, float *by, float *bm,
                       gp_tlosses *L, gp_error *err)
{
    gp_backend *be = c->be;
    int B = c->o->flow_batch;
    memset(L, 0, sizeof *L);
    for (long i0 = 0; i0 < fd->n; i0 += B) {
        int nb = (int)(fd->n - i0 < B ? fd->n - i0 : B);
        int st = be->ops->upload(be, bx, fd->X + (size_t)i0 * m->tin, sizeof(float) * (size_t)nb * m->tin, err);
        if (!st) st = be->ops->upload(be, by, fd->Y + (size_t)i0 * 9, sizeof(float) * (size_t)nb * 9, err);
        if (!st) st = be->ops->upload(be, bm, fd->M + i0, sizeof(float) * (size_t)nb, err);
        gp_tlosses l;
        memset(&l, 0, sizeof l);
        if (!st) st = gp_tmember_step(be, m, bx, by, bm, nb, 0, &l, err);
        if (st) return st;
        /* the step weights by 1/nb: undo to sum */
        L->mse_core += l.mse_core * nb; L->mse_oh += l.mse_oh * nb; L->mse_line += l.mse_line * nb;
        L->bce += l.bce * nb; L->nll_core += l.nll_core * nb; L->nll_oh += l.nll_oh * nb; L->nll_line += l.nll_line * nb;
        L->rows += l.rows; L->rows_oh += l.rows_oh; L->correct += l.correct;
    }
    return GP_OK;
}

static double total_loss(const gp_tlosses *L)
{
    double n = L->rows ? (double)L->rows : 1.0;
    return (L->mse_core + L->mse_oh + L->mse_line + L->bce + L->nll_core + L->nll_oh + L->nll_line) / n;
}

static int stage_flow(run_ctx *c, const flow_data *tr, const flow_data *va, int tin, gp_error *err)
{
    const gp_train_opts *o = c->o;
    gp_backend *be = c->be;
    int B = o->flow_batch, K = o->arch.ensemble;
    gp_act act;
    const char *acts;
    int st = gp_weights_meta_str(c->init, "mlp.activation", &acts, err);
    if (st) return st;
    if (gp_act_parse(acts, &act)) return GP_FAIL(err, GP_ERR_FORMAT, "bad mlp.activation '%s'", acts);
    float slope = o->arch.leaky_slope;
    float *bx = be->ops->alloc(be, sizeof(float) * (size_t)B * tin);
    float *by = be->ops->alloc(be, sizeof(float) * (size_t)B * 9);
    float *bm = be->ops->alloc(be, sizeof(float) * (size_t)B);
    long *order = malloc(sizeof(long) * (size_t)tr->n);
    float *hx = malloc(sizeof(float) * (size_t)B * tin), *hy = malloc(sizeof(float) * (size_t)B * 9),
          *hm = malloc(sizeof(float) * (size_t)B);
    gp_tmember m;
    memset(&m, 0, sizeof m);
    if (!bx || !by || !bm || !order || !hx || !hy || !hm) { st = GP_FAIL(err, GP_ERR_NOMEM, "flow stage: cannot allocate batches"); goto done; }
    long nb = (tr->n + B - 1) / B;
    while (c->s.member < K) {
        int k = c->s.member;
        TRY(gp_tmember_bind(&m, &c->ps, c->init, k, tin, act, slope, B, err));
        char pre[32];
        member_prefix(pre, sizeof pre, k);
        if (c->s.flow_epoch == 0 && !isfinite(c->s.best_val)) TRY(gp_tparams_reset_moments(&c->ps, pre, err));
        double t0 = now_s();
        while (c->s.flow_epoch < o->flow_epochs && c->s.bad_epochs < o->patience) {
            int ep = c->s.flow_epoch;
            for (long i = 0; i < tr->n; i++) order[i] = i;
            shuffle(order, tr->n, o->seed + 7919ull * (uint64_t)(k + 1), 0xF100ull + (uint64_t)ep);
            gp_tlosses L;
            memset(&L, 0, sizeof L);
            double te = now_s();
            for (long b = 0; b < nb; b++) {
                if (o->interrupted && *o->interrupted) {
                    st = GP_FAIL(err, GP_ERR_INTERRUPTED, "interrupted in member %d epoch %d; checkpoint %s holds the last complete epoch, rerun the same command to resume",
                                 k, ep + 1, c->ckpt);
                    goto done;
                }
                int n = (int)(tr->n - b * B < B ? tr->n - b * B : B);
                for (int i = 0; i < n; i++) {
                    long r = order[b * B + i];
                    memcpy(hx + (size_t)i * tin, tr->X + (size_t)r * tin, sizeof(float) * tin);
                    memcpy(hy + (size_t)i * 9, tr->Y + (size_t)r * 9, sizeof(float) * 9);
                    hm[i] = tr->M[r];
                }
                TRY(be->ops->upload(be, bx, hx, sizeof(float) * (size_t)n * tin, err));
                TRY(be->ops->upload(be, by, hy, sizeof(float) * (size_t)n * 9, err));
                TRY(be->ops->upload(be, bm, hm, sizeof(float) * (size_t)n, err));
                TRY(gp_tparams_zero_grad(&c->ps, pre, err));
                gp_tlosses l;
                memset(&l, 0, sizeof l);
                TRY(gp_tmember_step(be, &m, bx, by, bm, n, 1, &l, err));
                c->s.flow_step++;
                double gn;
                TRY(gp_tparams_adam(&c->ps, pre, o->flow_lr, c->s.flow_step, 10.0f, &gn, err));
                L.mse_core += l.mse_core * n; L.mse_oh += l.mse_oh * n; L.mse_line += l.mse_line * n;
                L.bce += l.bce * n; L.nll_core += l.nll_core * n; L.nll_oh += l.nll_oh * n; L.nll_line += l.nll_line * n;
                L.rows += l.rows; L.rows_oh += l.rows_oh; L.correct += l.correct;
                double el = now_s() - te, rate = L.rows / (el > 1e-9 ? el : 1e-9);
                double left = (double)(o->flow_epochs - ep - 1) * tr->n + (tr->n - L.rows);
                char stage[32];
                snprintf(stage, sizeof stage, "[flow m%d]", k);
                progress_line(o, stage, ep + 1, o->flow_epochs, L.rows, tr->n, total_loss(&L), rate, left / rate);
            }
            gp_tlosses V;
            TRY(eval_member(c, &m, va, bx, by, bm, &V, err));
            double vl = total_loss(&V);
            c->s.flow_epoch++;
            int improved = vl < c->s.best_val - 1e-4;
            if (improved) {
                c->s.best_val = vl;
                c->s.bad_epochs = 0;
                c->s.best_epoch = c->s.flow_epoch;
                TRY(member_copy(c, k, 1, err));
            } else {
                c->s.bad_epochs++;
            }
            double vn = V.rows ? (double)V.rows : 1;
            logf_(o, "member %d epoch %d: train %.4f val %.4f%s (val: mse core %.3f oh %.3f line %.3f, bce %.3f, nll core %.3f oh %.3f line %.3f, accuracy %.3f) %.1f s",
                  k, c->s.flow_epoch, total_loss(&L), vl, improved ? " *" : "", V.mse_core / vn / 4, V.mse_oh / (V.rows_oh ? V.rows_oh : 1),
                  V.mse_line / vn / 4, V.bce / vn, V.nll_core / vn, V.nll_oh / vn, V.nll_line / vn, V.correct / vn,
                  now_s() - te);
            c->s.flow_seconds += now_s() - te;
            TRY(save_checkpoint(c, err));
        }
        /* restore the best epoch */
        if (c->s.best_epoch == 0) {
            st = GP_FAIL(err, GP_ERR_DATA, "member %d: no epoch gave a finite validation loss (diverged?); see %s",
                         k, c->ckpt);
            goto done;
        }
        TRY(member_copy(c, k, 0, err));
        c->s.member_val[k] = c->s.best_val;
        c->s.member_epochs[k] = c->s.best_epoch;
        logf_(o, "member %d done: best validation loss %.4f at epoch %d (%.1f min)", k, c->s.best_val, c->s.best_epoch,
              (now_s() - t0) / 60);
        gp_tmember_free(&m, be);
        c->s.member++;
        c->s.flow_epoch = 0;
        c->s.bad_epochs = 0;
        c->s.best_val = INFINITY;
        c->s.best_epoch = 0;
        TRY(save_checkpoint(c, err));
    }
done:
    if (m.trunk.nl) gp_tmember_free(&m, be);
    if (bx) be->ops->free(be, bx);
    if (by) be->ops->free(be, by);
    if (bm) be->ops->free(be, bm);
    free(order); free(hx); free(hy); free(hm);
    return st;
}

/* ----------------------------------------------------------- driver */

static int copy_encoder(run_ctx *c, const char *path, double soft[3], double off[3], double scl[3],
                        gp_error *err)
{
    gp_weights *w = NULL;
    int st = gp_weights_open(path, &w, err);
    if (st) return st;
    for (int i = 0; i < c->ps.n && !st; i++) {
        gp_tparam *p = &c->ps.p[i];
        if (strncmp(p->name, "enc.", 4) && strncmp(p->name, "dec.", 4)) continue;
        const float *d;
        st = gp_weights_tensor_shaped(w, p->name, p->ndim, p->dims, &d, err);
        if (!st) st = c->be->ops->upload(c->be, p->w, d, sizeof(float) * p->n, err);
    }
    const double *v;
    size_t n;
    if (!st && !(st = gp_weights_meta_f64_array(w, "image.softening", &v, &n, err)) && n == 3) memcpy(soft, v, sizeof(double) * 3);
    if (!st && !(st = gp_weights_meta_f64_array(w, "image.offset", &v, &n, err)) && n == 3) memcpy(off, v, sizeof(double) * 3);
    if (!st && !(st = gp_weights_meta_f64_array(w, "image.scale", &v, &n, err)) && n == 3) memcpy(scl, v, sizeof(double) * 3);
    gp_weights_close(w);
    return st;
}

/* Fit a training-set likeness check (gp_ood.h) on n rows of dim values and
 * store it under `prefix`.  Optional: a check that cannot be fitted (too
 * few rows, a degenerate covariance, too many values) leaves the model
 * without it and the log says why; only writing it can fail the run. */
static int store_check(const gp_train_opts *o, const double *xs, long n, int dim, const char *prefix,
                       const char *what, const char *of, gp_weights_writer *wr, gp_error *err)
{
    gp_ood ood;
    gp_error oerr;
    gp_error_clear(&oerr);
    if (gp_ood_fit(xs, n, dim, 0.999, &ood, &oerr) != GP_OK) {
        logf_(o, "%s (%s) not stored in %s: %s", what, prefix, o->out, oerr.msg);
        return GP_OK;
    }
    logf_(o, "%s: %s of %ld training galaxies, squared Mahalanobis distance limit %.1f (99.9%%)", what, of, n,
          ood.d2_limit);
    int st = gp_ood_write(&ood, prefix, wr, err);
    gp_ood_free(&ood);
    return st;
}

static void note_log(void *ctx, const char *line) { logf_((const gp_train_opts *)ctx, "%s", line); }

int gp_train_run(const gp_train_opts *o, gp_error *err)
{
    run_ctx c;
    memset(&c, 0, sizeof c);
    c.o = o;
    c.s.best_val = INFINITY;
    gp_dataset *d = NULL;
    int8_t *part = NULL;
    long *rows[4] = { NULL, NULL, NULL, NULL };
    long nrows[4] = { 0, 0, 0, 0 };
    float *lat = NULL;
    flow_data fd[3];
    memset(fd, 0, sizeof fd);
    int st = GP_OK;
    int image = o->arch.uses_image;
    double t_start = now_s();

    if (mkdir(o->workdir, 0777) != 0 && errno != EEXIST)
        return GP_FAIL(err, GP_ERR_IO, "%s: cannot create the work directory: %s", o->workdir, strerror(errno));
    snprintf(c.ckpt, sizeof c.ckpt, "%s/checkpoint.gpw", o->workdir);
    snprintf(c.init_path, sizeof c.init_path, "%s/init.gpw", o->workdir);
    snprintf(c.latents, sizeof c.latents, "%s/latents.f32", o->workdir);

    TRY(gp_dataset_open(o->data, o->ndata, image, &d, err));
    {
        char buf[4096] = "";
        FILE *mf = fmemopen(buf, sizeof buf, "w");
        if (mf) { gp_dataset_report(d, mf); fclose(mf); buf[sizeof buf - 1] = 0; }
        size_t L = strlen(buf);
        if (L && buf[L - 1] == '\n') buf[L - 1] = 0;
        logf_(o, "%s", buf);
    }
    c.nrows = d->n;
    /* the backend (before the settings: the compute is one of them) */
    if (o->backend == GP_BACKEND_CUDA) {
        TRY(gp_backend_open_cuda(o->device, &c.be, err));
    } else if (o->backend == GP_BACKEND_AUTO) {
        gp_error cerr;
        gp_error_clear(&cerr);
        if (gp_backend_open_cuda(o->device, &c.be, &cerr) != GP_OK) {
            c.be = NULL;
            logf_(o, "CUDA not used: %s", cerr.msg);
        }
    }
    if (!c.be) TRY(gp_backend_open_cpu(o->threads, &c.be, err));
    c.be->deterministic = 1;   /* a run is reproducible for a given seed */
    logf_(o, "backend: %s", c.be->description);
    TRY(gp_backend_check_training(c.be, err));

    /* a checkpoint made with other settings is refused before any work */
    TRY(run_settings(&c, d, err));
    int resume = access(c.ckpt, R_OK) == 0;
    if (resume) TRY(check_settings(&c, err));

    if (image && !o->encoder_from && o->vae_count == 0) {
        st = GP_FAIL(err, GP_ERR_ARG, "a VAE part of 0 galaxies leaves nothing to train the image model's VAE on "
                     "(--vae-count 0 is for --photometry, or with --encoder-from)");
        goto done;
    }
    part = malloc((size_t)(d->n ? d->n : 1));
    if (!part) { st = GP_FAIL(err, GP_ERR_NOMEM, "cannot allocate the partition"); goto done; }
    long usable = d->n - d->nbad_rows;
    if (o->max_rows > 0 && usable > o->max_rows) usable = o->max_rows;
    long vae_count = o->vae_count >= 0 ? o->vae_count : image ? usable / 4 : 0;
    TRY(gp_train_partition(d, o->seed, vae_count, o->max_rows, part, err));
    long nimgbad = 0;
    if (image) {
        /* cutouts with non-finite pixels: left out of every split, the other
         * rows keeping theirs (gp_train_partition); the VAE part is read only
         * when the VAE is trained here */
        unsigned parts = (1u << GP_PART_TRAIN) | (1u << GP_PART_VAL) | (1u << GP_PART_TEST);
        if (!o->encoder_from) parts |= 1u << GP_PART_VAE;
        TRY(gp_train_screen_images(d, part, parts, o->progress, o->interrupted, note_log, (void *)o, &nimgbad, err));
    }
    for (int p = 0; p < 4; p++) {
        rows[p] = malloc(sizeof(long) * (size_t)(d->n ? d->n : 1));
        if (!rows[p]) { st = GP_FAIL(err, GP_ERR_NOMEM, "cannot allocate row lists"); goto done; }
    }
    for (long i = 0; i < d->n; i++) if (part[i] >= 0) rows[part[i]][nrows[part[i]]++] = i;
    logf_(o, "partition (seed %llu): VAE %ld, flow train %ld, validation %ld, test %ld%s",
          (unsigned long long)o->seed, nrows[0], nrows[1], nrows[2], nrows[3],
          nimgbad ? " (rows with non-finite cutout pixels left out, in their places)" : "");

    /* statistics from the train split (photometry, targets) */
    double pm[GP_NPHOT] = { 0 }, ps_[GP_NPHOT] = { 0 }, tm[9] = { 0 }, ts[9] = { 0 };
    {
        long cnt[9] = { 0 };
        double s2p[GP_NPHOT] = { 0 }, s2t[9] = { 0 };
        for (long j = 0; j < nrows[1]; j++) {
            long r = rows[1][j];
            const float *mg = d->mag + r * 5;
            float raw[GP_NPHOT];
            gp_phot_raw(mg, raw);
            for (int i = 0; i < GP_NPHOT; i++) { pm[i] += raw[i]; s2p[i] += (double)raw[i] * raw[i]; }
            for (int q = 0; q < 9; q++) {
                double v = d->target[r * 9 + q];
                if (!isfinite(v)) continue;
                tm[q] += v; s2t[q] += v * v; cnt[q]++;
            }
        }
        double n = nrows[1] ? (double)nrows[1] : 1.0;
        for (int i = 0; i < GP_NPHOT; i++) {
            pm[i] /= n;
            double var = s2p[i] / n - pm[i] * pm[i];
            ps_[i] = var > 1e-12 ? sqrt(var) : 1.0;
        }
        for (int q = 0; q < 9; q++) {
            double m = cnt[q] ? (double)cnt[q] : 1.0;
            tm[q] /= m;
            double var = s2t[q] / m - tm[q] * tm[q];
            ts[q] = var > 1e-12 ? sqrt(var) : 1.0;
        }
    }
    double soft[3] = { 0.01, 0.01, 0.01 }, off[3] = { 0, 0, 0 }, scl[3] = { 1, 1, 1 };

    /* the parameter set (from a random model written with the same architecture) */
    TRY(gp_model_write_random(c.init_path, &o->arch, o->seed, err));
    TRY(gp_weights_open(c.init_path, &c.init, err));
    TRY(gp_tparams_from_weights(c.be, c.init, &c.ps, err));
    {
        size_t maxm = 0;
        for (int k = 0; k < o->arch.ensemble; k++) {
            char pre[32];
            member_prefix(pre, sizeof pre, k);
            size_t s = 0;
            for (int i = 0; i < c.ps.n; i++) if (!strncmp(c.ps.p[i].name, pre, strlen(pre))) s += c.ps.p[i].n;
            if (s > maxm) maxm = s;
        }
        c.best_n = maxm;
        c.best = malloc(sizeof(float) * (maxm ? maxm : 1));
        if (!c.best) { st = GP_FAIL(err, GP_ERR_NOMEM, "cannot allocate the best-epoch copy"); goto done; }
    }
    if (resume) {
        TRY(load_checkpoint(&c, err));
        /* (as the interrupt put it: the epoch in progress, counted from 1, and what of it is done) */
        if (c.s.stage == 0)
            logf_(o, "resuming from %s: VAE epoch %d after %ld batches", c.ckpt, c.s.vae_epoch + 1, c.s.vae_batch);
        else if (c.s.stage == 1)
            logf_(o, "resuming from %s: flow stage, member %d epoch %d", c.ckpt, c.s.member, c.s.flow_epoch + 1);
        else
            logf_(o, "resuming from %s: training done, writing the weights file", c.ckpt);
    }
    int tin = image ? 2 * o->arch.latent + GP_NPHOT : GP_NPHOT;
    if (image) {
        if (o->encoder_from) {
            TRY(copy_encoder(&c, o->encoder_from, soft, off, scl, err));
            logf_(o, "VAE taken from %s (frozen)", o->encoder_from);
            if (c.s.stage == 0) c.s.stage = 1;
        } else {
            TRY(stretch_stats(d, rows[0], nrows[0], o->vae_soft, soft, off, scl, err));
            logf_(o, "band stretch: softening %.4g %.4g %.4g nmgy, offset %.3f %.3f %.3f, scale %.3f %.3f %.3f",
                  soft[0], soft[1], soft[2], off[0], off[1], off[2], scl[0], scl[1], scl[2]);
            float sf[3] = { (float)soft[0], (float)soft[1], (float)soft[2] }, of[3] = { (float)off[0], (float)off[1], (float)off[2] },
                  sc[3] = { (float)scl[0], (float)scl[1], (float)scl[2] };
            if (c.s.stage == 0) {
                logf_(o, "stage 1: VAE on %ld galaxies, %d epochs, batch %d, Adam lr %g, beta %g", nrows[0], o->vae_epochs,
                      o->vae_batch, (double)o->vae_lr, o->vae_beta);
                TRY(stage_vae(&c, d, rows[0], nrows[0], sf, of, sc, err));
                c.s.stage = 1;
                TRY(save_checkpoint(&c, err));
            }
        }
    } else if (c.s.stage == 0) c.s.stage = 1;

    /* flow-stage inputs */
    for (int p = 0; p < 3; p++) {
        long n = nrows[p + 1];
        fd[p].n = n;
        fd[p].X = malloc(sizeof(float) * (size_t)(n ? n : 1) * tin);
        fd[p].Y = malloc(sizeof(float) * (size_t)(n ? n : 1) * 9);
        fd[p].M = malloc(sizeof(float) * (size_t)(n ? n : 1));
        if (!fd[p].X || !fd[p].Y || !fd[p].M) { st = GP_FAIL(err, GP_ERR_NOMEM, "cannot allocate flow-stage inputs"); goto done; }
    }
    if (image) {
        long nall = nrows[1] + nrows[2] + nrows[3];
        long *all = malloc(sizeof(long) * (size_t)(nall ? nall : 1));
        lat = malloc(sizeof(float) * (size_t)(nall ? nall : 1) * 2 * o->arch.latent);
        if (!all || !lat) { free(all); st = GP_FAIL(err, GP_ERR_NOMEM, "cannot allocate latents"); goto done; }
        memcpy(all, rows[1], sizeof(long) * nrows[1]);
        memcpy(all + nrows[1], rows[2], sizeof(long) * nrows[2]);
        memcpy(all + nrows[1] + nrows[2], rows[3], sizeof(long) * nrows[3]);
        float sf[3] = { (float)soft[0], (float)soft[1], (float)soft[2] }, of[3] = { (float)off[0], (float)off[1], (float)off[2] },
              sc[3] = { (float)scl[0], (float)scl[1], (float)scl[2] };
        st = encode_rows(&c, d, all, nall, sf, of, sc, o->arch.latent, lat, err);
        free(all);
        if (st) goto done;
    }
    {
        long base = 0;
        for (int p = 0; p < 3; p++) {
            for (long j = 0; j < fd[p].n; j++) {
                long r = rows[p + 1][j];
                float *x = fd[p].X + (size_t)j * tin;
                if (image) memcpy(x, lat + (size_t)(base + j) * 2 * o->arch.latent, sizeof(float) * 2 * o->arch.latent);
                const float *mg = d->mag + r * 5;
                float raw[GP_NPHOT];
                gp_phot_raw(mg, raw);
                float *ph = x + (image ? 2 * o->arch.latent : 0);
                for (int i = 0; i < GP_NPHOT; i++) ph[i] = (float)gp_phot_clip((raw[i] - pm[i]) / ps_[i]);
                for (int q = 0; q < 9; q++) {
                    double v = d->target[r * 9 + q];
                    fd[p].Y[(size_t)j * 9 + q] = isfinite(v) ? (float)((v - tm[q]) / ts[q]) : 0.0f;
                }
                fd[p].M[j] = d->oh_ok[r] ? 1.0f : 0.0f;
            }
            base += fd[p].n;
        }
    }
    if (c.s.stage == 1) {
        logf_(o, "stage 2: %d flow-stage member%s on %ld galaxies (validation %ld), batch %d, Adam lr %g, up to %d epochs, patience %d",
              o->arch.ensemble, o->arch.ensemble == 1 ? "" : "s", fd[0].n, fd[1].n, o->flow_batch, (double)o->flow_lr,
              o->flow_epochs, o->patience);
        TRY(stage_flow(&c, &fd[0], &fd[1], tin, err));
        c.s.stage = 2;
        TRY(save_checkpoint(&c, err));
    }

    /* the final weights file */
    {
        gp_weights_writer *wr = NULL;
        TRY(gp_weights_writer_new(&wr, err));
        st = gp_weights_copy_meta(c.init, wr, err);
        char date[32], buf[1024];
        time_t t = time(NULL);
        struct tm tmv;
        strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tmv));
#define S(k, v) if (!st) st = gp_weights_writer_set_str(wr, k, v, err)
#define I(k, v) if (!st) st = gp_weights_writer_set_i64(wr, k, v, err)
#define F(k, v) if (!st) st = gp_weights_writer_set_f64(wr, k, v, err)
#define FA(k, v, n) if (!st) st = gp_weights_writer_set_f64_array(wr, k, v, n, err)
        I("model.trained", 1);
        snprintf(buf, sizeof buf, "galpost %s model (%sconditional RealNVP flows, ensemble of %d) trained by galpost train",
                 image ? "image" : "photometry-only", image ? "VAE + " : "MLP trunk + ", o->arch.ensemble);
        S("model.description", buf);
        FA("phot.mean", pm, GP_NPHOT);
        FA("phot.std", ps_, GP_NPHOT);
        FA("target.mean", tm, 9);
        FA("target.std", ts, 9);
        F("target.z_softplus", GP_Z_SOFTPLUS);   /* the z target is gp_z_to_target(z) */
        if (image) {
            FA("image.softening", soft, 3);
            FA("image.offset", off, 3);
            FA("image.scale", scl, 3);
        }
        S("provenance.command", o->command ? o->command : "galpost train");
        I("provenance.seed", (int64_t)o->seed);
        S("provenance.date", date);
        {
            size_t pos = 0;
            buf[0] = 0;
            for (int i = 0; i < o->ndata && pos < sizeof buf - 2; i++) {
                pos += (size_t)snprintf(buf + pos, sizeof buf - pos, "%s%s", i ? "," : "", o->data[i]);
            }
            if (pos >= sizeof buf) buf[sizeof buf - 1] = 0;
        }
        S("provenance.data", buf);
        I("train.rows", d->n);
        I("train.bad_rows", d->nbad_rows);
        I("train.max_rows", o->max_rows);
        I("train.split.seed", (int64_t)o->seed);
        I("train.split.vae", vae_count);   /* the VAE's places in the order (gp_eval partitions with it) */
        I("train.split.train", nrows[1]);
        I("train.split.val", nrows[2]);
        I("train.split.test", nrows[3]);
        S("train.split.rule", "usable rows ordered by splitmix64(seed, objID); first train.split.vae for the VAE, the rest 70/15/15 train/validation/test; rows whose cutouts have non-finite pixels keep their places and are then left out");
        if (image && !o->encoder_from) {
            I("train.vae.epochs", o->vae_epochs);
            I("train.vae.batch", o->vae_batch);
            F("train.vae.lr", o->vae_lr);
            F("train.vae.beta", o->vae_beta);
            F("train.vae.soft_sigmas", o->vae_soft);
            F("train.vae.final_loss", c.s.vae_last_loss);
            I("train.vae.clipped_steps", c.s.vae_clipped);
            S("train.vae.clip", "gradient norm (encoder + decoder) held within 4 times the running mean of the previous steps' norms (weight 1/50)");
            F("train.vae.seconds", c.s.vae_seconds);
            S("train.vae.loss", "sum over pixels of squared error on the stretched image + beta KL(q(z|x) || N(0,1)), per image");
        }
        if (image && o->encoder_from) S("train.vae.from", o->encoder_from);
        I("train.flow.max_epochs", o->flow_epochs);
        I("train.flow.batch", o->flow_batch);
        I("train.flow.patience", o->patience);
        F("train.flow.lr", o->flow_lr);
        F("train.flow.seconds", c.s.flow_seconds);
        S("train.flow.loss", "per galaxy: MSE(core head) + MSE(O/H head, measurable only) + MSE(line head) + BCE(classifier) + NLL(core flow) + NLL(O/H flow | true core, measurable only) + NLL(line flow); heads not trained through the flows");
        {
            int64_t ep[GP_ENSEMBLE_MAX];
            for (int k = 0; k < o->arch.ensemble; k++) ep[k] = c.s.member_epochs[k];
            if (!st) st = gp_weights_writer_set_i64_array(wr, "train.flow.best_epochs", ep, (size_t)o->arch.ensemble, err);
            FA("train.flow.best_val_loss", c.s.member_val, (size_t)o->arch.ensemble);
        }
        F("train.seconds_total", c.s.vae_seconds + c.s.flow_seconds);
        S("train.backend", c.be->description);
#undef S
#undef I
#undef F
#undef FA
        /* the training-set likeness check of the latent inputs (gp_ood.h), on the
         * flow stage's training rows */
        if (!st && image) {
            const int L = o->arch.latent;
            long n = fd[0].n;
            double *xs = malloc(sizeof(double) * (size_t)(n ? n : 1) * 2 * L);
            if (!xs) st = GP_FAIL(err, GP_ERR_NOMEM, "cannot allocate the latent check's rows");
            for (long j = 0; !st && j < n; j++) {
                const float *x = fd[0].X + (size_t)j * tin;
                gp_ood_latent_vector(x, x + L, L, xs + (size_t)j * 2 * L);
            }
            if (!st) st = store_check(o, xs, n, 2 * L, "ood.latent", "latent check", "[mu, ln sigma]", wr, err);
            free(xs);
        }
        /* the same check of the photometry (gp_phot_check_vector), for both
         * kinds of model, on the flow stage's training rows, with the float
         * statistics inference will read back */
        if (!st) {
            long n = nrows[1];
            double *xs = malloc(sizeof(double) * (size_t)(n ? n : 1) * GP_PHOT_OOD_DIM);
            float fm[GP_NPHOT], fs[GP_NPHOT];
            for (int i = 0; i < GP_NPHOT; i++) { fm[i] = (float)pm[i]; fs[i] = (float)ps_[i]; }
            if (!xs) st = GP_FAIL(err, GP_ERR_NOMEM, "cannot allocate the photometry check's rows");
            for (long j = 0; !st && j < n; j++)
                gp_phot_check_vector(fm, fs, d->mag + rows[1][j] * 5, xs + (size_t)j * GP_PHOT_OOD_DIM);
            if (!st) st = store_check(o, xs, n, GP_PHOT_OOD_DIM, "ood.phot", "photometry check", "colours and r", wr, err);
            free(xs);
        }
        if (!st) st = gp_tparams_write(&c.ps, wr, 0, err);
        if (!st) st = gp_weights_writer_write(wr, o->out, err);
        gp_weights_writer_free(wr);
        if (st) goto done;
        logf_(o, "wrote %s (%.1f min in this run)", o->out, (now_s() - t_start) / 60);
    }
done:
    for (int p = 0; p < 3; p++) { free(fd[p].X); free(fd[p].Y); free(fd[p].M); }
    for (int p = 0; p < 4; p++) free(rows[p]);
    free(lat);
    free(part);
    free(c.best);
    gp_tparams_free(&c.ps);
    gp_weights_close(c.init);
    gp_backend_close(c.be);
    gp_dataset_close(d);
    return st;
}
