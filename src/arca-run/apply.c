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
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "base/path.h"
#include "stage.h"

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

/* unshare(CLONE_NEWUSER) refuses a process with a second thread (EINVAL). libcurl's loading
 * thread (curl_load.h) is joined before the first request, long before this, but the kernel
 * may still be finishing that thread's exit for a moment after pthread_join returned. */
static int unshare_user_ns(void)
{
    for (int tries = 0;; tries++) {
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS) == 0)
            return 0;
        if (errno != EINVAL || tries == 50)
            return -1;
        struct timespec pause = {.tv_nsec = 1000000};
        nanosleep(&pause, NULL);
    }
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
        if (unshare_user_ns() != 0) {
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

#define STAGE_OVERLAYS_MAX 16

struct stage {
    struct arcarun_tmpfs t; /* contents, directory copies and new directories live here */
    int root;               /* O_PATH descriptor of "/" */
    unsigned counter;
    bool is_root; /* euid 0 in the initial namespace: can chown overlay dirs */
    /* Devices of the overlayfs mounts made here: their upper layers are on t, so whatever is
     * created in them lands on our tmpfs, never on the host's disk. */
    dev_t ovl_dev[STAGE_OVERLAYS_MAX];
    unsigned novl;
};

/* True if fd is on our tmpfs or on one of our overlays (creating in it writes to the tmpfs). */
static bool stage_holds(const struct stage *s, int fd)
{
    if (arcarun_tmpfs_holds(&s->t, fd))
        return true;
    struct stat st;
    if (s->novl == 0 || fstat(fd, &st) != 0)
        return false;
    for (unsigned i = 0; i < s->novl; i++)
        if (st.st_dev == s->ovl_dev[i])
            return true;
    return false;
}

/* Undoes the \ooo escapes of a mountinfo field in place. */
static void mountinfo_unescape(char *p)
{
    char *o = p;
    while (*p != '\0') {
        if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
            p[3] >= '0' && p[3] <= '7') {
            *o++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
            p += 4;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
}

/* True if something is mounted below the directory at path (or mountinfo cannot be read: the
 * cautious answer). An overlay of the directory would hide such mounts. */
static bool has_submounts(const char *path)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (f == NULL)
        return true;
    size_t plen = strlen(path);
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f) != NULL) {
        /* id parent major:minor root mount-point ...: the fifth field. */
        char *save = NULL, *field = strtok_r(line, " ", &save);
        for (int i = 1; i < 5 && field != NULL; i++)
            field = strtok_r(NULL, " ", &save);
        if (field == NULL)
            continue;
        mountinfo_unescape(field);
        found = strncmp(field, path, plen) == 0 && field[plen] == '/';
    }
    fclose(f);
    return found;
}

/*
 * One overlayfs mount over the host directory open as dirfd: lower layer the directory itself,
 * upper and work directories on our tmpfs. The program sees the directory's entries as they
 * are plus what we add, and nothing reaches the disk; a change it makes to an existing entry
 * of the directory is copied up to the tmpfs (copy-on-write) instead of reaching the host.
 * One mount instead of one per entry (docs/internals/launch.md). Returns 1 when it did not
 * apply (a mount below the directory, which the overlay would hide; too many overlays; an
 * overlayfs the kernel refuses here, e.g. before Linux 5.11 in a user namespace): the caller
 * copies the directory instead. 0 when mounted, or a negative error.
 */
