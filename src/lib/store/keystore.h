/*
 * The key-store file (internal to store/): the database key, the commit number and the state
 * chain head, sealed with AES-256-GCM under the sealing key.
 *
 * File layout (108 bytes): magic "ARCAKS01" | nonce[12] | AEAD(payload) (72 + 16-byte tag),
 * payload = dbkey[32] | u64be commit | head[32], associated data = the magic.
 * After a key rotation (rotate.c) the layout is "ARCAKS02" (172 bytes), payload = dbkey[32] |
 * idxroot[32] | prev[32] | u64be commit | head[32]: the index key keeps deriving from the first
 * database key (idxroot; row keys and tombstones stay valid), and prev (all zero = none) is the
 * database key the records may still be under while a rotation is not committed yet. A store
 * that never rotated keeps writing version 1, byte for byte as before.
 * Rewritten atomically on every commit: write a temporary file, fsync, rename, fsync the
 * directory.
 */
#ifndef ARCA_STORE_KEYSTORE_H
#define ARCA_STORE_KEYSTORE_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

#define ARCA_KEYSTORE_MAGIC "ARCAKS01"
#define ARCA_KEYSTORE_MAGIC2 "ARCAKS02"
#define ARCA_KEYSTORE_FILE_LEN 108
#define ARCA_KEYSTORE_FILE_LEN2 172

struct arca_keystore {
    uint8_t dbkey[ARCA_STORE_KEY_LEN];   /* secret: wipe */
    uint8_t idxroot[ARCA_STORE_KEY_LEN]; /* secret; equals dbkey until the first rotation */
    bool has_prev;                       /* a rotation is in flight: records may be under prev */
    uint8_t prev[ARCA_STORE_KEY_LEN];    /* secret */
    uint64_t commit;
    uint8_t head[ARCA_STORE_HASH_LEN];
};

/* Reads and unseals path. ARCA_ERR_NOT_FOUND if absent, ARCA_ERR_TAMPERED (detail says what)
 * if the file is malformed or the seal does not verify. ks unchanged on failure. */
int arca_keystore_read(const char *path, const uint8_t seal[ARCA_STORE_KEY_LEN],
                       struct arca_keystore *ks);
/* Seals ks with a fresh nonce and replaces path atomically and durably. */
int arca_keystore_write(const char *path, const uint8_t seal[ARCA_STORE_KEY_LEN],
                        const struct arca_keystore *ks);

#endif
