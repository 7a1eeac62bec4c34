/*
 * The CAS's session and values rules (cas/cas.h) over a real temporary SQLite store: create,
 * update and their refusals, namespaces, access decisions, migration of secrets, read with
 * redaction, list filtering, history and public values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "api/json.h"
#include "base/buf.h"
#include "base/enc.h"
#include "base/err.h"
#include "policy/session.h"
#include "policy/session_cache.h"
#include "test_cas_fixture.h"

#define EXPLICIT "Xq7-explicit-secret-VALUE-91"

static void hex(char out[65], const uint8_t in[32])
{
    arca_hex_fmt(out, in, 32);
}

/* A session named name whose reader is READER; pred (may be NULL) is its predecessor. */
static void session_text(char *out, size_t n, const char *name, const char *extra,
                         const uint8_t *pred)
{
    char r[65], p[65] = "";
    hex(r, READER);
    if (pred != NULL)
        hex(p, pred);
    snprintf(out, n,
             "name: %s\n"
             "version: \"0.3\"\n"
             "secrets:\n"
             "  - name: pw\n"
             "    kind: ascii\n"
             "    size: 16\n"
             "  - name: greeting\n"
             "    kind: ascii\n"
             "    size: 12\n"
             "    export_public: true\n"
             "  - name: imported\n"
             "    kind: ascii\n"
             "    value: \"" EXPLICIT "\"\n"
             "access_policy:\n"
             "  read: [CREATOR, \"%s\"]\n"
             "  list_sessions: [CREATOR]\n"
             "%s%s%s%s",
             name, r, extra != NULL ? extra : "", pred != NULL ? "predecessor: \"" : "", p,
             pred != NULL ? "\"\n" : "");
}

/* Uploads text as client; returns the rc and fills *put (cleared by the caller). */
static int put(struct fix *f, const uint8_t *client, const char *text, struct arca_cas_put *p)
{
    struct arca_diag d;
    arca_diag_init(&d);
    int rc = arca_cas_session_put(&f->cas, client, text, strlen(text), &d, p);
    arca_diag_free(&d);
    return rc;
}

/* Stores a version of name (predecessor pred, may be NULL) as CREATOR; its hash to hash. */
static void store_version(struct fix *f, const char *name, const uint8_t *pred, uint8_t hash[32])
{
    char y[2048];
    struct arca_cas_put p;
    session_text(y, sizeof(y), name, NULL, pred);
    assert_int_equal(put(f, CREATOR, y, &p), 0);
    memcpy(hash, p.v.hash, 32);
    arca_cas_put_clear(&p);
}

static void test_create_update(void **state)
{
    struct fix *f = *state;
    char y[2048];
    struct arca_cas_put p;
    session_text(y, sizeof(y), "app", NULL, NULL);
    assert_int_equal(put(f, CREATOR, y, &p), 0);
    assert_false(p.updated);
    assert_string_equal(p.v.name, "app");
    assert_int_equal(p.v.version, 1);
    assert_memory_equal(p.v.creator, CREATOR, 32);
    uint8_t h1[32];
    memcpy(h1, p.v.hash, 32);
    arca_cas_put_clear(&p);

    /* create again: 409-class, and the message says how to update */
    assert_int_equal(put(f, CREATOR, y, &p), ARCA_ERR_EXISTS);
    assert_non_null(strstr(arca_err_detail(), "predecessor"));
    arca_cas_put_clear(&p);

    /* update with a stale predecessor */
    uint8_t stale[32] = {9};
    session_text(y, sizeof(y), "app", NULL, stale);
    assert_int_equal(put(f, CREATOR, y, &p), ARCA_ERR_CONFLICT);
    arca_cas_put_clear(&p);

    /* update by a reader the active version's update rule does not list */
    session_text(y, sizeof(y), "app", NULL, h1);
    assert_int_equal(put(f, READER, y, &p), ARCA_ERR_DENIED);
    assert_non_null(strstr(arca_err_detail(), "access_policy.update"));
    arca_cas_put_clear(&p);
    /* a stranger (no read either) is answered as if the session did not exist, before the
     * predecessor is compared: a guessed one gives the same answer as the right one */
    assert_int_equal(put(f, STRANGER, y, &p), ARCA_ERR_NOT_FOUND);
    char denied[512];
    snprintf(denied, sizeof(denied), "%s", arca_err_detail());
    arca_cas_put_clear(&p);
    session_text(y, sizeof(y), "app", NULL, stale);
    assert_int_equal(put(f, STRANGER, y, &p), ARCA_ERR_NOT_FOUND);
    assert_string_equal(arca_err_detail(), denied);
    arca_cas_put_clear(&p);
    session_text(y, sizeof(y), "app", NULL, h1);
    /* a stranger's create of the existing name: 409 without the active hash */
    char y0[2048], h1hex[65];
    hex(h1hex, h1);
    session_text(y0, sizeof(y0), "app", "# other\n", NULL);
    assert_int_equal(put(f, STRANGER, y0, &p), ARCA_ERR_EXISTS);
    assert_null(strstr(arca_err_detail(), h1hex));
    arca_cas_put_clear(&p);

    /* update by the creator: version 2, creator kept even when the reader uploads later */
    assert_int_equal(put(f, CREATOR, y, &p), 0);
    assert_true(p.updated);
    assert_int_equal(p.v.version, 2);
    assert_memory_equal(p.v.creator, CREATOR, 32);
    arca_cas_put_clear(&p);

    /* update of a name that does not exist */
    session_text(y, sizeof(y), "ghost", NULL, h1);
    assert_int_equal(put(f, CREATOR, y, &p), ARCA_ERR_NOT_FOUND);
    assert_string_equal(arca_err_detail(), "cannot update 'ghost': no such session (remove "
                                           "`predecessor` to create it)");
    arca_cas_put_clear(&p);
    assert_string_equal(denied, "cannot update 'app': no such session (remove `predecessor` to "
                                "create it)");
}

