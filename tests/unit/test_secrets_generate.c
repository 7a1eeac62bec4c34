/*
 * Secret generation per kind, certificate chains verified by OpenSSL (X509_verify_cert through
 * arca_x509_verify_chain) with the expected SAN/EKU/validity, dependency order, external
 * values, and the migration rules on update.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/err.h"
#include "crypto/crypto.h"
#include "secrets/secrets.h"

#define NOW ((int64_t)1790000000) /* 2026-09-21 */
#define DAY ((int64_t)86400)

static struct arca_secret_set *new_set(void)
{
    struct arca_secret_set *s;
    assert_int_equal(arca_secret_set_new(&s), 0);
    return s;
}

static struct arca_secret_value *get(const struct arca_secret_set *s, const char *name)
{
    return arca_secret_set_get(s, name, strlen(name));
}

static void generate_ok(const struct arca_secret_spec *specs, size_t n,
                        const struct arca_secret_set *old, struct arca_secret_set *set)
{
    int rc = arca_secrets_generate(specs, n, old, NOW, set);
    if (rc != 0)
        print_error("generate: %s\n", arca_err_detail());
    assert_int_equal(rc, 0);
}

/* ---- ascii, binary, keys ------------------------------------------------------------------- */

static void test_ascii_binary(void **state)
{
    (void)state;
    struct arca_secret_spec specs[] = {
        {.name = "pw", .kind = ARCA_SECRET_ASCII},
        {.name = "long_pw", .kind = ARCA_SECRET_ASCII, .size = 200},
        {.name = "blob", .kind = ARCA_SECRET_BINARY},
        {.name = "fs_key", .kind = ARCA_SECRET_BINARY, .size = 32},
    };
    struct arca_secret_set *s = new_set();
    generate_ok(specs, 4, NULL, s);
    assert_int_equal(arca_secret_set_count(s), 4);

    size_t len;
    const uint8_t *pw = arca_secret_value_bytes(get(s, "pw"), &len);
    assert_int_equal(len, 20);
    const uint8_t *lp = arca_secret_value_bytes(get(s, "long_pw"), &len);
    assert_int_equal(len, 200);
    for (size_t i = 0; i < 200; i++) {
        /* printable, no NUL, none of the quoting characters */
        assert_true(lp[i] > 0x20 && lp[i] < 0x7f);
        assert_null(strchr("\"'\\`$", lp[i]));
    }
    assert_int_equal(pw[20], 0); /* ascii values are also C strings */
    assert_int_equal(arca_secret_value_flags(get(s, "pw")), ARCA_SECRET_FLAG_GENERATED);
    assert_int_equal(arca_secret_value_kind(get(s, "blob")), ARCA_SECRET_BINARY);
    const uint8_t *b1 = arca_secret_value_bytes(get(s, "blob"), &len);
    assert_int_equal(len, 20);
    const uint8_t *b2 = arca_secret_value_bytes(get(s, "fs_key"), &len);
    assert_int_equal(len, 32);
    assert_memory_not_equal(b1, b2, 20);
    assert_null(arca_secret_value_key(get(s, "pw")));
    assert_null(arca_secret_value_cert(get(s, "pw")));

    /* Two generations differ. */
    struct arca_secret_set *s2 = new_set();
    generate_ok(specs, 1, NULL, s2);
    assert_memory_not_equal(arca_secret_value_bytes(get(s2, "pw"), NULL), pw, 20);
    arca_secret_set_free(s2);
    arca_secret_set_free(s);

    /* Too large. */
    struct arca_secret_spec big = {.name = "big", .kind = ARCA_SECRET_BINARY, .size = 1 << 20};
    s = new_set();
    assert_int_equal(arca_secrets_generate(&big, 1, NULL, NOW, s), ARCA_ERR_TOO_LARGE);
    assert_non_null(strstr(arca_err_detail(), "secret 'big'"));
    arca_secret_set_free(s);
}

