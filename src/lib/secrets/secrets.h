/*
 * The secret engine: values of a session's secrets, their generation per kind from the
 * session's secret definitions, the migration rules on update, rendering for placeholders, and
 * a binary serialisation for the sealed store.
 *
 * Ownership in short:
 *  - struct arca_secret_value is reference counted; every holder frees its reference with
 *    arca_secret_value_free(), and the last free wipes the bytes and frees keys/certificates.
 *  - struct arca_secret_set owns one reference to each value it holds; arca_secret_set_free()
 *    releases them all.
 *  - struct arca_secret_spec is borrowed input (the caller, usually the server, fills it from the
 *    session model); nothing here keeps pointers into it after a call returns.
 *
 * No error detail produced here ever contains a secret value: details name the secret and what
 * is wrong ("secret 'db_key': value is not a PEM private key"), never the bytes.
 */
#ifndef ARCA_SECRETS_SECRETS_H
#define ARCA_SECRETS_SECRETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "crypto/crypto.h"
#include "policy/kinds.h"

/* Limits (also enforced when decoding untrusted bytes). */
#define ARCA_SECRET_NAME_MAX 512         /* as session names (release 5.9) */
#define ARCA_SECRET_SIZE_DEFAULT 20      /* ascii chars / binary bytes when size is absent */
#define ARCA_SECRET_SIZE_MAX (64u << 10) /* largest generated or explicit ascii/binary value */
#define ARCA_SECRET_SET_MAX 4096         /* secrets per session */
#define ARCA_SECRET_CHAIN_MAX 16         /* CA certificates above a leaf */
#define ARCA_SECRET_SAN_MAX 64           /* SAN entries per certificate */

/*
 * Validity of a generated certificate whose policy gives no valid_for: a year for end-entity
 * certificates, ten for CAs (renewed, like any finite validity, once two thirds have passed).
 * A key that never expires outlives every rotation plan and every revocation list.
 */
#define ARCA_SECRET_DEFAULT_VALID_FOR_LEAF ((int64_t)365 * 86400)
#define ARCA_SECRET_DEFAULT_VALID_FOR_CA ((int64_t)3650 * 86400)
/*
 * 9999-12-31T23:59:59Z, which RFC 5280 §4.1.2.5 reserves for "no well-defined expiration date":
 * certificates generated before the defaults above had it; they are never due for renewal.
 */
#define ARCA_SECRET_NOT_AFTER_UNLIMITED ((int64_t)253402300799)
/*
 * Lifetime of a jwt token whose definition gives no validity. A bearer token without `exp`
 * would stay valid for whoever copied it long after the session changed.
 */
#define ARCA_SECRET_JWT_DEFAULT_VALID_FOR ((int64_t)86400)
/* Certificates are back-dated this much so that peers with slightly slow clocks accept them. */
#define ARCA_SECRET_BACKDATE_SECONDS ((int64_t)300)

/* Value flags (kept in the serialisation; used by the migration rules). */
#define ARCA_SECRET_FLAG_GENERATED 0x01u /* generated inside arcad, never seen by a human */
#define ARCA_SECRET_FLAG_MIGRATE 0x02u   /* private-key: its definition said migrate: true */
#define ARCA_SECRET_FLAG_EXTERNAL 0x04u  /* supplied from outside (import, provided_by, upload) */

/* ---- one secret value ------------------------------------------------------------------- */

struct arca_secret_value;

/*
 * A value of kind ARCA_SECRET_ASCII or ARCA_SECRET_BINARY holding a copy of p[0..n). ascii
 * values may not contain NUL (ARCA_ERR_FORMAT). *out gets a new value (one reference).
 */
int arca_secret_value_new_bytes(enum arca_secret_kind kind, const void *p, size_t n, unsigned flags,
                                struct arca_secret_value **out);

/*
 * A private-key value. Takes a new reference to key (the caller keeps its own); key must hold
 * the private part.
 */
int arca_secret_value_new_key(struct arca_key *key, unsigned flags, struct arca_secret_value **out);

