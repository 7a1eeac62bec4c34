/*
 * arca-run ignores SIGPIPE for its own sockets (main.c). An ignored disposition survives execve,
 * so arcarun_exec must give the program the default back: a program writing into a closed pipe
 * expects to die of SIGPIPE, as it would without arca-run. Each case runs in a child process.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arcarun.h"
#include "base/err.h"

/* Runs `sh -c script` through arcarun_exec in a child whose SIGPIPE disposition is `parent`;
 * returns the wait status. */
static int run_sh(const char *script, void (*parent)(int))
{
    int fd = open("/bin/sh", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGPIPE, parent);
        char *argv[] = {"sh", "-c", (char *)script, NULL};
        char *envp[] = {"PATH=/usr/bin:/bin", NULL};
        char pwd[] = "/";
        struct arcarun_config c = {.argv = argv, .argc = 3, .envp = envp, .envc = 1, .pwd = pwd};
        arcarun_exec(fd, &c);
        _exit(99); /* exec failed */
    }
    close(fd);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static void test_exec_restores_sigpipe(void **state)
{
    (void)state;
    /* arca-run's own state: SIGPIPE ignored. The program must still die of it. */
    int st = run_sh("kill -PIPE $$; exit 7", SIG_IGN);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGPIPE);
}

static void test_exec_sigpipe_default_unchanged(void **state)
{
    (void)state;
    int st = run_sh("kill -PIPE $$; exit 7", SIG_DFL);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGPIPE);
}

static void test_exec_runs_program(void **state)
{
    (void)state;
    int st = run_sh("exit 7", SIG_IGN);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exec_restores_sigpipe),
        cmocka_unit_test(test_exec_sigpipe_default_unchanged),
        cmocka_unit_test(test_exec_runs_program),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
