/*
 * Building the delivered configuration from a session (attest/launch_config.h) and encoding it
 * on the wire (api/attest_wire.h): command split and @@N, environment with \@\@NAME and
 * placeholders, pwd, injection files; every refusal names what is wrong; text the wire cannot
 * carry is refused exactly where jansson would refuse it; and the REPORTDATA binding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/binding.h"
#include "attest/launch_config.h"
#include "base/enc.h"
#include "base/err.h"
#include "crypto/crypto.h"
#include "policy/session.h"
#include "secrets/secrets.h"
#include "test_util.h"

static const char *yaml_base =
    "name: launch-test\n"
    "version: \"0.3.10\"\n"
    "services:\n"
    "  - name: app\n"
    "    command: /bin/prog \"two words\" @@2 $$SCONE::pw$$ @@1\n"
    "    environment:\n"
    "      PW: \"$$SCONE::pw$$\"\n"
    "      PLAIN: hello\n"
    "      \\@\\@HOSTVAR: ignored\n"
    "      \\@\\@UNSETVAR: ignored\n"
    "    pwd: /srv\n"
    "    image_name: img\n"
    "    attestation:\n"
    "      mrenclave: [\"c79bf44242829108e323378531f4ac839513ca1fba45efd6583643526e1e9fd2\"]\n"
    "images:\n"
    "  - name: img\n"
    "    injection_files:\n"
    "      - path: /etc/app.conf\n"
    "        permission: 0o640\n"
    "        content: |\n"
    "          password=$$SCONE::pw$$\n"
    "secrets:\n"
    "  - name: pw\n"
    "    kind: ascii\n"
    "    value: \"s3cr\\\"et\"\n"
    "security:\n"
    "  attestation:\n"
    "    mode: simulation\n";

struct fixture {
    struct arca_session *s;
    struct arca_secret_set *set;
};

static int load(const char *yaml, struct fixture *f)
{
    int rc = test_session_load(yaml, "t.yaml", &f->s);
    if (rc < 0)
        return rc;
    rc = arca_secret_set_new(&f->set);
    if (rc < 0)
        return rc;
    const struct arca_secret *sec = arca_session_find_secret(f->s, "pw");
    if (sec != NULL) {
        struct arca_secret_value *v = NULL;
        rc = arca_secret_value_new_bytes(ARCA_SECRET_ASCII, sec->value.s, sec->value.len, 0, &v);
        if (rc == 0)
            rc = arca_secret_set_add(f->set, "pw", 2, v);
        arca_secret_value_free(v);
    }
    return rc;
}

static void unload(struct fixture *f)
{
    arca_session_free(f->s);
    arca_secret_set_free(f->set);
    f->s = NULL;
    f->set = NULL;
}

/* Builds and encodes, as the pipeline does; out unchanged on failure. */
static int build(const struct fixture *f, const struct arca_service *svc,
                 const struct arca_launch_host *host, struct arca_buf *out)
{
    struct arca_launch_config c;
    int rc = arca_launch_config_build(f->s, svc, host, arca_secret_set_render, f->set, &c);
    if (rc == 0)
        rc = arca_launch_config_encode(&c, out);
    arca_launch_config_free(&c);
    return rc;
}

static char yaml[4096];

static void fill_yaml(void)
{
    snprintf(yaml, sizeof(yaml), "%s", yaml_base);
}

static const char *hargv[] = {"/bin/prog", "first", "second"};
static const char *henv_n[] = {"HOSTVAR", "OTHER"};
static const char *henv_v[] = {"from-host", "not-wanted"};

