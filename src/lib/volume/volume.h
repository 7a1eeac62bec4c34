/*
 * Protected volumes: a directory tree encrypted file by file (AES-256-GCM in fixed-size chunks)
 * with an authenticated manifest whose 16-byte root tag is the policy's `fspf_tag`. The format
 * is documented byte for byte in docs/volumes.md; the design in docs/internals/volume.md.
 *
 * A volume directory holds the encrypted files under their own relative paths and the manifest
 * `volume.fspf` at its root. The 32-byte volume key is the policy's `fspf_key`.
 *
 * Every function returns 0 or a negative enum arca_err code with a detail that names the file
 * (never a key) and leaves no partial output: on failure, whatever it created under the
 * destination is removed again. Integrity failures are ARCA_ERR_TAMPERED; a key that does not
 * open the volume is ARCA_ERR_SIGNATURE. Keys are borrowed and never copied into anything that
 * outlives the call except the caller's own out_key.
 */
#ifndef ARCA_VOLUME_VOLUME_H
#define ARCA_VOLUME_VOLUME_H

#include <stddef.h>
#include <stdint.h>

#include "volume/manifest.h"

#define ARCA_VOLUME_KEY_LEN 32
#define ARCA_VOLUME_TAG_LEN 16

/* Called after each file and every few MiB inside a large file; arg is opts->progress_arg. */
struct arca_volume_progress {
    uint64_t files_done;
    uint64_t files_total;
    uint64_t bytes_done;
    uint64_t bytes_total;
};
typedef void (*arca_volume_progress_fn)(const struct arca_volume_progress *p, void *arg);

struct arca_volume_opts {
    uint32_t chunk_size; /* encrypt only; 0 = ARCA_VOLUME_CHUNK_DEFAULT */
    arca_volume_progress_fn progress;
    void *progress_arg;
    /* Worker threads encrypting or decrypting files and chunks in parallel: 0 = one per
     * online CPU, at most 16; 1 = all on the calling thread. The output is the same. */
    unsigned jobs;
};

struct arca_volume_stats {
    uint64_t files;
    uint64_t dirs;
    uint64_t bytes; /* plaintext bytes of all files */
};

/*
 * Encrypts the tree under src_dir into the volume dst_dir, which must not exist or be an empty
 * directory. key: the 32-byte volume key, or NULL to generate a fresh one. Writes the key used
 * into out_key (the caller wipes it) and the root tag into out_tag; stats and opts may be NULL.
 * Only directories and regular files are accepted: a symbolic link, device, FIFO or socket
 * anywhere in the tree is refused naming it, as are names with control characters and a file
 * called `volume.fspf` at the top. Modes keep their permission bits (0777); setuid, setgid
 * and sticky bits are dropped.
 */
int arca_volume_encrypt_tree(const char *src_dir, const char *dst_dir, const uint8_t *key,
                             const struct arca_volume_opts *opts,
                             uint8_t out_key[ARCA_VOLUME_KEY_LEN],
                             uint8_t out_tag[ARCA_VOLUME_TAG_LEN], struct arca_volume_stats *stats);

/*
 * Checks the volume at dir before any content is exposed: the manifest parses, key opens it,
 * its root tag authenticates it and equals expected_tag, and the tree on disk holds exactly
 * the manifest's directories and files with their ciphertext sizes (nothing missing, nothing
 * extra). Chunks are authenticated as they are decrypted (arca_volume_decrypt_tree).
 */
int arca_volume_verify(const char *dir, const uint8_t key[ARCA_VOLUME_KEY_LEN],
                       const uint8_t expected_tag[ARCA_VOLUME_TAG_LEN]);

/*
 * The root tag of the volume at dir, authenticated under key (the manifest only: the tree is
 * not checked). For a policy without a tag (no_rollback_protection) the caller then unlocks
 * with this tag, which checks everything; a volume changed in between fails there.
 */
int arca_volume_read_tag(const char *dir, const uint8_t key[ARCA_VOLUME_KEY_LEN],
                         uint8_t out_tag[ARCA_VOLUME_TAG_LEN]);

/*
 * arca_volume_verify, then decrypts every file into dst_dir (which must not exist or be an
 * empty directory; it gets the volume's root mode), authenticating every chunk and every
 * file tag. On any mismatch it stops, names the file, and removes everything it wrote.
 */
int arca_volume_decrypt_tree(const char *dir, const uint8_t key[ARCA_VOLUME_KEY_LEN],
                             const uint8_t tag[ARCA_VOLUME_TAG_LEN], const char *dst_dir,
                             const struct arca_volume_opts *opts, struct arca_volume_stats *stats);

/*
 * The manifest of the volume at dir, without any content. With key and expected_tag (both or
 * neither) the volume is first checked as arca_volume_verify does; without them the listing
 * is parsed but NOT authenticated. *out is freed with arca_volume_manifest_free.
 */
int arca_volume_show(const char *dir, const uint8_t *key, const uint8_t *expected_tag,
                     struct arca_volume_manifest **out);

#endif
