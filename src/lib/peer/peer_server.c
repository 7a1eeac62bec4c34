/*
 * The server side of the peer channel (peer.h): the hello answer and the acceptance of a call.
 * No HTTP here: arcad's api_peer.c hands over the TLS peer's SPKI and the parsed body.
 */
#include <string.h>

#include "api/attest_wire.h"
#include "attest/attest.h"
#include "base/enc.h"
#include "base/err.h"
#include "peer/peer.h"

int arca_peer_hello(const struct arca_peer_self *self, const struct arca_attest_ctx *nonces,
                    const json_t *body, int64_t now, json_t **answer)
{
    ARCA_ENSURE_REF(self);
    ARCA_ENSURE_REF(nonces);
    ARCA_ENSURE_REF(answer);
    *answer = NULL;
    uint8_t theirs[32];
    ARCA_TRY(arca_peer_hex32(body, "nonce", theirs));
    struct arca_challenge_answer ch;
    ARCA_TRY(arca_attest_challenge(nonces, now, &ch));
    struct arca_buf spki, b64;
    arca_buf_init(&spki, 0);
    arca_buf_init(&b64, 0);
    char hex[2 * ARCA_LAUNCH_NONCE_LEN + 1];
    arca_hex_fmt(hex, ch.nonce, sizeof(ch.nonce));
    json_t *a = json_object();
    int rc = 0;
    ARCA_GUARD_ENSURE(rc, a != NULL && json_object_set_new(a, "nonce", json_string(hex)) == 0, out,
                      ARCA_ERR_ALLOC, "peer hello: out of memory");
    ARCA_GUARD(rc, arca_key_spki_der(self->key, &spki), out);
    ARCA_GUARD(rc, arca_base64_encode(&b64, spki.data, spki.len), out);
    ARCA_GUARD_ENSURE(rc,
                      json_object_set_new(a, "spki", json_stringn((char *)b64.data, b64.len)) == 0,
                      out, ARCA_ERR_ALLOC, "peer hello: out of memory");
    ARCA_GUARD(rc,
               arca_peer_evidence_put(self, spki.data, spki.len, theirs, ARCA_PEER_HELLO_ROUTE, a),
               out);
    *answer = a;
    a = NULL;
out:
    json_decref(a);
    arca_buf_free(&spki);
    arca_buf_free(&b64);
    return rc;
}

int arca_peer_accept(const struct arca_peer_self *self, const struct arca_attest_ctx *nonces,
                     const uint8_t *spki, size_t spki_len, const char *route, const json_t *body,
                     int64_t now, struct arca_peer_identity *who, const json_t **payload)
{
    ARCA_ENSURE_REF(self);
    ARCA_ENSURE_REF(nonces);
    ARCA_ENSURE_REF(who);
    ARCA_ENSURE_REF(payload);
    memset(who, 0, sizeof(*who));
    *payload = NULL;
    ARCA_ENSURE(spki != NULL && spki_len > 0, ARCA_ERR_UNAUTHENTICATED,
                "peer %s: no TLS certificate (the CAS key) was presented", route);
    uint8_t nonce[ARCA_LAUNCH_NONCE_LEN];
    int64_t expires = 0;
    ARCA_TRY(arca_peer_hex32(body, "nonce", nonce));
    /* Cheap checks first: a nonce we did not issue costs no evidence verification. */
    ARCA_TRY(arca_attest_nonce_check(nonces, nonce, now, &expires));
    const json_t *p = json_object_get(body, "body");
    ARCA_ENSURE(p == NULL || json_is_object(p), ARCA_ERR_FORMAT,
                "peer message: 'body' must be an object");
    struct arca_peer_identity w;
    ARCA_TRY(arca_peer_evidence_check(self->verify, body, spki, spki_len, nonce, route, now, &w));
    ARCA_TRY(arca_attest_nonce_use(nonces, nonce, now));
    *who = w;
    *payload = p;
    return 0;
}

int arca_peer_next_nonce(const struct arca_attest_ctx *nonces, int64_t now, json_t *answer)
{
    ARCA_ENSURE_REF(nonces);
    ARCA_ENSURE(json_is_object(answer), ARCA_ERR_INVALID_ARG, "peer: answer is not an object");
    struct arca_challenge_answer ch;
    ARCA_TRY(arca_attest_challenge(nonces, now, &ch));
    char hex[2 * ARCA_LAUNCH_NONCE_LEN + 1];
    arca_hex_fmt(hex, ch.nonce, sizeof(ch.nonce));
    ARCA_ENSURE(json_object_set_new(answer, "nonce", json_string(hex)) == 0, ARCA_ERR_ALLOC,
                "peer: out of memory");
    return 0;
}
