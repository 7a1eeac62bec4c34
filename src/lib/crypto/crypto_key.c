/*
 * Keys: generation, classification, PEM/DER/PKCS#8/SPKI and raw encodings, key ids.
 * Private encodings are produced through secure-memory BIOs and copied only into the caller's
 * buffer (which should be a secret buffer); OpenSSL's copies are cleansed on free.
 */
#include "crypto/crypto_internal.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

/* Refuses to prompt for a pass phrase: arca only reads unencrypted keys. */
static int no_password_cb(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

const char *arca_key_type_name(enum arca_key_type t)
{
    switch (t) {
    case ARCA_KEY_P256:
        return "p256";
    case ARCA_KEY_P384:
        return "p384";
    case ARCA_KEY_ED25519:
        return "ed25519";
    case ARCA_KEY_X25519:
        return "x25519";
    case ARCA_KEY_RSA2048:
        return "rsa2048";
    case ARCA_KEY_RSA3072:
        return "rsa3072";
    case ARCA_KEY_RSA4096:
        return "rsa4096";
    case ARCA_KEY_RSA_OTHER:
        return "rsa";
    case ARCA_KEY_NONE:
    default:
        return "none";
    }
}

enum arca_key_type arca_pkey_type(const EVP_PKEY *pkey)
{
    switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_EC: {
        char group[64];
        size_t glen = 0;
        if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                           &glen) != 1) {
            ERR_clear_error();
            return ARCA_KEY_NONE;
        }
        if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)
            return ARCA_KEY_P256;
        if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0)
            return ARCA_KEY_P384;
        return ARCA_KEY_NONE;
    }
    case EVP_PKEY_ED25519:
        return ARCA_KEY_ED25519;
    case EVP_PKEY_X25519:
        return ARCA_KEY_X25519;
    case EVP_PKEY_RSA:
    case EVP_PKEY_RSA_PSS:
        switch (EVP_PKEY_get_bits(pkey)) {
        case 2048:
            return ARCA_KEY_RSA2048;
        case 3072:
            return ARCA_KEY_RSA3072;
        case 4096:
            return ARCA_KEY_RSA4096;
        default:
            return ARCA_KEY_RSA_OTHER;
        }
    default:
        return ARCA_KEY_NONE;
    }
}

/* Wraps a parsed key after checking that arca supports its type. */
static int key_accept(EVP_PKEY *pkey, bool priv, const char *what, struct arca_key **out)
{
    if (arca_pkey_type(pkey) == ARCA_KEY_NONE) {
        EVP_PKEY_free(pkey);
        return arca_err_set(ARCA_ERR_UNSUPPORTED,
                            "%s: unsupported key type (P-256, P-384, Ed25519, X25519, RSA only)",
                            what);
    }
    if (arca_pkey_type(pkey) == ARCA_KEY_RSA_OTHER && EVP_PKEY_get_bits(pkey) < 2048) {
        EVP_PKEY_free(pkey);
        return arca_err_set(ARCA_ERR_INSECURE, "%s: RSA key of %d bits is too short", what,
                            EVP_PKEY_get_bits(pkey));
    }
    struct arca_key *k = arca_key_wrap(pkey, priv);
    if (k == NULL)
        return ARCA_ERR_ALLOC;
    *out = k;
    return 0;
}

int arca_key_generate(enum arca_key_type t, struct arca_key **out)
{
    ARCA_ENSURE_REF(out);
    EVP_PKEY *pkey = NULL;
    switch (t) {
    case ARCA_KEY_P256:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        break;
    case ARCA_KEY_P384:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
        break;
    case ARCA_KEY_ED25519:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        break;
    case ARCA_KEY_X25519:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
        break;
    case ARCA_KEY_RSA2048:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
        break;
    case ARCA_KEY_RSA3072:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
        break;
    case ARCA_KEY_RSA4096:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
        break;
    case ARCA_KEY_NONE:
    case ARCA_KEY_RSA_OTHER:
    default:
        return arca_err_set(ARCA_ERR_INVALID_ARG, "key generate: cannot generate key type %s",
                            arca_key_type_name(t));
    }
    if (pkey == NULL)
        return arca_ossl_err(ARCA_ERR_CRYPTO, "key generate failed");
    struct arca_key *k = arca_key_wrap(pkey, true);
    if (k == NULL)
        return ARCA_ERR_ALLOC;
    *out = k;
    return 0;
}

