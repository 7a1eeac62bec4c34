/*
 * The client API's wire mapping (api/client_api.h, api/json.h): every answer decodes to what
 * was encoded, required fields are required, duplicate keys and non-objects are refused, and
 * the error body round-trips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "api/client_api.h"
#include "api/json.h"
#include "base/err.h"

static void sample(struct arca_api_version *v, const char *name, uint64_t version)
{
    memset(v, 0, sizeof(*v));
    v->name = strdup(name);
    memset(v->hash, 0xab, 32);
    v->version = version;
    memset(v->creator, 0xc0, 32);
    v->created_at = 1764600000;
    v->has_predecessor = version > 1;
    memset(v->predecessor, 0x11, 32);
}

/* Encodes j to text and parses it back like a client does. */
static json_t *wire(json_t *j)
{
    struct arca_buf b;
    arca_buf_init(&b, 0);
    assert_non_null(j);
    assert_int_equal(arca_json_dump(j, false, &b), 0);
    json_decref(j);
    json_t *back = NULL;
    assert_int_equal(arca_json_parse_object(b.data, b.len, "answer", &back), 0);
    arca_buf_free(&b);
    return back;
}

static void test_version_forms(void **state)
{
    struct arca_api_version v, d;
    sample(&v, "a/b", 2);
    v.session = strdup("name: a/b\n");
    v.session_len = strlen(v.session);
    v.active = true;
    static const enum arca_api_version_form forms[] = {
        ARCA_API_VERSION_UPLOADED, ARCA_API_VERSION_LISTED, ARCA_API_VERSION_HISTORY,
        ARCA_API_VERSION_READ};
    static const size_t keys[] = {4, 3, 6, 8};
    for (size_t i = 0; i < 4; i++) {
        json_t *j = wire(arca_api_version_to_json(&v, forms[i]));
        assert_int_equal(json_object_size(j), keys[i]);
        assert_int_equal(arca_api_version_from_json(j, forms[i], &d), 0);
        assert_string_equal(d.name, "a/b");
        assert_memory_equal(d.hash, v.hash, 32);
        assert_int_equal(d.version, 2);
        if (forms[i] != ARCA_API_VERSION_LISTED)
            assert_memory_equal(d.creator, v.creator, 32);
        if (forms[i] == ARCA_API_VERSION_HISTORY || forms[i] == ARCA_API_VERSION_READ) {
            assert_int_equal(d.created_at, v.created_at);
            assert_true(d.has_predecessor);
            assert_memory_equal(d.predecessor, v.predecessor, 32);
        }
        if (forms[i] == ARCA_API_VERSION_READ) {
            assert_string_equal(d.session, "name: a/b\n");
            assert_true(d.active);
        }
        arca_api_version_clear(&d);
        /* the answer's own form needs its own fields */
        if (forms[i] != ARCA_API_VERSION_READ)
            assert_int_equal(arca_api_version_from_json(j, ARCA_API_VERSION_READ, &d),
                             ARCA_ERR_FORMAT);
        assert_null(d.name);
        json_decref(j);
    }
    /* a first version: predecessor null, session null */
    free(v.session);
    v.session = NULL;
    v.has_predecessor = false;
    json_t *j = wire(arca_api_version_to_json(&v, ARCA_API_VERSION_READ));
    assert_true(json_is_null(json_object_get(j, "predecessor")));
    assert_int_equal(arca_api_version_from_json(j, ARCA_API_VERSION_READ, &d), 0);
    assert_false(d.has_predecessor);
    assert_null(d.session);
    arca_api_version_clear(&d);
    json_decref(j);
    arca_api_version_clear(&v);
}

