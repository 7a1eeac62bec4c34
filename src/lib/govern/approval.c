/* Approval messages, their verification and explained rule evaluation; see approval.h. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "govern/approval.h"

/* Session names are bounded far below this by the loader; the bound keeps lv() exact. */
#define NAME_MAX_BYTES 4096
/* Explanations stop growing here (the error detail is shorter anyway). */
#define WHY_SOFT_MAX 1024

int arca_approval_message(const struct arca_approval_change *c, uint8_t out[ARCA_APPROVAL_MSG_LEN])
{
    ARCA_ENSURE_REF(c);
    ARCA_ENSURE_REF(c->cas_key);
    ARCA_ENSURE_REF(c->session_name);
    ARCA_ENSURE_REF(c->new_hash);
    ARCA_ENSURE_REF(out);
    size_t nlen = strnlen(c->session_name, NAME_MAX_BYTES + 1);
    ARCA_ENSURE(nlen > 0 && nlen <= NAME_MAX_BYTES, ARCA_ERR_FORMAT,
                "approval: the session name is empty or longer than %d bytes", NAME_MAX_BYTES);
    struct arca_buf m;
    arca_buf_init(&m, 0);
    static const char domain[] = ARCA_APPROVAL_DOMAIN;
    int rc = arca_buf_put_lv(&m, domain, sizeof(domain) - 1);
    if (rc == 0)
        rc = arca_buf_put_lv(&m, c->cas_key, 32);
    if (rc == 0)
        rc = arca_buf_put_lv(&m, c->session_name, nlen);
    if (rc == 0)
        rc = arca_buf_put_lv(&m, c->predecessor, c->predecessor != NULL ? 32 : 0);
    if (rc == 0)
        rc = arca_buf_put_lv(&m, c->new_hash, 32);
    uint8_t d[ARCA_APPROVAL_MSG_LEN];
    if (rc == 0)
        rc = arca_sha256(m.data, m.len, d);
    if (rc == 0)
        memcpy(out, d, sizeof(d));
    arca_buf_free(&m);
    return rc;
}

int arca_approval_alg(enum arca_key_type t, enum arca_hash_alg *alg)
{
    ARCA_ENSURE_REF(alg);
    switch (t) {
    case ARCA_KEY_ED25519:
    case ARCA_KEY_P256:
        *alg = ARCA_SHA256;
        return 0;
    case ARCA_KEY_P384:
        *alg = ARCA_SHA384;
        return 0;
    default:
        ARCA_BAIL(ARCA_ERR_UNSUPPORTED,
                  "a %s key cannot approve (use Ed25519, ECDSA P-256 or P-384)",
                  arca_key_type_name(t));
    }
}

int arca_approval_sign(const struct arca_key *k, const uint8_t msg[ARCA_APPROVAL_MSG_LEN],
                       struct arca_buf *sig)
{
    ARCA_ENSURE_REF(k);
    ARCA_ENSURE_REF(msg);
    enum arca_hash_alg alg = ARCA_SHA256;
    ARCA_TRY(arca_approval_alg(arca_key_type(k), &alg));
    return arca_sign(k, alg, msg, ARCA_APPROVAL_MSG_LEN, sig);
}

static bool looks_pem(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    return n - i >= 10 && memcmp(p + i, "-----BEGIN", 10) == 0;
}

int arca_approval_signer_key(const void *p, size_t n, struct arca_key **out)
{
    ARCA_ENSURE_REF(p);
    ARCA_ENSURE_REF(out);
    struct arca_key *k = NULL;
    int rc = looks_pem(p, n) ? arca_key_from_pem(p, n, &k) : arca_key_from_der(p, n, &k);
    if (rc < 0)
        return arca_err_wrap(ARCA_ERR_FORMAT, "signer key is not an SPKI PEM or DER public key");
    enum arca_hash_alg alg = ARCA_SHA256;
    if (arca_key_has_private(k))
        rc = arca_err_set(ARCA_ERR_FORMAT, "signer key is a private key; give the public key");
    else
        rc = arca_approval_alg(arca_key_type(k), &alg);
    if (rc < 0) {
        arca_key_free(k);
        return rc;
    }
    *out = k;
    return 0;
}

