/* Intel DCAP: every Intel vector at its pinned time, and one negative per region. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "test_util.h"
#include <pthread.h>

#include "base/buf.h"
#include "base/enc.h"
#include "base/err.h"
#include "base/time.h"
#include "crypto/crypto.h"
#include "evidence/collateral.h"
#include "evidence/dcap_quote.h"
#include "evidence/dcap_verify.h"
#include "evidence/pck.h"
#include "evidence/signed_json.h"

#define TV ARCA_TESTVECTORS

static struct arca_buf load(const char *rel)
{
    char path[512];
    struct arca_buf b;
    snprintf(path, sizeof path, "%s/%s", TV, rel);
    arca_buf_init(&b, 1 << 22);
    if (arca_file_read(path, 1 << 22, &b) != 0)
        fail_msg("cannot read %s: %s", path, arca_err_detail());
    return b;
}

static void assert_hex(const uint8_t *p, size_t n, const char *hex)
{
    char out[256];
    assert_true(n * 2 < sizeof out);
    arca_hex_fmt(out, p, n);
    if (strcasecmp(out, hex) != 0)
        fail_msg("got %s\nwant %s", out, hex);
}

static void load_collateral(struct arca_dcap_collateral *c, const char *rel)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", TV, rel);
    arca_dcap_collateral_init(c);
    if (arca_dcap_collateral_load_path(c, path) != 0)
        fail_msg("collateral %s: %s", rel, arca_err_detail());
}

/* The 2025 re-issued TCB Signing chain, taken from a dcap-qvl collateral file. */
static void load_2025_signing_chain(struct arca_dcap_collateral *c)
{
    struct arca_dcap_collateral tmp;
    load_collateral(&tmp, "phala-dcap-qvl/tdx_quote_collateral.json");
    struct arca_buf pem;
    arca_buf_init(&pem, 0);
    for (size_t i = 0; i < tmp.tcb_info.chain_len; i++)
        assert_int_equal(arca_x509_to_pem(tmp.tcb_info.chain[i], &pem), 0);
    assert_int_equal(arca_dcap_collateral_load_signing_chain(c, (const char *)pem.data, pem.len),
                     0);
    arca_buf_free(&pem);
    arca_dcap_collateral_free(&tmp);
}

static bool has_advisory(const struct arca_claims *c, const char *id)
{
    for (unsigned i = 0; i < c->advisory_count; i++)
        if (strcmp(c->advisories[i], id) == 0)
            return true;
    return false;
}

/* ---- parsing ---------------------------------------------------------------------------- */

static void test_parse_sgx_v3(void **state)
{
    (void)state;
    struct arca_buf b = load("phala-dcap-qvl/sgx_quote");
    struct arca_dcap_quote q;
    assert_int_equal(arca_dcap_quote_parse(b.data, b.len, &q), 0);
    assert_int_equal(q.version, 3);
    assert_int_equal(q.body_type, ARCA_DCAP_BODY_SGX);
    assert_int_equal(q.qe_svn, 10);
    assert_int_equal(q.pce_svn, 15);
    assert_hex(q.qe_vendor_id, 16, "939a7233f79c4ca9940a0db3957f0607");
    assert_hex(q.sgx.mrenclave, 32,
               "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb");
    assert_hex(q.sgx.mrsigner, 32,
               "815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6");
    assert_hex(q.sgx.attributes, 16, "0500000000000000e700000000000000");
    assert_int_equal(q.sgx.isvprodid, 0);
    assert_int_equal(q.sgx.isvsvn, 0);
    assert_memory_equal(q.sgx.reportdata, "Hello, world!\0\0", 15);
    assert_hex(q.qe_report.mrsigner, 32,
               "8c4f5775d796503e96137f77c68a829a0056ac8ded70140b081b094490c57bff");
    assert_int_equal(q.qe_report.isvprodid, 1);
    assert_int_equal(q.qe_report.isvsvn, 10);
    assert_int_equal(q.qe_auth_len, 32);
    assert_int_equal(q.cert_type, 5);
    assert_int_equal(q.quote_len, 436 + 4164);
    arca_buf_free(&b);
}

static void test_parse_tdx_v4_and_v5(void **state)
{
    (void)state;
    struct arca_buf b = load("phala-dcap-qvl/tdx_quote");
    struct arca_dcap_quote q;
    assert_int_equal(arca_dcap_quote_parse(b.data, b.len, &q), 0);
    assert_int_equal(q.version, 4);
    assert_int_equal(q.tee_type, 0x81);
    assert_int_equal(q.body_type, ARCA_DCAP_BODY_TD10);
    assert_hex(q.td.mrtd, 48,
               "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27"
               "428b2538873118b7");
    assert_hex(q.td.rtmr[0], 48,
               "44c0197b39157fdd7a4dcc44767f9d6b0bb3977c7a8e347b8492f827fe9d9e5c48aca29b220b80b6"
               "a540cf994b9bc9c0");
    assert_hex(q.td.rtmr[1], 48,
               "0084452c01668329d4bc06acdf58a7205c26743304509973949e5619bf81a6a7aea8c323c173019b"
               "3093d54e579e9378");
    assert_hex(q.td.rtmr[2], 48,
               "d833feef2cd945148aa38ead2c53e9b7f138190aaaebfc551dccd829fc207aa3ba80b70870d73307"
               "33642e01d48c3132");
    static const uint8_t zero[48];
    assert_memory_equal(q.td.rtmr[3], zero, 48);
    assert_memory_equal(q.td.mrsignerseam, zero, 48);
    assert_hex(q.td.tee_tcb_svn, 16, "06010300000000000000000000000000");
    assert_hex(q.td.tdattributes, 8, "0000001000000000");
    assert_hex(q.td.xfam, 8, "e702060000000000");
    assert_hex(q.td.reportdata, 64,
               "9a9d48e7f6799642d3d1b34e1e5e1742d4bb02dd6ddd551862c1211d35c304f9eca3efdbb481601c"
               "163cf52493d6e44aed55d51ec39b7e518fadb92c2b523f20");
    assert_int_equal(q.qe_report.isvsvn, 6);
    assert_int_equal(q.qe_report.isvprodid, 2);
    arca_buf_free(&b);

    b = load("google-go-tdx-guest/quote_v5_sample.dat");
    assert_int_equal(arca_dcap_quote_parse(b.data, b.len, &q), 0);
    assert_int_equal(q.version, 5);
    assert_int_equal(q.body_type, ARCA_DCAP_BODY_TD15);
    assert_int_equal(q.signed_len, 702);
    assert_hex(q.td.mrtd, 48,
               "7348651a34b2d2d3462822e3a750ec6110125f36757c78480bbfc69cc0d21fb001a1ced3ee19747d"
               "da8f750c3bc8f876");
    assert_hex(q.td.rtmr[0], 48,
               "5c8daf76063a71ac8fcef4067564661fc682ed7944c7a5d21dbbced02f61ceff4ba0678c6aef3bda"
               "e8cbc614cec24619");
    assert_hex(q.td.tee_tcb_svn, 16, "0b010400000000000000000000000000");
    assert_hex(q.td.tee_tcb_svn2, 16, "0d010400000000000000000000000000");
    assert_memory_equal(q.td.mrservicetd, zero, 48);
    arca_buf_free(&b);

    b = load("coco-trustee/tdx_quote_5.dat");
    assert_int_equal(arca_dcap_quote_parse(b.data, b.len, &q), 0);
    assert_int_equal(q.version, 5);
    assert_hex(q.td.mrtd, 48,
               "dfba221b48a22af8511542ee796603f37382800840dcd978703909bf8e64d4c8a1e9de86e7c9638b"
               "fcba422f3886400a");
    arca_buf_free(&b);
}

