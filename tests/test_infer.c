/*
 * test_infer.c: inference end to end on random-weight models.
 *  - the same seed gives bit-identical samples for any batch size and
 *    thread count; another seed gives other samples;
 *  - summaries equal a naive recomputation from the samples;
 *  - a galaxy with NaN pixels or absurd magnitudes fails alone, with a
 *    message naming it, and the others are still computed;
 *  - magnitudes far outside the training distribution (a band's
 *    non-detection) are clipped to GP_PHOT_CLIP standard deviations;
 *  - the photometry-only variant and ensembles work;
 *  - small chunks with background summaries (a GPU backend's way) give the
 *    same bits;
 *  - a model whose z target is softplus-transformed (target.z_softplus)
 *    gives the transform's inverse of the untransformed model's samples,
 *    all positive.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <float.h>
#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "galpost/gp_model.h"
#include "gp_cosmo.h"
#include "gp_net.h"
#include "galpost/gp_weights.h"
#include "train/gp_train.h"
#include "gp_test_util.h"

#define NG 5
static char path_img[512], path_phot[512];
static float *cutouts;
static gp_galaxy gal[NG];

static int setup(void **state)
{
    (void)state;
    gp_arch a = gp_arch_default();
    a.enc_channels[0] = 4; a.enc_channels[1] = 6; a.enc_channels[2] = 8;
    a.latent = 8; a.trunk[0] = 32; a.trunk[1] = 24; a.head_hidden = 16;
    a.flow_hidden = 16; a.couplings = 6; a.ensemble = 3; a.flow_gain = 0.5f;
    gp_error err;
    gp_test_tmpname(path_img, sizeof path_img, ".gpw");
    gp_test_tmpname(path_phot, sizeof path_phot, ".gpw");
    if (gp_model_write_random(path_img, &a, 11, &err)) { fprintf(stderr, "%s\n", err.msg); return -1; }
    a.uses_image = 0;
    if (gp_model_write_random(path_phot, &a, 12, &err)) { fprintf(stderr, "%s\n", err.msg); return -1; }
    cutouts = gp_test_galaxies(gal, NG);
    if (!cutouts) return -1;
    gal[2].flags = GP_FLAG_EDGE;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path_img);
    unlink(path_phot);
    free(cutouts);
    return 0;
}

static gp_model *open_model(const char *path, int threads)
{
    gp_model_options o = gp_model_options_default();
    o.backend = GP_BACKEND_CPU;
    o.threads = threads;
    gp_model *m = NULL;
    gp_error err;
    if (gp_model_open(path, &o, &m, &err)) fail_msg("gp_model_open: %s", err.msg);
    return m;
}

static void test_determinism(void **state)
{
    (void)state;
    gp_infer_options io = gp_infer_options_default();
    io.nsamples = 37;  /* not a multiple of the ensemble size */
    io.seed = 424242;
    io.keep_samples = 1;
    gp_error err;

    gp_model *m1 = open_model(path_img, 1);
    gp_result ref[NG];
    assert_int_equal(gp_infer(m1, gal, NG, &io, ref, &err), GP_OK);
    /* one at a time */
    for (int g = 0; g < NG; g++) {
        gp_result one;
        assert_int_equal(gp_infer(m1, &gal[g], 1, &io, &one, &err), GP_OK);
        if (memcmp(one.samples, ref[g].samples, sizeof(float) * io.nsamples * GP_NQ))
            fail_msg("galaxy %d: samples differ between batch 5 and batch 1", g);
        gp_result_free(&one, 1);
    }
    gp_model_close(m1);
    /* two threads, batches of 3 and 2 in reverse order */
    gp_model *m2 = open_model(path_img, 2);
    gp_galaxy rev[NG];
    for (int g = 0; g < NG; g++) rev[g] = gal[NG - 1 - g];
    gp_result r2[NG];
    assert_int_equal(gp_infer(m2, rev, 3, &io, r2, &err), GP_OK);
    assert_int_equal(gp_infer(m2, rev + 3, 2, &io, r2 + 3, &err), GP_OK);
    for (int g = 0; g < NG; g++) {
        if (memcmp(r2[g].samples, ref[NG - 1 - g].samples, sizeof(float) * io.nsamples * GP_NQ))
            fail_msg("galaxy %d: samples differ between 1 and 2 threads / batch order", NG - 1 - g);
        assert_int_equal(r2[g].id, ref[NG - 1 - g].id);
    }
    gp_result_free(r2, NG);
    /* another seed: other samples */
    io.seed = 424243;
    assert_int_equal(gp_infer(m2, gal, 1, &io, r2, &err), GP_OK);
    assert_true(memcmp(r2[0].samples, ref[0].samples, sizeof(float) * io.nsamples * GP_NQ) != 0);
    gp_result_free(r2, 1);
    gp_model_close(m2);
    gp_result_free(ref, NG);
}

/* Small chunks with the summaries in the background (the GPU backend's
 * way): the same samples and summaries as one chunk done in order. */
