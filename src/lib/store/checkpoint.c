/* Audit checkpoints (store.h): the latest (seq, signature, audit file prefix) and the history list. Keys "latest"
 * and "h/" || u64be seq; on a shared store each member's keys end in "/" || member name (the
 * audit log is per arcad). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "store/engine.h"

/* ---- checkpoints ---------------------------------------------------------------------------- */

static int cp_put(struct arca_store_tx *tx, const struct arca_store_checkpoint *cp, const void *key,
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
    r.prefix_len = cp->prefix_len;
    r.hash = cp->prefix_sha256;
    return arca_store_tx_put(tx, &r);
}

static size_t latest_key(const struct arca_store *s, char out[48])
{
    return (size_t)snprintf(out, 48, "latest%s%s", s->member[0] ? "/" : "", s->member);
}

int arca_store_checkpoint_put(struct arca_store *s, const struct arca_store_checkpoint *cp,
                              bool history)
{
    return arca_store_checkpoint_put_pair(s, cp, history ? cp : NULL);
}

int arca_store_checkpoint_put_pair(struct arca_store *s, const struct arca_store_checkpoint *cp,
                                   const struct arca_store_checkpoint *hist)
{
    ARCA_ENSURE_REF(s);
    ARCA_ENSURE_REF(cp);
    ARCA_ENSURE(cp->sig_len <= ARCA_STORE_SIG_MAX &&
                    (hist == NULL || hist->sig_len <= ARCA_STORE_SIG_MAX),
                ARCA_ERR_TOO_LARGE, "store: checkpoint signature of %zu bytes",
                hist != NULL && hist->sig_len > cp->sig_len ? hist->sig_len : cp->sig_len);
    struct arca_store_tx tx;
    ARCA_TRY(arca_store_tx_begin(s, &tx));
    char latest[48];
    size_t ll = latest_key(s, latest);
    int rc = cp_put(&tx, cp, latest, ll);
    if (rc == 0 && hist != NULL) {
        uint8_t key[10 + 33] = {'h', '/'};
        for (int i = 0; i < 8; i++)
            key[2 + i] = (uint8_t)(hist->seq >> (56 - 8 * i));
        size_t ml = strlen(s->member);
        memcpy(key + 10, s->member, ml);
        rc = cp_put(&tx, hist, key, 10 + ml);
    }
    if (rc < 0) {
        arca_store_tx_abort(&tx);
        return rc;
    }
    return arca_store_tx_commit(&tx);
}

static void cp_from(const struct arca_store_record *r, struct arca_store_checkpoint *cp)
{
    memset(cp, 0, sizeof(*cp));
    cp->seq = r->seq;
    cp->time = r->time;
    cp->sig_len = r->data_len;
    memcpy(cp->sig, r->data, r->data_len);
    cp->prefix_len = r->prefix_len;
    if (r->prefix_len > 0)
        memcpy(cp->prefix_sha256, r->hash, sizeof(cp->prefix_sha256));
}

int arca_store_checkpoint_latest(struct arca_store *s, struct arca_store_checkpoint *out)
{
    ARCA_ENSURE_REF(s);
    ARCA_ENSURE_REF(out);
    struct arca_buf plain;
    arca_buf_init_secret(&plain, 0);
    struct arca_store_record r;
    char latest[48];
    size_t ll = latest_key(s, latest);
    int rc = arca_store_get(s, ARCA_ST_CHECKPOINT, latest, ll, &plain, &r);
    if (rc == ARCA_ERR_NOT_FOUND)
        rc = arca_err_set(ARCA_ERR_NOT_FOUND, "store: no audit checkpoint yet");
    if (rc == 0)
        cp_from(&r, out);
    arca_buf_free(&plain);
    return rc;
}

struct cp_list {
    const char *member;
    struct arca_store_checkpoint *list;
    size_t count, cap;
};

static int cp_list_cb(void *arg, const struct arca_store_record *r)
{
    struct cp_list *l = arg;
    size_t ml = strlen(l->member);
    if (r->key_len != 10 + ml || r->key[0] != 'h' || memcmp(r->key + 10, l->member, ml) != 0)
        return 0;
    if (l->count == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 16;
        struct arca_store_checkpoint *n = realloc(l->list, ncap * sizeof(*n));
        if (n == NULL)
            return arca_err_set(ARCA_ERR_ALLOC, "store: checkpoints");
        l->list = n;
        l->cap = ncap;
    }
    cp_from(r, &l->list[l->count++]);
    return 0;
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
    struct cp_list l = {.member = s->member, .list = NULL};
    int rc = arca_store_scan(s, ARCA_ST_CHECKPOINT, cp_list_cb, &l);
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
