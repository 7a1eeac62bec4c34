/* The client API's answers and their JSON mapping (api/client_api.h). */
#include <stdlib.h>
#include <string.h>

#include "api/client_api.h"
#include "base/enc.h"
#include "base/err.h"
#include "base/time.h"

#define BINDING_TEXT "REPORTDATA = SHA-512(\"arca-attest-v1\" || SPKI || nonce)"
#define SIM_WARNING "INSECURE simulated evidence: no TEE protects this arcad"

/* ---- field helpers ------------------------------------------------------------------------ */

static json_t *hex_json(const uint8_t *p, size_t n)
{
    char h[2 * ARCA_API_HASH_LEN + 1];
    arca_hex_fmt(h, p, n);
    return json_string(h);
}

/* Sets key of o to v (stolen); false if o or v is NULL or the set failed. */
static bool put(json_t *o, const char *key, json_t *v)
{
    if (o == NULL || v == NULL) {
        json_decref(v);
        return false;
    }
    return json_object_set_new(o, key, v) == 0;
}

static int get_str(const json_t *j, const char *key, const char **out)
{
    const char *s = json_string_value(json_object_get(j, key));
    ARCA_ENSURE(s != NULL, ARCA_ERR_FORMAT, "CAS answer: '%s' missing or not a string", key);
    *out = s;
    return 0;
}

static int get_hex(const json_t *j, const char *key, uint8_t *out, size_t n)
{
    const char *s = NULL;
    ARCA_TRY(get_str(j, key, &s));
    ARCA_ENSURE(arca_hex_decode_fixed(out, n, s, strlen(s)) == 0, ARCA_ERR_FORMAT,
                "CAS answer: '%s' is not %zu hex digits", key, 2 * n);
    return 0;
}

