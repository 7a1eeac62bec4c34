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
#define PAYLOAD_LEN2 (3 * ARCA_STORE_KEY_LEN + 8 + ARCA_STORE_HASH_LEN)

/* Tests arm a countdown; production never does, so the cost is one atomic load. */
static atomic_long fault_countdown;

void arca_store_fault_arm(long n)
{
    atomic_store(&fault_countdown, n);
}

static _Atomic(void (*)(const char *)) fault_pause;

void arca_store_fault_pause(void (*fn)(const char *where))
{
    atomic_store(&fault_pause, fn);
}

bool arca_store_fault_hit(const char *where)
{
    void (*pause)(const char *) = atomic_load(&fault_pause);
    if (pause != NULL)
        pause(where);
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

static void put_u64be(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t get_u64be(const uint8_t *p)
{
    uint64_t c = 0;
    for (int i = 0; i < 8; i++)
        c = (c << 8) | p[i];
    return c;
}

int arca_keystore_read(const char *path, const uint8_t seal[ARCA_STORE_KEY_LEN],
                       struct arca_keystore *ks)
{
    ARCA_ENSURE_REF(path);
    ARCA_ENSURE_REF(ks);
    if (arca_store_fault_hit("key-store read"))
        return ARCA_ERR_IO;
    uint8_t file[ARCA_KEYSTORE_FILE_LEN2 + 1];
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
    bool v2 = got >= 8 && memcmp(file, ARCA_KEYSTORE_MAGIC2, 8) == 0;
    size_t want = v2 ? ARCA_KEYSTORE_FILE_LEN2 : ARCA_KEYSTORE_FILE_LEN;
    if (got != want)
        return arca_err_set(ARCA_ERR_TAMPERED, "key-store %s: %zu%s bytes, expected %zu", path, got,
                            got > want ? " or more" : "", want);
    if (!v2 && memcmp(file, ARCA_KEYSTORE_MAGIC, 8) != 0)
        return arca_err_set(ARCA_ERR_TAMPERED, "key-store %s: bad magic (not an arca key-store)",
                            path);
    size_t plen = v2 ? PAYLOAD_LEN2 : PAYLOAD_LEN;
    struct arca_buf pt;
    arca_buf_init_secret(&pt, plen);
    int rc = arca_aead_open(seal, file + 8, file, 8, file + 20, want - 20, &pt);
    if (rc < 0 || pt.len != plen) {
        arca_buf_free(&pt);
        if (rc == ARCA_ERR_TAMPERED || rc == 0)
            return arca_err_set(ARCA_ERR_TAMPERED,
                                "key-store %s: seal does not verify (file modified, or sealed "
                                "on another platform or by another arcad build)",
                                path);
        return arca_err_wrap(rc, "key-store %s", path);
    }
    const uint8_t *p = pt.data;
    memcpy(ks->dbkey, p, ARCA_STORE_KEY_LEN);
    p += ARCA_STORE_KEY_LEN;
    if (v2) {
        memcpy(ks->idxroot, p, ARCA_STORE_KEY_LEN);
        memcpy(ks->prev, p + ARCA_STORE_KEY_LEN, ARCA_STORE_KEY_LEN);
        p += 2 * ARCA_STORE_KEY_LEN;
        uint8_t acc = 0;
        for (size_t i = 0; i < ARCA_STORE_KEY_LEN; i++)
            acc |= ks->prev[i];
        ks->has_prev = acc != 0;
    } else {
        memcpy(ks->idxroot, ks->dbkey, ARCA_STORE_KEY_LEN);
        memset(ks->prev, 0, ARCA_STORE_KEY_LEN);
        ks->has_prev = false;
    }
    ks->commit = get_u64be(p);
    memcpy(ks->head, p + 8, ARCA_STORE_HASH_LEN);
    arca_buf_free(&pt);
    return 0;
}

int arca_keystore_write(const char *path, const uint8_t seal[ARCA_STORE_KEY_LEN],
                        const struct arca_keystore *ks)
{
    ARCA_ENSURE_REF(path);
    ARCA_ENSURE_REF(ks);
    /* Version 1 while it can say everything, so stores that never rotated stay as they were. */
    bool v2 = ks->has_prev || !arca_memeq(ks->idxroot, ks->dbkey, ARCA_STORE_KEY_LEN);
    size_t plen = v2 ? PAYLOAD_LEN2 : PAYLOAD_LEN;
    size_t flen = v2 ? ARCA_KEYSTORE_FILE_LEN2 : ARCA_KEYSTORE_FILE_LEN;
    uint8_t payload[PAYLOAD_LEN2];
    uint8_t file[ARCA_KEYSTORE_FILE_LEN2];
    struct arca_buf ct;
    arca_buf_init(&ct, ARCA_KEYSTORE_FILE_LEN2);
    int rc;

    uint8_t *p = payload;
    memcpy(p, ks->dbkey, ARCA_STORE_KEY_LEN);
    p += ARCA_STORE_KEY_LEN;
    if (v2) {
        memcpy(p, ks->idxroot, ARCA_STORE_KEY_LEN);
        if (ks->has_prev)
            memcpy(p + ARCA_STORE_KEY_LEN, ks->prev, ARCA_STORE_KEY_LEN);
        else
            memset(p + ARCA_STORE_KEY_LEN, 0, ARCA_STORE_KEY_LEN);
        p += 2 * ARCA_STORE_KEY_LEN;
    }
    put_u64be(p, ks->commit);
    memcpy(p + 8, ks->head, ARCA_STORE_HASH_LEN);
    memcpy(file, v2 ? ARCA_KEYSTORE_MAGIC2 : ARCA_KEYSTORE_MAGIC, 8);
    ARCA_GUARD(rc, arca_random(file + 8, ARCA_AEAD_NONCE_LEN), out);
    ARCA_GUARD(rc, arca_aead_seal(seal, file + 8, file, 8, payload, plen, &ct), out);
    ARCA_GUARD_ENSURE(rc, ct.len == flen - 20, out, ARCA_ERR_INTERNAL,
                      "key-store: sealed %zu bytes", ct.len);
    memcpy(file + 20, ct.data, ct.len);

    /* Two fault points, as before the shared writer: tests count them. */
    ARCA_GUARD_ENSURE(rc, !arca_store_fault_hit("key-store write"), out, ARCA_ERR_IO,
                      "key-store write: injected fault");
    ARCA_GUARD_ENSURE(rc, !arca_store_fault_hit("key-store rename"), out, ARCA_ERR_IO,
                      "key-store rename: injected fault");
    rc = arca_file_write(path, file, flen, 0600, 0);
    if (rc < 0)
        rc = arca_err_wrap(rc, "key-store");
out:
    arca_wipe(payload, sizeof(payload));
    arca_buf_free(&ct);
    return rc;
}
