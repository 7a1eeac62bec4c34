/*
 * SQLite backend of the sealed store (backend.h).
 *
 * One writer connection (its mutex is only ever taken by the serialised writer) and a pool of
 * reader connections, each with its own mutex: a reader takes the first free connection
 * (trylock, starting at a rotating index) and waits on one only when all are busy, so reads
 * never queue behind a global lock. WAL mode lets readers run during a write; every statement
 * is prepared once per connection; synchronous=FULL makes COMMIT durable.
 *
 * WAL checkpoints leave the writer (docs/internals/store.md "WAL checkpoints"): SQLite's own
 * automatic checkpoint runs inside the COMMIT that crosses 1000 WAL frames, copying pages and
 * syncing twice while every writer waits. Here the writer's commit only notes the WAL's length
 * (wal_hook); past wal_frames a checkpoint thread with its own connection copies the WAL into
 * the database beside the writer (PASSIVE: never blocks it), and the writer's next BEGIN
 * finishes the pass with the few frames committed meanwhile. Only then is every frame in the
 * database, so that BEGIN reads without the WAL and its first write starts the WAL over from
 * the beginning (a copy alone never lets it restart while the writer keeps committing).
 */
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "store/backend.h"

enum {
    ST_GET,
    ST_SCAN,
    ST_SCAN_ALL,
    ST_SCAN_LO,
    ST_SCAN_HI,
    ST_JWALK,
    ST_COUNT_ROWS,
    ST_COUNT_LIVE,
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_SAVEPOINT,
    ST_RELEASE,
    ST_ROLLBACK_TO,
    ST_PUT,
    ST_DEL,
    ST_JADD,
    ST_JCLEAR,
    ST_COUNT
};

