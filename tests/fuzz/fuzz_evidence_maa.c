/*
 * Fuzzes the Microsoft Azure Attestation token verifier (arca_maa_verify), both of whose inputs
 * come from outside: the token (evidence) and the provider's JWKS (fetched from <url>/certs).
 * The first byte picks which one the rest of the input replaces; the other is the recorded one
 * (tests/unit/maa_fixture.h), so mutations of a real token reach the signature and claim checks.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "evidence/maa.h"

#include "../unit/maa_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static char keys[8192];
    if (keys[0] == '\0')
        snprintf(keys, sizeof(keys),
                 "{\"keys\":[{\"kid\":\"%s\",\"kty\":\"RSA\",\"x5c\":[\"%s\"]}]}", MAA_KID,
                 maa_cert_b64);
    bool fuzz_jwks = data[0] & 1;
    const char *rest = (const char *)data + 1;
    struct arca_maa_cfg cfg = {MAA_ISSUER, keys, strlen(keys), 1024};
    const char *token = maa_token;
    size_t token_len = strlen(maa_token);
    if (fuzz_jwks) {
        cfg.jwks = rest;
        cfg.jwks_len = size - 1;
    } else {
        token = rest;
        token_len = size - 1;
    }
    struct arca_claims claims;
    struct arca_buf ehd;
    arca_buf_init(&ehd, 0);
    (void)arca_maa_verify(&cfg, token, token_len, MAA_IAT + 600, &claims, &ehd);
    arca_buf_free(&ehd);
    return 0;
}
