/*
 * gp_frame.c: one band image with its celestial WCS (include/galpost/gp_image.h).
 *
 * The file stays open so that each request reads only the pixels it needs;
 * a frame from memory is a cfitsio memfile over a private copy of the bytes.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <fitsio.h>
#include <wcslib/wcshdr.h>
#include <wcslib/wcs.h>
#include <wcslib/wcsmath.h>

#include "galpost/gp_image.h"
#include "gp_fits_util.h"

struct gp_frame {
    char          *name;
    fitsfile      *fp;
    void          *mem;      /* memfile bytes (cfitsio keeps &mem, &memlen) */
    size_t         memlen;
    int            naxis;
    long           nx, ny;
    int            band;
    struct wcsprm *wcsv;     /* from wcspih(), freed with wcsvfree() */
    int            nwcs;
    struct wcsprm *wcs;      /* the 2-axis celestial WCS in use, or NULL */
    struct wcsprm  sub;      /* storage when the image has degenerate axes */
    int            have_sub;
    double         scale;    /* arcsec per pixel */
    char           wcs_why[200]; /* why a celestial WCS cannot be used */
    char           unit[72];     /* BUNIT, blanks removed ("" when absent) */
    /* counts calibrated by an AB zero point (gp_image.h, "Frames in counts") */
    int            zp_on;        /* 1: pixels are multiplied by zp_scale when read */
    double         zp;           /* the zero point */
    double         zp_scale;     /* 10^(-0.4 (zp - 22.5)): nanomaggies per count */
    char           zp_key[FLEN_KEYWORD];
    char           zp_why[240];  /* why a zero point in the header cannot be used */
    char           calib[320];   /* gp_frame_calibration() */
};

/* Zero-point keywords, in the order they are looked for: each gives
 * m_AB = ZP - 2.5 log10(pixel value) for the pixels as they are, over the
 * whole exposure.  MAGZP: ZTF (and PTF) science images, in DN; MAGZERO:
 * DES and DECam community-pipeline images; PHOTZP: ESO science data
 * products (with PHOTSYS naming the system, which must be AB).  Not read:
 * MAGZPT (CASU VISTA/WFCAM: per second of EXPTIME, before an airmass
 * extinction term, and Vega), PHOTZPT (HST: the STmag constant to go with
 * PHOTFLAM, not a zero point for counts), and bare ZP/ZPT (no convention). */
static const char *const zp_keys[] = { "MAGZP", "MAGZERO", "PHOTZP" };
#define N_ZP_KEYS (sizeof zp_keys / sizeof zp_keys[0])
#define ZP_MIN 15.0
#define ZP_MAX 40.0

const char *gp_band_name(int band)
{
    static const char *const names[GP_NBANDS] = { "u", "g", "r", "i", "z" };
    return band >= 0 && band < GP_NBANDS ? names[band] : "?";
}

static int band_from_letter(int c)
{
    switch (tolower(c)) {
    case 'u': return GP_BAND_U;
    case 'g': return GP_BAND_G;
    case 'r': return GP_BAND_R;
    case 'i': return GP_BAND_I;
    case 'z': return GP_BAND_Z;
    default:  return GP_BAND_UNKNOWN;
    }
}

int gp_band_from_filter(const char *value)
{
    if (!value) return GP_BAND_UNKNOWN;
    char v[72];
    size_t n = 0;
    for (const char *p = value; *p && n < sizeof v - 1; p++)
        if (!isspace((unsigned char)*p) && *p != '\'' && *p != '"')
            v[n++] = (char)tolower((unsigned char)*p);
    v[n] = '\0';
    if (n == 1) return band_from_letter(v[0]);
    /* "sdss-g", "sdss_g", "sdssg" */
    if (n >= 5 && !strncmp(v, "sdss", 4)) {
        const char *p = v + 4;
        if (*p == '-' || *p == '_' || *p == ':') p++;
        if (p[0] && !p[1]) return band_from_letter(p[0]);
    }
    return GP_BAND_UNKNOWN;
}

static int is_sep(int c) { return c == '-' || c == '_' || c == '.'; }

