/*
 * The sealed store (DESIGN §7): arcad's persistent state, every record AES-256-GCM encrypted.
 *
 * A store is an opaque, thread-safe handle over a backend (store/backend.h; SQLite today, a
 * PostgreSQL backend can implement the same operations later). Reads run concurrently (one
 * backend reader connection per caller, no global lock); writes are serialised and each write
 * is one transaction that is durable when the call returns 0.
 *
 * Protection:
 *  - each record is sealed with AES-256-GCM under a key derived from the database key, with
 *    the table name, the record key and the record version as associated data (records cannot
 *    be swapped, moved or re-versioned); record keys are stored only as keyed hashes, so
 *    session names are not visible in the database file;
 *  - every write extends a state hash chain (head = SHA-256(prev head || table || key ||
 *    version || SHA-256(ciphertext))); the head and the commit number are sealed in the
 *    key-store file together with the database key, and checked when the store opens;
 *  - reads check the record against the chain journal (a record replaced by an older copy is
 *    refused with ARCA_ERR_TAMPERED);
 *  - the key-store is sealed with a key the caller's sealer supplies (simulation: derived from
 *    the platform secret and arcad's measurement; Gramine: the enclave sealing key).
 *
 * Errors: ARCA_ERR_TAMPERED (detail names the table/record or key-store field that failed),
 * ARCA_ERR_NOT_FOUND, ARCA_ERR_EXISTS (write-once record exists), ARCA_ERR_CONFLICT (the
 * active pointer is not what the caller expected), ARCA_ERR_REPLAY (single-use value used
 * again), ARCA_ERR_EXPIRED, ARCA_ERR_IO (the backend failed). Details never hold record
 * contents.
 */
#ifndef ARCA_STORE_STORE_H
#define ARCA_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define ARCA_STORE_KEY_LEN 32  /* database key and sealing key */
#define ARCA_STORE_HASH_LEN 32 /* session hash, key ids, chain head */

/*
 * The sealing interface: returns in key[32] the sealing key for purpose (the store asks for
 * "arca-keystore"). 0 or a negative arca_err. The store wipes the key after use.
 *  - simulation: arcad passes a callback over arca_sim_seal_key(platform, measurement,
 *    purpose) (evidence/sim.h); the store itself has no evidence dependency;
 *  - Gramine-SGX (arca_store_gramine_get_key, seal_gramine.c): the 16-byte key of
 *    /dev/attestation/keys/_sgx_mrenclave expanded with HKDF(purpose) to 32 bytes.
 */
struct arca_store_sealer {
    int (*get_key)(void *ctx, const char *purpose, uint8_t key[ARCA_STORE_KEY_LEN]);
    void *ctx;
};

/*
 * Gramine-SGX sealer: a get_key for struct arca_store_sealer that reads the 16-byte MRENCLAVE
 * sealing key from /dev/attestation/keys/_sgx_mrenclave (ctx NULL) or from the file ctx names
 * (a const char *: tests), and expands it with HKDF-SHA-256(salt "arca-gramine-seal-v1",
 * info = purpose) to 32 bytes. ARCA_ERR_NOT_FOUND outside Gramine (no such file),
 * ARCA_ERR_FORMAT if the file does not hold exactly 16 bytes, ARCA_ERR_IO.
 */
int arca_store_gramine_get_key(void *ctx, const char *purpose, uint8_t key[ARCA_STORE_KEY_LEN]);

/* A sealer over a fixed 32-byte key (copied into *sealer; wiped by arca_store_sealer_wipe).
 * For tests and for callers that already derived the key. */
struct arca_store_fixed_sealer {
    struct arca_store_sealer sealer;
    uint8_t key[ARCA_STORE_KEY_LEN];
};
void arca_store_fixed_sealer_init(struct arca_store_fixed_sealer *fs,
                                  const uint8_t key[ARCA_STORE_KEY_LEN]);
void arca_store_fixed_sealer_wipe(struct arca_store_fixed_sealer *fs);

struct arca_store;

/*
 * A freshness hook (arcad: its witnesses, witness/witness.h), so that a copy of the whole
 * state put back from earlier is refused. Both calls return 0 or a negative arca_err:
 *  - opened: once the files verified, before open writes anything (no compaction, no write),
 *    with the store's commit number; s may be read (not written). A failure fails the open;
 *  - committed: after every durable commit, in commit order and one call at a time (not under
 *    the writer lock: the next batch may run its statements meanwhile; its COMMIT waits for
 *    the call; docs/internals/store.md "Writes and durability"); retry is true when it
 *    repeats a commit whose earlier call failed (or for arca_store_recheck). After a failure
 *    the store refuses writes (the commit itself stays durable) until a retry succeeds at the
 *    next write or arca_store_recheck.
 */
