/* Shared by the cas_proposals*.c files; not an interface for other modules. */
#ifndef ARCA_CAS_PROPOSALS_INTERNAL_H
#define ARCA_CAS_PROPOSALS_INTERNAL_H

#include "cas/cas_internal.h"
#include "cas/cas_proposals.h"

enum prop_state {
    PROP_OPEN = 0,
    PROP_APPLIED,
    PROP_REJECTED,
    PROP_EXPIRED,
    PROP_STALE,
    PROP_FAILED,
};
/* "open", "applied", ... (static). */
const char *prop_state_name(enum prop_state s);

struct prop_vote {
    uint8_t signer[32]; /* key id of the signing key */
    char *key_pem;      /* its public key (owned) */
    uint8_t *sig;       /* owned */
    size_t sig_len;
    bool approve;
    char *reason; /* owned, may be NULL */
    int64_t at;
};

/* One proposal as stored (sealed, store/proposals.c). Everything owned; prop_free. */
struct prop {
    char id[ARCA_STORE_PROPOSAL_ID_MAX + 1];
    uint64_t rev; /* +1 per write: the optimistic check of concurrent votes */
    char *session;
    bool has_pred;
    uint8_t pred[32];
    uint8_t hash[32];
    uint8_t creator[32];
    uint8_t submitter[32];
    int64_t submitted_at, expires_at, closed_at;
    enum prop_state state;
    char *reason; /* why it closed (owned, may be NULL) */
    char *yaml;   /* the proposed policy as submitted (owned, wiped: may hold secret values) */
    size_t yaml_len;
    uint64_t applied_version; /* applied: the version number it became */
    struct prop_vote *votes;
    size_t n_votes;
};

void prop_free(struct prop *p);
/* The sealed encoding of p (JSON) appended to out (a secret buffer). */
int prop_encode(const struct prop *p, struct arca_buf *out);
/* Decodes a stored body into *out (prop_free). ARCA_ERR_TAMPERED naming the field: the body
 * came out of an authenticated record, so a bad one is damage, not input. */
int prop_decode(const uint8_t *p, size_t n, struct prop **out);
/* Sets p's state to s with a reason (printf; copied), closed at now. */
void prop_close(struct prop *p, enum prop_state s, int64_t now, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * What governs p: the active version of its session (update) and the namespace session
 * (create), and the rule that judges it, with the creator CREATOR entries mean. Loaded by
 * prop_context; freed by prop_context_clear.
 */
struct prop_ctx {
    struct arca_store_session *active;    /* NULL: the session does not exist */
    struct arca_store_session *parent;    /* create only; NULL: no namespace or missing */
    struct arca_cached_session *gov_ref;  /* model of active (update) or parent (create) */
    const struct arca_session *gov_model; /* borrowed from gov_ref */
    const struct arca_ap_rule *rule;      /* borrowed from gov_model; NULL: nothing governs */
    const uint8_t *gov_creator;           /* borrowed */
    const char *rule_name;                /* "access_policy.update of 'a'" etc. (static buffer) */
    char rule_text[1200];
};
int prop_context(const struct arca_cas *cas, const struct prop *p, struct prop_ctx *c);
void prop_context_clear(struct prop_ctx *c);

/* Brings p->state up to date at now against c (applied, expired, stale); true if it changed. */
bool prop_refresh(struct prop *p, const struct prop_ctx *c, int64_t now);

/* May client see p (submitter, named by the rule, creator of a CREATOR rule, or reader)? */
bool prop_visible(const struct prop *p, const struct prop_ctx *c, const uint8_t *client);
/* The same without the submitter: may client propose this change at all? */
bool prop_member(const struct prop *p, const struct prop_ctx *c, const uint8_t *client);
/* Is key_id named by the rule (signer, key hash or certificate at any depth)? */
bool prop_rule_names(const struct prop_ctx *c, const uint8_t key_id[32]);
/* Does the rule hold with p's approvals (and the submitter's key)? With why (may be NULL), what
 * is missing when it does not (govern/approval.h arca_approval_explain) is appended. */
int prop_rule_holds(const struct prop *p, const struct prop_ctx *c, bool *holds,
                    struct arca_buf *why);
/* The key ids of p's approvals into *ids (malloc'ed, free(); NULL when none) and *n. */
int prop_approvers(const struct prop *p, uint8_t (**ids)[32], size_t *n);
/* Can the rule still hold if every named key that has not rejected approved? */
int prop_rule_satisfiable(const struct prop *p, const struct prop_ctx *c, bool *can);

/* The approval message digest of p for cas (govern/approval.h). */
int prop_message(const struct arca_cas *cas, const struct prop *p, uint8_t digest[32]);

/* The summary (list) or full (show) answer of p. */
json_t *prop_summary_json(const struct prop *p);
int prop_show_json(const struct arca_cas *cas, const struct prop *p, const struct prop_ctx *c,
                   json_t **out);

#endif
