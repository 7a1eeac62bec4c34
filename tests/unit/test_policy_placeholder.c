/*
 * Placeholder engine: scanning, format normalisation per kind, JSON escaping, expansion.
 * The renderer here is a table, so the engine is tested without the secret engine.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/err.h"
#include "policy/placeholder.h"

/* ---- a table renderer ---------------------------------------------------------------------- */

struct fake_secret {
    const char *name;
    enum arca_secret_kind kind;
    const char *value;
    size_t len;
};

static const struct fake_secret fakes[] = {
    {"pw", ARCA_SECRET_ASCII, "s3cr\"et\\pw", 10},
    {"blob", ARCA_SECRET_BINARY, "ab\0cd", 5},
    {"db.crt", ARCA_SECRET_ASCII, "DOTTED-NAME-VALUE", 17},
    {"cert", ARCA_SECRET_X509, "CERTVALUE", 9},
    {"line", ARCA_SECRET_ASCII, "a\nb\tc", 5},
    {"latin", ARCA_SECRET_BINARY, "\xff\xfe", 2},
};

static int fake_calls;

/* Renders "<canonical>=<value>", so tests see both the format mapping and the value. */
static int fake_render(void *ctx, const char *name, size_t name_len, const char *format,
                       struct arca_buf *out)
{
    (void)ctx;
    fake_calls++;
    for (size_t i = 0; i < sizeof(fakes) / sizeof(fakes[0]); i++) {
        const struct fake_secret *f = &fakes[i];
        if (strlen(f->name) != name_len || memcmp(f->name, name, name_len) != 0)
            continue;
        const char *canon;
        ARCA_TRY(arca_placeholder_format_check(f->kind, format, strlen(format), &canon));
        if (strcmp(canon, "plain") != 0 && strcmp(canon, "bin") != 0) {
            ARCA_TRY(arca_buf_put_str(out, canon));
            ARCA_TRY(arca_buf_put_u8(out, '='));
        }
        return arca_buf_put(out, f->value, f->len);
    }
    return arca_err_set(ARCA_ERR_NOT_FOUND, "no such secret");
}

static void assert_no_secret_in_detail(void)
{
    const char *d = arca_err_detail();
    for (size_t i = 0; i < sizeof(fakes) / sizeof(fakes[0]); i++) {
        if (fakes[i].len >= 4)
            assert_null(memmem(d, strlen(d), fakes[i].value, 4));
    }
}

/* ---- scanning ------------------------------------------------------------------------------ */

static void scan_one(const char *text, const char *name, const char *format, bool esc, bool legacy)
{
    struct arca_placeholder ph;
    size_t pos = 0;
    int rc = arca_placeholder_next(text, strlen(text), &pos, &ph);
    if (rc != 1)
        print_error("scan of %s: rc %d (%s)\n", text, rc, arca_err_detail());
    assert_int_equal(rc, 1);
    assert_int_equal(ph.name_len, strlen(name));
    assert_memory_equal(ph.name, name, ph.name_len);
    assert_int_equal(ph.format_len, strlen(format));
    if (ph.format_len)
        assert_memory_equal(ph.format, format, ph.format_len);
    assert_int_equal(ph.escape_json, esc);
    assert_int_equal(ph.legacy_suffix, legacy);
    assert_int_equal(pos, ph.end);
}

static void test_scan_forms(void **state)
{
    (void)state;
    scan_one("$$SCONE::pw$$", "pw", "", false, false);
    scan_one("x=$$SCONE::blob:hex$$;", "blob", "hex", false, false);
    scan_one("$$SCONE::k:privatekey:pkcs8:der$$", "k", "privatekey:pkcs8:der", false, false);
    scan_one("$$SCONE::c:crt|escape(json)$$", "c", "crt", true, false);
    scan_one("$$SCONE::pw|escape(json)$$", "pw", "", true, false);
    scan_one("$$SCONE::b.hex$$", "b", ".hex", false, true);
    scan_one("$$SCONE::c.crt$$", "c", ".crt", false, true);
    scan_one("$$SCONE::c.key$$", "c", ".key", false, true);
    scan_one("$$SCONE::c.chain$$", "c", ".chain", false, true);
    scan_one("$$SCONE::my.cert.chain$$", "my.cert", ".chain", false, true);
    scan_one("$$SCONE::a.b~c-d_e$$", "a.b~c-d_e", "", false, false);
    /* The suffix alone is a name, not a suffix. */
    scan_one("$$SCONE::.hex$$", ".hex", "", false, false);
    /* "$$" without SCONE:: is text; a later placeholder is still found. */
    scan_one("cost $$5 and $$ more $$SCONE::pw$$", "pw", "", false, false);
    scan_one("$$$SCONE::pw$$", "pw", "", false, false);
}