static int get_u64(const json_t *j, const char *key, uint64_t *out)
{
    json_t *v = json_object_get(j, key);
    ARCA_ENSURE(json_is_integer(v) && json_integer_value(v) >= 0, ARCA_ERR_FORMAT,
                "CAS answer: '%s' missing or not a count", key);
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static char *dup_str(const char *s)
{
    char *d = strdup(s);
    if (d == NULL)
        arca_err_set(ARCA_ERR_ALLOC, "CAS answer: out of memory");
    return d;
}

/* ---- session versions --------------------------------------------------------------------- */

json_t *arca_api_version_to_json(const struct arca_api_version *v, enum arca_api_version_form form)
{
    json_t *o = json_object();
    bool ok = put(o, "name", json_string(v->name)) &&
              put(o, "hash", hex_json(v->hash, ARCA_API_HASH_LEN)) &&
              put(o, "version", json_integer((json_int_t)v->version));
    if (ok && form != ARCA_API_VERSION_LISTED)
        ok = put(o, "creator", hex_json(v->creator, ARCA_API_HASH_LEN));
    if (ok && (form == ARCA_API_VERSION_HISTORY || form == ARCA_API_VERSION_READ)) {
        char t[ARCA_TIME_RFC3339_LEN];
        arca_time_format_rfc3339(v->created_at, t);
        ok = put(o, "created_at", json_string(t)) &&
             put(o, "predecessor",
                 v->has_predecessor ? hex_json(v->predecessor, ARCA_API_HASH_LEN) : json_null());
    }
    if (ok && form == ARCA_API_VERSION_READ)
        ok = put(o, "session",
                 v->session != NULL ? json_stringn(v->session, v->session_len) : json_null()) &&
             put(o, "active", json_boolean(v->active));
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int version_from_json(const json_t *j, enum arca_api_version_form form,
                             struct arca_api_version *out)
{
    const char *name = NULL;
    ARCA_ENSURE(json_is_object(j), ARCA_ERR_FORMAT, "CAS answer: a version is not an object");
    ARCA_TRY(get_str(j, "name", &name));
    ARCA_TRY(get_hex(j, "hash", out->hash, ARCA_API_HASH_LEN));
    ARCA_TRY(get_u64(j, "version", &out->version));
    if (form != ARCA_API_VERSION_LISTED)
        ARCA_TRY(get_hex(j, "creator", out->creator, ARCA_API_HASH_LEN));
    if (form == ARCA_API_VERSION_HISTORY || form == ARCA_API_VERSION_READ) {
        const char *t = NULL;
        ARCA_TRY(get_str(j, "created_at", &t));
        ARCA_ENSURE(arca_time_parse_rfc3339(t, &out->created_at) == 0, ARCA_ERR_FORMAT,
                    "CAS answer: 'created_at' is not an RFC 3339 time");
        if (!json_is_null(json_object_get(j, "predecessor"))) {
            ARCA_TRY(get_hex(j, "predecessor", out->predecessor, ARCA_API_HASH_LEN));
            out->has_predecessor = true;
        }
    }
    if (form == ARCA_API_VERSION_READ) {
        json_t *s = json_object_get(j, "session");
        ARCA_ENSURE(json_is_string(s) || json_is_null(s), ARCA_ERR_FORMAT,
                    "CAS answer: 'session' missing or not a string");
        if (json_is_string(s)) {
            out->session_len = json_string_length(s);
            out->session = malloc(out->session_len + 1);
            ARCA_ENSURE(out->session != NULL, ARCA_ERR_ALLOC, "CAS answer: out of memory");
            memcpy(out->session, json_string_value(s), out->session_len + 1);
        }
        out->active = json_is_true(json_object_get(j, "active"));
    }
    out->name = dup_str(name);
    return out->name != NULL ? 0 : ARCA_ERR_ALLOC;
}

int arca_api_version_from_json(const json_t *j, enum arca_api_version_form form,
                               struct arca_api_version *out)
{
    ARCA_ENSURE_REF(out);
    memset(out, 0, sizeof(*out));
    int rc = version_from_json(j, form, out);
    if (rc < 0)
        arca_api_version_clear(out);
    return rc;
}

void arca_api_version_clear(struct arca_api_version *v)
{
    if (v == NULL)
        return;
    free(v->name);
    free(v->session);
    memset(v, 0, sizeof(*v));
}

int arca_api_versions_add(struct arca_api_versions *l, struct arca_api_version *v)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        struct arca_api_version *nv = realloc(l->v, cap * sizeof(*nv));
        ARCA_ENSURE(nv != NULL, ARCA_ERR_ALLOC, "versions: out of memory");
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = *v;
    memset(v, 0, sizeof(*v));
    return 0;
}

void arca_api_versions_clear(struct arca_api_versions *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n; i++)
        arca_api_version_clear(&l->v[i]);
    free(l->v);
    free(l->name);
    memset(l, 0, sizeof(*l));
}

