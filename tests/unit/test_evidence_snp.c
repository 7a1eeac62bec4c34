/*
 * SEV-SNP report parsing and verification against the public vectors (testvectors/
 * google-go-sev-guest, virtee-sev, coco-trustee) at pinned times, and negatives that each fail
 * for their stated reason (code + detail substring).
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

#include "base/enc.h"
#include "base/err.h"
#include "base/time.h"
#include "crypto/crypto.h"
#include "evidence/snp.h"

#define TV ARCA_TESTVECTORS
#define GSG TV "/google-go-sev-guest"
#define VIRTEE TV "/virtee-sev"
#define COCO TV "/coco-trustee/snp"

static void slurp_buf(const char *path, struct arca_buf *out)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    arca_buf_init(out, 0);
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        assert_int_equal(arca_buf_put(out, tmp, n), 0);
    fclose(f);
}

/* The raw report of a vector (hex form decoded). */
static void report(const char *path, struct arca_buf *out)
{
    struct arca_buf file;
    slurp_buf(path, &file);
    arca_buf_init(out, 0);
    assert_int_equal(arca_snp_report_load(file.data, file.len, out), 0);
    assert_int_equal(out->len, ARCA_SNP_REPORT_LEN);
    arca_buf_free(&file);
}

static void certs_key_chain(struct arca_snp_certs *c, const char *key, const char *chain)
{
    memset(c, 0, sizeof(*c));
    assert_int_equal(arca_snp_certs_load_file(c, key), 0);
    assert_non_null(c->key);
    if (chain != NULL) {
        assert_int_equal(arca_snp_certs_load_file(c, chain), 0);
        assert_non_null(c->intermediate);
        assert_non_null(c->ark);
    }
}

static void assert_hex(const uint8_t *p, size_t n, const char *hex)
{
    char buf[2 * 64 + 1];
    assert_true(n <= 64);
    arca_hex_fmt(buf, p, n);
    assert_string_equal(buf, hex);
}

#define assert_fails(expr, code, substr)                                                           \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ != (code) || strstr(arca_err_detail(), (substr)) == NULL)                          \
            fail_msg("%s: got %d (%s), want %d with \"%s\"", #expr, rc_, arca_err_detail(),        \
                     (code), (substr));                                                            \
    } while (0)

/* ---- positives ---------------------------------------------------------------------------- */

static void test_parse_go_sev_guest(void **state)
{
    (void)state;
    struct arca_buf b;
    report(GSG "/attestation.bin", &b);
    struct arca_snp_report r;
    assert_int_equal(arca_snp_report_parse(b.data, b.len, &r), 0);
    assert_int_equal(r.version, 2);
    assert_int_equal(r.guest_svn, 0);
    assert_int_equal(r.policy, 0xb0000);
    assert_int_equal(r.vmpl, 0);
    assert_int_equal(r.signature_algo, 1);
    assert_int_equal(r.platform_info, 1);
    assert_int_equal(arca_snp_report_signing_key(&r), ARCA_SNP_KEY_VCEK);
    uint8_t rd[64] = {1, 2, 3, 4, 5};
    assert_memory_equal(r.report_data, rd, 64);
    assert_hex(r.measurement, 48,
               "b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608"
               "eb0cf2e4872b01");
    assert_hex(r.chip_id, 64,
               "3ac3fe21e13fb0990eb28a802e3fb6a29483a6b0753590c951bdd3b8e53786184ca39e359669a2b7"
               "6a1936776b564ea464cdce40c05f63c9b610c5068b006b5d");
    assert_int_equal(r.reported_tcb, 0x4405000000000002ULL);
    assert_int_equal(r.current_tcb, 0x4405000000000002ULL);
    assert_int_equal(r.committed_tcb, 0x4405000000000002ULL);
    assert_int_equal(r.launch_tcb, 0x4405000000000002ULL);
    assert_int_equal(r.current_major, 1);
    assert_int_equal(r.current_minor, 49);
    assert_int_equal(r.current_build, 3);
    struct arca_snp_tcb t;
    arca_snp_tcb_decode(r.reported_tcb, ARCA_SNP_PRODUCT_MILAN, &t);
    assert_int_equal(t.bootloader, 2);
    assert_int_equal(t.tee, 0);
    assert_int_equal(t.snp, 5);
    assert_int_equal(t.microcode, 68);
    arca_buf_free(&b);
}

