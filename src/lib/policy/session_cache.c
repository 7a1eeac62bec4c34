/*
 * The parsed-session cache (session_cache.h): a chained hash table over the version hash with
 * a least-recently-used list, under one mutex held only for lookups and links (never while a
 * YAML text is parsed or redacted). An entry carries one reference for the table while it is
 * linked; the last reference, the table's or a caller's, frees it.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "policy/redact.h"
#include "policy/session_cache.h"

/* The redacted text of an entry's version, made once (one block: wiped and freed together). */
struct redacted {
    size_t len;
    char text[];
};

/* A text kept in a memo slot (one block: key, then text; wiped and freed together). */
struct memo {
    size_t key_len, len;
    uint8_t data[];
};

struct arca_cached_session {
    struct arca_session *model; /* owned; wiped by arca_session_free */
    size_t refs;                /* atomic: the table's (while linked) and the callers' */
    char *name;                 /* owned (cached entries only) */
    size_t name_len;
    uint8_t hash[32];
    size_t
        text_len; /* of the version text the model was loaded from (0: arca_cached_session_own) */
    size_t bytes; /* counted against the cache's byte bound */
    struct redacted *redacted;                         /* atomic; NULL until first asked */
    struct memo *memo[ARCA_CACHED_MEMO_SLOTS];         /* atomic; NULL until first kept */
    struct arca_cached_session *chain, *newer, *older; /* under the cache's lock */
};

struct arca_session_cache {
    pthread_mutex_t lock;
    struct arca_cached_session **buckets;
    size_t mask;
    size_t max_count, max_bytes;
    struct arca_cached_session *newest, *oldest;
    struct arca_session_cache_stats st;
};

/* The largest memo kept for a version text of len bytes (a session read's answer is about the
 * redacted text, at most len, escaped, and a few hundred bytes of fields). */
#define MEMO_MAX(len) (2 * (len) + 1024)

size_t arca_session_cache_entry_bytes(const char *name, size_t len)
{
    /* The model's strings and arrays hold about the text once more; the redacted copy once;
     * each memo at most MEMO_MAX. */
    return sizeof(struct arca_cached_session) + sizeof(struct arca_session) + strlen(name) +
           3 * len + ARCA_CACHED_MEMO_SLOTS * MEMO_MAX(len);
}

int arca_session_cache_new(size_t max_count, size_t max_bytes, struct arca_session_cache **out)
{
    ARCA_ENSURE_REF(out);
    *out = NULL;
    ARCA_ENSURE(max_count >= 1 && max_count <= (1u << 20), ARCA_ERR_INVALID_ARG,
                "session cache: %zu entries (1..%u)", max_count, 1u << 20);
    size_t nb = 16;
    while (nb < 2 * max_count)
        nb *= 2;
    struct arca_session_cache *c = calloc(1, sizeof(*c));
    struct arca_cached_session **b = calloc(nb, sizeof(*b));
    if (c == NULL || b == NULL) {
        free(c);
        free(b);
        return arca_err_set(ARCA_ERR_ALLOC, "session cache: out of memory");
    }
    pthread_mutex_init(&c->lock, NULL);
    c->buckets = b;
    c->mask = nb - 1;
    c->max_count = max_count;
    c->max_bytes = max_bytes;
    *out = c;
    return 0;
}

static void ref_free(struct arca_cached_session *r)
{
    arca_session_free(r->model);
    if (r->name != NULL)
        arca_wipe_free(r->name, r->name_len);
    if (r->redacted != NULL)
        arca_wipe_free(r->redacted, sizeof(*r->redacted) + r->redacted->len);
    for (size_t i = 0; i < ARCA_CACHED_MEMO_SLOTS; i++)
        if (r->memo[i] != NULL)
            arca_wipe_free(r->memo[i], sizeof(*r->memo[i]) + r->memo[i]->key_len + r->memo[i]->len);
    arca_wipe_free(r, sizeof(*r));
}

void arca_cached_session_put(struct arca_cached_session *r)
{
    if (r != NULL && __atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL) == 0)
        ref_free(r);
}

int arca_cached_session_own(struct arca_session *s, struct arca_cached_session **out)
{
    ARCA_ENSURE_REF(out);
    *out = NULL;
    ARCA_ENSURE_REF(s);
    struct arca_cached_session *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        arca_session_free(s);
        return arca_err_set(ARCA_ERR_ALLOC, "session cache: out of memory");
    }
    r->model = s;
    r->refs = 1;
    *out = r;
    return 0;
}

const struct arca_session *arca_cached_session_model(const struct arca_cached_session *r)
{
    return r != NULL ? r->model : NULL;
}

