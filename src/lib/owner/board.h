/*
 * The owner board (docs/operator-lifecycle.md "Owner board"): an owner configuration may name a
 * require-at-least-N board of owner keys instead of a single owner. Every owner operation that
 * changes something then needs N distinct board signatures over its operation message, built
 * like the governance approval message (govern/approval.h) and signed the same way (Ed25519,
 * ECDSA P-256/P-384 over the 32 bytes):
 *
 *   message = SHA-256( lv("arca-owner-op-v1") || lv(CAS key id) || lv(operation name)
 *                      || lv(canonical argument bytes) || lv(counter, 8 bytes big-endian) )
 *
 * lv(x) = 4-byte big-endian length || x. The counter is arcad's owner-op counter (GET
 * /v1/owner "op_counter"); every approved operation consumes it, so a set of signatures is
 * good for one operation once (replay refused). The argument bytes per operation:
 *   config            the new owner configuration YAML, as uploaded
 *   register-upgrade  the 32-byte measurement
 *   register-backup   the backup's CAS key id (32) || its session-encryption key (32)
 *   revoke-backup     the 32-byte CAS key id
 *   rotate-key, snapshot  nothing
 */
#ifndef ARCA_OWNER_BOARD_H
#define ARCA_OWNER_BOARD_H

#include <stddef.h>
#include <stdint.h>

#include "govern/approval.h"
#include "owner/config.h"

#define ARCA_OWNER_OP_DOMAIN "arca-owner-op-v1"

/* The operation message into out (32 bytes). */
int arca_owner_op_message(const uint8_t cas_key[32], const char *op, const void *args,
                          size_t args_len, uint64_t counter, uint8_t out[32]);

/*
 * Verifies sigs[0..n) over msg and counts the distinct board members of cfg among the signers.
 * 0 if at least cfg->board_require signed. Otherwise ARCA_ERR_DENIED with a detail naming what
 * (the operation), how many signed and the board keys (hex) that did not; a signature that does
 * not verify (another message: e.g. a replay under an older counter) is ARCA_ERR_SIGNATURE, a
 * signer outside the board ARCA_ERR_DENIED naming it.
 */
int arca_owner_board_check(const struct arca_owner_config *cfg, const uint8_t msg[32],
                           const struct arca_approval_sig *sigs, size_t n, const char *what);

#endif
