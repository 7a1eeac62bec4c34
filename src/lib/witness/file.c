/*
 * The file witness (witness.h, "file:PATH"): a counter in a plain file.
 *
 * It protects nothing against a host that controls the file (it can be rolled back like the
 * data directory); it exists so the witness logic, the store's commit hook and arcad's
 * refusals can be tested and measured without a TPM. The file holds one line,
 * "arca-witness-file v1 VALUE\n", rewritten atomically and durably on every record.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/fs.h"
#include "witness/witness.h"

#define FILE_MAGIC "arca-witness-file v1 "

struct file_witness {
    char *path;
};

static int file_read(void *impl, uint64_t *value)
{
    struct file_witness *f = impl;
    struct arca_buf b;
    arca_buf_init(&b, 128);
    int rc = arca_file_read(f->path, 128, &b);
    if (rc == ARCA_ERR_NOT_FOUND) {
        arca_buf_free(&b);
        return ARCA_ERR_NOT_FOUND;
    }
    if (rc < 0) {
        arca_buf_free(&b);
        return arca_err_wrap(rc, "witness file:%s", f->path);
    }
    /* bounded parse: magic, decimal digits, newline, nothing else */
    const size_t ml = sizeof(FILE_MAGIC) - 1;
    uint64_t v = 0;
    size_t i = ml, digits = 0;
    bool ok = b.len > ml && memcmp(b.data, FILE_MAGIC, ml) == 0;
    for (; ok && i < b.len && b.data[i] >= '0' && b.data[i] <= '9'; i++, digits++) {
        uint64_t d = (uint64_t)(b.data[i] - '0');
        ok = v <= (UINT64_MAX - d) / 10;
        v = v * 10 + d;
    }
    ok = ok && digits > 0 && i + 1 == b.len && b.data[i] == '\n';
    arca_buf_free(&b);
    ARCA_ENSURE(ok, ARCA_ERR_FORMAT, "witness file:%s: not a witness file", f->path);
    *value = v;
    return 0;
}

static int file_record(void *impl, uint64_t epoch)
{
    struct file_witness *f = impl;
    uint64_t v = 0;
    int rc = file_read(f, &v);
    if (rc < 0 && rc != ARCA_ERR_NOT_FOUND)
        return rc;
    if (rc == 0) {
        ARCA_ENSURE(v != epoch, ARCA_ERR_EXISTS, "witness file:%s is at commit %llu already",
                    f->path, (unsigned long long)v);
        ARCA_ENSURE(v < epoch, ARCA_ERR_TAMPERED,
                    "witness file:%s is at commit %llu, ahead of commit %llu", f->path,
                    (unsigned long long)v, (unsigned long long)epoch);
    }
    char line[64];
    int n = snprintf(line, sizeof(line), FILE_MAGIC "%llu\n", (unsigned long long)epoch);
    rc = arca_file_write(f->path, line, (size_t)n, 0600, 0);
    return rc < 0 ? arca_err_wrap(rc, "witness file:%s", f->path) : 0;
}

static void file_free(void *impl)
{
    struct file_witness *f = impl;
    if (f == NULL)
        return;
    free(f->path);
    free(f);
}

int arca_witness_file_new(const char *path, struct arca_witness_backend *out)
{
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(path != NULL && path[0] != '\0', ARCA_ERR_INVALID_ARG, "witness file: no path");
    struct file_witness *f = calloc(1, sizeof(*f));
    if (f == NULL || (f->path = strdup(path)) == NULL) {
        free(f);
        return arca_err_set(ARCA_ERR_ALLOC, "witness file");
    }
    memset(out, 0, sizeof(*out));
    snprintf(out->label, sizeof(out->label), "file:%s", path);
    out->read = file_read;
    out->record = file_record;
    out->free = file_free;
    out->impl = f;
    return 0;
}
