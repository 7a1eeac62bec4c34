/*
 * PostgreSQL backend only (issue 15): several stores (arcads) on one database, faults of the
 * database (tampered or rolled-back row, another arca's records, newer schema, a server restart).
 * The backend-independent store tests run on PostgreSQL too (ctest "unit.test_store_*.pg").
 * Skipped (77) where the PostgreSQL server binaries are missing.
 */
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

/* A second member on f's database: its own directory with a copy of f's key-store (what
 * --join hands over) and the same database URI. */
static char *member_dir(struct fx *f)
{
    char *d = tdir_make();
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "cp %s/pg.url %s/arca.db.key-store %s/", f->dir, f->dir, d);
    assert_int_equal(system(cmd), 0);
    return d;
}

static void meta_expect(struct arca_store *s, const char *key, const char *val)
{
    struct arca_buf b;
    arca_buf_init(&b, 0);
    assert_int_equal(arca_store_meta_get(s, key, &b), 0);
    assert_int_equal(b.len, strlen(val));
    assert_memory_equal(b.data, val, b.len);
    arca_buf_free(&b);
}

static void test_two_members(void **state)
{
    struct fx *f = *state;
    assert_int_equal(arca_store_meta_put(f->s, "k", "a1", 2), 0);
    char *d2 = member_dir(f);
    struct arca_store *s2 = NULL;
    assert_int_equal(test_store_open(d2, &f->fs, false, &s2), 0);
    meta_expect(s2, "k", "a1");
    /* writes alternate: each member continues the chain the other extended */
    for (int i = 0; i < 5; i++) {
        char v[8];
        snprintf(v, sizeof(v), "b%d", i);
        assert_int_equal(arca_store_meta_put(s2, "k", v, strlen(v)), 0);
        meta_expect(f->s, "k", v);
        snprintf(v, sizeof(v), "a%d", i);
        assert_int_equal(arca_store_meta_put(f->s, "k", v, strlen(v)), 0);
        meta_expect(s2, "k", v);
    }
    /* single-use values are single-use across members */
    assert_int_equal(arca_store_once_put(f->s, "otp", "c1", 2, INT64_MAX, NULL, 0), 0);
    assert_int_equal(arca_store_once_take(s2, "otp", "c1", 2, 0, NULL), 0);
    assert_int_equal(arca_store_once_take(f->s, "otp", "c1", 2, 0, NULL), ARCA_ERR_REPLAY);
    assert_int_equal(arca_store_once_put(f->s, "otp", "c1", 2, INT64_MAX, NULL, 0),
                     ARCA_ERR_REPLAY);
    /* volume tags stay monotonic: a stale writer on the other member loses */
    struct arca_store_volume v;
    memset(&v, 0, sizeof(v));
    v.has_tag = true;
    memset(v.tag, 0x11, 16);
    assert_int_equal(arca_store_volume_update(f->s, "app", "data", NULL, &v), 0);
    uint64_t seen = 1;
    assert_int_equal(arca_store_volume_update(s2, "app", "data", &seen, &v), 0);
    assert_int_equal(arca_store_volume_update(f->s, "app", "data", &seen, &v), ARCA_ERR_CONFLICT);
    /* both reopen: each key-store lags behind the database, which is fine when the chain
     * passes through it */
    arca_store_close(s2);
    reopen(f);
    assert_int_equal(test_store_open(d2, &f->fs, false, &s2), 0);
    meta_expect(s2, "k", "a4");
    arca_store_close(s2);
    tdir_remove(d2);
}

struct writer {
    struct arca_store *s;
    int id, errors;
};

static void *write_loop(void *arg)
{
    struct writer *w = arg;
    for (int i = 0; i < 30; i++) {
        char key[32];
        snprintf(key, sizeof(key), "w%d-%d", w->id, i);
        if (arca_store_meta_put(w->s, key, "x", 1) != 0)
            w->errors++;
        if (arca_store_once_put(w->s, "shared", "same", 4, INT64_MAX, NULL, 0) == 0)
            w->errors += 1000; /* only the very first put of the shared value may succeed */
    }
    return NULL;
}

/* Three members write at once: no commit is lost, no chain forks, all reopen. */
static void test_concurrent_members(void **state)
{
    struct fx *f = *state;
    assert_int_equal(arca_store_once_put(f->s, "shared", "same", 4, INT64_MAX, NULL, 0), 0);
    char *d[2] = {member_dir(f), member_dir(f)};
    struct writer w[3] = {{.s = f->s, .id = 0}, {.id = 1}, {.id = 2}};
    for (int i = 0; i < 2; i++)
        assert_int_equal(test_store_open(d[i], &f->fs, false, &w[i + 1].s), 0);
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, write_loop, &w[i]);
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].errors, 0);
    }
    for (int i = 0; i < 2; i++)
        arca_store_close(w[i + 1].s);
    reopen(f);
    for (int m = 0; m < 3; m++)
        for (int i = 0; i < 30; i++) {
            char key[32];
            snprintf(key, sizeof(key), "w%d-%d", m, i);
            meta_expect(f->s, key, "x");
        }
    tdir_remove(d[0]);
    tdir_remove(d[1]);
}