static void test_private_keys(void **state)
{
    (void)state;
    struct {
        enum arca_key_type spec;
        enum arca_key_type want;
        int bits;
    } cases[] = {
        {ARCA_KEY_NONE, ARCA_KEY_P256, 256},        {ARCA_KEY_P256, ARCA_KEY_P256, 256},
        {ARCA_KEY_P384, ARCA_KEY_P384, 384},        {ARCA_KEY_ED25519, ARCA_KEY_ED25519, 0},
        {ARCA_KEY_RSA2048, ARCA_KEY_RSA2048, 2048}, {ARCA_KEY_RSA3072, ARCA_KEY_RSA3072, 3072},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct arca_secret_spec sp = {
            .name = "k", .kind = ARCA_SECRET_PRIVATE_KEY, .key_type = cases[i].spec};
        struct arca_secret_set *s = new_set();
        generate_ok(&sp, 1, NULL, s);
        struct arca_key *k = arca_secret_value_key(get(s, "k"));
        assert_non_null(k);
        assert_true(arca_key_has_private(k));
        assert_int_equal(arca_key_type(k), cases[i].want);
        if (cases[i].bits)
            assert_int_equal(arca_key_bits(k), cases[i].bits);
        /* The key signs and verifies. */
        struct arca_buf sig;
        arca_buf_init(&sig, 0);
        assert_int_equal(arca_sign(k, ARCA_SHA256, "m", 1, &sig), 0);
        assert_int_equal(arca_verify(k, ARCA_SHA256, "m", 1, sig.data, sig.len), 0);
        arca_buf_free(&sig);
        arca_secret_set_free(s);
    }
    struct arca_secret_spec bad[] = {
        {.name = "k", .kind = ARCA_SECRET_PRIVATE_KEY, .key_type = ARCA_KEY_RSA4096},
        {.name = "k", .kind = ARCA_SECRET_PRIVATE_KEY, .key_type = ARCA_KEY_X25519},
        {.name = "a", .kind = ARCA_SECRET_AAD_TOKEN},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct arca_secret_set *s = new_set();
        assert_int_equal(arca_secrets_generate(&bad[i], 1, NULL, NOW, s), ARCA_ERR_UNSUPPORTED);
        assert_int_equal(arca_secret_set_count(s), 0);
        arca_secret_set_free(s);
    }
}

/* ---- certificates -------------------------------------------------------------------------- */

static const char *const web_dns[] = {"web.example.org", "www.example.org"};
static const char *const web_san[] = {"ip:127.0.0.1", "dns:alt.example.org"};

/* Deliberately leaf first: generation must follow the references. */
static const struct arca_secret_spec pki[] = {
    {.name = "web",
     .kind = ARCA_SECRET_X509,
     .private_key = "web_key",
     .issuer = "inter",
     .endpoint = ARCA_EKU_SERVER,
     .dns = web_dns,
     .dns_count = 2,
     .san = web_san,
     .san_count = 2,
     .valid_for = 90 * DAY},
    {.name = "client",
     .kind = ARCA_SECRET_X509,
     .issuer = "inter",
     .common_name = "app client",
     .endpoint = ARCA_EKU_CLIENT},
    {.name = "inter",
     .kind = ARCA_SECRET_X509_CA,
     .private_key = "inter_key",
     .issuer = "root",
     .valid_for = 365 * DAY},
    {.name = "root", .kind = ARCA_SECRET_X509_CA, .private_key = "root_key"},
    {.name = "web_key", .kind = ARCA_SECRET_PRIVATE_KEY},
    {.name = "inter_key", .kind = ARCA_SECRET_PRIVATE_KEY, .key_type = ARCA_KEY_P384},
    {.name = "root_key", .kind = ARCA_SECRET_PRIVATE_KEY, .key_type = ARCA_KEY_ED25519},
    {.name = "self", .kind = ARCA_SECRET_X509, .san = web_san + 1, .san_count = 1},
};
#define PKI_COUNT (sizeof(pki) / sizeof(pki[0]))

static void cn_is(const struct arca_x509 *c, const char *want)
{
    struct arca_buf b;
    arca_buf_init(&b, 0);
    assert_int_equal(arca_x509_subject_cn(c, &b), 0);
    assert_string_equal(arca_buf_cstr(&b), want);
    arca_buf_free(&b);
}

