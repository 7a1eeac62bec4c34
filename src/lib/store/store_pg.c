/*
 * PostgreSQL backend of the sealed store (backend.h), through libpq; selected by a store path
 * "postgresql://..." or "postgres://..." (a libpq connection URI: TLS to the server with
 * certificate verification is "?sslmode=verify-full&sslrootcert=FILE", docs/arcad.md).
 *
 * Several arcads may share one database: the engine then locks the head row (arca_head,
 * SELECT ... FOR UPDATE) first in every write transaction, which serialises the writers of all
 * arcads on it; it reloads its cached commit/head from that row (authenticated by a MAC under
 * the index key, engine.c), so no two arcads ever extend the chain from the same predecessor.
 * Every transaction runs READ COMMITTED: each statement after the head lock sees every commit
 * before it. What can still collide (two first writes racing on the very first commit) is a
 * unique violation or serialisation failure: ARCA_ERR_CONFLICT, nothing written.
 *
 * Connections: one writer (used only by the serialised writer) and a pool of readers, each with
 * its own mutex, taken as in store_sqlite.c. Statements are prepared once per connection with
 * binary parameters and results. A connection that broke (the server restarted) is reset before
 * its next use, and a read retries once on a fresh connection; while the server is unreachable
 * every call fails with ARCA_ERR_NETWORK (arcad answers 503). A write whose COMMIT got no answer
 * is reported failed; the next write transaction reloads the head from the database, so it
 * continues correctly whether or not that commit landed.
 *
 * Large results (scan, journal walk) are buffered whole by libpq: the journal stays bounded by
 * compaction (engine.c), a table scan is what SQLite's callers see too.
 */
#include <arpa/inet.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "store/backend.h"
#include "store/store.h"

#define PG_SCHEMA_VERSION 1

/* type oids (pg_type.h is server-side; these are fixed since PostgreSQL 7) */
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_INT4 23

enum {
    PS_GET,
    PS_SCAN,
    PS_JWALK,
    PS_COUNT,
    PS_PUT,
    PS_DEL,
    PS_JADD,
    PS_JCLEAR,
    PS_HEAD,
    PS_HEAD_LOCK,
    PS_HEAD_PUT,
    PS_N
};

struct pg_stmt {
    const char *sql;
    int nparams;
    Oid types[6];
};

#define LATEST_J                                                                                   \
    " LEFT JOIN LATERAL (SELECT ver, cthash FROM arca_journal j WHERE j.tbl=r.tbl"                 \
    " AND j.rkey=r.rkey ORDER BY seq DESC LIMIT 1) j ON true"

