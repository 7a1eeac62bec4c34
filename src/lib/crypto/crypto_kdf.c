/*
 * HKDF (RFC 5869) through OpenSSL 3's EVP_KDF. A context fetches the KDF once and sets its
 * digest once; later derivations pass only key, salt and info, so many small derivations (one
 * per volume file) skip the algorithm fetches that dominate a one-shot call.
 */
#include "crypto/crypto_internal.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <stdlib.h>
#include <string.h>

struct arca_hkdf_ctx {
    EVP_KDF *kdf;
    EVP_KDF_CTX *ctx; /* digest set; key, salt and info replaced by every derivation */
    enum arca_hash_alg alg;
};

void arca_hkdf_ctx_free(struct arca_hkdf_ctx *k)
{
    if (k == NULL)
        return;
    EVP_KDF_CTX_free(k->ctx); /* cleanses the key it holds */
    EVP_KDF_free(k->kdf);
    free(k);
}

/* A new OpenSSL context with the digest of k set. */
static EVP_KDF_CTX *kctx_new(const struct arca_hkdf_ctx *k)
{
    const EVP_MD *md = arca_md(k->alg);
    EVP_KDF_CTX *c = md != NULL ? EVP_KDF_CTX_new(k->kdf) : NULL;
    OSSL_PARAM params[2];
    params[0] =
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)EVP_MD_get0_name(md), 0);
    params[1] = OSSL_PARAM_construct_end();
    if (c != NULL && EVP_KDF_CTX_set_params(c, params) != 1) {
        EVP_KDF_CTX_free(c);
        c = NULL;
    }
    return c;
}

int arca_hkdf_ctx_new(enum arca_hash_alg alg, struct arca_hkdf_ctx **out)
{
    ARCA_ENSURE_REF(out);
    *out = NULL;
    ARCA_ENSURE(arca_hash_len(alg) != 0, ARCA_ERR_INVALID_ARG, "hkdf: unknown hash %d", (int)alg);
    struct arca_hkdf_ctx *k = calloc(1, sizeof(*k));
    ARCA_ENSURE(k != NULL, ARCA_ERR_ALLOC, "hkdf: out of memory");
    k->alg = alg;
    k->kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    k->ctx = k->kdf != NULL ? kctx_new(k) : NULL;
    if (k->ctx == NULL) {
        arca_hkdf_ctx_free(k);
        return arca_ossl_err(ARCA_ERR_CRYPTO, "hkdf: cannot initialise");
    }
    *out = k;
    return 0;
}

int arca_hkdf_ctx_derive(struct arca_hkdf_ctx *k, const void *salt, size_t saltlen, const void *ikm,
                         size_t ikmlen, const void *info, size_t infolen, uint8_t *out,
                         size_t outlen)
{
    ARCA_ENSURE_REF(k);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(ikm != NULL || ikmlen == 0, ARCA_ERR_INVALID_ARG, "hkdf: ikm is NULL");
    ARCA_ENSURE(salt != NULL || saltlen == 0, ARCA_ERR_INVALID_ARG, "hkdf: salt is NULL");
    ARCA_ENSURE(info != NULL || infolen == 0, ARCA_ERR_INVALID_ARG, "hkdf: info is NULL");
    size_t hlen = arca_hash_len(k->alg);
    ARCA_ENSURE(outlen > 0 && outlen <= 255 * hlen, ARCA_ERR_INVALID_ARG,
                "hkdf: output length %zu outside 1..%zu", outlen, 255 * hlen);
    /* An absent salt is hLen zeros (RFC 5869 §2.2); passing them explicitly replaces the
     * previous derivation's salt in the kept context, where leaving it out would reuse it. */
    static const uint8_t zeros[ARCA_HASH_MAX_LEN];
    static uint8_t empty[1];
    /* OpenSSL 3.0 mishandles an empty info on a used context (it crashes), so a derivation
     * without info gets a context of its own; every volume derivation has an info. */
    EVP_KDF_CTX *c = infolen > 0 ? k->ctx : kctx_new(k);
    OSSL_PARAM params[4];
    size_t i = 0;
    params[i++] =
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, ikmlen ? (void *)ikm : empty, ikmlen);
    params[i++] = OSSL_PARAM_construct_octet_string(
        OSSL_KDF_PARAM_SALT, saltlen ? (void *)salt : (void *)zeros, saltlen ? saltlen : hlen);
    if (infolen > 0)
        params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, infolen);
    params[i] = OSSL_PARAM_construct_end();
    int rc = 0;
    if (c == NULL || EVP_KDF_derive(c, out, outlen, params) != 1) {
        OPENSSL_cleanse(out, outlen);
        rc = arca_ossl_err(ARCA_ERR_CRYPTO, "hkdf failed");
    }
    if (c != k->ctx)
        EVP_KDF_CTX_free(c);
    return rc;
}

int arca_hkdf(enum arca_hash_alg alg, const void *salt, size_t saltlen, const void *ikm,
              size_t ikmlen, const void *info, size_t infolen, uint8_t *out, size_t outlen)
{
    struct arca_hkdf_ctx *k = NULL;
    ARCA_TRY(arca_hkdf_ctx_new(alg, &k));
    int rc = arca_hkdf_ctx_derive(k, salt, saltlen, ikm, ikmlen, info, infolen, out, outlen);
    arca_hkdf_ctx_free(k);
    return rc;
}
