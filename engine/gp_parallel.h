/*
 * gp_parallel.h: a minimal parallel-for over pthreads (internal).
 *
 * gp_parallel_for() splits [0, n) into at most `threads` contiguous chunks
 * and runs fn(ctx, begin, end) on each, the first chunk in the calling
 * thread.  Chunks depend only on n and threads; callers keep results
 * independent of the split (each index written by exactly one chunk).
 * Returns GP_OK, or GP_ERR_BACKEND when a thread cannot be started (the
 * remaining chunks then run in the calling thread, so work is never lost).
 */
#ifndef GALPOST_GP_PARALLEL_H
#define GALPOST_GP_PARALLEL_H
#include <stddef.h>

typedef void (*gp_range_fn)(void *ctx, size_t begin, size_t end);

int gp_parallel_for(int threads, size_t n, gp_range_fn fn, void *ctx);

/* The same, with the chunk's number (0..threads-1) passed to fn, so that a
 * chunk can use per-chunk scratch memory.  Chunk c covers
 * [n c / threads, n (c+1) / threads) of [0, n), whoever runs it (never two
 * at once). */
typedef void (*gp_chunk_fn)(void *ctx, int chunk, size_t begin, size_t end);
int gp_parallel_chunks(int threads, size_t n, gp_chunk_fn fn, void *ctx);

/* fn(ctx, i, i + 1) for every i in [0, n), each index handed to whichever
 * of `threads` threads is free next (an atomic counter), so a thread that
 * runs slower (another process on its core) takes fewer items instead of
 * holding the others at the end; for items whose results do not depend on
 * the thread that computes them.  Returns as gp_parallel_for. */
int gp_parallel_dynamic(int threads, size_t n, gp_range_fn fn, void *ctx);

/* OpenBLAS thread control, so our threads and OpenBLAS's don't multiply. */
void gp_blas_set_threads(int threads);

/* Number of online CPUs (at least 1). */
int gp_cpu_count(void);

#endif