static void test_parse_others(void **state)
{
    (void)state;
    struct arca_dcap_quote q;
    struct arca_buf b = load("google-go-tdx-guest/cos-113-tdx-quote.dat");
    assert_int_equal(b.len, 8000);
    assert_int_equal(arca_dcap_quote_parse(b.data, b.len, &q), 0);
    assert_true(q.quote_len < 8000); /* trailing zero padding ignored */
    assert_hex(q.td.mrtd, 48,
               "dae67181d3d65e073ad8f95b7907d5e927bfe9761c9ff3e9b89734a45d8954dba41394c7717cb273"
               "5396c1d04231f94a");
    arca_buf_free(&b);

    b = load("coco-trustee/occlum_quote.dat");
    assert_int_equal(arca_dcap_quote_parse(b.data, b.len, &q), 0);
    assert_int_equal(q.version, 3);
    assert_hex(q.sgx.mrenclave, 32,
               "8f173e4613ff05c52aaf04162d234edae8c9977eae47eb2299ae16a553011c68");
    assert_hex(q.sgx.mrsigner, 32,
               "83d719e77deaca1470f6baf62a4d774303c899db69020f9c70ee1dfc08c7ce9e");
    assert_hex(q.sgx.attributes, 16, "0700000000000000e700000000000000");
    assert_int_equal(q.qe_svn, 8);
    assert_int_equal(q.pce_svn, 13);
    struct arca_claims c;
    memset(&c, 0, sizeof c);
    arca_dcap_quote_claims(&q, &c);
    assert_true(c.debug);
    arca_buf_free(&b);

    b = load("coco-trustee/tdx_quote_4.dat");
    assert_int_equal(arca_dcap_quote_parse(b.data, b.len, &q), 0);
    assert_hex(q.td.mrtd, 48,
               "705ee9381b8633a9fbe532b52345e8433343d2868959f57889d84ca377c395b689cac1599ccea1b7"
               "d420483a9ce5f031");
    assert_hex(q.td.tdattributes, 8, "0100001000000000");
    memset(&c, 0, sizeof c);
    arca_dcap_quote_claims(&q, &c);
    assert_true(c.debug);
    arca_buf_free(&b);

    b = load("google-go-tdx-guest/tdx_prod_quote_SPR_E4.dat");
    assert_int_equal(arca_dcap_quote_parse(b.data, b.len, &q), 0);
    assert_hex(q.td.mrtd, 48,
               "6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc"
               "10d5e119d7215cbb");
    assert_hex(q.td.rtmr[0], 48,
               "2927da70461cd63266f43230cc1849c03ef25ebe490062a801d8fcc80af42976823adf08f833c1e5"
               "0b51779c6593f32a");
    assert_hex(q.td.tee_tcb_svn, 16, "03000400000000000000000000000000");
    arca_buf_free(&b);
}

/* A v4 quote with an SGX body (TEE type 0) and the v4 signature-data layout (certification
 * data type 6 wrapping QE report, signature, auth data and the type 5 chain), assembled from
 * the pieces of the v3 vector: structure only (its signature no longer covers it). */
static void test_parse_sgx_v4_layout(void **state)
{
    (void)state;
    struct arca_buf b = load("phala-dcap-qvl/sgx_quote");
    struct arca_dcap_quote q3, q4;
    struct arca_buf v4, inner;
    assert_int_equal(arca_dcap_quote_parse(b.data, b.len, &q3), 0);
    arca_buf_init(&v4, 0);
    arca_buf_init(&inner, 0);
    /* inner: QE report, its signature, auth data, type 5 chain */
    assert_int_equal(arca_buf_put(&inner, q3.qe_report_raw, 384), 0);
    assert_int_equal(arca_buf_put(&inner, q3.qe_report_signature, 64), 0);
    assert_int_equal(arca_buf_put_u16le(&inner, (uint16_t)q3.qe_auth_len), 0);
    assert_int_equal(arca_buf_put(&inner, q3.qe_auth_data, q3.qe_auth_len), 0);
    assert_int_equal(arca_buf_put_u16le(&inner, 5), 0);
    assert_int_equal(arca_buf_put_u32le(&inner, (uint32_t)q3.cert_len), 0);
    assert_int_equal(arca_buf_put(&inner, q3.cert_data, q3.cert_len), 0);
    assert_int_equal(arca_buf_put(&v4, b.data, 432), 0);
    v4.data[0] = 4;
    assert_int_equal(arca_buf_put_u32le(&v4, (uint32_t)(128 + 6 + inner.len)), 0);
    assert_int_equal(arca_buf_put(&v4, q3.signature, 64), 0);
    assert_int_equal(arca_buf_put(&v4, q3.attestation_key, 64), 0);
    assert_int_equal(arca_buf_put_u16le(&v4, 6), 0);
    assert_int_equal(arca_buf_put_u32le(&v4, (uint32_t)inner.len), 0);
    assert_int_equal(arca_buf_put(&v4, inner.data, inner.len), 0);
    assert_int_equal(arca_dcap_quote_parse(v4.data, v4.len, &q4), 0);
    assert_int_equal(q4.version, 4);
    assert_int_equal(q4.body_type, ARCA_DCAP_BODY_SGX);
    assert_memory_equal(q4.sgx.mrenclave, q3.sgx.mrenclave, 32);
    assert_memory_equal(&q4.qe_report, &q3.qe_report, sizeof q3.qe_report);
    assert_int_equal(q4.cert_len, q3.cert_len);
    /* Its quote signature covers the changed version byte: verification must refuse it. */
    struct arca_dcap_collateral col;
    struct arca_claims c;
    load_collateral(&col, "phala-dcap-qvl/sgx_quote_collateral.json");
    assert_err(arca_dcap_verify(v4.data, v4.len, &col, NULL, at("2025-07-01T00:00:00Z"), &c, NULL),
               ARCA_ERR_SIGNATURE, "quote signature does not verify");
    /* A wrong outer type and an inner size overrun are named. */
    v4.data[436 + 128] = 7;
    assert_err(arca_dcap_quote_parse(v4.data, v4.len, &q4), ARCA_ERR_UNSUPPORTED,
               "outer certification data type 7");
    v4.data[436 + 128] = 6;
    v4.data[436 + 133] = 0x01; /* size + 16 MiB */
    assert_err(arca_dcap_quote_parse(v4.data, v4.len, &q4), ARCA_ERR_TRUNCATED,
               "overruns the signature data");
    arca_dcap_collateral_free(&col);
    arca_buf_free(&inner);
    arca_buf_free(&v4);
    arca_buf_free(&b);
}

