/*
 * gpd_inputs.c: one galaxy's model inputs from the images DS9 holds and
 * galpostd's catalogue (worker thread): the g, r, i cutout and the ugriz
 * magnitudes (the catalogue match, else measured on the u..z images).
 *
 * An image model needs the cutout, so g, r and i images that cover the
 * galaxy.  A photometry-only model needs only the magnitudes: with a
 * catalogue, one image with a celestial WCS for the position (DS9 turns
 * regions and the crosshair into RA/Dec through the current frame's), and
 * without one the five u, g, r, i, z images to measure them on.  It still
 * gets a cutout when g, r and i images cover the galaxy, for the source
 * check (GP_FLAG_NO_SOURCE).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpd_daemon.h"

const char *gpd_source_name(const gpd_source *s, char *buf, size_t n)
{
    if (s->path[0] && s->mem && s->file_note) {
        /* the file was not what DS9 shows: its pixels came from DS9 */
        if (s->channel[0])
            snprintf(buf, n, "frame %d %s channel (%s; %s: read from DS9)", s->frame, s->channel, s->path, s->file_note);
        else
            snprintf(buf, n, "frame %d (%s; %s: read from DS9)", s->frame, s->path, s->file_note);
        return buf;
    }
    if (s->channel[0])
        snprintf(buf, n, "frame %d %s channel (%s)", s->frame, s->channel, s->path[0] ? s->path : "no file");
    else
        snprintf(buf, n, "frame %d (%s)", s->frame, s->path[0] ? s->path : "no file");
    return buf;
}

/* The first image of `band` with a WCS that covers the position.  On
 * failure, a message saying why. */
static gp_frame *pick(const gpd_job *job, const gpd_opened *op, int band, double ra, double dec, char *why,
                      size_t n, int *src_index)
{
    int seen = 0, nowcs = -1, off = -1, broken = -1;
    for (int i = 0; i < job->nsrc; i++) {
        if (job->src[i].band != band) continue;
        seen++;
        if (op->open_st[i]) { if (broken < 0) broken = i; continue; }
        if (!gp_frame_has_wcs(op->fr[i])) { if (nowcs < 0) nowcs = i; continue; }
        if (!gp_frame_contains(op->fr[i], ra, dec)) { if (off < 0) off = i; continue; }
        if (src_index) *src_index = i;
        return op->fr[i];
    }
    char nm[GPD_PATH_MAX + 64];
    if (!seen)
        snprintf(why, n, "no %s image among the %d frames of DS9 '%s' (bands come from the FILTER keyword or names like frame-%s-...)",
                 gp_band_name(band), job->nsrc, job->target, gp_band_name(band));
    else if (off >= 0)
        snprintf(why, n, "RA %.6f Dec %+.6f is off every %s image (e.g. %s)", ra, dec, gp_band_name(band),
                 gpd_source_name(&job->src[off], nm, sizeof nm));
    else if (nowcs >= 0 && *gp_frame_wcs_note(op->fr[nowcs]))
        snprintf(why, n, "the %s image %s: %s", gp_band_name(band), gpd_source_name(&job->src[nowcs], nm, sizeof nm),
                 gp_frame_wcs_note(op->fr[nowcs]));
    else if (nowcs >= 0)
        snprintf(why, n, "the %s image %s has no celestial WCS (CTYPE/CRVAL/CD keywords)", gp_band_name(band),
                 gpd_source_name(&job->src[nowcs], nm, sizeof nm));
    else
        snprintf(why, n, "the %s image cannot be read: %s", gp_band_name(band), op->open_msg[broken]);
    return NULL;
}

/* "u, g and z": the bands in mask (bit b for band b). */
static const char *band_list(unsigned mask, char *buf, size_t n)
{
    int k = 0, total = 0;
    for (int b = 0; b < GP_NBANDS; b++) total += (mask >> b) & 1;
    buf[0] = '\0';
    for (int b = 0; b < GP_NBANDS; b++) {
        if (!((mask >> b) & 1)) continue;
        size_t l = strlen(buf);
        snprintf(buf + l, n - l, "%s%s", k == 0 ? "" : k + 1 == total ? " or " : ", ", gp_band_name(b));
        k++;
    }
    return buf;
}

int gpd_inputs_refuse(const gpd_job *job, int uses_image, const gp_catalog *cat, char *why, size_t n)
{
    if (uses_image || cat) return 0;
    unsigned have = 0;
    for (int i = 0; i < job->nsrc; i++)
        if (job->src[i].band >= 0 && job->src[i].band < GP_NBANDS) have |= 1u << job->src[i].band;
    unsigned missing = ~have & ((1u << GP_NBANDS) - 1);
    if (!missing) return 0;
    char bl[64];
    snprintf(why, n,
             "the photometry-only model needs ugriz magnitudes: no catalogue is set (xpaset -p galpost set catalog FILE) "
             "and DS9 '%s' has no %s image among its %d frame%s to measure them on (measured magnitudes need u, g, r, "
             "i and z images)", job->target, band_list(missing, bl, sizeof bl), job->nsrc, job->nsrc == 1 ? "" : "s");
    return GP_ERR_NOTFOUND;
}