static const struct pg_stmt stmts[PS_N] = {
    [PS_GET] = {"SELECT j.ver, j.cthash, r.ver, r.nonce, r.ct FROM"
                " (SELECT $1::int4 AS tbl, $2::bytea AS rkey) k"
                " LEFT JOIN arca_rec r ON r.tbl=k.tbl AND r.rkey=k.rkey"
                " LEFT JOIN LATERAL (SELECT ver, cthash FROM arca_journal j WHERE j.tbl=k.tbl"
                " AND j.rkey=k.rkey ORDER BY seq DESC LIMIT 1) j ON true",
                2,
                {OID_INT4, OID_BYTEA}},
    [PS_SCAN] = {"SELECT r.rkey, r.ver, r.nonce, r.ct, j.ver, j.cthash FROM arca_rec r" LATEST_J
                 " WHERE r.tbl=$1 ORDER BY r.rkey",
                 1,
                 {OID_INT4}},
    [PS_JWALK] = {"SELECT seq, commit_no, tbl, rkey, ver, cthash FROM arca_journal ORDER BY seq",
                  0,
                  {0}},
    [PS_COUNT] = {"SELECT (SELECT count(*) FROM arca_rec), (SELECT count(*) FROM arca_journal j"
                  " WHERE j.seq = (SELECT max(seq) FROM arca_journal k WHERE k.tbl=j.tbl AND"
                  " k.rkey=j.rkey) AND j.cthash <> decode(repeat('00', 32), 'hex')"
                  " AND j.tbl <> 0)",
                  0,
                  {0}},
    [PS_PUT] = {"INSERT INTO arca_rec(tbl, rkey, ver, nonce, ct) VALUES ($1, $2, $3, $4, $5)"
                " ON CONFLICT (tbl, rkey) DO UPDATE SET ver=excluded.ver, nonce=excluded.nonce,"
                " ct=excluded.ct",
                5,
                {OID_INT4, OID_BYTEA, OID_INT8, OID_BYTEA, OID_BYTEA}},
    [PS_DEL] = {"DELETE FROM arca_rec WHERE tbl=$1 AND rkey=$2", 2, {OID_INT4, OID_BYTEA}},
    [PS_JADD] = {"INSERT INTO arca_journal(seq, commit_no, tbl, rkey, ver, cthash)"
                 " VALUES ($1, $2, $3, $4, $5, $6)",
                 6,
                 {OID_INT8, OID_INT8, OID_INT4, OID_BYTEA, OID_INT8, OID_BYTEA}},
    [PS_JCLEAR] = {"DELETE FROM arca_journal", 0, {0}},
    [PS_HEAD] = {"SELECT commit_no, seq, head, mac FROM arca_head WHERE id=1", 0, {0}},
    [PS_HEAD_LOCK] = {"SELECT commit_no, seq, head, mac FROM arca_head WHERE id=1 FOR UPDATE",
                      0,
                      {0}},
    [PS_HEAD_PUT] = {"UPDATE arca_head SET commit_no=$1, seq=$2, head=$3, mac=$4 WHERE id=1",
                     4,
                     {OID_INT8, OID_INT8, OID_BYTEA, OID_BYTEA}},
};

/* Idempotent, and serialised by an advisory lock so that two arcads starting on one empty
 * database do not race on it. The head row exists from the start (commit 0, no MAC). */
static const char schema[] =
    "BEGIN;"
    "SELECT pg_advisory_xact_lock(7283849001);"
    "CREATE TABLE IF NOT EXISTS arca_meta(name text PRIMARY KEY, value bigint NOT NULL);"
    "INSERT INTO arca_meta VALUES ('schema_version', 1) ON CONFLICT DO NOTHING;"
    "CREATE TABLE IF NOT EXISTS arca_rec(tbl int4 NOT NULL, rkey bytea NOT NULL,"
    " ver int8 NOT NULL, nonce bytea NOT NULL, ct bytea NOT NULL, PRIMARY KEY (tbl, rkey));"
    "CREATE TABLE IF NOT EXISTS arca_journal(seq int8 PRIMARY KEY, commit_no int8 NOT NULL,"
    " tbl int4 NOT NULL, rkey bytea NOT NULL, ver int8 NOT NULL, cthash bytea NOT NULL);"
    "CREATE INDEX IF NOT EXISTS arca_journal_key ON arca_journal(tbl, rkey, seq);"
    "CREATE TABLE IF NOT EXISTS arca_head(id int4 PRIMARY KEY CHECK (id = 1),"
    " commit_no int8 NOT NULL, seq int8 NOT NULL, head bytea NOT NULL, mac bytea NOT NULL);"
    "INSERT INTO arca_head VALUES (1, 0, 0, decode(repeat('00', 32), 'hex'), ''::bytea)"
    " ON CONFLICT DO NOTHING;"
    "COMMIT;";

struct pg_conn {
    PGconn *c;
    pthread_mutex_t mu;
    bool ready; /* connected, session settings made and statements prepared */
};

struct pg {
    char *url;
    struct pg_conn w;
    struct pg_conn *r;
    unsigned nr;
    atomic_uint rr;
    atomic_bool pinned; /* open() verifies on the writer's snapshot (pg_pin) */
};

