/*
 * Session loader: checks across sections once every section is converted: unique names,
 * references (images, volumes, private_key, issuer and its cycles, provided_by, fspf_key
 * secrets), placeholders (exist, format valid for the kind, not nested; every bad placeholder
 * of a string is reported), attestation variant required unless mode none.
 */
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "policy/load_internal.h"
#include "policy/placeholder.h"

static void check_unique(struct ld *L, const char *list, const struct arca_str *first, size_t n,
                         size_t stride)
{
    for (size_t i = 0; i < n; i++) {
        const struct arca_str *a = (const struct arca_str *)((const char *)first + i * stride);
        for (size_t j = 0; a->s != NULL && j < i; j++) {
            const struct arca_str *b = (const struct arca_str *)((const char *)first + j * stride);
            if (b->s != NULL && strcmp(a->s, b->s) == 0) {
                LD_AT_ITEM(L, list, i,
                           ld_err(L, a->pos, "name '%.128s' is used twice (first at line %u)", a->s,
                                  b->pos.line));
                break;
            }
        }
    }
}

/* Where check_placeholders reports: the loader and the position of the checked string. */
struct ph_check {
    struct ld *L;
    struct arca_pos pos;
};

static bool ph_lookup(void *ctx, const char *name, size_t name_len, enum arca_secret_kind *kind)
{
    const struct ph_check *c = ctx;
    char buf[ARCA_SESSION_COMPONENT_MAX + 1];
    if (name_len > ARCA_SESSION_COMPONENT_MAX)
        return false; /* longer than any secret name can be */
    memcpy(buf, name, name_len);
    buf[name_len] = 0;
    const struct arca_secret *sec = arca_session_find_secret(c->L->s, buf);
    if (sec == NULL)
        return false;
    *kind = sec->kind; /* NONE for an import without a kind: checked when the value arrives */
    return true;
}

static void ph_problem(void *ctx, const struct arca_placeholder_problem *p)
{
    const struct ph_check *c = ctx;
    int n = p->name_len > 128 ? 128 : (int)p->name_len;
    if (p->name == NULL)
        ld_err(c->L, c->pos, "bad placeholder: %s", p->detail);
    else if (p->rc == ARCA_ERR_NOT_FOUND)
        ld_err(c->L, c->pos, "placeholder '$$SCONE::%.*s$$' names no secret of this session", n,
               p->name);
    else
        ld_err(c->L, c->pos, "placeholder for %s secret '%.*s': %s", arca_secret_kind_name(p->kind),
               n, p->name, p->detail);
}

/* Checks every placeholder in text (secret exists, format valid for its kind), all errors. */
static void check_placeholders(struct ld *L, const char *text, size_t len, struct arca_pos pos)
{
    struct ph_check c = {L, pos};
    (void)arca_placeholder_check_each(text, len, ph_lookup, ph_problem, &c, NULL);
}

static void check_secret_ref(struct ld *L, const struct arca_str *ref, enum arca_secret_kind want,
                             const char *what)
{
    if (ref->s == NULL)
        return;
    const struct arca_secret *t = arca_session_find_secret(L->s, ref->s);
    if (t == NULL)
        ld_err(L, ref->pos, "%s '%.128s' is not a secret of this session", what, ref->s);
    else if (t->kind != want && t->kind != ARCA_SECRET_NONE)
        ld_err(L, ref->pos, "%s '%.128s' is a %s secret, expected %s", what, ref->s,
               arca_secret_kind_name(t->kind), arca_secret_kind_name(want));
}

static void check_key32_secret(struct ld *L, const struct arca_key32_ref *k, const char *what)
{
    if (!k->set || k->literal)
        return;
    const struct arca_secret *t = arca_session_find_secret(L->s, k->secret.s);
    if (t == NULL) {
        ld_err(L, k->pos, "%s placeholder names no secret '%.128s' of this session", what,
               k->secret.s);
        return;
    }
    if (t->kind != ARCA_SECRET_BINARY && t->kind != ARCA_SECRET_NONE) {
        ld_err(L, k->pos, "%s must be a binary secret, '%s' is %s", what, t->name.s,
               arca_secret_kind_name(t->kind));
        return;
    }
    size_t sz = t->value_bytes_len ? t->value_bytes_len : t->size;
    if (t->kind == ARCA_SECRET_BINARY && t->import_from.session.s == NULL && sz != 32)
        ld_err(L, k->pos, "%s secret '%s' has %zu bytes, 32 are needed", what, t->name.s, sz);
}

