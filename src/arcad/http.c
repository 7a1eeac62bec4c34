/*
 * arcad's HTTP transport: one libevent loop per worker thread, each with its own evhttp on
 * SO_REUSEPORT listeners (client API, enclave API) so the kernel spreads connections and the
 * request path takes no lock. TLS comes from bufferevent_openssl via a fail-closed bev
 * callback. A separate plaintext listener on worker 0 serves Prometheus metrics when asked.
 *
 * Admission (policy in conns.c): every TLS connection is recorded from the moment evhttp asks
 * for its bufferevent, through hooks on its TLS object (handshake done; freed), until libevent
 * frees it; deadlines, caps and the accept() back-off close connections through evhttp's own
 * error path, so evhttp always frees what it owns.
 *
 * Shutdown: main blocks SIGTERM/SIGINT (and SIGHUP, which reloads: ctx->reload) in every thread
 * and waits for them with sigwait; on SIGTERM/SIGINT
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
#include "base/time.h"
#include "crypto/tls.h"
#include "pool.h"
#include "reload.h"
#include "service.h"

struct worker;

/* One evhttp serving one listener address on one worker. */
struct server {
    struct worker *w;
    struct evhttp *http;
    struct evhttp_bound_socket *bound;
    struct evconnlistener *listener; /* owned by bound; NULL once closed */
    struct event *resume_ev;         /* re-enables the listener after an accept() failure */
    struct arcad_router *router;     /* NULL: metrics */
    struct ssl_ctx_st *tls;          /* NULL: plaintext (metrics only) */
};

struct worker {
    int index;
    struct arcad_ctx *ctx;
    struct event_base *base;
    struct event *stop_ev;  /* SIGTERM: close the listeners */
    struct event *drain_ev; /* then, once the job pool is drained: exit after a grace period */
    pthread_t thread;
    bool started;
    struct server client, enclave, metrics;
    /* TLS connections of this worker (conns.h), owned by the loop. */
    struct arcad_conns conns;
    struct event *admit_ev;    /* admits new connections once evhttp gave them their socket */
    struct event *deadline_ev; /* closes connections past their deadline */
    int64_t deadline_armed_ms; /* when deadline_ev fires; -1: not armed */
    /* What this worker last added to the process-wide metrics. */
    int64_t published_active, published_pending;
    uint64_t published_closed[ARCAD_CLOSE_REASONS];
    /* accept() failures: paused since the last log line, and when that line was written. */
    uint64_t pauses_unlogged;
    int64_t pause_logged_ms;
};

/* Listener pause after accept() failed (out of descriptors): long enough not to spin, short
 * enough that a freed descriptor is used soon. At most one log line per interval. */
#define ACCEPT_PAUSE_MS 100
#define ACCEPT_LOG_INTERVAL_MS 10000
/* Connections closed per pause to give descriptors back: the oldest pending ones. */
#define ACCEPT_PAUSE_EVICT 8
/* Deadlines are checked at most this often (they are seconds long; this bounds the scans). */
#define DEADLINE_SLACK_MS 100

/*
 * libevent 2.1 calls a listener's error callback with the accept callback's argument, which
 * evhttp owns: the worker running the loop is found through this thread-local instead (each
 * worker thread runs exactly one loop).
 */
static _Thread_local struct worker *loop_worker;

/* ---- connection admission (policy in conns.c) ---------------------------------------------- */

/* Adds what changed in this worker's table to the process-wide gauges and counters. */
static void publish(struct worker *w)
{
    struct arcad_metrics *m = w->ctx->metrics;
    int64_t active = (int64_t)w->conns.nactive, pending = (int64_t)w->conns.npending;
    atomic_fetch_add_explicit(&m->connections, active - w->published_active, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->pending, pending - w->published_pending, memory_order_relaxed);
    w->published_active = active;
    w->published_pending = pending;
    for (int i = 0; i < ARCAD_CLOSE_REASONS; i++) {
        uint64_t d = w->conns.closed[i] - w->published_closed[i];
        if (d != 0)
            atomic_fetch_add_explicit(&m->conns_closed[i], d, memory_order_relaxed);
        w->published_closed[i] = w->conns.closed[i];
    }
}

