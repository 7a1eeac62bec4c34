/*
 * Session loader: scalar values and the small fields shared by several sections (strings,
 * booleans, integers, fixed-length hex, key hashes, names, update policies, one-time-password
 * secrets). See load_internal.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/enc.h"
#include "base/err.h"
#include "crypto/crypto.h"
#include "policy/load_internal.h"

bool ld_set_str(struct ld *L, struct arca_str *out, const char *s, size_t len, struct arca_pos pos)
{
    char *c = malloc(len + 1);
    if (c == NULL) {
        L->oom = true;
        return false;
    }
    memcpy(c, s, len);
    c[len] = 0;
    if (out->s != NULL)
        arca_wipe_free(out->s, out->len);
    out->s = c;
    out->len = len;
    out->pos = pos;
    return true;
}

/* A string value (numbers and booleans as written). Null/empty is an error unless allow_empty. */
bool ld_get_str(struct ld *L, const struct arca_ynode *n, struct arca_str *out, bool allow_empty)
{
    if (!ld_expect(L, n, ARCA_YNODE_SCALAR, "a string"))
        return false;
    if (arca_ynode_is_null(n) || n->len == 0) {
        if (!allow_empty) {
            ld_err(L, n->pos, "must not be empty");
            return false;
        }
        return ld_set_str(L, out, "", 0, n->pos);
    }
    return ld_set_str(L, out, n->text, n->len, n->pos);
}

/* Optional string field key of map m. */
void ld_field_str(struct ld *L, const struct arca_ynode *m, const char *key, struct arca_str *out,
                  bool required)
{
    const struct arca_ynode *v = arca_ynode_get(m, key);
    if (v == NULL) {
        if (required)
            ld_err(L, m->pos, "missing mandatory key '%s'", key);
        return;
    }
    LD_AT_KEY(L, key, ld_get_str(L, v, out, false));
}

static bool get_bool(struct ld *L, const struct arca_ynode *n, bool *out)
{
    if (!ld_expect(L, n, ARCA_YNODE_SCALAR, "true or false"))
        return false;
    const char *t = n->text;
    if (strcmp(t, "true") == 0 || strcmp(t, "True") == 0 || strcmp(t, "TRUE") == 0) {
        *out = true;
        return true;
    }
    if (strcmp(t, "false") == 0 || strcmp(t, "False") == 0 || strcmp(t, "FALSE") == 0) {
        *out = false;
        return true;
    }
    ld_err(L, n->pos, "expected true or false, got '%.40s'", t);
    return false;
}

void ld_field_bool(struct ld *L, const struct arca_ynode *m, const char *key, bool *out)
{
    const struct arca_ynode *v = arca_ynode_get(m, key);
    if (v == NULL)
        return;
    LD_AT_KEY(L, key, get_bool(L, v, out));
}

/* Unsigned integer: decimal, 0x hex, 0o octal (or leading-0 octal when octal_ok). */
bool ld_get_uint(struct ld *L, const struct arca_ynode *n, uint64_t max, bool octal_ok,
                 uint64_t *out)
{
    if (!ld_expect(L, n, ARCA_YNODE_SCALAR, "a number"))
        return false;
    const char *t = n->text;
    unsigned base = 10;
    if (t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) {
        base = 16;
        t += 2;
    } else if (t[0] == '0' && (t[1] == 'o' || t[1] == 'O')) {
        base = 8;
        t += 2;
    } else if (octal_ok && t[0] == '0' && t[1] != 0) {
        base = 8;
        t += 1;
    }
    uint64_t v = 0;
    if (*t == 0)
        goto bad;
    for (; *t; t++) {
        unsigned d;
        if (*t >= '0' && *t <= '9')
            d = (unsigned)(*t - '0');
        else if (*t >= 'a' && *t <= 'f')
            d = (unsigned)(*t - 'a' + 10);
        else if (*t >= 'A' && *t <= 'F')
            d = (unsigned)(*t - 'A' + 10);
        else if (*t == '_')
            continue;
        else
            goto bad;
        if (d >= base)
            goto bad;
        if (v > (UINT64_MAX - d) / base)
            goto range;
        v = v * base + d;
    }
    if (v > max)
        goto range;
    *out = v;
    return true;
bad:
    ld_err(L, n->pos, "expected a non-negative integer, got '%.40s'", n->text);
    return false;
range:
    ld_err(L, n->pos, "%.40s is out of range (at most %llu)", n->text, (unsigned long long)max);
    return false;
}

/* A hex digit in any case (isxdigit without the locale). */
bool ld_is_hex_digit(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Exactly n bytes of hex; messages say how long it should be. */
bool ld_decode_hex_fixed(struct ld *L, const char *what, const char *t, size_t len,
                         struct arca_pos pos, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < len; i++) {
        if (!ld_is_hex_digit(t[i])) {
            /* the character itself is not shown: the text may be a secret value */
            ld_err(L, pos, "%s: the character at offset %zu is not a hex digit", what, i);
            return false;
        }
    }
    if (len != 2 * n) {
        ld_err(L, pos, "%s must be %zu hex characters (%zu bytes), got %zu", what, 2 * n, n, len);
        return false;
    }
    /* Checked above, so decoding cannot fail; the shared decoder does the work. */
    return arca_hex_decode_fixed(out, n, t, len) == 0;
}

