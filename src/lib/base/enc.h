/*
 * Text encodings (RFC 4648 hex, base64, base64url, base32; Base58Check).
 * Encoders append to an arca_buf (secret buffers stay secret). Decoders are strict: they refuse
 * wrong alphabets, bad padding and non-canonical trailing bits with ARCA_ERR_FORMAT naming the
 * offending offset, and leave out unchanged on failure.
 */
#ifndef ARCA_BASE_ENC_H
#define ARCA_BASE_ENC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* Lowercase hex. */
int arca_hex_encode(struct arca_buf *out, const void *p, size_t n);
/* Accepts upper and lower case; odd length is an error. */
int arca_hex_decode(struct arca_buf *out, const char *s, size_t len);
/* Decodes exactly n bytes of hex into a fixed array (e.g. a 32-byte MRENCLAVE). */
int arca_hex_decode_fixed(uint8_t *out, size_t n, const char *s, size_t len);
/* Writes 2n+1 bytes (lowercase hex + NUL) into out; never fails. */
void arca_hex_fmt(char *out, const void *p, size_t n);

/* Standard alphabet with '=' padding. */
int arca_base64_encode(struct arca_buf *out, const void *p, size_t n);
int arca_base64_decode(struct arca_buf *out, const char *s, size_t len);
/* URL-safe alphabet without padding. */
int arca_base64url_encode(struct arca_buf *out, const void *p, size_t n);
int arca_base64url_decode(struct arca_buf *out, const char *s, size_t len);

/* RFC 4648 base32 (uppercase), with or without '=' padding. Decoding accepts both cases and
 * optional padding. */
int arca_base32_encode(struct arca_buf *out, const void *p, size_t n, bool pad);
int arca_base32_decode(struct arca_buf *out, const char *s, size_t len);

/* Base58Check: version byte || payload || first 4 bytes of SHA-256(SHA-256(version||payload)),
 * in the Bitcoin alphabet. Used for key hashes in the established CAS's 50-character form. */
int arca_base58check_encode(struct arca_buf *out, uint8_t version, const void *p, size_t n);
/* Verifies the checksum; payload goes to out, the version byte to *version. */
int arca_base58check_decode(struct arca_buf *out, uint8_t *version, const char *s, size_t len);

/* The version byte arca uses for key hashes in Base58Check form: 10, as in the established CAS's
 * published governance key example; with a 32-byte hash it gives the 50-character form (a version
 * byte above 29 would give 51 characters). */
#define ARCA_KEYHASH_B58_VERSION 0x0a

#endif
