/*
 * Encodings: RFC 4648 §10 test vectors for hex (base16), base64 and base32, base64url,
 * round trips over all byte values, and negative cases for every decoder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/enc.h"
#include "base/err.h"

static const char *const rfc_in[7] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};

static void check_str(const struct arca_buf *b, const char *want)
{
    assert_int_equal(b->len, strlen(want));
    assert_memory_equal(arca_buf_cstr(b), want, strlen(want));
    assert_int_equal(arca_buf_cstr(b)[b->len], 0);
}

static void test_rfc4648_base64(void **state)
{
    (void)state;
    static const char *const want[7] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                        "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        struct arca_buf b, d;
        arca_buf_init(&b, 0);
        arca_buf_init(&d, 0);
        assert_int_equal(arca_base64_encode(&b, rfc_in[i], strlen(rfc_in[i])), 0);
        check_str(&b, want[i]);
        assert_int_equal(arca_base64_decode(&d, want[i], strlen(want[i])), 0);
        check_str(&d, rfc_in[i]);
        arca_buf_free(&b);
        arca_buf_free(&d);
    }
}

static void test_rfc4648_base32(void **state)
{
    (void)state;
    static const char *const want[7] = {
        "", "MY======", "MZXQ====", "MZXW6===", "MZXW6YQ=", "MZXW6YTB", "MZXW6YTBOI======"};
    for (int i = 0; i < 7; i++) {
        struct arca_buf b, d, u, l;
        arca_buf_init(&b, 0);
        arca_buf_init(&d, 0);
        arca_buf_init(&u, 0);
        arca_buf_init(&l, 0);
        assert_int_equal(arca_base32_encode(&b, rfc_in[i], strlen(rfc_in[i]), true), 0);
        check_str(&b, want[i]);
        assert_int_equal(arca_base32_decode(&d, want[i], strlen(want[i])), 0);
        check_str(&d, rfc_in[i]);
        /* Unpadded form: encode without padding and decode it back. */
        assert_int_equal(arca_base32_encode(&u, rfc_in[i], strlen(rfc_in[i]), false), 0);
        assert_null(memchr(arca_buf_cstr(&u), '=', u.len));
        assert_int_equal(arca_base32_decode(&l, arca_buf_cstr(&u), u.len), 0);
        check_str(&l, rfc_in[i]);
        arca_buf_free(&b);
        arca_buf_free(&d);
        arca_buf_free(&u);
        arca_buf_free(&l);
    }
    /* Lower case is accepted. */
    struct arca_buf d;
    arca_buf_init(&d, 0);
    assert_int_equal(arca_base32_decode(&d, "mzxw6ytboi", 10), 0);
    check_str(&d, "foobar");
    arca_buf_free(&d);
}

static void test_rfc4648_hex(void **state)
{
    (void)state;
    static const char *const want[7] = {"",         "66",         "666F",        "666F6F",
                                        "666F6F62", "666F6F6261", "666F6F626172"};
    for (int i = 0; i < 7; i++) {
        struct arca_buf b, d;
        arca_buf_init(&b, 0);
        arca_buf_init(&d, 0);
        assert_int_equal(arca_hex_encode(&b, rfc_in[i], strlen(rfc_in[i])), 0);
        /* arca writes lower case; the RFC shows upper case. */
        assert_int_equal(b.len, strlen(want[i]));
        assert_int_equal(strcasecmp(arca_buf_cstr(&b), want[i]), 0);
        for (size_t j = 0; j < b.len; j++)
            assert_false(b.data[j] >= 'A' && b.data[j] <= 'F');
        assert_int_equal(arca_hex_decode(&d, want[i], strlen(want[i])), 0);
        check_str(&d, rfc_in[i]);
        char fmt[16];
        arca_hex_fmt(fmt, rfc_in[i], strlen(rfc_in[i]));
        assert_string_equal(fmt, arca_buf_cstr(&b));
        arca_buf_free(&b);
        arca_buf_free(&d);
    }
}

