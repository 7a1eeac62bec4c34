/*
 * arcad internals shared between its own files, the unit tests and the fuzz target. Not an
 * interface for other modules (they use server.h).
 */
#ifndef ARCAD_INTERNAL_H
#define ARCAD_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <event2/keyvalq_struct.h>

#include "base/buf.h"
#include "conns.h"
#include "server.h"

#define ARCAD_MAX_ROUTES 64
#define ARCAD_STATUS_SLOTS 13 /* 200 201 400 401 403 404 405 409 413 429 500 503 other */
#define ARCAD_LATENCY_BUCKETS 10

/* Lock-free counters per route (relaxed atomics: metrics need no ordering). */
struct arcad_route_stats {
    atomic_uint_fast64_t by_status[ARCAD_STATUS_SLOTS];
    atomic_uint_fast64_t latency[ARCAD_LATENCY_BUCKETS]; /* non-cumulative bucket counts */
    atomic_uint_fast64_t latency_count;
    atomic_uint_fast64_t latency_sum_ms;
};

struct arcad_route {
    char *method;
    char *path;
    size_t path_len;
    int flags;
    const char *name;
    arcad_handler handler;
    void *arg;
    struct arcad_route_stats stats;
};

struct arcad_router {
    struct arcad_route routes[ARCAD_MAX_ROUTES];
    size_t count;
    struct arcad_route_stats unmatched;
};

/* The HTTP status codes of the status slots (last: 0 = other) and latency bucket bounds. */
const int *arcad_status_codes(void);
const double *arcad_latency_bounds_ms(void);

struct arcad_offload;

struct arcad_request {
    struct arcad_ctx *ctx;
    const char *method;
    char *path;       /* decoded, owned */
    const char *rest; /* into path */
    struct evkeyvalq query;
    bool have_query;
    const uint8_t *body;
    size_t body_len;
    bool have_peer;
    uint8_t peer_id[ARCA_SHA256_LEN];
    struct arca_key *peer_key; /* owned; NULL without a certificate */
    char peer_addr[72];
    /* The rate limiter's key: family byte + IPv4 address or IPv6 /64 (conns.h); zero unknown. */
    uint8_t peer_net[ARCAD_PEER_LEN];
    const struct arcad_route *route;
    bool replied;
    int status;
    int retry_after_s;     /* > 0: the answer carries Retry-After (429) */
    char content_type[48]; /* of the answer, kept when it goes into sink */
    /* Where the answer goes: a buffer (tests, fuzzing, offloaded handlers) or the transport. */
    struct arca_buf *sink;
    void (*send)(struct arcad_request *req, int status, const char *content_type, const void *p,
                 size_t n);
    void *transport; /* struct evhttp_request * for http.c */
    /* Set by a transport that can run ARCAD_ROUTE_OFFLOAD handlers elsewhere: queues job so that
     * arcad_offload_work runs on a pool thread and arcad_offload_finish back on this loop.
     * 0 = queued (job is the transport's now); < 0 with a detail = refused (job stays the
     * caller's). NULL: such handlers run inline. */
    int (*offload)(struct arcad_offload *job);
};

/*
 * An offloaded request: a copy of the request that owns everything the handler reads (path,
 * query, peer key, a wiped copy of the body) and answers into a wiped buffer. It no longer
 * refers to the transport's request object except through req.transport, which only
 * arcad_offload_finish touches, on the loop, where the transport knows whether it is alive.
 */
struct arcad_offload {
    struct arcad_request req;
    struct arca_buf body;   /* secret */
    struct arca_buf answer; /* secret */
    int64_t t0_ms;          /* dispatch start, for the route's latency */
};

/* Pool thread: runs the route's handler into job's answer buffer. */
void arcad_offload_work(struct arcad_offload *job);
/* Loop thread: counts the answer and, if transport_alive, sends it through job->req.send; then
 * frees job and everything it owns. */
void arcad_offload_finish(struct arcad_offload *job, bool transport_alive);

/* Routes req (method, body, peer already set) for uri; always answers. */
void arcad_dispatch(struct arcad_router *r, struct arcad_request *req, const char *uri);
/* Frees what arcad_dispatch allocated in req. */
void arcad_request_cleanup(struct arcad_request *req);

/*
 * Runs one request through router r without a network: for unit tests and the fuzz target.
 * peer_id NULL = no client certificate. The answer body replaces answer's contents; *status
 * gets the HTTP status. Returns 0 unless an argument is NULL.
 */
