/*
 * Session loader: the security section (singleton_enclaves, service_access_token and
 * security.attestation: mode, tolerate, ignore_advisories, trusted QE keys, one-time password).
 */
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "crypto/crypto.h"
#include "policy/load_internal.h"

static void attestation_mode(struct ld *L, const struct arca_ynode *m, struct arca_security *sec)
{
    sec->mode_pos = m->pos;
    if (ld_is_pending(L, m)) { /* an imported fragment: hardware until it is resolved at use */
        L->sec_deferred = true;
        return;
    }
    if (!ld_expect(L, m, ARCA_YNODE_SCALAR, "an attestation mode"))
        return;
    if (strcmp(m->text, "hardware") == 0)
        sec->mode = ARCA_ATT_MODE_HARDWARE;
    else if (strcmp(m->text, "simulation") == 0)
        sec->mode = ARCA_ATT_MODE_SIMULATION;
    else if (strcmp(m->text, "none") == 0)
        sec->mode = ARCA_ATT_MODE_NONE;
    else if (strcmp(m->text, "maa") == 0)
        sec->maa = true; /* shape-checked with url and tolerate, then refused (maa_mode) */
    else
        ld_err(L, m->pos,
               "unknown attestation mode '%.40s' (expected hardware, "
               "simulation or none)",
               m->text);
}

/* One tolerate value, by the one table of tolerance names (arca_tolerate_table). */
static void tolerate_item(struct ld *L, const struct arca_ynode *it, struct arca_security *sec)
{
    if (ld_is_pending(L, it)) { /* imported: nothing tolerated until it is resolved at use */
        L->sec_deferred = true;
        return;
    }
    if (!ld_expect(L, it, ARCA_YNODE_SCALAR, "a string"))
        return;
    uint32_t bit = arca_tolerate_from_name(it->text);
    if (bit != 0) {
        sec->tolerate |= bit;
        return;
    }
    if (strcmp(it->text, "maa-managed-tcb") == 0) {
        if (!sec->maa)
            ld_err(L, it->pos, "'maa-managed-tcb' applies only to mode: maa");
        sec->maa_managed_tcb = true;
        return;
    }
    char list[256];
    size_t off = 0, count = 0;
    const struct arca_tolerate_name *t = arca_tolerate_table(&count);
    list[0] = 0;
    for (size_t j = 0; j < count && off < sizeof(list); j++) {
        int w = snprintf(list + off, sizeof(list) - off, "%s%s", j ? ", " : "", t[j].name);
        if (w > 0)
            off += (size_t)w;
    }
    ld_err(L, it->pos, "unknown tolerate value '%.40s' (expected %s)", it->text, list);
}

static void tolerate_list(struct ld *L, const struct arca_ynode *t, struct arca_security *sec)
{
    if (ld_is_pending(L, t)) {
        L->sec_deferred = true;
        return;
    }
    if (!ld_expect(L, t, ARCA_YNODE_SEQ, "a list"))
        return;
    for (size_t i = 0; i < t->n_items; i++)
        LD_AT_INDEX(L, i, tolerate_item(L, &t->items[i], sec));
}

static bool is_wildcard(const struct arca_ynode *ia)
{
    if (ia->type == ARCA_YNODE_SEQ && ia->n_items == 1)
        ia = &ia->items[0]; /* ["*"]: the same wildcard written as a list */
    return ia->type == ARCA_YNODE_SCALAR && strcmp(ia->text, "*") == 0;
}

/* ia, or an entry of it, is an imported fragment (the list is known only at use). */
static bool advisories_pending(struct ld *L, const struct arca_ynode *ia)
{
    if (ld_is_pending(L, ia))
        return true;
    for (size_t i = 0; ia->type == ARCA_YNODE_SEQ && i < ia->n_items; i++)
        if (ld_is_pending(L, &ia->items[i]))
            return true;
    return false;
}

static void ignore_advisories(struct ld *L, const struct arca_ynode *ia, struct arca_security *sec)
{
    if (advisories_pending(L, ia))
        return; /* none ignored until the import is resolved at use (checked there) */
    if (is_wildcard(ia)) {
        sec->ignore_all_advisories = true;
        if (!L->sec_deferred && arca_security_wildcard_check(sec) < 0)
            ld_err(L, ia->pos, "%s", arca_err_detail());
        return;
    }
    if (!ld_expect(L, ia, ARCA_YNODE_SEQ, "a list of advisory ids or \"*\""))
        return;
    ld_parse_str_list(L, ia, &sec->ignore_advisories, &sec->n_ignore_advisories);
    for (size_t i = 0; i < sec->n_ignore_advisories; i++) {
        const char *id = sec->ignore_advisories[i].s;
        if (strcmp(id, "*") == 0 || strpbrk(id, " \t") != NULL)
            ld_err(L, sec->ignore_advisories[i].pos,
                   "'%.40s' is not an advisory id (like INTEL-SA-00615)", id);
    }
}

