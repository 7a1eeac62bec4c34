/*
 * A process's member name on a shared store (store.h arca_store_member_name): random, made once
 * per data dir and kept in DIR/store-member, so that each arcad keeps its own audit checkpoints
 * among the several arcads of one PostgreSQL database.
 */
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/fs.h"
#include "crypto/crypto.h"
#include "store/store.h"

int arca_store_member_name(const char *dir, char out[33])
{
    ARCA_ENSURE(dir != NULL && out != NULL, ARCA_ERR_INVALID_ARG, "store: member: no dir");
    char path[4096];
    snprintf(path, sizeof(path), "%s/store-member", dir);
    struct arca_buf b;
    arca_buf_init(&b, 64);
    int rc = arca_file_read(path, 64, &b);
    if (rc == 0) {
        while (b.len > 0 && b.data[b.len - 1] == '\n')
            b.len--;
        if (b.len < 1 || b.len > 32 ||
            strspn((const char *)b.data, "0123456789abcdefghijklmnopqrstuvwxyz-") < b.len)
            rc = arca_err_set(ARCA_ERR_FORMAT, "store: %s: 1..32 of [0-9a-z-] expected", path);
        else {
            memcpy(out, b.data, b.len);
            out[b.len] = '\0';
        }
        arca_buf_free(&b);
        return rc;
    }
    arca_buf_free(&b);
    if (rc != ARCA_ERR_NOT_FOUND)
        return rc;
    uint8_t r[8];
    ARCA_TRY(arca_random(r, sizeof(r)));
    for (size_t i = 0; i < sizeof(r); i++)
        snprintf(out + 2 * i, 3, "%02x", r[i]);
    char line[40];
    int n = snprintf(line, sizeof(line), "%s\n", out);
    return arca_file_write(path, line, (size_t)n, 0600, 0);
}
