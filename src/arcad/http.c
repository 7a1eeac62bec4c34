/*
 * arcad's HTTP transport: one libevent loop per worker thread, each with its own evhttp on
 * SO_REUSEPORT listeners (client API, enclave API) so the kernel spreads connections and the
 * request path takes no lock. TLS comes from bufferevent_openssl via a fail-closed bev
 * callback. A separate plaintext listener on worker 0 serves Prometheus metrics when asked.
 *
 * Shutdown: main blocks SIGTERM/SIGINT in every thread and waits for them with sigwait; then
 * every worker stops accepting (listeners closed), gets a short grace period to flush the
 * answers it has queued, and its loop exits.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <event2/util.h>

#include "arcad_internal.h"
#include "base/err.h"
#include "base/log.h"
#include "crypto/tls.h"

struct worker;

/* One evhttp serving one listener address on one worker. */
struct server {
    struct worker *w;
    struct evhttp *http;
    struct evhttp_bound_socket *bound;
    struct arcad_router *router; /* NULL: metrics */
    struct ssl_ctx_st *tls;      /* NULL: plaintext (metrics only) */
};

struct worker {
    int index;
    struct arcad_ctx *ctx;
    struct event_base *base;
    struct event *drain_ev;
    pthread_t thread;
    bool started;
    struct server client, enclave, metrics;
    /* Connections that have sent a request, for the per-worker cap (owned by the loop). */
    struct evhttp_connection **conns;
    size_t nconns;
};

/* ---- connection cap ----------------------------------------------------------------------- */

static void conn_closed(struct evhttp_connection *evcon, void *arg)
{
    struct worker *w = arg;
    for (size_t i = 0; i < w->nconns; i++)
        if (w->conns[i] == evcon) {
            w->conns[i] = w->conns[--w->nconns];
            atomic_fetch_sub_explicit(&w->ctx->metrics->connections, 1, memory_order_relaxed);
            return;
        }
}

/* Returns false if evcon is new and the worker is at its cap. */
static bool conn_admit(struct worker *w, struct evhttp_connection *evcon)
{
    for (size_t i = 0; i < w->nconns; i++)
        if (w->conns[i] == evcon)
            return true;
    if (w->nconns >= (size_t)w->ctx->cfg.max_conns_per_worker)
        return false;
    w->conns[w->nconns++] = evcon;
    atomic_fetch_add_explicit(&w->ctx->metrics->connections, 1, memory_order_relaxed);
    evhttp_connection_set_closecb(evcon, conn_closed, w);
    return true;
}

/* ---- request glue ------------------------------------------------------------------------- */

static void send_evhttp(struct arcad_request *req, int status, const char *content_type,
                        const void *p, size_t n)
{
    struct evhttp_request *ev = req->transport;
    struct evkeyvalq *h = evhttp_request_get_output_headers(ev);
    evhttp_add_header(h, "Content-Type", content_type);
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    struct evbuffer *out = evbuffer_new();
    if (out == NULL || evbuffer_add(out, p, n) != 0) {
        evbuffer_free(out);
        evhttp_send_error(ev, 500, "out of memory");
        return;
    }
    evhttp_send_reply(ev, status, NULL, out);
    evbuffer_free(out);
}

static const char *method_name(enum evhttp_cmd_type t)
{
    switch (t) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    default:
        return "OTHER";
    }
}