/*
 * An x509 / x509-ca value: the certificate, optionally its private key (NULL if unknown, e.g. an
 * imported certificate without its key), and the CA chain above it, nearest issuer first up to
 * the root (chain_count may be 0). New references are taken to every object passed; the caller
 * keeps its own. If key is given it must match the certificate's public key (ARCA_ERR_FORMAT).
 */
int arca_secret_value_new_x509(enum arca_secret_kind kind, struct arca_x509 *cert,
                               struct arca_key *key, struct arca_x509 *const *chain,
                               size_t chain_count, unsigned flags, struct arca_secret_value **out);

/* Takes another reference (returns v). */
struct arca_secret_value *arca_secret_value_ref(struct arca_secret_value *v);
/* Drops a reference; the last one wipes and frees everything. NULL is fine. */
void arca_secret_value_free(struct arca_secret_value *v);

enum arca_secret_kind arca_secret_value_kind(const struct arca_secret_value *v);
unsigned arca_secret_value_flags(const struct arca_secret_value *v);
/* ascii/binary: the bytes (borrowed; valid while v lives) and their length; NULL otherwise. */
const uint8_t *arca_secret_value_bytes(const struct arca_secret_value *v, size_t *len);
/* private-key: the key; x509: the certificate's private key or NULL. Borrowed. */
struct arca_key *arca_secret_value_key(const struct arca_secret_value *v);
/* x509: the certificate (borrowed), NULL for other kinds. */
struct arca_x509 *arca_secret_value_cert(const struct arca_secret_value *v);
/* x509: the chain above the certificate, nearest issuer first (borrowed array). */
struct arca_x509 *const *arca_secret_value_chain(const struct arca_secret_value *v, size_t *count);

/*
 * Appends v in canonical placeholder format `format` (as returned by
 * arca_placeholder_format_check for v's kind) to out, which should be a secret buffer.
 * ARCA_ERR_FORMAT if the format does not apply to the kind, ARCA_ERR_NOT_FOUND if the value lacks
 * the part asked for (e.g. privatekey of a certificate imported without its key). out unchanged
 * on failure.
 *
 * Canonical formats: ascii "plain"; binary "bin" "hex" "base64" "base64url" "base32"
 * "base32nopad"; private-key "pkcs8:pem" "pkcs8:der"; x509 "crt:pem" "crt:der"
 * "privatekey:pkcs8:pem" "privatekey:pkcs8:der" "chain" "pkcs12-with-private-key"
 * "legacy-chain" (root first, leaf last, PEM); jwt "plain"; pgp-key
 * "publickey:asciiarmored|binary|base64" "privatekey:asciiarmored|binary|base64".
 */
int arca_secret_value_render(const struct arca_secret_value *v, const char *format,
                             struct arca_buf *out);

/*
 * Parses an explicit `value` of the session language for kind: ascii as is (no NUL), binary
 * from hex, private-key from PEM, x509/x509-ca from PEM (certificate first, then optional CA
 * certificates nearest issuer first, and optionally a private key block). `key` (may be NULL)
 * is the private key named by the definition's private_key, for x509 values without a key
 * block. The detail names `name`, never the value. Flags of the result: none.
 */
int arca_secret_value_parse(const char *name, enum arca_secret_kind kind, const char *value,
                            size_t len, struct arca_key *key, struct arca_secret_value **out);

/* ---- a session's secret values -------------------------------------------------------- */

struct arca_secret_set;

/* A new empty set; free with arca_secret_set_free(). */
int arca_secret_set_new(struct arca_secret_set **out);
/* Frees the set and drops its references. NULL is fine. */
void arca_secret_set_free(struct arca_secret_set *s);

/*
 * Adds value v under name (the set takes a new reference; the caller keeps its own).
 * ARCA_ERR_EXISTS if the name is taken, ARCA_ERR_INVALID_ARG for an empty or over-long name.
 * This is how the caller adds externally supplied values (imports from other sessions,
 * provided_by uploads) before arca_secrets_generate().
 */