static void test_hex_fixed(void **state)
{
    (void)state;
    uint8_t out[4] = {9, 9, 9, 9};
    assert_int_equal(arca_hex_decode_fixed(out, 4, "DEADbeef", 8), 0);
    assert_memory_equal(out, "\xde\xad\xbe\xef", 4);
    uint8_t keep[4] = {1, 2, 3, 4};
    assert_int_equal(arca_hex_decode_fixed(keep, 4, "deadbe", 6), ARCA_ERR_FORMAT);
    assert_int_equal(arca_hex_decode_fixed(keep, 4, "deadbeefaa", 10), ARCA_ERR_FORMAT);
    assert_int_equal(arca_hex_decode_fixed(keep, 4, "deadbeeg", 8), ARCA_ERR_FORMAT);
    assert_non_null(strstr(arca_err_detail(), "offset 7"));
    assert_memory_equal(keep, "\x01\x02\x03\x04", 4); /* untouched on failure */
    /* A large fixed size takes the no-scratch path. */
    uint8_t big[300];
    char hex[601];
    memset(hex, 'a', 600);
    hex[600] = 0;
    assert_int_equal(arca_hex_decode_fixed(big, 300, hex, 600), 0);
    assert_int_equal(big[299], 0xaa);
    hex[599] = 'z';
    assert_int_equal(arca_hex_decode_fixed(big, 300, hex, 600), ARCA_ERR_FORMAT);
}

static void test_base64url(void **state)
{
    (void)state;
    const uint8_t in[] = {0xfb, 0xff, 0xbf, 0x00, 0x3e};
    struct arca_buf b, d;
    arca_buf_init(&b, 0);
    arca_buf_init(&d, 0);
    assert_int_equal(arca_base64url_encode(&b, in, sizeof(in)), 0);
    check_str(&b, "-_-_AD4");
    assert_int_equal(arca_base64url_decode(&d, "-_-_AD4", 7), 0);
    assert_int_equal(d.len, sizeof(in));
    assert_memory_equal(d.data, in, sizeof(in));
    arca_buf_reset(&d);
    /* Standard-alphabet characters, padding and impossible lengths are refused. */
    assert_int_equal(arca_base64url_decode(&d, "+/+/AD4", 7), ARCA_ERR_FORMAT);
    assert_int_equal(arca_base64url_decode(&d, "-_-_AD4=", 8), ARCA_ERR_FORMAT);
    assert_int_equal(arca_base64url_decode(&d, "AAAAA", 5), ARCA_ERR_FORMAT);
    assert_int_equal(d.len, 0);
    arca_buf_free(&b);
    arca_buf_free(&d);
}

static void test_roundtrip_all_bytes(void **state)
{
    (void)state;
    uint8_t all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    for (size_t n = 0; n <= sizeof(all); n += 17) {
        struct arca_buf e, d;
        for (int kind = 0; kind < 5; kind++) {
            arca_buf_init(&e, 0);
            arca_buf_init(&d, 0);
            switch (kind) {
            case 0:
                assert_int_equal(arca_hex_encode(&e, all, n), 0);
                assert_int_equal(arca_hex_decode(&d, arca_buf_cstr(&e), e.len), 0);
                break;
            case 1:
                assert_int_equal(arca_base64_encode(&e, all, n), 0);
                assert_int_equal(arca_base64_decode(&d, arca_buf_cstr(&e), e.len), 0);
                break;
            case 2:
                assert_int_equal(arca_base64url_encode(&e, all, n), 0);
                assert_int_equal(arca_base64url_decode(&d, arca_buf_cstr(&e), e.len), 0);
                break;
            case 3:
                assert_int_equal(arca_base32_encode(&e, all, n, true), 0);
                assert_int_equal(arca_base32_decode(&d, arca_buf_cstr(&e), e.len), 0);
                break;
            default:
                assert_int_equal(arca_base32_encode(&e, all, n, false), 0);
                assert_int_equal(arca_base32_decode(&d, arca_buf_cstr(&e), e.len), 0);
                break;
            }
            assert_int_equal(d.len, n);
            if (n > 0)
                assert_memory_equal(d.data, all, n);
            arca_buf_free(&e);
            arca_buf_free(&d);
        }
    }
}

