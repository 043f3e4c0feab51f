/* gp_mock_report.c: distribution checks against physics.md and real SDSS tables, plots. */
#include "config.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "galpost/gp_plot.h"
#include "gp_mock.h"
#include "gp_mock_render.h"
#include "gp_mock_report.h"

/* ---------------- sampling ---------------- */
typedef struct sjob { uint64_t seed; long first, n; int t, nt; gp_mock_galaxy *g; int st; gp_error err; } sjob;

static void *sample_worker(void *a)
{
    sjob *j = a;
    for (long i = j->t; i < j->n && !j->st; i += j->nt)
        j->st = gp_mock_galaxy_draw(j->seed, (uint64_t)(j->first + i), NULL, &j->g[i], &j->err);
    return NULL;
}

int gp_mock_sample(uint64_t seed, long first, long n, int nthreads, gp_mock_galaxy **out, gp_error *err)
{
    if (n < 1 || n > 10000000L || first < 0)
        return GP_FAIL(err, GP_ERR_ARG, "mock sample: count %ld or first index %ld out of range", n, first);
    gp_mock_galaxy *g = malloc(sizeof *g * (size_t)n);
    if (!g) return GP_FAIL(err, GP_ERR_NOMEM, "mock sample: no memory for %ld galaxies", n);
    int nt = nthreads > 0 ? nthreads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (nt < 1) nt = 1;
    if (nt > 32) nt = 32;
    sjob jobs[32];
    pthread_t tid[32];
    int started[32] = { 0 };
    for (int t = 0; t < nt; t++) {
        jobs[t] = (sjob){ seed, first, n, t, nt, g, 0, { 0 } };
        started[t] = t > 0 && pthread_create(&tid[t], NULL, sample_worker, &jobs[t]) == 0;
        if (t > 0 && !started[t]) sample_worker(&jobs[t]);
    }
    sample_worker(&jobs[0]);
    int rc = GP_OK;
    for (int t = 0; t < nt; t++) {
        if (started[t]) pthread_join(tid[t], NULL);
        if (jobs[t].st && !rc) { rc = jobs[t].st; if (err) *err = jobs[t].err; }
    }
    if (rc) { free(g); return rc; }
    *out = g;
    return GP_OK;
}

/* ---------------- statistics ---------------- */
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void percentiles(double *v, long n, double pct[5])
{
    static const double p[5] = { 0.1, 0.25, 0.5, 0.75, 0.9 };
    if (n <= 0) { for (int k = 0; k < 5; k++) pct[k] = NAN; return; }
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    for (int k = 0; k < 5; k++) {
        double x = p[k] * (n - 1);
        long i = (long)x;
        pct[k] = i + 1 < n ? v[i] + (x - i) * (v[i + 1] - v[i]) : v[n - 1];
    }
}

/* two-sample KS distance; both arrays sorted */
static double ks_distance(const double *a, long na, const double *b, long nb)
{
    long i = 0, j = 0;
    double d = 0;
    while (i < na && j < nb) {
        double x = a[i] <= b[j] ? a[i] : b[j];
        while (i < na && a[i] <= x) i++;
        while (j < nb && b[j] <= x) j++;
        double diff = fabs((double)i / na - (double)j / nb);
        if (diff > d) d = diff;
    }
    return d;
}

void gp_mock_summarise(const gp_mock_galaxy *g, long n, gp_mock_summary *s)
{
    memset(s, 0, sizeof *s);
    s->n = n;
    double *v = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    if (!v || n <= 0) { free(v); return; }
    for (long i = 0; i < n; i++) v[i] = g[i].z;
    percentiles(v, n, s->z_pct);
    for (long i = 0; i < n; i++) v[i] = g[i].logm_true;
    percentiles(v, n, s->logm_pct);
    long nq = 0, nm = 0, nsf = 0;
    for (long i = 0; i < n; i++) {
        if (g[i].logsfr_true - g[i].logm_true < -11.0) nq++;
        if (g[i].oh_measurable) nm++;
        int k = g[i].bptclass + 1;
        if (k >= 0 && k < 7) s->bpt_frac[k] += 1.0 / n;
        if (g[i].sfstate == GP_SFSTATE_SF) v[nsf++] = g[i].line_flux[0] / g[i].line_err[0];
    }
    s->quenched_frac = (double)nq / n;
    s->oh_measurable_frac = (double)nm / n;
    double pct[5];
    percentiles(v, nsf, pct);
    s->snr_ha_sf_median = pct[2];
    free(v);
}

