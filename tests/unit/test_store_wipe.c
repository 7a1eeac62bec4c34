/*
 * No copy of decrypted record plaintext survives in freed memory: every free() of the test
 * binary (store, base and crypto objects included, linked with -Wl,--wrap=free) scans the block
 * it releases for known secret markers, after a session commit, reads of every kind (session by
 * hash and active, secrets, active list, metadata, single-use values, purge) and close, and
 * for the decrypted-record cache's evictions, invalidations and free.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <malloc.h>

#include "base/err.h"
#include "store/cache.h"
#include "store/store.h"
#include "store_test_util.h"

#define YAML_MARK "yaml-9f3a61c4e2d8b07a"
#define MODEL_MARK "model-5b1e47d0c93a28f6"
#define SECRET_MARK "blob-0d6c82f1a4e9375b"
#define META_MARK "meta-7e2a90b5c1f4d863"
#define ONCE_MARK "once-c48f13a7e60d92b5"
#define NAME_MARK "name-3a7d5e1b9c0f2468"

static const char *const marks[] = {YAML_MARK, MODEL_MARK, SECRET_MARK,
                                    META_MARK, ONCE_MARK,  NAME_MARK};
static int found[sizeof(marks) / sizeof(marks[0])];

void __real_free(void *p);
void __wrap_free(void *p);

void __wrap_free(void *p)
{
    if (p != NULL) {
        size_t n = malloc_usable_size(p);
        for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
            if (memmem(p, n, marks[i], strlen(marks[i])) != NULL)
                found[i]++;
    }
    __real_free(p);
}

static void assert_nothing_found(const char *when)
{
    for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
        if (found[i] != 0)
            fail_msg("%s: %d freed block(s) still held '%s'", when, found[i], marks[i]);
}

/* The scanner itself works: a plain free of a marked block is seen. */
static void test_scanner_sees_unwiped_free(void **state)
{
    (void)state;
    char *p = strdup("x " YAML_MARK " y");
    assert_non_null(p);
    free(p);
    assert_int_equal(found[0], 1);
    found[0] = 0;
}

static void test_reads_leave_no_plaintext(void **state)
{
    (void)state;
    char *dir = tdir_make();
    uint8_t k[32];
    test_seal_key(k, 9);
    struct arca_store_fixed_sealer fs;
    arca_store_fixed_sealer_init(&fs, k);
    struct arca_store *s = NULL;
    assert_int_equal(test_store_open(dir, &fs, true, &s), 0);

    struct arca_store_session v;
    test_session(&v, "app/" NAME_MARK, 1, NULL, 1);
    v.yaml = (char *)"name: x\npassword: " YAML_MARK "\n";
    v.yaml_len = strlen(v.yaml);
    v.model = (uint8_t *)MODEL_MARK;
    v.model_len = strlen(MODEL_MARK);
    assert_int_equal(arca_store_session_commit(s, &v, SECRET_MARK, strlen(SECRET_MARK)), 0);
    assert_int_equal(arca_store_meta_put(s, "k", META_MARK, strlen(META_MARK)), 0);
    assert_int_equal(arca_store_once_put(s, "otp", ONCE_MARK, strlen(ONCE_MARK), INT64_MAX,
                                         ONCE_MARK, strlen(ONCE_MARK)),
                     0);
    assert_int_equal(arca_store_once_put(s, "otp", "old", 3, 1, ONCE_MARK, strlen(ONCE_MARK)), 0);
    assert_nothing_found("after the writes");

    for (int round = 0; round < 2; round++) {
        struct arca_store_session *got = NULL;
        assert_int_equal(arca_store_session_get(s, v.hash, &got), 0);
        assert_non_null(strstr(got->yaml, YAML_MARK));
        assert_memory_equal(got->model, MODEL_MARK, strlen(MODEL_MARK));
        arca_store_session_free(got);
        got = NULL;
        assert_int_equal(arca_store_session_get_active(s, v.name, &got), 0);
        arca_store_session_free(got);

        struct arca_store_active a;
        memset(&a, 0, sizeof(a));
        assert_int_equal(arca_store_active_get(s, v.name, &a), 0);
        arca_store_active_clear(&a);
        struct arca_store_active *list = NULL;
        size_t n = 0;
        assert_int_equal(arca_store_active_list(s, "app/", &list, &n), 0);
        assert_int_equal(n, 1);
        arca_store_active_list_free(list, n);

        struct arca_buf out;
        arca_buf_init_secret(&out, 0);
        assert_int_equal(arca_store_secrets_get(s, v.hash, &out), 0);
        assert_int_equal(out.len, strlen(SECRET_MARK));
        arca_buf_reset(&out);
        assert_int_equal(arca_store_meta_get(s, "k", &out), 0);
        arca_buf_free(&out);
        assert_nothing_found("after the reads");
    }

    /* an overwrite drops the cached record (engine.c: cache.h) */
    assert_int_equal(arca_store_meta_put(s, "k", "new", 3), 0);
    assert_nothing_found("after an overwrite of a cached record");

    struct arca_buf out;
    arca_buf_init_secret(&out, 0);
    assert_int_equal(arca_store_once_take(s, "otp", ONCE_MARK, strlen(ONCE_MARK), 2, &out), 0);
    assert_int_equal(out.len, strlen(ONCE_MARK));
    arca_buf_free(&out);
    size_t purged = 0;
    assert_int_equal(arca_store_once_purge(s, 2, &purged), 0);
    assert_int_equal(purged, 1);
    assert_nothing_found("after single-use values");

    arca_store_close(s);
    s = NULL;
    assert_int_equal(test_store_open(dir, &fs, false, &s), 0); /* open decrypts every record */
    arca_store_close(s);
    arca_store_fixed_sealer_wipe(&fs);
    assert_nothing_found("after close and a verifying open");
    tdir_remove(dir);
}