int gp_band_from_filename(const char *path)
{
    if (!path) return GP_BAND_UNKNOWN;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    /* fpC-RRRRRR-<band><camcol>-FFFF */
    if (!strncmp(base, "fpC-", 4) || !strncmp(base, "fpM-", 4)) {
        const char *p = strchr(base + 4, '-');
        if (p && p[1] && isdigit((unsigned char)p[2])) return band_from_letter(p[1]);
    }
    /* a band letter alone between separators: frame-g-..., mock_r.fits */
    size_t n = strlen(base);
    for (size_t i = 1; i + 1 < n; i++)
        if (is_sep(base[i - 1]) && is_sep(base[i + 1])) {
            int b = band_from_letter(base[i]);
            if (b != GP_BAND_UNKNOWN) return b;
        }
    return GP_BAND_UNKNOWN;
}

/* Positions are ICRS everywhere in galpost (DS9 is asked for -sky icrs).
 * A WCS in galactic coordinates is rotated to ICRS equatorial here
 * (wcsccs: the ICRS position of the galactic north pole, 192.85948
 * +27.12825, and the galactic longitude of the ICRS pole, 122.93192, which
 * define the galactic system on ICRS: ESA 1997, Hipparcos vol. 1, 1.5.3);
 * an equatorial one must be ICRS or FK5
 * J2000 (22 mas apart); any other system (FK4 B1950, another equinox,
 * ecliptic, supergalactic) is refused, with the reason in wcs_why, rather
 * than read as if it were ICRS.  Returns -1 when refused. */
static int frame_wcs_to_icrs(gp_frame *f, struct wcsprm *w)
{
    char sys[72] = "";
    size_t k = 0;
    for (const char *p = w->radesys; *p && k < sizeof sys - 1; p++)
        if (*p != ' ') sys[k++] = (char)toupper((unsigned char)*p);
    sys[k] = '\0';
    const int noeq = undefined(w->equinox);
    if (!strcmp(w->lngtyp, "RA")) {
        if (!sys[0]) snprintf(sys, sizeof sys, "%s", noeq ? "ICRS" : w->equinox < 1984.0 ? "FK4" : "FK5");
        if (!strcmp(sys, "ICRS")) return 0;
        if (!strcmp(sys, "FK5") && (noeq || fabs(w->equinox - 2000.0) < 1e-6)) return 0;
        if (!strncmp(sys, "FK4", 3))
            snprintf(f->wcs_why, sizeof f->wcs_why, "its WCS is in %s B%.1f coordinates (RADESYS/EQUINOX)", sys,
                     noeq ? 1950.0 : w->equinox);
        else if (!strcmp(sys, "FK5"))
            snprintf(f->wcs_why, sizeof f->wcs_why, "its WCS is in FK5 coordinates of equinox J%.1f (EQUINOX)",
                     w->equinox);
        else
            snprintf(f->wcs_why, sizeof f->wcs_why, "its WCS is in '%s' equatorial coordinates (RADESYS)", sys);
    } else if (!strcmp(w->lngtyp, "GLON")) {
        if (wcsccs(w, 192.85948, 27.12825, 122.93192, "RA", "DEC", "ICRS", 0.0, NULL) == 0 &&
            wcsset(w) == 0 && w->lng >= 0 && w->lat >= 0)
            return 0;
        snprintf(f->wcs_why, sizeof f->wcs_why, "its galactic WCS cannot be turned into RA/Dec");
    } else {
        snprintf(f->wcs_why, sizeof f->wcs_why, "its WCS is in %s/%s coordinates (CTYPE1/2)", w->lngtyp, w->lattyp);
    }
    size_t l = strlen(f->wcs_why);
    snprintf(f->wcs_why + l, sizeof f->wcs_why - l, "; galpost reads ICRS or FK5 J2000 RA/Dec and galactic WCS only");
    return -1;
}

