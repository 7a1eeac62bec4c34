/*
 * The volume manifest (`volume.fspf`): header, sorted entries, root tag. Byte layout in
 * docs/volumes.md. The parser reads untrusted bytes through a bounded cursor and checks
 * structure only (canonical order, valid paths, parents present, limits); authenticity is
 * arca_volume_manifest_authenticate's job, under the volume key.
 */
#ifndef ARCA_VOLUME_MANIFEST_H
#define ARCA_VOLUME_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define ARCA_VOLUME_MANIFEST_NAME "volume.fspf"
#define ARCA_VOLUME_MAGIC "ARCA-VOL" /* 8 bytes, no NUL in the file */
#define ARCA_VOLUME_FORMAT 1
#define ARCA_VOLUME_ID_LEN 16
#define ARCA_VOLUME_SALT_LEN 16
#define ARCA_VOLUME_NONCE_LEN 12
#define ARCA_VOLUME_CHECK_LEN 16
#define ARCA_VOLUME_ROOT_TAG_LEN 16
#define ARCA_VOLUME_FILE_TAG_LEN 32
#define ARCA_VOLUME_CHUNK_TAG_LEN 16
#define ARCA_VOLUME_CHUNK_DEFAULT ((uint32_t)64 << 10)
#define ARCA_VOLUME_CHUNK_MIN ((uint32_t)4 << 10)
#define ARCA_VOLUME_CHUNK_MAX ((uint32_t)16 << 20)
#define ARCA_VOLUME_PATH_MAX 4096
#define ARCA_VOLUME_ENTRIES_MAX 1000000
#define ARCA_VOLUME_FILE_MAX ((uint64_t)1 << 50) /* 1 PiB */
#define ARCA_VOLUME_MANIFEST_MAX ((size_t)256 << 20)

enum arca_volume_type { ARCA_VOLUME_DIR = 1, ARCA_VOLUME_FILE = 2 };

struct arca_volume_entry {
    enum arca_volume_type type;
    uint32_t mode;   /* permission bits 0..0777 */
    char *path;      /* owned, NUL-terminated: relative, '/'-separated, no "." or ".." */
    size_t path_len; /* strlen(path) */
    uint64_t size;   /* files: plaintext bytes; dirs: 0 */
    uint8_t salt[ARCA_VOLUME_SALT_LEN];         /* files: fresh per write; dirs: zeros */
    uint8_t file_tag[ARCA_VOLUME_FILE_TAG_LEN]; /* files: SHA-256 over the chunk tags */
};

struct arca_volume_manifest {
    uint32_t format;
    uint32_t chunk_size;
    uint32_t root_mode;
    uint8_t volume_id[ARCA_VOLUME_ID_LEN];
    uint8_t key_check[ARCA_VOLUME_CHECK_LEN];
    uint8_t nonce[ARCA_VOLUME_NONCE_LEN];
    struct arca_volume_entry *entries; /* owned, sorted bytewise by path, unique */
    size_t count;
    size_t cap;
    uint8_t root_tag[ARCA_VOLUME_ROOT_TAG_LEN];
};

/* A new empty manifest (format 1, chunk_size, root_mode, zero ids); free with _free. */
int arca_volume_manifest_new(uint32_t chunk_size, uint32_t root_mode,
                             struct arca_volume_manifest **out);
/* Frees m and its entries; NULL is fine. */
void arca_volume_manifest_free(struct arca_volume_manifest *m);

/* Appends an entry (path copied; plen bytes, no NUL needed). Order and validity are the
 * caller's to keep (arca_volume_manifest_sort, then _check). */
int arca_volume_manifest_add(struct arca_volume_manifest *m, enum arca_volume_type type,
                             uint32_t mode, const char *path, size_t plen, uint64_t size);
/* Sorts the entries bytewise by path (the manifest's canonical order). */
void arca_volume_manifest_sort(struct arca_volume_manifest *m);
/* The entry with exactly this path, or NULL (binary search; needs sorted entries). */
const struct arca_volume_entry *arca_volume_manifest_find(const struct arca_volume_manifest *m,
                                                          const char *path, size_t plen);

/* Bytewise order of two paths (memcmp, then the shorter first): <0, 0, >0. */
int arca_volume_path_cmp(const char *a, size_t alen, const char *b, size_t blen);
/* 0 if name (one path component of len bytes) may appear in a volume, else ARCA_ERR_FORMAT
 * with a detail saying why (the caller adds where). */
int arca_volume_name_check(const char *name, size_t len);

/* Bytes a file of size plaintext bytes takes in the volume (chunks plus their tags). */
uint64_t arca_volume_ciphertext_size(uint64_t size, uint32_t chunk_size);

/*
 * Parses manifest bytes (untrusted) into *out (free with _free). Checks structure only: magic,
 * format, chunk size, limits, every path valid, entries strictly ascending, every parent
 * present as a directory, no trailing bytes. Errors are ARCA_ERR_FORMAT / ARCA_ERR_TRUNCATED /
 * ARCA_ERR_TOO_LARGE naming the field and its offset.
 */
int arca_volume_manifest_parse(const uint8_t *p, size_t n, struct arca_volume_manifest **out);
/* Appends the encoding of m (including its root_tag as it is) to out. */
int arca_volume_manifest_encode(const struct arca_volume_manifest *m, struct arca_buf *out);

/* Sets volume_id (if all zero) to random bytes; derives key_check; a fresh random nonce; and
 * computes root_tag over the encoding under key. Entries must be sorted. */
int arca_volume_manifest_seal(struct arca_volume_manifest *m, const uint8_t key[32]);
/* Checks that key opens m (ARCA_ERR_SIGNATURE: wrong key) and that root_tag authenticates
 * m's encoding (ARCA_ERR_TAMPERED: the manifest was modified). */
int arca_volume_manifest_authenticate(const struct arca_volume_manifest *m, const uint8_t key[32]);

/*
 * Key schedule (docs/volumes.md "Keys"): HKDF-SHA256 with the volume key as input key
 * material, salt = volume_id [|| file salt], info = "arca-volume-v1 " label [|| 0 || path].
 * kdf: a reusable HKDF-SHA256 context (one per thread), or NULL for a one-shot derivation.
 */
struct arca_hkdf_ctx;
int arca_volume_file_key(struct arca_hkdf_ctx *kdf, const struct arca_volume_manifest *m,
                         const struct arca_volume_entry *e, const uint8_t key[32], uint8_t out[32]);

#endif
