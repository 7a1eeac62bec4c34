/*
 * Session listing (cas/cas.h) from the store's listing index: who may list a session is
 * encoded when its version is committed (cas_readers_encode), so a listing opens only the
 * small active and index records, never a session version, and pages through the names.
 */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "cas/cas_internal.h"
#include "policy/session.h"

#define READERS_OTHER 1u    /* a key that is neither the creator nor named by the rule */
#define READERS_NO_KEY 2u   /* a client without a certificate */
#define READERS_ENTRY 33    /* key id | u8 allowed */
#define READERS_MAX_KEYS 64 /* more named keys than this: no index readers (decided slowly) */

struct keyset {
    uint8_t k[READERS_MAX_KEYS + 1][32];
    size_t n;
    bool overflow;
};

static void keyset_add(struct keyset *ks, const uint8_t id[32])
{
    for (size_t i = 0; i < ks->n; i++)
        if (memcmp(ks->k[i], id, 32) == 0)
            return;
    if (ks->n == READERS_MAX_KEYS + 1) {
        ks->overflow = true;
        return;
    }
    memcpy(ks->k[ks->n++], id, 32);
}

/* Every key id the rule compares a client's key with (signers never match a client alone). */
static void collect_keys(const struct arca_ap_node *nodes, size_t n, struct keyset *ks)
{
    for (size_t i = 0; i < n; i++) {
        if (nodes[i].kind == ARCA_AP_CERT || nodes[i].kind == ARCA_AP_KEYHASH)
            keyset_add(ks, nodes[i].key_id);
        collect_keys(nodes[i].children, nodes[i].n_children, ks);
    }
}

static bool keyset_has(const struct keyset *ks, const uint8_t id[32])
{
    for (size_t i = 0; i < ks->n; i++)
        if (memcmp(ks->k[i], id, 32) == 0)
            return true;
    return false;
}

int cas_readers_encode(const struct arca_session *model, const uint8_t creator[32],
                       struct arca_buf *readers)
{
    const struct arca_ap_rule *rule = arca_access_rule(&model->access, ARCA_ACCESS_LIST_SESSIONS);
    struct keyset *ks = calloc(1, sizeof(*ks));
    ARCA_ENSURE(ks != NULL, ARCA_ERR_ALLOC, "cas: out of memory");
    keyset_add(ks, creator);
    collect_keys(rule->entries, rule->n_entries, ks);
    int rc = 0;
    if (ks->overflow)
        goto out; /* no readers: listing decides from the version */
    uint8_t other[32] = {0};
    for (uint32_t c = 1; keyset_has(ks, other); c++)
        memcpy(other, &c, sizeof(c));
    bool a_other = false, a_none = false;
    ARCA_GUARD(rc, cas_check_access(model, creator, other, ARCA_ACCESS_LIST_SESSIONS, &a_other),
               out);
    ARCA_GUARD(rc, cas_check_access(model, creator, NULL, ARCA_ACCESS_LIST_SESSIONS, &a_none), out);
    ARCA_GUARD(rc,
               arca_buf_put_u8(readers, (uint8_t)((a_other ? READERS_OTHER : 0) |
                                                  (a_none ? READERS_NO_KEY : 0))),
               out);
    for (size_t i = 0; i < ks->n; i++) {
        bool a = false;
        ARCA_GUARD(rc, cas_check_access(model, creator, ks->k[i], ARCA_ACCESS_LIST_SESSIONS, &a),
                   out);
        ARCA_GUARD(rc, arca_buf_put(readers, ks->k[i], 32), out);
        ARCA_GUARD(rc, arca_buf_put_u8(readers, a ? 1 : 0), out);
    }
out:
    free(ks);
    return rc;
}

/* Decides from index readers r[n]: 1 listable, 0 not, -1 the entry cannot say. */
static int readers_decide(const uint8_t *r, size_t n, const uint8_t *client)
{
    if (n == 0 || (n - 1) % READERS_ENTRY != 0)
        return -1;
    if (client == NULL)
        return (r[0] & READERS_NO_KEY) != 0;
    for (size_t off = 1; off < n; off += READERS_ENTRY)
        if (memcmp(r + off, client, 32) == 0)
            return r[off + 32] != 0;
    return (r[0] & READERS_OTHER) != 0;
}

/* The slow way, for an entry without index readers: open the version and decide. A version
 * that cannot be decided is not listed. */
static bool listable_slow(const struct arca_cas *cas, const uint8_t *client,
                          const struct arca_store_listing *e)
{
    struct arca_store_session *rec = NULL;
    struct arca_cached_session *model = NULL;
    bool allowed = false;
    if (arca_store_session_get(cas->store, e->hash, &rec) == 0 &&
        cas_load_model(cas, rec, &model) == 0 &&
        cas_check_access(arca_cached_session_model(model), rec->creator, client,
                         ARCA_ACCESS_LIST_SESSIONS, &allowed) < 0)
        allowed = false;
    arca_err_clear();
    arca_cached_session_put(model);
    arca_store_session_free(rec);
    return allowed;
}

static bool listable(const struct arca_cas *cas, const uint8_t *client,
                     const struct arca_store_listing *e)
{
    int d = e->indexed ? readers_decide(e->readers, e->readers_len, client) : -1;
    return d < 0 ? listable_slow(cas, client, e) : d == 1;
}

int arca_cas_session_list(const struct arca_cas *cas, const uint8_t *client, const char *prefix,
                          const char *after, size_t limit, struct arca_api_versions *out,
                          char **next)
{
    ARCA_ENSURE_REF(cas);
    ARCA_ENSURE_REF(out);
    memset(out, 0, sizeof(*out));
    if (next != NULL)
        *next = NULL;
    if (limit == 0)
        limit = ARCA_CAS_LIST_DEFAULT;
    ARCA_ENSURE(limit <= ARCA_CAS_LIST_MAX, ARCA_ERR_FORMAT,
                "query limit: at most %d sessions per page", ARCA_CAS_LIST_MAX);
    struct arca_store_listing *list = NULL;
    size_t n = 0;
    ARCA_TRY(arca_store_listing_get(cas->store, prefix, after, &list, &n));
    int rc = 0;
    bool more = false;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (!listable(cas, client, &list[i]))
            continue;
        if (out->n == limit) {
            more = true;
            break;
        }
        struct arca_api_version v;
        memset(&v, 0, sizeof(v));
        v.name = strdup(list[i].name);
        memcpy(v.hash, list[i].hash, sizeof(v.hash));
        v.version = list[i].version;
        rc = v.name != NULL ? arca_api_versions_add(out, &v)
                            : arca_err_set(ARCA_ERR_ALLOC, "cas: out of memory");
        arca_api_version_clear(&v);
    }
    if (rc == 0 && more && next != NULL) {
        *next = strdup(out->v[out->n - 1].name);
        if (*next == NULL)
            rc = arca_err_set(ARCA_ERR_ALLOC, "cas: out of memory");
    }
    arca_store_listing_free(list, n);
    if (rc < 0)
        arca_api_versions_clear(out);
    return rc;
}
