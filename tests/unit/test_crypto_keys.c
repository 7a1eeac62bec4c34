/*
 * Keys and signatures: P-256, P-384, Ed25519, RSA-2048 generate/sign/verify; PEM, DER,
 * PKCS#8, traditional and SPKI round trips; raw public encodings; raw ECDSA (big- and
 * little-endian, padded coordinates); RSA-PSS salt lengths; X25519 agreement; negative
 * parsing cases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "crypto/crypto.h"

static const enum arca_key_type sig_types[] = {ARCA_KEY_P256, ARCA_KEY_P384, ARCA_KEY_ED25519,
                                               ARCA_KEY_RSA2048};

static void test_sign_verify_all_types(void **state)
{
    (void)state;
    static const int bits[] = {256, 384, 256, 2048};
    for (size_t i = 0; i < sizeof(sig_types) / sizeof(sig_types[0]); i++) {
        struct arca_key *k = NULL;
        assert_int_equal(arca_key_generate(sig_types[i], &k), 0);
        assert_int_equal(arca_key_type(k), sig_types[i]);
        assert_true(arca_key_has_private(k));
        assert_int_equal(arca_key_bits(k), bits[i]);
        for (enum arca_hash_alg alg = ARCA_SHA256; alg <= ARCA_SHA512; alg++) {
            struct arca_buf sig;
            arca_buf_init(&sig, 0);
            assert_int_equal(arca_sign(k, alg, "message", 7, &sig), 0);
            assert_int_equal(arca_verify(k, alg, "message", 7, sig.data, sig.len), 0);
            assert_int_equal(arca_verify(k, alg, "messagE", 7, sig.data, sig.len),
                             ARCA_ERR_SIGNATURE);
            sig.data[sig.len / 2] ^= 1;
            assert_int_equal(arca_verify(k, alg, "message", 7, sig.data, sig.len),
                             ARCA_ERR_SIGNATURE);
            assert_int_equal(arca_verify(k, alg, "message", 7, sig.data, 0), ARCA_ERR_SIGNATURE);
            arca_buf_free(&sig);
        }
        /* The public half alone verifies and cannot sign. */
        struct arca_buf spki, sig;
        arca_buf_init(&spki, 0);
        arca_buf_init(&sig, 0);
        assert_int_equal(arca_key_spki_der(k, &spki), 0);
        /* The SPKI (written by hand for EC keys) is OpenSSL's own encoding of the key. */
        struct arca_buf pem, der;
        arca_buf_init(&pem, 0);
        arca_buf_init(&der, 0);
        assert_int_equal(arca_key_public_pem(k, &pem), 0);
        assert_int_equal(arca_pem_to_der(pem.data, pem.len, "PUBLIC KEY", &der), 0);
        assert_int_equal(der.len, spki.len);
        assert_memory_equal(der.data, spki.data, spki.len);
        arca_buf_free(&pem);
        arca_buf_free(&der);
        struct arca_key *pub = NULL;
        assert_int_equal(arca_key_from_der(spki.data, spki.len, &pub), 0);
        assert_false(arca_key_has_private(pub));
        assert_int_equal(arca_sign(k, ARCA_SHA256, "", 0, &sig), 0);
        assert_int_equal(arca_verify(pub, ARCA_SHA256, "", 0, sig.data, sig.len), 0);
        struct arca_buf none;
        arca_buf_init(&none, 0);
        assert_int_equal(arca_sign(pub, ARCA_SHA256, "x", 1, &none), ARCA_ERR_INVALID_ARG);
        assert_int_equal(arca_key_private_pem(pub, &none), ARCA_ERR_INVALID_ARG);
        assert_int_equal(none.len, 0);
        /* Key ids agree between the pair and its public half. */
        uint8_t id1[32], id2[32];
        assert_int_equal(arca_key_id(k, id1), 0);
        assert_int_equal(arca_key_id(pub, id2), 0);
        assert_memory_equal(id1, id2, 32);
        uint8_t h[32];
        assert_int_equal(arca_sha256(spki.data, spki.len, h), 0);
        assert_memory_equal(id1, h, 32);
        /* ref/free */
        struct arca_key *r = arca_key_ref(pub);
        assert_ptr_equal(r, pub);
        arca_key_free(r);
        assert_int_equal(arca_verify(pub, ARCA_SHA256, "", 0, sig.data, sig.len), 0);
        arca_key_free(pub);
        arca_key_free(k);
        arca_buf_free(&spki);
        arca_buf_free(&sig);
        arca_buf_free(&none);
    }
}

