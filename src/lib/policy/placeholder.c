/*
 * The placeholder engine (session language §1.3): scanning, format normalisation per kind,
 * JSON escaping and expansion. Nothing here sees secret kinds or values directly: values come
 * from a render callback, so this file can be fuzzed without any secret engine.
 */
#include "policy/placeholder.h"

#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "policy/session.h"

#define PH_OPEN "$$SCONE:"
#define PH_OPEN_LEN 8 /* "$$SCONE:" ; a second ':' must follow */
#define PH_NAME_MAX 512
#define PH_ESCAPE_JSON "escape(json)"

static bool is_name_char(unsigned char c)
{
    /* RFC 3986 "unreserved", as the language's name rule. */
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == '~';
}

static bool is_format_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
}

/* Finds "$$" in text[from..len); returns its offset or len if none. */
static size_t find_dollars(const char *text, size_t len, size_t from)
{
    for (size_t i = from; i + 1 < len; i++) {
        if (text[i] == '$' && text[i + 1] == '$')
            return i;
    }
    return len;
}

static bool has_prefix(const char *p, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && memcmp(p, prefix, k) == 0;
}

static const char *const legacy_suffixes[] = {".hex", ".crt", ".key", ".chain"};

int arca_placeholder_next(const char *text, size_t len, size_t *pos, struct arca_placeholder *out)
{
    ARCA_ENSURE_REF(pos);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(text != NULL || len == 0, ARCA_ERR_INVALID_ARG, "placeholder: text is NULL");
    if (*pos > len)
        ARCA_BAIL(ARCA_ERR_INVALID_ARG, "placeholder: position %zu past the end (%zu)", *pos, len);

    /* Find the next "$$SCONE:" (the single-colon typo form is caught below, not skipped). */
    size_t start = *pos;
    for (;;) {
        start = find_dollars(text, len, start);
        if (start >= len)
            return 0;
        if (has_prefix(text + start, len - start, PH_OPEN))
            break;
        start += 1;
    }
    size_t body = start + PH_OPEN_LEN;
    if (body >= len || text[body] != ':')
        ARCA_BAIL(ARCA_ERR_FORMAT,
                  "placeholder at offset %zu: write $$SCONE::name$$ (two colons after SCONE)",
                  start);
    body += 1;

    size_t close = find_dollars(text, len, body);
    if (close >= len)
        ARCA_BAIL(ARCA_ERR_FORMAT, "placeholder at offset %zu: no closing \"$$\"", start);
    size_t blen = close - body;
    const char *b = text + body;

    /* A "$$SCONE::" right after the closing "$$" of an incomplete placeholder is nesting. */
    bool followed = has_prefix(text + close + 2, len - close - 2, "SCONE::");
    if (followed && (blen == 0 || b[blen - 1] == ':' || b[blen - 1] == '|'))
        ARCA_BAIL(ARCA_ERR_FORMAT, "placeholder at offset %zu: nested placeholders are not allowed",
                  start);

    /* Split off "|encoding". */
    size_t main_len = blen;
    bool escape_json = false;
    const char *bar = memchr(b, '|', blen);
    if (bar != NULL) {
        main_len = (size_t)(bar - b);
        size_t enc_len = blen - main_len - 1;
        if (enc_len != strlen(PH_ESCAPE_JSON) || memcmp(bar + 1, PH_ESCAPE_JSON, enc_len) != 0)
            ARCA_BAIL(ARCA_ERR_FORMAT,
                      "placeholder at offset %zu: unknown encoding after '|' (only escape(json) "
                      "is supported)",
                      start);
        escape_json = true;
    }

    /* Name up to the first ':'. */
    const char *colon = memchr(b, ':', main_len);
    size_t name_len = colon ? (size_t)(colon - b) : main_len;
    if (name_len == 0)
        ARCA_BAIL(ARCA_ERR_FORMAT, "placeholder at offset %zu: empty secret name", start);
    if (name_len > PH_NAME_MAX)
        ARCA_BAIL(ARCA_ERR_FORMAT, "placeholder at offset %zu: secret name longer than %d", start,
                  PH_NAME_MAX);
    for (size_t i = 0; i < name_len; i++) {
        if (!is_name_char((unsigned char)b[i]))
            ARCA_BAIL(ARCA_ERR_FORMAT,
                      "placeholder at offset %zu: invalid character at offset %zu in the secret "
                      "name (allowed: A-Z a-z 0-9 _ - . ~)",
                      start, body + i);
    }

    const char *format = "";
    size_t format_len = 0;
    bool legacy = false;
    if (colon != NULL) {
        format = colon + 1;
        format_len = main_len - name_len - 1;
        if (format_len == 0)
            ARCA_BAIL(ARCA_ERR_FORMAT, "placeholder at offset %zu: empty format after ':'", start);
        if (format_len > ARCA_PLACEHOLDER_FORMAT_MAX)
            ARCA_BAIL(ARCA_ERR_FORMAT, "placeholder at offset %zu: format longer than %d", start,
                      ARCA_PLACEHOLDER_FORMAT_MAX);
        for (size_t i = 0; i < format_len; i++) {
            unsigned char c = (unsigned char)format[i];
            if (c == ':' && (i == 0 || i + 1 == format_len || format[i - 1] == ':'))
                ARCA_BAIL(ARCA_ERR_FORMAT, "placeholder at offset %zu: empty sub-format", start);
            if (c != ':' && !is_format_char(c))
                ARCA_BAIL(ARCA_ERR_FORMAT,
                          "placeholder at offset %zu: invalid character at offset %zu in the "
                          "format",
                          start, (size_t)(format + i - text));
        }
    } else {
        for (size_t i = 0; i < sizeof(legacy_suffixes) / sizeof(legacy_suffixes[0]); i++) {
            size_t sl = strlen(legacy_suffixes[i]);
            if (name_len > sl && memcmp(b + name_len - sl, legacy_suffixes[i], sl) == 0) {
                format = b + name_len - sl;
                format_len = sl;
                name_len -= sl;
                legacy = true;
                break;
            }
        }
    }

    out->start = start;
    out->end = close + 2;
    out->name = b;
    out->name_len = name_len;
    out->format = format;
    out->format_len = format_len;
    out->escape_json = escape_json;
    out->legacy_suffix = legacy;
    *pos = close + 2;
    return 1;
}