/* The version hash is SHA-256 output: its first bytes spread the buckets. */
static size_t bucket_of(const struct arca_session_cache *c, const uint8_t hash[32])
{
    uint64_t h;
    memcpy(&h, hash, sizeof(h));
    return (size_t)h & c->mask;
}

static struct arca_cached_session *find(struct arca_session_cache *c, const char *name,
                                        size_t name_len, const uint8_t hash[32])
{
    for (struct arca_cached_session *e = c->buckets[bucket_of(c, hash)]; e != NULL; e = e->chain)
        if (memcmp(e->hash, hash, 32) == 0 && e->name_len == name_len &&
            memcmp(e->name, name, name_len) == 0)
            return e;
    return NULL;
}

static void lru_unlink(struct arca_session_cache *c, struct arca_cached_session *e)
{
    if (e->newer != NULL)
        e->newer->older = e->older;
    else
        c->newest = e->older;
    if (e->older != NULL)
        e->older->newer = e->newer;
    else
        c->oldest = e->newer;
    e->newer = e->older = NULL;
}

static void lru_push(struct arca_session_cache *c, struct arca_cached_session *e)
{
    e->older = c->newest;
    e->newer = NULL;
    if (c->newest != NULL)
        c->newest->newer = e;
    c->newest = e;
    if (c->oldest == NULL)
        c->oldest = e;
}

/* Takes e out of the table; the table's reference goes to the caller. */
static void unlink_entry(struct arca_session_cache *c, struct arca_cached_session *e)
{
    struct arca_cached_session **p = &c->buckets[bucket_of(c, e->hash)];
    while (*p != e)
        p = &(*p)->chain;
    *p = e->chain;
    e->chain = NULL;
    lru_unlink(c, e);
    c->st.count--;
    c->st.bytes -= e->bytes;
}

/* A hit: one more reference, and e is the most recently used. Under the lock. */
static struct arca_cached_session *take(struct arca_session_cache *c, struct arca_cached_session *e)
{
    __atomic_add_fetch(&e->refs, 1, __ATOMIC_RELAXED);
    lru_unlink(c, e);
    lru_push(c, e);
    return e;
}

/* Links e (refs already counting the table's) and unlinks the oldest entries beyond the bounds
 * into *evicted (chained through ->chain), to be put outside the lock. */
static void insert(struct arca_session_cache *c, struct arca_cached_session *e,
                   struct arca_cached_session **evicted)
{
    size_t b = bucket_of(c, e->hash);
    e->chain = c->buckets[b];
    c->buckets[b] = e;
    lru_push(c, e);
    c->st.count++;
    c->st.bytes += e->bytes;
    while (c->oldest != e && (c->st.count > c->max_count || c->st.bytes > c->max_bytes)) {
        struct arca_cached_session *old = c->oldest;
        unlink_entry(c, old);
        c->st.evictions++;
        old->chain = *evicted;
        *evicted = old;
    }
}

int arca_session_cache_get(struct arca_session_cache *c, const char *name, const uint8_t hash[32],
                           const char *yaml, size_t len, struct arca_cached_session **out)
{
    ARCA_ENSURE_REF(out);
    *out = NULL;
    ARCA_ENSURE_REF(name);
    ARCA_ENSURE_REF(hash);
    size_t name_len = strlen(name);
    if (c != NULL) {
        pthread_mutex_lock(&c->lock);
        struct arca_cached_session *e = find(c, name, name_len, hash);
        if (e != NULL) {
            c->st.hits++;
            *out = take(c, e);
        } else {
            c->st.misses++;
        }
        pthread_mutex_unlock(&c->lock);
        if (*out != NULL)
            return 0;
    }
    struct arca_session *s = NULL;
    ARCA_TRY(arca_session_load(yaml, len, name, &s, NULL));
    struct arca_cached_session *r = NULL;
    ARCA_TRY(arca_cached_session_own(s, &r));
    r->text_len = len;
    size_t bytes = arca_session_cache_entry_bytes(name, len);
    if (c == NULL || bytes > c->max_bytes) {
        *out = r;
        return 0;
    }
    r->name = malloc(name_len + 1);
    if (r->name == NULL) {
        *out = r; /* served, not kept */
        return 0;
    }
    memcpy(r->name, name, name_len + 1);
    r->name_len = name_len;
    memcpy(r->hash, hash, 32);
    r->bytes = bytes;
    struct arca_cached_session *evicted = NULL;
    pthread_mutex_lock(&c->lock);
    struct arca_cached_session *e = find(c, name, name_len, hash);
    if (e != NULL) {
        *out = take(c, e); /* another thread loaded it meanwhile: one copy stays */
    } else {
        r->refs = 2;
        insert(c, r, &evicted);
        *out = r;
    }
    pthread_mutex_unlock(&c->lock);
    if (e != NULL)
        arca_cached_session_put(r);
    while (evicted != NULL) {
        struct arca_cached_session *next = evicted->chain;
        arca_cached_session_put(evicted);
        evicted = next;
    }
    return 0;
}

