/*
 * gp_summary.c: posterior summaries and per-sample line diagnostics
 * (design.md section 3).
 *
 * Percentiles use linear interpolation between order statistics at
 * position q (n - 1) (numpy's default); std is the population standard
 * deviation (ddof = 0); sums are accumulated in double.
 * Per sample, with F = 10^y - 1 the line fluxes (1e-17 erg/s/cm^2):
 *   BPT (all four fluxes > 0): x = log(NII/Ha), y = log(OIII/Hb);
 *     star-forming: x < 0.05 and y < 0.61/(x - 0.05) + 1.30 (Kauffmann+03);
 *     composite: otherwise x < 0.47 and y < 0.61/(x - 0.47) + 1.19 (Kewley+01);
 *     else Seyfert if y > 1.05 x + 0.45 (Schawinski+07), else LINER.
 *   Balmer decrement Ha/Hb; E(B-V) = 1.966 log10(dec / 2.86) clipped at 0
 *     (Calzetti+00, k(Hb) = 4.598, k(Ha) = 3.326); A_V = 4.05 E(B-V).
 *   SFR(Ha) = L(Ha) 10^(0.4 k(Ha) E(B-V)) / 10^41.27 (Kennicutt & Evans 2012,
 *     Kroupa), L = 4 pi D_L(z)^2 F with z the sample's redshift.
 *   PP04: 12+log(O/H) = 8.90 + 0.57 N2 (N2 = log(NII/Ha), -2.5 < N2 < -0.3)
 *     and 8.73 - 0.32 O3N2 (O3N2 = y - x, O3N2 < 1.9).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galpost/gp_model.h"
#include "gp_cosmo.h"
#include "gp_select.h"

static double quantile_sorted(const double *v, int n, double q)
{
    double pos = q * (n - 1);
    int i = (int)floor(pos);
    if (i >= n - 1) return v[n - 1];
    double f = pos - i;
    return v[i] + f * (v[i + 1] - v[i]);
}

/* Median and the 16th / 84th percentiles (quantile_sorted's interpolation
 * between ranks i and i + 1), from the six ranks placed by
 * gp_select_ranks: the same values as after a full sort. */
static void stat_of(double *v, int n, gp_stat *out)
{
    out->n = n;
    if (n == 0) { out->median = out->p16 = out->p84 = NAN; return; }
    const double q[3] = { 0.16, 0.5, 0.84 };
    size_t r[6];
    int nr = 0;
    for (int k = 0; k < 3; k++) {
        size_t i = (size_t)floor(q[k] * (n - 1));
        for (size_t t = i; t <= i + 1 && t < (size_t)n; t++)
            if (nr == 0 || r[nr - 1] < t) r[nr++] = t;
    }
    gp_select_ranks(v, (size_t)n, r, nr);
    out->median = quantile_sorted(v, n, 0.5);
    out->p16 = quantile_sorted(v, n, 0.16);
    out->p84 = quantile_sorted(v, n, 0.84);
}

/* The quantile at q of v[0..n) (n > 0), placed by gp_select_ranks. */
static double select_quantile(double *v, int n, double q)
{
    size_t i = (size_t)floor(q * (n - 1)), r[2];
    int nr = 0;
    for (size_t t = i; t <= i + 1 && t < (size_t)n; t++) r[nr++] = t;
    gp_select_ranks(v, (size_t)n, r, nr);
    return quantile_sorted(v, n, q);
}

int gp_interval_probs(double p_zero, double level, double *plo, double *phi)
{
    /* tail rounds a little above the fraction it means for some levels
     * (0.5 (1 - 0.95) = 0.025000000000000022), where 5 zeros of 200 samples
     * give 0.025 exactly: a margin far below 1/n keeps "2.5% or more" */
    double tail = 0.5 * (1.0 - level);
    if (p_zero >= tail - 1e-12) {
        *plo = 0.0;
        *phi = level;
        return 1;
    }
    *plo = tail;
    *phi = 1.0 - tail;
    return 0;
}

