/*
 * Session loader: secrets (kind, the parameters of each kind, explicit values, imports and
 * exports). Messages about explicit values name the kind and an offset, never the value.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/time.h"
#include "crypto/crypto.h"
#include "policy/load_internal.h"

static enum arca_secret_kind parse_kind(struct ld *L, const struct arca_ynode *n)
{
    static const struct {
        const char *name;
        enum arca_secret_kind kind;
    } kinds[] = {
        {"ascii", ARCA_SECRET_ASCII},
        {"binary", ARCA_SECRET_BINARY},
        {"private-key", ARCA_SECRET_PRIVATE_KEY},
        {"x509", ARCA_SECRET_X509},
        {"x509-ca", ARCA_SECRET_X509_CA},
        {"config-fragment", ARCA_SECRET_CONFIG_FRAGMENT},
        {"pgp-key", ARCA_SECRET_PGP_KEY},
    };
    if (!ld_expect(L, n, ARCA_YNODE_SCALAR, "a secret kind"))
        return ARCA_SECRET_NONE;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcmp(n->text, kinds[i].name) == 0)
            return kinds[i].kind;
    if (strcmp(n->text, "public-key") == 0) {
        ld_unsup(L, n->pos, "secret kind '%s'", n->text);
        return ARCA_SECRET_NONE;
    }
    ld_err(L, n->pos,
           "unknown secret kind '%.40s' (expected ascii, binary, private-key, x509, "
           "x509-ca, config-fragment, pgp-key or jwt)",
           n->text);
    return ARCA_SECRET_NONE;
}

static enum arca_key_type parse_key_type(struct ld *L, const struct arca_ynode *n)
{
    static const struct {
        const char *name;
        enum arca_key_type t;
    } types[] = {{"P-256", ARCA_KEY_P256},
                 {"P-384", ARCA_KEY_P384},
                 {"Ed25519", ARCA_KEY_ED25519},
                 {"RSA-2048", ARCA_KEY_RSA2048},
                 {"RSA-3072", ARCA_KEY_RSA3072}};
    if (!ld_expect(L, n, ARCA_YNODE_SCALAR, "a key type"))
        return ARCA_KEY_NONE;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(n->text, types[i].name) == 0)
            return types[i].t;
    ld_err(L, n->pos,
           "unknown key_type '%.40s' (expected P-256, P-384, Ed25519, RSA-2048 or "
           "RSA-3072)",
           n->text);
    return ARCA_KEY_NONE;
}

/* One export target: a session name, the short form, or a mapping of reference keys. */
static void export_item(struct ld *L, const struct arca_ynode *it, struct arca_session_ref *r)
{
    static const char *const keys[] = {
        "session", "namespace", "session_hash", "cas_url", "cas_key", "cas_software_key", NULL};
    r->pos = it->pos;
    if (it->type == ARCA_YNODE_SCALAR) {
        if (strchr(it->text, '=') != NULL)
            ld_parse_short_ref(L, it, r);
        else if (ld_get_str(L, it, &r->session, false))
            ld_check_ref_name(L, r->session.s, r->session.len, it->pos);
    } else if (ld_check_keys(L, it, "an export", keys, NULL)) {
        ld_parse_ref_fields(L, it, r, true);
    }
}

static void parse_export_list(struct ld *L, const struct arca_ynode *n, struct arca_secret *x)
{
    if (n->type != ARCA_YNODE_SEQ && n->type != ARCA_YNODE_MAP && n->type != ARCA_YNODE_SCALAR)
        return;
    size_t cnt = n->type == ARCA_YNODE_SEQ ? n->n_items : 1;
    if (cnt == 0)
        return;
    x->exports = calloc(cnt, sizeof(*x->exports));
    if (x->exports == NULL) {
        L->oom = true;
        return;
    }
    for (size_t i = 0; i < cnt; i++) {
        struct arca_session_ref *r = &x->exports[x->n_exports++];
        if (n->type == ARCA_YNODE_SEQ)
            LD_AT_INDEX(L, i, export_item(L, &n->items[i], r));
        else
            export_item(L, n, r);
    }
}

