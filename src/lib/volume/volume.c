/*
 * Whole volumes: encrypt a tree, verify a volume before anything is exposed, decrypt it, list
 * its manifest. Per-file crypto is in volume_file.c, descriptor walking in volume_fs.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/enc.h"
#include "base/err.h"
#include "base/fs.h"
#include "crypto/crypto.h"
#include "volume/volume.h"
#include "volume/volume_internal.h"

/* Removes, in reverse order, the first `done` entries of m created below rootfd (children
 * before their directories), and the manifest if asked; best effort, on the failure path. */
static void remove_created(int rootfd, const struct arca_volume_manifest *m, size_t done,
                           bool manifest)
{
    if (manifest)
        unlinkat(rootfd, ARCA_VOLUME_MANIFEST_NAME, 0);
    struct vol_dircache dc;
    vol_dircache_init(&dc, rootfd);
    for (size_t i = done; i-- > 0;) {
        const struct arca_volume_entry *e = &m->entries[i];
        const char *leaf = NULL;
        int pfd = -1;
        if (vol_dircache_parent(&dc, e->path, e->path_len, &leaf, &pfd) == 0)
            unlinkat(pfd, leaf, e->type == ARCA_VOLUME_DIR ? AT_REMOVEDIR : 0);
    }
    vol_dircache_close(&dc);
}

/* "root/path" for messages, into b (reset first). */
static const char *shown_path(struct arca_buf *b, const char *root, const char *path)
{
    arca_buf_reset(b);
    if (arca_buf_printf(b, "%s/%s", root, path) < 0)
        return path;
    return arca_buf_cstr(b);
}

static void totals(struct vol_io *io, const struct arca_volume_manifest *m)
{
    for (size_t i = 0; i < m->count; i++)
        if (m->entries[i].type == ARCA_VOLUME_FILE) {
            io->pr.p.files_total++;
            io->pr.p.bytes_total += m->entries[i].size;
        }
}

static void fill_stats(struct arca_volume_stats *st, const struct arca_volume_manifest *m)
{
    if (st == NULL)
        return;
    memset(st, 0, sizeof(*st));
    for (size_t i = 0; i < m->count; i++) {
        if (m->entries[i].type == ARCA_VOLUME_FILE) {
            st->files++;
            st->bytes += m->entries[i].size;
        } else {
            st->dirs++;
        }
    }
}

/* Creates entry e below the destination: a directory with dir_mode, or a file with file_mode
 * opened for writing (returned in *outfd). */
static int create_entry(struct vol_dircache *out, const struct arca_volume_entry *e,
                        const char *dst, mode_t dir_mode, mode_t file_mode, int *outfd)
{
    const char *leaf = NULL;
    int pfd = -1;
    *outfd = -1;
    int rc = vol_dircache_parent(out, e->path, e->path_len, &leaf, &pfd);
    if (rc < 0)
        return arca_err_wrap(rc, "%s", dst);
    if (e->type == ARCA_VOLUME_DIR) {
        if (mkdirat(pfd, leaf, dir_mode) != 0)
            return arca_err_set(ARCA_ERR_IO, "%s/%s: mkdir: %s", dst, e->path, strerror(errno));
        return 0;
    }
    *outfd = openat(pfd, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, file_mode);
    if (*outfd < 0)
        return arca_err_set(ARCA_ERR_IO, "%s/%s: create: %s", dst, e->path, strerror(errno));
    return 0;
}

static int close_checked(int fd, const char *dst, const char *path)
{
    if (close(fd) != 0)
        return arca_err_set(ARCA_ERR_IO, "%s/%s: close: %s", dst, path, strerror(errno));
    return 0;
}

/* One pass over a manifest's entries from one tree (in) into a new one (out), encrypting or
 * decrypting each file; *done counts the entries created in out (for removal on failure). */
struct walk {
    struct arca_volume_manifest *m;
    const uint8_t *key;
    bool encrypt;
    int infd;
    const char *in;
    int outfd;
    const char *out;
    struct vol_io *io;
    struct vol_pool *pool;   /* NULL: every file on the calling thread */
    struct file_task *group; /* small files gathered for the next hand-over, or NULL */
    uint64_t pool_files;     /* files and bytes done by workers and already reported */
    uint64_t pool_bytes;
    size_t done;
};

/* One file on any thread, with that thread's io; a large file on the calling thread is split
 * over the pool instead. */