static void test_parse_rejects_truncation(void **state)
{
    (void)state;
    struct arca_buf b = load("phala-dcap-qvl/sgx_quote");
    struct arca_dcap_quote q;
    /* Every strict prefix fails cleanly. */
    for (size_t n = 0; n < b.len; n += (n < 700 ? 1 : 97))
        assert_true(arca_dcap_quote_parse(b.data, n, &q) < 0);
    assert_err(arca_dcap_quote_parse(b.data, 100, &q), ARCA_ERR_TRUNCATED, "SGX report body");
    b.data[0] = 7;
    assert_err(arca_dcap_quote_parse(b.data, b.len, &q), ARCA_ERR_UNSUPPORTED, "version 7");
    b.data[0] = 3;
    b.data[432] = 0xff; /* signature data length overruns */
    assert_err(arca_dcap_quote_parse(b.data, b.len, &q), ARCA_ERR_TRUNCATED,
               "signature data length");
    arca_buf_free(&b);
}

static void pck_of(const char *rel, struct arca_pck_ext *e)
{
    struct arca_buf b = load(rel);
    struct arca_dcap_quote q;
    struct arca_x509 **list;
    size_t n;
    assert_int_equal(arca_dcap_quote_parse(b.data, b.len, &q), 0);
    assert_int_equal(arca_x509_list_from_pem(q.cert_data, q.cert_len, &list, &n), 0);
    assert_true(n >= 2);
    if (arca_pck_ext_from_cert(list[0], e) != 0)
        fail_msg("%s: %s", rel, arca_err_detail());
    arca_x509_list_free(list, n);
    arca_buf_free(&b);
}

static void test_pck_extensions(void **state)
{
    (void)state;
    struct arca_pck_ext e;
    static const uint8_t sgx_svn[16] = {11, 11, 2, 2, 255, 1};
    pck_of("phala-dcap-qvl/sgx_quote", &e);
    assert_hex(e.fmspc, 6, "00a067110000");
    assert_hex(e.pceid, 2, "0000");
    assert_int_equal(e.pcesvn, 13);
    assert_memory_equal(e.comp_svn, sgx_svn, 16);

    static const uint8_t tdx_svn[16] = {3, 3, 2, 2, 4, 1, 0, 5};
    pck_of("phala-dcap-qvl/tdx_quote", &e);
    assert_hex(e.fmspc, 6, "b0c06f000000");
    assert_int_equal(e.pcesvn, 11);
    assert_memory_equal(e.comp_svn, tdx_svn, 16);

    static const uint8_t out_svn[16] = {3, 3, 2, 2, 4, 1, 0, 3};
    pck_of("phala-dcap-qvl/tdx_quote_outdated", &e);
    assert_hex(e.fmspc, 6, "90c06f000000");
    assert_int_equal(e.pcesvn, 13);
    assert_memory_equal(e.comp_svn, out_svn, 16);

    static const uint8_t spr_svn[16] = {3, 3, 2, 2, 2, 1, 0, 2};
    pck_of("google-go-tdx-guest/tdx_prod_quote_SPR_E4.dat", &e);
    assert_hex(e.fmspc, 6, "50806f000000");
    assert_int_equal(e.pcesvn, 11);
    assert_memory_equal(e.comp_svn, spr_svn, 16);

    static const uint8_t v5_svn[16] = {4, 4, 2, 2, 4, 1, 0, 5};
    pck_of("google-go-tdx-guest/quote_v5_sample.dat", &e);
    assert_hex(e.fmspc, 6, "90c06f000000");
    assert_int_equal(e.pcesvn, 13);
    assert_memory_equal(e.comp_svn, v5_svn, 16);

    pck_of("google-go-tdx-guest/cos-113-tdx-quote.dat", &e);
    assert_hex(e.fmspc, 6, "00806f050000");
    pck_of("coco-trustee/occlum_quote.dat", &e);
    assert_hex(e.fmspc, 6, "00606a000000");
    pck_of("coco-trustee/tdx_quote_4.dat", &e);
    assert_hex(e.fmspc, 6, "50806f000000");
    pck_of("coco-trustee/tdx_quote_5.dat", &e);
    assert_hex(e.fmspc, 6, "90c06f000000");

    static const uint8_t q6_svn[16] = {2, 2, 7, 7, 4, 1, 0, 2};
    pck_of("coco-trustee/tdx_quote_6.dat", &e);
    assert_hex(e.fmspc, 6, "00a06d080000");
    assert_int_equal(e.pcesvn, 11);
    assert_int_equal(e.sgx_type, 2);
    assert_memory_equal(e.comp_svn, q6_svn, 16);
}

/* ---- full verification of every vector -------------------------------------------------- */

