/*
 * gp_eval.c: `galpost eval` (see gp_eval.h).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "galpost/gp_model.h"
#include "galpost/gp_plot.h"
#include "galpost/gp_weights.h"
#include "gp_dataset.h"
#include "gp_eval.h"
#include "gp_latent_cache.h"
#include "gp_model_internal.h"
#include "gp_train.h"
#include "gp_train_run.h"

#define NQ GP_NQ
#define TRY(x) do { if ((st = (x)) != GP_OK) goto done; } while (0)

void gp_eval_opts_default(gp_eval_opts *o)
{
    memset(o, 0, sizeof *o);
    o->nsamples = 200;
    o->seed = 12345;
    o->baselines = 1;
}

/* Randomized PIT (see gp_eval.h). */
double gp_eval_pit(long below, long ties, long n, double u)
{
    long rank = below + (long)(u * (double)(ties + 1));
    if (rank > below + ties) rank = below + ties;
    return (rank + 0.5) / (n + 1.0);
}

/* The fingerprint gp_train gave its latent cache ([train, val, test] rows in
 * partition order, the encoder's "enc.*" tensors, the band stretch). */
static int eval_latent_key(const gp_weights *w, const gp_net *net, const gp_dataset *d, const long *tr, long ntr,
                           const long *va, long nva, const long *te, long nte, int L, uint64_t *key, gp_error *err)
{
    gp_latent_tensor t[256];
    int nt = 0, st = GP_OK;
    for (size_t i = 0; i < gp_weights_tensor_count(w) && !st; i++) {
        gp_tensor_info ti;
        if ((st = gp_weights_tensor_at(w, i, &ti, err))) break;
        if (strncmp(ti.name, "enc.", 4)) continue;
        if (nt == 256) { st = GP_FAIL(err, GP_ERR_FORMAT, "%s: more than 256 encoder tensors", gp_weights_path(w)); break; }
        t[nt].name = ti.name; t[nt].data = ti.data; t[nt].n = (size_t)ti.nelem; nt++;
    }
    float s9[9] = { net->soft[0], net->soft[1], net->soft[2], net->offset[0], net->offset[1], net->offset[2],
                    net->scale[0], net->scale[1], net->scale[2] };
    const long *lists[3] = { tr, va, te };
    const long counts[3] = { ntr, nva, nte };
    if (!st) st = gp_latent_cache_key_rows(d, 3, lists, counts, t, nt, s9, L, key, err);
    return st;
}

int gp_eval_pit_covered(double pit, double level)
{
    return fabs(pit - 0.5) <= 0.5 * level;
}

/* u in [0, 1) from (galaxy id, quantity), so the randomized PIT is the same
 * in every run */
static double pit_uniform(uint64_t id, int q)
{
    return (gp_splitmix64(id + 0x9E3779B97F4A7C15ull * (uint64_t)q) >> 11) * (1.0 / 9007199254740992.0);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int cmp_f(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}
static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static float quantile(const float *sorted, int n, double p)
{
    double pos = p * (n - 1);
    int i = (int)pos;
    if (i >= n - 1) return sorted[n - 1];
    double f = pos - i;
    return (float)(sorted[i] * (1 - f) + sorted[i + 1] * f);
}

/* Per-quantity figures of point predictions pred against truth over rows with mask. */
typedef struct qfig {
    long   n;
    double r2, rmse, bias, nmad, outlier;
    double cov68, cov95, ks, sig_ale, sig_epi;
    double pcov68, pcov95;     /* coverage by the randomized PIT */
    double r2_mean, rmse_mean; /* of the posterior mean, the estimator squared error rewards */
    long   pit_hist[10];
} qfig;

static void point_figures(const double *pred, const double *truth, const uint8_t *mask, long n, qfig *f)
{
    double mt = 0, cnt = 0;
    for (long i = 0; i < n; i++) if (mask[i]) { mt += truth[i]; cnt++; }
    f->n = (long)cnt;
    if (cnt < 2) { f->r2 = f->rmse = f->bias = f->nmad = f->outlier = NAN; return; }
    mt /= cnt;
    double sse = 0, sst = 0, sb = 0;
    double *dl = malloc(sizeof(double) * (size_t)cnt), *ad = malloc(sizeof(double) * (size_t)cnt);
    long k = 0;
    for (long i = 0; i < n; i++) {
        if (!mask[i]) continue;
        double d = pred[i] - truth[i];
        sse += d * d; sst += (truth[i] - mt) * (truth[i] - mt); sb += d;
        dl[k++] = d;
    }
    f->r2 = 1.0 - sse / sst;
    f->rmse = sqrt(sse / cnt);
    f->bias = sb / cnt;
    qsort(dl, (size_t)k, sizeof(double), cmp_d);
    double med = dl[k / 2];
    for (long i = 0; i < k; i++) ad[i] = fabs(dl[i] - med);
    qsort(ad, (size_t)k, sizeof(double), cmp_d);
    f->nmad = 1.4826 * ad[k / 2];
    long out = 0;
    for (long i = 0; i < k; i++) if (fabs(dl[i]) > 3 * f->nmad) out++;
    f->outlier = (double)out / k;
    free(dl); free(ad);
}

/* ------------------------------------------------------------ baselines */

/* A standalone MLP trained by Adam on (X, Y) with an O/H mask, through the training engine. */
static int baseline_mlp(gp_backend *be, const char *tmpdir, const char *tag, const float *Xtr, const float *Ytr,
                        const float *Mtr, long ntr, const float *Xva, const float *Yva, const float *Mva, long nva,
                        int in, const float *Xte, long nte, float *Pte, uint64_t seed, FILE *logf, gp_error *err)
{
    const int H = 128, B = 256, EPOCHS = 60, PATIENCE = 6;
    char path[4200];
    snprintf(path, sizeof path, "%s/baseline-%s.tmp.gpw", tmpdir, tag);
    gp_weights_writer *wr = NULL;
    gp_weights *w = NULL;
    gp_tparams ps;
    memset(&ps, 0, sizeof ps);
    gp_tmlp m;
    memset(&m, 0, sizeof m);
    /* host batches; dbx, ddY their backend copies (the MLP's input and output gradient) */
    float *bx = NULL, *by = NULL, *bm = NULL, *best = NULL, *dY = NULL, *hp = NULL, *dbx = NULL, *ddY = NULL;
    long *order = NULL;
    int st = gp_weights_writer_new(&wr, err);
    if (st) return st;
    {
        const int dims[3][2] = { { H, in }, { H, H }, { 9, H } };
        uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
        for (int l = 0; l < 3 && !st; l++) {
            size_t nw = (size_t)dims[l][0] * dims[l][1];
            float *v = malloc(sizeof(float) * nw), *b = calloc((size_t)dims[l][0], sizeof(float));
            if (!v || !b) { free(v); free(b); st = GP_FAIL(err, GP_ERR_NOMEM, "baseline weights"); break; }
            double sd = sqrt(2.0 / dims[l][1]) * (l == 2 ? 0.5 : 1.0);
            for (size_t i = 0; i < nw; i++) {
                /* Box-Muller from a splitmix stream */
                double u1 = ((gp_splitmix64(s) >> 11) + 0.5) / 9007199254740992.0;
                s += 0x9E3779B97F4A7C15ull;
                double u2 = ((gp_splitmix64(s) >> 11) + 0.5) / 9007199254740992.0;
                s += 0x9E3779B97F4A7C15ull;
                v[i] = (float)(sd * sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2));
            }
            char name[64];
            int64_t wd[2] = { dims[l][0], dims[l][1] }, bd[1] = { dims[l][0] };
            snprintf(name, sizeof name, "base.%d.weight", l);
            st = gp_weights_writer_add_tensor(wr, name, 2, wd, v, err);
            snprintf(name, sizeof name, "base.%d.bias", l);
            if (!st) st = gp_weights_writer_add_tensor(wr, name, 1, bd, b, err);
            free(v); free(b);
        }
    }
    if (!st) st = gp_weights_writer_set_str(wr, "galpost.kind", "baseline", err);
    if (!st) st = gp_weights_writer_write(wr, path, err);
    gp_weights_writer_free(wr);
    if (st) return st;
    TRY(gp_weights_open(path, &w, err));
    TRY(gp_tparams_from_weights(be, w, &ps, err));
    TRY(gp_tmlp_bind(&m, &ps, "base", in, 0, GP_ACT_LEAKY_RELU, 0.2f, B, err));
    size_t np = 0;
    for (int i = 0; i < ps.n; i++) np += ps.p[i].n;
    bx = malloc(sizeof(float) * (size_t)B * in); by = malloc(sizeof(float) * (size_t)B * 9);
    bm = malloc(sizeof(float) * B); best = malloc(sizeof(float) * np);
    dY = malloc(sizeof(float) * (size_t)B * 9); hp = malloc(sizeof(float) * (size_t)B * 9);
    order = malloc(sizeof(long) * (size_t)(ntr ? ntr : 1));
    dbx = be->ops->alloc(be, sizeof(float) * (size_t)B * in);
    ddY = be->ops->alloc(be, sizeof(float) * (size_t)B * 9);
    if (!bx || !by || !bm || !best || !dY || !hp || !order || !dbx || !ddY) { st = GP_FAIL(err, GP_ERR_NOMEM, "baseline buffers"); goto done; }
    double best_val = INFINITY;
    int bad = 0, best_ep = 0;
    long step = 0;
    for (int ep = 0; ep < EPOCHS && bad < PATIENCE; ep++) {
        for (long i = 0; i < ntr; i++) order[i] = i;
        uint64_t s = seed ^ (0xBA5Eull + (uint64_t)ep * 7919ull);
        for (long i = ntr - 1; i > 0; i--) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            long j = (long)((s >> 17) % (uint64_t)(i + 1));
            long t = order[i]; order[i] = order[j]; order[j] = t;
        }
        for (int pass = 0; pass < 2; pass++) {
            const float *X = pass ? Xva : Xtr, *Y = pass ? Yva : Ytr, *M = pass ? Mva : Mtr;
            long n = pass ? nva : ntr;
            double loss = 0;
            for (long b0 = 0; b0 < n; b0 += B) {
                int nb = (int)(n - b0 < B ? n - b0 : B);
                for (int i = 0; i < nb; i++) {
                    long r = pass ? b0 + i : order[b0 + i];
                    memcpy(bx + (size_t)i * in, X + (size_t)r * in, sizeof(float) * in);
                    memcpy(by + (size_t)i * 9, Y + (size_t)r * 9, sizeof(float) * 9);
                    bm[i] = M[r];
                }
                float *P;
                TRY(be->ops->upload(be, dbx, bx, sizeof(float) * (size_t)nb * in, err));
                TRY(gp_tmlp_forward(be, &m, dbx, nb, &P, err));
                TRY(be->ops->download(be, hp, P, sizeof(float) * (size_t)nb * 9, err));
                for (int i = 0; i < nb; i++)
                    for (int q = 0; q < 9; q++) {
                        double wq = (q == 4) ? bm[i] : 1.0;
                        double e = (double)hp[i * 9 + q] - by[i * 9 + q];
                        loss += wq * e * e;
                        dY[i * 9 + q] = (float)(2.0 * wq * e / nb);
                    }
                if (pass) continue;
                TRY(gp_tparams_zero_grad(&ps, NULL, err));
                TRY(be->ops->upload(be, ddY, dY, sizeof(float) * (size_t)nb * 9, err));
                TRY(gp_tmlp_backward(be, &m, nb, ddY, NULL, err));
                step++;
                TRY(gp_tparams_adam(&ps, NULL, 1e-3f, step, 10.0f, NULL, err));
            }
            if (pass) {
                double vl = loss / (n ? n : 1);
                if (vl < best_val - 1e-5) {
                    best_val = vl; bad = 0; best_ep = ep + 1;
                    size_t off = 0;
                    for (int i = 0; i < ps.n; i++) {
                        TRY(be->ops->download(be, best + off, ps.p[i].w, sizeof(float) * ps.p[i].n, err));
                        off += ps.p[i].n;
                    }
                } else bad++;
            }
        }
    }
    {
        size_t off = 0;
        for (int i = 0; i < ps.n; i++) {
            TRY(be->ops->upload(be, ps.p[i].w, best + off, sizeof(float) * ps.p[i].n, err));
            off += ps.p[i].n;
        }
    }
    if (logf) fprintf(logf, "baseline %s: best validation MSE %.4f at epoch %d\n", tag, best_val, best_ep);
    for (long b0 = 0; b0 < nte; b0 += B) {
        int nb = (int)(nte - b0 < B ? nte - b0 : B);
        float *P;
        TRY(be->ops->upload(be, dbx, Xte + (size_t)b0 * in, sizeof(float) * (size_t)nb * in, err));
        TRY(gp_tmlp_forward(be, &m, dbx, nb, &P, err));
        TRY(be->ops->download(be, Pte + (size_t)b0 * 9, P, sizeof(float) * (size_t)nb * 9, err));
    }
