/*
 * gp_infer.c: posterior inference on a batch of galaxies.
 *
 * Galaxies are processed in chunks.  For each chunk: stretch the cutouts,
 * encode them, build the trunk input; then for each ensemble member k the
 * trunk and heads run once per galaxy, and the flows run once per sample
 * row (sample s of a galaxy belongs to member s mod K).  Everything that
 * depends only on the galaxy (trunk, heads, the context part of every
 * conditioner's first layer) is computed once per galaxy, not per sample.
 *
 * A chunk goes through three phases: chunk_encode (the trunk input built
 * on the backend), chunk_flows (trunk, heads, flows, and the samples'
 * downloads queued) and chunk_collect (wait for them, scatter them into
 * each galaxy's samples).  The next chunk's encode and flows are queued
 * before the host waits for this chunk's samples, so on a GPU the device
 * has work queued while the host scatters samples and runs summaries.
 *
 * With a GPU backend the cutouts are copied in blocks, each block's copy
 * beside the previous block's encoder: straight from the caller's
 * page-locked memory when they lie there in order (gp_cutouts_alloc), else
 * through the backend's page-locked staging (gathered by all CPUs).  A
 * chunk's summaries run on the host in the background while the GPU works
 * on the next chunk.
 *
 * Environment (diagnosis and tests; results never depend on it):
 *   GP_INFER_PROFILE=1               seconds per stage on stderr
 *   GP_INFER_CHUNK=N                 at most N galaxies per chunk
 *   GP_INFER_BLOCK=N                 galaxies per GPU upload and encoder
 *                                    block (default a quarter chunk, 128
 *                                    to 512)
 *   GP_INFER_BACKGROUND_SUMMARIES=1  background summaries on the CPU backend too
 *   GP_INFER_SPLIT=0                 a GPU batch of one chunk stays whole (by
 *                                    default one of 512 galaxies or more goes
 *                                    as a half, then three eighths and an
 *                                    eighth)
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "galpost/gp_model.h"
#include "gp_model_internal.h"
#include "gp_parallel.h"
#include "gp_rng.h"
#include "gp_source_check.h"

#define GP_CHUNK_GALAXIES 64
#define GP_CHUNK_ROWS     32768
/* galaxies per upload and encoder block (backends with host_staging): a
 * quarter of a chunk, within these bounds (larger blocks run cuDNN's
 * convolutions faster, smaller ones overlap sooner) */
#define GP_BLOCK_MIN 128
#define GP_BLOCK_MAX 512

/* GP_INFER_PROFILE=1: seconds per stage, summed over a gp_infer call and
 * printed on stderr at its end (stages are then synchronized, so the total
 * is a little slower than without). */
typedef struct infer_profile {
    int    on;
    double checks, upload, encoder, flows, download, scatter, summaries_wait, total;
    double summaries_work;   /* wall time of the summaries themselves, all chunks */
    double summaries_cpu;    /* CPU time of their threads, all chunks (background only) */
    long   summarised_cpu;   /* galaxies those threads summarised */
    long   summarised;       /* galaxies summarised */
    int    summary_threads;  /* the most threads a chunk's summaries ran on */
} infer_profile;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct infer_buffers {
    gp_backend *be;
    void *ptrs[32];
    int n;
} infer_buffers;

static float *buf_alloc(infer_buffers *b, size_t floats, const char *what, gp_error *err)
{
    if (b->n == (int)(sizeof b->ptrs / sizeof b->ptrs[0])) {
        GP_FAIL(err, GP_ERR_INTERNAL, "too many inference buffers");
        return NULL;
    }
    float *p = b->be->ops->alloc(b->be, sizeof(float) * (floats ? floats : 1));
    if (!p) { GP_FAIL(err, GP_ERR_NOMEM, "cannot allocate %zu floats for %s", floats, what); return NULL; }
    b->ptrs[b->n++] = p;
    return p;
}

static void buf_free_all(infer_buffers *b)
{
    for (int i = 0; i < b->n; i++) b->be->ops->free(b->be, b->ptrs[i]);
    b->n = 0;
}

/* 1 when none of p[0..n-1] is inf or NaN (exponent bits all ones): a
 * branch-free OR over the bits that GCC vectorizes (a scalar isfinite per
 * pixel cost ~0.1 ms a galaxy, 6% of the CPU pipeline); the slow loop
 * below runs only to name the first bad pixel. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(GP_NO_CLONES)
__attribute__((optimize("O3"), target_clones("avx512f", "avx2", "default")))
#endif
static int all_finite(const float *p, size_t n)
{
    uint32_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t b;
        memcpy(&b, p + i, sizeof b);
        bad |= (uint32_t)((b & 0x7F800000u) == 0x7F800000u);
    }
    return !bad;
}

/* Check one galaxy's inputs; fill res->status/message on failure.
 * pixels = 0: every check but the pixel scan (the backend flags
 * non-finite pixels on the device: flag_nonfinite). */
static int check_galaxy(const gp_model *m, const gp_galaxy *g, gp_result *r, int pixels)
{
    for (int i = 0; i < GP_NMAG; i++)
        if (!isfinite(g->mag[i]) || g->mag[i] < 5.0f || g->mag[i] > 40.0f) {
            r->status = GP_ERR_DATA;
            snprintf(r->message, sizeof r->message, "galaxy %llu: magnitude %c = %g is not a usable AB magnitude",
                     (unsigned long long)g->id, "ugriz"[i], (double)g->mag[i]);
            return GP_ERR_DATA;
        }
    if (m->net.uses_image) {
        if (!g->cutout) {
            r->status = GP_ERR_DATA;
            snprintf(r->message, sizeof r->message, "galaxy %llu: no cutout given to an image model",
                     (unsigned long long)g->id);
            return GP_ERR_DATA;
        }
        if (pixels && !all_finite(g->cutout, GP_CUTOUT_PIXELS))
            for (size_t p = 0; p < GP_CUTOUT_PIXELS; p++)
                if (!isfinite(g->cutout[p])) {
                    r->status = GP_ERR_DATA;
                    snprintf(r->message, sizeof r->message,
                             "galaxy %llu: cutout pixel %zu (band %c, x=%zu, y=%zu) is not finite",
                             (unsigned long long)g->id, p, "gri"[p / (GP_CUTOUT_SIZE * GP_CUTOUT_SIZE)],
                             p % GP_CUTOUT_SIZE, (p / GP_CUTOUT_SIZE) % GP_CUTOUT_SIZE);
                    return GP_ERR_DATA;
                }
    }
    return GP_OK;
}

/* Results initialised and inputs checked, in parallel: each galaxy's
 * result written by one thread only. */
typedef struct check_job {
    const gp_model  *m;
    const gp_galaxy *gal;
    gp_result       *res;
    int              nsamples;
    int              pixels;     /* scan the pixels (else the backend flags them) */
    float           *phot;       /* [n x GP_NPHOT] the networks' photometry input of each galaxy that
                                    passes (standardized and clipped here, used by chunk_encode) */
} check_job;

/* A result without the input checks' verdicts: every result starts so
 * (check_range), and a galaxy that failed after the checks (pixels the
 * device flagged, a failed summary, a failed batch) returns to it, as for
 * one that failed them. */
