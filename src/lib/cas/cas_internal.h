/* Helpers shared by the files of the cas module; not an interface for other modules. */
#ifndef ARCA_CAS_INTERNAL_H
#define ARCA_CAS_INTERNAL_H

#include "cas/cas.h"
#include "govern/access.h"
#include "store/store.h"

struct arca_session;

/* Loads the model of a stored version (its YAML was validated when it was committed); the
 * caller frees *out with arca_session_free. ARCA_ERR_INTERNAL if it no longer loads. */
int cas_load_model(const struct arca_store_session *rec, struct arca_session **out);

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

/* Key ids whose approval signatures over one exact change the caller verified (borrowed). */
struct cas_approvals {
    const uint8_t (*ids)[32];
    size_t count;
};
/* arca_cas_session_put where the approvers ap (NULL: none) count in the active version's update
 * rule (the parent's create_sessions for a create) beside client: how an online proposal
 * (cas_proposals.c) is applied once its approvals satisfy the rule. */
int cas_session_put_approved(const struct arca_cas *cas, const uint8_t *client,
                             const struct cas_approvals *ap, const void *yaml, size_t n,
                             struct arca_diag *diag, struct arca_cas_put *out);

#endif
