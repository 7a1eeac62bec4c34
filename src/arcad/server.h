/*
 * arcad's server core: the context passed everywhere (no globals), the routing interface the
 * client API and the enclave API (src/arcad/enclave_api.c) plug into, and the request/answer
 * helpers handlers use.
 *
 * Threading: arcad runs one libevent loop per worker thread, each with its own evhttp on
 * SO_REUSEPORT listeners. A handler runs on the worker thread that accepted the connection and
 * must answer the request exactly once (arcad_reply_*) before it returns. Routers are filled
 * before the workers start and are read-only afterwards, so routing takes no lock. Anything a
 * handler shares with other threads (store, audit, metrics, the enclave API's own state) must be
 * thread-safe on its own.
 */
#ifndef ARCAD_SERVER_H
#define ARCAD_SERVER_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "crypto/crypto.h"

struct ssl_ctx_st;
struct arca_store;           /* store/store.h */
struct arca_audit;           /* audit/audit.h */
struct arca_witness_held;    /* witness/witness.h */
struct arca_sim_platform;    /* evidence/sim.h */
struct arca_dcap_collateral; /* evidence/collateral.h */
struct arca_dcap_cache;      /* evidence/dcap_verify.h */
struct arca_key_cache;       /* crypto/crypto.h */
struct arca_attest_remote;   /* attest/attest.h */
struct arca_session_cache;   /* policy/session_cache.h */
struct arcad_metrics;
struct arcad_pool;     /* pool.h */
struct arca_ratelimit; /* limits/limits.h */
struct arcad_router;
struct arcad_request;
struct arca_ratelimit; /* limits/limits.h */

/* Limits and addresses (arcad's flags; see docs/arcad.md). Strings are borrowed from argv. */
struct arcad_config {
    const char *data_dir;
    const char *client_listen;   /* HOST:PORT, default 127.0.0.1:8081 */
    const char *enclave_listen;  /* HOST:PORT, default 127.0.0.1:18765 */
    const char *metrics_listen;  /* HOST:PORT or NULL (off) */
    bool allow_simulation;       /* accept simulated evidence (INSECURE) */
    int workers;                 /* event-loop threads; 0 = number of cores */
    size_t max_header_bytes;     /* request line + headers */
    size_t max_body_bytes;       /* request body */
    int request_timeout_s;       /* read/write timeout per request and idle keep-alive */
    int max_conns_per_worker;    /* connections with a request in flight, per worker */
    int max_pending;             /* per worker: connections without a complete request yet */
    int max_pending_per_peer;    /* the same per peer address (IPv6: per /64), per worker */
    int handshake_timeout_s;     /* absolute: accept to the end of the TLS handshake */
    int request_deadline_s;      /* absolute: handshake or previous answer to a whole request */
    const char *collateral;      /* --collateral DIR|FILE (else $ARCA_COLLATERAL) or NULL */
    const char *pcs_url;         /* --pcs-url: Intel PCS / PCCS base URL, or NULL (no fetch) */
    const char *kds_url;         /* --kds-url: AMD KDS base URL (or mirror), or NULL */
    const char *snp_certs;       /* --snp-certs DIR (else $ARCA_SNP_CERTS) or NULL */
    int attest_free_failures;    /* failed attestations per session/service before a delay; 0 = 3 */
    int attest_lockout_failures; /* ... that lock it out; 0 = 10 */
    int attest_lockout_s;        /* how long a lockout lasts; 0 = 900 */
    /* Client API limits and quotas (docs/arcad.md "Limits and quotas"; 0 = no limit). */
    size_t max_keys_per_session;      /* --max-keys-per-session: generated keys per upload */
    size_t max_certs_per_session;     /* --max-certs-per-session: issued certificates */
    uint64_t max_keygen_ms;           /* --max-keygen-ms: estimated generation time */
    uint64_t max_sessions_per_client; /* --max-sessions-per-client: creates per client key */
    double client_rate;               /* --client-rate: requests/s per client key (0 = off) */
    double client_burst;              /* --client-burst: bucket size per client key */
    int jobs;                         /* job pool threads for ARCAD_ROUTE_OFFLOAD; 0 = cores */
    size_t max_queued_jobs;           /* jobs waiting for a pool thread at most (then 503) */
    double rate_per_peer;             /* ARCAD_ROUTE_RATE_LIMITED: requests/s per peer address */
    double rate_burst_per_peer;       /* bucket size per peer address */
    double rate_global;               /* requests/s for all peers together (0: no global bucket) */
    double rate_burst_global;
    /* Online proposals (docs/arcad.md; 0 = the default). */
    int64_t proposal_ttl_s;            /* --proposal-ttl: seconds a proposal stays open */
    uint32_t max_proposals;            /* --max-proposals: open proposals in all */
    uint32_t max_proposals_per_client; /* --max-proposals-per-client */
};