static void test_background_summaries(void **state)
{
    (void)state;
    gp_infer_options io = gp_infer_options_default();
    io.nsamples = 41;
    io.seed = 77;
    io.keep_samples = 1;
    gp_error err;
    gp_model *m = open_model(path_img, 2);
    gp_result ref[NG], r[NG];
    assert_int_equal(gp_infer(m, gal, NG, &io, ref, &err), GP_OK);
    setenv("GP_INFER_CHUNK", "2", 1);
    setenv("GP_INFER_BACKGROUND_SUMMARIES", "1", 1);
    setenv("GP_INFER_PROFILE", "1", 1);
    int st = gp_infer(m, gal, NG, &io, r, &err);
    unsetenv("GP_INFER_CHUNK");
    unsetenv("GP_INFER_BACKGROUND_SUMMARIES");
    unsetenv("GP_INFER_PROFILE");
    assert_int_equal(st, GP_OK);
    for (int g = 0; g < NG; g++) {
        assert_int_equal(r[g].status, GP_OK);
        assert_int_equal(r[g].id, ref[g].id);
        if (memcmp(r[g].samples, ref[g].samples, sizeof(float) * io.nsamples * GP_NQ))
            fail_msg("galaxy %d: samples differ with chunks of 2 and background summaries", g);
        if (memcmp(&r[g].summary, &ref[g].summary, sizeof r[g].summary))
            fail_msg("galaxy %d: summaries differ with chunks of 2 and background summaries", g);
        assert_true(isfinite(r[g].summary.median[0]));
    }
    gp_result_free(r, NG);
    /* a bad galaxy in the second chunk still fails alone */
    gp_galaxy g5[NG];
    memcpy(g5, gal, sizeof g5);
    g5[3].mag[1] = NAN;
    setenv("GP_INFER_CHUNK", "2", 1);
    setenv("GP_INFER_BACKGROUND_SUMMARIES", "1", 1);
    st = gp_infer(m, g5, NG, &io, r, &err);
    unsetenv("GP_INFER_CHUNK");
    unsetenv("GP_INFER_BACKGROUND_SUMMARIES");
    assert_int_equal(st, GP_ERR_DATA);
    assert_int_equal(r[3].status, GP_ERR_DATA);
    assert_null(r[3].samples);
    for (int g = 0; g < NG; g++)
        if (g != 3 && memcmp(&r[g].summary, &ref[g].summary, sizeof r[g].summary))
            fail_msg("galaxy %d: summary changed by a bad neighbour", g);
    gp_result_free(r, NG);
    gp_result_free(ref, NG);
    gp_model_close(m);

    /* one chunk of 43 galaxies handed out a few at a time to 3 threads: the
     * same summaries as the CPU backend's own pool */
    enum { NB = 43 };
    gp_galaxy gb[NB];
    for (int g = 0; g < NB; g++) { gb[g] = gal[g % NG]; gb[g].id = 5000 + (uint64_t)g; }
    gp_result *rb = calloc(NB, sizeof *rb), *rf = calloc(NB, sizeof *rf);
    assert_non_null(rb);
    assert_non_null(rf);
    m = open_model(path_img, 3);
    assert_int_equal(gp_infer(m, gb, NB, &io, rf, &err), GP_OK);
    setenv("GP_INFER_BACKGROUND_SUMMARIES", "1", 1);
    st = gp_infer(m, gb, NB, &io, rb, &err);
    unsetenv("GP_INFER_BACKGROUND_SUMMARIES");
    assert_int_equal(st, GP_OK);
    for (int g = 0; g < NB; g++) {
        assert_int_equal(rb[g].status, GP_OK);
        if (memcmp(&rb[g].summary, &rf[g].summary, sizeof rb[g].summary))
            fail_msg("galaxy %d of %d: background summary differs from the pool's", g, NB);
    }
    gp_result_free(rb, NB);
    gp_result_free(rf, NB);
    free(rb);
    free(rf);
    gp_model_close(m);
}