static void parse_secret_import(struct ld *L, const struct arca_ynode *n, struct arca_secret *x)
{
    static const char *const keys[] = {
        "session", "secret", "session_hash", "cas_url", "cas_key", "cas_software_key", NULL};
    if (!ld_check_keys(L, n, "import", keys, NULL))
        return;
    x->has_import = true;
    ld_parse_ref_fields(L, n, &x->import_from, false);
    ld_field_str(L, n, "secret", &x->import_secret, true);
    ld_check_name(L, "secret", &x->import_secret, false);
}

static void check_pem_value(struct ld *L, struct arca_secret *x, const struct arca_ynode *v)
{
    if (x->kind == ARCA_SECRET_PRIVATE_KEY) {
        struct arca_key *k = NULL;
        if (arca_key_from_pem(x->value.s, x->value.len, &k) < 0 || !arca_key_has_private(k)) {
            ld_err(L, v->pos, "value is not a PEM private key");
        } else if (x->key_type != ARCA_KEY_NONE && arca_key_type(k) != x->key_type) {
            ld_err(L, v->pos, "value is a %s key but key_type says %s",
                   arca_key_type_name(arca_key_type(k)), arca_key_type_name(x->key_type));
        } else if (x->key_type == ARCA_KEY_NONE) {
            x->key_type = arca_key_type(k);
        }
        arca_key_free(k);
    } else {
        struct arca_x509 *c = NULL;
        if (arca_x509_from_pem(x->value.s, x->value.len, &c) < 0)
            ld_err(L, v->pos, "value is not a PEM certificate (%s)", arca_err_detail());
        arca_x509_free(c);
    }
}

static void secret_size(struct ld *L, const struct arca_ynode *v, struct arca_secret *x)
{
    uint64_t sz;
    if (!ld_get_uint(L, v, 65536, false, &sz))
        return;
    if (sz == 0)
        ld_err(L, v->pos, "size must be at least 1");
    x->size = (uint32_t)sz;
    x->has_size = true;
}

static void cert_endpoint(struct ld *L, const struct arca_ynode *v, struct arca_secret *x)
{
    if (!ld_expect(L, v, ARCA_YNODE_SCALAR, "server or client"))
        return;
    if (strcmp(v->text, "server") == 0)
        x->endpoint = ARCA_ENDPOINT_SERVER;
    else if (strcmp(v->text, "client") == 0)
        x->endpoint = ARCA_ENDPOINT_CLIENT;
    else
        ld_err(L, v->pos, "endpoint must be server or client, got '%.40s'", v->text);
}

static void cert_dns(struct ld *L, const struct arca_ynode *v, struct arca_secret *x)
{
    ld_parse_str_list(L, v, &x->dns, &x->n_dns);
    if (x->endpoint == ARCA_ENDPOINT_CLIENT)
        ld_err(L, v->pos, "'dns' is not allowed with endpoint: client");
}

static void san_entry(struct ld *L, const struct arca_str *san)
{
    const char *e = san->s;
    if (strncmp(e, "dns:", 4) == 0) {
        if (e[4] == 0)
            ld_err(L, san->pos, "empty DNS name");
    } else if (strncmp(e, "ip:", 3) == 0) {
        unsigned char buf[16];
        if (inet_pton(AF_INET, e + 3, buf) != 1 && inet_pton(AF_INET6, e + 3, buf) != 1)
            ld_err(L, san->pos, "'%.60s' is not an IPv4 or IPv6 address", e + 3);
    } else {
        ld_err(L, san->pos, "SAN entry '%.60s' must start with dns: or ip:", e);
    }
}

static void cert_san(struct ld *L, const struct arca_ynode *v, struct arca_secret *x)
{
    ld_parse_str_list(L, v, &x->san, &x->n_san);
    for (size_t i = 0; i < x->n_san; i++)
        LD_AT_INDEX(L, i, san_entry(L, &x->san[i]));
}

static void cert_valid_for(struct ld *L, const struct arca_ynode *v, struct arca_secret *x)
{
    if (!ld_get_str(L, v, &x->valid_for_text, false))
        return;
    if (arca_duration_parse(x->valid_for_text.s, &x->valid_for) < 0)
        ld_err(L, v->pos, "%s", arca_err_detail());
    else
        x->has_valid_for = true;
}

