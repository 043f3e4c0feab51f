/* gp_mock_shards.c: training shards, threaded, constant memory, atomic. */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdint.h>
#include <fitsio.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gp_mock_render.h"
#include "gp_mock_shards.h"
#include "gp_mock_table.h"
#include "gp_shard_write.h"

#define BLOCK 96

void gp_mock_shard_opt_default(gp_mock_shard_opt *o)
{
    memset(o, 0, sizeof *o);
    o->shard_size = 10000;
    o->bands[0] = GP_BAND_G; o->bands[1] = GP_BAND_R; o->bands[2] = GP_BAND_I;
    o->nbands = 3;
    o->size = 160;
    o->prefix = "shard";
}

void gp_mock_shard_path(const gp_mock_shard_opt *o, long k, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s-%05ld.fits", o->outdir, o->prefix ? o->prefix : "shard", k);
}

typedef struct job {
    const gp_mock_shard_opt *o;
    long first, count;          /* galaxies of this block */
    atomic_long *next;          /* next galaxy of the block to take (shared by the block's threads) */
    gp_mock_galaxy *gal;
    float *cube;
    int thread, nthreads;
    int status;
    gp_error err;
} job;

static void *worker(void *arg)
{
    job *j = arg;
    size_t plane = (size_t)j->o->nbands * j->o->size * j->o->size;
    gp_error_clear(&j->err);
    j->status = GP_OK;
    /* galaxies are taken one at a time from a shared counter: their cost varies
     * by an order of magnitude (size, neighbours, bright stars), and a fixed
     * split left one core idle at the end of every block; each galaxy still
     * depends only on (seed, index), so the output does not change */
    for (long i = atomic_fetch_add(j->next, 1); i < j->count; i = atomic_fetch_add(j->next, 1)) {
        int st = gp_mock_galaxy_draw(j->o->seed, (uint64_t)(j->first + i), NULL, &j->gal[i], &j->err);
        if (!st) st = gp_mock_render_cutout(j->o->seed, &j->gal[i], j->o->bands, j->o->nbands,
                                            j->o->size, 0, j->cube + i * plane, &j->err);
        if (st) { j->status = st; break; }
    }
    return NULL;
}

static int fits_fail(gp_error *err, int st, const char *path, const char *what)
{
    char msg[FLEN_STATUS];
    fits_get_errstatus(st, msg);
    return GP_FAIL(err, GP_ERR_FITS, "%s: %s: %s", path, what, msg);
}

static int write_header(fitsfile *f, const gp_mock_shard_opt *o, long first, long count,
                        const char *path, gp_error *err)
{
    char bands[8] = { 0 };
    for (int b = 0; b < o->nbands; b++) bands[b] = gp_mock_band_names[o->bands[b]];
    gp_shard_cube c = { bands, o->size, GP_MOCK_PIXSCALE, count, first,
                        "galpost mock", "simulated (sim/), not SDSS data", (long long)o->seed, "galpost mock --seed" };
    return gp_shard_cube_create(f, &c, path, err);
}

/* Blocks are double-buffered: the worker threads draw and render block k+1 while
 * this thread writes block k, so rendering and I/O overlap. */
typedef struct block_set {
    atomic_long next[2];
    gp_mock_galaxy *gal[2];
    float *cube[2];
    job *jobs;          /* 2 x nthreads */
    pthread_t *tid;     /* 2 x nthreads */
    int nthreads;
} block_set;

static void block_start(const gp_mock_shard_opt *o, block_set *bs, int slot, long first, long nb,
                        int *nstarted, int *started)
{
    int nt = bs->nthreads < nb ? bs->nthreads : (int)nb;
    job *jobs = bs->jobs + slot * bs->nthreads;
    pthread_t *tid = bs->tid + slot * bs->nthreads;
    atomic_store(&bs->next[slot], 0);
    for (int t = 0; t < nt; t++) {
        jobs[t] = (job){ o, first, nb, &bs->next[slot], bs->gal[slot], bs->cube[slot], t, nt, 0, { 0 } };
        /* a thread that cannot start is run here instead: same galaxies either way */
        started[t] = pthread_create(&tid[t], NULL, worker, &jobs[t]) == 0;
        if (!started[t]) worker(&jobs[t]);
    }
    *nstarted = nt;
}