/* Choose the primary celestial WCS of the header and set it up. */
static void frame_setup_wcs(gp_frame *f)
{
    int status = 0, nkeys = 0;
    char *hdr = NULL;
    if (fits_hdr2str(f->fp, 1, NULL, 0, &hdr, &nkeys, &status)) {
        fits_clear_errmsg();
        return;
    }
    int nreject = 0;
    if (wcspih(hdr, nkeys, WCSHDR_all, 0, &nreject, &f->nwcs, &f->wcsv) != 0) {
        f->wcsv = NULL;
        f->nwcs = 0;
    }
    fits_free_memory(hdr, &status);
    for (int i = 0; i < f->nwcs; i++) {
        struct wcsprm *w = &f->wcsv[i];
        if (w->alt[0] != ' ' && w->alt[0] != '\0') continue;
        if (w->naxis > 2) {
            int nsub = 2, axes[2] = { 1, 2 };
            f->sub.flag = -1;
            if (wcssub(1, w, &nsub, axes, &f->sub) != 0) continue;
            f->have_sub = 1;
            w = &f->sub;
        }
        if (w->naxis != 2 || wcsset(w) != 0) continue;
        if (w->lng < 0 || w->lat < 0) continue;
        if (frame_wcs_to_icrs(f, w)) return;
        f->wcs = w;
        break;
    }
    if (!f->wcs) return;
    /* Local pixel scale at the image centre from the WCS itself, so that
     * CD, PC/CDELT and distortion headers are all treated alike. */
    double cx = 0.5 * (double)(f->nx + 1), cy = 0.5 * (double)(f->ny + 1);
    double r0, d0, r1, d1, r2, d2;
    if (gp_frame_pixel_to_sky(f, cx, cy, &r0, &d0, NULL) ||
        gp_frame_pixel_to_sky(f, cx + 1, cy, &r1, &d1, NULL) ||
        gp_frame_pixel_to_sky(f, cx, cy + 1, &r2, &d2, NULL)) {
        f->wcs = NULL;
        return;
    }
    double c = cos(d0 * M_PI / 180.0);
    double dra1 = remainder(r1 - r0, 360.0), dra2 = remainder(r2 - r0, 360.0);
    double a = dra1 * c * 3600.0, b = dra2 * c * 3600.0;
    double e = (d1 - d0) * 3600.0, g = (d2 - d0) * 3600.0;
    f->scale = sqrt(fabs(a * g - b * e));
    if (!(f->scale > 0) || !isfinite(f->scale)) { f->wcs = NULL; f->scale = 0; }
}

/* u (a BUNIT, any case) is one of the n names in base, alone or per pixel:
 * not a prefix match ('nanomaggy/arcsec2' is a surface brightness, 'counts/s'
 * a rate). */
static int unit_is_one_of(const char *u, const char *const *base, size_t n)
{
    static const char *const per[] = { "", "/pixel", "/pix" };
    for (size_t b = 0; b < n; b++) {
        size_t l = strlen(base[b]);
        if (strncasecmp(u, base[b], l)) continue;
        for (size_t k = 0; k < sizeof per / sizeof per[0]; k++)
            if (!strcasecmp(u + l, per[k])) return 1;
    }
    return 0;
}

/* BUNIT names nanomaggies: nanomaggy, nanomaggies, nmgy, nMgy, nmaggy. */
static int unit_is_nmgy(const char *u)
{
    static const char *const base[] = { "nanomaggy", "nanomaggies", "nmgy", "nmaggy", "nmaggies" };
    return unit_is_one_of(u, base, sizeof base / sizeof base[0]);
}

/* BUNIT names raw counts of an exposure: not a rate ('counts/s',
 * 'electrons/s'), whose zero points are another matter. */
static int unit_is_counts(const char *u)
{
    static const char *const base[] = { "counts", "count", "adu", "adus", "dn", "electrons", "electron", "e-" };
    return unit_is_one_of(u, base, sizeof base / sizeof base[0]);
}

/* A frame in counts (BUNIT absent, or counts, ADU, DN, electrons) with an
 * AB zero point among zp_keys: its pixels are turned into nanomaggies as
 * they are read.  A zero point that is there but unusable (not a number,
 * outside ZP_MIN..ZP_MAX, PHOTSYS other than AB) leaves the reason in
 * zp_why, and gp_frame_check_unit() refuses the frame with it. */
