/*
 * The store's backend interface: what a database must offer the sealed store (engine.c does all
 * cryptography, the backend only keeps opaque rows). SQLite implements it in store_sqlite.c,
 * PostgreSQL in store_pg.c (DESIGN §8), where several arcads may share one database (shared).
 *
 * Data model: rows (table, rkey[32]) -> (version, nonce[12], ciphertext), where rkey is a keyed
 * hash of the record key, and an append-only journal of (seq, commit, table, rkey, version,
 * cthash[32]) entries, one per row write or delete (cthash all zero for a delete), possibly
 * starting with a compaction base entry (table 0, see journal.c). Readers get,
 * with each row, the newest journal entry for its key in the same snapshot.
 *
 * Threads: read operations may be called from any number of threads at once; write operations
 * (begin .. commit/rollback) are serialised by the caller. All operations return 0 or a negative
 * arca_err (ARCA_ERR_NOT_FOUND for an absent row), with a detail naming the operation.
 */
#ifndef ARCA_STORE_BACKEND_H
#define ARCA_STORE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define ARCA_STORE_RKEY_LEN 32
#define ARCA_STORE_NONCE_LEN 12

struct arca_store_row {
    bool present; /* a row exists */
    uint64_t ver; /* row version */
    uint8_t nonce[ARCA_STORE_NONCE_LEN];
    struct arca_buf ct;                /* ciphertext || tag (caller inits and frees) */
    bool journaled;                    /* the journal has an entry for this key */
    uint64_t jver;                     /* newest journal entry: version */
    uint8_t jhash[32];                 /* newest journal entry: cthash (zero = deleted) */
    uint8_t rkey[ARCA_STORE_RKEY_LEN]; /* filled by scan */
    int tbl;                           /* filled by scan_all */
};

struct arca_store_jentry {
    uint64_t seq;
    uint64_t commit;
    int tbl;
    uint8_t rkey[ARCA_STORE_RKEY_LEN];
    uint64_t ver;
    uint8_t cthash[32];
};

/* The head row of a shared backend: the chain state after the newest commit, with
 * HMAC(index key, "arca-store-head" || u64be commit || u64be seq || head) made by the engine.
 * Commit 0 (a new database) has no MAC. */
struct arca_store_headrow {
    uint64_t commit;
    uint64_t seq;
    uint8_t head[32];
    bool has_mac;
    uint8_t mac[32];
};

typedef int (*arca_store_row_cb)(void *arg, const struct arca_store_row *row);
typedef int (*arca_store_jentry_cb)(void *arg, const struct arca_store_jentry *e);

struct arca_store_backend_ops {
    const char *name;
    /* Other processes may write the same database (the three ops at the end are set). */
    bool shared;
    /* Opens path (creating the schema when create is set and the file is absent). *be freed
     * with close. wal_frames: SQLite's WAL length that starts a background checkpoint (0 =
     * 16000; store_sqlite.c), ignored by PostgreSQL. */
    int (*open)(const char *path, bool create, unsigned readers, int busy_timeout_ms,
                unsigned wal_frames, void **be);
    void (*close)(void *be);
    /* Structural self-check of the database (SQLite: PRAGMA quick_check). */
    int (*check)(void *be);

