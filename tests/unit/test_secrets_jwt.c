/*
 * kind: jwt secrets: the token's shape (three base64url parts without padding, the header and
 * claims as documented), its ES384 signature in JOSE r||s form verified over the signing input,
 * lifetime (validity for/until, the default), no migration across versions, renewal at two
 * thirds, the sealed-store codec, and the other JWS algorithms of crypto_jws.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "base/buf.h"
#include "base/enc.h"
#include "base/err.h"
#include "crypto/crypto.h"
#include "crypto/jws.h"
#include "secrets/secrets.h"

#define NOW ((int64_t)1790000000)

static const char *const claims[] = {"sub", "service-a", "aud", "db \"main\""};

static struct arca_secret_set *make(const struct arca_secret_spec *specs, size_t n,
                                    const struct arca_secret_set *old, int64_t now)
{
    struct arca_secret_set *s;
    assert_int_equal(arca_secret_set_new(&s), 0);
    int rc = arca_secrets_generate(specs, n, old, now, s);
    if (rc != 0)
        print_error("generate: %s\n", arca_err_detail());
    assert_int_equal(rc, 0);
    return s;
}

/* The token of secret name in s as a C string (borrowed). */
static const char *token(const struct arca_secret_set *s, const char *name)
{
    struct arca_secret_value *v = arca_secret_set_get(s, name, strlen(name));
    assert_non_null(v);
    assert_int_equal(arca_secret_value_kind(v), ARCA_SECRET_JWT);
    size_t len;
    const char *t = (const char *)arca_secret_value_bytes(v, &len);
    assert_non_null(t);
    assert_int_equal(strlen(t), len);
    return t;
}

/* Decodes part i (0 header, 1 claims) of token t as JSON (json_decref). */
static json_t *part(const char *t, int i)
{
    const char *p = t;
    for (int k = 0; k < i; k++)
        p = strchr(p, '.') + 1;
    const char *e = strchr(p, '.');
    struct arca_buf b;
    arca_buf_init(&b, 0);
    assert_int_equal(arca_base64url_decode(&b, p, (size_t)(e - p)), 0);
    json_t *j = json_loadb((const char *)b.data, b.len, JSON_REJECT_DUPLICATES, NULL);
    arca_buf_free(&b);
    assert_non_null(j);
    return j;
}

/* Verifies the ES384 signature of t (raw r||s, 96 bytes) with key k. */
static int verify_es384(const char *t, const struct arca_key *k)
{
    const char *last = strrchr(t, '.');
    struct arca_buf sig;
    arca_buf_init(&sig, 0);
    assert_int_equal(arca_base64url_decode(&sig, last + 1, strlen(last + 1)), 0);
    assert_int_equal(sig.len, 96);
    int rc = arca_verify_ecdsa_raw(k, ARCA_SHA384, t, (size_t)(last - t), sig.data, sig.data + 48,
                                   48, false);
    arca_buf_free(&sig);
    return rc;
}