static int block_finish(block_set *bs, int slot, int nt, const int *started, gp_error *err)
{
    job *jobs = bs->jobs + slot * bs->nthreads;
    pthread_t *tid = bs->tid + slot * bs->nthreads;
    int rc = GP_OK;
    for (int t = 0; t < nt; t++) {
        if (started[t]) pthread_join(tid[t], NULL);
        if (jobs[t].status && !rc) { if (err) *err = jobs[t].err; rc = jobs[t].status; }
    }
    return rc;
}

/* The cube's data unit is laid out by cfitsio (header, size, zero fill, flushed
 * before any pixel is written); the pixels themselves go in with pwrite() as
 * big-endian IEEE floats, which is several times faster than cfitsio's buffered
 * conversion (bench/RESULTS.md).  cfitsio never touches that region again. */
static int block_write(fitsfile *f, int fd, long long data_start, const gp_mock_shard_opt *o,
                       block_set *bs, int slot, long b0, long nb, const char *path, long *done,
                       gp_error *err)
{
    size_t plane = (size_t)o->nbands * o->size * o->size, nval = (size_t)nb * plane;
    uint32_t *w = (uint32_t *)bs->cube[slot];
    for (size_t k = 0; k < nval; k++) w[k] = __builtin_bswap32(w[k]);
    const char *p = (const char *)w;
    size_t left = nval * sizeof(float);
    off_t off = (off_t)(data_start + (long long)b0 * (long long)plane * 4);
    while (left > 0) {
        ssize_t m = pwrite(fd, p, left, off);
        if (m < 0 && errno == EINTR) continue;
        if (m <= 0) return GP_FAIL(err, GP_ERR_IO, "%s: cannot write cutouts: %s", path,
                                   m < 0 ? strerror(errno) : "short write");
        p += m; left -= (size_t)m; off += m;
    }
    int rc = gp_mock_table_write(f, b0 + 1, bs->gal[slot], (int)nb, path, err);
    if (rc) return rc;
    *done += nb;
    if (o->progress) o->progress(*done, o->n, o->progress_arg);
    return GP_OK;
}

static int write_one_shard(const gp_mock_shard_opt *o, long k, long first, long count,
                           block_set *bs, long *done, gp_error *err)
{
    char path[4096], tmp[4200];
    gp_mock_shard_path(o, k, path, sizeof path);
    snprintf(tmp, sizeof tmp, "!%s.partial", path);
    fitsfile *f = NULL;
    int st = 0, rc = GP_OK;
    fits_create_file(&f, tmp, &st);
    if (st) return fits_fail(err, st, tmp + 1, "cannot create");
    rc = write_header(f, o, first, count, tmp + 1, err);
    if (!rc) rc = gp_mock_table_create(f, "GALAXIES", tmp + 1, err);
    LONGLONG head_start = 0, data_start = 0, data_end = 0;
    int fd = -1;
    if (!rc) {
        fits_flush_file(f, &st);
        fits_movabs_hdu(f, 1, NULL, &st);
        fits_get_hduaddrll(f, &head_start, &data_start, &data_end, &st);
        fits_movabs_hdu(f, 2, NULL, &st);
        if (st) rc = fits_fail(err, st, tmp + 1, "cannot lay out the cube");
        else if (data_end - data_start < (LONGLONG)count * o->nbands * o->size * o->size * 4)
            rc = GP_FAIL(err, GP_ERR_INTERNAL, "%s: cube data unit is too small", tmp + 1);
        else if ((fd = open(tmp + 1, O_WRONLY)) < 0)
            rc = GP_FAIL(err, GP_ERR_IO, "%s: cannot open for the cube: %s", tmp + 1, strerror(errno));
    }
    long prev_b0 = -1, prev_nb = 0;
    int slot = 0;
    /* one pass more than there are blocks: the last pass only writes */
    for (long b0 = 0; !rc && b0 < count + BLOCK; b0 += BLOCK, slot ^= 1) {
        long nb = count - b0 < BLOCK ? count - b0 : BLOCK;
        if (nb < 0) nb = 0;
        int nt = 0, started[64] = { 0 };
        if (nb > 0) {
            if (o->interrupted && *o->interrupted) {
                rc = GP_FAIL(err, GP_ERR_INTERRUPTED, "%s: interrupted after %ld galaxies; partial file removed",
                             path, *done);
                break;
            }
            block_start(o, bs, slot, first + b0, nb, &nt, started);
        }
        if (prev_b0 >= 0)
            rc = block_write(f, fd, data_start, o, bs, slot ^ 1, prev_b0, prev_nb, tmp + 1, done, err);
        if (nb > 0) {
            gp_error e2;
            int wrc = block_finish(bs, slot, nt, started, &e2);
            if (wrc && !rc) { rc = wrc; if (err) *err = e2; }
        }
        prev_b0 = nb > 0 ? b0 : -1;
        prev_nb = nb;
    }
    if (fd >= 0 && close(fd) != 0 && !rc)
        rc = GP_FAIL(err, GP_ERR_IO, "%s: cannot write the cube: %s", tmp + 1, strerror(errno));
    int cst = 0;
    fits_close_file(f, &cst);
    if (!rc && cst) rc = fits_fail(err, cst, tmp + 1, "cannot close");
    if (rc) { unlink(tmp + 1); return rc; }
    if (rename(tmp + 1, path) != 0) {
        int e = errno;
        unlink(tmp + 1);
        return GP_FAIL(err, GP_ERR_IO, "%s: cannot rename from .partial: %s", path, strerror(e));
    }
    return GP_OK;
}