static void unjudge(gp_result *r)
{
    r->flags &= ~(GP_FLAG_PHOT_CLIPPED | GP_FLAG_PHOT_UNLIKE | GP_FLAG_IMAGE_UNLIKE | GP_FLAG_NO_SOURCE);
    r->phot_d2 = r->phot_d2_limit = NAN;
    r->latent_d2 = r->latent_d2_limit = NAN;
    r->source_snr = r->source_peak = NAN;
}

static void check_range(void *ctx, size_t begin, size_t end)
{
    check_job *j = ctx;
    for (size_t i = begin; i < end; i++) {
        gp_result *r = &j->res[i];
        memset(r, 0, sizeof *r);
        unjudge(r);   /* no verdicts yet: the checks below give them */
        r->id = j->gal[i].id;
        r->ra = r->dec = NAN;
        r->flags = j->gal[i].flags;
        r->nsamples = j->nsamples;
        r->summary.bpt_class = -1;
        if (check_galaxy(j->m, &j->gal[i], r, j->pixels) == GP_OK) {
            const gp_net *net = &j->m->net;
            /* standardized once: the networks' input and the photometry check's vector */
            double v[GP_NPHOT];
            if (gp_net_photometry_unclipped(net, j->gal[i].mag, j->phot + i * GP_NPHOT, v) > 0)
                r->flags |= GP_FLAG_PHOT_CLIPPED;
            if (net->phot_ood.dim == GP_PHOT_OOD_DIM) {
                double x[GP_PHOT_OOD_DIM];
                gp_phot_check_select(v, x);
                r->phot_d2 = gp_ood_distance2(&net->phot_ood, x);
                r->phot_d2_limit = net->phot_ood.d2_limit;
                if (!(r->phot_d2 <= r->phot_d2_limit)) r->flags |= GP_FLAG_PHOT_UNLIKE;
            }
            /* (the source check runs with the summaries: source_check) */
        }
    }
}

#define TRY(x) do { if ((st = (x)) != GP_OK) goto done; } while (0)
#define ALLOC(var, n, what) do { if (!((var) = buf_alloc(&B, (n), (what), err))) { st = GP_ERR_NOMEM; goto done; } } while (0)

typedef struct gather_job {
    const gp_galaxy *gal;
    const int       *idx;
    float           *dst;
} gather_job;

static void gather_range(void *ctx, size_t begin, size_t end)
{
    gather_job *j = ctx;
    for (size_t g = begin; g < end; g++)
        memcpy(j->dst + g * GP_CUTOUT_PIXELS, j->gal[j->idx[g]].cutout, sizeof(float) * GP_CUTOUT_PIXELS);
}

/* 1 when the cutouts of galaxies idx[0..nb-1] lie one after another, in
 * their order, in memory the backend reads directly (gp_cutouts_alloc). */
static int cutouts_direct(gp_backend *be, const gp_galaxy *gal, const int *idx, int nb)
{
    const float *first = gal[idx[0]].cutout;
    for (int g = 1; g < nb; g++)
        if (gal[idx[g]].cutout != first + (size_t)g * GP_CUTOUT_PIXELS) return 0;
    return be->ops->host_owns(be, first, sizeof(float) * GP_CUTOUT_PIXELS * (size_t)nb);
}

/* Cutouts of galaxies idx[0..nb-1] into x [nb x 3 x 160 x 160] on the
 * backend.  With overlapped uploads (slot >= 0): straight from the
 * caller's page-locked memory when the cutouts lie there in order, else
 * gathered by all CPUs into the backend's page-locked staging first; the
 * copy runs beside the computations queued before it.  Without: through
 * the staging and upload() when the backend has staging, else one
 * upload per cutout. */
static int upload_cutouts(gp_backend *be, const gp_galaxy *gal, const int *idx, int nb, float *x,
                          int slot, gp_error *err)
{
    const gp_backend_ops *ops = be->ops;
    const size_t each = sizeof(float) * GP_CUTOUT_PIXELS;
    if (slot >= 0 && ops->host_owns && cutouts_direct(be, gal, idx, nb))
        return ops->upload_slot(be, slot, x, gal[idx[0]].cutout, each * (size_t)nb, err);
    if (ops->host_staging) {
        gp_error serr;
        gp_error_clear(&serr);
        float *stage = ops->host_staging(be, each * (size_t)nb, &serr);
        if (stage) {
            gather_job j = { gal, idx, stage };
            (void)gp_parallel_for(gp_cpu_count(), (size_t)nb, gather_range, &j);
            if (slot >= 0) return ops->upload_slot(be, slot, x, stage, each * (size_t)nb, err);
            return ops->upload(be, x, stage, each * (size_t)nb, err);
        }
        /* no page-locked memory to be had: upload from the caller's */
    }
    for (int g = 0; g < nb; g++) {
        int st = ops->upload(be, x + (size_t)g * GP_CUTOUT_PIXELS, gal[idx[g]].cutout, each, err);
        if (st) return st;
    }
    return GP_OK;
}

/* Sample rows downloaded as [core rows x 4 | O/H rows | line rows x 4],
 * un-standardized into each galaxy's samples; rows in parallel (each
 * writes its own sample). */
typedef struct scatter_job {
    const gp_net *net;
    const float  *h_rows;
    int           rows;
    const int    *row_gal, *sample_idx;
    float       **out;
} scatter_job;

static void scatter_range(void *ctx, size_t begin, size_t end)
{
    const scatter_job *j = ctx;
    const gp_net *net = j->net;
    const size_t rows = (size_t)j->rows;
    for (size_t r = begin; r < end; r++) {
        float *dst = j->out[j->row_gal[r]] + (size_t)j->sample_idx[r] * GP_NQ;
        float v[GP_NQ];
        memcpy(v, j->h_rows + r * GP_NCORE, sizeof(float) * GP_NCORE);
        v[GP_Q_OH] = j->h_rows[rows * GP_NCORE + r];
        memcpy(v + GP_Q_HALPHA, j->h_rows + rows * (GP_NCORE + 1) + r * GP_NLINE, sizeof(float) * GP_NLINE);
        for (int q = 0; q < GP_NQ; q++) {
            double t = v[q] * net->target_std[q] + net->target_mean[q];
            /* the z target is a positive redshift's transform in newer models */
            dst[q] = (float)(q == GP_Q_Z ? gp_z_from_target(t, net->z_softplus) : t);
        }
        /* lines are y = log10(1 + max(F, 0)) (design.md): y < 0 is outside the
         * quantity's support, so such a sample is the flux F = 0 it stands for */
        for (int q = GP_Q_HALPHA; q < GP_Q_HALPHA + GP_NLINE; q++)
            if (dst[q] < 0.0f) dst[q] = 0.0f;
    }
}

/* Overlapped uploads (backends with upload_slot) across a gp_infer call:
 * the two slots' device buffers of `blk` cutouts, the slot the next block
 * goes to, and the first block of the next chunk, queued into a slot
 * while this chunk's last block is encoded. */
typedef struct upload_pipe {
    float     *xs[2];
    int        blk;
    int        next_slot;
    int        pre_slot;     /* -1: nothing prefetched */
    const int *pre_idx;      /* its galaxies, pre_cnt of them */
    int        pre_cnt;
} upload_pipe;

