/*
 * The session loader: YAML tree -> config-fragment substitution -> typed model -> cross checks.
 *
 * Every problem is recorded in the caller's arca_diag with the file, the position of the
 * offending node and its key path, and loading continues so that one run lists all errors.
 * The model is only handed out when there was no error at all.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/enc.h"
#include "base/err.h"
#include "base/time.h"
#include "crypto/crypto.h"
#include "policy/placeholder.h"
#include "policy/session_internal.h"

#define PATH_MAX_LEN 512

struct ld {
    const char *file;
    struct arca_diag *diag;
    unsigned errors;
    unsigned unsupported;
    bool oom;
    char path[PATH_MAX_LEN];
    size_t plen;
    struct arca_session *s;
    struct arca_ynode *root;
    size_t copied; /* nodes copied by fragment substitution (bounded like the input) */
};

/* ---- diagnostics and key paths ------------------------------------------------------------- */

static void err(struct ld *L, struct arca_pos pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void err(struct ld *L, struct arca_pos pos, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    L->errors++;
    if (arca_diag_add(L->diag, L->file, pos, L->path, "%s", msg) < 0)
        L->oom = true;
}

static void unsup(struct ld *L, struct arca_pos pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void unsup(struct ld *L, struct arca_pos pos, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    L->unsupported++;
    err(L, pos, "%s is not supported by arca", msg);
}

static size_t pk(struct ld *L, const char *key)
{
    size_t old = L->plen;
    int n = snprintf(L->path + L->plen, sizeof(L->path) - L->plen, "%s%s", L->plen ? "." : "", key);
    if (n > 0)
        L->plen = L->plen + (size_t)n < sizeof(L->path) ? L->plen + (size_t)n : sizeof(L->path) - 1;
    return old;
}

static size_t pi(struct ld *L, size_t i)
{
    size_t old = L->plen;
    int n = snprintf(L->path + L->plen, sizeof(L->path) - L->plen, "[%zu]", i);
    if (n > 0)
        L->plen = L->plen + (size_t)n < sizeof(L->path) ? L->plen + (size_t)n : sizeof(L->path) - 1;
    return old;
}

static void pp(struct ld *L, size_t old)
{
    L->plen = old;
    L->path[old] = 0;
}

static const char *type_name(const struct arca_ynode *n)
{
    if (n->type == ARCA_YNODE_MAP)
        return "a mapping";
    if (n->type == ARCA_YNODE_SEQ)
        return "a list";
    return "a scalar";
}

static bool expect(struct ld *L, const struct arca_ynode *n, enum arca_ynode_type t,
                   const char *what)
{
    if (n->type == t)
        return true;
    err(L, n->pos, "expected %s, got %s", what, type_name(n));
    return false;
}

/*
 * The zeroed array (size bytes an element) for the items of list n, or NULL when n is not a list
 * (error `what`), is empty (error `empty` at n, or silently when empty is NULL) or on OOM.
 * Owned by the model the caller stores it in.
 */
static void *seq_alloc(struct ld *L, const struct arca_ynode *n, const char *what,
                       const char *empty, size_t size)
{
    if (!expect(L, n, ARCA_YNODE_SEQ, what))
        return NULL;
    if (n->n_items == 0) {
        if (empty != NULL)
            err(L, n->pos, "%s", empty);
        return NULL;
    }
    void *arr = calloc(n->n_items, size);
    if (arr == NULL)
        L->oom = true;
    return arr;
}

/*
 * Parses one list item into base[i] (base is the array of items; earlier items are base[0..i)).
 * ctx is the caller's.
 */
typedef void (*item_fn)(struct ld *L, const struct arca_ynode *it, void *base, size_t i, void *ctx);

/*
 * The items of the list n (its key already on the path): an array of n->n_items elements of
 * size bytes (calloc'ed, owned by the model it is stored in), each filled by fn with its index
 * on the path, and *count set. Not a list (error `what` given), an empty one or OOM: NULL and
 * *count 0.
 */
static void *parse_seq(struct ld *L, const struct arca_ynode *n, const char *what, size_t size,
                       size_t *count, item_fn fn, void *ctx)
{
    *count = 0;
    void *arr = seq_alloc(L, n, what, NULL, size);
    if (arr == NULL)
        return NULL;
    for (size_t i = 0; i < n->n_items; i++) {
        size_t oi = pi(L, i);
        fn(L, &n->items[i], arr, i, ctx);
        pp(L, oi);
    }
    *count = n->n_items;
    return arr;
}

/*
 * Reports keys of map m not in allowed (NULL-terminated) as unknown, and keys in unsupported
 * as documented but not supported by arca. Returns false if m is not a map.
 */
static bool check_keys(struct ld *L, const struct arca_ynode *m, const char *what,
                       const char *const *allowed, const char *const *unsupported)
{
    if (m->type != ARCA_YNODE_MAP) {
        err(L, m->pos, "%s must be a mapping, got %s", what, type_name(m));
        return false;
    }
    for (size_t i = 0; i + 1 < m->n_items; i += 2) {
        const struct arca_ynode *k = &m->items[i];
        bool ok = false;
        for (size_t j = 0; allowed[j] != NULL && !ok; j++)
            ok = strcmp(k->text, allowed[j]) == 0;
        if (ok)
            continue;
        bool uns = false;
        for (size_t j = 0; unsupported != NULL && unsupported[j] != NULL && !uns; j++)
            uns = strcmp(k->text, unsupported[j]) == 0;
        size_t o = pk(L, k->text);
        if (uns) {
            unsup(L, k->pos, "key '%s'", k->text);
        } else {
            char list[400];
            size_t off = 0;
            list[0] = 0;
            for (size_t j = 0; allowed[j] != NULL && off < sizeof(list); j++) {
                int w = snprintf(list + off, sizeof(list) - off, "%s%s", j ? ", " : "", allowed[j]);
                if (w > 0)
                    off += (size_t)w;
            }
            err(L, k->pos, "unknown key '%s' in %s (expected one of: %s)", k->text, what, list);
        }
        pp(L, o);
    }
    return true;
}

/* ---- scalars ------------------------------------------------------------------------------- */

static bool set_str(struct ld *L, struct arca_str *out, const char *s, size_t len,
                    struct arca_pos pos)
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
static bool get_str(struct ld *L, const struct arca_ynode *n, struct arca_str *out,
                    bool allow_empty)
{
    if (!expect(L, n, ARCA_YNODE_SCALAR, "a string"))
        return false;
    if (arca_ynode_is_null(n) || n->len == 0) {
        if (!allow_empty) {
            err(L, n->pos, "must not be empty");
            return false;
        }
        return set_str(L, out, "", 0, n->pos);
    }
    return set_str(L, out, n->text, n->len, n->pos);
}

/* Optional string field key of map m. */
static void field_str(struct ld *L, const struct arca_ynode *m, const char *key,
                      struct arca_str *out, bool required)
{
    const struct arca_ynode *v = arca_ynode_get(m, key);
    if (v == NULL) {
        if (required)
            err(L, m->pos, "missing mandatory key '%s'", key);
        return;
    }
    size_t o = pk(L, key);
    get_str(L, v, out, false);
    pp(L, o);
}

static bool get_bool(struct ld *L, const struct arca_ynode *n, bool *out)
{
    if (!expect(L, n, ARCA_YNODE_SCALAR, "true or false"))
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
    err(L, n->pos, "expected true or false, got '%.40s'", t);
    return false;
}

static void field_bool(struct ld *L, const struct arca_ynode *m, const char *key, bool *out)
{
    const struct arca_ynode *v = arca_ynode_get(m, key);
    if (v == NULL)
        return;
    size_t o = pk(L, key);
    get_bool(L, v, out);
    pp(L, o);
}

/* Unsigned integer: decimal, 0x hex, 0o octal (or leading-0 octal when octal_ok). */
static bool get_uint(struct ld *L, const struct arca_ynode *n, uint64_t max, bool octal_ok,
                     uint64_t *out)
{
    if (!expect(L, n, ARCA_YNODE_SCALAR, "a number"))
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
    err(L, n->pos, "expected a non-negative integer, got '%.40s'", n->text);
    return false;
range:
    err(L, n->pos, "%.40s is out of range (at most %llu)", n->text, (unsigned long long)max);
    return false;
}

/* A hex digit in any case (isxdigit without the locale). */
static bool is_hex_digit(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Exactly n bytes of hex; messages say how long it should be. */
static bool decode_hex_fixed(struct ld *L, const char *what, const char *t, size_t len,
                             struct arca_pos pos, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < len; i++) {
        if (!is_hex_digit(t[i])) {
            /* the character itself is not shown: the text may be a secret value */
            err(L, pos, "%s: the character at offset %zu is not a hex digit", what, i);
            return false;
        }
    }
    if (len != 2 * n) {
        err(L, pos, "%s must be %zu hex characters (%zu bytes), got %zu", what, 2 * n, n, len);
        return false;
    }
    /* Checked above, so decoding cannot fail; the shared decoder does the work. */
    return arca_hex_decode_fixed(out, n, t, len) == 0;
}

static bool get_hex_fixed(struct ld *L, const struct arca_ynode *n, const char *what, uint8_t *out,
                          size_t len)
{
    if (!expect(L, n, ARCA_YNODE_SCALAR, "a hex string"))
        return false;
    return decode_hex_fixed(L, what, n->text, n->len, n->pos, out, len);
}

static void field_hex(struct ld *L, const struct arca_ynode *m, const char *key, uint8_t *out,
                      size_t len, bool *has, bool required)
{
    const struct arca_ynode *v = arca_ynode_get(m, key);
    if (v == NULL) {
        if (required)
            err(L, m->pos, "missing mandatory key '%s'", key);
        return;
    }
    size_t o = pk(L, key);
    bool ok = get_hex_fixed(L, v, key, out, len);
    if (has != NULL)
        *has = ok;
    pp(L, o);
}

/* Whole-text "$$SCONE::name[:format]$$" (no surrounding text): name/format offsets. */
static bool whole_placeholder(const char *t, size_t len, const char **name, size_t *nlen,
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

static bool has_placeholder(const char *t)
{
    return strstr(t, "$$SCONE::") != NULL;
}

/* Key hash: 64 hex, or Base58Check of a 32-byte hash (the 50-character form). */
static bool decode_key_hash(struct ld *L, const char *what, const char *t, size_t len,
                            struct arca_pos pos, uint8_t out[32])
{
    if (len == 64)
        return decode_hex_fixed(L, what, t, len, pos, out, 32);
    struct arca_buf b;
    arca_buf_init(&b, 64);
    uint8_t version = 0;
    int rc = arca_base58check_decode(&b, &version, t, len);
    bool ok = rc == 0 && b.len == 32;
    if (ok)
        memcpy(out, b.data, 32);
    else if (rc < 0)
        err(L, pos, "%s is neither 64 hex characters nor a Base58Check key hash (%s)", what,
            arca_err_detail());
    else
        err(L, pos, "%s: Base58Check payload is %zu bytes, expected 32", what, b.len);
    arca_buf_free(&b);
    return ok;
}

/* ---- config-fragment substitution ---------------------------------------------------------- */

static const struct arca_ynode *fragment_value(struct ld *L, const char *name, size_t nlen)
{
    const struct arca_ynode *secrets = arca_ynode_get(L->root, "secrets");
    if (secrets == NULL || secrets->type != ARCA_YNODE_SEQ)
        return NULL;
    for (size_t i = 0; i < secrets->n_items; i++) {
        const struct arca_ynode *sec = &secrets->items[i];
        const struct arca_ynode *nm = arca_ynode_get(sec, "name");
        const struct arca_ynode *kind = arca_ynode_get(sec, "kind");
        if (nm == NULL || kind == NULL || nm->type != ARCA_YNODE_SCALAR ||
            kind->type != ARCA_YNODE_SCALAR)
            continue;
        if (nm->len == nlen && memcmp(nm->text, name, nlen) == 0 &&
            strcmp(kind->text, "config-fragment") == 0)
            return arca_ynode_get(sec, "value");
    }
    return NULL;
}

static const struct arca_ynode *frag_of(struct ld *L, const struct arca_ynode *n)
{
    const char *name, *fmt;
    size_t nlen, flen;
    if (n->type != ARCA_YNODE_SCALAR ||
        !whole_placeholder(n->text, n->len, &name, &nlen, &fmt, &flen))
        return NULL;
    if (flen != 0)
        return NULL;
    return fragment_value(L, name, nlen);
}

static size_t ynode_count(const struct arca_ynode *n)
{
    size_t c = 1;
    for (size_t i = 0; i < n->n_items; i++)
        c += ynode_count(&n->items[i]);
    return c;
}

/* Charges a fragment copy against the node budget, so that a large fragment used many times
 * cannot blow up memory ("billion laughs" through fragments). */
static int charge(struct ld *L, const struct arca_ynode *f)
{
    L->copied += ynode_count(f);
    return L->copied > ARCA_SESSION_MAX_NODES ? ARCA_ERR_TOO_LARGE : 0;
}

/* Replaces fragment placeholders in n (one level: fragment values are not rescanned). */
static int subst(struct ld *L, struct arca_ynode *n)
{
    const struct arca_ynode *f = frag_of(L, n);
    if (f != NULL) {
        ARCA_TRY(charge(L, f));
        struct arca_ynode copy;
        ARCA_TRY(arca_ynode_copy(&copy, f));
        arca_ynode_clear(n);
        *n = copy;
        return 0;
    }
    if (n->type == ARCA_YNODE_SEQ) {
        for (size_t i = 0; i < n->n_items; i++) {
            const struct arca_ynode *fi = frag_of(L, &n->items[i]);
            if (fi != NULL && fi->type == ARCA_YNODE_SEQ) {
                /* splice the fragment's items in place of the placeholder (lists merge) */
                ARCA_TRY(charge(L, fi));
                size_t add = fi->n_items;
                size_t total = n->n_items - 1 + add;
                if (total > ARCA_SESSION_MAX_NODES)
                    return ARCA_ERR_TOO_LARGE;
                struct arca_ynode *ni = calloc(total ? total : 1, sizeof(*ni));
                if (ni == NULL)
                    return ARCA_ERR_ALLOC;
                for (size_t j = 0; j < add; j++) {
                    if (arca_ynode_copy(&ni[i + j], &fi->items[j]) < 0) {
                        for (size_t k = 0; k < j; k++)
                            arca_ynode_clear(&ni[i + k]);
                        free(ni);
                        return ARCA_ERR_ALLOC;
                    }
                }
                memcpy(ni, n->items, i * sizeof(*ni));
                memcpy(ni + i + add, n->items + i + 1, (n->n_items - i - 1) * sizeof(*ni));
                arca_ynode_clear(&n->items[i]);
                free(n->items);
                n->items = ni;
                n->n_items = total;
                i += add;
                if (add > 0)
                    i--;
                continue;
            }
            ARCA_TRY(subst(L, &n->items[i]));
        }
    } else if (n->type == ARCA_YNODE_MAP) {
        for (size_t i = 1; i < n->n_items; i += 2)
            ARCA_TRY(subst(L, &n->items[i]));
    }
    return 0;
}

static int substitute_fragments(struct ld *L)
{
    struct arca_ynode *root = L->root;
    for (size_t i = 0; i + 1 < root->n_items; i += 2) {
        const char *k = root->items[i].text;
        struct arca_ynode *v = &root->items[i + 1];
        if (strcmp(k, "access_policy") == 0 || strcmp(k, "security") == 0) {
            ARCA_TRY(subst(L, v));
        } else if (strcmp(k, "services") == 0 && v->type == ARCA_YNODE_SEQ) {
            for (size_t j = 0; j < v->n_items; j++) {
                struct arca_ynode *svc = &v->items[j];
                if (svc->type != ARCA_YNODE_MAP)
                    continue;
                for (size_t m = 0; m + 1 < svc->n_items; m += 2) {
                    const char *sk = svc->items[m].text;
                    if (strcmp(sk, "attestation") == 0 || strcmp(sk, "platforms") == 0 ||
                        strcmp(sk, "mrenclaves") == 0)
                        ARCA_TRY(subst(L, &svc->items[m + 1]));
                }
            }
        }
    }
    return 0;
}

/* ---- session references -------------------------------------------------------------------- */

static bool check_ref_name(struct ld *L, const char *t, size_t len, struct arca_pos pos)
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
        err(L, pos, "session reference '%.128s': %s", t, arca_err_detail());
        return false;
    }
    return true;
}

/* "host/cas_key=K,session=S[,session_hash=H]" or "/session=S". */
static void parse_short_ref(struct ld *L, const struct arca_ynode *n, struct arca_session_ref *r)
{
    const char *t = n->text;
    const char *slash = strchr(t, '/');
    if (slash == NULL) {
        err(L, n->pos, "session reference '%.128s': the short form is HOST/key=value,...", t);
        return;
    }
    if (slash > t)
        set_str(L, &r->cas_url, t, (size_t)(slash - t), n->pos);
    const char *p = slash + 1;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t plen = comma ? (size_t)(comma - p) : strlen(p);
        const char *eq = memchr(p, '=', plen);
        if (eq == NULL) {
            err(L, n->pos, "session reference: '%.*s' is not key=value", (int)plen, p);
            return;
        }
        size_t klen = (size_t)(eq - p);
        const char *v = eq + 1;
        size_t vlen = plen - klen - 1;
        if (klen == 7 && strncmp(p, "session", 7) == 0) {
            if (strncmp(v, "./", 2) == 0 || strncmp(v, "../", 3) == 0)
                err(L, n->pos, "relative session references are not allowed in the short form");
            else if (check_ref_name(L, v, vlen, n->pos))
                set_str(L, &r->session, v, vlen, n->pos);
        } else if (klen == 12 && strncmp(p, "session_hash", 12) == 0) {
            r->has_session_hash =
                decode_hex_fixed(L, "session_hash", v, vlen, n->pos, r->session_hash, 32);
        } else if (klen == 7 && strncmp(p, "cas_key", 7) == 0) {
            r->has_cas_key = decode_key_hash(L, "cas_key", v, vlen, n->pos, r->cas_key);
        } else if (klen == 16 && strncmp(p, "cas_software_key", 16) == 0) {
            r->has_cas_software_key =
                decode_key_hash(L, "cas_software_key", v, vlen, n->pos, r->cas_software_key);
        } else {
            err(L, n->pos,
                "session reference: unknown key '%.*s' (expected session, "
                "session_hash, cas_key, cas_software_key)",
                (int)klen, p);
        }
        p += plen + (comma ? 1 : 0);
    }
    if (r->session.s == NULL)
        err(L, n->pos, "session reference '%.128s' has no session=", t);
    if (r->cas_url.s != NULL && !r->has_cas_key && !r->has_cas_software_key)
        err(L, n->pos, "a remote session reference needs cas_key or cas_software_key");
}

