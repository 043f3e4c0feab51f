/*
 * gp_latent_cache.h: the trainer's cache of encoder outputs (internal).
 *
 * `galpost train` encodes the flow-stage galaxies once with the frozen VAE
 * encoder and keeps [mu, sigma] of each in WORKDIR/latents.f32, so that a
 * rerun (a resumed run, or a new flow stage on the same encoder with
 * --encoder-from) and `galpost eval --latents` skip the encoding.  A cache is
 * only valid for the rows it was made from, in the same order, and for the
 * same encoder and band stretch; the file therefore carries a fingerprint of
 * all three, and a reader uses it only when the fingerprint it computes
 * itself is the same.  The rows are identified by their objIDs and by
 * values read with them (magnitudes, pixel noise): a mock regenerated with
 * another seed has the same objIDs but not the same galaxies.  (Hashing the
 * pixels themselves would cost the read the cache saves; a change of the
 * renderer alone that leaves every catalogue value as it was is not seen.)  (Caches without one, written before 2026-11-27, are
 * never used: they were accepted on their row count alone.)
 *
 * File layout, native byte order (the cache never leaves the machine that
 * made it):
 *   char     magic[8]      "GPLATC2\n"
 *   int64_t  n             rows
 *   int64_t  latent        L
 *   uint64_t fingerprint   gp_latent_cache_key()
 *   float    data[n][2L]   mu (L values), then sigma (L values), per row
 */
#ifndef GALPOST_GP_LATENT_CACHE_H
#define GALPOST_GP_LATENT_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "galpost/gp_error.h"
#include "gp_dataset.h"

/* One encoder tensor as the fingerprint sees it: its name ("enc.*") and
 * values in host memory. */
typedef struct gp_latent_tensor {
    const char  *name;
    const float *data;
    size_t       n;
} gp_latent_tensor;

/*
 * gp_latent_cache_key() - fingerprint of what a cache's latents depend on.
 *
 * Given:
 *   ids       const uint64_t*         objIDs of the cached rows, in cache order.
 *   rowdata   const float*            rowlen values per row read with it (the
 *                                     magnitudes and pixel noise), in the same
 *                                     order; NULL when rowlen is 0.
 *   rowlen    int                     Values per row (0-64).
 *   n         long                    Number of rows.
 *   enc       const gp_latent_tensor* The encoder's tensors, in any order
 *                                     (they are hashed sorted by name).
 *   nenc      int                     Number of tensors (at most 256).
 *   stretch   const float[9]          The band stretch: softening, offset and
 *                                     scale of g, r, i.
 *   latent    int                     L.
 *
 * Returned:
 *   key       uint64_t*               64-bit FNV-1a of all of the above.
 *
 * Function return value:
 *   int       GP_OK, or GP_ERR_ARG (NULL pointers, n < 0, rowlen outside
 *             0-64, nenc outside 0-256, two tensors of the same name).
 */
int gp_latent_cache_key(const uint64_t *ids, const float *rowdata, int rowlen, long n,
                        const gp_latent_tensor *enc, int nenc,
                        const float stretch[9], int latent, uint64_t *key, gp_error *err);

/*
 * gp_latent_cache_key_rows() - gp_latent_cache_key() of rows of a dataset:
 * the rows of `nparts` lists, one list after the other (the trainer's
 * [train, validation, test] order), identified by their objIDs and, as
 * row data, their ugriz magnitudes and g, r, i pixel noise.
 *
 * Given:
 *   d              const gp_dataset*   The shards.
 *   nparts         int                 Row lists (1-4).
 *   rows, nrows    const long*[], const long[]  The lists and their lengths.
 *   enc, nenc, stretch, latent         As gp_latent_cache_key().
 * Returned:
 *   key            uint64_t*
 * Function return value:
 *   int            GP_OK; GP_ERR_NOMEM; gp_latent_cache_key()'s errors.
 */
int gp_latent_cache_key_rows(const gp_dataset *d, int nparts, const long *const rows[], const long nrows[],
                             const gp_latent_tensor *enc, int nenc, const float stretch[9], int latent,
                             uint64_t *key, gp_error *err);

/*
 * gp_latent_cache_read() - the cached latents, if they are those asked for.
 *
 * Given:
 *   path      const char*   The cache file.
 *   n, latent long, int     Rows and L expected.
 *   key       uint64_t      The fingerprint expected (gp_latent_cache_key).
 *
 * Returned:
 *   out       float*        [n x 2L], filled when the cache is used; untouched
 *                           when it is absent or its header or size do not
 *                           match (only a read error midway leaves it partly
 *                           written).
 *   why       char*         When it is not used, why, in words ("absent",
 *                           "made from other rows, another encoder or
 *                           another stretch", ...); may be NULL.
 *
 * Function return value:
 *   int       1 when the cache was read into out, 0 when it is absent,
 *             does not match or cannot be read.  Never an error: a
 *             cache that cannot be used is simply recomputed by the caller.
 */
int gp_latent_cache_read(const char *path, long n, int latent, uint64_t key, float *out,
                         char *why, size_t whylen);

/*
 * gp_latent_cache_write() - write a cache, all or nothing.
 *
 * Given:
 *   path      const char*   The cache file; written as PATH.tmp, then renamed.
 *   n, latent long, int     Rows and L.
 *   key       uint64_t      Its fingerprint.
 *   data      const float*  [n x 2L].
 *
 * Function return value:
 *   int       GP_OK; GP_ERR_IO naming the file when it cannot be written
 *             (nothing is left at PATH or PATH.tmp then).
 */
int gp_latent_cache_write(const char *path, long n, int latent, uint64_t key, const float *data,
                          gp_error *err);

#endif