/* The block size for chunks of per_chunk galaxies (GP_INFER_BLOCK overrides). */
static int block_galaxies(int per_chunk)
{
    const char *e = getenv("GP_INFER_BLOCK");
    if (e && atoi(e) > 0) return atoi(e);
    int b = per_chunk / 4;
    return b < GP_BLOCK_MIN ? GP_BLOCK_MIN : b > GP_BLOCK_MAX ? GP_BLOCK_MAX : b;
}

/* A chunk between its phases: the encoder's results on the backend (from
 * chunk_encode to chunk_flows), then the host area its samples are
 * downloaded into (from chunk_flows to chunk_collect). */
typedef struct chunk_flight {
    const int *idx;          /* its galaxies: good indices */
    int        nb;
    float     *tin;          /* backend [nb x trunk_in]: the trunk input */
    int       *dflags;       /* backend [nb]: non-finite pixels (device check), or NULL */
    /* host, for chunk_collect */
    float     *h;            /* [K sample blocks of rows[k] x 9 | K x nb logits | nb flags |
                                 nb x trunk_in trunk inputs when the model has a latent check] */
    int        rows[GP_ENSEMBLE_MAX];
    int        flags;        /* the pixel flags were downloaded */
    int       *row_gal, *sample_idx;   /* [nb x N]: member k's from k's first row */
    size_t     cap_rows;
    int        fence;        /* -1: downloads already waited for */
} chunk_flight;

/* The host area for fl's downloads: at least `floats` floats of the
 * model's area `slot`, grown when short (gp_model_host_alloc: page-locked
 * on a GPU; plain memory makes the downloads wait, with the same values). */
static float *host_area(gp_model *m, int slot, size_t floats, gp_error *err)
{
    size_t bytes = sizeof(float) * (floats ? floats : 1);
    if (m->dl_bytes[slot] >= bytes) return m->dl[slot];
    gp_model_host_free(m, m->dl[slot]);
    m->dl_bytes[slot] = 0;
    bytes += bytes / 4;   /* room for a larger chunk next time */
    m->dl[slot] = gp_model_host_alloc(m, bytes);
    if (!m->dl[slot]) {
        GP_FAIL(err, GP_ERR_NOMEM, "cannot allocate %zu bytes for a chunk's samples", bytes);
        return NULL;
    }
    m->dl_bytes[slot] = bytes;
    return m->dl[slot];
}

/* Queue a download: without waiting when the backend can (the area is
 * then read after fence_wait), else at once. */
static int fetch(gp_backend *be, void *dst, const void *src, size_t bytes, gp_error *err)
{
    if (be->ops->download_async) return be->ops->download_async(be, dst, src, bytes, err);
    return be->ops->download(be, dst, src, bytes, err);
}

/* Phase 1 of a chunk, galaxies idx[0..nb-1]: its trunk input
 * [mu, sigma, photometry] built on the backend (fl->tin), from the
 * encoder on its cutouts for an image model and the photometry inputs
 * check_range computed (phot_in, by galaxy index); with the device pixel check,
 * fl->dflags.  Nothing here waits for the backend unless profiling.  With
 * overlapped uploads (pipe non-NULL) the next chunk's galaxies
 * next_idx[0..next_nb-1] have their first block queued. */
static int chunk_encode(gp_model *m, const gp_galaxy *gal, const float *phot_in, const int *idx, int nb,
                        const int *next_idx, int next_nb, upload_pipe *pipe, chunk_flight *fl,
                        infer_profile *prof, gp_error *err)
{
    gp_backend *be = m->be;
    const gp_backend_ops *ops = be->ops;
    const gp_net *net = &m->net;
    infer_buffers B = { be, {0}, 0 };
    int st = GP_OK;
    float *h_phot = NULL, *tin = NULL;
    int *dflags = NULL;
    fl->idx = idx;
    fl->nb = nb;
    fl->tin = NULL;
    fl->dflags = NULL;

    h_phot = malloc(sizeof(float) * (size_t)nb * GP_NPHOT);
    tin = ops->alloc(be, sizeof(float) * (size_t)nb * net->trunk_in);
    if (!h_phot || !tin) {
        st = GP_FAIL(err, GP_ERR_NOMEM, "cannot allocate the trunk input of %d galaxies", nb);
        goto done;
    }
    for (int g = 0; g < nb; g++)
        memcpy(h_phot + (size_t)g * GP_NPHOT, phot_in + (size_t)idx[g] * GP_NPHOT, sizeof(float) * GP_NPHOT);
    if (!net->uses_image) {   /* the trunk input is the photometry */
        if (net->trunk_in != GP_NPHOT) {
            st = GP_FAIL(err, GP_ERR_INTERNAL, "photometry model with a trunk input of %d values", net->trunk_in);
            goto done;
        }
        TRY(ops->upload(be, tin, h_phot, sizeof(float) * (size_t)nb * GP_NPHOT, err));
        goto done;
    }
    {
        float *xs[2] = { NULL, NULL }, *scratch, *mu, *lv, *phot;
        /* With page-locked staging, blocks (block_galaxies): the next block
         * is gathered on the host while the GPU copies and encodes this
         * one, and with overlapped uploads (pipe) it is copied into the
         * other slot's buffer while the GPU encodes this one.  Otherwise
         * the chunk in one block. */
        int blk = nb;
        if (pipe) blk = pipe->blk;
        else if (ops->host_staging && nb > block_galaxies(nb)) blk = block_galaxies(nb);
        if (ops->flag_nonfinite && !ops->encode_cutouts) {
            dflags = ops->alloc(be, sizeof(int) * (size_t)nb);
            if (!dflags) { st = GP_FAIL(err, GP_ERR_NOMEM, "cannot allocate pixel flags"); goto done; }
            TRY(ops->zero(be, dflags, sizeof(int) * (size_t)nb, err));
        }
        if (pipe) { xs[0] = pipe->xs[0]; xs[1] = pipe->xs[1]; }
        else if (!ops->encode_cutouts) ALLOC(xs[0], (size_t)blk * GP_CUTOUT_PIXELS, "cutouts");
        ALLOC(scratch, gp_net_encoder_scratch(net, blk), "encoder activations");
        ALLOC(mu, (size_t)nb * net->latent, "latent means");
        ALLOC(lv, (size_t)nb * net->latent, "latent log-variances");
        ALLOC(phot, (size_t)nb * GP_NPHOT, "photometry");
        TRY(ops->upload(be, phot, h_phot, sizeof(float) * (size_t)nb * GP_NPHOT, err));
        double t0 = prof->on ? now_s() : 0;
        if (ops->encode_cutouts) {   /* straight from the callers' cutouts, no batch-sized copy */
            const float **cut = malloc(sizeof *cut * (size_t)nb);
            if (!cut) { st = GP_FAIL(err, GP_ERR_NOMEM, "cannot allocate cutout pointers"); goto done; }
            for (int g = 0; g < nb; g++) cut[g] = gal[idx[g]].cutout;
            st = ops->encode_cutouts(be, net, cut, nb, scratch, mu, lv, err);
            free(cut);
            if (st) goto done;
            if (prof->on) { TRY(ops->sync(be, err)); prof->encoder += now_s() - t0; }
        } else for (int g0 = 0; g0 < nb; g0 += blk) {
            int cnt = nb - g0 < blk ? nb - g0 : blk;
            int s = 0;
            if (pipe && g0 == 0 && pipe->pre_slot >= 0 && !(pipe->pre_idx == idx && pipe->pre_cnt == cnt))
                pipe->pre_slot = -1;   /* (not this chunk's first block: unused) */
            if (!pipe) TRY(upload_cutouts(be, gal, idx + g0, cnt, xs[0], -1, err));
            else if (g0 == 0 && pipe->pre_slot >= 0) {
                s = pipe->pre_slot;   /* queued by the previous chunk */
                pipe->pre_slot = -1;
            } else {
                s = pipe->next_slot;
                pipe->next_slot ^= 1;
                TRY(upload_cutouts(be, gal, idx + g0, cnt, xs[s], s, err));
            }
            float *x = xs[s];
            if (dflags) TRY(ops->flag_nonfinite(be, x, cnt, GP_CUTOUT_PIXELS, dflags + g0, err));
            if (prof->on) { TRY(ops->sync(be, err)); prof->upload += now_s() - t0; t0 = now_s(); }
            TRY(ops->stretch(be, x, cnt, GP_CUTOUT_BANDS, GP_CUTOUT_SIZE * GP_CUTOUT_SIZE,
                             net->soft, net->offset, net->scale, err));
            TRY(gp_net_encode(be, net, x, cnt, scratch, mu + (size_t)g0 * net->latent,
                              lv + (size_t)g0 * net->latent, err));
            if (pipe) TRY(ops->slot_release(be, s, err));
            /* the next chunk's first block, copied beside this chunk's last
             * one (queued after it: the work queued after a copy waits) */
            if (pipe && g0 + blk >= nb && next_nb > 0) {
                int ncnt = next_nb < blk ? next_nb : blk, ns = pipe->next_slot;
                pipe->next_slot ^= 1;
                TRY(upload_cutouts(be, gal, next_idx, ncnt, xs[ns], ns, err));
                pipe->pre_slot = ns;
                pipe->pre_idx = next_idx;
                pipe->pre_cnt = ncnt;
            }
            if (prof->on) { TRY(ops->sync(be, err)); prof->encoder += now_s() - t0; t0 = now_s(); }
        }
        /* [mu, sigma = exp(logvar / 2), photometry] on the backend */
        const int L = net->latent, Ti = net->trunk_in;
        TRY(ops->exp_half(be, lv, (size_t)nb * L, lv, err));
        TRY(ops->copy_cols(be, mu, nb, L, 0, tin, Ti, 0, L, 0, err));
        TRY(ops->copy_cols(be, lv, nb, L, 0, tin, Ti, L, L, 0, err));
        TRY(ops->copy_cols(be, phot, nb, GP_NPHOT, 0, tin, Ti, 2 * L, GP_NPHOT, 0, err));
    }
done:
    buf_free_all(&B);   /* (backend frees are ordered after the work queued) */
    free(h_phot);
    if (st) {
        if (tin) ops->free(be, tin);
        if (dflags) ops->free(be, dflags);
        return st;
    }
    fl->tin = tin;
    fl->dflags = dflags;
    return GP_OK;
}