static void test_certificate_chain(void **state)
{
    (void)state;
    struct arca_secret_set *s = new_set();
    generate_ok(pki, PKI_COUNT, NULL, s);
    assert_int_equal(arca_secret_set_count(s), PKI_COUNT);

    struct arca_secret_value *web = get(s, "web"), *inter = get(s, "inter"), *root = get(s, "root"),
                             *client = get(s, "client");
    struct arca_x509 *root_c = arca_secret_value_cert(root);
    struct arca_x509 *inter_c = arca_secret_value_cert(inter);
    struct arca_x509 *web_c = arca_secret_value_cert(web);
    struct arca_x509 *client_c = arca_secret_value_cert(client);
    const struct arca_x509 *roots[] = {root_c};
    const struct arca_x509 *untrusted[] = {inter_c};

    /* OpenSSL's chain verification, with the right purpose, at now. */
    int rc = arca_x509_verify_chain(web_c, untrusted, 1, roots, 1, NULL, 0, NOW, ARCA_EKU_SERVER);
    if (rc != 0)
        print_error("verify: %s\n", arca_err_detail());
    assert_int_equal(rc, 0);
    assert_int_equal(
        arca_x509_verify_chain(client_c, untrusted, 1, roots, 1, NULL, 0, NOW, ARCA_EKU_CLIENT), 0);
    /* Wrong purpose, missing intermediate, expired. */
    assert_int_not_equal(
        arca_x509_verify_chain(web_c, untrusted, 1, roots, 1, NULL, 0, NOW, ARCA_EKU_CLIENT), 0);
    assert_int_not_equal(
        arca_x509_verify_chain(client_c, untrusted, 1, roots, 1, NULL, 0, NOW, ARCA_EKU_SERVER), 0);
    assert_int_not_equal(
        arca_x509_verify_chain(web_c, NULL, 0, roots, 1, NULL, 0, NOW, ARCA_EKU_SERVER), 0);
    assert_int_equal(arca_x509_verify_chain(web_c, untrusted, 1, roots, 1, NULL, 0, NOW + 91 * DAY,
                                            ARCA_EKU_SERVER),
                     ARCA_ERR_EXPIRED);

    /* CN defaults: first DNS name, else the secret name; explicit common_name wins. */
    cn_is(web_c, "web.example.org");
    cn_is(client_c, "app client");
    cn_is(root_c, "root");
    cn_is(arca_secret_value_cert(get(s, "self")), "alt.example.org");

    /* SAN: dns entries first, then san as written. */
    struct arca_buf san;
    arca_buf_init(&san, 0);
    assert_int_equal(arca_x509_san(web_c, &san), 0);
    assert_string_equal(arca_buf_cstr(&san),
                        "dns:web.example.org\ndns:www.example.org\nip:127.0.0.1\n"
                        "dns:alt.example.org");
    arca_buf_free(&san);

    /* Validity: back-dated a little; valid_for; without it 10 years for a CA and 1 year for a
     * leaf (never 9999-12-31); never beyond the issuer. */
    int64_t nb, na;
    assert_int_equal(arca_x509_validity(web_c, &nb, &na), 0);
    assert_int_equal(nb, NOW - ARCA_SECRET_BACKDATE_SECONDS);
    assert_int_equal(na, NOW + 90 * DAY);
    assert_int_equal(arca_x509_validity(root_c, &nb, &na), 0);
    assert_int_equal(na, NOW + 3650 * DAY);
    struct arca_secret_value *self = get(s, "self");
    assert_int_equal(arca_x509_validity(arca_secret_value_cert(self), &nb, &na), 0);
    assert_int_equal(na, NOW + 365 * DAY);
    assert_int_equal(arca_x509_validity(client_c, &nb, &na), 0);
    assert_int_equal(na, NOW + 365 * DAY); /* clamped to the intermediate */

    /* CA flags, keys, chains. */
    assert_true(arca_x509_is_ca(root_c));
    assert_true(arca_x509_is_ca(inter_c));
    assert_false(arca_x509_is_ca(web_c));
    uint8_t a[32], b[32];
    assert_int_equal(arca_x509_key_id(web_c, a), 0);
    assert_int_equal(arca_key_id(arca_secret_value_key(get(s, "web_key")), b), 0);
    assert_memory_equal(a, b, 32);
    assert_ptr_equal(arca_secret_value_key(web), arca_secret_value_key(get(s, "web_key")));
    assert_non_null(arca_secret_value_key(client)); /* a fresh key of its own */
    assert_int_equal(arca_key_type(arca_secret_value_key(client)), ARCA_KEY_P256);
    size_t n;
    struct arca_x509 *const *chain = arca_secret_value_chain(web, &n);
    assert_int_equal(n, 2);
    assert_ptr_equal(chain[0], inter_c);
    assert_ptr_equal(chain[1], root_c);
    arca_secret_value_chain(root, &n);
    assert_int_equal(n, 0);
    assert_int_equal(arca_x509_verify_signature(inter_c, arca_secret_value_key(get(s, "root_key"))),
                     0);

    /* Renewal: past two thirds of 90 days. */
    assert_false(arca_secret_value_needs_renewal(web, NOW));
    assert_false(arca_secret_value_needs_renewal(web, NOW + 59 * DAY));
    assert_true(arca_secret_value_needs_renewal(web, NOW + 61 * DAY));
    assert_false(arca_secret_value_needs_renewal(root, NOW + 2400 * DAY));
    assert_true(arca_secret_value_needs_renewal(root, NOW + 2450 * DAY));
    assert_false(arca_secret_value_needs_renewal(self, NOW + 240 * DAY));
    assert_true(arca_secret_value_needs_renewal(self, NOW + 245 * DAY));
    assert_false(arca_secret_value_needs_renewal(get(s, "web_key"), NOW));
    arca_secret_set_free(s);
}

