/*
 * Generation of secret values from definitions, in dependency order, with the session
 * language's migration rules on update (§1.3 "Secret migration on update").
 */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "policy/session.h" /* arca_secret_kind_name */
#include "secrets/secrets_internal.h"

/*
 * Alphabet of generated ascii secrets: the printable ASCII characters except space and the
 * characters that break quoting in command lines, environment files, JSON and YAML, or look
 * like placeholder syntax: " ' \ ` $. 89 characters, about 6.48 bits each.
 */
static const char ascii_alphabet[] = "!#%&()*+,-./0123456789:;<=>?@"
                                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_"
                                     "abcdefghijklmnopqrstuvwxyz{|}~";
#define ASCII_ALPHABET_LEN (sizeof(ascii_alphabet) - 1)

static int gen_ascii(size_t size, struct arca_secret_value **out)
{
    uint8_t *chars = malloc(size ? size : 1);
    if (chars == NULL)
        ARCA_BAIL(ARCA_ERR_ALLOC, "ascii secret: out of memory");
    uint8_t pool[64];
    size_t have = 0, used = 0;
    int rc = 0;
    /* Rejection sampling keeps every character equally likely. */
    const unsigned limit = 256 - 256 % ASCII_ALPHABET_LEN;
    for (size_t i = 0; i < size;) {
        if (used == have) {
            ARCA_GUARD(rc, arca_random(pool, sizeof(pool)), done);
            have = sizeof(pool);
            used = 0;
        }
        uint8_t r = pool[used++];
        if (r < limit)
            chars[i++] = (uint8_t)ascii_alphabet[r % ASCII_ALPHABET_LEN];
    }
    rc = arca_secret_value_new_bytes(ARCA_SECRET_ASCII, chars, size, ARCA_SECRET_FLAG_GENERATED,
                                     out);
done:
    arca_wipe(pool, sizeof(pool));
    arca_wipe_free(chars, size ? size : 1);
    return rc;
}

static int gen_binary(size_t size, struct arca_secret_value **out)
{
    uint8_t *b = malloc(size ? size : 1);
    if (b == NULL)
        ARCA_BAIL(ARCA_ERR_ALLOC, "binary secret: out of memory");
    int rc = arca_random(b, size);
    if (rc == 0)
        rc = arca_secret_value_new_bytes(ARCA_SECRET_BINARY, b, size, ARCA_SECRET_FLAG_GENERATED,
                                         out);
    arca_wipe_free(b, size ? size : 1);
    return rc;
}

static enum arca_key_type effective_key_type(const struct arca_secret_spec *sp)
{
    return sp->key_type == ARCA_KEY_NONE ? ARCA_KEY_P256 : sp->key_type;
}

static size_t effective_size(const struct arca_secret_spec *sp)
{
    return sp->size == 0 ? ARCA_SECRET_SIZE_DEFAULT : sp->size;
}

/* ---- generation context ---------------------------------------------------------------- */

struct gen {
    const struct arca_secret_spec *specs;
    size_t count;
    const struct arca_secret_set *old;
    int64_t now;
    struct arca_secret_set *work; /* the result being built */
    uint8_t *state;               /* per spec: 0 todo, 1 in progress, 2 done */
    /* Renewal: certificates without a private_key secret keep the key of their value here. */
    const struct arca_secret_set *reuse_keys;
};

static const struct arca_secret_spec *spec_find(const struct gen *g, const char *name, size_t *idx)
{
    for (size_t i = 0; i < g->count; i++) {
        if (strcmp(g->specs[i].name, name) == 0) {
            *idx = i;
            return &g->specs[i];
        }
    }
    return NULL;
}

static int gen_one(struct gen *g, size_t i);

/* Makes sure the secret `ref` (named by field `field` of spec sp) has a value of kind want
 * (or either x509 kind when want is ARCA_SECRET_X509_CA and any_cert) and returns it. */
static int dependency(struct gen *g, const struct arca_secret_spec *sp, const char *field,
                      const char *ref, enum arca_secret_kind want, struct arca_secret_value **out)
{
    size_t j;
    if (spec_find(g, ref, &j) != NULL)
        ARCA_TRY(gen_one(g, j));
    struct arca_secret_value *v = arca_secret_set_get(g->work, ref, strlen(ref));
    if (v == NULL)
        ARCA_BAIL(ARCA_ERR_NOT_FOUND,
                  "secret '%s': %s '%s' has no value (no such secret, or an import/provided_by "
                  "value that was not supplied)",
                  sp->name, field, ref);
    if (v->kind != want)
        ARCA_BAIL(ARCA_ERR_INVALID_ARG, "secret '%s': %s '%s' is a %s secret, not %s", sp->name,
                  field, ref, arca_secret_kind_name(v->kind), arca_secret_kind_name(want));
    *out = v;
    return 0;
}

