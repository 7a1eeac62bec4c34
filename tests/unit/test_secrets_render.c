/*
 * Rendering every kind in every placeholder format (directly and through
 * arca_placeholder_expand), explicit values, and the rule that no error detail carries a value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/enc.h"
#include "base/err.h"
#include "crypto/crypto.h"
#include "policy/placeholder.h"
#include "secrets/secrets.h"

#define NOW ((int64_t)1790000000)

static struct arca_secret_value *get(const struct arca_secret_set *s, const char *name)
{
    return arca_secret_set_get(s, name, strlen(name));
}

/* Renders name:format through the placeholder engine (file context: binary allowed). */
static int expand(struct arca_secret_set *s, const char *text, struct arca_buf *out)
{
    arca_buf_reset(out);
    return arca_placeholder_expand(text, strlen(text), arca_secret_set_render, s, true, out);
}

static void expand_is(struct arca_secret_set *s, const char *text, const char *want)
{
    struct arca_buf b;
    arca_buf_init_secret(&b, 0);
    int rc = expand(s, text, &b);
    if (rc != 0)
        print_error("%s: %s\n", text, arca_err_detail());
    assert_int_equal(rc, 0);
    assert_string_equal(arca_buf_cstr(&b), want);
    arca_buf_free(&b);
}

static const uint8_t bin_value[] = {0x00, 0xff, 0x10, 0x80, 0x7f, 0x3e, 0x3f};

static struct arca_secret_set *fixture(void)
{
    static const char *const dns[] = {"svc.example"};
    struct arca_secret_spec specs[] = {
        {.name = "root", .kind = ARCA_SECRET_X509_CA},
        {.name = "inter", .kind = ARCA_SECRET_X509_CA, .issuer = "root"},
        {.name = "leaf_key", .kind = ARCA_SECRET_PRIVATE_KEY},
        {.name = "leaf",
         .kind = ARCA_SECRET_X509,
         .issuer = "inter",
         .private_key = "leaf_key",
         .dns = dns,
         .dns_count = 1,
         .endpoint = ARCA_EKU_SERVER},
        {.name = "ed", .kind = ARCA_SECRET_PRIVATE_KEY, .key_type = ARCA_KEY_ED25519},
    };
    struct arca_secret_set *s;
    assert_int_equal(arca_secret_set_new(&s), 0);
    struct arca_secret_value *v;
    assert_int_equal(
        arca_secret_value_new_bytes(ARCA_SECRET_BINARY, bin_value, sizeof(bin_value), 0, &v), 0);
    assert_int_equal(arca_secret_set_add(s, "bin", 3, v), 0);
    arca_secret_value_free(v);
    assert_int_equal(arca_secret_value_new_bytes(ARCA_SECRET_ASCII, "a\"b\\c", 5, 0, &v), 0);
    assert_int_equal(arca_secret_set_add(s, "pw", 2, v), 0);
    arca_secret_value_free(v);
    int rc = arca_secrets_generate(specs, sizeof(specs) / sizeof(specs[0]), NULL, NOW, s);
    if (rc != 0)
        print_error("fixture: %s\n", arca_err_detail());
    assert_int_equal(rc, 0);
    return s;
}

