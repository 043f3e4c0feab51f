/*
 * gp_mock_rng.h: counter-based random numbers for the mock sky.
 *
 * Every random quantity of galaxy i comes from a Philox4x32-10 stream keyed
 * by the run seed and indexed by (galaxy index, stream kind), so galaxy i
 * is identical however a run is split into shards or threads.  Pixel noise
 * uses a fast xoshiro128+ generator seeded from such a stream, with normal
 * deviates from a 4096-cell piecewise-linear inverse CDF (exact tails).
 */
#ifndef GALPOST_GP_MOCK_RNG_H
#define GALPOST_GP_MOCK_RNG_H

#include <stdint.h>

/* Stream kinds: one independent stream per purpose. */
enum gp_mock_stream {
    GP_STREAM_POPULATION = 1, /* physical properties, selection retries */
    GP_STREAM_OBSERVE    = 2, /* photometric and line noise, PSF, sky */
    GP_STREAM_IMAGE      = 3, /* neighbours, stars, centring */
    GP_STREAM_NOISE      = 4, /* pixel noise seeds (one per band) */
    GP_STREAM_FIELD      = 5, /* field layout */
    GP_STREAM_POSITION   = 6  /* sky position of a shard galaxy */
};

typedef struct gp_mock_rng {
    uint32_t key[2];
    uint32_t ctr[4];
    uint32_t buf[4];
    int      nbuf;
    int      have_spare;
    double   spare;
} gp_mock_rng;

/* gp_mock_rng_init() - start the stream (seed, index, kind). */
void gp_mock_rng_init(gp_mock_rng *r, uint64_t seed, uint64_t index, uint32_t kind);
uint32_t gp_mock_rng_u32(gp_mock_rng *r);
double gp_mock_rng_uniform(gp_mock_rng *r);              /* in (0, 1) */
double gp_mock_rng_normal(gp_mock_rng *r);               /* N(0, 1) */
double gp_mock_rng_range(gp_mock_rng *r, double lo, double hi);

/* Fast pixel-noise generator (xoshiro128+). */
typedef struct gp_mock_fastrng { uint32_t s[4]; } gp_mock_fastrng;

/* gp_mock_fastrng_seed() - seed from a Philox stream. */
void gp_mock_fastrng_seed(gp_mock_fastrng *f, gp_mock_rng *from);

/* gp_mock_fastrng_normals() - fill out[0..n-1] with N(0,1) floats. */
void gp_mock_fastrng_normals(gp_mock_fastrng *f, float *out, int n);

/* gp_mock_normal_quantile() - inverse normal CDF (Acklam, |rel err| < 1.2e-9). */
double gp_mock_normal_quantile(double p);

#endif
