/* Intel PCS/PCCS collateral fetch through an on-disk cache (collateral_fetch.h). */
#include "evidence/collateral_fetch.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/enc.h"
#include "base/err.h"
#include "base/log.h"
#include "crypto/crypto.h"
#include "evidence/signed_json.h"
#include "evidence/tcb.h"

#define PCS_BODY_MAX ((size_t)2 << 20)

int arca_pcs_cache_path(const struct arca_pcs *pcs, bool tdx, const uint8_t fmspc[6],
                        const char *ca, struct arca_buf *out)
{
    char fm[13];
    ARCA_ENSURE(pcs && pcs->cache_dir, ARCA_ERR_INVALID_ARG, "PCS: no cache directory");
    ARCA_ENSURE(ca && (strcmp(ca, "platform") == 0 || strcmp(ca, "processor") == 0),
                ARCA_ERR_INVALID_ARG, "PCS: CA must be platform or processor");
    arca_hex_fmt(fm, fmspc, 6);
    return arca_buf_printf(out, "%s/%s-%s-%s.json", pcs->cache_dir, tdx ? "tdx" : "sgx", fm, ca);
}

int arca_dcap_collateral_expiry(const struct arca_dcap_collateral *c, int64_t *expiry)
{
    int64_t e = 0, tu, nu;
    ARCA_ENSURE_REF(c);
    if (c->tcb_info.json) {
        struct arca_tcb_info *t;
        ARCA_TRY(arca_tcb_info_parse(c->tcb_info.json, c->tcb_info.len, &t));
        e = t->next_update;
        arca_tcb_info_free(t);
    }
    if (c->qe_identity.json) {
        struct arca_qe_identity *q;
        ARCA_TRY(arca_qe_identity_parse(c->qe_identity.json, c->qe_identity.len, &q));
        if (!e || q->next_update < e)
            e = q->next_update;
        arca_qe_identity_free(q);
    }
    const struct arca_x509_crl *crls[2] = {c->root_crl, c->pck_crl};
    for (int i = 0; i < 2; i++)
        if (crls[i]) {
            ARCA_TRY(arca_x509_crl_validity(crls[i], &tu, &nu));
            if (!e || nu < e)
                e = nu;
        }
    *expiry = e;
    return 0;
}

/* ---- HTTP --------------------------------------------------------------------------------- */

struct resp {
    struct arca_buf body;
    const char *want_header; /* e.g. "TCB-Info-Issuer-Chain" */
    struct arca_buf header;  /* its raw (URL-encoded) value */
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    struct resp *r = ud;
    return arca_buf_put(&r->body, p, sz * n) == 0 ? sz * n : 0;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    struct resp *r = ud;
    size_t len = sz * n, k = r->want_header ? strlen(r->want_header) : 0;
    if (k && len > k + 1 && strncasecmp(p, r->want_header, k) == 0 && p[k] == ':') {
        size_t i = k + 1;
        while (i < len && (p[i] == ' ' || p[i] == '\t'))
            i++;
        size_t j = len;
        while (j > i && (p[j - 1] == '\r' || p[j - 1] == '\n' || p[j - 1] == ' '))
            j--;
        arca_buf_reset(&r->header);
        if (arca_buf_put(&r->header, p + i, j - i) < 0)
            return 0;
    }
    return len;
}

static int http_get(const struct arca_pcs *pcs, const char *url, struct resp *r)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    long code = 0;
    char hk[256];
    ARCA_ENSURE(h != NULL, ARCA_ERR_ALLOC, "PCS: curl_easy_init failed");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, pcs->timeout_secs > 0 ? pcs->timeout_secs : 20L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    if (pcs->api_key) {
        snprintf(hk, sizeof hk, "Ocp-Apim-Subscription-Key: %s", pcs->api_key);
        hdrs = curl_slist_append(hdrs, hk);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    }
    CURLcode cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    arca_wipe(hk, sizeof hk);
    ARCA_ENSURE(cc == CURLE_OK, ARCA_ERR_NETWORK, "PCS: GET %s: %s", url, curl_easy_strerror(cc));
    ARCA_ENSURE(code != 429, ARCA_ERR_LIMIT, "PCS: GET %s: rate limited (HTTP 429)", url);
    ARCA_ENSURE(code == 200, ARCA_ERR_NETWORK, "PCS: GET %s: HTTP %ld", url, code);
    return 0;
}

