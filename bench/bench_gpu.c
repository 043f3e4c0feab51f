/*
 * bench_gpu.c: galaxies per second of the full inference pipeline
 * (upload, stretch, encoder, trunk, heads, the core, O/H and line flows,
 * download, summaries) on a random-weight model of the default
 * architecture, for several batch sizes, with the FLOP and byte counts per
 * galaxy so that the distance from the card's roofline can be read off.
 *
 *   bench_gpu [--backend cuda|cpu|auto] [--batch 64,256,1024] [--samples 100]
 *             [--ensemble 1] [--seconds 2] [--threads 0]
 *             [--peak-gflops G --peak-gbs B] [--save-model PATH]
 *             [--host pinned|pageable]
 *   bench_gpu --mode train [--backend ...] [--vae-batch 64] [--flow-batch 256]
 *             [--seconds 2] [--threads 0]
 *   bench_gpu --mode encoder [--backend ...] [--batch 128,256,1024] [--seconds 2]
 *
 * --mode train measures training steps instead (engine/train): VAE steps
 * (batch upload, stretch, encoder and decoder forward and backward,
 * reconstruction + KL, Adam on both) in images/s, and flow-stage steps
 * of one ensemble member (batch upload, trunk, heads, classifier, the
 * three flows' likelihoods, all backward, Adam with clipping) in
 * galaxies/s, printing lines "train<TAB>backend<TAB>vae|flow<TAB>batch
 * <TAB>items/s<TAB>ms/step".
 *
 * --mode encoder times the encoder's stages on the backend, one block of
 * `batch` images at a time (as gp_infer runs them): the stretch, each
 * convolution with its bias and activation, the mean and log-variance
 * layers, each stage synchronized, and the whole encoder unsynchronized;
 * microseconds per image and GFLOP/s, lines "encoder<TAB>batch<TAB>stage
 * <TAB>us/image<TAB>GFLOP/s".
 *
 * FLOPs count the multiply-adds of convolutions and dense layers (2 per
 * multiply-add).  Bytes estimate the device-memory traffic of the kernels
 * as the backend runs them (each operation reads its inputs and writes its
 * outputs once; weights once per batch).  The peak figures of a few cards
 * are known by name; others take --peak-gflops/--peak-gbs.  Lines starting
 * with "bench" are for tests/gpu/run.sh.  --save-model keeps the random
 * model (seed 1) for another program, e.g. the PyTorch port.  Exit 77 when
 * the requested backend is not available.
 *
 * --host: where the cutouts start.  pinned (default): in
 * gp_cutouts_alloc() memory, page-locked for a GPU, as the batch command
 * keeps them (and as the PyTorch comparison starts from pinned memory);
 * pageable: in malloc() memory, so gp_infer gathers them into its staging
 * first.  The "bench" lines name the backend "cuda" or "cuda-pageable".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "galpost/gp_model.h"
#include "gp_model_internal.h"
#include "train/gp_train.h"

typedef struct counts {
    double flop, bytes;      /* per galaxy, weights excluded */
    double weight_bytes;     /* per batch */
    double h2d;              /* host -> device bytes per galaxy */
} counts;

/* A dense layer on `rows` rows: FLOPs, activations read/written, and a
 * bias/activation pass over the output. */
static void dense_cost(counts *c, double rows, int in, int out, int bias_act)
{
    c->flop += 2.0 * rows * in * out;
    c->bytes += 4.0 * rows * (in + out) + (bias_act ? 8.0 * rows * out : 0);
    c->weight_bytes += 4.0 * ((double)in * out + out);
}