struct arca_store_hook {
    int (*opened)(void *ctx, struct arca_store *s, uint64_t commit);
    int (*committed)(void *ctx, uint64_t commit, bool retry);
    void *ctx;
};

/* Calls hook->committed(commit, retry = true) under the writer lock: the periodic freshness
 * check. 0 without a hook. */
int arca_store_recheck(struct arca_store *s);

struct arca_store_options {
    /* database file (required), or a PostgreSQL connection URI "postgresql://..." which several
     * arcads may share (docs/internals/store.md "PostgreSQL") */
    const char *path;
    const char *keystore_path; /* NULL = path + ".key-store" (required for PostgreSQL) */
    const struct arca_store_sealer *sealer; /* required */
    bool create;                            /* create database and key-store if both are absent */
    unsigned readers;                       /* reader connections (0 = 4) */
    int busy_timeout_ms;                    /* 0 = 5000 */
    const struct arca_store_hook *hook;     /* NULL = none (copied) */
    /* NULL: the only process on this store; else this process's name among the several on a
     * shared store (1..32 of [0-9a-z-]): its audit checkpoints are kept apart from theirs */
    const char *member;
    /* threads of the open-time verification where the backend allows (0 = 2, 1 = one; the
     * result is the same: docs/internals/store.md "Start-up verification") */
    unsigned verify_threads;
    /* SQLite: the WAL length in frames (pages) past which a background checkpoint copies it
     * into the database (0 = 16000; docs/internals/store.md "WAL checkpoints") */
    unsigned wal_frames;
};

/*
 * Opens (or with opt->create, creates) the store: unseals the key-store, walks the state
 * chain, checks head and commit number against the sealed ones and checks every live record
 * against the chain. Refuses with ARCA_ERR_TAMPERED and a detail naming what mismatched
 * (key-store seal, chain head, commit number / rollback, record) or ARCA_ERR_NOT_FOUND when
 * the files are absent and create is false. One of the two files missing is ARCA_ERR_TAMPERED.
 * *out is freed with arca_store_close.
 */
int arca_store_open(const struct arca_store_options *opt, struct arca_store **out);
/* This data dir's member name on a shared store (arca_store_options.member): read from
 * DIR/store-member, made (random, 16 hex digits) when absent. out gets a NUL-terminated name. */
int arca_store_member_name(const char *dir, char out[33]);
/* Whether path names a PostgreSQL database ("postgresql://" or "postgres://") rather than a
 * file. */
bool arca_store_path_is_pg(const char *path);
/* Closes connections and wipes keys. NULL is fine. No call may be running on s. */
void arca_store_close(struct arca_store *s);

/* The current commit number and chain head (for status pages and tests). With head NULL it
 * takes no lock (the audit log reads the commit number for every line). */
int arca_store_state(struct arca_store *s, uint64_t *commit, uint8_t head[ARCA_STORE_HASH_LEN]);

/*
 * Drops superseded state-journal entries (older versions of records that were rewritten),
 * keeping the newest entry of every key (deletions too, so taken single-use values stay
 * refused) behind an authenticated base entry that stands for the history before. One
 * durable write. open() does this by itself when most of the journal is superseded.
 * *removed (may be NULL) gets the number of entries dropped (0 if not worth it).
 */
int arca_store_compact(struct arca_store *s, uint64_t *removed);

/*
 * Re-encrypts every record under a new random database key (docs/internals/store.md "Key
 * rotation") in one durable write; the index key stays, so nothing else changes for callers.
 * Crash-safe: killed at any moment, the store reopens with every record, under the old or the
 * new key. *records (may be NULL) gets the number of records rewritten. Holds the writer for
 * the whole rewrite and the records in memory.
 */
int arca_store_rotate_key(struct arca_store *s, uint64_t *records);

/*
 * Writes a consistent copy of the store while it serves: holds the writer (writes wait; reads
 * go on), calls during(arg) if not NULL (the caller copies what must match this state, e.g. the
 * audit log), copies the database to the new file db_out (SQLite online backup) and the
 * key-store to ks_out. Both stay sealed as they are: the copy opens where the store opens.
 */
int arca_store_snapshot(struct arca_store *s, const char *db_out, const char *ks_out,
                        int (*during)(void *arg), void *arg);

/* ---- sessions ------------------------------------------------------------------------------ */