static void resp_init(struct resp *r, const char *hdr)
{
    arca_buf_init(&r->body, PCS_BODY_MAX);
    arca_buf_init(&r->header, 64 << 10);
    r->want_header = hdr;
}

static void resp_free(struct resp *r)
{
    arca_buf_free(&r->body);
    arca_buf_free(&r->header);
}

static int header_pem(struct resp *r, json_t *obj, const char *key)
{
    ARCA_ENSURE(r->header.len > 0, ARCA_ERR_NETWORK, "PCS: response lacks header %s",
                r->want_header);
    int outlen = 0;
    char *dec = curl_easy_unescape(NULL, arca_buf_cstr(&r->header), (int)r->header.len, &outlen);
    ARCA_ENSURE(dec != NULL, ARCA_ERR_ALLOC, "PCS: out of memory");
    json_object_set_new(obj, key, json_stringn(dec, (size_t)outlen));
    curl_free(dec);
    return 0;
}

/* Signed document response -> "<key>", "<key>_signature", "<key>_issuer_chain". */
static int signed_doc(const struct arca_pcs *pcs, const char *url, const char *hdr,
                      const char *member, const char *key, json_t *obj)
{
    struct resp r;
    const char *raw;
    size_t rawlen;
    char sk[64], ck[64];
    json_t *body = NULL;
    int rc;

    resp_init(&r, hdr);
    ARCA_GUARD(rc, http_get(pcs, url, &r), out);
    if (arca_json_load_object((const char *)r.body.data, r.body.len, "PCS answer", &body) < 0) {
        rc = arca_err_wrap(ARCA_ERR_NETWORK, "PCS: GET %s", url);
        goto out;
    }
    json_t *sig = json_object_get(body, "signature");
    ARCA_GUARD_ENSURE(rc, json_is_string(sig), out, ARCA_ERR_NETWORK,
                      "PCS: GET %s: response has no signature", url);
    ARCA_GUARD(rc,
               arca_json_raw_member((const char *)r.body.data, r.body.len, member, &raw, &rawlen),
               out);
    snprintf(sk, sizeof sk, "%s_signature", key);
    snprintf(ck, sizeof ck, "%s_issuer_chain", key);
    json_object_set_new(obj, key, json_stringn(raw, rawlen));
    json_object_set_new(obj, sk, json_string(json_string_value(sig)));
    rc = header_pem(&r, obj, ck);
out:
    json_decref(body);
    resp_free(&r);
    return rc;
}

static int crl_doc(const struct arca_pcs *pcs, const char *url, const char *hdr, const char *key,
                   json_t *obj)
{
    struct resp r;
    struct arca_buf hex;
    struct arca_x509_crl *crl = NULL;
    int rc;

    resp_init(&r, hdr);
    arca_buf_init(&hex, 0);
    ARCA_GUARD(rc, http_get(pcs, url, &r), out);
    /* PCS answers DER; a PCCS may answer hex or PEM: normalise to hex of DER via the parser. */
    ARCA_GUARD(rc, arca_x509_crl_parse_any(r.body.data, r.body.len, &crl), out);
    bool is_der = r.body.len > 0 && r.body.data[0] == 0x30;
    if (is_der)
        ARCA_GUARD(rc, arca_hex_encode(&hex, r.body.data, r.body.len), out);
    else
        ARCA_GUARD(rc, arca_buf_put(&hex, r.body.data, r.body.len), out);
    json_object_set_new(obj, key, json_stringn((const char *)hex.data, hex.len));
    if (hdr && r.header.len)
        rc = header_pem(&r, obj, "pck_crl_issuer_chain");
out:
    arca_x509_crl_free(crl);
    arca_buf_free(&hex);
    resp_free(&r);
    return rc;
}

static int fetch(const struct arca_pcs *pcs, bool tdx, const uint8_t fmspc[6], const char *ca,
                 struct arca_buf *json_out)
{
    const char *base = pcs->base_url ? pcs->base_url : ARCA_PCS_DEFAULT_URL;
    const char *tee = tdx ? "tdx" : "sgx";
    char url[1024], fm[13];
    int rc;
    json_t *obj = json_object();
    ARCA_ENSURE(obj != NULL, ARCA_ERR_ALLOC, "PCS: out of memory");
    arca_hex_fmt(fm, fmspc, 6);

