/* The parsed-session cache: hits, a new version (hash) or another name misses, bounds by count
 * and bytes with least-recently-used eviction, references outliving eviction, the redacted
 * text kept once, memos (kept once, only under their key, bounded by size), and many threads
 * sharing one small cache. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "base/err.h"
#include "policy/session_cache.h"

#define SECRET "cache-secret-8d41f0"

static char YAML[4][256];
static size_t LEN[4];
static uint8_t HASH[4][32];

static int setup(void **state)
{
    (void)state;
    for (int i = 0; i < 4; i++) {
        LEN[i] = (size_t)snprintf(YAML[i], sizeof(YAML[i]),
                                  "name: s\nversion: \"0.3\"\nsecrets:\n  - name: k%d\n"
                                  "    kind: ascii\n    value: \"" SECRET "\"\n",
                                  i);
        memset(HASH[i], 0x10 + i, 32);
    }
    return 0;
}

static struct arca_cached_session *get(struct arca_session_cache *c, const char *name, int i)
{
    struct arca_cached_session *r = NULL;
    if (arca_session_cache_get(c, name, HASH[i], YAML[i], LEN[i], &r) != 0)
        fail_msg("get %s/%d: %s", name, i, arca_err_detail());
    assert_non_null(arca_cached_session_model(r));
    return r;
}

static void stats(struct arca_session_cache *c, size_t count, uint64_t hits, uint64_t misses,
                  uint64_t evictions)
{
    struct arca_session_cache_stats st;
    arca_session_cache_stats(c, &st);
    assert_int_equal(st.count, count);
    assert_int_equal(st.hits, hits);
    assert_int_equal(st.misses, misses);
    assert_int_equal(st.evictions, evictions);
}

static void test_hit_and_new_version(void **state)
{
    (void)state;
    struct arca_session_cache *c = NULL;
    assert_int_equal(arca_session_cache_new(0, 1 << 20, &c), ARCA_ERR_INVALID_ARG);
    assert_int_equal(arca_session_cache_new(8, 1 << 20, &c), 0);
    struct arca_cached_session *a = get(c, "s", 0), *b = get(c, "s", 0);
    assert_ptr_equal(arca_cached_session_model(a), arca_cached_session_model(b));
    assert_string_equal(arca_cached_session_model(a)->secrets[0].name.s, "k0");
    stats(c, 1, 1, 1, 0);
    /* a new version of the same name is a new hash: never the old model */
    struct arca_cached_session *v2 = get(c, "s", 1);
    assert_ptr_not_equal(arca_cached_session_model(v2), arca_cached_session_model(a));
    assert_string_equal(arca_cached_session_model(v2)->secrets[0].name.s, "k1");
    /* the same hash under another name is another entry */
    struct arca_cached_session *other = get(c, "t", 0);
    assert_ptr_not_equal(arca_cached_session_model(other), arca_cached_session_model(a));
    stats(c, 3, 1, 3, 0);
    arca_cached_session_put(a);
    arca_cached_session_put(b);
    arca_cached_session_put(v2);
    arca_cached_session_put(other);
    arca_cached_session_put(NULL);
    /* a text that does not load is an error and is not kept */
    struct arca_cached_session *bad = NULL;
    uint8_t h[32] = {0};
    assert_int_not_equal(arca_session_cache_get(c, "s", h, "name: [", 7, &bad), 0);
    assert_null(bad);
    stats(c, 3, 1, 4, 0);
    arca_session_cache_free(c);
}