/* Fills r from the reference keys of map m (session, namespace, session_hash, cas_*). */
static void parse_ref_fields(struct ld *L, const struct arca_ynode *m, struct arca_session_ref *r,
                             bool allow_namespace)
{
    r->pos = m->pos;
    const struct arca_ynode *sv = arca_ynode_get(m, "session");
    if (sv != NULL) {
        size_t o = pk(L, "session");
        if (get_str(L, sv, &r->session, false)) {
            if (strchr(r->session.s, '=') != NULL) {
                arca_wipe_free(r->session.s, r->session.len);
                r->session.s = NULL;
                r->session.len = 0;
                parse_short_ref(L, sv, r);
            } else {
                check_ref_name(L, r->session.s, r->session.len, sv->pos);
            }
        }
        pp(L, o);
    }
    const struct arca_ynode *nv = arca_ynode_get(m, "namespace");
    if (nv != NULL) {
        size_t o = pk(L, "namespace");
        if (!allow_namespace)
            err(L, nv->pos, "'namespace' is only allowed in secret exports");
        else if (get_str(L, nv, &r->namespace_, false))
            check_ref_name(L, r->namespace_.s, r->namespace_.len, nv->pos);
        pp(L, o);
    }
    if (sv == NULL && nv == NULL)
        err(L, m->pos, "missing mandatory key 'session'%s",
            allow_namespace ? " (or 'namespace')" : "");
    if (sv != NULL && nv != NULL)
        err(L, nv->pos, "'session' and 'namespace' are mutually exclusive");
    const struct arca_ynode *hv = arca_ynode_get(m, "session_hash");
    if (hv != NULL) {
        if (nv != NULL)
            err(L, hv->pos, "an export to a namespace cannot be pinned with session_hash");
        field_hex(L, m, "session_hash", r->session_hash, 32, &r->has_session_hash, false);
    }
    const struct arca_ynode *uv = arca_ynode_get(m, "cas_url");
    if (uv != NULL)
        field_str(L, m, "cas_url", &r->cas_url, false);
    const struct arca_ynode *kv = arca_ynode_get(m, "cas_key");
    const struct arca_ynode *skv = arca_ynode_get(m, "cas_software_key");
    if (kv != NULL) {
        size_t o = pk(L, "cas_key");
        if (expect(L, kv, ARCA_YNODE_SCALAR, "a key hash"))
            r->has_cas_key = decode_key_hash(L, "cas_key", kv->text, kv->len, kv->pos, r->cas_key);
        pp(L, o);
    }
    if (skv != NULL) {
        size_t o = pk(L, "cas_software_key");
        if (expect(L, skv, ARCA_YNODE_SCALAR, "a key hash"))
            r->has_cas_software_key = decode_key_hash(L, "cas_software_key", skv->text, skv->len,
                                                      skv->pos, r->cas_software_key);
        pp(L, o);
    }
    if (kv != NULL && skv != NULL)
        err(L, skv->pos, "'cas_key' and 'cas_software_key' are mutually exclusive");
    if (uv != NULL && kv == NULL && skv == NULL)
        err(L, uv->pos, "a remote session reference (cas_url) needs cas_key or cas_software_key");
    if (uv == NULL && (kv != NULL || skv != NULL))
        err(L, (kv ? kv : skv)->pos, "cas_key/cas_software_key need cas_url");
}

/* ---- services ------------------------------------------------------------------------------ */

