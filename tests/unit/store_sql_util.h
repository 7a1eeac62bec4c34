/* SQL behind the store's back, on either backend (tamper and rollback tests; header-only, static;
 * for tests that link arca_store). */
#ifndef ARCA_TEST_STORE_SQL_UTIL_H
#define ARCA_TEST_STORE_SQL_UTIL_H

#include <libpq-fe.h>
#include <sqlite3.h>

#include "store_test_util.h"

/* Runs SQL on dir's database behind the store's back (tamper and rollback tests): sqlite_sql
 * on the file, pg_sql on the PostgreSQL database. 0 on success. */
static inline int test_store_sql(const char *dir, const char *sqlite_sql, const char *pg_sql)
{
    char path[512];
    test_store_path(dir, path, sizeof(path));
    if (test_store_is_pg()) {
        PGconn *c = PQconnectdb(path);
        PGresult *r = PQexec(c, pg_sql);
        ExecStatusType st = PQresultStatus(r);
        int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
        if (!ok)
            fprintf(stderr, "sql: %s", PQresultErrorMessage(r));
        PQclear(r);
        PQfinish(c);
        return ok ? 0 : -1;
    }
    sqlite3 *db = NULL;
    int rc = sqlite3_open(path, &db) == SQLITE_OK &&
                     sqlite3_exec(db, sqlite_sql, NULL, NULL, NULL) == SQLITE_OK
                 ? 0
                 : -1;
    sqlite3_close(db);
    return rc;
}

/* Keeps a copy of dir's database under tag (the store must be closed for SQLite). */
static inline int test_store_save(const char *dir, const char *tag)
{
    char cmd[1200];
    if (!test_store_is_pg()) {
        snprintf(cmd, sizeof(cmd), "cp %s/arca.db %s/%s.db", dir, dir, tag);
        return system(cmd) == 0 ? 0 : -1;
    }
    snprintf(cmd, sizeof(cmd),
             "DROP TABLE IF EXISTS %s_rec, %s_journal, %s_head;"
             " CREATE TABLE %s_rec AS SELECT * FROM arca_rec;"
             " CREATE TABLE %s_journal AS SELECT * FROM arca_journal;"
             " CREATE TABLE %s_head AS SELECT * FROM arca_head",
             tag, tag, tag, tag, tag, tag);
    return test_store_sql(dir, NULL, cmd);
}

/* Puts the copy saved under tag back: the database rolled back to that state. */
static inline int test_store_restore(const char *dir, const char *tag)
{
    char cmd[1200];
    if (!test_store_is_pg()) {
        snprintf(cmd, sizeof(cmd), "cp %s/%s.db %s/arca.db", dir, tag, dir);
        return system(cmd) == 0 ? 0 : -1;
    }
    snprintf(cmd, sizeof(cmd),
             "BEGIN; DELETE FROM arca_rec; DELETE FROM arca_journal; DELETE FROM arca_head;"
             " INSERT INTO arca_rec SELECT * FROM %s_rec;"
             " INSERT INTO arca_journal SELECT * FROM %s_journal;"
             " INSERT INTO arca_head SELECT * FROM %s_head; COMMIT",
             tag, tag, tag);
    return test_store_sql(dir, NULL, cmd);
}

#endif
