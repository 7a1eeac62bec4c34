/*
 * The sealed store (store.h): record sealing, the state hash chain, the key-store check at
 * open, and the typed records, over a backend (backend.h).
 *
 * Keys: the database key (random, 32 bytes, sealed in the key-store) never encrypts anything
 * itself; HKDF-SHA-256 derives the record key (AES-256-GCM) and the index key (HMAC-SHA-256
 * of table || record key = the row key the backend sees, so names stay hidden).
 * Associated data of a record: "arca-store-v1" || u8 table || lv(table name) || row key ||
 * u64be version; the decrypted record also names its own table and key, checked on read.
 */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "crypto/crypto.h"
#include "store/backend.h"
#include "store/keystore.h"
#include "store/record.h"

#define AAD_PREFIX "arca-store-v1"
#define SEAL_PURPOSE "arca-keystore"

struct arca_store {
    const struct arca_store_backend_ops *ops;
    void *be;
    char *ks_path;
    int lock_fd; /* flock on "<keystore>.lock": one process per store */
    uint8_t seal[ARCA_STORE_KEY_LEN];
    uint8_t dbkey[ARCA_STORE_KEY_LEN];
    uint8_t reckey[ARCA_AEAD_KEY_LEN];
    uint8_t idxkey[32];
    pthread_mutex_t wmu; /* serialises writers; readers never take it */
    /* writer state, under wmu */
    uint64_t commit;
    uint64_t seq;
    uint8_t head[ARCA_STORE_HASH_LEN];
    bool broken;           /* a commit landed but the key-store could not follow: refuse writes */
    uint64_t rows_at_open; /* live records found by open() (compaction heuristic) */
};

/* ---- fixed sealer --------------------------------------------------------------------------- */

static int fixed_get_key(void *ctx, const char *purpose, uint8_t key[ARCA_STORE_KEY_LEN])
{
    struct arca_store_fixed_sealer *fs = ctx;
    (void)purpose;
    memcpy(key, fs->key, ARCA_STORE_KEY_LEN);
    return 0;
}

void arca_store_fixed_sealer_init(struct arca_store_fixed_sealer *fs,
                                  const uint8_t key[ARCA_STORE_KEY_LEN])
{
    memcpy(fs->key, key, ARCA_STORE_KEY_LEN);
    fs->sealer.get_key = fixed_get_key;
    fs->sealer.ctx = fs;
}

void arca_store_fixed_sealer_wipe(struct arca_store_fixed_sealer *fs)
{
    arca_wipe(fs->key, sizeof(fs->key));
}

/* ---- helpers -------------------------------------------------------------------------------- */

static int row_key(const struct arca_store *s, int tbl, const void *key, size_t keylen,
                   uint8_t rkey[ARCA_STORE_RKEY_LEN])
{
    struct arca_buf b;
    arca_buf_init(&b, ARCA_STORE_NAME_MAX + 16);
    int rc = arca_buf_put_u8(&b, (uint8_t)tbl);
    if (rc == 0)
        rc = arca_buf_put(&b, key, keylen);
    if (rc == 0)
        rc = arca_hmac(ARCA_SHA256, s->idxkey, sizeof(s->idxkey), b.data, b.len, rkey);
    arca_buf_free(&b);
    return rc;
}

static int build_aad(int tbl, const uint8_t rkey[ARCA_STORE_RKEY_LEN], uint64_t ver,
                     struct arca_buf *aad)
{
    const char *name = arca_store_table_name(tbl);
    ARCA_TRY(arca_buf_put_str(aad, AAD_PREFIX));
    ARCA_TRY(arca_buf_put_u8(aad, (uint8_t)tbl));
    ARCA_TRY(arca_buf_put_lv(aad, name, strlen(name)));
    ARCA_TRY(arca_buf_put(aad, rkey, ARCA_STORE_RKEY_LEN));
    return arca_buf_put_u64be(aad, ver);
}

static int ct_hash(const uint8_t nonce[ARCA_STORE_NONCE_LEN], const struct arca_buf *ct,
                   uint8_t out[32])
{
    struct arca_hash_ctx *h = NULL;
    ARCA_TRY(arca_hash_ctx_new(ARCA_SHA256, &h));
    int rc = arca_hash_ctx_update(h, nonce, ARCA_STORE_NONCE_LEN);
    if (rc == 0)
        rc = arca_hash_ctx_update(h, ct->data != NULL ? ct->data : (const uint8_t *)"", ct->len);
    if (rc == 0)
        rc = arca_hash_ctx_final(h, out);
    arca_hash_ctx_free(h);
    return rc;
}

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

static bool is_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

/* A short, non-secret name for a row in error details. */
static void row_label(int tbl, const uint8_t rkey[ARCA_STORE_RKEY_LEN], char out[64])
{
    snprintf(out, 64, "%s record #%02x%02x%02x%02x", arca_store_table_name(tbl), rkey[0], rkey[1],
             rkey[2], rkey[3]);
}

/*
 * Checks a fetched row against the journal, decrypts it into plain (a secret buffer) and
 * decodes it into rec (borrowing plain). Anything that does not match is ARCA_ERR_TAMPERED.
 */
static int row_open(const struct arca_store *s, int tbl, const uint8_t rkey[ARCA_STORE_RKEY_LEN],
                    const struct arca_store_row *row, struct arca_buf *plain,
                    struct arca_store_record *rec)
{
    char label[64];
    row_label(tbl, rkey, label);
    uint8_t h[32];
    ARCA_TRY(ct_hash(row->nonce, &row->ct, h));
    if (!row->journaled || row->jver != row->ver || !arca_memeq(h, row->jhash, 32))
        return arca_err_set(ARCA_ERR_TAMPERED,
                            "store: %s (version %llu) does not match the state journal: the "
                            "database was modified or rolled back",
                            label, (unsigned long long)row->ver);
    struct arca_buf aad;
    arca_buf_init(&aad, 256);
    int rc = build_aad(tbl, rkey, row->ver, &aad);
    size_t mark = plain->len;
    if (rc == 0)
        rc = arca_aead_open(s->reckey, row->nonce, aad.data, aad.len, row->ct.data, row->ct.len,
                            plain);
    arca_buf_free(&aad);
    if (rc == ARCA_ERR_TAMPERED || rc == ARCA_ERR_CRYPTO || rc == ARCA_ERR_FORMAT ||
        rc == ARCA_ERR_TRUNCATED)
        return arca_err_set(ARCA_ERR_TAMPERED, "store: %s fails authentication", label);
    ARCA_TRY(rc);
    rc = arca_store_record_decode(plain->data + mark, plain->len - mark, rec);
    if (rc < 0)
        return arca_err_set(ARCA_ERR_TAMPERED, "store: %s does not decode: %s", label,
                            arca_err_detail());
    uint8_t check[ARCA_STORE_RKEY_LEN];
    ARCA_TRY(row_key(s, rec->tbl, rec->key, rec->key_len, check));
    if (rec->tbl != tbl || !arca_memeq(check, rkey, sizeof(check)))
        return arca_err_set(ARCA_ERR_TAMPERED, "store: %s holds another record", label);
    return 0;
}

