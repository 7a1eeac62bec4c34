/* Encryption to an X25519 key (crypto_box.c): round trip, another key, alterations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "crypto/crypto.h"
#include "test_util.h"

static const char msg[] = "name: s\nsecrets:\n  - name: pw\n    value: top-secret-42\n";

static void round_trip_and_refusals(void **st)
{
    (void)st;
    struct arca_key *a = NULL, *b = NULL;
    uint8_t pa[32], pb[32];
    test_x25519(1, &a, pa);
    test_x25519(2, &b, pb);
    struct arca_buf box, pt;
    arca_buf_init(&box, 0);
    arca_buf_init_secret(&pt, 0);
    assert_int_equal(arca_box_seal(pa, msg, strlen(msg), &box), 0);
    assert_int_equal(box.len, 8 + 32 + 12 + strlen(msg) + 16);
    assert_null(memmem(box.data, box.len, "top-secret-42", 13));
    assert_int_equal(arca_box_open(a, box.data, box.len, &pt), 0);
    assert_int_equal(pt.len, strlen(msg));
    assert_memory_equal(pt.data, msg, pt.len);
    /* Another arcad's key: refused, nothing appended. */
    arca_buf_reset(&pt);
    assert_err(arca_box_open(b, box.data, box.len, &pt), ARCA_ERR_TAMPERED, "not encrypted to");
    assert_int_equal(pt.len, 0);
    /* Every byte matters: header, ephemeral key, nonce, ciphertext, tag. */
    size_t at[] = {9, 8 + 5, 8 + 32 + 3, 8 + 32 + 12 + 1, box.len - 1};
    for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
        box.data[at[i]] ^= 1;
        assert_true(arca_box_open(a, box.data, box.len, &pt) < 0);
        assert_int_equal(pt.len, 0);
        box.data[at[i]] ^= 1;
    }
    box.data[0] ^= 1;
    assert_err(arca_box_open(a, box.data, box.len, &pt), ARCA_ERR_FORMAT, "ARCAENC1");
    box.data[0] ^= 1;
    assert_err(arca_box_open(a, box.data, 60, &pt), ARCA_ERR_TRUNCATED, "shorter");
    /* The same message twice: different boxes (fresh ephemeral key and nonce). */
    struct arca_buf box2;
    arca_buf_init(&box2, 0);
    assert_int_equal(arca_box_seal(pa, msg, strlen(msg), &box2), 0);
    assert_memory_not_equal(box.data, box2.data, box.len);
    arca_buf_free(&box2);
    arca_buf_free(&box);
    arca_buf_free(&pt);
    arca_key_free(a);
    arca_key_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(round_trip_and_refusals)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
