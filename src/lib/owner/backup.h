/*
 * Backup slots (docs/operator-lifecycle.md "Backups on another machine"): how an arcad on
 * another machine — another platform, so no key the predecessor could derive — opens a snapshot
 * of this data directory once the owner registered it.
 *
 * The backup arcad proves its session-encryption key (X25519, derived from its CAS key; see
 * docs/encrypted-sessions.md) with evidence; arcad checks that evidence (api_owner.c) and the
 * owner configuration's backup rule, then wraps the data directory's two sealing keys to it
 * with the encrypted-session box (crypto.h arca_box_seal):
 *
 *   DATA_DIR/backups/<hex K>.slot  (0600)   K: the backup's CAS key id
 *     box(session-encryption key of K, "ARCABK01" | K[32] | identity key[32] | key-store key[32])
 *
 * Snapshots carry these files. The backup machine restores a snapshot as a data directory R
 * with its own identity directory copied to R/backup-machine/identity/; at start it loads that
 * identity (sealed on its own platform), derives its session-encryption key, opens
 * R/backups/<its K>.slot and from then on opens R with the unwrapped keys: it becomes the
 * arcad of R (R's CAS key, owner, sessions, audit log).
 */
#ifndef ARCA_OWNER_BACKUP_H
#define ARCA_OWNER_BACKUP_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "owner/slot.h"

#define ARCA_BACKUP_MAGIC "ARCABK01"
#define ARCA_BACKUP_DIR "backups"
#define ARCA_BACKUP_MACHINE_DIR "backup-machine" /* R/backup-machine/identity/ */

/* A backup arcad whose evidence arcad has verified. */
struct arca_backup_target {
    uint8_t cas_key[32];     /* SHA-256 of its CAS key's SPKI */
    uint8_t enc_key[32];     /* its X25519 session-encryption public key */
    uint8_t measurement[32]; /* from its evidence */
};

/* Path of the backup slot of CAS key id k into out[n]. */
int arca_backup_slot_path(const char *data_dir, const uint8_t k[32], char *out, size_t n);

/* Writes (atomically, durably) the backup slot of t wrapping keys. */
int arca_backup_slot_write(const char *data_dir, const struct arca_backup_target *t,
                           const struct arca_seal_keys *keys);

/* Removes the backup slot of k (revocation; a missing slot is fine). */
int arca_backup_slot_remove(const char *data_dir, const uint8_t k[32]);

/*
 * Reads the backup slot of CAS key id k and unwraps it with enc (the X25519 private key of k)
 * into *out. ARCA_ERR_NOT_FOUND if there is none, ARCA_ERR_TAMPERED (detail names the file) if
 * it does not open or names another key. *out wiped on failure.
 */
int arca_backup_slot_read(const char *data_dir, const uint8_t k[32], const struct arca_key *enc,
                          struct arca_seal_keys *out);

#endif
