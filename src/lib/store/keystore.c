/* The sealed key-store file (keystore.h) and the store's fault-injection hook (backend.h). */
#include "store/keystore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/fs.h"
#include "crypto/crypto.h"
#include "store/backend.h"

#define PAYLOAD_LEN (ARCA_STORE_KEY_LEN + 8 + ARCA_STORE_HASH_LEN)

/* Tests arm a countdown; production never does, so the cost is one atomic load. */
static atomic_long fault_countdown;

void arca_store_fault_arm(long n)
{
    atomic_store(&fault_countdown, n);
}

bool arca_store_fault_hit(const char *where)
{
    long v = atomic_load(&fault_countdown);
    while (v > 0) {
        if (atomic_compare_exchange_weak(&fault_countdown, &v, v - 1)) {
            if (v == 1) {
                arca_err_set(ARCA_ERR_IO, "store: %s: injected fault", where);
                return true;
            }
            return false;
        }
    }
    return false;
}

int arca_keystore_read(const char *path, const uint8_t seal[ARCA_STORE_KEY_LEN],
                       struct arca_keystore *ks)
{
    ARCA_ENSURE_REF(path);
    ARCA_ENSURE_REF(ks);
    if (arca_store_fault_hit("key-store read"))
        return ARCA_ERR_IO;
    uint8_t file[ARCA_KEYSTORE_FILE_LEN + 1];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return arca_err_set(ARCA_ERR_NOT_FOUND, "key-store %s does not exist", path);
        return arca_err_set(ARCA_ERR_IO, "key-store %s: %s", path, strerror(errno));
    }
    size_t got = 0;
    while (got < sizeof(file)) {
        ssize_t r = read(fd, file + got, sizeof(file) - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            return arca_err_set(ARCA_ERR_IO, "key-store %s: %s", path, strerror(e));
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (got != ARCA_KEYSTORE_FILE_LEN)
        return arca_err_set(ARCA_ERR_TAMPERED, "key-store %s: %zu%s bytes, expected %d", path, got,
                            got > ARCA_KEYSTORE_FILE_LEN ? " or more" : "", ARCA_KEYSTORE_FILE_LEN);
    if (memcmp(file, ARCA_KEYSTORE_MAGIC, 8) != 0)
        return arca_err_set(ARCA_ERR_TAMPERED, "key-store %s: bad magic (not an arca key-store)",
                            path);
    struct arca_buf pt;
    arca_buf_init_secret(&pt, PAYLOAD_LEN);
    int rc = arca_aead_open(seal, file + 8, file, 8, file + 20, ARCA_KEYSTORE_FILE_LEN - 20, &pt);
    if (rc < 0 || pt.len != PAYLOAD_LEN) {
        arca_buf_free(&pt);
        if (rc == ARCA_ERR_TAMPERED || rc == 0)
            return arca_err_set(ARCA_ERR_TAMPERED,
                                "key-store %s: seal does not verify (file modified, or sealed "
                                "on another platform or by another arcad build)",
                                path);
        return arca_err_wrap(rc, "key-store %s", path);
    }
    memcpy(ks->dbkey, pt.data, ARCA_STORE_KEY_LEN);
    uint64_t c = 0;
    for (int i = 0; i < 8; i++)
        c = (c << 8) | pt.data[ARCA_STORE_KEY_LEN + i];
    ks->commit = c;
    memcpy(ks->head, pt.data + ARCA_STORE_KEY_LEN + 8, ARCA_STORE_HASH_LEN);
    arca_buf_free(&pt);
    return 0;
}

int arca_keystore_write(const char *path, const uint8_t seal[ARCA_STORE_KEY_LEN],
                        const struct arca_keystore *ks)
{
    ARCA_ENSURE_REF(path);
    ARCA_ENSURE_REF(ks);
    uint8_t payload[PAYLOAD_LEN];
    uint8_t file[ARCA_KEYSTORE_FILE_LEN];
    struct arca_buf ct;
    arca_buf_init(&ct, ARCA_KEYSTORE_FILE_LEN);
    int rc;

    memcpy(payload, ks->dbkey, ARCA_STORE_KEY_LEN);
    for (int i = 0; i < 8; i++)
        payload[ARCA_STORE_KEY_LEN + i] = (uint8_t)(ks->commit >> (56 - 8 * i));
    memcpy(payload + ARCA_STORE_KEY_LEN + 8, ks->head, ARCA_STORE_HASH_LEN);
    memcpy(file, ARCA_KEYSTORE_MAGIC, 8);
    ARCA_GUARD(rc, arca_random(file + 8, ARCA_AEAD_NONCE_LEN), out);
    ARCA_GUARD(rc, arca_aead_seal(seal, file + 8, file, 8, payload, sizeof(payload), &ct), out);
    ARCA_GUARD_ENSURE(rc, ct.len == ARCA_KEYSTORE_FILE_LEN - 20, out, ARCA_ERR_INTERNAL,
                      "key-store: sealed %zu bytes", ct.len);
    memcpy(file + 20, ct.data, ct.len);

    /* Two fault points, as before the shared writer: tests count them. */
    ARCA_GUARD_ENSURE(rc, !arca_store_fault_hit("key-store write"), out, ARCA_ERR_IO,
                      "key-store write: injected fault");
    ARCA_GUARD_ENSURE(rc, !arca_store_fault_hit("key-store rename"), out, ARCA_ERR_IO,
                      "key-store rename: injected fault");
    rc = arca_file_write(path, file, sizeof(file), 0600, 0);
    if (rc < 0)
        rc = arca_err_wrap(rc, "key-store");
out:
    arca_wipe(payload, sizeof(payload));
    arca_buf_free(&ct);
    return rc;
}
