/*
 * Microsoft Azure Attestation tokens (evidence/maa.h): RS256 JWT signature against the
 * configured provider keys, issuer and validity window, then the x-ms-sgx-* claims.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "evidence/maa.h"
#include "base/enc.h"
#include "base/err.h"
#include "crypto/crypto.h"
#include "evidence/signed_json.h"

#define JWKS_MAX (1024 * 1024)

/* Decodes one base64url JWT segment into a JSON object (*out: new reference). */
static int segment_json(const char *p, size_t n, const char *what, json_t **out)
{
    struct arca_buf b;
    arca_buf_init(&b, ARCA_MAA_TOKEN_MAX);
    int rc = arca_base64url_decode(&b, p, n);
    if (rc < 0) {
        arca_buf_free(&b);
        return arca_err_wrap(ARCA_ERR_FORMAT, "maa token: %s is not base64url", what);
    }
    char label[32];
    snprintf(label, sizeof(label), "maa token %s", what);
    rc = arca_json_load_object((const char *)b.data, b.len, label, out);
    arca_buf_free(&b);
    return rc;
}

/* The RSA key of the first x5c certificate of JWKS entry k (*out: new). */
static int jwk_key(const json_t *k, const char *kid, unsigned min_bits, struct arca_key **out)
{
    const json_t *x5c = json_object_get(k, "x5c");
    const json_t *first = json_is_array(x5c) ? json_array_get(x5c, 0) : NULL;
    ARCA_ENSURE(json_is_string(first), ARCA_ERR_FORMAT,
                "maa keys: key '%.60s' has no x5c certificate", kid);
    struct arca_buf der;
    arca_buf_init(&der, JWKS_MAX);
    struct arca_x509 *cert = NULL;
    int rc = arca_base64_decode(&der, json_string_value(first), json_string_length(first));
    if (rc == 0)
        rc = arca_x509_from_der(der.data, der.len, &cert);
    arca_buf_free(&der);
    if (rc < 0)
        return arca_err_wrap(ARCA_ERR_FORMAT, "maa keys: key '%.60s': x5c[0]", kid);
    rc = arca_x509_public_key(cert, out);
    arca_x509_free(cert);
    ARCA_TRY(rc);
    enum arca_key_type t = arca_key_type(*out);
    int bits = arca_key_bits(*out);
    if (t != ARCA_KEY_RSA2048 && t != ARCA_KEY_RSA3072 && t != ARCA_KEY_RSA4096 &&
        t != ARCA_KEY_RSA_OTHER)
        rc = arca_err_set(ARCA_ERR_POLICY, "maa keys: key '%.60s' is %s, not RSA (RS256)", kid,
                          arca_key_type_name(t));
    else if (bits < 0 || (unsigned)bits < min_bits)
        rc = arca_err_set(ARCA_ERR_POLICY,
                          "maa keys: key '%.60s' is RSA with %d bits, below the minimum of %u", kid,
                          bits, min_bits);
    if (rc < 0) {
        arca_key_free(*out);
        *out = NULL;
    }
    return rc;
}

/* The configured key named kid (*out: new). */
static int find_key(const struct arca_maa_cfg *cfg, const char *kid, struct arca_key **out)
{
    ARCA_ENSURE(cfg->jwks != NULL && cfg->jwks_len <= JWKS_MAX, ARCA_ERR_INVALID_ARG,
                "maa keys: no JWKS configured, or larger than %d bytes", JWKS_MAX);
    json_t *j = NULL;
    ARCA_TRY(arca_json_load_object(cfg->jwks, cfg->jwks_len, "maa keys", &j));
    const json_t *keys = json_object_get(j, "keys");
    if (!json_is_array(keys)) {
        json_decref(j);
        return arca_err_set(ARCA_ERR_FORMAT,
                            "maa keys: not a JWKS (a JSON object with a 'keys' list)");
    }
    unsigned min_bits = cfg->min_rsa_bits ? cfg->min_rsa_bits : ARCA_MAA_MIN_RSA_BITS;
    int rc = arca_err_set(ARCA_ERR_NOT_FOUND, "maa keys: no key with kid '%.60s'", kid);
    size_t i;
    const json_t *k;
    json_array_foreach(keys, i, k)
    {
        const char *id = json_string_value(json_object_get(k, "kid"));
        if (id != NULL && strcmp(id, kid) == 0) {
            rc = jwk_key(k, kid, min_bits, out);
            break;
        }
    }
    json_decref(j);
    return rc;
}

