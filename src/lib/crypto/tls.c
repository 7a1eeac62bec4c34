/*
 * TLS contexts for arcad, the CLI and arca-run. Peers are identified by the SHA-256 of their
 * certificate's SPKI (DESIGN §3): chains are not validated, the verify callbacks accept any
 * certificate and the application authorises the key id (servers) or the pinned key id is
 * compared here (clients).
 */
#include "crypto/tls.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto_internal.h"

static CRYPTO_ONCE pin_once = CRYPTO_ONCE_STATIC_INIT;
static int pin_index = -1;
static CRYPTO_ONCE hooks_once = CRYPTO_ONCE_STATIC_INIT;
static int hooks_index = -1;

/* What arca_tls_set_hooks attaches to one connection (owned by its ex-data slot). */
struct hooks_data {
    const struct arca_tls_hooks *hooks;
    void *arg;
    bool done_called;
};

static void pin_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    free(ptr);
}

static void pin_index_init(void)
{
    pin_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, pin_free);
}

/* Runs inside SSL_free (after libevent closed the socket): the owner forgets the connection. */
static void hooks_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    struct hooks_data *d = ptr;
    if (d == NULL)
        return;
    if (d->hooks->gone != NULL)
        d->hooks->gone(d->arg);
    free(d);
}

static void hooks_index_init(void)
{
    hooks_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, hooks_free);
}

/* HANDSHAKE_DONE also fires for later handshake messages (TLS 1.3 tickets): report it once. */
static void hooks_info_cb(const SSL *ssl, int where, int ret)
{
    (void)ret;
    if ((where & SSL_CB_HANDSHAKE_DONE) == 0)
        return;
    struct hooks_data *d = SSL_get_ex_data(ssl, hooks_index);
    if (d == NULL || d->done_called)
        return;
    d->done_called = true;
    if (d->hooks->done != NULL)
        d->hooks->done(d->arg);
}

/* Servers: any client certificate is acceptable at the TLS layer (self-signed included);
 * the application authorises the key id it reads with arca_tls_peer_key_id. */
static int accept_any_cb(int ok, X509_STORE_CTX *ctx)
{
    (void)ok;
    (void)ctx;
    return 1;
}

/* Clients: replaces OpenSSL's chain verification (X509_verify_cert) for the server's
 * certificate: chains are irrelevant in arca's identity model, only the key counts. Called once
 * per full handshake with the server's certificate; arg is the pinned key id or NULL. */
static int pin_cert_verify_cb(X509_STORE_CTX *xctx, void *arg)
{
    const uint8_t *pin = arg;
    if (pin == NULL)
        return 1;
    X509 *cert = X509_STORE_CTX_get0_cert(xctx);
    uint8_t id[ARCA_SHA256_LEN];
    if (cert == NULL || X509_get0_pubkey(cert) == NULL ||
        arca_pkey_id(X509_get0_pubkey(cert), id) < 0 || !arca_memeq(id, pin, sizeof(id))) {
        X509_STORE_CTX_set_error(xctx, X509_V_ERR_APPLICATION_VERIFICATION);
        return 0;
    }
    return 1;
}

/*
 * TLS 1.2 suites: forward-secret ECDHE with an AEAD only. CBC suites (Lucky13-style padding
 * oracles, SHA-1 MACs) and static RSA key exchange are never offered nor accepted. TLS 1.3
 * suites are all AEAD; OpenSSL's default list for it is kept.
 */
static const char tls12_suites[] = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                                   "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256:"
                                   "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305";

int arca_tls_ctx_use_cert_key(struct ssl_ctx_st *ctx, const struct arca_x509 *cert,
                              const struct arca_key *key)
{
    ARCA_ENSURE_REF(ctx);
    ARCA_ENSURE(cert != NULL && key != NULL, ARCA_ERR_INVALID_ARG,
                "TLS: give both a certificate and its key, or neither");
    ARCA_ENSURE(key->priv, ARCA_ERR_INVALID_ARG, "TLS: the key has no private part");
    if (SSL_CTX_use_certificate(ctx, cert->x509) != 1 ||
        SSL_CTX_use_PrivateKey(ctx, key->pkey) != 1)
        return arca_ossl_err(ARCA_ERR_INVALID_ARG, "TLS: cannot use the certificate or key");
    if (SSL_CTX_check_private_key(ctx) != 1)
        return arca_ossl_err(ARCA_ERR_INVALID_ARG, "TLS: the key does not match the certificate");
    return 0;
}