/* ---------------- real tables ---------------- */
typedef struct csv_table { int ncol; char names[32][40]; double *val; long nrow; } csv_table;

static int csv_read(const char *path, csv_table *t, gp_error *err)
{
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "r");
    if (!f) return GP_FAIL(err, GP_ERR_NOTFOUND, "%s: cannot open the real table", path);
    char line[4096];
    if (!fgets(line, sizeof line, f)) { fclose(f); return GP_FAIL(err, GP_ERR_FORMAT, "%s: empty", path); }
    for (char *tok = strtok(line, ",\r\n"); tok && t->ncol < 32; tok = strtok(NULL, ",\r\n"))
        snprintf(t->names[t->ncol++], sizeof t->names[0], "%s", tok);
    long cap = 4096;
    t->val = malloc(sizeof(double) * (size_t)cap * t->ncol);
    while (t->val && fgets(line, sizeof line, f)) {
        if (t->nrow == cap) {
            cap *= 2;
            double *nv = realloc(t->val, sizeof(double) * (size_t)cap * t->ncol);
            if (!nv) { free(t->val); t->val = NULL; break; }
            t->val = nv;
        }
        char *p = line;
        for (int c = 0; c < t->ncol; c++) {
            char *end;
            t->val[t->nrow * t->ncol + c] = strtod(p, &end);
            if (end == p) t->val[t->nrow * t->ncol + c] = NAN;
            p = strchr(end, ',');
            if (!p) { for (int d = c + 1; d < t->ncol; d++) t->val[t->nrow * t->ncol + d] = NAN; break; }
            p++;
        }
        t->nrow++;
    }
    fclose(f);
    if (!t->val) return GP_FAIL(err, GP_ERR_NOMEM, "%s: no memory", path);
    return GP_OK;
}

static int csv_col(const csv_table *t, const char *name, const char *path, gp_error *err)
{
    for (int c = 0; c < t->ncol; c++) if (!strcmp(t->names[c], name)) return c;
    GP_FAIL(err, GP_ERR_FORMAT, "%s: no column '%s'", path, name);
    return -1;
}

static void fill_compare(gp_mock_compare *c, const char *name, double *m, long nm, double *r, long nr)
{
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    c->n_mock = nm; c->n_real = nr;
    percentiles(m, nm, c->mock_pct);   /* sorts */
    percentiles(r, nr, c->real_pct);
    c->ks_d = nm > 0 && nr > 0 ? ks_distance(m, nm, r, nr) : NAN;
}

static int colour_cut_mock(const gp_mock_galaxy *g)
{
    return g->modelmag[0] <= 19.6 && g->modelmag[1] <= 20.0;
}

