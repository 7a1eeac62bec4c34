/*
 * The store engine's interface for the typed tables (internal to store/).
 *
 * The engine (engine.c, journal.c) owns everything that protects a record: the keys, row
 * sealing and opening, write transactions, the state journal and its hash chain, the
 * key-store, verification at open and on every read. The typed tables (sessions.c, once.c,
 * checkpoint.c, meta.c) only build and read struct arca_store_record values through the
 * functions below; they never see a key, a ciphertext or the backend.
 *
 * Plaintext rule: every decrypted record lives in a secret buffer the caller of
 * arca_store_get / arca_store_tx_get passes (or, for arca_store_scan, one the engine owns for
 * the duration of the callback); decoded records only borrow it. A table that copies a field
 * out must wipe that copy when it is freed (store.h says which ones).
 */
#ifndef ARCA_STORE_ENGINE_H
#define ARCA_STORE_ENGINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "crypto/crypto.h"
#include "store/backend.h"
#include "store/cache.h"
#include "store/record.h"
#include "store/store.h"

/* The store handle (store.h). Only engine.c and journal.c touch its members. */
struct arca_store {
    const struct arca_store_backend_ops *ops;
    void *be;
    char *ks_path;
    int lock_fd; /* flock on "<keystore>.lock": one process per store */
    uint8_t seal[ARCA_STORE_KEY_LEN];
    uint8_t dbkey[ARCA_STORE_KEY_LEN];
    uint8_t idxroot[ARCA_STORE_KEY_LEN]; /* the index key derives from it (keystore.h) */
    /* a key rotation (rotate.c) is in its write transaction: records so far were under
     * prev_dbkey, restored if the transaction does not commit (under wmu) */
    bool rotating;
    uint8_t prev_dbkey[ARCA_STORE_KEY_LEN];
    /* AES-256-GCM record keys: readers use reckeys[rk & 1]; a rotation derives the new one into
     * the other slot and flips rk when it commits (readers take no lock) */
    uint8_t reckeys[2][ARCA_AEAD_KEY_LEN];
    atomic_uint rk;
    uint8_t idxkey[32];  /* HMAC-SHA-256 */
    pthread_mutex_t wmu; /* serialises writers; readers never take it */
    /* writer state, under wmu; commit is also read without it (arca_store_state) */
    _Atomic uint64_t commit;
    uint64_t seq;
    uint8_t head[ARCA_STORE_HASH_LEN];
    /* set holding ksmu, read anywhere (atomic): */
    atomic_bool broken; /* a commit landed but the key-store could not follow: refuse writes */
    struct arca_store_hook hook; /* all NULL: none */
    atomic_bool unwitnessed;     /* the hook refused the last commit: retry before a write */
    uint64_t rows_at_open;       /* live records found by open() (compaction heuristic) */
    unsigned verify_threads;     /* arca_store_options.verify_threads, 0 mapped to 2 */
    /* group commit (group.c): write transactions that arrive together share one backend
     * transaction and one COMMIT; under wmu unless atomic */
    atomic_uint gwaiting; /* threads in tx_begin waiting for wmu */
    bool gopen;           /* a backend transaction is open for a batch */
    unsigned gmembers;    /* transactions released into it, waiting for its COMMIT */
    uint64_t gseq;        /* the chain after those members (commit is s->commit + 1) */
    uint8_t ghead[ARCA_STORE_HASH_LEN];
    struct arca_store_gwait *gwait; /* the members' waiting records */
    /* pipelined durability: a batch's key-store rewrite and witness round run holding ksmu
     * without wmu; the next COMMIT takes ksmu first (lock order wmu, ksmu, dmu) */
    pthread_mutex_t ksmu;
    pthread_mutex_t dmu;   /* the members' done flags; never held across I/O */
    atomic_bool gflushing; /* a batch's key-store rewrite or witness round runs (set under wmu
                              and dmu, cleared under dmu) */
    unsigned long gbatch;  /* batches ended so far (under wmu): tells a member whether its
                              batch is still open */
    pthread_cond_t gdone;  /* signalled when a batch's members are answered (with dmu), for
                              a member waiting for a rewrite's end; the others sleep on their
                              own semaphores (group.c) */
    char member[33];       /* arca_store_options.member, "" = none (checkpoint.c) */
    /* decrypted records read with arca_store_get (cache.h); NULL for a shared backend, whose
     * rows another arcad may replace at any time */
    struct arca_store_cache *cache;
    /* the writer's crypto contexts (engine.c), under wmu; NULL until the first write */
    struct arca_store_wcrypto *wc;
};