/* Phase 2: the trunk, heads and flows of every member on fl's trunk
 * input, and the samples, logits and pixel flags queued for download into
 * the model's host area `slot` (fence `slot` marks them when the backend
 * has fences).  Frees fl->tin and fl->dflags. */
static int chunk_flows(gp_model *m, const gp_galaxy *gal, chunk_flight *fl, int slot,
                       const gp_infer_options *opt, infer_profile *prof, gp_error *err)
{
    gp_backend *be = m->be;
    const gp_backend_ops *ops = be->ops;
    const gp_net *net = &m->net;
    const int N = opt->nsamples, K = net->K, T = net->trunk_out, nb = fl->nb;
    infer_buffers B = { be, {0}, 0 };
    int st = GP_OK;
    uint64_t *ids = malloc(sizeof(uint64_t) * (size_t)nb);
    const int maxrows = nb * ((N + K - 1) / K);
    if (fl->cap_rows < (size_t)nb * N) {
        free(fl->row_gal);
        free(fl->sample_idx);
        fl->row_gal = malloc(sizeof(int) * (size_t)nb * N);
        fl->sample_idx = malloc(sizeof(int) * (size_t)nb * N);
        fl->cap_rows = fl->row_gal && fl->sample_idx ? (size_t)nb * N : 0;
    }
    /* host area: member blocks of rows x 9, then K x nb logits, nb flags and,
     * for the latent check, the trunk inputs */
    const int ood = net->latent_ood.dim > 0;
    fl->h = host_area(m, slot, (size_t)nb * N * 9 + (size_t)(K + 1) * nb + (ood ? (size_t)nb * net->trunk_in : 0), err);
    fl->fence = -1;
    fl->flags = fl->dflags != NULL;
    if (!ids || !fl->cap_rows || !fl->h) {
        st = fl->h ? GP_FAIL(err, GP_ERR_NOMEM, "cannot allocate inference buffers for %d galaxies x %d samples", nb, N)
                   : GP_ERR_NOMEM;
        goto done;
    }
    for (int g = 0; g < nb; g++) ids[g] = gal[fl->idx[g]].id;
    float *h_cls = fl->h + (size_t)nb * N * 9;
    int *h_flags = (int *)(void *)(h_cls + (size_t)K * nb);   /* sizeof(int) == sizeof(float) */
    if (fl->dflags) TRY(fetch(be, h_flags, fl->dflags, sizeof(int) * (size_t)nb, err));
    if (ood) TRY(fetch(be, (float *)(void *)(h_flags + nb), fl->tin, sizeof(float) * (size_t)nb * net->trunk_in, err));

    float *trunk, *tmp, *head, *cls, *lhead, *hc, *hoh, *core, *oh, *line, *fscr;
    int wmax = 1;
    size_t fsz = 1;
    for (int k = 0; k < K; k++) {
        const gp_member *mm = &net->member[k];
        const gp_mlp *mlps[4] = { &mm->trunk, &mm->core_head, &mm->classifier, &mm->line_head };
        for (int i = 0; i < 4; i++) if (gp_mlp_width(mlps[i]) > wmax) wmax = gp_mlp_width(mlps[i]);
        size_t a = gp_realnvp_scratch(&mm->core_flow, maxrows, nb);
        size_t b = gp_realnvp_scratch(&mm->line_flow, maxrows, nb);
        size_t c = gp_affine1d_scratch(&mm->oh_flow, maxrows, nb);
        if (a > fsz) fsz = a;
        if (b > fsz) fsz = b;
        if (c > fsz) fsz = c;
    }
    ALLOC(trunk, (size_t)nb * T, "trunk output");
    ALLOC(tmp, 2 * (size_t)nb * wmax, "MLP activations");
    ALLOC(head, (size_t)nb * (GP_NCORE + 1), "core means");
    ALLOC(cls, (size_t)nb, "classifier logits");
    ALLOC(lhead, (size_t)nb * GP_NLINE, "line means");
    ALLOC(hc, (size_t)nb * GP_NCORE, "core means (4)");
    ALLOC(hoh, (size_t)nb, "O/H means");
    ALLOC(core, (size_t)maxrows * GP_NCORE, "core samples");
    ALLOC(oh, (size_t)maxrows, "O/H samples");
    ALLOC(line, (size_t)maxrows * GP_NLINE, "line samples");
    ALLOC(fscr, fsz, "flow scratch");

    static const int core_cols[GP_NCORE] = { 0, 1, 2, 3 };
    static const int oh_col[1] = { 4 };
    const float *tin = fl->tin;
    size_t r0 = 0;   /* member k's first row */
    for (int k = 0; k < K; k++) {
        const gp_member *mm = &net->member[k];
        double t1 = prof->on ? now_s() : 0;
        int *row_gal = fl->row_gal + r0, *sample_idx = fl->sample_idx + r0;
        int rows = 0;
        for (int g = 0; g < nb; g++)
            for (int s = k; s < N; s += K) { row_gal[rows] = g; sample_idx[rows] = s; rows++; }
        fl->rows[k] = rows;
        if (rows == 0) continue;
        TRY(gp_mlp_forward(be, &mm->trunk, net->act, net->slope, tin, nb, tmp, trunk, err));
        TRY(gp_mlp_forward(be, &mm->core_head, net->act, net->slope, trunk, nb, tmp, head, err));
        TRY(gp_mlp_forward(be, &mm->classifier, net->act, net->slope, trunk, nb, tmp, cls, err));
        TRY(gp_mlp_forward(be, &mm->line_head, net->act, net->slope, trunk, nb, tmp, lhead, err));
        if (ops->member_sample && (!ops->member_sample_fits || ops->member_sample_fits(be, net, k))) {
            /* the backend's fused sampling (each row's whole chain in cache on the CPU, in
             * registers on the GPU) */
            TRY(ops->member_sample(be, net, k, opt->seed, ids, row_gal, sample_idx, rows, trunk, head, lhead,
                                   nb, core, oh, line, err));
        } else {
            TRY(ops->gather_cols(be, head, nb, GP_NCORE + 1, core_cols, GP_NCORE, hc, err));
            TRY(ops->gather_cols(be, head, nb, GP_NCORE + 1, oh_col, 1, hoh, err));

            /* core: base noise -> residual -> standardized values */
            TRY(ops->normals(be, opt->seed, ids, row_gal, sample_idx, rows, GP_STREAM_CORE, GP_NCORE, core, err));
            TRY(gp_realnvp_apply(be, &mm->core_flow, net->act, net->slope, core, rows, trunk, nb, row_gal,
                                 -1, NULL, fscr, err));
            TRY(ops->add_rows(be, core, rows, GP_NCORE, hc, row_gal, err));
            /* metallicity given the sampled core values */
            TRY(ops->normals(be, opt->seed, ids, row_gal, sample_idx, rows, GP_STREAM_OH, 1, oh, err));
            TRY(gp_affine1d_apply(be, &mm->oh_flow, net->act, net->slope, oh, rows, core, trunk, nb,
                                  row_gal, -1, NULL, fscr, err));
            TRY(ops->add_rows(be, oh, rows, 1, hoh, row_gal, err));
            /* lines */
            TRY(ops->normals(be, opt->seed, ids, row_gal, sample_idx, rows, GP_STREAM_LINE, GP_NLINE, line, err));
            TRY(gp_realnvp_apply(be, &mm->line_flow, net->act, net->slope, line, rows, trunk, nb, row_gal,
                                 -1, NULL, fscr, err));
            TRY(ops->add_rows(be, line, rows, GP_NLINE, lhead, row_gal, err));
        }
        if (prof->on) { TRY(ops->sync(be, err)); prof->flows += now_s() - t1; t1 = now_s(); }
        /* [core rows x 4 | O/H rows | line rows x 4]; queued after this
         * member's work, before the next member's overwrites the buffers */
        float *h_rows = fl->h + 9 * r0;
        TRY(fetch(be, h_rows, core, sizeof(float) * (size_t)rows * GP_NCORE, err));
        TRY(fetch(be, h_rows + (size_t)rows * GP_NCORE, oh, sizeof(float) * (size_t)rows, err));
        TRY(fetch(be, h_rows + (size_t)rows * (GP_NCORE + 1), line, sizeof(float) * (size_t)rows * GP_NLINE, err));
        TRY(fetch(be, h_cls + (size_t)k * nb, cls, sizeof(float) * (size_t)nb, err));
        if (prof->on) { TRY(ops->sync(be, err)); prof->download += now_s() - t1; }
        r0 += (size_t)rows;
    }
    if (ops->download_async && ops->fence_record) {
        TRY(ops->fence_record(be, slot, err));
        fl->fence = slot;
    }
done:
    buf_free_all(&B);   /* (ordered after the work and the downloads queued) */
    if (fl->tin) ops->free(be, fl->tin);
    if (fl->dflags) ops->free(be, fl->dflags);
    fl->tin = NULL;
    fl->dflags = NULL;
    free(ids);
    return st;
}

