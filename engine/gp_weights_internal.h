/*
 * gp_weights_internal.h: byte layout of the weights file (weights/FORMAT.md)
 * and the reader's private state, shared by gp_weights_read.c,
 * gp_weights_write.c and gp_weights_info.c.  Not installed.
 */
#ifndef GALPOST_GP_WEIGHTS_INTERNAL_H
#define GALPOST_GP_WEIGHTS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "galpost/gp_weights.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
/* Tensor data are used in place from the mapping, so the host must be
 * little-endian like the file. */
#error "galpost weights files need a little-endian host"
#endif

/* Header: fixed 128 bytes at offset 0 (FORMAT.md section 2). */
enum {
    GPW_HEADER_SIZE      = 128,
    GPW_OFF_MAGIC        = 0,    /* char[8] */
    GPW_OFF_VERSION      = 8,    /* u32 */
    GPW_OFF_HEADER_SIZE  = 12,   /* u32 */
    GPW_OFF_FILE_SIZE    = 16,   /* u64 */
    GPW_OFF_CHECKSUM     = 24,   /* u32 */
    GPW_OFF_FLAGS        = 28,   /* u32, 0 */
    GPW_OFF_META_OFFSET  = 32,   /* u64 */
    GPW_OFF_META_SIZE    = 40,   /* u64 */
    GPW_OFF_META_COUNT   = 48,   /* u64 */
    GPW_OFF_TABLE_OFFSET = 56,   /* u64 */
    GPW_OFF_TABLE_SIZE   = 64,   /* u64 */
    GPW_OFF_TABLE_COUNT  = 72,   /* u64 */
    GPW_OFF_DATA_OFFSET  = 80,   /* u64 */
    GPW_OFF_DATA_SIZE    = 88,   /* u64 */
    GPW_OFF_RESERVED     = 96    /* 32 bytes of zeros up to 128 */
};

/* Metadata entry: fixed part, then key, then value, then zeros to a
 * multiple of 8 (FORMAT.md section 3). */
enum {
    GPW_META_FIXED      = 16,
    GPW_META_OFF_KEYLEN = 0,     /* u16 */
    GPW_META_OFF_TYPE   = 2,     /* u16 */
    GPW_META_OFF_RESV   = 4,     /* u32, 0 */
    GPW_META_OFF_COUNT  = 8      /* u64 */
};

/* Tensor table entry: fixed part, then name, then zeros to a multiple of 8
 * (FORMAT.md section 4). */
enum {
    GPW_TENSOR_FIXED      = 56,
    GPW_TENSOR_OFF_NAMELEN = 0,  /* u16 */
    GPW_TENSOR_OFF_DTYPE  = 2,   /* u16 */
    GPW_TENSOR_OFF_NDIM   = 4,   /* u32 */
    GPW_TENSOR_OFF_DIMS   = 8,   /* u64[4] */
    GPW_TENSOR_OFF_OFFSET = 40,  /* u64, absolute file offset */
    GPW_TENSOR_OFF_SIZE   = 48   /* u64, bytes */
};

/* Little-endian loads and stores at any alignment. */
static inline uint16_t gpw_get_u16(const unsigned char *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t gpw_get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}
static inline uint64_t gpw_get_u64(const unsigned char *p)
{
    return (uint64_t)gpw_get_u32(p) | ((uint64_t)gpw_get_u32(p + 4) << 32);
}
static inline void gpw_put_u16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}
static inline void gpw_put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static inline void gpw_put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* n rounded up to a multiple of a (a power of two); no overflow check. */
static inline uint64_t gpw_round_up(uint64_t n, uint64_t a)
{
    return (n + a - 1) & ~(a - 1);
}

/* CRC-32 (zlib) of a whole file image with the checksum field as zeros. */
uint32_t gpw_file_crc32(const unsigned char *buf, size_t size);

/* The reader's state: the mapping plus decoded, owned copies of every name
 * and metadata value. */
struct gp_weights {
    char                *path;
    const unsigned char *map;
    size_t               size;
    uint32_t             version;
    uint32_t             checksum;
    size_t               ntensor;
    gp_tensor_info      *tensors;     /* file order; names owned */
    size_t              *tensor_by_name; /* indices sorted by name */
    size_t               nmeta;
    gp_meta_entry       *meta;        /* file order; keys and values owned */
    size_t              *meta_by_key; /* indices sorted by key */
};

#endif /* GALPOST_GP_WEIGHTS_INTERNAL_H */
