/* Public values: the export_public secrets of a session's active version (cas/cas.h). */
#include <string.h>

#include "base/err.h"
#include "cas/cas_internal.h"
#include "crypto/crypto.h"
#include "policy/session.h"
#include "secrets/secrets.h"

/* Renders the public form of value v of secret d into text; *kind gets the answer's kind. */
static int public_value(const struct arca_secret *d, const struct arca_secret_value *v,
                        const char **kind, struct arca_buf *text)
{
    const char *format = NULL;
    *kind = arca_secret_kind_name(d->kind);
    switch (d->kind) {
    case ARCA_SECRET_ASCII:
        format = "plain";
        *kind = "string";
        break;
    case ARCA_SECRET_BINARY:
        format = "hex";
        break;
    case ARCA_SECRET_X509:
    case ARCA_SECRET_X509_CA:
        format = "crt:pem";
        break;
    case ARCA_SECRET_PRIVATE_KEY: {
        /* export_public of a private key publishes only its public key. */
        struct arca_key *k = arca_secret_value_key(v);
        ARCA_ENSURE(k != NULL, ARCA_ERR_INTERNAL, "values: no key in '%s'", d->name.s);
        *kind = "public-key";
        return arca_key_public_pem(k, text);
    }
    default:
        ARCA_BAIL(ARCA_ERR_UNSUPPORTED, "values: kind of '%s' has no public form", d->name.s);
    }
    return arca_secret_value_render(v, format, text);
}

/* The secrets stored with version hash (NULL set when there are none). */
static int secrets_of(const struct arca_cas *cas, const uint8_t hash[32],
                      struct arca_secret_set **set)
{
    struct arca_buf blob;
    arca_buf_init_secret(&blob, 0);
    int rc = arca_store_secrets_get(cas->store, hash, &blob);
    if (rc == 0)
        rc = arca_secret_set_decode(blob.data, blob.len, set);
    else if (rc == ARCA_ERR_NOT_FOUND)
        rc = 0;
    arca_buf_free(&blob);
    return rc;
}

int arca_cas_values(const struct arca_cas *cas, const char *name, const char *secret,
                    struct arca_api_values *out)
{
    ARCA_ENSURE_REF(cas);
    ARCA_ENSURE_REF(name);
    ARCA_ENSURE_REF(out);
    memset(out, 0, sizeof(*out));
    struct arca_store_session *active = NULL;
    struct arca_cached_session *ref = NULL;
    struct arca_secret_set *set = NULL;
    int rc = 0;
    ARCA_GUARD(rc, arca_session_name_check(name, strlen(name), true), out);
    ARCA_GUARD(rc, arca_store_session_get_active(cas->store, name, &active), out);
    ARCA_GUARD(rc, cas_load_model(cas, active, &ref), out);
    const struct arca_session *model = arca_cached_session_model(ref);
    ARCA_GUARD(rc, secrets_of(cas, active->hash, &set), out);
    for (size_t i = 0; set != NULL && i < model->n_secrets; i++) {
        const struct arca_secret *d = &model->secrets[i];
        if (!d->export_public || (secret != NULL && strcmp(secret, d->name.s) != 0))
            continue;
        struct arca_secret_value *v = arca_secret_set_get(set, d->name.s, d->name.len);
        const char *kind = NULL;
        struct arca_buf text;
        arca_buf_init(&text, 0);
        /* A value without a public form is left out, as if it were not exported. */
        if (v != NULL && public_value(d, v, &kind, &text) == 0)
            rc = arca_api_values_add(out, d->name.s, kind, &text);
        arca_buf_free(&text);
        if (rc < 0)
            goto out;
    }
    arca_err_clear();
out:
    if (rc < 0)
        arca_api_values_clear(out);
    arca_secret_set_free(set);
    arca_cached_session_put(ref);
    arca_store_session_free(active);
    return rc;
}
