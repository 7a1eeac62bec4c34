/*
 * JWS compact serialisation (RFC 7515) for the tokens of `kind: jwt` secrets (crypto_jws.c).
 */
#ifndef ARCA_CRYPTO_JWS_H
#define ARCA_CRYPTO_JWS_H

#include <stddef.h>

#include "base/buf.h"
#include "crypto/crypto.h"

/* The JOSE algorithm a key of type t signs with: P-256 "ES256", P-384 "ES384", Ed25519
 * "EdDSA", RSA "RS256"; NULL for other types. Static string. */
const char *arca_jws_alg_for_key(enum arca_key_type t);

/*
 * Appends BASE64URL(header) "." BASE64URL(payload) "." BASE64URL(signature) to out, without
 * padding, signing the first two parts with k's private key under alg (ES256, ES384, EdDSA,
 * RS256; the key must be of the matching type). ECDSA signatures are raw r||s as RFC 7518
 * §3.4 requires. header and payload are the JSON texts as given (the caller makes them).
 * out unchanged on failure: ARCA_ERR_UNSUPPORTED for another alg, ARCA_ERR_INVALID_ARG for a
 * key of the wrong type or without its private part.
 */
int arca_jws_sign(const struct arca_key *k, const char *alg, const void *header, size_t hlen,
                  const void *payload, size_t plen, struct arca_buf *out);

#endif