static void test_scan_none_and_many(void **state)
{
    (void)state;
    struct arca_placeholder ph;
    size_t pos = 0;
    assert_int_equal(arca_placeholder_next("", 0, &pos, &ph), 0);
    assert_int_equal(arca_placeholder_next(NULL, 0, &pos, &ph), 0);
    const char *t = "plain $$ text with $$ dollars $";
    pos = 0;
    assert_int_equal(arca_placeholder_next(t, strlen(t), &pos, &ph), 0);

    t = "$$SCONE::a$$$$SCONE::b:hex$$ and $$SCONE::c$$";
    pos = 0;
    const char *names[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(arca_placeholder_next(t, strlen(t), &pos, &ph), 1);
        assert_int_equal(ph.name_len, 1);
        assert_memory_equal(ph.name, names[i], 1);
    }
    assert_int_equal(arca_placeholder_next(t, strlen(t), &pos, &ph), 0);
    /* Adjacent text "SCONE::b$$" after a complete placeholder is text, not nesting. */
    t = "$$SCONE::a$$SCONE::b$$";
    pos = 0;
    assert_int_equal(arca_placeholder_next(t, strlen(t), &pos, &ph), 1);
    assert_int_equal(arca_placeholder_next(t, strlen(t), &pos, &ph), 0);
    /* Bad position. */
    pos = 100;
    assert_int_equal(arca_placeholder_next("abc", 3, &pos, &ph), ARCA_ERR_INVALID_ARG);
}

struct bad_case {
    const char *text;
    const char *detail; /* a substring of the expected detail */
};

static const struct bad_case bad_scans[] = {
    {"$$SCONE::pw", "offset 0: no closing \"$$\""},
    {"abc $$SCONE::pw$", "offset 4: no closing"},
    {"$$SCONE::$$SCONE::pw$$$$", "nested placeholders"},
    {"$$SCONE::a:$$SCONE::b$$$$", "nested placeholders"},
    {"$$SCONE::a|$$SCONE::b$$$$", "nested placeholders"},
    {"$$SCONE::$$", "empty secret name"},
    {"$$SCONE:::hex$$", "empty secret name"},
    {"$$SCONE::|escape(json)$$", "empty secret name"},
    {"$$SCONE::pw|escape(xml)$$", "unknown encoding"},
    {"$$SCONE::pw|$$", "unknown encoding"},
    {"$$SCONE::pw|escape(json)|escape(json)$$", "unknown encoding"},
    {"$$SCONE:pw$$", "two colons"},
    {"$$SCONE:", "two colons"},
    {"$$SCONE::p w$$", "invalid character at offset 10 in the secret name"},
    {"$$SCONE::p$w$$", "invalid character"},
    {"$$SCONE::a/b$$", "invalid character"},
    {"$$SCONE::pw:$$", "empty format"},
    {"$$SCONE::pw::hex$$", "empty sub-format"},
    {"$$SCONE::pw:crt:$$", "empty sub-format"},
    {"$$SCONE::pw:c rt$$", "invalid character at offset 13 in the format"},
    {"$$SCONE::pw:hex(1)$$", "invalid character"},
    {"$$SCONE::pw:xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx$$",
     "format longer than 64"},
};