static int overlay_mount(struct stage *s, int dirfd, const struct stat *dirst)
{
    char dirlink[32], path[PATH_MAX];
    arcarun_fd_link(dirfd, dirlink);
    ssize_t n = readlink(dirlink, path, sizeof(path) - 1);
    if (n <= 0 || (size_t)n >= sizeof(path) - 1 || s->novl == STAGE_OVERLAYS_MAX)
        return 1;
    path[n] = '\0';
    if (path[0] != '/' || has_submounts(path))
        return 1;
    char up[32], wk[32];
    unsigned c = s->counter++;
    snprintf(up, sizeof(up), "u%u", c);
    snprintf(wk, sizeof(wk), "w%u", c);
    if (mkdirat(s->t.root, up, 0700) != 0 || mkdirat(s->t.root, wk, 0700) != 0)
        ARCA_BAIL(ARCA_ERR_IO, "injection: staging directory: %s", strerror(errno));
    /* The merged directory shows the upper directory's owner and mode. */
    if (s->is_root && fchownat(s->t.root, up, dirst->st_uid, dirst->st_gid, 0) != 0)
        ARCA_BAIL(ARCA_ERR_IO, "injection: chown overlay: %s", strerror(errno));
    if (fchmodat(s->t.root, up, dirst->st_mode & 07777, 0) != 0)
        ARCA_BAIL(ARCA_ERR_IO, "injection: chmod overlay: %s", strerror(errno));
    int ufd = openat(s->t.root, up, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int wfd = openat(s->t.root, wk, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int mfd = -1;
    if (ufd >= 0 && wfd >= 0) {
        char ul[32], wl[32];
        arcarun_fd_link(ufd, ul);
        arcarun_fd_link(wfd, wl);
        /* Every layer is named by descriptor, and the new mount is moved onto exactly the
         * directory open as dirfd: no path is resolved again. In a user namespace overlayfs
         * keeps its metadata in user.* extended attributes (userxattr). */
        for (int attempt = 0; attempt < 2 && mfd < 0; attempt++) {
            int fs = fsopen("overlay", FSOPEN_CLOEXEC);
            if (fs < 0)
                break; /* no new mount API or no overlayfs */
            bool ok = fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir", dirlink, 0) == 0 &&
                      fsconfig(fs, FSCONFIG_SET_STRING, "upperdir", ul, 0) == 0 &&
                      fsconfig(fs, FSCONFIG_SET_STRING, "workdir", wl, 0) == 0 &&
                      (attempt > 0 || s->is_root ||
                       fsconfig(fs, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) == 0) &&
                      fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0;
            if (ok)
                mfd = fsmount(fs, FSMOUNT_CLOEXEC, 0);
            close(fs);
        }
    }
    if (ufd >= 0)
        close(ufd);
    if (wfd >= 0)
        close(wfd);
    if (mfd < 0)
        return 1;
    /* The device of the mount we made (not of whatever a path leads to by now) marks where
     * creating is safe. */
    struct stat mst;
    int rc = fstat(mfd, &mst) == 0 ? 0 : -errno;
    if (rc == 0 &&
        move_mount(mfd, "", dirfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
        rc = -errno;
    close(mfd);
    if (rc != 0)
        return 1; /* the detached overlay goes with mfd */
    s->ovl_dev[s->novl++] = mst.st_dev;
    return 0;
}

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

/* Makes an empty regular file (a bind mount point) at dirfd/name; never follows a link. */
static int make_mount_point_file(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

static bool same_file(int a, int b)
{
    struct stat sa, sb;
    return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* Copies entry name of the listed directory d into ovfd: symlinks as symlinks, everything else
 * as a bind mount of exactly the entry that was listed (by descriptor). */
static int keep_entry(int ovfd, DIR *d, const char *name, const char *dir)
{
    struct stat st;
    if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return 0; /* vanished meanwhile */
    if (S_ISLNK(st.st_mode)) {
        char target[PATH_MAX];
        ssize_t n = readlinkat(dirfd(d), name, target, sizeof(target) - 1);
        ARCA_ENSURE(n >= 0, ARCA_ERR_IO, "injection: readlink %s/%s: %s", dir, name,
                    strerror(errno));
        target[n] = '\0';
        ARCA_ENSURE(symlinkat(target, ovfd, name) == 0, ARCA_ERR_IO,
                    "injection: copying symlink %s/%s: %s", dir, name, strerror(errno));
        return 0;
    }
    int src = openat(dirfd(d), name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (src < 0 && errno == ENOENT)
        return 0;
    ARCA_ENSURE(src >= 0, ARCA_ERR_IO, "injection: %s/%s: %s", dir, name, strerror(errno));
    int made = S_ISDIR(st.st_mode) ? mkdirat(ovfd, name, 0700) : make_mount_point_file(ovfd, name);
    int e = errno;
    int dst = made == 0 ? openat(ovfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC) : -1;
    if (made == 0 && dst < 0)
        e = errno;
    int b = dst >= 0 ? arcarun_bind_fd(src, dst, MS_REC) : -e;
    close(src);
    if (dst >= 0)
        close(dst);
    ARCA_ENSURE(b == 0, ARCA_ERR_IO, "injection: keeping %s/%s visible: %s", dir, name,
                strerror(-b));
    return 0;
}

/*
 * Replaces the host directory open as dirfd (shown as dir in messages) with a tmpfs directory
 * holding a bind mount of each original entry (symlinks are copied), so that new names can be
 * added to it without writing to the real file system. The copy is mounted over exactly that
 * directory, whatever its path leads to by now.
 */
static int overlay_dir(struct stage *s, int dirfd, const char *dir)
{
    ARCA_ENSURE(!same_file(dirfd, s->root), ARCA_ERR_UNSUPPORTED,
                "injection: cannot create a new top-level directory under /");
    struct stat dirst;
    if (fstat(dirfd, &dirst) != 0)
        ARCA_BAIL(ARCA_ERR_IO, "injection: %s: %s", dir, strerror(errno));
    int ovl = overlay_mount(s, dirfd, &dirst);
    if (ovl <= 0)
        return ovl;
    char ov[32];
    snprintf(ov, sizeof(ov), "d%u", s->counter++);
    if (mkdirat(s->t.root, ov, 0700) != 0)
        ARCA_BAIL(ARCA_ERR_IO, "injection: staging directory: %s", strerror(errno));
    int ovfd = openat(s->t.root, ov, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    ARCA_ENSURE(ovfd >= 0, ARCA_ERR_IO, "injection: staging: %s", strerror(errno));
    int rc = 0;
    DIR *d = NULL;
    int lfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (lfd >= 0 && (d = fdopendir(lfd)) == NULL)
        close(lfd);
    ARCA_GUARD_ENSURE(rc, d != NULL, out, ARCA_ERR_IO,
                      "injection: cannot list %s to add a file to it: %s", dir, strerror(errno));
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        ARCA_GUARD(rc, keep_entry(ovfd, d, de->d_name, dir), out);
    }
    /* The copy looks like the original: same permission bits and, as root, same owner. */
    if (s->is_root && fchownat(ovfd, "", dirst.st_uid, dirst.st_gid, AT_EMPTY_PATH) != 0)
        ARCA_GUARD_ENSURE(rc, false, out, ARCA_ERR_IO, "injection: chown %s copy: %s", dir,
                          strerror(errno));
    ARCA_GUARD_ENSURE(rc, fchmodat(s->t.root, ov, dirst.st_mode & 07777, 0) == 0, out, ARCA_ERR_IO,
                      "injection: chmod %s copy: %s", dir, strerror(errno));
    int b = arcarun_bind_fd(ovfd, dirfd, MS_REC);
    ARCA_GUARD_ENSURE(rc, b == 0, out, ARCA_ERR_IO, "injection: cannot place the copy of %s: %s",
                      dir, strerror(-b));
out:
    close(ovfd);
    if (d != NULL)
        closedir(d);
    return rc;
}

/* The walk found that name is missing in dirfd: make it (a directory, or the final file as an
 * empty mount point), but only on our own tmpfs. *again is set when dirfd had to be replaced by
 * a tmpfs copy first: the walk starts over, through the copy. */
static int make_missing(struct stage *s, int dirfd, const char *name, bool dir,
                        const struct arcarun_file *f, bool *again)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
        ARCA_BAIL(ARCA_ERR_CONFLICT, "injection: %s: '%s' is a symbolic link to nothing", f->path,
                  name);
    if (!stage_holds(s, dirfd)) {
        ARCA_TRY(overlay_dir(s, dirfd, f->path));
        *again = true;
        return 0;
    }
    int r = dir ? mkdirat(dirfd, name, 0755) : make_mount_point_file(dirfd, name);
    ARCA_ENSURE(r == 0 || errno == EEXIST, ARCA_ERR_IO, "injection: creating %s for %s: %s", name,
                f->path, strerror(errno));
    *again = r != 0; /* appeared meanwhile: look again */
    return 0;
}

/*
 * Walks f->path from "/" one component at a time through descriptors and returns (O_PATH) the
 * object to mount the content over: the existing file, or an empty file made on our tmpfs.
 * Existing symlinks are followed one component at a time (they are the host's choice of where
 * a path leads, like /var/run -> /run), but whatever arca-run creates is made with mkdirat or
 * openat(O_CREAT | O_EXCL | O_NOFOLLOW) on a directory descriptor proven to be on its own
 * tmpfs: a component flipped between a directory and a symlink to a host directory while we
 * walk can send the walk elsewhere, never make it write to the host's disk.
 */
static int find_target(struct stage *s, const struct arcarun_file *f, int *out)
{
    size_t len = strlen(f->path);
    ARCA_TRY(arca_path_check(f->path, len));
    ARCA_ENSURE(len > 1, ARCA_ERR_FORMAT, "injection: \"/\" is not a file");
    for (int attempt = 0; attempt < 64; attempt++) {
        int cur = dup(s->root);
        ARCA_ENSURE(cur >= 0, ARCA_ERR_IO, "injection: %s", strerror(errno));
        size_t off = 0, n = 0;
        const char *comp;
        bool last = false, again = false;
        int rc = 0;
        while (!again && arca_path_next(f->path, len, &off, &comp, &n, &last)) {
            char name[ARCA_PATH_NAME_MAX + 1];
            memcpy(name, comp, n);
            name[n] = '\0';
            int flags = O_PATH | O_CLOEXEC | (last ? 0 : O_DIRECTORY);
            int next = openat(cur, name, flags);
            if (next < 0 && errno == ENOENT) {
                rc = make_missing(s, cur, name, !last, f, &again);
                if (rc < 0 || again)
                    break;
                next = openat(cur, name, flags | O_NOFOLLOW);
            }
            if (next < 0) {
                int e = errno;
                rc = arca_err_set(e == ENOTDIR ? ARCA_ERR_CONFLICT : ARCA_ERR_IO,
                                  "injection: %s: component '%s': %s", f->path, name,
                                  e == ENOTDIR ? "not a directory" : strerror(e));
                break;
            }
            close(cur);
            cur = next;
        }
        if (rc == 0 && !again) {
            struct stat st;
            if (fstat(cur, &st) != 0 || S_ISDIR(st.st_mode)) {
                close(cur);
                ARCA_BAIL(ARCA_ERR_CONFLICT, "injection: %s is a directory on this host", f->path);
            }
            *out = cur;
            return 0;
        }
        close(cur);
        if (rc < 0)
            return rc;
    }
    ARCA_BAIL(ARCA_ERR_CONFLICT, "injection: %s: the path kept changing while it was made",
              f->path);
}

static int place_file(struct stage *s, const struct arcarun_file *f, unsigned index)
{
    char src[32];
    snprintf(src, sizeof(src), "f%u", index);
    int fd = openat(s->t.root, src, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        ARCA_BAIL(ARCA_ERR_IO, "injection: %s: staging: %s", f->path, strerror(errno));
    int ok = write_all(fd, f->content, f->len) == 0 && fchmod(fd, f->mode) == 0;
    int e = errno;
    close(fd);
    ARCA_ENSURE(ok, ARCA_ERR_IO, "injection: %s: writing to tmpfs: %s", f->path, strerror(e));
    int sfd = openat(s->t.root, src, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    ARCA_ENSURE(sfd >= 0, ARCA_ERR_IO, "injection: %s: staging: %s", f->path, strerror(errno));
    int target = -1;
    int rc = find_target(s, f, &target);
    if (rc == 0) {
        int b = arcarun_bind_fd(sfd, target, 0);
        if (b != 0)
            rc = arca_err_set(ARCA_ERR_IO, "injection: %s: bind mount: %s", f->path, strerror(-b));
        close(target);
    }
    close(sfd);
    return rc;
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
    /* Room for the contents plus a page per file and directory; tmpfs rounds up anyway. */
    int rc = arcarun_tmpfs_mount(staging_parent, total + (c->nfiles + 64) * 8192, &s.t);
    if (rc < 0)
        return arca_err_wrap(rc, "injection");
    s.root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (s.root < 0) {
        rc = arca_err_set(ARCA_ERR_IO, "injection: /: %s", strerror(errno));
        goto out;
    }
    for (size_t i = 0; i < c->nfiles; i++)
        ARCA_GUARD(rc, place_file(&s, &c->files[i], (unsigned)i), out);
out:
    /* The bind mounts keep the tmpfs alive; its staging path disappears from our namespace
     * and the empty mount point from the disk. */
    if (s.root >= 0)
        close(s.root);
    arcarun_tmpfs_detach(&s.t);
    return rc;
}