done:
    if (m.nl) gp_tmlp_free(&m, be);
    gp_tparams_free(&ps);
    gp_weights_close(w);
    unlink(path);
    if (dbx) be->ops->free(be, dbx);
    if (ddY) be->ops->free(be, ddY);
    free(bx); free(by); free(bm); free(best); free(dY); free(hp); free(order);
    return st;
}

/* kNN regression (k neighbours, squared Euclidean distance); O/H from measurable neighbours. */
static void baseline_knn(const float *Xtr, const float *Ytr, const float *Mtr, long ntr, int in, const float *Xte,
                         long nte, int k, float *Pte)
{
    double *bd = malloc(sizeof(double) * k);
    long *bi = malloc(sizeof(long) * k);
    for (long t = 0; t < nte; t++) {
        int nfill = 0;
        const float *x = Xte + (size_t)t * in;
        for (long j = 0; j < ntr; j++) {
            const float *y = Xtr + (size_t)j * in;
            double d = 0;
            for (int q = 0; q < in; q++) { double e = (double)x[q] - y[q]; d += e * e; }
            if (nfill < k) { bd[nfill] = d; bi[nfill] = j; nfill++; }
            else {
                int worst = 0;
                for (int q = 1; q < k; q++) if (bd[q] > bd[worst]) worst = q;
                if (d < bd[worst]) { bd[worst] = d; bi[worst] = j; }
            }
        }
        for (int q = 0; q < 9; q++) {
            double s = 0, c = 0;
            for (int i = 0; i < nfill; i++) {
                if (q == 4 && Mtr[bi[i]] < 0.5f) continue;
                s += Ytr[(size_t)bi[i] * 9 + q]; c++;
            }
            Pte[(size_t)t * 9 + q] = c ? (float)(s / c) : 0.0f;
        }
    }
    free(bd); free(bi);
}


static const char *const qlabel[NQ] = { "log M*", "log SFR", "z", "log M_BH", "12+log(O/H)",
                                        "Halpha", "Hbeta", "[NII]6584", "[OIII]5007" };
/* paper Table 1 targets (R^2) in gp_quantity order */
static const double paper_r2[NQ] = { 0.85, 0.76, 0.80, 0.67, 0.76, 0.80, 0.79, 0.70, 0.50 };

/* Every recorded figure must be a number (the weights writer refuses NaN, and a model
 * claiming one would mislead): when one is not, write into why[] which quantities have
 * none and why, and return 1.  A quantity's figures need at least 2 test galaxies with
 * its label (the O/H label only where measurable), and R^2 a spread of true values. */
static int eval_unrecordable(const qfig *F, long nt, double acc, char *why, size_t n)
{
    size_t k = 0;
    why[0] = 0;
    for (int q = 0; q < NQ; q++) {
        const qfig *f = &F[q];
        const double v[] = { f->r2, f->r2_mean, f->rmse, f->cov68, f->cov95, f->pcov68, f->pcov95, f->sig_ale, f->sig_epi };
        int finite = 1;
        for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) finite &= isfinite(v[i]) != 0;
        if (finite || k + 1 >= n) continue;
        const char *what = q == GP_Q_OH ? " with measurable metallicity" : "";
        if (f->n < 2)
            k += (size_t)snprintf(why + k, n - k, "%sno figures for %s: %ld test galax%s%s, at least 2 are needed",
                                  k ? "; " : "", qlabel[q], f->n, f->n == 1 ? "y" : "ies", what);
        else if (!isfinite(f->r2) || !isfinite(f->r2_mean))
            k += (size_t)snprintf(why + k, n - k, "%sno R^2 for %s: its %ld test galaxies%s all have the same true value",
                                  k ? "; " : "", qlabel[q], f->n, what);
        else
            k += (size_t)snprintf(why + k, n - k, "%sa figure of %s is not a number", k ? "; " : "", qlabel[q]);
        if (k >= n) k = n - 1;
    }
    if (!isfinite(acc) && k + 1 < n)
        snprintf(why + k, n - k, "%sno classifier accuracy: %ld test galaxies", k ? "; " : "", nt);
    return why[0] != 0;
}

