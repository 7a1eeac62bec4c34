/*
 * Microsoft Azure Attestation tokens as evidence (evidence/maa.h) with a recorded token and
 * the provider key that signed it (maa_fixture.h); "now" is pinned inside the token's window.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/enc.h"
#include "base/err.h"
#include "evidence/appraise.h"
#include "evidence/maa.h"
#include "maa_fixture.h"
#include "policy/session.h"

#define NOW (MAA_IAT + 600)

/* A JWKS holding a decoy key and (when with_key) the provider's key, as <url>/certs serves. */
static char *jwks(bool with_key)
{
    static const char fmt[] =
        "{\"keys\":[{\"kid\":\"decoy\",\"kty\":\"RSA\",\"x5c\":[\"AA==\"]}%s%s%s]}";
    char *head = with_key ? ",{\"kid\":\"" MAA_KID "\",\"kty\":\"RSA\",\"x5c\":[\"" : "";
    const char *tail = with_key ? "\"]}" : "";
    size_t n = sizeof(fmt) + strlen(head) + sizeof(maa_cert_b64) + strlen(tail);
    char *s = malloc(n);
    assert_non_null(s);
    snprintf(s, n, fmt, head, with_key ? maa_cert_b64 : "", tail);
    return s;
}

static int verify(const char *token, const char *issuer, unsigned min_bits, int64_t now,
                  bool with_key, struct arca_claims *c, struct arca_buf *ehd)
{
    char *keys = jwks(with_key);
    struct arca_maa_cfg cfg = {issuer, keys, strlen(keys), min_bits};
    int rc = arca_maa_verify(&cfg, token, strlen(token), now, c, ehd);
    free(keys);
    return rc;
}

static void test_recorded_token_verifies(void **state)
{
    (void)state;
    struct arca_claims c;
    struct arca_buf ehd;
    arca_buf_init(&ehd, 0);
    assert_int_equal(verify(maa_token, MAA_ISSUER, 1024, NOW, true, &c, &ehd), 0);
    char hex[65];
    arca_hex_fmt(hex, c.mrenclave, 32);
    assert_string_equal(hex, MAA_MRENCLAVE);
    arca_hex_fmt(hex, c.mrsigner, 32);
    assert_string_equal(hex, MAA_MRSIGNER);
    assert_int_equal(c.isv_prod_id, 1);
    assert_int_equal(c.isv_svn, 1);
    assert_false(c.debug);
    assert_int_equal(c.type, ARCA_EVIDENCE_SGX_DCAP);
    assert_int_equal(c.tcb_status, ARCA_TCB_UP_TO_DATE);
    /* the enclave-held data: the runtime data the client sent (a JWK), to bind at the caller */
    assert_non_null(memmem(ehd.data, ehd.len, "\"jwk\"", 5));
    arca_buf_free(&ehd);
    /* a configured url with a trailing slash names the same provider */
    assert_int_equal(verify(maa_token, MAA_ISSUER "/", 1024, MAA_IAT, true, &c, NULL), 0);
}

static void test_window(void **state)
{
    (void)state;
    struct arca_claims c;
    assert_int_equal(verify(maa_token, MAA_ISSUER, 1024, MAA_IAT - 1, true, &c, NULL),
                     ARCA_ERR_EXPIRED);
    assert_int_equal(verify(maa_token, MAA_ISSUER, 1024, MAA_EXP, true, &c, NULL),
                     ARCA_ERR_EXPIRED);
    assert_non_null(strstr(arca_err_detail(), "valid from 1620244716 to 1620273516"));
    assert_int_equal(verify(maa_token, MAA_ISSUER, 1024, MAA_EXP - 1, true, &c, NULL), 0);
}

