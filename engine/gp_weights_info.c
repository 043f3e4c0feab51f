/*
 * gp_weights_info.c: human-readable description of an open weights file
 * (the output of `galpost model info`).
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>

#include "gp_weights_internal.h"

/* Arrays up to this length are printed in full, longer ones abridged. */
#define INFO_ARRAY_FULL  16
#define INFO_ARRAY_HEAD  8

/* Print a string on one line, escaping control characters. */
static void print_escaped(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '\n': fputs("\\n", out); break;
        case '\t': fputs("\\t", out); break;
        case '\r': fputs("\\r", out); break;
        case '"':  fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        default:
            if (*p < 0x20 || *p == 0x7f) fprintf(out, "\\x%02x", *p);
            else fputc(*p, out);
        }
    }
    fputc('"', out);
}

static void print_meta_value(FILE *out, const gp_meta_entry *m)
{
    size_t shown;
    switch (m->type) {
    case GP_META_STR:
        print_escaped(out, m->str);
        break;
    case GP_META_I64:
        fprintf(out, "%" PRId64, m->i64);
        break;
    case GP_META_F64:
        fprintf(out, "%.17g", m->f64);
        break;
    case GP_META_I64_ARRAY:
    case GP_META_F64_ARRAY:
        shown = m->count <= INFO_ARRAY_FULL ? m->count : INFO_ARRAY_HEAD;
        fputc('[', out);
        for (size_t k = 0; k < shown; k++) {
            if (k) fputs(", ", out);
            if (m->type == GP_META_I64_ARRAY) fprintf(out, "%" PRId64, m->i64s[k]);
            else fprintf(out, "%.9g", m->f64s[k]);
        }
        if (shown < m->count) fprintf(out, ", ... (%zu values)", m->count);
        fputc(']', out);
        break;
    }
}

int gp_weights_print_info(const gp_weights *w, FILE *out, gp_error *err)
{
    if (!w || !out)
        return GP_FAIL(err, GP_ERR_ARG, "gp_weights_print_info: NULL argument");

    fprintf(out, "file:       %s\n", w->path);
    fprintf(out, "format:     galpost weights, version %" PRIu32 "\n", w->version);
    fprintf(out, "size:       %zu bytes\n", w->size);
    fprintf(out, "checksum:   0x%08" PRIx32 " (CRC-32, verified)\n", w->checksum);

    fprintf(out, "\nmetadata (%zu entries):\n", w->nmeta);
    size_t keyw = 0;
    for (size_t i = 0; i < w->nmeta; i++) {
        size_t n = strlen(w->meta[i].key);
        if (n > keyw) keyw = n;
    }
    if (keyw > 40) keyw = 40;
    for (size_t i = 0; i < w->nmeta; i++) {
        const gp_meta_entry *m = &w->meta[i];
        fprintf(out, "  %-*s %-9s ", (int)keyw, m->key, gp_meta_type_name(m->type));
        print_meta_value(out, m);
        fputc('\n', out);
    }

    fprintf(out, "\ntensors (%zu):\n", w->ntensor);
    size_t namew = 4;
    for (size_t i = 0; i < w->ntensor; i++) {
        size_t n = strlen(w->tensors[i].name);
        if (n > namew) namew = n;
    }
    if (namew > 48) namew = 48;
    fprintf(out, "  %-*s %-5s %-22s %12s %13s %13s %13s\n", (int)namew, "name",
            "dtype", "shape", "parameters", "min", "max", "mean");
    uint64_t total = 0, bytes = 0;
    for (size_t i = 0; i < w->ntensor; i++) {
        const gp_tensor_info *t = &w->tensors[i];
        char shape[96];
        size_t len = (size_t)snprintf(shape, sizeof shape, "[");
        for (int d = 0; d < t->ndim && len < sizeof shape; d++)
            len += (size_t)snprintf(shape + len, sizeof shape - len, "%s%" PRId64,
                                    d ? ", " : "", t->dims[d]);
        if (len < sizeof shape) snprintf(shape + len, sizeof shape - len, "]");
        /* Data were checked finite when the file was opened. */
        double mn = t->data[0], mx = t->data[0], sum = 0.0;
        for (int64_t k = 0; k < t->nelem; k++) {
            double v = t->data[k];
            if (v < mn) mn = v;
            if (v > mx) mx = v;
            sum += v;
        }
        fprintf(out, "  %-*s %-5s %-22s %12" PRId64 " %13.6g %13.6g %13.6g\n",
                (int)namew, t->name, "F32", shape, t->nelem, mn, mx,
                sum / (double)t->nelem);
        total += (uint64_t)t->nelem;
        bytes += (uint64_t)t->nelem * sizeof(float);
    }
    fprintf(out, "\ntotal: %" PRIu64 " parameters, %" PRIu64 " bytes of tensor "
            "data\n", total, bytes);
    if (fflush(out) != 0 || ferror(out))
        return GP_FAIL(err, GP_ERR_IO, "%s: writing the description failed",
                       w->path);
    return GP_OK;
}