int gp_mock_compare_real(const gp_mock_galaxy *g, long n, const char *datadir,
                         gp_mock_compare *cmp, int maxcmp, int *ncmp, gp_error *err)
{
    char path[4096], path2[4096];
    snprintf(path, sizeof path, "%s/sdss-tables/dr14-galaxies-specz.csv", datadir);
    snprintf(path2, sizeof path2, "%s/sdss-tables/ugriz-bpt-lines.csv", datadir);
    csv_table a, b;
    int rc = csv_read(path, &a, err);
    if (rc) return rc;
    rc = csv_read(path2, &b, err);
    if (rc) { free(a.val); return rc; }
    *ncmp = 0;
    double *m = malloc(sizeof(double) * (size_t)(n + 1)), *r = malloc(sizeof(double) * (size_t)(a.nrow + b.nrow + 1));
    int cu = csv_col(&a, "u", path, err), cg = csv_col(&a, "g", path, err), cr = csv_col(&a, "r", path, err),
        ci = csv_col(&a, "i", path, err), cz = csv_col(&a, "z", path, err), czz = csv_col(&a, "redshift", path, err);
    int lc[4] = { csv_col(&b, "h_alpha_flux", path2, err), csv_col(&b, "h_beta_flux", path2, err),
                  csv_col(&b, "nii_6584_flux", path2, err), csv_col(&b, "oiii_5007_flux", path2, err) };
    int lr = csv_col(&b, "r", path2, err);
    if (!m || !r) rc = GP_FAIL(err, GP_ERR_NOMEM, "mock report: no memory");
    else if (cu < 0 || cg < 0 || cr < 0 || ci < 0 || cz < 0 || czz < 0 || lr < 0 ||
             lc[0] < 0 || lc[1] < 0 || lc[2] < 0 || lc[3] < 0) rc = GP_ERR_FORMAT;
    if (!rc) {
        int cols[5] = { cu, cg, cr, ci, cz };
        const char *names[4] = { "u-g", "g-r", "r-i", "i-z" };
        for (int k = 0; k < 4 && *ncmp < maxcmp; k++) {
            long nm = 0, nr = 0;
            for (long i = 0; i < n; i++)
                if (colour_cut_mock(&g[i])) m[nm++] = g[i].modelmag[k] - g[i].modelmag[k + 1];
            for (long i = 0; i < a.nrow; i++) {
                const double *row = a.val + i * a.ncol;
                if (row[cr] <= 17.77) r[nr++] = row[cols[k]] - row[cols[k + 1]];
            }
            fill_compare(&cmp[(*ncmp)++], names[k], m, nm, r, nr);
        }
        static const double zb[5] = { 0.0, 0.05, 0.1, 0.15, 0.3 };
        for (int k = 0; k < 4 && *ncmp < maxcmp; k++) {
            long nm = 0, nr = 0;
            for (long i = 0; i < n; i++)
                if (colour_cut_mock(&g[i]) && g[i].z >= zb[k] && g[i].z < zb[k + 1])
                    m[nm++] = g[i].modelmag[1] - g[i].modelmag[2];
            for (long i = 0; i < a.nrow; i++) {
                const double *row = a.val + i * a.ncol;
                if (row[cr] <= 17.77 && row[czz] >= zb[k] && row[czz] < zb[k + 1]) r[nr++] = row[cg] - row[cr];
            }
            char nm_[48];
            snprintf(nm_, sizeof nm_, "g-r, %.2f<=z<%.2f", zb[k], zb[k + 1]);
            fill_compare(&cmp[(*ncmp)++], nm_, m, nm, r, nr);
        }
        if (*ncmp < maxcmp) {
            long nm = 0, nr = 0;
            for (long i = 0; i < n; i++) if (colour_cut_mock(&g[i])) m[nm++] = g[i].z;
            for (long i = 0; i < a.nrow; i++) {
                const double *row = a.val + i * a.ncol;
                if (row[cr] <= 17.77) r[nr++] = row[czz];
            }
            fill_compare(&cmp[(*ncmp)++], "redshift", m, nm, r, nr);
        }
        const char *lnames[4] = { "log F(Halpha)", "log F(Hbeta)", "log F([NII])", "log F([OIII])" };
        for (int k = 0; k < 4 && *ncmp < maxcmp; k++) {
            long nm = 0, nr = 0;
            for (long i = 0; i < n; i++) {
                int ok = 1;
                for (int l = 0; l < 4; l++) ok &= g[i].line_flux[l] > 3.0 * g[i].line_err[l];
                if (ok) m[nm++] = log10(g[i].line_flux[k]);
            }
            for (long i = 0; i < b.nrow; i++) {
                const double *row = b.val + i * b.ncol;
                if (row[lr] > 0 && row[lr] <= 17.77 && row[lc[k]] > 0) r[nr++] = log10(row[lc[k]]);
            }
            fill_compare(&cmp[(*ncmp)++], lnames[k], m, nm, r, nr);
        }
        if (*ncmp < maxcmp) {
            /* u-r bimodality in one redshift bin (a narrow bin: the peaks move with z) */
            long nm = 0, nr = 0;
            for (long i = 0; i < n; i++)
                if (colour_cut_mock(&g[i]) && g[i].z >= 0.06 && g[i].z < 0.10)
                    m[nm++] = g[i].modelmag[0] - g[i].modelmag[2];
            for (long i = 0; i < a.nrow; i++) {
                const double *row = a.val + i * a.ncol;
                if (row[cr] <= 17.77 && row[czz] >= 0.06 && row[czz] < 0.10) r[nr++] = row[cu] - row[cr];
            }
            gp_mock_compare *c = &cmp[(*ncmp)++];
            fill_compare(c, "u-r, 0.06<=z<0.10", m, nm, r, nr);
            c->has_mix = gp_mock_bimodal_fit(m, nm, &c->mock_mix) == 0 &&
                         gp_mock_bimodal_fit(r, nr, &c->real_mix) == 0;
        }
    }
    free(m); free(r); free(a.val); free(b.val);
    return rc;
}

