/*
 * Session loader: access_policy (read, update, create_sessions, list_sessions), with the
 * defaults materialised so that consumers and the hash see one representation. Evaluation is
 * in govern/access.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/enc.h"
#include "base/err.h"
#include "crypto/crypto.h"
#include "policy/load_internal.h"

static bool parse_ap_node(struct ld *L, const struct arca_ynode *n, struct arca_ap_node *a,
                          bool tree_ok, int depth);

static void parse_ap_children(struct ld *L, const struct arca_ynode *n, struct arca_ap_node *a,
                              int depth)
{
    a->children =
        ld_seq_alloc(L, n, "a list of policy entries", "the list is empty", sizeof(*a->children));
    if (a->children == NULL)
        return;
    for (size_t i = 0; i < n->n_items; i++) {
        bool ok = false;
        LD_AT_INDEX(
            L, i,
            ok = parse_ap_node(L, &n->items[i], &a->children[a->n_children], true, depth + 1));
        if (ok)
            a->n_children++;
    }
}

static void parse_signer_key(struct ld *L, const struct arca_ynode *v, struct arca_ap_node *a)
{
    struct arca_key *k = NULL;
    struct arca_buf der;
    arca_buf_init(&der, 0);
    if (!ld_expect(L, v, ARCA_YNODE_SCALAR, "a public key (SPKI PEM or Base58Check)"))
        return;
    if (strstr(v->text, "-----BEGIN") != NULL) {
        if (arca_key_from_pem(v->text, v->len, &k) < 0) {
            ld_err(L, v->pos, "signer is not a PEM public key (%s)", arca_err_detail());
            goto out;
        }
    } else {
        struct arca_buf raw;
        uint8_t version = 0;
        arca_buf_init(&raw, 64);
        if (arca_base58check_decode(&raw, &version, v->text, v->len) < 0 || raw.len != 32) {
            ld_err(L, v->pos, "signer is neither an SPKI PEM nor a Base58Check Ed25519 key");
            arca_buf_free(&raw);
            goto out;
        }
        int rc = arca_key_from_public_raw(ARCA_KEY_ED25519, raw.data, raw.len, &k);
        arca_buf_free(&raw);
        if (rc < 0) {
            ld_err(L, v->pos, "signer is not a valid Ed25519 key");
            goto out;
        }
    }
    a->signer_type = arca_key_type(k);
    if (a->signer_type != ARCA_KEY_ED25519 && a->signer_type != ARCA_KEY_P256 &&
        a->signer_type != ARCA_KEY_P384) {
        ld_err(L, v->pos, "signer keys must be Ed25519, P-256 or P-384, got %s",
               arca_key_type_name(a->signer_type));
        goto out;
    }
    if (arca_key_has_private(k)) {
        ld_err(L, v->pos, "signer is a private key; give the public key only");
        goto out;
    }
    if (arca_key_spki_der(k, &der) < 0 || arca_key_id(k, a->key_id) < 0) {
        ld_err(L, v->pos, "signer key cannot be encoded (%s)", arca_err_detail());
        goto out;
    }
    a->spki_der = malloc(der.len);
    if (a->spki_der == NULL) {
        L->oom = true;
        goto out;
    }
    memcpy(a->spki_der, der.data, der.len);
    a->spki_der_len = der.len;
out:
    arca_buf_free(&der);
    arca_key_free(k);
}

/* A scalar entry: CREATOR, ANY, NONE, a PEM certificate or a key hash. */
static bool parse_ap_scalar(struct ld *L, const struct arca_ynode *n, struct arca_ap_node *a)
{
    const char *t = n->text;
    const char *name, *fmt;
    size_t nlen, flen;
    if (strcmp(t, "CREATOR") == 0) {
        a->kind = ARCA_AP_CREATOR;
    } else if (strcmp(t, "ANY") == 0) {
        a->kind = ARCA_AP_ANY;
    } else if (strcmp(t, "NONE") == 0) {
        a->kind = ARCA_AP_NONE;
    } else if (ld_is_pending(L, n)) {
        /* an imported fragment: the rule is marked (ld_parse_access) and resolved at use */
        a->kind = ARCA_AP_SECRET;
        ld_whole_placeholder(t, n->len, &name, &nlen, &fmt, &flen);
        return ld_set_str(L, &a->secret, name, nlen, n->pos);
    } else if (ld_whole_placeholder(t, n->len, &name, &nlen, &fmt, &flen)) {
        /*
         * Nothing resolves such an entry at check time yet (govern/access.h), so it could only
         * ever deny: refuse it rather than accept a rule that silently does less than it says.
         * The entry is kept so that the cross checks still report a name that is no secret.
         */
        a->kind = ARCA_AP_SECRET;
        ld_unsup_yet(L, n->pos,
                     "a key read from a secret ('$$SCONE::%.*s$$') as an access-policy entry "
                     "(give the certificate, key hash or signer: itself)",
                     (int)(nlen > 128 ? 128 : nlen), name);
        return ld_set_str(L, &a->secret, name, nlen, n->pos);
    } else if (strstr(t, "-----BEGIN CERTIFICATE-----") != NULL) {
        struct arca_x509 *c = NULL;
        a->kind = ARCA_AP_CERT;
        if (arca_x509_from_pem(t, n->len, &c) < 0) {
            ld_err(L, n->pos, "not a valid PEM certificate (%s)", arca_err_detail());
            return false;
        }
        int rc = arca_x509_key_id(c, a->key_id);
        arca_x509_free(c);
        if (rc < 0) {
            ld_err(L, n->pos, "certificate public key cannot be read (%s)", arca_err_detail());
            return false;
        }
        return ld_set_str(L, &a->cert_pem, t, n->len, n->pos);
    } else if (n->len == 64 ||
               (n->len >= 40 && n->len <= 60 &&
                strspn(t, "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz") ==
                    n->len)) {
        a->kind = ARCA_AP_KEYHASH;
        return ld_decode_key_hash(L, "key hash", t, n->len, n->pos, a->key_id);
    } else {
        ld_err(L, n->pos,
               "'%.60s' is not CREATOR, ANY, NONE, a PEM certificate, a key hash, "
               "signer: or require-*",
               t);
        return false;
    }
    return true;
}

