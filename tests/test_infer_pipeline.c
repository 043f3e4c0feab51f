/*
 * test_infer_pipeline.c: gp_infer's GPU-style path, on a machine without a
 * GPU.  The CPU backend's operations are wrapped in a table that adds what
 * the CUDA backend offers gp_infer (page-locked staging and caller memory,
 * two upload slots, the device pixel check, queued downloads and fences)
 * and drops the CPU's fused encoder, so gp_infer takes the path it takes
 * on a GPU: cutouts in blocks through two alternating slots, each chunk's
 * first block queued during the previous chunk, the next chunk's encoder
 * queued before the host waits for this chunk's samples, background
 * summaries, a quarter chunk at the end, pixels flagged by the backend.
 * The wrapped operations check the protocols (a slot is never refilled
 * before the work that reads it has released it, a block is never read
 * before it was copied, a queued download is read only after its fence),
 * and the samples must equal the plain CPU backend's bit for bit.  The
 * model carries a latent check (gp_ood.h), so the trunk inputs are among the
 * queued downloads, and the distances and flags must equal the CPU's too.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "galpost/gp_model.h"
#include "gp_backend.h"
#include "gp_model_internal.h"
#include "gp_ood.h"
#include "train/gp_train.h"
#include "gp_test_util.h"

#define NG 150

static char path_img[512];
static float *cutouts;
static gp_galaxy gal[NG];

/* ---- the wrapped backend ---- */

static gp_backend_ops wrapped;
static const gp_backend_ops *cpu_ops;
enum { SLOT_FREE, SLOT_FULL };
static struct {
    int   state[2];          /* SLOT_FREE after a release, SLOT_FULL after a copy */
    float *filled[2];        /* the destination of the slot's last copy */
    int   violations, uploads_slot, uploads_direct, releases, flags_calls;
    void *stage[2];
    size_t stage_bytes[2];
    int   stage_next;
    void *host[8];
    size_t host_len[8];
} W;

static void *w_host_staging(gp_backend *be, size_t bytes, gp_error *err)
{
    (void)be; (void)err;
    int h = W.stage_next;
    if (bytes > W.stage_bytes[h]) {
        free(W.stage[h]);
        W.stage[h] = malloc(bytes);
        W.stage_bytes[h] = W.stage[h] ? bytes : 0;
    }
    W.stage_next ^= 1;
    return W.stage[h];
}

static void *w_host_alloc(gp_backend *be, size_t bytes, gp_error *err)
{
    (void)be; (void)err;
    for (int i = 0; i < 8; i++)
        if (!W.host[i]) {
            W.host[i] = malloc(bytes);
            W.host_len[i] = bytes;
            return W.host[i];
        }
    return NULL;
}

static void w_host_free(gp_backend *be, void *p)
{
    (void)be;
    for (int i = 0; i < 8; i++)
        if (W.host[i] == p && p) { free(p); W.host[i] = NULL; }
}

static int w_host_owns(gp_backend *be, const void *p, size_t bytes)
{
    (void)be;
    for (int i = 0; i < 8; i++) {
        const char *a = W.host[i], *q = p;
        if (a && q >= a && q + bytes <= a + W.host_len[i]) return 1;
    }
    return 0;
}

static int w_slot_release(gp_backend *be, int s, gp_error *err)
{
    (void)be; (void)err;
    if (s < 0 || s > 1) { W.violations++; return GP_ERR_ARG; }
    W.state[s] = SLOT_FREE;
    W.releases++;
    return GP_OK;
}

static int w_upload_slot(gp_backend *be, int s, void *dst, const void *src, size_t bytes, gp_error *err)
{
    (void)be; (void)err;
    if (s < 0 || s > 1 || W.state[s] != SLOT_FREE) W.violations++;   /* refilled before its release */
    int staged = 0;
    for (int h = 0; h < 2; h++)
        if (W.stage[h] && (const char *)src >= (char *)W.stage[h] &&
            (const char *)src + bytes <= (char *)W.stage[h] + W.stage_bytes[h]) staged = 1;
    if (!staged && !w_host_owns(be, src, bytes)) W.violations++;     /* not page-locked memory */
    if (staged) W.uploads_slot++;
    else W.uploads_direct++;
    memcpy(dst, src, bytes);
    W.state[s] = SLOT_FULL;
    W.filled[s] = dst;
    return GP_OK;
}