int arca_secret_set_add(struct arca_secret_set *s, const char *name, size_t name_len,
                        struct arca_secret_value *v);
/* Replaces (or adds) the value under name. */
int arca_secret_set_put(struct arca_secret_set *s, const char *name, size_t name_len,
                        struct arca_secret_value *v);
/* The value under name (borrowed), or NULL. */
struct arca_secret_value *arca_secret_set_get(const struct arca_secret_set *s, const char *name,
                                              size_t name_len);
size_t arca_secret_set_count(const struct arca_secret_set *s);
/* The i-th entry in insertion order (borrowed; NULL if out of range). */
const char *arca_secret_set_name_at(const struct arca_secret_set *s, size_t i);
struct arca_secret_value *arca_secret_set_value_at(const struct arca_secret_set *s, size_t i);

/*
 * An arca_placeholder_render_fn over a set (ctx is a const struct arca_secret_set *): looks up
 * name, canonicalises the format as written (arca_placeholder_format_check for the value's
 * kind) and renders. ARCA_ERR_NOT_FOUND naming the secret if absent.
 */
int arca_secret_set_render(void *ctx, const char *name, size_t name_len, const char *format,
                           struct arca_buf *out);

/*
 * Serialisation for the sealed store (format in docs/internals/secrets.md): appends the set to
 * out (use a secret buffer). Decoding is strict (every length bounded, no trailing bytes, no
 * duplicate names, keys and certificates must parse) and gives a new set or ARCA_ERR_FORMAT /
 * ARCA_ERR_TRUNCATED with the offset in the detail.
 */
int arca_secret_set_encode(const struct arca_secret_set *s, struct arca_buf *out);
int arca_secret_set_decode(const void *p, size_t n, struct arca_secret_set **out);

/* ---- generation from definitions ------------------------------------------------------ */

/*
 * One secret definition, as the session model gives it (borrowed strings, NUL-terminated).
 * Unset fields are NULL / 0 / false.
 */
struct arca_secret_spec {
    const char *name;
    enum arca_secret_kind kind;
    size_t size;                 /* ascii/binary; 0 = ARCA_SECRET_SIZE_DEFAULT */
    enum arca_key_type key_type; /* private-key; ARCA_KEY_NONE = P-256 */
    bool migrate;                /* private-key: migrate: true */
    const char *value;           /* explicit value, or NULL */
    size_t value_len;            /* its length (value may hold NUL for nothing but binary) */
    bool external;               /* imported or provided_by: never generated here */
    /* x509 / x509-ca */
    const char *private_key; /* name of a private-key secret; NULL = a fresh P-256 key */
    const char *issuer;      /* name of an x509-ca secret; NULL = self-signed */
    const char *common_name; /* NULL = first DNS name, else the secret name */
    int endpoint;            /* ARCA_EKU_SERVER / ARCA_EKU_CLIENT / 0 */
    const char *const *dns;  /* DNS names (deprecated `dns`) */
    size_t dns_count;
    const char *const *san; /* "dns:NAME" / "ip:ADDR" entries */
    size_t san_count;
    int64_t valid_for; /* seconds; 0 = the default (ARCA_SECRET_DEFAULT_VALID_FOR_*) */
    /* jwt */
    const char *signer;        /* name of the private-key secret that signs (required) */
    const char *jwt_alg;       /* NULL = the JOSE algorithm of the signer's key */
    int64_t jwt_valid_for;     /* seconds; 0 = ARCA_SECRET_JWT_DEFAULT_VALID_FOR, or jwt_until */
    int64_t jwt_until;         /* Unix seconds (validity: {until: ...}); 0 = none */
    const char *const *claims; /* claim name, value, name, value... in written order */
    size_t claims_count;       /* entries in claims (twice the number of claims) */
};