static void test_render_bytes(void **state)
{
    (void)state;
    struct arca_secret_set *s = fixture();
    expand_is(s, "$$SCONE::pw$$", "a\"b\\c");
    expand_is(s, "\"$$SCONE::pw|escape(json)$$\"", "\"a\\\"b\\\\c\"");
    expand_is(s, "$$SCONE::bin:hex$$", "00ff10807f3e3f");
    expand_is(s, "$$SCONE::bin.hex$$", "00ff10807f3e3f");
    expand_is(s, "$$SCONE::bin:base64$$", "AP8QgH8+Pw==");
    expand_is(s, "$$SCONE::bin:base64url$$", "AP8QgH8-Pw");
    expand_is(s, "$$SCONE::bin:base32$$", "AD7RBAD7HY7Q====");
    expand_is(s, "$$SCONE::bin:base32nopad$$", "AD7RBAD7HY7Q");
    struct arca_buf b;
    arca_buf_init_secret(&b, 0);
    assert_int_equal(expand(s, "$$SCONE::bin$$", &b), 0);
    assert_int_equal(b.len, sizeof(bin_value));
    assert_memory_equal(b.data, bin_value, sizeof(bin_value));
    assert_int_equal(expand(s, "$$SCONE::bin:bin$$", &b), 0);
    assert_int_equal(b.len, sizeof(bin_value));
    /* Raw binary with NUL in argv/env: refused. */
    assert_int_equal(
        arca_placeholder_expand("$$SCONE::bin$$", 14, arca_secret_set_render, s, false, &b),
        ARCA_ERR_FORMAT);
    assert_non_null(strstr(arca_err_detail(), "NUL"));
    /* Not UTF-8: escape(json) refuses. */
    assert_int_equal(expand(s, "$$SCONE::bin|escape(json)$$", &b), ARCA_ERR_FORMAT);
    /* Wrong formats per kind. */
    assert_int_equal(expand(s, "$$SCONE::pw:hex$$", &b), ARCA_ERR_FORMAT);
    assert_int_equal(expand(s, "$$SCONE::bin:pem$$", &b), ARCA_ERR_FORMAT);
    assert_non_null(strstr(arca_err_detail(), "not valid for binary secrets"));
    assert_int_equal(expand(s, "$$SCONE::missing$$", &b), ARCA_ERR_NOT_FOUND);
    assert_int_equal(b.len, 0);
    arca_buf_free(&b);
    arca_secret_set_free(s);
}

static void test_render_keys(void **state)
{
    (void)state;
    struct arca_secret_set *s = fixture();
    struct arca_key *want = arca_secret_value_key(get(s, "leaf_key"));
    const char *forms[] = {"$$SCONE::leaf_key$$", "$$SCONE::leaf_key:pem$$",
                           "$$SCONE::leaf_key:pkcs8:pem$$", "$$SCONE::leaf_key:der$$",
                           "$$SCONE::leaf_key:pkcs8:der$$"};
    struct arca_buf b;
    arca_buf_init_secret(&b, 0);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(expand(s, forms[i], &b), 0);
        struct arca_key *k = NULL;
        if (i < 3) {
            assert_non_null(strstr(arca_buf_cstr(&b), "-----BEGIN PRIVATE KEY-----"));
            assert_int_equal(arca_key_from_pem(b.data, b.len, &k), 0);
        } else {
            assert_int_equal(b.data[0], 0x30); /* DER SEQUENCE */
            assert_int_equal(arca_key_from_der(b.data, b.len, &k), 0);
        }
        uint8_t x[32], y[32];
        assert_int_equal(arca_key_id(k, x), 0);
        assert_int_equal(arca_key_id(want, y), 0);
        assert_memory_equal(x, y, 32);
        assert_true(arca_key_has_private(k));
        arca_key_free(k);
    }
    /* Ed25519 as PKCS#8. */
    assert_int_equal(expand(s, "$$SCONE::ed$$", &b), 0);
    assert_non_null(strstr(arca_buf_cstr(&b), "-----BEGIN PRIVATE KEY-----"));
    assert_int_equal(expand(s, "$$SCONE::leaf_key:crt$$", &b), ARCA_ERR_FORMAT);
    arca_buf_free(&b);
    arca_secret_set_free(s);
}

static size_t count_certs(const struct arca_buf *b, struct arca_x509 ***list)
{
    size_t n = 0;
    assert_int_equal(arca_x509_list_from_pem(b->data, b->len, list, &n), 0);
    return n;
}