static int w_flag_nonfinite(gp_backend *be, const float *x, int n, size_t per, int *flags, gp_error *err)
{
    (void)be; (void)err;
    W.flags_calls++;
    for (int g = 0; g < n; g++)
        for (size_t i = 0; i < per; i++)
            if (!isfinite(x[(size_t)g * per + i])) { flags[g] = 1; break; }
    return GP_OK;
}

/* the stretch reads a block: it must be a full slot */
static int w_stretch(gp_backend *be, float *x, int n, int bands, int plane, const float *soft,
                     const float *offset, const float *scale, gp_error *err)
{
    if (!((W.state[0] == SLOT_FULL && W.filled[0] == x) || (W.state[1] == SLOT_FULL && W.filled[1] == x)))
        W.violations++;
    return cpu_ops->stretch(be, x, n, bands, plane, soft, offset, scale, err);
}

/* Queued downloads: the source is read at once (later work on the CPU
 * would change it; on a GPU it runs after the copy), the destination is
 * poisoned and written only when a fence recorded after the download is
 * waited for, so a reader that does not wait sees NaN. */
static struct {
    void  *dst, *snap;
    size_t bytes;
    int    fence;            /* -1: no fence recorded after it yet */
} Q[256];
static int nq, queued_total, fence_waits;

static int w_download_async(gp_backend *be, void *dst, const void *src, size_t bytes, gp_error *err)
{
    (void)err;
    if (!w_host_owns(be, dst, bytes)) W.violations++;   /* would not overlap on a GPU */
    if (nq == (int)(sizeof Q / sizeof Q[0])) { W.violations++; return GP_ERR_INTERNAL; }
    Q[nq].snap = malloc(bytes ? bytes : 1);
    memcpy(Q[nq].snap, src, bytes);
    memset(dst, 0xff, bytes);
    Q[nq].dst = dst;
    Q[nq].bytes = bytes;
    Q[nq].fence = -1;
    nq++;
    queued_total++;
    return GP_OK;
}

static void deliver(int fence)   /* fence -2: everything */
{
    int j = 0;
    for (int i = 0; i < nq; i++) {
        if (fence == -2 || (Q[i].fence == fence && fence >= 0)) {
            memcpy(Q[i].dst, Q[i].snap, Q[i].bytes);
            free(Q[i].snap);
        } else {
            Q[j++] = Q[i];
        }
    }
    nq = j;
}

static int w_fence_record(gp_backend *be, int f, gp_error *err)
{
    (void)be; (void)err;
    if (f < 0 || f > 1) { W.violations++; return GP_ERR_ARG; }
    for (int i = 0; i < nq; i++)
        if (Q[i].fence == -1) Q[i].fence = f;
    return GP_OK;
}

static int w_fence_wait(gp_backend *be, int f, gp_error *err)
{
    (void)be; (void)err;
    if (f < 0 || f > 1) { W.violations++; return GP_ERR_ARG; }
    fence_waits++;
    deliver(f);
    return GP_OK;
}

static int w_sync(gp_backend *be, gp_error *err)
{
    deliver(-2);
    return cpu_ops->sync(be, err);
}

static void counts_reset(void)
{
    W.violations = W.uploads_slot = W.uploads_direct = W.releases = W.flags_calls = 0;
    queued_total = fence_waits = 0;
}

/* wrap 0: the CPU backend without its fused encoder (the reference: the
 * composed stretch + encoder path gp_infer also takes on a GPU); wrap 1:
 * as a GPU backend. */
static gp_model *open_model(int wrap, int chunk)
{
    gp_model_options o = gp_model_options_default();
    o.backend = GP_BACKEND_CPU;
    o.threads = 2;
    gp_model *m = NULL;
    gp_error err;
    if (gp_model_open(path_img, &o, &m, &err)) fail_msg("gp_model_open: %s", err.msg);
    cpu_ops = m->be->ops;
    if (!wrap) {
        static gp_backend_ops plain;
        plain = *cpu_ops;
        plain.encode_cutouts = NULL;
        m->be->ops = &plain;
    } else {
        wrapped = *cpu_ops;
        wrapped.name = "cpu-as-gpu";
        wrapped.encode_cutouts = NULL;
        wrapped.host_staging = w_host_staging;
        wrapped.host_alloc = w_host_alloc;
        wrapped.host_free = w_host_free;
        wrapped.host_owns = w_host_owns;
        wrapped.slot_release = w_slot_release;
        wrapped.upload_slot = w_upload_slot;
        wrapped.flag_nonfinite = w_flag_nonfinite;
        wrapped.stretch = w_stretch;
        wrapped.download_async = w_download_async;
        wrapped.fence_record = w_fence_record;
        wrapped.fence_wait = w_fence_wait;
        wrapped.sync = w_sync;
        m->be->ops = &wrapped;
        m->be->chunk_galaxies = chunk;
    }
    return m;
}

