/*
 * gpd_format.c: what galpostd shows: summaries (text, JSON), samples, the
 * BPT text, the DS9 text overlay and the BPT plot data.  Pure functions.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gp_derived.h"
#include "gp_json.h"
#include "gpd.h"

double gpd_line_flux(double y) { return pow(10.0, y) - 1.0; }

static const char *flag_words(uint32_t f, char *buf, size_t n)
{
    buf[0] = '\0';
    const struct { uint32_t bit; const char *w; } t[] = {
        { GP_FLAG_EDGE, "edge" }, { GP_FLAG_MASKED, "masked" }, { GP_FLAG_RESAMPLED, "resampled" },
        { GP_FLAG_PHOT_CATALOG, "catalogue-colours" }, { GP_FLAG_PHOT_MEASURED, "measured-colours" },
        { GP_FLAG_NONDETECTION, "non-detection" },
        { GP_FLAG_PHOT_CLIPPED, "photometry-clipped" }, { GP_FLAG_IMAGE_UNLIKE, "image-unlike-training" },
        { GP_FLAG_PHOT_UNLIKE, "photometry-unlike-training" }, { GP_FLAG_NO_SOURCE, "no-source" },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (f & t[i].bit) {
            size_t l = strlen(buf);
            snprintf(buf + l, n - l, "%s%s", l ? "," : "", t[i].w);
        }
    if (!buf[0]) snprintf(buf, n, "none");
    return buf;
}

char *gpd_format_summary_text(const gpd_result *res)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f) return NULL;
    char fl[256];
    fprintf(f, "galpost #%d  RA %.6f  Dec %+.6f  (ICRS)\n", res->id, res->ra, res->dec);
    fprintf(f, "  model %s%s%s, seed %llu, %.1f ms\n", res->model, res->phot_model ? " (photometry only)" : "",
            res->model_trained ? "" : " (UNTRAINED: random weights, not physics)",
            (unsigned long long)res->seed, res->compute_ms);
    if (res->posframe[0]) fprintf(f, "  position from %s\n", res->posframe);
    if (res->no_cutout)
        fprintf(f, "  image none (photometry only; no g, r, i cutout: %s)\n", res->nocut_why);
    else
        fprintf(f, "  image g %s\n        r %s\n        i %s\n", res->frames[0], res->frames[1], res->frames[2]);
    if (res->pixels[0]) fprintf(f, "  pixels %s\n", res->pixels);
    fprintf(f, "  colours: %s\n", res->colours);
    fprintf(f, "  ugriz  %.3f %.3f %.3f %.3f %.3f\n", res->mag[0], res->mag[1], res->mag[2],
            res->mag[3], res->mag[4]);
    fprintf(f, "  flags  %s\n", flag_words(res->r.flags, fl, sizeof fl));
    /* the distances always; the warnings when over the limit come with the
     * summary (gp_summary_print) */
    if (isfinite(res->r.latent_d2_limit))
        fprintf(f, "  image likeness: latent distance^2 %.1f, training limit %.1f (99.9%% of the training images)\n",
                res->r.latent_d2, res->r.latent_d2_limit);
    if (isfinite(res->r.phot_d2_limit))
        fprintf(f, "  photometry likeness: distance^2 %.1f, training limit %.1f (99.9%% of the training galaxies)\n",
                res->r.phot_d2, res->r.phot_d2_limit);
    if (isfinite(res->r.source_snr))
        fprintf(f, "  source at the centre: S/N %.1f within 2.4\" (limit %.0f), brightness peak %.1f\" away (limit %.2f\")\n",
                res->r.source_snr, GP_SOURCE_SNR_LIMIT, res->r.source_peak, GP_SOURCE_PEAK_LIMIT);
    for (int b = 0; b < 3 && !res->no_cutout; b++)
        fprintf(f, "  cutout %c: sum %.4g nanomaggies, peak %.4g at (%d, %d)\n", "gri"[b], res->cut_sum[b],
                res->cut_peak[b], res->cut_px[b], res->cut_py[b]);
    gp_summary_print(&res->r, f);
    fclose(f);
    return out;
}

/* A derived diagnostic by the name and unit of galpost infer --json and the
 * FITS tables (gp_derived.h); null for non-finite values. */
