/* sdss_frames.c: real SDSS frames for the cmocka tests (sdss_frames.h). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>

#include <fitsio.h>

#include "sdss_frames.h"

const sf_galaxy sf_gal[SF_NGAL] = {
    { 229.525730, 42.744718, "003918-3-0213" },
    { 200.377497, 36.903089, "004510-4-0030" },
    { 200.448238, 36.768266, "004510-4-0030" },
};

static const char *data;

const char *sf_data(void)
{
    char path[4096];
    data = getenv("GP_SHARED_DATA");
    snprintf(path, sizeof path, "%s/sdss-frames/%s/frame-r-%s.fits.bz2", data ? data : "", sf_gal[0].field,
             sf_gal[0].field);
    if (!data || access(path, R_OK) != 0) {
        printf("# skip: no %s (../shared/data absent)\n", path);
        return data = NULL;
    }
    return data;
}

void sf_frame_path(char *p, size_t n, int g, char band)
{
    snprintf(p, n, "%s/sdss-frames/%s/frame-%c-%s.fits.bz2", data ? data : "", sf_gal[g].field, band,
             sf_gal[g].field);
}

double *sf_read_box(gp_frame *f, long x0, long y0, long w, long h)
{
    float *v = malloc(sizeof(float) * (size_t)(w * h));
    double *d = malloc(sizeof(double) * (size_t)(w * h));
    gp_error err;
    assert_true(v && d);
    if (gp_frame_read_section(f, x0, y0, w, h, v, &err)) fail_msg("%s", err.msg);
    for (long k = 0; k < w * h; k++) d[k] = v[k];
    free(v);
    return d;
}

void sf_copy_frame(const char *src, const char *dst, const long crop[4], const long nan[4])
{
    fitsfile *in = NULL, *out = NULL;
    int st = 0;
    char name[4200], sect[4200];
    if (crop) snprintf(sect, sizeof sect, "%s[0][%ld:%ld,%ld:%ld]", src, crop[0], crop[1], crop[2], crop[3]);
    else snprintf(sect, sizeof sect, "%s", src);
    snprintf(name, sizeof name, "!%s", dst);
    fits_open_file(&in, sect, READONLY, &st);
    fits_create_file(&out, name, &st);
    fits_copy_hdu(in, out, 0, &st);
    if (nan && !st) {
        long nx = nan[1] - nan[0] + 1;
        float *v = malloc(sizeof(float) * (size_t)nx);
        assert_non_null(v);
        for (long i = 0; i < nx; i++) v[i] = NAN;
        for (long y = nan[2]; y <= nan[3]; y++) {
            long fp[2] = { nan[0], y };
            fits_write_pix(out, TFLOAT, fp, nx, v, &st);
        }
        free(v);
    }
    int s2 = 0, s3 = 0;
    if (out) fits_close_file(out, &s2);
    if (in) fits_close_file(in, &s3);
    if (st || s2 || s3) fail_msg("copying %s to %s: cfitsio status %d %d %d", sect, dst, st, s2, s3);
}

void sf_write_scaled(const char *src, const char *dst, double factor, double add, const char *extname,
                     const char *const *cards)
{
    fitsfile *in = NULL, *out = NULL;
    int st = 0, bitpix = 0, naxis = 0;
    long n[2] = { 0, 0 };
    char name[4200];
    snprintf(name, sizeof name, "!%s", dst);
    fits_open_image(&in, src, READONLY, &st);
    fits_get_img_param(in, 2, &bitpix, &naxis, n, &st);
    if (st) fail_msg("reading %s: cfitsio status %d", src, st);
    float *v = malloc(sizeof(float) * (size_t)(n[0] * n[1]));
    assert_non_null(v);
    fits_read_img(in, TFLOAT, 1, n[0] * n[1], NULL, v, NULL, &st);
    for (long k = 0; k < n[0] * n[1]; k++) v[k] = (float)(v[k] * factor + add);
    fits_create_file(&out, name, &st);
    if (extname) {
        /* an empty primary HDU, the image in HDU 2 (as Rubin calexps and
         * HSC coadds are) */
        fits_create_img(out, 8, 0, NULL, &st);
        fits_create_hdu(out, &st);
        fits_copy_header(in, out, &st);
        fits_update_key_str(out, "EXTNAME", extname, "extension name", &st);
    } else {
        fits_copy_header(in, out, &st);
    }
    /* the pixels are written as float whatever the original's BITPIX */
    int one = FLOAT_IMG;
    fits_update_key(out, TINT, "BITPIX", &one, NULL, &st);
    for (int i = 0; cards && cards[i] && !st; i++) {
        if (cards[i][0] == '-') {
            fits_delete_key(out, cards[i] + 1, &st);
            if (st == KEY_NO_EXIST) { st = 0; fits_clear_errmsg(); }
            continue;
        }
        char key[FLEN_KEYWORD], card[FLEN_CARD];
        int kl = 0, type = 0;
        fits_get_keyname((char *)cards[i], key, &kl, &st);
        fits_parse_template((char *)cards[i], card, &type, &st);
        fits_update_card(out, key, card, &st);
    }
    fits_set_hdustruc(out, &st);
    fits_write_img(out, TFLOAT, 1, n[0] * n[1], v, &st);
    free(v);
    int s2 = 0, s3 = 0;
    if (out) fits_close_file(out, &s2);
    if (in) fits_close_file(in, &s3);
    if (st || s2 || s3) fail_msg("writing %s from %s: cfitsio status %d %d %d", dst, src, st, s2, s3);
}
