/*
 * The program's sealed copy (program.h): what is measured is a snapshot no writer can change,
 * and what runs is that snapshot at the program's real path (a script's $0, a binary's
 * /proc/self/exe), or through its descriptor where no mount namespace can be had. Launches run
 * in child processes so that their namespaces do not touch the test runner.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arcarun.h"
#include "arcarun_test_util.h"
#include "base/err.h"
#include "evidence/sim.h"
#include "program.h"

static char dir[] = "/var/tmp/arcarun-program-XXXXXX";

/* Overwrites the file's bytes in place (same inode, same length). */
static void rewrite_in_place(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, text, strlen(text), 0), (ssize_t)strlen(text));
    close(fd);
}

static int setup(void **state)
{
    (void)state;
    if (mkdtemp(dir) == NULL)
        return -1;
    return chmod(dir, 0755);
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_sealed_snapshot(void **state)
{
    (void)state;
    char p[256];
    snprintf(p, sizeof(p), "%s/snap.sh", dir);
    write_file(p, "#!/bin/sh\necho AAAA\n", 0755);
    uint8_t want[32], got[32];
    assert_int_equal(arca_sim_measure_path(p, want), 0);

    int fd = -1;
    char *resolved = NULL;
    assert_int_equal(arcarun_program_open(p, &fd, &resolved), 0);
    assert_string_equal(resolved, p);
    free(resolved);
    assert_true(arcarun_program_is_sealed(fd));
    assert_true(arcarun_program_is_script(fd));
    assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);

    rewrite_in_place(p, "#!/bin/sh\necho BBBB\n");
    /* The copy still measures as the file did when it was opened... */
    assert_int_equal(arca_sim_measure_fd(fd, got), 0);
    assert_memory_equal(got, want, 32);
    /* ...and nobody can change it: not through a writable reopen, not by growing it. */
    char link[64];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    int w = open(link, O_WRONLY);
    if (w >= 0) {
        assert_int_equal(write(w, "x", 1), -1);
        assert_int_equal(errno, EPERM);
        assert_int_equal(ftruncate(w, 4096), -1);
        close(w);
    }
    assert_int_equal(fcntl(fd, F_ADD_SEALS, 0), -1); /* F_SEAL_SEAL */
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0755);
    close(fd);
}

static void test_relative_and_path_search(void **state)
{
    (void)state;
    char old[PATH_MAX], p[256];
    assert_non_null(getcwd(old, sizeof(old)));
    snprintf(p, sizeof(p), "%s/rel.sh", dir);
    write_file(p, "#!/bin/sh\n", 0755);
    assert_int_equal(chdir(dir), 0);
    int fd = -1;
    char *resolved = NULL;
    assert_int_equal(arcarun_program_open("./rel.sh", &fd, &resolved), 0);
    assert_string_equal(resolved, p); /* absolute: the program runs after chdir(pwd) */
    free(resolved);
    close(fd);
    assert_int_equal(chdir(old), 0);

    const char *saved = getenv("PATH");
    char *copy = saved ? strdup(saved) : NULL;
    setenv("PATH", dir, 1);
    assert_int_equal(arcarun_program_open("rel.sh", &fd, &resolved), 0);
    assert_string_equal(resolved, p);
    free(resolved);
    close(fd);
    if (copy) {
        setenv("PATH", copy, 1);
        free(copy);
    }
    /* Not executable, a FIFO (must not hang), a directory. */
    snprintf(p, sizeof(p), "%s/noexec", dir);
    write_file(p, "x", 0644);
    assert_int_equal(arcarun_program_open(p, &fd, &resolved), ARCA_ERR_NOT_FOUND);
    snprintf(p, sizeof(p), "%s/fifo", dir);
    assert_int_equal(mkfifo(p, 0755), 0);
    assert_int_equal(arcarun_program_open(p, &fd, &resolved), ARCA_ERR_NOT_FOUND);
    assert_non_null(strstr(arca_err_detail(), "not an executable regular file"));
}

/* Forks; the child optionally blocks unshare(2), opens prog, runs the hook (may be NULL) and
 * exec_at's it with argv. Returns the wait status. */
