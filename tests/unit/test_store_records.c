/* Sealed store: every record type, reopen, wrong sealing key, concurrency of readers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>

#include "base/err.h"
#include "store/store.h"
#include "store_fixture.h"
#include "store_sql_util.h"

static void test_sessions(void **state)
{
    struct fx *f = *state;
    struct arca_store_session v1, v2, v3;
    test_session(&v1, "app/db", 1, NULL, 1);
    assert_int_equal(arca_store_session_commit(f->s, &v1, "sec1", 4), 0);
    /* create again: exists */
    test_session(&v3, "app/db", 9, NULL, 1);
    assert_int_equal(arca_store_session_commit(f->s, &v3, NULL, 0), ARCA_ERR_EXISTS);
    /* update with wrong predecessor: conflict */
    uint8_t wrong[32];
    memset(wrong, 7, 32);
    test_session(&v3, "app/db", 3, wrong, 2);
    assert_int_equal(arca_store_session_commit(f->s, &v3, NULL, 0), ARCA_ERR_CONFLICT);
    assert_non_null(strstr(arca_err_detail(), "predecessor"));
    /* update of an unknown name */
    test_session(&v3, "nope", 3, v1.hash, 2);
    assert_int_equal(arca_store_session_commit(f->s, &v3, NULL, 0), ARCA_ERR_NOT_FOUND);
    /* good update */
    test_session(&v2, "app/db", 2, v1.hash, 2);
    assert_int_equal(arca_store_session_commit(f->s, &v2, "sec2", 4), 0);
    /* same hash again (immutable history) */
    test_session(&v3, "other", 2, NULL, 1);
    assert_int_equal(arca_store_session_commit(f->s, &v3, NULL, 0), ARCA_ERR_EXISTS);

    reopen(f);
    struct arca_store_session *got = NULL;
    assert_int_equal(arca_store_session_get_active(f->s, "app/db", &got), 0);
    assert_string_equal(got->name, "app/db");
    assert_int_equal(got->version, 2);
    assert_true(got->has_predecessor);
    assert_memory_equal(got->predecessor, v1.hash, 32);
    assert_memory_equal(got->creator, v2.creator, 32);
    assert_string_equal(got->yaml, v2.yaml);
    assert_int_equal(got->created_at, v2.created_at);
    arca_store_session_free(got);
    assert_int_equal(arca_store_session_get(f->s, v1.hash, &got), 0);
    assert_int_equal(got->version, 1);
    assert_false(got->has_predecessor);
    arca_store_session_free(got);
    assert_int_equal(arca_store_session_get(f->s, wrong, &got), ARCA_ERR_NOT_FOUND);

    struct arca_buf b;
    arca_buf_init_secret(&b, 0);
    assert_int_equal(arca_store_secrets_get(f->s, v1.hash, &b), 0);
    assert_int_equal(b.len, 4);
    assert_memory_equal(b.data, "sec1", 4);
    arca_buf_reset(&b);
    assert_int_equal(arca_store_secrets_get(f->s, wrong, &b), ARCA_ERR_NOT_FOUND);
    arca_buf_free(&b);
}