/* arcad's own identity, created on first start in DATA_DIR (see identity.c). */
struct arcad_identity {
    struct arca_key *key;            /* the CAS key pair (P-256); owned */
    struct arca_x509 *ca;            /* self-signed CAS CA certificate for key; owned */
    struct arca_x509 *cert;          /* server certificate for key issued by ca; owned */
    uint8_t key_id[ARCA_SHA256_LEN]; /* SHA-256 of the SPKI: "the CAS key" */
    char key_hex[2 * ARCA_SHA256_LEN + 1];
    char key_b58[64]; /* Base58Check form */
};

/* Everything a handler may need; one per process, created by main and passed to every
 * handler through its request. */
struct arcad_ctx {
    struct arcad_config cfg;
    struct arcad_identity id;
    struct arca_store *store;      /* sealed store; NULL only in unit tests */
    struct arca_audit *audit;      /* signed audit log; NULL only in unit tests */
    struct arcad_metrics *metrics; /* never NULL once arcad_ctx_init succeeded */
    struct ssl_ctx_st *client_tls; /* client API: client certificate optional at TLS level */
    struct ssl_ctx_st *enclave_tls;
    struct arcad_router *client_router;
    struct arcad_router *enclave_router;
    struct arca_sim_platform *sim; /* INSECURE simulation platform (evidence, sealing) */
    uint8_t measurement[32];       /* arcad's own (simulated) measurement: SHA-256 of its binary */
    /* Intel collateral of --collateral, loaded once by main before the workers start and
     * read-only afterwards (shared by the workers without a lock); NULL if none. Owned. */
    struct arca_dcap_collateral *collateral;
    /* SIGHUP's collateral reload (reload.h): where the states keep their copy of the pointer,
     * and the collateral it replaced. NULL in unit tests. Owned by main. */
    struct arcad_reload *reloader;
    /* Verification-step cache shared by the workers (thread-safe on its own); its hit and
     * miss counts are in /metrics. NULL only in unit tests. Owned. */
    struct arca_dcap_cache *dcap_cache;
    struct arca_key_cache *sim_keys; /* simulated platform keys, parsed once */
    /* Parsed approval signer keys shared by the workers and job threads (thread-safe on its
     * own); NULL only in unit tests. Owned. */
    struct arca_approval_cache *approvals;
    /* Parsed session versions shared by the client API and the enclave API (session_cache.h). */
    struct arca_session_cache *sessions;
    /* Requests per client key (token buckets, thread-safe); NULL: no quota. Owned. */
    struct arca_ratelimit *client_quota;
    /* Runs the handlers of ARCAD_ROUTE_OFFLOAD routes off the event loops; created and freed by
     * arcad_serve. NULL (unit tests, fuzzing): those handlers run where they are dispatched. */
    struct arcad_pool *pool;
    /* Token buckets of ARCAD_ROUTE_RATE_LIMITED routes (thread-safe); NULL: no limit. Owned. */
    struct arca_ratelimit *ratelimit;
    struct arca_witness_held *witness_held; /* counters held for peer witnesses (main.c) */
    void *peer_state;                       /* owned by api_peer.c (set in arcad_peer_register) */
    void (*peer_state_free)(void *state);
    const struct arca_attest_remote *remote_import; /* api_peer.c's importer, or NULL */
    struct arca_owner *owner; /* owner record and provisioning (owner/owner.h); owned by main */
    void *enclave_state;      /* owned by enclave_api.c (set in enclave_api_register) */
    /* Proposal lists waiting (?wait=) on job threads now: bounded so that waiting checkers
     * never hold all of the pool (api_proposals.c). */
    _Atomic int proposal_waiters;
    void (*enclave_state_free)(void *state);
    /* SIGHUP: called by arcad_serve on its signal thread; NULL: SIGHUP is only logged. */
    void (*reload)(struct arcad_ctx *ctx, void *arg);
    void *reload_arg;
    /* The start-up server (api_peer.h): arcad_serve prints no "ready" and notifies nothing. */
    bool starting;
    /* The addresses arcad_serve bound (a port 0 resolved), written before the workers start:
     * GET /v1/status and the enclave port's wrong-port answer name them. "" in unit tests. */
    char client_bound[160], enclave_bound[160];
};

