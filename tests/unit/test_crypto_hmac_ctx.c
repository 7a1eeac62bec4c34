/*
 * The keyed HMAC context (arca_hmac_ctx_*) gives the one-shot arca_hmac's answers, MAC after MAC
 * (a message left over from the previous MAC would change the output): RFC 4231 case 2, then
 * messages of several lengths (empty included) against arca_hmac.
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

static void test_hmac_ctx_matches(void **state)
{
    (void)state;
    struct arca_hmac_ctx *h = NULL;
    assert_int_equal(arca_hmac_ctx_new(ARCA_SHA256, "Jefe", 4, &h), 0);
    uint8_t got[32], want[32], msg[300];
    char hex[65];
    for (int round = 0; round < 2; round++) {
        assert_int_equal(arca_hmac_ctx_mac(h, "what do ya want for nothing?", 28, got), 0);
        arca_hex_fmt(hex, got, 32);
        assert_string_equal(hex,
                            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        for (size_t n = 0; n < sizeof(msg); n += 37) {
            for (size_t i = 0; i < n; i++)
                msg[i] = (uint8_t)(i * 7 + n);
            assert_int_equal(arca_hmac_ctx_mac(h, msg, n, got), 0);
            assert_int_equal(arca_hmac(ARCA_SHA256, "Jefe", 4, msg, n, want), 0);
            assert_memory_equal(got, want, 32);
        }
    }
    arca_hmac_ctx_free(h);
    arca_hmac_ctx_free(NULL);
    assert_int_equal(arca_hmac_ctx_new(ARCA_SHA256, NULL, 0, &h), ARCA_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hmac_ctx_matches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
