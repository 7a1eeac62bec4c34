/*
 * The decrypted-record cache of a store (internal to store/; engine.c is its only user).
 *
 * Holds the verified plaintext of records read through arca_store_get, keyed by (table, key),
 * so that a repeated read costs a copy and a decode instead of a backend query, a hash, an
 * AES-GCM open and an HMAC. Bounded in bytes (least recently used entries go first); every
 * entry (key and plaintext) is wiped when it is evicted, invalidated or the cache is freed.
 * Thread-safe (one mutex).
 *
 * Freshness: a write transaction invalidates each row it writes (arca_store_cache_invalidate,
 * from tx_put / tx_del) and ends with arca_store_cache_tx_end (after its commit or abort).
 * While a transaction has written anything, and for any read that began before its end, no
 * entry is inserted: a reader's ticket (taken at its miss) is refused by arca_store_cache_put
 * if a write landed in between, so a value read before a commit is never cached after it.
 * The cache is only for a store this process alone writes (engine.c does not make one for a
 * shared backend, where another arcad may replace a row at any time).
 */
#ifndef ARCA_STORE_CACHE_H
#define ARCA_STORE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

struct arca_store_cache;

/* Default bound in bytes of cached keys and plaintext (arca_store_open). */
#define ARCA_STORE_CACHE_BYTES ((size_t)8 << 20)

/* A cache of at most max_bytes of keys and plaintext; free with arca_store_cache_free. */
int arca_store_cache_new(size_t max_bytes, struct arca_store_cache **out);
/* Wipes every entry and frees c (NULL is a no-op). */
void arca_store_cache_free(struct arca_store_cache *c);

/*
 * Looks (tbl, key) up. Hit: appends its plaintext to plain (pass a secret buffer) and returns
 * 0. Miss: ARCA_ERR_NOT_FOUND (no detail) and *ticket is what arca_store_cache_put needs to
 * insert the value the caller now reads from the backend. Other negative codes: plain
 * unchanged.
 */
int arca_store_cache_get(struct arca_store_cache *c, int tbl, const void *key, size_t keylen,
                         struct arca_buf *plain, uint64_t *ticket);
/* Inserts a copy of plaintext p[0..n) for (tbl, key) unless a write intervened since ticket
 * or it would not fit; best effort (nothing to report). */
void arca_store_cache_put(struct arca_store_cache *c, int tbl, const void *key, size_t keylen,
                          const uint8_t *p, size_t n, uint64_t ticket);
/* A write transaction writes (tbl, key): drops its entry and any staged write of the row,
 * inserts stop until tx_end. */
void arca_store_cache_invalidate(struct arca_store_cache *c, int tbl, const void *key,
                                 size_t keylen);
/*
 * Write-through (the writer only, under the store's wmu): the open batch wrote plaintext
 * p[0..n) to (tbl, key), after invalidating the row. The copy waits in the cache, outside the
 * table, until tx_end: inserted if the batch committed, wiped if not; so the next read of a row
 * a batch just wrote (a session's active version, read back by its next update) is a hit. Best
 * effort: a record too large, or staging beyond a quarter of the bound, is not kept.
 * stage_mark names what is staged so far; stage_drop(mark) wipes what was staged after it (a
 * member of the batch rolled back to its savepoint).
 */
void arca_store_cache_stage(struct arca_store_cache *c, int tbl, const void *key, size_t keylen,
                            const uint8_t *p, size_t n);
uint64_t arca_store_cache_stage_mark(const struct arca_store_cache *c);
void arca_store_cache_stage_drop(struct arca_store_cache *c, uint64_t mark);
/* The write transaction ended (committed: its staged records are inserted; rolled back: they
 * are wiped): inserts resume for new readers. Called once the backend COMMIT or ROLLBACK
 * returned, under wmu. */
void arca_store_cache_tx_end(struct arca_store_cache *c, bool committed);

/* Counters for tests and docs: entries, bytes held, hits, misses. */
struct arca_store_cache_stats {
    size_t entries, bytes;
    uint64_t hits, misses;
};
void arca_store_cache_stats(struct arca_store_cache *c, struct arca_store_cache_stats *st);

#endif