/* ---- routing ---------------------------------------------------------------------------- */

/* A handler answers req exactly once with an arcad_reply_* call. arg is what was registered. */
typedef void (*arcad_handler)(struct arcad_request *req, void *arg);

enum arcad_route_flags {
    ARCAD_ROUTE_EXACT = 0,   /* path must equal the registered path */
    ARCAD_ROUTE_PREFIX = 1,  /* path starts with the registered path (rest: path_rest) */
    ARCAD_ROUTE_NO_CERT = 2, /* reachable without a client certificate (else 401) */
    /* The handler runs on the job pool, not on the event loop: for costly work (secret
     * generation, policy parsing, listing, evidence verification). It sees a copy of the
     * request and answers into a buffer that the loop then sends; a full queue is answered 503. */
    ARCAD_ROUTE_OFFLOAD = 4,
    /* Unauthenticated work: a token bucket per peer address (IPv4 address, IPv6 /64) and one
     * for all peers are checked before the handler; an empty bucket is answered 429 with
     * Retry-After. */
    ARCAD_ROUTE_RATE_LIMITED = 8,
};

/* A new empty router (free with arcad_router_free). NULL on allocation failure. */
struct arcad_router *arcad_router_new(void);
void arcad_router_free(struct arcad_router *r);
/*
 * Adds a route; method is "GET", "POST", "PUT" or "DELETE"; path starts with '/'. Routes are
 * tried in the order added; the first whose method and path match wins. A path that matches
 * a route with another method is answered 405. name labels the route in metrics (static
 * string, e.g. "sessions_read"). Returns 0, ARCA_ERR_INVALID_ARG or ARCA_ERR_ALLOC.
 */
int arcad_router_add(struct arcad_router *r, const char *method, const char *path, int flags,
                     const char *name, arcad_handler h, void *arg);

/* The enclave API plugs in through enclave_api_register() (enclave_api.h). */

/* ---- request accessors (all borrowed, valid until the reply) ---------------------------- */

struct arcad_ctx *arcad_request_ctx(struct arcad_request *req);
/* "GET", "POST", ... */
const char *arcad_request_method(struct arcad_request *req);
/* The decoded path without the query ("/v1/sessions/a/b"). */
const char *arcad_request_path(struct arcad_request *req);
/* For a PREFIX route: the path after the registered prefix ("" if none). */
const char *arcad_request_path_rest(struct arcad_request *req);
/* The decoded value of query parameter name, or NULL if absent. */
const char *arcad_request_query(struct arcad_request *req, const char *name);
/* The body (bounded by cfg.max_body_bytes); *p may be NULL when n is 0. */
void arcad_request_body(struct arcad_request *req, const uint8_t **p, size_t *n);
/* Parses the body as a JSON object into *out (caller json_decref's). ARCA_ERR_FORMAT with the
 * line and column of the problem. */
int arcad_request_json(struct arcad_request *req, json_t **out);
/* The TLS peer's key id (SHA-256 of its SPKI). false if the client sent no certificate. */
bool arcad_request_peer_key_id(struct arcad_request *req, uint8_t out[ARCA_SHA256_LEN]);
/* The TLS peer's public key (new reference, arca_key_free it); ARCA_ERR_UNAUTHENTICATED
 * without a client certificate. */
int arcad_request_peer_key(struct arcad_request *req, struct arca_key **out);
/* The peer address as "IP:PORT" (for logs). */
const char *arcad_request_peer_addr(struct arcad_request *req);

/* ---- answers (each consumes the request) ------------------------------------------------- */

/* Sends body as JSON with status; steals the reference to body (may be NULL: empty {}). */
void arcad_reply_json(struct arcad_request *req, int status, json_t *body);
/* Sends {"msg": ["<formatted>"]} with status. The message must never hold secret values. */
void arcad_reply_error(struct arcad_request *req, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Maps an arca_err code to its HTTP status and sends arca_err_detail() as the message. */
void arcad_reply_err(struct arcad_request *req, int code);
/* Sends raw bytes with a content type (metrics text, ...). */
void arcad_reply_raw(struct arcad_request *req, int status, const char *content_type, const void *p,
                     size_t n);

/* The HTTP status arca answers for an arca_err code (400, 401, 403, 404, 409, 413, 500...). */
int arcad_err_status(int code);

/* ---- metrics (thread-safe) ---------------------------------------------------------------- */

/* Counts an attestation outcome ("ok", "denied", "invalid", ...) for Prometheus. */
void arcad_metrics_attestation(struct arcad_metrics *m, const char *result);

#endif
