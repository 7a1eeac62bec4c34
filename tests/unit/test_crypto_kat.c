/*
 * Known-answer tests: SHA-2 "abc" (FIPS 180-2), HMAC (RFC 4231 cases 1-2), HKDF (RFC 5869
 * cases 1-3), AES-256-GCM (two NIST gcmEncryptExtIV256 vectors and the GCM specification's
 * AES-256 cases 13-16, incl. AAD, with tag/ciphertext/AAD tampering), Ed25519 (RFC 8032 §7.1 tests 1-3 and
 * SHA(abc)), Base58Check (a known Bitcoin address), plus constant-time compare and RNG.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/enc.h"
#include "base/err.h"
#include "crypto/crypto.h"

/* Decodes hex into a static-size scratch array; returns the length. */
static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = strlen(hex) / 2;
    assert_true(n <= cap);
    assert_int_equal(arca_hex_decode_fixed(out, n, hex, strlen(hex)), 0);
    return n;
}

static void assert_hex(const uint8_t *p, size_t n, const char *want)
{
    char got[1024];
    assert_true(2 * n + 1 <= sizeof(got));
    arca_hex_fmt(got, p, n);
    assert_string_equal(got, want);
}

static void test_sha2_abc(void **state)
{
    (void)state;
    uint8_t d[ARCA_HASH_MAX_LEN];
    assert_int_equal(arca_hash(ARCA_SHA256, "abc", 3, d), 0);
    assert_hex(d, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(arca_sha256("abc", 3, d), 0);
    assert_hex(d, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(arca_hash(ARCA_SHA384, "abc", 3, d), 0);
    assert_hex(d, 48,
               "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc23"
               "58baeca134c825a7");
    assert_int_equal(arca_hash(ARCA_SHA512, "abc", 3, d), 0);
    assert_hex(d, 64,
               "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a8"
               "36ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
    /* Incremental equals one-shot. */
    struct arca_hash_ctx *h = NULL;
    assert_int_equal(arca_hash_ctx_new(ARCA_SHA384, &h), 0);
    assert_int_equal(arca_hash_ctx_update(h, "a", 1), 0);
    assert_int_equal(arca_hash_ctx_update(h, NULL, 0), 0);
    assert_int_equal(arca_hash_ctx_update(h, "bc", 2), 0);
    uint8_t d2[ARCA_SHA384_LEN];
    assert_int_equal(arca_hash_ctx_final(h, d2), 0);
    arca_hash_ctx_free(h);
    assert_int_equal(arca_hash(ARCA_SHA384, "abc", 3, d), 0);
    assert_memory_equal(d, d2, 48);
    assert_int_equal(arca_hash_len(ARCA_SHA256), 32);
    assert_int_equal(arca_hash_len(ARCA_SHA384), 48);
    assert_int_equal(arca_hash_len(ARCA_SHA512), 64);
    assert_int_equal(arca_hash_len((enum arca_hash_alg)9), 0);
    assert_int_equal(arca_hash((enum arca_hash_alg)9, "abc", 3, d), ARCA_ERR_INVALID_ARG);
    /* Empty input: SHA-256("") */
    assert_int_equal(arca_sha256(NULL, 0, d), 0);
    assert_hex(d, 32, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_hmac_rfc4231(void **state)
{
    (void)state;
    uint8_t key[20], mac[64];
    memset(key, 0x0b, sizeof(key));
    assert_int_equal(arca_hmac(ARCA_SHA256, key, 20, "Hi There", 8, mac), 0);
    assert_hex(mac, 32, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    assert_int_equal(arca_hmac(ARCA_SHA384, key, 20, "Hi There", 8, mac), 0);
    assert_hex(mac, 48,
               "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f"
               "4af152e8b2fa9cb6");
    assert_int_equal(arca_hmac(ARCA_SHA512, key, 20, "Hi There", 8, mac), 0);
    assert_hex(mac, 64,
               "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702"
               "038b274eaea3f4e4be9d914eeb61f1702e696c203a126854");
    const char *data2 = "what do ya want for nothing?";
    assert_int_equal(arca_hmac(ARCA_SHA256, "Jefe", 4, data2, strlen(data2), mac), 0);
    assert_hex(mac, 32, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    assert_int_equal(arca_hmac(ARCA_SHA384, "Jefe", 4, data2, strlen(data2), mac), 0);
    assert_hex(mac, 48,
               "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c7"
               "8b3239ecfab21649");
    assert_int_equal(arca_hmac(ARCA_SHA512, "Jefe", 4, data2, strlen(data2), mac), 0);
    assert_hex(mac, 64,
               "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a"
               "6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737");
}

static void test_hkdf_rfc5869(void **state)
{
    (void)state;
    uint8_t ikm[80], salt[80], info[80], okm[82];
    /* Case 1 */
    memset(ikm, 0x0b, 22);
    for (int i = 0; i < 13; i++)
        salt[i] = (uint8_t)i;
    for (int i = 0; i < 10; i++)
        info[i] = (uint8_t)(0xf0 + i);
    assert_int_equal(arca_hkdf(ARCA_SHA256, salt, 13, ikm, 22, info, 10, okm, 42), 0);
    assert_hex(okm, 42,
               "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b88718"
               "5865");
    /* Case 2: long inputs */
    for (int i = 0; i < 80; i++) {
        ikm[i] = (uint8_t)i;
        salt[i] = (uint8_t)(0x60 + i);
        info[i] = (uint8_t)(0xb0 + i);
    }
    assert_int_equal(arca_hkdf(ARCA_SHA256, salt, 80, ikm, 80, info, 80, okm, 82), 0);
    assert_hex(okm, 82,
               "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac78272"
               "71cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f"
               "1d87");
    /* Case 3: no salt, no info */
    memset(ikm, 0x0b, 22);
    assert_int_equal(arca_hkdf(ARCA_SHA256, NULL, 0, ikm, 22, NULL, 0, okm, 42), 0);
    assert_hex(okm, 42,
               "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a"
               "96c8");
    /* Limits: 0 and > 255*HashLen bytes are refused. */
    uint8_t big[255 * 32 + 1];
    assert_int_equal(arca_hkdf(ARCA_SHA256, NULL, 0, ikm, 22, NULL, 0, big, 0),
                     ARCA_ERR_INVALID_ARG);
    assert_int_equal(arca_hkdf(ARCA_SHA256, NULL, 0, ikm, 22, NULL, 0, big, sizeof(big)),
                     ARCA_ERR_INVALID_ARG);
    assert_int_equal(arca_hkdf(ARCA_SHA256, NULL, 0, ikm, 22, NULL, 0, big, sizeof(big) - 1), 0);
}

struct gcm_vec {
    const char *key, *iv, *pt, *aad, *ct, *tag;
};

static const struct gcm_vec gcm_vecs[] = {
    /* gcmEncryptExtIV256.rsp [PTlen = 0, AADlen = 0] Count = 0 */
    {"b52c505a37d78eda5dd34f20c22540ea1b58963cf8e5bf8ffa85f9f2492505b4", "516c33929df5a3284ff463d7",
     "", "", "", "bdc1ac884d332457a1d2664f168c76f0"},
    /* gcmEncryptExtIV256.rsp [PTlen = 128, AADlen = 128] Count = 0 */
    {"92e11dcdaa866f5ce790fd24501f92509aacf4cb8b1339d50c9c1240935dd08b", "ac93a1a6145299bde902f21a",
     "2d71bcfa914e4ac045b2aa60955fad24", "1e0889016f67601c8ebea4943bc23ad6",
     "8995ae2e6df3dbf96fac7b7137bae67f", "eca5aa77d51d4a0a14d9c51e1da474ab"},
    /* The GCM specification's AES-256 test cases 13-16. */
    {"0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000",
     "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
    {"0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000",
     "00000000000000000000000000000000", "", "cea7403d4d606b6e074ec5d3baf39d18",
     "d0d1c8a799996bf0265b98b5d48ab919"},
    {"feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e24"
     "49a6b525b16aedf5aa0de657ba637b391aafd255",
     "",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b10"
     "56828838c5f61e6393ba7a0abcc9f662898015ad",
     "b094dac5d93471bdec1a502270e3cc6c"},
    {"feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e24"
     "49a6b525b16aedf5aa0de657ba637b39",
     "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b10"
     "56828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
};

static void test_aes256gcm(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(gcm_vecs) / sizeof(gcm_vecs[0]); i++) {
        const struct gcm_vec *v = &gcm_vecs[i];
        uint8_t key[32], iv[12], pt[64], aad[32], ct[80];
        unhex(v->key, key, sizeof(key));
        unhex(v->iv, iv, sizeof(iv));
        size_t ptlen = unhex(v->pt, pt, sizeof(pt));
        size_t aadlen = unhex(v->aad, aad, sizeof(aad));
        size_t ctlen = unhex(v->ct, ct, sizeof(ct));
        unhex(v->tag, ct + ctlen, 16);
        struct arca_buf sealed, opened;
        arca_buf_init(&sealed, 0);
        arca_buf_init_secret(&opened, 0);
        assert_int_equal(arca_aead_seal(key, iv, aad, aadlen, pt, ptlen, &sealed), 0);
        assert_int_equal(sealed.len, ctlen + 16);
        assert_memory_equal(sealed.data, ct, ctlen + 16);
        assert_int_equal(arca_aead_open(key, iv, aad, aadlen, ct, ctlen + 16, &opened), 0);
        assert_int_equal(opened.len, ptlen);
        if (ptlen > 0)
            assert_memory_equal(opened.data, pt, ptlen);
        arca_buf_reset(&opened);
        /* Tag mismatch: flip one tag bit; then one ciphertext bit; then the AAD. */
        ct[ctlen + 15] ^= 1;
        assert_int_equal(arca_aead_open(key, iv, aad, aadlen, ct, ctlen + 16, &opened),
                         ARCA_ERR_TAMPERED);
        assert_int_equal(opened.len, 0);
        ct[ctlen + 15] ^= 1;
        if (ctlen > 0) {
            ct[0] ^= 0x80;
            assert_int_equal(arca_aead_open(key, iv, aad, aadlen, ct, ctlen + 16, &opened),
                             ARCA_ERR_TAMPERED);
            ct[0] ^= 0x80;
        }
        assert_int_equal(arca_aead_open(key, iv, "x", 1, ct, ctlen + 16, &opened),
                         ARCA_ERR_TAMPERED);
        assert_int_equal(opened.len, 0);
        arca_buf_free(&sealed);
        arca_buf_free(&opened);
    }
    /* Too short for a tag. */
    uint8_t key[32] = {0}, iv[12] = {0};
    struct arca_buf b;
    arca_buf_init(&b, 0);
    assert_int_equal(arca_aead_open(key, iv, NULL, 0, "short", 5, &b), ARCA_ERR_TAMPERED);
    /* Output limit: the buffer is left unchanged. */
    struct arca_buf small;
    arca_buf_init(&small, 10);
    assert_int_equal(arca_aead_seal(key, iv, NULL, 0, "abc", 3, &small), ARCA_ERR_TOO_LARGE);
    assert_int_equal(small.len, 0);
    arca_buf_free(&small);
    arca_buf_free(&b);
}

/* An Ed25519 key pair from its 32-byte RFC 8032 secret, through PKCS#8 DER. */
static struct arca_key *ed25519_from_seed(const char *seed_hex)
{
    uint8_t der[48];
    unhex("302e020100300506032b657004220420", der, 16);
    unhex(seed_hex, der + 16, 32);
    struct arca_key *k = NULL;
    assert_int_equal(arca_key_from_der(der, sizeof(der), &k), 0);
    assert_true(arca_key_has_private(k));
    return k;
}

struct ed_vec {
    const char *sk, *pk, *msg, *sig;
};

static const struct ed_vec ed_vecs[] = {
    {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e3970"
     "1cf9b46bd25bf5f0595bbe24655141438e7a100b"},
    {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613"
     "d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
    {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760"
     "984dc6594a7c15e9716ed28dc027beceea1ec40a"},
    /* RFC 8032 "TEST SHA(abc)": the message is SHA-512("abc"). */
    {"833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
     "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
     "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23"
     "a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
     "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c6"
     "6431e0303dca179c138ac17ad9bef1177331a704"},
};

static void test_ed25519_rfc8032(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(ed_vecs) / sizeof(ed_vecs[0]); i++) {
        const struct ed_vec *v = &ed_vecs[i];
        struct arca_key *k = ed25519_from_seed(v->sk);
        assert_int_equal(arca_key_type(k), ARCA_KEY_ED25519);
        assert_int_equal(arca_key_bits(k), 256);
        struct arca_buf pub, sig;
        arca_buf_init(&pub, 0);
        arca_buf_init(&sig, 0);
        assert_int_equal(arca_key_public_raw(k, &pub), 0);
        assert_hex(pub.data, pub.len, v->pk);
        uint8_t msg[64];
        size_t mlen = unhex(v->msg, msg, sizeof(msg));
        assert_int_equal(arca_sign(k, ARCA_SHA256, msg, mlen, &sig), 0);
        assert_hex(sig.data, sig.len, v->sig);
        /* Verify with the public key alone, rebuilt from its raw form. */
        struct arca_key *pk = NULL;
        assert_int_equal(arca_key_from_public_raw(ARCA_KEY_ED25519, pub.data, pub.len, &pk), 0);
        assert_false(arca_key_has_private(pk));
        assert_int_equal(arca_verify(pk, ARCA_SHA512, msg, mlen, sig.data, sig.len), 0);
        sig.data[10] ^= 4;
        assert_int_equal(arca_verify(pk, ARCA_SHA512, msg, mlen, sig.data, sig.len),
                         ARCA_ERR_SIGNATURE);
        assert_int_equal(arca_verify(pk, ARCA_SHA512, msg, mlen, sig.data, 63), ARCA_ERR_SIGNATURE);
        struct arca_buf again;
        arca_buf_init(&again, 0);
        assert_int_equal(arca_sign(pk, ARCA_SHA256, msg, mlen, &again), ARCA_ERR_INVALID_ARG);
        assert_int_equal(again.len, 0);
        arca_buf_free(&again);
        arca_key_free(pk);
        arca_key_free(k);
        arca_buf_free(&pub);
        arca_buf_free(&sig);
    }
}

static void test_base58check(void **state)
{
    (void)state;
    /* The classic Bitcoin example: version 0, RIPEMD-160 hash below. */
    uint8_t h160[20];
    unhex("010966776006953d5567439e5e39f86a0d273bee", h160, sizeof(h160));
    struct arca_buf b, d;
    arca_buf_init(&b, 0);
    arca_buf_init(&d, 0);
    assert_int_equal(arca_base58check_encode(&b, 0x00, h160, sizeof(h160)), 0);
    assert_string_equal(arca_buf_cstr(&b), "16UwLL9Risc3QfPqBUvKofHmBQ7wMtjvM");
    uint8_t ver = 0xff;
    assert_int_equal(arca_base58check_decode(&d, &ver, arca_buf_cstr(&b), b.len), 0);
    assert_int_equal(ver, 0);
    assert_int_equal(d.len, 20);
    assert_memory_equal(d.data, h160, 20);
    /* The established CAS's published governance key (version 10, a 32-byte key). */
    const char *gov = "LtLcbPVddnCkH36ZcRdgYsw4H8xDbYaFZfuefkDc25uq2qdjmM";
    arca_buf_reset(&d);
    assert_int_equal(arca_base58check_decode(&d, &ver, gov, strlen(gov)), 0);
    assert_int_equal(ver, 10);
    assert_int_equal(d.len, 32);
    arca_buf_reset(&b);
    assert_int_equal(arca_base58check_encode(&b, ver, d.data, d.len), 0);
    assert_string_equal(arca_buf_cstr(&b), gov);
    /* arca's key hashes: 32-byte SHA-256 with ARCA_KEYHASH_B58_VERSION gives 50 characters. */
    uint8_t kh[32];
    assert_int_equal(arca_sha256("key", 3, kh), 0);
    arca_buf_reset(&b);
    arca_buf_reset(&d);
    assert_int_equal(arca_base58check_encode(&b, ARCA_KEYHASH_B58_VERSION, kh, 32), 0);
    assert_int_equal(b.len, 50);
    assert_int_equal(arca_base58check_decode(&d, &ver, arca_buf_cstr(&b), b.len), 0);
    assert_int_equal(ver, ARCA_KEYHASH_B58_VERSION);
    assert_memory_equal(d.data, kh, 32);
    /* Leading zero bytes become '1's and come back. */
    uint8_t z[5] = {0, 0, 0, 1, 2};
    arca_buf_reset(&b);
    arca_buf_reset(&d);
    assert_int_equal(arca_base58check_encode(&b, 0, z, 5), 0);
    assert_memory_equal(b.data, "1111", 4);
    assert_int_equal(arca_base58check_decode(&d, &ver, arca_buf_cstr(&b), b.len), 0);
    assert_int_equal(d.len, 5);
    assert_memory_equal(d.data, z, 5);
    /* Negatives: bad alphabet (0, O, I, l), checksum mismatch, too short; out unchanged. */
    arca_buf_reset(&d);
    const char *good = "16UwLL9Risc3QfPqBUvKofHmBQ7wMtjvM";
    assert_int_equal(arca_base58check_decode(&d, &ver, "16UwLL9Risc3QfPqBUvKofHmBQ7wMtjv0", 33),
                     ARCA_ERR_FORMAT);
    assert_non_null(strstr(arca_err_detail(), "offset 32"));
    assert_int_equal(arca_base58check_decode(&d, &ver, "16UwLL9Risc3QfPqBUvKofHmBQ7wMtjvN", 33),
                     ARCA_ERR_FORMAT);
    assert_non_null(strstr(arca_err_detail(), "checksum"));
    assert_int_equal(arca_base58check_decode(&d, &ver, good, 5), ARCA_ERR_FORMAT);
    assert_int_equal(arca_base58check_decode(&d, &ver, "", 0), ARCA_ERR_FORMAT);
    assert_int_equal(arca_base58check_decode(&d, &ver, "l", 1), ARCA_ERR_FORMAT);
    assert_int_equal(d.len, 0);
    arca_buf_free(&b);
    arca_buf_free(&d);
}

static void test_memeq_random(void **state)
{
    (void)state;
    assert_true(arca_memeq("abc", "abc", 3));
    assert_false(arca_memeq("abc", "abd", 3));
    assert_true(arca_memeq("x", "y", 0));
    uint8_t a[64] = {0}, b[64] = {0};
    assert_int_equal(arca_random(a, sizeof(a)), 0);
    assert_int_equal(arca_random(b, sizeof(b)), 0);
    assert_false(arca_memeq(a, b, sizeof(a)));
    assert_int_equal(arca_random(NULL, 0), 0);
    assert_int_equal(arca_random(NULL, 1), ARCA_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha2_abc),        cmocka_unit_test(test_hmac_rfc4231),
        cmocka_unit_test(test_hkdf_rfc5869),    cmocka_unit_test(test_aes256gcm),
        cmocka_unit_test(test_ed25519_rfc8032), cmocka_unit_test(test_base58check),
        cmocka_unit_test(test_memeq_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
