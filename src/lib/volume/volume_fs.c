/*
 * Descriptor-based file-system access for volumes: full reads and writes, the destination
 * directory, component-wise openat without following links, and the tree scan.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/err.h"
#include "volume/volume_internal.h"

#define SCAN_DEPTH_MAX 256

/* Moves the cursor iov/cnt past r transferred bytes. */
static void iov_advance(struct iovec **iov, int *cnt, size_t r)
{
    while (*cnt > 0 && r >= (*iov)->iov_len) {
        r -= (*iov)->iov_len;
        (*iov)++;
        (*cnt)--;
    }
    if (*cnt > 0) {
        (*iov)->iov_base = (uint8_t *)(*iov)->iov_base + r;
        (*iov)->iov_len -= r;
    }
}

int vol_preadv_full(int fd, struct iovec *iov, int cnt, off_t off, size_t *got, const char *what)
{
    size_t done = 0;
    while (cnt > 0) {
        ssize_t r = off < 0 ? readv(fd, iov, cnt) : preadv(fd, iov, cnt, off + (off_t)done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return arca_err_set(ARCA_ERR_IO, "%s: read: %s", what, strerror(errno));
        if (r == 0)
            break;
        done += (size_t)r;
        iov_advance(&iov, &cnt, (size_t)r);
    }
    *got = done;
    return 0;
}

int vol_readv_full(int fd, struct iovec *iov, int cnt, size_t *got, const char *what)
{
    return vol_preadv_full(fd, iov, cnt, -1, got, what);
}

int vol_pwritev_full(int fd, struct iovec *iov, int cnt, off_t off, const char *what)
{
    iov_advance(&iov, &cnt, 0); /* skip empty buffers: a write of nothing is no progress */
    while (cnt > 0) {
        ssize_t r = off < 0 ? writev(fd, iov, cnt) : pwritev(fd, iov, cnt, off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return arca_err_set(ARCA_ERR_IO, "%s: write: %s", what, strerror(errno));
        if (off >= 0)
            off += r;
        iov_advance(&iov, &cnt, (size_t)r);
    }
    return 0;
}

int vol_writev_full(int fd, struct iovec *iov, int cnt, const char *what)
{
    return vol_pwritev_full(fd, iov, cnt, -1, what);
}

int vol_read_full(int fd, void *p, size_t n, size_t *got, const char *what)
{
    struct iovec iov = {.iov_base = p, .iov_len = n};
    return vol_readv_full(fd, &iov, 1, got, what);
}

int vol_write_full(int fd, const void *p, size_t n, const char *what)
{
    struct iovec iov = {.iov_base = (void *)(uintptr_t)p, .iov_len = n};
    return vol_writev_full(fd, &iov, 1, what);
}

/* 1 if the directory fd has no entries besides . and .., 0 if it has, negative on error. */
static int dir_is_empty(int fd, const char *dir)
{
    int dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    DIR *d = dupfd >= 0 ? fdopendir(dupfd) : NULL;
    if (d == NULL) {
        if (dupfd >= 0)
            close(dupfd);
        return arca_err_set(ARCA_ERR_IO, "%s: %s", dir, strerror(errno));
    }
    int empty = 1;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            empty = 0;
            break;
        }
    closedir(d);
    return empty;
}

int vol_open_empty_dir(const char *dir, const char *role, mode_t mode, bool *created)
{
    *created = false;
    if (mkdir(dir, mode) == 0)
        *created = true;
    else if (errno != EEXIST)
        return arca_err_set(ARCA_ERR_IO, "%s %s: cannot create: %s", role, dir, strerror(errno));
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (*created)
            rmdir(dir);
        *created = false;
        return arca_err_set(ARCA_ERR_IO, "%s %s: %s", role, dir, strerror(e));
    }
    if (!*created) {
        int empty = dir_is_empty(fd, dir);
        if (empty <= 0) {
            close(fd);
            return empty < 0 ? empty
                             : arca_err_set(ARCA_ERR_EXISTS,
                                            "%s %s is not empty (give a new or empty directory)",
                                            role, dir);
        }
    }
    return fd;
}

int vol_dir_within(int fd, dev_t dev, ino_t ino)
{
    int cur = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (cur < 0)
        return arca_err_set(ARCA_ERR_IO, "dup: %s", strerror(errno));
    int rc = 0;
    for (int depth = 0; depth < 4096; depth++) {
        struct stat st, up;
        int parent = openat(cur, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fstat(cur, &st) != 0 || parent < 0 || fstat(parent, &up) != 0) {
            rc = arca_err_set(ARCA_ERR_IO, "cannot walk up a directory: %s", strerror(errno));
            if (parent >= 0)
                close(parent);
            break;
        }
        close(cur);
        cur = parent;
        if (st.st_dev == dev && st.st_ino == ino) {
            rc = 1;
            break;
        }
        if (up.st_dev == st.st_dev && up.st_ino == st.st_ino)
            break; /* the root is its own parent */
    }
    close(cur);
    return rc;
}