static int cmpf(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static void test_summaries_match_naive(void **state)
{
    (void)state;
    gp_model *m = open_model(path_img, 2);
    gp_infer_options io = { 501, 7, 1 };
    gp_result r[2];
    gp_error err;
    assert_int_equal(gp_infer(m, gal, 2, &io, r, &err), GP_OK);
    for (int g = 0; g < 2; g++) {
        const gp_summary *s = &r[g].summary;
        assert_int_equal(r[g].flags, gal[g].flags);
        float col[501];
        for (int q = 0; q < GP_NQ; q++) {
            double mean = 0;
            for (int i = 0; i < 501; i++) {
                col[i] = r[g].samples[i * GP_NQ + q];
                assert_true(isfinite(col[i]));
                mean += col[i];
            }
            mean /= 501;
            qsort(col, 501, sizeof(float), cmpf);
            /* n = 501: the median is order statistic 250, p16 at 80, p84 at 420 exactly */
            assert_true(fabs(s->median[q] - col[250]) <= 1e-6 * (1 + fabs(col[250])));
            assert_true(fabs(s->p16[q] - col[80]) <= 1e-6 * (1 + fabs(col[80])));
            assert_true(fabs(s->p84[q] - col[420]) <= 1e-6 * (1 + fabs(col[420])));
            assert_true(fabs(s->mean[q] - mean) <= 1e-6 * (1 + fabs(mean)));
            assert_true(s->p16[q] <= s->median[q] && s->median[q] <= s->p84[q]);
            assert_true(s->std[q] > 0);
            assert_true(fabs(s->corr[q][q] - 1) < 1e-12);
        }
        /* a correlation recomputed naively */
        double ma = s->mean[0], mb = s->mean[3], sab = 0, saa = 0, sbb = 0;
        for (int i = 0; i < 501; i++) {
            double a = r[g].samples[i * GP_NQ] - ma, b = r[g].samples[i * GP_NQ + 3] - mb;
            sab += a * b; saa += a * a; sbb += b * b;
        }
        assert_true(fabs(s->corr[0][3] - sab / sqrt(saa * sbb)) < 1e-9);
        assert_true(s->p_detect > 0 && s->p_detect < 1);
        double psum = 0;
        for (int c = 0; c < GP_NBPT; c++) psum += s->p_bpt[c];
        if (s->bpt_n > 0) assert_true(fabs(psum - 1) < 1e-12);
        assert_true(s->bpt_n <= 501);
    }
    gp_result_free(r, 2);
    gp_model_close(m);
}

/* gp_summary_compute's median, p16 and p84 (placed by a partial sort)
 * equal the interpolation between neighbours of a full qsort, bit for
 * bit, for sample counts from 2 to 1000, with ties, in random, ascending
 * and descending order. */
static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double naive_quantile(const double *v, int n, double q)
{
    double pos = q * (n - 1);
    int i = (int)floor(pos);
    if (i >= n - 1) return v[n - 1];
    return v[i] + (pos - i) * (v[i + 1] - v[i]);
}

/* The per-sample line diagnostics of gp_summary_compute against the
 * formulas of gp_summary.c's header computed naively (pow, then the log10
 * of the whole luminosity), on fresh random samples with lines at exactly
 * y = 0 (F = 0) among them: counts, BPT fractions and class exactly,
 * medians and percentiles to 1e-9. */
static int naive_bpt(double x, double y)
{
    if (x < 0.05 && y < 0.61 / (x - 0.05) + 1.30) return GP_BPT_STARFORMING;
    if (x < 0.47 && y < 0.61 / (x - 0.47) + 1.19) return GP_BPT_COMPOSITE;
    return y > 1.05 * x + 0.45 ? GP_BPT_SEYFERT : GP_BPT_LINER;
}

static void expect_stat(const gp_stat *st, double *v, int n, const char *what)
{
    if (st->n != n) fail_msg("%s: %d values, naive %d", what, st->n, n);
    if (n == 0) return;
    qsort(v, (size_t)n, sizeof *v, cmpd);
    const double q[3] = { naive_quantile(v, n, 0.16), naive_quantile(v, n, 0.5), naive_quantile(v, n, 0.84) };
    const double g[3] = { st->p16, st->median, st->p84 };
    for (int k = 0; k < 3; k++)
        if (!(fabs(g[k] - q[k]) <= 1e-9 * (1 + fabs(q[k])))) fail_msg("%s: %.17g vs naive %.17g", what, g[k], q[k]);
}

static void test_summary_lines(void **state)
{
    (void)state;
    enum { N = 400 };
    static float smp[N * GP_NQ];
    static double sfr[N], dec[N], av[N], n2[N], o3n2[N], ln2[N], lo3[N];
    for (int t = 0; t < 20; t++) {
        for (int i = 0; i < N; i++) {
            float *x = smp + (size_t)i * GP_NQ;
            for (int q = 0; q < GP_Q_HALPHA; q++) x[q] = (float)(2 * gp_test_uniform() - 0.5);
            x[GP_Q_Z] = (float)(0.3 * gp_test_uniform() - 0.02);   /* a few z <= 0 */
            for (int l = 0; l < GP_NLINE; l++) {
                double u = gp_test_uniform();
                /* 3%: a flux that overflows a double (10^400), 3% one whose dust
                 * correction or luminosity does (10^150-10^300), as flows far out give */
                x[GP_Q_HALPHA + l] = u < 0.15 ? 0.0f : u < 0.18 ? 400.0f
                                   : u < 0.21 ? (float)(150 + 150 * gp_test_uniform()) : (float)(2.5 * gp_test_uniform());
            }
        }
        gp_summary s = { 0 };
        gp_error err;
        assert_int_equal(gp_summary_compute(smp, N, &s, &err), GP_OK);
        int nsfr = 0, ndec = 0, nn2 = 0, no3 = 0, nx = 0, ny = 0, nbpt = 0, counts[GP_NBPT] = { 0 };
        for (int i = 0; i < N; i++) {
            const float *x = smp + (size_t)i * GP_NQ;
            double ha = pow(10.0, x[GP_Q_HALPHA]) - 1, hb = pow(10.0, x[GP_Q_HBETA]) - 1;
            double nii = pow(10.0, x[GP_Q_NII6584]) - 1, oiii = pow(10.0, x[GP_Q_OIII5007]) - 1, ebv = 0;
            if (x[GP_Q_HALPHA] > 300) ha = -1;   /* overflowing fluxes define nothing */
            if (x[GP_Q_HBETA] > 300) hb = -1;
            if (x[GP_Q_NII6584] > 300) nii = -1;
            if (x[GP_Q_OIII5007] > 300) oiii = -1;
            /* (a value that overflows is no value: skipped) */
            if (ha > 0 && hb > 0) {
                double e = 1.966 * log10(ha / hb / 2.86);
                if (e < 0) e = 0;
                if (isfinite(ha / hb) && isfinite(4.05 * e)) {
                    ebv = e;
                    dec[ndec] = ha / hb;
                    av[ndec++] = 4.05 * e;
                }
            }
            if (ha > 0 && x[GP_Q_Z] > 0) {
                double dl = gp_cosmo_lumdist_mpc(x[GP_Q_Z]) * 3.0857e24;
                double v = log10(4 * M_PI * dl * dl * ha * 1e-17 * pow(10.0, 0.4 * 3.326 * ebv)) - 41.27;
                if (isfinite(v)) sfr[nsfr++] = v;
            }
            double bx = NAN, by = NAN;
            if (ha > 0 && nii > 0 && isfinite(log10(nii / ha))) {
                bx = ln2[nx++] = log10(nii / ha);
                if (bx > -2.5 && bx < -0.3) n2[nn2++] = 8.90 + 0.57 * bx;
            }
            if (hb > 0 && oiii > 0 && isfinite(log10(oiii / hb))) by = lo3[ny++] = log10(oiii / hb);
            if (isfinite(bx) && isfinite(by)) {
                counts[naive_bpt(bx, by)]++;
                nbpt++;
                if (by - bx < 1.9) o3n2[no3++] = 8.73 - 0.32 * (by - bx);
            }
        }
        expect_stat(&s.sfr_halpha, sfr, nsfr, "log SFR(Halpha)");
        expect_stat(&s.balmer_decrement, dec, ndec, "Balmer decrement");
        expect_stat(&s.a_v, av, ndec, "A_V");
        expect_stat(&s.oh_n2, n2, nn2, "O/H (N2)");
        expect_stat(&s.oh_o3n2, o3n2, no3, "O/H (O3N2)");
        expect_stat(&s.log_n2, ln2, nx, "log [NII]/Halpha");
        expect_stat(&s.log_o3, lo3, ny, "log [OIII]/Hbeta");
        const gp_stat *all[7] = { &s.sfr_halpha, &s.balmer_decrement, &s.a_v, &s.oh_n2, &s.oh_o3n2, &s.log_n2, &s.log_o3 };
        for (int k = 0; k < 7; k++)
            assert_true(all[k]->n > 0 && isfinite(all[k]->median) && isfinite(all[k]->p16) && isfinite(all[k]->p84));
        assert_int_equal(s.bpt_n, nbpt);
        assert_true(nbpt > 0 && nbpt < N);   /* the zeros leave some samples unclassified */
        int best = -1;
        for (int c = 0; c < GP_NBPT; c++) {
            assert_true(s.p_bpt[c] == (double)counts[c] / nbpt);
            if (best < 0 || counts[c] > counts[best]) best = c;
        }
        assert_int_equal(s.bpt_class, best);
    }
}

static void test_summary_quantiles(void **state)
{
    (void)state;
    static const int ns[] = { 2, 3, 5, 16, 17, 18, 33, 100, 101, 257, 1000 };
    float *smp = malloc(sizeof(float) * 1000 * GP_NQ);
    double *col = malloc(sizeof(double) * 1000);
    assert_non_null(smp);
    assert_non_null(col);
    for (size_t t = 0; t < sizeof ns / sizeof *ns; t++)
        for (int order = 0; order < 3; order++) {
            int n = ns[t];
            for (int i = 0; i < n * GP_NQ; i++) {
                double u = gp_test_uniform();
                /* quantity 0 with many ties, the others continuous */
                smp[i] = i % GP_NQ == 0 ? (float)floor(4 * u) : (float)(3 * u - 1);
            }
            if (order) /* each quantity's column sorted ascending (1) or descending (2) */
                for (int q = 0; q < GP_NQ; q++) {
                    for (int i = 0; i < n; i++) col[i] = smp[(size_t)i * GP_NQ + q];
                    qsort(col, (size_t)n, sizeof *col, cmpd);
                    for (int i = 0; i < n; i++) smp[(size_t)i * GP_NQ + q] = (float)col[order == 1 ? i : n - 1 - i];
                }
            gp_summary s = { 0 };
            gp_error err;
            assert_int_equal(gp_summary_compute(smp, n, &s, &err), GP_OK);
            for (int q = 0; q < GP_NQ; q++) {
                for (int i = 0; i < n; i++) col[i] = smp[(size_t)i * GP_NQ + q];
                qsort(col, (size_t)n, sizeof *col, cmpd);
                double m = naive_quantile(col, n, 0.5), lo = naive_quantile(col, n, 0.16), hi = naive_quantile(col, n, 0.84);
                if (memcmp(&m, &s.median[q], sizeof m) || memcmp(&lo, &s.p16[q], sizeof lo) || memcmp(&hi, &s.p84[q], sizeof hi))
                    fail_msg("n %d order %d quantity %d: %.17g %.17g %.17g vs naive %.17g %.17g %.17g", n, order, q,
                             s.p16[q], s.median[q], s.p84[q], lo, m, hi);
            }
        }
    free(smp);
    free(col);
}

/* The text summary's correlations line: the physical quantities' pairs
 * with |r| >= 0.3, strongest first, at most four, the lines' own ignored;
 * "none" when no pair reaches it. */
static char *summary_text(const gp_result *r)
{
    char *txt = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&txt, &len);
    assert_non_null(f);
    gp_summary_print(r, f);
    fclose(f);
    return txt;
}

