/*
 * The REPORTDATA binding of the enclave API (DESIGN §4, docs/internals/attest.md): what ties
 * evidence to the TLS key that asks, the challenge and the configuration asked for. Used by
 * arcad (to check) and by arca-run and `arca cas attest` (to make).
 */
#ifndef ARCA_ATTEST_BINDING_H
#define ARCA_ATTEST_BINDING_H

#include <stddef.h>
#include <stdint.h>

#include "api/attest_wire.h" /* ARCA_LAUNCH_NONCE_LEN */

#define ARCA_LAUNCH_BINDING_LABEL "arca-attest-v1"

/*
 * REPORTDATA = SHA-512("arca-attest-v1" || spki || nonce || config_id): binds the evidence to
 * the TLS key K (DER SPKI), the challenge and the configuration asked for. The SPKI is
 * self-delimiting DER and the nonce has a fixed length, so the concatenation is unambiguous.
 */
int arca_launch_binding(const uint8_t *spki, size_t spki_len,
                        const uint8_t nonce[ARCA_LAUNCH_NONCE_LEN], const char *config_id,
                        uint8_t out[64]);

#endif