/* ---- formats ----------------------------------------------------------------------------- */

struct format_alias {
    const char *written;
    const char *canonical;
};

static const struct format_alias ascii_formats[] = {
    {"", "plain"},
    {NULL, NULL},
};
static const struct format_alias binary_formats[] = {
    {"", "bin"},          {"bin", "bin"},
    {"hex", "hex"},       {".hex", "hex"},
    {"base64", "base64"}, {"base64url", "base64url"},
    {"base32", "base32"}, {"base32nopad", "base32nopad"},
    {NULL, NULL},
};
static const struct format_alias key_formats[] = {
    {"", "pkcs8:pem"},    {"pem", "pkcs8:pem"},       {"pkcs8:pem", "pkcs8:pem"},
    {"der", "pkcs8:der"}, {"pkcs8:der", "pkcs8:der"}, {NULL, NULL},
};
static const struct format_alias x509_formats[] = {
    {"", "crt:pem"},
    {"crt", "crt:pem"},
    {"crt:pem", "crt:pem"},
    {"crt:der", "crt:der"},
    {".crt", "crt:pem"},
    {"privatekey", "privatekey:pkcs8:pem"},
    {"privatekey:pem", "privatekey:pkcs8:pem"},
    {"privatekey:pkcs8:pem", "privatekey:pkcs8:pem"},
    {"privatekey:der", "privatekey:pkcs8:der"},
    {"privatekey:pkcs8:der", "privatekey:pkcs8:der"},
    {".key", "privatekey:pkcs8:pem"},
    {"chain", "chain"},
    {".chain", "legacy-chain"},
    {"pkcs12-with-private-key", "pkcs12-with-private-key"},
    {NULL, NULL},
};
/* pgp-key: the docs' six forms; the bare name gives the public key, so that a forgotten
 * format never hands out the secret part. */
static const struct format_alias pgp_formats[] = {
    {"", "publickey:asciiarmored"},
    {"publickey:asciiarmored", "publickey:asciiarmored"},
    {"publickey:binary", "publickey:binary"},
    {"publickey:base64", "publickey:base64"},
    {"privatekey:asciiarmored", "privatekey:asciiarmored"},
    {"privatekey:binary", "privatekey:binary"},
    {"privatekey:base64", "privatekey:base64"},
    {NULL, NULL},
};
static const struct format_alias fragment_formats[] = {
    {"", "fragment"},
    {NULL, NULL},
};

