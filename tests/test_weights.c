/*
 * test_weights.c: the weights file reader and writer (weights/FORMAT.md).
 *
 * - round trip of metadata of every type and of several tensors, values
 *   bit-identical, order and look-ups, typed and shaped look-up failures;
 * - a table of corrupt files, each refused with GP_ERR_FORMAT and a message
 *   naming the file and the field or tensor; files truncated at every byte;
 *   every byte of a valid file mutated (with the checksum repaired so that
 *   the deep checks are reached): never a crash, only GP_OK or GP_ERR_FORMAT;
 * - the writer's refusals and its atomic write.
 *
 * The byte offsets below are taken from weights/FORMAT.md, not from the
 * library, so the test also holds the implementation to the spec.
 *
 * `test_weights --write-example FILE` writes the round-trip file for
 * tests/test_model_info.sh and exits.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "galpost/gp_weights.h"

/* ------------------------------------------------- FORMAT.md layout */

enum {
    H_MAGIC = 0, H_VERSION = 8, H_HEADER_SIZE = 12, H_FILE_SIZE = 16,
    H_CHECKSUM = 24, H_FLAGS = 28, H_META_OFF = 32, H_META_SIZE = 40,
    H_META_COUNT = 48, H_TABLE_OFF = 56, H_TABLE_SIZE = 64, H_TABLE_COUNT = 72,
    H_DATA_OFF = 80, H_DATA_SIZE = 88, H_RESERVED = 96, HEADER = 128,
    M_KEYLEN = 0, M_TYPE = 2, M_RESV = 4, M_COUNT = 8, M_FIXED = 16,
    T_NAMELEN = 0, T_DTYPE = 2, T_NDIM = 4, T_DIMS = 8, T_OFFSET = 40,
    T_SIZE = 48, T_FIXED = 56
};

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint16_t get16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put16(unsigned char *p, uint16_t v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }

/* CRC-32 of the file with the checksum field as zero (FORMAT.md 5). */
static uint32_t file_crc(const unsigned char *buf, size_t size)
{
    unsigned char save[4];
    memcpy(save, buf + H_CHECKSUM, 4);
    unsigned char *b = (unsigned char *)buf;
    memset(b + H_CHECKSUM, 0, 4);
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), buf, (uInt)size);
    memcpy(b + H_CHECKSUM, save, 4);
    return crc;
}
static void fix_crc(unsigned char *buf, size_t size)
{
    put32(buf + H_CHECKSUM, file_crc(buf, size));
}

/* Byte offset of metadata entry i / tensor entry i in a file image. */
static unsigned char *meta_entry(unsigned char *buf, int i)
{
    unsigned char *e = buf + get64(buf + H_META_OFF);
    for (int k = 0; k < i; k++) {
        uint64_t n = get64(e + M_COUNT);
        uint64_t v = get16(e + M_TYPE) == 1 ? n : 8 * n;
        e += (M_FIXED + get16(e + M_KEYLEN) + v + 7) & ~(uint64_t)7;
    }
    return e;
}
static unsigned char *tensor_entry(unsigned char *buf, int i)
{
    unsigned char *e = buf + get64(buf + H_TABLE_OFF);
    for (int k = 0; k < i; k++)
        e += (T_FIXED + get16(e + T_NAMELEN) + 7) & ~(uint64_t)7;
    return e;
}

/* ------------------------------------------------- files and scratch */

static char scratch[256];

static const char *scratch_path(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", scratch, name);
    return buf[k];
}

static unsigned char *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    unsigned char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return buf;
}

static void spit(const char *path, const unsigned char *buf, size_t size)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (size) assert_int_equal(fwrite(buf, 1, size, f), size);
    assert_int_equal(fclose(f), 0);
}

static int file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* ------------------------------------------------- the example file */

#define N_CONV   48   /* enc.conv1.weight [4, 3, 2, 2] */
#define N_BIAS   4    /* enc.conv1.bias   [4] */
#define N_FLOW   15   /* flow.0.scale     [3, 5] and flow.1.scale [5, 3] */
#define N_LONG   40   /* norm.long        F64_ARRAY */

struct example {
    float   conv[N_CONV], bias[N_BIAS], flow0[N_FLOW], flow1[N_FLOW], one[1];
    double  mean[5], lng[N_LONG];
    int64_t widths[3];
};

static uint64_t rng_state;
static uint32_t rng_u32(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33);
}
static float rng_float(void)
{
    return ((float)rng_u32() / 1073741824.0f - 1.0f) * 3.0f;  /* [-3, 3) */
}

static void example_fill(struct example *ex)
{
    for (int i = 0; i < N_CONV; i++) ex->conv[i] = rng_float();
    for (int i = 0; i < N_BIAS; i++) ex->bias[i] = rng_float();
    for (int i = 0; i < N_FLOW; i++) ex->flow0[i] = rng_float();
    for (int i = 0; i < N_FLOW; i++) ex->flow1[i] = rng_float();
    /* values whose bits a careless writer would change */
    ex->conv[0] = -0.0f;
    ex->conv[1] = 1e-45f;           /* smallest subnormal */
    ex->conv[2] = FLT_MAX;
    ex->conv[3] = -FLT_MAX;
    ex->one[0] = 0.1f;
    double mean[5] = { 0.1, -2.5e10, 1e-300, 7.0, -0.0 };
    memcpy(ex->mean, mean, sizeof mean);
    for (int i = 0; i < N_LONG; i++) ex->lng[i] = i * 0.25 - 3.0;
    int64_t widths[3] = { 64, INT64_MIN, INT64_MAX };
    memcpy(ex->widths, widths, sizeof widths);
}

/* Metadata in file order: key, type. */
static const struct { const char *key; gp_meta_type type; } example_meta[] = {
    { "model.name",  GP_META_STR },
    { "model.seed",  GP_META_I64 },
    { "stretch.q",   GP_META_F64 },
    { "stretch.a",   GP_META_F64 },
    { "arch.widths", GP_META_I64_ARRAY },
    { "norm.mean",   GP_META_F64_ARRAY },
    { "norm.long",   GP_META_F64_ARRAY },
    { "empty",       GP_META_STR },
};
#define N_META (sizeof example_meta / sizeof example_meta[0])

static const char *const example_tensors[] = {
    "enc.conv1.weight", "enc.conv1.bias", "flow.0.scale", "flow.1.scale", "z"
};
#define N_TENSOR 5