static counts model_counts(const gp_arch *a, int nsamples)
{
    counts c = { 0, 0, 0, 0 };
    const int hw0 = GP_CUTOUT_SIZE;
    /* cutout upload, stretch in place */
    c.h2d = 4.0 * GP_CUTOUT_PIXELS;
    c.bytes += 4.0 * GP_CUTOUT_PIXELS * 3;
    int cin = 3, hw = hw0;
    for (int i = 0; i < 3; i++) {
        int cout = a->enc_channels[i], ho = hw / 2;
        c.flop += 2.0 * cout * ho * ho * cin * 16;
        c.bytes += 4.0 * ((double)cin * hw * hw + 3.0 * cout * ho * ho);  /* conv + bias/act */
        c.weight_bytes += 4.0 * cout * cin * 16;
        cin = cout;
        hw = ho;
    }
    int flat = cin * hw * hw;
    dense_cost(&c, 1, flat, a->latent, 1);   /* mu */
    dense_cost(&c, 1, flat, a->latent, 1);   /* log-variance */
    c.bytes += 8.0 * a->latent;               /* exp_half */
    int tin = 2 * a->latent + 9, T = a->trunk[a->trunk_layers - 1], H = a->flow_hidden;
    double rows = (double)nsamples / a->ensemble;   /* per member and galaxy */
    for (int k = 0; k < a->ensemble; k++) {
        int in = tin;
        for (int l = 0; l < a->trunk_layers; l++) { dense_cost(&c, 1, in, a->trunk[l], 1); in = a->trunk[l]; }
        const int head_out[3] = { 5, 1, 4 };
        for (int h = 0; h < 3; h++) { dense_cost(&c, 1, T, a->head_hidden, 1); dense_cost(&c, 1, a->head_hidden, head_out[h], 1); }
        /* couplings of the core and line flows (nkeep 2, nt 2), then the O/H flow */
        for (int f = 0; f < 2 * a->couplings + 1; f++) {
            int oh = f == 2 * a->couplings, nrow = oh ? 4 : 2, out = oh ? 2 : 4, dim = oh ? 1 : 4;
            dense_cost(&c, 1, T, H, 1);                    /* context part, per galaxy */
            if (!oh) c.bytes += 4.0 * rows * (dim + nrow);  /* gather */
            dense_cost(&c, rows, nrow, H, 0);             /* row part */
            c.bytes += 4.0 * rows * H * 2 + 4.0 * rows * H * 2;  /* add_rows, activation */
            for (int l = 1; l < a->flow_depth; l++) dense_cost(&c, rows, H, H, 1);
            dense_cost(&c, rows, H, out, 1);
            c.bytes += 4.0 * rows * (2 * dim + out);      /* coupling */
        }
        /* normals written, per-galaxy means added */
        c.bytes += 4.0 * rows * 9 + 8.0 * rows * 9;
    }
    return c;
}

/* Peak FP32 (non-tensor) GFLOP/s and memory GB/s of some cards, by name. */
static int card_peaks(const char *name, double *gflops, double *gbs)
{
    static const struct { const char *key; double gflops, gbs; } t[] = {
        { "H200", 66900, 4800 }, { "H100 PCIe", 51200, 2000 }, { "H100 NVL", 60000, 3900 },
        { "H100", 66900, 3350 }, { "A100-SXM4-80GB", 19500, 2039 }, { "A100-PCIE-80GB", 19500, 1935 },
        { "A100", 19500, 1555 }, { "L40S", 91600, 864 }, { "L4", 30300, 300 }, { "A10", 31200, 600 },
        { "V100", 15700, 900 }, { "T4", 8100, 320 },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strstr(name, t[i].key)) { *gflops = t[i].gflops; *gbs = t[i].gbs; return 1; }
    return 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_gpu [--backend cuda|cpu|auto] [--batch 64,256,1024] [--samples 100]\n"
                    "                 [--ensemble 1] [--seconds 2] [--threads 0] [--peak-gflops G --peak-gbs B]\n"
                    "                 [--save-model PATH] [--host pinned|pageable]\n"
                    "       bench_gpu --mode train [--backend cuda|cpu|auto] [--vae-batch 64] [--flow-batch 256]\n"
                    "                 [--seconds 2] [--threads 0]\n"
                    "       bench_gpu --mode encoder [--backend cuda|cpu|auto] [--batch 128,256] [--seconds 2]\n");
}

/* ------------------------------------------------------ training steps */

#define TRY(x) do { if ((st = (x)) != GP_OK) goto done; } while (0)

