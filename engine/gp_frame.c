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
    int            hdu;          /* the HDU read (1: primary) */
    char           extname[FLEN_VALUE];
    int            ukind;        /* UNIT_* of the BUNIT */
    /* pixels calibrated as read (gp_image.h, "Frames in counts", "Frames in
     * flux density") */
    int            zp_on;        /* 1: pixels are multiplied by zp_scale when read */
    int            zp_hand;      /* ... by a zero point given by hand (gp_frame_set_zeropoint) */
    double         zp;           /* the zero point of counts (NaN for flux densities) */
    double         zp_scale;     /* nanomaggies per pixel unit */
    char           zp_key[FLEN_KEYWORD];
    char           zp_why[400];  /* why a zero point in the header cannot be used */
    char           calib[320];   /* gp_frame_calibration() */
    /* the header's own calibration, restored when a hand zero point is taken back */
    int            hdr_on;
    double         hdr_zp, hdr_scale;
    char           hdr_key[FLEN_KEYWORD], hdr_calib[320];
};

/* Zero-point keywords, in the order they are looked for: each gives
 * m_AB = ZP - 2.5 log10(pixel value) for the pixel values as they are
 * stored, whatever their unit (counts of the exposure, or counts per second
 * when BUNIT says so), as SExtractor's MAG_ZEROPOINT and the SCAMP/SWarp
 * chain read them.  MAGZP: ZTF (and PTF) science images, in DN; MAGZERO:
 * DES and DECam community-pipeline images (legacypipe passes the CP's
 * MAGZERO as SExtractor's MAG_ZEROPOINT on the image in ADU); PHOTZP: ESO
 * science data products (with PHOTSYS naming the system, which must be
 * AB); FLUXMAG0: HSC and LSST-stack calexps and coadds, the pixel value
 * sum of a magnitude-0 source, ZP = 2.5 log10 FLUXMAG0 (27 on HSC coadds).
 * Not read: MAGZPT (CASU VISTA/WFCAM: per second of EXPTIME, before an
 * airmass extinction term, and Vega), CCDZPT (legacypipe: per second),
 * PHOTZPT (HST: the STmag constant to go with PHOTFLAM, not a zero point
 * for counts), and bare ZP/ZPT (no convention). */
static const char *const zp_keys[] = { "MAGZP", "MAGZERO", "PHOTZP", "FLUXMAG0" };
#define N_ZP_KEYS (sizeof zp_keys / sizeof zp_keys[0])
#define ZP_MIN GP_ZEROPOINT_MIN
#define ZP_MAX GP_ZEROPOINT_MAX
/* Two zero-point keywords of one frame that differ by more than this are
 * refused: a per-second zero point beside a per-exposure one differs by
 * 2.5 log10 EXPTIME, and galpost does not guess which the pixels follow. */
#define ZP_AGREE 0.01

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

/* What a BUNIT says the pixels are. */
enum {
    UNIT_NONE = 0,   /* no BUNIT */
    UNIT_NMGY,       /* nanomaggies */
    UNIT_FLUXD,      /* an AB flux density per pixel: nJy, uJy, mJy, Jy */
    UNIT_COUNTS,     /* counts of the exposure: counts, ADU, DN, electrons */
    UNIT_RATE,       /* counts per second */
    UNIT_OTHER       /* anything else (refused) */
};

/* After a unit's name: nothing, or '/pixel' ('/pix') and, where per_s is
 * not NULL, a per second ('/s', '/sec', '/second', 's-1', 's^-1', 's**-1',
 * '.s-1'), each at most once and in either order; *per_s is set when the
 * rate is there.  Returns 1 when r is all such suffixes. */
static int unit_suffixes(const char *r, int *per_s)
{
    static const char *const pix[] = { "/pixel", "/pix" };
    static const char *const sec[] = { "/second", "/sec", "/s", ".s-1", "s**-1", "s^-1", "s-1" };
    int have_pix = 0, have_s = 0;
    while (*r) {
        size_t l = 0;
        for (size_t k = 0; k < sizeof pix / sizeof pix[0] && !l; k++)
            if (!strncasecmp(r, pix[k], strlen(pix[k]))) l = strlen(pix[k]);
        if (l) {
            if (have_pix++) return 0;
            r += l;
            continue;
        }
        for (size_t k = 0; k < sizeof sec / sizeof sec[0] && per_s && !l; k++)
            if (!strncasecmp(r, sec[k], strlen(sec[k]))) l = strlen(sec[k]);
        if (!l || have_s++) return 0;
        r += l;
    }
    if (per_s) *per_s = have_s;
    return 1;
}