/* Access-policy placeholders (refused as not supported yet, load_access.c) name a secret. */
static void check_ap_secrets(struct ld *L, const struct arca_ap_node *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (v[i].kind == ARCA_AP_SECRET && arca_session_find_secret(L->s, v[i].secret.s) == NULL)
            ld_err(L, v[i].pos, "placeholder '$$SCONE::%.128s$$' names no secret of this session",
                   v[i].secret.s);
        check_ap_secrets(L, v[i].children, v[i].n_children);
    }
}

static void check_str_placeholders(struct ld *L, const struct arca_str *str)
{
    check_placeholders(L, str->s, str->len, str->pos);
}

/*
 * arca issues a generated certificate when the session is uploaded, so whatever signs it or
 * is its key must have a value then. An imported or provided_by value arrives only when a
 * service attests, and an explicit certificate without `private_key` has no key to sign with:
 * refused here, so `arca session check` says what an upload would (the words are the
 * generator's, secrets_gen.c).
 */
static void check_cert_input(struct ld *L, const struct arca_str *ref, const char *field,
                             const struct arca_secret *x)
{
    const struct arca_secret *t = ref->s ? arca_session_find_secret(L->s, ref->s) : NULL;
    if (t == NULL)
        return;
    if (t->has_import || t->provided_by.s != NULL)
        ld_err(L, ref->pos,
               "secret '%s': %s '%s' has no value when the certificate is issued at upload (it "
               "is %s)",
               x->name.s, field, ref->s, t->has_import ? "imported" : "provided_by a service");
    else if (strcmp(field, "issuer") == 0 && t->value.s != NULL && t->private_key.s == NULL)
        ld_err(L, ref->pos,
               "secret '%s': issuer '%s' has no private key to sign with (imported or explicit "
               "without its key)",
               x->name.s, ref->s);
}

static void cross_secret(struct ld *L, const struct arca_secret *x)
{
    const struct arca_session *s = L->s;
    if (x->kind == ARCA_SECRET_JWT)
        LD_AT_KEY(L, "signer", ld_check_jwt_signer(L, x));
    bool generated_cert = (x->kind == ARCA_SECRET_X509 || x->kind == ARCA_SECRET_X509_CA) &&
                          x->value.s == NULL && !x->has_import && x->provided_by.s == NULL;
    if (generated_cert) {
        LD_AT_KEY(L, "private_key", check_cert_input(L, &x->private_key, "private_key", x));
        LD_AT_KEY(L, "issuer", check_cert_input(L, &x->issuer, "issuer", x));
    }
    check_secret_ref(L, &x->private_key, ARCA_SECRET_PRIVATE_KEY, "private_key");
    check_secret_ref(L, &x->issuer, ARCA_SECRET_X509_CA, "issuer");
    if (x->issuer.s != NULL) {
        /* follow the issuer chain; more steps than secrets means a cycle */
        const struct arca_secret *cur = x;
        size_t steps = 0;
        while (cur != NULL && cur->issuer.s != NULL && steps <= s->n_secrets) {
            cur = arca_session_find_secret(s, cur->issuer.s);
            steps++;
        }
        if (steps > s->n_secrets)
            ld_err(L, x->issuer.pos, "the issuer chain of '%s' has a cycle", x->name.s);
    }
    if (x->provided_by.s != NULL && arca_session_find_service(s, x->provided_by.s) == NULL)
        ld_err(L, x->provided_by.pos, "provided_by '%.128s' is not a service of this session",
               x->provided_by.s);
}

static void service_command_placeholders(struct ld *L, const struct arca_service *v)
{
    if (v->command.s != NULL)
        check_str_placeholders(L, &v->command);
    else
        for (size_t j = 0; j < v->argc; j++)
            check_str_placeholders(L, &v->argv[j]);
}

static void env_placeholders(struct ld *L, const struct arca_env *e)
{
    LD_AT_KEY(L, e->name.s ? e->name.s : "?", check_str_placeholders(L, &e->value));
}

