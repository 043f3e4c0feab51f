/*
 * cli_positions_read.h: what the three readers of a --positions list
 * share (internal to cli_positions*.c): the CSV table and the format
 * detection (cli_positions.c), DS9 region files (cli_positions_ds9.c) and
 * FITS tables (cli_positions_fits.c).
 */
#ifndef GALPOST_CLI_POSITIONS_READ_H
#define GALPOST_CLI_POSITIONS_READ_H
#include <stdio.h>

#include "cli/cli_positions.h"

/* A new row at the end of p (the array grown as needed, *cap its size):
 * zeroed, ra and dec NaN, at `line`; NULL when memory runs out. */
gp_cli_position *gp_cli_positions_add(gp_cli_positions *p, long *cap, long line);

/* Sets the row's reason, the first one given being kept: 0, or -1 when
 * memory runs out. */
int gp_cli_position_fail(gp_cli_position *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The angle `text` for `what` ("column 'ra'", "circle's RA"): decimal
 * degrees or sexagesimal (hours for an RA), gp_angle_parse(); RA in
 * 0..360, Dec in -90..90.  Sets *v (NaN when it cannot) or the row's
 * reason; -1 only when memory runs out. */
int gp_cli_position_angle(gp_cli_position *r, const char *what, const char *text, int ra, double *v);

/* Whether `in` (at its start; rewound) reads as a DS9 region file: the
 * "# Region file format: DS9" comment before the first other line, or a
 * first line that begins with a coordinate system (fk5, icrs, image, ...),
 * "global" or a region shape followed by '(', ';' or a blank. */
int gp_cli_positions_is_ds9(FILE *in);

/* The rows of a DS9 region file (p->path), from `in` at its start. */
int gp_cli_positions_read_ds9(gp_cli_positions *p, FILE *in, gp_error *err);

/* The rows of the first table HDU of the FITS file p->path. */
int gp_cli_positions_read_fits(gp_cli_positions *p, gp_error *err);

#endif
