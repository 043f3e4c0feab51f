/*
 * test_cuda_fallback.c: backend selection, on any machine.
 *  - gp_backend_open_cuda() either gives a "cuda:N (...)" backend or fails
 *    with GP_ERR_BACKEND and a message (no device, no driver, or galpost
 *    built without CUDA), never a half-made backend;
 *  - a model opened with GP_BACKEND_AUTO then runs on CUDA, or on the CPU
 *    with a note that carries that message; on the CPU its samples are
 *    bit-identical to an explicit CPU model's;
 *  - GP_BACKEND_CUDA without a device is an error, not a silent CPU run;
 *  - invalid ordinals are refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "galpost/gp_model.h"
#include "gp_backend.h"
#include "../gp_test_util.h"

static char path[512];
static float cutout[GP_CUTOUT_PIXELS];

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
    gp_test_fill(cutout, GP_CUTOUT_PIXELS, 0.1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    return 0;
}

static void test_open_cuda_is_all_or_nothing(void **state)
{
    (void)state;
    gp_backend *be = (gp_backend *)&be;  /* must be overwritten */
    gp_error err;
    gp_error_clear(&err);
    int st = gp_backend_open_cuda(0, &be, &err);
    if (st == GP_OK) {
        assert_non_null(be);
        assert_int_equal(strncmp(be->description, "cuda:0 (", 8), 0);
        assert_non_null(be->ops);
        assert_string_equal(be->ops->name, "cuda");
        gp_backend_close(be);
    } else {
        assert_int_equal(st, GP_ERR_BACKEND);
        assert_int_equal(err.status, GP_ERR_BACKEND);
        assert_null(be);
        assert_true(strlen(err.msg) > 10);
#ifdef GP_HAVE_CUDA
        assert_non_null(strstr(err.msg, "CUDA"));
#else
        assert_non_null(strstr(err.msg, "built without the CUDA backend"));
#endif
        fprintf(stderr, "no CUDA backend here: %s\n", err.msg);
    }
    /* an ordinal far beyond any machine's devices */
    be = (gp_backend *)&be;
    assert_int_equal(gp_backend_open_cuda(999, &be, &err), GP_ERR_BACKEND);
    assert_null(be);
    /* a negative ordinal */
    be = (gp_backend *)&be;
    assert_int_not_equal(gp_backend_open_cuda(-1, &be, &err), GP_OK);
    assert_null(be);
    /* no output pointer */
    assert_int_not_equal(gp_backend_open_cuda(0, NULL, &err), GP_OK);
}

static gp_model *open_model(gp_backend_kind kind, int *st, gp_error *err)
{
    gp_model_options o = gp_model_options_default();
    o.backend = kind;
    o.threads = 1;
    gp_model *m = (gp_model *)&o;  /* must be overwritten */
    *st = gp_model_open(path, &o, &m, err);
    return m;
}

static void test_auto_falls_back_with_a_note(void **state)
{
    (void)state;
    gp_error cerr, err;
    gp_error_clear(&cerr);
    gp_backend *be = NULL;
    int have_cuda = gp_backend_open_cuda(0, &be, &cerr) == GP_OK;
    gp_backend_close(be);

    int st;
    gp_model *m = open_model(GP_BACKEND_AUTO, &st, &err);
    assert_int_equal(st, GP_OK);
    assert_non_null(m);
    if (have_cuda) {
        assert_int_equal(strncmp(gp_model_backend_name(m), "cuda:0", 6), 0);
        assert_string_equal(gp_model_backend_note(m), "");
    } else {
        assert_int_equal(strncmp(gp_model_backend_name(m), "cpu", 3), 0);
        char note[1200];
        snprintf(note, sizeof note, "CUDA not used: %s", cerr.msg);
        assert_string_equal(gp_model_backend_note(m), note);
    }

    /* inference works on whatever AUTO chose */
    gp_galaxy g = { 123456789, cutout, { 18.2f, 17.1f, 16.5f, 16.2f, 16.0f }, 0 };
    gp_infer_options io = { 40, 9, 1 };
    gp_result ra, rc;
    assert_int_equal(gp_infer(m, &g, 1, &io, &ra, &err), GP_OK);
    for (int i = 0; i < 40 * GP_NQ; i++) assert_true(isfinite(ra.samples[i]));
    gp_model *mc = open_model(GP_BACKEND_CPU, &st, &err);
    assert_int_equal(st, GP_OK);
    assert_string_equal(gp_model_backend_note(mc), "");
    assert_int_equal(gp_infer(mc, &g, 1, &io, &rc, &err), GP_OK);
    if (!have_cuda)
        assert_memory_equal(ra.samples, rc.samples, sizeof(float) * 40 * GP_NQ);
    gp_result_free(&ra, 1);
    gp_result_free(&rc, 1);
    gp_model_close(mc);
    gp_model_close(m);

    /* explicit CUDA without a device: an error naming the reason */
    m = open_model(GP_BACKEND_CUDA, &st, &err);
    if (have_cuda) {
        assert_int_equal(st, GP_OK);
        gp_model_close(m);
    } else {
        assert_int_equal(st, GP_ERR_BACKEND);
        assert_null(m);
        assert_string_equal(err.msg, cerr.msg);
    }
}

int main(void)
{
    gp_test_seed("test_cuda_fallback");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_cuda_is_all_or_nothing),
        cmocka_unit_test(test_auto_falls_back_with_a_note),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
