/*
 * Encryption to an X25519 public key (crypto.h, "sealed box"): the encrypted-session format of
 * docs/encrypted-sessions.md. An ephemeral X25519 key agrees a secret with the recipient's key,
 * HKDF-SHA-256 turns it into an AES-256-GCM key, and the header is authenticated as AAD:
 *
 *   box = "ARCAENC1" (8) || ephemeral public key (32) || nonce (12) || ciphertext || tag (16)
 *   key = HKDF-SHA-256(salt = ephemeral || recipient, ikm = X25519(e, R),
 *                      info = "arca-encrypted-session-v1", 32 bytes)
 *   aad = "ARCAENC1" || ephemeral || recipient
 *
 * Binding the recipient key into salt and AAD makes a box opened with another key fail as
 * tampered, never decrypt to something else.
 */
#include "crypto/crypto_internal.h"

#include <string.h>
#include <openssl/crypto.h>

#define BOX_INFO "arca-encrypted-session-v1"
#define BOX_HEADER (ARCA_BOX_MAGIC_LEN + 32 + ARCA_AEAD_NONCE_LEN)

int arca_x25519_from_private(const uint8_t raw[32], struct arca_key **out)
{
    ARCA_ENSURE_REF(raw);
    ARCA_ENSURE_REF(out);
    *out = NULL;
    EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, raw, 32);
    if (pkey == NULL)
        return arca_ossl_err(ARCA_ERR_CRYPTO, "x25519: cannot make a key from 32 bytes");
    struct arca_key *k = arca_key_wrap(pkey, true);
    if (k == NULL) {
        EVP_PKEY_free(pkey);
        ARCA_BAIL(ARCA_ERR_ALLOC, "x25519: out of memory");
    }
    *out = k;
    return 0;
}

/* The AEAD key and AAD of a box between ephemeral eph and recipient rcpt with secret z. */
static int box_key(const uint8_t z[32], const uint8_t eph[32], const uint8_t rcpt[32],
                   uint8_t key[32], uint8_t aad[ARCA_BOX_MAGIC_LEN + 64])
{
    uint8_t salt[64];
    memcpy(salt, eph, 32);
    memcpy(salt + 32, rcpt, 32);
    memcpy(aad, ARCA_BOX_MAGIC, ARCA_BOX_MAGIC_LEN);
    memcpy(aad + ARCA_BOX_MAGIC_LEN, salt, 64);
    return arca_hkdf(ARCA_SHA256, salt, sizeof(salt), z, 32, BOX_INFO, strlen(BOX_INFO), key, 32);
}

/* The raw 32-byte public key of an X25519 key into out. */
static int raw_public(const struct arca_key *k, uint8_t out[32])
{
    struct arca_buf b;
    arca_buf_init(&b, 64);
    int rc = arca_key_public_raw(k, &b);
    if (rc == 0 && b.len != 32)
        rc = arca_err_set(ARCA_ERR_INVALID_ARG, "box: not an X25519 key");
    if (rc == 0)
        memcpy(out, b.data, 32);
    arca_buf_free(&b);
    return rc;
}

int arca_box_seal(const uint8_t recipient[32], const void *pt, size_t n, struct arca_buf *out)
{
    ARCA_ENSURE_REF(recipient);
    ARCA_ENSURE_REF(out);
    struct arca_key *e = NULL, *r = NULL;
    uint8_t z[32], key[32], eph[32], nonce[ARCA_AEAD_NONCE_LEN], aad[ARCA_BOX_MAGIC_LEN + 64];
    struct arca_buf b;
    arca_buf_init(&b, 0);
    int rc;
    ARCA_GUARD(rc, arca_key_from_public_raw(ARCA_KEY_X25519, recipient, 32, &r), out);
    ARCA_GUARD(rc, arca_key_generate(ARCA_KEY_X25519, &e), out);
    ARCA_GUARD(rc, raw_public(e, eph), out);
    ARCA_GUARD(rc, arca_x25519(e, r, z), out);
    ARCA_GUARD(rc, box_key(z, eph, recipient, key, aad), out);
    ARCA_GUARD(rc, arca_random(nonce, sizeof(nonce)), out);
    ARCA_GUARD(rc, arca_buf_put(&b, ARCA_BOX_MAGIC, ARCA_BOX_MAGIC_LEN), out);
    ARCA_GUARD(rc, arca_buf_put(&b, eph, 32), out);
    ARCA_GUARD(rc, arca_buf_put(&b, nonce, sizeof(nonce)), out);
    ARCA_GUARD(rc, arca_aead_seal(key, nonce, aad, sizeof(aad), pt, n, &b), out);
    ARCA_GUARD(rc, arca_buf_put(out, b.data, b.len), out);
out:
    OPENSSL_cleanse(z, sizeof(z));
    OPENSSL_cleanse(key, sizeof(key));
    arca_buf_free(&b);
    arca_key_free(e);
    arca_key_free(r);
    return rc;
}

int arca_box_open(const struct arca_key *mine, const void *box, size_t n, struct arca_buf *out)
{
    ARCA_ENSURE_REF(mine);
    ARCA_ENSURE_REF(out);
    const uint8_t *p = box;
    ARCA_ENSURE(p != NULL && n >= BOX_HEADER + ARCA_AEAD_TAG_LEN, ARCA_ERR_TRUNCATED,
                "encrypted session: %zu bytes, shorter than its header and tag", n);
    ARCA_ENSURE(memcmp(p, ARCA_BOX_MAGIC, ARCA_BOX_MAGIC_LEN) == 0, ARCA_ERR_FORMAT,
                "encrypted session: does not start with %s", ARCA_BOX_MAGIC);
    const uint8_t *eph = p + ARCA_BOX_MAGIC_LEN, *nonce = eph + 32;
    struct arca_key *e = NULL;
    uint8_t z[32], key[32], me[32], aad[ARCA_BOX_MAGIC_LEN + 64];
    int rc;
    ARCA_GUARD(rc, raw_public(mine, me), out);
    ARCA_GUARD(rc, arca_key_from_public_raw(ARCA_KEY_X25519, eph, 32, &e), out);
    ARCA_GUARD(rc, arca_x25519(mine, e, z), out);
    ARCA_GUARD(rc, box_key(z, eph, me, key, aad), out);
    rc = arca_aead_open(key, nonce, aad, sizeof(aad), p + BOX_HEADER, n - BOX_HEADER, out);
    if (rc == ARCA_ERR_TAMPERED)
        rc = arca_err_set(rc, "encrypted session: not encrypted to this key, or altered");
out:
    OPENSSL_cleanse(z, sizeof(z));
    OPENSSL_cleanse(key, sizeof(key));
    arca_key_free(e);
    return rc;
}
