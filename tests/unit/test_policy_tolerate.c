/*
 * The one table of tolerance names (session.h, policy/tolerate.c): names and bits round-trip,
 * every tolerance has exactly one name, and the loader accepts exactly the table's names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "policy/session.h"

#define ALL_TOLERATE 0x7fu /* every enum arca_tolerate bit */

static void test_table_round_trip(void **state)
{
    (void)state;
    size_t n = 0;
    const struct arca_tolerate_name *t = arca_tolerate_table(&n);
    assert_int_equal(n, 7);
    uint32_t all = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(t[i].bit & (t[i].bit - 1), 0); /* one bit each */
        assert_int_equal(all & t[i].bit, 0);            /* no bit twice */
        all |= t[i].bit;
        assert_int_equal(arca_tolerate_from_name(t[i].name), t[i].bit);
        assert_string_equal(arca_tolerate_name(t[i].bit), t[i].name);
    }
    assert_int_equal(all, ALL_TOLERATE);
    assert_string_equal(arca_tolerate_name(ARCA_TOLERATE_OUTDATED_TCB), "outdated-tcb");
    assert_int_equal(arca_tolerate_from_name("software-hardening-needed"),
                     ARCA_TOLERATE_SW_HARDENING_NEEDED);
}

static void test_unknown_names(void **state)
{
    (void)state;
    assert_int_equal(arca_tolerate_from_name("Debug-Mode"), 0);
    assert_int_equal(arca_tolerate_from_name("debug-mode "), 0);
    assert_int_equal(arca_tolerate_from_name("maa-managed-tcb"), 0);
    assert_int_equal(arca_tolerate_from_name(""), 0);
    assert_int_equal(arca_tolerate_from_name(NULL), 0);
    assert_string_equal(arca_tolerate_name(0), "?");
    assert_string_equal(arca_tolerate_name(ARCA_TOLERATE_DEBUG_MODE | ARCA_TOLERATE_AEPIC_LEAK),
                        "?");
}

static int load(const char *tolerate, struct arca_session **s, struct arca_diag *diag)
{
    char y[1024];
    snprintf(y, sizeof(y),
             "name: t\nversion: \"0.3\"\nsecurity:\n  attestation:\n    mode: none\n"
             "    tolerate: [%s]\n",
             tolerate);
    return arca_session_load(y, strlen(y), "tol.yaml", s, diag);
}

/* The loader takes every name of the table, and only those. */
static void test_loader_uses_table(void **state)
{
    (void)state;
    size_t n = 0;
    const struct arca_tolerate_name *t = arca_tolerate_table(&n);
    char list[512] = "";
    size_t off = 0;
    for (size_t i = 0; i < n; i++)
        off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", i ? ", " : "", t[i].name);
    struct arca_diag diag;
    struct arca_session *s = NULL;
    arca_diag_init(&diag);
    assert_int_equal(load(list, &s, &diag), 0);
    assert_int_equal(s->security.tolerate, ALL_TOLERATE);
    arca_session_free(s);
    arca_diag_free(&diag);

    arca_diag_init(&diag);
    assert_int_equal(load("outdated-tcb, lunar-phase", &s, &diag), ARCA_ERR_FORMAT);
    assert_null(s);
    assert_int_equal(diag.n, 1);
    char want[600];
    snprintf(want, sizeof(want), "unknown tolerate value 'lunar-phase' (expected %s)", list);
    assert_string_equal(diag.v[0].msg, want);
    arca_diag_free(&diag);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_round_trip),
        cmocka_unit_test(test_unknown_names),
        cmocka_unit_test(test_loader_uses_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
