/* Helpers of the store tampering tests: put the store's files back between cases and edit
 * records with SQL, as an attacker holding the file and sqlite3 would. Include after cmocka.h. */
#ifndef ARCA_STORE_TAMPER_UTIL_H
#define ARCA_STORE_TAMPER_UTIL_H

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

static inline void test_file_put(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

/* Writes back a SQLite store saved as bytes (database and key-store), dropping the WAL and
 * shared-memory files a run left beside the database. */
static inline void test_store_files_put(const char *db, const uint8_t *db_bytes, size_t db_len,
                                        const char *ks, const uint8_t *ks_bytes, size_t ks_len)
{
    char side[600];
    snprintf(side, sizeof(side), "%s-wal", db);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", db);
    unlink(side);
    test_file_put(db, db_bytes, db_len);
    test_file_put(ks, ks_bytes, ks_len);
}

/* Runs q on the database file at db, outside the store. */
static inline void test_sql_exec(const char *db, const char *q)
{
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    char *err = NULL;
    int rc = sqlite3_exec(h, q, NULL, NULL, &err);
    if (rc != SQLITE_OK)
        fprintf(stderr, "sql: %s\n", err);
    sqlite3_free(err);
    assert_int_equal(rc, SQLITE_OK);
    sqlite3_close(h);
}

#endif
