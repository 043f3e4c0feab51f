/*
 * gp_mock_shards.h: training shards (sim/FORMAT.md): FITS files holding a
 * cutout cube N x B x S x S (float32, nanomaggies) in the primary HDU and the
 * galaxy table (gp_mock_table.h) in HDU 2 'GALAXIES', row k = plane k.
 * Written block by block in constant memory, by a pool of threads, to
 * NAME.partial renamed to NAME when complete.  Galaxy i depends only on
 * (seed, i), so any split into shards or threads gives the same galaxies.
 */
#ifndef GALPOST_GP_MOCK_SHARDS_H
#define GALPOST_GP_MOCK_SHARDS_H

#include <signal.h>

#include "gp_mock.h"

typedef struct gp_mock_shard_opt {
    uint64_t seed;
    long     first;          /* index of the first galaxy (default 0) */
    long     n;              /* galaxies in all */
    long     shard_size;     /* galaxies per shard file */
    int      bands[GP_MOCK_NBAND];
    int      nbands;         /* 3 (gri) for training, 5 (ugriz) */
    int      size;           /* cutout side, pixels (160) */
    int      nthreads;       /* 0: number of online CPUs */
    const char *outdir;
    const char *prefix;      /* file names PREFIX-NNNNN.fits; default "shard" */
    void   (*progress)(long done, long total, void *arg);
    void    *progress_arg;
    volatile sig_atomic_t *interrupted;   /* polled between blocks (may be NULL) */
} gp_mock_shard_opt;

/* gp_mock_shard_opt_default() - seed 0, n 0, shard size 10000, gri, 160 px. */
void gp_mock_shard_opt_default(gp_mock_shard_opt *o);

/*
 * gp_mock_write_shards() - write ceil(n / shard_size) shards into outdir.
 * Function return value: GP_OK; GP_ERR_ARG (bad option, naming it); GP_ERR_IO
 * (outdir not writable); GP_ERR_FITS; GP_ERR_NOMEM; GP_ERR_INTERRUPTED (the
 * partial file is removed).
 */
int gp_mock_write_shards(const gp_mock_shard_opt *o, gp_error *err);

/* gp_mock_shard_path() - the final path of shard k (buffer of n bytes). */
void gp_mock_shard_path(const gp_mock_shard_opt *o, long k, char *buf, size_t n);

#endif