static bool cert_eq(const struct arca_x509 *a, const struct arca_x509 *b)
{
    uint8_t x[32], y[32];
    struct arca_buf da, db;
    arca_buf_init(&da, 0);
    arca_buf_init(&db, 0);
    assert_int_equal(arca_x509_to_der(a, &da), 0);
    assert_int_equal(arca_x509_to_der(b, &db), 0);
    assert_int_equal(arca_sha256(da.data, da.len, x), 0);
    assert_int_equal(arca_sha256(db.data, db.len, y), 0);
    arca_buf_free(&da);
    arca_buf_free(&db);
    return memcmp(x, y, 32) == 0;
}

static void test_render_certs(void **state)
{
    (void)state;
    struct arca_secret_set *s = fixture();
    struct arca_x509 *leaf = arca_secret_value_cert(get(s, "leaf"));
    struct arca_x509 *inter = arca_secret_value_cert(get(s, "inter"));
    struct arca_x509 *root = arca_secret_value_cert(get(s, "root"));
    struct arca_buf b;
    arca_buf_init_secret(&b, 0);
    struct arca_x509 **list;
    size_t n;

    const char *crt_pem[] = {"$$SCONE::leaf$$", "$$SCONE::leaf:crt$$", "$$SCONE::leaf:crt:pem$$",
                             "$$SCONE::leaf.crt$$"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(expand(s, crt_pem[i], &b), 0);
        n = count_certs(&b, &list);
        assert_int_equal(n, 1);
        assert_true(cert_eq(list[0], leaf));
        arca_x509_list_free(list, n);
    }
    assert_int_equal(expand(s, "$$SCONE::leaf:crt:der$$", &b), 0);
    struct arca_x509 *c;
    assert_int_equal(arca_x509_from_der(b.data, b.len, &c), 0);
    assert_true(cert_eq(c, leaf));
    arca_x509_free(c);

    /* chain: intermediates up to the root, leaf excluded */
    assert_int_equal(expand(s, "$$SCONE::leaf:chain$$", &b), 0);
    n = count_certs(&b, &list);
    assert_int_equal(n, 2);
    assert_true(cert_eq(list[0], inter));
    assert_true(cert_eq(list[1], root));
    arca_x509_list_free(list, n);
    /* legacy .chain: reversed, leaf included */
    assert_int_equal(expand(s, "$$SCONE::leaf.chain$$", &b), 0);
    n = count_certs(&b, &list);
    assert_int_equal(n, 3);
    assert_true(cert_eq(list[0], root));
    assert_true(cert_eq(list[1], inter));
    assert_true(cert_eq(list[2], leaf));
    arca_x509_list_free(list, n);
    /* a self-signed root has an empty chain */
    assert_int_equal(expand(s, "[$$SCONE::root:chain$$]", &b), 0);
    assert_string_equal(arca_buf_cstr(&b), "[]");

    /* the certificate's private key in all its forms */
    uint8_t want[32];
    assert_int_equal(arca_key_id(arca_secret_value_key(get(s, "leaf_key")), want), 0);
    const char *keys[] = {
        "$$SCONE::leaf:privatekey$$",           "$$SCONE::leaf:privatekey:pem$$",
        "$$SCONE::leaf:privatekey:pkcs8:pem$$", "$$SCONE::leaf.key$$",
        "$$SCONE::leaf:privatekey:der$$",       "$$SCONE::leaf:privatekey:pkcs8:der$$"};
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(expand(s, keys[i], &b), 0);
        struct arca_key *k;
        if (i < 4)
            assert_int_equal(arca_key_from_pem(b.data, b.len, &k), 0);
        else
            assert_int_equal(arca_key_from_der(b.data, b.len, &k), 0);
        uint8_t got[32];
        assert_int_equal(arca_key_id(k, got), 0);
        assert_memory_equal(got, want, 32);
        arca_key_free(k);
    }

    /* PKCS#12 with an empty password */
    assert_int_equal(expand(s, "$$SCONE::leaf:pkcs12-with-private-key$$", &b), 0);
    struct arca_key *pk = NULL;
    struct arca_x509 *pc = NULL;
    int rc = arca_pkcs12_parse(b.data, b.len, "", &pk, &pc);
    if (rc != 0)
        print_error("pkcs12: %s\n", arca_err_detail());
    assert_int_equal(rc, 0);
    assert_true(cert_eq(pc, leaf));
    uint8_t got[32];
    assert_int_equal(arca_key_id(pk, got), 0);
    assert_memory_equal(got, want, 32);
    arca_key_free(pk);
    arca_x509_free(pc);

    /* x509 formats do not apply to other kinds and vice versa */
    assert_int_equal(expand(s, "$$SCONE::leaf:hex$$", &b), ARCA_ERR_FORMAT);
    assert_int_equal(expand(s, "$$SCONE::leaf:legacy-chain$$", &b), ARCA_ERR_FORMAT);
    struct arca_buf direct;
    arca_buf_init(&direct, 0);
    assert_int_equal(arca_secret_value_render(get(s, "bin"), "crt:pem", &direct), ARCA_ERR_FORMAT);
    assert_int_equal(arca_secret_value_render(get(s, "leaf"), "bogus", &direct), ARCA_ERR_FORMAT);
    assert_int_equal(direct.len, 0);
    arca_buf_free(&direct);
    arca_buf_free(&b);
    arca_secret_set_free(s);
}

