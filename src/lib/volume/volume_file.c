/*
 * One file of a volume: AES-256-GCM chunks under the file's own key. Chunk i of n is sealed
 * with nonce = u64be(i) || u32be(i == n-1 ? 1 : 0) and associated data u64be(file size), so a
 * chunk only opens at its own position, in a file of its own size, and a file cut at a chunk
 * boundary lacks its last-flagged chunk. The file tag hashes the chunk tags in order.
 */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "crypto/crypto.h"
#include "volume/volume_internal.h"

static const char file_tag_label[] = "arca-volume-v1 file-tag";

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static void chunk_nonce(uint8_t nonce[ARCA_AEAD_NONCE_LEN], uint64_t index, bool last)
{
    put64(nonce, index);
    nonce[8] = nonce[9] = nonce[10] = 0;
    nonce[11] = last ? 1 : 0;
}

uint64_t vol_chunk_count(uint64_t size, uint32_t chunk)
{
    return size == 0 ? 1 : (size + chunk - 1) / chunk;
}

size_t vol_batch_chunks(uint32_t chunk_size)
{
    size_t b = VOL_BATCH_BYTES / chunk_size;
    return b < 1 ? 1 : b > VOL_BATCH_MAX ? VOL_BATCH_MAX : b;
}

/* Plaintext length of chunk i of n. */
static size_t chunk_len(const struct arca_volume_manifest *m, const struct arca_volume_entry *e,
                        uint64_t i, uint64_t n)
{
    return i + 1 < n ? m->chunk_size : (size_t)(e->size - i * m->chunk_size);
}

/* Slot j of the batch buffer: a chunk's plaintext or ciphertext, then its tag. Only a file's
 * last chunk is short and it ends a batch, so the sealed chunks of a batch are contiguous. */
static uint8_t *slot(struct vol_io *io, size_t j)
{
    return io->buf.data + j * (io->chunk + ARCA_AEAD_TAG_LEN);
}

int vol_io_init(struct vol_io *io, uint32_t chunk_size, const struct arca_volume_opts *opts)
{
    memset(io, 0, sizeof(*io));
    io->pr.opts = opts;
    io->chunk = chunk_size;
    io->batch = vol_batch_chunks(chunk_size);
    size_t size = io->batch * ((size_t)chunk_size + ARCA_AEAD_TAG_LEN);
    arca_buf_init_secret(&io->buf, size);
    ARCA_TRY(arca_buf_reserve(&io->buf, size));
    ARCA_TRY(arca_aead_ctx_new(&io->aead));
    ARCA_TRY(arca_hkdf_ctx_new(ARCA_SHA256, &io->kdf));
    return arca_hash_ctx_new(ARCA_SHA256, &io->hash);
}

void vol_io_free(struct vol_io *io)
{
    arca_buf_free(&io->buf);
    arca_aead_ctx_free(io->aead);
    arca_hkdf_ctx_free(io->kdf);
    arca_hash_ctx_free(io->hash);
    io->aead = NULL;
    io->kdf = NULL;
    io->hash = NULL;
}

/* Per-file state of both directions: the associated data and the running tag. The file key
 * goes into io->aead and is wiped here at once. */
struct fcrypt {
    uint8_t aad[8];
    struct arca_hash_ctx *h; /* borrowed from the vol_io */
};

static int fcrypt_init(struct fcrypt *f, const struct arca_volume_manifest *m,
                       const struct arca_volume_entry *e, const uint8_t key[32], struct vol_io *io)
{
    memset(f, 0, sizeof(*f));
    put64(f->aad, e->size);
    uint8_t fkey[ARCA_AEAD_KEY_LEN];
    int rc = arca_volume_file_key(io->kdf, m, e, key, fkey);
    io->key_gen = 0;
    if (rc == 0)
        rc = arca_aead_ctx_set_key(io->aead, fkey);
    arca_wipe(fkey, sizeof(fkey));
    ARCA_TRY(rc);
    f->h = io->hash;
    ARCA_TRY(arca_hash_ctx_reset(f->h));
    return arca_hash_ctx_update(f->h, file_tag_label, sizeof(file_tag_label) - 1);
}

/* After the last chunk the file must end: one more byte means it grew or was extended. */
static int expect_eof(int fd, off_t off, const char *shown, const char *path, const char *why)
{
    uint8_t extra;
    size_t got = 0;
    struct iovec iov = {.iov_base = &extra, .iov_len = 1};
    ARCA_TRY(vol_preadv_full(fd, &iov, 1, off, &got, shown));
    ARCA_ENSURE(got == 0, ARCA_ERR_TAMPERED, "file '%s': %s", path, why);
    return 0;
}