static void jstat(FILE *f, int k, const gp_summary *sum)
{
    const gp_stat *s = gp_derived_stat(sum, k);
    fprintf(f, "    ");
    gp_json_str(f, gp_derived_name(k));
    fprintf(f, ": {\"unit\": ");
    gp_json_str(f, gp_derived_unit(k));
    gp_json_member(f, "median", s->median);
    gp_json_member(f, "p16", s->p16);
    gp_json_member(f, "p84", s->p84);
    fprintf(f, ", \"n\": %d}%s\n", s->n, k + 1 == GP_NDERIVED ? "" : ",");
}

char *gpd_format_summary_json(const gpd_result *res)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f) return NULL;
    const gp_summary *s = &res->r.summary;
    char fl[256];
    fprintf(f, "{\n  \"id\": %d,\n  \"ra\": %.8f,\n  \"dec\": %.8f,\n  \"radius_arcsec\": ", res->id, res->ra, res->dec);
    gp_json_num(f, res->radius);
    fprintf(f, ",\n  \"aperture_arcsec\": ");   /* the photometry's, null for catalogue magnitudes */
    gp_json_num(f, res->aperture);
    fprintf(f, ",\n  \"model\": ");
    gp_json_str(f, res->model);
    fprintf(f, ",\n  \"model_trained\": %s,\n  \"seed\": %llu,\n  \"nsamples\": %d,\n  \"compute_ms\": %.2f,\n",
            res->model_trained ? "true" : "false", (unsigned long long)res->seed, res->r.nsamples, res->compute_ms);
    fprintf(f, "  \"photometry_only\": %s,\n  \"position_frame\": ", res->phot_model ? "true" : "false");
    if (res->posframe[0]) gp_json_str(f, res->posframe);
    else fprintf(f, "null");
    /* without a cutout: frames and cutout null, and why */
    fprintf(f, ",\n  \"no_cutout\": ");
    if (res->no_cutout) gp_json_str(f, res->nocut_why);
    else fprintf(f, "null");
    if (res->no_cutout) {
        fprintf(f, ",\n  \"frames\": null");
    } else {
        fprintf(f, ",\n  \"frames\": {\"g\": ");
        gp_json_str(f, res->frames[0]);
        fprintf(f, ", \"r\": ");
        gp_json_str(f, res->frames[1]);
        fprintf(f, ", \"i\": ");
        gp_json_str(f, res->frames[2]);
        fprintf(f, "}");
    }
    /* frames in counts: what was done to their pixels */
    fprintf(f, ",\n  \"pixels\": ");
    if (res->pixels[0]) gp_json_str(f, res->pixels);
    else fprintf(f, "null");
    fprintf(f, ",\n  \"colours\": ");
    gp_json_str(f, res->colours);
    fprintf(f, ",\n  \"mag\": {");
    for (int b = 0; b < GP_NMAG; b++) {
        fprintf(f, "%s\"%c\": ", b ? ", " : "", "ugriz"[b]);
        gp_json_num(f, res->mag[b]);
    }
    fprintf(f, "},\n  \"cutout\": ");
    if (res->no_cutout) fprintf(f, "null");
    for (int b = 0; b < 3 && !res->no_cutout; b++) {
        fprintf(f, "%s\"%c\": {\"sum\": ", b ? ", " : "{", "gri"[b]);
        gp_json_num(f, res->cut_sum[b]);
        fprintf(f, ", \"peak\": ");
        gp_json_num(f, res->cut_peak[b]);
        fprintf(f, ", \"peak_x\": %d, \"peak_y\": %d}%s", res->cut_px[b], res->cut_py[b], b == 2 ? "}" : "");
    }
    fprintf(f, ",\n  \"flags\": ");
    gp_json_str(f, flag_words(res->r.flags, fl, sizeof fl));
    fprintf(f, ",\n  ");
    gp_json_checks(f, &res->r, ",\n  ");
    fprintf(f, ",\n  \"quantities\": {\n");
    for (int q = 0; q < GP_NQ; q++) {
        fprintf(f, "    ");
        gp_json_str(f, gp_quantity_name(q));
        fprintf(f, ": {\"unit\": ");
        gp_json_str(f, gp_quantity_unit(q));
        gp_json_member(f, "median", s->median[q]);
        gp_json_member(f, "p16", s->p16[q]);
        gp_json_member(f, "p84", s->p84[q]);
        gp_json_member(f, "mean", s->mean[q]);
        gp_json_member(f, "std", s->std[q]);
        if (q >= GP_Q_HALPHA) {
            gp_json_member(f, "flux_median", gpd_line_flux(s->median[q]));
            gp_json_member(f, "flux_p16", gpd_line_flux(s->p16[q]));
            gp_json_member(f, "flux_p84", gpd_line_flux(s->p84[q]));
            /* the 68% interval, from 0 (an upper limit) where F <= 0 is 16% likely or more */
            gp_json_member(f, "lo68", s->lo68[q]);
            gp_json_member(f, "hi68", s->hi68[q]);
            gp_json_member(f, "flux_lo68", gpd_line_flux(s->lo68[q]));
            gp_json_member(f, "flux_hi68", gpd_line_flux(s->hi68[q]));
            gp_json_member(f, "p_zero", s->p_zero[q]);
        }
        fprintf(f, "}%s\n", q + 1 < GP_NQ ? "," : "");
    }
    fprintf(f, "  },\n  ");
    gp_json_corr(f, s, "\n    ");
    fprintf(f, ",\n  \"p_detect\": ");
    gp_json_num(f, s->p_detect);
    fprintf(f, ",\n  ");
    gp_json_bpt(f, s);   /* (as in galpost infer --json) */
    fprintf(f, ",\n  \"derived\": {\n");
    for (int k = 0; k < GP_NDERIVED; k++) jstat(f, k, s);
    fprintf(f, "  }\n}\n");
    fclose(f);
    return out;
}