static void test_verify_sgx_phala(void **state)
{
    (void)state;
    struct arca_buf b = load("phala-dcap-qvl/sgx_quote");
    struct arca_dcap_collateral col;
    struct arca_claims c;
    struct arca_dcap_report r;
    load_collateral(&col, "phala-dcap-qvl/sgx_quote_collateral.json");
    int rc = arca_dcap_verify(b.data, b.len, &col, NULL, at("2025-07-01T00:00:00Z"), &c, &r);
    if (rc != 0)
        fail_msg("verify: %s", arca_err_detail());
    assert_int_equal(c.type, ARCA_EVIDENCE_SGX_DCAP);
    assert_false(c.debug);
    assert_hex(c.mrenclave, 32, "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb");
    assert_hex(c.mrsigner, 32, "815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6");
    assert_int_equal(c.isv_prod_id, 0);
    assert_int_equal(c.isv_svn, 0);
    assert_memory_equal(c.report_data, "Hello, world!\0\0\0", 16);
    assert_hex(c.fmspc, 6, "00a067110000");
    assert_int_equal(c.tcb_status, ARCA_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED);
    assert_int_equal(c.advisory_count, 2);
    assert_true(has_advisory(&c, "INTEL-SA-00289"));
    assert_true(has_advisory(&c, "INTEL-SA-00615"));
    assert_int_equal(r.qe_status, ARCA_TCB_UP_TO_DATE);
    assert_true(r.crls_checked);
    assert_true(r.qe_identity_checked);
    assert_int_equal(r.platform_tcb_date, at("2024-03-13T00:00:00Z"));
    assert_int_equal(c.collateral_expiry, at("2025-07-19T10:01:18Z"));
    arca_dcap_collateral_free(&col);
    arca_buf_free(&b);
}

static void test_verify_tdx_phala(void **state)
{
    (void)state;
    struct arca_buf b = load("phala-dcap-qvl/tdx_quote");
    struct arca_dcap_collateral col;
    struct arca_claims c;
    struct arca_dcap_report r;
    load_collateral(&col, "phala-dcap-qvl/tdx_quote_collateral.json");
    int rc = arca_dcap_verify(b.data, b.len, &col, NULL, at("2025-07-01T00:00:00Z"), &c, &r);
    if (rc != 0)
        fail_msg("verify: %s", arca_err_detail());
    assert_int_equal(c.type, ARCA_EVIDENCE_TDX);
    assert_false(c.debug);
    assert_hex(c.mrtd, 48,
               "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27"
               "428b2538873118b7");
    assert_hex(c.rtmr[2], 48,
               "d833feef2cd945148aa38ead2c53e9b7f138190aaaebfc551dccd829fc207aa3ba80b70870d73307"
               "33642e01d48c3132");
    assert_hex(c.fmspc, 6, "b0c06f000000");
    assert_int_equal(c.tcb_status, ARCA_TCB_UP_TO_DATE);
    assert_int_equal(c.advisory_count, 0);
    assert_string_equal(r.module_id, "TDX_01");
    assert_int_equal(r.module_status, ARCA_TCB_UP_TO_DATE);
    assert_int_equal(r.qe_status, ARCA_TCB_UP_TO_DATE);
    arca_dcap_collateral_free(&col);
    arca_buf_free(&b);
}

static void test_verify_tdx_outdated_no_level(void **state)
{
    (void)state;
    struct arca_buf b = load("phala-dcap-qvl/tdx_quote_outdated");
    struct arca_dcap_collateral col;
    struct arca_claims c;
    load_collateral(&col, "phala-dcap-qvl/tdx_quote_outdated_collateral.json");
    assert_err(arca_dcap_verify(b.data, b.len, &col, NULL, at("2026-03-01T00:00:00Z"), &c, NULL),
               ARCA_ERR_NOT_FOUND, "TCB level not found");
    assert_hex(c.mrtd, 48,
               "000000000000000000000000000000000000000000000000000000000000000000000"
               "000000000000000000000000000"); /* no partial output */
    arca_dcap_collateral_free(&col);
    arca_buf_free(&b);
}

static void test_verify_google_spr_no_level(void **state)
{
    (void)state;
    struct arca_buf b = load("google-go-tdx-guest/tdx_prod_quote_SPR_E4.dat");
    struct arca_dcap_collateral col;
    struct arca_claims c;
    arca_dcap_collateral_init(&col);
    static const char *const files[] = {"sample_tcbInfo_response", "sample_qeIdentity_response",
                                        "pckcrl", "rootcrl.der",
                                        "tcb_info_issuer_chain.from_test_cases_go.pem"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/google-go-tdx-guest/%s", TV, files[i]);
        if (arca_dcap_collateral_load_path(&col, path) != 0)
            fail_msg("%s", arca_err_detail());
    }
    assert_non_null(col.root_crl);
    assert_non_null(col.pck_crl);
    /* Signatures, chain, CRLs and QE identity all pass; only the platform level is missing. */
    assert_err(arca_dcap_verify(b.data, b.len, &col, NULL, at("2023-07-01T01:00:00Z"), &c, NULL),
               ARCA_ERR_NOT_FOUND, "platform TCB level not found");
    /* 2053: the PCK chain has expired. */
    assert_err(arca_dcap_verify(b.data, b.len, &col, NULL, at("2053-01-01T00:00:00Z"), &c, NULL),
               ARCA_ERR_EXPIRED, "");
    arca_dcap_collateral_free(&col);
    arca_buf_free(&b);
}

static void test_verify_google_v5(void **state)
{
    (void)state;
    struct arca_buf b = load("google-go-tdx-guest/quote_v5_sample.dat");
    struct arca_buf t = load("google-go-tdx-guest/sample_tcbinfo_response_v5");
    struct arca_dcap_collateral col;
    struct arca_claims c;
    struct arca_dcap_report r;
    struct arca_dcap_opts o = {.allow_missing_crls = true, .allow_missing_qe_identity = true};
    arca_dcap_collateral_init(&col);
    assert_int_equal(arca_dcap_collateral_load_tcb_info(&col, (const char *)t.data, t.len, NULL, 0),
                     0);
    load_2025_signing_chain(&col);
    /* Strict by default: no CRLs means no verification. */
    assert_err(arca_dcap_verify(b.data, b.len, &col, NULL, at("2026-02-03T01:00:00Z"), &c, NULL),
               ARCA_ERR_NOT_FOUND, "CRL");
    int rc = arca_dcap_verify(b.data, b.len, &col, &o, at("2026-02-03T01:00:00Z"), &c, &r);
    if (rc != 0)
        fail_msg("verify: %s", arca_err_detail());
    assert_int_equal(c.tcb_status, ARCA_TCB_UP_TO_DATE);
    assert_int_equal(r.platform_tcb_date, at("2024-11-13T00:00:00Z"));
    assert_string_equal(r.module_id, "TDX_01");
    assert_int_equal(r.module_status, ARCA_TCB_UP_TO_DATE);
    assert_false(r.crls_checked);
    assert_false(r.qe_identity_checked);
    assert_hex(c.mrtd, 48,
               "7348651a34b2d2d3462822e3a750ec6110125f36757c78480bbfc69cc0d21fb001a1ced3ee19747d"
               "da8f750c3bc8f876");
    arca_dcap_collateral_free(&col);
    arca_buf_free(&t);
    arca_buf_free(&b);
}

