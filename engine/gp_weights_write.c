/*
 * gp_weights_write.c: build and write a weights file (weights/FORMAT.md).
 *
 * The writer checks every name, shape and value on the way in, so that
 * whatever it writes passes the reader's validation.  The file is written
 * to a temporary file in the target's directory, synced and renamed over the
 * target: a crash or a full disk never leaves a half-written file under the
 * final name, and on any failure the temporary file is removed.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "gp_weights_internal.h"

struct wmeta {
    char        *key;
    gp_meta_type type;
    size_t       count;      /* string bytes, 1, or array length */
    char        *str;
    int64_t      i64;
    double       f64;
    int64_t     *i64s;
    double      *f64s;
};

struct wtensor {
    char    *name;
    int      ndim;
    int64_t  dims[GP_WEIGHTS_MAX_DIMS];
    uint64_t bytes;
    float   *data;
};

struct gp_weights_writer {
    struct wmeta   *meta;
    size_t          nmeta, capmeta;
    struct wtensor *tensors;
    size_t          ntensor, captensor;
};

int gp_weights_writer_new(gp_weights_writer **out, gp_error *err)
{
    if (!out) return GP_FAIL(err, GP_ERR_ARG, "gp_weights_writer_new: NULL output");
    *out = calloc(1, sizeof **out);
    if (!*out) return GP_FAIL(err, GP_ERR_NOMEM, "weights writer: out of memory");
    return GP_OK;
}

static void wmeta_clear_value(struct wmeta *m)
{
    free(m->str);
    free(m->i64s);
    free(m->f64s);
    m->str = NULL;
    m->i64s = NULL;
    m->f64s = NULL;
}

void gp_weights_writer_free(gp_weights_writer *wr)
{
    if (!wr) return;
    for (size_t i = 0; i < wr->nmeta; i++) {
        wmeta_clear_value(&wr->meta[i]);
        free(wr->meta[i].key);
    }
    for (size_t i = 0; i < wr->ntensor; i++) {
        free(wr->tensors[i].name);
        free(wr->tensors[i].data);
    }
    free(wr->meta);
    free(wr->tensors);
    free(wr);
}

/* A key or tensor name: 1..GP_WEIGHTS_NAME_MAX bytes. */
static int check_name(const char *name, const char *what, gp_error *err)
{
    if (!name) return GP_FAIL(err, GP_ERR_ARG, "weights writer: NULL %s", what);
    size_t n = strlen(name);
    if (n < 1 || n > GP_WEIGHTS_NAME_MAX)
        return GP_FAIL(err, GP_ERR_ARG,
                       "weights writer: %s '%.64s%s' is %zu bytes, must be "
                       "1..%d", what, name, n > 64 ? "..." : "", n,
                       GP_WEIGHTS_NAME_MAX);
    return GP_OK;
}

/* The entry for key, created empty at the end when absent. */
static int meta_slot(gp_weights_writer *wr, const char *key, struct wmeta **out,
                     gp_error *err)
{
    int st = check_name(key, "metadata key", err);
    if (st) return st;
    for (size_t i = 0; i < wr->nmeta; i++)
        if (!strcmp(wr->meta[i].key, key)) {
            *out = &wr->meta[i];
            return GP_OK;
        }
    if (wr->nmeta == wr->capmeta) {
        size_t cap = wr->capmeta ? 2 * wr->capmeta : 16;
        struct wmeta *m = realloc(wr->meta, cap * sizeof *m);
        if (!m) return GP_FAIL(err, GP_ERR_NOMEM, "weights writer: out of memory");
        wr->meta = m;
        wr->capmeta = cap;
    }
    struct wmeta *m = &wr->meta[wr->nmeta];
    memset(m, 0, sizeof *m);
    m->key = strdup(key);
    if (!m->key) return GP_FAIL(err, GP_ERR_NOMEM, "weights writer: out of memory");
    wr->nmeta++;
    *out = m;
    return GP_OK;
}