/* Makes sure deadline_ev fires by at (ms); never touches events while the base is freed. */
static void want_deadline(struct worker *w, int64_t at)
{
    if (w->deadline_armed_ms >= 0 && w->deadline_armed_ms <= at)
        return;
    int64_t now = arca_time_mono_ms();
    int64_t in = at > now ? at - now : 0;
    if (in < DEADLINE_SLACK_MS)
        in = DEADLINE_SLACK_MS;
    struct timeval tv = {(time_t)(in / 1000), (suseconds_t)(in % 1000) * 1000};
    event_add(w->deadline_ev, &tv);
    w->deadline_armed_ms = now + in;
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct worker *w = arg;
    w->deadline_armed_ms = -1;
    int64_t next = arcad_conns_expire(&w->conns, arca_time_mono_ms());
    if (next >= 0)
        want_deadline(w, next);
    publish(w);
}

/*
 * Closes a connection the table gave up: evhttp's own error path runs at once (as for a reset
 * by the peer) and frees the connection; the TLS object, and with it the table's record, goes
 * in a later turn of the loop (conn_gone).
 */
static void conn_close(struct arcad_conn *c, void *arg)
{
    (void)arg;
    bufferevent_trigger_event(c->handle, BEV_EVENT_READING | BEV_EVENT_ERROR, 0);
}

static void conn_handshake_done(void *arg)
{
    struct arcad_conn *c = arg;
    struct worker *w = c->table->close_arg;
    arcad_conns_handshake_done(&w->conns, c, arca_time_mono_ms());
    if (c->phase == ARCAD_CONN_HEAD)
        want_deadline(w, c->deadline_ms);
}

/* Runs inside SSL_free, possibly while the event base is being freed: no events here. */
static void conn_gone(void *arg)
{
    struct arcad_conn *c = arg;
    struct worker *w = c->table->close_arg;
    arcad_conns_gone(&w->conns, c);
    publish(w);
}

static const struct arca_tls_hooks conn_hooks = {conn_handshake_done, conn_gone};

/* The peer's address as the table compares it: IPv4 (also v4-mapped IPv6) whole, IPv6 by its
 * /64, since one IPv6 host commonly owns a whole /64. Zero when unknown (already reset). */
static void peer_key(evutil_socket_t fd, uint8_t out[ARCAD_PEER_LEN])
{
    memset(out, 0, ARCAD_PEER_LEN);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &sl) != 0)
        return;
    if (ss.ss_family == AF_INET) {
        out[0] = 4;
        memcpy(out + 1, &((struct sockaddr_in *)&ss)->sin_addr, 4);
    } else if (ss.ss_family == AF_INET6) {
        const struct in6_addr *a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a)) {
            out[0] = 4;
            memcpy(out + 1, a->s6_addr + 12, 4);
        } else {
            out[0] = 6;
            memcpy(out + 1, a->s6_addr, 8);
        }
    }
}

/* Runs in the loop turn that accepted: evhttp has set the sockets by now. */
static void on_admit(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct worker *w = arg;
    struct arcad_conn *c;
    while ((c = arcad_conns_fresh(&w->conns)) != NULL) {
        uint8_t peer[ARCAD_PEER_LEN];
        peer_key(bufferevent_getfd(c->handle), peer);
        arcad_conns_admit(&w->conns, c, peer);
        if (c->phase == ARCAD_CONN_HANDSHAKE)
            want_deadline(w, c->deadline_ms);
    }
    publish(w);
}

static void on_answered(struct evhttp_request *ev, void *arg)
{
    (void)ev;
    struct arcad_conn *c = arg;
    struct worker *w = c->table->close_arg;
    arcad_conns_answered(&w->conns, c, arca_time_mono_ms());
    if (c->phase == ARCAD_CONN_IDLE)
        want_deadline(w, c->deadline_ms);
}

/* The table's record of the connection a request came on; NULL for plaintext (metrics) and
 * for a connection that could not be recorded (out of memory). */
static struct arcad_conn *conn_of(struct server *s, struct evhttp_connection *evcon)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
    if (s->tls == NULL || bev == NULL)
        return NULL;
    return arca_tls_hooks_arg(bufferevent_openssl_get_ssl(bev));
}

/* accept() failed (EMFILE, ENFILE, ENOBUFS...): libevent would retry at once, forever, and log
 * each time. Pause this listener instead, give back descriptors held by the oldest connections
 * that have not sent a request, and log once per interval. */
