/*
 * Routing and the transport-independent request path: URI parsing (path decoding, query
 * parsing), route matching, authentication gate, handler call, answer encoding. The evhttp
 * glue (http.c) and the unit tests / fuzz target (arcad_dispatch_raw) both enter here, so the
 * code that sees untrusted request bytes is the code the fuzzer runs.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "api/json.h"
#include "api_owner.h"
#include "arcad_internal.h"
#include "base/enc.h"
#include "base/err.h"
#include "base/log.h"
#include "base/time.h"
#include "limits/limits.h"

struct arcad_router *arcad_router_new(void)
{
    struct arcad_router *r = calloc(1, sizeof(*r));
    if (r == NULL)
        arca_err_set(ARCA_ERR_ALLOC, "router: out of memory");
    return r;
}

void arcad_router_free(struct arcad_router *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->count; i++) {
        free(r->routes[i].path);
        free(r->routes[i].method);
    }
    free(r);
}

int arcad_router_add(struct arcad_router *r, const char *method, const char *path, int flags,
                     const char *name, arcad_handler h, void *arg)
{
    ARCA_ENSURE_REF(r);
    ARCA_ENSURE_REF(method);
    ARCA_ENSURE_REF(path);
    ARCA_ENSURE_REF(name);
    ARCA_ENSURE_REF(h);
    ARCA_ENSURE(path[0] == '/', ARCA_ERR_INVALID_ARG, "route %s: path must start with '/'", path);
    ARCA_ENSURE(strcmp(method, "GET") == 0 || strcmp(method, "POST") == 0 ||
                    strcmp(method, "PUT") == 0 || strcmp(method, "DELETE") == 0,
                ARCA_ERR_INVALID_ARG, "route %s: unsupported method '%s'", path, method);
    ARCA_ENSURE(r->count < ARCAD_MAX_ROUTES, ARCA_ERR_LIMIT, "router: more than %d routes",
                ARCAD_MAX_ROUTES);
    struct arcad_route *rt = &r->routes[r->count];
    memset(rt, 0, sizeof(*rt));
    rt->method = strdup(method);
    rt->path = strdup(path);
    if (rt->method == NULL || rt->path == NULL) {
        free(rt->method);
        free(rt->path);
        return arca_err_set(ARCA_ERR_ALLOC, "router: out of memory");
    }
    rt->path_len = strlen(path);
    rt->flags = flags;
    rt->name = name;
    rt->handler = h;
    rt->arg = arg;
    r->count++;
    return 0;
}

/* ---- metrics slots ------------------------------------------------------------------------ */

static const int status_codes[ARCAD_STATUS_SLOTS] = {200, 201, 400, 401, 403, 404, 405,
                                                     409, 413, 429, 500, 503, 0};
const int *arcad_status_codes(void)
{
    return status_codes;
}

static int status_slot(int status)
{
    for (int i = 0; i < ARCAD_STATUS_SLOTS - 1; i++)
        if (status_codes[i] == status)
            return i;
    return ARCAD_STATUS_SLOTS - 1; /* "other" */
}

/* Upper bounds in milliseconds of the latency histogram buckets (+Inf is implied). */
static const double latency_bounds_ms[ARCAD_LATENCY_BUCKETS] = {1,  2,   5,   10,   25,
                                                                50, 100, 250, 1000, 5000};
const double *arcad_latency_bounds_ms(void)
{
    return latency_bounds_ms;
}

static void route_count(struct arcad_route_stats *st, int status, int64_t elapsed_ms)
{
    atomic_fetch_add_explicit(&st->by_status[status_slot(status)], 1, memory_order_relaxed);
    for (int i = 0; i < ARCAD_LATENCY_BUCKETS; i++)
        if ((double)elapsed_ms <= latency_bounds_ms[i]) {
            atomic_fetch_add_explicit(&st->latency[i], 1, memory_order_relaxed);
            break;
        }
    atomic_fetch_add_explicit(&st->latency_count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&st->latency_sum_ms, (uint64_t)elapsed_ms, memory_order_relaxed);
}