int arca_approval_key_text(const uint8_t id[32], struct arca_buf *out)
{
    ARCA_ENSURE_REF(id);
    return arca_base58check_encode(out, ARCA_KEYHASH_B58_VERSION, id, 32);
}

/* A parsed signer key, kept by a cache under the exact bytes it was given as. */
struct signer {
    uint8_t *bytes; /* owned copy of the SPKI PEM/DER as given */
    size_t len;
    struct arca_key *key; /* owned */
    uint8_t id[32];
    enum arca_hash_alg alg;
};

/* mu guards the entries and every reference count change of their keys (key references are
 * not atomic); signatures are verified outside it, on a reference taken under it. */
struct arca_approval_cache {
    pthread_mutex_t mu;
    struct signer *v;
    size_t n, cap, next; /* next: the slot evicted when full (round robin) */
};

int arca_approval_cache_new(size_t cap, struct arca_approval_cache **out)
{
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(cap > 0 && cap <= 65536, ARCA_ERR_INVALID_ARG,
                "approval cache: capacity %zu outside 1..65536", cap);
    struct arca_approval_cache *c = calloc(1, sizeof(*c));
    struct signer *v = calloc(cap, sizeof(*v));
    if (c == NULL || v == NULL) {
        free(c);
        free(v);
        return arca_err_set(ARCA_ERR_ALLOC, "approval cache: out of memory");
    }
    pthread_mutex_init(&c->mu, NULL);
    c->v = v;
    c->cap = cap;
    *out = c;
    return 0;
}

static void signer_clear(struct signer *e)
{
    free(e->bytes);
    arca_key_free(e->key);
    memset(e, 0, sizeof(*e));
}

void arca_approval_cache_free(struct arca_approval_cache *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++)
        signer_clear(&c->v[i]);
    free(c->v);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* Parses a signer key and derives what verification needs; *e owns the result. */
static int signer_parse(const struct arca_approval_sig *s, size_t index, struct signer *e)
{
    memset(e, 0, sizeof(*e));
    int rc = arca_approval_signer_key(s->key, s->key_len, &e->key);
    if (rc < 0)
        return arca_err_wrap(rc, "approval %zu", index);
    rc = arca_key_id(e->key, e->id);
    if (rc == 0)
        rc = arca_approval_alg(arca_key_type(e->key), &e->alg);
    if (rc < 0)
        signer_clear(e);
    return rc;
}

/* Under c->mu: the entry for the exact bytes of s's key, or NULL. */
static const struct signer *cache_find(const struct arca_approval_cache *c,
                                       const struct arca_approval_sig *s)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].len == s->key_len && memcmp(c->v[i].bytes, s->key, s->key_len) == 0)
            return &c->v[i]; /* public bytes: a plain comparison */
    return NULL;
}

/*
 * The parsed key of s into *use: from cache c when its exact bytes were seen before, else
 * parsed and, with a cache, kept there. use->key is a reference of the caller's own (dropped
 * with signer_drop), so a concurrent eviction cannot free it during the verification.
 */
static int signer_get(struct arca_approval_cache *c, const struct arca_approval_sig *s,
                      size_t index, struct signer *use)
{
    memset(use, 0, sizeof(*use));
    if (c != NULL) {
        pthread_mutex_lock(&c->mu);
        const struct signer *e = cache_find(c, s);
        if (e != NULL) {
            *use = *e;
            use->bytes = NULL;
            use->len = 0;
            use->key = arca_key_ref(e->key);
        }
        pthread_mutex_unlock(&c->mu);
        if (e != NULL)
            return 0;
    }
    ARCA_TRY(signer_parse(s, index, use)); /* outside the lock: the costly part */
    uint8_t *copy = c != NULL ? malloc(s->key_len > 0 ? s->key_len : 1) : NULL;
    if (copy == NULL) /* no cache, or no memory for it: verify uncached */
        return 0;
    memcpy(copy, s->key, s->key_len);
    pthread_mutex_lock(&c->mu);
    if (cache_find(c, s) == NULL) { /* another thread may have added it meanwhile */
        size_t slot = c->n < c->cap ? c->n++ : c->next++ % c->cap;
        signer_clear(&c->v[slot]);
        c->v[slot] = *use;
        c->v[slot].bytes = copy;
        c->v[slot].len = s->key_len;
        c->v[slot].key = arca_key_ref(use->key);
        copy = NULL;
    }
    pthread_mutex_unlock(&c->mu);
    free(copy);
    return 0;
}

