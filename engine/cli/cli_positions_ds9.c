/*
 * cli_positions_ds9.c: the centres of the regions of a DS9 region file, as
 * a --positions list (cli_positions.h).
 *
 * Debian has no C library that reads DS9 region files to sky positions
 * (cfitsio's fits_read_rgnfile() is not in its installed headers and turns
 * sky regions into one image's pixels; funtools' filter compiles regions
 * into pixel filters), so this is a small reader of what DS9 writes
 * (Region > Save, ds9 format; xpaget ds9 regions -format ds9) and of the
 * region syntax users type:
 *
 *   # Region file format: DS9 version 4.1
 *   global color=green dashlist=8 3 width=1 ...
 *   fk5
 *   circle(229.5257,42.7447,5") # text={1237662301903192106}
 *   point(15:18:06.180,+42:44:41.00) # point=x
 *   fk5;box(229.5,42.7,10",5",0) ; -circle 229.5 42.7 3"
 *
 * Statements are separated by newlines and ';'; a coordinate system holds
 * until the next; '#' begins a comment, and after a region its properties.
 * A region's arguments are in parentheses or follow it separated by blanks.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <wcslib/sph.h>

#include "galpost/gp_image.h"
#include "cli/cli_positions_read.h"
#include "gp_fits_util.h"

/* Galactic coordinates to FK5 J2000 by wcslib's spherical rotation
 * (sphx2s: the equatorial longitude and colatitude of the system's pole and
 * its longitude of the equatorial pole; to_fk5 adds the colatitude's
 * cosine and sine): the north galactic pole at (192.85948, +27.12825), the
 * north celestial pole at l = 122.93192 (Hipparcos catalogue vol. 1,
 * 1.5.3).  Ecliptic coordinates are not rotated: DS9 8 writes them for the
 * mean ecliptic and equinox of the image's DATE-OBS (an SDSS frame of 2004:
 * 3 arcmin from J2000's), and the region file does not name that date. */
static const double eul_galactic[3] = { 192.85948, 90.0 - 27.12825, 122.93192 };

/* FK4 (B1950.0, at epoch B1950.0, as DS9 writes fk4 and b1950 regions) to
 * FK5 J2000: the E-terms of aberration taken out of the unit vector
 * (Aoki et al. 1983, A&A 128, 263: A in radians), then the B1950 -> J2000
 * rotation (Standish 1982) as astropy 8 applies it from FK4NoETerms at
 * epoch B1950 (within 3e-5 arcsec of its FK4 -> FK5 over the sky).  No
 * proper motion is known, so none is applied. */
static const double fk4_eterms[3] = { -1.62557e-6, -0.31919e-6, -0.13843e-6 };
static const double fk4_to_fk5_matrix[3][3] = {
    { 9.999256794956932e-01, -1.118148321804783e-02, -4.859003819783095e-03 },
    { 1.118148323675328e-02, 9.999374848933406e-01, -2.716259476373887e-05 },
    { 4.859003776738689e-03, -2.717029373234005e-05, 9.999881946023527e-01 },
};

/* How a system's centres become FK5 J2000 ones. */
enum ds9_convert { AS_IS = 0, FROM_GALACTIC, FROM_FK4 };

/* The coordinate systems of DS9's region syntax and what becomes of
 * regions in each: usable (fk5, icrs, j2000; galactic and fk4 turned into
 * fk5), or why not. */
static const struct ds9_system {
    const char *name;
    const char *why;   /* NULL: positions used */
    enum ds9_convert convert;
} ds9_systems[] = {
    { "fk5", NULL, AS_IS }, { "j2000", NULL, AS_IS }, { "icrs", NULL, AS_IS },
    { "fk4", NULL, FROM_FK4 },
    { "b1950", NULL, FROM_FK4 },
    { "galactic", NULL, FROM_GALACTIC },
    { "ecliptic", "ecliptic positions are not converted (DS9 writes them at the equinox of the image's date)",
      AS_IS },
    { "wcs", "'wcs' is the sky system of an image, which the file does not name", AS_IS },
    { "image", "image coordinates are pixels of one image, not sky positions", AS_IS },
    { "physical", "physical coordinates are pixels, not sky positions", AS_IS },
    { "linear", "linear coordinates are not sky positions", AS_IS },
    { "amplifier", "amplifier coordinates are pixels, not sky positions", AS_IS },
    { "detector", "detector coordinates are pixels, not sky positions", AS_IS },
};
#define DS9_NSYS (sizeof ds9_systems / sizeof ds9_systems[0])
/* after a word that names no system and no region, standing alone where a
 * system would (a typo such as "fk6"): regions after it are not read in
 * the system before it */
