/*
 * File-system helpers: mkdir -p with missing parents, existing directories, a file in the way;
 * bounded reads; the atomic writer with its faults (missing or unwritable directory, temporary
 * names taken, a symlink planted on the temporary name, a short write, a failing rename).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
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

/* A fresh directory under /tmp in root (PATH_MAX-free: the tests use short names). */
static void make_root(char root[32])
{
    snprintf(root, 32, "/tmp/arca-fsw-XXXXXX");
    assert_non_null(mkdtemp(root));
}

static void remove_root(const char *root)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "chmod -R u+w %s; rm -rf %s", root, root);
    assert_int_equal(system(cmd), 0);
}

/* Number of entries of dir whose name starts with '.', other than "." and "..". */
static int hidden_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] == '.' && strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static void assert_file_is(const char *path, const char *want)
{
    struct arca_buf b;
    arca_buf_init(&b, 1 << 16);
    assert_int_equal(arca_file_read(path, 0, &b), 0);
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data != NULL ? (const char *)b.data : "", want, b.len);
    arca_buf_free(&b);
}

static void test_file_write(void **state)
{
    (void)state;
    char root[32], path[256];
    make_root(root);
    mode_t old_umask = umask(022);
    snprintf(path, sizeof(path), "%s/f", root);
    assert_int_equal(arca_file_write(path, "one", 3, 0640, 0), 0);
    assert_file_is(path, "one");
    struct stat st1, st2;
    assert_int_equal(stat(path, &st1), 0);
    assert_int_equal(st1.st_mode & 0777, 0640);
    /* Replacing: a new inode (rename), never the old file rewritten in place. */
    assert_int_equal(arca_file_write(path, "second", 6, 0600, ARCA_FILE_SECRET), 0);
    assert_file_is(path, "second");
    assert_int_equal(stat(path, &st2), 0);
    assert_int_not_equal(st1.st_ino, st2.st_ino);
    assert_int_equal(st2.st_mode & 0777, 0600);
    assert_int_equal(arca_file_write(path, NULL, 0, 0644, 0), 0);
    assert_file_is(path, "");
    assert_int_equal(hidden_entries(root), 0);
    /* The umask narrows the mode. */
    umask(077);
    assert_int_equal(arca_file_write(path, "x", 1, 0644, 0), 0);
    assert_int_equal(stat(path, &st1), 0);
    assert_int_equal(st1.st_mode & 0777, 0600);
    umask(022);
    /* A relative path: the temporary file goes to the current directory. */
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(root), 0);
    assert_int_equal(arca_file_write("rel", "r", 1, 0644, 0), 0);
    assert_int_equal(chdir(cwd), 0);
    snprintf(path, sizeof(path), "%s/rel", root);
    assert_file_is(path, "r");

    /* Refused before anything touches the disk. */
    snprintf(path, sizeof(path), "%s/secret", root);
    assert_int_equal(arca_file_write(path, "k", 1, 0640, ARCA_FILE_SECRET), ARCA_ERR_INVALID_ARG);
    assert_non_null(strstr(arca_err_detail(), "readable by others"));
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(arca_file_write(path, "k", 1, 0600, 0x80), ARCA_ERR_INVALID_ARG);
    snprintf(path, sizeof(path), "%s/", root);
    assert_int_equal(arca_file_write(path, "k", 1, 0600, 0), ARCA_ERR_INVALID_ARG);
    assert_int_equal(arca_file_write("..", "k", 1, 0600, 0), ARCA_ERR_INVALID_ARG);
    assert_int_equal(arca_file_write(NULL, "k", 1, 0600, 0), ARCA_ERR_INVALID_ARG);
    assert_int_equal(arca_file_write("x", NULL, 1, 0600, 0), ARCA_ERR_INVALID_ARG);
    char longp[5000];
    memset(longp, 'a', sizeof(longp) - 1);
    longp[sizeof(longp) - 1] = '\0';
    assert_int_equal(arca_file_write(longp, "k", 1, 0600, 0), ARCA_ERR_TOO_LARGE);
    assert_int_equal(hidden_entries(root), 0);
    umask(old_umask);
    remove_root(root);
}

