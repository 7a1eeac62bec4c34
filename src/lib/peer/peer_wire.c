/*
 * What both ends of the peer channel share (peer.h): the binding label of a route, making our
 * evidence into a message and checking the other side's.
 */
#include <stdio.h>
#include <string.h>

#include "api/attest_wire.h"
#include "attest/binding.h"
#include "base/enc.h"
#include "base/err.h"
#include "evidence/claims.h"
#include "peer/peer.h"

#define K_TYPE "evidence_type"
#define K_EVIDENCE "evidence"

int arca_peer_label(const char *route, char *out, size_t n)
{
    ARCA_ENSURE_REF(route);
    int w = snprintf(out, n, "peer:%s", route);
    ARCA_ENSURE(w > 0 && (size_t)w < n, ARCA_ERR_TOO_LARGE, "peer: route %.64s is too long", route);
    return 0;
}

int arca_peer_hex32(const json_t *msg, const char *name, uint8_t out[32])
{
    const json_t *v = json_object_get(msg, name);
    ARCA_ENSURE(json_is_string(v) && arca_hex_decode_fixed(out, 32, json_string_value(v),
                                                           json_string_length(v)) == 0,
                ARCA_ERR_FORMAT, "peer message: '%s' must be 64 hex digits", name);
    return 0;
}

/* The 32-byte measurement a software key names: the SGX / simulated MRENCLAVE as it is, the
 * longer TDX MRTD and SNP MEASUREMENT through SHA-256. */
static int measurement_of(const struct arca_claims *c, uint8_t out[32])
{
    switch (c->type) {
    case ARCA_EVIDENCE_TDX:
        return arca_sha256(c->mrtd, sizeof(c->mrtd), out);
    case ARCA_EVIDENCE_SNP:
        return arca_sha256(c->measurement, sizeof(c->measurement), out);
    default:
        memcpy(out, c->mrenclave, 32);
        return 0;
    }
}

int arca_peer_evidence_check(const struct arca_attest_verify_cfg *cfg, const json_t *msg,
                             const uint8_t *spki, size_t spki_len, const uint8_t nonce[32],
                             const char *route, int64_t now, struct arca_peer_identity *who)
{
    ARCA_ENSURE_REF(cfg);
    ARCA_ENSURE_REF(who);
    memset(who, 0, sizeof(*who));
    ARCA_ENSURE(spki != NULL && spki_len > 0, ARCA_ERR_UNAUTHENTICATED,
                "peer: no TLS certificate (the CAS key) was presented");
    const json_t *t = json_object_get(msg, K_TYPE);
    const json_t *e = json_object_get(msg, K_EVIDENCE);
    int type = json_is_string(t) ? arca_evidence_type_from_wire(json_string_value(t)) : -1;
    ARCA_ENSURE(type > 0, ARCA_ERR_FORMAT, "peer message: unknown or missing '%s'", K_TYPE);
    ARCA_ENSURE(json_is_string(e) && json_string_length(e) <= 2 * ARCA_ATTEST_EVIDENCE_MAX,
                ARCA_ERR_FORMAT, "peer message: missing or oversized '%s'", K_EVIDENCE);
    char label[128];
    ARCA_TRY(arca_peer_label(route, label, sizeof(label)));
    struct arca_buf ev;
    arca_buf_init(&ev, ARCA_ATTEST_EVIDENCE_MAX);
    struct arca_claims c;
    memset(&c, 0, sizeof(c));
    uint8_t rd[64];
    int rc = arca_base64_decode(&ev, json_string_value(e), json_string_length(e));
    if (rc < 0) {
        rc = arca_err_wrap(rc, "peer message: '%s'", K_EVIDENCE);
        goto out;
    }
    ARCA_GUARD(rc, arca_attest_evidence_verify(cfg, type, ev.data, ev.len, NULL, 0, now, &c), out);
    ARCA_GUARD(rc, arca_launch_binding(spki, spki_len, nonce, label, rd), out);
    ARCA_GUARD_ENSURE(rc, arca_memeq(rd, c.report_data, 64), out, ARCA_ERR_POLICY,
                      "peer evidence does not bind the TLS key, the nonce and %s (relayed or "
                      "replayed evidence)",
                      route);
    ARCA_GUARD(rc, arca_sha256(spki, spki_len, who->cas_key), out);
    ARCA_GUARD(rc, measurement_of(&c, who->measurement), out);
    who->evidence_type = type;
    who->insecure = type == ARCA_EVIDENCE_SIM;
out:
    arca_buf_free(&ev);
    if (rc < 0)
        memset(who, 0, sizeof(*who));
    return rc;
}

int arca_peer_evidence_put(const struct arca_peer_self *self, const uint8_t *spki, size_t spki_len,
                           const uint8_t nonce[32], const char *route, json_t *msg)
{
    ARCA_ENSURE(self != NULL && self->evidence != NULL, ARCA_ERR_UNSUPPORTED,
                "peer: this arcad has no evidence provider");
    char label[128];
    ARCA_TRY(arca_peer_label(route, label, sizeof(label)));
    uint8_t rd[64];
    ARCA_TRY(arca_launch_binding(spki, spki_len, nonce, label, rd));
    struct arca_buf ev, b64;
    arca_buf_init(&ev, ARCA_ATTEST_EVIDENCE_MAX);
    arca_buf_init(&b64, 0);
    int type = 0;
    int rc;
    ARCA_GUARD(rc, self->evidence(self->evidence_arg, rd, &type, &ev), out);
    ARCA_GUARD(rc, arca_base64_encode(&b64, ev.data, ev.len), out);
    const char *name = arca_evidence_type_name((enum arca_evidence_type)type);
    ARCA_GUARD_ENSURE(rc,
                      json_object_set_new(msg, K_TYPE, json_string(name)) == 0 &&
                          json_object_set_new(msg, K_EVIDENCE,
                                              json_stringn((const char *)b64.data, b64.len)) == 0,
                      out, ARCA_ERR_ALLOC, "peer: out of memory");
out:
    arca_buf_free(&ev);
    arca_buf_free(&b64);
    return rc;
}