static void on_request(struct evhttp_request *ev, void *arg)
{
    struct server *s = arg;
    struct worker *w = s->w;
    struct arcad_request req;
    memset(&req, 0, sizeof(req));
    req.ctx = w->ctx;
    req.transport = ev;
    req.send = send_evhttp;
    req.method = method_name(evhttp_request_get_command(ev));

    struct evhttp_connection *evcon = evhttp_request_get_connection(ev);
    if (evcon != NULL) {
        char *addr = NULL;
        ev_uint16_t port = 0;
        evhttp_connection_get_peer(evcon, &addr, &port);
        snprintf(req.peer_addr, sizeof(req.peer_addr), "%s:%u", addr ? addr : "?", port);
        /* The metrics listener is not capped: it must stay scrapeable under load. */
        if (s->router != NULL && !conn_admit(w, evcon)) {
            evhttp_add_header(evhttp_request_get_output_headers(ev), "Connection", "close");
            arcad_reply_error(&req, 503, "too many connections; retry later");
            return;
        }
        struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
        struct ssl_st *ssl =
            (s->tls != NULL && bev != NULL) ? bufferevent_openssl_get_ssl(bev) : NULL;
        if (ssl != NULL && arca_tls_peer_key(ssl, &req.peer_key) == 0) {
            if (arca_key_id(req.peer_key, req.peer_id) == 0)
                req.have_peer = true;
        }
        arca_err_clear();
    }

    if (s->router == NULL) { /* metrics listener */
        const char *uri = evhttp_request_get_uri(ev);
        struct arca_buf out;
        arca_buf_init(&out, 0);
        if (strcmp(req.method, "GET") == 0 && uri != NULL && strcmp(uri, "/metrics") == 0 &&
            arcad_metrics_render(w->ctx, &out) == 0)
            arcad_reply_raw(&req, 200, "text/plain; version=0.0.4", out.data, out.len);
        else
            arcad_reply_error(&req, 404, "only GET /metrics is served here");
        arca_buf_free(&out);
        arcad_request_cleanup(&req);
        return;
    }

    struct evbuffer *in = evhttp_request_get_input_buffer(ev);
    size_t n = evbuffer_get_length(in);
    if (n > 0) {
        req.body = evbuffer_pullup(in, -1);
        req.body_len = req.body != NULL ? n : 0;
    }
    const char *uri = evhttp_request_get_uri(ev);
    arcad_dispatch(s->router, &req, uri != NULL ? uri : "");
    arcad_request_cleanup(&req);
}

/*
 * Fail-closed bev callback: evhttp falls back to a plaintext bufferevent when this returns
 * NULL, which on a TLS port would serve HTTP in the clear. So it never returns NULL: if no
 * TLS connection object can be made (out of memory), arcad stops rather than fail open.
 */
static struct bufferevent *tls_bevcb(struct event_base *base, void *arg)
{
    struct server *s = arg;
    struct ssl_st *ssl = arca_tls_new(s->tls);
    struct bufferevent *bev = NULL;
    if (ssl != NULL)
        bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                             BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        arca_error("arcad",
                   "cannot create a TLS connection (%s); stopping rather than "
                   "serving plaintext",
                   ssl == NULL ? arca_err_detail() : "bufferevent_openssl_socket_new failed");
        abort();
    }
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}

/* ---- listeners ---------------------------------------------------------------------------- */

static int parse_addr(const char *what, const char *hostport, struct sockaddr_storage *ss,
                      int *sslen)
{
    ARCA_ENSURE(hostport != NULL && hostport[0] != '\0', ARCA_ERR_INVALID_ARG,
                "%s: address is empty", what);
    *sslen = (int)sizeof(*ss);
    memset(ss, 0, sizeof(*ss));
    /* evutil refuses port 0, which asks the kernel for a free port: parse it as 1, then zero. */
    char tmp[300];
    size_t n = strlen(hostport);
    bool zero = n >= 2 && strcmp(hostport + n - 2, ":0") == 0;
    ARCA_ENSURE(n < sizeof(tmp) - 1, ARCA_ERR_INVALID_ARG, "%s: address too long", what);
    snprintf(tmp, sizeof(tmp), "%.*s%s", (int)(zero ? n - 1 : n), hostport, zero ? "1" : "");
    ARCA_ENSURE(evutil_parse_sockaddr_port(tmp, (struct sockaddr *)ss, sslen) == 0,
                ARCA_ERR_INVALID_ARG, "%s: cannot parse '%s' (expected HOST:PORT)", what, hostport);
    if (zero) {
        if (ss->ss_family == AF_INET)
            ((struct sockaddr_in *)ss)->sin_port = 0;
        else
            ((struct sockaddr_in6 *)ss)->sin6_port = 0;
    }
    return 0;
}