/* require-all / require-at-least-N (key k) over the children v. */
static bool parse_ap_require(struct ld *L, const struct arca_ynode *k, const struct arca_ynode *v,
                             struct arca_ap_node *a, bool tree_ok, int depth)
{
    bool all = k->text[8] == 'a' && k->text[9] == 'l';
    a->kind = all ? ARCA_AP_ALL : ARCA_AP_AT_LEAST;
    if (!tree_ok) {
        ld_err(L, k->pos, "%s is not allowed in read or list_sessions", k->text);
        return false;
    }
    unsigned long th = 0;
    if (!all) {
        const char *d = k->text + 17;
        char *end = NULL;
        th = (*d >= '1' && *d <= '9') ? strtoul(d, &end, 10) : 0;
        if (th == 0 || end == NULL || *end != 0 || th > 1000) {
            ld_err(L, k->pos, "'%s': N in require-at-least-N must be a positive integer", k->text);
            return false;
        }
    }
    parse_ap_children(L, v, a, depth);
    a->threshold = all ? (uint32_t)a->n_children : (uint32_t)th;
    if (!all && v->type == ARCA_YNODE_SEQ && th > v->n_items)
        ld_err(L, k->pos,
               "require-at-least-%lu has only %zu entries and can never be "
               "satisfied",
               th, v->n_items);
    for (size_t i = 0; i < a->n_children; i++)
        if (a->children[i].kind == ARCA_AP_ANY || a->children[i].kind == ARCA_AP_NONE)
            ld_err(L, a->children[i].pos, "ANY and NONE are not allowed inside %s", k->text);
    return true;
}