/* A JSON integer claim in [lo, hi]. */
static int int_claim(const json_t *p, const char *name, json_int_t lo, json_int_t hi,
                     json_int_t *out)
{
    const json_t *v = json_object_get(p, name);
    ARCA_ENSURE(json_is_integer(v), ARCA_ERR_FORMAT, "maa token: claim '%s' is not an integer",
                name);
    *out = json_integer_value(v);
    ARCA_ENSURE(*out >= lo && *out <= hi, ARCA_ERR_FORMAT, "maa token: claim '%s' is out of range",
                name);
    return 0;
}

static int hex_claim(const json_t *p, const char *name, uint8_t out[32])
{
    const char *s = json_string_value(json_object_get(p, name));
    ARCA_ENSURE(s != NULL && arca_hex_decode_fixed(out, 32, s, strlen(s)) == 0, ARCA_ERR_FORMAT,
                "maa token: claim '%s' is not 64 hex characters", name);
    return 0;
}

/* iss equals the configured provider (a trailing '/' aside); nbf <= now < exp. */
static int check_issuer_and_time(const struct arca_maa_cfg *cfg, const json_t *p, int64_t now)
{
    const char *iss = json_string_value(json_object_get(p, "iss"));
    size_t want = strlen(cfg->issuer);
    if (want > 0 && cfg->issuer[want - 1] == '/')
        want--;
    ARCA_ENSURE(iss != NULL && strlen(iss) == want && strncmp(iss, cfg->issuer, want) == 0,
                ARCA_ERR_POLICY, "maa token: issued by '%.80s', not by the configured '%.80s'",
                iss ? iss : "(none)", cfg->issuer);
    json_int_t nbf, exp;
    ARCA_TRY(int_claim(p, "nbf", 0, INT64_MAX, &nbf));
    ARCA_TRY(int_claim(p, "exp", 0, INT64_MAX, &exp));
    ARCA_ENSURE(now >= nbf && now < exp, ARCA_ERR_EXPIRED,
                "maa token: valid from %lld to %lld, not at %lld", (long long)nbf, (long long)exp,
                (long long)now);
    return 0;
}

/* The SGX claims into c; the enclave-held data appended to ehd (if given). */
static int sgx_claims(const json_t *p, struct arca_claims *c, struct arca_buf *ehd)
{
    const char *type = json_string_value(json_object_get(p, "x-ms-attestation-type"));
    ARCA_ENSURE(type != NULL && strcmp(type, "sgx") == 0, ARCA_ERR_POLICY,
                "maa token: attestation type '%.20s', only sgx is mapped", type ? type : "(none)");
    const json_t *dbg = json_object_get(p, "x-ms-sgx-is-debuggable");
    ARCA_ENSURE(json_is_boolean(dbg), ARCA_ERR_FORMAT,
                "maa token: claim 'x-ms-sgx-is-debuggable' is not a boolean");
    json_int_t prod, svn;
    ARCA_TRY(hex_claim(p, "x-ms-sgx-mrenclave", c->mrenclave));
    ARCA_TRY(hex_claim(p, "x-ms-sgx-mrsigner", c->mrsigner));
    ARCA_TRY(int_claim(p, "x-ms-sgx-product-id", 0, UINT16_MAX, &prod));
    ARCA_TRY(int_claim(p, "x-ms-sgx-svn", 0, UINT16_MAX, &svn));
    c->type = ARCA_EVIDENCE_SGX_DCAP;
    c->tcb_status = ARCA_TCB_UP_TO_DATE; /* maa-managed-tcb: the provider appraised it */
    c->debug = json_is_true(dbg);
    c->isv_prod_id = (uint16_t)prod;
    c->isv_svn = (uint16_t)svn;
    const json_t *h = json_object_get(p, "x-ms-sgx-ehd");
    if (ehd == NULL || h == NULL)
        return 0;
    ARCA_ENSURE(json_is_string(h), ARCA_ERR_FORMAT, "maa token: claim 'x-ms-sgx-ehd' is not text");
    struct arca_buf tmp;
    arca_buf_init(&tmp, ARCA_MAA_TOKEN_MAX);
    int rc = arca_base64url_decode(&tmp, json_string_value(h), json_string_length(h));
    if (rc < 0)
        rc = arca_err_wrap(ARCA_ERR_FORMAT, "maa token: claim 'x-ms-sgx-ehd'");
    else
        rc = arca_buf_put(ehd, tmp.data, tmp.len);
    arca_buf_free(&tmp);
    return rc;
}

