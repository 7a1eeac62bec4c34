/*
 * TLS contexts: real handshakes over a socketpair (server in a thread) checking client-cert
 * modes, server key pinning (match, mismatch, none), peer key ids and the negotiated version.
 * This test drives the handshake with OpenSSL's SSL_* calls, which only crypto/ tests may do.
 */
#include <pthread.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "base/err.h"
#include "crypto/tls.h"

#define T0 1767225600

struct ident {
    struct arca_key *key;
    struct arca_x509 *cert;
    uint8_t id[32];
};

static void ident_make(struct ident *id, enum arca_key_type t, const char *cn)
{
    assert_int_equal(arca_key_generate(t, &id->key), 0);
    /* Self-signed, valid around the real clock: TLS peers are identified by key only. */
    struct arca_x509_params p = {
        .common_name = cn, .not_before = T0 - 3650LL * 86400, .not_after = T0 + 3650LL * 86400};
    assert_int_equal(arca_x509_build(&p, id->key, NULL, NULL, &id->cert), 0);
    assert_int_equal(arca_key_id(id->key, id->id), 0);
}

static void ident_free(struct ident *id)
{
    arca_key_free(id->key);
    arca_x509_free(id->cert);
}

struct server_run {
    SSL *ssl;
    int fd;
    int ok;
    uint8_t peer_id[32];
    int peer_rc;
    long verify; /* SSL_get_verify_result: what a chain check said */
};

static void *server_thread(void *arg)
{
    struct server_run *s = arg;
    SSL_set_fd(s->ssl, s->fd);
    s->ok = SSL_accept(s->ssl) == 1;
    if (s->ok) {
        s->peer_rc = arca_tls_peer_key_id(s->ssl, s->peer_id);
        s->verify = SSL_get_verify_result(s->ssl);
        char buf[8];
        if (SSL_read(s->ssl, buf, sizeof(buf)) == 4)
            SSL_write(s->ssl, buf, 4);
        SSL_shutdown(s->ssl);
    }
    ERR_clear_error();
    shutdown(s->fd, SHUT_RDWR);
    return NULL;
}

/* Runs one handshake; returns whether the client side succeeded. Fills the server's view. */
static bool handshake(SSL_CTX *sctx, SSL_CTX *cctx, struct server_run *srv, uint8_t client_saw[32],
                      const char **version)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    memset(srv, 0, sizeof(*srv));
    srv->ssl = arca_tls_new(sctx);
    assert_non_null(srv->ssl);
    srv->fd = sv[0];
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, server_thread, srv), 0);
    SSL *c = arca_tls_new(cctx);
    assert_non_null(c);
    SSL_set_fd(c, sv[1]);
    bool ok = SSL_connect(c) == 1;
    if (ok) {
        /* TLS 1.3: a server-side rejection of the client certificate arrives with the first
         * read, so exchange data before calling it a success. */
        char buf[8];
        ok = SSL_write(c, "ping", 4) == 4 && SSL_read(c, buf, sizeof(buf)) == 4 &&
             memcmp(buf, "ping", 4) == 0;
    }
    if (ok) {
        assert_int_equal(arca_tls_peer_key_id(c, client_saw), 0);
        struct arca_key *pk = NULL;
        assert_int_equal(arca_tls_peer_key(c, &pk), 0);
        uint8_t kid[32];
        assert_int_equal(arca_key_id(pk, kid), 0);
        assert_memory_equal(kid, client_saw, 32);
        arca_key_free(pk);
        *version = arca_tls_version(c);
        SSL_shutdown(c);
    }
    ERR_clear_error();
    shutdown(sv[1], SHUT_RDWR);
    pthread_join(th, NULL);
    arca_tls_free(c);
    arca_tls_free(srv->ssl);
    srv->ssl = NULL;
    close(sv[0]);
    close(sv[1]);
    return ok;
}

