/*
 * The canonical session encoding and hash (docs/canonical-hash.md).
 *
 * The encoding is a sequence of fields in a fixed order, each introduced by its name as a
 * length-prefixed string, so that no two different models encode alike:
 *   str    = 0x00 (absent) | 0x01 lv(bytes)
 *   bytes  = lv(bytes)                (fixed-size digests and keys)
 *   u64    = 8 bytes big-endian;  bool = 1 byte
 *   list   = u32be count, items
 * where lv(x) = u32be length || x. Positions, the file name, the command's written form, the
 * textual valid_for and "was it written or defaulted" flags are not encoded: they do not change
 * what the session means. Environment variables are sorted by name (a YAML mapping has no
 * order); every list keeps its written order. Config-fragment values are encoded as trees with
 * sorted map keys.
 */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "crypto/crypto.h"
#include "policy/session_internal.h"

#define ARCA_SESSION_HASH_DOMAIN "arca-session-v1"

static int f(struct arca_buf *b, const char *name)
{
    return arca_buf_put_lv(b, name, strlen(name));
}

static int e_str(struct arca_buf *b, const char *name, const struct arca_str *s)
{
    ARCA_TRY(f(b, name));
    if (s->s == NULL)
        return arca_buf_put_u8(b, 0);
    ARCA_TRY(arca_buf_put_u8(b, 1));
    return arca_buf_put_lv(b, s->s, s->len);
}

static int e_bytes(struct arca_buf *b, const char *name, const void *p, size_t n)
{
    ARCA_TRY(f(b, name));
    return arca_buf_put_lv(b, p, n);
}

static int e_opt_bytes(struct arca_buf *b, const char *name, bool has, const void *p, size_t n)
{
    ARCA_TRY(f(b, name));
    ARCA_TRY(arca_buf_put_u8(b, has ? 1 : 0));
    return has ? arca_buf_put_lv(b, p, n) : 0;
}

static int e_u64(struct arca_buf *b, const char *name, uint64_t v)
{
    ARCA_TRY(f(b, name));
    return arca_buf_put_u64be(b, v);
}

static int e_bool(struct arca_buf *b, const char *name, bool v)
{
    ARCA_TRY(f(b, name));
    return arca_buf_put_u8(b, v ? 1 : 0);
}

static int e_count(struct arca_buf *b, const char *name, size_t n)
{
    ARCA_TRY(f(b, name));
    return arca_buf_put_u32be(b, (uint32_t)n);
}

static int e_strs(struct arca_buf *b, const char *name, const struct arca_str *v, size_t n)
{
    ARCA_TRY(e_count(b, name, n));
    for (size_t i = 0; i < n; i++)
        ARCA_TRY(e_str(b, "item", &v[i]));
    return 0;
}

static int e_ref(struct arca_buf *b, const char *name, const struct arca_session_ref *r)
{
    ARCA_TRY(f(b, name));
    ARCA_TRY(e_str(b, "session", &r->session));
    ARCA_TRY(e_str(b, "namespace", &r->namespace_));
    ARCA_TRY(e_opt_bytes(b, "session_hash", r->has_session_hash, r->session_hash, 32));
    ARCA_TRY(e_str(b, "cas_url", &r->cas_url));
    ARCA_TRY(e_opt_bytes(b, "cas_key", r->has_cas_key, r->cas_key, 32));
    return e_opt_bytes(b, "cas_software_key", r->has_cas_software_key, r->cas_software_key, 32);
}

static int e_key32(struct arca_buf *b, const char *name, const struct arca_key32_ref *k)
{
    ARCA_TRY(f(b, name));
    ARCA_TRY(arca_buf_put_u8(b, !k->set ? 0 : (k->literal ? 1 : 2)));
    if (!k->set)
        return 0;
    if (k->literal)
        return arca_buf_put_lv(b, k->key, 32);
    ARCA_TRY(e_str(b, "secret", &k->secret));
    return e_str(b, "format", &k->format);
}

