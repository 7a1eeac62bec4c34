/*
 * Signatures (ECDSA, Ed25519, RSA-PSS) and X25519 key agreement through EVP_DigestSign /
 * EVP_DigestVerify / EVP_PKEY_derive.
 *
 * Set-up cost, not curve arithmetic, was what a quote verification spent beyond its two P-256
 * verifications (docs/performance.md): EVP_DigestVerifyInit fetches the digest and the
 * signature algorithm by name and builds a context on every call. So the digests are fetched
 * once per process, and an EC key keeps one initialised verify context per hash, made on its
 * first verification and only ever duplicated afterwards (keys are shared between threads).
 * An EC key pair keeps a sign context per hash the same way: arcad signs an audit line per
 * session read with its P-256 key (docs/performance.md "Audit line cost").
 */
#include "crypto/crypto_internal.h"

#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

/* The pss_saltlen of sig_init that selects PKCS#1 v1.5 padding instead of PSS. */
#define SALTLEN_PKCS1 (-1000)

/* Process-wide and never freed: a fetched EVP_MD is immutable and safe to share, and freeing it
 * would race OpenSSL's own clean-up at exit. A failed fetch leaves NULL and sig_md falls back
 * to OpenSSL's implicit fetch. */
static pthread_once_t md_once = PTHREAD_ONCE_INIT;
static EVP_MD *fetched_md[3];

static void md_fetch_all(void)
{
    static const char *const names[3] = {"SHA256", "SHA384", "SHA512"};
    for (int i = 0; i < 3; i++)
        fetched_md[i] = EVP_MD_fetch(NULL, names[i], NULL);
    ERR_clear_error();
}

/* The digest for alg, fetched once; NULL with an error detail for an unknown alg. */
static const EVP_MD *sig_md(enum arca_hash_alg alg)
{
    if (alg < ARCA_SHA256 || alg > ARCA_SHA512)
        return arca_md(alg);
    pthread_once(&md_once, md_fetch_all);
    const EVP_MD *md = fetched_md[alg - ARCA_SHA256];
    return md != NULL ? md : arca_md(alg);
}

void arca_key_verify_protos_free(struct arca_key *k)
{
    for (size_t i = 0; i < sizeof(k->verify_proto) / sizeof(k->verify_proto[0]); i++) {
        EVP_PKEY_CTX_free(atomic_exchange(&k->verify_proto[i], NULL));
        EVP_PKEY_CTX_free(atomic_exchange(&k->sign_proto[i], NULL));
    }
}

/* The shared verify (sign=0) or sign (sign=1) context of EC key k for alg (owned by k), made
 * on first use. Threads that race to make it each build one; the first to publish wins and the
 * others free theirs. The cache does not change what k is, hence the cast away from const.
 * NULL on failure (with the OpenSSL error queue left for the caller). */
static EVP_PKEY_CTX *ec_proto(const struct arca_key *k, enum arca_hash_alg alg, const EVP_MD *md,
                              int sign)
{
    struct arca_key *mk = (struct arca_key *)k;
    _Atomic(EVP_PKEY_CTX *) *slot =
        sign ? &mk->sign_proto[alg - ARCA_SHA256] : &mk->verify_proto[alg - ARCA_SHA256];
    EVP_PKEY_CTX *proto = atomic_load_explicit(slot, memory_order_acquire);
    if (proto != NULL)
        return proto;
    proto = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);
    if (proto == NULL || (sign ? EVP_PKEY_sign_init(proto) : EVP_PKEY_verify_init(proto)) != 1 ||
        EVP_PKEY_CTX_set_signature_md(proto, md) != 1) {
        EVP_PKEY_CTX_free(proto);
        return NULL;
    }
    EVP_PKEY_CTX *prev = NULL;
    if (!atomic_compare_exchange_strong_explicit(slot, &prev, proto, memory_order_acq_rel,
                                                 memory_order_acquire)) {
        EVP_PKEY_CTX_free(proto);
        proto = prev;
    }
    return proto;
}

/* For an ECDSA signature (sign=1) or verification (sign=0) over p with EC key k: the digest of
 * p into h (*hlen bytes) and *ctx, a duplicate of the key's shared context for alg (the
 * caller frees it with EVP_PKEY_CTX_free). */