/* Phase 3: wait for fl's downloads, then its samples into the host arrays
 * out[g] (N x 9, un-standardized), P(detectable) into pdet[g], the
 * device's pixel flags into bad[g] (0 without the check) and the latent
 * check's squared distance into ld2[g] (NaN without it); the scatter on
 * host_threads threads. */
static int chunk_collect(gp_model *m, chunk_flight *fl, const gp_infer_options *opt, float **out, double *pdet,
                         int *bad, double *ld2, int host_threads, infer_profile *prof, gp_error *err)
{
    gp_backend *be = m->be;
    const gp_net *net = &m->net;
    const int K = net->K, nb = fl->nb, N = opt->nsamples;
    double t1 = prof->on ? now_s() : 0;
    if (fl->fence >= 0) {
        int st = be->ops->fence_wait(be, fl->fence, err);
        if (st) return st;
        fl->fence = -1;
    }
    if (prof->on) { double t = now_s(); prof->download += t - t1; t1 = t; }
    const float *h_cls = fl->h + (size_t)nb * N * 9;
    const int *h_flags = (const int *)(const void *)(h_cls + (size_t)K * nb);
    const gp_ood *ood = &net->latent_ood;
    const float *h_tin = (const float *)(const void *)(h_flags + nb);
    for (int g = 0; g < nb; g++) {
        pdet[g] = 0.0;
        bad[g] = fl->flags ? h_flags[g] : 0;
        ld2[g] = NAN;
        if (ood->dim > 0) {
            double x[GP_OOD_MAX_DIM];
            const float *t = h_tin + (size_t)g * net->trunk_in;
            gp_ood_latent_vector(t, t + net->latent, net->latent, x);
            ld2[g] = gp_ood_distance2(ood, x);
        }
    }
    size_t r0 = 0;   /* member k's first row */
    for (int k = 0; k < K; k++) {
        int rows = fl->rows[k];
        if (rows == 0) continue;
        scatter_job sj = { net, fl->h + 9 * r0, rows, fl->row_gal + r0, fl->sample_idx + r0, out };
        if (rows >= 4096) (void)gp_parallel_for(host_threads, (size_t)rows, scatter_range, &sj);
        else scatter_range(&sj, 0, (size_t)rows);
        for (int g = 0; g < nb; g++) pdet[g] += 1.0 / (1.0 + exp(-(double)h_cls[(size_t)k * nb + g])) / K;
        r0 += (size_t)rows;
    }
    if (prof->on) prof->scatter += now_s() - t1;
    return GP_OK;
}

