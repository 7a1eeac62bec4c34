/*
 * The owner of an arcad (docs/operator-lifecycle.md): the party that provisions it and alone may
 * change its owner configuration and register successors (upgrades, backups). The owner never
 * reads a secret and never overrides a session's access_policy: nothing here touches sessions.
 *
 * Lifecycle: a fresh arcad is unprovisioned; arca_owner_open then makes a one-time provisioning
 * token (16 random bytes as 32 hex digits) that arcad prints. Only SHA-256 of the token stays in
 * memory; a restart makes a new one. arca_owner_provision checks a presented token in constant
 * time, bounds guessing per caller address with a throttle (limits.h defaults: 3 free failures,
 * then doubling delays, locked out after 10), and on success binds ownership to the caller's
 * client key id, stores the owner record (sealed store, meta "owner") and forgets the token.
 * An arcad that was never provisioned serves everything as before; only the owner operations
 * refuse ("not provisioned").
 *
 * Thread-safe (one mutex around the owner record). Audit events: owner_provisioned,
 * owner_config_changed, owner_upgrade_registered, owner_backup_registered,
 * owner_backup_revoked, owner_key_rotated,
 * owner_refused, owner_requirement_unmet.
 */
#ifndef ARCA_OWNER_OWNER_H
#define ARCA_OWNER_OWNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/buf.h"
#include "govern/approval.h"
#include "owner/config.h"
#include "owner/slot.h"
#include "policy/session.h"
#include "store/store.h"

#define ARCA_OWNER_TOKEN_HEX_LEN 32
#define ARCA_OWNER_META_KEY "owner"

#define ARCA_AUDIT_OWNER_PROVISIONED "owner_provisioned"
#define ARCA_AUDIT_OWNER_CONFIG "owner_config_changed"
#define ARCA_AUDIT_OWNER_UPGRADE "owner_upgrade_registered"
#define ARCA_AUDIT_OWNER_BACKUP "owner_backup_registered"
#define ARCA_AUDIT_OWNER_BACKUP_REVOKED "owner_backup_revoked"
#define ARCA_AUDIT_OWNER_REFUSED "owner_refused"
#define ARCA_AUDIT_OWNER_KEY_ROTATED "owner_key_rotated"
#define ARCA_AUDIT_OWNER_SNAPSHOT "owner_snapshot"
#define ARCA_AUDIT_OWNER_UNMET "owner_requirement_unmet"

struct arca_audit;
struct arca_backup_target;

struct arca_owner_opts {
    struct arca_store *store;               /* required, borrowed */
    struct arca_audit *audit;               /* may be NULL (tests), borrowed */
    const char *data_dir;                   /* where successor slots go; borrowed */
    const struct arca_store_sealer *sealer; /* the data directory's sealer; borrowed */
    arca_slot_key_fn slot_key;              /* successor-slot keys (slot.h) */
    void *slot_key_ctx;
    const uint8_t *measurement; /* this arcad's (32 bytes; the backup rule), borrowed */
    const uint8_t *cas_key;     /* this arcad's CAS key id (32; owner-op messages), borrowed */
    /* The witnesses arcad runs with (--witness SPECs; arca_owner_unmet), borrowed */
    const char *const *witness_specs;
    size_t n_witness;
};

/*
 * Who asks for an owner operation: the TLS client key id (NULL: no certificate) and, when the
 * owner configuration names a board (owner/board.h), the board's signatures over the operation
 * message. Every pointer borrowed.
 */
struct arca_owner_auth {
    const uint8_t *caller;
    const struct arca_approval_sig *sigs;
    size_t n_sigs;
};

struct arca_owner;

/*
 * Loads the owner record. Unprovisioned: makes a provisioning token and writes it, NUL-terminated,
 * to token_hex (a secret: the caller prints it once and wipes it); provisioned: token_hex = "".
 * *out is freed with arca_owner_free. The options' pointers must outlive *out.
 */
int arca_owner_open(const struct arca_owner_opts *opts, struct arca_owner **out,
                    char token_hex[ARCA_OWNER_TOKEN_HEX_LEN + 1]);
void arca_owner_free(struct arca_owner *o);

/* The owner configuration stored in store (parsed into *out) without opening the owner: what
 * arcad applies at start before its audit log opens. ARCA_ERR_NOT_FOUND if unprovisioned. */
int arca_owner_stored_config(struct arca_store *store, struct arca_owner_config *out);

/* The public status as JSON (new reference): {"provisioned": bool, "owner": HEX,
 * "op_counter": N, "board": {"require_at_least", "owners": [HEX]} (if so)}. */
json_t *arca_owner_status(struct arca_owner *o);

