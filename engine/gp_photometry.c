/*
 * gp_photometry.c: aperture photometry with a local sky annulus on
 * nanomaggy frames (method in include/galpost/gp_image.h).
 *
 * Work is done on the frame's own pixel grid (no resampling), on a section
 * just large enough for the sky annulus.  Pixels crossing the aperture
 * edge are weighted by their covered fraction, estimated on 8x8 sub-pixels.
 *
 * Masked (non-finite) pixels in the aperture take the value of their mirror
 * image about the centre (SExtractor's MASK_TYPE CORRECT; a galaxy's light
 * is close to point-symmetric, an ellipse exactly so), unless the mirror
 * image is more than 3 robust sigmas from the median of its isophote (a
 * companion opposite; gp_fill.h), which then takes that median.  Those whose mirror
 * image is masked too cannot be recovered: their flux is estimated from the
 * aperture's own mean radial profile, and when it is more than
 * GP_PHOT_MAX_LOST of the flux (and more than its error) the measurement is
 * refused rather than returned biased.  Counting them as sky, as this code
 * once did, made a galaxy with a 7x7 NaN patch on its core 0.5 mag faint.
 *
 * Aperture pixels off the frame are masked pixels too: the section read
 * reaches beyond the frame as far as the aperture does, its pixels there
 * NaN, so they take the same path (mirror image, else the radial profile,
 * else refusal).  Leaving them out, as this code once did, made a galaxy
 * whose aperture crossed the frame edge silently faint.  The sky annulus
 * uses the finite pixels on the frame only.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "galpost/gp_image.h"
#include "gp_fill.h"
#include "gp_fits_util.h"

#define SUB 8          /* sub-pixels per axis for edge pixels */
#define MIN_SKY 20     /* fewest usable sky pixels */

gp_phot_options gp_phot_options_default(void)
{
    gp_phot_options o = { 6.0, 0.0, 0.0 };
    return o;
}

/* Reads frame pixels [x0, x0 + w) x [y0, y0 + h), a rectangle that may
 * reach beyond the frame's nx x ny pixels, into sec; pixels off the frame
 * are NaN.  A rectangle on the frame is read straight into sec. */
static int read_section_padded(gp_frame *f, long nx, long ny, long x0, long y0, long w, long h,
                               float *sec, gp_error *err)
{
    if (x0 >= 1 && y0 >= 1 && x0 + w - 1 <= nx && y0 + h - 1 <= ny)
        return gp_frame_read_section(f, x0, y0, w, h, sec, err);
    for (long k = 0; k < w * h; k++) sec[k] = NAN;
    long fx0 = x0 < 1 ? 1 : x0, fy0 = y0 < 1 ? 1 : y0;
    long fx1 = x0 + w - 1 > nx ? nx : x0 + w - 1, fy1 = y0 + h - 1 > ny ? ny : y0 + h - 1;
    long fw = fx1 - fx0 + 1, fh = fy1 - fy0 + 1;
    if (fw < 1 || fh < 1) return GP_OK;
    float *on = malloc(sizeof(float) * (size_t)fw * (size_t)fh);
    if (!on) return GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory for photometry", gp_frame_name(f));
    int st = gp_frame_read_section(f, fx0, fy0, fw, fh, on, err);
    if (!st)
        for (long j = 0; j < fh; j++)
            memcpy(sec + (fy0 - y0 + j) * w + (fx0 - x0), on + j * fw, sizeof(float) * (size_t)fw);
    free(on);
    return st;
}

/* Fraction of pixel (x, y) (FITS centre coordinates) inside the circle. */
static double pixel_fraction(double x, double y, double xc, double yc, double r)
{
    double dx = x - xc, dy = y - yc, d = sqrt(dx * dx + dy * dy);
    if (d <= r - M_SQRT1_2) return 1.0;
    if (d >= r + M_SQRT1_2) return 0.0;
    int in = 0;
    for (int j = 0; j < SUB; j++)
        for (int i = 0; i < SUB; i++) {
            double sx = dx - 0.5 + (i + 0.5) / SUB, sy = dy - 0.5 + (j + 0.5) / SUB;
            if (sx * sx + sy * sy <= r * r) in++;
        }
    return (double)in / (SUB * SUB);
}