static void roundtrip_one(struct arca_key *k)
{
    uint8_t id[32], id2[32];
    assert_int_equal(arca_key_id(k, id), 0);
    struct arca_buf b;
    struct arca_key *k2;
    /* PKCS#8 PEM */
    arca_buf_init_secret(&b, 0);
    assert_int_equal(arca_key_private_pem(k, &b), 0);
    assert_non_null(strstr(arca_buf_cstr(&b), "-----BEGIN PRIVATE KEY-----"));
    k2 = NULL;
    assert_int_equal(arca_key_from_pem(b.data, b.len, &k2), 0);
    assert_true(arca_key_has_private(k2));
    assert_int_equal(arca_key_id(k2, id2), 0);
    assert_memory_equal(id, id2, 32);
    arca_key_free(k2);
    arca_buf_free(&b);
    /* PKCS#8 DER */
    arca_buf_init_secret(&b, 0);
    assert_int_equal(arca_key_private_der(k, &b), 0);
    k2 = NULL;
    assert_int_equal(arca_key_from_der(b.data, b.len, &k2), 0);
    assert_true(arca_key_has_private(k2));
    assert_int_equal(arca_key_id(k2, id2), 0);
    assert_memory_equal(id, id2, 32);
    arca_key_free(k2);
    /* Trailing garbage after DER is refused. */
    assert_int_equal(arca_buf_put_u8(&b, 0), 0);
    assert_int_equal(arca_key_from_der(b.data, b.len, &k2), ARCA_ERR_FORMAT);
    arca_buf_free(&b);
    /* Traditional PEM */
    arca_buf_init_secret(&b, 0);
    assert_int_equal(arca_key_private_pem_traditional(k, &b), 0);
    enum arca_key_type t = arca_key_type(k);
    if (t == ARCA_KEY_P256 || t == ARCA_KEY_P384)
        assert_non_null(strstr(arca_buf_cstr(&b), "-----BEGIN EC PRIVATE KEY-----"));
    else if (t == ARCA_KEY_RSA2048)
        assert_non_null(strstr(arca_buf_cstr(&b), "-----BEGIN RSA PRIVATE KEY-----"));
    else
        assert_non_null(strstr(arca_buf_cstr(&b), "-----BEGIN PRIVATE KEY-----"));
    k2 = NULL;
    assert_int_equal(arca_key_from_pem(b.data, b.len, &k2), 0);
    assert_int_equal(arca_key_id(k2, id2), 0);
    assert_memory_equal(id, id2, 32);
    arca_key_free(k2);
    if (t == ARCA_KEY_P256) {
        /* As `openssl ecparam -genkey` writes it: an EC PARAMETERS block first. */
        struct arca_buf withparams;
        arca_buf_init_secret(&withparams, 0);
        assert_int_equal(arca_buf_put_str(&withparams, "-----BEGIN EC PARAMETERS-----\n"
                                                       "BggqhkjOPQMBBw==\n"
                                                       "-----END EC PARAMETERS-----\n"),
                         0);
        assert_int_equal(arca_buf_put(&withparams, b.data, b.len), 0);
        k2 = NULL;
        assert_int_equal(arca_key_from_pem(withparams.data, withparams.len, &k2), 0);
        assert_int_equal(arca_key_id(k2, id2), 0);
        assert_memory_equal(id, id2, 32);
        arca_key_free(k2);
        arca_buf_free(&withparams);
    }
    arca_buf_free(&b);
    /* SPKI PEM */
    arca_buf_init(&b, 0);
    assert_int_equal(arca_key_public_pem(k, &b), 0);
    assert_non_null(strstr(arca_buf_cstr(&b), "-----BEGIN PUBLIC KEY-----"));
    k2 = NULL;
    assert_int_equal(arca_key_from_pem(b.data, b.len, &k2), 0);
    assert_false(arca_key_has_private(k2));
    assert_int_equal(arca_key_type(k2), t);
    assert_int_equal(arca_key_id(k2, id2), 0);
    assert_memory_equal(id, id2, 32);
    arca_key_free(k2);
    /* PEM <-> DER through the generic helpers agrees with the SPKI DER. */
    struct arca_buf der, spki, pem2;
    arca_buf_init(&der, 0);
    arca_buf_init(&spki, 0);
    arca_buf_init(&pem2, 0);
    assert_int_equal(arca_pem_to_der(b.data, b.len, "PUBLIC KEY", &der), 0);
    assert_int_equal(arca_key_spki_der(k, &spki), 0);
    assert_int_equal(der.len, spki.len);
    assert_memory_equal(der.data, spki.data, der.len);
    assert_int_equal(arca_der_to_pem(der.data, der.len, "PUBLIC KEY", &pem2), 0);
    assert_int_equal(pem2.len, b.len);
    assert_memory_equal(pem2.data, b.data, b.len);
    assert_int_equal(arca_pem_to_der(b.data, b.len, "CERTIFICATE", &der), ARCA_ERR_FORMAT);
    arca_buf_free(&der);
    arca_buf_free(&spki);
    arca_buf_free(&pem2);
    arca_buf_free(&b);
}