/* ------------------------------------------------------------- figures */

static double line_identity(double x, void *arg) { (void)arg; return x; }

static int eval_figures(const char *outdir, long nt, const double *med, const double *truth, const uint8_t *mask,
                        const double *pit, const qfig *F, gp_error *err)
{
    char path[4200];
    int st = GP_OK;
    double *x = malloc(sizeof(double) * (size_t)(nt ? nt : 1)), *y = malloc(sizeof(double) * (size_t)(nt ? nt : 1));
    if (!x || !y) { free(x); free(y); return GP_FAIL(err, GP_ERR_NOMEM, "eval figures"); }
    /* predicted (posterior median) vs true */
    gp_plot *p = gp_plot_new(1500, 1500, 3, 3, err);
    if (!p) { free(x); free(y); return err ? err->status : GP_ERR_NOMEM; }
    for (int q = 0; q < NQ; q++) {
        long n = 0;
        double lo = INFINITY, hi = -INFINITY;
        for (long i = 0; i < nt; i++) {
            if (!mask[i * NQ + q]) continue;
            x[n] = truth[i * NQ + q]; y[n] = med[i * NQ + q];
            n++;
        }
        /* limits: 0.5 and 99.5 percentiles of the truth */
        double *srt = malloc(sizeof(double) * (size_t)(n ? n : 1));
        if (!srt) { st = GP_FAIL(err, GP_ERR_NOMEM, "eval figures"); break; }
        memcpy(srt, x, sizeof(double) * (size_t)n);
        qsort(srt, (size_t)n, sizeof(double), cmp_d);
        if (n > 1) { lo = srt[(size_t)(0.005 * (n - 1))]; hi = srt[(size_t)(0.995 * (n - 1))]; }
        free(srt);
        if (!(hi > lo)) { lo = 0; hi = 1; }
        double pad = 0.05 * (hi - lo);
        gp_plot_panel(p, q);
        gp_plot_limits(p, lo - pad, hi + pad, lo - pad, hi + pad);
        char title[96];
        snprintf(title, sizeof title, "%s: R2 = %.3f (n = %ld)", qlabel[q], F[q].r2, F[q].n);
        gp_plot_labels(p, title, "true", "posterior median");
        gp_plot_style ds = { 0.1, 0.3, 0.8, 1, 0, 0, 0, NULL };
        if ((st = gp_plot_density(p, x, y, (int)n, 60, 60, &ds))) break;
        gp_plot_style ls = { 0.8, 0.1, 0.1, 1, 1.5, 1, 0, NULL };
        gp_plot_curve(p, line_identity, NULL, lo - pad, hi + pad, 2, &ls);
    }
    snprintf(path, sizeof path, "%s/pred_vs_true.png", outdir);
    if (!st) st = gp_plot_write_png(p, path, err);
    gp_plot_free(p);
    /* PIT histograms */
    if (!st) {
        p = gp_plot_new(1500, 1500, 3, 3, err);
        if (!p) { free(x); free(y); return err ? err->status : GP_ERR_NOMEM; }
        for (int q = 0; q < NQ && !st; q++) {
            long n = 0;
            for (long i = 0; i < nt; i++) if (mask[i * NQ + q]) x[n++] = pit[i * NQ + q];
            gp_plot_panel(p, q);
            /* up to 2 (twice uniform), or the tallest of the 20 bars: a badly
             * calibrated quantity's bars were cut off at 2 */
            long cnt[20] = { 0 }, top = 0;
            for (long i = 0; i < n; i++) {
                int b = (int)(x[i] * 20);
                cnt[b < 0 ? 0 : b > 19 ? 19 : b]++;
            }
            for (int b = 0; b < 20; b++) if (cnt[b] > top) top = cnt[b];
            double dmax = n ? 20.0 * (double)top / (double)n : 0.0;
            gp_plot_limits(p, 0, 1, 0, dmax > 1.9 ? 1.05 * dmax : 2.0);
            char title[96];
            snprintf(title, sizeof title, "%s: PIT, KS = %.3f", qlabel[q], F[q].ks);
            gp_plot_labels(p, title, "PIT", "density");
            gp_plot_style hs = { 0.2, 0.5, 0.2, 0.8, 0, 0, 1, NULL };
            st = gp_plot_hist(p, x, (int)n, 20, 0, 1, 1, &hs);
            double ux[2] = { 0, 1 }, uy[2] = { 1, 1 };
            gp_plot_style us = { 0, 0, 0, 1, 1.5, 1, 0, NULL };
            gp_plot_line(p, ux, uy, 2, &us);
        }
        snprintf(path, sizeof path, "%s/pit.png", outdir);
        if (!st) st = gp_plot_write_png(p, path, err);
        gp_plot_free(p);
    }
    /* calibration curves: observed coverage of central intervals vs nominal */
    if (!st) {
        p = gp_plot_new(900, 800, 1, 1, err);
        if (!p) { free(x); free(y); return err ? err->status : GP_ERR_NOMEM; }
        gp_plot_panel(p, 0);
        gp_plot_limits(p, 0, 1, 0, 1);
        gp_plot_labels(p, "calibration: central credible intervals", "nominal coverage", "observed coverage");
        static const double col[NQ][3] = { {0.12,0.47,0.71}, {1.0,0.5,0.05}, {0.17,0.63,0.17}, {0.84,0.15,0.16}, {0.58,0.4,0.74},
                                           {0.55,0.34,0.29}, {0.89,0.47,0.76}, {0.5,0.5,0.5}, {0.74,0.74,0.13} };
        double nx[21], ny[21];
        for (int q = 0; q < NQ; q++) {
            long n = 0;
            for (long i = 0; i < nt; i++) if (mask[i * NQ + q]) x[n++] = pit[i * NQ + q];
            for (int k = 0; k <= 20; k++) {
                double a = k / 20.0;
                long c = 0;
                for (long i = 0; i < n; i++) c += gp_eval_pit_covered(x[i], a);
                nx[k] = a; ny[k] = n ? (double)c / n : NAN;
            }
            gp_plot_style cs = { col[q][0], col[q][1], col[q][2], 1, 2, 0, 0, qlabel[q] };
            gp_plot_line(p, nx, ny, 21, &cs);
        }
        gp_plot_style ds = { 0, 0, 0, 1, 1, 1, 0, "ideal" };
        gp_plot_curve(p, line_identity, NULL, 0, 1, 2, &ds);
        snprintf(path, sizeof path, "%s/calibration.png", outdir);
        st = gp_plot_write_png(p, path, err);
        gp_plot_free(p);
    }
    free(x); free(y);
    return st;
}

/* ------------------------------------------------------------- driver */

static void eval_note(void *ctx, const char *line)
{
    fprintf(stderr, "galpost eval: %s\n", line);
    if (ctx) fprintf((FILE *)ctx, "%s\n", line);
}

