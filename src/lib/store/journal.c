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
static int chain_extend(uint8_t head[32], uint64_t commit, int tbl,
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
    return arca_sha256(m, o, head);
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
    return chain_extend(tx->head, tx->commit, tbl, rkey, ver, cthash);
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
    return chain_extend(w->head, e->commit, e->tbl, e->rkey, e->ver, e->cthash);
}

int arca_store_journal_walk(struct arca_store *s, uint64_t probe, struct arca_store_walk *w)
{
    memset(w, 0, sizeof(*w));
    w->s = s;
    w->probe = probe;
    ARCA_TRY(s->ops->journal_walk(s->be, walk_cb, w));
    if (probe != 0 && w->commit == probe) {
        w->probe_found = true;
        memcpy(w->probe_head, w->head, 32);
    }
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