/* The parameters of an x509 / x509-ca secret (kind k) in map n. */
static void cert_fields(struct ld *L, const struct arca_ynode *n, struct arca_secret *x,
                        enum arca_secret_kind k)
{
    const struct arca_ynode *v;
    ld_field_str(L, n, "private_key", &x->private_key, false);
    ld_field_str(L, n, "issuer", &x->issuer, false);
    ld_field_str(L, n, "common_name", &x->common_name, false);
    if ((v = arca_ynode_get(n, "endpoint")) != NULL && k == ARCA_SECRET_X509)
        LD_AT_KEY(L, "endpoint", cert_endpoint(L, v, x));
    if ((v = arca_ynode_get(n, "dns")) != NULL)
        LD_AT_KEY(L, "dns", cert_dns(L, v, x));
    if ((v = arca_ynode_get(n, "san")) != NULL)
        LD_AT_KEY(L, "san", cert_san(L, v, x));
    if ((v = arca_ynode_get(n, "valid_for")) != NULL)
        LD_AT_KEY(L, "valid_for", cert_valid_for(L, v, x));
}

/* An explicit binary value: even-length hex, as many bytes as size says (if given). */
static void binary_value(struct ld *L, const struct arca_ynode *val, struct arca_secret *x)
{
    size_t blen = x->value.len / 2;
    x->value_bytes = malloc(blen ? blen : 1);
    if (x->value_bytes == NULL) {
        L->oom = true;
    } else if (x->value.len & 1) {
        ld_err(L, val->pos, "binary value must have an even number of hex characters");
    } else if (ld_decode_hex_fixed(L, "binary value", x->value.s, x->value.len, val->pos,
                                   x->value_bytes, blen)) {
        x->value_bytes_len = blen;
        if (x->has_size && x->size != blen)
            ld_err(L, val->pos, "value has %zu bytes but size says %u", blen, x->size);
    }
}

/* The explicit value of a secret of a known kind (messages never repeat the value). */
static void secret_value(struct ld *L, const struct arca_ynode *val, struct arca_secret *x,
                         bool known)
{
    enum arca_secret_kind k = x->kind;
    if (k == ARCA_SECRET_PGP_KEY) {
        ld_err(L, val->pos, "a pgp-key secret has no explicit value (arca generates the key)");
        return;
    }
    if (k == ARCA_SECRET_CONFIG_FRAGMENT) {
        x->fragment = calloc(1, sizeof(*x->fragment));
        if (x->fragment == NULL || arca_ynode_copy(x->fragment, val) < 0)
            L->oom = true;
        return;
    }
    /* An explicit empty text ("") is a value an ascii or binary secret may hold (an empty
     * password); a bare `value:` (null) is still refused as a forgotten value. */
    bool may_be_empty = (k == ARCA_SECRET_ASCII || k == ARCA_SECRET_BINARY) &&
                        val->type == ARCA_YNODE_SCALAR && !arca_ynode_is_null(val);
    if (!known || !ld_get_str(L, val, &x->value, may_be_empty))
        return;
    if (k == ARCA_SECRET_BINARY) {
        binary_value(L, val, x);
    } else if (k == ARCA_SECRET_PRIVATE_KEY || k == ARCA_SECRET_X509 || k == ARCA_SECRET_X509_CA) {
        check_pem_value(L, x, val);
    } else if (k == ARCA_SECRET_ASCII) {
        for (size_t i = 0; i < x->value.len; i++)
            if ((unsigned char)x->value.s[i] < 0x20 && x->value.s[i] != '\n' &&
                x->value.s[i] != '\t') {
                ld_err(L, val->pos, "ascii value has a control character at offset %zu", i);
                break;
            }
    }
}

static void secret_import(struct ld *L, const struct arca_ynode *imp, struct arca_secret *x,
                          const struct arca_ynode *val)
{
    parse_secret_import(L, imp, x);
    if (val != NULL)
        ld_err(L, imp->pos, "'import' and 'value' are mutually exclusive");
}

static void secret_import_akv(struct ld *L, const struct arca_ynode *akv, struct arca_secret *x,
                              bool other_source)
{
    ld_parse_import_akv(L, akv, x);
    if (other_source)
        ld_err(L, akv->pos, "'import_akv' excludes 'value' and 'import'");
    ld_needs_azure(L, akv->pos, "import_akv (secrets are read from Azure Key Vault at run time)");
}

