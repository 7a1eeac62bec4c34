/*
 * OpenPGP key generation (pgp.h): the packets of a v4 transferable key, written over OpenSSL
 * keys. Packet and field layouts follow RFC 4880 §4-5, §11 and §12.2 (v4 fingerprint), the
 * ECDH fields of RFC 6637 §9, and the EdDSA / Curve25519 encodings of RFC 9580's legacy forms
 * (algorithm 22 with OID 1.3.6.1.4.1.11591.15.1; algorithm 18 with OID 1.3.6.1.4.1.3029.1.5.1,
 * native points prefixed 0x40, the X25519 secret stored as a big-endian MPI of the reversed
 * native scalar), which is what GnuPG 2.2 reads.
 */
#include "crypto/crypto_internal.h"

#include <string.h>

#include "base/enc.h"
#include "crypto/pgp.h"

enum {
    TAG_SIGNATURE = 2,
    TAG_SECRET_KEY = 5,
    TAG_PUBLIC_KEY = 6,
    TAG_SECRET_SUBKEY = 7,
    TAG_USER_ID = 13,
    TAG_PUBLIC_SUBKEY = 14,
    ALGO_ECDH = 18,
    ALGO_EDDSA = 22,
    HASH_SHA256 = 8,
    SYM_AES256 = 9,
    ZIP_ZLIB = 2,
};

static const uint8_t oid_ed25519[] = {0x2B, 0x06, 0x01, 0x04, 0x01, 0xDA, 0x47, 0x0F, 0x01};
static const uint8_t oid_cv25519[] = {0x2B, 0x06, 0x01, 0x04, 0x01, 0x97, 0x55, 0x01, 0x05, 0x01};

/* A packet with a new-format header (RFC 4880 §4.2.2). */
static int put_packet(struct arca_buf *out, int tag, const struct arca_buf *body)
{
    size_t n = body->len;
    ARCA_TRY(arca_buf_put_u8(out, (uint8_t)(0xC0 | tag)));
    if (n < 192) {
        ARCA_TRY(arca_buf_put_u8(out, (uint8_t)n));
    } else if (n < 8384) {
        ARCA_TRY(arca_buf_put_u8(out, (uint8_t)(((n - 192) >> 8) + 192)));
        ARCA_TRY(arca_buf_put_u8(out, (uint8_t)((n - 192) & 0xFF)));
    } else {
        ARCA_TRY(arca_buf_put_u8(out, 0xFF));
        ARCA_TRY(arca_buf_put_u32be(out, (uint32_t)n));
    }
    return arca_buf_put(out, body->data, n);
}

/* A multiprecision integer: bit count, then the bytes without leading zeros (§3.2). */
static int put_mpi(struct arca_buf *out, const uint8_t *p, size_t n)
{
    while (n > 0 && p[0] == 0) {
        p++;
        n--;
    }
    unsigned bits = 0;
    if (n > 0) {
        bits = (unsigned)(n - 1) * 8;
        for (uint8_t b = p[0]; b != 0; b >>= 1)
            bits++;
    }
    ARCA_TRY(arca_buf_put_u16be(out, (uint16_t)bits));
    return arca_buf_put(out, p, n);
}

/* The raw 32-byte public (and, if priv is given, private) key of an Ed25519/X25519 pkey. */
static int raw25519(EVP_PKEY *pk, uint8_t pub[32], uint8_t *priv)
{
    size_t n = 32, m = 32;
    if (EVP_PKEY_get_raw_public_key(pk, pub, &n) != 1 || n != 32 ||
        (priv != NULL && (EVP_PKEY_get_raw_private_key(pk, priv, &m) != 1 || m != 32)))
        return arca_ossl_err(ARCA_ERR_CRYPTO, "pgp: cannot read a 25519 key");
    return 0;
}

