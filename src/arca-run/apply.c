/*
 * Placing the injected files (issue 5, item 6). Contents live on a tmpfs mounted in a private
 * mount namespace and are bind-mounted over their exact paths, so they never touch persistent
 * storage and no other mount namespace sees them. A path that does not exist is made on a
 * tmpfs copy of its nearest existing directory, whose original entries are bind-mounted back
 * in: nothing is created on the real file system and the directory's other files stay where
 * they were. Without a mount namespace we refuse rather than fall back to disk.
 */
#include "arcarun.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"

static int write_proc_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t n = strlen(text);
    ssize_t w = write(fd, text, n);
    int e = errno;
    close(fd);
    return w == (ssize_t)n ? 0 : -(w < 0 ? e : EIO);
}

/* True if /proc/self/mountinfo lists a mount with shared propagation, or cannot be read (the
 * cautious answer). */
static bool any_mount_shared(void)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (f == NULL)
        return true;
    char line[4096];
    bool shared = false;
    while (!shared && fgets(line, sizeof(line), f) != NULL) {
        /* Optional fields sit between the mount options and the " - " separator. */
        char *sep = strstr(line, " - ");
        if (sep != NULL)
            *sep = '\0';
        shared = strstr(line, " shared:") != NULL;
    }
    fclose(f);
    return shared;
}

int arcarun_enter_mount_ns(void)
{
    if (unshare(CLONE_NEWNS) != 0) {
        int e_ns = errno;
        uid_t uid = geteuid();
        gid_t gid = getegid();
        /* Unprivileged: a user namespace owned by us gives CAP_SYS_ADMIN over a new mount
         * namespace. We map our own ids (not 0), so the program keeps its identity and loses
         * the namespace's capabilities at execve. */
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
            int e_user = errno;
            ARCA_BAIL(ARCA_ERR_DENIED,
                      "cannot get a private mount namespace (unshare(CLONE_NEWNS): %s; user "
                      "namespace: %s): arca-run will not write injected files to disk. Run it "
                      "as root, with CAP_SYS_ADMIN, or enable unprivileged user namespaces",
                      strerror(e_ns), strerror(e_user));
        }
        /* Non-dumpable (main), /proc/self belongs to root, out of the new namespace's reach:
         * dumpable just for the id maps (the core limit stays 0). */
        prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
        char map[64];
        int rc = write_proc_file("/proc/self/setgroups", "deny");
        if (rc == 0) {
            snprintf(map, sizeof(map), "%lu %lu 1", (unsigned long)uid, (unsigned long)uid);
            rc = write_proc_file("/proc/self/uid_map", map);
        }
        if (rc == 0) {
            snprintf(map, sizeof(map), "%lu %lu 1", (unsigned long)gid, (unsigned long)gid);
            rc = write_proc_file("/proc/self/gid_map", map);
        }
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        if (rc != 0)
            ARCA_BAIL(ARCA_ERR_DENIED, "user namespace: cannot write the id maps: %s",
                      strerror(-rc));
    }
    /* Nothing we mount from here on may propagate back to the host's namespace. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
        int e = errno;
        /* In a chroot "/" is not a mount point (EINVAL) and the mount holding it cannot be
         * named. It is safe to go on only if no mount we can see takes part in propagation:
         * bind mounts of a shared host mount would show as shared here. */
        if (e == EINVAL && !any_mount_shared())
            return 0;
        ARCA_BAIL(ARCA_ERR_DENIED,
                  "mount namespace: cannot make / private (%s)%s: refusing, as injected files "
                  "could become visible outside arca-run",
                  strerror(e), e == EINVAL ? ", and shared mounts exist in this chroot" : "");
    }
    return 0;
}

