/*
 * TLS hygiene of the contexts tls.c builds: TLS 1.2 only with ECDHE + AEAD suites, on servers
 * and clients (a peer offering only CBC / SHA-1 MAC suites gets no handshake); and the
 * connection hooks arcad's admission uses (handshake done once, gone on free). Drives OpenSSL
 * directly, which only crypto/ tests may do.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
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
#include "crypto/crypto_internal.h"
#include "crypto/tls.h"

#define T0 1767225600

struct ident {
    struct arca_key *key;
    struct arca_x509 *cert;
};

static void ident_make(struct ident *id)
{
    assert_int_equal(arca_key_generate(ARCA_KEY_P256, &id->key), 0);
    struct arca_x509_params p = {
        .common_name = "t", .not_before = T0 - 3650LL * 86400, .not_after = T0 + 3650LL * 86400};
    assert_int_equal(arca_x509_build(&p, id->key, NULL, NULL, &id->cert), 0);
}

static void ident_free(struct ident *id)
{
    arca_key_free(id->key);
    arca_x509_free(id->cert);
}

struct side {
    SSL *ssl;
    int fd;
    int ok;
};

static void *accept_thread(void *arg)
{
    struct side *s = arg;
    SSL_set_fd(s->ssl, s->fd);
    s->ok = SSL_accept(s->ssl) == 1;
    ERR_clear_error();
    shutdown(s->fd, SHUT_RDWR);
    return NULL;
}

/* One handshake between server ssl srv and client ssl cli; returns the negotiated cipher name
 * (static) or NULL when either side failed. Frees neither. */
static const char *handshake(SSL *srv, SSL *cli)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct side s = {srv, sv[0], 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, accept_thread, &s), 0);
    SSL_set_fd(cli, sv[1]);
    int ok = SSL_connect(cli) == 1;
    ERR_clear_error();
    shutdown(sv[1], SHUT_RDWR);
    pthread_join(th, NULL);
    close(sv[0]);
    close(sv[1]);
    return ok && s.ok ? SSL_get_cipher_name(cli) : NULL;
}

/* A plain OpenSSL context limited to TLS 1.2 and the given suites. */
static SSL_CTX *raw_ctx(bool server, const char *suites, const struct ident *id)
{
    SSL_CTX *c = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    assert_non_null(c);
    SSL_CTX_set_max_proto_version(c, TLS1_2_VERSION);
    assert_int_equal(SSL_CTX_set_cipher_list(c, suites), 1);
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
    if (id != NULL) {
        assert_int_equal(SSL_CTX_use_certificate(c, id->cert->x509), 1);
        assert_int_equal(SSL_CTX_use_PrivateKey(c, id->key->pkey), 1);
    }
    return c;
}

static const char *const weak[] = {"ECDHE-ECDSA-AES128-SHA",
                                   "ECDHE-ECDSA-AES256-SHA",
                                   "ECDHE-ECDSA-AES128-SHA256",
                                   "ECDHE-ECDSA-AES256-SHA384",
                                   "AES128-SHA",
                                   "AES128-GCM-SHA256"};
static const char *const strong[] = {"ECDHE-ECDSA-AES128-GCM-SHA256",
                                     "ECDHE-ECDSA-AES256-GCM-SHA384",
                                     "ECDHE-ECDSA-CHACHA20-POLY1305"};

static void test_server_refuses_weak_suites(void **state)
{
    (void)state;
    struct ident id;
    ident_make(&id);
    SSL_CTX *sctx = NULL;
    assert_int_equal(
        arca_tls_server_ctx_new(id.cert, id.key, NULL, 0, ARCA_TLS_CLIENT_CERT_OPTIONAL, &sctx), 0);
    for (size_t i = 0; i < sizeof(weak) / sizeof(weak[0]); i++) {
        SSL_CTX *cctx = raw_ctx(false, weak[i], NULL);
        SSL *srv = arca_tls_new(sctx), *cli = SSL_new(cctx);
        const char *got = handshake(srv, cli);
        if (got != NULL)
            fail_msg("the server accepted %s", got);
        SSL_free(cli);
        SSL_free(srv);
        SSL_CTX_free(cctx);
    }
    for (size_t i = 0; i < sizeof(strong) / sizeof(strong[0]); i++) {
        SSL_CTX *cctx = raw_ctx(false, strong[i], NULL);
        SSL *srv = arca_tls_new(sctx), *cli = SSL_new(cctx);
        const char *got = handshake(srv, cli);
        assert_non_null(got);
        assert_string_equal(got, strong[i]);
        SSL_free(cli);
        SSL_free(srv);
        SSL_CTX_free(cctx);
    }
    arca_tls_ctx_free(sctx);
    ident_free(&id);
}