static void secret_export(struct ld *L, const struct arca_ynode *v, struct arca_secret *x,
                          const struct arca_ynode *imp)
{
    /* The docs write a single target as a mapping without the list around it. */
    if (v->type == ARCA_YNODE_MAP || ld_expect(L, v, ARCA_YNODE_SEQ, "a list of export targets"))
        parse_export_list(L, v, x);
    if (imp != NULL)
        ld_err(L, v->pos, "an imported secret cannot be exported again");
}

/* Reports parameters of map n that do not belong to a secret of kind k. */
static void check_kind_params(struct ld *L, const struct arca_ynode *n, enum arca_secret_kind k)
{
    static const struct {
        const char *key;
        unsigned kinds; /* bit per kind */
    } applies[] = {
        {"size", 1u << ARCA_SECRET_ASCII | 1u << ARCA_SECRET_BINARY},
        {"key_type", 1u << ARCA_SECRET_PRIVATE_KEY},
        {"migrate", 1u << ARCA_SECRET_PRIVATE_KEY},
        {"private_key", 1u << ARCA_SECRET_X509 | 1u << ARCA_SECRET_X509_CA},
        {"issuer", 1u << ARCA_SECRET_X509 | 1u << ARCA_SECRET_X509_CA},
        {"common_name", 1u << ARCA_SECRET_X509 | 1u << ARCA_SECRET_X509_CA},
        {"endpoint", 1u << ARCA_SECRET_X509},
        {"dns", 1u << ARCA_SECRET_X509 | 1u << ARCA_SECRET_X509_CA},
        {"san", 1u << ARCA_SECRET_X509 | 1u << ARCA_SECRET_X509_CA},
        {"valid_for", 1u << ARCA_SECRET_X509 | 1u << ARCA_SECRET_X509_CA},
    };
    for (size_t i = 0; i < sizeof(applies) / sizeof(applies[0]); i++) {
        const struct arca_ynode *a = arca_ynode_get(n, applies[i].key);
        if (a != NULL && !(applies[i].kinds & (1u << k)))
            LD_AT_KEY(L, applies[i].key,
                      ld_err(L, a->pos, "'%s' is not allowed for a secret of kind %s",
                             applies[i].key, arca_secret_kind_name(k)));
    }
}

/* validity: {for: <duration>} or {until: <RFC 3339 time>}. */
static void jwt_validity(struct ld *L, const struct arca_ynode *v, struct arca_secret *x)
{
    static const char *const keys[] = {"for", "until", NULL};
    if (!ld_check_keys(L, v, "validity", keys, NULL))
        return;
    const struct arca_ynode *f = arca_ynode_get(v, "for"), *u = arca_ynode_get(v, "until");
    int64_t t;
    if ((f == NULL) == (u == NULL)) {
        ld_err(L, v->pos, "validity needs exactly one of 'for' and 'until'");
    } else if (f != NULL && ld_expect(L, f, ARCA_YNODE_SCALAR, "a duration")) {
        if (arca_duration_parse(f->text, &t) < 0)
            LD_AT_KEY(L, "for", ld_err(L, f->pos, "%s", arca_err_detail()));
        else if (t <= 0)
            LD_AT_KEY(L, "for", ld_err(L, f->pos, "validity must be longer than 0 seconds"));
        else
            x->jwt_valid_for = t;
    } else if (u != NULL && ld_expect(L, u, ARCA_YNODE_SCALAR, "a time")) {
        if (arca_time_parse_rfc3339(u->text, &t) < 0)
            LD_AT_KEY(L, "until", ld_err(L, u->pos, "%s", arca_err_detail()));
        else if (t <= 0)
            LD_AT_KEY(L, "until", ld_err(L, u->pos, "validity until must be after 1970"));
        else
            x->jwt_until = t;
    }
}

static void jwt_claim(struct ld *L, const struct arca_ynode *k, const struct arca_ynode *v,
                      struct arca_secret *x)
{
    if (strcmp(k->text, "iat") == 0 || strcmp(k->text, "nbf") == 0 || strcmp(k->text, "exp") == 0) {
        ld_err(L, k->pos, "claim '%s' is filled in when the token is made", k->text);
        return;
    }
    if (v->type != ARCA_YNODE_SCALAR || arca_ynode_is_null(v)) {
        ld_err(L, v->pos, "claim '%.60s' must be a string (no numbers or objects)", k->text);
        return;
    }
    struct arca_str *c = &x->claims[x->n_claims];
    if (ld_get_str(L, k, &c[0], false) && ld_get_str(L, v, &c[1], true))
        x->n_claims += 2;
    else {
        free(c[0].s);
        free(c[1].s);
        memset(c, 0, 2 * sizeof(*c));
    }
}