/* The public-key packet body of a key (v4, §5.5.2). */
static int public_body(struct arca_buf *b, bool ecdh, uint32_t created, const uint8_t pub[32])
{
    uint8_t point[33];
    point[0] = 0x40; /* native point encoding */
    memcpy(point + 1, pub, 32);
    const uint8_t *oid = ecdh ? oid_cv25519 : oid_ed25519;
    size_t oid_len = ecdh ? sizeof(oid_cv25519) : sizeof(oid_ed25519);
    ARCA_TRY(arca_buf_put_u8(b, 4));
    ARCA_TRY(arca_buf_put_u32be(b, created));
    ARCA_TRY(arca_buf_put_u8(b, ecdh ? ALGO_ECDH : ALGO_EDDSA));
    ARCA_TRY(arca_buf_put_u8(b, (uint8_t)oid_len));
    ARCA_TRY(arca_buf_put(b, oid, oid_len));
    ARCA_TRY(put_mpi(b, point, sizeof(point)));
    if (ecdh) {
        /* KDF parameters (RFC 6637 §9): SHA-256, AES-256 key wrap */
        static const uint8_t kdf[] = {3, 1, HASH_SHA256, SYM_AES256};
        ARCA_TRY(arca_buf_put(b, kdf, sizeof(kdf)));
    }
    return 0;
}

/* The secret-key packet body: the public body, unencrypted (S2K usage 0), the secret MPI and
 * its two-octet checksum (§5.5.3). */
static int secret_body(struct arca_buf *b, const struct arca_buf *pub_body, const uint8_t *secret)
{
    ARCA_TRY(arca_buf_put(b, pub_body->data, pub_body->len));
    ARCA_TRY(arca_buf_put_u8(b, 0));
    size_t at = b->len;
    ARCA_TRY(put_mpi(b, secret, 32));
    uint16_t sum = 0;
    for (size_t i = at; i < b->len; i++)
        sum = (uint16_t)(sum + b->data[i]);
    return arca_buf_put_u16be(b, sum);
}

/* Feeds a key to a signature hash: 0x99, two-octet length, the public body (§5.2.4). */
static int hash_key(EVP_MD_CTX *h, const struct arca_buf *body)
{
    uint8_t hdr[3] = {0x99, (uint8_t)(body->len >> 8), (uint8_t)body->len};
    return EVP_DigestUpdate(h, hdr, 3) == 1 && EVP_DigestUpdate(h, body->data, body->len) == 1
               ? 0
               : arca_ossl_err(ARCA_ERR_CRYPTO, "pgp: hash");
}

static int fingerprint(const struct arca_buf *body, uint8_t fpr[ARCA_PGP_FPR_LEN])
{
    EVP_MD_CTX *h = EVP_MD_CTX_new();
    unsigned n = 0;
    int rc = h != NULL && EVP_DigestInit_ex(h, EVP_sha1(), NULL) == 1 ? hash_key(h, body)
                                                                      : ARCA_ERR_CRYPTO;
    if (rc == 0 && (EVP_DigestFinal_ex(h, fpr, &n) != 1 || n != ARCA_PGP_FPR_LEN))
        rc = arca_ossl_err(ARCA_ERR_CRYPTO, "pgp: fingerprint");
    EVP_MD_CTX_free(h);
    return rc < 0 ? arca_err_set(rc, "pgp: cannot compute a fingerprint") : 0;
}

static int subpacket(struct arca_buf *b, uint8_t type, const void *p, size_t n)
{
    ARCA_TRY(arca_buf_put_u8(b, (uint8_t)(n + 1)));
    ARCA_TRY(arca_buf_put_u8(b, type));
    return arca_buf_put(b, p, n);
}

struct sig_in {
    uint8_t type; /* 0x13 positive certification, 0x18 subkey binding */
    uint32_t created;
    uint8_t key_flags;              /* 0x03 certify + sign, 0x0C encrypt */
    const struct arca_buf *primary; /* public body of the signing primary key */
    const uint8_t *fpr;             /* its fingerprint */
    const char *uid;                /* 0x13: the user id */
    size_t uid_len;
    const struct arca_buf *subkey; /* 0x18: the subkey's public body */
};

