/*
 * The enclave API client (DESIGN §4). A fresh key pair K per launch, a self-signed certificate
 * for it presented over TLS, arcad authenticated only by its key (ARCA_CAS_KEY, pinned through
 * libcurl's CURLOPT_PINNEDPUBLICKEY on the SHA-256 of its SPKI), then challenge and attest.
 * The evidence binds K, the nonce and the config id, so the answer can only be read by the
 * holder of K: a man in the middle presenting another key cannot use our evidence.
 */
#include "arcarun.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/attest_wire.h"
#include "api/json.h"
#include "attest/binding.h"
#include "base/enc.h"
#include "base/err.h"
#include "base/log.h"
#include "base/time.h"
#include "crypto/crypto.h"
#include "crypto/tls.h"
#include "curl_load.h"

#define ANSWER_MAX ARCARUN_CONFIG_MAX_BYTES

struct client {
    const struct arcarun_curl *c; /* libcurl's functions (curl_load.h) */
    CURL *curl;
    struct arca_x509 *cert; /* ours: a self-signed certificate for the launch key */
    struct arca_key *key;   /* a reference to the launch key */
    char pin[128];
    char base[600];
};

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
    struct arca_buf *b = arg;
    size_t n = size * nmemb;
    if (arca_buf_put(b, p, n) < 0)
        return 0; /* too large: curl aborts the transfer */
    return n;
}

static void client_free(struct client *cl)
{
    if (cl->curl != NULL)
        cl->c->easy_cleanup(cl->curl);
    arca_x509_free(cl->cert);
    arca_key_free(cl->key);
}

/* libcurl's hook into the TLS context it builds for a connection: our certificate and key go
 * in as objects (PEM blobs would be encoded here and decoded by libcurl, which costs more than
 * making the key). */
static CURLcode use_client_cert(CURL *curl, void *ssl_ctx, void *arg)
{
    (void)curl;
    struct client *cl = arg;
    if (arca_tls_ctx_use_cert_key(ssl_ctx, cl->cert, cl->key) < 0)
        return CURLE_SSL_CERTPROBLEM;
    return CURLE_OK;
}

