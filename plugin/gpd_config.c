/*
 * gpd_config.c: galpostd settings.  One table of keys serves the
 * configuration file, the command line (--KEY VALUE) and
 * `xpaset -p galpost set KEY VALUE`.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gpd.h"

const char *const gpd_config_keys[] = {
    "model", "backend", "threads", "samples", "seed", "catalog", "match_radius",
    "aperture", "ds9", "name", "log", "log_level", "pidfile", "overlay", "plot", "show_errors",
    "max_queue", "max_galaxies", "timeout", "zeropoint", NULL
};

void gpd_config_defaults(gpd_config *c)
{
    memset(c, 0, sizeof *c);
    c->backend = GP_BACKEND_AUTO;
    c->threads = 0;
    c->samples = 1000;
    c->seed = 1;
    c->match_radius = 2.0;
    c->aperture = 6.0;
    snprintf(c->ds9, sizeof c->ds9, "ds9");
    snprintf(c->name, sizeof c->name, "galpost");
    c->log_level = GPD_LOG_INFO;
    c->overlay = 1;
    c->plot = 1;
    c->show_errors = 1;
    c->max_queue = 16;
    c->max_galaxies = 64;
    c->timeout = 10;
    for (int b = 0; b < GP_NBANDS; b++) c->zeropoint[b] = NAN;   /* "header" */
}