static int e_platforms(struct arca_buf *b, const char *name, const struct arca_platform_ref *v,
                       size_t n)
{
    ARCA_TRY(e_count(b, name, n));
    for (size_t i = 0; i < n; i++) {
        ARCA_TRY(arca_buf_put_u8(b, v[i].intel_qe_id ? 3 : v[i].literal ? 1 : 2));
        if (v[i].intel_qe_id)
            ARCA_TRY(arca_buf_put_lv(b, v[i].key, 16));
        else if (v[i].literal)
            ARCA_TRY(arca_buf_put_lv(b, v[i].key, 32));
        else
            ARCA_TRY(e_str(b, "secret", &v[i].secret));
    }
    return 0;
}

static int e_variant(struct arca_buf *b, const struct arca_att_variant *v)
{
    ARCA_TRY(e_count(b, "mrenclave", v->n_mrenclave));
    for (size_t i = 0; i < v->n_mrenclave; i++)
        ARCA_TRY(arca_buf_put_lv(b, v->mrenclave[i].v, 32));
    ARCA_TRY(e_bool(b, "signer", v->has_signer));
    if (v->has_signer) {
        const struct arca_sgx_signer *s = &v->signer;
        ARCA_TRY(e_bytes(b, "mrsigner", s->mrsigner, 32));
        ARCA_TRY(e_u64(b, "isvprodid", s->isvprodid));
        ARCA_TRY(e_bool(b, "has_isvsvn", s->has_isvsvn));
        ARCA_TRY(e_u64(b, "isvsvn", s->isvsvn));
        ARCA_TRY(e_bool(b, "has_isvsvn_min", s->has_isvsvn_min));
        ARCA_TRY(e_u64(b, "isvsvn_min", s->isvsvn_min));
        ARCA_TRY(e_bool(b, "has_isvsvn_max", s->has_isvsvn_max));
        ARCA_TRY(e_u64(b, "isvsvn_max", s->isvsvn_max));
    }
    ARCA_TRY(e_bool(b, "tdx", v->has_tdx));
    if (v->has_tdx) {
        static const char *const rt[] = {"rtmr0", "rtmr1", "rtmr2", "rtmr3"};
        ARCA_TRY(e_bytes(b, "mrtd", v->tdx.mrtd, 48));
        for (int i = 0; i < 4; i++)
            ARCA_TRY(e_opt_bytes(b, rt[i], v->tdx.has_rtmr[i], v->tdx.rtmr[i], 48));
        ARCA_TRY(e_opt_bytes(b, "mrconfigid", v->tdx.has_mrconfigid, v->tdx.mrconfigid, 48));
        ARCA_TRY(e_opt_bytes(b, "mrowner", v->tdx.has_mrowner, v->tdx.mrowner, 48));
    }
    ARCA_TRY(e_bool(b, "snp", v->has_snp));
    if (v->has_snp) {
        ARCA_TRY(e_bytes(b, "measurement", v->snp.measurement, 48));
        ARCA_TRY(e_opt_bytes(b, "host_data", v->snp.has_host_data, v->snp.host_data, 32));
        ARCA_TRY(e_bool(b, "has_min_tcb", v->snp.has_min_tcb));
        ARCA_TRY(e_u64(b, "min_tcb", v->snp.min_tcb));
    }
    ARCA_TRY(e_bool(b, "simulation", v->has_sim));
    if (v->has_sim)
        ARCA_TRY(e_bytes(b, "measurement", v->sim_measurement, 32));
    return 0;
}

static int env_cmp(const void *a, const void *b)
{
    const struct arca_env *x = *(const struct arca_env *const *)a;
    const struct arca_env *y = *(const struct arca_env *const *)b;
    return strcmp(x->name.s, y->name.s);
}