static in_port_t addr_port(const struct sockaddr_storage *ss)
{
    return ss->ss_family == AF_INET ? ((const struct sockaddr_in *)ss)->sin_port
                                    : ((const struct sockaddr_in6 *)ss)->sin6_port;
}

/* Would a and b (same port) collide? Same address, or either the wildcard of its family. */
static bool addr_overlaps(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (addr_port(a) == 0 || addr_port(a) != addr_port(b))
        return false;
    if (a->ss_family != b->ss_family)
        return false; /* a v6 wildcard may still cover v4; the bind probe then reports it */
    if (a->ss_family == AF_INET) {
        in_addr_t x = ((const struct sockaddr_in *)a)->sin_addr.s_addr;
        in_addr_t y = ((const struct sockaddr_in *)b)->sin_addr.s_addr;
        return x == y || x == htonl(INADDR_ANY) || y == htonl(INADDR_ANY);
    }
    const struct in6_addr *x = &((const struct sockaddr_in6 *)a)->sin6_addr;
    const struct in6_addr *y = &((const struct sockaddr_in6 *)b)->sin6_addr;
    return memcmp(x, y, sizeof(*x)) == 0 || IN6_IS_ADDR_UNSPECIFIED(x) ||
           IN6_IS_ADDR_UNSPECIFIED(y);
}

/* Binds a plain socket (SO_REUSEADDR like the real listeners, no SO_REUSEPORT) and closes it:
 * that fails with EADDRINUSE when anything listens there, a SO_REUSEPORT group included. */
static int probe_port_free(const char *what, const char *hostport,
                           const struct sockaddr_storage *ss, int sslen)
{
    if (addr_port(ss) == 0)
        return 0;
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ARCA_ENSURE(fd >= 0, ARCA_ERR_IO, "%s %s: socket: %s", what, hostport, strerror(errno));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    int r = bind(fd, (const struct sockaddr *)ss, (socklen_t)sslen);
    int e = errno;
    close(fd);
    ARCA_ENSURE(r == 0, ARCA_ERR_IO, "%s %s: cannot listen: %s%s", what, hostport, strerror(e),
                e == EADDRINUSE ? " (another arcad or program listens there; pick another port)"
                                : "");
    return 0;
}

int arcad_listen_check(const struct arcad_config *cfg)
{
    struct sockaddr_storage c, e, m;
    int cl, el, ml = 0;
    ARCA_TRY(parse_addr("--client-listen", cfg->client_listen, &c, &cl));
    ARCA_TRY(parse_addr("--enclave-listen", cfg->enclave_listen, &e, &el));
    if (cfg->metrics_listen != NULL)
        ARCA_TRY(parse_addr("--metrics-listen", cfg->metrics_listen, &m, &ml));
    ARCA_ENSURE(!addr_overlaps(&c, &e), ARCA_ERR_INVALID_ARG,
                "--client-listen %s and --enclave-listen %s: the two APIs need different ports",
                cfg->client_listen, cfg->enclave_listen);
    if (cfg->metrics_listen != NULL) {
        ARCA_ENSURE(!addr_overlaps(&m, &c) && !addr_overlaps(&m, &e), ARCA_ERR_INVALID_ARG,
                    "--metrics-listen %s: its port is already used by the client or enclave API",
                    cfg->metrics_listen);
    }
    ARCA_TRY(probe_port_free("--client-listen", cfg->client_listen, &c, cl));
    ARCA_TRY(probe_port_free("--enclave-listen", cfg->enclave_listen, &e, el));
    if (cfg->metrics_listen != NULL)
        ARCA_TRY(probe_port_free("--metrics-listen", cfg->metrics_listen, &m, ml));
    return 0;
}