static void test_scan_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_scans) / sizeof(bad_scans[0]); i++) {
        struct arca_placeholder ph;
        size_t pos = 0;
        arca_err_clear();
        int rc = arca_placeholder_next(bad_scans[i].text, strlen(bad_scans[i].text), &pos, &ph);
        if (rc != ARCA_ERR_FORMAT || strstr(arca_err_detail(), bad_scans[i].detail) == NULL)
            print_error("case %zu \"%s\": rc %d detail \"%s\"\n", i, bad_scans[i].text, rc,
                        arca_err_detail());
        assert_int_equal(rc, ARCA_ERR_FORMAT);
        assert_non_null(strstr(arca_err_detail(), bad_scans[i].detail));
        assert_int_equal(pos, 0);
    }
    /* Over-long names. */
    char big[600];
    memcpy(big, "$$SCONE::", 9);
    memset(big + 9, 'a', 513);
    memcpy(big + 9 + 513, "$$", 3);
    struct arca_placeholder ph;
    size_t pos = 0;
    assert_int_equal(arca_placeholder_next(big, strlen(big), &pos, &ph), ARCA_ERR_FORMAT);
    assert_non_null(strstr(arca_err_detail(), "longer than 512"));
}

/* ---- formats ------------------------------------------------------------------------------- */

struct fmt_case {
    enum arca_secret_kind kind;
    const char *written;
    const char *canonical; /* NULL = refused */
};

static const struct fmt_case fmt_cases[] = {
    {ARCA_SECRET_ASCII, "", "plain"},
    {ARCA_SECRET_ASCII, "hex", NULL},
    {ARCA_SECRET_ASCII, "bin", NULL},
    {ARCA_SECRET_ASCII, ".hex", NULL},
    {ARCA_SECRET_BINARY, "", "bin"},
    {ARCA_SECRET_BINARY, "bin", "bin"},
    {ARCA_SECRET_BINARY, "hex", "hex"},
    {ARCA_SECRET_BINARY, ".hex", "hex"},
    {ARCA_SECRET_BINARY, "base64", "base64"},
    {ARCA_SECRET_BINARY, "base64url", "base64url"},
    {ARCA_SECRET_BINARY, "base32", "base32"},
    {ARCA_SECRET_BINARY, "base32nopad", "base32nopad"},
    {ARCA_SECRET_BINARY, "HEX", NULL},
    {ARCA_SECRET_BINARY, "pem", NULL},
    {ARCA_SECRET_BINARY, ".crt", NULL},
    {ARCA_SECRET_PRIVATE_KEY, "", "pkcs8:pem"},
    {ARCA_SECRET_PRIVATE_KEY, "pem", "pkcs8:pem"},
    {ARCA_SECRET_PRIVATE_KEY, "pkcs8:pem", "pkcs8:pem"},
    {ARCA_SECRET_PRIVATE_KEY, "der", "pkcs8:der"},
    {ARCA_SECRET_PRIVATE_KEY, "pkcs8:der", "pkcs8:der"},
    {ARCA_SECRET_PRIVATE_KEY, "crt", NULL},
    {ARCA_SECRET_PRIVATE_KEY, ".key", NULL},
    {ARCA_SECRET_PRIVATE_KEY, "pkcs1:pem", NULL},
    {ARCA_SECRET_X509, "", "crt:pem"},
    {ARCA_SECRET_X509, "crt", "crt:pem"},
    {ARCA_SECRET_X509, "crt:pem", "crt:pem"},
    {ARCA_SECRET_X509, "crt:der", "crt:der"},
    {ARCA_SECRET_X509, "privatekey", "privatekey:pkcs8:pem"},
    {ARCA_SECRET_X509, "privatekey:pem", "privatekey:pkcs8:pem"},
    {ARCA_SECRET_X509, "privatekey:pkcs8:pem", "privatekey:pkcs8:pem"},
    {ARCA_SECRET_X509, "privatekey:der", "privatekey:pkcs8:der"},
    {ARCA_SECRET_X509, "privatekey:pkcs8:der", "privatekey:pkcs8:der"},
    {ARCA_SECRET_X509, "chain", "chain"},
    {ARCA_SECRET_X509, "pkcs12-with-private-key", "pkcs12-with-private-key"},
    {ARCA_SECRET_X509, ".crt", "crt:pem"},
    {ARCA_SECRET_X509, ".key", "privatekey:pkcs8:pem"},
    {ARCA_SECRET_X509, ".chain", "legacy-chain"},
    {ARCA_SECRET_X509_CA, "", "crt:pem"},
    {ARCA_SECRET_X509_CA, "chain", "chain"},
    {ARCA_SECRET_X509_CA, ".chain", "legacy-chain"},
    {ARCA_SECRET_X509, "legacy-chain", NULL},
    {ARCA_SECRET_X509, "pem", NULL},
    {ARCA_SECRET_X509, "hex", NULL},
    {ARCA_SECRET_X509, "crt:pem:pem", NULL},
    {ARCA_SECRET_X509, "pkcs12", NULL},
    {ARCA_SECRET_CONFIG_FRAGMENT, "", "fragment"},
    {ARCA_SECRET_CONFIG_FRAGMENT, "hex", NULL},
};