/* The kind of a BUNIT (blanks removed) and, for a flux density, the
 * nanomaggies per pixel unit (1 nanomaggy = 3631 nJy: the AB zero point is
 * 3631 Jy).  Names are matched whole, not as prefixes ('nanomaggy/arcsec2'
 * is a surface brightness, 'MJy/sr' too); the Jansky prefix is case
 * sensitive ('mJy' milli, 'MJy' mega: refused). */
static int unit_kind(const char *u, double *scale)
{
    static const char *const nmgy[] = { "nanomaggy", "nanomaggies", "nmgy", "nmaggy", "nmaggies" };
    static const char *const counts[] = { "counts", "count", "cts", "adu", "adus", "dn", "electrons",
                                          "electron", "e-", "e" };
    static const struct { const char *name; double nmgy; } jy[] = {
        { "nJy", 1.0 / 3631.0 }, { "uJy", 1e3 / 3631.0 }, { "mJy", 1e6 / 3631.0 }, { "Jy", 1e9 / 3631.0 },
    };
    if (!u[0]) return UNIT_NONE;
    for (size_t b = 0; b < sizeof nmgy / sizeof nmgy[0]; b++)
        if (!strncasecmp(u, nmgy[b], strlen(nmgy[b])) && unit_suffixes(u + strlen(nmgy[b]), NULL)) return UNIT_NMGY;
    for (size_t b = 0; b < sizeof jy / sizeof jy[0]; b++)
        if (!strncmp(u, jy[b].name, strlen(jy[b].name)) && unit_suffixes(u + strlen(jy[b].name), NULL)) {
            if (scale) *scale = jy[b].nmgy;
            return UNIT_FLUXD;
        }
    for (size_t b = 0; b < sizeof counts / sizeof counts[0]; b++) {
        int per_s = 0;
        if (!strncasecmp(u, counts[b], strlen(counts[b])) && unit_suffixes(u + strlen(counts[b]), &per_s))
            return per_s ? UNIT_RATE : UNIT_COUNTS;
    }
    return UNIT_OTHER;
}

/* "NAME (HDU n)" or "NAME (HDU n 'EXTNAME')": where a refused frame's
 * pixels were read. */
static const char *frame_where(const gp_frame *f, char *buf, size_t n)
{
    if (f->extname[0]) snprintf(buf, n, "%s (HDU %d '%s')", f->name, f->hdu, f->extname);
    else snprintf(buf, n, "%s (HDU %d)", f->name, f->hdu);
    return buf;
}

/* The first usable zero-point keyword among zp_keys; *why says why one
 * that is there cannot be used. */
static void frame_read_zp(gp_frame *f)
{
    int status = 0, nfound = 0;
    double first = NAN;
    char first_txt[120] = "";
    for (size_t k = 0; k < N_ZP_KEYS; k++) {
        char val[FLEN_VALUE] = "", *end = NULL;
        if (fits_read_keyword(f->fp, zp_keys[k], val, NULL, &status)) {
            status = 0;
            fits_clear_errmsg();
            continue;
        }
        char *v0 = val;
        while (*v0 == ' ') v0++;
        double v = strtod(v0, &end);
        while (end && *end == ' ') end++;
        int isflux = !strcmp(zp_keys[k], "FLUXMAG0");
        double zp = isflux ? (v > 0 ? 2.5 * log10(v) : NAN) : v;
        if (!*v0 || end == v0 || *end || !isfinite(zp) || zp < ZP_MIN || zp > ZP_MAX) {
            f->zp_on = 0;
            if (isflux)
                snprintf(f->zp_why, sizeof f->zp_why,
                         "its zero point FLUXMAG0 = %s is not a flux of a magnitude-0 source between 10^(0.4 x %g) "
                         "and 10^(0.4 x %g)", *v0 ? v0 : "(no value)", ZP_MIN, ZP_MAX);
            else
                snprintf(f->zp_why, sizeof f->zp_why, "its zero point %s = %s is not a magnitude between %g and %g",
                         zp_keys[k], *v0 ? v0 : "(no value)", ZP_MIN, ZP_MAX);
            return;
        }
        char txt[120];
        if (isflux) snprintf(txt, sizeof txt, "FLUXMAG0 = %.6g (ZP = 2.5 log10 FLUXMAG0 = %.4f)", v, zp);
        else snprintf(txt, sizeof txt, "%s = %.4f", zp_keys[k], zp);
        if (nfound++) {
            if (fabs(zp - first) > ZP_AGREE) {
                snprintf(f->zp_why, sizeof f->zp_why,
                         "its zero points %s and %s disagree by %.3f mag (a zero point per second of EXPTIME beside "
                         "one for the exposure's counts differs by 2.5 log10 EXPTIME): galpost does not guess which "
                         "one its pixels follow", first_txt, txt, fabs(zp - first));
                f->zp_on = 0;
                return;
            }
            continue;
        }
        first = zp;
        snprintf(first_txt, sizeof first_txt, "%s", txt);
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
        if (isflux)
            snprintf(f->calib, sizeof f->calib, "%s x 10^(-0.4 (2.5 log10 FLUXMAG0 - 22.5)), FLUXMAG0 = %.6g (ZP = %.4g)",
                     u, v, zp);
        else
            snprintf(f->calib, sizeof f->calib, "%s x 10^(-0.4 (%s - 22.5)), %s = %.4g", u, f->zp_key, f->zp_key, zp);
    }
}