static void test_count_bound_lru(void **state)
{
    (void)state;
    struct arca_session_cache *c = NULL;
    assert_int_equal(arca_session_cache_new(2, 1 << 20, &c), 0);
    arca_cached_session_put(get(c, "s", 0));
    arca_cached_session_put(get(c, "s", 1));
    arca_cached_session_put(get(c, "s", 0)); /* 0 is now the most recently used */
    /* a reference held across its eviction stays valid */
    struct arca_cached_session *held = get(c, "s", 1);
    arca_cached_session_put(get(c, "s", 0));
    arca_cached_session_put(get(c, "s", 2)); /* evicts 1, the least recently used */
    stats(c, 2, 3, 3, 1);
    assert_string_equal(arca_cached_session_model(held)->secrets[0].name.s, "k1");
    arca_cached_session_put(held);
    arca_cached_session_put(get(c, "s", 0)); /* still there */
    stats(c, 2, 4, 3, 1);
    arca_cached_session_put(get(c, "s", 1)); /* gone: loaded again, evicts 2 */
    stats(c, 2, 4, 4, 2);
    arca_session_cache_free(c);
}

static void test_byte_bound(void **state)
{
    (void)state;
    size_t one = arca_session_cache_entry_bytes("s", LEN[0]);
    struct arca_session_cache *c = NULL;
    assert_int_equal(arca_session_cache_new(100, one + one / 2, &c), 0);
    arca_cached_session_put(get(c, "s", 0));
    arca_cached_session_put(get(c, "s", 1));
    struct arca_session_cache_stats st;
    arca_session_cache_stats(c, &st);
    assert_int_equal(st.count, 1);
    assert_true(st.bytes <= one + one / 2);
    assert_int_equal(st.evictions, 1);
    arca_session_cache_free(c);
    /* an entry larger than the whole bound is served but not kept */
    assert_int_equal(arca_session_cache_new(100, one - 1, &c), 0);
    struct arca_cached_session *r = get(c, "s", 0);
    stats(c, 0, 0, 1, 0);
    arca_cached_session_put(r);
    arca_session_cache_free(c);
}

static void test_no_cache_and_own(void **state)
{
    (void)state;
    struct arca_cached_session *a = get(NULL, "s", 0), *b = get(NULL, "s", 0);
    assert_ptr_not_equal(arca_cached_session_model(a), arca_cached_session_model(b));
    arca_cached_session_put(a);
    arca_cached_session_put(b);
    struct arca_session *s = NULL;
    assert_int_equal(arca_session_load(YAML[2], LEN[2], "s", &s, NULL), 0);
    struct arca_cached_session *r = NULL;
    assert_int_equal(arca_cached_session_own(s, &r), 0);
    assert_ptr_equal(arca_cached_session_model(r), s);
    arca_cached_session_put(r);
}

static void test_redacted_kept(void **state)
{
    (void)state;
    struct arca_session_cache *c = NULL;
    assert_int_equal(arca_session_cache_new(4, 1 << 20, &c), 0);
    struct arca_cached_session *a = get(c, "s", 0), *b = get(c, "s", 0);
    const char *t1 = NULL, *t2 = NULL;
    size_t n1 = 0, n2 = 0;
    assert_int_equal(arca_cached_session_redacted(a, YAML[0], LEN[0], &t1, &n1), 0);
    assert_int_equal(arca_cached_session_redacted(b, YAML[0], LEN[0], &t2, &n2), 0);
    assert_ptr_equal(t1, t2); /* made once, shared */
    assert_int_equal(n1, n2);
    assert_null(memmem(t1, n1, SECRET, strlen(SECRET)));
    assert_non_null(memmem(t1, n1, "k0", 2));
    arca_cached_session_put(a);
    arca_cached_session_put(b);
    arca_session_cache_free(c);
}

/* A memo is found only in its slot and under exactly the key it was kept with; the first text
 * kept stays; one larger than the entry's byte count allows is not kept. */