static void test_verify_coco_quote6(void **state)
{
    (void)state;
    struct arca_buf b = load("coco-trustee/tdx_quote_6.dat");
    struct arca_dcap_collateral col;
    struct arca_claims c;
    struct arca_dcap_report r;
    struct arca_dcap_opts o = {.allow_missing_crls = true};
    load_collateral(&col, "coco-trustee/tcbInfo.json");
    char path[512];
    snprintf(path, sizeof path, "%s/coco-trustee/enclaveIdentity.json", TV);
    assert_int_equal(arca_dcap_collateral_load_path(&col, path), 0);
    load_2025_signing_chain(&col);
    int rc = arca_dcap_verify(b.data, b.len, &col, &o, at("2025-11-01T00:00:00Z"), &c, &r);
    if (rc != 0)
        fail_msg("verify: %s", arca_err_detail());
    assert_hex(c.mrtd, 48,
               "21e8dead92d6c69d7cbba79816686c03a48485c7df0c11f6f04792d5e1d378f6b8c46615ba6946ad"
               "ccac6becffbb1e88");
    assert_hex(c.rtmr[0], 48,
               "395aefe7bac15b24c40f1cd7ba6f8fa48732be5c56c61485ed3cd9c8b16cce8ece64c331b99ce36d"
               "96605135c753aaa2");
    assert_hex(c.fmspc, 6, "00a06d080000");
    assert_int_equal(r.qe_status, ARCA_TCB_UP_TO_DATE);
    assert_int_equal(r.qe_isvsvn, 7);
    assert_int_equal(r.platform_status, ARCA_TCB_OUT_OF_DATE);
    assert_int_equal(r.platform_tcb_date, at("2018-01-04T00:00:00Z"));
    assert_string_equal(r.module_id, "TDX_03");
    assert_int_equal(r.module_status, ARCA_TCB_UP_TO_DATE);
    assert_int_equal(c.tcb_status, ARCA_TCB_OUT_OF_DATE);
    assert_int_equal(c.advisory_count, 0);
    arca_dcap_collateral_free(&col);
    arca_buf_free(&b);
}

/* ---- negatives: one flipped byte per region (sgx_quote v3 and tdx_quote v4) ------------- */

struct flip {
    const char *region;
    size_t off; /* absolute offset in the quote */
    int code;
    const char *detail;
};

/* Runs every flip without a cache, then again with a warm cache (a cached chain must never
 * hide a change in what is not cached, nor in what the cache key covers). */
static void run_flips(const char *quote, const char *collateral, const char *when,
                      const struct flip *f, size_t n)
{
    struct arca_buf b = load(quote);
    struct arca_dcap_collateral col;
    struct arca_claims c;
    struct arca_dcap_cache *cache;
    struct arca_dcap_opts o = {0};
    load_collateral(&col, collateral);
    assert_int_equal(arca_dcap_cache_new(0, &cache), 0);
    for (int pass = 0; pass < 2; pass++) {
        o.cache = pass ? cache : NULL;
        assert_int_equal(arca_dcap_verify(b.data, b.len, &col, &o, at(when), &c, NULL), 0);
        for (size_t i = 0; i < n; i++) {
            assert_true(f[i].off < b.len);
            b.data[f[i].off] ^= 0x01;
            int rc = arca_dcap_verify(b.data, b.len, &col, &o, at(when), &c, NULL);
            if (rc != f[i].code || !strstr(arca_err_detail(), f[i].detail))
                fail_msg("%s %s (offset %zu): got %d \"%s\", want %d \"%s\"", quote, f[i].region,
                         f[i].off, rc, arca_err_detail(), f[i].code, f[i].detail);
            b.data[f[i].off] ^= 0x01;
        }
    }
    arca_dcap_cache_free(cache);
    arca_dcap_collateral_free(&col);
    arca_buf_free(&b);
}

static void test_flip_regions_sgx(void **state)
{
    (void)state;
    /* v3: body at 48, signature data at 436: sig 0, key 64, QE report 128, QE report sig 512,
     * auth size 576, auth data 578 (32 bytes), cert type 610, cert size 612, cert data 616. */
    static const struct flip f[] = {
        {"header (user data)", 30, ARCA_ERR_SIGNATURE, "quote signature does not verify"},
        {"header (QE vendor ID)", 12, ARCA_ERR_UNSUPPORTED, "QE vendor ID"},
        {"body (MRENCLAVE)", 112, ARCA_ERR_SIGNATURE, "quote signature does not verify"},
        {"body (REPORTDATA)", 400, ARCA_ERR_SIGNATURE, "quote signature does not verify"},
        {"quote signature", 436 + 10, ARCA_ERR_SIGNATURE, "quote signature does not verify"},
        {"attestation key", 436 + 64 + 40, ARCA_ERR_SIGNATURE, "attestation key"},
        {"QE report (MRSIGNER)", 436 + 128 + 128, ARCA_ERR_SIGNATURE,
         "QE report signature does not verify"},
        {"QE report (REPORTDATA)", 436 + 128 + 320, ARCA_ERR_SIGNATURE,
         "QE report data does not bind"},
        {"QE report signature", 436 + 512 + 7, ARCA_ERR_SIGNATURE,
         "QE report signature does not verify"},
        {"QE auth data", 436 + 578 + 3, ARCA_ERR_SIGNATURE, "QE report data does not bind"},
        {"certification data type", 436 + 610, ARCA_ERR_UNSUPPORTED, "certification data type"},
        {"certification data (PCK leaf)", 436 + 616 + 600, ARCA_ERR_CERT, "PCK certificate chain"},
    };
    run_flips("phala-dcap-qvl/sgx_quote", "phala-dcap-qvl/sgx_quote_collateral.json",
              "2025-07-01T00:00:00Z", f, sizeof f / sizeof f[0]);
}

