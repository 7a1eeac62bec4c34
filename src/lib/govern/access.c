/* access_policy evaluation; see access.h for the semantics. */
#include <string.h>

#include "base/err.h"
#include "crypto/crypto.h"
#include "govern/access.h"

static bool key_is(const uint8_t *a, const uint8_t *b)
{
    return a != NULL && b != NULL && arca_memeq(a, b, 32);
}

static bool approved_by(const struct arca_access_subject *s, const uint8_t key_id[32])
{
    for (size_t i = 0; i < s->approver_count && s->approvers != NULL; i++)
        if (arca_memeq(s->approvers[i], key_id, 32))
            return true;
    return false;
}

static bool is_creator(const struct arca_access_subject *s)
{
    if (s->client_key_id == NULL)
        return false;
    /* No creator yet: this request creates the session, so its client becomes the creator. */
    if (s->creator_key_id == NULL)
        return true;
    return key_is(s->client_key_id, s->creator_key_id);
}

static int node_check(const struct arca_ap_node *n, const struct arca_access_subject *s,
                      unsigned depth, bool *ok)
{
    ARCA_ENSURE(depth <= 64, ARCA_ERR_FORMAT, "access policy nests deeper than 64 levels");
    *ok = false;
    switch (n->kind) {
    case ARCA_AP_CREATOR:
        *ok = is_creator(s);
        return 0;
    case ARCA_AP_ANY:
        *ok = s->client_key_id != NULL;
        return 0;
    case ARCA_AP_NONE:
        return 0;
    case ARCA_AP_CERT:
        /* A certificate names a TLS client; an approval signature is a signer's (issue 10). */
        *ok = key_is(s->client_key_id, n->key_id);
        return 0;
    case ARCA_AP_KEYHASH:
        *ok = key_is(s->client_key_id, n->key_id) || approved_by(s, n->key_id);
        return 0;
    case ARCA_AP_SIGNER:
        *ok = approved_by(s, n->key_id);
        return 0;
    case ARCA_AP_SECRET: {
        if (s->resolve_secret == NULL || n->secret.s == NULL)
            return 0;
        bool creator = false;
        uint8_t kid[32];
        if (s->resolve_secret(s->resolve_arg, n->secret.s, &creator, kid) < 0) {
            arca_err_clear(); /* unreadable values are ignored, as the language says */
            return 0;
        }
        *ok = creator ? is_creator(s) : (key_is(s->client_key_id, kid) || approved_by(s, kid));
        return 0;
    }
    case ARCA_AP_ALL:
    case ARCA_AP_AT_LEAST: {
        size_t need = n->kind == ARCA_AP_ALL ? n->n_children : n->threshold;
        ARCA_ENSURE(n->n_children > 0 && need > 0 && need <= n->n_children, ARCA_ERR_FORMAT,
                    "access policy line %u: threshold %zu over %zu entries", n->pos.line, need,
                    n->n_children);
        size_t got = 0;
        for (size_t i = 0; i < n->n_children; i++) {
            bool c = false;
            ARCA_TRY(node_check(&n->children[i], s, depth + 1, &c));
            got += c ? 1 : 0;
        }
        *ok = got >= need;
        return 0;
    }
    }
    ARCA_BAIL(ARCA_ERR_FORMAT, "access policy line %u: unknown entry kind %d", n->pos.line,
              (int)n->kind);
}

int arca_access_node_check(const struct arca_ap_node *node,
                           const struct arca_access_subject *subject, bool *ok)
{
    ARCA_ENSURE_REF(node);
    ARCA_ENSURE_REF(subject);
    ARCA_ENSURE_REF(ok);
    return node_check(node, subject, 0, ok);
}

int arca_access_check(const struct arca_ap_rule *rule, const struct arca_access_subject *subject,
                      bool *allowed)
{
    ARCA_ENSURE_REF(rule);
    ARCA_ENSURE_REF(subject);
    ARCA_ENSURE_REF(allowed);
    *allowed = false;
    /* An imported rule whose value is not here (the model was loaded without it, or it could
     * not be resolved) grants nothing: its content is unknown. */
    if (rule->import.s != NULL)
        return 0;
    bool any = false;
    for (size_t i = 0; i < rule->n_entries; i++) {
        bool ok = false;
        ARCA_TRY(node_check(&rule->entries[i], subject, 0, &ok));
        any = any || ok;
    }
    *allowed = any;
    return 0;
}

const struct arca_ap_rule *arca_access_rule(const struct arca_access_policy *ap,
                                            enum arca_access_op op)
{
    switch (op) {
    case ARCA_ACCESS_READ:
        return &ap->read;
    case ARCA_ACCESS_UPDATE:
        return &ap->update;
    case ARCA_ACCESS_CREATE_SESSIONS:
        return &ap->create_sessions;
    case ARCA_ACCESS_LIST_SESSIONS:
        return &ap->list_sessions;
    }
    return &ap->read;
}

const char *arca_access_op_name(enum arca_access_op op)
{
    static const char *const names[] = {"read", "update", "create_sessions", "list_sessions"};
    return (unsigned)op < 4 ? names[op] : "?";
}
