/* gp_mock_render.c: Gaussian-mixture galaxies, PSF stars, saturation and noise. */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gp_mock_profile.h"
#include "gp_mock_render.h"

void gp_mock_jac_northup(double jac[4])
{
    /* x grows to the west (east left), y grows to the north */
    jac[0] = -1.0 / GP_MOCK_PIXSCALE; jac[1] = 0.0;
    jac[2] = 0.0;                     jac[3] = 1.0 / GP_MOCK_PIXSCALE;
}

void gp_mock_shape_of(const gp_mock_galaxy *g, int band, gp_mock_shape *s)
{
    s->bt = g->bt_band[band];
    s->re_disk = g->re_disk; s->re_bulge = g->re_bulge;
    s->q_disk = g->q_disk;   s->q_bulge = g->q_bulge;
    s->pa = g->pa;
}

/* Draw one 2-D Gaussian of total flux f and pixel covariance (sxx, sxy, syy). */
static void draw_gaussian(gp_mock_canvas *c, double f, double x0, double y0,
                          double sxx, double sxy, double syy)
{
    double det = sxx * syy - sxy * sxy;
    if (!(det > 0.0) || !(f > 0.0)) return;
    double peak = f / (2.0 * M_PI * sqrt(det));
    if (peak <= c->thresh) return;
    double lvl = log(peak / c->thresh);           /* draw where exponent > -lvl */
    double a = syy / det, b = -sxy / det, cc = sxx / det;   /* inverse covariance */
    double ymax = sqrt(2.0 * lvl * syy);
    int j0 = (int)ceil(y0 - ymax), j1 = (int)floor(y0 + ymax);
    if (j0 < 0) j0 = 0;
    if (j1 > c->ny - 1) j1 = c->ny - 1;
    double cy = cc - b * b / a;                    /* conditional precision in y */
    double rr = exp(-a), rr28 = pow(rr, 28.0), rr64 = pow(rr, 64.0);
    for (int j = j0; j <= j1; j++) {
        double dy = j - y0;
        double rem = 2.0 * lvl - cy * dy * dy;
        if (rem <= 0.0) continue;
        double xc = x0 - b * dy / a, w = sqrt(rem / a);
        int i0 = (int)ceil(xc - w), i1 = (int)floor(xc + w);
        if (i0 < 0) i0 = 0;
        if (i1 > c->nx - 1) i1 = c->nx - 1;
        if (i0 > i1) continue;
        double dx = i0 - x0;
        double e = peak * exp(-0.5 * (a * dx * dx + 2.0 * b * dx * dy + cc * dy * dy));
        double r = exp(-0.5 * (a * (2.0 * dx + 1.0) + 2.0 * b * dy));
        float *row = c->model + (size_t)j * c->nx;
        int i = i0;
        if (i1 - i0 + 1 >= 16) {
            /* 8 independent chains (one per lane), so the loop is not latency bound:
             * lane k holds pixel i+k; stepping 8 pixels multiplies it by
             * q_k = r_k^8 rr^28, and q_k itself by rr^64 */
            double ev[8], qv[8];
            double rk = r;
            for (int k = 0; k < 8; k++) {
                ev[k] = e;
                double r8 = rk * rk; r8 *= r8; r8 *= r8;
                qv[k] = r8 * rr28;
                e *= rk;
                rk *= rr;
            }
            for (; i + 8 <= i1 + 1; i += 8)
                for (int k = 0; k < 8; k++) {
                    row[i + k] += (float)ev[k];
                    ev[k] *= qv[k];
                    qv[k] *= rr64;
                }
            /* scalar tail from lane 0's state */
            e = ev[0];
            dx = i - x0;
            r = exp(-0.5 * (a * (2.0 * dx + 1.0) + 2.0 * b * dy));
        }
        for (; i <= i1; i++) {
            row[i] += (float)e;
            e *= r;
            r *= rr;
        }
    }
}

static void sky_cov_to_pixel(const double jac[4], double cee, double cen, double cnn,
                             double *sxx, double *sxy, double *syy)
{
    /* S_pix = J C J^T */
    double j00 = jac[0], j01 = jac[1], j10 = jac[2], j11 = jac[3];
    double t00 = j00 * cee + j01 * cen, t01 = j00 * cen + j01 * cnn;
    double t10 = j10 * cee + j11 * cen, t11 = j10 * cen + j11 * cnn;
    *sxx = t00 * j00 + t01 * j01;
    *sxy = t00 * j10 + t01 * j11;
    *syy = t10 * j10 + t11 * j11;
}

static double jac_scale2(const double jac[4])
{
    return fabs(jac[0] * jac[3] - jac[1] * jac[2]);   /* pixels^2 per arcsec^2 */
}