static int walk_file(struct walk *w, struct arca_volume_entry *e, int infd, int outfd,
                     const char *shown, struct vol_io *io)
{
    int rc;
    if (io == w->io && w->pool != NULL)
        rc = vol_file_crypt_split(w->pool, w->encrypt, w->m, w->key, e, infd, outfd, shown, io);
    else if (w->encrypt)
        rc = vol_file_encrypt(w->m, w->key, e, infd, outfd, shown, io);
    else
        rc = vol_file_decrypt(w->m, w->key, e, infd, outfd, shown, io);
    if (w->encrypt)
        return rc;
    if (rc == ARCA_ERR_TAMPERED)
        return arca_err_wrap(rc, "volume %s", w->in);
    if (rc == 0 && fchmod(outfd, e->mode) != 0)
        rc = arca_err_set(ARCA_ERR_IO, "%s/%s: chmod: %s", w->out, e->path, strerror(errno));
    return rc;
}

/* Small files go to a worker in groups (up to this many, or VOL_BATCH_BYTES of plaintext), so
 * a tree of many small files costs one hand-over per group rather than per file. */
#define GROUP_FILES 32

/* A group of whole files for one worker: it owns their descriptors, their shown paths and
 * itself from submission on, and does them in manifest order. */
struct file_item {
    struct arca_volume_entry *e;
    int infd, outfd;
    char *shown; /* owned */
};
struct file_task {
    struct vol_task t; /* first: the pool hands back &t */
    struct walk *w;
    size_t n;
    uint64_t bytes;
    struct file_item item[GROUP_FILES];
};

/* Does (or, with skip, only releases) the files of a group; stops doing at the first failure. */
static int file_task_run(struct vol_task *t, struct vol_io *io, bool skip)
{
    struct file_task *ft = (struct file_task *)t;
    struct walk *w = ft->w;
    int rc = 0;
    for (size_t k = 0; k < ft->n; k++) {
        struct file_item *it = &ft->item[k];
        bool work = !skip && rc == 0;
        if (work)
            rc = walk_file(w, it->e, it->infd, it->outfd, it->shown, io);
        int crc = close_checked(it->outfd, w->out, it->e->path);
        close(it->infd);
        if (work && rc == 0)
            rc = crc;
        if (work && rc == 0)
            vol_pool_file_done(w->pool, it->e->size);
        free(it->shown);
    }
    free(ft);
    return skip ? 0 : rc;
}

/* Submits the walk's open group, or (submit false: the walk failed) releases it. */
static void group_flush(struct walk *w, bool submit)
{
    struct file_task *ft = w->group;
    w->group = NULL;
    if (ft == NULL)
        return;
    if (submit)
        vol_pool_submit(w->pool, &ft->t);
    else
        (void)file_task_run(&ft->t, NULL, true);
}

/* Progress of the files done by workers since the last call, reported from this thread. */
static void pool_progress(struct walk *w)
{
    uint64_t files = 0, bytes = 0;
    vol_pool_progress(w->pool, &files, &bytes);
    if (files == w->pool_files)
        return;
    struct vol_progress *pr = &w->io->pr;
    pr->p.bytes_done += bytes - w->pool_bytes;
    pr->p.files_done += files - w->pool_files - 1;
    w->pool_files = files;
    w->pool_bytes = bytes;
    vol_progress_file(pr); /* counts the last one and reports */
}

/* Adds a file to the open group (small) or splits it over the pool (large, after the groups
 * before it are done). Takes infd and outfd in every case. */
static int walk_file_pooled(struct walk *w, size_t i, int infd, int outfd, struct arca_buf *shown)
{
    struct arca_volume_entry *e = &w->m->entries[i];
    const char *sp = shown_path(shown, w->in, e->path);
    uint64_t n = vol_chunk_count(e->size, w->m->chunk_size);
    if (n > (uint64_t)VOL_SPLIT_BATCHES * w->io->batch) {
        group_flush(w, true);
        int rc = vol_pool_wait(w->pool);
        pool_progress(w);
        if (rc == 0)
            rc = walk_file(w, e, infd, outfd, sp, w->io);
        int crc = close_checked(outfd, w->out, e->path);
        close(infd);
        if (rc == 0)
            rc = crc;
        if (rc == 0)
            vol_progress_file(&w->io->pr);
        return rc;
    }
    char *copy = strdup(sp);
    if (w->group == NULL && copy != NULL) {
        w->group = calloc(1, sizeof(*w->group));
        if (w->group != NULL)
            *w->group = (struct file_task){.t = {.seq = i, .run = file_task_run}, .w = w};
    }
    if (copy == NULL || w->group == NULL) {
        free(copy);
        close(outfd);
        close(infd);
        return arca_err_set(ARCA_ERR_ALLOC, "volume: out of memory");
    }
    struct file_task *ft = w->group;
    ft->item[ft->n++] = (struct file_item){.e = e, .infd = infd, .outfd = outfd, .shown = copy};
    ft->bytes += e->size;
    if (ft->n == GROUP_FILES || ft->bytes >= VOL_BATCH_BYTES) {
        group_flush(w, true);
        pool_progress(w);
    }
    return 0;
}