/* Number of chunks in the batch starting at chunk i of n. */
static size_t batch_len(const struct vol_io *io, uint64_t i, uint64_t n)
{
    return n - i < io->batch ? (size_t)(n - i) : io->batch;
}

/* Where a batch's chunks lie: at the file positions (one thread, read/write in order), or at
 * their own offsets (pread/pwrite, for batches on several threads). */
static off_t plain_off(const struct arca_volume_manifest *m, uint64_t i, bool at)
{
    return at ? (off_t)(i * m->chunk_size) : -1;
}

static off_t sealed_off(const struct arca_volume_manifest *m, uint64_t i, bool at)
{
    return at ? (off_t)(i * ((uint64_t)m->chunk_size + ARCA_AEAD_TAG_LEN)) : -1;
}

/* Encrypts chunks i .. i+b-1: one readv into the slots, seals in place, one write. Their tags
 * go to tags (b * ARCA_VOLUME_CHUNK_TAG_LEN bytes), for the file tag. */
static int encrypt_batch(const struct arca_volume_manifest *m, const struct arca_volume_entry *e,
                         const uint8_t aad[8], uint64_t i, uint64_t n, int in, int out, bool at,
                         uint8_t *tags, const char *shown, struct vol_io *io)
{
    size_t b = batch_len(io, i, n), total = 0, got = 0;
    for (size_t j = 0; j < b; j++) {
        io->iov[j].iov_base = slot(io, j);
        io->iov[j].iov_len = chunk_len(m, e, i + j, n);
        total += io->iov[j].iov_len;
    }
    ARCA_TRY(vol_preadv_full(in, io->iov, (int)b, plain_off(m, i, at), &got, shown));
    ARCA_ENSURE(got == total, ARCA_ERR_IO, "%s: shrank while being encrypted", shown);
    for (size_t j = 0; j < b; j++) {
        uint8_t nonce[ARCA_AEAD_NONCE_LEN];
        size_t len = chunk_len(m, e, i + j, n);
        uint8_t *p = slot(io, j);
        chunk_nonce(nonce, i + j, i + j + 1 == n);
        ARCA_TRY(arca_aead_ctx_seal(io->aead, nonce, aad, 8, p, len, p, p + len));
        memcpy(tags + j * ARCA_VOLUME_CHUNK_TAG_LEN, p + len, ARCA_VOLUME_CHUNK_TAG_LEN);
    }
    struct iovec all = {.iov_base = io->buf.data, .iov_len = total + b * ARCA_AEAD_TAG_LEN};
    ARCA_TRY(vol_pwritev_full(out, &all, 1, sealed_off(m, i, at), shown));
    vol_progress_bytes(&io->pr, total);
    return 0;
}

static int decrypt_batch(const struct arca_volume_manifest *m, const struct arca_volume_entry *e,
                         const uint8_t aad[8], uint64_t i, uint64_t n, int in, int out, bool at,
                         uint8_t *tags, const char *shown, struct vol_io *io);

/* Every chunk of a file on this thread, batch by batch, hashing the tags in order. */
static int crypt_batches(bool encrypt, const struct arca_volume_manifest *m,
                         const struct arca_volume_entry *e, struct fcrypt *f, int in, int out,
                         const char *shown, struct vol_io *io)
{
    uint64_t n = vol_chunk_count(e->size, m->chunk_size);
    uint8_t tags[VOL_BATCH_MAX * ARCA_VOLUME_CHUNK_TAG_LEN];
    for (uint64_t i = 0; i < n; i += io->batch) {
        ARCA_TRY(encrypt ? encrypt_batch(m, e, f->aad, i, n, in, out, false, tags, shown, io)
                         : decrypt_batch(m, e, f->aad, i, n, in, out, false, tags, shown, io));
        ARCA_TRY(arca_hash_ctx_update(f->h, tags, batch_len(io, i, n) * ARCA_VOLUME_CHUNK_TAG_LEN));
    }
    return 0;
}

int vol_file_encrypt(const struct arca_volume_manifest *m, const uint8_t key[32],
                     struct arca_volume_entry *e, int in, int out, const char *shown,
                     struct vol_io *io)
{
    ARCA_TRY(arca_random(e->salt, sizeof(e->salt)));
    struct fcrypt f;
    int rc = fcrypt_init(&f, m, e, key, io);
    if (rc == 0)
        rc = crypt_batches(true, m, e, &f, in, out, shown, io);
    if (rc == 0) {
        rc = expect_eof(in, -1, shown, e->path, "grew while being encrypted");
        if (rc == ARCA_ERR_TAMPERED)
            rc = arca_err_set(ARCA_ERR_IO, "%s: grew while being encrypted", shown);
    }
    if (rc == 0)
        rc = arca_hash_ctx_final(f.h, e->file_tag);
    return rc;
}