/* The source check (gp_source_check.h) of galaxy g into its result.  It
 * judges inputs the result rests on: the cutout of an image model or, for a
 * photometry-only model, the frames its magnitudes were measured on at this
 * position; not a cutout that nothing reads.  On the host, so identical on
 * every backend, and with the summaries, so that on a GPU backend it runs
 * while the device works on the next chunk (a pass before any device work
 * delayed the batch, as the host's pixel scan had: bench/RESULTS.md). */
static void source_check(const gp_model *m, const gp_galaxy *g, gp_result *r)
{
    gp_source src;
    const int judged = m->net.uses_image || (g->flags & GP_FLAG_PHOT_MEASURED);
    if (judged && g->cutout && gp_source_check(g->cutout, &src, NULL) == GP_OK) {
        r->source_snr = src.snr;
        r->source_peak = src.peak;
        if (src.no_source) r->flags |= GP_FLAG_NO_SOURCE;
    }
}

/* Summaries of a chunk's galaxies (and their source checks), in parallel:
 * each galaxy's result is written by one thread only, failures into its own
 * status and message. */
typedef struct summary_job {
    gp_result   *res;
    const int   *idx;
    float *const *samples;
    int          nsamples;
    const gp_model  *m;
    const gp_galaxy *gal;
} summary_job;

static void summaries_range(void *ctx, size_t begin, size_t end)
{
    summary_job *j = ctx;
    for (size_t g = begin; g < end; g++) {
        gp_result *r = &j->res[j->idx[g]];
        if (r->status) continue;   /* a pixel the device check flagged: not judged */
        source_check(j->m, &j->gal[j->idx[g]], r);
        gp_error serr;
        int ss = gp_summary_compute(j->samples[g], j->nsamples, &r->summary, &serr);
        if (ss) {
            r->status = ss;
            snprintf(r->message, sizeof r->message, "galaxy %llu: %.200s", (unsigned long long)r->id, serr.msg);
        }
    }
}

/* A chunk whose samples are on the host: its summaries run (in the
 * background for a GPU backend, while the GPU works on the next chunk),
 * then finish_chunk() hands the samples and P(detectable) to the results. */
typedef struct chunk_state {
    float     **samples;      /* [per_chunk] */
    double     *pdet;         /* [per_chunk] */
    int        *bad;          /* [per_chunk] non-finite pixels (device check) */
    double     *ld2;          /* [per_chunk] latent check's squared distance */
    double      ood_limit;    /* and the model's limit */
    size_t      c0;           /* first galaxy: good[c0] */
    int         nb;           /* galaxies held (0: none) */
    summary_job sj;
    int         threads;      /* for the background summaries */
    pthread_t   th;
    int         threaded;     /* th is running */
    double      sum_wall;     /* the summaries' wall time (profile) */
    double      sum_cpu;      /* their threads' CPU time (profile) */
    int         sum_parts;    /* and the threads they ran on */
    atomic_size_t next;       /* next galaxy to hand out (background) */
} chunk_state;

