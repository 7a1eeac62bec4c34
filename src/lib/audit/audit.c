/*
 * The signed audit log (audit.h): writer, checkpoints and rotation. The verifier is
 * audit_verify.c, the rotated file set audit_set.c, the check of the file at open
 * audit_prefix.c. Over ~800 lines on purpose: group commit, the checkpoint hand-off and
 * rotation share struct arca_audit's two mutexes and their order, which read best in one file.
 */
#include "audit/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit_internal.h"
#include "base/enc.h"
#include "base/err.h"
#include "base/log.h"
#include "base/time.h"

struct arca_audit {
    pthread_mutex_t mu;
    int fd;
    char *path;
    struct arca_key *key;
    struct arca_store *store;
    unsigned every;
    bool fsync_each;
    bool broken;
    struct arca_audit_sink *sink; /* borrowed; written under mu, so in log order */
    uint64_t bytes;               /* size of the current file (under mu) */
    /* SHA-256 of the current file's bytes, in file order (under mu; NULL without a store): a
     * checkpoint records it with bytes, so the next open verifies only the lines after it
     * (audit_prefix.c). fhash_ok goes false if hashing fails: checkpoints then carry no prefix. */
    struct arca_hash_ctx *fhash;
    bool fhash_ok;
    uint64_t open_verified; /* lines whose signatures the open checked (tests) */
    uint64_t rotate_size;   /* rotate once the file reaches this size (0 = never) */
    uint64_t seq;
    size_t last_sig_len;
    uint8_t last_sig[ARCA_STORE_SIG_MAX];
    uint64_t since_cp; /* lines since the last checkpoint (under mu) */
    bool hist_pending; /* a 250th line waits for its history checkpoint (under mu) */
    struct arca_store_checkpoint hist;
    /* group checkpointing: one thread at a time writes a checkpoint covering every line
     * written so far; appenders whose line it covers just wait for it (under cp_mu) */
    pthread_mutex_t cp_mu;
    pthread_cond_t cp_cond;
    bool cp_running;
    uint64_t cp_done; /* highest seq known to be checkpointed */
    /* background checkpoints (under cp_mu): a plain line that makes a checkpoint due hands it
     * to cp_thread (cp_due) instead of waiting for a store commit; a durable line, a rotation
     * and arca_audit_checkpoint still wait for it. After a failed background checkpoint
     * (cp_failed) appenders checkpoint themselves again, so the failure reaches a caller. */
    pthread_cond_t cp_kick;
    pthread_t cp_thread;
    bool cp_thread_on;
    bool cp_stop;
    bool cp_failed;
    uint64_t cp_due; /* highest seq whose checkpoint was handed to cp_thread */
    /* group commit (under mu): a line is signed into pend, in log order, and its appender
     * waits until a flush covers it. One thread at a time writes (flushing): it takes every
     * pending line and writes them with one write(2), with mu released; lines signed meanwhile
     * form the next batch. One thread at a time fsyncs (syncing), also with mu released, for
     * every line written before it started; a plain line never waits for an fsync. A lone line
     * is written at once by its own appender (no timer). A failed write or fsync breaks the
     * log (the chain has moved past its lines), so it fails every appender whose line is not
     * written (write) or not durable (fsync) yet. */
    /* sign_line's scratch (under mu): kept to spare four allocations per line */
    struct arca_buf content, msg, line, sig;
    struct arca_buf pend;  /* signed lines not yet handed to a flush */
    struct arca_buf batch; /* the lines being written (the flushing thread's only) */
    bool flushing;
    bool syncing;
    bool rotating;    /* a rotation waits for the file: no new lines meanwhile */
    uint64_t written; /* highest seq in the file */
    uint64_t synced;  /* highest seq known durable (fsynced) */
    char fail[256];   /* why the log broke ("" while it is not broken) */
    pthread_cond_t flush_cond;
    int (*fault)(void *arg, const char *op); /* tests: arca_audit_options.fault */
    void *fault_arg;
};

/* ---- writer ---------------------------------------------------------------------------------- */

/* Under mu: bytes that go into the current file (in file order) join its running hash. A
 * failure only costs the later checkpoints their prefix: the next open verifies in full. */
static void hash_file_bytes(struct arca_audit *a, const void *p, size_t n)
{
    if (a->fhash != NULL && a->fhash_ok && arca_hash_ctx_update(a->fhash, p, n) < 0) {
        a->fhash_ok = false;
        arca_err_clear();
    }
}

/* json_dump_callback sink: appends to the arca_buf arg. */
static int dump_to_buf(const char *p, size_t n, void *arg)
{
    return arca_buf_put(arg, p, n) == 0 ? 0 : -1;
}

