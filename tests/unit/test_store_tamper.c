/*
 * Tampering with the sealed store's files: >= 200 deterministic random byte flips in the
 * database and in the key-store. Each one must be detected at open (a clear error) or at
 * read, or be harmless (it hit unused space); no flip may crash or make a read return data
 * other than what was written. Also record-level attacks: a row swapped with another, a row
 * replaced by its older version, a row deleted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_util.h"
#include <sqlite3.h>

#include "base/err.h"
#include "store/store.h"
#include "store_test_util.h"
#include "store_tamper_util.h"

#define N_SESSIONS 6
#define N_META 48 /* enough records that most database pages hold record bytes */

struct fx {
    char *dir;
    char db[512], ks[512];
    struct arca_store_fixed_sealer fs;
    uint8_t *db_bytes, *ks_bytes;
    size_t db_len, ks_len;
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void restore(struct fx *f)
{
    test_store_files_put(f->db, f->db_bytes, f->db_len, f->ks, f->ks_bytes, f->ks_len);
}

static const char *meta_val(int i)
{
    static char b[256];
    snprintf(b, sizeof(b),
             "metadata value number %d, padded so that the database pages fill up with sealed "
             "record bytes rather than free space: ................................ %d",
             i, i);
    return b;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    f->dir = tdir_make();
    snprintf(f->db, sizeof(f->db), "%s/arca.db", f->dir);
    snprintf(f->ks, sizeof(f->ks), "%s/arca.db.key-store", f->dir);
    uint8_t k[32];
    test_seal_key(k, 9);
    arca_store_fixed_sealer_init(&f->fs, k);
    struct arca_store *s = NULL;
    if (test_store_open(f->dir, &f->fs, true, &s) != 0)
        return -1;
    uint8_t prev[32];
    for (int i = 0; i < N_SESSIONS; i++) {
        struct arca_store_session v;
        test_session(&v, i < 3 ? "app/one" : "app/two", (uint8_t)(i + 1), i % 3 ? prev : NULL,
                     (uint64_t)(i % 3) + 1);
        char sec[32];
        snprintf(sec, sizeof(sec), "secrets-%d", i);
        if (arca_store_session_commit(s, &v, sec, strlen(sec)) != 0)
            return -1;
        memcpy(prev, v.hash, 32);
    }
    for (int i = 0; i < N_META; i++) {
        char key[16];
        snprintf(key, sizeof(key), "m%d", i);
        if (arca_store_meta_put(s, key, meta_val(i), strlen(meta_val(i))) != 0)
            return -1;
    }
    arca_store_once_put(s, "challenge", "abc", 3, INT64_MAX, "d", 1);
    struct arca_store_checkpoint cp = {.seq = 42, .time = 1, .sig_len = 3, .sig = {1, 2, 3}};
    arca_store_checkpoint_put(s, &cp, true);
    arca_store_close(s);
    /* drop free pages (page layout is not part of the chain) so that flips hit data */
    sqlite3 *db = NULL;
    if (sqlite3_open(f->db, &db) != SQLITE_OK || sqlite3_exec(db, "VACUUM", 0, 0, 0) != SQLITE_OK)
        return -1;
    sqlite3_close(db);
    f->db_bytes = slurp(f->db, &f->db_len);
    f->ks_bytes = slurp(f->ks, &f->ks_len);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    free(f->db_bytes);
    free(f->ks_bytes);
    tdir_remove(f->dir);
    free(f);
    return 0;
}

/* Reads every record; returns the number of reads that failed; fails the test if any read
 * returns data that differs from what was written. */
static int read_all(struct arca_store *s)
{
    int errors = 0;
    for (int i = 0; i < N_SESSIONS; i++) {
        uint8_t h[32];
        memset(h, i + 1, 32);
        struct arca_store_session *got = NULL;
        int rc = arca_store_session_get(s, h, &got);
        if (rc == 0) {
            assert_memory_equal(got->hash, h, 32);
            assert_string_equal(got->name, i < 3 ? "app/one" : "app/two");
            assert_int_equal(got->version, (uint64_t)(i % 3) + 1);
            assert_int_equal(got->created_at, 1700000000 + i + 1);
            assert_string_equal(got->yaml, "name: x\nversion: \"0.3.10\"\n");
            arca_store_session_free(got);
        } else {
            assert_true(strlen(arca_err_detail()) > 0);
            errors++;
        }
        struct arca_buf b;
        arca_buf_init_secret(&b, 0);
        rc = arca_store_secrets_get(s, h, &b);
        if (rc == 0) {
            char sec[32];
            snprintf(sec, sizeof(sec), "secrets-%d", i);
            assert_int_equal(b.len, strlen(sec));
            assert_memory_equal(b.data, sec, b.len);
        } else {
            errors++;
        }
        arca_buf_free(&b);
    }
    const char *names[] = {"app/one", "app/two"};
    for (int i = 0; i < 2; i++) {
        struct arca_store_active a;
        memset(&a, 0, sizeof(a));
        if (arca_store_active_get(s, names[i], &a) == 0) {
            uint8_t h[32];
            memset(h, i ? 6 : 3, 32);
            assert_memory_equal(a.hash, h, 32);
            assert_int_equal(a.version, 3);
            arca_store_active_clear(&a);
        } else {
            errors++;
        }
    }
    for (int i = 0; i < N_META; i++) {
        char key[16];
        snprintf(key, sizeof(key), "m%d", i);
        struct arca_buf b;
        arca_buf_init(&b, 0);
        if (arca_store_meta_get(s, key, &b) == 0) {
            assert_int_equal(b.len, strlen(meta_val(i)));
            assert_memory_equal(b.data, meta_val(i), b.len);
        } else {
            errors++;
        }
        arca_buf_free(&b);
    }
    struct arca_store_checkpoint cp;
    if (arca_store_checkpoint_latest(s, &cp) == 0) {
        assert_int_equal(cp.seq, 42);
        assert_int_equal(cp.sig_len, 3);
    } else {
        errors++;
    }
    struct arca_store_active *list = NULL;
    size_t n = 0;
    if (arca_store_active_list(s, "", &list, &n) == 0) {
        assert_int_equal(n, 2);
        arca_store_active_list_free(list, n);
    } else {
        errors++;
    }
    return errors;
}

static void flip_run(struct fx *f, bool in_db, int count)
{
    int at_open = 0, at_read = 0, harmless = 0;
    for (int i = 0; i < count; i++) {
        restore(f);
        uint8_t *bytes = in_db ? f->db_bytes : f->ks_bytes;
        size_t len = in_db ? f->db_len : f->ks_len;
        size_t off = (size_t)(rng() % len);
        uint8_t mask = (uint8_t)(rng() % 255 + 1);
        uint8_t *copy = malloc(len);
        memcpy(copy, bytes, len);
        copy[off] ^= mask;
        test_file_put(in_db ? f->db : f->ks, copy, len);
        free(copy);
        struct arca_store *s = NULL;
        int rc = test_store_open(f->dir, &f->fs, false, &s);
        if (rc != 0) {
            assert_true(rc < 0);
            const char *d = arca_err_detail();
            assert_true(strlen(d) > 0);
            assert_true(rc == ARCA_ERR_TAMPERED || rc == ARCA_ERR_IO || rc == ARCA_ERR_TIMEOUT);
            at_open++;
            continue;
        }
        int errors = read_all(s);
        arca_store_close(s);
        if (errors > 0)
            at_read++;
        else
            harmless++;
    }
    printf("%s: %d flips: %d refused at open, %d refused at read, %d in unused bytes\n",
           in_db ? "database" : "key-store", count, at_open, at_read, harmless);
    if (!in_db)
        assert_int_equal(at_open, count); /* the whole key-store is authenticated */
}

static void test_flip_database(void **state)
{
    struct fx *f = *state;
    rng_state = 0x1234567887654321ULL;
    flip_run(f, true, 200);
}

static void test_flip_keystore(void **state)
{
    struct fx *f = *state;
    rng_state = 0x0badc0ffee0ddf00ULL;
    flip_run(f, false, 60);
}

static void expect_open_fails(struct fx *f, const char *why)
{
    struct arca_store *s = NULL;
    int rc = test_store_open(f->dir, &f->fs, false, &s);
    if (rc == 0 || strstr(arca_err_detail(), why) == NULL)
        fprintf(stderr, "rc=%d detail=%s\n", rc, arca_err_detail());
    assert_int_equal(rc, ARCA_ERR_TAMPERED);
    assert_non_null(strstr(arca_err_detail(), why));
    arca_store_close(s);
}

static void test_record_edits(void **state)
{
    struct fx *f = *state;
    /* swap the ciphertexts of two session rows */
    restore(f);
    test_sql_exec(f->db,
                  "CREATE TEMP TABLE t AS SELECT rkey, nonce, ct FROM rec WHERE tbl=1 LIMIT 2;"
                  "UPDATE rec SET nonce=(SELECT nonce FROM t WHERE t.rkey != rec.rkey),"
                  " ct=(SELECT ct FROM t WHERE t.rkey != rec.rkey) WHERE tbl=1 AND rkey IN"
                  " (SELECT rkey FROM t);");
    expect_open_fails(f, "does not match the state journal");
    /* delete a row */
    restore(f);
    test_sql_exec(
        f->db, "DELETE FROM rec WHERE tbl=3 AND rkey=(SELECT rkey FROM rec WHERE tbl=3 LIMIT 1)");
    expect_open_fails(f, "records were removed");
    /* remove the last journal entries and their rows (a rollback of the journal) */
    restore(f);
    test_sql_exec(f->db, "DELETE FROM journal WHERE seq=(SELECT max(seq) FROM journal)");
    expect_open_fails(f, "");
    /* a journal edit */
    restore(f);
    test_sql_exec(f->db, "UPDATE journal SET ver=ver+1 WHERE seq=3");
    expect_open_fails(f, "state chain head");
    /* a row moved to another key */
    restore(f);
    test_sql_exec(f->db, "CREATE TEMP TABLE t AS SELECT rkey FROM rec WHERE tbl=6 LIMIT 1 OFFSET 1;"
                         "DELETE FROM rec WHERE tbl=6 AND rkey=(SELECT rkey FROM t);"
                         "UPDATE rec SET rkey=(SELECT rkey FROM t)"
                         " WHERE tbl=6 AND rkey=(SELECT rkey FROM rec WHERE tbl=6 LIMIT 1);");
    expect_open_fails(f, "");
    /* an older version of a record put back (meta m0 was written once; write it again first) */
    restore(f);
    struct arca_store *s = NULL;
    assert_int_equal(test_store_open(f->dir, &f->fs, false, &s), 0);
    arca_store_close(s);
    test_sql_exec(f->db, "CREATE TABLE old AS SELECT * FROM rec WHERE tbl=4");
    assert_int_equal(test_store_open(f->dir, &f->fs, false, &s), 0);
    assert_int_equal(arca_store_once_take(s, "challenge", "abc", 3, 0, NULL), 0);
    arca_store_close(s);
    test_sql_exec(f->db, "INSERT INTO rec SELECT * FROM old; DROP TABLE old;");
    expect_open_fails(f, "");
    /* edits while the store is running are refused at read */
    restore(f);
    assert_int_equal(test_store_open(f->dir, &f->fs, false, &s), 0);
    /* Two of the m%d records: the table also holds the store's own small metadata (the
     * sessions-created count), so take the longest rows, not the first two in key order. */
    test_sql_exec(f->db, "CREATE TEMP TABLE t AS SELECT rkey, nonce, ct FROM rec WHERE tbl=6"
                         " ORDER BY length(ct) DESC, rkey LIMIT 2;"
                         "UPDATE rec SET nonce=(SELECT nonce FROM t WHERE t.rkey != rec.rkey),"
                         " ct=(SELECT ct FROM t WHERE t.rkey != rec.rkey) WHERE tbl=6 AND rkey IN"
                         " (SELECT rkey FROM t);");
    int refused = 0;
    for (int i = 0; i < N_META; i++) {
        char key[16];
        snprintf(key, sizeof(key), "m%d", i);
        struct arca_buf b;
        arca_buf_init(&b, 0);
        int rc = arca_store_meta_get(s, key, &b);
        if (rc == 0) {
            assert_int_equal(b.len, strlen(meta_val(i)));
            assert_memory_equal(b.data, meta_val(i), b.len);
        } else {
            assert_int_equal(rc, ARCA_ERR_TAMPERED);
            assert_non_null(strstr(arca_err_detail(), "meta record"));
            refused++;
        }
        arca_buf_free(&b);
    }
    assert_int_equal(refused, 2);
    arca_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flip_database),
        cmocka_unit_test(test_flip_keystore),
        cmocka_unit_test(test_record_edits),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