/* A photometry-only model: the image whose WCS places the galaxy.  Regions
 * and the crosshair were placed by DS9 through the current frame's WCS; a
 * given RA/Dec must fall on an image with a celestial WCS (the current
 * frame's first). */
static int position_frame(const gpd_job *job, const gpd_opened *op, const gpd_shape *sh, gpd_result *r,
                          char *msg, size_t n)
{
    char nm[GPD_PATH_MAX + 64];
    if (job->args.where != GPD_WHERE_POSITION) {
        if (op->cur_src >= 0)
            snprintf(r->posframe, sizeof r->posframe, "%s, through DS9", gpd_source_name(&job->src[op->cur_src], nm, sizeof nm));
        else
            snprintf(r->posframe, sizeof r->posframe, "frame %d, through DS9", job->cur_frame);
        return GP_OK;
    }
    int best = -1, nwcs = 0;
    for (int i = 0; i < job->nsrc; i++) {
        if (op->open_st[i] || !gp_frame_has_wcs(op->fr[i])) continue;
        nwcs++;
        if (!gp_frame_contains(op->fr[i], sh->ra, sh->dec)) continue;
        if (best < 0 || i == op->cur_src) best = i;
    }
    if (best < 0) {
        if (nwcs)
            snprintf(msg, n, "RA %.6f Dec %+.6f is off every image with a celestial WCS among the %d frames of DS9 '%s'",
                     sh->ra, sh->dec, job->nsrc, job->target);
        else
            snprintf(msg, n, "none of the %d frames of DS9 '%s' is an image with a celestial WCS to place RA %.6f Dec %+.6f on",
                     job->nsrc, job->target, sh->ra, sh->dec);
        return GP_ERR_WCS;
    }
    snprintf(r->posframe, sizeof r->posframe, "%s", gpd_source_name(&job->src[best], nm, sizeof nm));
    return GP_OK;
}

/* The cutout's total, and its brightest pixel within 20 px of the centre. */
static void cutout_stats(const float *c, gpd_result *r)
{
    for (int b = 0; b < 3; b++) {
        const float *pl = c + (size_t)b * GP_CUTOUT_SIZE * GP_CUTOUT_SIZE;
        double sum = 0, peak = -INFINITY;
        for (int y = 0; y < GP_CUTOUT_SIZE; y++)
            for (int x = 0; x < GP_CUTOUT_SIZE; x++) {
                double v = pl[y * GP_CUTOUT_SIZE + x];
                sum += v;
                if (abs(2 * x + 1 - GP_CUTOUT_SIZE) <= 40 && abs(2 * y + 1 - GP_CUTOUT_SIZE) <= 40 && v > peak) {
                    peak = v;
                    r->cut_px[b] = x;
                    r->cut_py[b] = y;
                }
            }
        r->cut_sum[b] = sum;
        r->cut_peak[b] = peak;
    }
}

/* Frames in counts calibrated by a zero point: what was done to each used
 * (gp_frame_pixels_note()), named as DS9 shows them, into r->pixels; cut:
 * the g, r, i frames gave the cutout. */
static void pixels_note(const gpd_job *job, gp_frame *const band[GP_NBANDS], const int bsrc[GP_NBANDS], int cut,
                        gpd_result *r)
{
    gp_frame *used[GP_NBANDS] = {0};
    char nm[GP_NBANDS][GPD_PATH_MAX + 64];
    const char *name[GP_NBANDS] = {0};
    for (int b = 0; b < GP_NBANDS; b++)
        if (band[b] && bsrc[b] >= 0 && *gp_frame_calibration(band[b])) {
            used[b] = band[b];
            name[b] = gpd_source_name(&job->src[bsrc[b]], nm[b], sizeof nm[b]);
        }
    gp_frame_pixels_note(used, name, cut, r->pixels, sizeof r->pixels);
}

