/*
 * Unlocking protected volumes into private memory and saving their changes (volumes.h).
 */
#include "volumes.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libgen.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/enc.h"
#include "base/err.h"
#include "base/log.h"
#include "crypto/crypto.h"
#include "stage.h"
#include "volume/volume.h"

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

/* Room a writable volume may grow by in memory beyond its plaintext size. */
#define GROWTH_MIN ((size_t)64 << 20)
/* Depth of the metadata walk (the format allows 256 directories). */
#define WALK_DEPTH_MAX 300

/* ---- the state of a plaintext tree --------------------------------------------------------- */

/* Appends, for dir's entries in readdir order and recursively, each name, mode, size and
 * change and modification times: any write, chmod, rename, creation or removal changes one.
 * The tree is on our own tmpfs, so nothing here is a host path. */
static int describe(int dir, int depth, struct arca_buf *out)
{
    ARCA_ENSURE(depth < WALK_DEPTH_MAX, ARCA_ERR_TOO_LARGE, "volume: directories too deep");
    int lfd = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = lfd >= 0 ? fdopendir(lfd) : NULL;
    if (d == NULL) {
        if (lfd >= 0)
            close(lfd);
        ARCA_BAIL(ARCA_ERR_IO, "volume: listing the plaintext: %s", strerror(errno));
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        rc = arca_buf_printf(out, "%s%c%o %lld %lld.%ld %lld.%ld\n", de->d_name, 0,
                             (unsigned)st.st_mode, (long long)st.st_size,
                             (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
                             (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
        if (rc == 0 && S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            ARCA_GUARD_ENSURE(rc, sub >= 0, out, ARCA_ERR_IO, "volume: %s: %s", de->d_name,
                              strerror(errno));
            rc = describe(sub, depth + 1, out);
            close(sub);
            if (rc == 0)
                rc = arca_buf_put_u8(out, '/'); /* end of this directory */
        }
    }
out:
    closedir(d);
    return rc;
}

static int tree_state(int root, uint8_t out[32])
{
    int dfd = openat(root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ARCA_ENSURE(dfd >= 0, ARCA_ERR_IO, "volume: %s", strerror(errno));
    struct arca_buf b;
    arca_buf_init(&b, 0);
    struct stat st;
    int rc = fstat(dfd, &st) == 0 ? arca_buf_printf(&b, "%o\n", (unsigned)st.st_mode)
                                  : arca_err_set(ARCA_ERR_IO, "volume: %s", strerror(errno));
    if (rc == 0)
        rc = describe(dfd, 0, &b);
    close(dfd);
    if (rc == 0)
        rc = arca_sha256(b.data, b.len, out);
    arca_buf_free(&b);
    return rc;
}

/* ---- unlocking -------------------------------------------------------------------------------- */

/* The tag to unlock at: the delivered one, or (no tag known) the one the key authenticates. */
static int unlock_tag(const struct arca_launch_volume *v, uint8_t tag[16])
{
    if (v->has_tag) {
        memcpy(tag, v->tag, 16);
        return 0;
    }
    return arca_volume_read_tag(v->path, v->key, tag);
}

/* Whether v may start empty: arcad knows no version of it (no tag, rollback protected or
 * ephemeral: a volume whose key arcad made) and the directory holds no manifest yet. */
static bool starts_empty(const struct arca_launch_volume *v)
{
    if (v->has_tag || v->policy == ARCA_LAUNCH_VOLUME_NO_ROLLBACK_PROTECTION)
        return false;
    char m[ARCA_LAUNCH_CONFIG_MAX_PATH + 16];
    snprintf(m, sizeof(m), "%s/%s", v->path, ARCA_VOLUME_MANIFEST_NAME);
    struct stat st;
    return lstat(m, &st) != 0 && errno == ENOENT;
}

/*
 * A volume whose changes are kept has one writer at a time. The plaintext is bind-mounted over
 * the encrypted directory's dentry; when another writer saves, it swaps a new directory in
 * under the same name, and a program still running over the old one would from then on reach
 * the new ENCRYPTED tree by path (and could write plaintext into it). So a writer holds an
 * exclusive flock on the encrypted directory for its whole run, and a second writer is refused
 * at start, before anything is decrypted. The lock is checked to be on the directory that the
 * path names now (a saver may have swapped it between open and flock). *fd is closed by
 * arcarun_volumes_free; ephemeral volumes (changes dropped) take no lock.
 */
static int lock_writer(const struct arca_launch_volume *v, int *fd)
{
    *fd = -1;
    if (v->policy == ARCA_LAUNCH_VOLUME_EPHEMERAL)
        return 0;
    for (int tries = 0; tries < 8; tries++) {
        int d = open(v->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        ARCA_ENSURE(d >= 0, ARCA_ERR_IO, "volume %s at %s: %s", v->name, v->path, strerror(errno));
        if (flock(d, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            close(d);
            if (e == EWOULDBLOCK)
                return arca_err_set(ARCA_ERR_CONFLICT,
                                    "volume %s at %s is in use by another arca-run that may "
                                    "change it; a volume whose changes are kept has one writer "
                                    "at a time (start this one when the other has ended)",
                                    v->name, v->path);
            return arca_err_set(ARCA_ERR_IO, "volume %s at %s: cannot lock it: %s", v->name,
                                v->path, strerror(e));
        }
        struct stat held, named;
        if (fstat(d, &held) == 0 && stat(v->path, &named) == 0 && held.st_dev == named.st_dev &&
            held.st_ino == named.st_ino) {
            *fd = d;
            return 0;
        }
        close(d); /* swapped meanwhile: lock the directory the path names now */
    }
    return arca_err_set(ARCA_ERR_CONFLICT, "volume %s at %s keeps being replaced; not unlocked",
                        v->name, v->path);
}

/* Verifies v and decrypts it onto a fresh tmpfs; *plain is its plaintext root (O_PATH).
 * *fresh: v started empty (no version existed). */
static int decrypt_one(const struct arca_launch_volume *v, const char *staging_parent,
                       struct arcarun_tmpfs *t, uint8_t tag[16], bool *fresh, int *plain)
{
    *fresh = starts_empty(v);
    size_t total = 0;
    if (!*fresh) {
        ARCA_TRY(unlock_tag(v, tag));
        /* Verified listing first: the tmpfs is sized by the authenticated plaintext sizes. */
        struct arca_volume_manifest *m = NULL;
        ARCA_TRY(arca_volume_show(v->path, v->key, tag, &m));
        for (size_t i = 0; i < m->count; i++)
            total += (size_t)m->entries[i].size + 4096;
        arca_volume_manifest_free(m);
    }
    /* Every policy lets the program write (ephemeral changes are dropped at exit). */
    size_t room = total + (total > GROWTH_MIN ? total : GROWTH_MIN);
    int rc = arcarun_tmpfs_mount(staging_parent, room, t);
    if (rc < 0)
        return arca_err_wrap(rc, "volume %s", v->path);
    char dst[48];
    snprintf(dst, sizeof(dst), "/proc/self/fd/%d/v", t->root);
    if (*fresh)
        rc = mkdirat(t->root, "v", 0755) == 0
                 ? 0
                 : arca_err_set(ARCA_ERR_IO, "volume %s: %s", v->path, strerror(errno));
    else
        rc = arca_volume_decrypt_tree(v->path, v->key, tag, dst, NULL, NULL);
    if (rc == 0) {
        *plain = openat(t->root, "v", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (*plain < 0)
            rc = arca_err_set(ARCA_ERR_IO, "volume %s: plaintext: %s", v->path, strerror(errno));
    }
    /* Attached until the plaintext is bind-mounted (a detached mount cannot be a source). */
    if (rc < 0)
        arcarun_tmpfs_detach(t);
    return rc;
}

/* Bind-mounts the plaintext over the encrypted tree at its path (already verified). */
static int place(const struct arcarun_volume *u)
{
    int dst = open(u->v->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    ARCA_ENSURE(dst >= 0, ARCA_ERR_IO, "volume %s: %s", u->v->path, strerror(errno));
    int b = arcarun_bind_fd(u->plain, dst, 0);
    close(dst);
    ARCA_ENSURE(b == 0, ARCA_ERR_IO, "volume %s: mounting the plaintext: %s", u->v->path,
                strerror(-b));
    return 0;
}

int arcarun_volumes_unlock(const struct arcarun_config *c, const char *staging_parent,
                           struct arcarun_volumes *out)
{
    ARCA_ENSURE_REF(c);
    ARCA_ENSURE_REF(out);
    memset(out, 0, sizeof(*out));
    if (c->nvolumes == 0)
        return 0;
    int rc = arcarun_enter_mount_ns();
    if (rc < 0)
        return arca_err_wrap(rc, "volumes are never decrypted to disk");
    out->vol = calloc(c->nvolumes, sizeof(*out->vol));
    ARCA_ENSURE(out->vol != NULL, ARCA_ERR_ALLOC, "volumes: out of memory");
    for (size_t i = 0; i < c->nvolumes; i++) {
        struct arcarun_volume *u = &out->vol[i];
        u->v = &c->volumes[i];
        u->plain = -1;
        u->lock = -1;
        u->t.root = u->t.parent = -1;
        out->n = i + 1;
        ARCA_GUARD(rc, lock_writer(u->v, &u->lock), fail);
        ARCA_GUARD(rc, decrypt_one(u->v, staging_parent, &u->t, u->tag, &u->fresh, &u->plain),
                   fail);
        ARCA_GUARD(rc, tree_state(u->plain, u->state), fail);
    }
    /* Every volume verified and decrypted: only now does any plaintext appear at a path. */
    for (size_t i = 0; i < out->n; i++) {
        ARCA_GUARD(rc, place(&out->vol[i]), fail);
        arcarun_tmpfs_detach(&out->vol[i].t); /* the bind mount keeps it; the name goes */
        char hex[33];
        arca_hex_fmt(hex, out->vol[i].tag, 16);
        if (out->vol[i].fresh)
            snprintf(hex, sizeof(hex), "none: new, empty");
        arca_info("arca-run", "volume %s unlocked at %s (tag %s, %s)", out->vol[i].v->name,
                  out->vol[i].v->path, hex, arca_launch_volume_policy_name(out->vol[i].v->policy));
    }
    return 0;
fail:
    /* Mounts already placed live in our private namespace only, which the failed launch
     * leaves right away. */
    arcarun_volumes_free(out);
    return rc;
}

bool arcarun_volumes_keep_changes(const struct arcarun_volumes *vs)
{
    for (size_t i = 0; vs != NULL && i < vs->n; i++)
        if (vs->vol[i].v->policy != ARCA_LAUNCH_VOLUME_EPHEMERAL)
            return true;
    return false;
}

/* ---- saving -------------------------------------------------------------------------------- */

static int remove_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)f;
    return (flag == FTW_DP ? rmdir(p) : unlink(p)) == 0 ? 0 : -1;
}

/* Removes the tree at path (our own old encrypted copy), never following a link. */
static void remove_tree(const char *path)
{
    if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        arca_warn("arca-run", "volume: cannot remove the old copy %s: %s", path, strerror(errno));
}

/* Locks the directory holding the volume (exclusive, blocking) so that of two writers of the
 * same volume one checks and replaces it at a time. Returns the descriptor to close. */
static int lock_parent(const char *path)
{
    char *copy = strdup(path);
    ARCA_ENSURE(copy != NULL, ARCA_ERR_ALLOC, "volume: out of memory");
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int e = errno;
    free(copy);
    ARCA_ENSURE(fd >= 0, ARCA_ERR_IO, "volume %s: cannot open its directory: %s", path,
                strerror(e));
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            e = errno;
            close(fd);
            return arca_err_set(ARCA_ERR_IO, "volume %s: cannot lock its directory: %s", path,
                                strerror(e));
        }
    }
    return fd;
}

/*
 * Whether the volume on disk is still the version this run unlocked (or still none). Another
 * arca-run of the same service may have saved in between: replacing its version would lose
 * its changes (and leave the disk behind arcad's tag), so that is refused. Called locked.
 */
static int still_ours(const struct arcarun_volume *u)
{
    const struct arca_launch_volume *v = u->v;
    uint8_t now[16];
    int rc = arca_volume_read_tag(v->path, v->key, now);
    if (u->fresh && rc == ARCA_ERR_NOT_FOUND)
        return 0;
    if (!u->fresh && rc == 0 && arca_memeq(now, u->tag, sizeof(now)))
        return 0;
    char was[33] = "none", is[33] = "unreadable";
    if (!u->fresh)
        arca_hex_fmt(was, u->tag, 16);
    if (rc == 0)
        arca_hex_fmt(is, now, 16);
    return arca_err_set(ARCA_ERR_CONFLICT,
                        "volume %s at %s: another writer saved a newer version first (on disk "
                        "now: tag %s; this run started from %s), so this run's changes do not "
                        "replace it",
                        v->name, v->path, is, was);
}

static int save_one(struct arcarun_volume *u)
{
    const struct arca_launch_volume *v = u->v;
    uint8_t now[32];
    ARCA_TRY(tree_state(u->plain, now));
    if (memcmp(now, u->state, sizeof(now)) == 0 && !u->fresh)
        return 0; /* unchanged: the volume and its tag stay */
    /* Our plaintext mount hides the encrypted tree; in our namespace only, so take it away. */
    ARCA_ENSURE(umount2(v->path, MNT_DETACH) == 0, ARCA_ERR_IO,
                "volume %s: unmounting the plaintext: %s", v->path, strerror(errno));
    size_t n = strlen(v->path) + 32;
    char *tmp = malloc(n);
    ARCA_ENSURE(tmp != NULL, ARCA_ERR_ALLOC, "volume: out of memory");
    snprintf(tmp, n, "%s.arca-new.%ld", v->path, (long)getpid());
    char src[32];
    arcarun_fd_link(u->plain, src);
    uint8_t key[32];
    int rc = arca_volume_encrypt_tree(src, tmp, v->key, NULL, key, u->new_tag, NULL);
    arca_wipe(key, sizeof(key));
    int lockfd = -1;
    if (rc < 0) {
        rc = arca_err_wrap(rc, "volume %s: saving the changes", v->path);
    } else if ((lockfd = lock_parent(v->path)) < 0) {
        rc = lockfd;
        remove_tree(tmp);
    } else if ((rc = still_ours(u)) < 0) {
        /* Nothing lost: the other writer's version stays in place and is what arcad knows;
         * this run's changes stay encrypted beside it for the operator to merge. */
        rc = arca_err_wrap(rc, "the changes of this run stay encrypted (same key) at %s", tmp);
    } else if (renameat2(AT_FDCWD, tmp, AT_FDCWD, v->path, RENAME_EXCHANGE) != 0) {
        rc = arca_err_set(ARCA_ERR_IO, "volume %s: putting the new version in place: %s", v->path,
                          strerror(errno));
        remove_tree(tmp);
    } else {
        remove_tree(tmp); /* the old version, now under the temporary name */
        u->saved = true;
    }
    if (lockfd >= 0)
        close(lockfd);
    free(tmp);
    return rc;
}

int arcarun_volumes_save(struct arcarun_volumes *vs)
{
    ARCA_ENSURE_REF(vs);
    int first = 0;
    char why[ARCA_ERR_DETAIL_MAX + 1] = "";
    for (size_t i = 0; i < vs->n; i++) {
        struct arcarun_volume *u = &vs->vol[i];
        if (u->v->policy == ARCA_LAUNCH_VOLUME_EPHEMERAL || u->plain < 0)
            continue;
        int rc = save_one(u);
        if (rc < 0) {
            arca_error("arca-run", "%s", arca_err_detail());
            if (first == 0) {
                first = rc;
                snprintf(why, sizeof(why), "%s", arca_err_detail());
            }
        } else if (u->saved) {
            char hex[33];
            arca_hex_fmt(hex, u->new_tag, 16);
            arca_info("arca-run", "volume %s saved at %s: new tag %s", u->v->name, u->v->path, hex);
        }
    }
    return first < 0 ? arca_err_set(first, "%s", why) : 0;
}

int arcarun_volumes_report(const struct arcarun_volumes *vs, const struct arcarun_config *c,
                           const struct arcarun_attest_params *p)
{
    ARCA_ENSURE_REF(vs);
    ARCA_ENSURE_REF(c);
    ARCA_ENSURE_REF(p);
    int first = 0;
    char why[ARCA_ERR_DETAIL_MAX + 1] = "";
    for (size_t i = 0; i < vs->n; i++) {
        const struct arcarun_volume *u = &vs->vol[i];
        if (!u->saved)
            continue;
        ARCA_ENSURE(c->has_volume_token, ARCA_ERR_POLICY,
                    "volume %s: saved, but the configuration has no credential to report its "
                    "tag",
                    u->v->name);
        struct arca_volume_report r;
        memset(&r, 0, sizeof(r));
        const char *at = strchr(p->config_id, '@');
        r.config_id =
            at != NULL ? strndup(p->config_id, (size_t)(at - p->config_id)) : strdup(p->config_id);
        r.volume = strdup(u->v->name);
        memcpy(r.token, c->volume_token, sizeof(r.token));
        r.has_old_tag = !u->fresh;
        memcpy(r.old_tag, u->tag, 16);
        memcpy(r.tag, u->new_tag, 16);
        int rc = r.config_id != NULL && r.volume != NULL
                     ? arcarun_report_volume(p, &r)
                     : arca_err_set(ARCA_ERR_ALLOC, "volume report: out of memory");
        arca_volume_report_free(&r);
        if (rc < 0) {
            rc = arca_err_wrap(rc, "volume %s: reporting the new tag", u->v->name);
            arca_error("arca-run", "%s", arca_err_detail());
            if (first == 0) {
                first = rc;
                snprintf(why, sizeof(why), "%s", arca_err_detail());
            }
        }
    }
    return first < 0 ? arca_err_set(first, "%s", why) : 0;
}

void arcarun_volumes_free(struct arcarun_volumes *vs)
{
    if (vs == NULL)
        return;
    for (size_t i = 0; vs->vol != NULL && i < vs->n; i++) {
        if (vs->vol[i].plain >= 0)
            close(vs->vol[i].plain);
        if (vs->vol[i].lock >= 0)
            close(vs->vol[i].lock);
        arcarun_tmpfs_detach(&vs->vol[i].t);
    }
    free(vs->vol);
    memset(vs, 0, sizeof(*vs));
}