static void test_token_shape_and_signature(void **state)
{
    (void)state;
    struct arca_secret_spec specs[] = {
        {.name = "tok",
         .kind = ARCA_SECRET_JWT,
         .signer = "k",
         .jwt_alg = "ES384",
         .jwt_valid_for = 3600,
         .claims = claims,
         .claims_count = 4},
        {.name = "k", .kind = ARCA_SECRET_PRIVATE_KEY, .key_type = ARCA_KEY_P384},
    };
    struct arca_secret_set *s = make(specs, 2, NULL, NOW);
    const char *t = token(s, "tok");
    assert_null(strchr(t, '='));
    assert_null(strchr(t, '+'));
    assert_null(strchr(t, '/'));

    json_t *h = part(t, 0);
    assert_string_equal(json_string_value(json_object_get(h, "alg")), "ES384");
    assert_string_equal(json_string_value(json_object_get(h, "typ")), "JWT");
    assert_int_equal(json_object_size(h), 2);
    json_decref(h);
    json_t *c = part(t, 1);
    assert_string_equal(json_string_value(json_object_get(c, "sub")), "service-a");
    assert_string_equal(json_string_value(json_object_get(c, "aud")), "db \"main\"");
    assert_int_equal(json_integer_value(json_object_get(c, "iat")), NOW);
    assert_int_equal(json_integer_value(json_object_get(c, "nbf")), NOW);
    assert_int_equal(json_integer_value(json_object_get(c, "exp")), NOW + 3600);
    assert_int_equal(json_object_size(c), 5);
    json_decref(c);

    struct arca_key *k = arca_secret_value_key(arca_secret_set_get(s, "k", 1));
    assert_int_equal(verify_es384(t, k), 0);
    /* another key, or a changed claim, does not verify */
    struct arca_key *other;
    assert_int_equal(arca_key_generate(ARCA_KEY_P384, &other), 0);
    assert_int_equal(verify_es384(t, other), ARCA_ERR_SIGNATURE);
    arca_key_free(other);

    /* the placeholder gives the token; no other format applies */
    struct arca_buf out;
    arca_buf_init_secret(&out, 0);
    assert_int_equal(arca_secret_set_render((void *)s, "tok", 3, "", &out), 0);
    assert_int_equal(out.len, strlen(t));
    assert_memory_equal(out.data, t, out.len);
    arca_buf_reset(&out);
    assert_int_equal(arca_secret_set_render((void *)s, "tok", 3, "hex", &out), ARCA_ERR_FORMAT);
    arca_buf_free(&out);

    /* the sealed-store codec keeps it */
    struct arca_buf enc;
    arca_buf_init_secret(&enc, 0);
    assert_int_equal(arca_secret_set_encode(s, &enc), 0);
    struct arca_secret_set *d;
    assert_int_equal(arca_secret_set_decode(enc.data, enc.len, &d), 0);
    assert_string_equal(token(d, "tok"), t);
    arca_secret_set_free(d);
    arca_buf_free(&enc);
    arca_secret_set_free(s);
}

static void test_lifetime_migration_renewal(void **state)
{
    (void)state;
    struct arca_secret_spec specs[] = {
        {.name = "k", .kind = ARCA_SECRET_PRIVATE_KEY, .key_type = ARCA_KEY_P384, .migrate = true},
        {.name = "day", .kind = ARCA_SECRET_JWT, .signer = "k"},
        {.name = "until", .kind = ARCA_SECRET_JWT, .signer = "k", .jwt_until = NOW + 100},
    };
    struct arca_secret_set *s = make(specs, 3, NULL, NOW);
    json_t *c = part(token(s, "day"), 1);
    assert_int_equal(json_integer_value(json_object_get(c, "exp")),
                     NOW + ARCA_SECRET_JWT_DEFAULT_VALID_FOR);
    json_decref(c);
    c = part(token(s, "until"), 1);
    assert_int_equal(json_integer_value(json_object_get(c, "exp")), NOW + 100);
    json_decref(c);

    /* a new version makes a new token (never migrated), with the migrated key */
    struct arca_secret_set *s2 = make(specs, 3, s, NOW + 10);
    assert_string_not_equal(token(s2, "day"), token(s, "day"));
    c = part(token(s2, "day"), 1);
    assert_int_equal(json_integer_value(json_object_get(c, "iat")), NOW + 10);
    json_decref(c);

    /* renewal: not before two thirds of the lifetime, then a fresh token; until-tokens stay */
    struct arca_secret_value *v = arca_secret_set_get(s2, "day", 3);
    assert_false(arca_secret_value_needs_renewal(v, NOW + 10 + 57599));
    assert_true(arca_secret_value_needs_renewal(v, NOW + 10 + 57600));
    size_t renewed = 99;
    assert_int_equal(arca_secrets_renew(specs, 3, NOW + 1000, s2, &renewed), 0);
    assert_int_equal(renewed, 0);
    char *before_until = strdup(token(s2, "until"));
    assert_int_equal(arca_secrets_renew(specs, 3, NOW + 60000, s2, &renewed), 0);
    assert_int_equal(renewed, 1);
    c = part(token(s2, "day"), 1);
    assert_int_equal(json_integer_value(json_object_get(c, "iat")), NOW + 60000);
    json_decref(c);
    assert_string_equal(token(s2, "until"), before_until);
    free(before_until);
    struct arca_key *k = arca_secret_value_key(arca_secret_set_get(s2, "k", 1));
    assert_int_equal(verify_es384(token(s2, "day"), k), 0);

    /* an until already past when the token is made */
    struct arca_secret_set *s3;
    assert_int_equal(arca_secret_set_new(&s3), 0);
    assert_int_equal(arca_secrets_generate(specs, 3, NULL, NOW + 100, s3), ARCA_ERR_INVALID_ARG);
    assert_non_null(strstr(arca_err_detail(), "secret 'until': validity until is already past"));
    assert_int_equal(arca_secret_set_count(s3), 0);
    arca_secret_set_free(s3);
    arca_secret_set_free(s2);
    arca_secret_set_free(s);
}

