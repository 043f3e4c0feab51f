/*
 * gp_mock_table.h: the galaxy table of training shards and field truth tables:
 * SDSS / MPA-JHU column names and units (sim/FORMAT.md), one row per galaxy.
 */
#ifndef GALPOST_GP_MOCK_TABLE_H
#define GALPOST_GP_MOCK_TABLE_H

#include <fitsio.h>

#include "gp_mock.h"

/* Number of columns of the galaxy table. */
int gp_mock_table_ncols(void);

/* Name of column k (0-based), or NULL when out of range. */
const char *gp_mock_table_colname(int k);

/*
 * gp_mock_table_create() - append an empty BINTABLE HDU named extname with all
 * columns (TTYPE, TFORM, TUNIT, comments) to the open FITS file.
 * Function return value: GP_OK or GP_ERR_FITS (naming path).
 */
int gp_mock_table_create(fitsfile *f, const char *extname, const char *path, gp_error *err);

/*
 * gp_mock_table_write() - write n galaxies as rows first_row.. (1-based) of the
 * current HDU, which must be a table made by gp_mock_table_create().
 * Function return value: GP_OK, GP_ERR_NOMEM or GP_ERR_FITS (naming path).
 */
int gp_mock_table_write(fitsfile *f, long first_row, const gp_mock_galaxy *g, int n,
                        const char *path, gp_error *err);

#endif