static int walk_entries(struct walk *w)
{
    struct vol_dircache in, out;
    vol_dircache_init(&in, w->infd);
    vol_dircache_init(&out, w->outfd);
    struct arca_buf shown;
    arca_buf_init(&shown, 0);
    int rc = 0;
    for (size_t i = 0; i < w->m->count && rc == 0; i++) {
        struct arca_volume_entry *e = &w->m->entries[i];
        int infd = -1, outfd = -1;
        if (e->type == ARCA_VOLUME_FILE) {
            struct stat st;
            infd = vol_open_file(&in, e->path, e->path_len, w->in, &st);
            if (infd < 0) {
                /* A volume's file vanishing or changing kind after the check is tampering. */
                rc = !w->encrypt && (infd == ARCA_ERR_NOT_FOUND || infd == ARCA_ERR_FORMAT)
                         ? arca_err_wrap(ARCA_ERR_TAMPERED, "volume %s", w->in)
                         : infd;
                break;
            }
            if (w->encrypt) {
                e->size = (uint64_t)st.st_size;
                e->mode = st.st_mode & 0777;
            }
        }
        /* Decrypted directories stay 0700 until the end, so they can be filled whatever
         * their mode; decrypted files are private until complete. */
        rc = create_entry(&out, e, w->out, w->encrypt ? 0755 : 0700, w->encrypt ? 0644 : 0600,
                          &outfd);
        if (rc == 0)
            w->done = i + 1;
        if (rc == 0 && e->type == ARCA_VOLUME_FILE && w->pool != NULL) {
            rc = walk_file_pooled(w, i, infd, outfd, &shown);
            infd = outfd = -1;
            if (rc == 0 && vol_pool_failed(w->pool))
                rc = vol_pool_wait(w->pool);
        } else if (rc == 0 && e->type == ARCA_VOLUME_FILE) {
            rc = walk_file(w, e, infd, outfd, shown_path(&shown, w->in, e->path), w->io);
            int crc = close_checked(outfd, w->out, e->path);
            outfd = -1;
            if (rc == 0)
                rc = crc;
            if (rc == 0)
                vol_progress_file(&w->io->pr);
        }
        if (outfd >= 0)
            close(outfd);
        if (infd >= 0)
            close(infd);
    }
    if (w->pool != NULL) {
        /* Every queued file finishes (or is released) before the caller cleans up. */
        group_flush(w, rc == 0);
        if (rc == 0)
            rc = vol_pool_wait(w->pool);
        else
            vol_pool_drain(w->pool);
        if (rc == 0)
            pool_progress(w);
    }
    arca_buf_free(&shown);
    vol_dircache_close(&in);
    vol_dircache_close(&out);
    return rc;
}

static int walk_run(struct arca_volume_manifest *m, const uint8_t *key, bool encrypt, int infd,
                    const char *in, int outfd, const char *out, struct vol_io *io, size_t *done)
{
    struct vol_pool *pool = NULL;
    unsigned jobs = vol_jobs(io->pr.opts);
    if (jobs > 1)
        ARCA_TRY(vol_pool_new(jobs, m->chunk_size, &pool));
    struct walk w = {.pool = pool,
                     .m = m,
                     .key = key,
                     .encrypt = encrypt,
                     .infd = infd,
                     .in = in,
                     .outfd = outfd,
                     .out = out,
                     .io = io};
    int rc = walk_entries(&w);
    *done = w.done;
    vol_pool_free(pool);
    return rc;
}

/* ---- encrypt --------------------------------------------------------------------------------- */