static const char *const sql_text[ST_COUNT] = {
    [ST_GET] =
        ("SELECT (SELECT ver FROM journal WHERE tbl=?1 AND rkey=?2 ORDER BY seq DESC LIMIT 1),"
         " (SELECT cthash FROM journal WHERE tbl=?1 AND rkey=?2 ORDER BY seq DESC LIMIT 1),"
         " r.ver, r.nonce, r.ct FROM (SELECT 1) LEFT JOIN rec r ON r.tbl=?1 AND r.rkey=?2"),
    [ST_SCAN] = ("SELECT r.rkey, r.ver, r.nonce, r.ct,"
                 " (SELECT ver FROM journal j WHERE j.tbl=r.tbl AND j.rkey=r.rkey"
                 "  ORDER BY seq DESC LIMIT 1),"
                 " (SELECT cthash FROM journal j WHERE j.tbl=r.tbl AND j.rkey=r.rkey"
                 "  ORDER BY seq DESC LIMIT 1)"
                 " FROM rec r WHERE r.tbl=?1 ORDER BY r.rkey"),
    [ST_SCAN_ALL] = "SELECT tbl, rkey, ver, nonce, ct FROM rec",
    /* row values compare like the primary key orders: the halves split the table exactly */
    [ST_SCAN_LO] = "SELECT tbl, rkey, ver, nonce, ct FROM rec WHERE (tbl, rkey) < (?1, ?2)",
    [ST_SCAN_HI] = "SELECT tbl, rkey, ver, nonce, ct FROM rec WHERE (tbl, rkey) >= (?1, ?2)",
    [ST_JWALK] = "SELECT seq, commit_no, tbl, rkey, ver, cthash FROM journal ORDER BY seq",
    [ST_COUNT_ROWS] = "SELECT count(*) FROM rec",
    [ST_COUNT_LIVE] =
        ("SELECT count(*) FROM journal j WHERE j.seq = (SELECT max(seq) FROM journal k"
         " WHERE k.tbl=j.tbl AND k.rkey=j.rkey) AND j.cthash != zeroblob(32)"
         " AND j.tbl != 0"),
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    /* one level: a group commit's member transaction (engine group.c) */
    [ST_SAVEPOINT] = "SAVEPOINT arca_tx",
    [ST_RELEASE] = "RELEASE arca_tx",
    [ST_ROLLBACK_TO] = "ROLLBACK TO arca_tx",
    [ST_PUT] = "INSERT OR REPLACE INTO rec(tbl, rkey, ver, nonce, ct) VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_DEL] = "DELETE FROM rec WHERE tbl=?1 AND rkey=?2",
    [ST_JADD] = ("INSERT INTO journal(seq, commit_no, tbl, rkey, ver, cthash)"
                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
    [ST_JCLEAR] = "DELETE FROM journal",
};

static const char schema[] =
    "CREATE TABLE rec(tbl INTEGER NOT NULL, rkey BLOB NOT NULL, ver INTEGER NOT NULL,"
    " nonce BLOB NOT NULL, ct BLOB NOT NULL, PRIMARY KEY (tbl, rkey)) WITHOUT ROWID;"
    "CREATE TABLE journal(seq INTEGER PRIMARY KEY, commit_no INTEGER NOT NULL,"
    " tbl INTEGER NOT NULL, rkey BLOB NOT NULL, ver INTEGER NOT NULL, cthash BLOB NOT NULL);"
    "CREATE INDEX journal_key ON journal(tbl, rkey, seq);"
    "PRAGMA user_version = 1;";

struct sq_conn {
    sqlite3 *db;
    pthread_mutex_t mu;
    sqlite3_stmt *st[ST_COUNT];
};

/* The background checkpoint (see the top of the file). */
struct sq_ckpt {
    struct sq_conn c; /* its own connection, used by its thread only */
    pthread_t thread;
    bool running;
    pthread_mutex_t mu;
    pthread_cond_t kick;
    bool stop; /* under mu */
    bool want; /* under mu: a pass is due */
    bool busy; /* under mu: a pass runs */
    /* set by the thread after a pass, taken by the writer's next BEGIN (finish the pass) */
    atomic_bool finish;
};

struct sq {
    struct sq_conn w;
    struct sq_conn *r;
    unsigned nr;
    atomic_uint rr;
    unsigned wal_frames; /* WAL length that starts a background checkpoint */
    bool wal_full;       /* writer only: the WAL outgrew the thread, checkpoint at BEGIN */
    struct sq_ckpt ck;
};

/* Past this many times wal_frames (the checkpoint thread did not keep up, or a reader held an
 * old snapshot through every restart) the writer checkpoints at its next BEGIN itself, as
 * SQLite's automatic checkpoint would: the WAL stays bounded. */
#define WAL_FULL_FACTOR 2

static int sq_err(sqlite3 *db, int rc, const char *what)
{
    int prim = rc & 0xff;
    const char *msg = db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    if (prim == SQLITE_CORRUPT || prim == SQLITE_NOTADB)
        return arca_err_set(ARCA_ERR_TAMPERED, "store: database file is damaged (%s: %s)", what,
                            msg);
    if (prim == SQLITE_BUSY || prim == SQLITE_LOCKED)
        return arca_err_set(ARCA_ERR_TIMEOUT, "store: database busy (%s: %s)", what, msg);
    if (prim == SQLITE_NOMEM)
        return arca_err_set(ARCA_ERR_ALLOC, "store: out of memory (%s)", what);
    return arca_err_set(ARCA_ERR_IO, "store: %s: %s", what, msg);
}

static void conn_close(struct sq_conn *c)
{
    for (int i = 0; i < ST_COUNT; i++) {
        sqlite3_finalize(c->st[i]);
        c->st[i] = NULL;
    }
    if (c->db != NULL)
        sqlite3_close_v2(c->db);
    c->db = NULL;
    pthread_mutex_destroy(&c->mu);
}

static int exec(sqlite3 *db, const char *sql, const char *what)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    sqlite3_free(msg);
    if (rc != SQLITE_OK)
        return sq_err(db, rc, what);
    return 0;
}

