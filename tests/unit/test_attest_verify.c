/*
 * The enclave API's evidence path without HTTP: real public vectors through the verifiers and
 * the appraisal at their pinned time (their REPORTDATA is fixed, so the binding is checked
 * separately: it matches the vector's bytes and nothing we compute), DEBUG tolerance, the
 * simulation switch, and the RFC 6238 TOTP vectors used for one-time passwords.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "test_util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/binding.h"
#include "base/enc.h"
#include "base/err.h"
#include "base/time.h"
#include "attest/verify.h"
#include "crypto/totp.h"
#include "evidence/appraise.h"
#include "policy/session.h"

#define PHALA ARCA_TESTVECTORS "/phala-dcap-qvl/"
#define TDX_MRTD                                                                                   \
    "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b25388731" \
    "18b7"
#define SGX_MRENCLAVE "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb"

static struct arca_session *session(const char *variant, const char *security)
{
    char yaml[2048];
    snprintf(yaml, sizeof(yaml),
             "name: vec\nversion: \"0.3.10\"\nservices:\n  - name: app\n    command: app\n"
             "    attestation:\n%ssecurity:\n  attestation:\n%s",
             variant, security);
    struct arca_session *s = NULL;
    assert_int_equal(test_session_load(yaml, "vec.yaml", &s), 0);
    return s;
}

static int appraise(const struct arca_claims *c, const struct arca_session *s)
{
    const struct arca_service *svc = arca_session_find_service(s, "app");
    return arca_appraise(c, &s->security, svc->variants, svc->n_variants, NULL);
}

static void test_tdx_vector(void **state)
{
    (void)state;
    size_t n;
    uint8_t *q = slurp(PHALA "tdx_quote", &n);
    static const char *const path[] = {PHALA "tdx_quote_collateral.json"};
    struct arca_attest_verify_cfg cfg = {
        .sources = {.collateral_paths = path, .n_collateral_paths = 1}};
    struct arca_claims c;
    int rc = arca_attest_evidence_verify(&cfg, ARCA_EVIDENCE_TDX, q, n, NULL, 0,
                                         at("2025-07-01T00:00:00Z"), &c);
    if (rc < 0)
        fail_msg("verify: %s", arca_err_detail());
    assert_int_equal(c.type, ARCA_EVIDENCE_TDX);
    struct arca_session *s =
        session("      tdx: {mrtd: \"" TDX_MRTD "\"}\n", "    mode: hardware\n");
    assert_int_equal(appraise(&c, s), 0);
    arca_session_free(s);
    /* Another MRTD: refused, naming the factor. */
    s = session("      tdx: {mrtd: "
                "\"00000000000000000000000000000000000000000000000000000000000000000000000000000000"
                "0000000000000000\"}\n",
                "    mode: hardware\n");
    assert_int_equal(appraise(&c, s), ARCA_ERR_POLICY);
    assert_non_null(strstr(arca_err_detail(), "MRTD differs"));
    arca_session_free(s);
    /* The binding: the vector's REPORTDATA is fixed; ours differs, which arcad refuses. */
    uint8_t want[64], rd[64];
    assert_int_equal(arca_hex_decode_fixed(rd, 64,
                                           "9a9d48e7f6799642d3d1b34e1e5e1742d4bb02dd6ddd551862c121"
                                           "1d35c304f9eca3efdbb481601c163cf52493d6e44aed55d51ec39b"
                                           "7e518fadb92c2b523f20",
                                           128),
                     0);
    assert_memory_equal(c.report_data, rd, 64);
    uint8_t spki[4] = {0x30, 2, 5, 0}, nonce[32] = {0};
    assert_int_equal(arca_launch_binding(spki, sizeof(spki), nonce, "vec/app", want), 0);
    assert_memory_not_equal(want, c.report_data, 64);
    /* Outside the collateral's window: refused as expired. */
    assert_true(arca_attest_evidence_verify(&cfg, ARCA_EVIDENCE_TDX, q, n, NULL, 0,
                                            at("2025-09-01T00:00:00Z"), &c) < 0);
    free(q);
}

