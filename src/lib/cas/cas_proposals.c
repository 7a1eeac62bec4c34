/*
 * Online proposals (cas/cas_proposals.h): submit, list, show and vote, over the sealed store
 * (store/proposals.c). A vote is a read, a check and a write that must not lose a concurrent
 * vote: each proposal carries a revision, and the write goes through only if the stored
 * revision is still the one read (else the vote is re-evaluated, a few times). Applying is
 * the ordinary session commit with the verified approvers (cas_session_put_approved), whose
 * store transaction checks that the predecessor is still active; the proposal is marked applied
 * after it, and a crash between the two is repaired on the next read (the active hash is then
 * the proposal's hash: prop_refresh).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/json.h"
#include "audit/audit.h"
#include "base/enc.h"
#include "base/err.h"
#include "base/log.h"
#include "base/time.h"
#include "cas/cas_proposals_internal.h"
#include "crypto/crypto.h"
#include "govern/approval.h"
#include "govern/signed_session.h"
#include "policy/session.h"

#define PROP_MAX_DEFAULT 1000
#define PROP_PER_CLIENT_DEFAULT 16
#define PROP_RETRIES 8

int prop_message(const struct arca_cas *cas, const struct prop *p, uint8_t digest[32])
{
    struct arca_approval_change ch = {.cas_key = cas->cas_key,
                                      .session_name = p->session,
                                      .predecessor = p->has_pred ? p->pred : NULL,
                                      .new_hash = p->hash};
    return arca_approval_message(&ch, digest);
}

static void audit_prop(const struct arca_cas *cas, const char *event, const struct prop *p,
                       const uint8_t *who, json_t *extra)
{
    char h[65], w[65] = "";
    arca_hex_fmt(h, p->hash, 32);
    if (who != NULL)
        arca_hex_fmt(w, who, 32);
    json_t *f = json_pack("{s:s, s:s, s:s, s:s, s:s}", "proposal", p->id, "session", p->session,
                          "hash", h, "state", prop_state_name(p->state), "client", w);
    if (f != NULL && extra != NULL)
        json_object_update(f, extra);
    json_decref(extra);
    arca_cas_audit(cas, event, f);
}

/* ---- store access ------------------------------------------------------------------------- */

static int load(const struct arca_cas *cas, const char *id, struct prop **out)
{
    struct arca_buf b;
    arca_buf_init_secret(&b, 0);
    int rc = arca_store_proposal_get(cas->store, id, &b);
    if (rc == 0)
        rc = prop_decode(b.data, b.len, out);
    arca_buf_free(&b);
    return rc;
}

struct write_arg {
    const struct prop *p;
    uint64_t expect_rev; /* UINT64_MAX: must not exist */
};

static int write_cb(void *arg, const uint8_t *cur, size_t cur_len, struct arca_buf *next)
{
    struct write_arg *w = arg;
    if (w->expect_rev == UINT64_MAX) {
        ARCA_ENSURE(cur == NULL, ARCA_ERR_EXISTS, "proposal %s exists already", w->p->id);
    } else {
        struct prop *old = NULL;
        ARCA_ENSURE(cur != NULL, ARCA_ERR_NOT_FOUND, "no proposal %s", w->p->id);
        ARCA_TRY(prop_decode(cur, cur_len, &old));
        bool same = old->rev == w->expect_rev;
        prop_free(old);
        ARCA_ENSURE(same, ARCA_ERR_CONFLICT, "proposal %s changed meanwhile", w->p->id);
    }
    return prop_encode(w->p, next);
}

/* Writes p (its rev incremented) if the stored one still has the rev p was read with.
 * ARCA_ERR_CONFLICT if another write came first. */
static int save(const struct arca_cas *cas, struct prop *p, bool create)
{
    struct write_arg w = {.p = p, .expect_rev = create ? UINT64_MAX : p->rev};
    p->rev++;
    int rc = arca_store_proposal_update(cas->store, p->id, write_cb, &w);
    if (rc < 0)
        p->rev--;
    return rc;
}

/* ---- applying ----------------------------------------------------------------------------- */

/*
 * p as the signed-session upload a member could have made by hand (govern/signed_session.h):
 * its text, what its approval message binds, and the signatures of its approvals. Applying
 * it through the ordinary upload verifies them again and stores them with the version.
 */
