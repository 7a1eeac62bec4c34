/*
 * The Azure forms of the session language (issue 13 item 8): kind aad-token, import_akv and
 * mode: maa load in the shapes the established CAS documents, are refused by a load for
 * create with the feature named, and load for `arca session hash`, where they are hashed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "policy/session.h"

#define H "name: az\nversion: \"0.3.11\"\n"
#define MR "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* The docs' two aad-token forms and an import_akv that uses the first token. */
#define AAD_SECRET                                                                                 \
    "  - name: ad_token_1\n"                                                                       \
    "    kind: aad-token\n"                                                                        \
    "    tenant_id: e7cac514-f1aa-4e0d-b207-50b1d9a89d21\n"                                        \
    "    client_id: 3f2c210e-83b4-4217-9eee-4f747d8aeeb3\n"                                        \
    "    application_secret: \"dHmbyTBF4JNAN3JJobeD\"\n"
#define AAD_CERT                                                                                   \
    "  - name: ad_token_2\n"                                                                       \
    "    kind: aad-token\n"                                                                        \
    "    tenant_id: e7cac514-f1aa-4e0d-b207-50b1d9a89d21\n"                                        \
    "    client_id: 3f2c210e-83b4-4217-9eee-4f747d8aeeb3\n"                                        \
    "    private_key: |\n"                                                                         \
    "        -----BEGIN PRIVATE KEY-----\n"                                                        \
    "        MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC/l49Fq1uaSf5+\n"                   \
    "        n5yyqU9Zy1wLZ11bfhiDeK+6VJyaBgBGZcU1Bior0UZ2xqUOVkT3hZEt4FT5ePYD\n"                   \
    "        onfoe+SkHQvhbQ87a0U6xQ91s+i+fh3YmqzueOGQgw4ffZAsSDS+PjFvlIvmp30g\n"                   \
    "        qGpEe86t3p/PIhs4zgqvU2R390HjWMC+882OVQcmgVYSO3kgflQb3a8mHRU6Uo1o\n"                   \
    "        +AslR/mkJxy/FCKyCkMLKyKdj8OkW4Y3cPw3sczbEZce6+5Ky3ERT86D/eLkupsU\n"                   \
    "        PjnpyfUD2//c6Bpy1C8WKFVLGJcLqqnyEXG5ZJCHZt8iu3mOY0j+kZyElz0plQSn\n"                   \
    "        KZ0vi+AFAgMBAAECggEAFyjI5tEJ56KeIsxEcsxIjUApxi8ed9rMN8g05b8olu22\n"                   \
    "        xsuyhPBT1KwdamoktZD0ET+SBwug+e8HPfU7rVycjMH+F6fJOZOD8NC1R7MRpUU1\n"                   \
    "        cmNwF/uAuKk+4cuZy+CGj6CQ9T3tk1oXpAT3o4ObviS1CKLEy58MZ5kbAe1fh42T\n"                   \
    "        R6phj/aLzY2ApX+WZ5ckV/8e3jOIQogvqQFv3xff6mDwczK9vl58YqmUgo2vQKpo\n"                   \
    "        oFPHvIeB5SNqwf6Imc7JG67alj2yccrrn1+ICPYFnFG7OaFGUKAUeZatGdOd/aWB\n"                   \
    "        ajDQCRKPEd6GDl5dpQhc6Pjtxk5lA1tk+plyjTMiAQKBgQDsP6Qq0vy/uoUgOg5e\n"                   \
    "        EA8t2B4dKnvJRKTKPejzOZ0ZCpcNQ3MopC1ALGcHrb9HFF19fL2f89/YcOH2vLEu\n"                   \
    "        4g0TAgB6yMlFUMqz8whmAnBbDSt5TLZhoDvOSpRPvmE9+ezqrROyDNS6jFMcIatB\n"                   \
    "        MWTPbFFaJuekp0b17doARuyqQQKBgQDPnCWmqcMOOI/iPs0iEiEUERh5L9aaB+Pa\n"                   \
    "        Aj3sBQK94qG+C2Rz2JnFf8LGVOPAq9veHT+bE06tXYpvab/d1sOSp1I6CahIBii7\n"                   \
    "        TQ6NPz7C7ZkUYecj+47XiBEwH+ujvax049hBhQ27FK8SBJq43g9o6w7bkGpFA8+A\n"                   \
    "        NvAuf93cxQKBgDR0IOgdNl7/c8Vm/n+mAyjDnlQNdbSHWCtLOaifNyEzN7yLKEty\n"                   \
    "        wFVKRonu6tRGUkelZZjZFe9BiPo2hQSKzipVPHQGlqGcQZVYtZmomvesYeWpwajF\n"                   \
    "        YeH4rxtRgte24QJt8TyMGsNcmqtZUmPEKsTfIOTqVG47ccbyy39aP/vBAoGBAMFT\n"                   \
    "        gqwkQYMooLPqD1O+1ha9pLCVH53n4wHMPKVgNSFlvYAfU7ec5/TF+DaALmXoo6G+\n"                   \
    "        UtCxtf4ysQr2yrhlmVEjhqqM+6u2MI/aPcbCMkuKvZYBZSBYzLdf+cF6uA+OPN3M\n"                   \
    "        nkDFCfhAVpbMuteT0X2+BePoI02JMt0OS7LBV3SRAoGAAwJGf1trR0PZaH1NZWSl\n"                   \
    "        qcx3Ljl6G/4Qb0IDgHyaXcgyEqzaMPEIEIzAl4JFLuQQU8LqD5jZj46GG+oh6Emx\n"                   \
    "        vkL8q/AQW7eNIObZuRdn2KMj1OqiMDdvZ/7/j/DlbXYPX/FFZaMjvqW+Ruau/+Ao\n"                   \
    "        d8Mh/XhO2WZCVZAozGXarmo=\n"                                                           \
    "        -----END PRIVATE KEY-----\n"                                                          \
    "    certificate_thumbprint: B033DB596639F3CA02D6537055E85B8EFE060756\n"