static void test_verify_go_sev_guest(void **state)
{
    (void)state;
    struct arca_buf b;
    struct arca_snp_certs c;
    struct arca_claims cl;
    report(GSG "/attestation.bin", &b);
    certs_key_chain(&c, GSG "/vcek.testcer", GSG "/milan.testcer");
    int rc = arca_snp_verify(b.data, b.len, &c, at("2022-09-24T01:00:00Z"), &cl);
    if (rc != 0)
        fail_msg("verify: %s", arca_err_detail());
    assert_int_equal(cl.type, ARCA_EVIDENCE_SNP);
    assert_true(cl.debug); /* POLICY bit 19 */
    assert_int_equal(cl.tcb_status, ARCA_TCB_UP_TO_DATE);
    assert_int_equal(cl.snp_report_version, 2);
    assert_int_equal(cl.reported_tcb, 0x4405000000000002ULL);
    assert_int_equal(cl.snp_policy, 0xb0000);
    assert_int_equal(cl.vmpl, 0);
    assert_hex(cl.measurement, 48,
               "b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608"
               "eb0cf2e4872b01");
    assert_int_equal(cl.platform_id_len, 64);
    assert_memory_equal(cl.platform_id, cl.chip_id, 64);
    assert_int_equal(cl.collateral_expiry, at("2029-09-24T00:55:28Z"));
    assert_int_equal(arca_snp_certs_product(&c), ARCA_SNP_PRODUCT_MILAN);

    /* The same with only the VCEK: ASK and ARK come from the embedded roots. */
    struct arca_snp_certs k;
    certs_key_chain(&k, GSG "/vcek.testcer", NULL);
    assert_int_equal(arca_snp_verify(b.data, b.len, &k, at("2029-09-23T00:00:00Z"), NULL), 0);

    /* DEBUG is a policy decision: refused unless tolerated. */
    struct arca_snp_policy pol = {.allow_debug = false, .required_vmpl = -1};
    assert_fails(arca_snp_check_policy(&cl, &pol), ARCA_ERR_POLICY, "DEBUG bit (19)");
    pol.allow_debug = true;
    assert_int_equal(arca_snp_check_policy(&cl, &pol), 0);
    pol.required_vmpl = 1;
    assert_fails(arca_snp_check_policy(&cl, &pol), ARCA_ERR_POLICY, "VMPL 0, required 1");
    pol.required_vmpl = 0;
    assert_int_equal(arca_snp_check_policy(&cl, &pol), 0);

    arca_snp_certs_clear(&c);
    arca_snp_certs_clear(&k);
    arca_buf_free(&b);
}

static void test_verify_virtee_hex(void **state)
{
    (void)state;
    struct arca_buf b;
    struct arca_snp_certs c;
    struct arca_claims cl;
    report(VIRTEE "/report_milan.hex", &b);
    certs_key_chain(&c, VIRTEE "/vcek_milan.der", VIRTEE "/cert_chain_milan");
    int rc = arca_snp_verify(b.data, b.len, &c, at("2024-06-01T00:00:00Z"), &cl);
    if (rc != 0)
        fail_msg("verify: %s", arca_err_detail());
    assert_false(cl.debug); /* policy 0x30000 */
    assert_int_equal(cl.snp_policy, 0x30000);
    assert_int_equal(cl.reported_tcb, 0x7308000000000003ULL);
    assert_hex(cl.measurement, 48,
               "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95"
               "b9c480cd81841f");
    assert_hex(cl.report_data, 64,
               "d447b55d197491bfe15cf298f9de9986b7a7c4be2468b4f6e2d53b71d7c645810b0f2cdfca004043"
               "3be063fc1a8293f0f3f8dae7b79fecb3d1cd82bd6a93ebfd");
    assert_hex(cl.chip_id, 64,
               "d49554ec717f4e5b0fe6b143bcf0405bd7ae304727edf46603f2a76aef6a3abc15d7af38db757039"
               "029f0efacfd08e244324884738c72b082e2f87a44d541eb6");
    struct arca_snp_report r;
    assert_int_equal(arca_snp_report_parse(b.data, b.len, &r), 0);
    assert_int_equal(r.current_major, 1);
    assert_int_equal(r.current_minor, 52);
    assert_int_equal(r.current_build, 4);
    struct arca_snp_policy pol = {.allow_debug = false, .required_vmpl = 0};
    assert_int_equal(arca_snp_check_policy(&cl, &pol), 0);
    arca_snp_certs_clear(&c);
    arca_buf_free(&b);
}

static void test_verify_trustee_vcek(void **state)
{
    (void)state;
    struct arca_buf b;
    struct arca_snp_certs c;
    struct arca_claims cl;
    report(COCO "/test-report.bin", &b);
    certs_key_chain(&c, COCO "/test-vcek.der", GSG "/trust/ask_ark_milan.pem");
    int rc = arca_snp_verify(b.data, b.len, &c, at("2025-01-01T00:00:00Z"), &cl);
    if (rc != 0)
        fail_msg("verify: %s", arca_err_detail());
    assert_int_equal(cl.snp_policy, 0x3001f);
    assert_int_equal(cl.reported_tcb, 0x7308000000000003ULL);
    assert_hex(cl.measurement, 48,
               "a1f3930413247bb38cfc171579ea3c12d5fe4901f0c792f63fd75d98f1ef827c23500644e0e692e6be"
               "917f9050d3d38c");
    assert_hex(cl.report_data, 32,
               "ec6c52d7533cc2c4f45be7849cf112ab82b2009fe7bd43e71ed08c14400ad7e2");
    uint8_t zero[32] = {0};
    assert_memory_equal(cl.report_data + 32, zero, 32);
    assert_int_equal(cl.chip_id[0], 0xc3);
    assert_int_equal(cl.chip_id[63], 0x4e);
    struct arca_snp_report r;
    assert_int_equal(arca_snp_report_parse(b.data, b.len, &r), 0);
    assert_int_equal(r.guest_svn, 4);
    /* CURRENT_TCB differs (ucode 206): the VCEK matches REPORTED_TCB, not CURRENT_TCB. */
    assert_int_equal(r.current_tcb >> 56, 206);
    arca_snp_certs_clear(&c);
    arca_buf_free(&b);
}

