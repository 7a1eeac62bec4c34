/*
 * Start-up that does not grow with the log (audit_internal.h, docs/internals/audit.md
 * "Start-up"): the file read at open is verified only after the prefix that the store's latest
 * checkpoint names by length and SHA-256, or in full when that prefix does not apply.
 *
 * Why skipping the prefix is sound. The writer hashes exactly the bytes it puts into the
 * current file, in file order, and a checkpoint records (length, SHA-256) of the file up to its
 * line's newline; the checkpoint is sealed, integrity- and rollback-protected with the rest of
 * the store. Equal digests mean the prefix is byte for byte what this log wrote — and every
 * line of it was verified at an earlier open or signed by the writer itself — so checking its
 * signatures again proves nothing new. What the lines could still prove is a rolled-back store
 * (their epochs, check_not_rolled_back below): every prefix line was written before the
 * commit that stored this checkpoint, so its epoch is at most that commit, and a store that
 * holds this checkpoint is at or past that commit. A store put back to an older copy holds an
 * older checkpoint with a shorter prefix, so every line written after it — the ones whose
 * epochs expose it — is verified and checked in full. A file changed inside the prefix fails
 * the digest and is verified in full, so a tampered line is named by its line number as before.
 */
#include <string.h>

#include "audit/audit.h"
#include "audit/audit_internal.h"
#include "base/err.h"
#include "base/log.h"

/* Start of the line that holds p[i] (p[i] itself may be its newline). */
static size_t line_start(const char *p, size_t i)
{
    while (i > 0 && p[i - 1] != '\n')
        i--;
    return i;
}

static uint64_t count_lines(const char *p, size_t n)
{
    uint64_t lines = 0;
    for (const char *e = p + n; p < e; p++) {
        p = memchr(p, '\n', (size_t)(e - p));
        if (p == NULL)
            break;
        lines++;
    }
    return lines;
}

/*
 * Verifies file[s..) where s starts the checkpoint's own line L (its prefix's last line):
 * re-checking L under key proves the file is still this key's log even when nothing follows
 * it, and its signature must be the checkpoint's. The chain starts from line L-1's signature,
 * which L's signature covers. Returns 1 when that verified (res then counts lines as in the
 * whole file; *verified gets the lines checked), 0 when the prefix does not apply (L is the
 * first line, L-1 is not L's predecessor, or the tail does not verify), negative on errors.
 */
static int verify_tail(const char *p, size_t len, const struct arca_key *key,
                       const struct arca_store_checkpoint *cp, struct arca_audit_verify_result *res,
                       uint64_t *verified)
{
    const size_t end = (size_t)cp->prefix_len;
    if (p[end - 1] != '\n')
        return 0; /* not on a line boundary */
    const size_t s1 = line_start(p, end - 1);
    if (s1 == 0)
        return 0; /* the full check costs one line more */
    const size_t s0 = line_start(p, s1 - 1);
    struct arca_buf prev;
    arca_buf_init(&prev, ARCA_STORE_SIG_MAX);
    const char *content;
    size_t clen;
    uint64_t seq0 = 0;
    int rc = 0;
    if (arca_audit_line_parse(p + s0, s1 - 1 - s0, &content, &clen, &seq0, &prev, NULL) < 0 ||
        seq0 + 1 != cp->seq)
        goto out;
    struct arca_audit_verify_opts vo = {.key = key,
                                        .checkpoints = cp,
                                        .checkpoint_count = 1,
                                        .after_seq = seq0,
                                        .after_sig = prev.data,
                                        .after_sig_len = prev.len};
    ARCA_GUARD(rc, arca_audit_verify_buf(p + s1, len - s1, &vo, res), out);
    if (!res->ok)
        goto out;
    *verified = res->lines;
    const uint64_t before = count_lines(p, s1);
    res->lines += before;
    if (res->max_epoch_line > 0)
        res->max_epoch_line += before;
    rc = 1;
out:
    arca_buf_free(&prev);
    if (rc == 0)
        arca_err_clear(); /* a prefix that does not apply is no error: the full check runs */
    return rc;
}