static void test_encoding_roundtrips(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(sig_types) / sizeof(sig_types[0]); i++) {
        struct arca_key *k = NULL;
        assert_int_equal(arca_key_generate(sig_types[i], &k), 0);
        roundtrip_one(k);
        arca_key_free(k);
    }
    struct arca_key *x = NULL;
    assert_int_equal(arca_key_generate(ARCA_KEY_X25519, &x), 0);
    roundtrip_one(x);
    arca_key_free(x);
}

static void test_raw_public(void **state)
{
    (void)state;
    static const enum arca_key_type types[] = {ARCA_KEY_P256, ARCA_KEY_P384, ARCA_KEY_ED25519,
                                               ARCA_KEY_X25519};
    static const size_t lens[] = {64, 96, 32, 32};
    for (size_t i = 0; i < 4; i++) {
        struct arca_key *k = NULL, *p = NULL;
        assert_int_equal(arca_key_generate(types[i], &k), 0);
        struct arca_buf raw;
        arca_buf_init(&raw, 0);
        assert_int_equal(arca_key_public_raw(k, &raw), 0);
        assert_int_equal(raw.len, lens[i]);
        assert_int_equal(arca_key_from_public_raw(types[i], raw.data, raw.len, &p), 0);
        uint8_t a[32], b[32];
        assert_int_equal(arca_key_id(k, a), 0);
        assert_int_equal(arca_key_id(p, b), 0);
        assert_memory_equal(a, b, 32);
        arca_key_free(p);
        /* Wrong length; for EC a point off the curve. */
        assert_int_equal(arca_key_from_public_raw(types[i], raw.data, raw.len - 1, &p),
                         ARCA_ERR_FORMAT);
        if (i < 2) {
            raw.data[raw.len - 1] ^= 1;
            assert_int_equal(arca_key_from_public_raw(types[i], raw.data, raw.len, &p),
                             ARCA_ERR_FORMAT);
        }
        arca_buf_free(&raw);
        arca_key_free(k);
    }
    struct arca_key *r = NULL, *p = NULL;
    assert_int_equal(arca_key_generate(ARCA_KEY_RSA2048, &r), 0);
    struct arca_buf raw;
    arca_buf_init(&raw, 0);
    assert_int_equal(arca_key_public_raw(r, &raw), ARCA_ERR_UNSUPPORTED);
    assert_int_equal(arca_key_from_public_raw(ARCA_KEY_RSA2048, "x", 1, &p), ARCA_ERR_UNSUPPORTED);
    arca_buf_free(&raw);
    arca_key_free(r);
}