static const struct ds9_system unknown_system = { "?", NULL, AS_IS };   /* (its message names the word: read_line) */
static const char *const ds9_fix = "save the regions in fk5 or icrs (Region > Save, or xpaget ds9 regions -system wcs -sky fk5)";

/* The regions with one centre, their first two arguments, and those
 * without. */
static const char *const centred[] = { "circle", "ellipse", "box", "annulus", "point", "panda", "epanda", "bpanda" };
static const char *const uncentred[] = { "polygon", "line", "vector", "text", "ruler", "compass", "projection",
                                         "segment", "composite" };
/* DS9's older point syntax: "circle point(...)", "x point ..." */
static const char *const point_kinds[] = { "circle", "box", "diamond", "cross", "x", "arrow", "boxcircle" };

static int in_list(const char *w, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcasecmp(w, list[i])) return 1;
    return 0;
}
#define IN(w, list) in_list((w), (list), sizeof (list) / sizeof (list)[0])

/* The system named w (fk5, wcsa ...), or NULL. */
static const struct ds9_system *find_system(const char *w)
{
    for (size_t i = 0; i < DS9_NSYS; i++)
        if (!strcasecmp(w, ds9_systems[i].name)) return &ds9_systems[i];
    /* wcsa..wcsz: an image's alternate world systems */
    if (strlen(w) == 4 && !strncasecmp(w, "wcs", 3) && (isalpha((unsigned char)w[3]) || w[3] == '0'))
        return &ds9_systems[7];
    return NULL;
}

/* A word at *s (letters, then letters or digits) into w; its length. */
static size_t word(const char **s, char *w, size_t size)
{
    size_t n = 0;
    const char *p = *s;
    *w = '\0';
    if (!isalpha((unsigned char)*p)) return 0;
    while (isalnum((unsigned char)*p) || *p == '_') {
        if (n + 1 < size) w[n++] = *p;
        p++;
    }
    w[n] = '\0';
    size_t len = (size_t)(p - *s);
    *s = p;
    return len;
}

static const char *skip_blank(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') s++;
    return s;
}

int gp_cli_positions_is_ds9(FILE *in)
{
    char *line = NULL;
    size_t cap = 0;
    int is = 0;
    for (int k = 0; k < 200 && getline(&line, &cap, in) >= 0; k++) {
        const char *s = skip_blank(line);
        if (!*s) continue;
        if (*s == '#') {
            s = skip_blank(s + 1);
            if (!strncasecmp(s, "Region file format", 18)) { is = 1; break; }
            continue;
        }
        /* the first line that is not a comment: a system, global, tile or a region */
        if (*s == '+' || *s == '-') s++;
        char w[32];
        word(&s, w, sizeof w);
        const char *t = skip_blank(s);
        int sep = !*s || *t == ';' || *t == '(' || (t != s && *t != ',');
        if (*w && sep && (find_system(w) || !strcasecmp(w, "global") || !strcasecmp(w, "tile") || IN(w, centred) ||
                          IN(w, uncentred)))
            is = 1;
        break;
    }
    free(line);
    rewind(in);
    return is;
}

/* A DS9 sky coordinate: degrees ("229.5257", "229.5257d"), sexagesimal
 * with colons (hours for an RA: "15:18:06.18", "+42:44:41.0") or with
 * letters ("15h18m06.18s", "42d44m41.0s").  0 and *deg, or -1. */