void gp_mock_render_galaxy(gp_mock_canvas *c, const gp_mock_shape *s, double flux,
                           double x0, double y0)
{
    const gp_mock_psf *p = &c->obs->psf[c->band];
    double ps2 = jac_scale2(c->jac);
    double pv[2] = { p->sigma1 * p->sigma1 * ps2 + 1.0 / 12.0, p->sigma2 * p->sigma2 * ps2 + 1.0 / 12.0 };
    double pf[2] = { p->frac1, 1.0 - p->frac1 };
    double th = s->pa * M_PI / 180.0;
    double ue = sin(th), un = cos(th);     /* major axis (east, north) */
    for (int comp = 0; comp < 2; comp++) {
        double frac = comp ? s->bt : 1.0 - s->bt;
        if (frac <= 0.0) continue;
        const double *amp, *var;
        int n;
        gp_mock_mog_get(comp ? 4 : 1, &amp, &var, &n);
        double re = comp ? s->re_bulge : s->re_disk, q = comp ? s->q_bulge : s->q_disk;
        for (int k = 0; k < n; k++) {
            double smaj = var[k] * re * re, smin = smaj * q * q;
            double cee = smaj * ue * ue + smin * un * un;
            double cnn = smaj * un * un + smin * ue * ue;
            double cen = (smaj - smin) * ue * un;
            double sxx, sxy, syy;
            sky_cov_to_pixel(c->jac, cee, cen, cnn, &sxx, &sxy, &syy);
            /* a component much wider than the PSF wing sees the two PSF Gaussians
             * alike: one Gaussian with the flux-weighted PSF variance (same second
             * moments; relative error ~ (v_psf / v_comp)^2 < 1e-3) halves the work */
            double lmin = 0.5 * (sxx + syy) - sqrt(0.25 * (sxx - syy) * (sxx - syy) + sxy * sxy);
            if (pv[1] < 0.03 * lmin) {
                double vm = pf[0] * pv[0] + pf[1] * pv[1];
                draw_gaussian(c, flux * frac * amp[k], x0, y0, sxx + vm, sxy, syy + vm);
                continue;
            }
            for (int j = 0; j < 2; j++)
                draw_gaussian(c, flux * frac * amp[k] * pf[j], x0, y0,
                              sxx + pv[j], sxy, syy + pv[j]);
        }
    }
}

void gp_mock_render_star(gp_mock_canvas *c, double flux, double x0, double y0)
{
    const gp_mock_psf *p = &c->obs->psf[c->band];
    double ps2 = jac_scale2(c->jac);
    double v1 = p->sigma1 * p->sigma1 * ps2 + 1.0 / 12.0, v2 = p->sigma2 * p->sigma2 * ps2 + 1.0 / 12.0;
    draw_gaussian(c, flux * p->frac1, x0, y0, v1, 0.0, v1);
    draw_gaussian(c, flux * (1.0 - p->frac1), x0, y0, v2, 0.0, v2);
}

void gp_mock_render_saturate(gp_mock_canvas *c, double ux, double uy)
{
    gp_mock_render_saturate_window(c, 0, c->nx - 1, 0, c->ny - 1, ux, uy);
}

double gp_mock_render_star_peak(const gp_mock_canvas *c, double flux)
{
    const gp_mock_psf *p = &c->obs->psf[c->band];
    double ps2 = jac_scale2(c->jac);
    double v1 = p->sigma1 * p->sigma1 * ps2 + 1.0 / 12.0, v2 = p->sigma2 * p->sigma2 * ps2 + 1.0 / 12.0;
    return flux * (p->frac1 / (2 * M_PI * v1) + (1 - p->frac1) / (2 * M_PI * v2));
}

void gp_mock_render_saturate_window(gp_mock_canvas *c, int i0, int i1, int j0, int j1,
                                    double ux, double uy)
{
    double cimg = c->obs->nmgy_per_count[c->band];
    double sky_dn = c->obs->sky_nmgy[c->band] / cimg;
    float sat = (float)((GP_MOCK_SATURATION_DN - sky_dn) * cimg);  /* in sky-subtracted nmgy */
    double excess = 0.0, sx = 0.0, sy = 0.0;
    int nsat = 0;
    if (i0 < 0) i0 = 0;
    if (j0 < 0) j0 = 0;
    if (i1 > c->nx - 1) i1 = c->nx - 1;
    if (j1 > c->ny - 1) j1 = c->ny - 1;
    for (int j = j0; j <= j1; j++)
        for (int i = i0; i <= i1; i++) {
            float *v = &c->model[(size_t)j * c->nx + i];
            if (*v > sat) {
                excess += *v - sat;
                sx += i; sy += j; nsat++;
                *v = sat;
            }
        }
    if (!nsat) return;
    /* bleed: a trail of the saturated width along (ux, uy), both ways, at the full well */
    double xc = sx / nsat, yc = sy / nsat;
    double width = fmax(1.0, sqrt((double)nsat / M_PI));
    double len = excess / sat / (2.0 * width) + sqrt((double)nsat / M_PI);
    double norm = hypot(ux, uy);
    ux /= norm; uy /= norm;
    for (double t = -len; t <= len; t += 0.5)
        for (double w = -width; w <= width; w += 0.5) {
            int i = (int)lround(xc + t * ux - w * uy), j = (int)lround(yc + t * uy + w * ux);
            if (i < 0 || j < 0 || i >= c->nx || j >= c->ny) continue;
            c->model[(size_t)j * c->nx + i] = sat;
        }
}