static int as_signed(const struct arca_cas *cas, const struct prop *p, struct arca_buf *out)
{
    struct arca_signed_session ss;
    memset(&ss, 0, sizeof(ss));
    ss.name = p->session;
    ss.session = p->yaml;
    ss.session_len = p->yaml_len;
    memcpy(ss.cas_key, cas->cas_key, 32);
    ss.has_predecessor = p->has_pred;
    memcpy(ss.predecessor, p->pred, 32);
    memcpy(ss.creator, p->creator, 32);
    memcpy(ss.hash, p->hash, 32);
    ss.sigs = p->n_votes > 0 ? calloc(p->n_votes, sizeof(*ss.sigs)) : NULL;
    ARCA_ENSURE(p->n_votes == 0 || ss.sigs != NULL, ARCA_ERR_ALLOC, "proposal: out of memory");
    for (size_t i = 0; i < p->n_votes; i++) {
        if (!p->votes[i].approve)
            continue;
        struct arca_signed_sig *g = &ss.sigs[ss.n_sigs++];
        g->signer = p->votes[i].key_pem;
        g->signer_len = strlen(p->votes[i].key_pem);
        g->sig = p->votes[i].sig;
        g->sig_len = p->votes[i].sig_len;
    }
    int rc = arca_signed_session_encode(&ss, out);
    free(ss.sigs); /* everything else is borrowed from p */
    return rc;
}

/* Commits p's version with its approvals; closes p as applied, stale or failed. */
static int apply(const struct arca_cas *cas, struct prop *p, int64_t now)
{
    struct arca_buf up;
    arca_buf_init_secret(&up, 0);
    struct arca_cas_put put;
    struct arca_diag d;
    arca_diag_init(&d);
    int rc = as_signed(cas, p, &up);
    if (rc == 0)
        rc = arca_cas_session_put(cas, p->submitter, up.data, up.len, &d, &put);
    else
        memset(&put, 0, sizeof(put));
    arca_buf_free(&up);
    arca_diag_free(&d);
    if (rc == 0) {
        p->applied_version = put.v.version;
        prop_close(p, PROP_APPLIED, now, "applied as version %llu",
                   (unsigned long long)put.v.version);
    } else if (rc == ARCA_ERR_CONFLICT || rc == ARCA_ERR_EXISTS || rc == ARCA_ERR_NOT_FOUND) {
        prop_close(p, PROP_STALE, now, "stale: %s", arca_err_detail());
    } else if (rc == ARCA_ERR_ALLOC || rc == ARCA_ERR_IO || rc == ARCA_ERR_TAMPERED) {
        arca_cas_put_clear(&put);
        return rc; /* not the proposal's fault: it stays open */
    } else {
        prop_close(p, PROP_FAILED, now, "failed: %s", arca_err_detail());
    }
    arca_cas_put_clear(&put);
    arca_err_clear();
    return 0;
}

/*
 * Brings p up to date (refresh, then apply if its rule holds or close it if it can no longer)
 * and saves it when that changed anything. *changed (may be NULL) tells. On ARCA_ERR_CONFLICT
 * the caller reloads.
 */
static int settle(const struct arca_cas *cas, struct prop *p, struct prop_ctx *c, int64_t now)
{
    enum prop_state before = p->state;
    bool dirty = prop_refresh(p, c, now);
    if (p->state == PROP_OPEN) {
        bool holds = false, can = true;
        ARCA_TRY(prop_rule_holds(p, c, &holds, NULL));
        if (holds) {
            ARCA_TRY(apply(cas, p, now));
            dirty = true;
        } else {
            ARCA_TRY(prop_rule_satisfiable(p, c, &can));
            if (!can) {
                const struct prop_vote *last = NULL;
                for (size_t i = 0; i < p->n_votes; i++)
                    if (!p->votes[i].approve)
                        last = &p->votes[i];
                char h[65] = "?";
                if (last != NULL)
                    arca_hex_fmt(h, last->signer, 32);
                prop_close(p, PROP_REJECTED, now,
                           "rejected by %s%s%s: without its approval %s can no longer be "
                           "satisfied",
                           h, last != NULL && last->reason != NULL ? ": " : "",
                           last != NULL && last->reason != NULL ? last->reason : "", c->rule_name);
                dirty = true;
            }
        }
    }
    if (!dirty)
        return 0;
    ARCA_TRY(save(cas, p, false));
    if (p->state != before)
        audit_prop(cas, ARCA_AUDIT_PROPOSAL_CLOSED, p, NULL,
                   json_pack("{s:s?}", "reason", p->reason));
    return 0;
}

