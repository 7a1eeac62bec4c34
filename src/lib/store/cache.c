/*
 * The decrypted-record cache (cache.h): a chained hash table over a least-recently-used list,
 * under one mutex. Each entry is one allocation holding the key and the plaintext, wiped
 * before it is freed. The bucket hash is seeded per cache from the random source, so that
 * chosen session names cannot pile up in one chain.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "crypto/crypto.h"
#include "store/cache.h"

#define BUCKETS 4096u

struct entry {
    struct entry *chain;       /* next in the bucket */
    struct entry *prev, *next; /* LRU list, most recent first */
    size_t size;               /* accounted bytes: the allocation */
    uint64_t seq;              /* staged entries: order of staging (arca_store_cache_stage) */
    int tbl;
    size_t keylen, plen;
    uint8_t bytes[]; /* key, then plaintext */
};

struct arca_store_cache {
    pthread_mutex_t mu;
    size_t max, bytes, entries;
    uint64_t seed;
    /* bumped at every invalidation and transaction end: a ticket older than it is refused */
    uint64_t gen;
    bool writing; /* a transaction has invalidated rows and has not ended */
    uint64_t hits, misses;
    struct entry *head, *tail;
    struct entry *bucket[BUCKETS];
    /* the writer's (under the store's wmu, not mu): records the open batch wrote, linked by
     * chain, inserted when it commits */
    struct entry *staged;
    uint64_t stage_seq;
    size_t staged_bytes;
};

int arca_store_cache_new(size_t max_bytes, struct arca_store_cache **out)
{
    ARCA_ENSURE_REF(out);
    struct arca_store_cache *c = calloc(1, sizeof(*c));
    ARCA_ENSURE(c != NULL, ARCA_ERR_ALLOC, "store cache: out of memory");
    int rc = arca_random(&c->seed, sizeof(c->seed));
    if (rc < 0) {
        free(c);
        return rc;
    }
    pthread_mutex_init(&c->mu, NULL);
    c->max = max_bytes;
    *out = c;
    return 0;
}

static size_t slot(const struct arca_store_cache *c, int tbl, const uint8_t *key, size_t keylen)
{
    uint64_t h = 1469598103934665603ull ^ c->seed;
    h = (h ^ (uint8_t)tbl) * 1099511628211ull;
    for (size_t i = 0; i < keylen; i++)
        h = (h ^ key[i]) * 1099511628211ull;
    h ^= h >> 29;
    return (size_t)(h % BUCKETS);
}

static struct entry **find(struct arca_store_cache *c, int tbl, const void *key, size_t keylen)
{
    struct entry **pp = &c->bucket[slot(c, tbl, key, keylen)];
    for (; *pp != NULL; pp = &(*pp)->chain)
        if ((*pp)->tbl == tbl && (*pp)->keylen == keylen && memcmp((*pp)->bytes, key, keylen) == 0)
            return pp;
    return pp;
}