void vol_dircache_init(struct vol_dircache *dc, int rootfd)
{
    dc->rootfd = rootfd;
    dc->fd = -1;
    dc->path = NULL;
    dc->len = 0;
}

void vol_dircache_close(struct vol_dircache *dc)
{
    if (dc->fd >= 0)
        close(dc->fd);
    free(dc->path);
    vol_dircache_init(dc, dc->rootfd);
}

int vol_dircache_parent(struct vol_dircache *dc, const char *path, size_t len, const char **leaf,
                        int *dirfd)
{
    const char *slash = memrchr(path, '/', len);
    *leaf = slash ? slash + 1 : path;
    if (slash == NULL) {
        *dirfd = dc->rootfd;
        return 0;
    }
    size_t plen = (size_t)(slash - path);
    if (dc->fd >= 0 && dc->len == plen && memcmp(dc->path, path, plen) == 0) {
        *dirfd = dc->fd;
        return 0;
    }
    char *copy = malloc(plen + 1);
    ARCA_ENSURE(copy != NULL, ARCA_ERR_ALLOC, "volume: out of memory");
    memcpy(copy, path, plen);
    copy[plen] = '\0';
    int fd = dc->rootfd;
    char *save = NULL;
    for (char *c = strtok_r(copy, "/", &save); c != NULL; c = strtok_r(NULL, "/", &save)) {
        int next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int e = errno;
        if (fd != dc->rootfd)
            close(fd);
        if (next < 0) {
            free(copy);
            return arca_err_set(e == ENOENT ? ARCA_ERR_NOT_FOUND : ARCA_ERR_IO,
                                "'%.*s': cannot open directory '%s': %s", (int)len, path, c,
                                e == ELOOP || e == ENOTDIR ? "not a directory (a link?)"
                                                           : strerror(e));
        }
        fd = next;
    }
    /* strtok_r cut copy into pieces; keep the whole parent path for the cache. */
    memcpy(copy, path, plen);
    if (dc->fd >= 0)
        close(dc->fd);
    free(dc->path);
    dc->fd = fd;
    dc->path = copy;
    dc->len = plen;
    *dirfd = fd;
    return 0;
}

int vol_open_file(struct vol_dircache *dc, const char *path, size_t len, const char *shown,
                  struct stat *st)
{
    const char *leaf = NULL;
    int dirfd = -1;
    int rc = vol_dircache_parent(dc, path, len, &leaf, &dirfd);
    if (rc < 0)
        return arca_err_wrap(rc, "%s", shown);
    int fd = openat(dirfd, leaf, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return arca_err_set(e == ENOENT ? ARCA_ERR_NOT_FOUND : ARCA_ERR_IO, "%s/%s: %s", shown,
                            path, e == ELOOP ? "a symbolic link" : strerror(e));
    }
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        return arca_err_set(ARCA_ERR_FORMAT, "%s/%s: not a regular file", shown, path);
    }
    /* O_NONBLOCK stays: it has no effect on a regular file, which this now is. */
    return fd;
}

/* ---- the tree scan ----------------------------------------------------------------------- */

struct scan {
    const char *shown;
    bool skip_manifest;
    dev_t skip_dev;
    ino_t skip_ino;
    struct arca_volume_manifest *m;
    struct arca_buf path; /* the current directory's path relative to the root */
};

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in dirfd (without . and ..), malloc'ed, sorted; freed with free_names. */
static int read_names(int dirfd, const char *shown, const char *rel, char ***out, size_t *count)
{
    int dupfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    DIR *d = dupfd >= 0 ? fdopendir(dupfd) : NULL;
    if (d == NULL) {
        if (dupfd >= 0)
            close(dupfd);
        return arca_err_set(ARCA_ERR_IO, "%s/%s: %s", shown, rel, strerror(errno));
    }
    char **v = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **nv = realloc(v, ncap * sizeof(*nv));
            if (nv == NULL) {
                rc = arca_err_set(ARCA_ERR_ALLOC, "volume: out of memory");
                break;
            }
            v = nv;
            cap = ncap;
        }
        v[n] = strdup(de->d_name);
        if (v[n] == NULL) {
            rc = arca_err_set(ARCA_ERR_ALLOC, "volume: out of memory");
            break;
        }
        n++;
        errno = 0;
    }
    if (rc == 0 && errno != 0)
        rc = arca_err_set(ARCA_ERR_IO, "%s/%s: readdir: %s", shown, rel, strerror(errno));
    closedir(d);
    if (rc < 0) {
        for (size_t i = 0; i < n; i++)
            free(v[i]);
        free(v);
        return rc;
    }
    if (n > 1)
        qsort(v, n, sizeof(*v), name_cmp);
    *out = v;
    *count = n;
    return 0;
}