/* A one-key mapping entry k: v (signer or require-*), its key on the path. */
static bool parse_ap_map_entry(struct ld *L, const struct arca_ynode *k, const struct arca_ynode *v,
                               struct arca_ap_node *a, bool tree_ok, int depth)
{
    if (strcmp(k->text, "signer") == 0) {
        a->kind = ARCA_AP_SIGNER;
        if (!tree_ok) {
            ld_err(L, k->pos, "signer: is not allowed in read or list_sessions");
            return false;
        }
        parse_signer_key(L, v, a);
        return true;
    }
    if (strcmp(k->text, "require-all") == 0 || strncmp(k->text, "require-at-least-", 17) == 0)
        return parse_ap_require(L, k, v, a, tree_ok, depth);
    ld_err(L, k->pos,
           "unknown policy entry '%.60s' (expected signer, require-all or "
           "require-at-least-N)",
           k->text);
    return false;
}

static bool parse_ap_node(struct ld *L, const struct arca_ynode *n, struct arca_ap_node *a,
                          bool tree_ok, int depth)
{
    a->pos = n->pos;
    if (depth > 16) {
        ld_err(L, n->pos, "the access policy is nested too deeply");
        return false;
    }
    if (n->type == ARCA_YNODE_SCALAR)
        return parse_ap_scalar(L, n, a);
    if (!ld_expect(L, n, ARCA_YNODE_MAP, "a policy entry"))
        return false;
    if (n->n_items != 2) {
        ld_err(L, n->pos,
               "a policy entry mapping has exactly one key (signer, require-all or "
               "require-at-least-N)");
        return false;
    }
    const struct arca_ynode *k = &n->items[0];
    bool ok = false;
    LD_AT_KEY(L, k->text, ok = parse_ap_map_entry(L, k, &n->items[1], a, tree_ok, depth));
    return ok;
}

static void parse_ap_rule(struct ld *L, const struct arca_ynode *n, struct arca_ap_rule *r,
                          bool tree_ok)
{
    r->written = true;
    r->pos = n->pos;
    const struct arca_ynode *items = n->type == ARCA_YNODE_SEQ ? n->items : n;
    size_t cnt = n->type == ARCA_YNODE_SEQ ? n->n_items : 1;
    if (cnt == 0) {
        ld_err(L, n->pos, "the list is empty (use NONE to deny everyone)");
        return;
    }
    r->entries = calloc(cnt, sizeof(*r->entries));
    if (r->entries == NULL) {
        L->oom = true;
        return;
    }
    size_t n_any = 0, n_none = 0;
    for (size_t i = 0; i < cnt; i++) {
        bool ok = false;
        if (n->type == ARCA_YNODE_SEQ)
            LD_AT_INDEX(L, i,
                        ok = parse_ap_node(L, &items[i], &r->entries[r->n_entries], tree_ok, 0));
        else
            ok = parse_ap_node(L, &items[i], &r->entries[r->n_entries], tree_ok, 0);
        if (ok) {
            enum arca_ap_kind k = r->entries[r->n_entries].kind;
            n_any += k == ARCA_AP_ANY;
            n_none += k == ARCA_AP_NONE;
            r->n_entries++;
        }
    }
    if ((n_any > 0 || n_none > 0) && cnt > 1)
        ld_err(L, n->pos, "%s must be the only entry in its list", n_any ? "ANY" : "NONE");
}

static int copy_ap_nodes(struct arca_ap_node **dst, const struct arca_ap_node *src, size_t n)
{
    *dst = NULL;
    if (n == 0)
        return 0;
    *dst = calloc(n, sizeof(**dst));
    if (*dst == NULL)
        return ARCA_ERR_ALLOC;
    for (size_t i = 0; i < n; i++) {
        struct arca_ap_node *d = &(*dst)[i];
        const struct arca_ap_node *s = &src[i];
        *d = *s;
        d->cert_pem.s = NULL;
        d->secret.s = NULL;
        d->spki_der = NULL;
        d->children = NULL;
        if (s->cert_pem.s && (d->cert_pem.s = strdup(s->cert_pem.s)) == NULL)
            return ARCA_ERR_ALLOC;
        if (s->secret.s && (d->secret.s = strdup(s->secret.s)) == NULL)
            return ARCA_ERR_ALLOC;
        if (s->spki_der) {
            if ((d->spki_der = malloc(s->spki_der_len)) == NULL)
                return ARCA_ERR_ALLOC;
            memcpy(d->spki_der, s->spki_der, s->spki_der_len);
        }
        ARCA_TRY(copy_ap_nodes(&d->children, s->children, s->n_children));
    }
    return 0;
}

