/*
 * test_cuda_module.c: loading backend modules (engine/gp_backend_module.c).
 *  - a model opened with AUTO (or CPU) that runs on the CPU has mapped no
 *    CUDA library: not the runtime, cuBLAS, cuDNN nor the module (the
 *    150 MB regression of bench/RESULTS.md (d)); this test runs first,
 *    before anything below loads the module into this process;
 *  - a missing file, a file that is not a shared object, a shared object
 *    without the entry, and a module of another ABI are refused with
 *    GP_ERR_BACKEND and a message naming the file, never called;
 *  - built with CUDA, the module of this build ($GALPOST_CUDA_MODULE, set
 *    by make check) loads, passes the ABI check, and its open either gives
 *    a CUDA backend or a GP_ERR_BACKEND message from the CUDA runtime.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "galpost/gp_model.h"
#include "gp_backend.h"
#include "../gp_test_util.h"

static char path[512], junk[512], fake_abi[1024], fake_nosym[1024];

static int setup(void **state)
{
    (void)state;
    gp_arch a = gp_arch_default();
    a.enc_channels[0] = 4; a.enc_channels[1] = 6; a.enc_channels[2] = 8;
    a.latent = 8; a.trunk[0] = 16; a.trunk[1] = 16; a.head_hidden = 8;
    a.flow_hidden = 8; a.couplings = 4;
    gp_error err;
    gp_test_tmpname(path, sizeof path, ".gpw");
    if (gp_model_write_random(path, &a, 5, &err)) { fprintf(stderr, "%s\n", err.msg); return -1; }
    gp_test_tmpname(junk, sizeof junk, ".so");
    FILE *f = fopen(junk, "w");
    if (!f) return -1;
    fputs("not a shared object\n", f);
    fclose(f);
    const char *b = getenv("GP_TOP_BUILDDIR");
    snprintf(fake_abi, sizeof fake_abi, "%s/tests/gpu/.libs/gp_fake_module_abi.so", b ? b : ".");
    snprintf(fake_nosym, sizeof fake_nosym, "%s/tests/gpu/.libs/gp_fake_module_nosym.so", b ? b : ".");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    unlink(junk);
    return 0;
}

/* The first line of /proc/self/maps naming a CUDA library or the module, or "". */
static void cuda_mapping(char *out, size_t n)
{
    static const char *const names[] = { "libcudart", "libcublas", "libcudnn", "galpost-cuda" };
    FILE *f = fopen("/proc/self/maps", "r");
    char line[1024];
    out[0] = '\0';
    assert_non_null(f);
    while (!out[0] && fgets(line, sizeof line, f))
        for (size_t i = 0; i < sizeof names / sizeof *names; i++)
            if (strstr(line, names[i])) { snprintf(out, n, "%s", line); break; }
    fclose(f);
}

static void test_cpu_run_maps_no_cuda(void **state)
{
    (void)state;
    char where[1024];
    gp_model_options o = gp_model_options_default();
    o.threads = 1;
    gp_model *m = NULL;
    gp_error err;
    int st = gp_model_open(path, &o, &m, &err);
    assert_int_equal(st, GP_OK);
    if (strncmp(gp_model_backend_name(m), "cpu", 3) != 0) {
        gp_model_close(m);
        fprintf(stderr, "AUTO chose %s: a GPU is here, nothing to check\n", gp_model_backend_name(m));
        skip();
    }
    fprintf(stderr, "AUTO on %s (%s)\n", gp_model_backend_name(m), gp_model_backend_note(m));
    static float cutout[GP_CUTOUT_PIXELS];
    gp_test_fill(cutout, GP_CUTOUT_PIXELS, 0.1);
    gp_galaxy g = { 42, cutout, { 18.2f, 17.1f, 16.5f, 16.2f, 16.0f }, 0 };
    gp_infer_options io = { 20, 3, 1 };
    gp_result r;
    assert_int_equal(gp_infer(m, &g, 1, &io, &r, &err), GP_OK);
    gp_result_free(&r, 1);
    gp_model_close(m);
    cuda_mapping(where, sizeof where);
    if (where[0]) fprintf(stderr, "mapped: %s", where);
    assert_string_equal(where, "");
}

