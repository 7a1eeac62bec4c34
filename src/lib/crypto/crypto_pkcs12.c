/*
 * PKCS#12 bundles (key + certificate + chain), e.g. for browsers and other TLS clients.
 */
#include "crypto/crypto_internal.h"

#include <openssl/err.h>
#include <openssl/pkcs12.h>

int arca_pkcs12_build(const struct arca_key *key, const struct arca_x509 *cert,
                      const struct arca_x509 *const *chain, size_t chain_count,
                      const char *password, struct arca_buf *out)
{
    ARCA_ENSURE_REF(key);
    ARCA_ENSURE_REF(cert);
    ARCA_ENSURE_REF(password);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(chain_count == 0 || chain != NULL, ARCA_ERR_INVALID_ARG,
                "PKCS#12: chain is NULL but chain_count is %zu", chain_count);
    ARCA_ENSURE(key->priv, ARCA_ERR_INVALID_ARG, "PKCS#12: the key has no private part");
    if (X509_check_private_key(cert->x509, key->pkey) != 1) {
        ERR_clear_error();
        return arca_err_set(ARCA_ERR_INVALID_ARG, "PKCS#12: key does not match the certificate");
    }
    STACK_OF(X509) *ca = NULL;
    if (chain_count > 0) {
        ca = sk_X509_new_null();
        if (ca == NULL)
            return arca_ossl_err(ARCA_ERR_ALLOC, "PKCS#12: out of memory");
        for (size_t i = 0; i < chain_count; i++) {
            if (chain[i] == NULL || !sk_X509_push(ca, chain[i]->x509)) {
                sk_X509_free(ca);
                return arca_ossl_err(ARCA_ERR_INVALID_ARG, "PKCS#12: bad chain entry");
            }
        }
    }
    /* Defaults of OpenSSL 3: AES-256-CBC with PBKDF2 for the key bag, SHA-256 MAC. */
    PKCS12 *p12 = PKCS12_create(password, NULL, key->pkey, cert->x509, ca, 0, 0, 0, 0, 0);
    sk_X509_free(ca);
    if (p12 == NULL)
        return arca_ossl_err(ARCA_ERR_CRYPTO, "PKCS#12: cannot build");
    unsigned char *der = NULL;
    int n = i2d_PKCS12(p12, &der);
    PKCS12_free(p12);
    if (n <= 0)
        return arca_ossl_err(ARCA_ERR_CRYPTO, "PKCS#12: cannot encode");
    int rc = arca_buf_put(out, der, (size_t)n);
    OPENSSL_clear_free(der, (size_t)n);
    return rc;
}

int arca_pkcs12_parse(const void *der, size_t n, const char *password, struct arca_key **key,
                      struct arca_x509 **cert)
{
    ARCA_ENSURE_REF(der);
    ARCA_ENSURE_REF(password);
    ARCA_ENSURE_REF(key);
    ARCA_ENSURE_REF(cert);
    ARCA_ENSURE(n > 0 && n <= INT32_MAX, ARCA_ERR_FORMAT, "PKCS#12: empty or too large input");
    const unsigned char *p = der;
    PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long)n);
    if (p12 == NULL)
        return arca_ossl_err(ARCA_ERR_FORMAT, "PKCS#12: cannot parse");
    if ((size_t)(p - (const unsigned char *)der) != n) {
        PKCS12_free(p12);
        return arca_err_set(ARCA_ERR_FORMAT, "PKCS#12: trailing bytes after the structure");
    }
    if (PKCS12_verify_mac(p12, password, -1) != 1 &&
        !(password[0] == '\0' && PKCS12_verify_mac(p12, NULL, 0) == 1)) {
        PKCS12_free(p12);
        ERR_clear_error();
        return arca_err_set(ARCA_ERR_SIGNATURE, "PKCS#12: wrong password or corrupted MAC");
    }
    EVP_PKEY *pkey = NULL;
    X509 *x = NULL;
    STACK_OF(X509) *ca = NULL;
    int ok = PKCS12_parse(p12, password, &pkey, &x, &ca);
    PKCS12_free(p12);
    sk_X509_pop_free(ca, X509_free);
    if (ok != 1 || pkey == NULL || x == NULL) {
        EVP_PKEY_free(pkey);
        X509_free(x);
        return arca_ossl_err(ARCA_ERR_FORMAT, "PKCS#12: no key and certificate inside");
    }
    struct arca_key *k = arca_key_wrap(pkey, true);
    if (k == NULL) {
        X509_free(x);
        return ARCA_ERR_ALLOC;
    }
    struct arca_x509 *c = arca_x509_wrap(x);
    if (c == NULL) {
        arca_key_free(k);
        return ARCA_ERR_ALLOC;
    }
    ERR_clear_error();
    *key = k;
    *cert = c;
    return 0;
}