/* payload: string claims only, kept in written order; iat, nbf and exp are the CAS's to fill
 * in. */
static void jwt_payload(struct ld *L, const struct arca_ynode *p, struct arca_secret *x)
{
    if (!ld_expect(L, p, ARCA_YNODE_MAP, "a mapping of claims") || p->n_items == 0)
        return;
    x->claims = calloc(p->n_items, sizeof(*x->claims));
    if (x->claims == NULL) {
        L->oom = true;
        return;
    }
    for (size_t i = 0; i + 1 < p->n_items; i += 2)
        LD_AT_KEY(L, p->items[i].text, jwt_claim(L, &p->items[i], &p->items[i + 1], x));
}

/*
 * kind: jwt (0.3.12): signer (a private-key secret; P-384 for ES384), alg (ES384), validity,
 * payload. The token itself is made by the secret engine (secrets_jwt.c).
 */
static void jwt_secret(struct ld *L, const struct arca_ynode *n, struct arca_secret *x)
{
    static const char *const keys[] = {"name",    "kind",   "signer",        "alg", "validity",
                                       "payload", "export", "export_public", NULL};
    if (!ld_check_keys(L, n, "a jwt secret", keys, NULL))
        return;
    x->kind = ARCA_SECRET_JWT;
    ld_field_str(L, n, "signer", &x->signer, true);
    ld_check_name(L, "signer", &x->signer, false);
    const struct arca_ynode *v;
    if ((v = arca_ynode_get(n, "alg")) == NULL)
        ld_err(L, n->pos, "missing mandatory key 'alg'");
    else if (ld_expect(L, v, ARCA_YNODE_SCALAR, "ES384") && strcmp(v->text, "ES384") != 0)
        LD_AT_KEY(L, "alg", ld_err(L, v->pos, "alg must be ES384, got '%.20s'", v->text));
    else
        ld_field_str(L, n, "alg", &x->jwt_alg, true);
    if ((v = arca_ynode_get(n, "validity")) != NULL)
        LD_AT_KEY(L, "validity", jwt_validity(L, v, x));
    if ((v = arca_ynode_get(n, "payload")) != NULL)
        LD_AT_KEY(L, "payload", jwt_payload(L, v, x));
    if ((v = arca_ynode_get(n, "export")) != NULL)
        LD_AT_KEY(L, "export", secret_export(L, v, x, NULL));
    ld_field_bool(L, n, "export_public", &x->export_public);
}

void ld_check_jwt_signer(struct ld *L, const struct arca_secret *x)
{
    if (x->signer.s == NULL)
        return;
    const struct arca_secret *t = arca_session_find_secret(L->s, x->signer.s);
    if (t == NULL)
        ld_err(L, x->signer.pos, "signer '%.128s' is not a secret of this session", x->signer.s);
    else if (t->has_import || t->provided_by.s != NULL)
        /* The token is made at upload, before an imported or uploaded value can arrive. */
        ld_err(L, x->signer.pos,
               "secret '%s': signer '%s' has no value when the token is made at upload (it is %s)",
               x->name.s, x->signer.s, t->has_import ? "imported" : "provided_by a service");
    else if (t->kind != ARCA_SECRET_PRIVATE_KEY)
        ld_err(L, x->signer.pos, "signer '%.128s' is a %s secret, expected private-key",
               x->signer.s, arca_secret_kind_name(t->kind));
    else if (t->key_type != ARCA_KEY_NONE && t->key_type != ARCA_KEY_P384)
        ld_err(L, x->signer.pos, "signer '%.128s' is a %s key, alg ES384 needs key_type: P-384",
               x->signer.s, arca_key_type_name(t->key_type));
}