bool ld_get_hex_fixed(struct ld *L, const struct arca_ynode *n, const char *what, uint8_t *out,
                      size_t len)
{
    if (!ld_expect(L, n, ARCA_YNODE_SCALAR, "a hex string"))
        return false;
    return ld_decode_hex_fixed(L, what, n->text, n->len, n->pos, out, len);
}

void ld_field_hex(struct ld *L, const struct arca_ynode *m, const char *key, uint8_t *out,
                  size_t len, bool *has, bool required)
{
    const struct arca_ynode *v = arca_ynode_get(m, key);
    if (v == NULL) {
        if (required)
            ld_err(L, m->pos, "missing mandatory key '%s'", key);
        return;
    }
    bool ok = false;
    LD_AT_KEY(L, key, ok = ld_get_hex_fixed(L, v, key, out, len));
    if (has != NULL)
        *has = ok;
}

/* Whole-text "$$SCONE::name[:format]$$" (no surrounding text): name/format offsets. */
bool ld_whole_placeholder(const char *t, size_t len, const char **name, size_t *nlen,
                          const char **fmt, size_t *flen)
{
    if (len < 12 || strncmp(t, "$$SCONE::", 9) != 0 || strcmp(t + len - 2, "$$") != 0)
        return false;
    const char *b = t + 9;
    const char *e = t + len - 2;
    if (strstr(b, "$$") != e)
        return false; /* "$$" inside: several or nested placeholders */
    const char *colon = memchr(b, ':', (size_t)(e - b));
    const char *bar = memchr(b, '|', (size_t)(e - b));
    if (colon != NULL && bar != NULL && bar < colon)
        colon = NULL; /* "name|x:y": the ':' is after the escape, not a format */
    const char *nend = colon ? colon : (bar ? bar : e);
    *name = b;
    *nlen = (size_t)(nend - b);
    *fmt = colon ? colon + 1 : e;
    *flen = colon ? (size_t)((bar ? bar : e) - (colon + 1)) : 0;
    return *nlen > 0;
}

bool ld_has_placeholder(const char *t)
{
    return strstr(t, "$$SCONE::") != NULL;
}

bool ld_unsubstituted_fragment(struct ld *L, const struct arca_ynode *n)
{
    if (n->type != ARCA_YNODE_SCALAR || !ld_has_placeholder(n->text))
        return false;
    if (ld_is_pending(L, n))
        return true;
    ld_err(L, n->pos,
           "placeholder '%.80s' does not name a config-fragment with a value in this session",
           n->text);
    return true;
}

/* Key hash: 64 hex, or Base58Check of a 32-byte hash (the 50-character form). */
bool ld_decode_key_hash(struct ld *L, const char *what, const char *t, size_t len,
                        struct arca_pos pos, uint8_t out[32])
{
    if (len == 64)
        return ld_decode_hex_fixed(L, what, t, len, pos, out, 32);
    struct arca_buf b;
    arca_buf_init(&b, 64);
    uint8_t version = 0;
    int rc = arca_base58check_decode(&b, &version, t, len);
    bool ok = rc == 0 && b.len == 32;
    if (ok)
        memcpy(out, b.data, 32);
    else if (rc < 0)
        ld_err(L, pos, "%s is neither 64 hex characters nor a Base58Check key hash (%s)", what,
               arca_err_detail());
    else
        ld_err(L, pos, "%s: Base58Check payload is %zu bytes, expected 32", what, b.len);
    arca_buf_free(&b);
    return ok;
}

uint16_t ld_field_u16(struct ld *L, const struct arca_ynode *m, const char *key, bool *has)
{
    const struct arca_ynode *v = arca_ynode_get(m, key);
    uint64_t x = 0;
    if (v == NULL)
        return 0;
    bool ok = false;
    LD_AT_KEY(L, key, ok = ld_get_uint(L, v, 0xffff, false, &x));
    if (ok && has != NULL)
        *has = true;
    return (uint16_t)x;
}

void ld_parse_str_list(struct ld *L, const struct arca_ynode *n, struct arca_str **out,
                       size_t *count)
{
    if (n->type == ARCA_YNODE_SCALAR) {
        *out = calloc(1, sizeof(**out));
        if (*out == NULL) {
            L->oom = true;
            return;
        }
        if (ld_get_str(L, n, &(*out)[0], false))
            *count = 1;
        return;
    }
    *out = ld_seq_alloc(L, n, "a list of strings", NULL, sizeof(**out));
    if (*out == NULL)
        return;
    for (size_t i = 0; i < n->n_items; i++) {
        bool ok = false;
        LD_AT_INDEX(L, i, ok = ld_get_str(L, &n->items[i], &(*out)[*count], false));
        if (ok)
            (*count)++;
    }
}

