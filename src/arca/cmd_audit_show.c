/*
 * arca audit show|tail FILE|DIR... [--session NAME] [--service NAME] [--event E[,E...]]
 *                                  [--since TIME] [--until TIME] [-n N] [--follow] [-o json]
 *
 * Reads an audit log (a file, or a rotated set) on the operator's host and prints the lines
 * that pass the filters: as text (time, seq, event, fields) or, with -o json, each line as it
 * is in the log (one JSON object per line, still signed, so it can be verified later). The log
 * holds no secret values, only names, hashes and key ids. Signatures are not checked here
 * (`arca audit verify` does); a line that does not parse is reported by file and line.
 * tail --follow keeps reading the newest file and follows it across rotations until killed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "audit/audit.h"
#include "base/err.h"
#include "base/time.h"
#include "cli.h"
#include "cmd_audit.h"

struct filter {
    const char *session, *service, *events; /* events: comma-separated names */
    int64_t since, until;                   /* 0 = open */
};

struct show {
    struct arca_cli *cli;
    struct filter flt;
    bool tail;
    size_t keep;     /* tail: how many of the last matching lines */
    char **ring;     /* tail: the last `keep` matching lines (printed forms) */
    size_t ring_pos; /* lines stored so far */
};

/* --since/--until: RFC 3339, or a duration before now ("1h", "30m", "2 days"). */
static int parse_when(const char *s, int64_t now, int64_t *out)
{
    if (arca_time_parse_rfc3339(s, out) == 0)
        return 0;
    int64_t d = 0;
    if (arca_duration_parse(s, &d) == 0) {
        *out = now - d;
        return 0;
    }
    return ARCA_ERR_FORMAT;
}

static bool event_listed(const char *list, const char *ev)
{
    size_t n = strlen(ev);
    for (const char *p = list; *p != '\0';) {
        size_t len = strcspn(p, ",");
        if (len == n && memcmp(p, ev, n) == 0)
            return true;
        p += len;
        if (*p == ',')
            p++;
    }
    return false;
}

static bool field_is(json_t *fields, const char *name, const char *want)
{
    json_t *v = json_object_get(fields, name);
    return json_is_string(v) && strcmp(json_string_value(v), want) == 0;
}

static bool passes(const struct filter *f, json_t *obj)
{
    json_t *fields = json_object_get(obj, "fields");
    if (f->session != NULL && !field_is(fields, "session", f->session))
        return false;
    if (f->service != NULL && !field_is(fields, "service", f->service))
        return false;
    if (f->events != NULL &&
        !event_listed(f->events, json_string_value(json_object_get(obj, "event"))))
        return false;
    if (f->since != 0 || f->until != 0) {
        int64_t t = 0;
        if (arca_time_parse_rfc3339(json_string_value(json_object_get(obj, "time")), &t) < 0)
            return false;
        if ((f->since != 0 && t < f->since) || (f->until != 0 && t > f->until))
            return false;
    }
    return true;
}

/* Appends s to out with every byte outside printable ASCII (and the backslash) as \xHH, so a
 * name chosen by a client cannot drive the operator's terminal. */
static int put_clean(struct arca_buf *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            ARCA_TRY(arca_buf_put_u8(out, c));
        else
            ARCA_TRY(arca_buf_printf(out, "\\x%02x", c));
    }
    return 0;
}

/* The text form: TIME  #SEQ  EVENT  name=value ... (values of other types as compact JSON). */
static int format_text(json_t *obj, struct arca_buf *out)
{
    json_t *t = json_object_get(obj, "time"), *ev = json_object_get(obj, "event");
    ARCA_TRY(put_clean(out, json_string_value(t), json_string_length(t)));
    ARCA_TRY(arca_buf_printf(out, "  #%lld  ",
                             (long long)json_integer_value(json_object_get(obj, "seq"))));
    ARCA_TRY(put_clean(out, json_string_value(ev), json_string_length(ev)));
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(obj, "fields"), k, v)
    {
        ARCA_TRY(arca_buf_put_u8(out, ' '));
        ARCA_TRY(put_clean(out, k, strlen(k)));
        ARCA_TRY(arca_buf_put_u8(out, '='));
        if (json_is_string(v)) {
            ARCA_TRY(put_clean(out, json_string_value(v), json_string_length(v)));
        } else {
            char *d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
            ARCA_ENSURE(d != NULL, ARCA_ERR_ALLOC, "out of memory");
            int rc = put_clean(out, d, strlen(d));
            free(d);
            ARCA_TRY(rc);
        }
    }
    return 0;
}