static int server_setup(struct worker *w, struct server *s, const char *what,
                        struct sockaddr_storage *ss, int sslen, struct arcad_router *router,
                        struct ssl_ctx_st *tls, bool reuseport)
{
    const struct arcad_config *cfg = &w->ctx->cfg;
    s->w = w;
    s->router = router;
    s->tls = tls;
    s->http = evhttp_new(w->base);
    ARCA_ENSURE(s->http != NULL, ARCA_ERR_ALLOC, "%s: evhttp_new failed", what);
    evhttp_set_max_headers_size(s->http, (ev_ssize_t)cfg->max_header_bytes);
    evhttp_set_max_body_size(s->http, (ev_ssize_t)cfg->max_body_bytes);
    evhttp_set_timeout(s->http, cfg->request_timeout_s);
    evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                            EVHTTP_REQ_DELETE);
    evhttp_set_gencb(s->http, on_request, s);
    if (tls != NULL)
        evhttp_set_bevcb(s->http, tls_bevcb, s);
    unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE;
    if (reuseport)
        flags |= LEV_OPT_REUSEABLE_PORT;
    struct evconnlistener *l =
        evconnlistener_new_bind(w->base, NULL, NULL, flags, 512, (struct sockaddr *)ss, sslen);
    ARCA_ENSURE(l != NULL, ARCA_ERR_IO, "%s: cannot listen: %s", what, strerror(errno));
    /* Accepted sockets inherit TCP_NODELAY on Linux: without it, an answer written as head and
     * body segments waits for the client's delayed ACK (~40 ms per request). */
    int one = 1;
    setsockopt(evconnlistener_get_fd(l), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    s->bound = evhttp_bind_listener(s->http, l);
    if (s->bound == NULL) {
        evconnlistener_free(l);
        ARCA_BAIL(ARCA_ERR_IO, "%s: evhttp_bind_listener failed", what);
    }
    /* With port 0 the first worker's listener picks the port; the others reuse it. */
    struct sockaddr_storage got;
    socklen_t gl = sizeof(got);
    if (getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&got, &gl) == 0) {
        if (got.ss_family == AF_INET)
            ((struct sockaddr_in *)ss)->sin_port = ((struct sockaddr_in *)&got)->sin_port;
        else if (got.ss_family == AF_INET6)
            ((struct sockaddr_in6 *)ss)->sin6_port = ((struct sockaddr_in6 *)&got)->sin6_port;
    }
    return 0;
}

static void server_close(struct server *s)
{
    if (s->http != NULL && s->bound != NULL)
        evhttp_del_accept_socket(s->http, s->bound);
    s->bound = NULL;
}

static void server_free(struct server *s)
{
    if (s->http != NULL)
        evhttp_free(s->http);
    s->http = NULL;
}

static void on_drain(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    server_close(&w->client);
    server_close(&w->enclave);
    server_close(&w->metrics);
    struct timeval grace = {0, 300 * 1000};
    event_base_loopexit(w->base, &grace);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    event_base_dispatch(w->base);
    return NULL;
}

static void format_addr(const struct sockaddr_storage *ss, char *out, size_t n)
{
    char host[128] = "?";
    unsigned port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        evutil_inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
        port = ntohs(a->sin_port);
        snprintf(out, n, "%s:%u", host, port);
    } else {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        evutil_inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
        port = ntohs(a->sin6_port);
        snprintf(out, n, "[%s]:%u", host, port);
    }
}

/*
 * Request bodies (session YAML with explicit values, attest requests with access tokens and host
 * environment) pass through libevent's buffers, so every block libevent frees is wiped first.
 * The functions stay malloc-compatible, so blocks allocated before the switch are fine too.
 */
static void *ev_wiping_malloc(size_t n)
{
    return malloc(n);
}

static void *ev_wiping_realloc(void *p, size_t n)
{
    if (p == NULL)
        return malloc(n);
    size_t old = malloc_usable_size(p);
    void *q = malloc(n ? n : 1);
    if (q == NULL)
        return NULL; /* as realloc: p stays valid */
    memcpy(q, p, old < n ? old : n);
    arca_wipe(p, old);
    free(p);
    return q;
}

static void ev_wiping_free(void *p)
{
    if (p != NULL)
        arca_wipe(p, malloc_usable_size(p));
    free(p);
}

