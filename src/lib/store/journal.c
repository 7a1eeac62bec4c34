/*
 * The state journal and its hash chain (engine.h): extending the chain per write, walking and
 * checking the whole journal (open, compaction), and compaction itself.
 *
 * head' = SHA-256(head || u64be commit || u8 table || row key || u64be version || cthash); all
 * entries of one write transaction share its commit number. docs/internals/store.md has the
 * invariants open() checks.
 */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "crypto/crypto.h"
#include "store/engine.h"

/* head' = SHA-256(head || u64be commit || u8 table || row key || u64be version || cthash) */
/* sha: a SHA-256 context to restart (a walk over many entries), or NULL. */
static int chain_extend(struct arca_hash_ctx *sha, uint8_t head[32], uint64_t commit, int tbl,
                        const uint8_t rkey[ARCA_STORE_RKEY_LEN], uint64_t ver,
                        const uint8_t cthash[32])
{
    uint8_t m[32 + 8 + 1 + ARCA_STORE_RKEY_LEN + 8 + 32];
    size_t o = 0;
    memcpy(m, head, 32);
    o += 32;
    for (int i = 0; i < 8; i++)
        m[o++] = (uint8_t)(commit >> (56 - 8 * i));
    m[o++] = (uint8_t)tbl;
    memcpy(m + o, rkey, ARCA_STORE_RKEY_LEN);
    o += ARCA_STORE_RKEY_LEN;
    for (int i = 0; i < 8; i++)
        m[o++] = (uint8_t)(ver >> (56 - 8 * i));
    memcpy(m + o, cthash, 32);
    o += 32;
    if (sha == NULL)
        return arca_sha256(m, o, head);
    ARCA_TRY(arca_hash_ctx_reset(sha));
    ARCA_TRY(arca_hash_ctx_update(sha, m, o));
    return arca_hash_ctx_final(sha, head);
}

int arca_store_tx_journal(struct arca_store_tx *tx, int tbl,
                          const uint8_t rkey[ARCA_STORE_RKEY_LEN], uint64_t ver,
                          const uint8_t cthash[32])
{
    struct arca_store_jentry e;
    memset(&e, 0, sizeof(e));
    e.seq = tx->seq + 1;
    e.commit = tx->commit;
    e.tbl = tbl;
    memcpy(e.rkey, rkey, ARCA_STORE_RKEY_LEN);
    e.ver = ver;
    memcpy(e.cthash, cthash, 32);
    ARCA_TRY(tx->s->ops->journal_add(tx->s->be, &e));
    tx->seq++;
    /* the writer's SHA-256 context (engine.h), NULL until the first row write made it */
    return chain_extend(tx->s->wc != NULL ? tx->s->wc->sha : NULL, tx->head, tx->commit, tbl, rkey,
                        ver, cthash);
}

/*
 * A compaction base entry (seq 1, table 0) stands for all history up to commit C: it carries
 * the head after C in its rkey field and, in its cthash field, HMAC(index key,
 * "arca-store-base" || u64be C || head) so that only this store can have made it (otherwise
 * anyone could cut the journal's beginning, and with it deleted records and tombstones).
 */
static int base_mac(const struct arca_store *s, uint64_t commit, const uint8_t head[32],
                    uint8_t out[32])
{
    uint8_t m[15 + 8 + 32];
    memcpy(m, "arca-store-base", 15);
    for (int i = 0; i < 8; i++)
        m[15 + i] = (uint8_t)(commit >> (56 - 8 * i));
    memcpy(m + 23, head, 32);
    return arca_hmac(ARCA_SHA256, s->idxkey, sizeof(s->idxkey), m, sizeof(m), out);
}

