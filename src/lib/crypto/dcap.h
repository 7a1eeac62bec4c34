/*
 * Crypto helpers the Intel DCAP verifier needs beyond crypto.h (owned by the evidence module's
 * Intel side): stable identities of certificates and CRLs, used as cache keys.
 */
#ifndef ARCA_CRYPTO_DCAP_H
#define ARCA_CRYPTO_DCAP_H

#include <stdint.h>

#include "crypto/crypto.h"

/* SHA-256 of the certificate's DER encoding. */
int arca_x509_der_id(const struct arca_x509 *c, uint8_t out[ARCA_SHA256_LEN]);
/* SHA-256 of the CRL's DER encoding. */
int arca_x509_crl_der_id(const struct arca_x509_crl *crl, uint8_t out[ARCA_SHA256_LEN]);

#endif
