/*
 * A session's secret values: the set, the placeholder renderer over it, and its binary
 * serialisation for the sealed store (format in docs/internals/secrets.md).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "base/err.h"
#include "policy/placeholder.h"
#include "secrets/secrets_internal.h"

int arca_secret_set_new(struct arca_secret_set **out)
{
    ARCA_ENSURE_REF(out);
    struct arca_secret_set *s = calloc(1, sizeof(*s));
    if (s == NULL)
        ARCA_BAIL(ARCA_ERR_ALLOC, "secret set: out of memory");
    *out = s;
    return 0;
}

void arca_secret_set_free(struct arca_secret_set *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].name);
        arca_secret_value_free(s->v[i].value);
    }
    free(s->v);
    free(s);
}

static ssize_t set_find(const struct arca_secret_set *s, const char *name, size_t name_len)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->v[i].name_len == name_len && memcmp(s->v[i].name, name, name_len) == 0)
            return (ssize_t)i;
    }
    return -1;
}

static int check_name(const char *name, size_t name_len)
{
    ARCA_ENSURE(name != NULL && name_len > 0, ARCA_ERR_INVALID_ARG, "secret set: empty name");
    ARCA_ENSURE(name_len <= ARCA_SECRET_NAME_MAX, ARCA_ERR_INVALID_ARG,
                "secret set: name longer than %d", ARCA_SECRET_NAME_MAX);
    ARCA_ENSURE(memchr(name, 0, name_len) == NULL, ARCA_ERR_INVALID_ARG,
                "secret set: name contains NUL");
    return 0;
}

int arca_secret_set_add(struct arca_secret_set *s, const char *name, size_t name_len,
                        struct arca_secret_value *v)
{
    ARCA_ENSURE_REF(s);
    ARCA_ENSURE_REF(v);
    ARCA_TRY(check_name(name, name_len));
    if (set_find(s, name, name_len) >= 0)
        ARCA_BAIL(ARCA_ERR_EXISTS, "secret set: '%.*s' is there already", (int)name_len, name);
    ARCA_ENSURE(s->n < ARCA_SECRET_SET_MAX, ARCA_ERR_TOO_LARGE, "secret set: more than %d secrets",
                ARCA_SECRET_SET_MAX);
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        struct arca_secret_entry *grown = realloc(s->v, cap * sizeof(*grown));
        if (grown == NULL)
            ARCA_BAIL(ARCA_ERR_ALLOC, "secret set: out of memory");
        s->v = grown;
        s->cap = cap;
    }
    char *copy = malloc(name_len + 1);
    if (copy == NULL)
        ARCA_BAIL(ARCA_ERR_ALLOC, "secret set: out of memory");
    memcpy(copy, name, name_len);
    copy[name_len] = 0;
    s->v[s->n].name = copy;
    s->v[s->n].name_len = name_len;
    s->v[s->n].value = arca_secret_value_ref(v);
    s->n++;
    return 0;
}

int arca_secret_set_put(struct arca_secret_set *s, const char *name, size_t name_len,
                        struct arca_secret_value *v)
{
    ARCA_ENSURE_REF(s);
    ARCA_ENSURE_REF(v);
    ARCA_TRY(check_name(name, name_len));
    ssize_t i = set_find(s, name, name_len);
    if (i < 0)
        return arca_secret_set_add(s, name, name_len, v);
    arca_secret_value_ref(v);
    arca_secret_value_free(s->v[i].value);
    s->v[i].value = v;
    return 0;
}

struct arca_secret_value *arca_secret_set_get(const struct arca_secret_set *s, const char *name,
                                              size_t name_len)
{
    if (s == NULL || name == NULL)
        return NULL;
    ssize_t i = set_find(s, name, name_len);
    return i < 0 ? NULL : s->v[i].value;
}

size_t arca_secret_set_count(const struct arca_secret_set *s)
{
    return s ? s->n : 0;
}

const char *arca_secret_set_name_at(const struct arca_secret_set *s, size_t i)
{
    return s && i < s->n ? s->v[i].name : NULL;
}

struct arca_secret_value *arca_secret_set_value_at(const struct arca_secret_set *s, size_t i)
{
    return s && i < s->n ? s->v[i].value : NULL;
}

int arca_secret_set_render(void *ctx, const char *name, size_t name_len, const char *format,
                           struct arca_buf *out)
{
    const struct arca_secret_set *s = ctx;
    ARCA_ENSURE_REF(s);
    ARCA_ENSURE_REF(format);
    const struct arca_secret_value *v = arca_secret_set_get(s, name, name_len);
    if (v == NULL)
        ARCA_BAIL(ARCA_ERR_NOT_FOUND, "no value for secret '%.*s'",
                  (int)(name_len > 128 ? 128 : name_len), name ? name : "");
    const char *canonical;
    ARCA_TRY(arca_placeholder_format_check(v->kind, format, strlen(format), &canonical));
    return arca_secret_value_render(v, canonical, out);
}

/* ---- serialisation ------------------------------------------------------------------------- */