static int conn_open(struct sq_conn *c, const char *path, bool create, int busy_ms)
{
    memset(c, 0, sizeof(*c));
    if (pthread_mutex_init(&c->mu, NULL) != 0)
        return arca_err_set(ARCA_ERR_INTERNAL, "store: mutex init");
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE |
                (create ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(path, &c->db, flags, NULL);
    int err;
    if (rc != SQLITE_OK) {
        err = sq_err(c->db, rc, "open");
        goto fail;
    }
    sqlite3_busy_timeout(c->db, busy_ms);
    sqlite3_db_config(c->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
    sqlite3_db_config(c->db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
    ARCA_GUARD(err, exec(c->db, "PRAGMA journal_mode=WAL", "journal_mode"), fail);
    ARCA_GUARD(err, exec(c->db, "PRAGMA synchronous=FULL", "synchronous"), fail);
    ARCA_GUARD(err, exec(c->db, "PRAGMA cell_size_check=ON", "cell_size_check"), fail);
    if (create)
        ARCA_GUARD(err, exec(c->db, schema, "create schema"), fail);
    for (int i = 0; i < ST_COUNT; i++) {
        rc = sqlite3_prepare_v3(c->db, sql_text[i], -1, SQLITE_PREPARE_PERSISTENT, &c->st[i], NULL);
        if (rc != SQLITE_OK) {
            err = sq_err(c->db, rc, "prepare (schema missing or damaged)");
            goto fail;
        }
    }
    return 0;
fail:
    conn_close(c);
    return err;
}

static void ckpt_stop(struct sq *q)
{
    if (!q->ck.running)
        return;
    pthread_mutex_lock(&q->ck.mu);
    q->ck.stop = true;
    pthread_cond_signal(&q->ck.kick);
    pthread_mutex_unlock(&q->ck.mu);
    pthread_join(q->ck.thread, NULL);
    q->ck.running = false;
    conn_close(&q->ck.c);
    pthread_cond_destroy(&q->ck.kick);
    pthread_mutex_destroy(&q->ck.mu);
}

/* The checkpoint thread: one PASSIVE pass per kick. A pass that fails (I/O) or is refused
 * loses nothing, the frames stay in the WAL; the next commit past the mark kicks again. */
static void *ckpt_main(void *arg)
{
    struct sq *q = arg;
    pthread_mutex_lock(&q->ck.mu);
    for (;;) {
        while (!q->ck.stop && !q->ck.want)
            pthread_cond_wait(&q->ck.kick, &q->ck.mu);
        if (q->ck.stop)
            break;
        q->ck.want = false;
        q->ck.busy = true;
        pthread_mutex_unlock(&q->ck.mu);
        int nlog = 0, ncopied = 0, rc = SQLITE_OK;
        for (int pass = 0; pass < 3 && rc == SQLITE_OK; pass++) {
            rc = sqlite3_wal_checkpoint_v2(q->ck.c.db, NULL, SQLITE_CHECKPOINT_PASSIVE, &nlog,
                                           &ncopied);
            if (nlog - ncopied <= 64)
                break;
        }
        pthread_mutex_lock(&q->ck.mu);
        q->ck.busy = false;
        q->ck.want = false; /* kicks during the pass are covered by it and the finish */
        if (rc == SQLITE_OK)
            atomic_store(&q->ck.finish, true);
    }
    pthread_mutex_unlock(&q->ck.mu);
    return NULL;
}

/*
 * The writer connection's wal_hook, after each of its commits (under the store's writer lock):
 * nframes is the WAL's length. Past the mark it kicks the checkpoint thread unless a pass is
 * running or waits for the writer to finish it.
 */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int nframes)
{
    (void)db;
    (void)name;
    struct sq *q = arg;
    if (nframes < 0 || (unsigned)nframes < q->wal_frames)
        return SQLITE_OK;
    if (!q->ck.running || (unsigned)nframes / WAL_FULL_FACTOR >= q->wal_frames) {
        q->wal_full = true;
        return SQLITE_OK;
    }
    if (atomic_load(&q->ck.finish))
        return SQLITE_OK;
    pthread_mutex_lock(&q->ck.mu);
    if (!q->ck.busy && !atomic_load(&q->ck.finish)) {
        q->ck.want = true;
        pthread_cond_signal(&q->ck.kick);
    }
    pthread_mutex_unlock(&q->ck.mu);
    return SQLITE_OK;
}

/* Starts the checkpoint thread with its connection and hands the writer's checkpoints to it. */
static int ckpt_start(struct sq *q, const char *path, int busy_ms)
{
    int rc = conn_open(&q->ck.c, path, false, busy_ms);
    if (rc < 0)
        return rc;
    pthread_mutex_init(&q->ck.mu, NULL);
    pthread_cond_init(&q->ck.kick, NULL);
    atomic_init(&q->ck.finish, false);
    /* no signals on this thread: a process that waits for them with sigwait (arcad) blocks
     * them only later, in the threads it has then */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int e = pthread_create(&q->ck.thread, NULL, ckpt_main, q);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0) {
        pthread_cond_destroy(&q->ck.kick);
        pthread_mutex_destroy(&q->ck.mu);
        conn_close(&q->ck.c);
        return arca_err_set(ARCA_ERR_ALLOC, "store: checkpoint thread: %s", strerror(e));
    }
    q->ck.running = true;
    return 0;
}

static void sq_close(void *be)
{
    struct sq *q = be;
    if (q == NULL)
        return;
    ckpt_stop(q);
    for (unsigned i = 0; i < q->nr; i++)
        conn_close(&q->r[i]);
    free(q->r);
    conn_close(&q->w);
    free(q);
}

static int sq_open(const char *path, bool create, unsigned readers, int busy_ms,
                   unsigned wal_frames, void **out)
{
    if (arca_store_fault_hit("backend open"))
        return ARCA_ERR_IO;
    struct sq *q = calloc(1, sizeof(*q));
    if (q == NULL)
        return arca_err_set(ARCA_ERR_ALLOC, "store: backend");
    int rc = conn_open(&q->w, path, create, busy_ms);
    if (rc < 0) {
        free(q);
        return rc;
    }
    q->r = calloc(readers, sizeof(*q->r));
    if (q->r == NULL) {
        sq_close(q);
        return arca_err_set(ARCA_ERR_ALLOC, "store: reader pool");
    }
    for (unsigned i = 0; i < readers; i++) {
        rc = conn_open(&q->r[i], path, false, busy_ms);
        if (rc < 0) {
            sq_close(q);
            return rc;
        }
        q->nr++;
    }
    q->wal_frames = wal_frames > 0 ? wal_frames : 16000;
    sqlite3_wal_hook(q->w.db, wal_hook, q); /* replaces SQLite's automatic checkpoint */
    rc = ckpt_start(q, path, busy_ms);
    if (rc < 0) {
        sq_close(q);
        return rc;
    }
    *out = q;
    return 0;
}

static struct sq_conn *reader_take(struct sq *q)
{
    unsigned start = atomic_fetch_add(&q->rr, 1);
    for (unsigned i = 0; i < q->nr; i++) {
        struct sq_conn *c = &q->r[(start + i) % q->nr];
        if (pthread_mutex_trylock(&c->mu) == 0)
            return c;
    }
    struct sq_conn *c = &q->r[start % q->nr];
    pthread_mutex_lock(&c->mu);
    return c;
}

static void reader_give(struct sq_conn *c)
{
    pthread_mutex_unlock(&c->mu);
}

static void stmt_done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* Copies a blob column of exactly n bytes; a wrong size means someone edited the file. */
static int col_fixed(sqlite3_stmt *st, int col, uint8_t *out, size_t n, const char *what)
{
    if (sqlite3_column_type(st, col) != SQLITE_BLOB || (size_t)sqlite3_column_bytes(st, col) != n)
        return arca_err_set(ARCA_ERR_TAMPERED, "store: %s is not a %zu-byte value", what, n);
    memcpy(out, sqlite3_column_blob(st, col), n);
    return 0;
}

/* Fills row from the columns (ver, nonce, ct) at col and (jver, jhash) at jcol (< 0: none). */
static int row_fill(sqlite3_stmt *st, int col, int jcol, struct arca_store_row *row)
{
    row->journaled = jcol >= 0 && sqlite3_column_type(st, jcol) != SQLITE_NULL;
    if (row->journaled) {
        row->jver = (uint64_t)sqlite3_column_int64(st, jcol);
        ARCA_TRY(col_fixed(st, jcol + 1, row->jhash, 32, "journal hash"));
    }
    row->present = sqlite3_column_type(st, col) != SQLITE_NULL;
    if (!row->present)
        return 0;
    row->ver = (uint64_t)sqlite3_column_int64(st, col);
    ARCA_TRY(col_fixed(st, col + 1, row->nonce, ARCA_STORE_NONCE_LEN, "record nonce"));
    if (sqlite3_column_type(st, col + 2) != SQLITE_BLOB)
        return arca_err_set(ARCA_ERR_TAMPERED, "store: record ciphertext is not a blob");
    arca_buf_reset(&row->ct);
    return arca_buf_put(&row->ct, sqlite3_column_blob(st, col + 2),
                        (size_t)sqlite3_column_bytes(st, col + 2));
}

static int get_on(struct sq_conn *c, int tbl, const uint8_t rkey[ARCA_STORE_RKEY_LEN],
                  struct arca_store_row *row)
{
    sqlite3_stmt *st = c->st[ST_GET];
    sqlite3_bind_int(st, 1, tbl);
    sqlite3_bind_blob(st, 2, rkey, ARCA_STORE_RKEY_LEN, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int err = 0;
    if (rc != SQLITE_ROW)
        err = sq_err(c->db, rc, "read record");
    else
        err = row_fill(st, 2, 0, row);
    stmt_done(st);
    if (err == 0 && !row->present && !row->journaled)
        err = ARCA_ERR_NOT_FOUND;
    return err;
}

static int sq_get(void *be, int tbl, const uint8_t rkey[ARCA_STORE_RKEY_LEN],
                  struct arca_store_row *row)
{
    if (arca_store_fault_hit("backend get"))
        return ARCA_ERR_IO;
    struct sq_conn *c = reader_take(be);
    int rc = get_on(c, tbl, rkey, row);
    reader_give(c);
    return rc;
}

static int sq_wget(void *be, int tbl, const uint8_t rkey[ARCA_STORE_RKEY_LEN],
                   struct arca_store_row *row)
{
    if (arca_store_fault_hit("backend wget"))
        return ARCA_ERR_IO;
    struct sq *q = be;
    return get_on(&q->w, tbl, rkey, row);
}

/* Runs the scan statement which (ST_SCAN for table tbl: rkey, row, journal columns; or
 * ST_SCAN_ALL, ST_SCAN_LO/HI below/from (tbl, rkey): tbl, rkey, row columns) and calls cb for
 * every row. */
static int scan_run(void *be, int which, int tbl, const uint8_t *rkey, arca_store_row_cb cb,
                    void *arg)
{
    if (arca_store_fault_hit("backend scan"))
        return ARCA_ERR_IO;
    struct sq_conn *c = reader_take(be);
    sqlite3_stmt *st = c->st[which];
    bool all = which != ST_SCAN;
    if (which != ST_SCAN_ALL)
        sqlite3_bind_int(st, 1, tbl);
    if (rkey != NULL)
        sqlite3_bind_blob(st, 2, rkey, ARCA_STORE_RKEY_LEN, SQLITE_STATIC);
    struct arca_store_row row;
    memset(&row, 0, sizeof(row));
    arca_buf_init(&row.ct, 0);
    int err = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        row.tbl = all ? sqlite3_column_int(st, 0) : tbl;
        ARCA_GUARD(err, col_fixed(st, all ? 1 : 0, row.rkey, ARCA_STORE_RKEY_LEN, "record key"),
                   out);
        ARCA_GUARD(err, row_fill(st, all ? 2 : 1, all ? -1 : 4, &row), out);
        ARCA_GUARD(err, cb(arg, &row), out);
    }
    if (rc != SQLITE_DONE)
        err = sq_err(c->db, rc, "scan records");
out:
    stmt_done(st);
    reader_give(c);
    arca_buf_free(&row.ct);
    return err;
}

static int sq_scan(void *be, int tbl, arca_store_row_cb cb, void *arg)
{
    return scan_run(be, ST_SCAN, tbl, NULL, cb, arg);
}

static int sq_scan_all(void *be, arca_store_row_cb cb, void *arg)
{
    return scan_run(be, ST_SCAN_ALL, 0, NULL, cb, arg);
}

static int sq_scan_split(void *be, int tbl, const uint8_t rkey[ARCA_STORE_RKEY_LEN], bool upper,
                         arca_store_row_cb cb, void *arg)
{
    return scan_run(be, upper ? ST_SCAN_HI : ST_SCAN_LO, tbl, rkey, cb, arg);
}

static int sq_journal_walk(void *be, arca_store_jentry_cb cb, void *arg)
{
    if (arca_store_fault_hit("backend journal walk"))
        return ARCA_ERR_IO;
    struct sq_conn *c = reader_take(be);
    sqlite3_stmt *st = c->st[ST_JWALK];
    struct arca_store_jentry e;
    int err = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&e, 0, sizeof(e));
        e.seq = (uint64_t)sqlite3_column_int64(st, 0);
        e.commit = (uint64_t)sqlite3_column_int64(st, 1);
        e.tbl = sqlite3_column_int(st, 2);
        ARCA_GUARD(err, col_fixed(st, 3, e.rkey, ARCA_STORE_RKEY_LEN, "journal key"), out);
        e.ver = (uint64_t)sqlite3_column_int64(st, 4);
        ARCA_GUARD(err, col_fixed(st, 5, e.cthash, 32, "journal hash"), out);
        ARCA_GUARD(err, cb(arg, &e), out);
    }
    if (rc != SQLITE_DONE)
        err = sq_err(c->db, rc, "walk journal");