int arca_placeholder_format_check(enum arca_secret_kind kind, const char *format, size_t len,
                                  const char **canonical)
{
    ARCA_ENSURE_REF(canonical);
    ARCA_ENSURE(format != NULL || len == 0, ARCA_ERR_INVALID_ARG, "format is NULL");
    const struct format_alias *table = NULL;
    const char *valid = NULL;
    switch (kind) {
    case ARCA_SECRET_ASCII:
        table = ascii_formats;
        valid = "none (ascii secrets have only the plain form $$SCONE::name$$)";
        break;
    case ARCA_SECRET_BINARY:
        table = binary_formats;
        valid = "bin (default), hex, base64, base64url, base32, base32nopad, legacy .hex";
        break;
    case ARCA_SECRET_PRIVATE_KEY:
        table = key_formats;
        valid = "pem = pkcs8:pem (default), der = pkcs8:der";
        break;
    case ARCA_SECRET_X509:
    case ARCA_SECRET_X509_CA:
        table = x509_formats;
        valid = "crt = crt:pem (default), crt:der, privatekey[:pem|:der|:pkcs8:pem|:pkcs8:der], "
                "chain, pkcs12-with-private-key, legacy .crt .key .chain";
        break;
    case ARCA_SECRET_JWT:
        table = ascii_formats;
        valid = "none (jwt secrets have only the plain form $$SCONE::name$$, the token)";
        break;
    case ARCA_SECRET_CONFIG_FRAGMENT:
        table = fragment_formats;
        valid = "none (config fragments are substituted as they are)";
        break;
    case ARCA_SECRET_AAD_TOKEN: /* the docs: $$SCONE::n$$ only (the session is refused) */
        table = ascii_formats;
        valid = "none (aad-token secrets have only the plain form $$SCONE::name$$)";
        break;
    case ARCA_SECRET_PGP_KEY:
        table = pgp_formats;
        valid = "publickey:asciiarmored (default), publickey:binary, publickey:base64, "
                "privatekey:asciiarmored, privatekey:binary, privatekey:base64";
        break;
    case ARCA_SECRET_NONE:
        ARCA_BAIL(ARCA_ERR_INVALID_ARG, "placeholder format: no secret kind");
    }
    for (const struct format_alias *a = table; a->written != NULL; a++) {
        if (strlen(a->written) == len && memcmp(a->written, format, len) == 0) {
            *canonical = a->canonical;
            return 0;
        }
    }
    /* Formats are short identifiers, never secret; quote at most the limit. */
    int shown = len > ARCA_PLACEHOLDER_FORMAT_MAX ? ARCA_PLACEHOLDER_FORMAT_MAX : (int)len;
    ARCA_BAIL(ARCA_ERR_FORMAT, "format \"%.*s\" is not valid for %s secrets; valid: %s", shown,
              format ? format : "", arca_secret_kind_name(kind), valid);
}

/* ---- JSON escaping ----------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if invalid (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF). */
static size_t utf8_seq_len(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    if (c < 0x80)
        return 1;
    size_t need;
    uint8_t lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        need = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (n < need)
        return 0;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < need; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    }
    return need;
}

int arca_placeholder_json_escape(const void *p, size_t n, struct arca_buf *out)
{
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(p != NULL || n == 0, ARCA_ERR_INVALID_ARG, "json escape: input is NULL");
    const uint8_t *s = p;
    /* Validate first so that out stays unchanged on failure. */
    size_t extra = 0;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq_len(s + i, n - i);
        if (k == 0)
            ARCA_BAIL(ARCA_ERR_FORMAT,
                      "escape(json): the value is not valid UTF-8 (byte %zu); render it with "
                      ":base64 or :hex instead",
                      i);
        if (k == 1 && (s[i] < 0x20 || s[i] == '"' || s[i] == '\\'))
            extra += 5;
        i += k;
    }
    if (n + extra < n)
        ARCA_BAIL(ARCA_ERR_TOO_LARGE, "escape(json): value too large");
    ARCA_TRY(arca_buf_reserve(out, n + extra));
    static const char hexd[] = "0123456789abcdef";
    char esc[6]; /* holds bytes derived from the value: wiped below */
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        size_t el = 0;
        switch (c) {
        case '"':
            esc[0] = '\\', esc[1] = '"', el = 2;
            break;
        case '\\':
            esc[0] = '\\', esc[1] = '\\', el = 2;
            break;
        case '\b':
            esc[0] = '\\', esc[1] = 'b', el = 2;
            break;
        case '\f':
            esc[0] = '\\', esc[1] = 'f', el = 2;
            break;
        case '\n':
            esc[0] = '\\', esc[1] = 'n', el = 2;
            break;
        case '\r':
            esc[0] = '\\', esc[1] = 'r', el = 2;
            break;
        case '\t':
            esc[0] = '\\', esc[1] = 't', el = 2;
            break;
        default:
            if (c < 0x20) {
                esc[0] = '\\', esc[1] = 'u', esc[2] = '0', esc[3] = '0';
                esc[4] = hexd[c >> 4], esc[5] = hexd[c & 15], el = 6;
            }
            break;
        }
        /* Reserved above, so these appends cannot fail. */
        if (el)
            (void)arca_buf_put(out, esc, el);
        else
            (void)arca_buf_put_u8(out, c);
    }
    arca_wipe(esc, sizeof(esc));
    return 0;
}

