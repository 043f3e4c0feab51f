/*
 * gp_bench.c: galaxies per second of the engine (design.md section 7).
 *
 *   gp_bench [--model FILE] [--threads T] [--seconds S]
 *
 * (a) the encoder alone, batch 64; (b) the full pipeline with 100 samples
 * per galaxy per flow, batch 64; (c) the latency of one galaxy with 1,000
 * samples (a DS9 click).  Without --model, a default-architecture model
 * with random weights is written to a temporary file (speed does not
 * depend on the weights' values).  Inputs are synthetic galaxies.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

int main(int argc, char **argv)
{
    const char *model_path = NULL;
    int threads = 0;
    double seconds = 3.0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc) model_path = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atof(argv[++i]);
        else { fprintf(stderr, "usage: gp_bench [--model FILE] [--threads T] [--seconds S]\n"); return 2; }
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
    const int B = 64;
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
    printf("galpost benchmark: model %s, backend %s\n", model_path, gp_model_backend_name(m));

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
    printf("(b) full pipeline, 100 samples, batch %d: %8.1f galaxies/s\n", B, iters * B / t);

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
    printf("(c) one galaxy, 1000 samples:           %8.1f ms median (%d runs, min %.1f ms)\n",
           1e3 * lat[n / 2], n, 1e3 * lat[0]);
    gp_model_close(m);
    if (*tmp) unlink(tmp);
    free(cut); free(g); free(x); free(scr); free(mu); free(lv); free(res);
    return 0;
}
