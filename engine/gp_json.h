/*
 * gp_json.h: the JSON writing helpers that galpost infer --json and the
 * plug-in's summaries share (internal, header-only).
 */
#ifndef GALPOST_GP_JSON_H
#define GALPOST_GP_JSON_H

#include <math.h>
#include <stdio.h>

#include "galpost/gp_model.h"

/* A number, or null for NaN and infinity (which JSON does not have). */
static inline void gp_json_num(FILE *f, double v)
{
    if (isfinite(v)) fprintf(f, "%.6g", v);
    else fputs("null", f);
}

/* ", \"KEY\": number" (null as gp_json_num writes it): an object's next member. */
static inline void gp_json_member(FILE *f, const char *key, double v)
{
    fprintf(f, ", \"%s\": ", key);
    gp_json_num(f, v);
}

/* The length of the well-formed UTF-8 sequence at p (1 to 4), or 0 when
 * there is none there; *bad is then the length of its maximal ill-formed
 * prefix (at least 1), which is replaced by one U+FFFD (Unicode's
 * "maximal subpart" practice).  Overlong forms, surrogates and code points
 * above U+10FFFF are ill-formed. */
static inline int gp_json_utf8_len(const unsigned char *p, int *bad)
{
    unsigned c = p[0];
    int n;
    unsigned lo = 0x80, hi = 0xbf;   /* the second byte's range */
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) n = 2;
    else if (c >= 0xe0 && c <= 0xef) { n = 3; if (c == 0xe0) lo = 0xa0; if (c == 0xed) hi = 0x9f; }
    else if (c >= 0xf0 && c <= 0xf4) { n = 4; if (c == 0xf0) lo = 0x90; if (c == 0xf4) hi = 0x8f; }
    else { *bad = 1; return 0; }
    for (int k = 1; k < n; k++) {
        unsigned b = p[k];   /* (the terminating NUL is never a continuation) */
        if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xbf)) { *bad = k; return 0; }
    }
    return n;
}

/* A string as JSON: quotes and backslashes escaped, control characters
 * (U+0000..U+001F, U+007F..U+009F) as \u00XX, and bytes that are not
 * UTF-8 (a Latin-1 file name) as \ufffd, so that the output is valid JSON
 * whatever bytes the system gives. */
static inline void gp_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int bad = 0, n = gp_json_utf8_len(p, &bad);
        if (!n) { fputs("\\ufffd", f); p += bad; continue; }
        unsigned cp = n == 1 ? p[0] : n == 2 ? ((p[0] & 0x1fu) << 6 | (p[1] & 0x3fu)) : 0x100;
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) fprintf(f, "\\u%04x", cp);
        else fwrite(p, 1, (size_t)n, f);
        p += n;
    }
    fputc('"', f);
}

/* The input checks' numbers of a result as JSON members ("latent_d2": x,
 * "latent_d2_limit": y, then phot_d2 and source_snr likewise), each check's
 * pair after `sep` but the first, with no separator before or after. */
static inline void gp_json_checks(FILE *f, const gp_result *r, const char *sep)
{
    const double v[6] = { r->latent_d2, r->latent_d2_limit, r->phot_d2, r->phot_d2_limit, r->source_snr,
                          r->source_peak };
    static const char *const name[6] = { "latent_d2", "latent_d2_limit", "phot_d2", "phot_d2_limit",
                                         "source_snr", "source_peak" };
    for (int k = 0; k < 6; k++) {
        fprintf(f, "%s\"%s\": ", k == 0 ? "" : k % 2 ? ", " : sep, name[k]);
        gp_json_num(f, v[k]);
    }
}

/* A result's BPT member, the same in galpost infer --json and the plug-in's
 * summary json: "bpt": {"class": NAME or null, "n": N, "p_sf": p, "p_composite": p,
 * "p_seyfert": p, "p_liner": p} (gp_bpt_class_name(), gp_bpt_class_key(); the
 * FITS tables' columns are p_bpt_KEY and bpt_class). */
static inline void gp_json_bpt(FILE *f, const gp_summary *s)
{
    fprintf(f, "\"bpt\": {\"class\": ");
    if (s->bpt_class >= 0 && s->bpt_class < GP_NBPT) gp_json_str(f, gp_bpt_class_name(s->bpt_class));
    else fputs("null", f);
    fprintf(f, ", \"n\": %d", s->bpt_n);
    for (int c = 0; c < GP_NBPT; c++) {
        fprintf(f, ", \"p_%s\": ", gp_bpt_class_key(c));
        gp_json_num(f, s->p_bpt[c]);
    }
    fputc('}', f);
}

/* The posterior correlation matrix (Pearson, over the samples) of the nine
 * quantities, as galpost infer --json and galpostd's summary json write it:
 * "corr": {"order": [NAME, ...], "matrix": [[r, ...], ...]} in
 * gp_quantity_name() order (the FITS tables' vector column corr, 9 x 9). */
static inline void gp_json_corr(FILE *f, const gp_summary *s, const char *indent)
{
    fprintf(f, "\"corr\": {\"order\": [");
    for (int q = 0; q < GP_NQ; q++) {
        if (q) fputs(", ", f);
        gp_json_str(f, gp_quantity_name(q));
    }
    fprintf(f, "], \"matrix\": [");
    for (int a = 0; a < GP_NQ; a++) {
        fprintf(f, "%s%s[", a ? "," : "", indent);
        for (int b = 0; b < GP_NQ; b++) {
            if (b) fputs(", ", f);
            if (isfinite(s->corr[a][b])) fprintf(f, "%.4f", s->corr[a][b]);
            else fputs("null", f);
        }
        fputc(']', f);
    }
    fprintf(f, "]}");
}

#endif