/* Loads proposal id for client (answering a missing and an invisible one alike), settled. */
static int load_visible(const struct arca_cas *cas, const uint8_t *client, const char *id,
                        struct prop **out, struct prop_ctx *c)
{
    *out = NULL;
    memset(c, 0, sizeof(*c));
    ARCA_ENSURE(client != NULL, ARCA_ERR_UNAUTHENTICATED, "proposals need a client certificate");
    for (int tries = 0;; tries++) {
        struct prop *p = NULL;
        int rc = load(cas, id, &p);
        if (rc == ARCA_ERR_NOT_FOUND || rc == ARCA_ERR_FORMAT)
            return arca_err_set(ARCA_ERR_NOT_FOUND, "no proposal %s", id);
        ARCA_TRY(rc);
        rc = prop_context(cas, p, c);
        if (rc == 0 && !prop_visible(p, c, client))
            rc = arca_err_set(ARCA_ERR_NOT_FOUND, "no proposal %s", id);
        if (rc == 0)
            rc = settle(cas, p, c, arca_time_now());
        if (rc == 0) {
            *out = p;
            return 0;
        }
        prop_free(p);
        prop_context_clear(c);
        if (rc != ARCA_ERR_CONFLICT || tries >= PROP_RETRIES)
            return rc;
    }
}

/* ---- submit ------------------------------------------------------------------------------- */

struct count_arg {
    const uint8_t *client;
    const uint8_t *hash;
    int64_t now;
    uint32_t open, mine;
    char dup[ARCA_STORE_PROPOSAL_ID_MAX + 1];
};

static int count_cb(void *arg, const char *id, const uint8_t *body, size_t len)
{
    struct count_arg *a = arg;
    struct prop *p = NULL;
    ARCA_TRY(prop_decode(body, len, &p));
    if (p->state == PROP_OPEN && a->now < p->expires_at) {
        a->open++;
        if (arca_memeq(p->submitter, a->client, 32))
            a->mine++;
        if (arca_memeq(p->hash, a->hash, 32))
            snprintf(a->dup, sizeof(a->dup), "%s", id);
    }
    prop_free(p);
    return 0;
}

static int check_limits(const struct arca_cas *cas, const struct arca_cas_proposal_limits *lim,
                        const uint8_t *client, const uint8_t hash[32], int64_t now)
{
    struct count_arg a = {.client = client, .hash = hash, .now = now};
    ARCA_TRY(arca_store_proposal_scan(cas->store, count_cb, &a));
    uint32_t max = lim != NULL && lim->max_open ? lim->max_open : PROP_MAX_DEFAULT;
    uint32_t mine = lim != NULL && lim->max_open_per_client ? lim->max_open_per_client
                                                            : PROP_PER_CLIENT_DEFAULT;
    ARCA_ENSURE(a.dup[0] == '\0', ARCA_ERR_EXISTS,
                "open proposal %s proposes this exact version already", a.dup);
    ARCA_ENSURE(a.mine < mine, ARCA_ERR_LIMIT,
                "quota: this client key has %u open proposals, the limit is "
                "--max-proposals-per-client %u",
                a.mine, mine);
    ARCA_ENSURE(a.open < max, ARCA_ERR_LIMIT,
                "arcad holds %u open proposals, the limit is --max-proposals %u", a.open, max);
    return 0;
}