/* ---- request accessors -------------------------------------------------------------------- */

struct arcad_ctx *arcad_request_ctx(struct arcad_request *req)
{
    return req->ctx;
}
const char *arcad_request_method(struct arcad_request *req)
{
    return req->method;
}
const char *arcad_request_path(struct arcad_request *req)
{
    return req->path;
}
const char *arcad_request_path_rest(struct arcad_request *req)
{
    return req->rest != NULL ? req->rest : "";
}
const char *arcad_request_query(struct arcad_request *req, const char *name)
{
    if (!req->have_query)
        return NULL;
    return evhttp_find_header(&req->query, name);
}
void arcad_request_body(struct arcad_request *req, const uint8_t **p, size_t *n)
{
    *p = req->body;
    *n = req->body_len;
}

int arcad_request_json(struct arcad_request *req, json_t **out)
{
    return arca_json_parse_object(req->body, req->body_len, "request body", out);
}

bool arcad_request_peer_key_id(struct arcad_request *req, uint8_t out[ARCA_SHA256_LEN])
{
    if (!req->have_peer)
        return false;
    memcpy(out, req->peer_id, ARCA_SHA256_LEN);
    return true;
}

int arcad_request_peer_key(struct arcad_request *req, struct arca_key **out)
{
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(req->have_peer && req->peer_key != NULL, ARCA_ERR_UNAUTHENTICATED,
                "no client certificate");
    *out = arca_key_ref(req->peer_key);
    return 0;
}

const char *arcad_request_peer_addr(struct arcad_request *req)
{
    return req->peer_addr;
}

/* ---- answers ------------------------------------------------------------------------------ */

int arcad_err_status(int code)
{
    switch (code) {
    case ARCA_OK:
        return 200;
    case ARCA_ERR_INVALID_ARG:
    case ARCA_ERR_FORMAT:
    case ARCA_ERR_TRUNCATED:
    case ARCA_ERR_POLICY:
    case ARCA_ERR_SIGNATURE:
    case ARCA_ERR_CERT:
    case ARCA_ERR_EXPIRED:
    case ARCA_ERR_REVOKED:
    case ARCA_ERR_REPLAY:
    case ARCA_ERR_INSECURE:
    case ARCA_ERR_UNSUPPORTED:
        return 400;
    case ARCA_ERR_UNAUTHENTICATED:
        return 401;
    case ARCA_ERR_DENIED:
        return 403;
    case ARCA_ERR_NOT_FOUND:
        return 404;
    case ARCA_ERR_EXISTS:
    case ARCA_ERR_CONFLICT:
        return 409;
    case ARCA_ERR_TOO_LARGE:
        return 413;
    case ARCA_ERR_LIMIT:
        return 429;
    case ARCA_ERR_NETWORK:
    case ARCA_ERR_TIMEOUT:
        return 503;
    default:
        return 500;
    }
}

static void reply_bytes(struct arcad_request *req, int status, const char *content_type,
                        const void *p, size_t n)
{
    if (req->replied) {
        arca_error("arcad", "%s %s: handler answered twice", req->method, req->path);
        return;
    }
    req->replied = true;
    req->status = status;
    snprintf(req->content_type, sizeof(req->content_type), "%s", content_type);
    if (req->sink != NULL) {
        arca_buf_reset(req->sink);
        if (arca_buf_put(req->sink, p, n) < 0)
            req->status = 500;
        return;
    }
    if (req->send != NULL)
        req->send(req, status, content_type, p, n);
}

void arcad_reply_raw(struct arcad_request *req, int status, const char *content_type, const void *p,
                     size_t n)
{
    reply_bytes(req, status, content_type, p, n);
}

void arcad_reply_json(struct arcad_request *req, int status, json_t *body)
{
    if (body == NULL)
        body = json_object();
    /* Answers may carry configuration with secret values (enclave API): the text is wiped. */
    struct arca_buf text;
    arca_buf_init_secret(&text, 0);
    int rc = body != NULL ? arca_json_dump(body, false, &text) : ARCA_ERR_ALLOC;
    json_decref(body);
    if (rc < 0) {
        static const char oom[] = ARCA_API_ERROR_OOM;
        reply_bytes(req, 500, "application/json", oom, sizeof(oom) - 1);
    } else {
        reply_bytes(req, status, "application/json", text.data, text.len);
    }
    arca_buf_free(&text);
}

