/*
 * One-time passwords: RFC 6238 TOTP and the HMAC-SHA-1 it is built on (the attested launch's
 * `one_time_password_shared_secret`; every authenticator app implements this default). Kept
 * apart from crypto.h so that SHA-1 is reachable only here: it is used only inside HMAC, where
 * its collision weakness does not apply.
 */
#ifndef ARCA_CRYPTO_TOTP_H
#define ARCA_CRYPTO_TOTP_H

#include <stddef.h>
#include <stdint.h>

#define ARCA_SHA1_LEN 20

/* HMAC-SHA-1 of p[0..n) under key into out[20]. 0 or ARCA_ERR_CRYPTO. */
int arca_hmac_sha1(const void *key, size_t klen, const void *p, size_t n,
                   uint8_t out[ARCA_SHA1_LEN]);

/*
 * RFC 6238 TOTP value (RFC 4226 dynamic truncation, HMAC-SHA-1) for time step counter t with
 * `digits` digits (6..8) into *code. 0 or a negative code.
 */
int arca_totp(const void *key, size_t klen, uint64_t t, unsigned digits, uint32_t *code);

#endif
