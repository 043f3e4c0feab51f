/*
 * gp_cutout.c: 160x160 north-up cutouts at 0.396"/pixel through each
 * frame's own WCS (include/galpost/gp_image.h describes the grid).
 *
 * Every cutout pixel centre is mapped to the sky through the cutout's TAN
 * WCS and back to the frame through the frame's WCS (wcslib, one vector
 * call each way), so scale, rotation, flips and distortion of the frame
 * are all handled by the same code.  Only the bounding box of the frame
 * pixels involved is read from the file.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <wcslib/wcs.h>

#include "galpost/gp_image.h"
#include "gp_fill.h"
#include "gp_fits_util.h"

#define N      GP_CUTOUT_SIZE
#define NPIX   (N * N)
#define CENTRE (0.5 * (N + 1))   /* FITS pixel of the reference point: 80.5 */

/* Largest frame section read for one cutout (a frame with pixels 8x finer
 * than the cutout's); beyond this bilinear resampling would alias anyway. */
#define MAX_SECTION_PIXELS (1300L * 1300L)

/* Frames in counts calibrated by a zero point are not sky-subtracted: the
 * cutout's sky is the photometry's estimator (the 3-sigma-clipped median)
 * over the frame pixels in the annulus SKY_IN..SKY_OUT arcsec around the
 * galaxy, at least MIN_SKY of them: beyond the cutout's inscribed circle
 * (31.7"), where a bright galaxy's wings weigh less (24"-40" took 0.1 of
 * the pixel rms of a 15.1 mag galaxy's light for sky; 40"-60" and 60"-90"
 * agree within 0.01 rms on the galaxies of tests/test_counts_sdss.c). */
#define SKY_IN  40.0
#define SKY_OUT 60.0
#define MIN_SKY 400

/* The cutout's WCS: TAN centred on (ra, dec), CD = diag(-s, s). */
static int cutout_wcs_init(struct wcsprm *w, double ra, double dec)
{
    w->flag = -1;
    if (wcsini(1, 2, w) != 0) return -1;
    const double s = GP_PIXEL_SCALE / 3600.0;
    w->crpix[0] = w->crpix[1] = CENTRE;
    w->cdelt[0] = -s;
    w->cdelt[1] = s;
    w->crval[0] = ra;
    w->crval[1] = dec;
    strcpy(w->ctype[0], "RA---TAN");
    strcpy(w->ctype[1], "DEC--TAN");
    strcpy(w->cunit[0], "deg");
    strcpy(w->cunit[1], "deg");
    strcpy(w->radesys, "ICRS");
    if (wcsset(w) != 0) { wcsfree(w); return -1; }
    return 0;
}

/* Scratch arrays for one band. */
struct grid {
    double *pix;    /* NPIX x 2: frame pixel position of each cutout pixel */
    double *world;  /* NPIX x 2 */
    double *img;    /* NPIX x 2 */
    double *phi, *theta;
    int    *stat;
};

static void grid_free(struct grid *g)
{
    free(g->pix); free(g->world); free(g->img);
    free(g->phi); free(g->theta); free(g->stat);
}

static int grid_alloc(struct grid *g)
{
    memset(g, 0, sizeof *g);
    g->pix = malloc(sizeof(double) * 2 * NPIX);
    g->world = malloc(sizeof(double) * 2 * NPIX);
    g->img = malloc(sizeof(double) * 2 * NPIX);
    g->phi = malloc(sizeof(double) * NPIX);
    g->theta = malloc(sizeof(double) * NPIX);
    g->stat = malloc(sizeof(int) * NPIX);
    if (!g->pix || !g->world || !g->img || !g->phi || !g->theta || !g->stat) {
        grid_free(g);
        return -1;
    }
    return 0;
}

/* Map every cutout pixel centre to the frame's pixel coordinates;
 * positions with no valid projection become NaN. */