/* One line of the log (without newline): parse, filter, print or keep for tail. */
static int one_line(struct show *sh, const char *path, uint64_t lineno, const char *line,
                    size_t len)
{
    const char *content;
    size_t clen;
    uint64_t seq;
    json_t *obj = NULL;
    struct arca_buf sig;
    arca_buf_init(&sig, ARCA_STORE_SIG_MAX);
    int rc = arca_audit_line_parse(line, len, &content, &clen, &seq, &sig, &obj);
    arca_buf_free(&sig);
    if (rc < 0) {
        char why[256];
        snprintf(why, sizeof(why), "%s", arca_err_detail());
        return arca_err_set(rc, "%s: line %llu: %s", path, (unsigned long long)lineno, why);
    }
    if (!passes(&sh->flt, obj)) {
        json_decref(obj);
        return 0;
    }
    struct arca_buf out;
    arca_buf_init(&out, ARCA_AUDIT_LINE_MAX * 4 + 16);
    if (sh->cli->output == ARCA_OUTPUT_JSON)
        rc = arca_buf_put(&out, line, len); /* as signed: verifiable, and jansson-escaped */
    else
        rc = format_text(obj, &out);
    json_decref(obj);
    if (rc == 0 && !sh->tail) {
        printf("%s\n", arca_buf_cstr(&out));
    } else if (rc == 0) {
        char **slot = &sh->ring[sh->ring_pos % sh->keep];
        free(*slot);
        *slot = strdup(arca_buf_cstr(&out));
        if (*slot == NULL)
            rc = arca_err_set(ARCA_ERR_ALLOC, "out of memory");
        sh->ring_pos++;
    }
    arca_buf_free(&out);
    return rc;
}

/* Feeds the complete lines of data to one_line; *used gets the bytes consumed (a partial last
 * line is left for later: --follow may see a line being written). */
static int feed(struct show *sh, const char *path, uint64_t *lineno, const char *data, size_t len,
                size_t *used)
{
    size_t off = 0;
    while (off < len) {
        const char *nl = memchr(data + off, '\n', len - off);
        if (nl == NULL)
            break;
        (*lineno)++;
        ARCA_TRY(one_line(sh, path, *lineno, data + off, (size_t)(nl - (data + off))));
        off = (size_t)(nl - data) + 1;
    }
    *used = off;
    return 0;
}

static void flush_tail(struct show *sh)
{
    if (!sh->tail)
        return;
    size_t n = sh->ring_pos < sh->keep ? sh->ring_pos : sh->keep;
    for (size_t i = sh->ring_pos - n; i < sh->ring_pos; i++) {
        printf("%s\n", sh->ring[i % sh->keep]);
        free(sh->ring[i % sh->keep]);
        sh->ring[i % sh->keep] = NULL;
    }
    sh->ring_pos = 0;
    fflush(stdout);
}