static void test_put_refusals(void **state)
{
    struct fix *f = *state;
    struct arca_cas_put p;
    struct arca_diag d;
    arca_diag_init(&d);
    assert_int_equal(arca_cas_session_put(&f->cas, NULL, "name: a\n", 8, &d, &p),
                     ARCA_ERR_UNAUTHENTICATED);
    assert_int_equal(arca_cas_session_put(&f->cas, CREATOR, "", 0, &d, &p), ARCA_ERR_FORMAT);
    assert_false(p.invalid);
    static const char bad[] = "name: a\nversion: \"0.3\"\nbogus_key: 1\n";
    assert_true(arca_cas_session_put(&f->cas, CREATOR, bad, strlen(bad), &d, &p) < 0);
    assert_true(p.invalid);
    assert_true(d.n > 0);
    arca_cas_put_clear(&p);
    arca_diag_free(&d);
}

static void test_namespaces(void **state)
{
    struct fix *f = *state;
    char y[2048];
    struct arca_cas_put p;
    /* no parent session yet */
    session_text(y, sizeof(y), "ns/child", NULL, NULL);
    assert_int_equal(put(f, CREATOR, y, &p), ARCA_ERR_NOT_FOUND);
    assert_non_null(strstr(arca_err_detail(), "namespace session 'ns'"));
    arca_cas_put_clear(&p);
    session_text(y, sizeof(y), "ns", NULL, NULL);
    assert_int_equal(put(f, CREATOR, y, &p), 0);
    arca_cas_put_clear(&p);
    /* the parent's create_sessions (default: its update, [CREATOR]) decides */
    session_text(y, sizeof(y), "ns/child", NULL, NULL);
    /* a stranger that may not read ns either is told what a missing ns would tell */
    assert_int_equal(put(f, STRANGER, y, &p), ARCA_ERR_NOT_FOUND);
    assert_non_null(strstr(arca_err_detail(), "namespace session 'ns' does not exist"));
    arca_cas_put_clear(&p);
    /* the reader may read ns, so it is told why */
    assert_int_equal(put(f, READER, y, &p), ARCA_ERR_DENIED);
    assert_non_null(strstr(arca_err_detail(), "create_sessions"));
    arca_cas_put_clear(&p);
    assert_int_equal(put(f, CREATOR, y, &p), 0);
    arca_cas_put_clear(&p);
}