static void test_flip_regions_tdx(void **state)
{
    (void)state;
    /* v4 TDX: body at 48 (584), signature data at 636: sig, key, type 6 header at 764, QE report
     * at 770, its signature at 1154, auth size 1218, auth data 1220. */
    static const struct flip f[] = {
        {"header", 40, ARCA_ERR_SIGNATURE, "quote signature does not verify"},
        {"body (MRTD)", 48 + 136 + 5, ARCA_ERR_SIGNATURE, "quote signature does not verify"},
        {"body (RTMR3)", 48 + 472, ARCA_ERR_SIGNATURE, "quote signature does not verify"},
        {"quote signature", 636 + 33, ARCA_ERR_SIGNATURE, "quote signature does not verify"},
        {"attestation key", 636 + 64 + 1, ARCA_ERR_SIGNATURE, "attestation key"},
        {"QE report", 770 + 64, ARCA_ERR_SIGNATURE, "QE report signature does not verify"},
        {"QE report signature", 1154 + 40, ARCA_ERR_SIGNATURE,
         "QE report signature does not verify"},
        {"QE auth data", 1220 + 31, ARCA_ERR_SIGNATURE, "QE report data does not bind"},
    };
    run_flips("phala-dcap-qvl/tdx_quote", "phala-dcap-qvl/tdx_quote_collateral.json",
              "2025-07-01T00:00:00Z", f, sizeof f / sizeof f[0]);
}

/* Flips one byte inside a signed collateral document (a digit of tcbEvaluationDataNumber). */
static void flip_json(struct arca_dcap_signed_json *s)
{
    char *p = strstr(s->json, "\"tcbEvaluationDataNumber\":");
    assert_non_null(p);
    p += strlen("\"tcbEvaluationDataNumber\":");
    *p = *p == '1' ? '2' : '1';
}

static void test_flip_collateral(void **state)
{
    (void)state;
    struct arca_buf b = load("phala-dcap-qvl/sgx_quote");
    struct arca_dcap_collateral col;
    struct arca_claims c;
    int64_t t = at("2025-07-01T00:00:00Z");

    load_collateral(&col, "phala-dcap-qvl/sgx_quote_collateral.json");
    flip_json(&col.tcb_info);
    assert_err(arca_dcap_verify(b.data, b.len, &col, NULL, t, &c, NULL), ARCA_ERR_SIGNATURE,
               "TCB Info signature does not verify");
    arca_dcap_collateral_free(&col);

    load_collateral(&col, "phala-dcap-qvl/sgx_quote_collateral.json");
    flip_json(&col.qe_identity);
    assert_err(arca_dcap_verify(b.data, b.len, &col, NULL, t, &c, NULL), ARCA_ERR_SIGNATURE,
               "QE Identity signature does not verify");
    arca_dcap_collateral_free(&col);

    /* A signature byte, too. */
    load_collateral(&col, "phala-dcap-qvl/sgx_quote_collateral.json");
    col.tcb_info.signature[5] ^= 1;
    assert_err(arca_dcap_verify(b.data, b.len, &col, NULL, t, &c, NULL), ARCA_ERR_SIGNATURE,
               "TCB Info signature does not verify");
    arca_dcap_collateral_free(&col);

    /* Collateral of another quote type / platform. */
    load_collateral(&col, "phala-dcap-qvl/tdx_quote_collateral.json");
    assert_err(arca_dcap_verify(b.data, b.len, &col, NULL, t, &c, NULL), ARCA_ERR_CERT,
               "PCK CRL is not signed");
    arca_dcap_collateral_free(&col);
    arca_buf_free(&b);
}

/* Genuine collateral of another platform: every signature verifies, the FMSPC does not match. */
static void test_collateral_of_other_platform(void **state)
{
    (void)state;
    struct arca_buf b = load("phala-dcap-qvl/tdx_quote");
    struct arca_dcap_collateral col;
    struct arca_claims c;
    load_collateral(&col, "phala-dcap-qvl/tdx_quote_outdated_collateral.json");
    assert_err(arca_dcap_verify(b.data, b.len, &col, NULL, at("2026-03-01T00:00:00Z"), &c, NULL),
               ARCA_ERR_CONFLICT,
               "TCB Info is for FMSPC 90c06f000000, the PCK certificate says b0c06f000000");
    arca_dcap_collateral_free(&col);
    arca_buf_free(&b);
}

static void test_collateral_window(void **state)
{
    (void)state;
    struct arca_buf b = load("phala-dcap-qvl/sgx_quote");
    struct arca_dcap_collateral col;
    struct arca_claims c;
    load_collateral(&col, "phala-dcap-qvl/sgx_quote_collateral.json");
    /* After the CRLs' and documents' nextUpdate. */
    assert_err(arca_dcap_verify(b.data, b.len, &col, NULL, at("2025-07-20T00:00:00Z"), &c, NULL),
               ARCA_ERR_EXPIRED, "PCK CRL is valid from 2025-06-19T10:23:18Z until");
    /* Between the PCK CRL's thisUpdate and the TCB Info's issueDate. */
    assert_err(arca_dcap_verify(b.data, b.len, &col, NULL, at("2025-06-19T10:30:00Z"), &c, NULL),
               ARCA_ERR_EXPIRED, "TCB Info is valid from 2025-06-19T10:56:11Z");
    /* Without CRLs, QE Identity expiry is reached first (2025-07-19T10:01:18Z). */
    arca_x509_crl_free(col.pck_crl);
    arca_x509_crl_free(col.root_crl);
    col.pck_crl = col.root_crl = NULL;
    struct arca_dcap_opts o = {.allow_missing_crls = true};
    assert_err(arca_dcap_verify(b.data, b.len, &col, &o, at("2025-07-19T10:05:00Z"), &c, NULL),
               ARCA_ERR_EXPIRED, "QE Identity is valid from");
    arca_dcap_collateral_free(&col);
    arca_buf_free(&b);
}

static void test_wrong_root(void **state)
{
    (void)state;
    struct arca_buf b = load("phala-dcap-qvl/sgx_quote");
    struct arca_dcap_collateral col;
    struct arca_claims c;
    struct arca_key *k;
    struct arca_x509 *root;
    struct arca_x509_params p = {.common_name = "Intel SGX Root CA",
                                 .organization = "Intel Corporation",
                                 .is_ca = true,
                                 .path_len = -1,
                                 .not_before = at("2018-01-01T00:00:00Z"),
                                 .not_after = at("2049-01-01T00:00:00Z")};
    assert_int_equal(arca_key_generate(ARCA_KEY_P256, &k), 0);
    assert_int_equal(arca_x509_build(&p, k, NULL, NULL, &root), 0);
    load_collateral(&col, "phala-dcap-qvl/sgx_quote_collateral.json");
    struct arca_dcap_opts o = {.root = root};
    /* The Root CA CRL is the first thing checked against the (wrong) root. */
    assert_err(arca_dcap_verify(b.data, b.len, &col, &o, at("2025-07-01T00:00:00Z"), &c, NULL),
               ARCA_ERR_CERT, "Root CA CRL is not signed by the Intel SGX Root CA");
    /* Without CRLs the PCK chain itself fails against it. */
    arca_x509_crl_free(col.pck_crl);
    arca_x509_crl_free(col.root_crl);
    col.pck_crl = col.root_crl = NULL;
    o.allow_missing_crls = true;
    assert_err(arca_dcap_verify(b.data, b.len, &col, &o, at("2025-07-01T00:00:00Z"), &c, NULL),
               ARCA_ERR_CERT, "PCK certificate chain");
    arca_dcap_collateral_free(&col);
    arca_x509_free(root);
    arca_key_free(k);
    arca_buf_free(&b);
}

