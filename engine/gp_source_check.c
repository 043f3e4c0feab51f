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
 * band is blank or constant there.  (With a branchy quickselect a whole
 * check took 42 us on 8 different cutouts in cache and 73 on cold ones,
 * the two selections most of it; with gp_select_kth's branch-free
 * partition 17 and 44, and 32 cold with the prefetch below.  One cutout
 * checked over and over lets the branch predictor learn its comparisons:
 * ~20 us either way.) */
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

/* The extent's rings and sectors: rings 0 .. SKY_R - 1 of pixel centres at
 * [k, k + 1) pixels from the centre, each cut into EXT_SECTORS sectors of
 * position angle from ring EXT_SECTOR_RING out (inside it a sector holds
 * too few pixels for a median). */
#define EXT_SECTORS     8
#define EXT_SECTOR_RING 4
#define EXT_BUCKETS     (SKY_R * EXT_SECTORS)

static int ext_bucket(double dx, double dy, int *k)
{
    *k = (int)sqrt(dx * dx + dy * dy);
    int s = (int)floor((atan2(dy, dx) + M_PI) * (EXT_SECTORS / (2 * M_PI)));
    s = s < 0 ? 0 : (s >= EXT_SECTORS ? EXT_SECTORS - 1 : s);
    return *k * EXT_SECTORS + s;
}

/* The sum of the three bands less their skies at pixel p; 0 when a band's
 * value is not finite or exactly 0 (a frame edge's padding, as band_sky
 * leaves out). */
static int ext_value(const float *cutout, size_t p, const double *sky, double *v)
{
    double s = 0;
    for (int b = 0; b < GP_CUTOUT_BANDS; b++) {
        const float f = cutout[(size_t)b * PLANE + p];
        if (!isfinite(f) || f == 0.0f) return 0;
        s += f - sky[b];
    }
    *v = s;
    return 1;
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
    /* one pass to count the usable pixels of each ring's sectors, one to
     * place their values together */
    int *start = calloc(EXT_BUCKETS + 1, sizeof *start), *fill = calloc(EXT_BUCKETS, sizeof *fill);
    const int x0 = (int)ceil(CENTRE - SKY_R), x1 = (int)floor(CENTRE + SKY_R);
    double *val = malloc(sizeof(double) * (size_t)(x1 - x0 + 1) * (size_t)(x1 - x0 + 1));
    if (!start || !fill || !val) {
        free(start); free(fill); free(val);
        return GP_FAIL(err, GP_ERR_NOMEM, "gp_source_extent: out of memory");
    }
    for (int pass = 0; pass < 2; pass++) {
        for (int y = x0; y <= x1; y++)
            for (int x = x0; x <= x1; x++) {
                int k, i = ext_bucket(x - CENTRE, y - CENTRE, &k);
                double v;
                if (k >= SKY_R || !ext_value(cutout, (size_t)y * N + (size_t)x, sky, &v)) continue;
                if (pass == 0) start[i + 1]++;
                else val[start[i] + fill[i]++] = v;
            }
        if (pass == 0)
            for (int i = 0; i < EXT_BUCKETS; i++) start[i + 1] += start[i];
    }
    /* the inner rings whole (a ring's sectors lie side by side in val,
     * and the sectors' pass below reads only the rings outside them): the
     * galaxy's extent when one falls below the noise there */
    int inner = -1;
    for (int k = 0; k < EXT_SECTOR_RING && inner < 0; k++) {
        const int a = start[k * EXT_SECTORS], n = start[(k + 1) * EXT_SECTORS] - a;
        if (n > 0 && gp_select_kth(val + a, (size_t)n, (size_t)n / 2) < noise) inner = k;
    }
    /* each sector outwards, to the first ring whose median is below the
     * noise, or clearly above the lowest inside it (by 3 times the
     * median's own noise, 1.25 noise / sqrt(n)): light rising again is a
     * neighbour's, a star's */
    double ext[EXT_SECTORS];
    for (int s = 0; s < EXT_SECTORS; s++) {
        ext[s] = SKY_R;
        double low = INFINITY;
        for (int k = EXT_SECTOR_RING; inner < 0 && k < SKY_R; k++) {
            const int i = k * EXT_SECTORS + s, n = start[i + 1] - start[i];
            if (n == 0) continue;
            const double med = gp_select_kth(val + start[i], (size_t)n, (size_t)n / 2);
            if (med < noise || med > low + 3.75 * noise / sqrt((double)n)) { ext[s] = k; break; }
            if (med < low) low = med;
        }
    }
    /* the fourth largest of the eight: a neighbour or a star in three
     * sectors does not stretch it, and an elongated galaxy gives about
     * three quarters of its extent along its major axis */
    for (int i = 1; i < EXT_SECTORS; i++)
        for (int j = i; j > 0 && ext[j] > ext[j - 1]; j--) {
            double t = ext[j]; ext[j] = ext[j - 1]; ext[j - 1] = t;
        }
    *extent = (inner >= 0 ? inner : ext[3]) * GP_PIXEL_SCALE;
    free(start); free(fill); free(val);
    return GP_OK;
}