int gp_weights_writer_set_str(gp_weights_writer *wr, const char *key,
                              const char *val, gp_error *err)
{
    if (!wr || !val)
        return GP_FAIL(err, GP_ERR_ARG, "weights writer: metadata '%s': NULL "
                       "argument", key ? key : "(null)");
    char *copy = strdup(val);
    if (!copy) return GP_FAIL(err, GP_ERR_NOMEM, "weights writer: out of memory");
    struct wmeta *m;
    int st = meta_slot(wr, key, &m, err);
    if (st) { free(copy); return st; }
    wmeta_clear_value(m);
    m->type = GP_META_STR;
    m->count = strlen(copy);
    m->str = copy;
    return GP_OK;
}

int gp_weights_writer_set_i64(gp_weights_writer *wr, const char *key,
                              int64_t val, gp_error *err)
{
    if (!wr) return GP_FAIL(err, GP_ERR_ARG, "weights writer: NULL writer");
    struct wmeta *m;
    int st = meta_slot(wr, key, &m, err);
    if (st) return st;
    wmeta_clear_value(m);
    m->type = GP_META_I64;
    m->count = 1;
    m->i64 = val;
    return GP_OK;
}

int gp_weights_writer_set_f64(gp_weights_writer *wr, const char *key,
                              double val, gp_error *err)
{
    if (!wr) return GP_FAIL(err, GP_ERR_ARG, "weights writer: NULL writer");
    if (!isfinite(val))
        return GP_FAIL(err, GP_ERR_ARG, "weights writer: metadata '%s': value "
                       "is not finite", key ? key : "(null)");
    struct wmeta *m;
    int st = meta_slot(wr, key, &m, err);
    if (st) return st;
    wmeta_clear_value(m);
    m->type = GP_META_F64;
    m->count = 1;
    m->f64 = val;
    return GP_OK;
}

/* Shared checks of the array setters. */
static int check_array(gp_weights_writer *wr, const char *key, const void *vals,
                       size_t n, gp_error *err)
{
    if (!wr || !vals)
        return GP_FAIL(err, GP_ERR_ARG, "weights writer: metadata '%s': NULL "
                       "argument", key ? key : "(null)");
    if (n == 0)
        return GP_FAIL(err, GP_ERR_ARG, "weights writer: metadata '%s': empty "
                       "array", key ? key : "(null)");
    if (n > SIZE_MAX / 8)
        return GP_FAIL(err, GP_ERR_ARG, "weights writer: metadata '%s': array "
                       "of %zu values is too large", key ? key : "(null)", n);
    return GP_OK;
}

_Static_assert(sizeof(int64_t) == 8 && sizeof(double) == 8, "8-byte metadata values");

/* Copy n 8-byte values (int64 or double) into key's slot as `type`. */
static int store_array(gp_weights_writer *wr, const char *key, int type,
                       const void *vals, size_t n, gp_error *err)
{
    void *copy = malloc(n * 8);
    if (!copy) return GP_FAIL(err, GP_ERR_NOMEM, "weights writer: out of memory");
    memcpy(copy, vals, n * 8);
    struct wmeta *m;
    int st = meta_slot(wr, key, &m, err);
    if (st) { free(copy); return st; }
    wmeta_clear_value(m);
    m->type = type;
    m->count = n;
    if (type == GP_META_I64_ARRAY) m->i64s = copy;
    else m->f64s = copy;
    return GP_OK;
}

int gp_weights_writer_set_i64_array(gp_weights_writer *wr, const char *key,
                                    const int64_t *vals, size_t n,
                                    gp_error *err)
{
    int st = check_array(wr, key, vals, n, err);
    if (st) return st;
    return store_array(wr, key, GP_META_I64_ARRAY, vals, n, err);
}

int gp_weights_writer_set_f64_array(gp_weights_writer *wr, const char *key,
                                    const double *vals, size_t n,
                                    gp_error *err)
{
    int st = check_array(wr, key, vals, n, err);
    if (st) return st;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(vals[i]))
            return GP_FAIL(err, GP_ERR_ARG, "weights writer: metadata '%s': "
                           "element %zu is not finite", key ? key : "(null)", i);
    return store_array(wr, key, GP_META_F64_ARRAY, vals, n, err);
}