/* Maps a failed result (or a connection failure when res is NULL) to an arca error. */
static int pg_err(struct pg_conn *pc, const PGresult *res, const char *what)
{
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res != NULL ? PQresultErrorMessage(res) : NULL;
    if (msg == NULL || msg[0] == '\0')
        msg = pc->c != NULL ? PQerrorMessage(pc->c) : "no connection";
    size_t n = strcspn(msg, "\n");
    /* errors libpq makes itself (a lost connection) carry no SQLSTATE */
    if (pc->c == NULL || PQstatus(pc->c) != CONNECTION_OK || state == NULL ||
        strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0) {
        pc->ready = false;
        return arca_err_set(ARCA_ERR_NETWORK, "store: PostgreSQL unreachable (%s): %.*s", what,
                            (int)n, msg);
    }
    if (state != NULL &&
        (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || strcmp(state, "23505") == 0))
        return arca_err_set(ARCA_ERR_CONFLICT,
                            "store: another arcad wrote the database at the same time (%s: %.*s)",
                            what, (int)n, msg);
    if (state != NULL && strcmp(state, "42P01") == 0)
        return arca_err_set(ARCA_ERR_NOT_FOUND,
                            "store: the PostgreSQL database has no arca schema (%s: %.*s)", what,
                            (int)n, msg);
    return arca_err_set(ARCA_ERR_IO, "store: PostgreSQL %s: %.*s", what, (int)n, msg);
}

static int exec_cmd(struct pg_conn *pc, const char *sql, const char *what)
{
    PGresult *res = PQexec(pc->c, sql);
    ExecStatusType st = PQresultStatus(res);
    int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : pg_err(pc, res, what);
    PQclear(res);
    return rc;
}

/* Checks the schema version: a newer one is refused by name, never read. */
static int schema_check(struct pg_conn *pc)
{
    PGresult *res = PQexec(pc->c, "SELECT value FROM arca_meta WHERE name='schema_version'");
    int rc = 0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = pg_err(pc, res, "schema version");
    } else if (PQntuples(res) != 1) {
        rc = arca_err_set(ARCA_ERR_TAMPERED, "store: the PostgreSQL schema has no version row");
    } else {
        long v = strtol(PQgetvalue(res, 0, 0), NULL, 10);
        if (v > PG_SCHEMA_VERSION)
            rc = arca_err_set(ARCA_ERR_UNSUPPORTED,
                              "store: the PostgreSQL database has schema version %ld, newer than "
                              "this arcad's %d: upgrade arcad",
                              v, PG_SCHEMA_VERSION);
        else if (v < 1)
            rc = arca_err_set(ARCA_ERR_TAMPERED,
                              "store: the PostgreSQL schema version %ld is "
                              "invalid",
                              v);
    }
    PQclear(res);
    return rc;
}

