/*
 * gp_weights_read.c: map and validate a weights file (weights/FORMAT.md).
 *
 * Every number taken from the file is checked before it is used as a size,
 * count, offset or shape: the file may be truncated, corrupt or crafted.
 * The order of the checks is the order of FORMAT.md section 6, so that each
 * refusal names the first field that is wrong.  Names and metadata values
 * are decoded into owned memory; tensor data are used in place from the
 * read-only mapping (64-byte aligned because the file offsets are).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "gp_weights_internal.h"

/* ------------------------------------------------------------ helpers */

/* zlib's crc32 takes a uInt length: feed large ranges in pieces. */
static uLong crc_range(uLong crc, const unsigned char *p, size_t n)
{
    const size_t chunk = (size_t)1 << 30;
    while (n > 0) {
        size_t k = n < chunk ? n : chunk;
        crc = crc32(crc, p, (uInt)k);
        p += k;
        n -= k;
    }
    return crc;
}

uint32_t gpw_file_crc32(const unsigned char *buf, size_t size)
{
    static const unsigned char zeros[4] = { 0, 0, 0, 0 };
    uLong crc = crc32(0L, Z_NULL, 0);
    if (size < GPW_OFF_CHECKSUM + 4) return (uint32_t)crc_range(crc, buf, size);
    crc = crc_range(crc, buf, GPW_OFF_CHECKSUM);
    crc = crc32(crc, zeros, 4);
    crc = crc_range(crc, buf + GPW_OFF_CHECKSUM + 4, size - GPW_OFF_CHECKSUM - 4);
    return (uint32_t)crc;
}

const char *gp_meta_type_name(int type)
{
    switch (type) {
    case GP_META_STR:       return "STR";
    case GP_META_I64:       return "I64";
    case GP_META_F64:       return "F64";
    case GP_META_I64_ARRAY: return "I64_ARRAY";
    case GP_META_F64_ARRAY: return "F64_ARRAY";
    default:                return "unknown";
    }
}

/* a * b into *r; 1 on overflow of uint64_t. */
static int mul_u64_overflows(uint64_t a, uint64_t b, uint64_t *r)
{
    if (a != 0 && b > UINT64_MAX / a) return 1;
    *r = a * b;
    return 0;
}

/* [off, off + size) lies inside a file of file_size bytes. */
static int range_in_file(uint64_t off, uint64_t size, uint64_t file_size)
{
    return off <= file_size && size <= file_size - off;
}

/* Zero bytes in buf[0..n). */
static int all_zero(const unsigned char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (buf[i]) return 0;
    return 1;
}

/* Format a shape as "[a, b, c]". */
static void shape_string(int ndim, const int64_t *dims, char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = '\0';
    len += (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < ndim && len < n; d++)
        len += (size_t)snprintf(buf + len, n - len, "%s%" PRId64,
                                d ? ", " : "", dims[d]);
    if (len < n) snprintf(buf + len, n - len, "]");
}

/* Sorting names with their index (qsort has no context pointer). */
struct name_index {
    const char *name;
    size_t      index;
};

static int cmp_name_index(const void *a, const void *b)
{
    const struct name_index *x = a, *y = b;
    return strcmp(x->name, y->name);
}

struct offset_index {
    uint64_t offset;
    uint64_t size;
    size_t   index;
};

static int cmp_offset_index(const void *a, const void *b)
{
    const struct offset_index *x = a, *y = b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/*
 * Sort n names into a freshly allocated index (*sorted); refuse duplicates
 * with a message naming `what` ("tensor", "metadata key").
 */
static int sort_unique(const char *path, const char *what, size_t n,
                       const char *(*name_of)(const gp_weights *, size_t),
                       const gp_weights *w, size_t **sorted, gp_error *err)
{
    *sorted = NULL;
    struct name_index *tmp = malloc((n ? n : 1) * sizeof *tmp);
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    if (!tmp || !idx) {
        free(tmp);
        free(idx);
        return GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory sorting %s names",
                       path, what);
    }
    for (size_t i = 0; i < n; i++) {
        tmp[i].name = name_of(w, i);
        tmp[i].index = i;
    }
    qsort(tmp, n, sizeof *tmp, cmp_name_index);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && !strcmp(tmp[i - 1].name, tmp[i].name)) {
            size_t a = tmp[i - 1].index < tmp[i].index ? tmp[i - 1].index : tmp[i].index;
            size_t b = tmp[i - 1].index < tmp[i].index ? tmp[i].index : tmp[i - 1].index;
            int st = GP_FAIL(err, GP_ERR_FORMAT,
                             "%s: duplicate %s name '%s' (entries %zu and %zu)",
                             path, what, tmp[i].name, a, b);
            free(tmp);
            free(idx);
            return st;
        }
        idx[i] = tmp[i].index;
    }
    free(tmp);
    *sorted = idx;
    return GP_OK;
}