/*
 * Under mu: builds the next signed line of event with fields (see audit.h) and appends it,
 * newline included, to dst; then advances the chain (seq, last signature, line counters). On
 * failure dst and the chain are unchanged.
 *
 * The content is the jansson JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII dump of
 * {epoch, event, fields, seq, time}, written here member by member in that (sorted) order with
 * only fields dumped by jansson: the same bytes without an object, a deep copy of the fields
 * and a key sort per line. event is [a-z0-9_]+ and time RFC 3339, so neither needs escaping.
 * The scratch buffers (content, msg, line) are the log's, reused under mu.
 */
static int sign_line(struct arca_audit *a, const char *event, const json_t *fields,
                     struct arca_buf *dst)
{
    struct arca_buf *c = &a->content, *msg = &a->msg, *line = &a->line, *sig = &a->sig;
    arca_buf_reset(c);
    arca_buf_reset(msg);
    arca_buf_reset(line);
    arca_buf_reset(sig);
    char now[ARCA_TIME_RFC3339_LEN];
    arca_time_format_rfc3339(arca_time_now(), now);
    ARCA_ENSURE(fields == NULL || json_is_object(fields), ARCA_ERR_INVALID_ARG,
                "audit: fields must be a JSON object");
    if (a->store != NULL) {
        /* The store's commit number when the line is written: every commit it counts is
         * durable already, so the line proves the store reached at least this state. */
        uint64_t epoch = 0;
        ARCA_TRY(arca_store_state(a->store, &epoch, NULL));
        ARCA_TRY(arca_buf_printf(
            c, "{\"epoch\":%lld,\"event\":\"%s\",\"fields\":", (long long)epoch, event));
    } else {
        ARCA_TRY(arca_buf_printf(c, "{\"event\":\"%s\",\"fields\":", event));
    }
    if (fields == NULL)
        ARCA_TRY(arca_buf_put_str(c, "{}"));
    else
        ARCA_ENSURE(json_dump_callback(fields, dump_to_buf, c,
                                       JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII) == 0,
                    ARCA_ERR_ALLOC, "audit: line");
    ARCA_TRY(arca_buf_printf(c, ",\"seq\":%lld,\"time\":\"%s\"}", (long long)(a->seq + 1), now));
    ARCA_TRY(
        arca_audit_sig_message(a->last_sig, a->last_sig_len, (const char *)c->data, c->len, msg));
    ARCA_TRY(arca_sign(a->key, ARCA_SHA256, msg->data, msg->len, sig));
    ARCA_ENSURE(sig->len <= ARCA_STORE_SIG_MAX, ARCA_ERR_INTERNAL, "audit: signature of %zu bytes",
                sig->len);
    ARCA_TRY(arca_buf_put(line, c->data, c->len - 1));
    ARCA_TRY(arca_buf_put_str(line, ARCA_AUDIT_SIG_MARK));
    ARCA_TRY(arca_base64_encode(line, sig->data, sig->len));
    ARCA_TRY(arca_buf_put_str(line, "\"}\n"));
    ARCA_TRY(arca_buf_put(dst, line->data, line->len));
    hash_file_bytes(a, line->data, line->len);
    a->seq++;
    a->bytes += line->len;
    memcpy(a->last_sig, sig->data, sig->len);
    a->last_sig_len = sig->len;
    a->since_cp++;
    return 0;
}

