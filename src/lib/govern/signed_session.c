/* The signed-session JSON form; see signed_session.h. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/enc.h"
#include "base/err.h"
#include "govern/signed_session.h"
#include "policy/session.h"

/* The session text, base64 of up to 256 signatures and their PEMs fit well below this. */
#define SIGNED_MAX_BYTES (4 * ARCA_SESSION_MAX_BYTES)

bool arca_signed_session_detect(const void *p, size_t n)
{
    const uint8_t *b = p;
    size_t i = 0;
    while (i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n'))
        i++;
    if (i >= n || b[i] != '{')
        return false;
    static const char tag[] = "\"" ARCA_SIGNED_SESSION_FORMAT "\"";
    size_t tl = sizeof(tag) - 1;
    /* Bounded scan of the first bytes: the encoder writes the format first. */
    size_t lim = n - i < 256 ? n - i : 256;
    for (size_t j = 0; j + tl <= lim; j++)
        if (memcmp(b + i + j, tag, tl) == 0)
            return true;
    return false;
}

void arca_signed_session_free(struct arca_signed_session *s)
{
    if (s == NULL)
        return;
    free(s->name);
    if (s->session != NULL)
        arca_wipe_free(s->session, s->session_len + 1);
    for (size_t i = 0; i < s->n_sigs; i++) {
        free(s->sigs[i].signer);
        free(s->sigs[i].sig);
    }
    free(s->sigs);
    free(s);
}

static int get_string(json_t *o, const char *key, size_t max, const char **out, size_t *len)
{
    json_t *v = json_object_get(o, key);
    ARCA_ENSURE(v != NULL, ARCA_ERR_FORMAT, "signed session: field \"%s\" is missing", key);
    ARCA_ENSURE(json_is_string(v), ARCA_ERR_FORMAT, "signed session: \"%s\" must be a string", key);
    *out = json_string_value(v);
    *len = json_string_length(v);
    ARCA_ENSURE(*len > 0, ARCA_ERR_FORMAT, "signed session: \"%s\" is empty", key);
    ARCA_ENSURE(*len <= max, ARCA_ERR_TOO_LARGE, "signed session: \"%s\" is longer than %zu bytes",
                key, max);
    ARCA_ENSURE(strlen(*out) == *len, ARCA_ERR_FORMAT, "signed session: \"%s\" holds a NUL byte",
                key);
    return 0;
}

static int get_hex32(json_t *o, const char *key, uint8_t out[32])
{
    const char *t;
    size_t len;
    ARCA_TRY(get_string(o, key, 64, &t, &len));
    ARCA_ENSURE(arca_hex_decode_fixed(out, 32, t, len) == 0, ARCA_ERR_FORMAT,
                "signed session: \"%s\" must be 64 hex digits", key);
    return 0;
}

static char *dup_bytes(const char *p, size_t n)
{
    char *d = malloc(n + 1);
    if (d != NULL) {
        memcpy(d, p, n);
        d[n] = '\0';
    }
    return d;
}

static int parse_sig(json_t *e, size_t i, struct arca_signed_sig *out)
{
    ARCA_ENSURE(json_is_object(e) && json_object_size(e) == 2, ARCA_ERR_FORMAT,
                "signed session: signatures[%zu] must be {\"signer\", \"signature\"}", i);
    const char *signer, *sig;
    size_t slen, glen;
    int rc = get_string(e, "signer", ARCA_SIGNED_SIGNER_MAX, &signer, &slen);
    if (rc == 0)
        rc = get_string(e, "signature", 2 * ARCA_SIGNED_SIG_MAX, &sig, &glen);
    if (rc < 0)
        return arca_err_wrap(rc, "signatures[%zu]", i);
    struct arca_buf raw;
    arca_buf_init(&raw, ARCA_SIGNED_SIG_MAX);
    if (arca_base64_decode(&raw, sig, glen) < 0 || raw.len == 0) {
        arca_buf_free(&raw);
        ARCA_BAIL(ARCA_ERR_FORMAT,
                  "signed session: signatures[%zu].signature is not base64 of "
                  "at most %d bytes",
                  i, ARCA_SIGNED_SIG_MAX);
    }
    out->signer = dup_bytes(signer, slen);
    out->signer_len = slen;
    out->sig_len = raw.len;
    char *g = NULL;
    size_t gl = 0;
    rc = arca_buf_steal(&raw, &g, &gl);
    out->sig = (uint8_t *)g;
    arca_buf_free(&raw);
    if (rc < 0 || out->signer == NULL) {
        free(out->signer);
        free(out->sig);
        memset(out, 0, sizeof(*out));
        ARCA_BAIL(ARCA_ERR_ALLOC, "signed session: out of memory");
    }
    return 0;
}

static int parse_into(json_t *o, struct arca_signed_session *s)
{
    static const char *const keys[] = {"format",      "name",    "session", "cas_key",
                                       "predecessor", "creator", "hash",    "signatures"};
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        bool known = false;
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]) && !known; i++)
            known = strcmp(key, keys[i]) == 0;
        ARCA_ENSURE(known, ARCA_ERR_FORMAT, "signed session: unknown field \"%.40s\"", key);
    }
    const char *t;
    size_t len;
    ARCA_TRY(get_string(o, "format", 64, &t, &len));
    ARCA_ENSURE(strcmp(t, ARCA_SIGNED_SESSION_FORMAT) == 0, ARCA_ERR_FORMAT,
                "signed session: format must be \"%s\"", ARCA_SIGNED_SESSION_FORMAT);
    ARCA_TRY(get_string(o, "name", 1024, &t, &len));
    ARCA_TRY(arca_session_name_check(t, len, true));
    s->name = dup_bytes(t, len);
    ARCA_ENSURE(s->name != NULL, ARCA_ERR_ALLOC, "signed session: out of memory");
    ARCA_TRY(get_string(o, "session", ARCA_SESSION_MAX_BYTES, &t, &len));
    s->session = dup_bytes(t, len);
    ARCA_ENSURE(s->session != NULL, ARCA_ERR_ALLOC, "signed session: out of memory");
    s->session_len = len;
    ARCA_TRY(get_hex32(o, "cas_key", s->cas_key));
    json_t *p = json_object_get(o, "predecessor");
    ARCA_ENSURE(p != NULL, ARCA_ERR_FORMAT, "signed session: field \"predecessor\" is missing");
    s->has_predecessor = !json_is_null(p);
    if (s->has_predecessor)
        ARCA_TRY(get_hex32(o, "predecessor", s->predecessor));
    ARCA_TRY(get_hex32(o, "creator", s->creator));
    ARCA_TRY(get_hex32(o, "hash", s->hash));
    json_t *a = json_object_get(o, "signatures");
    ARCA_ENSURE(a != NULL && json_is_array(a), ARCA_ERR_FORMAT,
                "signed session: \"signatures\" must be a list");
    size_t n = json_array_size(a);
    ARCA_ENSURE(n <= ARCA_APPROVAL_MAX_SIGS, ARCA_ERR_LIMIT,
                "signed session: %zu signatures; at most %d are accepted", n,
                ARCA_APPROVAL_MAX_SIGS);
    if (n == 0)
        return 0;
    s->sigs = calloc(n, sizeof(*s->sigs));
    ARCA_ENSURE(s->sigs != NULL, ARCA_ERR_ALLOC, "signed session: out of memory");
    for (size_t i = 0; i < n; i++) {
        ARCA_TRY(parse_sig(json_array_get(a, i), i, &s->sigs[i]));
        s->n_sigs++;
    }
    return 0;
}

