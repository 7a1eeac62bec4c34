/*
 * The client side of the peer channel (peer.h), over libcurl: our CAS certificate as the TLS
 * client certificate, the server pinned by its key (CURLOPT_PINNEDPUBLICKEY) when a CAS key is
 * expected, and by its attested measurement when only a software key is.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>

#include "api/attest_wire.h"
#include "api/json.h"
#include "base/enc.h"
#include "base/err.h"
#include "base/time.h"
#include "peer/peer.h"

struct arca_peer {
    const struct arca_peer_self *self;
    struct arca_peer_expect expect;
    uint8_t cas_key[32], software_key[32];
    CURL *curl;
    struct arca_buf cert_pem;
    struct arca_buf key_pem; /* secret */
    struct arca_buf spki;    /* ours, DER */
    char pin[128];
    char base[300]; /* https://HOST:PORT */
    char addr[270];
    struct arca_peer_identity who;
    size_t answer_max;
    /* Only a hello may open a TCP connection (open_sock): every other request runs on the
     * connection the last hello attested, or fails before it is sent. */
    bool may_connect;
    bool attested;  /* the kept connection answered a hello that checked out */
    bool have_next; /* next: a nonce the server handed us with its last answer */
    uint8_t next[32];
    CURLcode last_cc; /* of the last request (arca_peer_send: what may be retried) */
    long last_status;
};

static curl_socket_t open_sock(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct arca_peer *p = arg;
    (void)purpose;
    if (!p->may_connect)
        return CURL_SOCKET_BAD;
    return socket(a->family, a->socktype, a->protocol);
}

struct answer_sink {
    struct arca_buf *b;
    size_t max;
};

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
    struct answer_sink *k = arg;
    size_t n = size * nmemb;
    if (k->b->len + n > k->max || arca_buf_put(k->b, p, n) < 0)
        return 0;
    return n;
}