int gp_bpt_classify(double x, double y)
{
    if (x < 0.05 && y < 0.61 / (x - 0.05) + 1.30) return GP_BPT_STARFORMING;
    if (x < 0.47 && y < 0.61 / (x - 0.47) + 1.19) return GP_BPT_COMPOSITE;
    return y > 1.05 * x + 0.45 ? GP_BPT_SEYFERT : GP_BPT_LINER;
}

int gp_summary_compute(const float *samples, int n, gp_summary *out, gp_error *err)
{
    if (!samples || !out || n < 2)
        return GP_FAIL(err, GP_ERR_ARG, "summary: need at least 2 samples (got %d)", n);
    for (size_t i = 0; i < (size_t)n * GP_NQ; i++)
        if (!isfinite(samples[i]))
            return GP_FAIL(err, GP_ERR_DATA, "summary: sample %zu of %s is not finite",
                           i / GP_NQ, gp_quantity_name((int)(i % GP_NQ)));
    double p_detect = out->p_detect;
    memset(out, 0, sizeof *out);
    out->p_detect = p_detect;
    /* v: the selection's scratch (8 columns, reused by the line diagnostics);
     * x: the samples by quantity, then centred */
    double *v = malloc(sizeof(double) * (size_t)n * (8 + GP_NQ));
    if (!v) return GP_FAIL(err, GP_ERR_NOMEM, "summary: cannot allocate %d samples", n);
    double *xq = v + 8 * (size_t)n;

    /* Sums over the samples in ascending order, as a loop per quantity (and
     * per pair of quantities) would add them, but with the quantities inner:
     * nine independent chains of additions instead of one at a time. */
    double sum[GP_NQ] = {0}, ss[GP_NQ] = {0};
    for (int i = 0; i < n; i++)
        for (int q = 0; q < GP_NQ; q++) {
            double t = samples[(size_t)i * GP_NQ + q];
            xq[(size_t)q * n + i] = t;
            sum[q] += t;
        }
    for (int q = 0; q < GP_NQ; q++) {
        out->mean[q] = sum[q] / n;
        memcpy(v, xq + (size_t)q * n, sizeof(double) * (size_t)n);
        int zeros = 0;
        if (q >= GP_Q_HALPHA)   /* gp_infer returns F <= 0 as y = 0 */
            for (int i = 0; i < n; i++) zeros += v[i] <= 0.0;
        gp_stat st;
        stat_of(v, n, &st);
        out->median[q] = st.median;
        out->p16[q] = st.p16;
        out->p84[q] = st.p84;
        out->p_zero[q] = (double)zeros / n;
        double plo, phi;
        if (gp_interval_probs(out->p_zero[q], 0.68, &plo, &phi)) {
            out->lo68[q] = 0.0;
            out->hi68[q] = select_quantile(v, n, phi);
        } else {
            out->lo68[q] = st.p16;
            out->hi68[q] = st.p84;
        }
    }
    for (int i = 0; i < n; i++)
        for (int q = 0; q < GP_NQ; q++) {
            double d = xq[(size_t)q * n + i] - out->mean[q];
            xq[(size_t)q * n + i] = d;
            ss[q] += d * d;
        }
    for (int q = 0; q < GP_NQ; q++) out->std[q] = sqrt(ss[q] / n);
    for (int a = 0; a < GP_NQ; a++) {
        const double *xa = xq + (size_t)a * n;
        double c[GP_NQ] = {0};
        for (int i = 0; i < n; i++)
            for (int b = a; b < GP_NQ; b++) c[b] += xa[i] * xq[(size_t)b * n + i];
        for (int b = a; b < GP_NQ; b++) {
            double d = out->std[a] * out->std[b];
            /* (a quantity without spread, such as a line with every sample
             * at F = 0, correlates with nothing: undefined, not 0) */
            double r = a == b ? 1.0 : (d > 0 ? c[b] / n / d : NAN);
            if (r > 1) r = 1;
            if (r < -1) r = -1;
            out->corr[a][b] = out->corr[b][a] = r;
        }
    }

    /* per-sample line diagnostics */
    double *sfr = v, *dec = v + n, *av = v + 2 * (size_t)n, *n2oh = v + 3 * (size_t)n,
           *o3n2oh = v + 4 * (size_t)n, *ln2 = v + 5 * (size_t)n, *lo3 = v + 6 * (size_t)n;
    int nsfr = 0, ndec = 0, nn2 = 0, no3n2 = 0, nbpt = 0, nx = 0, ny = 0;
    int counts[GP_NBPT] = {0};
    for (int i = 0; i < n; i++) {
        const float *s = samples + (size_t)i * GP_NQ;
        double ha = pow(10.0, s[GP_Q_HALPHA]) - 1, hb = pow(10.0, s[GP_Q_HBETA]) - 1;
        double nii = pow(10.0, s[GP_Q_NII6584]) - 1, oiii = pow(10.0, s[GP_Q_OIII5007]) - 1;
        /* a sample far outside the training range (log10(1 + F) in the
         * hundreds, as a flow extrapolating gives) can overflow a flux, a ratio
         * or the dust correction: such a value defines no diagnostic, since
         * inf - inf would turn the percentiles into NaN.  (The per-value tests
         * below do not make this step redundant: an overflowing Hbeta under a
         * finite Halpha gives a finite decrement of 0.) */
        if (!isfinite(ha)) ha = NAN;
        if (!isfinite(hb)) hb = NAN;
        if (!isfinite(nii)) nii = NAN;
        if (!isfinite(oiii)) oiii = NAN;
        double ebv = 0;
        if (ha > 0 && hb > 0) {
            double d = ha / hb, e = 1.966 * log10(d / 2.86);
            if (e < 0) e = 0;
            if (isfinite(d) && isfinite(4.05 * e)) {
                ebv = e;
                dec[ndec] = d;
                av[ndec++] = 4.05 * e;
            }
        }
        if (ha > 0 && s[GP_Q_Z] > 0) {
            double dl_cm = gp_cosmo_lumdist_mpc(s[GP_Q_Z]) * 3.0857e24;
            double L = 4 * M_PI * dl_cm * dl_cm * ha * 1e-17 * pow(10.0, 0.4 * 3.326 * ebv);
            double lsfr = log10(L) - 41.27;
            if (isfinite(lsfr)) sfr[nsfr++] = lsfr;
        }
        double x = NAN, y = NAN;
        if (ha > 0 && nii > 0) {
            x = log10(nii / ha);
            if (isfinite(x)) {
                ln2[nx++] = x;
                if (x > -2.5 && x < -0.3) n2oh[nn2++] = 8.90 + 0.57 * x;
            }
        }
        if (hb > 0 && oiii > 0) {
            y = log10(oiii / hb);
            if (isfinite(y)) lo3[ny++] = y;
        }
        if (isfinite(x) && isfinite(y)) {
            counts[gp_bpt_classify(x, y)]++;
            nbpt++;
            double o3n2 = y - x;
            if (o3n2 < 1.9) o3n2oh[no3n2++] = 8.73 - 0.32 * o3n2;
        }
    }
    stat_of(sfr, nsfr, &out->sfr_halpha);
    stat_of(dec, ndec, &out->balmer_decrement);
    stat_of(av, ndec, &out->a_v);
    stat_of(n2oh, nn2, &out->oh_n2);
    stat_of(o3n2oh, no3n2, &out->oh_o3n2);
    stat_of(ln2, nx, &out->log_n2);
    stat_of(lo3, ny, &out->log_o3);
    out->bpt_n = nbpt;
    out->bpt_class = -1;
    int best = 0;
    for (int c = 0; c < GP_NBPT; c++) {
        out->p_bpt[c] = nbpt ? (double)counts[c] / nbpt : 0.0;
        if (nbpt && counts[c] > best) { best = counts[c]; out->bpt_class = c; }
    }
    free(v);
    return GP_OK;
}

