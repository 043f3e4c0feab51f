/* gp_fits_cutout.c: single gri cutouts in FITS (see gp_fits.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fitsio.h>

#include "galpost/gp_fits.h"
#include "gp_fits_util.h"

static int fits_fail(gp_error *err, int fst, const char *path, const char *what)
{
    char msg[FLEN_ERRMSG] = "";
    fits_get_errstatus(fst, msg);
    char detail[FLEN_ERRMSG] = "";
    fits_read_errmsg(detail);
    fits_clear_errmsg();
    return GP_FAIL(err, GP_ERR_FITS, "%s: %s: %s%s%s", path, what, msg, *detail ? "; " : "", detail);
}

/* The OBJID keyword exactly (gp_parse_objid): an integer keyword or a
 * string holding a decimal integer, 0 <= id < 2^64.  *id = 0 when absent. */
static int read_objid(fitsfile *f, const char *path, uint64_t *id, gp_error *err)
{
    char card[FLEN_VALUE] = "", text[FLEN_VALUE] = "";
    int k = 0;
    *id = 0;
    if (fits_read_keyword(f, "OBJID", card, NULL, &k)) {
        fits_clear_errmsg();
        return GP_OK;   /* absent */
    }
    const char *s = card;
    if (card[0] == '\'') {
        k = 0;
        if (fits_read_key(f, TSTRING, "OBJID", text, NULL, &k)) {
            fits_clear_errmsg();
            return GP_FAIL(err, GP_ERR_FORMAT, "%s: keyword OBJID = %s cannot be read as a string", path, card);
        }
        s = text;
    }
    if (gp_parse_objid(s, id))
        return GP_FAIL(err, GP_ERR_FORMAT, "%s: keyword OBJID = %s is not an object ID (a non-negative integer below 2^64)",
                       path, card);
    return GP_OK;
}

/* RA, DEC, OBJID and MAG_U..MAG_Z; a MAG keyword that is present but not a
 * number is marked in info->mag_bad. */
static int read_info(fitsfile *f, const char *path, gp_cutout_info *info, gp_error *err)
{
    info->ra = info->dec = NAN;
    info->objid = 0;
    info->mag_bad = 0;
    info->objid_bad = 0;
    double v;
    int k = 0;
    if (!fits_read_key(f, TDOUBLE, "RA", &v, NULL, &k)) info->ra = v;
    k = 0;
    if (!fits_read_key(f, TDOUBLE, "DEC", &v, NULL, &k)) info->dec = v;
    int st = read_objid(f, path, &info->objid, err);
    if (st) { info->objid = 0; info->objid_bad = 1; }
    for (int b = 0; b < GP_NMAG; b++) {
        char key[16];
        snprintf(key, sizeof key, "MAG_%c", "UGRIZ"[b]);
        k = 0;
        info->mag[b] = NAN;
        if (!fits_read_key(f, TDOUBLE, key, &v, NULL, &k)) {
            if (isfinite(v)) info->mag[b] = (float)v;
            else info->mag_bad |= 1u << b;
        } else if (k != KEY_NO_EXIST) {
            info->mag_bad |= 1u << b;
        }
    }
    fits_clear_errmsg();
    return st;
}