void arca_key_free(struct arca_key *k)
{
    if (k == NULL)
        return;
    if (--k->refs > 0)
        return;
    arca_key_verify_protos_free(k);
    /* EVP_PKEY_free cleanses the private material of the provider key. */
    EVP_PKEY_free(k->pkey);
    free(k);
}

struct arca_key *arca_key_ref(struct arca_key *k)
{
    if (k == NULL) {
        arca_err_set(ARCA_ERR_INVALID_ARG, "key ref: key is NULL");
        return NULL;
    }
    k->refs++;
    return k;
}

enum arca_key_type arca_key_type(const struct arca_key *k)
{
    return k != NULL ? arca_pkey_type(k->pkey) : ARCA_KEY_NONE;
}

bool arca_key_has_private(const struct arca_key *k)
{
    return k != NULL && k->priv;
}

int arca_key_bits(const struct arca_key *k)
{
    ARCA_ENSURE_REF(k);
    switch (arca_pkey_type(k->pkey)) {
    case ARCA_KEY_ED25519:
    case ARCA_KEY_X25519:
        return 256; /* OpenSSL reports 253 for the curve; arca counts key bytes */
    default:
        return EVP_PKEY_get_bits(k->pkey);
    }
}

/* The label of the first "-----BEGIN X-----" line whose label mentions KEY (skipping e.g. the
 * "EC PARAMETERS" block that `openssl ecparam -genkey` writes first), into label[cap]. */
static bool pem_first_label(const char *p, size_t n, char *label, size_t cap)
{
    static const char begin[] = "-----BEGIN ";
    size_t bl = sizeof(begin) - 1;
    bool found = false;
    for (size_t i = 0; i + bl <= n; i++) {
        if (memcmp(p + i, begin, bl) != 0)
            continue;
        size_t j = i + bl, o = 0;
        while (j < n && p[j] != '-' && p[j] != '\n' && o + 1 < cap)
            label[o++] = p[j++];
        label[o] = '\0';
        if (j >= n || p[j] != '-')
            return false;
        found = true;
        if (strstr(label, "KEY") != NULL)
            return true;
    }
    return found;
}

int arca_key_from_pem(const void *pem, size_t n, struct arca_key **out)
{
    ARCA_ENSURE_REF(pem);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(n > 0 && n <= INT32_MAX, ARCA_ERR_FORMAT, "key PEM: empty or too large input");
    char label[64];
    if (!pem_first_label(pem, n, label, sizeof(label)))
        return arca_err_set(ARCA_ERR_FORMAT, "key PEM: no '-----BEGIN ...-----' line found");
    if (strcmp(label, "ENCRYPTED PRIVATE KEY") == 0)
        return arca_err_set(ARCA_ERR_UNSUPPORTED, "key PEM: encrypted private keys are not "
                                                  "supported (store the key unencrypted)");
    if (memmem(pem, n, "Proc-Type: 4,ENCRYPTED", 22) != NULL)
        return arca_err_set(ARCA_ERR_UNSUPPORTED, "key PEM: encrypted private keys are not "
                                                  "supported (store the key unencrypted)");
    bool priv = strstr(label, "PRIVATE KEY") != NULL;
    if (!priv && strcmp(label, "PUBLIC KEY") != 0)
        return arca_err_set(ARCA_ERR_FORMAT,
                            "key PEM: expected a PRIVATE KEY or PUBLIC KEY block, found '%s'",
                            label);
    BIO *bio = BIO_new_mem_buf(pem, (int)n);
    if (bio == NULL)
        return arca_ossl_err(ARCA_ERR_ALLOC, "key PEM: BIO_new_mem_buf");
    EVP_PKEY *pkey = priv ? PEM_read_bio_PrivateKey(bio, NULL, no_password_cb, NULL)
                          : PEM_read_bio_PUBKEY(bio, NULL, no_password_cb, NULL);
    BIO_free(bio);
    if (pkey == NULL)
        return arca_ossl_err(ARCA_ERR_FORMAT, priv ? "key PEM: cannot parse the private key"
                                                   : "key PEM: cannot parse the public key");
    ERR_clear_error();
    return key_accept(pkey, priv, "key PEM", out);
}