/* Shell-like split: whitespace separates, quotes group, backslash escapes. */
static void split_command(struct ld *L, const struct arca_ynode *n, struct arca_service *svc)
{
    const char *t = n->text;
    size_t cap = 0;
    char *word = malloc(n->len + 1);
    if (word == NULL) {
        L->oom = true;
        return;
    }
    size_t i = 0;
    for (;;) {
        while (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r')
            i++;
        if (t[i] == 0)
            break;
        size_t w = 0;
        char quote = 0;
        while (t[i] != 0) {
            char c = t[i];
            if (quote == 0 && (c == ' ' || c == '\t' || c == '\n' || c == '\r'))
                break;
            i++;
            if (quote == 0 && (c == '\'' || c == '"')) {
                quote = c;
            } else if (quote != 0 && c == quote) {
                quote = 0;
            } else if (c == '\\' && quote != '\'' && t[i] != 0) {
                word[w++] = t[i++];
            } else {
                word[w++] = c;
            }
        }
        if (quote != 0) {
            err(L, n->pos, "command has an unterminated %s quote",
                quote == '\'' ? "single" : "double");
            break;
        }
        if (svc->argc == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            struct arca_str *nv = realloc(svc->argv, ncap * sizeof(*nv));
            if (nv == NULL) {
                L->oom = true;
                break;
            }
            svc->argv = nv;
            cap = ncap;
        }
        memset(&svc->argv[svc->argc], 0, sizeof(svc->argv[0]));
        if (!set_str(L, &svc->argv[svc->argc], word, w, n->pos))
            break;
        svc->argc++;
    }
    free(word);
    if (svc->argc == 0 && L->errors == 0)
        err(L, n->pos, "command is empty");
}

static void parse_command(struct ld *L, const struct arca_ynode *n, struct arca_service *svc)
{
    if (n->type == ARCA_YNODE_SCALAR) {
        if (!get_str(L, n, &svc->command, false))
            return;
        split_command(L, n, svc);
        return;
    }
    svc->argv = seq_alloc(L, n, "a string or a list of strings", "command is an empty list",
                          sizeof(*svc->argv));
    if (svc->argv == NULL)
        return;
    for (size_t i = 0; i < n->n_items; i++) {
        size_t o = pi(L, i);
        get_str(L, &n->items[i], &svc->argv[i], true);
        pp(L, o);
    }
    svc->argc = n->n_items;
}

static void check_host_args(struct ld *L, const struct arca_service *svc, struct arca_pos pos)
{
    /* "@@N": argument N of the host argv; a position may be used once */
    uint64_t seen[4] = {0};
    for (size_t i = 0; i < svc->argc; i++) {
        const char *a = svc->argv[i].s;
        if (a == NULL || strncmp(a, "@@", 2) != 0)
            continue;
        const char *d = a + 2;
        unsigned long v = 0;
        bool ok = *d != 0;
        for (; *d && ok; d++) {
            ok = *d >= '0' && *d <= '9';
            v = v * 10 + (unsigned long)(*d - '0');
            if (v > 255)
                ok = false;
        }
        if (!ok) {
            err(L, pos, "argument %zu: '%.20s' is not @@N with N in 0..255", i, a);
            continue;
        }
        if (seen[v / 64] & (1ull << (v % 64)))
            err(L, pos, "argument %zu: host argument @@%lu is used twice", i, v);
        seen[v / 64] |= 1ull << (v % 64);
    }
}

static void parse_env(struct ld *L, const struct arca_ynode *n, struct arca_service *svc)
{
    if (!expect(L, n, ARCA_YNODE_MAP, "a mapping of variable names to values"))
        return;
    size_t cnt = n->n_items / 2;
    if (cnt == 0)
        return;
    svc->env = calloc(cnt, sizeof(*svc->env));
    if (svc->env == NULL) {
        L->oom = true;
        return;
    }
    for (size_t i = 0; i < cnt; i++) {
        const struct arca_ynode *k = &n->items[2 * i];
        const struct arca_ynode *v = &n->items[2 * i + 1];
        struct arca_env *e = &svc->env[svc->n_env++];
        size_t o = pk(L, k->text);
        const char *name = k->text;
        size_t nlen = k->len;
        if (strncmp(name, "\\@\\@", 4) == 0) {
            e->from_host = true;
            name += 4;
            nlen -= 4;
        }
        if (nlen == 0)
            err(L, k->pos, "environment variable name is empty");
        else if (memchr(name, '=', nlen) != NULL)
            err(L, k->pos, "environment variable name must not contain '='");
        set_str(L, &e->name, name, nlen, k->pos);
        if (e->from_host) {
            /* the written value is ignored: the host's value (or "") is used */
            set_str(L, &e->value, "", 0, v->pos);
        } else {
            get_str(L, v, &e->value, true);
        }
        pp(L, o);
    }
    for (size_t i = 0; i < svc->n_env; i++)
        for (size_t j = 0; j < i; j++)
            if (svc->env[i].name.s && svc->env[j].name.s &&
                strcmp(svc->env[i].name.s, svc->env[j].name.s) == 0) {
                size_t o = pk(L, svc->env[i].name.s);
                err(L, svc->env[i].name.pos, "environment variable '%s' is defined twice",
                    svc->env[i].name.s);
                pp(L, o);
            }
}

static void parse_digest_list(struct ld *L, const struct arca_ynode *n, const char *what,
                              struct arca_digest32 **out, size_t *count)
{
    if (n->type == ARCA_YNODE_SCALAR) {
        *out = calloc(1, sizeof(**out));
        if (*out == NULL) {
            L->oom = true;
            return;
        }
        (*out)[0].pos = n->pos;
        if (get_hex_fixed(L, n, what, (*out)[0].v, 32))
            *count = 1;
        else {
            /* An empty list is freed by nobody (callers count entries): do not keep it. */
            free(*out);
            *out = NULL;
        }
        return;
    }
    char empty[96];
    snprintf(empty, sizeof(empty), "%s list is empty", what);
    *out = seq_alloc(L, n, "a hex string or a list of hex strings", empty, sizeof(**out));
    if (*out == NULL)
        return;
    for (size_t i = 0; i < n->n_items; i++) {
        size_t o = pi(L, i);
        const struct arca_ynode *it = &n->items[i];
        if (it->type == ARCA_YNODE_SCALAR && has_placeholder(it->text))
            err(L, it->pos,
                "placeholder '%.80s' does not name a config-fragment with a value "
                "in this session",
                it->text);
        else if (get_hex_fixed(L, it, what, (*out)[*count].v, 32))
            (*out)[(*count)++].pos = it->pos;
        pp(L, o);
    }
    if (*count == 0) {
        free(*out);
        *out = NULL;
    }
}

static uint16_t field_u16(struct ld *L, const struct arca_ynode *m, const char *key, bool *has)
{
    const struct arca_ynode *v = arca_ynode_get(m, key);
    uint64_t x = 0;
    if (v == NULL)
        return 0;
    size_t o = pk(L, key);
    if (get_uint(L, v, 0xffff, false, &x) && has != NULL)
        *has = true;
    pp(L, o);
    return (uint16_t)x;
}

static void parse_signer(struct ld *L, const struct arca_ynode *n, struct arca_sgx_signer *sg)
{
    static const char *const keys[] = {"mrsigner",   "isvprodid",  "isvsvn",
                                       "isvsvn_min", "isvsvn_max", NULL};
    if (!check_keys(L, n, "signer", keys, NULL))
        return;
    sg->pos = n->pos;
    field_hex(L, n, "mrsigner", sg->mrsigner, 32, NULL, true);
    bool has_prod = false;
    sg->isvprodid = field_u16(L, n, "isvprodid", &has_prod);
    if (arca_ynode_get(n, "isvprodid") == NULL)
        err(L, n->pos, "missing mandatory key 'isvprodid'");
    sg->isvsvn = field_u16(L, n, "isvsvn", &sg->has_isvsvn);
    sg->isvsvn_min = field_u16(L, n, "isvsvn_min", &sg->has_isvsvn_min);
    sg->isvsvn_max = field_u16(L, n, "isvsvn_max", &sg->has_isvsvn_max);
    if (arca_ynode_get(n, "isvsvn") != NULL &&
        (arca_ynode_get(n, "isvsvn_min") != NULL || arca_ynode_get(n, "isvsvn_max") != NULL))
        err(L, n->pos, "isvsvn and isvsvn_min/isvsvn_max are mutually exclusive");
    if (sg->has_isvsvn_min && sg->has_isvsvn_max && sg->isvsvn_min > sg->isvsvn_max)
        err(L, n->pos, "isvsvn_min (%u) is greater than isvsvn_max (%u)", sg->isvsvn_min,
            sg->isvsvn_max);
}

static void parse_tdx(struct ld *L, const struct arca_ynode *n, struct arca_tdx_factor *t)
{
    static const char *const keys[] = {"mrtd",  "rtmr0",      "rtmr1",   "rtmr2",
                                       "rtmr3", "mrconfigid", "mrowner", NULL};
    if (!check_keys(L, n, "tdx", keys, NULL))
        return;
    t->pos = n->pos;
    field_hex(L, n, "mrtd", t->mrtd, 48, NULL, true);
    static const char *const rt[] = {"rtmr0", "rtmr1", "rtmr2", "rtmr3"};
    for (int i = 0; i < 4; i++)
        field_hex(L, n, rt[i], t->rtmr[i], 48, &t->has_rtmr[i], false);
    field_hex(L, n, "mrconfigid", t->mrconfigid, 48, &t->has_mrconfigid, false);
    field_hex(L, n, "mrowner", t->mrowner, 48, &t->has_mrowner, false);
}

static void parse_min_tcb(struct ld *L, const struct arca_ynode *n, struct arca_snp_factor *sn)
{
    if (n->type == ARCA_YNODE_MAP) {
        static const char *const keys[] = {"bootloader", "tee", "snp", "microcode", NULL};
        if (!check_keys(L, n, "min_tcb", keys, NULL))
            return;
        static const unsigned shift[] = {0, 8, 48, 56};
        uint64_t v = 0;
        for (int i = 0; i < 4; i++) {
            const struct arca_ynode *x = arca_ynode_get(n, keys[i]);
            uint64_t spl = 0;
            if (x == NULL)
                continue;
            size_t o = pk(L, keys[i]);
            if (get_uint(L, x, 255, false, &spl))
                v |= spl << shift[i];
            pp(L, o);
        }
        sn->min_tcb = v;
        sn->has_min_tcb = true;
        return;
    }
    uint64_t v;
    if (n->type == ARCA_YNODE_SCALAR && n->len == 16 && is_hex_digit(n->text[0]) &&
        strncmp(n->text, "0x", 2) != 0) {
        uint8_t b[8];
        if (!decode_hex_fixed(L, "min_tcb", n->text, n->len, n->pos, b, 8))
            return;
        v = 0;
        for (int i = 0; i < 8; i++)
            v = v << 8 | b[i];
    } else if (!get_uint(L, n, UINT64_MAX, false, &v)) {
        return;
    }
    sn->min_tcb = v;
    sn->has_min_tcb = true;
}

static void parse_snp(struct ld *L, const struct arca_ynode *n, struct arca_snp_factor *sn)
{
    static const char *const keys[] = {"measurement", "host_data", "min_tcb", NULL};
    if (!check_keys(L, n, "snp", keys, NULL))
        return;
    sn->pos = n->pos;
    field_hex(L, n, "measurement", sn->measurement, 48, NULL, true);
    field_hex(L, n, "host_data", sn->host_data, 32, &sn->has_host_data, false);
    const struct arca_ynode *mt = arca_ynode_get(n, "min_tcb");
    if (mt != NULL) {
        size_t o = pk(L, "min_tcb");
        parse_min_tcb(L, mt, sn);
        pp(L, o);
    }
}

static void parse_variant(struct ld *L, const struct arca_ynode *n, struct arca_att_variant *v)
{
    static const char *const keys[] = {"mrenclave", "signer", "tdx", "snp", "simulation", NULL};
    static const char *const uns[] = {"must_be_sgx_local", NULL};
    v->pos = n->pos;
    if (n->type == ARCA_YNODE_SCALAR && has_placeholder(n->text)) {
        err(L, n->pos,
            "placeholder '%.80s' does not name a config-fragment with a value in "
            "this session",
            n->text);
        return;
    }
    if (!check_keys(L, n, "an attestation variant", keys, uns))
        return;
    const struct arca_ynode *x;
    if ((x = arca_ynode_get(n, "mrenclave")) != NULL) {
        size_t o = pk(L, "mrenclave");
        parse_digest_list(L, x, "mrenclave", &v->mrenclave, &v->n_mrenclave);
        pp(L, o);
    }
    if ((x = arca_ynode_get(n, "signer")) != NULL) {
        size_t o = pk(L, "signer");
        v->has_signer = true;
        parse_signer(L, x, &v->signer);
        pp(L, o);
    }
    if ((x = arca_ynode_get(n, "tdx")) != NULL) {
        size_t o = pk(L, "tdx");
        v->has_tdx = true;
        parse_tdx(L, x, &v->tdx);
        pp(L, o);
    }
    if ((x = arca_ynode_get(n, "snp")) != NULL) {
        size_t o = pk(L, "snp");
        v->has_snp = true;
        parse_snp(L, x, &v->snp);
        pp(L, o);
    }
    if ((x = arca_ynode_get(n, "simulation")) != NULL) {
        size_t o = pk(L, "simulation");
        static const char *const sk[] = {"measurement", NULL};
        v->has_sim = true;
        if (check_keys(L, x, "simulation", sk, NULL))
            field_hex(L, x, "measurement", v->sim_measurement, 32, NULL, true);
        pp(L, o);
    }
    size_t sgx = (arca_ynode_get(n, "mrenclave") || arca_ynode_get(n, "signer")) ? 1 : 0;
    size_t kinds = sgx + v->has_tdx + v->has_snp + v->has_sim;
    if (n->n_items == 0)
        err(L, n->pos,
            "an attestation variant needs one of mrenclave, signer, tdx, snp, "
            "simulation");
    else if (kinds > 1)
        err(L, n->pos,
            "tdx, snp and simulation stand alone in a variant (use a list of "
            "variants to allow several TEEs)");
}

static void variant_fn(struct ld *L, const struct arca_ynode *it, void *base, size_t i, void *ctx)
{
    (void)ctx;
    parse_variant(L, it, (struct arca_att_variant *)base + i);
}

static void parse_attestation(struct ld *L, const struct arca_ynode *n, struct arca_service *svc)
{
    if (n->type == ARCA_YNODE_MAP) {
        svc->variants = calloc(1, sizeof(*svc->variants));
        if (svc->variants == NULL) {
            L->oom = true;
            return;
        }
        svc->n_variants = 1;
        parse_variant(L, n, &svc->variants[0]);
        return;
    }
    /* An empty list is reported as "no attestation variant" by the cross checks. */
    svc->variants = parse_seq(L, n, "an attestation variant or a list of variants",
                              sizeof(*svc->variants), &svc->n_variants, variant_fn, NULL);
}

static void parse_platform_list(struct ld *L, const struct arca_ynode *n, const char *what,
                                struct arca_platform_ref **out, size_t *count)
{
    *out = seq_alloc(L, n, "a list of 64-hex-character keys", NULL, sizeof(**out));
    if (*out == NULL)
        return;
    for (size_t i = 0; i < n->n_items; i++) {
        const struct arca_ynode *it = &n->items[i];
        struct arca_platform_ref *p = &(*out)[*count];
        size_t o = pi(L, i);
        const char *name, *fmt;
        size_t nlen, flen;
        p->pos = it->pos;
        if (it->type == ARCA_YNODE_SCALAR &&
            whole_placeholder(it->text, it->len, &name, &nlen, &fmt, &flen)) {
            if (set_str(L, &p->secret, name, nlen, it->pos))
                (*count)++;
        } else if (get_hex_fixed(L, it, what, p->key, 32)) {
            p->literal = true;
            (*count)++;
        }
        pp(L, o);
    }
}

static void parse_key32(struct ld *L, const struct arca_ynode *m, const char *key,
                        struct arca_key32_ref *k)
{
    const struct arca_ynode *v = arca_ynode_get(m, key);
    if (v == NULL)
        return;
    size_t o = pk(L, key);
    const char *name, *fmt;
    size_t nlen, flen;
    k->pos = v->pos;
    if (v->type == ARCA_YNODE_SCALAR &&
        whole_placeholder(v->text, v->len, &name, &nlen, &fmt, &flen)) {
        k->set =
            set_str(L, &k->secret, name, nlen, v->pos) && set_str(L, &k->format, fmt, flen, v->pos);
    } else if (get_hex_fixed(L, v, key, k->key, 32)) {
        k->set = true;
        k->literal = true;
    }
    pp(L, o);
}

static enum arca_fspf_policy parse_policy(struct ld *L, const struct arca_ynode *n, bool service)
{
    if (!expect(L, n, ARCA_YNODE_SCALAR, "an update policy"))
        return ARCA_FSPF_DEFAULT;
    if (service) {
        if (strcmp(n->text, "rollback_protected_reinitializable") == 0)
            return ARCA_FSPF_ROLLBACK_PROTECTED_REINITIALIZABLE;
        if (strcmp(n->text, "no_rollback_protection") == 0)
            return ARCA_FSPF_NO_ROLLBACK_PROTECTION;
        err(L, n->pos,
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
    err(L, n->pos,
        "unknown update policy '%.40s' (expected rollback_protected, ephemeral or "
        "no_rollback_protection)",
        n->text);
    return ARCA_FSPF_DEFAULT;
}

static void check_name(struct ld *L, const char *key, const struct arca_str *s, bool allow_slash)
{
    if (s->s == NULL || arca_session_name_check(s->s, s->len, allow_slash) == 0)
        return;
    size_t o = pk(L, key);
    err(L, s->pos, "invalid name '%.128s': %s", s->s, arca_err_detail());
    pp(L, o);
}

static void parse_otp(struct ld *L, const struct arca_ynode *m, struct arca_str *out)
{
    const struct arca_ynode *v = arca_ynode_get(m, "one_time_password_shared_secret");
    if (v == NULL)
        return;
    size_t o = pk(L, "one_time_password_shared_secret");
    if (get_str(L, v, out, false) && !has_placeholder(out->s)) {
        struct arca_buf b;
        arca_buf_init_secret(&b, 1024);
        if (arca_base32_decode(&b, out->s, out->len) < 0)
            err(L, v->pos, "not valid base32: %s", arca_err_detail());
        else if (b.len < 16)
            err(L, v->pos, "the shared secret has %zu bits; at least 128 are needed", b.len * 8);
        arca_buf_free(&b);
    }
    pp(L, o);
}

static void parse_service(struct ld *L, const struct arca_ynode *n, struct arca_service *svc)
{
    static const char *const keys[] = {"name",
                                       "command",
                                       "environment",
                                       "pwd",
                                       "image_name",
                                       "fspf_path",
                                       "fspf_key",
                                       "fspf_tag",
                                       "fspf_update_policy",
                                       "attestation",
                                       "mrenclaves",
                                       "platforms",
                                       "one_time_password_shared_secret",
                                       NULL};
    svc->pos = n->pos;
    if (!check_keys(L, n, "a service", keys, NULL))
        return;
    field_str(L, n, "name", &svc->name, true);
    check_name(L, "name", &svc->name, false);
    const struct arca_ynode *x;
    if ((x = arca_ynode_get(n, "command")) != NULL) {
        size_t o = pk(L, "command");
        parse_command(L, x, svc);
        check_host_args(L, svc, x->pos);
        pp(L, o);
    }
    if ((x = arca_ynode_get(n, "environment")) != NULL) {
        size_t o = pk(L, "environment");
        parse_env(L, x, svc);
        pp(L, o);
    }
    field_str(L, n, "pwd", &svc->pwd, false);
    if (svc->pwd.s != NULL && svc->pwd.s[0] != '/') {
        size_t o = pk(L, "pwd");
        err(L, svc->pwd.pos, "pwd must be an absolute path");
        pp(L, o);
    }
    field_str(L, n, "image_name", &svc->image_name, false);
    field_str(L, n, "fspf_path", &svc->fspf_path, false);
    parse_key32(L, n, "fspf_key", &svc->fspf_key);
    field_hex(L, n, "fspf_tag", svc->fspf_tag, 16, &svc->has_fspf_tag, false);
    if ((x = arca_ynode_get(n, "fspf_update_policy")) != NULL) {
        size_t o = pk(L, "fspf_update_policy");
        svc->fspf_update_policy = parse_policy(L, x, true);
        pp(L, o);
    }
    const struct arca_ynode *fk = arca_ynode_get(n, "fspf_key");
    const struct arca_ynode *ft = arca_ynode_get(n, "fspf_tag");
    const struct arca_ynode *fp = arca_ynode_get(n, "fspf_path");
    if ((fk != NULL || ft != NULL) && fp == NULL)
        err(L, (fk ? fk : ft)->pos, "fspf_key and fspf_tag need fspf_path");
    if (fp != NULL && fk == NULL)
        err(L, fp->pos, "fspf_path needs fspf_key");
    if (fk != NULL && ft == NULL && svc->fspf_update_policy != ARCA_FSPF_NO_ROLLBACK_PROTECTION)
        err(L, fk->pos, "fspf_tag is required unless fspf_update_policy is no_rollback_protection");
    const struct arca_ynode *att = arca_ynode_get(n, "attestation");
    const struct arca_ynode *mre = arca_ynode_get(n, "mrenclaves");
    if (att != NULL && mre != NULL)
        err(L, mre->pos, "'mrenclaves' (deprecated) and 'attestation' are mutually exclusive");
    if (att != NULL) {
        size_t o = pk(L, "attestation");
        parse_attestation(L, att, svc);
        pp(L, o);
    } else if (mre != NULL) {
        size_t o = pk(L, "mrenclaves");
        svc->mrenclaves_deprecated = true;
        svc->variants = calloc(1, sizeof(*svc->variants));
        if (svc->variants == NULL) {
            L->oom = true;
        } else {
            svc->variants[0].pos = mre->pos;
            parse_digest_list(L, mre, "mrenclave", &svc->variants[0].mrenclave,
                              &svc->variants[0].n_mrenclave);
            svc->n_variants = svc->variants[0].n_mrenclave > 0;
        }
        pp(L, o);
    }
    if ((x = arca_ynode_get(n, "platforms")) != NULL) {
        size_t o = pk(L, "platforms");
        parse_platform_list(L, x, "platform key", &svc->platforms, &svc->n_platforms);
        pp(L, o);
    }
    parse_otp(L, n, &svc->otp_secret);
}

/* ---- secrets ------------------------------------------------------------------------------- */

static enum arca_secret_kind parse_kind(struct ld *L, const struct arca_ynode *n)
{
    static const struct {
        const char *name;
        enum arca_secret_kind kind;
    } kinds[] = {
        {"ascii", ARCA_SECRET_ASCII},
        {"binary", ARCA_SECRET_BINARY},
        {"private-key", ARCA_SECRET_PRIVATE_KEY},
        {"x509", ARCA_SECRET_X509},
        {"x509-ca", ARCA_SECRET_X509_CA},
        {"config-fragment", ARCA_SECRET_CONFIG_FRAGMENT},
    };
    if (!expect(L, n, ARCA_YNODE_SCALAR, "a secret kind"))
        return ARCA_SECRET_NONE;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcmp(n->text, kinds[i].name) == 0)
            return kinds[i].kind;
    if (strcmp(n->text, "aad-token") == 0 || strcmp(n->text, "pgp-key") == 0 ||
        strcmp(n->text, "public-key") == 0) {
        unsup(L, n->pos, "secret kind '%s'", n->text);
        return ARCA_SECRET_NONE;
    }
    err(L, n->pos,
        "unknown secret kind '%.40s' (expected ascii, binary, private-key, x509, "
        "x509-ca or config-fragment)",
        n->text);
    return ARCA_SECRET_NONE;
}

static enum arca_key_type parse_key_type(struct ld *L, const struct arca_ynode *n)
{
    static const struct {
        const char *name;
        enum arca_key_type t;
    } types[] = {{"P-256", ARCA_KEY_P256},
                 {"P-384", ARCA_KEY_P384},
                 {"Ed25519", ARCA_KEY_ED25519},
                 {"RSA-2048", ARCA_KEY_RSA2048},
                 {"RSA-3072", ARCA_KEY_RSA3072}};
    if (!expect(L, n, ARCA_YNODE_SCALAR, "a key type"))
        return ARCA_KEY_NONE;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(n->text, types[i].name) == 0)
            return types[i].t;
    err(L, n->pos,
        "unknown key_type '%.40s' (expected P-256, P-384, Ed25519, RSA-2048 or "
        "RSA-3072)",
        n->text);
    return ARCA_KEY_NONE;
}

static void parse_str_list(struct ld *L, const struct arca_ynode *n, struct arca_str **out,
                           size_t *count)
{
    if (n->type == ARCA_YNODE_SCALAR) {
        *out = calloc(1, sizeof(**out));
        if (*out == NULL) {
            L->oom = true;
            return;
        }
        if (get_str(L, n, &(*out)[0], false))
            *count = 1;
        return;
    }
    *out = seq_alloc(L, n, "a list of strings", NULL, sizeof(**out));
    if (*out == NULL)
        return;
    for (size_t i = 0; i < n->n_items; i++) {
        size_t o = pi(L, i);
        if (get_str(L, &n->items[i], &(*out)[*count], false))
            (*count)++;
        pp(L, o);
    }
}

static void parse_export_list(struct ld *L, const struct arca_ynode *n, struct arca_secret *x)
{
    if (n->type != ARCA_YNODE_SEQ && n->type != ARCA_YNODE_MAP && n->type != ARCA_YNODE_SCALAR)
        return;
    size_t cnt = n->type == ARCA_YNODE_SEQ ? n->n_items : 1;
    if (cnt == 0)
        return;
    x->exports = calloc(cnt, sizeof(*x->exports));
    if (x->exports == NULL) {
        L->oom = true;
        return;
    }
    static const char *const keys[] = {
        "session", "namespace", "session_hash", "cas_url", "cas_key", "cas_software_key", NULL};
    for (size_t i = 0; i < cnt; i++) {
        const struct arca_ynode *it = n->type == ARCA_YNODE_SEQ ? &n->items[i] : n;
        size_t o = n->type == ARCA_YNODE_SEQ ? pi(L, i) : L->plen;
        struct arca_session_ref *r = &x->exports[x->n_exports++];
        r->pos = it->pos;
        if (it->type == ARCA_YNODE_SCALAR) {
            if (strchr(it->text, '=') != NULL)
                parse_short_ref(L, it, r);
            else if (get_str(L, it, &r->session, false))
                check_ref_name(L, r->session.s, r->session.len, it->pos);
        } else if (check_keys(L, it, "an export", keys, NULL)) {
            parse_ref_fields(L, it, r, true);
        }
        pp(L, o);
    }
}

static void parse_secret_import(struct ld *L, const struct arca_ynode *n, struct arca_secret *x)
{
    static const char *const keys[] = {
        "session", "secret", "session_hash", "cas_url", "cas_key", "cas_software_key", NULL};
    if (!check_keys(L, n, "import", keys, NULL))
        return;
    x->has_import = true;
    parse_ref_fields(L, n, &x->import_from, false);
    field_str(L, n, "secret", &x->import_secret, true);
    check_name(L, "secret", &x->import_secret, false);
}

static void check_pem_value(struct ld *L, struct arca_secret *x, const struct arca_ynode *v)
{
    if (x->kind == ARCA_SECRET_PRIVATE_KEY) {
        struct arca_key *k = NULL;
        if (arca_key_from_pem(x->value.s, x->value.len, &k) < 0 || !arca_key_has_private(k)) {
            err(L, v->pos, "value is not a PEM private key");
        } else if (x->key_type != ARCA_KEY_NONE && arca_key_type(k) != x->key_type) {
            err(L, v->pos, "value is a %s key but key_type says %s",
                arca_key_type_name(arca_key_type(k)), arca_key_type_name(x->key_type));
        } else if (x->key_type == ARCA_KEY_NONE) {
            x->key_type = arca_key_type(k);
        }
        arca_key_free(k);
    } else {
        struct arca_x509 *c = NULL;
        if (arca_x509_from_pem(x->value.s, x->value.len, &c) < 0)
            err(L, v->pos, "value is not a PEM certificate (%s)", arca_err_detail());
        arca_x509_free(c);
    }
}

static void parse_secret(struct ld *L, const struct arca_ynode *n, struct arca_secret *x)
{
    static const char *const keys[] = {
        "name",        "kind",          "size",   "key_type", "private_key", "issuer",
        "common_name", "endpoint",      "dns",    "san",      "valid_for",   "value",
        "export",      "export_public", "import", "migrate",  "provided_by", NULL};
    static const char *const uns[] = {
        "import_akv", "tenant_id", "client_id", "application_secret", "certificate_thumbprint",
        NULL};
    x->pos = n->pos;
    if (!check_keys(L, n, "a secret", keys, uns))
        return;
    field_str(L, n, "name", &x->name, true);
    check_name(L, "name", &x->name, false);
    const struct arca_ynode *kv = arca_ynode_get(n, "kind");
    const struct arca_ynode *imp = arca_ynode_get(n, "import");
    if (kv != NULL) {
        size_t o = pk(L, "kind");
        x->kind = parse_kind(L, kv);
        pp(L, o);
    } else if (imp == NULL) {
        err(L, n->pos, "missing mandatory key 'kind'");
    }
    bool known = x->kind != ARCA_SECRET_NONE;
    enum arca_secret_kind k = x->kind;
    bool is_cert = k == ARCA_SECRET_X509 || k == ARCA_SECRET_X509_CA;
    /* which parameters belong to which kind */
    static const struct {
        const char *key;
        unsigned kinds; /* bit per kind */
    } applies[] = {
        {"size", 1u << ARCA_SECRET_ASCII | 1u << ARCA_SECRET_BINARY},
        {"key_type", 1u << ARCA_SECRET_PRIVATE_KEY},
        {"migrate", 1u << ARCA_SECRET_PRIVATE_KEY},
        {"private_key", 1u << ARCA_SECRET_X509 | 1u << ARCA_SECRET_X509_CA},
        {"issuer", 1u << ARCA_SECRET_X509 | 1u << ARCA_SECRET_X509_CA},
        {"common_name", 1u << ARCA_SECRET_X509 | 1u << ARCA_SECRET_X509_CA},
        {"endpoint", 1u << ARCA_SECRET_X509},
        {"dns", 1u << ARCA_SECRET_X509 | 1u << ARCA_SECRET_X509_CA},
        {"san", 1u << ARCA_SECRET_X509 | 1u << ARCA_SECRET_X509_CA},
        {"valid_for", 1u << ARCA_SECRET_X509 | 1u << ARCA_SECRET_X509_CA},
    };
    if (known) {
        for (size_t i = 0; i < sizeof(applies) / sizeof(applies[0]); i++) {
            const struct arca_ynode *a = arca_ynode_get(n, applies[i].key);
            if (a != NULL && !(applies[i].kinds & (1u << k))) {
                size_t o = pk(L, applies[i].key);
                err(L, a->pos, "'%s' is not allowed for a secret of kind %s", applies[i].key,
                    arca_secret_kind_name(k));
                pp(L, o);
            }
        }
    }
    const struct arca_ynode *v;
    if ((v = arca_ynode_get(n, "size")) != NULL && known &&
        (k == ARCA_SECRET_ASCII || k == ARCA_SECRET_BINARY)) {
        uint64_t sz;
        size_t o = pk(L, "size");
        if (get_uint(L, v, 65536, false, &sz)) {
            if (sz == 0)
                err(L, v->pos, "size must be at least 1");
            x->size = (uint32_t)sz;
            x->has_size = true;
        }
        pp(L, o);
    }
    if ((v = arca_ynode_get(n, "key_type")) != NULL && k == ARCA_SECRET_PRIVATE_KEY) {
        size_t o = pk(L, "key_type");
        x->key_type = parse_key_type(L, v);
        pp(L, o);
    }
    if (k == ARCA_SECRET_PRIVATE_KEY)
        field_bool(L, n, "migrate", &x->migrate);
    if (is_cert) {
        field_str(L, n, "private_key", &x->private_key, false);
        field_str(L, n, "issuer", &x->issuer, false);
        field_str(L, n, "common_name", &x->common_name, false);
        if ((v = arca_ynode_get(n, "endpoint")) != NULL && k == ARCA_SECRET_X509) {
            size_t o = pk(L, "endpoint");
            if (expect(L, v, ARCA_YNODE_SCALAR, "server or client")) {
                if (strcmp(v->text, "server") == 0)
                    x->endpoint = ARCA_ENDPOINT_SERVER;
                else if (strcmp(v->text, "client") == 0)
                    x->endpoint = ARCA_ENDPOINT_CLIENT;
                else
                    err(L, v->pos, "endpoint must be server or client, got '%.40s'", v->text);
            }
            pp(L, o);
        }
        if ((v = arca_ynode_get(n, "dns")) != NULL) {
            size_t o = pk(L, "dns");
            parse_str_list(L, v, &x->dns, &x->n_dns);
            if (x->endpoint == ARCA_ENDPOINT_CLIENT)
                err(L, v->pos, "'dns' is not allowed with endpoint: client");
            pp(L, o);
        }
        if ((v = arca_ynode_get(n, "san")) != NULL) {
            size_t o = pk(L, "san");
            parse_str_list(L, v, &x->san, &x->n_san);
            for (size_t i = 0; i < x->n_san; i++) {
                const char *e = x->san[i].s;
                size_t oi = pi(L, i);
                if (strncmp(e, "dns:", 4) == 0) {
                    if (e[4] == 0)
                        err(L, x->san[i].pos, "empty DNS name");
                } else if (strncmp(e, "ip:", 3) == 0) {
                    unsigned char buf[16];
                    if (inet_pton(AF_INET, e + 3, buf) != 1 && inet_pton(AF_INET6, e + 3, buf) != 1)
                        err(L, x->san[i].pos, "'%.60s' is not an IPv4 or IPv6 address", e + 3);
                } else {
                    err(L, x->san[i].pos, "SAN entry '%.60s' must start with dns: or ip:", e);
                }
                pp(L, oi);
            }
            pp(L, o);
        }
        if ((v = arca_ynode_get(n, "valid_for")) != NULL) {
            size_t o = pk(L, "valid_for");
            if (get_str(L, v, &x->valid_for_text, false)) {
                if (arca_duration_parse(x->valid_for_text.s, &x->valid_for) < 0)
                    err(L, v->pos, "%s", arca_err_detail());
                else
                    x->has_valid_for = true;
            }
            pp(L, o);
        }
    }
    const struct arca_ynode *val = arca_ynode_get(n, "value");
    if (val != NULL) {
        size_t o = pk(L, "value");
        if (k == ARCA_SECRET_CONFIG_FRAGMENT) {
            x->fragment = calloc(1, sizeof(*x->fragment));
            if (x->fragment == NULL || arca_ynode_copy(x->fragment, val) < 0)
                L->oom = true;
        } else if (known && get_str(L, val, &x->value, false)) {
            if (k == ARCA_SECRET_BINARY) {
                size_t blen = x->value.len / 2;
                x->value_bytes = malloc(blen ? blen : 1);
                if (x->value_bytes == NULL) {
                    L->oom = true;
                } else if (x->value.len & 1) {
                    err(L, val->pos, "binary value must have an even number of hex characters");
                } else if (decode_hex_fixed(L, "binary value", x->value.s, x->value.len, val->pos,
                                            x->value_bytes, blen)) {
                    x->value_bytes_len = blen;
                    if (x->has_size && x->size != blen)
                        err(L, val->pos, "value has %zu bytes but size says %u", blen, x->size);
                }
            } else if (k == ARCA_SECRET_PRIVATE_KEY || is_cert) {
                check_pem_value(L, x, val);
            } else if (k == ARCA_SECRET_ASCII) {
                for (size_t i = 0; i < x->value.len; i++)
                    if ((unsigned char)x->value.s[i] < 0x20 && x->value.s[i] != '\n' &&
                        x->value.s[i] != '\t') {
                        err(L, val->pos, "ascii value has a control character at offset %zu", i);
                        break;
                    }
            }
        }
        pp(L, o);
    }
    if (imp != NULL) {
        size_t o = pk(L, "import");
        parse_secret_import(L, imp, x);
        if (val != NULL)
            err(L, imp->pos, "'import' and 'value' are mutually exclusive");
        pp(L, o);
    }
    if ((v = arca_ynode_get(n, "export")) != NULL) {
        size_t o = pk(L, "export");
        if (expect(L, v, ARCA_YNODE_SEQ, "a list of export targets"))
            parse_export_list(L, v, x);
        if (imp != NULL)
            err(L, v->pos, "an imported secret cannot be exported again");
        pp(L, o);
    }
    field_bool(L, n, "export_public", &x->export_public);
    field_str(L, n, "provided_by", &x->provided_by, false);
    if (x->provided_by.s != NULL && (val != NULL || imp != NULL))
        err(L, x->provided_by.pos, "'provided_by' excludes 'value' and 'import'");
    if (known && k == ARCA_SECRET_CONFIG_FRAGMENT && val == NULL && imp == NULL)
        err(L, n->pos, "a config-fragment needs 'value' or 'import'");
    if (known && is_cert && val == NULL && imp == NULL && x->provided_by.s == NULL &&
        x->private_key.s == NULL)
        err(L, n->pos, "a generated %s needs 'private_key'", arca_secret_kind_name(k));
    if (known && k == ARCA_SECRET_PRIVATE_KEY && x->key_type == ARCA_KEY_NONE && val == NULL)
        x->key_type = ARCA_KEY_P256;
    if (known && (k == ARCA_SECRET_ASCII || k == ARCA_SECRET_BINARY) && !x->has_size &&
        val == NULL) {
        x->size = 20; /* the documented default, filled in so that the hash sees it */
    }
}

/* ---- images and volumes -------------------------------------------------------------------- */

/* update_policy of a volume export or mount, if given (out unchanged when absent). */
static void field_update_policy(struct ld *L, const struct arca_ynode *it,
                                enum arca_fspf_policy *out)
{
    const struct arca_ynode *up = arca_ynode_get(it, "update_policy");
    if (up != NULL) {
        size_t o = pk(L, "update_policy");
        *out = parse_policy(L, up, false);
        pp(L, o);
    }
}

static void volume_export_fn(struct ld *L, const struct arca_ynode *it, void *base, size_t i,
                             void *ctx)
{
    (void)ctx;
    static const char *const ek[] = {"to", "update_policy", "volume_alias", NULL};
    static const char *const tk[] = {"session", "session_hash", "namespace", "cas_url", NULL};
    struct arca_volume_export *e = (struct arca_volume_export *)base + i;
    e->pos = it->pos;
    if (!check_keys(L, it, "a volume export", ek, NULL))
        return;
    const struct arca_ynode *to = arca_ynode_get(it, "to");
    if (to == NULL) {
        err(L, it->pos, "missing mandatory key 'to'");
    } else {
        size_t ot = pk(L, "to");
        if (check_keys(L, to, "to", tk, NULL)) {
            if (arca_ynode_get(to, "namespace") != NULL)
                err(L, arca_ynode_get(to, "namespace")->pos,
                    "volumes can only be exported to sessions, not namespaces");
            else if (arca_ynode_get(to, "cas_url") != NULL)
                err(L, arca_ynode_get(to, "cas_url")->pos,
                    "volumes can only be exported to sessions on the same CAS");
            else
                parse_ref_fields(L, to, &e->to, false);
        }
        pp(L, ot);
    }
    field_update_policy(L, it, &e->update_policy);
    field_str(L, it, "volume_alias", &e->volume_alias, false);
    check_name(L, "volume_alias", &e->volume_alias, false);
}

static void parse_volume(struct ld *L, const struct arca_ynode *n, struct arca_volume *vo)
{
    static const char *const keys[] = {"name", "fspf_key", "fspf_tag", "export", "import", NULL};
    vo->pos = n->pos;
    if (!check_keys(L, n, "a volume", keys, NULL))
        return;
    field_str(L, n, "name", &vo->name, true);
    check_name(L, "name", &vo->name, false);
    parse_key32(L, n, "fspf_key", &vo->fspf_key);
    field_hex(L, n, "fspf_tag", vo->fspf_tag, 16, &vo->has_fspf_tag, false);
    const struct arca_ynode *fk = arca_ynode_get(n, "fspf_key");
    const struct arca_ynode *ft = arca_ynode_get(n, "fspf_tag");
    if (ft != NULL && fk == NULL)
        err(L, ft->pos, "fspf_tag needs fspf_key");
    const struct arca_ynode *ex = arca_ynode_get(n, "export");
    if (ex != NULL) {
        size_t o = pk(L, "export");
        vo->exports = parse_seq(L, ex, "a list of export targets", sizeof(*vo->exports),
                                &vo->n_exports, volume_export_fn, NULL);
        pp(L, o);
    }
    const struct arca_ynode *im = arca_ynode_get(n, "import");
    if (im != NULL) {
        static const char *const ik[] = {"session", "session_hash", "volume", NULL};
        size_t o = pk(L, "import");
        if (check_keys(L, im, "a volume import", ik, NULL)) {
            vo->has_import = true;
            parse_ref_fields(L, im, &vo->import_from, false);
            field_str(L, im, "volume", &vo->import_volume, true);
            check_name(L, "volume", &vo->import_volume, false);
        }
        if (fk != NULL || ex != NULL)
            err(L, im->pos, "an imported volume has no fspf_key/fspf_tag/export of its own");
        pp(L, o);
    }
}

static void image_volume_fn(struct ld *L, const struct arca_ynode *it, void *base, size_t i,
                            void *ctx)
{
    (void)ctx;
    static const char *const vk[] = {"name", "path", "update_policy", NULL};
    struct arca_image_volume *iv = (struct arca_image_volume *)base + i;
    iv->pos = it->pos;
    if (!check_keys(L, it, "a volume mount", vk, NULL))
        return;
    field_str(L, it, "name", &iv->name, true);
    field_str(L, it, "path", &iv->path, true);
    if (iv->path.s != NULL && iv->path.s[0] != '/') {
        size_t op = pk(L, "path");
        err(L, iv->path.pos, "path must be absolute");
        pp(L, op);
    }
    field_update_policy(L, it, &iv->update_policy);
}

static void injection_file_fn(struct ld *L, const struct arca_ynode *it, void *base, size_t i,
                              void *ctx)
{
    (void)ctx;
    static const char *const fk[] = {"path", "content", "permission", NULL};
    struct arca_injection_file *files = base, *f = &files[i];
    f->pos = it->pos;
    f->mode = 0700;
    if (it->type == ARCA_YNODE_SCALAR) {
        get_str(L, it, &f->path, false);
    } else if (check_keys(L, it, "an injection file", fk, NULL)) {
        field_str(L, it, "path", &f->path, true);
        const struct arca_ynode *c = arca_ynode_get(it, "content");
        if (c != NULL) {
            size_t oc = pk(L, "content");
            f->has_content = get_str(L, c, &f->content, true);
            pp(L, oc);
        }
        const struct arca_ynode *p = arca_ynode_get(it, "permission");
        if (p != NULL) {
            uint64_t m;
            size_t op = pk(L, "permission");
            if (get_uint(L, p, 07777, true, &m))
                f->mode = (uint32_t)m;
            pp(L, op);
        }
    }
    if (f->path.s != NULL && f->path.s[0] != '/')
        err(L, f->path.pos, "injection file path must be absolute");
    for (size_t j = 0; f->path.s != NULL && j < i; j++)
        if (files[j].path.s && strcmp(files[j].path.s, f->path.s) == 0)
            err(L, f->path.pos, "injection file '%.100s' is listed twice", f->path.s);
}

static void parse_image(struct ld *L, const struct arca_ynode *n, struct arca_image *im)
{
    static const char *const keys[] = {"name", "volumes", "injection_files", NULL};
    im->pos = n->pos;
    if (!check_keys(L, n, "an image", keys, NULL))
        return;
    field_str(L, n, "name", &im->name, true);
    check_name(L, "name", &im->name, false);
    const struct arca_ynode *vs = arca_ynode_get(n, "volumes");
    if (vs != NULL) {
        size_t o = pk(L, "volumes");
        im->volumes = parse_seq(L, vs, "a list of volume mounts", sizeof(*im->volumes),
                                &im->n_volumes, image_volume_fn, NULL);
        pp(L, o);
    }
    const struct arca_ynode *fs = arca_ynode_get(n, "injection_files");
    if (fs != NULL) {
        size_t o = pk(L, "injection_files");
        im->files = parse_seq(L, fs, "a list of injection files", sizeof(*im->files), &im->n_files,
                              injection_file_fn, NULL);
        pp(L, o);
    }
}

/* ---- access policy ------------------------------------------------------------------------- */

static bool parse_ap_node(struct ld *L, const struct arca_ynode *n, struct arca_ap_node *a,
                          bool tree_ok, int depth);

static void parse_ap_children(struct ld *L, const struct arca_ynode *n, struct arca_ap_node *a,
                              int depth)
{
    a->children =
        seq_alloc(L, n, "a list of policy entries", "the list is empty", sizeof(*a->children));
    if (a->children == NULL)
        return;
    for (size_t i = 0; i < n->n_items; i++) {
        size_t o = pi(L, i);
        if (parse_ap_node(L, &n->items[i], &a->children[a->n_children], true, depth + 1))
            a->n_children++;
        pp(L, o);
    }
}

static void parse_signer_key(struct ld *L, const struct arca_ynode *v, struct arca_ap_node *a)
{
    struct arca_key *k = NULL;
    struct arca_buf der;
    arca_buf_init(&der, 0);
    if (!expect(L, v, ARCA_YNODE_SCALAR, "a public key (SPKI PEM or Base58Check)"))
        return;
    if (strstr(v->text, "-----BEGIN") != NULL) {
        if (arca_key_from_pem(v->text, v->len, &k) < 0) {
            err(L, v->pos, "signer is not a PEM public key (%s)", arca_err_detail());
            goto out;
        }
    } else {
        struct arca_buf raw;
        uint8_t version = 0;
        arca_buf_init(&raw, 64);
        if (arca_base58check_decode(&raw, &version, v->text, v->len) < 0 || raw.len != 32) {
            err(L, v->pos, "signer is neither an SPKI PEM nor a Base58Check Ed25519 key");
            arca_buf_free(&raw);
            goto out;
        }
        int rc = arca_key_from_public_raw(ARCA_KEY_ED25519, raw.data, raw.len, &k);
        arca_buf_free(&raw);
        if (rc < 0) {
            err(L, v->pos, "signer is not a valid Ed25519 key");
            goto out;
        }
    }
    a->signer_type = arca_key_type(k);
    if (a->signer_type != ARCA_KEY_ED25519 && a->signer_type != ARCA_KEY_P384) {
        err(L, v->pos, "signer keys must be Ed25519 or P-384, got %s",
            arca_key_type_name(a->signer_type));
        goto out;
    }
    if (arca_key_has_private(k)) {
        err(L, v->pos, "signer is a private key; give the public key only");
        goto out;
    }
    if (arca_key_spki_der(k, &der) < 0 || arca_key_id(k, a->key_id) < 0) {
        err(L, v->pos, "signer key cannot be encoded (%s)", arca_err_detail());
        goto out;
    }
    a->spki_der = malloc(der.len);
    if (a->spki_der == NULL) {
        L->oom = true;
        goto out;
    }
    memcpy(a->spki_der, der.data, der.len);
    a->spki_der_len = der.len;
out:
    arca_buf_free(&der);
    arca_key_free(k);
}

static bool parse_ap_node(struct ld *L, const struct arca_ynode *n, struct arca_ap_node *a,
                          bool tree_ok, int depth)
{
    a->pos = n->pos;
    if (depth > 16) {
        err(L, n->pos, "the access policy is nested too deeply");
        return false;
    }
    if (n->type == ARCA_YNODE_SCALAR) {
        const char *t = n->text;
        const char *name, *fmt;
        size_t nlen, flen;
        if (strcmp(t, "CREATOR") == 0) {
            a->kind = ARCA_AP_CREATOR;
        } else if (strcmp(t, "ANY") == 0) {
            a->kind = ARCA_AP_ANY;
        } else if (strcmp(t, "NONE") == 0) {
            a->kind = ARCA_AP_NONE;
        } else if (whole_placeholder(t, n->len, &name, &nlen, &fmt, &flen)) {
            a->kind = ARCA_AP_SECRET;
            return set_str(L, &a->secret, name, nlen, n->pos);
        } else if (strstr(t, "-----BEGIN CERTIFICATE-----") != NULL) {
            struct arca_x509 *c = NULL;
            a->kind = ARCA_AP_CERT;
            if (arca_x509_from_pem(t, n->len, &c) < 0) {
                err(L, n->pos, "not a valid PEM certificate (%s)", arca_err_detail());
                return false;
            }
            int rc = arca_x509_key_id(c, a->key_id);
            arca_x509_free(c);
            if (rc < 0) {
                err(L, n->pos, "certificate public key cannot be read (%s)", arca_err_detail());
                return false;
            }
            return set_str(L, &a->cert_pem, t, n->len, n->pos);
        } else if (n->len == 64 ||
                   (n->len >= 40 && n->len <= 60 &&
                    strspn(t, "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz") ==
                        n->len)) {
            a->kind = ARCA_AP_KEYHASH;
            return decode_key_hash(L, "key hash", t, n->len, n->pos, a->key_id);
        } else {
            err(L, n->pos,
                "'%.60s' is not CREATOR, ANY, NONE, a PEM certificate, a key hash, "
                "signer: or require-*",
                t);
            return false;
        }
        return true;
    }
    if (!expect(L, n, ARCA_YNODE_MAP, "a policy entry"))
        return false;
    if (n->n_items != 2) {
        err(L, n->pos,
            "a policy entry mapping has exactly one key (signer, require-all or "
            "require-at-least-N)");
        return false;
    }
    const struct arca_ynode *k = &n->items[0];
    const struct arca_ynode *v = &n->items[1];
    size_t o = pk(L, k->text);
    bool ok = true;
    if (strcmp(k->text, "signer") == 0) {
        a->kind = ARCA_AP_SIGNER;
        if (!tree_ok) {
            err(L, k->pos, "signer: is not allowed in read or list_sessions");
            ok = false;
        } else {
            parse_signer_key(L, v, a);
        }
    } else if (strcmp(k->text, "require-all") == 0 ||
               strncmp(k->text, "require-at-least-", 17) == 0) {
        bool all = k->text[8] == 'a' && k->text[9] == 'l';
        a->kind = all ? ARCA_AP_ALL : ARCA_AP_AT_LEAST;
        if (!tree_ok) {
            err(L, k->pos, "%s is not allowed in read or list_sessions", k->text);
            ok = false;
        } else {
            unsigned long th = 0;
            if (!all) {
                const char *d = k->text + 17;
                char *end = NULL;
                th = (*d >= '1' && *d <= '9') ? strtoul(d, &end, 10) : 0;
                if (th == 0 || end == NULL || *end != 0 || th > 1000) {
                    err(L, k->pos, "'%s': N in require-at-least-N must be a positive integer",
                        k->text);
                    ok = false;
                }
            }
            if (ok) {
                parse_ap_children(L, v, a, depth);
                a->threshold = all ? (uint32_t)a->n_children : (uint32_t)th;
                if (!all && v->type == ARCA_YNODE_SEQ && th > v->n_items)
                    err(L, k->pos,
                        "require-at-least-%lu has only %zu entries and can never be "
                        "satisfied",
                        th, v->n_items);
                for (size_t i = 0; i < a->n_children; i++)
                    if (a->children[i].kind == ARCA_AP_ANY || a->children[i].kind == ARCA_AP_NONE)
                        err(L, a->children[i].pos, "ANY and NONE are not allowed inside %s",
                            k->text);
            }
        }
    } else {
        err(L, k->pos,
            "unknown policy entry '%.60s' (expected signer, require-all or "
            "require-at-least-N)",
            k->text);
        ok = false;
    }
    pp(L, o);
    return ok;
}

static void parse_ap_rule(struct ld *L, const struct arca_ynode *n, struct arca_ap_rule *r,
                          bool tree_ok)
{
    r->written = true;
    r->pos = n->pos;
    const struct arca_ynode *items = n->type == ARCA_YNODE_SEQ ? n->items : n;
    size_t cnt = n->type == ARCA_YNODE_SEQ ? n->n_items : 1;
    if (cnt == 0) {
        err(L, n->pos, "the list is empty (use NONE to deny everyone)");
        return;
    }
    r->entries = calloc(cnt, sizeof(*r->entries));
    if (r->entries == NULL) {
        L->oom = true;
        return;
    }
    size_t n_any = 0, n_none = 0;
    for (size_t i = 0; i < cnt; i++) {
        size_t o = n->type == ARCA_YNODE_SEQ ? pi(L, i) : L->plen;
        if (parse_ap_node(L, &items[i], &r->entries[r->n_entries], tree_ok, 0)) {
            enum arca_ap_kind k = r->entries[r->n_entries].kind;
            n_any += k == ARCA_AP_ANY;
            n_none += k == ARCA_AP_NONE;
            r->n_entries++;
        }
        pp(L, o);
    }
    if ((n_any > 0 || n_none > 0) && cnt > 1)
        err(L, n->pos, "%s must be the only entry in its list", n_any ? "ANY" : "NONE");
}

static int copy_ap_nodes(struct arca_ap_node **dst, const struct arca_ap_node *src, size_t n)
{
    *dst = NULL;
    if (n == 0)
        return 0;
    *dst = calloc(n, sizeof(**dst));
    if (*dst == NULL)
        return ARCA_ERR_ALLOC;
    for (size_t i = 0; i < n; i++) {
        struct arca_ap_node *d = &(*dst)[i];
        const struct arca_ap_node *s = &src[i];
        *d = *s;
        d->cert_pem.s = NULL;
        d->secret.s = NULL;
        d->spki_der = NULL;
        d->children = NULL;
        if (s->cert_pem.s && (d->cert_pem.s = strdup(s->cert_pem.s)) == NULL)
            return ARCA_ERR_ALLOC;
        if (s->secret.s && (d->secret.s = strdup(s->secret.s)) == NULL)
            return ARCA_ERR_ALLOC;
        if (s->spki_der) {
            if ((d->spki_der = malloc(s->spki_der_len)) == NULL)
                return ARCA_ERR_ALLOC;
            memcpy(d->spki_der, s->spki_der, s->spki_der_len);
        }
        ARCA_TRY(copy_ap_nodes(&d->children, s->children, s->n_children));
    }
    return 0;
}

static void default_rule(struct ld *L, struct arca_ap_rule *r, const struct arca_ap_rule *from)
{
    if (r->written)
        return;
    if (from != NULL) {
        if (copy_ap_nodes(&r->entries, from->entries, from->n_entries) < 0) {
            L->oom = true;
            return;
        }
        r->n_entries = from->n_entries;
        return;
    }
    r->entries = calloc(1, sizeof(*r->entries));
    if (r->entries == NULL) {
        L->oom = true;
        return;
    }
    r->entries[0].kind = ARCA_AP_CREATOR;
    r->n_entries = 1;
}

static void parse_access(struct ld *L, const struct arca_ynode *n)
{
    static const char *const keys[] = {"read", "update", "create_sessions", "list_sessions", NULL};
    struct arca_access_policy *ap = &L->s->access;
    if (n != NULL) {
        size_t o = pk(L, "access_policy");
        if (n->type == ARCA_YNODE_SCALAR && has_placeholder(n->text))
            err(L, n->pos,
                "placeholder '%.80s' does not name a config-fragment with a value in "
                "this session",
                n->text);
        else if (check_keys(L, n, "access_policy", keys, NULL)) {
            struct arca_ap_rule *rules[] = {&ap->read, &ap->update, &ap->create_sessions,
                                            &ap->list_sessions};
            for (int i = 0; i < 4; i++) {
                const struct arca_ynode *v = arca_ynode_get(n, keys[i]);
                if (v == NULL)
                    continue;
                size_t oi = pk(L, keys[i]);
                parse_ap_rule(L, v, rules[i], i == 1 || i == 2);
                pp(L, oi);
            }
        }
        pp(L, o);
    }
    default_rule(L, &ap->read, NULL);
    default_rule(L, &ap->update, NULL);
    default_rule(L, &ap->create_sessions, &ap->update);
    default_rule(L, &ap->list_sessions, &ap->read);
}

/* ---- security ------------------------------------------------------------------------------ */

static void parse_security(struct ld *L, const struct arca_ynode *n)
{
    static const char *const keys[] = {"attestation", "singleton_enclaves", "service_access_token",
                                       NULL};
    struct arca_security *sec = &L->s->security;
    sec->pos = n->pos;
    size_t o = pk(L, "security");
    if (!check_keys(L, n, "security", keys, NULL)) {
        pp(L, o);
        return;
    }
    field_bool(L, n, "singleton_enclaves", &sec->singleton_enclaves);
    field_str(L, n, "service_access_token", &sec->service_access_token, false);
    const struct arca_ynode *a = arca_ynode_get(n, "attestation");
    if (a != NULL) {
        static const char *const ak[] = {"mode",
                                         "tolerate",
                                         "ignore_advisories",
                                         "trusted_scone_qe_pubkeys",
                                         "one_time_password_shared_secret",
                                         NULL};
        static const char *const au[] = {"url", "certificates", NULL};
        size_t oa = pk(L, "attestation");
        if (check_keys(L, a, "security.attestation", ak, au)) {
            const struct arca_ynode *m = arca_ynode_get(a, "mode");
            if (m != NULL) {
                size_t om = pk(L, "mode");
                sec->mode_pos = m->pos;
                if (expect(L, m, ARCA_YNODE_SCALAR, "an attestation mode")) {
                    if (strcmp(m->text, "hardware") == 0)
                        sec->mode = ARCA_ATT_MODE_HARDWARE;
                    else if (strcmp(m->text, "simulation") == 0)
                        sec->mode = ARCA_ATT_MODE_SIMULATION;
                    else if (strcmp(m->text, "none") == 0)
                        sec->mode = ARCA_ATT_MODE_NONE;
                    else if (strcmp(m->text, "maa") == 0)
                        unsup(L, m->pos, "attestation mode 'maa' (Microsoft Azure Attestation)");
                    else
                        err(L, m->pos,
                            "unknown attestation mode '%.40s' (expected hardware, "
                            "simulation or none)",
                            m->text);
                }
                pp(L, om);
            }
            const struct arca_ynode *t = arca_ynode_get(a, "tolerate");
            if (t != NULL) {
                static const struct {
                    const char *name;
                    uint32_t bit;
                } tol[] = {
                    {"debug-mode", ARCA_TOLERATE_DEBUG_MODE},
                    {"hyperthreading", ARCA_TOLERATE_HYPERTHREADING},
                    {"insecure-igpu", ARCA_TOLERATE_INSECURE_IGPU},
                    {"software-hardening-needed", ARCA_TOLERATE_SW_HARDENING_NEEDED},
                    {"aepic-leak", ARCA_TOLERATE_AEPIC_LEAK},
                    {"insecure-configuration", ARCA_TOLERATE_INSECURE_CONFIGURATION},
                    {"outdated-tcb", ARCA_TOLERATE_OUTDATED_TCB},
                };
                size_t ot = pk(L, "tolerate");
                if (expect(L, t, ARCA_YNODE_SEQ, "a list")) {
                    for (size_t i = 0; i < t->n_items; i++) {
                        const struct arca_ynode *it = &t->items[i];
                        size_t oi = pi(L, i);
                        if (expect(L, it, ARCA_YNODE_SCALAR, "a string")) {
                            bool found = false;
                            for (size_t j = 0; j < sizeof(tol) / sizeof(tol[0]); j++)
                                if (strcmp(it->text, tol[j].name) == 0) {
                                    sec->tolerate |= tol[j].bit;
                                    found = true;
                                }
                            if (!found && strcmp(it->text, "maa-managed-tcb") == 0)
                                unsup(L, it->pos, "'maa-managed-tcb'");
                            else if (!found)
                                err(L, it->pos,
                                    "unknown tolerate value '%.40s' (expected "
                                    "debug-mode, hyperthreading, insecure-igpu, "
                                    "software-hardening-needed, aepic-leak, "
                                    "insecure-configuration, outdated-tcb)",
                                    it->text);
                        }
                        pp(L, oi);
                    }
                }
                pp(L, ot);
            }
            const struct arca_ynode *ia = arca_ynode_get(a, "ignore_advisories");
            if (ia != NULL) {
                size_t oi = pk(L, "ignore_advisories");
                if (ia->type == ARCA_YNODE_SCALAR && strcmp(ia->text, "*") == 0) {
                    sec->ignore_all_advisories = true;
                    if (!(sec->tolerate & ARCA_TOLERATE_DEBUG_MODE))
                        err(L, ia->pos,
                            "ignore_advisories: \"*\" is only allowed when "
                            "debug-mode is tolerated");
                } else if (expect(L, ia, ARCA_YNODE_SEQ, "a list of advisory ids or \"*\"")) {
                    parse_str_list(L, ia, &sec->ignore_advisories, &sec->n_ignore_advisories);
                    for (size_t i = 0; i < sec->n_ignore_advisories; i++) {
                        const char *id = sec->ignore_advisories[i].s;
                        if (strcmp(id, "*") == 0 || strpbrk(id, " \t") != NULL)
                            err(L, sec->ignore_advisories[i].pos,
                                "'%.40s' is not an advisory id (like INTEL-SA-00615)", id);
                    }
                }
                pp(L, oi);
            }
            const struct arca_ynode *q = arca_ynode_get(a, "trusted_scone_qe_pubkeys");
            if (q != NULL) {
                size_t oq = pk(L, "trusted_scone_qe_pubkeys");
                parse_platform_list(L, q, "QE public key", &sec->trusted_qe_keys,
                                    &sec->n_trusted_qe_keys);
                pp(L, oq);
            }
            parse_otp(L, a, &sec->otp_secret);
        }
        pp(L, oa);
    }
    pp(L, o);
}

/* ---- top level ----------------------------------------------------------------------------- */

static void parse_version(struct ld *L, const struct arca_ynode *root)
{
    const struct arca_ynode *v = arca_ynode_get(root, "version");
    static const char supported[] = "\"0.3\" and \"0.3.0\" to \"0.3.11\"";
    if (v == NULL) {
        err(L, root->pos, "missing mandatory key 'version' (supported: %s)", supported);
        return;
    }
    size_t o = pk(L, "version");
    if (expect(L, v, ARCA_YNODE_SCALAR, "a version string")) {
        const char *t = v->text;
        bool ok = false;
        if (strcmp(t, "0.3") == 0) {
            ok = true;
            L->s->version_minor = 11;
        } else if (strncmp(t, "0.3.", 4) == 0 && t[4] >= '0' && t[4] <= '9') {
            char *end;
            unsigned long m = strtoul(t + 4, &end, 10);
            bool canon = !(t[4] == '0' && t[5] != 0);
            if (*end == 0 && m <= 11 && canon) {
                ok = true;
                L->s->version_minor = (unsigned)m;
            }
        }
        if (ok)
            set_str(L, &L->s->version, t, v->len, v->pos);
        else
            err(L, v->pos, "version '%.20s' is not supported (supported: %s)", t, supported);
    }
    pp(L, o);
}

static void *parse_list(struct ld *L, const struct arca_ynode *root, const char *key, size_t size,
                        size_t *count, item_fn fn)
{
    const struct arca_ynode *n = arca_ynode_get(root, key);
    *count = 0;
    if (n == NULL || arca_ynode_is_null(n))
        return NULL; /* "services:" with nothing after it: an empty list */
    size_t o = pk(L, key);
    void *arr = parse_seq(L, n, "a list", size, count, fn, NULL);
    pp(L, o);
    return arr;
}

static void svc_fn(struct ld *L, const struct arca_ynode *n, void *base, size_t i, void *ctx)
{
    (void)ctx;
    parse_service(L, n, (struct arca_service *)base + i);
}

static void sec_fn(struct ld *L, const struct arca_ynode *n, void *base, size_t i, void *ctx)
{
    (void)ctx;
    parse_secret(L, n, (struct arca_secret *)base + i);
}

static void img_fn(struct ld *L, const struct arca_ynode *n, void *base, size_t i, void *ctx)
{
    (void)ctx;
    parse_image(L, n, (struct arca_image *)base + i);
}

static void vol_fn(struct ld *L, const struct arca_ynode *n, void *base, size_t i, void *ctx)
{
    (void)ctx;
    parse_volume(L, n, (struct arca_volume *)base + i);
}

/* ---- cross checks -------------------------------------------------------------------------- */

static void check_unique(struct ld *L, const char *list, const struct arca_str *first, size_t n,
                         size_t stride)
{
    for (size_t i = 0; i < n; i++) {
        const struct arca_str *a = (const struct arca_str *)((const char *)first + i * stride);
        for (size_t j = 0; a->s != NULL && j < i; j++) {
            const struct arca_str *b = (const struct arca_str *)((const char *)first + j * stride);
            if (b->s != NULL && strcmp(a->s, b->s) == 0) {
                size_t o = pk(L, list);
                size_t oi = pi(L, i);
                err(L, a->pos, "name '%.128s' is used twice (first at line %u)", a->s, b->pos.line);
                pp(L, oi);
                pp(L, o);
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
        err(c->L, c->pos, "bad placeholder: %s", p->detail);
    else if (p->rc == ARCA_ERR_NOT_FOUND)
        err(c->L, c->pos, "placeholder '$$SCONE::%.*s$$' names no secret of this session", n,
            p->name);
    else
        err(c->L, c->pos, "placeholder for %s secret '%.*s': %s", arca_secret_kind_name(p->kind), n,
            p->name, p->detail);
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
        err(L, ref->pos, "%s '%.128s' is not a secret of this session", what, ref->s);
    else if (t->kind != want && t->kind != ARCA_SECRET_NONE)
        err(L, ref->pos, "%s '%.128s' is a %s secret, expected %s", what, ref->s,
            arca_secret_kind_name(t->kind), arca_secret_kind_name(want));
}

static void check_key32_secret(struct ld *L, const struct arca_key32_ref *k, const char *what)
{
    if (!k->set || k->literal)
        return;
    const struct arca_secret *t = arca_session_find_secret(L->s, k->secret.s);
    if (t == NULL) {
        err(L, k->pos, "%s placeholder names no secret '%.128s' of this session", what,
            k->secret.s);
        return;
    }
    if (t->kind != ARCA_SECRET_BINARY && t->kind != ARCA_SECRET_NONE) {
        err(L, k->pos, "%s must be a binary secret, '%s' is %s", what, t->name.s,
            arca_secret_kind_name(t->kind));
        return;
    }
    size_t sz = t->value_bytes_len ? t->value_bytes_len : t->size;
    if (t->kind == ARCA_SECRET_BINARY && t->import_from.session.s == NULL && sz != 32)
        err(L, k->pos, "%s secret '%s' has %zu bytes, 32 are needed", what, t->name.s, sz);
}

/* Access-policy placeholders name a secret of this session (its value is read at check time). */
static void check_ap_secrets(struct ld *L, const struct arca_ap_node *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (v[i].kind == ARCA_AP_SECRET && arca_session_find_secret(L->s, v[i].secret.s) == NULL)
            err(L, v[i].pos, "placeholder '$$SCONE::%.128s$$' names no secret of this session",
                v[i].secret.s);
        check_ap_secrets(L, v[i].children, v[i].n_children);
    }
}

static void check_cross(struct ld *L)
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

    for (size_t i = 0; i < s->n_secrets; i++) {
        struct arca_secret *x = &s->secrets[i];
        size_t o = pk(L, "secrets");
        size_t oi = pi(L, i);
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
                err(L, x->issuer.pos, "the issuer chain of '%s' has a cycle", x->name.s);
        }
        if (x->provided_by.s != NULL && arca_session_find_service(s, x->provided_by.s) == NULL)
            err(L, x->provided_by.pos, "provided_by '%.128s' is not a service of this session",
                x->provided_by.s);
        pp(L, oi);
        pp(L, o);
    }
    for (size_t i = 0; i < s->n_services; i++) {
        struct arca_service *v = &s->services[i];
        size_t o = pk(L, "services");
        size_t oi = pi(L, i);
        if (v->image_name.s != NULL && arca_session_find_image(s, v->image_name.s) == NULL) {
            size_t ok = pk(L, "image_name");
            err(L, v->image_name.pos, "image '%.128s' is not defined in images", v->image_name.s);
            pp(L, ok);
        }
        if (v->n_variants == 0 && s->security.mode != ARCA_ATT_MODE_NONE)
            err(L, v->pos,
                "service '%s' has no attestation variant (give attestation: with "
                "mrenclave, signer, tdx, snp or simulation, or set "
                "security.attestation.mode: none)",
                v->name.s ? v->name.s : "?");
        size_t ok = pk(L, "command");
        if (v->command.s != NULL)
            check_placeholders(L, v->command.s, v->command.len, v->command.pos);
        else
            for (size_t j = 0; j < v->argc; j++)
                check_placeholders(L, v->argv[j].s, v->argv[j].len, v->argv[j].pos);
        pp(L, ok);
        for (size_t j = 0; j < v->n_env; j++) {
            size_t oe = pk(L, "environment");
            size_t oe2 = pk(L, v->env[j].name.s ? v->env[j].name.s : "?");
            check_placeholders(L, v->env[j].value.s, v->env[j].value.len, v->env[j].value.pos);
            pp(L, oe2);
            pp(L, oe);
        }
        ok = pk(L, "fspf_key");
        check_key32_secret(L, &v->fspf_key, "fspf_key");
        pp(L, ok);
        ok = pk(L, "one_time_password_shared_secret");
        if (v->otp_secret.s != NULL)
            check_placeholders(L, v->otp_secret.s, v->otp_secret.len, v->otp_secret.pos);
        pp(L, ok);
        for (size_t j = 0; j < v->n_platforms; j++)
            if (!v->platforms[j].literal &&
                arca_session_find_secret(s, v->platforms[j].secret.s) == NULL) {
                size_t op = pk(L, "platforms");
                size_t opi = pi(L, j);
                err(L, v->platforms[j].pos, "placeholder names no secret '%.128s' of this session",
                    v->platforms[j].secret.s);
                pp(L, opi);
                pp(L, op);
            }
        pp(L, oi);
        pp(L, o);
    }
    for (size_t i = 0; i < s->n_images; i++) {
        struct arca_image *im = &s->images[i];
        size_t o = pk(L, "images");
        size_t oi = pi(L, i);
        for (size_t j = 0; j < im->n_volumes; j++)
            if (im->volumes[j].name.s != NULL &&
                arca_session_find_volume(s, im->volumes[j].name.s) == NULL) {
                size_t ov = pk(L, "volumes");
                size_t ovi = pi(L, j);
                err(L, im->volumes[j].name.pos, "volume '%.128s' is not defined in volumes",
                    im->volumes[j].name.s);
                pp(L, ovi);
                pp(L, ov);
            }
        for (size_t j = 0; j < im->n_files; j++)
            if (im->files[j].has_content) {
                size_t of = pk(L, "injection_files");
                size_t ofi = pi(L, j);
                check_placeholders(L, im->files[j].content.s, im->files[j].content.len,
                                   im->files[j].content.pos);
                pp(L, ofi);
                pp(L, of);
            }
        pp(L, oi);
        pp(L, o);
    }
    for (size_t i = 0; i < s->n_volumes; i++) {
        size_t o = pk(L, "volumes");
        size_t oi = pi(L, i);
        check_key32_secret(L, &s->volumes[i].fspf_key, "fspf_key");
        pp(L, oi);
        pp(L, o);
    }
    {
        static const char *const ops[] = {"access_policy.read", "access_policy.update",
                                          "access_policy.create_sessions",
                                          "access_policy.list_sessions"};
        const struct arca_ap_rule *rules[] = {&s->access.read, &s->access.update,
                                              &s->access.create_sessions, &s->access.list_sessions};
        for (int i = 0; i < 4; i++) {
            if (!rules[i]->written)
                continue; /* a copied default was checked where it was written */
            size_t o = pk(L, ops[i]);
            check_ap_secrets(L, rules[i]->entries, rules[i]->n_entries);
            pp(L, o);
        }
    }
    if (s->security.otp_secret.s != NULL) {
        size_t o = pk(L, "security.attestation.one_time_password_shared_secret");
        check_placeholders(L, s->security.otp_secret.s, s->security.otp_secret.len,
                           s->security.otp_secret.pos);
        pp(L, o);
    }
    if (s->security.service_access_token.s != NULL) {
        size_t o = pk(L, "security.service_access_token");
        check_placeholders(L, s->security.service_access_token.s,
                           s->security.service_access_token.len,
                           s->security.service_access_token.pos);
        pp(L, o);
    }
}

static void parse_secret_config(struct ld *L, const struct arca_ynode *n)
{
    static const char *const keys[] = {"store_in", NULL};
    size_t o = pk(L, "secret_config");
    if (check_keys(L, n, "secret_config", keys, NULL)) {
        const struct arca_ynode *st = arca_ynode_get(n, "store_in");
        if (st != NULL && (st->type != ARCA_YNODE_SCALAR || strcmp(st->text, "!cas") != 0)) {
            size_t os = pk(L, "store_in");
            err(L, st->pos, "store_in must be !cas (the only secret store arca has)");
            pp(L, os);
        }
    }
    pp(L, o);
}

/* Orders errors by position (stable: insertion sort, lists are short). */
static void sort_diags(struct arca_diag_entry *v, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct arca_diag_entry e = v[i];
        size_t j = i;
        while (j > 0 &&
               (v[j - 1].line > e.line || (v[j - 1].line == e.line && v[j - 1].col > e.col))) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = e;
    }
}