/* Deterministic pseudo-random fill (the values do not matter for speed). */
static void fill(float *x, size_t n, uint64_t seed, float scale)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s >> 12; s ^= s << 25; s ^= s >> 27;
        x[i] = scale * ((float)((s * 2685821657736338717ull) >> 40) / 16777216.0f - 0.5f);
    }
}

/* VAE steps at batch B for `seconds` (after one warm-up step): *rate images/s. */
static int bench_vae(gp_backend *be, const gp_weights *w, gp_tparams *ps, int B, double seconds, double *rate,
                     double *ms, gp_error *err)
{
    gp_tvae v;
    memset(&v, 0, sizeof v);
    float *hx = malloc(sizeof(float) * (size_t)B * GP_CUTOUT_PIXELS), *eps = NULL;
    float *x = be->ops->alloc(be, sizeof(float) * (size_t)B * GP_CUTOUT_PIXELS);
    const float soft[3] = { 0.017f, 0.029f, 0.046f }, off[3] = { 0, 0, 0 }, scl[3] = { 3, 3, 3 };
    int st = gp_tvae_bind(&v, ps, w, B, err);
    if (!st && (!hx || !x || !(eps = malloc(sizeof(float) * (size_t)B * v.latent))))
        st = GP_FAIL(err, GP_ERR_NOMEM, "VAE batch of %d", B);
    if (st) goto done;
    fill(hx, (size_t)B * GP_CUTOUT_PIXELS, 3, 0.2f);
    fill(eps, (size_t)B * v.latent, 4, 2.0f);
    long t = 0;
    double t0 = 0, el = 0;
    for (int it = 0;; it++) {
        if (it == 1) { TRY(be->ops->sync(be, err)); t0 = now(); }   /* step 0 warms up (plans, pools) */
        TRY(be->ops->upload(be, x, hx, sizeof(float) * (size_t)B * GP_CUTOUT_PIXELS, err));
        TRY(be->ops->stretch(be, x, B, 3, GP_CUTOUT_SIZE * GP_CUTOUT_SIZE, soft, off, scl, err));
        TRY(gp_tparams_zero_grad(ps, "enc.", err));
        TRY(gp_tparams_zero_grad(ps, "dec.", err));
        double rec = 0, kl = 0, g1, g2;
        TRY(gp_tvae_step(be, &v, x, B, eps, 1.0, &rec, &kl, 1, err));
        t++;
        TRY(gp_tparams_adam(ps, "enc.", 1e-4f, t, 0.0f, &g1, err));
        TRY(gp_tparams_adam(ps, "dec.", 1e-4f, t, 0.0f, &g2, err));
        if (it >= 1) {
            TRY(be->ops->sync(be, err));
            el = now() - t0;
            if (el >= seconds) { *rate = (double)B * it / el; *ms = 1e3 * el / it; break; }
        }
    }
done:
    if (v.cap) gp_tvae_free(&v, be);
    if (x) be->ops->free(be, x);
    free(hx);
    free(eps);
    return st;
}

