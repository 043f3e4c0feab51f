/*
 * gp_hash.h: 64-bit FNV-1a, the fingerprint galpost uses for caches and
 * checkpoints (the latent cache's key, a checkpoint's data and encoder
 * settings, the plug-in's cache of frames fetched from DS9).  Not a
 * cryptographic hash: it tells files and rows apart, nothing more
 * (internal, header-only).
 */
#ifndef GALPOST_GP_HASH_H
#define GALPOST_GP_HASH_H

#include <stddef.h>
#include <stdint.h>

/* The starting value (FNV offset basis). */
#define GP_FNV1A_BASIS 0xcbf29ce484222325ull

/* h continued over the n bytes at p; start with GP_FNV1A_BASIS. */
static inline uint64_t gp_fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) { h ^= b[i]; h *= 0x100000001b3ull; }
    return h;
}

#endif
