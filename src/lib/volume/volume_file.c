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

/* Starts chunk i of n: clears the buffers, sets its nonce, returns its plaintext length. */
static size_t chunk_begin(struct vol_io *io, const struct arca_volume_manifest *m,
                          const struct arca_volume_entry *e, uint64_t i, uint64_t n,
                          uint8_t nonce[ARCA_AEAD_NONCE_LEN])
{
    arca_buf_reset(&io->pt);
    arca_buf_reset(&io->ct);
    chunk_nonce(nonce, i, i + 1 == n);
    return i + 1 < n ? m->chunk_size : (size_t)(e->size - i * m->chunk_size);
}

int vol_io_init(struct vol_io *io, uint32_t chunk_size, const struct arca_volume_opts *opts)
{
    memset(io, 0, sizeof(*io));
    io->pr.opts = opts;
    arca_buf_init_secret(&io->pt, chunk_size);
    arca_buf_init(&io->ct, (size_t)chunk_size + ARCA_AEAD_TAG_LEN);
    ARCA_TRY(arca_buf_reserve(&io->pt, chunk_size));
    return arca_buf_reserve(&io->ct, (size_t)chunk_size + ARCA_AEAD_TAG_LEN);
}

void vol_io_free(struct vol_io *io)
{
    arca_buf_free(&io->pt);
    arca_buf_free(&io->ct);
}

/* Per-file state of both directions: the file key, the associated data, the running tag. */
struct fcrypt {
    uint8_t key[ARCA_AEAD_KEY_LEN];
    uint8_t aad[8];
    struct arca_hash_ctx *h;
};

static int fcrypt_init(struct fcrypt *f, const struct arca_volume_manifest *m,
                       const struct arca_volume_entry *e, const uint8_t key[32])
{
    memset(f, 0, sizeof(*f));
    put64(f->aad, e->size);
    ARCA_TRY(arca_volume_file_key(m, e, key, f->key));
    ARCA_TRY(arca_hash_ctx_new(ARCA_SHA256, &f->h));
    return arca_hash_ctx_update(f->h, file_tag_label, sizeof(file_tag_label) - 1);
}

static void fcrypt_free(struct fcrypt *f)
{
    arca_wipe(f->key, sizeof(f->key));
    arca_hash_ctx_free(f->h);
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

int vol_file_encrypt(const struct arca_volume_manifest *m, const uint8_t key[32],
                     struct arca_volume_entry *e, int in, int out, const char *shown,
                     struct vol_io *io)
{
    ARCA_TRY(arca_random(e->salt, sizeof(e->salt)));
    struct fcrypt f;
    int rc = fcrypt_init(&f, m, e, key);
    uint64_t n = chunk_count(e->size, m->chunk_size);
    for (uint64_t i = 0; rc == 0 && i < n; i++) {
        uint8_t nonce[ARCA_AEAD_NONCE_LEN];
        size_t want = chunk_begin(io, m, e, i, n, nonce), got = 0;
        ARCA_GUARD(rc, vol_read_full(in, io->pt.data, want, &got, shown), done);
        ARCA_GUARD_ENSURE(rc, got == want, done, ARCA_ERR_IO, "%s: shrank while being encrypted",
                          shown);
        ARCA_GUARD(rc,
                   arca_aead_seal(f.key, nonce, f.aad, sizeof(f.aad), io->pt.data, want, &io->ct),
                   done);
        ARCA_GUARD(rc, arca_hash_ctx_update(f.h, io->ct.data + want, ARCA_VOLUME_CHUNK_TAG_LEN),
                   done);
        ARCA_GUARD(rc, vol_write_full(out, io->ct.data, io->ct.len, shown), done);
        vol_progress_bytes(&io->pr, want);
    }
    if (rc == 0) {
        rc = expect_eof(in, shown, e->path, "grew while being encrypted");
        if (rc == ARCA_ERR_TAMPERED)
            rc = arca_err_set(ARCA_ERR_IO, "%s: grew while being encrypted", shown);
    }
    if (rc == 0)
        rc = arca_hash_ctx_final(f.h, e->file_tag);
done:
    fcrypt_free(&f);
    return rc;
}

int vol_file_decrypt(const struct arca_volume_manifest *m, const uint8_t key[32],
                     const struct arca_volume_entry *e, int in, int out, const char *shown,
                     struct vol_io *io)
{
    struct fcrypt f;
    int rc = fcrypt_init(&f, m, e, key);
    uint64_t n = chunk_count(e->size, m->chunk_size);
    for (uint64_t i = 0; rc == 0 && i < n; i++) {
        uint8_t nonce[ARCA_AEAD_NONCE_LEN];
        size_t want = chunk_begin(io, m, e, i, n, nonce), got = 0;
        ARCA_GUARD(rc, vol_read_full(in, io->ct.data, want + ARCA_AEAD_TAG_LEN, &got, shown), done);
        ARCA_GUARD_ENSURE(rc, got == want + ARCA_AEAD_TAG_LEN, done, ARCA_ERR_TAMPERED,
                          "file '%s': truncated in chunk %llu of %llu", e->path,
                          (unsigned long long)i, (unsigned long long)n);
        rc = arca_aead_open(f.key, nonce, f.aad, sizeof(f.aad), io->ct.data, got, &io->pt);
        if (rc == ARCA_ERR_TAMPERED)
            rc = arca_err_set(rc,
                              "file '%s': chunk %llu of %llu does not authenticate (modified, "
                              "moved, reordered or truncated)",
                              e->path, (unsigned long long)i, (unsigned long long)n);
        if (rc < 0)
            goto done;
        ARCA_GUARD(rc, arca_hash_ctx_update(f.h, io->ct.data + want, ARCA_VOLUME_CHUNK_TAG_LEN),
                   done);
        if (out >= 0)
            ARCA_GUARD(rc, vol_write_full(out, io->pt.data, io->pt.len, e->path), done);
        vol_progress_bytes(&io->pr, want);
    }
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
done:
    fcrypt_free(&f);
    return rc;
}