static const char *tensor_name_of(const gp_weights *w, size_t i)
{
    return w->tensors[i].name;
}

static const char *meta_key_of(const gp_weights *w, size_t i)
{
    return w->meta[i].key;
}

/* Copy n name bytes into a NUL-terminated string; refuse embedded NULs. */
static int copy_name(const char *path, const char *what, size_t entry,
                     const unsigned char *src, size_t n, char **out,
                     gp_error *err)
{
    if (memchr(src, '\0', n))
        return GP_FAIL(err, GP_ERR_FORMAT,
                       "%s: %s entry %zu: name contains a NUL byte", path, what,
                       entry);
    char *s = malloc(n + 1);
    if (!s)
        return GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory", path);
    memcpy(s, src, n);
    s[n] = '\0';
    *out = s;
    return GP_OK;
}

/* ------------------------------------------------------------ header */

struct section {
    const char *name;
    uint64_t    offset, size;
};

static int check_header(gp_weights *w, struct section sec[3], uint64_t counts[2],
                        gp_error *err)
{
    const unsigned char *h = w->map;
    const char *path = w->path;

    if (memcmp(h + GPW_OFF_MAGIC, GP_WEIGHTS_MAGIC, 8) != 0)
        return GP_FAIL(err, GP_ERR_FORMAT,
                       "%s: bad magic: not a galpost weights file (expected "
                       "\"" GP_WEIGHTS_MAGIC "\")", path);
    uint32_t version = gpw_get_u32(h + GPW_OFF_VERSION);
    if (version != GP_WEIGHTS_VERSION)
        return GP_FAIL(err, GP_ERR_FORMAT,
                       "%s: unsupported format version %" PRIu32
                       " (this galpost reads version %u)", path, version,
                       GP_WEIGHTS_VERSION);
    uint32_t header_size = gpw_get_u32(h + GPW_OFF_HEADER_SIZE);
    if (header_size != GPW_HEADER_SIZE)
        return GP_FAIL(err, GP_ERR_FORMAT,
                       "%s: header size field is %" PRIu32 ", expected %d",
                       path, header_size, GPW_HEADER_SIZE);
    uint64_t file_size = gpw_get_u64(h + GPW_OFF_FILE_SIZE);
    if (file_size != (uint64_t)w->size)
        return GP_FAIL(err, GP_ERR_FORMAT,
                       "%s: file size field is %" PRIu64 " bytes but the file "
                       "has %zu (truncated or extended)", path, file_size,
                       w->size);
    uint32_t flags = gpw_get_u32(h + GPW_OFF_FLAGS);
    if (flags != 0)
        return GP_FAIL(err, GP_ERR_FORMAT,
                       "%s: flags field is 0x%08" PRIx32 ", expected 0", path,
                       flags);
    if (!all_zero(h + GPW_OFF_RESERVED, GPW_HEADER_SIZE - GPW_OFF_RESERVED))
        return GP_FAIL(err, GP_ERR_FORMAT,
                       "%s: reserved header bytes %d..%d are not zero", path,
                       GPW_OFF_RESERVED, GPW_HEADER_SIZE - 1);

    w->version = version;
    w->checksum = gpw_get_u32(h + GPW_OFF_CHECKSUM);
    uint32_t crc = gpw_file_crc32(w->map, w->size);
    if (crc != w->checksum)
        return GP_FAIL(err, GP_ERR_FORMAT,
                       "%s: checksum mismatch: header has 0x%08" PRIx32
                       ", contents give 0x%08" PRIx32 " (file corrupt)", path,
                       w->checksum, crc);

    sec[0].name = "metadata section";
    sec[0].offset = gpw_get_u64(h + GPW_OFF_META_OFFSET);
    sec[0].size = gpw_get_u64(h + GPW_OFF_META_SIZE);
    sec[1].name = "tensor table";
    sec[1].offset = gpw_get_u64(h + GPW_OFF_TABLE_OFFSET);
    sec[1].size = gpw_get_u64(h + GPW_OFF_TABLE_SIZE);
    sec[2].name = "data section";
    sec[2].offset = gpw_get_u64(h + GPW_OFF_DATA_OFFSET);
    sec[2].size = gpw_get_u64(h + GPW_OFF_DATA_SIZE);
    counts[0] = gpw_get_u64(h + GPW_OFF_META_COUNT);
    counts[1] = gpw_get_u64(h + GPW_OFF_TABLE_COUNT);

    for (int i = 0; i < 3; i++) {
        if (sec[i].offset < GPW_HEADER_SIZE)
            return GP_FAIL(err, GP_ERR_FORMAT,
                           "%s: %s offset %" PRIu64 " lies inside the %d-byte "
                           "header", path, sec[i].name, sec[i].offset,
                           GPW_HEADER_SIZE);
        if (!range_in_file(sec[i].offset, sec[i].size, file_size))
            return GP_FAIL(err, GP_ERR_FORMAT,
                           "%s: %s (offset %" PRIu64 ", size %" PRIu64
                           ") extends past the end of the %" PRIu64
                           "-byte file", path, sec[i].name, sec[i].offset,
                           sec[i].size, file_size);
        if (sec[i].offset % 8 != 0)
            return GP_FAIL(err, GP_ERR_FORMAT,
                           "%s: %s offset %" PRIu64 " is not a multiple of 8",
                           path, sec[i].name, sec[i].offset);
    }
    if (sec[2].offset + sec[2].size != file_size)
        return GP_FAIL(err, GP_ERR_FORMAT,
                       "%s: data section ends at byte %" PRIu64 ", not at the "
                       "end of the %" PRIu64 "-byte file", path,
                       sec[2].offset + sec[2].size, file_size);
    if (sec[2].offset % GP_WEIGHTS_ALIGN != 0)
        return GP_FAIL(err, GP_ERR_FORMAT,
                       "%s: data section offset %" PRIu64
                       " is not a multiple of %d", path, sec[2].offset,
                       GP_WEIGHTS_ALIGN);
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < 3; j++) {
            if (!sec[i].size || !sec[j].size) continue;
            if (sec[i].offset < sec[j].offset + sec[j].size &&
                sec[j].offset < sec[i].offset + sec[i].size)
                return GP_FAIL(err, GP_ERR_FORMAT,
                               "%s: %s [%" PRIu64 ", %" PRIu64 ") overlaps "
                               "%s [%" PRIu64 ", %" PRIu64 ")", path,
                               sec[i].name, sec[i].offset,
                               sec[i].offset + sec[i].size, sec[j].name,
                               sec[j].offset, sec[j].offset + sec[j].size);
        }
    return GP_OK;
}

