/*
 * Internal to src/lib/crypto/: the OpenSSL-facing pieces shared by the crypto_*.c files.
 * Nothing outside this folder includes it (it pulls in OpenSSL headers).
 */
#ifndef ARCA_CRYPTO_INTERNAL_H
#define ARCA_CRYPTO_INTERNAL_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "base/err.h"
#include "crypto/crypto.h"

/* The opaque types of crypto.h. Each wraps one OpenSSL object (owning one reference to it);
 * the wrappers carry their own atomic reference count for arca_key_ref / arca_x509_ref. */
struct arca_key {
    EVP_PKEY *pkey;
    bool priv; /* the key pair's private half is present */
    _Atomic int refs;
    /* EC keys: a verify context per hash (index enum arca_hash_alg), made on first use and
     * published once (crypto_sign.c); shared, so only ever duplicated. Freed with the key. */
    _Atomic(EVP_PKEY_CTX *) verify_proto[3];
    _Atomic(EVP_PKEY_CTX *) sign_proto[3]; /* the same for signing, EC key pairs only */
};

/* Frees the verify and sign contexts of k (crypto_sign.c; arca_key_free calls it). */
void arca_key_verify_protos_free(struct arca_key *k);

struct arca_x509 {
    X509 *x509;
    _Atomic int refs;
};

struct arca_x509_crl {
    X509_CRL *crl;
};

/*
 * Records code with "what: <openssl reasons>" as the error detail and drains OpenSSL's error
 * queue (so that stale errors never leak into a later failure). The reason strings are
 * OpenSSL's library/reason texts, which never carry key material. Returns code.
 */
int arca_ossl_err(int code, const char *what);

/* Empties OpenSSL's error queue without recording anything (after expected failures). */
void arca_ossl_clear(void);

/* Wraps pkey (the wrapper takes over the caller's reference; priv says whether it holds a
 * private key). NULL and an error detail on failure, in which case pkey is freed. */
struct arca_key *arca_key_wrap(EVP_PKEY *pkey, bool priv);
/* Wraps x509 (takes over the caller's reference; freed on failure). */
struct arca_x509 *arca_x509_wrap(X509 *x509);

/* The digest for alg; NULL (with an error detail) for an unknown alg. */
const EVP_MD *arca_md(enum arca_hash_alg alg);

/* arca's classification of pkey (ARCA_KEY_NONE for unsupported types). */
enum arca_key_type arca_pkey_type(const EVP_PKEY *pkey);

/* SHA-256 of the DER SPKI of pkey (arca's key id). */
int arca_pkey_id(EVP_PKEY *pkey, uint8_t out[ARCA_SHA256_LEN]);

/* The digest arca signs certificates and CRLs with for pkey (NULL for Ed25519). */
int arca_cert_sign_md(const EVP_PKEY *pkey, const EVP_MD **md);

/* Converts an ASN1_TIME to Unix seconds. */
int arca_asn1_time_to_unix(const ASN1_TIME *t, int64_t *out);

/* Appends the X509_NAME in RFC 2253 one-line form to out. */
int arca_x509_name_text(const X509_NAME *name, struct arca_buf *out);

#endif
