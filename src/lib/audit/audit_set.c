/*
 * A rotated audit log as a set of files (audit.h): expanding directories into their audit
 * files in log order, and verifying the set as one chain, with a break named by file and line.
 *
 * Why the files are checked as one concatenated log: the chain (sequence numbers and each
 * signature over the previous one) does not care where a file ends, so a missing middle file
 * or two swapped files show up as a sequence gap or step back at a file's first line; only the
 * wording is adapted here to say which file is missing or out of place.
 */
#include "audit/audit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit_internal.h"
#include "base/err.h"

void arca_audit_set_free(struct arca_audit_set *set)
{
    if (set == NULL)
        return;
    for (size_t i = 0; i < set->n; i++)
        free(set->paths[i]);
    free(set->paths);
    free(set->first_seq);
    memset(set, 0, sizeof(*set));
}

/*
 * The sequence number of the first line of path into *seq: 0 with *seq = 0 when the file is
 * empty or is not an audit log (another file in the directory), negative when it cannot be read.
 */
static int first_seq_of(const char *path, uint64_t *seq)
{
    *seq = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return arca_err_set(errno == ENOENT ? ARCA_ERR_NOT_FOUND : ARCA_ERR_IO, "%s: %s", path,
                            strerror(errno));
    /* one line at most ARCA_AUDIT_LINE_MAX: read in steps until its newline */
    struct arca_buf b;
    arca_buf_init(&b, ARCA_AUDIT_LINE_MAX + 1);
    const char *nl = NULL;
    int rc = 0;
    while (nl == NULL && b.len < ARCA_AUDIT_LINE_MAX + 1) {
        if ((rc = arca_buf_reserve(&b, 4096)) < 0)
            break;
        ssize_t r = read(fd, b.data + b.len, b.cap - b.len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = arca_err_set(ARCA_ERR_IO, "%s: %s", path, strerror(errno));
            break;
        }
        if (r == 0)
            break;
        if (b.len == 0 && b.data[0] != '{')
            break; /* not JSON lines: not an audit file */
        nl = memchr(b.data + b.len, '\n', (size_t)r);
        b.len += (size_t)r;
    }
    close(fd);
    if (rc == 0 && nl != NULL) {
        const char *content;
        size_t clen;
        struct arca_buf sig;
        arca_buf_init(&sig, ARCA_STORE_SIG_MAX);
        if (arca_audit_line_parse((const char *)b.data, (size_t)(nl - (const char *)b.data),
                                  &content, &clen, seq, &sig, NULL) < 0)
            *seq = 0;
        arca_buf_free(&sig);
        arca_err_clear();
    }
    arca_buf_free(&b);
    return rc;
}

static int set_add(struct arca_audit_set *set, const char *path, uint64_t first)
{
    char **p = realloc(set->paths, (set->n + 1) * sizeof(*p));
    if (p != NULL)
        set->paths = p;
    uint64_t *f = realloc(set->first_seq, (set->n + 1) * sizeof(*f));
    if (f != NULL)
        set->first_seq = f;
    ARCA_ENSURE(p != NULL && f != NULL, ARCA_ERR_ALLOC, "audit files: out of memory");
    set->paths[set->n] = strdup(path);
    ARCA_ENSURE(set->paths[set->n] != NULL, ARCA_ERR_ALLOC, "audit files: out of memory");
    set->first_seq[set->n] = first;
    set->n++;
    return 0;
}

struct dir_entry {
    char *path;
    uint64_t first;
};

static int entry_cmp(const void *x, const void *y)
{
    const struct dir_entry *a = x, *b = y;
    if (a->first != b->first)
        return a->first < b->first ? -1 : 1;
    return strcmp(a->path, b->path);
}

/* Appends the audit files of dir (regular files whose first line is an audit line), in the
 * order of their first sequence numbers, to set. */
static int add_dir(struct arca_audit_set *set, const char *dir)
{
    DIR *d = opendir(dir);
    ARCA_ENSURE(d != NULL, ARCA_ERR_IO, "%s: %s", dir, strerror(errno));
    struct dir_entry *es = NULL;
    size_t n = 0;
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char path[4096];
        int len = snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        struct stat st;
        if (len <= 0 || (size_t)len >= sizeof(path) || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        uint64_t first = 0;
        if (first_seq_of(path, &first) < 0 || first == 0) {
            arca_err_clear();
            continue; /* unreadable or not an audit file (arca.db, keys, ...) */
        }
        struct dir_entry *ne = realloc(es, (n + 1) * sizeof(*es));
        if (ne == NULL || (ne[n].path = strdup(path)) == NULL) {
            es = ne != NULL ? ne : es;
            rc = arca_err_set(ARCA_ERR_ALLOC, "audit files: out of memory");
            break;
        }
        es = ne;
        ne[n++].first = first;
    }
    closedir(d);
    if (rc == 0 && n == 0)
        rc = arca_err_set(ARCA_ERR_NOT_FOUND, "%s: no audit log files in this directory", dir);
    if (rc == 0)
        qsort(es, n, sizeof(*es), entry_cmp);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0)
            rc = set_add(set, es[i].path, es[i].first);
        free(es[i].path);
    }
    free(es);
    return rc;
}

