/*
 * Database key rotation (store.h arca_store_rotate_key): every live record is rewritten under a
 * new random database key in one write transaction, as ordinary new versions (so the state chain
 * and the journal treat them like any write). The index key stays (it derives from idxroot), so
 * row keys and tombstones of taken single-use values keep their meaning.
 *
 * Crash safety, in order:
 *   1. the transaction writes every record under the new key (not committed yet);
 *   2. the key-store is rewritten as {dbkey = new, prev = old, commit C, head H} (C, H: before);
 *   3. SQLite commits (commit C + 1);
 *   4. the key-store is rewritten as {dbkey = new, commit C + 1, new head} (arca_store_tx_commit).
 * A crash before 2 leaves the old pair. Between 2 and 3 the records are still under prev: open
 * finds that the new key does not open them, uses prev and reseals. Between 3 and 4 the database
 * is one commit ahead, which open accepts as after any interrupted commit; the new key opens it.
 * Records are held in memory (secret buffers) for the transaction: memory grows with the store.
 */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "crypto/crypto.h"
#include "store/engine.h"
#include "store/keystore.h"

struct saved {
    struct arca_buf *v; /* encoded records, each a secret buffer */
    size_t n, cap;
};

static int save_cb(void *arg, const struct arca_store_record *rec)
{
    struct saved *sv = arg;
    if (sv->n == sv->cap) {
        size_t ncap = sv->cap ? sv->cap * 2 : 64;
        struct arca_buf *nv = realloc(sv->v, ncap * sizeof(*nv));
        if (nv == NULL)
            return arca_err_set(ARCA_ERR_ALLOC, "store: key rotation");
        sv->v = nv;
        sv->cap = ncap;
    }
    arca_buf_init_secret(&sv->v[sv->n], 0);
    int rc = arca_store_record_encode(rec, &sv->v[sv->n]);
    if (rc < 0) {
        arca_buf_free(&sv->v[sv->n]);
        return rc;
    }
    sv->n++;
    return 0;
}

static void saved_free(struct saved *sv)
{
    for (size_t i = 0; i < sv->n; i++)
        arca_buf_free(&sv->v[i]);
    free(sv->v);
}

uint8_t *arca_store_write_key(struct arca_store *s)
{
    unsigned k = atomic_load(&s->rk) & 1u;
    return s->reckeys[s->rotating ? k ^ 1u : k];
}

void arca_store_rotation_end(struct arca_store *s, bool committed)
{
    if (!s->rotating)
        return;
    unsigned k = atomic_load(&s->rk) & 1u;
    if (committed)
        atomic_store(&s->rk, k ^ 1u); /* readers switch to the new record key */
    else
        memcpy(s->dbkey, s->prev_dbkey, sizeof(s->dbkey)); /* reckeys[k] is still the old one */
    arca_wipe(s->prev_dbkey, sizeof(s->prev_dbkey));
    s->rotating = false;
}

int arca_store_rotate_key(struct arca_store *s, uint64_t *records)
{
    ARCA_ENSURE_REF(s);
    /* the other arcads on a shared database hold the old key in their own key-stores */
    ARCA_ENSURE(!s->ops->shared, ARCA_ERR_UNSUPPORTED,
                "store: key rotation is not supported on a shared (PostgreSQL) store");
    struct arca_store_tx tx;
    ARCA_TRY(arca_store_tx_begin_alone(s, &tx));
    struct saved sv;
    memset(&sv, 0, sizeof(sv));
    struct arca_keystore ks;
    memset(&ks, 0, sizeof(ks));
    int rc = 0;
    /* the writer mutex is held and nothing is written yet: the readers see the current state */
    for (int t = ARCA_ST_FIRST; t <= ARCA_ST_LAST && rc == 0; t++)
        rc = arca_store_scan(s, t, save_cb, &sv);
    if (rc < 0)
        goto fail;
    memcpy(s->prev_dbkey, s->dbkey, sizeof(s->dbkey));
    s->rotating = true;
    ARCA_GUARD(rc, arca_random(s->dbkey, sizeof(s->dbkey)), fail);
    ARCA_GUARD(rc, arca_store_derive_keys(s), fail);
    for (size_t i = 0; i < sv.n; i++) {
        struct arca_store_record r;
        ARCA_GUARD(rc, arca_store_record_decode(sv.v[i].data, sv.v[i].len, &r), fail);
        ARCA_GUARD(rc, arca_store_tx_put(&tx, &r), fail);
    }
    memcpy(ks.dbkey, s->dbkey, sizeof(ks.dbkey));
    memcpy(ks.idxroot, s->idxroot, sizeof(ks.idxroot));
    memcpy(ks.prev, s->prev_dbkey, sizeof(ks.prev));
    ks.has_prev = true;
    ks.commit = s->commit;
    memcpy(ks.head, s->head, sizeof(ks.head));
    ARCA_GUARD(rc, arca_keystore_write(s->ks_path, s->seal, &ks), fail);
    arca_wipe(&ks, sizeof(ks));
    size_t n = sv.n;
    saved_free(&sv);
    ARCA_TRY(arca_store_tx_commit(&tx));
    arca_info("store", "database key rotated: %zu records re-encrypted", n);
    if (records != NULL)
        *records = n;
    return 0;
fail:
    arca_wipe(&ks, sizeof(ks));
    saved_free(&sv);
    arca_store_tx_abort(&tx);
    return rc;
}
