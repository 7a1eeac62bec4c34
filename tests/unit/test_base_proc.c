/* Process hygiene (base/proc.c): after arca_proc_no_dumps the process is not dumpable and
 * cannot write a core file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "base/proc.h"

static void test_no_dumps(void **state)
{
    (void)state;
    assert_int_equal(arca_proc_no_dumps(), 0);
    assert_int_equal(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
    struct rlimit r;
    assert_int_equal(getrlimit(RLIMIT_CORE, &r), 0);
    assert_int_equal(r.rlim_cur, 0);
    assert_int_equal(r.rlim_max, 0);
    /* Idempotent. */
    assert_int_equal(arca_proc_no_dumps(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_no_dumps)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
