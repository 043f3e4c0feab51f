/* gp_fill.c: masked and off-frame pixels filled from their mirror image,
 * checked against the galaxy's azimuthal profile (gp_fill.h). */
#include <math.h>
#include <stdlib.h>

#include "gp_fill.h"
#include "gp_fits_util.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_sorted(const double *v, int n)
{
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* The galaxy's isophote shape: the second moments about (xc, yc) of the
 * deblender's symmetric template, min(p, its mirror image), over the finite
 * pixels within rmax where it is above 2 sky sigmas (a companion's pixels
 * take the faint value opposite them and drop out); a pixel whose mirror
 * image is masked or off the frame stands for the pair (second moments are
 * even; leaving such pairs out biased the shape round when a mask lay
 * along the major axis).  Not measured (rp->shaped 0) from fewer than
 * GP_FILL_MIN_SHAPE pixels, or when pairs are fewer than half the finite
 * pixels (an edge through the centre leaves a strip). */
static void shape(const float *sec, long x0, long y0, long w, long h, double xc, double yc,
                  double rmax, double sky, double rms, gp_ring_profile *rp)
{
    double sw = 0, sxx = 0, syy = 0, sxy = 0;
    long n = 0, nfin = 0, npair = 0;
    rp->shaped = 0;
    rp->q = 1;
    rp->cs = 1;
    rp->sn = 0;
    for (long j = 0; j < h; j++)
        for (long i = 0; i < w; i++) {
            double dx = (double)(x0 + i) - xc, dy = (double)(y0 + j) - yc, m;
            float p = sec[j * w + i];
            if (dx * dx + dy * dy >= rmax * rmax || !isfinite(p)) continue;
            nfin++;
            /* no mirror image: the pixel stands for the pair */
            if (gp_mirror_value(sec, x0, y0, w, h, xc - dx, yc - dy, &m)) npair++;
            else m = p;
            double t = (p < m ? p : m) - sky;
            if (!(t > 2 * rms)) continue;
            sw += t;
            sxx += t * dx * dx;
            syy += t * dy * dy;
            sxy += t * dx * dy;
            n++;
        }
    /* too few pixels, or pairs on too little of the disc to tell the
     * shape (a frame edge through the centre leaves a strip along it) */
    if (n < GP_FILL_MIN_SHAPE || 2 * npair < nfin) return;
    sxx /= sw;
    syy /= sw;
    sxy /= sw;
    double tr = 0.5 * (sxx + syy), dd = sqrt(0.25 * (sxx - syy) * (sxx - syy) + sxy * sxy);
    double l1 = tr + dd, l2 = tr - dd;
    if (!(l1 > 0) || !(l2 > 0)) return;
    rp->q = sqrt(l2 / l1);
    if (rp->q < GP_FILL_MIN_Q) rp->q = GP_FILL_MIN_Q;
    double th = 0.5 * atan2(2 * sxy, sxx - syy);   /* major axis from +x */
    rp->cs = cos(th);
    rp->sn = sin(th);
    rp->shaped = 1;
}

/* Elliptical radius (the semi-major axis of the isophote through the
 * pixel) of the offset (dx, dy). */
static double ell_radius(const gp_ring_profile *rp, double dx, double dy)
{
    double u = dx * rp->cs + dy * rp->sn, v = (-dx * rp->sn + dy * rp->cs) / rp->q;
    return sqrt(u * u + v * v);
}

int gp_ring_profile_make(const float *sec, long x0, long y0, long w, long h,
                         double xc, double yc, double rshape, double rmax, double sky, double rms,
                         gp_ring_profile *rp)
{
    rp->xc = xc;
    rp->yc = yc;
    rp->rmax = rmax;
    shape(sec, x0, y0, w, h, xc, yc, rshape, sky, rms, rp);
    rp->nring = (int)(rmax / rp->q) + 1;
    rp->med = calloc((size_t)rp->nring * 2, sizeof(double));
    rp->cnt = calloc((size_t)rp->nring + 1, sizeof(int));
    int *start = calloc((size_t)rp->nring + 1, sizeof(int));
    if (!rp->med || !rp->cnt || !start) {
        free(rp->med); free(rp->cnt); free(start);
        rp->med = NULL; rp->cnt = NULL;
        return -1;
    }
    rp->sig = rp->med + rp->nring;
    /* count, then place each ring's values together */
    for (long j = 0; j < h; j++)
        for (long i = 0; i < w; i++) {
            double dx = (double)(x0 + i) - xc, dy = (double)(y0 + j) - yc;
            if (dx * dx + dy * dy < rmax * rmax && isfinite(sec[j * w + i])) {
                int b = (int)ell_radius(rp, dx, dy);
                if (b < rp->nring) rp->cnt[b]++;
            }
        }
    for (int b = 0; b < rp->nring; b++) start[b + 1] = start[b] + rp->cnt[b];
    int n = start[rp->nring];
    double *val = malloc(sizeof(double) * (size_t)(n > 0 ? 2 * n : 1));
    if (!val) {
        free(rp->med); free(rp->cnt); free(start);
        rp->med = NULL; rp->cnt = NULL;
        return -1;
    }
    double *dev = val + n;
    for (int b = 0; b < rp->nring; b++) rp->cnt[b] = 0;
    for (long j = 0; j < h; j++)
        for (long i = 0; i < w; i++) {
            double dx = (double)(x0 + i) - xc, dy = (double)(y0 + j) - yc;
            if (dx * dx + dy * dy < rmax * rmax && isfinite(sec[j * w + i])) {
                int b = (int)ell_radius(rp, dx, dy);
                if (b < rp->nring) val[start[b] + rp->cnt[b]++] = sec[j * w + i];
            }
        }
    for (int b = 0; b < rp->nring; b++) {
        int m = rp->cnt[b];
        if (m == 0) continue;
        double *v = val + start[b], *e = dev + start[b];
        qsort(v, (size_t)m, sizeof *v, cmp_double);
        rp->med[b] = median_sorted(v, m);
        for (int k = 0; k < m; k++) e[k] = fabs(v[k] - rp->med[b]);
        qsort(e, (size_t)m, sizeof *e, cmp_double);
        rp->sig[b] = 1.4826 * median_sorted(e, m);
    }
    free(val);
    free(start);
    return 0;
}

void gp_ring_profile_free(gp_ring_profile *rp)
{
    free(rp->med);
    free(rp->cnt);
    rp->med = NULL;
    rp->cnt = NULL;
}

/* The profile at elliptical radius r inside ring b (judged: b has
 * GP_FILL_MIN_RING pixels): the ring medians, each taken at its ring's
 * middle radius b + 0.5, interpolated linearly to r, from the neighbour
 * ring on r's side when that one has as many pixels, else ring b's own.
 * (The median alone is the value half a pixel out or in: on a galaxy's
 * core, 6 pixels out on a 2.5" Gaussian, pixels at the inner edge of
 * their ring lay 4-5 robust sigmas above it, so their correct mirror
 * images were replaced by a value 30% too faint.) */
static double profile_at(const gp_ring_profile *rp, double r, int b)
{
    const double t = r - (b + 0.5);
    const int nb = t < 0 ? b - 1 : b + 1;
    if (nb < 0 || nb >= rp->nring || rp->cnt[nb] < GP_FILL_MIN_RING) return rp->med[b];
    return rp->med[b] + fabs(t) * (rp->med[nb] - rp->med[b]);
}

int gp_fill_value(const float *sec, long x0, long y0, long w, long h,
                  const gp_ring_profile *rp, double x, double y, int absent_too, double *v)
{
    const double r = ell_radius(rp, x - rp->xc, y - rp->yc);
    int b = (int)r;
    int judged = rp->shaped && b >= GP_FILL_MIN_B && b < rp->nring && rp->cnt[b] >= GP_FILL_MIN_RING;
    double m, p = judged ? profile_at(rp, r, b) : 0.0;
    if (gp_mirror_value(sec, x0, y0, w, h, 2 * rp->xc - x, 2 * rp->yc - y, &m)) {
        if (!judged || fabs(m - p) <= GP_FILL_KSIGMA * rp->sig[b]) {
            *v = m;
            return 1;
        }
    } else if (!absent_too || !judged)
        return 0;
    *v = p;
    return 2;
}
