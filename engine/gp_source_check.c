/*
 * gp_source_check.c: is there a source at the centre of a cutout?  The
 * statistic and its limits are described in gp_source_check.h.
 */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>

#include "gp_select.h"
#include "gp_source_check.h"

#define N        GP_CUTOUT_SIZE
#define PLANE    ((size_t)N * N)
#define CENTRE   (0.5 * (N - 1))        /* 79.5: the corner of the four central pixels */
#define SKY_R    64                     /* sky pixels lie beyond 64 pixels */
#define SKY_STEP 4                      /* every fourth row and column */
#define SKY_MAX  (((N + SKY_STEP - 1) / SKY_STEP) * ((N + SKY_STEP - 1) / SKY_STEP))
#define SKY_MIN  64                     /* fewer usable sky pixels: the band is blank */
#define PEAK_LIMIT_PIX (GP_SOURCE_PEAK_LIMIT / GP_PIXEL_SCALE)

#if defined(__GNUC__)
#define PREFETCH(a) __builtin_prefetch(a)
#else
#define PREFETCH(a) ((void)(a))
#endif

/* One band's sky level and pixel noise from the sky lattice; 0 when the
 * band is blank or constant there.  (The two selections were most of a
 * check's time with a branchy quickselect: 42 us of a check's 73 on a
 * cached cutout, 17 with gp_select_kth's branch-free partition.) */
static int band_sky(const float *p, double *sky, double *sigma)
{
    double v[SKY_MAX];
    int n = 0;
    for (int y = 0; y < N; y += SKY_STEP) {
        const int dy = 2 * y - (N - 1);   /* twice the offset from the centre */
        /* The lattice's rows lie 2.5 kB apart, beyond the hardware's own
         * prefetch, and a batch's cutouts are rarely in cache: asking for
         * the row after next took a cold check from 42 to 32 us. */
        if (y + 2 * SKY_STEP < N)
            for (int x = 0; x < N; x += 16) PREFETCH(p + (size_t)(y + 2 * SKY_STEP) * N + (size_t)x);
        for (int x = 0; x < N; x += SKY_STEP) {
            const int dx = 2 * x - (N - 1);
            const float f = p[(size_t)y * N + (size_t)x];
            if (dx * dx + dy * dy > 4 * SKY_R * SKY_R && isfinite(f) && f != 0.0f) v[n++] = f;
        }
    }
    if (n < SKY_MIN) return 0;
    double med = gp_select_kth(v, (size_t)n, (size_t)n / 2);
    double ss = 0;
    for (int i = 0; i < n; i++) {
        double d = v[i] - med;
        ss += d * d;
        v[i] = fabs(d);
    }
    double sig = 1.4826 * gp_select_kth(v, (size_t)n, (size_t)n / 2);
    if (!(sig > 0)) sig = sqrt(ss / n);   /* most pixels equal (quantized data) */
    if (!(sig > 0) || !isfinite(sig)) return 0;
    *sky = med;
    *sigma = sig;
    return 1;
}

/* g + r + i minus the skies, summed over the 5x5 box at (x, y); non-finite
 * pixels count as sky.  (A 3x3 box let the climb stop on the noise of a
 * faint slope: a bright galaxy 15" off, scale length 3.2", passed for a
 * source at the centre in 8% of noise draws, none with 5x5; and a faint,
 * broad disc at the centre reached 1" off in 1.5% of draws, 0.3% with
 * 5x5.) */
static double box5(const float *c, const double *sky, int x, int y)
{
    double s = 0;
    for (int b = 0; b < GP_CUTOUT_BANDS; b++)
        for (int j = y - 2; j <= y + 2; j++)
            for (int i = x - 2; i <= x + 2; i++) {
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
            double v = box5(c, sky, i, j);
            if (v > best) { best = v; x = i; y = j; }
        }
    for (;;) {   /* each step strictly increases best: it ends */
        int nx = x, ny = y;
        for (int dj = -1; dj <= 1; dj++)
            for (int di = -1; di <= 1; di++) {
                if (!di && !dj) continue;
                double v = box5(c, sky, x + di, y + dj);
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

int gp_source_extent(const float *cutout, double *extent, gp_error *err)
{
    if (!cutout || !extent) return GP_FAIL(err, GP_ERR_ARG, "gp_source_extent: NULL argument");
    double sky[GP_CUTOUT_BANDS], sigma[GP_CUTOUT_BANDS], var = 0;
    for (int b = 0; b < GP_CUTOUT_BANDS; b++) {
        if (!band_sky(cutout + (size_t)b * PLANE, &sky[b], &sigma[b])) {
            *extent = NAN;
            return GP_OK;
        }
        var += sigma[b] * sigma[b];
    }
    const double noise = sqrt(var);
    /* ring k holds the pixels whose centres lie at [k, k + 1) pixels from
     * the centre; the widest, k = SKY_R - 1, has under 2 pi SKY_R pixels */
    enum { RING_MAX = (int)(2 * 3.1416 * SKY_R) + 16 };
    double *v = malloc(sizeof(double) * RING_MAX);
    if (!v) return GP_FAIL(err, GP_ERR_NOMEM, "gp_source_extent: out of memory");
    *extent = SKY_R * GP_PIXEL_SCALE;
    for (int k = 0; k < SKY_R; k++) {
        int n = 0;
        const int y0 = (int)floor(CENTRE - k - 1), y1 = (int)ceil(CENTRE + k + 1);
        for (int y = y0 < 0 ? 0 : y0; y <= y1 && y < N; y++)
            for (int x = y0 < 0 ? 0 : y0; x <= y1 && x < N; x++) {
                const double dx = x - CENTRE, dy = y - CENTRE, d2 = dx * dx + dy * dy;
                if (d2 < (double)k * k || d2 >= (double)(k + 1) * (k + 1) || n >= RING_MAX) continue;
                double s = 0;
                int ok = 1;
                for (int b = 0; b < GP_CUTOUT_BANDS && ok; b++) {
                    const float f = cutout[(size_t)b * PLANE + (size_t)y * N + (size_t)x];
                    ok = isfinite(f);
                    s += f - sky[b];
                }
                if (ok) v[n++] = s;
            }
        if (n > 0 && gp_select_kth(v, (size_t)n, (size_t)n / 2) < noise) {
            *extent = k * GP_PIXEL_SCALE;
            break;
        }
    }
    free(v);
    return GP_OK;
}