static void test_load_errors(void **state)
{
    (void)state;
    const gp_backend_module *m = (const gp_backend_module *)&m;  /* must be overwritten */
    gp_error err;
    gp_error_clear(&err);
    assert_int_equal(gp_backend_module_load("/nonexistent/galpost-cuda.so", &m, &err), GP_ERR_BACKEND);
    assert_null(m);
    assert_non_null(strstr(err.msg, "/nonexistent/galpost-cuda.so"));
    fprintf(stderr, "missing: %s\n", err.msg);

    m = (const gp_backend_module *)&m;
    assert_int_equal(gp_backend_module_load(junk, &m, &err), GP_ERR_BACKEND);
    assert_null(m);
    assert_non_null(strstr(err.msg, junk));
    fprintf(stderr, "not ELF: %s\n", err.msg);

    assert_int_equal(gp_backend_module_load(NULL, &m, &err), GP_ERR_ARG);
    assert_int_equal(gp_backend_module_load(junk, NULL, &err), GP_ERR_ARG);

    if (access(fake_abi, R_OK) != 0 || access(fake_nosym, R_OK) != 0) {
        fprintf(stderr, "%s: absent (static-only build): fake modules not checked\n", fake_abi);
        return;
    }
    m = (const gp_backend_module *)&m;
    assert_int_equal(gp_backend_module_load(fake_nosym, &m, &err), GP_ERR_BACKEND);
    assert_null(m);
    assert_non_null(strstr(err.msg, fake_nosym));
    assert_non_null(strstr(err.msg, GP_BACKEND_MODULE_SYMBOL));
    fprintf(stderr, "no entry: %s\n", err.msg);

    for (int i = 0; i < 2; i++) {  /* refused again, not remembered */
        m = (const gp_backend_module *)&m;
        assert_int_equal(gp_backend_module_load(fake_abi, &m, &err), GP_ERR_BACKEND);
        assert_null(m);
        assert_non_null(strstr(err.msg, fake_abi));
        assert_non_null(strstr(err.msg, "ABI"));
    }
    fprintf(stderr, "other ABI: %s\n", err.msg);
}

static void test_module_of_this_build(void **state)
{
    (void)state;
#ifndef GP_HAVE_CUDA
    fprintf(stderr, "built without CUDA: no module\n");
    skip();
#else
    const char *mp = gp_backend_cuda_module_path();
    assert_non_null(mp);
    if (!getenv("GALPOST_CUDA_MODULE")) {
        fprintf(stderr, "GALPOST_CUDA_MODULE unset (not under make check): %s not checked\n", mp);
        skip();
    }
    const gp_backend_module *m = NULL, *again = NULL;
    gp_error err;
    gp_error_clear(&err);
    int st = gp_backend_module_load(mp, &m, &err);
    if (st) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(st, GP_OK);
    assert_non_null(m);
    assert_int_equal(m->abi, GP_BACKEND_ABI);
    assert_string_equal(m->name, "cuda");
    assert_int_equal(gp_backend_module_load(mp, &again, &err), GP_OK);
    assert_ptr_equal(again, m);
    /* the check above can see a mapping: the module maps the CUDA libraries */
    char where[1024];
    cuda_mapping(where, sizeof where);
    assert_string_not_equal(where, "");

    gp_backend *be = (gp_backend *)&be;
    st = m->open(0, &be, &err);
    if (st == GP_OK) {
        assert_string_equal(be->ops->name, "cuda");
        fprintf(stderr, "module open: %s\n", be->description);
        gp_backend_close(be);
    } else {
        assert_int_equal(st, GP_ERR_BACKEND);
        assert_null(be);
        assert_non_null(strstr(err.msg, "CUDA"));
        fprintf(stderr, "module open without a device: %s\n", err.msg);
    }
#endif
}

int main(void)
{
    gp_test_seed("test_cuda_module");
    /* in this order: the first needs a process without the module */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_run_maps_no_cuda),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_module_of_this_build),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
