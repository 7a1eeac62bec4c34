/*
 * Offline re-check of a session's history (issue 10 item 7, `arca session verify NAME`,
 * docs/governance.md): given what a CAS serves about each version (its hash, predecessor,
 * creator, redacted text and the approvals record stored with it), decide per version whether
 * it chains to the version before it and whether its approvals verify over the approval
 * message and satisfy the update rule of the version BEFORE it.
 *
 * A version's own hash covers explicit secret values that reads withhold, so it is re-computed
 * only when the served text holds no redaction; the result says which checks ran.
 */
#ifndef ARCA_GOVERN_CHAIN_H
#define ARCA_GOVERN_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "govern/approval.h"
#include "policy/session.h"

/* One version as served; every pointer borrowed. */
struct arca_chain_version {
    uint64_t version;
    uint8_t hash[32];
    uint8_t creator[32];
    bool has_predecessor;
    uint8_t predecessor[32];
    const char *text; /* the redacted YAML a read returns; NULL: not available */
    size_t text_len;
};

/* The approvals record stored with a version (GET /v1/approvals/NAME?hash=H); borrowed. */
struct arca_chain_record {
    uint8_t message[32];
    uint8_t judged_by[32];
    bool has_client;
    uint8_t client[32];
    const struct arca_approval_sig *sigs;
    size_t n_sigs;
};

/* What was established about one version. */
struct arca_chain_result {
    bool link_ok;        /* predecessor is the previous version's hash (none for the first) */
    bool hash_checked;   /* the text was complete, so the hash was re-computed */
    bool hash_ok;        /* ... and it matched (meaningful only if hash_checked) */
    bool approvals;      /* an approvals record was given and checked */
    bool approvals_ok;   /* its signatures verify over this change and satisfy the rule */
    size_t approvers;    /* distinct verified signers */
    bool ok;             /* every check that ran passed */
    struct arca_buf why; /* owned: the first failure, or notes on what was not re-checked */
};

void arca_chain_result_init(struct arca_chain_result *r);
void arca_chain_result_clear(struct arca_chain_result *r);

/*
 * Re-checks cur (of session name, served by the CAS with key id cas_key) against prev (the
 * version before it; NULL for the first version) and rec (its approvals record; NULL when it
 * was admitted without approvals, then its rule check is reported as not re-checked). The
 * update rule judged is the one in prev's text, with prev's creator. Fills *r (initialised by
 * the caller; cleared first); a forgery is reported in *r with r->ok false, not as an error.
 * Returns 0, or a negative code when the check itself could not run (out of memory, bad
 * arguments).
 */
int arca_chain_check(const uint8_t cas_key[32], const char *name,
                     const struct arca_chain_version *prev, const struct arca_chain_version *cur,
                     const struct arca_chain_record *rec, struct arca_chain_result *r);

#endif