static int walk_cb(void *arg, const struct arca_store_jentry *e)
{
    struct arca_store_walk *w = arg;
    if (e->seq != w->seq + 1)
        return arca_err_set(ARCA_ERR_TAMPERED,
                            "store: state journal entry %llu follows %llu (entries removed or "
                            "inserted)",
                            (unsigned long long)e->seq, (unsigned long long)w->seq);
    if (e->tbl == 0 && e->seq == 1) {
        uint8_t mac[32];
        ARCA_TRY(base_mac(w->s, e->ver, e->rkey, mac));
        if (e->commit != e->ver || !arca_memeq(mac, e->cthash, 32))
            return arca_err_set(ARCA_ERR_TAMPERED,
                                "store: the state journal's compaction base does not verify");
        w->seq = 1;
        w->commit = e->commit;
        memcpy(w->head, e->rkey, 32);
        if (w->probe != 0 && e->commit == w->probe) {
            w->probe_found = true;
            memcpy(w->probe_head, w->head, 32);
        }
        return 0;
    }
    if (e->commit != w->commit && e->commit != w->commit + 1)
        return arca_err_set(ARCA_ERR_TAMPERED,
                            "store: state journal entry %llu has commit %llu after commit %llu",
                            (unsigned long long)e->seq, (unsigned long long)e->commit,
                            (unsigned long long)w->commit);
    if (arca_store_table_name(e->tbl) == NULL)
        return arca_err_set(ARCA_ERR_TAMPERED, "store: state journal entry %llu names table %d",
                            (unsigned long long)e->seq, e->tbl);
    if (e->commit == w->commit + 1) {
        if (w->probe != 0 && w->commit == w->probe) {
            w->probe_found = true;
            memcpy(w->probe_head, w->head, 32);
        }
        w->prev_commit = w->commit;
        memcpy(w->prev_head, w->head, 32);
        w->commit = e->commit;
    }
    w->seq = e->seq;
    return chain_extend(w->sha, w->head, e->commit, e->tbl, e->rkey, e->ver, e->cthash);
}

/* After the walk: the probe may be the last commit. */
static void walk_end(struct arca_store_walk *w)
{
    if (w->probe != 0 && w->commit == w->probe) {
        w->probe_found = true;
        memcpy(w->probe_head, w->head, 32);
    }
}

int arca_store_journal_walk(struct arca_store *s, uint64_t probe, struct arca_store_walk *w)
{
    memset(w, 0, sizeof(*w));
    w->s = s;
    w->probe = probe;
    ARCA_TRY(s->ops->journal_walk(s->be, walk_cb, w));
    walk_end(w);
    return 0;
}

int arca_store_head_mac(const struct arca_store *s, const struct arca_store_headrow *h,
                        uint8_t out[32])
{
    uint8_t m[15 + 8 + 8 + 32];
    memcpy(m, "arca-store-head", 15);
    for (int i = 0; i < 8; i++) {
        m[15 + i] = (uint8_t)(h->commit >> (56 - 8 * i));
        m[23 + i] = (uint8_t)(h->seq >> (56 - 8 * i));
    }
    memcpy(m + 31, h->head, 32);
    return arca_hmac(ARCA_SHA256, s->idxkey, sizeof(s->idxkey), m, sizeof(m), out);
}

int arca_store_head_verify(const struct arca_store *s, const struct arca_store_headrow *h)
{
    uint8_t mac[32];
    ARCA_TRY(arca_store_head_mac(s, h, mac));
    if (!h->has_mac || !arca_memeq(mac, h->mac, 32))
        return arca_err_set(ARCA_ERR_TAMPERED,
                            "store: the database's head row (commit %llu) does not verify under "
                            "this store's key: records from another arca, or modified",
                            (unsigned long long)h->commit);
    return 0;
}

/* ---- compaction ----------------------------------------------------------------------------- */

struct collect {
    struct arca_store_walk w;
    struct arca_store_jentry *e;
    size_t n, cap;
};

static int collect_cb(void *arg, const struct arca_store_jentry *e)
{
    struct collect *c = arg;
    ARCA_TRY(walk_cb(&c->w, e)); /* compaction must not launder a modified journal */
    if (e->tbl == 0)
        return 0;
    if (c->n == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 256;
        struct arca_store_jentry *ne = realloc(c->e, ncap * sizeof(*ne));
        if (ne == NULL)
            return arca_err_set(ARCA_ERR_ALLOC, "store: compaction");
        c->e = ne;
        c->cap = ncap;
    }
    c->e[c->n++] = *e;
    return 0;
}

/* The sort of the open-time walk: 16-byte items instead of the entries themselves (the sort
 * of 100k-session journals took as long as the walk). k holds the table and the first 7 bytes
 * of the row key, which decide almost every comparison; i is the entry's position in seq
 * order. */
struct keyref {
    uint64_t k;
    size_t i;
};

static int by_key_newest(const void *a, const void *b, void *arg)
{
    const struct keyref *x = a, *y = b;
    if (x->k != y->k)
        return x->k < y->k ? -1 : 1;
    const struct arca_store_jentry *e = arg;
    int c = memcmp(e[x->i].rkey, e[y->i].rkey, ARCA_STORE_RKEY_LEN);
    if (c != 0)
        return c;
    return x->i > y->i ? -1 : x->i < y->i; /* newest first */
}