/* The value kept from the predecessor under the migration rules, or NULL. */
static struct arca_secret_value *migrated(const struct gen *g, const struct arca_secret_spec *sp)
{
    struct arca_secret_value *v = arca_secret_set_get(g->old, sp->name, strlen(sp->name));
    if (v == NULL || v->kind != sp->kind || !(v->flags & ARCA_SECRET_FLAG_GENERATED))
        return NULL;
    switch (sp->kind) {
    case ARCA_SECRET_ASCII:
    case ARCA_SECRET_BINARY:
        return v->len == effective_size(sp) ? v : NULL;
    case ARCA_SECRET_PRIVATE_KEY:
        /* Only if both the old and the new definition say migrate: true. */
        if (!sp->migrate || !(v->flags & ARCA_SECRET_FLAG_MIGRATE))
            return NULL;
        return arca_key_type(v->key) == effective_key_type(sp) ? v : NULL;
    case ARCA_SECRET_PGP_KEY:
        return v; /* kept on update, as the docs' migration table says */
    default:
        return NULL; /* certificates are always re-issued */
    }
}

static bool key_type_allowed(enum arca_key_type t)
{
    return t == ARCA_KEY_P256 || t == ARCA_KEY_P384 || t == ARCA_KEY_ED25519 ||
           t == ARCA_KEY_RSA2048 || t == ARCA_KEY_RSA3072;
}

static int gen_x509(struct gen *g, const struct arca_secret_spec *sp,
                    struct arca_secret_value **out)
{
    bool ca = sp->kind == ARCA_SECRET_X509_CA;
    if (ca && sp->endpoint != 0)
        ARCA_BAIL(ARCA_ERR_INVALID_ARG,
                  "secret '%s': endpoint applies to end-entity certificates (x509), not x509-ca",
                  sp->name);
    if (sp->endpoint != 0 && sp->endpoint != ARCA_EKU_SERVER && sp->endpoint != ARCA_EKU_CLIENT)
        ARCA_BAIL(ARCA_ERR_INVALID_ARG, "secret '%s': endpoint must be server or client", sp->name);
    if (sp->endpoint == ARCA_EKU_CLIENT && sp->dns_count > 0)
        ARCA_BAIL(ARCA_ERR_INVALID_ARG, "secret '%s': dns is not allowed with endpoint: client",
                  sp->name);
    size_t nsan = sp->dns_count + sp->san_count;
    if (nsan > ARCA_SECRET_SAN_MAX)
        ARCA_BAIL(ARCA_ERR_TOO_LARGE, "secret '%s': %zu subject alternative names (at most %d)",
                  sp->name, nsan, ARCA_SECRET_SAN_MAX);

    struct arca_key *key = NULL, *fresh = NULL;
    struct arca_secret_value *issuer = NULL;
    if (sp->private_key != NULL) {
        struct arca_secret_value *kv;
        ARCA_TRY(dependency(g, sp, "private_key", sp->private_key, ARCA_SECRET_PRIVATE_KEY, &kv));
        key = kv->key;
    }
    if (sp->issuer != NULL) {
        ARCA_TRY(dependency(g, sp, "issuer", sp->issuer, ARCA_SECRET_X509_CA, &issuer));
        if (issuer->key == NULL)
            ARCA_BAIL(ARCA_ERR_NOT_FOUND,
                      "secret '%s': issuer '%s' has no private key to sign with (imported or "
                      "explicit without its key)",
                      sp->name, sp->issuer);
    }