static void test_client_refuses_weak_suites(void **state)
{
    (void)state;
    struct ident id;
    ident_make(&id);
    SSL_CTX *cctx = NULL;
    assert_int_equal(arca_tls_client_ctx_new(NULL, NULL, NULL, &cctx), 0);
    for (size_t i = 0; i < 4; i++) { /* the ECDHE-ECDSA CBC suites fit the server's key */
        SSL_CTX *sctx = raw_ctx(true, weak[i], &id);
        SSL *srv = SSL_new(sctx), *cli = arca_tls_new(cctx);
        const char *got = handshake(srv, cli);
        if (got != NULL)
            fail_msg("the client accepted %s", got);
        SSL_free(cli);
        SSL_free(srv);
        SSL_CTX_free(sctx);
    }
    SSL_CTX *sctx = raw_ctx(true, strong[0], &id);
    SSL *srv = SSL_new(sctx), *cli = arca_tls_new(cctx);
    assert_non_null(handshake(srv, cli));
    SSL_free(cli);
    SSL_free(srv);
    SSL_CTX_free(sctx);
    arca_tls_ctx_free(cctx);
    ident_free(&id);
}

struct counts {
    int done, gone;
};

static void on_done(void *arg)
{
    ((struct counts *)arg)->done++;
}

static void on_gone(void *arg)
{
    ((struct counts *)arg)->gone++;
}

static const struct arca_tls_hooks hooks = {on_done, on_gone};

static void test_hooks(void **state)
{
    (void)state;
    struct ident id;
    ident_make(&id);
    SSL_CTX *sctx = NULL, *cctx = NULL;
    assert_int_equal(
        arca_tls_server_ctx_new(id.cert, id.key, NULL, 0, ARCA_TLS_CLIENT_CERT_NONE, &sctx), 0);
    assert_int_equal(arca_tls_client_ctx_new(NULL, NULL, NULL, &cctx), 0);
    struct counts n = {0, 0}, unused = {0, 0};
    SSL *srv = arca_tls_new(sctx), *cli = arca_tls_new(cctx);
    assert_null(arca_tls_hooks_arg(srv));
    assert_int_equal(arca_tls_set_hooks(srv, &hooks, &n), 0);
    assert_int_equal(arca_tls_set_hooks(srv, &hooks, &unused), ARCA_ERR_INVALID_ARG);
    assert_ptr_equal(arca_tls_hooks_arg(srv), &n);
    assert_int_equal(n.done, 0);
    assert_non_null(handshake(srv, cli)); /* TLS 1.3, with session tickets after it */
    assert_int_equal(n.done, 1);
    assert_int_equal(n.gone, 0);
    arca_tls_free(srv);
    assert_int_equal(n.gone, 1);
    arca_tls_free(cli);
    /* A connection freed before any handshake reports only its end. */
    struct counts m = {0, 0};
    srv = arca_tls_new(sctx);
    assert_int_equal(arca_tls_set_hooks(srv, &hooks, &m), 0);
    arca_tls_free(srv);
    assert_int_equal(m.done, 0);
    assert_int_equal(m.gone, 1);
    assert_int_equal(unused.gone + unused.done, 0);
    arca_tls_ctx_free(cctx);
    arca_tls_ctx_free(sctx);
    ident_free(&id);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_refuses_weak_suites),
        cmocka_unit_test(test_client_refuses_weak_suites),
        cmocka_unit_test(test_hooks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
