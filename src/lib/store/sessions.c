/*
 * Sessions (store.h): immutable session versions keyed by their hash, their secrets blobs, and
 * the active pointer per session name, over the engine (engine.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/enc.h"
#include "base/err.h"
#include "store/engine.h"

/* ---- sessions ------------------------------------------------------------------------------- */

/*
 * Every string and byte array below is a copy of decrypted record plaintext: each is allocated
 * by dup_plain (one byte more than its length, NUL-terminated) and released by wipe_free with
 * that length, so no copy of a session's YAML, model or name outlives its struct in memory.
 */
static void *dup_plain(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s == NULL)
        return NULL;
    if (n > 0)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static void wipe_free(void *p, size_t n)
{
    if (p != NULL)
        arca_wipe_free(p, n + 1);
}

void arca_store_session_free(struct arca_store_session *rec)
{
    if (rec == NULL)
        return;
    arca_wipe_free_str(rec->name);
    wipe_free(rec->yaml, rec->yaml_len);
    wipe_free(rec->model, rec->model_len);
    arca_wipe(rec, sizeof(*rec));
    free(rec);
}

void arca_store_active_clear(struct arca_store_active *a)
{
    if (a == NULL)
        return;
    arca_wipe_free_str(a->name);
    memset(a, 0, sizeof(*a));
}

void arca_store_active_list_free(struct arca_store_active *list, size_t count)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        arca_wipe_free_str(list[i].name);
    free(list);
}

/* The meta key that counts the sessions creator created. */
static void created_key(char out[64 + 18], const uint8_t creator[ARCA_STORE_HASH_LEN])
{
    memcpy(out, "sessions-created/", 17);
    arca_hex_fmt(out + 17, creator, ARCA_STORE_HASH_LEN);
}