static int by_seq(const void *a, const void *b)
{
    const struct arca_store_jentry *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Walks (and checks) the whole journal into c, then keeps the newest entry of every key,
 * sorted by (table, row key); returns how many. */
static int collect_newest(struct arca_store *s, struct collect *c, size_t *kept)
{
    c->w.s = s;
    ARCA_TRY(arca_hash_ctx_new(ARCA_SHA256, &c->w.sha));
    int rc = s->ops->journal_walk(s->be, collect_cb, c);
    arca_hash_ctx_free(c->w.sha);
    c->w.sha = NULL;
    ARCA_TRY(rc);
    walk_end(&c->w);
    /* walk_cb admitted known tables only (small positive numbers): the key's top byte */
    struct keyref *r = malloc((c->n > 0 ? c->n : 1) * sizeof(*r));
    struct arca_store_jentry *out = malloc((c->n > 0 ? c->n : 1) * sizeof(*out));
    if (r == NULL || out == NULL) {
        free(r);
        free(out);
        return arca_err_set(ARCA_ERR_ALLOC, "store: journal");
    }
    for (size_t i = 0; i < c->n; i++) {
        uint64_t k = (uint64_t)(uint8_t)c->e[i].tbl;
        for (int j = 0; j < 7; j++)
            k = k << 8 | c->e[i].rkey[j];
        r[i] = (struct keyref){k, i};
    }
    qsort_r(r, c->n, sizeof(*r), by_key_newest, c->e);
    size_t k = 0;
    for (size_t i = 0; i < c->n; i++) {
        const struct arca_store_jentry *e = &c->e[r[i].i];
        if (k == 0 || e->tbl != out[k - 1].tbl ||
            memcmp(e->rkey, out[k - 1].rkey, ARCA_STORE_RKEY_LEN) != 0)
            out[k++] = *e;
    }
    free(r);
    free(c->e);
    c->e = out;
    c->cap = c->n;
    *kept = k;
    return 0;
}

int arca_store_journal_newest(struct arca_store *s, uint64_t probe, struct arca_store_walk *w,
                              struct arca_store_jentry **keys, size_t *n)
{
    struct collect c;
    memset(&c, 0, sizeof(c));
    c.w.probe = probe;
    size_t kept = 0;
    int rc = collect_newest(s, &c, &kept);
    if (rc < 0) {
        free(c.e);
        return rc;
    }
    if (kept < c.n && kept > 0) { /* give the superseded entries' memory back */
        struct arca_store_jentry *e = realloc(c.e, kept * sizeof(*e));
        if (e != NULL)
            c.e = e;
    }
    *w = c.w;
    *keys = c.e;
    *n = kept;
    return 0;
}

int arca_store_compact(struct arca_store *s, uint64_t *removed)
{
    ARCA_ENSURE_REF(s);
    struct arca_store_tx tx;
    ARCA_TRY(arca_store_tx_begin_alone(s, &tx));
    struct collect c;
    memset(&c, 0, sizeof(c));
    int rc;
    size_t kept = 0;
    /* the writer mutex is held and nothing is written yet: the reader snapshot is current */
    ARCA_GUARD(rc, collect_newest(s, &c, &kept), fail);
    ARCA_GUARD_ENSURE(rc, c.w.commit == s->commit && arca_memeq(c.w.head, s->head, 32), fail,
                      ARCA_ERR_TAMPERED,
                      "store: the state journal changed under the running store (commit %llu)",
                      (unsigned long long)c.w.commit);
    qsort(c.e, kept, sizeof(*c.e), by_seq);
    uint64_t before = c.w.seq;
    if (kept == 0 || kept + 1 >= before) { /* nothing to gain */
        free(c.e);
        arca_store_tx_abort(&tx);
        if (removed != NULL)
            *removed = 0;
        return 0;
    }
    ARCA_GUARD(rc, s->ops->journal_clear(s->be), fail);
    struct arca_store_jentry base;
    memset(&base, 0, sizeof(base));
    base.seq = 1;
    base.commit = s->commit;
    base.tbl = 0;
    memcpy(base.rkey, s->head, 32);
    base.ver = s->commit;
    ARCA_GUARD(rc, base_mac(s, s->commit, s->head, base.cthash), fail);
    ARCA_GUARD(rc, s->ops->journal_add(s->be, &base), fail);
    tx.seq = 1;
    for (size_t i = 0; i < kept; i++)
        ARCA_GUARD(rc,
                   arca_store_tx_journal(&tx, c.e[i].tbl, c.e[i].rkey, c.e[i].ver, c.e[i].cthash),
                   fail);
    free(c.e);
    rc = arca_store_tx_commit(&tx);
    if (rc == 0 && removed != NULL)
        *removed = before - tx.seq;
    return rc;
fail:
    free(c.e);
    arca_store_tx_abort(&tx);
    return rc;
}