static void test_model_and_list(void **state)
{
    struct fx *f = *state;
    const char *names[] = {"b/x", "a", "b", "b/y", "c"};
    for (int i = 0; i < 5; i++) {
        struct arca_store_session v;
        test_session(&v, names[i], (uint8_t)(0x40 + i), NULL, 1);
        uint8_t model[3] = {1, 2, (uint8_t)i};
        v.model = model;
        v.model_len = 3;
        assert_int_equal(arca_store_session_commit(f->s, &v, NULL, 0), 0);
    }
    struct arca_store_active *list = NULL;
    size_t n = 0;
    assert_int_equal(arca_store_active_list(f->s, "b", &list, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(list[0].name, "b");
    assert_string_equal(list[1].name, "b/x");
    assert_string_equal(list[2].name, "b/y");
    arca_store_active_list_free(list, n);
    assert_int_equal(arca_store_active_list(f->s, NULL, &list, &n), 0);
    assert_int_equal(n, 5);
    arca_store_active_list_free(list, n);
    assert_int_equal(arca_store_active_list(f->s, "zzz", &list, &n), 0);
    assert_int_equal(n, 0);
    assert_null(list);
    struct arca_store_session *got = NULL;
    assert_int_equal(arca_store_session_get_active(f->s, "c", &got), 0);
    assert_int_equal(got->model_len, 3);
    assert_int_equal(got->model[2], 4);
    arca_store_session_free(got);
    struct arca_store_active a;
    assert_int_equal(arca_store_active_get(f->s, "missing", &a), ARCA_ERR_NOT_FOUND);
    assert_non_null(strstr(arca_err_detail(), "missing"));
}

static void test_once(void **state)
{
    struct fx *f = *state;
    struct arca_buf out;
    arca_buf_init(&out, 0);
    assert_int_equal(arca_store_once_put(f->s, "challenge", "n1", 2, 1000, "d1", 2), 0);
    assert_int_equal(arca_store_once_put(f->s, "challenge", "n1", 2, 1000, NULL, 0),
                     ARCA_ERR_REPLAY);
    /* same id, other namespace: independent */
    assert_int_equal(arca_store_once_put(f->s, "otp:svc", "n1", 2, 1000, NULL, 0), 0);
    assert_int_equal(arca_store_once_take(f->s, "challenge", "n1", 2, 999, &out), 0);
    assert_int_equal(out.len, 2);
    assert_memory_equal(out.data, "d1", 2);
    assert_int_equal(arca_store_once_take(f->s, "challenge", "n1", 2, 999, &out), ARCA_ERR_REPLAY);
    assert_int_equal(arca_store_once_put(f->s, "challenge", "n1", 2, 1000, NULL, 0),
                     ARCA_ERR_REPLAY);
    assert_int_equal(arca_store_once_take(f->s, "challenge", "never", 5, 0, NULL),
                     ARCA_ERR_NOT_FOUND);
    /* expiry */
    assert_int_equal(arca_store_once_put(f->s, "challenge", "n2", 2, 50, NULL, 0), 0);
    assert_int_equal(arca_store_once_take(f->s, "challenge", "n2", 2, 50, NULL), ARCA_ERR_EXPIRED);
    assert_int_equal(arca_store_once_take(f->s, "challenge", "n2", 2, 10, NULL), ARCA_ERR_REPLAY);
    /* purge */
    assert_int_equal(arca_store_once_put(f->s, "challenge", "n3", 2, 50, NULL, 0), 0);
    assert_int_equal(arca_store_once_put(f->s, "challenge", "n4", 2, 5000, NULL, 0), 0);
    size_t purged = 0;
    assert_int_equal(arca_store_once_purge(f->s, 100, &purged), 0);
    assert_int_equal(purged, 1); /* n3 only: n4 and the otp value are still valid */
    reopen(f);
    assert_int_equal(arca_store_once_take(f->s, "challenge", "n4", 2, 100, NULL), 0);
    assert_int_equal(arca_store_once_take(f->s, "challenge", "n3", 2, 10, NULL), ARCA_ERR_REPLAY);
    arca_buf_free(&out);
}

static void test_checkpoints_meta(void **state)
{
    struct fx *f = *state;
    struct arca_store_checkpoint cp, got;
    assert_int_equal(arca_store_checkpoint_latest(f->s, &got), ARCA_ERR_NOT_FOUND);
    for (uint64_t i = 1; i <= 5; i++) {
        memset(&cp, 0, sizeof(cp));
        cp.seq = i * 10;
        cp.time = (int64_t)i;
        cp.sig_len = 64;
        memset(cp.sig, (int)i, 64);
        assert_int_equal(arca_store_checkpoint_put(f->s, &cp, i % 2 == 1), 0);
    }
    assert_int_equal(arca_store_checkpoint_latest(f->s, &got), 0);
    assert_int_equal(got.seq, 50);
    assert_int_equal(got.sig_len, 64);
    assert_int_equal(got.sig[0], 5);
    struct arca_store_checkpoint *list = NULL;
    size_t n = 0;
    assert_int_equal(arca_store_checkpoint_list(f->s, 100, &list, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(list[0].seq, 10);
    assert_int_equal(list[2].seq, 50);
    free(list);
    assert_int_equal(arca_store_checkpoint_list(f->s, 2, &list, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(list[0].seq, 30);
    free(list);

    struct arca_buf b;
    arca_buf_init(&b, 0);
    assert_int_equal(arca_store_meta_put(f->s, "identity", "v1", 2), 0);
    assert_int_equal(arca_store_meta_put(f->s, "identity", "value2", 6), 0);
    reopen(f);
    assert_int_equal(arca_store_meta_get(f->s, "identity", &b), 0);
    assert_int_equal(b.len, 6);
    assert_memory_equal(b.data, "value2", 6);
    assert_int_equal(arca_store_meta_delete(f->s, "identity"), 0);
    assert_int_equal(arca_store_meta_delete(f->s, "identity"), ARCA_ERR_NOT_FOUND);
    arca_buf_reset(&b);
    assert_int_equal(arca_store_meta_get(f->s, "identity", &b), ARCA_ERR_NOT_FOUND);
    reopen(f);
    assert_int_equal(arca_store_meta_get(f->s, "identity", &b), ARCA_ERR_NOT_FOUND);
    arca_buf_free(&b);
}

static void test_wrong_key_and_missing(void **state)
{
    struct fx *f = *state;
    assert_int_equal(arca_store_meta_put(f->s, "k", "v", 1), 0);
    uint64_t commit;
    assert_int_equal(arca_store_state(f->s, &commit, NULL), 0);
    assert_true(commit >= 1);
    /* a second opener of the same store is refused while the first holds it */
    struct arca_store *twice = NULL;
    assert_int_equal(test_store_open(f->dir, &f->fs, false, &twice), ARCA_ERR_EXISTS);
    assert_non_null(strstr(arca_err_detail(), "in use by another process"));
    arca_store_close(f->s);
    f->s = NULL;
    uint8_t k[32];
    test_seal_key(k, 2);
    struct arca_store_fixed_sealer other;
    arca_store_fixed_sealer_init(&other, k);
    struct arca_store *s = NULL;
    assert_int_equal(test_store_open(f->dir, &other, false, &s), ARCA_ERR_TAMPERED);
    assert_non_null(strstr(arca_err_detail(), "seal does not verify"));
    /* no files and no create */
    char *d2 = tdir_make();
    assert_int_equal(test_store_open(d2, &f->fs, false, &s), ARCA_ERR_NOT_FOUND);
    /* key-store missing */
    char ks[512];
    snprintf(ks, sizeof(ks), "%s/arca.db.key-store", f->dir);
    char ks2[520];
    snprintf(ks2, sizeof(ks2), "%s.bak", ks);
    assert_int_equal(rename(ks, ks2), 0);
    assert_int_equal(test_store_open(f->dir, &f->fs, false, &s), ARCA_ERR_TAMPERED);
    assert_non_null(strstr(arca_err_detail(), "key-store"));
    assert_int_equal(rename(ks2, ks), 0);
    tdir_remove(d2);
    reopen(f);
}

/* A rolled-back database (an older copy of the file / tables) is refused. */
static void test_rollback(void **state)
{
    struct fx *f = *state;
    assert_int_equal(arca_store_meta_put(f->s, "k", "v1", 2), 0);
    arca_store_close(f->s);
    f->s = NULL;
    assert_int_equal(test_store_save(f->dir, "old"), 0);
    reopen(f);
    assert_int_equal(arca_store_meta_put(f->s, "k", "v2", 2), 0);
    assert_int_equal(arca_store_meta_put(f->s, "k", "v3", 2), 0);
    arca_store_close(f->s);
    f->s = NULL;
    assert_int_equal(test_store_restore(f->dir, "old"), 0);
    struct arca_store *s = NULL;
    assert_int_equal(test_store_open(f->dir, &f->fs, false, &s), ARCA_ERR_TAMPERED);
    assert_non_null(strstr(arca_err_detail(), "rolled back"));
}

struct rd {
    struct arca_store *s;
    int errors;
};

static void *reader(void *arg)
{
    struct rd *r = arg;
    for (int i = 0; i < 200; i++) {
        struct arca_store_session *got = NULL;
        int rc = arca_store_session_get_active(r->s, "conc", &got);
        if (rc != 0)
            r->errors++;
        arca_store_session_free(got);
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    struct fx *f = *state;
    struct arca_store_session v;
    test_session(&v, "conc", 0x70, NULL, 1);
    assert_int_equal(arca_store_session_commit(f->s, &v, NULL, 0), 0);
    pthread_t t[6];
    struct rd r[6];
    for (int i = 0; i < 6; i++) {
        r[i].s = f->s;
        r[i].errors = 0;
        pthread_create(&t[i], NULL, reader, &r[i]);
    }
    uint8_t prev[32];
    memcpy(prev, v.hash, 32);
    for (int i = 1; i < 20; i++) {
        test_session(&v, "conc", (uint8_t)(0x70 + i), prev, (uint64_t)i + 1);
        assert_int_equal(arca_store_session_commit(f->s, &v, NULL, 0), 0);
        memcpy(prev, v.hash, 32);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(r[i].errors, 0);
    }
}

static void test_compact(void **state)
{
    struct fx *f = *state;
    struct arca_store_session v1, v2;
    test_session(&v1, "cmp", 0x51, NULL, 1);
    assert_int_equal(arca_store_session_commit(f->s, &v1, "x", 1), 0);
    for (int i = 0; i < 40; i++) {
        char val[16];
        snprintf(val, sizeof(val), "v%d", i);
        assert_int_equal(arca_store_meta_put(f->s, "counter", val, strlen(val)), 0);
    }
    assert_int_equal(arca_store_once_put(f->s, "challenge", "c1", 2, INT64_MAX, NULL, 0), 0);
    assert_int_equal(arca_store_once_take(f->s, "challenge", "c1", 2, 0, NULL), 0);
    uint64_t removed = 0, commit0, commit1;
    arca_store_state(f->s, &commit0, NULL);
    assert_int_equal(arca_store_compact(f->s, &removed), 0);
    assert_int_equal(removed, 39); /* 39 old counters + the once put - the base entry */
    arca_store_state(f->s, &commit1, NULL);
    assert_int_equal(commit1, commit0 + 1);
    /* nothing left to gain */
    assert_int_equal(arca_store_compact(f->s, &removed), 0);
    assert_int_equal(removed, 0);
    /* writes continue on the compacted chain, then a reopen verifies it */
    test_session(&v2, "cmp", 0x52, v1.hash, 2);
    assert_int_equal(arca_store_session_commit(f->s, &v2, NULL, 0), 0);
    reopen(f);
    struct arca_buf b;
    arca_buf_init(&b, 0);
    assert_int_equal(arca_store_meta_get(f->s, "counter", &b), 0);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "v39", 3);
    arca_buf_free(&b);
    assert_int_equal(arca_store_once_put(f->s, "challenge", "c1", 2, INT64_MAX, NULL, 0),
                     ARCA_ERR_REPLAY);
    struct arca_store_session *got = NULL;
    assert_int_equal(arca_store_session_get(f->s, v1.hash, &got), 0);
    arca_store_session_free(got);
    assert_int_equal(arca_store_session_get_active(f->s, "cmp", &got), 0);
    assert_int_equal(got->version, 2);
    arca_store_session_free(got);
    arca_store_close(f->s);
    f->s = NULL;
    /* a forged base (cutting history) and a removed base are refused */
    assert_int_equal(test_store_save(f->dir, "keep"), 0);
    assert_int_equal(test_store_sql(f->dir, "UPDATE journal SET cthash=randomblob(32) WHERE seq=1",
                                    "UPDATE arca_journal SET cthash=decode(md5('a') || md5('b'),"
                                    " 'hex') WHERE seq=1"),
                     0);
    struct arca_store *s = NULL;
    assert_int_equal(test_store_open(f->dir, &f->fs, false, &s), ARCA_ERR_TAMPERED);
    assert_non_null(strstr(arca_err_detail(), "compaction base"));
    assert_int_equal(test_store_restore(f->dir, "keep"), 0);
    assert_int_equal(test_store_sql(f->dir, "DELETE FROM journal WHERE seq=1",
                                    "DELETE FROM arca_journal WHERE seq=1"),
                     0);
    assert_int_equal(test_store_open(f->dir, &f->fs, false, &s), ARCA_ERR_TAMPERED);
    assert_int_equal(test_store_restore(f->dir, "keep"), 0);
    reopen(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sessions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_model_and_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoints_meta, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_key_and_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compact, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
