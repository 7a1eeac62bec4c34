/*
 * Text encodings (RFC 4648 hex, base64, base64url, base32). Base58Check needs SHA-256 for its
 * checksum, so it is in crypto/crypto.h.
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

#endif
