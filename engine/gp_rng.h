/*
 * gp_rng.h: the counter-based sampler shared by every backend (internal).
 *
 * Normal d (0..3) of sample s of galaxy `id` in stream `stream` comes from
 * one Philox4x32-10 block (Random123) with
 *     key     = { seed_lo, seed_hi }
 *     counter = { s, stream, id_lo, id_hi }
 * whose four 32-bit words become uniforms u_k = (w_k + 0.5) 2^-32 in (0,1),
 * paired by Box-Muller (in double precision):
 *     n0 = sqrt(-2 ln u0) cos(2 pi u1), n1 = sqrt(-2 ln u0) sin(2 pi u1),
 *     n2, n3 likewise from (u2, u3).
 * Nothing depends on the batch, the thread or the backend, so samples are
 * reproducible everywhere.  This header is plain C99 and also compiles
 * under nvcc.
 */
#ifndef GALPOST_GP_RNG_H
#define GALPOST_GP_RNG_H

#include <math.h>
#include <stdint.h>
#include <Random123/philox.h>

#ifdef __CUDACC__
#define GP_RNG_FN static __host__ __device__ inline
#else
#define GP_RNG_FN static inline
#endif

/* Streams of the model's noise. */
enum { GP_STREAM_CORE = 0, GP_STREAM_OH = 1, GP_STREAM_LINE = 2 };

GP_RNG_FN void gp_rng_normals4(uint64_t seed, uint64_t id, uint32_t sample,
                               uint32_t stream, float out[4])
{
    philox4x32_ctr_t ctr = {{sample, stream, (uint32_t)id, (uint32_t)(id >> 32)}};
    philox4x32_key_t key = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
    philox4x32_ctr_t r = philox4x32(ctr, key);
    const double two_pi = 6.283185307179586476925286766559;
    const double inv32 = 2.3283064365386962890625e-10; /* 2^-32 */
    for (int k = 0; k < 2; k++) {
        double u0 = ((double)r.v[2 * k] + 0.5) * inv32;
        double u1 = ((double)r.v[2 * k + 1] + 0.5) * inv32;
        double rad = sqrt(-2.0 * log(u0));
        out[2 * k] = (float)(rad * cos(two_pi * u1));
        out[2 * k + 1] = (float)(rad * sin(two_pi * u1));
    }
}

#endif
