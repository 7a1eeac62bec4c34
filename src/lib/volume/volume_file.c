/*
 * One file of a volume: AES-256-GCM chunks under the file's own key. Chunk i of n is sealed
 * with nonce = u64be(i) || u32be(i == n-1 ? 1 : 0) and associated data u64be(file size), so a
 * chunk only opens at its own position, in a file of its own size, and a file cut at a chunk
 * boundary lacks its last-flagged chunk. The file tag hashes the chunk tags in order.
 */
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

static uint64_t chunk_count(uint64_t size, uint32_t chunk)
{
    return size == 0 ? 1 : (size + chunk - 1) / chunk;
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
    io->batch = VOL_BATCH_BYTES / chunk_size;
    if (io->batch < 1)
        io->batch = 1;
    if (io->batch > VOL_BATCH_MAX)
        io->batch = VOL_BATCH_MAX;
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
    if (rc == 0)
        rc = arca_aead_ctx_set_key(io->aead, fkey);
    arca_wipe(fkey, sizeof(fkey));
    ARCA_TRY(rc);
    f->h = io->hash;
    ARCA_TRY(arca_hash_ctx_reset(f->h));
    return arca_hash_ctx_update(f->h, file_tag_label, sizeof(file_tag_label) - 1);
}

/* After the last chunk the file must end: one more byte means it grew or was extended. */
static int expect_eof(int fd, const char *shown, const char *path, const char *why)
{
    uint8_t extra;
    size_t got = 0;
    ARCA_TRY(vol_read_full(fd, &extra, 1, &got, shown));
    ARCA_ENSURE(got == 0, ARCA_ERR_TAMPERED, "file '%s': %s", path, why);
    return 0;
}

/* Number of chunks in the batch starting at chunk i of n. */
static size_t batch_len(const struct vol_io *io, uint64_t i, uint64_t n)
{
    return n - i < io->batch ? (size_t)(n - i) : io->batch;
}

/* Encrypts chunks i .. i+b-1: one readv into the slots, seals in place, one write. */
static int encrypt_batch(const struct arca_volume_manifest *m, const struct arca_volume_entry *e,
                         struct fcrypt *f, uint64_t i, uint64_t n, int in, int out,
                         const char *shown, struct vol_io *io)
{
    size_t b = batch_len(io, i, n), total = 0, got = 0;
    for (size_t j = 0; j < b; j++) {
        io->iov[j].iov_base = slot(io, j);
        io->iov[j].iov_len = chunk_len(m, e, i + j, n);
        total += io->iov[j].iov_len;
    }
    ARCA_TRY(vol_readv_full(in, io->iov, (int)b, &got, shown));
    ARCA_ENSURE(got == total, ARCA_ERR_IO, "%s: shrank while being encrypted", shown);
    for (size_t j = 0; j < b; j++) {
        uint8_t nonce[ARCA_AEAD_NONCE_LEN];
        size_t len = chunk_len(m, e, i + j, n);
        uint8_t *p = slot(io, j);
        chunk_nonce(nonce, i + j, i + j + 1 == n);
        ARCA_TRY(arca_aead_ctx_seal(io->aead, nonce, f->aad, sizeof(f->aad), p, len, p, p + len));
        ARCA_TRY(arca_hash_ctx_update(f->h, p + len, ARCA_VOLUME_CHUNK_TAG_LEN));
    }
    ARCA_TRY(vol_write_full(out, io->buf.data, total + b * ARCA_AEAD_TAG_LEN, shown));
    vol_progress_bytes(&io->pr, total);
    return 0;
}

int vol_file_encrypt(const struct arca_volume_manifest *m, const uint8_t key[32],
                     struct arca_volume_entry *e, int in, int out, const char *shown,
                     struct vol_io *io)
{
    ARCA_TRY(arca_random(e->salt, sizeof(e->salt)));
    struct fcrypt f;
    int rc = fcrypt_init(&f, m, e, key, io);
    uint64_t n = chunk_count(e->size, m->chunk_size);
    for (uint64_t i = 0; rc == 0 && i < n; i += io->batch)
        rc = encrypt_batch(m, e, &f, i, n, in, out, shown, io);
    if (rc == 0) {
        rc = expect_eof(in, shown, e->path, "grew while being encrypted");
        if (rc == ARCA_ERR_TAMPERED)
            rc = arca_err_set(ARCA_ERR_IO, "%s: grew while being encrypted", shown);
    }
    if (rc == 0)
        rc = arca_hash_ctx_final(f.h, e->file_tag);
    return rc;
}

/* Decrypts chunks i .. i+b-1: one read of the sealed chunks, opens each in place (in order, so
 * a damaged chunk is named as before), then one writev of the plaintext. */
static int decrypt_batch(const struct arca_volume_manifest *m, const struct arca_volume_entry *e,
                         struct fcrypt *f, uint64_t i, uint64_t n, int in, int out,
                         const char *shown, struct vol_io *io)
{
    size_t b = batch_len(io, i, n), total = 0, got = 0;
    for (size_t j = 0; j < b; j++)
        total += chunk_len(m, e, i + j, n) + ARCA_AEAD_TAG_LEN;
    ARCA_TRY(vol_read_full(in, io->buf.data, total, &got, shown));
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
        int rc = arca_aead_ctx_open(io->aead, nonce, f->aad, sizeof(f->aad), p, len, p + len, p);
        if (rc == ARCA_ERR_TAMPERED)
            rc = arca_err_set(rc,
                              "file '%s': chunk %llu of %llu does not authenticate (modified, "
                              "moved, reordered or truncated)",
                              e->path, (unsigned long long)k, (unsigned long long)n);
        ARCA_TRY(rc);
        ARCA_TRY(arca_hash_ctx_update(f->h, p + len, ARCA_VOLUME_CHUNK_TAG_LEN));
        io->iov[j].iov_base = p;
        io->iov[j].iov_len = len;
    }
    if (out >= 0)
        ARCA_TRY(vol_writev_full(out, io->iov, (int)b, e->path));
    vol_progress_bytes(&io->pr, total - b * ARCA_AEAD_TAG_LEN);
    return 0;
}

int vol_file_decrypt(const struct arca_volume_manifest *m, const uint8_t key[32],
                     const struct arca_volume_entry *e, int in, int out, const char *shown,
                     struct vol_io *io)
{
    struct fcrypt f;
    int rc = fcrypt_init(&f, m, e, key, io);
    uint64_t n = chunk_count(e->size, m->chunk_size);
    for (uint64_t i = 0; rc == 0 && i < n; i += io->batch)
        rc = decrypt_batch(m, e, &f, i, n, in, out, shown, io);
    if (rc == 0)
        rc = expect_eof(in, shown, e->path, "has bytes after its last chunk");
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