static void test_mutual_pinned(void **state)
{
    (void)state;
    struct ident server, client;
    ident_make(&server, ARCA_KEY_P256, "arcad");
    ident_make(&client, ARCA_KEY_ED25519, "client");
    SSL_CTX *sctx = NULL, *cctx = NULL;
    assert_int_equal(arca_tls_server_ctx_new(server.cert, server.key, NULL, 0,
                                             ARCA_TLS_CLIENT_CERT_REQUIRED, &sctx),
                     0);
    assert_int_equal(arca_tls_client_ctx_new(client.cert, client.key, server.id, &cctx), 0);
    struct server_run srv;
    uint8_t saw[32];
    const char *ver = NULL;
    assert_true(handshake(sctx, cctx, &srv, saw, &ver));
    assert_true(srv.ok);
    assert_int_equal(srv.peer_rc, 0);
    assert_memory_equal(srv.peer_id, client.id, 32);
    assert_memory_equal(saw, server.id, 32);
    assert_string_equal(ver, "TLSv1.3");
    arca_tls_ctx_free(cctx);
    arca_tls_ctx_free(sctx);
    ident_free(&server);
    ident_free(&client);
}

static void test_pin_mismatch_and_none(void **state)
{
    (void)state;
    struct ident server, other;
    ident_make(&server, ARCA_KEY_RSA2048, "arcad");
    ident_make(&other, ARCA_KEY_P256, "impostor");
    SSL_CTX *sctx = NULL, *bad = NULL, *nopin = NULL;
    assert_int_equal(arca_tls_server_ctx_new(server.cert, server.key, NULL, 0,
                                             ARCA_TLS_CLIENT_CERT_OPTIONAL, &sctx),
                     0);
    assert_int_equal(arca_tls_client_ctx_new(NULL, NULL, other.id, &bad), 0);
    assert_int_equal(arca_tls_client_ctx_new(NULL, NULL, NULL, &nopin), 0);
    struct server_run srv;
    uint8_t saw[32];
    const char *ver = NULL;
    /* The pinned key is someone else's: the client aborts. */
    assert_false(handshake(sctx, bad, &srv, saw, &ver));
    /* No pin (first contact): accepted; the server sees no client certificate. */
    assert_true(handshake(sctx, nopin, &srv, saw, &ver));
    assert_memory_equal(saw, server.id, 32);
    assert_int_equal(srv.peer_rc, ARCA_ERR_UNAUTHENTICATED);
    arca_tls_ctx_free(sctx);
    arca_tls_ctx_free(bad);
    arca_tls_ctx_free(nopin);
    ident_free(&server);
    ident_free(&other);
}

static void test_client_cert_required(void **state)
{
    (void)state;
    struct ident server, client;
    ident_make(&server, ARCA_KEY_P384, "arcad");
    ident_make(&client, ARCA_KEY_P256, "client");
    SSL_CTX *req = NULL, *none = NULL, *anon = NULL, *withcert = NULL;
    assert_int_equal(arca_tls_server_ctx_new(server.cert, server.key, NULL, 0,
                                             ARCA_TLS_CLIENT_CERT_REQUIRED, &req),
                     0);
    assert_int_equal(
        arca_tls_server_ctx_new(server.cert, server.key, NULL, 0, ARCA_TLS_CLIENT_CERT_NONE, &none),
        0);
    assert_int_equal(arca_tls_client_ctx_new(NULL, NULL, server.id, &anon), 0);
    assert_int_equal(arca_tls_client_ctx_new(client.cert, client.key, server.id, &withcert), 0);
    struct server_run srv;
    uint8_t saw[32];
    const char *ver = NULL;
    assert_false(handshake(req, anon, &srv, saw, &ver));
    assert_false(srv.ok);
    /* Not asked: the server sees no certificate even though the client has one. */
    assert_true(handshake(none, withcert, &srv, saw, &ver));
    assert_int_equal(srv.peer_rc, ARCA_ERR_UNAUTHENTICATED);
    arca_tls_ctx_free(req);
    arca_tls_ctx_free(none);
    arca_tls_ctx_free(anon);
    arca_tls_ctx_free(withcert);
    ident_free(&server);
    ident_free(&client);
}