static void lru_unlink(struct arca_store_cache *c, struct entry *e)
{
    if (e->prev != NULL)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_front(struct arca_store_cache *c, struct entry *e)
{
    e->next = c->head;
    e->prev = NULL;
    if (c->head != NULL)
        c->head->prev = e;
    c->head = e;
    if (c->tail == NULL)
        c->tail = e;
}

/* Unlinks *pp (the chain link that points at it) and wipes it. */
static void drop(struct arca_store_cache *c, struct entry **pp)
{
    struct entry *e = *pp;
    *pp = e->chain;
    lru_unlink(c, e);
    c->bytes -= e->size;
    c->entries--;
    arca_wipe_free(e, e->size);
}

/* Unlinks and wipes the staged entries for which pred holds. */
static void unstage_if(struct arca_store_cache *c, bool (*pred)(const struct entry *, const void *),
                       const void *arg)
{
    struct entry **pp = &c->staged;
    while (*pp != NULL) {
        struct entry *e = *pp;
        if (!pred(e, arg)) {
            pp = &e->chain;
            continue;
        }
        *pp = e->chain;
        c->staged_bytes -= e->size;
        arca_wipe_free(e, e->size);
    }
}

struct key_ref {
    int tbl;
    const void *key;
    size_t keylen;
};

static bool same_key(const struct entry *e, const void *arg)
{
    const struct key_ref *k = arg;
    return e->tbl == k->tbl && e->keylen == k->keylen && memcmp(e->bytes, k->key, k->keylen) == 0;
}

static bool after_mark(const struct entry *e, const void *arg)
{
    return e->seq > *(const uint64_t *)arg;
}

static bool any_entry(const struct entry *e, const void *arg)
{
    (void)e;
    (void)arg;
    return true;
}

void arca_store_cache_free(struct arca_store_cache *c)
{
    if (c == NULL)
        return;
    unstage_if(c, any_entry, NULL);
    for (size_t i = 0; i < BUCKETS; i++)
        while (c->bucket[i] != NULL)
            drop(c, &c->bucket[i]);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

int arca_store_cache_get(struct arca_store_cache *c, int tbl, const void *key, size_t keylen,
                         struct arca_buf *plain, uint64_t *ticket)
{
    ARCA_ENSURE_REF(c);
    ARCA_ENSURE_REF(key);
    ARCA_ENSURE_REF(plain);
    ARCA_ENSURE_REF(ticket);
    pthread_mutex_lock(&c->mu);
    struct entry *e = *find(c, tbl, key, keylen);
    int rc = ARCA_ERR_NOT_FOUND;
    if (e != NULL) {
        rc = arca_buf_put(plain, e->bytes + e->keylen, e->plen);
        lru_unlink(c, e);
        lru_front(c, e);
        c->hits++;
    } else {
        /* a reader that starts while a transaction is writing can never insert */
        *ticket = c->writing ? UINT64_MAX : c->gen;
        c->misses++;
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* A new entry holding a copy of key and p[0..n), or NULL (too large for c, or no memory). */
static struct entry *entry_new(const struct arca_store_cache *c, int tbl, const void *key,
                               size_t keylen, const uint8_t *p, size_t n)
{
    size_t size = sizeof(struct entry) + keylen + n;
    if (size > c->max || size < n)
        return NULL;
    struct entry *e = malloc(size);
    if (e == NULL)
        return NULL;
    memset(e, 0, sizeof(*e));
    e->size = size;
    e->tbl = tbl;
    e->keylen = keylen;
    e->plen = n;
    memcpy(e->bytes, key, keylen);
    memcpy(e->bytes + keylen, p, n);
    return e;
}

/* Under mu, with no entry for e's key in c: links e in, evicting from the LRU end to fit. */
static void insert(struct arca_store_cache *c, struct entry *e)
{
    while (c->bytes + e->size > c->max && c->tail != NULL) {
        struct entry *old = c->tail;
        drop(c, find(c, old->tbl, old->bytes, old->keylen));
    }
    /* looked up after the evictions: a drop may have unlinked the old chain end */
    *find(c, e->tbl, e->bytes, e->keylen) = e;
    e->chain = NULL;
    lru_front(c, e);
    c->bytes += e->size;
    c->entries++;
}

void arca_store_cache_put(struct arca_store_cache *c, int tbl, const void *key, size_t keylen,
                          const uint8_t *p, size_t n, uint64_t ticket)
{
    if (c == NULL)
        return;
    struct entry *e = entry_new(c, tbl, key, keylen, p, n);
    if (e == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    if (ticket != c->gen || c->writing || *find(c, tbl, key, keylen) != NULL) {
        pthread_mutex_unlock(&c->mu);
        arca_wipe_free(e, e->size);
        return;
    }
    insert(c, e);
    pthread_mutex_unlock(&c->mu);
}

uint64_t arca_store_cache_stage_mark(const struct arca_store_cache *c)
{
    return c != NULL ? c->stage_seq : 0;
}

void arca_store_cache_stage(struct arca_store_cache *c, int tbl, const void *key, size_t keylen,
                            const uint8_t *p, size_t n)
{
    if (c == NULL)
        return;
    struct entry *e = entry_new(c, tbl, key, keylen, p, n);
    if (e == NULL)
        return;
    /* a batch that writes more (a key rotation) leaves the rest to be read back */
    if (c->staged_bytes + e->size > c->max / 4) {
        arca_wipe_free(e, e->size);
        return;
    }
    e->seq = ++c->stage_seq;
    e->chain = c->staged;
    c->staged = e;
    c->staged_bytes += e->size;
}

void arca_store_cache_stage_drop(struct arca_store_cache *c, uint64_t mark)
{
    if (c != NULL)
        unstage_if(c, after_mark, &mark);
}

void arca_store_cache_invalidate(struct arca_store_cache *c, int tbl, const void *key,
                                 size_t keylen)
{
    if (c == NULL)
        return;
    /* an earlier write of the batch to the row is superseded */
    struct key_ref k = {.tbl = tbl, .key = key, .keylen = keylen};
    unstage_if(c, same_key, &k);
    pthread_mutex_lock(&c->mu);
    c->writing = true;
    c->gen++;
    struct entry **pp = find(c, tbl, key, keylen);
    if (*pp != NULL)
        drop(c, pp);
    pthread_mutex_unlock(&c->mu);
}

void arca_store_cache_tx_end(struct arca_store_cache *c, bool committed)
{
    if (c == NULL)
        return;
    struct entry *list = c->staged;
    c->staged = NULL;
    c->staged_bytes = 0;
    pthread_mutex_lock(&c->mu);
    if (c->writing) {
        c->writing = false;
        c->gen++;
    }
    while (committed && list != NULL) {
        struct entry *e = list;
        list = e->chain;
        struct entry **pp = find(c, e->tbl, e->bytes, e->keylen);
        if (*pp != NULL) /* a reader's insert after this commit: the same record */
            drop(c, pp);
        insert(c, e);
    }
    pthread_mutex_unlock(&c->mu);
    while (list != NULL) { /* rolled back: none of it is in the backend */
        struct entry *e = list;
        list = e->chain;
        arca_wipe_free(e, e->size);
    }
}

void arca_store_cache_stats(struct arca_store_cache *c, struct arca_store_cache_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    st->entries = c->entries;
    st->bytes = c->bytes;
    st->hits = c->hits;
    st->misses = c->misses;
    pthread_mutex_unlock(&c->mu);
}