static int e_service(struct arca_buf *b, const struct arca_service *v)
{
    ARCA_TRY(e_str(b, "name", &v->name));
    ARCA_TRY(e_strs(b, "argv", v->argv, v->argc));
    ARCA_TRY(e_count(b, "environment", v->n_env));
    if (v->n_env > 0) {
        const struct arca_env **sorted = malloc(v->n_env * sizeof(*sorted));
        if (sorted == NULL)
            return ARCA_ERR_ALLOC;
        for (size_t i = 0; i < v->n_env; i++)
            sorted[i] = &v->env[i];
        qsort(sorted, v->n_env, sizeof(*sorted), env_cmp);
        int rc = 0;
        for (size_t i = 0; i < v->n_env && rc == 0; i++) {
            rc = e_str(b, "name", &sorted[i]->name);
            if (rc == 0)
                rc = e_bool(b, "from_host", sorted[i]->from_host);
            if (rc == 0)
                rc = e_str(b, "value", &sorted[i]->value);
        }
        free(sorted);
        ARCA_TRY(rc);
    }
    ARCA_TRY(e_str(b, "pwd", &v->pwd));
    ARCA_TRY(e_str(b, "image_name", &v->image_name));
    ARCA_TRY(e_str(b, "fspf_path", &v->fspf_path));
    ARCA_TRY(e_key32(b, "fspf_key", &v->fspf_key));
    ARCA_TRY(e_opt_bytes(b, "fspf_tag", v->has_fspf_tag, v->fspf_tag, 16));
    ARCA_TRY(e_u64(b, "fspf_update_policy", (uint64_t)v->fspf_update_policy));
    ARCA_TRY(e_count(b, "attestation", v->n_variants));
    for (size_t i = 0; i < v->n_variants; i++)
        ARCA_TRY(e_variant(b, &v->variants[i]));
    ARCA_TRY(e_platforms(b, "platforms", v->platforms, v->n_platforms));
    return e_str(b, "one_time_password_shared_secret", &v->otp_secret);
}

/* Only for secrets that have one, so that every hash from before stays the same. */
static int e_azure(struct arca_buf *b, const struct arca_azure_secret *a)
{
    ARCA_TRY(e_str(b, "tenant_id", &a->tenant_id));
    ARCA_TRY(e_str(b, "client_id", &a->client_id));
    ARCA_TRY(e_str(b, "application_secret", &a->application_secret));
    ARCA_TRY(e_str(b, "aad_private_key", &a->private_key));
    ARCA_TRY(e_str(b, "certificate_thumbprint", &a->thumbprint));
    ARCA_TRY(e_bool(b, "import_akv", a->has_import_akv));
    ARCA_TRY(e_str(b, "vault", &a->akv_vault));
    ARCA_TRY(e_str(b, "secret_name", &a->akv_secret));
    return e_str(b, "token", &a->akv_token);
}

static int e_secret(struct arca_buf *b, const struct arca_secret *x)
{
    ARCA_TRY(e_str(b, "name", &x->name));
    ARCA_TRY(e_u64(b, "kind", (uint64_t)x->kind));
    ARCA_TRY(e_u64(b, "size", x->size));
    ARCA_TRY(e_u64(b, "key_type", (uint64_t)x->key_type));
    ARCA_TRY(e_str(b, "private_key", &x->private_key));
    ARCA_TRY(e_str(b, "issuer", &x->issuer));
    ARCA_TRY(e_str(b, "common_name", &x->common_name));
    ARCA_TRY(e_u64(b, "endpoint", (uint64_t)x->endpoint));
    ARCA_TRY(e_strs(b, "dns", x->dns, x->n_dns));
    ARCA_TRY(e_strs(b, "san", x->san, x->n_san));
    ARCA_TRY(e_bool(b, "has_valid_for", x->has_valid_for));
    ARCA_TRY(e_u64(b, "valid_for", (uint64_t)x->valid_for));
    if (x->kind == ARCA_SECRET_BINARY && x->value.s != NULL)
        ARCA_TRY(e_opt_bytes(b, "value", true, x->value_bytes, x->value_bytes_len));
    else
        ARCA_TRY(e_str(b, "value", &x->value));
    ARCA_TRY(e_bool(b, "fragment", x->fragment != NULL));
    if (x->fragment != NULL)
        ARCA_TRY(arca_ynode_encode(x->fragment, b));
    ARCA_TRY(e_count(b, "export", x->n_exports));
    for (size_t i = 0; i < x->n_exports; i++)
        ARCA_TRY(e_ref(b, "to", &x->exports[i]));
    ARCA_TRY(e_bool(b, "export_public", x->export_public));
    ARCA_TRY(e_bool(b, "import", x->has_import));
    if (x->has_import) {
        ARCA_TRY(e_ref(b, "from", &x->import_from));
        ARCA_TRY(e_str(b, "secret", &x->import_secret));
    }
    ARCA_TRY(e_bool(b, "migrate", x->migrate));
    ARCA_TRY(e_str(b, "provided_by", &x->provided_by));
    if (x->azure != NULL)
        ARCA_TRY(e_azure(b, x->azure));
    if (x->kind != ARCA_SECRET_JWT)
        return 0; /* so that the hashes of sessions without jwt secrets stay as they were */
    ARCA_TRY(e_str(b, "signer", &x->signer));
    ARCA_TRY(e_str(b, "alg", &x->jwt_alg));
    ARCA_TRY(e_u64(b, "validity_for", (uint64_t)x->jwt_valid_for));
    ARCA_TRY(e_u64(b, "validity_until", (uint64_t)x->jwt_until));
    return e_strs(b, "payload", x->claims, x->n_claims);
}