static double line_flux(double y) { return pow(10.0, y) - 1.0; }

/* The strongest posterior correlations among the five physical quantities
 * (|r| >= GP_SUMMARY_CORR_SHOWN, at most four, strongest first): what a
 * user must carry along when using two of them together (the whole 9 x 9
 * matrix is in --json and the tables' corr column). */
#define GP_SUMMARY_CORR_SHOWN 0.3
static void print_correlations(FILE *f, const gp_summary *s)
{
    int pa[10], pb[10], n = 0;
    for (int a = 0; a < GP_Q_HALPHA; a++)
        for (int b = a + 1; b < GP_Q_HALPHA; b++)
            if (fabs(s->corr[a][b]) >= GP_SUMMARY_CORR_SHOWN) { pa[n] = a; pb[n] = b; n++; }
    for (int i = 1; i < n; i++)   /* (insertion sort by |r|, largest first) */
        for (int j = i; j > 0 && fabs(s->corr[pa[j]][pb[j]]) > fabs(s->corr[pa[j - 1]][pb[j - 1]]); j--) {
            int t = pa[j]; pa[j] = pa[j - 1]; pa[j - 1] = t;
            t = pb[j]; pb[j] = pb[j - 1]; pb[j - 1] = t;
        }
    if (n == 0) {
        fprintf(f, "  correlations: none with |r| >= %.1f among the quantities above\n", GP_SUMMARY_CORR_SHOWN);
        return;
    }
    fprintf(f, "  correlations (|r| >= %.1f):", GP_SUMMARY_CORR_SHOWN);
    for (int k = 0; k < n && k < 4; k++)
        fprintf(f, "%s %s & %s %+.2f", k ? "," : "", gp_quantity_label(pa[k]), gp_quantity_label(pb[k]),
                s->corr[pa[k]][pb[k]]);
    fprintf(f, "\n");
}

