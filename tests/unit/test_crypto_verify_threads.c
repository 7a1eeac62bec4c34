/*
 * An EC key keeps a verify context per hash, made on its first verification and shared by all
 * threads that verify with the key (crypto_sign.c). Several threads start verifying with a
 * fresh key at once (racing to make the shared context), good and bad signatures alternate (a
 * state left in a shared context would turn one answer into the other), and a hash used for the
 * first time on a key already in use gets its own context.
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

#define THREADS 6
#define ROUNDS 150

struct shared {
    struct arca_key *pub; /* verifying key, shared by all threads */
    uint8_t msg[300];
    struct arca_buf sig256, sig384;
    int failures[THREADS];
};

struct worker {
    struct shared *s;
    int index;
};

static void *verify_loop(void *arg)
{
    struct worker *w = arg;
    struct shared *s = w->s;
    uint8_t bad[300];
    memcpy(bad, s->msg, sizeof(bad));
    bad[w->index] ^= 1;
    for (int i = 0; i < ROUNDS; i++) {
        const struct arca_buf *sig = (i + w->index) % 2 ? &s->sig256 : &s->sig384;
        enum arca_hash_alg alg = sig == &s->sig256 ? ARCA_SHA256 : ARCA_SHA384;
        if (arca_verify(s->pub, alg, s->msg, sizeof(s->msg), sig->data, sig->len) != 0)
            s->failures[w->index]++;
        if (arca_verify(s->pub, alg, bad, sizeof(bad), sig->data, sig->len) != ARCA_ERR_SIGNATURE)
            s->failures[w->index]++;
        /* The signature made with the other hash never verifies under this one. */
        enum arca_hash_alg other = alg == ARCA_SHA256 ? ARCA_SHA384 : ARCA_SHA256;
        if (arca_verify(s->pub, other, s->msg, sizeof(s->msg), sig->data, sig->len) !=
            ARCA_ERR_SIGNATURE)
            s->failures[w->index]++;
    }
    return NULL;
}

static void run(enum arca_key_type type)
{
    struct shared s;
    memset(&s, 0, sizeof(s));
    for (size_t i = 0; i < sizeof(s.msg); i++)
        s.msg[i] = (uint8_t)(i * 7);
    struct arca_key *k = NULL;
    assert_int_equal(arca_key_generate(type, &k), 0);
    arca_buf_init(&s.sig256, 0);
    arca_buf_init(&s.sig384, 0);
    assert_int_equal(arca_sign(k, ARCA_SHA256, s.msg, sizeof(s.msg), &s.sig256), 0);
    assert_int_equal(arca_sign(k, ARCA_SHA384, s.msg, sizeof(s.msg), &s.sig384), 0);
    /* A public-only copy that has never verified anything: the threads race to set it up. */
    struct arca_buf spki;
    arca_buf_init(&spki, 0);
    assert_int_equal(arca_key_spki_der(k, &spki), 0);
    assert_int_equal(arca_key_from_der(spki.data, spki.len, &s.pub), 0);

    pthread_t t[THREADS];
    struct worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){&s, i};
        assert_int_equal(pthread_create(&t[i], NULL, verify_loop, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(s.failures[i], 0);
    }
    /* A hash first used now, on a key whose other contexts exist. */
    struct arca_buf sig512;
    arca_buf_init(&sig512, 0);
    assert_int_equal(arca_sign(k, ARCA_SHA512, s.msg, sizeof(s.msg), &sig512), 0);
    assert_int_equal(arca_verify(s.pub, ARCA_SHA512, s.msg, sizeof(s.msg), sig512.data, sig512.len),
                     0);
    assert_int_equal(
        arca_verify(s.pub, ARCA_SHA512, s.msg, sizeof(s.msg) - 1, sig512.data, sig512.len),
        ARCA_ERR_SIGNATURE);
    /* The private key verifies its own signatures too (its own contexts). */
    assert_int_equal(arca_verify(k, ARCA_SHA256, s.msg, sizeof(s.msg), s.sig256.data, s.sig256.len),
                     0);
    arca_buf_free(&sig512);
    arca_buf_free(&spki);
    arca_buf_free(&s.sig256);
    arca_buf_free(&s.sig384);
    arca_key_free(s.pub);
    arca_key_free(k);
}

static void test_p256_shared_key(void **state)
{
    (void)state;
    run(ARCA_KEY_P256);
}

static void test_p384_shared_key(void **state)
{
    (void)state;
    run(ARCA_KEY_P384);
}

/* A key referenced twice keeps its contexts until the last reference goes. */
static void test_ref_outlives_first_free(void **state)
{
    (void)state;
    struct arca_key *k = NULL;
    uint8_t msg[32] = {1, 2, 3};
    struct arca_buf sig;
    arca_buf_init(&sig, 0);
    assert_int_equal(arca_key_generate(ARCA_KEY_P256, &k), 0);
    assert_int_equal(arca_sign(k, ARCA_SHA256, msg, sizeof(msg), &sig), 0);
    assert_int_equal(arca_verify(k, ARCA_SHA256, msg, sizeof(msg), sig.data, sig.len), 0);
    struct arca_key *k2 = arca_key_ref(k);
    arca_key_free(k);
    assert_int_equal(arca_verify(k2, ARCA_SHA256, msg, sizeof(msg), sig.data, sig.len), 0);
    arca_key_free(k2);
    arca_buf_free(&sig);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_p256_shared_key),
        cmocka_unit_test(test_p384_shared_key),
        cmocka_unit_test(test_ref_outlives_first_free),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