struct stage {
    char dir[PATH_MAX]; /* the staging tmpfs mount point */
    dev_t dev;          /* its device: a path with this st_dev is already on our tmpfs */
    unsigned counter;
    bool is_root; /* euid 0 in the initial namespace: can chown overlay dirs */
};

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Makes an empty regular file (a bind mount point) at dirfd/name. */
static int make_mount_point_file(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

/*
 * Replaces directory dir (which must not be on our tmpfs) with a tmpfs directory holding a
 * bind mount of each original entry (symlinks are copied), so new names can be added to it
 * without writing to the real file system.
 */
static int overlay_dir(struct stage *s, const char *dir)
{
    ARCA_ENSURE(strcmp(dir, "/") != 0, ARCA_ERR_UNSUPPORTED,
                "injection: cannot create a new top-level directory under /");
    char ov[PATH_MAX + 32];
    snprintf(ov, sizeof(ov), "%s/d%u", s->dir, s->counter++);
    struct stat dirst;
    if (stat(dir, &dirst) != 0)
        ARCA_BAIL(ARCA_ERR_IO, "injection: %s: %s", dir, strerror(errno));
    if (mkdir(ov, 0700) != 0)
        ARCA_BAIL(ARCA_ERR_IO, "injection: staging directory: %s", strerror(errno));
    DIR *d = opendir(dir);
    if (d == NULL)
        ARCA_BAIL(ARCA_ERR_IO, "injection: cannot list %s to add a file to it: %s", dir,
                  strerror(errno));
    int ovfd = open(ov, O_PATH | O_DIRECTORY | O_CLOEXEC);
    int rc = 0;
    ARCA_GUARD_ENSURE(rc, ovfd >= 0, out, ARCA_ERR_IO, "injection: staging: %s", strerror(errno));
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        char src[PATH_MAX + 256], dst[PATH_MAX + 300];
        snprintf(src, sizeof(src), "%s/%s", dir, name);
        snprintf(dst, sizeof(dst), "%s/%s", ov, name);
        struct stat st;
        if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue; /* vanished meanwhile */
        if (S_ISLNK(st.st_mode)) {
            char target[PATH_MAX];
            ssize_t n = readlinkat(dirfd(d), name, target, sizeof(target) - 1);
            ARCA_GUARD_ENSURE(rc, n >= 0, out, ARCA_ERR_IO, "injection: readlink %s: %s", src,
                              strerror(errno));
            target[n] = '\0';
            ARCA_GUARD_ENSURE(rc, symlinkat(target, ovfd, name) == 0, out, ARCA_ERR_IO,
                              "injection: copying symlink %s: %s", src, strerror(errno));
            continue;
        }
        if (S_ISDIR(st.st_mode))
            ARCA_GUARD_ENSURE(rc, mkdirat(ovfd, name, 0700) == 0, out, ARCA_ERR_IO,
                              "injection: staging %s: %s", src, strerror(errno));
        else
            ARCA_GUARD_ENSURE(rc, make_mount_point_file(ovfd, name) == 0, out, ARCA_ERR_IO,
                              "injection: staging %s: %s", src, strerror(errno));
        ARCA_GUARD_ENSURE(rc, mount(src, dst, NULL, MS_BIND | MS_REC, NULL) == 0, out, ARCA_ERR_IO,
                          "injection: keeping %s visible: bind mount: %s", src, strerror(errno));
    }
    /* The copy looks like the original: same permission bits and, as root, same owner. */
    if (s->is_root && chown(ov, dirst.st_uid, dirst.st_gid) != 0)
        ARCA_GUARD_ENSURE(rc, false, out, ARCA_ERR_IO, "injection: chown %s copy: %s", dir,
                          strerror(errno));
    ARCA_GUARD_ENSURE(rc, chmod(ov, dirst.st_mode & 07777) == 0, out, ARCA_ERR_IO,
                      "injection: chmod %s copy: %s", dir, strerror(errno));
    ARCA_GUARD_ENSURE(rc, mount(ov, dir, NULL, MS_BIND | MS_REC, NULL) == 0, out, ARCA_ERR_IO,
                      "injection: cannot place the copy of %s: %s", dir, strerror(errno));
out:
    if (ovfd >= 0)
        close(ovfd);
    closedir(d);
    return rc;
}

