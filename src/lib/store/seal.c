/* Sealing hooks that are not simulation (store.h). */
#include "base/err.h"
#include "store/store.h"

int arca_store_gramine_get_key(void *ctx, const char *purpose, uint8_t key[ARCA_STORE_KEY_LEN])
{
    (void)ctx;
    (void)key;
    /* Plan: read 16 bytes from /dev/attestation/keys/_sgx_mrenclave (Gramine's MRENCLAVE
     * sealing key), then arca_hkdf(SHA-256, salt "arca-gramine-seal-v1", ikm = that key,
     * info = purpose) into key[32], and wipe the 16 bytes. Needs a Gramine test machine. */
    return arca_err_set(ARCA_ERR_UNSUPPORTED,
                        "store: Gramine sealing (/dev/attestation/keys/_sgx_mrenclave) for '%s' "
                        "is not implemented yet; run with simulation sealing",
                        purpose != NULL ? purpose : "");
}
