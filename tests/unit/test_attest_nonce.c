/*
 * Challenge nonces used up in memory (attest/nonce.c): single use, expiry, another context
 * (a restarted arcad) does not accept them, the bound of the used set (refused, never
 * forgotten, room again once nonces expire), and single use under several threads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <string.h>

#include "attest/attest.h"
#include "base/err.h"

#define NOW 1800000000

static void issue(const struct arca_attest_ctx *ctx, int64_t now,
                  uint8_t nonce[ARCA_LAUNCH_NONCE_LEN])
{
    struct arca_challenge_answer a;
    assert_int_equal(arca_attest_challenge(ctx, now, &a), 0);
    memcpy(nonce, a.nonce, ARCA_LAUNCH_NONCE_LEN);
}

static void test_single_use_and_expiry(void **state)
{
    (void)state;
    struct arca_attest_ctx ctx = {0}, other = {0};
    assert_int_equal(arca_attest_ctx_init(&ctx, 60), 0);
    assert_int_equal(arca_attest_ctx_init(&other, 60), 0);
    uint8_t n1[ARCA_LAUNCH_NONCE_LEN], n2[ARCA_LAUNCH_NONCE_LEN];
    issue(&ctx, NOW, n1);
    issue(&ctx, NOW, n2);
    assert_int_equal(arca_attest_nonce_use(&ctx, n1, NOW + 1), 0);
    assert_int_equal(arca_attest_nonce_use(&ctx, n1, NOW + 2), ARCA_ERR_REPLAY);
    assert_non_null(strstr(arca_err_detail(), "used already"));
    /* Using one leaves the other usable. */
    assert_int_equal(arca_attest_nonce_use(&ctx, n2, NOW + 2), 0);
    /* A restarted arcad (new key, empty set) refuses it by its MAC, not by memory. */
    assert_int_equal(arca_attest_nonce_use(&other, n1, NOW + 2), ARCA_ERR_UNAUTHENTICATED);
    /* Expired: refused, used or not. */
    uint8_t n3[ARCA_LAUNCH_NONCE_LEN];
    issue(&ctx, NOW, n3);
    assert_int_equal(arca_attest_nonce_use(&ctx, n3, NOW + 60), ARCA_ERR_EXPIRED);
    assert_int_equal(arca_attest_nonce_use(&ctx, n1, NOW + 61), ARCA_ERR_EXPIRED);
    arca_attest_ctx_clear(&ctx);
    arca_attest_ctx_clear(&other);
    arca_attest_ctx_clear(&other); /* twice is fine */
}

static void test_bound(void **state)
{
    (void)state;
    struct arca_attest_ctx ctx = {0};
    assert_int_equal(arca_attest_ctx_init_max(&ctx, 10, 0), ARCA_ERR_INVALID_ARG);
    assert_int_equal(arca_attest_ctx_init_max(&ctx, 10, 4), 0);
    uint8_t n[6][ARCA_LAUNCH_NONCE_LEN];
    for (int i = 0; i < 6; i++)
        issue(&ctx, NOW + (i < 2 ? 0 : 5), n[i]); /* n0, n1 expire at NOW+10, the rest NOW+15 */
    for (int i = 0; i < 4; i++)
        assert_int_equal(arca_attest_nonce_use(&ctx, n[i], NOW + 6), 0);
    /* Full of unexpired nonces: new challenges and uses are refused, the used stay used. */
    struct arca_challenge_answer a;
    assert_int_equal(arca_attest_challenge(&ctx, NOW + 6, &a), ARCA_ERR_LIMIT);
    assert_int_equal(arca_attest_nonce_use(&ctx, n[4], NOW + 6), ARCA_ERR_LIMIT);
    for (int i = 0; i < 4; i++)
        assert_int_equal(arca_attest_nonce_use(&ctx, n[i], NOW + 7), ARCA_ERR_REPLAY);
    /* Once n0 and n1 expire there is room for two, and the other two are still used. */
    assert_int_equal(arca_attest_challenge(&ctx, NOW + 10, &a), 0);
    assert_int_equal(arca_attest_nonce_use(&ctx, n[4], NOW + 10), 0);
    assert_int_equal(arca_attest_nonce_use(&ctx, n[5], NOW + 10), 0);
    assert_int_equal(arca_attest_nonce_use(&ctx, n[2], NOW + 10), ARCA_ERR_REPLAY);
    assert_int_equal(arca_attest_nonce_use(&ctx, n[5], NOW + 11), ARCA_ERR_REPLAY);
    assert_int_equal(arca_attest_challenge(&ctx, NOW + 11, &a), ARCA_ERR_LIMIT);
    arca_attest_ctx_clear(&ctx);
}

#define THREADS 8
#define NONCES 200

struct race {
    struct arca_attest_ctx *ctx;
    uint8_t (*n)[ARCA_LAUNCH_NONCE_LEN];
    int ok;
};

static void *racer(void *arg)
{
    struct race *r = arg;
    for (int i = 0; i < NONCES; i++)
        if (arca_attest_nonce_use(r->ctx, r->n[i], NOW + 1) == 0)
            r->ok++;
    return NULL;
}

/* Every thread tries every nonce: each is accepted exactly once in all. */
static void test_threads(void **state)
{
    (void)state;
    struct arca_attest_ctx ctx = {0};
    assert_int_equal(arca_attest_ctx_init_max(&ctx, 60, NONCES), 0);
    static uint8_t n[NONCES][ARCA_LAUNCH_NONCE_LEN];
    for (int i = 0; i < NONCES; i++)
        issue(&ctx, NOW, n[i]);
    pthread_t t[THREADS];
    struct race r[THREADS];
    for (int i = 0; i < THREADS; i++) {
        r[i] = (struct race){.ctx = &ctx, .n = n};
        assert_int_equal(pthread_create(&t[i], NULL, racer, &r[i]), 0);
    }
    int total = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        total += r[i].ok;
    }
    assert_int_equal(total, NONCES);
    arca_attest_ctx_clear(&ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_use_and_expiry),
        cmocka_unit_test(test_bound),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
