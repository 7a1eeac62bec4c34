/*
 * provided_by values in the store (store/provided.c): absent until uploaded, replaced with a
 * growing upload count, per session and secret, sealed (the plaintext is not in the file) and
 * kept across a reopen.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store_fixture.h"

#define V1 "first-Pr0vided-value-1f2e"
#define V2 "second-Pr0vided-value-3d4c"

static void test_put_get_replace(void **state)
{
    struct fx *f = *state;
    struct arca_buf b;
    arca_buf_init_secret(&b, 0);
    uint64_t seq = 0;
    assert_int_equal(arca_store_provided_get(f->s, "app", "db", &b, &seq), ARCA_ERR_NOT_FOUND);
    assert_int_equal(arca_store_provided_put(f->s, "app", "db", V1, strlen(V1), &seq), 0);
    assert_int_equal(seq, 1);
    assert_int_equal(arca_store_provided_put(f->s, "app", "db", V2, strlen(V2), &seq), 0);
    assert_int_equal(seq, 2);
    reopen(f);
    assert_int_equal(arca_store_provided_get(f->s, "app", "db", &b, &seq), 0);
    assert_int_equal(seq, 2);
    assert_int_equal(b.len, strlen(V2));
    assert_memory_equal(b.data, V2, b.len);
    /* Other sessions and secrets are separate records; names are checked. */
    assert_int_equal(arca_store_provided_get(f->s, "app2", "db", &b, NULL), ARCA_ERR_NOT_FOUND);
    assert_int_equal(arca_store_provided_get(f->s, "app", "db2", &b, NULL), ARCA_ERR_NOT_FOUND);
    assert_int_equal(arca_store_provided_put(f->s, "bad\nname", "db", "x", 1, NULL),
                     ARCA_ERR_INVALID_ARG);
    arca_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_get_replace, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
