/*
 * cli_positions.h: a list of galaxy positions, read for `galpost infer
 * --frames LIST --positions FILE -o OUT.fits`.
 *
 * The list is a CSV table (the reader of gp_csv.h: a header line of column
 * names, '#' comments, blank lines skipped) with columns ra and dec (ICRS,
 * decimal degrees or sexagesimal h:m:s / d:m:s as --ra and --dec take them,
 * gp_angle_parse()) and an optional objID column (an unsigned 64-bit
 * integer).  Other columns are ignored: a catalogue of magnitudes, a DS9 or
 * SExtractor list exported as CSV with those names.  A row that cannot be
 * read (a cell that is not an angle, an angle out of range, an objID that
 * is not one, the wrong number of fields) does not fail the list: it is
 * kept with the reason, for the batch to write as a failed row.
 */
#ifndef GALPOST_CLI_POSITIONS_H
#define GALPOST_CLI_POSITIONS_H
#include <stddef.h>
#include <stdint.h>

#include "galpost/gp_error.h"

typedef struct gp_cli_position {
    double   ra, dec;   /* degrees; NaN when that cell could not be read */
    uint64_t objid;     /* the objID cell, 0 when none, empty, 0 or
                           unreadable */
    long     line;      /* the row's line in the file, from 1 */
    char    *why;       /* NULL, or why the row cannot be used (no file or
                           row in it: gp_cli_positions_where() says those) */
} gp_cli_position;

typedef struct gp_cli_positions {
    const char      *path;       /* as given (not owned) */
    long             n;          /* data rows */
    int              has_objid;  /* the header has an objID column */
    gp_cli_position *row;
} gp_cli_positions;

/*
 * gp_cli_positions_read() - read the list at `path`.
 * Returned:
 *   out       the list (gp_cli_positions_free() it)
 * Function return value: GP_OK; GP_ERR_IO (cannot open or read);
 * GP_ERR_FORMAT (no header line, as gp_csv_open() says); GP_ERR_NOTFOUND
 * (no ra or dec column: the message names the file, the column and the
 * header's line); GP_ERR_NOMEM.
 */
int gp_cli_positions_read(const char *path, gp_cli_positions **out, gp_error *err);

void gp_cli_positions_free(gp_cli_positions *p);

/* Where row r (0-based) is, as messages say it: "PATH: row N (line L)",
 * N counted from 1. */
void gp_cli_positions_where(const gp_cli_positions *p, long r, char *buf, size_t size);

#endif