static void frame_setup_zp(gp_frame *f)
{
    f->zp_scale = 1.0;
    if (f->unit[0] && !unit_is_counts(f->unit)) return;   /* nanomaggies, or refused */
    int status = 0;
    for (size_t k = 0; k < N_ZP_KEYS; k++) {
        char val[FLEN_VALUE] = "", *end = NULL;
        if (fits_read_keyword(f->fp, zp_keys[k], val, NULL, &status)) {
            status = 0;
            fits_clear_errmsg();
            continue;
        }
        char *v0 = val;
        while (*v0 == ' ') v0++;
        double zp = strtod(v0, &end);
        while (end && *end == ' ') end++;
        if (!*v0 || end == v0 || *end || !isfinite(zp) || zp < ZP_MIN || zp > ZP_MAX) {
            snprintf(f->zp_why, sizeof f->zp_why,
                     "its zero point %s = %s is not a magnitude between %g and %g", zp_keys[k],
                     *v0 ? v0 : "(no value)", ZP_MIN, ZP_MAX);
            return;
        }
        char sys[FLEN_VALUE] = "";
        if (fits_read_key(f->fp, TSTRING, "PHOTSYS", sys, NULL, &status) == 0) {
            char s[FLEN_VALUE];
            size_t n = 0;
            for (const char *p = sys; *p && n < sizeof s - 1; p++)
                if (!isspace((unsigned char)*p)) s[n++] = (char)toupper((unsigned char)*p);
            s[n] = '\0';
            if (strcmp(s, "AB")) {
                snprintf(f->zp_why, sizeof f->zp_why,
                         "its zero point %s = %g is on the '%s' system (PHOTSYS), not AB", zp_keys[k], zp, sys);
                return;
            }
        } else {
            status = 0;
            fits_clear_errmsg();
        }
        f->zp_on = 1;
        f->zp = zp;
        f->zp_scale = pow(10.0, -0.4 * (zp - 22.5));
        snprintf(f->zp_key, sizeof f->zp_key, "%s", zp_keys[k]);
        char u[100];
        if (f->unit[0]) snprintf(u, sizeof u, "'%s' (BUNIT)", f->unit);
        else snprintf(u, sizeof u, "counts (no BUNIT)");
        snprintf(f->calib, sizeof f->calib, "%s x 10^(-0.4 (%s - 22.5)), %s = %.4g", u, f->zp_key, f->zp_key, zp);
        return;
    }
}

/* Fill the frame's geometry, band and WCS from the current HDU. */
static int frame_describe(gp_frame *f, gp_error *err)
{
    int status = 0, bitpix = 0, naxis = 0;
    long naxes[9] = { 0 };
    if (fits_get_img_param(f->fp, 9, &bitpix, &naxis, naxes, &status))
        return gp_fits_fail(err, status, "%s: cannot read the image size", f->name);
    if (naxis < 2 || naxes[0] < 2 || naxes[1] < 2)
        return GP_FAIL(err, GP_ERR_NOTFOUND, "%s: no 2-D image (NAXIS = %d)", f->name, naxis);
    for (int i = 2; i < naxis && i < 9; i++)
        if (naxes[i] != 1)
            return GP_FAIL(err, GP_ERR_FORMAT,
                           "%s: image has %ld planes on axis %d; a band image has one plane",
                           f->name, naxes[i], i + 1);
    f->naxis = naxis > 9 ? 9 : naxis;
    f->nx = naxes[0];
    f->ny = naxes[1];

    char filter[FLEN_VALUE] = "";
    f->band = GP_BAND_UNKNOWN;
    if (fits_read_key(f->fp, TSTRING, "FILTER", filter, NULL, &status) == 0)
        f->band = gp_band_from_filter(filter);
    else {
        status = 0;
        fits_clear_errmsg();
    }
    if (f->band == GP_BAND_UNKNOWN) f->band = gp_band_from_filename(f->name);
    char unit[FLEN_VALUE] = "";
    if (fits_read_key(f->fp, TSTRING, "BUNIT", unit, NULL, &status) == 0) {
        size_t k = 0;
        for (const char *p = unit; *p && k < sizeof f->unit - 1; p++)
            if (!isspace((unsigned char)*p)) f->unit[k++] = *p;
        f->unit[k] = '\0';
    } else {
        status = 0;
        fits_clear_errmsg();
    }
    frame_setup_zp(f);
    frame_setup_wcs(f);
    return GP_OK;
}

static gp_frame *frame_new(const char *name, gp_error *err)
{
    gp_frame *f = calloc(1, sizeof *f);
    if (f) f->name = strdup(name);
    if (!f || !f->name) {
        free(f);
        GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory opening the frame", name);
        return NULL;
    }
    f->band = GP_BAND_UNKNOWN;
    return f;
}