static void test_format_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(fmt_cases) / sizeof(fmt_cases[0]); i++) {
        const struct fmt_case *c = &fmt_cases[i];
        const char *canon = "untouched";
        int rc = arca_placeholder_format_check(c->kind, c->written, strlen(c->written), &canon);
        if (c->canonical) {
            if (rc != 0)
                print_error("case %zu %s: %s\n", i, c->written, arca_err_detail());
            assert_int_equal(rc, 0);
            assert_string_equal(canon, c->canonical);
            /* Canonical names of real formats map to themselves (idempotence), except the
             * internal ones that only legacy suffixes reach. */
            if (strcmp(canon, "legacy-chain") != 0 && strcmp(canon, "plain") != 0 &&
                strcmp(canon, "fragment") != 0) {
                const char *again;
                assert_int_equal(
                    arca_placeholder_format_check(c->kind, canon, strlen(canon), &again), 0);
                assert_string_equal(again, canon);
            }
        } else {
            assert_int_equal(rc, ARCA_ERR_FORMAT);
            assert_string_equal(canon, "untouched");
            assert_non_null(strstr(arca_err_detail(), "is not valid for "));
            assert_non_null(strstr(arca_err_detail(), "valid:"));
        }
    }
    const char *canon;
    assert_int_equal(arca_placeholder_format_check(ARCA_SECRET_PGP_KEY, "", 0, &canon), 0);
    assert_string_equal(canon, "publickey:asciiarmored");
    assert_int_equal(
        arca_placeholder_format_check(ARCA_SECRET_PGP_KEY, "privatekey:base64", 17, &canon), 0);
    assert_string_equal(canon, "privatekey:base64");
    assert_int_equal(arca_placeholder_format_check(ARCA_SECRET_PGP_KEY, "pem", 3, &canon),
                     ARCA_ERR_FORMAT);
    /* aad-token: only the plain form, as the docs give it (the session itself is refused) */
    assert_int_equal(arca_placeholder_format_check(ARCA_SECRET_AAD_TOKEN, "", 0, &canon), 0);
    assert_int_equal(arca_placeholder_format_check(ARCA_SECRET_AAD_TOKEN, "hex", 3, &canon),
                     ARCA_ERR_FORMAT);
    assert_int_equal(arca_placeholder_format_check(ARCA_SECRET_NONE, "", 0, &canon),
                     ARCA_ERR_INVALID_ARG);
    /* The list of valid formats is in the detail. */
    assert_int_equal(arca_placeholder_format_check(ARCA_SECRET_BINARY, "b64", 3, &canon),
                     ARCA_ERR_FORMAT);
    assert_non_null(strstr(arca_err_detail(), "base32nopad"));
}

/* ---- JSON escaping ------------------------------------------------------------------------- */

static void escape_ok(const char *in, size_t n, const char *want)
{
    struct arca_buf b;
    arca_buf_init(&b, 0);
    assert_int_equal(arca_placeholder_json_escape(in, n, &b), 0);
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(arca_buf_cstr(&b), want, b.len);
    arca_buf_free(&b);
}