int gp_phot_aperture(gp_frame *f, double ra, double dec,
                     const gp_phot_options *opt, gp_phot *out, gp_error *err)
{
    if (!f || !out) return GP_FAIL(err, GP_ERR_ARG, "gp_phot_aperture: NULL argument");
    gp_phot_options o = opt ? *opt : gp_phot_options_default();
    if (o.sky_inner <= 0) o.sky_inner = 2.0 * o.radius;
    if (o.sky_outer <= 0) o.sky_outer = 3.0 * o.radius;
    if (!(o.radius > 0) || !(o.sky_inner >= o.radius) || !(o.sky_outer > o.sky_inner) ||
        !(o.sky_outer <= 300))
        return GP_FAIL(err, GP_ERR_ARG, "%s: aperture %g\" with sky annulus %g\"..%g\" is not 0 < R <= R_in < R_out <= 300\"",
                       gp_frame_name(f), o.radius, o.sky_inner, o.sky_outer);
    int ust = gp_frame_check_measurable(f, err);
    if (ust) return ust;
    const long nx = gp_frame_width(f), ny = gp_frame_height(f);
    double xc, yc;
    int st = gp_frame_sky_to_pixel(f, ra, dec, &xc, &yc, err);
    if (st) return st;
    if (xc < 0.5 || xc > nx + 0.5 || yc < 0.5 || yc > ny + 0.5)
        return GP_FAIL(err, GP_ERR_DATA, "%s: RA %.6f Dec %.6f is off the image (pixel %.1f, %.1f)",
                       gp_frame_name(f), ra, dec, xc, yc);
    const double scale = gp_frame_pixel_scale(f);
    const double r = o.radius / scale, rin = o.sky_inner / scale, rout = o.sky_outer / scale;

    /* The section: the sky annulus's box on the frame, widened beyond the
     * frame to the aperture's box (whose off-frame pixels are filled as
     * masked ones are; it lies within the annulus's box, R <= R_in). */
    long x0 = (long)floor(xc - rout - 1), x1 = (long)ceil(xc + rout + 1);
    long y0 = (long)floor(yc - rout - 1), y1 = (long)ceil(yc + rout + 1);
    long ax0 = (long)floor(xc - r - 1), ax1 = (long)ceil(xc + r + 1);
    long ay0 = (long)floor(yc - r - 1), ay1 = (long)ceil(yc + r + 1);
    memset(out, 0, sizeof *out);
    /* Part of the aperture is off the frame. */
    if (xc - r < 0.5 || xc + r > nx + 0.5 || yc - r < 0.5 || yc + r > ny + 0.5)
        out->flags |= GP_FLAG_EDGE;
    if (x0 < 1) x0 = ax0 < 1 ? ax0 : 1;
    if (y0 < 1) y0 = ay0 < 1 ? ay0 : 1;
    if (x1 > nx) x1 = ax1 > nx ? ax1 : nx;
    if (y1 > ny) y1 = ay1 > ny ? ay1 : ny;
    long w = x1 - x0 + 1, h = y1 - y0 + 1;
    float *sec = malloc(sizeof(float) * (size_t)w * (size_t)h);
    float *sky = malloc(sizeof(float) * (size_t)w * (size_t)h);
    if (!sec || !sky) {
        free(sec); free(sky);
        return GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory for photometry", gp_frame_name(f));
    }
    st = read_section_padded(f, nx, ny, x0, y0, w, h, sec, err);
    if (st) { free(sec); free(sky); return st; }

    size_t nsky = 0;
    for (long j = 0; j < h; j++)
        for (long i = 0; i < w; i++) {
            double dx = (double)(x0 + i) - xc, dy = (double)(y0 + j) - yc;
            double d2 = dx * dx + dy * dy;
            float p = sec[j * w + i];
            if (d2 >= rin * rin && d2 <= rout * rout && isfinite(p)) sky[nsky++] = p;
        }
    if (nsky < MIN_SKY) {
        free(sec); free(sky);
        return GP_FAIL(err, GP_ERR_DATA, "%s: only %zu finite sky pixels in the %g\"..%g\" annulus at RA %.6f Dec %.6f",
                       gp_frame_name(f), nsky, o.sky_inner, o.sky_outer, ra, dec);
    }
    double skylev, skyrms;
    size_t kept = gp_clipped_sky(sky, nsky, &skylev, &skyrms);
    free(sky);
    if (!kept) {
        free(sec);
        return GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory for photometry", gp_frame_name(f));
    }

    /* The galaxy's azimuthal profile, against which mirror images are
     * judged, when the aperture has pixels to fill (none: nothing below
     * changes, to the bit). */
    gp_ring_profile rp = { .xc = xc, .yc = yc };   /* nothing judged without a profile */
    int tofill = 0;
    for (long j = 0; j < h && !tofill; j++)
        for (long i = 0; i < w && !tofill; i++)
            tofill = !isfinite(sec[j * w + i]) && pixel_fraction((double)(x0 + i), (double)(y0 + j), xc, yc, r) > 0;
    if (tofill && gp_ring_profile_make(sec, x0, y0, w, h, xc, yc, r, r + 1, skylev, skyrms, &rp)) {
        free(sec);
        return GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory for photometry", gp_frame_name(f));
    }

    double sum = 0, area = 0, rec = 0, rec_area = 0, prof = 0;
    long nlost = 0, nlost_off = 0;   /* pixels with no mirror image; those off the frame */
    for (long j = 0; j < h; j++)
        for (long i = 0; i < w; i++) {
            double frac = pixel_fraction((double)(x0 + i), (double)(y0 + j), xc, yc, r);
            if (frac == 0) continue;
            float p = sec[j * w + i];
            area += frac;
            if (!isfinite(p)) {
                double v;
                int off = x0 + i < 1 || x0 + i > nx || y0 + j < 1 || y0 + j > ny;
                if (!off) out->flags |= GP_FLAG_MASKED;   /* off: GP_FLAG_EDGE, set above */
                int how = gp_fill_value(sec, x0, y0, w, h, &rp, (double)(x0 + i), (double)(y0 + j), 0, &v);
                if (how == 1) {
                    rec += frac * (v - skylev);
                    rec_area += frac;
                } else if (how == 2) {
                    /* its mirror image is not the galaxy's: the profile */
                    prof += frac * (v - skylev);
                } else {
                    nlost++;
                    nlost_off += off;
                }
                continue;
            }
            sum += frac * ((double)p - skylev);
        }
    /* Masked (or off-frame) pixels with no mirror image: their flux from
     * the mean radial profile of the finite pixels (1-pixel rings; an empty
     * ring takes the nearest one inward, else outward, so a lost core is
     * under- rather than over-estimated and the refusal below errs towards
     * accepting only when the loss is plainly small). */
    double lost = 0;
    if (nlost > 0) {
        int nb = (int)r + 2;
        double *ps = calloc((size_t)nb * 2, sizeof(double)), *pw = ps + nb;
        if (!ps) {
            free(sec);
            gp_ring_profile_free(&rp);
            return GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory for photometry", gp_frame_name(f));
        }
        for (long j = 0; j < h; j++)
            for (long i = 0; i < w; i++) {
                double dx = (double)(x0 + i) - xc, dy = (double)(y0 + j) - yc;
                double frac = pixel_fraction((double)(x0 + i), (double)(y0 + j), xc, yc, r);
                float p = sec[j * w + i];
                if (frac == 0 || !isfinite(p)) continue;
                int b = (int)sqrt(dx * dx + dy * dy);
                if (b >= nb) b = nb - 1;
                ps[b] += frac * ((double)p - skylev);
                pw[b] += frac;
            }
        for (long j = 0; j < h; j++)
            for (long i = 0; i < w; i++) {
                double dx = (double)(x0 + i) - xc, dy = (double)(y0 + j) - yc, v;
                double frac = pixel_fraction((double)(x0 + i), (double)(y0 + j), xc, yc, r);
                if (frac == 0 || isfinite(sec[j * w + i]) ||
                    gp_fill_value(sec, x0, y0, w, h, &rp, (double)(x0 + i), (double)(y0 + j), 0, &v))
                    continue;
                int b = (int)sqrt(dx * dx + dy * dy), k = -1;
                if (b >= nb) b = nb - 1;
                for (int q = b; q >= 0 && k < 0; q--) if (pw[q] >= 0.5) k = q;
                for (int q = b + 1; q < nb && k < 0; q++) if (pw[q] >= 0.5) k = q;
                if (k >= 0) lost += frac * ps[k] / pw[k];
            }
        free(ps);
    }
    free(sec);
    gp_ring_profile_free(&rp);
    out->flux = sum + rec + prof + lost;
    out->area = area;
    out->sky = skylev;
    out->sky_rms = skyrms;
    out->nsky = (int)kept;
    out->recovered = rec;
    out->profiled = prof;
    out->lost_frac = out->flux > 0 ? lost / out->flux : (lost > 0 ? 1.0 : 0.0);
    /* the sky level is a median: its variance is pi/2 times the mean's; a
     * recovered pixel repeats its mirror image's noise, which then counts
     * twice (variance 4 s^2 for the pair, not 2 s^2) */
    out->flux_err = sqrt(area * skyrms * skyrms * (1.0 + M_PI_2 * area / (double)kept) +
                         rec_area * skyrms * skyrms);
    if (lost > GP_PHOT_MAX_LOST * out->flux && lost > out->flux_err) {
        int band = gp_frame_band(f);
        char under[96] = "";
        if (nlost_off)
            snprintf(under, sizeof under, "%ld pixels off the frame edge%s", nlost_off, nlost > nlost_off ? " and " : "");
        if (nlost > nlost_off)
            snprintf(under + strlen(under), sizeof under - strlen(under), "%ld masked pixels", nlost - nlost_off);
        return GP_FAIL(err, GP_ERR_DATA,
                       "%s: about %.1f%% of the %s%sflux in the %g\" aperture at RA %.6f Dec %.6f lies under %s "
                       "whose mirror images about the centre are masked or off the frame too "
                       "(more than the %.0f%% that can be filled in): not measured",
                       gp_frame_name(f), out->flux > 0 ? 100.0 * lost / out->flux : 100.0,
                       band == GP_BAND_UNKNOWN ? "" : gp_band_name(band), band == GP_BAND_UNKNOWN ? "" : "-band ",
                       o.radius, ra, dec, under, 100.0 * GP_PHOT_MAX_LOST);
    }
    return GP_OK;
}

