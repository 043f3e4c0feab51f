/*
 * test_model_load.c: a table of inconsistent model files (valid weights
 * files whose architecture metadata or tensors do not fit together), each
 * refused by gp_model_open() with the right status and a message naming
 * the file and the key or tensor; never a crash.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "galpost/gp_model.h"
#include "galpost/gp_weights.h"
#include "gp_test_util.h"

static char src_path[512];

typedef struct mutation {
    const char *label;
    const char *skip_tensor;      /* drop this tensor */
    const char *reshape_tensor;   /* add a column to this matrix */
    const char *skip_key;         /* drop this metadata key */
    const char *key;              /* replace this key ... */
    int         type;             /* ... with a value of this type */
    const char *s;
    int64_t     i;
    double      f;
    int         n;                /* array length (arrays are filled with `f` or `i`) */
    int         expect;           /* status */
    const char *needle;           /* must appear in the message */
} mutation;

static int rewrite(const char *dst, const mutation *m)
{
    gp_weights *w;
    gp_weights_writer *wr;
    gp_error err;
    if (gp_weights_open(src_path, &w, &err) || gp_weights_writer_new(&wr, &err)) return -1;
    for (size_t i = 0; i < gp_weights_meta_count(w); i++) {
        gp_meta_entry e;
        gp_weights_meta_at(w, i, &e, NULL);
        if (m->skip_key && !strcmp(e.key, m->skip_key)) continue;
        if (m->key && !strcmp(e.key, m->key)) continue;
        switch (e.type) {
        case GP_META_STR: gp_weights_writer_set_str(wr, e.key, e.str, NULL); break;
        case GP_META_I64: gp_weights_writer_set_i64(wr, e.key, e.i64, NULL); break;
        case GP_META_F64: gp_weights_writer_set_f64(wr, e.key, e.f64, NULL); break;
        case GP_META_I64_ARRAY: gp_weights_writer_set_i64_array(wr, e.key, e.i64s, e.count, NULL); break;
        case GP_META_F64_ARRAY: gp_weights_writer_set_f64_array(wr, e.key, e.f64s, e.count, NULL); break;
        }
    }
    if (m->key) {
        int64_t ia[256];
        double fa[256];
        for (int k = 0; k < 256; k++) { ia[k] = m->i; fa[k] = m->f; }
        switch (m->type) {
        case GP_META_STR: gp_weights_writer_set_str(wr, m->key, m->s, NULL); break;
        case GP_META_I64: gp_weights_writer_set_i64(wr, m->key, m->i, NULL); break;
        case GP_META_F64: gp_weights_writer_set_f64(wr, m->key, m->f, NULL); break;
        case GP_META_I64_ARRAY: gp_weights_writer_set_i64_array(wr, m->key, ia, (size_t)m->n, NULL); break;
        case GP_META_F64_ARRAY: gp_weights_writer_set_f64_array(wr, m->key, fa, (size_t)m->n, NULL); break;
        }
    }
    for (size_t i = 0; i < gp_weights_tensor_count(w); i++) {
        gp_tensor_info t;
        gp_weights_tensor_at(w, i, &t, NULL);
        if (m->skip_tensor && !strcmp(t.name, m->skip_tensor)) continue;
        if (m->reshape_tensor && !strcmp(t.name, m->reshape_tensor)) {
            int64_t d[2] = { t.dims[0], t.dims[1] + 1 };
            float *v = calloc((size_t)(d[0] * d[1]), sizeof(float));
            gp_weights_writer_add_tensor(wr, t.name, 2, d, v, NULL);
            free(v);
            continue;
        }
        gp_weights_writer_add_tensor(wr, t.name, t.ndim, t.dims, t.data, NULL);
    }
    int st = gp_weights_writer_write(wr, dst, &err);
    gp_weights_writer_free(wr);
    gp_weights_close(w);
    return st;
}