static int e_volume(struct arca_buf *b, const struct arca_volume *v)
{
    ARCA_TRY(e_str(b, "name", &v->name));
    ARCA_TRY(e_key32(b, "fspf_key", &v->fspf_key));
    ARCA_TRY(e_opt_bytes(b, "fspf_tag", v->has_fspf_tag, v->fspf_tag, 16));
    ARCA_TRY(e_count(b, "export", v->n_exports));
    for (size_t i = 0; i < v->n_exports; i++) {
        ARCA_TRY(e_ref(b, "to", &v->exports[i].to));
        ARCA_TRY(e_u64(b, "update_policy", (uint64_t)v->exports[i].update_policy));
        ARCA_TRY(e_str(b, "volume_alias", &v->exports[i].volume_alias));
    }
    ARCA_TRY(e_bool(b, "import", v->has_import));
    if (v->has_import) {
        ARCA_TRY(e_ref(b, "from", &v->import_from));
        ARCA_TRY(e_str(b, "volume", &v->import_volume));
    }
    return 0;
}

static int e_image(struct arca_buf *b, const struct arca_image *im)
{
    ARCA_TRY(e_str(b, "name", &im->name));
    ARCA_TRY(e_count(b, "volumes", im->n_volumes));
    for (size_t i = 0; i < im->n_volumes; i++) {
        ARCA_TRY(e_str(b, "name", &im->volumes[i].name));
        ARCA_TRY(e_str(b, "path", &im->volumes[i].path));
        ARCA_TRY(e_u64(b, "update_policy", (uint64_t)im->volumes[i].update_policy));
    }
    ARCA_TRY(e_count(b, "injection_files", im->n_files));
    for (size_t i = 0; i < im->n_files; i++) {
        ARCA_TRY(e_str(b, "path", &im->files[i].path));
        ARCA_TRY(e_bool(b, "has_content", im->files[i].has_content));
        ARCA_TRY(e_str(b, "content", &im->files[i].content));
        ARCA_TRY(e_u64(b, "permission", im->files[i].mode));
    }
    return 0;
}

static int e_ap_nodes(struct arca_buf *b, const struct arca_ap_node *v, size_t n)
{
    ARCA_TRY(arca_buf_put_u32be(b, (uint32_t)n));
    for (size_t i = 0; i < n; i++) {
        const struct arca_ap_node *a = &v[i];
        ARCA_TRY(arca_buf_put_u8(b, (uint8_t)a->kind));
        switch (a->kind) {
        case ARCA_AP_CERT:
        case ARCA_AP_KEYHASH:
            /* only the public key counts: a renewed certificate keeps the same hash */
            ARCA_TRY(arca_buf_put_lv(b, a->key_id, 32));
            break;
        case ARCA_AP_SIGNER:
            ARCA_TRY(arca_buf_put_lv(b, a->spki_der, a->spki_der_len));
            break;
        case ARCA_AP_SECRET:
            ARCA_TRY(arca_buf_put_lv(b, a->secret.s, a->secret.len));
            break;
        case ARCA_AP_ALL:
        case ARCA_AP_AT_LEAST:
            ARCA_TRY(arca_buf_put_u32be(b, a->threshold));
            ARCA_TRY(e_ap_nodes(b, a->children, a->n_children));
            break;
        default:
            break;
        }
    }
    return 0;
}

