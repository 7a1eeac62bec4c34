/*
 * The signed audit log (DESIGN §7; the established CAS's S-AUDIT).
 *
 * A log is a file of JSON lines, one per event. Each line is
 *
 *   {"epoch":41,"event":"session_created","fields":{...},"seq":12,"time":"2026-11-26T14:00:00Z","sig":"B64"}
 *
 * epoch is the store's commit number when the line was written (absent when the log has no
 * store). Epochs never decrease along a log, and at open the store must be at least at the
 * highest epoch the log shows: a database and key-store rolled back together to an older
 * consistent copy are refused while the log that outlived them is still there (DESIGN §7,
 * docs/state-protection.md). A log rolled back with them needs a freshness witness.
 *
 * where everything before `,"sig":` (plus the closing brace) is the line's canonical content
 * (jansson compact output with sorted keys) and sig is arca_sign(identity key, SHA-256) over
 *   "arca-audit-v1" NUL || u32be len(prev sig) || prev sig || content
 * with prev sig empty for seq 1. Sequence numbers start at 1 and grow by 1, across restarts.
 * Every open of the log writes an "audit_opened" line carrying the signing key's SPKI (base64
 * DER) so a verifier can check the key against a pinned CAS key hash.
 *
 * Checkpoints (seq, signature) are kept in the sealed store: the latest one is refreshed every
 * checkpoint_every lines, on arca_audit_checkpoint and on close; every 250th line is also kept
 * as a history checkpoint. At open the file's last line is compared with the store's latest
 * checkpoint, so a truncated or rolled-back file is refused, and the store's commit number with
 * the log's highest epoch, so a rolled-back store is refused. The latest checkpoint also holds
 * the length and SHA-256 of the current file up to its line, so the open verifies signatures
 * only after that prefix.
 *
 * Audit lines must never hold secret values: callers pass names, hashes and key ids only.
 */
#ifndef ARCA_AUDIT_AUDIT_H
#define ARCA_AUDIT_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/buf.h"
#include "crypto/crypto.h"
#include "store/store.h"

/* Event names the server uses (free text is allowed too: [a-z0-9_]+). */
#define ARCA_AUDIT_OPENED "audit_opened"
#define ARCA_AUDIT_STARTED "cas_started"
#define ARCA_AUDIT_STOPPED "cas_stopped"
#define ARCA_AUDIT_SESSION_CREATED "session_created"
#define ARCA_AUDIT_SESSION_UPDATED "session_updated"
#define ARCA_AUDIT_SESSION_READ "session_read"
#define ARCA_AUDIT_ACCESS_DENIED "access_denied"
#define ARCA_AUDIT_ATTESTATION "attestation"

/* Fields of the audit_opened line that starts a file after a rotation (arca_audit_rotate). */
#define ARCA_AUDIT_ROTATED_FROM "rotated_from"
#define ARCA_AUDIT_PREVIOUS_SEQ "previous_seq"
#define ARCA_AUDIT_PREVIOUS_SIG "previous_sig"

#define ARCA_AUDIT_HISTORY_EVERY 250
#define ARCA_AUDIT_LINE_MAX ((size_t)1 << 20) /* 1 MiB per line */

struct arca_audit_sink;

struct arca_audit_options {
    const char *path;             /* the log file (appended to; created if absent) */
    struct arca_key *key;         /* signing key pair (borrowed; keep it alive until close) */
    struct arca_store *store;     /* checkpoints (borrowed); NULL = no checkpoints (tests) */
    unsigned checkpoint_every;    /* refresh the latest checkpoint every N lines (0 = 1) */
    bool fsync_each;              /* durable lines: arca_audit_append returns once its line is
                                     fsynced; lines that arrive together share one write and
                                     one fsync (group commit). Default false: the checkpoint
                                     write syncs */
    uint64_t rotate_size;         /* rotate (arca_audit_rotate) once the file reaches this many
                                  bytes; 0 = only when asked */
    struct arca_audit_sink *sink; /* optional copy of each line (borrowed; outlives the log) */
    /* tests only (NULL in production): asked before each write(2) ("write") and fsync(2)
     * ("fsync") of the log file; a non-zero answer is taken as that call's errno, the call
     * is not made. It may block (to hold a batch open) but must not call into the log. */
    int (*fault)(void *arg, const char *op);
    void *fault_arg;
};