char *gpd_format_samples_text(const gpd_result *res)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f) return NULL;
    fprintf(f, "# galpost #%d RA %.6f Dec %+.6f: %d posterior samples; lines are log10(1 + F/1e-17 erg/s/cm^2)\n#",
            res->id, res->ra, res->dec, res->r.nsamples);
    for (int q = 0; q < GP_NQ; q++) fprintf(f, " %s", gp_quantity_name(q));
    fputc('\n', f);
    if (res->r.samples)
        for (int i = 0; i < res->r.nsamples; i++) {
            for (int q = 0; q < GP_NQ; q++)
                fprintf(f, q ? " %.6g" : "%.6g", res->r.samples[(size_t)i * GP_NQ + q]);
            fputc('\n', f);
        }
    fclose(f);
    return out;
}

char *gpd_format_bpt_text(const gpd_result *res)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f) return NULL;
    const gp_summary *s = &res->r.summary;
    fprintf(f, "id %d\n", res->id);
    fprintf(f, "class %s\n", s->bpt_class >= 0 ? gp_bpt_class_name(s->bpt_class) : "undefined");
    fprintf(f, "p_class %.4f\n", s->bpt_class >= 0 ? s->p_bpt[s->bpt_class] : 0.0);
    for (int c = 0; c < GP_NBPT; c++) fprintf(f, "p %s %.4f\n", gp_bpt_class_name(c), s->p_bpt[c]);
    fprintf(f, "samples %d\n", s->bpt_n);
    fprintf(f, "log_nii_halpha %.4f %.4f %.4f\n", s->log_n2.median, s->log_n2.p16, s->log_n2.p84);
    fprintf(f, "log_oiii_hbeta %.4f %.4f %.4f\n", s->log_o3.median, s->log_o3.p16, s->log_o3.p84);
    fprintf(f, "curves Kauffmann+03: y = 0.61/(x - 0.05) + 1.30; Kewley+01: y = 0.61/(x - 0.47) + 1.19; "
               "Schawinski+07: y = 1.05 x + 0.45\n");
    fclose(f);
    return out;
}

/* "10.64 ± 0.67" or "10.64 +0.70/-0.55" when asymmetric by > 20%. */
static void value_text(char *buf, size_t n, double med, double lo, double hi, int digits)
{
    double up = hi - med, dn = med - lo;
    if (!isfinite(med)) { snprintf(buf, n, "undefined"); return; }
    if (fabs(up - dn) <= 0.2 * fmax(up, dn))
        snprintf(buf, n, "%.*f \xc2\xb1 %.*f", digits, med, digits, 0.5 * (up + dn));
    else
        snprintf(buf, n, "%.*f +%.*f/-%.*f", digits, med, digits, up, digits, dn);
}

