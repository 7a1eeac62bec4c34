/*
 * AMD Key Distribution Service client (snp.h): VCEKs and cert chains over libcurl, with an
 * on-disk cache.
 *
 * Cache policy: a VCEK is a pure function of (product, chip, REPORTED_TCB), so a cached one is
 * served forever; cert chains (ASK/ASVK + ARK) change only when AMD re-issues them, so they
 * are refreshed after refresh_secs but a stale copy keeps being served when KDS is down or
 * rate-limits (it answers 429 to bursts). Nothing fetched is cached unless it parses as the
 * certificate(s) expected, so a captive portal or error page never poisons the cache. The
 * verifier checks every signature anyway: the cache is about availability, not trust.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/enc.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/log.h"
#include "crypto/crypto.h"
#include "evidence/snp.h"

#define KDS_DEFAULT_URL "https://kdsintf.amd.com"
#define KDS_MAX_BODY ((size_t)1 << 20)
#define KDS_DEFAULT_REFRESH (24 * 3600)

int arca_snp_kds_vcek_path(enum arca_snp_product product, const struct arca_snp_report *r,
                           struct arca_buf *out)
{
    ARCA_ENSURE_REF(r);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(product != ARCA_SNP_PRODUCT_UNKNOWN, ARCA_ERR_INVALID_ARG,
                "snp kds: the product (Milan, Genoa, Turin) must be known to fetch a VCEK");
    ARCA_ENSURE(arca_snp_report_signing_key(r) == ARCA_SNP_KEY_VCEK, ARCA_ERR_INVALID_ARG,
                "snp kds: the report is signed by a VLEK, which KDS does not serve per chip");
    bool zero = true;
    for (size_t i = 0; i < sizeof(r->chip_id); i++)
        zero = zero && r->chip_id[i] == 0;
    ARCA_ENSURE(!zero, ARCA_ERR_INVALID_ARG,
                "snp kds: the report's CHIP_ID is masked (zero): its VCEK cannot be looked up");
    /* Turin VCEKs are indexed by the first 8 bytes of CHIP_ID. */
    size_t idlen = product == ARCA_SNP_PRODUCT_TURIN ? 8 : 64;
    char hwid[129];
    arca_hex_fmt(hwid, r->chip_id, idlen);
    struct arca_snp_tcb t;
    arca_snp_tcb_decode(r->reported_tcb, product, &t);
    size_t mark = out->len;
    int rc;
    if (product == ARCA_SNP_PRODUCT_TURIN)
        rc = arca_buf_printf(
            out, "/vcek/v1/%s/%s?fmcSPL=%u&blSPL=%u&teeSPL=%u&snpSPL=%u&ucodeSPL=%u",
            arca_snp_product_name(product), hwid, t.fmc, t.bootloader, t.tee, t.snp, t.microcode);
    else
        rc = arca_buf_printf(out, "/vcek/v1/%s/%s?blSPL=%u&teeSPL=%u&snpSPL=%u&ucodeSPL=%u",
                             arca_snp_product_name(product), hwid, t.bootloader, t.tee, t.snp,
                             t.microcode);
    if (rc < 0)
        out->len = mark;
    return rc;
}

/* ---- HTTP -------------------------------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    struct arca_buf *b = ud;
    size_t n = size * nmemb;
    if (arca_buf_put(b, p, n) < 0)
        return 0; /* aborts the transfer: body over the limit */
    return n;
}

static int http_get(const struct arca_snp_kds *kds, const char *path, struct arca_buf *body)
{
    pthread_once(&curl_once, curl_init);
    ARCA_ENSURE(curl_init_rc == CURLE_OK, ARCA_ERR_NETWORK, "snp kds: libcurl init failed");
    struct arca_buf url;
    arca_buf_init(&url, 8192);
    int rc = arca_buf_printf(&url, "%s%s", kds->base_url != NULL ? kds->base_url : KDS_DEFAULT_URL,
                             path);
    if (rc < 0) {
        arca_buf_free(&url);
        return rc;
    }
    CURL *h = curl_easy_init();
    if (h == NULL) {
        arca_buf_free(&url);
        ARCA_BAIL(ARCA_ERR_ALLOC, "snp kds: curl_easy_init failed");
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, arca_buf_cstr(&url));
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https,http,file");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, kds->timeout_secs > 0 ? kds->timeout_secs : 20L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "arca/" ARCA_VERSION);
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK) {
        rc = arca_err_set(cc == CURLE_OPERATION_TIMEDOUT ? ARCA_ERR_TIMEOUT : ARCA_ERR_NETWORK,
                          "snp kds: GET %s: %s", arca_buf_cstr(&url),
                          errbuf[0] ? errbuf : curl_easy_strerror(cc));
    } else if (status != 0 && status != 200) {
        rc = arca_err_set(status == 429 ? ARCA_ERR_LIMIT : ARCA_ERR_NETWORK,
                          "snp kds: GET %s: HTTP %ld%s", arca_buf_cstr(&url), status,
                          status == 429 ? " (rate limited)" : "");
    } else {
        rc = 0;
    }
    curl_easy_cleanup(h);
    arca_buf_free(&url);
    return rc;
}

