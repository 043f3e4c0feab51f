/*
 * gp_bench.c: galaxies per second of the engine (design.md section 7).
 *
 *   gp_bench [--model FILE] [--inputs FILE] [--threads T] [--seconds S] [--json]
 *   gp_bench --peak [--threads T] [--seconds S] [--json]
 *   gp_bench --memory [--model FILE] [--threads T] [--json]
 *
 * (a) the encoder alone, batch 64; (b) the full pipeline with 100 samples
 * per galaxy per flow, batch 64; (c) the latency of one galaxy with 1,000
 * samples (a DS9 click).  Without --model, a default-architecture model
 * with random weights is written to a temporary file (speed does not
 * depend on the weights' values).  Inputs are synthetic galaxies, or the
 * first 64 of a bench inputs file (bench/torch_model.py write_inputs), so
 * that bench/compare.sh gives galpost and PyTorch the same inputs.
 * --peak: cblas_sgemm 2048^3 GFLOP/s with T threads (the machine's peak as
 * the encoder's GEMMs can reach it).  --memory: the peak resident memory
 * (VmHWM) of a process that opens the model and infers one galaxy with
 * 1,000 samples, as galpostd does on a click, next to the weights file's size.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cblas.h>

#include "galpost/gp_model.h"
#include "gp_model_internal.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* cblas_sgemm 2048^3 with `threads` OpenBLAS threads: GFLOP/s. */
static double sgemm_peak(int threads, double seconds)
{
    const int n = 2048;
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n), *c = malloc(sizeof(float) * n * n);
    if (!a || !b || !c) return 0;
    for (size_t i = 0; i < (size_t)n * n; i++) { a[i] = (float)(i % 7) - 3; b[i] = (float)(i % 5) - 2; }
    openblas_set_num_threads(threads);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
    int it = 0;
    double t0 = now(), t;
    do {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        it++;
        t = now() - t0;
    } while (t < seconds || it < 3);
    free(a); free(b); free(c);
    return 2.0 * n * n * (double)n * it / t * 1e-9;
}

/* VmHWM of this process in kB, -1 if unknown. */
static long vm_hwm_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) kb = atol(line + 6);
    if (f) fclose(f);
    return kb;
}

/* The first B galaxies of a bench inputs file. */
static int read_inputs(const char *path, int B, float *cut, gp_galaxy *g)
{
    FILE *f = fopen(path, "rb");
    uint64_t n = 0;
    if (!f || fread(&n, 8, 1, f) != 1 || n < (uint64_t)B) {
        fprintf(stderr, "gp_bench: %s: cannot read %d galaxies\n", path, B);
        if (f) fclose(f);
        return 1;
    }
    int ok = 1;
    for (uint64_t i = 0; i < n && ok; i++) {
        uint64_t id;
        ok = fread(&id, 8, 1, f) == 1;
        if (i < (uint64_t)B) g[i].id = id;
    }
    for (uint64_t i = 0; i < n && ok; i++) {
        float m[5];
        ok = fread(m, sizeof m, 1, f) == 1;
        if (i < (uint64_t)B) memcpy(g[i].mag, m, sizeof m);
    }
    ok = ok && fread(cut, sizeof(float) * GP_CUTOUT_PIXELS, (size_t)B, f) == (size_t)B;
    fclose(f);
    if (!ok) fprintf(stderr, "gp_bench: %s: truncated inputs file\n", path);
    return !ok;
}

