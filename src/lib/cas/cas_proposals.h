/*
 * Online proposals (DESIGN §5, docs/governance.md "Online proposals"): a change to a governed
 * session (a policy for an update, or for a new child of a namespace) is held by arcad until the
 * approvals posted for it satisfy the rule of the ACTIVE version (access_policy.update; for a
 * new child the parent's create_sessions), then applied at once.
 *
 * Life of a proposal (state):
 *   open      waiting for approvals;
 *   applied   the rule held and the version was committed (its hash is the proposal's hash);
 *   rejected  a rejection left the rule unsatisfiable (a veto holder, or enough of a board);
 *   expired   not applied before expires_at;
 *   stale     the predecessor is no longer the active version (for a create: the name was
 *             taken meanwhile), so the proposal could never be applied;
 *   failed    the rule held but the commit was refused (e.g. the secrets it would generate
 *             exceed arcad's limits); reason says why.
 * Only open proposals take votes. States are brought up to date whenever a proposal is read,
 * so an expired or stale proposal is refused even if nothing wrote it since.
 *
 * Votes are signatures over the approval message of govern/approval.h (CAS key, session
 * name, predecessor, new session hash), by a key the governing rule names (signer, key hash or
 * certificate). The submitter's client key counts like an uploader's client certificate does
 * for a direct upload. A signer votes once; a later vote of the same signer replaces its first.
 *
 * Visibility: a client sees a proposal (list, show, vote) if it submitted it, if its key is
 * named by the governing rule (or is the creator a CREATOR entry names), or if it may read the
 * active version (the parent for a create). Everyone else gets exactly the answer a missing
 * proposal gets, so proposal ids and session names do not leak.
 *
 * Answers are JSON objects (the keys below are the wire protocol, docs/api.md); no answer,
 * detail, log line or audit event ever holds a secret value of the proposed policy (the diff
 * is built from redacted YAML). Errors are arca_err codes with a human detail, as cas.h.
 */
#ifndef ARCA_CAS_PROPOSALS_H
#define ARCA_CAS_PROPOSALS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cas/cas.h"

/* Wire keys of the proposal answers and requests (docs/api.md). */
#define ARCA_PROP_ID "id"
#define ARCA_PROP_SESSION "session"
#define ARCA_PROP_KIND "kind" /* "create" | "update" */
#define ARCA_PROP_STATE "state"
#define ARCA_PROP_REASON "reason"
#define ARCA_PROP_PREDECESSOR "predecessor" /* hex64 or null for a create */
#define ARCA_PROP_HASH "hash"               /* the proposed version's session hash */
#define ARCA_PROP_CREATOR "creator"
#define ARCA_PROP_SUBMITTER "submitter"
#define ARCA_PROP_SUBMITTED_AT "submitted_at"
#define ARCA_PROP_EXPIRES_AT "expires_at"
#define ARCA_PROP_CLOSED_AT "closed_at"
#define ARCA_PROP_CAS_KEY "cas_key"
#define ARCA_PROP_MESSAGE "message" /* hex of the approval message digest (convenience) */
#define ARCA_PROP_VOTES "votes"
#define ARCA_PROP_SIGNER "signer"       /* vote: key id hex */
#define ARCA_PROP_VERDICT "verdict"     /* vote: "approve" | "reject" */
#define ARCA_PROP_AT "at"               /* vote: when */
#define ARCA_PROP_RULE "rule"           /* show: which rule governs */
#define ARCA_PROP_MISSING "missing"     /* show: what the rule still lacks (text) */
#define ARCA_PROP_DIFF "diff"           /* show: unified-style diff of redacted YAML */
#define ARCA_PROP_SECRETS "secrets"     /* show: [{name, kind, value}] */
#define ARCA_PROP_PROPOSED "proposed"   /* show: the proposed policy, redacted YAML */
#define ARCA_PROP_PROPOSALS "proposals" /* list: [summary...] */
#define ARCA_PROP_APPLIED "applied"     /* show when applied: {hash, version} */
/* Vote request body: {"signer": PUBLIC KEY PEM, "signature": BASE64, "reason": TEXT}. */
#define ARCA_PROP_REQ_KEY "signer"
#define ARCA_PROP_REQ_SIGNATURE "signature"
#define ARCA_PROP_REQ_REASON "reason"