/*
 * Provisions: token must match, caller (client key id, NULL: ARCA_ERR_UNAUTHENTICATED) becomes
 * the owner, yaml is the owner configuration (errors located in diag, *invalid set). guess_key
 * identifies the caller for guess bounding (e.g. its network address). Refusals, each with a
 * detail and an audit event: ARCA_ERR_EXISTS already provisioned, ARCA_ERR_DENIED wrong token,
 * ARCA_ERR_LIMIT too many wrong tokens from guess_key (try later), ARCA_ERR_FORMAT /
 * ARCA_ERR_UNSUPPORTED / ARCA_ERR_TOO_LARGE bad configuration. Nothing is stored on failure.
 */
int arca_owner_provision(struct arca_owner *o, const uint8_t *caller, const void *guess_key,
                         size_t guess_len, const char *token, size_t token_len, const char *yaml,
                         size_t yaml_len, struct arca_diag *diag, bool *invalid);

/* 0 if auth's caller is the owner (with a board: a board member); ARCA_ERR_CONFLICT if not
 * provisioned, ARCA_ERR_UNAUTHENTICATED without a caller, ARCA_ERR_DENIED for anyone else
 * (audited, what names the operation). Changes (config, register-*, revoke, rotate-key,
 * snapshot) check this and, with a board, the board's signatures (owner/board.h), consuming the
 * owner-op counter. */
int arca_owner_check(struct arca_owner *o, const struct arca_owner_auth *auth, const char *what);

/* The owner record as JSON (new reference into *out): owner, provisioned_at, config (the YAML),
 * upgrades, backups. Owner only (arca_owner_check). */
int arca_owner_get(struct arca_owner *o, const struct arca_owner_auth *auth, json_t **out);

/* Replaces the owner configuration (owner only); slots for its upgrades are written. */
int arca_owner_config_set(struct arca_owner *o, const struct arca_owner_auth *auth,
                          const char *yaml, size_t yaml_len, struct arca_diag *diag, bool *invalid);

/* Registers an upgrade (owner only): a new arcad measurement; writes its successor slot.
 * Registering again is fine (idempotent). */
int arca_owner_register_upgrade(struct arca_owner *o, const struct arca_owner_auth *auth,
                                const uint8_t measurement[32]);

/*
 * Registers a backup (owner only): another machine's arcad t, whose evidence the caller
 * verified (owner/backup.h). Checks the owner configuration's backup-rule (default
 * same-measurement: t's measurement is this arcad's or a registered upgrade; ARCA_ERR_POLICY
 * otherwise), then writes its backup slot and records t's CAS key. Idempotent (a new slot).
 */
int arca_owner_register_backup(struct arca_owner *o, const struct arca_owner_auth *auth,
                               const struct arca_backup_target *t);

/*
 * Whether an attested arcad of measurement may join this arcad's shared store (arcad --join,
 * docs/high-availability.md): the same rule as backups' same-measurement, i.e. this arcad's
 * measurement or an upgrade the owner registered (arca cas register-upgrade or the owner
 * configuration's upgrades), read fresh from the store. Unprovisioned: this arcad's measurement
 * only. ARCA_ERR_POLICY naming both measurements otherwise. No owner check: the caller (a peer)
 * proved its measurement with evidence.
 */
int arca_owner_admit_member(struct arca_owner *o, const uint8_t measurement[32]);

/* Revokes a backup (owner only): removes its slot and its record entry. Snapshots taken before
 * still hold the slot (the host keeps copies): take a new snapshot and discard the old ones. */
int arca_owner_revoke_backup(struct arca_owner *o, const struct arca_owner_auth *auth,
                             const uint8_t cas_key[32]);

/* Re-encrypts every record under a new database key (owner only; arca_store_rotate_key: one
 * durable, crash-safe write). *records (may be NULL) gets the number rewritten. */
int arca_owner_rotate_key(struct arca_owner *o, const struct arca_owner_auth *auth,
                          uint64_t *records);

/*
 * The audit log's latest checkpoint (owner only) as new JSON {"seq", "time", "sig" (base64),
 * "checkpoint": "SEQ:SIG"} — the form `arca audit verify --checkpoint` takes, so the owner can
 * keep it off the host and detect a cut log later. ARCA_ERR_NOT_FOUND if none yet;
 * ARCA_ERR_DENIED (audited) when the owner configuration sets audit.export-checkpoints: false.
 */
int arca_owner_checkpoint(struct arca_owner *o, const struct arca_owner_auth *auth, json_t **out);

/*
 * What the owner configuration requires that this arcad runs without (a witness kind the owner
 * lists but the operator did not start arcad with; config.h arca_owner_config_unmet): a static
 * sentence naming it and what to do, or NULL. While it is not NULL arcad refuses writes (the
 * owner operations excepted, so that the owner can still change the configuration). Updated at
 * open, provisioning and every configuration change (audited as owner_requirement_unmet when a
 * requirement becomes unmet). Lock-free: one atomic load, for every request. NULL o: NULL.
 */
const char *arca_owner_unmet(const struct arca_owner *o);

/* Writes a snapshot of the data directory (owner only; owner/snapshot.h) and returns its
 * directory in out[n]. */
int arca_owner_snapshot(struct arca_owner *o, const struct arca_owner_auth *auth, char *out,
                        size_t n);

#endif
