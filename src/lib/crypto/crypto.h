/*
 * arca's crypto API: the only door to OpenSSL 3 (libsodium-style naming: arca_<noun>_<verb>).
 * Nothing outside src/lib/crypto/ includes OpenSSL headers.
 *
 * Conventions: functions return 0 or a negative enum arca_err code (detail in
 * arca_err_detail(), never containing key material) and produce no partial output on failure.
 * Output buffers (struct arca_buf) are appended to; pass a secret buffer
 * (arca_buf_init_secret) wherever the output is private. Opaque objects are freed with their
 * _free function, which accepts NULL and wipes private material.
 */
#ifndef ARCA_CRYPTO_CRYPTO_H
#define ARCA_CRYPTO_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* ---- hashes, MAC, KDF, RNG ------------------------------------------------------------ */

enum arca_hash_alg { ARCA_SHA256 = 1, ARCA_SHA384 = 2, ARCA_SHA512 = 3 };
#define ARCA_SHA256_LEN 32
#define ARCA_SHA384_LEN 48
#define ARCA_SHA512_LEN 64
#define ARCA_HASH_MAX_LEN 64

size_t arca_hash_len(enum arca_hash_alg alg);
/* One-shot digest into out (arca_hash_len(alg) bytes). */
int arca_hash(enum arca_hash_alg alg, const void *p, size_t n, uint8_t *out);
int arca_sha256(const void *p, size_t n, uint8_t out[ARCA_SHA256_LEN]);

/* Incremental digest. */
struct arca_hash_ctx;
int arca_hash_ctx_new(enum arca_hash_alg alg, struct arca_hash_ctx **out);
int arca_hash_ctx_update(struct arca_hash_ctx *h, const void *p, size_t n);
/* Writes the digest and resets nothing: free afterwards. */
int arca_hash_ctx_final(struct arca_hash_ctx *h, uint8_t *out);
/* The digest of what h has hashed so far, leaving h to go on (a running hash over a growing
 * file that is read off now and then). */
int arca_hash_ctx_peek(const struct arca_hash_ctx *h, uint8_t *out);
void arca_hash_ctx_free(struct arca_hash_ctx *h);
/* Starts h over for a new message with the same algorithm, without a new algorithm fetch (a
 * caller hashing many small messages keeps one context). */
int arca_hash_ctx_reset(struct arca_hash_ctx *h);

int arca_hmac(enum arca_hash_alg alg, const void *key, size_t klen, const void *p, size_t n,
              uint8_t *out);
/* A keyed HMAC context for many MACs under one key (the store's row keys at open): the MAC is
 * fetched and the key set once; each arca_hmac_ctx_mac equals arca_hmac with that key. Freed,
 * key wiped, with arca_hmac_ctx_free. Not for concurrent use. */
struct arca_hmac_ctx;
int arca_hmac_ctx_new(enum arca_hash_alg alg, const void *key, size_t klen,
                      struct arca_hmac_ctx **out);
int arca_hmac_ctx_mac(struct arca_hmac_ctx *h, const void *p, size_t n, uint8_t *out);
void arca_hmac_ctx_free(struct arca_hmac_ctx *h);
/* RFC 5869 HKDF (extract and expand) into out[outlen]. */
int arca_hkdf(enum arca_hash_alg alg, const void *salt, size_t saltlen, const void *ikm,
              size_t ikmlen, const void *info, size_t infolen, uint8_t *out, size_t outlen);
/*
 * A reusable HKDF for many derivations with one hash (a volume's per-file keys): the KDF and
 * its digest are fetched once and one OpenSSL context is kept, so a derivation does not pay
 * OpenSSL 3's per-call algorithm fetches. Same inputs and output as arca_hkdf. Not for
 * concurrent use (one per thread); arca_hkdf_ctx_free wipes the key material it holds.
 */
struct arca_hkdf_ctx;
int arca_hkdf_ctx_new(enum arca_hash_alg alg, struct arca_hkdf_ctx **out);
int arca_hkdf_ctx_derive(struct arca_hkdf_ctx *k, const void *salt, size_t saltlen, const void *ikm,
                         size_t ikmlen, const void *info, size_t infolen, uint8_t *out,
                         size_t outlen);
void arca_hkdf_ctx_free(struct arca_hkdf_ctx *k);
/*
 * For a process whose crypto needs are fixed (arca-run): initialises OpenSSL without reading
 * openssl.cnf or $OPENSSL_CONF, before any other OpenSSL use (a later request to load the
 * configuration, e.g. libcurl's, is then a no-op). Inside a TEE the configuration file and the
 * environment come from the host, and a configuration can load any provider or engine; arca-run
 * uses the built-in default provider only. Returns 0 or ARCA_ERR_CRYPTO.
 */