int arca_session_load(const char *yaml, size_t len, const char *filename, struct arca_session **out,
                      struct arca_diag *diag)
{
    if (out == NULL || (yaml == NULL && len > 0))
        return arca_err_set(ARCA_ERR_INVALID_ARG, "arca_session_load: bad arguments");
    *out = NULL;
    struct ld L;
    memset(&L, 0, sizeof(L));
    L.file = filename != NULL ? filename : "<input>";
    L.diag = diag;
    size_t diag_start = diag != NULL ? diag->n : 0;
    int rc = arca_ytree_parse(yaml ? yaml : "", len, L.file, &L.root, diag);
    if (rc < 0)
        return (rc == ARCA_ERR_UNSUPPORTED || rc == ARCA_ERR_ALLOC || rc == ARCA_ERR_TOO_LARGE)
                   ? rc
                   : ARCA_ERR_FORMAT;
    L.s = calloc(1, sizeof(*L.s));
    if (L.s == NULL || (L.s->filename = strdup(L.file)) == NULL) {
        arca_ynode_free(L.root);
        free(L.s);
        return ARCA_ERR_ALLOC;
    }
    struct arca_ynode *root = L.root;
    static const char *const top[] = {"name",     "version",       "predecessor", "services",
                                      "secrets",  "images",        "volumes",     "access_policy",
                                      "security", "secret_config", NULL};
    if (!check_keys(&L, root, "the session", top, NULL))
        goto done;
    rc = substitute_fragments(&L);
    if (rc < 0) {
        if (rc == ARCA_ERR_ALLOC)
            L.oom = true;
        else
            err(&L, root->pos, "config-fragment substitution makes the session too large");
        goto done;
    }
    parse_version(&L, root);
    field_str(&L, root, "name", &L.s->name, true);
    check_name(&L, "name", &L.s->name, true);
    const struct arca_ynode *pred = arca_ynode_get(root, "predecessor");
    if (pred != NULL && !arca_ynode_is_null(pred))
        field_hex(&L, root, "predecessor", L.s->predecessor, 32, &L.s->has_predecessor, false);
    L.s->secrets =
        parse_list(&L, root, "secrets", sizeof(struct arca_secret), &L.s->n_secrets, sec_fn);
    L.s->volumes =
        parse_list(&L, root, "volumes", sizeof(struct arca_volume), &L.s->n_volumes, vol_fn);
    L.s->images = parse_list(&L, root, "images", sizeof(struct arca_image), &L.s->n_images, img_fn);
    L.s->services =
        parse_list(&L, root, "services", sizeof(struct arca_service), &L.s->n_services, svc_fn);
    parse_access(&L, arca_ynode_get(root, "access_policy"));
    const struct arca_ynode *sec = arca_ynode_get(root, "security");
    if (sec != NULL)
        parse_security(&L, sec);
    const struct arca_ynode *sc = arca_ynode_get(root, "secret_config");
    if (sc != NULL)
        parse_secret_config(&L, sc);
    if (!L.oom)
        check_cross(&L);
done:
    arca_ynode_free(L.root);
    if (diag != NULL && diag->n > diag_start)
        sort_diags(diag->v + diag_start, diag->n - diag_start);
    if (L.oom) {
        arca_session_free(L.s);
        return ARCA_ERR_ALLOC;
    }
    if (L.errors > 0) {
        arca_session_free(L.s);
        return L.unsupported == L.errors ? ARCA_ERR_UNSUPPORTED : ARCA_ERR_FORMAT;
    }
    *out = L.s;
    return 0;
}