/* The record cache wipes what it evicts for room, what a write invalidates, what a batch staged
 * and did not commit, and what is left when it is freed. */
static void test_cache_wipes_evicted_records(void **state)
{
    (void)state;
    struct arca_store_cache *c = NULL;
    assert_int_equal(arca_store_cache_new(1024, &c), 0);
    char key[16], val[64];
    for (int i = 0; i < 40; i++) {
        uint64_t t = 0;
        struct arca_buf b;
        arca_buf_init_secret(&b, 0);
        snprintf(key, sizeof(key), "k%d", i);
        snprintf(val, sizeof(val), "%d " SECRET_MARK, i);
        assert_int_equal(arca_store_cache_get(c, 1, key, strlen(key), &b, &t), ARCA_ERR_NOT_FOUND);
        arca_store_cache_put(c, 1, key, strlen(key), (const uint8_t *)val, strlen(val), t);
        arca_buf_free(&b);
    }
    struct arca_store_cache_stats st;
    arca_store_cache_stats(c, &st);
    assert_true(st.entries > 0 && st.entries < 40); /* the early ones were evicted */
    assert_nothing_found("after evictions");
    arca_store_cache_invalidate(c, 1, "k39", 3);
    arca_store_cache_tx_end(c, true);
    assert_nothing_found("after an invalidation");
    /* write-through: a staged record superseded in its batch, and one of a rolled-back batch */
    arca_store_cache_stage(c, 1, "s1", 2, (const uint8_t *)val, strlen(val));
    arca_store_cache_invalidate(c, 1, "s1", 2);
    assert_nothing_found("after a staged write was superseded");
    arca_store_cache_stage(c, 1, "s2", 2, (const uint8_t *)val, strlen(val));
    arca_store_cache_tx_end(c, false);
    assert_nothing_found("after a rolled-back batch");
    arca_store_cache_free(c);
    assert_nothing_found("after freeing the cache");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scanner_sees_unwiped_free),
        cmocka_unit_test(test_reads_leave_no_plaintext),
        cmocka_unit_test(test_cache_wipes_evicted_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