int gp_eval_run(const gp_eval_opts *o, gp_error *err)
{
    int st = GP_OK;
    gp_model *model = NULL;
    gp_dataset *d = NULL;
    int8_t *part = NULL;
    long *test = NULL, *trainr = NULL, *valr = NULL;
    float *img = NULL, *smp = NULL;
    double *med = NULL, *mean = NULL, *lo68 = NULL, *hi68 = NULL, *lo95 = NULL, *hi95 = NULL, *pit = NULL, *ale = NULL, *epi = NULL,
           *truth = NULL, *pdet = NULL, *ld2 = NULL;
    uint32_t *gflags = NULL;
    uint8_t *mask = NULL;
    float *emb_tr = NULL, *emb_va = NULL, *emb_te = NULL;
    float *Ytr = NULL, *Mtr = NULL, *Yva = NULL, *Mva = NULL, *Pb[3] = { NULL, NULL, NULL };
    FILE *logf = NULL;
    gp_result *res = NULL;
    double t0 = now_s();

    if (mkdir(o->outdir, 0777) != 0 && errno != EEXIST)
        return GP_FAIL(err, GP_ERR_IO, "%s: cannot create the output directory: %s", o->outdir, strerror(errno));
    char path[4200];
    snprintf(path, sizeof path, "%s/eval.log", o->outdir);
    logf = fopen(path, "w");
    gp_model_options mo = gp_model_options_default();
    mo.backend = GP_BACKEND_CPU;
    mo.threads = o->threads;
    TRY(gp_model_open(o->model, &mo, &model, err));
    const gp_weights *w = gp_model_weights(model);
    if (o->baselines) TRY(gp_backend_check_training(model->be, err));
    if (!gp_model_is_trained(model)) { st = GP_FAIL(err, GP_ERR_ARG, "%s: model.trained = 0: nothing to evaluate", o->model); goto done; }
    int64_t seed, nvae, maxrows = 0, ntest_meta = -1;
    TRY(gp_weights_meta_i64(w, "train.split.seed", &seed, err));
    TRY(gp_weights_meta_i64(w, "train.split.vae", &nvae, err));
    if (gp_weights_meta_i64(w, "train.max_rows", &maxrows, NULL)) maxrows = 0;
    if (gp_weights_meta_i64(w, "train.split.test", &ntest_meta, NULL)) ntest_meta = -1;
    int image = gp_model_uses_image(model), K = gp_model_ensemble_size(model);
    TRY(gp_dataset_open(o->data, o->ndata, image, &d, err));
    gp_dataset_report(d, stderr);
    if (logf) gp_dataset_report(d, logf);
    part = malloc((size_t)(d->n ? d->n : 1));
    test = malloc(sizeof(long) * (size_t)(d->n ? d->n : 1));
    trainr = malloc(sizeof(long) * (size_t)(d->n ? d->n : 1));
    valr = malloc(sizeof(long) * (size_t)(d->n ? d->n : 1));
    if (!part || !test || !trainr || !valr) { st = GP_FAIL(err, GP_ERR_NOMEM, "eval: partition"); goto done; }
    TRY(gp_train_partition(d, (uint64_t)seed, nvae, maxrows, part, err));
    if (image) {   /* as galpost train: rows whose cutouts have non-finite pixels are left out, the others keep their splits */
        long nimg = 0;
        unsigned parts = (1u << GP_PART_TEST) | (o->baselines ? (1u << GP_PART_TRAIN) | (1u << GP_PART_VAL) : 0u);
        TRY(gp_train_screen_images(d, part, parts, o->progress, o->interrupted, eval_note, logf, &nimg, err));
    }
    long nt = 0, ntr = 0, nva = 0;
    for (long i = 0; i < d->n; i++) {
        if (part[i] == GP_PART_TEST) test[nt++] = i;
        else if (part[i] == GP_PART_TRAIN) trainr[ntr++] = i;
        else if (part[i] == GP_PART_VAL) valr[nva++] = i;
    }
    const long nt_split = nt;   /* before --max-test */
    const int split_differs = ntest_meta >= 0 && ntest_meta != nt;
    if (split_differs)
        fprintf(stderr, "galpost eval: warning: %ld test rows here, the model was trained with %lld: is this the same data?%s\n",
                nt, (long long)ntest_meta,
                model->net.z_softplus > 0 ? "" : " (this model predates the redshift transform: rows with z <= 0, unusable"
                " since then, were in its split, so the same data splits differently now)");
    long ntr_all = ntr, nva_all = nva;
    if (o->max_test > 0 && nt > o->max_test) nt = o->max_test;
    fprintf(stderr, "galpost eval: %s (%s, K = %d) on %ld test galaxies, %d samples each\n", o->model,
            image ? "image" : "photometry-only", K, nt, o->nsamples);

    /* ---- posterior samples of the test galaxies ---- */
    const int CH = 32, N = o->nsamples;
    img = image ? malloc(sizeof(float) * (size_t)CH * GP_CUTOUT_PIXELS) : NULL;
    smp = malloc(sizeof(float) * (size_t)N);
    med = malloc(sizeof(double) * (size_t)nt * NQ); mean = malloc(sizeof(double) * (size_t)nt * NQ);
    lo68 = malloc(sizeof(double) * (size_t)nt * NQ);
    hi68 = malloc(sizeof(double) * (size_t)nt * NQ); lo95 = malloc(sizeof(double) * (size_t)nt * NQ);
    hi95 = malloc(sizeof(double) * (size_t)nt * NQ); pit = malloc(sizeof(double) * (size_t)nt * NQ);
    ale = malloc(sizeof(double) * (size_t)nt * NQ); epi = malloc(sizeof(double) * (size_t)nt * NQ);
    truth = malloc(sizeof(double) * (size_t)nt * NQ); pdet = malloc(sizeof(double) * (size_t)nt);
    ld2 = malloc(sizeof(double) * (size_t)nt); gflags = malloc(sizeof(uint32_t) * (size_t)nt);
    mask = malloc((size_t)nt * NQ);
    res = calloc((size_t)CH, sizeof(gp_result));
    if ((image && !img) || !smp || !med || !mean || !lo68 || !hi68 || !lo95 || !hi95 || !pit || !ale || !epi || !truth || !pdet ||
        !ld2 || !gflags || !mask || !res) {
        st = GP_FAIL(err, GP_ERR_NOMEM, "eval: cannot allocate per-galaxy figures");
        goto done;
    }
    gp_infer_options io = gp_infer_options_default();
    io.nsamples = N;
    io.seed = o->seed;
    io.keep_samples = 1;
    long n_unlike = 0, n_clipped = 0, n_phot_unlike = 0;   /* test galaxies flagged by gp_infer's input checks */
    long n_no_source = 0;                                   /* ... and by its source check (image models) */
    long n_edge = 0, n_edge_unknown = 0;                    /* cutouts crossing a frame edge (the shards' cutout_flags) */
    const gp_ood *lood = &model->net.latent_ood, *pood = &model->net.phot_ood;
    for (long c0 = 0; c0 < nt; c0 += CH) {
        if (o->interrupted && *o->interrupted) { st = GP_FAIL(err, GP_ERR_INTERRUPTED, "eval interrupted"); goto done; }
        int nb = (int)(nt - c0 < CH ? nt - c0 : CH);
        gp_galaxy gal[32];
        if (image) TRY(gp_dataset_read_images(d, test + c0, nb, img, err));
        for (int g = 0; g < nb; g++) {
            long r = test[c0 + g];
            gal[g].id = d->id[r];
            gal[g].cutout = image ? img + (size_t)g * GP_CUTOUT_PIXELS : NULL;
            memcpy(gal[g].mag, d->mag + r * 5, sizeof(float) * 5);
            /* the cutout's own flags, as galpost shards recorded them, pass
             * through to the result (galaxies.csv's flags), as for a cutout
             * cut by galpost infer */
            int32_t cf = d->cutout_flags[r];
            gal[g].flags = image && cf > 0 ? (uint32_t)cf & (GP_FLAG_EDGE | GP_FLAG_MASKED | GP_FLAG_RESAMPLED) : 0;
            if (image) {
                n_edge += cf > 0 && (cf & GP_FLAG_EDGE);
                n_edge_unknown += cf < 0;
            }
        }
        TRY(gp_infer(model, gal, (size_t)nb, &io, res, err));
        for (int g = 0; g < nb; g++) {
            long i = c0 + g, r = test[i];
            pdet[i] = res[g].summary.p_detect;
            ld2[i] = res[g].latent_d2;
            gflags[i] = res[g].flags;
            n_unlike += (res[g].flags & GP_FLAG_IMAGE_UNLIKE) != 0;
            n_clipped += (res[g].flags & GP_FLAG_PHOT_CLIPPED) != 0;
            n_phot_unlike += (res[g].flags & GP_FLAG_PHOT_UNLIKE) != 0;
            n_no_source += (res[g].flags & GP_FLAG_NO_SOURCE) != 0;
            for (int q = 0; q < NQ; q++) {
                double tv = gp_target_truth(q, d->target[r * 9 + q]);   /* the reported quantity */
                truth[i * NQ + q] = tv;
                mask[i * NQ + q] = (uint8_t)(q == GP_Q_OH ? d->oh_ok[r] : 1);
                /* per member (sample s belongs to member s mod K): robust location and spread,
                 * the median and half the 16-84 range, so that rare far-out flow samples do not
                 * dominate the decomposition */
                long below = 0;
                double ga = 0, gm = 0, gm2 = 0;
                for (int k = 0; k < K; k++) {
                    int c = 0;
                    for (int s = k; s < N; s += K) smp[c++] = res[g].samples[(size_t)s * NQ + q];
                    qsort(smp, (size_t)c, sizeof(float), cmp_f);
                    double mk = quantile(smp, c, 0.5), hw = 0.5 * (quantile(smp, c, 0.84) - quantile(smp, c, 0.16));
                    ga += hw * hw; gm += mk; gm2 += mk * mk;
                }
                long ties = 0;
                for (int s = 0; s < N; s++) {
                    float v = res[g].samples[(size_t)s * NQ + q];
                    smp[s] = v;
                    if (v < tv) below++;
                    else if (v == tv) ties++;
                }
                ale[i * NQ + q] = ga / K;
                double em = gm / K;
                epi[i * NQ + q] = K > 1 ? (gm2 / K - em * em > 0 ? gm2 / K - em * em : 0) : 0;
                qsort(smp, (size_t)N, sizeof(float), cmp_f);
                med[i * NQ + q] = quantile(smp, N, 0.5);
                mean[i * NQ + q] = res[g].summary.mean[q];
                /* the credible intervals galpost reports: the summary's 68% one
                 * (lo68, hi68), and the 95% one by the same rule (central, or
                 * for a line whose samples at F = 0 reach past the lower tail,
                 * from 0: gp_interval_probs) */
                lo68[i * NQ + q] = res[g].summary.lo68[q];
                hi68[i * NQ + q] = res[g].summary.hi68[q];
                double pl, ph;
                gp_interval_probs(res[g].summary.p_zero[q], 0.95, &pl, &ph);
                lo95[i * NQ + q] = pl > 0 ? quantile(smp, N, pl) : 0.0f;
                hi95[i * NQ + q] = quantile(smp, N, ph);
                pit[i * NQ + q] = gp_eval_pit(below, ties, N, pit_uniform(d->id[r], q));
            }
        }
        gp_result_free(res, (size_t)nb);
        if (o->progress) {
            double el = now_s() - t0;
            fprintf(stderr, "\r\033[K[eval] %ld/%ld test galaxies  %.1f galaxies/s", c0 + nb, nt, (c0 + nb) / el);
            fflush(stderr);
        }
    }
    if (o->progress) fprintf(stderr, "\r\033[K");

    qfig F[NQ];
    memset(F, 0, sizeof F);
    {
        double *pv = malloc(sizeof(double) * (size_t)nt), *tv = malloc(sizeof(double) * (size_t)nt);
        uint8_t *mk = malloc((size_t)nt);
        if (!pv || !tv || !mk) { free(pv); free(tv); free(mk); st = GP_FAIL(err, GP_ERR_NOMEM, "eval figures"); goto done; }
        for (int q = 0; q < NQ; q++) {
            double c68 = 0, c95 = 0, p68 = 0, p95 = 0, sa = 0, se = 0;
            long cnt = 0;
            double *pits = malloc(sizeof(double) * (size_t)nt);
            for (long i = 0; i < nt; i++) {
                pv[i] = med[i * NQ + q]; tv[i] = truth[i * NQ + q]; mk[i] = mask[i * NQ + q];
                if (!mk[i]) continue;
                double t = tv[i];
                c68 += t >= lo68[i * NQ + q] && t <= hi68[i * NQ + q];
                c95 += t >= lo95[i * NQ + q] && t <= hi95[i * NQ + q];
                p68 += gp_eval_pit_covered(pit[i * NQ + q], 0.68);
                p95 += gp_eval_pit_covered(pit[i * NQ + q], 0.95);
                sa += ale[i * NQ + q]; se += epi[i * NQ + q];
                int b = (int)(pit[i * NQ + q] * 10);
                F[q].pit_hist[b < 0 ? 0 : b > 9 ? 9 : b]++;
                pits[cnt++] = pit[i * NQ + q];
            }
            qfig fm;
            for (long i = 0; i < nt; i++) pv[i] = mean[i * NQ + q];
            point_figures(pv, tv, mk, nt, &fm);
            for (long i = 0; i < nt; i++) pv[i] = med[i * NQ + q];
            point_figures(pv, tv, mk, nt, &F[q]);
            F[q].r2_mean = fm.r2;
            F[q].rmse_mean = fm.rmse;
            F[q].cov68 = cnt ? c68 / cnt : NAN;
            F[q].cov95 = cnt ? c95 / cnt : NAN;
            F[q].pcov68 = cnt ? p68 / cnt : NAN;
            F[q].pcov95 = cnt ? p95 / cnt : NAN;
            F[q].sig_ale = cnt ? sqrt(sa / cnt) : NAN;
            F[q].sig_epi = cnt ? sqrt(se / cnt) : NAN;
            qsort(pits, (size_t)cnt, sizeof(double), cmp_d);
            double ks = 0;
            for (long i = 0; i < cnt; i++) {
                double a = fabs((i + 1.0) / cnt - pits[i]), b = fabs((double)i / cnt - pits[i]);
                if (a > ks) ks = a;
                if (b > ks) ks = b;
            }
            F[q].ks = ks;
            free(pits);
        }
        free(pv); free(tv); free(mk);
    }
    long tp = 0, fp = 0, fn = 0, tn = 0;
    for (long i = 0; i < nt; i++) {
        int pred = pdet[i] > 0.5, tru = mask[i * NQ + GP_Q_OH];
        if (pred && tru) tp++; else if (pred && !tru) fp++; else if (!pred && tru) fn++; else tn++;
    }
    double acc = nt ? (double)(tp + tn) / nt : NAN;

    /* ---- baselines ---- */
    const char *bname[3] = { "photometry + MLP", "image embedding + MLP", "image embedding + kNN (k=10)" };
    qfig BF[3][NQ];
    int have_b[3] = { 0, 0, 0 };
    memset(BF, 0, sizeof BF);
    if (o->baselines) {
        const gp_net *net = &model->net;
        long ntrb = ntr_all;
        if (o->max_baseline_train > 0 && ntrb > o->max_baseline_train) ntrb = o->max_baseline_train;
        int L = image ? net->latent : 0;
        int din = 2 * L + GP_NPHOT;
        emb_tr = malloc(sizeof(float) * (size_t)(ntrb ? ntrb : 1) * din);
        emb_va = malloc(sizeof(float) * (size_t)(nva_all ? nva_all : 1) * din);
        emb_te = malloc(sizeof(float) * (size_t)(nt ? nt : 1) * din);
        Ytr = malloc(sizeof(float) * (size_t)(ntrb ? ntrb : 1) * 9); Mtr = malloc(sizeof(float) * (size_t)(ntrb ? ntrb : 1));
        Yva = malloc(sizeof(float) * (size_t)(nva_all ? nva_all : 1) * 9); Mva = malloc(sizeof(float) * (size_t)(nva_all ? nva_all : 1));
        for (int b = 0; b < 3; b++) Pb[b] = malloc(sizeof(float) * (size_t)(nt ? nt : 1) * 9);
        if (!emb_tr || !emb_va || !emb_te || !Ytr || !Mtr || !Yva || !Mva || !Pb[0] || !Pb[1] || !Pb[2]) {
            st = GP_FAIL(err, GP_ERR_NOMEM, "baseline inputs"); goto done;
        }
        /* latents: the trainer's cache ([train, val, test] in partition order) or the model's encoder */
        float *cache = NULL;
        long ntest_all = 0;
        for (long i = 0; i < d->n; i++) ntest_all += part[i] == GP_PART_TEST;
        if (image && o->latents) {
            long nall = ntr_all + nva_all + ntest_all;
            uint64_t key;
            char why[160];
            /* (the cache only spares work: without memory for it, or without
             * a fingerprint, encode) */
            cache = malloc(sizeof(float) * (size_t)(nall ? nall : 1) * 2 * L);
            gp_error kerr;
            gp_error_clear(&kerr);
            if (!cache) snprintf(why, sizeof why, "no memory for %ld rows", nall);
            else if (eval_latent_key(w, net, d, trainr, ntr_all, valr, nva_all, test, ntest_all, L, &key, &kerr))
                snprintf(why, sizeof why, "%.150s", kerr.msg);
            if (!cache || kerr.status != GP_OK || !gp_latent_cache_read(o->latents, nall, L, key, cache, why, sizeof why)) {
                fprintf(stderr, "galpost eval: latent cache %s not used (%s); encoding instead\n", o->latents, why);
                if (logf) fprintf(logf, "latent cache %s not used (%s); encoding instead\n", o->latents, why);
                free(cache);
                cache = NULL;
            } else if (logf)
                fprintf(logf, "latents of the baselines' %ld galaxies read from %s\n", nall, o->latents);
        }
        struct { const long *rows; long n; float *X; float *Y; float *M; long cache_off; } sets[3] = {
            { trainr, ntrb, emb_tr, Ytr, Mtr, 0 }, { valr, nva_all, emb_va, Yva, Mva, ntr_all }, { test, nt, emb_te, NULL, NULL, ntr_all + nva_all } };
        const double *tmean = net->target_mean, *tstd = net->target_std;
        float *bimg = image ? malloc(sizeof(float) * (size_t)CH * GP_CUTOUT_PIXELS) : NULL;
        float *scr = image ? malloc(sizeof(float) * gp_net_encoder_scratch(net, CH)) : NULL;
        float *mu = image ? malloc(sizeof(float) * (size_t)CH * L) : NULL, *lv = image ? malloc(sizeof(float) * (size_t)CH * L) : NULL;
        double te = now_s();
        for (int sI = 0; sI < 3 && !st; sI++) {
            for (long c0 = 0; c0 < sets[sI].n && !st; c0 += CH) {
                int nb = (int)(sets[sI].n - c0 < CH ? sets[sI].n - c0 : CH);
                if (image && !cache) {
                    st = gp_dataset_read_images(d, sets[sI].rows + c0, nb, bimg, err);
                    if (!st) st = model->be->ops->stretch(model->be, bimg, nb, 3, GP_CUTOUT_SIZE * GP_CUTOUT_SIZE, net->soft, net->offset, net->scale, err);
                    if (!st) st = gp_net_encode(model->be, net, bimg, nb, scr, mu, lv, err);
                    if (!st) st = model->be->ops->exp_half(model->be, lv, (size_t)nb * L, lv, err);
                    if (o->progress) {
                        fprintf(stderr, "\r\033[K[baselines: encoding] set %d: %ld/%ld  %.1f galaxies/s", sI, c0 + nb, sets[sI].n,
                                (c0 + nb) / (now_s() - te));
                        fflush(stderr);
                    }
                }
                for (int g = 0; g < nb && !st; g++) {
                    long i = c0 + g, r = sets[sI].rows[i];
                    float *x = sets[sI].X + (size_t)i * din;
                    if (image) {
                        if (cache) memcpy(x, cache + (size_t)(sets[sI].cache_off + i) * 2 * L, sizeof(float) * 2 * L);
                        else { memcpy(x, mu + (size_t)g * L, sizeof(float) * L); memcpy(x + L, lv + (size_t)g * L, sizeof(float) * L); }
                    }
                    gp_net_photometry(net, d->mag + r * 5, x + 2 * L);
                    if (sets[sI].Y) {
                        for (int q = 0; q < 9; q++) {
                            double v = d->target[r * 9 + q];
                            sets[sI].Y[(size_t)i * 9 + q] = isfinite(v) ? (float)((v - tmean[q]) / tstd[q]) : 0.0f;
                        }
                        sets[sI].M[i] = d->oh_ok[r] ? 1.0f : 0.0f;
                    }
                }
            }
        }
        if (o->progress) fprintf(stderr, "\r\033[K");
        free(cache); free(bimg); free(scr); free(mu); free(lv);
        if (st) goto done;
        /* photometry + MLP: the last GP_NPHOT columns */
        {
            float *a = malloc(sizeof(float) * (size_t)(ntrb ? ntrb : 1) * GP_NPHOT), *b = malloc(sizeof(float) * (size_t)(nva_all ? nva_all : 1) * GP_NPHOT),
                  *c = malloc(sizeof(float) * (size_t)(nt ? nt : 1) * GP_NPHOT);
            if (!a || !b || !c) { free(a); free(b); free(c); st = GP_FAIL(err, GP_ERR_NOMEM, "baseline"); goto done; }
            for (long i = 0; i < ntrb; i++) memcpy(a + i * GP_NPHOT, emb_tr + i * din + 2 * L, sizeof(float) * GP_NPHOT);
            for (long i = 0; i < nva_all; i++) memcpy(b + i * GP_NPHOT, emb_va + i * din + 2 * L, sizeof(float) * GP_NPHOT);
            for (long i = 0; i < nt; i++) memcpy(c + i * GP_NPHOT, emb_te + i * din + 2 * L, sizeof(float) * GP_NPHOT);
            fprintf(stderr, "galpost eval: baseline %s (%ld train rows)\n", bname[0], ntrb);
            st = baseline_mlp(model->be, o->outdir, "phot", a, Ytr, Mtr, ntrb, b, Yva, Mva, nva_all, GP_NPHOT, c, nt, Pb[0],
                              (uint64_t)seed + 11, logf, err);
            free(a); free(b); free(c);
            if (st) goto done;
            have_b[0] = 1;
        }
        if (image) {
            fprintf(stderr, "galpost eval: baseline %s\n", bname[1]);
            TRY(baseline_mlp(model->be, o->outdir, "emb", emb_tr, Ytr, Mtr, ntrb, emb_va, Yva, Mva, nva_all, din, emb_te, nt,
                             Pb[1], (uint64_t)seed + 13, logf, err));
            have_b[1] = 1;
            /* kNN on [mu, photometry], each column standardized on the train rows */
            int kin = L + GP_NPHOT;
            float *a = malloc(sizeof(float) * (size_t)(ntrb ? ntrb : 1) * kin), *c = malloc(sizeof(float) * (size_t)(nt ? nt : 1) * kin);
            double *mu_ = calloc((size_t)kin, sizeof(double)), *sd_ = calloc((size_t)kin, sizeof(double));
            if (!a || !c || !mu_ || !sd_) { free(a); free(c); free(mu_); free(sd_); st = GP_FAIL(err, GP_ERR_NOMEM, "kNN"); goto done; }
            for (long i = 0; i < ntrb; i++)
                for (int q = 0; q < kin; q++) {
                    double v = emb_tr[i * din + (q < L ? q : 2 * L + q - L)];
                    mu_[q] += v; sd_[q] += v * v;
                }
            for (int q = 0; q < kin; q++) {
                mu_[q] /= ntrb;
                sd_[q] = sqrt(fmax(sd_[q] / ntrb - mu_[q] * mu_[q], 1e-12));
            }
            for (long i = 0; i < ntrb; i++)
                for (int q = 0; q < kin; q++)
                    a[i * kin + q] = (float)((emb_tr[i * din + (q < L ? q : 2 * L + q - L)] - mu_[q]) / sd_[q]);
            for (long i = 0; i < nt; i++)
                for (int q = 0; q < kin; q++)
                    c[i * kin + q] = (float)((emb_te[i * din + (q < L ? q : 2 * L + q - L)] - mu_[q]) / sd_[q]);
            fprintf(stderr, "galpost eval: baseline %s\n", bname[2]);
            baseline_knn(a, Ytr, Mtr, ntrb, kin, c, nt, 10, Pb[2]);
            free(a); free(c); free(mu_); free(sd_);
            have_b[2] = 1;
        }
        double *pv = malloc(sizeof(double) * (size_t)(nt ? nt : 1)), *tv = malloc(sizeof(double) * (size_t)(nt ? nt : 1));
        uint8_t *mk = malloc((size_t)(nt ? nt : 1));
        if (!pv || !tv || !mk) { free(pv); free(tv); free(mk); st = GP_FAIL(err, GP_ERR_NOMEM, "baseline figures"); goto done; }
        for (int b = 0; b < 3; b++) {
            if (!have_b[b]) continue;
            for (int q = 0; q < NQ; q++) {
                for (long i = 0; i < nt; i++) {
                    pv[i] = (float)gp_target_truth(q, Pb[b][i * 9 + q] * tstd[q] + tmean[q]);   /* as galpost's samples */
                    tv[i] = truth[i * NQ + q];
                    mk[i] = mask[i * NQ + q];
                }
                point_figures(pv, tv, mk, nt, &BF[b][q]);
            }
        }
        free(pv); free(tv); free(mk);
    }

    /* ---- outputs ---- */
    {
        snprintf(path, sizeof path, "%s/galaxies.csv", o->outdir);
        FILE *f = fopen(path, "w");
        if (!f) { st = GP_FAIL(err, GP_ERR_IO, "%s: cannot write: %s", path, strerror(errno)); goto done; }
        fprintf(f, "objid,p_detect,oh_measurable");
        for (int q = 0; q < NQ; q++) {
            const char *nm = gp_quantity_name(q);
            /* lo68, hi68: the 68% credible interval galpost reports (p16 and p84,
             * or from 0 for a line likely undetected: gp_interval_probs) */
            fprintf(f, ",%s_true,%s_median,%s_mean,%s_lo68,%s_hi68,%s_pit", nm, nm, nm, nm, nm, nm);
        }
        fprintf(f, ",flags,latent_d2\n");
        for (long i = 0; i < nt; i++) {
            fprintf(f, "%llu,%.9g,%d", (unsigned long long)d->id[test[i]], pdet[i], mask[i * NQ + GP_Q_OH]);
            for (int q = 0; q < NQ; q++) {
                if (mask[i * NQ + q]) fprintf(f, ",%.9g", truth[i * NQ + q]);
                else fprintf(f, ",");
                fprintf(f, ",%.9g,%.9g,%.9g,%.9g,%.9g", med[i * NQ + q], mean[i * NQ + q], lo68[i * NQ + q], hi68[i * NQ + q],
                        pit[i * NQ + q]);
            }
            if (isfinite(ld2[i])) fprintf(f, ",%u,%.9g\n", (unsigned)gflags[i], ld2[i]);
            else fprintf(f, ",%u,\n", (unsigned)gflags[i]);   /* no check */
        }
        if (fclose(f)) { st = GP_FAIL(err, GP_ERR_IO, "%s: write failed", path); goto done; }

        snprintf(path, sizeof path, "%s/metrics.csv", o->outdir);
        f = fopen(path, "w");
        if (!f) { st = GP_FAIL(err, GP_ERR_IO, "%s: cannot write: %s", path, strerror(errno)); goto done; }
        fprintf(f, "method,quantity,n,r2,rmse,bias,nmad,outlier_frac,cov68,cov95,pit_ks,sigma_ale,sigma_epi,paper_r2,"
                   "cov68_pit,cov95_pit,r2_mean,rmse_mean\n");
        for (int q = 0; q < NQ; q++)
            fprintf(f, "galpost,%s,%ld,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.2f,%.6f,%.6f,%.6f,%.6f\n",
                    gp_quantity_name(q), F[q].n, F[q].r2, F[q].rmse, F[q].bias, F[q].nmad, F[q].outlier, F[q].cov68,
                    F[q].cov95, F[q].ks, F[q].sig_ale, F[q].sig_epi, paper_r2[q], F[q].pcov68, F[q].pcov95,
                    F[q].r2_mean, F[q].rmse_mean);
        for (int b = 0; b < 3; b++)
            if (have_b[b])
                for (int q = 0; q < NQ; q++)
                    fprintf(f, "\"%s\",%s,%ld,%.6f,%.6f,%.6f,%.6f,%.6f,,,,,,%.2f,,,,\n", bname[b], gp_quantity_name(q), BF[b][q].n,
                            BF[b][q].r2, BF[b][q].rmse, BF[b][q].bias, BF[b][q].nmad, BF[b][q].outlier, paper_r2[q]);
        fprintf(f, "galpost,classifier_accuracy,%ld,%.6f,,,,,,,,,,0.84,,,,\n", nt, acc);
        if (fclose(f)) { st = GP_FAIL(err, GP_ERR_IO, "%s: write failed", path); goto done; }

        snprintf(path, sizeof path, "%s/report.md", o->outdir);
        f = fopen(path, "w");
        if (!f) { st = GP_FAIL(err, GP_ERR_IO, "%s: cannot write: %s", path, strerror(errno)); goto done; }
        FILE *outs[2] = { f, stdout };
        for (int u = 0; u < 2; u++) {
            FILE *g = outs[u];
            fprintf(g, "# galpost eval: %s\n\n", o->model);
            if (split_differs)
                fprintf(g, "**Not the model's data:** this test split has %ld galaxies, the model's had %lld, so some of "
                        "these galaxies may have been in its training split and these figures describe another "
                        "population (not recorded in the model).\n\n", nt_split, (long long)ntest_meta);
            fprintf(g, "Test split: %ld galaxies (%ld with measurable metallicity)%s; %d posterior samples per galaxy; ensemble K = %d.\n\n",
                    nt, F[GP_Q_OH].n, split_differs ? "" : " never seen in training", N, K);
            fprintf(g, "## Table 1: R^2 of the posterior median (paper Table 1 layout)\n\n");
            fprintf(g, "| method | z | log M* | log SFR | log M_BH | 12+log(O/H) | Halpha | Hbeta | [NII] | [OIII] |\n");
            fprintf(g, "|---|---|---|---|---|---|---|---|---|---|\n");
            static const int order[NQ] = { GP_Q_Z, GP_Q_LOGMSTAR, GP_Q_LOGSFR, GP_Q_LOGMBH, GP_Q_OH, GP_Q_HALPHA, GP_Q_HBETA, GP_Q_NII6584, GP_Q_OIII5007 };
            fprintf(g, "| paper target |");
            for (int j = 0; j < NQ; j++) fprintf(g, " %.2f |", paper_r2[order[j]]);
            fprintf(g, "\n| galpost (%s, K=%d) |", image ? "image + photometry" : "photometry only", K);
            for (int j = 0; j < NQ; j++) fprintf(g, " %.3f |", F[order[j]].r2);
            fprintf(g, "\n| galpost, posterior mean |");
            for (int j = 0; j < NQ; j++) fprintf(g, " %.3f |", F[order[j]].r2_mean);
            fprintf(g, "\n");
            for (int b = 0; b < 3; b++) {
                if (!have_b[b]) continue;
                fprintf(g, "| %s |", bname[b]);
                for (int j = 0; j < NQ; j++) fprintf(g, " %.3f |", BF[b][order[j]].r2);
                fprintf(g, "\n");
            }
            if (u == 0) fprintf(g, "\n![predicted vs true](pred_vs_true.png)\n\n![calibration curves](calibration.png)\n\n![PIT histograms](pit.png)\n");
            fprintf(g, "\n## Point errors and calibration (galpost)\n\n");
            fprintf(g, "| quantity | n | R^2 | RMSE | bias | NMAD | outliers (>3 NMAD) | 68%% coverage | 95%% coverage | 68%% (PIT) | 95%% (PIT) | PIT KS distance |\n");
            fprintf(g, "|---|---|---|---|---|---|---|---|---|---|---|---|\n");
            for (int q = 0; q < NQ; q++)
                fprintf(g, "| %s | %ld | %.3f | %.4f | %+.4f | %.4f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |\n", qlabel[q], F[q].n,
                        F[q].r2, F[q].rmse, F[q].bias, F[q].nmad, F[q].outlier, F[q].cov68, F[q].cov95, F[q].pcov68,
                        F[q].pcov95, F[q].ks);
            for (int q = 0; q < NQ; q++)   /* R^2 of a few dozen galaxies moves by ~0.1 between samples */
                if (F[q].n < 50)
                    fprintf(g, "\n**Few galaxies:** %s has %ld test galaxies; its figures are uncertain "
                            "(the standard error of R^2 is of order 1/sqrt(n)).\n", qlabel[q], F[q].n);
            fprintf(g, "\n## Table 2: aleatoric and epistemic spread\n\n| quantity | sigma_ale | sigma_epi |\n|---|---|---|\n");
            for (int q = 0; q < NQ; q++) fprintf(g, "| %s | %.4f | %.4f |\n", qlabel[q], F[q].sig_ale, F[q].sig_epi);
            {
                /* beside the accuracy, what always answering the commoner class scores and the
                 * balanced accuracy: on a sample where few are measurable, a high accuracy
                 * can mean nothing (a classifier answering "not" throughout scored 0.95) */
                long pos = tp + fn, neg = fp + tn;
                double major = nt ? (double)(pos > neg ? pos : neg) / nt : NAN;
                double bal = pos && neg ? 0.5 * ((double)tp / pos + (double)tn / neg) : NAN;
                fprintf(g, "\n## Detectability classifier\n\naccuracy %.3f (paper: 0.84) on %ld test galaxies; "
                        "always answering \"%s\" would score %.3f; balanced accuracy %.3f\n\n", acc, nt,
                        pos > neg ? "measurable" : "not measurable", major, bal);
            }
            fprintf(g, "| | predicted measurable | predicted not |\n|---|---|---|\n| measurable | %ld | %ld |\n| not measurable | %ld | %ld |\n",
                    tp, fn, fp, tn);
            fprintf(g, "\n## Inputs unlike the training set's\n\n");
            if (lood->dim > 0)
                fprintf(g, "image unlike the training images (latent distance^2 above %.1f, the training split's 99.9%% quantile): "
                        "%ld of %ld test galaxies (%.2f%%)  \n", lood->d2_limit, n_unlike, nt, 100.0 * n_unlike / (nt ? nt : 1));
            else
                fprintf(g, "image check: none (%s)  \n", image ? "the model was written without one" : "photometry-only model");
            if (pood->dim > 0)
                fprintf(g, "colours and magnitudes unlike the training set's (distance^2 above %.1f, the training split's "
                        "99.9%% quantile): %ld of %ld test galaxies (%.2f%%)  \n", pood->d2_limit, n_phot_unlike, nt,
                        100.0 * n_phot_unlike / (nt ? nt : 1));
            else
                fprintf(g, "photometry check: none (the model was written without one)  \n");
            if (image)
                fprintf(g, "no source at the centre of the cutout (S/N below %.0f or peak beyond %.2f\"): %ld of %ld test "
                        "galaxies (%.2f%%)  \n", GP_SOURCE_SNR_LIMIT, GP_SOURCE_PEAK_LIMIT, n_no_source, nt,
                        100.0 * n_no_source / (nt ? nt : 1));
            fprintf(g, "photometry held at 5 sigma of the training split: %ld of %ld test galaxies (%.2f%%)%s\n", n_clipped, nt,
                    100.0 * n_clipped / (nt ? nt : 1), image ? "  " : "");
            if (image && n_edge_unknown == nt)
                fprintf(g, "cutouts crossing a frame edge: unknown (the shards have no cutout_flags column; "
                        "galpost shards writes it)\n");
            else if (image) {
                fprintf(g, "cutouts crossing a frame edge (the shards' cutout_flags; evaluated as they are): "
                        "%ld of %ld test galaxies (%.2f%%)", n_edge, nt, 100.0 * n_edge / (nt ? nt : 1));
                if (n_edge_unknown) fprintf(g, "; unknown for %ld (shards without the column)", n_edge_unknown);
                fprintf(g, "\n");
            }
            fprintf(g, "\n## PIT histograms (10 bins, counts)\n\n");
            for (int q = 0; q < NQ; q++) {
                fprintf(g, "- %s:", qlabel[q]);
                for (int b = 0; b < 10; b++) fprintf(g, " %ld", F[q].pit_hist[b]);
                fprintf(g, "\n");
            }
            fprintf(g, "\nDefinitions: R^2 = 1 - SSE/SST of the posterior median (the posterior mean's, the estimator that minimizes squared error and the one the MLP baselines approximate, in its own row); outliers: |median - true| > 3 NMAD; coverage: fraction of true values inside the 68%%/95%% credible intervals galpost reports (the central sample intervals; for a line flux whose samples at F = 0, the posterior's point mass, are at least 16%% / 2.5%% of them, the interval from 0 to the 68th / 95th percentile, an upper limit, since the central one, from 0 to the 84th / 97.5th percentile, holds more than its nominal probability); PIT: rank of the truth among the samples (ties randomized), KS distance of its distribution from uniform; coverage (PIT): fraction with |PIT - 0.5| <= 0.34 / 0.475, the same as the interval coverage for a continuous posterior, a check of it for the line fluxes (where a true 0 ties with the samples at 0, its rank is drawn among them); sigma_ale: root mean square of the within-member spread (half the 16-84%% range of each member's samples), sigma_epi: root mean variance of the K member medians (samples s belong to member s mod K); robust estimators, because rare far-out flow samples would dominate variances. O/H figures use measurable galaxies only. Baselines are trained on the same train split (MLP 2x128 LeakyReLU, Adam 1e-3, early stopping on the validation split; kNN on standardized [latent mean, photometry]).\n");
        }
        if (fclose(f)) { st = GP_FAIL(err, GP_ERR_IO, "%s: write failed", path); goto done; }
    }
    TRY(eval_figures(o->outdir, nt, med, truth, mask, pit, F, err));
    if (o->record && split_differs) {
        st = GP_FAIL(err, GP_ERR_DATA, "%s: figures not recorded: this test split has %ld galaxies, the model's had %lld "
                     "(not the data it was trained on; the report says so)", o->model, nt_split, (long long)ntest_meta);
        goto done;
    }
    if (o->record) {
        char why[1024];
        if (eval_unrecordable(F, nt, acc, why, sizeof why)) {
            st = GP_FAIL(err, GP_ERR_DATA, "%s: figures not recorded: %s; the report shows them as nan", o->model, why);
            goto done;
        }
    }
    if (o->record) {
        gp_weights_writer *wr = NULL;
        TRY(gp_weights_writer_new(&wr, err));
        st = gp_weights_copy_meta(w, wr, err);
        double r2[NQ], r2m[NQ], c68[NQ], c95[NQ], p68[NQ], p95[NQ], sa[NQ], se[NQ], rm[NQ];
        for (int q = 0; q < NQ; q++) {
            r2[q] = F[q].r2; r2m[q] = F[q].r2_mean; c68[q] = F[q].cov68; c95[q] = F[q].cov95; sa[q] = F[q].sig_ale; se[q] = F[q].sig_epi;
            rm[q] = F[q].rmse; p68[q] = F[q].pcov68; p95[q] = F[q].pcov95;
        }
        if (!st) st = gp_weights_writer_set_f64_array(wr, "eval.r2", r2, NQ, err);
        if (!st) st = gp_weights_writer_set_f64_array(wr, "eval.r2_mean", r2m, NQ, err);
        if (!st) st = gp_weights_writer_set_f64_array(wr, "eval.rmse", rm, NQ, err);
        if (!st) st = gp_weights_writer_set_f64_array(wr, "eval.coverage68", c68, NQ, err);
        if (!st) st = gp_weights_writer_set_f64_array(wr, "eval.coverage95", c95, NQ, err);
        if (!st) st = gp_weights_writer_set_f64_array(wr, "eval.coverage68_pit", p68, NQ, err);
        if (!st) st = gp_weights_writer_set_f64_array(wr, "eval.coverage95_pit", p95, NQ, err);
        if (!st) st = gp_weights_writer_set_f64_array(wr, "eval.sigma_ale", sa, NQ, err);
        if (!st) st = gp_weights_writer_set_f64_array(wr, "eval.sigma_epi", se, NQ, err);
        if (!st) st = gp_weights_writer_set_f64(wr, "eval.classifier_accuracy", acc, err);
        if (!st && lood->dim > 0) st = gp_weights_writer_set_i64(wr, "eval.image_unlike", n_unlike, err);
        if (!st) st = gp_weights_writer_set_i64(wr, "eval.photometry_clipped", n_clipped, err);
        if (!st && pood->dim > 0) st = gp_weights_writer_set_i64(wr, "eval.photometry_unlike", n_phot_unlike, err);
        if (!st && image) st = gp_weights_writer_set_i64(wr, "eval.no_source", n_no_source, err);
        if (!st) st = gp_weights_writer_set_i64(wr, "eval.test_galaxies", nt, err);
        if (!st) st = gp_weights_writer_set_str(wr, "eval.note", "held-out test split of the training data (train.split.*), galpost eval; quantities in target.names order", err);
        for (size_t i = 0; !st && i < gp_weights_tensor_count(w); i++) {
            gp_tensor_info t;
            st = gp_weights_tensor_at(w, i, &t, err);
            if (!st) st = gp_weights_writer_add_tensor(wr, t.name, t.ndim, t.dims, t.data, err);
        }
        if (!st) st = gp_weights_writer_write(wr, o->model, err);
        gp_weights_writer_free(wr);
        if (st) goto done;
        fprintf(stderr, "galpost eval: figures recorded in %s (eval.*)\n", o->model);
    }
    fprintf(stderr, "galpost eval: wrote %s/{report.md,metrics.csv,galaxies.csv,pred_vs_true.png,pit.png,calibration.png} in %.1f s\n", o->outdir, now_s() - t0);
done:
    if (logf) fclose(logf);
    free(res);
    free(img); free(smp); free(med); free(mean); free(lo68); free(hi68); free(lo95); free(hi95); free(pit); free(ale); free(epi);
    free(truth); free(pdet); free(ld2); free(gflags); free(mask); free(emb_tr); free(emb_va); free(emb_te); free(Ytr); free(Mtr); free(Yva); free(Mva);
    for (int b = 0; b < 3; b++) free(Pb[b]);
    free(part); free(test); free(trainr); free(valr);
    gp_dataset_close(d);
    gp_model_close(model);
    return st;
}