    /* SAN list: "dns:" entries from the deprecated dns field, then san as written. */
    char **san = calloc(nsan ? nsan : 1, sizeof(*san));
    if (san == NULL)
        ARCA_BAIL(ARCA_ERR_ALLOC, "out of memory");
    int rc = 0;
    const char *first_dns = NULL;
    for (size_t i = 0; i < sp->dns_count; i++) {
        size_t l = strlen(sp->dns[i]);
        san[i] = malloc(l + 5);
        ARCA_GUARD_ENSURE(rc, san[i] != NULL, done, ARCA_ERR_ALLOC, "out of memory");
        memcpy(san[i], "dns:", 4);
        memcpy(san[i] + 4, sp->dns[i], l + 1);
        if (first_dns == NULL)
            first_dns = sp->dns[i];
    }
    for (size_t i = 0; i < sp->san_count; i++) {
        const char *e = sp->san[i];
        ARCA_GUARD_ENSURE(rc, strncmp(e, "dns:", 4) == 0 || strncmp(e, "ip:", 3) == 0, done,
                          ARCA_ERR_INVALID_ARG,
                          "secret '%s': san entry %zu must start with dns: or ip:", sp->name, i);
        san[sp->dns_count + i] = strdup(e);
        ARCA_GUARD_ENSURE(rc, san[sp->dns_count + i] != NULL, done, ARCA_ERR_ALLOC,
                          "out of memory");
        if (first_dns == NULL && strncmp(e, "dns:", 4) == 0)
            first_dns = e + 4;
    }

    if (key == NULL && g->reuse_keys != NULL) {
        struct arca_secret_value *prev =
            arca_secret_set_get(g->reuse_keys, sp->name, strlen(sp->name));
        if (prev != NULL && prev->cert != NULL)
            key = prev->key;
    }
    if (key == NULL) {
        /* No private_key named: the certificate gets its own fresh P-256 key. */
        ARCA_GUARD(rc, arca_key_generate(ARCA_KEY_P256, &fresh), done);
        key = fresh;
    }

    struct arca_x509_params params = {
        .common_name = sp->common_name ? sp->common_name
                       : first_dns     ? first_dns
                                       : sp->name,
        .is_ca = ca,
        .path_len = -1,
        .san = (const char *const *)san,
        .san_count = nsan,
        .eku = sp->endpoint,
        .not_before = g->now - ARCA_SECRET_BACKDATE_SECONDS,
        .not_after = g->now + (sp->valid_for > 0 ? sp->valid_for
                               : ca              ? ARCA_SECRET_DEFAULT_VALID_FOR_CA
                                                 : ARCA_SECRET_DEFAULT_VALID_FOR_LEAF),
    };
    ARCA_GUARD_ENSURE(rc, sp->valid_for >= 0, done, ARCA_ERR_INVALID_ARG,
                      "secret '%s': valid_for is negative", sp->name);
    if (issuer != NULL) {
        /* A certificate never outlives its issuer. */
        int64_t inb, ina;
        ARCA_GUARD(rc, arca_x509_validity(issuer->cert, &inb, &ina), done);
        if (params.not_after > ina)
            params.not_after = ina;
    }
    struct arca_x509 *cert = NULL;
    ARCA_GUARD(rc,
               arca_x509_build(&params, key, issuer ? issuer->cert : NULL,
                               issuer ? issuer->key : NULL, &cert),
               done);

    /* Chain: the issuer, then the issuer's own chain up to the root. */
    struct arca_x509 *chain[ARCA_SECRET_CHAIN_MAX];
    size_t nchain = 0;
    if (issuer != NULL) {
        if (issuer->chain_count + 1 > ARCA_SECRET_CHAIN_MAX) {
            arca_x509_free(cert);
            rc = arca_err_set(ARCA_ERR_TOO_LARGE, "secret '%s': issuer chain longer than %d",
                              sp->name, ARCA_SECRET_CHAIN_MAX);
            goto done;
        }
        chain[nchain++] = issuer->cert;
        for (size_t i = 0; i < issuer->chain_count; i++)
            chain[nchain++] = issuer->chain[i];
    }
    rc = arca_secret_value_new_x509(sp->kind, cert, key, chain, nchain, ARCA_SECRET_FLAG_GENERATED,
                                    out);
    arca_x509_free(cert);
done:
    for (size_t i = 0; i < nsan; i++)
        free(san[i]);
    free(san);
    arca_key_free(fresh);
    return rc;
}