static void key32_value(struct ld *L, const struct arca_ynode *v, const char *key,
                        struct arca_key32_ref *k)
{
    const char *name, *fmt;
    size_t nlen, flen;
    k->pos = v->pos;
    if (v->type == ARCA_YNODE_SCALAR &&
        ld_whole_placeholder(v->text, v->len, &name, &nlen, &fmt, &flen)) {
        k->set = ld_set_str(L, &k->secret, name, nlen, v->pos) &&
                 ld_set_str(L, &k->format, fmt, flen, v->pos);
    } else if (ld_get_hex_fixed(L, v, key, k->key, 32)) {
        k->set = true;
        k->literal = true;
    }
}

void ld_parse_key32(struct ld *L, const struct arca_ynode *m, const char *key,
                    struct arca_key32_ref *k)
{
    const struct arca_ynode *v = arca_ynode_get(m, key);
    if (v != NULL)
        LD_AT_KEY(L, key, key32_value(L, v, key, k));
}

enum arca_fspf_policy ld_parse_policy(struct ld *L, const struct arca_ynode *n, bool service)
{
    if (!ld_expect(L, n, ARCA_YNODE_SCALAR, "an update policy"))
        return ARCA_FSPF_DEFAULT;
    if (service) {
        if (strcmp(n->text, "rollback_protected_reinitializable") == 0)
            return ARCA_FSPF_ROLLBACK_PROTECTED_REINITIALIZABLE;
        if (strcmp(n->text, "no_rollback_protection") == 0)
            return ARCA_FSPF_NO_ROLLBACK_PROTECTION;
        ld_err(L, n->pos,
               "unknown update policy '%.40s' (expected "
               "rollback_protected_reinitializable or no_rollback_protection)",
               n->text);
        return ARCA_FSPF_DEFAULT;
    }
    if (strcmp(n->text, "rollback_protected") == 0)
        return ARCA_FSPF_ROLLBACK_PROTECTED;
    if (strcmp(n->text, "ephemeral") == 0)
        return ARCA_FSPF_EPHEMERAL;
    if (strcmp(n->text, "no_rollback_protection") == 0)
        return ARCA_FSPF_NO_ROLLBACK_PROTECTION;
    ld_err(L, n->pos,
           "unknown update policy '%.40s' (expected rollback_protected, ephemeral or "
           "no_rollback_protection)",
           n->text);
    return ARCA_FSPF_DEFAULT;
}

void ld_check_name(struct ld *L, const char *key, const struct arca_str *s, bool allow_slash)
{
    if (s->s == NULL || arca_session_name_check(s->s, s->len, allow_slash) == 0)
        return;
    LD_AT_KEY(L, key, ld_err(L, s->pos, "invalid name '%.128s': %s", s->s, arca_err_detail()));
}

void ld_check_label(struct ld *L, const char *key, const struct arca_str *s)
{
    if (s->s == NULL)
        return;
    if (s->len > ARCA_SESSION_NAME_MAX) {
        LD_AT_KEY(L, key,
                  ld_err(L, s->pos, "name is longer than %d characters", ARCA_SESSION_NAME_MAX));
        return;
    }
    for (size_t i = 0; i < s->len; i++) {
        if ((unsigned char)s->s[i] < 0x20 || s->s[i] == 0x7f) {
            LD_AT_KEY(L, key, ld_err(L, s->pos, "name has a control character at offset %zu", i));
            return;
        }
    }
}

static void otp_value(struct ld *L, const struct arca_ynode *v, struct arca_str *out)
{
    if (ld_get_str(L, v, out, false) && !ld_has_placeholder(out->s)) {
        struct arca_buf b;
        arca_buf_init_secret(&b, 1024);
        if (arca_base32_decode(&b, out->s, out->len) < 0)
            ld_err(L, v->pos, "not valid base32: %s", arca_err_detail());
        else if (b.len < 16)
            ld_err(L, v->pos, "the shared secret has %zu bits; at least 128 are needed", b.len * 8);
        arca_buf_free(&b);
    }
}

void ld_parse_otp(struct ld *L, const struct arca_ynode *m, struct arca_str *out)
{
    const struct arca_ynode *v = arca_ynode_get(m, "one_time_password_shared_secret");
    if (v != NULL)
        LD_AT_KEY(L, "one_time_password_shared_secret", otp_value(L, v, out));
}

/* update_policy of a volume export or mount, if given (out unchanged when absent). */
void ld_field_update_policy(struct ld *L, const struct arca_ynode *it, enum arca_fspf_policy *out)
{
    const struct arca_ynode *up = arca_ynode_get(it, "update_policy");
    if (up != NULL)
        LD_AT_KEY(L, "update_policy", *out = ld_parse_policy(L, up, false));
}
