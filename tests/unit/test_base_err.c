/*
 * Error space: codes, strerror, details, wrapping, truncation, and the macros.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"

static int uses_try(int inner)
{
    ARCA_TRY(inner);
    return 5;
}

static int uses_ensure(const char *p)
{
    ARCA_ENSURE_REF(p);
    ARCA_ENSURE(p[0] == 'x', ARCA_ERR_FORMAT, "want x, got '%c' at offset %d", p[0], 0);
    return 0;
}

static int uses_guard(int inner, int *cleaned)
{
    int rc = 0;
    ARCA_GUARD(rc, inner, out);
    ARCA_GUARD_ENSURE(rc, inner != 1, out, ARCA_ERR_CONFLICT, "one is not allowed");
out:
    *cleaned = 1;
    return rc;
}

static void test_codes(void **state)
{
    (void)state;
    for (int c = ARCA_ERR_INSECURE; c <= 0; c++) {
        const char *s = arca_strerror(c);
        assert_non_null(s);
        assert_string_not_equal(s, "unknown error");
    }
    assert_string_equal(arca_strerror(1), "unknown error");
    assert_string_equal(arca_strerror(-999), "unknown error");
    assert_string_equal(arca_strerror(ARCA_ERR_REVOKED), "certificate revoked");
}

static void test_detail_and_wrap(void **state)
{
    (void)state;
    arca_err_clear();
    assert_string_equal(arca_err_detail(), "");
    assert_int_equal(arca_err_set(ARCA_ERR_FORMAT, "bad %s at %d", "thing", 4), ARCA_ERR_FORMAT);
    assert_string_equal(arca_err_detail(), "bad thing at 4");
    assert_int_equal(arca_err_wrap(ARCA_ERR_FORMAT, "file %s", "a.yml"), ARCA_ERR_FORMAT);
    assert_string_equal(arca_err_detail(), "file a.yml: bad thing at 4");
    arca_err_clear();
    arca_err_wrap(ARCA_ERR_IO, "only prefix");
    assert_string_equal(arca_err_detail(), "only prefix");
    /* Truncation to ARCA_ERR_DETAIL_MAX - 1 characters, still terminated. */
    char big[2 * ARCA_ERR_DETAIL_MAX];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    arca_err_set(ARCA_ERR_FORMAT, "%s", big);
    assert_int_equal(strlen(arca_err_detail()), ARCA_ERR_DETAIL_MAX - 1);
    arca_err_wrap(ARCA_ERR_FORMAT, "%s", big);
    assert_true(strlen(arca_err_detail()) < ARCA_ERR_DETAIL_MAX);
}

static void test_macros(void **state)
{
    (void)state;
    assert_int_equal(uses_try(0), 5);
    assert_int_equal(uses_try(ARCA_ERR_IO), ARCA_ERR_IO);
    assert_int_equal(uses_ensure(NULL), ARCA_ERR_INVALID_ARG);
    assert_non_null(strstr(arca_err_detail(), "p is NULL"));
    assert_int_equal(uses_ensure("y"), ARCA_ERR_FORMAT);
    assert_string_equal(arca_err_detail(), "want x, got 'y' at offset 0");
    assert_int_equal(uses_ensure("x"), 0);
    int cleaned = 0;
    assert_int_equal(uses_guard(ARCA_ERR_LIMIT, &cleaned), ARCA_ERR_LIMIT);
    assert_int_equal(cleaned, 1);
    cleaned = 0;
    assert_int_equal(uses_guard(1, &cleaned), ARCA_ERR_CONFLICT);
    assert_int_equal(cleaned, 1);
    assert_int_equal(uses_guard(0, &cleaned), 0);
    assert_true(ARCA_NEVER(1 == 1));
    assert_non_null(strstr(arca_err_detail(), "1 == 1"));
    assert_false(ARCA_NEVER(0));
    assert_true(ARCA_ALWAYS(1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codes),
        cmocka_unit_test(test_detail_and_wrap),
        cmocka_unit_test(test_macros),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