static const uint8_t set_magic[8] = {'A', 'R', 'C', 'A', 'S', 'E', 'C', 1};
#define BLOB_MAX ((size_t)1 << 20) /* one key, certificate or value */
#define KNOWN_FLAGS                                                                                \
    (ARCA_SECRET_FLAG_GENERATED | ARCA_SECRET_FLAG_MIGRATE | ARCA_SECRET_FLAG_EXTERNAL)

static int put_blob(struct arca_buf *b, const void *p, size_t n)
{
    ARCA_ENSURE(n <= BLOB_MAX, ARCA_ERR_TOO_LARGE, "secret set: object of %zu bytes", n);
    return arca_buf_put_lv(b, p, n);
}

static int put_cert(struct arca_buf *b, const struct arca_x509 *c)
{
    struct arca_buf der;
    arca_buf_init(&der, BLOB_MAX);
    int rc = arca_x509_to_der(c, &der);
    if (rc == 0)
        rc = put_blob(b, der.data, der.len);
    arca_buf_free(&der);
    return rc;
}

static int put_key(struct arca_buf *b, const struct arca_key *k)
{
    struct arca_buf der;
    arca_buf_init_secret(&der, BLOB_MAX);
    int rc = arca_key_private_der(k, &der);
    if (rc == 0)
        rc = put_blob(b, der.data, der.len);
    arca_buf_free(&der);
    return rc;
}

static int encode_value(struct arca_buf *b, const struct arca_secret_value *v)
{
    ARCA_TRY(arca_buf_put_u8(b, (uint8_t)v->kind));
    ARCA_TRY(arca_buf_put_u8(b, (uint8_t)v->flags));
    switch (v->kind) {
    case ARCA_SECRET_ASCII:
    case ARCA_SECRET_BINARY:
    case ARCA_SECRET_CONFIG_FRAGMENT:
    case ARCA_SECRET_JWT:
    case ARCA_SECRET_PGP_KEY:
        return put_blob(b, v->bytes, v->len);
    case ARCA_SECRET_PRIVATE_KEY:
        return put_key(b, v->key);
    case ARCA_SECRET_X509:
    case ARCA_SECRET_X509_CA:
        ARCA_TRY(put_cert(b, v->cert));
        if (v->key != NULL)
            ARCA_TRY(put_key(b, v->key));
        else
            ARCA_TRY(arca_buf_put_u32be(b, 0));
        ARCA_TRY(arca_buf_put_u8(b, (uint8_t)v->chain_count));
        for (size_t i = 0; i < v->chain_count; i++)
            ARCA_TRY(put_cert(b, v->chain[i]));
        return 0;
    default:
        ARCA_BAIL(ARCA_ERR_INTERNAL, "secret set: cannot encode kind %d", (int)v->kind);
    }
}

int arca_secret_set_encode(const struct arca_secret_set *s, struct arca_buf *out)
{
    ARCA_ENSURE_REF(s);
    ARCA_ENSURE_REF(out);
    struct arca_buf b;
    arca_buf_init_secret(&b, out->max);
    int rc = 0;
    ARCA_GUARD(rc, arca_buf_put(&b, set_magic, sizeof(set_magic)), done);
    ARCA_GUARD(rc, arca_buf_put_u32be(&b, (uint32_t)s->n), done);
    for (size_t i = 0; i < s->n; i++) {
        ARCA_GUARD(rc, arca_buf_put_u16be(&b, (uint16_t)s->v[i].name_len), done);
        ARCA_GUARD(rc, arca_buf_put(&b, s->v[i].name, s->v[i].name_len), done);
        rc = encode_value(&b, s->v[i].value);
        if (rc < 0) {
            arca_err_wrap(rc, "secret set: encoding '%s'", s->v[i].name);
            goto done;
        }
    }
    ARCA_GUARD(rc, arca_buf_put(out, b.data, b.len), done);
done:
    arca_buf_free(&b);
    return rc;
}

