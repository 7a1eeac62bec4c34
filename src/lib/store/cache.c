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

void arca_store_cache_free(struct arca_store_cache *c)
{
    if (c == NULL)
        return;
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

void arca_store_cache_put(struct arca_store_cache *c, int tbl, const void *key, size_t keylen,
                          const uint8_t *p, size_t n, uint64_t ticket)
{
    size_t size = sizeof(struct entry) + keylen + n;
    if (c == NULL || size > c->max || size < n)
        return;
    struct entry *e = malloc(size);
    if (e == NULL)
        return;
    memset(e, 0, sizeof(*e));
    e->size = size;
    e->tbl = tbl;
    e->keylen = keylen;
    e->plen = n;
    memcpy(e->bytes, key, keylen);
    memcpy(e->bytes + keylen, p, n);
    pthread_mutex_lock(&c->mu);
    struct entry **pp = find(c, tbl, key, keylen);
    if (ticket != c->gen || c->writing || *pp != NULL) {
        pthread_mutex_unlock(&c->mu);
        arca_wipe_free(e, size);
        return;
    }
    while (c->bytes + size > c->max && c->tail != NULL) {
        struct entry *old = c->tail;
        drop(c, find(c, old->tbl, old->bytes, old->keylen));
    }
    pp = find(c, tbl, key, keylen); /* a drop above may have unlinked the old chain end */
    *pp = e;
    lru_front(c, e);
    c->bytes += size;
    c->entries++;
    pthread_mutex_unlock(&c->mu);
}

void arca_store_cache_invalidate(struct arca_store_cache *c, int tbl, const void *key,
                                 size_t keylen)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    c->writing = true;
    c->gen++;
    struct entry **pp = find(c, tbl, key, keylen);
    if (*pp != NULL)
        drop(c, pp);
    pthread_mutex_unlock(&c->mu);
}

void arca_store_cache_tx_end(struct arca_store_cache *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    if (c->writing) {
        c->writing = false;
        c->gen++;
    }
    pthread_mutex_unlock(&c->mu);
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