/* ------------------------------------------------------------ metadata */

static int parse_meta(gp_weights *w, const struct section *sec, uint64_t count,
                      gp_error *err)
{
    const char *path = w->path;
    /* The smallest entry is 24 bytes (16 fixed + a 1-byte key, padded). */
    if (count > sec->size / (GPW_META_FIXED + 8))
        return GP_FAIL(err, GP_ERR_FORMAT,
                       "%s: metadata count %" PRIu64 " cannot fit in the %"
                       PRIu64 "-byte metadata section", path, count, sec->size);
    w->meta = calloc(count ? (size_t)count : 1, sizeof *w->meta);
    if (!w->meta)
        return GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory for %" PRIu64
                       " metadata entries", path, count);
    w->nmeta = (size_t)count;

    const unsigned char *base = w->map + sec->offset;
    const uint64_t end = sec->size;
    uint64_t pos = 0;
    for (size_t i = 0; i < w->nmeta; i++) {
        gp_meta_entry *m = &w->meta[i];
        if (end - pos < GPW_META_FIXED)
            return GP_FAIL(err, GP_ERR_FORMAT,
                           "%s: metadata entry %zu is truncated at the end of "
                           "the metadata section", path, i);
        const unsigned char *e = base + pos;
        uint16_t keylen = gpw_get_u16(e + GPW_META_OFF_KEYLEN);
        uint16_t type = gpw_get_u16(e + GPW_META_OFF_TYPE);
        uint32_t resv = gpw_get_u32(e + GPW_META_OFF_RESV);
        uint64_t n = gpw_get_u64(e + GPW_META_OFF_COUNT);
        if (keylen < 1 || keylen > GP_WEIGHTS_NAME_MAX)
            return GP_FAIL(err, GP_ERR_FORMAT,
                           "%s: metadata entry %zu: key length %u outside "
                           "1..%d", path, i, keylen, GP_WEIGHTS_NAME_MAX);
        if (end - pos - GPW_META_FIXED < keylen)
            return GP_FAIL(err, GP_ERR_FORMAT,
                           "%s: metadata entry %zu: key of %u bytes extends "
                           "past the metadata section", path, i, keylen);
        char *key = NULL;
        int st = copy_name(path, "metadata", i, e + GPW_META_FIXED, keylen,
                           &key, err);
        if (st) return st;
        m->key = key;
        if (resv != 0)
            return GP_FAIL(err, GP_ERR_FORMAT,
                           "%s: metadata '%s': reserved field is %" PRIu32
                           ", expected 0", path, key, resv);

        uint64_t vbytes;
        switch (type) {
        case GP_META_STR:
            vbytes = n;
            break;
        case GP_META_I64:
        case GP_META_F64:
            if (n != 1)
                return GP_FAIL(err, GP_ERR_FORMAT,
                               "%s: metadata '%s': count %" PRIu64 " for a "
                               "scalar %s, expected 1", path, key, n,
                               gp_meta_type_name(type));
            vbytes = 8;
            break;
        case GP_META_I64_ARRAY:
        case GP_META_F64_ARRAY:
            if (n < 1)
                return GP_FAIL(err, GP_ERR_FORMAT,
                               "%s: metadata '%s': empty %s", path, key,
                               gp_meta_type_name(type));
            if (mul_u64_overflows(n, 8, &vbytes))
                return GP_FAIL(err, GP_ERR_FORMAT,
                               "%s: metadata '%s': count %" PRIu64
                               " overflows", path, key, n);
            break;
        default:
            return GP_FAIL(err, GP_ERR_FORMAT,
                           "%s: metadata '%s': unknown type %u", path, key,
                           type);
        }
        uint64_t avail = end - pos - GPW_META_FIXED - keylen;
        if (vbytes > avail)
            return GP_FAIL(err, GP_ERR_FORMAT,
                           "%s: metadata '%s': %s value of %" PRIu64
                           " bytes extends past the metadata section", path,
                           key, gp_meta_type_name(type), vbytes);
        uint64_t used = GPW_META_FIXED + keylen + vbytes;
        uint64_t padded = gpw_round_up(used, 8);
        if (padded > end - pos)
            return GP_FAIL(err, GP_ERR_FORMAT,
                           "%s: metadata '%s': padding extends past the "
                           "metadata section", path, key);
        if (!all_zero(e + used, (size_t)(padded - used)))
            return GP_FAIL(err, GP_ERR_FORMAT,
                           "%s: metadata '%s': padding bytes are not zero",
                           path, key);

        const unsigned char *v = e + GPW_META_FIXED + keylen;
        m->type = (gp_meta_type)type;
        m->count = (size_t)n;
        switch (type) {
        case GP_META_STR: {
            if (memchr(v, '\0', (size_t)n))
                return GP_FAIL(err, GP_ERR_FORMAT,
                               "%s: metadata '%s': string contains a NUL byte",
                               path, key);
            char *s = malloc((size_t)n + 1);
            if (!s) return GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory", path);
            memcpy(s, v, (size_t)n);
            s[n] = '\0';
            m->str = s;
            break;
        }
        case GP_META_I64:
            m->i64 = (int64_t)gpw_get_u64(v);
            break;
        case GP_META_F64: {
            uint64_t bits = gpw_get_u64(v);
            memcpy(&m->f64, &bits, 8);
            if (!isfinite(m->f64))
                return GP_FAIL(err, GP_ERR_FORMAT,
                               "%s: metadata '%s': value is not finite", path,
                               key);
            break;
        }
        case GP_META_I64_ARRAY: {
            int64_t *a = malloc((size_t)vbytes);
            if (!a) return GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory", path);
            for (size_t k = 0; k < n; k++) a[k] = (int64_t)gpw_get_u64(v + 8 * k);
            m->i64s = a;
            break;
        }
        case GP_META_F64_ARRAY: {
            double *a = malloc((size_t)vbytes);
            if (!a) return GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory", path);
            m->f64s = a;
            for (size_t k = 0; k < n; k++) {
                uint64_t bits = gpw_get_u64(v + 8 * k);
                memcpy(&a[k], &bits, 8);
                if (!isfinite(a[k]))
                    return GP_FAIL(err, GP_ERR_FORMAT,
                                   "%s: metadata '%s': element %zu is not "
                                   "finite", path, key, k);
            }
            break;
        }
        }
        pos += padded;
    }
    if (pos != end)
        return GP_FAIL(err, GP_ERR_FORMAT,
                       "%s: metadata section has %" PRIu64 " bytes after its "
                       "%zu entries (size field wrong)", path, end - pos,
                       w->nmeta);
    return sort_unique(path, "metadata key", w->nmeta, meta_key_of, w,
                       &w->meta_by_key, err);
}

