/* The DCAP verification cache (dcap_verify.h): a small LRU table under one mutex. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "crypto/crypto.h"
#include "evidence/dcap_internal.h"

struct entry {
    uint8_t key[32];
    bool used;
    uint64_t stamp; /* last use, for LRU eviction */
    int64_t lo, hi;
    struct dcap_cache_val val;
};

struct arca_dcap_cache {
    pthread_mutex_t mu;
    struct entry *e;
    size_t cap;
    uint64_t clock;
    uint64_t hits, misses;
};

static void val_clear(struct dcap_cache_val *v)
{
    arca_key_free(v->pck_key);
    arca_tcb_info_free(v->tcb);
    arca_qe_identity_free(v->qe);
    memset(v, 0, sizeof *v);
}

int arca_dcap_cache_new(size_t max_entries, struct arca_dcap_cache **out)
{
    ARCA_ENSURE_REF(out);
    if (max_entries == 0)
        max_entries = 256;
    ARCA_ENSURE(max_entries <= 65536, ARCA_ERR_INVALID_ARG, "DCAP cache: at most 65536 entries");
    struct arca_dcap_cache *c = calloc(1, sizeof *c);
    if (c)
        c->e = calloc(max_entries, sizeof *c->e);
    if (!c || !c->e) {
        free(c);
        ARCA_BAIL(ARCA_ERR_ALLOC, "DCAP cache: out of memory");
    }
    c->cap = max_entries;
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c->e);
        free(c);
        ARCA_BAIL(ARCA_ERR_INTERNAL, "DCAP cache: mutex init failed");
    }
    *out = c;
    return 0;
}

void arca_dcap_cache_free(struct arca_dcap_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->cap; i++)
        val_clear(&c->e[i].val);
    pthread_mutex_destroy(&c->mu);
    free(c->e);
    free(c);
}

void arca_dcap_cache_stats(struct arca_dcap_cache *c, uint64_t *hits, uint64_t *misses)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    if (hits)
        *hits = c->hits;
    if (misses)
        *misses = c->misses;
    pthread_mutex_unlock(&c->mu);
}

bool dcap_cache_lookup(struct arca_dcap_cache *c, const uint8_t key[32], int64_t now,
                       struct dcap_cache_val *out)
{
    bool hit = false;
    if (!c)
        return false;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->cap; i++) {
        struct entry *e = &c->e[i];
        if (!e->used || memcmp(e->key, key, 32) != 0)
            continue;
        /* Outside its window the entry proves nothing: verify again (and replace it). */
        if (now >= e->lo && now < e->hi) {
            *out = e->val;
            out->pck_key = e->val.pck_key ? arca_key_ref(e->val.pck_key) : NULL;
            out->tcb = arca_tcb_info_dup(e->val.tcb);
            out->qe = arca_qe_identity_dup(e->val.qe);
            if ((e->val.tcb && !out->tcb) || (e->val.qe && !out->qe)) {
                val_clear(out); /* out of memory: behave as a miss */
                break;
            }
            e->stamp = ++c->clock;
            hit = true;
        }
        break;
    }
    if (hit)
        c->hits++;
    else
        c->misses++;
    pthread_mutex_unlock(&c->mu);
    return hit;
}

void dcap_cache_store(struct arca_dcap_cache *c, const uint8_t key[32],
                      const struct dcap_cache_val *v, int64_t lo, int64_t hi)
{
    if (!c || lo >= hi)
        return;
    pthread_mutex_lock(&c->mu);
    struct entry *slot = NULL;
    for (size_t i = 0; i < c->cap && !slot; i++)
        if (c->e[i].used && memcmp(c->e[i].key, key, 32) == 0)
            slot = &c->e[i];
    for (size_t i = 0; i < c->cap && !slot; i++)
        if (!c->e[i].used)
            slot = &c->e[i];
    if (!slot) {
        slot = &c->e[0];
        for (size_t i = 1; i < c->cap; i++)
            if (c->e[i].stamp < slot->stamp)
                slot = &c->e[i];
    }
    struct arca_tcb_info *tcb = arca_tcb_info_dup(v->tcb);
    struct arca_qe_identity *qe = arca_qe_identity_dup(v->qe);
    if ((v->tcb && !tcb) || (v->qe && !qe)) {
        arca_tcb_info_free(tcb);
        arca_qe_identity_free(qe);
        pthread_mutex_unlock(&c->mu);
        return; /* out of memory: simply not cached */
    }
    val_clear(&slot->val);
    memcpy(slot->key, key, 32);
    slot->used = true;
    slot->stamp = ++c->clock;
    slot->lo = lo;
    slot->hi = hi;
    slot->val = *v;
    slot->val.pck_key = v->pck_key ? arca_key_ref(v->pck_key) : NULL;
    slot->val.tcb = tcb;
    slot->val.qe = qe;
    pthread_mutex_unlock(&c->mu);
}