static void test_verify_trustee_vlek_v3(void **state)
{
    (void)state;
    struct arca_buf b;
    struct arca_snp_certs c;
    struct arca_claims cl;
    report(COCO "/test-vlek-report.bin", &b);
    struct arca_snp_report r;
    assert_int_equal(arca_snp_report_parse(b.data, b.len, &r), 0);
    assert_int_equal(r.version, 3);
    assert_int_equal(arca_snp_report_signing_key(&r), ARCA_SNP_KEY_VLEK);
    certs_key_chain(&c, COCO "/test-vlek.der", GSG "/trust/ask_ark_milan_vlek.pem");
    int rc = arca_snp_verify(b.data, b.len, &c, at("2025-06-01T00:00:00Z"), &cl);
    if (rc != 0)
        fail_msg("verify: %s", arca_err_detail());
    assert_int_equal(cl.snp_report_version, 3);
    assert_int_equal(cl.snp_policy, 0x30000);
    assert_int_equal(cl.reported_tcb, 0xd918000000000004ULL);
    assert_int_equal(cl.platform_id_len, 0); /* a VLEK names no chip */
    assert_hex(cl.measurement, 48,
               "8922ebbdd00ec2c541f36a6e7a82a8773a7accb451ed67bc94e740dbe92c93c4e8c9af857f5ceeb5a4"
               "93df2a570d7bf0");
    assert_int_equal(cl.collateral_expiry, at("2025-12-10T22:14:21Z"));

    /* Embedded ASVK works too. */
    struct arca_snp_certs k;
    certs_key_chain(&k, COCO "/test-vlek.der", NULL);
    assert_int_equal(arca_snp_verify(b.data, b.len, &k, at("2025-06-01T00:00:00Z"), NULL), 0);

    /* Outside the VLEK's one-year validity. */
    assert_fails(arca_snp_verify(b.data, b.len, &c, at("2025-12-11T00:00:00Z"), &cl),
                 ARCA_ERR_EXPIRED, "VLEK 'SEV-VLEK' is not valid at 2025-12-11T00:00:00Z");
    assert_fails(arca_snp_verify(b.data, b.len, &c, at("2024-12-01T00:00:00Z"), &cl),
                 ARCA_ERR_EXPIRED, "not valid at 2024-12-01");

    /* A VLEK-signed report with a VCEK: wrong kind of key, named as such. */
    struct arca_snp_certs v;
    certs_key_chain(&v, COCO "/test-vcek.der", NULL);
    assert_fails(arca_snp_verify(b.data, b.len, &v, at("2025-06-01T00:00:00Z"), &cl), ARCA_ERR_CERT,
                 "signed by a VLEK but the key certificate is a VCEK");
    arca_snp_certs_clear(&v);
    arca_snp_certs_clear(&k);
    arca_snp_certs_clear(&c);
    arca_buf_free(&b);
}

static void chain_ok(const char *key, const char *chain, const char *when,
                     enum arca_snp_product want)
{
    struct arca_snp_certs c;
    memset(&c, 0, sizeof(c));
    if (key != NULL)
        assert_int_equal(arca_snp_certs_load_file(&c, key), 0);
    assert_int_equal(arca_snp_certs_load_file(&c, chain), 0);
    enum arca_snp_product p = ARCA_SNP_PRODUCT_UNKNOWN;
    int rc = arca_snp_chain_verify(&c, at(when), &p);
    if (rc != 0)
        fail_msg("%s: %s", chain, arca_err_detail());
    assert_int_equal(p, want);
    arca_snp_certs_clear(&c);
}

static void test_chains_milan_genoa_turin(void **state)
{
    (void)state;
    chain_ok(NULL, GSG "/trust/ask_ark_milan.pem", "2024-01-01T00:00:00Z", ARCA_SNP_PRODUCT_MILAN);
    chain_ok(NULL, GSG "/trust/ask_ark_milan_vlek.pem", "2024-01-01T00:00:00Z",
             ARCA_SNP_PRODUCT_MILAN);
    chain_ok(NULL, GSG "/trust/ask_ark_genoa.pem", "2024-01-01T00:00:00Z", ARCA_SNP_PRODUCT_GENOA);
    chain_ok(NULL, GSG "/trust/ask_ark_genoa_vlek.pem", "2024-01-01T00:00:00Z",
             ARCA_SNP_PRODUCT_GENOA);
    chain_ok(NULL, GSG "/trust/ask_ark_turin_vcek.pem", "2024-01-01T00:00:00Z",
             ARCA_SNP_PRODUCT_TURIN);
    chain_ok(NULL, GSG "/trust/ask_ark_turin_vlek.pem", "2024-01-01T00:00:00Z",
             ARCA_SNP_PRODUCT_TURIN);
    chain_ok(VIRTEE "/vcek_turin.der", VIRTEE "/cert_chain_turin", "2025-01-01T00:00:00Z",
             ARCA_SNP_PRODUCT_TURIN);
    chain_ok(VIRTEE "/vcek_milan.der", VIRTEE "/cert_chain_milan", "2025-01-01T00:00:00Z",
             ARCA_SNP_PRODUCT_MILAN);
    chain_ok(VIRTEE "/vcek_turin.der", VIRTEE "/builtin/turin/ask.pem", "2025-01-01T00:00:00Z",
             ARCA_SNP_PRODUCT_TURIN);

    /* The embedded roots are the vectors' certificates, and pinned by key hash. */
    static const char *const ark_spki[3] = {
        "9f056bee44377e29308cb5ffa895bdfb62d18881fa6bed8d6f075b0204089cb9",
        "429a69c9422aa258ee4d8db5fcda9c6470ef15f8cd5a9cebd6cbc7d90b863831",
        "4f125410563a2ab9a50356f9243f6fe0b6f73de98603f53f90339c70e9d7ad08",
    };
    for (int p = ARCA_SNP_PRODUCT_MILAN; p <= ARCA_SNP_PRODUCT_TURIN; p++) {
        const char *pem = arca_snp_ark_pem(p);
        struct arca_x509 *x = NULL;
        assert_int_equal(arca_x509_from_pem(pem, strlen(pem), &x), 0);
        uint8_t id[32];
        assert_int_equal(arca_x509_key_id(x, id), 0);
        assert_hex(id, 32, ark_spki[p - 1]);
        arca_x509_free(x);
    }
    assert_null(arca_snp_ark_pem(ARCA_SNP_PRODUCT_UNKNOWN));
    assert_int_equal(arca_snp_product_parse("Milan-B0"), ARCA_SNP_PRODUCT_MILAN);
    assert_int_equal(arca_snp_product_parse("genoa"), ARCA_SNP_PRODUCT_GENOA);
    assert_int_equal(arca_snp_product_parse("Turin"), ARCA_SNP_PRODUCT_TURIN);
    assert_int_equal(arca_snp_product_parse("Milano"), ARCA_SNP_PRODUCT_UNKNOWN);
}