/* Reads what fd has beyond *off into the pending buffer and feeds the complete lines. */
static int drain(struct show *sh, const char *path, int fd, uint64_t *lineno,
                 struct arca_buf *pending)
{
    for (;;) {
        ARCA_TRY(arca_buf_reserve(pending, 65536));
        ssize_t r = read(fd, pending->data + pending->len, pending->cap - pending->len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return arca_err_set(ARCA_ERR_IO, "%s: %s", path, strerror(errno));
        if (r == 0)
            break;
        pending->len += (size_t)r;
        size_t used = 0;
        ARCA_TRY(feed(sh, path, lineno, (const char *)pending->data, pending->len, &used));
        memmove(pending->data, pending->data + used, pending->len - used);
        pending->len -= used;
    }
    return 0;
}

/*
 * --follow: keeps reading path (the newest file of the set; fd open at its end). When arcad
 * rotates, path names a new file: the old one is read to its end, then the new one from its
 * start. Runs until killed or an error.
 */
static int follow(struct show *sh, const char *path, int fd, uint64_t lineno,
                  struct arca_buf *pending)
{
    struct stat cur;
    ARCA_ENSURE(fstat(fd, &cur) == 0, ARCA_ERR_IO, "%s: %s", path, strerror(errno));
    for (;;) {
        ARCA_TRY(drain(sh, path, fd, &lineno, pending));
        fflush(stdout);
        struct stat now;
        if (stat(path, &now) == 0 && (now.st_ino != cur.st_ino || now.st_dev != cur.st_dev)) {
            int nfd = open(path, O_RDONLY | O_CLOEXEC);
            if (nfd >= 0) {
                ARCA_TRY(drain(sh, path, fd, &lineno, pending)); /* the old file's last lines */
                close(fd);
                fd = nfd;
                lineno = 0;
                pending->len = 0;
                if (fstat(fd, &cur) != 0)
                    return arca_err_set(ARCA_ERR_IO, "%s: %s", path, strerror(errno));
                continue;
            }
        }
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static int show_set(struct show *sh, const struct arca_audit_set *set, bool follow_last)
{
    struct arca_buf pending;
    arca_buf_init(&pending, (size_t)1 << 34);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < set->n; i++) {
        const char *path = set->paths[i];
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            rc = arca_err_set(ARCA_ERR_IO, "%s: %s", path, strerror(errno));
            break;
        }
        uint64_t lineno = 0;
        pending.len = 0;
        rc = drain(sh, path, fd, &lineno, &pending);
        if (rc == 0 && i + 1 == set->n && follow_last) {
            flush_tail(sh);
            sh->tail = false; /* from now on each new line is printed as it comes */
            rc = follow(sh, path, fd, lineno, &pending);
        }
        close(fd);
    }
    arca_buf_free(&pending);
    return rc;
}

int audit_show(struct arca_cli *cli, int argc, char **argv)
{
    struct show sh = {.cli = cli, .tail = strcmp(argv[0], "tail") == 0, .keep = 10};
    const char *cmd = argv[0];
    const char **files = calloc((size_t)argc, sizeof(*files));
    size_t nfiles = 0;
    bool follow_opt = false;
    int64_t now = arca_time_now();
    if (files == NULL)
        return cli_fail(ARCA_EXIT_FAIL, "out of memory");
    int code = ARCA_EXIT_USAGE;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_val = i + 1 < argc;
        const char *v = has_val ? argv[i + 1] : NULL;
        if (strcmp(a, "--session") == 0 || strcmp(a, "--service") == 0 ||
            strcmp(a, "--event") == 0 || strcmp(a, "--since") == 0 || strcmp(a, "--until") == 0 ||
            strcmp(a, "-n") == 0 || strcmp(a, "--lines") == 0) {
            if (!has_val) {
                code = cli_fail(ARCA_EXIT_USAGE, "audit %s: %s needs a value", cmd, a);
                goto out;
            }
            i++;
        }
        if (strcmp(a, "--session") == 0) {
            sh.flt.session = v;
        } else if (strcmp(a, "--service") == 0) {
            sh.flt.service = v;
        } else if (strcmp(a, "--event") == 0) {
            sh.flt.events = v;
        } else if (strcmp(a, "--since") == 0 || strcmp(a, "--until") == 0) {
            int64_t *t = a[2] == 's' ? &sh.flt.since : &sh.flt.until;
            if (parse_when(v, now, t) < 0) {
                code = cli_fail(ARCA_EXIT_USAGE,
                                "audit %s: %s '%s' is neither an RFC 3339 time nor a duration "
                                "such as 1h, 30m or 2d",
                                cmd, a, v);
                goto out;
            }
        } else if ((strcmp(a, "-n") == 0 || strcmp(a, "--lines") == 0) && sh.tail) {
            char *end = NULL;
            errno = 0;
            unsigned long n = strtoul(v, &end, 10);
            if (errno != 0 || end == v || *end != '\0' || n == 0 || n > 1000000) {
                code = cli_fail(ARCA_EXIT_USAGE,
                                "audit tail: %s '%s' is not a count of 1 to "
                                "1000000 lines",
                                a, v);
                goto out;
            }
            sh.keep = n;
        } else if (strcmp(a, "--follow") == 0 || (strcmp(a, "-f") == 0)) {
            if (!sh.tail) {
                code = cli_fail(ARCA_EXIT_USAGE, "audit show: %s is for `arca audit tail`", a);
                goto out;
            }
            follow_opt = true;
        } else if (a[0] == '-' && a[1] != '\0') {
            code = cli_fail(ARCA_EXIT_USAGE, "audit %s: unknown option '%s'", cmd, a);
            goto out;
        } else {
            files[nfiles++] = a;
        }
    }
    if (nfiles == 0) {
        code = cli_fail(ARCA_EXIT_USAGE,
                        "audit %s: give the log (DATA_DIR/audit.log, its rotated files, or "
                        "DATA_DIR)",
                        cmd);
        goto out;
    }
    struct arca_audit_set set;
    if (arca_audit_set_expand(files, nfiles, &set) < 0) {
        code = cli_fail(ARCA_EXIT_FAIL, "audit %s: %s", cmd, arca_err_detail());
        goto out;
    }
    if (sh.tail) {
        sh.ring = calloc(sh.keep, sizeof(*sh.ring));
        if (sh.ring == NULL) {
            arca_audit_set_free(&set);
            code = cli_fail(ARCA_EXIT_FAIL, "out of memory");
            goto out;
        }
    }
    int rc = show_set(&sh, &set, follow_opt);
    if (rc == 0)
        flush_tail(&sh);
    arca_audit_set_free(&set);
    code = rc < 0 ? cli_fail(ARCA_EXIT_FAIL, "audit %s: %s", cmd, arca_err_detail()) : ARCA_EXIT_OK;
out:
    if (sh.ring != NULL)
        for (size_t i = 0; i < sh.keep; i++)
            free(sh.ring[i]);
    free(sh.ring);
    free(files);
    return code;
}
