/* DER identities of certificates and CRLs (crypto/dcap.h). */
#include "crypto/dcap.h"

#include <openssl/x509.h>

#include "crypto/crypto_internal.h"

int arca_x509_der_id(const struct arca_x509 *c, uint8_t out[ARCA_SHA256_LEN])
{
    unsigned int n = 0;
    ARCA_ENSURE_REF(c);
    if (X509_digest(c->x509, EVP_sha256(), out, &n) != 1 || n != ARCA_SHA256_LEN)
        return arca_ossl_err(ARCA_ERR_CRYPTO, "certificate digest");
    return 0;
}

int arca_x509_crl_der_id(const struct arca_x509_crl *crl, uint8_t out[ARCA_SHA256_LEN])
{
    unsigned int n = 0;
    ARCA_ENSURE_REF(crl);
    if (X509_CRL_digest(crl->crl, EVP_sha256(), out, &n) != 1 || n != ARCA_SHA256_LEN)
        return arca_ossl_err(ARCA_ERR_CRYPTO, "CRL digest");
    return 0;
}
