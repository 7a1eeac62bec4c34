/*
 * Internals of the volume module shared between its files (not for other modules).
 *
 * All file access goes through descriptors: a tree is entered from one directory descriptor
 * and every component below it is opened with openat(O_NOFOLLOW), so no symbolic link and no
 * rename of a path prefix between check and use can redirect a read or a write (no TOCTOU).
 */
#ifndef ARCA_VOLUME_INTERNAL_H
#define ARCA_VOLUME_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "base/buf.h"
#include "crypto/crypto.h"

#include "volume/manifest.h"
#include "volume/volume.h"

/* Reads up to n bytes (retrying short reads and EINTR) into p; *got = bytes read (< n only at
 * end of file). ARCA_ERR_IO naming what on failure. */
int vol_read_full(int fd, void *p, size_t n, size_t *got, const char *what);
/* Writes all n bytes. ARCA_ERR_IO naming what on failure. */
int vol_write_full(int fd, const void *p, size_t n, const char *what);
/* The same over cnt buffers in one system call where the kernel allows; iov is consumed
 * (its entries are advanced past what was transferred). */
int vol_readv_full(int fd, struct iovec *iov, int cnt, size_t *got, const char *what);
int vol_writev_full(int fd, struct iovec *iov, int cnt, const char *what);
/* The same at offset off (pread/pwrite: no shared file position, so threads can share fd). */
int vol_preadv_full(int fd, struct iovec *iov, int cnt, off_t off, size_t *got, const char *what);
int vol_pwritev_full(int fd, struct iovec *iov, int cnt, off_t off, const char *what);

/* Opens the directory dir (following symlinks in the given path: the caller named it), or
 * creates it with mode (less the umask) if missing; refuses a non-empty directory. *created
 * says whether it made it. Returns the descriptor or a negative code. */
int vol_open_empty_dir(const char *dir, const char *role, mode_t mode, bool *created);

/* 1 if the directory fd is (dev, ino) or lies below it, 0 if not, negative on error: walks
 * ".." up to the file-system root. */
int vol_dir_within(int fd, dev_t dev, ino_t ino);

/*
 * Opens the parent directory of a manifest path below rootfd, one component at a time with
 * O_NOFOLLOW. *leaf points into path at the last component. The descriptor belongs to the
 * cache (reused for siblings, closed by vol_dircache_close); the caller never closes it.
 */
struct vol_dircache {
    int rootfd; /* borrowed */
    int fd;     /* the cached parent, -1 if none */
    char *path; /* its path (owned) */
    size_t len;
};
void vol_dircache_init(struct vol_dircache *dc, int rootfd);
int vol_dircache_parent(struct vol_dircache *dc, const char *path, size_t len, const char **leaf,
                        int *dirfd);
void vol_dircache_close(struct vol_dircache *dc);

/*
 * Lists the tree below rootfd into m (entries unsorted; sizes from lstat; files' modes from
 * lstat too): directories and regular files only. A symlink or special file is refused naming
 * it (shown as `shown/path`). With skip_manifest the top-level volume.fspf is left out. A
 * directory whose device and inode equal (skip_dev, skip_ino) is refused as lying inside the
 * tree (pass 0, 0 to disable).
 */
int vol_scan(int rootfd, const char *shown, bool skip_manifest, dev_t skip_dev, ino_t skip_ino,
             struct arca_volume_manifest *m);

/* Opens a regular file below rootfd (O_NOFOLLOW, non-blocking so a FIFO swapped in cannot
 * hang us) and checks that it is one; *st gets its fstat. Returns the fd or a negative code. */
int vol_open_file(struct vol_dircache *dc, const char *path, size_t len, const char *shown,
                  struct stat *st);

/* Progress bookkeeping shared by the tree walks. */
struct vol_progress {
    const struct arca_volume_opts *opts;
    struct arca_volume_progress p;
    uint64_t last_report;
};
void vol_progress_bytes(struct vol_progress *pr, uint64_t n);
void vol_progress_file(struct vol_progress *pr);

/* Chunks move between file and memory in batches of up to this many bytes of plaintext, so a
 * large file costs one read and one write system call per batch rather than per chunk. */
#define VOL_BATCH_BYTES ((size_t)1 << 20)
#define VOL_BATCH_MAX (VOL_BATCH_BYTES / ARCA_VOLUME_CHUNK_MIN)

#define VOL_JOBS_MAX 16
struct vol_pool;

