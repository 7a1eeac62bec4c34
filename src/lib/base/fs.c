#include "base/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"

int arca_mkdirs(const char *path, mode_t mode)
{
    char p[4096];
    size_t n = strlen(path);
    ARCA_ENSURE(n > 0 && n < sizeof(p), ARCA_ERR_INVALID_ARG, "directory path empty or too long");
    memcpy(p, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char saved = p[i];
        p[i] = '\0';
        if (mkdir(p, mode) != 0 && errno != EEXIST)
            return arca_err_set(ARCA_ERR_IO, "cannot create directory %s: %s", p, strerror(errno));
        p[i] = saved;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return arca_err_set(ARCA_ERR_IO, "%s exists and is not a directory", path);
    return 0;
}

int arca_fd_read_all(int fd, const char *path, struct arca_buf *out)
{
    size_t start = out->len;
    int rc = 0;
    for (;;) {
        size_t room = out->max - out->len;
        if (room == 0) {
            /* Full: only an immediate end of file is fine. */
            uint8_t probe;
            ssize_t r = read(fd, &probe, 1);
            if (r < 0 && errno == EINTR)
                continue;
            if (r != 0)
                rc = arca_err_set(ARCA_ERR_TOO_LARGE, "%s: larger than %zu bytes", path,
                                  out->max - start);
            break;
        }
        size_t want = room < 8192 ? room : 8192;
        rc = arca_buf_reserve(out, want);
        if (rc < 0)
            break;
        ssize_t r = read(fd, out->data + out->len, want);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = arca_err_set(ARCA_ERR_IO, "%s: read: %s", path, strerror(errno));
            break;
        }
        if (r == 0)
            break;
        out->len += (size_t)r;
        out->data[out->len] = 0;
    }
    if (rc < 0 && out->data != NULL) {
        if (out->secret)
            arca_wipe(out->data + start, out->len - start);
        out->len = start;
        out->data[out->len] = 0;
    }
    return rc;
}

int arca_file_read(const char *path, size_t max, struct arca_buf *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return arca_err_set(errno == ENOENT ? ARCA_ERR_NOT_FOUND : ARCA_ERR_IO, "%s: %s", path,
                            strerror(errno));
    size_t saved_max = out->max;
    if (max > 0 && max < out->max - out->len)
        out->max = out->len + max;
    int rc = arca_fd_read_all(fd, path, out);
    out->max = saved_max;
    close(fd);
    return rc;
}

/* write(2) until all n bytes are out; *done counts what reached the file. -1 with errno set. */
static int write_all(int fd, const uint8_t *p, size_t n, size_t *done)
{
    while (*done < n) {
        ssize_t w = write(fd, p + *done, n - *done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        if (w == 0) {
            errno = EIO; /* no progress and no error: do not spin */
            return -1;
        }
        *done += (size_t)w;
    }
    return 0;
}

/*
 * Removes a temporary file after a failure, first overwriting its `written` bytes with zeros if
 * they are secret (fd is the open file, or -1 to reopen it). Errors are ignored on purpose: the
 * caller reports the failure that brought it here, and nothing better can be done.
 */
static void discard_tmp(const char *tmp, int fd, size_t written, bool secret)
{
    if (secret && written > 0) {
        if (fd < 0)
            fd = open(tmp, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        static const uint8_t zeros[4096];
        for (size_t off = 0; fd >= 0 && off < written;) {
            size_t k = written - off < sizeof(zeros) ? written - off : sizeof(zeros);
            ssize_t w = pwrite(fd, zeros, k, (off_t)off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        if (fd >= 0)
            (void)fdatasync(fd);
    }
    if (fd >= 0)
        close(fd);
    (void)unlink(tmp);
}

int arca_file_write(const char *path, const void *data, size_t n, mode_t mode, unsigned flags)
{
    ARCA_ENSURE_REF(path);
    ARCA_ENSURE(data != NULL || n == 0, ARCA_ERR_INVALID_ARG, "%s: no data to write", path);
    ARCA_ENSURE((flags & ~ARCA_FILE_SECRET) == 0, ARCA_ERR_INVALID_ARG, "%s: unknown flags %#x",
                path, flags);
    bool secret = (flags & ARCA_FILE_SECRET) != 0;
    ARCA_ENSURE(!secret || (mode & 077) == 0, ARCA_ERR_INVALID_ARG,
                "%s: secret content with mode %04o would be readable by others", path,
                (unsigned)mode);

    /* The temporary file must live in path's directory: rename(2) is atomic only there. */
    char dir[PATH_MAX], tmp[PATH_MAX];
    const char *slash = strrchr(path, '/');
    const char *base = slash != NULL ? slash + 1 : path;
    ARCA_ENSURE(base[0] != '\0' && strcmp(base, ".") != 0 && strcmp(base, "..") != 0,
                ARCA_ERR_INVALID_ARG, "%s: not a file name", path);
    size_t dlen = slash == NULL ? 0 : slash == path ? 1 : (size_t)(slash - path);
    ARCA_ENSURE(dlen < sizeof(dir), ARCA_ERR_TOO_LARGE, "%s: path too long", path);
    if (slash == NULL)
        memcpy(dir, ".", 2);
    else {
        memcpy(dir, path, dlen);
        dir[dlen] = '\0';
    }

    int fd = -1;
    for (int i = 0; i < ARCA_FILE_TMP_TRIES; i++) {
        int w = snprintf(tmp, sizeof(tmp), "%s/.%s.%ld.%d.tmp", dir, base, (long)getpid(), i);
        ARCA_ENSURE(w > 0 && (size_t)w < sizeof(tmp), ARCA_ERR_TOO_LARGE, "%s: path too long",
                    path);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd >= 0 || errno != EEXIST)
            break;
    }
    if (fd < 0 && errno == EEXIST)
        ARCA_BAIL(ARCA_ERR_EXISTS, "%s: %d temporary files like %s exist already", path,
                  ARCA_FILE_TMP_TRIES, tmp);
    ARCA_ENSURE(fd >= 0, ARCA_ERR_IO, "%s: create temporary file %s: %s", path, tmp,
                strerror(errno));

    int rc = 0;
    size_t written = 0;
    const char *step = NULL;
    if (write_all(fd, data, n, &written) != 0)
        step = "write";
    else if (fsync(fd) != 0)
        step = "fsync";
    else {
        int r = close(fd);
        fd = -1; /* closed even when close(2) fails */
        if (r != 0)
            step = "close";
        else if (rename(tmp, path) != 0)
            step = "rename";
    }
    if (step != NULL) {
        rc = arca_err_set(ARCA_ERR_IO, "%s: %s of temporary file %s: %s", path, step, tmp,
                          strerror(errno));
        discard_tmp(tmp, fd, written, secret);
        return rc;
    }

    /* The rename is durable only once the directory entry is. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ARCA_ENSURE(dfd >= 0, ARCA_ERR_IO, "%s: open directory %s to sync it: %s", path, dir,
                strerror(errno));
    /* EINVAL: the file system cannot sync directories (POSIX allows that); nothing to wait for. */
    if (fsync(dfd) != 0 && errno != EINVAL)
        rc = arca_err_set(ARCA_ERR_IO, "%s: fsync of directory %s: %s", path, dir, strerror(errno));
    close(dfd);
    return rc;
}
