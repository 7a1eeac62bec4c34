/*
 * Applying a configuration in a child process (the namespaces must not touch the test runner):
 * injected files appear at their exact paths with their modes, the directory's other files
 * stay, nothing reaches the disk, both as root and through an unprivileged user namespace; and
 * the measured descriptor is what runs, with only the policy's environment, argv and pwd.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arcarun.h"
#include "arcarun_test_util.h"
#include "base/err.h"

static char root_dir[] = "/var/tmp/arcarun-apply-XXXXXX";
static char stage_dir[] = "/var/tmp/arcarun-stage-XXXXXX";

static int setup(void **state)
{
    (void)state;
    if (make_test_dirs(root_dir, stage_dir) != 0)
        return -1;
    char p[256];
    snprintf(p, sizeof(p), "%s/etc", root_dir);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/etc/existing.conf", root_dir);
    write_file(p, "original", 0644);
    snprintf(p, sizeof(p), "%s/etc/other", root_dir);
    write_file(p, "keep", 0644);
    snprintf(p, sizeof(p), "%s/etc/link", root_dir);
    if (symlink("other", p) != 0)
        return -1;
    snprintf(p, sizeof(p), "%s/etc/sub", root_dir);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/etc/sub/deep", root_dir);
    write_file(p, "deep", 0644);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return remove_test_dirs(root_dir, stage_dir);
}

struct cfg_store {
    char paths[3][256];
    char *content[3];
    struct arcarun_file files[3];
    struct arcarun_config c;
};

static void make_config(struct cfg_store *s)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->paths[0], 256, "%s/etc/existing.conf", root_dir);
    snprintf(s->paths[1], 256, "%s/etc/new.conf", root_dir);
    snprintf(s->paths[2], 256, "%s/newdir/sub/secret.key", root_dir);
    const char *texts[3] = {"secret-one", "secret-two", "secret-three"};
    unsigned modes[3] = {0600, 0640, 0400};
    for (int i = 0; i < 3; i++) {
        s->files[i].path = s->paths[i];
        s->files[i].mode = modes[i];
        s->files[i].content = (uint8_t *)texts[i];
        s->files[i].len = strlen(texts[i]);
    }
    s->c.files = s->files;
    s->c.nfiles = 3;
}

/* Runs in the child: 0 when everything is as expected, else the number of the failed check. */
static int child_checks(struct cfg_store *s)
{
    if (arcarun_apply_files(&s->c, stage_dir) != 0) {
        fprintf(stderr, "apply: %s\n", arca_err_detail());
        return 1;
    }
    const char *want[3] = {"secret-one", "secret-two", "secret-three"};
    unsigned modes[3] = {0600, 0640, 0400};
    for (int i = 0; i < 3; i++) {
        struct stat st;
        if (stat(s->paths[i], &st) != 0 || (st.st_mode & 07777) != modes[i])
            return 10 + i;
        /* Readable only by the owner; as "nobody" with mode 0400 we still own it. */
        const char *got = read_small(s->paths[i]);
        if (got == NULL || strcmp(got, want[i]) != 0)
            return 20 + i;
    }
    char p[256];
    snprintf(p, sizeof(p), "%s/etc/other", root_dir);
    const char *o = read_small(p);
    if (o == NULL || strcmp(o, "keep") != 0)
        return 30;
    snprintf(p, sizeof(p), "%s/etc/link", root_dir);
    o = read_small(p);
    if (o == NULL || strcmp(o, "keep") != 0)
        return 31;
    snprintf(p, sizeof(p), "%s/etc/sub/deep", root_dir);
    o = read_small(p);
    if (o == NULL || strcmp(o, "deep") != 0)
        return 32;
    /* The staging mount point is gone from our namespace too. */
    DIR *d = opendir(stage_dir);
    if (d == NULL)
        return 33;
    struct dirent *de;
    int extra = 0;
    while ((de = readdir(d)) != NULL)
        extra += de->d_name[0] != '.';
    closedir(d);
    return extra ? 34 : 0;
}