static void close_model(gp_model *m)
{
    gp_model_host_areas_free(m);   /* through the wrapper that allocated them */
    m->be->ops = cpu_ops;
    gp_model_close(m);
}

static int setup(void **state)
{
    (void)state;
    gp_arch a = gp_arch_default();
    a.enc_channels[0] = 4; a.enc_channels[1] = 6; a.enc_channels[2] = 8;
    a.latent = 8; a.trunk[0] = 32; a.trunk[1] = 24; a.head_hidden = 16;
    a.flow_hidden = 16; a.couplings = 4; a.ensemble = 2;
    gp_error err;
    gp_test_tmpname(path_img, sizeof path_img, ".gpw");
    if (gp_model_write_random(path_img, &a, 21, &err)) { fprintf(stderr, "%s\n", err.msg); return -1; }
    /* a latent check (mean 0, unit covariance; the tests set the limit) */
    const int D = 2 * a.latent;
    double mean[16] = { 0 }, chol[16 * 17 / 2] = { 0 };
    for (int i = 0; i < D; i++) chol[i * (i + 1) / 2 + i] = 1.0;
    gp_ood o = { D, mean, chol, 1.0, 0.999, 100 };
    if (gp_test_add_latent_check(path_img, path_img, &o, &err)) { fprintf(stderr, "%s\n", err.msg); return -1; }
    cutouts = gp_test_galaxies(gal, NG);
    if (!cutouts) return -1;
    /* a photometry check about the galaxies' mean colours and r (unit covariance;
     * the tests set the limit), and colours spread so that distances differ */
    for (int g = 0; g < NG; g++)
        for (int b = 0; b < 5; b++) gal[g].mag[b] += (float)(0.2 * gp_test_normal());
    double pmean[GP_PHOT_OOD_DIM] = { 0 }, pchol[GP_PHOT_OOD_DIM * (GP_PHOT_OOD_DIM + 1) / 2] = { 0 };
    for (int i = 0; i < GP_PHOT_OOD_DIM; i++) pchol[i * (i + 1) / 2 + i] = 1.0;
    gp_ood po = { GP_PHOT_OOD_DIM, pmean, pchol, 1.0, 0.999, 100 };
    if (gp_test_add_check(path_img, path_img, "ood.phot", &po, &err)) { fprintf(stderr, "%s\n", err.msg); return -1; }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path_img);
    free(cutouts);
    for (int h = 0; h < 2; h++) free(W.stage[h]);
    return 0;
}

static void expect_same(const gp_result *a, const gp_result *b, int n, int ns, int skip)
{
    for (int g = 0; g < n; g++) {
        assert_int_equal(a[g].status, b[g].status);
        if (g == skip) continue;
        assert_int_equal(a[g].status, GP_OK);
        if (memcmp(a[g].samples, b[g].samples, sizeof(float) * ns * GP_NQ) != 0)
            fail_msg("galaxy %d: samples differ from the CPU backend's", g);
        assert_true(a[g].summary.median[0] == b[g].summary.median[0]);
        if (!(a[g].latent_d2 == b[g].latent_d2) || !(a[g].phot_d2 == b[g].phot_d2) || a[g].flags != b[g].flags)
            fail_msg("galaxy %d: latent check %g (flags %u) against the CPU backend's %g (%u)", g, a[g].latent_d2,
                     a[g].flags, b[g].latent_d2, b[g].flags);
        /* the source check (with the background summaries here) judged every
         * galaxy that did not fail, as the CPU backend did */
        if (!isfinite(a[g].source_snr) || a[g].source_snr != b[g].source_snr || a[g].source_peak != b[g].source_peak)
            fail_msg("galaxy %d: source check S/N %g peak %g against the CPU backend's %g %g", g, a[g].source_snr,
                     a[g].source_peak, b[g].source_snr, b[g].source_peak);
    }
}

/* Cutouts in malloc'd memory (gathered into the staging) and in the
 * backend's page-locked memory (copied directly), chunks of at most 40 or
 * 64 galaxies, blocks of 7 or 16 (partial blocks at chunk ends, a
 * prefetched first block per chunk), one galaxy with a NaN pixel: the
 * same samples as the CPU backend, the slot protocol kept, the bad galaxy
 * named alike, every queued download read only after its fence. */
