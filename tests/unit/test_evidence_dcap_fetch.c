/* PCS collateral cache: fresh entries served without the network, stale ones kept serving when
 * the service is unreachable, nothing cached + unreachable = ARCA_ERR_NETWORK. Files and a
 * refused loopback port only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/log.h"
#include "base/time.h"
#include "evidence/collateral.h"
#include "evidence/collateral_fetch.h"

static const uint8_t fmspc[6] = {0x00, 0xa0, 0x67, 0x11, 0x00, 0x00};

static int64_t at(const char *s)
{
    int64_t t;
    assert_int_equal(arca_time_parse_rfc3339(s, &t), 0);
    return t;
}

static char dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/arca-test-pcs-XXXXXX");
    assert_non_null(mkdtemp(dir));
    arca_log_set_level(ARCA_LOG_ERROR);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void put_cache(const struct arca_pcs *pcs, const char *content, size_t n)
{
    struct arca_buf p;
    arca_buf_init(&p, 0);
    assert_int_equal(arca_pcs_cache_path(pcs, false, fmspc, "processor", &p), 0);
    FILE *f = fopen(arca_buf_cstr(&p), "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(content, 1, n, f), n);
    fclose(f);
    arca_buf_free(&p);
}

static void test_cache_path(void **state)
{
    (void)state;
    struct arca_pcs pcs = {.cache_dir = "/c"};
    struct arca_buf p;
    arca_buf_init(&p, 0);
    assert_int_equal(arca_pcs_cache_path(&pcs, true, fmspc, "platform", &p), 0);
    assert_string_equal(arca_buf_cstr(&p), "/c/tdx-00a067110000-platform.json");
    assert_int_equal(arca_pcs_cache_path(&pcs, true, fmspc, "evil/../x", &p), ARCA_ERR_INVALID_ARG);
    arca_buf_free(&p);
}

static void test_cache_fresh_stale_missing(void **state)
{
    (void)state;
    /* Port 1 on loopback: connection refused at once. */
    struct arca_pcs pcs = {.base_url = "http://127.0.0.1:1", .cache_dir = dir, .timeout_secs = 5};
    struct arca_dcap_collateral col;
    struct arca_buf json;
    int64_t expiry;

    arca_dcap_collateral_init(&col);
    /* Nothing cached, service unreachable. */
    int rc =
        arca_pcs_collateral_get(&pcs, false, fmspc, "processor", at("2025-07-01T00:00:00Z"), &col);
    if (rc != ARCA_ERR_NETWORK || !strstr(arca_err_detail(), "127.0.0.1:1"))
        fail_msg("got %d %s", rc, arca_err_detail());
    assert_null(col.tcb_info.json);

    arca_buf_init(&json, 0);
    assert_int_equal(arca_file_read(ARCA_TESTVECTORS "/phala-dcap-qvl/sgx_quote_collateral.json",
                                    1 << 20, &json),
                     0);
    put_cache(&pcs, (const char *)json.data, json.len);

    /* Fresh: served from the cache. */
    assert_int_equal(
        arca_pcs_collateral_get(&pcs, false, fmspc, "processor", at("2025-07-01T00:00:00Z"), &col),
        0);
    assert_non_null(col.tcb_info.json);
    assert_non_null(col.pck_crl);
    assert_int_equal(arca_dcap_collateral_expiry(&col, &expiry), 0);
    assert_int_equal(expiry, at("2025-07-19T10:01:18Z"));
    arca_dcap_collateral_free(&col);

    /* Inside the refresh margin (and even past expiry) with the service down: still served. */
    assert_int_equal(
        arca_pcs_collateral_get(&pcs, false, fmspc, "processor", at("2025-07-19T00:00:00Z"), &col),
        0);
    assert_non_null(col.qe_identity.json);
    arca_dcap_collateral_free(&col);
    assert_int_equal(
        arca_pcs_collateral_get(&pcs, false, fmspc, "processor", at("2025-08-01T00:00:00Z"), &col),
        0);
    arca_dcap_collateral_free(&col);

    /* A corrupt entry counts as absent. */
    put_cache(&pcs, "{\"tcb_info\": 5}", 15);
    assert_int_equal(
        arca_pcs_collateral_get(&pcs, false, fmspc, "processor", at("2025-07-01T00:00:00Z"), &col),
        ARCA_ERR_NETWORK);
    arca_buf_free(&json);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache_path),
        cmocka_unit_test(test_cache_fresh_stale_missing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
