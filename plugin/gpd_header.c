/*
 * gpd_header.c: is the file DS9 loaded still what DS9 shows?
 *
 * galpostd reads a frame's pixels from the file DS9 names (`xpaget ds9
 * file`).  If that file was overwritten or deleted after DS9 loaded it,
 * the pixels on disk are not the ones the user looks at.  DS9's header of
 * the frame (`xpaget ds9 fits header`: the HDU's cards as stored, one per
 * line, END last) is compared with the file's HDU header card by card
 * (trailing blanks and blank cards ignored, nothing else: a new DATE-OBS,
 * RUN, CRVAL or DATASUM is a difference).  A file rewritten with new
 * pixels under an identical header cannot be told apart this way.
 *
 * DS9 8.4.1, seen by experiment: `fits header` is the HDU's cards exactly
 * as stored (80 characters each, blanks kept), the same for .fits, .gz
 * and .bz2 files; for an empty primary `file` answers "f.fits[1]" and the
 * header is the extension's alone; a tile-compressed image shows its
 * BINTABLE header (hence gp_frame_header's raw records); an RGB frame
 * answers for the current channel.
 *
 * Where the comparison runs was chosen by measurement (galpostd(1)):
 * reading a plain FITS file's header costs 0.1-0.7 ms, so the main thread
 * compares at gather time and, on a difference or a missing file, fetches
 * the frame's FITS from DS9 instead (`xpaget ds9 fits`).  cfitsio must
 * decompress a whole .gz (75 ms) or .bz2 file (530-660 ms for an SDSS
 * frame) to reach its header, which would stall the main loop (and so
 * every XPA client) on each request; those are compared by the worker on
 * the file it opens (and caches) anyway, at no extra cost, and a
 * difference fails the galaxies that need that frame, saying to reload it.
 * A file found the same is not compared again while its identity on disk
 * is unchanged (gpd_verified.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gpd_daemon.h"

typedef struct card { const char *p; int len; } card;

/* Split a header into cards: '\n'-separated lines (DS9) or 80-character
 * records (fixed80, cfitsio); trailing blanks trimmed, blank cards
 * skipped, END ends it.  Returns the count (0 when out of memory). */
static int split_cards(const char *s, size_t len, int fixed80, card **out)
{
    size_t cap = len / (fixed80 ? 80 : 1) + 2;
    if (!fixed80) {
        cap = 2;
        for (size_t i = 0; i < len; i++) cap += s[i] == '\n';
    }
    card *c = malloc(cap * sizeof *c);
    *out = c;
    if (!c) return 0;
    int n = 0;
    size_t i = 0;
    while (i < len && (size_t)n < cap) {
        size_t l;
        if (fixed80) l = len - i < 80 ? len - i : 80;
        else {
            const char *nl = memchr(s + i, '\n', len - i);
            l = nl ? (size_t)(nl - (s + i)) : len - i;
        }
        const char *p = s + i;
        i += l + (fixed80 ? 0 : 1);
        if (l > 80) l = 80;
        while (l && (p[l - 1] == ' ' || p[l - 1] == '\r' || p[l - 1] == '\0')) l--;
        if (!l) continue;
        if (l == 3 && !memcmp(p, "END", 3)) break;
        c[n].p = p;
        c[n].len = (int)l;
        n++;
    }
    return n;
}

static void keyword(const card *c, char *k, size_t n)
{
    int l = c->len < 8 ? c->len : 8;
    while (l && c->p[l - 1] == ' ') l--;
    snprintf(k, n, "%.*s", l, c->p);
}

/* "KEY = value" of a card, comment dropped, cut to a readable length. */
static void show(const card *c, int with_key, char *buf, size_t n)
{
    char k[16];
    keyword(c, k, sizeof k);
    const char *v = c->p + (c->len > 8 ? 8 : c->len);
    int vl = c->len > 8 ? c->len - 8 : 0;
    const char *eq = vl >= 2 && v[0] == '=' && v[1] == ' ' ? "= " : "";
    if (eq[0]) {
        v += 2;
        vl -= 2;
        /* the value ends at a '/' outside quotes */
        int q = 0, e = 0;
        for (; e < vl; e++) {
            if (v[e] == '\'') q = !q;
            else if (v[e] == '/' && !q) break;
        }
        vl = e;
    }
    while (vl && v[0] == ' ') { v++; vl--; }
    while (vl && v[vl - 1] == ' ') vl--;
    if (!with_key) k[0] = '\0', eq = "";
    if (vl > 60) snprintf(buf, n, "%s%s%s%.57s...", k, k[0] ? " " : "", eq, v);
    else snprintf(buf, n, "%s%s%s%.*s", k, k[0] ? " " : "", eq, vl, v);
}