static void test_turin_tcb_layout(void **state)
{
    (void)state;
    struct arca_snp_tcb t;
    /* byte 0 FMC, 1 BL, 2 TEE, 3 SNP, 7 ucode */
    arca_snp_tcb_decode(0x0900000004030201ULL, ARCA_SNP_PRODUCT_TURIN, &t);
    assert_int_equal(t.fmc, 1);
    assert_int_equal(t.bootloader, 2);
    assert_int_equal(t.tee, 3);
    assert_int_equal(t.snp, 4);
    assert_int_equal(t.microcode, 9);
    arca_snp_tcb_decode(0x0900000004030201ULL, ARCA_SNP_PRODUCT_GENOA, &t);
    assert_int_equal(t.fmc, 0);
    assert_int_equal(t.bootloader, 1);
    assert_int_equal(t.tee, 2);
    assert_int_equal(t.snp, 0);
    assert_int_equal(t.microcode, 9);

    struct arca_snp_report r;
    memset(&r, 0, sizeof(r));
    r.chip_id[0] = 0xab;
    r.reported_tcb = 0x0900000004030201ULL;
    struct arca_buf p;
    arca_buf_init(&p, 0);
    assert_int_equal(arca_snp_kds_vcek_path(ARCA_SNP_PRODUCT_TURIN, &r, &p), 0);
    assert_string_equal(arca_buf_cstr(&p), "/vcek/v1/Turin/ab00000000000000?fmcSPL=1&blSPL=2&"
                                           "teeSPL=3&snpSPL=4&ucodeSPL=9");
    arca_buf_free(&p);
}

/* No public Turin report exists; a report edited to claim the Turin VCEK's chip and TCB gets
 * through the Turin-specific checks (8-byte hwID, fmcSPL, Turin TCB layout) and then fails
 * only at the signature, which proves those checks accept the right values. */
static void test_turin_vcek_checks(void **state)
{
    (void)state;
    struct arca_buf b;
    struct arca_snp_certs c;
    report(GSG "/attestation.bin", &b);
    certs_key_chain(&c, VIRTEE "/vcek_turin.der", VIRTEE "/cert_chain_turin");
    static const uint8_t hwid[8] = {0x1e, 0x55, 0x0a, 0x8e, 0xe5, 0xcf, 0x9f, 0x4d};
    memcpy(b.data + 0x1A0, hwid, 8);
    /* fmc 0, bl 0, tee 0, snp 0, ucode 9 */
    uint64_t tcb = 0x0900000000000000ULL;
    for (int i = 0; i < 8; i++)
        b.data[0x180 + i] = (uint8_t)(tcb >> (8 * i));
    int64_t now = at("2025-01-01T00:00:00Z");
    assert_fails(arca_snp_verify(b.data, b.len, &c, now, NULL), ARCA_ERR_SIGNATURE,
                 "does not verify with the VCEK");
    b.data[0x180] = 1; /* FMC 1 */
    assert_fails(arca_snp_verify(b.data, b.len, &c, now, NULL), ARCA_ERR_POLICY,
                 "has fmcSPL 1 but the VCEK was issued for fmcSPL 0");
    b.data[0x180] = 0;
    b.data[0x183] = 2; /* Turin SNP SPL is byte 3 */
    assert_fails(arca_snp_verify(b.data, b.len, &c, now, NULL), ARCA_ERR_POLICY,
                 "has snpSPL 2 but the VCEK was issued for snpSPL 0");
    b.data[0x183] = 0;
    b.data[0x1A0 + 7] ^= 1;
    assert_fails(arca_snp_verify(b.data, b.len, &c, now, NULL), ARCA_ERR_POLICY,
                 "hwID mismatch: the VCEK belongs to chip 1e550a8ee5cf9f4d");
    arca_snp_certs_clear(&c);
    arca_buf_free(&b);
}

/* ---- negatives ---------------------------------------------------------------------------- */

struct fixture {
    struct arca_buf rep;
    struct arca_snp_certs certs;
    int64_t now;
};

static int setup_gsg(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    report(GSG "/attestation.bin", &f->rep);
    certs_key_chain(&f->certs, GSG "/vcek.testcer", GSG "/milan.testcer");
    f->now = at("2023-01-01T00:00:00Z");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    arca_buf_free(&f->rep);
    arca_snp_certs_clear(&f->certs);
    free(f);
    return 0;
}

