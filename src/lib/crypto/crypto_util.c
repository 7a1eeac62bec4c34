/*
 * Shared plumbing for the crypto module: the OpenSSL error-queue adapter, wrappers for the
 * opaque types, time and name conversion, the CSPRNG and constant-time comparison.
 */
#include "crypto/crypto_internal.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int arca_ossl_err(int code, const char *what)
{
    char reasons[320];
    size_t used = 0;
    unsigned long e;
    reasons[0] = '\0';
    /* Only library and reason strings are kept: the "data" part of an OpenSSL error may quote
     * input, and the queue is drained completely so later calls start clean. */
    while ((e = ERR_get_error()) != 0) {
        const char *lib = ERR_lib_error_string(e);
        const char *reason = ERR_reason_error_string(e);
        if (used + 4 >= sizeof(reasons))
            continue;
        int n = snprintf(reasons + used, sizeof(reasons) - used, "%s%s:%s", used ? "; " : "",
                         lib ? lib : "lib", reason ? reason : "unknown reason");
        if (n > 0)
            used += (size_t)n < sizeof(reasons) - used ? (size_t)n : sizeof(reasons) - used - 1;
    }
    if (used == 0)
        return arca_err_set(code, "%s", what);
    return arca_err_set(code, "%s (%s)", what, reasons);
}

void arca_ossl_clear(void)
{
    ERR_clear_error();
}

struct arca_key *arca_key_wrap(EVP_PKEY *pkey, bool priv)
{
    if (pkey == NULL) {
        arca_err_set(ARCA_ERR_INTERNAL, "key wrap: no key");
        return NULL;
    }
    struct arca_key *k = calloc(1, sizeof(*k));
    if (k == NULL) {
        EVP_PKEY_free(pkey);
        arca_err_set(ARCA_ERR_ALLOC, "key: out of memory");
        return NULL;
    }
    k->pkey = pkey;
    k->priv = priv;
    k->refs = 1;
    return k;
}

struct arca_x509 *arca_x509_wrap(X509 *x509)
{
    if (x509 == NULL) {
        arca_err_set(ARCA_ERR_INTERNAL, "certificate wrap: no certificate");
        return NULL;
    }
    struct arca_x509 *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        X509_free(x509);
        arca_err_set(ARCA_ERR_ALLOC, "certificate: out of memory");
        return NULL;
    }
    c->x509 = x509;
    c->refs = 1;
    return c;
}

const EVP_MD *arca_md(enum arca_hash_alg alg)
{
    switch (alg) {
    case ARCA_SHA256:
        return EVP_sha256();
    case ARCA_SHA384:
        return EVP_sha384();
    case ARCA_SHA512:
        return EVP_sha512();
    default:
        arca_err_set(ARCA_ERR_INVALID_ARG, "unknown hash algorithm %d", (int)alg);
        return NULL;
    }
}

int arca_asn1_time_to_unix(const ASN1_TIME *t, int64_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
        return arca_ossl_err(ARCA_ERR_FORMAT, "unreadable ASN.1 time");
    /* timegm is fine here: tm is UTC by construction of ASN1_TIME_to_tm. */
    time_t v = timegm(&tm);
    *out = (int64_t)v;
    return 0;
}

int arca_x509_name_text(const X509_NAME *name, struct arca_buf *out)
{
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL)
        return arca_ossl_err(ARCA_ERR_ALLOC, "name: BIO_new");
    int rc = 0;
    if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0) {
        rc = arca_ossl_err(ARCA_ERR_FORMAT, "name: cannot print");
    } else {
        char *p = NULL;
        long n = BIO_get_mem_data(bio, &p);
        rc = arca_buf_put(out, p, n > 0 ? (size_t)n : 0);
    }
    BIO_free(bio);
    return rc;
}

int arca_crypto_init_no_config(void)
{
    if (OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL) != 1)
        return arca_ossl_err(ARCA_ERR_CRYPTO, "OpenSSL initialisation");
    return 0;
}

int arca_random(void *out, size_t n)
{
    ARCA_ENSURE(out != NULL || n == 0, ARCA_ERR_INVALID_ARG, "random: out is NULL");
    uint8_t *p = out;
    while (n > 0) {
        int chunk = n > (1u << 30) ? (1 << 30) : (int)n;
        if (RAND_bytes(p, chunk) != 1)
            return arca_ossl_err(ARCA_ERR_CRYPTO, "random: RAND_bytes failed");
        p += chunk;
        n -= (size_t)chunk;
    }
    return 0;
}

bool arca_memeq(const void *a, const void *b, size_t n)
{
    if (n == 0)
        return true;
    return CRYPTO_memcmp(a, b, n) == 0;
}
