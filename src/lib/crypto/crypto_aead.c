/*
 * AES-256-GCM with a 96-bit nonce and a 128-bit tag (EVP_aes_256_gcm).
 * Output convention of the one-shot calls: ciphertext || tag.
 *
 * The one-shot calls are a reusable context used once. A context keeps one EVP_CIPHER_CTX with
 * the cipher fetched and the key scheduled, so a caller sealing many chunks under one key (a
 * volume file) pays OpenSSL 3's algorithm fetch and the key expansion once, not per chunk.
 */
#include "crypto/crypto_internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

/* EVP lengths are int: refuse anything that does not fit rather than truncating. */
#define AEAD_MAX ((size_t)INT_MAX - 64)

struct arca_aead_ctx {
    EVP_CIPHER *cipher; /* fetched once: re-keying and re-noncing reuse it */
    EVP_CIPHER_CTX *ctx;
    bool keyed;
};

int arca_aead_ctx_new(struct arca_aead_ctx **out)
{
    ARCA_ENSURE_REF(out);
    *out = NULL;
    struct arca_aead_ctx *a = calloc(1, sizeof(*a));
    ARCA_ENSURE(a != NULL, ARCA_ERR_ALLOC, "aead: out of memory");
    a->cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    a->ctx = a->cipher != NULL ? EVP_CIPHER_CTX_new() : NULL;
    if (a->ctx == NULL || EVP_CipherInit_ex(a->ctx, a->cipher, NULL, NULL, NULL, 1) != 1 ||
        EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_GCM_SET_IVLEN, ARCA_AEAD_NONCE_LEN, NULL) != 1) {
        arca_aead_ctx_free(a);
        return arca_ossl_err(ARCA_ERR_CRYPTO, "aead: cannot initialise AES-256-GCM");
    }
    *out = a;
    return 0;
}

void arca_aead_ctx_free(struct arca_aead_ctx *a)
{
    if (a == NULL)
        return;
    EVP_CIPHER_CTX_free(a->ctx); /* cleanses the key schedule */
    EVP_CIPHER_free(a->cipher);
    free(a);
}

int arca_aead_ctx_set_key(struct arca_aead_ctx *a, const uint8_t key[ARCA_AEAD_KEY_LEN])
{
    ARCA_ENSURE_REF(a);
    ARCA_ENSURE_REF(key);
    a->keyed = false;
    if (EVP_CipherInit_ex(a->ctx, NULL, NULL, key, NULL, -1) != 1)
        return arca_ossl_err(ARCA_ERR_CRYPTO, "aead: cannot set the AES-256-GCM key");
    a->keyed = true;
    return 0;
}

/* Starts one message: direction, nonce, associated data. */
static int aead_begin(struct arca_aead_ctx *a, int enc, const uint8_t *nonce, const void *aad,
                      size_t aadlen, size_t n, const char *op)
{
    ARCA_ENSURE_REF(a);
    ARCA_ENSURE_REF(nonce);
    ARCA_ENSURE(a->keyed, ARCA_ERR_INVALID_ARG, "aead %s: no key set", op);
    ARCA_ENSURE(aad != NULL || aadlen == 0, ARCA_ERR_INVALID_ARG, "aead %s: aad is NULL", op);
    ARCA_ENSURE(n <= AEAD_MAX && aadlen <= AEAD_MAX, ARCA_ERR_TOO_LARGE,
                "aead %s: input of %zu bytes too large", op, n);
    int outl = 0;
    if (EVP_CipherInit_ex(a->ctx, NULL, NULL, NULL, nonce, enc) != 1 ||
        (aadlen > 0 && EVP_CipherUpdate(a->ctx, NULL, &outl, aad, (int)aadlen) != 1))
        return arca_ossl_err(ARCA_ERR_CRYPTO, enc ? "aead seal: cannot initialise AES-256-GCM"
                                                  : "aead open: cannot initialise AES-256-GCM");
    return 0;
}

int arca_aead_ctx_seal(struct arca_aead_ctx *a, const uint8_t nonce[ARCA_AEAD_NONCE_LEN],
                       const void *aad, size_t aadlen, const void *pt, size_t n, void *ct,
                       uint8_t tag[ARCA_AEAD_TAG_LEN])
{
    ARCA_ENSURE(pt != NULL || n == 0, ARCA_ERR_INVALID_ARG, "aead seal: plaintext is NULL");
    ARCA_ENSURE(ct != NULL || n == 0, ARCA_ERR_INVALID_ARG, "aead seal: output is NULL");
    ARCA_ENSURE_REF(tag);
    ARCA_TRY(aead_begin(a, 1, nonce, aad, aadlen, n, "seal"));
    uint8_t *dst = ct;
    int l1 = 0, l2 = 0;
    if ((n > 0 && EVP_EncryptUpdate(a->ctx, dst, &l1, pt, (int)n) != 1) ||
        EVP_EncryptFinal_ex(a->ctx, dst + l1, &l2) != 1 || (size_t)(l1 + l2) != n ||
        EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_GCM_GET_TAG, ARCA_AEAD_TAG_LEN, tag) != 1) {
        if (n > 0)
            OPENSSL_cleanse(dst, n);
        OPENSSL_cleanse(tag, ARCA_AEAD_TAG_LEN);
        return arca_ossl_err(ARCA_ERR_CRYPTO, "aead seal: AES-256-GCM failed");
    }
    return 0;
}

