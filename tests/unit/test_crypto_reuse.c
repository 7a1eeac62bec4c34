/*
 * The reusable contexts give the same answers as the one-shot calls, in any order of use: an
 * HKDF context run through RFC 5869 cases 1-3 and back (a salt or info left over from the
 * previous derivation would change the output), a hash context restarted between messages.
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

static void assert_hex(const uint8_t *p, size_t n, const char *want)
{
    char got[256];
    assert_true(2 * n + 1 <= sizeof(got));
    arca_hex_fmt(got, p, n);
    assert_string_equal(got, want);
}

static const char case1[] = "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf3400"
                            "7208d5b887185865";
static const char case3[] = "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d20"
                            "1395faa4b61a96c8";

static void test_hkdf_ctx_sequence(void **state)
{
    (void)state;
    uint8_t ikm[80], salt[80], info[80], okm[82], one[82];
    struct arca_hkdf_ctx *k = NULL;
    assert_int_equal(arca_hkdf_ctx_new(ARCA_SHA256, &k), 0);
    for (int round = 0; round < 2; round++) {
        memset(ikm, 0x0b, 22);
        for (int i = 0; i < 13; i++)
            salt[i] = (uint8_t)i;
        for (int i = 0; i < 10; i++)
            info[i] = (uint8_t)(0xf0 + i);
        assert_int_equal(arca_hkdf_ctx_derive(k, salt, 13, ikm, 22, info, 10, okm, 42), 0);
        assert_hex(okm, 42, case1);
        /* Same salt and key, another info: must not be case 1's output nor a concatenation. */
        assert_int_equal(arca_hkdf_ctx_derive(k, salt, 13, ikm, 22, info, 9, okm, 42), 0);
        assert_int_equal(arca_hkdf(ARCA_SHA256, salt, 13, ikm, 22, info, 9, one, 42), 0);
        assert_memory_equal(okm, one, 42);
        for (int i = 0; i < 80; i++) {
            ikm[i] = (uint8_t)i;
            salt[i] = (uint8_t)(0x60 + i);
            info[i] = (uint8_t)(0xb0 + i);
        }
        assert_int_equal(arca_hkdf_ctx_derive(k, salt, 80, ikm, 80, info, 80, okm, 82), 0);
        assert_hex(okm, 82,
                   "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7"
                   "827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5"
                   "c1f3434f1d87");
        /* No salt and no info right after a derivation with both. */
        memset(ikm, 0x0b, 22);
        assert_int_equal(arca_hkdf_ctx_derive(k, NULL, 0, ikm, 22, NULL, 0, okm, 42), 0);
        assert_hex(okm, 42, case3);
        /* No salt, but an info, on the kept context. */
        assert_int_equal(arca_hkdf_ctx_derive(k, NULL, 0, ikm, 22, "x", 1, okm, 42), 0);
        assert_int_equal(arca_hkdf(ARCA_SHA256, NULL, 0, ikm, 22, "x", 1, one, 42), 0);
        assert_memory_equal(okm, one, 42);
    }
    assert_int_equal(arca_hkdf_ctx_derive(k, NULL, 0, ikm, 22, NULL, 0, okm, 0),
                     ARCA_ERR_INVALID_ARG);
    assert_int_equal(arca_hkdf_ctx_derive(NULL, NULL, 0, ikm, 22, NULL, 0, okm, 32),
                     ARCA_ERR_INVALID_ARG);
    arca_hkdf_ctx_free(k);
    arca_hkdf_ctx_free(NULL);
}

static void test_hash_ctx_reset(void **state)
{
    (void)state;
    struct arca_hash_ctx *h = NULL;
    uint8_t d[32];
    assert_int_equal(arca_hash_ctx_new(ARCA_SHA256, &h), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(arca_hash_ctx_update(h, "ab", 2), 0);
        assert_int_equal(arca_hash_ctx_update(h, "c", 1), 0);
        assert_int_equal(arca_hash_ctx_final(h, d), 0);
        assert_hex(d, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        /* Restarting after a partial message drops it. */
        assert_int_equal(arca_hash_ctx_reset(h), 0);
        assert_int_equal(arca_hash_ctx_update(h, "zzz", 3), 0);
        assert_int_equal(arca_hash_ctx_reset(h), 0);
    }
    arca_hash_ctx_free(h);
}

static void test_aead_ctx_rekey(void **state)
{
    (void)state;
    uint8_t k1[32], k2[32], nonce[12] = {0}, pt[100], ct[100], tag[16];
    memset(k1, 1, sizeof(k1));
    memset(k2, 2, sizeof(k2));
    memset(pt, 0x5a, sizeof(pt));
    struct arca_aead_ctx *a = NULL;
    assert_int_equal(arca_aead_ctx_new(&a), 0);
    for (int i = 0; i < 2; i++) {
        const uint8_t *key = i == 0 ? k1 : k2;
        assert_int_equal(arca_aead_ctx_set_key(a, key), 0);
        assert_int_equal(arca_aead_ctx_seal(a, nonce, "ad", 2, pt, sizeof(pt), ct, tag), 0);
        struct arca_buf out;
        arca_buf_init_secret(&out, 256);
        assert_int_equal(arca_aead_seal(key, nonce, "ad", 2, pt, sizeof(pt), &out), 0);
        assert_memory_equal(out.data, ct, sizeof(ct));
        assert_memory_equal(out.data + sizeof(ct), tag, sizeof(tag));
        arca_buf_free(&out);
    }
    arca_aead_ctx_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hkdf_ctx_sequence),
        cmocka_unit_test(test_hash_ctx_reset),
        cmocka_unit_test(test_aead_ctx_rekey),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
