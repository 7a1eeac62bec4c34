/*
 * Private tmpfs staging and descriptor-based mounting, shared by the injection of files
 * (apply.c) and the placing of the program's sealed copy (program.c). Everything here is
 * addressed through directory descriptors arca-run holds, never re-resolved by path, so a
 * directory or symlink swapped on the host while arca-run works cannot redirect it.
 * Call only inside arca-run's private mount namespace (arcarun_enter_mount_ns).
 */
#ifndef ARCARUN_STAGE_H
#define ARCARUN_STAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* A tmpfs mounted on a fresh directory; root and parent are O_PATH descriptors. */
struct arcarun_tmpfs {
    int parent;    /* the directory holding the mount point (staging_parent) */
    int root;      /* the tmpfs's root directory */
    dev_t dev;     /* its device: a descriptor with this st_dev is on our tmpfs */
    char name[40]; /* the mount point's name in parent */
};

/*
 * Makes a directory with a random name in parent (NULL = "/tmp") with mkdirat on a held
 * descriptor, mounts a tmpfs of size bytes (mode 0700, nosuid, nodev) on it and opens its root.
 * On success the caller must call arcarun_tmpfs_detach; on failure nothing is left behind.
 */
int arcarun_tmpfs_mount(const char *parent, size_t size, struct arcarun_tmpfs *t);

/*
 * Detaches the tmpfs from its staging directory and removes that (empty) directory. Bind
 * mounts taken from the tmpfs keep it alive; descriptors are closed. Safe to call twice.
 */
void arcarun_tmpfs_detach(struct arcarun_tmpfs *t);

/* True if fd is on t's tmpfs (something arca-run made itself, never the host's disk). */
bool arcarun_tmpfs_holds(const struct arcarun_tmpfs *t, int fd);

/*
 * Bind-mounts exactly the object open as src over exactly the object open as dst (both may be
 * O_PATH), through their /proc/self/fd links: no path is resolved again. flags are added to
 * MS_BIND (e.g. MS_REC). 0, or -errno.
 */
int arcarun_bind_fd(int src, int dst, unsigned long flags);

/* "/proc/self/fd/N" for fd into out. */
void arcarun_fd_link(int fd, char out[32]);

#endif