static void on_accept_error(struct evconnlistener *l, void *arg)
{
    (void)arg;
    int e = EVUTIL_SOCKET_ERROR();
    struct worker *w = loop_worker;
    if (w == NULL)
        return;
    struct server *s = NULL;
    struct server *all[3] = {&w->client, &w->enclave, &w->metrics};
    for (int i = 0; i < 3; i++)
        if (all[i]->listener == l)
            s = all[i];
    if (s == NULL)
        return;
    evconnlistener_disable(l);
    struct timeval tv = {0, ACCEPT_PAUSE_MS * 1000};
    event_add(s->resume_ev, &tv);
    if (e == EMFILE || e == ENFILE)
        for (int i = 0; i < ACCEPT_PAUSE_EVICT; i++)
            if (!arcad_conns_evict_oldest(&w->conns, ARCAD_CLOSE_FD_LIMIT))
                break;
    publish(w);
    atomic_fetch_add_explicit(&w->ctx->metrics->accept_paused, 1, memory_order_relaxed);
    w->pauses_unlogged++;
    int64_t now = arca_time_mono_ms();
    if (w->pause_logged_ms == 0 || now - w->pause_logged_ms >= ACCEPT_LOG_INTERVAL_MS) {
        arca_warn("arcad",
                  "worker %d: accept() failed: %s; pausing the listener for %d ms at a time "
                  "(%llu pauses since the last message)",
                  w->index, evutil_socket_error_to_string(e), ACCEPT_PAUSE_MS,
                  (unsigned long long)w->pauses_unlogged);
        w->pause_logged_ms = now;
        w->pauses_unlogged = 0;
    }
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct server *s = arg;
    if (s->listener != NULL)
        evconnlistener_enable(s->listener);
}

/* ---- request glue ------------------------------------------------------------------------- */

