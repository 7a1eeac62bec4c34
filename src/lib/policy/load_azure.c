/*
 * Session loader: the Azure forms of a secret — kind aad-token (tenant_id, client_id and
 * application_secret or private_key + certificate_thumbprint) and import_akv (vault,
 * secret_name, token) — in the shapes the established CAS documents. They are loaded into the
 * model and hashed, then refused as not supported (ld_needs_azure): both need Azure services
 * at run time, which arca does not reach. `arca session hash` loads with the refusal lifted.
 */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "crypto/crypto.h"
#include "policy/load_internal.h"

void ld_needs_azure(struct ld *L, struct arca_pos pos, const char *feature)
{
    if (!L->hash_only)
        ld_unsup(L, pos, "%s", feature);
}

void arca_azure_secret_free(struct arca_azure_secret *a)
{
    if (a == NULL)
        return;
    struct arca_str *all[] = {&a->tenant_id,   &a->client_id,  &a->application_secret,
                              &a->private_key, &a->thumbprint, &a->akv_vault,
                              &a->akv_secret,  &a->akv_token};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (all[i]->s != NULL)
            arca_wipe_free(all[i]->s, all[i]->len);
    free(a);
}

/* The secret's Azure part, made on first use (NULL and L->oom on failure). */
static struct arca_azure_secret *azure_of(struct ld *L, struct arca_secret *x)
{
    if (x->azure == NULL && (x->azure = calloc(1, sizeof(*x->azure))) == NULL)
        L->oom = true;
    return x->azure;
}

/* An Azure AD identifier (a GUID or a domain name): letters, digits, '-' and '.'. */
static void aad_id(struct ld *L, const struct arca_ynode *n, const char *key, struct arca_str *out)
{
    ld_field_str(L, n, key, out, true);
    if (out->s == NULL)
        return;
    for (size_t i = 0; i < out->len; i++) {
        char c = out->s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.')) {
            LD_AT_KEY(L, key,
                      ld_err(L, out->pos,
                             "%s must be an Azure AD id (a GUID or a domain name): character "
                             "%zu is not a letter, digit, '-' or '.'",
                             key, i));
            return;
        }
    }
}

/*
 * The text of v into out. 1 when it is exactly one placeholder (*name / *nlen: the secret it
 * names, inside out), 0 for other text, -1 when v is no text (reported).
 */
static int text_or_placeholder(struct ld *L, const struct arca_ynode *v, struct arca_str *out,
                               const char **name, size_t *nlen)
{
    const char *fmt;
    size_t flen;
    if (!ld_get_str(L, v, out, false))
        return -1;
    return ld_whole_placeholder(out->s, out->len, name, nlen, &fmt, &flen) ? 1 : 0;
}

/* private_key: an inline PEM RSA private key (as the docs write it) or one placeholder. */
static void aad_private_key(struct ld *L, const struct arca_ynode *v, struct arca_azure_secret *a)
{
    const char *name;
    size_t nlen;
    if (text_or_placeholder(L, v, &a->private_key, &name, &nlen) != 0)
        return;
    struct arca_key *k = NULL;
    if (arca_key_from_pem(a->private_key.s, a->private_key.len, &k) < 0 || !arca_key_has_private(k))
        ld_err(L, v->pos, "private_key is not a PEM private key");
    else if (arca_key_type(k) != ARCA_KEY_RSA2048 && arca_key_type(k) != ARCA_KEY_RSA3072 &&
             arca_key_type(k) != ARCA_KEY_RSA4096 && arca_key_type(k) != ARCA_KEY_RSA_OTHER)
        ld_err(L, v->pos, "private_key must be an RSA key (Azure AD certificates), got %s",
               arca_key_type_name(arca_key_type(k)));
    arca_key_free(k);
}

/* certificate_thumbprint: the SHA-1 thumbprint Azure AD shows, 40 hex characters. */
static void aad_thumbprint(struct ld *L, const struct arca_ynode *v, struct arca_azure_secret *a)
{
    uint8_t sha1[20];
    if (ld_get_hex_fixed(L, v, "certificate_thumbprint", sha1, sizeof(sha1)))
        ld_get_str(L, v, &a->thumbprint, false);
}

void ld_parse_aad_token(struct ld *L, const struct arca_ynode *n, struct arca_secret *x,
                        const struct arca_ynode *kind)
{
    static const char *const keys[] = {"name",
                                       "kind",
                                       "tenant_id",
                                       "client_id",
                                       "application_secret",
                                       "private_key",
                                       "certificate_thumbprint",
                                       "export",
                                       "export_public",
                                       NULL};
    x->kind = ARCA_SECRET_AAD_TOKEN;
    if (!ld_check_keys(L, n, "an aad-token secret", keys, NULL))
        return;
    struct arca_azure_secret *a = azure_of(L, x);
    if (a == NULL)
        return;
    aad_id(L, n, "tenant_id", &a->tenant_id);
    aad_id(L, n, "client_id", &a->client_id);
    const struct arca_ynode *as = arca_ynode_get(n, "application_secret");
    const struct arca_ynode *pk = arca_ynode_get(n, "private_key");
    const struct arca_ynode *tp = arca_ynode_get(n, "certificate_thumbprint");
    if (as != NULL)
        LD_AT_KEY(L, "application_secret", ld_get_str(L, as, &a->application_secret, false));
    if (pk != NULL)
        LD_AT_KEY(L, "private_key", aad_private_key(L, pk, a));
    if (tp != NULL)
        LD_AT_KEY(L, "certificate_thumbprint", aad_thumbprint(L, tp, a));
    if (as != NULL && (pk != NULL || tp != NULL))
        ld_err(L, as->pos,
               "'application_secret' excludes 'private_key' and 'certificate_thumbprint' (one "
               "credential)");
    else if (as == NULL && pk == NULL && tp == NULL)
        ld_err(L, n->pos,
               "an aad-token needs 'application_secret', or 'private_key' with "
               "'certificate_thumbprint'");
    else if (as == NULL && (pk == NULL) != (tp == NULL))
        ld_err(L, (pk != NULL ? pk : tp)->pos,
               "'private_key' and 'certificate_thumbprint' go together");
    LD_AT_KEY(L, "kind",
              ld_needs_azure(L, kind->pos,
                             "secret kind 'aad-token' (tokens are fetched from Azure AD at run "
                             "time)"));
}

