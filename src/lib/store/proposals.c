/*
 * Proposals (store.h): pending governed changes (cas/cas_proposals.h), one sealed record per
 * proposal in the metadata table under the key "proposal/ID". The body is opaque here (the CAS
 * logic's encoding); the store only gives the read-modify-write its atomicity: an update runs
 * its callback inside the write transaction, so two approvals that land at once cannot lose
 * one another. Bodies may hold explicit secret values of the proposed policy: every copy the
 * store hands out is a secret buffer.
 *
 * Kept in the metadata table rather than a table of their own so that the record layout
 * (record.h) and the engine stay untouched; the key prefix keeps them apart from other
 * metadata and scans skip everything else.
 */
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "store/engine.h"

#define PROPOSAL_PREFIX "proposal/"
#define PROPOSAL_PREFIX_LEN (sizeof(PROPOSAL_PREFIX) - 1)

/* The record key of proposal id into key: ARCA_ERR_FORMAT for an id that is not 1..64 of
 * [0-9a-f]. */
static int proposal_key(char key[PROPOSAL_PREFIX_LEN + ARCA_STORE_PROPOSAL_ID_MAX + 1],
                        const char *id)
{
    ARCA_ENSURE_REF(id);
    size_t n = strlen(id);
    ARCA_ENSURE(n >= 1 && n <= ARCA_STORE_PROPOSAL_ID_MAX, ARCA_ERR_FORMAT,
                "proposal id: expected 1 to %d hex digits", ARCA_STORE_PROPOSAL_ID_MAX);
    for (size_t i = 0; i < n; i++)
        ARCA_ENSURE((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f'),
                    ARCA_ERR_FORMAT, "proposal id: expected lowercase hex digits");
    memcpy(key, PROPOSAL_PREFIX, PROPOSAL_PREFIX_LEN);
    memcpy(key + PROPOSAL_PREFIX_LEN, id, n + 1);
    return 0;
}

int arca_store_proposal_get(struct arca_store *s, const char *id, struct arca_buf *out)
{
    ARCA_ENSURE_REF(s);
    ARCA_ENSURE_REF(out);
    char key[PROPOSAL_PREFIX_LEN + ARCA_STORE_PROPOSAL_ID_MAX + 1];
    ARCA_TRY(proposal_key(key, id));
    int rc = arca_store_get_data(s, ARCA_ST_META, key, strlen(key), out);
    if (rc == ARCA_ERR_NOT_FOUND)
        rc = arca_err_set(ARCA_ERR_NOT_FOUND, "no proposal %s", id);
    return rc;
}

int arca_store_proposal_update(struct arca_store *s, const char *id, arca_store_proposal_fn fn,
                               void *arg)
{
    ARCA_ENSURE_REF(s);
    ARCA_ENSURE_REF(fn);
    char key[PROPOSAL_PREFIX_LEN + ARCA_STORE_PROPOSAL_ID_MAX + 1];
    ARCA_TRY(proposal_key(key, id));
    size_t klen = strlen(key);
    struct arca_buf plain, next;
    arca_buf_init_secret(&plain, 0);
    arca_buf_init_secret(&next, 0);
    struct arca_store_record cur, r;
    struct arca_store_tx tx;
    ARCA_TRY(arca_store_tx_begin(s, &tx));
    int rc = arca_store_tx_get(&tx, ARCA_ST_META, key, klen, &plain, &cur, NULL);
    bool present = rc == 0;
    if (rc < 0 && rc != ARCA_ERR_NOT_FOUND)
        goto fail;
    arca_err_clear();
    ARCA_GUARD(rc, fn(arg, present ? cur.data : NULL, present ? cur.data_len : 0, &next), fail);
    if (next.len == 0) { /* nothing to change */
        arca_store_tx_abort(&tx);
        rc = 0;
        goto out;
    }
    memset(&r, 0, sizeof(r));
    r.tbl = ARCA_ST_META;
    r.key = (const uint8_t *)key;
    r.key_len = klen;
    r.data = next.data;
    r.data_len = next.len;
    ARCA_GUARD(rc, arca_store_tx_put(&tx, &r), fail);
    rc = arca_store_tx_commit(&tx);
    goto out;
fail:
    arca_store_tx_abort(&tx);
out:
    arca_buf_free(&plain);
    arca_buf_free(&next);
    return rc;
}

struct scan_ctx {
    arca_store_proposal_cb cb;
    void *arg;
};

static int scan_cb(void *arg, const struct arca_store_record *r)
{
    struct scan_ctx *c = arg;
    if (r->key_len <= PROPOSAL_PREFIX_LEN ||
        r->key_len > PROPOSAL_PREFIX_LEN + ARCA_STORE_PROPOSAL_ID_MAX ||
        memcmp(r->key, PROPOSAL_PREFIX, PROPOSAL_PREFIX_LEN) != 0)
        return 0;
    char id[ARCA_STORE_PROPOSAL_ID_MAX + 1];
    size_t n = r->key_len - PROPOSAL_PREFIX_LEN;
    memcpy(id, r->key + PROPOSAL_PREFIX_LEN, n);
    id[n] = '\0';
    return c->cb(c->arg, id, r->data, r->data_len);
}

int arca_store_proposal_scan(struct arca_store *s, arca_store_proposal_cb cb, void *arg)
{
    ARCA_ENSURE_REF(s);
    ARCA_ENSURE_REF(cb);
    struct scan_ctx c = {.cb = cb, .arg = arg};
    return arca_store_scan(s, ARCA_ST_META, scan_cb, &c);
}
