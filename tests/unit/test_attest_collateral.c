/*
 * arcad's collateral configuration: collateral loaded once and shared (read-only) by threads
 * with one verification cache, a clear error for an unreadable --collateral, the PCS fallback
 * through the on-disk cache when the configured collateral is for another platform, and the
 * AMD KDS fallback through a file:// mirror (no network in tests). Prints the warm
 * verification rate (informational: no timed assertion).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "test_util.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/time.h"
#include "attest/verify.h"
#include "evidence/collateral.h"
#include "evidence/collateral_fetch.h"
#include "evidence/dcap_verify.h"
#include "evidence/snp.h"

#define PHALA ARCA_TESTVECTORS "/phala-dcap-qvl/"
#define GSG ARCA_TESTVECTORS "/google-go-sev-guest/"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void rm_rf(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

struct worker_arg {
    const struct arca_attest_verify_cfg *cfg;
    const uint8_t *q;
    size_t n;
    int64_t t;
    int rounds;
    int failures;
};

static void *worker(void *p)
{
    struct worker_arg *w = p;
    for (int i = 0; i < w->rounds; i++) {
        struct arca_claims c;
        if (arca_attest_evidence_verify(w->cfg, ARCA_EVIDENCE_TDX, w->q, w->n, NULL, 0, w->t, &c) <
            0)
            w->failures++;
    }
    return NULL;
}

/* Loaded once, one cache: warm verifications hit it; two threads share both. */
static void test_loaded_once_and_cached(void **state)
{
    (void)state;
    size_t n;
    uint8_t *q = slurp(PHALA "tdx_quote", &n);
    int64_t t = at("2025-07-01T00:00:00Z");
    struct arca_dcap_collateral *col = NULL;
    assert_int_equal(arca_attest_collateral_load(PHALA "tdx_quote_collateral.json", &col), 0);
    struct arca_dcap_cache *cache = NULL;
    assert_int_equal(arca_dcap_cache_new(0, &cache), 0);
    struct arca_attest_verify_cfg cfg = {.sources = {.collateral = col, .dcap = {.cache = cache}}};
    struct arca_claims c;
    int rc = arca_attest_evidence_verify(&cfg, ARCA_EVIDENCE_TDX, q, n, NULL, 0, t, &c);
    if (rc < 0)
        fail_msg("verify: %s", arca_err_detail());
    assert_int_equal(c.type, ARCA_EVIDENCE_TDX);

    const int rounds = 200;
    double t0 = now_s();
    for (int i = 0; i < rounds; i++)
        assert_int_equal(arca_attest_evidence_verify(&cfg, ARCA_EVIDENCE_TDX, q, n, NULL, 0, t, &c),
                         0);
    double warm = rounds / (now_s() - t0);
    uint64_t hits = 0, misses = 0;
    arca_dcap_cache_stats(cache, &hits, &misses);
    assert_true(hits >= (uint64_t)rounds);

    /* The first release's path: collateral read and everything verified on every call. */
    static const char *const path[] = {PHALA "tdx_quote_collateral.json"};
    struct arca_attest_verify_cfg old = {
        .sources = {.collateral_paths = path, .n_collateral_paths = 1}};
    const int cold_rounds = 40;
    t0 = now_s();
    for (int i = 0; i < cold_rounds; i++)
        assert_int_equal(arca_attest_evidence_verify(&old, ARCA_EVIDENCE_TDX, q, n, NULL, 0, t, &c),
                         0);
    double cold = cold_rounds / (now_s() - t0);
    print_message("TDX quote verification: warm (collateral loaded once + cache) %.0f/s, "
                  "per-call load without cache %.0f/s; cache hits %llu misses %llu\n",
                  warm, cold, (unsigned long long)hits, (unsigned long long)misses);

    /* Shared between threads: collateral read-only, the cache locks itself. */
    pthread_t th[2];
    struct worker_arg wa[2];
    for (int i = 0; i < 2; i++) {
        wa[i] = (struct worker_arg){&cfg, q, n, t, 50, 0};
        assert_int_equal(pthread_create(&th[i], NULL, worker, &wa[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(wa[i].failures, 0);
    }
    /* Outside the collateral's window: refused, even with warm cache entries. */
    assert_int_equal(arca_attest_evidence_verify(&cfg, ARCA_EVIDENCE_TDX, q, n, NULL, 0,
                                                 at("2025-09-01T00:00:00Z"), &c),
                     ARCA_ERR_EXPIRED);
    arca_dcap_cache_free(cache);
    arca_attest_collateral_free(col);
    free(q);
}

static void test_load_errors_name_path(void **state)
{
    (void)state;
    struct arca_dcap_collateral *col = NULL;
    assert_true(arca_attest_collateral_load("/nonexistent/arca-collateral", &col) < 0);
    assert_null(col);
    assert_non_null(strstr(arca_err_detail(), "/nonexistent/arca-collateral"));
    /* A file that is no collateral at all. */
    char path[] = "/tmp/arca-col-bad-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "hello", 5), 5);
    close(fd);
    assert_true(arca_attest_collateral_load(path, &col) < 0);
    assert_null(col);
    assert_non_null(strstr(arca_err_detail(), path));
    unlink(path);
    arca_attest_collateral_free(NULL);
}

/* The configured collateral is TDX's (another FMSPC); an SGX quote then takes the PCS path,
 * which the on-disk cache answers (the service itself is unreachable). */
static void test_pcs_fallback_from_cache(void **state)
{
    (void)state;
    char dir[] = "/tmp/arca-col-pcs-XXXXXX";
    assert_non_null(mkdtemp(dir));
    size_t n;
    uint8_t *q = slurp(PHALA "sgx_quote", &n);
    int64_t t = at("2025-07-01T00:00:00Z");
    struct arca_dcap_collateral *col = NULL;
    assert_int_equal(arca_attest_collateral_load(PHALA "tdx_quote_collateral.json", &col), 0);
    struct arca_attest_verify_cfg cfg = {.sources = {.collateral = col,
                                                     .pcs_fetch = true,
                                                     .pcs_url = "http://127.0.0.1:1",
                                                     .pcs_cache_dir = dir}};
    struct arca_claims c;
    /* Nothing cached: the error names the unreachable service. */
    assert_true(arca_attest_evidence_verify(&cfg, ARCA_EVIDENCE_SGX_DCAP, q, n, NULL, 0, t, &c) <
                0);
    if (strstr(arca_err_detail(), "127.0.0.1:1") == NULL)
        fail_msg("expected the PCS error, got: %s", arca_err_detail());

    /* Seed the cache under both PCK CA names. */
    struct arca_buf json, p;
    arca_buf_init(&json, 0);
    arca_buf_init(&p, 0);
    assert_int_equal(arca_file_read(PHALA "sgx_quote_collateral.json", 1 << 20, &json), 0);
    static const uint8_t fmspc[6] = {0x00, 0xa0, 0x67, 0x11, 0x00, 0x00};
    struct arca_pcs pcs = {.cache_dir = dir};
    const char *cas[] = {"processor", "platform"};
    for (int i = 0; i < 2; i++) {
        arca_buf_reset(&p);
        assert_int_equal(arca_pcs_cache_path(&pcs, false, fmspc, cas[i], &p), 0);
        FILE *f = fopen(arca_buf_cstr(&p), "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(json.data, 1, json.len, f), json.len);
        fclose(f);
    }
    int rc = arca_attest_evidence_verify(&cfg, ARCA_EVIDENCE_SGX_DCAP, q, n, NULL, 0, t, &c);
    if (rc < 0)
        fail_msg("verify through the PCS cache: %s", arca_err_detail());
    assert_int_equal(c.type, ARCA_EVIDENCE_SGX_DCAP);
    /* Without --pcs-url the mismatch is the answer. */
    cfg.sources.pcs_fetch = false;
    cfg.sources.pcs_url = NULL;
    assert_true(arca_attest_evidence_verify(&cfg, ARCA_EVIDENCE_SGX_DCAP, q, n, NULL, 0, t, &c) <
                0);
    arca_buf_free(&p);
    arca_buf_free(&json);
    arca_attest_collateral_free(col);
    free(q);
    rm_rf(dir);
}

/* No certificate table, no --snp-certs: the VCEK and chain come from a KDS mirror (file://),
 * then from the cache once the mirror is gone. */
static void test_kds_fallback_file_mirror(void **state)
{
    (void)state;
    char dir[] = "/tmp/arca-col-kds-XXXXXX";
    assert_non_null(mkdtemp(dir));
    size_t rn;
    uint8_t *r = slurp(GSG "attestation.bin", &rn);
    struct arca_snp_report rep;
    assert_int_equal(arca_snp_report_parse(r, rn, &rep), 0);
    struct arca_buf vp;
    arca_buf_init(&vp, 0);
    assert_int_equal(arca_snp_kds_vcek_path(ARCA_SNP_PRODUCT_MILAN, &rep, &vp), 0);
    char *qm = strchr((char *)arca_buf_cstr(&vp), '?');
    if (qm != NULL)
        *qm = '\0'; /* file:// URLs drop the query */
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "mkdir -p %s/kds/vcek/v1/Milan && cp %s %s/kds/vcek/v1/Milan/cert_chain && "
             "cp %s '%s/kds%s'",
             dir, GSG "milan.testcer", dir, GSG "vcek.testcer", dir, (const char *)vp.data);
    assert_int_equal(system(cmd), 0);
    char base[512], cache[512];
    snprintf(base, sizeof(base), "file://%s/kds", dir);
    snprintf(cache, sizeof(cache), "%s/cache", dir);
    struct arca_attest_verify_cfg cfg = {
        .sources = {.kds_fetch = true, .kds_url = base, .kds_cache_dir = cache}};
    struct arca_claims c;
    int64_t t = at("2023-01-01T00:00:00Z");
    int rc = arca_attest_evidence_verify(&cfg, ARCA_EVIDENCE_SNP, r, rn, NULL, 0, t, &c);
    if (rc < 0)
        fail_msg("verify with KDS mirror: %s", arca_err_detail());
    assert_int_equal(c.type, ARCA_EVIDENCE_SNP);
    snprintf(cmd, sizeof(cmd), "rm -rf %s/kds", dir);
    assert_int_equal(system(cmd), 0);
    rc = arca_attest_evidence_verify(&cfg, ARCA_EVIDENCE_SNP, r, rn, NULL, 0, t, &c);
    if (rc < 0)
        fail_msg("verify from the KDS cache: %s", arca_err_detail());
    /* Neither mirror nor cache: the error names the KDS. */
    snprintf(cache, sizeof(cache), "%s/empty-cache", dir);
    assert_true(arca_attest_evidence_verify(&cfg, ARCA_EVIDENCE_SNP, r, rn, NULL, 0, t, &c) < 0);
    assert_non_null(strstr(arca_err_detail(), base));
    arca_buf_free(&vp);
    free(r);
    rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loaded_once_and_cached),
        cmocka_unit_test(test_load_errors_name_path),
        cmocka_unit_test(test_pcs_fallback_from_cache),
        cmocka_unit_test(test_kds_fallback_file_mirror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