/* Splits a DER ECDSA signature into fixed-size big-endian r and s (a tiny DER walk: SEQUENCE
 * of two INTEGERs, short lengths only, which holds for P-256/P-384). */
static void der_sig_to_rs(const uint8_t *d, size_t n, size_t c, uint8_t *r, uint8_t *s)
{
    assert_true(n > 2 && d[0] == 0x30);
    size_t off = 2;
    if (d[1] & 0x80)
        off = 2 + (d[1] & 0x7f);
    uint8_t *outs[2] = {r, s};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(d[off], 0x02);
        size_t l = d[off + 1];
        const uint8_t *v = d + off + 2;
        while (l > c) {
            assert_int_equal(*v, 0);
            v++;
            l--;
        }
        memset(outs[i], 0, c);
        memcpy(outs[i] + c - l, v, l);
        off += 2 + d[off + 1];
    }
}

static void test_ecdsa_raw(void **state)
{
    (void)state;
    static const enum arca_key_type types[] = {ARCA_KEY_P256, ARCA_KEY_P384};
    static const size_t coords[] = {32, 48};
    static const enum arca_hash_alg algs[] = {ARCA_SHA256, ARCA_SHA384};
    for (size_t i = 0; i < 2; i++) {
        struct arca_key *k = NULL;
        assert_int_equal(arca_key_generate(types[i], &k), 0);
        struct arca_buf sig;
        arca_buf_init(&sig, 0);
        assert_int_equal(arca_sign(k, algs[i], "quote", 5, &sig), 0);
        size_t c = coords[i];
        uint8_t r[72], s[72];
        der_sig_to_rs(sig.data, sig.len, c, r, s);
        assert_int_equal(arca_verify_ecdsa_raw(k, algs[i], "quote", 5, r, s, c, false), 0);
        assert_int_equal(arca_verify_ecdsa_raw(k, algs[i], "quotE", 5, r, s, c, false),
                         ARCA_ERR_SIGNATURE);
        /* Little-endian, padded to 72 bytes (the SEV-SNP layout). */
        uint8_t rl[72] = {0}, sl[72] = {0};
        for (size_t j = 0; j < c; j++) {
            rl[j] = r[c - 1 - j];
            sl[j] = s[c - 1 - j];
        }
        assert_int_equal(arca_verify_ecdsa_raw(k, algs[i], "quote", 5, rl, sl, 72, true), 0);
        /* A non-zero padding byte is refused. */
        rl[71] = 1;
        assert_int_equal(arca_verify_ecdsa_raw(k, algs[i], "quote", 5, rl, sl, 72, true),
                         ARCA_ERR_SIGNATURE);
        /* Big-endian padded. */
        uint8_t rb[72] = {0}, sb[72] = {0};
        memcpy(rb + 72 - c, r, c);
        memcpy(sb + 72 - c, s, c);
        assert_int_equal(arca_verify_ecdsa_raw(k, algs[i], "quote", 5, rb, sb, 72, false), 0);
        /* r = 0 and coord too short. */
        uint8_t zero[72] = {0};
        assert_int_equal(arca_verify_ecdsa_raw(k, algs[i], "quote", 5, zero, s, c, false),
                         ARCA_ERR_SIGNATURE);
        assert_int_equal(arca_verify_ecdsa_raw(k, algs[i], "quote", 5, r, s, c - 1, false),
                         ARCA_ERR_INVALID_ARG);
        arca_buf_free(&sig);
        arca_key_free(k);
    }
    struct arca_key *ed = NULL;
    assert_int_equal(arca_key_generate(ARCA_KEY_ED25519, &ed), 0);
    uint8_t z[32] = {0};
    assert_int_equal(arca_verify_ecdsa_raw(ed, ARCA_SHA256, "x", 1, z, z, 32, false),
                     ARCA_ERR_INVALID_ARG);
    arca_key_free(ed);
}