/*
 * Crypto contexts of the write transactions, kept from one write to the next (under wmu) so
 * that a row costs the computations only, not OpenSSL's per-call algorithm fetch and key
 * set-up: idx keyed with the index key (fixed after open), sha for the ciphertext hashes and
 * the chain, open keyed with okey (the record key reads use), seal with skey (the one writes
 * use; the new one while a rotation runs). A key that changed (rotation) is set again before
 * use. Freed, keys wiped, at close.
 */
struct arca_store_wcrypto {
    struct arca_hmac_ctx *idx;
    struct arca_hash_ctx *sha;
    struct arca_aead_ctx *open, *seal;
    uint8_t okey[ARCA_AEAD_KEY_LEN], skey[ARCA_AEAD_KEY_LEN];
    bool okey_set, skey_set;
    /* random row nonces drawn 16 at a time (one DRBG call, with its fork check, for 16 rows);
     * each is used once, from the end */
    uint8_t nonces[16 * ARCA_STORE_NONCE_LEN];
    unsigned nonces_left;
};

/* ---- reads (any thread) -------------------------------------------------------------------- */

/*
 * Reads record (tbl, key): checks the row against the journal, decrypts it appended to plain
 * (pass a secret buffer) and decodes it into *rec, which borrows plain. A record this process
 * verified or wrote last may come from the record cache (cache.h) instead of the backend. ARCA_ERR_NOT_FOUND if
 * absent; ARCA_ERR_TAMPERED (detail names the row, never its contents) if anything mismatches.
 */
int arca_store_get(struct arca_store *s, int tbl, const void *key, size_t keylen,
                   struct arca_buf *plain, struct arca_store_record *rec);

/* As arca_store_get, then appends the record's data field (secrets blob, metadata value) to out
 * (pass a secret buffer for secrets); the plaintext is wiped. out unchanged on failure;
 * ARCA_ERR_NOT_FOUND comes back without a detail, for the caller to word. */
int arca_store_get_data(struct arca_store *s, int tbl, const void *key, size_t keylen,
                        struct arca_buf *out);

/* Called once per verified record of a table; rec and its bytes are valid only during the
 * call (they are wiped afterwards). A negative return stops the scan and is returned. */
typedef int (*arca_store_rec_cb)(void *arg, const struct arca_store_record *rec);
/* Opens and verifies every row of tbl (in row-key order, i.e. no meaningful order) and calls
 * cb for each. Any row that does not verify stops the scan with ARCA_ERR_TAMPERED. */
int arca_store_scan(struct arca_store *s, int tbl, arca_store_rec_cb cb, void *arg);

/* Checks a session name or metadata key: non-empty, at most ARCA_STORE_NAME_MAX bytes. */
int arca_store_check_name(const char *name);

/* ---- write transactions ---------------------------------------------------------------------- */

/* One write transaction: holds the writer mutex from begin until commit or abort (commit then
 * waits, without the mutex, until the batch it joined is durable: group.c). */
struct arca_store_tx {
    struct arca_store *s;
    uint64_t commit;
    uint64_t seq;
    uint8_t head[ARCA_STORE_HASH_LEN];
    bool nested; /* runs inside a backend savepoint: earlier members share the transaction */
    bool alone;  /* arca_store_tx_begin_alone */
    uint64_t stage_mark; /* the record cache's staged writes before this member (cache.h) */
};

/* Derives the record key from s->dbkey (into the slot writes use) and the index key from
 * s->idxroot. */
int arca_store_derive_keys(struct arca_store *s);
/* The record key writes use (with wmu held): the new one while a rotation runs. */
uint8_t *arca_store_write_key(struct arca_store *s);
/* Ends a rotation's key switch (rotate.c) with wmu held: committed keeps the new key, else the
 * previous one is restored. No-op when no rotation runs. */
void arca_store_rotation_end(struct arca_store *s, bool committed);