/* Makes an empty file at path (which does not exist), on tmpfs, creating directories. */
static int make_missing(struct stage *s, const char *path)
{
    /* Find the nearest existing ancestor. */
    char anc[PATH_MAX];
    snprintf(anc, sizeof(anc), "%s", path);
    struct stat st;
    for (;;) {
        char *slash = strrchr(anc, '/');
        if (slash == anc) {
            anc[1] = '\0';
        } else {
            *slash = '\0';
        }
        if (stat(anc, &st) == 0)
            break;
        ARCA_ENSURE(errno == ENOENT || errno == ENOTDIR, ARCA_ERR_IO, "injection: %s: %s", anc,
                    strerror(errno));
        ARCA_ENSURE(strcmp(anc, "/") != 0, ARCA_ERR_INTERNAL, "injection: / is missing");
    }
    ARCA_ENSURE(S_ISDIR(st.st_mode), ARCA_ERR_CONFLICT, "injection: %s: %s is not a directory",
                path, anc);
    if (st.st_dev != s->dev)
        ARCA_TRY(overlay_dir(s, anc));
    /* anc is now on our tmpfs: create the remaining components there. */
    size_t alen = strlen(anc);
    char cur[PATH_MAX];
    snprintf(cur, sizeof(cur), "%s", path);
    for (size_t i = (alen == 1 ? 1 : alen + 1); cur[i] != '\0'; i++) {
        if (cur[i] != '/')
            continue;
        cur[i] = '\0';
        int r = mkdir(cur, 0755);
        int e = errno;
        cur[i] = '/';
        ARCA_ENSURE(r == 0, ARCA_ERR_IO, "injection: mkdir for %s: %s", path, strerror(e));
    }
    ARCA_ENSURE(make_mount_point_file(AT_FDCWD, path) == 0, ARCA_ERR_IO,
                "injection: making the mount point %s: %s", path, strerror(errno));
    return 0;
}

static int place_file(struct stage *s, const struct arcarun_file *f, unsigned index)
{
    char src[PATH_MAX + 32];
    snprintf(src, sizeof(src), "%s/f%u", s->dir, index);
    int fd = open(src, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        ARCA_BAIL(ARCA_ERR_IO, "injection: %s: staging: %s", f->path, strerror(errno));
    int ok = write_all(fd, f->content, f->len) == 0 && fchmod(fd, f->mode) == 0;
    int e = errno;
    close(fd);
    ARCA_ENSURE(ok, ARCA_ERR_IO, "injection: %s: writing to tmpfs: %s", f->path, strerror(e));
    struct stat st;
    if (lstat(f->path, &st) == 0) {
        ARCA_ENSURE(!S_ISDIR(st.st_mode), ARCA_ERR_CONFLICT,
                    "injection: %s is a directory on this host", f->path);
    } else {
        ARCA_ENSURE(errno == ENOENT, ARCA_ERR_IO, "injection: %s: %s", f->path, strerror(errno));
        ARCA_TRY(make_missing(s, f->path));
    }
    if (mount(src, f->path, NULL, MS_BIND, NULL) != 0)
        ARCA_BAIL(ARCA_ERR_IO, "injection: %s: bind mount: %s", f->path, strerror(errno));
    return 0;
}

int arcarun_apply_files(const struct arcarun_config *c, const char *staging_parent)
{
    ARCA_ENSURE_REF(c);
    if (c->nfiles == 0)
        return 0;
    struct stage s;
    memset(&s, 0, sizeof(s));
    s.is_root = geteuid() == 0;
    ARCA_TRY(arcarun_enter_mount_ns());
    s.is_root = s.is_root && geteuid() == 0;

    size_t total = 0;
    for (size_t i = 0; i < c->nfiles; i++)
        total += c->files[i].len;
    snprintf(s.dir, sizeof(s.dir), "%s/arca-run.XXXXXX", staging_parent ? staging_parent : "/tmp");
    ARCA_ENSURE(mkdtemp(s.dir) != NULL, ARCA_ERR_IO, "injection: staging directory in %s: %s",
                staging_parent ? staging_parent : "/tmp", strerror(errno));
    char opts[64];
    /* Room for the contents plus a page per file and directory; tmpfs rounds up anyway. */
    snprintf(opts, sizeof(opts), "mode=0700,size=%zu", total + (c->nfiles + 64) * 8192);
    int rc = 0;
    if (mount("arca-run", s.dir, "tmpfs", MS_NOSUID | MS_NODEV, opts) != 0) {
        rc = arca_err_set(ARCA_ERR_DENIED, "injection: cannot mount a private tmpfs: %s",
                          strerror(errno));
        rmdir(s.dir);
        return rc;
    }
    struct stat st;
    if (stat(s.dir, &st) != 0) {
        rc = arca_err_set(ARCA_ERR_IO, "injection: staging: %s", strerror(errno));
        goto out;
    }
    s.dev = st.st_dev;
    for (size_t i = 0; i < c->nfiles; i++)
        ARCA_GUARD(rc, place_file(&s, &c->files[i], (unsigned)i), out);
out:
    /* The bind mounts keep the tmpfs alive; its staging path disappears from our namespace
     * and the empty mount point from the disk. */
    umount2(s.dir, MNT_DETACH);
    rmdir(s.dir);
    return rc;
}