out:
    stmt_done(st);
    reader_give(c);
    return err;
}

static int count_one(struct sq_conn *c, int which, uint64_t *out)
{
    sqlite3_stmt *st = c->st[which];
    int rc = sqlite3_step(st);
    int err = 0;
    if (rc == SQLITE_ROW)
        *out = (uint64_t)sqlite3_column_int64(st, 0);
    else
        err = sq_err(c->db, rc, "count");
    stmt_done(st);
    return err;
}

static int sq_count_live(void *be, uint64_t *rows, uint64_t *live)
{
    struct sq_conn *c = reader_take(be);
    int err = count_one(c, ST_COUNT_ROWS, rows);
    if (err == 0)
        err = count_one(c, ST_COUNT_LIVE, live);
    reader_give(c);
    return err;
}

static int sq_check(void *be)
{
    if (arca_store_fault_hit("backend check"))
        return ARCA_ERR_IO;
    struct sq_conn *c = reader_take(be);
    sqlite3_stmt *st = NULL;
    int err = 0;
    int rc = sqlite3_prepare_v2(c->db, "PRAGMA quick_check", -1, &st, NULL);
    if (rc != SQLITE_OK) {
        err = sq_err(c->db, rc, "quick_check");
        goto out;
    }
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        err = sq_err(c->db, rc, "quick_check");
    } else {
        const char *res = (const char *)sqlite3_column_text(st, 0);
        if (res == NULL || strcmp(res, "ok") != 0)
            err = arca_err_set(ARCA_ERR_TAMPERED, "store: database file is damaged: %.200s",
                               res != NULL ? res : "(no result)");
    }
