/*
 * The CAS's limits (cas/cas.h) over a real temporary store: the cost of what one upload makes
 * arcad generate, the number of sessions a client key may create, and the listing index and
 * its pages (visibility decided from the index equals the decision from the version).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/enc.h"
#include "base/err.h"
#include "policy/session.h"
#include "test_cas_fixture.h"

static int put(struct fix *f, const uint8_t *client, const char *text)
{
    struct arca_diag d;
    struct arca_cas_put p;
    arca_diag_init(&d);
    int rc = arca_cas_session_put(&f->cas, client, text, strlen(text), &d, &p);
    arca_cas_put_clear(&p);
    arca_diag_free(&d);
    return rc;
}

static void test_cost_limits(void **state)
{
    struct fix *f = *state;
    f->cas.secrets_limits.max_keys = 2;
    static const char three[] = "name: many\nversion: \"0.3\"\nsecrets:\n"
                                "  - name: a\n    kind: private-key\n"
                                "  - name: b\n    kind: private-key\n"
                                "  - name: c\n    kind: private-key\n";
    assert_int_equal(put(f, CREATOR, three), ARCA_ERR_TOO_LARGE);
    assert_non_null(strstr(arca_err_detail(), "session 'many'"));
    assert_non_null(strstr(arca_err_detail(), "--max-keys-per-session"));
    struct arca_api_version v;
    assert_int_equal(arca_cas_session_read(&f->cas, CREATOR, "many", NULL, &v), ARCA_ERR_NOT_FOUND);
    f->cas.secrets_limits.max_keys = 3;
    assert_int_equal(put(f, CREATOR, three), 0);
    /* an update is bounded the same way */
    f->cas.secrets_limits.max_keys = 0;
    f->cas.secrets_limits.max_cost_ms = 100;
    char up[512];
    char h[65];
    assert_int_equal(arca_cas_session_read(&f->cas, CREATOR, "many", NULL, &v), 0);
    arca_hex_fmt(h, v.hash, 32);
    arca_api_version_clear(&v);
    snprintf(up, sizeof(up),
             "name: many\nversion: \"0.3\"\nsecrets:\n"
             "  - name: a\n    kind: private-key\n    key_type: RSA-3072\n"
             "predecessor: \"%s\"\n",
             h);
    assert_int_equal(put(f, CREATOR, up), ARCA_ERR_TOO_LARGE);
}

static void test_sessions_per_client(void **state)
{
    struct fix *f = *state;
    f->cas.max_sessions_per_client = 2;
    assert_int_equal(put(f, CREATOR, "name: s1\nversion: \"0.3\"\n"), 0);
    assert_int_equal(put(f, CREATOR, "name: s2\nversion: \"0.3\"\n"), 0);
    assert_int_equal(put(f, CREATOR, "name: s3\nversion: \"0.3\"\n"), ARCA_ERR_LIMIT);
    assert_non_null(strstr(arca_err_detail(), "--max-sessions-per-client"));
    assert_int_equal(put(f, STRANGER, "name: s3\nversion: \"0.3\"\n"), 0);
    /* a refused create is not counted, and an existing name is refused before the quota */
    uint64_t n = 0;
    assert_int_equal(arca_store_sessions_created(f->store, CREATOR, &n), 0);
    assert_int_equal(n, 2);
}

/* A session named name whose list_sessions rule is rule. */
static void add(struct fix *f, const char *name, const char *rule)
{
    char y[512];
    snprintf(y, sizeof(y), "name: %s\nversion: \"0.3\"\naccess_policy:\n  list_sessions: %s\n",
             name, rule);
    assert_int_equal(put(f, CREATOR, y), 0);
}

/* The names client sees, all pages of size page, joined by spaces into out. */
static void list_all(struct fix *f, const uint8_t *client, size_t page, char *out, size_t cap)
{
    char *after = NULL;
    out[0] = '\0';
    size_t pages = 0;
    do {
        struct arca_api_versions l;
        char *next = NULL;
        assert_int_equal(arca_cas_session_list(&f->cas, client, NULL, after, page, &l, &next), 0);
        assert_true(l.n <= page);
        for (size_t i = 0; i < l.n; i++) {
            strncat(out, l.v[i].name, cap - strlen(out) - 1);
            strncat(out, " ", cap - strlen(out) - 1);
        }
        arca_api_versions_clear(&l);
        free(after);
        after = next;
        assert_true(++pages < 100);
    } while (after != NULL);
}

static void test_list_index_and_pages(void **state)
{
    struct fix *f = *state;
    char r[65], rule[256], got[512];
    arca_hex_fmt(r, READER, 32);
    add(f, "a-any", "[ANY]");
    add(f, "b-creator", "[CREATOR]");
    snprintf(rule, sizeof(rule), "[\"%s\"]", r);
    add(f, "c-reader", rule);
    snprintf(rule, sizeof(rule), "[CREATOR, \"%s\"]", r);
    add(f, "d-both", rule);
    /* trees (require-*) are not allowed in list_sessions: the loader refuses them */
    add(f, "f-none", "[NONE]");
    /* stored without index readers (as by a store written before the index existed): the
     * version decides */
    struct arca_store_session old;
    test_session(&old, "g-old", 9, NULL, 1);
    memcpy(old.creator, CREATOR, 32);
    old.yaml = (char *)"name: g-old\nversion: \"0.3\"\naccess_policy:\n  list_sessions: [ANY]\n";
    old.yaml_len = strlen(old.yaml);
    assert_int_equal(arca_store_session_commit(f->store, &old, NULL, 0), 0);

    for (size_t page = 1; page <= 8; page++) {
        list_all(f, CREATOR, page, got, sizeof(got));
        assert_string_equal(got, "a-any b-creator d-both g-old ");
        list_all(f, READER, page, got, sizeof(got));
        assert_string_equal(got, "a-any c-reader d-both g-old ");
        list_all(f, STRANGER, page, got, sizeof(got));
        assert_string_equal(got, "a-any g-old ");
    }
    struct arca_api_versions l;
    char *next = NULL;
    assert_int_equal(arca_cas_session_list(&f->cas, CREATOR, NULL, NULL, 2, &l, &next), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(next, "b-creator");
    arca_api_versions_clear(&l);
    free(next);
    assert_int_equal(
        arca_cas_session_list(&f->cas, CREATOR, NULL, NULL, ARCA_CAS_LIST_MAX + 1, &l, &next),
        ARCA_ERR_FORMAT);
    assert_null(next);
    /* the index follows an update: d-both no longer lists the reader */
    struct arca_api_version v;
    assert_int_equal(arca_cas_session_read(&f->cas, CREATOR, "d-both", NULL, &v), 0);
    char h[65], y[512];
    arca_hex_fmt(h, v.hash, 32);
    arca_api_version_clear(&v);
    snprintf(y, sizeof(y),
             "name: d-both\nversion: \"0.3\"\naccess_policy:\n  list_sessions: [CREATOR]\n"
             "predecessor: \"%s\"\n",
             h);
    assert_int_equal(put(f, CREATOR, y), 0);
    list_all(f, READER, 3, got, sizeof(got));
    assert_string_equal(got, "a-any c-reader g-old ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cost_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sessions_per_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_index_and_pages, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
