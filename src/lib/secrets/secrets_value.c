/*
 * One secret value: construction, rendering in placeholder formats, explicit-value parsing.
 */
#include <stdlib.h>
#include <string.h>

#include "base/enc.h"
#include "base/err.h"
#include "policy/placeholder.h"
#include "policy/session.h" /* arca_secret_kind_name */
#include "secrets/secrets_internal.h"

static struct arca_secret_value *value_alloc(enum arca_secret_kind kind, unsigned flags)
{
    struct arca_secret_value *v = calloc(1, sizeof(*v));
    if (v == NULL)
        return NULL;
    v->refs = 1;
    v->kind = kind;
    v->flags = flags;
    return v;
}

int arca_secret_value_new_bytes(enum arca_secret_kind kind, const void *p, size_t n, unsigned flags,
                                struct arca_secret_value **out)
{
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(p != NULL || n == 0, ARCA_ERR_INVALID_ARG, "secret value: bytes are NULL");
    /* a config-fragment travels (exports, imports) as the JSON text of its value */
    ARCA_ENSURE(kind == ARCA_SECRET_ASCII || kind == ARCA_SECRET_BINARY ||
                    kind == ARCA_SECRET_CONFIG_FRAGMENT || kind == ARCA_SECRET_JWT ||
                    kind == ARCA_SECRET_PGP_KEY,
                ARCA_ERR_INVALID_ARG, "secret value: kind %s does not hold bytes",
                arca_secret_kind_name(kind));
    ARCA_ENSURE(n <= ARCA_SECRET_SIZE_MAX, ARCA_ERR_TOO_LARGE,
                "secret value: %zu bytes is more than the limit %u", n, ARCA_SECRET_SIZE_MAX);
    if (kind != ARCA_SECRET_BINARY && kind != ARCA_SECRET_PGP_KEY && n > 0 &&
        memchr(p, 0, n) != NULL)
        ARCA_BAIL(ARCA_ERR_FORMAT, "%s secret value contains a NUL byte",
                  arca_secret_kind_name(kind));
    struct arca_secret_value *v = value_alloc(kind, flags);
    if (v == NULL)
        ARCA_BAIL(ARCA_ERR_ALLOC, "secret value: out of memory");
    /* One spare byte so that ascii values are also C strings. */
    v->bytes = malloc(n + 1);
    if (v->bytes == NULL) {
        free(v);
        ARCA_BAIL(ARCA_ERR_ALLOC, "secret value: out of memory");
    }
    if (n > 0)
        memcpy(v->bytes, p, n);
    v->bytes[n] = 0;
    v->len = n;
    *out = v;
    return 0;
}

int arca_secret_value_new_key(struct arca_key *key, unsigned flags, struct arca_secret_value **out)
{
    ARCA_ENSURE_REF(key);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(arca_key_has_private(key), ARCA_ERR_INVALID_ARG,
                "private-key secret: the key has no private part");
    struct arca_secret_value *v = value_alloc(ARCA_SECRET_PRIVATE_KEY, flags);
    if (v == NULL)
        ARCA_BAIL(ARCA_ERR_ALLOC, "secret value: out of memory");
    v->key = arca_key_ref(key);
    *out = v;
    return 0;
}

/* 0 if key is the private key of cert's public key. */
static int key_matches_cert(const struct arca_key *key, const struct arca_x509 *cert)
{
    uint8_t a[ARCA_SHA256_LEN], b[ARCA_SHA256_LEN];
    ARCA_TRY(arca_key_id(key, a));
    ARCA_TRY(arca_x509_key_id(cert, b));
    if (!arca_memeq(a, b, sizeof(a)))
        ARCA_BAIL(ARCA_ERR_FORMAT, "the private key does not belong to the certificate");
    return 0;
}