int arcad_serve(struct arcad_ctx *ctx)
{
    int rc = 0;
    const struct arcad_config *cfg = &ctx->cfg;
    struct sockaddr_storage client_ss, enclave_ss, metrics_ss;
    int client_len, enclave_len, metrics_len = 0;
    ARCA_TRY(parse_addr("--client-listen", cfg->client_listen, &client_ss, &client_len));
    ARCA_TRY(parse_addr("--enclave-listen", cfg->enclave_listen, &enclave_ss, &enclave_len));
    if (cfg->metrics_listen != NULL)
        ARCA_TRY(parse_addr("--metrics-listen", cfg->metrics_listen, &metrics_ss, &metrics_len));

    event_set_mem_functions(ev_wiping_malloc, ev_wiping_realloc, ev_wiping_free);
    ARCA_ENSURE(evthread_use_pthreads() == 0, ARCA_ERR_INTERNAL, "evthread_use_pthreads failed");
    /* A client that goes away mid-answer must not kill arcad. */
    signal(SIGPIPE, SIG_IGN);
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    int nw = cfg->workers;
    struct worker *ws = calloc((size_t)nw, sizeof(*ws));
    ARCA_ENSURE(ws != NULL, ARCA_ERR_ALLOC, "out of memory");
    for (int i = 0; i < nw; i++) {
        struct worker *w = &ws[i];
        w->index = i;
        w->ctx = ctx;
        w->conns = calloc((size_t)cfg->max_conns_per_worker + 1, sizeof(*w->conns));
        w->base = event_base_new();
        ARCA_GUARD_ENSURE(rc, w->base != NULL && w->conns != NULL, out, ARCA_ERR_ALLOC,
                          "worker %d: cannot create its event loop", i);
        w->drain_ev = event_new(w->base, -1, 0, on_drain, w);
        ARCA_GUARD_ENSURE(rc, w->drain_ev != NULL, out, ARCA_ERR_ALLOC, "worker %d: event_new", i);
        ARCA_GUARD(rc,
                   server_setup(w, &w->client, "client API", &client_ss, client_len,
                                ctx->client_router, ctx->client_tls, true),
                   out);
        ARCA_GUARD(rc,
                   server_setup(w, &w->enclave, "enclave API", &enclave_ss, enclave_len,
                                ctx->enclave_router, ctx->enclave_tls, true),
                   out);
        if (i == 0 && cfg->metrics_listen != NULL)
            ARCA_GUARD(rc,
                       server_setup(w, &w->metrics, "metrics", &metrics_ss, metrics_len, NULL, NULL,
                                    false),
                       out);
    }
    char a1[160], a2[160], a3[160] = "off";
    format_addr(&client_ss, a1, sizeof(a1));
    format_addr(&enclave_ss, a2, sizeof(a2));
    if (cfg->metrics_listen != NULL)
        format_addr(&metrics_ss, a3, sizeof(a3));
    printf("client API listening on %s\nenclave API listening on %s\nmetrics listening on %s\n"
           "arcad ready (%d workers)\n",
           a1, a2, a3, nw);
    fflush(stdout);
    arca_info("arcad", "serving: client API %s, enclave API %s, metrics %s, %d workers", a1, a2, a3,
              nw);

    for (int i = 0; i < nw; i++) {
        if (pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]) != 0) {
            rc = arca_err_set(ARCA_ERR_INTERNAL, "cannot start worker thread %d", i);
            break;
        }
        ws[i].started = true;
    }
    if (rc == 0) {
        int sig = 0;
        sigwait(&sigs, &sig);
        arca_info("arcad", "signal %d: draining and stopping", sig);
    }
    for (int i = 0; i < nw; i++)
        if (ws[i].started)
            event_active(ws[i].drain_ev, EV_READ, 0);
    for (int i = 0; i < nw; i++)
        if (ws[i].started)
            pthread_join(ws[i].thread, NULL);
out:
    for (int i = 0; i < nw; i++) {
        struct worker *w = &ws[i];
        server_free(&w->client);
        server_free(&w->enclave);
        server_free(&w->metrics);
        if (w->drain_ev != NULL)
            event_free(w->drain_ev);
        if (w->base != NULL)
            event_base_free(w->base);
        free(w->conns);
    }
    free(ws);
    return rc;
}
