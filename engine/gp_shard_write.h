/*
 * gp_shard_write.h: writing training shards (sim/FORMAT.md), shared by the
 * mock's writer (sim/gp_mock_shards.c) and `galpost shards` for real SDSS
 * exports (engine/cli/cli_shards.c), so that the format's cube header is
 * written in one place.  Internal.
 */
#ifndef GALPOST_GP_SHARD_WRITE_H
#define GALPOST_GP_SHARD_WRITE_H

#include <fitsio.h>

#include "galpost/gp_error.h"

/*
 * gp_outdir_ready() - an output directory to write into: created (its
 * last component) when it does not exist yet.
 * Given: dir, who (the command, for the message).  Returned: err.
 * Function return value: GP_OK; GP_ERR_ARG without a name; GP_ERR_IO when
 * it is not a directory, cannot be created or is not writable.
 */
int gp_outdir_ready(const char *dir, const char *who, gp_error *err);

/* What a shard's cutout cube header says besides its fixed keys. */
typedef struct gp_shard_cube {
    const char *bands;        /* plane order, e.g. "gri" */
    int         size;         /* cutout side, pixels */
    double      pixscale;     /* arcsec per pixel */
    long        count;        /* planes (NAXIS4, NGAL) */
    long        first;        /* galaxy index of plane 1 (FIRSTIDX) */
    const char *origin, *origin_note;   /* ORIGIN and its comment */
    long long   seed;
    const char *seed_note;    /* SEED's comment */
} gp_shard_cube;

/*
 * gp_shard_cube_create() - append the float cube HDU (size x size x bands x
 * count) with the keys of sim/FORMAT.md: GPFORMAT, BUNIT, BANDS, CUTSIZE,
 * PIXSCALE, ORIENT, SKYSUB, ORIGIN, SEED, FIRSTIDX, NGAL, in this order.
 * Function return value: GP_OK; GP_ERR_FITS naming path.
 */
int gp_shard_cube_create(fitsfile *f, const gp_shard_cube *c, const char *path, gp_error *err);

#endif