static void row_init(struct arca_store_row *row)
{
    memset(row, 0, sizeof(*row));
    arca_buf_init(&row->ct, 0);
}

/* Reads record (tbl, key). ARCA_ERR_NOT_FOUND if absent; *deleted (may be NULL) tells whether
 * it existed once. */
static int rec_get(struct arca_store *s, bool in_write, int tbl, const void *key, size_t keylen,
                   struct arca_buf *plain, struct arca_store_record *rec, bool *deleted)
{
    uint8_t rkey[ARCA_STORE_RKEY_LEN];
    ARCA_TRY(row_key(s, tbl, key, keylen, rkey));
    struct arca_store_row row;
    row_init(&row);
    int rc = in_write ? s->ops->wget(s->be, tbl, rkey, &row) : s->ops->get(s->be, tbl, rkey, &row);
    if (deleted != NULL)
        *deleted = rc == 0 && !row.present && row.journaled;
    if (rc == 0 && !row.present) {
        if (row.journaled && !is_zero(row.jhash, 32)) {
            char label[64];
            row_label(tbl, rkey, label);
            rc = arca_err_set(ARCA_ERR_TAMPERED,
                              "store: %s is missing from the database but the state journal "
                              "lists it",
                              label);
        } else {
            rc = ARCA_ERR_NOT_FOUND;
        }
    }
    if (rc == 0)
        rc = row_open(s, tbl, rkey, &row, plain, rec);
    arca_buf_free(&row.ct);
    return rc;
}

/* ---- write transactions --------------------------------------------------------------------- */

struct wtx {
    struct arca_store *s;
    uint64_t commit;
    uint64_t seq;
    uint8_t head[32];
};

static int tx_begin(struct arca_store *s, struct wtx *tx)
{
    pthread_mutex_lock(&s->wmu);
    if (s->broken) {
        pthread_mutex_unlock(&s->wmu);
        return arca_err_set(ARCA_ERR_IO, "store: a previous commit could not update the "
                                         "key-store; restart to recover");
    }
    int rc = s->ops->begin(s->be);
    if (rc < 0) {
        pthread_mutex_unlock(&s->wmu);
        return rc;
    }
    tx->s = s;
    tx->commit = s->commit + 1;
    tx->seq = s->seq;
    memcpy(tx->head, s->head, 32);
    return 0;
}

static void tx_abort(struct wtx *tx)
{
    tx->s->ops->rollback(tx->s->be);
    pthread_mutex_unlock(&tx->s->wmu);
}

static int tx_commit(struct wtx *tx)
{
    struct arca_store *s = tx->s;
    int rc = s->ops->commit(s->be);
    if (rc < 0) {
        s->ops->rollback(s->be);
        pthread_mutex_unlock(&s->wmu);
        return rc;
    }
    s->commit = tx->commit;
    s->seq = tx->seq;
    memcpy(s->head, tx->head, 32);
    struct arca_keystore ks;
    memcpy(ks.dbkey, s->dbkey, sizeof(ks.dbkey));
    ks.commit = s->commit;
    memcpy(ks.head, s->head, sizeof(ks.head));
    rc = arca_keystore_write(s->ks_path, s->seal, &ks);
    arca_wipe(&ks, sizeof(ks));
    if (rc < 0) {
        /* The database is one commit ahead of the key-store, which open() tolerates; a second
         * commit would not be, so stop writing until a restart re-seals. */
        s->broken = true;
        rc = arca_err_wrap(rc, "store: commit %llu landed but the key-store was not updated",
                           (unsigned long long)s->commit);
    }
    pthread_mutex_unlock(&s->wmu);
    return rc;
}

/* Version the next write of rkey gets: one more than the journal's newest entry. */
static int tx_next_ver(struct wtx *tx, int tbl, const uint8_t rkey[ARCA_STORE_RKEY_LEN],
                       uint64_t *ver, bool *present)
{
    struct arca_store_row row;
    row_init(&row);
    int rc = tx->s->ops->wget(tx->s->be, tbl, rkey, &row);
    if (rc == ARCA_ERR_NOT_FOUND) {
        *ver = 1;
        *present = false;
        rc = 0;
    } else if (rc == 0) {
        *ver = row.jver + 1;
        *present = row.present;
    }
    arca_buf_free(&row.ct);
    return rc;
}

static int tx_journal(struct wtx *tx, int tbl, const uint8_t rkey[ARCA_STORE_RKEY_LEN],
                      uint64_t ver, const uint8_t cthash[32])
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

static int tx_put(struct wtx *tx, const struct arca_store_record *rec)
{
    struct arca_store *s = tx->s;
    uint8_t rkey[ARCA_STORE_RKEY_LEN], nonce[ARCA_STORE_NONCE_LEN], h[32];
    uint64_t ver = 0;
    bool present = false;
    struct arca_buf plain, aad, ct;
    arca_buf_init_secret(&plain, 0);
    arca_buf_init(&aad, 256);
    arca_buf_init(&ct, 0);
    int rc;
    ARCA_GUARD(rc, row_key(s, rec->tbl, rec->key, rec->key_len, rkey), out);
    ARCA_GUARD(rc, tx_next_ver(tx, rec->tbl, rkey, &ver, &present), out);
    ARCA_GUARD(rc, arca_store_record_encode(rec, &plain), out);
    ARCA_GUARD(rc, build_aad(rec->tbl, rkey, ver, &aad), out);
    ARCA_GUARD(rc, arca_random(nonce, sizeof(nonce)), out);
    ARCA_GUARD(rc, arca_aead_seal(s->reckey, nonce, aad.data, aad.len, plain.data, plain.len, &ct),
               out);
    ARCA_GUARD(rc, s->ops->put(s->be, rec->tbl, rkey, ver, nonce, ct.data, ct.len), out);
    ARCA_GUARD(rc, ct_hash(nonce, &ct, h), out);
    ARCA_GUARD(rc, tx_journal(tx, rec->tbl, rkey, ver, h), out);
out:
    arca_buf_free(&plain);
    arca_buf_free(&aad);
    arca_buf_free(&ct);
    return rc;
}