/* Adds p[0..n) to the running hash h; a failure only drops the hash (*ok), never the open. */
static void hash_more(struct arca_hash_ctx *h, bool *ok, const void *p, size_t n)
{
    if (h != NULL && *ok && arca_hash_ctx_update(h, p, n) < 0) {
        *ok = false;
        arca_err_clear();
    }
}

/*
 * The log is evidence of how far the store had come: a line with epoch E was written after
 * commit E was durable. A store behind that is an older copy of the database and key-store
 * put back together, which their own chain and seal cannot show (DESIGN §7).
 */
static int check_not_rolled_back(struct arca_store *store, const char *path,
                                 const struct arca_audit_verify_result *res)
{
    uint64_t commit = 0;
    ARCA_TRY(arca_store_state(store, &commit, NULL));
    ARCA_ENSURE(res->max_epoch <= commit, ARCA_ERR_TAMPERED,
                "state rolled back: audit log %s line %llu was written at store commit %llu, "
                "but the store is at commit %llu (the database and key-store were replaced by "
                "an older copy)",
                path, (unsigned long long)res->max_epoch_line, (unsigned long long)res->max_epoch,
                (unsigned long long)commit);
    return 0;
}

/* arca_audit_verify_open without the verdict: 0 when the check ran (res->ok says how). */
static int verify_file(const char *path, const struct arca_buf *file, const struct arca_key *key,
                       const struct arca_store_checkpoint *cp, struct arca_hash_ctx *h, bool *h_ok,
                       struct arca_audit_verify_result *res, uint64_t *verified)
{
    const char *p = (const char *)file->data;
    size_t hashed = 0;
    bool differs = false;
    int rc = 0;
    *verified = 0;
    if (cp != NULL && cp->prefix_len > 0 && cp->prefix_len <= file->len && h != NULL && *h_ok) {
        uint8_t d[ARCA_SHA256_LEN] = {0};
        hashed = (size_t)cp->prefix_len;
        hash_more(h, h_ok, p, hashed);
        if (*h_ok && arca_hash_ctx_peek(h, d) < 0) {
            *h_ok = false;
            arca_err_clear();
        }
        if (*h_ok && arca_memeq(d, cp->prefix_sha256, sizeof(d)))
            rc = verify_tail(p, file->len, key, cp, res, verified);
        else
            differs = *h_ok;
    }
    hash_more(h, h_ok, p + hashed, file->len - hashed);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    struct arca_audit_verify_opts vo = {.key = key,
                                        .checkpoints = cp,
                                        .checkpoint_count = cp != NULL ? 1 : 0,
                                        .allow_continuation = true};
    ARCA_TRY(arca_audit_verify_buf(p, file->len, &vo, res));
    *verified = res->lines;
    /* a checkpoint older than the file's first line is the previous file's (a rotation whose
     * checkpoint did not land): its prefix was never about this file */
    if (res->ok && differs && res->first_seq <= cp->seq)
        arca_warn("audit",
                  "audit log %s: its first %llu bytes differ from the store's checkpoint of line "
                  "%llu, yet every line verifies; opened after checking the whole file",
                  path, (unsigned long long)cp->prefix_len, (unsigned long long)cp->seq);
    return 0;
}

int arca_audit_verify_open(const char *path, const struct arca_buf *file,
                           const struct arca_key *key, struct arca_store *store,
                           const struct arca_store_checkpoint *cp, struct arca_hash_ctx *h,
                           bool *h_ok, struct arca_audit_verify_result *res, uint64_t *verified)
{
    ARCA_TRY(verify_file(path, file, key, cp, h, h_ok, res, verified));
    ARCA_ENSURE(res->ok, ARCA_ERR_TAMPERED, "audit log %s: line %llu: %s", path,
                (unsigned long long)res->bad_line, res->reason);
    return store != NULL ? check_not_rolled_back(store, path, res) : 0;
}
