/*
 * Strict JSON for signed documents: the jansson loader and the raw-member scanner both refuse
 * duplicate member names, so they cannot disagree about which copy of "tcbInfo" was signed; a
 * valid document that is not an object (array, number, string, literal) is refused without a
 * leak (the ASan build checks that) by every parser of Intel's documents.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_util.h"

#include <jansson.h>

#include "base/err.h"
#include "evidence/collateral.h"
#include "evidence/signed_json.h"
#include "evidence/tcb.h"

#define TCB_V5 ARCA_TESTVECTORS "/google-go-tdx-guest/sample_tcbinfo_response_v5"

static void test_raw_member(void **state)
{
    (void)state;
    const char *start;
    size_t len;
    static const char j[] =
        " { \"a\" : [1, {\"}\":2}], \"tcbInfo\" :{\"x\":\"}\\\"\"} , \"z\":1}\n";
    assert_int_equal(arca_json_raw_member(j, strlen(j), "tcbInfo", &start, &len), 0);
    assert_int_equal(len, strlen("{\"x\":\"}\\\"\"}"));
    assert_memory_equal(start, "{\"x\":\"}\\\"\"}", len);
    assert_int_equal(arca_json_raw_member(j, strlen(j), "z", &start, &len), 0);
    assert_memory_equal(start, "1", len);
    assert_err(arca_json_raw_member(j, strlen(j), "nope", &start, &len), ARCA_ERR_NOT_FOUND,
               "nope");
    assert_err(arca_json_raw_member("{}", 2, "a", &start, &len), ARCA_ERR_NOT_FOUND, "\"a\"");
    assert_err(arca_json_raw_member("[1]", 3, "a", &start, &len), ARCA_ERR_FORMAT, "object");

    static const struct {
        const char *json;
        const char *detail;
    } bad[] = {
        /* The same name twice, whether it is the one asked for or another. */
        {"{\"tcbInfo\":{\"v\":1},\"signature\":\"00\",\"tcbInfo\":{\"v\":2}}",
         "duplicate member \"tcbInfo\""},
        {"{\"a\":1,\"tcbInfo\":{},\"a\":2}", "duplicate member name"},
        /* An escape could spell "tcbInfo" in a way a byte comparison misses. */
        {"{\"tcbInfo\":{\"v\":1},\"tcb\\u0049nfo\":{\"v\":2}}", "escape sequence"},
        {"{\"tcbInfo\":{} \"a\":1}", "expected ',' or '}'"},
        {"{\"tcbInfo\":{},}", "member name"},
        {"{\"tcbInfo\":{}} x", "after the object"},
        {"{\"tcbInfo\":{}}{}", "after the object"},
        {"{\"tcbInfo\":{}", "expected ',' or '}'"},
        {"{\"tcbInfo\" {}}", "expected ':'"},
        {"{\"tcbInfo", "unterminated string"},
        {"{\"tcbInfo\":", "bad value"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = arca_json_raw_member(bad[i].json, strlen(bad[i].json), "tcbInfo", &start, &len);
        if (rc != ARCA_ERR_FORMAT || strstr(arca_err_detail(), bad[i].detail) == NULL)
            fail_msg("case %zu %s: got %d (%s), want \"%s\"", i, bad[i].json, rc, arca_err_detail(),
                     bad[i].detail);
    }

    /* A bounded member table. */
    char many[(ARCA_JSON_RAW_MAX_MEMBERS + 1) * 16 + 4];
    size_t n = 0;
    many[n++] = '{';
    for (int i = 0; i <= ARCA_JSON_RAW_MAX_MEMBERS; i++)
        n += (size_t)snprintf(many + n, sizeof(many) - n, "%s\"m%d\":0", i ? "," : "", i);
    many[n++] = '}';
    assert_err(arca_json_raw_member(many, n, "tcbInfo", &start, &len), ARCA_ERR_TOO_LARGE,
               "members");
}

static void test_load_object(void **state)
{
    (void)state;
    json_t *root = NULL;
    assert_int_equal(arca_json_load_object("{\"a\":1}", 7, "doc", &root), 0);
    assert_non_null(root);
    json_decref(root);
    root = NULL;
    assert_err(arca_json_load_object("{\"a\":1,\"a\":2}", 13, "doc", &root), ARCA_ERR_FORMAT,
               "duplicate");
    assert_err(arca_json_load_object("{\"a\":{\"b\":1,\"b\":1}}", 19, "doc", &root),
               ARCA_ERR_FORMAT, "duplicate");
    assert_err(arca_json_load_object("{\"a\":", 5, "doc", &root), ARCA_ERR_FORMAT, "doc: JSON");
    /* jansson refuses a scalar document itself; an array parses and must be refused (and
     * released) by the loader. */
    static const char *const not_objects[] = {"[1,2]", "42", "\"s\"", "null", "true", "[]"};
    for (size_t i = 0; i < sizeof(not_objects) / sizeof(not_objects[0]); i++)
        assert_err(arca_json_load_object(not_objects[i], strlen(not_objects[i]), "doc", &root),
                   ARCA_ERR_FORMAT,
                   not_objects[i][0] == '[' ? "doc: the JSON document is not an object"
                                            : "doc: JSON error");
    assert_null(root);
}