int arca_secret_value_new_x509(enum arca_secret_kind kind, struct arca_x509 *cert,
                               struct arca_key *key, struct arca_x509 *const *chain,
                               size_t chain_count, unsigned flags, struct arca_secret_value **out)
{
    ARCA_ENSURE_REF(cert);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(kind == ARCA_SECRET_X509 || kind == ARCA_SECRET_X509_CA, ARCA_ERR_INVALID_ARG,
                "secret value: kind %s does not hold a certificate", arca_secret_kind_name(kind));
    ARCA_ENSURE(chain != NULL || chain_count == 0, ARCA_ERR_INVALID_ARG,
                "secret value: chain is NULL");
    ARCA_ENSURE(chain_count <= ARCA_SECRET_CHAIN_MAX, ARCA_ERR_TOO_LARGE,
                "secret value: chain of %zu certificates is longer than %d", chain_count,
                ARCA_SECRET_CHAIN_MAX);
    if (key != NULL) {
        ARCA_ENSURE(arca_key_has_private(key), ARCA_ERR_INVALID_ARG,
                    "x509 secret: the key has no private part");
        ARCA_TRY(key_matches_cert(key, cert));
    }
    struct arca_secret_value *v = value_alloc(kind, flags);
    if (v == NULL)
        ARCA_BAIL(ARCA_ERR_ALLOC, "secret value: out of memory");
    if (chain_count > 0) {
        v->chain = calloc(chain_count, sizeof(*v->chain));
        if (v->chain == NULL) {
            free(v);
            ARCA_BAIL(ARCA_ERR_ALLOC, "secret value: out of memory");
        }
        for (size_t i = 0; i < chain_count; i++)
            v->chain[i] = arca_x509_ref(chain[i]);
        v->chain_count = chain_count;
    }
    v->cert = arca_x509_ref(cert);
    v->key = key ? arca_key_ref(key) : NULL;
    *out = v;
    return 0;
}

struct arca_secret_value *arca_secret_value_ref(struct arca_secret_value *v)
{
    if (v != NULL)
        v->refs++;
    return v;
}

void arca_secret_value_free(struct arca_secret_value *v)
{
    if (v == NULL || --v->refs > 0)
        return;
    if (v->bytes != NULL)
        arca_wipe_free(v->bytes, v->len + 1);
    arca_key_free(v->key);
    arca_x509_free(v->cert);
    for (size_t i = 0; i < v->chain_count; i++)
        arca_x509_free(v->chain[i]);
    free(v->chain);
    arca_wipe(v, sizeof(*v));
    free(v);
}

enum arca_secret_kind arca_secret_value_kind(const struct arca_secret_value *v)
{
    return v ? v->kind : ARCA_SECRET_NONE;
}

unsigned arca_secret_value_flags(const struct arca_secret_value *v)
{
    return v ? v->flags : 0;
}

const uint8_t *arca_secret_value_bytes(const struct arca_secret_value *v, size_t *len)
{
    if (v == NULL || (v->kind != ARCA_SECRET_ASCII && v->kind != ARCA_SECRET_BINARY &&
                      v->kind != ARCA_SECRET_CONFIG_FRAGMENT && v->kind != ARCA_SECRET_JWT &&
                      v->kind != ARCA_SECRET_PGP_KEY)) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = v->len;
    return v->bytes;
}

struct arca_key *arca_secret_value_key(const struct arca_secret_value *v)
{
    return v ? v->key : NULL;
}

struct arca_x509 *arca_secret_value_cert(const struct arca_secret_value *v)
{
    return v ? v->cert : NULL;
}

struct arca_x509 *const *arca_secret_value_chain(const struct arca_secret_value *v, size_t *count)
{
    if (count)
        *count = v ? v->chain_count : 0;
    return v ? v->chain : NULL;
}

/* ---- rendering ----------------------------------------------------------------------------- */

static bool is_x509(const struct arca_secret_value *v)
{
    return v->kind == ARCA_SECRET_X509 || v->kind == ARCA_SECRET_X509_CA;
}