/* One immutable session version. All pointers owned by the struct (arca_store_session_free). */
struct arca_store_session {
    char *name;                               /* NUL-terminated */
    uint64_t version;                         /* 1 for the first version, +1 per update */
    uint8_t hash[ARCA_STORE_HASH_LEN];        /* the session hash (its record key) */
    bool has_predecessor;                     /* false for the first version */
    uint8_t predecessor[ARCA_STORE_HASH_LEN]; /* hash of the previous version */
    uint8_t creator[ARCA_STORE_HASH_LEN];     /* key id (SHA-256 SPKI) of the creator */
    int64_t created_at;                       /* seconds since the epoch */
    char *yaml;                               /* the YAML as uploaded, NUL-terminated */
    size_t yaml_len;
    uint8_t *model; /* optional canonical model bytes (NULL/0 if none) */
    size_t model_len;
};
/* Wipes and frees the members (decrypted plaintext: name, yaml, model) and the struct. NULL is
 * fine. Only for structs the store returned (it relies on its own allocation sizes). */
void arca_store_session_free(struct arca_store_session *rec);

/* The active pointer of a session name. */
struct arca_store_active {
    char *name; /* owned (arca_store_active_clear / arca_store_active_list_free) */
    uint8_t hash[ARCA_STORE_HASH_LEN];
    uint64_t version;
};
/* Both wipe the names before freeing them. */
void arca_store_active_clear(struct arca_store_active *a);
void arca_store_active_list_free(struct arca_store_active *list, size_t count);

/*
 * Writes a new session version, its secrets blob (may be NULL/0: none) and moves the active
 * pointer of rec->name to it, in one durable transaction:
 *  - rec->has_predecessor false: create; ARCA_ERR_EXISTS if the name has an active version;
 *  - rec->has_predecessor true: update; ARCA_ERR_CONFLICT unless the active hash equals
 *    rec->predecessor (ARCA_ERR_NOT_FOUND if the name has none).
 * ARCA_ERR_EXISTS if a version with rec->hash is stored already (history is immutable).
 * The secrets blob is opaque (the secret engine's serialisation); it is sealed like any record.
 */
int arca_store_session_commit(struct arca_store *s, const struct arca_store_session *rec,
                              const void *secrets, size_t secrets_len);

/*
 * What arca_store_session_commit_ex adds to a commit, in the same transaction:
 *  - the listing index entry of rec->name (store table "index": name, hash, version, creator
 *    and readers, an opaque encoding of who may list the session that the caller defines:
 *    cas/cas_list.c); readers NULL/0 stores an entry without one (the caller then decides
 *    from the version itself);
 *  - on create, one more session counted against rec->creator ("sessions created", a sealed
 *    meta record); with max_created > 0 a create by a creator that created max_created sessions
 *    already is refused with ARCA_ERR_LIMIT (nothing written), so concurrent creates cannot
 *    overshoot the quota.
 */
struct arca_store_commit_extra {
    const void *readers;
    size_t readers_len;
    uint64_t max_created; /* 0 = no limit */
    /* The approvals that admitted this version (opaque: cas/cas_approvals.c), stored with it
     * in the same transaction; NULL/0: none. */
    const void *approvals;
    size_t approvals_len;
};
/* arca_store_session_commit with extra (NULL: no readers, no limit). */
int arca_store_session_commit_ex(struct arca_store *s, const struct arca_store_session *rec,
                                 const void *secrets, size_t secrets_len,
                                 const struct arca_store_commit_extra *extra);
/* The approvals stored with version hash (appended to out); ARCA_ERR_NOT_FOUND if it has
 * none (store/approvals.c). */
int arca_store_approvals_get(struct arca_store *s, const uint8_t hash[ARCA_STORE_HASH_LEN],
                             struct arca_buf *out);
/* The meta key under which approvals of hash are kept ("approvals/" + 64 hex, NUL). */
#define ARCA_STORE_APPROVALS_KEY_LEN (10 + 64 + 1)
void arca_store_approvals_key(char out[ARCA_STORE_APPROVALS_KEY_LEN],
                              const uint8_t hash[ARCA_STORE_HASH_LEN]);
/* How many sessions creator created (counted since stores keep that count; 0 if none). */
int arca_store_sessions_created(struct arca_store *s, const uint8_t creator[ARCA_STORE_HASH_LEN],
                                uint64_t *n);

