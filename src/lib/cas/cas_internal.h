/* Helpers shared by the files of the cas module; not an interface for other modules. */
#ifndef ARCA_CAS_INTERNAL_H
#define ARCA_CAS_INTERNAL_H

#include "cas/cas.h"
#include "govern/access.h"
#include "policy/session_cache.h"
#include "store/store.h"

struct arca_session;
struct arca_signed_session;
struct arca_approvers;

/*
 * The model of a stored version (its YAML was validated when it was committed), from
 * cas->sessions when it imports no access rules; one with imported rules is resolved for this
 * request (arca_attest_access_resolve) and never kept. *out is a reference the caller drops
 * with arca_cached_session_put. ARCA_ERR_INTERNAL if it no longer loads.
 */
int cas_load_model(const struct arca_cas *cas, const struct arca_store_session *rec,
                   struct arca_cached_session **out);

/* Fills the metadata of v from stored version rec (no session text); v cleared by the caller
 * with arca_api_version_clear. */
int cas_version_of(const struct arca_store_session *rec, struct arca_api_version *v);

/* Evaluates op of model's policy (creator = the stored creator) for client (may be NULL). */
int cas_check_access(const struct arca_session *model, const uint8_t creator[32],
                     const uint8_t *client, enum arca_access_op op, bool *allowed);

/*
 * Encodes who may list a session with model and creator into readers (the store's listing
 * index, cas_list.c): u8 flags (1: any other key, 2: no key) | key ids that may. The rule only
 * compares the client's key with the creator and the keys it names, so deciding for those and
 * for one key that is none of them is exact.
 */
int cas_readers_encode(const struct arca_session *model, const uint8_t creator[32],
                       struct arca_buf *readers);

/*
 * A signed upload ss whose text loaded as s: checks that it names s, is for this CAS and has
 * s's predecessor, computes its approval message into msg and verifies every signature (*ap:
 * the distinct signers, arca_approvers_clear). Errors name what is wrong (cas_approvals.c).
 * The caller checks the hash against the creator it decides.
 */
int cas_signed_check(const struct arca_cas *cas, const struct arca_signed_session *ss,
                     const struct arca_session *s, uint8_t msg[32], struct arca_approvers *ap);

/* ARCA_ERR_DENIED naming the first approver rule (the active rule for op) does not name. */
int cas_approvers_known(const struct arca_ap_rule *rule, const struct arca_approvers *ap,
                        const char *op);

/* Appends the record of the approvals that admitted a version (cas_approvals.c) to out. */
int cas_approvals_encode(const struct arca_signed_session *ss, const uint8_t msg[32],
                         const char *op, const uint8_t judged_by[32], const uint8_t *client,
                         struct arca_buf *out);

#endif