/* Drops the reference signer_get gave (under c's lock: the count may be shared with it). */
static void signer_drop(struct arca_approval_cache *c, struct signer *use)
{
    if (c != NULL)
        pthread_mutex_lock(&c->mu);
    arca_key_free(use->key);
    if (c != NULL)
        pthread_mutex_unlock(&c->mu);
    memset(use, 0, sizeof(*use));
}

/* Verifies one signature; *id gets its signer's key id. */
static int verify_one(struct arca_approval_cache *c, const uint8_t msg[ARCA_APPROVAL_MSG_LEN],
                      const struct arca_approval_sig *s, size_t index, uint8_t id[32])
{
    ARCA_ENSURE(s->key != NULL && s->sig != NULL, ARCA_ERR_INVALID_ARG,
                "approval %zu: key or signature missing", index);
    struct signer e;
    ARCA_TRY(signer_get(c, s, index, &e));
    memcpy(id, e.id, 32);
    int rc = 0;
    if (arca_verify(e.key, e.alg, msg, ARCA_APPROVAL_MSG_LEN, s->sig, s->sig_len) < 0) {
        struct arca_buf name;
        arca_buf_init(&name, 128);
        (void)arca_approval_key_text(id, &name);
        rc = arca_err_set(ARCA_ERR_SIGNATURE,
                          "approval %zu by signer %s does not verify over this change (it signs "
                          "another session, predecessor, version or CAS, or is corrupt)",
                          index, arca_buf_cstr(&name));
        arca_buf_free(&name);
    }
    signer_drop(c, &e);
    return rc;
}

int arca_approval_verify_cached(struct arca_approval_cache *c,
                                const uint8_t msg[ARCA_APPROVAL_MSG_LEN],
                                const struct arca_approval_sig *sigs, size_t n,
                                struct arca_approvers *out)
{
    ARCA_ENSURE_REF(msg);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(sigs != NULL || n == 0, ARCA_ERR_INVALID_ARG, "approval: signatures are NULL");
    out->ids = NULL;
    out->count = 0;
    ARCA_ENSURE(n <= ARCA_APPROVAL_MAX_SIGS, ARCA_ERR_LIMIT,
                "%zu approvals given; at most %d are accepted", n, ARCA_APPROVAL_MAX_SIGS);
    if (n == 0)
        return 0;
    uint8_t(*ids)[32] = calloc(n, sizeof(*ids));
    ARCA_ENSURE(ids != NULL, ARCA_ERR_ALLOC, "approval: out of memory");
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t id[32];
        int rc = verify_one(c, msg, &sigs[i], i, id);
        if (rc < 0) {
            free(ids);
            return rc;
        }
        bool seen = false;
        for (size_t j = 0; j < count && !seen; j++)
            seen = memcmp(ids[j], id, 32) == 0; /* public key ids: no timing concern */
        if (!seen)
            memcpy(ids[count++], id, 32);
    }
    out->ids = ids;
    out->count = count;
    return 0;
}

int arca_approval_verify(const uint8_t msg[ARCA_APPROVAL_MSG_LEN],
                         const struct arca_approval_sig *sigs, size_t n, struct arca_approvers *out)
{
    return arca_approval_verify_cached(NULL, msg, sigs, n, out);
}

void arca_approvers_clear(struct arca_approvers *a)
{
    if (a == NULL)
        return;
    free(a->ids);
    a->ids = NULL;
    a->count = 0;
}

/* ---- rule walking ------------------------------------------------------------------------- */

static bool node_names(const struct arca_ap_node *n, const uint8_t id[32], unsigned depth)
{
    if (depth > 64)
        return false;
    switch (n->kind) {
    case ARCA_AP_SIGNER:
    case ARCA_AP_KEYHASH:
    case ARCA_AP_CERT:
        return memcmp(n->key_id, id, 32) == 0;
    case ARCA_AP_ALL:
    case ARCA_AP_AT_LEAST:
        for (size_t i = 0; i < n->n_children; i++)
            if (node_names(&n->children[i], id, depth + 1))
                return true;
        return false;
    default:
        return false;
    }
}

