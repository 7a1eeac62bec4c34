/*
 * Bounded per-key counters that put a price on guessing and flooding (DESIGN §9: every cost a
 * peer can cause is bounded per peer and per identity).
 *
 * Two kinds, each a fixed-capacity table that never grows with the number of keys a stranger
 * can invent:
 *   - a throttle counts failed tries per key (a session/service's one-time passwords, access
 *     tokens, attestation attempts): the first failures are free, then each further try must
 *     wait a delay that doubles, and after lockout_failures the key is locked out for lockout_ms.
 *     A success forgets the key.
 *   - a rate limiter gives each key (a peer address) a token bucket, and all keys together a
 *     global bucket, for requests that cost work without authentication.
 *
 * Keys are stored as SHA-256(random salt || key) prefixes, so a table's slots cannot be aimed
 * at by choosing keys. When a key's probe window is full, the stalest entry that holds no
 * restriction is replaced; a throttle whose window holds only active restrictions refuses the
 * new key (fail closed), a rate limiter replaces the least recently used entry.
 *
 * Time is a parameter (milliseconds on a monotonic clock), so tests need no sleeping. All
 * functions are thread-safe.
 */
#ifndef ARCA_LIMITS_LIMITS_H
#define ARCA_LIMITS_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arca_throttle_cfg {
    unsigned free_failures;    /* failures without delay (e.g. 3) */
    unsigned lockout_failures; /* failures that lock the key out (e.g. 10); > free_failures */
    int64_t base_delay_ms;     /* wait after the first failure beyond the free ones; doubles */
    int64_t max_delay_ms;      /* cap of that wait */
    int64_t lockout_ms;        /* how long a locked-out key stays locked */
    int64_t forget_ms;         /* a key without failures for this long starts over */
    size_t capacity;           /* keys tracked at most (rounded up to a power of two) */
};

/* The defaults documented in docs/arcad.md: 3 free failures, then 1 s doubling up to 60 s,
 * locked out for 15 min after 10, forgotten after 1 h, 4096 keys. */
void arca_throttle_cfg_default(struct arca_throttle_cfg *cfg);

struct arca_throttle;

/* A new throttle (free with arca_throttle_free). ARCA_ERR_INVALID_ARG for an unusable cfg. */
int arca_throttle_new(const struct arca_throttle_cfg *cfg, struct arca_throttle **out);
void arca_throttle_free(struct arca_throttle *t);

/*
 * May key try now? 0 if yes; ARCA_ERR_LIMIT if it must wait (*retry_after_ms, may be NULL, gets
 * how long; *locked, may be NULL, whether it is locked out rather than slowed down). The error
 * detail names neither the key nor a count a guesser could use beyond "try again in N s".
 */
int arca_throttle_check(struct arca_throttle *t, const void *key, size_t klen, int64_t now_ms,
                        int64_t *retry_after_ms, bool *locked);
/*
 * Counts a failed try of key. *locked_now (may be NULL) is true when this failure locked the
 * key out (the caller audits that once). ARCA_ERR_LIMIT when the table has no room for the key
 * (every slot it may use holds an active restriction): treat it as throttled.
 */
int arca_throttle_fail(struct arca_throttle *t, const void *key, size_t klen, int64_t now_ms,
                       bool *locked_now);
/* A successful try: key starts over. */
void arca_throttle_success(struct arca_throttle *t, const void *key, size_t klen);

struct arca_ratelimit_cfg {
    double per_key_rate;  /* tokens per second per key */
    double per_key_burst; /* bucket size per key */
    double global_rate;   /* tokens per second for all keys together (0 = no global bucket) */
    double global_burst;
    size_t capacity; /* keys tracked at most (rounded up to a power of two) */
};

struct arca_ratelimit;

int arca_ratelimit_new(const struct arca_ratelimit_cfg *cfg, struct arca_ratelimit **out);
void arca_ratelimit_free(struct arca_ratelimit *r);
/*
 * Takes one token for key: 0, or ARCA_ERR_LIMIT with *retry_after_ms (may be NULL) when key's
 * bucket or the global bucket is empty (nothing is taken then).
 */
int arca_ratelimit_take(struct arca_ratelimit *r, const void *key, size_t klen, int64_t now_ms,
                        int64_t *retry_after_ms);

#endif