int gpd_inputs_galaxy(const gpd_job *job, const gpd_opened *op, int uses_image, const gp_catalog *cat,
                      const gpd_shape *sh, float *cut, int *has_cut, uint32_t *flags, gpd_result *r,
                      char *msg, size_t n)
{
    gp_frame *band[GP_NBANDS] = { NULL };
    int bsrc[GP_NBANDS] = { -1, -1, -1, -1, -1 };
    char why[768] = "", cutwhy[768] = "";
    gp_error err;
    *has_cut = 0;
    *flags = 0;
    memset(r, 0, sizeof *r);
    r->ra = sh->ra;
    r->dec = sh->dec;
    r->radius = sh->radius;
    r->aperture = NAN;
    r->phot_model = !uses_image;
    if (!uses_image) {
        int st = position_frame(job, op, sh, r, msg, n);
        if (st) return st;
    }
    for (int b = GP_BAND_G; b <= GP_BAND_I && !why[0]; b++)
        band[b] = pick(job, op, b, sh->ra, sh->dec, why, sizeof why, &bsrc[b]);
    if (why[0] && uses_image) {
        snprintf(msg, n, "%s", why);
        return GP_ERR_DATA;
    }
    if (!why[0]) {
        gp_frame *gri[3] = { band[GP_BAND_G], band[GP_BAND_R], band[GP_BAND_I] };
        if (gp_cutout_gri(gri, sh->ra, sh->dec, cut, flags, &err) == GP_OK) {
            *has_cut = 1;
        } else if (uses_image) {
            snprintf(msg, n, "%s", err.msg);
            return err.status;
        } else {
            snprintf(cutwhy, sizeof cutwhy, "%s", err.msg);
            *flags = 0;
        }
    } else {
        snprintf(cutwhy, sizeof cutwhy, "%s", why);
    }
    if (*has_cut) {
        for (int b = 0; b < 3; b++) {
            char nm[GPD_PATH_MAX + 64];
            snprintf(r->frames[b], sizeof r->frames[b], "%s",
                     gpd_source_name(&job->src[bsrc[GP_BAND_G + b]], nm, sizeof nm));
        }
        cutout_stats(cut, r);
    } else {
        r->no_cutout = 1;
        snprintf(r->nocut_why, sizeof r->nocut_why, "%s", cutwhy);
    }

    char catmiss[sizeof err.msg + 32] = "", catbad[128] = "";
    if (cat) {
        gp_catalog_entry m;
        int mst = gp_catalog_match(cat, sh->ra, sh->dec, job->cfg.match_radius, &m, &err);
        if (mst == GP_OK) {
            memcpy(r->mag, m.mag, sizeof r->mag);
            for (int b = 0; b < GP_NMAG; b++) r->magerr[b] = NAN;
            *flags |= GP_FLAG_PHOT_CATALOG;
            /* the row as a person finds it: from 1, and a CSV file's line as an editor counts it */
            char where[64];
            gp_catalog_row_where(cat, m.row, where, sizeof where);
            snprintf(r->colours, sizeof r->colours, "catalogue %s: %s, %.2f\" away%s", gp_catalog_path(cat), where,
                     m.sep, gp_catalog_has_extinction(cat) ? ", extinction-corrected" : ", no extinction columns");
            if (*has_cut) pixels_note(job, band, bsrc, 1, r);
            return GP_OK;
        }
        if (mst == GP_ERR_DATA) {
            /* the object there is a row that cannot be used: say which and why */
            snprintf(catmiss, sizeof catmiss, "catalogue %s; and ", err.msg);
            char where[64];
            gp_catalog_row_where(cat, m.row, where, sizeof where);
            snprintf(catbad, sizeof catbad, "; catalogue %s, %.2f\" away, cannot be used", where, m.sep);
        } else
            snprintf(catmiss, sizeof catmiss, "no catalogue object within %.1f\" and ", job->cfg.match_radius);
    }
    /* measured: every band on an image that covers the galaxy */
    /* (why the first band missing is missing: not loaded, off its frames, no WCS) */
    char mwhy[768] = "", other[768];
    unsigned missing = 0;
    for (int b = 0; b < GP_NBANDS; b++)
        if (!band[b]) {
            band[b] = pick(job, op, b, sh->ra, sh->dec, missing ? other : mwhy, sizeof mwhy, &bsrc[b]);
            if (!band[b]) missing |= 1u << b;
        }
    if (missing) {
        char bl[64];
        snprintf(msg, n, "no %s for RA %.6f Dec %+.6f: %sno %s image covers it (%s; measured %s need u, g, r, i and z %s)",
                 uses_image ? "colours" : "magnitudes", sh->ra, sh->dec, catmiss, band_list(missing, bl, sizeof bl), mwhy,
                 uses_image ? "colours" : "magnitudes", uses_image ? "frames" : "images");
        return GP_ERR_NOTFOUND;
    }
    gp_phot_options po = gp_phot_options_default();
    po.radius = sh->radius > 0 ? fmin(fmax(sh->radius, 1.5), 30.0) : job->cfg.aperture;
    if (gp_phot_magnitudes(band, sh->ra, sh->dec, &po, r->mag, r->magerr, flags, &err)) {
        snprintf(msg, n, "colours: %s", err.msg);
        return err.status;
    }
    *flags |= GP_FLAG_PHOT_MEASURED;
    r->aperture = po.radius;
    snprintf(r->colours, sizeof r->colours,
             "measured in a %.1f\" aperture (sky %.1f\"-%.1f\") on the u, g, r, i, z frames; not extinction-corrected%s",
             po.radius, 2 * po.radius, 3 * po.radius, catbad);
    pixels_note(job, band, bsrc, *has_cut, r);
    return GP_OK;
}
