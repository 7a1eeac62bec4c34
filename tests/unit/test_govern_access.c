/* access_policy evaluation: CREATOR / ANY / NONE / keys / signers / secrets / trees, loaded
 * from real session YAML so the tests cover the model the loader builds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/enc.h"
#include "base/err.h"
#include "govern/access.h"
#include "policy/session.h"
#include "test_util.h"

static uint8_t K_CREATOR[32], K_A[32], K_B[32], K_C[32], K_X[32];
static char H_A[65], H_B[65], H_C[65];

static int setup(void **state)
{
    memset(K_CREATOR, 0x11, 32);
    memset(K_A, 0xaa, 32);
    memset(K_B, 0xbb, 32);
    memset(K_C, 0xcc, 32);
    memset(K_X, 0x99, 32);
    arca_hex_fmt(H_A, K_A, 32);
    arca_hex_fmt(H_B, K_B, 32);
    arca_hex_fmt(H_C, K_C, 32);
    return 0;
}

static struct arca_session *load(const char *ap)
{
    char yaml[4096];
    snprintf(yaml, sizeof(yaml), "name: t\nversion: \"0.3\"\naccess_policy:\n%s", ap);
    struct arca_session *s = NULL;
    assert_int_equal(test_session_load(yaml, "t.yaml", &s), 0);
    return s;
}

static bool allowed(const struct arca_session *s, enum arca_access_op op, const uint8_t *client,
                    const uint8_t (*approvers)[32], size_t n)
{
    struct arca_access_subject subj = {.client_key_id = client,
                                       .creator_key_id = K_CREATOR,
                                       .approvers = approvers,
                                       .approver_count = n};
    bool ok = true;
    assert_int_equal(arca_access_check(arca_access_rule(&s->access, op), &subj, &ok), 0);
    return ok;
}

static void test_defaults_creator(void **state)
{
    struct arca_session *s = load("  read: [CREATOR]\n");
    assert_true(allowed(s, ARCA_ACCESS_READ, K_CREATOR, NULL, 0));
    assert_false(allowed(s, ARCA_ACCESS_READ, K_A, NULL, 0));
    assert_false(allowed(s, ARCA_ACCESS_READ, NULL, NULL, 0));
    /* update defaults to [CREATOR], create_sessions to update, list to read */
    assert_true(allowed(s, ARCA_ACCESS_UPDATE, K_CREATOR, NULL, 0));
    assert_false(allowed(s, ARCA_ACCESS_UPDATE, K_A, NULL, 0));
    assert_true(allowed(s, ARCA_ACCESS_CREATE_SESSIONS, K_CREATOR, NULL, 0));
    assert_false(allowed(s, ARCA_ACCESS_LIST_SESSIONS, K_A, NULL, 0));
    arca_session_free(s);
}

static void test_any_none_keys(void **state)
{
    char ap[1024];
    snprintf(ap, sizeof(ap),
             "  read: [ANY]\n  update: [NONE]\n  list_sessions: [\"%s\", CREATOR]\n", H_A);
    struct arca_session *s = load(ap);
    assert_true(allowed(s, ARCA_ACCESS_READ, K_X, NULL, 0));
    assert_false(allowed(s, ARCA_ACCESS_READ, NULL, NULL, 0)); /* ANY still needs a key */
    assert_false(allowed(s, ARCA_ACCESS_UPDATE, K_CREATOR, NULL, 0));
    assert_true(allowed(s, ARCA_ACCESS_LIST_SESSIONS, K_A, NULL, 0));
    assert_true(allowed(s, ARCA_ACCESS_LIST_SESSIONS, K_CREATOR, NULL, 0));
    assert_false(allowed(s, ARCA_ACCESS_LIST_SESSIONS, K_B, NULL, 0));
    arca_session_free(s);
}