int main(int argc, char **argv)
{
    const char *model_path = NULL, *inputs = NULL;
    int threads = 0, json = 0, peak = 0, memory = 0;
    double seconds = 3.0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc) model_path = argv[++i];
        else if (!strcmp(argv[i], "--inputs") && i + 1 < argc) inputs = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--peak")) peak = 1;
        else if (!strcmp(argv[i], "--memory")) memory = 1;
        else {
            fprintf(stderr, "usage: gp_bench [--model FILE] [--inputs FILE] [--threads T] [--seconds S] [--json]\n"
                            "       gp_bench --peak [--threads T] [--seconds S] [--json]\n"
                            "       gp_bench --memory [--model FILE] [--threads T] [--json]\n");
            return 2;
        }
    }
    if (peak) {
        int t = threads ? threads : 2;
        double gf = sgemm_peak(t, seconds);
        if (json) printf("{\"sgemm_peak_gflops\": %.2f, \"threads\": %d}\n", gf, t);
        else printf("cblas_sgemm 2048^3, %d threads: %.1f GFLOP/s\n", t, gf);
        return 0;
    }
    char tmp[256] = "";
    gp_error err;
    if (!model_path) {
        snprintf(tmp, sizeof tmp, "/tmp/gp_bench_%d.gpw", (int)getpid());
        if (gp_model_write_random(tmp, NULL, 1, &err)) { fprintf(stderr, "gp_bench: %s\n", err.msg); return 1; }
        model_path = tmp;
    }
    gp_model_options o = gp_model_options_default();
    o.backend = GP_BACKEND_CPU;
    o.threads = threads;
    gp_model *m;
    if (gp_model_open(model_path, &o, &m, &err)) { fprintf(stderr, "gp_bench: %s\n", err.msg); return 1; }
    const int B = memory ? 1 : 64;
    float *cut = malloc(sizeof(float) * GP_CUTOUT_PIXELS * B);
    gp_galaxy *g = calloc(B, sizeof *g);
    srand(1);
    for (size_t i = 0; i < (size_t)GP_CUTOUT_PIXELS * B; i++) cut[i] = 0.05f * ((float)rand() / RAND_MAX - 0.5f);
    for (int i = 0; i < B; i++) {
        g[i].id = (uint64_t)i + 1;
        g[i].cutout = cut + (size_t)i * GP_CUTOUT_PIXELS;
        float mg[5] = { 19.0f, 17.6f, 16.9f, 16.5f, 16.2f };
        memcpy(g[i].mag, mg, sizeof mg);
    }
    if (inputs && read_inputs(inputs, B, cut, g)) return 1;
    if (memory) {
        gp_infer_options io1 = { 1000, 1, 0 };
        gp_result r1;
        if (gp_infer(m, g, 1, &io1, &r1, &err)) { fprintf(stderr, "gp_bench: %s\n", err.msg); return 1; }
        long hwm = vm_hwm_kb();
        struct stat sb;
        double wmb = stat(model_path, &sb) == 0 ? sb.st_size / 1048576.0 : -1;
        if (json) printf("{\"vmhwm_mb\": %.1f, \"weights_mb\": %.1f, \"bar_mb\": %.1f}\n", hwm / 1024.0, wmb, 2 * wmb + 64);
        else printf("(d) peak RSS, model open + one galaxy x 1000 samples: %.1f MB (weights file %.1f MB; bar 2x + 64 = %.1f MB)\n",
                    hwm / 1024.0, wmb, 2 * wmb + 64);
        gp_model_close(m);
        if (*tmp) unlink(tmp);
        free(cut); free(g);
        return 0;
    }
    if (!json) printf("galpost benchmark: model %s, backend %s\n", model_path, gp_model_backend_name(m));

    /* (a) encoder alone, batch 64 */
    const gp_net *net = &m->net;
    gp_backend *be = m->be;
    float *x = malloc(sizeof(float) * GP_CUTOUT_PIXELS * B);
    float *scr = malloc(sizeof(float) * gp_net_encoder_scratch(net, B));
    float *mu = malloc(sizeof(float) * B * net->latent), *lv = malloc(sizeof(float) * B * net->latent);
    int iters = 0;
    double t0 = now(), t;
    do {
        memcpy(x, cut, sizeof(float) * GP_CUTOUT_PIXELS * B);
        be->ops->stretch(be, x, B, 3, GP_CUTOUT_SIZE * GP_CUTOUT_SIZE, net->soft, net->offset, net->scale, NULL);
        if (gp_net_encode(be, net, x, B, scr, mu, lv, &err)) { fprintf(stderr, "gp_bench: %s\n", err.msg); return 1; }
        iters++;
        t = now() - t0;
    } while (t < seconds);
    double enc = iters * B / t;
    /* FLOPs of the encoder per galaxy */
    double flops = 0;
    for (int i = 0; i < 3; i++) {
        const gp_conv *c = &net->enc_conv[i];
        flops += 2.0 * c->cout * c->cin * c->k * c->k * net->enc_h[i + 1] * net->enc_h[i + 1];
    }
    flops += 2.0 * 2 * net->enc_mu.in * net->latent;
    if (!json)
        printf("(a) encoder alone, batch %d:            %8.1f galaxies/s  (%.2f GFLOP/s, %.0f MFLOP/galaxy)\n",
               B, enc, enc * flops * 1e-9, flops * 1e-6);

    /* (b) full pipeline, 100 samples per galaxy per flow, batch 64 */
    gp_infer_options io = { 100, 1, 0 };
    gp_result *res = calloc(B, sizeof *res);
    iters = 0;
    t0 = now();
    do {
        if (gp_infer(m, g, B, &io, res, &err)) { fprintf(stderr, "gp_bench: %s\n", err.msg); return 1; }
        iters++;
        t = now() - t0;
    } while (t < seconds);
    double pipe = iters * B / t;
    if (!json) printf("(b) full pipeline, 100 samples, batch %d: %8.1f galaxies/s\n", B, pipe);

    /* (c) one galaxy, 1000 samples: median latency */
    io.nsamples = 1000;
    double lat[200];
    int n = 0;
    t0 = now();
    do {
        double s = now();
        if (gp_infer(m, g, 1, &io, res, &err)) { fprintf(stderr, "gp_bench: %s\n", err.msg); return 1; }
        lat[n++] = now() - s;
    } while (n < 200 && now() - t0 < seconds);
    qsort(lat, (size_t)n, sizeof *lat, cmpd);
    if (json)
        printf("{\"encoder_gps\": %.2f, \"encoder_gflops\": %.2f, \"encoder_mflop_per_galaxy\": %.1f, "
               "\"pipeline_gps\": %.2f, \"latency_ms\": %.3f, \"latency_runs\": %d, \"threads\": %d}\n",
               enc, enc * flops * 1e-9, flops * 1e-6, pipe, 1e3 * lat[n / 2], n, gp_model_threads(m));
    else
        printf("(c) one galaxy, 1000 samples:           %8.1f ms median (%d runs, min %.1f ms)\n",
               1e3 * lat[n / 2], n, 1e3 * lat[0]);
    gp_model_close(m);
    if (*tmp) unlink(tmp);
    free(cut); free(g); free(x); free(scr); free(mu); free(lv); free(res);
    return 0;
}
