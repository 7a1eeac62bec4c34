/*
 * Opening the program once, and executing exactly that open file: the descriptor that was
 * measured is the one fexecve runs, so a file swapped on disk after measuring is not what runs.
 */
#include "arcarun.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"

static int open_regular(const char *path, int *fd)
{
    /* Not O_CLOEXEC: a script's interpreter reads it through /dev/fd/N after fexecve. */
    int f = open(path, O_RDONLY | O_NOCTTY);
    if (f < 0)
        return -errno;
    struct stat st;
    if (fstat(f, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(f);
        return -EACCES;
    }
    if ((st.st_mode & 0111) == 0) {
        close(f);
        return -EACCES;
    }
    *fd = f;
    return 0;
}

int arcarun_program_open(const char *program, int *fd, char **resolved)
{
    ARCA_ENSURE_REF(program);
    ARCA_ENSURE_REF(fd);
    ARCA_ENSURE_REF(resolved);
    ARCA_ENSURE(program[0] != '\0', ARCA_ERR_INVALID_ARG, "program: empty name");
    if (strchr(program, '/') != NULL) {
        int e = open_regular(program, fd);
        ARCA_ENSURE(e == 0, ARCA_ERR_NOT_FOUND, "program %s: %s", program,
                    e == -EACCES ? "not an executable regular file" : strerror(-e));
        *resolved = strdup(program);
        if (*resolved == NULL) {
            close(*fd);
            ARCA_BAIL(ARCA_ERR_ALLOC, "program: out of memory");
        }
        return 0;
    }
    const char *path = getenv("PATH");
    if (path == NULL || path[0] == '\0')
        path = "/usr/local/bin:/usr/bin:/bin";
    const char *p = path;
    while (*p != '\0') {
        const char *colon = strchr(p, ':');
        size_t n = colon ? (size_t)(colon - p) : strlen(p);
        char cand[PATH_MAX];
        if (n == 0)
            snprintf(cand, sizeof(cand), "./%s", program);
        else
            snprintf(cand, sizeof(cand), "%.*s/%s", (int)n, p, program);
        if (open_regular(cand, fd) == 0) {
            *resolved = strdup(cand);
            if (*resolved == NULL) {
                close(*fd);
                ARCA_BAIL(ARCA_ERR_ALLOC, "program: out of memory");
            }
            return 0;
        }
        p += n;
        if (*p == ':')
            p++;
    }
    ARCA_BAIL(ARCA_ERR_NOT_FOUND, "program %s: not found in PATH", program);
}

int arcarun_exec(int fd, const struct arcarun_config *c)
{
    ARCA_ENSURE_REF(c);
    ARCA_ENSURE(c->argv != NULL && c->argc > 0 && c->envp != NULL, ARCA_ERR_INVALID_ARG,
                "exec: incomplete configuration");
    if (chdir(c->pwd) != 0)
        ARCA_BAIL(ARCA_ERR_IO, "pwd %s: cannot change into it: %s", c->pwd, strerror(errno));
    /* main() ignores SIGPIPE for arca-run's own sockets; an ignored disposition survives exec,
     * so give the program the default back (a program writing to a closed pipe expects to die). */
    signal(SIGPIPE, SIG_DFL);
    fexecve(fd, c->argv, c->envp);
    ARCA_BAIL(ARCA_ERR_IO, "exec: %s", strerror(errno));
}
