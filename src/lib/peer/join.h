/*
 * The join messages of the peer channel (arcad --join, docs/internals/peer.md "Join"): how a
 * new arcad asks a member of a shared store for the store's key, and how the member hands it
 * over, encrypted to the newcomer's session-encryption key (X25519 derived from its CAS key,
 * docs/encrypted-sessions.md), which the newcomer sent over the channel its attested CAS key
 * authenticates. Both directions are parsed here, bounded, and nothing secret is ever in an
 * error detail.
 *
 *   POST /v1/peer/join  body {"op": "key", "enc_key": B64(32)}
 *     -> {"box": B64(box(enc_key, "ARCAJN01" | joiner CAS key id[32] | dbkey[32] |
 *                         idxroot[32] | u64be commit | head[32]))}
 *   POST /v1/peer/join  body {"op": "result", "ok": bool, "reason": "..."}   (the newcomer's
 *     own check of the key against the store, for the member's audit log) -> {}
 */
#ifndef ARCA_PEER_JOIN_H
#define ARCA_PEER_JOIN_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "crypto/crypto.h"
#include "store/share.h"

#define ARCA_PEER_JOIN_ROUTE "/v1/peer/join"
#define ARCA_PEER_JOIN_MAGIC "ARCAJN01"
#define ARCA_PEER_JOIN_REASON_MAX 300

enum arca_peer_join_op {
    ARCA_PEER_JOIN_KEY = 1, /* hand me the key */
    ARCA_PEER_JOIN_RESULT,  /* what my check of the key said */
};

/* A parsed request body (no secret in it). */
struct arca_peer_join_req {
    enum arca_peer_join_op op;
    uint8_t enc_key[32];                        /* KEY: X25519 public key */
    bool ok;                                    /* RESULT */
    char reason[ARCA_PEER_JOIN_REASON_MAX + 1]; /* RESULT: printable ASCII, NUL-terminated */
};

/* Parses body (the channel's payload; NULL is refused) into *out. ARCA_ERR_FORMAT naming the
 * member that is missing or malformed; *out zeroed on failure. */
int arca_peer_join_req_parse(const json_t *body, struct arca_peer_join_req *out);

/* Request bodies (new references; NULL out of memory). reason is cut to the maximum and every
 * byte outside printable ASCII becomes '?'. */
json_t *arca_peer_join_key_req(const uint8_t enc_key[32]);
json_t *arca_peer_join_result_req(bool ok, const char *reason);

/* The member's answer: sh boxed to enc_key for the joiner whose CAS key id is joiner. *answer
 * a new object (its box is no secret: only enc_key's holder opens it). */
int arca_peer_join_answer(const uint8_t enc_key[32], const uint8_t joiner[32],
                          const struct arca_store_share *sh, json_t **answer);

/* Opens the member's answer with enc (our X25519 key) and checks it was made for our CAS key
 * id me. ARCA_ERR_FORMAT (no box), ARCA_ERR_TAMPERED (does not open, or made for another
 * arcad). *out wiped on failure; a secret the caller wipes on success. */
int arca_peer_join_open(const json_t *answer, const struct arca_key *enc, const uint8_t me[32],
                        struct arca_store_share *out);

#endif