/* ------------------------------------------------------------ tensors */

static int parse_tensors(gp_weights *w, const struct section *table,
                         const struct section *data, uint64_t count,
                         gp_error *err)
{
    const char *path = w->path;
    if (count > table->size / (GPW_TENSOR_FIXED + 8))
        return GP_FAIL(err, GP_ERR_FORMAT,
                       "%s: tensor count %" PRIu64 " cannot fit in the %" PRIu64
                       "-byte tensor table", path, count, table->size);
    w->tensors = calloc(count ? (size_t)count : 1, sizeof *w->tensors);
    if (!w->tensors)
        return GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory for %" PRIu64
                       " tensors", path, count);
    w->ntensor = (size_t)count;
    struct offset_index *spans = malloc((count ? (size_t)count : 1) * sizeof *spans);
    if (!spans)
        return GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory", path);

    const unsigned char *base = w->map + table->offset;
    const uint64_t end = table->size;
    const uint64_t data_end = data->offset + data->size;
    uint64_t pos = 0;
    int st = GP_OK;
    for (size_t i = 0; i < w->ntensor; i++) {
        gp_tensor_info *t = &w->tensors[i];
        if (end - pos < GPW_TENSOR_FIXED) {
            st = GP_FAIL(err, GP_ERR_FORMAT,
                         "%s: tensor entry %zu is truncated at the end of the "
                         "tensor table", path, i);
            goto out;
        }
        const unsigned char *e = base + pos;
        uint16_t namelen = gpw_get_u16(e + GPW_TENSOR_OFF_NAMELEN);
        if (namelen < 1 || namelen > GP_WEIGHTS_NAME_MAX) {
            st = GP_FAIL(err, GP_ERR_FORMAT,
                         "%s: tensor entry %zu: name length %u outside 1..%d",
                         path, i, namelen, GP_WEIGHTS_NAME_MAX);
            goto out;
        }
        uint64_t used = GPW_TENSOR_FIXED + (uint64_t)namelen;
        uint64_t padded = gpw_round_up(used, 8);
        if (padded > end - pos) {
            st = GP_FAIL(err, GP_ERR_FORMAT,
                         "%s: tensor entry %zu: name of %u bytes extends past "
                         "the tensor table", path, i, namelen);
            goto out;
        }
        char *name = NULL;
        st = copy_name(path, "tensor", i, e + GPW_TENSOR_FIXED, namelen, &name,
                       err);
        if (st) goto out;
        t->name = name;
        if (!all_zero(e + used, (size_t)(padded - used))) {
            st = GP_FAIL(err, GP_ERR_FORMAT,
                         "%s: tensor '%s': padding bytes are not zero", path,
                         name);
            goto out;
        }
        uint16_t dtype = gpw_get_u16(e + GPW_TENSOR_OFF_DTYPE);
        if (dtype != GP_DTYPE_F32) {
            st = GP_FAIL(err, GP_ERR_FORMAT,
                         "%s: tensor '%s': unknown dtype %u (only F32 = %d)",
                         path, name, dtype, GP_DTYPE_F32);
            goto out;
        }
        t->dtype = GP_DTYPE_F32;
        uint32_t ndim = gpw_get_u32(e + GPW_TENSOR_OFF_NDIM);
        if (ndim < 1 || ndim > GP_WEIGHTS_MAX_DIMS) {
            st = GP_FAIL(err, GP_ERR_FORMAT,
                         "%s: tensor '%s': ndim %" PRIu32 " outside 1..%d",
                         path, name, ndim, GP_WEIGHTS_MAX_DIMS);
            goto out;
        }
        t->ndim = (int)ndim;
        uint64_t nelem = 1;
        for (int d = 0; d < GP_WEIGHTS_MAX_DIMS; d++) {
            uint64_t dim = gpw_get_u64(e + GPW_TENSOR_OFF_DIMS + 8 * d);
            if (d >= t->ndim) {
                if (dim != 0) {
                    st = GP_FAIL(err, GP_ERR_FORMAT,
                                 "%s: tensor '%s': unused dimension %d is %"
                                 PRIu64 ", expected 0", path, name, d, dim);
                    goto out;
                }
                continue;
            }
            if (dim < 1 || dim > (uint64_t)INT64_MAX) {
                st = GP_FAIL(err, GP_ERR_FORMAT,
                             "%s: tensor '%s': dimension %d is %" PRId64
                             ", must be >= 1", path, name, d, (int64_t)dim);
                goto out;
            }
            t->dims[d] = (int64_t)dim;
            if (mul_u64_overflows(nelem, dim, &nelem) || nelem > (uint64_t)INT64_MAX) {
                st = GP_FAIL(err, GP_ERR_FORMAT,
                             "%s: tensor '%s': the element count of its shape "
                             "overflows", path, name);
                goto out;
            }
        }
        uint64_t bytes;
        if (mul_u64_overflows(nelem, sizeof(float), &bytes) ||
            bytes > (uint64_t)SIZE_MAX) {
            st = GP_FAIL(err, GP_ERR_FORMAT,
                         "%s: tensor '%s': byte size of %" PRIu64
                         " elements overflows", path, name, nelem);
            goto out;
        }
        t->nelem = (int64_t)nelem;
        uint64_t off = gpw_get_u64(e + GPW_TENSOR_OFF_OFFSET);
        uint64_t size = gpw_get_u64(e + GPW_TENSOR_OFF_SIZE);
        if (size != bytes) {
            st = GP_FAIL(err, GP_ERR_FORMAT,
                         "%s: tensor '%s': byte size %" PRIu64 " but its shape "
                         "needs %" PRIu64, path, name, size, bytes);
            goto out;
        }
        if (off % GP_WEIGHTS_ALIGN != 0) {
            st = GP_FAIL(err, GP_ERR_FORMAT,
                         "%s: tensor '%s': data offset %" PRIu64
                         " is not a multiple of %d", path, name, off,
                         GP_WEIGHTS_ALIGN);
            goto out;
        }
        if (off < data->offset || off > data_end || size > data_end - off) {
            st = GP_FAIL(err, GP_ERR_FORMAT,
                         "%s: tensor '%s': data [%" PRIu64 ", +%" PRIu64
                         ") outside the data section [%" PRIu64 ", %" PRIu64
                         ")", path, name, off, size, data->offset, data_end);
            goto out;
        }
        t->data = (const float *)(const void *)(w->map + off);
        spans[i].offset = off;
        spans[i].size = size;
        spans[i].index = i;
        pos += padded;
    }
    if (pos != end) {
        st = GP_FAIL(err, GP_ERR_FORMAT,
                     "%s: tensor table has %" PRIu64 " bytes after its %zu "
                     "entries (size field wrong)", path, end - pos, w->ntensor);
        goto out;
    }
    st = sort_unique(path, "tensor", w->ntensor, tensor_name_of, w,
                     &w->tensor_by_name, err);
    if (st) goto out;

    qsort(spans, w->ntensor, sizeof *spans, cmp_offset_index);
    for (size_t i = 1; i < w->ntensor; i++)
        if (spans[i].offset < spans[i - 1].offset + spans[i - 1].size) {
            st = GP_FAIL(err, GP_ERR_FORMAT,
                         "%s: tensors '%s' and '%s' overlap in the data "
                         "section", path, w->tensors[spans[i - 1].index].name,
                         w->tensors[spans[i].index].name);
            goto out;
        }

    /* Non-finite weights would silently poison every posterior. */
    for (size_t i = 0; i < w->ntensor; i++) {
        const gp_tensor_info *t = &w->tensors[i];
        for (int64_t k = 0; k < t->nelem; k++)
            if (!isfinite(t->data[k])) {
                st = GP_FAIL(err, GP_ERR_FORMAT,
                             "%s: tensor '%s': element %" PRId64 " is %s",
                             path, t->name, k,
                             isnan(t->data[k]) ? "NaN" : "infinite");
                goto out;
            }
    }
