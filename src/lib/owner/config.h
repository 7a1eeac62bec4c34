/*
 * The owner configuration (docs/operator-lifecycle.md): what the owner of an arcad uploads with
 * `arca cas provision` and may later replace. Strict YAML (the policy module's tree parser:
 * no anchors, aliases, tags or duplicate keys); every unknown key is an error with its position.
 *
 *   version: 1                      # required
 *   audit:                          # checkpoint-every applied at start
 *     checkpoint-every: 128         # 1..1000000
 *     export-checkpoints: true      # default true; false: arca cas audit-checkpoint refused
 *   collateral:                     # applied at start (replaces --pcs-url / --kds-url)
 *     pcs-url: https://...
 *     kds-url: https://...
 *   backups:                        # another machine's arcad, by its CAS key (recorded;
 *     - cas-key: HEX64              #   its slot needs arca cas register-backup)
 *   backup-rule: same-measurement   # or same-signer: who may be registered as a backup
 *   upgrades:                       # new arcad versions, by measurement (get successor slots)
 *     - measurement: HEX64
 *   witnesses:                      # a kind missing from --witness: arcad refuses writes
 *     - tpm | tpm:/dev/... | arcad://HOST:PORT
 *   board:                          # owners: N signatures per change (owner/board.h)
 *     require-at-least: N
 *     owners: [HEX64, ...]
 *
 * The struct is fixed-size (no heap): nothing to free, and a parse failure leaves it zeroed.
 */
#ifndef ARCA_OWNER_CONFIG_H
#define ARCA_OWNER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/session.h"

#define ARCA_OWNER_CONFIG_MAX_BYTES (64 * 1024)
#define ARCA_OWNER_MAX_SUCCESSORS 16 /* backups, and upgrades, each */
#define ARCA_OWNER_MAX_WITNESSES 8
#define ARCA_OWNER_MAX_BOARD 16
#define ARCA_OWNER_URL_MAX 256

/* Which arcads may be registered as backups (backup-rule). */
enum arca_owner_backup_rule {
    ARCA_OWNER_BACKUP_SAME_MEASUREMENT = 0, /* default: this arcad's measurement or an upgrade */
    ARCA_OWNER_BACKUP_SAME_SIGNER,          /* SGX: same MRSIGNER, equal or newer ISVSVN */
};

struct arca_owner_config {
    bool has_audit;
    uint64_t audit_checkpoint_every;  /* 0 = not given */
    bool audit_export_checkpoints;    /* true unless the owner wrote false */
    char pcs_url[ARCA_OWNER_URL_MAX]; /* "" = not given */
    char kds_url[ARCA_OWNER_URL_MAX];
    uint8_t backups[ARCA_OWNER_MAX_SUCCESSORS][32]; /* CAS key ids */
    size_t n_backups;
    uint8_t upgrades[ARCA_OWNER_MAX_SUCCESSORS][32]; /* arcad measurements */
    size_t n_upgrades;
    char witnesses[ARCA_OWNER_MAX_WITNESSES][ARCA_OWNER_URL_MAX];
    size_t n_witnesses;
    enum arca_owner_backup_rule backup_rule;
    uint32_t board_require; /* 0 = no board: the provisioning client key is the owner */
    uint8_t board[ARCA_OWNER_MAX_BOARD][32];
    size_t n_board;
};

/*
 * Parses yaml[len] (file names it in diagnostics) into *out. 0, or a negative code with at
 * least one located error in diag (ARCA_ERR_TOO_LARGE above ARCA_OWNER_CONFIG_MAX_BYTES,
 * else ARCA_ERR_FORMAT); *out is zeroed on failure.
 */
int arca_owner_config_parse(const char *yaml, size_t len, const char *file,
                            struct arca_owner_config *out, struct arca_diag *diag);

/*
 * What arcad misses of c's requirements while it runs with the witnesses specs[0..n) (its
 * --witness SPECs): for the first witness kind c lists (tpm, arcad://) that no spec provides, a
 * sentence naming the kind and the flag to start arcad with; NULL when every listed kind runs
 * (or c is NULL). The sentence is static (never freed, safe to share between threads).
 */
const char *arca_owner_config_unmet(const struct arca_owner_config *c, const char *const *specs,
                                    size_t n);

#endif