int arca_key_from_der(const void *der, size_t n, struct arca_key **out)
{
    ARCA_ENSURE_REF(der);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(n > 0 && n <= INT32_MAX, ARCA_ERR_FORMAT, "key DER: empty or too large input");
    const unsigned char *p = der;
    /* PKCS#8 first: the only private form arca writes in DER. Every attempt must consume the
     * whole input, so trailing garbage is refused rather than ignored. */
    PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)n);
    if (p8 != NULL) {
        EVP_PKEY *pkey = NULL;
        if ((size_t)(p - (const unsigned char *)der) == n)
            pkey = EVP_PKCS82PKEY(p8);
        PKCS8_PRIV_KEY_INFO_free(p8);
        if (pkey == NULL)
            return arca_ossl_err(ARCA_ERR_FORMAT, "key DER: bad PKCS#8 private key");
        ERR_clear_error();
        return key_accept(pkey, true, "key DER", out);
    }
    p = der;
    EVP_PKEY *pkey = d2i_PUBKEY(NULL, &p, (long)n);
    if (pkey != NULL) {
        if ((size_t)(p - (const unsigned char *)der) != n) {
            EVP_PKEY_free(pkey);
            return arca_err_set(ARCA_ERR_FORMAT, "key DER: %zu trailing bytes after the SPKI",
                                n - (size_t)(p - (const unsigned char *)der));
        }
        ERR_clear_error();
        return key_accept(pkey, false, "key DER", out);
    }
    return arca_ossl_err(ARCA_ERR_FORMAT,
                         "key DER: neither a PKCS#8 private key nor an SPKI public key");
}

/* Appends the contents of a memory BIO to out (the BIO may be secure memory). */
static int bio_drain(BIO *bio, struct arca_buf *out)
{
    char *p = NULL;
    long n = BIO_get_mem_data(bio, &p);
    if (n <= 0)
        return arca_err_set(ARCA_ERR_CRYPTO, "encoding produced no output");
    return arca_buf_put(out, p, (size_t)n);
}

static int need_private(const struct arca_key *k, const char *what)
{
    ARCA_ENSURE(k != NULL, ARCA_ERR_INVALID_ARG, "%s: key is NULL", what);
    ARCA_ENSURE(k->priv, ARCA_ERR_INVALID_ARG, "%s: the key has no private part", what);
    return 0;
}

int arca_key_private_pem(const struct arca_key *k, struct arca_buf *out)
{
    ARCA_TRY(need_private(k, "private key PEM"));
    ARCA_ENSURE_REF(out);
    BIO *bio = BIO_new(BIO_s_secmem());
    if (bio == NULL)
        return arca_ossl_err(ARCA_ERR_ALLOC, "private key PEM: BIO_new");
    int rc = 0;
    if (PEM_write_bio_PKCS8PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL, NULL) != 1)
        rc = arca_ossl_err(ARCA_ERR_CRYPTO, "private key PEM: encoding failed");
    else
        rc = bio_drain(bio, out);
    BIO_free(bio);
    return rc;
}

int arca_key_private_der(const struct arca_key *k, struct arca_buf *out)
{
    ARCA_TRY(need_private(k, "private key DER"));
    ARCA_ENSURE_REF(out);
    PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(k->pkey);
    if (p8 == NULL)
        return arca_ossl_err(ARCA_ERR_CRYPTO, "private key DER: PKCS#8 conversion failed");
    unsigned char *der = NULL;
    int n = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
    PKCS8_PRIV_KEY_INFO_free(p8);
    if (n <= 0)
        return arca_ossl_err(ARCA_ERR_CRYPTO, "private key DER: encoding failed");
    int rc = arca_buf_put(out, der, (size_t)n);
    OPENSSL_clear_free(der, (size_t)n);
    return rc;
}

int arca_key_private_pem_traditional(const struct arca_key *k, struct arca_buf *out)
{
    ARCA_TRY(need_private(k, "private key PEM"));
    ARCA_ENSURE_REF(out);
    int id = EVP_PKEY_get_base_id(k->pkey);
    if (id != EVP_PKEY_EC && id != EVP_PKEY_RSA)
        return arca_key_private_pem(k, out); /* no traditional form exists */
    BIO *bio = BIO_new(BIO_s_secmem());
    if (bio == NULL)
        return arca_ossl_err(ARCA_ERR_ALLOC, "private key PEM: BIO_new");
    int rc = 0;
    if (PEM_write_bio_PrivateKey_traditional(bio, k->pkey, NULL, NULL, 0, NULL, NULL) != 1)
        rc = arca_ossl_err(ARCA_ERR_CRYPTO, "private key PEM: traditional encoding failed");
    else
        rc = bio_drain(bio, out);
    BIO_free(bio);
    return rc;
}