/* A v4 signature packet body (§5.2.3) made with the Ed25519 primary key k. */
static int signature_body(struct arca_buf *b, const struct sig_in *in, const struct arca_key *k)
{
    struct arca_buf hashed;
    arca_buf_init(&hashed, 4096);
    uint8_t t[4] = {(uint8_t)(in->created >> 24), (uint8_t)(in->created >> 16),
                    (uint8_t)(in->created >> 8), (uint8_t)in->created};
    uint8_t issuer_fpr[1 + ARCA_PGP_FPR_LEN] = {4};
    memcpy(issuer_fpr + 1, in->fpr, ARCA_PGP_FPR_LEN);
    static const uint8_t sym = SYM_AES256, hash = HASH_SHA256, zip = ZIP_ZLIB, features = 1;
    int rc = 0;
    ARCA_GUARD(rc, arca_buf_put_u8(&hashed, 4), done);
    ARCA_GUARD(rc, arca_buf_put_u8(&hashed, in->type), done);
    ARCA_GUARD(rc, arca_buf_put_u8(&hashed, ALGO_EDDSA), done);
    ARCA_GUARD(rc, arca_buf_put_u8(&hashed, HASH_SHA256), done);
    struct arca_buf sp;
    arca_buf_init(&sp, 1024);
    rc = subpacket(&sp, 2, t, 4); /* signature creation time */
    if (rc == 0)
        rc = subpacket(&sp, 27, &in->key_flags, 1);
    if (rc == 0 && in->type == 0x13) {
        rc = subpacket(&sp, 11, &sym, 1);
        if (rc == 0)
            rc = subpacket(&sp, 21, &hash, 1);
        if (rc == 0)
            rc = subpacket(&sp, 22, &zip, 1);
        if (rc == 0)
            rc = subpacket(&sp, 30, &features, 1);
    }
    if (rc == 0)
        rc = subpacket(&sp, 33, issuer_fpr, sizeof(issuer_fpr));
    if (rc == 0)
        rc = arca_buf_put_u16be(&hashed, (uint16_t)sp.len);
    if (rc == 0)
        rc = arca_buf_put(&hashed, sp.data, sp.len);
    arca_buf_free(&sp);
    if (rc < 0)
        goto done;

    /* digest: the key(s), the user id, the hashed part and its trailer (§5.2.4) */
    uint8_t digest[32];
    unsigned dn = 0;
    EVP_MD_CTX *h = EVP_MD_CTX_new();
    ARCA_GUARD_ENSURE(rc, h != NULL && EVP_DigestInit_ex(h, EVP_sha256(), NULL) == 1, done,
                      ARCA_ERR_CRYPTO, "pgp: cannot start a hash");
    rc = hash_key(h, in->primary);
    if (rc == 0 && in->type == 0x13) {
        uint8_t uh[5] = {0xB4, (uint8_t)(in->uid_len >> 24), (uint8_t)(in->uid_len >> 16),
                         (uint8_t)(in->uid_len >> 8), (uint8_t)in->uid_len};
        if (EVP_DigestUpdate(h, uh, 5) != 1 || EVP_DigestUpdate(h, in->uid, in->uid_len) != 1)
            rc = arca_ossl_err(ARCA_ERR_CRYPTO, "pgp: hash");
    }
    if (rc == 0 && in->type == 0x18)
        rc = hash_key(h, in->subkey);
    uint8_t trailer[6] = {4,
                          0xFF,
                          (uint8_t)(hashed.len >> 24),
                          (uint8_t)(hashed.len >> 16),
                          (uint8_t)(hashed.len >> 8),
                          (uint8_t)hashed.len};
    if (rc == 0 &&
        (EVP_DigestUpdate(h, hashed.data, hashed.len) != 1 ||
         EVP_DigestUpdate(h, trailer, 6) != 1 || EVP_DigestFinal_ex(h, digest, &dn) != 1))
        rc = arca_ossl_err(ARCA_ERR_CRYPTO, "pgp: hash");
    EVP_MD_CTX_free(h);
    if (rc < 0)
        goto done;

    /* EdDSA signs the digest itself; the signature is r and s as two MPIs */
    struct arca_buf sig;
    arca_buf_init(&sig, 128);
    rc = arca_sign(k, ARCA_SHA256, digest, sizeof(digest), &sig);
    if (rc == 0 && sig.len != 64)
        rc = arca_err_set(ARCA_ERR_CRYPTO, "pgp: Ed25519 signature of %zu bytes", sig.len);
    /* unhashed: the issuer key id (the fingerprint's low 8 octets) for older readers */
    uint8_t unhashed[12] = {0, 10, 9, 16};
    memcpy(unhashed + 4, in->fpr + 12, 8);
    if (rc == 0)
        rc = arca_buf_put(b, hashed.data, hashed.len);
    if (rc == 0)
        rc = arca_buf_put(b, unhashed, sizeof(unhashed));
    if (rc == 0)
        rc = arca_buf_put(b, digest, 2);
    if (rc == 0)
        rc = put_mpi(b, sig.data, 32);
    if (rc == 0)
        rc = put_mpi(b, sig.data + 32, 32);
    arca_buf_free(&sig);
done:
    arca_buf_free(&hashed);
    return rc;
}

