/*
 * Policies in the shapes the established CAS's session-language docs show (issue 13): every
 * tests/fuzz/corpus/fuzz_policy_load/scone-*.yaml loads and hashes, the model holds what the
 * shape means, and the strictness that remains is refused with a located error.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_util.h"

#include "base/err.h"
#include "policy/session.h"

#define CORPUS ARCA_SOURCE_DIR "/tests/fuzz/corpus/fuzz_policy_load"

/* The shape file name under CORPUS, loaded (arca_session_free); fails the test if refused. */
static struct arca_session *load_shape(const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", CORPUS, name);
    size_t len;
    char *y = (char *)slurp(path, &len);
    y[len] = 0;
    struct arca_session *s = NULL;
    int rc = test_session_load(y, name, &s);
    free(y);
    if (rc < 0)
        fail_msg("%s refused: %d", name, rc);
    return s;
}

static void test_every_shape_loads_and_hashes(void **state)
{
    (void)state;
    DIR *d = opendir(CORPUS);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "scone-", 6) != 0)
            continue;
        struct arca_session *s = load_shape(e->d_name);
        uint8_t h1[32], h2[32], creator[32] = {1};
        assert_int_equal(arca_session_hash(s, NULL, h1), 0);
        assert_int_equal(arca_session_hash(s, creator, h2), 0);
        assert_memory_not_equal(h1, h2, 32);
        arca_session_free(s);
        n++;
    }
    closedir(d);
    print_message("%zu documented shapes\n", n);
    assert_true(n >= 3);
}

static void test_image_names(void **state)
{
    (void)state;
    struct arca_session *s = load_shape("scone-image-names.yaml");
    assert_int_equal(s->n_images, 2);
    assert_string_equal(s->images[0].name.s,
                        "registry.scontain.com/sconecuratedimages/apps:python-3.7-alpine");
    assert_non_null(arca_session_find_image(s, s->services[0].image_name.s));
    assert_string_equal(s->images[1].name.s, "my image (v2) @ test");
    arca_session_free(s);
}

static void test_export_forms(void **state)
{
    (void)state;
    struct arca_session *s = load_shape("scone-export-forms.yaml");
    const struct arca_secret *k = arca_session_find_secret(s, "database_access_key");
    assert_int_equal(k->n_exports, 1);
    assert_string_equal(k->exports[0].session.s, "database_client");
    const struct arca_volume *v = arca_session_find_volume(s, "my_database");
    assert_int_equal(v->n_exports, 1);
    assert_string_equal(v->exports[0].to.session.s, "another-session");
    v = arca_session_find_volume(s, "shared");
    assert_int_equal(v->n_exports, 3);
    assert_string_equal(v->exports[1].to.session.s, "foobar");
    assert_true(v->exports[1].to.has_session_hash);
    assert_int_equal(v->exports[2].update_policy, ARCA_FSPF_EPHEMERAL);
    assert_string_equal(v->exports[2].volume_alias.s, "input");
    arca_session_free(s);
}

static void test_empty_values(void **state)
{
    (void)state;
    struct arca_session *s = load_shape("scone-empty-values.yaml");
    const struct arca_secret *a = arca_session_find_secret(s, "empty_password");
    assert_non_null(a->value.s);
    assert_int_equal(a->value.len, 0);
    const struct arca_secret *b = arca_session_find_secret(s, "nothing");
    assert_non_null(b->value.s);
    assert_int_equal(b->value_bytes_len, 0);
    assert_true(s->security.ignore_all_advisories);
    arca_session_free(s);
}

static void test_v0312(void **state)
{
    (void)state;
    struct arca_session *s = load_shape("scone-v0312.yaml");
    assert_int_equal(s->version_minor, 12);
    assert_true(s->has_salt);
    assert_int_equal(s->salt[0], 0x0f);
    const struct arca_service *v = &s->services[0];
    assert_int_equal(v->n_platforms, 2);
    assert_true(v->platforms[0].intel_qe_id && v->platforms[0].literal);
    assert_int_equal(v->platforms[0].key[0], 0x85);
    assert_int_equal(v->platforms[0].key[15], 0x51);
    assert_false(v->platforms[1].literal);
    assert_true(s->access.list_sessions.written);
    /* the salt randomises the hash; without it the hash is what it always was */
    uint8_t h1[32], h2[32];
    assert_int_equal(arca_session_hash(s, NULL, h1), 0);
    s->salt[0] ^= 1;
    assert_int_equal(arca_session_hash(s, NULL, h2), 0);
    assert_memory_not_equal(h1, h2, 32);
    s->has_salt = false;
    assert_int_equal(arca_session_hash(s, NULL, h2), 0);
    assert_memory_not_equal(h1, h2, 32);
    arca_session_free(s);
}

/* kind: jwt loads into the model (signer, alg, validity, claims in order) and every field
 * changes the hash. */