static int ds9_angle(const char *s, int ra, double *deg)
{
    char b[64];
    size_t n = strlen(s);
    if (!n || n >= sizeof b) return -1;
    memcpy(b, s, n + 1);
    int hours = ra && strchr(b, ':') != NULL;
    if (strpbrk(b, "hdms")) {
        if (b[n - 1] == 'd' && !strpbrk(b, "hms:") && strchr(b, 'd') == b + n - 1) {
            b[n - 1] = '\0';   /* 229.5d: degrees */
            hours = 0;
        } else {
            if (strchr(b, ':')) return -1;
            hours = strchr(b, 'h') != NULL;
            if (hours && !ra) return -1;
            if (b[n - 1] == 's') b[--n] = '\0';
            for (char *q = b; *q; q++)
                if (*q == 'h' || *q == 'd' || *q == 'm') *q = ':';
            if (n && b[n - 1] == ':') b[--n] = '\0';   /* 15h18m */
            if (strpbrk(b, "hdms")) return -1;
            if (!strchr(b, ':') && n + 2 < sizeof b) strcat(b, ":0");   /* 15h */
        }
    }
    return gp_angle_parse(b, hours, deg);
}

/* One coordinate of a region's centre in system sys: the longitude (lon
 * 1) or latitude (0).  Equatorial longitudes with colons are hours, a
 * galactic one's are degrees.  -1 only when memory runs out. */
static int centre_angle(gp_cli_position *r, const struct ds9_system *sys, const char *shape, const char *s,
                        int lon, double *v)
{
    *v = NAN;
    double a;
    const int equatorial = sys->convert != FROM_GALACTIC;
    const char *what = lon ? (equatorial ? "an RA" : "a longitude") : (equatorial ? "a Dec" : "a latitude");
    if (ds9_angle(s, lon && equatorial, &a))
        return gp_cli_position_fail(r, "%s: '%.40s' is not %s (degrees, %s)", shape, s, what,
                                    lon && equatorial ? "h:m:s or 15h18m06s" : "d:m:s or 42d44m41s");
    if (lon ? !(a >= 0.0 && a <= 360.0) : !(a >= -90.0 && a <= 90.0))
        return gp_cli_position_fail(r, "%s: %s %.40s is outside %s degrees", shape,
                                    lon ? (equatorial ? "RA" : "longitude") : (equatorial ? "Dec" : "latitude"), s,
                                    lon ? "0..360" : "-90..90");
    *v = a;
    return 0;
}

/* A centre in galactic or FK4 coordinates, turned into FK5 J2000. */
static void to_fk5(const struct ds9_system *sys, double *ra, double *dec)
{
    const double d2r = M_PI / 180.0;
    double lng, lat;
    if (sys->convert == FROM_GALACTIC) {
        const double *u = eul_galactic;
        double e[5] = { u[0], u[1], u[2], cos(u[1] * d2r), sin(u[1] * d2r) };
        sphx2s(e, 1, 1, 1, 1, ra, dec, &lng, &lat);
    } else {
        const double r0[3] = { cos(*dec * d2r) * cos(*ra * d2r), cos(*dec * d2r) * sin(*ra * d2r), sin(*dec * d2r) };
        const double *a = fk4_eterms;
        const double w = r0[0] * a[0] + r0[1] * a[1] + r0[2] * a[2];
        double v1[3], v2[3];
        for (int i = 0; i < 3; i++) v1[i] = r0[i] - a[i] + w * r0[i];
        for (int i = 0; i < 3; i++)
            v2[i] = fk4_to_fk5_matrix[i][0] * v1[0] + fk4_to_fk5_matrix[i][1] * v1[1] + fk4_to_fk5_matrix[i][2] * v1[2];
        lng = atan2(v2[1], v2[0]) / d2r;
        lat = atan2(v2[2], hypot(v2[0], v2[1])) / d2r;
    }
    *ra = lng < 0.0 ? lng + 360.0 : lng >= 360.0 ? lng - 360.0 : lng;
    *dec = lat;
}

/* The end of the statement at s: the next ';' outside braces and quotes
 * (DS9 ends a statement there), or the end of the line. */
static const char *statement_end(const char *s)
{
    int depth = 0;
    char quote = 0;
    for (; *s; s++) {
        if (quote) { if (*s == quote) quote = 0; }
        else if (*s == '"' || *s == '\'') quote = *s;
        else if (*s == '{') depth++;
        else if (*s == '}' && depth > 0) depth--;
        else if (*s == ';' && depth == 0) break;
    }
    return s;
}

