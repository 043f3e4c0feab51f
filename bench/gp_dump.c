/*
 * gp_dump.c: write galpost's intermediate values for given inputs as raw
 * little-endian float32 files, for the PyTorch parity check (bench/parity.py).
 *
 *   gp_dump MODEL INPUTS OUTDIR [--nsamples N] [--seed S] [--threads T]
 *
 * INPUTS is a bench inputs file (bench/torch_model.py read_inputs): u64 n,
 * n u64 ids, n x 5 f32 magnitudes, n x 3 x 160 x 160 f32 cutouts.  OUTDIR
 * receives (n galaxies, rows = n x |{s < N : s mod K = k}| sample rows of
 * member k, galaxy-major, s = k, k+K, ...):
 *   stretched [n,3,160,160]  mu, logvar [n,latent]  decoded [n,3,160,160]
 *   (the decoder applied to mu)  tin [n,trunk_in]
 *   (mu and logvar as gp_infer computes them: ops->encode_cutouts where the
 *   backend has it)
 *   m<k>.trunk [n,T]  m<k>.head [n,5]  m<k>.cls [n]  m<k>.lhead [n,4]
 *   m<k>.noise_core [rows,4]  m<k>.noise_oh [rows]  m<k>.noise_line [rows,4]
 *   m<k>.core [rows,4]  m<k>.oh [rows]  m<k>.line [rows,4]  (standardized
 *   values: flow output plus the head's mean, as gp_infer computes them)
 *   samples [n,N,9] (gp_infer with keep_samples)  pdet [n] (float64)
 * and info.json with the shapes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galpost/gp_model.h"
#include "gp_model_internal.h"
#include "gp_rng.h"

static const char *outdir;

static int dump(const char *name, const void *p, size_t bytes)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", outdir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, bytes, f) != bytes || fclose(f)) {
        fprintf(stderr, "gp_dump: cannot write %s\n", path);
        return 1;
    }
    return 0;
}

#define CHECK(x) do { if ((x) != GP_OK) { fprintf(stderr, "gp_dump: %s\n", err.msg); return 1; } } while (0)
#define DUMP(name, p, bytes) do { if (dump(name, p, bytes)) return 1; } while (0)

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: gp_dump MODEL INPUTS OUTDIR [--nsamples N] [--seed S] [--threads T]\n");
        return 2;
    }
    int N = 100, threads = 1;
    unsigned long long seed = 1;
    for (int i = 4; i < argc; i++) {
        if (!strcmp(argv[i], "--nsamples") && i + 1 < argc) N = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else { fprintf(stderr, "gp_dump: unknown option %s\n", argv[i]); return 2; }
    }
    outdir = argv[3];
    FILE *f = fopen(argv[2], "rb");
    uint64_t n64 = 0;
    if (!f || fread(&n64, 8, 1, f) != 1 || n64 < 1 || n64 > 4096) {
        fprintf(stderr, "gp_dump: %s: cannot read the galaxy count\n", argv[2]);
        return 1;
    }
    int n = (int)n64;
    uint64_t *ids = malloc(8 * (size_t)n);
    float *mags = malloc(sizeof(float) * 5 * (size_t)n);
    float *cut = malloc(sizeof(float) * GP_CUTOUT_PIXELS * (size_t)n);
    if (fread(ids, 8, (size_t)n, f) != (size_t)n || fread(mags, 20, (size_t)n, f) != (size_t)n ||
        fread(cut, sizeof(float) * GP_CUTOUT_PIXELS, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "gp_dump: %s: truncated inputs file\n", argv[2]);
        return 1;
    }
    fclose(f);

    gp_error err;
    gp_model_options o = gp_model_options_default();
    o.backend = GP_BACKEND_CPU;
    o.threads = threads;
    gp_model *m;
    CHECK(gp_model_open(argv[1], &o, &m, &err));
    const gp_net *net = &m->net;
    gp_backend *be = m->be;
    const gp_backend_ops *ops = be->ops;
    const int K = net->K, T = net->trunk_out, L = net->latent, TI = net->trunk_in;

    float *tin = calloc((size_t)n * TI, sizeof(float));
    if (net->uses_image) {
        size_t pix = (size_t)n * GP_CUTOUT_PIXELS;
        float *x = malloc(sizeof(float) * pix), *dec = malloc(sizeof(float) * pix);
        float *scr = malloc(sizeof(float) * gp_net_encoder_scratch(net, n));
        float *mu = malloc(sizeof(float) * (size_t)n * L), *lv = malloc(sizeof(float) * (size_t)n * L);
        memcpy(x, cut, sizeof(float) * pix);
        CHECK(ops->stretch(be, x, n, GP_CUTOUT_BANDS, GP_CUTOUT_SIZE * GP_CUTOUT_SIZE, net->soft, net->offset,
                           net->scale, &err));
        DUMP("stretched", x, sizeof(float) * pix);
        if (ops->encode_cutouts) {   /* what gp_infer computes: the encoder straight from the cutouts */
            const float **cp = malloc(sizeof *cp * (size_t)n);
            if (!cp) { fprintf(stderr, "gp_dump: out of memory\n"); return 1; }
            for (int g = 0; g < n; g++) cp[g] = cut + (size_t)g * GP_CUTOUT_PIXELS;
            CHECK(ops->encode_cutouts(be, net, cp, n, scr, mu, lv, &err));
            free(cp);
        } else {
            CHECK(gp_net_encode(be, net, x, n, scr, mu, lv, &err));
        }
        DUMP("mu", mu, sizeof(float) * (size_t)n * L);
        DUMP("logvar", lv, sizeof(float) * (size_t)n * L);
        CHECK(gp_net_decode(be, net, mu, n, scr, dec, &err));
        DUMP("decoded", dec, sizeof(float) * pix);
        CHECK(ops->exp_half(be, lv, (size_t)n * L, lv, &err));
        for (int g = 0; g < n; g++) {
            memcpy(tin + (size_t)g * TI, mu + (size_t)g * L, sizeof(float) * (size_t)L);
            memcpy(tin + (size_t)g * TI + L, lv + (size_t)g * L, sizeof(float) * (size_t)L);
            gp_net_photometry(net, mags + 5 * (size_t)g, tin + (size_t)g * TI + 2 * L);
        }
        free(x); free(dec); free(scr); free(mu); free(lv);
    } else {
        for (int g = 0; g < n; g++) gp_net_photometry(net, mags + 5 * (size_t)g, tin + (size_t)g * TI);
    }
    DUMP("tin", tin, sizeof(float) * (size_t)n * TI);

    int maxrows = n * ((N + K - 1) / K);
    int *row_gal = malloc(sizeof(int) * (size_t)maxrows), *sidx = malloc(sizeof(int) * (size_t)maxrows);
    int wmax = 1;
    size_t fsz = 1;
    for (int k = 0; k < K; k++) {
        const gp_member *mm = &net->member[k];
        const gp_mlp *mlps[4] = { &mm->trunk, &mm->core_head, &mm->classifier, &mm->line_head };
        for (int i = 0; i < 4; i++) if (gp_mlp_width(mlps[i]) > wmax) wmax = gp_mlp_width(mlps[i]);
        size_t s[3] = { gp_realnvp_scratch(&mm->core_flow, maxrows, n), gp_realnvp_scratch(&mm->line_flow, maxrows, n),
                        gp_affine1d_scratch(&mm->oh_flow, maxrows, n) };
        for (int i = 0; i < 3; i++) if (s[i] > fsz) fsz = s[i];
    }
    float *trunk = malloc(sizeof(float) * (size_t)n * T), *tmp = malloc(sizeof(float) * 2 * (size_t)n * wmax);
    float *head = malloc(sizeof(float) * (size_t)n * 5), *cls = malloc(sizeof(float) * (size_t)n);
    float *lhead = malloc(sizeof(float) * (size_t)n * 4), *hc = malloc(sizeof(float) * (size_t)n * 4);
    float *hoh = malloc(sizeof(float) * (size_t)n);
    float *core = malloc(sizeof(float) * (size_t)maxrows * 4), *oh = malloc(sizeof(float) * (size_t)maxrows);
    float *line = malloc(sizeof(float) * (size_t)maxrows * 4), *fscr = malloc(sizeof(float) * fsz);
    static const int core_cols[4] = { 0, 1, 2, 3 }, oh_col[1] = { 4 };
    char name[64];
    for (int k = 0; k < K; k++) {
        const gp_member *mm = &net->member[k];
        int rows = 0;
        for (int g = 0; g < n; g++)
            for (int s = k; s < N; s += K) { row_gal[rows] = g; sidx[rows] = s; rows++; }
        CHECK(gp_mlp_forward(be, &mm->trunk, net->act, net->slope, tin, n, tmp, trunk, &err));
        CHECK(gp_mlp_forward(be, &mm->core_head, net->act, net->slope, trunk, n, tmp, head, &err));
        CHECK(gp_mlp_forward(be, &mm->classifier, net->act, net->slope, trunk, n, tmp, cls, &err));
        CHECK(gp_mlp_forward(be, &mm->line_head, net->act, net->slope, trunk, n, tmp, lhead, &err));
        CHECK(ops->gather_cols(be, head, n, 5, core_cols, 4, hc, &err));
        CHECK(ops->gather_cols(be, head, n, 5, oh_col, 1, hoh, &err));
#define DK(what, p, bytes) do { snprintf(name, sizeof name, "m%d.%s", k, what); DUMP(name, p, bytes); } while (0)
        DK("trunk", trunk, sizeof(float) * (size_t)n * T);
        DK("head", head, sizeof(float) * (size_t)n * 5);
        DK("cls", cls, sizeof(float) * (size_t)n);
        DK("lhead", lhead, sizeof(float) * (size_t)n * 4);
        if (rows == 0) continue;
        CHECK(ops->normals(be, seed, ids, row_gal, sidx, rows, GP_STREAM_CORE, 4, core, &err));
        CHECK(ops->normals(be, seed, ids, row_gal, sidx, rows, GP_STREAM_OH, 1, oh, &err));
        CHECK(ops->normals(be, seed, ids, row_gal, sidx, rows, GP_STREAM_LINE, 4, line, &err));
        DK("noise_core", core, sizeof(float) * (size_t)rows * 4);
        DK("noise_oh", oh, sizeof(float) * (size_t)rows);
        DK("noise_line", line, sizeof(float) * (size_t)rows * 4);
        CHECK(gp_realnvp_apply(be, &mm->core_flow, net->act, net->slope, core, rows, trunk, n, row_gal, -1, NULL, fscr, &err));
        CHECK(ops->add_rows(be, core, rows, 4, hc, row_gal, &err));
        CHECK(gp_affine1d_apply(be, &mm->oh_flow, net->act, net->slope, oh, rows, core, trunk, n, row_gal, -1, NULL, fscr, &err));
        CHECK(ops->add_rows(be, oh, rows, 1, hoh, row_gal, &err));
        CHECK(gp_realnvp_apply(be, &mm->line_flow, net->act, net->slope, line, rows, trunk, n, row_gal, -1, NULL, fscr, &err));
        CHECK(ops->add_rows(be, line, rows, 4, lhead, row_gal, &err));
        DK("core", core, sizeof(float) * (size_t)rows * 4);
        DK("oh", oh, sizeof(float) * (size_t)rows);
        DK("line", line, sizeof(float) * (size_t)rows * 4);
    }

    gp_galaxy *gal = calloc((size_t)n, sizeof *gal);
    for (int g = 0; g < n; g++) {
        gal[g].id = ids[g];
        gal[g].cutout = cut + (size_t)g * GP_CUTOUT_PIXELS;
        memcpy(gal[g].mag, mags + 5 * (size_t)g, sizeof gal[g].mag);
    }
    gp_infer_options io = { N, (uint64_t)seed, 1 };
    gp_result *res = calloc((size_t)n, sizeof *res);
    CHECK(gp_infer(m, gal, (size_t)n, &io, res, &err));
    float *smp = malloc(sizeof(float) * (size_t)n * N * GP_NQ);
    double *pdet = malloc(sizeof(double) * (size_t)n);
    for (int g = 0; g < n; g++) {
        memcpy(smp + (size_t)g * N * GP_NQ, res[g].samples, sizeof(float) * (size_t)N * GP_NQ);
        pdet[g] = res[g].summary.p_detect;
    }
    DUMP("samples", smp, sizeof(float) * (size_t)n * N * GP_NQ);
    DUMP("pdet", pdet, sizeof(double) * (size_t)n);
    /* a few summaries, to compare with the PyTorch version's */
    double *summ = malloc(sizeof(double) * (size_t)n * 5 * GP_NQ);
    for (int g = 0; g < n; g++)
        for (int q = 0; q < GP_NQ; q++) {
            const gp_summary *s = &res[g].summary;
            double v[5] = { s->median[q], s->p16[q], s->p84[q], s->mean[q], s->std[q] };
            for (int j = 0; j < 5; j++) summ[((size_t)g * 5 + j) * GP_NQ + q] = v[j];
        }
    DUMP("summary", summ, sizeof(double) * (size_t)n * 5 * GP_NQ);
    char info[512];
    int len = snprintf(info, sizeof info,
                       "{\"n\": %d, \"nsamples\": %d, \"seed\": %llu, \"K\": %d, \"latent\": %d, \"trunk_in\": %d, "
                       "\"trunk\": %d, \"uses_image\": %d}\n", n, N, seed, K, L, TI, T, net->uses_image);
    DUMP("info.json", info, (size_t)len);
    gp_result_free(res, (size_t)n);
    gp_model_close(m);
    free(res); free(gal); free(smp); free(pdet); free(summ); free(ids); free(mags); free(cut); free(tin);
    free(row_gal); free(sidx); free(trunk); free(tmp); free(head); free(cls); free(lhead); free(hc); free(hoh);
    free(core); free(oh); free(line); free(fscr);
    return 0;
}
