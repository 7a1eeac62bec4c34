/*
 * access_policy evaluation (DESIGN §3, §5): decides whether a request may read, update, create
 * child sessions or list, given the rule of the session (or namespace) and who is asking.
 *
 * Who is asking is a set of keys: the TLS client's key (the uploader or reader) and, for
 * changes, the keys whose approval signatures the caller has already verified for this exact
 * change (arca_access_subject.approvers). This module compares key ids only; it never verifies
 * signatures itself.
 *
 * Semantics of one rule (a list of entries; any satisfied entry grants):
 *   CREATOR       the client's key is the session's creator key;
 *   ANY           any authenticated client (one with a certificate);
 *   NONE          nobody (must be the only entry; the loader enforces that);
 *   certificate   the client's key has that key id (only the public key counts: renewed
 *                 certificates keep access). A certificate names a TLS client, so an approval
 *                 signature never satisfies it, and a tree needing two certificates can never
 *                 hold (govern/approval.h detects that);
 *   key hash      the client's key, or an approver's key, has that key id;
 *   signer        an approver's key has that key id (a signer never matches the TLS client
 *                 alone: signers approve by signature);
 *   $$SCONE::s$$  NOT SUPPORTED YET: the session loader refuses such entries ("not supported by
 *                 arca yet", docs/session-language.md), so no loaded session holds one and no
 *                 caller sets resolve_secret today. For hand-built rules (and the later SCONE
 *                 compatibility work) the entry is resolved by resolve_secret to CREATOR or a
 *                 key id; without the callback, or when it fails, the entry is not satisfied;
 *   require-all   every child is satisfied;
 *   require-at-least-N
 *                 at least N children are satisfied.
 * Trees nest to any depth (bounded by the loader's depth limit; evaluation is recursive).
 */
#ifndef ARCA_GOVERN_ACCESS_H
#define ARCA_GOVERN_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/session.h"

struct arca_access_subject {
    const uint8_t *client_key_id;   /* 32 bytes; NULL = no client certificate */
    const uint8_t *creator_key_id;  /* 32 bytes; NULL = no creator yet (then CREATOR = client) */
    const uint8_t (*approvers)[32]; /* verified approval key ids (may be NULL) */
    size_t approver_count;
    /* Resolves a $$SCONE::name$$ entry (not supported yet, see above: no caller sets it):
     * sets *is_creator, or fills key_id; returns 0, or a negative code if the value is absent
     * or unusable (the entry is then ignored). May be NULL (every secret entry is then
     * ignored). */
    int (*resolve_secret)(void *arg, const char *name, bool *is_creator, uint8_t key_id[32]);
    void *resolve_arg;
};

/*
 * Evaluates rule for subject. Returns 0 with *allowed set, or ARCA_ERR_INVALID_ARG for NULL
 * arguments / ARCA_ERR_FORMAT for a malformed tree (a threshold of 0 or above the child count,
 * unknown node kind): malformed rules never grant.
 */
int arca_access_check(const struct arca_ap_rule *rule, const struct arca_access_subject *subject,
                      bool *allowed);

/* Evaluates one node (a subtree) of a rule as arca_access_check does; *ok set on success. */
int arca_access_node_check(const struct arca_ap_node *node,
                           const struct arca_access_subject *subject, bool *ok);

/* Which operation of an access_policy. */
enum arca_access_op {
    ARCA_ACCESS_READ = 0,
    ARCA_ACCESS_UPDATE,
    ARCA_ACCESS_CREATE_SESSIONS,
    ARCA_ACCESS_LIST_SESSIONS,
};
/* The rule of ap for op (borrowed from ap). */
const struct arca_ap_rule *arca_access_rule(const struct arca_access_policy *ap,
                                            enum arca_access_op op);
/* "read", "update", "create_sessions", "list_sessions" (static). */
const char *arca_access_op_name(enum arca_access_op op);

#endif