out:
    sqlite3_finalize(st);
    reader_give(c);
    return err;
}

static int step_done(struct sq_conn *c, int which, const char *what)
{
    sqlite3_stmt *st = c->st[which];
    int rc = sqlite3_step(st);
    stmt_done(st);
    if (rc != SQLITE_DONE)
        return sq_err(c->db, rc, what);
    return 0;
}

/* A transaction-control statement on the writer connection, a fault-injection point. */
static int writer_step(void *be, int which, const char *fault, const char *what)
{
    if (arca_store_fault_hit(fault))
        return ARCA_ERR_IO;
    struct sq *q = be;
    return step_done(&q->w, which, what);
}

/*
 * Before the writer's BEGIN, with no transaction open: finishes a background pass (copies the
 * frames committed since it started), or checkpoints a WAL the thread did not keep up with.
 * Once every frame is copied, this BEGIN reads without the WAL and the WAL starts over at the
 * transaction's first write. A failed checkpoint loses nothing (the frames stay in the WAL).
 */
static void writer_checkpoint(struct sq *q)
{
    if (!q->wal_full && !atomic_load(&q->ck.finish))
        return;
    atomic_store(&q->ck.finish, false);
    q->wal_full = false;
    int nlog = 0, ncopied = 0;
    (void)sqlite3_wal_checkpoint_v2(q->w.db, NULL, SQLITE_CHECKPOINT_PASSIVE, &nlog, &ncopied);
}

