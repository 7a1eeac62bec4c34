/*
 * The attest request is the first thing arcad reads from an unauthenticated launcher: whatever
 * the bytes, the decoder either fills the request or refuses cleanly, and what it accepted
 * encodes and decodes again to the same request.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "api/attest_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct arca_attest_request r;
    arca_attest_request_init(&r);
    if (arca_attest_request_decode(data, size, &r) == 0) {
        struct arca_buf enc;
        arca_buf_init_secret(&enc, 0);
        struct arca_attest_request back;
        arca_attest_request_init(&back);
        /* A host argument with an embedded NUL may not round-trip (C strings); the rest must. */
        if (arca_attest_request_encode(&r, &enc) == 0) {
            if (arca_attest_request_decode(enc.data, enc.len, &back) != 0 ||
                strcmp(back.config_id, r.config_id) != 0 || back.evidence_type != r.evidence_type ||
                memcmp(back.nonce, r.nonce, sizeof(r.nonce)) != 0 ||
                back.evidence.len != r.evidence.len || back.host_argc != r.host_argc)
                __builtin_trap();
        }
        arca_attest_request_free(&back);
        arca_buf_free(&enc);
    }
    arca_attest_request_free(&r);
    return 0;
}