static void reply_msg(struct arcad_request *req, int status, const char *msg)
{
    arcad_reply_json(req, status, arca_api_error_new(&msg, 1));
}

void arcad_reply_error(struct arcad_request *req, int status, const char *fmt, ...)
{
    char msg[ARCA_ERR_DETAIL_MAX + 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    reply_msg(req, status, msg);
}

void arcad_reply_err(struct arcad_request *req, int code)
{
    const char *d = arca_err_detail();
    int status = arcad_err_status(code);
    if (status >= 500)
        arca_warn("arcad", "%s %s: %s", req->method, req->path, d[0] ? d : arca_strerror(code));
    reply_msg(req, status, d[0] != '\0' ? d : arca_strerror(code));
}

/* ---- dispatch ----------------------------------------------------------------------------- */

/*
 * Splits and decodes the request URI into req->path and req->query. Refuses encoded NULs,
 * paths that do not start with '/', and dot segments (so that a session name can never be
 * smuggled as "a/../b").
 */
static int request_parse_uri(struct arcad_request *req, const char *uri)
{
    size_t ulen = strlen(uri);
    ARCA_ENSURE(ulen > 0 && uri[0] == '/', ARCA_ERR_FORMAT, "request URI must start with '/'");
    const char *q = memchr(uri, '?', ulen);
    size_t plen = q != NULL ? (size_t)(q - uri) : ulen;
    char *raw = strndup(uri, plen);
    ARCA_ENSURE(raw != NULL, ARCA_ERR_ALLOC, "out of memory");
    size_t dlen = 0;
    char *dec = evhttp_uridecode(raw, 0, &dlen);
    free(raw);
    ARCA_ENSURE(dec != NULL, ARCA_ERR_ALLOC, "out of memory");
    if (dlen != strlen(dec)) {
        free(dec);
        ARCA_BAIL(ARCA_ERR_FORMAT, "request path contains an encoded NUL byte");
    }
    for (const char *s = dec; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            free(dec);
            ARCA_BAIL(ARCA_ERR_FORMAT, "request path contains a control character");
        }
    }
    if (strstr(dec, "/../") != NULL || strstr(dec, "/./") != NULL || strstr(dec, "//") != NULL ||
        (dlen >= 3 && strcmp(dec + dlen - 3, "/..") == 0) ||
        (dlen >= 2 && strcmp(dec + dlen - 2, "/.") == 0)) {
        free(dec);
        ARCA_BAIL(ARCA_ERR_FORMAT, "request path contains an empty or dot segment");
    }
    req->path = dec;
    if (q != NULL && q[1] != '\0') {
        req->query.tqh_first = NULL; /* TAILQ_INIT without sys/queue.h */
        req->query.tqh_last = &req->query.tqh_first;
        if (evhttp_parse_query_str(q + 1, &req->query) != 0) {
            evhttp_clear_headers(&req->query);
            free(dec);
            req->path = NULL;
            ARCA_BAIL(ARCA_ERR_FORMAT, "request query string is malformed");
        }
        req->have_query = true;
    }
    return 0;
}

void arcad_request_cleanup(struct arcad_request *req)
{
    if (req->have_query)
        evhttp_clear_headers(&req->query);
    req->have_query = false;
    free(req->path);
    req->path = NULL;
    arca_key_free(req->peer_key);
    req->peer_key = NULL;
}

/* Calls the matched route's handler and makes sure req is answered exactly once. */
static void run_handler(struct arcad_request *req)
{
    arca_err_clear();
    req->route->handler(req, req->route->arg);
    if (!req->replied) {
        arca_error("arcad", "%s %s: handler did not answer", req->method, req->path);
        arcad_reply_error(req, 500, "internal error: no answer");
    }
}