/* Reads a u32be length and borrows that many bytes (at most BLOB_MAX). */
static int get_blob(struct arca_cur *c, const uint8_t **p, size_t *n, const char *what)
{
    uint32_t len = 0;
    size_t at = c->off;
    if (arca_cur_get_u32be(c, &len) < 0)
        ARCA_BAIL(ARCA_ERR_TRUNCATED, "secret set: %s length at offset %zu: truncated", what, at);
    if (len > BLOB_MAX)
        ARCA_BAIL(ARCA_ERR_FORMAT, "secret set: %s at offset %zu: %u bytes is too large", what, at,
                  len);
    if (arca_cur_get_ptr(c, p, len) < 0)
        ARCA_BAIL(ARCA_ERR_TRUNCATED, "secret set: %s at offset %zu: %u bytes, %zu left", what, at,
                  len, arca_cur_left(c));
    *n = len;
    return 0;
}

static int get_cert(struct arca_cur *c, struct arca_x509 **out)
{
    const uint8_t *p = NULL;
    size_t n = 0, at = c->off;
    ARCA_TRY(get_blob(c, &p, &n, "certificate"));
    int rc = arca_x509_from_der(p, n, out);
    if (rc < 0)
        return arca_err_wrap(ARCA_ERR_FORMAT, "secret set: certificate at offset %zu", at);
    return 0;
}

/* *out NULL when the blob is empty and optional. */
static int get_key(struct arca_cur *c, bool optional, struct arca_key **out)
{
    const uint8_t *p = NULL;
    size_t n = 0, at = c->off;
    *out = NULL;
    ARCA_TRY(get_blob(c, &p, &n, "private key"));
    if (n == 0 && optional)
        return 0;
    struct arca_key *k = NULL;
    if (arca_key_from_der(p, n, &k) < 0)
        return arca_err_wrap(ARCA_ERR_FORMAT, "secret set: private key at offset %zu", at);
    if (!arca_key_has_private(k)) {
        arca_key_free(k);
        ARCA_BAIL(ARCA_ERR_FORMAT, "secret set: key at offset %zu is not a private key", at);
    }
    *out = k;
    return 0;
}

static int decode_value(struct arca_cur *c, struct arca_secret_value **out)
{
    uint8_t kind = 0, flags = 0;
    size_t at = c->off;
    if (arca_cur_get_u8(c, &kind) < 0 || arca_cur_get_u8(c, &flags) < 0)
        ARCA_BAIL(ARCA_ERR_TRUNCATED, "secret set: value header at offset %zu: truncated", at);
    if ((flags & ~KNOWN_FLAGS) != 0)
        ARCA_BAIL(ARCA_ERR_FORMAT, "secret set: unknown flags 0x%02x at offset %zu", flags, at + 1);
    int rc = 0;
    switch (kind) {
    case ARCA_SECRET_ASCII:
    case ARCA_SECRET_BINARY:
    case ARCA_SECRET_CONFIG_FRAGMENT:
    case ARCA_SECRET_JWT:
    case ARCA_SECRET_PGP_KEY: {
        const uint8_t *p = NULL;
        size_t n = 0;
        ARCA_TRY(get_blob(c, &p, &n, "value"));
        rc = arca_secret_value_new_bytes((enum arca_secret_kind)kind, p, n, flags, out);
        if (rc < 0)
            return arca_err_wrap(ARCA_ERR_FORMAT, "secret set: value at offset %zu", at);
        return 0;
    }
    case ARCA_SECRET_PRIVATE_KEY: {
        struct arca_key *k;
        ARCA_TRY(get_key(c, false, &k));
        rc = arca_secret_value_new_key(k, flags, out);
        arca_key_free(k);
        return rc;
    }
    case ARCA_SECRET_X509:
    case ARCA_SECRET_X509_CA: {
        struct arca_x509 *cert = NULL, *chain[ARCA_SECRET_CHAIN_MAX];
        struct arca_key *key = NULL;
        uint8_t count = 0;
        size_t got = 0;
        ARCA_GUARD(rc, get_cert(c, &cert), x509_done);
        ARCA_GUARD(rc, get_key(c, true, &key), x509_done);
        at = c->off;
        ARCA_GUARD_ENSURE(rc, arca_cur_get_u8(c, &count) == 0, x509_done, ARCA_ERR_TRUNCATED,
                          "secret set: chain count at offset %zu: truncated", at);
        ARCA_GUARD_ENSURE(rc, count <= ARCA_SECRET_CHAIN_MAX, x509_done, ARCA_ERR_FORMAT,
                          "secret set: chain of %u certificates at offset %zu (at most %d)", count,
                          at, ARCA_SECRET_CHAIN_MAX);
        for (got = 0; got < count; got++)
            ARCA_GUARD(rc, get_cert(c, &chain[got]), x509_done);
        rc = arca_secret_value_new_x509((enum arca_secret_kind)kind, cert, key, chain, count, flags,
                                        out);
        if (rc < 0)
            arca_err_wrap(ARCA_ERR_FORMAT, "secret set: certificate value at offset %zu", at);
    x509_done:
        arca_x509_free(cert);
        arca_key_free(key);
        for (size_t i = 0; i < got; i++)
            arca_x509_free(chain[i]);
        return rc < 0 ? rc : 0;
    }
    default:
        ARCA_BAIL(ARCA_ERR_FORMAT, "secret set: unknown kind %u at offset %zu", kind, at);
    }
}