static void test_pipeline_same_samples(void **state)
{
    (void)state;
    const int ns = 12, bad = 57;
    gp_model *ref = open_model(0, 0);
    gp_error err;
    float *cut = malloc(sizeof(float) * GP_CUTOUT_PIXELS * NG);
    memcpy(cut, cutouts, sizeof(float) * GP_CUTOUT_PIXELS * NG);
    cut[(size_t)bad * GP_CUTOUT_PIXELS + 999] = NAN;
    gp_galaxy gm[NG];
    memcpy(gm, gal, sizeof gm);
    for (int g = 0; g < NG; g++) gm[g].cutout = cut + (size_t)g * GP_CUTOUT_PIXELS;
    gp_infer_options io = { ns, 4242, 1 };
    gp_result rc[NG], rw[NG];
    /* the limits: the median distances of a first run, so that about half are flagged */
    double d2[NG], pd2[NG];
    assert_int_equal(gp_infer(ref, gm, NG, &io, rc, &err), GP_ERR_DATA);
    int nd = 0;
    for (int g = 0; g < NG; g++) if (g != bad) { d2[nd] = rc[g].latent_d2; pd2[nd++] = rc[g].phot_d2; }
    for (int i = 1; i < nd; i++)
        for (int j = i; j > 0 && d2[j] < d2[j - 1]; j--) { double t = d2[j]; d2[j] = d2[j - 1]; d2[j - 1] = t; }
    for (int i = 1; i < nd; i++)
        for (int j = i; j > 0 && pd2[j] < pd2[j - 1]; j--) { double t = pd2[j]; pd2[j] = pd2[j - 1]; pd2[j - 1] = t; }
    const double limit = d2[nd / 2], plimit = pd2[nd / 2];
    assert_true(isfinite(limit) && limit > 0);
    assert_true(isfinite(plimit) && plimit > 0);
    gp_result_free(rc, NG);
    ref->net.latent_ood.d2_limit = limit;
    ref->net.phot_ood.d2_limit = plimit;
    assert_int_equal(gp_infer(ref, gm, NG, &io, rc, &err), GP_ERR_DATA);
    int flagged = 0;
    for (int g = 0; g < NG; g++) flagged += (rc[g].flags & GP_FLAG_IMAGE_UNLIKE) != 0;
    assert_true(flagged > NG / 4 && flagged < 3 * NG / 4);
    assert_false(rc[bad].flags & GP_FLAG_IMAGE_UNLIKE);   /* a failed galaxy is not judged */
    int pflagged = 0;
    for (int g = 0; g < NG; g++) pflagged += (rc[g].flags & GP_FLAG_PHOT_UNLIKE) != 0;
    assert_true(pflagged > NG / 4 && pflagged < 3 * NG / 4);
    assert_true(isnan(rc[bad].phot_d2) && !(rc[bad].flags & (GP_FLAG_PHOT_UNLIKE | GP_FLAG_PHOT_CLIPPED)));
    char want_err[1024];
    snprintf(want_err, sizeof want_err, "%s", err.msg);
    assert_int_equal(rc[bad].status, GP_ERR_DATA);

    const char *blocks[2] = { "7", "16" };
    const int chunks[2] = { 40, 64 };
    for (int t = 0; t < 4; t++) {
        gp_model *m = open_model(1, chunks[t & 1]);
        m->net.latent_ood.d2_limit = limit;
        m->net.phot_ood.d2_limit = plimit;
        int pinned = t >= 2;
        float *pin = NULL;
        gp_galaxy gp[NG];
        memcpy(gp, gm, sizeof gp);
        if (pinned) {
            pin = gp_cutouts_alloc(m, NG, &err);
            assert_non_null(pin);
            assert_true(w_host_owns(m->be, pin, sizeof(float) * GP_CUTOUT_PIXELS * NG));
            memcpy(pin, cut, sizeof(float) * GP_CUTOUT_PIXELS * NG);
            for (int g = 0; g < NG; g++) gp[g].cutout = pin + (size_t)g * GP_CUTOUT_PIXELS;
        }
        counts_reset();
        setenv("GP_INFER_BLOCK", blocks[t & 1], 1);
        int st = gp_infer(m, gp, NG, &io, rw, &err);
        unsetenv("GP_INFER_BLOCK");
        assert_int_equal(st, GP_ERR_DATA);
        assert_string_equal(err.msg, want_err);
        assert_string_equal(rw[bad].message, rc[bad].message);
        /* the galaxy the device check failed is not judged either (its pixels
         * failed after the photometry was looked at) */
        assert_true(isnan(rw[bad].phot_d2) && isnan(rw[bad].phot_d2_limit));
        assert_true(isnan(rw[bad].source_snr) && isnan(rw[bad].source_peak));
        assert_int_equal(rw[bad].flags, rc[bad].flags);
        expect_same(rw, rc, NG, ns, bad);
        assert_int_equal(W.violations, 0);
        assert_int_equal(nq, 0);                 /* every queued download delivered */
        assert_true(queued_total > 0 && fence_waits > 0);
        assert_true(W.flags_calls > 0);
        assert_true(W.releases > 2);
        if (pinned) assert_true(W.uploads_direct > 0);   /* straight from the caller's memory */
        else assert_int_equal(W.uploads_direct, 0);
        assert_true(W.uploads_slot + W.uploads_direct >= NG / 16);
        gp_result_free(rw, NG);
        gp_cutouts_free(m, pin);
        close_model(m);
    }
    gp_result_free(rc, NG);
    free(cut);
    close_model(ref);
}