/* Flow-stage steps of member 0 at batch B: *rate galaxies/s. */
static int bench_flow(gp_backend *be, const gp_weights *w, gp_tparams *ps, int B, double seconds, double *rate,
                      double *ms, gp_error *err)
{
    gp_tmember m;
    memset(&m, 0, sizeof m);
    const char *acts;
    double slope;
    gp_act act = GP_ACT_LEAKY_RELU;
    float *hx = NULL, *hy = NULL, *hm = NULL, *bx = NULL, *by = NULL, *bm = NULL;
    int st = GP_OK;
    TRY(gp_weights_meta_str(w, "mlp.activation", &acts, err));
    if (gp_act_parse(acts, &act)) { st = GP_FAIL(err, GP_ERR_FORMAT, "activation '%s'", acts); goto done; }
    TRY(gp_weights_meta_f64(w, "mlp.leaky_slope", &slope, err));
    gp_tparam *t0p = gp_tparams_find(ps, "m0.trunk.0.weight");
    if (!t0p) { st = GP_FAIL(err, GP_ERR_NOTFOUND, "m0.trunk.0.weight"); goto done; }
    int tin = (int)t0p->dims[1];
    TRY(gp_tmember_bind(&m, ps, w, 0, tin, act, (float)slope, B, err));
    hx = malloc(sizeof(float) * (size_t)B * tin); hy = malloc(sizeof(float) * (size_t)B * 9);
    hm = malloc(sizeof(float) * (size_t)B);
    bx = be->ops->alloc(be, sizeof(float) * (size_t)B * tin); by = be->ops->alloc(be, sizeof(float) * (size_t)B * 9);
    bm = be->ops->alloc(be, sizeof(float) * (size_t)B);
    if (!hx || !hy || !hm || !bx || !by || !bm) { st = GP_FAIL(err, GP_ERR_NOMEM, "flow batch of %d", B); goto done; }
    fill(hx, (size_t)B * tin, 5, 2.0f);
    fill(hy, (size_t)B * 9, 6, 2.0f);
    for (int i = 0; i < B; i++) hm[i] = (float)(i % 4 != 3);
    long t = 0;
    double tstart = 0, el = 0;
    for (int it = 0;; it++) {
        if (it == 1) { TRY(be->ops->sync(be, err)); tstart = now(); }
        TRY(be->ops->upload(be, bx, hx, sizeof(float) * (size_t)B * tin, err));
        TRY(be->ops->upload(be, by, hy, sizeof(float) * (size_t)B * 9, err));
        TRY(be->ops->upload(be, bm, hm, sizeof(float) * (size_t)B, err));
        TRY(gp_tparams_zero_grad(ps, "m0.", err));
        gp_tlosses L;
        memset(&L, 0, sizeof L);
        TRY(gp_tmember_step(be, &m, bx, by, bm, B, 1, &L, err));
        t++;
        double gn;
        TRY(gp_tparams_adam(ps, "m0.", 1e-4f, t, 10.0f, &gn, err));
        if (it >= 1) {
            TRY(be->ops->sync(be, err));
            el = now() - tstart;
            if (el >= seconds) { *rate = (double)B * it / el; *ms = 1e3 * el / it; break; }
        }
    }
done:
    if (m.cap) gp_tmember_free(&m, be);
    if (bx) be->ops->free(be, bx);
    if (by) be->ops->free(be, by);
    if (bm) be->ops->free(be, bm);
    free(hx); free(hy); free(hm);
    return st;
}

static int bench_train(const char *path, const char *backend, int threads, int vae_batch, int flow_batch,
                       double seconds)
{
    gp_error err;
    gp_backend *be = NULL;
    char note[300] = "";
    if (!strcmp(backend, "cuda") || !strcmp(backend, "auto")) {
        if (gp_backend_open_cuda(0, &be, &err) != GP_OK) {
            if (!strcmp(backend, "cuda")) { fprintf(stderr, "bench_gpu: %s\n", err.msg); return 77; }
            snprintf(note, sizeof note, "CUDA not used: %.250s", err.msg);
            be = NULL;
        }
    }
    if (!be && gp_backend_open_cpu(threads, &be, &err) != GP_OK) { fprintf(stderr, "bench_gpu: %s\n", err.msg); return 1; }
    be->deterministic = 1;   /* as galpost train runs it */
    int on_gpu = !strcmp(be->ops->name, "cuda");
    gp_weights *w = NULL;
    gp_tparams ps;
    memset(&ps, 0, sizeof ps);
    int st = gp_weights_open(path, &w, &err);
    if (!st) st = gp_tparams_from_weights(be, w, &ps, &err);
    if (st) { fprintf(stderr, "bench_gpu: %s\n", err.msg); gp_weights_close(w); gp_backend_close(be); return 1; }
    char date[32];
    time_t t0 = time(NULL);
    struct tm tmv;
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime_r(&t0, &tmv));
    printf("# bench_gpu: training steps (forward, backward, Adam), default architecture\n");
    printf("# backend: %s   date: %s\n", be->description, date);
    if (*note) printf("# note: %s\n", note);
    printf("%8s %8s %12s %10s\n", "stage", "batch", "items/s", "ms/step");
    double rate = 0, ms = 0;
    int rc = 0;
    if (vae_batch > 0) {
        if ((st = bench_vae(be, w, &ps, vae_batch, seconds, &rate, &ms, &err))) {
            fprintf(stderr, "bench_gpu: VAE steps: %s\n", err.msg);
            rc = 1;
        } else {
            printf("%8s %8d %12.1f %10.2f   images/s\n", "vae", vae_batch, rate, ms);
            printf("train\t%s\tvae\t%d\t%.1f\t%.2f\n", on_gpu ? "cuda" : "cpu", vae_batch, rate, ms);
        }
        fflush(stdout);
    }
    if (flow_batch > 0) {
        if ((st = bench_flow(be, w, &ps, flow_batch, seconds, &rate, &ms, &err))) {
            fprintf(stderr, "bench_gpu: flow steps: %s\n", err.msg);
            rc = 1;
        } else {
            printf("%8s %8d %12.1f %10.2f   galaxies/s\n", "flow", flow_batch, rate, ms);
            printf("train\t%s\tflow\t%d\t%.1f\t%.2f\n", on_gpu ? "cuda" : "cpu", flow_batch, rate, ms);
        }
        fflush(stdout);
    }
    gp_tparams_free(&ps);
    gp_weights_close(w);
    gp_backend_close(be);
    return rc;
}