int arca_crypto_init_no_config(void);
/* CSPRNG (OpenSSL's DRBG). */
int arca_random(void *out, size_t n);
/* Constant-time equality: true if the n bytes are equal. */
bool arca_memeq(const void *a, const void *b, size_t n);

/* ---- AEAD: AES-256-GCM ------------------------------------------------------------------ */

#define ARCA_AEAD_KEY_LEN 32
#define ARCA_AEAD_NONCE_LEN 12
#define ARCA_AEAD_TAG_LEN 16

/* Encrypts pt; appends ct (same length) followed by the 16-byte tag to out. */
int arca_aead_seal(const uint8_t key[ARCA_AEAD_KEY_LEN], const uint8_t nonce[ARCA_AEAD_NONCE_LEN],
                   const void *aad, size_t aadlen, const void *pt, size_t ptlen,
                   struct arca_buf *out);
/* Decrypts ct||tag (ctlen includes the tag); appends the plaintext to out (use a secret buffer).
 * ARCA_ERR_TAMPERED if the tag does not verify; out is then unchanged. */
int arca_aead_open(const uint8_t key[ARCA_AEAD_KEY_LEN], const uint8_t nonce[ARCA_AEAD_NONCE_LEN],
                   const void *aad, size_t aadlen, const void *ct, size_t ctlen,
                   struct arca_buf *out);

/*
 * A reusable AES-256-GCM context for many messages under one key (a volume file's chunks):
 * the cipher is fetched once and the key expanded once per arca_aead_ctx_set_key. The caller
 * frees it with arca_aead_ctx_free, which wipes the key schedule. Not for concurrent use.
 */
struct arca_aead_ctx;
int arca_aead_ctx_new(struct arca_aead_ctx **out);
/* Sets (or replaces) the key for the following seals and opens; key is copied, not kept. */
int arca_aead_ctx_set_key(struct arca_aead_ctx *a, const uint8_t key[ARCA_AEAD_KEY_LEN]);
/* Encrypts n bytes from pt into ct (ct may equal pt; no other overlap) and writes the tag.
 * On failure ct and tag are wiped. */
int arca_aead_ctx_seal(struct arca_aead_ctx *a, const uint8_t nonce[ARCA_AEAD_NONCE_LEN],
                       const void *aad, size_t aadlen, const void *pt, size_t n, void *ct,
                       uint8_t tag[ARCA_AEAD_TAG_LEN]);
/* Decrypts n bytes from ct into pt (pt may equal ct; no other overlap) and checks tag.
 * ARCA_ERR_TAMPERED if it does not verify; pt is then wiped, never left unauthenticated. */
int arca_aead_ctx_open(struct arca_aead_ctx *a, const uint8_t nonce[ARCA_AEAD_NONCE_LEN],
                       const void *aad, size_t aadlen, const void *ct, size_t n,
                       const uint8_t tag[ARCA_AEAD_TAG_LEN], void *pt);
void arca_aead_ctx_free(struct arca_aead_ctx *a);

/* ---- keys ------------------------------------------------------------------------------- */

enum arca_key_type {
    ARCA_KEY_NONE = 0,
    ARCA_KEY_P256,
    ARCA_KEY_P384,
    ARCA_KEY_ED25519,
    ARCA_KEY_X25519,
    ARCA_KEY_RSA2048,
    ARCA_KEY_RSA3072,
    ARCA_KEY_RSA4096,
    ARCA_KEY_RSA_OTHER, /* an RSA key of another size (parsed, never generated) */
};

/* "p256", "p384", "ed25519", "x25519", "rsa2048", ... (static). */
const char *arca_key_type_name(enum arca_key_type t);

struct arca_key; /* a public key, or a key pair */

int arca_key_generate(enum arca_key_type t, struct arca_key **out);
void arca_key_free(struct arca_key *k);
/* Takes another reference; free each with arca_key_free. */
struct arca_key *arca_key_ref(struct arca_key *k);
enum arca_key_type arca_key_type(const struct arca_key *k);
bool arca_key_has_private(const struct arca_key *k);
/* Size in bits (256 for P-256, 2048 for RSA-2048...). */
int arca_key_bits(const struct arca_key *k);