struct arca_audit;

/*
 * Opens the log: verifies the existing file (signatures, sequence; see arca_audit_verify_file)
 * — only the lines after the prefix the store's latest checkpoint names by length and SHA-256
 * when the file starts with it, the whole file otherwise (docs/internals/audit.md
 * "Start-up") — checks its end against the store's latest checkpoint (refuses with
 * ARCA_ERR_TAMPERED naming the line if the file is shorter or differs) and the store's commit
 * number against the log's highest epoch (ARCA_ERR_TAMPERED "state rolled back" naming the
 * line), then appends an "audit_opened" line. *out freed with arca_audit_close.
 */
int arca_audit_open(const struct arca_audit_options *opt, struct arca_audit **out);

/*
 * Appends one signed line for event with fields (a JSON object, borrowed, may be NULL;
 * must not hold secrets). Thread-safe. *seq_out (may be NULL) gets the line's seq.
 * Returns once the line is in the file (with fsync_each: durable). Lines of concurrent
 * callers are group-committed: signed in order, then written together with one write(2) (and
 * one fsync) by one of them; a lone line is written at once. When that write or fsync fails,
 * every caller whose line it held fails (ARCA_ERR_IO naming the call) and the log refuses
 * further appends (ARCA_ERR_IO) rather than leave a gap; the file stays verifiable.
 * A checkpoint the line makes due (checkpoint_every > 1, not fsync_each) is written by the
 * log's checkpoint thread, not waited for; after a failed checkpoint the next append retries
 * it itself and returns its error (fail-closed). With checkpoint_every = 1 or fsync_each every
 * append waits for its checkpoint.
 */
int arca_audit_append(struct arca_audit *a, const char *event, const json_t *fields,
                      uint64_t *seq_out);
/*
 * As arca_audit_append, and returns only once the line is durable (fsynced) whatever
 * fsync_each says, and every checkpoint due by its line is in the store: for an event whose
 * answer must wait for its record (an attestation).
 * Concurrent durable lines share one fsync; lines of plain appends that are in the file by
 * then ride along.
 */
int arca_audit_append_durable(struct arca_audit *a, const char *event, const json_t *fields,
                              uint64_t *seq_out);
/*
 * Rotates the log: the current file becomes PATH.SEQ (SEQ = its last line's seq, 20 digits, so
 * the names sort in log order; its name goes to archived) and a new PATH starts with an
 * audit_opened line whose fields also name that file (rotated_from) and the previous line
 * (previous_seq, previous_sig), so the chain continues across files; the new line is
 * checkpointed before returning. Thread-safe. On failure the log goes on in the old file.
 */
int arca_audit_rotate(struct arca_audit *a, char *archived, size_t archived_len);
/* Records the latest line as the store's checkpoint now (durable). Thread-safe. */
int arca_audit_checkpoint(struct arca_audit *a);
/* Writes the checkpoint, closes the file. NULL is fine. */
void arca_audit_close(struct arca_audit *a);

/* ---- a copy for syslog / journald (audit_sink.c) ------------------------------------------- */

/*
 * Opens a unix datagram socket connected to socket_path (/dev/log for syslog or journald) for
 * arca_audit_options.sink; each line then goes as "<30>IDENT[PID]: LINE" (LOG_DAEMON, info).
 * Fails (ARCA_ERR_IO naming the path) when nothing listens there. *out freed with
 * arca_audit_sink_free. Lines hold no secrets (see above), so neither does the copy.
 */
int arca_audit_sink_open(const char *socket_path, const char *ident, struct arca_audit_sink **out);
/* Sends one line (without its newline); never blocks; a line that cannot go is counted. */
void arca_audit_sink_send(struct arca_audit_sink *s, const char *line, size_t len);
/* Lines that could not be sent so far (receiver full, gone, or a line too long). */
uint64_t arca_audit_sink_dropped(const struct arca_audit_sink *s);
void arca_audit_sink_free(struct arca_audit_sink *s);

/* ---- verification ------------------------------------------------------------------------- */

