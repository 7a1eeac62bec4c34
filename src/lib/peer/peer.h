/*
 * The attested arcad-to-arcad channel (DESIGN §6, docs/internals/peer.md). arcad A (client)
 * calls arcad B's enclave port over TLS; both present their CAS key (the TLS key is the CAS
 * key), and each verifies the other's evidence bound to that TLS key:
 *
 *   A -> B  POST /v1/peer/hello {"nonce": Na}
 *   B -> A  {"nonce": Nb, "evidence_type", "evidence", "spki"}
 *           evidence REPORTDATA = arca_launch_binding(SPKI_B, Na, "peer:hello"); A pins B's TLS
 *           key to the expected CAS key (or, with a software key, the measurement) and checks
 *           SHA-256(SPKI_B) against the TLS pin.
 *   A -> B  POST ROUTE {"nonce": Nb, "evidence_type", "evidence", "body": {...}}
 *           evidence REPORTDATA = arca_launch_binding(SPKI_A, Nb, "peer:" ROUTE), SPKI_A being
 *           A's TLS client key; Nb is B's stateless nonce (attest/nonce.c), used up here in
 *           memory (no store commit: a peer witness must not commit to answer).
 *   B -> A  the route's JSON answer (or an error body).
 *
 * Every call makes a fresh hello, so every request carries evidence for a nonce B issued
 * moments ago, bound to the connection's key and to the route: a recorded request cannot be
 * replayed nor sent to another route. The library never sees a secret in a detail; the route
 * bodies may carry secrets and live in wiped JSON (api/json.h) and secret buffers.
 */
#ifndef ARCA_PEER_PEER_H
#define ARCA_PEER_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "attest/verify.h"
#include "base/buf.h"
#include "crypto/crypto.h"

struct arca_attest_ctx;

#define ARCA_PEER_DEFAULT_PORT 18765
#define ARCA_PEER_HELLO_ROUTE "/v1/peer/hello"
#define ARCA_PEER_ROUTE_PREFIX "/v1/peer/"
#define ARCA_PEER_ANSWER_MAX ((size_t)1 << 20)

/* Makes evidence of this arcad whose REPORTDATA is rd: *type an enum arca_evidence_type,
 * evidence appended to ev. */
typedef int (*arca_peer_evidence_fn)(void *arg, const uint8_t rd[64], int *type,
                                     struct arca_buf *ev);

/* Who we are and how we judge the other side; everything borrowed, read-only once serving. */
struct arca_peer_self {
    const struct arca_x509 *cert; /* TLS certificate of the CAS key */
    const struct arca_key *key;   /* the CAS key pair */
    arca_peer_evidence_fn evidence;
    void *evidence_arg;
    const struct arca_attest_verify_cfg *verify; /* simulated evidence only if it allows */
    int timeout_ms;                              /* per request (client); <= 0: 10 s */
};

/* The attested other side of a channel. */
struct arca_peer_identity {
    uint8_t cas_key[ARCA_SHA256_LEN]; /* SHA-256 of its TLS (CAS) key's SPKI */
    int evidence_type;                /* enum arca_evidence_type */
    uint8_t measurement[32];          /* mrenclave (sim, SGX) or SHA-256 of the TD/SNP one */
    bool insecure;                    /* simulated evidence */
};

/* What a client expects of the server: its CAS key, or its software key (measurement), or
 * (any_attested) any server whose evidence verifies and binds its TLS key, the caller judging
 * arca_peer_who itself (arcad --join: the key it receives must then open the shared store). At
 * least one must be set. */
struct arca_peer_expect {
    const uint8_t *cas_key;      /* 32 bytes or NULL */
    const uint8_t *software_key; /* 32 bytes (measurement) or NULL */
    bool any_attested;
};

struct arca_peer;

/*
 * Opens a channel to addr ("HOST[:PORT]", port 18765 by default) and runs a hello, so a
 * refusal (unreachable, wrong key, simulated evidence not allowed, bad binding) shows here
 * with a reason naming addr. *out is freed with arca_peer_close. self is borrowed and must
 * outlive the channel.
 */
int arca_peer_connect(const struct arca_peer_self *self, const char *addr,
                      const struct arca_peer_expect *expect, struct arca_peer **out);
