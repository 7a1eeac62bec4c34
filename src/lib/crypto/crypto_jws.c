/*
 * JWS compact serialisation (RFC 7515 §7.1) for the tokens of `kind: jwt` secrets: the signing
 * input is BASE64URL(header) "." BASE64URL(payload), without padding, and the signature is
 * appended in the JOSE form of RFC 7518 §3: ECDSA as the raw r||s pair of fixed-size big-endian
 * integers (not the DER that OpenSSL produces), RSA as PKCS #1 v1.5, EdDSA as the 64 bytes of
 * pure Ed25519 (RFC 8037).
 */
#include "crypto/crypto_internal.h"

#include <openssl/ec.h>
#include <openssl/rsa.h>
#include <string.h>

#include "base/enc.h"
#include "crypto/jws.h"

struct jws_alg {
    const char *name;
    enum arca_key_type key; /* RSA: any RSA size (checked below) */
    enum arca_hash_alg hash;
    size_t coord; /* ECDSA: bytes of r and of s */
};

static const struct jws_alg jws_algs[] = {
    {"ES256", ARCA_KEY_P256, ARCA_SHA256, 32},
    {"ES384", ARCA_KEY_P384, ARCA_SHA384, 48},
    {"EdDSA", ARCA_KEY_ED25519, ARCA_SHA256, 0},
    {"RS256", ARCA_KEY_RSA2048, ARCA_SHA256, 0},
};

static bool is_rsa(enum arca_key_type t)
{
    return t == ARCA_KEY_RSA2048 || t == ARCA_KEY_RSA3072 || t == ARCA_KEY_RSA4096 ||
           t == ARCA_KEY_RSA_OTHER;
}

static const struct jws_alg *alg_find(const char *alg)
{
    for (size_t i = 0; i < sizeof(jws_algs) / sizeof(jws_algs[0]); i++)
        if (strcmp(jws_algs[i].name, alg) == 0)
            return &jws_algs[i];
    return NULL;
}

const char *arca_jws_alg_for_key(enum arca_key_type t)
{
    if (is_rsa(t))
        return "RS256";
    for (size_t i = 0; i < sizeof(jws_algs) / sizeof(jws_algs[0]); i++)
        if (jws_algs[i].key == t)
            return jws_algs[i].name;
    return NULL;
}

/* DER ECDSA signature -> r||s, each left-padded to coord bytes. */
static int ecdsa_der_to_raw(const uint8_t *der, size_t n, size_t coord, struct arca_buf *out)
{
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)n);
    if (sig == NULL)
        return arca_ossl_err(ARCA_ERR_CRYPTO, "jws: cannot decode the ECDSA signature");
    const BIGNUM *r, *s;
    ECDSA_SIG_get0(sig, &r, &s);
    uint8_t raw[132];
    int rc = 0;
    if (2 * coord > sizeof(raw) || BN_bn2binpad(r, raw, (int)coord) != (int)coord ||
        BN_bn2binpad(s, raw + coord, (int)coord) != (int)coord)
        rc = arca_err_set(ARCA_ERR_CRYPTO, "jws: ECDSA signature does not fit %zu bytes", coord);
    else
        rc = arca_buf_put(out, raw, 2 * coord);
    ECDSA_SIG_free(sig);
    return rc;
}

/* RSASSA-PKCS1-v1_5 with SHA-256 (arca_sign's RSA is PSS, which RS256 is not). */
static int rsa_pkcs1_sign(const struct arca_key *k, const void *p, size_t n, struct arca_buf *sig)
{
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    size_t len = 0;
    int rc = 0;
    if (mctx == NULL)
        return arca_err_set(ARCA_ERR_ALLOC, "jws: out of memory");
    if (EVP_DigestSignInit(mctx, &pctx, EVP_sha256(), NULL, k->pkey) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1 ||
        EVP_DigestSign(mctx, NULL, &len, p, n) != 1) {
        rc = arca_ossl_err(ARCA_ERR_CRYPTO, "jws: cannot sign with RSA");
        goto out;
    }
    ARCA_GUARD(rc, arca_buf_reserve(sig, len), out);
    if (EVP_DigestSign(mctx, sig->data + sig->len, &len, p, n) != 1) {
        rc = arca_ossl_err(ARCA_ERR_CRYPTO, "jws: cannot sign with RSA");
        goto out;
    }
    sig->len += len;
out:
    EVP_MD_CTX_free(mctx);
    return rc;
}

int arca_jws_sign(const struct arca_key *k, const char *alg, const void *header, size_t hlen,
                  const void *payload, size_t plen, struct arca_buf *out)
{
    ARCA_ENSURE_REF(k);
    ARCA_ENSURE_REF(alg);
    ARCA_ENSURE_REF(out);
    const struct jws_alg *a = alg_find(alg);
    enum arca_key_type t = arca_key_type(k);
    if (a == NULL)
        ARCA_BAIL(ARCA_ERR_UNSUPPORTED, "jws: algorithm '%.20s' (ES256, ES384, EdDSA, RS256)", alg);
    if (!arca_key_has_private(k))
        ARCA_BAIL(ARCA_ERR_INVALID_ARG, "jws: the signing key has no private part");
    if (strcmp(a->name, "RS256") == 0 ? !is_rsa(t) : t != a->key)
        ARCA_BAIL(ARCA_ERR_INVALID_ARG, "jws: %s needs a %s key, the signing key is %s", a->name,
                  strcmp(a->name, "RS256") == 0 ? "RSA" : arca_key_type_name(a->key),
                  arca_key_type_name(t));
    size_t start = out->len;
    struct arca_buf sig, der;
    arca_buf_init(&sig, 1024);
    arca_buf_init(&der, 1024);
    int rc = 0;
    ARCA_GUARD(rc, arca_base64url_encode(out, header, hlen), fail);
    ARCA_GUARD(rc, arca_buf_put_u8(out, '.'), fail);
    ARCA_GUARD(rc, arca_base64url_encode(out, payload, plen), fail);
    const uint8_t *input = out->data + start;
    size_t ilen = out->len - start;
    if (a->coord > 0) {
        ARCA_GUARD(rc, arca_sign(k, a->hash, input, ilen, &der), fail);
        ARCA_GUARD(rc, ecdsa_der_to_raw(der.data, der.len, a->coord, &sig), fail);
    } else if (is_rsa(t)) {
        ARCA_GUARD(rc, rsa_pkcs1_sign(k, input, ilen, &sig), fail);
    } else {
        ARCA_GUARD(rc, arca_sign(k, a->hash, input, ilen, &sig), fail);
    }
    ARCA_GUARD(rc, arca_buf_put_u8(out, '.'), fail);
    ARCA_GUARD(rc, arca_base64url_encode(out, sig.data, sig.len), fail);
    arca_buf_free(&sig);
    arca_buf_free(&der);
    return 0;
fail:
    out->len = start;
    arca_buf_free(&sig);
    arca_buf_free(&der);
    return rc;
}