static void test_read_list_history(void **state)
{
    struct fix *f = *state;
    uint8_t h1[32], h2[32];
    store_version(f, "doc", NULL, h1);
    store_version(f, "doc", h1, h2);

    struct arca_api_version v;
    assert_int_equal(arca_cas_session_read(&f->cas, READER, "doc", NULL, &v), 0);
    assert_true(v.active);
    assert_int_equal(v.version, 2);
    assert_memory_equal(v.hash, h2, 32);
    assert_true(v.has_predecessor);
    assert_memory_equal(v.predecessor, h1, 32);
    assert_non_null(v.session);
    assert_null(strstr(v.session, EXPLICIT));
    assert_non_null(strstr(v.session, "<redacted>"));
    arca_api_version_clear(&v);

    char hh[65];
    hex(hh, h1);
    assert_int_equal(arca_cas_session_read(&f->cas, CREATOR, "doc", hh, &v), 0);
    assert_false(v.active);
    assert_int_equal(v.version, 1);
    arca_api_version_clear(&v);
    assert_int_equal(arca_cas_session_read(&f->cas, CREATOR, "doc", "zz", &v), ARCA_ERR_FORMAT);
    char other[65];
    memset(other, 'a', 64);
    other[64] = '\0';
    assert_int_equal(arca_cas_session_read(&f->cas, CREATOR, "doc", other, &v), ARCA_ERR_NOT_FOUND);
    /* a stranger learns nothing, not even whether the hash exists */
    /* a stranger learns nothing, not even whether the session or the hash exists */
    assert_int_equal(arca_cas_session_read(&f->cas, STRANGER, "doc", hh, &v), ARCA_ERR_NOT_FOUND);
    assert_string_equal(arca_err_detail(), "Session not found: 'doc'");
    assert_null(v.name);
    assert_int_equal(arca_cas_session_read(&f->cas, NULL, "doc", NULL, &v), ARCA_ERR_NOT_FOUND);
    assert_int_equal(arca_cas_session_read(&f->cas, CREATOR, "nope", NULL, &v), ARCA_ERR_NOT_FOUND);
    assert_string_equal(arca_err_detail(), "Session not found: 'nope'");
    assert_true(arca_cas_session_read(&f->cas, CREATOR, "a/../b", NULL, &v) < 0);

    struct arca_api_versions l;
    assert_int_equal(arca_cas_session_history(&f->cas, READER, "doc", &l), 0);
    assert_string_equal(l.name, "doc");
    assert_int_equal(l.n, 2);
    assert_int_equal(l.v[0].version, 2);
    assert_int_equal(l.v[1].version, 1);
    assert_false(l.v[1].has_predecessor);
    arca_api_versions_clear(&l);
    assert_int_equal(arca_cas_session_history(&f->cas, STRANGER, "doc", &l), ARCA_ERR_NOT_FOUND);
    assert_string_equal(arca_err_detail(), "Session not found: 'doc'");

    /* list_sessions is [CREATOR]: the reader may read but not list */
    assert_int_equal(arca_cas_session_list(&f->cas, CREATOR, "do", NULL, 0, &l, NULL), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0].name, "doc");
    arca_api_versions_clear(&l);
    assert_int_equal(arca_cas_session_list(&f->cas, READER, NULL, NULL, 0, &l, NULL), 0);
    assert_int_equal(l.n, 0);
    arca_api_versions_clear(&l);
}

static void test_values_and_migration(void **state)
{
    struct fix *f = *state;
    uint8_t h1[32], h2[32];
    store_version(f, "pub", NULL, h1);

    struct arca_api_values vals;
    assert_int_equal(arca_cas_values(&f->cas, "pub", NULL, &vals), 0);
    assert_int_equal(vals.n, 1); /* only greeting is export_public */
    assert_string_equal(vals.v[0].name, "greeting");
    assert_string_equal(vals.v[0].kind, "string");
    assert_int_equal(vals.v[0].text.len, 12);
    char greeting[13];
    memcpy(greeting, vals.v[0].text.data, 12);
    greeting[12] = '\0';
    arca_api_values_clear(&vals);
    assert_int_equal(arca_cas_values(&f->cas, "pub", "pw", &vals), 0);
    assert_int_equal(vals.n, 0);
    arca_api_values_clear(&vals);
    assert_int_equal(arca_cas_values(&f->cas, "missing", NULL, &vals), ARCA_ERR_NOT_FOUND);

    /* an update migrates the generated value (same kind and size) */
    store_version(f, "pub", h1, h2);
    assert_int_equal(arca_cas_values(&f->cas, "pub", "greeting", &vals), 0);
    assert_int_equal(vals.n, 1);
    assert_memory_equal(vals.v[0].text.data, greeting, 12);
    arca_api_values_clear(&vals);
}

/* With the parsed-policy cache: a read right after an update shows the new version (its hash
 * is the key, so the old model is never used), the old one stays readable by hash, access is
 * still decided per client, and a repeated read is a hit. */
