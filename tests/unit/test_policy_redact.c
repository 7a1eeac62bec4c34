/* The session YAML redactor (policy/redact.h): what a human reading a session sees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "policy/redact.h"

static void test_redact(void **state)
{
    static const char yaml[] = "name: s\n"
                               "version: \"0.3\"\n"
                               "secrets:\n"
                               "  - name: a\n"
                               "    kind: ascii\n"
                               "    value: \"TOPSECRET1\"\n"
                               "  - name: b\n"
                               "    kind: binary\n"
                               "    value: |\n"
                               "      TOPSECRET2\n"
                               "  - name: c\n"
                               "    kind: ascii\n"
                               "    value: \"$$SCONE::a$$\"\n"
                               "volumes:\n"
                               "  - name: v\n"
                               "    fspf_key: TOPSECRET3\n"
                               "services:\n"
                               "  - name: x\n"
                               "    environment:\n"
                               "      value: TOPSECRET4\n"
                               "    attestation:\n"
                               "      - one_time_password_shared_secret: {nested: TOPSECRET5}\n"
                               "        mrenclave: [abc]\n";
    struct arca_buf out;
    arca_buf_init(&out, 0);
    assert_int_equal(arca_session_redact(yaml, strlen(yaml), &out), 0);
    const char *s = arca_buf_cstr(&out);
    assert_null(strstr(s, "TOPSECRET"));
    assert_non_null(strstr(s, "$$SCONE::a$$"));
    assert_non_null(strstr(s, "mrenclave"));
    assert_non_null(strstr(s, "<redacted>"));
    arca_buf_free(&out);
    arca_buf_init(&out, 0);
    assert_int_equal(arca_session_redact("a: [1\n", 6, &out), ARCA_ERR_FORMAT);
    assert_int_equal(out.len, 0);
    assert_int_equal(arca_session_redact("a: &x 1\nb: *x\n", 14, &out), ARCA_ERR_FORMAT);
    arca_buf_free(&out);
}

/* A secret-bearing value is kept only when it is exactly one placeholder, in every field. */
static void test_placeholder_exact(void **state)
{
    (void)state;
    static const char *const fields[] = {"value", "fspf_key", "one_time_password_shared_secret",
                                         "service_access_token", "application_secret"};
    static const struct {
        const char *value;
        bool kept;
    } cases[] = {
        {"\"$$SCONE::a$$\"", true},
        {"\"$$SCONE::a:hex$$\"", true},
        {"\"$$SCONE::a|escape(json)$$\"", true},
        {"\"$$SCONE::a$$ TOPSECRET\"", false},
        {"\"TOPSECRET$$SCONE::a$$\"", false},
        {"\"$$SCONE::a$$$$SCONE::b$$\"", false},
        {"\"$$SCONE::TOPSECRET\"", false}, /* unterminated */
        {"\" $$SCONE::a$$\"", false},
        {"[\"$$SCONE::a$$\", TOPSECRET]", false},
    };
    for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            char yaml[256];
            snprintf(yaml, sizeof(yaml), "name: s\nx:\n  %s: %s\n", fields[f], cases[i].value);
            struct arca_buf out;
            arca_buf_init(&out, 0);
            assert_int_equal(arca_session_redact(yaml, strlen(yaml), &out), 0);
            const char *s = arca_buf_cstr(&out);
            bool leaked = strstr(s, "TOPSECRET") != NULL || strstr(s, "$$SCONE::b") != NULL;
            bool kept = strstr(s, "$$SCONE::a") != NULL;
            if (leaked || kept != cases[i].kept || (!kept && strstr(s, "<redacted>") == NULL))
                fail_msg("%s: %s -> %s", fields[f], cases[i].value, s);
            arca_buf_free(&out);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redact),
        cmocka_unit_test(test_placeholder_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
