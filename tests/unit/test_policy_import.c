/*
 * Imported fragments in whole positions (issue 13 item 3): accepted at load and recorded where
 * they stand, left out of the model until use; loaded again with their values they are
 * substituted and validated as if written there.
 */
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
#include "policy/session_internal.h"

#define CORPUS ARCA_SOURCE_DIR "/tests/fuzz/corpus/fuzz_policy_load/"
#define MR "4f6e1b2a3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7"

static char *read_shape(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s%s", CORPUS, name);
    char *y = (char *)slurp(path, len);
    y[*len] = 0;
    return y;
}

/* Loads name with frags; returns the code, *diag_text the formatted errors (caller frees). */
static int load_with(const char *name, const struct arca_fragment_value *f, size_t nf,
                     struct arca_session **s, char **diag_text)
{
    size_t len;
    char *y = read_shape(name, &len);
    struct arca_diag d;
    arca_diag_init(&d);
    int rc = arca_session_load_imported(y, len, name, f, nf, s, &d);
    struct arca_buf b;
    arca_buf_init(&b, 0);
    arca_diag_format(&d, &b);
    *diag_text = strdup(arca_buf_cstr(&b));
    arca_buf_free(&b);
    arca_diag_free(&d);
    free(y);
    return rc;
}

static const struct arca_import_use *use_at(const struct arca_session *s, const char *field)
{
    for (size_t i = 0; i < s->n_import_uses; i++)
        if (strcmp(s->import_uses[i].field.s, field) == 0)
            return &s->import_uses[i];
    return NULL;
}

static void test_access_policy_pending_then_resolved(void **state)
{
    (void)state;
    struct arca_session *s = NULL;
    char *t = NULL;
    assert_int_equal(load_with("scone-imported-access.yaml", NULL, 0, &s, &t), 0);
    free(t);
    assert_int_equal(s->n_import_uses, 1);
    const struct arca_import_use *u = use_at(s, "access_policy");
    assert_non_null(u);
    assert_string_equal(u->secret.s, "board_policy");
    assert_int_equal(u->pos.line, 5);
    /* every operation is the import: nothing is granted until it is resolved */
    const struct arca_ap_rule *r[] = {&s->access.read, &s->access.update,
                                      &s->access.create_sessions, &s->access.list_sessions};
    for (size_t i = 0; i < 4; i++) {
        assert_non_null(r[i]->import.s);
        assert_string_equal(r[i]->import.s, "board_policy");
        assert_int_equal(r[i]->n_entries, 0);
    }
    arca_session_free(s);

    /* resolved: the fragment is the policy; CREATOR stays CREATOR (this session's creator) */
    static const char frag[] = "{\"read\": [\"ANY\"], \"update\": [\"CREATOR\"]}";
    struct arca_fragment_value f = {"board_policy", frag, sizeof(frag) - 1};
    assert_int_equal(load_with("scone-imported-access.yaml", &f, 1, &s, &t), 0);
    free(t);
    assert_int_equal(s->n_import_uses, 0);
    assert_null(s->access.update.import.s);
    assert_int_equal(s->access.update.n_entries, 1);
    assert_int_equal(s->access.update.entries[0].kind, ARCA_AP_CREATOR);
    assert_int_equal(s->access.read.entries[0].kind, ARCA_AP_ANY);
    /* defaults apply after substitution as if written */
    assert_int_equal(s->access.create_sessions.entries[0].kind, ARCA_AP_CREATOR);
    arca_session_free(s);

    /* a resolved value is validated fully: ANY only alone */
    static const char bad[] = "update: [ANY, CREATOR]\n";
    struct arca_fragment_value fb = {"board_policy", bad, sizeof(bad) - 1};
    assert_int_equal(load_with("scone-imported-access.yaml", &fb, 1, &s, &t), ARCA_ERR_FORMAT);
    assert_null(s);
    assert_non_null(strstr(t, "access_policy.update"));
    free(t);

    /* not YAML at all */
    static const char junk[] = "[unclosed";
    struct arca_fragment_value fj = {"board_policy", junk, sizeof(junk) - 1};
    assert_int_equal(load_with("scone-imported-access.yaml", &fj, 1, &s, &t), ARCA_ERR_FORMAT);
    assert_non_null(strstr(t, "imported config-fragment 'board_policy' is not valid YAML"));
    free(t);
}