int arcad_dispatch_raw(struct arcad_ctx *ctx, struct arcad_router *r, const char *method,
                       const char *uri, const void *body, size_t n, const uint8_t *peer_id,
                       int *status, struct arca_buf *answer);

/* The session upload of POST /v1/sessions for yaml[n] (a create or an update by req's client
 * key); answers req. PUT /v1/encrypted_sessions uses it with the decrypted text. */
void arcad_session_upload(struct arcad_request *req, const uint8_t *yaml, size_t n);
/* The query's nonce of an evidence request (GET /v1/attest, /v1/session_encryption_key) into
 * nonce, with an evidence provider to answer it; false once it answered 400 / 503. */
bool arcad_evidence_request(struct arcad_request *req, uint8_t nonce[32]);
/* The session-encryption key of the CAS key cas (new; arca_key_free; api_encrypted.c). */
int arcad_session_key(const struct arca_key *cas, struct arca_key **out);
/* Registers GET /v1/session_encryption_key and PUT /v1/encrypted_sessions (api_encrypted.c). */
int arcad_encrypted_register(struct arcad_router *r, struct arcad_ctx *ctx);

/* Registers the client API (api.c) on ctx->client_router. */
int arcad_api_register(struct arcad_router *r, struct arcad_ctx *ctx);
struct arca_diag;
/* The proposal routes of the client API (api_proposals.c); arcad_api_register calls it. */
int arcad_proposals_register(struct arcad_router *r, struct arcad_ctx *ctx);
/* Shared by the client API's handlers (api.c): the library's view of arcad (store, audit log,
 * CAS key and limits, all borrowed from ctx); one request taken from client's quota (false once
 * it answered 429); an invalid upload's diagnostics answered as one error (400, or 413 for
 * ARCA_ERR_TOO_LARGE). */
struct arca_cas arcad_cas_of(const struct arcad_ctx *ctx);
bool arcad_within_quota(struct arcad_request *req, const uint8_t *client);
void arcad_reply_diag(struct arcad_request *req, int rc, const struct arca_diag *d);

/* Metrics (metrics.c): process-wide counters beyond the per-route ones in the routers. */
#define ARCAD_ATTEST_RESULTS 5 /* ok denied invalid insecure error */
struct arcad_metrics {
    atomic_int_fast64_t connections; /* connections with a request, all workers */
    atomic_int_fast64_t pending;     /* connections without a complete request, all workers */
    atomic_uint_fast64_t conns_closed[ARCAD_CLOSE_REASONS]; /* closed by admission (conns.h) */
    atomic_uint_fast64_t accept_paused; /* listener pauses after accept() failed (EMFILE...) */
    atomic_uint_fast64_t attestations[ARCAD_ATTEST_RESULTS];
    atomic_uint_fast64_t sessions_created;
    atomic_uint_fast64_t sessions_updated;
    int64_t started_at;
};
struct arcad_metrics *arcad_metrics_new(void);
void arcad_metrics_free(struct arcad_metrics *m);
/* Renders Prometheus text exposition format for ctx into out. */
int arcad_metrics_render(struct arcad_ctx *ctx, struct arca_buf *out);

/* Identity (identity.c): loads or, on first start, creates DATA_DIR/identity, its private key
 * sealed with sealer's key for purpose "arcad-identity". *created says which. Free with
 * arcad_identity_free. */
struct arca_store_sealer;
int arcad_identity_load_or_create(const char *data_dir, const struct arca_store_sealer *sealer,
                                  struct arcad_identity *id, bool *created);
void arcad_identity_free(struct arcad_identity *id);

/* The HTTP server (http.c): runs until SIGTERM/SIGINT, then drains. */
int arcad_serve(struct arcad_ctx *ctx);

/* Checks cfg's listen addresses before any state is created (http.c): each parses as HOST:PORT
 * (ARCA_ERR_INVALID_ARG), the client and enclave APIs do not share a port (ARCA_ERR_INVALID_ARG),
 * and no fixed port is taken already (ARCA_ERR_IO). The listeners use SO_REUSEPORT, so without
 * this a second arcad of the same user would silently join the first one's port and receive
 * part of its connections. Nothing to free. */
int arcad_listen_check(const struct arcad_config *cfg);

#endif