/* ---------------- plots ---------------- */
static double k03_curve(double x, void *a) { (void)a; return x < 0.05 ? gp_mock_kauffmann03(x) : NAN; }
static double k01_curve(double x, void *a) { (void)a; return x < 0.47 ? gp_mock_kewley01(x) : NAN; }
static double s07_curve(double x, void *a) { (void)a; return x > -0.2 ? 1.05 * x + 0.45 : NAN; }
static double t04_curve(double x, void *a) { (void)a; return -1.492 + 1.847 * x - 0.08026 * x * x; }
static double rp15_curve(double x, void *a) { (void)a; return 0.76 * x - 7.64; }

static const gp_plot_style mock_style = { 0.85, 0.25, 0.1, 0.25, 1.3, 0, 0, "mock" };
static const gp_plot_style real_style = { 0.1, 0.3, 0.85, 0.45, 1.6, 0, 0, "SDSS" };
static const gp_plot_style line_style = { 0, 0, 0, 1, 1.5, 0, 0, NULL };
static const gp_plot_style dash_style = { 0, 0, 0, 1, 1.5, 1, 0, NULL };

static int write_plots(const gp_mock_galaxy *g, long n, const char *outdir, const char *datadir,
                       uint64_t seed, FILE *out, gp_error *err)
{
    char path[4096];
    double *x = malloc(sizeof(double) * (size_t)n * 2), *y = x ? x + n : NULL;
    if (!x) return GP_FAIL(err, GP_ERR_NOMEM, "mock report: no memory for plots");
    int rc = GP_OK;
    /* real colours for overlays */
    double *rx = NULL, *ry = NULL, *rz = NULL, *rgr = NULL;
    long nr = 0;
    if (datadir) {
        char p[4096];
        snprintf(p, sizeof p, "%s/sdss-tables/dr14-galaxies-specz.csv", datadir);
        FILE *f = fopen(p, "r");
        if (f) {
            char line[2048];
            long cap = 8192;
            rx = malloc(sizeof(double) * cap * 4);
            if (rx) { ry = rx + cap; rz = ry + cap; rgr = rz + cap; }
            if (!fgets(line, sizeof line, f)) nr = 0;
            while (rx && nr < cap && fgets(line, sizeof line, f)) {
                double ra, dec, u, gg, r, i, z, zz;
                if (sscanf(line, "%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf", &ra, &dec, &u, &gg, &r, &i, &z, &zz) != 8) continue;
                if (r > 17.77) continue;
                rx[nr] = u - gg; rgr[nr] = gg - r; ry[nr] = r - i; rz[nr] = zz; nr++;
            }
            fclose(f);
        }
    }
    gp_plot *p = gp_plot_new(1400, 650, 1, 2, err);
    if (!p) { free(x); free(rx); return GP_ERR_NOMEM; }
    long m = 0;
    for (long i = 0; i < n; i++) if (colour_cut_mock(&g[i])) {
        x[m] = g[i].modelmag[1] - g[i].modelmag[2]; y[m] = g[i].modelmag[0] - g[i].modelmag[1]; m++; }
    gp_plot_panel(p, 0);
    gp_plot_limits(p, 0.0, 1.3, 0.4, 2.6);
    gp_plot_labels(p, "colour-colour (u<=19.6, g<=20, r<=17.77)", "g - r", "u - g");
    gp_plot_scatter(p, x, y, (int)m, &mock_style);
    if (nr) gp_plot_scatter(p, rgr, rx, (int)nr, &real_style);
    m = 0;
    for (long i = 0; i < n; i++) if (colour_cut_mock(&g[i])) {
        x[m] = g[i].modelmag[1] - g[i].modelmag[2]; y[m] = g[i].modelmag[2] - g[i].modelmag[3]; m++; }
    gp_plot_panel(p, 1);
    gp_plot_limits(p, 0.0, 1.3, 0.0, 0.7);
    gp_plot_labels(p, "colour-colour", "g - r", "r - i");
    gp_plot_scatter(p, x, y, (int)m, &mock_style);
    if (nr) gp_plot_scatter(p, rgr, ry, (int)nr, &real_style);
    snprintf(path, sizeof path, "%s/colour-colour.png", outdir);
    rc = gp_plot_write_png(p, path, err);
    gp_plot_free(p);

    if (!rc && (p = gp_plot_new(800, 600, 1, 1, err))) {
        m = 0;
        for (long i = 0; i < n; i++) if (colour_cut_mock(&g[i])) {
            x[m] = g[i].z; y[m] = g[i].modelmag[1] - g[i].modelmag[2]; m++; }
        gp_plot_limits(p, 0.0, 0.3, 0.0, 1.4);
        gp_plot_labels(p, "colour-redshift (u<=19.6, g<=20, r<=17.77)", "redshift", "g - r");
        gp_plot_scatter(p, x, y, (int)m, &mock_style);
        if (nr) gp_plot_scatter(p, rz, rgr, (int)nr, &real_style);
        snprintf(path, sizeof path, "%s/colour-redshift.png", outdir);
        rc = gp_plot_write_png(p, path, err);
        gp_plot_free(p);
    }
    if (!rc && (p = gp_plot_new(800, 650, 1, 1, err))) {
        m = 0;
        for (long i = 0; i < n; i++) {
            int ok = 1;
            for (int l = 0; l < 4; l++) ok &= g[i].line_flux[l] > 3.0 * g[i].line_err[l];
            if (!ok) continue;
            x[m] = log10(g[i].line_flux[2] / g[i].line_flux[0]);
            y[m] = log10(g[i].line_flux[3] / g[i].line_flux[1]); m++;
        }
        gp_plot_limits(p, -2.0, 1.0, -1.5, 1.5);
        gp_plot_labels(p, "BPT (all four lines S/N > 3)", "log [NII]6584 / Halpha", "log [OIII]5007 / Hbeta");
        gp_plot_density(p, x, y, (int)m, 90, 90, &(gp_plot_style){ 0.6, 0.1, 0.1, 1, 0, 0, 1, "mock" });
        if (datadir) {
            char pp[4096];
            snprintf(pp, sizeof pp, "%s/sdss-tables/ugriz-bpt-lines.csv", datadir);
            FILE *f = fopen(pp, "r");
            if (f) {
                char line[2048];
                double *bx = malloc(sizeof(double) * 8192 * 2), *by = bx ? bx + 8192 : NULL;
                long nb = 0;
                if (!fgets(line, sizeof line, f)) nb = 0;
                while (bx && nb < 8192 && fgets(line, sizeof line, f)) {
                    double u, gg, r, i, z, hb, o3, ha, n2;
                    if (sscanf(line, "%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf", &u, &gg, &r, &i, &z, &hb, &o3, &ha, &n2) != 9) continue;
                    if (!(r > 0 && r <= 17.77 && hb > 0 && o3 > 0 && ha > 0 && n2 > 0)) continue;
                    bx[nb] = log10(n2 / ha); by[nb] = log10(o3 / hb); nb++;
                }
                fclose(f);
                if (bx) gp_plot_scatter(p, bx, by, (int)nb, &(gp_plot_style){ 0.1, 0.3, 0.85, 0.6, 1.8, 0, 0, "SDSS (r<=17.77)" });
                free(bx);
            }
        }
        gp_plot_curve(p, k03_curve, NULL, -2.0, 0.04, 200, &line_style);
        gp_plot_curve(p, k01_curve, NULL, -2.0, 0.46, 200, &dash_style);
        gp_plot_curve(p, s07_curve, NULL, -0.2, 1.0, 50, &(gp_plot_style){ 0.3, 0.3, 0.3, 1, 1, 1, 0, NULL });
        snprintf(path, sizeof path, "%s/bpt.png", outdir);
        rc = gp_plot_write_png(p, path, err);
        gp_plot_free(p);
    }
    if (!rc && (p = gp_plot_new(1400, 600, 1, 2, err))) {
        for (long i = 0; i < n; i++) { x[i] = g[i].lgm_tot_p50; y[i] = g[i].sfr_tot_p50; }
        gp_plot_panel(p, 0);
        gp_plot_limits(p, 8.5, 12.0, -3.5, 2.0);
        gp_plot_labels(p, "stellar mass - SFR (labels)", "lgm_tot_p50", "sfr_tot_p50");
        gp_plot_density(p, x, y, (int)n, 80, 80, &(gp_plot_style){ 0.1, 0.2, 0.6, 1, 0, 0, 1, "mock" });
        gp_plot_curve(p, rp15_curve, NULL, 8.5, 12.0, 50, &(gp_plot_style){ 0, 0, 0, 1, 1.5, 1, 0, "RP15 main sequence" });
        m = 0;
        for (long i = 0; i < n; i++) if (g[i].oh_measurable) { x[m] = g[i].lgm_tot_p50; y[m] = g[i].oh_p50; m++; }
        gp_plot_panel(p, 1);
        gp_plot_limits(p, 8.5, 11.8, 8.2, 9.5);
        gp_plot_labels(p, "mass - metallicity (measurable)", "lgm_tot_p50", "oh_p50 (T04)");
        gp_plot_density(p, x, y, (int)m, 80, 80, &(gp_plot_style){ 0.1, 0.5, 0.2, 1, 0, 0, 1, "mock" });
        gp_plot_curve(p, t04_curve, NULL, 8.5, 11.5, 50, &(gp_plot_style){ 0, 0, 0, 1, 1.5, 1, 0, "T04 MZR" });
        snprintf(path, sizeof path, "%s/mass-sfr-metallicity.png", outdir);
        rc = gp_plot_write_png(p, path, err);
        gp_plot_free(p);
    }
    /* example cutouts */
    if (!rc && (p = gp_plot_new(1200, 640, 2, 4, err))) {
        float *img = malloc(sizeof(float) * 3 * 160 * 160);
        int bands[3] = { GP_BAND_I, GP_BAND_R, GP_BAND_G };
        for (int k = 0; k < 8 && img && k < n && !rc; k++) {
            rc = gp_mock_render_cutout(seed, &g[k], bands, 3, 160, 0, img, err);
            char t[96];
            snprintf(t, sizeof t, "z=%.3f r=%.1f logM=%.1f", g[k].z, g[k].modelmag[2], g[k].logm_true);
            gp_plot_panel(p, k);
            gp_plot_labels(p, t, NULL, NULL);
            gp_plot_image_rgb(p, img, img + 160 * 160, img + 2 * 160 * 160, 160, 160, 0.05, 30.0);
        }
        free(img);
        snprintf(path, sizeof path, "%s/cutouts.png", outdir);
        if (!rc) rc = gp_plot_write_png(p, path, err);
        gp_plot_free(p);
    }
    if (!rc) fprintf(out, "plots: %s/{colour-colour,colour-redshift,bpt,mass-sfr-metallicity,cutouts}.png\n", outdir);
    free(x); free(rx);
    return rc;
}

