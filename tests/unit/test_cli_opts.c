/*
 * The CLI's GNU-style argument handling (src/arca/cli_opts.c): --flag=value and -oVALUE split,
 * "--" respected, unknown options named against a subcommand's spec, did-you-mean.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* main.c is not in arca_core: the message goes nowhere here, the code is what counts. */
int cli_fail(int code, const char *fmt, ...)
{
    (void)fmt;
    return code;
}

static void test_normalize(void **state)
{
    (void)state;
    char a0[] = "arca", a1[] = "--cas=h:1", a2[] = "-ojson", a3[] = "session", a4[] = "list",
         a5[] = "--page-size=5", a6[] = "--", a7[] = "--x=y", a8[] = "-o", a9[] = "=v";
    char *argv[] = {a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, NULL};
    char **v = NULL;
    int n = cli_args_normalize(10, argv, &v);
    const char *want[] = {"arca",        "--cas", "h:1", "-o",    "json", "session", "list",
                          "--page-size", "5",     "--",  "--x=y", "-o",   "=v"};
    assert_int_equal(n, (int)(sizeof(want) / sizeof(want[0])));
    for (int i = 0; i < n; i++)
        assert_string_equal(v[i], want[i]);
    assert_null(v[n]);
    free(v);
}

static void test_check_options(void **state)
{
    (void)state;
    char s0[] = "list", s1[] = "--prefix", s2[] = "--page-size", s3[] = "5", s4[] = "pfx";
    char *ok[] = {s0, s1, s2, s3, s4};
    /* "--prefix" takes "--page-size" as its value: a value is never checked as an option */
    assert_int_equal(cli_check_options("session list", "--prefix= --page-size=", 5, ok),
                     ARCA_EXIT_OK);
    char b1[] = "--foo";
    char *bad[] = {s0, b1};
    assert_int_equal(cli_check_options("session list", "--prefix=", 2, bad), ARCA_EXIT_USAGE);
    char *missing[] = {s0, s1};
    assert_int_equal(cli_check_options("session list", "--prefix=", 2, missing), ARCA_EXIT_USAGE);
    char d0[] = "--", d1[] = "-weird.yaml", d2[] = "-";
    char *dashes[] = {s0, d2, d0, d1};
    assert_int_equal(cli_check_options("session check", "", 4, dashes), ARCA_EXIT_OK);
    /* a flag that is a prefix of a declared one is not that one */
    char p1[] = "--pre";
    char *prefix[] = {s0, p1};
    assert_int_equal(cli_check_options("session list", "--prefix=", 2, prefix), ARCA_EXIT_USAGE);
    assert_int_equal(cli_check_options("x", NULL, 2, bad), ARCA_EXIT_OK);
}

static void test_suggest(void **state)
{
    (void)state;
    const char *names[] = {"check", "hash", "create", "update", "read", "list", "history"};
    size_t n = sizeof(names) / sizeof(names[0]);
    assert_string_equal(cli_suggest("creat", names, n), "create");
    assert_string_equal(cli_suggest("lsit", names, n), "list");
    assert_string_equal(cli_suggest("hist", names, n), "history");
    assert_string_equal(cli_suggest("upate", names, n), "update");
    assert_null(cli_suggest("zzzzzz", names, n));
    assert_null(cli_suggest("x", names, n));
    char long_word[100];
    memset(long_word, 'a', sizeof(long_word) - 1);
    long_word[sizeof(long_word) - 1] = '\0';
    assert_null(cli_suggest(long_word, names, n));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_check_options),
        cmocka_unit_test(test_suggest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