/* Parses a PEM private key (PKCS#8, traditional EC/RSA) or public key (SPKI). Unencrypted only. */
int arca_key_from_pem(const void *pem, size_t n, struct arca_key **out);
/* DER PKCS#8 private key, or DER SPKI public key. */
int arca_key_from_der(const void *der, size_t n, struct arca_key **out);
/* Appends PKCS#8 PEM / DER of the private key (use a secret buffer). */
int arca_key_private_pem(const struct arca_key *k, struct arca_buf *out);
int arca_key_private_der(const struct arca_key *k, struct arca_buf *out);
/* Appends the traditional form ("EC PRIVATE KEY" / "RSA PRIVATE KEY"; PKCS#8 for Ed25519). */
int arca_key_private_pem_traditional(const struct arca_key *k, struct arca_buf *out);
/* Appends SPKI PEM / DER of the public key. */
int arca_key_public_pem(const struct arca_key *k, struct arca_buf *out);
int arca_key_spki_der(const struct arca_key *k, struct arca_buf *out);
/* SHA-256 of the DER SPKI: arca's identity of a key. */
int arca_key_id(const struct arca_key *k, uint8_t out[ARCA_SHA256_LEN]);

/*
 * Public keys parsed once per exact SPKI DER and kept (at most cap, 1..65536, the oldest entry
 * replaced first). Thread-safe: one cache may serve every thread. Free with
 * arca_key_cache_free (NULL is fine) once no thread uses it.
 */
struct arca_key_cache;
int arca_key_cache_new(size_t cap, struct arca_key_cache **out);
void arca_key_cache_free(struct arca_key_cache *c);
/* *out = a reference to the public key whose DER SPKI is der, from c when these exact bytes
 * were parsed before, else parsed and kept there (c NULL: parsed each time, nothing kept). A
 * private key is refused. The caller drops the reference with arca_key_cache_put(c, *out). */
int arca_key_cache_get(struct arca_key_cache *c, const void *der, size_t len,
                       struct arca_key **out);
/* Drops a reference arca_key_cache_get gave (under c's lock: the count is shared with it). */
void arca_key_cache_put(struct arca_key_cache *c, struct arca_key *k);

/* Raw public encodings: P-256/P-384 as x||y (64/96 bytes, no 0x04 prefix), Ed25519 and
 * X25519 as 32 bytes. */
int arca_key_public_raw(const struct arca_key *k, struct arca_buf *out);
int arca_key_from_public_raw(enum arca_key_type t, const void *raw, size_t n,
                             struct arca_key **out);

/* ---- signatures ------------------------------------------------------------------------- */

/*
 * Signs p with k: ECDSA (DER signature) with hash alg; Ed25519 (alg ignored, 64 bytes, pure);
 * RSA uses PSS with alg and salt length = hash length. Appends the signature to sig.
 */
int arca_sign(const struct arca_key *k, enum arca_hash_alg alg, const void *p, size_t n,
              struct arca_buf *sig);
/* Verifies as arca_sign produces. 0, or ARCA_ERR_SIGNATURE. */
int arca_verify(const struct arca_key *k, enum arca_hash_alg alg, const void *p, size_t n,
                const void *sig, size_t siglen);
/*
 * ECDSA with a raw r||s signature of 2*coord bytes (big-endian, as in SGX/TDX quotes); with
 * little_endian set each of r and s is little-endian (as in SEV-SNP reports, where each is
 * given in a 72-byte field: pass coord_len = 72 and the verifier uses the low 48 bytes).
 */
int arca_verify_ecdsa_raw(const struct arca_key *k, enum arca_hash_alg alg, const void *p, size_t n,
                          const void *r, const void *s, size_t coord_len, bool little_endian);
/* RSA PKCS#1 v1.5 verification (JWT RS256, as Microsoft Azure Attestation signs its tokens).
 * 0, ARCA_ERR_SIGNATURE, or ARCA_ERR_INVALID_ARG for a key that is not RSA. */
int arca_verify_rsa_pkcs1(const struct arca_key *k, enum arca_hash_alg alg, const void *p, size_t n,
                          const void *sig, size_t siglen);
/* RSA-PSS verification with explicit salt length (-1 = hash length). */
int arca_verify_rsa_pss(const struct arca_key *k, enum arca_hash_alg alg, int saltlen,
                        const void *p, size_t n, const void *sig, size_t siglen);

/* X25519 shared secret (32 bytes) between our private key and the peer's public key. */
int arca_x25519(const struct arca_key *mine, const struct arca_key *peer, uint8_t out[32]);

/* An X25519 key (with its private part) from 32 raw private bytes (e.g. derived by HKDF). */
int arca_x25519_from_private(const uint8_t raw[32], struct arca_key **out);

