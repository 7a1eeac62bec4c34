/*
 * provided_by secrets (docs/session-language.md "provided_by"): the service a secret names
 * uploads its value after attestation, and the session's services receive it at their
 * attestation from then on.
 *
 * Why an upload needs no approval of its own: the session's update rule guards changes of the
 * policy, and the policy itself names the provider. An upload changes no policy; it fills a
 * value the policy delegated to an attested instance of that service (its measurement, platform
 * and access checks passed at attestation, which handed out the credential). So an upload is
 * authorised exactly when the credential was issued to session/SERVICE by the attestation of
 * the active policy and that policy still names SERVICE as the secret's provider; a policy
 * update that names another provider stops the old one at once.
 */
#include <string.h>

#include "attest/attest.h"
#include "attest/launch_config.h"
#include "base/err.h"
#include "crypto/crypto.h"
#include "policy/session.h"
#include "secrets/secrets.h"
#include "store/store.h"

#define PROVIDE_LABEL "arca-provide-v1"

static bool names_provider(const struct arca_secret *d, const char *service)
{
    return d->provided_by.s != NULL && strcmp(d->provided_by.s, service) == 0;
}

int arca_launch_config_provide_resolve(struct arca_store *st, const struct arca_session *model,
                                       const char *session, const char *service,
                                       struct arca_launch_config *c)
{
    ARCA_ENSURE_REF(model);
    ARCA_ENSURE_REF(session);
    ARCA_ENSURE_REF(service);
    ARCA_ENSURE_REF(c);
    bool provider = false;
    for (size_t i = 0; i < model->n_secrets && !provider; i++)
        provider = names_provider(&model->secrets[i], service);
    if (!provider)
        return 0;
    ARCA_ENSURE_REF(st);
    uint8_t key[32];
    ARCA_TRY(arca_store_volume_report_key(st, key));
    int rc = arca_random(c->provide_token, ARCA_LAUNCH_TOKEN_ID_LEN);
    if (rc == 0)
        rc = arca_launch_token_mac(PROVIDE_LABEL, key, session, service, c->provide_token,
                                   c->provide_token + ARCA_LAUNCH_TOKEN_ID_LEN);
    arca_wipe(key, sizeof(key));
    c->has_provide_token = rc == 0;
    if (rc < 0)
        arca_wipe(c->provide_token, sizeof(c->provide_token));
    return rc;
}

int arca_provided_apply(struct arca_store *st, const struct arca_session *model,
                        const char *session, const char *service, const char *secret,
                        const uint8_t token[ARCA_VOLUME_TOKEN_LEN], const void *value, size_t len,
                        uint64_t *seq)
{
    ARCA_ENSURE_REF(st);
    ARCA_ENSURE_REF(model);
    ARCA_ENSURE_REF(session);
    ARCA_ENSURE_REF(service);
    ARCA_ENSURE_REF(secret);
    ARCA_ENSURE_REF(token);
    ARCA_ENSURE_REF(value);
    ARCA_TRY(arca_launch_token_check(st, PROVIDE_LABEL, "provided value", session, service, token));
    const struct arca_secret *d = NULL;
    for (size_t i = 0; i < model->n_secrets && d == NULL; i++)
        if (model->secrets[i].name.s != NULL && strcmp(model->secrets[i].name.s, secret) == 0)
            d = &model->secrets[i];
    ARCA_ENSURE(d != NULL, ARCA_ERR_NOT_FOUND, "session %s has no secret %s", session, secret);
    ARCA_ENSURE(names_provider(d, service), ARCA_ERR_DENIED,
                "secret %s of session %s is not provided_by service %s", secret, session, service);
    struct arca_secret_value *v = NULL;
    enum arca_secret_kind kind = d->kind != ARCA_SECRET_NONE ? d->kind : ARCA_SECRET_ASCII;
    int rc = arca_secret_value_parse(secret, kind, value, len, NULL, &v);
    arca_secret_value_free(v);
    if (rc < 0)
        return arca_err_wrap(rc, "provided value of secret %s (a %s)", secret,
                             arca_secret_kind_name(kind));
    return arca_store_provided_put(st, session, secret, value, len, seq);
}

int arca_attest_provided_load(struct arca_store *st, const char *session,
                              const struct arca_session *model, struct arca_secret_set *set)
{
    ARCA_ENSURE_REF(st);
    ARCA_ENSURE_REF(session);
    ARCA_ENSURE_REF(model);
    ARCA_ENSURE_REF(set);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < model->n_secrets; i++) {
        const struct arca_secret *d = &model->secrets[i];
        if (d->provided_by.s == NULL)
            continue;
        struct arca_buf b;
        arca_buf_init_secret(&b, 0);
        rc = arca_store_provided_get(st, session, d->name.s, &b, NULL);
        if (rc == ARCA_ERR_NOT_FOUND) {
            /* Not uploaded yet: a service using it is refused when its config is built. */
            arca_err_clear();
            rc = 0;
        } else if (rc == 0) {
            enum arca_secret_kind kind = d->kind != ARCA_SECRET_NONE ? d->kind : ARCA_SECRET_ASCII;
            struct arca_secret_value *v = NULL;
            rc = arca_secret_value_parse(d->name.s, kind, (const char *)b.data, b.len, NULL, &v);
            if (rc == 0)
                rc = arca_secret_set_put(set, d->name.s, d->name.len, v);
            arca_secret_value_free(v);
        }
        arca_buf_free(&b);
        if (rc < 0)
            rc = arca_err_wrap(rc, "secrets[%s].provided_by", d->name.s);
    }
    return rc;
}
