/*
 * The open-time verification on two threads (rows split at the middle journal key) must refuse
 * exactly what the one-thread scan refuses, with the same code and detail: the first bad row in
 * key order. Edits at each part of the key range (start, both sides of the split, end), in one
 * half or in both at once: a changed ciphertext, nonce or version, a deleted row, two rows
 * swapped across the halves, an older version of a row put back.
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

#define N_META 64

struct row {
    int tbl;
    char hex[65];
};

struct fx {
    char *dir;
    char db[512], ks[512];
    struct arca_store_fixed_sealer fs;
    uint8_t *db_bytes, *ks_bytes;
    size_t db_len, ks_len;
    struct row rows[N_META + 16];
    size_t nrows;
};

static void restore(struct fx *f)
{
    test_store_files_put(f->db, f->db_bytes, f->db_len, f->ks, f->ks_bytes, f->ks_len);
}

static int row_cb(void *arg, int n, char **v, char **names)
{
    (void)names;
    struct fx *f = arg;
    if (n == 2 && f->nrows < sizeof(f->rows) / sizeof(f->rows[0])) {
        f->rows[f->nrows].tbl = atoi(v[0]);
        snprintf(f->rows[f->nrows].hex, sizeof(f->rows[0].hex), "%s", v[1]);
        f->nrows++;
    }
    return 0;
}

static int open_with(struct fx *f, unsigned threads)
{
    struct arca_store_options o = {
        .path = f->db, .keystore_path = f->ks, .sealer = &f->fs.sealer, .verify_threads = threads};
    struct arca_store *s = NULL;
    int rc = arca_store_open(&o, &s);
    arca_store_close(s);
    return rc;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    f->dir = tdir_make();
    snprintf(f->db, sizeof(f->db), "%s/arca.db", f->dir);
    snprintf(f->ks, sizeof(f->ks), "%s/arca.db.key-store", f->dir);
    uint8_t k[32];
    test_seal_key(k, 11);
    arca_store_fixed_sealer_init(&f->fs, k);
    struct arca_store *s = NULL;
    if (test_store_open(f->dir, &f->fs, true, &s) != 0)
        return -1;
    for (int i = 0; i < N_META; i++) {
        char key[16], val[64];
        snprintf(key, sizeof(key), "m%d", i);
        snprintf(val, sizeof(val), "value %d", i);
        if (arca_store_meta_put(s, key, val, strlen(val)) != 0)
            return -1;
    }
    /* m0 again: its first version is what the rollback edit puts back */
    if (arca_store_meta_put(s, "m0", "newer", 5) != 0)
        return -1;
    arca_store_close(s);
    sqlite3 *db = NULL;
    if (sqlite3_open(f->db, &db) != SQLITE_OK || sqlite3_exec(db, "VACUUM", 0, 0, 0) != SQLITE_OK)
        return -1;
    sqlite3_close(db);
    f->db_bytes = slurp(f->db, &f->db_len);
    f->ks_bytes = slurp(f->ks, &f->ks_len);
    test_sql_exec(f->db, "SELECT 1"); /* the file opens */
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    sqlite3_exec(db, "SELECT tbl, hex(rkey) FROM rec ORDER BY tbl, rkey", row_cb, f, NULL);
    sqlite3_close(db);
    if (f->nrows < 8)
        return -1;
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

/* Applies the edit (SQL; temporary tables a and b hold the table and key of rows a and b) to a
 * fresh copy, opens it with one and with two threads and checks both refuse alike; returns the
 * code. */
static int edit_both(struct fx *f, const char *edit, size_t a, size_t b, char detail[512])
{
    char q[2048];
    snprintf(q, sizeof(q),
             "CREATE TEMP TABLE a AS SELECT %d AS tbl, x'%s' AS rkey;"
             "CREATE TEMP TABLE b AS SELECT %d AS tbl, x'%s' AS rkey; %s",
             f->rows[a].tbl, f->rows[a].hex, f->rows[b].tbl, f->rows[b].hex, edit);
    restore(f);
    test_sql_exec(f->db, q);
    int rc1 = open_with(f, 1);
    char d1[512];
    snprintf(d1, sizeof(d1), "%s", arca_err_detail());
    restore(f);
    test_sql_exec(f->db, q);
    int rc2 = open_with(f, 2);
    if (rc1 != rc2 || strcmp(d1, arca_err_detail()) != 0)
        fprintf(stderr, "edit %s\n  one thread: %d %s\n  two threads: %d %s\n", q, rc1, d1, rc2,
                arca_err_detail());
    assert_int_equal(rc1, rc2);
    assert_string_equal(d1, arca_err_detail());
    snprintf(detail, 512, "%s", d1);
    return rc1;
}

/* The label open() gives row i in its details: the table name and the key's first 4 bytes. */
static bool names_row(const struct fx *f, size_t i, const char *detail)
{
    char lower[9];
    for (int j = 0; j < 8; j++)
        lower[j] = (char)(f->rows[i].hex[j] >= 'A' ? f->rows[i].hex[j] + 32 : f->rows[i].hex[j]);
    lower[8] = '\0';
    char want[16];
    snprintf(want, sizeof(want), "#%s", lower);
    return strstr(detail, want) != NULL;
}