/*
 * Encryption to an X25519 public key (crypto_box.c; the encrypted-session format of
 * docs/encrypted-sessions.md): X25519 with a fresh ephemeral key, HKDF-SHA-256, AES-256-GCM,
 * the header authenticated. seal appends the box to out; open appends the plaintext to out (a
 * secret buffer) or fails with ARCA_ERR_TAMPERED when the box was made for another key or
 * altered, ARCA_ERR_FORMAT / ARCA_ERR_TRUNCATED when it is no box (out unchanged).
 */
#define ARCA_BOX_MAGIC "ARCAENC1"
#define ARCA_BOX_MAGIC_LEN 8
int arca_box_seal(const uint8_t recipient[32], const void *pt, size_t n, struct arca_buf *out);
int arca_box_open(const struct arca_key *mine, const void *box, size_t n, struct arca_buf *out);

/* ---- X.509 -------------------------------------------------------------------------------- */

struct arca_x509;     /* one certificate */
struct arca_x509_crl; /* one CRL */

int arca_x509_from_pem(const void *pem, size_t n, struct arca_x509 **out);
int arca_x509_from_der(const void *der, size_t n, struct arca_x509 **out);
/* Parses every certificate of a PEM bundle in order; *out is a malloc'ed array of *count
 * certificates (free with arca_x509_list_free). An empty bundle is ARCA_ERR_FORMAT. */
int arca_x509_list_from_pem(const void *pem, size_t n, struct arca_x509 ***out, size_t *count);
void arca_x509_list_free(struct arca_x509 **list, size_t count);
void arca_x509_free(struct arca_x509 *c);
struct arca_x509 *arca_x509_ref(struct arca_x509 *c);

int arca_x509_to_pem(const struct arca_x509 *c, struct arca_buf *out);
int arca_x509_to_der(const struct arca_x509 *c, struct arca_buf *out);
/* The subject public key (new reference). */
int arca_x509_public_key(const struct arca_x509 *c, struct arca_key **out);
/* Subject / issuer common name (first CN) and the one-line RFC 2253 subject. */
int arca_x509_subject_cn(const struct arca_x509 *c, struct arca_buf *out);
int arca_x509_subject_text(const struct arca_x509 *c, struct arca_buf *out);
int arca_x509_issuer_text(const struct arca_x509 *c, struct arca_buf *out);
int arca_x509_validity(const struct arca_x509 *c, int64_t *not_before, int64_t *not_after);
/* Serial number as big-endian bytes. */
int arca_x509_serial(const struct arca_x509 *c, struct arca_buf *out);
bool arca_x509_is_ca(const struct arca_x509 *c);
/* The DER contents (the OCTET STRING's value) of the extension with the dotted OID;
 * ARCA_ERR_NOT_FOUND if absent. */
int arca_x509_extension(const struct arca_x509 *c, const char *oid, struct arca_buf *out);
/* Subject alternative names as "dns:NAME" / "ip:ADDR" strings, appended to out separated by
 * '\n'. */
int arca_x509_san(const struct arca_x509 *c, struct arca_buf *out);
/* Verifies c's signature with the issuer's public key (any algorithm, RSA-PSS included). */
int arca_x509_verify_signature(const struct arca_x509 *c, const struct arca_key *issuer_key);
/* SHA-256 of the DER SPKI of the certificate's key. */
int arca_x509_key_id(const struct arca_x509 *c, uint8_t out[ARCA_SHA256_LEN]);
/* SHA-256 of the whole certificate's DER encoding: a stable identity of this exact certificate
 * (cache keys). */
int arca_x509_der_id(const struct arca_x509 *c, uint8_t out[ARCA_SHA256_LEN]);

/* Certificate building. */
enum arca_x509_eku { ARCA_EKU_NONE = 0, ARCA_EKU_SERVER = 1, ARCA_EKU_CLIENT = 2 };

struct arca_x509_params {
    const char *common_name;  /* required */
    const char *organization; /* optional */
    bool is_ca;
    int path_len;           /* for CAs: -1 = unlimited */
    const char *const *san; /* "dns:NAME" or "ip:ADDR" entries, count in san_count */
    size_t san_count;
    int eku; /* ARCA_EKU_* bits */
    int64_t not_before;
    int64_t not_after;
};