/* A session's listing entry: the active pointer with what listing decides on. */
struct arca_store_listing {
    char *name; /* owned */
    uint8_t hash[ARCA_STORE_HASH_LEN];
    uint64_t version;
    bool indexed;                         /* false: no index entry for this active hash */
    uint8_t creator[ARCA_STORE_HASH_LEN]; /* valid if indexed */
    uint8_t *readers;                     /* owned; NULL/0 if not indexed or none stored */
    size_t readers_len;
};
/*
 * The active sessions whose name starts with prefix ("" or NULL = all) and sorts after after
 * (NULL = from the first), sorted by name, each with its index entry when that entry belongs
 * to the active hash (a store written before the index existed has none: indexed false). Only
 * the small active and index records are opened, never a session version. *list malloc'ed
 * (arca_store_listing_free); *count may be 0 (*list NULL then).
 */
int arca_store_listing_get(struct arca_store *s, const char *prefix, const char *after,
                           struct arca_store_listing **list, size_t *count);
void arca_store_listing_free(struct arca_store_listing *list, size_t count);

/* Any stored version by hash. *out freed with arca_store_session_free. */
int arca_store_session_get(struct arca_store *s, const uint8_t hash[ARCA_STORE_HASH_LEN],
                           struct arca_store_session **out);
/* The active version of name (convenience: active pointer, then get). */
int arca_store_session_get_active(struct arca_store *s, const char *name,
                                  struct arca_store_session **out);
/* The active pointer of name; out->name owned by out (arca_store_active_clear). */
int arca_store_active_get(struct arca_store *s, const char *name, struct arca_store_active *out);
/* All active pointers whose name starts with prefix ("" or NULL = all), sorted by name.
 * *list is malloc'ed (arca_store_active_list_free); *count may be 0 (then *list is NULL). */
int arca_store_active_list(struct arca_store *s, const char *prefix,
                           struct arca_store_active **list, size_t *count);
/* The secrets blob stored with session version hash, appended to out (pass a secret buffer).
 * ARCA_ERR_NOT_FOUND if the version has none. */
int arca_store_secrets_get(struct arca_store *s, const uint8_t hash[ARCA_STORE_HASH_LEN],
                           struct arca_buf *out);

/* ---- single-use values (challenges, OTP replay) -------------------------------------------- */

/*
 * Stores a single-use value under (ns, id): ns is a short namespace ("challenge", "otp:svc"),
 * id the value's bytes (a nonce, an OTP code); data (may be NULL/0) is returned by take.
 * ARCA_ERR_REPLAY if (ns, id) is stored already or was taken before (the chain remembers),
 * which is how OTP reuse is refused. expires_at in seconds since the epoch.
 */
int arca_store_once_put(struct arca_store *s, const char *ns, const void *id, size_t idlen,
                        int64_t expires_at, const void *data, size_t datalen);
/*
 * Consumes (ns, id) atomically: appends its data to out (may be NULL) and deletes it.
 * ARCA_ERR_REPLAY if it was taken before, ARCA_ERR_NOT_FOUND if never stored,
 * ARCA_ERR_EXPIRED (and it is deleted) if now >= expires_at.
 */
int arca_store_once_take(struct arca_store *s, const char *ns, const void *id, size_t idlen,
                         int64_t now, struct arca_buf *out);
/* Deletes every single-use value expired at now; *purged (may be NULL) gets the count. */
int arca_store_once_purge(struct arca_store *s, int64_t now, size_t *purged);

/* ---- audit checkpoints ------------------------------------------------------------------- */

#define ARCA_STORE_SIG_MAX 512
struct arca_store_checkpoint {
    uint64_t seq;   /* sequence number of the audit line */
    int64_t time;   /* when it was recorded */
    size_t sig_len; /* signature of that line */
    uint8_t sig[ARCA_STORE_SIG_MAX];
    /* The current audit file up to and including line seq's newline: its length and SHA-256,
     * so arca_audit_open verifies only the lines after it (docs/internals/audit.md "Start-up").
     * prefix_len 0 = not recorded (a history checkpoint, or a record of an older arcad). */
    uint64_t prefix_len;
    uint8_t prefix_sha256[ARCA_STORE_HASH_LEN];
};
/* Records cp as the latest checkpoint; with history also keeps it in the history list. */
int arca_store_checkpoint_put(struct arca_store *s, const struct arca_store_checkpoint *cp,
                              bool history);
/* Records cp as the latest checkpoint and, in the same commit, hist (NULL = none; the audit
 * log's every 250th line, older than cp) in the history list. */
int arca_store_checkpoint_put_pair(struct arca_store *s, const struct arca_store_checkpoint *cp,
                                   const struct arca_store_checkpoint *hist);
