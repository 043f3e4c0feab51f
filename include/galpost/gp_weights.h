/*
 * gp_weights.h: the galpost weights file (reader and writer).
 *
 * A weights file is one self-describing, versioned, little-endian file:
 * header, typed key-value metadata, a tensor table and 64-byte aligned
 * tensor data, protected by a CRC-32 checksum.  The byte layout is specified
 * in weights/FORMAT.md.  The reader maps the file read-only (mmap) and
 * validates every size, count, shape, offset and the checksum before any
 * value is used; a file that fails validation is refused with GP_ERR_FORMAT
 * and a message naming the file and the offending field or tensor.
 *
 * Tensor data are float32, row-major (C order).  Tensor names are
 * NUL-free UTF-8 of at most GP_WEIGHTS_NAME_MAX bytes, unique in a file.
 */
#ifndef GALPOST_GP_WEIGHTS_H
#define GALPOST_GP_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "galpost/gp_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GP_WEIGHTS_MAGIC      "GALPOSTW"   /* 8 bytes, no NUL stored */
#define GP_WEIGHTS_VERSION    1u
#define GP_WEIGHTS_NAME_MAX   255          /* longest tensor name or key */
#define GP_WEIGHTS_MAX_DIMS   4
#define GP_WEIGHTS_ALIGN      64

typedef enum gp_dtype {
    GP_DTYPE_F32 = 1
} gp_dtype;

typedef enum gp_meta_type {
    GP_META_STR       = 1,   /* UTF-8 string */
    GP_META_I64       = 2,   /* one int64 */
    GP_META_F64       = 3,   /* one double */
    GP_META_I64_ARRAY = 4,   /* int64[n] */
    GP_META_F64_ARRAY = 5    /* double[n] */
} gp_meta_type;

/* A tensor as seen through an open file (pointers into the mapping). */
typedef struct gp_tensor_info {
    const char  *name;
    gp_dtype     dtype;
    int          ndim;
    int64_t      dims[GP_WEIGHTS_MAX_DIMS];
    int64_t      nelem;
    const float *data;      /* 64-byte aligned, valid until gp_weights_close */
} gp_tensor_info;

/* A metadata entry as seen through an open file. */
typedef struct gp_meta_entry {
    const char    *key;
    gp_meta_type   type;
    size_t         count;    /* 1 for scalars, string length for STR */
    const char    *str;      /* STR: NUL-terminated copy owned by the reader */
    int64_t        i64;      /* I64 */
    double         f64;      /* F64 */
    const int64_t *i64s;     /* I64_ARRAY */
    const double  *f64s;     /* F64_ARRAY */
} gp_meta_entry;

typedef struct gp_weights gp_weights;

/*
 * gp_weights_open() - map and validate a weights file.
 *
 * Given:
 *   path      const char*   File name.
 * Returned:
 *   out       gp_weights**  The opened file; close with gp_weights_close().
 *   err       gp_error*     Filled on failure.
 * Function return value:
 *   GP_OK; GP_ERR_IO (cannot open/stat/map); GP_ERR_FORMAT (bad magic,
 *   unsupported version, truncated file, checksum mismatch, sizes, counts,
 *   shapes or offsets out of range or overflowing, duplicate names, unknown
 *   dtype or metadata type); GP_ERR_NOMEM; GP_ERR_ARG (NULL arguments).
 */
int gp_weights_open(const char *path, gp_weights **out, gp_error *err);

/* gp_weights_close() - unmap and free (NULL is allowed). */
void gp_weights_close(gp_weights *w);

/* The path given to gp_weights_open(), the format version and the file size. */
const char *gp_weights_path(const gp_weights *w);
uint32_t    gp_weights_version(const gp_weights *w);
uint64_t    gp_weights_file_size(const gp_weights *w);
uint32_t    gp_weights_checksum(const gp_weights *w);

/* Number of tensors, and the i-th tensor in file order (0 <= i < count).
 * gp_weights_tensor_at() returns GP_OK, or GP_ERR_ARG when i is out of
 * range or an argument is NULL. */
size_t gp_weights_tensor_count(const gp_weights *w);
int    gp_weights_tensor_at(const gp_weights *w, size_t i, gp_tensor_info *out,
                            gp_error *err);

/*
 * gp_weights_tensor() - find a tensor by name.
 *
 * Function return value:
 *   GP_OK; GP_ERR_NOTFOUND with a message naming the file and the tensor.
 */
int gp_weights_tensor(const gp_weights *w, const char *name,
                      gp_tensor_info *out, gp_error *err);

