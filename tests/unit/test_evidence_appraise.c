/* Appraisal: status -> tolerance mapping, advisories, DEBUG, and variant matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "test_util.h"

#include "base/buf.h"
#include "base/err.h"
#include "base/time.h"
#include "evidence/appraise.h"
#include "evidence/collateral.h"
#include "evidence/dcap_quote.h"
#include "evidence/dcap_verify.h"

#define TV ARCA_TESTVECTORS

static void verified(const char *quote, const char *collateral, const char *when,
                     struct arca_claims *c)
{
    char path[512];
    struct arca_buf b;
    struct arca_dcap_collateral col;
    int64_t t;
    snprintf(path, sizeof path, "%s/%s", TV, quote);
    arca_buf_init(&b, 0);
    assert_int_equal(arca_file_read(path, 1 << 20, &b), 0);
    snprintf(path, sizeof path, "%s/%s", TV, collateral);
    arca_dcap_collateral_init(&col);
    assert_int_equal(arca_dcap_collateral_load_path(&col, path), 0);
    assert_int_equal(arca_time_parse_rfc3339(when, &t), 0);
    if (arca_dcap_verify(b.data, b.len, &col, NULL, t, c, NULL) != 0)
        fail_msg("%s", arca_err_detail());
    arca_dcap_collateral_free(&col);
    arca_buf_free(&b);
}

/* Claims of a parsed (unverified) quote, for DEBUG tests on vectors without collateral. */
static void parsed(const char *quote, struct arca_claims *c)
{
    char path[512];
    struct arca_buf b;
    struct arca_dcap_quote q;
    snprintf(path, sizeof path, "%s/%s", TV, quote);
    arca_buf_init(&b, 0);
    assert_int_equal(arca_file_read(path, 1 << 20, &b), 0);
    assert_int_equal(arca_dcap_quote_parse(b.data, b.len, &q), 0);
    memset(c, 0, sizeof *c);
    arca_dcap_quote_claims(&q, c);
    c->tcb_status = ARCA_TCB_UP_TO_DATE;
    arca_buf_free(&b);
}

static struct arca_att_variant mrenclave_variant(const uint8_t *m, struct arca_digest32 *slot)
{
    struct arca_att_variant v;
    memset(&v, 0, sizeof v);
    memcpy(slot->v, m, 32);
    v.mrenclave = slot;
    v.n_mrenclave = 1;
    v.pos.line = 7;
    return v;
}

static void test_sgx_status_and_advisories(void **state)
{
    (void)state;
    struct arca_claims c;
    struct arca_security s;
    struct arca_digest32 d;
    verified("phala-dcap-qvl/sgx_quote", "phala-dcap-qvl/sgx_quote_collateral.json",
             "2025-07-01T00:00:00Z", &c);
    struct arca_att_variant v = mrenclave_variant(c.mrenclave, &d);
    memset(&s, 0, sizeof s);

    /* ConfigurationAndSWHardeningNeeded needs both categories... */
    assert_err(arca_appraise(&c, &s, &v, 1, NULL), ARCA_ERR_POLICY,
               "insecure-configuration software-hardening-needed");
    s.tolerate = ARCA_TOLERATE_SW_HARDENING_NEEDED;
    assert_err(arca_appraise(&c, &s, &v, 1, NULL), ARCA_ERR_POLICY, "needs insecure-configuration");
    s.tolerate |= ARCA_TOLERATE_INSECURE_CONFIGURATION;
    /* ...and every advisory ignored. */
    assert_err(arca_appraise(&c, &s, &v, 1, NULL), ARCA_ERR_POLICY, "INTEL-SA-00289");
    struct arca_str adv[2] = {{.s = (char *)"INTEL-SA-00289", .len = 14},
                              {.s = (char *)"INTEL-SA-00615", .len = 14}};
    s.ignore_advisories = adv;
    s.n_ignore_advisories = 1;
    assert_err(arca_appraise(&c, &s, &v, 1, NULL), ARCA_ERR_POLICY, "INTEL-SA-00615");
    s.n_ignore_advisories = 2;
    size_t m = 99;
    assert_int_equal(arca_appraise(&c, &s, &v, 1, &m), 0);
    assert_int_equal(m, 0);
    /* "*" ignores all. */
    s.n_ignore_advisories = 0;
    s.ignore_all_advisories = true;
    assert_int_equal(arca_appraise(&c, &s, &v, 1, NULL), 0);

    /* Revoked and unknown are never tolerable. */
    s.tolerate = 0xffffffffu;
    c.tcb_status = ARCA_TCB_REVOKED;
    assert_err(arca_appraise(&c, &s, &v, 1, NULL), ARCA_ERR_POLICY, "Revoked is never tolerable");
    c.tcb_status = ARCA_TCB_UNKNOWN;
    assert_err(arca_appraise(&c, &s, &v, 1, NULL), ARCA_ERR_POLICY, "unknown");
    /* OutOfDate -> outdated-tcb. */
    c.tcb_status = ARCA_TCB_OUT_OF_DATE;
    s.tolerate = ARCA_TOLERATE_INSECURE_CONFIGURATION;
    assert_err(arca_appraise(&c, &s, &v, 1, NULL), ARCA_ERR_POLICY, "needs outdated-tcb");
    c.tcb_status = ARCA_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED;
    s.tolerate = ARCA_TOLERATE_OUTDATED_TCB;
    assert_err(arca_appraise(&c, &s, &v, 1, NULL), ARCA_ERR_POLICY, "insecure-configuration");
    /* Shortcut category covers its advisory. */
    c.tcb_status = ARCA_TCB_SW_HARDENING_NEEDED;
    c.advisory_count = 1;
    snprintf(c.advisories[0], sizeof c.advisories[0], "INTEL-SA-00657");
    s.ignore_all_advisories = false;
    s.tolerate = ARCA_TOLERATE_SW_HARDENING_NEEDED;
    assert_err(arca_appraise(&c, &s, &v, 1, NULL), ARCA_ERR_POLICY, "INTEL-SA-00657");
    s.tolerate |= ARCA_TOLERATE_AEPIC_LEAK;
    assert_int_equal(arca_appraise(&c, &s, &v, 1, NULL), 0);
}