int arca_pgp_key_generate(const char *uid, size_t uid_len, int64_t created, struct arca_buf *secret,
                          struct arca_buf *pub, uint8_t fpr[ARCA_PGP_FPR_LEN])
{
    ARCA_ENSURE_REF(uid);
    ARCA_ENSURE_REF(secret);
    ARCA_ENSURE_REF(pub);
    ARCA_ENSURE(uid_len > 0 && uid_len < 4096, ARCA_ERR_INVALID_ARG, "pgp: user id of %zu bytes",
                uid_len);
    ARCA_ENSURE(created > 0 && created <= UINT32_MAX, ARCA_ERR_INVALID_ARG,
                "pgp: creation time out of range");
    uint32_t t = (uint32_t)created;
    struct arca_key *prim = NULL, *sub = NULL;
    uint8_t ppub[32], spub[32], ppriv[32], spriv[32], srev[32], f[ARCA_PGP_FPR_LEN];
    struct arca_buf pbody, sbody, tmp, sec, pb;
    arca_buf_init(&pbody, 4096);
    arca_buf_init(&sbody, 4096);
    arca_buf_init_secret(&tmp, 16384);
    arca_buf_init_secret(&sec, 16384);
    arca_buf_init(&pb, 16384);
    int rc = 0;
    ARCA_GUARD(rc, arca_key_generate(ARCA_KEY_ED25519, &prim), done);
    ARCA_GUARD(rc, arca_key_generate(ARCA_KEY_X25519, &sub), done);
    ARCA_GUARD(rc, raw25519(prim->pkey, ppub, ppriv), done);
    ARCA_GUARD(rc, raw25519(sub->pkey, spub, spriv), done);
    for (size_t i = 0; i < 32; i++)
        srev[i] = spriv[31 - i];
    ARCA_GUARD(rc, public_body(&pbody, false, t, ppub), done);
    ARCA_GUARD(rc, public_body(&sbody, true, t, spub), done);
    ARCA_GUARD(rc, fingerprint(&pbody, f), done);