static void example_write(const struct example *ex, const char *path)
{
    gp_error err;
    gp_weights_writer *wr = NULL;
    assert_int_equal(gp_weights_writer_new(&wr, &err), GP_OK);
    assert_int_equal(gp_weights_writer_set_str(wr, "model.name", "placeholder", &err), GP_OK);
    assert_int_equal(gp_weights_writer_set_i64(wr, "model.seed", -1234567890123LL, &err), GP_OK);
    assert_int_equal(gp_weights_writer_set_f64(wr, "stretch.q", 3.5, &err), GP_OK);
    assert_int_equal(gp_weights_writer_set_f64(wr, "stretch.a", 1.0 / 3.0, &err), GP_OK);
    assert_int_equal(gp_weights_writer_set_i64_array(wr, "arch.widths", ex->widths, 3, &err), GP_OK);
    assert_int_equal(gp_weights_writer_set_f64_array(wr, "norm.mean", ex->mean, 5, &err), GP_OK);
    assert_int_equal(gp_weights_writer_set_f64_array(wr, "norm.long", ex->lng, N_LONG, &err), GP_OK);
    assert_int_equal(gp_weights_writer_set_str(wr, "empty", "", &err), GP_OK);
    /* replacing a value keeps the key's place */
    assert_int_equal(gp_weights_writer_set_str(wr, "model.name", "galpost \"test\"\tmodel", &err), GP_OK);

    const int64_t dconv[] = { 4, 3, 2, 2 }, dbias[] = { 4 }, dflow0[] = { 3, 5 },
                  dflow1[] = { 5, 3 }, done[] = { 1 };
    assert_int_equal(gp_weights_writer_add_tensor(wr, "enc.conv1.weight", 4, dconv, ex->conv, &err), GP_OK);
    assert_int_equal(gp_weights_writer_add_tensor(wr, "enc.conv1.bias", 1, dbias, ex->bias, &err), GP_OK);
    assert_int_equal(gp_weights_writer_add_tensor(wr, "flow.0.scale", 2, dflow0, ex->flow0, &err), GP_OK);
    assert_int_equal(gp_weights_writer_add_tensor(wr, "flow.1.scale", 2, dflow1, ex->flow1, &err), GP_OK);
    assert_int_equal(gp_weights_writer_add_tensor(wr, "z", 1, done, ex->one, &err), GP_OK);
    int st = gp_weights_writer_write(wr, path, &err);
    if (st) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(st, GP_OK);
    gp_weights_writer_free(wr);
}

/* ------------------------------------------------- round trip */

static void expect_bits(const void *a, const void *b, size_t n)
{
    assert_memory_equal(a, b, n);
}

