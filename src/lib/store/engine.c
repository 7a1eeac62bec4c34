/*
 * The store engine (engine.h): keys, sealing and opening of rows, write transactions, the
 * key-store, and the checks at open and on every read. The journal and chain are in
 * journal.c, the typed records in sessions.c, once.c, checkpoint.c and meta.c.
 *
 * Keys: the database key (random, 32 bytes, sealed in the key-store) never encrypts anything
 * itself; HKDF-SHA-256 derives the record key (AES-256-GCM) and the index key (HMAC-SHA-256
 * of table || record key = the row key the backend sees, so names stay hidden).
 * Associated data of a record: "arca-store-v1" || u8 table || lv(table name) || row key ||
 * u64be version; the decrypted record also names its own table and key, checked on read.
 *
 * Over 800 lines: the open-time verification (verify_chain, verify_rows_*, store_verify) shares
 * row_open_ctx and its static helpers with every read; moving it to its own file needs those in
 * engine.h first (left for when the read cache and group commit of this round are merged).
 */
#include "store/engine.h"

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
#include "store/keystore.h"

#define AAD_PREFIX "arca-store-v1"
#define SEAL_PURPOSE "arca-keystore"

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

/* Crypto contexts kept over many rows (the open-time scan, and the writer's: engine.h
 * arca_store_wcrypto), so each row costs the computations only, not OpenSSL's algorithm fetch
 * and key set-up: aead keyed with the current record key, idx with the index key, sha a
 * SHA-256 context. Passed as NULL elsewhere (one-shot calls; row_key_ctx needs idx only). */
struct row_ctx {
    struct arca_aead_ctx *aead;
    struct arca_hmac_ctx *idx;
    struct arca_hash_ctx *sha;
};

