/*
 * Signed uploads and the approvals stored with a version (docs/governance.md): the checks that
 * bind a signed session to this CAS and to its own text, signature verification, and the
 * record kept beside the version it admitted.
 *
 * The stored record is JSON:
 *   {"message": hex, "operation": "update"|"create_sessions", "judged_by": hex,
 *    "client": hex, "approvals": [{"key_id": hex, "signer": PEM, "signature": base64}, ...]}
 * judged_by is the hash of the version whose rule decided (the predecessor, or the namespace
 * session's active version for a create).
 */
#include <stdlib.h>
#include <string.h>

#include "base/enc.h"
#include "base/err.h"
#include "cas/cas_internal.h"
#include "govern/approval.h"
#include "govern/signed_session.h"
#include "policy/session.h"

static json_t *hex_json(const uint8_t b[32])
{
    char h[65];
    arca_hex_fmt(h, b, 32);
    return json_string(h);
}

int cas_signed_check(const struct arca_cas *cas, const struct arca_signed_session *ss,
                     const struct arca_session *s, uint8_t msg[ARCA_APPROVAL_MSG_LEN],
                     struct arca_approvers *ap)
{
    ARCA_ENSURE(strcmp(ss->name, s->name.s) == 0, ARCA_ERR_FORMAT,
                "signed session: \"name\" is '%s' but the session text names '%s'", ss->name,
                s->name.s);
    if (!arca_memeq(ss->cas_key, cas->cas_key, 32)) {
        struct arca_buf k;
        arca_buf_init(&k, 128);
        (void)arca_approval_key_text(ss->cas_key, &k);
        int rc = arca_err_set(ARCA_ERR_DENIED,
                              "signed session: it was signed for the CAS with key %s, not this "
                              "one; its approvals are not valid here",
                              arca_buf_cstr(&k));
        arca_buf_free(&k);
        return rc;
    }
    ARCA_ENSURE(ss->has_predecessor == s->has_predecessor &&
                    (!s->has_predecessor || arca_memeq(ss->predecessor, s->predecessor, 32)),
                ARCA_ERR_FORMAT,
                "signed session: \"predecessor\" does not match the session text's predecessor");
    ARCA_TRY(arca_signed_session_message(ss, msg));
    struct arca_approval_sig *sigs = NULL;
    ARCA_TRY(arca_signed_session_sigs(ss, &sigs));
    int rc = arca_approval_verify_cached(cas->approvals, msg, sigs, ss->n_sigs, ap);
    free(sigs);
    return rc;
}

int cas_approvers_known(const struct arca_ap_rule *rule, const struct arca_approvers *ap,
                        const char *op)
{
    for (size_t i = 0; i < ap->count; i++) {
        if (arca_approval_rule_names(rule, ap->ids[i]))
            continue;
        struct arca_buf k;
        arca_buf_init(&k, 128);
        (void)arca_approval_key_text(ap->ids[i], &k);
        int rc = arca_err_set(ARCA_ERR_DENIED,
                              "unknown signer %s: the active access_policy.%s does not name it",
                              arca_buf_cstr(&k), op);
        arca_buf_free(&k);
        return rc;
    }
    return 0;
}

int cas_approvals_encode(const struct arca_signed_session *ss,
                         const uint8_t msg[ARCA_APPROVAL_MSG_LEN], const char *op,
                         const uint8_t judged_by[32], const uint8_t *client, struct arca_buf *out)
{
    json_t *o = json_object(), *a = json_array();
    int rc = o != NULL && a != NULL ? 0 : arca_err_set(ARCA_ERR_ALLOC, "cas: out of memory");
    for (size_t i = 0; rc == 0 && i < ss->n_sigs; i++) {
        struct arca_key *k = NULL;
        uint8_t id[32];
        struct arca_buf b64;
        arca_buf_init(&b64, 0);
        rc = arca_approval_signer_key(ss->sigs[i].signer, ss->sigs[i].signer_len, &k);
        if (rc == 0)
            rc = arca_key_id(k, id);
        if (rc == 0)
            rc = arca_base64_encode(&b64, ss->sigs[i].sig, ss->sigs[i].sig_len);
        arca_key_free(k);
        json_t *e = rc == 0 ? json_pack("{s:o, s:s, s:s}", "key_id", hex_json(id), "signer",
                                        ss->sigs[i].signer, "signature", arca_buf_cstr(&b64))
                            : NULL;
        arca_buf_free(&b64);
        if (rc == 0 && (e == NULL || json_array_append_new(a, e) < 0))
            rc = arca_err_set(ARCA_ERR_ALLOC, "cas: out of memory");
    }
    if (rc == 0 && (json_object_set_new(o, "message", hex_json(msg)) < 0 ||
                    json_object_set_new(o, "operation", json_string(op)) < 0 ||
                    json_object_set_new(o, "judged_by", hex_json(judged_by)) < 0 ||
                    json_object_set_new(o, "client", hex_json(client)) < 0 ||
                    json_object_set(o, "approvals", a) < 0))
        rc = arca_err_set(ARCA_ERR_ALLOC, "cas: out of memory");
    char *text = rc == 0 ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (rc == 0 && text == NULL)
        rc = arca_err_set(ARCA_ERR_ALLOC, "cas: out of memory");
    if (rc == 0)
        rc = arca_buf_put_str(out, text);
    free(text);
    json_decref(a);
    json_decref(o);
    return rc;
}
