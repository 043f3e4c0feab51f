/*
 * cli_positions.h: a list of galaxy positions, read for `galpost infer
 * --frames LIST --positions FILE -o OUT.fits`.  The list is one of three
 * kinds of file, told apart by content (not by name):
 *
 *   - a FITS table (the file begins with SIMPLE, or is gzip-compressed, as
 *     cfitsio reads it): the first table HDU, or the HDU and rows that a
 *     cfitsio extended file name selects ("cat.fits[2]",
 *     "cat.fits[GALS][r < 17.77]"), with
 *     columns ra and dec (or RAJ2000, DEJ2000 / DECJ2000, RA_ICRS, DE_ICRS /
 *     DEC_ICRS; names case-insensitive) in degrees (TUNIT empty, deg,
 *     degree or degrees), or
 *     strings read as the CSV's cells are ("15:18:06.18", "15 18 06.18"),
 *     and an optional objID column (64-bit integers or decimal strings), as
 *     TOPCAT and CasJobs write them;
 *   - a DS9 region file (the "# Region file format: DS9" comment, or a
 *     first line that is a coordinate system, "global" or a region): one
 *     row per region, in order, at its centre: circle, ellipse, box,
 *     annulus, point and the panda regions, in fk5, icrs or j2000 (DS9's
 *     degrees, h:m:s d:m:s, or 15h18m06.18s 42d44m41s), in galactic
 *     coordinates (degrees or d:m:s) rotated to FK5 J2000 by wcslib's
 *     sphx2s(), or in fk4/b1950 turned into FK5 J2000 at epoch B1950 (the
 *     E-terms and the B1950 -> J2000 rotation); a region whose
 *     text={...} is an object ID has that ID; a sexagesimal centre with no
 *     system named, or a pixel system in force, is fk5 (as DS9 reads it);
 *     "global" and "tile" statements end at ';'.  A region that cannot be
 *     used is a row that cannot be read (below): an excluded one ("-circle"),
 *     a "# background" one (sky for DS9's photometry), one after a word that
 *     is no system (the word itself has no row),
 *     one in pixels (image, physical, ...) or in a sky system that is not
 *     converted (wcs, ecliptic: DS9 writes it for the
 *     equinox of an image's DATE-OBS, which the file does not name), a
 *     shape without one
 *     centre (polygon, line, ...).  Lines DS9 writes as comments ("# text",
 *     "# vector", "# composite") are comments;
 *   - otherwise a CSV table (the reader of gp_csv.h: a header line of
 *     column names, '#' comments, blank lines skipped) with columns ra and
 *     dec (ICRS, decimal degrees or sexagesimal h:m:s / d:m:s as --ra and
 *     --dec take them, gp_angle_parse()) and an optional objID column (an
 *     unsigned 64-bit integer).  Other columns are ignored: a catalogue of
 *     magnitudes, a SExtractor list exported as CSV with those names.
 *
 * FK5 (J2000) positions are taken as ICRS: the two differ by less than
 * 0.03 arcsec, a tenth of an SDSS pixel.  A row that cannot be read (a cell
 * that is not an angle, an angle out of range, an objID that is not one,
 * the wrong number of fields, a region as above) does not fail the list: it
 * is kept with the reason, for the batch to write as a failed row.
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
    long     line;      /* the row's line in the file, from 1; 0 in a FITS
                           table */
    char    *why;       /* NULL, or why the row cannot be used (no file or
                           row in it: gp_cli_positions_where() says those) */
} gp_cli_position;

typedef enum gp_cli_positions_format {
    GP_CLI_POSITIONS_CSV = 0,
    GP_CLI_POSITIONS_DS9,        /* a DS9 region file */
    GP_CLI_POSITIONS_FITS        /* a FITS table */
} gp_cli_positions_format;

typedef struct gp_cli_positions {
    const char      *path;       /* the list as given (not owned) */
    const char      *name;       /* the list as messages name it: path, or
                                    "standard input" (not owned) */
    char            *file;       /* the file read (owned): path, or for a
                                    cfitsio extended name ("cat.fits[2]",
                                    "cat.fits[GALS][r < 17.77]": no file has
                                    that name, it ends with ']') the part
                                    before the first '[' */
    const char      *select;     /* that name's [...] (in path), else NULL */
    gp_cli_positions_format format;
    long             n;          /* data rows */
    int              has_objid;  /* the table has an objID column; a region
                                    file, a region has an ID as its text */
    gp_cli_position *row;
} gp_cli_positions;

/*
 * gp_cli_positions_read() - read the list at `path`.
 * Returned:
 *   out       the list (gp_cli_positions_free() it)
 * Function return value: GP_OK; GP_ERR_IO (cannot open or read);
 * GP_ERR_FORMAT (a CSV without a header line, as gp_csv_open() says; a FITS
 * ra or dec column in other units than degrees, or of several values a
 * row; a floating-point objID column); GP_ERR_NOTFOUND (no ra or dec
 * column: the message names the file, the column and, for a CSV, the
 * header's line; for a FITS table, the HDU and the columns it has);
 * GP_ERR_FITS (a FITS file cfitsio cannot read, or without a table; a gzip
 * file that is no FITS table says so); GP_ERR_DATA (no row at all: a region
 * file of settings only, an empty table); GP_ERR_NOMEM.  A region file has
 * no other errors: its problems are rows'.
 */
int gp_cli_positions_read(const char *path, gp_cli_positions **out, gp_error *err);

/*
 * gp_cli_positions_read_as() - gp_cli_positions_read() of the file at
 * `path`, with every message (and gp_cli_positions_where()) naming the
 * list `name` instead: a copy of standard input read as "standard input".
 * Given:
 *   name      the list's name for messages; NULL: path
 * Otherwise as gp_cli_positions_read().
 */
int gp_cli_positions_read_as(const char *path, const char *name, gp_cli_positions **out, gp_error *err);

void gp_cli_positions_free(gp_cli_positions *p);

/* Where row r (0-based) is, as messages say it: "PATH: row N (line L)",
 * N counted from 1 (a FITS table's: "PATH: row N"). */
void gp_cli_positions_where(const gp_cli_positions *p, long r, char *buf, size_t size);

#endif