static int produce(struct gen *g, const struct arca_secret_spec *sp, struct arca_secret_value **out)
{
    *out = NULL;
    if (sp->value != NULL) {
        struct arca_key *key = NULL;
        if ((sp->kind == ARCA_SECRET_X509 || sp->kind == ARCA_SECRET_X509_CA) &&
            sp->private_key != NULL) {
            struct arca_secret_value *kv;
            ARCA_TRY(
                dependency(g, sp, "private_key", sp->private_key, ARCA_SECRET_PRIVATE_KEY, &kv));
            key = kv->key;
        }
        return arca_secret_value_parse(sp->name, sp->kind, sp->value, sp->value_len, key, out);
    }
    struct arca_secret_value *kept = migrated(g, sp);
    if (kept != NULL) {
        *out = arca_secret_value_ref(kept);
        return 0;
    }
    switch (sp->kind) {
    case ARCA_SECRET_ASCII:
    case ARCA_SECRET_BINARY: {
        size_t size = effective_size(sp);
        if (size > ARCA_SECRET_SIZE_MAX)
            ARCA_BAIL(ARCA_ERR_TOO_LARGE, "secret '%s': size %zu is larger than %u", sp->name, size,
                      ARCA_SECRET_SIZE_MAX);
        return sp->kind == ARCA_SECRET_ASCII ? gen_ascii(size, out) : gen_binary(size, out);
    }
    case ARCA_SECRET_PRIVATE_KEY: {
        enum arca_key_type t = effective_key_type(sp);
        if (!key_type_allowed(t))
            ARCA_BAIL(ARCA_ERR_UNSUPPORTED,
                      "secret '%s': key_type %s cannot be generated (P-256, P-384, Ed25519, "
                      "RSA-2048, RSA-3072)",
                      sp->name, arca_key_type_name(t));
        struct arca_key *k;
        ARCA_TRY(arca_key_generate(t, &k));
        unsigned flags = ARCA_SECRET_FLAG_GENERATED | (sp->migrate ? ARCA_SECRET_FLAG_MIGRATE : 0);
        int rc = arca_secret_value_new_key(k, flags, out);
        arca_key_free(k);
        return rc;
    }
    case ARCA_SECRET_X509:
    case ARCA_SECRET_X509_CA:
        return gen_x509(g, sp, out);
    case ARCA_SECRET_JWT: {
        struct arca_secret_value *kv;
        ARCA_ENSURE(sp->signer != NULL, ARCA_ERR_INVALID_ARG, "secret '%s': jwt needs a signer",
                    sp->name);
        ARCA_TRY(dependency(g, sp, "signer", sp->signer, ARCA_SECRET_PRIVATE_KEY, &kv));
        return arca_secret_jwt_make(sp, kv->key, g->now, out);
    }
    case ARCA_SECRET_PGP_KEY:
        return arca_secret_pgp_make(sp, g->now, out);
    case ARCA_SECRET_AAD_TOKEN:
        ARCA_BAIL(ARCA_ERR_UNSUPPORTED, "secret '%s': kind %s is not supported by arca", sp->name,
                  arca_secret_kind_name(sp->kind));
    default:
        ARCA_BAIL(ARCA_ERR_INVALID_ARG, "secret '%s': no kind", sp->name);
    }
}

static int gen_one(struct gen *g, size_t i)
{
    const struct arca_secret_spec *sp = &g->specs[i];
    if (g->state[i] == 2)
        return 0;
    if (g->state[i] == 1)
        ARCA_BAIL(ARCA_ERR_FORMAT, "secret '%s': circular private_key/issuer references", sp->name);
    g->state[i] = 1;
    int rc = 0;
    size_t name_len = strlen(sp->name);
    /* Values already present (supplied by the caller) win; external ones are never made. */
    if (sp->kind != ARCA_SECRET_CONFIG_FRAGMENT && !sp->external &&
        arca_secret_set_get(g->work, sp->name, name_len) == NULL) {
        struct arca_secret_value *v = NULL;
        rc = produce(g, sp, &v);
        if (rc == 0) {
            rc = arca_secret_set_add(g->work, sp->name, name_len, v);
            arca_secret_value_free(v);
        }
    }
    g->state[i] = 2;
    return rc;
}

static int check_specs(const struct arca_secret_spec *specs, size_t count)
{
    ARCA_ENSURE(specs != NULL || count == 0, ARCA_ERR_INVALID_ARG, "secrets: specs are NULL");
    ARCA_ENSURE(count <= ARCA_SECRET_SET_MAX, ARCA_ERR_TOO_LARGE, "secrets: %zu definitions",
                count);
    for (size_t i = 0; i < count; i++) {
        const char *n = specs[i].name;
        ARCA_ENSURE(n != NULL && n[0] != 0 && strlen(n) <= ARCA_SECRET_NAME_MAX,
                    ARCA_ERR_INVALID_ARG, "secrets: definition %zu has no usable name", i);
        for (size_t j = 0; j < i; j++)
            ARCA_ENSURE(strcmp(specs[j].name, n) != 0, ARCA_ERR_INVALID_ARG,
                        "secrets: '%s' is defined twice", n);
    }
    return 0;
}