static void test_clean_opens(void **state)
{
    struct fx *f = *state;
    restore(f);
    assert_int_equal(open_with(f, 1), 0);
    assert_int_equal(open_with(f, 2), 0);
    assert_int_equal(open_with(f, 0), 0);
}

static const char *const one_row_edits[] = {
    "UPDATE rec SET ct=randomblob(length(ct)) WHERE (tbl, rkey) = (SELECT tbl, rkey FROM a)",
    "UPDATE rec SET nonce=randomblob(12) WHERE (tbl, rkey) = (SELECT tbl, rkey FROM a)",
    "UPDATE rec SET ver=ver+1 WHERE (tbl, rkey) = (SELECT tbl, rkey FROM a)",
};

/* One edited row at each part of the key range: the error names that row. */
static void test_one_row(void **state)
{
    struct fx *f = *state;
    size_t n = f->nrows, at[] = {0, 1, n / 2 - 1, n / 2, n / 2 + 1, n - 2, n - 1};
    for (size_t e = 0; e < sizeof(one_row_edits) / sizeof(one_row_edits[0]); e++)
        for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
            char d[512];
            assert_int_equal(edit_both(f, one_row_edits[e], at[i], at[i], d), ARCA_ERR_TAMPERED);
            assert_true(names_row(f, at[i], d));
        }
}

/* Rows edited in both halves: the first in key order is named, as by the one-thread scan. */
static void test_both_halves(void **state)
{
    struct fx *f = *state;
    size_t n = f->nrows;
    size_t pairs[][2] = {{0, n - 1}, {n / 2 - 1, n / 2}, {1, n / 2 + 1}, {n / 2, n - 1}};
    for (size_t p = 0; p < sizeof(pairs) / sizeof(pairs[0]); p++) {
        char d[512];
        size_t a = pairs[p][0], b = pairs[p][1];
        assert_int_equal(edit_both(f,
                                   "UPDATE rec SET ct=randomblob(length(ct)) WHERE"
                                   " (tbl, rkey) IN (SELECT tbl, rkey FROM a UNION"
                                   " SELECT tbl, rkey FROM b)",
                                   a, b, d),
                         ARCA_ERR_TAMPERED);
        assert_true(names_row(f, a, d));
        /* two rows swapped across the halves */
        assert_int_equal(edit_both(f,
                                   "CREATE TEMP TABLE t AS SELECT tbl, rkey, nonce, ct FROM rec"
                                   " WHERE (tbl, rkey) IN (SELECT tbl, rkey FROM a UNION"
                                   " SELECT tbl, rkey FROM b);"
                                   "UPDATE rec SET nonce=(SELECT nonce FROM t WHERE t.rkey !="
                                   " rec.rkey), ct=(SELECT ct FROM t WHERE t.rkey != rec.rkey)"
                                   " WHERE rkey IN (SELECT rkey FROM t);",
                                   a, b, d),
                         ARCA_ERR_TAMPERED);
        assert_true(names_row(f, a, d));
    }
}

/* A deleted row (either half) and a row put back at its older version. */
static void test_delete_and_rollback(void **state)
{
    struct fx *f = *state;
    size_t n = f->nrows, at[] = {0, n / 2 - 1, n / 2, n - 1};
    for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
        char d[512];
        assert_int_equal(edit_both(f,
                                   "DELETE FROM rec WHERE (tbl, rkey) = (SELECT tbl, rkey FROM a)",
                                   at[i], at[i], d),
                         ARCA_ERR_TAMPERED);
        assert_non_null(strstr(d, "records were removed"));
    }
    /* m0's first version: the copy before the rewrite, taken from a store one write older */
    restore(f);
    struct arca_store *s = NULL;
    assert_int_equal(test_store_open(f->dir, &f->fs, false, &s), 0);
    arca_store_close(s);
    test_sql_exec(f->db, "CREATE TABLE old AS SELECT * FROM rec");
    assert_int_equal(test_store_open(f->dir, &f->fs, false, &s), 0);
    assert_int_equal(arca_store_meta_put(s, "m1", "newer", 5), 0);
    arca_store_close(s);
    test_sql_exec(f->db, "INSERT OR REPLACE INTO rec SELECT * FROM old; DROP TABLE old;");
    int rc1 = open_with(f, 1);
    char d1[512];
    snprintf(d1, sizeof(d1), "%s", arca_err_detail());
    int rc2 = open_with(f, 2);
    assert_int_equal(rc1, ARCA_ERR_TAMPERED);
    assert_int_equal(rc2, rc1);
    assert_string_equal(arca_err_detail(), d1);
    assert_non_null(strstr(d1, "does not match the state journal"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_opens),
        cmocka_unit_test(test_one_row),
        cmocka_unit_test(test_both_halves),
        cmocka_unit_test(test_delete_and_rollback),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