/* body with `extra` (a member, with its comma) inserted after the opening '{' or before the
 * closing '}'; malloc'ed, the caller frees. */
static char *with_member(const char *body, size_t n, const char *extra, bool at_end)
{
    size_t k = strlen(extra);
    char *out = malloc(n + k + 1);
    assert_non_null(out);
    const char *close = body + n;
    while (close > body && close[-1] != '}')
        close--;
    assert_true(body[0] == '{' && close > body);
    size_t cut = at_end ? (size_t)(close - 1 - body) : 1;
    memcpy(out, body, cut);
    memcpy(out + cut, extra, k);
    memcpy(out + cut + k, body + cut, n - cut);
    out[n + k] = '\0';
    return out;
}

/* Intel's answer with a second "tcbInfo" is refused by both readers, wherever the copy is. */
static void test_duplicate_tcb_info(void **state)
{
    (void)state;
    size_t n = 0;
    char *body = (char *)slurp(TCB_V5, &n);
    struct arca_dcap_collateral col;
    arca_dcap_collateral_init(&col);
    assert_int_equal(arca_dcap_collateral_load_tcb_info(&col, body, n, NULL, 0), 0);
    size_t good_len = col.tcb_info.len;

    char *first = with_member(body, n, "\"tcbInfo\":{\"id\":\"SGX\"},", false);
    char *last = with_member(body, n, ",\"tcbInfo\":{\"id\":\"SGX\"}", true);
    const char *docs[] = {first, last};
    for (int i = 0; i < 2; i++) {
        const char *start;
        size_t len;
        assert_err(arca_json_raw_member(docs[i], strlen(docs[i]), "tcbInfo", &start, &len),
                   ARCA_ERR_FORMAT, "duplicate member \"tcbInfo\"");
        assert_err(arca_dcap_collateral_load_tcb_info(&col, docs[i], strlen(docs[i]), NULL, 0),
                   ARCA_ERR_FORMAT, "duplicate");
        assert_err(arca_dcap_collateral_load_bytes(&col, docs[i], strlen(docs[i]), "dup.json"),
                   ARCA_ERR_FORMAT, "dup.json");
        /* The collateral keeps what it had. */
        assert_int_equal(col.tcb_info.len, good_len);
    }
    free(first);
    free(last);

    /* Inside the signed document: the parser of the signed bytes refuses it too. */
    char *inner = with_member(col.tcb_info.json, col.tcb_info.len, "\"version\":3,", false);
    struct arca_tcb_info *t = NULL;
    assert_err(arca_tcb_info_parse(inner, strlen(inner), &t), ARCA_ERR_FORMAT, "duplicate");
    assert_null(t);
    assert_int_equal(arca_tcb_info_parse(col.tcb_info.json, col.tcb_info.len, &t), 0);
    arca_tcb_info_free(t);
    free(inner);

    /* The combined JSON (arca's cache format) with a second "tcb_info". */
    static const char combined[] =
        "{\"tcb_info\":\"{}\",\"tcb_info_signature\":\"00\",\"tcb_info\":\"{}\"}";
    assert_err(arca_dcap_collateral_load_combined(&col, combined, strlen(combined)),
               ARCA_ERR_FORMAT, "duplicate");
    assert_int_equal(col.tcb_info.len, good_len);
    arca_dcap_collateral_free(&col);
    free(body);
}

/* Valid JSON that is not an object: refused, and nothing leaks (run under ASan). */
static void test_not_objects(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "[1,2,3]", "[{\"tcbInfo\":{}}]", "42", "-1.5e3", "\"tcbInfo\"", "null", "true", "false",
        "[]"};
    struct arca_dcap_collateral col;
    arca_dcap_collateral_init(&col);
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        size_t n = strlen(docs[i]);
        struct arca_tcb_info *t = NULL;
        struct arca_qe_identity *q = NULL;
        assert_err(arca_tcb_info_parse(docs[i], n, &t), ARCA_ERR_FORMAT, "TCB Info");
        assert_null(t);
        assert_err(arca_qe_identity_parse(docs[i], n, &q), ARCA_ERR_FORMAT, "QE Identity");
        assert_null(q);
        assert_err(arca_dcap_collateral_load_combined(&col, docs[i], n), ARCA_ERR_FORMAT,
                   "collateral JSON");
        assert_err(arca_dcap_collateral_load_tcb_info(&col, docs[i], n, NULL, 0), ARCA_ERR_FORMAT,
                   "TCB Info");
        assert_err(arca_dcap_collateral_load_qe_identity(&col, docs[i], n, NULL, 0),
                   ARCA_ERR_FORMAT, "QE Identity");
    }
    assert_null(col.tcb_info.json);
    assert_null(col.qe_identity.json);
    arca_dcap_collateral_free(&col);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raw_member),
        cmocka_unit_test(test_load_object),
        cmocka_unit_test(test_duplicate_tcb_info),
        cmocka_unit_test(test_not_objects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
