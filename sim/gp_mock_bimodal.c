/* gp_mock_bimodal.c: two-Gaussian mixture by EM (see gp_mock_bimodal.h). */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gp_mock_bimodal.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void fill_nan(gp_mock_bimodal *fit)
{
    for (int k = 0; k < 2; k++) fit->weight[k] = fit->mean[k] = fit->sigma[k] = NAN;
    fit->ashman_d = NAN;
    fit->iterations = 0;
}

int gp_mock_bimodal_fit(const double *x, long n, gp_mock_bimodal *fit)
{
    fill_nan(fit);
    double *v = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    if (!v) return -1;
    long m = 0;
    for (long i = 0; i < n; i++) if (isfinite(x[i])) v[m++] = x[i];
    if (m < 10) { free(v); return -1; }
    qsort(v, (size_t)m, sizeof(double), cmp_double);
    double s1 = 0, s2 = 0;
    for (long i = 0; i < m; i++) { s1 += v[i]; s2 += v[i] * v[i]; }
    double sd = sqrt(fmax(s2 / m - (s1 / m) * (s1 / m), 0.0));
    if (!(sd > 0)) { free(v); return -1; }
    double w[2] = { 0.5, 0.5 }, mu[2] = { v[m / 4], v[(3 * m) / 4] }, sg[2] = { 0.5 * sd, 0.5 * sd };
    double floor_sg = 1e-3 * sd, last = -INFINITY;
    int it;
    for (it = 1; it <= 500; it++) {
        double sr[2] = { 0, 0 }, sx[2] = { 0, 0 }, sxx[2] = { 0, 0 }, loglik = 0;
        for (long i = 0; i < m; i++) {
            double p[2];
            for (int k = 0; k < 2; k++) {
                double t = (v[i] - mu[k]) / sg[k];
                p[k] = w[k] / sg[k] * exp(-0.5 * t * t);
            }
            double tot = p[0] + p[1];
            if (!(tot > 0)) { p[0] = p[1] = 0.5; tot = 1.0; } /* far from both: split evenly */
            loglik += log(tot);
            for (int k = 0; k < 2; k++) {
                double r = p[k] / tot;
                sr[k] += r; sx[k] += r * v[i]; sxx[k] += r * v[i] * v[i];
            }
        }
        for (int k = 0; k < 2; k++) {
            if (!(sr[k] > 0)) break;
            w[k] = sr[k] / m;
            mu[k] = sx[k] / sr[k];
            sg[k] = fmax(sqrt(fmax(sxx[k] / sr[k] - mu[k] * mu[k], 0.0)), floor_sg);
        }
        if (fabs(loglik - last) < 1e-10 * fabs(loglik) + 1e-12) break;
        last = loglik;
    }
    free(v);
    int lo = mu[0] <= mu[1] ? 0 : 1;
    for (int k = 0; k < 2; k++) {
        int j = k == 0 ? lo : 1 - lo;
        fit->weight[k] = w[j]; fit->mean[k] = mu[j]; fit->sigma[k] = sg[j];
    }
    fit->ashman_d = fabs(fit->mean[1] - fit->mean[0]) /
                    sqrt(0.5 * (fit->sigma[0] * fit->sigma[0] + fit->sigma[1] * fit->sigma[1]));
    fit->iterations = it > 500 ? 500 : it;
    return 0;
}
