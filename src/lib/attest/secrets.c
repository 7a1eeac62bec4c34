/*
 * The secrets an attested service may use (attest.h): the session's own and the imported ones.
 * Everything decrypted stays in secret buffers / secret sets, wiped when freed.
 */
#include <stdlib.h>
#include <string.h>

#include "attest/attest.h"
#include "base/err.h"
#include "policy/session.h"
#include "secrets/secrets.h"
#include "store/store.h"

/* One imported secret: looked up in the exporting session's active version, which must
 * export it to this session (by name or namespace, and session_hash when given). */
static int import_one(const struct arca_attest_ctx *ctx, const char *our_name,
                      const uint8_t our_hash[32], const struct arca_secret *d,
                      struct arca_secret_set *set)
{
    const char *from = d->import_from.session.s;
    ARCA_ENSURE(from != NULL && from[0] != '.', ARCA_ERR_UNSUPPORTED,
                "secrets[%s].import: only absolute session names are supported", d->name.s);
    ARCA_ENSURE(d->import_from.cas_url.s == NULL, ARCA_ERR_UNSUPPORTED,
                "secrets[%s].import: imports from another CAS are not supported", d->name.s);
    const char *theirs = d->import_secret.s ? d->import_secret.s : d->name.s;
    struct arca_store_session *rec = NULL;
    struct arca_session *model = NULL;
    struct arca_secret_set *their_set = NULL;
    struct arca_buf blob;
    arca_buf_init_secret(&blob, 0);
    int rc = arca_store_session_get_active(ctx->store, from, &rec);
    if (rc < 0) {
        rc = arca_err_set(ARCA_ERR_NOT_FOUND, "secrets[%s].import: session %s not found", d->name.s,
                          from);
        goto out;
    }
    ARCA_GUARD_ENSURE(
        rc,
        !d->import_from.has_session_hash || memcmp(d->import_from.session_hash, rec->hash, 32) == 0,
        out, ARCA_ERR_POLICY, "secrets[%s].import: session %s has changed (session_hash differs)",
        d->name.s, from);
    ARCA_GUARD(rc, arca_session_load(rec->yaml, rec->yaml_len, from, &model, NULL), out);
    const struct arca_secret *src = arca_session_find_secret(model, theirs);
    ARCA_GUARD_ENSURE(rc, src != NULL, out, ARCA_ERR_NOT_FOUND,
                      "secrets[%s].import: %s has no secret %s", d->name.s, from, theirs);
    bool exported = false;
    size_t our_len = strlen(our_name);
    for (size_t i = 0; i < src->n_exports && !exported; i++) {
        const struct arca_session_ref *e = &src->exports[i];
        bool name_ok = (e->session.s != NULL && strcmp(e->session.s, our_name) == 0);
        if (e->namespace_.s != NULL && e->namespace_.len < our_len &&
            strncmp(our_name, e->namespace_.s, e->namespace_.len) == 0 &&
            our_name[e->namespace_.len] == '/')
            name_ok = true;
        exported = name_ok && (!e->has_session_hash || memcmp(e->session_hash, our_hash, 32) == 0);
    }
    ARCA_GUARD_ENSURE(rc, exported, out, ARCA_ERR_DENIED,
                      "secrets[%s].import: %s does not export %s to this session", d->name.s, from,
                      theirs);
    ARCA_GUARD(rc, arca_store_secrets_get(ctx->store, rec->hash, &blob), out);
    ARCA_GUARD(rc, arca_secret_set_decode(blob.data, blob.len, &their_set), out);
    struct arca_secret_value *v = arca_secret_set_get(their_set, theirs, strlen(theirs));
    ARCA_GUARD_ENSURE(rc, v != NULL, out, ARCA_ERR_NOT_FOUND,
                      "secrets[%s].import: %s has no value for %s yet", d->name.s, from, theirs);
    ARCA_GUARD(rc, arca_secret_set_put(set, d->name.s, d->name.len, v), out);
out:
    arca_secret_set_free(their_set);
    arca_buf_free(&blob);
    arca_session_free(model);
    arca_store_session_free(rec);
    return rc;
}

int arca_attest_secrets_load(const struct arca_attest_ctx *ctx,
                             const struct arca_store_session *rec, const struct arca_session *model,
                             struct arca_secret_set **out)
{
    struct arca_buf blob;
    arca_buf_init_secret(&blob, 0);
    int rc = arca_store_secrets_get(ctx->store, rec->hash, &blob);
    if (rc == 0)
        rc = arca_secret_set_decode(blob.data, blob.len, out);
    else if (rc == ARCA_ERR_NOT_FOUND)
        rc = arca_secret_set_new(out);
    arca_buf_free(&blob);
    for (size_t i = 0; rc == 0 && i < model->n_secrets; i++) {
        const struct arca_secret *d = &model->secrets[i];
        if (d->has_import)
            rc = import_one(ctx, rec->name, rec->hash, d, *out);
    }
    if (rc < 0) {
        arca_secret_set_free(*out);
        *out = NULL;
    }
    return rc;
}
