/*
 * gpd_parse.c: parsing of galpost requests and of DS9's replies (region
 * listings, frame lists).  Pure functions: unit-tested without DS9.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpd.h"

/* Next whitespace-separated word of *p into w (at most n-1 bytes). */
static int next_word(const char **p, char *w, size_t n)
{
    const char *s = *p;
    while (isspace((unsigned char)*s)) s++;
    if (!*s) { *p = s; return 0; }
    size_t k = 0;
    while (*s && !isspace((unsigned char)*s)) {
        if (k + 1 >= n) return -1;
        w[k++] = *s++;
    }
    w[k] = '\0';
    *p = s;
    return 1;
}

int gpd_parse_infer(const char *params, gpd_infer_args *a, char *msg, size_t msglen)
{
    memset(a, 0, sizeof *a);
    a->where = GPD_WHERE_SELECTED;
    const char *p = params ? params : "";
    char w[1024];
    int r, first = 1;
    while ((r = next_word(&p, w, sizeof w)) != 0) {
        if (r < 0) { snprintf(msg, msglen, "infer: a word is longer than %zu characters", sizeof w - 1); return -1; }
        if (!strcmp(w, "ds9") || !strcmp(w, "tag")) {
            char v[1024];
            int rv = next_word(&p, v, sizeof v);
            if (rv < 0) { snprintf(msg, msglen, "infer: the value of '%s' is longer than %zu characters", w, sizeof v - 1); return -1; }
            if (rv == 0) { snprintf(msg, msglen, "infer: '%s' needs a value", w); return -1; }
            if (!strcmp(w, "ds9")) snprintf(a->target, sizeof a->target, "%s", v);
            else {
                if (strlen(v) >= sizeof a->tag) { snprintf(msg, msglen, "infer: tag longer than %zu characters", sizeof a->tag - 1); return -1; }
                for (const char *q = v; *q; q++)
                    if (!isalnum((unsigned char)*q) && *q != '_' && *q != '-' && *q != '.') {
                        snprintf(msg, msglen, "infer: tag '%s' may hold only letters, digits, '_', '-' and '.'", v);
                        return -1;
                    }
                snprintf(a->tag, sizeof a->tag, "%s", v);
            }
            first = 0;
            continue;
        }
        if (!first) { snprintf(msg, msglen, "infer: unexpected '%s' (usage: infer [selected|all|crosshair|RA DEC] [ds9 TARGET] [tag WORD])", w); return -1; }
        first = 0;
        if (!strcmp(w, "selected")) a->where = GPD_WHERE_SELECTED;
        else if (!strcmp(w, "all")) a->where = GPD_WHERE_ALL;
        else if (!strcmp(w, "crosshair")) a->where = GPD_WHERE_CROSSHAIR;
        else {
            char d[1024];
            double ra, dec;
            if (gp_angle_parse(w, 1, &ra) != 0) {
                snprintf(msg, msglen, "infer: '%s' is not selected, all, crosshair or an RA (degrees or h:m:s)", w);
                return -1;
            }
            if (next_word(&p, d, sizeof d) <= 0) { snprintf(msg, msglen, "infer: RA %s needs a Dec", w); return -1; }
            if (gp_angle_parse(d, 0, &dec) != 0) { snprintf(msg, msglen, "infer: '%s' is not a Dec (degrees or d:m:s)", d); return -1; }
            if (ra < 0 || ra >= 360) {
                if (strchr(w, ':')) snprintf(msg, msglen, "infer: RA %s is outside 0h..24h (0 <= RA < 360 degrees)", w);
                else snprintf(msg, msglen, "infer: RA %s is outside 0 <= RA < 360 degrees", w);
                return -1;
            }
            if (dec < -90 || dec > 90) { snprintf(msg, msglen, "infer: Dec %s is outside -90..90 degrees", d); return -1; }
            a->where = GPD_WHERE_POSITION;
            a->ra = ra;
            a->dec = dec;
        }
    }
    return 0;
}

int gpd_parse_int_list(const char *s, int *out, int max)
{
    int n = 0;
    const char *p = s ? s : "";
    while (*p && n < max) {
        while (*p && !isdigit((unsigned char)*p) && *p != '-') p++;
        if (!*p) break;
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p) { p++; continue; }
        out[n++] = (int)v;
        p = end;
    }
    return n;
}

/* A size with DS9 units: 12.3" arcsec, 1.2' arcmin, 0.01d degrees, plain:
 * as given (image pixels, or degrees in wcs listings). */
static double size_value(const char *s, int sky, char **end)
{
    double v = strtod(s, end);
    if (**end == '"') { (*end)++; return sky ? v : v; }
    if (**end == '\'') { (*end)++; return v * 60.0; }
    if (**end == 'd') { (*end)++; return v * 3600.0; }
    return sky ? v * 3600.0 : v;
}

/* Parse "shape(args...)" at s; fills ra/dec (or x/y) and radius.
 * Returns 1 when a usable shape, 0 to skip. */