/* ---- expansion --------------------------------------------------------------------------- */

static int render_one(const char *text, const struct arca_placeholder *ph,
                      arca_placeholder_render_fn render, void *ctx, struct arca_buf *value)
{
    char fmt[ARCA_PLACEHOLDER_FORMAT_MAX + 1];
    if (ph->format_len > ARCA_PLACEHOLDER_FORMAT_MAX)
        ARCA_BAIL(ARCA_ERR_FORMAT, "placeholder at offset %zu: format too long", ph->start);
    memcpy(fmt, ph->format, ph->format_len);
    fmt[ph->format_len] = '\0';
    int rc = render(ctx, ph->name, ph->name_len, fmt, value);
    if (rc == ARCA_ERR_NOT_FOUND && ph->legacy_suffix) {
        /* Secret names may contain '.': try the whole text as a name. If that is unknown too,
         * report the first failure (details never hold values, so keeping a copy is fine). */
        char first[ARCA_ERR_DETAIL_MAX + 1];
        snprintf(first, sizeof(first), "%s", arca_err_detail());
        arca_buf_reset(value);
        rc = render(ctx, ph->name, ph->name_len + ph->format_len, "", value);
        if (rc == ARCA_ERR_NOT_FOUND)
            arca_err_set(rc, "%s", first);
    }
    (void)text;
    if (rc < 0)
        return arca_err_wrap(rc, "placeholder at offset %zu (secret \"%.*s\")", ph->start,
                             (int)ph->name_len, ph->name);
    return 0;
}

int arca_placeholder_expand(const char *text, size_t len, arca_placeholder_render_fn render,
                            void *ctx, bool binary_ok, struct arca_buf *out)
{
    ARCA_ENSURE_REF(render);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(text != NULL || len == 0, ARCA_ERR_INVALID_ARG, "placeholder: text is NULL");
    if (len == 0)
        return 0;

    /* Build the whole result aside so that out is untouched on failure; everything that held
     * a rendered value is a secret buffer. */
    struct arca_buf staged, value, escaped;
    arca_buf_init_secret(&staged, out->max);
    arca_buf_init_secret(&value, 0);
    arca_buf_init_secret(&escaped, 0);
    int rc = 0;
    size_t pos = 0, copied = 0;
    for (;;) {
        struct arca_placeholder ph;
        int found = arca_placeholder_next(text, len, &pos, &ph);
        ARCA_GUARD(rc, found, done);
        if (found == 0)
            break;
        ARCA_GUARD(rc, arca_buf_put(&staged, text + copied, ph.start - copied), done);
        copied = ph.end;

        arca_buf_reset(&value);
        arca_buf_reset(&escaped);
        ARCA_GUARD(rc, render_one(text, &ph, render, ctx, &value), done);
        struct arca_buf *piece = &value;
        if (ph.escape_json) {
            rc = arca_placeholder_json_escape(value.data, value.len, &escaped);
            if (rc < 0) {
                arca_err_wrap(rc, "placeholder at offset %zu (secret \"%.*s\")", ph.start,
                              (int)ph.name_len, ph.name);
                goto done;
            }
            piece = &escaped;
        }
        if (!binary_ok && piece->len > 0 && memchr(piece->data, 0, piece->len) != NULL) {
            rc = arca_err_set(ARCA_ERR_FORMAT,
                              "placeholder at offset %zu: secret \"%.*s\" renders with a NUL "
                              "byte, which cannot be used here (use :hex or :base64)",
                              ph.start, (int)ph.name_len, ph.name);
            goto done;
        }
        ARCA_GUARD(rc, arca_buf_put(&staged, piece->data, piece->len), done);
    }
    ARCA_GUARD(rc, arca_buf_put(&staged, text + copied, len - copied), done);
    ARCA_GUARD(rc, arca_buf_put(out, staged.data, staged.len), done);
done:
    arca_buf_free(&staged);
    arca_buf_free(&value);
    arca_buf_free(&escaped);
    return rc < 0 ? rc : 0;
}

