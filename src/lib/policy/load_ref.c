/*
 * Session loader: references to other sessions (secret exports and imports, volume exports and
 * imports), in the long form (session, namespace, session_hash, cas_url, cas_key,
 * cas_software_key) and the short form "host/cas_key=K,session=S[,session_hash=H]".
 */
#include <string.h>

#include "base/err.h"
#include "policy/load_internal.h"

bool ld_check_ref_name(struct ld *L, const char *t, size_t len, struct arca_pos pos)
{
    const char *p = t;
    size_t n = len;
    if (n >= 2 && p[0] == '.' && p[1] == '/') {
        p += 2;
        n -= 2;
    } else {
        while (n >= 3 && strncmp(p, "../", 3) == 0) {
            p += 3;
            n -= 3;
        }
    }
    if (arca_session_name_check(p, n, true) < 0) {
        ld_err(L, pos, "session reference '%.128s': %s", t, arca_err_detail());
        return false;
    }
    return true;
}

/* "host/cas_key=K,session=S[,session_hash=H]" or "/session=S". */
void ld_parse_short_ref(struct ld *L, const struct arca_ynode *n, struct arca_session_ref *r)
{
    const char *t = n->text;
    const char *slash = strchr(t, '/');
    if (slash == NULL) {
        ld_err(L, n->pos, "session reference '%.128s': the short form is HOST/key=value,...", t);
        return;
    }
    if (slash > t)
        ld_set_str(L, &r->cas_url, t, (size_t)(slash - t), n->pos);
    const char *p = slash + 1;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t plen = comma ? (size_t)(comma - p) : strlen(p);
        const char *eq = memchr(p, '=', plen);
        if (eq == NULL) {
            ld_err(L, n->pos, "session reference: '%.*s' is not key=value", (int)plen, p);
            return;
        }
        size_t klen = (size_t)(eq - p);
        const char *v = eq + 1;
        size_t vlen = plen - klen - 1;
        if (klen == 7 && strncmp(p, "session", 7) == 0) {
            if (strncmp(v, "./", 2) == 0 || strncmp(v, "../", 3) == 0)
                ld_err(L, n->pos, "relative session references are not allowed in the short form");
            else if (ld_check_ref_name(L, v, vlen, n->pos))
                ld_set_str(L, &r->session, v, vlen, n->pos);
        } else if (klen == 12 && strncmp(p, "session_hash", 12) == 0) {
            r->has_session_hash =
                ld_decode_hex_fixed(L, "session_hash", v, vlen, n->pos, r->session_hash, 32);
        } else if (klen == 7 && strncmp(p, "cas_key", 7) == 0) {
            r->has_cas_key = ld_decode_key_hash(L, "cas_key", v, vlen, n->pos, r->cas_key);
        } else if (klen == 16 && strncmp(p, "cas_software_key", 16) == 0) {
            r->has_cas_software_key =
                ld_decode_key_hash(L, "cas_software_key", v, vlen, n->pos, r->cas_software_key);
        } else {
            ld_err(L, n->pos,
                   "session reference: unknown key '%.*s' (expected session, "
                   "session_hash, cas_key, cas_software_key)",
                   (int)klen, p);
        }
        p += plen + (comma ? 1 : 0);
    }
    if (r->session.s == NULL)
        ld_err(L, n->pos, "session reference '%.128s' has no session=", t);
    if (r->cas_url.s != NULL && !r->has_cas_key && !r->has_cas_software_key)
        ld_err(L, n->pos, "a remote session reference needs cas_key or cas_software_key");
}

/* The session key of a reference: a name, or the short form "host/key=value,...". */
static void ref_session(struct ld *L, const struct arca_ynode *sv, struct arca_session_ref *r)
{
    if (!ld_get_str(L, sv, &r->session, false))
        return;
    if (strchr(r->session.s, '=') != NULL) {
        arca_wipe_free(r->session.s, r->session.len);
        r->session.s = NULL;
        r->session.len = 0;
        ld_parse_short_ref(L, sv, r);
    } else {
        ld_check_ref_name(L, r->session.s, r->session.len, sv->pos);
    }
}

static void ref_namespace(struct ld *L, const struct arca_ynode *nv, struct arca_session_ref *r,
                          bool allow_namespace)
{
    if (!allow_namespace)
        ld_err(L, nv->pos, "'namespace' is only allowed in secret exports");
    else if (ld_get_str(L, nv, &r->namespace_, false))
        ld_check_ref_name(L, r->namespace_.s, r->namespace_.len, nv->pos);
}

/* cas_key / cas_software_key (what): *has says whether out holds a decoded key hash. */
static void ref_key_hash(struct ld *L, const struct arca_ynode *v, const char *what,
                         uint8_t out[32], bool *has)
{
    if (ld_expect(L, v, ARCA_YNODE_SCALAR, "a key hash"))
        *has = ld_decode_key_hash(L, what, v->text, v->len, v->pos, out);
}

/* Fills r from the reference keys of map m (session, namespace, session_hash, cas_*). */
void ld_parse_ref_fields(struct ld *L, const struct arca_ynode *m, struct arca_session_ref *r,
                         bool allow_namespace)
{
    r->pos = m->pos;
    const struct arca_ynode *sv = arca_ynode_get(m, "session");
    if (sv != NULL)
        LD_AT_KEY(L, "session", ref_session(L, sv, r));
    const struct arca_ynode *nv = arca_ynode_get(m, "namespace");
    if (nv != NULL)
        LD_AT_KEY(L, "namespace", ref_namespace(L, nv, r, allow_namespace));
    if (sv == NULL && nv == NULL)
        ld_err(L, m->pos, "missing mandatory key 'session'%s",
               allow_namespace ? " (or 'namespace')" : "");
    if (sv != NULL && nv != NULL)
        ld_err(L, nv->pos, "'session' and 'namespace' are mutually exclusive");
    const struct arca_ynode *hv = arca_ynode_get(m, "session_hash");
    if (hv != NULL) {
        if (nv != NULL)
            ld_err(L, hv->pos, "an export to a namespace cannot be pinned with session_hash");
        ld_field_hex(L, m, "session_hash", r->session_hash, 32, &r->has_session_hash, false);
    }
    const struct arca_ynode *uv = arca_ynode_get(m, "cas_url");
    if (uv != NULL)
        ld_field_str(L, m, "cas_url", &r->cas_url, false);
    const struct arca_ynode *kv = arca_ynode_get(m, "cas_key");
    const struct arca_ynode *skv = arca_ynode_get(m, "cas_software_key");
    if (kv != NULL)
        LD_AT_KEY(L, "cas_key", ref_key_hash(L, kv, "cas_key", r->cas_key, &r->has_cas_key));
    if (skv != NULL)
        LD_AT_KEY(L, "cas_software_key",
                  ref_key_hash(L, skv, "cas_software_key", r->cas_software_key,
                               &r->has_cas_software_key));
    if (kv != NULL && skv != NULL)
        ld_err(L, skv->pos, "'cas_key' and 'cas_software_key' are mutually exclusive");
    if (uv != NULL && kv == NULL && skv == NULL)
        ld_err(L, uv->pos,
               "a remote session reference (cas_url) needs cas_key or cas_software_key");
    if (uv == NULL && (kv != NULL || skv != NULL))
        ld_err(L, (kv ? kv : skv)->pos, "cas_key/cas_software_key need cas_url");
}