static int parse_shape(const char *line, int sky, double *cx, double *cy, double *rad)
{
    const char *s = line;
    while (isspace((unsigned char)*s) || *s == '+' || *s == '-') s++;
    const char *paren = strchr(s, '(');
    if (!paren) return 0;
    char name[32];
    size_t nl = (size_t)(paren - s);
    if (nl == 0 || nl >= sizeof name) return 0;
    memcpy(name, s, nl);
    name[nl] = '\0';
    if (!strcmp(name, "text") || !strcmp(name, "vector") || !strcmp(name, "line") ||
        !strcmp(name, "ruler") || !strcmp(name, "compass") || !strcmp(name, "projection") ||
        !strcmp(name, "segment") || !strcmp(name, "composite"))
        return 0;
    const char *hash = strchr(s, '#');
    if (hash && strstr(hash, "tag={galpost}")) return 0;
    double v[64];
    int n = 0;
    const char *p = paren + 1;
    while (*p && *p != ')' && n < 64) {
        char *end;
        while (*p == ' ' || *p == ',') p++;
        if (n < 2) v[n] = strtod(p, &end);
        else v[n] = size_value(p, sky, &end);
        if (end == p) return 0;
        n++;
        p = end;
    }
    if (n < 2) return 0;
    if (!strcmp(name, "polygon")) {
        double sx = 0, sy = 0;
        int k = 0;
        /* polygon vertices are all positions (not sizes): reparse */
        p = paren + 1;
        double pts[64];
        int m = 0;
        while (*p && *p != ')' && m < 64) {
            char *end;
            while (*p == ' ' || *p == ',') p++;
            pts[m] = strtod(p, &end);
            if (end == p) return 0;
            m++;
            p = end;
        }
        for (k = 0; k + 1 < m; k += 2) { sx += pts[k]; sy += pts[k + 1]; }
        k = m / 2;
        if (k < 1) return 0;
        *cx = sx / k;
        *cy = sy / k;
        double r = 0;
        for (int i = 0; i + 1 < m; i += 2) {
            double dx = (pts[i] - *cx) * (sky ? cos(*cy * M_PI / 180.0) : 1.0), dy = pts[i + 1] - *cy;
            double d = sqrt(dx * dx + dy * dy) * (sky ? 3600.0 : 1.0);
            if (d > r) r = d;
        }
        *rad = r;
        return 1;
    }
    *cx = v[0];
    *cy = v[1];
    if (!strcmp(name, "point")) *rad = 0;
    else if (!strcmp(name, "circle") || !strcmp(name, "annulus")) *rad = n > 2 ? v[2] : 0;
    else if (!strcmp(name, "ellipse")) *rad = n > 3 ? fmax(v[2], v[3]) : (n > 2 ? v[2] : 0);
    else if (!strcmp(name, "box")) *rad = n > 3 ? 0.5 * fmax(v[2], v[3]) : (n > 2 ? 0.5 * v[2] : 0);
    else if (!strcmp(name, "epanda") || !strcmp(name, "bpanda") || !strcmp(name, "cpanda") ||
             !strcmp(name, "panda")) *rad = 0;
    else return 0;
    return 1;
}

/* Iterate the shape lines of a listing. */
static int listing_shapes(const char *text, int sky, double *xs, double *ys, double *rs, int max)
{
    int n = 0;
    const char *p = text ? text : "";
    char line[4096];
    while (*p && n < max) {
        const char *e = strchr(p, '\n');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l >= sizeof line) l = sizeof line - 1;
        memcpy(line, p, l);
        line[l] = '\0';
        p = e ? e + 1 : p + l;
        /* several regions may share a line, separated by ';' */
        char *save = NULL;
        for (char *tok = strtok_r(line, ";", &save); tok && n < max; tok = strtok_r(NULL, ";", &save)) {
            while (isspace((unsigned char)*tok)) tok++;
            /* '-shape(...)' is an exclude region: the area to leave out, no galaxy */
            if (*tok == '#' || *tok == '-' || !*tok) continue;
            double x, y, r;
            if (parse_shape(tok, sky, &x, &y, &r)) {
                xs[n] = x; ys[n] = y; rs[n] = r;
                n++;
            }
        }
    }
    return n;
}

int gpd_parse_regions(const char *wcs, const char *image, gpd_shape *out, int max)
{
    if (max <= 0) return 0;
    double *a = malloc(sizeof(double) * 6 * (size_t)max);
    if (!a) return 0;
    int n = listing_shapes(wcs, 1, a, a + max, a + 2 * max, max);
    int m = image ? listing_shapes(image, 0, a + 3 * max, a + 4 * max, a + 5 * max, max) : 0;
    for (int i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof out[i]);
        out[i].ra = a[i];
        out[i].dec = a[max + i];
        out[i].radius = a[2 * max + i];
        if (m == n) {
            out[i].has_image = 1;
            out[i].x = a[3 * max + i];
            out[i].y = a[4 * max + i];
            out[i].rpix = a[5 * max + i];
        }
    }
    free(a);
    return n;
}