    snprintf(url, sizeof url, "%s/%s/certification/v4/tcb?fmspc=%s", base, tee, fm);
    ARCA_GUARD(rc, signed_doc(pcs, url, "TCB-Info-Issuer-Chain", "tcbInfo", "tcb_info", obj), out);
    snprintf(url, sizeof url, "%s/%s/certification/v4/qe/identity", base, tee);
    ARCA_GUARD(rc,
               signed_doc(pcs, url, "SGX-Enclave-Identity-Issuer-Chain", "enclaveIdentity",
                          "qe_identity", obj),
               out);
    snprintf(url, sizeof url, "%s/sgx/certification/v4/pckcrl?ca=%s&encoding=der", base, ca);
    ARCA_GUARD(rc, crl_doc(pcs, url, "SGX-PCK-CRL-Issuer-Chain", "pck_crl", obj), out);
    if (pcs->base_url && strcmp(pcs->base_url, ARCA_PCS_DEFAULT_URL) != 0)
        snprintf(url, sizeof url, "%s/sgx/certification/v4/rootcacrl", base); /* PCCS */
    else
        snprintf(url, sizeof url, "%s", ARCA_PCS_ROOT_CRL_URL);
    ARCA_GUARD(rc, crl_doc(pcs, url, NULL, "root_ca_crl", obj), out);
    char *s = json_dumps(obj, JSON_INDENT(1));
    ARCA_GUARD_ENSURE(rc, s != NULL, out, ARCA_ERR_ALLOC, "PCS: out of memory");
    rc = arca_buf_put_str(json_out, s);
    free(s);
out:
    json_decref(obj);
    return rc;
}

int arca_pcs_collateral_get(const struct arca_pcs *pcs, bool tdx, const uint8_t fmspc[6],
                            const char *ca, int64_t now, struct arca_dcap_collateral *out)
{
    struct arca_buf path, fetched;
    struct arca_dcap_collateral cached;
    bool have_cache = false;
    int64_t expiry = 0;
    int rc;

    ARCA_ENSURE_REF(pcs);
    ARCA_ENSURE_REF(fmspc);
    ARCA_ENSURE_REF(out);
    int64_t margin = pcs->refresh_before > 0 ? pcs->refresh_before : 86400;
    arca_buf_init(&path, 0);
    arca_buf_init(&fetched, PCS_BODY_MAX);
    arca_dcap_collateral_init(&cached);

    if (pcs->cache_dir) {
        ARCA_GUARD(rc, arca_pcs_cache_path(pcs, tdx, fmspc, ca, &path), done);
        struct stat st;
        if (stat(arca_buf_cstr(&path), &st) == 0) {
            /* A corrupt cache entry is ignored (and overwritten by the next fetch). */
            if (arca_dcap_collateral_load_path(&cached, arca_buf_cstr(&path)) == 0 &&
                arca_dcap_collateral_expiry(&cached, &expiry) == 0 && expiry > 0)
                have_cache = true;
            else
                arca_dcap_collateral_free(&cached);
        }
    }
    if (have_cache && now < expiry - margin) {
        rc = 0; /* fresh enough */
        goto use_cache;
    }

    rc = fetch(pcs, tdx, fmspc, ca, &fetched);
    if (rc == 0) {
        struct arca_dcap_collateral fresh;
        arca_dcap_collateral_init(&fresh);
        rc = arca_dcap_collateral_load_combined(&fresh, (const char *)fetched.data, fetched.len);
        if (rc == 0) {
            if (pcs->cache_dir) {
                if (arca_mkdirs(pcs->cache_dir, 0700) < 0 ||
                    arca_file_write(arca_buf_cstr(&path), fetched.data, fetched.len, 0644, 0) < 0)
                    arca_warn("evidence", "PCS cache: %s", arca_err_detail());
            }
            arca_dcap_collateral_free(&cached);
            cached = fresh;
            have_cache = true;
            goto use_cache;
        }
        arca_dcap_collateral_free(&fresh);
    }
    if (have_cache) {
        /* Unreachable, rate limited or bad answer: keep serving what we have. */
        arca_warn("evidence", "PCS: refresh failed (%s); serving cached collateral",
                  arca_err_detail());
        rc = 0;
        goto use_cache;
    }
    goto done;

use_cache:
    arca_dcap_collateral_free(out);
    *out = cached;
    arca_dcap_collateral_init(&cached);
done:
    arca_dcap_collateral_free(&cached);
    arca_buf_free(&fetched);
    arca_buf_free(&path);
    return rc;
}