bool arca_approval_rule_names(const struct arca_ap_rule *rule, const uint8_t id[32])
{
    if (rule == NULL || id == NULL)
        return false;
    for (size_t i = 0; i < rule->n_entries; i++)
        if (node_names(&rule->entries[i], id, 0))
            return true;
    return false;
}

/* ---- explanations ------------------------------------------------------------------------- */

static int leaf_text(const struct arca_ap_node *n, struct arca_buf *why)
{
    switch (n->kind) {
    case ARCA_AP_SIGNER:
        ARCA_TRY(arca_buf_put_str(why, "signer "));
        return arca_approval_key_text(n->key_id, why);
    case ARCA_AP_KEYHASH:
        ARCA_TRY(arca_buf_put_str(why, "key "));
        return arca_approval_key_text(n->key_id, why);
    case ARCA_AP_CERT:
        ARCA_TRY(arca_buf_put_str(why, "the client certificate of key "));
        return arca_approval_key_text(n->key_id, why);
    case ARCA_AP_CREATOR:
        return arca_buf_put_str(why, "the creator's client certificate");
    case ARCA_AP_ANY:
        return arca_buf_put_str(why, "a client certificate");
    case ARCA_AP_NONE:
        return arca_buf_put_str(why, "NONE (nobody may)");
    case ARCA_AP_SECRET:
        return arca_buf_put_str(why, "a key read from a secret (not supported)");
    default:
        return arca_buf_printf(why, "an entry at line %u", n->pos.line);
    }
}

/* Appends why the unsatisfied node n does not hold. */
static int explain_node(const struct arca_ap_node *n, const struct arca_access_subject *s,
                        unsigned depth, struct arca_buf *why)
{
    ARCA_ENSURE(depth <= 64, ARCA_ERR_FORMAT, "access policy nests deeper than 64 levels");
    if (n->kind != ARCA_AP_ALL && n->kind != ARCA_AP_AT_LEAST)
        return leaf_text(n, why);
    size_t need = n->kind == ARCA_AP_ALL ? n->n_children : n->threshold;
    size_t have = 0;
    for (size_t i = 0; i < n->n_children; i++) {
        bool ok = false;
        ARCA_TRY(arca_access_node_check(&n->children[i], s, &ok));
        have += ok ? 1 : 0;
    }
    if (n->kind == ARCA_AP_ALL)
        ARCA_TRY(arca_buf_printf(why, "all %zu (require-all, line %u); have %zu (missing: ", need,
                                 n->pos.line, have));
    else
        ARCA_TRY(arca_buf_printf(why,
                                 "%zu of %zu (require-at-least-%zu, line %u); have %zu "
                                 "(missing: ",
                                 need, n->n_children, need, n->pos.line, have));
    bool first = true;
    for (size_t i = 0; i < n->n_children; i++) {
        const struct arca_ap_node *c = &n->children[i];
        bool ok = false;
        ARCA_TRY(arca_access_node_check(c, s, &ok));
        if (ok)
            continue;
        if (why->len > WHY_SOFT_MAX) {
            ARCA_TRY(arca_buf_put_str(why, ", ..."));
            break;
        }
        bool tree = c->kind == ARCA_AP_ALL || c->kind == ARCA_AP_AT_LEAST;
        ARCA_TRY(arca_buf_put_str(why, first ? (tree ? "[" : "") : (tree ? ", [" : ", ")));
        ARCA_TRY(explain_node(c, s, depth + 1, why));
        if (tree)
            ARCA_TRY(arca_buf_put_str(why, "]"));
        first = false;
    }
    return arca_buf_put_str(why, ")");
}

