/*
 * Parsed sessions kept between requests (docs/internals/cas.md "Parsed-policy cache"): one
 * model per (session name, version hash), shared by the client API's read path (cas) and the
 * attestation pipeline (attest), so neither parses a version's YAML again per request.
 *
 * A version's text never changes under its hash (the hash is SHA-256 over the text and the
 * creator, and the store refuses a row whose MAC does not verify), so an entry is never stale:
 * a new version, written by this arcad or by another one on a shared store, has a new hash and
 * misses. Callers always look up with the hash they just read from the store.
 *
 * Only what arca_session_load makes of the text is cached: a model whose imported values must
 * be fetched is resolved per request by the caller (attest.h), and the resolved model is never
 * put here (arca_cached_session_own wraps it for the same interface). Entries are immutable after
 * insert and reference-counted; the cache is bounded by count and by bytes (least recently
 * used first out) and every entry is wiped when its last reference goes (arca_session_free).
 * All functions are thread-safe.
 */
#ifndef ARCA_POLICY_SESSION_CACHE_H
#define ARCA_POLICY_SESSION_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "policy/session.h"

#define ARCA_SESSION_CACHE_COUNT_DEFAULT 1024
#define ARCA_SESSION_CACHE_BYTES_DEFAULT (32u << 20)

struct arca_session_cache;
/* One reference to an immutable model (cached or not). */
struct arca_cached_session;

/* A cache of at most max_count entries (1..2^20) and about max_bytes bytes (the size of an
 * entry is counted as a multiple of its text: arca_session_cache_entry_bytes). *out is freed
 * with arca_session_cache_free once no thread uses it (references still held stay valid). */
int arca_session_cache_new(size_t max_count, size_t max_bytes, struct arca_session_cache **out);
void arca_session_cache_free(struct arca_session_cache *c);

/*
 * The model of the stored version (name, hash) whose text is yaml[0..len): from c, or loaded
 * (arca_session_load) and put into c. c may be NULL: then always loaded, never kept. On success
 * *out is a new reference (arca_cached_session_put); on failure *out is NULL and the code is
 * arca_session_load's (the diagnostics are dropped: a stored version was valid when committed).
 * A version larger than the byte bound is loaded and returned but not kept.
 */
int arca_session_cache_get(struct arca_session_cache *c, const char *name, const uint8_t hash[32],
                           const char *yaml, size_t len, struct arca_cached_session **out);

/* Wraps s (stolen; freed with the reference, also on failure) as an uncached reference. */
int arca_cached_session_own(struct arca_session *s, struct arca_cached_session **out);

/* The model of r; valid while r is held. Never modify it: other threads read it too. */
const struct arca_session *arca_cached_session_model(const struct arca_cached_session *r);

/*
 * The session text of r's version redacted (policy/redact.h) from yaml[0..len) (the text r was
 * loaded from): computed once per cached entry and kept with it (it depends on the text alone,
 * not on who reads). *text points into r (valid while r is held; not NUL-terminated). A
 * failure of the redaction is returned and not kept.
 */
int arca_cached_session_redacted(struct arca_cached_session *r, const char *yaml, size_t len,
                                 const char **text, size_t *n);

/*
 * Memos: a text a caller makes from r's version and a few inputs besides it, kept with r so
 * that the next request with the same inputs reuses it (the client API keeps the JSON answer
 * of a session read, one slot per value of its "active" flag: cas/cas_sessions.c). key[0..
 * key_len) is the caller's encoding of every input the text depends on besides r's version;
 * the version itself is r's cache key. So, like the redacted text, a memo is never stale: a
 * new version misses, and other inputs are another key.
 *
 * arca_cached_session_memo: 0 with *text (into r, valid while r is held; not NUL-terminated)
 * when slot holds a text kept under exactly key; ARCA_ERR_NOT_FOUND otherwise.
 * arca_cached_session_memo_keep: keeps a copy of text[0..n) under key when slot is empty (the
 * first text kept stays; a memo never changes under its readers) and its size is within what
 * the cache's byte bound counts (about twice the version text; a larger one is not kept); 0 or
 * ARCA_ERR_ALLOC. Thread-safe; wiped with r.
 */
#define ARCA_CACHED_MEMO_SLOTS 2
int arca_cached_session_memo(const struct arca_cached_session *r, unsigned slot, const void *key,
                             size_t key_len, const void **text, size_t *n);
int arca_cached_session_memo_keep(struct arca_cached_session *r, unsigned slot, const void *key,
                                  size_t key_len, const void *text, size_t n);

/* Drops one reference (NULL is fine); the last one frees and wipes the model. */
void arca_cached_session_put(struct arca_cached_session *r);

/* What c holds and did (for tests and metrics). */
struct arca_session_cache_stats {
    size_t count, bytes;
    uint64_t hits, misses, evictions;
};
void arca_session_cache_stats(struct arca_session_cache *c, struct arca_session_cache_stats *out);

/* The size counted for an entry of a text of len bytes named name. */
size_t arca_session_cache_entry_bytes(const char *name, size_t len);

#endif