/* Takes the writer mutex and opens a backend transaction, or a savepoint inside the open batch
 * of transactions committed together (group.c). On failure nothing is held. */
int arca_store_tx_begin(struct arca_store *s, struct arca_store_tx *tx);
/* As arca_store_tx_begin, but first commits any open batch and commits this transaction on its
 * own: for transactions that read through the reader connections (which see only committed
 * state) or that name the commit they make (compaction, key rotation). */
int arca_store_tx_begin_alone(struct arca_store *s, struct arca_store_tx *tx);
/* Undoes tx's writes (only its own: other members of the batch stay) and releases the mutex. */
void arca_store_tx_abort(struct arca_store_tx *tx);
/* Ends tx's writes into its batch and returns once the batch's COMMIT, key-store rewrite and
 * witness hook ran (by this thread or another member's): 0 only once tx's writes are durable
 * (and witnessed, with a hook). A failed batch fails every member. Releases the mutex. */
int arca_store_tx_commit(struct arca_store_tx *tx);
/* Takes the writer mutex with no batch open (commits an open one first), for code that uses
 * the writer connection outside a transaction (snapshot.c); release with pthread_mutex_unlock. */
void arca_store_writer_lock(struct arca_store *s);
/* As arca_store_get, inside tx (sees its own writes). *deleted (may be NULL) tells whether the
 * record existed once and was deleted (then the result is ARCA_ERR_NOT_FOUND). */
int arca_store_tx_get(struct arca_store_tx *tx, int tbl, const void *key, size_t keylen,
                      struct arca_buf *plain, struct arca_store_record *rec, bool *deleted);
/* Seals rec (its table and key name the row) and journals it. */
int arca_store_tx_put(struct arca_store_tx *tx, const struct arca_store_record *rec);
/* Deletes (tbl, key) and journals the deletion. ARCA_ERR_NOT_FOUND if no live row. */
int arca_store_tx_del(struct arca_store_tx *tx, int tbl, const void *key, size_t keylen);

/* ---- journal and chain (journal.c; for the engine only) ------------------------------------ */

/* Appends a journal entry for (tbl, rkey, ver, cthash) to tx and extends its head. */
int arca_store_tx_journal(struct arca_store_tx *tx, int tbl,
                          const uint8_t rkey[ARCA_STORE_RKEY_LEN], uint64_t ver,
                          const uint8_t cthash[32]);

/* The result of walking the whole journal (arca_store_journal_walk). */
struct arca_store_walk {
    const struct arca_store *s;
    uint64_t seq;
    uint64_t commit;
    uint8_t head[32];
    uint64_t prev_commit; /* the commit before the last one, and the head after it */
    uint8_t prev_head[32];
    uint64_t probe;   /* set before the walk: report the head after this commit */
    bool probe_found; /* the journal passes through commit probe (or its base is at it) */
    uint8_t probe_head[32];
    struct arca_hash_ctx *sha; /* during a walk: restarted per entry (NULL: one-shot hashes) */
};
/* Walks the journal from its beginning (or compaction base), checking sequence, commits,
 * tables and the base's MAC, and recomputes the head into *w. ARCA_ERR_TAMPERED on a break.
 * probe: a commit whose head to report in w->probe_head (0 = none). */
int arca_store_journal_walk(struct arca_store *s, uint64_t probe, struct arca_store_walk *w);
/* As arca_store_journal_walk, and also returns the newest entry of every key (deletes
 * included, the compaction base not), sorted by table, then row key (memcmp): open()
 * matches every row against it. *keys (n entries; none: NULL) is the caller's to free(). */
int arca_store_journal_newest(struct arca_store *s, uint64_t probe, struct arca_store_walk *w,
                              struct arca_store_jentry **keys, size_t *n);

/* HMAC(index key, "arca-store-head" || u64be commit || u64be seq || head) of a shared
 * backend's head row h, so that only holders of this store's key can advance it. */
int arca_store_head_mac(const struct arca_store *s, const struct arca_store_headrow *h,
                        uint8_t out[32]);
/* ARCA_ERR_TAMPERED (detail: records from another arca, or modified) unless h carries its MAC. */
int arca_store_head_verify(const struct arca_store *s, const struct arca_store_headrow *h);

#endif