static void print_report(FILE *out, uint64_t seed, const gp_mock_summary *s, const gp_mock_compare *c, int nc)
{
    fprintf(out, "galpost mock report: seed %llu, %ld MGS-selected galaxies\n\n",
            (unsigned long long)seed, s->n);
    fprintf(out, "%-28s %8s %8s %8s %8s %8s   %s\n", "quantity", "p10", "p25", "p50", "p75", "p90", "expected (physics.md)");
    fprintf(out, "%-28s %8.3f %8.3f %8.3f %8.3f %8.3f   0.044/0.069/0.105/0.142/0.178\n", "redshift",
            s->z_pct[0], s->z_pct[1], s->z_pct[2], s->z_pct[3], s->z_pct[4]);
    fprintf(out, "%-28s %8.2f %8.2f %8.2f %8.2f %8.2f   median 10.6-10.7 (10-90%%: 9.89-11.15)\n", "log M* (true)",
            s->logm_pct[0], s->logm_pct[1], s->logm_pct[2], s->logm_pct[3], s->logm_pct[4]);
    fprintf(out, "%-28s %8.3f   expected 0.35-0.5\n", "quenched fraction (sSFR<-11)", s->quenched_frac);
    fprintf(out, "%-28s %8.3f   expected 0.25-0.35\n", "measurable metallicity", s->oh_measurable_frac);
    fprintf(out, "%-28s %8.1f   expected 20-50\n", "median S/N(Halpha), SF", s->snr_ha_sf_median);
    fprintf(out, "bptclass fractions: -1 %.3f | 1 SF %.3f | 2 low-S/N SF %.3f | 3 comp %.3f | 4 AGN %.3f | 5 low-S/N LINER %.3f\n",
            s->bpt_frac[0], s->bpt_frac[2], s->bpt_frac[3], s->bpt_frac[4], s->bpt_frac[5], s->bpt_frac[6]);
    if (nc > 0) {
        fprintf(out, "\nmock vs SDSS (colours/z: dr14-galaxies-specz.csv, mock cut u<=19.6 g<=20, real r<=17.77;\n"
                     "lines: ugriz-bpt-lines.csv r<=17.77 vs mock with all four lines S/N>3)\n");
        fprintf(out, "%-22s %6s %6s  %-34s %-34s %6s\n", "quantity", "n_mock", "n_real", "mock p10/p25/p50/p75/p90",
                "real p10/p25/p50/p75/p90", "KS D");
        for (int k = 0; k < nc; k++)
            fprintf(out, "%-22s %6ld %6ld  %6.3f %6.3f %6.3f %6.3f %6.3f  %6.3f %6.3f %6.3f %6.3f %6.3f  %6.3f\n",
                    c[k].name, c[k].n_mock, c[k].n_real, c[k].mock_pct[0], c[k].mock_pct[1], c[k].mock_pct[2],
                    c[k].mock_pct[3], c[k].mock_pct[4], c[k].real_pct[0], c[k].real_pct[1], c[k].real_pct[2],
                    c[k].real_pct[3], c[k].real_pct[4], c[k].ks_d);
        for (int k = 0; k < nc; k++) {
            if (!c[k].has_mix) continue;
            fprintf(out, "\n%s as two Gaussians (blue cloud | red sequence; Ashman's D: peak separation):\n", c[k].name);
            const gp_mock_bimodal *f[2] = { &c[k].mock_mix, &c[k].real_mix };
            for (int j = 0; j < 2; j++)
                fprintf(out, "  %-4s weight %.2f mean %.3f sigma %.3f | weight %.2f mean %.3f sigma %.3f | D %.2f\n",
                        j ? "SDSS" : "mock", f[j]->weight[0], f[j]->mean[0], f[j]->sigma[0],
                        f[j]->weight[1], f[j]->mean[1], f[j]->sigma[1], f[j]->ashman_d);
        }
    }
}

