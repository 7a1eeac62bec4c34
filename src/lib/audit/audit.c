/*
 * The signed audit log (audit.h): writer and verifier.
 *
 * Why sign the exact bytes of the line rather than a re-serialisation: the verifier then needs
 * no canonicalisation rules (number formats, escaping) to agree with the writer; it only has
 * to split off the trailing `,"sig":"..."}`, which the writer always puts last.
 */
#include "audit/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/enc.h"
#include "base/err.h"
#include "base/time.h"

#define SIG_DOMAIN "arca-audit-v1"
#define SIG_MARK ",\"sig\":\""

struct arca_audit {
    pthread_mutex_t mu;
    int fd;
    char *path;
    struct arca_key *key;
    struct arca_store *store;
    unsigned every;
    bool fsync_each;
    bool broken;
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
};

/* The signed message: domain || u32be len(prev) || prev || content. */
static int sig_message(const uint8_t *prev, size_t prev_len, const char *content, size_t clen,
                       struct arca_buf *msg)
{
    ARCA_TRY(arca_buf_put(msg, SIG_DOMAIN, sizeof(SIG_DOMAIN))); /* with its NUL */
    ARCA_TRY(arca_buf_put_lv(msg, prev, prev_len));
    return arca_buf_put(msg, content, clen);
}

/* ---- parsing --------------------------------------------------------------------------------- */

int arca_audit_line_parse(const char *line, size_t len, const char **content, size_t *content_len,
                          uint64_t *seq, struct arca_buf *sig, json_t **obj)
{
    ARCA_ENSURE(line != NULL || len == 0, ARCA_ERR_INVALID_ARG, "audit line: NULL");
    ARCA_ENSURE_REF(content);
    ARCA_ENSURE_REF(content_len);
    ARCA_ENSURE_REF(seq);
    ARCA_ENSURE_REF(sig);
    ARCA_ENSURE(len <= ARCA_AUDIT_LINE_MAX, ARCA_ERR_TOO_LARGE, "line of %zu bytes is too long",
                len);
    ARCA_ENSURE(len >= 2 && line[0] == '{' && line[len - 1] == '}', ARCA_ERR_FORMAT,
                "not a JSON object line");
    /* the signature is the last member: find the last `,"sig":"` */
    const size_t mlen = sizeof(SIG_MARK) - 1;
    size_t pos = SIZE_MAX;
    for (size_t i = len - 1; i >= mlen && i > 0; i--) {
        if (memcmp(line + i - mlen, SIG_MARK, mlen) == 0) {
            pos = i - mlen;
            break;
        }
    }
    ARCA_ENSURE(pos != SIZE_MAX, ARCA_ERR_FORMAT, "no \"sig\" member at the end of the line");
    const char *b64 = line + pos + mlen;
    size_t b64len = len - (pos + mlen);
    ARCA_ENSURE(b64len >= 2 && b64[b64len - 2] == '"', ARCA_ERR_FORMAT,
                "\"sig\" is not the last member of the line");
    b64len -= 2;

    json_error_t jerr;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    ARCA_ENSURE(o != NULL, ARCA_ERR_FORMAT, "not valid JSON (column %d: %s)", jerr.column,
                jerr.text);
    int rc = 0;
    size_t before = sig->len;
    json_t *jseq = json_object_get(o, "seq"), *jev = json_object_get(o, "event"),
           *jtime = json_object_get(o, "time"), *jfields = json_object_get(o, "fields"),
           *jsig = json_object_get(o, "sig"), *jepoch = json_object_get(o, "epoch");
    ARCA_GUARD_ENSURE(rc, json_is_object(o), fail, ARCA_ERR_FORMAT, "line is not a JSON object");
    ARCA_GUARD_ENSURE(rc, json_is_integer(jseq) && json_integer_value(jseq) > 0, fail,
                      ARCA_ERR_FORMAT, "\"seq\" is missing or not a positive integer");
    ARCA_GUARD_ENSURE(rc, json_is_string(jev), fail, ARCA_ERR_FORMAT,
                      "\"event\" is missing or not a string");
    ARCA_GUARD_ENSURE(rc, json_is_string(jtime), fail, ARCA_ERR_FORMAT,
                      "\"time\" is missing or not a string");
    ARCA_GUARD_ENSURE(rc, json_is_object(jfields), fail, ARCA_ERR_FORMAT,
                      "\"fields\" is missing or not an object");
    ARCA_GUARD_ENSURE(
        rc, jepoch == NULL || (json_is_integer(jepoch) && json_integer_value(jepoch) >= 0), fail,
        ARCA_ERR_FORMAT, "\"epoch\" is not a non-negative integer");
    ARCA_GUARD_ENSURE(rc, json_object_size(o) == (jepoch != NULL ? 6u : 5u), fail, ARCA_ERR_FORMAT,
                      "line has %zu members (expected event, fields, seq, sig, time and an "
                      "optional epoch)",
                      json_object_size(o));
    ARCA_GUARD_ENSURE(rc,
                      json_is_string(jsig) && json_string_length(jsig) == b64len &&
                          memcmp(json_string_value(jsig), b64, b64len) == 0,
                      fail, ARCA_ERR_FORMAT, "\"sig\" is not the last member of the line");
    rc = arca_base64_decode(sig, b64, b64len);
    if (rc < 0) {
        rc = arca_err_set(ARCA_ERR_FORMAT, "\"sig\" is not base64");
        goto fail;
    }
    ARCA_GUARD_ENSURE(rc, sig->len - before > 0 && sig->len - before <= ARCA_STORE_SIG_MAX, fail,
                      ARCA_ERR_FORMAT, "\"sig\" has %zu bytes", sig->len - before);
    *content = line;
    *content_len = pos; /* the caller appends the closing brace */
    *seq = (uint64_t)json_integer_value(jseq);
    if (obj != NULL)
        *obj = o;
    else
        json_decref(o);
    return 0;
fail:
    sig->len = before;
    json_decref(o);
    return rc;
}

