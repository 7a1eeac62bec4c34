/* Data directory snapshots (snapshot.h). */
#include "owner/snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/enc.h"
#include "base/err.h"
#include "base/fs.h"
#include "crypto/crypto.h"
#include "owner/backup.h"

#define COPY_MAX ((size_t)1 << 30) /* 1 GiB per file */

static int make_dir(const char *p)
{
    if (mkdir(p, 0700) != 0 && errno != EEXIST)
        return arca_err_set(ARCA_ERR_IO, "snapshot: %s: %s", p, strerror(errno));
    return 0;
}

static int join(char *out, size_t n, const char *a, const char *b)
{
    int w = snprintf(out, n, "%s/%s", a, b);
    ARCA_ENSURE(w > 0 && (size_t)w < n, ARCA_ERR_TOO_LARGE, "snapshot: path %s/%s too long", a, b);
    return 0;
}

/* Copies from/name to to/name; keep_lines cuts the copy after its last newline. A missing
 * source is fine when optional. */
static int copy_file(const char *from, const char *to, const char *name, bool optional,
                     bool keep_lines)
{
    char src[4200], dst[4200];
    ARCA_TRY(join(src, sizeof(src), from, name));
    ARCA_TRY(join(dst, sizeof(dst), to, name));
    struct arca_buf b;
    arca_buf_init(&b, COPY_MAX);
    int rc = arca_file_read(src, COPY_MAX, &b);
    if (rc == ARCA_ERR_NOT_FOUND && optional) {
        arca_buf_free(&b);
        return 0;
    }
    size_t len = b.len;
    if (rc == 0 && keep_lines)
        while (len > 0 && b.data[len - 1] != '\n')
            len--;
    if (rc == 0)
        rc = arca_file_write(dst, b.data, len, 0600, 0);
    arca_buf_free(&b);
    return rc < 0 ? arca_err_wrap(rc, "snapshot: %s", name) : 0;
}

struct during {
    const char *from, *to;
};

static int copy_audit(void *arg)
{
    const struct during *d = arg;
    return copy_file(d->from, d->to, "audit.log", true, true);
}

/* Copies the slot files of data_dir/sub (successors/, backups/) to snap/sub. */
static int copy_slots(const char *data_dir, const char *snap, const char *sub)
{
    char from[4200], to[4200];
    ARCA_TRY(join(from, sizeof(from), data_dir, sub));
    ARCA_TRY(join(to, sizeof(to), snap, sub));
    DIR *dir = opendir(from);
    if (dir == NULL)
        return errno == ENOENT
                   ? 0
                   : arca_err_set(ARCA_ERR_IO, "snapshot: %s: %s", from, strerror(errno));
    int rc = make_dir(to);
    struct dirent *e;
    while (rc == 0 && (e = readdir(dir)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l == 64 + 5 && strcmp(e->d_name + 64, ".slot") == 0)
            rc = copy_file(from, to, e->d_name, false, false);
    }
    closedir(dir);
    return rc;
}

int arca_snapshot_write(const char *data_dir, struct arca_store *store, char *out, size_t n)
{
    ARCA_ENSURE(data_dir != NULL && store != NULL && out != NULL, ARCA_ERR_INVALID_ARG,
                "snapshot: missing argument");
    char base[4200], name[64], snap[4200], p[4200], q[4200];
    uint8_t r[4];
    ARCA_TRY(arca_random(r, sizeof(r)));
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char rhex[9];
    arca_hex_fmt(rhex, r, sizeof(r));
    strftime(name, sizeof(name), "%Y%m%dT%H%M%SZ", &tm);
    ARCA_TRY(join(base, sizeof(base), data_dir, "snapshots"));
    ARCA_TRY(make_dir(base));
    int w = snprintf(snap, sizeof(snap), "%s/%s-%s", base, name, rhex);
    ARCA_ENSURE(w > 0 && (size_t)w < sizeof(snap) && (size_t)w < n, ARCA_ERR_TOO_LARGE,
                "snapshot: path too long");
    ARCA_TRY(make_dir(snap));
    ARCA_TRY(join(p, sizeof(p), data_dir, "identity"));
    ARCA_TRY(join(q, sizeof(q), snap, "identity"));
    ARCA_TRY(make_dir(q));
    static const char *const id_files[] = {"key.sealed", "ca.pem", "cert.pem"};
    for (size_t i = 0; i < 3; i++)
        ARCA_TRY(copy_file(p, q, id_files[i], false, false));
    ARCA_TRY(copy_slots(data_dir, snap, "successors"));
    ARCA_TRY(copy_slots(data_dir, snap, ARCA_BACKUP_DIR));
    ARCA_TRY(join(p, sizeof(p), snap, "arca.db"));
    ARCA_TRY(join(q, sizeof(q), snap, "arca.db.key-store"));
    struct during d = {data_dir, snap};
    ARCA_TRY(arca_store_snapshot(store, p, q, copy_audit, &d));
    memcpy(out, snap, (size_t)w + 1);
    return 0;
}