static void test_sgx_vector_tolerances(void **state)
{
    (void)state;
    size_t n;
    uint8_t *q = slurp(PHALA "sgx_quote", &n);
    static const char *const path[] = {PHALA "sgx_quote_collateral.json"};
    struct arca_attest_verify_cfg cfg = {
        .sources = {.collateral_paths = path, .n_collateral_paths = 1}};
    struct arca_claims c;
    int rc = arca_attest_evidence_verify(&cfg, ARCA_EVIDENCE_SGX_DCAP, q, n, NULL, 0,
                                         at("2025-07-01T00:00:00Z"), &c);
    if (rc < 0)
        fail_msg("verify: %s", arca_err_detail());
    const char *variant = "      mrenclave: [\"" SGX_MRENCLAVE "\"]\n";
    /* ConfigurationAndSWHardeningNeeded with advisories: refused unless tolerated. */
    struct arca_session *s = session(variant, "    mode: hardware\n");
    assert_int_equal(appraise(&c, s), ARCA_ERR_POLICY);
    arca_session_free(s);
    s = session(variant, "    mode: hardware\n"
                         "    tolerate: [insecure-configuration, software-hardening-needed]\n"
                         "    ignore_advisories: [INTEL-SA-00289, INTEL-SA-00615]\n");
    rc = appraise(&c, s);
    if (rc < 0)
        fail_msg("appraise: %s", arca_err_detail());
    /* DEBUG: the same claims with the DEBUG bit are refused unless debug-mode is tolerated. */
    c.debug = true;
    assert_int_equal(appraise(&c, s), ARCA_ERR_POLICY);
    assert_non_null(strstr(arca_err_detail(), "DEBUG"));
    arca_session_free(s);
    s = session(variant,
                "    mode: hardware\n"
                "    tolerate: [debug-mode, insecure-configuration, software-hardening-needed]\n"
                "    ignore_advisories: [INTEL-SA-00289, INTEL-SA-00615]\n");
    assert_int_equal(appraise(&c, s), 0);
    arca_session_free(s);
    /* Sent as the wrong type: refused. */
    assert_true(arca_attest_evidence_verify(&cfg, ARCA_EVIDENCE_TDX, q, n, NULL, 0,
                                            at("2025-07-01T00:00:00Z"), &c) < 0);
    free(q);
}

#define SEV ARCA_TESTVECTORS "/google-go-sev-guest/"
#define SNP_MEASUREMENT                                                                            \
    "b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e487" \
    "2b01"

