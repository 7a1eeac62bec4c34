/*
 * The export rule decision (secrets/export_rule.h), local and remote, and relative session
 * names: the allow/deny matrix of issue 12 on loaded sessions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "policy/session.h"
#include "secrets/export_rule.h"
#include "test_util.h"

#define H1 "1111111111111111111111111111111111111111111111111111111111111111"
#define H2 "2222222222222222222222222222222222222222222222222222222222222222"
#define K1 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define K2 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static const char exporter[] = "name: org/exp\n"
                               "version: \"0.3.10\"\n"
                               "secrets:\n"
                               "  - name: s\n"
                               "    kind: ascii\n"
                               "    export:\n"
                               "      - session: app\n"
                               "      - session: ../sib\n"
                               "      - session: ./child\n"
                               "      - session: pinned\n"
                               "        session_hash: \"" H1 "\"\n"
                               "      - namespace: team\n"
                               "      - session: far/app\n"
                               "        cas_url: \"peer.example:18765\"\n"
                               "        cas_key: \"" K1 "\"\n"
                               "      - session: sw/app\n"
                               "        cas_url: \"peer.example\"\n"
                               "        cas_software_key: \"" K2 "\"\n"
                               "  - name: none\n"
                               "    kind: ascii\n";

static uint8_t h1[32], h2[32], k1[32], k2[32];

static int setup(void **st)
{
    memset(h1, 0x11, 32);
    memset(h2, 0x22, 32);
    memset(k1, 0xaa, 32);
    memset(k2, 0xbb, 32);
    struct arca_session *s = NULL;
    if (test_session_load(exporter, "exp.yaml", &s) < 0)
        return -1;
    *st = s;
    return 0;
}

static int teardown(void **st)
{
    arca_session_free(*st);
    return 0;
}

static int ask(const struct arca_session *s, const char *secret, const char *who,
               const uint8_t *hash, const uint8_t *cas, const uint8_t *sw)
{
    struct arca_export_asker a = {.session = who, .hash = hash, .cas_key = cas, .software = sw};
    return arca_export_check(arca_session_find_secret(s, secret), "org/exp", &a);
}

static void local_matrix(void **st)
{
    const struct arca_session *s = *st;
    assert_int_equal(ask(s, "s", "app", h2, NULL, NULL), 0); /* right session */
    assert_err(ask(s, "s", "apps", h2, NULL, NULL), ARCA_ERR_DENIED, "to this session");
    assert_int_equal(ask(s, "s", "org/sib", h2, NULL, NULL), 0);       /* ../sib */
    assert_int_equal(ask(s, "s", "org/exp/child", h2, NULL, NULL), 0); /* ./child */
    assert_err(ask(s, "s", "sib", h2, NULL, NULL), ARCA_ERR_DENIED, "does not export s");
    assert_int_equal(ask(s, "s", "pinned", h1, NULL, NULL), 0); /* hash matches */
    assert_err(ask(s, "s", "pinned", h2, NULL, NULL), ARCA_ERR_DENIED, "does not export");
    assert_int_equal(ask(s, "s", "team/a/b", h2, NULL, NULL), 0); /* namespace child */
    assert_int_equal(ask(s, "s", "team", h2, NULL, NULL), 0);     /* the namespace session */
    assert_err(ask(s, "s", "teamwork", h2, NULL, NULL), ARCA_ERR_DENIED, "does not export");
    assert_err(ask(s, "none", "app", h2, NULL, NULL), ARCA_ERR_DENIED, "does not export none");
    /* A remote rule never admits a local session of that name. */
    assert_err(ask(s, "s", "far/app", h2, NULL, NULL), ARCA_ERR_DENIED, "does not export");
}

static void remote_matrix(void **st)
{
    const struct arca_session *s = *st;
    assert_int_equal(ask(s, "s", "far/app", h2, k1, NULL), 0); /* right key, right session */
    assert_err(ask(s, "s", "far/app", h2, k2, NULL), ARCA_ERR_DENIED, "remote session far/app");
    assert_err(ask(s, "s", "far/other", h2, k1, NULL), ARCA_ERR_DENIED, "does not export");
    /* Local rules never admit a remote asker, even with the same name. */
    assert_err(ask(s, "s", "app", h2, k1, NULL), ARCA_ERR_DENIED, "does not export");
    /* Software key: the measurement, not the CAS key. */
    assert_int_equal(ask(s, "s", "sw/app", h2, k1, k2), 0);
    assert_err(ask(s, "s", "sw/app", h2, k1, k1), ARCA_ERR_DENIED, "does not export");
    assert_err(ask(s, "s", "sw/app", h2, k2, NULL), ARCA_ERR_DENIED, "does not export");
}

static void relative_names(void **st)
{
    (void)st;
    char out[ARCA_SESSION_NAME_MAX + 1];
    assert_int_equal(arca_session_ref_resolve("a/b/c", "../x", out, sizeof(out)), 0);
    assert_string_equal(out, "a/b/x");
    assert_int_equal(arca_session_ref_resolve("a/b/c", "../../x", out, sizeof(out)), 0);
    assert_string_equal(out, "a/x");
    assert_int_equal(arca_session_ref_resolve("a/b/c", "./x", out, sizeof(out)), 0);
    assert_string_equal(out, "a/b/c/x");
    assert_int_equal(arca_session_ref_resolve("c", "../x", out, sizeof(out)), 0);
    assert_string_equal(out, "x");
    assert_int_equal(arca_session_ref_resolve("a/c", "../../x", out, sizeof(out)), 0);
    assert_string_equal(out, "x");
    assert_int_equal(arca_session_ref_resolve("a/b", "abs/name", out, sizeof(out)), 0);
    assert_string_equal(out, "abs/name");
    assert_err(arca_session_ref_resolve("c", "../../x", out, sizeof(out)), ARCA_ERR_FORMAT,
               "climbs above the root");
    assert_err(arca_session_ref_resolve("a", "./../x", out, sizeof(out)), ARCA_ERR_FORMAT,
               "session reference ./../x");
    assert_err(arca_session_ref_resolve("a", "../", out, sizeof(out)), ARCA_ERR_FORMAT,
               "session reference ../");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(local_matrix, setup, teardown),
        cmocka_unit_test_setup_teardown(remote_matrix, setup, teardown),
        cmocka_unit_test(relative_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