int arca_key_public_pem(const struct arca_key *k, struct arca_buf *out)
{
    ARCA_ENSURE_REF(k);
    ARCA_ENSURE_REF(out);
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL)
        return arca_ossl_err(ARCA_ERR_ALLOC, "public key PEM: BIO_new");
    int rc = 0;
    if (PEM_write_bio_PUBKEY(bio, k->pkey) != 1)
        rc = arca_ossl_err(ARCA_ERR_CRYPTO, "public key PEM: encoding failed");
    else
        rc = bio_drain(bio, out);
    BIO_free(bio);
    return rc;
}

/*
 * The DER SPKI of a P-256 / P-384 key, written here: i2d_PUBKEY sets up an OpenSSL encoder
 * context on every call, which costs more than generating the key (an arca-run launch and every
 * TLS key id in arcad ask for it). The encoding is fixed (RFC 5480): SEQUENCE { SEQUENCE {
 * id-ecPublicKey, namedCurve }, BIT STRING { 0x04 || x || y } }, so a constant header and the
 * uncompressed point. *len = 0 (and nothing written) for any other key or point form: the
 * caller uses i2d_PUBKEY then. SPKI_EC_MAX is the longest result (P-384).
 */
#define SPKI_EC_MAX 120
static void ec_spki_der(EVP_PKEY *pkey, uint8_t out[SPKI_EC_MAX], size_t *len)
{
    static const uint8_t p256_head[] = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
                                        0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
                                        0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00};
    static const uint8_t p384_head[] = {0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86,
                                        0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b,
                                        0x81, 0x04, 0x00, 0x22, 0x03, 0x62, 0x00};
    *len = 0;
    enum arca_key_type t = arca_pkey_type(pkey);
    if (t != ARCA_KEY_P256 && t != ARCA_KEY_P384)
        return;
    const uint8_t *head = t == ARCA_KEY_P256 ? p256_head : p384_head;
    size_t hlen = t == ARCA_KEY_P256 ? sizeof(p256_head) : sizeof(p384_head);
    size_t plen = t == ARCA_KEY_P256 ? 65 : 97, got = 0;
    if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, out + hlen,
                                        SPKI_EC_MAX - hlen, &got) != 1 ||
        got != plen || out[hlen] != 0x04) {
        ERR_clear_error();
        return;
    }
    memcpy(out, head, hlen);
    *len = hlen + plen;
}

int arca_key_spki_der(const struct arca_key *k, struct arca_buf *out)
{
    ARCA_ENSURE_REF(k);
    ARCA_ENSURE_REF(out);
    uint8_t ec[SPKI_EC_MAX];
    size_t eclen = 0;
    ec_spki_der(k->pkey, ec, &eclen);
    if (eclen > 0)
        return arca_buf_put(out, ec, eclen);
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(k->pkey, &der);
    if (n <= 0)
        return arca_ossl_err(ARCA_ERR_CRYPTO, "SPKI DER: encoding failed");
    int rc = arca_buf_put(out, der, (size_t)n);
    OPENSSL_free(der);
    return rc;
}

int arca_pkey_id(EVP_PKEY *pkey, uint8_t out[ARCA_SHA256_LEN])
{
    uint8_t ec[SPKI_EC_MAX];
    size_t eclen = 0;
    ec_spki_der(pkey, ec, &eclen);
    if (eclen > 0)
        return arca_sha256(ec, eclen, out);
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(pkey, &der);
    if (n <= 0)
        return arca_ossl_err(ARCA_ERR_CRYPTO, "key id: SPKI encoding failed");
    int rc = arca_sha256(der, (size_t)n, out);
    OPENSSL_free(der);
    return rc;
}

int arca_key_id(const struct arca_key *k, uint8_t out[ARCA_SHA256_LEN])
{
    ARCA_ENSURE_REF(k);
    ARCA_ENSURE_REF(out);
    return arca_pkey_id(k->pkey, out);
}

static size_t ec_coord_len(enum arca_key_type t)
{
    return t == ARCA_KEY_P256 ? 32 : t == ARCA_KEY_P384 ? 48 : 0;
}

