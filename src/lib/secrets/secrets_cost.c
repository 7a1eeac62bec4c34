/*
 * Cost bounds for secret generation (secrets.h): an estimate per definition, summed, compared
 * with the limits before anything is generated.
 */
#include <stdio.h>

#include "base/err.h"
#include "secrets/secrets.h"

#define COST_EC_MS 1
#define COST_CERT_MS 2

static uint64_t key_cost_ms(enum arca_key_type t)
{
    switch (t) {
    case ARCA_KEY_RSA2048:
        return 250;
    case ARCA_KEY_RSA3072:
        return 1000;
    case ARCA_KEY_RSA4096:
        return 3000;
    default:
        return COST_EC_MS;
    }
}

static bool is_rsa(enum arca_key_type t)
{
    return t == ARCA_KEY_RSA2048 || t == ARCA_KEY_RSA3072 || t == ARCA_KEY_RSA4096;
}

void arca_secrets_limits_default(struct arca_secrets_limits *lim)
{
    lim->max_keys = 256;
    lim->max_certificates = 256;
    lim->max_cost_ms = 10000;
}

int arca_secrets_cost_check(const struct arca_secret_spec *specs, size_t count,
                            const struct arca_secrets_limits *lim, struct arca_secrets_cost *cost)
{
    ARCA_ENSURE(specs != NULL || count == 0, ARCA_ERR_INVALID_ARG, "secrets cost: NULL specs");
    ARCA_ENSURE_REF(lim);
    struct arca_secrets_cost c = {0};
    for (size_t i = 0; i < count; i++) {
        const struct arca_secret_spec *sp = &specs[i];
        if (sp->external || sp->value != NULL)
            continue;
        if (sp->kind == ARCA_SECRET_PRIVATE_KEY) {
            enum arca_key_type t = sp->key_type == ARCA_KEY_NONE ? ARCA_KEY_P256 : sp->key_type;
            c.keys++;
            c.rsa_keys += is_rsa(t);
            c.cost_ms += key_cost_ms(t);
        } else if (sp->kind == ARCA_SECRET_X509 || sp->kind == ARCA_SECRET_X509_CA) {
            c.certificates++;
            c.cost_ms += COST_CERT_MS;
            if (sp->private_key == NULL) { /* a fresh P-256 key of its own */
                c.keys++;
                c.cost_ms += COST_EC_MS;
            }
        } else if (sp->kind == ARCA_SECRET_PGP_KEY) {
            c.keys += 2; /* Ed25519 primary, X25519 subkey, two signatures */
            c.cost_ms += 2 * COST_EC_MS + 2 * COST_CERT_MS;
        } else if (sp->kind == ARCA_SECRET_JWT) {
            c.cost_ms += COST_CERT_MS; /* one signature, as a certificate's */
        }
    }
    if (cost != NULL)
        *cost = c;
    ARCA_ENSURE(lim->max_keys == 0 || c.keys <= lim->max_keys, ARCA_ERR_LIMIT,
                "the session makes arca generate %zu private keys; the limit is %zu per session",
                c.keys, lim->max_keys);
    ARCA_ENSURE(lim->max_certificates == 0 || c.certificates <= lim->max_certificates,
                ARCA_ERR_LIMIT,
                "the session makes arca issue %zu certificates; the limit is %zu per session",
                c.certificates, lim->max_certificates);
    ARCA_ENSURE(lim->max_cost_ms == 0 || c.cost_ms <= lim->max_cost_ms, ARCA_ERR_LIMIT,
                "the session's keys and certificates (%zu keys, %zu of them RSA; %zu "
                "certificates) take an estimated %.1f s to generate; the limit is %.1f s per "
                "session",
                c.keys, c.rsa_keys, c.certificates, (double)c.cost_ms / 1000.0,
                (double)lim->max_cost_ms / 1000.0);
    return 0;
}