int gp_cutout_read_fits(const char *path, float *out, gp_cutout_info *info, gp_error *err)
{
    if (!path || !out) return GP_FAIL(err, GP_ERR_ARG, "gp_cutout_read_fits: NULL argument");
    fitsfile *f = NULL;
    int fst = 0, hdutype = 0;
    if (fits_open_image(&f, path, READONLY, &fst)) return fits_fail(err, fst, path, "cannot open image");
    (void)hdutype;
    int naxis = 0;
    long dims[4] = {0};
    if (fits_get_img_dim(f, &naxis, &fst) || fits_get_img_size(f, 4, dims, &fst)) {
        int st = fits_fail(err, fst, path, "cannot read the image size");
        fst = 0; fits_close_file(f, &fst);
        return st;
    }
    if (naxis != 3 || dims[0] != GP_CUTOUT_SIZE || dims[1] != GP_CUTOUT_SIZE || dims[2] != 3) {
        fst = 0; fits_close_file(f, &fst);
        return GP_FAIL(err, GP_ERR_FORMAT, "%s: a cutout must be a %dx%dx3 image (g, r, i planes); found NAXIS=%d (%ld x %ld x %ld)",
                       path, GP_CUTOUT_SIZE, GP_CUTOUT_SIZE, naxis, dims[0], dims[1], naxis > 2 ? dims[2] : 0L);
    }
    long first[3] = {1, 1, 1};
    int anynul = 0;
    float nulval = NAN;
    if (fits_read_pix(f, TFLOAT, first, GP_CUTOUT_PIXELS, &nulval, out, &anynul, &fst)) {
        int st = fits_fail(err, fst, path, "cannot read the pixels");
        fst = 0; fits_close_file(f, &fst);
        return st;
    }
    if (info) {
        int st = read_info(f, path, info, err);
        if (st) {
            fst = 0; fits_close_file(f, &fst);
            return st;
        }
    }
    fits_close_file(f, &fst);
    return GP_OK;
}

int gp_cutout_write_fits(const char *path, const float *cutout, const gp_cutout_info *info, gp_error *err)
{
    if (!path || !cutout) return GP_FAIL(err, GP_ERR_ARG, "gp_cutout_write_fits: NULL argument");
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid()) >= (int)sizeof tmp)
        return GP_FAIL(err, GP_ERR_ARG, "%s: path too long", path);
    unlink(tmp);
    fitsfile *f = NULL;
    int fst = 0;
    long naxes[3] = { GP_CUTOUT_SIZE, GP_CUTOUT_SIZE, 3 };
    if (fits_create_file(&f, tmp, &fst)) return fits_fail(err, fst, path, "cannot create");
    fits_create_img(f, FLOAT_IMG, 3, naxes, &fst);
    fits_write_key(f, TSTRING, "BUNIT", "nanomaggy", "pixel unit", &fst);
    fits_write_key(f, TSTRING, "BANDS", "g,r,i", "planes 1..3", &fst);
    double scale = GP_PIXEL_SCALE;
    fits_write_key(f, TDOUBLE, "PIXSCALE", &scale, "arcsec per pixel", &fst);
    if (info) {
        if (isfinite(info->ra)) fits_write_key(f, TDOUBLE, "RA", (void *)&info->ra, "centre RA (deg, ICRS)", &fst);
        if (isfinite(info->dec)) fits_write_key(f, TDOUBLE, "DEC", (void *)&info->dec, "centre Dec (deg, ICRS)", &fst);
        if (info->objid) {   /* unsigned: every 64-bit id, as read_objid() reads it */
            ULONGLONG id = info->objid;
            fits_write_key(f, TULONGLONG, "OBJID", &id, "object id", &fst);
        }
        for (int b = 0; b < GP_NMAG; b++)
            if (isfinite(info->mag[b])) {
                char key[16];
                double v = info->mag[b];
                snprintf(key, sizeof key, "MAG_%c", "UGRIZ"[b]);
                fits_write_key(f, TDOUBLE, key, &v, "extinction-corrected model mag (AB)", &fst);
            }
    }
    long first[3] = {1, 1, 1};
    fits_write_pix(f, TFLOAT, first, GP_CUTOUT_PIXELS, (void *)cutout, &fst);
    if (fst) {
        int st = fits_fail(err, fst, path, "cannot write");
        fst = 0; fits_close_file(f, &fst);
        unlink(tmp);
        return st;
    }
    if (fits_close_file(f, &fst)) { int st = fits_fail(err, fst, path, "cannot close"); unlink(tmp); return st; }
    if (rename(tmp, path) != 0) { unlink(tmp); return GP_FAIL(err, GP_ERR_IO, "%s: cannot rename the written file into place", path); }
    return GP_OK;
}