/* Who the server is (valid once arca_peer_connect succeeded). */
const struct arca_peer_identity *arca_peer_who(const struct arca_peer *p);
/*
 * One request: a fresh hello (the server's evidence is checked again), then POST route (which
 * starts with ARCA_PEER_ROUTE_PREFIX) with body (borrowed; may be NULL: {}) and our evidence.
 * *answer is the server's JSON object (json_decref) when it answered 200; a refusal is an
 * error whose detail is the server's reason (ARCA_ERR_DENIED / _NOT_FOUND / _POLICY / ...).
 */
int arca_peer_call(struct arca_peer *p, const char *route, const json_t *body, json_t **answer);
/*
 * A request on the kept channel (peer witnesses): when the last answer on this channel handed
 * us a nonce of the server's (arca_peer_next_nonce) and its connection is still the one a
 * hello attested, POST route under our evidence for that nonce without a new hello (one round
 * trip, no server evidence to check). Otherwise, or when that connection is gone or the
 * nonce is refused (the peer restarted or the nonce expired), as arca_peer_call: a new
 * connection, attested by a hello first. *resent (may be NULL) is true when the request may
 * have reached the server twice (the first try's fate is unknown). Requests never leave on a
 * connection no hello attested: only a hello may open one.
 */
int arca_peer_send(struct arca_peer *p, const char *route, const json_t *body, json_t **answer,
                   bool *resent);
/* Caps an answer's size on this channel (default and upper bound ARCA_PEER_ANSWER_MAX). */
void arca_peer_set_answer_max(struct arca_peer *p, size_t max);
void arca_peer_close(struct arca_peer *p);

/* ---- server side (peer_server.c) ------------------------------------------------------------ */

/*
 * The answer to POST /v1/peer/hello: a nonce of nonces (attest/nonce.c, stateless until used)
 * and our evidence bound to our SPKI and the client's nonce. *answer is a new object.
 */
int arca_peer_hello(const struct arca_peer_self *self, const struct arca_attest_ctx *nonces,
                    const json_t *body, int64_t now, json_t **answer);
/*
 * Accepts a call on route: the TLS peer's SPKI (NULL: no certificate, refused), the nonce is
 * ours and unused (used up here), the evidence verifies under self->verify and binds the SPKI,
 * the nonce and the route. Fills *who and points *payload at the request's "body" (borrowed
 * from body). Errors name what failed, never a value.
 */
int arca_peer_accept(const struct arca_peer_self *self, const struct arca_attest_ctx *nonces,
                     const uint8_t *spki, size_t spki_len, const char *route, const json_t *body,
                     int64_t now, struct arca_peer_identity *who, const json_t **payload);
/* Puts a fresh nonce of nonces into answer's "nonce", for the caller's next request on its
 * kept channel (arca_peer_send): it spares that request a hello, and is checked and used up
 * like any other by arca_peer_accept. */
int arca_peer_next_nonce(const struct arca_attest_ctx *nonces, int64_t now, json_t *answer);

/* ---- shared (peer_wire.c) ------------------------------------------------------------------- */

/* The binding label of a route: "peer:" route, into out[n]. */
int arca_peer_label(const char *route, char *out, size_t n);
/* Verifies evidence (type name, base64 text) at now under cfg, that its REPORTDATA binds spki,
 * nonce and the label of route, and fills *who from the claims and SHA-256(spki). */
int arca_peer_evidence_check(const struct arca_attest_verify_cfg *cfg, const json_t *msg,
                             const uint8_t *spki, size_t spki_len, const uint8_t nonce[32],
                             const char *route, int64_t now, struct arca_peer_identity *who);
/* Makes our evidence for spki, nonce and route into msg's "evidence_type" and "evidence". */
int arca_peer_evidence_put(const struct arca_peer_self *self, const uint8_t *spki, size_t spki_len,
                           const uint8_t nonce[32], const char *route, json_t *msg);
/* A 32-byte hex member of msg into out (ARCA_ERR_FORMAT naming it). */
int arca_peer_hex32(const json_t *msg, const char *name, uint8_t out[32]);

#endif
