/*
 * Building the delivered configuration from a session (launch_config.h): command split and
 * @@N, environment with \@\@NAME and placeholders, pwd, injection files; every refusal names
 * what is wrong; and the REPORTDATA binding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/launch_config.h"
#include "base/enc.h"
#include "base/err.h"
#include "crypto/crypto.h"
#include "policy/session.h"
#include "secrets/secrets.h"

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
    struct arca_diag d;
    arca_diag_init(&d);
    int rc = arca_session_load(yaml, strlen(yaml), "t.yaml", &f->s, &d);
    if (rc < 0) {
        struct arca_buf b;
        arca_buf_init(&b, 0);
        arca_diag_format(&d, &b);
        fprintf(stderr, "%s", arca_buf_cstr(&b));
        arca_buf_free(&b);
    }
    arca_diag_free(&d);
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
    int rc = arca_launch_config_build(f.s, svc, &host, arca_secret_set_render, f.set, &out);
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
    assert_int_equal(arca_launch_config_build(f.s, svc, &host, arca_secret_set_render, f.set, &out),
                     ARCA_ERR_POLICY);
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
    assert_int_equal(arca_launch_config_build(f.s, svc, &host, arca_secret_set_render, f.set, &out),
                     ARCA_ERR_NOT_FOUND);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build),
        cmocka_unit_test(test_host_args_refused),
        cmocka_unit_test(test_missing_secret),
        cmocka_unit_test(test_binding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