static int ec_begin(const struct arca_key *k, enum arca_hash_alg alg, int sign, const void *p,
                    size_t n, uint8_t h[EVP_MAX_MD_SIZE], unsigned int *hlen, EVP_PKEY_CTX **ctx)
{
    const EVP_MD *md = sig_md(alg);
    if (md == NULL)
        return ARCA_ERR_INVALID_ARG;
    static const uint8_t empty[1];
    if (EVP_Digest(n ? p : empty, n, h, hlen, md, NULL) != 1)
        return arca_ossl_err(ARCA_ERR_CRYPTO, "signature: cannot hash the message");
    EVP_PKEY_CTX *proto = ec_proto(k, alg, md, sign);
    *ctx = proto != NULL ? EVP_PKEY_CTX_dup(proto) : NULL;
    if (*ctx == NULL)
        return arca_ossl_err(ARCA_ERR_CRYPTO, "signature: cannot initialise");
    return 0;
}

/* ECDSA signature (DER) over p with EC key pair k, appended to sig: the hash here, the
 * signature on a duplicate of the key's sign context. Same output format as EVP_DigestSign. */
static int ec_sign(const struct arca_key *k, enum arca_hash_alg alg, const void *p, size_t n,
                   struct arca_buf *sig)
{
    uint8_t h[EVP_MAX_MD_SIZE];
    unsigned int hlen = 0;
    EVP_PKEY_CTX *ctx = NULL;
    ARCA_TRY(ec_begin(k, alg, 1, p, n, h, &hlen, &ctx));
    uint8_t s[256]; /* a DER ECDSA signature of P-521 is at most 139 bytes */
    size_t slen = sizeof(s);
    int rc = EVP_PKEY_sign(ctx, s, &slen, h, hlen) == 1
                 ? arca_buf_put(sig, s, slen)
                 : arca_ossl_err(ARCA_ERR_CRYPTO, "sign: signing failed");
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

/* ECDSA verification of the DER signature sig over p: the hash here, the signature check on a
 * duplicate of the key's verify context. Same answers as EVP_DigestVerify. */
static int ec_verify(const struct arca_key *k, enum arca_hash_alg alg, const void *p, size_t n,
                     const void *sig, size_t siglen)
{
    uint8_t h[EVP_MAX_MD_SIZE];
    unsigned int hlen = 0;
    EVP_PKEY_CTX *ctx = NULL;
    ARCA_TRY(ec_begin(k, alg, 0, p, n, h, &hlen, &ctx));
    int rc = 0;
    if (EVP_PKEY_verify(ctx, sig, siglen, h, hlen) != 1) {
        /* A bad signature and a malformed one are the same answer to the caller. */
        ERR_clear_error();
        rc = arca_err_set(ARCA_ERR_SIGNATURE, "%s signature does not verify",
                          arca_key_type_name(arca_key_type(k)));
    }
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

/* Sets up mctx for signing (sign=1) or verifying with k: digest alg for ECDSA/RSA, none for
 * Ed25519 (pure EdDSA), and PSS padding with the given salt length for RSA (or PKCS#1 v1.5
 * with SALTLEN_PKCS1). */
static int sig_init(EVP_MD_CTX *mctx, const struct arca_key *k, enum arca_hash_alg alg, int sign,
                    int pss_saltlen)
{
    int id = EVP_PKEY_get_base_id(k->pkey);
    const EVP_MD *md = NULL;
    if (id == EVP_PKEY_X25519)
        return arca_err_set(ARCA_ERR_INVALID_ARG, "X25519 keys cannot sign or verify");
    if (id != EVP_PKEY_ED25519) {
        md = sig_md(alg);
        if (md == NULL)
            return ARCA_ERR_INVALID_ARG;
    }
    EVP_PKEY_CTX *pctx = NULL;
    int ok = sign ? EVP_DigestSignInit(mctx, &pctx, md, NULL, k->pkey)
                  : EVP_DigestVerifyInit(mctx, &pctx, md, NULL, k->pkey);
    if (ok != 1)
        return arca_ossl_err(ARCA_ERR_CRYPTO, "signature: cannot initialise");
    if (id == EVP_PKEY_RSA && pss_saltlen == SALTLEN_PKCS1) {
        if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
            return arca_ossl_err(ARCA_ERR_CRYPTO, "signature: cannot set RSA PKCS#1 padding");
    } else if (id == EVP_PKEY_RSA || id == EVP_PKEY_RSA_PSS) {
        if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, pss_saltlen) != 1 ||
            EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1)
            return arca_ossl_err(ARCA_ERR_CRYPTO, "signature: cannot set RSA-PSS parameters");
    }
    return 0;
}

