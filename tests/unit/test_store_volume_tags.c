/*
 * The latest state of protected volumes in the store (store/volume_tags.c): compare-and-set
 * ordering of two writers, survival across a reopen, and arcad's report key made once.
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

static void test_cas_orders_writers(void **state)
{
    struct fx *f = *state;
    struct arca_store_volume v, got;
    memset(&v, 0, sizeof(v));
    assert_int_equal(arca_store_volume_get(f->s, "app", "data", &got), ARCA_ERR_NOT_FOUND);
    v.has_tag = true;
    memset(v.tag, 0x11, 16);
    assert_int_equal(arca_store_volume_update(f->s, "app", "data", NULL, &v), 0);
    assert_int_equal(v.seq, 1);
    /* A second "first" write and a stale seq both lose. */
    assert_int_equal(arca_store_volume_update(f->s, "app", "data", NULL, &v), ARCA_ERR_CONFLICT);
    uint64_t stale = 0;
    assert_int_equal(arca_store_volume_update(f->s, "app", "data", &stale, &v), ARCA_ERR_CONFLICT);
    /* Two writers that both read version 1: one wins, the other is refused. */
    uint64_t seen = 1;
    struct arca_store_volume a = v, b = v;
    memset(a.tag, 0xaa, 16);
    memset(b.tag, 0xbb, 16);
    assert_int_equal(arca_store_volume_update(f->s, "app", "data", &seen, &a), 0);
    assert_int_equal(arca_store_volume_update(f->s, "app", "data", &seen, &b), ARCA_ERR_CONFLICT);
    reopen(f);
    assert_int_equal(arca_store_volume_get(f->s, "app", "data", &got), 0);
    assert_int_equal(got.seq, 2);
    assert_memory_equal(got.tag, a.tag, 16);
    /* Volumes of other sessions are separate records. */
    assert_int_equal(arca_store_volume_get(f->s, "app2", "data", &got), ARCA_ERR_NOT_FOUND);
    assert_int_equal(arca_store_volume_update(f->s, "bad\nname", "data", NULL, &v),
                     ARCA_ERR_INVALID_ARG);
}

static void test_report_key_made_once(void **state)
{
    struct fx *f = *state;
    uint8_t k1[32], k2[32];
    assert_int_equal(arca_store_volume_report_key(f->s, k1), 0);
    assert_int_equal(arca_store_volume_report_key(f->s, k2), 0);
    assert_memory_equal(k1, k2, 32);
    reopen(f);
    assert_int_equal(arca_store_volume_report_key(f->s, k2), 0);
    assert_memory_equal(k1, k2, 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cas_orders_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_key_made_once, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
