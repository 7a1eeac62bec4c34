/*
 * Fault injection: make the N-th backend or key-store I/O call fail, for every N over a
 * workload. Each call must fail cleanly (a negative code with a detail) or succeed; afterwards
 * the store must reopen (recovering an interrupted key-store update) and hold every write that
 * was answered with success.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/err.h"
#include "store/backend.h"
#include "store/store.h"
#include "store_test_util.h"

struct done {
    char key[32];
    char val[32];
};

static void test_nth_fails(void **state)
{
    (void)state;
    char *dir = tdir_make();
    uint8_t k[32];
    test_seal_key(k, 7);
    struct arca_store_fixed_sealer fs;
    arca_store_fixed_sealer_init(&fs, k);
    struct arca_store *s = NULL;
    assert_int_equal(test_store_open(dir, &fs, true, &s), 0);
    arca_store_close(s);

    struct done done[2048];
    size_t ndone = 0;
    int failures = 0, open_failures = 0;
    for (long n = 1; n <= 60; n++) {
        arca_store_fault_arm(n);
        s = NULL;
        int rc = test_store_open(dir, &fs, false, &s);
        if (rc != 0) {
            assert_true(strlen(arca_err_detail()) > 0);
            open_failures++;
        } else {
            for (int i = 0; i < 6; i++) {
                struct done d;
                snprintf(d.key, sizeof(d.key), "k%ld-%d", n, i);
                snprintf(d.val, sizeof(d.val), "v%ld-%d", n, i);
                rc = arca_store_meta_put(s, d.key, d.val, strlen(d.val));
                if (rc == 0) {
                    assert_true(ndone < 2048);
                    done[ndone++] = d;
                } else {
                    assert_true(rc < 0);
                    assert_non_null(strstr(arca_err_detail(), ""));
                    failures++;
                }
                struct arca_buf b;
                arca_buf_init(&b, 0);
                rc = arca_store_meta_get(s, d.key, &b);
                if (rc == 0)
                    assert_memory_equal(b.data, d.val, strlen(d.val));
                arca_buf_free(&b);
                if (i == 3)
                    (void)arca_store_compact(s, NULL); /* may fail anywhere inside */
                uint8_t id[4] = {(uint8_t)n, (uint8_t)i, 1, 2};
                if (arca_store_once_put(s, "challenge", id, 4, INT64_MAX, NULL, 0) == 0)
                    (void)arca_store_once_take(s, "challenge", id, 4, 0, NULL);
            }
            arca_store_close(s);
        }
        arca_store_fault_arm(0);
        s = NULL;
        rc = test_store_open(dir, &fs, false, &s);
        if (rc != 0)
            fprintf(stderr, "n=%ld reopen: %s\n", n, arca_err_detail());
        assert_int_equal(rc, 0);
        for (size_t i = 0; i < ndone; i++) {
            struct arca_buf b;
            arca_buf_init(&b, 0);
            rc = arca_store_meta_get(s, done[i].key, &b);
            if (rc != 0)
                fprintf(stderr, "n=%ld %s: %s\n", n, done[i].key, arca_err_detail());
            assert_int_equal(rc, 0);
            assert_int_equal(b.len, strlen(done[i].val));
            assert_memory_equal(b.data, done[i].val, b.len);
            arca_buf_free(&b);
        }
        arca_store_close(s);
    }
    printf("60 fault positions: %d failed opens, %d failed writes, %zu answered writes kept\n",
           open_failures, failures, ndone);
    assert_true(failures > 0);
    tdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nth_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