static void test_neg_flip_body(void **state)
{
    struct fixture *f = *state;
    struct arca_claims cl;
    memset(&cl, 0x5a, sizeof(cl));
    struct arca_claims before = cl;
    f->rep.data[0x90] ^= 1; /* MEASUREMENT */
    assert_fails(arca_snp_verify(f->rep.data, f->rep.len, &f->certs, f->now, &cl),
                 ARCA_ERR_SIGNATURE, "report signature (ECDSA P-384, offset 0x2A0) does not");
    assert_memory_equal(&cl, &before, sizeof(cl)); /* no partial output */
    f->rep.data[0x90] ^= 1;
    f->rep.data[0x50] ^= 0x80; /* REPORT_DATA */
    assert_fails(arca_snp_verify(f->rep.data, f->rep.len, &f->certs, f->now, &cl),
                 ARCA_ERR_SIGNATURE, "does not verify with the VCEK");
    f->rep.data[0x50] ^= 0x80;
    f->rep.data[0x08] ^= 0x08; /* POLICY: clearing DEBUG must not be possible */
    assert_fails(arca_snp_verify(f->rep.data, f->rep.len, &f->certs, f->now, &cl),
                 ARCA_ERR_SIGNATURE, "does not verify");
    f->rep.data[0x08] ^= 0x08;
    assert_int_equal(arca_snp_verify(f->rep.data, f->rep.len, &f->certs, f->now, &cl), 0);
}

static void test_neg_flip_signature(void **state)
{
    struct fixture *f = *state;
    f->rep.data[0x2A0] ^= 1; /* r, low byte */
    assert_fails(arca_snp_verify(f->rep.data, f->rep.len, &f->certs, f->now, NULL),
                 ARCA_ERR_SIGNATURE, "does not verify with the VCEK");
    f->rep.data[0x2A0] ^= 1;
    f->rep.data[0x2E8 + 10] ^= 0x40; /* s */
    assert_fails(arca_snp_verify(f->rep.data, f->rep.len, &f->certs, f->now, NULL),
                 ARCA_ERR_SIGNATURE, "does not verify with the VCEK");
    f->rep.data[0x2E8 + 10] ^= 0x40;
    f->rep.data[0x2A0 + 60] = 1; /* r above 384 bits */
    assert_fails(arca_snp_verify(f->rep.data, f->rep.len, &f->certs, f->now, NULL),
                 ARCA_ERR_SIGNATURE, "exceeds 384 bits");
    f->rep.data[0x2A0 + 60] = 0;
    f->rep.data[0x400] = 1; /* reserved tail of the signature area */
    assert_fails(arca_snp_verify(f->rep.data, f->rep.len, &f->certs, f->now, NULL), ARCA_ERR_FORMAT,
                 "reserved bytes after the signature");
}

static void test_neg_other_chip(void **state)
{
    (void)state;
    /* virtee's report with trustee's VCEK: same TCB (0x7308000000000003), another chip. */
    struct arca_buf b;
    struct arca_snp_certs c;
    report(VIRTEE "/report_milan.hex", &b);
    certs_key_chain(&c, COCO "/test-vcek.der", NULL);
    assert_fails(arca_snp_verify(b.data, b.len, &c, at("2024-06-01T00:00:00Z"), NULL),
                 ARCA_ERR_POLICY, "hwID mismatch: the VCEK belongs to chip c38427a30d4c7af9");
    arca_snp_certs_clear(&c);
    /* go-sev-guest's report with virtee's VCEK: a VCEK that does not belong to the report. */
    struct fixture *f = NULL;
    setup_gsg((void **)&f);
    certs_key_chain(&c, VIRTEE "/vcek_milan.der", NULL);
    assert_fails(arca_snp_verify(f->rep.data, f->rep.len, &c, f->now + 400 * 86400, NULL),
                 ARCA_ERR_POLICY, "a VCEK of another chip");
    arca_snp_certs_clear(&c);
    void *s = f;
    teardown(&s);
    arca_buf_free(&b);
}

static void test_neg_tcb_mismatch(void **state)
{
    struct fixture *f = *state;
    f->rep.data[0x180 + 7] = 0x45; /* REPORTED_TCB microcode 68 -> 69 */
    assert_fails(arca_snp_verify(f->rep.data, f->rep.len, &f->certs, f->now, NULL), ARCA_ERR_POLICY,
                 "TCB mismatch: REPORTED_TCB 0x4505000000000002 has ucodeSPL 69");
    f->rep.data[0x180 + 7] = 0x44;
    f->rep.data[0x180 + 0] = 3; /* boot loader 2 -> 3 */
    assert_fails(arca_snp_verify(f->rep.data, f->rep.len, &f->certs, f->now, NULL), ARCA_ERR_POLICY,
                 "blSPL 3 but the VCEK was issued for blSPL 2");
    f->rep.data[0x180 + 0] = 2;
    f->rep.data[0x1A0] ^= 0xff; /* CHIP_ID */
    assert_fails(arca_snp_verify(f->rep.data, f->rep.len, &f->certs, f->now, NULL), ARCA_ERR_POLICY,
                 "hwID mismatch");
}

static void test_neg_wrong_ark(void **state)
{
    struct fixture *f = *state;
    /* Genoa's ARK in place of Milan's: pinned, but not the ASK's issuer. */
    struct arca_x509 *genoa = NULL;
    const char *pem = arca_snp_ark_pem(ARCA_SNP_PRODUCT_GENOA);
    assert_int_equal(arca_x509_from_pem(pem, strlen(pem), &genoa), 0);
    arca_x509_free(f->certs.ark);
    f->certs.ark = genoa;
    assert_fails(arca_snp_verify(f->rep.data, f->rep.len, &f->certs, f->now, NULL), ARCA_ERR_CERT,
                 "ASK 'SEV-Milan' is issued by");
    assert_true(strstr(arca_err_detail(), "not by 'ARK-Genoa'") != NULL);

    /* Genoa's ASK for a Milan VCEK. */
    struct arca_snp_certs c;
    certs_key_chain(&c, GSG "/vcek.testcer", GSG "/trust/ask_ark_genoa.pem");
    assert_fails(arca_snp_verify(f->rep.data, f->rep.len, &c, f->now, NULL), ARCA_ERR_CERT,
                 "VCEK 'SEV-VCEK' is issued by");
    arca_snp_certs_clear(&c);

    /* An ARK that is not one of AMD's: a self-signed certificate of our own. */
    struct arca_key *k = NULL;
    struct arca_x509 *self = NULL;
    assert_int_equal(arca_key_generate(ARCA_KEY_P384, &k), 0);
    struct arca_x509_params params = {.common_name = "ARK-Milan",
                                      .is_ca = true,
                                      .path_len = -1,
                                      .not_before = at("2020-01-01T00:00:00Z"),
                                      .not_after = at("2040-01-01T00:00:00Z")};
    assert_int_equal(arca_x509_build(&params, k, NULL, NULL, &self), 0);
    f->certs.ark = self;
    arca_x509_free(genoa);
    assert_fails(arca_snp_verify(f->rep.data, f->rep.len, &f->certs, f->now, NULL), ARCA_ERR_CERT,
                 "is not a pinned AMD root");
    arca_key_free(k);
}

