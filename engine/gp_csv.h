/*
 * gp_csv.h: the one reader of comma-separated tables (internal), shared by
 * the photometric catalogue (gp_catalog.c: galpost infer --catalog,
 * galpostd --catalog) and the training table (gp_dataset.c: galpost train
 * --photometry, galpost eval of a photometry-only model).
 *
 * A table is a header line of column names, then one line per row, as
 * CasJobs and SkyServer write them:
 *   - blank lines are skipped anywhere;
 *   - before the header, a line without a comma is a preamble ("#Table1")
 *     and skipped; the header may itself begin with '#' ("#objID,ra,...");
 *   - after the header, a line beginning with '#' is a comment;
 *   - fields are split on commas; blanks, double and single quotes around
 *     each field are removed (a quoted comma is not supported: SDSS tables
 *     have none);
 *   - column names are matched case-insensitively (CasJobs writes objID,
 *     SkyServer objid).
 * The caller interprets the fields; gp_csv_number() is the number rule.
 */
#ifndef GALPOST_GP_CSV_H
#define GALPOST_GP_CSV_H

#include <stdio.h>

#include "galpost/gp_error.h"

/* A header or row with more fields than this is read up to this many
 * (nfield still counts them all; the header is refused). */
#define GP_CSV_MAX_FIELDS 1024

typedef struct gp_csv {
    const char *path;      /* for messages (not owned) */
    FILE   *in;            /* not owned */
    char   *line;          /* the current line (getline buffer) */
    size_t  cap;
    long    lineno;        /* line of the current row (or header), from 1 */
    char   *hdr;           /* the header line, split in place */
    char  **names;         /* its column names */
    int     nnames;
    long    hdrline;       /* its line, from 1 */
    char  **field;         /* the current row's fields (GP_CSV_MAX_FIELDS slots) */
    int     nfield;        /* how many it has */
} gp_csv;

/*
 * gp_csv_open() - read up to and including the header line of `in`.
 * Given:
 *   path      const char*  the file's name, for messages
 *   in        FILE*        open for reading, at the start
 *   needs     const char*  NULL, or a column name: a '#' line before the
 *                          header is then the header only if it has a column
 *                          of that name (otherwise a comment, which may hold
 *                          commas); NULL takes the first line with a comma
 *   example   const char*  column names for the message when there is no
 *                          header ("ra, dec, modelMag_u, ...")
 * Returned:
 *   c         gp_csv*      names, nnames, hdrline set; gp_csv_close() it,
 *                          also after a failure
 * Function return value: GP_OK; GP_ERR_FORMAT (no header line, naming the
 * delimiter when the first line looks ';', tab or '|'-delimited; an empty
 * file; more than GP_CSV_MAX_FIELDS columns); GP_ERR_NOMEM; GP_ERR_IO.
 */
int gp_csv_open(gp_csv *c, const char *path, FILE *in, const char *needs, const char *example,
                gp_error *err);

/*
 * gp_csv_next() - the next row: *got = 1 with field, nfield and lineno set,
 * 0 at the end of the file.  The fields stay valid until the next call.
 * Function return value: GP_OK; GP_ERR_IO (a read error).
 */
int gp_csv_next(gp_csv *c, int *got, gp_error *err);

/* The index of column `name` in the header (case-insensitive), -1 if none. */
int gp_csv_col(const gp_csv *c, const char *name);

/*
 * gp_csv_number() - a field as a number: *v = the value (strtod: "NaN",
 * "-9999", "1e-3"), NaN for an empty field.  Returns 0, or -1 when the
 * field is not a number ("abc", "12x"), *v then NaN.
 */
int gp_csv_number(const char *s, double *v);

/* Free what gp_csv_open() allocated (not the FILE). */
void gp_csv_close(gp_csv *c);

#endif
