/* Single-use values (store.h): challenges and OTP replay, remembered by their tombstones. */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "store/engine.h"

/* ---- single-use values ---------------------------------------------------------------------- */

static int once_key(const char *ns, const void *id, size_t idlen, struct arca_buf *key)
{
    ARCA_ENSURE(ns != NULL && ns[0] != '\0', ARCA_ERR_INVALID_ARG, "store: once: empty namespace");
    ARCA_ENSURE(id != NULL && idlen > 0, ARCA_ERR_INVALID_ARG, "store: once: empty value");
    ARCA_TRY(arca_buf_put_str(key, ns));
    ARCA_TRY(arca_buf_put_u8(key, 0));
    return arca_buf_put(key, id, idlen);
}

/* One put or take: the value's key, its current record (if any) and the write transaction. */
struct once_op {
    struct arca_buf key, plain; /* secret: the key holds the value itself */
    struct arca_store_record r;
    bool deleted;
    bool locked; /* tx is open: once_end aborts it */
    struct arca_store_tx tx;
};

/* Builds the key, opens the write transaction and reads the current record. Returns that read's
 * result once op->locked is set, an earlier failure otherwise; once_end always releases op. */
static int once_begin(struct arca_store *s, const char *ns, const void *id, size_t idlen,
                      struct once_op *op)
{
    memset(op, 0, sizeof(*op));
    arca_buf_init_secret(&op->key, ARCA_STORE_NAME_MAX);
    arca_buf_init_secret(&op->plain, 0);
    ARCA_TRY(once_key(ns, id, idlen, &op->key));
    ARCA_TRY(arca_store_tx_begin(s, &op->tx));
    op->locked = true;
    return arca_store_tx_get(&op->tx, ARCA_ST_ONCE, op->key.data, op->key.len, &op->plain, &op->r,
                             &op->deleted);
}

/* Commits op's transaction (then nothing is left for once_end to abort). */
static int once_commit(struct once_op *op)
{
    op->locked = false;
    return arca_store_tx_commit(&op->tx);
}

static void once_end(struct once_op *op)
{
    if (op->locked)
        arca_store_tx_abort(&op->tx);
    arca_buf_free(&op->key);
    arca_buf_free(&op->plain);
}

int arca_store_once_put(struct arca_store *s, const char *ns, const void *id, size_t idlen,
                        int64_t expires_at, const void *data, size_t datalen)
{
    ARCA_ENSURE_REF(s);
    ARCA_ENSURE(datalen <= ARCA_STORE_ONCE_DATA_MAX, ARCA_ERR_TOO_LARGE,
                "store: once data of %zu bytes", datalen);
    struct once_op op;
    int rc = once_begin(s, ns, id, idlen, &op);
    if (op.locked && (rc == 0 || op.deleted)) {
        rc = arca_err_set(ARCA_ERR_REPLAY, "store: %s value was used before", ns);
    } else if (op.locked && rc == ARCA_ERR_NOT_FOUND) {
        struct arca_store_record r;
        memset(&r, 0, sizeof(r));
        r.tbl = ARCA_ST_ONCE;
        r.key = op.key.data;
        r.key_len = op.key.len;
        r.time = expires_at;
        r.data = data;
        r.data_len = datalen;
        rc = arca_store_tx_put(&op.tx, &r);
        if (rc == 0)
            rc = once_commit(&op);
    }
    once_end(&op);
    return rc;
}

int arca_store_once_take(struct arca_store *s, const char *ns, const void *id, size_t idlen,
                         int64_t now, struct arca_buf *out)
{
    ARCA_ENSURE_REF(s);
    struct once_op op;
    int rc = once_begin(s, ns, id, idlen, &op);
    if (op.locked && rc == ARCA_ERR_NOT_FOUND) {
        rc = op.deleted ? arca_err_set(ARCA_ERR_REPLAY, "store: %s value was used before", ns)
                        : arca_err_set(ARCA_ERR_NOT_FOUND, "store: unknown %s value", ns);
    } else if (op.locked && rc == 0) {
        bool expired = now >= op.r.time;
        if (!expired && out != NULL)
            rc = arca_buf_put(out, op.r.data, op.r.data_len);
        if (rc == 0) {
            rc = arca_store_tx_del(&op.tx, ARCA_ST_ONCE, op.key.data, op.key.len);
            if (rc < 0 && !expired && out != NULL)
                arca_buf_reset(out);
        }
        if (rc == 0)
            rc = once_commit(&op);
        if (rc == 0 && expired)
            rc = arca_err_set(ARCA_ERR_EXPIRED, "store: %s value expired", ns);
    }
    once_end(&op);
    return rc;
}

struct purge_ctx {
    int64_t now;
    struct arca_buf keys; /* u32 len + key, for each expired value (secret: keys hold values) */
};

static int purge_cb(void *arg, const struct arca_store_record *r)
{
    struct purge_ctx *p = arg;
    if (p->now < r->time)
        return 0;
    return arca_buf_put_lv(&p->keys, r->key, r->key_len);
}

int arca_store_once_purge(struct arca_store *s, int64_t now, size_t *purged)
{
    ARCA_ENSURE_REF(s);
    struct purge_ctx p = {.now = now};
    arca_buf_init_secret(&p.keys, 0);
    size_t n = 0;
    int rc = arca_store_scan(s, ARCA_ST_ONCE, purge_cb, &p);
    if (rc == 0 && p.keys.len > 0) {
        struct arca_store_tx tx;
        rc = arca_store_tx_begin(s, &tx);
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
                    rc = arca_store_tx_del(&tx, ARCA_ST_ONCE, k, len);
                    if (rc == 0)
                        n++;
                    else if (rc == ARCA_ERR_NOT_FOUND) /* taken meanwhile */
                        rc = 0;
                }
            }
            if (rc == 0)
                rc = arca_store_tx_commit(&tx);
            else
                arca_store_tx_abort(&tx);
        }
    }
    arca_buf_free(&p.keys);
    if (rc == 0 && purged != NULL)
        *purged = n;
    return rc;
}