static void test_one_operation_imported(void **state)
{
    (void)state;
    static const char y[] = "name: a\nversion: \"0.3.10\"\n"
                            "access_policy:\n  read: [CREATOR]\n  update: $$SCONE::p$$\n"
                            "secrets:\n  - name: p\n    import: {session: board, secret: p}\n";
    struct arca_session *s = NULL;
    assert_int_equal(test_session_load(y, "a.yaml", &s), 0);
    assert_null(s->access.read.import.s);
    assert_string_equal(s->access.update.import.s, "p");
    /* create_sessions defaults to update, so it is the import too */
    assert_string_equal(s->access.create_sessions.import.s, "p");
    assert_null(s->access.list_sessions.import.s);
    assert_non_null(use_at(s, "access_policy.update"));
    arca_session_free(s);

    /* a secret that is not imported stays refused as a key source */
    static const char z[] = "name: a\nversion: \"0.3.10\"\n"
                            "access_policy:\n  update: $$SCONE::p$$\n"
                            "secrets:\n  - name: p\n    kind: ascii\n";
    assert_int_equal(test_session_load(z, "a.yaml", &s), ARCA_ERR_UNSUPPORTED);
}

static void test_attestation_pending_then_resolved(void **state)
{
    (void)state;
    struct arca_session *s = NULL;
    char *t = NULL;
    assert_int_equal(load_with("scone-imported-security.yaml", NULL, 0, &s, &t), 0);
    free(t);
    assert_int_equal(s->n_import_uses, 3);
    assert_string_equal(use_at(s, "security.attestation")->secret.s, "platform_attestation");
    assert_string_equal(use_at(s, "services[0].attestation[0]")->secret.s, "release_measurements");
    assert_string_equal(use_at(s, "services[1].attestation")->secret.s, "helper_measurements");
    assert_int_equal(s->services[0].n_variants, 1); /* the written one; the import comes later */
    assert_int_equal(s->services[1].n_variants, 0);
    assert_int_equal(s->security.mode, ARCA_ATT_MODE_HARDWARE);
    arca_session_free(s);

    static const char att[] = "mode: hardware\ntolerate: [debug-mode]\nignore_advisories: '*'\n";
    static const char rel[] = "- mrenclave: " MR "\n- signer: {mrsigner: " MR ", isvprodid: 7}\n";
    static const char hlp[] = "{\"mrenclave\": \"" MR "\"}";
    struct arca_fragment_value f[] = {{"platform_attestation", att, sizeof(att) - 1},
                                      {"release_measurements", rel, sizeof(rel) - 1},
                                      {"helper_measurements", hlp, sizeof(hlp) - 1}};
    assert_int_equal(load_with("scone-imported-security.yaml", f, 3, &s, &t), 0);
    free(t);
    assert_int_equal(s->n_import_uses, 0);
    assert_int_equal(s->services[0].n_variants, 3); /* the list was merged */
    assert_true(s->services[0].variants[1].has_signer);
    assert_int_equal(s->services[0].variants[1].signer.isvprodid, 7);
    assert_int_equal(s->services[1].n_variants, 1);
    assert_true(s->security.ignore_all_advisories);
    arca_session_free(s);

    /* wrong values are refused where they stand, naming the field */
    static const char badrel[] = "- mrenclave: 1234\n";
    f[1].text = badrel;
    f[1].len = sizeof(badrel) - 1;
    assert_int_equal(load_with("scone-imported-security.yaml", f, 3, &s, &t), ARCA_ERR_FORMAT);
    assert_non_null(strstr(t, "services[0].attestation[0].mrenclave"));
    free(t);
    /* the production-mode wildcard rule holds inside an imported security section */
    static const char prod[] = "mode: hardware\nignore_advisories: '*'\n";
    f[1].text = rel;
    f[1].len = sizeof(rel) - 1;
    f[0].text = prod;
    f[0].len = sizeof(prod) - 1;
    assert_int_equal(load_with("scone-imported-security.yaml", f, 3, &s, &t), ARCA_ERR_FORMAT);
    assert_non_null(strstr(t, "debug-mode"));
    free(t);
    /* only some values given: the others stay pending */
    assert_int_equal(load_with("scone-imported-security.yaml", &f[1], 1, &s, &t), 0);
    free(t);
    assert_int_equal(s->n_import_uses, 2);
    arca_session_free(s);
}

/* Points f at the NUL-terminated text t. */
static void set_text(struct arca_fragment_value *f, const char *t)
{
    f->text = t;
    f->len = strlen(t);
}

