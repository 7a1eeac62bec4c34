/* Throttles and rate limiters: delays double, lockout and its end, success forgets, a full
 * table fails closed for throttles, buckets refill, the global bucket caps all keys. Time is a
 * parameter, so nothing sleeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "limits/limits.h"

#define K(s) (s), strlen(s)

static struct arca_throttle *throttle(unsigned free_f, unsigned lock_f, size_t cap)
{
    struct arca_throttle_cfg c;
    arca_throttle_cfg_default(&c);
    c.free_failures = free_f;
    c.lockout_failures = lock_f;
    c.base_delay_ms = 1000;
    c.max_delay_ms = 8000;
    c.lockout_ms = 60000;
    c.forget_ms = 3600000;
    c.capacity = cap;
    struct arca_throttle *t = NULL;
    assert_int_equal(arca_throttle_new(&c, &t), 0);
    return t;
}

static void test_delays_double_then_lock(void **state)
{
    (void)state;
    struct arca_throttle *t = throttle(2, 7, 64);
    int64_t now = 1000000, wait = 0;
    bool locked = true, locked_now = true;
    for (int i = 0; i < 2; i++) { /* the free failures */
        assert_int_equal(arca_throttle_check(t, K("s/svc"), now, &wait, &locked), 0);
        assert_int_equal(arca_throttle_fail(t, K("s/svc"), now, &locked_now), 0);
        assert_false(locked_now);
    }
    assert_int_equal(arca_throttle_check(t, K("s/svc"), now, &wait, NULL), 0);
    int64_t expect[] = {1000, 2000, 4000, 8000}; /* doubling, capped at 8 s */
    for (int i = 0; i < 4; i++) {
        assert_int_equal(arca_throttle_fail(t, K("s/svc"), now, &locked_now), 0);
        assert_false(locked_now);
        assert_int_equal(arca_throttle_check(t, K("s/svc"), now, &wait, &locked), ARCA_ERR_LIMIT);
        assert_int_equal(wait, expect[i]);
        assert_false(locked);
        assert_non_null(strstr(arca_err_detail(), "slowed down"));
        assert_null(strstr(arca_err_detail(), "s/svc")); /* no key in the message */
        /* one ms before the end still waits; at the end it may try */
        assert_int_equal(arca_throttle_check(t, K("s/svc"), now + wait - 1, NULL, NULL),
                         ARCA_ERR_LIMIT);
        now += wait;
        assert_int_equal(arca_throttle_check(t, K("s/svc"), now, NULL, NULL), 0);
    }
    /* another key is unaffected */
    assert_int_equal(arca_throttle_check(t, K("s/other"), now, &wait, NULL), 0);
    /* the 7th failure locks out, once */
    assert_int_equal(arca_throttle_fail(t, K("s/svc"), now, &locked_now), 0);
    assert_true(locked_now);
    assert_int_equal(arca_throttle_check(t, K("s/svc"), now + 59999, &wait, &locked),
                     ARCA_ERR_LIMIT);
    assert_true(locked);
    assert_int_equal(wait, 1);
    assert_non_null(strstr(arca_err_detail(), "locked out"));
    now += 60000;
    assert_int_equal(arca_throttle_check(t, K("s/svc"), now, NULL, NULL), 0);
    /* a failure right after a lockout locks again, without a second "locked now" */
    assert_int_equal(arca_throttle_fail(t, K("s/svc"), now, &locked_now), 0);
    assert_false(locked_now);
    assert_int_equal(arca_throttle_check(t, K("s/svc"), now, NULL, &locked), ARCA_ERR_LIMIT);
    assert_true(locked);
    arca_throttle_free(t);
}

static void test_success_and_forget(void **state)
{
    (void)state;
    struct arca_throttle *t = throttle(0, 5, 64);
    int64_t now = 5000;
    assert_int_equal(arca_throttle_fail(t, K("a"), now, NULL), 0);
    assert_int_equal(arca_throttle_check(t, K("a"), now, NULL, NULL), ARCA_ERR_LIMIT);
    arca_throttle_success(t, K("a"));
    assert_int_equal(arca_throttle_check(t, K("a"), now, NULL, NULL), 0);
    /* history older than forget_ms starts over: the next failure is the first again */
    assert_int_equal(arca_throttle_fail(t, K("b"), now, NULL), 0);
    assert_int_equal(arca_throttle_fail(t, K("b"), now + 1000, NULL), 0);
    int64_t wait = 0;
    assert_int_equal(arca_throttle_check(t, K("b"), now + 1000, &wait, NULL), ARCA_ERR_LIMIT);
    assert_int_equal(wait, 2000);
    now += 1000 + 3600000;
    assert_int_equal(arca_throttle_fail(t, K("b"), now, NULL), 0);
    assert_int_equal(arca_throttle_check(t, K("b"), now, &wait, NULL), ARCA_ERR_LIMIT);
    assert_int_equal(wait, 1000);
    arca_throttle_free(t);
}

