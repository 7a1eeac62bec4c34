/*
 * The REPORTDATA binding of the enclave API (binding.h).
 */
#include "attest/binding.h"

#include <string.h>

#include "base/err.h"
#include "crypto/crypto.h"

int arca_launch_binding(const uint8_t *spki, size_t spki_len,
                        const uint8_t nonce[ARCA_LAUNCH_NONCE_LEN], const char *config_id,
                        uint8_t out[64])
{
    ARCA_ENSURE_REF(spki);
    ARCA_ENSURE_REF(nonce);
    ARCA_ENSURE_REF(config_id);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(spki_len > 0, ARCA_ERR_INVALID_ARG, "binding: empty SPKI");
    struct arca_hash_ctx *h = NULL;
    uint8_t digest[ARCA_SHA512_LEN];
    int rc;
    ARCA_GUARD(rc, arca_hash_ctx_new(ARCA_SHA512, &h), out);
    ARCA_GUARD(
        rc, arca_hash_ctx_update(h, ARCA_LAUNCH_BINDING_LABEL, strlen(ARCA_LAUNCH_BINDING_LABEL)),
        out);
    ARCA_GUARD(rc, arca_hash_ctx_update(h, spki, spki_len), out);
    ARCA_GUARD(rc, arca_hash_ctx_update(h, nonce, ARCA_LAUNCH_NONCE_LEN), out);
    ARCA_GUARD(rc, arca_hash_ctx_update(h, config_id, strlen(config_id)), out);
    ARCA_GUARD(rc, arca_hash_ctx_final(h, digest), out);
    memcpy(out, digest, sizeof(digest));
out:
    arca_hash_ctx_free(h);
    return rc;
}