static void test_wrong_signer(void **state)
{
    (void)state;
    struct arca_secret_spec specs[] = {
        {.name = "k", .kind = ARCA_SECRET_PRIVATE_KEY, .key_type = ARCA_KEY_P256},
        {.name = "t", .kind = ARCA_SECRET_JWT, .signer = "k", .jwt_alg = "ES384"},
        {.name = "a", .kind = ARCA_SECRET_ASCII},
        {.name = "u", .kind = ARCA_SECRET_JWT, .signer = "a"},
    };
    struct arca_secret_set *s;
    assert_int_equal(arca_secret_set_new(&s), 0);
    assert_int_equal(arca_secrets_generate(specs, 2, NULL, NOW, s), ARCA_ERR_INVALID_ARG);
    assert_non_null(strstr(arca_err_detail(), "secret 't'"));
    assert_non_null(strstr(arca_err_detail(), "ES384 needs a p384 key"));
    assert_int_equal(arca_secrets_generate(specs + 2, 2, NULL, NOW, s), ARCA_ERR_INVALID_ARG);
    assert_non_null(strstr(arca_err_detail(), "signer 'a' is a ascii secret, not private-key"));
    arca_secret_set_free(s);
}

/* The other JOSE algorithms: ES256 (32-byte r||s), EdDSA; RS256 signs (verified in e2e). */
static void test_jws_algorithms(void **state)
{
    (void)state;
    static const struct {
        enum arca_key_type t;
        const char *alg;
        size_t siglen;
    } cases[] = {{ARCA_KEY_P256, "ES256", 64},
                 {ARCA_KEY_P384, "ES384", 96},
                 {ARCA_KEY_ED25519, "EdDSA", 64},
                 {ARCA_KEY_RSA2048, "RS256", 256}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct arca_key *k;
        assert_int_equal(arca_key_generate(cases[i].t, &k), 0);
        assert_string_equal(arca_jws_alg_for_key(cases[i].t), cases[i].alg);
        struct arca_buf out;
        arca_buf_init(&out, 0);
        assert_int_equal(arca_jws_sign(k, cases[i].alg, "{}", 2, "{\"a\":1}", 7, &out), 0);
        const char *t = (const char *)out.data;
        const char *last = memchr(t, '.', out.len);
        last = memchr(last + 1, '.', out.len - (size_t)(last + 1 - t));
        assert_non_null(last);
        assert_memory_equal(t, "e30.eyJhIjoxfQ", 14);
        struct arca_buf sig;
        arca_buf_init(&sig, 0);
        assert_int_equal(arca_base64url_decode(&sig, last + 1, out.len - (size_t)(last + 1 - t)),
                         0);
        assert_int_equal(sig.len, cases[i].siglen);
        if (cases[i].t == ARCA_KEY_P256)
            assert_int_equal(arca_verify_ecdsa_raw(k, ARCA_SHA256, t, (size_t)(last - t), sig.data,
                                                   sig.data + 32, 32, false),
                             0);
        if (cases[i].t == ARCA_KEY_ED25519)
            assert_int_equal(arca_verify(k, ARCA_SHA256, t, (size_t)(last - t), sig.data, 64), 0);
        /* the wrong algorithm for the key leaves out as it was */
        size_t had = out.len;
        assert_int_equal(arca_jws_sign(k, cases[i].t == ARCA_KEY_P256 ? "ES384" : "ES256", "{}", 2,
                                       "{}", 2, &out),
                         ARCA_ERR_INVALID_ARG);
        assert_int_equal(out.len, had);
        arca_buf_free(&sig);
        arca_buf_free(&out);
        arca_key_free(k);
    }
    struct arca_key *k;
    assert_int_equal(arca_key_generate(ARCA_KEY_P256, &k), 0);
    struct arca_buf out;
    arca_buf_init(&out, 0);
    assert_int_equal(arca_jws_sign(k, "HS256", "{}", 2, "{}", 2, &out), ARCA_ERR_UNSUPPORTED);
    assert_int_equal(out.len, 0);
    arca_buf_free(&out);
    arca_key_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_shape_and_signature),
        cmocka_unit_test(test_lifetime_migration_renewal),
        cmocka_unit_test(test_wrong_signer),
        cmocka_unit_test(test_jws_algorithms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