static int sq_begin(void *be)
{
    writer_checkpoint(be);
    return writer_step(be, ST_BEGIN, "backend begin", "begin");
}

static int sq_commit(void *be)
{
    return writer_step(be, ST_COMMIT, "backend commit", "commit");
}

static int sq_backup(void *be, const char *path)
{
    struct sq *q = be;
    sqlite3 *dst = NULL;
    int rc = sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        int e = sq_err(dst, rc, "snapshot open");
        sqlite3_close(dst);
        return e;
    }
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", q->w.db, "main");
    if (b == NULL) {
        int e = sq_err(dst, sqlite3_errcode(dst), "snapshot");
        sqlite3_close(dst);
        return e;
    }
    rc = sqlite3_backup_step(b, -1);
    int frc = sqlite3_backup_finish(b);
    if (rc == SQLITE_DONE)
        rc = frc;
    int e = rc == SQLITE_OK ? 0 : sq_err(dst, rc, "snapshot");
    if (sqlite3_close(dst) != SQLITE_OK && e == 0)
        e = arca_err_set(ARCA_ERR_IO, "store: snapshot %s: close failed", path);
    return e;
}

static void sq_rollback(void *be)
{
    struct sq *q = be;
    /* fails harmlessly when SQLite already rolled back on its own */
    (void)step_done(&q->w, ST_ROLLBACK, "rollback");
}