static void default_rule(struct ld *L, struct arca_ap_rule *r, const struct arca_ap_rule *from)
{
    if (r->written)
        return;
    if (from != NULL) {
        if (copy_ap_nodes(&r->entries, from->entries, from->n_entries) < 0) {
            L->oom = true;
            return;
        }
        r->n_entries = from->n_entries;
        if (from->import.s != NULL)
            ld_set_str(L, &r->import, from->import.s, from->import.len, from->pos);
        return;
    }
    r->entries = calloc(1, sizeof(*r->entries));
    if (r->entries == NULL) {
        L->oom = true;
        return;
    }
    r->entries[0].kind = ARCA_AP_CREATOR;
    r->n_entries = 1;
}

/* The access_policy mapping n (its key on the path). */
static void access_rules(struct ld *L, const struct arca_ynode *n, struct arca_access_policy *ap)
{
    static const char *const keys[] = {"read", "update", "create_sessions", "list_sessions", NULL};
    if (ld_unsubstituted_fragment(L, n))
        return; /* an imported whole policy is skipped here and marked in ld_parse_access */
    if (!ld_check_keys(L, n, "access_policy", keys, NULL))
        return;
    struct arca_ap_rule *rules[] = {&ap->read, &ap->update, &ap->create_sessions,
                                    &ap->list_sessions};
    for (int i = 0; i < 4; i++) {
        const struct arca_ynode *v = arca_ynode_get(n, keys[i]);
        if (v != NULL)
            LD_AT_KEY(L, keys[i], parse_ap_rule(L, v, rules[i], i == 1 || i == 2));
    }
}

/* Marks the rule of op that is (or holds) an imported fragment: it grants nothing until the
 * session is loaded with the fragment's value. */
static void mark_imported(struct ld *L, struct arca_ap_rule *r, const char *op)
{
    char field[64];
    snprintf(field, sizeof(field), "access_policy.%s", op);
    const struct arca_import_use *u = ld_import_under(L, field);
    if (u == NULL) {
        u = ld_import_under(L, "access_policy");
        if (u != NULL && strcmp(u->field.s, "access_policy") != 0)
            u = NULL;
    }
    if (u == NULL)
        return;
    r->written = true;
    r->pos = u->pos;
    ld_set_str(L, &r->import, u->secret.s, u->secret.len, u->pos);
}

void ld_parse_access(struct ld *L, const struct arca_ynode *n)
{
    struct arca_access_policy *ap = &L->s->access;
    if (n != NULL)
        LD_AT_KEY(L, "access_policy", access_rules(L, n, ap));
    static const char *const ops[] = {"read", "update", "create_sessions", "list_sessions"};
    struct arca_ap_rule *rules[] = {&ap->read, &ap->update, &ap->create_sessions,
                                    &ap->list_sessions};
    for (int i = 0; i < 4; i++)
        mark_imported(L, rules[i], ops[i]);
    default_rule(L, &ap->read, NULL);
    default_rule(L, &ap->update, NULL);
    default_rule(L, &ap->create_sessions, &ap->update);
    default_rule(L, &ap->list_sessions, &ap->read);
}

static void creator_value(struct ld *L, const struct arca_ynode *n)
{
    struct arca_ap_node *c = &L->s->creator;
    bool shape = n->type == ARCA_YNODE_SCALAR
                     ? strstr(n->text, "-----BEGIN CERTIFICATE-----") != NULL
                     : n->type == ARCA_YNODE_MAP && n->n_items == 2 &&
                           strcmp(n->items[0].text, "signer") == 0;
    if (!shape) {
        ld_err(L, n->pos, "creator must be a PEM certificate or {signer: <SPKI PEM>}");
        return;
    }
    unsigned before = L->errors;
    parse_ap_node(L, n, c, true, 0);
    L->s->has_creator = L->errors == before;
}

void ld_parse_creator(struct ld *L, const struct arca_ynode *n)
{
    LD_AT_KEY(L, "creator", creator_value(L, n));
}