int arca_aead_ctx_open(struct arca_aead_ctx *a, const uint8_t nonce[ARCA_AEAD_NONCE_LEN],
                       const void *aad, size_t aadlen, const void *ct, size_t n,
                       const uint8_t tag[ARCA_AEAD_TAG_LEN], void *pt)
{
    ARCA_ENSURE(ct != NULL || n == 0, ARCA_ERR_INVALID_ARG, "aead open: ciphertext is NULL");
    ARCA_ENSURE(pt != NULL || n == 0, ARCA_ERR_INVALID_ARG, "aead open: output is NULL");
    ARCA_ENSURE_REF(tag);
    ARCA_TRY(aead_begin(a, 0, nonce, aad, aadlen, n, "open"));
    /* A copy: OpenSSL takes a non-const pointer, and the tag may lie in the output's path. */
    uint8_t t[ARCA_AEAD_TAG_LEN];
    memcpy(t, tag, sizeof(t));
    uint8_t *dst = pt;
    int l1 = 0, l2 = 0;
    int rc = 0;
    if ((n > 0 && EVP_DecryptUpdate(a->ctx, dst, &l1, ct, (int)n) != 1) ||
        EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_GCM_SET_TAG, ARCA_AEAD_TAG_LEN, t) != 1) {
        rc = arca_ossl_err(ARCA_ERR_CRYPTO, "aead open: AES-256-GCM failed");
    } else if (EVP_DecryptFinal_ex(a->ctx, dst + l1, &l2) != 1) {
        arca_ossl_clear();
        rc = arca_err_set(ARCA_ERR_TAMPERED, "aead open: authentication tag does not verify");
    }
    /* Never leave unauthenticated plaintext behind. */
    if (rc < 0 && n > 0)
        OPENSSL_cleanse(dst, n);
    return rc;
}

/* A context keyed with key for one message; freed by the caller. */
static int aead_once(const uint8_t *key, struct arca_aead_ctx **out)
{
    ARCA_ENSURE_REF(key);
    ARCA_TRY(arca_aead_ctx_new(out));
    int rc = arca_aead_ctx_set_key(*out, key);
    if (rc < 0) {
        arca_aead_ctx_free(*out);
        *out = NULL;
    }
    return rc;
}

int arca_aead_seal(const uint8_t key[ARCA_AEAD_KEY_LEN], const uint8_t nonce[ARCA_AEAD_NONCE_LEN],
                   const void *aad, size_t aadlen, const void *pt, size_t ptlen,
                   struct arca_buf *out)
{
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(ptlen <= AEAD_MAX, ARCA_ERR_TOO_LARGE, "aead seal: input of %zu bytes too large",
                ptlen);
    ARCA_TRY(arca_buf_reserve(out, ptlen + ARCA_AEAD_TAG_LEN));
    struct arca_aead_ctx *a = NULL;
    ARCA_TRY(aead_once(key, &a));
    uint8_t *dst = out->data + out->len;
    int rc = arca_aead_ctx_seal(a, nonce, aad, aadlen, pt, ptlen, dst, dst + ptlen);
    if (rc == 0) {
        out->len += ptlen + ARCA_AEAD_TAG_LEN;
        out->data[out->len] = 0;
    }
    arca_aead_ctx_free(a);
    return rc;
}

int arca_aead_open(const uint8_t key[ARCA_AEAD_KEY_LEN], const uint8_t nonce[ARCA_AEAD_NONCE_LEN],
                   const void *aad, size_t aadlen, const void *ct, size_t ctlen,
                   struct arca_buf *out)
{
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(ct != NULL || ctlen == 0, ARCA_ERR_INVALID_ARG, "aead open: ciphertext is NULL");
    ARCA_ENSURE(ctlen >= ARCA_AEAD_TAG_LEN, ARCA_ERR_TAMPERED,
                "aead open: %zu bytes is shorter than the %d-byte tag", ctlen, ARCA_AEAD_TAG_LEN);
    ARCA_ENSURE(ctlen <= AEAD_MAX, ARCA_ERR_TOO_LARGE, "aead open: input of %zu bytes too large",
                ctlen);
    size_t n = ctlen - ARCA_AEAD_TAG_LEN;
    const uint8_t *c = ct;
    ARCA_TRY(arca_buf_reserve(out, n));
    struct arca_aead_ctx *a = NULL;
    ARCA_TRY(aead_once(key, &a));
    uint8_t *dst = out->data + out->len;
    int rc = arca_aead_ctx_open(a, nonce, aad, aadlen, c, n, c + n, dst);
    if (rc == 0)
        out->len += n;
    out->data[out->len] = 0;
    arca_aead_ctx_free(a);
    return rc;
}