/* Writes all of p[0..n) to fd; 0 or the errno of the failed write (*done: bytes written). */
static int write_all(struct arca_audit *a, int fd, const uint8_t *p, size_t n, size_t *done)
{
    *done = 0;
    int e = a->fault != NULL ? a->fault(a->fault_arg, "write") : 0;
    if (e != 0)
        return e;
    while (*done < n) {
        ssize_t w = write(fd, p + *done, n - *done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return errno;
        *done += (size_t)w;
    }
    return 0;
}

/* fsync(2) of the log file; 0 or its errno. */
static int sync_fd(struct arca_audit *a, int fd)
{
    int e = a->fault != NULL ? a->fault(a->fault_arg, "fsync") : 0;
    if (e == 0 && fsync(fd) != 0)
        e = errno;
    return e;
}

/* Sends each line of p[0..n) (newline-terminated lines) to the syslog copy. */
static void sink_lines(struct arca_audit *a, const uint8_t *p, size_t n)
{
    while (a->sink != NULL && n > 0) {
        const uint8_t *nl = memchr(p, '\n', n);
        size_t len = nl != NULL ? (size_t)(nl - p) : n;
        arca_audit_sink_send(a->sink, (const char *)p, len);
        size_t step = nl != NULL ? len + 1 : len;
        p += step;
        n -= step;
    }
}

/* Under mu: marks the log broken after the failed op (errno e), for every waiter. */
static void break_log(struct arca_audit *a, const char *op, int e)
{
    /* the chain has moved past the failed lines: a later line would follow a gap */
    a->broken = true;
    snprintf(a->fail, sizeof(a->fail), "audit log %s: %s: %s", a->path, op, strerror(e));
}

/* Under mu, not flushing: writes every pending line (see struct arca_audit) with one write(2),
 * releasing mu meanwhile. A failure breaks the log. */
static void write_batch(struct arca_audit *a)
{
    a->flushing = true;
    struct arca_buf t = a->batch;
    a->batch = a->pend;
    a->pend = t;
    const uint64_t last = a->seq;
    pthread_mutex_unlock(&a->mu);

    size_t done = 0;
    int e = a->batch.len > 0 ? write_all(a, a->fd, a->batch.data, a->batch.len, &done) : 0;
    if (e == 0)
        sink_lines(a, a->batch.data, a->batch.len);
    arca_buf_reset(&a->batch);

    pthread_mutex_lock(&a->mu);
    a->flushing = false;
    if (e != 0)
        break_log(a, "write", e);
    else
        a->written = last;
    pthread_cond_broadcast(&a->flush_cond);
}

/* Under mu, not syncing: fsyncs every line written so far, releasing mu meanwhile (a write of
 * later lines may run alongside; they wait for the next fsync). A failure breaks the log. */
static void sync_written(struct arca_audit *a)
{
    a->syncing = true;
    const uint64_t upto = a->written;
    pthread_mutex_unlock(&a->mu);
    int e = sync_fd(a, a->fd);
    pthread_mutex_lock(&a->mu);
    a->syncing = false;
    if (e != 0)
        break_log(a, "fsync", e);
    else if (upto > a->synced)
        a->synced = upto;
    pthread_cond_broadcast(&a->flush_cond);
}

/* Under mu: returns once line upto is in the file (sync: durable too), writing the pending
 * lines or fsyncing itself when no other thread does; fails when the log broke before that. */
static int flush_upto(struct arca_audit *a, uint64_t upto, bool sync)
{
    for (;;) {
        if ((sync ? a->synced : a->written) >= upto)
            return 0;
        if (a->broken)
            return arca_err_set(ARCA_ERR_IO, "%s",
                                a->fail[0] != '\0' ? a->fail
                                                   : "audit log: a previous write failed");
        if (a->written < upto) {
            if (a->flushing)
                pthread_cond_wait(&a->flush_cond, &a->mu);
            else
                write_batch(a);
        } else if (a->syncing) {
            pthread_cond_wait(&a->flush_cond, &a->mu);
        } else {
            sync_written(a);
        }
    }
}

/* Makes sure a checkpoint covering seq upto is in the store (durably) before returning. */
static int checkpoint_upto(struct arca_audit *a, uint64_t upto)
{
    if (a->store == NULL)
        return 0;
    int rc = 0;
    pthread_mutex_lock(&a->cp_mu);
    while (a->cp_done < upto) {
        if (a->cp_running) {
            pthread_cond_wait(&a->cp_cond, &a->cp_mu);
            continue;
        }
        a->cp_running = true;
        pthread_mutex_unlock(&a->cp_mu);

        struct arca_store_checkpoint cp, hist;
        bool with_hist;
        memset(&cp, 0, sizeof(cp));
        pthread_mutex_lock(&a->mu);
        cp.seq = a->seq;
        cp.sig_len = a->last_sig_len;
        memcpy(cp.sig, a->last_sig, a->last_sig_len);
        /* the file up to line seq, which is then its last line */
        if (a->fhash != NULL && a->fhash_ok && a->bytes > 0) {
            if (arca_hash_ctx_peek(a->fhash, cp.prefix_sha256) == 0)
                cp.prefix_len = a->bytes;
            else
                arca_err_clear();
        }
        with_hist = a->hist_pending;
        hist = a->hist;
        a->hist_pending = false;
        a->since_cp = 0;
        /* the lines must be on disk before the store says they exist */
        rc = flush_upto(a, cp.seq, true);
        pthread_mutex_unlock(&a->mu);
        cp.time = arca_time_now();
        hist.time = cp.time;

        if (rc == 0) /* one store commit for both */
            rc = arca_store_checkpoint_put_pair(a->store, &cp, with_hist ? &hist : NULL);
        if (rc < 0) {
            pthread_mutex_lock(&a->mu);
            a->since_cp = a->every; /* retry at the next line */
            if (with_hist && !a->hist_pending) {
                a->hist_pending = true;
                a->hist = hist;
            }
            pthread_mutex_unlock(&a->mu);
        }

        pthread_mutex_lock(&a->cp_mu);
        a->cp_running = false;
        a->cp_failed = rc < 0;
        if (rc == 0 && cp.seq > a->cp_done)
            a->cp_done = cp.seq;
        pthread_cond_broadcast(&a->cp_cond);
        if (rc < 0)
            break;
    }
    pthread_mutex_unlock(&a->cp_mu);
    return rc;
}

/* The background checkpoint thread: writes each checkpoint handed to it (cp_due). */
static void *cp_main(void *arg)
{
    struct arca_audit *a = arg;
    pthread_mutex_lock(&a->cp_mu);
    for (;;) {
        while (!a->cp_stop && a->cp_due <= a->cp_done)
            pthread_cond_wait(&a->cp_kick, &a->cp_mu);
        if (a->cp_stop)
            break;
        const uint64_t upto = a->cp_due;
        pthread_mutex_unlock(&a->cp_mu);
        int rc = checkpoint_upto(a, upto);
        if (rc < 0)
            arca_error("audit", "checkpoint of audit line %llu failed (the next line retries): %s",
                       (unsigned long long)upto, arca_err_detail());
        pthread_mutex_lock(&a->cp_mu);
        if (rc < 0)
            a->cp_due = a->cp_done; /* the next appender checkpoints itself (cp_failed) */
    }
    pthread_mutex_unlock(&a->cp_mu);
    return NULL;
}

/*
 * After an appender's line seq is written: the checkpoint it needs (need_cp: its line made one
 * due) goes to the background thread for a plain line, and is waited for by a durable one,
 * which also waits for every checkpoint handed off before it. So a durable line returns only
 * once each checkpoint due by its line is in the store, as before; a plain line (a session
 * read on arcad's event loop) never waits for a store commit unless the last
 * checkpoint failed, when it retries it itself and hears the failure.
 */
static int checkpoint_after(struct arca_audit *a, uint64_t seq, bool need_cp, bool durable)
{
    if (a->store == NULL || (!need_cp && !durable))
        return 0;
    uint64_t upto = need_cp ? seq : 0;
    pthread_mutex_lock(&a->cp_mu);
    if (need_cp && !durable && a->cp_thread_on && !a->cp_failed) {
        if (seq > a->cp_due)
            a->cp_due = seq;
        pthread_cond_signal(&a->cp_kick);
        upto = 0;
    } else if (durable && a->cp_due > a->cp_done && a->cp_due > upto) {
        upto = a->cp_due;
    }
    pthread_mutex_unlock(&a->cp_mu);
    return upto > 0 ? checkpoint_upto(a, upto) : 0;
}

/* Under mu, after a line: every 250th line makes its history checkpoint due. */
static void note_history(struct arca_audit *a)
{
    if (a->seq % ARCA_AUDIT_HISTORY_EVERY != 0)
        return;
    memset(&a->hist, 0, sizeof(a->hist));
    a->hist.seq = a->seq;
    a->hist.sig_len = a->last_sig_len;
    memcpy(a->hist.sig, a->last_sig, a->last_sig_len);
    a->hist_pending = true;
}

/* The fields of an audit_opened line: the key (base64 DER SPKI) and its id. *out json_decref. */
static int opened_fields(const struct arca_key *key, json_t **out)
{
    struct arca_buf spki, b64;
    arca_buf_init(&spki, 0);
    arca_buf_init(&b64, 0);
    uint8_t kid[ARCA_SHA256_LEN];
    char kidhex[2 * ARCA_SHA256_LEN + 1];
    int rc = 0;
    ARCA_GUARD(rc, arca_key_spki_der(key, &spki), out);
    ARCA_GUARD(rc, arca_key_id(key, kid), out);
    arca_hex_fmt(kidhex, kid, sizeof(kid));
    ARCA_GUARD(rc, arca_base64_encode(&b64, spki.data, spki.len), out);
    *out = json_pack("{s:s, s:s}", "key", arca_buf_cstr(&b64), "key_id", kidhex);
    ARCA_GUARD_ENSURE(rc, *out != NULL, out, ARCA_ERR_ALLOC, "audit");
out:
    arca_buf_free(&spki);
    arca_buf_free(&b64);
    return rc;
}

/* fsyncs the directory holding path, so that renames in it survive a crash. */
static int sync_dir_of(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        snprintf(dir, sizeof(dir), ".");
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash == path ? 1 : slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return arca_err_set(ARCA_ERR_IO, "audit log directory %s: %s", dir, strerror(errno));
    int rc = fsync(fd) == 0 ? 0
                            : arca_err_set(ARCA_ERR_IO, "audit log directory %s: fsync: %s", dir,
                                           strerror(errno));
    close(fd);
    return rc;
}

/*
 * Under mu, with the checkpoint slot held, every line flushed and synced and no new line
 * admitted (a->rotating; so nothing else touches a->fd): moves the complete
 * current file to PATH.SEQ (SEQ = its last line, 20 digits, so names sort in log order) and
 * continues in a fresh PATH whose first line is an audit_opened line naming that file and the
 * previous line's seq and signature. The new file is written and synced as PATH.new first and
 * renamed into place, so PATH is at every moment either the old file, absent with PATH.new
 * complete (arca_audit_open finishes the rename), or the new file. On failure nothing changes.
 */
static int rotate_locked(struct arca_audit *a, char *archived, size_t archived_len)
{
    ARCA_ENSURE(!a->broken, ARCA_ERR_IO, "audit log %s: a previous write failed", a->path);
    char tmp[4096];
    int n1 = snprintf(archived, archived_len, "%s.%020llu", a->path, (unsigned long long)a->seq);
    int n2 = snprintf(tmp, sizeof(tmp), "%s.new", a->path);
    ARCA_ENSURE(n1 > 0 && (size_t)n1 < archived_len && n2 > 0 && (size_t)n2 < sizeof(tmp),
                ARCA_ERR_TOO_LARGE, "audit log %s: path too long to rotate", a->path);
    struct stat st;
    ARCA_ENSURE(lstat(archived, &st) != 0 && errno == ENOENT, ARCA_ERR_EXISTS,
                "audit log rotation: %s exists already", archived);
    (void)unlink(tmp); /* left by a rotation that failed before its rename */
    int nfd = open(tmp, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    ARCA_ENSURE(nfd >= 0, ARCA_ERR_IO, "audit log %s: %s", tmp, strerror(errno));

    /* what to put back if the new file cannot be made the log */
    const int old_fd = a->fd;
    const uint64_t old_seq = a->seq, old_bytes = a->bytes, old_since = a->since_cp;
    const size_t old_sig_len = a->last_sig_len;
    uint8_t old_sig[ARCA_STORE_SIG_MAX];
    memcpy(old_sig, a->last_sig, sizeof(old_sig));
    struct arca_hash_ctx *const old_hash = a->fhash;
    const bool old_hash_ok = a->fhash_ok;

    json_t *fields = NULL;
    struct arca_buf b64, line;
    arca_buf_init(&b64, 0);
    arca_buf_init(&line, ARCA_AUDIT_LINE_MAX);
    size_t done = 0;
    int e = 0;
    const char *base = strrchr(archived, '/');
    base = base != NULL ? base + 1 : archived;
    bool renamed = false;
    int rc = 0;
    ARCA_GUARD(rc, opened_fields(a->key, &fields), fail);
    ARCA_GUARD(rc, arca_base64_encode(&b64, a->last_sig, a->last_sig_len), fail);
    ARCA_GUARD_ENSURE(rc,
                      json_object_set_new(fields, ARCA_AUDIT_ROTATED_FROM, json_string(base)) ==
                              0 &&
                          json_object_set_new(fields, ARCA_AUDIT_PREVIOUS_SEQ,
                                              json_integer((json_int_t)a->seq)) == 0 &&
                          json_object_set_new(fields, ARCA_AUDIT_PREVIOUS_SIG,
                                              json_string(arca_buf_cstr(&b64))) == 0,
                      fail, ARCA_ERR_ALLOC, "audit: rotation line");
    a->fd = nfd;
    a->bytes = 0;
    /* a new file, a new hash (without one the new file's checkpoints carry no prefix) */
    a->fhash = NULL;
    if (old_hash != NULL && arca_hash_ctx_new(ARCA_SHA256, &a->fhash) < 0)
        arca_err_clear();
    a->fhash_ok = a->fhash != NULL;
    ARCA_GUARD(rc, sign_line(a, ARCA_AUDIT_OPENED, fields, &line), fail);
    e = write_all(a, nfd, line.data, line.len, &done);
    ARCA_GUARD_ENSURE(rc, e == 0, fail, ARCA_ERR_IO, "audit log %s: write: %s", tmp, strerror(e));
    e = sync_fd(a, nfd);
    ARCA_GUARD_ENSURE(rc, e == 0, fail, ARCA_ERR_IO, "audit log %s: fsync: %s", tmp, strerror(e));
    sink_lines(a, line.data, line.len);
    ARCA_GUARD_ENSURE(rc, rename(a->path, archived) == 0, fail, ARCA_ERR_IO,
                      "audit log rotation: %s -> %s: %s", a->path, archived, strerror(errno));
    renamed = true;
    ARCA_GUARD_ENSURE(rc, rename(tmp, a->path) == 0, fail, ARCA_ERR_IO,
                      "audit log rotation: %s -> %s: %s", tmp, a->path, strerror(errno));
    (void)sync_dir_of(a->path); /* a lost rename is finished by the next open */
    close(old_fd);
    arca_hash_ctx_free(old_hash);
    a->written = a->synced = a->seq;
    note_history(a);
    json_decref(fields);
    arca_buf_free(&b64);
    arca_buf_free(&line);
    return 0;
fail:
    if (renamed)
        (void)rename(archived, a->path);
    a->fd = old_fd;
    a->seq = old_seq;
    a->bytes = old_bytes;
    a->since_cp = old_since;
    a->last_sig_len = old_sig_len;
    memcpy(a->last_sig, old_sig, sizeof(old_sig));
    if (a->fhash != old_hash)
        arca_hash_ctx_free(a->fhash);
    a->fhash = old_hash;
    a->fhash_ok = old_hash_ok;
    close(nfd); /* a partial line went to this discarded new file only */
    (void)unlink(tmp);
    json_decref(fields);
    arca_buf_free(&b64);
    arca_buf_free(&line);
    return rc;
}

/* Takes the checkpoint slot (so no fsync runs on the file being replaced), rotates, then
 * checkpoints the rotation line. if_full: only when the file reached rotate_size (another
 * appender may have rotated already). */
static int rotate(struct arca_audit *a, bool if_full, char *archived, size_t archived_len)
{
    pthread_mutex_lock(&a->cp_mu);
    while (a->cp_running)
        pthread_cond_wait(&a->cp_cond, &a->cp_mu);
    a->cp_running = true;
    pthread_mutex_unlock(&a->cp_mu);

    pthread_mutex_lock(&a->mu);
    int rc = 1;
    if (!if_full || (a->rotate_size > 0 && a->bytes >= a->rotate_size)) {
        /* the old file must be complete and on disk before it is archived */
        a->rotating = true;
        rc = flush_upto(a, a->seq, true);
        while (a->flushing || a->syncing) /* nothing may use the old fd while it is replaced */
            pthread_cond_wait(&a->flush_cond, &a->mu);
        if (rc == 0)
            rc = rotate_locked(a, archived, archived_len);
        a->rotating = false;
        pthread_cond_broadcast(&a->flush_cond);
    }
    uint64_t seq = a->seq;
    pthread_mutex_unlock(&a->mu);

    pthread_mutex_lock(&a->cp_mu);
    a->cp_running = false;
    pthread_cond_broadcast(&a->cp_cond);
    pthread_mutex_unlock(&a->cp_mu);
    if (rc == 0)
        rc = checkpoint_upto(a, seq);
    return rc > 0 ? 0 : rc;
}

int arca_audit_rotate(struct arca_audit *a, char *archived, size_t archived_len)
{
    ARCA_ENSURE_REF(a);
    ARCA_ENSURE(archived != NULL && archived_len > 0, ARCA_ERR_INVALID_ARG,
                "audit rotate: no buffer for the archived name");
    archived[0] = '\0';
    return rotate(a, false, archived, archived_len);
}

/* arca_audit_append and arca_audit_append_durable: durable waits for the fsync too. */
static int append(struct arca_audit *a, const char *event, const json_t *fields, bool durable,
                  uint64_t *seq_out)
{
    ARCA_ENSURE_REF(a);
    ARCA_ENSURE(event != NULL && event[0] != '\0' &&
                    strspn(event, "abcdefghijklmnopqrstuvwxyz"
                                  "0123456789_") == strlen(event),
                ARCA_ERR_INVALID_ARG, "audit: event name must be [a-z0-9_]+");
    pthread_mutex_lock(&a->mu);
    while (a->rotating)
        pthread_cond_wait(&a->flush_cond, &a->mu);
    int rc;
    bool need_cp = false, full = false;
    uint64_t seq = 0;
    if (a->broken) {
        rc = arca_err_set(ARCA_ERR_IO,
                          "audit log %s: a previous write failed; restart to "
                          "resume logging",
                          a->path);
    } else {
        rc = sign_line(a, event, fields, &a->pend);
        seq = a->seq;
        if (rc == 0) {
            note_history(a);
            rc = flush_upto(a, seq, durable || a->fsync_each);
        }
        need_cp = rc == 0 && a->store != NULL && (a->since_cp >= a->every || a->hist_pending);
        full = rc == 0 && a->rotate_size > 0 && a->bytes >= a->rotate_size;
    }
    pthread_mutex_unlock(&a->mu);
    if (rc == 0)
        rc = checkpoint_after(a, seq, need_cp, durable || a->fsync_each);
    if (rc == 0 && full) {
        /* the line is written and covered; a failed rotation only keeps the file growing */
        char archived[4096];
        (void)rotate(a, true, archived, sizeof(archived));
    }
    if (rc == 0 && seq_out != NULL)
        *seq_out = seq;
    return rc;
}

int arca_audit_append(struct arca_audit *a, const char *event, const json_t *fields,
                      uint64_t *seq_out)
{
    return append(a, event, fields, false, seq_out);
}

int arca_audit_append_durable(struct arca_audit *a, const char *event, const json_t *fields,
                              uint64_t *seq_out)
{
    return append(a, event, fields, true, seq_out);
}

size_t arca_audit_pending(struct arca_audit *a)
{
    pthread_mutex_lock(&a->mu);
    size_t n = 0;
    for (size_t i = 0; i < a->pend.len; i++)
        n += a->pend.data[i] == '\n';
    pthread_mutex_unlock(&a->mu);
    return n;
}

uint64_t arca_audit_open_verified(struct arca_audit *a)
{
    return a->open_verified; /* set once by arca_audit_open */
}

bool arca_audit_checkpoint_failed(struct arca_audit *a)
{
    pthread_mutex_lock(&a->cp_mu);
    bool failed = a->cp_failed;
    pthread_mutex_unlock(&a->cp_mu);
    return failed;
}

int arca_audit_checkpoint(struct arca_audit *a)
{
    ARCA_ENSURE_REF(a);
    pthread_mutex_lock(&a->mu);
    uint64_t seq = a->seq;
    pthread_mutex_unlock(&a->mu);
    return checkpoint_upto(a, seq);
}

void arca_audit_close(struct arca_audit *a)
{
    if (a == NULL)
        return;
    if (a->cp_thread_on) {
        pthread_mutex_lock(&a->cp_mu);
        a->cp_stop = true;
        pthread_cond_signal(&a->cp_kick);
        pthread_mutex_unlock(&a->cp_mu);
        pthread_join(a->cp_thread, NULL);
    }
    if (a->fd >= 0) {
        if ((a->since_cp > 0 || a->hist_pending) && !a->broken)
            (void)checkpoint_upto(a, a->seq);
        close(a->fd);
    }
    arca_key_free(a->key);
    arca_hash_ctx_free(a->fhash);
    free(a->path);
    arca_buf_free(&a->pend);
    arca_buf_free(&a->batch);
    arca_buf_free(&a->content);
    arca_buf_free(&a->msg);
    arca_buf_free(&a->line);
    arca_buf_free(&a->sig);
    pthread_cond_destroy(&a->flush_cond);
    pthread_cond_destroy(&a->cp_cond);
    pthread_cond_destroy(&a->cp_kick);
    pthread_mutex_destroy(&a->cp_mu);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

/* A crash between a rotation's two renames leaves PATH absent and PATH.new complete (it was
 * synced first): finish the rotation. A PATH.new next to PATH is an unfinished new file. */
static int finish_rotation(const char *path)
{
    char tmp[4096];
    int n = snprintf(tmp, sizeof(tmp), "%s.new", path);
    ARCA_ENSURE(n > 0 && (size_t)n < sizeof(tmp), ARCA_ERR_TOO_LARGE, "audit log %s: path too long",
                path);
    struct stat st;
    if (lstat(tmp, &st) != 0)
        return 0;
    if (lstat(path, &st) == 0)
        return unlink(tmp) == 0
                   ? 0
                   : arca_err_set(ARCA_ERR_IO, "audit log %s: %s", tmp, strerror(errno));
    ARCA_ENSURE(rename(tmp, path) == 0, ARCA_ERR_IO, "audit log rotation: %s -> %s: %s", tmp, path,
                strerror(errno));
    return sync_dir_of(path);
}

int arca_audit_open(const struct arca_audit_options *opt, struct arca_audit **out)
{
    ARCA_ENSURE_REF(opt);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(opt->path != NULL, ARCA_ERR_INVALID_ARG, "audit: no log path");
    ARCA_ENSURE(opt->key != NULL && arca_key_has_private(opt->key), ARCA_ERR_INVALID_ARG,
                "audit: a signing key pair is required");
    struct arca_audit *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return arca_err_set(ARCA_ERR_ALLOC, "audit");
    pthread_mutex_init(&a->mu, NULL);
    pthread_mutex_init(&a->cp_mu, NULL);
    pthread_cond_init(&a->cp_cond, NULL);
    pthread_cond_init(&a->cp_kick, NULL);
    pthread_cond_init(&a->flush_cond, NULL);
    arca_buf_init(&a->pend, (size_t)1 << 30);
    arca_buf_init(&a->batch, (size_t)1 << 30);
    arca_buf_init(&a->content, ARCA_AUDIT_LINE_MAX);
    arca_buf_init(&a->msg, 0);
    arca_buf_init(&a->line, ARCA_AUDIT_LINE_MAX);
    arca_buf_init(&a->sig, ARCA_STORE_SIG_MAX);
    a->fault = opt->fault;
    a->fault_arg = opt->fault_arg;
    a->fd = -1;
    a->key = arca_key_ref(opt->key);
    a->store = opt->store;
    a->every = opt->checkpoint_every ? opt->checkpoint_every : 1;
    a->fsync_each = opt->fsync_each;
    a->sink = opt->sink;
    a->path = strdup(opt->path);
    struct arca_buf file;
    arca_buf_init(&file, (size_t)1 << 34);
    struct arca_store_checkpoint cp;
    bool have_cp = false;
    json_t *fields = NULL;
    int rc = 0;
    ARCA_GUARD_ENSURE(rc, a->path != NULL, fail, ARCA_ERR_ALLOC, "audit");
    a->rotate_size = opt->rotate_size;
    ARCA_GUARD(rc, finish_rotation(opt->path), fail);
    a->fd = open(opt->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    ARCA_GUARD_ENSURE(rc, a->fd >= 0, fail, ARCA_ERR_IO, "audit log %s: %s", opt->path,
                      strerror(errno));
    ARCA_GUARD(rc, arca_audit_read_fd(opt->path, a->fd, &file), fail);
    if (a->store != NULL) {
        ARCA_GUARD(rc, arca_hash_ctx_new(ARCA_SHA256, &a->fhash), fail);
        a->fhash_ok = true;
        rc = arca_store_checkpoint_latest(a->store, &cp);
        if (rc == 0)
            have_cp = true;
        else if (rc != ARCA_ERR_NOT_FOUND)
            goto fail;
        rc = 0;
    }
    if (file.len > 0 || have_cp) {
        struct arca_audit_verify_result res;
        ARCA_GUARD(rc,
                   arca_audit_verify_open(opt->path, &file, opt->key, a->store,
                                          have_cp ? &cp : NULL, a->fhash, &a->fhash_ok, &res,
                                          &a->open_verified),
                   fail);
        a->seq = res.last_seq;
        a->written = res.last_seq; /* synced stays 0: not known durable, the next sync
                                      covers these lines too */
        a->bytes = file.len;
        a->cp_done = have_cp ? cp.seq : 0;
        a->last_sig_len = res.last_sig_len;
        memcpy(a->last_sig, res.last_sig, res.last_sig_len);
    }
    ARCA_GUARD(rc, opened_fields(opt->key, &fields), fail);
    ARCA_GUARD(rc, arca_audit_append(a, ARCA_AUDIT_OPENED, fields, NULL), fail);
    /* with a checkpoint per line (witnesses) or every line durable, each append waits for its
     * checkpoint anyway: no thread */
    if (a->store != NULL && a->every > 1 && !a->fsync_each) {
        /* the thread takes no signals: a process that waits for them with sigwait (arcad)
         * blocks them only later, in the threads it has then, and the default action of one
         * delivered here would end it */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        int e = pthread_create(&a->cp_thread, NULL, cp_main, a);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        ARCA_GUARD_ENSURE(rc, e == 0, fail, ARCA_ERR_ALLOC, "audit: checkpoint thread: %s",
                          strerror(e));
        a->cp_thread_on = true;
    }
    json_decref(fields);
    arca_buf_free(&file);
    *out = a;
    return 0;
fail:
    json_decref(fields);
    arca_buf_free(&file);
    a->since_cp = 0; /* no checkpoint on a failed open */
    a->hist_pending = false;
    arca_audit_close(a);
    return rc;
}