/* Decrypts chunks i .. i+b-1: one read of the sealed chunks, opens each in place (in order, so
 * a damaged chunk is named as before), then one writev of the plaintext; tags as above. */
static int decrypt_batch(const struct arca_volume_manifest *m, const struct arca_volume_entry *e,
                         const uint8_t aad[8], uint64_t i, uint64_t n, int in, int out, bool at,
                         uint8_t *tags, const char *shown, struct vol_io *io)
{
    size_t b = batch_len(io, i, n), total = 0, got = 0;
    for (size_t j = 0; j < b; j++)
        total += chunk_len(m, e, i + j, n) + ARCA_AEAD_TAG_LEN;
    struct iovec all = {.iov_base = io->buf.data, .iov_len = total};
    ARCA_TRY(vol_preadv_full(in, &all, 1, sealed_off(m, i, at), &got, shown));
    size_t off = 0;
    for (size_t j = 0; j < b; j++) {
        uint64_t k = i + j;
        size_t len = chunk_len(m, e, k, n);
        uint8_t *p = slot(io, j);
        ARCA_ENSURE(off + len + ARCA_AEAD_TAG_LEN <= got, ARCA_ERR_TAMPERED,
                    "file '%s': truncated in chunk %llu of %llu", e->path, (unsigned long long)k,
                    (unsigned long long)n);
        off += len + ARCA_AEAD_TAG_LEN;
        uint8_t nonce[ARCA_AEAD_NONCE_LEN];
        chunk_nonce(nonce, k, k + 1 == n);
        int rc = arca_aead_ctx_open(io->aead, nonce, aad, 8, p, len, p + len, p);
        if (rc == ARCA_ERR_TAMPERED)
            rc = arca_err_set(rc,
                              "file '%s': chunk %llu of %llu does not authenticate (modified, "
                              "moved, reordered or truncated)",
                              e->path, (unsigned long long)k, (unsigned long long)n);
        ARCA_TRY(rc);
        memcpy(tags + j * ARCA_VOLUME_CHUNK_TAG_LEN, p + len, ARCA_VOLUME_CHUNK_TAG_LEN);
        io->iov[j].iov_base = p;
        io->iov[j].iov_len = len;
    }
    if (out >= 0)
        ARCA_TRY(vol_pwritev_full(out, io->iov, (int)b, plain_off(m, i, at), e->path));
    vol_progress_bytes(&io->pr, total - b * ARCA_AEAD_TAG_LEN);
    return 0;
}

int vol_file_decrypt(const struct arca_volume_manifest *m, const uint8_t key[32],
                     const struct arca_volume_entry *e, int in, int out, const char *shown,
                     struct vol_io *io)
{
    struct fcrypt f;
    int rc = fcrypt_init(&f, m, e, key, io);
    if (rc == 0)
        rc = crypt_batches(false, m, e, &f, in, out, shown, io);
    if (rc == 0)
        rc = expect_eof(in, -1, shown, e->path, "has bytes after its last chunk");
    if (rc == 0) {
        uint8_t tag[ARCA_VOLUME_FILE_TAG_LEN];
        rc = arca_hash_ctx_final(f.h, tag);
        if (rc == 0 && !arca_memeq(tag, e->file_tag, sizeof(tag)))
            rc =
                arca_err_set(ARCA_ERR_TAMPERED,
                             "file '%s': its chunks do not match the manifest's file tag", e->path);
    }
    return rc;
}

/* ---- one large file over the pool ------------------------------------------------------ */

/* A large file split over the workers: its key (secret; wiped when the file is done), and the
 * chunk tags of the current window, which the calling thread hashes in order. */
struct vol_split {
    const struct arca_volume_manifest *m;
    const struct arca_volume_entry *e;
    bool encrypt;
    int in, out;
    const char *shown;
    uint8_t key[ARCA_AEAD_KEY_LEN];
    uint64_t gen;
    uint8_t aad[8];
    uint64_t n;      /* chunks of the file */
    uint64_t wfirst; /* first chunk of the window */
    uint8_t *tags;   /* ARCA_VOLUME_CHUNK_TAG_LEN per chunk of the window */
};

struct split_task {
    struct vol_task t; /* first: the pool hands back &t */
    struct vol_split *s;
    uint64_t first; /* the batch's first chunk */
};

