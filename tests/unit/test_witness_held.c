/* The counters an arcad holds for its peers (witness/held.c): monotonic per caller, durable,
 * sealed (a forged or foreign file is refused). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "store_test_util.h"
#include "witness/witness.h"

static const uint8_t KEY[ARCA_WITNESS_KEY_LEN] = {1, 2, 3};

static void test_monotonic_per_caller(void **state)
{
    (void)state;
    char *dir = tdir_make();
    char path[512];
    snprintf(path, sizeof(path), "%s/witness-peers", dir);
    uint8_t a[32], b[32];
    memset(a, 0xaa, sizeof(a));
    memset(b, 0xbb, sizeof(b));
    struct arca_witness_held *h = NULL;
    assert_int_equal(arca_witness_held_open(path, KEY, &h), 0);
    uint64_t v = 0;
    assert_int_equal(arca_witness_held_read(h, a, &v), ARCA_ERR_NOT_FOUND);
    assert_int_equal(arca_witness_held_record(h, a, 5, &v), 0);
    assert_int_equal(v, 5);
    assert_int_equal(arca_witness_held_record(h, b, 2, NULL), 0);
    assert_int_equal(arca_witness_held_record(h, a, 5, &v), ARCA_ERR_EXISTS);
    assert_int_equal(arca_witness_held_record(h, a, 4, &v), ARCA_ERR_TAMPERED);
    assert_int_equal(v, 5);
    /* both numbers named */
    assert_non_null(strstr(arca_err_detail(), "5"));
    assert_non_null(strstr(arca_err_detail(), "lower commit 4"));
    assert_int_equal(arca_witness_held_record(h, a, 9, NULL), 0);
    arca_witness_held_free(h);

    /* durable: a re-open holds both counters */
    assert_int_equal(arca_witness_held_open(path, KEY, &h), 0);
    assert_int_equal(arca_witness_held_read(h, a, &v), 0);
    assert_int_equal(v, 9);
    assert_int_equal(arca_witness_held_read(h, b, &v), 0);
    assert_int_equal(v, 2);
    arca_witness_held_free(h);

    /* another arcad's key cannot open it, and a flipped byte is refused */
    uint8_t other[ARCA_WITNESS_KEY_LEN] = {9};
    assert_int_equal(arca_witness_held_open(path, other, &h), ARCA_ERR_TAMPERED);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, 20, SEEK_SET);
    int c = fgetc(f);
    fseek(f, 20, SEEK_SET);
    fputc(c ^ 1, f);
    fclose(f);
    assert_int_equal(arca_witness_held_open(path, KEY, &h), ARCA_ERR_TAMPERED);
    assert_non_null(strstr(arca_err_detail(), "witness-peers"));
    tdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_monotonic_per_caller),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