out:
    free(spans);
    return st;
}

/* ------------------------------------------------------------ open/close */

int gp_weights_open(const char *path, gp_weights **out, gp_error *err)
{
    if (out) *out = NULL;
    if (!path || !out)
        return GP_FAIL(err, GP_ERR_ARG, "gp_weights_open: NULL %s",
                       !path ? "path" : "output pointer");
    gp_weights *w = calloc(1, sizeof *w);
    if (!w) return GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory", path);
    w->path = strdup(path);
    if (!w->path) {
        free(w);
        return GP_FAIL(err, GP_ERR_NOMEM, "%s: out of memory", path);
    }

    int st = GP_OK;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        st = GP_FAIL(err, GP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        goto fail;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        st = GP_FAIL(err, GP_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        goto fail;
    }
    if (!S_ISREG(sb.st_mode)) {
        st = GP_FAIL(err, GP_ERR_IO, "%s: not a regular file", path);
        close(fd);
        goto fail;
    }
    if (sb.st_size < GPW_HEADER_SIZE) {
        st = GP_FAIL(err, GP_ERR_FORMAT,
                     "%s: file is %lld bytes, shorter than the %d-byte header "
                     "(empty or truncated)", path, (long long)sb.st_size,
                     GPW_HEADER_SIZE);
        close(fd);
        goto fail;
    }
    if ((uintmax_t)sb.st_size > SIZE_MAX) {
        st = GP_FAIL(err, GP_ERR_FORMAT, "%s: file of %lld bytes is too large "
                     "to map", path, (long long)sb.st_size);
        close(fd);
        goto fail;
    }
    w->size = (size_t)sb.st_size;
    void *map = mmap(NULL, w->size, PROT_READ, MAP_PRIVATE, fd, 0);
    int map_errno = errno;
    close(fd);
    if (map == MAP_FAILED) {
        st = GP_FAIL(err, GP_ERR_IO, "%s: cannot map %zu bytes: %s", path,
                     w->size, strerror(map_errno));
        goto fail;
    }
    w->map = map;

    struct section sec[3];
    uint64_t counts[2] = { 0, 0 };
    st = check_header(w, sec, counts, err);
    if (!st) st = parse_meta(w, &sec[0], counts[0], err);
    if (!st) st = parse_tensors(w, &sec[1], &sec[2], counts[1], err);
    if (st) goto fail;
    *out = w;
    return GP_OK;
fail:
    gp_weights_close(w);
    return st;
}

void gp_weights_close(gp_weights *w)
{
    if (!w) return;
    if (w->map) munmap((void *)w->map, w->size);
    if (w->tensors)
        for (size_t i = 0; i < w->ntensor; i++) free((char *)w->tensors[i].name);
    if (w->meta)
        for (size_t i = 0; i < w->nmeta; i++) {
            free((char *)w->meta[i].key);
            free((char *)w->meta[i].str);
            free((int64_t *)w->meta[i].i64s);
            free((double *)w->meta[i].f64s);
        }
    free(w->tensors);
    free(w->tensor_by_name);
    free(w->meta);
    free(w->meta_by_key);
    free(w->path);
    free(w);
}

/* ------------------------------------------------------------ accessors */

const char *gp_weights_path(const gp_weights *w) { return w ? w->path : NULL; }
uint32_t gp_weights_version(const gp_weights *w) { return w ? w->version : 0; }
uint64_t gp_weights_file_size(const gp_weights *w) { return w ? w->size : 0; }
uint32_t gp_weights_checksum(const gp_weights *w) { return w ? w->checksum : 0; }
size_t gp_weights_tensor_count(const gp_weights *w) { return w ? w->ntensor : 0; }
size_t gp_weights_meta_count(const gp_weights *w) { return w ? w->nmeta : 0; }

int gp_weights_tensor_at(const gp_weights *w, size_t i, gp_tensor_info *out,
                         gp_error *err)
{
    if (!w || !out)
        return GP_FAIL(err, GP_ERR_ARG, "gp_weights_tensor_at: NULL argument");
    if (i >= w->ntensor)
        return GP_FAIL(err, GP_ERR_ARG, "%s: tensor index %zu out of range "
                       "(%zu tensors)", w->path, i, w->ntensor);
    *out = w->tensors[i];
    return GP_OK;
}

int gp_weights_meta_at(const gp_weights *w, size_t i, gp_meta_entry *out,
                       gp_error *err)
{
    if (!w || !out)
        return GP_FAIL(err, GP_ERR_ARG, "gp_weights_meta_at: NULL argument");
    if (i >= w->nmeta)
        return GP_FAIL(err, GP_ERR_ARG, "%s: metadata index %zu out of range "
                       "(%zu entries)", w->path, i, w->nmeta);
    *out = w->meta[i];
    return GP_OK;
}

/* Binary search of a sorted index; SIZE_MAX when absent. */
static size_t find_sorted(const gp_weights *w, const size_t *sorted, size_t n,
                          const char *(*name_of)(const gp_weights *, size_t),
                          const char *name)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, name_of(w, sorted[mid]));
        if (c == 0) return sorted[mid];
        if (c < 0) hi = mid; else lo = mid + 1;
    }
    return SIZE_MAX;
}