static void copy_file(const char *from, const char *to)
{
    size_t n;
    uint8_t *b = slurp(from, &n);
    FILE *f = fopen(to, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
    free(b);
}

/* SEV-SNP: the Milan report with its VCEK and the KDS chain in a certificate directory. Its
 * guest policy has the DEBUG bit: a real vector for "DEBUG not tolerated". */
static void test_snp_vector(void **state)
{
    (void)state;
    char dir[] = "/tmp/arcad-snp-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char p[128];
    snprintf(p, sizeof(p), "%s/vcek.der", dir);
    copy_file(SEV "vcek.testcer", p);
    snprintf(p, sizeof(p), "%s/cert_chain.pem", dir);
    copy_file(SEV "milan.testcer", p);
    size_t n;
    uint8_t *r = slurp(SEV "attestation.bin", &n);
    const char *const paths[] = {dir};
    struct arca_attest_verify_cfg cfg = {.sources = {.snp_paths = paths, .n_snp_paths = 1}};
    struct arca_claims c;
    int rc = arca_attest_evidence_verify(&cfg, ARCA_EVIDENCE_SNP, r, n, NULL, 0,
                                         at("2023-01-01T00:00:00Z"), &c);
    if (rc < 0)
        fail_msg("verify: %s", arca_err_detail());
    assert_int_equal(c.type, ARCA_EVIDENCE_SNP);
    assert_int_equal(c.report_data[0], 1);
    assert_int_equal(c.report_data[4], 5);
    assert_true(c.debug);
    struct arca_session *s =
        session("      snp: {measurement: \"" SNP_MEASUREMENT "\"}\n", "    mode: hardware\n");
    assert_int_equal(appraise(&c, s), ARCA_ERR_POLICY);
    assert_non_null(strstr(arca_err_detail(), "DEBUG mode, which is not tolerated"));
    arca_session_free(s);
    s = session("      snp: {measurement: \"" SNP_MEASUREMENT "\"}\n",
                "    mode: hardware\n    tolerate: [debug-mode]\n");
    rc = appraise(&c, s);
    if (rc < 0)
        fail_msg("appraise: %s", arca_err_detail());
    arca_session_free(s);
    s = session("      snp: {measurement: \"" SNP_MEASUREMENT "\", min_tcb: {snp: 9}}\n",
                "    mode: hardware\n    tolerate: [debug-mode]\n");
    assert_int_equal(appraise(&c, s), ARCA_ERR_POLICY);
    assert_non_null(strstr(arca_err_detail(), "min_tcb"));
    arca_session_free(s);
    /* A flipped byte of the report: the signature fails. */
    r[0x90] ^= 1;
    assert_true(arca_attest_evidence_verify(&cfg, ARCA_EVIDENCE_SNP, r, n, NULL, 0,
                                            at("2023-01-01T00:00:00Z"), &c) < 0);
    free(r);
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* The same report with its VCEK delivered in an extended-report certificate table (what
 * configfs-tsm's auxblob holds): no configured certificates needed, the roots are pinned. */
static void test_snp_aux_table(void **state)
{
    (void)state;
    size_t rn, vn;
    uint8_t *r = slurp(SEV "attestation.bin", &rn);
    uint8_t *vcek = slurp(SEV "vcek.testcer", &vn);
    /* two entries + terminator, then the certificate; VCEK GUID little-endian as stored. */
    static const uint8_t guid[16] = {0x8d, 0x75, 0xda, 0x63, 0x64, 0xe6, 0x64, 0x45,
                                     0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd};
    static const uint8_t other[16] = {1, 2, 3};
    struct arca_buf t;
    arca_buf_init(&t, 0);
    uint32_t off = 3 * 24;
    assert_int_equal(arca_buf_put(&t, other, 16), 0);
    assert_int_equal(arca_buf_put_u32le(&t, off), 0);
    assert_int_equal(arca_buf_put_u32le(&t, 1), 0);
    assert_int_equal(arca_buf_put(&t, guid, 16), 0);
    assert_int_equal(arca_buf_put_u32le(&t, off), 0);
    assert_int_equal(arca_buf_put_u32le(&t, (uint32_t)vn), 0);
    uint8_t zero[24] = {0};
    assert_int_equal(arca_buf_put(&t, zero, 24), 0);
    assert_int_equal(arca_buf_put(&t, vcek, vn), 0);
    struct arca_attest_verify_cfg cfg = {0};
    struct arca_claims c;
    int rc = arca_attest_evidence_verify(&cfg, ARCA_EVIDENCE_SNP, r, rn, t.data, t.len,
                                         at("2023-01-01T00:00:00Z"), &c);
    if (rc < 0)
        fail_msg("verify: %s", arca_err_detail());
    /* Without a table and without configuration: refused, naming both. */
    assert_int_equal(arca_attest_evidence_verify(&cfg, ARCA_EVIDENCE_SNP, r, rn, NULL, 0,
                                                 at("2023-01-01T00:00:00Z"), &c),
                     ARCA_ERR_NOT_FOUND);
    assert_non_null(strstr(arca_err_detail(), "ARCA_SNP_CERTS"));
    assert_non_null(strstr(arca_err_detail(), "--kds-url"));
    /* An entry pointing outside the table, and a table without terminator. */
    t.data[16] = 0xff;
    t.data[17] = 0xff;
    assert_int_equal(arca_attest_evidence_verify(&cfg, ARCA_EVIDENCE_SNP, r, rn, t.data, t.len,
                                                 at("2023-01-01T00:00:00Z"), &c),
                     ARCA_ERR_FORMAT);
    assert_int_equal(arca_attest_evidence_verify(&cfg, ARCA_EVIDENCE_SNP, r, rn, t.data, 20,
                                                 at("2023-01-01T00:00:00Z"), &c),
                     ARCA_ERR_TRUNCATED);
    arca_buf_free(&t);
    free(vcek);
    free(r);
}

static void test_no_collateral(void **state)
{
    (void)state;
    struct arca_attest_verify_cfg cfg = {0};
    struct arca_claims c;
    uint8_t q[64] = {0};
    assert_int_equal(
        arca_attest_evidence_verify(&cfg, ARCA_EVIDENCE_SGX_DCAP, q, sizeof(q), NULL, 0, 0, &c),
        ARCA_ERR_NOT_FOUND);
    assert_non_null(strstr(arca_err_detail(), "ARCA_COLLATERAL"));
    assert_non_null(strstr(arca_err_detail(), "--collateral"));
    assert_non_null(strstr(arca_err_detail(), "--pcs-url"));
    assert_int_equal(
        arca_attest_evidence_verify(&cfg, ARCA_EVIDENCE_SIM, q, sizeof(q), NULL, 0, 0, &c),
        ARCA_ERR_INSECURE);
    assert_non_null(strstr(arca_err_detail(), "--allow-simulation"));
    assert_int_equal(arca_evidence_type_from_wire("sgx-dcap"), ARCA_EVIDENCE_SGX_DCAP);
    assert_int_equal(arca_evidence_type_from_wire("epid"), -1);
}

/* RFC 6238 appendix B, SHA-1 rows (8 digits) and the 6-digit truncation. */
static void test_totp_rfc6238(void **state)
{
    (void)state;
    const char *key = "12345678901234567890";
    static const struct {
        uint64_t t;
        uint32_t code;
    } v[] = {{59, 94287082},         {1111111109, 7081804},  {1111111111, 14050471},
             {1234567890, 89005924}, {2000000000, 69279037}, {20000000000ULL, 65353130}};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        uint32_t code = 0;
        assert_int_equal(arca_totp(key, 20, v[i].t / 30, 8, &code), 0);
        assert_int_equal(code, v[i].code);
        assert_int_equal(arca_totp(key, 20, v[i].t / 30, 6, &code), 0);
        assert_int_equal(code, v[i].code % 1000000);
    }
    uint32_t code;
    assert_int_equal(arca_totp(key, 20, 1, 5, &code), ARCA_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tdx_vector),    cmocka_unit_test(test_sgx_vector_tolerances),
        cmocka_unit_test(test_snp_vector),    cmocka_unit_test(test_snp_aux_table),
        cmocka_unit_test(test_no_collateral), cmocka_unit_test(test_totp_rfc6238),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