static void test_round_trip(void **state)
{
    (void)state;
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    rng_state = seed;
    print_message("round trip seed %llu\n", (unsigned long long)seed);
    struct example ex;
    example_fill(&ex);
    const char *path = scratch_path("round.gpw");
    example_write(&ex, path);

    gp_error err;
    gp_error_clear(&err);
    gp_weights *w = NULL;
    int st = gp_weights_open(path, &w, &err);
    if (st) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(st, GP_OK);
    assert_non_null(w);

    size_t size;
    unsigned char *raw = slurp(path, &size);
    assert_string_equal(gp_weights_path(w), path);
    assert_int_equal(gp_weights_version(w), 1);
    assert_int_equal(gp_weights_file_size(w), size);
    assert_int_equal(gp_weights_checksum(w), file_crc(raw, size));
    assert_int_equal(get32(raw + H_CHECKSUM), file_crc(raw, size));
    assert_memory_equal(raw, "GALPOSTW", 8);
    free(raw);

    /* metadata, in file order */
    assert_int_equal(gp_weights_meta_count(w), N_META);
    for (size_t i = 0; i < N_META; i++) {
        gp_meta_entry m;
        assert_int_equal(gp_weights_meta_at(w, i, &m, &err), GP_OK);
        assert_string_equal(m.key, example_meta[i].key);
        assert_int_equal(m.type, example_meta[i].type);
    }
    gp_meta_entry m;
    assert_int_equal(gp_weights_meta_at(w, N_META, &m, &err), GP_ERR_ARG);

    const char *s;
    int64_t i64;
    double f64;
    const int64_t *i64s;
    const double *f64s;
    size_t n;
    assert_int_equal(gp_weights_meta_str(w, "model.name", &s, &err), GP_OK);
    assert_string_equal(s, "galpost \"test\"\tmodel");
    assert_int_equal(gp_weights_meta_str(w, "empty", &s, &err), GP_OK);
    assert_string_equal(s, "");
    assert_int_equal(gp_weights_meta_i64(w, "model.seed", &i64, &err), GP_OK);
    assert_true(i64 == -1234567890123LL);
    assert_int_equal(gp_weights_meta_f64(w, "stretch.q", &f64, &err), GP_OK);
    assert_true(f64 == 3.5);
    assert_int_equal(gp_weights_meta_f64(w, "stretch.a", &f64, &err), GP_OK);
    double third = 1.0 / 3.0;
    expect_bits(&f64, &third, sizeof f64);
    assert_int_equal(gp_weights_meta_i64_array(w, "arch.widths", &i64s, &n, &err), GP_OK);
    assert_int_equal(n, 3);
    expect_bits(i64s, ex.widths, sizeof ex.widths);
    assert_int_equal(gp_weights_meta_f64_array(w, "norm.mean", &f64s, &n, &err), GP_OK);
    assert_int_equal(n, 5);
    expect_bits(f64s, ex.mean, sizeof ex.mean);
    assert_int_equal(gp_weights_meta_f64_array(w, "norm.long", &f64s, &n, &err), GP_OK);
    assert_int_equal(n, N_LONG);
    expect_bits(f64s, ex.lng, sizeof ex.lng);

    /* wrong type: GP_ERR_FORMAT naming file, key and both types */
    assert_int_equal(gp_weights_meta_i64(w, "stretch.q", &i64, &err), GP_ERR_FORMAT);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "'stretch.q' is F64, expected I64"));
    assert_int_equal(gp_weights_meta_str(w, "model.seed", &s, &err), GP_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "'model.seed' is I64, expected STR"));
    assert_int_equal(gp_weights_meta_f64(w, "norm.mean", &f64, &err), GP_ERR_FORMAT);
    assert_int_equal(gp_weights_meta_i64_array(w, "norm.mean", &i64s, &n, &err), GP_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "F64_ARRAY, expected I64_ARRAY"));
    assert_int_equal(gp_weights_meta_f64_array(w, "arch.widths", &f64s, &n, &err), GP_ERR_FORMAT);
    /* missing: GP_ERR_NOTFOUND naming file and key */
    assert_int_equal(gp_weights_meta_str(w, "model.nam", &s, &err), GP_ERR_NOTFOUND);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "'model.nam'"));
    assert_int_equal(gp_weights_meta_f64_array(w, "zzz", &f64s, &n, &err), GP_ERR_NOTFOUND);
    assert_non_null(strstr(err.msg, "'zzz'"));

    /* tensors, in file order, 64-byte aligned, bit-identical */
    const float *want[N_TENSOR] = { ex.conv, ex.bias, ex.flow0, ex.flow1, ex.one };
    const int64_t nelem[N_TENSOR] = { N_CONV, N_BIAS, N_FLOW, N_FLOW, 1 };
    assert_int_equal(gp_weights_tensor_count(w), N_TENSOR);
    for (size_t i = 0; i < N_TENSOR; i++) {
        gp_tensor_info t, u;
        assert_int_equal(gp_weights_tensor_at(w, i, &t, &err), GP_OK);
        assert_string_equal(t.name, example_tensors[i]);
        assert_int_equal(t.dtype, GP_DTYPE_F32);
        assert_int_equal(t.nelem, nelem[i]);
        assert_int_equal((uintptr_t)t.data % 64, 0);
        expect_bits(t.data, want[i], (size_t)nelem[i] * sizeof(float));
        assert_int_equal(gp_weights_tensor(w, example_tensors[i], &u, &err), GP_OK);
        assert_ptr_equal(u.data, t.data);
    }
    gp_tensor_info t;
    assert_int_equal(gp_weights_tensor_at(w, N_TENSOR, &t, &err), GP_ERR_ARG);
    assert_int_equal(gp_weights_tensor(w, "flow.2.scale", &t, &err), GP_ERR_NOTFOUND);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "'flow.2.scale'"));

    /* shaped look-ups */
    const float *data = NULL;
    const int64_t conv[] = { 4, 3, 2, 2 }, convx[] = { 4, 3, 2, 3 }, flow1[] = { 5, 3 };
    assert_int_equal(gp_weights_tensor_shaped(w, "enc.conv1.weight", 4, conv, &data, &err), GP_OK);
    expect_bits(data, ex.conv, sizeof ex.conv);
    assert_int_equal(gp_weights_tensor_shaped(w, "flow.1.scale", 2, flow1, &data, &err), GP_OK);
    expect_bits(data, ex.flow1, sizeof ex.flow1);
    assert_int_equal(gp_weights_tensor_shaped(w, "enc.conv1.weight", 4, convx, &data, &err), GP_ERR_FORMAT);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "'enc.conv1.weight' has shape [4, 3, 2, 2], expected [4, 3, 2, 3]"));
    assert_int_equal(gp_weights_tensor_shaped(w, "flow.0.scale", 2, flow1, &data, &err), GP_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "[3, 5], expected [5, 3]"));
    assert_int_equal(gp_weights_tensor_shaped(w, "enc.conv1.bias", 2, flow1, &data, &err), GP_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "has shape [4], expected [5, 3]"));
    assert_int_equal(gp_weights_tensor_shaped(w, "nope", 2, flow1, &data, &err), GP_ERR_NOTFOUND);
    assert_non_null(strstr(err.msg, "'nope'"));

    /* the description names every key and tensor */
    char *text = NULL;
    size_t textlen = 0;
    FILE *mem = open_memstream(&text, &textlen);
    assert_non_null(mem);
    assert_int_equal(gp_weights_print_info(w, mem, &err), GP_OK);
    fclose(mem);
    for (size_t i = 0; i < N_META; i++) assert_non_null(strstr(text, example_meta[i].key));
    for (size_t i = 0; i < N_TENSOR; i++) assert_non_null(strstr(text, example_tensors[i]));
    assert_non_null(strstr(text, "[64, -9223372036854775808, 9223372036854775807]"));
    assert_non_null(strstr(text, "... (40 values)"));
    assert_non_null(strstr(text, "\"galpost \\\"test\\\"\\tmodel\""));
    assert_non_null(strstr(text, "total: 83 parameters, 332 bytes"));
    free(text);

    gp_weights_close(w);
    gp_weights_close(NULL);
    unlink(path);
}

static void test_null_arguments(void **state)
{
    (void)state;
    gp_error err;
    gp_weights *w = (gp_weights *)&err;
    assert_int_equal(gp_weights_open(NULL, &w, &err), GP_ERR_ARG);
    assert_null(w);
    assert_int_equal(gp_weights_open("x", NULL, &err), GP_ERR_ARG);
    /* a NULL error record is allowed */
    assert_int_equal(gp_weights_open(scratch_path("absent.gpw"), &w, NULL), GP_ERR_IO);
    assert_int_equal(gp_weights_open(scratch_path("absent.gpw"), &w, &err), GP_ERR_IO);
    assert_non_null(strstr(err.msg, "absent.gpw"));
    /* a directory is not a weights file */
    assert_int_equal(gp_weights_open(scratch, &w, &err), GP_ERR_IO);
    assert_non_null(strstr(err.msg, scratch));
}

/* ------------------------------------------------- corrupt files */

struct corrupt_case {
    const char *label;
    /* patch the image; may change *size (buffer has room for 4096 more) */
    void (*patch)(unsigned char *buf, size_t *size);
    int fix_crc;            /* recompute the checksum after patching */
    const char *needle;     /* must appear in the message, besides the path */
};