static int render_into(const struct arca_secret_value *v, const char *f, struct arca_buf *tmp)
{
    bool bytes = v->kind == ARCA_SECRET_ASCII || v->kind == ARCA_SECRET_BINARY;
    if ((v->kind == ARCA_SECRET_ASCII || v->kind == ARCA_SECRET_JWT) && strcmp(f, "plain") == 0)
        return arca_buf_put(tmp, v->bytes, v->len);
    if (v->kind == ARCA_SECRET_BINARY && bytes) {
        if (strcmp(f, "bin") == 0)
            return arca_buf_put(tmp, v->bytes, v->len);
        if (strcmp(f, "hex") == 0)
            return arca_hex_encode(tmp, v->bytes, v->len);
        if (strcmp(f, "base64") == 0)
            return arca_base64_encode(tmp, v->bytes, v->len);
        if (strcmp(f, "base64url") == 0)
            return arca_base64url_encode(tmp, v->bytes, v->len);
        if (strcmp(f, "base32") == 0)
            return arca_base32_encode(tmp, v->bytes, v->len, true);
        if (strcmp(f, "base32nopad") == 0)
            return arca_base32_encode(tmp, v->bytes, v->len, false);
    }
    if (v->kind == ARCA_SECRET_PGP_KEY)
        return arca_secret_pgp_render(v, f, tmp);
    if (v->kind == ARCA_SECRET_PRIVATE_KEY) {
        if (strcmp(f, "pkcs8:pem") == 0)
            return arca_key_private_pem(v->key, tmp);
        if (strcmp(f, "pkcs8:der") == 0)
            return arca_key_private_der(v->key, tmp);
    }
    if (is_x509(v)) {
        if (strcmp(f, "crt:pem") == 0)
            return arca_x509_to_pem(v->cert, tmp);
        if (strcmp(f, "crt:der") == 0)
            return arca_x509_to_der(v->cert, tmp);
        if (strcmp(f, "chain") == 0) {
            for (size_t i = 0; i < v->chain_count; i++)
                ARCA_TRY(arca_x509_to_pem(v->chain[i], tmp));
            return 0;
        }
        if (strcmp(f, "legacy-chain") == 0) {
            /* The v0.2 form: root first, down to and including the leaf. */
            for (size_t i = v->chain_count; i > 0; i--)
                ARCA_TRY(arca_x509_to_pem(v->chain[i - 1], tmp));
            return arca_x509_to_pem(v->cert, tmp);
        }
        bool wants_key =
            strncmp(f, "privatekey:", 11) == 0 || strcmp(f, "pkcs12-with-private-key") == 0;
        if (wants_key && v->key == NULL)
            ARCA_BAIL(ARCA_ERR_NOT_FOUND,
                      "the certificate's private key is not available (imported or explicit "
                      "without its key)");
        if (strcmp(f, "privatekey:pkcs8:pem") == 0)
            return arca_key_private_pem(v->key, tmp);
        if (strcmp(f, "privatekey:pkcs8:der") == 0)
            return arca_key_private_der(v->key, tmp);
        if (strcmp(f, "pkcs12-with-private-key") == 0)
            return arca_pkcs12_build(v->key, v->cert, (const struct arca_x509 *const *)v->chain,
                                     v->chain_count, "", tmp);
    }
    ARCA_BAIL(ARCA_ERR_FORMAT, "format \"%.32s\" does not apply to a %s secret", f,
              arca_secret_kind_name(v->kind));
}

int arca_secret_value_render(const struct arca_secret_value *v, const char *format,
                             struct arca_buf *out)
{
    ARCA_ENSURE_REF(v);
    ARCA_ENSURE_REF(format);
    ARCA_ENSURE_REF(out);
    /* Render aside, then append in one step: out stays unchanged on failure. */
    struct arca_buf tmp;
    arca_buf_init_secret(&tmp, 0);
    int rc = render_into(v, format, &tmp);
    if (rc == 0)
        rc = arca_buf_put(out, tmp.data, tmp.len);
    arca_buf_free(&tmp);
    return rc;
}

