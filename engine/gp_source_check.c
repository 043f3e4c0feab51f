/*
 * gp_source_check.c: is there a source at the centre of a cutout?  The
 * statistic and its limits are described in gp_source_check.h.
 */
#include <math.h>
#include <stddef.h>

#include "gp_source_check.h"

#define N        GP_CUTOUT_SIZE
#define PLANE    ((size_t)N * N)
#define CENTRE   (0.5 * (N - 1))        /* 79.5: the corner of the four central pixels */
#define SKY_R    64                     /* sky pixels lie beyond 64 pixels */
#define SKY_STEP 4                      /* every fourth row and column */
#define SKY_MAX  (((N + SKY_STEP - 1) / SKY_STEP) * ((N + SKY_STEP - 1) / SKY_STEP))
#define SKY_MIN  64                     /* fewer usable sky pixels: the band is blank */
#define PEAK_LIMIT_PIX (GP_SOURCE_PEAK_LIMIT / GP_PIXEL_SCALE)

/* The k-th smallest of v[0..n-1] (0-based), v reordered: quickselect with
 * the median of three as pivot, O(n) on average, no allocation. */
static float select_kth(float *v, int n, int k)
{
    int lo = 0, hi = n - 1;
    while (hi > lo) {
        int mid = lo + (hi - lo) / 2;
        float a = v[lo], b = v[mid], c = v[hi];
        float pivot = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
        int i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot) i++;
            while (v[j] > pivot) j--;
            if (i <= j) {
                float t = v[i]; v[i] = v[j]; v[j] = t;
                i++; j--;
            }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else return v[k];
    }
    return v[k];
}

/* One band's sky level and pixel noise from the sky lattice; 0 when the
 * band is blank or constant there. */
static int band_sky(const float *p, double *sky, double *sigma)
{
    float v[SKY_MAX];
    int n = 0;
    for (int y = 0; y < N; y += SKY_STEP) {
        const int dy = 2 * y - (N - 1);   /* twice the offset from the centre */
        for (int x = 0; x < N; x += SKY_STEP) {
            const int dx = 2 * x - (N - 1);
            const float f = p[(size_t)y * N + (size_t)x];
            if (dx * dx + dy * dy > 4 * SKY_R * SKY_R && isfinite(f) && f != 0.0f) v[n++] = f;
        }
    }
    if (n < SKY_MIN) return 0;
    double med = select_kth(v, n, n / 2);
    double ss = 0;
    for (int i = 0; i < n; i++) {
        double d = v[i] - med;
        ss += d * d;
        v[i] = (float)fabs(d);
    }
    double sig = 1.4826 * select_kth(v, n, n / 2);
    if (!(sig > 0)) sig = sqrt(ss / n);   /* most pixels equal (quantized data) */
    if (!(sig > 0) || !isfinite(sig)) return 0;
    *sky = med;
    *sigma = sig;
    return 1;
}

/* g + r + i minus the skies, summed over the 3x3 box at (x, y); non-finite
 * pixels count as sky. */
static double box3(const float *c, const double *sky, int x, int y)
{
    double s = 0;
    for (int b = 0; b < GP_CUTOUT_BANDS; b++)
        for (int j = y - 1; j <= y + 1; j++)
            for (int i = x - 1; i <= x + 1; i++) {
                if (i < 0 || j < 0 || i >= N || j >= N) continue;
                float f = c[(size_t)b * PLANE + (size_t)j * N + (size_t)i];
                if (isfinite(f)) s += f - sky[b];
            }
    return s;
}

/* Distance (pixels) from the centre of the first local maximum of the
 * smoothed image reached climbing from the brightest central pixel, or of
 * the first pixel beyond the limit. */
static double climb(const float *c, const double *sky)
{
    int x = N / 2 - 1, y = N / 2 - 1;
    double best = -INFINITY;
    for (int j = N / 2 - 1; j <= N / 2; j++)
        for (int i = N / 2 - 1; i <= N / 2; i++) {
            double v = box3(c, sky, i, j);
            if (v > best) { best = v; x = i; y = j; }
        }
    for (;;) {   /* each step strictly increases best: it ends */
        int nx = x, ny = y;
        for (int dj = -1; dj <= 1; dj++)
            for (int di = -1; di <= 1; di++) {
                if (!di && !dj) continue;
                double v = box3(c, sky, x + di, y + dj);
                if (v > best) { best = v; nx = x + di; ny = y + dj; }
            }
        if (nx == x && ny == y) break;
        x = nx;
        y = ny;
        if (hypot(x - CENTRE, y - CENTRE) > PEAK_LIMIT_PIX) break;
    }
    return hypot(x - CENTRE, y - CENTRE);
}

int gp_source_check(const float *cutout, gp_source *out, gp_error *err)
{
    if (!cutout || !out) return GP_FAIL(err, GP_ERR_ARG, "gp_source_check: NULL argument");
    double sky[GP_CUTOUT_BANDS] = { 0 }, sigma[GP_CUTOUT_BANDS] = { 0 };
    out->blank_band = -1;
    for (int b = 0; b < GP_CUTOUT_BANDS; b++)
        if (!band_sky(cutout + (size_t)b * PLANE, &sky[b], &sigma[b]) && out->blank_band < 0)
            out->blank_band = b;

    double flux = 0, var = 0;
    const int r0 = (int)floor(CENTRE - GP_SOURCE_APERTURE), r1 = (int)ceil(CENTRE + GP_SOURCE_APERTURE);
    for (int b = 0; b < GP_CUTOUT_BANDS; b++) {
        const float *p = cutout + (size_t)b * PLANE;
        long npix = 0;
        for (int y = r0; y <= r1; y++)
            for (int x = r0; x <= r1; x++) {
                double dx = x - CENTRE, dy = y - CENTRE;
                float f = p[(size_t)y * N + (size_t)x];
                if (dx * dx + dy * dy < GP_SOURCE_APERTURE * GP_SOURCE_APERTURE && isfinite(f)) {
                    flux += f - sky[b];
                    npix++;
                }
            }
        var += (double)npix * sigma[b] * sigma[b];
    }
    out->snr = out->blank_band < 0 && var > 0 ? flux / sqrt(var) : 0.0;
    out->peak = climb(cutout, sky) * GP_PIXEL_SCALE;
    out->no_source = out->blank_band >= 0 || !(out->snr >= GP_SOURCE_SNR_LIMIT)
                     || !(out->peak <= GP_SOURCE_PEAK_LIMIT);
    return GP_OK;
}