#define AKV                                                                                        \
    "  - name: db_password\n"                                                                      \
    "    import_akv:\n"                                                                            \
    "      vault: https://myvault.vault.azure.net\n"                                               \
    "      secret_name: db-password\n"                                                             \
    "      token: ad_token_1\n"
#define USE                                                                                        \
    "services:\n  - name: s\n    attestation: {mrenclave: " MR "}\n"                               \
    "    command: run $$SCONE::db_password$$ $$SCONE::ad_token_2$$\n"

static const char docs[] = H USE "secrets:\n" AAD_SECRET AAD_CERT AKV;

/* Loads y for create: refused, every diagnostic "... is not supported by arca". */
static size_t refused_for_create(const char *y, const char *want)
{
    struct arca_diag diag;
    struct arca_session *s = NULL;
    arca_diag_init(&diag);
    assert_int_equal(arca_session_load(y, strlen(y), "az.yaml", &s, &diag), ARCA_ERR_UNSUPPORTED);
    assert_null(s);
    bool found = false;
    for (size_t i = 0; i < diag.n; i++) {
        assert_non_null(strstr(diag.v[i].msg, "is not supported by arca"));
        assert_null(strstr(diag.v[i].msg, "dHmbyTBF4JNAN3JJobeD")); /* never the credential */
        found = found || strstr(diag.v[i].msg, want) != NULL;
    }
    assert_true(found);
    size_t n = diag.n;
    arca_diag_free(&diag);
    return n;
}

static void hash_of(const char *y, uint8_t h[32])
{
    struct arca_diag diag;
    struct arca_session *s = NULL;
    uint8_t creator[32] = {1};
    arca_diag_init(&diag);
    int rc = arca_session_load_for_hash(y, strlen(y), "az.yaml", &s, &diag);
    for (size_t i = 0; i < diag.n; i++)
        print_message("%s\n", diag.v[i].msg);
    assert_int_equal(rc, 0);
    assert_int_equal(diag.n, 0);
    assert_int_equal(arca_session_hash(s, creator, h), 0);
    arca_session_free(s);
    arca_diag_free(&diag);
}

static void test_docs_shapes_refused_by_name(void **state)
{
    (void)state;
    /* two aad-tokens and one import_akv: three refusals, each naming its feature */
    assert_int_equal(refused_for_create(docs, "secret kind 'aad-token' (tokens are fetched from "
                                              "Azure AD at run time)"),
                     3);
    refused_for_create(docs, "import_akv (secrets are read from Azure Key Vault at run time)");
}

static void test_docs_shapes_load_for_hash(void **state)
{
    (void)state;
    struct arca_diag diag;
    struct arca_session *s = NULL;
    arca_diag_init(&diag);
    assert_int_equal(arca_session_load_for_hash(docs, strlen(docs), "az.yaml", &s, &diag), 0);
    assert_int_equal(s->n_secrets, 3);
    const struct arca_secret *t1 = arca_session_find_secret(s, "ad_token_1");
    const struct arca_secret *t2 = arca_session_find_secret(s, "ad_token_2");
    const struct arca_secret *db = arca_session_find_secret(s, "db_password");
    assert_int_equal(t1->kind, ARCA_SECRET_AAD_TOKEN);
    assert_string_equal(t1->azure->tenant_id.s, "e7cac514-f1aa-4e0d-b207-50b1d9a89d21");
    assert_string_equal(t1->azure->application_secret.s, "dHmbyTBF4JNAN3JJobeD");
    assert_null(t1->azure->private_key.s);
    assert_non_null(strstr(t2->azure->private_key.s, "BEGIN PRIVATE KEY"));
    assert_string_equal(t2->azure->thumbprint.s, "B033DB596639F3CA02D6537055E85B8EFE060756");
    assert_true(db->azure->has_import_akv);
    assert_int_equal(db->kind, ARCA_SECRET_NONE); /* inferred from the vault's object */
    assert_string_equal(db->azure->akv_vault.s, "https://myvault.vault.azure.net");
    assert_string_equal(db->azure->akv_secret.s, "db-password");
    assert_string_equal(db->azure->akv_token.s, "ad_token_1");
    arca_session_free(s);
    arca_diag_free(&diag);
}

