/*
 * What the audit writer (audit.c), verifier (audit_verify.c) and file-set code (audit_set.c)
 * share: the signed-message layout and a whole-file reader; the open-time check (audit_prefix.c).
 * Not a public interface.
 */
#ifndef ARCA_AUDIT_INTERNAL_H
#define ARCA_AUDIT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define ARCA_AUDIT_SIG_DOMAIN "arca-audit-v1"
#define ARCA_AUDIT_SIG_MARK ",\"sig\":\""

/* Appends the signed message domain || u32be len(prev) || prev || content to msg. */
int arca_audit_sig_message(const uint8_t *prev, size_t prev_len, const char *content, size_t clen,
                           struct arca_buf *msg);
/* Appends everything readable from fd to out (path names the file in errors). */
int arca_audit_read_fd(const char *path, int fd, struct arca_buf *out);

/*
 * Verifies file, the current audit file as read at open (path names it), signed by key, against
 * the store's latest checkpoint cp (NULL = none): when cp carries a prefix (length, SHA-256)
 * that the file starts with, only the lines from cp's own line on are verified (audit_prefix.c
 * says why that is sound); otherwise, or when that tail does not verify, the whole file as
 * before, so a break is named by its line number (a prefix that differed but whose file then
 * verifies is logged as a warning). Then, with a store, refuses a store behind the log's
 * highest epoch. Also feeds every byte of file to the running hash h (NULL = none; *h_ok goes
 * false, and stays so, if hashing fails). res as arca_audit_verify_buf's over the whole file
 * (line numbers count from its first line); *verified gets the lines whose signatures were
 * checked. 0 when the log may be continued; ARCA_ERR_TAMPERED ("audit log PATH: line N: …",
 * "state rolled back: …") or another negative code otherwise.
 */
struct arca_hash_ctx;
struct arca_key;
struct arca_store;
struct arca_store_checkpoint;
struct arca_audit_verify_result;
int arca_audit_verify_open(const char *path, const struct arca_buf *file,
                           const struct arca_key *key, struct arca_store *store,
                           const struct arca_store_checkpoint *cp, struct arca_hash_ctx *h,
                           bool *h_ok, struct arca_audit_verify_result *res, uint64_t *verified);

/* Lines whose signatures arca_audit_open checked (tests: that a checkpoint's prefix spared the
 * others). */
struct arca_audit;
uint64_t arca_audit_open_verified(struct arca_audit *a);

/* Lines signed and waiting for a flush (tests: to hold a group commit open until its batch
 * has formed). Thread-safe. */
size_t arca_audit_pending(struct arca_audit *a);
/* Whether the last checkpoint attempt failed (tests: so that the next append retries it itself
 * and hears the failure). Thread-safe. */
bool arca_audit_checkpoint_failed(struct arca_audit *a);

#endif