/*
 * Builds and signs a certificate for subject_key. issuer_cert/issuer_key NULL = self-signed with
 * subject_key. Serial: 16 random bytes. Extensions: basicConstraints (critical), keyUsage
 * (critical: CA => keyCertSign|cRLSign; else digitalSignature (+keyEncipherment for RSA)),
 * subjectKeyIdentifier, authorityKeyIdentifier, SAN and EKU as given. Signature: ECDSA with
 * SHA-256 (P-256) / SHA-384 (P-384), Ed25519, or RSA PKCS#1 v1.5 SHA-256.
 */
int arca_x509_build(const struct arca_x509_params *params, const struct arca_key *subject_key,
                    const struct arca_x509 *issuer_cert, const struct arca_key *issuer_key,
                    struct arca_x509 **out);

/* CRLs */
int arca_x509_crl_from_der(const void *der, size_t n, struct arca_x509_crl **out);
int arca_x509_crl_from_pem(const void *pem, size_t n, struct arca_x509_crl **out);
/* Accepts DER, PEM, or hex of DER (Intel PCS returns either). */
int arca_x509_crl_parse_any(const void *p, size_t n, struct arca_x509_crl **out);
void arca_x509_crl_free(struct arca_x509_crl *crl);
int arca_x509_crl_validity(const struct arca_x509_crl *crl, int64_t *this_update,
                           int64_t *next_update);
int arca_x509_crl_verify_signature(const struct arca_x509_crl *crl, const struct arca_key *key);
/* SHA-256 of the CRL's DER encoding: a stable identity of this exact CRL (cache keys). */
int arca_x509_crl_der_id(const struct arca_x509_crl *crl, uint8_t out[ARCA_SHA256_LEN]);
/* Test helper for building revocation tests: a CRL signed by issuer listing the serials. */
int arca_x509_crl_build(const struct arca_x509 *issuer_cert, const struct arca_key *issuer_key,
                        const struct arca_x509 *const *revoked, size_t revoked_count,
                        int64_t this_update, int64_t next_update, struct arca_x509_crl **out);

/*
 * Verifies leaf up to one of the trusted roots through the untrusted intermediates with
 * OpenSSL's X509_verify_cert, at time `at` (never the wall clock), checking every CRL given
 * (when crls are given, each certificate whose issuer has a CRL in the list is checked; a
 * missing CRL is not an error). On failure the detail names the failing certificate and the
 * OpenSSL reason; ARCA_ERR_REVOKED for revocation, ARCA_ERR_EXPIRED for validity, ARCA_ERR_CERT
 * otherwise. If purpose_eku is nonzero the leaf must carry that EKU.
 */
int arca_x509_verify_chain(const struct arca_x509 *leaf, const struct arca_x509 *const *untrusted,
                           size_t untrusted_count, const struct arca_x509 *const *roots,
                           size_t root_count, const struct arca_x509_crl *const *crls,
                           size_t crl_count, int64_t at, int purpose_eku);

/* PKCS#12 (DER) with key, certificate and optional chain; password may be "" (empty). */
int arca_pkcs12_build(const struct arca_key *key, const struct arca_x509 *cert,
                      const struct arca_x509 *const *chain, size_t chain_count,
                      const char *password, struct arca_buf *out);
int arca_pkcs12_parse(const void *der, size_t n, const char *password, struct arca_key **key,
                      struct arca_x509 **cert);

/* PEM <-> DER for a single object of the given label ("CERTIFICATE", "PRIVATE KEY", ...). */
int arca_pem_to_der(const void *pem, size_t n, const char *label, struct arca_buf *out);
int arca_der_to_pem(const void *der, size_t n, const char *label, struct arca_buf *out);

/* ---- Base58Check ----------------------------------------------------------------------- */

/* Base58Check: version byte || payload || first 4 bytes of SHA-256(SHA-256(version||payload)),
 * in the Bitcoin alphabet, appended to out. Used for key hashes in the established CAS's
 * 50-character form. Payloads up to 1024 bytes (the conversion is quadratic). */
int arca_base58check_encode(struct arca_buf *out, uint8_t version, const void *p, size_t n);
/* Verifies the checksum (compared in constant time); payload goes to out, the version byte to
 * *version. ARCA_ERR_FORMAT for a bad character (naming its offset), a text too short or a
 * checksum mismatch; out is then unchanged. */
int arca_base58check_decode(struct arca_buf *out, uint8_t *version, const char *s, size_t len);

/* The version byte arca uses for key hashes in Base58Check form: 10, as in the established CAS's
 * published governance key example; with a 32-byte hash it gives the 50-character form (a version
 * byte above 29 would give 51 characters). */
#define ARCA_KEYHASH_B58_VERSION 0x0a

#endif