static void test_lists(void **state)
{
    struct arca_api_versions l, d;
    memset(&l, 0, sizeof(l));
    for (uint64_t i = 1; i <= 20; i++) {
        struct arca_api_version v;
        sample(&v, "s", i);
        assert_int_equal(arca_api_versions_add(&l, &v), 0);
        assert_null(v.name);
    }
    l.name = strdup("s");
    json_t *j = wire(arca_api_history_to_json(&l));
    assert_int_equal(arca_api_history_from_json(j, &d), 0);
    assert_string_equal(d.name, "s");
    assert_int_equal(d.n, 20);
    assert_int_equal(d.v[19].version, 20);
    arca_api_versions_clear(&d);
    assert_int_equal(arca_api_list_from_json(j, &d), ARCA_ERR_FORMAT); /* no "sessions" */
    json_decref(j);
    j = wire(arca_api_list_to_json(&l));
    assert_int_equal(arca_api_list_from_json(j, &d), 0);
    assert_int_equal(d.n, 20);
    arca_api_versions_clear(&d);
    json_decref(j);
    arca_api_versions_clear(&l);
}

static void test_cas_identity(void **state)
{
    struct arca_api_cas_version v = {.version = "0.1.0", .simulation = true}, dv;
    memset(v.cas_key, 0x42, 32);
    json_t *j = wire(arca_api_cas_version_to_json(&v));
    assert_string_equal(json_string_value(json_object_get(j, "name")), "arcad");
    assert_int_equal(arca_api_cas_version_from_json(j, &dv), 0);
    assert_string_equal(dv.version, "0.1.0");
    assert_memory_equal(dv.cas_key, v.cas_key, 32);
    assert_true(dv.simulation);
    json_decref(j);

    struct arca_api_cas_evidence e, de;
    arca_api_cas_evidence_init(&e);
    arca_api_cas_evidence_init(&de);
    snprintf(e.type, sizeof(e.type), "sim");
    e.insecure = true;
    assert_int_equal(arca_buf_put_str(&e.evidence, "EVIDENCE"), 0);
    assert_int_equal(arca_buf_put_str(&e.spki, "SPKI"), 0);
    assert_int_equal(arca_buf_put_str(&e.cert_chain, "-----BEGIN CERTIFICATE-----\n"), 0);
    memset(e.cas_key, 7, 32);
    memset(e.nonce, 9, 32);
    e.has_measurement = true;
    memset(e.measurement, 5, 32);
    j = wire(arca_api_cas_evidence_to_json(&e));
    assert_non_null(json_object_get(j, "warning"));
    assert_non_null(json_object_get(j, "binding"));
    assert_int_equal(arca_api_cas_evidence_from_json(j, &de), 0);
    assert_string_equal(de.type, "sim");
    assert_true(de.insecure);
    assert_int_equal(de.evidence.len, 8);
    assert_memory_equal(de.evidence.data, "EVIDENCE", 8);
    assert_memory_equal(de.spki.data, "SPKI", 4);
    assert_memory_equal(de.cas_key, e.cas_key, 32);
    assert_memory_equal(de.nonce, e.nonce, 32);
    assert_true(de.has_measurement);
    json_object_del(j, "spki");
    assert_int_equal(arca_api_cas_evidence_from_json(j, &de), ARCA_ERR_FORMAT);
    assert_non_null(strstr(arca_err_detail(), "lacks type, evidence, spki or cas_key"));
    assert_int_equal(de.evidence.len, 0);
    json_decref(j);
    arca_api_cas_evidence_clear(&e);
    arca_api_cas_evidence_clear(&de);
}

static void test_values(void **state)
{
    struct arca_api_values l;
    memset(&l, 0, sizeof(l));
    struct arca_buf t;
    arca_buf_init(&t, 0);
    assert_int_equal(arca_buf_put_str(&t, "hello"), 0);
    assert_int_equal(arca_api_values_add(&l, "greeting", "string", &t), 0);
    assert_int_equal(t.len, 0);
    assert_int_equal(arca_api_values_add(&l, "empty", "binary", &t), 0);
    json_t *j = wire(arca_api_values_to_json(&l));
    json_t *g = json_object_get(json_object_get(j, "values"), "greeting");
    assert_string_equal(json_string_value(json_object_get(g, "value")), "hello");
    assert_true(json_is_null(json_object_get(g, "expires")));
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(j, "values"), "empty"), "value")),
                        "");
    json_decref(j);
    assert_non_null(arca_api_values_find(&l, "empty"));
    assert_null(arca_api_values_find(&l, "nope"));
    arca_api_values_clear(&l);
    arca_buf_free(&t);
}

/* GET /v1/status: a round trip keeps every field; a missing or negative count, or a malformed
 * audit time, is refused with nothing left in the output. */