int arca_audit_set_expand(const char *const *args, size_t n, struct arca_audit_set *out)
{
    ARCA_ENSURE(args != NULL && n > 0 && out != NULL, ARCA_ERR_INVALID_ARG,
                "audit files: nothing given");
    memset(out, 0, sizeof(*out));
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct stat st;
        if (stat(args[i], &st) != 0) {
            rc = arca_err_set(errno == ENOENT ? ARCA_ERR_NOT_FOUND : ARCA_ERR_IO,
                              "audit log %s: %s", args[i], strerror(errno));
        } else if (S_ISDIR(st.st_mode)) {
            rc = add_dir(out, args[i]);
        } else {
            uint64_t first = 0;
            rc = first_seq_of(args[i], &first);
            if (rc == 0)
                rc = set_add(out, args[i], first);
        }
    }
    if (rc < 0)
        arca_audit_set_free(out);
    return rc;
}

/* Rewords a break at the first line of file k (k > 0) that is a sequence gap or step back. */
static void name_file_break(const struct arca_audit_set *set, size_t k,
                            struct arca_audit_set_result *res)
{
    uint64_t first = set->first_seq[k], last = res->v.last_seq;
    if (first == 0 || res->file_line != 1 || strstr(res->v.reason, "sequence number") == NULL)
        return;
    if (first > last + 1)
        snprintf(res->v.reason, sizeof(res->v.reason),
                 "%s starts at sequence number %llu but %s ends at %llu: a file with %llu "
                 "line(s) between them is missing",
                 set->paths[k], (unsigned long long)first, set->paths[k - 1],
                 (unsigned long long)last, (unsigned long long)(first - last - 1));
    else
        snprintf(res->v.reason, sizeof(res->v.reason),
                 "%s starts at sequence number %llu but %s already ended at %llu: the files "
                 "are out of order or repeated",
                 set->paths[k], (unsigned long long)first, set->paths[k - 1],
                 (unsigned long long)last);
}

int arca_audit_set_verify(const struct arca_audit_set *set,
                          const struct arca_audit_verify_opts *opts,
                          struct arca_audit_set_result *res)
{
    ARCA_ENSURE(set != NULL && set->n > 0 && opts != NULL && res != NULL, ARCA_ERR_INVALID_ARG,
                "audit set verify: missing argument");
    memset(res, 0, sizeof(*res));
    uint64_t *ends = calloc(set->n, sizeof(*ends)); /* global line count after each file */
    ARCA_ENSURE(ends != NULL, ARCA_ERR_ALLOC, "audit set verify: out of memory");
    struct arca_buf all;
    arca_buf_init(&all, (size_t)1 << 34);
    int rc = 0;
    uint64_t lines = 0;
    for (size_t i = 0; i < set->n; i++) {
        int fd = open(set->paths[i], O_RDONLY | O_CLOEXEC);
        ARCA_GUARD_ENSURE(rc, fd >= 0, out, errno == ENOENT ? ARCA_ERR_NOT_FOUND : ARCA_ERR_IO,
                          "audit log %s: %s", set->paths[i], strerror(errno));
        size_t start = all.len;
        rc = arca_audit_read_fd(set->paths[i], fd, &all);
        close(fd);
        if (rc < 0)
            goto out;
        for (size_t j = start; j < all.len; j++)
            lines += all.data[j] == '\n';
        ends[i] = lines;
        if (i + 1 < set->n && all.len > start && all.data[all.len - 1] != '\n') {
            /* only the newest file may end mid-line (a crash while writing) */
            res->file = i;
            res->file_line = lines - (i > 0 ? ends[i - 1] : 0) + 1;
            res->v.bad_line = lines + 1;
            snprintf(res->v.reason, sizeof(res->v.reason),
                     "the last line is incomplete (no newline), but a later file follows");
            goto out;
        }
    }
    ARCA_GUARD(rc, arca_audit_verify_buf(all.data, all.len, opts, &res->v), out);
    if (!res->v.ok && res->v.bad_line > 0) {
        size_t k = 0;
        while (k + 1 < set->n && res->v.bad_line > ends[k])
            k++;
        res->file = k;
        res->file_line = res->v.bad_line - (k > 0 ? ends[k - 1] : 0);
        if (k > 0)
            name_file_break(set, k, res);
    }
out:
    free(ends);
    arca_buf_free(&all);
    return rc;
}