static void test_build(void **state)
{
    (void)state;
    fill_yaml();
    struct fixture f = {0};
    assert_int_equal(load(yaml, &f), 0);
    const struct arca_service *svc = arca_session_find_service(f.s, "app");
    assert_non_null(svc);
    struct arca_launch_host host = {hargv, 3, henv_n, henv_v, 2};
    struct arca_buf out;
    arca_buf_init_secret(&out, 0);
    int rc = build(&f, svc, &host, &out);
    if (rc < 0)
        fail_msg("build: %s", arca_err_detail());
    json_error_t jerr;
    json_t *j = json_loadb((const char *)out.data, out.len, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL)
        fail_msg("not JSON: %s", jerr.text);
    json_t *argv = json_object_get(j, "argv");
    assert_int_equal(json_array_size(argv), 5);
    assert_string_equal(json_string_value(json_array_get(argv, 0)), "/bin/prog");
    assert_string_equal(json_string_value(json_array_get(argv, 1)), "two words");
    assert_string_equal(json_string_value(json_array_get(argv, 2)), "second");
    assert_string_equal(json_string_value(json_array_get(argv, 3)), "s3cr\"et");
    assert_string_equal(json_string_value(json_array_get(argv, 4)), "first");
    json_t *env = json_object_get(j, "env");
    assert_int_equal(json_object_size(env), 4);
    assert_string_equal(json_string_value(json_object_get(env, "PW")), "s3cr\"et");
    assert_string_equal(json_string_value(json_object_get(env, "PLAIN")), "hello");
    assert_string_equal(json_string_value(json_object_get(env, "HOSTVAR")), "from-host");
    assert_string_equal(json_string_value(json_object_get(env, "UNSETVAR")), "");
    assert_null(json_object_get(env, "OTHER"));
    assert_string_equal(json_string_value(json_object_get(j, "pwd")), "/srv");
    json_t *files = json_object_get(j, "files");
    assert_int_equal(json_array_size(files), 1);
    json_t *f0 = json_array_get(files, 0);
    assert_string_equal(json_string_value(json_object_get(f0, "path")), "/etc/app.conf");
    assert_int_equal(json_integer_value(json_object_get(f0, "mode")), 0640);
    struct arca_buf content;
    arca_buf_init(&content, 0);
    const char *b64 = json_string_value(json_object_get(f0, "content"));
    assert_int_equal(arca_base64_decode(&content, b64, strlen(b64)), 0);
    assert_string_equal(arca_buf_cstr(&content), "password=s3cr\"et\n");
    arca_buf_free(&content);
    json_decref(j);
    arca_buf_free(&out);
    unload(&f);
}

static void test_host_args_refused(void **state)
{
    (void)state;
    fill_yaml();
    struct fixture f = {0};
    assert_int_equal(load(yaml, &f), 0);
    const struct arca_service *svc = arca_session_find_service(f.s, "app");
    struct arca_launch_host host = {hargv, 2, NULL, NULL, 0}; /* no @@2 */
    struct arca_buf out;
    arca_buf_init_secret(&out, 0);
    assert_int_equal(build(&f, svc, &host, &out), ARCA_ERR_POLICY);
    assert_non_null(strstr(arca_err_detail(), "@@2"));
    assert_int_equal(out.len, 0);
    arca_buf_free(&out);
    unload(&f);
}

static void test_missing_secret(void **state)
{
    (void)state;
    fill_yaml();
    struct fixture f = {0};
    assert_int_equal(load(yaml, &f), 0);
    arca_secret_set_free(f.set);
    assert_int_equal(arca_secret_set_new(&f.set), 0); /* empty: pw missing */
    const struct arca_service *svc = arca_session_find_service(f.s, "app");
    struct arca_launch_host host = {hargv, 3, NULL, NULL, 0};
    struct arca_buf out;
    arca_buf_init_secret(&out, 0);
    assert_int_equal(build(&f, svc, &host, &out), ARCA_ERR_NOT_FOUND);
    assert_non_null(strstr(arca_err_detail(), "services[app]"));
    assert_non_null(strstr(arca_err_detail(), "pw"));
    assert_int_equal(out.len, 0);
    arca_buf_free(&out);
    unload(&f);
}