static void test_rsa_pss(void **state)
{
    (void)state;
    struct arca_key *k = NULL;
    assert_int_equal(arca_key_generate(ARCA_KEY_RSA2048, &k), 0);
    struct arca_buf sig;
    arca_buf_init(&sig, 0);
    assert_int_equal(arca_sign(k, ARCA_SHA384, "report", 6, &sig), 0);
    assert_int_equal(sig.len, 256);
    assert_int_equal(arca_verify_rsa_pss(k, ARCA_SHA384, -1, "report", 6, sig.data, sig.len), 0);
    assert_int_equal(arca_verify_rsa_pss(k, ARCA_SHA384, 48, "report", 6, sig.data, sig.len), 0);
    assert_int_equal(arca_verify_rsa_pss(k, ARCA_SHA384, 20, "report", 6, sig.data, sig.len),
                     ARCA_ERR_SIGNATURE);
    assert_int_equal(arca_verify_rsa_pss(k, ARCA_SHA256, 48, "report", 6, sig.data, sig.len),
                     ARCA_ERR_SIGNATURE);
    struct arca_key *ec = NULL;
    assert_int_equal(arca_key_generate(ARCA_KEY_P256, &ec), 0);
    assert_int_equal(arca_verify_rsa_pss(ec, ARCA_SHA384, -1, "report", 6, sig.data, sig.len),
                     ARCA_ERR_INVALID_ARG);
    arca_key_free(ec);
    arca_buf_free(&sig);
    arca_key_free(k);
}

static void test_x25519(void **state)
{
    (void)state;
    struct arca_key *a = NULL, *b = NULL, *c = NULL;
    assert_int_equal(arca_key_generate(ARCA_KEY_X25519, &a), 0);
    assert_int_equal(arca_key_generate(ARCA_KEY_X25519, &b), 0);
    assert_int_equal(arca_key_generate(ARCA_KEY_X25519, &c), 0);
    uint8_t ab[32], ba[32], ac[32];
    assert_int_equal(arca_x25519(a, b, ab), 0);
    assert_int_equal(arca_x25519(b, a, ba), 0);
    assert_int_equal(arca_x25519(a, c, ac), 0);
    assert_memory_equal(ab, ba, 32);
    assert_false(arca_memeq(ab, ac, 32));
    /* Through the public raw form of the peer. */
    struct arca_buf raw;
    arca_buf_init(&raw, 0);
    assert_int_equal(arca_key_public_raw(b, &raw), 0);
    struct arca_key *bp = NULL;
    assert_int_equal(arca_key_from_public_raw(ARCA_KEY_X25519, raw.data, raw.len, &bp), 0);
    uint8_t ab2[32];
    assert_int_equal(arca_x25519(a, bp, ab2), 0);
    assert_memory_equal(ab, ab2, 32);
    /* A public-only key cannot be "mine"; a small-order point (zero) is refused. */
    assert_int_equal(arca_x25519(bp, a, ab2), ARCA_ERR_INVALID_ARG);
    uint8_t zero[32] = {0};
    struct arca_key *zp = NULL;
    assert_int_equal(arca_key_from_public_raw(ARCA_KEY_X25519, zero, 32, &zp), 0);
    assert_int_equal(arca_x25519(a, zp, ab2), ARCA_ERR_CRYPTO);
    struct arca_key *ed = NULL;
    assert_int_equal(arca_key_generate(ARCA_KEY_ED25519, &ed), 0);
    assert_int_equal(arca_x25519(a, ed, ab2), ARCA_ERR_INVALID_ARG);
    struct arca_buf sig;
    arca_buf_init(&sig, 0);
    assert_int_equal(arca_sign(a, ARCA_SHA256, "x", 1, &sig), ARCA_ERR_INVALID_ARG);
    arca_buf_free(&sig);
    arca_key_free(ed);
    arca_key_free(zp);
    arca_key_free(bp);
    arca_buf_free(&raw);
    arca_key_free(a);
    arca_key_free(b);
    arca_key_free(c);
}

