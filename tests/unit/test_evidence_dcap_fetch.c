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

#include "test_util.h"
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include "base/buf.h"
#include "base/enc.h"
#include "base/err.h"
#include "base/log.h"
#include "base/time.h"
#include "evidence/collateral.h"
#include "evidence/collateral_fetch.h"
#include "evidence/dcap_verify.h"

static const uint8_t fmspc[6] = {0x00, 0xa0, 0x67, 0x11, 0x00, 0x00};

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

/* ---- a loopback PCS: answers the four collateral requests from the vector's pieces -------- */

struct pcs_server {
    int fd;
    int port;
    int status; /* HTTP status for every answer (200, or 429 to test rate limiting) */
    int requests;
    pthread_t th;
    char *tcb_body, *qe_body, *chain_hdr, *pck_chain_hdr, *root_crl_hex;
    struct arca_buf pck_crl_der;
};

static void answer(int c, int status, const char *hdr_name, const char *hdr_val, const void *body,
                   size_t n)
{
    char head[16384];
    int k = snprintf(head, sizeof head,
                     "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n", status, n);
    if (hdr_name && hdr_val)
        k += snprintf(head + k, sizeof head - (size_t)k, "%s: %s\r\n", hdr_name, hdr_val);
    k += snprintf(head + k, sizeof head - (size_t)k, "\r\n");
    if (write(c, head, (size_t)k) < 0 || (n && write(c, body, n) < 0))
        return;
}

static void *serve(void *p)
{
    struct pcs_server *s = p;
    for (;;) {
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        char req[4096];
        ssize_t got = read(c, req, sizeof req - 1);
        if (got <= 0) {
            close(c);
            continue;
        }
        req[got] = 0;
        if (strncmp(req, "GET /quit", 9) == 0) {
            close(c);
            return NULL;
        }
        s->requests++;
        if (s->status != 200)
            answer(c, s->status, NULL, NULL, "", 0);
        else if (strstr(req, "GET /sgx/certification/v4/tcb?fmspc=00a067110000 "))
            answer(c, 200, "TCB-Info-Issuer-Chain", s->chain_hdr, s->tcb_body, strlen(s->tcb_body));
        else if (strstr(req, "GET /sgx/certification/v4/qe/identity "))
            answer(c, 200, "SGX-Enclave-Identity-Issuer-Chain", s->chain_hdr, s->qe_body,
                   strlen(s->qe_body));
        else if (strstr(req, "GET /sgx/certification/v4/pckcrl?ca=processor&encoding=der "))
            answer(c, 200, "SGX-PCK-CRL-Issuer-Chain", s->pck_chain_hdr, s->pck_crl_der.data,
                   s->pck_crl_der.len);
        else if (strstr(req, "GET /sgx/certification/v4/rootcacrl "))
            answer(c, 200, NULL, NULL, s->root_crl_hex, strlen(s->root_crl_hex));
        else
            answer(c, 404, NULL, NULL, "", 0);
        close(c);
    }
}

static char *pcs_body(const char *member, const char *doc, const char *sig)
{
    size_t n = strlen(member) + strlen(doc) + strlen(sig) + 64;
    char *b = malloc(n);
    assert_non_null(b);
    /* The document goes in verbatim: its bytes are what the signature covers. */
    snprintf(b, n, "{\"%s\": %s, \"signature\": \"%s\"}", member, doc, sig);
    return b;
}

static void pcs_start(struct pcs_server *s)
{
    json_error_t e;
    memset(s, 0, sizeof *s);
    s->status = 200;
    json_t *j = json_load_file(ARCA_TESTVECTORS "/phala-dcap-qvl/sgx_quote_collateral.json", 0, &e);
    assert_non_null(j);
#define STR(k) json_string_value(json_object_get(j, k))
    s->tcb_body = pcs_body("tcbInfo", STR("tcb_info"), STR("tcb_info_signature"));
    s->qe_body = pcs_body("enclaveIdentity", STR("qe_identity"), STR("qe_identity_signature"));
    s->chain_hdr = curl_easy_escape(NULL, STR("tcb_info_issuer_chain"), 0);
    s->pck_chain_hdr = curl_easy_escape(NULL, STR("pck_crl_issuer_chain"), 0);
    s->root_crl_hex = strdup(STR("root_ca_crl"));
    arca_buf_init(&s->pck_crl_der, 0);
    const char *hex = STR("pck_crl");
    assert_int_equal(arca_hex_decode(&s->pck_crl_der, hex, strlen(hex)), 0);
#undef STR
    json_decref(j);

    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->fd >= 0);
    assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s->fd, 8), 0);
    assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &alen), 0);
    s->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&s->th, NULL, serve, s), 0);
}