static uint64_t get_u64be(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static void put_u64be(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

/* Counts a create against rec->creator inside tx; ARCA_ERR_LIMIT at max (0: none). */
static int count_create(struct arca_store_tx *tx, const struct arca_store_session *rec,
                        uint64_t max, struct arca_buf *plain)
{
    char key[64 + 18];
    created_key(key, rec->creator);
    struct arca_store_record cur, r;
    uint64_t n = 0;
    arca_buf_reset(plain);
    int rc = arca_store_tx_get(tx, ARCA_ST_META, key, strlen(key), plain, &cur, NULL);
    if (rc == 0 && cur.data_len == 8)
        n = get_u64be(cur.data);
    else if (rc == 0)
        return arca_err_set(ARCA_ERR_TAMPERED, "store: sessions-created count is malformed");
    else if (rc != ARCA_ERR_NOT_FOUND)
        return rc;
    ARCA_ENSURE(max == 0 || n < max, ARCA_ERR_LIMIT,
                "quota: this client key created %llu sessions already, the limit is "
                "--max-sessions-per-client %llu",
                (unsigned long long)n, (unsigned long long)max);
    uint8_t v[8];
    put_u64be(v, n + 1);
    memset(&r, 0, sizeof(r));
    r.tbl = ARCA_ST_META;
    r.key = (const uint8_t *)key;
    r.key_len = strlen(key);
    r.data = v;
    r.data_len = sizeof(v);
    return arca_store_tx_put(tx, &r);
}

/* Index entry body: hash[32] | u64 version | creator[32] | readers (the rest). */
#define INDEX_FIXED (ARCA_STORE_HASH_LEN + 8 + ARCA_STORE_HASH_LEN)

static int put_index(struct arca_store_tx *tx, const struct arca_store_session *rec,
                     const struct arca_store_commit_extra *x)
{
    struct arca_buf b;
    arca_buf_init(&b, 0);
    uint8_t ver[8];
    put_u64be(ver, rec->version);
    int rc = arca_buf_put(&b, rec->hash, ARCA_STORE_HASH_LEN);
    if (rc == 0)
        rc = arca_buf_put(&b, ver, sizeof(ver));
    if (rc == 0)
        rc = arca_buf_put(&b, rec->creator, ARCA_STORE_HASH_LEN);
    if (rc == 0 && x != NULL && x->readers_len > 0)
        rc = arca_buf_put(&b, x->readers, x->readers_len);
    if (rc == 0) {
        struct arca_store_record r;
        memset(&r, 0, sizeof(r));
        r.tbl = ARCA_ST_INDEX;
        r.key = (const uint8_t *)rec->name;
        r.key_len = strlen(rec->name);
        r.data = b.data;
        r.data_len = b.len;
        rc = arca_store_tx_put(tx, &r);
    }
    arca_buf_free(&b);
    return rc;
}

int arca_store_session_commit(struct arca_store *s, const struct arca_store_session *rec,
                              const void *secrets, size_t secrets_len)
{
    return arca_store_session_commit_ex(s, rec, secrets, secrets_len, NULL);
}

int arca_store_session_commit_ex(struct arca_store *s, const struct arca_store_session *rec,
                                 const void *secrets, size_t secrets_len,
                                 const struct arca_store_commit_extra *extra)
{
    ARCA_ENSURE_REF(s);
    ARCA_ENSURE_REF(rec);
    ARCA_TRY(arca_store_check_name(rec->name));
    ARCA_ENSURE(rec->yaml != NULL || rec->yaml_len == 0, ARCA_ERR_INVALID_ARG,
                "store: session without yaml");
    size_t name_len = strlen(rec->name);
    struct arca_store_tx tx;
    ARCA_TRY(arca_store_tx_begin(s, &tx));
    struct arca_buf plain;
    arca_buf_init_secret(&plain, 0);
    struct arca_store_record cur, r;
    bool deleted;
    int rc =
        arca_store_tx_get(&tx, ARCA_ST_SESSION, rec->hash, ARCA_STORE_HASH_LEN, &plain, &cur, NULL);
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
    rc = arca_store_tx_get(&tx, ARCA_ST_ACTIVE, rec->name, name_len, &plain, &cur, &deleted);
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
    ARCA_GUARD(rc, arca_store_tx_put(&tx, &r), fail);
    if (secrets != NULL) {
        memset(&r, 0, sizeof(r));
        r.tbl = ARCA_ST_SECRETS;
        r.key = rec->hash;
        r.key_len = ARCA_STORE_HASH_LEN;
        r.data = secrets;
        r.data_len = secrets_len;
        ARCA_GUARD(rc, arca_store_tx_put(&tx, &r), fail);
    }
    memset(&r, 0, sizeof(r));
    r.tbl = ARCA_ST_ACTIVE;
    r.key = (const uint8_t *)rec->name;
    r.key_len = name_len;
    r.name = (const uint8_t *)rec->name;
    r.name_len = name_len;
    r.hash = rec->hash;
    r.version = rec->version;
    ARCA_GUARD(rc, arca_store_tx_put(&tx, &r), fail);
    ARCA_GUARD(rc, put_index(&tx, rec, extra), fail);
    if (extra != NULL && extra->approvals != NULL) {
        char akey[ARCA_STORE_APPROVALS_KEY_LEN];
        arca_store_approvals_key(akey, rec->hash);
        memset(&r, 0, sizeof(r));
        r.tbl = ARCA_ST_META;
        r.key = (const uint8_t *)akey;
        r.key_len = strlen(akey);
        r.data = extra->approvals;
        r.data_len = extra->approvals_len;
        ARCA_GUARD(rc, arca_store_tx_put(&tx, &r), fail);
    }
    if (!rec->has_predecessor)
        ARCA_GUARD(rc, count_create(&tx, rec, extra != NULL ? extra->max_created : 0, &plain),
                   fail);
    arca_buf_free(&plain);
    return arca_store_tx_commit(&tx);
fail:
    arca_buf_free(&plain);
    arca_store_tx_abort(&tx);
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
    int rc = arca_store_get(s, ARCA_ST_SESSION, hash, ARCA_STORE_HASH_LEN, &plain, &r);
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
    rec->name = dup_plain(r.name, r.name_len);
    ARCA_GUARD_ENSURE(rc, rec->name != NULL, out, ARCA_ERR_ALLOC, "store: session");
    rec->yaml = dup_plain(r.data, r.data_len);
    ARCA_GUARD_ENSURE(rc, rec->yaml != NULL, out, ARCA_ERR_ALLOC, "store: session");
    rec->yaml_len = r.data_len;
    if (r.model_len > 0) {
        rec->model = dup_plain(r.model, r.model_len);
        ARCA_GUARD_ENSURE(rc, rec->model != NULL, out, ARCA_ERR_ALLOC, "store: session");
        rec->model_len = r.model_len;
    }
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
    ARCA_TRY(arca_store_check_name(name));
    struct arca_buf plain;
    arca_buf_init_secret(&plain, 0);
    struct arca_store_record r;
    int rc = arca_store_get(s, ARCA_ST_ACTIVE, name, strlen(name), &plain, &r);
    if (rc == ARCA_ERR_NOT_FOUND)
        rc = arca_err_set(ARCA_ERR_NOT_FOUND, "store: no session '%s'", name);
    if (rc == 0) {
        char *n = dup_plain(r.name, r.name_len);
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
    const char *prefix;
    size_t plen;
    struct arca_store_active *list;
    size_t count, cap;
};

static int list_cb(void *arg, const struct arca_store_record *r)
{
    struct list_ctx *l = arg;
    if (r->name_len < l->plen || memcmp(r->name, l->prefix, l->plen) != 0)
        return 0;
    if (l->count == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 16;
        struct arca_store_active *n = realloc(l->list, ncap * sizeof(*n));
        if (n == NULL)
            return arca_err_set(ARCA_ERR_ALLOC, "store: list");
        l->list = n;
        l->cap = ncap;
    }
    struct arca_store_active *a = &l->list[l->count];
    a->name = dup_plain(r->name, r->name_len);
    if (a->name == NULL)
        return arca_err_set(ARCA_ERR_ALLOC, "store: list");
    memcpy(a->hash, r->hash, ARCA_STORE_HASH_LEN);
    a->version = r->version;
    l->count++;
    return 0;
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
    struct list_ctx l = {.prefix = prefix ? prefix : "", .plen = prefix ? strlen(prefix) : 0};
    int rc = arca_store_scan(s, ARCA_ST_ACTIVE, list_cb, &l);
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
    int rc = arca_store_get_data(s, ARCA_ST_SECRETS, hash, ARCA_STORE_HASH_LEN, out);
    if (rc == ARCA_ERR_NOT_FOUND)
        rc = arca_err_set(ARCA_ERR_NOT_FOUND, "store: no secrets stored for that version");
    return rc;
}

int arca_store_sessions_created(struct arca_store *s, const uint8_t creator[ARCA_STORE_HASH_LEN],
                                uint64_t *n)
{
    ARCA_ENSURE_REF(s);
    ARCA_ENSURE_REF(creator);
    ARCA_ENSURE_REF(n);
    char key[64 + 18];
    created_key(key, creator);
    struct arca_buf v;
    arca_buf_init(&v, 0);
    int rc = arca_store_get_data(s, ARCA_ST_META, key, strlen(key), &v);
    *n = 0;
    if (rc == ARCA_ERR_NOT_FOUND)
        rc = 0;
    else if (rc == 0 && v.len != 8)
        rc = arca_err_set(ARCA_ERR_TAMPERED, "store: sessions-created count is malformed");
    else if (rc == 0)
        *n = get_u64be(v.data);
    arca_buf_free(&v);
    return rc;
}

/* ---- listing -------------------------------------------------------------------------------- */

void arca_store_listing_free(struct arca_store_listing *list, size_t count)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < count; i++) {
        arca_wipe_free_str(list[i].name);
        free(list[i].readers);
    }
    free(list);
}

/* The index entries of a scan, before they are matched with the active pointers. */
struct index_ctx {
    struct arca_store_listing *v;
    size_t count, cap;
};

static int index_cb(void *arg, const struct arca_store_record *r)
{
    struct index_ctx *l = arg;
    if (r->data_len < INDEX_FIXED)
        return arca_err_set(ARCA_ERR_TAMPERED, "store: index entry of %zu bytes", r->data_len);
    if (l->count == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 16;
        struct arca_store_listing *n = realloc(l->v, ncap * sizeof(*n));
        if (n == NULL)
            return arca_err_set(ARCA_ERR_ALLOC, "store: index");
        l->v = n;
        l->cap = ncap;
    }
    struct arca_store_listing *e = &l->v[l->count];
    memset(e, 0, sizeof(*e));
    e->name = dup_plain(r->key, r->key_len);
    if (e->name == NULL)
        return arca_err_set(ARCA_ERR_ALLOC, "store: index");
    l->count++;
    memcpy(e->hash, r->data, ARCA_STORE_HASH_LEN);
    e->version = get_u64be(r->data + ARCA_STORE_HASH_LEN);
    memcpy(e->creator, r->data + ARCA_STORE_HASH_LEN + 8, ARCA_STORE_HASH_LEN);
    e->readers_len = r->data_len - INDEX_FIXED;
    if (e->readers_len > 0) {
        e->readers = malloc(e->readers_len);
        if (e->readers == NULL)
            return arca_err_set(ARCA_ERR_ALLOC, "store: index");
        memcpy(e->readers, r->data + INDEX_FIXED, e->readers_len);
    }
    e->indexed = true;
    return 0;
}

static int listing_cmp(const void *a, const void *b)
{
    return strcmp(((const struct arca_store_listing *)a)->name,
                  ((const struct arca_store_listing *)b)->name);
}

int arca_store_listing_get(struct arca_store *s, const char *prefix, const char *after,
                           struct arca_store_listing **list, size_t *count)
{
    ARCA_ENSURE_REF(list);
    ARCA_ENSURE_REF(count);
    *list = NULL;
    *count = 0;
    struct arca_store_active *act = NULL;
    size_t nact = 0;
    struct index_ctx ix = {0};
    struct arca_store_listing *out = NULL;
    size_t n = 0;
    int rc = arca_store_active_list(s, prefix, &act, &nact);
    if (rc == 0)
        rc = arca_store_scan(s, ARCA_ST_INDEX, index_cb, &ix);
    if (rc < 0)
        goto done;
    if (ix.count > 1)
        qsort(ix.v, ix.count, sizeof(*ix.v), listing_cmp);
    out = nact > 0 ? calloc(nact, sizeof(*out)) : NULL;
    ARCA_GUARD_ENSURE(rc, nact == 0 || out != NULL, done, ARCA_ERR_ALLOC, "store: listing");
    for (size_t i = 0; i < nact; i++) {
        if (after != NULL && strcmp(act[i].name, after) <= 0)
            continue;
        struct arca_store_listing key = {.name = act[i].name};
        struct arca_store_listing *e =
            ix.count > 0 ? bsearch(&key, ix.v, ix.count, sizeof(*ix.v), listing_cmp) : NULL;
        struct arca_store_listing *o = &out[n++];
        o->name = act[i].name;
        act[i].name = NULL;
        memcpy(o->hash, act[i].hash, ARCA_STORE_HASH_LEN);
        o->version = act[i].version;
        /* An entry of another hash would be a write the index missed: decide from the
         * version itself rather than trust it. */
        if (e != NULL && arca_memeq(e->hash, o->hash, ARCA_STORE_HASH_LEN)) {
            o->indexed = true;
            memcpy(o->creator, e->creator, ARCA_STORE_HASH_LEN);
            o->readers = e->readers;
            o->readers_len = e->readers_len;
            e->readers = NULL;
            e->readers_len = 0;
        }
    }
    *list = n > 0 ? out : NULL;
    *count = n;
    if (n > 0)
        out = NULL;
done:
    arca_store_listing_free(out, 0);
    arca_store_listing_free(ix.v, ix.count);
    arca_store_active_list_free(act, nact);
    return rc;
}
