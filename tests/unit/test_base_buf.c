/*
 * struct arca_buf and struct arca_cur: limits, no change on failure, NUL termination, secret
 * buffers, integer encodings, framing, steal; cursor bounds and endianness.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/err.h"

static void test_put_and_limits(void **state)
{
    (void)state;
    struct arca_buf b;
    arca_buf_init(&b, 8);
    assert_string_equal(arca_buf_cstr(&b), "");
    assert_int_equal(arca_buf_put_str(&b, "abcd"), 0);
    assert_int_equal(arca_buf_put(&b, "efgh", 4), 0);
    assert_int_equal(b.len, 8);
    assert_string_equal(arca_buf_cstr(&b), "abcdefgh");
    assert_int_equal(arca_buf_put_u8(&b, 'x'), ARCA_ERR_TOO_LARGE);
    assert_non_null(strstr(arca_err_detail(), "8 bytes"));
    assert_int_equal(b.len, 8);
    assert_int_equal(arca_buf_printf(&b, "%d", 1), ARCA_ERR_TOO_LARGE);
    assert_int_equal(arca_buf_put_lv(&b, "", 0), ARCA_ERR_TOO_LARGE);
    assert_int_equal(b.len, 8);
    assert_string_equal(arca_buf_cstr(&b), "abcdefgh");
    assert_int_equal(arca_buf_reserve(&b, SIZE_MAX), ARCA_ERR_TOO_LARGE);
    arca_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(arca_buf_cstr(&b), "");
    assert_int_equal(arca_buf_printf(&b, "%s=%03d", "k", 7), 0);
    assert_string_equal(arca_buf_cstr(&b), "k=007");
    arca_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.max, 8); /* same max after free */
    /* Default maximum and growth over many appends. */
    arca_buf_init(&b, 0);
    assert_int_equal(b.max, ARCA_BUF_MAX_DEFAULT);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(arca_buf_put_u8(&b, (uint8_t)i), 0);
    assert_int_equal(b.len, 10000);
    assert_int_equal(b.data[9999], (uint8_t)9999);
    assert_int_equal(b.data[10000], 0);
    arca_buf_free(&b);
}

static void test_integers(void **state)
{
    (void)state;
    struct arca_buf b;
    arca_buf_init(&b, 0);
    assert_int_equal(arca_buf_put_u16be(&b, 0x0102), 0);
    assert_int_equal(arca_buf_put_u32be(&b, 0x03040506), 0);
    assert_int_equal(arca_buf_put_u64be(&b, 0x0708090a0b0c0d0eULL), 0);
    assert_int_equal(arca_buf_put_u16le(&b, 0x0102), 0);
    assert_int_equal(arca_buf_put_u32le(&b, 0x03040506), 0);
    static const uint8_t want[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 2, 1, 6, 5, 4, 3};
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.data, want, sizeof(want));
    struct arca_cur c;
    arca_cur_init(&c, b.data, b.len);
    uint16_t v16;
    uint32_t v32;
    uint64_t v64;
    assert_int_equal(arca_cur_get_u16be(&c, &v16), 0);
    assert_int_equal(v16, 0x0102);
    assert_int_equal(arca_cur_get_u32be(&c, &v32), 0);
    assert_int_equal(v32, 0x03040506);
    assert_int_equal(arca_cur_get_u64be(&c, &v64), 0);
    assert_int_equal(v64, 0x0708090a0b0c0d0eULL);
    assert_int_equal(arca_cur_get_u16le(&c, &v16), 0);
    assert_int_equal(v16, 0x0102);
    assert_int_equal(arca_cur_get_u32le(&c, &v32), 0);
    assert_int_equal(v32, 0x03040506);
    assert_true(arca_cur_done(&c));
    arca_cur_init(&c, want, 8);
    assert_int_equal(arca_cur_get_u64le(&c, &v64), 0);
    assert_int_equal(v64, 0x0807060504030201ULL);
    arca_buf_free(&b);
}