static int write_manifest(int dstfd, const char *dst, const struct arca_volume_manifest *m)
{
    struct arca_buf b;
    arca_buf_init(&b, ARCA_VOLUME_MANIFEST_MAX);
    int rc = arca_volume_manifest_encode(m, &b);
    if (rc < 0) {
        arca_buf_free(&b);
        return rc;
    }
    /* The manifest is what makes the files a volume: the files reach the disk first (one
     * syncfs for the whole tree instead of an fsync per file), then the manifest. */
    int fd = -1;
    if (syncfs(dstfd) != 0)
        rc = arca_err_set(ARCA_ERR_IO, "%s: sync: %s", dst, strerror(errno));
    if (rc == 0)
        fd = openat(dstfd, ARCA_VOLUME_MANIFEST_NAME,
                    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (rc == 0 && fd < 0)
        rc = arca_err_set(ARCA_ERR_IO, "%s/%s: create: %s", dst, ARCA_VOLUME_MANIFEST_NAME,
                          strerror(errno));
    if (rc == 0)
        rc = vol_write_full(fd, b.data, b.len, ARCA_VOLUME_MANIFEST_NAME);
    if (rc == 0 && fsync(fd) != 0)
        rc = arca_err_set(ARCA_ERR_IO, "%s: sync: %s", dst, strerror(errno));
    if (fd >= 0 && close(fd) != 0 && rc == 0)
        rc = arca_err_set(ARCA_ERR_IO, "%s/%s: close: %s", dst, ARCA_VOLUME_MANIFEST_NAME,
                          strerror(errno));
    if (rc == 0 && fsync(dstfd) != 0)
        rc = arca_err_set(ARCA_ERR_IO, "%s: sync: %s", dst, strerror(errno));
    arca_buf_free(&b);
    return rc;
}

int arca_volume_encrypt_tree(const char *src_dir, const char *dst_dir, const uint8_t *key,
                             const struct arca_volume_opts *opts,
                             uint8_t out_key[ARCA_VOLUME_KEY_LEN],
                             uint8_t out_tag[ARCA_VOLUME_TAG_LEN], struct arca_volume_stats *stats)
{
    ARCA_ENSURE_REF(src_dir);
    ARCA_ENSURE_REF(dst_dir);
    ARCA_ENSURE_REF(out_key);
    ARCA_ENSURE_REF(out_tag);
    uint32_t chunk =
        opts != NULL && opts->chunk_size != 0 ? opts->chunk_size : ARCA_VOLUME_CHUNK_DEFAULT;
    ARCA_ENSURE(chunk >= ARCA_VOLUME_CHUNK_MIN && chunk <= ARCA_VOLUME_CHUNK_MAX &&
                    (chunk & (chunk - 1)) == 0,
                ARCA_ERR_INVALID_ARG, "volume: chunk size %u is not a power of two in %u..%u",
                chunk, ARCA_VOLUME_CHUNK_MIN, ARCA_VOLUME_CHUNK_MAX);
    uint8_t vkey[ARCA_VOLUME_KEY_LEN];
    if (key != NULL)
        memcpy(vkey, key, sizeof(vkey));
    else
        ARCA_TRY(arca_random(vkey, sizeof(vkey)));

    int rc = 0, srcfd = -1, dstfd = -1;
    bool created = false;
    size_t done = 0;
    struct arca_volume_manifest *m = NULL;
    struct vol_io io;
    memset(&io, 0, sizeof(io));
    struct stat sst, dst_st;
    srcfd = open(src_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ARCA_GUARD_ENSURE(rc, srcfd >= 0 && fstat(srcfd, &sst) == 0, out, ARCA_ERR_IO, "source %s: %s",
                      src_dir, strerror(errno));
    dstfd = vol_open_empty_dir(dst_dir, "destination", 0755, &created);
    ARCA_GUARD(rc, dstfd, out);
    ARCA_GUARD_ENSURE(rc, fstat(dstfd, &dst_st) == 0, out, ARCA_ERR_IO, "%s: %s", dst_dir,
                      strerror(errno));
    ARCA_GUARD_ENSURE(rc, sst.st_dev != dst_st.st_dev || sst.st_ino != dst_st.st_ino, out,
                      ARCA_ERR_INVALID_ARG, "source and destination are the same directory");
    ARCA_GUARD(rc, arca_volume_manifest_new(chunk, sst.st_mode & 0777, &m), out);
    ARCA_GUARD(rc, vol_scan(srcfd, src_dir, false, dst_st.st_dev, dst_st.st_ino, m), out);
    arca_volume_manifest_sort(m);
    /* File keys hang off the volume id, so it must exist before the first file. */
    ARCA_GUARD(rc, arca_random(m->volume_id, sizeof(m->volume_id)), out);
    ARCA_GUARD(rc, vol_io_init(&io, chunk, opts), out);
    totals(&io, m);
    ARCA_GUARD(rc, walk_run(m, vkey, true, srcfd, src_dir, dstfd, dst_dir, &io, &done), out);
    ARCA_GUARD(rc, arca_volume_manifest_seal(m, vkey), out);
    ARCA_GUARD(rc, write_manifest(dstfd, dst_dir, m), out);
    memcpy(out_key, vkey, sizeof(vkey));
    memcpy(out_tag, m->root_tag, ARCA_VOLUME_TAG_LEN);
    fill_stats(stats, m);
out:
    if (rc < 0 && dstfd >= 0 && m != NULL)
        remove_created(dstfd, m, done, true);
    if (rc < 0 && created)
        rmdir(dst_dir);
    arca_wipe(vkey, sizeof(vkey));
    vol_io_free(&io);
    arca_volume_manifest_free(m);
    if (srcfd >= 0)
        close(srcfd);
    if (dstfd >= 0)
        close(dstfd);
    return rc;
}

/* ---- verify ---------------------------------------------------------------------------------- */

static int load_manifest(int fd, const char *dir, struct arca_volume_manifest **out)
{
    int mfd = openat(fd, ARCA_VOLUME_MANIFEST_NAME, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (mfd < 0) {
        int e = errno;
        return arca_err_set(e == ENOENT ? ARCA_ERR_NOT_FOUND : ARCA_ERR_IO,
                            "volume %s: manifest %s: %s", dir, ARCA_VOLUME_MANIFEST_NAME,
                            e == ENOENT  ? "missing (not a volume?)"
                            : e == ELOOP ? "a symbolic link"
                                         : strerror(e));
    }
    struct stat st;
    struct arca_buf b;
    arca_buf_init(&b, ARCA_VOLUME_MANIFEST_MAX);
    int rc = 0;
    if (fstat(mfd, &st) != 0 || !S_ISREG(st.st_mode))
        rc = arca_err_set(ARCA_ERR_TAMPERED, "volume %s: manifest %s: not a regular file", dir,
                          ARCA_VOLUME_MANIFEST_NAME);
    if (rc == 0)
        rc = arca_fd_read_all(mfd, ARCA_VOLUME_MANIFEST_NAME, &b);
    close(mfd);
    if (rc == 0) {
        rc = arca_volume_manifest_parse(b.data, b.len, out);
        if (rc < 0)
            rc = arca_err_wrap(rc, "volume %s", dir);
    }
    arca_buf_free(&b);
    return rc;
}

/* The tree on disk must hold exactly the manifest's entries, files at their ciphertext size. */
static int check_tree(int fd, const char *dir, const struct arca_volume_manifest *m)
{
    struct arca_volume_manifest *t = NULL;
    ARCA_TRY(arca_volume_manifest_new(m->chunk_size, 0, &t));
    int rc = vol_scan(fd, dir, true, 0, 0, t);
    if (rc == ARCA_ERR_UNSUPPORTED || rc == ARCA_ERR_FORMAT)
        rc = arca_err_wrap(ARCA_ERR_TAMPERED, "volume %s", dir);
    if (rc < 0)
        goto out;
    arca_volume_manifest_sort(t);
    size_t i = 0, j = 0;
    while (rc == 0 && (i < m->count || j < t->count)) {
        const struct arca_volume_entry *a = i < m->count ? &m->entries[i] : NULL;
        const struct arca_volume_entry *b = j < t->count ? &t->entries[j] : NULL;
        int c = a == NULL   ? 1
                : b == NULL ? -1
                            : arca_volume_path_cmp(a->path, a->path_len, b->path, b->path_len);
        if (c < 0) {
            rc = arca_err_set(ARCA_ERR_TAMPERED,
                              "volume %s: %s '%s' of the manifest is missing (removed or renamed)",
                              dir, a->type == ARCA_VOLUME_DIR ? "directory" : "file", a->path);
        } else if (c > 0) {
            rc = arca_err_set(ARCA_ERR_TAMPERED,
                              "volume %s: %s '%s' is not in the manifest (added or renamed)", dir,
                              b->type == ARCA_VOLUME_DIR ? "directory" : "file", b->path);
        } else if (a->type != b->type) {
            rc = arca_err_set(ARCA_ERR_TAMPERED,
                              "volume %s: '%s' is a %s on disk but a %s in the manifest", dir,
                              a->path, b->type == ARCA_VOLUME_DIR ? "directory" : "file",
                              a->type == ARCA_VOLUME_DIR ? "directory" : "file");
        } else if (a->type == ARCA_VOLUME_FILE &&
                   b->size != arca_volume_ciphertext_size(a->size, m->chunk_size)) {
            rc = arca_err_set(
                ARCA_ERR_TAMPERED,
                "volume %s: file '%s' has %llu bytes, the manifest needs %llu "
                "(truncated or extended)",
                dir, a->path, (unsigned long long)b->size,
                (unsigned long long)arca_volume_ciphertext_size(a->size, m->chunk_size));
        }
        if (c <= 0)
            i++;
        if (c >= 0)
            j++;
    }
out:
    arca_volume_manifest_free(t);
    return rc;
}

/* Opens dir, parses its manifest and authenticates it under key (no tag or tree check yet);
 * *fdout and *mout go to the caller. */
static int open_authenticated(const char *dir, const uint8_t key[32], int *fdout,
                              struct arca_volume_manifest **mout)
{
    ARCA_ENSURE_REF(dir);
    ARCA_ENSURE_REF(key);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return arca_err_set(errno == ENOENT ? ARCA_ERR_NOT_FOUND : ARCA_ERR_IO, "volume %s: %s",
                            dir, strerror(errno));
    struct arca_volume_manifest *m = NULL;
    int rc = load_manifest(fd, dir, &m);
    if (rc == 0) {
        rc = arca_volume_manifest_authenticate(m, key);
        if (rc < 0)
            rc = arca_err_wrap(rc, "volume %s", dir);
    }
    if (rc < 0) {
        arca_volume_manifest_free(m);
        close(fd);
        return rc;
    }
    *fdout = fd;
    *mout = m;
    return 0;
}

/* Opens dir and checks it as arca_volume_verify documents; *fdout and *mout go to the caller. */
static int open_verified(const char *dir, const uint8_t key[32], const uint8_t tag[16], int *fdout,
                         struct arca_volume_manifest **mout)
{
    ARCA_ENSURE_REF(tag);
    int fd = -1;
    struct arca_volume_manifest *m = NULL;
    ARCA_TRY(open_authenticated(dir, key, &fd, &m));
    int rc = 0;
    if (!arca_memeq(m->root_tag, tag, ARCA_VOLUME_TAG_LEN)) {
        char have[2 * ARCA_VOLUME_TAG_LEN + 1], want[2 * ARCA_VOLUME_TAG_LEN + 1];
        arca_hex_fmt(have, m->root_tag, ARCA_VOLUME_TAG_LEN);
        arca_hex_fmt(want, tag, ARCA_VOLUME_TAG_LEN);
        rc = arca_err_set(ARCA_ERR_TAMPERED,
                          "volume %s: root tag %s is not the expected %s (another or an older "
                          "version of the volume)",
                          dir, have, want);
    }
    if (rc == 0)
        rc = check_tree(fd, dir, m);
    if (rc < 0) {
        arca_volume_manifest_free(m);
        close(fd);
        return rc;
    }
    *fdout = fd;
    *mout = m;
    return 0;
}

int arca_volume_verify(const char *dir, const uint8_t key[ARCA_VOLUME_KEY_LEN],
                       const uint8_t expected_tag[ARCA_VOLUME_TAG_LEN])
{
    int fd = -1;
    struct arca_volume_manifest *m = NULL;
    ARCA_TRY(open_verified(dir, key, expected_tag, &fd, &m));
    arca_volume_manifest_free(m);
    close(fd);
    return 0;
}

int arca_volume_read_tag(const char *dir, const uint8_t key[ARCA_VOLUME_KEY_LEN],
                         uint8_t out_tag[ARCA_VOLUME_TAG_LEN])
{
    ARCA_ENSURE_REF(out_tag);
    int fd = -1;
    struct arca_volume_manifest *m = NULL;
    ARCA_TRY(open_authenticated(dir, key, &fd, &m));
    memcpy(out_tag, m->root_tag, ARCA_VOLUME_TAG_LEN);
    arca_volume_manifest_free(m);
    close(fd);
    return 0;
}

/* ---- decrypt --------------------------------------------------------------------------------- */

/* Directories were made 0700 to be filled; now they get their own modes, deepest first. */
static int set_dir_modes(const struct arca_volume_manifest *m, int dstfd, const char *dst)
{
    struct vol_dircache dc;
    vol_dircache_init(&dc, dstfd);
    int rc = 0;
    for (size_t i = m->count; rc == 0 && i-- > 0;) {
        const struct arca_volume_entry *e = &m->entries[i];
        if (e->type != ARCA_VOLUME_DIR)
            continue;
        const char *leaf = NULL;
        int pfd = -1;
        rc = vol_dircache_parent(&dc, e->path, e->path_len, &leaf, &pfd);
        if (rc < 0)
            break;
        int fd = openat(pfd, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || fchmod(fd, e->mode) != 0)
            rc = arca_err_set(ARCA_ERR_IO, "%s/%s: chmod: %s", dst, e->path, strerror(errno));
        if (fd >= 0)
            close(fd);
    }
    vol_dircache_close(&dc);
    if (rc == 0 && fchmod(dstfd, m->root_mode) != 0)
        rc = arca_err_set(ARCA_ERR_IO, "%s: chmod: %s", dst, strerror(errno));
    return rc;
}

int arca_volume_decrypt_tree(const char *dir, const uint8_t key[ARCA_VOLUME_KEY_LEN],
                             const uint8_t tag[ARCA_VOLUME_TAG_LEN], const char *dst_dir,
                             const struct arca_volume_opts *opts, struct arca_volume_stats *stats)
{
    ARCA_ENSURE_REF(dst_dir);
    int volfd = -1, dstfd = -1, rc = 0;
    bool created = false;
    size_t done = 0;
    struct arca_volume_manifest *m = NULL;
    struct vol_io io;
    memset(&io, 0, sizeof(io));
    ARCA_TRY(open_verified(dir, key, tag, &volfd, &m));
    dstfd = vol_open_empty_dir(dst_dir, "destination", 0700, &created);
    ARCA_GUARD(rc, dstfd, out);
    struct stat vst;
    ARCA_GUARD_ENSURE(rc, fstat(volfd, &vst) == 0, out, ARCA_ERR_IO, "%s: %s", dir,
                      strerror(errno));
    /* Plaintext written into the volume would be exposed there and spoil the volume. */
    ARCA_GUARD(rc, vol_dir_within(dstfd, vst.st_dev, vst.st_ino), out);
    ARCA_GUARD_ENSURE(rc, rc == 0, out, ARCA_ERR_INVALID_ARG,
                      "destination %s lies inside the volume %s", dst_dir, dir);
    ARCA_GUARD(rc, vol_io_init(&io, m->chunk_size, opts), out);
    totals(&io, m);
    ARCA_GUARD(rc, walk_run(m, key, false, volfd, dir, dstfd, dst_dir, &io, &done), out);
    ARCA_GUARD(rc, set_dir_modes(m, dstfd, dst_dir), out);
    fill_stats(stats, m);
out:
    if (rc < 0 && dstfd >= 0)
        remove_created(dstfd, m, done, false);
    if (rc < 0 && created)
        rmdir(dst_dir);
    vol_io_free(&io);
    arca_volume_manifest_free(m);
    if (volfd >= 0)
        close(volfd);
    if (dstfd >= 0)
        close(dstfd);
    return rc;
}

/* ---- show ------------------------------------------------------------------------------------ */

int arca_volume_show(const char *dir, const uint8_t *key, const uint8_t *expected_tag,
                     struct arca_volume_manifest **out)
{
    ARCA_ENSURE_REF(dir);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE((key == NULL) == (expected_tag == NULL), ARCA_ERR_INVALID_ARG,
                "volume show: give both key and tag, or neither");
    int fd = -1;
    struct arca_volume_manifest *m = NULL;
    if (key != NULL) {
        ARCA_TRY(open_verified(dir, key, expected_tag, &fd, &m));
    } else {
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            return arca_err_set(errno == ENOENT ? ARCA_ERR_NOT_FOUND : ARCA_ERR_IO, "volume %s: %s",
                                dir, strerror(errno));
        int rc = load_manifest(fd, dir, &m);
        if (rc < 0) {
            close(fd);
            return rc;
        }
    }
    close(fd);
    *out = m;
    return 0;
}
