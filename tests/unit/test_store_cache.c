/*
 * The decrypted-record cache (store/cache.h) and its use by the engine: a repeated read is a
 * hit, a committed write is seen by the next read at once (and is in the cache already:
 * write-through), an aborted one never, a read that raced a write never caches the older value
 * (also with reader threads racing a writer), and the bound in bytes holds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "base/err.h"
#include "store/cache.h"
#include "store/engine.h"
#include "store/store.h"
#include "store_test_util.h"

static void miss_then_put(struct arca_store_cache *c, const char *key, const char *val)
{
    uint64_t t = 0;
    struct arca_buf b;
    arca_buf_init_secret(&b, 0);
    assert_int_equal(arca_store_cache_get(c, 2, key, strlen(key), &b, &t), ARCA_ERR_NOT_FOUND);
    assert_int_equal(b.len, 0);
    arca_store_cache_put(c, 2, key, strlen(key), (const uint8_t *)val, strlen(val), t);
    arca_buf_free(&b);
}

static bool hit(struct arca_store_cache *c, int tbl, const char *key, const char *want)
{
    uint64_t t = 0;
    struct arca_buf b;
    arca_buf_init_secret(&b, 0);
    int rc = arca_store_cache_get(c, tbl, key, strlen(key), &b, &t);
    bool ok = rc == 0 && b.len == strlen(want) && memcmp(b.data, want, b.len) == 0;
    arca_buf_free(&b);
    return ok;
}

static void test_hit_and_table_separation(void **state)
{
    (void)state;
    struct arca_store_cache *c = NULL;
    assert_int_equal(arca_store_cache_new(1 << 20, &c), 0);
    miss_then_put(c, "alpha", "one");
    assert_true(hit(c, 2, "alpha", "one"));
    assert_false(hit(c, 3, "alpha", "one")); /* same key, other table */
    assert_false(hit(c, 2, "alph", "one"));
    struct arca_store_cache_stats st;
    arca_store_cache_stats(c, &st);
    assert_int_equal(st.entries, 1);
    assert_int_equal(st.hits, 1);
    arca_store_cache_free(c);
}

/* A reader that missed before a write and inserts after it must not cache its older value. */
static void test_write_between_miss_and_put_is_not_cached(void **state)
{
    (void)state;
    struct arca_store_cache *c = NULL;
    assert_int_equal(arca_store_cache_new(1 << 20, &c), 0);
    uint64_t t = 0;
    struct arca_buf b;
    arca_buf_init_secret(&b, 0);
    assert_int_equal(arca_store_cache_get(c, 2, "k", 1, &b, &t), ARCA_ERR_NOT_FOUND);
    arca_store_cache_invalidate(c, 2, "k", 1); /* a transaction writes k ... */
    uint64_t t2 = 0;                           /* ... a reader misses while it runs ... */
    assert_int_equal(arca_store_cache_get(c, 2, "k", 1, &b, &t2), ARCA_ERR_NOT_FOUND);
    arca_store_cache_put(c, 2, "k", 1, (const uint8_t *)"old", 3, t2);
    assert_false(hit(c, 2, "k", "old"));
    arca_store_cache_tx_end(c, true); /* ... and commits */
    arca_store_cache_put(c, 2, "k", 1, (const uint8_t *)"old", 3, t);
    assert_false(hit(c, 2, "k", "old"));
    miss_then_put(c, "k", "new"); /* a reader that starts after the commit may insert */
    assert_true(hit(c, 2, "k", "new"));
    arca_buf_free(&b);
    arca_store_cache_free(c);
}

static void test_bound_in_bytes_evicts_least_recent(void **state)
{
    (void)state;
    struct arca_store_cache *c = NULL;
    assert_int_equal(arca_store_cache_new(2048, &c), 0);
    char key[16], val[200];
    memset(val, 'v', sizeof(val) - 1);
    val[sizeof(val) - 1] = '\0';
    miss_then_put(c, "keep", val);
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        miss_then_put(c, key, val);
        assert_true(hit(c, 2, "keep", val)); /* used all the time: never the LRU victim */
        struct arca_store_cache_stats st;
        arca_store_cache_stats(c, &st);
        assert_true(st.bytes <= 2048);
    }
    assert_false(hit(c, 2, "k0", val));
    assert_true(hit(c, 2, "k99", val));
    /* a value larger than the whole cache is not inserted */
    char big[4096];
    memset(big, 'b', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    miss_then_put(c, "big", big);
    assert_false(hit(c, 2, "big", big));
    arca_store_cache_free(c);
}