static void test_neg_forged_vcek(void **state)
{
    struct fixture *f = *state;
    /* The VCEK with one bit of its RSA-PSS signature flipped: names match, signature not. */
    struct arca_buf der;
    slurp_buf(GSG "/vcek.testcer", &der);
    der.data[der.len - 5] ^= 0x01;
    struct arca_snp_certs c = {0};
    assert_int_equal(arca_snp_certs_load_key(&c, der.data, der.len), 0);
    assert_fails(arca_snp_verify(f->rep.data, f->rep.len, &c, f->now, NULL), ARCA_ERR_CERT,
                 "VCEK 'SEV-VCEK' is not signed by 'SEV-Milan' (RSA-PSS SHA-384)");
    /* The same with the caller's chain (identical to the embedded one). */
    assert_int_equal(arca_snp_certs_load_file(&c, GSG "/milan.testcer"), 0);
    assert_fails(arca_snp_verify(f->rep.data, f->rep.len, &c, f->now, NULL), ARCA_ERR_CERT,
                 "is not signed by 'SEV-Milan'");
    arca_snp_certs_clear(&c);
    arca_buf_free(&der);
}

static void test_neg_validity(void **state)
{
    struct fixture *f = *state;
    assert_fails(
        arca_snp_verify(f->rep.data, f->rep.len, &f->certs, at("2029-09-25T00:00:00Z"), NULL),
        ARCA_ERR_EXPIRED,
        "VCEK 'SEV-VCEK' is not valid at 2029-09-25T00:00:00Z (valid "
        "2022-09-24T00:55:28Z .. 2029-09-24T00:55:28Z)");
    assert_fails(
        arca_snp_verify(f->rep.data, f->rep.len, &f->certs, at("2022-09-23T00:00:00Z"), NULL),
        ARCA_ERR_EXPIRED, "VCEK 'SEV-VCEK' is not valid at 2022-09-23");
    assert_fails(
        arca_snp_verify(f->rep.data, f->rep.len, &f->certs, at("2046-01-01T00:00:00Z"), NULL),
        ARCA_ERR_EXPIRED, "ARK 'ARK-Milan' is not valid at 2046");
}

static void test_neg_malformed(void **state)
{
    struct fixture *f = *state;
    struct arca_snp_report r;
    assert_fails(arca_snp_report_parse(f->rep.data, 1183, &r), ARCA_ERR_FORMAT,
                 "length 1183 bytes, expected 1184");
    f->rep.data[0] = 1;
    assert_fails(arca_snp_report_parse(f->rep.data, f->rep.len, &r), ARCA_ERR_UNSUPPORTED,
                 "VERSION 1 at offset 0x000");
    f->rep.data[0] = 2;
    f->rep.data[0x34] = 2;
    assert_fails(arca_snp_report_parse(f->rep.data, f->rep.len, &r), ARCA_ERR_UNSUPPORTED,
                 "SIGNATURE_ALGO 2 at offset 0x034");
    f->rep.data[0x34] = 1;
    f->rep.data[0x48] = 7 << 2;
    assert_fails(arca_snp_report_parse(f->rep.data, f->rep.len, &r), ARCA_ERR_UNSUPPORTED,
                 "signing key 7 (unsigned)");
    f->rep.data[0x48] = 0;
    struct arca_snp_certs none = {0};
    assert_fails(arca_snp_verify(f->rep.data, f->rep.len, &none, f->now, NULL),
                 ARCA_ERR_INVALID_ARG, "no VCEK/VLEK certificate given");

    struct arca_buf out;
    arca_buf_init(&out, 0);
    assert_fails(arca_snp_report_load("zz", 2, &out), ARCA_ERR_FORMAT, "neither a raw");
    assert_fails(arca_snp_report_load("abcd", 4, &out), ARCA_ERR_FORMAT,
                 "hex form has 4 hex digits");
    assert_int_equal(out.len, 0);
    arca_buf_free(&out);
}

