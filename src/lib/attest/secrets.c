/*
 * The secrets an attested service may use (attest.h): the session's own and the imported ones,
 * from sessions of this arcad (export rules of secrets/export_rule.h) or, through
 * ctx->remote, from another arcad. Everything decrypted stays in secret buffers / secret sets,
 * wiped when freed.
 */
#include <stdlib.h>
#include <string.h>

#include "attest/attest.h"
#include "base/err.h"
#include "policy/session.h"
#include "secrets/export_rule.h"
#include "secrets/secrets.h"
#include "store/store.h"

/* The value's kind must be the one the importing secret names, if it names one. */
static int kind_check(const struct arca_secret *d, const struct arca_secret_value *v,
                      const char *from)
{
    enum arca_secret_kind k = arca_secret_value_kind(v);
    ARCA_ENSURE(d->kind == ARCA_SECRET_NONE || d->kind == k, ARCA_ERR_POLICY,
                "secrets[%s].import: %s exports a %s, this session expects a %s", d->name.s, from,
                arca_secret_kind_name(k), arca_secret_kind_name(d->kind));
    return 0;
}

/* One secret imported from a session of this arcad: its active version (of the pinned
 * session_hash, if given) must export it to this session. */
static int import_local(const struct arca_attest_ctx *ctx, const char *our_name,
                        const uint8_t our_hash[32], const struct arca_secret *d,
                        struct arca_secret_set *set)
{
    char from[ARCA_SESSION_NAME_MAX + 1];
    int rc = arca_session_ref_resolve(our_name, d->import_from.session.s, from, sizeof(from));
    if (rc < 0)
        return arca_err_wrap(rc, "secrets[%s].import", d->name.s);
    const char *theirs = d->import_secret.s ? d->import_secret.s : d->name.s;
    struct arca_store_session *rec = NULL;
    struct arca_session *model = NULL;
    struct arca_secret_set *their_set = NULL;
    struct arca_buf blob;
    arca_buf_init_secret(&blob, 0);
    rc = arca_store_session_get_active(ctx->store, from, &rec);
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
    struct arca_export_asker asker = {.session = our_name, .hash = our_hash};
    rc = arca_export_check(src, from, &asker);
    if (rc < 0) {
        rc = arca_err_wrap(rc, "secrets[%s].import", d->name.s);
        goto out;
    }
    ARCA_GUARD(rc, arca_store_secrets_get(ctx->store, rec->hash, &blob), out);
    ARCA_GUARD(rc, arca_secret_set_decode(blob.data, blob.len, &their_set), out);
    struct arca_secret_value *v = arca_secret_set_get(their_set, theirs, strlen(theirs));
    ARCA_GUARD_ENSURE(rc, v != NULL, out, ARCA_ERR_NOT_FOUND,
                      "secrets[%s].import: %s has no value for %s yet", d->name.s, from, theirs);
    ARCA_GUARD(rc, kind_check(d, v, from), out);
    ARCA_GUARD(rc, arca_secret_set_put(set, d->name.s, d->name.len, v), out);
out:
    arca_secret_set_free(their_set);
    arca_buf_free(&blob);
    arca_session_free(model);
    arca_store_session_free(rec);
    return rc;
}

/* One secret imported from another arcad (ctx->remote fetches it over the peer channel). */
static int import_remote(const struct arca_attest_ctx *ctx, const char *our_name,
                         const uint8_t our_hash[32], const struct arca_secret *d, int64_t now,
                         struct arca_secret_set *set)
{
    ARCA_ENSURE(ctx->remote != NULL && ctx->remote->fetch != NULL, ARCA_ERR_UNSUPPORTED,
                "secrets[%s].import: imports from another CAS are not enabled in this arcad",
                d->name.s);
    const char *from = d->import_from.session.s;
    ARCA_ENSURE(from != NULL && from[0] != '.', ARCA_ERR_FORMAT,
                "secrets[%s].import: a remote session is named absolutely", d->name.s);
    struct arca_attest_import q = {.session = our_name,
                                   .hash = our_hash,
                                   .d = d,
                                   .secret = d->import_secret.s ? d->import_secret.s : d->name.s};
    struct arca_secret_value *v = NULL;
    int rc = ctx->remote->fetch(ctx->remote->arg, &q, now, &v);
    if (rc < 0)
        return arca_err_wrap(rc, "secrets[%s].import from %.256s", d->name.s,
                             d->import_from.cas_url.s);
    rc = kind_check(d, v, from);
    if (rc == 0)
        rc = arca_secret_set_put(set, d->name.s, d->name.len, v);
    arca_secret_value_free(v);
    return rc;
}

int arca_attest_secrets_load(const struct arca_attest_ctx *ctx,
                             const struct arca_store_session *rec, const struct arca_session *model,
                             int64_t now, struct arca_secret_set **out)
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
        if (!d->has_import)
            continue;
        if (d->import_from.cas_url.s != NULL)
            rc = import_remote(ctx, rec->name, rec->hash, d, now, *out);
        else
            rc = import_local(ctx, rec->name, rec->hash, d, *out);
    }
    if (rc == 0)
        rc = arca_attest_provided_load(ctx->store, rec->name, model, *out);
    if (rc < 0) {
        arca_secret_set_free(*out);
        *out = NULL;
    }
    return rc;
}