/* ---- cache -------------------------------------------------------------------------------- */

/* Reads a cached file; *mtime gets its modification time. ARCA_ERR_NOT_FOUND if absent. */
static int cache_read(const char *path, struct arca_buf *out, int64_t *mtime)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT
                   ? ARCA_ERR_NOT_FOUND
                   : arca_err_set(ARCA_ERR_IO, "snp kds cache: %s: %s", path, strerror(errno));
    struct stat st;
    int rc = 0;
    ARCA_GUARD_ENSURE(rc, fstat(fd, &st) == 0 && S_ISREG(st.st_mode), out, ARCA_ERR_IO,
                      "snp kds cache: %s is not a regular file", path);
    *mtime = (int64_t)st.st_mtime;
    ARCA_GUARD(rc, arca_fd_read_all(fd, path, out), out);
out:
    close(fd);
    return rc;
}

/* Makes the cache directory on first use; arca_file_write keeps readers from ever seeing half a
 * certificate. */
static int cache_write(const char *dir, const char *path, const void *p, size_t n)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        ARCA_BAIL(ARCA_ERR_IO, "snp kds cache: mkdir %s: %s", dir, strerror(errno));
    int rc = arca_file_write(path, p, n, 0644, 0);
    return rc < 0 ? arca_err_wrap(rc, "snp kds cache") : 0;
}

typedef int (*validate_fn)(const struct arca_buf *body);

static int validate_der_cert(const struct arca_buf *body)
{
    struct arca_x509 *x = NULL;
    int rc = arca_x509_from_der(body->data, body->len, &x);
    arca_x509_free(x);
    return rc < 0 ? arca_err_wrap(ARCA_ERR_NETWORK, "snp kds: answer is not a DER certificate") : 0;
}

static int validate_pem_chain(const struct arca_buf *body)
{
    struct arca_x509 **list = NULL;
    size_t count = 0;
    int rc = arca_x509_list_from_pem(body->data, body->len, &list, &count);
    if (rc < 0)
        return arca_err_wrap(ARCA_ERR_NETWORK, "snp kds: answer is not a PEM certificate chain");
    arca_x509_list_free(list, count);
    return count == 2 ? 0
                      : arca_err_set(ARCA_ERR_NETWORK,
                                     "snp kds: cert_chain has %zu certificates, expected 2", count);
}

/* Serves path from the cache when fresh (max_age < 0: forever), else fetches it; on fetch
 * failure falls back to a stale cached copy. */
static int cached_get(const struct arca_snp_kds *kds, const char *path, const char *cache_name,
                      int64_t max_age, int64_t now, validate_fn validate, struct arca_buf *out)
{
    char file[4096];
    bool have_cache = false;
    struct arca_buf cached, body;
    int64_t mtime = 0;
    int rc;
    arca_buf_init(&cached, KDS_MAX_BODY);
    arca_buf_init(&body, KDS_MAX_BODY);
    if (kds->cache_dir != NULL) {
        ARCA_GUARD_ENSURE(rc,
                          snprintf(file, sizeof(file), "%s/%s", kds->cache_dir, cache_name) <
                              (int)sizeof(file),
                          done, ARCA_ERR_INVALID_ARG, "snp kds cache: path too long");
        rc = cache_read(file, &cached, &mtime);
        if (rc < 0 && rc != ARCA_ERR_NOT_FOUND)
            goto done;
        have_cache = rc == 0 && validate(&cached) == 0;
        if (have_cache && (max_age < 0 || now - mtime < max_age)) {
            rc = arca_buf_put(out, cached.data, cached.len);
            goto done;
        }
    }
    rc = http_get(kds, path, &body);
    if (rc == 0)
        rc = validate(&body);
    if (rc < 0) {
        if (have_cache) {
            arca_warn("snp", "AMD KDS unavailable (%s); serving the cached copy of %s",
                      arca_err_detail(), cache_name);
            rc = arca_buf_put(out, cached.data, cached.len);
        }
        goto done;
    }
    if (kds->cache_dir != NULL) {
        int wrc = cache_write(kds->cache_dir, file, body.data, body.len);
        if (wrc < 0) /* the answer is good; a cache we cannot write only costs a refetch */
            arca_warn("snp", "%s", arca_err_detail());
    }
    rc = arca_buf_put(out, body.data, body.len);
done:
    arca_buf_free(&cached);
    arca_buf_free(&body);
    return rc;
}

