/*
 * The join messages (peer/join.h): requests round-trip and every malformed one is refused with
 * a zeroed output; the key box opens only with the joiner's key and for its CAS key id, and an
 * altered or missing box is refused without a secret in the detail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "crypto/crypto.h"
#include "peer/join.h"
#include "test_util.h"

static bool zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != 0)
            return false;
    return true;
}

static void refused(const char *text, const char *detail)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    assert_non_null(j);
    struct arca_peer_join_req q;
    memset(&q, 0x5a, sizeof(q));
    assert_int_equal(arca_peer_join_req_parse(j, &q), ARCA_ERR_FORMAT);
    assert_true(zero(&q, sizeof(q)));
    assert_non_null(strstr(arca_err_detail(), detail));
    json_decref(j);
}

static void test_requests(void **state)
{
    (void)state;
    uint8_t pub[32];
    for (int i = 0; i < 32; i++)
        pub[i] = (uint8_t)(3 * i + 1);
    json_t *k = arca_peer_join_key_req(pub);
    struct arca_peer_join_req q;
    assert_int_equal(arca_peer_join_req_parse(k, &q), 0);
    assert_int_equal(q.op, ARCA_PEER_JOIN_KEY);
    assert_memory_equal(q.enc_key, pub, 32);
    json_decref(k);

    json_t *r = arca_peer_join_result_req(false, "store key mismatch:\n\x01 x");
    assert_int_equal(arca_peer_join_req_parse(r, &q), 0);
    assert_int_equal(q.op, ARCA_PEER_JOIN_RESULT);
    assert_false(q.ok);
    assert_string_equal(q.reason, "store key mismatch:?? x");
    json_decref(r);
    char longr[1000];
    memset(longr, 'a', sizeof(longr) - 1);
    longr[sizeof(longr) - 1] = '\0';
    r = arca_peer_join_result_req(true, longr);
    assert_int_equal(arca_peer_join_req_parse(r, &q), 0);
    assert_true(q.ok);
    assert_int_equal(strlen(q.reason), ARCA_PEER_JOIN_REASON_MAX);
    json_decref(r);

    assert_int_equal(arca_peer_join_req_parse(NULL, &q), ARCA_ERR_FORMAT);
    refused("{}", "no 'op'");
    refused("{\"op\": \"give\"}", "'op' must be key or result");
    refused("{\"op\": \"key\"}", "'enc_key'");
    refused("{\"op\": \"key\", \"enc_key\": \"AAAA\"}", "'enc_key'");
    refused("{\"op\": \"key\", \"enc_key\": \"!!!!\"}", "'enc_key'");
    refused("{\"op\": \"key\", \"enc_key\": 5}", "'enc_key'");
    refused("{\"op\": \"result\", \"ok\": 1}", "'ok'");
    refused("{\"op\": \"result\", \"ok\": true, \"reason\": \"a\\u0007b\"}", "printable");
    refused("{\"op\": \"result\", \"ok\": true, \"reason\": []}", "'reason'");
}

static void test_box(void **state)
{
    (void)state;
    struct arca_key *mine = NULL, *other = NULL;
    uint8_t pub[32], opub[32], me[32], them[32];
    test_x25519(7, &mine, pub);
    test_x25519(9, &other, opub);
    memset(me, 0xaa, 32);
    memset(them, 0xbb, 32);
    struct arca_store_share sh, got;
    for (int i = 0; i < 32; i++) {
        sh.dbkey[i] = (uint8_t)i;
        sh.idxroot[i] = (uint8_t)(i + 100);
        sh.head[i] = (uint8_t)(200 - i);
    }
    sh.commit = 0x0102030405060708ULL;
    json_t *a = NULL;
    assert_int_equal(arca_peer_join_answer(pub, me, &sh, &a), 0);
    assert_int_equal(arca_peer_join_open(a, mine, me, &got), 0);
    assert_memory_equal(&got, &sh, sizeof(sh));

    /* made for another CAS key id, or opened with another key: refused, output wiped */
    memset(&got, 0x5a, sizeof(got));
    assert_int_equal(arca_peer_join_open(a, mine, them, &got), ARCA_ERR_TAMPERED);
    assert_true(zero(&got, sizeof(got)));
    assert_int_equal(arca_peer_join_open(a, other, me, &got), ARCA_ERR_TAMPERED);
    assert_true(zero(&got, sizeof(got)));
    assert_null(strstr(arca_err_detail(), "0001"));

    /* one base64 digit changed */
    char *text = strdup(json_string_value(json_object_get(a, "box")));
    size_t n = strlen(text);
    text[n / 2] = text[n / 2] == 'A' ? 'B' : 'A';
    json_t *bad = json_pack("{s:s}", "box", text);
    assert_int_equal(arca_peer_join_open(bad, mine, me, &got), ARCA_ERR_TAMPERED);
    json_decref(bad);
    free(text);
    bad = json_pack("{s:s}", "box", "not base64 !");
    assert_int_equal(arca_peer_join_open(bad, mine, me, &got), ARCA_ERR_FORMAT);
    json_decref(bad);
    bad = json_object();
    assert_int_equal(arca_peer_join_open(bad, mine, me, &got), ARCA_ERR_FORMAT);
    json_decref(bad);
    json_decref(a);
    arca_key_free(mine);
    arca_key_free(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests),
        cmocka_unit_test(test_box),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