/*
 * Runs generation over g->specs starting from the entries of set whose drop flag is false (drop
 * may be NULL), and swaps the result into set on success only.
 */
static int run(struct gen *g, struct arca_secret_set *set, const bool *drop)
{
    int rc = arca_secret_set_new(&g->work);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < set->n; i++) {
        if (drop == NULL || !drop[i])
            ARCA_GUARD(
                rc,
                arca_secret_set_add(g->work, set->v[i].name, set->v[i].name_len, set->v[i].value),
                done);
    }
    g->state = calloc(g->count ? g->count : 1, 1);
    ARCA_GUARD_ENSURE(rc, g->state != NULL, done, ARCA_ERR_ALLOC, "out of memory");
    for (size_t i = 0; i < g->count; i++)
        ARCA_GUARD(rc, gen_one(g, i), done);

    /* Commit: swap the contents. */
    struct arca_secret_set tmp = *set;
    *set = *g->work;
    *g->work = tmp;
done:
    arca_secret_set_free(g->work);
    free(g->state);
    g->work = NULL;
    g->state = NULL;
    return rc;
}

int arca_secrets_generate(const struct arca_secret_spec *specs, size_t count,
                          const struct arca_secret_set *old, int64_t now,
                          struct arca_secret_set *set)
{
    ARCA_ENSURE_REF(set);
    ARCA_TRY(check_specs(specs, count));
    struct gen g = {.specs = specs, .count = count, .old = old, .now = now};
    return run(&g, set, NULL);
}

/* 1 if spec i's certificate must be re-issued at now (itself or an issuer above it is due). */
static bool renewal_due(const struct arca_secret_spec *specs, size_t count,
                        const struct arca_secret_set *set, int64_t now, size_t i, size_t depth)
{
    const struct arca_secret_spec *sp = &specs[i];
    bool jwt = sp->kind == ARCA_SECRET_JWT && sp->jwt_until == 0;
    if ((sp->kind != ARCA_SECRET_X509 && sp->kind != ARCA_SECRET_X509_CA && !jwt) ||
        sp->value != NULL || sp->external || depth > count)
        return false;
    struct arca_secret_value *v = arca_secret_set_get(set, sp->name, strlen(sp->name));
    if (v == NULL || !(v->flags & ARCA_SECRET_FLAG_GENERATED))
        return false;
    if (arca_secret_value_needs_renewal(v, now))
        return true;
    if (sp->issuer == NULL)
        return false;
    for (size_t j = 0; j < count; j++) {
        if (strcmp(specs[j].name, sp->issuer) == 0)
            return renewal_due(specs, count, set, now, j, depth + 1);
    }
    return false;
}

int arca_secrets_renew(const struct arca_secret_spec *specs, size_t count, int64_t now,
                       struct arca_secret_set *set, size_t *renewed)
{
    ARCA_ENSURE_REF(set);
    ARCA_TRY(check_specs(specs, count));
    bool *drop = calloc(set->n ? set->n : 1, sizeof(*drop));
    if (drop == NULL)
        ARCA_BAIL(ARCA_ERR_ALLOC, "out of memory");
    size_t due = 0;
    for (size_t i = 0; i < count; i++) {
        if (!renewal_due(specs, count, set, now, i, 0))
            continue;
        for (size_t k = 0; k < set->n; k++) {
            if (strcmp(set->v[k].name, specs[i].name) == 0) {
                drop[k] = true;
                due++;
            }
        }
    }
    int rc = 0;
    if (due > 0) {
        /* Keys stay: private-key values are kept as they are in set, and certificates without
         * a private_key secret reuse the key of their current value. */
        struct gen g = {.specs = specs, .count = count, .now = now, .reuse_keys = set};
        rc = run(&g, set, drop); /* set is only swapped after every value is made */
    }
    free(drop);
    if (rc == 0 && renewed != NULL)
        *renewed = due;
    return rc;
}

bool arca_secret_value_needs_renewal(const struct arca_secret_value *v, int64_t now)
{
    if (v != NULL && v->kind == ARCA_SECRET_JWT)
        return arca_secret_jwt_due(v, now);
    if (v == NULL || v->cert == NULL)
        return false;
    int64_t nb, na;
    if (arca_x509_validity(v->cert, &nb, &na) < 0)
        return false;
    if (na >= ARCA_SECRET_NOT_AFTER_UNLIMITED || na <= nb)
        return false;
    return now >= nb + (na - nb) / 3 * 2;
}