int gp_weights_tensor(const gp_weights *w, const char *name,
                      gp_tensor_info *out, gp_error *err)
{
    if (!w || !name || !out)
        return GP_FAIL(err, GP_ERR_ARG, "gp_weights_tensor: NULL argument");
    size_t i = find_sorted(w, w->tensor_by_name, w->ntensor, tensor_name_of, name);
    if (i == SIZE_MAX)
        return GP_FAIL(err, GP_ERR_NOTFOUND, "%s: no tensor '%s'", w->path, name);
    *out = w->tensors[i];
    return GP_OK;
}

int gp_weights_tensor_shaped(const gp_weights *w, const char *name, int ndim,
                             const int64_t *dims, const float **data,
                             gp_error *err)
{
    if (!w || !name || !dims || !data)
        return GP_FAIL(err, GP_ERR_ARG, "gp_weights_tensor_shaped: NULL argument");
    if (ndim < 1 || ndim > GP_WEIGHTS_MAX_DIMS)
        return GP_FAIL(err, GP_ERR_ARG, "%s: tensor '%s': expected ndim %d "
                       "outside 1..%d", w->path, name, ndim, GP_WEIGHTS_MAX_DIMS);
    gp_tensor_info t;
    int st = gp_weights_tensor(w, name, &t, err);
    if (st) return st;
    int same = t.ndim == ndim;
    for (int d = 0; same && d < ndim; d++) same = t.dims[d] == dims[d];
    if (!same) {
        char want[128], got[128];
        shape_string(ndim, dims, want, sizeof want);
        shape_string(t.ndim, t.dims, got, sizeof got);
        return GP_FAIL(err, GP_ERR_FORMAT, "%s: tensor '%s' has shape %s, "
                       "expected %s", w->path, name, got, want);
    }
    *data = t.data;
    return GP_OK;
}