/* CPU time of the calling thread, seconds. */
static double thread_cpu_s(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0.0;
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct summary_part {
    chunk_state *c;
    pthread_t    th;
    int          started;
    double       cpu;         /* this part's CPU time */
} summary_part;

/* Galaxies are handed out a few at a time from c->next, so that a thread
 * that gets less of its core (the GPU driver's thread, the main thread
 * scattering the next chunk) takes fewer of them instead of holding the
 * chunk's end: with a fixed split the slowest thread set the wall time.
 * Each galaxy's summary is its own, so the results do not depend on who
 * computes it. */
static void *summary_part_main(void *arg)
{
    enum { BLOCK = 4 };
    summary_part *p = arg;
    chunk_state *c = p->c;
    double t0 = thread_cpu_s();
    for (;;) {
        size_t b = atomic_fetch_add(&c->next, (size_t)BLOCK);
        if (b >= (size_t)c->nb) break;
        size_t e = b + BLOCK < (size_t)c->nb ? b + BLOCK : (size_t)c->nb;
        summaries_range(&c->sj, b, e);
    }
    p->cpu = thread_cpu_s() - t0;
    return NULL;
}

/* Background summaries on threads of their own (not gp_parallel's pool,
 * which the next chunk's cutout gathering uses meanwhile); this thread is
 * one of them, and it works alone when no other can start. */
static void *summaries_background(void *arg)
{
    chunk_state *c = arg;
    enum { MAXPARTS = 64 };
    summary_part part[MAXPARTS];
    double t0 = now_s();
    int np = c->threads < 1 ? 1 : (c->threads > MAXPARTS ? MAXPARTS : c->threads);
    if (np > c->nb) np = c->nb;
    atomic_store(&c->next, 0);
    for (int i = 0; i < np; i++) {
        part[i].c = c;
        part[i].cpu = 0.0;
        part[i].started = i > 0 && pthread_create(&part[i].th, NULL, summary_part_main, &part[i]) == 0;
    }
    summary_part_main(&part[0]);
    int ran = 1;
    c->sum_cpu = part[0].cpu;
    for (int i = 1; i < np; i++)
        if (part[i].started) {
            pthread_join(part[i].th, NULL);
            c->sum_cpu += part[i].cpu;
            ran++;
        }
    c->sum_wall = now_s() - t0;
    c->sum_parts = ran;
    return NULL;
}

/* Wait for a chunk's summaries and hand its samples over (kept when asked
 * for and the galaxy succeeded, freed otherwise). */
static void finish_chunk(chunk_state *c, gp_result *res, const int *good, int keep, int *first_bad,
                         infer_profile *prof, gp_error *err)
{
    if (c->threaded) {
        double t0 = prof->on ? now_s() : 0;
        pthread_join(c->th, NULL);
        c->threaded = 0;
        if (prof->on) prof->summaries_wait += now_s() - t0;
    }
    if (prof->on && c->nb) {
        prof->summaries_work += c->sum_wall;
        prof->summaries_cpu += c->sum_cpu;
        if (c->sum_cpu > 0) prof->summarised_cpu += c->nb;
        prof->summarised += c->nb;
        if (c->sum_parts > prof->summary_threads) prof->summary_threads = c->sum_parts;
    }
    for (int g = 0; g < c->nb; g++) {
        gp_result *r = &res[good[c->c0 + (size_t)g]];
        r->summary.p_detect = c->pdet[g];
        if (!isnan(c->ld2[g]) && r->status == GP_OK) {   /* (not for a galaxy that failed) */
            r->latent_d2 = c->ld2[g];
            r->latent_d2_limit = c->ood_limit;
            if (!(c->ld2[g] <= c->ood_limit)) r->flags |= GP_FLAG_IMAGE_UNLIKE;
        }
        if (r->status) unjudge(r);
        if (r->status && *first_bad == GP_OK) *first_bad = GP_FAIL(err, r->status, "%s", r->message);
        if (keep && r->status == GP_OK) r->samples = c->samples[g];
        else free(c->samples[g]);
        c->samples[g] = NULL;
    }
    c->nb = 0;
}

/* Galaxies in the chunk starting at good[c0], `remaining` from there
 * (gp_model_internal.h).  With background summaries (a GPU backend) a
 * batch of several chunks ends with a quarter chunk, so that only a small
 * chunk's summaries wait with no GPU work beside them.  A batch of one
 * chunk of at least GP_SPLIT_MIN galaxies (unless GP_INFER_SPLIT=0)
 * starts with half of it, and its second half then ends with a quarter:
 * 1024 galaxies go as 512 + 384 + 128, 600 as 300 + 225 + 75, so that each
 * chunk's summaries run beside the next one's GPU work (on an H200, 1024
 * galaxies as 768 + 256 gave 44757 galaxies/s, as 512 + 384 + 128 48571:
 * bench/RESULTS.md). */
#define GP_SPLIT_MIN 512
int gp_infer_chunk_size(size_t remaining, int per_chunk, size_t c0, int on_cpu, int split_single)
{
    if (remaining > (size_t)per_chunk) return per_chunk;
    if (on_cpu) return (int)remaining;
    const size_t n = c0 + remaining;   /* the batch */
    if (split_single && n >= GP_SPLIT_MIN && n <= (size_t)per_chunk) {   /* one chunk's worth, split */
        const size_t half = n / 2, rest = n - half;
        if (c0 == 0) return (int)half;
        return (int)(c0 == half ? rest - rest / 4 : remaining);
    }
    /* the last chunk of several: three quarters, then a quarter */
    if (c0 > 0 && remaining >= 8 && 2 * remaining >= (size_t)per_chunk) return (int)(remaining - remaining / 4);
    return (int)remaining;
}

/* Galaxies good[c0..ngood-1] failed with st (err's message). */
static void fail_from(gp_result *res, const int *good, size_t c0, size_t ngood, int st, const gp_error *err)
{
    for (size_t i = c0; i < ngood; i++) {
        unjudge(&res[good[i]]);
        res[good[i]].status = st;
        snprintf(res[good[i]].message, sizeof res[good[i]].message, "inference failed: %.200s",
                 err ? err->msg : gp_status_string(st));
    }
}

/* Queue the chunk starting at good[c0] (its size by gp_infer_chunk_size) into fl:
 * its encoder (with the first block of the chunk after it) and flows,
 * downloads into the model's host area `slot`. */
static int queue_chunk(gp_model *m, const gp_galaxy *gal, const float *phot, const int *good, size_t ngood, size_t c0,
                       int per_chunk, int on_cpu, int split, upload_pipe *pipe, chunk_flight *fl, int slot,
                       const gp_infer_options *o, infer_profile *prof, gp_error *err)
{
    int n = gp_infer_chunk_size(ngood - c0, per_chunk, c0, on_cpu, split);
    size_t c1 = c0 + (size_t)n;
    int n1 = c1 < ngood ? gp_infer_chunk_size(ngood - c1, per_chunk, c1, on_cpu, split) : 0;
    int st = chunk_encode(m, gal, phot, good + c0, n, good + c1, n1, pipe, fl, prof, err);
    return st ? st : chunk_flows(m, gal, fl, slot, o, prof, err);
}

int gp_infer(gp_model *m, const gp_galaxy *gal, size_t n, const gp_infer_options *opt,
             gp_result *res, gp_error *err)
{
    if (!m || (!gal && n) || (!res && n)) return GP_FAIL(err, GP_ERR_ARG, "gp_infer: NULL argument");
    gp_infer_options o = opt ? *opt : gp_infer_options_default();
    if (o.nsamples < 2 || o.nsamples > 1000000)
        return GP_FAIL(err, GP_ERR_ARG, "gp_infer: %d samples per galaxy outside 2..1000000", o.nsamples);
    if (n > (size_t)1 << 30) return GP_FAIL(err, GP_ERR_ARG, "gp_infer: batch of %zu galaxies is too large", n);

    int first_bad = GP_OK;
    int *good = malloc(sizeof(int) * (n ? n : 1));
    float *phot = malloc(sizeof(float) * GP_NPHOT * (n ? n : 1));
    if (!good || !phot) {
        free(good);
        free(phot);
        return GP_FAIL(err, GP_ERR_NOMEM, "gp_infer: cannot allocate the batch index");
    }
    /* Host work uses the CPU backend's threads, or all CPUs beside a GPU's. */
    const int cpu_backend = strcmp(m->be->ops->name, "cpu") == 0;
    const int host_threads = cpu_backend ? m->be->threads : gp_cpu_count();
    const char *pe = getenv("GP_INFER_PROFILE");
    infer_profile prof;
    memset(&prof, 0, sizeof prof);
    prof.on = pe && strcmp(pe, "1") == 0;
    double t_start = prof.on ? now_s() : 0;
    /* every pixel checked */
    const int device_check = m->be->ops->flag_nonfinite && !m->be->ops->encode_cutouts && m->net.uses_image;
    check_job cj = { m, gal, res, o.nsamples, !device_check, phot };
    (void)gp_parallel_for(host_threads, n, check_range, &cj);
    if (prof.on) prof.checks = now_s() - t_start;
    size_t ngood = 0;
    for (size_t i = 0; i < n; i++) {
        if (res[i].status == GP_OK) good[ngood++] = (int)i;
        else if (first_bad == GP_OK) {
            first_bad = GP_FAIL(err, res[i].status, "%s", res[i].message);
        }
    }

    /* chunk sizes: the backend's wishes (a GPU wants large chunks), else ours */
    int max_gal = m->be->chunk_galaxies > 0 ? m->be->chunk_galaxies : GP_CHUNK_GALAXIES;
    int max_rows = m->be->chunk_rows > 0 ? m->be->chunk_rows : GP_CHUNK_ROWS;
    int per_chunk = max_rows / o.nsamples * m->net.K;
    if (per_chunk < 1) per_chunk = 1;
    if (per_chunk > max_gal) per_chunk = max_gal;
    const char *ce = getenv("GP_INFER_CHUNK");
    if (ce && atoi(ce) > 0 && atoi(ce) < per_chunk) per_chunk = atoi(ce);
    /* The CPU backend's summaries use its own threads once its compute is
     * done; after a GPU backend's chunk they run in the background on all
     * CPUs while the GPU works on the next chunk. */
    const char *be_env = getenv("GP_INFER_BACKGROUND_SUMMARIES");
    const int on_cpu = cpu_backend && !(be_env && strcmp(be_env, "1") == 0);
    chunk_state cs[2];
    memset(cs, 0, sizeof cs);
    for (int i = 0; i < 2; i++) atomic_init(&cs[i].next, 0);
    chunk_flight fl[2];
    memset(fl, 0, sizeof fl);
    fl[0].fence = fl[1].fence = -1;
    int st = GP_OK;
    upload_pipe pipe_s = { { NULL, NULL }, 0, 0, -1, NULL, 0 }, *pipe = NULL;
    const gp_backend_ops *ops = m->be->ops;
    for (int i = 0; i < 2; i++) {
        cs[i].samples = calloc((size_t)per_chunk, sizeof(float *));
        cs[i].pdet = calloc((size_t)per_chunk, sizeof(double));
        cs[i].bad = calloc((size_t)per_chunk, sizeof(int));
        cs[i].ld2 = calloc((size_t)per_chunk, sizeof(double));
        cs[i].ood_limit = m->net.latent_ood.d2_limit;
        if (!cs[i].samples || !cs[i].pdet || !cs[i].bad || !cs[i].ld2) {
            st = GP_FAIL(err, GP_ERR_NOMEM, "gp_infer: cannot allocate chunk tables");
            goto out;
        }
    }
    /* overlapped uploads: the slots' buffers, for the whole call */
    if (ops->upload_slot && !ops->encode_cutouts && m->net.uses_image && ngood > 0) {
        pipe_s.blk = block_galaxies(per_chunk);
        for (int s = 0; s < 2; s++) {
            pipe_s.xs[s] = ops->alloc(m->be, sizeof(float) * GP_CUTOUT_PIXELS * (size_t)pipe_s.blk);
            if (!pipe_s.xs[s]) {
                st = GP_FAIL(err, GP_ERR_NOMEM, "gp_infer: cannot allocate %d cutouts on the device", pipe_s.blk);
                goto out;
            }
            if ((st = ops->slot_release(m->be, s, err))) goto out;
        }
        pipe = &pipe_s;
    }
    /* Chunk k's encode and flows (with its downloads) are queued before
     * the host waits for chunk k-1's samples, so that a GPU has a whole
     * chunk of work while the host scatters them and starts their
     * summaries. */
    const char *se = getenv("GP_INFER_SPLIT");
    const int split = !(se && strcmp(se, "0") == 0);
    int k = 0, nb = 0;
    if (ngood > 0 && (st = queue_chunk(m, gal, phot, good, ngood, 0, per_chunk, on_cpu, split, pipe, &fl[0], 0, &o, &prof, err))) {
        fail_from(res, good, 0, ngood, st, err);
        goto out;
    }
    for (size_t c0 = 0; c0 < ngood; c0 += (size_t)nb, k++) {
        chunk_state *cur = &cs[k & 1], *prev = &cs[(k + 1) & 1];
        chunk_flight *f = &fl[k & 1], *fnext = &fl[(k + 1) & 1];
        nb = f->nb;
        const int *idx = good + c0;
        for (int g = 0; g < nb; g++) {
            cur->samples[g] = malloc(sizeof(float) * (size_t)o.nsamples * GP_NQ);
            if (!cur->samples[g]) {
                for (int h = 0; h < g; h++) { free(cur->samples[h]); cur->samples[h] = NULL; }
                st = GP_FAIL(err, GP_ERR_NOMEM, "gp_infer: cannot allocate %d samples", o.nsamples);
                break;
            }
        }
        /* the next chunk's encoder and flows, queued behind this chunk's */
        if (!st && c0 + (size_t)nb < ngood)
            st = queue_chunk(m, gal, phot, good, ngood, c0 + (size_t)nb, per_chunk, on_cpu, split, pipe, fnext,
                             (k + 1) & 1, &o, &prof, err);
        if (!st) st = chunk_collect(m, f, &o, cur->samples, cur->pdet, cur->bad, cur->ld2, host_threads, &prof, err);
        /* galaxies whose pixels the device flagged: the host scan names the
         * pixel (their samples are discarded, the others' unaffected: no
         * stage mixes galaxies) */
        for (int g = 0; !st && g < nb; g++)
            if (cur->bad[g] && check_galaxy(m, &gal[idx[g]], &res[idx[g]], 1) == GP_OK) {
                res[idx[g]].status = GP_ERR_DATA;
                snprintf(res[idx[g]].message, sizeof res[idx[g]].message,
                         "galaxy %llu: cutout has a non-finite pixel", (unsigned long long)gal[idx[g]].id);
            }
        /* (a failure's message in err is not overwritten by a galaxy's) */
        if (prev->nb) finish_chunk(prev, res, good, o.keep_samples, &first_bad, &prof, st ? NULL : err);
        if (st) {
            for (int g = 0; g < nb; g++) { free(cur->samples[g]); cur->samples[g] = NULL; }
            fail_from(res, good, c0, ngood, st, err);
            goto out;
        }
        cur->c0 = c0;
        cur->nb = nb;
        cur->sj = (summary_job){ res, idx, cur->samples, o.nsamples, m, gal };
        if (on_cpu) {
            double t0 = now_s();
            (void)gp_parallel_for(host_threads, (size_t)nb, summaries_range, &cur->sj);
            cur->sum_wall = now_s() - t0;
            cur->sum_cpu = 0.0;   /* the pool's threads are not timed one by one */
            cur->sum_parts = host_threads < nb ? host_threads : nb;
            finish_chunk(cur, res, good, o.keep_samples, &first_bad, &prof, err);
        } else {
            cur->threads = host_threads;
            cur->threaded = pthread_create(&cur->th, NULL, summaries_background, cur) == 0;
            if (!cur->threaded) summaries_background(cur);
        }
    }
out:
    if (st) (void)ops->sync(m->be, NULL);   /* nothing queued outlives the call's buffers */
    for (int i = 0; i < 2; i++) {
        if (fl[i].tin) ops->free(m->be, fl[i].tin);
        if (fl[i].dflags) ops->free(m->be, fl[i].dflags);
        free(fl[i].row_gal);
        free(fl[i].sample_idx);
    }
    for (int s = 0; s < 2; s++)
        if (pipe_s.xs[s]) ops->free(m->be, pipe_s.xs[s]);
    for (int i = 0; i < 2; i++) {
        if (cs[i].nb) finish_chunk(&cs[i], res, good, o.keep_samples, &first_bad, &prof, st ? NULL : err);
        free(cs[i].samples);
        free(cs[i].pdet);
        free(cs[i].bad);
        free(cs[i].ld2);
    }
    free(good);
    free(phot);
    if (prof.on) {
        prof.total = now_s() - t_start;
        /* the summaries' own wall time (beside GPU work on a GPU backend), and per galaxy and
         * thread; for background summaries also their threads' CPU time per galaxy, which
         * tells slow code (both high) from threads that wait for a core (wall >> CPU) */
        double per = prof.summarised ? 1e6 * prof.summaries_work * prof.summary_threads / (double)prof.summarised : 0;
        char cpu[64] = "";
        if (prof.summaries_cpu > 0 && prof.summarised_cpu)
            snprintf(cpu, sizeof cpu, ", CPU %.1f us a galaxy", 1e6 * prof.summaries_cpu / (double)prof.summarised_cpu);
        fprintf(stderr, "gp_infer profile: %zu galaxies x %d samples on %s: input checks %.2f ms, upload %.2f ms, "
                "encoder %.2f ms, flows %.2f ms, download %.2f ms, scatter %.2f ms, summaries %.2f ms for %ld galaxies "
                "on %d threads (%.1f us a galaxy a thread%s), waiting for summaries %.2f ms, total %.2f ms\n",
                ngood, o.nsamples, m->be->ops->name, 1e3 * prof.checks, 1e3 * prof.upload, 1e3 * prof.encoder,
                1e3 * prof.flows, 1e3 * prof.download, 1e3 * prof.scatter, 1e3 * prof.summaries_work, prof.summarised,
                prof.summary_threads, per, cpu, 1e3 * prof.summaries_wait, 1e3 * prof.total);
    }
    if (st) {
        gp_result_free(res, n);
        return st;
    }
    /* the first failing galaxy in input order, whichever check found it */
    if (first_bad != GP_OK)
        for (size_t i = 0; i < n; i++)
            if (res[i].status != GP_OK) {
                first_bad = GP_FAIL(err, res[i].status, "%s", res[i].message);
                break;
            }
    return first_bad;
}

void gp_result_free(gp_result *res, size_t n)
{
    if (!res) return;
    for (size_t i = 0; i < n; i++) {
        free(res[i].samples);
        res[i].samples = NULL;
    }
}