/* The wrapper really checks the protocol: refilling a slot before its
 * release, and stretching a block that was never copied, are counted. */
static void test_protocol_checks_can_fail(void **state)
{
    (void)state;
    gp_model *m = open_model(1, 40);
    gp_error err;
    float *dst = malloc(sizeof(float) * 8), *src = gp_cutouts_alloc(m, 1, &err);
    assert_non_null(src);
    counts_reset();
    W.state[0] = SLOT_FREE;
    assert_int_equal(w_upload_slot(m->be, 0, dst, src, 8 * sizeof(float), &err), GP_OK);
    assert_int_equal(W.violations, 0);
    assert_int_equal(w_upload_slot(m->be, 0, dst, src, 8 * sizeof(float), &err), GP_OK);
    assert_int_equal(W.violations, 1);
    float other[8] = { 0 };
    float soft[3] = { 1, 1, 1 }, off[3] = { 0, 0, 0 }, scl[3] = { 1, 1, 1 };
    (void)w_stretch(m->be, other, 1, 1, 8, soft, off, scl, &err);
    assert_int_equal(W.violations, 2);
    float plain[8] = { 0 };
    W.state[1] = SLOT_FREE;
    (void)w_upload_slot(m->be, 1, dst, plain, 8 * sizeof(float), &err);   /* not page-locked */
    assert_int_equal(W.violations, 3);
    gp_cutouts_free(m, src);
    free(dst);
    close_model(m);
}

/* gp_infer()'s chunk plan for chunks of 1024 (the CUDA backend's): the
 * sizes of a batch's chunks, in order, as "a+b+c". */
static void plan(size_t n, int on_cpu, int split, char *out, size_t len)
{
    size_t c0 = 0, k = 0;
    out[0] = '\0';
    while (c0 < n) {
        int m = gp_infer_chunk_size(n - c0, 1024, c0, on_cpu, split);
        assert_true(m > 0);
        k += (size_t)snprintf(out + k, len - k, "%s%d", c0 ? "+" : "", m);
        c0 += (size_t)m;
    }
}

static void test_chunk_plan(void **state)
{
    (void)state;
    static const struct { size_t n; int on_cpu, split; const char *want; } cases[] = {
        { 1024, 0, 1, "512+384+128" },   /* a batch of one chunk: a half, then 3/4 and 1/4 of the rest */
        { 1023, 0, 1, "511+384+128" },
        { 600, 0, 1, "300+225+75" },
        { 512, 0, 1, "256+192+64" },
        { 511, 0, 1, "511" },            /* below GP_SPLIT_MIN: whole */
        { 1024, 0, 0, "1024" },          /* GP_INFER_SPLIT=0 */
        { 2048, 0, 1, "1024+768+256" },  /* several chunks: the last split 3/4 + 1/4 */
        { 3000, 0, 1, "1024+1024+714+238" },
        { 3000, 1, 1, "1024+1024+952" }, /* the CPU backend: whole chunks */
    };
    char got[128];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        plan(cases[i].n, cases[i].on_cpu, cases[i].split, got, sizeof got);
        if (strcmp(got, cases[i].want))
            fail_msg("%zu galaxies (cpu %d, split %d): chunks %s, want %s", cases[i].n, cases[i].on_cpu,
                     cases[i].split, got, cases[i].want);
    }
}

int main(void)
{
    gp_test_seed("test_infer_pipeline");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipeline_same_samples),
        cmocka_unit_test(test_protocol_checks_can_fail),
        cmocka_unit_test(test_chunk_plan),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