static void test_binding(void **state)
{
    (void)state;
    uint8_t spki[91], nonce[32], a[64], b[64];
    memset(spki, 1, sizeof(spki));
    memset(nonce, 2, sizeof(nonce));
    assert_int_equal(arca_launch_binding(spki, sizeof(spki), nonce, "s/svc", a), 0);
    /* Equals SHA-512 over the concatenation. */
    struct arca_buf cat;
    arca_buf_init(&cat, 0);
    arca_buf_put_str(&cat, "arca-attest-v1");
    arca_buf_put(&cat, spki, sizeof(spki));
    arca_buf_put(&cat, nonce, sizeof(nonce));
    arca_buf_put_str(&cat, "s/svc");
    assert_int_equal(arca_hash(ARCA_SHA512, cat.data, cat.len, b), 0);
    assert_memory_equal(a, b, 64);
    arca_buf_free(&cat);
    /* Any input changes it. */
    assert_int_equal(arca_launch_binding(spki, sizeof(spki), nonce, "s/svc@123456", b), 0);
    assert_memory_not_equal(a, b, 64);
    nonce[0] ^= 1;
    assert_int_equal(arca_launch_binding(spki, sizeof(spki), nonce, "s/svc", b), 0);
    assert_memory_not_equal(a, b, 64);
}

/* The text check of the builder and the encoder against jansson, which arca-run decodes with:
 * each case is refused by us exactly when jansson refuses it (and the table says which). */
static const struct {
    const char *bytes;
    bool valid;
} utf8_cases[] = {
    {"plain", true},
    {"\xc2\x80", true},              /* U+0080, smallest 2-byte */
    {"\xdf\xbf", true},              /* U+07FF */
    {"\xe0\xa0\x80", true},          /* U+0800, smallest 3-byte */
    {"\xed\x9f\xbf", true},          /* U+D7FF, just below the surrogates */
    {"\xee\x80\x80", true},          /* U+E000, just above them */
    {"\xef\xbf\xbf", true},          /* U+FFFF */
    {"\xf0\x90\x80\x80", true},      /* U+10000, smallest 4-byte */
    {"\xf4\x8f\xbf\xbf", true},      /* U+10FFFF, the last code point */
    {"\x80", false},                 /* a lone continuation byte */
    {"\xbf", false},                 /* another */
    {"\xc0\x80", false},             /* overlong NUL */
    {"\xc1\xbf", false},             /* overlong U+007F */
    {"\xe0\x80\x80", false},         /* overlong 3-byte */
    {"\xe0\x9f\xbf", false},         /* overlong U+07FF */
    {"\xed\xa0\x80", false},         /* U+D800, a UTF-16 surrogate */
    {"\xed\xbf\xbf", false},         /* U+DFFF */
    {"\xf0\x80\x80\x80", false},     /* overlong 4-byte */
    {"\xf0\x8f\xbf\xbf", false},     /* overlong U+FFFF */
    {"\xf4\x90\x80\x80", false},     /* U+110000, above the last code point */
    {"\xf5\x80\x80\x80", false},     /* 0xF5: never a lead byte */
    {"\xf7\xbf\xbf\xbf", false},     /* 0xF7 */
    {"\xf8\x88\x80\x80\x80", false}, /* 5-byte form */
    {"\xfe", false},
    {"\xff", false},
    {"\xc2", false},         /* truncated 2-byte */
    {"\xe0\xa0", false},     /* truncated 3-byte */
    {"\xf0\x90\x80", false}, /* truncated 4-byte */
    {"ok\xc2", false},       /* truncated at the end */
    {"\xc2\x41", false},     /* lead byte without its continuation */
};