/* The overlay's lines; returns how many. */
static int overlay_lines(const gpd_result *res, char lines[][160], int max)
{
    const gp_summary *s = &res->r.summary;
    int n = 0;
    char v[96];
    const char *src = (res->r.flags & GP_FLAG_PHOT_CATALOG) ? "catalogue colours" : "measured colours";
    snprintf(lines[n++], 160, "galpost #%d  (%s%s%s)", res->id, src, res->phot_model ? ", photometry-only model" : "",
             res->model_trained ? "" : ", untrained model");
    static const struct { int q; const char *label; int digits; } phys[] = {
        { GP_Q_LOGMSTAR, "log M*/Msun", 2 }, { GP_Q_LOGSFR, "log SFR", 2 }, { GP_Q_Z, "z", 3 },
        { GP_Q_LOGMBH, "log M_BH", 2 },
    };
    for (size_t i = 0; i < sizeof phys / sizeof phys[0] && n < max; i++) {
        value_text(v, sizeof v, s->median[phys[i].q], s->p16[phys[i].q], s->p84[phys[i].q], phys[i].digits);
        snprintf(lines[n++], 160, "%s = %s", phys[i].label, v);
    }
    value_text(v, sizeof v, s->median[GP_Q_OH], s->p16[GP_Q_OH], s->p84[GP_Q_OH], 2);
    snprintf(lines[n++], 160, "12+log(O/H) = %s  (p_detect %.2f)", v, s->p_detect);
    static const struct { int q; const char *label; } lines4[] = {
        { GP_Q_HALPHA, "H\xce\xb1" }, { GP_Q_HBETA, "H\xce\xb2" },
        { GP_Q_NII6584, "[NII]6584" }, { GP_Q_OIII5007, "[OIII]5007" },
    };
    for (size_t i = 0; i < 4 && n < max; i++) {
        int q = lines4[i].q;
        double a, b;
        if (gp_interval_probs(s->p_zero[q], 0.68, &a, &b) && s->hi68[q] <= 0.0)   /* F <= 0 68% likely or more */
            snprintf(lines[n++], 160, "%s not detected  (P(F \xe2\x89\xa4 0) %.2f)", lines4[i].label, s->p_zero[q]);
        else if (gp_interval_probs(s->p_zero[q], 0.68, &a, &b))   /* likely undetected: a 68% upper limit */
            snprintf(lines[n++], 160, "%s < %.1f e-17 erg/s/cm2  (P(F \xe2\x89\xa4 0) %.2f)", lines4[i].label,
                     gpd_line_flux(s->hi68[q]), s->p_zero[q]);
        else {
            value_text(v, sizeof v, gpd_line_flux(s->median[q]), gpd_line_flux(s->lo68[q]),
                       gpd_line_flux(s->hi68[q]), 1);
            snprintf(lines[n++], 160, "%s = %s e-17 erg/s/cm2", lines4[i].label, v);
        }
    }
    if (n < max) {
        if (s->bpt_class >= 0)
            snprintf(lines[n++], 160, "BPT: %s (p = %.2f)", gp_bpt_class_name(s->bpt_class), s->p_bpt[s->bpt_class]);
        else
            snprintf(lines[n++], 160, "BPT: undefined");
    }
    if ((res->r.flags & GP_FLAG_NO_SOURCE) && n < max) {
        if (res->r.source_snr >= GP_SOURCE_SNR_LIMIT)   /* bright, but beside a source */
            snprintf(lines[n++], 160, "warning: not centred on a source (peak %.1f\" away, S/N %.1f)",
                     res->r.source_peak, res->r.source_snr);
        else
            snprintf(lines[n++], 160, "warning: no source at the centre (S/N %.1f, peak %.1f\")",
                     res->r.source_snr, res->r.source_peak);
    }
    uint32_t bad = res->r.flags & (GP_FLAG_EDGE | GP_FLAG_MASKED);
    if (bad && n < max)
        snprintf(lines[n++], 160, "warning:%s%s", bad & GP_FLAG_EDGE ? " cutout crosses the frame edge" : "",
                 bad & GP_FLAG_MASKED ? " masked pixels filled" : "");
    if ((res->r.flags & GP_FLAG_IMAGE_UNLIKE) && n < max)
        snprintf(lines[n++], 160, "warning: image unlike the training images (latent d2 %.0f > %.0f)",
                 res->r.latent_d2, res->r.latent_d2_limit);
    if ((res->r.flags & GP_FLAG_PHOT_UNLIKE) && n < max)
        snprintf(lines[n++], 160, "warning: colours unlike the training set (d2 %.0f > %.0f)",
                 res->r.phot_d2, res->r.phot_d2_limit);
    if ((res->r.flags & GP_FLAG_PHOT_CLIPPED) && n < max)
        snprintf(lines[n++], 160, "warning: photometry beyond 5 sigma of the training set, held there");
    return n;
}