static int grid_map(struct grid *g, const gp_frame *f, double ra, double dec, gp_error *err)
{
    struct wcsprm cw;
    if (cutout_wcs_init(&cw, ra, dec) != 0)
        return GP_FAIL(err, GP_ERR_WCS, "cutout WCS at RA %.6f Dec %.6f cannot be set up", ra, dec);
    for (int j = 0; j < N; j++)
        for (int i = 0; i < N; i++) {
            g->pix[2 * (j * N + i)] = i + 1;
            g->pix[2 * (j * N + i) + 1] = j + 1;
        }
    int st = wcsp2s(&cw, NPIX, 2, g->pix, g->img, g->phi, g->theta, g->world, g->stat);
    wcsfree(&cw);
    if (st != 0 && st != 8)
        return GP_FAIL(err, GP_ERR_WCS, "cutout grid at RA %.6f Dec %.6f: wcslib status %d", ra, dec, st);
    /* world is (RA, Dec); the frame's WCS may order them the other way */
    struct wcsprm *fw = (struct wcsprm *)gp_frame_wcs(f);
    if (fw->lng == 1)
        for (int k = 0; k < NPIX; k++) {
            double t = g->world[2 * k];
            g->world[2 * k] = g->world[2 * k + 1];
            g->world[2 * k + 1] = t;
        }
    int *bad = malloc(sizeof(int) * NPIX);
    if (!bad) return GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory for the cutout grid", gp_frame_name(f));
    for (int k = 0; k < NPIX; k++) bad[k] = g->stat[k];
    st = wcss2p(fw, NPIX, 2, g->world, g->phi, g->theta, g->img, g->pix, g->stat);
    if (st != 0 && st != 9) {
        free(bad);
        return GP_FAIL(err, GP_ERR_WCS, "%s: cannot map the cutout at RA %.6f Dec %.6f onto the frame (wcslib status %d)",
                       gp_frame_name(f), ra, dec, st);
    }
    for (int k = 0; k < NPIX; k++)
        if (bad[k] || g->stat[k] || !isfinite(g->pix[2 * k]) || !isfinite(g->pix[2 * k + 1]))
            g->pix[2 * k] = g->pix[2 * k + 1] = NAN;
    free(bad);
    return GP_OK;
}

static int on_frame(double x, double y, long nx, long ny)
{
    return x >= 0.5 && x <= nx + 0.5 && y >= 0.5 && y <= ny + 0.5;
}

/* The local sky of a frame in counts (SKY_IN, SKY_OUT above): the clipped
 * median of the finite frame pixels whose centres lie in the annulus, read
 * on its own (the part of it on the frame). */
static int local_sky(gp_frame *f, double xc, double yc, double ra, double dec, double *sky, gp_error *err)
{
    const double scale = gp_frame_pixel_scale(f);
    const double rin = SKY_IN / scale, rout = SKY_OUT / scale;
    const long nx = gp_frame_width(f), ny = gp_frame_height(f);
    long x0 = (long)floor(xc - rout), x1 = (long)ceil(xc + rout);
    long y0 = (long)floor(yc - rout), y1 = (long)ceil(yc + rout);
    if (x0 < 1) x0 = 1;
    if (y0 < 1) y0 = 1;
    if (x1 > nx) x1 = nx;
    if (y1 > ny) y1 = ny;
    long w = x1 - x0 + 1, h = y1 - y0 + 1;
    size_t n = 0;
    *sky = NAN;
    if (w > 0 && h > 0) {
        if ((double)w * (double)h > (double)MAX_SECTION_PIXELS)
            return GP_FAIL(err, GP_ERR_DATA, "%s: pixels of %.3f\" are too fine for the cutout's local sky "
                           "(would read %ldx%ld pixels)", gp_frame_name(f), scale, w, h);
        float *sec = malloc(sizeof(float) * (size_t)w * (size_t)h);
        if (!sec) return GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory for the cutout's sky", gp_frame_name(f));
        int st = gp_frame_read_section(f, x0, y0, w, h, sec, err);
        if (st) { free(sec); return st; }
        for (long j = 0; j < h; j++)
            for (long i = 0; i < w; i++) {
                double dx = (double)(x0 + i) - xc, dy = (double)(y0 + j) - yc, d2 = dx * dx + dy * dy;
                float p = sec[j * w + i];
                if (d2 >= rin * rin && d2 <= rout * rout && isfinite(p)) sec[n++] = p;
            }
        double rms;
        if (n >= MIN_SKY) gp_clipped_sky(sec, n, sky, &rms);
        free(sec);
    }
    if (n < MIN_SKY)
        return GP_FAIL(err, GP_ERR_DATA, "%s: only %zu finite pixels in the %g\"..%g\" annulus at RA %.6f Dec %.6f "
                       "for the cutout's local sky (the frame is in counts, not sky-subtracted; %d are needed)",
                       gp_frame_name(f), n, SKY_IN, SKY_OUT, ra, dec, MIN_SKY);
    if (!isfinite(*sky)) return GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory for the cutout's sky", gp_frame_name(f));
    return GP_OK;
}