static void cross_service(struct ld *L, const struct arca_service *v)
{
    const struct arca_session *s = L->s;
    if (v->image_name.s != NULL && arca_session_find_image(s, v->image_name.s) == NULL)
        LD_AT_KEY(L, "image_name",
                  ld_err(L, v->image_name.pos, "image '%.128s' is not defined in images",
                         v->image_name.s));
    char field[64];
    snprintf(field, sizeof(field), "services[%zu].attestation", (size_t)(v - s->services));
    /* variants (or the mode) that are imported fragments are known only at use */
    bool imported = ld_import_under(L, field) != NULL || ld_import_under(L, "security") != NULL;
    if (v->n_variants == 0 && s->security.mode != ARCA_ATT_MODE_NONE && !imported)
        ld_err(L, v->pos,
               "service '%s' has no attestation variant (give attestation: with "
               "mrenclave, signer, tdx, snp or simulation, or set "
               "security.attestation.mode: none)",
               v->name.s ? v->name.s : "?");
    LD_AT_KEY(L, "command", service_command_placeholders(L, v));
    for (size_t j = 0; j < v->n_env; j++)
        LD_AT_KEY(L, "environment", env_placeholders(L, &v->env[j]));
    LD_AT_KEY(L, "fspf_key", check_key32_secret(L, &v->fspf_key, "fspf_key"));
    if (v->otp_secret.s != NULL)
        LD_AT_KEY(L, "one_time_password_shared_secret", check_str_placeholders(L, &v->otp_secret));
    for (size_t j = 0; j < v->n_platforms; j++)
        if (!v->platforms[j].literal &&
            arca_session_find_secret(s, v->platforms[j].secret.s) == NULL)
            LD_AT_ITEM(L, "platforms", j,
                       ld_err(L, v->platforms[j].pos,
                              "placeholder names no secret '%.128s' of this session",
                              v->platforms[j].secret.s));
}

static void cross_image(struct ld *L, const struct arca_image *im)
{
    for (size_t j = 0; j < im->n_volumes; j++)
        if (im->volumes[j].name.s != NULL &&
            arca_session_find_volume(L->s, im->volumes[j].name.s) == NULL)
            LD_AT_ITEM(L, "volumes", j,
                       ld_err(L, im->volumes[j].name.pos,
                              "volume '%.128s' is not defined in volumes", im->volumes[j].name.s));
    for (size_t j = 0; j < im->n_files; j++)
        if (im->files[j].has_content)
            LD_AT_ITEM(L, "injection_files", j, check_str_placeholders(L, &im->files[j].content));
}

void ld_check_cross(struct ld *L)
{
    struct arca_session *s = L->s;
    if (s->n_services > 0)
        check_unique(L, "services", &s->services[0].name, s->n_services, sizeof(*s->services));
    if (s->n_secrets > 0)
        check_unique(L, "secrets", &s->secrets[0].name, s->n_secrets, sizeof(*s->secrets));
    if (s->n_images > 0)
        check_unique(L, "images", &s->images[0].name, s->n_images, sizeof(*s->images));
    if (s->n_volumes > 0)
        check_unique(L, "volumes", &s->volumes[0].name, s->n_volumes, sizeof(*s->volumes));

    for (size_t i = 0; i < s->n_secrets; i++)
        LD_AT_ITEM(L, "secrets", i, cross_secret(L, &s->secrets[i]));
    for (size_t i = 0; i < s->n_services; i++)
        LD_AT_ITEM(L, "services", i, cross_service(L, &s->services[i]));
    for (size_t i = 0; i < s->n_images; i++)
        LD_AT_ITEM(L, "images", i, cross_image(L, &s->images[i]));
    for (size_t i = 0; i < s->n_volumes; i++)
        LD_AT_ITEM(L, "volumes", i, check_key32_secret(L, &s->volumes[i].fspf_key, "fspf_key"));

    static const char *const ops[] = {"access_policy.read", "access_policy.update",
                                      "access_policy.create_sessions",
                                      "access_policy.list_sessions"};
    const struct arca_ap_rule *rules[] = {&s->access.read, &s->access.update,
                                          &s->access.create_sessions, &s->access.list_sessions};
    for (int i = 0; i < 4; i++) {
        if (!rules[i]->written)
            continue; /* a copied default was checked where it was written */
        LD_AT_KEY(L, ops[i], check_ap_secrets(L, rules[i]->entries, rules[i]->n_entries));
    }
    if (s->security.otp_secret.s != NULL)
        LD_AT_KEY(L, "security.attestation.one_time_password_shared_secret",
                  check_str_placeholders(L, &s->security.otp_secret));
    if (s->security.service_access_token.s != NULL)
        LD_AT_KEY(L, "security.service_access_token",
                  check_str_placeholders(L, &s->security.service_access_token));
}