/* Write-through: what a batch staged is inserted when it commits and wiped when it does not; a
 * member rolled back to its savepoint takes its own staged records with it; a later write of
 * the same row in the batch (a put or a delete) supersedes an earlier one. */
static void test_staged_writes_follow_the_batch(void **state)
{
    (void)state;
    struct arca_store_cache *c = NULL;
    assert_int_equal(arca_store_cache_new(1 << 20, &c), 0);
    miss_then_put(c, "a", "old-a");
    /* rolled back: nothing staged lands, the old entry is gone (the write invalidated it) */
    arca_store_cache_invalidate(c, 2, "a", 1);
    arca_store_cache_stage(c, 2, "a", 1, (const uint8_t *)"new-a", 5);
    arca_store_cache_tx_end(c, false);
    assert_false(hit(c, 2, "a", "new-a"));
    assert_false(hit(c, 2, "a", "old-a"));
    /* committed: the first member's writes land, the second member's (undone) do not */
    arca_store_cache_invalidate(c, 2, "a", 1);
    arca_store_cache_stage(c, 2, "a", 1, (const uint8_t *)"first", 5);
    uint64_t mark = arca_store_cache_stage_mark(c);
    arca_store_cache_invalidate(c, 2, "b", 1);
    arca_store_cache_stage(c, 2, "b", 1, (const uint8_t *)"second", 6);
    arca_store_cache_stage_drop(c, mark);
    /* a third member deletes c after writing it: no record of c may land */
    arca_store_cache_invalidate(c, 2, "c", 1);
    arca_store_cache_stage(c, 2, "c", 1, (const uint8_t *)"gone", 4);
    arca_store_cache_invalidate(c, 2, "c", 1);
    /* and a fourth writes d twice: the last write lands */
    arca_store_cache_invalidate(c, 2, "d", 1);
    arca_store_cache_stage(c, 2, "d", 1, (const uint8_t *)"d1", 2);
    arca_store_cache_invalidate(c, 2, "d", 1);
    arca_store_cache_stage(c, 2, "d", 1, (const uint8_t *)"d2", 2);
    arca_store_cache_tx_end(c, true);
    assert_true(hit(c, 2, "a", "first"));
    assert_false(hit(c, 2, "b", "second"));
    assert_false(hit(c, 2, "c", "gone"));
    assert_false(hit(c, 2, "d", "d1"));
    assert_true(hit(c, 2, "d", "d2"));
    arca_store_cache_free(c); /* also wipes whatever is staged */
    assert_int_equal(arca_store_cache_new(1 << 20, &c), 0);
    arca_store_cache_stage(c, 2, "x", 1, (const uint8_t *)"left", 4);
    arca_store_cache_free(c);
}