static void host_unchanged(void)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/etc/existing.conf", root_dir);
    const char *o = read_small(p);
    assert_non_null(o);
    assert_string_equal(o, "original");
    snprintf(p, sizeof(p), "%s/etc/new.conf", root_dir);
    assert_int_not_equal(access(p, F_OK), 0);
    snprintf(p, sizeof(p), "%s/newdir", root_dir);
    assert_int_not_equal(access(p, F_OK), 0);
    DIR *d = opendir(stage_dir);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            fail_msg("staging left behind: %s", de->d_name);
    closedir(d);
}

static void run_child(bool unprivileged)
{
    struct cfg_store s;
    make_config(&s);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* setuid() from root makes us non-dumpable, which would make /proc/self/uid_map
         * root's: a user who starts arca-run directly is dumpable. */
        if (unprivileged &&
            (setgid(65534) != 0 || setuid(65534) != 0 || prctl(PR_SET_DUMPABLE, 1) != 0))
            _exit(99);
        _exit(child_checks(&s));
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != 0)
        fail_msg("child check %d failed", WEXITSTATUS(status));
    host_unchanged();
}

/* Tests skipped for want of root or user namespaces: main() then exits with 77, which ctest
 * reports as "Skipped" (SKIP_RETURN_CODE) rather than as a silent pass. */
static int skipped;
#define SKIP_BECAUSE(why)                                                                          \
    do {                                                                                           \
        print_message("SKIPPED: %s\n", why);                                                       \
        skipped++;                                                                                 \
        skip();                                                                                    \
    } while (0)

static void test_apply_root(void **state)
{
    (void)state;
    if (geteuid() != 0)
        SKIP_BECAUSE("needs root for a private mount namespace (CI runs as root)");
    run_child(false);
}

/* Whether an unprivileged user may create a user namespace here (not in a chroot, not with
 * user namespaces disabled by sysctl). */
static bool userns_available_to_nobody(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(1);
        _exit(unshare(CLONE_NEWUSER) == 0 ? 0 : 1);
    }
    int status = 0;
    return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
           WEXITSTATUS(status) == 0;
}

/* Skips the calling test unless it can become nobody and nobody can have a user namespace. */
#define SKIP_UNLESS_USERNS_FOR_NOBODY()                                                            \
    do {                                                                                           \
        if (geteuid() != 0)                                                                        \
            SKIP_BECAUSE("needs root to become nobody (CI runs as root)");                         \
        if (!userns_available_to_nobody())                                                         \
            SKIP_BECAUSE("no unprivileged user namespaces here (chroot or sysctl)");               \
    } while (0)

static void test_apply_userns(void **state)
{
    (void)state;
    SKIP_UNLESS_USERNS_FOR_NOBODY();
    run_child(true);
}

static void *no_work(void *arg)
{
    return arg;
}

/* arca-run joins libcurl's loading thread (curl_load.h) and later, as an unprivileged user,
 * unshares a user namespace, which the kernel refuses while a second thread still exists: the
 * namespace must be had right after a join as well. */
static void test_userns_right_after_thread(void **state)
{
    (void)state;
    SKIP_UNLESS_USERNS_FOR_NOBODY();
    for (int i = 0; i < 20; i++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            if (setgid(65534) != 0 || setuid(65534) != 0)
                _exit(2);
            pthread_t t;
            if (pthread_create(&t, NULL, no_work, NULL) != 0 || pthread_join(t, NULL) != 0)
                _exit(3);
            _exit(arcarun_enter_mount_ns() == 0 ? 0 : 1);
        }
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
}

/* fexecve of the measured descriptor: a shell script sees only the policy's environment,
 * argv and pwd, and the injected file. */
