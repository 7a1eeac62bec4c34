/*
 * The reusable AES-256-GCM context (arca_aead_ctx_*): every message it seals equals the
 * one-shot arca_aead_seal under the same key and nonce, whatever came before on the context
 * (other nonces, other keys, opens between seals); in-place sealing and opening; a failed open
 * wipes its output; no key, no message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/err.h"
#include "crypto/crypto.h"

static void nonce_of(uint8_t nonce[ARCA_AEAD_NONCE_LEN], unsigned i)
{
    memset(nonce, 0, ARCA_AEAD_NONCE_LEN);
    nonce[0] = (uint8_t)i;
    nonce[11] = (uint8_t)(i * 7);
}

/* Seals pt on the context and checks it against the one-shot call; opens it back in place. */
static void check_one(struct arca_aead_ctx *a, const uint8_t key[32], unsigned i, size_t n)
{
    uint8_t pt[300], ct[300], tag[ARCA_AEAD_TAG_LEN], nonce[ARCA_AEAD_NONCE_LEN];
    const uint8_t aad[8] = {1, 2, 3, 4, 5, 6, 7, (uint8_t)i};
    assert_true(n <= sizeof(pt));
    for (size_t k = 0; k < n; k++)
        pt[k] = (uint8_t)(k * 31 + i);
    nonce_of(nonce, i);
    assert_int_equal(arca_aead_ctx_seal(a, nonce, aad, sizeof(aad), pt, n, ct, tag), 0);

    struct arca_buf want;
    arca_buf_init(&want, 0);
    assert_int_equal(arca_aead_seal(key, nonce, aad, sizeof(aad), pt, n, &want), 0);
    assert_int_equal(want.len, n + ARCA_AEAD_TAG_LEN);
    assert_memory_equal(want.data, ct, n);
    assert_memory_equal(want.data + n, tag, sizeof(tag));
    arca_buf_free(&want);

    /* In place, both ways. */
    uint8_t io[300];
    memcpy(io, pt, n);
    uint8_t tag2[ARCA_AEAD_TAG_LEN];
    assert_int_equal(arca_aead_ctx_seal(a, nonce, aad, sizeof(aad), io, n, io, tag2), 0);
    assert_memory_equal(io, ct, n);
    assert_memory_equal(tag2, tag, sizeof(tag));
    assert_int_equal(arca_aead_ctx_open(a, nonce, aad, sizeof(aad), io, n, tag, io), 0);
    assert_memory_equal(io, pt, n);
}

static void test_matches_one_shot(void **state)
{
    (void)state;
    struct arca_aead_ctx *a = NULL;
    assert_int_equal(arca_aead_ctx_new(&a), 0);
    uint8_t key1[32], key2[32];
    memset(key1, 0x11, sizeof(key1));
    memset(key2, 0x22, sizeof(key2));
    for (unsigned round = 0; round < 3; round++) {
        const uint8_t *key = round % 2 ? key2 : key1;
        assert_int_equal(arca_aead_ctx_set_key(a, key), 0);
        check_one(a, key, round, 0);
        check_one(a, key, round + 1, 1);
        check_one(a, key, round + 2, 16);
        check_one(a, key, round + 3, 300);
    }
    arca_aead_ctx_free(a);
}

static void test_refusals(void **state)
{
    (void)state;
    struct arca_aead_ctx *a = NULL;
    assert_int_equal(arca_aead_ctx_new(&a), 0);
    uint8_t key[32] = {7}, nonce[ARCA_AEAD_NONCE_LEN] = {1}, tag[ARCA_AEAD_TAG_LEN];
    uint8_t buf[64];
    memset(buf, 0x5a, sizeof(buf));
    assert_int_equal(arca_aead_ctx_seal(a, nonce, NULL, 0, buf, sizeof(buf), buf, tag),
                     ARCA_ERR_INVALID_ARG);
    assert_int_equal(arca_aead_ctx_set_key(a, key), 0);
    assert_int_equal(arca_aead_ctx_seal(a, nonce, NULL, 0, buf, sizeof(buf), buf, tag), 0);

    /* A flipped ciphertext byte, a flipped tag byte, a wrong nonce, another key: refused, and
     * the output holds no unauthenticated plaintext. */
    uint8_t out[64], bad[64], zero[64] = {0};
    memcpy(bad, buf, sizeof(bad));
    bad[10] ^= 1;
    assert_int_equal(arca_aead_ctx_open(a, nonce, NULL, 0, bad, sizeof(bad), tag, out),
                     ARCA_ERR_TAMPERED);
    assert_memory_equal(out, zero, sizeof(out));
    uint8_t badtag[ARCA_AEAD_TAG_LEN];
    memcpy(badtag, tag, sizeof(badtag));
    badtag[15] ^= 0x80;
    assert_int_equal(arca_aead_ctx_open(a, nonce, NULL, 0, buf, sizeof(buf), badtag, out),
                     ARCA_ERR_TAMPERED);
    uint8_t other[ARCA_AEAD_NONCE_LEN] = {2};
    assert_int_equal(arca_aead_ctx_open(a, other, NULL, 0, buf, sizeof(buf), tag, out),
                     ARCA_ERR_TAMPERED);
    uint8_t key2[32] = {8};
    assert_int_equal(arca_aead_ctx_set_key(a, key2), 0);
    assert_int_equal(arca_aead_ctx_open(a, nonce, NULL, 0, buf, sizeof(buf), tag, out),
                     ARCA_ERR_TAMPERED);
    /* The right key again: the context recovers after failures. */
    assert_int_equal(arca_aead_ctx_set_key(a, key), 0);
    assert_int_equal(arca_aead_ctx_open(a, nonce, NULL, 0, buf, sizeof(buf), tag, out), 0);
    uint8_t want[64];
    memset(want, 0x5a, sizeof(want));
    assert_memory_equal(out, want, sizeof(out));
    assert_int_equal(arca_aead_ctx_seal(a, nonce, "x", 0, NULL, 1, buf, tag), ARCA_ERR_INVALID_ARG);
    arca_aead_ctx_free(a);
    arca_aead_ctx_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_one_shot),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
