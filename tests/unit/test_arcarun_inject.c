/*
 * Injection against a hostile host file system (issue 9, item 7): a directory component flipped
 * between a real directory and a symlink to another host directory while arca-run creates a
 * missing path leaves nothing on the real disk; symlinks that exist are followed but never
 * created through; a symlink to nothing and a non-normal path are refused. Each launch runs in
 * a child process (its namespace must not touch the test runner).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arcarun.h"
#include "arcarun_test_util.h"
#include "base/err.h"

static char root_dir[] = "/var/tmp/arcarun-inject-XXXXXX";
static char stage_dir[] = "/var/tmp/arcarun-istage-XXXXXX";

static int setup(void **state)
{
    (void)state;
    if (make_test_dirs(root_dir, stage_dir) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return remove_test_dirs(root_dir, stage_dir);
}

/* Number of entries (other than . and ..) in a directory; -1 if it cannot be listed. */
static int entries(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* Applies one file in a child; returns its exit status (0 applied and content visible, 1 apply
 * refused, 2 applied but not visible at its path). */
static int apply_one(const char *path, const char *content, char *detail, size_t detail_len)
{
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pipefd[0]);
        struct arcarun_file f = {.path = (char *)path,
                                 .mode = 0600,
                                 .content = (uint8_t *)content,
                                 .len = strlen(content)};
        struct arcarun_config c = {.files = &f, .nfiles = 1};
        if (arcarun_apply_files(&c, stage_dir) != 0) {
            const char *d = arca_err_detail();
            ssize_t w = write(pipefd[1], d, strlen(d));
            (void)w;
            _exit(1);
        }
        const char *got = read_small(path);
        _exit(got != NULL && strcmp(got, content) == 0 ? 0 : 2);
    }
    close(pipefd[1]);
    ssize_t n = read(pipefd[0], detail, detail_len - 1);
    detail[n > 0 ? n : 0] = '\0';
    close(pipefd[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* Swaps <site>/d (a real directory) and <site>/d.alt (a symlink to a host directory)
 * atomically, over and over, until killed: d always exists, as one or the other. */
static void flipper(const char *site)
{
    int dfd = open(site, O_PATH | O_DIRECTORY);
    if (dfd < 0)
        _exit(1);
    for (;;)
        if (renameat2(dfd, "d", dfd, "d.alt", RENAME_EXCHANGE) != 0)
            _exit(2);
}

static void test_flipped_component_leaves_disk_alone(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip(); /* the unprivileged path is the same code in a user namespace */
    char site[128], d[256], alt[256], host[256], target[300], detail[600];
    snprintf(site, sizeof(site), "%s/site", root_dir);
    snprintf(d, sizeof(d), "%s/d", site);
    snprintf(alt, sizeof(alt), "%s/d.alt", site);
    snprintf(host, sizeof(host), "%s/host", root_dir);
    snprintf(target, sizeof(target), "%s/sub/secret.conf", d);
    assert_int_equal(mkdir(site, 0755), 0);
    assert_int_equal(mkdir(d, 0755), 0);
    assert_int_equal(mkdir(host, 0755), 0);
    assert_int_equal(symlink(host, alt), 0);

    pid_t flip = fork();
    assert_true(flip >= 0);
    if (flip == 0)
        flipper(site);
    int applied = 0;
    for (int i = 0; i < 100; i++)
        applied += apply_one(target, "flip-secret", detail, sizeof(detail)) == 0;
    kill(flip, SIGKILL);
    assert_int_equal(waitpid(flip, NULL, 0), flip);
    /* Wherever the flipper stopped, the real directory is one of the two names. */
    struct stat st;
    assert_int_equal(lstat(d, &st), 0);
    const char *real = S_ISDIR(st.st_mode) ? d : alt;
    assert_int_equal(entries(real), 0);
    assert_int_equal(entries(host), 0); /* nothing in either directory */
    assert_int_equal(entries(site), 2);
    assert_true(applied > 0); /* the race was run through, not refused every time */
}

static void test_existing_symlink_followed_not_written(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    char other[256], ln[256], target[300], detail[600];
    snprintf(other, sizeof(other), "%s/other", root_dir);
    snprintf(ln, sizeof(ln), "%s/ln", root_dir);
    snprintf(target, sizeof(target), "%s/new/x.conf", ln);
    assert_int_equal(mkdir(other, 0755), 0);
    assert_int_equal(symlink(other, ln), 0);
    assert_int_equal(apply_one(target, "via-link", detail, sizeof(detail)), 0);
    assert_int_equal(entries(other), 0);
    struct stat st;
    assert_int_equal(lstat(ln, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
}

static void test_refusals(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    char dangle[256], p[300], detail[600];
    snprintf(dangle, sizeof(dangle), "%s/dangle", root_dir);
    assert_int_equal(symlink("/nonexistent-arca-target/x", dangle), 0);
    assert_int_equal(apply_one(dangle, "x", detail, sizeof(detail)), 1);
    assert_non_null(strstr(detail, "symbolic link to nothing"));
    assert_int_not_equal(access("/nonexistent-arca-target", F_OK), 0);

    snprintf(p, sizeof(p), "%s/a/../b", root_dir);
    assert_int_equal(apply_one(p, "x", detail, sizeof(detail)), 1);
    assert_non_null(strstr(detail, "'..' component"));
    snprintf(p, sizeof(p), "%s//b", root_dir);
    assert_int_equal(apply_one(p, "x", detail, sizeof(detail)), 1);
    assert_non_null(strstr(detail, "'//'"));
    snprintf(p, sizeof(p), "%s/adir/", root_dir);
    assert_int_equal(apply_one(p, "x", detail, sizeof(detail)), 1);
    assert_non_null(strstr(detail, "trailing"));
    assert_int_equal(entries(stage_dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flipped_component_leaves_disk_alone),
        cmocka_unit_test(test_existing_symlink_followed_not_written),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