void ld_parse_secret(struct ld *L, const struct arca_ynode *n, struct arca_secret *x)
{
    static const char *const keys[] = {"name",        "kind",          "size",        "key_type",
                                       "private_key", "issuer",        "common_name", "endpoint",
                                       "dns",         "san",           "valid_for",   "value",
                                       "export",      "export_public", "import",      "migrate",
                                       "provided_by", "import_akv",    NULL};
    x->pos = n->pos;
    const struct arca_ynode *jk = n->type == ARCA_YNODE_MAP ? arca_ynode_get(n, "kind") : NULL;
    bool jwt = jk != NULL && jk->type == ARCA_YNODE_SCALAR && strcmp(jk->text, "jwt") == 0;
    bool aad = jk != NULL && jk->type == ARCA_YNODE_SCALAR && strcmp(jk->text, "aad-token") == 0;
    if (!jwt && !aad && !ld_check_keys(L, n, "a secret", keys, NULL))
        return;
    ld_field_str(L, n, "name", &x->name, true);
    ld_check_name(L, "name", &x->name, false);
    if (jwt) {
        jwt_secret(L, n, x);
        return;
    }
    if (aad) { /* load_azure.c; its export rules as any secret's */
        ld_parse_aad_token(L, n, x, jk);
        const struct arca_ynode *ex = arca_ynode_get(n, "export");
        if (ex != NULL && x->azure != NULL)
            LD_AT_KEY(L, "export", secret_export(L, ex, x, NULL));
        ld_field_bool(L, n, "export_public", &x->export_public);
        return;
    }
    const struct arca_ynode *kv = arca_ynode_get(n, "kind");
    const struct arca_ynode *imp = arca_ynode_get(n, "import");
    const struct arca_ynode *akv = arca_ynode_get(n, "import_akv");

    if (kv != NULL)
        LD_AT_KEY(L, "kind", x->kind = parse_kind(L, kv));
    else if (imp == NULL && akv == NULL) /* an import's kind is the exporter's */
        ld_err(L, n->pos, "missing mandatory key 'kind'");
    bool known = x->kind != ARCA_SECRET_NONE;
    enum arca_secret_kind k = x->kind;
    bool is_cert = k == ARCA_SECRET_X509 || k == ARCA_SECRET_X509_CA;
    if (known)
        check_kind_params(L, n, k);
    const struct arca_ynode *v;
    if ((v = arca_ynode_get(n, "size")) != NULL && known &&
        (k == ARCA_SECRET_ASCII || k == ARCA_SECRET_BINARY))
        LD_AT_KEY(L, "size", secret_size(L, v, x));
    if ((v = arca_ynode_get(n, "key_type")) != NULL && k == ARCA_SECRET_PRIVATE_KEY)
        LD_AT_KEY(L, "key_type", x->key_type = parse_key_type(L, v));
    if (k == ARCA_SECRET_PRIVATE_KEY)
        ld_field_bool(L, n, "migrate", &x->migrate);
    if (is_cert)
        cert_fields(L, n, x, k);
    const struct arca_ynode *val = arca_ynode_get(n, "value");
    if (val != NULL)
        LD_AT_KEY(L, "value", secret_value(L, val, x, known));
    if (imp != NULL)
        LD_AT_KEY(L, "import", secret_import(L, imp, x, val));
    if (akv != NULL) /* load_azure.c: Azure Key Vault, refused at create */
        LD_AT_KEY(L, "import_akv", secret_import_akv(L, akv, x, val != NULL || imp != NULL));
    if ((v = arca_ynode_get(n, "export")) != NULL)
        LD_AT_KEY(L, "export", secret_export(L, v, x, imp));
    ld_field_bool(L, n, "export_public", &x->export_public);
    ld_field_str(L, n, "provided_by", &x->provided_by, false);
    if (x->provided_by.s != NULL && (val != NULL || imp != NULL || akv != NULL))
        ld_err(L, x->provided_by.pos, "'provided_by' excludes 'value' and 'import'");
    if (known && k == ARCA_SECRET_CONFIG_FRAGMENT && val == NULL && imp == NULL)
        ld_err(L, n->pos, "a config-fragment needs 'value' or 'import'");
    if (known && is_cert && val == NULL && imp == NULL && akv == NULL && x->provided_by.s == NULL &&
        x->private_key.s == NULL)
        ld_err(L, n->pos, "a generated %s needs 'private_key'", arca_secret_kind_name(k));
    if (known && k == ARCA_SECRET_PRIVATE_KEY && x->key_type == ARCA_KEY_NONE && val == NULL)
        x->key_type = ARCA_KEY_P256;
    if (known && (k == ARCA_SECRET_ASCII || k == ARCA_SECRET_BINARY) && !x->has_size &&
        val == NULL) {
        x->size = 20; /* the documented default, filled in so that the hash sees it */
    }
}
