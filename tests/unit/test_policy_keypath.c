/*
 * The session loader's scoped key path (load_internal.h): scopes nest and restore the path,
 * long keys are truncated without overflowing, and a scope left open is caught on the way out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "policy/load_internal.h"

/* Records the path seen inside the innermost scope. */
static int seen(struct ld *L, char *out, size_t len)
{
    snprintf(out, len, "%s", L->path);
    return 0;
}

static void inner(struct ld *L, char *out, size_t len)
{
    LD_AT_KEY(L, "c", seen(L, out, len));
}

static void middle(struct ld *L, char *out, size_t len)
{
    LD_AT_INDEX(L, 3, inner(L, out, len));
    assert_string_equal(L->path, "a.b");
}

static void outer(struct ld *L, char *out, size_t len)
{
    LD_AT_KEY(L, "b", middle(L, out, len));
    assert_string_equal(L->path, "a");
}

static void test_nested_scopes_restore(void **state)
{
    (void)state;
    struct ld L;
    char got[LD_PATH_MAX];
    memset(&L, 0, sizeof(L));
    got[0] = 0;
    LD_AT_KEY(&L, "a", outer(&L, got, sizeof(got)));
    assert_string_equal(got, "a.b[3].c");
    assert_string_equal(L.path, "");
    assert_int_equal(L.plen, 0);
    assert_int_equal(L.depth, 0);
    assert_false(L.path_broken);
    LD_AT_ITEM(&L, "secrets", 7, seen(&L, got, sizeof(got)));
    assert_string_equal(got, "secrets[7]");
    assert_string_equal(L.path, "");
    assert_int_equal(L.depth, 0);
}

static void index_probe(struct ld *L, char *out, size_t len)
{
    LD_AT_INDEX(L, 1, seen(L, out, len));
}

static void long_key(struct ld *L, const char *key, char *out, size_t len)
{
    LD_AT_KEY(L, key, index_probe(L, out, len));
}

static void test_long_keys_truncate(void **state)
{
    (void)state;
    struct ld L;
    char key[3 * LD_PATH_MAX];
    char got[LD_PATH_MAX];
    memset(&L, 0, sizeof(L));
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = 0;
    LD_AT_KEY(&L, "x", long_key(&L, key, got, sizeof(got)));
    assert_int_equal(strlen(got), LD_PATH_MAX - 1);
    assert_int_equal(strncmp(got, "x.kkk", 5), 0);
    assert_string_equal(L.path, "");
    assert_int_equal(L.depth, 0);
    assert_false(L.path_broken);
}

#ifdef NDEBUG
/* A scope opened and never closed (only a bug can do that) is caught, and the path repaired. */
static void test_unbalanced_is_caught(void **state)
{
    (void)state;
    struct ld L;
    memset(&L, 0, sizeof(L));
    const struct ld_mark outer = ld_scope_enter_key(&L, "a");
    (void)ld_scope_enter_key(&L, "b"); /* never left */
    ld_scope_leave(&L, outer);
    assert_true(L.path_broken);
    assert_string_equal(L.path, "");
    assert_int_equal(L.depth, 0);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nested_scopes_restore),
        cmocka_unit_test(test_long_keys_truncate),
#ifdef NDEBUG
        cmocka_unit_test(test_unbalanced_is_caught),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