/* "HOST[:PORT]" -> p->addr with the default port; only host-name and address characters. */
static int parse_addr(struct arca_peer *p, const char *addr)
{
    size_t n = strlen(addr);
    ARCA_ENSURE(n > 0 && n < 256, ARCA_ERR_INVALID_ARG, "cas_url: empty or too long");
    for (size_t i = 0; i < n; i++) {
        char c = addr[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
        ARCA_ENSURE(ok, ARCA_ERR_INVALID_ARG,
                    "cas_url %.256s: expected HOST[:PORT] (no scheme, path or user)", addr);
    }
    const char *close = strrchr(addr, ']');
    const char *colon = strrchr(close != NULL ? close : addr, ':');
    bool bare_v6 = close == NULL && colon != NULL && strchr(addr, ':') != colon;
    ARCA_ENSURE(!bare_v6, ARCA_ERR_INVALID_ARG, "cas_url %.256s: write IPv6 as [ADDR]:PORT", addr);
    if (colon != NULL)
        snprintf(p->addr, sizeof(p->addr), "%s", addr);
    else
        snprintf(p->addr, sizeof(p->addr), "%s:%d", addr, ARCA_PEER_DEFAULT_PORT);
    snprintf(p->base, sizeof(p->base), "https://%s", p->addr);
    return 0;
}

static int curl_setup(struct arca_peer *p)
{
    const struct arca_peer_self *s = p->self;
    ARCA_TRY(arca_x509_to_pem(s->cert, &p->cert_pem));
    ARCA_TRY(arca_key_private_pem(s->key, &p->key_pem));
    ARCA_TRY(arca_key_spki_der(s->key, &p->spki));
    p->curl = curl_easy_init();
    ARCA_ENSURE(p->curl != NULL, ARCA_ERR_ALLOC, "libcurl: cannot initialise");
    struct curl_blob cb = {p->cert_pem.data, p->cert_pem.len, CURL_BLOB_NOCOPY};
    struct curl_blob kb = {p->key_pem.data, p->key_pem.len, CURL_BLOB_NOCOPY};
    long timeout = s->timeout_ms > 0 ? s->timeout_ms : 10000;
    CURLcode cc = CURLE_OK;
    /* arcads' certificates are self-issued: identity is the key (pinned), not a chain. */
    cc = curl_easy_setopt(p->curl, CURLOPT_SSL_VERIFYPEER, 0L);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(p->curl, CURLOPT_SSL_VERIFYHOST, 0L);
    if (cc == CURLE_OK && p->expect.cas_key != NULL) {
        struct arca_buf b64;
        arca_buf_init(&b64, 64);
        int rc = arca_base64_encode(&b64, p->cas_key, 32);
        if (rc == 0)
            snprintf(p->pin, sizeof(p->pin), "sha256//%s", arca_buf_cstr(&b64));
        arca_buf_free(&b64);
        ARCA_TRY(rc);
        cc = curl_easy_setopt(p->curl, CURLOPT_PINNEDPUBLICKEY, p->pin);
    }
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(p->curl, CURLOPT_SSLCERT_BLOB, &cb);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(p->curl, CURLOPT_SSLCERTTYPE, "PEM");
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(p->curl, CURLOPT_SSLKEY_BLOB, &kb);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(p->curl, CURLOPT_SSLKEYTYPE, "PEM");
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(p->curl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(p->curl, CURLOPT_TIMEOUT_MS, timeout);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(p->curl, CURLOPT_NOSIGNAL, 1L);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(p->curl, CURLOPT_PROTOCOLS_STR, "https");
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(p->curl, CURLOPT_WRITEFUNCTION, on_body);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(p->curl, CURLOPT_OPENSOCKETFUNCTION, open_sock);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(p->curl, CURLOPT_OPENSOCKETDATA, p);
    /* one kept connection: the one the last hello ran on */
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(p->curl, CURLOPT_MAXCONNECTS, 1L);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(p->curl, CURLOPT_CONNECTTIMEOUT_MS, timeout);
    ARCA_ENSURE(cc == CURLE_OK, ARCA_ERR_INTERNAL, "libcurl: %s", curl_easy_strerror(cc));
    return 0;
}

/* POSTs msg to path, on a new connection only if may_connect (a hello); *answer the parsed 200
 * object. The answer text may hold secrets. */
static int post(struct arca_peer *p, const char *path, const json_t *msg, bool may_connect,
                json_t **answer)
{
    *answer = NULL;
    p->may_connect = may_connect;
    p->last_cc = CURLE_OK;
    p->last_status = 0;
    char url[400];
    int w = snprintf(url, sizeof(url), "%s%s", p->base, path);
    ARCA_ENSURE(w > 0 && (size_t)w < sizeof(url), ARCA_ERR_TOO_LARGE, "peer: URL too long");
    struct arca_buf req, ans;
    arca_buf_init_secret(&req, 0);
    arca_buf_init_secret(&ans, 0);
    struct answer_sink sink = {&ans, p->answer_max};
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    int rc = 0;
    ARCA_GUARD_ENSURE(rc, hdr != NULL, out, ARCA_ERR_ALLOC, "libcurl: out of memory");
    ARCA_GUARD(rc, arca_json_dump(msg, false, &req), out);
    CURLcode cc = curl_easy_setopt(p->curl, CURLOPT_URL, url);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(p->curl, CURLOPT_HTTPHEADER, hdr);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(p->curl, CURLOPT_POSTFIELDS, (const char *)req.data);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(p->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req.len);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(p->curl, CURLOPT_WRITEDATA, &sink);
    if (cc == CURLE_OK)
        cc = curl_easy_perform(p->curl);
    p->last_cc = cc;
    if (cc != CURLE_OK)
        p->attested = false; /* whatever connection is left was not the hello's */
    if (cc == CURLE_SSL_PINNEDPUBKEYNOTMATCH) {
        rc = arca_err_set(ARCA_ERR_UNAUTHENTICATED,
                          "remote CAS %s: its key is not the expected cas_key (wrong CAS or a "
                          "man in the middle)",
                          p->addr);
        goto out;
    }
    ARCA_GUARD_ENSURE(rc, cc != CURLE_COULDNT_CONNECT || may_connect, out, ARCA_ERR_NETWORK,
                      "remote CAS %s: the attested connection was closed", p->addr);
    ARCA_GUARD_ENSURE(rc, cc == CURLE_OK, out, ARCA_ERR_NETWORK, "remote CAS %s unreachable: %s",
                      p->addr, curl_easy_strerror(cc));
    long status = 0;
    curl_easy_getinfo(p->curl, CURLINFO_RESPONSE_CODE, &status);
    p->last_status = status;
    if (status != 200) {
        struct arca_buf m;
        arca_buf_init(&m, 2048);
        json_t *j = NULL;
        if (arca_json_parse_object(ans.data, ans.len, "refusal", &j) == 0)
            arca_api_error_join(j, &m);
        json_decref(j);
        rc =
            arca_err_set(arca_api_status_err(status), "remote CAS %s refused %s (HTTP %ld): %.300s",
                         p->addr, path, status, m.len > 0 ? arca_buf_cstr(&m) : "no reason");
        arca_buf_free(&m);
        goto out;
    }
    rc = arca_json_parse_object(ans.data, ans.len, "peer answer", answer);
out:
    p->may_connect = false;
    curl_slist_free_all(hdr);
    if (p->curl != NULL)
        curl_easy_setopt(p->curl, CURLOPT_HTTPHEADER, NULL);
    arca_buf_free(&req);
    arca_buf_free(&ans);
    return rc;
}

/* A hello: the server's evidence for our fresh nonce, checked; *nonce gets the server's. */
static int hello(struct arca_peer *p, uint8_t nonce[32])
{
    uint8_t mine[32];
    char hex[65];
    ARCA_TRY(arca_random(mine, sizeof(mine)));
    arca_hex_fmt(hex, mine, sizeof(mine));
    json_t *msg = json_pack("{s:s}", "nonce", hex);
    ARCA_ENSURE(msg != NULL, ARCA_ERR_ALLOC, "peer: out of memory");
    json_t *a = NULL;
    struct arca_buf spki;
    arca_buf_init(&spki, 0);
    struct arca_peer_identity w;
    int rc = 0;
    p->attested = false;
    p->have_next = false;
    ARCA_GUARD(rc, post(p, ARCA_PEER_HELLO_ROUTE, msg, true, &a), out);
    ARCA_GUARD(rc, arca_peer_hex32(a, "nonce", nonce), out);
    const json_t *s = json_object_get(a, "spki");
    ARCA_GUARD_ENSURE(rc, json_is_string(s), out, ARCA_ERR_FORMAT,
                      "remote CAS %s: hello without 'spki'", p->addr);
    ARCA_GUARD(rc, arca_base64_decode(&spki, json_string_value(s), json_string_length(s)), out);
    rc = arca_peer_evidence_check(p->self->verify, a, spki.data, spki.len, mine,
                                  ARCA_PEER_HELLO_ROUTE, arca_time_now(), &w);
    if (rc < 0) {
        rc = arca_err_wrap(rc, "remote CAS %s", p->addr);
        goto out;
    }
    /* With a CAS key the TLS pin proved the connection's key is SPKI's; the check below
     * states it for the attested key too. With a software key it is the measurement. */
    ARCA_GUARD_ENSURE(rc, p->expect.cas_key == NULL || arca_memeq(w.cas_key, p->cas_key, 32), out,
                      ARCA_ERR_UNAUTHENTICATED,
                      "remote CAS %s: attested key is not the expected cas_key", p->addr);
    ARCA_GUARD_ENSURE(
        rc, p->expect.software_key == NULL || arca_memeq(w.measurement, p->software_key, 32), out,
        ARCA_ERR_POLICY, "remote CAS %s: measurement is not the expected cas_software_key",
        p->addr);
    if (p->expect.cas_key == NULL) {
        /* Pin the attested key for the rest of the channel. */
        memcpy(p->cas_key, w.cas_key, 32);
        p->expect.cas_key = p->cas_key;
        struct arca_buf b64;
        arca_buf_init(&b64, 64);
        rc = arca_base64_encode(&b64, p->cas_key, 32);
        if (rc == 0)
            snprintf(p->pin, sizeof(p->pin), "sha256//%s", arca_buf_cstr(&b64));
        arca_buf_free(&b64);
        if (rc == 0 && curl_easy_setopt(p->curl, CURLOPT_PINNEDPUBLICKEY, p->pin) != CURLE_OK)
            rc = arca_err_set(ARCA_ERR_INTERNAL, "libcurl: cannot pin");
        p->who = w;
        /* The hello itself ran unpinned: a second one on a fresh connection under the pin
         * attests the connection the requests will use. */
        if (rc == 0 && curl_easy_setopt(p->curl, CURLOPT_FRESH_CONNECT, 1L) == CURLE_OK) {
            rc = hello(p, nonce);
            curl_easy_setopt(p->curl, CURLOPT_FRESH_CONNECT, 0L);
        }
        goto out;
    }
    p->who = w;
    p->attested = true;
    /* the hello's nonce serves the next request on this connection, whichever call makes it */
    memcpy(p->next, nonce, 32);
    p->have_next = true;
out:
    json_decref(msg);
    json_decref(a);
    arca_buf_free(&spki);
    return rc;
}

int arca_peer_connect(const struct arca_peer_self *self, const char *addr,
                      const struct arca_peer_expect *expect, struct arca_peer **out)
{
    ARCA_ENSURE_REF(self);
    ARCA_ENSURE_REF(addr);
    ARCA_ENSURE_REF(expect);
    ARCA_ENSURE_REF(out);
    *out = NULL;
    ARCA_ENSURE(expect->cas_key != NULL || expect->software_key != NULL || expect->any_attested,
                ARCA_ERR_INVALID_ARG, "peer: neither a cas_key nor a cas_software_key to expect");
    struct arca_peer *p = calloc(1, sizeof(*p));
    ARCA_ENSURE(p != NULL, ARCA_ERR_ALLOC, "peer: out of memory");
    p->self = self;
    p->answer_max = ARCA_PEER_ANSWER_MAX;
    arca_buf_init(&p->cert_pem, 0);
    arca_buf_init_secret(&p->key_pem, 0);
    arca_buf_init(&p->spki, 0);
    if (expect->cas_key != NULL) {
        memcpy(p->cas_key, expect->cas_key, 32);
        p->expect.cas_key = p->cas_key;
    }
    if (expect->software_key != NULL) {
        memcpy(p->software_key, expect->software_key, 32);
        p->expect.software_key = p->software_key;
    }
    uint8_t nonce[32];
    int rc = 0;
    ARCA_GUARD(rc, parse_addr(p, addr), out);
    ARCA_GUARD(rc, curl_setup(p), out);
    ARCA_GUARD(rc, hello(p, nonce), out);
    *out = p;
    p = NULL;
out:
    arca_peer_close(p);
    return rc;
}

const struct arca_peer_identity *arca_peer_who(const struct arca_peer *p)
{
    return p != NULL ? &p->who : NULL;
}

static int check_route(const char *route)
{
    ARCA_ENSURE(strncmp(route, ARCA_PEER_ROUTE_PREFIX, strlen(ARCA_PEER_ROUTE_PREFIX)) == 0 &&
                    strcmp(route, ARCA_PEER_HELLO_ROUTE) != 0,
                ARCA_ERR_INVALID_ARG, "peer: route %.64s is not a peer route", route);
    return 0;
}

/* POSTs body to route under our evidence for the server's nonce, on the attested connection
 * (never a new one). A "nonce" in the answer is kept for the next arca_peer_send. */
static int route_post(struct arca_peer *p, const uint8_t nonce[32], const char *route,
                      const json_t *body, json_t **answer)
{
    char hex[65];
    arca_hex_fmt(hex, nonce, 32);
    json_t *msg = json_pack("{s:s}", "nonce", hex);
    ARCA_ENSURE(msg != NULL, ARCA_ERR_ALLOC, "peer: out of memory");
    int rc = 0;
    if (body != NULL && json_object_set(msg, "body", (json_t *)body) < 0)
        rc = arca_err_set(ARCA_ERR_ALLOC, "peer: out of memory");
    if (rc == 0)
        rc = arca_peer_evidence_put(p->self, p->spki.data, p->spki.len, nonce, route, msg);
    p->have_next = false; /* nonce is used up, whatever the answer */
    if (rc == 0)
        rc = post(p, route, msg, false, answer);
    json_decref(msg);
    if (rc == 0 && json_object_get(*answer, "nonce") != NULL) {
        p->have_next = arca_peer_hex32(*answer, "nonce", p->next) == 0;
        json_object_del(*answer, "nonce");
    }
    return rc;
}

int arca_peer_call(struct arca_peer *p, const char *route, const json_t *body, json_t **answer)
{
    ARCA_ENSURE_REF(p);
    ARCA_ENSURE_REF(route);
    ARCA_ENSURE_REF(answer);
    *answer = NULL;
    ARCA_TRY(check_route(route));
    uint8_t nonce[32];
    ARCA_TRY(hello(p, nonce));
    return route_post(p, nonce, route, body, answer);
}

/* A failure of a request on the kept connection that a new hello may cure: the connection
 * was gone (the peer restarted or closed it idle; nothing was sent on a new one) or the
 * server no longer knows the nonce it handed us (restarted, expired). A timeout is not: the
 * peer is slow, and asking again would double the wait. */
static bool stale(const struct arca_peer *p)
{
    switch (p->last_cc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
        return true;
    case CURLE_OK:
        /* a nonce not issued (401), expired or used (400): refused before anything was done */
        return p->last_status == 400 || p->last_status == 401;
    default:
        return false;
    }
}

int arca_peer_send(struct arca_peer *p, const char *route, const json_t *body, json_t **answer,
                   bool *resent)
{
    ARCA_ENSURE_REF(p);
    ARCA_ENSURE_REF(route);
    ARCA_ENSURE_REF(answer);
    *answer = NULL;
    if (resent != NULL)
        *resent = false;
    ARCA_TRY(check_route(route));
    if (p->attested && p->have_next) {
        uint8_t nonce[32];
        memcpy(nonce, p->next, 32);
        p->have_next = false; /* one use */
        int rc = route_post(p, nonce, route, body, answer);
        if (rc == 0 || !stale(p))
            return rc;
        if (resent != NULL)
            *resent = true;
    }
    return arca_peer_call(p, route, body, answer);
}

void arca_peer_set_answer_max(struct arca_peer *p, size_t max)
{
    if (p != NULL)
        p->answer_max = max > 0 && max < ARCA_PEER_ANSWER_MAX ? max : ARCA_PEER_ANSWER_MAX;
}

void arca_peer_close(struct arca_peer *p)
{
    if (p == NULL)
        return;
    if (p->curl != NULL)
        curl_easy_cleanup(p->curl);
    arca_buf_free(&p->cert_pem);
    arca_buf_free(&p->key_pem);
    arca_buf_free(&p->spki);
    arca_wipe(p, sizeof(*p));
    free(p);
}