/* The checks of a direct upload that do not depend on access: the version would be accepted. */
static int check_target(const struct prop *p, const struct prop_ctx *c)
{
    if (p->has_pred) {
        ARCA_ENSURE(c->active != NULL, ARCA_ERR_NOT_FOUND,
                    "cannot propose an update of '%s': no such session (remove `predecessor` "
                    "to propose a create)",
                    p->session);
        if (!arca_memeq(c->active->hash, p->pred, 32)) {
            char h[65];
            arca_hex_fmt(h, c->active->hash, 32);
            return arca_err_set(ARCA_ERR_CONFLICT,
                                "predecessor is not the active version of '%s' (%s); read it "
                                "again and retry",
                                p->session, h);
        }
        return 0;
    }
    ARCA_ENSURE(c->active == NULL, ARCA_ERR_EXISTS,
                "session '%s' exists; to change it, propose "
                "an update (with `predecessor:`)",
                p->session);
    ARCA_ENSURE(c->rule != NULL, ARCA_ERR_DENIED,
                "cannot propose a create of '%s': only sessions in a namespace are created by "
                "proposal (a top-level session has no rule to approve it; upload it directly)",
                p->session);
    return 0;
}

int arca_cas_proposal_submit(const struct arca_cas *cas, const struct arca_cas_proposal_limits *lim,
                             const uint8_t *client, const void *yaml, size_t n,
                             struct arca_diag *diag, bool *invalid, json_t **answer)
{
    ARCA_ENSURE_REF(cas);
    ARCA_ENSURE_REF(invalid);
    ARCA_ENSURE_REF(answer);
    *invalid = false;
    *answer = NULL;
    ARCA_ENSURE(client != NULL, ARCA_ERR_UNAUTHENTICATED,
                "submitting a proposal needs a client certificate");
    ARCA_ENSURE(yaml != NULL && n > 0, ARCA_ERR_FORMAT,
                "request body: empty, expected a session in YAML");
    ARCA_ENSURE(n <= ARCA_SESSION_MAX_BYTES, ARCA_ERR_TOO_LARGE,
                "request body: a proposal holds at most %zu bytes of YAML",
                (size_t)ARCA_SESSION_MAX_BYTES);
    struct arca_session *s = NULL;
    struct prop *p = NULL;
    struct prop_ctx c;
    memset(&c, 0, sizeof(c));
    int64_t now = arca_time_now();
    int rc = arca_session_load((const char *)yaml, n, "<proposal>", &s, diag);
    if (rc < 0) {
        *invalid = true;
        return rc;
    }
    p = calloc(1, sizeof(*p));
    ARCA_GUARD_ENSURE(rc, p != NULL, out, ARCA_ERR_ALLOC, "proposal: out of memory");
    p->session = strdup(s->name.s);
    p->yaml = malloc(n + 1);
    ARCA_GUARD_ENSURE(rc, p->session != NULL && p->yaml != NULL, out, ARCA_ERR_ALLOC,
                      "proposal: out of memory");
    memcpy(p->yaml, yaml, n);
    p->yaml[n] = '\0';
    p->yaml_len = n;
    p->has_pred = s->has_predecessor;
    memcpy(p->pred, s->predecessor, 32);
    memcpy(p->submitter, client, 32);
    p->submitted_at = now;
    int64_t ttl = lim != NULL && lim->ttl_s > 0 ? lim->ttl_s : ARCA_PROP_TTL_DEFAULT;
    p->expires_at = now + (ttl > ARCA_PROP_TTL_MAX ? ARCA_PROP_TTL_MAX : ttl);
    ARCA_GUARD(rc, prop_context(cas, p, &c), out);
    /* Who may not see the proposal learns nothing from the checks below. */
    if (!prop_member(p, &c, client)) {
        rc = arca_err_set(ARCA_ERR_NOT_FOUND,
                          p->has_pred ? "cannot propose an update of '%s': no such session"
                                      : "cannot propose '%s': its namespace session does not "
                                        "exist or you may not propose in it",
                          p->session);
        goto out;
    }
    ARCA_GUARD(rc, check_target(p, &c), out);
    memcpy(p->creator, p->has_pred ? c.active->creator : client, 32);
    ARCA_GUARD(rc, arca_session_hash(s, p->creator, p->hash), out);
    ARCA_GUARD(rc, check_limits(cas, lim, client, p->hash, now), out);
    uint8_t rnd[16];
    ARCA_GUARD(rc, arca_random(rnd, sizeof(rnd)), out);
    arca_hex_fmt(p->id, rnd, sizeof(rnd));
    ARCA_GUARD(rc, save(cas, p, true), out);
    audit_prop(cas, ARCA_AUDIT_PROPOSAL_SUBMITTED, p, client,
               json_pack("{s:s}", "kind", p->has_pred ? "update" : "create"));
    arca_info("cas", "proposal %s: %s of %s submitted", p->id, p->has_pred ? "update" : "create",
              p->session);
    /* The submitter's key may be all the rule needs. */
    rc = settle(cas, p, &c, now);
    if (rc == ARCA_ERR_CONFLICT) { /* a vote came first: show what is stored now */
        char id[sizeof(p->id)];
        memcpy(id, p->id, sizeof(id));
        prop_free(p);
        p = NULL;
        prop_context_clear(&c);
        rc = load_visible(cas, client, id, &p, &c);
    }
    if (rc == 0)
        rc = prop_show_json(cas, p, &c, answer);
out:
    prop_free(p);
    prop_context_clear(&c);
    arca_session_free(s);
    return rc;
}