#define ARCA_PROP_ID_MAX 64 /* hex digits of a proposal id (store.h ARCA_STORE_PROPOSAL_ID_MAX) */
#define ARCA_PROP_TTL_DEFAULT (7 * 24 * 3600) /* seconds a proposal stays open by default */
#define ARCA_PROP_TTL_MAX (90 * 24 * 3600)
#define ARCA_PROP_REASON_MAX 1024 /* bytes of a vote's reason */
#define ARCA_PROP_VOTES_MAX 256   /* votes one proposal keeps */
#define ARCA_PROP_WAIT_MAX 30     /* seconds a list may wait for a pending proposal */

/* Bounds of the proposal store (arcad flags, docs/arcad.md; zeroes: the defaults). */
struct arca_cas_proposal_limits {
    int64_t ttl_s;                /* --proposal-ttl (default ARCA_PROP_TTL_DEFAULT) */
    uint32_t max_open_per_client; /* --max-proposals-per-client (default 16) */
    uint32_t max_open;            /* --max-proposals (default 1000) */
};

/*
 * Submits the YAML yaml[0..n) (a session with `predecessor` = the active hash for an update,
 * without for a create) from client as a proposal. Checks what a direct upload checks before
 * access (the YAML loads, the predecessor is active, a create's name is free and its namespace
 * exists), that the client may see the proposal, and the limits (ARCA_ERR_LIMIT naming the
 * flag). If the rule holds already (e.g. the submitter alone suffices) it is applied at once.
 * An invalid upload sets *invalid and fills diag (the caller's, initialised). *answer gets the
 * proposal as `show` answers it (json_decref); yaml stays the caller's (it may hold secret
 * values: the caller wipes it).
 */
int arca_cas_proposal_submit(const struct arca_cas *cas, const struct arca_cas_proposal_limits *lim,
                             const uint8_t *client, const void *yaml, size_t n,
                             struct arca_diag *diag, bool *invalid, json_t **answer);

/* Which proposals a list returns. */
struct arca_cas_proposal_filter {
    const char *session; /* NULL: all sessions */
    bool open_only;      /* only open proposals */
    bool pending_only;   /* only open proposals the client's key may vote on and has not yet */
};

/*
 * The proposals client may see that pass filter, newest first, as {"proposals": [...]} with
 * each entry's id, session, kind, state, reason, hash, submitter, submitted_at, expires_at and
 * votes (*answer, json_decref). At most 1000 (the store holds no more open ones by default).
 */
int arca_cas_proposal_list(const struct arca_cas *cas, const uint8_t *client,
                           const struct arca_cas_proposal_filter *filter, json_t **answer);

/*
 * Proposal id for client: the list entry plus predecessor, creator, cas_key, message, rule,
 * missing, the proposed policy as redacted YAML (what a checker judges), the diff against the
 * active version and the secrets of the proposed version
 * (name, kind, and "generated" / "explicit value (hidden)" / "imported from S" / "provided by
 * SERVICE": never a value). ARCA_ERR_NOT_FOUND for a missing or invisible proposal.
 */
int arca_cas_proposal_show(const struct arca_cas *cas, const uint8_t *client, const char *id,
                           json_t **answer);

/* A vote: the signer's public key (PEM), its signature over the approval message, a reason. */
struct arca_cas_vote {
    bool approve;
    const char *signer_pem; /* NUL-terminated */
    const uint8_t *sig;
    size_t sig_len;
    const char *reason; /* may be NULL */
};

/*
 * Records vote on proposal id for client (who must see it). Refused: a closed proposal
 * (ARCA_ERR_CONFLICT naming its state: expired, stale, ...), a signer the rule does not name
 * (ARCA_ERR_DENIED), a signature that does not verify over this proposal's approval message
 * (ARCA_ERR_SIGNATURE). An approval that makes the rule hold applies the change; a rejection
 * that leaves the rule unsatisfiable closes the proposal as rejected. *answer gets the proposal
 * as `show` answers it.
 */
int arca_cas_proposal_vote(const struct arca_cas *cas, const uint8_t *client, const char *id,
                           const struct arca_cas_vote *vote, json_t **answer);

/*
 * Parses a vote request body (see ARCA_PROP_REQ_*) into *vote, whose pointers borrow from
 * *holder (json_decref it after use) and sigbuf (decoded signature; the caller inits and
 * frees). ARCA_ERR_FORMAT naming the field.
 */
int arca_cas_vote_from_json(const void *body, size_t n, bool approve, json_t **holder,
                            struct arca_buf *sigbuf, struct arca_cas_vote *vote);

/* Audit events of proposals (audit/audit.h style names). */
#define ARCA_AUDIT_PROPOSAL_SUBMITTED "proposal_submitted"
#define ARCA_AUDIT_PROPOSAL_VOTED "proposal_voted"
#define ARCA_AUDIT_PROPOSAL_CLOSED "proposal_closed"

#endif
