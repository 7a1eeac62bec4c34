/*
 * The listing index and the sessions-created count (store.h): written in the same transaction
 * as the session commit, consistent with the active pointers after updates and after reopen,
 * and a create over the quota writes nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/err.h"
#include "store/store.h"
#include "store_fixture.h"

/* Every listing entry matches the active pointer and its stored version (creator too). */
static void check_consistent(struct fx *f)
{
    struct arca_store_listing *l = NULL;
    struct arca_store_active *a = NULL;
    size_t n = 0, na = 0;
    assert_int_equal(arca_store_listing_get(f->s, NULL, NULL, &l, &n), 0);
    assert_int_equal(arca_store_active_list(f->s, NULL, &a, &na), 0);
    assert_int_equal(n, na);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(l[i].name, a[i].name);
        assert_memory_equal(l[i].hash, a[i].hash, 32);
        assert_int_equal(l[i].version, a[i].version);
        assert_true(l[i].indexed);
        struct arca_store_session *rec = NULL;
        assert_int_equal(arca_store_session_get(f->s, l[i].hash, &rec), 0);
        assert_memory_equal(l[i].creator, rec->creator, 32);
        arca_store_session_free(rec);
    }
    arca_store_listing_free(l, n);
    arca_store_active_list_free(a, na);
}

static void test_index_follows_commits(void **state)
{
    struct fx *f = *state;
    struct arca_store_session v1, v2, w1;
    test_session(&v1, "alpha", 1, NULL, 1);
    test_session(&v2, "alpha", 2, v1.hash, 2);
    test_session(&w1, "beta", 3, NULL, 1);
    struct arca_store_commit_extra r1 = {.readers = "R1", .readers_len = 2};
    struct arca_store_commit_extra r2 = {.readers = "R2x", .readers_len = 3};
    assert_int_equal(arca_store_session_commit_ex(f->s, &v1, NULL, 0, &r1), 0);
    assert_int_equal(arca_store_session_commit_ex(f->s, &w1, NULL, 0, &r1), 0);
    check_consistent(f);
    assert_int_equal(arca_store_session_commit_ex(f->s, &v2, NULL, 0, &r2), 0);
    check_consistent(f);

    struct arca_store_listing *l = NULL;
    size_t n = 0;
    assert_int_equal(arca_store_listing_get(f->s, "al", NULL, &l, &n), 0);
    assert_int_equal(n, 1);
    assert_memory_equal(l[0].hash, v2.hash, 32);
    assert_int_equal(l[0].readers_len, 3);
    assert_memory_equal(l[0].readers, "R2x", 3);
    arca_store_listing_free(l, n);

    /* after: strictly after the given name */
    assert_int_equal(arca_store_listing_get(f->s, NULL, "alpha", &l, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(l[0].name, "beta");
    arca_store_listing_free(l, n);
    assert_int_equal(arca_store_listing_get(f->s, NULL, "beta", &l, &n), 0);
    assert_int_equal(n, 0);
    assert_null(l);

    reopen(f);
    check_consistent(f);
    assert_int_equal(arca_store_listing_get(f->s, NULL, NULL, &l, &n), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(l[0].readers, "R2x", 3);
    assert_memory_equal(l[1].readers, "R1", 2);
    arca_store_listing_free(l, n);

    /* a plain commit indexes without readers: the caller decides from the version */
    struct arca_store_session g1;
    test_session(&g1, "gamma", 4, NULL, 1);
    assert_int_equal(arca_store_session_commit(f->s, &g1, NULL, 0), 0);
    assert_int_equal(arca_store_listing_get(f->s, "gamma", NULL, &l, &n), 0);
    assert_int_equal(n, 1);
    assert_true(l[0].indexed);
    assert_int_equal(l[0].readers_len, 0);
    arca_store_listing_free(l, n);
    check_consistent(f);
}

static void test_created_quota(void **state)
{
    struct fx *f = *state;
    struct arca_store_session a, b, c, a2;
    test_session(&a, "q1", 1, NULL, 1);
    test_session(&b, "q2", 2, NULL, 1);
    test_session(&c, "q3", 3, NULL, 1);
    test_session(&a2, "q1", 4, a.hash, 2);
    struct arca_store_commit_extra x = {.max_created = 2};
    uint64_t n = 99;
    assert_int_equal(arca_store_sessions_created(f->s, a.creator, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(arca_store_session_commit_ex(f->s, &a, NULL, 0, &x), 0);
    assert_int_equal(arca_store_session_commit_ex(f->s, &b, NULL, 0, &x), 0);
    /* an update is not a create */
    assert_int_equal(arca_store_session_commit_ex(f->s, &a2, NULL, 0, &x), 0);
    uint64_t commit = 0, after = 0;
    uint8_t head[32];
    assert_int_equal(arca_store_state(f->s, &commit, head), 0);
    assert_int_equal(arca_store_session_commit_ex(f->s, &c, NULL, 0, &x), ARCA_ERR_LIMIT);
    assert_non_null(strstr(arca_err_detail(), "--max-sessions-per-client 2"));
    assert_int_equal(arca_store_state(f->s, &after, head), 0);
    assert_int_equal(after, commit); /* nothing written */
    struct arca_store_active act;
    assert_int_equal(arca_store_active_get(f->s, "q3", &act), ARCA_ERR_NOT_FOUND);
    assert_int_equal(arca_store_sessions_created(f->s, a.creator, &n), 0);
    assert_int_equal(n, 2);
    reopen(f);
    assert_int_equal(arca_store_sessions_created(f->s, a.creator, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(arca_store_session_commit_ex(f->s, &c, NULL, 0, &x), ARCA_ERR_LIMIT);
    /* another creator has a count of its own */
    memset(c.creator, 0xd0, 32);
    assert_int_equal(arca_store_session_commit_ex(f->s, &c, NULL, 0, &x), 0);
    check_consistent(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_index_follows_commits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_created_quota, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
