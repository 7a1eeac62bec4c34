/*
 * The exporting side of a remote import (cas/cas.h, arca_cas_export_remote): an attested arcad
 * asks for one secret of one of our sessions for one of its sessions; the secret's export
 * rules (secrets/export_rule.h) decide against the attested CAS key / measurement. The value
 * leaves only as the answer on the peer channel, encoded as a one-entry secret set.
 */
#include <stdio.h>
#include <string.h>

#include "base/enc.h"
#include "base/err.h"
#include "cas/cas_internal.h"
#include "policy/session.h"
#include "secrets/export_rule.h"
#include "secrets/secrets.h"

/* The event both the allowed and the refused requests are audited with. */
#define AUDIT_EXPORT "secret_export"

static int export_value(const struct arca_cas *cas, const struct arca_cas_export_req *q,
                        struct arca_buf *out)
{
    ARCA_TRY(arca_session_name_check(q->session, strlen(q->session), true));
    ARCA_TRY(arca_session_name_check(q->secret, strlen(q->secret), false));
    ARCA_TRY(arca_session_name_check(q->importer, strlen(q->importer), true));
    struct arca_store_session *active = NULL;
    struct arca_cached_session *ref = NULL;
    struct arca_secret_set *set = NULL, *one = NULL;
    struct arca_secret_value *v = NULL;
    struct arca_buf blob;
    arca_buf_init_secret(&blob, 0);
    int rc = arca_store_session_get_active(cas->store, q->session, &active);
    if (rc == ARCA_ERR_NOT_FOUND)
        rc = arca_err_set(ARCA_ERR_NOT_FOUND, "no session %s exports %s to this CAS", q->session,
                          q->secret);
    if (rc < 0)
        goto out;
    ARCA_GUARD(rc, cas_load_model(cas, active, &ref), out);
    const struct arca_secret *d =
        arca_session_find_secret(arca_cached_session_model(ref), q->secret);
    /* Same answer as for a missing session: a stranger's probe learns nothing. */
    ARCA_GUARD_ENSURE(rc, d != NULL, out, ARCA_ERR_NOT_FOUND,
                      "no session %s exports %s to this CAS", q->session, q->secret);
    struct arca_export_asker a = {.session = q->importer,
                                  .hash = q->importer_hash,
                                  .cas_key = q->peer_key,
                                  .software = q->peer_measurement};
    ARCA_GUARD(rc, arca_export_check(d, q->session, &a), out);
    ARCA_GUARD(rc, arca_store_secrets_get(cas->store, active->hash, &blob), out);
    ARCA_GUARD(rc, arca_secret_set_decode(blob.data, blob.len, &set), out);
    rc = arca_export_value(d, set, &v); /* a config-fragment: its written value */
    if (rc == ARCA_ERR_NOT_FOUND)
        rc = arca_err_set(rc, "%s has no value for %s yet", q->session, q->secret);
    if (rc < 0)
        goto out;
    ARCA_GUARD(rc, arca_secret_set_new(&one), out);
    ARCA_GUARD(rc, arca_secret_set_add(one, q->secret, strlen(q->secret), v), out);
    ARCA_GUARD(rc, arca_secret_set_encode(one, out), out);
out:
    arca_secret_value_free(v);
    arca_secret_set_free(one);
    arca_secret_set_free(set);
    arca_buf_free(&blob);
    arca_cached_session_put(ref);
    arca_store_session_free(active);
    return rc;
}

int arca_cas_export_remote(const struct arca_cas *cas, const struct arca_cas_export_req *q,
                           struct arca_buf *out)
{
    ARCA_ENSURE_REF(cas);
    ARCA_ENSURE_REF(q);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(q->session && q->secret && q->importer && q->importer_hash && q->peer_key,
                ARCA_ERR_INVALID_ARG, "export: incomplete request");
    struct arca_buf enc;
    arca_buf_init_secret(&enc, 0);
    int rc = export_value(cas, q, &enc);
    char peer[65], hash[65];
    arca_hex_fmt(peer, q->peer_key, 32);
    arca_hex_fmt(hash, q->importer_hash, 32);
    /* Names are bounded by the grammar checked first; the reason names no value. */
    bool named = rc != ARCA_ERR_FORMAT;
    arca_cas_audit(cas, AUDIT_EXPORT,
                   json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "session",
                             named ? q->session : "?", "secret", named ? q->secret : "?",
                             "importer", named ? q->importer : "?", "importer_hash", hash,
                             "peer_cas_key", peer, "outcome", rc == 0 ? "exported" : "refused",
                             "reason", rc == 0 ? "" : arca_err_detail()));
    if (rc == 0)
        rc = arca_buf_put(out, enc.data, enc.len);
    arca_buf_free(&enc);
    return rc;
}
