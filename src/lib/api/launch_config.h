/*
 * Attested launch, the parts shared by arcad's enclave API and arca-run (DESIGN §4,
 * docs/internals/launch.md): the REPORTDATA binding and the wire format of the configuration
 * delivered to an attested program.
 *
 * Wire format of the POST /v1/attest answer (a JSON object; arca-run's config.c parses it):
 *   {"argv": [STRING...],                 at least one element, no NUL bytes
 *    "env": {NAME: VALUE, ...},           the program's whole environment
 *    "pwd": ABSOLUTE_PATH,
 *    "files": [{"path": ABSOLUTE_PATH, "mode": INT (0..0o7777), "content": BASE64}, ...]}
 */
#ifndef ARCA_API_LAUNCH_CONFIG_H
#define ARCA_API_LAUNCH_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define ARCA_LAUNCH_BINDING_LABEL "arca-attest-v1"
#define ARCA_LAUNCH_NONCE_LEN 32

/*
 * REPORTDATA = SHA-512("arca-attest-v1" || spki || nonce || config_id): binds the evidence to
 * the TLS key K (DER SPKI), the challenge and the configuration asked for. The SPKI is
 * self-delimiting DER and the nonce has a fixed length, so the concatenation is unambiguous.
 */
int arca_launch_binding(const uint8_t *spki, size_t spki_len,
                        const uint8_t nonce[ARCA_LAUNCH_NONCE_LEN], const char *config_id,
                        uint8_t out[64]);

#endif