/*
 * Fills set with a value for every spec, in dependency order (private keys and issuers before
 * the certificates that use them; cycles are ARCA_ERR_FORMAT):
 *  - values already in set (external values the caller added) are kept as they are; a spec
 *    marked external whose value is absent stays absent (it is supplied later);
 *  - an explicit `value` is parsed (arca_secret_value_parse);
 *  - else, if old (the predecessor's values, may be NULL) holds a value of the same name that
 *    the migration rules allow keeping, it is kept: ascii/binary when generated, same kind and
 *    same size; private-key when generated, same key type, and both the old and the new
 *    definitions say migrate: true; x509 never (always re-issued, with the migrated key if any);
 *  - else a new value is generated: ascii printable (0x21..0x7e, no NUL), binary random,
 *    private-key of key_type, x509/x509-ca certificates signed by the issuer's key (self-signed
 *    without issuer), valid from now - ARCA_SECRET_BACKDATE_SECONDS to now + valid_for.
 *  - jwt: a new token signed by the signer's key, claims as written plus iat = nbf = now and
 *    exp (now + validity, or validity's until); never migrated (each version has its own).
 *  - pgp-key: a new OpenPGP key (crypto/pgp.h; user id = the secret's name), kept on update
 *    like a generated ascii value.
 * On failure set is left as it was on entry. aad-token is ARCA_ERR_UNSUPPORTED;
 * config-fragment specs are skipped (the policy module substitutes them structurally).
 */
int arca_secrets_generate(const struct arca_secret_spec *specs, size_t count,
                          const struct arca_secret_set *old, int64_t now,
                          struct arca_secret_set *set);

/*
 * True if the certificate of an x509 value with a finite validity, or the token of a jwt value,
 * has passed two thirds of its lifetime at `now` (time to re-issue); false for other kinds and
 * unlimited certificates.
 */
bool arca_secret_value_needs_renewal(const struct arca_secret_value *v, int64_t now);

/*
 * Automatic renewal without a session update: re-makes every jwt token with a `for` validity
 * that needs renewal at now, and re-issues, with the same keys, every generated
 * x509/x509-ca certificate of specs whose value in set needs renewal at now, and every
 * certificate issued (directly or further down) by one that is re-issued, so chains stay
 * consistent. Nothing else changes (no key is regenerated, whatever migrate says). *renewed
 * (may be NULL) gets the number of certificates re-issued. set unchanged on failure.
 */
int arca_secrets_renew(const struct arca_secret_spec *specs, size_t count, int64_t now,
                       struct arca_secret_set *set, size_t *renewed);

/* ---- cost bounds ------------------------------------------------------------------------- */

/*
 * What a session's definitions can make arcad generate, as an upper bound (every key and
 * certificate that is neither explicit nor external counts, whether or not migration would keep
 * an old one), so an uploader cannot make one request cost unbounded CPU (DESIGN §9).
 * cost_ms estimates generation time on one core: RSA-2048 250, RSA-3072 1000, RSA-4096 3000,
 * an elliptic-curve key 1, a certificate signature 2 (x509 without private_key adds a P-256
 * key).
 */
struct arca_secrets_cost {
    size_t keys;         /* private keys generated */
    size_t rsa_keys;     /* of which RSA */
    size_t certificates; /* x509 and x509-ca issued */
    uint64_t cost_ms;    /* estimated generation time */
};

struct arca_secrets_limits {
    size_t max_keys;         /* 0 = no limit */
    size_t max_certificates; /* 0 = no limit */
    uint64_t max_cost_ms;    /* 0 = no limit */
};

/* arcad's documented defaults: 256 keys, 256 certificates, 10 s of estimated generation. */
void arca_secrets_limits_default(struct arca_secrets_limits *lim);

/*
 * Fills *cost for specs and checks it against lim: 0, or ARCA_ERR_LIMIT whose detail names the
 * limit that is exceeded and by how much (never a secret value). *cost (may be NULL) is filled
 * either way.
 */
int arca_secrets_cost_check(const struct arca_secret_spec *specs, size_t count,
                            const struct arca_secrets_limits *lim, struct arca_secrets_cost *cost);

#endif