static int tx_del(struct wtx *tx, int tbl, const void *key, size_t keylen)
{
    uint8_t rkey[ARCA_STORE_RKEY_LEN], zero[32] = {0};
    uint64_t ver = 0;
    bool present = false;
    ARCA_TRY(row_key(tx->s, tbl, key, keylen, rkey));
    ARCA_TRY(tx_next_ver(tx, tbl, rkey, &ver, &present));
    if (!present)
        return ARCA_ERR_NOT_FOUND;
    ARCA_TRY(tx->s->ops->del(tx->s->be, tbl, rkey));
    return tx_journal(tx, tbl, rkey, ver, zero);
}

/* ---- open / close --------------------------------------------------------------------------- */

struct walk {
    const struct arca_store *s;
    uint64_t seq;
    uint64_t commit;
    uint8_t head[32];
    uint64_t prev_commit; /* the commit before the last one, and the head after it */
    uint8_t prev_head[32];
};

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
    struct walk *w = arg;
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
        w->prev_commit = w->commit;
        memcpy(w->prev_head, w->head, 32);
        w->commit = e->commit;
    }
    w->seq = e->seq;
    return chain_extend(w->head, e->commit, e->tbl, e->rkey, e->ver, e->cthash);
}

struct check {
    struct arca_store *s;
    int tbl;
    uint64_t rows;
};

static int check_cb(void *arg, const struct arca_store_row *row)
{
    struct check *c = arg;
    struct arca_buf plain;
    arca_buf_init_secret(&plain, 0);
    struct arca_store_record rec;
    int rc = row_open(c->s, c->tbl, row->rkey, row, &plain, &rec);
    arca_buf_free(&plain);
    c->rows++;
    return rc;
}

/* Everything open() checks once the key is known: structure, chain, key-store, records. */
static int store_verify(struct arca_store *s, const struct arca_keystore *ks, bool *reseal)
{
    ARCA_TRY(s->ops->check(s->be));
    struct walk w;
    memset(&w, 0, sizeof(w));
    w.s = s;
    ARCA_TRY(s->ops->journal_walk(s->be, walk_cb, &w));
    *reseal = false;
    if (ks->commit == w.commit) {
        if (!arca_memeq(ks->head, w.head, 32))
            return arca_err_set(ARCA_ERR_TAMPERED,
                                "store: state chain head at commit %llu differs from the sealed "
                                "head: the database was modified",
                                (unsigned long long)w.commit);
    } else if (w.commit == ks->commit + 1 && w.prev_commit == ks->commit) {
        /* a crash between the database commit and the key-store update */
        if (!arca_memeq(ks->head, w.prev_head, 32))
            return arca_err_set(ARCA_ERR_TAMPERED,
                                "store: state chain head at commit %llu differs from the sealed "
                                "head: the database was modified",
                                (unsigned long long)ks->commit);
        *reseal = true;
    } else if (w.commit < ks->commit) {
        return arca_err_set(ARCA_ERR_TAMPERED,
                            "store: database is at commit %llu but the key-store sealed commit "
                            "%llu: the database was rolled back or truncated",
                            (unsigned long long)w.commit, (unsigned long long)ks->commit);
    } else {
        return arca_err_set(ARCA_ERR_TAMPERED,
                            "store: database is at commit %llu but the key-store sealed commit "
                            "%llu: the key-store was rolled back or belongs to another database",
                            (unsigned long long)w.commit, (unsigned long long)ks->commit);
    }
    uint64_t rows = 0;
    for (int t = ARCA_ST_FIRST; t <= ARCA_ST_LAST; t++) {
        struct check c = {.s = s, .tbl = t, .rows = 0};
        ARCA_TRY(s->ops->scan(s->be, t, check_cb, &c));
        rows += c.rows;
    }
    uint64_t nrows = 0, live = 0;
    ARCA_TRY(s->ops->count_live(s->be, &nrows, &live));
    if (nrows != rows || live != rows)
        return arca_err_set(ARCA_ERR_TAMPERED,
                            "store: the database holds %llu records but the state journal lists "
                            "%llu: records were removed or added",
                            (unsigned long long)nrows, (unsigned long long)live);
    s->commit = w.commit;
    s->seq = w.seq;
    memcpy(s->head, w.head, 32);
    s->rows_at_open = rows;
    return 0;
}

/* ---- compaction ----------------------------------------------------------------------------- */