int gp_phot_magnitudes(gp_frame *const ugriz[GP_NBANDS], double ra, double dec,
                       const gp_phot_options *opt, float mag[GP_NBANDS],
                       float magerr[GP_NBANDS], uint32_t *flags, gp_error *err)
{
    if (!ugriz || !mag) return GP_FAIL(err, GP_ERR_ARG, "gp_phot_magnitudes: NULL argument");
    for (int b = 0; b < GP_NBANDS; b++)
        if (!ugriz[b])
            return GP_FAIL(err, GP_ERR_NOTFOUND,
                           "no %s frame: measured colours need u, g, r, i and z frames (or a catalogue match)",
                           gp_band_name(b));
    uint32_t fl = 0;
    for (int b = 0; b < GP_NBANDS; b++) {
        gp_phot p;
        int st = gp_phot_aperture(ugriz[b], ra, dec, opt, &p, err);
        if (st) { gp_error_prefix(err, "%s band", gp_band_name(b)); return st; }
        if (!(p.flux > 0)) {
            /* u and z, the bands a faint or red galaxy often leaves undetected:
             * a non-detection, written as SDSS writes one; g, r and i (the
             * image's bands): no galaxy there */
            if (b == GP_BAND_U || b == GP_BAND_Z) {
                mag[b] = GP_NONDETECTION_MAG;
                if (magerr) magerr[b] = NAN;
                fl |= p.flags | GP_FLAG_NONDETECTION;
                continue;
            }
            return GP_FAIL(err, GP_ERR_DATA, "%s band: %s: no positive flux at RA %.6f Dec %.6f (%.3g +- %.2g nanomaggies)",
                           gp_band_name(b), gp_frame_name(ugriz[b]), ra, dec, p.flux, p.flux_err);
        }
        mag[b] = (float)(22.5 - 2.5 * log10(p.flux));
        if (magerr) magerr[b] = (float)(1.0857 * p.flux_err / p.flux);
        fl |= p.flags;
    }
    if (flags) *flags |= fl;
    return GP_OK;
}