/* The latest checkpoint; ARCA_ERR_NOT_FOUND if none. */
int arca_store_checkpoint_latest(struct arca_store *s, struct arca_store_checkpoint *out);
/* History checkpoints in increasing seq, at most max (the newest max). *list malloc'ed (free()). */
int arca_store_checkpoint_list(struct arca_store *s, size_t max,
                               struct arca_store_checkpoint **list, size_t *count);

/* ---- server metadata (generic key/value) --------------------------------------------------- */

/* Stores value under key (a NUL-terminated name), replacing any previous value. */
int arca_store_meta_put(struct arca_store *s, const char *key, const void *value, size_t len);
/* Appends the value to out (secret buffer if the value is private). ARCA_ERR_NOT_FOUND. */
int arca_store_meta_get(struct arca_store *s, const char *key, struct arca_buf *out);
int arca_store_meta_delete(struct arca_store *s, const char *key);

/* ---- protected volumes (volume_tags.c) ------------------------------------------------------ */

/*
 * The latest known state of a volume of a session (docs/volumes.md "Freshness"): the key arcad
 * generated for a volume the policy gives none, the latest root tag an attested program
 * reported, and the policy tag it started from (base: a policy update naming another tag
 * starts over from that tag). seq counts updates. key is secret: wipe the struct.
 */
struct arca_store_volume {
    uint64_t seq;
    bool has_key;
    uint8_t key[32];
    bool has_tag;
    uint8_t tag[16];
    bool has_base;
    uint8_t base[16];
};

/* ARCA_ERR_NOT_FOUND if nothing is stored for (session, volume). */
int arca_store_volume_get(struct arca_store *s, const char *session, const char *volume,
                          struct arca_store_volume *out);
/*
 * Writes next for (session, volume) in one transaction if the stored record's seq equals
 * *expect_seq (expect_seq NULL: only if none is stored), else ARCA_ERR_CONFLICT; next->seq is
 * set to the new sequence number. This is what orders two writers of one volume.
 */
int arca_store_volume_update(struct arca_store *s, const char *session, const char *volume,
                             const uint64_t *expect_seq, struct arca_store_volume *next);
/* arcad's key for volume report credentials (32 bytes, secret: the caller wipes it), made on
 * first use and kept sealed in the store, so credentials survive a restart of arcad. */
int arca_store_volume_report_key(struct arca_store *s, uint8_t key[32]);
/* ---- provided_by uploads (provided.c) ------------------------------------------------------ */

/*
 * The latest value the provided_by service of secret uploaded for session (sealed; secret).
 * get appends it to value (a secret buffer the caller initialised and frees) and sets *seq
 * (may be NULL) to its upload count; ARCA_ERR_NOT_FOUND if none was uploaded. put replaces
 * the value in one transaction and sets *seq (may be NULL) to the new count.
 */
int arca_store_provided_get(struct arca_store *s, const char *session, const char *secret,
                            struct arca_buf *value, uint64_t *seq);
int arca_store_provided_put(struct arca_store *s, const char *session, const char *secret,
                            const void *value, size_t len, uint64_t *seq);
/* ---- proposals (proposals.c) --------------------------------------------------------------- */

/*
 * Pending governed changes (cas/cas_proposals.h), one opaque sealed body per proposal id (1..64
 * lowercase hex digits). Bodies may hold secret values: pass secret buffers.
 */
#define ARCA_STORE_PROPOSAL_ID_MAX 64
/* Appends the body of proposal id to out. ARCA_ERR_NOT_FOUND ("no proposal ID"). */
int arca_store_proposal_get(struct arca_store *s, const char *id, struct arca_buf *out);
/*
 * The read-modify-write of proposal id in one durable transaction: fn gets the current body
 * (NULL/0 when there is none) and appends the new body to next (a secret buffer); leaving next
 * empty changes nothing. fn's negative return aborts and is returned. fn runs under the store's
 * writer lock: it must not call the store.
 */
typedef int (*arca_store_proposal_fn)(void *arg, const uint8_t *cur, size_t cur_len,
                                      struct arca_buf *next);
int arca_store_proposal_update(struct arca_store *s, const char *id, arca_store_proposal_fn fn,
                               void *arg);
/* Calls cb with every proposal's id and body (valid only during the call; no order). A
 * negative return stops the scan and is returned. */
typedef int (*arca_store_proposal_cb)(void *arg, const char *id, const uint8_t *body, size_t len);
int arca_store_proposal_scan(struct arca_store *s, arca_store_proposal_cb cb, void *arg);

#endif