/* Imports deeper inside: a variant's sub-field, tolerate, ignore_advisories (issue 13). */
static void test_deeper_imports(void **state)
{
    (void)state;
    static const char shape[] = "scone-imported-deep.yaml";
    struct arca_session *s = NULL;
    char *t = NULL;
    assert_int_equal(load_with(shape, NULL, 0, &s, &t), 0);
    free(t);
    assert_int_equal(s->n_import_uses, 4);
    assert_non_null(use_at(s, "services[0].attestation[0].mrenclave"));
    assert_non_null(use_at(s, "services[0].attestation[1].signer"));
    assert_non_null(use_at(s, "security.attestation.tolerate"));
    assert_non_null(use_at(s, "security.attestation.ignore_advisories"));
    /* a variant with an imported factor is left out, never kept with the factor missing */
    assert_int_equal(s->services[0].n_variants, 1);
    assert_int_equal(s->security.tolerate, 0);
    assert_false(s->security.ignore_all_advisories);
    arca_session_free(s);

    static const char mr[] = "\"" MR "\"";
    static const char signer[] = "{mrsigner: " MR ", isvprodid: 3}";
    static const char debug[] = "[debug-mode]";
    static const char all[] = "\"*\"";
    struct arca_fragment_value f[] = {{"release_mrenclave", mr, sizeof(mr) - 1},
                                      {"vendor_signer", signer, sizeof(signer) - 1},
                                      {"tolerated", debug, sizeof(debug) - 1},
                                      {"advisories", all, sizeof(all) - 1}};
    assert_int_equal(load_with(shape, f, 4, &s, &t), 0);
    free(t);
    assert_int_equal(s->n_import_uses, 0);
    assert_int_equal(s->services[0].n_variants, 3);
    assert_int_equal(s->services[0].variants[0].n_mrenclave, 1);
    assert_true(s->services[0].variants[1].has_signer);
    assert_int_equal(s->services[0].variants[1].signer.isvprodid, 3);
    assert_true(s->security.ignore_all_advisories);
    arca_session_free(s);

    /* the wildcard rule is checked once tolerate is known: without debug-mode "*" is refused */
    static const char ht[] = "[hyperthreading]";
    set_text(&f[2], ht);
    assert_int_equal(load_with(shape, f, 4, &s, &t), ARCA_ERR_FORMAT);
    assert_non_null(strstr(t, "security.attestation.ignore_advisories"));
    assert_non_null(strstr(t, "debug-mode"));
    free(t);
    /* a value that does not fit is refused where it stands */
    static const char bad[] = "\"1234\"";
    set_text(&f[2], debug);
    set_text(&f[0], bad);
    assert_int_equal(load_with(shape, f, 4, &s, &t), ARCA_ERR_FORMAT);
    assert_non_null(strstr(t, "services[0].attestation[0].mrenclave"));
    free(t);
}

/* Written "*" with an imported tolerate waits for it; a written tolerate decides at once. */
static void test_wildcard_waits_for_imported_tolerate(void **state)
{
    (void)state;
    static const char y[] = "name: w\nversion: \"0.3.10\"\n"
                            "services:\n  - name: s\n    attestation: {mrenclave: " MR "}\n"
                            "secrets:\n  - name: t\n    import: {session: b, secret: t}\n"
                            "security:\n  attestation:\n    tolerate: [$$SCONE::t$$]\n"
                            "    ignore_advisories: \"*\"\n";
    struct arca_session *s = NULL;
    assert_int_equal(arca_session_load(y, strlen(y), "w.yaml", &s, NULL), 0);
    arca_session_free(s);
    static const char none[] = "name: w\nversion: \"0.3.10\"\n"
                               "services:\n  - name: s\n    attestation: {mrenclave: " MR "}\n"
                               "security:\n  attestation:\n    tolerate: [hyperthreading]\n"
                               "    ignore_advisories: \"*\"\n";
    assert_int_equal(arca_session_load(none, strlen(none), "w.yaml", &s, NULL), ARCA_ERR_FORMAT);
    static const char ht[] = "[hyperthreading]";
    struct arca_fragment_value f = {"t", ht, sizeof(ht) - 1};
    struct arca_diag d;
    arca_diag_init(&d);
    assert_int_equal(arca_session_load_imported(y, strlen(y), "w.yaml", &f, 1, &s, &d),
                     ARCA_ERR_FORMAT);
    arca_diag_free(&d);
}

