/*
 * arca-run as the program's parent (arcarun.h, arcarun_run_supervised): needed when volumes
 * keep changes, which are saved after the program exits. Signals are taken synchronously with
 * sigwaitinfo (no handler, no global state): every signal a terminal or a service manager
 * sends to stop or poke a program is passed on to it, and arca-run ends with its status.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arcarun.h"
#include "base/err.h"

static const int forwarded[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH};

int arcarun_run_supervised(int fd, const char *path, const struct arcarun_config *c, int *status)
{
    ARCA_ENSURE_REF(c);
    ARCA_ENSURE_REF(status);
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
        sigaddset(&set, forwarded[i]);
    /* Blocked before the fork: a signal arriving meanwhile waits for the loop below. */
    ARCA_ENSURE(sigprocmask(SIG_BLOCK, &set, &old) == 0, ARCA_ERR_IO, "supervise: %s",
                strerror(errno));
    pid_t self = getpid();
    pid_t child = fork();
    if (child < 0) {
        int e = errno;
        sigprocmask(SIG_SETMASK, &old, NULL);
        ARCA_BAIL(ARCA_ERR_IO, "cannot start the program: fork: %s", strerror(e));
    }
    if (child == 0) {
        /* SIGKILL of arca-run cannot be forwarded: the program goes with it rather than run
         * on with nobody left to save its volumes. */
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        if (getppid() != self) /* arca-run died before the line above took effect */
            _exit(127);
        sigprocmask(SIG_SETMASK, &old, NULL);
        int rc = arcarun_exec_at(fd, path, c);
        fprintf(stderr, "arca-run: exec: %s (%s)\n", arca_err_detail(), arca_strerror(rc));
        _exit(127);
    }
    for (;;) {
        siginfo_t si;
        int sig = sigwaitinfo(&set, &si);
        if (sig < 0 && errno == EINTR)
            continue;
        if (sig < 0) {
            int e = errno;
            sigprocmask(SIG_SETMASK, &old, NULL);
            ARCA_BAIL(ARCA_ERR_IO, "supervise: sigwaitinfo: %s", strerror(e));
        }
        if (sig != SIGCHLD) {
            kill(child, sig);
            continue;
        }
        int st = 0;
        pid_t w = waitpid(child, &st, WNOHANG);
        if (w == child && (WIFEXITED(st) || WIFSIGNALED(st))) {
            sigprocmask(SIG_SETMASK, &old, NULL);
            *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            return 0;
        }
    }
}
