/*
 * gp_csv.c: the comma-separated table reader shared by catalogues and
 * training tables (gp_csv.h).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "gp_csv.h"

/* Split a line in place on commas; trims blanks and quotes.  Returns the
 * number of fields, of which the first `max` are stored. */
static int csv_split(char *line, char **fields, int max)
{
    int n = 0;
    char *p = line;
    for (;;) {
        char *q = strchr(p, ',');
        if (q) *q = '\0';
        while (isspace((unsigned char)*p) || *p == '"' || *p == '\'') p++;
        char *e = p + strlen(p);
        while (e > p && (isspace((unsigned char)e[-1]) || e[-1] == '"' || e[-1] == '\'')) *--e = '\0';
        if (n < max) fields[n] = p;
        n++;
        if (!q) break;
        p = q + 1;
    }
    return n;
}

/* The next line without its end-of-line characters and leading blanks:
 * 1 with *p set, 0 at the end, -1 on a read error. */
static int next_line(gp_csv *c, char **p)
{
    ssize_t len = getline(&c->line, &c->cap, c->in);
    if (len < 0) return ferror(c->in) ? -1 : 0;
    c->lineno++;
    while (len > 0 && (c->line[len - 1] == '\n' || c->line[len - 1] == '\r')) c->line[--len] = '\0';
    char *s = c->line;
    while (isspace((unsigned char)*s)) s++;
    *p = s;
    return 1;
}

/* Does comma-separated `s` (not modified) have a field named `name`? */
static int has_field(const char *s, const char *name, gp_csv *c)
{
    char *copy = strdup(s);
    if (!copy) return 1;   /* take it as the header; its own allocation will fail and say so */
    int n = csv_split(copy, c->field, GP_CSV_MAX_FIELDS), found = 0;
    for (int i = 0; i < n && i < GP_CSV_MAX_FIELDS && !found; i++) found = !strcasecmp(c->field[i], name);
    free(copy);
    return found;
}

int gp_csv_open(gp_csv *c, const char *path, FILE *in, const char *needs, const char *example, gp_error *err)
{
    memset(c, 0, sizeof *c);
    c->path = path;
    c->in = in;
    c->field = malloc(sizeof(char *) * GP_CSV_MAX_FIELDS);
    c->names = malloc(sizeof(char *) * GP_CSV_MAX_FIELDS);
    if (!c->field || !c->names) return GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory", path);
    long first_line = 0;     /* the first non-empty line, to say why no header was found */
    char first_delim = 0;    /* a delimiter other than ',' seen on it */
    char *p;
    int r;
    while ((r = next_line(c, &p)) > 0) {
        if (!*p) continue;
        int hash = *p == '#';
        if (hash) p++;
        if (!first_line) {
            first_line = c->lineno;
            first_delim = strchr(p, ';') ? ';' : strchr(p, '\t') ? '\t' : strchr(p, '|') ? '|' : 0;
        }
        if (!strchr(p, ',')) continue;   /* "#Table1" and other preambles */
        if (hash && needs && !has_field(p, needs, c)) continue;   /* "# a comment, with commas" */
        c->hdr = strdup(p);
        if (!c->hdr) return GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory", path);
        c->hdrline = c->lineno;
        c->nnames = csv_split(c->hdr, c->names, GP_CSV_MAX_FIELDS);
        if (c->nnames > GP_CSV_MAX_FIELDS)
            return GP_FAIL(err, GP_ERR_FORMAT, "%s: line %ld: more than %d columns", path, c->lineno, GP_CSV_MAX_FIELDS);
        return GP_OK;
    }
    if (r < 0) return GP_FAIL(err, GP_ERR_IO, "%s: read error at line %ld: %s", path, c->lineno + 1, strerror(errno));
    if (first_delim)
        return GP_FAIL(err, GP_ERR_FORMAT, "%s: no comma-separated header line: line %ld looks %s-delimited, and galpost reads "
                       "comma-separated files (CSV) only", path, first_line, first_delim == ';' ? "';'" :
                       first_delim == '|' ? "'|'" : "tab");
    if (first_line)
        return GP_FAIL(err, GP_ERR_FORMAT, "%s: no comma-separated header line with column names (%s)", path,
                       example ? example : "...");
    return GP_FAIL(err, GP_ERR_FORMAT, "%s: empty: no header line with column names", path);
}

int gp_csv_next(gp_csv *c, int *got, gp_error *err)
{
    char *p;
    int r;
    *got = 0;
    while ((r = next_line(c, &p)) > 0) {
        if (!*p || *p == '#') continue;
        c->nfield = csv_split(p, c->field, GP_CSV_MAX_FIELDS);
        *got = 1;
        return GP_OK;
    }
    if (r < 0) return GP_FAIL(err, GP_ERR_IO, "%s: read error at line %ld: %s", c->path, c->lineno + 1, strerror(errno));
    return GP_OK;
}

int gp_csv_col(const gp_csv *c, const char *name)
{
    int n = c->nnames < GP_CSV_MAX_FIELDS ? c->nnames : GP_CSV_MAX_FIELDS;
    for (int i = 0; i < n; i++)
        if (!strcasecmp(c->names[i], name)) return i;
    return -1;
}

int gp_csv_number(const char *s, double *v)
{
    if (!*s) { *v = NAN; return 0; }
    char *end = NULL;
    *v = strtod(s, &end);
    if (end == s || *end) { *v = NAN; return -1; }
    return 0;
}

void gp_csv_close(gp_csv *c)
{
    if (!c) return;
    free(c->line);
    free(c->hdr);
    free(c->field);
    free(c->names);
    c->line = c->hdr = NULL;
    c->field = c->names = NULL;
}
