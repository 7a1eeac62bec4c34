/*
 * The Gramine-SGX sealer (store.h): the store's sealing key comes from Gramine's
 * /dev/attestation/keys/_sgx_mrenclave, the 16-byte SGX sealing key bound to this enclave's
 * MRENCLAVE (EGETKEY inside the enclave; Gramine's pseudo-file only exists there). So a data
 * directory opens only in an enclave with the same measurement on the same CPU, as with the
 * simulation sealer's "same host, same binary".
 *
 * The 16 bytes are expanded with HKDF-SHA-256 (salt "arca-gramine-seal-v1", info = purpose)
 * into the 32-byte key the store asks for, so each purpose gets its own key.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/err.h"
#include "crypto/crypto.h"
#include "store/store.h"

#define GRAMINE_SEAL_KEY_FILE "/dev/attestation/keys/_sgx_mrenclave"
#define GRAMINE_SEAL_KEY_LEN 16
#define GRAMINE_SEAL_SALT "arca-gramine-seal-v1"

/* Reads exactly GRAMINE_SEAL_KEY_LEN bytes from path into raw (wiped on failure). */
static int read_seal_key(const char *path, uint8_t raw[GRAMINE_SEAL_KEY_LEN])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ARCA_ENSURE(fd >= 0, errno == ENOENT ? ARCA_ERR_NOT_FOUND : ARCA_ERR_IO,
                "store: Gramine sealing key %s: %s (is arcad running inside Gramine-SGX?)", path,
                strerror(errno));
    /* One byte more than the key: a longer file is not Gramine's key file. */
    uint8_t tmp[GRAMINE_SEAL_KEY_LEN + 1];
    size_t got = 0;
    int rc = 0;
    while (got < sizeof(tmp)) {
        ssize_t n = read(fd, tmp + got, sizeof(tmp) - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = arca_err_set(ARCA_ERR_IO, "store: Gramine sealing key %s: %s", path,
                              strerror(errno));
            break;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (rc == 0 && got != GRAMINE_SEAL_KEY_LEN)
        rc = arca_err_set(ARCA_ERR_FORMAT, "store: Gramine sealing key %s: %zu bytes, expected %d",
                          path, got, GRAMINE_SEAL_KEY_LEN);
    if (rc == 0)
        memcpy(raw, tmp, GRAMINE_SEAL_KEY_LEN);
    arca_wipe(tmp, sizeof(tmp));
    return rc;
}

int arca_store_gramine_get_key(void *ctx, const char *purpose, uint8_t key[ARCA_STORE_KEY_LEN])
{
    ARCA_ENSURE_REF(purpose);
    ARCA_ENSURE_REF(key);
    const char *path = ctx != NULL ? (const char *)ctx : GRAMINE_SEAL_KEY_FILE;
    uint8_t raw[GRAMINE_SEAL_KEY_LEN];
    ARCA_TRY(read_seal_key(path, raw));
    uint8_t out[ARCA_STORE_KEY_LEN];
    int rc = arca_hkdf(ARCA_SHA256, GRAMINE_SEAL_SALT, strlen(GRAMINE_SEAL_SALT), raw, sizeof(raw),
                       purpose, strlen(purpose), out, sizeof(out));
    arca_wipe(raw, sizeof(raw));
    if (rc == 0)
        memcpy(key, out, sizeof(out));
    arca_wipe(out, sizeof(out));
    return rc;
}