static void test_jwt_shape(void **state)
{
    (void)state;
    struct arca_session *s = load_shape("scone-jwt.yaml");
    assert_int_equal(s->n_secrets, 2);
    struct arca_secret *j = &s->secrets[1];
    assert_int_equal(j->kind, ARCA_SECRET_JWT);
    assert_string_equal(j->signer.s, "jwt-signer");
    assert_string_equal(j->jwt_alg.s, "ES384");
    assert_int_equal(j->jwt_valid_for, 24 * 3600);
    assert_int_equal(j->jwt_until, 0);
    assert_int_equal(j->n_claims, 4);
    assert_string_equal(j->claims[0].s, "key");
    assert_string_equal(j->claims[1].s, "value");
    assert_string_equal(j->claims[2].s, "key2");
    uint8_t h1[32], h2[32];
    assert_int_equal(arca_session_hash(s, NULL, h1), 0);
    j->jwt_valid_for++;
    assert_int_equal(arca_session_hash(s, NULL, h2), 0);
    assert_memory_not_equal(h1, h2, 32);
    j->jwt_valid_for--;
    j->claims[3].s[0] ^= 1;
    assert_int_equal(arca_session_hash(s, NULL, h2), 0);
    assert_memory_not_equal(h1, h2, 32);
    arca_session_free(s);
}

static void test_creator_forms(void **state)
{
    (void)state;
    struct arca_session *s = load_shape("scone-readback-creator.yaml");
    assert_true(s->has_creator);
    assert_int_equal(s->creator.kind, ARCA_AP_CERT);
    struct arca_x509 *c = NULL;
    assert_int_equal(arca_x509_from_pem(s->creator.cert_pem.s, s->creator.cert_pem.len, &c), 0);
    uint8_t id[32];
    assert_int_equal(arca_x509_key_id(c, id), 0);
    arca_x509_free(c);
    assert_memory_equal(id, s->creator.key_id, 32);
    arca_session_free(s);
    s = load_shape("scone-signed-creator.yaml");
    assert_true(s->has_creator);
    assert_int_equal(s->creator.kind, ARCA_AP_SIGNER);
    assert_int_equal(s->creator.signer_type, ARCA_KEY_ED25519);
    arca_session_free(s);
}

#define H "name: t\nversion: \"0.3.11\"\n"
#define MR "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define SVC "services:\n  - name: s\n    attestation: {mrenclave: " MR "}\n"