/* Every failing decode must leave the previous contents in place. */
static void expect_bad(int (*dec)(struct arca_buf *, const char *, size_t), const char *s,
                       const char *detail_part)
{
    struct arca_buf d;
    arca_buf_init_secret(&d, 0);
    assert_int_equal(arca_buf_put_str(&d, "keep"), 0);
    arca_err_clear();
    int rc = dec(&d, s, strlen(s));
    if (rc != ARCA_ERR_FORMAT)
        fail_msg("decoding '%s' gave %d, want ARCA_ERR_FORMAT", s, rc);
    assert_int_equal(d.len, 4);
    assert_string_equal(arca_buf_cstr(&d), "keep");
    if (detail_part != NULL && strstr(arca_err_detail(), detail_part) == NULL)
        fail_msg("detail '%s' lacks '%s'", arca_err_detail(), detail_part);
    arca_buf_free(&d);
}

static void test_negative(void **state)
{
    (void)state;
    /* hex: odd length, bad alphabet (offset named) */
    expect_bad(arca_hex_decode, "abc", "odd length");
    expect_bad(arca_hex_decode, "ab0g", "offset 3");
    expect_bad(arca_hex_decode, "  ab", "offset 0");
    /* base64: bad length, bad alphabet, misplaced padding, non-zero trailing bits, url chars */
    expect_bad(arca_base64_decode, "Zm9", "multiple of 4");
    expect_bad(arca_base64_decode, "Zm9v!A==", "offset 4");
    expect_bad(arca_base64_decode, "Zg=a", "offset 2");
    expect_bad(arca_base64_decode, "Z===", NULL);
    expect_bad(arca_base64_decode, "====", NULL);
    expect_bad(arca_base64_decode, "Zh==", "trailing bits");
    expect_bad(arca_base64_decode, "Zm9=", "trailing bits");
    expect_bad(arca_base64_decode, "-_-_", "offset 0");
    expect_bad(arca_base64_decode, "Zm9v\nZm9v", NULL);
    expect_bad(arca_base64url_decode, "Zh", "trailing bits");
    /* base32: bad alphabet, digits 0/1/8/9, bad padding, impossible lengths, trailing bits */
    expect_bad(arca_base32_decode, "MZXW6YT0", "offset 7");
    expect_bad(arca_base32_decode, "MZXW6YT1", "offset 7");
    expect_bad(arca_base32_decode, "MY=====", "multiple of 8");
    expect_bad(arca_base32_decode, "M=======", NULL);
    expect_bad(arca_base32_decode, "MZX=====", "impossible length");
    expect_bad(arca_base32_decode, "MZ======", "trailing bits");
    expect_bad(arca_base32_decode, "MY=A====", "offset 2");
    expect_bad(arca_base32_decode, "========", "too much padding");
    expect_bad(arca_base32_decode, "MZXW6YTBO", "impossible length");
}

static void test_limits(void **state)
{
    (void)state;
    struct arca_buf b;
    arca_buf_init(&b, 7);
    assert_int_equal(arca_base64_encode(&b, "foobar", 6), ARCA_ERR_TOO_LARGE);
    assert_int_equal(b.len, 0);
    assert_int_equal(arca_hex_decode(&b, "00112233445566778899", 20), ARCA_ERR_TOO_LARGE);
    assert_int_equal(arca_base64_encode(&b, "foo", 3), 0);
    arca_buf_free(&b);
    assert_int_equal(arca_hex_encode(NULL, "x", 1), ARCA_ERR_INVALID_ARG);
    arca_buf_init(&b, 0);
    assert_int_equal(arca_base64_decode(&b, NULL, 4), ARCA_ERR_INVALID_ARG);
    assert_int_equal(arca_base64_decode(&b, NULL, 0), 0);
    assert_int_equal(b.len, 0);
    arca_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4648_base64), cmocka_unit_test(test_rfc4648_base32),
        cmocka_unit_test(test_rfc4648_hex),    cmocka_unit_test(test_hex_fixed),
        cmocka_unit_test(test_base64url),      cmocka_unit_test(test_roundtrip_all_bytes),
        cmocka_unit_test(test_negative),       cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