/* Through the store: reads hit the cache, and a commit is visible to the very next read. */
static void test_store_reads_see_every_commit(void **state)
{
    (void)state;
    char *dir = tdir_make();
    uint8_t k[32];
    test_seal_key(k, 3);
    struct arca_store_fixed_sealer fs;
    arca_store_fixed_sealer_init(&fs, k);
    struct arca_store *s = NULL;
    assert_int_equal(test_store_open(dir, &fs, true, &s), 0);
    assert_non_null(s->cache);
    struct arca_buf out;
    arca_buf_init_secret(&out, 0);
    char val[32];
    for (int i = 0; i < 5; i++) {
        snprintf(val, sizeof(val), "value-%d", i);
        assert_int_equal(arca_store_meta_put(s, "key", val, strlen(val)), 0);
        for (int r = 0; r < 3; r++) {
            arca_buf_reset(&out);
            assert_int_equal(arca_store_meta_get(s, "key", &out), 0);
            assert_int_equal(out.len, strlen(val));
            assert_memory_equal(out.data, val, out.len);
        }
    }
    struct arca_store_cache_stats st;
    arca_store_cache_stats(s->cache, &st);
    /* every read is a hit: each commit put the record it wrote into the cache (write-through) */
    assert_int_equal(st.hits, 15);
    assert_int_equal(st.misses, 0);
    /* a failed transaction leaves the cache usable and the old value visible */
    struct arca_store_tx tx;
    assert_int_equal(arca_store_tx_begin(s, &tx), 0);
    assert_int_equal(arca_store_tx_del(&tx, ARCA_ST_META, "key", 3), 0);
    arca_store_tx_abort(&tx);
    arca_buf_reset(&out);
    assert_int_equal(arca_store_meta_get(s, "key", &out), 0);
    assert_memory_equal(out.data, "value-4", 7);
    /* an aborted write was staged for the cache (write-through) and is never served */
    struct arca_store_record r;
    memset(&r, 0, sizeof(r));
    r.tbl = ARCA_ST_META;
    r.key = (const uint8_t *)"key";
    r.key_len = 3;
    r.data = (const uint8_t *)"aborted";
    r.data_len = 7;
    assert_int_equal(arca_store_tx_begin(s, &tx), 0);
    assert_int_equal(arca_store_tx_put(&tx, &r), 0);
    arca_store_tx_abort(&tx);
    for (int i = 0; i < 2; i++) { /* from the backend, then from the cache */
        arca_buf_reset(&out);
        assert_int_equal(arca_store_meta_get(s, "key", &out), 0);
        assert_int_equal(out.len, 7);
        assert_memory_equal(out.data, "value-4", 7);
    }
    arca_buf_free(&out);
    arca_store_close(s);
    arca_store_fixed_sealer_wipe(&fs);
    tdir_remove(dir);
}

/* Readers racing a writer never see a value older than the last commit that ended before
 * their read began (a stale cached record would be). */
#define RACE_WRITES 150
struct race {
    struct arca_store *s;
    atomic_int committed; /* the newest value whose commit returned */
    atomic_bool done;
    atomic_int stale, errors;
};

static void *race_reader(void *arg)
{
    struct race *r = arg;
    struct arca_buf out;
    arca_buf_init_secret(&out, 0);
    while (!atomic_load(&r->done)) {
        int before = atomic_load(&r->committed);
        arca_buf_reset(&out);
        if (arca_store_meta_get(r->s, "race", &out) < 0) {
            atomic_fetch_add(&r->errors, 1);
            continue;
        }
        char txt[16] = "";
        memcpy(txt, out.data, out.len < sizeof(txt) - 1 ? out.len : sizeof(txt) - 1);
        if (atoi(txt) < before)
            atomic_fetch_add(&r->stale, 1);
    }
    arca_buf_free(&out);
    return NULL;
}

static void test_readers_racing_a_writer_see_no_stale_record(void **state)
{
    (void)state;
    char *dir = tdir_make();
    uint8_t k[32];
    test_seal_key(k, 4);
    struct arca_store_fixed_sealer fs;
    arca_store_fixed_sealer_init(&fs, k);
    struct race r = {0};
    assert_int_equal(test_store_open(dir, &fs, true, &r.s), 0);
    assert_int_equal(arca_store_meta_put(r.s, "race", "0", 1), 0);
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&t[i], NULL, race_reader, &r), 0);
    char val[16];
    for (int i = 1; i <= RACE_WRITES; i++) {
        snprintf(val, sizeof(val), "%d", i);
        assert_int_equal(arca_store_meta_put(r.s, "race", val, strlen(val)), 0);
        atomic_store(&r.committed, i);
    }
    atomic_store(&r.done, true);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&r.errors), 0);
    assert_int_equal(atomic_load(&r.stale), 0);
    arca_store_close(r.s);
    arca_store_fixed_sealer_wipe(&fs);
    tdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_and_table_separation),
        cmocka_unit_test(test_write_between_miss_and_put_is_not_cached),
        cmocka_unit_test(test_bound_in_bytes_evicts_least_recent),
        cmocka_unit_test(test_staged_writes_follow_the_batch),
        cmocka_unit_test(test_store_reads_see_every_commit),
        cmocka_unit_test(test_readers_racing_a_writer_see_no_stale_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