    /* the user id packet body is the id itself */
    struct arca_buf ub = {.data = (uint8_t *)uid, .len = uid_len};
    struct sig_in cert = {.type = 0x13,
                          .created = t,
                          .key_flags = 0x03,
                          .primary = &pbody,
                          .fpr = f,
                          .uid = uid,
                          .uid_len = uid_len};
    struct sig_in bind = {.type = 0x18,
                          .created = t,
                          .key_flags = 0x0C,
                          .primary = &pbody,
                          .fpr = f,
                          .subkey = &sbody};
    struct arca_buf certsig, bindsig;
    arca_buf_init(&certsig, 4096);
    arca_buf_init(&bindsig, 4096);
    rc = signature_body(&certsig, &cert, prim);
    if (rc == 0)
        rc = signature_body(&bindsig, &bind, prim);
    /* secret: key, uid, cert, subkey, binding; public the same with the public packets */
    if (rc == 0)
        rc = secret_body(&tmp, &pbody, ppriv);
    if (rc == 0)
        rc = put_packet(&sec, TAG_SECRET_KEY, &tmp);
    if (rc == 0)
        rc = put_packet(&pb, TAG_PUBLIC_KEY, &pbody);
    for (int i = 0; rc == 0 && i < 2; i++) {
        struct arca_buf *o = i == 0 ? &sec : &pb;
        rc = put_packet(o, TAG_USER_ID, &ub);
        if (rc == 0)
            rc = put_packet(o, TAG_SIGNATURE, &certsig);
    }
    if (rc == 0) {
        arca_buf_reset(&tmp);
        rc = secret_body(&tmp, &sbody, srev);
    }
    if (rc == 0)
        rc = put_packet(&sec, TAG_SECRET_SUBKEY, &tmp);
    if (rc == 0)
        rc = put_packet(&pb, TAG_PUBLIC_SUBKEY, &sbody);
    if (rc == 0)
        rc = put_packet(&sec, TAG_SIGNATURE, &bindsig);
    if (rc == 0)
        rc = put_packet(&pb, TAG_SIGNATURE, &bindsig);
    arca_buf_free(&certsig);
    arca_buf_free(&bindsig);
    if (rc < 0)
        goto done;
    size_t had = secret->len;
    ARCA_GUARD(rc, arca_buf_put(secret, sec.data, sec.len), done);
    if ((rc = arca_buf_put(pub, pb.data, pb.len)) < 0) {
        secret->len = had;
        goto done;
    }
    if (fpr != NULL)
        memcpy(fpr, f, ARCA_PGP_FPR_LEN);
done:
    arca_wipe(ppriv, sizeof(ppriv));
    arca_wipe(spriv, sizeof(spriv));
    arca_wipe(srev, sizeof(srev));
    arca_buf_free(&pbody);
    arca_buf_free(&sbody);
    arca_buf_free(&tmp);
    arca_buf_free(&sec);
    arca_buf_free(&pb);
    arca_key_free(prim);
    arca_key_free(sub);
    return rc;
}

/* CRC-24 of RFC 4880 §6.1. */
static uint32_t crc24(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xB704CEu;
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint32_t)p[i] << 16;
        for (int b = 0; b < 8; b++) {
            crc <<= 1;
            if (crc & 0x1000000u)
                crc ^= 0x1864CFBu;
        }
    }
    return crc & 0xFFFFFFu;
}

int arca_pgp_armor(const void *p, size_t n, bool private_block, struct arca_buf *out)
{
    ARCA_ENSURE(p != NULL || n == 0, ARCA_ERR_INVALID_ARG, "pgp armor: NULL input");
    ARCA_ENSURE_REF(out);
    const char *what = private_block ? "PRIVATE" : "PUBLIC";
    size_t start = out->len;
    struct arca_buf b64;
    arca_buf_init_secret(&b64, 0);
    uint32_t crc = crc24(p, n);
    uint8_t c[3] = {(uint8_t)(crc >> 16), (uint8_t)(crc >> 8), (uint8_t)crc};
    int rc = arca_base64_encode(&b64, p, n);
    if (rc == 0)
        rc = arca_buf_printf(out, "-----BEGIN PGP %s KEY BLOCK-----\n\n", what);
    for (size_t i = 0; rc == 0 && i < b64.len; i += 64) {
        size_t k = b64.len - i < 64 ? b64.len - i : 64;
        rc = arca_buf_put(out, b64.data + i, k);
        if (rc == 0)
            rc = arca_buf_put_u8(out, '\n');
    }
    if (rc == 0)
        rc = arca_buf_put_u8(out, '=');
    if (rc == 0)
        rc = arca_base64_encode(out, c, 3);
    if (rc == 0)
        rc = arca_buf_printf(out, "\n-----END PGP %s KEY BLOCK-----\n", what);
    if (rc < 0)
        out->len = start;
    arca_buf_free(&b64);
    return rc;
}