static void test_whole_security(void **state)
{
    (void)state;
    struct arca_session *s = NULL;
    char *t = NULL;
    assert_int_equal(load_with("scone-imported-whole-security.yaml", NULL, 0, &s, &t), 0);
    free(t);
    assert_non_null(use_at(s, "security"));
    assert_non_null(use_at(s, "services[0].attestation"));
    arca_session_free(s);
    static const char sec[] = "attestation: {mode: none}\nsingleton_enclaves: true\n";
    static const char none[] = "[]";
    struct arca_fragment_value f[] = {{"platform_security", sec, sizeof(sec) - 1},
                                      {"app_variants", none, sizeof(none) - 1}};
    assert_int_equal(load_with("scone-imported-whole-security.yaml", f, 2, &s, &t), 0);
    free(t);
    assert_int_equal(s->security.mode, ARCA_ATT_MODE_NONE);
    assert_true(s->security.singleton_enclaves);
    arca_session_free(s);
    /* with hardware mode an empty imported variant list leaves the service without one */
    static const char hw[] = "attestation: {mode: hardware}\n";
    f[0].text = hw;
    f[0].len = sizeof(hw) - 1;
    assert_int_equal(load_with("scone-imported-whole-security.yaml", f, 2, &s, &t),
                     ARCA_ERR_FORMAT);
    assert_non_null(strstr(t, "has no attestation variant"));
    free(t);
}

/* Which import stands where is part of the hash (the model leaves those nodes out). */
static void test_hash_names_the_import(void **state)
{
    (void)state;
    static const char a[] = "name: a\nversion: \"0.3.10\"\naccess_policy: $$SCONE::p$$\n"
                            "secrets:\n  - name: p\n    import: {session: b, secret: p}\n"
                            "  - name: q\n    import: {session: b, secret: p}\n";
    char b[sizeof(a)];
    memcpy(b, a, sizeof(a));
    b[strstr(a, "::p$$") - a + 2] = 'q';
    struct arca_session *sa = NULL, *sb = NULL;
    assert_int_equal(test_session_load(a, "a.yaml", &sa), 0);
    assert_int_equal(test_session_load(b, "b.yaml", &sb), 0);
    uint8_t ha[32], hb[32];
    assert_int_equal(arca_session_hash(sa, NULL, ha), 0);
    assert_int_equal(arca_session_hash(sb, NULL, hb), 0);
    assert_memory_not_equal(ha, hb, 32);
    arca_session_free(sa);
    arca_session_free(sb);
}

/* A fragment's value as JSON reads back as the same tree (what an exporter hands out). */
static void test_fragment_json_round_trip(void **state)
{
    (void)state;
    static const char y[] = "a: [x, 'y z', \"q\\\"uote\", ~]\nb:\n  c: |\n    line1\n    line2\n"
                            "  d: 12\ne: \"tab\\there\"\n";
    struct arca_ynode *t1 = NULL, *t2 = NULL;
    assert_int_equal(arca_ytree_parse(y, sizeof(y) - 1, "y", &t1, NULL), 0);
    struct arca_buf j1, j2;
    arca_buf_init(&j1, 0);
    arca_buf_init(&j2, 0);
    assert_int_equal(arca_ynode_to_json(t1, &j1), 0);
    assert_int_equal(arca_ytree_parse((const char *)j1.data, j1.len, "j", &t2, NULL), 0);
    assert_int_equal(arca_ynode_to_json(t2, &j2), 0);
    assert_int_equal(j1.len, j2.len);
    assert_memory_equal(j1.data, j2.data, j1.len);
    assert_non_null(strstr(arca_buf_cstr(&j1), ", null]"));
    assert_non_null(strstr(arca_buf_cstr(&j1), "line1\\u000aline2"));
    arca_buf_free(&j1);
    arca_buf_free(&j2);
    arca_ynode_free(t1);
    arca_ynode_free(t2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_access_policy_pending_then_resolved),
        cmocka_unit_test(test_one_operation_imported),
        cmocka_unit_test(test_attestation_pending_then_resolved),
        cmocka_unit_test(test_deeper_imports),
        cmocka_unit_test(test_wildcard_waits_for_imported_tolerate),
        cmocka_unit_test(test_whole_security),
        cmocka_unit_test(test_fragment_json_round_trip),
        cmocka_unit_test(test_hash_names_the_import),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
