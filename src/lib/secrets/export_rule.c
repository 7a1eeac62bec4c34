/* Secret sharing rules (export_rule.h). */
#include "secrets/export_rule.h"

#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "crypto/crypto.h"
#include "secrets/secrets.h"

int arca_session_ref_resolve(const char *base, const char *ref, char *out, size_t n)
{
    ARCA_ENSURE_REF(base);
    ARCA_ENSURE_REF(ref);
    ARCA_ENSURE(n > 0, ARCA_ERR_INVALID_ARG, "session reference: no room");
    size_t blen = strlen(base);
    const char *rest = ref;
    int w;
    if (strncmp(ref, "./", 2) == 0) {
        w = snprintf(out, n, "%s/%s", base, ref + 2);
    } else if (strncmp(ref, "../", 3) == 0) {
        size_t keep = blen; /* climb from base itself: its parent holds the siblings */
        while (strncmp(rest, "../", 3) == 0) {
            ARCA_ENSURE(keep > 0, ARCA_ERR_FORMAT,
                        "session reference %.128s climbs above the root from %.128s", ref, base);
            while (keep > 0 && base[keep - 1] != '/')
                keep--;
            if (keep > 0)
                keep--; /* drop the '/' */
            rest += 3;
        }
        w = keep > 0 ? snprintf(out, n, "%.*s/%s", (int)keep, base, rest)
                     : snprintf(out, n, "%s", rest);
    } else {
        w = snprintf(out, n, "%s", ref);
    }
    ARCA_ENSURE(w > 0 && (size_t)w < n, ARCA_ERR_FORMAT, "session reference %.128s is too long",
                ref);
    int rc = arca_session_name_check(out, (size_t)w, true);
    if (rc < 0) {
        out[0] = '\0';
        return arca_err_wrap(rc, "session reference %.128s (from %.128s)", ref, base);
    }
    return 0;
}

/* Whether name is ns itself or below it. */
static bool in_namespace(const char *name, const char *ns)
{
    size_t k = strlen(ns);
    return strncmp(name, ns, k) == 0 && (name[k] == '\0' || name[k] == '/');
}

bool arca_export_admits(const struct arca_session_ref *e, const char *exporter,
                        const struct arca_export_asker *a)
{
    if (e == NULL || exporter == NULL || a == NULL || a->session == NULL || a->hash == NULL)
        return false;
    bool remote_rule = e->cas_url.s != NULL || e->has_cas_key || e->has_cas_software_key;
    if (remote_rule != (a->cas_key != NULL))
        return false;
    if (remote_rule) {
        bool key_ok = e->has_cas_key && arca_memeq(e->cas_key, a->cas_key, 32);
        bool sw_ok = e->has_cas_software_key && a->software != NULL &&
                     arca_memeq(e->cas_software_key, a->software, 32);
        if (!key_ok && !sw_ok)
            return false;
    }
    char want[ARCA_SESSION_NAME_MAX + 1];
    bool name_ok = false;
    /* Remote names are the other arcad's: relative forms make no sense there. */
    if (e->session.s != NULL) {
        if (remote_rule)
            name_ok = strcmp(e->session.s, a->session) == 0;
        else if (arca_session_ref_resolve(exporter, e->session.s, want, sizeof(want)) == 0)
            name_ok = strcmp(want, a->session) == 0;
    } else if (e->namespace_.s != NULL) {
        if (remote_rule)
            name_ok = in_namespace(a->session, e->namespace_.s);
        else if (arca_session_ref_resolve(exporter, e->namespace_.s, want, sizeof(want)) == 0)
            name_ok = in_namespace(a->session, want);
    }
    arca_err_clear();
    return name_ok && (!e->has_session_hash || arca_memeq(e->session_hash, a->hash, 32));
}

int arca_export_check(const struct arca_secret *d, const char *exporter,
                      const struct arca_export_asker *a)
{
    ARCA_ENSURE_REF(d);
    ARCA_ENSURE_REF(exporter);
    ARCA_ENSURE_REF(a);
    for (size_t i = 0; i < d->n_exports; i++)
        if (arca_export_admits(&d->exports[i], exporter, a))
            return 0;
    if (a->cas_key == NULL)
        ARCA_BAIL(ARCA_ERR_DENIED, "%s does not export %s to this session", exporter, d->name.s);
    ARCA_BAIL(ARCA_ERR_DENIED, "%s does not export %s to remote session %s", exporter, d->name.s,
              a->session);
}

int arca_export_value(const struct arca_secret *d, struct arca_secret_set *set,
                      struct arca_secret_value **out)
{
    ARCA_ENSURE_REF(d);
    ARCA_ENSURE_REF(out);
    *out = NULL;
    if (d->kind == ARCA_SECRET_CONFIG_FRAGMENT && d->fragment != NULL) {
        struct arca_buf b;
        arca_buf_init_secret(&b, ARCA_SECRET_SIZE_MAX);
        int rc = arca_ynode_to_json(d->fragment, &b);
        if (rc == 0)
            rc = arca_secret_value_new_bytes(ARCA_SECRET_CONFIG_FRAGMENT, b.data, b.len, 0, out);
        arca_buf_free(&b);
        return rc < 0 ? arca_err_wrap(rc, "config-fragment %s", d->name.s) : 0;
    }
    struct arca_secret_value *v =
        set != NULL ? arca_secret_set_get(set, d->name.s, d->name.len) : NULL;
    ARCA_ENSURE(v != NULL, ARCA_ERR_NOT_FOUND, "no value for %s yet", d->name.s);
    *out = arca_secret_value_ref(v);
    return 0;
}