/* What stays refused: each with the line and a fragment of the located message. */
static const struct {
    const char *yaml;
    unsigned line;
    const char *expect;
} refused[] = {
    {H SVC "    image_name: nope\n", 6, "services[0].image_name: image 'nope' is not defined"},
    {H "images:\n  - name: \"a\\tb\"\n", 4, "images[0].name: name has a control character"},
    {H "images:\n  - name: a\n  - name: a\n", 5, "name 'a' is used twice"},
    {H "secrets:\n  - name: x\n    kind: ascii\n    value:\n", 6, "value: must not be empty"},
    {H "secrets:\n  - name: x\n    kind: private-key\n    value: \"\"\n", 6,
     "value: must not be empty"},
    {H "secrets:\n  - name: x\n    kind: binary\n    size: 4\n    value: \"\"\n", 7,
     "value has 0 bytes but size says 4"},
    {H "secrets:\n  - name: x\n    kind: ascii\n    export: abc\n", 6,
     "export: expected a list of export targets, got a scalar"},
    {H "volumes:\n  - name: v\n    export:\n      session: a\n      update_policy: ephemeral\n", 7,
     "update_policy and volume_alias need the target in 'to:"},
    {H "volumes:\n  - name: v\n    export:\n      - to: {session: a}\n        session: b\n", 6,
     "either in 'to' or directly, not both"},
    {H "volumes:\n  - name: v\n    export:\n      - update_policy: ephemeral\n", 6,
     "missing mandatory key 'to' (or 'session')"},
    {H "volumes:\n  - name: v\n    export:\n      namespace: a\n", 6,
     "volumes can only be exported to sessions, not namespaces"},
    {H SVC
     "security:\n  attestation:\n    tolerate: [outdated-tcb]\n    ignore_advisories: \"*\"\n",
     9, "ignore_advisories: \"*\" is only allowed when debug-mode is tolerated"},
    {H SVC "security:\n  attestation:\n    ignore_advisories: [\"*\"]\n", 8,
     "only allowed when debug-mode is tolerated"},
    {H SVC "    platforms: [\"INTEL_QE_ID:85ff\"]\n", 6,
     "INTEL_QE_ID must be 32 hex characters (16 bytes), got 4"},
    {H SVC "    persistency: Always\n", 6, "persistency 'Always' is not known"},
    {H "salt: abcd\n", 3, "salt must be 32 hex characters (16 bytes)"},
    {H "creator:\n  signer: nope\n", 4, "creator.signer"},
    {H "creator: [a]\n", 3, "creator must be a PEM certificate or {signer: <SPKI PEM>}"},
    {H "secrets:\n  - name: j\n    kind: jwt\n    signer: k\n    alg: ES384\n", 6,
     "secrets[0].signer: signer 'k' is not a secret of this session"},
    {H "secrets:\n  - name: k\n    kind: private-key\n  - name: j\n    kind: jwt\n"
       "    signer: k\n    alg: ES384\n",
     8, "secrets[1].signer: signer 'k' is a p256 key, alg ES384 needs key_type: P-384"},
    {H "secrets:\n  - name: k\n    kind: ascii\n  - name: j\n    kind: jwt\n"
       "    signer: k\n    alg: ES384\n",
     8, "signer 'k' is a ascii secret, expected private-key"},
    {H "secrets:\n  - name: k\n    import: {session: e, secret: k}\n  - name: j\n"
       "    kind: jwt\n    signer: k\n    alg: ES384\n",
     8, "secret 'j': signer 'k' has no value when the token is made at upload (it is imported)"},
    {H "secrets:\n  - name: j\n    kind: jwt\n    alg: ES384\n", 4,
     "secrets[0]: missing mandatory key 'signer'"},
    {H "secrets:\n  - name: j\n    kind: jwt\n    signer: k\n    alg: ES384\n"
       "    validity: {until: yesterday}\n",
     8, "validity.until"},
    {H "secrets:\n  - name: j\n    kind: jwt\n    signer: k\n    alg: HS256\n", 7,
     "alg must be ES384"},
    {H "secrets:\n  - name: j\n    kind: jwt\n    alg: ES384\n    payload: {exp: 1}\n", 7,
     "claim 'exp' is filled in when the token is made"},
    {H "secrets:\n  - name: j\n    kind: jwt\n    alg: ES384\n    payload: {a: [1]}\n", 7,
     "claim 'a' must be a string"},
    {H "secrets:\n  - name: j\n    kind: jwt\n    alg: ES384\n    validity: {}\n", 7,
     "validity needs exactly one of 'for' and 'until'"},
    {H "secrets:\n  - name: j\n    kind: jwt\n    alg: ES384\n    size: 3\n", 7,
     "unknown key 'size' in a jwt secret"},
    {H "security:\n  attestation:\n    mode: maa\n    url: https://a.b.attest.azure.net\n"
       "    tolerate: [maa-managed-tcb]\n",
     5, "attestation mode 'maa' (Microsoft Azure Attestation tokens cannot be verified by arca"},
    /* create issues certificates at upload: what it cannot sign is refused by check too */
    {H "secrets:\n  - name: ca\n    kind: x509-ca\n    import: {session: e, secret: ca}\n"
       "  - name: k\n    kind: private-key\n  - name: c\n    kind: x509\n    private_key: k\n"
       "    issuer: ca\n",
     12, "secrets[2].issuer: secret 'c': issuer 'ca' has no value when the certificate is issued"},
    {H "secrets:\n  - name: k\n    import: {session: e, secret: k}\n  - name: c\n"
       "    kind: x509\n    private_key: k\n",
     8, "private_key 'k' has no value when the certificate is issued at upload (it is imported)"},
    {H "services:\n  - name: s\n    attestation: {mrenclave: " MR "}\nsecrets:\n  - name: k\n"
       "    kind: private-key\n    provided_by: s\n  - name: c\n    kind: x509\n"
       "    private_key: k\n",
     12, "(it is provided_by a service)"},
};

static void test_refused(void **state)
{
    (void)state;
    size_t failed = 0;
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        struct arca_diag d;
        arca_diag_init(&d);
        struct arca_session *s = NULL;
        int rc = arca_session_load(refused[i].yaml, strlen(refused[i].yaml), "t.yaml", &s, &d);
        bool found = false;
        for (size_t j = 0; j < d.n && !found; j++) {
            struct arca_buf b;
            arca_buf_init(&b, 0);
            arca_diag_entry_format(&d.v[j], &b);
            found = d.v[j].line == refused[i].line &&
                    strstr(arca_buf_cstr(&b), refused[i].expect) != NULL;
            if (!found)
                print_message("case %zu: %s", i, arca_buf_cstr(&b));
            arca_buf_free(&b);
        }
        if (rc >= 0 || s != NULL || !found) {
            print_message("case %zu not refused at line %u with \"%s\"\n", i, refused[i].line,
                          refused[i].expect);
            failed++;
        }
        arca_session_free(s);
        arca_diag_free(&d);
    }
    assert_int_equal(failed, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_shape_loads_and_hashes),
        cmocka_unit_test(test_image_names),
        cmocka_unit_test(test_export_forms),
        cmocka_unit_test(test_empty_values),
        cmocka_unit_test(test_v0312),
        cmocka_unit_test(test_creator_forms),
        cmocka_unit_test(test_jwt_shape),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