struct arca_audit_verify_opts {
    const struct arca_key *key; /* public key to verify with; NULL = the key of the log's
                                    audit_opened lines (then cas_key may pin it) */
    const uint8_t *cas_key;     /* optional 32-byte SHA-256 SPKI the key must have */
    const struct arca_store_checkpoint *checkpoints; /* optional: each must match a line */
    size_t checkpoint_count;
    bool allow_continuation; /* the log may start with the rotation line of a later file
                                (audit_opened with previous_seq/previous_sig) instead of seq 1 */
    /* Resume (arca_audit_open, with key set): data is the rest of a log whose line after_seq
     * (> 0) had signature after_sig, already known good; its first line must be after_seq + 1
     * and chain from after_sig. Line numbers in the result count from data's first line. */
    uint64_t after_seq;
    const uint8_t *after_sig;
    size_t after_sig_len;
};

struct arca_audit_verify_result {
    bool ok;
    uint64_t lines;     /* lines read */
    uint64_t first_seq; /* seq of the first line (1 unless a continued rotated file) */
    uint64_t last_seq;  /* seq of the last good line */
    uint64_t bad_line;  /* 1-based line number where it breaks (0 if ok or not line-bound) */
    char reason[512];   /* why it breaks ("" if ok) */
    uint8_t key_id[ARCA_SHA256_LEN]; /* SHA-256 SPKI of the key that verified */
    size_t last_sig_len;
    uint8_t last_sig[ARCA_STORE_SIG_MAX];
    uint64_t max_epoch;      /* highest store epoch a line carries (0 if none) */
    uint64_t max_epoch_line; /* 1-based line that carries it (0 if no line has an epoch) */
};

/*
 * Verifies a whole log held in memory. Returns 0 when the check ran (res->ok says whether the
 * log verified; res->bad_line and res->reason say where and why not), negative on bad
 * arguments or allocation failure. Detects changed, removed, inserted, reordered lines, a
 * truncated last line and (with checkpoints) a truncated or rolled-back file.
 */
int arca_audit_verify_buf(const void *data, size_t len, const struct arca_audit_verify_opts *opts,
                          struct arca_audit_verify_result *res);
/* As arca_audit_verify_buf on a file (ARCA_ERR_IO if it cannot be read). */
int arca_audit_verify_file(const char *path, const struct arca_audit_verify_opts *opts,
                           struct arca_audit_verify_result *res);

/* ---- a rotated log as a set of files (audit_set.c) --------------------------------------------- */

struct arca_audit_set {
    char **paths;        /* in log order */
    uint64_t *first_seq; /* seq of each file's first line (0: empty or not an audit line) */
    size_t n;
};

/*
 * Expands args (files and directories) into *out: a file as given (in the given order, so a
 * wrong order is reported by the verifier), a directory as its audit files (regular files whose
 * first line is an audit line; others such as arca.db are skipped) ordered by their first
 * sequence number. Freed with arca_audit_set_free (also on failure: *out is then empty).
 */
int arca_audit_set_expand(const char *const *args, size_t n, struct arca_audit_set *out);
void arca_audit_set_free(struct arca_audit_set *set);

struct arca_audit_set_result {
    struct arca_audit_verify_result v; /* over the files as one log; v.bad_line counts across */
    size_t file;                       /* index of the file where it breaks (if !v.ok) */
    uint64_t file_line;                /* 1-based line in that file */
};

/*
 * Verifies the files of set as one log (the chain continues across rotated files). A break is
 * named by file and line; a missing middle file or files out of order are named as such. The
 * first file may be a continued rotated file only with opts->allow_continuation. Returns 0 when
 * the check ran (res->v.ok says whether it verified), negative when a file cannot be read.
 */
int arca_audit_set_verify(const struct arca_audit_set *set,
                          const struct arca_audit_verify_opts *opts,
                          struct arca_audit_set_result *res);

/*
 * Parses one line (without its newline) into its content bytes, seq and signature, checking
 * the framing and JSON shape (not the signature). For the verifier and the fuzzer. *content
 * points into line. *obj (may be NULL) gets the parsed object (json_decref).
 */
int arca_audit_line_parse(const char *line, size_t len, const char **content, size_t *content_len,
                          uint64_t *seq, struct arca_buf *sig, json_t **obj);

#endif