/* Whether a region's properties mark it "background" (sky for DS9's
 * photometry, not a source): the bare word, outside text={...} and quotes. */
static int background_property(const char *s)
{
    int depth = 0;
    char quote = 0;
    for (const char *p = s; *p; p++) {
        if (quote) { if (*p == quote) quote = 0; continue; }
        if (*p == '"' || *p == '\'') { quote = *p; continue; }
        if (*p == '{') { depth++; continue; }
        if (*p == '}') { if (depth > 0) depth--; continue; }
        if (depth == 0 && !strncasecmp(p, "background", 10) && (p == s || !isalnum((unsigned char)p[-1])) &&
            !isalnum((unsigned char)p[10]) && p[10] != '=')
            return 1;
    }
    return 0;
}

/* Whether a system is one of an image's pixel systems. */
static int pixel_system(const struct ds9_system *s)
{
    static const char *const pix[] = { "image", "physical", "linear", "amplifier", "detector" };
    return IN(s->name, pix);
}

/* A centre coordinate written sexagesimal (colons, or h/d/m/s after digits),
 * which DS9 reads as fk5 where no system was named. */
static int sexagesimal(const char *a)
{
    if (!a) return 0;
    const char *d = *a == '+' || *a == '-' ? a + 1 : a;
    return isdigit((unsigned char)*d) && strpbrk(d, ":hdms") != NULL;
}

/* The text={...} (or "..." or '...') of a region's properties, into t. */
static void text_property(const char *s, char *t, size_t size)
{
    *t = '\0';
    for (const char *p = s; (p = strstr(p, "text")); p += 4) {
        if (p > s && (isalnum((unsigned char)p[-1]) || p[-1] == '_')) continue;
        const char *q = skip_blank(p + 4);
        if (*q != '=') continue;
        q = skip_blank(q + 1);
        char close = *q == '{' ? '}' : *q == '"' ? '"' : *q == '\'' ? '\'' : '\0';
        if (!close) continue;
        const char *e = strchr(q + 1, close);
        if (!e) return;
        size_t n = (size_t)(e - q - 1);
        if (n >= size) n = size - 1;
        memcpy(t, q + 1, n);
        t[n] = '\0';
        return;
    }
}

/* The statements of one line.  *sys is the system in force (NULL: none
 * named yet, DS9's default physical); rows are added for regions.  -1 when
 * memory runs out. */
