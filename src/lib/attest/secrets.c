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
    struct arca_secret_value *v = NULL;
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
    rc = arca_store_secrets_get(ctx->store, rec->hash, &blob);
    if (rc == 0)
        rc = arca_secret_set_decode(blob.data, blob.len, &their_set);
    else if (rc == ARCA_ERR_NOT_FOUND)
        rc = 0; /* nothing stored: only a config-fragment can have a value */
    if (rc < 0)
        goto out;
    rc = arca_export_value(src, their_set, &v);
    ARCA_GUARD_ENSURE(rc, rc != ARCA_ERR_NOT_FOUND, out, ARCA_ERR_NOT_FOUND,
                      "secrets[%s].import: %s has no value for %s yet", d->name.s, from, theirs);
    if (rc < 0)
        goto out;
    ARCA_GUARD(rc, kind_check(d, v, from), out);
    ARCA_GUARD(rc, arca_secret_set_put(set, d->name.s, d->name.len, v), out);
out:
    arca_secret_value_free(v);
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

/* One imported secret d into set (local or remote), as arca_attest_secrets_load does. */
static int import_one(const struct arca_attest_ctx *ctx, const char *name, const uint8_t hash[32],
                      const struct arca_secret *d, int64_t now, struct arca_secret_set *set)
{
    if (d->import_from.cas_url.s != NULL)
        return import_remote(ctx, name, hash, d, now, set);
    return import_local(ctx, name, hash, d, set);
}

/* The use of model whose field holds the diagnostic's path (the first use when none does). */
static const struct arca_import_use *use_of(const struct arca_session *model, const char *path)
{
    for (size_t i = 0; path != NULL && i < model->n_import_uses; i++) {
        const struct arca_import_use *u = &model->import_uses[i];
        if (strncmp(path, u->field.s, u->field.len) == 0)
            return u;
    }
    return &model->import_uses[0];
}

/* Fetches the value of every import use of model into set and points frags at their text. */
static int fetch_fragments(const struct arca_attest_ctx *ctx, const char *name,
                           const uint8_t hash[32], const struct arca_session *model, int64_t now,
                           bool access_only, struct arca_secret_set *set,
                           struct arca_fragment_value *frags, size_t *nf)
{
    *nf = 0;
    for (size_t i = 0; i < model->n_import_uses; i++) {
        const struct arca_import_use *u = &model->import_uses[i];
        if (access_only && strncmp(u->field.s, "access_policy", 13) != 0)
            continue;
        if (arca_secret_set_get(set, u->secret.s, u->secret.len) != NULL)
            continue; /* the same import in several places */
        const struct arca_secret *d = arca_session_find_secret(model, u->secret.s);
        ARCA_ENSURE(d != NULL && d->has_import, ARCA_ERR_INTERNAL, "%s: '%s' is no imported secret",
                    u->field.s, u->secret.s);
        int rc = import_one(ctx, name, hash, d, now, set);
        if (rc < 0)
            return arca_err_wrap(rc, "%s: imported config-fragment '%s'", u->field.s, u->secret.s);
        struct arca_secret_value *v = arca_secret_set_get(set, u->secret.s, u->secret.len);
        enum arca_secret_kind k = arca_secret_value_kind(v);
        ARCA_ENSURE(k == ARCA_SECRET_CONFIG_FRAGMENT || k == ARCA_SECRET_ASCII, ARCA_ERR_POLICY,
                    "%s: imported '%s' is a %s, not a config fragment", u->field.s, u->secret.s,
                    arca_secret_kind_name(k));
        frags[*nf].name = d->name.s;
        frags[*nf].text = (const char *)arca_secret_value_bytes(v, &frags[*nf].len);
        (*nf)++;
    }
    return 0;
}

/* arca_attest_session_resolve; access_only: only the access policy's imports are fetched. */
static int resolve(const struct arca_attest_ctx *ctx, const char *name, const uint8_t hash[32],
                   const char *yaml, size_t len, int64_t now, bool access_only,
                   struct arca_session **out)
{
    ARCA_ENSURE_REF(ctx);
    ARCA_ENSURE_REF(name);
    ARCA_ENSURE_REF(out);
    *out = NULL;
    struct arca_session *model = NULL;
    ARCA_TRY(arca_session_load(yaml, len, name, &model, NULL));
    if (model->n_import_uses == 0) {
        *out = model;
        return 0;
    }
    struct arca_secret_set *set = NULL;
    struct arca_fragment_value *frags = calloc(model->n_import_uses, sizeof(*frags));
    struct arca_diag d;
    arca_diag_init(&d);
    size_t nf = 0;
    int rc = frags == NULL ? arca_err_set(ARCA_ERR_ALLOC, "imports: out of memory") : 0;
    if (rc == 0)
        rc = arca_secret_set_new(&set);
    if (rc == 0)
        rc = fetch_fragments(ctx, name, hash, model, now, access_only, set, frags, &nf);
    if (rc == 0) {
        rc = arca_session_load_imported(yaml, len, name, frags, nf, out, &d);
        if (rc < 0 && d.n > 0) {
            const struct arca_import_use *u = use_of(model, d.v[0].path);
            rc = arca_err_set(ARCA_ERR_FORMAT,
                              "%s: imported config-fragment '%s' does not fit there: %s: %s",
                              u->field.s, u->secret.s, d.v[0].path ? d.v[0].path : "", d.v[0].msg);
        } else if (rc < 0) {
            rc = arca_err_wrap(rc, "session %s with its imported fragments", name);
        }
    }
    arca_diag_free(&d);
    free(frags);
    arca_secret_set_free(set);
    arca_session_free(model);
    return rc;
}

int arca_attest_session_resolve(const struct arca_attest_ctx *ctx, const char *name,
                                const uint8_t hash[32], const char *yaml, size_t len, int64_t now,
                                struct arca_session **out)
{
    return resolve(ctx, name, hash, yaml, len, now, false, out);
}

int arca_attest_access_resolve(struct arca_store *store, const struct arca_attest_remote *remote,
                               const char *name, const uint8_t hash[32], const char *yaml,
                               size_t len, int64_t now, struct arca_session **model)
{
    ARCA_ENSURE_REF(model);
    ARCA_ENSURE_REF(*model);
    const struct arca_access_policy *ap = &(*model)->access;
    if (ap->read.import.s == NULL && ap->update.import.s == NULL &&
        ap->create_sessions.import.s == NULL && ap->list_sessions.import.s == NULL)
        return 0;
    struct arca_attest_ctx c;
    memset(&c, 0, sizeof(c));
    c.store = store;
    c.remote = remote;
    struct arca_session *resolved = NULL;
    ARCA_TRY(resolve(&c, name, hash, yaml, len, now, true, &resolved));
    arca_session_free(*model);
    *model = resolved;
    return 0;
}