/*
 * A revoked PCK: our own root -> CA -> leaf tree, the leaf listed in a CRL of the CA, spliced
 * into the v3 quote's certification data (the quote signature and QE binding do not cover it).
 */
static void test_revoked_pck(void **state)
{
    (void)state;
    struct arca_buf b = load("phala-dcap-qvl/sgx_quote");
    struct arca_key *kr, *kc, *kl;
    struct arca_x509 *root, *ca, *leaf;
    struct arca_x509_crl *rcrl, *ccrl, *ccrl_empty;
    int64_t t = at("2025-07-01T00:00:00Z");
    struct arca_x509_params pr = {.common_name = "Test SGX Root CA",
                                  .is_ca = true,
                                  .path_len = -1,
                                  .not_before = t - 86400,
                                  .not_after = t + 86400 * 365};
    struct arca_x509_params pc = pr, pl = pr;
    pc.common_name = "Test SGX PCK Platform CA";
    pc.path_len = 0;
    pl.common_name = "Test SGX PCK Certificate";
    pl.is_ca = false;
    assert_int_equal(arca_key_generate(ARCA_KEY_P256, &kr), 0);
    assert_int_equal(arca_key_generate(ARCA_KEY_P256, &kc), 0);
    assert_int_equal(arca_key_generate(ARCA_KEY_P256, &kl), 0);
    assert_int_equal(arca_x509_build(&pr, kr, NULL, NULL, &root), 0);
    assert_int_equal(arca_x509_build(&pc, kc, root, kr, &ca), 0);
    assert_int_equal(arca_x509_build(&pl, kl, ca, kc, &leaf), 0);
    const struct arca_x509 *revoked[] = {leaf};
    assert_int_equal(arca_x509_crl_build(root, kr, NULL, 0, t - 3600, t + 3600, &rcrl), 0);
    assert_int_equal(arca_x509_crl_build(ca, kc, revoked, 1, t - 3600, t + 3600, &ccrl), 0);
    assert_int_equal(arca_x509_crl_build(ca, kc, NULL, 0, t - 3600, t + 3600, &ccrl_empty), 0);

    /* Rebuild the quote with our chain as certification data. */
    struct arca_buf pem, q;
    arca_buf_init(&pem, 0);
    arca_buf_init(&q, 0);
    assert_int_equal(arca_x509_to_pem(leaf, &pem), 0);
    assert_int_equal(arca_x509_to_pem(ca, &pem), 0);
    assert_int_equal(arca_x509_to_pem(root, &pem), 0);
    const size_t cert_off = 436 + 616;
    /* header+body, sig length, [sig .. cert type], cert size, cert data */
    assert_int_equal(arca_buf_put(&q, b.data, 432), 0);
    assert_int_equal(arca_buf_put_u32le(&q, (uint32_t)(cert_off - 436 + pem.len)), 0);
    assert_int_equal(arca_buf_put(&q, b.data + 436, cert_off - 4 - 436), 0);
    assert_int_equal(arca_buf_put_u32le(&q, (uint32_t)pem.len), 0);
    assert_int_equal(arca_buf_put(&q, pem.data, pem.len), 0);

    struct arca_dcap_collateral col;
    struct arca_claims c;
    struct arca_dcap_opts o = {.root = root};
    load_collateral(&col, "phala-dcap-qvl/sgx_quote_collateral.json");
    arca_x509_crl_free(col.root_crl);
    arca_x509_crl_free(col.pck_crl);
    col.root_crl = rcrl;
    col.pck_crl = ccrl;
    assert_err(arca_dcap_verify(q.data, q.len, &col, &o, t, &c, NULL), ARCA_ERR_REVOKED,
               "PCK certificate chain");
    /* Control: the same tree without the revocation passes the chain and fails later, at the
     * PCK extension our test leaf lacks. */
    col.pck_crl = ccrl_empty;
    assert_err(arca_dcap_verify(q.data, q.len, &col, &o, t, &c, NULL), ARCA_ERR_NOT_FOUND,
               "no SGX extension");
    /* The same through a cache. */
    struct arca_dcap_cache *cache;
    assert_int_equal(arca_dcap_cache_new(0, &cache), 0);
    o.cache = cache;
    assert_err(arca_dcap_verify(q.data, q.len, &col, &o, t, &c, NULL), ARCA_ERR_NOT_FOUND,
               "no SGX extension");
    col.pck_crl = ccrl;
    assert_err(arca_dcap_verify(q.data, q.len, &col, &o, t, &c, NULL), ARCA_ERR_REVOKED,
               "PCK certificate chain");
    col.pck_crl = ccrl_empty;
    arca_dcap_cache_free(cache);
    arca_x509_crl_free(ccrl);
    arca_dcap_collateral_free(&col);
    arca_buf_free(&pem);
    arca_buf_free(&q);
    arca_x509_free(leaf);
    arca_x509_free(ca);
    arca_x509_free(root);
    arca_key_free(kl);
    arca_key_free(kc);
    arca_key_free(kr);
    arca_buf_free(&b);
}

