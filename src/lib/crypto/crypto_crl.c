/*
 * Certificate revocation lists: parsing (DER, PEM, hex of DER), validity, signature check and
 * building (for arca's own CA and for revocation tests).
 */
#include "crypto/crypto_internal.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "base/enc.h"

static int crl_wrap(X509_CRL *crl, struct arca_x509_crl **out)
{
    struct arca_x509_crl *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        X509_CRL_free(crl);
        return arca_err_set(ARCA_ERR_ALLOC, "CRL: out of memory");
    }
    c->crl = crl;
    *out = c;
    return 0;
}

int arca_x509_crl_from_der(const void *der, size_t n, struct arca_x509_crl **out)
{
    ARCA_ENSURE_REF(der);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(n > 0 && n <= INT32_MAX, ARCA_ERR_FORMAT, "CRL DER: empty or too large input");
    const unsigned char *p = der;
    X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)n);
    if (crl == NULL)
        return arca_ossl_err(ARCA_ERR_FORMAT, "CRL DER: cannot parse");
    size_t used = (size_t)(p - (const unsigned char *)der);
    if (used != n) {
        X509_CRL_free(crl);
        return arca_err_set(ARCA_ERR_FORMAT, "CRL DER: %zu trailing bytes at offset %zu", n - used,
                            used);
    }
    ERR_clear_error();
    return crl_wrap(crl, out);
}

int arca_x509_crl_from_pem(const void *pem, size_t n, struct arca_x509_crl **out)
{
    ARCA_ENSURE_REF(pem);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(n > 0 && n <= INT32_MAX, ARCA_ERR_FORMAT, "CRL PEM: empty or too large input");
    BIO *bio = BIO_new_mem_buf(pem, (int)n);
    if (bio == NULL)
        return arca_ossl_err(ARCA_ERR_ALLOC, "CRL PEM: BIO_new_mem_buf");
    X509_CRL *crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (crl == NULL)
        return arca_ossl_err(ARCA_ERR_FORMAT, "CRL PEM: no parsable '-----BEGIN X509 CRL-----' "
                                              "block");
    ERR_clear_error();
    return crl_wrap(crl, out);
}

static bool is_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int arca_x509_crl_parse_any(const void *p, size_t n, struct arca_x509_crl **out)
{
    ARCA_ENSURE_REF(p);
    ARCA_ENSURE_REF(out);
    const uint8_t *b = p;
    size_t start = 0, end = n;
    while (start < end && is_space(b[start]))
        start++;
    ARCA_ENSURE(start < end, ARCA_ERR_FORMAT, "CRL: empty input");
    if (b[start] == 0x30)
        return arca_x509_crl_from_der(b + start, end - start, out); /* a DER SEQUENCE */
    if (end - start >= 10 && memcmp(b + start, "-----BEGIN", 10) == 0)
        return arca_x509_crl_from_pem(b + start, end - start, out);
    while (end > start && is_space(b[end - 1]))
        end--;
    struct arca_buf der;
    arca_buf_init(&der, 0);
    int rc = arca_hex_decode(&der, (const char *)b + start, end - start);
    if (rc < 0) {
        arca_buf_free(&der);
        return arca_err_wrap(ARCA_ERR_FORMAT, "CRL: neither DER, PEM nor hex of DER");
    }
    rc = der.len > 0 ? arca_x509_crl_from_der(der.data, der.len, out)
                     : arca_err_set(ARCA_ERR_FORMAT, "CRL: empty");
    arca_buf_free(&der);
    return rc;
}

void arca_x509_crl_free(struct arca_x509_crl *crl)
{
    if (crl == NULL)
        return;
    X509_CRL_free(crl->crl);
    free(crl);
}

int arca_x509_crl_validity(const struct arca_x509_crl *crl, int64_t *this_update,
                           int64_t *next_update)
{
    ARCA_ENSURE_REF(crl);
    ARCA_ENSURE_REF(this_update);
    ARCA_ENSURE_REF(next_update);
    int64_t tu, nu = 0;
    ARCA_TRY(arca_asn1_time_to_unix(X509_CRL_get0_lastUpdate(crl->crl), &tu));
    const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl->crl);
    if (next == NULL)
        return arca_err_set(ARCA_ERR_FORMAT, "CRL: no nextUpdate (an open-ended CRL is not "
                                             "accepted)");
    ARCA_TRY(arca_asn1_time_to_unix(next, &nu));
    *this_update = tu;
    *next_update = nu;
    return 0;
}

