/* The audit checkpoint record: the format of arcad before the audit prefix still loads, the
 * prefix fields round-trip through the codec and the store, and bad lengths are named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/err.h"
#include "store/record.h"
#include "store_fixture.h"

/* A checkpoint record as main wrote it: u8 table | u8 format | lv key | u64 seq | i64 time |
 * lv sig. */
static void old_record(struct arca_buf *b)
{
    assert_int_equal(arca_buf_put_u8(b, ARCA_ST_CHECKPOINT), 0);
    assert_int_equal(arca_buf_put_u8(b, ARCA_STORE_RECORD_FORMAT), 0);
    assert_int_equal(arca_buf_put_lv(b, "latest", 6), 0);
    assert_int_equal(arca_buf_put_u64be(b, 42), 0);
    assert_int_equal(arca_buf_put_u64be(b, 1700000000), 0);
    assert_int_equal(arca_buf_put_lv(b, "SIG", 3), 0);
}

static void test_codec(void **state)
{
    (void)state;
    struct arca_buf b;
    arca_buf_init(&b, 0);
    old_record(&b);
    struct arca_store_record r;
    assert_int_equal(arca_store_record_decode(b.data, b.len, &r), 0);
    assert_int_equal(r.seq, 42);
    assert_int_equal(r.data_len, 3);
    assert_int_equal(r.prefix_len, 0);
    /* it re-encodes to the same bytes: no prefix fields appear */
    struct arca_buf again;
    arca_buf_init(&again, 0);
    assert_int_equal(arca_store_record_encode(&r, &again), 0);
    assert_int_equal(again.len, b.len);
    assert_memory_equal(again.data, b.data, b.len);

    /* with the prefix */
    uint8_t h[32];
    for (int i = 0; i < 32; i++)
        h[i] = (uint8_t)(i + 1);
    r.prefix_len = 12345;
    r.hash = h;
    arca_buf_reset(&again);
    assert_int_equal(arca_store_record_encode(&r, &again), 0);
    assert_int_equal(again.len, b.len + 40);
    struct arca_store_record r2;
    assert_int_equal(arca_store_record_decode(again.data, again.len, &r2), 0);
    assert_int_equal(r2.seq, 42);
    assert_int_equal(r2.prefix_len, 12345);
    assert_memory_equal(r2.hash, h, 32);

    /* trailing bytes that are not exactly a prefix: named */
    static const size_t bad[] = {1, 8, 39, 41, 80};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct arca_buf t;
        arca_buf_init(&t, 0);
        old_record(&t);
        for (size_t j = 0; j < bad[i]; j++)
            assert_int_equal(arca_buf_put_u8(&t, 7), 0);
        assert_int_equal(arca_store_record_decode(t.data, t.len, &r2), ARCA_ERR_FORMAT);
        assert_non_null(strstr(arca_err_detail(), "checkpoint audit prefix of"));
        arca_buf_free(&t);
    }
    /* a prefix of length 0 is not how "none" is written */
    arca_buf_reset(&again);
    old_record(&again);
    assert_int_equal(arca_buf_put_u64be(&again, 0), 0);
    assert_int_equal(arca_buf_put(&again, h, 32), 0);
    assert_int_equal(arca_store_record_decode(again.data, again.len, &r2), ARCA_ERR_FORMAT);
    assert_non_null(strstr(arca_err_detail(), "length 0"));
    arca_buf_free(&again);
    arca_buf_free(&b);
}

/* Through the store: the latest checkpoint keeps the prefix, a record without it loads with
 * prefix_len 0, and the history list and its prefix-less entries keep working. */
static void test_store(void **state)
{
    struct fx *f = *state;
    struct arca_store *s = f->s;
    struct arca_store_checkpoint cp, hist, got;
    memset(&cp, 0, sizeof(cp));
    cp.seq = 500;
    cp.time = 9;
    cp.sig_len = 2;
    cp.sig[0] = 0xAA;
    cp.prefix_len = 77777;
    memset(cp.prefix_sha256, 0x5c, sizeof(cp.prefix_sha256));
    memset(&hist, 0, sizeof(hist));
    hist.seq = 250;
    hist.sig_len = 1;
    assert_int_equal(arca_store_checkpoint_put_pair(s, &cp, &hist), 0);
    assert_int_equal(arca_store_checkpoint_latest(s, &got), 0);
    assert_int_equal(got.seq, 500);
    assert_int_equal(got.prefix_len, 77777);
    assert_memory_equal(got.prefix_sha256, cp.prefix_sha256, 32);
    struct arca_store_checkpoint *list = NULL;
    size_t n = 0;
    assert_int_equal(arca_store_checkpoint_list(s, 10, &list, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(list[0].seq, 250);
    assert_int_equal(list[0].prefix_len, 0);
    free(list);
    /* reopened from disk */
    reopen(f);
    s = f->s;
    assert_int_equal(arca_store_checkpoint_latest(s, &got), 0);
    assert_int_equal(got.prefix_len, 77777);
    cp.prefix_len = 0;
    assert_int_equal(arca_store_checkpoint_put(s, &cp, false), 0);
    assert_int_equal(arca_store_checkpoint_latest(s, &got), 0);
    assert_int_equal(got.seq, 500);
    assert_int_equal(got.prefix_len, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec),
        cmocka_unit_test_setup_teardown(test_store, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