/* The header (alg RS256, kid) and the signature over "header.payload". */
static int check_signature(const struct arca_maa_cfg *cfg, const char *token, size_t d1, size_t d2,
                           size_t len)
{
    json_t *hdr = NULL;
    ARCA_TRY(segment_json(token, d1, "header", &hdr));
    const char *alg = json_string_value(json_object_get(hdr, "alg"));
    const char *kid = json_string_value(json_object_get(hdr, "kid"));
    int rc = 0;
    struct arca_key *key = NULL;
    struct arca_buf sig;
    arca_buf_init(&sig, ARCA_MAA_TOKEN_MAX);
    if (alg == NULL || strcmp(alg, "RS256") != 0)
        rc = arca_err_set(ARCA_ERR_FORMAT, "maa token: alg '%.20s', expected RS256",
                          alg ? alg : "(none)");
    else if (kid == NULL)
        rc = arca_err_set(ARCA_ERR_FORMAT, "maa token: the header has no kid");
    if (rc == 0)
        rc = find_key(cfg, kid, &key);
    if (rc == 0 && arca_base64url_decode(&sig, token + d2 + 1, len - d2 - 1) < 0)
        rc = arca_err_wrap(ARCA_ERR_FORMAT, "maa token: signature");
    if (rc == 0 && arca_verify_rsa_pkcs1(key, ARCA_SHA256, token, d2, sig.data, sig.len) < 0)
        rc = arca_err_set(ARCA_ERR_SIGNATURE,
                          "maa token: the signature does not verify with key '%.60s'", kid);
    arca_buf_free(&sig);
    arca_key_free(key);
    json_decref(hdr);
    return rc;
}

int arca_maa_verify(const struct arca_maa_cfg *cfg, const char *token, size_t len, int64_t now,
                    struct arca_claims *claims, struct arca_buf *ehd)
{
    ARCA_ENSURE_REF(cfg);
    ARCA_ENSURE_REF(claims);
    ARCA_ENSURE(cfg->issuer != NULL, ARCA_ERR_INVALID_ARG, "maa: no provider url configured");
    ARCA_ENSURE(token != NULL || len == 0, ARCA_ERR_INVALID_ARG, "maa: token is NULL");
    memset(claims, 0, sizeof(*claims));
    ARCA_ENSURE(len <= ARCA_MAA_TOKEN_MAX, ARCA_ERR_TOO_LARGE, "maa token: %zu bytes, at most %d",
                len, ARCA_MAA_TOKEN_MAX);
    const char *p1 = memchr(token, '.', len);
    const char *p2 = p1 ? memchr(p1 + 1, '.', len - (size_t)(p1 + 1 - token)) : NULL;
    ARCA_ENSURE(p2 != NULL && memchr(p2 + 1, '.', len - (size_t)(p2 + 1 - token)) == NULL,
                ARCA_ERR_FORMAT, "maa token: not a JWS compact token (three parts)");
    size_t d1 = (size_t)(p1 - token), d2 = (size_t)(p2 - token);
    ARCA_TRY(check_signature(cfg, token, d1, d2, len));
    json_t *payload = NULL;
    ARCA_TRY(segment_json(p1 + 1, d2 - d1 - 1, "payload", &payload));
    struct arca_claims c;
    memset(&c, 0, sizeof(c));
    /* ehd is appended last, by one arca_buf_put: on any failure it is as it was */
    int rc = check_issuer_and_time(cfg, payload, now);
    if (rc == 0)
        rc = sgx_claims(payload, &c, ehd);
    json_decref(payload);
    if (rc == 0)
        *claims = c;
    return rc;
}