static void set_corr(gp_summary *s, int a, int b, double v) { s->corr[a][b] = s->corr[b][a] = v; }

static void test_summary_correlations(void **state)
{
    (void)state;
    gp_result r;
    memset(&r, 0, sizeof r);
    r.status = GP_OK;
    r.summary.bpt_class = -1;
    r.latent_d2 = r.latent_d2_limit = r.phot_d2 = r.phot_d2_limit = r.source_snr = r.source_peak = NAN;
    for (int q = 0; q < GP_NQ; q++) r.summary.corr[q][q] = 1.0;
    set_corr(&r.summary, GP_Q_HALPHA, GP_Q_HBETA, 0.99);   /* lines: not shown */
    set_corr(&r.summary, 1, 3, 0.299);                      /* below 0.3 */
    char *t = summary_text(&r);
    if (!strstr(t, "  correlations: none with |r| >= 0.3 among the quantities above\n")) fail_msg("%s", t);
    free(t);
    set_corr(&r.summary, 0, 2, 0.70);
    set_corr(&r.summary, 0, 1, -0.49);
    set_corr(&r.summary, 3, 4, 0.31);
    char want[512];
    snprintf(want, sizeof want, "  correlations (|r| >= 0.3): %s & %s +0.70, %s & %s -0.49, %s & %s +0.31\n",
             gp_quantity_label(0), gp_quantity_label(2), gp_quantity_label(0), gp_quantity_label(1),
             gp_quantity_label(3), gp_quantity_label(4));
    t = summary_text(&r);
    if (!strstr(t, want)) fail_msg("want '%s' in:\n%s", want, t);
    free(t);
    /* five pairs reach it: the four strongest */
    set_corr(&r.summary, 2, 4, 0.95);
    set_corr(&r.summary, 1, 2, -0.5);
    snprintf(want, sizeof want, "  correlations (|r| >= 0.3): %s & %s +0.95, %s & %s +0.70, %s & %s -0.50, %s & %s -0.49\n",
             gp_quantity_label(2), gp_quantity_label(4), gp_quantity_label(0), gp_quantity_label(2),
             gp_quantity_label(1), gp_quantity_label(2), gp_quantity_label(0), gp_quantity_label(1));
    t = summary_text(&r);
    if (!strstr(t, want)) fail_msg("want '%s' in:\n%s", want, t);
    free(t);
    /* a quantity without spread (a line with every sample at F = 0) has no
     * correlation with the others: NaN, not 0; the others' are computed */
    enum { NS = 300 };
    float *smp = malloc(sizeof(float) * NS * GP_NQ);
    assert_non_null(smp);
    uint64_t seed = 12345;
    for (int i = 0; i < NS; i++)
        for (int q = 0; q < GP_NQ; q++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            smp[i * GP_NQ + q] = q == GP_Q_HBETA ? 0.0f : (float)((seed >> 11) * 0x1.0p-53) + (q == 2 ? smp[i * GP_NQ] : 0.0f);
        }
    gp_summary sm;
    gp_error err;
    assert_int_equal(gp_summary_compute(smp, NS, &sm, &err), GP_OK);
    for (int q = 0; q < GP_NQ; q++) {
        assert_true(sm.corr[q][q] == 1.0);
        if (q != GP_Q_HBETA) assert_true(isnan(sm.corr[GP_Q_HBETA][q]) && isnan(sm.corr[q][GP_Q_HBETA]));
    }
    assert_true(sm.corr[0][2] > 0.5 && sm.corr[0][2] < 1.0);   /* (z = M* + noise here: computed) */
    free(smp);
}

