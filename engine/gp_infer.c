/*
 * gp_infer.c: posterior inference on a batch of galaxies.
 *
 * Galaxies are processed in chunks.  For each chunk: stretch the cutouts,
 * encode them, build the trunk input; then for each ensemble member k the
 * trunk and heads run once per galaxy, and the flows run once per sample
 * row (sample s of a galaxy belongs to member s mod K).  Everything that
 * depends only on the galaxy (trunk, heads, the context part of every
 * conditioner's first layer) is computed once per galaxy, not per sample.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "galpost/gp_model.h"
#include "gp_model_internal.h"
#include "gp_parallel.h"
#include "gp_rng.h"

#define GP_CHUNK_GALAXIES 64
#define GP_CHUNK_ROWS     32768

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

/* Check one galaxy's inputs; fill res->status/message on failure. */
static int check_galaxy(const gp_model *m, const gp_galaxy *g, gp_result *r)
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

#define TRY(x) do { if ((st = (x)) != GP_OK) goto done; } while (0)
#define ALLOC(var, n, what) do { if (!((var) = buf_alloc(&B, (n), (what), err))) { st = GP_ERR_NOMEM; goto done; } } while (0)

/* One chunk: galaxies idx[0..nb-1]; samples land in host arrays out[g] (N x 9). */
static int infer_chunk(gp_model *m, const gp_galaxy *gal, const int *idx, int nb,
                       const gp_infer_options *opt, float **out, double *pdet, gp_error *err)
{
    gp_backend *be = m->be;
    const gp_backend_ops *ops = be->ops;
    const gp_net *net = &m->net;
    const int N = opt->nsamples, K = net->K, T = net->trunk_out;
    infer_buffers B = { be, {0}, 0 };
    int st = GP_OK;
    float *h_tin = NULL, *h_rows = NULL, *h_cls = NULL;
    int *row_gal = NULL, *sample_idx = NULL;
    uint64_t *ids = NULL;

    h_tin = malloc(sizeof(float) * (size_t)nb * net->trunk_in);
    ids = malloc(sizeof(uint64_t) * (size_t)nb);
    h_cls = malloc(sizeof(float) * (size_t)nb);
    int maxrows = nb * ((N + K - 1) / K);
    row_gal = malloc(sizeof(int) * (size_t)maxrows);
    sample_idx = malloc(sizeof(int) * (size_t)maxrows);
    h_rows = malloc(sizeof(float) * (size_t)maxrows * 9);
    if (!h_tin || !ids || !h_cls || !row_gal || !sample_idx || !h_rows) {
        st = GP_FAIL(err, GP_ERR_NOMEM, "cannot allocate inference buffers for %d galaxies x %d samples", nb, N);
        goto done;
    }
    for (int g = 0; g < nb; g++) ids[g] = gal[idx[g]].id;

    /* trunk input: [mu, sigma, photometry] */
    if (net->uses_image) {
        float *x, *scratch, *mu, *lv;
        ALLOC(x, (size_t)nb * GP_CUTOUT_PIXELS, "cutouts");
        for (int g = 0; g < nb; g++)
            TRY(ops->upload(be, x + (size_t)g * GP_CUTOUT_PIXELS, gal[idx[g]].cutout,
                            sizeof(float) * GP_CUTOUT_PIXELS, err));
        TRY(ops->stretch(be, x, nb, GP_CUTOUT_BANDS, GP_CUTOUT_SIZE * GP_CUTOUT_SIZE,
                         net->soft, net->offset, net->scale, err));
        ALLOC(scratch, gp_net_encoder_scratch(net, nb), "encoder activations");
        ALLOC(mu, (size_t)nb * net->latent, "latent means");
        ALLOC(lv, (size_t)nb * net->latent, "latent log-variances");
        TRY(gp_net_encode(be, net, x, nb, scratch, mu, lv, err));
        TRY(ops->exp_half(be, lv, (size_t)nb * net->latent, lv, err));
        float *hmu = malloc(sizeof(float) * (size_t)nb * net->latent * 2);
        if (!hmu) { st = GP_FAIL(err, GP_ERR_NOMEM, "cannot allocate latent copies"); goto done; }
        st = ops->download(be, hmu, mu, sizeof(float) * (size_t)nb * net->latent, err);
        if (!st) st = ops->download(be, hmu + (size_t)nb * net->latent, lv, sizeof(float) * (size_t)nb * net->latent, err);
        if (!st)
            for (int g = 0; g < nb; g++) {
                float *t = h_tin + (size_t)g * net->trunk_in;
                memcpy(t, hmu + (size_t)g * net->latent, sizeof(float) * (size_t)net->latent);
                memcpy(t + net->latent, hmu + (size_t)(nb + g) * net->latent, sizeof(float) * (size_t)net->latent);
                gp_net_photometry(net, gal[idx[g]].mag, t + 2 * net->latent);
            }
        free(hmu);
        if (st) goto done;
    } else {
        for (int g = 0; g < nb; g++) gp_net_photometry(net, gal[idx[g]].mag, h_tin + (size_t)g * net->trunk_in);
    }

    float *tin, *trunk, *tmp, *head, *cls, *lhead, *hc, *hoh, *core, *oh, *line, *fscr;
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
    ALLOC(tin, (size_t)nb * net->trunk_in, "trunk input");
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
    TRY(ops->upload(be, tin, h_tin, sizeof(float) * (size_t)nb * net->trunk_in, err));

    static const int core_cols[GP_NCORE] = { 0, 1, 2, 3 };
    static const int oh_col[1] = { 4 };
    for (int k = 0; k < K; k++) {
        const gp_member *mm = &net->member[k];
        int rows = 0;
        for (int g = 0; g < nb; g++)
            for (int s = k; s < N; s += K) { row_gal[rows] = g; sample_idx[rows] = s; rows++; }
        if (rows == 0) continue;
        TRY(gp_mlp_forward(be, &mm->trunk, net->act, net->slope, tin, nb, tmp, trunk, err));
        TRY(gp_mlp_forward(be, &mm->core_head, net->act, net->slope, trunk, nb, tmp, head, err));
        TRY(gp_mlp_forward(be, &mm->classifier, net->act, net->slope, trunk, nb, tmp, cls, err));
        TRY(gp_mlp_forward(be, &mm->line_head, net->act, net->slope, trunk, nb, tmp, lhead, err));
        if (ops->member_sample) {
            /* the backend's fused sampling (the CPU's runs each row's whole chain in cache) */
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
        TRY(ops->sync(be, err));
        TRY(ops->download(be, h_rows, core, sizeof(float) * (size_t)rows * GP_NCORE, err));
        TRY(ops->download(be, h_rows + (size_t)rows * GP_NCORE, oh, sizeof(float) * (size_t)rows, err));
        TRY(ops->download(be, h_rows + (size_t)rows * (GP_NCORE + 1), line, sizeof(float) * (size_t)rows * GP_NLINE, err));
        TRY(ops->download(be, h_cls, cls, sizeof(float) * (size_t)nb, err));
        for (int r = 0; r < rows; r++) {
            float *dst = out[row_gal[r]] + (size_t)sample_idx[r] * GP_NQ;
            float v[GP_NQ];
            memcpy(v, h_rows + (size_t)r * GP_NCORE, sizeof(float) * GP_NCORE);
            v[GP_Q_OH] = h_rows[(size_t)rows * GP_NCORE + r];
            memcpy(v + GP_Q_HALPHA, h_rows + (size_t)rows * (GP_NCORE + 1) + (size_t)r * GP_NLINE,
                   sizeof(float) * GP_NLINE);
            for (int q = 0; q < GP_NQ; q++)
                dst[q] = (float)(v[q] * net->target_std[q] + net->target_mean[q]);
        }
        for (int g = 0; g < nb; g++) pdet[g] += 1.0 / (1.0 + exp(-(double)h_cls[g])) / K;
    }
done:
    buf_free_all(&B);
    free(h_tin); free(ids); free(h_cls); free(row_gal); free(sample_idx); free(h_rows);
    return st;
}

/* Summaries of a chunk's galaxies, in parallel: each galaxy's result is
 * written by one thread only, failures into its own status and message. */
typedef struct summary_job {
    gp_result   *res;
    const int   *idx;
    float *const *samples;
    int          nsamples;
} summary_job;

static void summaries_range(void *ctx, size_t begin, size_t end)
{
    summary_job *j = ctx;
    for (size_t g = begin; g < end; g++) {
        gp_result *r = &j->res[j->idx[g]];
        gp_error serr;
        int ss = gp_summary_compute(j->samples[g], j->nsamples, &r->summary, &serr);
        if (ss) {
            r->status = ss;
            snprintf(r->message, sizeof r->message, "galaxy %llu: %.200s", (unsigned long long)r->id, serr.msg);
        }
    }
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
    if (!good) return GP_FAIL(err, GP_ERR_NOMEM, "gp_infer: cannot allocate the batch index");
    size_t ngood = 0;
    for (size_t i = 0; i < n; i++) {
        memset(&res[i], 0, sizeof res[i]);
        res[i].id = gal[i].id;
        res[i].flags = gal[i].flags;
        res[i].nsamples = o.nsamples;
        res[i].summary.bpt_class = -1;
        if (check_galaxy(m, &gal[i], &res[i]) == GP_OK) good[ngood++] = (int)i;
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
    float **samples = malloc(sizeof(float *) * (size_t)per_chunk);
    double *pdet = malloc(sizeof(double) * (size_t)per_chunk);
    int st = GP_OK;
    if (!samples || !pdet) { st = GP_FAIL(err, GP_ERR_NOMEM, "gp_infer: cannot allocate chunk tables"); goto out; }
    for (size_t c0 = 0; c0 < ngood; c0 += (size_t)per_chunk) {
        int nb = (int)((ngood - c0) < (size_t)per_chunk ? (ngood - c0) : (size_t)per_chunk);
        const int *idx = good + c0;
        for (int g = 0; g < nb; g++) {
            samples[g] = malloc(sizeof(float) * (size_t)o.nsamples * GP_NQ);
            pdet[g] = 0.0;
            if (!samples[g]) {
                for (int h = 0; h < g; h++) free(samples[h]);
                st = GP_FAIL(err, GP_ERR_NOMEM, "gp_infer: cannot allocate %d samples", o.nsamples);
                goto out;
            }
        }
        st = infer_chunk(m, gal, idx, nb, &o, samples, pdet, err);
        if (st == GP_OK) {
            /* host work after a GPU backend's: all CPUs; the CPU backend's threads otherwise */
            summary_job sj = { res, idx, samples, o.nsamples };
            int sthreads = strcmp(m->be->ops->name, "cpu") == 0 ? m->be->threads : gp_cpu_count();
            (void)gp_parallel_for(sthreads, (size_t)nb, summaries_range, &sj);
        }
        for (int g = 0; g < nb; g++) {
            gp_result *r = &res[idx[g]];
            if (st == GP_OK) {
                r->summary.p_detect = pdet[g];
                if (r->status && first_bad == GP_OK) first_bad = GP_FAIL(err, r->status, "%s", r->message);
            }
            if (st == GP_OK && o.keep_samples && r->status == GP_OK) r->samples = samples[g];
            else free(samples[g]);
        }
        if (st) {
            for (size_t i = c0; i < ngood; i++) {
                res[good[i]].status = st;
                snprintf(res[good[i]].message, sizeof res[good[i]].message, "inference failed: %.200s",
                         err ? err->msg : gp_status_string(st));
            }
            goto out;
        }
    }
out:
    free(samples);
    free(pdet);
    free(good);
    if (st) {
        gp_result_free(res, n);
        return st;
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