static void key_id_of(const struct arca_secret_set *s, const char *name, uint8_t out[32])
{
    assert_int_equal(arca_key_id(arca_secret_value_key(get(s, name)), out), 0);
}

static void test_renewal(void **state)
{
    (void)state;
    struct arca_secret_set *s = new_set();
    generate_ok(pki, PKI_COUNT, NULL, s);
    struct arca_secret_value *web0 = arca_secret_value_ref(get(s, "web"));
    struct arca_secret_value *client0 = arca_secret_value_ref(get(s, "client"));
    size_t renewed = 99;
    assert_int_equal(arca_secrets_renew(pki, PKI_COUNT, NOW + 10 * DAY, s, &renewed), 0);
    assert_int_equal(renewed, 0);
    assert_ptr_equal(get(s, "web"), web0);

    /* Past 2/3 of 90 days: only the web certificate, with the same key. */
    int64_t t1 = NOW + 61 * DAY;
    assert_int_equal(arca_secrets_renew(pki, PKI_COUNT, t1, s, &renewed), 0);
    assert_int_equal(renewed, 1);
    assert_ptr_not_equal(get(s, "web"), web0);
    assert_ptr_equal(get(s, "client"), client0);
    assert_ptr_equal(arca_secret_value_key(get(s, "web")), arca_secret_value_key(web0));
    int64_t nb, na;
    assert_int_equal(arca_x509_validity(arca_secret_value_cert(get(s, "web")), &nb, &na), 0);
    assert_int_equal(nb, t1 - ARCA_SECRET_BACKDATE_SECONDS);
    assert_int_equal(na, t1 + 90 * DAY);
    const struct arca_x509 *roots[] = {arca_secret_value_cert(get(s, "root"))};
    const struct arca_x509 *untrusted[] = {arca_secret_value_cert(get(s, "inter"))};
    assert_int_equal(arca_x509_verify_chain(arca_secret_value_cert(get(s, "web")), untrusted, 1,
                                            roots, 1, NULL, 0, t1 + 80 * DAY, ARCA_EKU_SERVER),
                     0);

    /* Past 2/3 of the intermediate's year: it and everything it issued, keys unchanged; and
     * the self-signed leaf, whose default validity is a year too. */
    uint8_t before[32], after[32];
    key_id_of(s, "client", before);
    assert_int_equal(arca_secrets_renew(pki, PKI_COUNT, NOW + 250 * DAY, s, &renewed), 0);
    assert_int_equal(renewed, 4);
    key_id_of(s, "client", after);
    assert_memory_equal(before, after, 32);
    assert_ptr_not_equal(get(s, "client"), client0);
    roots[0] = arca_secret_value_cert(get(s, "root"));
    untrusted[0] = arca_secret_value_cert(get(s, "inter"));
    assert_int_equal(arca_x509_verify_chain(arca_secret_value_cert(get(s, "client")), untrusted, 1,
                                            roots, 1, NULL, 0, NOW + 300 * DAY, ARCA_EKU_CLIENT),
                     0);
    assert_int_equal(arca_secret_set_count(s), PKI_COUNT);
    arca_secret_value_free(web0);
    arca_secret_value_free(client0);
    arca_secret_set_free(s);
}

