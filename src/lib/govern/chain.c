/* Offline re-check of a session's history; see chain.h. */
#include <string.h>

#include "base/err.h"
#include "govern/chain.h"
#include "policy/redact.h"

void arca_chain_result_init(struct arca_chain_result *r)
{
    memset(r, 0, sizeof(*r));
    arca_buf_init(&r->why, 0);
}

void arca_chain_result_clear(struct arca_chain_result *r)
{
    if (r == NULL)
        return;
    arca_buf_free(&r->why);
    arca_chain_result_init(r);
}

/* Appends "; " between notes. */
static int note(struct arca_chain_result *r, const char *text)
{
    if (r->why.len > 0)
        ARCA_TRY(arca_buf_put_str(&r->why, "; "));
    return arca_buf_put_str(&r->why, text);
}

/* Loads a served (redacted) text; *s NULL when it does not load (reported by the caller). */
static int load_text(const struct arca_chain_version *v, struct arca_session **s)
{
    *s = NULL;
    if (v->text == NULL)
        return 0;
    struct arca_diag d;
    arca_diag_init(&d);
    int rc = arca_session_load(v->text, v->text_len, "served", s, &d);
    arca_diag_free(&d);
    if (rc == ARCA_ERR_ALLOC)
        return rc;
    arca_err_clear();
    return 0;
}

/* Does p[0..n) contain the literal lit? (bounded; the text is not NUL-terminated) */
static bool contains(const char *p, size_t n, const char *lit, size_t m)
{
    for (size_t i = 0; m <= n && i <= n - m; i++)
        if (memcmp(p + i, lit, m) == 0)
            return true;
    return false;
}

/* Re-computes cur's hash when its served text is complete (no redacted value). */
static int check_hash(const struct arca_chain_version *cur, const struct arca_session *s,
                      struct arca_chain_result *r)
{
    static const char red[] = ARCA_REDACTED;
    if (cur->text == NULL)
        return note(r, "hash not re-checked (no text served)");
    if (contains(cur->text, cur->text_len, red, sizeof(red) - 1))
        return note(r, "hash not re-checked (the text has withheld secret values)");
    if (s == NULL) {
        r->ok = false;
        return note(r, "the served text does not load as a session");
    }
    uint8_t h[32];
    ARCA_TRY(arca_session_hash(s, cur->creator, h));
    r->hash_checked = true;
    r->hash_ok = memcmp(h, cur->hash, 32) == 0; /* public hashes: no timing concern */
    if (!r->hash_ok) {
        r->ok = false;
        return note(r, "FORGED: the served text does not hash to the version's hash");
    }
    return 0;
}

/* Verifies rec over the change prev -> cur and judges it with prev's update rule. */
static int check_approvals(const uint8_t cas_key[32], const char *name,
                           const struct arca_chain_version *prev,
                           const struct arca_chain_version *cur,
                           const struct arca_chain_record *rec, struct arca_chain_result *r)
{
    struct arca_approval_change ch = {.cas_key = cas_key,
                                      .session_name = name,
                                      .predecessor = cur->has_predecessor ? cur->predecessor : NULL,
                                      .new_hash = cur->hash};
    uint8_t msg[ARCA_APPROVAL_MSG_LEN];
    ARCA_TRY(arca_approval_message(&ch, msg));
    r->approvals = true;
    if (memcmp(msg, rec->message, sizeof(msg)) != 0) {
        r->ok = false;
        return note(r, "FORGED: the approvals record is for another change (message differs)");
    }
    if (prev != NULL && memcmp(rec->judged_by, prev->hash, 32) != 0) {
        r->ok = false;
        return note(r, "FORGED: the approvals record was judged by another version");
    }
    struct arca_approvers ap;
    int rc = arca_approval_verify(msg, rec->sigs, rec->n_sigs, &ap);
    if (rc == ARCA_ERR_ALLOC || rc == ARCA_ERR_INVALID_ARG)
        return rc;
    if (rc < 0) {
        r->ok = false;
        ARCA_TRY(note(r, "FORGED: "));
        rc = arca_buf_put_str(&r->why, arca_err_detail());
        arca_err_clear();
        return rc;
    }
    r->approvers = ap.count;
    if (prev == NULL) {
        arca_approvers_clear(&ap);
        r->approvals_ok = true;
        return note(r, "signatures verified; the creating rule (the namespace's) not re-checked");
    }
    struct arca_session *ps = NULL;
    rc = load_text(prev, &ps);
    if (rc == 0 && ps == NULL) {
        r->ok = false;
        rc = note(r, "the previous version's text is not available: its rule not re-checked");
    } else if (rc == 0) {
        const struct arca_ap_rule *rule = arca_access_rule(&ps->access, ARCA_ACCESS_UPDATE);
        struct arca_access_subject subj = {.client_key_id = rec->has_client ? rec->client : NULL,
                                           .creator_key_id = prev->creator,
                                           .approvers = (const uint8_t(*)[32])ap.ids,
                                           .approver_count = ap.count};
        bool allowed = false;
        struct arca_buf why;
        arca_buf_init(&why, 0);
        rc = arca_approval_explain(rule, &subj, "update", &allowed, &why);
        if (rc == 0 && !allowed) {
            r->ok = false;
            rc = note(r, "FORGED: the approvals do not satisfy the previous version's rule: ");
            if (rc == 0)
                rc = arca_buf_put(&r->why, why.data, why.len);
        }
        r->approvals_ok = rc == 0 && allowed;
        arca_buf_free(&why);
    }
    arca_session_free(ps);
    arca_approvers_clear(&ap);
    return rc;
}

int arca_chain_check(const uint8_t cas_key[32], const char *name,
                     const struct arca_chain_version *prev, const struct arca_chain_version *cur,
                     const struct arca_chain_record *rec, struct arca_chain_result *r)
{
    ARCA_ENSURE_REF(cas_key);
    ARCA_ENSURE_REF(name);
    ARCA_ENSURE_REF(cur);
    ARCA_ENSURE_REF(r);
    arca_chain_result_clear(r);
    r->ok = true;
    int rc = 0;
    if (prev == NULL)
        r->link_ok = !cur->has_predecessor;
    else
        r->link_ok = cur->has_predecessor && memcmp(cur->predecessor, prev->hash, 32) == 0;
    if (!r->link_ok) {
        r->ok = false;
        rc = note(r, prev == NULL ? "FORGED: the first version names a predecessor"
                                  : "FORGED: the predecessor is not the previous version's hash");
    }
    struct arca_session *s = NULL;
    if (rc == 0)
        rc = load_text(cur, &s);
    if (rc == 0)
        rc = check_hash(cur, s, r);
    arca_session_free(s);
    if (rc == 0 && rec != NULL)
        rc = check_approvals(cas_key, name, prev, cur, rec, r);
    else if (rc == 0 && prev != NULL)
        rc = note(r, "admitted without approvals (by a client certificate): rule not re-checked");
    if (rc < 0)
        arca_chain_result_clear(r);
    return rc;
}