/* The entry for key with the given type, or a NOTFOUND / FORMAT failure. */
static int find_meta(const gp_weights *w, const char *key, gp_meta_type type,
                     const gp_meta_entry **out, gp_error *err)
{
    if (!w || !key)
        return GP_FAIL(err, GP_ERR_ARG, "metadata look-up: NULL argument");
    size_t i = find_sorted(w, w->meta_by_key, w->nmeta, meta_key_of, key);
    if (i == SIZE_MAX)
        return GP_FAIL(err, GP_ERR_NOTFOUND, "%s: no metadata key '%s'",
                       w->path, key);
    if (w->meta[i].type != type)
        return GP_FAIL(err, GP_ERR_FORMAT, "%s: metadata '%s' is %s, expected %s",
                       w->path, key, gp_meta_type_name(w->meta[i].type),
                       gp_meta_type_name(type));
    *out = &w->meta[i];
    return GP_OK;
}

int gp_weights_meta_str(const gp_weights *w, const char *key,
                        const char **val, gp_error *err)
{
    const gp_meta_entry *m;
    if (!val) return GP_FAIL(err, GP_ERR_ARG, "gp_weights_meta_str: NULL value");
    int st = find_meta(w, key, GP_META_STR, &m, err);
    if (!st) *val = m->str;
    return st;
}