static void test_generation_errors(void **state)
{
    (void)state;
    struct {
        struct arca_secret_spec specs[3];
        size_t n;
        int rc;
        const char *detail;
    } cases[] = {
        {{{.name = "a", .kind = ARCA_SECRET_X509_CA, .issuer = "b"},
          {.name = "b", .kind = ARCA_SECRET_X509_CA, .issuer = "a"}},
         2,
         ARCA_ERR_FORMAT,
         "circular"},
        {{{.name = "a", .kind = ARCA_SECRET_X509_CA, .issuer = "a"}},
         1,
         ARCA_ERR_FORMAT,
         "circular"},
        {{{.name = "c", .kind = ARCA_SECRET_X509, .private_key = "pw"},
          {.name = "pw", .kind = ARCA_SECRET_ASCII}},
         2,
         ARCA_ERR_INVALID_ARG,
         "secret 'c': private_key 'pw' is a ascii secret, not private-key"},
        {{{.name = "c", .kind = ARCA_SECRET_X509, .issuer = "leaf"},
          {.name = "leaf", .kind = ARCA_SECRET_X509}},
         2,
         ARCA_ERR_INVALID_ARG,
         "issuer 'leaf' is a x509 secret, not x509-ca"},
        {{{.name = "c", .kind = ARCA_SECRET_X509, .issuer = "nope"}},
         1,
         ARCA_ERR_NOT_FOUND,
         "issuer 'nope' has no value"},
        {{{.name = "c", .kind = ARCA_SECRET_X509, .private_key = "k"},
          {.name = "k", .kind = ARCA_SECRET_PRIVATE_KEY, .external = true}},
         2,
         ARCA_ERR_NOT_FOUND,
         "private_key 'k' has no value"},
        {{{.name = "c", .kind = ARCA_SECRET_X509_CA, .endpoint = ARCA_EKU_SERVER}},
         1,
         ARCA_ERR_INVALID_ARG,
         "not x509-ca"},
        {{{.name = "c",
           .kind = ARCA_SECRET_X509,
           .endpoint = ARCA_EKU_CLIENT,
           .dns = web_dns,
           .dns_count = 1}},
         1,
         ARCA_ERR_INVALID_ARG,
         "dns is not allowed with endpoint: client"},
        {{{.name = "c", .kind = ARCA_SECRET_X509, .san = web_dns, .san_count = 1}},
         1,
         ARCA_ERR_INVALID_ARG,
         "san entry 0 must start with dns: or ip:"},
        {{{.name = "x", .kind = ARCA_SECRET_ASCII}, {.name = "x", .kind = ARCA_SECRET_BINARY}},
         2,
         ARCA_ERR_INVALID_ARG,
         "'x' is defined twice"},
        {{{.name = "", .kind = ARCA_SECRET_ASCII}}, 1, ARCA_ERR_INVALID_ARG, "no usable name"},
        {{{.name = "n", .kind = ARCA_SECRET_NONE}}, 1, ARCA_ERR_INVALID_ARG, "no kind"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct arca_secret_set *s = new_set();
        /* A value already in the set must survive a failed generation untouched. */
        struct arca_secret_value *keep;
        assert_int_equal(arca_secret_value_new_bytes(ARCA_SECRET_ASCII, "kept", 4, 0, &keep), 0);
        assert_int_equal(arca_secret_set_add(s, "keep", 4, keep), 0);
        int rc = arca_secrets_generate(cases[i].specs, cases[i].n, NULL, NOW, s);
        if (rc != cases[i].rc || strstr(arca_err_detail(), cases[i].detail) == NULL)
            print_error("case %zu: rc %d detail %s\n", i, rc, arca_err_detail());
        assert_int_equal(rc, cases[i].rc);
        assert_non_null(strstr(arca_err_detail(), cases[i].detail));
        assert_int_equal(arca_secret_set_count(s), 1);
        assert_ptr_equal(get(s, "keep"), keep);
        arca_secret_value_free(keep);
        arca_secret_set_free(s);
    }
}

/* ---- external values --------------------------------------------------------------------- */

static void test_external_values(void **state)
{
    (void)state;
    struct arca_secret_set *s = new_set();
    struct arca_key *k;
    assert_int_equal(arca_key_generate(ARCA_KEY_P256, &k), 0);
    struct arca_secret_value *kv, *pw;
    assert_int_equal(arca_secret_value_new_key(k, ARCA_SECRET_FLAG_EXTERNAL, &kv), 0);
    assert_int_equal(arca_secret_value_new_bytes(ARCA_SECRET_ASCII, "imported", 8,
                                                 ARCA_SECRET_FLAG_EXTERNAL, &pw),
                     0);
    assert_int_equal(arca_secret_set_add(s, "imported_key", 12, kv), 0);
    assert_int_equal(arca_secret_set_add(s, "imported_pw", 11, pw), 0);
    assert_int_equal(arca_secret_set_add(s, "imported_pw", 11, pw), ARCA_ERR_EXISTS);

    struct arca_secret_spec specs[] = {
        {.name = "cert", .kind = ARCA_SECRET_X509, .private_key = "imported_key"},
        {.name = "imported_key", .kind = ARCA_SECRET_PRIVATE_KEY, .external = true},
        {.name = "imported_pw", .kind = ARCA_SECRET_ASCII, .external = true},
        {.name = "later", .kind = ARCA_SECRET_BINARY, .external = true},
        {.name = "frag", .kind = ARCA_SECRET_CONFIG_FRAGMENT},
    };
    generate_ok(specs, 5, NULL, s);
    assert_int_equal(arca_secret_set_count(s), 3);
    assert_ptr_equal(get(s, "imported_pw"), pw);
    assert_ptr_equal(get(s, "imported_key"), kv);
    assert_null(get(s, "later"));
    assert_null(get(s, "frag"));
    uint8_t a[32], b[32];
    assert_int_equal(arca_x509_key_id(arca_secret_value_cert(get(s, "cert")), a), 0);
    assert_int_equal(arca_key_id(k, b), 0);
    assert_memory_equal(a, b, 32);
    arca_secret_value_free(kv);
    arca_secret_value_free(pw);
    arca_key_free(k);
    arca_secret_set_free(s);
}

/* ---- migration ----------------------------------------------------------------------------- */

static bool same_bytes(const struct arca_secret_value *a, const struct arca_secret_value *b)
{
    size_t la, lb;
    const uint8_t *pa = arca_secret_value_bytes(a, &la), *pb = arca_secret_value_bytes(b, &lb);
    return la == lb && memcmp(pa, pb, la) == 0;
}

static bool same_key(const struct arca_key *a, const struct arca_key *b)
{
    uint8_t x[32], y[32];
    assert_int_equal(arca_key_id(a, x), 0);
    assert_int_equal(arca_key_id(b, y), 0);
    return memcmp(x, y, 32) == 0;
}

static bool same_cert(const struct arca_x509 *a, const struct arca_x509 *b)
{
    struct arca_buf x, y;
    arca_buf_init(&x, 0);
    arca_buf_init(&y, 0);
    assert_int_equal(arca_x509_to_der(a, &x), 0);
    assert_int_equal(arca_x509_to_der(b, &y), 0);
    bool eq = x.len == y.len && memcmp(x.data, y.data, x.len) == 0;
    arca_buf_free(&x);
    arca_buf_free(&y);
    return eq;
}

static void test_migration(void **state)
{
    (void)state;
    static const char key_pem_hex[] = "00112233";
    struct arca_secret_spec v1[] = {
        {.name = "pw", .kind = ARCA_SECRET_ASCII},
        {.name = "pw_resized", .kind = ARCA_SECRET_ASCII},
        {.name = "pw_rekinded", .kind = ARCA_SECRET_ASCII},
        {.name = "bin", .kind = ARCA_SECRET_BINARY, .size = 32},
        {.name = "bin_explicit", .kind = ARCA_SECRET_BINARY, .value = key_pem_hex, .value_len = 8},
        {.name = "k_both", .kind = ARCA_SECRET_PRIVATE_KEY, .migrate = true},
        {.name = "k_old_only", .kind = ARCA_SECRET_PRIVATE_KEY, .migrate = true},
        {.name = "k_new_only", .kind = ARCA_SECRET_PRIVATE_KEY},
        {.name = "k_neither", .kind = ARCA_SECRET_PRIVATE_KEY},
        {.name = "k_retyped", .kind = ARCA_SECRET_PRIVATE_KEY, .migrate = true},
        {.name = "ca", .kind = ARCA_SECRET_X509_CA, .private_key = "k_both"},
        {.name = "gone", .kind = ARCA_SECRET_ASCII},
    };
    struct arca_secret_spec v2[] = {
        {.name = "pw", .kind = ARCA_SECRET_ASCII, .size = 20},
        {.name = "pw_resized", .kind = ARCA_SECRET_ASCII, .size = 21},
        {.name = "pw_rekinded", .kind = ARCA_SECRET_BINARY},
        {.name = "bin", .kind = ARCA_SECRET_BINARY, .size = 32},
        {.name = "bin_explicit", .kind = ARCA_SECRET_BINARY, .size = 4},
        {.name = "k_both", .kind = ARCA_SECRET_PRIVATE_KEY, .migrate = true},
        {.name = "k_old_only", .kind = ARCA_SECRET_PRIVATE_KEY},
        {.name = "k_new_only", .kind = ARCA_SECRET_PRIVATE_KEY, .migrate = true},
        {.name = "k_neither", .kind = ARCA_SECRET_PRIVATE_KEY},
        {.name = "k_retyped",
         .kind = ARCA_SECRET_PRIVATE_KEY,
         .migrate = true,
         .key_type = ARCA_KEY_P384},
        {.name = "ca", .kind = ARCA_SECRET_X509_CA, .private_key = "k_both"},
        {.name = "new", .kind = ARCA_SECRET_ASCII},
    };
    size_t n1 = sizeof(v1) / sizeof(v1[0]), n2 = sizeof(v2) / sizeof(v2[0]);
    struct arca_secret_set *old = new_set(), *cur = new_set();
    generate_ok(v1, n1, NULL, old);
    generate_ok(v2, n2, old, cur);
    assert_int_equal(arca_secret_set_count(cur), n2);
    assert_null(get(cur, "gone"));

    /* kept */
    assert_ptr_equal(get(cur, "pw"), get(old, "pw"));
    assert_ptr_equal(get(cur, "bin"), get(old, "bin"));
    assert_ptr_equal(get(cur, "k_both"), get(old, "k_both"));
    /* regenerated */
    assert_false(same_bytes(get(cur, "pw_resized"), get(old, "pw_resized")));
    assert_int_equal(arca_secret_value_kind(get(cur, "pw_rekinded")), ARCA_SECRET_BINARY);
    /* an explicit value was seen by a human: never kept as if generated */
    assert_int_equal(arca_secret_value_flags(get(old, "bin_explicit")), 0);
    assert_false(same_bytes(get(cur, "bin_explicit"), get(old, "bin_explicit")));
    const char *regen[] = {"k_old_only", "k_new_only", "k_neither", "k_retyped"};
    for (size_t i = 0; i < 4; i++)
        assert_false(same_key(arca_secret_value_key(get(cur, regen[i])),
                              arca_secret_value_key(get(old, regen[i]))));
    assert_int_equal(arca_key_type(arca_secret_value_key(get(cur, "k_retyped"))), ARCA_KEY_P384);
    /* x509: always re-issued, here with the migrated key */
    assert_false(
        same_cert(arca_secret_value_cert(get(cur, "ca")), arca_secret_value_cert(get(old, "ca"))));
    assert_true(
        same_key(arca_secret_value_key(get(cur, "ca")), arca_secret_value_key(get(old, "ca"))));
    /* flags carry the migrate decision into the next update */
    assert_int_equal(arca_secret_value_flags(get(cur, "k_new_only")),
                     ARCA_SECRET_FLAG_GENERATED | ARCA_SECRET_FLAG_MIGRATE);
    assert_int_equal(arca_secret_value_flags(get(cur, "k_old_only")), ARCA_SECRET_FLAG_GENERATED);

    /* A third version: k_new_only now migrates (both say so). */
    struct arca_secret_set *v3 = new_set();
    generate_ok(v2, n2, cur, v3);
    assert_ptr_equal(get(v3, "k_new_only"), get(cur, "k_new_only"));
    assert_ptr_equal(get(v3, "k_retyped"), get(cur, "k_retyped"));
    assert_false(same_key(arca_secret_value_key(get(v3, "k_old_only")),
                          arca_secret_value_key(get(cur, "k_old_only"))));
    arca_secret_set_free(v3);
    arca_secret_set_free(old);
    arca_secret_set_free(cur);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ascii_binary),      cmocka_unit_test(test_private_keys),
        cmocka_unit_test(test_certificate_chain), cmocka_unit_test(test_generation_errors),
        cmocka_unit_test(test_external_values),   cmocka_unit_test(test_migration),
        cmocka_unit_test(test_renewal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
