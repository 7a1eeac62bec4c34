/*
 * TLS contexts for arcad (libevent bufferevent_openssl), the CLI and arca-run, built here so
 * that nothing else includes OpenSSL. struct ssl_st / ssl_ctx_st are only forward-declared;
 * libevent's bufferevent_ssl.h takes them as such.
 *
 * Identity model (DESIGN §3): peers are identified by SHA-256 of their certificate's DER SPKI;
 * certificates may be self-signed, chains are not validated, only the key counts.
 */
#ifndef ARCA_CRYPTO_TLS_H
#define ARCA_CRYPTO_TLS_H

#include <stdbool.h>
#include <stdint.h>

#include "crypto/crypto.h"

struct ssl_st;
struct ssl_ctx_st;

enum arca_tls_client_auth {
    ARCA_TLS_CLIENT_CERT_NONE = 0,     /* do not ask */
    ARCA_TLS_CLIENT_CERT_OPTIONAL = 1, /* ask; accept any certificate or none */
    ARCA_TLS_CLIENT_CERT_REQUIRED = 2, /* ask; handshake fails without one */
};

/* A server context: TLS 1.3 preferred, 1.2 minimum (TLS 1.2 with ECDHE + AES-GCM or
 * ChaCha20-Poly1305 suites only: no CBC, no SHA-1 MAC, no static RSA), with cert/key (chain
 * optional). Client
 * certificates of any issuer are accepted (self-signed allowed); applications authorise by key.
 * Free with arca_tls_ctx_free. */
int arca_tls_server_ctx_new(const struct arca_x509 *cert, const struct arca_key *key,
                            const struct arca_x509 *const *chain, size_t chain_count,
                            enum arca_tls_client_auth auth, struct ssl_ctx_st **out);

/* No session resumption on ctx (a server context): no TLS 1.3 tickets sent, no TLS 1.2 ticket
 * or session cache. For ports whose clients never resume (arca-run makes a fresh key per
 * launch): the tickets would cost every handshake an encryption and two extra records. */
void arca_tls_ctx_no_resumption(struct ssl_ctx_st *ctx);
/* Client certificates on ctx (a server context that asks for them) are taken without any
 * chain check: libssl's X509_verify_cert, whose every verdict the accept-any verify callback
 * overrode anyway (only the key counts, DESIGN §3), is not run at all. The client still proves
 * that it holds the key (CertificateVerify, checked by libssl). */
void arca_tls_ctx_skip_client_chain(struct ssl_ctx_st *ctx);
/* A client context (same versions and suites as servers) presenting cert/key (both may be NULL) and accepting the server only if its
 * key id equals pinned_key_id (NULL: no server check, for the first contact only). */
int arca_tls_client_ctx_new(const struct arca_x509 *cert, const struct arca_key *key,
                            const uint8_t *pinned_key_id, struct ssl_ctx_st **out);
/* Makes ctx, a client context built by someone else (libcurl, in its CURLOPT_SSL_CTX_FUNCTION),
 * present cert/key: the key goes in as it is, without the PEM round trip of libcurl's
 * CURLOPT_SSLKEY_BLOB (an encoder and a decoder set up per launch). Both are referenced by ctx,
 * not copied. ARCA_ERR_INVALID_ARG if they do not match. */
int arca_tls_ctx_use_cert_key(struct ssl_ctx_st *ctx, const struct arca_x509 *cert,
                              const struct arca_key *key);
void arca_tls_ctx_free(struct ssl_ctx_st *ctx);
/* A new connection object for ctx; never returns NULL silently: NULL only with an error set. */
struct ssl_st *arca_tls_new(struct ssl_ctx_st *ctx);
void arca_tls_free(struct ssl_st *ssl);
/*
 * Connection hooks, for servers that account for their connections themselves (arcad):
 * done(arg) runs once, when the handshake of ssl has completed; gone(arg) runs when ssl is
 * freed, whoever frees it (for arcad: libevent, after it closed the socket), and must not use
 * ssl. Both run on the thread that drives or frees the connection. hooks must outlive ssl; arg
 * is borrowed. ARCA_ERR_INVALID_ARG if ssl has hooks already.
 */
struct arca_tls_hooks {
    void (*done)(void *arg);
    void (*gone)(void *arg);
};
int arca_tls_set_hooks(struct ssl_st *ssl, const struct arca_tls_hooks *hooks, void *arg);
/* The arg given to arca_tls_set_hooks for ssl, or NULL. */
void *arca_tls_hooks_arg(struct ssl_st *ssl);
/* The peer's key id; ARCA_ERR_UNAUTHENTICATED if the peer presented no certificate. */
int arca_tls_peer_key_id(struct ssl_st *ssl, uint8_t out[ARCA_SHA256_LEN]);
/* The peer's certificate's key (new reference). */
int arca_tls_peer_key(struct ssl_st *ssl, struct arca_key **out);
/* Negotiated protocol, e.g. "TLSv1.3" (static). */
const char *arca_tls_version(struct ssl_st *ssl);

#endif