int arca_sign(const struct arca_key *k, enum arca_hash_alg alg, const void *p, size_t n,
              struct arca_buf *sig)
{
    ARCA_ENSURE_REF(k);
    ARCA_ENSURE_REF(sig);
    ARCA_ENSURE(p != NULL || n == 0, ARCA_ERR_INVALID_ARG, "sign: input is NULL");
    ARCA_ENSURE(k->priv, ARCA_ERR_INVALID_ARG, "sign: the %s key has no private part",
                arca_key_type_name(arca_key_type(k)));
    if (EVP_PKEY_get_base_id(k->pkey) == EVP_PKEY_EC)
        return ec_sign(k, alg, p, n, sig);
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    if (mctx == NULL)
        return arca_ossl_err(ARCA_ERR_ALLOC, "sign: EVP_MD_CTX_new");
    static const uint8_t empty[1];
    uint8_t *s = NULL;
    size_t slen = 0;
    int rc = sig_init(mctx, k, alg, 1, RSA_PSS_SALTLEN_DIGEST);
    if (rc == 0 && EVP_DigestSign(mctx, NULL, &slen, n ? p : empty, n) != 1)
        rc = arca_ossl_err(ARCA_ERR_CRYPTO, "sign: cannot size the signature");
    if (rc == 0 && (s = malloc(slen)) == NULL)
        rc = arca_err_set(ARCA_ERR_ALLOC, "sign: out of memory");
    if (rc == 0 && EVP_DigestSign(mctx, s, &slen, n ? p : empty, n) != 1)
        rc = arca_ossl_err(ARCA_ERR_CRYPTO, "sign: signing failed");
    if (rc == 0)
        rc = arca_buf_put(sig, s, slen);
    free(s);
    EVP_MD_CTX_free(mctx);
    return rc;
}

static int verify_common(const struct arca_key *k, enum arca_hash_alg alg, int saltlen,
                         const void *p, size_t n, const void *sig, size_t siglen)
{
    ARCA_ENSURE_REF(k);
    ARCA_ENSURE(p != NULL || n == 0, ARCA_ERR_INVALID_ARG, "verify: input is NULL");
    ARCA_ENSURE(sig != NULL || siglen == 0, ARCA_ERR_INVALID_ARG, "verify: signature is NULL");
    if (siglen == 0)
        return arca_err_set(ARCA_ERR_SIGNATURE, "signature is empty");
    if (EVP_PKEY_get_base_id(k->pkey) == EVP_PKEY_EC)
        return ec_verify(k, alg, p, n, sig, siglen);
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    if (mctx == NULL)
        return arca_ossl_err(ARCA_ERR_ALLOC, "verify: EVP_MD_CTX_new");
    static const uint8_t empty[1];
    int rc = sig_init(mctx, k, alg, 0, saltlen);
    if (rc == 0 && EVP_DigestVerify(mctx, sig, siglen, n ? p : empty, n) != 1) {
        /* A bad signature and a malformed one are the same answer to the caller. */
        ERR_clear_error();
        rc = arca_err_set(ARCA_ERR_SIGNATURE, "%s signature does not verify",
                          arca_key_type_name(arca_key_type(k)));
    }
    EVP_MD_CTX_free(mctx);
    return rc;
}

int arca_verify(const struct arca_key *k, enum arca_hash_alg alg, const void *p, size_t n,
                const void *sig, size_t siglen)
{
    return verify_common(k, alg, RSA_PSS_SALTLEN_DIGEST, p, n, sig, siglen);
}

int arca_verify_rsa_pkcs1(const struct arca_key *k, enum arca_hash_alg alg, const void *p, size_t n,
                          const void *sig, size_t siglen)
{
    ARCA_ENSURE_REF(k);
    ARCA_ENSURE(EVP_PKEY_get_base_id(k->pkey) == EVP_PKEY_RSA, ARCA_ERR_INVALID_ARG,
                "RSA PKCS#1 verify: the key is %s, not RSA", arca_key_type_name(arca_key_type(k)));
    return verify_common(k, alg, SALTLEN_PKCS1, p, n, sig, siglen);
}

int arca_verify_rsa_pss(const struct arca_key *k, enum arca_hash_alg alg, int saltlen,
                        const void *p, size_t n, const void *sig, size_t siglen)
{
    ARCA_ENSURE_REF(k);
    int id = EVP_PKEY_get_base_id(k->pkey);
    ARCA_ENSURE(id == EVP_PKEY_RSA || id == EVP_PKEY_RSA_PSS, ARCA_ERR_INVALID_ARG,
                "RSA-PSS verify: the key is %s, not RSA", arca_key_type_name(arca_key_type(k)));
    ARCA_ENSURE(saltlen >= -1, ARCA_ERR_INVALID_ARG, "RSA-PSS verify: bad salt length %d", saltlen);
    return verify_common(k, alg, saltlen == -1 ? RSA_PSS_SALTLEN_DIGEST : saltlen, p, n, sig,
                         siglen);
}

