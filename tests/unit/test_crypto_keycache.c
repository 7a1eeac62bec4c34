/*
 * The public-key cache (crypto.h arca_key_cache_*): a hit hands out the same parsed key, other
 * bytes miss, the oldest entry is replaced when full (its key stays valid for a holder), a
 * private key is refused, and threads sharing a small cache (constant replacement) verify
 * correctly with every reference they get.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/err.h"
#include "crypto/crypto.h"

#define KEYS 3
#define THREADS 4
#define ROUNDS 300

struct fx {
    struct arca_key *priv[KEYS];
    struct arca_buf spki[KEYS], sig[KEYS];
    uint8_t msg[64];
};

static int setup(void **state)
{
    static struct fx f;
    memset(&f, 0, sizeof(f));
    memset(f.msg, 0x5a, sizeof(f.msg));
    for (int i = 0; i < KEYS; i++) {
        assert_int_equal(arca_key_generate(i == 2 ? ARCA_KEY_ED25519 : ARCA_KEY_P256, &f.priv[i]),
                         0);
        arca_buf_init(&f.spki[i], 128);
        arca_buf_init(&f.sig[i], 128);
        assert_int_equal(arca_key_spki_der(f.priv[i], &f.spki[i]), 0);
        assert_int_equal(arca_sign(f.priv[i], ARCA_SHA256, f.msg, sizeof(f.msg), &f.sig[i]), 0);
    }
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < KEYS; i++) {
        arca_key_free(f->priv[i]);
        arca_buf_free(&f->spki[i]);
        arca_buf_free(&f->sig[i]);
    }
    return 0;
}

static void test_hit_miss_replace(void **state)
{
    struct fx *f = *state;
    struct arca_key_cache *c = NULL;
    assert_int_equal(arca_key_cache_new(2, &c), 0);
    struct arca_key *a = NULL, *b = NULL, *c0 = NULL, *d = NULL;
    assert_int_equal(arca_key_cache_get(c, f->spki[0].data, f->spki[0].len, &a), 0);
    assert_int_equal(arca_key_cache_get(c, f->spki[0].data, f->spki[0].len, &b), 0);
    assert_ptr_equal(a, b); /* a hit: the same parsed key */
    assert_false(arca_key_has_private(a));
    assert_int_equal(arca_key_cache_get(c, f->spki[1].data, f->spki[1].len, &c0), 0);
    assert_ptr_not_equal(a, c0);
    /* full: key 2 replaces the oldest (key 0); the references held stay valid */
    assert_int_equal(arca_key_cache_get(c, f->spki[2].data, f->spki[2].len, &d), 0);
    assert_int_equal(
        arca_verify(a, ARCA_SHA256, f->msg, sizeof(f->msg), f->sig[0].data, f->sig[0].len), 0);
    struct arca_key *again = NULL;
    assert_int_equal(arca_key_cache_get(c, f->spki[0].data, f->spki[0].len, &again), 0);
    assert_ptr_not_equal(again, a); /* parsed anew after its replacement */
    arca_key_cache_put(c, again);
    arca_key_cache_put(c, a);
    arca_key_cache_put(c, b);
    arca_key_cache_put(c, c0);
    arca_key_cache_put(c, d);
    arca_key_cache_free(c);
}

static void test_refusals(void **state)
{
    struct fx *f = *state;
    struct arca_key_cache *c = NULL;
    assert_int_equal(arca_key_cache_new(0, &c), ARCA_ERR_INVALID_ARG);
    assert_int_equal(arca_key_cache_new(65537, &c), ARCA_ERR_INVALID_ARG);
    assert_int_equal(arca_key_cache_new(4, &c), 0);
    struct arca_buf der;
    arca_buf_init(&der, 256);
    assert_int_equal(arca_key_private_der(f->priv[0], &der), 0);
    struct arca_key *k = (struct arca_key *)1;
    assert_int_equal(arca_key_cache_get(c, der.data, der.len, &k), ARCA_ERR_FORMAT);
    assert_null(k);
    assert_true(strstr(arca_err_detail(), "private key") != NULL);
    uint8_t junk[40] = {0x30, 0x26};
    assert_true(arca_key_cache_get(c, junk, sizeof(junk), &k) < 0);
    assert_null(k);
    assert_int_equal(arca_key_cache_get(c, NULL, 0, &k), ARCA_ERR_INVALID_ARG);
    /* no cache: parsed each time */
    struct arca_key *x = NULL, *y = NULL;
    assert_int_equal(arca_key_cache_get(NULL, f->spki[1].data, f->spki[1].len, &x), 0);
    assert_int_equal(arca_key_cache_get(NULL, f->spki[1].data, f->spki[1].len, &y), 0);
    assert_ptr_not_equal(x, y);
    arca_key_cache_put(NULL, x);
    arca_key_cache_put(NULL, y);
    arca_buf_free(&der);
    arca_key_cache_free(c);
    arca_key_cache_free(NULL);
}

struct worker {
    struct fx *f;
    struct arca_key_cache *c;
    int index, failures;
};

static void *loop(void *arg)
{
    struct worker *w = arg;
    struct fx *f = w->f;
    for (int i = 0; i < ROUNDS; i++) {
        int j = (i + w->index) % KEYS;
        struct arca_key *k = NULL;
        if (arca_key_cache_get(w->c, f->spki[j].data, f->spki[j].len, &k) != 0) {
            w->failures++;
            continue;
        }
        enum arca_hash_alg alg = ARCA_SHA256; /* ignored for Ed25519 */
        if (arca_verify(k, alg, f->msg, sizeof(f->msg), f->sig[j].data, f->sig[j].len) != 0)
            w->failures++;
        int other = (j + 1) % KEYS; /* another key's signature never verifies */
        if (arca_verify(k, alg, f->msg, sizeof(f->msg), f->sig[other].data, f->sig[other].len) == 0)
            w->failures++;
        arca_key_cache_put(w->c, k);
    }
    return NULL;
}

static void test_threads(void **state)
{
    struct fx *f = *state;
    struct arca_key_cache *c = NULL;
    assert_int_equal(arca_key_cache_new(2, &c), 0); /* fewer slots than keys: constant churn */
    pthread_t t[THREADS];
    struct worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.f = f, .c = c, .index = i};
        assert_int_equal(pthread_create(&t[i], NULL, loop, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(w[i].failures, 0);
    }
    arca_key_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_miss_replace),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
