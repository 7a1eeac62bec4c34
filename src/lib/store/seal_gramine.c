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
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/fs.h"
#include "crypto/crypto.h"
#include "store/store.h"

#define GRAMINE_SEAL_KEY_FILE "/dev/attestation/keys/_sgx_mrenclave"
#define GRAMINE_SEAL_KEY_LEN 16
#define GRAMINE_SEAL_SALT "arca-gramine-seal-v1"

/* Reads exactly GRAMINE_SEAL_KEY_LEN bytes from path into raw (untouched on failure). */
static int read_seal_key(const char *path, uint8_t raw[GRAMINE_SEAL_KEY_LEN])
{
    struct arca_buf b;
    arca_buf_init_secret(&b, GRAMINE_SEAL_KEY_LEN);
    int rc = arca_file_read(path, GRAMINE_SEAL_KEY_LEN, &b);
    if (rc == ARCA_ERR_NOT_FOUND || rc == ARCA_ERR_IO)
        rc = arca_err_wrap(rc, "store: Gramine sealing key (is arcad running inside Gramine-SGX?)");
    else if (rc == ARCA_ERR_TOO_LARGE || (rc == 0 && b.len != GRAMINE_SEAL_KEY_LEN))
        rc = arca_err_set(ARCA_ERR_FORMAT, "store: Gramine sealing key %s: not %d bytes", path,
                          GRAMINE_SEAL_KEY_LEN);
    if (rc == 0)
        memcpy(raw, b.data, GRAMINE_SEAL_KEY_LEN);
    arca_buf_free(&b);
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