int gp_weights_writer_add_tensor(gp_weights_writer *wr, const char *name,
                                 int ndim, const int64_t *dims,
                                 const float *data, gp_error *err)
{
    if (!wr || !dims || !data)
        return GP_FAIL(err, GP_ERR_ARG, "weights writer: tensor '%s': NULL "
                       "argument", name ? name : "(null)");
    int st = check_name(name, "tensor name", err);
    if (st) return st;
    for (size_t i = 0; i < wr->ntensor; i++)
        if (!strcmp(wr->tensors[i].name, name))
            return GP_FAIL(err, GP_ERR_ARG, "weights writer: duplicate tensor "
                           "name '%s'", name);
    if (ndim < 1 || ndim > GP_WEIGHTS_MAX_DIMS)
        return GP_FAIL(err, GP_ERR_ARG, "weights writer: tensor '%s': ndim %d "
                       "outside 1..%d", name, ndim, GP_WEIGHTS_MAX_DIMS);
    uint64_t nelem = 1;
    for (int d = 0; d < ndim; d++) {
        if (dims[d] < 1)
            return GP_FAIL(err, GP_ERR_ARG, "weights writer: tensor '%s': "
                           "dimension %d is %" PRId64 ", must be >= 1", name,
                           d, dims[d]);
        if ((uint64_t)dims[d] > ((uint64_t)INT64_MAX / sizeof(float)) / nelem)
            return GP_FAIL(err, GP_ERR_ARG, "weights writer: tensor '%s': "
                           "shape too large", name);
        nelem *= (uint64_t)dims[d];
    }
    uint64_t bytes = nelem * sizeof(float);
    if (bytes > SIZE_MAX)
        return GP_FAIL(err, GP_ERR_ARG, "weights writer: tensor '%s': shape "
                       "too large for this machine", name);
    for (uint64_t k = 0; k < nelem; k++)
        if (!isfinite(data[k]))
            return GP_FAIL(err, GP_ERR_ARG, "weights writer: tensor '%s': "
                           "element %" PRIu64 " is %s", name, k,
                           isnan(data[k]) ? "NaN" : "infinite");

    if (wr->ntensor == wr->captensor) {
        size_t cap = wr->captensor ? 2 * wr->captensor : 16;
        struct wtensor *t = realloc(wr->tensors, cap * sizeof *t);
        if (!t) return GP_FAIL(err, GP_ERR_NOMEM, "weights writer: out of memory");
        wr->tensors = t;
        wr->captensor = cap;
    }
    struct wtensor *t = &wr->tensors[wr->ntensor];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    t->data = malloc((size_t)bytes);
    if (!t->name || !t->data) {
        free(t->name);
        free(t->data);
        return GP_FAIL(err, GP_ERR_NOMEM, "weights writer: tensor '%s': out of "
                       "memory for %" PRIu64 " bytes", name, bytes);
    }
    memcpy(t->data, data, (size_t)bytes);
    t->ndim = ndim;
    for (int d = 0; d < ndim; d++) t->dims[d] = dims[d];
    t->bytes = bytes;
    wr->ntensor++;
    return GP_OK;
}

/* ------------------------------------------------------------ writing */

static uint64_t meta_entry_size(const struct wmeta *m)
{
    uint64_t v = m->type == GP_META_STR ? m->count : 8 * (uint64_t)m->count;
    return gpw_round_up(GPW_META_FIXED + strlen(m->key) + v, 8);
}

static uint64_t tensor_entry_size(const struct wtensor *t)
{
    return gpw_round_up(GPW_TENSOR_FIXED + strlen(t->name), 8);
}