/* The frame's calibration from its header: a flux density (BUNIT nJy, uJy,
 * mJy, Jy) is scaled to nanomaggies; counts or counts per second (BUNIT
 * absent, or naming them) with an AB zero point among zp_keys are
 * calibrated by it.  A zero point that is there but unusable (not a number,
 * outside ZP_MIN..ZP_MAX, PHOTSYS other than AB, two that disagree) leaves
 * the reason in zp_why, and gp_frame_check_unit() refuses the frame with
 * it. */
static void frame_setup_zp(gp_frame *f)
{
    f->zp_scale = 1.0;
    f->zp = NAN;
    double s = 1.0;
    f->ukind = unit_kind(f->unit, &s);
    if (f->ukind == UNIT_FLUXD) {
        f->zp_on = 1;
        f->zp_scale = s;
        snprintf(f->calib, sizeof f->calib, "'%s' (BUNIT) x %.6g (1 nanomaggy = 3631 nJy), sky as it is", f->unit,
                 s);
    } else if (f->ukind == UNIT_NONE || f->ukind == UNIT_COUNTS || f->ukind == UNIT_RATE) {
        frame_read_zp(f);
    }
    f->hdr_on = f->zp_on;
    f->hdr_zp = f->zp;
    f->hdr_scale = f->zp_scale;
    snprintf(f->hdr_key, sizeof f->hdr_key, "%s", f->zp_key);
    snprintf(f->hdr_calib, sizeof f->hdr_calib, "%s", f->calib);
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
    fits_get_hdu_num(f->fp, &f->hdu);
    if (fits_read_key(f->fp, TSTRING, "EXTNAME", f->extname, NULL, &status)) {
        status = 0;
        f->extname[0] = '\0';
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

/* The zero-point keywords galpost reads, for messages. */
#define ZP_KEYS_TEXT "MAGZP, MAGZERO, PHOTZP or FLUXMAG0"

int gp_frame_check_unit(const gp_frame *f, gp_error *err)
{
    if (!f) return GP_FAIL(err, GP_ERR_ARG, "gp_frame_check_unit: NULL argument");
    if (f->zp_on) return GP_OK;
    char w[FLEN_FILENAME + 200];
    frame_where(f, w, sizeof w);
    if (f->zp_why[0])
        return GP_FAIL(err, GP_ERR_DATA, "%s: %s%s%s%s: galpost needs frames in nanomaggies or nJy, or in counts (or "
                       "counts/s) with an AB zero point (" ZP_KEYS_TEXT "; m = ZP - 2.5 log10 pixel value), "
                       "or a zero point given by hand (galpost infer --zeropoint, galpostd set zeropoint)",
                       w, f->unit[0] ? "its pixels are in '" : "", f->unit, f->unit[0] ? "' (BUNIT) and " : "",
                       f->zp_why);
    if (f->ukind == UNIT_NONE || f->ukind == UNIT_NMGY) return GP_OK;
    if (f->ukind == UNIT_COUNTS || f->ukind == UNIT_RATE)
        return GP_FAIL(err, GP_ERR_DATA,
                       "%s: its pixels are in '%s' (BUNIT) with no photometric zero point, not nanomaggies: galpost "
                       "reads frames in counts%s given an AB zero point keyword " ZP_KEYS_TEXT
                       " (m = ZP - 2.5 log10 pixel value, for the pixel values as they are%s) or a zero point given "
                       "by hand (galpost infer --zeropoint, galpostd set zeropoint), or calibrated frames in "
                       "nanomaggies (as SDSS frame-*.fits files are, m = 22.5 - 2.5 log10 f) or nJy",
                       w, f->unit, f->ukind == UNIT_RATE ? " per second" : "",
                       f->ukind == UNIT_RATE ? ": a zero point of the rate; EXPTIME is not used to turn one for "
                                               "counts into one for the rate" : "");
    return GP_FAIL(err, GP_ERR_DATA,
                   "%s: its pixels are in '%s' (BUNIT), not nanomaggies: galpost needs calibrated frames in "
                   "nanomaggies (as SDSS frame-*.fits files are, m = 22.5 - 2.5 log10 f) or in AB flux density per "
                   "pixel ('nJy', 'uJy', 'mJy', 'Jy'), or frames in counts or counts per second (BUNIT 'counts', "
                   "'ADU', 'DN', 'electrons', 'counts/s', 'e-/s', ...) with an AB zero point keyword " ZP_KEYS_TEXT
                   " or one given by hand", w, f->unit);
}

double gp_frame_zeropoint(const gp_frame *f, const char **key)
{
    int on = f && f->zp_on && isfinite(f->zp);
    if (key) *key = on ? f->zp_key : "";
    return on ? f->zp : NAN;
}

const char *gp_frame_calibration(const gp_frame *f) { return f && f->zp_on ? f->calib : ""; }

int gp_frame_set_zeropoint(gp_frame *f, double zp, const char *source, gp_error *err)
{
    if (!f) return GP_FAIL(err, GP_ERR_ARG, "gp_frame_set_zeropoint: NULL frame");
    if (!isnan(zp) && !(zp >= ZP_MIN && zp <= ZP_MAX))
        return GP_FAIL(err, GP_ERR_ARG, "%s: zero point %g%s%s is not a magnitude between %g and %g", f->name, zp,
                       source && *source ? " from " : "", source && *source ? source : "", ZP_MIN, ZP_MAX);
    /* back to the header's own calibration */
    f->zp_on = f->hdr_on;
    f->zp_hand = 0;
    f->zp = f->hdr_zp;
    f->zp_scale = f->hdr_scale;
    snprintf(f->zp_key, sizeof f->zp_key, "%s", f->hdr_key);
    snprintf(f->calib, sizeof f->calib, "%s", f->hdr_calib);
    /* a hand zero point is for counts whose header has no usable one */
    if (isnan(zp) || f->hdr_on ||
        !(f->ukind == UNIT_NONE || f->ukind == UNIT_COUNTS || f->ukind == UNIT_RATE))
        return GP_OK;
    f->zp_on = 1;
    f->zp_hand = 1;
    f->zp = zp;
    f->zp_scale = pow(10.0, -0.4 * (zp - 22.5));
    snprintf(f->zp_key, sizeof f->zp_key, "ZP");
    char u[100];
    if (f->unit[0]) snprintf(u, sizeof u, "'%s' (BUNIT)", f->unit);
    else snprintf(u, sizeof u, "counts (no BUNIT)");
    snprintf(f->calib, sizeof f->calib, "%s x 10^(-0.4 (ZP - 22.5)), ZP = %.4g given by %s%s", u, zp,
             source && *source ? source : "hand", f->zp_why[0] ? " (the header's is unusable)" : "");
    return GP_OK;
}

void gp_frame_pixels_note(gp_frame *const band[GP_NBANDS], const char *const name[GP_NBANDS], int cutout,
                          char *buf, size_t n)
{
    if (!buf || !n) return;
    size_t l = 0;
    buf[0] = '\0';
    for (int b = 0; b < GP_NBANDS && l < n; b++) {
        const char *c = band[b] ? gp_frame_calibration(band[b]) : "";
        if (!*c) continue;
        /* counts get a local sky in the cutout (gp_cutout_band), flux densities do not */
        int sky = cutout && (b == GP_BAND_G || b == GP_BAND_R || b == GP_BAND_I) &&
                  isfinite(gp_frame_zeropoint(band[b], NULL));
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
    /* counts and flux densities to nanomaggies; frames in nanomaggies are left as read */
    if (f->zp_on)
        for (long k = 0; k < nx * ny; k++) out[k] = (float)(out[k] * f->zp_scale);
    return GP_OK;
}