static int sq_savepoint(void *be)
{
    return writer_step(be, ST_SAVEPOINT, "backend savepoint", "savepoint");
}

static int sq_release(void *be)
{
    return writer_step(be, ST_RELEASE, "backend release", "release savepoint");
}

/* ROLLBACK TO keeps the savepoint open: RELEASE ends it, so the next member can open its own. */
static int sq_rollback_to(void *be)
{
    struct sq *q = be;
    ARCA_TRY(step_done(&q->w, ST_ROLLBACK_TO, "rollback to savepoint"));
    return step_done(&q->w, ST_RELEASE, "release savepoint");
}

static int sq_put(void *be, int tbl, const uint8_t rkey[ARCA_STORE_RKEY_LEN], uint64_t ver,
                  const uint8_t nonce[ARCA_STORE_NONCE_LEN], const void *ct, size_t ctlen)
{
    if (arca_store_fault_hit("backend put"))
        return ARCA_ERR_IO;
    struct sq *q = be;
    sqlite3_stmt *st = q->w.st[ST_PUT];
    sqlite3_bind_int(st, 1, tbl);
    sqlite3_bind_blob(st, 2, rkey, ARCA_STORE_RKEY_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)ver);
    sqlite3_bind_blob(st, 4, nonce, ARCA_STORE_NONCE_LEN, SQLITE_STATIC);
    sqlite3_bind_blob64(st, 5, ct, ctlen, SQLITE_STATIC);
    return step_done(&q->w, ST_PUT, "write record");
}

static int sq_del(void *be, int tbl, const uint8_t rkey[ARCA_STORE_RKEY_LEN])
{
    if (arca_store_fault_hit("backend delete"))
        return ARCA_ERR_IO;
    struct sq *q = be;
    sqlite3_stmt *st = q->w.st[ST_DEL];
    sqlite3_bind_int(st, 1, tbl);
    sqlite3_bind_blob(st, 2, rkey, ARCA_STORE_RKEY_LEN, SQLITE_STATIC);
    return step_done(&q->w, ST_DEL, "delete record");
}

static int sq_journal_add(void *be, const struct arca_store_jentry *e)
{
    if (arca_store_fault_hit("backend journal"))
        return ARCA_ERR_IO;
    struct sq *q = be;
    sqlite3_stmt *st = q->w.st[ST_JADD];
    sqlite3_bind_int64(st, 1, (sqlite3_int64)e->seq);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)e->commit);
    sqlite3_bind_int(st, 3, e->tbl);
    sqlite3_bind_blob(st, 4, e->rkey, ARCA_STORE_RKEY_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)e->ver);
    sqlite3_bind_blob(st, 6, e->cthash, 32, SQLITE_STATIC);
    return step_done(&q->w, ST_JADD, "append journal");
}

static int sq_journal_clear(void *be)
{
    if (arca_store_fault_hit("backend journal clear"))
        return ARCA_ERR_IO;
    struct sq *q = be;
    return step_done(&q->w, ST_JCLEAR, "clear journal");
}

const struct arca_store_backend_ops arca_store_sqlite_ops = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .check = sq_check,
    .get = sq_get,
    .scan = sq_scan,
    .scan_all = sq_scan_all,
    .scan_split = sq_scan_split,
    .journal_walk = sq_journal_walk,
    .count_live = sq_count_live,
    .begin = sq_begin,
    .wget = sq_wget,
    .put = sq_put,
    .del = sq_del,
    .journal_add = sq_journal_add,
    .journal_clear = sq_journal_clear,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .savepoint = sq_savepoint,
    .release = sq_release,
    .rollback_to = sq_rollback_to,
    .backup = sq_backup,
};