    /* ---- reads (any thread) ---- */
    /* Fills row for (tbl, rkey): present=false with journaled=true means "deleted";
     * ARCA_ERR_NOT_FOUND if neither a row nor a journal entry exists. */
    int (*get)(void *be, int tbl, const uint8_t rkey[ARCA_STORE_RKEY_LEN],
               struct arca_store_row *row);
    /* Calls cb for every row of tbl (in rkey order); cb's negative return stops the scan. */
    int (*scan)(void *be, int tbl, arca_store_row_cb cb, void *arg);
    /* Optional (NULL: open() scans table by table): calls cb for every row of every table in
     * the database's storage order, with tbl, rkey, ver, nonce and ct filled and no journal
     * lookup (open() matches the rows against the journal it walked itself), so the whole
     * file is read once, sequentially. */
    int (*scan_all)(void *be, arca_store_row_cb cb, void *arg);
    /* Optional (NULL: open() verifies on one thread): scan_all restricted to the rows whose
     * (tbl, rkey) sorts below (upper false) or at or above (upper true) the split key, in key
     * order; the two halves hold every row exactly once, whatever the rows hold. A backend
     * with it serves concurrent callers on separate connections of one unchanged snapshot:
     * open() runs check beside the journal walk and the two halves on two threads. */
    int (*scan_split)(void *be, int tbl, const uint8_t rkey[ARCA_STORE_RKEY_LEN], bool upper,
                      arca_store_row_cb cb, void *arg);
    /* Calls cb for every journal entry in seq order. */
    int (*journal_walk)(void *be, arca_store_jentry_cb cb, void *arg);
    /* Number of rows, and of keys whose newest journal entry is not a delete. */
    int (*count_live)(void *be, uint64_t *rows, uint64_t *journal_live);

    /* ---- writes (serialised by the caller) ---- */
    int (*begin)(void *be);
    /* As get, inside the write transaction. */
    int (*wget)(void *be, int tbl, const uint8_t rkey[ARCA_STORE_RKEY_LEN],
                struct arca_store_row *row);
    int (*put)(void *be, int tbl, const uint8_t rkey[ARCA_STORE_RKEY_LEN], uint64_t ver,
               const uint8_t nonce[ARCA_STORE_NONCE_LEN], const void *ct, size_t ctlen);
    int (*del)(void *be, int tbl, const uint8_t rkey[ARCA_STORE_RKEY_LEN]);
    int (*journal_add)(void *be, const struct arca_store_jentry *e);
    /* Removes every journal entry (compaction re-adds the ones it keeps, same transaction). */
    int (*journal_clear)(void *be);
    /* Copies the whole database as of now into a new file at path (SQLite: the online backup
     * API on the writer connection; the caller holds the writer so no write runs meanwhile). */
    int (*backup)(void *be, const char *path);
    /* Durable when it returns 0. */
    int (*commit)(void *be);
    void (*rollback)(void *be);
    /* One savepoint level inside begin..commit, for the member transactions of a group commit
     * (group.c): savepoint opens it, release keeps its writes in the enclosing transaction,
     * rollback_to undoes them (and any statement error since savepoint) and ends it. A failing
     * rollback_to leaves the enclosing transaction unusable: the caller rolls it back. */
    int (*savepoint)(void *be);
    int (*release)(void *be);
    int (*rollback_to)(void *be);

    /* ---- shared backends only (NULL otherwise) ---- */
    /* Reads the head row; in_write (inside begin..commit) also locks it until commit or
     * rollback, which serialises the writers of every process on the database. */
    int (*head)(void *be, bool in_write, struct arca_store_headrow *h);
    /* Replaces the head row inside the write transaction. */
    int (*head_put)(void *be, const struct arca_store_headrow *h);
    /* on: the reads that follow (from the one calling thread) see one snapshot, so open()'s
     * checks agree with each other while other processes write; off ends it. */
    int (*pin)(void *be, bool on);
};

extern const struct arca_store_backend_ops arca_store_sqlite_ops;
extern const struct arca_store_backend_ops arca_store_pg_ops;

/*
 * Fault injection for tests (cheap, off by default): after arca_store_fault_arm(n), the n-th
 * subsequent call of a store I/O or backend operation fails with ARCA_ERR_IO ("injected
 * fault"); n = 0 disarms. arca_store_fault_hit() is what the wrappers call.
 */
void arca_store_fault_arm(long n);
bool arca_store_fault_hit(const char *where);
/* Tests only: fn (NULL: none) is called with the point's name at every fault point, before the
 * countdown, and may block there (to hold a commit between two of its steps). */
void arca_store_fault_pause(void (*fn)(const char *where));

#endif