void gp_mock_render_noise(gp_mock_canvas *c, gp_mock_fastrng *f, float *scratch)
{
    const gp_mock_obs *o = c->obs;
    int b = c->band;
    float s2sky = (float)(o->sigma_pix[b] * o->sigma_pix[b]);
    float kpois = (float)(o->nmgy_per_count[b] / o->gain[b]);
    for (int j = 0; j < c->ny; j++) {
        float *row = c->model + (size_t)j * c->nx;
        gp_mock_fastrng_normals(f, scratch, c->nx);
        for (int i = 0; i < c->nx; i++) {
            float m = row[i];
            float v = s2sky + (m > 0.0f ? m * kpois : 0.0f);
            row[i] = m + sqrtf(v) * scratch[i];
        }
    }
}

/* ---- neighbours and stars for cutouts [M]: densities in sim/CALIBRATION.md ---- */
#define GAL_COUNT_A     1000.0   /* per deg^2 per mag at r = 20 */
#define GAL_COUNT_SLOPE 0.42
#define STAR_COUNT_A    300.0    /* per deg^2 per mag at r = 20 */
#define STAR_COUNT_SLOPE 0.13

static double poisson_draw(gp_mock_rng *r, double mean)
{
    double l = exp(-mean), p = 1.0;
    int k = 0;
    do { k++; p *= gp_mock_rng_uniform(r); } while (p > l && k < 1000);
    return k - 1;
}

/* magnitude from dN/dm ~ 10^(s m) on [m0, m1] */
static double powerlaw_mag(gp_mock_rng *r, double s, double m0, double m1)
{
    double a = pow(10.0, s * m0), b = pow(10.0, s * m1);
    return log10(a + gp_mock_rng_uniform(r) * (b - a)) / s;
}

static double count_integral(double amp, double s, double m0, double m1)
{
    return amp / (s * log(10.0)) * (pow(10.0, s * (m1 - 20.0)) - pow(10.0, s * (m0 - 20.0)));
}

/* colours u-g, g-r, r-i, i-z -> band magnitudes from r */
static void mags_from_colours(double r, const double col[4], double m[5])
{
    m[GP_BAND_R] = r;
    m[GP_BAND_G] = r + col[1];
    m[GP_BAND_U] = m[GP_BAND_G] + col[0];
    m[GP_BAND_I] = r - col[2];
    m[GP_BAND_Z] = m[GP_BAND_I] - col[3];
}

static void star_colours(gp_mock_rng *r, double col[4])
{
    /* a rough stellar locus parametrised by g-r */
    double gr = 0.2 + 1.3 * pow(gp_mock_rng_uniform(r), 0.7);
    col[1] = gr;
    col[0] = fmin(0.75 + 1.6 * gr, 2.7) + 0.08 * gp_mock_rng_normal(r);
    col[2] = (gr < 1.2 ? 0.02 + 0.42 * gr : 0.52 + 1.4 * (gr - 1.2)) + 0.04 * gp_mock_rng_normal(r);
    col[3] = 0.55 * col[2] + 0.03 * gp_mock_rng_normal(r);
}

static void background_colours(gp_mock_rng *r, double col[4])
{
    /* faint field galaxies, mostly z = 0.2-0.6 */
    double gr = fmin(fmax(0.9 + 0.35 * gp_mock_rng_normal(r), 0.2), 1.8);
    col[1] = gr;
    col[0] = 0.6 + 0.9 * gr + 0.25 * gp_mock_rng_normal(r);
    col[2] = 0.2 + 0.3 * gr + 0.08 * gp_mock_rng_normal(r);
    col[3] = 0.1 + 0.2 * gr + 0.08 * gp_mock_rng_normal(r);
}

typedef struct source {
    int    star;
    double x, y;       /* arcsec offsets (east, north) from the stamp centre */
    double mag[5];
    gp_mock_shape shape;
} source;

#define MAX_SOURCES 256