/* Takes a token of req's peer address; false once it answered 429 (with Retry-After). Both
 * buckets' sizes are named, since the caller cannot tell which one ran empty. */
static bool rate_allows(struct arcad_request *req)
{
    struct arca_ratelimit *rl = req->ctx != NULL ? req->ctx->ratelimit : NULL;
    if (rl == NULL)
        return true;
    int64_t wait_ms = 0;
    if (arca_ratelimit_take(rl, req->peer_net, sizeof(req->peer_net), arca_time_mono_ms(),
                            &wait_ms) == 0)
        return true;
    const struct arcad_config *cfg = &req->ctx->cfg;
    int64_t s = (wait_ms + 999) / 1000;
    req->retry_after_s = s < 1 ? 1 : s > 3600 ? 3600 : (int)s;
    arcad_reply_error(req, 429,
                      "too many requests to %s: at most %g per second per peer address "
                      "(--rate-limit, burst %g: --rate-burst) and %g per second from all peers "
                      "(--global-rate-limit, 0 = none); retry in %d s",
                      req->path, cfg->rate_per_peer, cfg->rate_burst_per_peer, cfg->rate_global,
                      req->retry_after_s);
    return false;
}

/* Moves what src owns (path, query, peer key) and its other fields into dst; src keeps nothing
 * to free. The query list's first entry points back at its head, which moves with it. */
static void request_move(struct arcad_request *dst, struct arcad_request *src)
{
    *dst = *src;
    if (dst->have_query) {
        if (dst->query.tqh_first != NULL)
            dst->query.tqh_first->next.tqe_prev = &dst->query.tqh_first;
        else
            dst->query.tqh_last = &dst->query.tqh_first;
    }
    src->path = NULL;
    src->rest = NULL;
    src->have_query = false;
    src->peer_key = NULL;
}

/* Hands req to the transport's job pool: 0, or < 0 with a detail and req as it was. */
static int offload_start(struct arcad_request *req, int64_t t0)
{
    struct arcad_offload *job = calloc(1, sizeof(*job));
    ARCA_ENSURE(job != NULL, ARCA_ERR_ALLOC, "out of memory");
    arca_buf_init_secret(&job->body, 0);
    arca_buf_init_secret(&job->answer, 0);
    if (req->body_len > 0 && arca_buf_put(&job->body, req->body, req->body_len) < 0) {
        arca_buf_free(&job->body);
        free(job);
        return arca_err_set(ARCA_ERR_ALLOC, "out of memory");
    }
    job->t0_ms = t0;
    request_move(&job->req, req);
    job->req.body = job->body.data;
    job->req.sink = &job->answer;
    int rc = req->offload(job);
    if (rc < 0) {
        const uint8_t *body = req->body;
        request_move(req, &job->req);
        req->body = body;
        req->sink = NULL;
        arca_buf_free(&job->body);
        arca_buf_free(&job->answer);
        free(job);
    }
    return rc;
}

/*
 * The request log: one info line per answered request with what an operator needs to follow a
 * client (method, path without the query, status, the client key id, duration). Never the body
 * or the query: both may carry secrets (explicit values, tokens).
 */
static void request_log(const struct arcad_request *req, int64_t elapsed_ms)
{
    /* On the stack: a heap block here could inherit stale bytes that libraries freed. */
    char key[2 * ARCA_SHA256_LEN + 1] = "-";
    if (req->have_peer)
        arca_hex_fmt(key, req->peer_id, ARCA_SHA256_LEN);
    arca_info("http", "%s %s %d key %s peer %s %lld ms", req->method,
              req->path != NULL ? req->path : "?", req->status, key,
              req->peer_addr[0] ? req->peer_addr : "-", (long long)elapsed_ms);
}

void arcad_offload_work(struct arcad_offload *job)
{
    run_handler(&job->req);
}