static void free_names(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static int scan_dir(struct scan *s, int dirfd, int depth);

static int scan_one(struct scan *s, int dirfd, const char *name, int depth)
{
    size_t base = s->path.len;
    const char *rel = arca_buf_cstr(&s->path);
    int rc = arca_volume_name_check(name, strlen(name));
    if (rc < 0)
        return arca_err_wrap(rc, "%s/%s%s", s->shown, rel, name);
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return arca_err_set(ARCA_ERR_IO, "%s/%s%s: %s", s->shown, rel, name, strerror(errno));
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
        return arca_err_set(ARCA_ERR_UNSUPPORTED,
                            "%s/%s%s: is a %s; a volume holds only directories and regular files",
                            s->shown, rel, name,
                            S_ISLNK(st.st_mode)    ? "symbolic link"
                            : S_ISFIFO(st.st_mode) ? "FIFO"
                            : S_ISSOCK(st.st_mode) ? "socket"
                                                   : "device");
    if (arca_buf_put_str(&s->path, name) < 0)
        return arca_err_set(ARCA_ERR_TOO_LARGE, "%s/%s%s: path longer than %d bytes", s->shown, rel,
                            name, ARCA_VOLUME_PATH_MAX);
    rc = arca_volume_manifest_add(s->m, S_ISDIR(st.st_mode) ? ARCA_VOLUME_DIR : ARCA_VOLUME_FILE,
                                  st.st_mode & 0777, (const char *)s->path.data, s->path.len,
                                  S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0);
    if (rc == 0 && S_ISDIR(st.st_mode)) {
        int sub = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0) {
            rc = arca_err_set(ARCA_ERR_IO, "%s/%s: %s", s->shown, arca_buf_cstr(&s->path),
                              strerror(errno));
        } else {
            struct stat sst;
            if (fstat(sub, &sst) != 0 || !S_ISDIR(sst.st_mode))
                rc = arca_err_set(ARCA_ERR_IO, "%s/%s: changed while being read", s->shown,
                                  arca_buf_cstr(&s->path));
            else if (s->skip_ino != 0 && sst.st_dev == s->skip_dev && sst.st_ino == s->skip_ino)
                rc = arca_err_set(ARCA_ERR_INVALID_ARG,
                                  "%s/%s: the destination lies inside the source tree", s->shown,
                                  arca_buf_cstr(&s->path));
            else if ((rc = arca_buf_put_u8(&s->path, '/')) == 0)
                rc = scan_dir(s, sub, depth + 1);
            close(sub);
        }
    }
    s->path.len = base;
    s->path.data[base] = '\0';
    return rc;
}

static int scan_dir(struct scan *s, int dirfd, int depth)
{
    ARCA_ENSURE(depth < SCAN_DEPTH_MAX, ARCA_ERR_TOO_LARGE, "%s/%s: nested deeper than %d",
                s->shown, arca_buf_cstr(&s->path), SCAN_DEPTH_MAX);
    char **names = NULL;
    size_t n = 0;
    ARCA_TRY(read_names(dirfd, s->shown, arca_buf_cstr(&s->path), &names, &n));
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (depth == 0 && s->skip_manifest && strcmp(names[i], ARCA_VOLUME_MANIFEST_NAME) == 0)
            continue;
        if (depth == 0 && !s->skip_manifest && strcmp(names[i], ARCA_VOLUME_MANIFEST_NAME) == 0) {
            rc = arca_err_set(ARCA_ERR_FORMAT, "%s/%s: this name is reserved for the manifest",
                              s->shown, names[i]);
            break;
        }
        rc = scan_one(s, dirfd, names[i], depth);
    }
    free_names(names, n);
    return rc;
}

int vol_scan(int rootfd, const char *shown, bool skip_manifest, dev_t skip_dev, ino_t skip_ino,
             struct arca_volume_manifest *m)
{
    struct scan s = {.shown = shown,
                     .skip_manifest = skip_manifest,
                     .skip_dev = skip_dev,
                     .skip_ino = skip_ino,
                     .m = m};
    arca_buf_init(&s.path, ARCA_VOLUME_PATH_MAX + 1);
    int rc = scan_dir(&s, rootfd, 0);
    arca_buf_free(&s.path);
    return rc;
}

void vol_progress_bytes(struct vol_progress *pr, uint64_t n)
{
    pr->p.bytes_done += n;
    if (pr->opts != NULL && pr->opts->progress != NULL &&
        pr->p.bytes_done - pr->last_report >= ((uint64_t)8 << 20)) {
        pr->last_report = pr->p.bytes_done;
        pr->opts->progress(&pr->p, pr->opts->progress_arg);
    }
}

void vol_progress_file(struct vol_progress *pr)
{
    pr->p.files_done++;
    if (pr->opts != NULL && pr->opts->progress != NULL) {
        pr->last_report = pr->p.bytes_done;
        pr->opts->progress(&pr->p, pr->opts->progress_arg);
    }
}
