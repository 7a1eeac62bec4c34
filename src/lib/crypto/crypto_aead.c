/*
 * AES-256-GCM with a 96-bit nonce and a 128-bit tag (EVP_aes_256_gcm).
 * Output convention: ciphertext || tag.
 */
#include "crypto/crypto_internal.h"

#include <limits.h>
#include <string.h>
#include <openssl/crypto.h>

/* EVP lengths are int: refuse anything that does not fit rather than truncating. */
#define AEAD_MAX ((size_t)INT_MAX - 64)

static int aead_init(EVP_CIPHER_CTX **ctxp, int enc, const uint8_t *key, const uint8_t *nonce,
                     const void *aad, size_t aadlen)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int outl = 0;
    if (ctx == NULL || EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, ARCA_AEAD_NONCE_LEN, NULL) != 1 ||
        EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) != 1 ||
        (aadlen > 0 && EVP_CipherUpdate(ctx, NULL, &outl, aad, (int)aadlen) != 1)) {
        EVP_CIPHER_CTX_free(ctx);
        return arca_ossl_err(ARCA_ERR_CRYPTO, "aead: cannot initialise AES-256-GCM");
    }
    *ctxp = ctx;
    return 0;
}

int arca_aead_seal(const uint8_t key[ARCA_AEAD_KEY_LEN], const uint8_t nonce[ARCA_AEAD_NONCE_LEN],
                   const void *aad, size_t aadlen, const void *pt, size_t ptlen,
                   struct arca_buf *out)
{
    ARCA_ENSURE_REF(key);
    ARCA_ENSURE_REF(nonce);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(aad != NULL || aadlen == 0, ARCA_ERR_INVALID_ARG, "aead seal: aad is NULL");
    ARCA_ENSURE(pt != NULL || ptlen == 0, ARCA_ERR_INVALID_ARG, "aead seal: plaintext is NULL");
    ARCA_ENSURE(ptlen <= AEAD_MAX && aadlen <= AEAD_MAX, ARCA_ERR_TOO_LARGE,
                "aead seal: input of %zu bytes too large", ptlen);
    ARCA_TRY(arca_buf_reserve(out, ptlen + ARCA_AEAD_TAG_LEN));
    EVP_CIPHER_CTX *ctx = NULL;
    ARCA_TRY(aead_init(&ctx, 1, key, nonce, aad, aadlen));
    uint8_t *dst = out->data + out->len;
    int l1 = 0, l2 = 0;
    int rc = 0;
    if ((ptlen > 0 && EVP_EncryptUpdate(ctx, dst, &l1, pt, (int)ptlen) != 1) ||
        EVP_EncryptFinal_ex(ctx, dst + l1, &l2) != 1 || (size_t)(l1 + l2) != ptlen ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, ARCA_AEAD_TAG_LEN, dst + ptlen) != 1) {
        rc = arca_ossl_err(ARCA_ERR_CRYPTO, "aead seal: AES-256-GCM failed");
        OPENSSL_cleanse(dst, ptlen + ARCA_AEAD_TAG_LEN);
    } else {
        out->len += ptlen + ARCA_AEAD_TAG_LEN;
        out->data[out->len] = 0;
    }
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

int arca_aead_open(const uint8_t key[ARCA_AEAD_KEY_LEN], const uint8_t nonce[ARCA_AEAD_NONCE_LEN],
                   const void *aad, size_t aadlen, const void *ct, size_t ctlen,
                   struct arca_buf *out)
{
    ARCA_ENSURE_REF(key);
    ARCA_ENSURE_REF(nonce);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(aad != NULL || aadlen == 0, ARCA_ERR_INVALID_ARG, "aead open: aad is NULL");
    ARCA_ENSURE(ct != NULL || ctlen == 0, ARCA_ERR_INVALID_ARG, "aead open: ciphertext is NULL");
    ARCA_ENSURE(ctlen >= ARCA_AEAD_TAG_LEN, ARCA_ERR_TAMPERED,
                "aead open: %zu bytes is shorter than the %d-byte tag", ctlen, ARCA_AEAD_TAG_LEN);
    ARCA_ENSURE(ctlen <= AEAD_MAX && aadlen <= AEAD_MAX, ARCA_ERR_TOO_LARGE,
                "aead open: input of %zu bytes too large", ctlen);
    size_t n = ctlen - ARCA_AEAD_TAG_LEN;
    const uint8_t *c = ct;
    ARCA_TRY(arca_buf_reserve(out, n));
    EVP_CIPHER_CTX *ctx = NULL;
    ARCA_TRY(aead_init(&ctx, 0, key, nonce, aad, aadlen));
    uint8_t *dst = out->data + out->len;
    uint8_t tag[ARCA_AEAD_TAG_LEN];
    memcpy(tag, c + n, sizeof(tag));
    int l1 = 0, l2 = 0;
    int rc = 0;
    if ((n > 0 && EVP_DecryptUpdate(ctx, dst, &l1, c, (int)n) != 1) ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, ARCA_AEAD_TAG_LEN, tag) != 1) {
        rc = arca_ossl_err(ARCA_ERR_CRYPTO, "aead open: AES-256-GCM failed");
    } else if (EVP_DecryptFinal_ex(ctx, dst + l1, &l2) != 1) {
        arca_ossl_clear();
        rc = arca_err_set(ARCA_ERR_TAMPERED, "aead open: authentication tag does not verify");
    }
    if (rc < 0) {
        /* Never leave unauthenticated plaintext behind, even in spare capacity. */
        OPENSSL_cleanse(dst, n);
        out->data[out->len] = 0;
    } else {
        out->len += n;
        out->data[out->len] = 0;
    }
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}