static void p_empty(unsigned char *b, size_t *n) { (void)b; *n = 0; }
static void p_header_only(unsigned char *b, size_t *n) { (void)b; *n = HEADER - 1; }
static void p_magic(unsigned char *b, size_t *n) { (void)n; b[3] ^= 0x20; }
static void p_version(unsigned char *b, size_t *n) { (void)n; put32(b + H_VERSION, 2); }
static void p_version0(unsigned char *b, size_t *n) { (void)n; put32(b + H_VERSION, 0); }
static void p_header_size(unsigned char *b, size_t *n) { (void)n; put32(b + H_HEADER_SIZE, 64); }
static void p_extended(unsigned char *b, size_t *n) { memset(b + *n, 0, 64); *n += 64; }
static void p_trailing(unsigned char *b, size_t *n)
{
    memset(b + *n, 0, 64);
    *n += 64;
    put64(b + H_FILE_SIZE, *n);
}
static void p_file_size(unsigned char *b, size_t *n) { put64(b + H_FILE_SIZE, *n + 64); }
static void p_flags(unsigned char *b, size_t *n) { (void)n; put32(b + H_FLAGS, 1); }
static void p_reserved(unsigned char *b, size_t *n) { (void)n; b[HEADER - 1] = 1; }
static void p_bad_crc_data(unsigned char *b, size_t *n) { b[*n - 3] ^= 0x01; }
static void p_bad_crc_field(unsigned char *b, size_t *n) { (void)n; b[H_CHECKSUM] ^= 0x80; }
static void p_meta_off_eof(unsigned char *b, size_t *n) { put64(b + H_META_OFF, *n + 8); }
static void p_meta_off_huge(unsigned char *b, size_t *n) { (void)n; put64(b + H_META_OFF, UINT64_MAX - 7); }
static void p_meta_in_header(unsigned char *b, size_t *n) { (void)n; put64(b + H_META_OFF, 64); }
static void p_table_size_eof(unsigned char *b, size_t *n) { put64(b + H_TABLE_SIZE, *n); }
static void p_data_size_huge(unsigned char *b, size_t *n) { (void)n; put64(b + H_DATA_SIZE, UINT64_MAX); }
static void p_data_misaligned(unsigned char *b, size_t *n)
{
    (void)n;
    put64(b + H_DATA_OFF, get64(b + H_DATA_OFF) + 8);
    put64(b + H_DATA_SIZE, get64(b + H_DATA_SIZE) - 8);
}
static void p_overlap_sections(unsigned char *b, size_t *n)
{
    (void)n;
    put64(b + H_TABLE_OFF, get64(b + H_META_OFF) + 8);
}
static void p_overlap_meta_data(unsigned char *b, size_t *n)
{
    (void)n;
    put64(b + H_META_SIZE, get64(b + H_DATA_OFF) + 8 - get64(b + H_META_OFF));
}
static void p_meta_count_huge(unsigned char *b, size_t *n) { (void)n; put64(b + H_META_COUNT, (uint64_t)1 << 60); }
static void p_meta_count_max(unsigned char *b, size_t *n) { (void)n; put64(b + H_META_COUNT, UINT64_MAX); }
static void p_meta_count_more(unsigned char *b, size_t *n) { (void)n; put64(b + H_META_COUNT, N_META + 1); }
static void p_meta_count_less(unsigned char *b, size_t *n) { (void)n; put64(b + H_META_COUNT, N_META - 1); }
static void p_tensor_count_huge(unsigned char *b, size_t *n) { (void)n; put64(b + H_TABLE_COUNT, UINT64_MAX); }
static void p_str_len_huge(unsigned char *b, size_t *n) { (void)n; put64(meta_entry(b, 0) + M_COUNT, UINT64_MAX - 3); }
static void p_str_len_over(unsigned char *b, size_t *n) { (void)n; put64(meta_entry(b, 0) + M_COUNT, get64(b + H_META_SIZE)); }
static void p_str_nul(unsigned char *b, size_t *n) { (void)n; meta_entry(b, 0)[M_FIXED + 10 + 2] = 0; }
static void p_key_len0(unsigned char *b, size_t *n) { (void)n; put16(meta_entry(b, 1) + M_KEYLEN, 0); }
static void p_key_len_big(unsigned char *b, size_t *n) { (void)n; put16(meta_entry(b, 1) + M_KEYLEN, 256); }
static void p_key_nul(unsigned char *b, size_t *n) { (void)n; meta_entry(b, 1)[M_FIXED + 2] = 0; }
static void p_meta_type(unsigned char *b, size_t *n) { (void)n; put16(meta_entry(b, 1) + M_TYPE, 9); }
static void p_meta_type0(unsigned char *b, size_t *n) { (void)n; put16(meta_entry(b, 1) + M_TYPE, 0); }
static void p_meta_resv(unsigned char *b, size_t *n) { (void)n; put32(meta_entry(b, 1) + M_RESV, 7); }
static void p_scalar_count(unsigned char *b, size_t *n) { (void)n; put64(meta_entry(b, 1) + M_COUNT, 2); }
static void p_array_count0(unsigned char *b, size_t *n) { (void)n; put64(meta_entry(b, 4) + M_COUNT, 0); }
static void p_array_count_overflow(unsigned char *b, size_t *n) { (void)n; put64(meta_entry(b, 4) + M_COUNT, (uint64_t)1 << 61); }
static void p_meta_padding(unsigned char *b, size_t *n)
{
    (void)n;   /* "model.seed": 16 + 10 + 8 = 34 bytes, padded to 40 */
    meta_entry(b, 1)[M_FIXED + 10 + 8] = 1;
}
static void p_f64_nan(unsigned char *b, size_t *n)
{
    (void)n;
    double v = NAN;
    uint64_t bits;
    memcpy(&bits, &v, 8);
    put64(meta_entry(b, 2) + M_FIXED + 9, bits);
}
static void p_f64_array_inf(unsigned char *b, size_t *n)
{
    (void)n;
    double v = -INFINITY;
    uint64_t bits;
    memcpy(&bits, &v, 8);
    put64(meta_entry(b, 5) + M_FIXED + 9 + 8 * 2, bits);
}
static void p_dup_key(unsigned char *b, size_t *n) { (void)n; meta_entry(b, 3)[M_FIXED + 8] = 'q'; }
static void p_dtype(unsigned char *b, size_t *n) { (void)n; put16(tensor_entry(b, 0) + T_DTYPE, 2); }
static void p_ndim0(unsigned char *b, size_t *n) { (void)n; put32(tensor_entry(b, 0) + T_NDIM, 0); }
static void p_ndim5(unsigned char *b, size_t *n) { (void)n; put32(tensor_entry(b, 0) + T_NDIM, 5); }
static void p_dim0(unsigned char *b, size_t *n) { (void)n; put64(tensor_entry(b, 1) + T_DIMS, 0); }
static void p_dim_negative(unsigned char *b, size_t *n) { (void)n; put64(tensor_entry(b, 2) + T_DIMS + 8, (uint64_t)1 << 63); }
static void p_unused_dim(unsigned char *b, size_t *n) { (void)n; put64(tensor_entry(b, 1) + T_DIMS + 8, 5); }
static void p_dims_overflow_i64(unsigned char *b, size_t *n)
{
    (void)n;
    unsigned char *e = tensor_entry(b, 0);
    put64(e + T_DIMS, (uint64_t)1 << 40);
    put64(e + T_DIMS + 8, (uint64_t)1 << 40);
}
static void p_dims_overflow_bytes(unsigned char *b, size_t *n) { (void)n; put64(tensor_entry(b, 1) + T_DIMS, (uint64_t)1 << 62); }
static void p_dims_wrap(unsigned char *b, size_t *n)
{
    /* 2^32 * 2^32 wraps to 0 in 64 bits: the product must be checked */
    (void)n;
    unsigned char *e = tensor_entry(b, 2);
    put64(e + T_DIMS, (uint64_t)1 << 32);
    put64(e + T_DIMS + 8, (uint64_t)1 << 32);
}
static void p_dims_big_size(unsigned char *b, size_t *n)
{
    /* shape and byte size agree but far exceed the data section */
    (void)n;
    unsigned char *e = tensor_entry(b, 1);
    put64(e + T_DIMS, (uint64_t)1 << 40);
    put64(e + T_SIZE, (uint64_t)1 << 42);
}
static void p_size_mismatch(unsigned char *b, size_t *n) { (void)n; unsigned char *e = tensor_entry(b, 1); put64(e + T_SIZE, get64(e + T_SIZE) + 4); }
static void p_offset_misaligned(unsigned char *b, size_t *n) { (void)n; unsigned char *e = tensor_entry(b, 1); put64(e + T_OFFSET, get64(e + T_OFFSET) + 4); }
static void p_offset_past_end(unsigned char *b, size_t *n) { put64(tensor_entry(b, 4) + T_OFFSET, ((*n + 63) & ~(size_t)63) + 64); }
static void p_offset_huge(unsigned char *b, size_t *n) { (void)n; put64(tensor_entry(b, 3) + T_OFFSET, UINT64_MAX - 63); }
static void p_offset_before_data(unsigned char *b, size_t *n) { (void)n; put64(tensor_entry(b, 0) + T_OFFSET, 128); }
static void p_overlap_tensors(unsigned char *b, size_t *n) { (void)n; put64(tensor_entry(b, 1) + T_OFFSET, get64(tensor_entry(b, 0) + T_OFFSET)); }
static void p_overlap_partial(unsigned char *b, size_t *n) { (void)n; put64(tensor_entry(b, 3) + T_OFFSET, get64(tensor_entry(b, 2) + T_OFFSET) + 0); }
static void p_dup_tensor(unsigned char *b, size_t *n) { (void)n; tensor_entry(b, 3)[T_FIXED + 5] = '0'; }
static void p_name_len0(unsigned char *b, size_t *n) { (void)n; put16(tensor_entry(b, 2) + T_NAMELEN, 0); }
static void p_name_len_over(unsigned char *b, size_t *n) { (void)n; put16(tensor_entry(b, 4) + T_NAMELEN, 255); }
static void p_name_nul(unsigned char *b, size_t *n) { (void)n; tensor_entry(b, 2)[T_FIXED + 1] = 0; }
static void p_table_padding(unsigned char *b, size_t *n) { (void)n; tensor_entry(b, 4)[T_FIXED + 1] = 'x'; }
static void p_table_size_short(unsigned char *b, size_t *n) { (void)n; put64(b + H_TABLE_SIZE, get64(b + H_TABLE_SIZE) - 8); }
static void p_table_count_less(unsigned char *b, size_t *n) { (void)n; put64(b + H_TABLE_COUNT, N_TENSOR - 1); }
static void p_nan_data(unsigned char *b, size_t *n)
{
    (void)n;
    float v = NAN;
    memcpy(b + get64(tensor_entry(b, 2) + T_OFFSET) + 3 * 4, &v, 4);
}
static void p_inf_data(unsigned char *b, size_t *n)
{
    (void)n;
    float v = INFINITY;
    memcpy(b + get64(tensor_entry(b, 4) + T_OFFSET), &v, 4);
}