int arca_secret_set_decode(const void *p, size_t n, struct arca_secret_set **out)
{
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(p != NULL || n == 0, ARCA_ERR_INVALID_ARG, "secret set: input is NULL");
    struct arca_cur c;
    arca_cur_init(&c, p, n);
    const uint8_t *magic = NULL;
    if (arca_cur_get_ptr(&c, &magic, sizeof(set_magic)) < 0)
        ARCA_BAIL(ARCA_ERR_TRUNCATED, "secret set: %zu bytes, shorter than the header", n);
    if (memcmp(magic, set_magic, sizeof(set_magic)) != 0)
        ARCA_BAIL(ARCA_ERR_FORMAT, "secret set: bad magic or version at offset 0");
    uint32_t count = 0;
    if (arca_cur_get_u32be(&c, &count) < 0)
        ARCA_BAIL(ARCA_ERR_TRUNCATED, "secret set: count at offset 8: truncated");
    if (count > ARCA_SECRET_SET_MAX)
        ARCA_BAIL(ARCA_ERR_FORMAT, "secret set: %u secrets (at most %d)", count,
                  ARCA_SECRET_SET_MAX);
    struct arca_secret_set *s = NULL;
    ARCA_TRY(arca_secret_set_new(&s));
    int rc = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint16_t name_len = 0;
        const uint8_t *name = NULL;
        size_t at = c.off;
        ARCA_GUARD_ENSURE(rc,
                          arca_cur_get_u16be(&c, &name_len) == 0 &&
                              arca_cur_get_ptr(&c, &name, name_len) == 0,
                          fail, ARCA_ERR_TRUNCATED,
                          "secret set: name of entry %u at offset %zu: "
                          "truncated",
                          i, at);
        ARCA_GUARD_ENSURE(rc,
                          name_len > 0 && name_len <= ARCA_SECRET_NAME_MAX &&
                              memchr(name, 0, name_len) == NULL,
                          fail, ARCA_ERR_FORMAT,
                          "secret set: entry %u at offset %zu: invalid name (empty, too long or "
                          "with NUL; length %u)",
                          i, at, name_len);
        ARCA_GUARD_ENSURE(rc, set_find(s, (const char *)name, name_len) < 0, fail, ARCA_ERR_FORMAT,
                          "secret set: entry %u at offset %zu: duplicate name", i, at);
        struct arca_secret_value *v = NULL;
        ARCA_GUARD(rc, decode_value(&c, &v), fail);
        rc = arca_secret_set_add(s, (const char *)name, name_len, v);
        arca_secret_value_free(v);
        if (rc < 0)
            goto fail;
    }
    ARCA_GUARD_ENSURE(rc, arca_cur_done(&c), fail, ARCA_ERR_FORMAT,
                      "secret set: %zu trailing bytes at offset %zu", arca_cur_left(&c), c.off);
    *out = s;
    return 0;
fail:
    arca_secret_set_free(s);
    return rc;
}