static bool jansson_accepts(const char *bytes)
{
    char quoted[64];
    snprintf(quoted, sizeof(quoted), "[\"%s\"]", bytes);
    json_t *j = json_loads(quoted, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
    json_decref(j);
    return j != NULL;
}

static void test_utf8_as_jansson(void **state)
{
    (void)state;
    fill_yaml();
    struct fixture f = {0};
    assert_int_equal(load(yaml, &f), 0);
    const struct arca_service *svc = arca_session_find_service(f.s, "app");
    for (size_t i = 0; i < sizeof(utf8_cases) / sizeof(utf8_cases[0]); i++) {
        const char *b = utf8_cases[i].bytes;
        bool want = utf8_cases[i].valid;
        if (jansson_accepts(b) != want)
            fail_msg("case %zu: the table disagrees with jansson", i);
        /* The builder, through a host variable pulled in by \@\@HOSTVAR. */
        const char *names[] = {"HOSTVAR"};
        const char *values[] = {b};
        struct arca_launch_host host = {hargv, 3, names, values, 1};
        struct arca_buf out;
        arca_buf_init_secret(&out, 0);
        int rc = build(&f, svc, &host, &out);
        if ((rc == 0) != want)
            fail_msg("case %zu: builder %s", i, rc == 0 ? "accepted" : arca_err_detail());
        if (!want) {
            assert_int_equal(rc, ARCA_ERR_FORMAT);
            assert_non_null(strstr(arca_err_detail(), "HOSTVAR"));
            assert_int_equal(out.len, 0);
        }
        arca_buf_free(&out);
        /* The encoder on its own, and the decoder on what it made. */
        char arg[16];
        snprintf(arg, sizeof(arg), "%s", b);
        char *argv[] = {arg, NULL};
        struct arca_launch_config c = {.argv = argv, .argc = 1, .pwd = (char *)"/"};
        struct arca_buf enc;
        arca_buf_init_secret(&enc, 0);
        rc = arca_launch_config_encode(&c, &enc);
        if ((rc == 0) != want)
            fail_msg("case %zu: encoder %s", i, rc == 0 ? "accepted" : arca_err_detail());
        if (rc == 0) {
            struct arca_launch_config back;
            assert_int_equal(arca_launch_config_decode(enc.data, enc.len, &back), 0);
            assert_string_equal(back.argv[0], b);
            arca_launch_config_free(&back);
        } else {
            assert_non_null(strstr(arca_err_detail(), "argv[0]"));
            assert_int_equal(enc.len, 0);
        }
        arca_buf_free(&enc);
    }
    unload(&f);
}

/* What the builder makes survives the wire unchanged. */
static void test_encode_decode_round_trip(void **state)
{
    (void)state;
    fill_yaml();
    struct fixture f = {0};
    assert_int_equal(load(yaml, &f), 0);
    const struct arca_service *svc = arca_session_find_service(f.s, "app");
    struct arca_launch_host host = {hargv, 3, henv_n, henv_v, 2};
    struct arca_launch_config c, back;
    assert_int_equal(arca_launch_config_build(f.s, svc, &host, arca_secret_set_render, f.set, &c),
                     0);
    struct arca_buf enc;
    arca_buf_init_secret(&enc, 0);
    assert_int_equal(arca_launch_config_encode(&c, &enc), 0);
    assert_int_equal(arca_launch_config_decode(enc.data, enc.len, &back), 0);
    assert_int_equal(back.argc, c.argc);
    for (size_t i = 0; i < c.argc; i++)
        assert_string_equal(back.argv[i], c.argv[i]);
    assert_int_equal(back.envc, c.envc);
    for (size_t i = 0; i < c.envc; i++)
        assert_string_equal(back.envp[i], c.envp[i]);
    assert_string_equal(back.envp[0], "PW=s3cr\"et");
    assert_string_equal(back.pwd, "/srv");
    assert_int_equal(back.nfiles, 1);
    assert_string_equal(back.files[0].path, "/etc/app.conf");
    assert_int_equal(back.files[0].mode, 0640);
    assert_memory_equal(back.files[0].content, c.files[0].content, c.files[0].len);
    arca_launch_config_free(&back);
    arca_launch_config_free(&c);
    arca_buf_free(&enc);
    unload(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build),           cmocka_unit_test(test_host_args_refused),
        cmocka_unit_test(test_missing_secret),  cmocka_unit_test(test_binding),
        cmocka_unit_test(test_utf8_as_jansson), cmocka_unit_test(test_encode_decode_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