static const struct corrupt_case corrupt_cases[] = {
    { "empty file",               p_empty,              0, "shorter than the 128-byte header" },
    { "header cut short",         p_header_only,        0, "shorter than the 128-byte header" },
    { "bad magic",                p_magic,              1, "bad magic" },
    { "version 2",                p_version,            1, "unsupported format version 2" },
    { "version 0",                p_version0,           1, "unsupported format version 0" },
    { "header size 64",           p_header_size,        1, "header size field is 64" },
    { "bytes appended",           p_extended,           1, "file size field" },
    { "trailing bytes",           p_trailing,           1, "data section ends at" },
    { "file size field",          p_file_size,          1, "file size field" },
    { "flags set",                p_flags,              1, "flags" },
    { "reserved byte set",        p_reserved,           1, "reserved header bytes" },
    { "data byte flipped",        p_bad_crc_data,       0, "checksum mismatch" },
    { "checksum field flipped",   p_bad_crc_field,      0, "checksum mismatch" },
    { "meta offset past EOF",     p_meta_off_eof,       1, "metadata section (offset" },
    { "meta offset wraps",        p_meta_off_huge,      1, "metadata section (offset" },
    { "meta inside header",       p_meta_in_header,     1, "metadata section offset 64 lies inside" },
    { "table size past EOF",      p_table_size_eof,     1, "tensor table (offset" },
    { "data size huge",           p_data_size_huge,     1, "data section (offset" },
    { "data section misaligned",  p_data_misaligned,    1, "data section offset" },
    { "table overlaps meta",      p_overlap_sections,   1, "overlaps" },
    { "meta overlaps data",       p_overlap_meta_data,  1, "overlaps" },
    { "meta count 2^60",          p_meta_count_huge,    1, "metadata count 1152921504606846976 cannot fit" },
    { "meta count max",           p_meta_count_max,     1, "metadata count" },
    { "meta count +1",            p_meta_count_more,    1, "metadata entry 8" },
    { "meta count -1",            p_meta_count_less,    1, "metadata section has" },
    { "tensor count max",         p_tensor_count_huge,  1, "tensor count" },
    { "string length huge",       p_str_len_huge,       1, "'model.name': STR value of 18446744073709551612 bytes extends past" },
    { "string length over",       p_str_len_over,       1, "'model.name': STR value" },
    { "string with NUL",          p_str_nul,            1, "'model.name': string contains a NUL" },
    { "key length 0",             p_key_len0,           1, "metadata entry 1: key length 0" },
    { "key length 256",           p_key_len_big,        1, "metadata entry 1: key length 256" },
    { "key with NUL",             p_key_nul,            1, "metadata entry 1: name contains a NUL" },
    { "unknown meta type 9",      p_meta_type,          1, "'model.seed': unknown type 9" },
    { "unknown meta type 0",      p_meta_type0,         1, "'model.seed': unknown type 0" },
    { "meta reserved field",      p_meta_resv,          1, "'model.seed': reserved field" },
    { "scalar count 2",           p_scalar_count,       1, "'model.seed': count 2" },
    { "array count 0",            p_array_count0,       1, "'arch.widths': empty I64_ARRAY" },
    { "array count overflows",    p_array_count_overflow, 1, "'arch.widths'" },
    { "meta padding",             p_meta_padding,       1, "'model.seed': padding" },
    { "F64 NaN",                  p_f64_nan,            1, "'stretch.q': value is not finite" },
    { "F64 array -Inf",           p_f64_array_inf,      1, "'norm.mean': element 2 is not finite" },
    { "duplicate key",            p_dup_key,            1, "duplicate metadata key name 'stretch.q'" },
    { "unknown dtype",            p_dtype,              1, "'enc.conv1.weight': unknown dtype 2" },
    { "ndim 0",                   p_ndim0,              1, "'enc.conv1.weight': ndim 0" },
    { "ndim 5",                   p_ndim5,              1, "'enc.conv1.weight': ndim 5" },
    { "dim 0",                    p_dim0,               1, "'enc.conv1.bias': dimension 0 is 0" },
    { "dim negative",             p_dim_negative,       1, "'flow.0.scale': dimension 1 is -9223372036854775808" },
    { "unused dim set",           p_unused_dim,         1, "'enc.conv1.bias': unused dimension 1" },
    { "dims overflow int64",      p_dims_overflow_i64,  1, "'enc.conv1.weight': the element count of its shape overflows" },
    { "dims overflow bytes",      p_dims_overflow_bytes, 1, "'enc.conv1.bias': byte size" },
    { "dims wrap to 0",           p_dims_wrap,          1, "'flow.0.scale': the element count" },
    { "shape past data",          p_dims_big_size,      1, "'enc.conv1.bias': data" },
    { "byte size mismatch",       p_size_mismatch,      1, "'enc.conv1.bias': byte size" },
    { "offset misaligned",        p_offset_misaligned,  1, "'enc.conv1.bias': data offset" },
    { "offset past end",          p_offset_past_end,    1, "'z': data" },
    { "offset wraps",             p_offset_huge,        1, "'flow.1.scale': data" },
    { "offset before data",       p_offset_before_data, 1, "'enc.conv1.weight': data" },
    { "tensors overlap",          p_overlap_tensors,    1, "overlap" },
    { "tensors overlap 2",        p_overlap_partial,    1, "tensors 'flow.0.scale' and 'flow.1.scale' overlap" },
    { "duplicate tensor",         p_dup_tensor,         1, "duplicate tensor name 'flow.0.scale'" },
    { "name length 0",            p_name_len0,          1, "tensor entry 2: name length 0" },
    { "name length past table",   p_name_len_over,      1, "tensor entry 4: name of 255 bytes extends past" },
    { "name with NUL",            p_name_nul,           1, "tensor entry 2: name contains a NUL" },
    { "table padding",            p_table_padding,      1, "'z': padding" },
    { "table size short",         p_table_size_short,   1, "tensor entry 4" },
    { "tensor count -1",          p_table_count_less,   1, "tensor table has" },
    { "NaN in data",              p_nan_data,           1, "'flow.0.scale': element 3 is NaN" },
    { "Inf in data",              p_inf_data,           1, "'z': element 0 is infinite" },
};

