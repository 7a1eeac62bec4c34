/*
 * File-system helpers: mkdir -p with missing parents, existing directories, a file in the way.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/err.h"
#include "base/fs.h"

static void test_mkdirs(void **state)
{
    (void)state;
    char root[] = "/tmp/arca-fs-XXXXXX";
    assert_non_null(mkdtemp(root));
    char deep[256], file[256];
    snprintf(deep, sizeof(deep), "%s/a/b/c", root);
    assert_int_equal(arca_mkdirs(deep, 0700), 0);
    struct stat st;
    assert_int_equal(stat(deep, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    /* Again: existing directories are fine, a trailing slash too. */
    assert_int_equal(arca_mkdirs(deep, 0700), 0);
    snprintf(deep, sizeof(deep), "%s/a/b/c/", root);
    assert_int_equal(arca_mkdirs(deep, 0700), 0);
    /* A file in the way is named. */
    snprintf(file, sizeof(file), "%s/a/file", root);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(deep, sizeof(deep), "%s/a/file/x", root);
    assert_int_equal(arca_mkdirs(deep, 0700), ARCA_ERR_IO);
    assert_non_null(strstr(arca_err_detail(), "file"));
    assert_int_equal(arca_mkdirs(file, 0700), ARCA_ERR_IO);
    assert_non_null(strstr(arca_err_detail(), "not a directory"));
    assert_int_equal(arca_mkdirs("", 0700), ARCA_ERR_INVALID_ARG);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_mkdirs)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