#define OVERLAY_MAX 16

/* Characters (UTF-8 code points) of a line. */
static int text_width(const char *s)
{
    int n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p & 0xc0) != 0x80) n++;
    return n;
}

/* DS9 centres text on its position; helvetica 10 is about 6 screen pixels
 * per character, so a line's centre goes 3 px per character right of the
 * left margin to line the block up on the left. */
#define HALF_CHAR_PX 3.5
/* every region is in group galpost; each result's also in galpost-N */
#define REGION_PROPS "color=cyan font=\"helvetica 10 normal roman\" select=0 edit=0 move=0 rotate=0 delete=1 tag={galpost} tag={galpost-%d}"

/* The lines' block for a placement: the box it covers (image pixels) and
 * the left (align < 0: right edge) x its lines line up on. */
static void place_block(const gpd_result *res, double x, double y, double r, double zoom, int place,
                        gpd_box *b, int *nlines, int *align, double *ax, char lines[][160])
{
    int n = overlay_lines(res, lines, OVERLAY_MAX), w = 0;
    if (!(zoom > 0) || !isfinite(zoom)) zoom = 1;
    if (!(r >= 0)) r = 0;
    for (int i = 0; i < n; i++) if (text_width(lines[i]) > w) w = text_width(lines[i]);
    const double W = 2.0 * HALF_CHAR_PX * w / zoom, dy = 14.0 / zoom, H = n * dy, gap = 12.0 / zoom;
    int right = place == GPD_PLACE_RIGHT || place == GPD_PLACE_RIGHT_UP || place == GPD_PLACE_RIGHT_DOWN;
    int left = place == GPD_PLACE_LEFT || place == GPD_PLACE_LEFT_UP || place == GPD_PLACE_LEFT_DOWN;
    if (right) { b->x0 = x + r + gap; b->x1 = b->x0 + W; }
    else if (left) { b->x1 = x - r - gap; b->x0 = b->x1 - W; }
    else { b->x0 = x - 0.5 * W; b->x1 = x + 0.5 * W; }
    switch (place) {
    case GPD_PLACE_RIGHT_UP: case GPD_PLACE_LEFT_UP:   /* the last line beside the galaxy */
        b->y0 = y - 0.5 * dy; break;
    case GPD_PLACE_RIGHT_DOWN: case GPD_PLACE_LEFT_DOWN:   /* the first line beside it */
        b->y0 = y + 0.5 * dy - H; break;
    case GPD_PLACE_ABOVE: b->y0 = y + r + 0.5 * gap; break;
    case GPD_PLACE_BELOW: b->y0 = y - r - 0.5 * gap - H; break;
    default: b->y0 = y - 0.5 * H; break;   /* centred on the galaxy */
    }
    b->y1 = b->y0 + H;
    *nlines = n;
    *align = left ? -1 : 1;
    *ax = left ? b->x1 : b->x0;
}

void gpd_overlay_box(const gpd_result *res, double x, double y, double r, double zoom, int place, gpd_box *box)
{
    char lines[OVERLAY_MAX][160];
    int n, align;
    double ax;
    place_block(res, x, y, r, zoom, place, box, &n, &align, &ax, lines);
}

void gpd_overlay_lines(const gpd_result *res, double x, double y, double r, double zoom, int place,
                       gpd_lines *out)
{
    char lines[OVERLAY_MAX][160];
    gpd_box b;
    int n, align;
    double ax;
    if (!(zoom > 0) || !isfinite(zoom)) zoom = 1;
    place_block(res, x, y, r, zoom, place, &b, &n, &align, &ax, lines);
    double wmin = n > 0 ? INFINITY : 0, wmax = 0;
    for (int i = 0; i < n; i++) {
        const double w = HALF_CHAR_PX * text_width(lines[i]);
        wmin = fmin(wmin, w);
        wmax = fmax(wmax, w);
    }
    const double dy = 14.0 / zoom;   /* (as gpd_format_overlay_at() spaces them) */
    *out = (gpd_lines){ .zoom = zoom, .ax = ax, .align = align, .wmin = wmin, .wmax = wmax,
                        .yc0 = b.y0 + 0.5 * dy, .yc1 = b.y1 - 0.5 * dy };
}