void gp_summary_print(const gp_result *r, FILE *f)
{
    const gp_summary *s = &r->summary;
    fprintf(f, "galaxy %llu  (%d samples%s%s%s)\n", (unsigned long long)r->id, r->nsamples,
            r->flags & GP_FLAG_EDGE ? ", cutout crosses the frame edge" : "",
            r->flags & GP_FLAG_MASKED ? ", masked pixels filled" : "",
            r->flags & GP_FLAG_RESAMPLED ? ", resampled" : "");
    if (r->status != GP_OK) { fprintf(f, "  failed: %s\n", r->message); return; }
    if (r->flags & GP_FLAG_IMAGE_UNLIKE)
        fprintf(f, "  WARNING: the image is unlike the training images (latent distance^2 %.1f, limit %.1f):"
                " do not trust these posteriors\n", r->latent_d2, r->latent_d2_limit);
    if (r->flags & GP_FLAG_PHOT_UNLIKE)
        fprintf(f, "  WARNING: the colours and magnitudes together are unlike the training set's (distance^2 %.1f,"
                " limit %.1f): do not trust these posteriors\n", r->phot_d2, r->phot_d2_limit);
    if ((r->flags & GP_FLAG_NO_SOURCE) && r->source_snr >= GP_SOURCE_SNR_LIMIT)
        /* bright enough, but on the slope of something beside the position */
        fprintf(f, "  WARNING: the cutout is not centred on a source (the light rises away from the centre to a"
                " peak %.1f\" or more away, limit %.2f\"; central S/N %.1f): do not trust these posteriors\n",
                r->source_peak, GP_SOURCE_PEAK_LIMIT, r->source_snr);
    else if (r->flags & GP_FLAG_NO_SOURCE)
        fprintf(f, "  WARNING: no source at the centre of the cutout (central S/N %.1f, limit %.0f; brightness peak"
                " %.1f\" from the centre, limit %.2f\"): do not trust these posteriors\n", r->source_snr,
                GP_SOURCE_SNR_LIMIT, r->source_peak, GP_SOURCE_PEAK_LIMIT);
    if (r->flags & GP_FLAG_NONDETECTION)
        fprintf(f, "  note: u or z had no positive flux in the aperture: its magnitude is %.0f, as SDSS writes a"
                " non-detection\n", (double)GP_NONDETECTION_MAG);
    if (r->flags & GP_FLAG_PHOT_CLIPPED)
        fprintf(f, "  WARNING: a colour or magnitude lies beyond 5 sigma of the training set and was held there"
                " (a non-detection?)\n");
    fprintf(f, "  %-14s %10s %10s %10s %10s %10s\n", "quantity", "median", "-1sigma", "+1sigma", "mean", "std");
    for (int q = 0; q < GP_Q_HALPHA; q++)
        fprintf(f, "  %-14s %10.3f %10.3f %10.3f %10.3f %10.3f\n", gp_quantity_label(q), s->median[q],
                s->median[q] - s->p16[q], s->p84[q] - s->median[q], s->mean[q], s->std[q]);
    print_correlations(f, s);
    fprintf(f, "  P(metallicity measurable) = %.3f\n", s->p_detect);
    fprintf(f, "  line fluxes [1e-17 erg/s/cm^2]: median (68%% interval; from 0, an upper limit, where F <= 0"
               " is 16%% likely or more)\n");
    for (int q = GP_Q_HALPHA; q < GP_NQ; q++) {
        double a, b;
        if (gp_interval_probs(s->p_zero[q], 0.68, &a, &b) && s->hi68[q] <= 0.0)   /* F <= 0 68% likely or more */
            fprintf(f, "  %-14s %10.2f  (not detected: P(F <= 0) = %.2f)\n", gp_quantity_label(q),
                    line_flux(s->median[q]), s->p_zero[q]);
        else if (gp_interval_probs(s->p_zero[q], 0.68, &a, &b))
            fprintf(f, "  %-14s %10.2f  (0 - %.2f, upper limit; P(F <= 0) = %.2f)\n", gp_quantity_label(q),
                    line_flux(s->median[q]), line_flux(s->hi68[q]), s->p_zero[q]);
        else
            fprintf(f, "  %-14s %10.2f  (%.2f - %.2f)\n", gp_quantity_label(q), line_flux(s->median[q]),
                    line_flux(s->lo68[q]), line_flux(s->hi68[q]));
    }
    if (s->bpt_class >= 0)
        fprintf(f, "  BPT: %s (p = %.2f; SF %.2f, composite %.2f, Seyfert %.2f, LINER %.2f; %d samples)\n",
                gp_bpt_class_name(s->bpt_class), s->p_bpt[s->bpt_class], s->p_bpt[0], s->p_bpt[1],
                s->p_bpt[2], s->p_bpt[3], s->bpt_n);
    else
        fprintf(f, "  BPT: undefined (no sample with all four lines positive)\n");
    const struct { const char *name; const gp_stat *st; } d[] = {
        { "log SFR(Halpha)", &s->sfr_halpha }, { "Halpha/Hbeta", &s->balmer_decrement },
        { "A_V", &s->a_v }, { "O/H (PP04 N2)", &s->oh_n2 }, { "O/H (PP04 O3N2)", &s->oh_o3n2 },
    };
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++)
        if (d[i].st->n > 0)
            fprintf(f, "  %-16s %8.3f  (%.3f - %.3f; %d samples)\n", d[i].name, d[i].st->median,
                    d[i].st->p16, d[i].st->p84, d[i].st->n);
}