/* A line's 68% interval (gp_summary lo68, hi68, p_zero) against a naive
 * count and sort, on fresh random samples whose lines have 0% to 90% of
 * their samples at y = 0 (F = 0): below 16% the central [p16, p84]; from
 * 16% the interval [0, 68th percentile], bit for bit, which holds 68% of
 * the samples where [p16, p84] = [0, p84] holds 84% or more.  The other
 * quantities keep [p16, p84] and p_zero 0. */
static void test_summary_line_interval(void **state)
{
    (void)state;
    double plo, phi;
    assert_int_equal(gp_interval_probs(0.1599, 0.68, &plo, &phi), 0);
    assert_true(plo == 0.5 * (1 - 0.68) && phi == 1 - 0.5 * (1 - 0.68));
    assert_int_equal(gp_interval_probs(0.16, 0.68, &plo, &phi), 1);
    assert_true(plo == 0.0 && phi == 0.68);
    assert_int_equal(gp_interval_probs(0.02, 0.95, &plo, &phi), 0);
    assert_int_equal(gp_interval_probs(0.03, 0.95, &plo, &phi), 1);
    assert_true(plo == 0.0 && phi == 0.95);
    /* exactly at the tail, as sample counts give it (0.5 (1 - 0.95) rounds
     * above 0.025): from 0, as "2.5% or more" says */
    assert_int_equal(gp_interval_probs(5.0 / 200, 0.95, &plo, &phi), 1);
    assert_int_equal(gp_interval_probs(8.0 / 50, 0.68, &plo, &phi), 1);
    assert_int_equal(gp_interval_probs(4.0 / 200, 0.95, &plo, &phi), 0);
    static const int ns[] = { 50, 199, 200, 1000 };
    float *smp = malloc(sizeof(float) * 1000 * GP_NQ);
    double *col = malloc(sizeof(double) * 1000);
    assert_non_null(smp);
    assert_non_null(col);
    int upper = 0, central = 0;
    for (int t = 0; t < 60; t++) {
        int n = ns[t % 4];
        double pz[GP_NQ];
        for (int q = 0; q < GP_NQ; q++) pz[q] = q >= GP_Q_HALPHA ? 0.9 * gp_test_uniform() : 0.0;
        for (int i = 0; i < n; i++)
            for (int q = 0; q < GP_NQ; q++)
                smp[(size_t)i * GP_NQ + q] = q >= GP_Q_HALPHA && gp_test_uniform() < pz[q] ? 0.0f
                                             : (float)(q >= GP_Q_HALPHA ? 0.01 + 2.5 * gp_test_uniform()
                                                                        : 3 * gp_test_uniform() - 1);
        gp_summary s = { 0 };
        gp_error err;
        assert_int_equal(gp_summary_compute(smp, n, &s, &err), GP_OK);
        for (int q = 0; q < GP_NQ; q++) {
            int zeros = 0;
            for (int i = 0; i < n; i++) {
                col[i] = smp[(size_t)i * GP_NQ + q];
                zeros += col[i] == 0.0;
            }
            qsort(col, (size_t)n, sizeof *col, cmpd);
            double p16 = naive_quantile(col, n, 0.16), p84 = naive_quantile(col, n, 0.84);
            if (s.p_zero[q] != (q >= GP_Q_HALPHA ? (double)zeros / n : 0.0))
                fail_msg("n %d quantity %d: p_zero %.17g, naive %d of %d", n, q, s.p_zero[q], zeros, n);
            if (q < GP_Q_HALPHA || zeros < 0.16 * n) {
                if (s.lo68[q] != p16 || s.hi68[q] != p84)
                    fail_msg("n %d quantity %d (%d zeros): [%.17g, %.17g], not the central [%.17g, %.17g]", n, q,
                             zeros, s.lo68[q], s.hi68[q], p16, p84);
                central += q >= GP_Q_HALPHA;
                continue;
            }
            double h = naive_quantile(col, n, 0.68);
            if (s.lo68[q] != 0.0 || s.hi68[q] != h)
                fail_msg("n %d quantity %d (%d zeros): [%.17g, %.17g], not [0, %.17g]", n, q, zeros, s.lo68[q],
                         s.hi68[q], h);
            upper++;
            int in = 0, in_central = 0;
            for (int i = 0; i < n; i++) {
                in += col[i] <= h;
                in_central += col[i] >= p16 && col[i] <= p84;
            }
            /* the content: 68% (+ one sample of interpolation), or the zeros where they are more */
            double c = (double)in / n, want = zeros > 0.68 * n ? (double)zeros / n : 0.68;
            if (fabs(c - want) > 1.5 / n) fail_msg("n %d quantity %d: [0, p68] holds %.3f, not %.3f", n, q, c, want);
            if (zeros >= 0.16 * n + 2 && !((double)in_central / n >= 0.84 - 1.5 / n))
                fail_msg("n %d quantity %d: [p16, p84] holds %.3f (expected 0.84 or more)", n, q, (double)in_central / n);
        }
    }
    /* both kinds were drawn */
    assert_true(upper > 20 && central > 20);
    free(smp);
    free(col);
}

/* gp_position_key: 0.5" steps, so positions 0.1" apart share a key and
 * 1" apart do not; RA 360 (and 359.99999) is RA 0; Dec counts. */
static void test_position_key(void **state)
{
    (void)state;
    double ra = 360 * gp_test_uniform(), dec = 170 * gp_test_uniform() - 85;
    ra = floor(ra * 7200) / 7200 + 0.1 / 7200;   /* a tenth of a step past a step */
    assert_true(gp_position_key(ra, dec) == gp_position_key(ra + 0.1 / 3600, dec));
    assert_true(gp_position_key(ra, dec) != gp_position_key(ra + 1.0 / 3600, dec));
    assert_true(gp_position_key(ra, dec) != gp_position_key(ra, dec + 1.0 / 3600));
    assert_true(gp_position_key(360.0, dec) == gp_position_key(0.0, dec));
    assert_true(gp_position_key(359.99999, dec) == gp_position_key(0.0, dec));
    assert_true(gp_position_key(-0.00001, dec) == gp_position_key(0.0, dec));
}