static unsigned char *example_image(size_t *size)
{
    struct example ex;
    rng_state = 12345;
    example_fill(&ex);
    const char *path = scratch_path("base.gpw");
    example_write(&ex, path);
    unsigned char *raw = slurp(path, size);
    unlink(path);
    unsigned char *buf = calloc(1, *size + 4096);
    assert_non_null(buf);
    memcpy(buf, raw, *size);
    free(raw);
    return buf;
}

static void expect_refused(const char *path, const char *label, const char *needle)
{
    gp_error err;
    gp_error_clear(&err);
    gp_weights *w = (gp_weights *)&err;
    int st = gp_weights_open(path, &w, &err);
    if (st != GP_ERR_FORMAT || !strstr(err.msg, path) || (needle && !strstr(err.msg, needle)))
        print_error("case '%s': status %s, message \"%s\", expected GP_ERR_FORMAT "
                    "naming the file and \"%s\"\n", label, gp_status_string(st),
                    err.msg, needle ? needle : "");
    assert_int_equal(st, GP_ERR_FORMAT);
    assert_null(w);
    assert_non_null(strstr(err.msg, path));
    if (needle) assert_non_null(strstr(err.msg, needle));
}

static void test_corrupt_table(void **state)
{
    (void)state;
    size_t size0;
    unsigned char *base = example_image(&size0);
    unsigned char *buf = malloc(size0 + 4096);
    assert_non_null(buf);
    const char *path = scratch_path("corrupt.gpw");

    /* the unpatched image opens: the cases below differ only by their patch */
    spit(path, base, size0);
    gp_error err;
    gp_weights *w = NULL;
    assert_int_equal(gp_weights_open(path, &w, &err), GP_OK);
    gp_weights_close(w);

    for (size_t c = 0; c < sizeof corrupt_cases / sizeof corrupt_cases[0]; c++) {
        const struct corrupt_case *k = &corrupt_cases[c];
        memcpy(buf, base, size0 + 4096);
        size_t size = size0;
        k->patch(buf, &size);
        if (k->fix_crc) {
            fix_crc(buf, size);
        }
        spit(path, buf, size);
        expect_refused(path, k->label, k->needle);
    }
    unlink(path);
    free(buf);
    free(base);
}

static void test_truncated_everywhere(void **state)
{
    (void)state;
    size_t size;
    unsigned char *base = example_image(&size);
    const char *path = scratch_path("truncated.gpw");
    for (size_t n = 0; n < size; n++) {
        spit(path, base, n);
        char label[64];
        snprintf(label, sizeof label, "truncated at %zu", n);
        expect_refused(path, label, n < HEADER ? "header" : "truncated");
    }
    /* truncated with the size field and checksum made to agree: the deeper
     * checks must still refuse every cut inside the sections */
    for (size_t n = HEADER; n < size; n++) {
        unsigned char *b = malloc(n);
        assert_non_null(b);
        memcpy(b, base, n);
        put64(b + H_FILE_SIZE, n);
        fix_crc(b, n);
        spit(path, b, n);
        char label[64];
        snprintf(label, sizeof label, "cut to %zu with consistent header", n);
        expect_refused(path, label, NULL);
        free(b);
    }
    unlink(path);
    free(base);
}