static void test_trees(void **state)
{
    char ap[2048];
    /* update: creator alone, or 2 of {A, B, C} where the approvals count with the client */
    snprintf(ap, sizeof(ap),
             "  update:\n"
             "    - CREATOR\n"
             "    - require-at-least-2:\n"
             "        - \"%s\"\n"
             "        - \"%s\"\n"
             "        - \"%s\"\n"
             "  create_sessions:\n"
             "    - require-all:\n"
             "        - \"%s\"\n"
             "        - require-at-least-1:\n"
             "            - \"%s\"\n"
             "            - \"%s\"\n",
             H_A, H_B, H_C, H_A, H_B, H_C);
    struct arca_session *s = load(ap);
    uint8_t appr[2][32];
    memcpy(appr[0], K_B, 32);
    memcpy(appr[1], K_C, 32);
    assert_true(allowed(s, ARCA_ACCESS_UPDATE, K_CREATOR, NULL, 0));
    assert_false(allowed(s, ARCA_ACCESS_UPDATE, K_A, NULL, 0));                      /* 1 of 3 */
    assert_true(allowed(s, ARCA_ACCESS_UPDATE, K_A, (const uint8_t(*)[32])appr, 1)); /* A+B */
    assert_true(allowed(s, ARCA_ACCESS_UPDATE, K_X, (const uint8_t(*)[32])appr, 2)); /* B+C */
    assert_false(allowed(s, ARCA_ACCESS_UPDATE, K_X, (const uint8_t(*)[32])appr + 1, 1));
    /* require-all: A must be there, plus B or C */
    assert_false(allowed(s, ARCA_ACCESS_CREATE_SESSIONS, K_A, NULL, 0));
    assert_true(allowed(s, ARCA_ACCESS_CREATE_SESSIONS, K_A, (const uint8_t(*)[32])appr + 1, 1));
    assert_false(allowed(s, ARCA_ACCESS_CREATE_SESSIONS, K_B, (const uint8_t(*)[32])appr + 1, 1));
    assert_false(allowed(s, ARCA_ACCESS_CREATE_SESSIONS, K_CREATOR, NULL, 0));
    arca_session_free(s);
}

static void test_no_creator_yet(void **state)
{
    struct arca_session *s = load("  read: [CREATOR]\n");
    struct arca_access_subject subj = {.client_key_id = K_A};
    bool ok = false;
    assert_int_equal(arca_access_check(&s->access.read, &subj, &ok), 0);
    assert_true(ok); /* the uploader of a new session is its creator */
    subj.client_key_id = NULL;
    assert_int_equal(arca_access_check(&s->access.read, &subj, &ok), 0);
    assert_false(ok);
    assert_int_equal(arca_access_check(NULL, &subj, &ok), ARCA_ERR_INVALID_ARG);
    arca_session_free(s);
}

static void test_malformed_tree_never_grants(void **state)
{
    struct arca_ap_node child = {.kind = ARCA_AP_ANY};
    struct arca_ap_node bad = {
        .kind = ARCA_AP_AT_LEAST, .threshold = 2, .children = &child, .n_children = 1};
    struct arca_ap_rule rule = {.entries = &bad, .n_entries = 1};
    struct arca_access_subject subj = {.client_key_id = K_A};
    bool ok = true;
    assert_int_equal(arca_access_check(&rule, &subj, &ok), ARCA_ERR_FORMAT);
    assert_false(ok);
    struct arca_ap_node unknown = {.kind = (enum arca_ap_kind)99};
    rule.entries = &unknown;
    assert_int_equal(arca_access_check(&rule, &subj, &ok), ARCA_ERR_FORMAT);
    assert_false(ok);
}

static int resolve(void *arg, const char *name, bool *is_creator, uint8_t key_id[32])
{
    if (strcmp(name, "owner") == 0) {
        memcpy(key_id, K_B, 32);
        *is_creator = false;
        return 0;
    }
    if (strcmp(name, "boss") == 0) {
        *is_creator = true;
        return 0;
    }
    return arca_err_set(ARCA_ERR_NOT_FOUND, "no secret %s", name);
}

static void test_secret_entries(void **state)
{
    struct arca_ap_node e[3] = {{.kind = ARCA_AP_SECRET, .secret = {.s = "owner", .len = 5}},
                                {.kind = ARCA_AP_SECRET, .secret = {.s = "boss", .len = 4}},
                                {.kind = ARCA_AP_SECRET, .secret = {.s = "gone", .len = 4}}};
    struct arca_ap_rule rule = {.entries = e, .n_entries = 3};
    struct arca_access_subject subj = {
        .client_key_id = K_B, .creator_key_id = K_CREATOR, .resolve_secret = resolve};
    bool ok = false;
    assert_int_equal(arca_access_check(&rule, &subj, &ok), 0);
    assert_true(ok);
    subj.client_key_id = K_CREATOR;
    assert_int_equal(arca_access_check(&rule, &subj, &ok), 0);
    assert_true(ok);
    subj.client_key_id = K_X;
    assert_int_equal(arca_access_check(&rule, &subj, &ok), 0);
    assert_false(ok); /* an unresolvable value is ignored, never an error that grants */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_creator),
        cmocka_unit_test(test_any_none_keys),
        cmocka_unit_test(test_trees),
        cmocka_unit_test(test_no_creator_yet),
        cmocka_unit_test(test_malformed_tree_never_grants),
        cmocka_unit_test(test_secret_entries),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