void gpd_lines_box(const gpd_lines *l, double zoom, gpd_box *box)
{
    if (!(zoom > 0) || !isfinite(zoom)) zoom = 1;
    /* line i (half width w_i screen px) is centred w_i / zoom-drawn from ax
     * and spans w_i / zoom either side: its near end is w_i * k from ax,
     * nearest for the narrowest line zoomed in (k > 0), the widest zoomed
     * out; its far end farthest for the widest */
    const double k = 1.0 / l->zoom - 1.0 / zoom;
    const double nearest = fmin(l->wmin * k, l->wmax * k), farthest = l->wmax * (1.0 / l->zoom + 1.0 / zoom);
    if (l->align < 0) {
        box->x0 = l->ax - farthest;
        box->x1 = l->ax - nearest;
    } else {
        box->x0 = l->ax + nearest;
        box->x1 = l->ax + farthest;
    }
    box->y0 = l->yc0 - 7.0 / zoom;   /* half a 14-pixel line */
    box->y1 = l->yc1 + 7.0 / zoom;
}

char *gpd_format_overlay(const gpd_result *res, double x, double y, double r,
                         double zoom, int marker)
{
    return gpd_format_overlay_at(res, x, y, r, zoom, marker, GPD_PLACE_RIGHT);
}

char *gpd_format_overlay_at(const gpd_result *res, double x, double y, double r,
                            double zoom, int marker, int place)
{
    char lines[OVERLAY_MAX][160];
    gpd_box b;
    int n, align;
    double ax;
    if (!(zoom > 0) || !isfinite(zoom)) zoom = 1;
    place_block(res, x, y, r, zoom, place, &b, &n, &align, &ax, lines);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f) return NULL;
    fprintf(f, "# Region file format: DS9 version 4.1\nimage\n");
    if (marker)
        fprintf(f, "circle(%.3f,%.3f,%.3f) # " REGION_PROPS "\n", x, y, r > 0 ? r : 6.0 / zoom, res->id);
    const double dy = 14.0 / zoom;
    for (int i = 0; i < n; i++)   /* (DS9 centres a text on its position) */
        fprintf(f, "# text(%.3f,%.3f) text={%s} " REGION_PROPS "\n",
                ax + align * HALF_CHAR_PX * text_width(lines[i]) / zoom, b.y1 - (i + 0.5) * dy, lines[i], res->id);
    fclose(f);
    return out;
}

static double overlap(const gpd_box *a, const gpd_box *b)
{
    double w = fmin(a->x1, b->x1) - fmax(a->x0, b->x0), h = fmin(a->y1, b->y1) - fmax(a->y0, b->y0);
    return w > 0 && h > 0 ? w * h : 0.0;
}

int gpd_overlay_place(const gpd_result *res, double x, double y, double r, double zoom,
                      const gpd_box *avoid, int navoid, gpd_box *box)
{
    if (!(zoom > 0) || !isfinite(zoom)) zoom = 1;
    const double margin = 3.0 / zoom;   /* keep a few screen pixels between blocks */
    int best = GPD_PLACE_RIGHT;
    double best_cost = INFINITY;
    for (int p = 0; p < GPD_PLACES; p++) {
        gpd_box b;
        gpd_overlay_box(res, x, y, r, zoom, p, &b);
        gpd_box grown = { b.x0 - margin, b.x1 + margin, b.y0 - margin, b.y1 + margin };
        double cost = 0;
        for (int k = 0; k < navoid; k++) cost += overlap(&grown, &avoid[k]);
        if (cost < best_cost) {   /* ties: the earlier place */
            best_cost = cost;
            best = p;
            *box = b;
        }
        if (cost == 0) break;
    }
    return best;
}