int gp_mock_write_shards(const gp_mock_shard_opt *o, gp_error *err)
{
    if (o->n < 1 || o->n > 1000000000L)
        return GP_FAIL(err, GP_ERR_ARG, "mock shards: galaxy count %ld is not within 1-1e9", o->n);
    if (o->first < 0)
        return GP_FAIL(err, GP_ERR_ARG, "mock shards: first index %ld is negative", o->first);
    if (o->shard_size < 1 || o->shard_size > 10000000L)
        return GP_FAIL(err, GP_ERR_ARG, "mock shards: shard size %ld is not within 1-1e7", o->shard_size);
    if (o->nbands < 1 || o->nbands > GP_MOCK_NBAND)
        return GP_FAIL(err, GP_ERR_ARG, "mock shards: %d bands", o->nbands);
    for (int b = 0; b < o->nbands; b++)
        if (o->bands[b] < 0 || o->bands[b] >= GP_MOCK_NBAND)
            return GP_FAIL(err, GP_ERR_ARG, "mock shards: band index %d", o->bands[b]);
    if (o->size < 16 || o->size > 1024)
        return GP_FAIL(err, GP_ERR_ARG, "mock shards: cutout size %d is not within 16-1024", o->size);
    int st_dir = gp_outdir_ready(o->outdir, "mock shards", err);
    if (st_dir) return st_dir;
    int nthreads = o->nthreads > 0 ? o->nthreads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (nthreads < 1) nthreads = 1;
    if (nthreads > 64) nthreads = 64;
    size_t plane = (size_t)o->nbands * o->size * o->size;
    block_set bs;
    bs.nthreads = nthreads;
    for (int k = 0; k < 2; k++) {
        bs.gal[k] = malloc(sizeof(gp_mock_galaxy) * BLOCK);
        bs.cube[k] = malloc(sizeof(float) * plane * BLOCK);
    }
    bs.jobs = malloc(sizeof(job) * 2 * (size_t)nthreads);
    bs.tid = malloc(sizeof(pthread_t) * 2 * (size_t)nthreads);
    int rc = GP_OK;
    if (!bs.gal[0] || !bs.gal[1] || !bs.cube[0] || !bs.cube[1] || !bs.jobs || !bs.tid) {
        rc = GP_FAIL(err, GP_ERR_NOMEM, "mock shards: no memory for a block of %d cutouts", BLOCK);
    } else {
        long nshard = (o->n + o->shard_size - 1) / o->shard_size, done = 0;
        for (long k = 0; k < nshard && !rc; k++) {
            long first = o->first + k * o->shard_size;
            long count = o->n - k * o->shard_size < o->shard_size ? o->n - k * o->shard_size : o->shard_size;
            rc = write_one_shard(o, k, first, count, &bs, &done, err);
        }
    }
    for (int k = 0; k < 2; k++) { free(bs.gal[k]); free(bs.cube[k]); }
    free(bs.jobs); free(bs.tid);
    return rc;
}
