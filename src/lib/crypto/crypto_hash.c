/*
 * SHA-2 digests and HMAC through OpenSSL 3's EVP interfaces (HKDF: crypto_kdf.c).
 */
#include "crypto/crypto_internal.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <stdlib.h>
#include <string.h>

struct arca_hash_ctx {
    EVP_MD_CTX *md;
    enum arca_hash_alg alg;
};

size_t arca_hash_len(enum arca_hash_alg alg)
{
    switch (alg) {
    case ARCA_SHA256:
        return ARCA_SHA256_LEN;
    case ARCA_SHA384:
        return ARCA_SHA384_LEN;
    case ARCA_SHA512:
        return ARCA_SHA512_LEN;
    default:
        return 0;
    }
}

int arca_hash(enum arca_hash_alg alg, const void *p, size_t n, uint8_t *out)
{
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(p != NULL || n == 0, ARCA_ERR_INVALID_ARG, "hash: input is NULL");
    const EVP_MD *md = arca_md(alg);
    if (md == NULL)
        return ARCA_ERR_INVALID_ARG;
    unsigned int len = 0;
    static const uint8_t empty[1];
    if (EVP_Digest(n ? p : empty, n, out, &len, md, NULL) != 1)
        return arca_ossl_err(ARCA_ERR_CRYPTO, "hash: EVP_Digest failed");
    return 0;
}

int arca_sha256(const void *p, size_t n, uint8_t out[ARCA_SHA256_LEN])
{
    return arca_hash(ARCA_SHA256, p, n, out);
}

int arca_hash_ctx_new(enum arca_hash_alg alg, struct arca_hash_ctx **out)
{
    ARCA_ENSURE_REF(out);
    const EVP_MD *md = arca_md(alg);
    if (md == NULL)
        return ARCA_ERR_INVALID_ARG;
    struct arca_hash_ctx *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return arca_err_set(ARCA_ERR_ALLOC, "hash: out of memory");
    h->alg = alg;
    h->md = EVP_MD_CTX_new();
    if (h->md == NULL || EVP_DigestInit_ex(h->md, md, NULL) != 1) {
        EVP_MD_CTX_free(h->md);
        free(h);
        return arca_ossl_err(ARCA_ERR_CRYPTO, "hash: cannot initialise digest");
    }
    *out = h;
    return 0;
}

int arca_hash_ctx_update(struct arca_hash_ctx *h, const void *p, size_t n)
{
    ARCA_ENSURE_REF(h);
    ARCA_ENSURE(p != NULL || n == 0, ARCA_ERR_INVALID_ARG, "hash update: input is NULL");
    if (n == 0)
        return 0;
    if (EVP_DigestUpdate(h->md, p, n) != 1)
        return arca_ossl_err(ARCA_ERR_CRYPTO, "hash: update failed");
    return 0;
}

int arca_hash_ctx_final(struct arca_hash_ctx *h, uint8_t *out)
{
    ARCA_ENSURE_REF(h);
    ARCA_ENSURE_REF(out);
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(h->md, out, &len) != 1)
        return arca_ossl_err(ARCA_ERR_CRYPTO, "hash: final failed");
    return 0;
}

int arca_hash_ctx_peek(const struct arca_hash_ctx *h, uint8_t *out)
{
    ARCA_ENSURE_REF(h);
    ARCA_ENSURE_REF(out);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned int len = 0;
    int ok =
        c != NULL && EVP_MD_CTX_copy_ex(c, h->md) == 1 && EVP_DigestFinal_ex(c, out, &len) == 1;
    EVP_MD_CTX_free(c);
    return ok ? 0 : arca_ossl_err(ARCA_ERR_CRYPTO, "hash: cannot read the running digest");
}

int arca_hash_ctx_reset(struct arca_hash_ctx *h)
{
    ARCA_ENSURE_REF(h);
    /* A NULL type keeps the digest the context already holds: no fetch. */
    if (EVP_DigestInit_ex2(h->md, NULL, NULL) != 1)
        return arca_ossl_err(ARCA_ERR_CRYPTO, "hash: cannot restart digest");
    return 0;
}

void arca_hash_ctx_free(struct arca_hash_ctx *h)
{
    if (h == NULL)
        return;
    EVP_MD_CTX_free(h->md);
    free(h);
}

int arca_hmac(enum arca_hash_alg alg, const void *key, size_t klen, const void *p, size_t n,
              uint8_t *out)
{
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(key != NULL || klen == 0, ARCA_ERR_INVALID_ARG, "hmac: key is NULL");
    ARCA_ENSURE(p != NULL || n == 0, ARCA_ERR_INVALID_ARG, "hmac: input is NULL");
    const EVP_MD *md = arca_md(alg);
    if (md == NULL)
        return ARCA_ERR_INVALID_ARG;
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    int rc = 0;
    static const uint8_t empty[1];
    OSSL_PARAM params[2];
    params[0] =
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)EVP_MD_get0_name(md), 0);
    params[1] = OSSL_PARAM_construct_end();
    size_t outlen = 0;
    if (ctx == NULL || EVP_MAC_init(ctx, klen ? key : empty, klen, params) != 1 ||
        EVP_MAC_update(ctx, n ? p : empty, n) != 1 ||
        EVP_MAC_final(ctx, out, &outlen, arca_hash_len(alg)) != 1)
        rc = arca_ossl_err(ARCA_ERR_CRYPTO, "hmac failed");
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return rc;
}

struct arca_hmac_ctx {
    EVP_MAC_CTX *ctx;
    enum arca_hash_alg alg;
};

int arca_hmac_ctx_new(enum arca_hash_alg alg, const void *key, size_t klen,
                      struct arca_hmac_ctx **out)
{
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(key != NULL && klen > 0, ARCA_ERR_INVALID_ARG, "hmac: no key");
    const EVP_MD *md = arca_md(alg);
    if (md == NULL)
        return ARCA_ERR_INVALID_ARG;
    struct arca_hmac_ctx *h = calloc(1, sizeof(*h));
    ARCA_ENSURE(h != NULL, ARCA_ERR_ALLOC, "hmac: out of memory");
    h->alg = alg;
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    h->ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    EVP_MAC_free(mac); /* the context holds its own reference */
    OSSL_PARAM params[2];
    params[0] =
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)EVP_MD_get0_name(md), 0);
    params[1] = OSSL_PARAM_construct_end();
    if (h->ctx == NULL || EVP_MAC_init(h->ctx, key, klen, params) != 1) {
        arca_hmac_ctx_free(h);
        return arca_ossl_err(ARCA_ERR_CRYPTO, "hmac: cannot initialise");
    }
    *out = h;
    return 0;
}

int arca_hmac_ctx_mac(struct arca_hmac_ctx *h, const void *p, size_t n, uint8_t *out)
{
    ARCA_ENSURE_REF(h);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(p != NULL || n == 0, ARCA_ERR_INVALID_ARG, "hmac: input is NULL");
    static const uint8_t empty[1];
    size_t outlen = 0;
    /* a NULL key restarts from the key set at creation */
    if (EVP_MAC_init(h->ctx, NULL, 0, NULL) != 1 || EVP_MAC_update(h->ctx, n ? p : empty, n) != 1 ||
        EVP_MAC_final(h->ctx, out, &outlen, arca_hash_len(h->alg)) != 1)
        return arca_ossl_err(ARCA_ERR_CRYPTO, "hmac failed");
    return 0;
}

void arca_hmac_ctx_free(struct arca_hmac_ctx *h)
{
    if (h == NULL)
        return;
    EVP_MAC_CTX_free(h->ctx); /* cleanses the key */
    free(h);
}