static int read_line(gp_cli_positions *p, long *cap, long lineno, char *line, const struct ds9_system **sys,
                     char unknown[32])
{
    const char *s = line;
    gp_cli_position *last = NULL;   /* the line's last region, whose properties follow '#' */
    for (;;) {
        s = skip_blank(s);
        while (*s == ';' || *s == '|' || *s == '&') s = skip_blank(s + 1);   /* (composite's "||") */
        if (!*s) return 0;
        if (*s == '#') {
            /* a region's properties; or a comment, DS9's commented shapes
             * ("# text(...)", "# vector(...)") included */
            if (last) {
                char t[128];
                text_property(s + 1, t, sizeof t);
                uint64_t id = 0;
                if (*t && !gp_parse_objid(t, &id) && id) { last->objid = id; p->has_objid = 1; }
                if (background_property(s + 1) &&
                    gp_cli_position_fail(last, "a background region marks sky for DS9's photometry, not a galaxy"))
                    return -1;
            }
            return 0;
        }
        char sign = 0;
        if (*s == '+' || *s == '-') sign = *s++;
        char w[32];
        const char *start = s;
        word(&s, w, sizeof w);
        if (!*w) {
            gp_cli_position *r = gp_cli_positions_add(p, cap, lineno);
            if (!r) return -1;
            return gp_cli_position_fail(r, "'%.40s' is not a DS9 region or coordinate system", start);
        }
        const struct ds9_system *ns = sign ? NULL : find_system(w);
        if (ns) { *sys = ns; continue; }
        if (!sign && (!strcasecmp(w, "global") || !strcasecmp(w, "tile"))) {
            s = statement_end(s);   /* default properties, a frame's tile: the statement only */
            continue;
        }
        /* a word alone where a system would stand ("fk6", "gal;"): no region
         * of its own, but the regions after it are not read in the system
         * before it */
        if (!sign && !IN(w, centred) && !IN(w, uncentred)) {
            const char *q = skip_blank(s);
            if (!*q || *q == ';' || *q == '#') {
                *sys = &unknown_system;
                snprintf(unknown, 32, "%s", w);
                s = q;
                continue;
            }
        }
        /* "circle point(...)": a point */
        if (IN(w, point_kinds)) {
            const char *q = skip_blank(s);
            char w2[16];
            if (q != s && word(&q, w2, sizeof w2) && !strcasecmp(w2, "point")) { strcpy(w, "point"); s = q; }
        }
        gp_cli_position *r = gp_cli_positions_add(p, cap, lineno);
        if (!r) return -1;
        last = r;
        /* the arguments: (a, b, ...) or a b ... up to ';', '#' or the end */
        char args[512];
        size_t na = 0;
        s = skip_blank(s);
        int paren = *s == '(';
        if (paren) s++;
        while (*s && (paren ? *s != ')' : !strchr(";#|", *s))) {
            if (na + 1 < sizeof args) args[na++] = *s;
            s++;
        }
        args[na] = '\0';
        if (paren && *s == ')') s++;
        else if (paren) return gp_cli_position_fail(r, "%s: no ')' closes its arguments", w);
        char *save = NULL, *a0 = strtok_r(args, ", \t\r\n", &save), *a1 = a0 ? strtok_r(NULL, ", \t\r\n", &save) : NULL;
        /* DS9 reads a sexagesimal centre as fk5 where no system was named or
         * a pixel system is in force (image, physical ...) */
        const struct ds9_system *use = *sys;
        if ((!use || pixel_system(use)) && sexagesimal(a0) && sexagesimal(a1)) use = &ds9_systems[0];
        int fail = 0;
        if (!IN(w, centred) && !IN(w, uncentred))
            fail = gp_cli_position_fail(r, "'%s' is not a DS9 region or coordinate system", w);
        else if (sign == '-')
            fail = gp_cli_position_fail(r, "an excluded region (-%s) marks where not to look, not a galaxy", w);
        else if (!IN(w, centred))
            fail = gp_cli_position_fail(r, "a %s region has no centre to take: --positions reads circle, ellipse, box, "
                                        "annulus, point and panda regions", w);
        else if (!use)
            fail = gp_cli_position_fail(r, "%s: no coordinate system before it (DS9 reads physical pixels then): %s",
                                        w, ds9_fix);
        else if (use == &unknown_system)
            fail = gp_cli_position_fail(r, "%s: it follows '%s', which is no coordinate system DS9 knows: %s", w,
                                        unknown, ds9_fix);
        else if (use->why)
            fail = gp_cli_position_fail(r, "%s: %s: %s", w, use->why, ds9_fix);
        else if (!a0 || !a1)
            fail = gp_cli_position_fail(r, "%s: no centre (its arguments: '%.40s')", w, a0 ? a0 : "");
        else {
            fail = centre_angle(r, use, w, a0, 1, &r->ra) || centre_angle(r, use, w, a1, 0, &r->dec);
            /* a galactic coordinate read without the other is
             * no RA or Dec: neither is kept (the failed row's output) */
            if (!fail && use->convert != AS_IS && r->why) r->ra = r->dec = NAN;
            else if (!fail && use->convert != AS_IS) to_fk5(use, &r->ra, &r->dec);
        }
        if (fail) return -1;
    }
}

int gp_cli_positions_read_ds9(gp_cli_positions *p, FILE *in, gp_error *err)
{
    char *line = NULL;
    size_t lcap = 0;
    long cap = 0, lineno = 0;
    const struct ds9_system *sys = NULL;
    char unknown[32] = "";
    int st = GP_OK;
    while (getline(&line, &lcap, in) >= 0) {
        lineno++;
        if (read_line(p, &cap, lineno, line, &sys, unknown)) {
            st = GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory at line %ld", p->name, lineno);
            break;
        }
    }
    if (!st && ferror(in)) st = GP_FAIL(err, GP_ERR_IO, "%s: cannot read at line %ld", p->name, lineno + 1);
    free(line);
    return st;
}