/* Every byte set to a few values, checksum repaired: the reader returns
 * GP_OK or GP_ERR_FORMAT, never crashes (ASan/UBSan watch the reads). */
static void test_mutated_everywhere(void **state)
{
    (void)state;
    size_t size;
    unsigned char *base = example_image(&size);
    unsigned char *buf = malloc(size);
    assert_non_null(buf);
    const char *path = scratch_path("mutated.gpw");
    FILE *devnull = fopen("/dev/null", "w");
    assert_non_null(devnull);
    const unsigned char values[] = { 0x00, 0xff, 0x80, 0x01 };
    size_t accepted = 0, refused = 0;
    for (size_t p = 0; p < size; p++) {
        if (p >= H_CHECKSUM && p < H_CHECKSUM + 4) continue;
        for (size_t v = 0; v < sizeof values; v++) {
            if (base[p] == values[v]) continue;
            memcpy(buf, base, size);
            buf[p] = values[v];
            fix_crc(buf, size);
            spit(path, buf, size);
            gp_error err;
            gp_error_clear(&err);
            gp_weights *w = NULL;
            int st = gp_weights_open(path, &w, &err);
            if (st != GP_OK && st != GP_ERR_FORMAT)
                print_error("byte %zu = 0x%02x: %s %s\n", p, values[v],
                            gp_status_string(st), err.msg);
            assert_true(st == GP_OK || st == GP_ERR_FORMAT);
            if (st == GP_OK) {
                accepted++;
                assert_int_equal(gp_weights_print_info(w, devnull, &err), GP_OK);
                gp_weights_close(w);
            } else {
                refused++;
                assert_non_null(strstr(err.msg, path));
                assert_null(w);
            }
        }
    }
    /* both outcomes occur: mutated data values pass, header bytes do not */
    assert_true(accepted > 0);
    assert_true(refused > 0);
    fclose(devnull);
    unlink(path);
    free(buf);
    free(base);
}

/* ------------------------------------------------- writer */

static void test_writer_refusals(void **state)
{
    (void)state;
    gp_error err;
    gp_weights_writer *wr = NULL;
    assert_int_equal(gp_weights_writer_new(NULL, &err), GP_ERR_ARG);
    assert_int_equal(gp_weights_writer_new(&wr, &err), GP_OK);
    const float data[6] = { 1, 2, 3, 4, 5, 6 };
    const int64_t d6[] = { 6 }, d23[] = { 2, 3 }, d5[] = { 1, 1, 1, 1, 6 };
    char longname[300];
    memset(longname, 'n', sizeof longname);
    longname[256] = '\0';

    /* names */
    assert_int_equal(gp_weights_writer_add_tensor(wr, "", 1, d6, data, &err), GP_ERR_ARG);
    assert_int_equal(gp_weights_writer_add_tensor(wr, NULL, 1, d6, data, &err), GP_ERR_ARG);
    assert_int_equal(gp_weights_writer_add_tensor(wr, longname, 1, d6, data, &err), GP_ERR_ARG);
    assert_non_null(strstr(err.msg, "256 bytes"));
    assert_int_equal(gp_weights_writer_set_i64(wr, longname, 1, &err), GP_ERR_ARG);
    assert_int_equal(gp_weights_writer_set_str(wr, "", "x", &err), GP_ERR_ARG);
    longname[255] = '\0';   /* 255 bytes: the longest allowed */
    assert_int_equal(gp_weights_writer_add_tensor(wr, longname, 1, d6, data, &err), GP_OK);
    assert_int_equal(gp_weights_writer_set_i64(wr, longname, 1, &err), GP_OK);
    /* duplicates */
    assert_int_equal(gp_weights_writer_add_tensor(wr, "a", 2, d23, data, &err), GP_OK);
    assert_int_equal(gp_weights_writer_add_tensor(wr, "a", 1, d6, data, &err), GP_ERR_ARG);
    assert_non_null(strstr(err.msg, "duplicate tensor name 'a'"));
    /* ranks and dimensions */
    assert_int_equal(gp_weights_writer_add_tensor(wr, "b", 0, d6, data, &err), GP_ERR_ARG);
    assert_non_null(strstr(err.msg, "'b': ndim 0"));
    assert_int_equal(gp_weights_writer_add_tensor(wr, "b", 5, d5, data, &err), GP_ERR_ARG);
    assert_non_null(strstr(err.msg, "'b': ndim 5"));
    const int64_t dz[] = { 2, 0 }, dneg[] = { -1 }, dhuge[] = { (int64_t)1 << 40, (int64_t)1 << 40 };
    assert_int_equal(gp_weights_writer_add_tensor(wr, "b", 2, dz, data, &err), GP_ERR_ARG);
    assert_non_null(strstr(err.msg, "'b': dimension 1 is 0"));
    assert_int_equal(gp_weights_writer_add_tensor(wr, "b", 1, dneg, data, &err), GP_ERR_ARG);
    assert_int_equal(gp_weights_writer_add_tensor(wr, "b", 2, dhuge, data, &err), GP_ERR_ARG);
    assert_non_null(strstr(err.msg, "'b'"));
    assert_int_equal(gp_weights_writer_add_tensor(wr, "b", 1, d6, NULL, &err), GP_ERR_ARG);
    assert_int_equal(gp_weights_writer_add_tensor(wr, "b", 1, NULL, data, &err), GP_ERR_ARG);
    /* non-finite values */
    float bad[6] = { 1, 2, 3, 4, 5, 6 };
    bad[4] = NAN;
    assert_int_equal(gp_weights_writer_add_tensor(wr, "c", 1, d6, bad, &err), GP_ERR_ARG);
    assert_non_null(strstr(err.msg, "'c': element 4 is NaN"));
    bad[4] = -INFINITY;
    assert_int_equal(gp_weights_writer_add_tensor(wr, "c", 1, d6, bad, &err), GP_ERR_ARG);
    assert_non_null(strstr(err.msg, "'c': element 4 is infinite"));
    assert_int_equal(gp_weights_writer_set_f64(wr, "f", NAN, &err), GP_ERR_ARG);
    assert_non_null(strstr(err.msg, "'f'"));
    const double dv[2] = { 1.0, INFINITY };
    assert_int_equal(gp_weights_writer_set_f64_array(wr, "g", dv, 2, &err), GP_ERR_ARG);
    assert_non_null(strstr(err.msg, "'g': element 1"));
    /* empty arrays and NULLs */
    const int64_t iv[1] = { 1 };
    assert_int_equal(gp_weights_writer_set_i64_array(wr, "h", iv, 0, &err), GP_ERR_ARG);
    assert_int_equal(gp_weights_writer_set_i64_array(wr, "h", NULL, 1, &err), GP_ERR_ARG);
    assert_int_equal(gp_weights_writer_set_f64_array(wr, "h", dv, 0, &err), GP_ERR_ARG);
    assert_int_equal(gp_weights_writer_set_str(wr, "h", NULL, &err), GP_ERR_ARG);
    assert_int_equal(gp_weights_writer_write(wr, NULL, &err), GP_ERR_ARG);
    assert_int_equal(gp_weights_writer_write(NULL, "x", &err), GP_ERR_ARG);

    /* what was accepted reads back, and nothing that was refused */
    const char *path = scratch_path("refusals.gpw");
    assert_int_equal(gp_weights_writer_write(wr, path, &err), GP_OK);
    gp_weights_writer_free(wr);
    gp_weights_writer_free(NULL);
    gp_weights *w = NULL;
    assert_int_equal(gp_weights_open(path, &w, &err), GP_OK);
    assert_int_equal(gp_weights_tensor_count(w), 2);
    assert_int_equal(gp_weights_meta_count(w), 1);
    gp_tensor_info t;
    assert_int_equal(gp_weights_tensor(w, longname, &t, &err), GP_OK);
    assert_int_equal(gp_weights_tensor(w, "a", &t, &err), GP_OK);
    assert_int_equal(t.ndim, 2);
    assert_int_equal(gp_weights_tensor(w, "c", &t, &err), GP_ERR_NOTFOUND);
    gp_weights_close(w);
    unlink(path);
}