void arcad_offload_finish(struct arcad_offload *job, bool transport_alive)
{
    struct arcad_request *req = &job->req;
    struct arcad_route_stats *stats = (struct arcad_route_stats *)&req->route->stats;
    int64_t elapsed = arca_time_mono_ms() - job->t0_ms;
    route_count(stats, req->status, elapsed);
    request_log(req, elapsed);
    if (transport_alive && req->send != NULL)
        req->send(req, req->status, req->content_type, job->answer.data, job->answer.len);
    else
        arca_debug("arcad", "%s %s: the client left before its answer", req->method, req->path);
    arcad_request_cleanup(req);
    arca_buf_free(&job->body);
    arca_buf_free(&job->answer);
    free(job);
}

void arcad_dispatch(struct arcad_router *r, struct arcad_request *req, const char *uri)
{
    int64_t t0 = arca_time_mono_ms();
    struct arcad_route_stats *stats = &r->unmatched;
    int rc = request_parse_uri(req, uri);
    if (rc < 0) {
        req->path = strdup("?");
        arcad_reply_err(req, rc);
        goto out;
    }
    const struct arcad_route *match = NULL;
    bool path_seen = false;
    for (size_t i = 0; i < r->count; i++) {
        const struct arcad_route *rt = &r->routes[i];
        bool hit = (rt->flags & ARCAD_ROUTE_PREFIX)
                       ? strncmp(req->path, rt->path, rt->path_len) == 0
                       : strcmp(req->path, rt->path) == 0;
        if (!hit)
            continue;
        path_seen = true;
        if (strcmp(req->method, rt->method) == 0) {
            match = rt;
            break;
        }
    }
    if (match == NULL) {
        if (path_seen)
            arcad_reply_error(req, 405, "method %s is not allowed on %s", req->method, req->path);
        else
            arcad_reply_error(req, 404, "no such endpoint: %s %s", req->method, req->path);
        goto out;
    }
    stats = (struct arcad_route_stats *)&match->stats;
    req->route = match;
    req->rest = (match->flags & ARCAD_ROUTE_PREFIX) ? req->path + match->path_len : "";
    if (!(match->flags & ARCAD_ROUTE_NO_CERT) && !req->have_peer) {
        arcad_reply_error(req, 401,
                          "%s %s needs a client certificate (create one with `arca self keygen`)",
                          req->method, req->path);
        goto out;
    }
    if ((match->flags & ARCAD_ROUTE_RATE_LIMITED) && !rate_allows(req))
        goto out;
    if (req->ctx != NULL && arcad_owner_gate(req, req->method, match->name))
        goto out; /* the owner's requirements are unmet (api_owner.h) */
    if ((match->flags & ARCAD_ROUTE_OFFLOAD) && req->offload != NULL) {
        rc = offload_start(req, t0);
        if (rc == 0)
            return; /* answered and counted by arcad_offload_finish */
        arcad_reply_error(req, 503, "%s", arca_err_detail()[0] ? arca_err_detail() : "busy");
        goto out;
    }
    run_handler(req);
out:;
    int64_t elapsed = arca_time_mono_ms() - t0;
    route_count(stats, req->status, elapsed);
    request_log(req, elapsed);
}

int arcad_dispatch_raw(struct arcad_ctx *ctx, struct arcad_router *r, const char *method,
                       const char *uri, const void *body, size_t n, const uint8_t *peer_id,
                       int *status, struct arca_buf *answer)
{
    ARCA_ENSURE_REF(r);
    ARCA_ENSURE_REF(method);
    ARCA_ENSURE_REF(uri);
    ARCA_ENSURE_REF(status);
    ARCA_ENSURE_REF(answer);
    struct arcad_request req;
    memset(&req, 0, sizeof(req));
    req.ctx = ctx;
    req.method = method;
    req.body = body;
    req.body_len = n;
    req.sink = answer;
    snprintf(req.peer_addr, sizeof(req.peer_addr), "local");
    if (peer_id != NULL) {
        req.have_peer = true;
        memcpy(req.peer_id, peer_id, ARCA_SHA256_LEN);
    }
    arcad_dispatch(r, &req, uri);
    *status = req.status;
    arcad_request_cleanup(&req);
    return 0;
}