int gpd_config_key_reloads(const char *key)
{
    return !strcmp(key, "model") || !strcmp(key, "backend") || !strcmp(key, "threads") ||
           !strcmp(key, "catalog");
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int parse_num(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !isfinite(v) || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int parse_bool(const char *s, int *out)
{
    if (!strcasecmp(s, "yes") || !strcasecmp(s, "true") || !strcmp(s, "1") || !strcasecmp(s, "on")) { *out = 1; return 0; }
    if (!strcasecmp(s, "no") || !strcasecmp(s, "false") || !strcmp(s, "0") || !strcasecmp(s, "off")) { *out = 0; return 0; }
    return -1;
}

static int set_str(char *dst, size_t n, const char *key, const char *v, char *msg, size_t msglen)
{
    if (strlen(v) >= n) {
        snprintf(msg, msglen, "%s: value longer than %zu characters", key, n - 1);
        return -1;
    }
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

int gpd_config_set(gpd_config *c, const char *key, const char *v, char *msg, size_t msglen)
{
    long l;
    double d;
    int b;
    if (!key || !v) { snprintf(msg, msglen, "set: KEY and VALUE needed"); return -1; }
    if (!strcmp(key, "model")) return set_str(c->model, sizeof c->model, key, !strcmp(v, "default") ? "" : v, msg, msglen);
    if (!strcmp(key, "catalog") || !strcmp(key, "catalogue"))
        return set_str(c->catalog, sizeof c->catalog, "catalog", !strcmp(v, "none") ? "" : v, msg, msglen);
    if (!strcmp(key, "ds9")) {
        if (!*v) { snprintf(msg, msglen, "ds9: an XPA target (DS9 title or method) is needed"); return -1; }
        return set_str(c->ds9, sizeof c->ds9, key, v, msg, msglen);
    }
    if (!strcmp(key, "name")) {
        for (const char *p = v; *p; p++)
            if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-') {
                snprintf(msg, msglen, "name: '%s' is not a valid XPA name (letters, digits, '_', '-')", v);
                return -1;
            }
        if (!*v) { snprintf(msg, msglen, "name: empty"); return -1; }
        return set_str(c->name, sizeof c->name, key, v, msg, msglen);
    }
    if (!strcmp(key, "log")) return set_str(c->log, sizeof c->log, key, !strcmp(v, "stderr") ? "" : v, msg, msglen);
    if (!strcmp(key, "pidfile")) return set_str(c->pidfile, sizeof c->pidfile, key, !strcmp(v, "none") ? "" : v, msg, msglen);
    if (!strcmp(key, "backend")) {
        if (!strcmp(v, "auto")) c->backend = GP_BACKEND_AUTO;
        else if (!strcmp(v, "cpu")) c->backend = GP_BACKEND_CPU;
        else if (!strcmp(v, "cuda")) c->backend = GP_BACKEND_CUDA;
        else { snprintf(msg, msglen, "backend: '%s' is not auto, cpu or cuda", v); return -1; }
        return 0;
    }
    if (!strcmp(key, "log_level")) {
        int lv = gpd_log_level_parse(v);
        if (lv < 0) { snprintf(msg, msglen, "log_level: '%s' is not error, warn, info or debug", v); return -1; }
        c->log_level = lv;
        return 0;
    }
    if (!strcmp(key, "overlay") || !strcmp(key, "plot") || !strcmp(key, "show_errors")) {
        if (parse_bool(v, &b)) { snprintf(msg, msglen, "%s: '%s' is not yes or no", key, v); return -1; }
        if (!strcmp(key, "overlay")) c->overlay = b;
        else if (!strcmp(key, "plot")) c->plot = b;
        else c->show_errors = b;
        return 0;
    }
    struct { const char *k; long lo, hi; int *dst; } ints[] = {
        { "threads", 0, 256, &c->threads }, { "samples", 2, 100000, &c->samples },
        { "max_queue", 1, 1024, &c->max_queue }, { "max_galaxies", 1, 10000, &c->max_galaxies },
        { "timeout", 1, 3600, &c->timeout },
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (!strcmp(key, ints[i].k)) {
            if (parse_long(v, ints[i].lo, ints[i].hi, &l)) {
                snprintf(msg, msglen, "%s: '%s' is not an integer in %ld..%ld", key, v, ints[i].lo, ints[i].hi);
                return -1;
            }
            *ints[i].dst = (int)l;
            return 0;
        }
    if (!strcmp(key, "seed")) {
        char *end;
        errno = 0;
        unsigned long long s = strtoull(v, &end, 10);
        if (!*v || *end || errno || *v == '-') { snprintf(msg, msglen, "seed: '%s' is not a non-negative integer", v); return -1; }
        c->seed = s;
        return 0;
    }
    if (!strcmp(key, "zeropoint")) {
        /* "header", one AB magnitude, or band=ZP pairs (gp_image.h) */
        double zp[GP_NBANDS];
        gp_error e;
        if (gp_zeropoint_parse(v, zp, &e)) { snprintf(msg, msglen, "%s", e.msg); return -1; }
        memcpy(c->zeropoint, zp, sizeof zp);
        return 0;
    }
    if (!strcmp(key, "match_radius") || !strcmp(key, "aperture")) {
        if (parse_num(v, 0.1, 60.0, &d)) { snprintf(msg, msglen, "%s: '%s' is not a radius in arcsec between 0.1 and 60", key, v); return -1; }
        if (!strcmp(key, "aperture")) c->aperture = d; else c->match_radius = d;
        return 0;
    }
    snprintf(msg, msglen, "unknown setting '%s' (known: model, backend, threads, samples, seed, catalog, "
             "match_radius, aperture, ds9, name, log, log_level, pidfile, overlay, plot, show_errors, max_queue, "
             "max_galaxies, timeout, zeropoint)", key);
    return -1;
}

int gpd_config_get(const gpd_config *c, const char *key, char *out, size_t n)
{
    static const char *const backends[] = { "auto", "cpu", "cuda" };
    if (!strcmp(key, "model")) snprintf(out, n, "%s", c->model[0] ? c->model : "default");
    else if (!strcmp(key, "backend")) snprintf(out, n, "%s", backends[c->backend]);
    else if (!strcmp(key, "threads")) snprintf(out, n, "%d", c->threads);
    else if (!strcmp(key, "samples")) snprintf(out, n, "%d", c->samples);
    else if (!strcmp(key, "seed")) snprintf(out, n, "%llu", (unsigned long long)c->seed);
    else if (!strcmp(key, "catalog")) snprintf(out, n, "%s", c->catalog[0] ? c->catalog : "none");
    else if (!strcmp(key, "match_radius")) snprintf(out, n, "%g", c->match_radius);
    else if (!strcmp(key, "aperture")) snprintf(out, n, "%g", c->aperture);
    else if (!strcmp(key, "ds9")) snprintf(out, n, "%s", c->ds9);
    else if (!strcmp(key, "name")) snprintf(out, n, "%s", c->name);
    else if (!strcmp(key, "log")) snprintf(out, n, "%s", c->log[0] ? c->log : "stderr");
    else if (!strcmp(key, "log_level")) snprintf(out, n, "%s", gpd_log_level_name(c->log_level));
    else if (!strcmp(key, "pidfile")) snprintf(out, n, "%s", c->pidfile[0] ? c->pidfile : "none");
    else if (!strcmp(key, "overlay")) snprintf(out, n, "%s", c->overlay ? "yes" : "no");
    else if (!strcmp(key, "plot")) snprintf(out, n, "%s", c->plot ? "yes" : "no");
    else if (!strcmp(key, "show_errors")) snprintf(out, n, "%s", c->show_errors ? "yes" : "no");
    else if (!strcmp(key, "max_queue")) snprintf(out, n, "%d", c->max_queue);
    else if (!strcmp(key, "max_galaxies")) snprintf(out, n, "%d", c->max_galaxies);
    else if (!strcmp(key, "timeout")) snprintf(out, n, "%d", c->timeout);
    else if (!strcmp(key, "zeropoint")) gp_zeropoint_format(c->zeropoint, out, n);
    else return -1;
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = '\0';
    return s;
}

int gpd_config_load(gpd_config *c, const char *path, char *msg, size_t msglen)
{
    FILE *f = fopen(path, "r");
    if (!f) { snprintf(msg, msglen, "%s: cannot open: %s", path, strerror(errno)); return -1; }
    char line[8192];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            snprintf(msg, msglen, "%s:%d: line too long", path, lineno);
            rc = -1;
            break;
        }
        char *hash = strchr(line, '#');
        if (hash) *hash = '\0';
        char *s = trim(line);
        if (!*s) continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(msg, msglen, "%s:%d: expected 'key = value', found '%s'", path, lineno, s);
            rc = -1;
            break;
        }
        *eq = '\0';
        char *k = trim(s), *v = trim(eq + 1), m[768];
        if (gpd_config_set(c, k, v, m, sizeof m)) {
            snprintf(msg, msglen, "%s:%d: %s", path, lineno, m);
            rc = -1;
            break;
        }
    }
    fclose(f);
    return rc;
}