static void test_status(void **state)
{
    (void)state;
    struct arca_api_status st;
    memset(&st, 0, sizeof(st)); /* padding too: the round trip is compared bytewise */
    st.provisioned = true;
    st.store_commit = 12;
    st.sessions = 3;
    st.audit_seq = 41;
    st.audit_time = 1700000000;
    st.uptime_s = 3723;
    strcpy(st.version, "0.1.0");
    strcpy(st.enclave_address, "127.0.0.1:18765");
    json_t *j = arca_api_status_to_json(&st);
    assert_non_null(j);
    struct arca_api_status back;
    assert_int_equal(arca_api_status_from_json(j, &back), 0);
    assert_memory_equal(&back, &st, sizeof(st));
    json_object_set_new(json_object_get(j, "audit_head"), "time", json_string("yesterday"));
    assert_int_equal(arca_api_status_from_json(j, &back), ARCA_ERR_FORMAT);
    assert_int_equal(back.sessions, 0);
    json_object_set_new(json_object_get(j, "audit_head"), "time", json_null());
    assert_int_equal(arca_api_status_from_json(j, &back), 0);
    assert_int_equal(back.audit_time, 0);
    json_object_set_new(j, "sessions", json_integer(-1));
    assert_int_equal(arca_api_status_from_json(j, &back), ARCA_ERR_FORMAT);
    json_object_del(j, "sessions");
    assert_int_equal(arca_api_status_from_json(j, &back), ARCA_ERR_FORMAT);
    json_decref(j);
    /* before the first checkpoint: seq 0 and time null */
    memset(&st, 0, sizeof(st));
    j = arca_api_status_to_json(&st);
    assert_true(json_is_null(json_object_get(json_object_get(j, "audit_head"), "time")));
    assert_int_equal(arca_api_status_from_json(j, &back), 0);
    json_decref(j);
}

static void test_json_strict(void **state)
{
    json_t *j = NULL;
    static const char dup[] = "{\"hash\": \"a\", \"hash\": \"b\"}";
    assert_int_equal(arca_json_parse_object(dup, strlen(dup), "answer", &j), ARCA_ERR_FORMAT);
    assert_null(j);
    assert_non_null(strstr(arca_err_detail(), "answer: invalid JSON at line 1"));
    assert_int_equal(arca_json_parse_object("[1]", 3, "answer", &j), ARCA_ERR_FORMAT);
    assert_non_null(strstr(arca_err_detail(), "expected a JSON object"));
    assert_int_equal(arca_json_parse_object(NULL, 0, "body", &j), ARCA_ERR_FORMAT);
    assert_non_null(strstr(arca_err_detail(), "body: empty"));
    /* a secret in malformed JSON is never quoted back */
    static const char leak[] = "{\"token\": \"SECRET-TOKEN\" x}";
    assert_int_equal(arca_json_parse_object(leak, strlen(leak), "body", &j), ARCA_ERR_FORMAT);
    assert_null(strstr(arca_err_detail(), "SECRET"));
}

static void test_error_body(void **state)
{
    static const char *const msgs[] = {"first problem", "second"};
    json_t *j = wire(arca_api_error_new(msgs, 2));
    struct arca_buf b;
    arca_buf_init(&b, 0);
    assert_int_equal(arca_api_error_join(j, &b), 2);
    assert_string_equal(arca_buf_cstr(&b), "first problem; second");
    json_decref(j);
    arca_buf_reset(&b);
    j = wire(json_pack("{s:s}", "other", "x"));
    assert_int_equal(arca_api_error_join(j, &b), 0);
    json_decref(j);
    arca_buf_free(&b);
    /* the constant used when encoding fails is itself an error body */
    assert_int_equal(
        arca_json_parse_object(ARCA_API_ERROR_OOM, strlen(ARCA_API_ERROR_OOM), "oom", &j), 0);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_forms), cmocka_unit_test(test_lists),
        cmocka_unit_test(test_cas_identity),  cmocka_unit_test(test_values),
        cmocka_unit_test(test_json_strict),   cmocka_unit_test(test_status),
        cmocka_unit_test(test_error_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