/* Capacity 8 = one probe window: the ninth key with active restrictions cannot get a slot and
 * is refused (fail closed), while restricted keys are never evicted by newcomers. */
static void test_full_table_fails_closed(void **state)
{
    (void)state;
    struct arca_throttle *t = throttle(0, 3, 8);
    char k[16];
    for (int i = 0; i < 8; i++) {
        snprintf(k, sizeof(k), "key%d", i);
        assert_int_equal(arca_throttle_fail(t, K(k), 100, NULL), 0);
    }
    assert_int_equal(arca_throttle_fail(t, K("newcomer"), 100, NULL), ARCA_ERR_LIMIT);
    for (int i = 0; i < 8; i++) {
        snprintf(k, sizeof(k), "key%d", i);
        assert_int_equal(arca_throttle_check(t, K(k), 100, NULL, NULL), ARCA_ERR_LIMIT);
    }
    /* once a restriction has ended and been forgotten, its slot can be reused */
    assert_int_equal(arca_throttle_fail(t, K("newcomer"), 100 + 3600000, NULL), 0);
    arca_throttle_free(t);
}

static void test_bad_config(void **state)
{
    (void)state;
    struct arca_throttle_cfg c;
    arca_throttle_cfg_default(&c);
    c.lockout_failures = c.free_failures;
    struct arca_throttle *t = NULL;
    assert_int_equal(arca_throttle_new(&c, &t), ARCA_ERR_INVALID_ARG);
    struct arca_ratelimit_cfg rc = {.per_key_rate = 0, .per_key_burst = 1, .capacity = 8};
    struct arca_ratelimit *r = NULL;
    assert_int_equal(arca_ratelimit_new(&rc, &r), ARCA_ERR_INVALID_ARG);
    assert_null(r);
}

static void test_ratelimit_buckets(void **state)
{
    (void)state;
    struct arca_ratelimit_cfg c = {
        .per_key_rate = 2, .per_key_burst = 3, .global_rate = 2, .global_burst = 4, .capacity = 64};
    struct arca_ratelimit *r = NULL;
    assert_int_equal(arca_ratelimit_new(&c, &r), 0);
    int64_t now = 0, wait = 0;
    for (int i = 0; i < 3; i++)
        assert_int_equal(arca_ratelimit_take(r, K("10.0.0.1"), now, &wait), 0);
    assert_int_equal(arca_ratelimit_take(r, K("10.0.0.1"), now, &wait), ARCA_ERR_LIMIT);
    assert_int_equal(wait, 500); /* 2 tokens/s */
    assert_non_null(strstr(arca_err_detail(), "too many requests"));
    now += 500;
    assert_int_equal(arca_ratelimit_take(r, K("10.0.0.1"), now, &wait), 0);
    /* global: 4 - 3 + 1 (refilled) - 1 = 1 left; one more key gets it, then it is empty */
    assert_int_equal(arca_ratelimit_take(r, K("10.0.0.2"), now, &wait), 0);
    assert_int_equal(arca_ratelimit_take(r, K("10.0.0.3"), now, &wait), ARCA_ERR_LIMIT);
    assert_int_equal(wait, 500); /* the global 2 tokens/s */
    now += 500;
    assert_int_equal(arca_ratelimit_take(r, K("10.0.0.3"), now, &wait), 0);
    arca_ratelimit_free(r);
}

/* Many distinct keys never grow the table: the least recently used bucket is replaced, and a
 * busy key keeps its (empty) bucket as long as it stays recent. */
static void test_ratelimit_churn(void **state)
{
    (void)state;
    struct arca_ratelimit_cfg c = {.per_key_rate = 1, .per_key_burst = 1, .capacity = 16};
    struct arca_ratelimit *r = NULL;
    assert_int_equal(arca_ratelimit_new(&c, &r), 0);
    char k[32];
    for (int i = 0; i < 100000; i++) {
        snprintf(k, sizeof(k), "127.0.%d.%d", i / 256, i % 256);
        assert_int_equal(arca_ratelimit_take(r, K(k), 0, NULL), 0);
    }
    assert_int_equal(arca_ratelimit_take(r, K("busy"), 10, NULL), 0);
    assert_int_equal(arca_ratelimit_take(r, K("busy"), 10, NULL), ARCA_ERR_LIMIT);
    arca_ratelimit_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delays_double_then_lock), cmocka_unit_test(test_success_and_forget),
        cmocka_unit_test(test_full_table_fails_closed), cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_ratelimit_buckets),       cmocka_unit_test(test_ratelimit_churn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