static int client_init(struct client *cl, const struct arcarun_attest_params *p, struct arca_key *k)
{
    memset(cl, 0, sizeof(*cl));
    int64_t now = arca_time_now();
    struct arca_x509_params xp = {
        .common_name = "arca-run",
        .eku = ARCA_EKU_CLIENT,
        .not_before = now - 300,
        .not_after = now + 3600,
    };
    int rc;
    cl->key = arca_key_ref(k);
    ARCA_GUARD_ENSURE(rc, cl->key != NULL, out, ARCA_ERR_INVALID_ARG, "launch key missing");
    ARCA_GUARD(rc, arca_x509_build(&xp, k, NULL, NULL, &cl->cert), out);
    arcarun_timing_mark(p->timing, "keygen");
    /* Waits for libcurl, loaded meanwhile by main's arcarun_curl_preload. */
    ARCA_GUARD(rc, arcarun_curl_get(p->curl, &cl->c), out);
    arcarun_timing_mark(p->timing, "libcurl");

    struct arca_buf b64;
    arca_buf_init(&b64, 128);
    rc = arca_base64_encode(&b64, p->cas_key_id, ARCA_SHA256_LEN);
    if (rc == 0)
        snprintf(cl->pin, sizeof(cl->pin), "sha256//%s", arca_buf_cstr(&b64));
    arca_buf_free(&b64);
    if (rc < 0)
        goto out;
    ARCA_GUARD_ENSURE(rc, strlen(p->cas_addr) < 500, out, ARCA_ERR_INVALID_ARG,
                      "ARCA_CAS_ADDR: too long");
    snprintf(cl->base, sizeof(cl->base), "https://%s", p->cas_addr);

    cl->curl = cl->c->easy_init();
    ARCA_GUARD_ENSURE(rc, cl->curl != NULL, out, ARCA_ERR_ALLOC, "libcurl: cannot initialise");
    long timeout = p->timeout_ms > 0 ? p->timeout_ms : 30000;
    CURLcode cc = CURLE_OK;
    /* arcad's certificate is self-issued: we do not validate a chain or a host name but pin
     * its key, which is the identity the user gave us (ARCA_CAS_KEY). No CA file is read. */
    if (cc == CURLE_OK)
        cc = cl->c->easy_setopt(cl->curl, CURLOPT_SSL_VERIFYPEER, 0L);
    if (cc == CURLE_OK)
        cc = cl->c->easy_setopt(cl->curl, CURLOPT_SSL_VERIFYHOST, 0L);
    if (cc == CURLE_OK)
        cc = cl->c->easy_setopt(cl->curl, CURLOPT_PINNEDPUBLICKEY, cl->pin);
    if (cc == CURLE_OK)
        cc = cl->c->easy_setopt(cl->curl, CURLOPT_SSL_CTX_FUNCTION, use_client_cert);
    if (cc == CURLE_OK)
        cc = cl->c->easy_setopt(cl->curl, CURLOPT_SSL_CTX_DATA, cl);
    if (cc == CURLE_OK)
        cc = cl->c->easy_setopt(cl->curl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    /* arcad speaks HTTP/1.1: no HTTP/2 offer in the ALPN. */
    if (cc == CURLE_OK)
        cc = cl->c->easy_setopt(cl->curl, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    if (cc == CURLE_OK)
        cc = cl->c->easy_setopt(cl->curl, CURLOPT_TCP_NODELAY, 1L);
    if (cc == CURLE_OK)
        cc = cl->c->easy_setopt(cl->curl, CURLOPT_TIMEOUT_MS, timeout);
    if (cc == CURLE_OK)
        cc = cl->c->easy_setopt(cl->curl, CURLOPT_NOSIGNAL, 1L);
    if (cc == CURLE_OK)
        cc = cl->c->easy_setopt(cl->curl, CURLOPT_PROTOCOLS_STR, "https");
    if (cc == CURLE_OK)
        cc = cl->c->easy_setopt(cl->curl, CURLOPT_WRITEFUNCTION, on_body);
    ARCA_GUARD_ENSURE(rc, cc == CURLE_OK, out, ARCA_ERR_INTERNAL, "libcurl: %s",
                      cl->c->easy_strerror(cc));
out:
    if (rc < 0)
        client_free(cl);
    return rc;
}

/* Maps arcad's HTTP status of a refusal to an arca error code. */
static int status_err(long status)
{
    switch (status) {
    case 400:
        return ARCA_ERR_POLICY;
    case 401:
        return ARCA_ERR_UNAUTHENTICATED;
    case 403:
        return ARCA_ERR_POLICY;
    case 404:
        return ARCA_ERR_NOT_FOUND;
    case 409:
        return ARCA_ERR_REPLAY;
    case 413:
        return ARCA_ERR_TOO_LARGE;
    case 429:
        return ARCA_ERR_LIMIT;
    default:
        return ARCA_ERR_NETWORK;
    }
}

/* POSTs body (JSON) to path; *answer gets the 200 body. Other statuses become an error whose
 * detail is arcad's message (arcad's messages never contain secrets). */
static int post(struct client *cl, const char *path, const char *body, size_t len,
                struct arca_buf *answer)
{
    char url[700];
    snprintf(url, sizeof(url), "%s%s", cl->base, path);
    struct curl_slist *hdr = cl->c->slist_append(NULL, "Content-Type: application/json");
    /* libcurl would ask before sending a body over 1 KiB (Expect: 100-continue): a round trip
     * for an answer that is always "go on". */
    struct curl_slist *more = hdr != NULL ? cl->c->slist_append(hdr, "Expect:") : NULL;
    if (more == NULL)
        cl->c->slist_free_all(hdr);
    hdr = more;
    ARCA_ENSURE(hdr != NULL, ARCA_ERR_ALLOC, "libcurl: out of memory");
    CURLcode cc = cl->c->easy_setopt(cl->curl, CURLOPT_URL, url);
    if (cc == CURLE_OK)
        cc = cl->c->easy_setopt(cl->curl, CURLOPT_HTTPHEADER, hdr);
    if (cc == CURLE_OK)
        cc = cl->c->easy_setopt(cl->curl, CURLOPT_POSTFIELDS, body);
    if (cc == CURLE_OK)
        cc = cl->c->easy_setopt(cl->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    if (cc == CURLE_OK)
        cc = cl->c->easy_setopt(cl->curl, CURLOPT_WRITEDATA, answer);
    if (cc == CURLE_OK)
        cc = cl->c->easy_perform(cl->curl);
    cl->c->slist_free_all(hdr);
    if (cc == CURLE_SSL_PINNEDPUBKEYNOTMATCH)
        ARCA_BAIL(ARCA_ERR_UNAUTHENTICATED,
                  "%s: the server's key is not ARCA_CAS_KEY (wrong CAS or a man in the middle)",
                  cl->base + 8);
    if (cc != CURLE_OK)
        ARCA_BAIL(ARCA_ERR_NETWORK, "%s%s: %s", cl->base + 8, path, cl->c->easy_strerror(cc));
    long status = 0;
    cl->c->easy_getinfo(cl->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status == 200)
        return 0;
    /* A refusal: show arcad's reason (the error body of api/json.h). */
    struct arca_buf msg;
    arca_buf_init(&msg, 4096);
    json_t *j = NULL;
    if (arca_json_parse_object(answer->data, answer->len, "refusal", &j) == 0)
        arca_api_error_join(j, &msg);
    json_decref(j);
    arca_buf_reset(answer);
    int rc = arca_err_set(status_err(status), "%s refused (HTTP %ld): %.300s", path, status,
                          msg.len > 0 ? arca_buf_cstr(&msg) : "no reason given");
    arca_buf_free(&msg);
    return rc;
}

static int get_nonce(struct client *cl, uint8_t nonce[ARCA_LAUNCH_NONCE_LEN])
{
    struct arca_buf ans;
    arca_buf_init(&ans, 4096);
    struct arca_challenge_answer a;
    int rc = post(cl, "/v1/challenge", "{}", 2, &ans);
    if (rc == 0) {
        rc = arca_challenge_answer_decode(ans.data, ans.len, &a);
        if (rc < 0)
            rc = arca_err_wrap(rc, "/v1/challenge");
        else
            memcpy(nonce, a.nonce, ARCA_LAUNCH_NONCE_LEN);
    }
    arca_buf_free(&ans);
    return rc;
}

/* The attest request (api/attest_wire.h). It carries the access token and the host
 * environment (\@\@NAME), so both the struct and the encoded text are wiped. */
static int build_request(const struct arcarun_attest_params *p, struct arcarun_evidence *ev,
                         const uint8_t nonce[ARCA_LAUNCH_NONCE_LEN], struct arca_buf *out)
{
    struct arca_attest_request r;
    arca_attest_request_init(&r);
    int rc = 0;
    r.config_id = strdup(p->config_id);
    ARCA_GUARD_ENSURE(rc, r.config_id != NULL, done, ARCA_ERR_ALLOC,
                      "attest request: out of memory");
    if (p->access_token != NULL) {
        r.access_token = strdup(p->access_token);
        ARCA_GUARD_ENSURE(rc, r.access_token != NULL, done, ARCA_ERR_ALLOC,
                          "attest request: out of memory");
    }
    r.evidence_type = ev->type;
    memcpy(r.nonce, nonce, ARCA_LAUNCH_NONCE_LEN);
    /* The evidence buffers move into the request (freed with it; ev keeps empty ones). */
    struct arca_buf tmp = r.evidence;
    r.evidence = ev->ev;
    ev->ev = tmp;
    tmp = r.aux;
    r.aux = ev->aux;
    ev->aux = tmp;
    ARCA_GUARD(rc, arca_attest_request_set_host(&r, p->host_argv, p->host_argc, p->host_envp),
               done);
    ARCA_GUARD(rc, arca_attest_request_encode(&r, out), done);
done:
    arca_attest_request_free(&r);
    return rc;
}

int arcarun_attest(const struct arcarun_attest_params *p, struct arca_buf *answer)
{
    ARCA_ENSURE_REF(p);
    ARCA_ENSURE_REF(answer);
    ARCA_ENSURE(p->cas_addr && p->cas_key_id && p->config_id && p->provider && p->popts && p->curl,
                ARCA_ERR_INVALID_ARG, "attest: incomplete parameters");
    struct arca_key *k = NULL;
    struct client cl;
    memset(&cl, 0, sizeof(cl));
    struct arca_buf spki;
    arca_buf_init(&spki, 0);
    struct arcarun_evidence ev;
    arcarun_evidence_init(&ev);
    struct arca_buf req;
    arca_buf_init_secret(&req, 0);
    int rc;
    bool have_client = false;

    ARCA_GUARD(rc, arca_key_generate(ARCA_KEY_P256, &k), out);
    ARCA_GUARD(rc, arca_key_spki_der(k, &spki), out);
    ARCA_GUARD(rc, client_init(&cl, p, k), out);
    have_client = true;

    uint8_t nonce[ARCA_LAUNCH_NONCE_LEN];
    ARCA_GUARD(rc, get_nonce(&cl, nonce), out);
    arcarun_timing_mark(p->timing, "challenge");
    curl_off_t connected_us = 0; /* TCP connect + TLS handshake of the first request */
    if (cl.c->easy_getinfo(cl.curl, CURLINFO_APPCONNECT_TIME_T, &connected_us) == CURLE_OK)
        arcarun_timing_split(p->timing, "connect", (int64_t)connected_us * 1000);
    uint8_t rd[64];
    ARCA_GUARD(rc, arca_launch_binding(spki.data, spki.len, nonce, p->config_id, rd), out);
    rc = p->provider->evidence(p->popts, rd, &ev);
    if (rc < 0) {
        rc = arca_err_wrap(rc, "evidence (%s)", p->provider->name);
        goto out;
    }
    arcarun_timing_mark(p->timing, "evidence");
    ARCA_GUARD(rc, build_request(p, &ev, nonce, &req), out);
    arca_buf_reset(answer);
    ARCA_GUARD(rc, post(&cl, "/v1/attest", (const char *)req.data, req.len, answer), out);
    arcarun_timing_mark(p->timing, "attest");
out:
    arca_buf_free(&req);
    arcarun_evidence_free(&ev);
    if (have_client)
        client_free(&cl);
    arca_buf_free(&spki);
    arca_key_free(k);
    return rc;
}

/* POSTs a report made with a launch credential (volume tag, provided value). A fresh TLS key:
 * the credential is in the request, not the connection (the program may have run for longer
 * than any certificate of ours). req is the encoded request. */
static int post_credentialed(const struct arcarun_attest_params *p, const char *path,
                             const struct arca_buf *req)
{
    struct arca_key *k = NULL;
    struct client cl;
    memset(&cl, 0, sizeof(cl));
    struct arca_buf ans;
    arca_buf_init(&ans, 4096);
    bool have_client = false;
    int rc;
    ARCA_GUARD(rc, arca_key_generate(ARCA_KEY_P256, &k), out);
    ARCA_GUARD(rc, client_init(&cl, p, k), out);
    have_client = true;
    rc = post(&cl, path, (const char *)req->data, req->len, &ans);
out:
    arca_buf_free(&ans);
    if (have_client)
        client_free(&cl);
    arca_key_free(k);
    return rc;
}

int arcarun_report_volume(const struct arcarun_attest_params *p, const struct arca_volume_report *r)
{
    ARCA_ENSURE_REF(p);
    ARCA_ENSURE_REF(r);
    ARCA_ENSURE(p->cas_addr && p->cas_key_id && p->curl, ARCA_ERR_INVALID_ARG,
                "volume report: incomplete parameters");
    struct arca_buf req;
    arca_buf_init_secret(&req, 0);
    int rc = arca_volume_report_encode(r, &req);
    if (rc == 0)
        rc = post_credentialed(p, "/v1/volumes/tag", &req);
    arca_buf_free(&req);
    return rc;
}

int arcarun_upload_provided(const struct arcarun_attest_params *p,
                            const struct arca_provided_upload *u)
{
    ARCA_ENSURE_REF(p);
    ARCA_ENSURE_REF(u);
    ARCA_ENSURE(p->cas_addr && p->cas_key_id && p->curl, ARCA_ERR_INVALID_ARG,
                "provided value: incomplete parameters");
    struct arca_buf req;
    arca_buf_init_secret(&req, 0);
    int rc = arca_provided_upload_encode(u, &req);
    if (rc == 0)
        rc = post_credentialed(p, "/v1/provided", &req);
    arca_buf_free(&req);
    return rc;
}