int arca_approval_explain(const struct arca_ap_rule *rule,
                          const struct arca_access_subject *subject, const char *op_name,
                          bool *allowed, struct arca_buf *why)
{
    ARCA_ENSURE_REF(rule);
    ARCA_ENSURE_REF(subject);
    ARCA_ENSURE_REF(op_name);
    ARCA_ENSURE_REF(allowed);
    ARCA_ENSURE_REF(why);
    bool ok = false;
    ARCA_TRY(arca_access_check(rule, subject, &ok));
    if (ok) {
        *allowed = true;
        return 0;
    }
    /* Build on the side so that why is unchanged on failure. */
    struct arca_buf w;
    arca_buf_init(&w, 0);
    int rc = arca_buf_printf(&w, "%s needs ", op_name);
    if (rc == 0 && rule->n_entries == 0)
        rc = arca_buf_put_str(&w, "an entry, and its rule is empty");
    if (rc == 0 && rule->n_entries > 1)
        rc = arca_buf_printf(&w, "one of its %zu entries: ", rule->n_entries);
    for (size_t i = 0; rc == 0 && i < rule->n_entries; i++) {
        if (i > 0)
            rc = arca_buf_put_str(&w, "; or ");
        if (rc == 0)
            rc = explain_node(&rule->entries[i], subject, 0, &w);
    }
    if (rc == 0)
        rc = arca_buf_put(why, w.data, w.len);
    arca_buf_free(&w);
    if (rc == 0)
        *allowed = false;
    return rc;
}

/* ---- satisfiability ----------------------------------------------------------------------- */

/* Key-id lists built while walking the tree (32-byte entries in an arca_buf). */
struct ids {
    struct arca_buf signers; /* keys that may sign: signer: and key hashes */
    struct arca_buf clients; /* keys a client certificate may have: certificates, key hashes */
};

static int collect(const struct arca_ap_node *n, struct ids *ids, unsigned depth)
{
    ARCA_ENSURE(depth <= 64, ARCA_ERR_FORMAT, "access policy nests deeper than 64 levels");
    switch (n->kind) {
    case ARCA_AP_SIGNER:
        return arca_buf_put(&ids->signers, n->key_id, 32);
    case ARCA_AP_KEYHASH:
        ARCA_TRY(arca_buf_put(&ids->signers, n->key_id, 32));
        return arca_buf_put(&ids->clients, n->key_id, 32);
    case ARCA_AP_CERT:
        return arca_buf_put(&ids->clients, n->key_id, 32);
    case ARCA_AP_ALL:
    case ARCA_AP_AT_LEAST:
        for (size_t i = 0; i < n->n_children; i++)
            ARCA_TRY(collect(&n->children[i], ids, depth + 1));
        return 0;
    default:
        return 0;
    }
}

/* Does rule hold for the client key (NULL: none) with every possible signer approving? */
static int holds_for(const struct arca_ap_rule *rule, const struct ids *ids, const uint8_t *creator,
                     const uint8_t *client, bool *ok)
{
    struct arca_access_subject s = {
        .client_key_id = client,
        .creator_key_id = creator,
        .approvers = (const uint8_t(*)[32])ids->signers.data,
        .approver_count = ids->signers.len / 32,
    };
    return arca_access_check(rule, &s, ok);
}

int arca_approval_satisfiable(const struct arca_ap_rule *rule, const uint8_t *creator,
                              const char *op_name)
{
    ARCA_ENSURE_REF(rule);
    ARCA_ENSURE_REF(op_name);
    if ((rule->n_entries == 1 && rule->entries[0].kind == ARCA_AP_NONE) || rule->import.s != NULL)
        return 0; /* an imported rule is judged when it is resolved */
    struct ids ids;
    arca_buf_init(&ids.signers, 0);
    arca_buf_init(&ids.clients, 0);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < rule->n_entries; i++)
        rc = collect(&rule->entries[i], &ids, 0);
    /*
     * Signatures only add, so the best request has every signer approving and one client.
     * The rule compares that client with the creator and the keys it names, so trying each
     * named key, the creator and one key that is none of them decides exactly.
     */
    static const uint8_t other[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe};
    bool ok = false;
    if (rc == 0)
        rc = holds_for(rule, &ids, creator, other, &ok);
    if (rc == 0 && !ok && creator != NULL)
        rc = holds_for(rule, &ids, creator, creator, &ok);
    for (size_t i = 0; rc == 0 && !ok && i < ids.clients.len / 32; i++)
        rc = holds_for(rule, &ids, creator, ids.clients.data + 32 * i, &ok);
    arca_buf_free(&ids.signers);
    arca_buf_free(&ids.clients);
    if (rc < 0)
        return rc;
    if (ok)
        return 0;
    return arca_err_set(ARCA_ERR_POLICY,
                        "access_policy.%s (line %u) can never be satisfied: a request carries one "
                        "client certificate, and this rule needs more than one certificate (or "
                        "NONE inside a tree); list board members as signer: instead",
                        op_name, rule->pos.line);
}