static void test_sgx_variants(void **state)
{
    (void)state;
    struct arca_claims c;
    struct arca_security s;
    struct arca_digest32 d[2];
    verified("phala-dcap-qvl/sgx_quote", "phala-dcap-qvl/sgx_quote_collateral.json",
             "2025-07-01T00:00:00Z", &c);
    memset(&s, 0, sizeof s);
    c.tcb_status = ARCA_TCB_UP_TO_DATE; /* focus on matching */

    uint8_t other[32];
    memset(other, 0xab, 32);
    struct arca_att_variant v[3];
    v[0] = mrenclave_variant(other, &d[0]);
    assert_err(arca_appraise(&c, &s, v, 1, NULL), ARCA_ERR_POLICY,
               "variant 1 (line 7): MRENCLAVE 33d8736db756ed4997e04ba358d27833188f1932ff7b1d"
               "156904d3f560452fbb is not listed");
    /* Signer variant with ISVSVN range. */
    memset(&v[1], 0, sizeof v[1]);
    v[1].has_signer = true;
    memcpy(v[1].signer.mrsigner, c.mrsigner, 32);
    v[1].signer.isvprodid = 0;
    v[1].signer.has_isvsvn_min = true;
    v[1].signer.isvsvn_min = 1;
    assert_err(arca_appraise(&c, &s, v, 2, NULL), ARCA_ERR_POLICY, "ISVSVN 0 below isvsvn_min 1");
    v[1].signer.isvsvn_min = 0;
    v[1].signer.has_isvsvn_max = true;
    v[1].signer.isvsvn_max = 3;
    size_t m;
    assert_int_equal(arca_appraise(&c, &s, v, 2, &m), 0);
    assert_int_equal(m, 1);
    v[1].signer.isvprodid = 5;
    assert_err(arca_appraise(&c, &s, v, 2, NULL), ARCA_ERR_POLICY, "ISVPRODID 0, want 5");
    v[1].signer.isvprodid = 0;
    v[1].signer.has_isvsvn = true;
    v[1].signer.isvsvn = 2;
    assert_err(arca_appraise(&c, &s, v, 2, NULL), ARCA_ERR_POLICY, "ISVSVN 0, want 2");
    v[1].signer.mrsigner[0] ^= 1;
    v[1].signer.has_isvsvn = false;
    assert_err(arca_appraise(&c, &s, v, 2, NULL), ARCA_ERR_POLICY, "MRSIGNER differs");
    /* mrenclave AND signer in one variant: both must hold. */
    v[2] = mrenclave_variant(c.mrenclave, &d[1]);
    v[2].has_signer = true;
    v[2].signer = v[1].signer;
    assert_err(arca_appraise(&c, &s, &v[2], 1, NULL), ARCA_ERR_POLICY, "MRSIGNER differs");
    v[2].signer.mrsigner[0] ^= 1;
    assert_int_equal(arca_appraise(&c, &s, &v[2], 1, NULL), 0);
    /* A tdx variant never matches SGX evidence. */
    memset(&v[0], 0, sizeof v[0]);
    v[0].has_tdx = true;
    assert_err(arca_appraise(&c, &s, v, 1, NULL), ARCA_ERR_POLICY, "not an SGX variant");
    assert_err(arca_appraise(&c, &s, v, 0, NULL), ARCA_ERR_POLICY, "no attestation variant");
}