static void test_tampered_and_rolled_back_row(void **state)
{
    struct fx *f = *state;
    assert_int_equal(arca_store_meta_put(f->s, "k", "v1", 2), 0);
    assert_int_equal(test_store_sql(f->dir, NULL, "CREATE TABLE keep AS SELECT * FROM arca_rec"),
                     0);
    assert_int_equal(arca_store_meta_put(f->s, "k", "v2", 2), 0);
    /* a flipped ciphertext byte */
    assert_int_equal(
        test_store_sql(f->dir, NULL,
                       "UPDATE arca_rec SET ct = set_byte(ct, 3, get_byte(ct, 3) # 1)"),
        0);
    struct arca_buf b;
    arca_buf_init(&b, 0);
    assert_int_equal(arca_store_meta_get(f->s, "k", &b), ARCA_ERR_TAMPERED);
    /* the older row put back (a valid ciphertext of version 1) */
    assert_int_equal(
        test_store_sql(f->dir, NULL,
                       "DELETE FROM arca_rec; INSERT INTO arca_rec SELECT * FROM keep"),
        0);
    assert_int_equal(arca_store_meta_get(f->s, "k", &b), ARCA_ERR_TAMPERED);
    assert_non_null(strstr(arca_err_detail(), "rolled back"));
    arca_buf_free(&b);
    arca_store_close(f->s);
    f->s = NULL;
    struct arca_store *s = NULL;
    assert_int_equal(test_store_open(f->dir, &f->fs, false, &s), ARCA_ERR_TAMPERED);
}

static void test_other_arca_and_newer_schema(void **state)
{
    struct fx *f = *state;
    assert_int_equal(arca_store_meta_put(f->s, "k", "v", 1), 0);
    /* another arca (its own database key) pointed at this database */
    char *other = tdir_make();
    struct arca_store *o = NULL;
    assert_int_equal(test_store_open(other, &f->fs, true, &o), 0);
    assert_int_equal(arca_store_meta_put(o, "x", "y", 1), 0);
    arca_store_close(o);
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "cp %s/pg.url %s/pg.url", f->dir, other);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(test_store_open(other, &f->fs, false, &o), ARCA_ERR_TAMPERED);
    assert_non_null(strstr(arca_err_detail(), "another arca"));
    /* a data dir without a key-store next to an existing database */
    snprintf(cmd, sizeof(cmd), "rm %s/arca.db.key-store", other);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(test_store_open(other, &f->fs, true, &o), ARCA_ERR_TAMPERED);
    assert_non_null(strstr(arca_err_detail(), "key-store"));
    tdir_remove(other);
    /* a schema from a newer arcad */
    arca_store_close(f->s);
    f->s = NULL;
    assert_int_equal(
        test_store_sql(f->dir, NULL, "UPDATE arca_meta SET value=2 WHERE name='schema_version'"),
        0);
    assert_int_equal(test_store_open(f->dir, &f->fs, false, &o), ARCA_ERR_UNSUPPORTED);
    assert_non_null(strstr(arca_err_detail(), "schema version 2, newer"));
    assert_int_equal(
        test_store_sql(f->dir, NULL, "UPDATE arca_meta SET value=1 WHERE name='schema_version'"),
        0);
    reopen(f);
}

/* The server goes away and comes back: writes fail with ARCA_ERR_NETWORK meanwhile (arcad's
 * 503), nothing acknowledged is lost, and the same store handle works again afterwards. */
static void test_server_restart(void **state)
{
    struct fx *f = *state;
    assert_int_equal(arca_store_meta_put(f->s, "k", "before", 6), 0);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "sh " ARCA_SOURCE_DIR "/tests/pg_util.sh kill %s", test_pg_cluster);
    assert_int_equal(system(cmd), 0);
    int rc = arca_store_meta_put(f->s, "k", "during", 6);
    if (rc != ARCA_ERR_NETWORK)
        fprintf(stderr, "during: %s\n", arca_err_detail());
    assert_int_equal(rc, ARCA_ERR_NETWORK);
    assert_non_null(strstr(arca_err_detail(), "unreachable"));
    struct arca_buf b;
    arca_buf_init(&b, 0);
    assert_int_equal(arca_store_meta_get(f->s, "k", &b), ARCA_ERR_NETWORK);
    arca_buf_free(&b);
    snprintf(cmd, sizeof(cmd), "sh " ARCA_SOURCE_DIR "/tests/pg_util.sh restart %s",
             test_pg_cluster);
    assert_int_equal(system(cmd), 0);
    meta_expect(f->s, "k", "before");
    assert_int_equal(arca_store_meta_put(f->s, "k", "after", 5), 0);
    meta_expect(f->s, "k", "after");
    reopen(f);
    meta_expect(f->s, "k", "after");
}

int main(void)
{
    setenv("ARCA_TEST_STORE", "pg", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_two_members, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_members, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tampered_and_rolled_back_row, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_arca_and_newer_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_restart, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