static int ctx_common(SSL_CTX *ctx, const struct arca_x509 *cert, const struct arca_key *key,
                      const struct arca_x509 *const *chain, size_t chain_count)
{
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
        return arca_ossl_err(ARCA_ERR_CRYPTO, "TLS: cannot set the minimum version");
    if (SSL_CTX_set_cipher_list(ctx, tls12_suites) != 1)
        return arca_ossl_err(ARCA_ERR_CRYPTO, "TLS: cannot set the TLS 1.2 cipher suites");
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    if (cert == NULL && key == NULL)
        return 0;
    ARCA_TRY(arca_tls_ctx_use_cert_key(ctx, cert, key));
    for (size_t i = 0; i < chain_count; i++)
        if (chain[i] == NULL || SSL_CTX_add1_chain_cert(ctx, chain[i]->x509) != 1)
            return arca_ossl_err(ARCA_ERR_INVALID_ARG, "TLS: cannot add a chain certificate");
    return 0;
}

int arca_tls_server_ctx_new(const struct arca_x509 *cert, const struct arca_key *key,
                            const struct arca_x509 *const *chain, size_t chain_count,
                            enum arca_tls_client_auth auth, struct ssl_ctx_st **out)
{
    ARCA_ENSURE_REF(cert);
    ARCA_ENSURE_REF(key);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(chain_count == 0 || chain != NULL, ARCA_ERR_INVALID_ARG,
                "TLS: chain is NULL but chain_count is %zu", chain_count);
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL)
        return arca_ossl_err(ARCA_ERR_ALLOC, "TLS: SSL_CTX_new");
    int rc = ctx_common(ctx, cert, key, chain, chain_count);
    if (rc == 0) {
        SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
        /* Needed for session resumption whenever client certificates are requested. */
        static const unsigned char sid_ctx[] = "arca";
        SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
        switch (auth) {
        case ARCA_TLS_CLIENT_CERT_NONE:
            SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
            break;
        case ARCA_TLS_CLIENT_CERT_OPTIONAL:
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, accept_any_cb);
            break;
        case ARCA_TLS_CLIENT_CERT_REQUIRED:
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                               accept_any_cb);
            break;
        default:
            rc = arca_err_set(ARCA_ERR_INVALID_ARG, "TLS: unknown client auth mode %d", (int)auth);
        }
    }
    if (rc < 0) {
        SSL_CTX_free(ctx);
        return rc;
    }
    *out = ctx;
    return 0;
}

void arca_tls_ctx_no_resumption(struct ssl_ctx_st *ctx)
{
    if (ctx == NULL)
        return;
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
}

/* Replaces X509_verify_cert for client certificates: any is acceptable at the TLS layer. */
static int any_client_chain_cb(X509_STORE_CTX *xctx, void *arg)
{
    (void)arg;
    X509_STORE_CTX_set_error(xctx, X509_V_OK);
    return 1;
}

void arca_tls_ctx_skip_client_chain(struct ssl_ctx_st *ctx)
{
    if (ctx != NULL)
        SSL_CTX_set_cert_verify_callback(ctx, any_client_chain_cb, NULL);
}

int arca_tls_client_ctx_new(const struct arca_x509 *cert, const struct arca_key *key,
                            const uint8_t *pinned_key_id, struct ssl_ctx_st **out)
{
    ARCA_ENSURE_REF(out);
    if (CRYPTO_THREAD_run_once(&pin_once, pin_index_init) != 1 || pin_index < 0)
        return arca_ossl_err(ARCA_ERR_INTERNAL, "TLS: cannot allocate the pin index");
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL)
        return arca_ossl_err(ARCA_ERR_ALLOC, "TLS: SSL_CTX_new");
    int rc = ctx_common(ctx, cert, key, NULL, 0);
    uint8_t *pin = NULL;
    if (rc == 0 && pinned_key_id != NULL) {
        pin = malloc(ARCA_SHA256_LEN);
        if (pin == NULL) {
            rc = arca_err_set(ARCA_ERR_ALLOC, "TLS: out of memory");
        } else {
            memcpy(pin, pinned_key_id, ARCA_SHA256_LEN);
            if (SSL_CTX_set_ex_data(ctx, pin_index, pin) != 1) {
                free(pin);
                pin = NULL;
                rc = arca_ossl_err(ARCA_ERR_ALLOC, "TLS: cannot store the pin");
            }
        }
    }
    if (rc < 0) {
        SSL_CTX_free(ctx);
        return rc;
    }
    /* The pin is owned by the context's ex-data (freed with it) and lent to the callback. */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_cert_verify_callback(ctx, pin_cert_verify_cb, pin);
    *out = ctx;
    return 0;
}