/*
 * gp_weights_tensor_shaped() - find a tensor and check its shape.
 *
 * Given:
 *   name      const char*     Tensor name.
 *   ndim      int             Expected rank.
 *   dims      const int64_t*  Expected dimensions.
 * Returned:
 *   data      const float**   Its data.
 * Function return value:
 *   GP_OK; GP_ERR_NOTFOUND; GP_ERR_FORMAT when the shape differs (the
 *   message gives the tensor, the expected and the found shapes);
 *   GP_ERR_ARG (NULL argument, ndim outside 1..GP_WEIGHTS_MAX_DIMS).
 */
int gp_weights_tensor_shaped(const gp_weights *w, const char *name, int ndim,
                             const int64_t *dims, const float **data,
                             gp_error *err);

/* Number of metadata entries and the i-th in file order.
 * gp_weights_meta_at() returns GP_OK, or GP_ERR_ARG when i is out of range
 * or an argument is NULL. */
size_t gp_weights_meta_count(const gp_weights *w);
int    gp_weights_meta_at(const gp_weights *w, size_t i, gp_meta_entry *out,
                          gp_error *err);

/*
 * Typed metadata look-ups.  Each returns GP_OK, GP_ERR_NOTFOUND (key
 * missing, message names file and key) or GP_ERR_FORMAT (key present with
 * another type).  Pointers stay valid until gp_weights_close().
 */
int gp_weights_meta_str(const gp_weights *w, const char *key,
                        const char **val, gp_error *err);
int gp_weights_meta_i64(const gp_weights *w, const char *key, int64_t *val,
                        gp_error *err);
int gp_weights_meta_f64(const gp_weights *w, const char *key, double *val,
                        gp_error *err);
int gp_weights_meta_i64_array(const gp_weights *w, const char *key,
                              const int64_t **vals, size_t *n, gp_error *err);
int gp_weights_meta_f64_array(const gp_weights *w, const char *key,
                              const double **vals, size_t *n, gp_error *err);

/*
 * gp_meta_type_name() - the name of a metadata type as FORMAT.md spells it
 * ("STR", "I64", "F64", "I64_ARRAY", "F64_ARRAY"); "unknown" otherwise.
 */
const char *gp_meta_type_name(int type);

/*
 * gp_weights_print_info() - print header, metadata (every key) and the
 * tensor table (name, shape, parameters, min/max/mean) in human-readable
 * form, as `galpost model info` does.
 *
 * Function return value:
 *   GP_OK; GP_ERR_ARG (NULL argument); GP_ERR_IO (writing to out failed).
 */
int gp_weights_print_info(const gp_weights *w, FILE *out, gp_error *err);

/* ---------------------------------------------------------------- writer */

typedef struct gp_weights_writer gp_weights_writer;

/* gp_weights_writer_new() - start an empty file description. */
int  gp_weights_writer_new(gp_weights_writer **out, gp_error *err);
void gp_weights_writer_free(gp_weights_writer *wr);

/*
 * Metadata setters.  Setting an existing key replaces its value.  Keys are
 * 1..GP_WEIGHTS_NAME_MAX bytes.  Values are copied.
 * Return GP_OK, GP_ERR_ARG (bad key, NULL, n == 0) or GP_ERR_NOMEM.
 */
int gp_weights_writer_set_str(gp_weights_writer *wr, const char *key,
                              const char *val, gp_error *err);
int gp_weights_writer_set_i64(gp_weights_writer *wr, const char *key,
                              int64_t val, gp_error *err);
int gp_weights_writer_set_f64(gp_weights_writer *wr, const char *key,
                              double val, gp_error *err);
int gp_weights_writer_set_i64_array(gp_weights_writer *wr, const char *key,
                                    const int64_t *vals, size_t n,
                                    gp_error *err);
int gp_weights_writer_set_f64_array(gp_weights_writer *wr, const char *key,
                                    const double *vals, size_t n,
                                    gp_error *err);

/*
 * gp_weights_writer_add_tensor() - add a float32 tensor (data are copied).
 *
 * Function return value:
 *   GP_OK; GP_ERR_ARG (bad name, duplicate name, ndim outside
 *   1..GP_WEIGHTS_MAX_DIMS, a dimension < 1, non-finite value, NULL);
 *   GP_ERR_NOMEM.
 */
int gp_weights_writer_add_tensor(gp_weights_writer *wr, const char *name,
                                 int ndim, const int64_t *dims,
                                 const float *data, gp_error *err);

/*
 * gp_weights_writer_write() - write the file atomically: to a temporary
 * file in the same directory, fsync, then rename over `path`, so that an
 * interrupted write never leaves a file that looks complete.
 *
 * Function return value:
 *   GP_OK; GP_ERR_IO (message names the path); GP_ERR_NOMEM.
 */
int gp_weights_writer_write(const gp_weights_writer *wr, const char *path,
                            gp_error *err);

#ifdef __cplusplus
}
#endif
#endif /* GALPOST_GP_WEIGHTS_H */