static int row_key_ctx(const struct arca_store *s, struct row_ctx *c, int tbl, const void *key,
                       size_t keylen, uint8_t rkey[ARCA_STORE_RKEY_LEN])
{
    struct arca_buf b;
    arca_buf_init_secret(&b, ARCA_STORE_NAME_MAX + 16);
    int rc = arca_buf_put_u8(&b, (uint8_t)tbl);
    if (rc == 0)
        rc = arca_buf_put(&b, key, keylen);
    if (rc == 0 && c != NULL)
        rc = arca_hmac_ctx_mac(c->idx, b.data, b.len, rkey);
    else if (rc == 0)
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

/* SHA-256(nonce || ct), on sha (restarted) when given, else on a context of its own. */
static int ct_hash_ctx(struct arca_hash_ctx *sha, const uint8_t nonce[ARCA_STORE_NONCE_LEN],
                       const struct arca_buf *ct, uint8_t out[32])
{
    struct arca_hash_ctx *h = sha;
    ARCA_TRY(h != NULL ? arca_hash_ctx_reset(h) : arca_hash_ctx_new(ARCA_SHA256, &h));
    int rc = arca_hash_ctx_update(h, nonce, ARCA_STORE_NONCE_LEN);
    if (rc == 0)
        rc = arca_hash_ctx_update(h, ct->data != NULL ? ct->data : (const uint8_t *)"", ct->len);
    if (rc == 0)
        rc = arca_hash_ctx_final(h, out);
    if (sha == NULL)
        arca_hash_ctx_free(h);
    return rc;
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
static int row_open_ctx(const struct arca_store *s, struct row_ctx *c, int tbl,
                        const uint8_t rkey[ARCA_STORE_RKEY_LEN], const struct arca_store_row *row,
                        struct arca_buf *plain, struct arca_store_record *rec);

static int row_open(const struct arca_store *s, int tbl, const uint8_t rkey[ARCA_STORE_RKEY_LEN],
                    const struct arca_store_row *row, struct arca_buf *plain,
                    struct arca_store_record *rec)
{
    return row_open_ctx(s, NULL, tbl, rkey, row, plain, rec);
}

/* Decrypts row with a (keyed with the current record key), appending to plain. */
static int row_decrypt_ctx(struct arca_aead_ctx *a, const struct arca_store_row *row,
                           const struct arca_buf *aad, struct arca_buf *plain)
{
    if (row->ct.len < ARCA_AEAD_TAG_LEN)
        return ARCA_ERR_TAMPERED;
    size_t n = row->ct.len - ARCA_AEAD_TAG_LEN;
    ARCA_TRY(arca_buf_reserve(plain, n));
    ARCA_TRY(arca_aead_ctx_open(a, row->nonce, aad->data, aad->len, row->ct.data, n,
                                row->ct.data + n, plain->data + plain->len));
    plain->len += n;
    return 0;
}

/* row_open with the contexts c (NULL: one-shot calls). */
static int row_open_ctx(const struct arca_store *s, struct row_ctx *c, int tbl,
                        const uint8_t rkey[ARCA_STORE_RKEY_LEN], const struct arca_store_row *row,
                        struct arca_buf *plain, struct arca_store_record *rec)
{
    char label[64]; /* only on failure: formatting it per row shows in the open-time scan */
    uint8_t h[32];
    ARCA_TRY(ct_hash_ctx(c != NULL ? c->sha : NULL, row->nonce, &row->ct, h));
    if (!row->journaled || row->jver != row->ver || !arca_memeq(h, row->jhash, 32)) {
        row_label(tbl, rkey, label);
        return arca_err_set(ARCA_ERR_TAMPERED,
                            "store: %s (version %llu) does not match the state journal: the "
                            "database was modified or rolled back",
                            label, (unsigned long long)row->ver);
    }
    struct arca_buf aad;
    arca_buf_init(&aad, 256);
    int rc = build_aad(tbl, rkey, row->ver, &aad);
    size_t mark = plain->len;
    unsigned k = atomic_load(&s->rk) & 1u;
    if (rc == 0 && c != NULL)
        rc = row_decrypt_ctx(c->aead, row, &aad, plain);
    else if (rc == 0)
        rc = arca_aead_open(s->reckeys[k], row->nonce, aad.data, aad.len, row->ct.data, row->ct.len,
                            plain);
    /* a key rotation committed between choosing the key and reading the row */
    if (rc == ARCA_ERR_TAMPERED && (atomic_load(&s->rk) & 1u) != k)
        rc = arca_aead_open(s->reckeys[k ^ 1u], row->nonce, aad.data, aad.len, row->ct.data,
                            row->ct.len, plain);
    arca_buf_free(&aad);
    if (rc < 0)
        row_label(tbl, rkey, label);
    if (rc == ARCA_ERR_TAMPERED || rc == ARCA_ERR_CRYPTO || rc == ARCA_ERR_FORMAT ||
        rc == ARCA_ERR_TRUNCATED)
        return arca_err_set(ARCA_ERR_TAMPERED, "store: %s fails authentication", label);
    ARCA_TRY(rc);
    rc = arca_store_record_decode(plain->data + mark, plain->len - mark, rec);
    if (rc < 0) {
        row_label(tbl, rkey, label);
        return arca_err_set(ARCA_ERR_TAMPERED, "store: %s does not decode: %s", label,
                            arca_err_detail());
    }
    uint8_t check[ARCA_STORE_RKEY_LEN];
    ARCA_TRY(row_key_ctx(s, c, rec->tbl, rec->key, rec->key_len, check));
    if (rec->tbl != tbl || !arca_memeq(check, rkey, sizeof(check))) {
        row_label(tbl, rkey, label);
        return arca_err_set(ARCA_ERR_TAMPERED, "store: %s holds another record", label);
    }
    return 0;
}

static void wcrypto_free(struct arca_store_wcrypto *w)
{
    if (w == NULL)
        return;
    arca_hmac_ctx_free(w->idx);
    arca_hash_ctx_free(w->sha);
    arca_aead_ctx_free(w->open);
    arca_aead_ctx_free(w->seal);
    arca_wipe(w, sizeof(*w));
    free(w);
}

/* Under wmu: the writer's contexts (engine.h), made at the first call; NULL if they cannot be
 * made, and the caller uses one-shot calls as before. */
static struct arca_store_wcrypto *wcrypto(struct arca_store *s)
{
    if (s->wc != NULL)
        return s->wc;
    struct arca_store_wcrypto *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    if (arca_hmac_ctx_new(ARCA_SHA256, s->idxkey, sizeof(s->idxkey), &w->idx) < 0 ||
        arca_hash_ctx_new(ARCA_SHA256, &w->sha) < 0 || arca_aead_ctx_new(&w->open) < 0 ||
        arca_aead_ctx_new(&w->seal) < 0) {
        wcrypto_free(w);
        arca_err_clear();
        return NULL;
    }
    s->wc = w;
    return w;
}

/* Keys a with key unless it holds it already (cur: its key, *set: it has one); false if that
 * fails (the caller falls back to a one-shot call). */
static bool aead_keyed(struct arca_aead_ctx *a, uint8_t cur[ARCA_AEAD_KEY_LEN], bool *set,
                       const uint8_t key[ARCA_AEAD_KEY_LEN])
{
    if (*set && arca_memeq(cur, key, ARCA_AEAD_KEY_LEN))
        return true;
    *set = false;
    if (arca_aead_ctx_set_key(a, key) < 0) {
        arca_err_clear();
        return false;
    }
    memcpy(cur, key, ARCA_AEAD_KEY_LEN);
    *set = true;
    return true;
}

/* Under wmu: the writer's contexts for reading a row inside a transaction, the AEAD keyed
 * with the record key reads use; NULL: one-shot calls. */
static struct row_ctx *wread_ctx(struct arca_store *s, struct row_ctx *c)
{
    struct arca_store_wcrypto *w = wcrypto(s);
    if (w == NULL ||
        !aead_keyed(w->open, w->okey, &w->okey_set, s->reckeys[atomic_load(&s->rk) & 1u]))
        return NULL;
    c->aead = w->open;
    c->idx = w->idx;
    c->sha = w->sha;
    return c;
}

/* A fresh random nonce for a row the writer seals: from the writer's batch of them, or drawn
 * alone without the writer's contexts. */
static int row_nonce(struct arca_store *s, uint8_t nonce[ARCA_STORE_NONCE_LEN])
{
    struct arca_store_wcrypto *w = wcrypto(s);
    if (w == NULL)
        return arca_random(nonce, ARCA_STORE_NONCE_LEN);
    if (w->nonces_left == 0) {
        ARCA_TRY(arca_random(w->nonces, sizeof(w->nonces)));
        w->nonces_left = sizeof(w->nonces) / ARCA_STORE_NONCE_LEN;
    }
    uint8_t *p = w->nonces + --w->nonces_left * ARCA_STORE_NONCE_LEN;
    memcpy(nonce, p, ARCA_STORE_NONCE_LEN);
    arca_wipe(p, ARCA_STORE_NONCE_LEN); /* never handed out twice */
    return 0;
}

/* Appends AES-256-GCM(key, nonce, aad, pt) || tag to ct, with the writer's context when it
 * can be had. */
static int row_seal(struct arca_store *s, const uint8_t key[ARCA_AEAD_KEY_LEN],
                    const uint8_t nonce[ARCA_STORE_NONCE_LEN], const struct arca_buf *aad,
                    const struct arca_buf *pt, struct arca_buf *ct)
{
    struct arca_store_wcrypto *w = wcrypto(s);
    if (w == NULL || !aead_keyed(w->seal, w->skey, &w->skey_set, key))
        return arca_aead_seal(key, nonce, aad->data, aad->len, pt->data, pt->len, ct);
    size_t n = pt->len;
    ARCA_TRY(arca_buf_reserve(ct, n + ARCA_AEAD_TAG_LEN));
    ARCA_TRY(arca_aead_ctx_seal(w->seal, nonce, aad->data, aad->len, pt->data, n,
                                ct->data + ct->len, ct->data + ct->len + n));
    ct->len += n + ARCA_AEAD_TAG_LEN;
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
    /* Outside a transaction, a record this process verified or wrote last is served from the
     * cache: it is what the backend holds (every write invalidates it: cache.h). */
    uint64_t ticket = UINT64_MAX;
    size_t mark = plain->len;
    if (!in_write && s->cache != NULL) {
        int hit = arca_store_cache_get(s->cache, tbl, key, keylen, plain, &ticket);
        if (hit == 0) {
            hit = arca_store_record_decode(plain->data + mark, plain->len - mark, rec);
            if (hit < 0) {
                arca_wipe(plain->data + mark, plain->len - mark);
                plain->len = mark;
            }
            return hit;
        }
        if (hit != ARCA_ERR_NOT_FOUND)
            return hit;
    }
    uint8_t rkey[ARCA_STORE_RKEY_LEN];
    struct row_ctx wctx, *c = in_write ? wread_ctx(s, &wctx) : NULL;
    ARCA_TRY(row_key_ctx(s, c, tbl, key, keylen, rkey));
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
        rc = row_open_ctx(s, c, tbl, rkey, &row, plain, rec);
    if (rc == 0 && ticket != UINT64_MAX)
        arca_store_cache_put(s->cache, tbl, key, keylen, plain->data + mark, plain->len - mark,
                             ticket);
    arca_buf_free(&row.ct);
    return rc;
}

int arca_store_get(struct arca_store *s, int tbl, const void *key, size_t keylen,
                   struct arca_buf *plain, struct arca_store_record *rec)
{
    return rec_get(s, false, tbl, key, keylen, plain, rec, NULL);
}

int arca_store_get_data(struct arca_store *s, int tbl, const void *key, size_t keylen,
                        struct arca_buf *out)
{
    struct arca_buf plain;
    arca_buf_init_secret(&plain, 0);
    struct arca_store_record r;
    int rc = rec_get(s, false, tbl, key, keylen, &plain, &r, NULL);
    if (rc == 0)
        rc = arca_buf_put(out, r.data, r.data_len);
    arca_buf_free(&plain);
    return rc;
}

int arca_store_tx_get(struct arca_store_tx *tx, int tbl, const void *key, size_t keylen,
                      struct arca_buf *plain, struct arca_store_record *rec, bool *deleted)
{
    return rec_get(tx->s, true, tbl, key, keylen, plain, rec, deleted);
}

int arca_store_check_name(const char *name)
{
    ARCA_ENSURE(name != NULL && name[0] != '\0', ARCA_ERR_INVALID_ARG, "store: empty name");
    ARCA_ENSURE(strlen(name) <= ARCA_STORE_NAME_MAX, ARCA_ERR_TOO_LARGE,
                "store: name longer than %d bytes", ARCA_STORE_NAME_MAX);
    return 0;
}

struct scan {
    struct arca_store *s;
    int tbl;
    arca_store_rec_cb cb;
    void *arg;
};

static int scan_cb(void *arg, const struct arca_store_row *row)
{
    struct scan *sc = arg;
    struct arca_buf plain;
    arca_buf_init_secret(&plain, 0);
    struct arca_store_record rec;
    int rc = row_open(sc->s, sc->tbl, row->rkey, row, &plain, &rec);
    if (rc == 0)
        rc = sc->cb(sc->arg, &rec);
    arca_buf_free(&plain);
    return rc;
}

int arca_store_scan(struct arca_store *s, int tbl, arca_store_rec_cb cb, void *arg)
{
    ARCA_ENSURE_REF(s);
    ARCA_ENSURE_REF(cb);
    struct scan sc = {.s = s, .tbl = tbl, .cb = cb, .arg = arg};
    return s->ops->scan(s->be, tbl, scan_cb, &sc);
}

/* ---- write transactions --------------------------------------------------------------------- */

/* arca_store_tx_begin/commit/abort, the freshness hook and group commit: group.c */

/* Version the next write of rkey gets: one more than the journal's newest entry. */
static int tx_next_ver(struct arca_store_tx *tx, int tbl, const uint8_t rkey[ARCA_STORE_RKEY_LEN],
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

int arca_store_tx_put(struct arca_store_tx *tx, const struct arca_store_record *rec)
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
    struct arca_store_wcrypto *w = wcrypto(s);
    struct row_ctx c = {.idx = w != NULL ? w->idx : NULL};
    arca_store_cache_invalidate(s->cache, rec->tbl, rec->key, rec->key_len);
    ARCA_GUARD(rc, row_key_ctx(s, w != NULL ? &c : NULL, rec->tbl, rec->key, rec->key_len, rkey),
               out);
    ARCA_GUARD(rc, tx_next_ver(tx, rec->tbl, rkey, &ver, &present), out);
    ARCA_GUARD(rc, arca_store_record_encode(rec, &plain), out);
    ARCA_GUARD(rc, build_aad(rec->tbl, rkey, ver, &aad), out);
    ARCA_GUARD(rc, row_nonce(s, nonce), out);
    ARCA_GUARD(rc, row_seal(s, arca_store_write_key(s), nonce, &aad, &plain, &ct), out);
    ARCA_GUARD(rc, s->ops->put(s->be, rec->tbl, rkey, ver, nonce, ct.data, ct.len), out);
    ARCA_GUARD(rc, ct_hash_ctx(w != NULL ? w->sha : NULL, nonce, &ct, h), out);
    ARCA_GUARD(rc, arca_store_tx_journal(tx, rec->tbl, rkey, ver, h), out);
    /* into the record cache if the batch commits: the next read of the row is a hit */
    arca_store_cache_stage(s->cache, rec->tbl, rec->key, rec->key_len, plain.data, plain.len);
out:
    arca_buf_free(&plain);
    arca_buf_free(&aad);
    arca_buf_free(&ct);
    return rc;
}

int arca_store_tx_del(struct arca_store_tx *tx, int tbl, const void *key, size_t keylen)
{
    uint8_t rkey[ARCA_STORE_RKEY_LEN], zero[32] = {0};
    uint64_t ver = 0;
    bool present = false;
    struct arca_store_wcrypto *w = wcrypto(tx->s);
    struct row_ctx c = {.idx = w != NULL ? w->idx : NULL};
    arca_store_cache_invalidate(tx->s->cache, tbl, key, keylen);
    ARCA_TRY(row_key_ctx(tx->s, w != NULL ? &c : NULL, tbl, key, keylen, rkey));
    ARCA_TRY(tx_next_ver(tx, tbl, rkey, &ver, &present));
    if (!present)
        return ARCA_ERR_NOT_FOUND;
    ARCA_TRY(tx->s->ops->del(tx->s->be, tbl, rkey));
    return arca_store_tx_journal(tx, tbl, rkey, ver, zero);
}

/* ---- open / close --------------------------------------------------------------------------- */

static int count_cb(void *arg, const struct arca_store_record *rec)
{
    (void)rec;
    (*(uint64_t *)arg)++;
    return 0;
}

/* Everything open() checks once the key is known: structure, chain, key-store, records. */
/*
 * Shared backend: the database may be any number of commits ahead of this data dir's key-store
 * (other arcads wrote meanwhile), but never behind it, its journal must pass through the sealed
 * head (unless compacted past it), and the head row must match the journal under this store's
 * MAC.
 */
static int shared_verify_chain(struct arca_store *s, const struct arca_keystore *ks,
                               const struct arca_store_walk *w)
{
    struct arca_store_headrow h;
    ARCA_TRY(s->ops->head(s->be, false, &h));
    if (h.commit > 0)
        ARCA_TRY(arca_store_head_verify(s, &h));
    if (h.commit != w->commit || h.seq != w->seq || !arca_memeq(h.head, w->head, 32))
        return arca_err_set(ARCA_ERR_TAMPERED,
                            "store: the database's head row (commit %llu) does not match its "
                            "state journal (commit %llu): the database was modified",
                            (unsigned long long)h.commit, (unsigned long long)w->commit);
    if (w->commit < ks->commit)
        return arca_err_set(ARCA_ERR_TAMPERED,
                            "store: database is at commit %llu but the key-store sealed commit "
                            "%llu: the database was rolled back or truncated",
                            (unsigned long long)w->commit, (unsigned long long)ks->commit);
    if (ks->commit > 0 && w->probe_found && !arca_memeq(w->probe_head, ks->head, 32))
        return arca_err_set(ARCA_ERR_TAMPERED,
                            "store: state chain head at commit %llu differs from the sealed "
                            "head: the database was modified or belongs to another arca",
                            (unsigned long long)ks->commit);
    return 0;
}

/* The recomputed chain w against the sealed commit and head (invariant 3). */
static int verify_chain(struct arca_store *s, const struct arca_keystore *ks,
                        const struct arca_store_walk *w, bool *reseal)
{
    *reseal = false;
    if (s->ops->shared) {
        ARCA_TRY(shared_verify_chain(s, ks, w));
        *reseal = w->commit != ks->commit;
    } else if (ks->commit == w->commit) {
        if (!arca_memeq(ks->head, w->head, 32))
            return arca_err_set(ARCA_ERR_TAMPERED,
                                "store: state chain head at commit %llu differs from the sealed "
                                "head: the database was modified",
                                (unsigned long long)w->commit);
    } else if (w->commit == ks->commit + 1 && w->prev_commit == ks->commit) {
        /* a crash between the database commit and the key-store update */
        if (!arca_memeq(ks->head, w->prev_head, 32))
            return arca_err_set(ARCA_ERR_TAMPERED,
                                "store: state chain head at commit %llu differs from the sealed "
                                "head: the database was modified",
                                (unsigned long long)ks->commit);
        *reseal = true;
    } else if (w->commit < ks->commit) {
        return arca_err_set(ARCA_ERR_TAMPERED,
                            "store: database is at commit %llu but the key-store sealed commit "
                            "%llu: the database was rolled back or truncated",
                            (unsigned long long)w->commit, (unsigned long long)ks->commit);
    } else {
        return arca_err_set(ARCA_ERR_TAMPERED,
                            "store: database is at commit %llu but the key-store sealed commit "
                            "%llu: the key-store was rolled back or belongs to another database",
                            (unsigned long long)w->commit, (unsigned long long)ks->commit);
    }
    return 0;
}

/* The open-time scan of every row (invariants 4 and 5) in one sequential pass over the
 * database: each row is looked up in the journal's newest entries (keys, sorted; built by the
 * walk) instead of two indexed journal lookups per row, and decrypted with one AES-GCM context
 * for all rows. seen marks the keys already matched, so a row cannot stand in twice. With two
 * threads each scans one half of the key range with contexts of its own; a row of one half can
 * only match a key of the same half, so the halves touch disjoint bytes of seen. */
struct vscan {
    struct arca_store *s;
    const struct arca_store_jentry *keys;
    size_t nkeys;
    uint8_t *seen;
    struct row_ctx c;
    uint64_t rows;
    const atomic_bool *stop; /* the lower half failed: the upper half's result is moot */
};

static int key_cmp(const void *k, const void *e)
{
    const struct arca_store_jentry *x = k, *y = e;
    if (x->tbl != y->tbl)
        return x->tbl < y->tbl ? -1 : 1;
    return memcmp(x->rkey, y->rkey, ARCA_STORE_RKEY_LEN);
}

static int vscan_cb(void *arg, const struct arca_store_row *row)
{
    struct vscan *v = arg;
    if (v->stop != NULL && atomic_load_explicit(v->stop, memory_order_relaxed))
        return ARCA_ERR_INTERNAL;
    if (arca_store_table_name(row->tbl) == NULL)
        return arca_err_set(ARCA_ERR_TAMPERED, "store: a record names table %d", row->tbl);
    struct arca_store_jentry probe;
    probe.tbl = row->tbl;
    memcpy(probe.rkey, row->rkey, ARCA_STORE_RKEY_LEN);
    const struct arca_store_jentry *e =
        v->nkeys > 0 ? bsearch(&probe, v->keys, v->nkeys, sizeof(*e), key_cmp) : NULL;
    struct arca_store_row r = *row; /* borrows row's ciphertext */
    r.journaled = e != NULL;
    if (e != NULL) {
        size_t i = (size_t)(e - v->keys);
        if (v->seen[i]) {
            char label[64];
            row_label(row->tbl, row->rkey, label);
            return arca_err_set(ARCA_ERR_TAMPERED, "store: %s is in the database twice", label);
        }
        v->seen[i] = 1;
        r.jver = e->ver;
        memcpy(r.jhash, e->cthash, 32);
    }
    struct arca_buf plain;
    arca_buf_init_secret(&plain, 0);
    struct arca_store_record rec;
    int rc = row_open_ctx(v->s, &v->c, row->tbl, row->rkey, &r, &plain, &rec);
    arca_buf_free(&plain);
    v->rows++;
    return rc;
}

/* One step of the open-time verification, maybe on a thread of its own: its result and its
 * error detail (thread-local) travel back to the opener with it. */
struct vstep {
    int (*fn)(void *arg);
    void *arg;
    int rc;
    char detail[ARCA_ERR_DETAIL_MAX];
    pthread_t t;
    bool threaded;
};

static void *vstep_main(void *p)
{
    struct vstep *v = p;
    v->rc = v->fn(v->arg);
    if (v->rc < 0)
        snprintf(v->detail, sizeof(v->detail), "%s", arca_err_detail());
    return NULL;
}

/* Runs fn(arg) on a new thread, or right here when none can be made (or on_thread is false). */
static void vstep_start(struct vstep *v, bool on_thread, int (*fn)(void *), void *arg)
{
    v->fn = fn;
    v->arg = arg;
    v->rc = 0;
    v->detail[0] = '\0';
    v->threaded = on_thread && pthread_create(&v->t, NULL, vstep_main, v) == 0;
    if (!v->threaded)
        vstep_main(v);
}

/* Waits for v; returns its result, with its detail set on this thread if it failed. */
static int vstep_join(struct vstep *v)
{
    if (v->threaded)
        pthread_join(v->t, NULL);
    v->threaded = false;
    return v->rc < 0 ? arca_err_set(v->rc, "%s", v->detail) : 0;
}

/* A half of the key range (or all of it): split NULL scans every row, else the rows below
 * (upper false) or from (upper true) the key split. */
struct vhalf {
    struct vscan v;
    const struct arca_store_jentry *split;
    bool upper;
};

static int vhalf_run(void *arg)
{
    struct vhalf *h = arg;
    struct arca_store *s = h->v.s;
    int rc = arca_aead_ctx_new(&h->v.c.aead);
    if (rc == 0)
        rc = arca_aead_ctx_set_key(h->v.c.aead, s->reckeys[atomic_load(&s->rk) & 1u]);
    if (rc == 0)
        rc = arca_hmac_ctx_new(ARCA_SHA256, s->idxkey, sizeof(s->idxkey), &h->v.c.idx);
    if (rc == 0)
        rc = arca_hash_ctx_new(ARCA_SHA256, &h->v.c.sha);
    if (rc == 0 && h->split == NULL)
        rc = s->ops->scan_all(s->be, vscan_cb, &h->v);
    else if (rc == 0)
        rc = s->ops->scan_split(s->be, h->split->tbl, h->split->rkey, h->upper, vscan_cb, &h->v);
    arca_aead_ctx_free(h->v.c.aead);
    arca_hmac_ctx_free(h->v.c.idx);
    arca_hash_ctx_free(h->v.c.sha);
    return rc;
}

/* Every row once, against keys: *rows = the rows, *live = the keys whose newest entry is not a
 * delete. On two threads, the halves split at the middle key; the lower half's error wins, as
 * it comes first in the one-thread scan's key order (the upper half stops early then). */
static int verify_rows_all(struct arca_store *s, const struct arca_store_jentry *keys, size_t nkeys,
                           uint64_t *rows, uint64_t *live)
{
    uint8_t *seen = calloc(nkeys > 0 ? nkeys : 1, 1);
    if (seen == NULL)
        return arca_err_set(ARCA_ERR_ALLOC, "store: open");
    atomic_bool stop = false;
    struct vhalf lo = {.v = {.s = s, .keys = keys, .nkeys = nkeys, .seen = seen}};
    struct vhalf hi = lo;
    bool split = s->verify_threads >= 2 && s->ops->scan_split != NULL && nkeys >= 2;
    struct vstep hstep, lstep;
    if (split) {
        lo.split = hi.split = &keys[nkeys / 2];
        hi.upper = true;
        hi.v.stop = &stop;
        vstep_start(&hstep, true, vhalf_run, &hi);
    }
    vstep_start(&lstep, false, vhalf_run, &lo);
    if (lstep.rc < 0)
        atomic_store(&stop, true);
    int rc = split ? vstep_join(&hstep) : 0;
    if (lstep.rc < 0)
        rc = vstep_join(&lstep);
    free(seen);
    *rows = lo.v.rows + hi.v.rows;
    *live = 0;
    for (size_t i = 0; i < nkeys; i++)
        *live += !is_zero(keys[i].cthash, 32);
    return rc;
}

static int records_mismatch(uint64_t rows, uint64_t live)
{
    return arca_err_set(ARCA_ERR_TAMPERED,
                        "store: the database holds %llu records but the state journal lists "
                        "%llu: records were removed or added",
                        (unsigned long long)rows, (unsigned long long)live);
}

/* A backend without scan_all: table by table, with the journal lookups in the backend. */
static int verify_rows_by_table(struct arca_store *s, uint64_t *rows, uint64_t *live)
{
    *rows = 0;
    for (int t = ARCA_ST_FIRST; t <= ARCA_ST_LAST; t++)
        ARCA_TRY(arca_store_scan(s, t, count_cb, rows));
    uint64_t nrows = 0;
    ARCA_TRY(s->ops->count_live(s->be, &nrows, live));
    if (nrows != *rows && *live == *rows) /* a row of no known table: the count says so */
        return records_mismatch(nrows, *live);
    return 0;
}

static int check_run(void *arg)
{
    struct arca_store *s = arg;
    return s->ops->check(s->be);
}

static int store_verify(struct arca_store *s, const struct arca_keystore *ks, bool *reseal)
{
    /* The file check reads the whole file as the walk does: beside it where the backend
     * allows; its error still comes first, as when it ran before the walk. */
    struct vstep check;
    vstep_start(&check, s->verify_threads >= 2 && s->ops->scan_split != NULL, check_run, s);
    if (!check.threaded)
        ARCA_TRY(vstep_join(&check));
    struct arca_store_walk w;
    struct arca_store_jentry *keys = NULL;
    size_t nkeys = 0;
    uint64_t probe = s->ops->shared ? ks->commit : 0;
    int rc = s->ops->scan_all != NULL ? arca_store_journal_newest(s, probe, &w, &keys, &nkeys)
                                      : arca_store_journal_walk(s, probe, &w);
    struct vstep walk = {.rc = rc};
    if (rc < 0)
        snprintf(walk.detail, sizeof(walk.detail), "%s", arca_err_detail());
    rc = vstep_join(&check);
    if (rc == 0)
        rc = vstep_join(&walk);
    if (rc < 0) {
        free(keys);
        return rc;
    }
    uint64_t rows = 0, live = 0;
    rc = verify_chain(s, ks, &w, reseal);
    if (rc == 0)
        rc = s->ops->scan_all != NULL ? verify_rows_all(s, keys, nkeys, &rows, &live)
                                      : verify_rows_by_table(s, &rows, &live);
    free(keys);
    ARCA_TRY(rc);
    if (live != rows)
        return records_mismatch(rows, live);
    s->commit = w.commit;
    s->seq = w.seq;
    memcpy(s->head, w.head, 32);
    s->rows_at_open = rows;
    return 0;
}

/* store_verify on one snapshot of a shared database (other arcads may write meanwhile). */
static int store_verify_pinned(struct arca_store *s, const struct arca_keystore *ks, bool *reseal)
{
    if (s->ops->pin == NULL)
        return store_verify(s, ks, reseal);
    ARCA_TRY(s->ops->pin(s->be, true));
    int rc = store_verify(s, ks, reseal);
    int rc2 = s->ops->pin(s->be, false);
    return rc < 0 ? rc : rc2;
}

int arca_store_derive_keys(struct arca_store *s)
{
    static const char salt[] = "arca-store-v1";
    ARCA_TRY(arca_hkdf(ARCA_SHA256, salt, sizeof(salt) - 1, s->dbkey, sizeof(s->dbkey),
                       "record key", 10, arca_store_write_key(s), ARCA_AEAD_KEY_LEN));
    if (s->rotating)
        return 0; /* the index key stays; readers use it meanwhile */
    return arca_hkdf(ARCA_SHA256, salt, sizeof(salt) - 1, s->idxroot, sizeof(s->idxroot),
                     "index key", 9, s->idxkey, sizeof(s->idxkey));
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
    arca_store_cache_free(s->cache);
    wcrypto_free(s->wc);
    free(s->ks_path);
    if (s->lock_fd >= 0)
        close(s->lock_fd); /* releases the flock */
    pthread_mutex_destroy(&s->wmu);
    pthread_mutex_destroy(&s->ksmu);
    pthread_mutex_destroy(&s->dmu);
    pthread_cond_destroy(&s->gdone);
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
    bool shared = arca_store_path_is_pg(opt->path);
    ARCA_ENSURE(!shared || opt->keystore_path != NULL, ARCA_ERR_INVALID_ARG,
                "store: a PostgreSQL store needs a key-store path");
    /* a connection URI may hold a password: errors name the database without it */
    const char *dbname = shared ? "the PostgreSQL database" : opt->path;
    size_t mlen = opt->member != NULL ? strlen(opt->member) : 0;
    ARCA_ENSURE(opt->member == NULL ||
                    (mlen >= 1 && mlen <= 32 &&
                     strspn(opt->member, "0123456789abcdefghijklmnopqrstuvwxyz-") == mlen),
                ARCA_ERR_INVALID_ARG, "store: member name: 1..32 of [0-9a-z-]");
    struct arca_store *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return arca_err_set(ARCA_ERR_ALLOC, "store");
    if (mlen > 0)
        memcpy(s->member, opt->member, mlen + 1);
    s->ops = shared ? &arca_store_pg_ops : &arca_store_sqlite_ops;
    s->lock_fd = -1;
    s->verify_threads = opt->verify_threads > 0 ? opt->verify_threads : 2;
    pthread_mutex_init(&s->wmu, NULL);
    pthread_mutex_init(&s->ksmu, NULL);
    pthread_mutex_init(&s->dmu, NULL);
    pthread_cond_init(&s->gdone, NULL);
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
            rc =
                e == EWOULDBLOCK
                    ? arca_err_set(ARCA_ERR_EXISTS,
                                   "store: %s is in use by another process (lock %s)", dbname, lock)
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
    unsigned readers = opt->readers ? opt->readers : 4;
    int busy_ms = opt->busy_timeout_ms > 0 ? opt->busy_timeout_ms : 5000;
    bool have_db, have_ks = file_exists(s->ks_path);
    if (shared) {
        /* a shared database exists once some arcad committed to it */
        struct arca_store_headrow h;
        ARCA_GUARD(rc,
                   s->ops->open(opt->path, opt->create, readers, busy_ms, opt->wal_frames, &s->be),
                   fail);
        ARCA_GUARD(rc, s->ops->head(s->be, false, &h), fail);
        have_db = h.commit > 0;
    } else {
        have_db = file_exists(opt->path);
    }
    bool create_db = false;
    if (!have_db && !have_ks) {
        ARCA_GUARD_ENSURE(rc, opt->create, fail, ARCA_ERR_NOT_FOUND,
                          "store: no database at %s (and no key-store at %s)", dbname, s->ks_path);
        /* key-store first: a crash before the database exists leaves commit 0, which the
         * next open completes */
        ARCA_GUARD(rc, arca_random(ks.dbkey, sizeof(ks.dbkey)), fail);
        memcpy(ks.idxroot, ks.dbkey, sizeof(ks.idxroot));
        ARCA_GUARD(rc, arca_keystore_write(s->ks_path, s->seal, &ks), fail);
        create_db = true;
    } else if (!have_ks) {
        ARCA_GUARD(rc,
                   arca_err_set(ARCA_ERR_TAMPERED,
                                "store: database %s exists but its key-store %s is missing", dbname,
                                s->ks_path),
                   fail);
    } else {
        ARCA_GUARD(rc, arca_keystore_read(s->ks_path, s->seal, &ks), fail);
        if (!have_db) {
            ARCA_GUARD_ENSURE(rc, ks.commit == 0 && opt->create, fail, ARCA_ERR_TAMPERED,
                              "store: database %s is missing but the key-store %s sealed "
                              "commit %llu",
                              dbname, s->ks_path, (unsigned long long)ks.commit);
            create_db = true;
        }
    }
    memcpy(s->dbkey, ks.dbkey, sizeof(s->dbkey));
    memcpy(s->idxroot, ks.idxroot, sizeof(s->idxroot));
    ARCA_GUARD(rc, arca_store_derive_keys(s), fail);
    if (s->be == NULL)
        ARCA_GUARD(rc,
                   s->ops->open(opt->path, create_db, readers, busy_ms, opt->wal_frames, &s->be),
                   fail);
    bool reseal = false;
    rc = store_verify_pinned(s, &ks, &reseal);
    if (rc == ARCA_ERR_TAMPERED && ks.has_prev) {
        /* a key rotation stopped before its transaction committed: still the previous key */
        memcpy(s->dbkey, ks.prev, sizeof(s->dbkey));
        ARCA_GUARD(rc, arca_store_derive_keys(s), fail);
        rc = store_verify_pinned(s, &ks, &reseal);
    }
    if (rc < 0)
        goto fail;
    if (reseal || ks.has_prev) {
        memcpy(ks.dbkey, s->dbkey, sizeof(ks.dbkey));
        ks.has_prev = false;
        ks.commit = s->commit;
        memcpy(ks.head, s->head, 32);
        ARCA_GUARD(rc, arca_keystore_write(s->ks_path, s->seal, &ks), fail);
        if (shared)
            arca_info("store", "key-store follows the shared database to commit %llu",
                      (unsigned long long)s->commit);
        else
            arca_info("store",
                      "recovered: key-store advanced to commit %llu after an interrupted "
                      "commit",
                      (unsigned long long)s->commit);
    }
    arca_wipe(&ks, sizeof(ks));
    if (opt->hook != NULL) {
        s->hook = *opt->hook;
        if (s->hook.opened != NULL)
            ARCA_GUARD(rc, s->hook.opened(s->hook.ctx, s, s->commit), fail);
    }
    /* Superseded journal entries only slow down the next open: drop them once they are the
     * large majority (tombstones and the newest entry of every key stay). */
    if (s->seq > 4 * (s->rows_at_open + 256)) {
        uint64_t removed = 0;
        ARCA_GUARD(rc, arca_store_compact(s, &removed), fail);
        if (removed > 0)
            arca_info("store", "compacted the state journal: %llu superseded entries removed",
                      (unsigned long long)removed);
    }
    if (!shared)
        ARCA_GUARD(rc, arca_store_cache_new(ARCA_STORE_CACHE_BYTES, &s->cache), fail);
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
    /* The commit number alone needs no lock: it only moves once its commit is durable, and
     * the audit log reads it for every line, which must not wait for a commit in flight. */
    if (head == NULL) {
        if (commit != NULL)
            *commit = atomic_load(&s->commit);
        return 0;
    }
    pthread_mutex_lock(&s->wmu);
    if (commit != NULL)
        *commit = s->commit;
    if (head != NULL)
        memcpy(head, s->head, ARCA_STORE_HASH_LEN);
    pthread_mutex_unlock(&s->wmu);
    return 0;
}
