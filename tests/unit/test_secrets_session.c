/*
 * From a session policy (YAML, loaded by the policy module) to secret values: the bridge in
 * secrets/session_specs.h, and placeholders of the policy expanded with the generated values.
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
#include "policy/placeholder.h"
#include "policy/session.h"
#include "secrets/secrets.h"
#include "secrets/session_specs.h"

#define NOW ((int64_t)1790000000)

static const char policy[] = "name: shop\n"
                             "version: \"0.3.10\"\n"
                             "services:\n"
                             "  - name: api\n"
                             "    command: /bin/api --pw $$SCONE::db_pw$$\n"
                             "    pwd: /\n"
                             "    mrenclaves: [\""
                             "0000000000000000000000000000000000000000000000000000000000000000"
                             "\"]\n"
                             "secrets:\n"
                             "  - name: db_pw\n"
                             "    kind: ascii\n"
                             "    size: 24\n"
                             "  - name: token\n"
                             "    kind: binary\n"
                             "    value: \"c0ffee\"\n"
                             "  - name: ca_key\n"
                             "    kind: private-key\n"
                             "    key_type: P-384\n"
                             "    migrate: true\n"
                             "  - name: ca\n"
                             "    kind: x509-ca\n"
                             "    private_key: ca_key\n"
                             "  - name: tls_key\n"
                             "    kind: private-key\n"
                             "  - name: tls\n"
                             "    kind: x509\n"
                             "    private_key: tls_key\n"
                             "    issuer: ca\n"
                             "    endpoint: server\n"
                             "    san: [\"dns:api.shop.example\", \"ip:127.0.0.1\"]\n"
                             "    valid_for: 30 days\n";

static struct arca_session *load(void)
{
    struct arca_diag diag;
    arca_diag_init(&diag);
    struct arca_session *s = NULL;
    int rc = arca_session_load(policy, strlen(policy), "shop.yaml", &s, &diag);
    if (rc != 0) {
        struct arca_buf b;
        arca_buf_init(&b, 0);
        arca_diag_format(&diag, &b);
        print_error("load: %d %s\n%s\n", rc, arca_err_detail(), arca_buf_cstr(&b));
        arca_buf_free(&b);
    }
    arca_diag_free(&diag);
    assert_int_equal(rc, 0);
    return s;
}

static void test_session_specs(void **state)
{
    (void)state;
    struct arca_session *sess = load();
    struct arca_secret_spec *specs;
    size_t n;
    assert_int_equal(arca_secret_specs_from_session(sess, &specs, &n), 0);
    assert_int_equal(n, 6);
    assert_string_equal(specs[0].name, "db_pw");
    assert_int_equal(specs[0].kind, ARCA_SECRET_ASCII);
    assert_int_equal(specs[0].size, 24);
    assert_int_equal(specs[2].key_type, ARCA_KEY_P384);
    assert_true(specs[2].migrate);
    assert_string_equal(specs[5].issuer, "ca");
    assert_int_equal(specs[5].endpoint, ARCA_EKU_SERVER);
    assert_int_equal(specs[5].san_count, 2);
    assert_string_equal(specs[5].san[1], "ip:127.0.0.1");
    assert_int_equal(specs[5].valid_for, 30 * 86400);
    arca_secret_specs_free(specs, n);

    struct arca_secret_set *set, *next;
    assert_int_equal(arca_secret_set_new(&set), 0);
    int rc = arca_secrets_generate_for_session(sess, NULL, NOW, set);
    if (rc != 0)
        print_error("generate: %s\n", arca_err_detail());
    assert_int_equal(rc, 0);
    assert_int_equal(arca_secret_set_count(set), 6);

    struct arca_buf out;
    arca_buf_init_secret(&out, 0);
    const char *text = "--pw $$SCONE::db_pw$$ --token $$SCONE::token:hex$$";
    assert_int_equal(
        arca_placeholder_expand(text, strlen(text), arca_secret_set_render, set, false, &out), 0);
    assert_int_equal(out.len, 5 + 24 + 9 + 6);
    assert_memory_equal(out.data + out.len - 6, "c0ffee", 6);
    arca_buf_free(&out);

    struct arca_secret_value *tls = arca_secret_set_get(set, "tls", 3);
    const struct arca_x509 *roots[] = {arca_secret_value_cert(arca_secret_set_get(set, "ca", 2))};
    assert_int_equal(arca_x509_verify_chain(arca_secret_value_cert(tls), NULL, 0, roots, 1, NULL, 0,
                                            NOW, ARCA_EKU_SERVER),
                     0);

    /* An update of the same policy: ascii and the migrating CA key are kept, certs re-issued. */
    assert_int_equal(arca_secret_set_new(&next), 0);
    assert_int_equal(arca_secrets_generate_for_session(sess, set, NOW + 60, next), 0);
    assert_ptr_equal(arca_secret_set_get(next, "db_pw", 5), arca_secret_set_get(set, "db_pw", 5));
    assert_ptr_equal(arca_secret_set_get(next, "ca_key", 6), arca_secret_set_get(set, "ca_key", 6));
    assert_ptr_not_equal(arca_secret_set_get(next, "tls_key", 7),
                         arca_secret_set_get(set, "tls_key", 7));
    assert_ptr_not_equal(arca_secret_set_get(next, "ca", 2), arca_secret_set_get(set, "ca", 2));
    arca_secret_set_free(next);
    arca_secret_set_free(set);
    arca_session_free(sess);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session_specs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