static void pcs_stop(struct pcs_server *s)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/quit", s->port);
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 5L);
    curl_easy_perform(h); /* the server closes without answering */
    curl_easy_cleanup(h);
    pthread_join(s->th, NULL);
    close(s->fd);
    free(s->tcb_body);
    free(s->qe_body);
    curl_free(s->chain_hdr);
    curl_free(s->pck_chain_hdr);
    free(s->root_crl_hex);
    arca_buf_free(&s->pck_crl_der);
}

static void test_fetch_from_loopback_pccs(void **state)
{
    (void)state;
    struct pcs_server srv;
    char base[64], sub[300];
    struct arca_dcap_collateral col;
    struct arca_buf q, path;
    struct arca_claims c;

    pcs_start(&srv);
    snprintf(base, sizeof base, "http://127.0.0.1:%d", srv.port);
    snprintf(sub, sizeof sub, "%s/fetch", dir);
    struct arca_pcs pcs = {.base_url = base, .cache_dir = sub, .timeout_secs = 10};

    /* Rate limited with nothing cached. */
    srv.status = 429;
    arca_dcap_collateral_init(&col);
    int rc =
        arca_pcs_collateral_get(&pcs, false, fmspc, "processor", at("2025-07-01T00:00:00Z"), &col);
    if (rc != ARCA_ERR_LIMIT || !strstr(arca_err_detail(), "429"))
        fail_msg("got %d %s", rc, arca_err_detail());

    /* Fetched, validated, cached (directory created), and it verifies the quote. */
    srv.status = 200;
    rc = arca_pcs_collateral_get(&pcs, false, fmspc, "processor", at("2025-07-01T00:00:00Z"), &col);
    if (rc != 0)
        fail_msg("fetch: %s", arca_err_detail());
    assert_int_equal(srv.requests, 5);
    arca_buf_init(&q, 0);
    assert_int_equal(arca_file_read(ARCA_TESTVECTORS "/phala-dcap-qvl/sgx_quote", 1 << 20, &q), 0);
    rc = arca_dcap_verify(q.data, q.len, &col, NULL, at("2025-07-01T00:00:00Z"), &c, NULL);
    if (rc != 0)
        fail_msg("verify with fetched collateral: %s", arca_err_detail());
    assert_int_equal(c.tcb_status, ARCA_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED);
    arca_dcap_collateral_free(&col);
    arca_buf_init(&path, 0);
    assert_int_equal(arca_pcs_cache_path(&pcs, false, fmspc, "processor", &path), 0);
    struct stat st;
    assert_int_equal(stat(arca_buf_cstr(&path), &st), 0);

    /* Fresh in the cache: no request. */
    assert_int_equal(
        arca_pcs_collateral_get(&pcs, false, fmspc, "processor", at("2025-07-02T00:00:00Z"), &col),
        0);
    assert_int_equal(srv.requests, 5);
    arca_dcap_collateral_free(&col);
    /* Near expiry the service is asked again; rate limited, the cached copy is served. */
    srv.status = 429;
    assert_int_equal(
        arca_pcs_collateral_get(&pcs, false, fmspc, "processor", at("2025-07-18T23:00:00Z"), &col),
        0);
    assert_int_equal(srv.requests, 6);
    assert_non_null(col.tcb_info.json);
    arca_dcap_collateral_free(&col);

    pcs_stop(&srv);
    arca_buf_free(&path);
    arca_buf_free(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache_path),
        cmocka_unit_test(test_cache_fresh_stale_missing),
        cmocka_unit_test(test_fetch_from_loopback_pccs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
