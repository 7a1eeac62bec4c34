/*
 * Successor slots (docs/operator-lifecycle.md "Upgrades"): how a new arcad build opens the data
 * directory of the build before it once the owner registered it.
 *
 * A data directory is sealed with two keys that the first arcad's sealer gave it (purposes
 * "arcad-identity" for identity/key.sealed and "arca-keystore" for arca.db.key-store). A slot
 * hands exactly these two keys to one successor measurement M:
 *
 *   DATA_DIR/successors/<hex M>.slot  (100 bytes, 0600)
 *     "ARCASL01" | nonce[12] | AES-256-GCM(K_M, identity key[32] || key-store key[32]) + tag
 *     associated data = "ARCASL01" || M
 *     K_M = the successor-slot key of measurement M: only the platform can derive it for M
 *           (simulation: arca_sim_seal_key(platform, M, "arca-successor-slot"))
 *
 * The successor finds the slot for its own measurement, unwraps the keys and from then on seals
 * with them (it inherits the data directory; it can register further successors the same way).
 */
#ifndef ARCA_OWNER_SLOT_H
#define ARCA_OWNER_SLOT_H

#include <stdint.h>

#include "store/store.h"

#define ARCA_SLOT_MAGIC "ARCASL01"
#define ARCA_SLOT_FILE_LEN 100
#define ARCA_SLOT_PURPOSE "arca-successor-slot"

/* The two sealing keys of a data directory. Secret: wipe with arca_wipe. */
struct arca_seal_keys {
    uint8_t identity[ARCA_STORE_KEY_LEN];
    uint8_t keystore[ARCA_STORE_KEY_LEN];
};

/* Returns in key the successor-slot key of measurement m (only the platform can do this for a
 * measurement other than its own; in simulation anyone with the platform secret can). */
typedef int (*arca_slot_key_fn)(void *ctx, const uint8_t m[32], uint8_t key[ARCA_STORE_KEY_LEN]);

/* The data directory's keys as sealer hands them out (for both purposes) into *out; wiped on
 * failure. */
int arca_seal_keys_get(const struct arca_store_sealer *sealer, struct arca_seal_keys *out);

/* A sealer that hands out keys (borrowed: keys must outlive the sealer). Other purposes are
 * ARCA_ERR_UNSUPPORTED. */
void arca_seal_keys_sealer(const struct arca_seal_keys *keys, struct arca_store_sealer *out);

/* Writes (atomically, durably) the slot of successor m wrapping keys. */
int arca_slot_write(const char *data_dir, const uint8_t m[32], arca_slot_key_fn key_fn,
                    void *key_ctx, const struct arca_seal_keys *keys);

/*
 * Reads the slot of m and unwraps it into *out. ARCA_ERR_NOT_FOUND if there is none,
 * ARCA_ERR_TAMPERED (detail names the file) if it does not verify. *out wiped on failure.
 */
int arca_slot_read(const char *data_dir, const uint8_t m[32], arca_slot_key_fn key_fn,
                   void *key_ctx, struct arca_seal_keys *out);

/* Path of the slot of m into out[n] (for messages). */
int arca_slot_path(const char *data_dir, const uint8_t m[32], char *out, size_t n);

#endif