static void test_read_cached_new_version(void **state)
{
    struct fix *f = *state;
    struct arca_session_cache *c = NULL;
    assert_int_equal(arca_session_cache_new(8, 1 << 20, &c), 0);
    f->cas.sessions = c;
    uint8_t h1[32], h2[32];
    store_version(f, "doc", NULL, h1);
    struct arca_api_version v;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(arca_cas_session_read(&f->cas, READER, "doc", NULL, &v), 0);
        assert_memory_equal(v.hash, h1, 32);
        assert_null(strstr(v.session, "predecessor"));
        arca_api_version_clear(&v);
    }
    store_version(f, "doc", h1, h2);
    assert_int_equal(arca_cas_session_read(&f->cas, READER, "doc", NULL, &v), 0);
    assert_memory_equal(v.hash, h2, 32);
    assert_non_null(strstr(v.session, "predecessor"));
    assert_null(strstr(v.session, EXPLICIT));
    arca_api_version_clear(&v);
    char hh[65];
    hex(hh, h1);
    assert_int_equal(arca_cas_session_read(&f->cas, READER, "doc", hh, &v), 0);
    assert_memory_equal(v.hash, h1, 32);
    assert_null(strstr(v.session, "predecessor"));
    arca_api_version_clear(&v);
    assert_int_equal(arca_cas_session_read(&f->cas, STRANGER, "doc", NULL, &v), ARCA_ERR_NOT_FOUND);
    struct arca_session_cache_stats st;
    arca_session_cache_stats(c, &st);
    assert_true(st.hits >= 2);
    assert_int_equal(st.count, 2);
    f->cas.sessions = NULL;
    arca_session_cache_free(c);
}

/* The JSON text of arca_cas_session_read's answer as arcad encoded it before the text was kept:
 * arca_api_version_to_json (READ) dumped compact, unsorted; "" for a refused read. */
static void reference_text(struct fix *f, const uint8_t *client, const char *hash_hex,
                           struct arca_buf *out)
{
    struct arca_api_version v;
    arca_buf_reset(out);
    if (arca_cas_session_read(&f->cas, client, "doc", hash_hex, &v) == 0) {
        json_t *j = arca_api_version_to_json(&v, ARCA_API_VERSION_READ);
        assert_int_equal(arca_json_dump(j, false, out), 0);
        json_decref(j);
    }
    arca_api_version_clear(&v);
}

/* arca_cas_session_read_json answers what arca_cas_session_read answered, byte for byte, with
 * the same refusals, with and without the cache, on the first (made) and later (kept) reads,
 * the active flag per slot, and a new version: never a stale text. */
static void check_json_reads(struct fix *f, const char *old_hex)
{
    struct arca_buf want, got;
    arca_buf_init(&want, 0);
    arca_buf_init(&got, 0);
    const uint8_t *clients[] = {READER, CREATOR};
    const char *hashes[] = {NULL, old_hex};
    for (int round = 0; round < 3; round++)
        for (size_t c = 0; c < 2; c++)
            for (size_t h = 0; h < 2; h++) {
                reference_text(f, clients[c], hashes[h], &want);
                assert_int_equal(
                    arca_cas_session_read_json(&f->cas, clients[c], "doc", hashes[h], &got), 0);
                assert_int_equal(got.len, want.len);
                assert_memory_equal(got.data, want.data, want.len);
                assert_null(memmem(got.data, got.len, EXPLICIT, strlen(EXPLICIT)));
                assert_non_null(
                    memmem(got.data, got.len, h == 0 ? "\"active\":true" : "\"active\":false", 13));
            }
    assert_int_equal(arca_cas_session_read_json(&f->cas, STRANGER, "doc", NULL, &got),
                     ARCA_ERR_NOT_FOUND);
    assert_string_equal(arca_err_detail(), "Session not found: 'doc'");
    assert_int_equal(got.len, 0);
    assert_int_equal(arca_cas_session_read_json(&f->cas, CREATOR, "doc", "zz", &got),
                     ARCA_ERR_FORMAT);
    assert_int_equal(got.len, 0);
    arca_buf_free(&want);
    arca_buf_free(&got);
}

static void test_read_json(void **state)
{
    struct fix *f = *state;
    struct arca_session_cache *c = NULL;
    assert_int_equal(arca_session_cache_new(8, 1 << 20, &c), 0);
    uint8_t h1[32], h2[32], h3[32];
    char hh1[65], hh2[65];
    store_version(f, "doc", NULL, h1);
    hex(hh1, h1);
    f->cas.sessions = NULL;
    check_json_reads(f, hh1);
    f->cas.sessions = c;
    check_json_reads(f, hh1);
    /* a new version: the active read shows it at once; the kept text of h1 is now read as not
     * active (its other slot) */
    store_version(f, "doc", h1, h2);
    hex(hh2, h2);
    check_json_reads(f, hh1);
    check_json_reads(f, hh2);
    store_version(f, "doc", h2, h3);
    check_json_reads(f, hh2);
    f->cas.sessions = NULL;
    check_json_reads(f, hh2);
    arca_session_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_update, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_cached_new_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_namespaces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_list_history, setup, teardown),
        cmocka_unit_test_setup_teardown(test_values_and_migration, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