static void test_json_escape(void **state)
{
    (void)state;
    escape_ok("", 0, "");
    escape_ok("plain", 5, "plain");
    escape_ok("a\"b\\c", 5, "a\\\"b\\\\c");
    escape_ok("\b\f\n\r\t", 5, "\\b\\f\\n\\r\\t");
    escape_ok("\x01\x1f\x00", 3, "\\u0001\\u001f\\u0000");
    escape_ok("/\x7f", 2, "/\x7f");
    escape_ok("gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x94\x91", 15,
              "gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x94\x91");
    const char *bad[] = {
        "\xff",             /* never valid */
        "\xc3",             /* truncated */
        "\xc0\xaf",         /* overlong '/' */
        "\xe0\x80\xaf",     /* overlong */
        "\xed\xa0\x80",     /* surrogate */
        "\xf4\x90\x80\x80", /* above U+10FFFF */
        "a\x80",            /* lone continuation */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct arca_buf b;
        arca_buf_init(&b, 0);
        assert_int_equal(arca_buf_put_str(&b, "keep"), 0);
        assert_int_equal(arca_placeholder_json_escape(bad[i], strlen(bad[i]), &b), ARCA_ERR_FORMAT);
        assert_non_null(strstr(arca_err_detail(), "not valid UTF-8"));
        assert_string_equal(arca_buf_cstr(&b), "keep");
        arca_buf_free(&b);
    }
}

/* ---- expansion ----------------------------------------------------------------------------- */

static int expand(const char *text, bool binary_ok, struct arca_buf *out)
{
    return arca_placeholder_expand(text, strlen(text), fake_render, NULL, binary_ok, out);
}

static void expand_ok(const char *text, bool binary_ok, const char *want, size_t want_len)
{
    struct arca_buf b;
    arca_buf_init_secret(&b, 0);
    int rc = expand(text, binary_ok, &b);
    if (rc != 0)
        print_error("expand %s: %s\n", text, arca_err_detail());
    assert_int_equal(rc, 0);
    assert_int_equal(b.len, want_len);
    assert_memory_equal(b.data ? (const char *)b.data : "", want, want_len);
    arca_buf_free(&b);
}

static void test_expand(void **state)
{
    (void)state;
    expand_ok("no placeholders $$ here", false, "no placeholders $$ here", 23);
    expand_ok("", false, "", 0);
    expand_ok("PW=$$SCONE::pw$$!", false, "PW=s3cr\"et\\pw!", 14);
    expand_ok("{\"pw\":\"$$SCONE::pw|escape(json)$$\"}", false, "{\"pw\":\"s3cr\\\"et\\\\pw\"}",
              21);
    expand_ok("$$SCONE::line|escape(json)$$", false, "a\\nb\\tc", 7);
    expand_ok("$$SCONE::cert$$|$$SCONE::cert:crt:der$$|$$SCONE::cert.key$$", false,
              "crt:pem=CERTVALUE|crt:der=CERTVALUE|privatekey:pkcs8:pem=CERTVALUE", 66);
    expand_ok("$$SCONE::cert.chain$$", false, "legacy-chain=CERTVALUE", 22);
    expand_ok("$$SCONE::blob:hex$$", true, "hex=ab\0cd", 9);
}

static void test_expand_binary(void **state)
{
    (void)state;
    /* The raw value has a NUL: refused for argv/env, fine for files. */
    struct arca_buf b;
    arca_buf_init_secret(&b, 0);
    assert_int_equal(arca_buf_put_str(&b, "prefix"), 0);
    assert_int_equal(expand("x=$$SCONE::blob$$", false, &b), ARCA_ERR_FORMAT);
    assert_non_null(strstr(arca_err_detail(), "NUL byte"));
    assert_non_null(strstr(arca_err_detail(), "\"blob\""));
    assert_string_equal(arca_buf_cstr(&b), "prefix");
    assert_int_equal(b.len, 6);
    assert_int_equal(expand("x=$$SCONE::blob$$", true, &b), 0);
    assert_int_equal(b.len, 6 + 2 + 5);
    assert_memory_equal(b.data + 6, "x=ab\0cd", 7);
    arca_buf_free(&b);
    /* escape(json) turns the NUL into \u0000, so it is fine even where NUL is not. */
    expand_ok("$$SCONE::blob|escape(json)$$", false, "ab\\u0000cd", 10);
}