static int draw_sources(gp_mock_rng *r, double half_as, source *src)
{
    double area_deg2 = (2.0 * half_as / 3600.0) * (2.0 * half_as / 3600.0);
    int n = 0;
    double ng = poisson_draw(r, area_deg2 * count_integral(GAL_COUNT_A, GAL_COUNT_SLOPE, 14.0, 23.5));
    double ns = poisson_draw(r, area_deg2 * count_integral(STAR_COUNT_A, STAR_COUNT_SLOPE, 10.0, 23.0));
    for (int k = 0; k < ng + ns && n < MAX_SOURCES; k++, n++) {
        source *s = &src[n];
        double col[4];
        s->star = k >= ng;
        s->x = gp_mock_rng_range(r, -half_as, half_as);
        s->y = gp_mock_rng_range(r, -half_as, half_as);
        if (s->star) {
            double m = powerlaw_mag(r, STAR_COUNT_SLOPE, 10.0, 23.0);
            star_colours(r, col);
            mags_from_colours(m, col, s->mag);
        } else {
            double m = powerlaw_mag(r, GAL_COUNT_SLOPE, 14.0, 23.5);
            background_colours(r, col);
            mags_from_colours(m, col, s->mag);
            double re = 1.2 * pow(10.0, -0.15 * (m - 20.0) + 0.25 * gp_mock_rng_normal(r));
            int dev = gp_mock_rng_uniform(r) < 0.3;
            s->shape.bt = dev ? 1.0 : 0.0;
            s->shape.re_disk = re; s->shape.re_bulge = re;
            double q = gp_mock_rng_range(r, 0.25, 1.0);
            s->shape.q_disk = q; s->shape.q_bulge = q;
            s->shape.pa = gp_mock_rng_range(r, 0.0, 180.0);
        }
    }
    return n;
}

int gp_mock_render_cutout(uint64_t seed, const gp_mock_galaxy *g, const int *bands, int nbands,
                          int size, int flags, float *out, gp_error *err)
{
    if (size < 8 || size > 4096 || nbands < 1 || nbands > GP_MOCK_NBAND)
        return GP_FAIL(err, GP_ERR_ARG, "mock cutout: size %d or band count %d out of range", size, nbands);
    gp_mock_rng r;
    gp_mock_rng_init(&r, seed, g->index, GP_STREAM_IMAGE);
    source src[MAX_SOURCES];
    /* sources are scattered a little beyond the stamp so that their wings enter it */
    double half_as = 0.5 * size * GP_MOCK_PIXSCALE + 6.0;
    int nsrc = draw_sources(&r, half_as, src);
    if (flags & GP_MOCK_CUTOUT_ALONE) nsrc = 0;
    double jx = 0.25 * gp_mock_rng_normal(&r), jy = 0.25 * gp_mock_rng_normal(&r);
    /* CCD columns (bleed direction) run along the scan: angle in the north-up stamp */
    double scan = gp_mock_rng_range(&r, -M_PI / 3.0, M_PI / 3.0);
    float *scratch = malloc(sizeof(float) * (size_t)size);
    if (!scratch) return GP_FAIL(err, GP_ERR_NOMEM, "mock cutout: no memory for %d pixels", size);
    gp_mock_rng nr;
    gp_mock_rng_init(&nr, seed, g->index, GP_STREAM_NOISE);
    gp_mock_fastrng fr[GP_MOCK_NBAND];
    for (int b = 0; b < GP_MOCK_NBAND; b++) gp_mock_fastrng_seed(&fr[b], &nr);
    double xc = 0.5 * size - 0.5 + jx, yc = 0.5 * size - 0.5 + jy;
    for (int k = 0; k < nbands; k++) {
        int b = bands[k];
        gp_mock_canvas c = { out + (size_t)k * size * size, size, size, { 0 }, &g->obs, b,
                             1e-3 * g->obs.sigma_pix[b] };
        gp_mock_jac_northup(c.jac);
        memset(c.model, 0, sizeof(float) * (size_t)size * size);
        gp_mock_shape s;
        gp_mock_shape_of(g, b, &s);
        gp_mock_render_galaxy(&c, &s, g->flux_true[b], xc, yc);
        c.thresh = 5e-3 * g->obs.sigma_pix[b];   /* faint neighbours: 0.5% of the pixel noise */
        for (int i = 0; i < nsrc; i++) {
            double x = xc + c.jac[0] * src[i].x + c.jac[1] * src[i].y;
            double y = yc + c.jac[2] * src[i].x + c.jac[3] * src[i].y;
            double f = pow(10.0, -0.4 * (src[i].mag[b] - 22.5));
            if (src[i].star) gp_mock_render_star(&c, f, x, y);
            else gp_mock_render_galaxy(&c, &src[i].shape, f, x, y);
        }
        gp_mock_render_saturate(&c, sin(scan), cos(scan));
        if (!(flags & GP_MOCK_CUTOUT_NONOISE)) gp_mock_render_noise(&c, &fr[b], scratch);
    }
    free(scratch);
    return GP_OK;
}