/* Reports one problem: to the callback, or (none) as the error detail of the return value. */
static int check_problem(arca_placeholder_problem_fn problem, void *ctx,
                         const struct arca_placeholder_problem *p)
{
    if (problem != NULL) {
        problem(ctx, p);
        return p->rc;
    }
    /* p->detail is arca_err_detail() itself here (or a constant): wrap it, never copy it. */
    if (p->name == NULL)
        return p->rc;
    if (p->rc == ARCA_ERR_NOT_FOUND)
        return arca_err_set(p->rc, "placeholder at offset %zu: no secret named \"%.*s\"", p->offset,
                            (int)p->name_len, p->name);
    return arca_err_wrap(p->rc, "placeholder at offset %zu (secret \"%.*s\")", p->offset,
                         (int)p->name_len, p->name);
}

int arca_placeholder_check_each(const char *text, size_t len, arca_placeholder_lookup_fn lookup,
                                arca_placeholder_problem_fn problem, void *ctx, size_t *count)
{
    ARCA_ENSURE_REF(lookup);
    ARCA_ENSURE(text != NULL || len == 0, ARCA_ERR_INVALID_ARG, "placeholder: text is NULL");
    size_t pos = 0, n = 0;
    int first = 0;
    for (;;) {
        struct arca_placeholder ph;
        int found = arca_placeholder_next(text, len, &pos, &ph);
        if (found == 0)
            break;
        if (found < 0) {
            struct arca_placeholder_problem p = {
                .rc = found, .offset = pos, .detail = arca_err_detail()};
            int rc = check_problem(problem, ctx, &p);
            return first < 0 ? first : rc;
        }
        n++;
        size_t name_len = ph.name_len;
        const char *format = ph.format;
        size_t format_len = ph.format_len;
        enum arca_secret_kind kind = ARCA_SECRET_NONE;
        bool known = lookup(ctx, ph.name, name_len, &kind);
        if (!known && ph.legacy_suffix &&
            lookup(ctx, ph.name, ph.name_len + ph.format_len, &kind)) {
            /* As in expansion: a dotted name that only looks like a legacy suffix. */
            known = true;
            name_len += ph.format_len;
            format = "";
            format_len = 0;
        }
        struct arca_placeholder_problem p = {
            .offset = ph.start, .name = ph.name, .name_len = name_len, .kind = kind};
        if (!known) {
            p.rc = ARCA_ERR_NOT_FOUND;
            p.detail = "no such secret";
        } else if (kind == ARCA_SECRET_NONE) {
            continue; /* kind not known until the value arrives */
        } else {
            const char *canonical;
            p.rc = arca_placeholder_format_check(kind, format, format_len, &canonical);
            if (p.rc == 0)
                continue;
            p.detail = arca_err_detail();
        }
        int rc = check_problem(problem, ctx, &p);
        if (problem == NULL)
            return rc;
        if (first == 0)
            first = rc;
    }
    if (count != NULL)
        *count = n;
    return first;
}

/* Adapts an arca_placeholder_kind_fn (ARCA_SECRET_NONE = no such secret) to a lookup. */
struct kind_adapter {
    arca_placeholder_kind_fn kind_of;
    void *ctx;
};

static bool kind_lookup(void *ctx, const char *name, size_t name_len, enum arca_secret_kind *kind)
{
    const struct kind_adapter *a = ctx;
    *kind = a->kind_of(a->ctx, name, name_len);
    return *kind != ARCA_SECRET_NONE;
}

int arca_placeholder_check(const char *text, size_t len, arca_placeholder_kind_fn kind_of,
                           void *ctx, size_t *count)
{
    ARCA_ENSURE_REF(kind_of);
    struct kind_adapter a = {kind_of, ctx};
    return arca_placeholder_check_each(text, len, kind_lookup, NULL, &a, count);
}