static void test_inconsistent_models(void **state)
{
    (void)state;
    gp_arch a = gp_arch_default();
    a.enc_channels[0] = 4; a.enc_channels[1] = 4; a.enc_channels[2] = 4;
    a.trunk[0] = 16; a.trunk[1] = 16; a.head_hidden = 8; a.flow_hidden = 8; a.couplings = 4;
    gp_test_tmpname(src_path, sizeof src_path, ".gpw");
    gp_error err;
    assert_int_equal(gp_model_write_random(src_path, &a, 5, &err), GP_OK);
    gp_model *m = NULL;
    assert_int_equal(gp_model_open(src_path, NULL, &m, &err), GP_OK); /* the source is fine */
    gp_model_close(m);

    const mutation table[] = {
        { "missing conv bias", "enc.conv1.bias", 0, 0, 0, 0, 0, 0, 0, 0, GP_ERR_NOTFOUND, "enc.conv1.bias" },
        { "missing latent layer", "enc.fc_logvar.weight", 0, 0, 0, 0, 0, 0, 0, 0, GP_ERR_NOTFOUND, "enc.fc_logvar.weight" },
        { "missing trunk", "m0.trunk.0.weight", 0, 0, 0, 0, 0, 0, 0, 0, GP_ERR_NOTFOUND, "m0.trunk.0.weight" },
        { "truncated conditioner", "m0.core_flow.2.net.2.weight", 0, 0, 0, 0, 0, 0, 0, 0, GP_ERR_FORMAT, "m0.core_flow.2.net" },
        { "missing decoder", "dec.deconv2.weight", 0, 0, 0, 0, 0, 0, 0, 0, GP_ERR_NOTFOUND, "dec.deconv2.weight" },
        { "wrong fc shape", 0, "enc.fc_mu.weight", 0, 0, 0, 0, 0, 0, 0, GP_ERR_FORMAT, "enc.fc_mu.weight" },
        { "wrong head shape", 0, "m0.line_head.1.weight", 0, 0, 0, 0, 0, 0, 0, GP_ERR_FORMAT, "m0.line_head.1.weight" },
        { "no activation key", 0, 0, "mlp.activation", 0, 0, 0, 0, 0, 0, GP_ERR_NOTFOUND, "mlp.activation" },
        { "unknown activation", 0, 0, 0, "mlp.activation", GP_META_STR, "swish", 0, 0, 0, GP_ERR_FORMAT, "swish" },
        { "unknown variant", 0, 0, 0, "model.variant", GP_META_STR, "spectrum", 0, 0, 0, GP_ERR_FORMAT, "model.variant" },
        { "variant as number", 0, 0, 0, "model.variant", GP_META_I64, 0, 3, 0, 0, GP_ERR_FORMAT, "model.variant" },
        { "zero phot std", 0, 0, 0, "phot.std", GP_META_F64_ARRAY, 0, 0, 0.0, 9, GP_ERR_FORMAT, "phot.std" },
        { "short target mean", 0, 0, 0, "target.mean", GP_META_F64_ARRAY, 0, 0, 1.0, 8, GP_ERR_FORMAT, "target.mean" },
        { "ensemble too large", 0, 0, 0, "ensemble.size", GP_META_I64, 0, 2, 0, 0, GP_ERR_NOTFOUND, "m1.trunk" },
        { "ensemble zero", 0, 0, 0, "ensemble.size", GP_META_I64, 0, 0, 0, 0, GP_ERR_FORMAT, "ensemble.size" },
        { "huge coupling count", 0, 0, 0, "flow.core.couplings", GP_META_I64, 0, 1000000, 0, 0, GP_ERR_FORMAT, "flow.core.couplings" },
        { "mask count", 0, 0, 0, "flow.core.masks", GP_META_I64_ARRAY, 0, 1, 0, 7, GP_ERR_FORMAT, "flow.core.masks" },
        { "mask keeps all", 0, 0, 0, "flow.line.masks", GP_META_I64_ARRAY, 0, 1, 0, 16, GP_ERR_FORMAT, "flow.line.masks" },
        { "mask value 2", 0, 0, 0, "flow.core.masks", GP_META_I64_ARRAY, 0, 2, 0, 16, GP_ERR_FORMAT, "flow.core.masks" },
        { "scale bound 0", 0, 0, 0, "flow.oh.scale_bound", GP_META_F64, 0, 0, 0.0, 0, GP_ERR_FORMAT, "flow.oh.scale_bound" },
        { "channels count", 0, 0, 0, "encoder.channels", GP_META_I64_ARRAY, 0, 3, 0, 3, GP_ERR_FORMAT, "encoder.channels" },
        { "kernel 3", 0, 0, 0, "encoder.kernel", GP_META_I64, 0, 3, 0, 0, GP_ERR_FORMAT, "encoder geometry" },
        { "negative softening", 0, 0, 0, "image.softening", GP_META_F64_ARRAY, 0, 0, -1.0, 3, GP_ERR_FORMAT, "image.softening" },
        { "latent mismatch", 0, 0, 0, "encoder.latent", GP_META_I64, 0, 16, 0, 0, GP_ERR_FORMAT, "enc.fc_mu.weight" },
        { "leaky slope 2", 0, 0, 0, "mlp.leaky_slope", GP_META_F64, 0, 0, 2.0, 0, GP_ERR_FORMAT, "mlp.leaky_slope" },
    };
    char dst[512];
    gp_test_tmpname(dst, sizeof dst, ".gpw");
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        const mutation *mu = &table[i];
        if (rewrite(dst, mu)) fail_msg("%s: could not write the mutated file", mu->label);
        m = NULL;
        gp_error_clear(&err);
        int st = gp_model_open(dst, NULL, &m, &err);
        if (st != mu->expect)
            fail_msg("%s: status %s, expected %s (%s)", mu->label, gp_status_string(st), gp_status_string(mu->expect), err.msg);
        assert_null(m);
        if (!strstr(err.msg, dst)) fail_msg("%s: message does not name the file: %s", mu->label, err.msg);
        if (!strstr(err.msg, mu->needle)) fail_msg("%s: message does not name '%s': %s", mu->label, mu->needle, err.msg);
    }
    unlink(dst);
    unlink(src_path);
}

int main(void)
{
    gp_test_seed("test_model_load");
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_inconsistent_models) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