static void test_keys_and_issuer(void **state)
{
    (void)state;
    struct arca_claims c;
    memset(&c, 0x55, sizeof(c));
    /* arca's default minimum refuses the provider's 1024-bit key of 2021 */
    assert_int_equal(verify(maa_token, MAA_ISSUER, 0, NOW, true, &c, NULL), ARCA_ERR_POLICY);
    assert_non_null(strstr(arca_err_detail(), "1024 bits, below the minimum of 2048"));
    assert_int_equal(c.isv_svn, 0); /* zeroed on failure */
    assert_int_equal(verify(maa_token, MAA_ISSUER, 1024, NOW, false, &c, NULL), ARCA_ERR_NOT_FOUND);
    assert_int_equal(
        verify(maa_token, "https://other.wus.attest.azure.net", 1024, NOW, true, &c, NULL),
        ARCA_ERR_POLICY);
    assert_non_null(strstr(arca_err_detail(), "not by the configured"));
    struct arca_maa_cfg bad = {MAA_ISSUER, "{\"keys\":1}", 10, 1024};
    assert_int_equal(arca_maa_verify(&bad, maa_token, strlen(maa_token), NOW, &c, NULL),
                     ARCA_ERR_FORMAT);
}

/* Any change to the signed text breaks the signature; structure errors are named. */
static void test_tampered(void **state)
{
    (void)state;
    struct arca_claims c;
    char *t = strdup(maa_token);
    assert_non_null(t);
    char *payload = strchr(t, '.') + 1;
    payload[100] = payload[100] == 'A' ? 'B' : 'A';
    assert_int_equal(verify(t, MAA_ISSUER, 1024, NOW, true, &c, NULL), ARCA_ERR_SIGNATURE);
    free(t);
    /* a header saying alg none */
    static const char none[] = "eyJhbGciOiJub25lIn0.e30.";
    assert_int_equal(verify(none, MAA_ISSUER, 1024, NOW, true, &c, NULL), ARCA_ERR_FORMAT);
    assert_non_null(strstr(arca_err_detail(), "expected RS256"));
    assert_int_equal(verify("a.b", MAA_ISSUER, 1024, NOW, true, &c, NULL), ARCA_ERR_FORMAT);
    assert_int_equal(verify("a.b.c.d", MAA_ISSUER, 1024, NOW, true, &c, NULL), ARCA_ERR_FORMAT);
    assert_int_equal(verify("", MAA_ISSUER, 1024, NOW, true, &c, NULL), ARCA_ERR_FORMAT);
}

/* The claims are appraised by the one appraisal against a session's variants. */
static void test_claims_appraised_against_policy(void **state)
{
    (void)state;
    static const char tmpl[] =
        "name: m\nversion: \"0.3.11\"\nservices:\n  - name: s\n"
        "    attestation:\n      - mrenclave: %s\n"
        "        signer: {mrsigner: " MAA_MRSIGNER ", isvprodid: 1, isvsvn_min: %u}\n"
        "security:\n  attestation:\n    mode: maa\n    url: " MAA_ISSUER
        "\n    tolerate: [maa-managed-tcb]\n";
    struct {
        const char *mrenclave;
        unsigned svn_min;
        int want;
    } cases[] = {
        {MAA_MRENCLAVE, 1, 0},
        {"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", 1, ARCA_ERR_POLICY},
        {MAA_MRENCLAVE, 2, ARCA_ERR_POLICY}};
    struct arca_claims c;
    assert_int_equal(verify(maa_token, MAA_ISSUER, 1024, NOW, true, &c, NULL), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char y[1024];
        snprintf(y, sizeof(y), tmpl, cases[i].mrenclave, cases[i].svn_min);
        struct arca_session *s = NULL;
        /* mode: maa is refused at create; the hash loader gives the model to appraise */
        assert_int_equal(arca_session_load_for_hash(y, strlen(y), "m.yaml", &s, NULL), 0);
        const struct arca_service *svc = &s->services[0];
        assert_int_equal(arca_appraise(&c, &s->security, svc->variants, svc->n_variants, NULL),
                         cases[i].want);
        arca_session_free(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recorded_token_verifies),
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_keys_and_issuer),
        cmocka_unit_test(test_tampered),
        cmocka_unit_test(test_claims_appraised_against_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
