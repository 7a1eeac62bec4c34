/*
 * Session model -> secret specs (see session_specs.h).
 */
#include "secrets/session_specs.h"

#include <stdlib.h>

#include "base/err.h"

/* An array of C strings borrowed from model strings (NULL if n == 0); free only the array. */
static int str_array(const struct arca_str *v, size_t n, const char *const **out)
{
    *out = NULL;
    if (n == 0)
        return 0;
    const char **a = calloc(n, sizeof(*a));
    if (a == NULL)
        ARCA_BAIL(ARCA_ERR_ALLOC, "secret specs: out of memory");
    for (size_t i = 0; i < n; i++)
        a[i] = v[i].s ? v[i].s : "";
    *out = a;
    return 0;
}

void arca_secret_specs_free(struct arca_secret_spec *specs, size_t count)
{
    if (specs == NULL)
        return;
    for (size_t i = 0; i < count; i++) {
        free((void *)specs[i].dns);
        free((void *)specs[i].san);
        free((void *)specs[i].claims);
    }
    free(specs);
}

int arca_secret_specs_from_session(const struct arca_session *s, struct arca_secret_spec **out,
                                   size_t *count)
{
    ARCA_ENSURE_REF(s);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE_REF(count);
    *out = NULL;
    *count = 0;
    if (s->n_secrets == 0)
        return 0;
    struct arca_secret_spec *specs = calloc(s->n_secrets, sizeof(*specs));
    if (specs == NULL)
        ARCA_BAIL(ARCA_ERR_ALLOC, "secret specs: out of memory");
    int rc = 0;
    for (size_t i = 0; i < s->n_secrets; i++) {
        const struct arca_secret *m = &s->secrets[i];
        struct arca_secret_spec *sp = &specs[i];
        sp->name = m->name.s;
        sp->kind = m->kind;
        sp->size = m->has_size ? m->size : 0;
        sp->key_type = m->key_type;
        sp->migrate = m->migrate;
        sp->value = m->value.s;
        sp->value_len = m->value.s ? m->value.len : 0;
        sp->external = m->has_import || m->provided_by.s != NULL;
        sp->private_key = m->private_key.s;
        sp->issuer = m->issuer.s;
        sp->common_name = m->common_name.s;
        sp->endpoint = m->endpoint == ARCA_ENDPOINT_SERVER   ? ARCA_EKU_SERVER
                       : m->endpoint == ARCA_ENDPOINT_CLIENT ? ARCA_EKU_CLIENT
                                                             : 0;
        ARCA_GUARD(rc, str_array(m->dns, m->n_dns, &sp->dns), fail);
        sp->dns_count = m->n_dns;
        ARCA_GUARD(rc, str_array(m->san, m->n_san, &sp->san), fail);
        sp->san_count = m->n_san;
        sp->valid_for = m->has_valid_for ? m->valid_for : 0;
        sp->signer = m->signer.s;
        sp->jwt_alg = m->jwt_alg.s;
        sp->jwt_valid_for = m->jwt_valid_for;
        sp->jwt_until = m->jwt_until;
        ARCA_GUARD(rc, str_array(m->claims, m->n_claims, &sp->claims), fail);
        sp->claims_count = m->n_claims;
    }
    *out = specs;
    *count = s->n_secrets;
    return 0;
fail:
    arca_secret_specs_free(specs, s->n_secrets);
    return rc;
}

int arca_secrets_generate_for_session(const struct arca_session *s,
                                      const struct arca_secret_set *old, int64_t now,
                                      struct arca_secret_set *set)
{
    struct arca_secret_spec *specs;
    size_t n;
    ARCA_TRY(arca_secret_specs_from_session(s, &specs, &n));
    int rc = arca_secrets_generate(specs, n, old, now, set);
    arca_secret_specs_free(specs, n);
    return rc;
}