static int find_key(const card *c, int n, const char *k)
{
    char kk[16];
    for (int i = 0; i < n; i++) {
        keyword(&c[i], kk, sizeof kk);
        if (!strcmp(kk, k)) return i;
    }
    return -1;
}

int gpd_header_differs(const char *ds9, const char *cards, int ncards, char *why, size_t n)
{
    card *a = NULL, *b = NULL;
    int na = split_cards(cards, (size_t)ncards * 80, 1, &a);
    int nb = split_cards(ds9, strlen(ds9), 0, &b);
    int diff = 0;
    if (!a || !b) {
        snprintf(why, n, "out of memory comparing headers");
        diff = -1;
        goto out;
    }
    int i = 0;
    while (i < na && i < nb && a[i].len == b[i].len && !memcmp(a[i].p, b[i].p, (size_t)a[i].len)) i++;
    if (i == na && i == nb) goto out;
    diff = 1;
    char ka[16] = "", kb[16] = "", sa[128], sb[128];
    if (i < na) { keyword(&a[i], ka, sizeof ka); show(&a[i], 1, sa, sizeof sa); }
    if (i < nb) keyword(&b[i], kb, sizeof kb);
    /* the same keyword: "KEY = new in the file, old in DS9" */
    if (i < nb) show(&b[i], !(i < na && !strcmp(ka, kb)), sb, sizeof sb);
    if (i < na && i < nb && !strcmp(ka, kb))
        snprintf(why, n, "%s in the file, %s in DS9", sa, sb);
    else if (i < na && find_key(b, nb, ka) < 0)
        snprintf(why, n, "%s in the file, no %s in DS9", sa, ka);
    else if (i < nb && find_key(a, na, kb) < 0)
        snprintf(why, n, "%s in DS9, no %s in the file", sb, kb);
    else if (i < na && i < nb)
        snprintf(why, n, "header card %d is %s in the file, %s in DS9", i + 1, sa, sb);
    else
        snprintf(why, n, "the file's header has %d cards, DS9's %d", na, nb);
out:
    free(a);
    free(b);
    return diff;
}

/* stat() the file part of a cfitsio name ("f.fits[1]" -> "f.fits"). */
static void file_part(const char *path, char *p, size_t n)
{
    snprintf(p, n, "%s", path);
    char *br = strchr(p, '[');
    if (br && br != p) *br = '\0';
}

int gpd_header_check_file(const char *path, const char *ds9, char *why, size_t n)
{
    char p[GPD_PATH_MAX];
    struct stat st;
    file_part(path, p, sizeof p);
    if (stat(p, &st) != 0) {
        snprintf(why, n, "%s", strerror(errno));
        return GPD_FILE_GONE;
    }
    /* compressed (gzip, bzip2, ...): not here, see the top of this file */
    FILE *f = fopen(p, "rb");
    char magic[10] = "";
    size_t got = f ? fread(magic, 1, 9, f) : 0;
    if (f) fclose(f);
    if (got != 9 || memcmp(magic, "SIMPLE  =", 9)) return GPD_FILE_UNCHECKED;
    gp_frame *fr = NULL;
    gp_error err;
    char *cards = NULL;
    int ncards = 0;
    if (gp_frame_open_file(path, &fr, &err)) return GPD_FILE_UNCHECKED;   /* the worker says why */
    int rc = gp_frame_header(fr, &cards, &ncards, &err);
    gp_frame_close(fr);
    if (rc) return GPD_FILE_UNCHECKED;
    int d = gpd_header_differs(ds9, cards, ncards, why, n);
    free(cards);
    return d > 0 ? GPD_FILE_CHANGED : d < 0 ? GPD_FILE_UNCHECKED : GPD_FILE_SAME;
}
