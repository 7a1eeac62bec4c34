#include "base/fs.h"

#include <errno.h>
#include <fcntl.h>
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