/* Buffers, cipher context and progress for a walk over many files, allocated once. buf holds
 * a batch of chunk slots of chunk_size + tag bytes each, sealed and opened in place; it is
 * secret (plaintext passes through it) and wiped on free. aead keeps the current file's key
 * schedule until the next file or vol_io_free; kdf and hash are kept so that a file costs
 * no algorithm fetch (what dominated small files). */
struct vol_io {
    struct arca_buf buf;
    size_t chunk;
    size_t batch; /* chunks per batch, 1 .. VOL_BATCH_MAX */
    struct arca_aead_ctx *aead;
    struct arca_hkdf_ctx *kdf;  /* file keys: fetched once per walk, not per file */
    struct arca_hash_ctx *hash; /* file tags: restarted per file */
    struct iovec iov[VOL_BATCH_MAX];
    struct vol_progress pr;
    struct vol_pool *pool; /* a worker's pool; NULL on the calling thread */
    uint64_t key_gen;      /* which large file's key aead holds (vol_pool_gen), 0 if none */
};
int vol_io_init(struct vol_io *io, uint32_t chunk_size, const struct arca_volume_opts *opts);
void vol_io_free(struct vol_io *io);

/*
 * Encrypts one file: reads e->size bytes from in (fails if the file turns out shorter or
 * longer), writes the chunks to out, sets e->salt (fresh) and e->file_tag. Names the file as
 * shown/path in errors.
 */
int vol_file_encrypt(const struct arca_volume_manifest *m, const uint8_t key[32],
                     struct arca_volume_entry *e, int in, int out, const char *shown,
                     struct vol_io *io);
/* Decrypts and authenticates one file from in, writing plaintext to out (or nowhere if out is
 * -1): every chunk, the end of file and the file tag must match. */
int vol_file_decrypt(const struct arca_volume_manifest *m, const uint8_t key[32],
                     const struct arca_volume_entry *e, int in, int out, const char *shown,
                     struct vol_io *io);

/*
 * The worker pool (volume_pool.c). A task is queued by the walking thread and run once on a
 * worker with that worker's vol_io; with skip set (an earlier task failed) it only releases
 * what it holds. run owns t from then on (it may free it). seq orders failures: the lowest
 * failing seq is the one vol_pool_wait reports.
 */
struct vol_task {
    struct vol_task *next;
    uint64_t seq;
    int (*run)(struct vol_task *t, struct vol_io *io, bool skip);
};
/* Worker threads for opts: opts->jobs, or the online CPUs if 0; 1 .. VOL_JOBS_MAX. */
unsigned vol_jobs(const struct arca_volume_opts *opts);
int vol_pool_new(unsigned jobs, uint32_t chunk_size, struct vol_pool **out);
/* Stops and joins the workers (after their queued tasks ran), wipes their buffers. */
void vol_pool_free(struct vol_pool *p);
unsigned vol_pool_threads(const struct vol_pool *p);
/* Blocks while the queue is full. */
void vol_pool_submit(struct vol_pool *p, struct vol_task *t);
/* Waits until every queued task has run; the first failure (by seq) with its detail, or 0. A
 * failure is sticky: later tasks are skipped and every later wait reports it again. */
int vol_pool_wait(struct vol_pool *p);
/* Waits the same way but leaves this thread's error detail alone (a walk already failing). */
void vol_pool_drain(struct vol_pool *p);
bool vol_pool_failed(struct vol_pool *p);
/* A fresh nonzero number naming one large file's key for the workers. */
uint64_t vol_pool_gen(struct vol_pool *p);
/* Progress counted by workers, read by the walking thread. */
void vol_pool_file_done(struct vol_pool *p, uint64_t bytes);
void vol_pool_progress(struct vol_pool *p, uint64_t *files, uint64_t *bytes);

/* A file of more than this many batches is split across the pool; smaller ones go whole. */
#define VOL_SPLIT_BATCHES 2
/*
 * vol_file_encrypt / vol_file_decrypt for one large file with its batches spread over pool:
 * the same output and the same errors; chunk tags are hashed in order by the caller in
 * windows of a few batches per worker. io is the calling thread's.
 */
int vol_file_crypt_split(struct vol_pool *pool, bool encrypt, const struct arca_volume_manifest *m,
                         const uint8_t key[32], struct arca_volume_entry *e, int in, int out,
                         const char *shown, struct vol_io *io);
/* Chunks per batch for chunk_size (1 .. VOL_BATCH_MAX). */
size_t vol_batch_chunks(uint32_t chunk_size);
uint64_t vol_chunk_count(uint64_t size, uint32_t chunk);

#endif