/* Each Azure field is part of the session's meaning: changing it changes the hash. */
static void test_azure_fields_hashed(void **state)
{
    (void)state;
    static const char *const variants[] = {
        H USE "secrets:\n" AAD_SECRET AAD_CERT AKV,
        H USE
        "secrets:\n" AAD_SECRET AAD_CERT
        "  - name: db_password\n    import_akv:\n      vault: https://myvault.vault.azure.net\n"
        "      token: ad_token_1\n",
        H USE "secrets:\n" AAD_SECRET AAD_CERT
              "  - name: db_password\n    import_akv:\n      vault: https://other.vault.azure.net\n"
              "      secret_name: db-password\n      token: ad_token_1\n",
        H USE
        "secrets:\n" AAD_SECRET AAD_CERT
        "  - name: db_password\n    import_akv:\n      vault: https://myvault.vault.azure.net\n"
        "      secret_name: db-password\n      token: $$SCONE::ad_token_2$$\n",
        H USE "secrets:\n"
              "  - name: ad_token_1\n    kind: aad-token\n"
              "    tenant_id: e7cac514-f1aa-4e0d-b207-50b1d9a89d22\n"
              "    client_id: 3f2c210e-83b4-4217-9eee-4f747d8aeeb3\n"
              "    application_secret: \"dHmbyTBF4JNAN3JJobeD\"\n" AAD_CERT AKV,
        H USE "secrets:\n"
              "  - name: ad_token_1\n    kind: aad-token\n"
              "    tenant_id: e7cac514-f1aa-4e0d-b207-50b1d9a89d21\n"
              "    client_id: 3f2c210e-83b4-4217-9eee-4f747d8aeeb3\n"
              "    application_secret: \"another\"\n" AAD_CERT AKV,
        H USE "secrets:\n" AAD_SECRET "    export: {session: other}\n" AAD_CERT AKV,
    };
    uint8_t h[sizeof(variants) / sizeof(variants[0])][32];
    for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
        hash_of(variants[i], h[i]);
        for (size_t j = 0; j < i; j++)
            assert_memory_not_equal(h[i], h[j], 32);
    }
}

/* A session without Azure forms hashes the same through both loaders (older hashes stay). */
static void test_plain_session_hash_unchanged(void **state)
{
    (void)state;
    static const char y[] = H "services:\n  - name: s\n    attestation: {mrenclave: " MR "}\n"
                              "secrets:\n  - name: p\n    kind: ascii\n";
    uint8_t a[32], b[32], creator[32] = {1};
    struct arca_session *s = NULL;
    assert_int_equal(arca_session_load(y, strlen(y), "p.yaml", &s, NULL), 0);
    assert_int_equal(arca_session_hash(s, creator, a), 0);
    arca_session_free(s);
    hash_of(y, b);
    assert_memory_equal(a, b, 32);
}

static void test_maa_mode_hashable(void **state)
{
    (void)state;
    static const char y[] = H "services:\n  - name: s\n    attestation: {mrenclave: " MR "}\n"
                              "security:\n  attestation:\n    mode: maa\n"
                              "    url: https://sharedweu.weu.attest.azure.net\n"
                              "    tolerate: [debug-mode, maa-managed-tcb]\n";
    static const char hw[] = H "services:\n  - name: s\n    attestation: {mrenclave: " MR "}\n"
                               "security:\n  attestation:\n"
                               "    url: https://sharedweu.weu.attest.azure.net\n"
                               "    tolerate: [debug-mode]\n";
    refused_for_create(y, "attestation mode 'maa'");
    uint8_t a[32], b[32];
    hash_of(y, a);
    hash_of(hw, b);
    assert_memory_not_equal(a, b, 32);
}

/* A shape error is still an error when hashing: only the run-time refusal is lifted. */
static void test_hash_still_checks_shapes(void **state)
{
    (void)state;
    static const char y[] = H "secrets:\n  - name: t\n    kind: aad-token\n    tenant_id: t\n";
    struct arca_diag diag;
    struct arca_session *s = NULL;
    arca_diag_init(&diag);
    assert_int_equal(arca_session_load_for_hash(y, strlen(y), "x.yaml", &s, &diag),
                     ARCA_ERR_FORMAT);
    assert_int_equal(diag.n, 2); /* client_id, a credential */
    arca_diag_free(&diag);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_docs_shapes_refused_by_name),
        cmocka_unit_test(test_docs_shapes_load_for_hash),
        cmocka_unit_test(test_azure_fields_hashed),
        cmocka_unit_test(test_plain_session_hash_unchanged),
        cmocka_unit_test(test_maa_mode_hashable),
        cmocka_unit_test(test_hash_still_checks_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
