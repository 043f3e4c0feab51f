/* cli_shard_why.h: why a row of training-format shards cannot be inferred,
 * naming the shard, the row and the column (galpost infer --shard). */
#ifndef GALPOST_CLI_SHARD_WHY_H
#define GALPOST_CLI_SHARD_WHY_H
#include <stddef.h>

#include "gp_dataset.h"

/* Reads the failed rows' cells again from their shard, which it keeps open
 * from one call to the next (failed rows come in order). */
typedef struct gp_cli_shard_rows gp_cli_shard_rows;

/* NULL only when out of memory. */
gp_cli_shard_rows *gp_cli_shard_why_new(const gp_dataset *d);
void gp_cli_shard_why_free(gp_cli_shard_rows *w);

/* Why row r (0-based over all shards, d->bad[r] set) is unusable: "PATH:
 * row K (row R of the input): column 'modelMag_u' = -9999 is not a usable
 * magnitude", the first band with an unusable magnitude or extinction or an
 * extinction-corrected magnitude outside 5..40, as gp_dataset_open judged
 * it; for a CSV shard (read again by the same reader,
 * gp_dataset_open_table) with the row's line in the file: "PATH: row K
 * (line L): column 'modelMag_u' is empty, null or NaN: ...".  Without a
 * cell to name (a cutout with non-finite pixels, a shard that cannot be
 * read again), the reason alone. */
void gp_cli_shard_why(gp_cli_shard_rows *w, long r, char *why, size_t size);

/* Where row r (0-based over all shards) is, as gp_dataset_row_where() says
 * it, with its line for a CSV shard: "PATH: row K (line L)". */
void gp_cli_shard_where(gp_cli_shard_rows *w, long r, char *buf, size_t size);

#endif
