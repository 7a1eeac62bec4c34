/*
 * What governs a proposal and how its votes count (cas_proposals_internal.h): the rule of the
 * active version (or of the namespace session for a create), who may see the proposal, whether
 * the rule holds with its approvals and whether it still can after its rejections. Counting
 * uses the same evaluator a direct upload uses (govern/access.h), with the verified signers as
 * approvers and the submitter's key as the client, so a proposal is applied exactly when a
 * signed upload with the same signatures would be.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/enc.h"
#include "base/err.h"
#include "cas/cas_proposals_internal.h"
#include "govern/access.h"
#include "govern/approval.h"
#include "policy/session.h"

void prop_context_clear(struct prop_ctx *c)
{
    arca_store_session_free(c->active);
    arca_store_session_free(c->parent);
    arca_cached_session_put(c->gov_ref);
    memset(c, 0, sizeof(*c));
}

static char *parent_of(const char *name)
{
    const char *slash = strrchr(name, '/');
    return slash != NULL ? strndup(name, (size_t)(slash - name)) : NULL;
}

int prop_context(const struct arca_cas *cas, const struct prop *p, struct prop_ctx *c)
{
    memset(c, 0, sizeof(*c));
    int rc = arca_store_session_get_active(cas->store, p->session, &c->active);
    if (rc < 0 && rc != ARCA_ERR_NOT_FOUND)
        return rc;
    arca_err_clear();
    const struct arca_store_session *gov = NULL;
    if (p->has_pred) {
        gov = c->active;
        snprintf(c->rule_text, sizeof(c->rule_text), "access_policy.update of '%s'", p->session);
    } else {
        char *pn = parent_of(p->session);
        if (pn != NULL) {
            rc = arca_store_session_get_active(cas->store, pn, &c->parent);
            snprintf(c->rule_text, sizeof(c->rule_text), "access_policy.create_sessions of '%s'",
                     pn);
            free(pn);
            if (rc < 0 && rc != ARCA_ERR_NOT_FOUND) {
                prop_context_clear(c);
                return rc;
            }
            arca_err_clear();
            gov = c->parent;
        }
    }
    c->rule_name = c->rule_text;
    if (gov == NULL)
        return 0;
    rc = cas_load_model(cas, gov, &c->gov_ref);
    if (rc < 0) {
        prop_context_clear(c);
        return rc;
    }
    c->gov_model = arca_cached_session_model(c->gov_ref);
    c->rule = arca_access_rule(&c->gov_model->access,
                               p->has_pred ? ARCA_ACCESS_UPDATE : ARCA_ACCESS_CREATE_SESSIONS);
    c->gov_creator = gov->creator;
    return 0;
}

bool prop_refresh(struct prop *p, const struct prop_ctx *c, int64_t now)
{
    if (p->state != PROP_OPEN)
        return false;
    char h[65];
    if (c->active != NULL && arca_memeq(c->active->hash, p->hash, 32)) {
        /* Committed, but the mark did not follow (a crash between the two writes). */
        p->applied_version = c->active->version;
        prop_close(p, PROP_APPLIED, now, "applied as version %llu",
                   (unsigned long long)c->active->version);
        return true;
    }
    if (p->has_pred && c->active == NULL) {
        prop_close(p, PROP_STALE, now, "stale: session '%s' no longer exists", p->session);
        return true;
    }
    if (p->has_pred && !arca_memeq(c->active->hash, p->pred, 32)) {
        arca_hex_fmt(h, c->active->hash, 32);
        prop_close(p, PROP_STALE, now,
                   "stale: its predecessor is no longer the active version of '%s' (now %s)",
                   p->session, h);
        return true;
    }
    if (!p->has_pred && c->active != NULL) {
        prop_close(p, PROP_STALE, now, "stale: session '%s' was created meanwhile", p->session);
        return true;
    }
    if (!p->has_pred && c->rule == NULL && strchr(p->session, '/') != NULL) {
        prop_close(p, PROP_STALE, now, "stale: the namespace session of '%s' no longer exists",
                   p->session);
        return true;
    }
    if (now >= p->expires_at) {
        prop_close(p, PROP_EXPIRED, now, "expired: not approved before its deadline");
        return true;
    }
    return false;
}

bool prop_rule_names(const struct prop_ctx *c, const uint8_t key_id[32])
{
    return c->rule != NULL && key_id != NULL && arca_approval_rule_names(c->rule, key_id);
}