void arca_tls_ctx_free(struct ssl_ctx_st *ctx)
{
    SSL_CTX_free(ctx);
}

struct ssl_st *arca_tls_new(struct ssl_ctx_st *ctx)
{
    if (ctx == NULL) {
        arca_err_set(ARCA_ERR_INVALID_ARG, "TLS: context is NULL");
        return NULL;
    }
    SSL *ssl = SSL_new(ctx);
    if (ssl == NULL)
        arca_ossl_err(ARCA_ERR_ALLOC, "TLS: SSL_new failed");
    return ssl;
}

int arca_tls_set_hooks(struct ssl_st *ssl, const struct arca_tls_hooks *hooks, void *arg)
{
    ARCA_ENSURE_REF(ssl);
    ARCA_ENSURE_REF(hooks);
    if (CRYPTO_THREAD_run_once(&hooks_once, hooks_index_init) != 1 || hooks_index < 0)
        return arca_ossl_err(ARCA_ERR_INTERNAL, "TLS: cannot allocate the hooks index");
    ARCA_ENSURE(SSL_get_ex_data(ssl, hooks_index) == NULL, ARCA_ERR_INVALID_ARG,
                "TLS: the connection has hooks already");
    struct hooks_data *d = calloc(1, sizeof(*d));
    ARCA_ENSURE(d != NULL, ARCA_ERR_ALLOC, "TLS: out of memory");
    d->hooks = hooks;
    d->arg = arg;
    if (SSL_set_ex_data(ssl, hooks_index, d) != 1) {
        free(d);
        return arca_ossl_err(ARCA_ERR_ALLOC, "TLS: cannot attach the hooks");
    }
    SSL_set_info_callback(ssl, hooks_info_cb);
    return 0;
}

void *arca_tls_hooks_arg(struct ssl_st *ssl)
{
    if (ssl == NULL || hooks_index < 0)
        return NULL;
    struct hooks_data *d = SSL_get_ex_data(ssl, hooks_index);
    return d != NULL ? d->arg : NULL;
}

void arca_tls_free(struct ssl_st *ssl)
{
    SSL_free(ssl);
}

int arca_tls_peer_key_id(struct ssl_st *ssl, uint8_t out[ARCA_SHA256_LEN])
{
    ARCA_ENSURE_REF(ssl);
    ARCA_ENSURE_REF(out);
    X509 *peer = SSL_get0_peer_certificate(ssl);
    if (peer == NULL)
        return arca_err_set(ARCA_ERR_UNAUTHENTICATED, "TLS: the peer presented no certificate");
    EVP_PKEY *pkey = X509_get0_pubkey(peer);
    if (pkey == NULL)
        return arca_ossl_err(ARCA_ERR_UNAUTHENTICATED, "TLS: unreadable peer key");
    return arca_pkey_id(pkey, out);
}

int arca_tls_peer_key(struct ssl_st *ssl, struct arca_key **out)
{
    ARCA_ENSURE_REF(ssl);
    ARCA_ENSURE_REF(out);
    X509 *peer = SSL_get0_peer_certificate(ssl);
    if (peer == NULL)
        return arca_err_set(ARCA_ERR_UNAUTHENTICATED, "TLS: the peer presented no certificate");
    EVP_PKEY *pkey = X509_get_pubkey(peer);
    if (pkey == NULL)
        return arca_ossl_err(ARCA_ERR_UNAUTHENTICATED, "TLS: unreadable peer key");
    struct arca_key *k = arca_key_wrap(pkey, false);
    if (k == NULL)
        return ARCA_ERR_ALLOC;
    *out = k;
    return 0;
}

const char *arca_tls_version(struct ssl_st *ssl)
{
    return ssl != NULL ? SSL_get_version(ssl) : "none";
}