static void test_lv_and_steal(void **state)
{
    (void)state;
    struct arca_buf b;
    arca_buf_init(&b, 0);
    assert_int_equal(arca_buf_put_lv(&b, "abc", 3), 0);
    assert_int_equal(b.len, 7);
    assert_memory_equal(b.data, "\0\0\0\3abc", 7);
    char *s = NULL;
    size_t n = 0;
    assert_int_equal(arca_buf_steal(&b, &s, &n), 0);
    assert_int_equal(n, 7);
    assert_int_equal(s[7], 0);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    free(s);
    /* Stealing an empty buffer yields "". */
    assert_int_equal(arca_buf_steal(&b, &s, &n), 0);
    assert_int_equal(n, 0);
    assert_string_equal(s, "");
    free(s);
    arca_buf_free(&b);
}

static void test_secret(void **state)
{
    (void)state;
    struct arca_buf b;
    arca_buf_init_secret(&b, 0);
    assert_true(b.secret);
    assert_int_equal(arca_buf_put_str(&b, "hunter2"), 0);
    uint8_t *p = b.data;
    arca_buf_reset(&b);
    /* reset keeps the memory and wipes the old contents */
    assert_ptr_equal(b.data, p);
    for (int i = 0; i < 7; i++)
        assert_int_equal(p[i], 0);
    arca_buf_free(&b);
    assert_true(b.secret);
    char *s = strdup("secret");
    arca_wipe_free_str(s);
    arca_wipe_free_str(NULL);
    arca_wipe_free(NULL, 3);
    uint8_t x[4] = {1, 2, 3, 4};
    arca_wipe(x, sizeof(x));
    assert_memory_equal(x, "\0\0\0\0", 4);
}

static void test_cursor(void **state)
{
    (void)state;
    const uint8_t data[] = {1, 2, 3, 4, 5};
    struct arca_cur c, sub;
    arca_cur_init(&c, data, sizeof(data));
    assert_int_equal(arca_cur_left(&c), 5);
    uint8_t v;
    assert_int_equal(arca_cur_get_u8(&c, &v), 0);
    assert_int_equal(v, 1);
    uint32_t v32 = 7;
    assert_int_equal(arca_cur_get_u32le(&c, &v32), 0);
    assert_true(arca_cur_done(&c));
    /* Truncated: error, cursor unmoved, detail names the offset. */
    arca_cur_init(&c, data, sizeof(data));
    assert_int_equal(arca_cur_skip(&c, 3), 0);
    assert_int_equal(arca_cur_get_u32be(&c, &v32), ARCA_ERR_TRUNCATED);
    assert_non_null(strstr(arca_err_detail(), "offset 3"));
    assert_int_equal(c.off, 3);
    assert_int_equal(arca_cur_skip(&c, 3), ARCA_ERR_TRUNCATED);
    assert_int_equal(arca_cur_skip(&c, SIZE_MAX), ARCA_ERR_TRUNCATED);
    uint8_t two[2];
    assert_int_equal(arca_cur_get(&c, two, 2), 0);
    assert_memory_equal(two, "\4\5", 2);
    arca_cur_init(&c, data, sizeof(data));
    assert_int_equal(arca_cur_get_sub(&c, &sub, 2), 0);
    assert_int_equal(arca_cur_left(&sub), 2);
    assert_int_equal(arca_cur_get_sub(&sub, &c, 3), ARCA_ERR_TRUNCATED);
    const uint8_t *ptr = NULL;
    assert_int_equal(arca_cur_get_ptr(&sub, &ptr, 2), 0);
    assert_ptr_equal(ptr, data);
    /* A NULL cursor is empty. */
    arca_cur_init(&c, NULL, 10);
    assert_int_equal(arca_cur_left(&c), 0);
    assert_int_equal(arca_cur_get_u8(&c, &v), ARCA_ERR_TRUNCATED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_and_limits), cmocka_unit_test(test_integers),
        cmocka_unit_test(test_lv_and_steal),   cmocka_unit_test(test_secret),
        cmocka_unit_test(test_cursor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
