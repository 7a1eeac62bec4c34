/*
 * Parsed public keys kept by the exact SPKI DER bytes they were given as (crypto.h,
 * arca_key_cache_*): OpenSSL 3's generic decoder costs several times the signature check a key
 * is parsed for, and some keys come back with every request (the simulated platform's key in
 * each piece of simulated evidence). Round-robin replacement; one mutex guards the entries and
 * every reference-count change of their keys (arca_key references are not atomic), while
 * parsing and the caller's use of a key run outside it.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "crypto/crypto.h"

struct cached_key {
    uint8_t *der; /* owned copy of the SPKI DER */
    size_t len;
    struct arca_key *key; /* owned reference */
};

struct arca_key_cache {
    pthread_mutex_t mu;
    struct cached_key *v;
    size_t n, cap, next; /* next: the slot replaced when full */
};

int arca_key_cache_new(size_t cap, struct arca_key_cache **out)
{
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(cap > 0 && cap <= 65536, ARCA_ERR_INVALID_ARG,
                "key cache: capacity %zu outside 1..65536", cap);
    struct arca_key_cache *c = calloc(1, sizeof(*c));
    struct cached_key *v = calloc(cap, sizeof(*v));
    if (c == NULL || v == NULL || pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c);
        free(v);
        return arca_err_set(ARCA_ERR_ALLOC, "key cache: out of memory");
    }
    c->v = v;
    c->cap = cap;
    *out = c;
    return 0;
}

static void entry_clear(struct cached_key *e)
{
    free(e->der);
    arca_key_free(e->key);
    memset(e, 0, sizeof(*e));
}

void arca_key_cache_free(struct arca_key_cache *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++)
        entry_clear(&c->v[i]);
    free(c->v);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* Under c->mu: the entry for these exact bytes, or NULL (public bytes: plain comparison). */
static struct cached_key *find(struct arca_key_cache *c, const uint8_t *der, size_t len)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].len == len && memcmp(c->v[i].der, der, len) == 0)
            return &c->v[i];
    return NULL;
}

int arca_key_cache_get(struct arca_key_cache *c, const void *der, size_t len, struct arca_key **out)
{
    ARCA_ENSURE_REF(out);
    *out = NULL;
    ARCA_ENSURE(der != NULL && len > 0, ARCA_ERR_INVALID_ARG, "key cache: no key bytes");
    if (c != NULL) {
        pthread_mutex_lock(&c->mu);
        struct cached_key *e = find(c, der, len);
        if (e != NULL)
            *out = arca_key_ref(e->key);
        pthread_mutex_unlock(&c->mu);
        if (*out != NULL)
            return 0;
    }
    struct arca_key *k = NULL;
    ARCA_TRY(arca_key_from_der(der, len, &k)); /* outside the lock: the costly part */
    if (arca_key_has_private(k)) {
        arca_key_free(k);
        return arca_err_set(ARCA_ERR_FORMAT,
                            "key cache: a private key where a public key was expected");
    }
    uint8_t *copy = c != NULL ? malloc(len) : NULL;
    if (copy != NULL) {
        memcpy(copy, der, len);
        pthread_mutex_lock(&c->mu);
        if (find(c, der, len) == NULL) { /* another thread may have added it meanwhile */
            size_t slot = c->n < c->cap ? c->n++ : c->next++ % c->cap;
            entry_clear(&c->v[slot]);
            c->v[slot] = (struct cached_key){.der = copy, .len = len, .key = arca_key_ref(k)};
            copy = NULL;
        }
        pthread_mutex_unlock(&c->mu);
        free(copy);
    }
    *out = k;
    return 0;
}

void arca_key_cache_put(struct arca_key_cache *c, struct arca_key *k)
{
    if (k == NULL)
        return;
    if (c != NULL)
        pthread_mutex_lock(&c->mu);
    arca_key_free(k);
    if (c != NULL)
        pthread_mutex_unlock(&c->mu);
}