static void test_memo(void **state)
{
    (void)state;
    struct arca_session_cache *c = NULL;
    assert_int_equal(arca_session_cache_new(4, 1 << 20, &c), 0);
    struct arca_cached_session *a = get(c, "s", 0), *b = get(c, "s", 1);
    const void *t = NULL;
    size_t n = 0;
    static const char k1[] = "key-1", k2[] = "key-2";
    assert_int_equal(arca_cached_session_memo(a, 0, k1, 5, &t, &n), ARCA_ERR_NOT_FOUND);
    assert_int_equal(arca_cached_session_memo_keep(a, 0, k1, 5, "first", 5), 0);
    assert_int_equal(arca_cached_session_memo_keep(a, 0, k1, 5, "second", 6), 0);
    assert_int_equal(arca_cached_session_memo(a, 0, k1, 5, &t, &n), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(t, "first", 5);
    assert_int_equal(arca_cached_session_memo(a, 0, k2, 5, &t, &n), ARCA_ERR_NOT_FOUND);
    assert_int_equal(arca_cached_session_memo(a, 0, k1, 4, &t, &n), ARCA_ERR_NOT_FOUND);
    assert_int_equal(arca_cached_session_memo(a, 1, k1, 5, &t, &n), ARCA_ERR_NOT_FOUND);
    assert_int_equal(arca_cached_session_memo(b, 0, k1, 5, &t, &n), ARCA_ERR_NOT_FOUND);
    assert_int_equal(arca_cached_session_memo(a, ARCA_CACHED_MEMO_SLOTS, k1, 5, &t, &n),
                     ARCA_ERR_INVALID_ARG);
    /* another reference to the same entry sees it */
    struct arca_cached_session *a2 = get(c, "s", 0);
    assert_int_equal(arca_cached_session_memo(a2, 0, k1, 5, &t, &n), 0);
    assert_memory_equal(t, "first", 5);
    /* too large for what the byte bound counts: served by the caller, not kept */
    static char big[4096];
    memset(big, 'x', sizeof(big));
    assert_int_equal(arca_cached_session_memo_keep(b, 1, k2, 5, big, sizeof(big)), 0);
    assert_int_equal(arca_cached_session_memo(b, 1, k2, 5, &t, &n), ARCA_ERR_NOT_FOUND);
    arca_cached_session_put(a);
    arca_cached_session_put(a2);
    arca_cached_session_put(b);
    arca_session_cache_free(c);
}

#define THREADS 8
#define ROUNDS 3000

static void *worker(void *arg)
{
    struct arca_session_cache *c = arg;
    for (int i = 0; i < ROUNDS; i++) {
        int v = (i * 7 + (int)(uintptr_t)pthread_self()) & 3;
        struct arca_cached_session *r = NULL;
        if (arca_session_cache_get(c, "s", HASH[v], YAML[v], LEN[v], &r) != 0)
            return "get failed";
        char want[4];
        snprintf(want, sizeof(want), "k%d", v);
        const char *got = arca_cached_session_model(r)->secrets[0].name.s;
        const char *t = NULL;
        size_t n = 0;
        bool ok = strcmp(got, want) == 0 &&
                  arca_cached_session_redacted(r, YAML[v], LEN[v], &t, &n) == 0 &&
                  memmem(t, n, want, 2) != NULL;
        arca_cached_session_put(r);
        if (!ok)
            return "another version's model";
    }
    return NULL;
}

/* Fewer slots than versions: lookups, loads, races to insert and evictions all overlap. */
static void test_threads(void **state)
{
    (void)state;
    struct arca_session_cache *c = NULL;
    assert_int_equal(arca_session_cache_new(2, 1 << 20, &c), 0);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker, c), 0);
    for (int i = 0; i < THREADS; i++) {
        void *res = NULL;
        pthread_join(t[i], &res);
        if (res != NULL)
            fail_msg("thread %d: %s", i, (const char *)res);
    }
    struct arca_session_cache_stats st;
    arca_session_cache_stats(c, &st);
    assert_int_equal(st.hits + st.misses, (uint64_t)THREADS * ROUNDS);
    assert_true(st.count <= 2);
    arca_session_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_and_new_version),
        cmocka_unit_test(test_count_bound_lru),
        cmocka_unit_test(test_byte_bound),
        cmocka_unit_test(test_no_cache_and_own),
        cmocka_unit_test(test_redacted_kept),
        cmocka_unit_test(test_memo),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