static int launch(const char *prog, char **argv, bool no_namespace, void (*hook)(void))
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (no_namespace) {
            if (deny_unshare() != 0)
                _exit(98);
        }
        int fd = -1;
        char *resolved = NULL;
        if (arcarun_program_open(prog, &fd, &resolved) != 0)
            _exit(97);
        if (hook != NULL)
            hook();
        char *envp[] = {"PATH=/usr/bin:/bin", NULL};
        size_t argc = 0;
        while (argv[argc] != NULL)
            argc++;
        struct arcarun_config c = {.argv = argv, .argc = argc, .envp = envp, .envc = 1, .pwd = "/"};
        arcarun_exec_at(fd, resolved, &c);
        fprintf(stderr, "exec_at: %s\n", arca_err_detail());
        _exit(96);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static char script[256], out[256];

static void rewrite_to_b(void)
{
    rewrite_in_place(script, "#!/bin/sh\necho \"B $0\" > \"$1\"\n");
}

static void test_script_sees_real_path(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    snprintf(script, sizeof(script), "%s/real.sh", dir);
    snprintf(out, sizeof(out), "%s/real.out", dir);
    write_file(script, "#!/bin/sh\necho \"A $0\" > \"$1\"\n", 0755);
    char *argv[] = {"real.sh", out, NULL};
    int st = launch(script, argv, false, NULL);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    char want[300];
    snprintf(want, sizeof(want), "A %s\n", script);
    assert_string_equal(read_small(out), want);

    /* Rewritten in place after it was opened (measured): the measured bytes still run. */
    write_file(script, "#!/bin/sh\necho \"A $0\" > \"$1\"\n", 0755);
    st = launch(script, argv, false, rewrite_to_b);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_string_equal(read_small(out), want);
    /* The host's file is the rewritten one: the copy was only mounted in the child. */
    assert_non_null(strstr(read_small(script), "echo \"B"));
}

static void test_binary_sees_real_path(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    char real[PATH_MAX];
    assert_non_null(realpath("/bin/sh", real));
    snprintf(out, sizeof(out), "%s/exe.out", dir);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "readlink /proc/$$/exe > %s", out);
    char *argv[] = {"sh", "-c", cmd, NULL};
    int st = launch("/bin/sh", argv, false, NULL);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    char want[PATH_MAX + 2];
    snprintf(want, sizeof(want), "%s\n", real);
    assert_string_equal(read_small(out), want);
}

static void test_no_namespace_runs_sealed_copy(void **state)
{
    (void)state;
    snprintf(script, sizeof(script), "%s/nons.sh", dir);
    snprintf(out, sizeof(out), "%s/nons.out", dir);
    write_file(script, "#!/bin/sh\necho \"A $0\" > \"$1\"\n", 0755);
    char *argv[] = {"nons.sh", out, NULL};
    int st = launch(script, argv, true, rewrite_to_b);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    const char *o = read_small(out);
    assert_non_null(o);
    assert_non_null(strstr(o, "A /dev/fd/")); /* the measured copy, through its descriptor */
}

/* In the child: a read-only /tmp in its own mount namespace, so no staging tmpfs can be made. */
static void cover_tmp(void)
{
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("ro", "/tmp", "tmpfs", MS_RDONLY, "size=4k") != 0)
        _exit(95);
}

static void test_no_staging_runs_sealed_copy(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    snprintf(script, sizeof(script), "%s/nostage.sh", dir);
    snprintf(out, sizeof(out), "%s/nostage.out", dir);
    write_file(script, "#!/bin/sh\necho \"A $0\" > \"$1\"\n", 0755);
    char *argv[] = {"nostage.sh", out, NULL};
    int st = launch(script, argv, false, cover_tmp);
    assert_true(WIFEXITED(st));
    if (WEXITSTATUS(st) == 95) {
        /* e.g. in a chroot whose root is not a mount point: "/" cannot be made private */
        fprintf(stderr, "SKIPPED: test_no_staging_runs_sealed_copy: cannot cover /tmp here\n");
        skip();
    }
    assert_int_equal(WEXITSTATUS(st), 0);
    const char *o = read_small(out);
    assert_non_null(o);
    assert_non_null(strstr(o, "A /dev/fd/"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sealed_snapshot),
        cmocka_unit_test(test_relative_and_path_search),
        cmocka_unit_test(test_script_sees_real_path),
        cmocka_unit_test(test_binary_sees_real_path),
        cmocka_unit_test(test_no_namespace_runs_sealed_copy),
        cmocka_unit_test(test_no_staging_runs_sealed_copy),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
