/*
 * Finding, sealing and placing the program (program.h). The original file is read exactly
 * once, into the sealed memfd; everything after reads that copy.
 */
#include "program.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arcarun.h"
#include "base/err.h"
#include "stage.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U /* Linux 6.3: the memfd may be executed even under vm.memfd_noexec=1 */
#endif

#define ALL_SEALS (F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL)

/* Copies all of from (read with pread from 0) to to; -errno, or -EFBIG past the limit. */
static int copy_all(int from, int to)
{
    uint8_t *chunk = malloc(65536);
    if (chunk == NULL)
        return -ENOMEM;
    int rc = 0;
    for (off_t off = 0;;) {
        ssize_t r = pread(from, chunk, 65536, off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = r < 0 ? -errno : 0;
            break;
        }
        if (off + r > ARCARUN_PROGRAM_MAX) {
            rc = -EFBIG;
            break;
        }
        for (ssize_t w = 0; w < r;) {
            ssize_t n = write(to, chunk + w, (size_t)(r - w));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                rc = n < 0 ? -errno : -EIO;
                goto out;
            }
            w += n;
        }
        off += r;
    }
out:
    free(chunk);
    return rc;
}

int arcarun_program_seal(int src, const char *name, int *out)
{
    ARCA_ENSURE_REF(out);
    struct stat st;
    ARCA_ENSURE(fstat(src, &st) == 0 && S_ISREG(st.st_mode), ARCA_ERR_INVALID_ARG,
                "program %s: not a regular file", name);
    int m = memfd_create("arca-run-program", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
    if (m < 0) /* before Linux 6.3 MFD_EXEC is unknown (and memfds are executable anyway) */
        m = memfd_create("arca-run-program", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    ARCA_ENSURE(m >= 0, ARCA_ERR_IO, "program %s: memfd_create: %s", name, strerror(errno));
    int e = copy_all(src, m);
    if (e == 0 && fchmod(m, st.st_mode & 0777) != 0)
        e = -errno;
    /* As root the copy keeps the owner too (what a program sees when it stats itself). */
    if (e == 0 && geteuid() == 0 && fchown(m, st.st_uid, st.st_gid) != 0)
        e = -errno;
    if (e == 0 && fcntl(m, F_ADD_SEALS, ALL_SEALS) != 0)
        e = -errno;
    if (e != 0) {
        close(m);
        ARCA_BAIL(e == -EFBIG ? ARCA_ERR_TOO_LARGE : ARCA_ERR_IO, "program %s: sealed copy: %s",
                  name, e == -EFBIG ? "larger than 1 GiB" : strerror(-e));
    }
    *out = m;
    return 0;
}

bool arcarun_program_is_sealed(int fd)
{
    int seals = fcntl(fd, F_GET_SEALS);
    return seals >= 0 && (seals & ALL_SEALS) == ALL_SEALS;
}

bool arcarun_program_is_script(int fd)
{
    char head[2];
    return pread(fd, head, 2, 0) == 2 && head[0] == '#' && head[1] == '!';
}

/* True if a and b hold the same bytes (both read with pread from 0). */
static bool same_content(int a, int b)
{
    struct stat sa, sb;
    if (fstat(a, &sa) != 0 || fstat(b, &sb) != 0 || sa.st_size != sb.st_size)
        return false;
    uint8_t *x = malloc(2 * 65536);
    if (x == NULL)
        return false;
    bool same = true;
    for (off_t off = 0; same && off < sa.st_size;) {
        ssize_t ra = pread(a, x, 65536, off);
        ssize_t rb = ra > 0 ? pread(b, x + 65536, (size_t)ra, off) : -1;
        same = ra > 0 && rb == ra && memcmp(x, x + 65536, (size_t)ra) == 0;
        off += ra > 0 ? ra : 0;
    }
    free(x);
    return same;
}

static bool same_inode(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Writes the copy onto t, makes t read-only and proves the copy equals the sealed memfd; *out
 * is the copy, read-only. */
static int stage_copy(int sealed, const struct arcarun_tmpfs *t, const char *path, int *out)
{
    struct stat st;
    ARCA_ENSURE(fstat(sealed, &st) == 0, ARCA_ERR_IO, "program %s: %s", path, strerror(errno));
    int w = openat(t->root, "program", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0700);
    ARCA_ENSURE(w >= 0, ARCA_ERR_IO, "program %s: staging: %s", path, strerror(errno));
    int e = copy_all(sealed, w);
    if (e == 0 && fchmod(w, st.st_mode & 0777) != 0)
        e = -errno;
    if (e == 0 && geteuid() == 0 && fchown(w, st.st_uid, st.st_gid) != 0)
        e = -errno;
    close(w);
    ARCA_ENSURE(e == 0, ARCA_ERR_IO, "program %s: staging the copy: %s", path, strerror(-e));
    /* Read-only superblock: from here on no descriptor or path can write to the copy. */
    char root[32];
    arcarun_fd_link(t->root, root);
    ARCA_ENSURE(mount(NULL, root, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) == 0,
                ARCA_ERR_IO, "program %s: making the copy read-only: %s", path, strerror(errno));
    int r = openat(t->root, "program", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    ARCA_ENSURE(r >= 0, ARCA_ERR_IO, "program %s: staging: %s", path, strerror(errno));
    if (!same_content(sealed, r)) {
        close(r);
        ARCA_BAIL(ARCA_ERR_TAMPERED, "program %s: the copy differs from the measured one", path);
    }
    *out = r;
    return 0;
}

int arcarun_program_place(int sealed, const char *path, const char *staging_parent, int *out)
{
    ARCA_ENSURE_REF(path);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(path[0] == '/', ARCA_ERR_INVALID_ARG, "program %s: not an absolute path", path);
    ARCA_ENSURE(arcarun_program_is_sealed(sealed), ARCA_ERR_INVALID_ARG,
                "program %s: not a sealed copy", path);
    struct stat st;
    ARCA_ENSURE(fstat(sealed, &st) == 0, ARCA_ERR_IO, "program %s: %s", path, strerror(errno));
    struct arcarun_tmpfs t;
    int rc = arcarun_tmpfs_mount(staging_parent, (size_t)st.st_size + 65536, &t);
    if (rc < 0)
        return arca_err_wrap(rc, "program %s", path);
    int copy = -1, fd = -1;
    ARCA_GUARD(rc, stage_copy(sealed, &t, path, &copy), out);
    char src[32];
    arcarun_fd_link(copy, src);
    /* By path on purpose: the program will be looked up by this path (symlinks included). */
    ARCA_GUARD_ENSURE(rc, mount(src, path, NULL, MS_BIND, NULL) == 0, out, ARCA_ERR_IO,
                      "program %s: bind mount of the sealed copy: %s", path, strerror(errno));
    ARCA_GUARD_ENSURE(
        rc,
        mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) == 0,
        out, ARCA_ERR_IO, "program %s: read-only bind mount: %s", path, strerror(errno));
    fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat a, b;
    ARCA_GUARD_ENSURE(
        rc, fd >= 0 && fstat(fd, &a) == 0 && fstat(copy, &b) == 0 && same_inode(&a, &b), out,
        ARCA_ERR_CONFLICT, "program %s: the path no longer leads to the measured copy", path);
    *out = fd;
    fd = -1;
out:
    if (fd >= 0)
        close(fd);
    if (copy >= 0)
        close(copy);
    arcarun_tmpfs_detach(&t);
    return rc;
}

/* ---- finding the program ------------------------------------------------------------------ */

/* Opens path if it is an executable regular file; -errno (-EACCES if it is not). */
static int open_regular(const char *path, int *fd)
{
    /* O_NONBLOCK: a FIFO at the path must not hang us before the check below. */
    int f = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (f < 0)
        return -errno;
    struct stat st;
    if (fstat(f, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 0111) == 0) {
        close(f);
        return -EACCES;
    }
    *fd = f;
    return 0;
}

/* path made absolute against the current directory (no symlink resolved: it stays the name
 * the program was started by). Caller frees. */
static char *absolute(const char *path)
{
    if (path[0] == '/')
        return strdup(path);
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof(cwd)) == NULL)
        return NULL;
    while (path[0] == '.' && path[1] == '/')
        for (path += 2; path[0] == '/';)
            path++;
    size_t n = strlen(cwd) + 1 + strlen(path) + 1;
    char *out = malloc(n);
    if (out != NULL)
        snprintf(out, n, "%s%s%s", cwd, strcmp(cwd, "/") == 0 ? "" : "/", path);
    return out;
}

/* Seals the open file f found at path and fills the outputs; closes f. */
static int finish(int f, const char *path, int *fd, char **resolved)
{
    int m = -1;
    int rc = arcarun_program_seal(f, path, &m);
    close(f);
    if (rc < 0)
        return rc;
    char *abs = absolute(path);
    if (abs == NULL) {
        close(m);
        ARCA_BAIL(ARCA_ERR_ALLOC, "program %s: cannot make the path absolute: %s", path,
                  strerror(errno));
    }
    *fd = m;
    *resolved = abs;
    return 0;
}

int arcarun_program_open(const char *program, int *fd, char **resolved)
{
    ARCA_ENSURE_REF(program);
    ARCA_ENSURE_REF(fd);
    ARCA_ENSURE_REF(resolved);
    ARCA_ENSURE(program[0] != '\0', ARCA_ERR_INVALID_ARG, "program: empty name");
    int f = -1;
    if (strchr(program, '/') != NULL) {
        int e = open_regular(program, &f);
        ARCA_ENSURE(e == 0, ARCA_ERR_NOT_FOUND, "program %s: %s", program,
                    e == -EACCES ? "not an executable regular file" : strerror(-e));
        return finish(f, program, fd, resolved);
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
        if (open_regular(cand, &f) == 0)
            return finish(f, cand, fd, resolved);
        p += n;
        if (*p == ':')
            p++;
    }
    ARCA_BAIL(ARCA_ERR_NOT_FOUND, "program %s: not found in PATH", program);
}