static void test_bad_galaxies_fail_alone(void **state)
{
    (void)state;
    gp_model *m = open_model(path_img, 2);
    gp_galaxy g3[3] = { gal[0], gal[1], gal[2] };
    float *bad = malloc(sizeof(float) * GP_CUTOUT_PIXELS);
    memcpy(bad, gal[1].cutout, sizeof(float) * GP_CUTOUT_PIXELS);
    bad[GP_CUTOUT_SIZE * GP_CUTOUT_SIZE + 5 * GP_CUTOUT_SIZE + 7] = NAN; /* band r, x=7, y=5 */
    g3[1].cutout = bad;
    g3[2].mag[4] = NAN;
    gp_infer_options io = { 50, 3, 0 };
    gp_result r[3];
    gp_error err;
    assert_int_equal(gp_infer(m, g3, 3, &io, r, &err), GP_ERR_DATA);
    assert_int_equal(r[0].status, GP_OK);
    assert_true(isfinite(r[0].summary.median[0]));
    assert_int_equal(r[1].status, GP_ERR_DATA);
    char idbuf[64];
    snprintf(idbuf, sizeof idbuf, "galaxy %llu", (unsigned long long)g3[1].id);
    assert_non_null(strstr(r[1].message, idbuf));
    assert_non_null(strstr(r[1].message, "band r, x=7, y=5"));
    assert_int_equal(r[2].status, GP_ERR_DATA);
    assert_non_null(strstr(r[2].message, "magnitude z"));
    assert_non_null(strstr(err.msg, idbuf));
    /* the vectorized pixel check: inf, -inf and NaN at the first, the last
     * and inner pixels, one at a time, each rejected and located */
    {
        const float badv[3] = { INFINITY, -INFINITY, NAN };
        const size_t pos[4] = { 0, GP_CUTOUT_PIXELS - 1, 17, 2 * GP_CUTOUT_SIZE * GP_CUTOUT_SIZE + 31 };
        for (int v = 0; v < 3; v++)
            for (int q = 0; q < 4; q++) {
                memcpy(bad, gal[1].cutout, sizeof(float) * GP_CUTOUT_PIXELS);
                bad[pos[q]] = badv[v];
                gp_galaxy one = gal[1];
                one.cutout = bad;
                assert_int_equal(gp_infer(m, &one, 1, &io, r, &err), GP_ERR_DATA);
                char where[64];
                size_t p = pos[q];
                snprintf(where, sizeof where, "pixel %zu (band %c, x=%zu, y=%zu)", p,
                         "gri"[p / (GP_CUTOUT_SIZE * GP_CUTOUT_SIZE)], p % GP_CUTOUT_SIZE,
                         (p / GP_CUTOUT_SIZE) % GP_CUTOUT_SIZE);
                if (!strstr(r[0].message, where)) fail_msg("%s: expected '%s'", r[0].message, where);
            }
    }
    /* missing cutout for an image model */
    gp_galaxy nocut = gal[0];
    nocut.cutout = NULL;
    assert_int_equal(gp_infer(m, &nocut, 1, &io, r, &err), GP_ERR_DATA);
    assert_non_null(strstr(err.msg, "no cutout"));
    /* bad options */
    io.nsamples = 1;
    assert_int_equal(gp_infer(m, gal, 1, &io, r, &err), GP_ERR_ARG);
    free(bad);
    gp_model_close(m);
}

/* gp_cutouts_alloc on the CPU backend: 64-byte aligned memory that
 * gp_infer reads like any other (the same bits as from malloc'd cutouts);
 * bad arguments are errors, not crashes. */
static void test_cutouts_alloc(void **state)
{
    (void)state;
    gp_model *m = open_model(path_img, 2);
    gp_error err;
    float *pin = gp_cutouts_alloc(m, NG, &err);
    assert_non_null(pin);
    assert_int_equal((uintptr_t)pin % 64, 0);
    memcpy(pin, cutouts, sizeof(float) * GP_CUTOUT_PIXELS * NG);
    gp_galaxy gp[NG];
    memcpy(gp, gal, sizeof gp);
    for (int g = 0; g < NG; g++) gp[g].cutout = pin + (size_t)g * GP_CUTOUT_PIXELS;
    gp_infer_options io = { 40, 5, 1 };
    gp_result ra[NG], rb[NG];
    assert_int_equal(gp_infer(m, gal, NG, &io, ra, &err), GP_OK);
    assert_int_equal(gp_infer(m, gp, NG, &io, rb, &err), GP_OK);
    for (int g = 0; g < NG; g++)
        assert_memory_equal(ra[g].samples, rb[g].samples, sizeof(float) * 40 * GP_NQ);
    gp_result_free(ra, NG);
    gp_result_free(rb, NG);
    gp_cutouts_free(m, pin);
    gp_cutouts_free(m, NULL);
    assert_null(gp_cutouts_alloc(NULL, 1, &err));
    assert_int_equal(err.status, GP_ERR_ARG);
    assert_null(gp_cutouts_alloc(m, (size_t)1 << 40, &err));
    assert_non_null(strstr(err.msg, "too many"));
    gp_model_close(m);
}

/* A band's non-detection (SDSS writes modelMag 30 for it) or any other magnitude far
 * outside the training distribution is held at GP_PHOT_CLIP standard deviations: u = 30
 * and u = 38 give the same samples, while a u inside the clip still matters. */
