/*
 * Encrypted sessions (issue 12, docs/encrypted-sessions.md): arcad's X25519 session-encryption
 * key, published with evidence that binds it (GET /v1/session_encryption_key?nonce=HEX), and
 * the upload of a session encrypted to it (PUT /v1/encrypted_sessions), decrypted only here,
 * into a secret buffer, and then handled exactly as POST /v1/sessions.
 *
 * The key is derived from the CAS key (HKDF-SHA-256 over its PKCS#8 form, label
 * "arca-session-encryption-key-v1"), so it lives as long as arcad's identity, needs no file of
 * its own, and is re-derived per request (no state to free); only this arcad can derive it.
 */
#include <stdio.h>
#include <string.h>

#include "api/client_api.h"
#include "arcad_internal.h"
#include "attest/binding.h"
#include "base/enc.h"
#include "base/err.h"
#include "base/log.h"
#include "evidence/sim.h"

#define SEK_LABEL "arca-session-encryption-key-v1"
#define SEK_BINDING "session-encryption-key:"
_Static_assert(ARCA_LAUNCH_NONCE_LEN == 32, "nonce length of arcad_evidence_request");

int arcad_session_key(const struct arca_key *cas, struct arca_key **out)
{
    struct arca_buf der;
    arca_buf_init_secret(&der, 0);
    uint8_t raw[32];
    int rc = arca_key_private_der(cas, &der);
    if (rc == 0)
        rc = arca_hkdf(ARCA_SHA256, SEK_LABEL, strlen(SEK_LABEL), der.data, der.len, NULL, 0, raw,
                       sizeof(raw));
    if (rc == 0)
        rc = arca_x25519_from_private(raw, out);
    arca_wipe(raw, sizeof(raw));
    arca_buf_free(&der);
    return rc;
}

static int session_key_public(const struct arcad_ctx *ctx, uint8_t pub[32])
{
    struct arca_key *k = NULL;
    struct arca_buf b;
    arca_buf_init(&b, 64);
    int rc = arcad_session_key(ctx->id.key, &k);
    if (rc == 0)
        rc = arca_key_public_raw(k, &b);
    if (rc == 0 && b.len == 32)
        memcpy(pub, b.data, 32);
    else if (rc == 0)
        rc = arca_err_set(ARCA_ERR_INTERNAL, "session-encryption key: unexpected length");
    arca_buf_free(&b);
    arca_key_free(k);
    return rc;
}

/* json[name] = base64(p[n]) */
static int set_b64(json_t *j, const char *name, const void *p, size_t n)
{
    struct arca_buf b;
    arca_buf_init(&b, 0);
    int rc = arca_base64_encode(&b, p, n);
    if (rc == 0 && json_object_set_new(j, name, json_stringn((char *)b.data, b.len)) < 0)
        rc = arca_err_set(ARCA_ERR_ALLOC, "out of memory");
    arca_buf_free(&b);
    return rc;
}

static void h_key(struct arcad_request *req, void *arg)
{
    struct arcad_ctx *ctx = arcad_request_ctx(req);
    uint8_t nonce[ARCA_LAUNCH_NONCE_LEN], pub[32], rd[64];
    if (!arcad_evidence_request(req, nonce))
        return;
    char pub_hex[65], key_hex[65], label[sizeof(SEK_BINDING) + 64];
    struct arca_buf spki, ev;
    arca_buf_init(&spki, 0);
    arca_buf_init(&ev, 0);
    json_t *j = NULL;
    int rc;
    ARCA_GUARD(rc, session_key_public(ctx, pub), out);
    arca_hex_fmt(pub_hex, pub, 32);
    arca_hex_fmt(key_hex, ctx->id.key_id, 32);
    snprintf(label, sizeof(label), "%s%s", SEK_BINDING, pub_hex);
    ARCA_GUARD(rc, arca_key_spki_der(ctx->id.key, &spki), out);
    ARCA_GUARD(rc, arca_launch_binding(spki.data, spki.len, nonce, label, rd), out);
    ARCA_GUARD(rc, arca_sim_evidence_make(ctx->sim, ctx->measurement, rd, &ev), out);
    j = json_pack("{s:s, s:s, s:s, s:b}", "session_encryption_key", pub_hex, "cas_key", key_hex,
                  "evidence_type", ARCA_API_EVIDENCE_SIM, "insecure", 1);
    ARCA_GUARD_ENSURE(rc, j != NULL, out, ARCA_ERR_ALLOC, "out of memory");
    ARCA_GUARD(rc, set_b64(j, "evidence", ev.data, ev.len), out);
    ARCA_GUARD(rc, set_b64(j, "spki", spki.data, spki.len), out);
    arcad_reply_json(req, 200, j);
    j = NULL;
out:
    json_decref(j);
    if (rc < 0)
        arcad_reply_err(req, rc);
    arca_buf_free(&spki);
    arca_buf_free(&ev);
}

static void h_upload(struct arcad_request *req, void *arg)
{
    struct arcad_ctx *ctx = arcad_request_ctx(req);
    const uint8_t *p = NULL;
    size_t n = 0;
    arcad_request_body(req, &p, &n);
    struct arca_key *k = NULL;
    struct arca_buf yaml;
    arca_buf_init_secret(&yaml, 0);
    int rc = arcad_session_key(ctx->id.key, &k);
    if (rc == 0)
        rc = arca_box_open(k, p, n, &yaml);
    arca_key_free(k);
    if (rc == ARCA_ERR_TAMPERED) {
        arca_info("client-api", "encrypted session refused: %s", arca_err_detail());
        arcad_reply_error(req, 400,
                          "encrypted session: not encrypted to this arcad's session-encryption "
                          "key (arca cas show --session-encryption-key), or altered");
    } else if (rc < 0) {
        arcad_reply_err(req, rc);
    } else {
        arcad_session_upload(req, yaml.data, yaml.len);
    }
    arca_buf_free(&yaml);
}

int arcad_encrypted_register(struct arcad_router *r, struct arcad_ctx *ctx)
{
    ARCA_TRY(arcad_router_add(r, "GET", "/v1/session_encryption_key",
                              ARCAD_ROUTE_EXACT | ARCAD_ROUTE_NO_CERT | ARCAD_ROUTE_RATE_LIMITED |
                                  ARCAD_ROUTE_OFFLOAD,
                              "session_encryption_key", h_key, NULL));
    ARCA_TRY(arcad_router_add(r, "PUT", "/v1/encrypted_sessions",
                              ARCAD_ROUTE_EXACT | ARCAD_ROUTE_OFFLOAD, "encrypted_sessions",
                              h_upload, NULL));
    return 0;
}
