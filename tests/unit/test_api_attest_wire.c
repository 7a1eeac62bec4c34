/*
 * The enclave API's wire protocol (api/attest_wire.h): the attest request and the challenge
 * answer round-trip through their codecs, duplicate keys and wrong types are refused naming
 * the member, and the host description keeps only what JSON can carry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/attest_wire.h"
#include "base/err.h"

static void test_request_round_trip(void **state)
{
    (void)state;
    struct arca_attest_request r, back;
    arca_attest_request_init(&r);
    arca_attest_request_init(&back);
    r.config_id = strdup("ns/s/svc@123456");
    r.evidence_type = ARCA_EVIDENCE_SNP;
    memset(r.nonce, 0xa5, sizeof(r.nonce));
    assert_int_equal(arca_buf_put(&r.evidence, "\x00\x01\x02", 3), 0);
    assert_int_equal(arca_buf_put(&r.aux, "table", 5), 0);
    r.access_token = strdup("tok");
    char *argv[] = {"/bin/prog", "a b", NULL};
    char *envp[] = {"HOME=/root", "NOEQUALS", "=empty", "BAD=\xff", "EMPTY=", NULL};
    assert_int_equal(arca_attest_request_set_host(&r, argv, 2, envp), 0);
    struct arca_buf enc;
    arca_buf_init_secret(&enc, 0);
    assert_int_equal(arca_attest_request_encode(&r, &enc), 0);
    assert_int_equal(arca_attest_request_decode(enc.data, enc.len, &back), 0);
    assert_string_equal(back.config_id, r.config_id);
    assert_int_equal(back.evidence_type, ARCA_EVIDENCE_SNP);
    assert_memory_equal(back.nonce, r.nonce, sizeof(r.nonce));
    assert_int_equal(back.evidence.len, 3);
    assert_memory_equal(back.evidence.data, "\x00\x01\x02", 3);
    assert_int_equal(back.aux.len, 5);
    assert_string_equal(back.access_token, "tok");
    assert_int_equal(back.host_argc, 2);
    assert_string_equal(back.host_argv[1], "a b");
    /* Without '=', with an empty name, or not UTF-8: not sent. */
    assert_int_equal(back.host_n_env, 2);
    assert_string_equal(back.host_env_names[0], "HOME");
    assert_string_equal(back.host_env_values[0], "/root");
    assert_string_equal(back.host_env_names[1], "EMPTY");
    assert_string_equal(back.host_env_values[1], "");
    arca_buf_free(&enc);
    arca_attest_request_free(&back);
    /* A host argument JSON cannot carry is an error, not silently dropped. */
    char *bad[] = {"/bin/prog", "\xc0\x80", NULL};
    assert_int_equal(arca_attest_request_set_host(&r, bad, 2, NULL), 0);
    arca_buf_init_secret(&enc, 0);
    assert_int_equal(arca_attest_request_encode(&r, &enc), ARCA_ERR_FORMAT);
    assert_non_null(strstr(arca_err_detail(), "host argument 1"));
    assert_int_equal(enc.len, 0);
    arca_buf_free(&enc);
    arca_attest_request_free(&r);
}

static void test_request_refusals(void **state)
{
    (void)state;
    static const char nonce[] = "\"nonce\":\"000000000000000000000000000000000000000000000000000"
                                "0000000000000\"";
    static const struct {
        const char *body;
        const char *needle;
    } cases[] = {
        {"[]", "expected a JSON object"},
        {"{", "invalid JSON"},
        {"{\"config_id\":1}", "config_id: missing or not a string"},
        {"{\"config_id\":\"s/a\",\"config_id\":\"s/b\"}", "invalid JSON"}, /* duplicate */
        {"{\"config_id\":\"s/a\"}", "evidence_type: missing"},
        {"{\"config_id\":\"s/a\",\"evidence_type\":\"sgx\"}", "evidence_type: unknown"},
        {"{\"config_id\":\"s/a\",\"evidence_type\":\"sim\"}", "evidence: missing"},
        {"{\"config_id\":\"s/a\",\"evidence_type\":\"sim\",\"evidence\":\"AA==\"}",
         "nonce: missing"},
        {"{\"config_id\":\"s/a\",\"evidence_type\":\"sim\",\"evidence\":\"AA==\",\"nonce\":\"00\"}",
         "nonce"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct arca_attest_request r;
        arca_attest_request_init(&r);
        int rc = arca_attest_request_decode(cases[i].body, strlen(cases[i].body), &r);
        if (rc != ARCA_ERR_FORMAT || strstr(arca_err_detail(), cases[i].needle) == NULL)
            fail_msg("case %zu: %d %s", i, rc, arca_err_detail());
        arca_attest_request_free(&r);
    }
    /* The host member's shape. */
    static const char *const hosts[] = {"\"host\":[]", "\"host\":{\"argv\":{}}",
                                        "\"host\":{\"argv\":[1]}", "\"host\":{\"env\":[]}",
                                        "\"host\":{\"env\":{\"A\":1}}"};
    for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
        char body[512];
        snprintf(body, sizeof(body),
                 "{\"config_id\":\"s/a\",\"evidence_type\":\"sim\",\"evidence\":\"AA==\",%s,%s}",
                 nonce, hosts[i]);
        struct arca_attest_request r;
        arca_attest_request_init(&r);
        int rc = arca_attest_request_decode(body, strlen(body), &r);
        if (rc != ARCA_ERR_FORMAT || strstr(arca_err_detail(), "host") == NULL)
            fail_msg("host case %zu: %d %s", i, rc, arca_err_detail());
        arca_attest_request_free(&r);
    }
}

static void test_challenge(void **state)
{
    (void)state;
    struct arca_challenge_answer a = {.expires_in = 60}, b;
    memset(a.nonce, 0x5a, sizeof(a.nonce));
    json_t *j = arca_challenge_answer_encode(&a);
    assert_non_null(j);
    char *s = json_dumps(j, JSON_COMPACT);
    assert_int_equal(arca_challenge_answer_decode(s, strlen(s), &b), 0);
    assert_memory_equal(a.nonce, b.nonce, sizeof(a.nonce));
    assert_int_equal(b.expires_in, 60);
    free(s);
    json_decref(j);
    static const char *const bad[] = {"{}", "[]", "{\"nonce\":\"00\"}", "{\"nonce\":5}",
                                      "{\"nonce\":\"x\",\"nonce\":\"y\"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(arca_challenge_answer_decode(bad[i], strlen(bad[i]), &b), ARCA_ERR_FORMAT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_round_trip),
        cmocka_unit_test(test_request_refusals),
        cmocka_unit_test(test_challenge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