int arca_snp_kds_fetch_vcek(const struct arca_snp_kds *kds, enum arca_snp_product product,
                            const struct arca_snp_report *r, int64_t now, struct arca_buf *out)
{
    ARCA_ENSURE_REF(kds);
    ARCA_ENSURE_REF(r);
    ARCA_ENSURE_REF(out);
    struct arca_buf path;
    arca_buf_init(&path, 1024);
    int rc = arca_snp_kds_vcek_path(product, r, &path);
    if (rc == 0) {
        char hwid[17], name[128];
        arca_hex_fmt(hwid, r->chip_id, 8);
        snprintf(name, sizeof(name), "vcek-%s-%s-%016llx.der", arca_snp_product_name(product), hwid,
                 (unsigned long long)r->reported_tcb);
        /* The name holds 8 bytes of CHIP_ID; the full id is compared by the verifier (hwID),
         * so a collision could only cost a failed verification, never a false success. */
        rc = cached_get(kds, arca_buf_cstr(&path), name, -1, now, validate_der_cert, out);
    }
    arca_buf_free(&path);
    return rc;
}

int arca_snp_kds_fetch_chain(const struct arca_snp_kds *kds, enum arca_snp_product product,
                             bool vlek, int64_t now, struct arca_buf *out)
{
    ARCA_ENSURE_REF(kds);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(product != ARCA_SNP_PRODUCT_UNKNOWN, ARCA_ERR_INVALID_ARG,
                "snp kds: the product (Milan, Genoa, Turin) must be known to fetch a chain");
    char path[128], name[128];
    const char *kind = vlek ? "vlek" : "vcek";
    snprintf(path, sizeof(path), "/%s/v1/%s/cert_chain", kind, arca_snp_product_name(product));
    snprintf(name, sizeof(name), "%s-cert_chain-%s.pem", kind, arca_snp_product_name(product));
    int64_t age = kds->refresh_secs > 0 ? kds->refresh_secs : KDS_DEFAULT_REFRESH;
    return cached_get(kds, path, name, age, now, validate_pem_chain, out);
}

/* One product: the key certificate (VCEK reports) and the chain, merged into certs. */
static int fetch_one(const struct arca_snp_kds *kds, const struct arca_snp_report *r,
                     enum arca_snp_product product, int64_t now, struct arca_snp_certs *certs)
{
    bool vlek = arca_snp_report_signing_key(r) == ARCA_SNP_KEY_VLEK;
    struct arca_snp_certs next = {0};
    struct arca_buf b;
    int rc;
    arca_buf_init(&b, KDS_MAX_BODY);
    if (!vlek) {
        ARCA_GUARD(rc, arca_snp_kds_fetch_vcek(kds, product, r, now, &b), out);
        ARCA_GUARD(rc, arca_snp_certs_load_key(&next, b.data, b.len), out);
        arca_buf_reset(&b);
    }
    ARCA_GUARD(rc, arca_snp_kds_fetch_chain(kds, product, vlek, now, &b), out);
    ARCA_GUARD(rc, arca_snp_certs_load_chain(&next, b.data, b.len), out);
    /* Merge through the loaders' own rule: replace only what was fetched. */
    struct arca_x509 **dst[3] = {&certs->key, &certs->intermediate, &certs->ark};
    struct arca_x509 **src[3] = {&next.key, &next.intermediate, &next.ark};
    for (int i = 0; i < 3; i++) {
        if (*src[i] != NULL) {
            arca_x509_free(*dst[i]);
            *dst[i] = *src[i];
            *src[i] = NULL;
        }
    }
    rc = 0;
out:
    arca_snp_certs_clear(&next);
    arca_buf_free(&b);
    return rc;
}

int arca_snp_certs_fetch(const struct arca_snp_kds *kds, const void *report, size_t n,
                         enum arca_snp_product product, int64_t now, struct arca_snp_certs *certs)
{
    ARCA_ENSURE_REF(kds);
    ARCA_ENSURE_REF(certs);
    struct arca_snp_report r;
    ARCA_TRY(arca_snp_report_parse(report, n, &r));
    if (product == ARCA_SNP_PRODUCT_UNKNOWN)
        product = arca_snp_report_product(&r);
    if (product != ARCA_SNP_PRODUCT_UNKNOWN)
        return fetch_one(kds, &r, product, now, certs);
    /* A version 2 report does not say which product made it: KDS answers 404 for the others. */
    int rc = ARCA_ERR_NOT_FOUND;
    for (int p = ARCA_SNP_PRODUCT_MILAN; p <= ARCA_SNP_PRODUCT_TURIN; p++) {
        rc = fetch_one(kds, &r, p, now, certs);
        if (rc == 0)
            return 0;
    }
    return arca_err_wrap(rc, "snp kds: no product (Milan, Genoa, Turin) has certificates for "
                             "this report");
}