static void test_exec_script(void **state)
{
    (void)state;
    char script[256], out[256], inj[256];
    snprintf(script, sizeof(script), "%s/prog.sh", root_dir);
    snprintf(out, sizeof(out), "%s/out.txt", root_dir);
    snprintf(inj, sizeof(inj), "%s/etc/injected", root_dir);
    write_file(script,
               "#!/bin/sh\n"
               "{ echo \"argv=$1,$2\"; echo \"pwd=$(pwd)\"; echo \"env=$(env | sort | tr '\\n' "
               "' ')\"; echo \"file=$(cat \"$3\")\"; } > \"$4\"\n",
               0755);
    int fd = -1;
    char *resolved = NULL;
    assert_int_equal(arcarun_program_open(script, &fd, &resolved), 0);
    assert_string_equal(resolved, script);
    free(resolved);

    char *argv[] = {"prog.sh", "a1", "a 2", inj, out, NULL};
    char *envp[] = {"GREETING=hi", "PATH=/usr/bin:/bin", NULL};
    struct arcarun_file f = {
        .path = inj, .mode = 0600, .content = (uint8_t *)"file-secret", .len = 11};
    struct arcarun_config c = {.argv = argv,
                               .argc = 5,
                               .envp = envp,
                               .envc = 2,
                               .pwd = stage_dir,
                               .files = &f,
                               .nfiles = 1};
    setenv("HOST_ONLY", "leak", 1);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (arcarun_apply_files(&c, stage_dir) != 0)
            _exit(2);
        arcarun_exec(fd, &c);
        _exit(3);
    }
    close(fd);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    FILE *fo = fopen(out, "r");
    assert_non_null(fo);
    char line[512];
    assert_non_null(fgets(line, sizeof(line), fo));
    assert_string_equal(line, "argv=a1,a 2\n");
    assert_non_null(fgets(line, sizeof(line), fo));
    char want[300];
    snprintf(want, sizeof(want), "pwd=%s\n", stage_dir);
    assert_string_equal(line, want);
    assert_non_null(fgets(line, sizeof(line), fo));
    assert_non_null(strstr(line, "GREETING=hi"));
    assert_null(strstr(line, "HOST_ONLY"));
    assert_non_null(fgets(line, sizeof(line), fo));
    assert_string_equal(line, "file=file-secret\n");
    fclose(fo);
    assert_int_not_equal(access(inj, F_OK), 0); /* never on disk */
    unsetenv("HOST_ONLY");
}

/* Where no mount namespace can be had (here: unshare(2) denied by a seccomp filter), arca-run
 * refuses with a clear message and writes nothing. */
static void test_no_namespace_refused(void **state)
{
    (void)state;
    struct cfg_store s;
    make_config(&s);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (deny_unshare() != 0)
            _exit(98);
        int rc = arcarun_apply_files(&s.c, stage_dir);
        if (rc != ARCA_ERR_DENIED)
            _exit(1);
        if (strstr(arca_err_detail(), "cannot get a private mount namespace") == NULL ||
            strstr(arca_err_detail(), "will not write injected files to disk") == NULL)
            _exit(2);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    host_unchanged();
}

static void test_program_open_errors(void **state)
{
    (void)state;
    int fd;
    char *r;
    assert_int_equal(arcarun_program_open("/nonexistent/prog", &fd, &r), ARCA_ERR_NOT_FOUND);
    assert_non_null(strstr(arca_err_detail(), "/nonexistent/prog"));
    assert_int_equal(arcarun_program_open("/etc", &fd, &r), ARCA_ERR_NOT_FOUND);
    assert_non_null(strstr(arca_err_detail(), "regular"));
    assert_int_equal(arcarun_program_open("no-such-program-arca", &fd, &r), ARCA_ERR_NOT_FOUND);
    assert_non_null(strstr(arca_err_detail(), "PATH"));
    assert_int_equal(arcarun_program_open("sh", &fd, &r), 0);
    assert_non_null(strstr(r, "/sh"));
    free(r);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apply_root),
        cmocka_unit_test(test_apply_userns),
        cmocka_unit_test(test_userns_right_after_thread),
        cmocka_unit_test(test_exec_script),
        cmocka_unit_test(test_no_namespace_refused),
        cmocka_unit_test(test_program_open_errors),
    };
    int failed = cmocka_run_group_tests(tests, setup, teardown);
    return failed == 0 && skipped > 0 ? 77 : failed;
}