static int split_run(struct vol_task *t, struct vol_io *io, bool skip)
{
    struct split_task *st = (struct split_task *)t;
    struct vol_split *s = st->s;
    if (skip)
        return 0;
    if (io->key_gen != s->gen) {
        ARCA_TRY(arca_aead_ctx_set_key(io->aead, s->key));
        io->key_gen = s->gen;
    }
    uint8_t *tags = s->tags + (st->first - s->wfirst) * ARCA_VOLUME_CHUNK_TAG_LEN;
    if (s->encrypt)
        return encrypt_batch(s->m, s->e, s->aad, st->first, s->n, s->in, s->out, true, tags,
                             s->shown, io);
    return decrypt_batch(s->m, s->e, s->aad, st->first, s->n, s->in, s->out, true, tags, s->shown,
                         io);
}

/* Runs the batches of chunks w .. w+cnt-1 on the pool and hashes their tags in order. */
static int split_window(struct vol_pool *pool, struct vol_split *s, struct split_task *tasks,
                        uint64_t w, uint64_t cnt, struct arca_hash_ctx *h, struct vol_io *io)
{
    s->wfirst = w;
    size_t k = 0;
    for (uint64_t i = w; i < w + cnt; i += io->batch, k++) {
        tasks[k] = (struct split_task){.t = {.seq = i, .run = split_run}, .s = s, .first = i};
        vol_pool_submit(pool, &tasks[k].t);
    }
    ARCA_TRY(vol_pool_wait(pool));
    ARCA_TRY(arca_hash_ctx_update(h, s->tags, cnt * ARCA_VOLUME_CHUNK_TAG_LEN));
    uint64_t last = w + cnt, bytes = 0;
    for (uint64_t i = w; i < last; i++)
        bytes += chunk_len(s->m, s->e, i, s->n);
    vol_progress_bytes(&io->pr, bytes);
    return 0;
}

int vol_file_crypt_split(struct vol_pool *pool, bool encrypt, const struct arca_volume_manifest *m,
                         const uint8_t key[32], struct arca_volume_entry *e, int in, int out,
                         const char *shown, struct vol_io *io)
{
    if (encrypt)
        ARCA_TRY(arca_random(e->salt, sizeof(e->salt)));
    struct vol_split s = {.m = m,
                          .e = e,
                          .encrypt = encrypt,
                          .in = in,
                          .out = out,
                          .shown = shown,
                          .n = vol_chunk_count(e->size, m->chunk_size)};
    put64(s.aad, e->size);
    /* A few batches per worker per window keeps them busy while the window's tags wait. */
    uint64_t wchunks = (uint64_t)vol_pool_threads(pool) * 4 * io->batch;
    struct split_task *tasks = calloc(4 * (size_t)vol_pool_threads(pool), sizeof(*tasks));
    s.tags = malloc(wchunks * ARCA_VOLUME_CHUNK_TAG_LEN);
    int rc =
        tasks != NULL && s.tags != NULL ? 0 : arca_err_set(ARCA_ERR_ALLOC, "volume: out of memory");
    if (rc == 0)
        rc = arca_volume_file_key(io->kdf, m, e, key, s.key);
    s.gen = vol_pool_gen(pool);
    if (rc == 0)
        rc = arca_hash_ctx_reset(io->hash);
    if (rc == 0)
        rc = arca_hash_ctx_update(io->hash, file_tag_label, sizeof(file_tag_label) - 1);
    for (uint64_t w = 0; rc == 0 && w < s.n; w += wchunks)
        rc = split_window(pool, &s, tasks, w, s.n - w < wchunks ? s.n - w : wchunks, io->hash, io);
    if (rc == 0 && encrypt) {
        rc = expect_eof(in, (off_t)e->size, shown, e->path, "grew while being encrypted");
        if (rc == ARCA_ERR_TAMPERED)
            rc = arca_err_set(ARCA_ERR_IO, "%s: grew while being encrypted", shown);
        if (rc == 0)
            rc = arca_hash_ctx_final(io->hash, e->file_tag);
    } else if (rc == 0) {
        rc = expect_eof(in, (off_t)arca_volume_ciphertext_size(e->size, m->chunk_size), shown,
                        e->path, "has bytes after its last chunk");
        uint8_t tag[ARCA_VOLUME_FILE_TAG_LEN];
        if (rc == 0)
            rc = arca_hash_ctx_final(io->hash, tag);
        if (rc == 0 && !arca_memeq(tag, e->file_tag, sizeof(tag)))
            rc =
                arca_err_set(ARCA_ERR_TAMPERED,
                             "file '%s': its chunks do not match the manifest's file tag", e->path);
    }
    arca_wipe(s.key, sizeof(s.key));
    free(tasks);
    free(s.tags);
    return rc;
}
