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

static void test_file_read(void **state)
{
    (void)state;
    char path[] = "/tmp/arca-fs-read-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "0123456789", 10), 10);
    close(fd);
    struct arca_buf b;
    arca_buf_init_secret(&b, 64);
    assert_int_equal(arca_buf_put_str(&b, "x:"), 0);
    assert_int_equal(arca_file_read(path, 0, &b), 0);
    assert_string_equal(arca_buf_cstr(&b), "x:0123456789");
    /* Over the per-call limit, or over the buffer's own maximum: refused, out unchanged. */
    assert_int_equal(arca_file_read(path, 9, &b), ARCA_ERR_TOO_LARGE);
    assert_string_equal(arca_buf_cstr(&b), "x:0123456789");
    assert_int_equal(arca_file_read(path, 10, &b), 0);
    assert_int_equal(b.len, 22);
    struct arca_buf small;
    arca_buf_init(&small, 10);
    assert_int_equal(arca_file_read(path, 0, &small), 0); /* exactly fits */
    assert_int_equal(arca_file_read(path, 0, &small), ARCA_ERR_TOO_LARGE);
    assert_int_equal(small.len, 10);
    arca_buf_free(&small);
    unlink(path);
    assert_int_equal(arca_file_read(path, 0, &b), ARCA_ERR_NOT_FOUND);
    assert_non_null(strstr(arca_err_detail(), path));
    assert_int_equal(b.len, 22);
    arca_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_mkdirs),
                                       cmocka_unit_test(test_file_read)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