/* A server certificate issued by a CA the client has never seen, with the CA sent as chain, and
 * a client certificate from another unknown CA: only the pinned key matters on either side. */
static void test_issued_certs(void **state)
{
    (void)state;
    struct ident ca, server, client;
    ident_make(&ca, ARCA_KEY_P384, "some CA");
    struct arca_x509_params p = {.common_name = "arcad",
                                 .eku = ARCA_EKU_SERVER,
                                 .not_before = T0 - 86400,
                                 .not_after = T0 + 3650LL * 86400};
    assert_int_equal(arca_key_generate(ARCA_KEY_P256, &server.key), 0);
    assert_int_equal(arca_x509_build(&p, server.key, ca.cert, ca.key, &server.cert), 0);
    assert_int_equal(arca_key_id(server.key, server.id), 0);
    /* An expired client certificate is fine too: validity is not arca's identity check. */
    assert_int_equal(arca_key_generate(ARCA_KEY_ED25519, &client.key), 0);
    struct arca_x509_params cp = {.common_name = "old client",
                                  .eku = ARCA_EKU_CLIENT,
                                  .not_before = 1000000000,
                                  .not_after = 1000086400};
    assert_int_equal(arca_x509_build(&cp, client.key, NULL, NULL, &client.cert), 0);
    assert_int_equal(arca_key_id(client.key, client.id), 0);
    SSL_CTX *sctx = NULL, *cctx = NULL, *wrong = NULL;
    const struct arca_x509 *chain[] = {ca.cert};
    assert_int_equal(arca_tls_server_ctx_new(server.cert, server.key, chain, 1,
                                             ARCA_TLS_CLIENT_CERT_REQUIRED, &sctx),
                     0);
    assert_int_equal(arca_tls_client_ctx_new(client.cert, client.key, server.id, &cctx), 0);
    /* Pinning the CA's key instead of the server's must fail. */
    assert_int_equal(arca_tls_client_ctx_new(client.cert, client.key, ca.id, &wrong), 0);
    struct server_run srv;
    uint8_t saw[32];
    const char *ver = NULL;
    assert_true(handshake(sctx, cctx, &srv, saw, &ver));
    assert_memory_equal(saw, server.id, 32);
    assert_int_equal(srv.peer_rc, 0);
    assert_memory_equal(srv.peer_id, client.id, 32);
    assert_false(handshake(sctx, wrong, &srv, saw, &ver));
    arca_tls_ctx_free(sctx);
    arca_tls_ctx_free(cctx);
    arca_tls_ctx_free(wrong);
    ident_free(&ca);
    ident_free(&server);
    ident_free(&client);
}

/* arca_tls_ctx_skip_client_chain: client certificates no chain check could pass (self-signed,
 * expired, issued by an unknown CA) are taken without X509_verify_cert running at all. */