int arca_session_encode_canonical(const struct arca_session *s, struct arca_buf *b)
{
    ARCA_ENSURE_REF(s);
    ARCA_ENSURE_REF(b);
    ARCA_TRY(arca_buf_put_lv(b, ARCA_SESSION_HASH_DOMAIN, strlen(ARCA_SESSION_HASH_DOMAIN)));
    ARCA_TRY(e_str(b, "name", &s->name));
    ARCA_TRY(e_str(b, "version", &s->version));
    ARCA_TRY(e_opt_bytes(b, "predecessor", s->has_predecessor, s->predecessor, 32));
    ARCA_TRY(e_count(b, "services", s->n_services));
    for (size_t i = 0; i < s->n_services; i++)
        ARCA_TRY(e_service(b, &s->services[i]));
    ARCA_TRY(e_count(b, "secrets", s->n_secrets));
    for (size_t i = 0; i < s->n_secrets; i++)
        ARCA_TRY(e_secret(b, &s->secrets[i]));
    ARCA_TRY(e_count(b, "images", s->n_images));
    for (size_t i = 0; i < s->n_images; i++)
        ARCA_TRY(e_image(b, &s->images[i]));
    ARCA_TRY(e_count(b, "volumes", s->n_volumes));
    for (size_t i = 0; i < s->n_volumes; i++)
        ARCA_TRY(e_volume(b, &s->volumes[i]));
    const struct arca_ap_rule *rules[] = {&s->access.read, &s->access.update,
                                          &s->access.create_sessions, &s->access.list_sessions};
    static const char *const names[] = {"read", "update", "create_sessions", "list_sessions"};
    for (int i = 0; i < 4; i++) {
        ARCA_TRY(f(b, names[i]));
        ARCA_TRY(e_ap_nodes(b, rules[i]->entries, rules[i]->n_entries));
    }
    const struct arca_security *sec = &s->security;
    ARCA_TRY(e_u64(b, "mode", (uint64_t)sec->mode));
    ARCA_TRY(e_u64(b, "tolerate", sec->tolerate));
    ARCA_TRY(e_bool(b, "ignore_all_advisories", sec->ignore_all_advisories));
    ARCA_TRY(e_strs(b, "ignore_advisories", sec->ignore_advisories, sec->n_ignore_advisories));
    ARCA_TRY(
        e_platforms(b, "trusted_scone_qe_pubkeys", sec->trusted_qe_keys, sec->n_trusted_qe_keys));
    ARCA_TRY(e_str(b, "one_time_password_shared_secret", &sec->otp_secret));
    ARCA_TRY(e_bool(b, "singleton_enclaves", sec->singleton_enclaves));
    ARCA_TRY(e_str(b, "service_access_token", &sec->service_access_token));
    /* Only when written, so that every hash from before the salt existed stays the same. The
     * creator: field is not encoded: it must equal the creator, whose key id is hashed. */
    if (sec->url.s != NULL)
        ARCA_TRY(e_str(b, "url", &sec->url));
    if (sec->maa) /* mode: maa (hashed for `arca session hash`; a create refuses it) */
        ARCA_TRY(e_bool(b, "maa_managed_tcb", sec->maa_managed_tcb));
    /* Imported fragments stand for whole nodes that the model leaves out: which import stands
     * where is part of the meaning (also only when there are any). */
    for (size_t i = 0; i < s->n_import_uses; i++) {
        ARCA_TRY(e_str(b, "import_use", &s->import_uses[i].field));
        ARCA_TRY(e_str(b, "import_secret", &s->import_uses[i].secret));
    }
    return s->has_salt ? e_bytes(b, "salt", s->salt, 16) : 0;
}

int arca_session_hash(const struct arca_session *s, const uint8_t creator_key_id[32],
                      uint8_t out[32])
{
    static const uint8_t zero[32];
    ARCA_ENSURE_REF(s);
    ARCA_ENSURE_REF(out);
    struct arca_buf b;
    /* the encoding holds explicit secret values: keep it in a secret buffer */
    arca_buf_init_secret(&b, 0);
    int rc = arca_session_encode_canonical(s, &b);
    if (rc == 0)
        rc = arca_buf_put_lv(&b, creator_key_id ? creator_key_id : zero, 32);
    if (rc == 0)
        rc = arca_sha256(b.data, b.len, out);
    arca_buf_free(&b);
    return rc;
}