/* ---- list, show --------------------------------------------------------------------------- */

struct list_arg {
    const struct arca_cas *cas;
    const uint8_t *client;
    const struct arca_cas_proposal_filter *f;
    int64_t now;
    json_t *items;
};

static bool voted_by(const struct prop *p, const uint8_t id[32])
{
    for (size_t i = 0; i < p->n_votes; i++)
        if (arca_memeq(p->votes[i].signer, id, 32))
            return true;
    return false;
}

static int list_cb(void *arg, const char *id, const uint8_t *body, size_t len)
{
    (void)id;
    struct list_arg *a = arg;
    struct prop *p = NULL;
    struct prop_ctx c;
    ARCA_TRY(prop_decode(body, len, &p));
    int rc = 0;
    if (a->f->session != NULL && strcmp(a->f->session, p->session) != 0)
        goto out;
    ARCA_GUARD(rc, prop_context(a->cas, p, &c), out);
    if (prop_visible(p, &c, a->client)) {
        prop_refresh(p, &c, a->now); /* shown as it is; written by the next vote or show */
        bool pass = !(a->f->open_only || a->f->pending_only) || p->state == PROP_OPEN;
        if (pass && a->f->pending_only)
            pass = prop_rule_names(&c, a->client) && !voted_by(p, a->client);
        json_t *j = pass ? prop_summary_json(p) : NULL;
        if (pass && (j == NULL || json_array_append_new(a->items, j) < 0))
            rc = arca_err_set(ARCA_ERR_ALLOC, "proposals: out of memory");
    }
    prop_context_clear(&c);
out:
    prop_free(p);
    return rc;
}

static int newest_first(const void *x, const void *y)
{
    json_int_t a = json_integer_value(json_object_get(*(json_t *const *)x, ARCA_PROP_SUBMITTED_AT));
    json_int_t b = json_integer_value(json_object_get(*(json_t *const *)y, ARCA_PROP_SUBMITTED_AT));
    return a < b ? 1 : a > b ? -1 : 0;
}

int arca_cas_proposal_list(const struct arca_cas *cas, const uint8_t *client,
                           const struct arca_cas_proposal_filter *filter, json_t **answer)
{
    ARCA_ENSURE_REF(cas);
    ARCA_ENSURE_REF(answer);
    *answer = NULL;
    ARCA_ENSURE(client != NULL, ARCA_ERR_UNAUTHENTICATED, "proposals need a client certificate");
    struct arca_cas_proposal_filter none = {0};
    struct list_arg a = {.cas = cas,
                         .client = client,
                         .f = filter != NULL ? filter : &none,
                         .now = arca_time_now(),
                         .items = json_array()};
    ARCA_ENSURE(a.items != NULL, ARCA_ERR_ALLOC, "proposals: out of memory");
    int rc = arca_store_proposal_scan(cas->store, list_cb, &a);
    if (rc < 0) {
        json_decref(a.items);
        return rc;
    }
    size_t n = json_array_size(a.items);
    json_t **v = n > 0 ? calloc(n, sizeof(*v)) : NULL;
    json_t *sorted = json_array();
    rc = (n == 0 || v != NULL) && sorted != NULL ? 0 : ARCA_ERR_ALLOC;
    for (size_t i = 0; rc == 0 && i < n; i++)
        v[i] = json_array_get(a.items, i);
    if (rc == 0 && n > 1)
        qsort(v, n, sizeof(*v), newest_first);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = json_array_append(sorted, v[i]) == 0 ? 0 : ARCA_ERR_ALLOC;
    free(v);
    json_decref(a.items);
    if (rc == 0) {
        *answer = json_pack("{s:o}", ARCA_PROP_PROPOSALS, sorted);
        sorted = NULL;
        rc = *answer != NULL ? 0 : ARCA_ERR_ALLOC;
    }
    json_decref(sorted);
    if (rc < 0)
        return arca_err_set(rc, "proposals: out of memory");
    return 0;
}

