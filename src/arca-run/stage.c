/*
 * Private tmpfs staging (stage.h). The staging directory is the only name arca-run makes on a
 * host file system: empty, 0700, made with mkdirat relative to a descriptor of its parent,
 * hidden by the tmpfs while it exists and removed right after.
 */
#include "stage.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "base/err.h"

#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

void arcarun_fd_link(int fd, char out[32])
{
    snprintf(out, 32, "/proc/self/fd/%d", fd);
}

int arcarun_bind_fd(int src, int dst, unsigned long flags)
{
    char s[32], d[32];
    arcarun_fd_link(src, s);
    arcarun_fd_link(dst, d);
    return mount(s, d, NULL, MS_BIND | flags, NULL) == 0 ? 0 : -errno;
}

bool arcarun_tmpfs_holds(const struct arcarun_tmpfs *t, int fd)
{
    struct stat st;
    return t->root >= 0 && fstat(fd, &st) == 0 && st.st_dev == t->dev;
}

/* A fresh directory in t->parent with a random name; its O_PATH descriptor in *dfd. */
static int make_mount_point(struct arcarun_tmpfs *t, int *dfd)
{
    for (int attempt = 0; attempt < 8; attempt++) {
        uint8_t r[8];
        if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
            ARCA_BAIL(ARCA_ERR_IO, "staging: no random bytes: %s", strerror(errno));
        snprintf(t->name, sizeof(t->name), "arca-run.%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1],
                 r[2], r[3], r[4], r[5], r[6], r[7]);
        if (mkdirat(t->parent, t->name, 0700) != 0) {
            if (errno == EEXIST)
                continue;
            ARCA_BAIL(ARCA_ERR_IO, "staging directory: %s", strerror(errno));
        }
        *dfd = openat(t->parent, t->name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (*dfd < 0) {
            int e = errno;
            unlinkat(t->parent, t->name, AT_REMOVEDIR);
            ARCA_BAIL(ARCA_ERR_IO, "staging directory: %s", strerror(e));
        }
        return 0;
    }
    ARCA_BAIL(ARCA_ERR_IO, "staging directory: no free name");
}

int arcarun_tmpfs_mount(const char *parent, size_t size, struct arcarun_tmpfs *t)
{
    ARCA_ENSURE_REF(t);
    memset(t, 0, sizeof(*t));
    t->root = -1;
    const char *pname = parent != NULL ? parent : "/tmp";
    t->parent = open(pname, O_PATH | O_DIRECTORY | O_CLOEXEC);
    ARCA_ENSURE(t->parent >= 0, ARCA_ERR_IO, "staging directory %s: %s", pname, strerror(errno));
    int dfd = -1, rc = 0;
    ARCA_GUARD(rc, make_mount_point(t, &dfd), fail);
    char opts[64], target[32];
    snprintf(opts, sizeof(opts), "mode=0700,size=%zu", size);
    arcarun_fd_link(dfd, target);
    if (mount("arca-run", target, "tmpfs", MS_NOSUID | MS_NODEV, opts) != 0) {
        rc = arca_err_set(ARCA_ERR_DENIED, "cannot mount a private tmpfs: %s", strerror(errno));
        goto fail;
    }
    /* Walking onto the name again crosses into the mount we just made. */
    t->root = openat(t->parent, t->name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st, dst;
    struct statfs sfs;
    if (t->root < 0 || fstat(t->root, &st) != 0 || fstat(dfd, &dst) != 0 ||
        fstatfs(t->root, &sfs) != 0 || sfs.f_type != TMPFS_MAGIC || st.st_dev == dst.st_dev) {
        rc = arca_err_set(ARCA_ERR_IO, "staging: the private tmpfs is not where it was mounted");
        umount2(target, MNT_DETACH);
        goto fail;
    }
    t->dev = st.st_dev;
    close(dfd);
    return 0;
fail:
    if (dfd >= 0) {
        close(dfd);
        unlinkat(t->parent, t->name, AT_REMOVEDIR);
    }
    if (t->root >= 0)
        close(t->root);
    close(t->parent);
    memset(t, 0, sizeof(*t));
    t->root = t->parent = -1;
    return rc;
}

void arcarun_tmpfs_detach(struct arcarun_tmpfs *t)
{
    if (t == NULL || t->root < 0)
        return;
    char link[32];
    arcarun_fd_link(t->root, link);
    umount2(link, MNT_DETACH);
    close(t->root);
    t->root = -1;
    unlinkat(t->parent, t->name, AT_REMOVEDIR);
    close(t->parent);
    t->parent = -1;
}