bool prop_visible(const struct prop *p, const struct prop_ctx *c, const uint8_t *client)
{
    return client != NULL && (arca_memeq(p->submitter, client, 32) || prop_member(p, c, client));
}

bool prop_member(const struct prop *p, const struct prop_ctx *c, const uint8_t *client)
{
    if (client == NULL)
        return false;
    if (prop_rule_names(c, client))
        return true;
    bool allowed = false;
    const struct arca_store_session *gov = p->has_pred ? c->active : c->parent;
    if (c->gov_model != NULL && gov != NULL &&
        cas_check_access(c->gov_model, gov->creator, client, ARCA_ACCESS_READ, &allowed) < 0)
        allowed = false;
    arca_err_clear();
    return allowed;
}

/* Collects the key ids the rule names (at most cap) into ids. */
static void collect(const struct arca_ap_node *n, const uint8_t *creator, uint8_t (*ids)[32],
                    size_t cap, size_t *count)
{
    switch (n->kind) {
    case ARCA_AP_CERT:
    case ARCA_AP_KEYHASH:
    case ARCA_AP_SIGNER:
        if (*count < cap)
            memcpy(ids[(*count)++], n->key_id, 32);
        return;
    case ARCA_AP_CREATOR:
        if (creator != NULL && *count < cap)
            memcpy(ids[(*count)++], creator, 32);
        return;
    case ARCA_AP_ALL:
    case ARCA_AP_AT_LEAST:
        for (size_t i = 0; i < n->n_children; i++)
            collect(&n->children[i], creator, ids, cap, count);
        return;
    default:
        return;
    }
}

static bool rejected_by(const struct prop *p, const uint8_t id[32])
{
    for (size_t i = 0; i < p->n_votes; i++)
        if (!p->votes[i].approve && arca_memeq(p->votes[i].signer, id, 32))
            return true;
    return false;
}

/* Evaluates the rule with approvers ids[0..n) and the submitter as the client (unless the
 * submitter rejected: a rejection withdraws its upload's approval too); with why, explained. */
static int evaluate(const struct prop *p, const struct prop_ctx *c, const uint8_t (*ids)[32],
                    size_t n, bool *allowed, struct arca_buf *why)
{
    *allowed = false;
    if (c->rule == NULL)
        return 0;
    struct arca_access_subject subj = {.client_key_id =
                                           rejected_by(p, p->submitter) ? NULL : p->submitter,
                                       .creator_key_id = c->gov_creator,
                                       .approvers = ids,
                                       .approver_count = n};
    if (why != NULL)
        return arca_approval_explain(c->rule, &subj, p->has_pred ? "update" : "create_sessions",
                                     allowed, why);
    return arca_access_check(c->rule, &subj, allowed);
}

int prop_approvers(const struct prop *p, uint8_t (**ids)[32], size_t *n)
{
    *n = 0;
    *ids = p->n_votes > 0 ? calloc(p->n_votes, 32) : NULL;
    ARCA_ENSURE(p->n_votes == 0 || *ids != NULL, ARCA_ERR_ALLOC, "proposal: out of memory");
    for (size_t i = 0; i < p->n_votes; i++)
        if (p->votes[i].approve)
            memcpy((*ids)[(*n)++], p->votes[i].signer, 32);
    return 0;
}

int prop_rule_holds(const struct prop *p, const struct prop_ctx *c, bool *holds,
                    struct arca_buf *why)
{
    uint8_t(*ids)[32] = NULL;
    size_t n = 0;
    ARCA_TRY(prop_approvers(p, &ids, &n));
    int rc = evaluate(p, c, (const uint8_t(*)[32])ids, n, holds, why);
    free(ids);
    return rc;
}

#define RULE_KEYS_MAX 4096

int prop_rule_satisfiable(const struct prop *p, const struct prop_ctx *c, bool *can)
{
    *can = false;
    if (c->rule == NULL)
        return 0;
    uint8_t(*ids)[32] = calloc(RULE_KEYS_MAX, 32);
    ARCA_ENSURE(ids != NULL, ARCA_ERR_ALLOC, "proposal: out of memory");
    size_t n = 0;
    for (size_t i = 0; i < c->rule->n_entries; i++)
        collect(&c->rule->entries[i], c->gov_creator, ids, RULE_KEYS_MAX, &n);
    size_t keep = 0;
    for (size_t i = 0; i < n; i++)
        if (!rejected_by(p, ids[i]))
            memmove(ids[keep++], ids[i], 32);
    int rc = evaluate(p, c, (const uint8_t(*)[32])ids, keep, can, NULL);
    free(ids);
    return rc;
}
