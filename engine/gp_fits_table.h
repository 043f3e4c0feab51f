/*
 * gp_fits_table.h: reading the columns of a FITS table that more than one
 * reader needs (internal, not installed): the photometric catalogue
 * (gp_catalog.c) and the list of positions of galpost infer --positions
 * (cli/cli_positions_fits.c).
 */
#ifndef GALPOST_GP_FITS_TABLE_H
#define GALPOST_GP_FITS_TABLE_H

#include <stdint.h>

#include <fitsio.h>

#include "galpost/gp_error.h"

/*
 * gp_fits_table_col() - the number of the column named `name` in the
 * current table HDU of fp, matched exactly but case-insensitively (cfitsio's
 * wildcards '*', '?' and '#' in `name` would match others: give none).
 * When several columns carry the name in different cases, the first.
 * Function return value: the column number (from 1), or 0 when there is no
 * such column.  cfitsio's error stack is left clear.
 */
int gp_fits_table_col(fitsfile *fp, const char *name);

/*
 * gp_fits_table_objid() - read rows 1..n of an object-ID column: 64-bit
 * integers (CasJobs' bigint, kept bit for bit; an unsigned column with
 * TZERO = 2^63 as astropy writes uint64, exactly) or decimal strings
 * (photoObj files write OBJID as 19 characters, read by gp_parse_objid()).
 * Given:
 *   fp        fitsfile*      at the table HDU
 *   path      const char*    the file's name, for messages
 *   col       int            the column (gp_fits_table_col())
 *   n         long           rows to read
 * Returned:
 *   id        uint64_t*      n IDs; 0 for a null or empty cell
 *   bad       unsigned char* NULL, or n flags: 1 where a string cell is not
 *                            an object ID (its id 0) instead of failing
 * Function return value: GP_OK; GP_ERR_FORMAT (a floating-point column,
 * which cannot hold 64-bit IDs exactly; without `bad`, a string cell that
 * is not an ID: the message names the row and the text); GP_ERR_FITS;
 * GP_ERR_NOMEM.  Messages begin with `path`.
 */
int gp_fits_table_objid(fitsfile *fp, const char *path, int col, long n, uint64_t *id, unsigned char *bad,
                        gp_error *err);

/*
 * gp_fits_table_angle_text() - a text cell holding an angle, as
 * gp_angle_parse() reads angles: trimmed, and the parts of a sexagesimal
 * angle written with blanks (VizieR's "15 18 06.18") joined by colons.
 * Given:
 *   cell      const char*    the cell's text
 *   size      size_t         out's size (the text is cut to fit)
 * Returned:
 *   out       char*          the angle's text
 */
void gp_fits_table_angle_text(const char *cell, char *out, size_t size);

#endif