int arca_cached_session_redacted(struct arca_cached_session *r, const char *yaml, size_t len,
                                 const char **text, size_t *n)
{
    ARCA_ENSURE_REF(r);
    ARCA_ENSURE_REF(text);
    ARCA_ENSURE_REF(n);
    struct redacted *have = __atomic_load_n(&r->redacted, __ATOMIC_ACQUIRE);
    if (have == NULL) {
        struct arca_buf y;
        arca_buf_init(&y, 0);
        int rc = arca_session_redact(yaml, len, &y);
        struct redacted *mine = rc == 0 ? malloc(sizeof(*mine) + y.len) : NULL;
        if (rc == 0 && mine == NULL)
            rc = arca_err_set(ARCA_ERR_ALLOC, "session cache: out of memory");
        if (rc == 0) {
            mine->len = y.len;
            memcpy(mine->text, y.data, y.len);
        }
        arca_buf_free(&y);
        if (rc < 0)
            return rc;
        /* Two threads may redact at once: the first stored copy is the one kept. */
        if (__atomic_compare_exchange_n(&r->redacted, &have, mine, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            have = mine;
        else
            arca_wipe_free(mine, sizeof(*mine) + mine->len);
    }
    *text = have->text;
    *n = have->len;
    return 0;
}

int arca_cached_session_memo(const struct arca_cached_session *r, unsigned slot, const void *key,
                             size_t key_len, const void **text, size_t *n)
{
    ARCA_ENSURE_REF(r);
    ARCA_ENSURE(slot < ARCA_CACHED_MEMO_SLOTS, ARCA_ERR_INVALID_ARG, "memo slot %u", slot);
    ARCA_ENSURE(key != NULL || key_len == 0, ARCA_ERR_INVALID_ARG, "memo: key is NULL");
    ARCA_ENSURE_REF(text);
    ARCA_ENSURE_REF(n);
    const struct memo *m = __atomic_load_n(&r->memo[slot], __ATOMIC_ACQUIRE);
    if (m == NULL || m->key_len != key_len || memcmp(m->data, key, key_len) != 0)
        return ARCA_ERR_NOT_FOUND;
    *text = m->data + key_len;
    *n = m->len;
    return 0;
}

int arca_cached_session_memo_keep(struct arca_cached_session *r, unsigned slot, const void *key,
                                  size_t key_len, const void *text, size_t n)
{
    ARCA_ENSURE_REF(r);
    ARCA_ENSURE(slot < ARCA_CACHED_MEMO_SLOTS, ARCA_ERR_INVALID_ARG, "memo slot %u", slot);
    ARCA_ENSURE(key != NULL || key_len == 0, ARCA_ERR_INVALID_ARG, "memo: key is NULL");
    ARCA_ENSURE(text != NULL || n == 0, ARCA_ERR_INVALID_ARG, "memo: text is NULL");
    /* The byte bound counts a memo of at most MEMO_MAX; a larger one is made per request. */
    if (key_len + n > MEMO_MAX(r->text_len) || __atomic_load_n(&r->memo[slot], __ATOMIC_ACQUIRE))
        return 0;
    struct memo *mine = malloc(sizeof(*mine) + key_len + n);
    ARCA_ENSURE(mine != NULL, ARCA_ERR_ALLOC, "session cache: out of memory");
    mine->key_len = key_len;
    mine->len = n;
    if (key_len > 0)
        memcpy(mine->data, key, key_len);
    if (n > 0)
        memcpy(mine->data + key_len, text, n);
    /* The first text kept stays: a memo, once there, never changes under its readers. */
    struct memo *none = NULL;
    if (!__atomic_compare_exchange_n(&r->memo[slot], &none, mine, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE))
        arca_wipe_free(mine, sizeof(*mine) + key_len + n);
    return 0;
}

void arca_session_cache_stats(struct arca_session_cache *c, struct arca_session_cache_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    *out = c->st;
    pthread_mutex_unlock(&c->lock);
}

void arca_session_cache_free(struct arca_session_cache *c)
{
    if (c == NULL)
        return;
    while (c->oldest != NULL) {
        struct arca_cached_session *e = c->oldest;
        unlink_entry(c, e);
        arca_cached_session_put(e);
    }
    pthread_mutex_destroy(&c->lock);
    free(c->buckets);
    free(c);
}