int gp_frame_open_file(const char *path, gp_frame **out, gp_error *err)
{
    if (!path || !out) return GP_FAIL(err, GP_ERR_ARG, "gp_frame_open_file: NULL argument");
    *out = NULL;
    gp_frame *f = frame_new(path, err);
    if (!f) return GP_ERR_NOMEM;
    int status = 0;
    if (fits_open_image(&f->fp, path, READONLY, &status)) {
        int st = gp_fits_fail(err, status, "%s: cannot open as a FITS image", path);
        f->fp = NULL;
        gp_frame_close(f);
        return st;
    }
    int st = frame_describe(f, err);
    if (st) { gp_frame_close(f); return st; }
    *out = f;
    return GP_OK;
}

int gp_frame_open_memory(const void *buf, size_t len, const char *name,
                         gp_frame **out, gp_error *err)
{
    if (!buf || !out) return GP_FAIL(err, GP_ERR_ARG, "gp_frame_open_memory: NULL argument");
    *out = NULL;
    if (!name || !*name) name = "(memory)";
    if (len < 2880)
        return GP_FAIL(err, GP_ERR_FORMAT, "%s: %zu bytes cannot hold a FITS header (2880 bytes)",
                       name, len);
    gp_frame *f = frame_new(name, err);
    if (!f) return GP_ERR_NOMEM;
    f->mem = malloc(len);
    if (!f->mem) {
        gp_frame_close(f);
        return GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory for %zu bytes", name, len);
    }
    memcpy(f->mem, buf, len);
    f->memlen = len;
    int status = 0;
    /* "mem://" keeps cfitsio from parsing the name as a file specification */
    if (fits_open_memfile(&f->fp, "mem://", READONLY, &f->mem, &f->memlen, 0, NULL, &status)) {
        int st = gp_fits_fail(err, status, "%s: not a FITS file", name);
        f->fp = NULL;
        gp_frame_close(f);
        return st;
    }
    /* the first HDU with an image */
    int nhdu = 0;
    fits_get_num_hdus(f->fp, &nhdu, &status);
    for (int h = 1; h <= nhdu && !status; h++) {
        int type = 0, naxis = 0;
        if (fits_movabs_hdu(f->fp, h, &type, &status)) break;
        if (type != IMAGE_HDU) continue;
        if (fits_get_img_dim(f->fp, &naxis, &status)) break;
        if (naxis >= 2) {
            int st = frame_describe(f, err);
            if (st) { gp_frame_close(f); return st; }
            *out = f;
            return GP_OK;
        }
    }
    int st = status ? gp_fits_fail(err, status, "%s: cannot read the FITS file", name)
                    : GP_FAIL(err, GP_ERR_NOTFOUND, "%s: no image HDU", name);
    gp_frame_close(f);
    return st;
}

void gp_frame_close(gp_frame *f)
{
    if (!f) return;
    int status = 0;
    if (f->fp) fits_close_file(f->fp, &status);
    if (f->have_sub) wcsfree(&f->sub);
    if (f->wcsv) wcsvfree(&f->nwcs, &f->wcsv);
    free(f->mem);
    free(f->name);
    free(f);
}

const char *gp_frame_name(const gp_frame *f) { return f ? f->name : ""; }
int gp_frame_band(const gp_frame *f) { return f ? f->band : GP_BAND_UNKNOWN; }
long gp_frame_width(const gp_frame *f) { return f ? f->nx : 0; }
long gp_frame_height(const gp_frame *f) { return f ? f->ny : 0; }
int gp_frame_has_wcs(const gp_frame *f) { return f && f->wcs; }
double gp_frame_pixel_scale(const gp_frame *f) { return f && f->wcs ? f->scale : 0.0; }
const char *gp_frame_wcs_note(const gp_frame *f) { return f && !f->wcs ? f->wcs_why : ""; }