static void test_certs_loading(void **state)
{
    (void)state;
    char dir[] = "/tmp/arca-snp-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "cp %s %s/vcek.der && cp %s %s/cert_chain", GSG "/vcek.testcer", dir,
             GSG "/milan.testcer", dir);
    assert_int_equal(system(cmd), 0);
    struct arca_snp_certs c = {0};
    assert_int_equal(arca_snp_certs_load_dir(&c, dir), 0);
    assert_non_null(c.key);
    assert_non_null(c.intermediate);
    assert_non_null(c.ark);
    struct arca_buf b;
    report(GSG "/attestation.bin", &b);
    assert_int_equal(arca_snp_verify(b.data, b.len, &c, at("2023-01-01T00:00:00Z"), NULL), 0);
    arca_snp_certs_clear(&c);
    snprintf(cmd, sizeof(cmd), "rm -f %s/vcek.der", dir);
    assert_int_equal(system(cmd), 0);
    assert_fails(arca_snp_certs_load_dir(&c, dir), ARCA_ERR_NOT_FOUND, "has no VCEK/VLEK");
    assert_null(c.key);
    assert_null(c.ark);
    /* Loaders merge: a key from a file, the chain from a directory. */
    assert_int_equal(arca_snp_certs_load_file(&c, GSG "/vcek.testcer"), 0);
    assert_int_equal(arca_snp_certs_load_dir(&c, dir), 0);
    assert_non_null(c.key);
    assert_non_null(c.ark);
    assert_int_equal(arca_snp_verify(b.data, b.len, &c, at("2023-01-01T00:00:00Z"), NULL), 0);
    arca_snp_certs_clear(&c);
    assert_fails(arca_snp_certs_load_key(&c, "garbage", 7), ARCA_ERR_FORMAT, "");
    assert_null(c.key);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    arca_buf_free(&b);
}

static void test_kds_fetch_file_url(void **state)
{
    (void)state;
    /* A KDS mirror as a directory tree, reached through file:// (tests use files only). */
    char dir[] = "/tmp/arca-kds-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct arca_buf b;
    report(GSG "/attestation.bin", &b);
    struct arca_snp_report r;
    assert_int_equal(arca_snp_report_parse(b.data, b.len, &r), 0);
    struct arca_buf path;
    arca_buf_init(&path, 0);
    assert_int_equal(arca_snp_kds_vcek_path(ARCA_SNP_PRODUCT_MILAN, &r, &path), 0);
    assert_string_equal(arca_buf_cstr(&path),
                        "/vcek/v1/Milan/"
                        "3ac3fe21e13fb0990eb28a802e3fb6a29483a6b0753590c951bdd3b8e53786184ca39e359"
                        "669a2b76a1936776b564ea464cdce40c05f63c9b610c5068b006b5d?blSPL=2&teeSPL=0&"
                        "snpSPL=5&ucodeSPL=68");
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "mkdir -p %s/kds/vcek/v1/Milan && cp %s %s/kds/vcek/v1/Milan/cert_chain", dir,
             GSG "/milan.testcer", dir);
    assert_int_equal(system(cmd), 0);

    char base[512], cache[512];
    snprintf(base, sizeof(base), "file://%s/kds", dir);
    snprintf(cache, sizeof(cache), "%s/cache", dir);
    struct arca_snp_kds kds = {.base_url = base, .cache_dir = cache, .refresh_secs = 3600};
    int64_t now = at("2026-01-01T00:00:00Z");
    struct arca_buf out;
    arca_buf_init(&out, 0);
    int rc = arca_snp_kds_fetch_chain(&kds, ARCA_SNP_PRODUCT_MILAN, false, now, &out);
    if (rc != 0)
        fail_msg("fetch chain: %s", arca_err_detail());
    struct arca_snp_certs c = {0};
    assert_int_equal(arca_snp_certs_load_chain(&c, out.data, out.len), 0);
    assert_non_null(c.ark);
    assert_non_null(c.intermediate);

    /* The mirror goes away: the cached chain keeps being served, even when stale. */
    snprintf(cmd, sizeof(cmd), "rm -rf %s/kds", dir);
    assert_int_equal(system(cmd), 0);
    arca_buf_reset(&out);
    assert_int_equal(arca_snp_kds_fetch_chain(&kds, ARCA_SNP_PRODUCT_MILAN, false, now, &out), 0);
    assert_true(out.len > 0);
    arca_buf_reset(&out);
    rc = arca_snp_kds_fetch_chain(&kds, ARCA_SNP_PRODUCT_MILAN, false, INT64_MAX / 2, &out);
    if (rc != 0)
        fail_msg("stale fetch: %s", arca_err_detail());
    /* Nothing cached and nothing reachable: a network error naming the URL. */
    arca_buf_reset(&out);
    assert_fails(arca_snp_kds_fetch_chain(&kds, ARCA_SNP_PRODUCT_GENOA, false, now, &out),
                 ARCA_ERR_NETWORK, "Genoa/cert_chain");
    assert_int_equal(out.len, 0);

    /* VCEK: served by a mirror whose file name is the path with its query. */
    snprintf(cmd, sizeof(cmd), "mkdir -p %s/kds2/vcek/v1/Milan", dir);
    assert_int_equal(system(cmd), 0);
    char vpath[1024];
    snprintf(vpath, sizeof(vpath), "%s/kds2/vcek/v1/Milan/%s", dir,
             arca_buf_cstr(&path) + strlen("/vcek/v1/Milan/"));
    *strchr(vpath, '?') = '\0'; /* file:// URLs drop the query */
    snprintf(cmd, sizeof(cmd), "cp %s '%s'", GSG "/vcek.testcer", vpath);
    assert_int_equal(system(cmd), 0);
    snprintf(base, sizeof(base), "file://%s/kds2", dir);
    rc = arca_snp_kds_fetch_vcek(&kds, ARCA_SNP_PRODUCT_MILAN, &r, now, &out);
    if (rc != 0)
        fail_msg("fetch vcek: %s", arca_err_detail());
    assert_int_equal(arca_snp_certs_load_key(&c, out.data, out.len), 0);
    assert_int_equal(arca_snp_verify(b.data, b.len, &c, at("2023-01-01T00:00:00Z"), NULL), 0);
    /* Cached forever: works with the mirror gone. */
    snprintf(cmd, sizeof(cmd), "rm -rf %s/kds2", dir);
    assert_int_equal(system(cmd), 0);
    arca_buf_reset(&out);
    assert_int_equal(arca_snp_kds_fetch_vcek(&kds, ARCA_SNP_PRODUCT_MILAN, &r, now, &out), 0);

    arca_snp_certs_clear(&c);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    arca_buf_free(&out);
    arca_buf_free(&path);
    arca_buf_free(&b);
}