/* Reads a coord_len-byte integer, big- or little-endian. Extra high-order bytes beyond the
 * curve's size must be zero (SNP pads r and s to 72 bytes). */
static BIGNUM *coord_to_bn(const uint8_t *v, size_t coord_len, size_t field, bool le)
{
    if (coord_len > field) {
        for (size_t i = field; i < coord_len; i++) {
            uint8_t b = le ? v[i] : v[coord_len - 1 - i];
            if (b != 0)
                return NULL;
        }
        if (!le)
            v += coord_len - field;
        coord_len = field;
    }
    return le ? BN_lebin2bn(v, (int)coord_len, NULL) : BN_bin2bn(v, (int)coord_len, NULL);
}

int arca_verify_ecdsa_raw(const struct arca_key *k, enum arca_hash_alg alg, const void *p, size_t n,
                          const void *r, const void *s, size_t coord_len, bool little_endian)
{
    ARCA_ENSURE_REF(k);
    ARCA_ENSURE_REF(r);
    ARCA_ENSURE_REF(s);
    enum arca_key_type t = arca_key_type(k);
    size_t field = t == ARCA_KEY_P256 ? 32 : t == ARCA_KEY_P384 ? 48 : 0;
    ARCA_ENSURE(field != 0, ARCA_ERR_INVALID_ARG, "ECDSA verify: the key is %s, not P-256/P-384",
                arca_key_type_name(t));
    ARCA_ENSURE(coord_len >= field && coord_len <= 128, ARCA_ERR_INVALID_ARG,
                "ECDSA verify: coordinate length %zu invalid for %s", coord_len,
                arca_key_type_name(t));
    BIGNUM *br = coord_to_bn(r, coord_len, field, little_endian);
    BIGNUM *bs = coord_to_bn(s, coord_len, field, little_endian);
    if (br == NULL || bs == NULL) {
        BN_free(br);
        BN_free(bs);
        ERR_clear_error();
        return arca_err_set(ARCA_ERR_SIGNATURE, "ECDSA signature: r or s out of range");
    }
    ECDSA_SIG *es = ECDSA_SIG_new();
    if (es == NULL || ECDSA_SIG_set0(es, br, bs) != 1) {
        ECDSA_SIG_free(es);
        BN_free(br);
        BN_free(bs);
        return arca_ossl_err(ARCA_ERR_ALLOC, "ECDSA signature: cannot build");
    }
    unsigned char *der = NULL;
    int dlen = i2d_ECDSA_SIG(es, &der);
    ECDSA_SIG_free(es);
    if (dlen <= 0)
        return arca_ossl_err(ARCA_ERR_CRYPTO, "ECDSA signature: cannot encode");
    int rc = verify_common(k, alg, 0, p, n, der, (size_t)dlen);
    OPENSSL_free(der);
    return rc;
}

int arca_x25519(const struct arca_key *mine, const struct arca_key *peer, uint8_t out[32])
{
    ARCA_ENSURE_REF(mine);
    ARCA_ENSURE_REF(peer);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(arca_key_type(mine) == ARCA_KEY_X25519 && arca_key_type(peer) == ARCA_KEY_X25519,
                ARCA_ERR_INVALID_ARG, "x25519: both keys must be X25519 (got %s and %s)",
                arca_key_type_name(arca_key_type(mine)), arca_key_type_name(arca_key_type(peer)));
    ARCA_ENSURE(mine->priv, ARCA_ERR_INVALID_ARG, "x25519: our key has no private part");
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, mine->pkey, NULL);
    size_t len = 32;
    int rc = 0;
    /* OpenSSL refuses an all-zero shared secret (a small-order peer point). */
    if (ctx == NULL || EVP_PKEY_derive_init(ctx) != 1 ||
        EVP_PKEY_derive_set_peer(ctx, peer->pkey) != 1 || EVP_PKEY_derive(ctx, out, &len) != 1 ||
        len != 32) {
        OPENSSL_cleanse(out, 32);
        rc = arca_ossl_err(ARCA_ERR_CRYPTO, "x25519: key agreement failed");
    }
    EVP_PKEY_CTX_free(ctx);
    return rc;
}
