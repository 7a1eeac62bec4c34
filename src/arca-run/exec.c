/*
 * Executing the program: exactly the sealed copy that was measured (program.h), at its real
 * path where arca-run has a private mount namespace, through its descriptor where it has none.
 */
#include "arcarun.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "program.h"

extern char **environ;

/* What both ways of executing do first. */
static int prepare(const struct arcarun_config *c)
{
    ARCA_ENSURE_REF(c);
    ARCA_ENSURE(c->argv != NULL && c->argc > 0 && c->envp != NULL, ARCA_ERR_INVALID_ARG,
                "exec: incomplete configuration");
    if (chdir(c->pwd) != 0)
        ARCA_BAIL(ARCA_ERR_IO, "pwd %s: cannot change into it: %s", c->pwd, strerror(errno));
    /* main() ignores SIGPIPE for arca-run's own sockets; an ignored disposition survives exec,
     * so give the program the default back (a program writing to a closed pipe expects to die). */
    signal(SIGPIPE, SIG_DFL);
    return 0;
}

/* arcarun_exec, printing t (may be NULL) last. */
static int exec_fd(int fd, const struct arcarun_config *c, struct arcarun_timing *t)
{
    ARCA_TRY(prepare(c));
    /* A script's interpreter reads it through /dev/fd/N after fexecve, so that descriptor must
     * survive the exec (an ELF binary needs no such descriptor and gets none). */
    if (arcarun_program_is_script(fd) && fcntl(fd, F_SETFD, 0) != 0)
        ARCA_BAIL(ARCA_ERR_IO, "exec: %s", strerror(errno));
    arcarun_timing_print(t, "exec");
    fexecve(fd, c->argv, c->envp);
    ARCA_BAIL(ARCA_ERR_IO, "exec: %s", strerror(errno));
}

int arcarun_exec(int fd, const struct arcarun_config *c)
{
    return exec_fd(fd, c, NULL);
}

int arcarun_exec_at(int fd, const char *path, const struct arcarun_config *c)
{
    return arcarun_exec_at_timed(fd, path, c, NULL);
}

int arcarun_exec_at_timed(int fd, const char *path, const struct arcarun_config *c,
                          struct arcarun_timing *t)
{
    ARCA_ENSURE_REF(path);
    ARCA_ENSURE_REF(c);
    int rc = arcarun_enter_mount_ns();
    if (rc == ARCA_ERR_DENIED) {
        arca_info("arca-run",
                  "no private mount namespace: running the sealed copy of %s through its "
                  "descriptor (a script sees /dev/fd/N as its path)",
                  path);
        arca_err_clear();
        return exec_fd(fd, c, t);
    }
    ARCA_TRY(rc);
    int placed = -1;
    rc = arcarun_program_place(fd, path, NULL, &placed);
    if (rc == ARCA_ERR_TAMPERED || rc == ARCA_ERR_CONFLICT)
        return rc; /* the copy or its path changed under us: run nothing */
    if (rc < 0) {
        /* No staging tmpfs here (no /tmp, say): the measured copy still runs, by descriptor. */
        arca_warn("arca-run",
                  "cannot show the sealed copy at %s (%s): running it through its "
                  "descriptor (a script sees /dev/fd/N as its path)",
                  path, arca_err_detail());
        arca_err_clear();
        return exec_fd(fd, c, t);
    }
    rc = prepare(c);
    if (rc == 0 && arcarun_program_is_script(placed)) {
        /* The interpreter opens the script by name: check, as late as we can, that the name
         * still leads to the measured copy (docs/arca-run.md, "What is measured"). */
        struct stat a, b;
        if (stat(path, &a) != 0 || fstat(placed, &b) != 0 || a.st_dev != b.st_dev ||
            a.st_ino != b.st_ino)
            rc = arca_err_set(ARCA_ERR_CONFLICT, "exec: %s no longer leads to the measured copy",
                              path);
        else {
            arcarun_timing_print(t, "exec");
            execve(path, c->argv, c->envp);
        }
    } else if (rc == 0) {
        /* A binary runs from the descriptor opened through its path: nothing is looked up
         * again, and /proc/self/exe still names the real path. */
        arcarun_timing_print(t, "exec");
        fexecve(placed, c->argv, c->envp);
    }
    if (rc == 0)
        rc = arca_err_set(ARCA_ERR_IO, "exec %s: %s", path, strerror(errno));
    close(placed);
    return rc;
}
