/* test_error.c: the error record keeps status, origin and message. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "galpost/gp_error.h"

static int fails_with_format(gp_error *err)
{
    return GP_FAIL(err, GP_ERR_FORMAT, "%s: tensor '%s' has %d dims", "x.gpw", "enc.conv1.weight", 7);
}

static void test_fail_fills_record(void **state)
{
    (void)state;
    gp_error err;
    gp_error_clear(&err);
    assert_int_equal(err.status, GP_OK);
    int st = fails_with_format(&err);
    assert_int_equal(st, GP_ERR_FORMAT);
    assert_int_equal(err.status, GP_ERR_FORMAT);
    assert_string_equal(err.func, "fails_with_format");
    assert_non_null(strstr(err.file, "test_error.c"));
    assert_true(err.line > 0);
    assert_string_equal(err.msg, "x.gpw: tensor 'enc.conv1.weight' has 7 dims");
    gp_error_prefix(&err, "galaxy %d", 12);
    assert_string_equal(err.msg, "galaxy 12: x.gpw: tensor 'enc.conv1.weight' has 7 dims");
}

static void test_null_record_and_names(void **state)
{
    (void)state;
    assert_int_equal(GP_FAIL(NULL, GP_ERR_IO, "ignored"), GP_ERR_IO);
    assert_string_equal(gp_status_string(GP_OK), "GP_OK");
    assert_string_equal(gp_status_string(GP_ERR_WCS), "GP_ERR_WCS");
    assert_string_equal(gp_status_string(-3), "GP_ERR_UNKNOWN");
    assert_string_equal(gp_status_string(GP_STATUS_COUNT), "GP_ERR_UNKNOWN");
}

static void test_long_message_truncated(void **state)
{
    (void)state;
    gp_error err;
    char big[4000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    GP_FAIL(&err, GP_ERR_ARG, "%s", big);
    assert_int_equal(strlen(err.msg), sizeof err.msg - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fail_fills_record),
        cmocka_unit_test(test_null_record_and_names),
        cmocka_unit_test(test_long_message_truncated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