/* ---- explicit values ---------------------------------------------------------------------- */

struct pem_block {
    const char *label;
    size_t label_len;
    const char *start; /* "-----BEGIN" */
    size_t len;        /* through the END line */
};

/* Finds the next PEM block in p[*off..n); 1 found, 0 none left, <0 malformed. */
static int pem_next(const char *p, size_t n, size_t *off, struct pem_block *b)
{
    static const char begin[] = "-----BEGIN ";
    static const char end[] = "-----END ";
    const char *s = NULL;
    for (size_t i = *off; i + sizeof(begin) - 1 <= n; i++) {
        if (memcmp(p + i, begin, sizeof(begin) - 1) == 0) {
            s = p + i;
            break;
        }
    }
    if (s == NULL) {
        /* Only whitespace may remain. */
        for (size_t i = *off; i < n; i++) {
            if (p[i] != ' ' && p[i] != '\n' && p[i] != '\r' && p[i] != '\t')
                ARCA_BAIL(ARCA_ERR_FORMAT, "text outside PEM blocks at offset %zu", i);
        }
        *off = n;
        return 0;
    }
    for (const char *q = p + *off; q < s; q++) {
        if (*q != ' ' && *q != '\n' && *q != '\r' && *q != '\t')
            ARCA_BAIL(ARCA_ERR_FORMAT, "text outside PEM blocks at offset %zu", (size_t)(q - p));
    }
    const char *label = s + sizeof(begin) - 1;
    const char *rest = p + n;
    const char *dash = label;
    while (dash < rest && *dash != '-' && *dash != '\n')
        dash++;
    if (dash + 5 > rest || memcmp(dash, "-----", 5) != 0)
        ARCA_BAIL(ARCA_ERR_FORMAT, "malformed PEM BEGIN line at offset %zu", (size_t)(s - p));
    size_t label_len = (size_t)(dash - label);
    /* Find "-----END <label>-----". */
    const char *e = dash + 5;
    for (;; e++) {
        if (e + sizeof(end) - 1 + label_len + 5 > rest)
            ARCA_BAIL(ARCA_ERR_FORMAT, "PEM block at offset %zu has no END line", (size_t)(s - p));
        if (memcmp(e, end, sizeof(end) - 1) == 0 &&
            memcmp(e + sizeof(end) - 1, label, label_len) == 0 &&
            memcmp(e + sizeof(end) - 1 + label_len, "-----", 5) == 0)
            break;
    }
    const char *stop = e + sizeof(end) - 1 + label_len + 5;
    b->label = label;
    b->label_len = label_len;
    b->start = s;
    b->len = (size_t)(stop - s);
    *off = (size_t)(stop - p);
    return 1;
}

static bool label_is(const struct pem_block *b, const char *s)
{
    return b->label_len == strlen(s) && memcmp(b->label, s, b->label_len) == 0;
}

