/*
 * The session model: freeing, lookups and name rules.
 */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "policy/session_internal.h"

static void str_free(struct arca_str *s)
{
    if (s->s != NULL)
        arca_wipe_free(s->s, s->len);
    s->s = NULL;
    s->len = 0;
}

static void strs_free(struct arca_str *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        str_free(&v[i]);
    free(v);
}

static void ref_free(struct arca_session_ref *r)
{
    str_free(&r->session);
    str_free(&r->namespace_);
    str_free(&r->cas_url);
}

static void ap_nodes_free(struct arca_ap_node *v, size_t n);

/* What node a owns (not a itself). */
static void ap_node_clear(struct arca_ap_node *a)
{
    str_free(&a->cert_pem);
    str_free(&a->secret);
    free(a->spki_der);
    ap_nodes_free(a->children, a->n_children);
}

static void ap_nodes_free(struct arca_ap_node *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ap_node_clear(&v[i]);
    free(v);
}

static void platforms_free(struct arca_platform_ref *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        str_free(&v[i].secret);
    free(v);
}

static void key32_free(struct arca_key32_ref *k)
{
    str_free(&k->secret);
    str_free(&k->format);
    arca_wipe(k->key, sizeof(k->key));
}

void arca_session_free(struct arca_session *s)
{
    if (s == NULL)
        return;
    free(s->filename);
    str_free(&s->name);
    str_free(&s->version);
    for (size_t i = 0; i < s->n_services; i++) {
        struct arca_service *v = &s->services[i];
        str_free(&v->name);
        str_free(&v->command);
        strs_free(v->argv, v->argc);
        for (size_t j = 0; j < v->n_env; j++) {
            str_free(&v->env[j].name);
            str_free(&v->env[j].value);
        }
        free(v->env);
        str_free(&v->pwd);
        str_free(&v->image_name);
        str_free(&v->fspf_path);
        key32_free(&v->fspf_key);
        for (size_t j = 0; j < v->n_variants; j++)
            free(v->variants[j].mrenclave);
        free(v->variants);
        platforms_free(v->platforms, v->n_platforms);
        str_free(&v->otp_secret);
    }
    free(s->services);
    for (size_t i = 0; i < s->n_secrets; i++) {
        struct arca_secret *x = &s->secrets[i];
        str_free(&x->name);
        str_free(&x->private_key);
        str_free(&x->issuer);
        str_free(&x->common_name);
        strs_free(x->dns, x->n_dns);
        strs_free(x->san, x->n_san);
        str_free(&x->valid_for_text);
        str_free(&x->value);
        arca_wipe_free(x->value_bytes, x->value_bytes_len);
        arca_ynode_free(x->fragment);
        for (size_t j = 0; j < x->n_exports; j++)
            ref_free(&x->exports[j]);
        free(x->exports);
        ref_free(&x->import_from);
        str_free(&x->import_secret);
        str_free(&x->provided_by);
        str_free(&x->signer);
        str_free(&x->jwt_alg);
        strs_free(x->claims, x->n_claims);
        arca_azure_secret_free(x->azure);
    }
    free(s->secrets);
    for (size_t i = 0; i < s->n_images; i++) {
        struct arca_image *im = &s->images[i];
        str_free(&im->name);
        for (size_t j = 0; j < im->n_volumes; j++) {
            str_free(&im->volumes[j].name);
            str_free(&im->volumes[j].path);
        }
        free(im->volumes);
        for (size_t j = 0; j < im->n_files; j++) {
            str_free(&im->files[j].path);
            str_free(&im->files[j].content);
        }
        free(im->files);
    }
    free(s->images);
    for (size_t i = 0; i < s->n_volumes; i++) {
        struct arca_volume *vo = &s->volumes[i];
        str_free(&vo->name);
        key32_free(&vo->fspf_key);
        for (size_t j = 0; j < vo->n_exports; j++) {
            ref_free(&vo->exports[j].to);
            str_free(&vo->exports[j].volume_alias);
        }
        free(vo->exports);
        ref_free(&vo->import_from);
        str_free(&vo->import_volume);
    }
    free(s->volumes);
    struct arca_ap_rule *rules[] = {&s->access.read, &s->access.update, &s->access.create_sessions,
                                    &s->access.list_sessions};
    for (size_t i = 0; i < 4; i++) {
        ap_nodes_free(rules[i]->entries, rules[i]->n_entries);
        str_free(&rules[i]->import);
    }
    for (size_t i = 0; i < s->n_import_uses; i++) {
        str_free(&s->import_uses[i].secret);
        str_free(&s->import_uses[i].field);
    }
    free(s->import_uses);
    strs_free(s->security.ignore_advisories, s->security.n_ignore_advisories);
    platforms_free(s->security.trusted_qe_keys, s->security.n_trusted_qe_keys);
    str_free(&s->security.otp_secret);
    str_free(&s->security.service_access_token);
    str_free(&s->security.url);
    ap_node_clear(&s->creator);
    arca_wipe(s, sizeof(*s));
    free(s);
}

const struct arca_service *arca_session_find_service(const struct arca_session *s, const char *name)
{
    for (size_t i = 0; s != NULL && name != NULL && i < s->n_services; i++)
        if (s->services[i].name.s != NULL && strcmp(s->services[i].name.s, name) == 0)
            return &s->services[i];
    return NULL;
}