/* secret_name: an Azure Key Vault object name, 1..127 of letters, digits and '-'. */
static void akv_secret_name(struct ld *L, const struct arca_ynode *v, struct arca_azure_secret *a)
{
    if (!ld_get_str(L, v, &a->akv_secret, false))
        return;
    bool ok = a->akv_secret.len <= 127;
    for (size_t i = 0; ok && i < a->akv_secret.len; i++) {
        char c = a->akv_secret.s[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    }
    if (!ok)
        ld_err(L, v->pos,
               "secret_name must be an Azure Key Vault name (1 to 127 letters, digits and '-')");
}

/* vault: https://<name>.vault.azure.net (any https URL of a vault is accepted). */
static void akv_vault(struct ld *L, const struct arca_ynode *v, struct arca_azure_secret *a)
{
    static const char https[] = "https://";
    if (!ld_get_str(L, v, &a->akv_vault, false))
        return;
    const char *host = a->akv_vault.s + sizeof(https) - 1;
    if (strncmp(a->akv_vault.s, https, sizeof(https) - 1) != 0 || *host == 0 || *host == '/' ||
        strpbrk(a->akv_vault.s, " \t\r\n?#") != NULL)
        ld_err(L, v->pos, "vault must be the https:// URL of an Azure Key Vault");
}

/* token: the aad-token secret that authorises the read, by name or as one placeholder. */
static void akv_token(struct ld *L, const struct arca_ynode *v, struct arca_azure_secret *a)
{
    const char *name;
    size_t nlen;
    if (text_or_placeholder(L, v, &a->akv_token, &name, &nlen) == 1)
        ld_set_str(L, &a->akv_token, name, nlen, v->pos); /* copies before it frees */
}

void ld_parse_import_akv(struct ld *L, const struct arca_ynode *n, struct arca_secret *x)
{
    static const char *const keys[] = {"vault", "secret_name", "token", NULL};
    if (!ld_check_keys(L, n, "import_akv", keys, NULL))
        return;
    struct arca_azure_secret *a = azure_of(L, x);
    if (a == NULL)
        return;
    a->has_import_akv = true;
    a->akv_pos = n->pos;
    const struct arca_ynode *v;
    if ((v = arca_ynode_get(n, "vault")) == NULL)
        ld_err(L, n->pos, "missing mandatory key 'vault'");
    else
        LD_AT_KEY(L, "vault", akv_vault(L, v, a));
    if ((v = arca_ynode_get(n, "secret_name")) != NULL)
        LD_AT_KEY(L, "secret_name", akv_secret_name(L, v, a));
    if ((v = arca_ynode_get(n, "token")) != NULL)
        LD_AT_KEY(L, "token", akv_token(L, v, a));
}

/* The token of one import_akv names an aad-token of the session (or there is exactly one). */
static void akv_token_check(struct ld *L, const struct arca_azure_secret *a, size_t tokens)
{
    if (a->akv_token.s != NULL) {
        const struct arca_secret *t = arca_session_find_secret(L->s, a->akv_token.s);
        if (t == NULL || t->kind != ARCA_SECRET_AAD_TOKEN)
            ld_err(L, a->akv_token.pos, "token '%.60s' is not an aad-token secret of this session",
                   a->akv_token.s);
    } else if (tokens != 1) {
        ld_err(L, a->akv_pos,
               "import_akv without 'token' needs exactly one aad-token secret in the session, "
               "found %zu",
               tokens);
    }
}

static void akv_check(struct ld *L, const struct arca_azure_secret *a, size_t tokens)
{
    LD_AT_KEY(L, "import_akv", akv_token_check(L, a, tokens));
}

void ld_check_azure(struct ld *L)
{
    const struct arca_session *s = L->s;
    size_t tokens = 0;
    for (size_t i = 0; i < s->n_secrets; i++)
        tokens += s->secrets[i].kind == ARCA_SECRET_AAD_TOKEN;
    for (size_t i = 0; i < s->n_secrets; i++) {
        const struct arca_azure_secret *a = s->secrets[i].azure;
        if (a != NULL && a->has_import_akv)
            LD_AT_ITEM(L, "secrets", i, akv_check(L, a, tokens));
    }
}