static void test_parse_negative(void **state)
{
    (void)state;
    struct arca_key *k = NULL;
    const char *garbage = "-----BEGIN PRIVATE KEY-----\nnot base64 at all!\n-----END PRIVATE "
                          "KEY-----\n";
    assert_int_equal(arca_key_from_pem(garbage, strlen(garbage), &k), ARCA_ERR_FORMAT);
    assert_null(k);
    assert_int_equal(arca_key_from_pem("hello", 5, &k), ARCA_ERR_FORMAT);
    assert_non_null(strstr(arca_err_detail(), "BEGIN"));
    const char *cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    assert_int_equal(arca_key_from_pem(cert, strlen(cert), &k), ARCA_ERR_FORMAT);
    assert_non_null(strstr(arca_err_detail(), "CERTIFICATE"));
    const char *enc = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE "
                      "KEY-----\n";
    assert_int_equal(arca_key_from_pem(enc, strlen(enc), &k), ARCA_ERR_UNSUPPORTED);
    const char *legacy_enc = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n"
                             "DEK-Info: AES-128-CBC,00000000000000000000000000000000\n\nAAAA\n"
                             "-----END RSA PRIVATE KEY-----\n";
    assert_int_equal(arca_key_from_pem(legacy_enc, strlen(legacy_enc), &k), ARCA_ERR_UNSUPPORTED);
    const uint8_t der[] = {0x30, 0x03, 0x02, 0x01};
    assert_int_equal(arca_key_from_der(der, sizeof(der), &k), ARCA_ERR_FORMAT);
    assert_int_equal(arca_key_from_der(der, 0, &k), ARCA_ERR_FORMAT);
    /* Truncated real DER. */
    struct arca_key *g = NULL;
    assert_int_equal(arca_key_generate(ARCA_KEY_P256, &g), 0);
    struct arca_buf b;
    arca_buf_init_secret(&b, 0);
    assert_int_equal(arca_key_private_der(g, &b), 0);
    for (size_t cut = 1; cut < b.len; cut += 7)
        assert_int_equal(arca_key_from_der(b.data, b.len - cut, &k), ARCA_ERR_FORMAT);
    arca_buf_free(&b);
    arca_key_free(g);
    assert_null(k);
    assert_int_equal(arca_key_generate(ARCA_KEY_NONE, &k), ARCA_ERR_INVALID_ARG);
    assert_int_equal(arca_key_generate(ARCA_KEY_RSA_OTHER, &k), ARCA_ERR_INVALID_ARG);
    assert_string_equal(arca_key_type_name(ARCA_KEY_P384), "p384");
    assert_string_equal(arca_key_type_name(ARCA_KEY_RSA2048), "rsa2048");
    assert_string_equal(arca_key_type_name((enum arca_key_type)99), "none");
    /* PEM helpers. */
    struct arca_buf out;
    arca_buf_init(&out, 0);
    assert_int_equal(arca_pem_to_der("garbage", 7, "CERTIFICATE", &out), ARCA_ERR_FORMAT);
    assert_int_equal(arca_der_to_pem("x", 1, "BAD-LABEL", &out), ARCA_ERR_INVALID_ARG);
    assert_int_equal(out.len, 0);
    arca_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_verify_all_types),
        cmocka_unit_test(test_encoding_roundtrips),
        cmocka_unit_test(test_raw_public),
        cmocka_unit_test(test_ecdsa_raw),
        cmocka_unit_test(test_rsa_pss),
        cmocka_unit_test(test_x25519),
        cmocka_unit_test(test_parse_negative),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