int arca_key_public_raw(const struct arca_key *k, struct arca_buf *out)
{
    ARCA_ENSURE_REF(k);
    ARCA_ENSURE_REF(out);
    enum arca_key_type t = arca_pkey_type(k->pkey);
    uint8_t raw[1 + 2 * 48];
    size_t len = 0;
    switch (t) {
    case ARCA_KEY_P256:
    case ARCA_KEY_P384: {
        size_t c = ec_coord_len(t);
        /* The encoded public key of an EC key is the uncompressed point 0x04||x||y unless a
         * key was explicitly set to compressed form; check rather than assume. */
        if (EVP_PKEY_get_octet_string_param(k->pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, raw,
                                            sizeof(raw), &len) != 1)
            return arca_ossl_err(ARCA_ERR_CRYPTO, "raw public key: cannot read the EC point");
        if (len != 1 + 2 * c || raw[0] != 0x04)
            return arca_err_set(ARCA_ERR_CRYPTO, "raw public key: unexpected point encoding");
        return arca_buf_put(out, raw + 1, 2 * c);
    }
    case ARCA_KEY_ED25519:
    case ARCA_KEY_X25519:
        len = 32;
        if (EVP_PKEY_get_raw_public_key(k->pkey, raw, &len) != 1 || len != 32)
            return arca_ossl_err(ARCA_ERR_CRYPTO, "raw public key: cannot read the key");
        return arca_buf_put(out, raw, len);
    default:
        return arca_err_set(ARCA_ERR_UNSUPPORTED, "raw public key: not defined for %s keys",
                            arca_key_type_name(t));
    }
}

int arca_key_from_public_raw(enum arca_key_type t, const void *raw, size_t n, struct arca_key **out)
{
    ARCA_ENSURE_REF(raw);
    ARCA_ENSURE_REF(out);
    EVP_PKEY *pkey = NULL;
    switch (t) {
    case ARCA_KEY_P256:
    case ARCA_KEY_P384: {
        size_t c = ec_coord_len(t);
        uint8_t pt[1 + 2 * 48];
        /* x||y as documented; a leading 0x04 (SEC1 uncompressed) is accepted as well. */
        if (n == 1 + 2 * c && ((const uint8_t *)raw)[0] == 0x04) {
            memcpy(pt, raw, n);
        } else if (n == 2 * c) {
            pt[0] = 0x04;
            memcpy(pt + 1, raw, n);
        } else {
            return arca_err_set(ARCA_ERR_FORMAT,
                                "raw %s public key: expected %zu bytes (x||y), got %zu",
                                arca_key_type_name(t), 2 * c, n);
        }
        OSSL_PARAM params[3];
        params[0] = OSSL_PARAM_construct_utf8_string(
            OSSL_PKEY_PARAM_GROUP_NAME, t == ARCA_KEY_P256 ? "prime256v1" : "secp384r1", 0);
        params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pt, 1 + 2 * c);
        params[2] = OSSL_PARAM_construct_end();
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
        if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
            EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
            EVP_PKEY_CTX_free(ctx);
            return arca_ossl_err(ARCA_ERR_FORMAT, "raw EC public key: not a point on the curve");
        }
        EVP_PKEY_CTX_free(ctx);
        /* fromdata decodes the point; the public check makes the on-curve test explicit. */
        EVP_PKEY_CTX *chk = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
        int ok = chk != NULL && EVP_PKEY_public_check(chk) == 1;
        EVP_PKEY_CTX_free(chk);
        if (!ok) {
            EVP_PKEY_free(pkey);
            return arca_ossl_err(ARCA_ERR_FORMAT, "raw EC public key: not a valid point");
        }
        break;
    }
    case ARCA_KEY_ED25519:
    case ARCA_KEY_X25519:
        if (n != 32)
            return arca_err_set(ARCA_ERR_FORMAT, "raw %s public key: expected 32 bytes, got %zu",
                                arca_key_type_name(t), n);
        pkey = EVP_PKEY_new_raw_public_key(
            t == ARCA_KEY_ED25519 ? EVP_PKEY_ED25519 : EVP_PKEY_X25519, NULL, raw, n);
        if (pkey == NULL)
            return arca_ossl_err(ARCA_ERR_FORMAT, "raw public key: rejected");
        break;
    default:
        return arca_err_set(ARCA_ERR_UNSUPPORTED, "raw public key: not defined for %s keys",
                            arca_key_type_name(t));
    }
    ERR_clear_error();
    struct arca_key *k = arca_key_wrap(pkey, false);
    if (k == NULL)
        return ARCA_ERR_ALLOC;
    *out = k;
    return 0;
}