char *gpd_format_overlay_sky(const gpd_result *res, double line_arcsec, int marker)
{
    char lines[OVERLAY_MAX][160];
    int n = overlay_lines(res, lines, OVERLAY_MAX);
    double c = cos(res->dec * M_PI / 180.0);
    if (c < 1e-3) c = 1e-3;
    double rad = res->radius > 0 ? res->radius : 6.0;
    double xoff = (rad + 0.5 * line_arcsec) / 3600.0 / c;  /* to the west */
    double chr = HALF_CHAR_PX / 14.0 * line_arcsec / 3600.0 / c;
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f) return NULL;
    fprintf(f, "# Region file format: DS9 version 4.1\nicrs\n");
    if (marker) fprintf(f, "circle(%.7f,%.7f,%.3f\") # " REGION_PROPS "\n", res->ra, res->dec, rad, res->id);
    double top = res->dec + 0.5 * (n - 1) * line_arcsec / 3600.0;
    for (int i = 0; i < n; i++)
        fprintf(f, "# text(%.7f,%.7f) text={%s} " REGION_PROPS "\n", res->ra - xoff - chr * text_width(lines[i]),
                top - i * line_arcsec / 3600.0, lines[i], res->id);
    fclose(f);
    return out;
}

char *gpd_format_error_region(double ra, double dec, const char *message)
{
    char clean[400];
    size_t k = 0;
    for (const char *p = message; *p && k + 1 < sizeof clean; p++)
        clean[k++] = (*p == '{' || *p == '}' || *p == '\n') ? ' ' : *p;
    clean[k] = '\0';
    char *out = NULL;
    if (asprintf(&out, "# Region file format: DS9 version 4.1\nicrs\n"
                       "# text(%.7f,%.7f) text={galpost: %s} color=red font=\"helvetica 10 bold roman\" "
                       "select=0 edit=0 move=0 rotate=0 delete=1 tag={galpost} tag={galpost-error}\n",
                 ra, dec, clean) < 0)
        return NULL;
    return out;
}

char *gpd_format_bpt_points(const gpd_result *res, int *npts)
{
    char *out = NULL;
    size_t len = 0;
    *npts = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f) return NULL;
    if (res->r.samples)
        for (int i = 0; i < res->r.nsamples; i++) {
            const float *s = res->r.samples + (size_t)i * GP_NQ;
            double ha = gpd_line_flux(s[GP_Q_HALPHA]), hb = gpd_line_flux(s[GP_Q_HBETA]);
            double n2 = gpd_line_flux(s[GP_Q_NII6584]), o3 = gpd_line_flux(s[GP_Q_OIII5007]);
            if (!(ha > 0 && hb > 0 && n2 > 0 && o3 > 0)) continue;
            /* a flow sample far out overflows a flux (log10(1+F) = 1123 on blank
             * sky): its ratio is not a point, and DS9 refuses "inf" in plot data */
            double x = log10(n2 / ha), y = log10(o3 / hb);
            if (!isfinite(x) || !isfinite(y)) continue;
            fprintf(f, "%.5f %.5f\n", x, y);
            (*npts)++;
        }
    fclose(f);
    return out;
}

static double kauffmann(double x) { return 0.61 / (x - 0.05) + 1.30; }
static double kewley(double x) { return 0.61 / (x - 0.47) + 1.19; }

const char *gpd_bpt_curve_name(int which)
{
    static const char *const names[GPD_BPT_CURVES] = { "Kauffmann+03", "Kewley+01", "Schawinski+07" };
    return which >= 0 && which < GPD_BPT_CURVES ? names[which] : "?";
}

char *gpd_format_bpt_curve(int which, int *npts)
{
    char *out = NULL;
    size_t len = 0;
    *npts = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f) return NULL;
    const double step = 0.01;
    if (which == 0 || which == 1) {
        for (double x = GPD_BPT_XMIN; x < (which ? 0.47 : 0.05); x += step) {
            double y = which ? kewley(x) : kauffmann(x);
            if (y < GPD_BPT_YMIN) break;
            fprintf(f, "%.4f %.4f\n", x, y);
            (*npts)++;
        }
    } else if (which == 2) {
        /* from where it meets Kewley+01 (left branch) to the plot edge:
         * 1.05 x^2 - 1.2335 x - 0.2622 = 0 */
        double x0 = (1.2335 - sqrt(1.2335 * 1.2335 + 4 * 1.05 * 0.2622)) / (2 * 1.05);
        for (double x = x0; x <= GPD_BPT_XMAX + 1e-9; x += (GPD_BPT_XMAX - x0) / 20.0) {
            double y = 1.05 * x + 0.45;
            if (y > GPD_BPT_YMAX) break;
            fprintf(f, "%.4f %.4f\n", x, y);
            (*npts)++;
        }
    }
    fclose(f);
    return out;
}