struct collect {
    struct walk w;
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

static int by_key_newest(const void *a, const void *b)
{
    const struct arca_store_jentry *x = a, *y = b;
    if (x->tbl != y->tbl)
        return x->tbl < y->tbl ? -1 : 1;
    int c = memcmp(x->rkey, y->rkey, ARCA_STORE_RKEY_LEN);
    if (c != 0)
        return c;
    return x->seq > y->seq ? -1 : x->seq < y->seq; /* newest first */
}

static int by_seq(const void *a, const void *b)
{
    const struct arca_store_jentry *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int arca_store_compact(struct arca_store *s, uint64_t *removed)
{
    ARCA_ENSURE_REF(s);
    struct wtx tx;
    ARCA_TRY(tx_begin(s, &tx));
    struct collect c;
    memset(&c, 0, sizeof(c));
    c.w.s = s;
    int rc;
    /* the writer mutex is held and nothing is written yet: the reader snapshot is current */
    ARCA_GUARD(rc, s->ops->journal_walk(s->be, collect_cb, &c), fail);
    ARCA_GUARD_ENSURE(rc, c.w.commit == s->commit && arca_memeq(c.w.head, s->head, 32), fail,
                      ARCA_ERR_TAMPERED,
                      "store: the state journal changed under the running store (commit %llu)",
                      (unsigned long long)c.w.commit);
    size_t kept = 0;
    if (c.n > 0) {
        qsort(c.e, c.n, sizeof(*c.e), by_key_newest);
        for (size_t i = 0; i < c.n; i++)
            if (i == 0 || c.e[i].tbl != c.e[kept - 1].tbl ||
                memcmp(c.e[i].rkey, c.e[kept - 1].rkey, ARCA_STORE_RKEY_LEN) != 0)
                c.e[kept++] = c.e[i];
        qsort(c.e, kept, sizeof(*c.e), by_seq);
    }
    uint64_t before = c.w.seq;
    if (kept == 0 || kept + 1 >= before) { /* nothing to gain */
        free(c.e);
        tx_abort(&tx);
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
        ARCA_GUARD(rc, tx_journal(&tx, c.e[i].tbl, c.e[i].rkey, c.e[i].ver, c.e[i].cthash), fail);
    free(c.e);
    rc = tx_commit(&tx);
    if (rc == 0 && removed != NULL)
        *removed = before - tx.seq;
    return rc;
fail:
    free(c.e);
    tx_abort(&tx);
    return rc;
}

static int derive_keys(struct arca_store *s)
{
    static const char salt[] = "arca-store-v1";
    ARCA_TRY(arca_hkdf(ARCA_SHA256, salt, sizeof(salt) - 1, s->dbkey, sizeof(s->dbkey),
                       "record key", 10, s->reckey, sizeof(s->reckey)));
    return arca_hkdf(ARCA_SHA256, salt, sizeof(salt) - 1, s->dbkey, sizeof(s->dbkey), "index key",
                     9, s->idxkey, sizeof(s->idxkey));
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 || errno != ENOENT;
}

void arca_store_close(struct arca_store *s)
{
    if (s == NULL)
        return;
    if (s->be != NULL)
        s->ops->close(s->be);
    free(s->ks_path);
    if (s->lock_fd >= 0)
        close(s->lock_fd); /* releases the flock */
    pthread_mutex_destroy(&s->wmu);
    arca_wipe(s, sizeof(*s));
    free(s);
}

int arca_store_open(const struct arca_store_options *opt, struct arca_store **out)
{
    ARCA_ENSURE_REF(opt);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(opt->path != NULL && opt->path[0] != '\0', ARCA_ERR_INVALID_ARG,
                "store: no database path");
    ARCA_ENSURE(opt->sealer != NULL && opt->sealer->get_key != NULL, ARCA_ERR_INVALID_ARG,
                "store: no sealer");
    struct arca_store *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return arca_err_set(ARCA_ERR_ALLOC, "store");
    s->ops = &arca_store_sqlite_ops;
    s->lock_fd = -1;
    pthread_mutex_init(&s->wmu, NULL);
    struct arca_keystore ks;
    memset(&ks, 0, sizeof(ks));
    int rc;
    if (opt->keystore_path != NULL)
        s->ks_path = strdup(opt->keystore_path);
    else if (asprintf(&s->ks_path, "%s.key-store", opt->path) < 0)
        s->ks_path = NULL;
    ARCA_GUARD_ENSURE(rc, s->ks_path != NULL, fail, ARCA_ERR_ALLOC, "store: path");
    /* Two processes writing one store would each extend the chain from their own head: the
     * second one is refused here, with a clear error, instead of failing on its first write. */
    {
        char *lock = NULL;
        ARCA_GUARD_ENSURE(rc, asprintf(&lock, "%s.lock", s->ks_path) >= 0, fail, ARCA_ERR_ALLOC,
                          "store: path");
        s->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        int e = errno;
        if (s->lock_fd >= 0 && flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
            e = errno;
            close(s->lock_fd);
            s->lock_fd = -1;
            rc = e == EWOULDBLOCK
                     ? arca_err_set(ARCA_ERR_EXISTS,
                                    "store: %s is in use by another process (lock %s)", opt->path,
                                    lock)
                     : arca_err_set(ARCA_ERR_IO, "store: lock %s: %s", lock, strerror(e));
            free(lock);
            goto fail;
        }
        if (s->lock_fd < 0) {
            rc = arca_err_set(ARCA_ERR_IO, "store: lock %s: %s", lock, strerror(e));
            free(lock);
            goto fail;
        }
        free(lock);
    }
    rc = opt->sealer->get_key(opt->sealer->ctx, SEAL_PURPOSE, s->seal);
    if (rc < 0) {
        rc = arca_err_wrap(rc, "store: sealing key");
        goto fail;
    }
    bool have_db = file_exists(opt->path), have_ks = file_exists(s->ks_path);
    bool create_db = false;
    if (!have_db && !have_ks) {
        ARCA_GUARD_ENSURE(rc, opt->create, fail, ARCA_ERR_NOT_FOUND,
                          "store: no database at %s (and no key-store at %s)", opt->path,
                          s->ks_path);
        /* key-store first: a crash before the database exists leaves commit 0, which the
         * next open completes */
        ARCA_GUARD(rc, arca_random(ks.dbkey, sizeof(ks.dbkey)), fail);
        ARCA_GUARD(rc, arca_keystore_write(s->ks_path, s->seal, &ks), fail);
        create_db = true;
    } else if (!have_ks) {
        ARCA_GUARD(rc,
                   arca_err_set(ARCA_ERR_TAMPERED,
                                "store: database %s exists but its key-store %s is missing",
                                opt->path, s->ks_path),
                   fail);
    } else {
        ARCA_GUARD(rc, arca_keystore_read(s->ks_path, s->seal, &ks), fail);
        if (!have_db) {
            ARCA_GUARD_ENSURE(rc, ks.commit == 0 && opt->create, fail, ARCA_ERR_TAMPERED,
                              "store: database %s is missing but the key-store %s sealed "
                              "commit %llu",
                              opt->path, s->ks_path, (unsigned long long)ks.commit);
            create_db = true;
        }
    }
    memcpy(s->dbkey, ks.dbkey, sizeof(s->dbkey));
    ARCA_GUARD(rc, derive_keys(s), fail);
    ARCA_GUARD(rc,
               s->ops->open(opt->path, create_db, opt->readers ? opt->readers : 4,
                            opt->busy_timeout_ms > 0 ? opt->busy_timeout_ms : 5000, &s->be),
               fail);
    bool reseal = false;
    ARCA_GUARD(rc, store_verify(s, &ks, &reseal), fail);
    if (reseal) {
        ks.commit = s->commit;
        memcpy(ks.head, s->head, 32);
        ARCA_GUARD(rc, arca_keystore_write(s->ks_path, s->seal, &ks), fail);
        arca_info("store",
                  "recovered: key-store advanced to commit %llu after an interrupted "
                  "commit",
                  (unsigned long long)s->commit);
    }
    arca_wipe(&ks, sizeof(ks));
    /* Superseded journal entries only slow down the next open: drop them once they are the
     * large majority (tombstones and the newest entry of every key stay). */
    if (s->seq > 4 * (s->rows_at_open + 256)) {
        uint64_t removed = 0;
        ARCA_GUARD(rc, arca_store_compact(s, &removed), fail);
        if (removed > 0)
            arca_info("store", "compacted the state journal: %llu superseded entries removed",
                      (unsigned long long)removed);
    }
    *out = s;
    return 0;
fail:
    arca_wipe(&ks, sizeof(ks));
    arca_store_close(s);
    return rc;
}

int arca_store_state(struct arca_store *s, uint64_t *commit, uint8_t head[ARCA_STORE_HASH_LEN])
{
    ARCA_ENSURE_REF(s);
    pthread_mutex_lock(&s->wmu);
    if (commit != NULL)
        *commit = s->commit;
    if (head != NULL)
        memcpy(head, s->head, ARCA_STORE_HASH_LEN);
    pthread_mutex_unlock(&s->wmu);
    return 0;
}

/* ---- sessions ------------------------------------------------------------------------------- */

void arca_store_session_free(struct arca_store_session *rec)
{
    if (rec == NULL)
        return;
    free(rec->name);
    /* Plaintext of a sealed record (explicit secret values may be in it): wiped. */
    if (rec->yaml != NULL)
        arca_wipe_free(rec->yaml, rec->yaml_len + 1);
    if (rec->model != NULL)
        arca_wipe_free(rec->model, rec->model_len);
    free(rec);
}

void arca_store_active_clear(struct arca_store_active *a)
{
    if (a == NULL)
        return;
    free(a->name);
    memset(a, 0, sizeof(*a));
}

void arca_store_active_list_free(struct arca_store_active *list, size_t count)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        free(list[i].name);
    free(list);
}

static char *dup_bytes(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s == NULL)
        return NULL;
    if (n > 0)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static int check_name(const char *name)
{
    ARCA_ENSURE(name != NULL && name[0] != '\0', ARCA_ERR_INVALID_ARG, "store: empty name");
    ARCA_ENSURE(strlen(name) <= ARCA_STORE_NAME_MAX, ARCA_ERR_TOO_LARGE,
                "store: name longer than %d bytes", ARCA_STORE_NAME_MAX);
    return 0;
}

int arca_store_session_commit(struct arca_store *s, const struct arca_store_session *rec,
                              const void *secrets, size_t secrets_len)
{
    ARCA_ENSURE_REF(s);
    ARCA_ENSURE_REF(rec);
    ARCA_TRY(check_name(rec->name));
    ARCA_ENSURE(rec->yaml != NULL || rec->yaml_len == 0, ARCA_ERR_INVALID_ARG,
                "store: session without yaml");
    size_t name_len = strlen(rec->name);
    struct wtx tx;
    ARCA_TRY(tx_begin(s, &tx));
    struct arca_buf plain;
    arca_buf_init_secret(&plain, 0);
    struct arca_store_record cur, r;
    bool deleted;
    int rc = rec_get(s, true, ARCA_ST_SESSION, rec->hash, ARCA_STORE_HASH_LEN, &plain, &cur, NULL);
    if (rc == 0) {
        char hex[17];
        snprintf(hex, sizeof(hex), "%02x%02x%02x%02x%02x%02x%02x%02x", rec->hash[0], rec->hash[1],
                 rec->hash[2], rec->hash[3], rec->hash[4], rec->hash[5], rec->hash[6],
                 rec->hash[7]);
        rc = arca_err_set(ARCA_ERR_EXISTS, "store: session version %s... is stored already", hex);
        goto fail;
    }
    if (rc != ARCA_ERR_NOT_FOUND)
        goto fail;
    arca_buf_reset(&plain);
    rc = rec_get(s, true, ARCA_ST_ACTIVE, rec->name, name_len, &plain, &cur, &deleted);
    if (rc < 0 && rc != ARCA_ERR_NOT_FOUND)
        goto fail;
    if (!rec->has_predecessor) {
        ARCA_GUARD_ENSURE(rc, rc == ARCA_ERR_NOT_FOUND, fail, ARCA_ERR_EXISTS,
                          "store: session '%s' exists already", rec->name);
    } else {
        ARCA_GUARD_ENSURE(rc, rc == 0, fail, ARCA_ERR_NOT_FOUND,
                          "store: session '%s' does not exist", rec->name);
        ARCA_GUARD_ENSURE(rc, arca_memeq(cur.hash, rec->predecessor, ARCA_STORE_HASH_LEN), fail,
                          ARCA_ERR_CONFLICT,
                          "store: session '%s': predecessor is not the active version", rec->name);
    }
    memset(&r, 0, sizeof(r));
    r.tbl = ARCA_ST_SESSION;
    r.key = rec->hash;
    r.key_len = ARCA_STORE_HASH_LEN;
    r.name = (const uint8_t *)rec->name;
    r.name_len = name_len;
    r.version = rec->version;
    r.hash = rec->hash;
    r.has_pred = rec->has_predecessor;
    r.pred = rec->predecessor;
    r.creator = rec->creator;
    r.time = rec->created_at;
    r.data = (const uint8_t *)rec->yaml;
    r.data_len = rec->yaml_len;
    r.model = rec->model;
    r.model_len = rec->model_len;
    ARCA_GUARD(rc, tx_put(&tx, &r), fail);
    if (secrets != NULL) {
        memset(&r, 0, sizeof(r));
        r.tbl = ARCA_ST_SECRETS;
        r.key = rec->hash;
        r.key_len = ARCA_STORE_HASH_LEN;
        r.data = secrets;
        r.data_len = secrets_len;
        ARCA_GUARD(rc, tx_put(&tx, &r), fail);
    }
    memset(&r, 0, sizeof(r));
    r.tbl = ARCA_ST_ACTIVE;
    r.key = (const uint8_t *)rec->name;
    r.key_len = name_len;
    r.name = (const uint8_t *)rec->name;
    r.name_len = name_len;
    r.hash = rec->hash;
    r.version = rec->version;
    ARCA_GUARD(rc, tx_put(&tx, &r), fail);
    arca_buf_free(&plain);
    return tx_commit(&tx);
fail:
    arca_buf_free(&plain);
    tx_abort(&tx);
    return rc;
}

int arca_store_session_get(struct arca_store *s, const uint8_t hash[ARCA_STORE_HASH_LEN],
                           struct arca_store_session **out)
{
    ARCA_ENSURE_REF(s);
    ARCA_ENSURE_REF(hash);
    ARCA_ENSURE_REF(out);
    struct arca_buf plain;
    arca_buf_init_secret(&plain, 0);
    struct arca_store_record r;
    struct arca_store_session *rec = NULL;
    int rc = rec_get(s, false, ARCA_ST_SESSION, hash, ARCA_STORE_HASH_LEN, &plain, &r, NULL);
    if (rc == ARCA_ERR_NOT_FOUND)
        rc = arca_err_set(ARCA_ERR_NOT_FOUND, "store: no session version with that hash");
    if (rc < 0)
        goto out;
    if (!arca_memeq(r.hash, hash, ARCA_STORE_HASH_LEN)) {
        rc = arca_err_set(ARCA_ERR_TAMPERED, "store: session record holds another hash");
        goto out;
    }
    rec = calloc(1, sizeof(*rec));
    ARCA_GUARD_ENSURE(rc, rec != NULL, out, ARCA_ERR_ALLOC, "store: session");
    rec->name = dup_bytes(r.name, r.name_len);
    rec->yaml = dup_bytes(r.data, r.data_len);
    rec->yaml_len = r.data_len;
    if (r.model_len > 0) {
        rec->model = malloc(r.model_len);
        if (rec->model != NULL)
            memcpy(rec->model, r.model, r.model_len);
        rec->model_len = r.model_len;
    }
    ARCA_GUARD_ENSURE(
        rc, rec->name != NULL && rec->yaml != NULL && (r.model_len == 0 || rec->model != NULL), out,
        ARCA_ERR_ALLOC, "store: session");
    rec->version = r.version;
    memcpy(rec->hash, r.hash, ARCA_STORE_HASH_LEN);
    rec->has_predecessor = r.has_pred != 0;
    memcpy(rec->predecessor, r.pred, ARCA_STORE_HASH_LEN);
    memcpy(rec->creator, r.creator, ARCA_STORE_HASH_LEN);
    rec->created_at = r.time;
    *out = rec;
    rec = NULL;
    rc = 0;
out:
    arca_store_session_free(rec);
    arca_buf_free(&plain);
    return rc;
}

int arca_store_active_get(struct arca_store *s, const char *name, struct arca_store_active *out)
{
    ARCA_ENSURE_REF(s);
    ARCA_ENSURE_REF(out);
    ARCA_TRY(check_name(name));
    struct arca_buf plain;
    arca_buf_init(&plain, 0);
    struct arca_store_record r;
    int rc = rec_get(s, false, ARCA_ST_ACTIVE, name, strlen(name), &plain, &r, NULL);
    if (rc == ARCA_ERR_NOT_FOUND)
        rc = arca_err_set(ARCA_ERR_NOT_FOUND, "store: no session '%s'", name);
    if (rc == 0) {
        char *n = dup_bytes(r.name, r.name_len);
        if (n == NULL) {
            rc = arca_err_set(ARCA_ERR_ALLOC, "store: active");
        } else {
            out->name = n;
            memcpy(out->hash, r.hash, ARCA_STORE_HASH_LEN);
            out->version = r.version;
        }
    }
    arca_buf_free(&plain);
    return rc;
}

int arca_store_session_get_active(struct arca_store *s, const char *name,
                                  struct arca_store_session **out)
{
    struct arca_store_active a;
    memset(&a, 0, sizeof(a));
    ARCA_TRY(arca_store_active_get(s, name, &a));
    int rc = arca_store_session_get(s, a.hash, out);
    if (rc == ARCA_ERR_NOT_FOUND)
        rc = arca_err_set(ARCA_ERR_TAMPERED, "store: the active version of '%s' is missing", name);
    arca_store_active_clear(&a);
    return rc;
}

struct list_ctx {
    struct arca_store *s;
    const char *prefix;
    size_t plen;
    struct arca_store_active *list;
    size_t count, cap;
};

static int list_cb(void *arg, const struct arca_store_row *row)
{
    struct list_ctx *l = arg;
    struct arca_buf plain;
    arca_buf_init(&plain, 0);
    struct arca_store_record r;
    int rc = row_open(l->s, ARCA_ST_ACTIVE, row->rkey, row, &plain, &r);
    if (rc == 0 && r.name_len >= l->plen && memcmp(r.name, l->prefix, l->plen) == 0) {
        if (l->count == l->cap) {
            size_t ncap = l->cap ? l->cap * 2 : 16;
            struct arca_store_active *n = realloc(l->list, ncap * sizeof(*n));
            if (n == NULL) {
                rc = arca_err_set(ARCA_ERR_ALLOC, "store: list");
                goto out;
            }
            l->list = n;
            l->cap = ncap;
        }
        struct arca_store_active *a = &l->list[l->count];
        a->name = dup_bytes(r.name, r.name_len);
        if (a->name == NULL) {
            rc = arca_err_set(ARCA_ERR_ALLOC, "store: list");
            goto out;
        }
        memcpy(a->hash, r.hash, ARCA_STORE_HASH_LEN);
        a->version = r.version;
        l->count++;
    }
out:
    arca_buf_free(&plain);
    return rc;
}

static int active_cmp(const void *a, const void *b)
{
    return strcmp(((const struct arca_store_active *)a)->name,
                  ((const struct arca_store_active *)b)->name);
}

int arca_store_active_list(struct arca_store *s, const char *prefix,
                           struct arca_store_active **list, size_t *count)
{
    ARCA_ENSURE_REF(s);
    ARCA_ENSURE_REF(list);
    ARCA_ENSURE_REF(count);
    struct list_ctx l = {
        .s = s, .prefix = prefix ? prefix : "", .plen = prefix ? strlen(prefix) : 0};
    int rc = s->ops->scan(s->be, ARCA_ST_ACTIVE, list_cb, &l);
    if (rc < 0) {
        arca_store_active_list_free(l.list, l.count);
        return rc;
    }
    if (l.count > 1)
        qsort(l.list, l.count, sizeof(*l.list), active_cmp);
    *list = l.list;
    *count = l.count;
    return 0;
}

int arca_store_secrets_get(struct arca_store *s, const uint8_t hash[ARCA_STORE_HASH_LEN],
                           struct arca_buf *out)
{
    ARCA_ENSURE_REF(s);
    ARCA_ENSURE_REF(hash);
    ARCA_ENSURE_REF(out);
    struct arca_buf plain;
    arca_buf_init_secret(&plain, 0);
    struct arca_store_record r;
    int rc = rec_get(s, false, ARCA_ST_SECRETS, hash, ARCA_STORE_HASH_LEN, &plain, &r, NULL);
    if (rc == ARCA_ERR_NOT_FOUND)
        rc = arca_err_set(ARCA_ERR_NOT_FOUND, "store: no secrets stored for that version");
    if (rc == 0)
        rc = arca_buf_put(out, r.data, r.data_len);
    arca_buf_free(&plain);
    return rc;
}

/* ---- single-use values ---------------------------------------------------------------------- */

static int once_key(const char *ns, const void *id, size_t idlen, struct arca_buf *key)
{
    ARCA_ENSURE(ns != NULL && ns[0] != '\0', ARCA_ERR_INVALID_ARG, "store: once: empty namespace");
    ARCA_ENSURE(id != NULL && idlen > 0, ARCA_ERR_INVALID_ARG, "store: once: empty value");
    ARCA_TRY(arca_buf_put_str(key, ns));
    ARCA_TRY(arca_buf_put_u8(key, 0));
    return arca_buf_put(key, id, idlen);
}

int arca_store_once_put(struct arca_store *s, const char *ns, const void *id, size_t idlen,
                        int64_t expires_at, const void *data, size_t datalen)
{
    ARCA_ENSURE_REF(s);
    ARCA_ENSURE(datalen <= ARCA_STORE_ONCE_DATA_MAX, ARCA_ERR_TOO_LARGE,
                "store: once data of %zu bytes", datalen);
    struct arca_buf key, plain;
    arca_buf_init(&key, ARCA_STORE_NAME_MAX);
    arca_buf_init_secret(&plain, 0);
    struct arca_store_record r;
    bool deleted = false;
    struct wtx tx;
    int rc = once_key(ns, id, idlen, &key);
    if (rc < 0)
        goto out_nolock;
    ARCA_GUARD(rc, tx_begin(s, &tx), out_nolock);
    rc = rec_get(s, true, ARCA_ST_ONCE, key.data, key.len, &plain, &r, &deleted);
    if (rc == 0 || deleted) {
        rc = arca_err_set(ARCA_ERR_REPLAY, "store: %s value was used before", ns);
        goto fail;
    }
    if (rc != ARCA_ERR_NOT_FOUND)
        goto fail;
    memset(&r, 0, sizeof(r));
    r.tbl = ARCA_ST_ONCE;
    r.key = key.data;
    r.key_len = key.len;
    r.time = expires_at;
    r.data = data;
    r.data_len = datalen;
    ARCA_GUARD(rc, tx_put(&tx, &r), fail);
    rc = tx_commit(&tx);
    goto out_nolock;
fail:
    tx_abort(&tx);
out_nolock:
    arca_buf_free(&key);
    arca_buf_free(&plain);
    return rc;
}

int arca_store_once_take(struct arca_store *s, const char *ns, const void *id, size_t idlen,
                         int64_t now, struct arca_buf *out)
{
    ARCA_ENSURE_REF(s);
    struct arca_buf key, plain;
    arca_buf_init(&key, ARCA_STORE_NAME_MAX);
    arca_buf_init_secret(&plain, 0);
    struct arca_store_record r;
    bool deleted = false;
    struct wtx tx;
    int rc = once_key(ns, id, idlen, &key);
    if (rc < 0)
        goto out_nolock;
    ARCA_GUARD(rc, tx_begin(s, &tx), out_nolock);
    rc = rec_get(s, true, ARCA_ST_ONCE, key.data, key.len, &plain, &r, &deleted);
    if (rc == ARCA_ERR_NOT_FOUND) {
        rc = deleted ? arca_err_set(ARCA_ERR_REPLAY, "store: %s value was used before", ns)
                     : arca_err_set(ARCA_ERR_NOT_FOUND, "store: unknown %s value", ns);
        goto fail;
    }
    if (rc < 0)
        goto fail;
    bool expired = now >= r.time;
    if (!expired && out != NULL)
        ARCA_GUARD(rc, arca_buf_put(out, r.data, r.data_len), fail);
    rc = tx_del(&tx, ARCA_ST_ONCE, key.data, key.len);
    if (rc < 0) {
        if (!expired && out != NULL)
            arca_buf_reset(out);
        goto fail;
    }
    rc = tx_commit(&tx);
    if (rc == 0 && expired)
        rc = arca_err_set(ARCA_ERR_EXPIRED, "store: %s value expired", ns);
    goto out_nolock;
fail:
    tx_abort(&tx);
out_nolock:
    arca_buf_free(&key);
    arca_buf_free(&plain);
    return rc;
}

struct purge_ctx {
    struct arca_store *s;
    int64_t now;
    struct arca_buf keys; /* u32 len + key, for each expired value */
};

static int purge_cb(void *arg, const struct arca_store_row *row)
{
    struct purge_ctx *p = arg;
    struct arca_buf plain;
    arca_buf_init_secret(&plain, 0);
    struct arca_store_record r;
    int rc = row_open(p->s, ARCA_ST_ONCE, row->rkey, row, &plain, &r);
    if (rc == 0 && p->now >= r.time)
        rc = arca_buf_put_lv(&p->keys, r.key, r.key_len);
    arca_buf_free(&plain);
    return rc;
}

int arca_store_once_purge(struct arca_store *s, int64_t now, size_t *purged)
{
    ARCA_ENSURE_REF(s);
    struct purge_ctx p = {.s = s, .now = now};
    arca_buf_init(&p.keys, 0);
    size_t n = 0;
    int rc = s->ops->scan(s->be, ARCA_ST_ONCE, purge_cb, &p);
    if (rc == 0 && p.keys.len > 0) {
        struct wtx tx;
        rc = tx_begin(s, &tx);
        if (rc == 0) {
            struct arca_cur c;
            arca_cur_init(&c, p.keys.data, p.keys.len);
            while (rc == 0 && !arca_cur_done(&c)) {
                uint32_t len;
                const uint8_t *k;
                rc = arca_cur_get_u32be(&c, &len);
                if (rc == 0)
                    rc = arca_cur_get_ptr(&c, &k, len);
                if (rc == 0) {
                    rc = tx_del(&tx, ARCA_ST_ONCE, k, len);
                    if (rc == 0)
                        n++;
                    else if (rc == ARCA_ERR_NOT_FOUND) /* taken meanwhile */
                        rc = 0;
                }
            }
            if (rc == 0)
                rc = tx_commit(&tx);
            else
                tx_abort(&tx);
        }
    }
    arca_buf_free(&p.keys);
    if (rc == 0 && purged != NULL)
        *purged = n;
    return rc;
}

/* ---- checkpoints ---------------------------------------------------------------------------- */

static int cp_put(struct wtx *tx, const struct arca_store_checkpoint *cp, const void *key,
                  size_t keylen)
{
    struct arca_store_record r;
    memset(&r, 0, sizeof(r));
    r.tbl = ARCA_ST_CHECKPOINT;
    r.key = key;
    r.key_len = keylen;
    r.seq = cp->seq;
    r.time = cp->time;
    r.data = cp->sig;
    r.data_len = cp->sig_len;
    return tx_put(tx, &r);
}

int arca_store_checkpoint_put(struct arca_store *s, const struct arca_store_checkpoint *cp,
                              bool history)
{
    ARCA_ENSURE_REF(s);
    ARCA_ENSURE_REF(cp);
    ARCA_ENSURE(cp->sig_len <= ARCA_STORE_SIG_MAX, ARCA_ERR_TOO_LARGE,
                "store: checkpoint signature of %zu bytes", cp->sig_len);
    struct wtx tx;
    ARCA_TRY(tx_begin(s, &tx));
    int rc = cp_put(&tx, cp, "latest", 6);
    if (rc == 0 && history) {
        uint8_t key[10] = {'h', '/'};
        for (int i = 0; i < 8; i++)
            key[2 + i] = (uint8_t)(cp->seq >> (56 - 8 * i));
        rc = cp_put(&tx, cp, key, sizeof(key));
    }
    if (rc < 0) {
        tx_abort(&tx);
        return rc;
    }
    return tx_commit(&tx);
}

static void cp_from(const struct arca_store_record *r, struct arca_store_checkpoint *cp)
{
    memset(cp, 0, sizeof(*cp));
    cp->seq = r->seq;
    cp->time = r->time;
    cp->sig_len = r->data_len;
    memcpy(cp->sig, r->data, r->data_len);
}

int arca_store_checkpoint_latest(struct arca_store *s, struct arca_store_checkpoint *out)
{
    ARCA_ENSURE_REF(s);
    ARCA_ENSURE_REF(out);
    struct arca_buf plain;
    arca_buf_init(&plain, 0);
    struct arca_store_record r;
    int rc = rec_get(s, false, ARCA_ST_CHECKPOINT, "latest", 6, &plain, &r, NULL);
    if (rc == ARCA_ERR_NOT_FOUND)
        rc = arca_err_set(ARCA_ERR_NOT_FOUND, "store: no audit checkpoint yet");
    if (rc == 0)
        cp_from(&r, out);
    arca_buf_free(&plain);
    return rc;
}

struct cp_list {
    struct arca_store *s;
    struct arca_store_checkpoint *list;
    size_t count, cap;
};

static int cp_list_cb(void *arg, const struct arca_store_row *row)
{
    struct cp_list *l = arg;
    struct arca_buf plain;
    arca_buf_init(&plain, 0);
    struct arca_store_record r;
    int rc = row_open(l->s, ARCA_ST_CHECKPOINT, row->rkey, row, &plain, &r);
    if (rc == 0 && r.key_len == 10 && r.key[0] == 'h') {
        if (l->count == l->cap) {
            size_t ncap = l->cap ? l->cap * 2 : 16;
            struct arca_store_checkpoint *n = realloc(l->list, ncap * sizeof(*n));
            if (n == NULL) {
                rc = arca_err_set(ARCA_ERR_ALLOC, "store: checkpoints");
                goto out;
            }
            l->list = n;
            l->cap = ncap;
        }
        cp_from(&r, &l->list[l->count++]);
    }
out:
    arca_buf_free(&plain);
    return rc;
}

static int cp_cmp(const void *a, const void *b)
{
    uint64_t x = ((const struct arca_store_checkpoint *)a)->seq;
    uint64_t y = ((const struct arca_store_checkpoint *)b)->seq;
    return x < y ? -1 : x > y;
}

int arca_store_checkpoint_list(struct arca_store *s, size_t max,
                               struct arca_store_checkpoint **list, size_t *count)
{
    ARCA_ENSURE_REF(s);
    ARCA_ENSURE_REF(list);
    ARCA_ENSURE_REF(count);
    struct cp_list l = {.s = s};
    int rc = s->ops->scan(s->be, ARCA_ST_CHECKPOINT, cp_list_cb, &l);
    if (rc < 0) {
        free(l.list);
        return rc;
    }
    if (l.count > 1)
        qsort(l.list, l.count, sizeof(*l.list), cp_cmp);
    if (l.count > max) {
        memmove(l.list, l.list + (l.count - max), max * sizeof(*l.list));
        l.count = max;
    }
    if (l.count == 0) {
        free(l.list);
        l.list = NULL;
    }
    *list = l.list;
    *count = l.count;
    return 0;
}

/* ---- metadata ------------------------------------------------------------------------------- */

int arca_store_meta_put(struct arca_store *s, const char *key, const void *value, size_t len)
{
    ARCA_ENSURE_REF(s);
    ARCA_TRY(check_name(key));
    ARCA_ENSURE(value != NULL || len == 0, ARCA_ERR_INVALID_ARG, "store: meta: NULL value");
    struct arca_store_record r;
    memset(&r, 0, sizeof(r));
    r.tbl = ARCA_ST_META;
    r.key = (const uint8_t *)key;
    r.key_len = strlen(key);
    r.data = value;
    r.data_len = len;
    struct wtx tx;
    ARCA_TRY(tx_begin(s, &tx));
    int rc = tx_put(&tx, &r);
    if (rc < 0) {
        tx_abort(&tx);
        return rc;
    }
    return tx_commit(&tx);
}

int arca_store_meta_get(struct arca_store *s, const char *key, struct arca_buf *out)
{
    ARCA_ENSURE_REF(s);
    ARCA_ENSURE_REF(out);
    ARCA_TRY(check_name(key));
    struct arca_buf plain;
    arca_buf_init_secret(&plain, 0);
    struct arca_store_record r;
    int rc = rec_get(s, false, ARCA_ST_META, key, strlen(key), &plain, &r, NULL);
    if (rc == ARCA_ERR_NOT_FOUND)
        rc = arca_err_set(ARCA_ERR_NOT_FOUND, "store: no metadata '%s'", key);
    if (rc == 0)
        rc = arca_buf_put(out, r.data, r.data_len);
    arca_buf_free(&plain);
    return rc;
}

int arca_store_meta_delete(struct arca_store *s, const char *key)
{
    ARCA_ENSURE_REF(s);
    ARCA_TRY(check_name(key));
    struct wtx tx;
    ARCA_TRY(tx_begin(s, &tx));
    int rc = tx_del(&tx, ARCA_ST_META, key, strlen(key));
    if (rc == ARCA_ERR_NOT_FOUND)
        rc = arca_err_set(ARCA_ERR_NOT_FOUND, "store: no metadata '%s'", key);
    if (rc < 0) {
        tx_abort(&tx);
        return rc;
    }
    return tx_commit(&tx);
}