/* write(2) all of buf, retrying after signals and short writes. */
static int write_all(int fd, const void *buf, size_t n)
{
    const unsigned char *p = buf;
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* CRC-32 of n more bytes; zlib takes a uInt length, so in pieces. */
static uLong crc_bytes(uLong crc, const unsigned char *p, uint64_t n)
{
    while (n > 0) {
        uint64_t k = n < ((uint64_t)1 << 30) ? n : (uint64_t)1 << 30;
        crc = crc32(crc, p, (uInt)k);
        p += k;
        n -= k;
    }
    return crc;
}

/* Fill the header, metadata section and tensor table (buf is zeroed, of
 * data_off bytes); tensor offsets go to offs[]. */
static void encode_head(const gp_weights_writer *wr, unsigned char *buf,
                        uint64_t meta_size, uint64_t table_size,
                        uint64_t data_off, uint64_t data_size,
                        const uint64_t *offs)
{
    memcpy(buf + GPW_OFF_MAGIC, GP_WEIGHTS_MAGIC, 8);
    gpw_put_u32(buf + GPW_OFF_VERSION, GP_WEIGHTS_VERSION);
    gpw_put_u32(buf + GPW_OFF_HEADER_SIZE, GPW_HEADER_SIZE);
    gpw_put_u64(buf + GPW_OFF_FILE_SIZE, data_off + data_size);
    gpw_put_u64(buf + GPW_OFF_META_OFFSET, GPW_HEADER_SIZE);
    gpw_put_u64(buf + GPW_OFF_META_SIZE, meta_size);
    gpw_put_u64(buf + GPW_OFF_META_COUNT, wr->nmeta);
    gpw_put_u64(buf + GPW_OFF_TABLE_OFFSET, GPW_HEADER_SIZE + meta_size);
    gpw_put_u64(buf + GPW_OFF_TABLE_SIZE, table_size);
    gpw_put_u64(buf + GPW_OFF_TABLE_COUNT, wr->ntensor);
    gpw_put_u64(buf + GPW_OFF_DATA_OFFSET, data_off);
    gpw_put_u64(buf + GPW_OFF_DATA_SIZE, data_size);

    unsigned char *p = buf + GPW_HEADER_SIZE;
    for (size_t i = 0; i < wr->nmeta; i++) {
        const struct wmeta *m = &wr->meta[i];
        size_t keylen = strlen(m->key);
        gpw_put_u16(p + GPW_META_OFF_KEYLEN, (uint16_t)keylen);
        gpw_put_u16(p + GPW_META_OFF_TYPE, (uint16_t)m->type);
        gpw_put_u64(p + GPW_META_OFF_COUNT, m->count);
        memcpy(p + GPW_META_FIXED, m->key, keylen);
        unsigned char *v = p + GPW_META_FIXED + keylen;
        switch (m->type) {
        case GP_META_STR: memcpy(v, m->str, m->count); break;
        case GP_META_I64: gpw_put_u64(v, (uint64_t)m->i64); break;
        case GP_META_F64: {
            uint64_t bits;
            memcpy(&bits, &m->f64, 8);
            gpw_put_u64(v, bits);
            break;
        }
        case GP_META_I64_ARRAY:
            for (size_t k = 0; k < m->count; k++)
                gpw_put_u64(v + 8 * k, (uint64_t)m->i64s[k]);
            break;
        case GP_META_F64_ARRAY:
            for (size_t k = 0; k < m->count; k++) {
                uint64_t bits;
                memcpy(&bits, &m->f64s[k], 8);
                gpw_put_u64(v + 8 * k, bits);
            }
            break;
        }
        p += meta_entry_size(m);
    }
    for (size_t i = 0; i < wr->ntensor; i++) {
        const struct wtensor *t = &wr->tensors[i];
        size_t namelen = strlen(t->name);
        gpw_put_u16(p + GPW_TENSOR_OFF_NAMELEN, (uint16_t)namelen);
        gpw_put_u16(p + GPW_TENSOR_OFF_DTYPE, GP_DTYPE_F32);
        gpw_put_u32(p + GPW_TENSOR_OFF_NDIM, (uint32_t)t->ndim);
        for (int d = 0; d < t->ndim; d++)
            gpw_put_u64(p + GPW_TENSOR_OFF_DIMS + 8 * d, (uint64_t)t->dims[d]);
        gpw_put_u64(p + GPW_TENSOR_OFF_OFFSET, offs[i]);
        gpw_put_u64(p + GPW_TENSOR_OFF_SIZE, t->bytes);
        memcpy(p + GPW_TENSOR_FIXED, t->name, namelen);
        p += tensor_entry_size(t);
    }
}

int gp_weights_writer_write(const gp_weights_writer *wr, const char *path,
                            gp_error *err)
{
    if (!wr || !path)
        return GP_FAIL(err, GP_ERR_ARG, "gp_weights_writer_write: NULL argument");

    /* Layout (FORMAT.md section 1): header, metadata, table, data. */
    uint64_t meta_size = 0, table_size = 0;
    for (size_t i = 0; i < wr->nmeta; i++) meta_size += meta_entry_size(&wr->meta[i]);
    for (size_t i = 0; i < wr->ntensor; i++) table_size += tensor_entry_size(&wr->tensors[i]);
    uint64_t data_off = gpw_round_up(GPW_HEADER_SIZE + meta_size + table_size,
                                     GP_WEIGHTS_ALIGN);
    if (data_off > SIZE_MAX)
        return GP_FAIL(err, GP_ERR_NOMEM, "%s: metadata too large", path);
    uint64_t *offs = malloc((wr->ntensor ? wr->ntensor : 1) * sizeof *offs);
    unsigned char *head = calloc(1, (size_t)data_off);
    if (!offs || !head) {
        free(offs);
        free(head);
        return GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory", path);
    }
    uint64_t end = data_off;
    for (size_t i = 0; i < wr->ntensor; i++) {
        offs[i] = gpw_round_up(end, GP_WEIGHTS_ALIGN);
        end = offs[i] + wr->tensors[i].bytes;
    }
    encode_head(wr, head, meta_size, table_size, data_off, end - data_off, offs);

    /* The temporary file lives next to the target so rename() is atomic. */
    int st = GP_OK;
    size_t tlen = strlen(path) + sizeof ".tmp.XXXXXX";
    char *tmp = malloc(tlen);
    if (!tmp) {
        free(offs);
        free(head);
        return GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory", path);
    }
    snprintf(tmp, tlen, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        st = GP_FAIL(err, GP_ERR_IO, "%s: cannot create a temporary file in "
                     "its directory: %s", path, strerror(errno));
        free(tmp);
        free(offs);
        free(head);
        return st;
    }

    static const unsigned char zeros[GP_WEIGHTS_ALIGN];
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc_bytes(crc, head, data_off);   /* checksum field still zero */
    if (write_all(fd, head, (size_t)data_off)) goto io_fail;
    uint64_t pos = data_off;
    for (size_t i = 0; i < wr->ntensor; i++) {
        const struct wtensor *t = &wr->tensors[i];
        size_t pad = (size_t)(offs[i] - pos);
        crc = crc32(crc, zeros, (uInt)pad);
        if (write_all(fd, zeros, pad)) goto io_fail;
        crc = crc_bytes(crc, (const unsigned char *)t->data, t->bytes);
        if (write_all(fd, t->data, (size_t)t->bytes)) goto io_fail;
        pos = offs[i] + t->bytes;
    }
    unsigned char sum[4];
    gpw_put_u32(sum, (uint32_t)crc);
    if (pwrite(fd, sum, 4, GPW_OFF_CHECKSUM) != 4) goto io_fail;
    if (fchmod(fd, 0644) != 0) goto io_fail;
    if (fsync(fd) != 0) goto io_fail;
    int cst = close(fd);
    fd = -1;
    if (cst != 0) goto io_fail;
    if (rename(tmp, path) != 0) goto io_fail;

    /* Make the rename itself durable (best effort: not every file system
     * can sync a directory). */
    {
        char *dir = strdup(path);
        if (dir) {
            char *slash = strrchr(dir, '/');
            const char *d = slash ? (slash == dir ? "/" : (*slash = '\0', dir)) : ".";
            int dfd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (dfd >= 0) {
                (void)fsync(dfd);
                close(dfd);
            }
            free(dir);
        }
    }
    free(tmp);
    free(offs);
    free(head);
    return GP_OK;

io_fail:
    st = GP_FAIL(err, GP_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    if (fd >= 0) close(fd);
    unlink(tmp);
    free(tmp);
    free(offs);
    free(head);
    return st;
}