int gp_mock_report(uint64_t seed, long n, const char *outdir, const char *datadir, FILE *out, gp_error *err)
{
    struct stat sb;
    if (!outdir || stat(outdir, &sb) != 0 || !S_ISDIR(sb.st_mode) || access(outdir, W_OK) != 0)
        return GP_FAIL(err, GP_ERR_IO, "mock report: '%s' is not a writable directory", outdir ? outdir : "(null)");
    gp_mock_galaxy *g = NULL;
    int rc = gp_mock_sample(seed, 0, n, 0, &g, err);
    if (rc) return rc;
    gp_mock_summary s;
    gp_mock_summarise(g, n, &s);
    gp_mock_compare c[16];
    int nc = 0;
    if (datadir) {
        gp_error e2;
        if (gp_mock_compare_real(g, n, datadir, c, 16, &nc, &e2)) {
            fprintf(out, "(no real-data comparison: %s)\n", e2.msg);
            datadir = NULL;
            nc = 0;
        }
    }
    print_report(out, seed, &s, c, nc);
    char path[4096];
    snprintf(path, sizeof path, "%s/report.txt", outdir);
    FILE *f = fopen(path, "w");
    if (!f) rc = GP_FAIL(err, GP_ERR_IO, "mock report: cannot write '%s'", path);
    else { print_report(f, seed, &s, c, nc); if (fclose(f)) rc = GP_FAIL(err, GP_ERR_IO, "mock report: cannot write '%s'", path); }
    if (!rc) rc = write_plots(g, n, outdir, datadir, seed, out, err);
    free(g);
    return rc;
}