int arca_cas_proposal_show(const struct arca_cas *cas, const uint8_t *client, const char *id,
                           json_t **answer)
{
    ARCA_ENSURE_REF(cas);
    ARCA_ENSURE_REF(answer);
    *answer = NULL;
    struct prop *p = NULL;
    struct prop_ctx c;
    ARCA_TRY(load_visible(cas, client, id, &p, &c));
    int rc = prop_show_json(cas, p, &c, answer);
    prop_free(p);
    prop_context_clear(&c);
    return rc;
}

/* ---- votes -------------------------------------------------------------------------------- */

int arca_cas_vote_from_json(const void *body, size_t n, bool approve, json_t **holder,
                            struct arca_buf *sigbuf, struct arca_cas_vote *vote)
{
    ARCA_ENSURE_REF(holder);
    ARCA_ENSURE_REF(sigbuf);
    ARCA_ENSURE_REF(vote);
    memset(vote, 0, sizeof(*vote));
    *holder = NULL;
    json_t *o = NULL;
    ARCA_TRY(arca_json_parse_object(body, n, "request body", &o));
    const char *key = json_string_value(json_object_get(o, ARCA_PROP_REQ_KEY));
    const char *sig = json_string_value(json_object_get(o, ARCA_PROP_REQ_SIGNATURE));
    const json_t *why = json_object_get(o, ARCA_PROP_REQ_REASON);
    int rc = 0;
    if (key == NULL)
        rc = arca_err_set(ARCA_ERR_FORMAT,
                          "request body: \"%s\": expected the signer's public "
                          "key (PEM)",
                          ARCA_PROP_REQ_KEY);
    else if (sig == NULL || arca_base64_decode(sigbuf, sig, strlen(sig)) < 0 || sigbuf->len == 0)
        rc = arca_err_set(ARCA_ERR_FORMAT, "request body: \"%s\": expected a base64 signature",
                          ARCA_PROP_REQ_SIGNATURE);
    else if (why != NULL && !json_is_null(why) &&
             (!json_is_string(why) || json_string_length(why) > ARCA_PROP_REASON_MAX))
        rc = arca_err_set(ARCA_ERR_FORMAT,
                          "request body: \"%s\": expected text of at most %d "
                          "bytes",
                          ARCA_PROP_REQ_REASON, ARCA_PROP_REASON_MAX);
    if (rc < 0) {
        json_decref(o);
        return rc;
    }
    vote->approve = approve;
    vote->signer_pem = key;
    vote->sig = sigbuf->data;
    vote->sig_len = sigbuf->len;
    vote->reason = json_string_value(why);
    *holder = o;
    return 0;
}