static void notice_ignore(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

/* (Re)connects pc if needed: connection, settings, schema (create) and prepared statements. */
static int conn_ready(struct pg *q, struct pg_conn *pc, bool create)
{
    if (pc->ready && pc->c != NULL && PQstatus(pc->c) == CONNECTION_OK)
        return 0;
    if (pc->c != NULL)
        PQfinish(pc->c);
    pc->ready = false;
    pc->c = PQconnectdb(q->url);
    if (pc->c == NULL)
        return arca_err_set(ARCA_ERR_ALLOC, "store: PostgreSQL connection");
    if (PQstatus(pc->c) != CONNECTION_OK)
        return pg_err(pc, NULL, "connect");
    /* server notices (e.g. "terminating connection") are not ours to print */
    PQsetNoticeProcessor(pc->c, notice_ignore, NULL);
    /* the store's transactions rely on these whatever the server's defaults are */
    ARCA_TRY(exec_cmd(pc,
                      "SET synchronous_commit = on;"
                      " SET default_transaction_isolation = 'read committed';"
                      " SET client_min_messages = warning",
                      "session settings"));
    if (create)
        ARCA_TRY(exec_cmd(pc, schema, "create schema"));
    ARCA_TRY(schema_check(pc));
    for (int i = 0; i < PS_N; i++) {
        char name[16];
        snprintf(name, sizeof(name), "a%d", i);
        PGresult *res = PQprepare(pc->c, name, stmts[i].sql, stmts[i].nparams, stmts[i].types);
        int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : pg_err(pc, res, "prepare");
        PQclear(res);
        if (rc < 0)
            return rc;
    }
    pc->ready = true;
    return 0;
}

static void conn_close(struct pg_conn *pc)
{
    if (pc->c != NULL)
        PQfinish(pc->c);
    pc->c = NULL;
    pthread_mutex_destroy(&pc->mu);
}

static void pg_close(void *be)
{
    struct pg *q = be;
    if (q == NULL)
        return;
    for (unsigned i = 0; i < q->nr; i++)
        conn_close(&q->r[i]);
    free(q->r);
    conn_close(&q->w);
    free(q->url);
    free(q);
}

static int pg_open(const char *url, bool create, unsigned readers, int busy_ms, unsigned wal_frames,
                   void **out)
{
    (void)busy_ms; /* writers wait on the head row lock; PostgreSQL has no busy timeout */
    (void)wal_frames;
    if (arca_store_fault_hit("backend open"))
        return ARCA_ERR_IO;
    struct pg *q = calloc(1, sizeof(*q));
    if (q == NULL || (q->url = strdup(url)) == NULL) {
        free(q);
        return arca_err_set(ARCA_ERR_ALLOC, "store: backend");
    }
    pthread_mutex_init(&q->w.mu, NULL);
    int rc = conn_ready(q, &q->w, create);
    if (rc == 0 && (q->r = calloc(readers, sizeof(*q->r))) == NULL)
        rc = arca_err_set(ARCA_ERR_ALLOC, "store: reader pool");
    for (unsigned i = 0; rc == 0 && i < readers; i++) {
        pthread_mutex_init(&q->r[i].mu, NULL);
        q->nr++;
        rc = conn_ready(q, &q->r[i], false);
    }
    if (rc < 0) {
        pg_close(q);
        return rc;
    }
    *out = q;
    return 0;
}

static struct pg_conn *reader_take(struct pg *q)
{
    if (atomic_load(&q->pinned)) /* open() only: single-threaded, writer mutex held */
        return &q->w;
    unsigned start = atomic_fetch_add(&q->rr, 1);
    for (unsigned i = 0; i < q->nr; i++) {
        struct pg_conn *c = &q->r[(start + i) % q->nr];
        if (pthread_mutex_trylock(&c->mu) == 0)
            return c;
    }
    struct pg_conn *c = &q->r[start % q->nr];
    pthread_mutex_lock(&c->mu);
    return c;
}

static void reader_give(struct pg *q, struct pg_conn *c)
{
    if (c != &q->w)
        pthread_mutex_unlock(&c->mu);
}

/* Runs prepared statement i with binary parameters; *res is a PGRES_TUPLES_OK / COMMAND_OK
 * result the caller PQclears. */
static int run(struct pg_conn *pc, int i, const char *const *vals, const int *lens, PGresult **res,
               const char *what)
{
    static const int fmts[6] = {1, 1, 1, 1, 1, 1};
    char name[16];
    snprintf(name, sizeof(name), "a%d", i);
    *res = PQexecPrepared(pc->c, name, stmts[i].nparams, vals, lens, fmts, 1);
    ExecStatusType st = PQresultStatus(*res);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return 0;
    int rc = pg_err(pc, *res, what);
    PQclear(*res);
    *res = NULL;
    return rc;
}

/* A read on a pooled connection: connects first if needed and retries once after the
 * connection broke (the server restarted), since reads change nothing. */
static int run_read(struct pg *q, struct pg_conn *pc, int i, const char *const *vals,
                    const int *lens, PGresult **res, const char *what)
{
    int rc = pc == &q->w ? 0 : conn_ready(q, pc, false);
    if (rc == 0)
        rc = run(pc, i, vals, lens, res, what);
    if (rc == ARCA_ERR_NETWORK && pc != &q->w) {
        rc = conn_ready(q, pc, false);
        if (rc == 0)
            rc = run(pc, i, vals, lens, res, what);
    }
    return rc;
}

static uint64_t get_u64(const PGresult *res, int row, int col)
{
    const unsigned char *p = (const unsigned char *)PQgetvalue(res, row, col);
    uint64_t v = 0;
    if (PQgetlength(res, row, col) == 8)
        for (int k = 0; k < 8; k++)
            v = v << 8 | p[k];
    else if (PQgetlength(res, row, col) == 4)
        for (int k = 0; k < 4; k++)
            v = v << 8 | p[k];
    return v;
}

static int col_fixed(const PGresult *res, int row, int col, uint8_t *out, size_t n,
                     const char *what)
{
    if (PQgetisnull(res, row, col) || (size_t)PQgetlength(res, row, col) != n)
        return arca_err_set(ARCA_ERR_TAMPERED, "store: %s is not a %zu-byte value", what, n);
    memcpy(out, PQgetvalue(res, row, col), n);
    return 0;
}

/* Fills row from the columns (ver, nonce, ct) at col and (jver, jhash) at jcol. */
static int row_fill(const PGresult *res, int r, int col, int jcol, struct arca_store_row *row)
{
    row->journaled = !PQgetisnull(res, r, jcol);
    if (row->journaled) {
        row->jver = get_u64(res, r, jcol);
        ARCA_TRY(col_fixed(res, r, jcol + 1, row->jhash, 32, "journal hash"));
    }
    row->present = !PQgetisnull(res, r, col);
    if (!row->present)
        return 0;
    row->ver = get_u64(res, r, col);
    ARCA_TRY(col_fixed(res, r, col + 1, row->nonce, ARCA_STORE_NONCE_LEN, "record nonce"));
    arca_buf_reset(&row->ct);
    return arca_buf_put(&row->ct, PQgetvalue(res, r, col + 2),
                        (size_t)PQgetlength(res, r, col + 2));
}

struct be64 {
    unsigned char b[8];
};

static struct be64 be64(uint64_t v)
{
    struct be64 o;
    for (int i = 0; i < 8; i++)
        o.b[i] = (unsigned char)(v >> (56 - 8 * i));
    return o;
}

static int get_on(struct pg *q, struct pg_conn *pc, int tbl,
                  const uint8_t rkey[ARCA_STORE_RKEY_LEN], struct arca_store_row *row)
{
    uint32_t t = htonl((uint32_t)tbl);
    const char *vals[2] = {(const char *)&t, (const char *)rkey};
    int lens[2] = {4, ARCA_STORE_RKEY_LEN};
    PGresult *res = NULL;
    int rc = pc == &q->w ? run(pc, PS_GET, vals, lens, &res, "read record")
                         : run_read(q, pc, PS_GET, vals, lens, &res, "read record");
    if (rc < 0)
        return rc;
    if (PQntuples(res) != 1)
        rc = arca_err_set(ARCA_ERR_INTERNAL, "store: read record: %d rows", PQntuples(res));
    else
        rc = row_fill(res, 0, 2, 0, row);
    PQclear(res);
    if (rc == 0 && !row->present && !row->journaled)
        rc = ARCA_ERR_NOT_FOUND;
    return rc;
}

static int pg_get(void *be, int tbl, const uint8_t rkey[ARCA_STORE_RKEY_LEN],
                  struct arca_store_row *row)
{
    if (arca_store_fault_hit("backend get"))
        return ARCA_ERR_IO;
    struct pg *q = be;
    struct pg_conn *c = reader_take(q);
    int rc = get_on(q, c, tbl, rkey, row);
    reader_give(q, c);
    return rc;
}

static int pg_wget(void *be, int tbl, const uint8_t rkey[ARCA_STORE_RKEY_LEN],
                   struct arca_store_row *row)
{
    if (arca_store_fault_hit("backend wget"))
        return ARCA_ERR_IO;
    struct pg *q = be;
    return get_on(q, &q->w, tbl, rkey, row);
}

static int pg_scan(void *be, int tbl, arca_store_row_cb cb, void *arg)
{
    if (arca_store_fault_hit("backend scan"))
        return ARCA_ERR_IO;
    struct pg *q = be;
    struct pg_conn *c = reader_take(q);
    uint32_t t = htonl((uint32_t)tbl);
    const char *vals[1] = {(const char *)&t};
    int lens[1] = {4};
    PGresult *res = NULL;
    int err = run_read(q, c, PS_SCAN, vals, lens, &res, "scan records");
    reader_give(q, c);
    if (err < 0)
        return err;
    struct arca_store_row row;
    memset(&row, 0, sizeof(row));
    arca_buf_init(&row.ct, 0);
    for (int i = 0; err == 0 && i < PQntuples(res); i++) {
        err = col_fixed(res, i, 0, row.rkey, ARCA_STORE_RKEY_LEN, "record key");
        if (err == 0)
            err = row_fill(res, i, 1, 4, &row);
        if (err == 0)
            err = cb(arg, &row);
    }
    PQclear(res);
    arca_buf_free(&row.ct);
    return err;
}

static int pg_journal_walk(void *be, arca_store_jentry_cb cb, void *arg)
{
    if (arca_store_fault_hit("backend journal walk"))
        return ARCA_ERR_IO;
    struct pg *q = be;
    struct pg_conn *c = reader_take(q);
    PGresult *res = NULL;
    int err = run_read(q, c, PS_JWALK, NULL, NULL, &res, "walk journal");
    reader_give(q, c);
    if (err < 0)
        return err;
    struct arca_store_jentry e;
    for (int i = 0; err == 0 && i < PQntuples(res); i++) {
        memset(&e, 0, sizeof(e));
        e.seq = get_u64(res, i, 0);
        e.commit = get_u64(res, i, 1);
        e.tbl = (int)get_u64(res, i, 2);
        err = col_fixed(res, i, 3, e.rkey, ARCA_STORE_RKEY_LEN, "journal key");
        e.ver = get_u64(res, i, 4);
        if (err == 0)
            err = col_fixed(res, i, 5, e.cthash, 32, "journal hash");
        if (err == 0)
            err = cb(arg, &e);
    }
    PQclear(res);
    return err;
}

static int pg_count_live(void *be, uint64_t *rows, uint64_t *live)
{
    struct pg *q = be;
    struct pg_conn *c = reader_take(q);
    PGresult *res = NULL;
    int err = run_read(q, c, PS_COUNT, NULL, NULL, &res, "count");
    reader_give(q, c);
    if (err < 0)
        return err;
    *rows = get_u64(res, 0, 0);
    *live = get_u64(res, 0, 1);
    PQclear(res);
    return 0;
}

static int pg_check(void *be)
{
    if (arca_store_fault_hit("backend check"))
        return ARCA_ERR_IO;
    struct pg *q = be;
    struct pg_conn *c = reader_take(q);
    int rc = c == &q->w ? 0 : conn_ready(q, c, false);
    if (rc == 0)
        rc = schema_check(c);
    reader_give(q, c);
    return rc;
}

static int pg_begin(void *be)
{
    if (arca_store_fault_hit("backend begin"))
        return ARCA_ERR_IO;
    struct pg *q = be;
    ARCA_TRY(conn_ready(q, &q->w, false));
    int rc = exec_cmd(&q->w, "BEGIN", "begin");
    if (rc == ARCA_ERR_NETWORK) { /* the server restarted since the last write: reconnect */
        ARCA_TRY(conn_ready(q, &q->w, false));
        rc = exec_cmd(&q->w, "BEGIN", "begin");
    }
    return rc;
}

static int pg_commit(void *be)
{
    if (arca_store_fault_hit("backend commit"))
        return ARCA_ERR_IO;
    struct pg *q = be;
    PGresult *res = PQexec(q->w.c, "COMMIT");
    /* COMMIT of a transaction that already failed answers ROLLBACK with COMMAND_OK */
    const char *tag = PQcmdStatus(res);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK && tag != NULL && strcmp(tag, "COMMIT") == 0
                 ? 0
                 : pg_err(&q->w, res, "commit");
    if (rc == ARCA_ERR_IO && PQresultStatus(res) == PGRES_COMMAND_OK)
        rc = arca_err_set(ARCA_ERR_IO, "store: PostgreSQL commit: the transaction was rolled "
                                       "back");
    PQclear(res);
    return rc;
}

static void pg_rollback(void *be)
{
    struct pg *q = be;
    if (q->w.c != NULL && PQstatus(q->w.c) == CONNECTION_OK &&
        PQtransactionStatus(q->w.c) != PQTRANS_IDLE)
        (void)exec_cmd(&q->w, "ROLLBACK", "rollback");
}

static int pg_savepoint(void *be)
{
    if (arca_store_fault_hit("backend savepoint"))
        return ARCA_ERR_IO;
    struct pg *q = be;
    return exec_cmd(&q->w, "SAVEPOINT arca_tx", "savepoint");
}

static int pg_release(void *be)
{
    if (arca_store_fault_hit("backend release"))
        return ARCA_ERR_IO;
    struct pg *q = be;
    return exec_cmd(&q->w, "RELEASE SAVEPOINT arca_tx", "release savepoint");
}

/* Also clears a statement error of the member (PostgreSQL refuses everything after one until
 * then); RELEASE ends the savepoint so the next member opens its own. */
static int pg_rollback_to(void *be)
{
    struct pg *q = be;
    ARCA_TRY(exec_cmd(&q->w, "ROLLBACK TO SAVEPOINT arca_tx", "rollback to savepoint"));
    return exec_cmd(&q->w, "RELEASE SAVEPOINT arca_tx", "release savepoint");
}

static int pg_backup(void *be, const char *path)
{
    (void)be;
    (void)path;
    return arca_err_set(ARCA_ERR_UNSUPPORTED,
                        "store: a snapshot of a PostgreSQL store is taken with PostgreSQL's own "
                        "tools (pg_basebackup, pg_dump) together with the data dir's key-store");
}

static int pg_put(void *be, int tbl, const uint8_t rkey[ARCA_STORE_RKEY_LEN], uint64_t ver,
                  const uint8_t nonce[ARCA_STORE_NONCE_LEN], const void *ct, size_t ctlen)
{
    if (arca_store_fault_hit("backend put"))
        return ARCA_ERR_IO;
    ARCA_ENSURE(ctlen < (1u << 30), ARCA_ERR_TOO_LARGE, "store: record of %zu bytes", ctlen);
    struct pg *q = be;
    uint32_t t = htonl((uint32_t)tbl);
    struct be64 v = be64(ver);
    const char *vals[5] = {(const char *)&t, (const char *)rkey, (const char *)v.b,
                           (const char *)nonce, ct != NULL ? ct : ""};
    int lens[5] = {4, ARCA_STORE_RKEY_LEN, 8, ARCA_STORE_NONCE_LEN, (int)ctlen};
    PGresult *res = NULL;
    ARCA_TRY(run(&q->w, PS_PUT, vals, lens, &res, "write record"));
    PQclear(res);
    return 0;
}

static int pg_del(void *be, int tbl, const uint8_t rkey[ARCA_STORE_RKEY_LEN])
{
    if (arca_store_fault_hit("backend delete"))
        return ARCA_ERR_IO;
    struct pg *q = be;
    uint32_t t = htonl((uint32_t)tbl);
    const char *vals[2] = {(const char *)&t, (const char *)rkey};
    int lens[2] = {4, ARCA_STORE_RKEY_LEN};
    PGresult *res = NULL;
    ARCA_TRY(run(&q->w, PS_DEL, vals, lens, &res, "delete record"));
    PQclear(res);
    return 0;
}

static int pg_journal_add(void *be, const struct arca_store_jentry *e)
{
    if (arca_store_fault_hit("backend journal"))
        return ARCA_ERR_IO;
    struct pg *q = be;
    struct be64 s = be64(e->seq), c = be64(e->commit), v = be64(e->ver);
    uint32_t t = htonl((uint32_t)e->tbl);
    const char *vals[6] = {(const char *)s.b,     (const char *)c.b, (const char *)&t,
                           (const char *)e->rkey, (const char *)v.b, (const char *)e->cthash};
    int lens[6] = {8, 8, 4, ARCA_STORE_RKEY_LEN, 8, 32};
    PGresult *res = NULL;
    ARCA_TRY(run(&q->w, PS_JADD, vals, lens, &res, "append journal"));
    PQclear(res);
    return 0;
}

static int pg_journal_clear(void *be)
{
    if (arca_store_fault_hit("backend journal clear"))
        return ARCA_ERR_IO;
    struct pg *q = be;
    PGresult *res = NULL;
    ARCA_TRY(run(&q->w, PS_JCLEAR, NULL, NULL, &res, "clear journal"));
    PQclear(res);
    return 0;
}

static int pg_head(void *be, bool in_write, struct arca_store_headrow *h)
{
    if (arca_store_fault_hit("backend head"))
        return ARCA_ERR_IO;
    struct pg *q = be;
    struct pg_conn *c = in_write ? &q->w : reader_take(q);
    PGresult *res = NULL;
    int rc = in_write ? run(c, PS_HEAD_LOCK, NULL, NULL, &res, "lock head")
                      : run_read(q, c, PS_HEAD, NULL, NULL, &res, "read head");
    if (!in_write)
        reader_give(q, c);
    if (rc < 0)
        return rc;
    memset(h, 0, sizeof(*h));
    if (PQntuples(res) != 1) {
        rc = arca_err_set(ARCA_ERR_TAMPERED, "store: the PostgreSQL head row is missing");
    } else {
        h->commit = get_u64(res, 0, 0);
        h->seq = get_u64(res, 0, 1);
        rc = col_fixed(res, 0, 2, h->head, 32, "head");
        int ml = PQgetlength(res, 0, 3);
        if (rc == 0 && ml != 0 && ml != 32)
            rc = arca_err_set(ARCA_ERR_TAMPERED, "store: the head row's MAC is %d bytes", ml);
        if (rc == 0 && ml == 32) {
            memcpy(h->mac, PQgetvalue(res, 0, 3), 32);
            h->has_mac = true;
        }
    }
    PQclear(res);
    return rc;
}

static int pg_head_put(void *be, const struct arca_store_headrow *h)
{
    if (arca_store_fault_hit("backend head put"))
        return ARCA_ERR_IO;
    struct pg *q = be;
    struct be64 c = be64(h->commit), s = be64(h->seq);
    const char *vals[4] = {(const char *)c.b, (const char *)s.b, (const char *)h->head,
                           (const char *)h->mac};
    int lens[4] = {8, 8, 32, 32};
    PGresult *res = NULL;
    ARCA_TRY(run(&q->w, PS_HEAD_PUT, vals, lens, &res, "write head"));
    PQclear(res);
    return 0;
}

static int pg_pin(void *be, bool on)
{
    struct pg *q = be;
    if (on) {
        ARCA_TRY(conn_ready(q, &q->w, false));
        ARCA_TRY(exec_cmd(&q->w, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "snapshot"));
        atomic_store(&q->pinned, true);
        return 0;
    }
    atomic_store(&q->pinned, false);
    return exec_cmd(&q->w, "COMMIT", "end snapshot");
}

bool arca_store_path_is_pg(const char *path)
{
    return path != NULL &&
           (strncmp(path, "postgresql://", 13) == 0 || strncmp(path, "postgres://", 11) == 0);
}

const struct arca_store_backend_ops arca_store_pg_ops = {
    .name = "postgresql",
    .shared = true,
    .open = pg_open,
    .close = pg_close,
    .check = pg_check,
    .get = pg_get,
    .scan = pg_scan,
    .journal_walk = pg_journal_walk,
    .count_live = pg_count_live,
    .begin = pg_begin,
    .wget = pg_wget,
    .put = pg_put,
    .del = pg_del,
    .journal_add = pg_journal_add,
    .journal_clear = pg_journal_clear,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .savepoint = pg_savepoint,
    .release = pg_release,
    .rollback_to = pg_rollback_to,
    .backup = pg_backup,
    .head = pg_head,
    .head_put = pg_head_put,
    .pin = pg_pin,
};