int arca_signed_session_parse(const void *p, size_t n, struct arca_signed_session **out)
{
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(p != NULL && n > 0, ARCA_ERR_FORMAT, "signed session: empty");
    ARCA_ENSURE(n <= SIGNED_MAX_BYTES, ARCA_ERR_TOO_LARGE, "signed session: %zu bytes, at most %zu",
                n, (size_t)SIGNED_MAX_BYTES);
    json_error_t jerr;
    json_t *o = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, &jerr);
    /* Only the position: jansson's text may quote the input, which may hold explicit values. */
    ARCA_ENSURE(o != NULL, ARCA_ERR_FORMAT,
                "signed session: invalid JSON (or a duplicate key) at line %d column %d", jerr.line,
                jerr.column);
    int rc = 0;
    struct arca_signed_session *s = NULL;
    if (!json_is_object(o))
        rc = arca_err_set(ARCA_ERR_FORMAT, "signed session: expected a JSON object");
    if (rc == 0 && (s = calloc(1, sizeof(*s))) == NULL)
        rc = arca_err_set(ARCA_ERR_ALLOC, "signed session: out of memory");
    if (rc == 0)
        rc = parse_into(o, s);
    json_decref(o);
    if (rc < 0) {
        arca_signed_session_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

static json_t *hex_json(const uint8_t b[32])
{
    char h[65];
    arca_hex_fmt(h, b, 32);
    return json_string(h);
}

int arca_signed_session_encode(const struct arca_signed_session *s, struct arca_buf *out)
{
    ARCA_ENSURE_REF(s);
    ARCA_ENSURE_REF(out);
    int rc = 0;
    json_t *o = json_object(), *a = json_array();
    if (o == NULL || a == NULL)
        rc = arca_err_set(ARCA_ERR_ALLOC, "signed session: out of memory");
    for (size_t i = 0; rc == 0 && i < s->n_sigs; i++) {
        struct arca_buf b64;
        arca_buf_init(&b64, 0);
        rc = arca_base64_encode(&b64, s->sigs[i].sig, s->sigs[i].sig_len);
        json_t *e = rc == 0 ? json_pack("{s:s%, s:s}", "signer", s->sigs[i].signer,
                                        s->sigs[i].signer_len, "signature", arca_buf_cstr(&b64))
                            : NULL;
        arca_buf_free(&b64);
        if (rc == 0 && (e == NULL || json_array_append_new(a, e) < 0))
            rc = arca_err_set(ARCA_ERR_ALLOC, "signed session: out of memory");
    }
    if (rc == 0 &&
        (json_object_set_new(o, "format", json_string(ARCA_SIGNED_SESSION_FORMAT)) < 0 ||
         json_object_set_new(o, "name", json_string(s->name)) < 0 ||
         json_object_set_new(o, "session", json_stringn(s->session, s->session_len)) < 0 ||
         json_object_set_new(o, "cas_key", hex_json(s->cas_key)) < 0 ||
         json_object_set_new(o, "predecessor",
                             s->has_predecessor ? hex_json(s->predecessor) : json_null()) < 0 ||
         json_object_set_new(o, "creator", hex_json(s->creator)) < 0 ||
         json_object_set_new(o, "hash", hex_json(s->hash)) < 0 ||
         json_object_set(o, "signatures", a) < 0))
        rc = arca_err_set(ARCA_ERR_ALLOC, "signed session: out of memory");
    char *text = rc == 0 ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    if (rc == 0 && text == NULL)
        rc = arca_err_set(ARCA_ERR_ALLOC, "signed session: out of memory");
    if (rc == 0) {
        size_t tl = strlen(text);
        rc = arca_buf_reserve(out, tl + 1);
        if (rc == 0) {
            (void)arca_buf_put(out, text, tl);
            (void)arca_buf_put_u8(out, '\n');
        }
        arca_wipe_free(text, tl + 1);
    }
    json_decref(a);
    json_decref(o);
    return rc;
}

int arca_signed_session_message(const struct arca_signed_session *s,
                                uint8_t msg[ARCA_APPROVAL_MSG_LEN])
{
    ARCA_ENSURE_REF(s);
    struct arca_approval_change c = {.cas_key = s->cas_key,
                                     .session_name = s->name,
                                     .predecessor = s->has_predecessor ? s->predecessor : NULL,
                                     .new_hash = s->hash};
    return arca_approval_message(&c, msg);
}

int arca_signed_session_add(struct arca_signed_session *s, const void *signer, size_t signer_len,
                            const void *sig, size_t sig_len)
{
    ARCA_ENSURE_REF(s);
    ARCA_ENSURE_REF(signer);
    ARCA_ENSURE_REF(sig);
    ARCA_ENSURE(sig_len > 0 && sig_len <= ARCA_SIGNED_SIG_MAX, ARCA_ERR_FORMAT,
                "signature: %zu bytes (expected 1..%d)", sig_len, ARCA_SIGNED_SIG_MAX);
    uint8_t msg[ARCA_APPROVAL_MSG_LEN];
    ARCA_TRY(arca_signed_session_message(s, msg));
    struct arca_approval_sig one = {signer, signer_len, sig, sig_len};
    struct arca_approvers ap;
    ARCA_TRY(arca_approval_verify(msg, &one, 1, &ap));
    uint8_t id[32];
    memcpy(id, ap.ids[0], 32);
    arca_approvers_clear(&ap);
    struct arca_key *k = NULL;
    struct arca_buf pem;
    arca_buf_init(&pem, ARCA_SIGNED_SIGNER_MAX);
    int rc = arca_approval_signer_key(signer, signer_len, &k);
    if (rc == 0)
        rc = arca_key_public_pem(k, &pem);
    arca_key_free(k);
    /* the same signer again: replace its signature in place */
    size_t at = s->n_sigs;
    for (size_t i = 0; rc == 0 && i < s->n_sigs; i++) {
        struct arca_key *o = NULL;
        uint8_t oid[32];
        if (arca_approval_signer_key(s->sigs[i].signer, s->sigs[i].signer_len, &o) == 0 &&
            arca_key_id(o, oid) == 0 && memcmp(oid, id, 32) == 0)
            at = i;
        arca_key_free(o);
        arca_err_clear();
    }
    uint8_t *copy = rc == 0 ? malloc(sig_len) : NULL;
    char *spem = NULL;
    size_t spem_len = 0;
    if (rc == 0 && copy == NULL)
        rc = arca_err_set(ARCA_ERR_ALLOC, "signature: out of memory");
    if (rc == 0)
        rc = arca_buf_steal(&pem, &spem, &spem_len);
    if (rc == 0 && at == s->n_sigs) {
        ARCA_GUARD_ENSURE(rc, s->n_sigs < ARCA_APPROVAL_MAX_SIGS, fail, ARCA_ERR_LIMIT,
                          "signed session: %d signatures already", ARCA_APPROVAL_MAX_SIGS);
        struct arca_signed_sig *grown = realloc(s->sigs, (s->n_sigs + 1) * sizeof(*grown));
        ARCA_GUARD_ENSURE(rc, grown != NULL, fail, ARCA_ERR_ALLOC, "signature: out of memory");
        s->sigs = grown;
        memset(&s->sigs[at], 0, sizeof(s->sigs[at]));
        s->n_sigs++;
    }
    if (rc == 0) {
        memcpy(copy, sig, sig_len);
        free(s->sigs[at].signer);
        free(s->sigs[at].sig);
        s->sigs[at] = (struct arca_signed_sig){spem, spem_len, copy, sig_len};
        arca_buf_free(&pem);
        return 0;
    }
fail:
    free(copy);
    free(spem);
    arca_buf_free(&pem);
    return rc;
}

int arca_signed_session_sigs(const struct arca_signed_session *s, struct arca_approval_sig **out)
{
    ARCA_ENSURE_REF(s);
    ARCA_ENSURE_REF(out);
    *out = calloc(s->n_sigs ? s->n_sigs : 1, sizeof(**out));
    ARCA_ENSURE(*out != NULL, ARCA_ERR_ALLOC, "signed session: out of memory");
    for (size_t i = 0; i < s->n_sigs; i++)
        (*out)[i] = (struct arca_approval_sig){s->sigs[i].signer, s->sigs[i].signer_len,
                                               s->sigs[i].sig, s->sigs[i].sig_len};
    return 0;
}
