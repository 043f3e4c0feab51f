/*
 * gp_zeropoint.c: zero points given by hand, as text (include/galpost/gp_image.h,
 * gp_zeropoint_parse): "header", one magnitude for every band, or band=ZP
 * pairs.  Shared by galpost infer --zeropoint and galpostd's set zeropoint.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "galpost/gp_image.h"

/* One magnitude in GP_ZEROPOINT_MIN..MAX: decimal only (no hex, inf, nan). */
static int parse_mag(const char *s, size_t n, double *out)
{
    char b[64];
    if (n == 0 || n >= sizeof b) return -1;
    memcpy(b, s, n);
    b[n] = '\0';
    for (const char *q = b; *q; q++)
        if (!isdigit((unsigned char)*q) && !strchr("+-.eE", *q)) return -1;
    char *end;
    errno = 0;
    double v = strtod(b, &end);
    if (*end || errno || !isfinite(v) || v < GP_ZEROPOINT_MIN || v > GP_ZEROPOINT_MAX) return -1;
    *out = v;
    return 0;
}

int gp_zeropoint_parse(const char *text, double zp[GP_NBANDS], gp_error *err)
{
    double v[GP_NBANDS];
    for (int b = 0; b < GP_NBANDS; b++) v[b] = NAN;
    const char *s = text ? text : "";
    while (isspace((unsigned char)*s)) s++;
    size_t len = strlen(s);
    while (len && isspace((unsigned char)s[len - 1])) len--;
    if (len == 0)
        return GP_FAIL(err, GP_ERR_ARG, "zero point: empty (give 'header', a magnitude such as 27.0, or band=ZP "
                       "pairs such as g=27.1,r=27.0,i=26.8)");
    if (len == 6 && !strncasecmp(s, "header", 6)) {
        for (int b = 0; b < GP_NBANDS; b++) zp[b] = NAN;
        return GP_OK;
    }
    if (!memchr(s, '=', len)) {
        double one;
        if (parse_mag(s, len, &one))
            return GP_FAIL(err, GP_ERR_ARG, "zero point: '%.*s' is not 'header', a magnitude between %g and %g, or "
                           "band=ZP pairs (g=27.1,r=27.0)", (int)len, s, GP_ZEROPOINT_MIN, GP_ZEROPOINT_MAX);
        for (int b = 0; b < GP_NBANDS; b++) zp[b] = one;
        return GP_OK;
    }
    /* band=ZP pairs, separated by commas and/or blanks */
    size_t i = 0;
    while (i < len) {
        while (i < len && (s[i] == ',' || isspace((unsigned char)s[i]))) i++;
        if (i >= len) break;
        size_t j = i;
        while (j < len && s[j] != ',' && !isspace((unsigned char)s[j])) j++;
        const char *eq = memchr(s + i, '=', j - i);
        int band = eq && eq == s + i + 1 ? gp_band_from_filter((char[]){ s[i], '\0' }) : GP_BAND_UNKNOWN;
        double m;
        if (band == GP_BAND_UNKNOWN)
            return GP_FAIL(err, GP_ERR_ARG, "zero point: '%.*s' is not BAND=ZP with BAND one of u, g, r, i, z",
                           (int)(j - i), s + i);
        if (parse_mag(eq + 1, (size_t)(s + j - eq - 1), &m))
            return GP_FAIL(err, GP_ERR_ARG, "zero point: '%.*s': '%.*s' is not a magnitude between %g and %g",
                           (int)(j - i), s + i, (int)(s + j - eq - 1), eq + 1, GP_ZEROPOINT_MIN, GP_ZEROPOINT_MAX);
        if (!isnan(v[band]))
            return GP_FAIL(err, GP_ERR_ARG, "zero point: band %s given twice", gp_band_name(band));
        v[band] = m;
        i = j;
    }
    for (int b = 0; b < GP_NBANDS; b++) zp[b] = v[b];
    return GP_OK;
}

void gp_zeropoint_format(const double zp[GP_NBANDS], char *buf, size_t n)
{
    if (!buf || !n) return;
    buf[0] = '\0';
    int given = 0, same = 1;
    for (int b = 0; b < GP_NBANDS; b++) {
        if (!isnan(zp[b])) given++;
        if (b && !(zp[b] == zp[0])) same = 0;
    }
    if (!given) { snprintf(buf, n, "header"); return; }
    if (given == GP_NBANDS && same) { snprintf(buf, n, "%.6g", zp[0]); return; }
    size_t l = 0;
    for (int b = 0; b < GP_NBANDS && l < n; b++)
        if (!isnan(zp[b])) l += (size_t)snprintf(buf + l, n - l, "%s%s=%.6g", l ? "," : "", gp_band_name(b), zp[b]);
}