static void test_skip_client_chain(void **state)
{
    (void)state;
    struct ident server, ca, own, old, issued;
    ident_make(&server, ARCA_KEY_P256, "arcad");
    ident_make(&ca, ARCA_KEY_P384, "unknown CA");
    ident_make(&own, ARCA_KEY_P256, "self-signed client");
    assert_int_equal(arca_key_generate(ARCA_KEY_ED25519, &old.key), 0);
    struct arca_x509_params op = {
        .common_name = "expired", .not_before = 1000000000, .not_after = 1000086400};
    assert_int_equal(arca_x509_build(&op, old.key, NULL, NULL, &old.cert), 0);
    assert_int_equal(arca_key_id(old.key, old.id), 0);
    assert_int_equal(arca_key_generate(ARCA_KEY_P256, &issued.key), 0);
    struct arca_x509_params ip = {.common_name = "issued",
                                  .eku = ARCA_EKU_CLIENT,
                                  .not_before = T0 - 86400,
                                  .not_after = T0 + 3650LL * 86400};
    assert_int_equal(arca_x509_build(&ip, issued.key, ca.cert, ca.key, &issued.cert), 0);
    assert_int_equal(arca_key_id(issued.key, issued.id), 0);
    SSL_CTX *checked = NULL, *skipped = NULL;
    assert_int_equal(arca_tls_server_ctx_new(server.cert, server.key, NULL, 0,
                                             ARCA_TLS_CLIENT_CERT_OPTIONAL, &checked),
                     0);
    assert_int_equal(arca_tls_server_ctx_new(server.cert, server.key, NULL, 0,
                                             ARCA_TLS_CLIENT_CERT_OPTIONAL, &skipped),
                     0);
    arca_tls_ctx_skip_client_chain(skipped);
    arca_tls_ctx_skip_client_chain(NULL); /* no-op */
    struct ident *clients[] = {&own, &old, &issued};
    for (size_t i = 0; i < 3; i++) {
        SSL_CTX *cctx = NULL;
        assert_int_equal(
            arca_tls_client_ctx_new(clients[i]->cert, clients[i]->key, server.id, &cctx), 0);
        struct server_run srv;
        uint8_t saw[32];
        const char *ver = NULL;
        /* The chain check runs and fails, and the accept-any callback overrides it... */
        assert_true(handshake(checked, cctx, &srv, saw, &ver));
        assert_int_equal(srv.peer_rc, 0);
        assert_memory_equal(srv.peer_id, clients[i]->id, 32);
        assert_int_not_equal(srv.verify, X509_V_OK);
        /* ...or it does not run at all; the same key is seen either way. */
        assert_true(handshake(skipped, cctx, &srv, saw, &ver));
        assert_int_equal(srv.peer_rc, 0);
        assert_memory_equal(srv.peer_id, clients[i]->id, 32);
        assert_int_equal(srv.verify, X509_V_OK);
        assert_string_equal(ver, "TLSv1.3");
        arca_tls_ctx_free(cctx);
    }
    arca_tls_ctx_free(checked);
    arca_tls_ctx_free(skipped);
    ident_free(&server);
    ident_free(&ca);
    ident_free(&own);
    ident_free(&old);
    ident_free(&issued);
}

static void test_ctx_errors(void **state)
{
    (void)state;
    struct ident a, b;
    ident_make(&a, ARCA_KEY_P256, "a");
    ident_make(&b, ARCA_KEY_P256, "b");
    SSL_CTX *ctx = NULL;
    /* Key that does not match the certificate. */
    assert_int_equal(
        arca_tls_server_ctx_new(a.cert, b.key, NULL, 0, ARCA_TLS_CLIENT_CERT_NONE, &ctx),
        ARCA_ERR_INVALID_ARG);
    assert_int_equal(arca_tls_client_ctx_new(a.cert, NULL, NULL, &ctx), ARCA_ERR_INVALID_ARG);
    assert_int_equal(
        arca_tls_server_ctx_new(a.cert, a.key, NULL, 0, (enum arca_tls_client_auth)7, &ctx),
        ARCA_ERR_INVALID_ARG);
    assert_null(ctx);
    /* A chain certificate is accepted. */
    assert_int_equal(arca_tls_server_ctx_new(a.cert, a.key,
                                             (const struct arca_x509 *const[]){b.cert}, 1,
                                             ARCA_TLS_CLIENT_CERT_NONE, &ctx),
                     0);
    arca_tls_ctx_free(ctx);
    assert_null(arca_tls_new(NULL));
    assert_string_equal(arca_tls_version(NULL), "none");
    ident_free(&a);
    ident_free(&b);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* a peer aborting the handshake must not kill the test */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mutual_pinned),        cmocka_unit_test(test_pin_mismatch_and_none),
        cmocka_unit_test(test_client_cert_required), cmocka_unit_test(test_issued_certs),
        cmocka_unit_test(test_ctx_errors),           cmocka_unit_test(test_skip_client_chain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