static void test_kds_certs_fetch(void **state)
{
    (void)state;
    char dir[] = "/tmp/arca-kds2-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct arca_buf b;
    report(GSG "/attestation.bin", &b);
    struct arca_snp_report r;
    assert_int_equal(arca_snp_report_parse(b.data, b.len, &r), 0);
    assert_int_equal(arca_snp_report_product(&r), ARCA_SNP_PRODUCT_UNKNOWN); /* v2 */
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "mkdir -p %s/kds/vcek/v1/Milan && cp %s %s/kds/vcek/v1/Milan/cert_chain && "
             "cp %s %s/kds/vcek/v1/Milan/"
             "3ac3fe21e13fb0990eb28a802e3fb6a29483a6b0753590c951bdd3b8e53786184ca39e359669a2b76a1"
             "936776b564ea464cdce40c05f63c9b610c5068b006b5d",
             dir, GSG "/milan.testcer", dir, GSG "/vcek.testcer", dir);
    assert_int_equal(system(cmd), 0);
    char base[512];
    snprintf(base, sizeof(base), "file://%s/kds", dir);
    struct arca_snp_kds kds = {.base_url = base};
    struct arca_snp_certs c = {0};
    int64_t now = at("2024-01-01T00:00:00Z");
    int rc = arca_snp_certs_fetch(&kds, b.data, b.len, ARCA_SNP_PRODUCT_UNKNOWN, now, &c);
    if (rc != 0)
        fail_msg("fetch: %s", arca_err_detail());
    assert_non_null(c.key);
    assert_non_null(c.intermediate);
    assert_non_null(c.ark);
    assert_int_equal(arca_snp_verify(b.data, b.len, &c, now, NULL), 0);
    arca_snp_certs_clear(&c);
    /* Asked for Genoa explicitly: not on the mirror, certs unchanged. */
    assert_fails(arca_snp_certs_fetch(&kds, b.data, b.len, ARCA_SNP_PRODUCT_GENOA, now, &c),
                 ARCA_ERR_NETWORK, "/vcek/v1/Genoa/3ac3fe21");
    assert_null(c.key);

    /* A v3 report names its product (CPUID family 19h model 01h: Milan). */
    struct arca_buf v;
    report(COCO "/test-vlek-report.bin", &v);
    assert_int_equal(arca_snp_report_parse(v.data, v.len, &r), 0);
    assert_int_equal(arca_snp_report_product(&r), ARCA_SNP_PRODUCT_MILAN);
    r.cpuid_fam_id = 0x19;
    r.cpuid_mod_id = 0x11;
    assert_int_equal(arca_snp_report_product(&r), ARCA_SNP_PRODUCT_GENOA);
    r.cpuid_fam_id = 0x1a;
    r.cpuid_mod_id = 0x02;
    assert_int_equal(arca_snp_report_product(&r), ARCA_SNP_PRODUCT_TURIN);
    snprintf(cmd, sizeof(cmd),
             "mkdir -p %s/kds/vlek/v1/Milan && cp %s %s/kds/vlek/v1/Milan/cert_chain", dir,
             GSG "/trust/ask_ark_milan_vlek.pem", dir);
    assert_int_equal(system(cmd), 0);
    /* VLEK report: only the ASVK chain comes from KDS; the VLEK is added from the host. */
    rc = arca_snp_certs_fetch(&kds, v.data, v.len, ARCA_SNP_PRODUCT_UNKNOWN, now, &c);
    if (rc != 0)
        fail_msg("fetch vlek chain: %s", arca_err_detail());
    assert_null(c.key);
    assert_int_equal(arca_snp_certs_load_file(&c, COCO "/test-vlek.der"), 0);
    assert_int_equal(arca_snp_verify(v.data, v.len, &c, at("2025-06-01T00:00:00Z"), NULL), 0);
    arca_snp_certs_clear(&c);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    arca_buf_free(&v);
    arca_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_go_sev_guest),
        cmocka_unit_test(test_verify_go_sev_guest),
        cmocka_unit_test(test_verify_virtee_hex),
        cmocka_unit_test(test_verify_trustee_vcek),
        cmocka_unit_test(test_verify_trustee_vlek_v3),
        cmocka_unit_test(test_chains_milan_genoa_turin),
        cmocka_unit_test(test_turin_tcb_layout),
        cmocka_unit_test(test_turin_vcek_checks),
        cmocka_unit_test_setup_teardown(test_neg_flip_body, setup_gsg, teardown),
        cmocka_unit_test_setup_teardown(test_neg_flip_signature, setup_gsg, teardown),
        cmocka_unit_test(test_neg_other_chip),
        cmocka_unit_test_setup_teardown(test_neg_tcb_mismatch, setup_gsg, teardown),
        cmocka_unit_test_setup_teardown(test_neg_wrong_ark, setup_gsg, teardown),
        cmocka_unit_test_setup_teardown(test_neg_forged_vcek, setup_gsg, teardown),
        cmocka_unit_test_setup_teardown(test_neg_validity, setup_gsg, teardown),
        cmocka_unit_test_setup_teardown(test_neg_malformed, setup_gsg, teardown),
        cmocka_unit_test(test_certs_loading),
        cmocka_unit_test(test_kds_fetch_file_url),
        cmocka_unit_test(test_kds_certs_fetch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