/* ---- explicit values ------------------------------------------------------------------------ */

static void pem_of(const struct arca_secret_value *v, const char *format, struct arca_buf *out)
{
    assert_int_equal(arca_secret_value_render(v, format, out), 0);
}

static void test_explicit_values(void **state)
{
    (void)state;
    struct arca_secret_set *gen = fixture();
    struct arca_buf leaf_pem, key_pem, chain_pem, bundle;
    arca_buf_init_secret(&leaf_pem, 0);
    arca_buf_init_secret(&key_pem, 0);
    arca_buf_init_secret(&chain_pem, 0);
    arca_buf_init_secret(&bundle, 0);
    pem_of(get(gen, "leaf"), "crt:pem", &leaf_pem);
    pem_of(get(gen, "leaf_key"), "pkcs8:pem", &key_pem);
    pem_of(get(gen, "leaf"), "chain", &chain_pem);
    assert_int_equal(arca_buf_put(&bundle, leaf_pem.data, leaf_pem.len), 0);
    assert_int_equal(arca_buf_put(&bundle, chain_pem.data, chain_pem.len), 0);
    assert_int_equal(arca_buf_put_str(&bundle, "\n"), 0);
    assert_int_equal(arca_buf_put(&bundle, key_pem.data, key_pem.len), 0);

    struct arca_secret_spec specs[] = {
        {.name = "a", .kind = ARCA_SECRET_ASCII, .value = "hello world", .value_len = 11},
        {.name = "b", .kind = ARCA_SECRET_BINARY, .value = "DEADbeef", .value_len = 8},
        {.name = "k",
         .kind = ARCA_SECRET_PRIVATE_KEY,
         .value = (const char *)key_pem.data,
         .value_len = key_pem.len},
        {.name = "c_bundle",
         .kind = ARCA_SECRET_X509,
         .value = (const char *)bundle.data,
         .value_len = bundle.len},
        {.name = "c_ref",
         .kind = ARCA_SECRET_X509,
         .value = (const char *)leaf_pem.data,
         .value_len = leaf_pem.len,
         .private_key = "k"},
        {.name = "c_alone",
         .kind = ARCA_SECRET_X509,
         .value = (const char *)leaf_pem.data,
         .value_len = leaf_pem.len},
    };
    struct arca_secret_set *s;
    assert_int_equal(arca_secret_set_new(&s), 0);
    int rc = arca_secrets_generate(specs, 6, NULL, NOW, s);
    if (rc != 0)
        print_error("explicit: %s\n", arca_err_detail());
    assert_int_equal(rc, 0);
    size_t len;
    assert_memory_equal(arca_secret_value_bytes(get(s, "a"), &len), "hello world", 11);
    assert_int_equal(arca_secret_value_flags(get(s, "a")), 0);
    const uint8_t *b = arca_secret_value_bytes(get(s, "b"), &len);
    assert_int_equal(len, 4);
    assert_memory_equal(b, "\xde\xad\xbe\xef", 4);
    expand_is(s, "$$SCONE::b:hex$$", "deadbeef");
    size_t n;
    arca_secret_value_chain(get(s, "c_bundle"), &n);
    assert_int_equal(n, 2);
    assert_non_null(arca_secret_value_key(get(s, "c_bundle")));
    assert_non_null(arca_secret_value_key(get(s, "c_ref")));
    assert_null(arca_secret_value_key(get(s, "c_alone")));
    struct arca_buf out;
    arca_buf_init_secret(&out, 0);
    assert_int_equal(expand(s, "$$SCONE::c_alone:privatekey$$", &out), ARCA_ERR_NOT_FOUND);
    assert_non_null(strstr(arca_err_detail(), "private key is not available"));
    assert_int_equal(expand(s, "$$SCONE::c_bundle.chain$$", &out), 0);
    arca_buf_free(&out);
    arca_secret_set_free(s);

    /* Bad explicit values: each error names the secret, never the value. */
    struct arca_key *other;
    assert_int_equal(arca_key_generate(ARCA_KEY_P256, &other), 0);
    struct {
        enum arca_secret_kind kind;
        const char *value;
        size_t len;
        struct arca_key *key;
        const char *detail;
    } bad[] = {
        {ARCA_SECRET_ASCII, "SECRETVALUE\0x", 13, NULL, "NUL"},
        {ARCA_SECRET_BINARY, "SECRETVALUE", 11, NULL, "hex"},
        {ARCA_SECRET_BINARY, "abc", 3, NULL, "odd length"},
        {ARCA_SECRET_PRIVATE_KEY, "SECRETVALUE", 11, NULL, "explicit private-key value"},
        {ARCA_SECRET_X509, "SECRETVALUE", 11, NULL, "text outside PEM blocks"},
        {ARCA_SECRET_X509, (const char *)key_pem.data, key_pem.len, NULL,
         "no CERTIFICATE PEM block"},
        {ARCA_SECRET_X509, (const char *)leaf_pem.data, leaf_pem.len, other,
         "does not belong to the certificate"},
        {ARCA_SECRET_X509, (const char *)bundle.data, bundle.len, other,
         "differs from the private_key secret"},
        {ARCA_SECRET_X509, "-----BEGIN CERTIFICATE-----\nSECRETVALUE\n", 41, NULL, "no END line"},
        {ARCA_SECRET_X509, "-----BEGIN FOO-----\nSECRETVALUE\n-----END FOO-----\n", 51, NULL,
         "unexpected PEM block \"FOO\""},
        {ARCA_SECRET_CONFIG_FRAGMENT, "x", 1, NULL, "not handled here"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct arca_secret_value *v = NULL;
        rc = arca_secret_value_parse("sec_name", bad[i].kind, bad[i].value, bad[i].len, bad[i].key,
                                     &v);
        const char *d = arca_err_detail();
        if (rc == 0 || strstr(d, bad[i].detail) == NULL)
            print_error("bad %zu: rc %d detail %s\n", i, rc, d);
        assert_true(rc < 0);
        assert_null(v);
        assert_non_null(strstr(d, "sec_name"));
        assert_non_null(strstr(d, bad[i].detail));
        assert_null(strstr(d, "SECRETVALUE"));
        assert_null(strstr(d, "MII")); /* no base64 of DER */
    }
    arca_key_free(other);
    arca_buf_free(&leaf_pem);
    arca_buf_free(&key_pem);
    arca_buf_free(&chain_pem);
    arca_buf_free(&bundle);
    arca_secret_set_free(gen);
}

/* Errors from rendering and expansion never carry the value either. */
static void test_no_value_in_details(void **state)
{
    (void)state;
    struct arca_secret_set *s;
    assert_int_equal(arca_secret_set_new(&s), 0);
    struct arca_secret_value *v;
    const char *secret = "TOPSECRET\xff";
    assert_int_equal(arca_secret_value_new_bytes(ARCA_SECRET_ASCII, secret, 10, 0, &v), 0);
    assert_int_equal(arca_secret_set_add(s, "pw", 2, v), 0);
    arca_secret_value_free(v);
    struct arca_buf b;
    arca_buf_init_secret(&b, 4);
    const char *texts[] = {"$$SCONE::pw|escape(json)$$", "$$SCONE::pw:hex$$", "$$SCONE::pw$$ more"};
    for (size_t i = 0; i < 3; i++) {
        assert_true(arca_placeholder_expand(texts[i], strlen(texts[i]), arca_secret_set_render, s,
                                            false, &b) < 0);
        assert_null(strstr(arca_err_detail(), "TOPSECRET"));
        assert_int_equal(b.len, 0);
    }
    arca_buf_free(&b);
    arca_secret_set_free(s);
}

static void test_value_api(void **state)
{
    (void)state;
    struct arca_secret_value *v;
    assert_int_equal(arca_secret_value_new_bytes(ARCA_SECRET_X509, "x", 1, 0, &v),
                     ARCA_ERR_INVALID_ARG);
    assert_int_equal(arca_secret_value_new_bytes(ARCA_SECRET_BINARY, "a\0b", 3, 0, &v), 0);
    assert_ptr_equal(arca_secret_value_ref(v), v);
    arca_secret_value_free(v); /* one reference left */
    size_t len = 99;
    assert_non_null(arca_secret_value_bytes(v, &len));
    assert_int_equal(len, 3);
    assert_null(arca_secret_value_chain(v, &len));
    arca_secret_value_free(v);
    arca_secret_value_free(NULL);
    assert_int_equal(arca_secret_value_kind(NULL), ARCA_SECRET_NONE);

    struct arca_key *pub, *k;
    assert_int_equal(arca_key_generate(ARCA_KEY_P256, &k), 0);
    struct arca_buf spki;
    arca_buf_init(&spki, 0);
    assert_int_equal(arca_key_spki_der(k, &spki), 0);
    assert_int_equal(arca_key_from_der(spki.data, spki.len, &pub), 0);
    assert_int_equal(arca_secret_value_new_key(pub, 0, &v), ARCA_ERR_INVALID_ARG);
    arca_buf_free(&spki);
    arca_key_free(pub);
    arca_key_free(k);

    struct arca_secret_set *s;
    assert_int_equal(arca_secret_set_new(&s), 0);
    assert_int_equal(arca_secret_value_new_bytes(ARCA_SECRET_ASCII, "one", 3, 0, &v), 0);
    assert_int_equal(arca_secret_set_add(s, "", 0, v), ARCA_ERR_INVALID_ARG);
    assert_int_equal(arca_secret_set_add(s, "n", 1, v), 0);
    struct arca_secret_value *w;
    assert_int_equal(arca_secret_value_new_bytes(ARCA_SECRET_ASCII, "two", 3, 0, &w), 0);
    assert_int_equal(arca_secret_set_put(s, "n", 1, w), 0);
    assert_ptr_equal(get(s, "n"), w);
    assert_int_equal(arca_secret_set_put(s, "m", 1, v), 0);
    assert_int_equal(arca_secret_set_count(s), 2);
    assert_string_equal(arca_secret_set_name_at(s, 1), "m");
    assert_null(arca_secret_set_name_at(s, 2));
    assert_null(arca_secret_set_value_at(s, 2));
    arca_secret_value_free(v);
    arca_secret_value_free(w);
    arca_secret_set_free(s);
    arca_secret_set_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_bytes),        cmocka_unit_test(test_render_keys),
        cmocka_unit_test(test_render_certs),        cmocka_unit_test(test_explicit_values),
        cmocka_unit_test(test_no_value_in_details), cmocka_unit_test(test_value_api),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