static void test_cache(void **state)
{
    (void)state;
    struct arca_buf b = load("phala-dcap-qvl/sgx_quote");
    struct arca_dcap_collateral col;
    struct arca_claims c0, c;
    struct arca_dcap_report r0, r;
    struct arca_dcap_cache *cache;
    uint64_t hits, misses;
    int64_t t = at("2025-07-01T00:00:00Z");

    load_collateral(&col, "phala-dcap-qvl/sgx_quote_collateral.json");
    assert_int_equal(arca_dcap_cache_new(4, &cache), 0);
    struct arca_dcap_opts o = {.cache = cache};
    assert_int_equal(arca_dcap_verify(b.data, b.len, &col, NULL, t, &c0, &r0), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(arca_dcap_verify(b.data, b.len, &col, &o, t, &c, &r), 0);
        assert_memory_equal(&c, &c0, sizeof c);
        assert_memory_equal(&r, &r0, sizeof r);
    }
    arca_dcap_cache_stats(cache, &hits, &misses);
    assert_int_equal(misses, 4); /* PCK chain, TCB Info, QE Identity, attestation key */
    assert_int_equal(hits, 8);

    /* The cached attestation key saves parsing it, not checking with it: a changed body
     * still fails the quote signature. */
    struct arca_buf bad;
    arca_buf_init(&bad, 0);
    assert_int_equal(arca_buf_put(&bad, b.data, b.len), 0);
    bad.data[100] ^= 1; /* in the report body, under the quote signature */
    assert_int_equal(arca_dcap_verify(bad.data, bad.len, &col, &o, t, &c, &r), ARCA_ERR_SIGNATURE);
    arca_buf_free(&bad);

    /* A cached entry does not outlive its window: after the CRLs expire it is verified again. */
    assert_err(arca_dcap_verify(b.data, b.len, &col, &o, at("2025-07-20T00:00:00Z"), &c, NULL),
               ARCA_ERR_EXPIRED, "PCK CRL is valid from");
    /* Changed collateral bytes change the key. */
    char *p = strstr(col.tcb_info.json, "\"tcbEvaluationDataNumber\":");
    p += strlen("\"tcbEvaluationDataNumber\":");
    *p = '2';
    assert_err(arca_dcap_verify(b.data, b.len, &col, &o, t, &c, NULL), ARCA_ERR_SIGNATURE,
               "TCB Info signature does not verify");
    *p = '1';
    assert_int_equal(arca_dcap_verify(b.data, b.len, &col, &o, t, &c, NULL), 0);
    /* Another PCK CRL (here one of the Platform CA) changes the key of the warm PCK entry. */
    struct arca_x509_crl *saved = col.pck_crl;
    struct arca_buf crl = load("google-go-tdx-guest/pckcrl");
    assert_int_equal(arca_x509_crl_parse_any(crl.data, crl.len, &col.pck_crl), 0);
    assert_err(arca_dcap_verify(b.data, b.len, &col, &o, t, &c, NULL), ARCA_ERR_CERT,
               "PCK CRL is not signed");
    arca_x509_crl_free(col.pck_crl);
    col.pck_crl = saved;
    arca_buf_free(&crl);
    /* Another trust anchor: another key, so the cached chain does not apply. */
    struct arca_key *k;
    struct arca_x509 *root;
    struct arca_x509_params pr = {.common_name = "Intel SGX Root CA",
                                  .is_ca = true,
                                  .path_len = -1,
                                  .not_before = t - 86400,
                                  .not_after = t + 86400};
    assert_int_equal(arca_key_generate(ARCA_KEY_P256, &k), 0);
    assert_int_equal(arca_x509_build(&pr, k, NULL, NULL, &root), 0);
    o.root = root;
    assert_err(arca_dcap_verify(b.data, b.len, &col, &o, t, &c, NULL), ARCA_ERR_CERT,
               "Root CA CRL is not signed");
    arca_x509_free(root);
    arca_key_free(k);
    arca_dcap_cache_free(cache);
    arca_dcap_collateral_free(&col);
    arca_buf_free(&b);
}

struct thread_arg {
    const struct arca_buf *quote;
    const struct arca_dcap_collateral *col;
    struct arca_dcap_cache *cache;
    int64_t t;
    int failures;
};

static void *verify_loop(void *p)
{
    struct thread_arg *a = p;
    struct arca_dcap_opts o = {.cache = a->cache};
    struct arca_claims c;
    for (int i = 0; i < 15; i++)
        if (arca_dcap_verify(a->quote->data, a->quote->len, a->col, &o, a->t, &c, NULL) != 0 ||
            c.tcb_status != ARCA_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED)
            a->failures++;
    return NULL;
}

/* Threads sharing a cache smaller than the working set (3 entries), so entries are evicted and
 * replaced while others read them. */
static void test_cache_threads(void **state)
{
    (void)state;
    struct arca_buf b = load("phala-dcap-qvl/sgx_quote");
    struct arca_dcap_collateral col;
    struct arca_dcap_cache *cache;
    pthread_t th[4];
    struct thread_arg a[4];
    load_collateral(&col, "phala-dcap-qvl/sgx_quote_collateral.json");
    assert_int_equal(arca_dcap_cache_new(2, &cache), 0);
    for (int i = 0; i < 4; i++) {
        a[i] = (struct thread_arg){&b, &col, cache, at("2025-07-01T00:00:00Z"), 0};
        assert_int_equal(pthread_create(&th[i], NULL, verify_loop, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(a[i].failures, 0);
    }
    arca_dcap_cache_free(cache);
    arca_dcap_collateral_free(&col);
    arca_buf_free(&b);
}

static void test_collateral_loading(void **state)
{
    (void)state;
    /* The raw-member scanner: test_evidence_signed_json.c. */
    struct arca_dcap_collateral col;
    arca_dcap_collateral_init(&col);
    assert_err(arca_dcap_collateral_load_bytes(&col, "{\"tcbInfo\":{},\"signature\":\"00\"}", 31,
                                               "x.json"),
               ARCA_ERR_FORMAT, "x.json");
    assert_err(arca_dcap_collateral_load_combined(&col, "{}", 2), ARCA_ERR_FORMAT, "none of");
    assert_null(col.tcb_info.json);
    arca_dcap_collateral_free(&col);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_sgx_v3),
        cmocka_unit_test(test_parse_tdx_v4_and_v5),
        cmocka_unit_test(test_parse_others),
        cmocka_unit_test(test_parse_sgx_v4_layout),
        cmocka_unit_test(test_parse_rejects_truncation),
        cmocka_unit_test(test_pck_extensions),
        cmocka_unit_test(test_verify_sgx_phala),
        cmocka_unit_test(test_verify_tdx_phala),
        cmocka_unit_test(test_verify_tdx_outdated_no_level),
        cmocka_unit_test(test_verify_google_spr_no_level),
        cmocka_unit_test(test_verify_google_v5),
        cmocka_unit_test(test_verify_coco_quote6),
        cmocka_unit_test(test_flip_regions_sgx),
        cmocka_unit_test(test_flip_regions_tdx),
        cmocka_unit_test(test_flip_collateral),
        cmocka_unit_test(test_collateral_of_other_platform),
        cmocka_unit_test(test_collateral_window),
        cmocka_unit_test(test_wrong_root),
        cmocka_unit_test(test_revoked_pck),
        cmocka_unit_test(test_cache),
        cmocka_unit_test(test_cache_threads),
        cmocka_unit_test(test_collateral_loading),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