int gp_frame_check_unit(const gp_frame *f, gp_error *err)
{
    if (!f) return GP_FAIL(err, GP_ERR_ARG, "gp_frame_check_unit: NULL argument");
    if (f->zp_on) return GP_OK;
    if (f->zp_why[0])
        return GP_FAIL(err, GP_ERR_DATA, "%s: %s%s%s%s: galpost needs frames in nanomaggies, or in counts with an AB "
                       "zero point (MAGZP, MAGZERO or PHOTZP; m = ZP - 2.5 log10 counts)",
                       f->name, f->unit[0] ? "its pixels are in '" : "", f->unit, f->unit[0] ? "' (BUNIT) and " : "",
                       f->zp_why);
    if (!f->unit[0] || unit_is_nmgy(f->unit)) return GP_OK;
    if (unit_is_counts(f->unit))
        return GP_FAIL(err, GP_ERR_DATA,
                       "%s: its pixels are in '%s' (BUNIT) with no photometric zero point, not nanomaggies: galpost "
                       "reads frames in counts given an AB zero point keyword MAGZP, MAGZERO or PHOTZP "
                       "(m = ZP - 2.5 log10 counts, over the exposure), or calibrated frames in nanomaggies "
                       "(as SDSS frame-*.fits files are, m = 22.5 - 2.5 log10 f)",
                       f->name, f->unit);
    return GP_FAIL(err, GP_ERR_DATA,
                   "%s: its pixels are in '%s' (BUNIT), not nanomaggies: galpost needs calibrated frames in "
                   "nanomaggies (as SDSS frame-*.fits files are, m = 22.5 - 2.5 log10 f), or frames in counts "
                   "(BUNIT 'counts', 'ADU', 'DN' or 'electrons') with an AB zero point keyword MAGZP, MAGZERO or PHOTZP",
                   f->name, f->unit);
}

double gp_frame_zeropoint(const gp_frame *f, const char **key)
{
    if (key) *key = f && f->zp_on ? f->zp_key : "";
    return f && f->zp_on ? f->zp : NAN;
}

const char *gp_frame_calibration(const gp_frame *f) { return f && f->zp_on ? f->calib : ""; }

void gp_frame_pixels_note(gp_frame *const band[GP_NBANDS], const char *const name[GP_NBANDS], int cutout,
                          char *buf, size_t n)
{
    if (!buf || !n) return;
    size_t l = 0;
    buf[0] = '\0';
    for (int b = 0; b < GP_NBANDS && l < n; b++) {
        const char *c = band[b] ? gp_frame_calibration(band[b]) : "";
        if (!*c) continue;
        int sky = cutout && (b == GP_BAND_G || b == GP_BAND_R || b == GP_BAND_I);
        l += (size_t)snprintf(buf + l, n - l, "%s%s %s: %s%s", l ? "; " : "", gp_band_name(b),
                              name && name[b] ? name[b] : gp_frame_name(band[b]), c,
                              sky ? ", local sky subtracted from the cutout" : "");
    }
}

int gp_frame_check_measurable(const gp_frame *f, gp_error *err)
{
    if (!f) return GP_FAIL(err, GP_ERR_ARG, "gp_frame_check_measurable: NULL argument");
    if (!f->wcs)
        return GP_FAIL(err, GP_ERR_WCS, "%s: %s", f->name,
                       f->wcs_why[0] ? f->wcs_why : "the frame has no celestial WCS (CTYPE/CRVAL/CD keywords)");
    return gp_frame_check_unit(f, err);
}

int gp_frame_header(const gp_frame *f, char **cards, int *ncards, gp_error *err)
{
    if (!f || !f->fp || !cards || !ncards) return GP_FAIL(err, GP_ERR_ARG, "gp_frame_header: NULL argument");
    *cards = NULL;
    *ncards = 0;
    int status = 0, n = 0, more = 0;
    /* records, not fits_hdr2str: that one rewrites a tile-compressed
     * image's header as the uncompressed image's */
    if (fits_get_hdrspace(f->fp, &n, &more, &status))
        return gp_fits_fail(err, status, "%s: cannot read the header", f->name);
    char *s = malloc((size_t)n * 80 + 1);
    if (!s) return GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory for the header", f->name);
    for (int i = 0; i < n; i++) {
        char card[FLEN_CARD] = "";
        if (fits_read_record(f->fp, i + 1, card, &status)) {
            free(s);
            return gp_fits_fail(err, status, "%s: cannot read header card %d", f->name, i + 1);
        }
        snprintf(s + (size_t)i * 80, 81, "%-80.80s", card);
    }
    s[(size_t)n * 80] = '\0';
    *cards = s;
    *ncards = n;
    return GP_OK;
}

