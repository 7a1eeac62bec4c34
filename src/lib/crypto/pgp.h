/*
 * OpenPGP keys for `kind: pgp-key` secrets (crypto_pgp.c): a small RFC 4880 (v4 keys, with the
 * ECC forms of RFC 6637 and the EdDSA / Curve25519 forms GnuPG and RFC 9580 use) encoder over
 * OpenSSL keys. Debian 12's packaged OpenPGP library (librnp) brings its own crypto library
 * (Botan), which arca does not take in beside OpenSSL, so arca writes the few packets itself.
 */
#ifndef ARCA_CRYPTO_PGP_H
#define ARCA_CRYPTO_PGP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define ARCA_PGP_FPR_LEN 20 /* v4 fingerprint: SHA-1 of the public-key packet */

/*
 * A new transferable key: an Ed25519 primary key (certify + sign) with user id uid and a
 * positive self-certification (hashed: creation time, key flags, AES256/SHA256/ZLIB
 * preferences, features, issuer fingerprint), and a Curve25519 ECDH subkey (encrypt) with its
 * binding signature, all made at `created`. Appends the binary secret key (secret-key packets
 * unencrypted) to secret (use a secret buffer) and the binary public key to pub; fpr (may be
 * NULL) gets the primary key's fingerprint. secret and pub unchanged on failure.
 */
int arca_pgp_key_generate(const char *uid, size_t uid_len, int64_t created, struct arca_buf *secret,
                          struct arca_buf *pub, uint8_t fpr[ARCA_PGP_FPR_LEN]);

/*
 * ASCII armor (RFC 4880 §6.2) of p[0..n): a PRIVATE or PUBLIC KEY BLOCK with 64-column base64
 * and the CRC-24 checksum line. Appends to out (unchanged on failure).
 */
int arca_pgp_armor(const void *p, size_t n, bool private_block, struct arca_buf *out);

#endif