static json_t *versions_json(const struct arca_api_versions *l, enum arca_api_version_form form)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < l->n; i++) {
        json_t *e = arca_api_version_to_json(&l->v[i], form);
        if (e == NULL || json_array_append_new(a, e) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static int versions_from_json(const json_t *a, const char *key, enum arca_api_version_form form,
                              struct arca_api_versions *out)
{
    ARCA_ENSURE(json_is_array(a), ARCA_ERR_FORMAT, "CAS answer: '%s' missing or not a list", key);
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e)
    {
        struct arca_api_version v;
        ARCA_TRY(arca_api_version_from_json(e, form, &v));
        int rc = arca_api_versions_add(out, &v);
        arca_api_version_clear(&v);
        ARCA_TRY(rc);
    }
    return 0;
}

json_t *arca_api_list_to_json(const struct arca_api_versions *l)
{
    json_t *a = versions_json(l, ARCA_API_VERSION_LISTED);
    return a != NULL ? json_pack("{s:o}", "sessions", a) : NULL;
}

int arca_api_list_from_json(const json_t *j, struct arca_api_versions *out)
{
    ARCA_ENSURE_REF(out);
    memset(out, 0, sizeof(*out));
    int rc = versions_from_json(json_object_get(j, "sessions"), "sessions", ARCA_API_VERSION_LISTED,
                                out);
    if (rc < 0)
        arca_api_versions_clear(out);
    return rc;
}

json_t *arca_api_history_to_json(const struct arca_api_versions *l)
{
    json_t *a = versions_json(l, ARCA_API_VERSION_HISTORY);
    return a != NULL
               ? json_pack("{s:s, s:o}", "name", l->name != NULL ? l->name : "", "versions", a)
               : NULL;
}

int arca_api_history_from_json(const json_t *j, struct arca_api_versions *out)
{
    ARCA_ENSURE_REF(out);
    memset(out, 0, sizeof(*out));
    const char *name = NULL;
    int rc = get_str(j, "name", &name);
    if (rc == 0)
        rc = versions_from_json(json_object_get(j, "versions"), "versions",
                                ARCA_API_VERSION_HISTORY, out);
    if (rc == 0 && (out->name = dup_str(name)) == NULL)
        rc = ARCA_ERR_ALLOC;
    if (rc < 0)
        arca_api_versions_clear(out);
    return rc;
}

/* ---- CAS identity ------------------------------------------------------------------------- */

json_t *arca_api_cas_version_to_json(const struct arca_api_cas_version *v)
{
    char k[2 * ARCA_API_HASH_LEN + 1];
    arca_hex_fmt(k, v->cas_key, ARCA_API_HASH_LEN);
    return json_pack("{s:s, s:s, s:s, s:b}", "name", "arcad", "version", v->version, "cas_key", k,
                     "simulation", v->simulation);
}

int arca_api_cas_version_from_json(const json_t *j, struct arca_api_cas_version *out)
{
    ARCA_ENSURE_REF(out);
    memset(out, 0, sizeof(*out));
    const char *ver = NULL;
    int rc = get_str(j, "version", &ver);
    if (rc == 0)
        rc = get_hex(j, "cas_key", out->cas_key, ARCA_API_HASH_LEN);
    if (rc == 0 && strlen(ver) >= sizeof(out->version))
        rc = arca_err_set(ARCA_ERR_FORMAT, "CAS answer: 'version' too long");
    if (rc < 0) {
        memset(out, 0, sizeof(*out));
        return rc;
    }
    memcpy(out->version, ver, strlen(ver) + 1);
    out->simulation = json_is_true(json_object_get(j, "simulation"));
    return 0;
}

json_t *arca_api_status_to_json(const struct arca_api_status *s)
{
    char t[ARCA_TIME_RFC3339_LEN] = "";
    if (s->audit_seq > 0)
        arca_time_format_rfc3339(s->audit_time, t);
    return json_pack("{s:s, s:b, s:{s:I}, s:I, s:{s:I, s:s?}, s:I, s:s}", "version", s->version,
                     "provisioned", s->provisioned, "store", "commit", (json_int_t)s->store_commit,
                     "sessions", (json_int_t)s->sessions, "audit_head", "seq",
                     (json_int_t)s->audit_seq, "time", s->audit_seq > 0 ? t : NULL, "uptime_s",
                     (json_int_t)s->uptime_s, "enclave_address", s->enclave_address);
}

/* A non-negative integer member of o into *out. */
static int get_count(const json_t *o, const char *key, uint64_t *out)
{
    const json_t *v = json_object_get(o, key);
    ARCA_ENSURE(json_is_integer(v) && json_integer_value(v) >= 0, ARCA_ERR_FORMAT,
                "CAS answer: '%s' is not a count", key);
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

int arca_api_status_from_json(const json_t *j, struct arca_api_status *out)
{
    ARCA_ENSURE_REF(out);
    memset(out, 0, sizeof(*out));
    const char *ver = NULL, *enc = NULL;
    const json_t *audit = json_object_get(j, "audit_head");
    int rc = get_str(j, "version", &ver);
    if (rc == 0)
        rc = get_str(j, "enclave_address", &enc);
    if (rc == 0)
        rc = get_count(json_object_get(j, "store"), "commit", &out->store_commit);
    if (rc == 0)
        rc = get_count(j, "sessions", &out->sessions);
    if (rc == 0)
        rc = get_count(audit, "seq", &out->audit_seq);
    if (rc == 0)
        rc = get_count(j, "uptime_s", &out->uptime_s);
    if (rc == 0 &&
        (strlen(ver) >= sizeof(out->version) || strlen(enc) >= sizeof(out->enclave_address)))
        rc = arca_err_set(ARCA_ERR_FORMAT, "CAS answer: 'version' or 'enclave_address' too long");
    const char *t = json_string_value(json_object_get(audit, "time"));
    if (rc == 0 && t != NULL)
        rc = arca_time_parse_rfc3339(t, &out->audit_time);
    if (rc < 0) {
        memset(out, 0, sizeof(*out));
        return rc;
    }
    memcpy(out->version, ver, strlen(ver) + 1);
    memcpy(out->enclave_address, enc, strlen(enc) + 1);
    out->provisioned = json_is_true(json_object_get(j, "provisioned"));
    return 0;
}

json_t *arca_api_health_to_json(uint64_t commit)
{
    return json_pack("{s:s, s:I}", "status", "ok", "commit", (json_int_t)commit);
}

void arca_api_cas_evidence_init(struct arca_api_cas_evidence *e)
{
    memset(e, 0, sizeof(*e));
    arca_buf_init(&e->evidence, 1 << 20);
    arca_buf_init(&e->spki, 1 << 16);
    arca_buf_init(&e->cert_chain, 1 << 20);
}

void arca_api_cas_evidence_clear(struct arca_api_cas_evidence *e)
{
    if (e == NULL)
        return;
    arca_buf_free(&e->evidence);
    arca_buf_free(&e->spki);
    arca_buf_free(&e->cert_chain);
    arca_api_cas_evidence_init(e);
}

json_t *arca_api_cas_evidence_to_json(const struct arca_api_cas_evidence *e)
{
    struct arca_buf ev64, spki64;
    arca_buf_init(&ev64, 0);
    arca_buf_init(&spki64, 0);
    json_t *o = NULL;
    if (arca_base64_encode(&ev64, e->evidence.data, e->evidence.len) == 0 &&
        arca_base64_encode(&spki64, e->spki.data, e->spki.len) == 0)
        o = json_pack("{s:s, s:b}", "type", e->type, "insecure", e->insecure);
    bool ok = o != NULL;
    if (ok && e->insecure)
        ok = put(o, "warning", json_string(SIM_WARNING));
    ok = ok && put(o, "evidence", json_string(arca_buf_cstr(&ev64))) &&
         put(o, "nonce", hex_json(e->nonce, sizeof(e->nonce))) &&
         put(o, "cas_key", hex_json(e->cas_key, ARCA_API_HASH_LEN)) &&
         put(o, "cas_key_b58", json_string(e->cas_key_b58)) &&
         put(o, "spki", json_string(arca_buf_cstr(&spki64)));
    if (ok && e->has_measurement)
        ok = put(o, "measurement", hex_json(e->measurement, ARCA_API_HASH_LEN));
    ok = ok &&
         put(o, "cert_chain", json_stringn((const char *)e->cert_chain.data, e->cert_chain.len)) &&
         put(o, "binding", json_string(BINDING_TEXT));
    arca_buf_free(&ev64);
    arca_buf_free(&spki64);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int cas_evidence_from_json(const json_t *j, struct arca_api_cas_evidence *out)
{
    const char *type = json_string_value(json_object_get(j, "type"));
    const char *ev64 = json_string_value(json_object_get(j, "evidence"));
    const char *spki64 = json_string_value(json_object_get(j, "spki"));
    const char *key_hex = json_string_value(json_object_get(j, "cas_key"));
    ARCA_ENSURE(type != NULL && ev64 != NULL && spki64 != NULL && key_hex != NULL, ARCA_ERR_FORMAT,
                "attestation answer lacks type, evidence, spki or cas_key");
    ARCA_ENSURE(strlen(type) < sizeof(out->type), ARCA_ERR_FORMAT,
                "attestation answer: evidence type too long");
    memcpy(out->type, type, strlen(type) + 1);
    out->insecure = json_is_true(json_object_get(j, "insecure"));
    ARCA_TRY(arca_base64_decode(&out->evidence, ev64, strlen(ev64)));
    ARCA_TRY(arca_base64_decode(&out->spki, spki64, strlen(spki64)));
    ARCA_TRY(arca_hex_decode_fixed(out->cas_key, ARCA_API_HASH_LEN, key_hex, strlen(key_hex)));
    const char *b58 = json_string_value(json_object_get(j, "cas_key_b58"));
    if (b58 != NULL && strlen(b58) < sizeof(out->cas_key_b58))
        memcpy(out->cas_key_b58, b58, strlen(b58) + 1);
    const char *nonce = json_string_value(json_object_get(j, "nonce"));
    if (nonce != NULL)
        ARCA_TRY(arca_hex_decode_fixed(out->nonce, sizeof(out->nonce), nonce, strlen(nonce)));
    if (json_object_get(j, "measurement") != NULL) {
        ARCA_TRY(get_hex(j, "measurement", out->measurement, ARCA_API_HASH_LEN));
        out->has_measurement = true;
    }
    const char *chain = json_string_value(json_object_get(j, "cert_chain"));
    if (chain != NULL)
        ARCA_TRY(arca_buf_put_str(&out->cert_chain, chain));
    return 0;
}

int arca_api_cas_evidence_from_json(const json_t *j, struct arca_api_cas_evidence *out)
{
    ARCA_ENSURE_REF(out);
    arca_api_cas_evidence_clear(out);
    int rc = cas_evidence_from_json(j, out);
    if (rc < 0)
        arca_api_cas_evidence_clear(out);
    return rc;
}

/* ---- public values ------------------------------------------------------------------------ */

int arca_api_values_add(struct arca_api_values *l, const char *name, const char *kind,
                        struct arca_buf *text)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        struct arca_api_value *nv = realloc(l->v, cap * sizeof(*nv));
        ARCA_ENSURE(nv != NULL, ARCA_ERR_ALLOC, "values: out of memory");
        l->v = nv;
        l->cap = cap;
    }
    struct arca_api_value *v = &l->v[l->n];
    v->name = dup_str(name);
    if (v->name == NULL)
        return ARCA_ERR_ALLOC;
    v->kind = kind;
    v->text = *text;
    arca_buf_init(text, text->max);
    l->n++;
    return 0;
}

const struct arca_api_value *arca_api_values_find(const struct arca_api_values *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].name, name) == 0)
            return &l->v[i];
    return NULL;
}

void arca_api_values_clear(struct arca_api_values *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].name);
        arca_buf_free(&l->v[i].text);
    }
    free(l->v);
    memset(l, 0, sizeof(*l));
}

json_t *arca_api_value_to_json(const struct arca_api_value *v)
{
    return json_pack("{s:s, s:s%, s:n, s:n}", "kind", v->kind, "value",
                     v->text.len ? (const char *)v->text.data : "", v->text.len, "expires",
                     "renew");
}

json_t *arca_api_values_to_json(const struct arca_api_values *l)
{
    json_t *m = json_object();
    for (size_t i = 0; m != NULL && i < l->n; i++)
        if (!put(m, l->v[i].name, arca_api_value_to_json(&l->v[i]))) {
            json_decref(m);
            m = NULL;
        }
    return m != NULL ? json_pack("{s:o}", "values", m) : NULL;
}