void gp_frame_set_band(gp_frame *f, int band)
{
    if (f) f->band = band >= 0 && band < GP_NBANDS ? band : GP_BAND_UNKNOWN;
}

int gp_frame_sky_to_pixel(const gp_frame *f, double ra, double dec,
                          double *x, double *y, gp_error *err)
{
    if (!f || !f->wcs)
        return GP_FAIL(err, GP_ERR_WCS, "%s: %s", f ? f->name : "(null)",
                       f && f->wcs_why[0] ? f->wcs_why : "the frame has no celestial WCS");
    double world[2], imgcrd[2], pixcrd[2], phi, theta;
    int stat = 0;
    world[f->wcs->lng] = ra;
    world[f->wcs->lat] = dec;
    if (wcss2p(f->wcs, 1, 2, world, &phi, &theta, imgcrd, pixcrd, &stat) != 0 ||
        !isfinite(pixcrd[0]) || !isfinite(pixcrd[1]))
        return GP_FAIL(err, GP_ERR_WCS, "%s: RA %.6f Dec %.6f has no pixel position",
                       f->name, ra, dec);
    *x = pixcrd[0];
    *y = pixcrd[1];
    return GP_OK;
}

int gp_frame_pixel_to_sky(const gp_frame *f, double x, double y,
                          double *ra, double *dec, gp_error *err)
{
    if (!f || !f->wcs)
        return GP_FAIL(err, GP_ERR_WCS, "%s: %s", f ? f->name : "(null)",
                       f && f->wcs_why[0] ? f->wcs_why : "the frame has no celestial WCS");
    double world[2], imgcrd[2], pixcrd[2] = { x, y }, phi, theta;
    int stat = 0;
    if (wcsp2s(f->wcs, 1, 2, pixcrd, imgcrd, &phi, &theta, world, &stat) != 0 ||
        !isfinite(world[0]) || !isfinite(world[1]))
        return GP_FAIL(err, GP_ERR_WCS, "%s: pixel (%.2f, %.2f) has no sky position",
                       f->name, x, y);
    *ra = world[f->wcs->lng];
    *dec = world[f->wcs->lat];
    return GP_OK;
}

int gp_frame_contains(const gp_frame *f, double ra, double dec)
{
    double x, y;
    if (!f || gp_frame_sky_to_pixel(f, ra, dec, &x, &y, NULL) != GP_OK) return 0;
    return x >= 0.5 && x <= f->nx + 0.5 && y >= 0.5 && y <= f->ny + 0.5;
}

/* Internal: the wcsprm for the cutout code (gp_fits_util.h). */
const struct wcsprm *gp_frame_wcs(const gp_frame *f) { return f ? f->wcs : NULL; }

int gp_frame_read_section(gp_frame *f, long x0, long y0, long nx, long ny,
                          float *out, gp_error *err)
{
    if (!f || !out || nx < 1 || ny < 1 || x0 < 1 || y0 < 1 ||
        x0 + nx - 1 > f->nx || y0 + ny - 1 > f->ny)
        return GP_FAIL(err, GP_ERR_ARG, "%s: section [%ld:%ld, %ld:%ld] is outside the %ldx%ld image",
                       f ? f->name : "(null)", x0, x0 + nx - 1, y0, y0 + ny - 1,
                       f ? f->nx : 0, f ? f->ny : 0);
    long fpix[9], lpix[9], inc[9];
    for (int i = 0; i < 9; i++) fpix[i] = lpix[i] = inc[i] = 1;
    fpix[0] = x0; lpix[0] = x0 + nx - 1;
    fpix[1] = y0; lpix[1] = y0 + ny - 1;
    float nulval = NAN;
    int anynul = 0, status = 0;
    if (fits_read_subset(f->fp, TFLOAT, fpix, lpix, inc, &nulval, out, &anynul, &status))
        return gp_fits_fail(err, status, "%s: cannot read pixels [%ld:%ld, %ld:%ld]",
                            f->name, x0, x0 + nx - 1, y0, y0 + ny - 1);
    /* counts to nanomaggies; frames in nanomaggies are left as read */
    if (f->zp_on)
        for (long k = 0; k < nx * ny; k++) out[k] = (float)(out[k] * f->zp_scale);
    return GP_OK;
}