static void test_photometry_clipped(void **state)
{
    (void)state;
    gp_model *m = open_model(path_img, 2);
    gp_galaxy g[3] = { gal[0], gal[0], gal[0] };
    g[0].mag[0] = 30.0f;   /* u - g and u both more than 5 sigma out (random model: u 19.3 +- 1.0) */
    g[1].mag[0] = 38.0f;
    g[2].mag[0] = 22.5f;   /* 3.2 sigma: inside */
    gp_infer_options io = gp_infer_options_default();
    io.nsamples = 60;
    io.keep_samples = 1;
    gp_result r[3], ref;
    gp_error err;
    assert_int_equal(gp_infer(m, g, 3, &io, r, &err), GP_OK);
    assert_int_equal(gp_infer(m, &gal[0], 1, &io, &ref, &err), GP_OK);
    size_t bytes = sizeof(float) * io.nsamples * GP_NQ;
    for (size_t i = 0; i < (size_t)io.nsamples * GP_NQ; i++) assert_true(isfinite(r[0].samples[i]));
    assert_memory_equal(r[0].samples, r[1].samples, bytes);
    /* line samples are y = log10(1 + max(F, 0)) >= 0; the untrained flows put many
     * below 0, which are held at 0 (F = 0) */
    int zeros = 0;
    for (int k = 0; k < 3; k++)
        for (int s = 0; s < io.nsamples; s++)
            for (int q = GP_Q_HALPHA; q <= GP_Q_OIII5007; q++) {
                float y = r[k].samples[(size_t)s * GP_NQ + q];
                assert_true(y >= 0.0f);
                zeros += y == 0.0f;
            }
    printf("# %d of %d line samples at F = 0\n", zeros, 3 * io.nsamples * 4);
    assert_true(zeros > 0);
    assert_true(memcmp(r[0].samples, r[2].samples, bytes) != 0);
    assert_true(memcmp(r[2].samples, ref.samples, bytes) != 0);
    /* the clipped galaxies say so (u = 22.5 too: u itself is inside, but its u - g is
     * more than 5 sigma out); the reference, every input inside, does not */
    printf("# u - g of the u = 22.5 galaxy: %.1f sigma\n", ((g[2].mag[0] - g[2].mag[1]) - 1.65) / 0.40);
    assert_true(r[0].flags & GP_FLAG_PHOT_CLIPPED);
    assert_true(r[1].flags & GP_FLAG_PHOT_CLIPPED);
    assert_true(r[2].flags & GP_FLAG_PHOT_CLIPPED);
    assert_false(ref.flags & GP_FLAG_PHOT_CLIPPED);
    for (int k = 0; k < 3; k++) assert_int_equal(r[k].flags & ~GP_FLAG_PHOT_CLIPPED, g[k].flags);
    gp_result_free(r, 3);
    gp_result_free(&ref, 1);
    gp_model_close(m);
}

static void test_photometry_only(void **state)
{
    (void)state;
    gp_model *m = open_model(path_phot, 1);
    assert_int_equal(gp_model_uses_image(m), 0);
    assert_int_equal(gp_model_ensemble_size(m), 3);
    assert_int_equal(gp_model_is_trained(m), 0);
    gp_galaxy g = gal[3];
    g.cutout = NULL;
    gp_infer_options io = { 200, 5, 0 };
    gp_result r;
    gp_error err;
    assert_int_equal(gp_infer(m, &g, 1, &io, &r, &err), GP_OK);
    for (int q = 0; q < GP_NQ; q++) assert_true(isfinite(r.summary.median[q]));
    /* a redshift posterior of an untrained model is still centred near the
     * normalisation mean (0.10 +/- a few sigma of 0.05) */
    assert_true(r.summary.median[GP_Q_Z] > -0.3 && r.summary.median[GP_Q_Z] < 0.5);
    gp_model_close(m);
}

/* path_img with target.z_softplus = s (and its z standardisation widened to
 * std zstd, so that many samples of the random model fall below z = 0) */
struct z_edit { double s, zstd; };
static int z_softplus_edit(const gp_weights *w, gp_weights_writer *wr, void *ctx, gp_error *err)
{
    const struct z_edit *e = ctx;
    const double *m, *sd;
    size_t n;
    double tm[9], ts[9];
    int st = gp_weights_meta_f64_array(w, "target.mean", &m, &n, err);
    if (!st) st = gp_weights_meta_f64_array(w, "target.std", &sd, &n, err);
    if (st) return st;
    memcpy(tm, m, sizeof tm);
    memcpy(ts, sd, sizeof ts);
    tm[GP_Q_Z] = 0.03;
    ts[GP_Q_Z] = e->zstd;
    st = gp_weights_writer_set_f64_array(wr, "target.mean", tm, 9, err);
    if (!st) st = gp_weights_writer_set_f64_array(wr, "target.std", ts, 9, err);
    if (!st && e->s > 0) st = gp_weights_writer_set_f64(wr, "target.z_softplus", e->s, err);
    return st;
}

static void write_z_softplus_model(const char *path, double s, double zstd)
{
    gp_error err;
    struct z_edit e = { s, zstd };
    if (gp_test_rewrite_weights(path_img, path, z_softplus_edit, &e, &err)) fail_msg("%s", err.msg);
}