int arca_session_load_file(const char *path, struct arca_session **out, struct arca_diag *diag)
{
    struct arca_pos none = {0, 0};
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        arca_diag_add(diag, path, none, NULL, "cannot open: %s", strerror(errno));
        return ARCA_ERR_IO;
    }
    struct arca_buf b;
    arca_buf_init(&b, ARCA_SESSION_MAX_BYTES + 1);
    char chunk[8192];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if ((rc = arca_buf_put(&b, chunk, n)) < 0)
            break;
    }
    bool ioerr = ferror(f);
    fclose(f);
    if (rc == ARCA_ERR_TOO_LARGE || (rc == 0 && b.len > ARCA_SESSION_MAX_BYTES)) {
        arca_diag_add(diag, path, none, NULL, "the session is larger than %zu bytes",
                      ARCA_SESSION_MAX_BYTES);
        arca_buf_free(&b);
        return ARCA_ERR_TOO_LARGE;
    }
    if (rc < 0 || ioerr) {
        arca_diag_add(diag, path, none, NULL, "cannot read the file");
        arca_buf_free(&b);
        return rc < 0 ? rc : ARCA_ERR_IO;
    }
    rc = arca_session_load((const char *)b.data, b.len, path, out, diag);
    arca_buf_free(&b);
    return rc;
}