/* url: the MAA provider, https://<tenant>.<region>.attest.azure.net[/] per the docs. */
static void attestation_url(struct ld *L, const struct arca_ynode *u, struct arca_security *sec)
{
    if (!ld_get_str(L, u, &sec->url, false))
        return;
    static const char https[] = "https://";
    const char *host = sec->url.s + sizeof(https) - 1;
    if (strncmp(sec->url.s, https, sizeof(https) - 1) != 0 || *host == 0 || *host == '/' ||
        strpbrk(sec->url.s, " \t\r\n?#") != NULL)
        ld_err(L, u->pos, "url must be an https:// URL of an attestation provider, got '%.80s'",
               sec->url.s);
}

/* certificates: PEM CA certificates that authenticate the MAA provider. */
static void attestation_certificates(struct ld *L, const struct arca_ynode *c)
{
    if (!ld_expect(L, c, ARCA_YNODE_SEQ, "a list of PEM certificates"))
        return;
    for (size_t i = 0; i < c->n_items; i++) {
        const struct arca_ynode *it = &c->items[i];
        struct arca_x509 *x = NULL;
        if (ld_expect(L, it, ARCA_YNODE_SCALAR, "a PEM certificate") &&
            arca_x509_from_pem(it->text, it->len, &x) < 0)
            LD_AT_INDEX(L, i, ld_err(L, it->pos, "not a PEM certificate (%s)", arca_err_detail()));
        arca_x509_free(x);
    }
}

/*
 * mode: maa, once its fields are checked: the docs' rules (url required, maa-managed-tcb
 * tolerated), then the refusal. Verifying an MAA token needs the provider's signing keys,
 * fetched from <url>/certs at attestation time; arca has no recorded tokens and keys to test
 * that against, so it refuses the mode rather than accept evidence it cannot check.
 */
static void maa_mode(struct ld *L, struct arca_security *sec)
{
    if (!sec->maa)
        return;
    if (sec->url.s == NULL)
        ld_err(L, sec->mode_pos, "mode: maa needs 'url' (the attestation provider)");
    if (!sec->maa_managed_tcb)
        ld_err(L, sec->mode_pos, "mode: maa needs 'maa-managed-tcb' in tolerate");
    ld_needs_azure(L, sec->mode_pos,
                   "attestation mode 'maa' (Microsoft Azure Attestation tokens cannot be verified "
                   "by arca; use mode: hardware)");
}

/* security.attestation (its key on the path). */
static void security_attestation(struct ld *L, const struct arca_ynode *a,
                                 struct arca_security *sec)
{
    static const char *const ak[] = {"mode",
                                     "tolerate",
                                     "ignore_advisories",
                                     "trusted_scone_qe_pubkeys",
                                     "one_time_password_shared_secret",
                                     "url",
                                     "certificates",
                                     NULL};
    static const char *const au[] = {"min_rsa_signing_key_size", NULL};
    if (!ld_check_keys(L, a, "security.attestation", ak, au))
        return;
    const struct arca_ynode *x;
    if ((x = arca_ynode_get(a, "mode")) != NULL)
        LD_AT_KEY(L, "mode", attestation_mode(L, x, sec));
    if ((x = arca_ynode_get(a, "tolerate")) != NULL)
        LD_AT_KEY(L, "tolerate", tolerate_list(L, x, sec));
    if ((x = arca_ynode_get(a, "ignore_advisories")) != NULL)
        LD_AT_KEY(L, "ignore_advisories", ignore_advisories(L, x, sec));
    if ((x = arca_ynode_get(a, "trusted_scone_qe_pubkeys")) != NULL)
        LD_AT_KEY(L, "trusted_scone_qe_pubkeys",
                  ld_parse_platform_list(L, x, "QE public key", &sec->trusted_qe_keys,
                                         &sec->n_trusted_qe_keys));
    ld_parse_otp(L, a, &sec->otp_secret);
    if ((x = arca_ynode_get(a, "url")) != NULL)
        LD_AT_KEY(L, "url", attestation_url(L, x, sec));
    if ((x = arca_ynode_get(a, "certificates")) != NULL)
        LD_AT_KEY(L, "certificates", attestation_certificates(L, x));
    LD_AT_KEY(L, "mode", maa_mode(L, sec));
}

/* The security mapping n (its key on the path). */
static void security_fields(struct ld *L, const struct arca_ynode *n, struct arca_security *sec)
{
    static const char *const keys[] = {"attestation", "singleton_enclaves", "service_access_token",
                                       NULL};
    if (!ld_check_keys(L, n, "security", keys, NULL))
        return;
    ld_field_bool(L, n, "singleton_enclaves", &sec->singleton_enclaves);
    ld_field_str(L, n, "service_access_token", &sec->service_access_token, false);
    const struct arca_ynode *a = arca_ynode_get(n, "attestation");
    if (a != NULL && !ld_is_pending(L, a))
        LD_AT_KEY(L, "attestation", security_attestation(L, a, sec));
}

void ld_parse_security(struct ld *L, const struct arca_ynode *n)
{
    struct arca_security *sec = &L->s->security;
    sec->pos = n->pos;
    if (ld_is_pending(L, n))
        return; /* the whole section is an imported fragment: resolved at use */
    LD_AT_KEY(L, "security", security_fields(L, n, sec));
}
