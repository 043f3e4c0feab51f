/*
 * gp_json.h: the two JSON writing helpers that galpost infer --json and the
 * plug-in's summaries share (internal, header-only).
 */
#ifndef GALPOST_GP_JSON_H
#define GALPOST_GP_JSON_H

#include <math.h>
#include <stdio.h>

/* A number, or null for NaN and infinity (which JSON does not have). */
static inline void gp_json_num(FILE *f, double v)
{
    if (isfinite(v)) fprintf(f, "%.6g", v);
    else fputs("null", f);
}

/* A string with JSON's escapes for quotes, backslashes and control characters
 * (other bytes pass through: file names are written as the system gives them). */
static inline void gp_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

#endif