static void test_writer_empty_file(void **state)
{
    (void)state;
    gp_error err;
    gp_weights_writer *wr = NULL;
    assert_int_equal(gp_weights_writer_new(&wr, &err), GP_OK);
    const char *path = scratch_path("empty.gpw");
    assert_int_equal(gp_weights_writer_write(wr, path, &err), GP_OK);
    gp_weights_writer_free(wr);
    gp_weights *w = NULL;
    assert_int_equal(gp_weights_open(path, &w, &err), GP_OK);
    assert_int_equal(gp_weights_tensor_count(w), 0);
    assert_int_equal(gp_weights_meta_count(w), 0);
    gp_tensor_info t;
    assert_int_equal(gp_weights_tensor(w, "x", &t, &err), GP_ERR_NOTFOUND);
    gp_weights_close(w);
    unlink(path);
}

/* No file named like a temporary of `base` is left in dir. */
static void expect_no_temporaries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) {
            print_error("temporary file left behind: %s/%s\n", dir, e->d_name);
            fail();
        }
    closedir(d);
}

static void test_writer_atomic(void **state)
{
    (void)state;
    struct example ex;
    rng_state = 99;
    example_fill(&ex);
    gp_error err;
    gp_weights_writer *wr = NULL;
    assert_int_equal(gp_weights_writer_new(&wr, &err), GP_OK);
    const int64_t d[] = { N_CONV };
    assert_int_equal(gp_weights_writer_add_tensor(wr, "w", 1, d, ex.conv, &err), GP_OK);

    /* a directory that does not exist */
    const char *missing = scratch_path("no-such-dir/x.gpw");
    assert_int_equal(gp_weights_writer_write(wr, missing, &err), GP_ERR_IO);
    assert_non_null(strstr(err.msg, missing));
    assert_false(file_exists(missing));

    /* a directory nobody may create files in, even root */
    assert_int_equal(gp_weights_writer_write(wr, "/proc/galpost-test.gpw", &err), GP_ERR_IO);
    assert_non_null(strstr(err.msg, "/proc/galpost-test.gpw"));
    assert_false(file_exists("/proc/galpost-test.gpw"));

    /* a read-only directory (permissions do not bind root) */
    const char *ro = scratch_path("readonly");
    assert_int_equal(mkdir(ro, 0555), 0);
    if (geteuid() != 0) {
        char target[600];
        snprintf(target, sizeof target, "%s/x.gpw", ro);
        assert_int_equal(gp_weights_writer_write(wr, target, &err), GP_ERR_IO);
        assert_non_null(strstr(err.msg, target));
        assert_false(file_exists(target));
    }
    rmdir(ro);

    /* the rename fails (target is a non-empty directory): the temporary
     * file, complete by then, must be removed */
    const char *dirtarget = scratch_path("target-dir");
    assert_int_equal(mkdir(dirtarget, 0755), 0);
    char inner[600];
    snprintf(inner, sizeof inner, "%s/keep", dirtarget);
    spit(inner, (const unsigned char *)"x", 1);
    assert_int_equal(gp_weights_writer_write(wr, dirtarget, &err), GP_ERR_IO);
    assert_non_null(strstr(err.msg, dirtarget));
    expect_no_temporaries(scratch);
    unlink(inner);
    rmdir(dirtarget);

    /* overwriting an existing file replaces it whole */
    const char *path = scratch_path("replace.gpw");
    spit(path, (const unsigned char *)"old contents", 12);
    assert_int_equal(gp_weights_writer_write(wr, path, &err), GP_OK);
    gp_weights *w = NULL;
    assert_int_equal(gp_weights_open(path, &w, &err), GP_OK);
    gp_tensor_info t;
    assert_int_equal(gp_weights_tensor(w, "w", &t, &err), GP_OK);
    assert_memory_equal(t.data, ex.conv, sizeof ex.conv);
    gp_weights_close(w);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0644);
    expect_no_temporaries(scratch);
    unlink(path);
    gp_weights_writer_free(wr);
}

/* ------------------------------------------------- main */

static int make_scratch(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(scratch, sizeof scratch, "%s/gp_test_weights.XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    return mkdtemp(scratch) ? 0 : -1;
}

static int remove_scratch(void **state)
{
    (void)state;
    return rmdir(scratch);
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--write-example")) {
        struct example ex;
        rng_state = 2024;
        example_fill(&ex);
        example_write(&ex, argv[2]);
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_null_arguments),
        cmocka_unit_test(test_corrupt_table),
        cmocka_unit_test(test_truncated_everywhere),
        cmocka_unit_test(test_mutated_everywhere),
        cmocka_unit_test(test_writer_refusals),
        cmocka_unit_test(test_writer_empty_file),
        cmocka_unit_test(test_writer_atomic),
    };
    return cmocka_run_group_tests(tests, make_scratch, remove_scratch);
}