/* ------------------------------------------------------ encoder stages */

static int bench_encoder(gp_model *m, const char *batches, double seconds)
{
    gp_backend *be = m->be;
    const gp_backend_ops *ops = be->ops;
    const gp_net *net = &m->net;
    gp_error err;
    printf("# encoder stages on %s, one block at a time, each stage synchronized (us per image)\n",
           m->be->description);
    printf("%8s %-34s %12s %10s\n", "block", "stage", "us/image", "GFLOP/s");
    for (const char *p = batches; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
        int B = atoi(p);
        if (B < 1) continue;
        size_t npix = (size_t)B * GP_CUTOUT_PIXELS;
        float *h = malloc(sizeof(float) * npix);
        float *x = ops->alloc(be, sizeof(float) * npix), *x0 = ops->alloc(be, sizeof(float) * npix);
        float *scr = ops->alloc(be, sizeof(float) * gp_net_encoder_scratch(net, B));
        float *mu = ops->alloc(be, sizeof(float) * (size_t)B * net->latent);
        float *lv = ops->alloc(be, sizeof(float) * (size_t)B * net->latent);
        if (!h || !x || !x0 || !scr || !mu || !lv) { fprintf(stderr, "bench_gpu: out of memory at block %d\n", B); return 1; }
        uint64_t r = 88172645463325252ull;
        for (size_t i = 0; i < npix; i++) { r ^= r << 13; r ^= r >> 7; r ^= r << 17; h[i] = (float)((r >> 40) * 0x1p-24) - 0.2f; }
        if (ops->upload(be, x0, h, sizeof(float) * npix, &err)) { fprintf(stderr, "bench_gpu: %s\n", err.msg); return 1; }
        size_t half = gp_net_encoder_scratch(net, B) / 2;
        const char *names[6];
        char cname[3][64];
        double flop[6] = { 0 }, tsum[6] = { 0 };
        names[0] = "upload (device copy) + stretch";
        for (int i = 0; i < GP_ENC_CONVS; i++) {
            const gp_conv *c = &net->enc_conv[i];
            snprintf(cname[i], sizeof cname[i], "conv%d %dx%d %d->%d k%d s%d + bias, act", i, net->enc_h[i],
                     net->enc_h[i], c->cin, c->cout, c->k, c->stride);
            names[1 + i] = cname[i];
            flop[1 + i] = 2.0 * c->cin * c->cout * c->k * c->k * net->enc_h[i + 1] * net->enc_h[i + 1];
        }
        names[4] = "mean + log-variance layers";
        flop[4] = 2.0 * 2 * net->enc_mu.in * net->latent;
        names[5] = "whole encoder, unsynchronized";
        int reps = 0;
        double t_all = 0, t0;
        for (int warm = 1; warm >= 0; warm--) {
            double start = now();
            do {
                int st = 0;
                t0 = now();
                st |= ops->upload(be, x, x0, sizeof(float) * npix, &err);
                st |= ops->stretch(be, x, B, GP_CUTOUT_BANDS, GP_CUTOUT_SIZE * GP_CUTOUT_SIZE, net->soft, net->offset,
                                   net->scale, &err);
                st |= ops->sync(be, &err);
                if (!warm) tsum[0] += now() - t0;
                const float *in = x;
                for (int i = 0; i < GP_ENC_CONVS; i++) {
                    const gp_conv *c = &net->enc_conv[i];
                    float *out = scr + (size_t)(i & 1) * half;
                    t0 = now();
                    st |= ops->conv2d(be, in, B, c->cin, net->enc_h[i], net->enc_h[i], c->W, c->b, c->cout, c->k,
                                      c->stride, c->pad, GP_ACT_LEAKY_RELU, net->slope, out, &err);
                    st |= ops->sync(be, &err);
                    if (!warm) tsum[1 + i] += now() - t0;
                    in = out;
                }
                t0 = now();
                st |= ops->dense(be, in, B, net->enc_mu.in, net->enc_mu.W, net->enc_mu.b, net->latent, GP_ACT_NONE,
                                 0.0f, mu, &err);
                st |= ops->dense(be, in, B, net->enc_logvar.in, net->enc_logvar.W, net->enc_logvar.b, net->latent,
                                 GP_ACT_NONE, 0.0f, lv, &err);
                st |= ops->sync(be, &err);
                if (!warm) tsum[4] += now() - t0;
                st |= ops->upload(be, x, x0, sizeof(float) * npix, &err);
                st |= ops->sync(be, &err);
                t0 = now();
                st |= ops->stretch(be, x, B, GP_CUTOUT_BANDS, GP_CUTOUT_SIZE * GP_CUTOUT_SIZE, net->soft, net->offset,
                                   net->scale, &err);
                st |= gp_net_encode(be, net, x, B, scr, mu, lv, &err);
                st |= ops->sync(be, &err);
                if (!warm) { t_all += now() - t0; reps++; }
                if (st) { fprintf(stderr, "bench_gpu: encoder block %d: %s\n", B, err.msg); return 1; }
            } while (now() - start < (warm ? 0.3 : seconds));
        }
        tsum[5] = t_all;
        for (int k = 0; k < 6; k++) {
            double us = 1e6 * tsum[k] / reps / B;
            double f = k == 5 ? flop[1] + flop[2] + flop[3] + flop[4] : flop[k];
            printf("%8d %-34s %12.2f %10.0f\n", B, names[k], us, f > 0 ? f / (us * 1e3) : 0.0);
            printf("encoder\t%d\t%s\t%.3f\t%.0f\n", B, names[k], us, f > 0 ? f / (us * 1e3) : 0.0);
        }
        fflush(stdout);
        free(h);
        ops->free(be, x); ops->free(be, x0); ops->free(be, scr); ops->free(be, mu); ops->free(be, lv);
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *backend = "auto", *batches = "64,256,1024", *save = NULL, *mode = "infer", *host = "pinned";
    int nsamples = 100, ensemble = 1, threads = 0, vae_batch = 64, flow_batch = 256;
    double seconds = 2, peak_gflops = 0, peak_gbs = 0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) { usage(); return 2; }
        if (!strcmp(o, "--backend")) backend = v;
        else if (!strcmp(o, "--batch")) batches = v;
        else if (!strcmp(o, "--samples")) nsamples = atoi(v);
        else if (!strcmp(o, "--ensemble")) ensemble = atoi(v);
        else if (!strcmp(o, "--seconds")) seconds = atof(v);
        else if (!strcmp(o, "--threads")) threads = atoi(v);
        else if (!strcmp(o, "--peak-gflops")) peak_gflops = atof(v);
        else if (!strcmp(o, "--peak-gbs")) peak_gbs = atof(v);
        else if (!strcmp(o, "--save-model")) save = v;
        else if (!strcmp(o, "--mode")) mode = v;
        else if (!strcmp(o, "--vae-batch")) vae_batch = atoi(v);
        else if (!strcmp(o, "--flow-batch")) flow_batch = atoi(v);
        else if (!strcmp(o, "--host")) host = v;
        else { usage(); return 2; }
        i++;
    }
    if (nsamples < 2 || ensemble < 1 || ensemble > 16 || seconds <= 0 || vae_batch < 0 || flow_batch < 0 ||
        (strcmp(mode, "infer") && strcmp(mode, "train") && strcmp(mode, "encoder")) ||
        (strcmp(host, "pinned") && strcmp(host, "pageable"))) {
        usage();
        return 2;
    }
    const int pageable = !strcmp(host, "pageable");

    gp_arch a = gp_arch_default();
    a.ensemble = ensemble;
    char path[4096];
    if (save) snprintf(path, sizeof path, "%s", save);
    else snprintf(path, sizeof path, "%s/bench_gpu_%d.gpw", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    gp_error err;
    if (gp_model_write_random(path, &a, 1, &err)) { fprintf(stderr, "bench_gpu: %s\n", err.msg); return 1; }
    if (!strcmp(mode, "train")) {
        int rc = bench_train(path, backend, threads, vae_batch, flow_batch, seconds);
        if (!save) unlink(path);
        return rc;
    }
    gp_model_options mo = gp_model_options_default();
    mo.backend = !strcmp(backend, "cuda") ? GP_BACKEND_CUDA : !strcmp(backend, "cpu") ? GP_BACKEND_CPU : GP_BACKEND_AUTO;
    mo.threads = threads;
    gp_model *m = NULL;
    int st = gp_model_open(path, &mo, &m, &err);
    if (!save) unlink(path);
    if (st) {
        fprintf(stderr, "bench_gpu: %s\n", err.msg);
        return st == GP_ERR_BACKEND ? 77 : 1;
    }
    if (!strcmp(mode, "encoder")) {
        int rc = bench_encoder(m, batches, seconds);
        gp_model_close(m);
        return rc;
    }
    const char *name = gp_model_backend_name(m);
    int on_gpu = !strncmp(name, "cuda", 4);
    if (!peak_gflops && !peak_gbs && on_gpu) card_peaks(name, &peak_gflops, &peak_gbs);

    /* galaxies: a blob per cutout, plus noise */
    int maxb = 0;
    for (const char *p = batches; *p;) {
        int b = atoi(p);
        if (b > maxb) maxb = b;
        p = strchr(p, ',');
        if (!p) break;
        p++;
    }
    if (maxb < 1) { usage(); return 2; }
    float *cut = pageable ? malloc(sizeof(float) * GP_CUTOUT_PIXELS * (size_t)maxb)
                          : gp_cutouts_alloc(m, (size_t)maxb, &err);
    gp_galaxy *gal = malloc(sizeof(gp_galaxy) * (size_t)maxb);
    gp_result *res = malloc(sizeof(gp_result) * (size_t)maxb);
    if (!cut || !gal || !res) { fprintf(stderr, "bench_gpu: out of memory for %d galaxies\n", maxb); return 1; }
    for (int g = 0; g < maxb; g++) {
        float *c = cut + (size_t)g * GP_CUTOUT_PIXELS;
        double rad = 3 + g % 10;
        for (int b = 0; b < 3; b++)
            for (int y = 0; y < GP_CUTOUT_SIZE; y++)
                for (int x = 0; x < GP_CUTOUT_SIZE; x++) {
                    double r2 = (x - 79.5) * (x - 79.5) + (y - 79.5) * (y - 79.5);
                    c[(b * GP_CUTOUT_SIZE + y) * GP_CUTOUT_SIZE + x] =
                        (float)((1 + 0.3 * b) * exp(-r2 / (2 * rad * rad)) + 0.01 * ((x * 7 + y * 13 + b) % 17 - 8));
                }
        gal[g].id = 1000 + (uint64_t)g;
        gal[g].cutout = c;
        float r = 15.0f + (g % 30) * 0.1f;
        float mags[5] = { r + 1.8f, r + 0.8f, r, r - 0.4f, r - 0.7f };
        memcpy(gal[g].mag, mags, sizeof mags);
        gal[g].flags = 0;
    }

    counts c = model_counts(&a, nsamples);
    char date[32];
    time_t t0 = time(NULL);
    struct tm tmv;
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime_r(&t0, &tmv));
    printf("# bench_gpu: full pipeline, %d samples per galaxy per flow, ensemble %d, default architecture\n",
           nsamples, ensemble);
    printf("# backend: %s   date: %s   cutouts: %s\n", name, date,
           pageable ? "malloc (pageable)" : "gp_cutouts_alloc (page-locked on a GPU)");
    if (*gp_model_backend_note(m)) printf("# note: %s\n", gp_model_backend_note(m));
    printf("# per galaxy: %.4f GFLOP, %.2f MB device traffic (estimate), %.2f MB host->device; "
           "weights %.1f MB per batch\n", c.flop * 1e-9, c.bytes * 1e-6, c.h2d * 1e-6, c.weight_bytes * 1e-6);
    if (peak_gflops > 0 && peak_gbs > 0)
        printf("# roofline: %.0f GFLOP/s FP32, %.0f GB/s -> at most %.0f galaxies/s (%s-bound, intensity %.1f FLOP/B)\n",
               peak_gflops, peak_gbs, fmin(peak_gflops * 1e9 / c.flop, peak_gbs * 1e9 / c.bytes),
               peak_gflops * 1e9 / c.flop < peak_gbs * 1e9 / c.bytes ? "compute" : "memory", c.flop / c.bytes);
    printf("%8s %12s %10s %10s %9s %11s\n", "batch", "galaxies/s", "ms/batch", "GFLOP/s", "GB/s", "% roofline");

    gp_infer_options io = { nsamples, 1, 0 };
    for (const char *p = batches; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
        int b = atoi(p);
        if (b < 1) continue;
        if (isatty(2)) fprintf(stderr, "batch %d: warming up...\r", b);
        if ((st = gp_infer(m, gal, (size_t)b, &io, res, &err))) {
            fprintf(stderr, "bench_gpu: batch %d: %s\n", b, err.msg);
            return 1;
        }
        gp_result_free(res, (size_t)b);
        int reps = 0;
        double t = now(), el = 0;
        do {
            if ((st = gp_infer(m, gal, (size_t)b, &io, res, &err))) {
                fprintf(stderr, "bench_gpu: batch %d: %s\n", b, err.msg);
                return 1;
            }
            gp_result_free(res, (size_t)b);
            reps++;
            el = now() - t;
            if (isatty(2)) fprintf(stderr, "batch %d: %d runs, %.1f s   \r", b, reps, el);
        } while (el < seconds);
        if (isatty(2)) fprintf(stderr, "%40s\r", "");
        double gps = (double)b * reps / el;
        double gflops = gps * c.flop * 1e-9, gbs = gps * (c.bytes + c.weight_bytes / b) * 1e-9;
        double roof = 0;
        if (peak_gflops > 0 && peak_gbs > 0) {
            double bytes = c.bytes + c.weight_bytes / b;
            roof = 100 * gps / fmin(peak_gflops * 1e9 / c.flop, peak_gbs * 1e9 / bytes);
        }
        printf("%8d %12.1f %10.2f %10.1f %9.1f %10.2f%%\n", b, gps, 1e3 * el / reps, gflops, gbs, roof);
        printf("bench\t%s%s\t%d\t%d\t%.1f\t%.2f\n", on_gpu ? "cuda" : "cpu", pageable ? "-pageable" : "", b, nsamples,
               gps, roof);
        fflush(stdout);
    }
    if (pageable) free(cut);
    else gp_cutouts_free(m, cut);
    gp_model_close(m);
    free(gal);
    free(res);
    return 0;
}
