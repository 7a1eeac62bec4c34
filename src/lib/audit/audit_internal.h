/*
 * What the audit writer (audit.c), verifier (audit_verify.c) and file-set code (audit_set.c)
 * share: the signed-message layout and a whole-file reader. Not a public interface.
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

/* Lines signed and waiting for a flush (tests: to hold a group commit open until its batch
 * has formed). Thread-safe. */
struct arca_audit;
size_t arca_audit_pending(struct arca_audit *a);
/* Whether the last checkpoint attempt failed (tests: so that the next append retries it itself
 * and hears the failure). Thread-safe. */
bool arca_audit_checkpoint_failed(struct arca_audit *a);

#endif