int gp_cutout_band(gp_frame *f, double ra, double dec, float *out,
                   uint32_t *flags, gp_error *err)
{
    if (!f || !out) return GP_FAIL(err, GP_ERR_ARG, "gp_cutout_band: NULL argument");
    if (!isfinite(ra) || !isfinite(dec) || dec < -90 || dec > 90)
        return GP_FAIL(err, GP_ERR_ARG, "%s: position RA %g Dec %g is not a sky position",
                       gp_frame_name(f), ra, dec);
    int ust = gp_frame_check_measurable(f, err);
    if (ust) return ust;
    const long nx = gp_frame_width(f), ny = gp_frame_height(f);
    double xc, yc;
    if (gp_frame_sky_to_pixel(f, ra, dec, &xc, &yc, err)) return err ? err->status : GP_ERR_WCS;
    if (!on_frame(xc, yc, nx, ny))
        return GP_FAIL(err, GP_ERR_DATA, "%s: RA %.6f Dec %.6f is off the image (pixel %.1f, %.1f of %ldx%ld)",
                       gp_frame_name(f), ra, dec, xc, yc, nx, ny);

    struct grid g;
    if (grid_alloc(&g)) return GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory for the cutout grid", gp_frame_name(f));
    int st = grid_map(&g, f, ra, dec, err);
    if (st) { grid_free(&g); return st; }

    /* Jacobian of cutout pixel -> frame pixel at the centre. */
    const int c0 = N / 2 - 1, c1 = N / 2;
    const double *p00 = &g.pix[2 * (c0 * N + c0)], *p10 = &g.pix[2 * (c0 * N + c1)];
    const double *p01 = &g.pix[2 * (c1 * N + c0)];
    double j00 = p10[0] - p00[0], j10 = p10[1] - p00[1];
    double j01 = p01[0] - p00[0], j11 = p01[1] - p00[1];
    double area = fabs(j00 * j11 - j01 * j10);   /* frame pixels per cutout pixel */
    if (!isfinite(area) || area <= 0) {
        grid_free(&g);
        return GP_FAIL(err, GP_ERR_WCS, "%s: degenerate WCS near RA %.6f Dec %.6f", gp_frame_name(f), ra, dec);
    }
    const double tol = 1e-3;
    int aligned = fabs(j00 - 1) < tol && fabs(j11 - 1) < tol && fabs(j01) < tol && fabs(j10) < tol;
    long shx = 0, shy = 0;
    if (aligned) {
        shx = lround(xc - CENTRE);
        shy = lround(yc - CENTRE);
        for (int j = 0; j < N; j++)
            for (int i = 0; i < N; i++) {
                g.pix[2 * (j * N + i)] = (double)(i + 1 + shx);
                g.pix[2 * (j * N + i) + 1] = (double)(j + 1 + shy);
            }
    }

    /* Bounding box of the frame pixels needed. */
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    for (int k = 0; k < NPIX; k++) {
        double x = g.pix[2 * k], y = g.pix[2 * k + 1];
        if (!isfinite(x) || !on_frame(x, y, nx, ny)) continue;
        if (x < xmin) xmin = x;
        if (x > xmax) xmax = x;
        if (y < ymin) ymin = y;
        if (y > ymax) ymax = y;
    }
    /* two pixels more on each side: the mirror images of masked and
     * off-frame pixels about (xc, yc), which is within a pixel of the
     * cutout's centre */
    long bx0 = (long)floor(xmin) - 2, bx1 = (long)ceil(xmax) + 2;
    long by0 = (long)floor(ymin) - 2, by1 = (long)ceil(ymax) + 2;
    if (bx0 < 1) bx0 = 1;
    if (by0 < 1) by0 = 1;
    if (bx1 > nx) bx1 = nx;
    if (by1 > ny) by1 = ny;
    long bw = bx1 - bx0 + 1, bh = by1 - by0 + 1;
    if (bw < 1 || bh < 1) {
        grid_free(&g);
        return GP_FAIL(err, GP_ERR_DATA, "%s: RA %.6f Dec %.6f: the cutout does not overlap the image",
                       gp_frame_name(f), ra, dec);
    }
    if (bw * bh > MAX_SECTION_PIXELS) {
        grid_free(&g);
        return GP_FAIL(err, GP_ERR_DATA, "%s: pixels of %.3f\" are too fine for a %.3f\"/pixel cutout (would read %ldx%ld pixels)",
                       gp_frame_name(f), gp_frame_pixel_scale(f), GP_PIXEL_SCALE, bw, bh);
    }
    float *sec = malloc(sizeof(float) * (size_t)bw * (size_t)bh);
    if (!sec) {
        grid_free(&g);
        return GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory for %ldx%ld pixels", gp_frame_name(f), bw, bh);
    }
    st = gp_frame_read_section(f, bx0, by0, bw, bh, sec, err);
    if (st) { free(sec); grid_free(&g); return st; }
    if (isfinite(gp_frame_zeropoint(f, NULL))) {
        double sky;
        st = local_sky(f, xc, yc, ra, dec, &sky, err);
        if (st) { free(sec); grid_free(&g); return st; }
        for (long k = 0; k < bw * bh; k++)
            if (isfinite(sec[k])) sec[k] = (float)(sec[k] - sky);
    }

    /* The galaxy's isophotes, against which the mirror images of masked
     * and off-frame pixels are judged (gp_image.h, "Masked pixels"), when
     * the cutout has such pixels (none: nothing below changes).  Their
     * shape within the photometry's 6" aperture; the sky and its rms the
     * section's clipped ones (not 0: what a frame's sky subtraction left,
     * or the local sky taken off a frame in counts above, must not move
     * which pixels shape the isophotes, so that a frame and its copy in
     * counts give cutouts differing by a constant). */
    gp_ring_profile rp = { .xc = xc, .yc = yc };   /* nothing judged without a profile */
    int tofill = 0;
    for (int k = 0; k < NPIX && !tofill; k++) {
        double x = g.pix[2 * k], y = g.pix[2 * k + 1];
        if (!isfinite(x)) continue;
        if (!on_frame(x, y, nx, ny)) { tofill = 1; break; }
        long ix = (long)floor(x), iy = (long)floor(y);
        for (int q = 0; q < 4 && !tofill; q++) {
            long xi = ix + (q & 1), yi = iy + (q >> 1);
            if (xi >= bx0 && xi <= bx1 && yi >= by0 && yi <= by1 && !isfinite(sec[(yi - by0) * bw + (xi - bx0)]))
                tofill = 1;
        }
    }
    if (tofill) {
        float *tmp = malloc(sizeof(float) * (size_t)bw * (size_t)bh);
        size_t nf = 0;
        double sky0 = 0, rms = 0;
        if (tmp) {
            for (long k = 0; k < bw * bh; k++) if (isfinite(sec[k])) tmp[nf++] = sec[k];
            if (nf) gp_clipped_sky(tmp, nf, &sky0, &rms);
            free(tmp);
        }
        double rmax = 0;
        for (int k = 0; k < NPIX; k++) {
            double dx = g.pix[2 * k] - xc, dy = g.pix[2 * k + 1] - yc;
            if (isfinite(dx) && isfinite(dy) && dx * dx + dy * dy > rmax) rmax = dx * dx + dy * dy;
        }
        rmax = sqrt(rmax) + 2;
        if (!tmp || !isfinite(rms) ||
            gp_ring_profile_make(sec, bx0, by0, bw, bh, xc, yc, 6.0 / gp_frame_pixel_scale(f), rmax, sky0, rms, &rp)) {
            free(sec);
            grid_free(&g);
            return GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory for the cutout's profile", gp_frame_name(f));
        }
    }

    /* Sample.  Flux per cutout pixel = frame surface brightness x area. */
    const double fac = aligned ? 1.0 : area;
    long onframe = 0, masked = 0, offframe = 0;
    for (int k = 0; k < NPIX; k++) {
        double x = g.pix[2 * k], y = g.pix[2 * k + 1];
        /* no projection there: nothing to mirror, 0 as the sky */
        if (!isfinite(x)) { out[k] = 0.0f; offframe++; continue; }
        int off = !on_frame(x, y, nx, ny), bad = off;
        double v = 0;
        if (!off) {
            onframe++;
            long x0 = (long)floor(x), y0 = (long)floor(y);
            double fx = x - (double)x0, fy = y - (double)y0;
            if (x0 < 1) { x0 = 1; fx = 0; }
            if (x0 >= nx) { x0 = nx; fx = 0; }
            if (y0 < 1) { y0 = 1; fy = 0; }
            if (y0 >= ny) { y0 = ny; fy = 0; }
            double w[4] = { (1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy };
            long xs[4] = { x0, x0 + 1, x0, x0 + 1 }, ys[4] = { y0, y0, y0 + 1, y0 + 1 };
            for (int q = 0; q < 4; q++) {
                if (w[q] == 0) continue;
                double p = sec[(ys[q] - by0) * bw + (xs[q] - bx0)];
                if (!isfinite(p)) { bad = 1; break; }
                v += w[q] * p;
            }
        }
        if (bad) {
            /* masked, or off the frame: its mirror image about the galaxy's
             * centre (MASK_TYPE CORRECT), else 0 as the sky: gp_image.h,
             * "Masked pixels" (the mirror image of a pixel off the frame
             * is, when on the frame, near a cutout pixel on the frame, so
             * within the section read) */
            double m;
            out[k] = gp_fill_value(sec, bx0, by0, bw, bh, &rp, x, y, 0, &m) ? (float)(m * fac) : 0.0f;
            if (off) offframe++;
            else masked++;
            continue;
        }
        out[k] = (float)(v * fac);
    }
    free(sec);
    grid_free(&g);
    gp_ring_profile_free(&rp);
    if (masked * 2 > onframe)
        return GP_FAIL(err, GP_ERR_DATA, "%s: %ld of the %ld cutout pixels on the image at RA %.6f Dec %.6f are not finite (NaN or blank)",
                       gp_frame_name(f), masked, onframe, ra, dec);
    if (flags) {
        if (offframe) *flags |= GP_FLAG_EDGE;
        if (masked) *flags |= GP_FLAG_MASKED;
        if (!aligned) *flags |= GP_FLAG_RESAMPLED;
    }
    return GP_OK;
}

int gp_cutout_gri(gp_frame *const gri[3], double ra, double dec, float *out,
                  uint32_t *flags, gp_error *err)
{
    static const char *const band[3] = { "g", "r", "i" };
    if (!gri || !out) return GP_FAIL(err, GP_ERR_ARG, "gp_cutout_gri: NULL argument");
    for (int b = 0; b < 3; b++)
        if (!gri[b]) return GP_FAIL(err, GP_ERR_ARG, "gp_cutout_gri: no %s frame", band[b]);
    uint32_t fl = 0;
    for (int b = 0; b < 3; b++) {
        int st = gp_cutout_band(gri[b], ra, dec, out + (size_t)b * NPIX, &fl, err);
        if (st) {
            gp_error_prefix(err, "%s band", band[b]);
            return st;
        }
    }
    if (flags) *flags |= fl;
    return GP_OK;
}