static int parse_x509_value(enum arca_secret_kind kind, const char *value, size_t len,
                            struct arca_key *ref_key, struct arca_secret_value **out)
{
    struct arca_x509 *certs[1 + ARCA_SECRET_CHAIN_MAX];
    size_t ncerts = 0;
    struct arca_key *key = NULL;
    size_t off = 0;
    int rc = 0;
    for (;;) {
        struct pem_block b = {0};
        int found = pem_next(value, len, &off, &b);
        ARCA_GUARD(rc, found, done);
        if (found == 0)
            break;
        if (label_is(&b, "CERTIFICATE")) {
            ARCA_GUARD_ENSURE(rc, ncerts < 1 + ARCA_SECRET_CHAIN_MAX, done, ARCA_ERR_TOO_LARGE,
                              "more than %d certificates", 1 + ARCA_SECRET_CHAIN_MAX);
            ARCA_GUARD(rc, arca_x509_from_pem(b.start, b.len, &certs[ncerts]), done);
            ncerts++;
        } else if (label_is(&b, "PRIVATE KEY") || label_is(&b, "EC PRIVATE KEY") ||
                   label_is(&b, "RSA PRIVATE KEY")) {
            ARCA_GUARD_ENSURE(rc, key == NULL, done, ARCA_ERR_FORMAT, "more than one private key");
            ARCA_GUARD(rc, arca_key_from_pem(b.start, b.len, &key), done);
        } else {
            rc = arca_err_set(ARCA_ERR_FORMAT,
                              "unexpected PEM block \"%.*s\" (want CERTIFICATE "
                              "and optionally PRIVATE KEY)",
                              (int)(b.label_len > 40 ? 40 : b.label_len), b.label);
            goto done;
        }
    }
    ARCA_GUARD_ENSURE(rc, ncerts > 0, done, ARCA_ERR_FORMAT, "no CERTIFICATE PEM block");
    if (key != NULL && ref_key != NULL) {
        /* Both given: they must be the same key. */
        uint8_t a[ARCA_SHA256_LEN], b2[ARCA_SHA256_LEN];
        ARCA_GUARD(rc, arca_key_id(key, a), done);
        ARCA_GUARD(rc, arca_key_id(ref_key, b2), done);
        ARCA_GUARD_ENSURE(rc, arca_memeq(a, b2, sizeof(a)), done, ARCA_ERR_FORMAT,
                          "the PEM's private key differs from the private_key secret");
    }
    ARCA_GUARD(rc,
               arca_secret_value_new_x509(kind, certs[0], key ? key : ref_key, certs + 1,
                                          ncerts - 1, 0, out),
               done);
done:
    for (size_t i = 0; i < ncerts; i++)
        arca_x509_free(certs[i]);
    arca_key_free(key);
    return rc;
}

int arca_secret_value_parse(const char *name, enum arca_secret_kind kind, const char *value,
                            size_t len, struct arca_key *key, struct arca_secret_value **out)
{
    ARCA_ENSURE_REF(name);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(value != NULL || len == 0, ARCA_ERR_INVALID_ARG, "secret '%s': value is NULL",
                name);
    int rc;
    switch (kind) {
    case ARCA_SECRET_ASCII:
        rc = arca_secret_value_new_bytes(kind, value, len, 0, out);
        break;
    case ARCA_SECRET_BINARY: {
        struct arca_buf b;
        arca_buf_init_secret(&b, ARCA_SECRET_SIZE_MAX);
        rc = arca_hex_decode(&b, value, len);
        if (rc == 0)
            rc = arca_secret_value_new_bytes(kind, b.data, b.len, 0, out);
        arca_buf_free(&b);
        if (rc < 0)
            return arca_err_wrap(rc, "secret '%s': explicit binary value (hex)", name);
        return 0;
    }
    case ARCA_SECRET_PRIVATE_KEY: {
        struct arca_key *k = NULL;
        rc = arca_key_from_pem(value, len, &k);
        if (rc == 0 && !arca_key_has_private(k))
            rc = arca_err_set(ARCA_ERR_FORMAT, "the PEM holds a public key, not a private key");
        if (rc == 0)
            rc = arca_secret_value_new_key(k, 0, out);
        arca_key_free(k);
        break;
    }
    case ARCA_SECRET_X509:
    case ARCA_SECRET_X509_CA:
        rc = parse_x509_value(kind, value, len, key, out);
        break;
    default:
        return arca_err_set(ARCA_ERR_UNSUPPORTED,
                            "secret '%s': explicit values of kind %s are not handled here", name,
                            arca_secret_kind_name(kind));
    }
    if (rc < 0)
        return arca_err_wrap(rc, "secret '%s': explicit %s value", name,
                             arca_secret_kind_name(kind));
    return 0;
}
