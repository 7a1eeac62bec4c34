/*
 * Connection admission for one arcad worker: who may hold a connection, and for how long,
 * before it has sent a complete request. Pure bookkeeping, no I/O: the transport (http.c)
 * reports what happens to a connection and is asked to close the ones this table gives up.
 *
 * Phases of a connection:
 *   NEW        accepted, peer not known yet (admission runs in the same loop turn)
 *   HANDSHAKE  admitted; TLS handshake due by accept + handshake deadline
 *   HEAD       handshake done; its first request (head and body) due by then + request deadline
 *   ACTIVE     a request is being answered (no deadline here; --timeout covers slow writes)
 *   IDLE       kept alive after an answer; the next request due by then + request deadline
 * HANDSHAKE and HEAD are "pending": they are capped per worker and per peer address, and when
 * a cap (or --max-connections, which counts pending and active ones together) is reached, the
 * oldest pending connection is closed to make room, so a hoarder can only push out his own
 * or other slow connections, never block a new one. Deadlines are absolute: bytes trickling
 * in do not extend them (libevent's timeouts restart on every read).
 *
 * Lists are scanned linearly; --max-pending is bounded (ARCAD_MAX_PENDING_LIMIT) so that a scan
 * costs less than accepting a connection. A table belongs to one worker thread: no locks.
 */
#ifndef ARCAD_CONNS_H
#define ARCAD_CONNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARCAD_PEER_LEN 17 /* address family byte + IPv6 address (IPv4 in the first 4 bytes) */
#define ARCAD_MAX_PENDING_LIMIT 65536

enum arcad_conn_phase {
    ARCAD_CONN_NEW = 0,
    ARCAD_CONN_HANDSHAKE,
    ARCAD_CONN_HEAD,
    ARCAD_CONN_ACTIVE,
    ARCAD_CONN_IDLE,
    ARCAD_CONN_CLOSING, /* given up; waiting for the transport to free it */
    ARCAD_CONN_REFUSED, /* answered 503 (over --max-connections); closes after the answer */
};

/* Why the table closed a connection (metrics label order: arcad_close_reason_name). */
enum arcad_close_reason {
    ARCAD_CLOSE_HANDSHAKE_DEADLINE = 0,
    ARCAD_CLOSE_REQUEST_DEADLINE,
    ARCAD_CLOSE_PENDING_CAP,
    ARCAD_CLOSE_PEER_CAP,
    ARCAD_CLOSE_FD_LIMIT,
    ARCAD_CLOSE_REASONS
};

struct arcad_conn_limits {
    int max_conns;            /* pending + active, per worker (--max-connections) */
    int max_pending;          /* pending, per worker (--max-pending) */
    int max_pending_per_peer; /* pending per peer address, per worker (--max-pending-per-peer) */
    int64_t handshake_ms;     /* --handshake-timeout */
    int64_t request_ms;       /* --request-timeout */
};

struct arcad_conns;

struct arcad_conn {
    struct arcad_conn *prev, *next; /* in the list of its phase (none for ACTIVE / CLOSING) */
    struct arcad_conns *table;      /* the table that owns it */
    enum arcad_conn_phase phase;
    int64_t opened_ms;
    int64_t deadline_ms; /* HANDSHAKE, HEAD, IDLE */
    uint8_t peer[ARCAD_PEER_LEN];
    void *handle;        /* the transport's connection object (http.c: its bufferevent) */
    uint8_t peer_id[32]; /* the client key's id, computed at the first request (http.c) */
    bool peer_id_known;
};

struct arcad_conn_list {
    struct arcad_conn *head, *tail; /* oldest first */
};

struct arcad_conns {
    struct arcad_conn_limits lim;
    /* Asks the transport to close c; c stays valid until arcad_conns_gone(c). */
    void (*close)(struct arcad_conn *c, void *arg);
    void *close_arg;
    struct arcad_conn_list fresh;   /* NEW */
    struct arcad_conn_list pending; /* HANDSHAKE and HEAD, in accept order */
    struct arcad_conn_list idle;    /* IDLE, in the order their answers went out */
    size_t npending;
    size_t nactive; /* ACTIVE and IDLE: connections that sent a request */
    uint64_t closed[ARCAD_CLOSE_REASONS];
};

/* Sets up an empty table (nothing to free but its connections, which arcad_conns_gone frees). */
void arcad_conns_init(struct arcad_conns *t, const struct arcad_conn_limits *lim,
                      void (*close)(struct arcad_conn *c, void *arg), void *close_arg);
/* A NEW connection for the transport's handle at now_ms, or NULL when out of memory. */
struct arcad_conn *arcad_conns_open(struct arcad_conns *t, void *handle, int64_t now_ms);
/* The oldest NEW connection (to admit), or NULL. */
struct arcad_conn *arcad_conns_fresh(struct arcad_conns *t);
/* Admits NEW c from peer (ARCAD_PEER_LEN bytes): closes the oldest pending connection of the
 * peer or of the worker when a cap is reached, then starts c's handshake deadline. */
void arcad_conns_admit(struct arcad_conns *t, struct arcad_conn *c, const uint8_t *peer);
/* c's TLS handshake completed: its request deadline starts. */
void arcad_conns_handshake_done(struct arcad_conns *t, struct arcad_conn *c, int64_t now_ms);
/* c delivered a complete request. false: over --max-connections, answer 503 and close (c is
 * REFUSED). A connection that was closed by the table (CLOSING) is refused too. */
bool arcad_conns_request(struct arcad_conns *t, struct arcad_conn *c);
/* The answer on c went out and c is kept alive: the next request's deadline starts. */
void arcad_conns_answered(struct arcad_conns *t, struct arcad_conn *c, int64_t now_ms);
/* The transport freed c's connection: forget and free c. */
void arcad_conns_gone(struct arcad_conns *t, struct arcad_conn *c);
/* Closes every connection whose deadline is past; returns the next deadline (ms), or -1. */
int64_t arcad_conns_expire(struct arcad_conns *t, int64_t now_ms);
/* Closes the oldest pending connection for reason; false if there is none. */
bool arcad_conns_evict_oldest(struct arcad_conns *t, enum arcad_close_reason reason);
/* "handshake_deadline", "request_deadline", "pending_cap", "peer_cap", "fd_limit". */
const char *arcad_close_reason_name(enum arcad_close_reason r);

#endif