static void send_evhttp(struct arcad_request *req, int status, const char *content_type,
                        const void *p, size_t n)
{
    struct evhttp_request *ev = req->transport;
    struct evkeyvalq *h = evhttp_request_get_output_headers(ev);
    evhttp_add_header(h, "Content-Type", content_type);
    if (req->retry_after_s > 0) {
        char secs[16];
        snprintf(secs, sizeof(secs), "%d", req->retry_after_s);
        evhttp_add_header(h, "Retry-After", secs);
    }
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

/* ---- offloaded handlers (ARCAD_ROUTE_OFFLOAD) ---------------------------------------------- */

static void offload_work(void *arg)
{
    arcad_offload_work(arg);
}

/*
 * Back on the loop that took the request. If the client went away meanwhile (EOF, timeout, or
 * the admission table closed the connection), evhttp has detached the request from its freed
 * connection instead of freeing it, because no answer was sent yet: it is ours to free, and the
 * connection record its completion callback would have touched is gone, so nothing is sent.
 */
static void offload_done(void *arg)
{
    struct arcad_offload *job = arg;
    struct evhttp_request *ev = job->req.transport;
    bool alive = evhttp_request_get_connection(ev) != NULL;
    if (!alive)
        evhttp_request_free(ev);
    arcad_offload_finish(job, alive);
}

/* Called on a loop thread (the dispatcher runs there), so loop_worker is this loop's worker. */
static int offload_submit(struct arcad_offload *job)
{
    struct worker *w = loop_worker;
    ARCA_ENSURE(w != NULL && w->ctx->pool != NULL, ARCA_ERR_INTERNAL, "no job pool");
    int rc = arcad_pool_submit(w->ctx->pool, w->base, offload_work, offload_done, job);
    if (rc == ARCA_ERR_LIMIT)
        arca_warn("arcad", "%s %s from %s refused: %s", job->req.method, job->req.path,
                  job->req.peer_addr, arca_err_detail());
    return rc;
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

/*
 * evhttp frames a body by the first Content-Length header and ignores any other, and takes
 * Transfer-Encoding over Content-Length: a proxy in front that picks another one would see a
 * different request boundary (request smuggling). Such a request is refused, not guessed at.
 */
static bool body_length_unambiguous(struct evhttp_request *ev)
{
    int lengths = 0, encodings = 0;
    const struct evkeyvalq *h = evhttp_request_get_input_headers(ev);
    for (const struct evkeyval *kv = h->tqh_first; kv != NULL; kv = kv->next.tqe_next) {
        if (evutil_ascii_strcasecmp(kv->key, "Content-Length") == 0)
            lengths++;
        else if (evutil_ascii_strcasecmp(kv->key, "Transfer-Encoding") == 0)
            encodings++;
    }
    return lengths <= 1 && (lengths == 0 || encodings == 0);
}

/*
 * The client key's id, once per connection: it is a DER encoding and a hash, a third of a
 * keep-alive read's cost if done per request. The peer certificate cannot change on a
 * connection (renegotiation is off: crypto/tls.c), so the first request's id holds for all.
 * c may be NULL (then it is computed each time). false if the key has no id.
 */
static bool peer_id_of(struct arcad_conn *c, const struct arca_key *key, uint8_t id[32])
{
    if (c != NULL && c->peer_id_known) {
        memcpy(id, c->peer_id, 32);
        return true;
    }
    if (arca_key_id(key, id) < 0)
        return false;
    if (c != NULL) {
        memcpy(c->peer_id, id, 32);
        c->peer_id_known = true;
    }
    return true;
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
        struct arcad_conn *c = NULL;
        if (s->router != NULL) {
            c = conn_of(s, evcon);
            if (c == NULL || !arcad_conns_request(&w->conns, c)) {
                publish(w);
                evhttp_add_header(evhttp_request_get_output_headers(ev), "Connection", "close");
                arcad_reply_error(&req, 503, "too many connections; retry later");
                return;
            }
            publish(w);
            evhttp_request_set_on_complete_cb(ev, on_answered, c);
        }
        struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
        if (bev != NULL)
            peer_key(bufferevent_getfd(bev), req.peer_net);
        struct ssl_st *ssl =
            (s->tls != NULL && bev != NULL) ? bufferevent_openssl_get_ssl(bev) : NULL;
        if (ssl != NULL && arca_tls_peer_key(ssl, &req.peer_key) == 0)
            req.have_peer = peer_id_of(c, req.peer_key, req.peer_id);
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

    if (!body_length_unambiguous(ev)) {
        evhttp_add_header(evhttp_request_get_output_headers(ev), "Connection", "close");
        arcad_reply_error(&req, 400,
                          "more than one Content-Length, or Content-Length with "
                          "Transfer-Encoding: the body length is ambiguous");
        arcad_request_cleanup(&req);
        return;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(ev);
    size_t n = evbuffer_get_length(in);
    if (n > 0) {
        req.body = evbuffer_pullup(in, -1);
        req.body_len = req.body != NULL ? n : 0;
    }
    if (w->ctx->pool != NULL)
        req.offload = offload_submit;
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
    /* Admission needs the peer address, which evhttp sets on bev after this returns. A
     * connection that cannot be recorded (out of memory) is answered 503. */
    struct worker *w = s->w;
    struct arcad_conn *c = arcad_conns_open(&w->conns, bev, arca_time_mono_ms());
    if (c != NULL && arca_tls_set_hooks(ssl, &conn_hooks, c) < 0) {
        arcad_conns_gone(&w->conns, c);
        arca_err_clear();
        c = NULL;
    }
    if (c != NULL)
        event_active(w->admit_ev, EV_TIMEOUT, 0);
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
    s->listener = l;
    s->resume_ev = event_new(w->base, -1, 0, on_resume, s);
    ARCA_ENSURE(s->resume_ev != NULL, ARCA_ERR_ALLOC, "%s: event_new failed", what);
    evconnlistener_set_error_cb(l, on_accept_error);
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
    if (s->resume_ev != NULL)
        event_del(s->resume_ev);
    s->listener = NULL;
    if (s->http != NULL && s->bound != NULL)
        evhttp_del_accept_socket(s->http, s->bound);
    s->bound = NULL;
}

static void server_free(struct server *s)
{
    if (s->http != NULL)
        evhttp_free(s->http);
    s->http = NULL;
    if (s->resume_ev != NULL)
        event_free(s->resume_ev);
    s->resume_ev = NULL;
}

static void on_stop_accepting(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    server_close(&w->client);
    server_close(&w->enclave);
    server_close(&w->metrics);
}

static void on_drain(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    struct timeval grace = {0, 300 * 1000};
    event_base_loopexit(w->base, &grace);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    loop_worker = w;
    /* Runs until on_drain, also once the listeners are closed and no connection waits for
     * anything: the completions of jobs still running must find their loop alive. */
    event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
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

/*
 * A worker's event loop. evhttp turns a connection's read and write interest off and on again
 * around every request and answer; with the change list those changes reach the kernel once
 * per loop turn and fd, merged, instead of one epoll_ctl each. (The change list's caveat, fds
 * duplicated with dup(), does not apply: arcad registers no duplicated descriptor.)
 */
static struct event_base *loop_new(void)
{
    struct event_config *cfg = event_config_new();
    if (cfg == NULL)
        return NULL;
    event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    struct event_base *base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    return base;
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
    sigaddset(&sigs, SIGHUP);  /* reload: never arcad's default "terminate" */
    sigaddset(&sigs, SIGUSR1); /* audit log rotation (reload.h) */
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    const struct arcad_conn_limits limits = {
        .max_conns = cfg->max_conns_per_worker,
        .max_pending = cfg->max_pending,
        .max_pending_per_peer = cfg->max_pending_per_peer,
        .handshake_ms = (int64_t)cfg->handshake_timeout_s * 1000,
        .request_ms = (int64_t)cfg->request_deadline_s * 1000,
    };
    int nw = cfg->workers;
    struct worker *ws = calloc((size_t)nw, sizeof(*ws));
    ARCA_ENSURE(ws != NULL, ARCA_ERR_ALLOC, "out of memory");
    const struct arcad_pool_cfg pool_cfg = {
        .threads = cfg->jobs > 0 ? cfg->jobs : 1,
        .max_queued = cfg->max_queued_jobs > 0 ? cfg->max_queued_jobs : 1};
    ARCA_GUARD(rc, arcad_pool_new(&pool_cfg, &ctx->pool), out);
    for (int i = 0; i < nw; i++) {
        struct worker *w = &ws[i];
        w->index = i;
        w->ctx = ctx;
        arcad_conns_init(&w->conns, &limits, conn_close, w);
        w->deadline_armed_ms = -1;
        w->base = loop_new();
        ARCA_GUARD_ENSURE(rc, w->base != NULL, out, ARCA_ERR_ALLOC,
                          "worker %d: cannot create its event loop", i);
        w->stop_ev = event_new(w->base, -1, 0, on_stop_accepting, w);
        w->drain_ev = event_new(w->base, -1, 0, on_drain, w);
        w->admit_ev = event_new(w->base, -1, 0, on_admit, w);
        w->deadline_ev = event_new(w->base, -1, 0, on_deadline, w);
        ARCA_GUARD_ENSURE(rc,
                          w->stop_ev != NULL && w->drain_ev != NULL && w->admit_ev != NULL &&
                              w->deadline_ev != NULL,
                          out, ARCA_ERR_ALLOC, "worker %d: event_new", i);
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
    snprintf(ctx->client_bound, sizeof(ctx->client_bound), "%s", a1);
    snprintf(ctx->enclave_bound, sizeof(ctx->enclave_bound), "%s", a2);
    if (!ctx->starting)
        printf("client API listening on %s\nenclave API listening on %s\nmetrics listening on "
               "%s\narcad ready (%d workers)\n",
               a1, a2, a3, nw);
    fflush(stdout);
    arca_info("arcad",
              "serving: client API %s, enclave API %s, metrics %s, %d workers, %d job threads "
              "(queue %zu)",
              a1, a2, a3, nw, pool_cfg.threads, pool_cfg.max_queued);

    for (int i = 0; i < nw; i++) {
        if (pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]) != 0) {
            rc = arca_err_set(ARCA_ERR_INTERNAL, "cannot start worker thread %d", i);
            break;
        }
        ws[i].started = true;
    }
    if (rc == 0) {
        if (!ctx->starting && arcad_notify("READY=1") < 0)
            arca_warn("arcad", "%s", arca_err_detail());
        int sig = 0;
        while (sigwait(&sigs, &sig) == 0 && (sig == SIGHUP || sig == SIGUSR1)) {
            if (sig == SIGUSR1) {
                arcad_audit_rotate(ctx);
                continue;
            }
            arcad_notify("RELOADING=1");
            if (ctx->reload != NULL)
                ctx->reload(ctx, ctx->reload_arg);
            else
                arca_info("arcad", "SIGHUP: nothing to reload");
            arcad_notify("READY=1");
        }
        arca_info("arcad", "signal %d: draining and stopping%s", sig,
                  ctx->starting ? " the start-up server" : "");
        if (!ctx->starting)
            arcad_notify("STOPPING=1");
    }
    /* Stop taking connections, let the jobs in flight finish and hand their answers to the
     * still-running loops, then give the loops a grace period to flush them. */
    for (int i = 0; i < nw; i++)
        if (ws[i].started)
            event_active(ws[i].stop_ev, EV_READ, 0);
    arcad_pool_drain(ctx->pool);
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
        if (w->stop_ev != NULL)
            event_free(w->stop_ev);
        if (w->drain_ev != NULL)
            event_free(w->drain_ev);
        if (w->admit_ev != NULL)
            event_free(w->admit_ev);
        if (w->deadline_ev != NULL)
            event_free(w->deadline_ev);
        /* Frees the last connections, whose TLS objects report to w->conns (conn_gone). */
        if (w->base != NULL)
            event_base_free(w->base);
    }
    free(ws);
    /* Drained above (or never used when start-up failed): no loop runs any more. */
    arcad_pool_free(ctx->pool);
    ctx->pool = NULL;
    return rc;
}