static void test_z_softplus(void **state)
{
    (void)state;
    char plain[512], soft[512];
    gp_test_tmpname(plain, sizeof plain, ".gpw");
    gp_test_tmpname(soft, sizeof soft, ".gpw");
    const double s = 0.02;
    /* a z standardisation of 0.05 puts a fair share of samples below 0; one of
     * 5 puts many below t = -2.04, where the exact z is under the least float */
    for (int pass = 0; pass < 2; pass++) {
    const double zstd = pass ? 5.0 : 0.05;
    write_z_softplus_model(plain, 0.0, zstd);
    write_z_softplus_model(soft, s, zstd);
    gp_infer_options io = gp_infer_options_default();
    io.nsamples = 301;   /* odd: the median is one sample, so it transforms exactly */
    io.seed = (uint64_t)time(NULL);   /* fresh samples each run */
    print_message("test_z_softplus: seed %llu\n", (unsigned long long)io.seed);
    io.keep_samples = 1;
    gp_error err;
    gp_result rp[NG], rs[NG];
    gp_model *mp = open_model(plain, 1), *ms = open_model(soft, 2);
    assert_int_equal(gp_infer(mp, gal, NG, &io, rp, &err), GP_OK);
    assert_int_equal(gp_infer(ms, gal, NG, &io, rs, &err), GP_OK);
    long below = 0, total = 0;
    for (int g = 0; g < NG; g++) {
        assert_int_equal(rp[g].status, GP_OK);
        assert_int_equal(rs[g].status, GP_OK);
        for (int i = 0; i < io.nsamples; i++) {
            const float *a = rp[g].samples + (size_t)i * GP_NQ, *b = rs[g].samples + (size_t)i * GP_NQ;
            /* the transform's inverse of the same sample (naive formula, double;
             * held at the least float where it is smaller) */
            double x = (double)a[GP_Q_Z] / s;
            /* log(1 + e^x) naively, or e^x where 1 + e^x rounds (error e^x / 2) */
            double want = s * (x < -20.0 ? exp(x) : log(1.0 + exp(x)));
            if (want < FLT_MIN) want = FLT_MIN;
            assert_true(isfinite(b[GP_Q_Z]) && b[GP_Q_Z] > 0.0f);
            /* a's float rounding of t (relative 6e-8) moves z by |t| 6e-8 / s relative
             * where z ~ s exp(t/s) */
            double rel = 1e-5 + 2.0 * FLT_EPSILON * fabs(a[GP_Q_Z]) / s;
            assert_true(fabs(b[GP_Q_Z] - want) <= rel * want);
            for (int q = 0; q < GP_NQ; q++)   /* the other quantities are the same bits */
                if (q != GP_Q_Z) assert_memory_equal(&a[q], &b[q], sizeof(float));
            below += a[GP_Q_Z] <= 0.0f;
            total++;
        }
        /* the median is the transform of the median */
        double wm = s * log(1.0 + exp(rp[g].summary.median[GP_Q_Z] / s));
        assert_true(fabs(rs[g].summary.median[GP_Q_Z] - wm) <= 1e-5 * wm + 1e-7);
    }
    /* the test means something: the plain model put samples at z <= 0 (4-12%
     * of them at zstd 0.05 over the fixture's random galaxies: 64 of 1,505 with
     * GP_TEST_SEED=15567802367, sampler seed 1795805184, so not 5%) */
    assert_true(below > total / 100);
    gp_result_free(rp, NG);
    gp_result_free(rs, NG);
    gp_model_close(mp);
    gp_model_close(ms);
    }
    unlink(plain);
    unlink(soft);
}

static void test_z_softplus_bad_key(void **state)
{
    (void)state;
    char bad[512];
    gp_test_tmpname(bad, sizeof bad, ".gpw");
    write_z_softplus_model(bad, 1.5, 0.05);
    gp_model_options o = gp_model_options_default();
    o.backend = GP_BACKEND_CPU;
    gp_model *m = NULL;
    gp_error err;
    assert_int_equal(gp_model_open(bad, &o, &m, &err), GP_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "target.z_softplus"));
    assert_non_null(strstr(err.msg, bad));
    assert_null(m);
    unlink(bad);
}

static void test_z_target_roundtrip(void **state)
{
    (void)state;
    unsigned seed = (unsigned)time(NULL);
    print_message("test_z_target_roundtrip: seed %u\n", seed);
    srand(seed);
    for (int i = 0; i < 2000; i++) {
        double z = 1e-4 + 2.0 * rand() / (double)RAND_MAX;
        double t = gp_z_to_target(z, 0.02);
        assert_true(isfinite(t));
        assert_true(fabs(gp_z_from_target(t, 0.02) - z) <= 1e-12 + 1e-9 * z);
        if (z > 0.6) assert_true(fabs(t - z) < 1e-10);   /* z itself beyond 30 s */
    }
    assert_true(isnan(gp_z_to_target(0.0, 0.02)));
    assert_true(isnan(gp_z_to_target(-0.01, 0.02)));
    assert_true(gp_z_from_target(-1.0, 0.02) > 0.0);            /* any target is a positive z */
    assert_true((float)gp_z_from_target(-3.0, 0.02) > 0.0f);    /* also as a float sample */
    assert_true((float)gp_z_from_target(-1e30, 0.02) > 0.0f);
    assert_true(gp_z_from_target(0.123, 0.0) == 0.123);          /* s = 0: z itself */
    assert_true(gp_z_to_target(-0.01, 0.0) == -0.01);
}

static void test_open_errors(void **state)
{
    (void)state;
    gp_model *m = NULL;
    gp_error err;
    gp_model_options o = gp_model_options_default();
    assert_int_not_equal(gp_model_open("/nonexistent/model.gpw", &o, &m, &err), GP_OK);
    assert_null(m);
    assert_non_null(strstr(err.msg, "/nonexistent/model.gpw"));
    o.threads = -4;
    assert_int_equal(gp_model_open(path_img, &o, &m, &err), GP_ERR_ARG);
#ifndef GP_HAVE_CUDA
    o.threads = 1;
    o.backend = GP_BACKEND_CUDA;
    assert_int_equal(gp_model_open(path_img, &o, &m, &err), GP_ERR_BACKEND);
    assert_non_null(strstr(err.msg, "CUDA"));
    o.backend = GP_BACKEND_AUTO;
    assert_int_equal(gp_model_open(path_img, &o, &m, &err), GP_OK);
    assert_non_null(strstr(gp_model_backend_note(m), "CUDA not used"));
    assert_non_null(strstr(gp_model_backend_name(m), "cpu"));
    gp_model_close(m);
#endif
}

int main(void)
{
    gp_test_seed("test_infer");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_summaries_match_naive),
        cmocka_unit_test(test_summary_quantiles),
        cmocka_unit_test(test_summary_line_interval),
        cmocka_unit_test(test_summary_correlations),
        cmocka_unit_test(test_position_key),
        cmocka_unit_test(test_summary_lines),
        cmocka_unit_test(test_background_summaries),
        cmocka_unit_test(test_bad_galaxies_fail_alone),
        cmocka_unit_test(test_photometry_clipped),
        cmocka_unit_test(test_cutouts_alloc),
        cmocka_unit_test(test_photometry_only),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_z_softplus),
        cmocka_unit_test(test_z_softplus_bad_key),
        cmocka_unit_test(test_z_target_roundtrip),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