static void test_file_write_unwritable(void **state)
{
    (void)state;
    char root[32], path[256];
    make_root(root);
    /* A missing directory, a file where the directory should be: named in the error. */
    snprintf(path, sizeof(path), "%s/missing/f", root);
    assert_int_equal(arca_file_write(path, "x", 1, 0644, 0), ARCA_ERR_IO);
    assert_non_null(strstr(arca_err_detail(), path));
    assert_non_null(strstr(arca_err_detail(), "create temporary file"));
    snprintf(path, sizeof(path), "%s/plain", root);
    assert_int_equal(arca_file_write(path, "x", 1, 0644, 0), 0);
    snprintf(path, sizeof(path), "%s/plain/f", root);
    assert_int_equal(arca_file_write(path, "x", 1, 0644, 0), ARCA_ERR_IO);
    assert_non_null(strstr(arca_err_detail(), path));
    /* /proc takes no new files, not even from root. */
    assert_int_equal(arca_file_write("/proc/arca-test-file", "x", 1, 0644, 0), ARCA_ERR_IO);
    assert_non_null(strstr(arca_err_detail(), "/proc/arca-test-file"));
    /* A read-only directory (root ignores the permission bits, so only as another user). */
    if (geteuid() != 0) {
        char ro[128];
        snprintf(ro, sizeof(ro), "%s/ro", root);
        assert_int_equal(mkdir(ro, 0500), 0);
        snprintf(path, sizeof(path), "%s/f", ro);
        assert_int_equal(arca_file_write(path, "x", 1, 0644, 0), ARCA_ERR_IO);
        assert_non_null(strstr(arca_err_detail(), path));
        assert_int_equal(access(path, F_OK), -1);
    }
    remove_root(root);
}

static void test_file_write_existing_temp(void **state)
{
    (void)state;
    char root[32], path[256], victim[256], tmp[256];
    make_root(root);
    snprintf(path, sizeof(path), "%s/f", root);
    snprintf(victim, sizeof(victim), "%s/victim", root);
    assert_int_equal(arca_file_write(victim, "keep", 4, 0644, 0), 0);
    /* A symlink planted on the first temporary name is neither followed nor removed. */
    snprintf(tmp, sizeof(tmp), "%s/.f.%ld.0.tmp", root, (long)getpid());
    assert_int_equal(symlink(victim, tmp), 0);
    assert_int_equal(arca_file_write(path, "new", 3, 0644, 0), 0);
    assert_file_is(path, "new");
    assert_file_is(victim, "keep");
    struct stat st;
    assert_int_equal(lstat(tmp, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    /* Every temporary name taken: ARCA_ERR_EXISTS, the target unchanged. */
    for (int i = 1; i < ARCA_FILE_TMP_TRIES; i++) {
        snprintf(tmp, sizeof(tmp), "%s/.f.%ld.%d.tmp", root, (long)getpid(), i);
        FILE *f = fopen(tmp, "w");
        assert_non_null(f);
        fclose(f);
    }
    assert_int_equal(arca_file_write(path, "newer", 5, 0644, 0), ARCA_ERR_EXISTS);
    assert_non_null(strstr(arca_err_detail(), path));
    assert_file_is(path, "new");
    assert_int_equal(hidden_entries(root), ARCA_FILE_TMP_TRIES);
    remove_root(root);
}

static void test_file_write_faults(void **state)
{
    (void)state;
    char root[32], path[256], sub[256];
    make_root(root);
    snprintf(path, sizeof(path), "%s/f", root);
    assert_int_equal(arca_file_write(path, "old", 3, 0600, 0), 0);

    /* A short write, then EFBIG: RLIMIT_FSIZE makes the kernel stop the write at 100 bytes. */
    static char big[1000];
    memset(big, 's', sizeof(big));
    struct rlimit saved, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = saved;
    lim.rlim_cur = 100;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc = arca_file_write(path, big, sizeof(big), 0600, ARCA_FILE_SECRET);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
    signal(SIGXFSZ, old_handler);
    assert_int_equal(rc, ARCA_ERR_IO);
    assert_non_null(strstr(arca_err_detail(), path));
    assert_non_null(strstr(arca_err_detail(), "write of temporary file"));
    assert_file_is(path, "old");
    assert_int_equal(hidden_entries(root), 0);

    /* The rename fails (a non-empty directory is in the way): temporary file removed. */
    snprintf(sub, sizeof(sub), "%s/d", root);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(path, sizeof(path), "%s/d/x", root);
    assert_int_equal(arca_file_write(path, "x", 1, 0600, 0), 0);
    assert_int_equal(arca_file_write(sub, "x", 1, 0600, ARCA_FILE_SECRET), ARCA_ERR_IO);
    assert_non_null(strstr(arca_err_detail(), "rename of temporary file"));
    assert_int_equal(hidden_entries(root), 0);
    remove_root(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mkdirs),
        cmocka_unit_test(test_file_read),
        cmocka_unit_test(test_file_write),
        cmocka_unit_test(test_file_write_unwritable),
        cmocka_unit_test(test_file_write_existing_temp),
        cmocka_unit_test(test_file_write_faults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