/* ---- verification ---------------------------------------------------------------------------- */

static int key_from_opened(json_t *obj, struct arca_key **key, struct arca_buf *spki, char *why,
                           size_t whylen)
{
    json_t *k = json_object_get(json_object_get(obj, "fields"), "key");
    if (!json_is_string(k)) {
        snprintf(why, whylen, "audit_opened line without a \"key\"");
        return ARCA_ERR_FORMAT;
    }
    arca_buf_reset(spki);
    if (arca_base64_decode(spki, json_string_value(k), json_string_length(k)) < 0 ||
        arca_key_from_der(spki->data, spki->len, key) < 0) {
        snprintf(why, whylen, "audit_opened \"key\" is not a base64 DER public key");
        return ARCA_ERR_FORMAT;
    }
    return 0;
}

static int fail_at(struct arca_audit_verify_result *res, uint64_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail_at(struct arca_audit_verify_result *res, uint64_t line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
    va_end(ap);
    res->ok = false;
    res->bad_line = line;
    return 0;
}

static int cp_seq_cmp(const void *a, const void *b)
{
    uint64_t x = (*(const struct arca_store_checkpoint *const *)a)->seq;
    uint64_t y = (*(const struct arca_store_checkpoint *const *)b)->seq;
    return x < y ? -1 : x > y;
}

int arca_audit_verify_buf(const void *data, size_t len, const struct arca_audit_verify_opts *opts,
                          struct arca_audit_verify_result *res)
{
    ARCA_ENSURE(data != NULL || len == 0, ARCA_ERR_INVALID_ARG, "audit verify: NULL data");
    ARCA_ENSURE_REF(opts);
    ARCA_ENSURE_REF(res);
    memset(res, 0, sizeof(*res));
    const char *p = data;
    struct arca_key *logkey = NULL; /* from audit_opened, when opts->key is NULL */
    const struct arca_key *key = opts->key;
    struct arca_buf sig, prev, msg, spki, first_spki;
    arca_buf_init(&sig, ARCA_STORE_SIG_MAX);
    arca_buf_init(&prev, ARCA_STORE_SIG_MAX);
    arca_buf_init(&msg, ARCA_AUDIT_LINE_MAX + 1024);
    arca_buf_init(&spki, 0);
    arca_buf_init(&first_spki, 0);
    const struct arca_store_checkpoint **cps = NULL;
    size_t ncp = opts->checkpoint_count, icp = 0;
    int rc = 0;
    if (ncp > 0) {
        ARCA_ENSURE(opts->checkpoints != NULL, ARCA_ERR_INVALID_ARG,
                    "audit verify: checkpoints NULL");
        cps = calloc(ncp, sizeof(*cps));
        ARCA_ENSURE(cps != NULL, ARCA_ERR_ALLOC, "audit verify: checkpoints");
        for (size_t i = 0; i < ncp; i++)
            cps[i] = &opts->checkpoints[i];
        qsort(cps, ncp, sizeof(*cps), cp_seq_cmp);
    }
    if (key != NULL)
        ARCA_GUARD(rc, arca_key_id(key, res->key_id), out);

    size_t off = 0;
    uint64_t lineno = 0, last = 0;
    while (off < len) {
        const char *nl = memchr(p + off, '\n', len - off);
        lineno++;
        if (nl == NULL) {
            fail_at(res, lineno,
                    "the last line is incomplete (no newline): the file was cut while writing");
            goto out;
        }
        size_t llen = (size_t)(nl - (p + off));
        const char *content;
        size_t clen;
        uint64_t seq;
        json_t *obj = NULL;
        arca_buf_reset(&sig);
        if (arca_audit_line_parse(p + off, llen, &content, &clen, &seq, &sig, &obj) < 0) {
            fail_at(res, lineno, "%s", arca_err_detail());
            goto out;
        }
        off += llen + 1;
        if (seq != last + 1) {
            json_decref(obj);
            if (seq <= last)
                fail_at(res, lineno,
                        "sequence number %llu does not follow %llu: lines were reordered or "
                        "repeated",
                        (unsigned long long)seq, (unsigned long long)last);
            else if (last == 0)
                fail_at(res, lineno,
                        "the log starts at sequence number %llu, not 1: its beginning was "
                        "removed",
                        (unsigned long long)seq);
            else
                fail_at(res, lineno,
                        "sequence number %llu follows %llu: %llu line(s) before this one were "
                        "removed",
                        (unsigned long long)seq, (unsigned long long)last,
                        (unsigned long long)(seq - last - 1));
            goto out;
        }
        json_t *jepoch = json_object_get(obj, "epoch");
        if (jepoch != NULL) {
            uint64_t epoch = (uint64_t)json_integer_value(jepoch);
            if (epoch < res->max_epoch) {
                json_decref(obj);
                fail_at(res, lineno,
                        "store epoch %llu after epoch %llu (line %llu): arcad ran on a state "
                        "older than one it had already used, i.e. the database and key-store "
                        "were rolled back",
                        (unsigned long long)epoch, (unsigned long long)res->max_epoch,
                        (unsigned long long)res->max_epoch_line);
                goto out;
            }
            if (epoch > res->max_epoch || res->max_epoch_line == 0) {
                res->max_epoch = epoch;
                res->max_epoch_line = lineno;
            }
        }
        const char *ev = json_string_value(json_object_get(obj, "event"));
        if (strcmp(ev, ARCA_AUDIT_OPENED) == 0) {
            struct arca_key *k = NULL;
            char why[128];
            if (key_from_opened(obj, &k, &spki, why, sizeof(why)) < 0) {
                json_decref(obj);
                fail_at(res, lineno, "%s", why);
                goto out;
            }
            arca_key_free(k);
            if (first_spki.len == 0) {
                ARCA_GUARD(rc, arca_buf_put(&first_spki, spki.data, spki.len), out_obj);
                if (key == NULL) {
                    ARCA_GUARD(rc, arca_key_from_der(spki.data, spki.len, &logkey), out_obj);
                    key = logkey;
                    ARCA_GUARD(rc, arca_key_id(key, res->key_id), out_obj);
                    if (opts->cas_key != NULL &&
                        !arca_memeq(res->key_id, opts->cas_key, ARCA_SHA256_LEN)) {
                        json_decref(obj);
                        fail_at(res, lineno,
                                "the log is signed by key %02x%02x%02x%02x..., not the given "
                                "CAS key",
                                res->key_id[0], res->key_id[1], res->key_id[2], res->key_id[3]);
                        goto out;
                    }
                }
            } else if (first_spki.len != spki.len ||
                       memcmp(first_spki.data, spki.data, spki.len) != 0) {
                json_decref(obj);
                fail_at(res, lineno, "the log was reopened with another signing key");
                goto out;
            }
        }
        json_decref(obj);
        obj = NULL;
        if (key == NULL) {
            fail_at(res, lineno,
                    "no key to verify with: the log does not start with an audit_opened line "
                    "(pass --key)");
            goto out;
        }
        arca_buf_reset(&msg);
        ARCA_GUARD(rc, sig_message(prev.data, prev.len, content, clen, &msg), out);
        ARCA_GUARD(rc, arca_buf_put_u8(&msg, '}'), out);
        if (arca_verify(key, ARCA_SHA256, msg.data, msg.len, sig.data, sig.len) < 0) {
            fail_at(res, lineno,
                    "signature does not verify: this line was modified, or signed by another "
                    "key");
            goto out;
        }
        while (icp < ncp && cps[icp]->seq < seq)
            icp++; /* (a checkpoint for an earlier seq matched or was checked already) */
        if (icp < ncp && cps[icp]->seq == seq) {
            if (cps[icp]->sig_len != sig.len || memcmp(cps[icp]->sig, sig.data, sig.len) != 0) {
                fail_at(res, lineno,
                        "line with sequence number %llu differs from the stored checkpoint: "
                        "the log was replaced or rolled back",
                        (unsigned long long)seq);
                goto out;
            }
            icp++;
        }
        arca_buf_reset(&prev);
        ARCA_GUARD(rc, arca_buf_put(&prev, sig.data, sig.len), out);
        last = seq;
        res->lines = lineno;
        res->last_seq = seq;
        continue;
    out_obj:
        json_decref(obj);
        goto out;
    }
    if (icp < ncp) {
        /* Name the cut lines: with witnessed checkpoints (one per line) that is exactly the
         * tail that was removed. */
        uint64_t want = cps[ncp - 1]->seq;
        fail_at(res, lineno + 1,
                "the log ends at sequence number %llu but the store has a checkpoint for %llu: "
                "%llu line(s) missing at the end (sequence numbers %llu to %llu); the log was "
                "truncated or rolled back",
                (unsigned long long)last, (unsigned long long)want,
                (unsigned long long)(want - last), (unsigned long long)(last + 1),
                (unsigned long long)want);
        goto out;
    }
    if (res->lines == 0) {
        fail_at(res, 0, "the log is empty");
        goto out;
    }
    res->ok = true;
    res->last_sig_len = prev.len;
    if (prev.len > 0)
        memcpy(res->last_sig, prev.data, prev.len);
out:
    free(cps);
    arca_key_free(logkey);
    arca_buf_free(&sig);
    arca_buf_free(&prev);
    arca_buf_free(&msg);
    arca_buf_free(&spki);
    arca_buf_free(&first_spki);
    return rc;
}

static int read_file(const char *path, int fd, struct arca_buf *out)
{
    for (;;) {
        ARCA_TRY(arca_buf_reserve(out, 65536));
        ssize_t r = read(fd, out->data + out->len, out->cap - out->len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return arca_err_set(ARCA_ERR_IO, "audit log %s: %s", path, strerror(errno));
        if (r == 0)
            return 0;
        out->len += (size_t)r;
    }
}

int arca_audit_verify_file(const char *path, const struct arca_audit_verify_opts *opts,
                           struct arca_audit_verify_result *res)
{
    ARCA_ENSURE_REF(path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return arca_err_set(errno == ENOENT ? ARCA_ERR_NOT_FOUND : ARCA_ERR_IO, "audit log %s: %s",
                            path, strerror(errno));
    struct arca_buf b;
    arca_buf_init(&b, (size_t)1 << 34);
    int rc = read_file(path, fd, &b);
    close(fd);
    if (rc == 0)
        rc = arca_audit_verify_buf(b.data, b.len, opts, res);
    arca_buf_free(&b);
    return rc;
}

/* ---- writer ---------------------------------------------------------------------------------- */

static int write_line(struct arca_audit *a, const char *event, const json_t *fields)
{
    json_t *o = json_object();
    char *content = NULL;
    struct arca_buf msg, sig, line;
    arca_buf_init(&msg, 0);
    arca_buf_init(&sig, ARCA_STORE_SIG_MAX);
    arca_buf_init(&line, ARCA_AUDIT_LINE_MAX);
    char now[ARCA_TIME_RFC3339_LEN];
    arca_time_format_rfc3339(arca_time_now(), now);
    int rc = 0;
    json_t *f = fields != NULL ? json_deep_copy(fields) : json_object();
    ARCA_GUARD_ENSURE(rc, o != NULL && f != NULL, out, ARCA_ERR_ALLOC, "audit: line");
    if (a->store != NULL) {
        /* The store's commit number when the line is written: every commit it counts is
         * durable already, so the line proves the store reached at least this state. */
        uint64_t epoch = 0;
        ARCA_GUARD(rc, arca_store_state(a->store, &epoch, NULL), out);
        ARCA_GUARD_ENSURE(rc, json_object_set_new(o, "epoch", json_integer((json_int_t)epoch)) == 0,
                          out, ARCA_ERR_ALLOC, "audit: line");
    }
    ARCA_GUARD_ENSURE(rc, json_is_object(f), out, ARCA_ERR_INVALID_ARG,
                      "audit: fields must be a JSON object");
    if (json_object_set_new(o, "event", json_string(event)) != 0 ||
        json_object_set(o, "fields", f) != 0 ||
        json_object_set_new(o, "seq", json_integer((json_int_t)(a->seq + 1))) != 0 ||
        json_object_set_new(o, "time", json_string(now)) != 0) {
        rc = arca_err_set(ARCA_ERR_ALLOC, "audit: line");
        goto out;
    }
    content = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    ARCA_GUARD_ENSURE(rc, content != NULL, out, ARCA_ERR_ALLOC, "audit: line");
    size_t clen = strlen(content);
    ARCA_GUARD_ENSURE(rc, clen >= 2 && content[clen - 1] == '}', out, ARCA_ERR_INTERNAL,
                      "audit: unexpected JSON");
    ARCA_GUARD(rc, sig_message(a->last_sig, a->last_sig_len, content, clen, &msg), out);
    ARCA_GUARD(rc, arca_sign(a->key, ARCA_SHA256, msg.data, msg.len, &sig), out);
    ARCA_GUARD_ENSURE(rc, sig.len <= ARCA_STORE_SIG_MAX, out, ARCA_ERR_INTERNAL,
                      "audit: signature of %zu bytes", sig.len);
    ARCA_GUARD(rc, arca_buf_put(&line, content, clen - 1), out);
    ARCA_GUARD(rc, arca_buf_put_str(&line, SIG_MARK), out);
    ARCA_GUARD(rc, arca_base64_encode(&line, sig.data, sig.len), out);
    ARCA_GUARD(rc, arca_buf_put_str(&line, "\"}\n"), out);

    size_t done = 0;
    while (done < line.len) {
        ssize_t w = write(a->fd, line.data + done, line.len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            /* a partial line would break the chain for every later line: stop here */
            if (done > 0)
                a->broken = true;
            rc = arca_err_set(ARCA_ERR_IO, "audit log %s: write: %s", a->path, strerror(errno));
            goto out;
        }
        done += (size_t)w;
    }
    if (a->fsync_each && fsync(a->fd) != 0) {
        a->broken = true;
        rc = arca_err_set(ARCA_ERR_IO, "audit log %s: fsync: %s", a->path, strerror(errno));
    }
    a->seq++;
    memcpy(a->last_sig, sig.data, sig.len);
    a->last_sig_len = sig.len;
    a->since_cp++;
out:
    free(content);
    json_decref(f);
    json_decref(o);
    arca_buf_free(&msg);
    arca_buf_free(&sig);
    arca_buf_free(&line);
    return rc;
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
        with_hist = a->hist_pending;
        hist = a->hist;
        a->hist_pending = false;
        a->since_cp = 0;
        pthread_mutex_unlock(&a->mu);
        cp.time = arca_time_now();
        hist.time = cp.time;

        /* the lines must be on disk before the store says they exist */
        if (fsync(a->fd) != 0)
            rc = arca_err_set(ARCA_ERR_IO, "audit log %s: fsync: %s", a->path, strerror(errno));
        if (rc == 0 && with_hist)
            rc = arca_store_checkpoint_put(a->store, &hist, true);
        if (rc == 0)
            rc = arca_store_checkpoint_put(a->store, &cp, false);
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
        if (rc == 0 && cp.seq > a->cp_done)
            a->cp_done = cp.seq;
        pthread_cond_broadcast(&a->cp_cond);
        if (rc < 0)
            break;
    }
    pthread_mutex_unlock(&a->cp_mu);
    return rc;
}

int arca_audit_append(struct arca_audit *a, const char *event, const json_t *fields,
                      uint64_t *seq_out)
{
    ARCA_ENSURE_REF(a);
    ARCA_ENSURE(event != NULL && event[0] != '\0' &&
                    strspn(event, "abcdefghijklmnopqrstuvwxyz"
                                  "0123456789_") == strlen(event),
                ARCA_ERR_INVALID_ARG, "audit: event name must be [a-z0-9_]+");
    pthread_mutex_lock(&a->mu);
    int rc;
    bool need_cp = false;
    uint64_t seq = 0;
    if (a->broken) {
        rc = arca_err_set(ARCA_ERR_IO,
                          "audit log %s: a previous write failed; restart to "
                          "resume logging",
                          a->path);
    } else {
        rc = write_line(a, event, fields);
        seq = a->seq;
        if (rc == 0 && a->seq % ARCA_AUDIT_HISTORY_EVERY == 0) {
            memset(&a->hist, 0, sizeof(a->hist));
            a->hist.seq = a->seq;
            a->hist.sig_len = a->last_sig_len;
            memcpy(a->hist.sig, a->last_sig, a->last_sig_len);
            a->hist_pending = true;
        }
        need_cp = rc == 0 && a->store != NULL && (a->since_cp >= a->every || a->hist_pending);
    }
    pthread_mutex_unlock(&a->mu);
    if (need_cp)
        rc = checkpoint_upto(a, seq);
    if (rc == 0 && seq_out != NULL)
        *seq_out = seq;
    return rc;
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
    if (a->fd >= 0) {
        if ((a->since_cp > 0 || a->hist_pending) && !a->broken)
            (void)checkpoint_upto(a, a->seq);
        close(a->fd);
    }
    arca_key_free(a->key);
    free(a->path);
    pthread_cond_destroy(&a->cp_cond);
    pthread_mutex_destroy(&a->cp_mu);
    pthread_mutex_destroy(&a->mu);
    free(a);
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
    a->fd = -1;
    a->key = arca_key_ref(opt->key);
    a->store = opt->store;
    a->every = opt->checkpoint_every ? opt->checkpoint_every : 1;
    a->fsync_each = opt->fsync_each;
    a->path = strdup(opt->path);
    struct arca_buf file, spki, b64;
    arca_buf_init(&file, (size_t)1 << 34);
    arca_buf_init(&spki, 0);
    arca_buf_init(&b64, 0);
    struct arca_store_checkpoint cp;
    bool have_cp = false;
    json_t *fields = NULL;
    int rc = 0;
    ARCA_GUARD_ENSURE(rc, a->path != NULL, fail, ARCA_ERR_ALLOC, "audit");
    a->fd = open(opt->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    ARCA_GUARD_ENSURE(rc, a->fd >= 0, fail, ARCA_ERR_IO, "audit log %s: %s", opt->path,
                      strerror(errno));
    ARCA_GUARD(rc, read_file(opt->path, a->fd, &file), fail);
    if (a->store != NULL) {
        rc = arca_store_checkpoint_latest(a->store, &cp);
        if (rc == 0)
            have_cp = true;
        else if (rc != ARCA_ERR_NOT_FOUND)
            goto fail;
        rc = 0;
    }
    if (file.len > 0 || have_cp) {
        struct arca_audit_verify_opts vo = {.key = opt->key,
                                            .checkpoints = have_cp ? &cp : NULL,
                                            .checkpoint_count = have_cp ? 1 : 0};
        struct arca_audit_verify_result res;
        ARCA_GUARD(rc, arca_audit_verify_buf(file.data, file.len, &vo, &res), fail);
        if (!res.ok) {
            rc = arca_err_set(ARCA_ERR_TAMPERED, "audit log %s: line %llu: %s", opt->path,
                              (unsigned long long)res.bad_line, res.reason);
            goto fail;
        }
        if (a->store != NULL)
            ARCA_GUARD(rc, check_not_rolled_back(a->store, opt->path, &res), fail);
        a->seq = res.last_seq;
        a->cp_done = have_cp ? cp.seq : 0;
        a->last_sig_len = res.last_sig_len;
        memcpy(a->last_sig, res.last_sig, res.last_sig_len);
    }
    uint8_t kid[ARCA_SHA256_LEN];
    char kidhex[2 * ARCA_SHA256_LEN + 1];
    ARCA_GUARD(rc, arca_key_spki_der(opt->key, &spki), fail);
    ARCA_GUARD(rc, arca_key_id(opt->key, kid), fail);
    arca_hex_fmt(kidhex, kid, sizeof(kid));
    ARCA_GUARD(rc, arca_base64_encode(&b64, spki.data, spki.len), fail);
    fields = json_pack("{s:s, s:s}", "key", arca_buf_cstr(&b64), "key_id", kidhex);
    ARCA_GUARD_ENSURE(rc, fields != NULL, fail, ARCA_ERR_ALLOC, "audit");
    ARCA_GUARD(rc, arca_audit_append(a, ARCA_AUDIT_OPENED, fields, NULL), fail);
    json_decref(fields);
    arca_buf_free(&file);
    arca_buf_free(&spki);
    arca_buf_free(&b64);
    *out = a;
    return 0;
fail:
    json_decref(fields);
    arca_buf_free(&file);
    arca_buf_free(&spki);
    arca_buf_free(&b64);
    a->since_cp = 0; /* no checkpoint on a failed open */
    a->hist_pending = false;
    arca_audit_close(a);
    return rc;
}
