/* Cost bounds of secret generation: what counts, what does not, and each limit's message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "secrets/secrets.h"

static void test_counts(void **state)
{
    (void)state;
    struct arca_secret_spec sp[6];
    memset(sp, 0, sizeof(sp));
    sp[0] = (struct arca_secret_spec){.name = "k", .kind = ARCA_SECRET_PRIVATE_KEY};
    sp[1] = (struct arca_secret_spec){
        .name = "r", .kind = ARCA_SECRET_PRIVATE_KEY, .key_type = ARCA_KEY_RSA3072};
    sp[2] = (struct arca_secret_spec){.name = "c", .kind = ARCA_SECRET_X509, .private_key = "k"};
    sp[3] = (struct arca_secret_spec){.name = "ca", .kind = ARCA_SECRET_X509_CA}; /* own key */
    sp[4] = (struct arca_secret_spec){.name = "imp",
                                      .kind = ARCA_SECRET_PRIVATE_KEY,
                                      .key_type = ARCA_KEY_RSA4096,
                                      .external = true};
    sp[5] = (struct arca_secret_spec){
        .name = "v", .kind = ARCA_SECRET_PRIVATE_KEY, .value = "PEM", .value_len = 3};
    struct arca_secrets_limits lim;
    arca_secrets_limits_default(&lim);
    struct arca_secrets_cost c;
    assert_int_equal(arca_secrets_cost_check(sp, 6, &lim, &c), 0);
    assert_int_equal(c.keys, 3);
    assert_int_equal(c.rsa_keys, 1);
    assert_int_equal(c.certificates, 2);
    assert_int_equal(c.cost_ms, 1 + 1000 + 2 + 2 + 1);
}

static void test_limits(void **state)
{
    (void)state;
    struct arca_secret_spec sp[12];
    for (int i = 0; i < 12; i++)
        sp[i] = (struct arca_secret_spec){
            .name = "r", .kind = ARCA_SECRET_PRIVATE_KEY, .key_type = ARCA_KEY_RSA3072};
    struct arca_secrets_limits lim;
    arca_secrets_limits_default(&lim);
    struct arca_secrets_cost c;
    assert_int_equal(arca_secrets_cost_check(sp, 10, &lim, &c), 0); /* exactly 10 s */
    assert_int_equal(arca_secrets_cost_check(sp, 11, &lim, &c), ARCA_ERR_LIMIT);
    assert_non_null(strstr(arca_err_detail(), "11 keys, 11 of them RSA"));
    assert_non_null(strstr(arca_err_detail(), "limit is 10.0 s per session"));
    lim.max_cost_ms = 0;
    lim.max_keys = 5;
    assert_int_equal(arca_secrets_cost_check(sp, 6, &lim, &c), ARCA_ERR_LIMIT);
    assert_non_null(strstr(arca_err_detail(), "6 private keys; the limit is 5"));
    lim.max_keys = 0;
    assert_int_equal(arca_secrets_cost_check(sp, 12, &lim, &c), 0); /* no limits at all */
    struct arca_secret_spec certs[3];
    for (int i = 0; i < 3; i++)
        certs[i] =
            (struct arca_secret_spec){.name = "c", .kind = ARCA_SECRET_X509, .private_key = "k"};
    lim.max_certificates = 2;
    assert_int_equal(arca_secrets_cost_check(certs, 3, &lim, NULL), ARCA_ERR_LIMIT);
    assert_non_null(strstr(arca_err_detail(), "3 certificates; the limit is 2"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