static void test_tdx_variants(void **state)
{
    (void)state;
    struct arca_claims c;
    struct arca_security s;
    struct arca_att_variant v;
    verified("phala-dcap-qvl/tdx_quote", "phala-dcap-qvl/tdx_quote_collateral.json",
             "2025-07-01T00:00:00Z", &c);
    memset(&s, 0, sizeof s);
    memset(&v, 0, sizeof v);
    v.has_tdx = true;
    memcpy(v.tdx.mrtd, c.mrtd, 48);
    for (int i = 0; i < 4; i++) {
        v.tdx.has_rtmr[i] = true;
        memcpy(v.tdx.rtmr[i], c.rtmr[i], 48);
    }
    v.tdx.has_mrconfigid = true; /* all zero in the vector */
    v.tdx.has_mrowner = true;
    assert_int_equal(arca_appraise(&c, &s, &v, 1, NULL), 0);
    v.tdx.rtmr[2][47] ^= 1;
    assert_err(arca_appraise(&c, &s, &v, 1, NULL), ARCA_ERR_POLICY, "RTMR2 differs");
    v.tdx.rtmr[2][47] ^= 1;
    v.tdx.mrowner[0] = 1;
    assert_err(arca_appraise(&c, &s, &v, 1, NULL), ARCA_ERR_POLICY, "MROWNER differs");
    v.tdx.mrowner[0] = 0;
    v.tdx.mrtd[0] ^= 1;
    assert_err(arca_appraise(&c, &s, &v, 1, NULL), ARCA_ERR_POLICY, "MRTD differs");
}

static void test_debug_rejected_unless_tolerated(void **state)
{
    (void)state;
    struct arca_claims c;
    struct arca_security s;
    struct arca_digest32 d;
    memset(&s, 0, sizeof s);

    parsed("coco-trustee/occlum_quote.dat", &c);
    assert_true(c.debug);
    struct arca_att_variant v = mrenclave_variant(c.mrenclave, &d);
    assert_err(arca_appraise(&c, &s, &v, 1, NULL), ARCA_ERR_POLICY,
               "enclave runs in DEBUG mode, which is not tolerated");
    s.tolerate = ARCA_TOLERATE_DEBUG_MODE;
    assert_int_equal(arca_appraise(&c, &s, &v, 1, NULL), 0);

    s.tolerate = 0;
    parsed("coco-trustee/tdx_quote_4.dat", &c);
    assert_true(c.debug);
    memset(&v, 0, sizeof v);
    v.has_tdx = true;
    memcpy(v.tdx.mrtd, c.mrtd, 48);
    assert_err(arca_appraise(&c, &s, &v, 1, NULL), ARCA_ERR_POLICY,
               "TD runs in DEBUG mode, which is not tolerated");
    s.tolerate = ARCA_TOLERATE_DEBUG_MODE;
    assert_int_equal(arca_appraise(&c, &s, &v, 1, NULL), 0);
}

static void test_snp_and_sim(void **state)
{
    (void)state;
    struct arca_claims c;
    struct arca_security s;
    struct arca_att_variant v;
    memset(&c, 0, sizeof c);
    memset(&s, 0, sizeof s);
    memset(&v, 0, sizeof v);
    c.type = ARCA_EVIDENCE_SNP;
    c.tcb_status = ARCA_TCB_UP_TO_DATE;
    memset(c.measurement, 0x11, 48);
    c.reported_tcb = 0x7308000000000003ull; /* bl 3, tee 0, snp 8, ucode 115 */
    v.has_snp = true;
    memset(v.snp.measurement, 0x11, 48);
    v.snp.has_min_tcb = true;
    v.snp.min_tcb = 0x7308000000000003ull;
    assert_int_equal(arca_appraise(&c, &s, &v, 1, NULL), 0);
    v.snp.min_tcb = 0x7309000000000003ull;
    assert_err(arca_appraise(&c, &s, &v, 1, NULL), ARCA_ERR_POLICY, "snp SVN 8 below min_tcb 9");
    v.snp.min_tcb = 0;
    v.snp.has_host_data = true;
    v.snp.host_data[0] = 1;
    assert_err(arca_appraise(&c, &s, &v, 1, NULL), ARCA_ERR_POLICY, "HOST_DATA differs");

    /* Simulated evidence only in simulation mode. */
    memset(&c, 0, sizeof c);
    c.type = ARCA_EVIDENCE_SIM;
    memset(c.mrenclave, 0x22, 32);
    memset(&v, 0, sizeof v);
    v.has_sim = true;
    memset(v.sim_measurement, 0x22, 32);
    assert_err(arca_appraise(&c, &s, &v, 1, NULL), ARCA_ERR_INSECURE, "mode: simulation");
    s.mode = ARCA_ATT_MODE_SIMULATION;
    assert_int_equal(arca_appraise(&c, &s, &v, 1, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgx_status_and_advisories),
        cmocka_unit_test(test_sgx_variants),
        cmocka_unit_test(test_tdx_variants),
        cmocka_unit_test(test_debug_rejected_unless_tolerated),
        cmocka_unit_test(test_snp_and_sim),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
