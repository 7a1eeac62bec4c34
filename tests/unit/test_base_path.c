/*
 * The one path rule (base/path.h) that arca-run applies at launch and the policy loader at
 * upload: absolute, normalised, bounded. Each refusal names the rule and the offset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "base/path.h"

static int check(const char *p)
{
    return arca_path_check(p, strlen(p));
}

static void test_normal_paths(void **state)
{
    (void)state;
    const char *ok[] = {"/",      "/etc",   "/etc/app/app.conf", "/a/.hidden", "/a/..b",
                        "/a/b..", "/a/...", "/x y/z\tw",         "/a/-/b"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (check(ok[i]) != 0)
            fail_msg("refused %s: %s", ok[i], arca_err_detail());
}

static void refused(const char *p, const char *why)
{
    assert_int_equal(check(p), ARCA_ERR_FORMAT);
    if (strstr(arca_err_detail(), why) == NULL)
        fail_msg("%s: detail '%s' lacks '%s'", p, arca_err_detail(), why);
}

static void test_refused_paths(void **state)
{
    (void)state;
    refused("", "empty");
    refused("etc/passwd", "not absolute");
    refused("./etc", "not absolute");
    refused("/etc/", "trailing");
    refused("//etc", "'//'");
    refused("/etc//app", "('//') at offset 4");
    refused("/.", "'.' component");
    refused("/etc/./app", "'.' component at offset 5");
    refused("/..", "'..' component");
    refused("/etc/../root/x", "'..' component at offset 5");
    refused("/etc/app/..", "'..'");
}

static void test_nul_and_lengths(void **state)
{
    (void)state;
    assert_int_equal(arca_path_check("/etc\0/x", 7), ARCA_ERR_FORMAT);
    assert_non_null(strstr(arca_err_detail(), "NUL byte at offset 4"));
    assert_int_equal(arca_path_check(NULL, 0), ARCA_ERR_FORMAT);
    /* Length is what the caller says, not strlen: the first 4 bytes alone are fine. */
    assert_int_equal(arca_path_check("/etc/", 4), 0);

    char name[300];
    name[0] = '/';
    memset(name + 1, 'n', 256);
    assert_int_equal(arca_path_check(name, 1 + 255), 0);
    assert_int_equal(arca_path_check(name, 1 + 256), ARCA_ERR_FORMAT);
    assert_non_null(strstr(arca_err_detail(), "longer than 255"));

    /* "/a/a/.../aa": exactly ARCA_PATH_MAX bytes, then one more. */
    static char big[ARCA_PATH_MAX + 2];
    for (size_t i = 0; i + 1 < ARCA_PATH_MAX; i += 2) {
        big[i] = '/';
        big[i + 1] = 'a';
    }
    big[ARCA_PATH_MAX - 1] = 'a';
    big[ARCA_PATH_MAX] = 'a';
    assert_int_equal(arca_path_check(big, ARCA_PATH_MAX), 0);
    assert_int_equal(arca_path_check(big, ARCA_PATH_MAX + 1), ARCA_ERR_FORMAT);
    assert_non_null(strstr(arca_err_detail(), "more than 4095"));
}

static void test_components(void **state)
{
    (void)state;
    const char *p = "/etc/app/x.conf";
    const char *want[] = {"etc", "app", "x.conf"};
    size_t off = 0, n = 0, k = 0;
    const char *name;
    bool last = false;
    while (arca_path_next(p, strlen(p), &off, &name, &n, &last)) {
        assert_true(k < 3);
        assert_int_equal(n, strlen(want[k]));
        assert_memory_equal(name, want[k], n);
        assert_int_equal(last, k == 2);
        k++;
    }
    assert_int_equal(k, 3);
    off = 0;
    assert_false(arca_path_next("/", 1, &off, &name, &n, &last));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normal_paths),
        cmocka_unit_test(test_refused_paths),
        cmocka_unit_test(test_nul_and_lengths),
        cmocka_unit_test(test_components),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