int arca_x509_crl_verify_signature(const struct arca_x509_crl *crl, const struct arca_key *key)
{
    ARCA_ENSURE_REF(crl);
    ARCA_ENSURE_REF(key);
    if (X509_CRL_verify(crl->crl, key->pkey) != 1) {
        ERR_clear_error();
        return arca_err_set(ARCA_ERR_SIGNATURE, "CRL signature does not verify with the key");
    }
    return 0;
}

int arca_x509_crl_der_id(const struct arca_x509_crl *crl, uint8_t out[ARCA_SHA256_LEN])
{
    unsigned int n = 0;
    ARCA_ENSURE_REF(crl);
    ARCA_ENSURE_REF(out);
    if (X509_CRL_digest(crl->crl, EVP_sha256(), out, &n) != 1 || n != ARCA_SHA256_LEN)
        return arca_ossl_err(ARCA_ERR_CRYPTO, "CRL digest");
    return 0;
}

static int crl_fill(X509_CRL *crl, const struct arca_x509 *issuer_cert,
                    const struct arca_key *issuer_key, const struct arca_x509 *const *revoked,
                    size_t revoked_count, int64_t this_update, int64_t next_update)
{
    const EVP_MD *md = NULL;
    ARCA_TRY(arca_cert_sign_md(issuer_key->pkey, &md));
    ASN1_TIME *tu = ASN1_TIME_set(NULL, (time_t)this_update);
    ASN1_TIME *nu = ASN1_TIME_set(NULL, (time_t)next_update);
    int ok = tu != NULL && nu != NULL && X509_CRL_set_version(crl, 1) == 1 &&
             X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer_cert->x509)) == 1 &&
             X509_CRL_set1_lastUpdate(crl, tu) == 1 && X509_CRL_set1_nextUpdate(crl, nu) == 1;
    for (size_t i = 0; ok && i < revoked_count; i++) {
        X509_REVOKED *r = X509_REVOKED_new();
        ok = r != NULL && revoked[i] != NULL &&
             X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(revoked[i]->x509)) == 1 &&
             X509_REVOKED_set_revocationDate(r, tu) == 1 && X509_CRL_add0_revoked(crl, r) == 1;
        if (!ok)
            X509_REVOKED_free(r);
    }
    ASN1_TIME_free(tu);
    ASN1_TIME_free(nu);
    if (!ok)
        return arca_ossl_err(ARCA_ERR_CRYPTO, "CRL build: cannot fill in the CRL");
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer_cert->x509, NULL, NULL, crl, 0);
    X509_EXTENSION *aki =
        X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always");
    ok = aki != NULL && X509_CRL_add_ext(crl, aki, -1) == 1;
    X509_EXTENSION_free(aki);
    if (!ok || X509_CRL_sort(crl) != 1)
        return arca_ossl_err(ARCA_ERR_CRYPTO, "CRL build: extensions");
    if (X509_CRL_sign(crl, issuer_key->pkey, md) <= 0)
        return arca_ossl_err(ARCA_ERR_CRYPTO, "CRL build: signing failed");
    return 0;
}

int arca_x509_crl_build(const struct arca_x509 *issuer_cert, const struct arca_key *issuer_key,
                        const struct arca_x509 *const *revoked, size_t revoked_count,
                        int64_t this_update, int64_t next_update, struct arca_x509_crl **out)
{
    ARCA_ENSURE_REF(issuer_cert);
    ARCA_ENSURE_REF(issuer_key);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(revoked_count == 0 || revoked != NULL, ARCA_ERR_INVALID_ARG,
                "CRL build: revoked is NULL but revoked_count is %zu", revoked_count);
    ARCA_ENSURE(next_update > this_update, ARCA_ERR_INVALID_ARG,
                "CRL build: next_update must be later than this_update");
    ARCA_ENSURE(issuer_key->priv, ARCA_ERR_INVALID_ARG,
                "CRL build: issuer key has no private "
                "part");
    if (X509_check_private_key(issuer_cert->x509, issuer_key->pkey) != 1) {
        ERR_clear_error();
        return arca_err_set(ARCA_ERR_INVALID_ARG,
                            "CRL build: issuer_key does not match issuer_cert");
    }
    X509_CRL *crl = X509_CRL_new();
    if (crl == NULL)
        return arca_ossl_err(ARCA_ERR_ALLOC, "CRL build: X509_CRL_new");
    int rc =
        crl_fill(crl, issuer_cert, issuer_key, revoked, revoked_count, this_update, next_update);
    if (rc < 0) {
        X509_CRL_free(crl);
        return rc;
    }
    return crl_wrap(crl, out);
}