/* Adds (or replaces the earlier vote of the same signer with) the vote of signer to p. */
static int add_vote(struct prop *p, const uint8_t signer[32], const struct arca_cas_vote *v,
                    int64_t now)
{
    struct prop_vote *slot = NULL;
    for (size_t i = 0; i < p->n_votes; i++)
        if (arca_memeq(p->votes[i].signer, signer, 32))
            slot = &p->votes[i];
    if (slot == NULL) {
        ARCA_ENSURE(p->n_votes < ARCA_PROP_VOTES_MAX, ARCA_ERR_LIMIT,
                    "proposal %s has %d votes, the most one proposal keeps", p->id,
                    ARCA_PROP_VOTES_MAX);
        struct prop_vote *nv = realloc(p->votes, (p->n_votes + 1) * sizeof(*nv));
        ARCA_ENSURE(nv != NULL, ARCA_ERR_ALLOC, "proposal: out of memory");
        p->votes = nv;
        slot = &p->votes[p->n_votes++];
    } else {
        free(slot->key_pem);
        free(slot->sig);
        free(slot->reason);
    }
    memset(slot, 0, sizeof(*slot));
    memcpy(slot->signer, signer, 32);
    slot->approve = v->approve;
    slot->at = now;
    slot->key_pem = strdup(v->signer_pem);
    slot->sig = malloc(v->sig_len);
    slot->reason = v->reason != NULL ? strdup(v->reason) : NULL;
    ARCA_ENSURE(slot->key_pem != NULL && slot->sig != NULL &&
                    (v->reason == NULL || slot->reason != NULL),
                ARCA_ERR_ALLOC, "proposal: out of memory");
    memcpy(slot->sig, v->sig, v->sig_len);
    slot->sig_len = v->sig_len;
    return 0;
}

/* Verifies v over p's approval message by a key p's rule names; its key id into signer. */
static int check_vote(const struct arca_cas *cas, const struct prop *p, const struct prop_ctx *c,
                      const struct arca_cas_vote *v, uint8_t signer[32])
{
    uint8_t msg[32];
    struct arca_key *k = NULL;
    ARCA_TRY(arca_approval_signer_key(v->signer_pem, strlen(v->signer_pem), &k));
    int rc = arca_key_id(k, signer);
    arca_key_free(k);
    ARCA_TRY(rc);
    if (!prop_rule_names(c, signer)) {
        char h[65];
        arca_hex_fmt(h, signer, 32);
        return arca_err_set(ARCA_ERR_DENIED, "signer %s is not named by %s", h, c->rule_name);
    }
    ARCA_TRY(prop_message(cas, p, msg));
    struct arca_approval_sig sig = {.key = v->signer_pem,
                                    .key_len = strlen(v->signer_pem),
                                    .sig = v->sig,
                                    .sig_len = v->sig_len};
    struct arca_approvers ok = {0};
    rc = arca_approval_verify(msg, &sig, 1, &ok);
    arca_approvers_clear(&ok);
    return rc;
}

int arca_cas_proposal_vote(const struct arca_cas *cas, const uint8_t *client, const char *id,
                           const struct arca_cas_vote *vote, json_t **answer)
{
    ARCA_ENSURE_REF(cas);
    ARCA_ENSURE_REF(vote);
    ARCA_ENSURE_REF(answer);
    *answer = NULL;
    ARCA_ENSURE(vote->signer_pem != NULL && vote->sig != NULL, ARCA_ERR_FORMAT,
                "a vote needs the signer's key and a signature");
    for (int tries = 0;; tries++) {
        struct prop *p = NULL;
        struct prop_ctx c;
        uint8_t signer[32];
        int64_t now = arca_time_now();
        int rc = load_visible(cas, client, id, &p, &c);
        if (rc < 0)
            return rc;
        if (p->state != PROP_OPEN) {
            rc = arca_err_set(ARCA_ERR_CONFLICT, "proposal %s is %s: %s", p->id,
                              prop_state_name(p->state), p->reason != NULL ? p->reason : "");
        } else {
            rc = check_vote(cas, p, &c, vote, signer);
            if (rc == 0)
                rc = add_vote(p, signer, vote, now);
            if (rc == 0)
                rc = save(cas, p, false);
            if (rc == 0) {
                char h[65];
                arca_hex_fmt(h, signer, 32);
                audit_prop(cas, ARCA_AUDIT_PROPOSAL_VOTED, p, client,
                           json_pack("{s:s, s:s}", "verdict", vote->approve ? "approve" : "reject",
                                     "signer", h));
                arca_info("cas", "proposal %s: %s by %s", p->id,
                          vote->approve ? "approved" : "rejected", h);
                rc = settle(cas, p, &c, now);
            }
        }
        if (rc == 0)
            rc = prop_show_json(cas, p, &c, answer);
        prop_free(p);
        prop_context_clear(&c);
        if (rc != ARCA_ERR_CONFLICT || tries >= PROP_RETRIES ||
            strstr(arca_err_detail(), "changed meanwhile") == NULL)
            return rc;
    }
}