static void test_expand_legacy_dotted_name(void **state)
{
    (void)state;
    /* "db.crt" is an ascii secret's full name; no secret "db" exists: fall back. */
    expand_ok("$$SCONE::db.crt$$", false, "DOTTED-NAME-VALUE", 17);
    struct arca_buf b;
    arca_buf_init_secret(&b, 0);
    assert_int_equal(expand("$$SCONE::nope.hex$$", false, &b), ARCA_ERR_NOT_FOUND);
    assert_non_null(strstr(arca_err_detail(), "offset 0 (secret \"nope\"): no such secret"));
    arca_buf_free(&b);
}

static void test_expand_errors(void **state)
{
    (void)state;
    struct {
        const char *text;
        int rc;
        const char *detail;
    } cases[] = {
        {"a $$SCONE::missing$$", ARCA_ERR_NOT_FOUND,
         "offset 2 (secret \"missing\"): no such secret"},
        {"$$SCONE::pw:hex$$", ARCA_ERR_FORMAT, "format \"hex\" is not valid for ascii secrets"},
        {"$$SCONE::blob:pem$$", ARCA_ERR_FORMAT, "(secret \"blob\")"},
        {"$$SCONE::latin|escape(json)$$", ARCA_ERR_FORMAT, "not valid UTF-8"},
        {"ok $$SCONE::pw$$ then $$SCONE::pw", ARCA_ERR_FORMAT, "no closing"},
        {"$$SCONE::$$SCONE::pw$$$$", ARCA_ERR_FORMAT, "nested"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct arca_buf b;
        arca_buf_init_secret(&b, 0);
        assert_int_equal(arca_buf_put_str(&b, "keep"), 0);
        int rc = expand(cases[i].text, false, &b);
        if (rc != cases[i].rc || strstr(arca_err_detail(), cases[i].detail) == NULL)
            print_error("case %zu: rc %d detail %s\n", i, rc, arca_err_detail());
        assert_int_equal(rc, cases[i].rc);
        assert_non_null(strstr(arca_err_detail(), cases[i].detail));
        assert_no_secret_in_detail();
        assert_string_equal(arca_buf_cstr(&b), "keep");
        arca_buf_free(&b);
    }
}

static void test_expand_limit(void **state)
{
    (void)state;
    struct arca_buf b;
    arca_buf_init_secret(&b, 8);
    assert_int_equal(expand("$$SCONE::pw$$", false, &b), ARCA_ERR_TOO_LARGE);
    assert_int_equal(b.len, 0);
    arca_buf_free(&b);
    assert_int_equal(arca_placeholder_expand("x", 1, NULL, NULL, false, &b), ARCA_ERR_INVALID_ARG);
}

static enum arca_secret_kind fake_kind(void *ctx, const char *name, size_t name_len)
{
    (void)ctx;
    for (size_t i = 0; i < sizeof(fakes) / sizeof(fakes[0]); i++) {
        if (strlen(fakes[i].name) == name_len && memcmp(fakes[i].name, name, name_len) == 0)
            return fakes[i].kind;
    }
    return ARCA_SECRET_NONE;
}

static void test_check(void **state)
{
    (void)state;
    size_t n = 99;
    const char *ok = "a $$SCONE::pw$$ b $$SCONE::blob:base64|escape(json)$$ $$SCONE::cert.chain$$ "
                     "$$SCONE::db.crt$$ $$SCONE::cert:privatekey:pkcs8:der$$";
    assert_int_equal(arca_placeholder_check(ok, strlen(ok), fake_kind, NULL, &n), 0);
    assert_int_equal(n, 5);
    assert_int_equal(arca_placeholder_check("none", 4, fake_kind, NULL, &n), 0);
    assert_int_equal(n, 0);
    struct {
        const char *text;
        int rc;
        const char *detail;
    } bad[] = {
        {"x $$SCONE::nope$$", ARCA_ERR_NOT_FOUND, "offset 2: no secret named \"nope\""},
        {"$$SCONE::nope.hex$$", ARCA_ERR_NOT_FOUND, "no secret named \"nope\""},
        {"$$SCONE::pw:hex$$", ARCA_ERR_FORMAT, "(secret \"pw\"): format \"hex\" is not valid"},
        {"$$SCONE::pw.hex$$", ARCA_ERR_FORMAT, "not valid for ascii secrets"},
        {"$$SCONE::cert:pem$$", ARCA_ERR_FORMAT, "valid: crt = crt:pem"},
        {"$$SCONE::$$SCONE::pw$$$$", ARCA_ERR_FORMAT, "nested"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = arca_placeholder_check(bad[i].text, strlen(bad[i].text), fake_kind, NULL, &n);
        if (rc != bad[i].rc || strstr(arca_err_detail(), bad[i].detail) == NULL)
            print_error("check %zu: rc %d detail %s\n", i, rc, arca_err_detail());
        assert_int_equal(rc, bad[i].rc);
        assert_non_null(strstr(arca_err_detail(), bad[i].detail));
    }
}

/* A lookup where "later" exists with a kind not known yet (an import without a kind). */
static bool fake_lookup(void *ctx, const char *name, size_t name_len, enum arca_secret_kind *kind)
{
    if (name_len == 5 && memcmp(name, "later", 5) == 0) {
        *kind = ARCA_SECRET_NONE;
        return true;
    }
    *kind = fake_kind(ctx, name, name_len);
    return *kind != ARCA_SECRET_NONE;
}

struct problems {
    size_t n;
    int rc[8];
    size_t offset[8];
    char name[8][32];
};

static void collect(void *ctx, const struct arca_placeholder_problem *p)
{
    struct problems *ps = ctx;
    assert_non_null(p->detail);
    if (ps->n < 8) {
        ps->rc[ps->n] = p->rc;
        ps->offset[ps->n] = p->offset;
        snprintf(ps->name[ps->n], sizeof(ps->name[0]), "%.*s", (int)p->name_len,
                 p->name ? p->name : "");
    }
    ps->n++;
}

static void test_check_each(void **state)
{
    (void)state;
    struct problems ps = {0};
    size_t n = 0;
    const char *t = "$$SCONE::later:hex$$ $$SCONE::nope.crt$$ $$SCONE::pw:hex$$ $$SCONE::db.crt$$ "
                    "$$SCONE::pw$$";
    assert_int_equal(arca_placeholder_check_each(t, strlen(t), fake_lookup, collect, &ps, &n),
                     ARCA_ERR_NOT_FOUND);
    assert_int_equal(n, 5);
    assert_int_equal(ps.n, 2);
    assert_int_equal(ps.rc[0], ARCA_ERR_NOT_FOUND);
    assert_int_equal(ps.offset[0], 21);
    assert_string_equal(ps.name[0], "nope");
    assert_int_equal(ps.rc[1], ARCA_ERR_FORMAT);
    assert_string_equal(ps.name[1], "pw");
    /* a malformed placeholder ends the scan after the problems before it */
    memset(&ps, 0, sizeof(ps));
    const char *m = "$$SCONE::nope$$ $$SCONE::pw";
    assert_int_equal(arca_placeholder_check_each(m, strlen(m), fake_lookup, collect, &ps, NULL),
                     ARCA_ERR_NOT_FOUND);
    assert_int_equal(ps.n, 2);
    assert_int_equal(ps.rc[1], ARCA_ERR_FORMAT);
    assert_string_equal(ps.name[1], "");
    /* without a callback: the first problem, as arca_placeholder_check */
    assert_int_equal(arca_placeholder_check_each(t, strlen(t), fake_lookup, NULL, NULL, NULL),
                     ARCA_ERR_NOT_FOUND);
    assert_non_null(strstr(arca_err_detail(), "offset 21: no secret named \"nope\""));
    assert_int_equal(
        arca_placeholder_check_each("$$SCONE::later$$", 16, fake_lookup, NULL, NULL, &n), 0);
    assert_int_equal(n, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_forms),    cmocka_unit_test(test_scan_none_and_many),
        cmocka_unit_test(test_scan_errors),   cmocka_unit_test(test_format_table),
        cmocka_unit_test(test_json_escape),   cmocka_unit_test(test_expand),
        cmocka_unit_test(test_expand_binary), cmocka_unit_test(test_expand_legacy_dotted_name),
        cmocka_unit_test(test_expand_errors), cmocka_unit_test(test_expand_limit),
        cmocka_unit_test(test_check),         cmocka_unit_test(test_check_each),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
