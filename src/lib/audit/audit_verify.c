/*
 * The audit log verifier (audit.h): line parser, chain and checkpoint checks.
 *
 * Why sign the exact bytes of the line rather than a re-serialisation: the verifier then needs
 * no canonicalisation rules (number formats, escaping) to agree with the writer; it only has
 * to split off the trailing `,"sig":"..."}`, which the writer always puts last.
 */
#include "audit/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit_internal.h"
#include "base/enc.h"
#include "base/err.h"

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
    const size_t mlen = sizeof(ARCA_AUDIT_SIG_MARK) - 1;
    size_t pos = SIZE_MAX;
    for (size_t i = len - 1; i >= mlen && i > 0; i--) {
        if (memcmp(line + i - mlen, ARCA_AUDIT_SIG_MARK, mlen) == 0) {
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

/*
 * The first line of a file that continues a rotated log is an audit_opened line naming the
 * previous line's seq and signature; its own signature covers both, so starting the chain from
 * them is as safe as reading the previous file (which a whole-set check still does).
 */
static int continuation_start(json_t *obj, uint64_t seq, struct arca_buf *prev)
{
    json_t *f = json_object_get(obj, "fields");
    json_t *ps = json_object_get(f, ARCA_AUDIT_PREVIOUS_SEQ);
    json_t *psig = json_object_get(f, ARCA_AUDIT_PREVIOUS_SIG);
    if (strcmp(json_string_value(json_object_get(obj, "event")), ARCA_AUDIT_OPENED) != 0 ||
        !json_is_integer(ps) || (uint64_t)json_integer_value(ps) != seq - 1 ||
        !json_is_string(psig))
        return ARCA_ERR_FORMAT;
    arca_buf_reset(prev);
    if (arca_base64_decode(prev, json_string_value(psig), json_string_length(psig)) < 0 ||
        prev->len == 0 || prev->len > ARCA_STORE_SIG_MAX) {
        arca_buf_reset(prev);
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
    if (opts->after_seq > 0) {
        /* without a key the first audit_opened line would choose it: a resumed tail may have none */
        ARCA_GUARD_ENSURE(rc,
                          key != NULL && opts->after_sig != NULL && opts->after_sig_len > 0 &&
                              opts->after_sig_len <= ARCA_STORE_SIG_MAX,
                          out, ARCA_ERR_INVALID_ARG,
                          "audit verify: resume needs a key and a signature");
        ARCA_GUARD(rc, arca_buf_put(&prev, opts->after_sig, opts->after_sig_len), out);
        last = opts->after_seq;
    }
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
        if (lineno == 1 && seq > 1 && opts->allow_continuation &&
            continuation_start(obj, seq, &prev) == 0)
            last = seq - 1; /* a rotated file: its first line names the chain before it */
        if (lineno == 1)
            res->first_seq = seq;
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
        ARCA_GUARD(rc, arca_audit_sig_message(prev.data, prev.len, content, clen, &msg), out);
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

/* The signed message: domain || u32be len(prev) || prev || content. */
int arca_audit_sig_message(const uint8_t *prev, size_t prev_len, const char *content, size_t clen,
                           struct arca_buf *msg)
{
    ARCA_TRY(
        arca_buf_put(msg, ARCA_AUDIT_SIG_DOMAIN, sizeof(ARCA_AUDIT_SIG_DOMAIN))); /* with its NUL */
    ARCA_TRY(arca_buf_put_lv(msg, prev, prev_len));
    return arca_buf_put(msg, content, clen);
}

int arca_audit_read_fd(const char *path, int fd, struct arca_buf *out)
{
    /* one allocation for the whole file (and the last, empty read): growing by doubling copies
     * and faults in about twice the file, most of what an open after a long log spent */
    struct stat st;
    if (fstat(fd, &st) == 0 && st.st_size > 0)
        ARCA_TRY(arca_buf_reserve(out, (size_t)st.st_size + 65536));
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
    int rc = arca_audit_read_fd(path, fd, &b);
    close(fd);
    if (rc == 0)
        rc = arca_audit_verify_buf(b.data, b.len, opts, res);
    arca_buf_free(&b);
    return rc;
}