int gp_weights_meta_i64(const gp_weights *w, const char *key, int64_t *val,
                        gp_error *err)
{
    const gp_meta_entry *m;
    if (!val) return GP_FAIL(err, GP_ERR_ARG, "gp_weights_meta_i64: NULL value");
    int st = find_meta(w, key, GP_META_I64, &m, err);
    if (!st) *val = m->i64;
    return st;
}

int gp_weights_meta_f64(const gp_weights *w, const char *key, double *val,
                        gp_error *err)
{
    const gp_meta_entry *m;
    if (!val) return GP_FAIL(err, GP_ERR_ARG, "gp_weights_meta_f64: NULL value");
    int st = find_meta(w, key, GP_META_F64, &m, err);
    if (!st) *val = m->f64;
    return st;
}

int gp_weights_meta_i64_array(const gp_weights *w, const char *key,
                              const int64_t **vals, size_t *n, gp_error *err)
{
    const gp_meta_entry *m;
    if (!vals || !n)
        return GP_FAIL(err, GP_ERR_ARG, "gp_weights_meta_i64_array: NULL output");
    int st = find_meta(w, key, GP_META_I64_ARRAY, &m, err);
    if (!st) { *vals = m->i64s; *n = m->count; }
    return st;
}

int gp_weights_meta_f64_array(const gp_weights *w, const char *key,
                              const double **vals, size_t *n, gp_error *err)
{
    const gp_meta_entry *m;
    if (!vals || !n)
        return GP_FAIL(err, GP_ERR_ARG, "gp_weights_meta_f64_array: NULL output");
    int st = find_meta(w, key, GP_META_F64_ARRAY, &m, err);
    if (!st) { *vals = m->f64s; *n = m->count; }
    return st;
}