const struct arca_secret *arca_session_find_secret(const struct arca_session *s, const char *name)
{
    for (size_t i = 0; s != NULL && name != NULL && i < s->n_secrets; i++)
        if (s->secrets[i].name.s != NULL && strcmp(s->secrets[i].name.s, name) == 0)
            return &s->secrets[i];
    return NULL;
}

const struct arca_image *arca_session_find_image(const struct arca_session *s, const char *name)
{
    for (size_t i = 0; s != NULL && name != NULL && i < s->n_images; i++)
        if (s->images[i].name.s != NULL && strcmp(s->images[i].name.s, name) == 0)
            return &s->images[i];
    return NULL;
}

const struct arca_volume *arca_session_find_volume(const struct arca_session *s, const char *name)
{
    for (size_t i = 0; s != NULL && name != NULL && i < s->n_volumes; i++)
        if (s->volumes[i].name.s != NULL && strcmp(s->volumes[i].name.s, name) == 0)
            return &s->volumes[i];
    return NULL;
}

char *arca_session_parent_name(const struct arca_session *s)
{
    if (s == NULL || s->name.s == NULL)
        return NULL;
    const char *slash = strrchr(s->name.s, '/');
    if (slash == NULL)
        return NULL;
    return strndup(s->name.s, (size_t)(slash - s->name.s));
}

const char *arca_secret_kind_name(enum arca_secret_kind k)
{
    switch (k) {
    case ARCA_SECRET_ASCII:
        return "ascii";
    case ARCA_SECRET_BINARY:
        return "binary";
    case ARCA_SECRET_PRIVATE_KEY:
        return "private-key";
    case ARCA_SECRET_X509:
        return "x509";
    case ARCA_SECRET_X509_CA:
        return "x509-ca";
    case ARCA_SECRET_CONFIG_FRAGMENT:
        return "config-fragment";
    case ARCA_SECRET_PGP_KEY:
        return "pgp-key";
    case ARCA_SECRET_AAD_TOKEN:
        return "aad-token";
    case ARCA_SECRET_JWT:
        return "jwt";
    case ARCA_SECRET_NONE:
        break;
    }
    return "none";
}

const char *arca_fspf_policy_name(enum arca_fspf_policy p)
{
    switch (p) {
    case ARCA_FSPF_ROLLBACK_PROTECTED_REINITIALIZABLE:
        return "rollback_protected_reinitializable";
    case ARCA_FSPF_ROLLBACK_PROTECTED:
        return "rollback_protected";
    case ARCA_FSPF_EPHEMERAL:
        return "ephemeral";
    case ARCA_FSPF_NO_ROLLBACK_PROTECTION:
        return "no_rollback_protection";
    case ARCA_FSPF_DEFAULT:
        break;
    }
    return "";
}

static bool name_char_ok(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == '~';
}

int arca_session_name_check(const char *name, size_t len, bool allow_slash)
{
    if (name == NULL || len == 0)
        return arca_err_set(ARCA_ERR_FORMAT, "name is empty");
    if (len > (allow_slash ? ARCA_SESSION_NAME_MAX : ARCA_SESSION_COMPONENT_MAX))
        return arca_err_set(ARCA_ERR_FORMAT, "name is longer than %d characters",
                            allow_slash ? ARCA_SESSION_NAME_MAX : ARCA_SESSION_COMPONENT_MAX);
    size_t comp = 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (c == '/' && allow_slash) {
            if (comp == 0)
                return arca_err_set(ARCA_ERR_FORMAT, "name has an empty namespace component");
            comp = 0;
            continue;
        }
        if (!name_char_ok(c))
            return arca_err_set(
                ARCA_ERR_FORMAT,
                "name has character '%c' at offset %zu (allowed: A-Z a-z 0-9 _ - . ~%s)",
                (c >= 0x20 && c < 0x7f) ? c : '?', i, allow_slash ? " and /" : "");
        if (++comp > ARCA_SESSION_COMPONENT_MAX)
            return arca_err_set(ARCA_ERR_FORMAT, "a name component is longer than %d characters",
                                ARCA_SESSION_COMPONENT_MAX);
    }
    if (comp == 0)
        return arca_err_set(ARCA_ERR_FORMAT, "name has an empty namespace component");
    if (allow_slash) {
        /* "." and ".." components would make relative references ambiguous */
        const char *p = name;
        const char *end = name + len;
        while (p < end) {
            const char *q = memchr(p, '/', (size_t)(end - p));
            size_t n = q ? (size_t)(q - p) : (size_t)(end - p);
            if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
                return arca_err_set(ARCA_ERR_FORMAT, "name components '.' and '..' are reserved");
            p += n + 1;
        }
    }
    return 0;
}

int arca_security_wildcard_check(const struct arca_security *sec)
{
    /* The docs: "wildcards cannot be used in (non-debug) production mode". Production mode is
     * hardware appraisal of a production enclave; without appraisal (none, simulation) no
     * advisory is looked at, so "*" changes nothing there. */
    if (!sec->ignore_all_advisories || sec->mode == ARCA_ATT_MODE_NONE ||
        sec->mode == ARCA_ATT_MODE_SIMULATION || (sec->tolerate & ARCA_TOLERATE_DEBUG_MODE))
        return 0;
    return arca_err_set(ARCA_ERR_POLICY,
                        "ignore_advisories: \"*\" is only allowed when debug-mode is tolerated "
                        "(or attestation is not appraised: mode none or simulation)");
}
