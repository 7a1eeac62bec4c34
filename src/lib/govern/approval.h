/*
 * Approvals of a session change (issue 10, DESIGN §5, docs/governance.md): the message a board
 * member signs, the verification of a set of signatures over it, and the evaluation of an
 * access-policy rule that explains what is missing.
 *
 * The message binds one CAS, one session, one predecessor and one new version:
 *
 *   message = SHA-256( lv("arca-approval-v1") || lv(CAS key id) || lv(session name)
 *                      || lv(predecessor hash) || lv(new session hash) )
 *
 * lv(x) is a 4-byte big-endian length followed by the bytes of x (as in the canonical session
 * hash). The CAS key id is the 32-byte SHA-256 of the CAS's DER SubjectPublicKeyInfo (what
 * `arca cas show-identification` prints as the key hash); the name is the full session name in
 * UTF-8 ("ns/child"); the predecessor is the 32-byte canonical hash of the active version, or
 * empty (lv of zero bytes) when the change creates the session; the new hash is the canonical
 * hash (docs/canonical-hash.md) of the proposed version, creator included.
 *
 * A signer signs the 32-byte message itself: Ed25519 (pure), ECDSA P-256 with SHA-256 or ECDSA
 * P-384 with SHA-384 (DER signatures), so `openssl pkeyutl -sign -rawin` / `openssl dgst -sign`
 * over the message file produce valid approvals. The key's type decides the algorithm.
 *
 * Nothing here decides alone: the caller verifies (arca_approval_verify), then evaluates the
 * ACTIVE version's rule with the verified key ids (arca_approval_explain).
 */
#ifndef ARCA_GOVERN_APPROVAL_H
#define ARCA_GOVERN_APPROVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "crypto/crypto.h"
#include "govern/access.h"

#define ARCA_APPROVAL_DOMAIN "arca-approval-v1"
#define ARCA_APPROVAL_MSG_LEN 32
/* The most signatures one change may carry (bounds the verification work of one request). */
#define ARCA_APPROVAL_MAX_SIGS 256

/* One change to approve; every pointer borrowed. */
struct arca_approval_change {
    const uint8_t *cas_key;     /* 32 bytes: the CAS's key id */
    const char *session_name;   /* full name, NUL-terminated */
    const uint8_t *predecessor; /* 32 bytes: the active version's hash; NULL: a create */
    const uint8_t *new_hash;    /* 32 bytes: the proposed version's canonical hash */
};

/* Computes the message of change c into out. 0, or ARCA_ERR_INVALID_ARG / ARCA_ERR_FORMAT
 * (empty or over-long name); out untouched on failure. */
int arca_approval_message(const struct arca_approval_change *c, uint8_t out[ARCA_APPROVAL_MSG_LEN]);

/* The digest a signer of key type t uses over the message: ARCA_SHA256 for Ed25519 (ignored,
 * pure EdDSA) and P-256, ARCA_SHA384 for P-384. ARCA_ERR_UNSUPPORTED naming the type for any
 * other key (RSA, X25519): such keys cannot approve. */
int arca_approval_alg(enum arca_key_type t, enum arca_hash_alg *alg);

/* Signs msg with the private key k (Ed25519, P-256, P-384) and appends the signature to sig
 * (64 bytes for Ed25519, DER for ECDSA). sig unchanged on failure. */
int arca_approval_sign(const struct arca_key *k, const uint8_t msg[ARCA_APPROVAL_MSG_LEN],
                       struct arca_buf *sig);

/* Parses a signer's public key given as SPKI PEM or SPKI DER (the first bytes decide). A
 * private key, or a key of a type that cannot approve, is ARCA_ERR_FORMAT /
 * ARCA_ERR_UNSUPPORTED. *out freed by the caller with arca_key_free. */
int arca_approval_signer_key(const void *p, size_t n, struct arca_key **out);

/* One signature to verify: borrowed bytes. */
struct arca_approval_sig {
    const void *key; /* the signer's public key: SPKI PEM or SPKI DER */
    size_t key_len;
    const void *sig; /* Ed25519: 64 bytes; ECDSA: DER */
    size_t sig_len;
};

/* The verified approvers of a change: distinct key ids, in first-signature order. */
struct arca_approvers {
    uint8_t (*ids)[32]; /* owned; free with arca_approvers_clear */
    size_t count;
};

/*
 * Verifies every signature of sigs[0..n) over msg. Every one must verify: a signature over
 * another message, an unreadable key or a key that cannot approve fails the whole set with
 * ARCA_ERR_SIGNATURE / ARCA_ERR_FORMAT / ARCA_ERR_UNSUPPORTED, the detail naming the
 * signature's index and signer key hash. More than ARCA_APPROVAL_MAX_SIGS is ARCA_ERR_LIMIT.
 * A signer who signed twice is counted once. On success *out (cleared first) holds the
 * distinct key ids; on failure it is left empty.
 */
int arca_approval_verify(const uint8_t msg[ARCA_APPROVAL_MSG_LEN],
                         const struct arca_approval_sig *sigs, size_t n,
                         struct arca_approvers *out);
void arca_approvers_clear(struct arca_approvers *a);

/*
 * Parsed signer keys kept between verifications, keyed by the exact SPKI bytes a signature
 * gives: parsing a key (OpenSSL's decoders) and deriving its key id cost several times the
 * signature check itself, and a board signs change after change with the same keys. At most
 * cap keys (1..65536) are kept, the oldest replaced first. Thread-safe: one cache may serve
 * every thread (lookups take a mutex; keys are parsed and signatures verified outside it).
 * Free with arca_approval_cache_free (NULL is fine) once no thread uses it.
 */
struct arca_approval_cache;
int arca_approval_cache_new(size_t cap, struct arca_approval_cache **out);
void arca_approval_cache_free(struct arca_approval_cache *c);

/* arca_approval_verify with parsed keys taken from and added to c (NULL: no cache); the same
 * result and errors. */
int arca_approval_verify_cached(struct arca_approval_cache *c,
                                const uint8_t msg[ARCA_APPROVAL_MSG_LEN],
                                const struct arca_approval_sig *sigs, size_t n,
                                struct arca_approvers *out);

/* Appends the Base58Check key hash (the 50-character form policies and `arca self
 * show-key-hash` use) of key id to out. */
int arca_approval_key_text(const uint8_t id[32], struct arca_buf *out);

/*
 * Is key id named anywhere in rule (as signer:, key hash or certificate)? Used to refuse a
 * signature by a key the rule does not know ("unknown signer").
 */
bool arca_approval_rule_names(const struct arca_ap_rule *rule, const uint8_t id[32]);

/*
 * Evaluates rule (the ACTIVE version's rule for op_name, e.g. "update") for subject, as
 * arca_access_check does, and when it does not hold appends to why an explanation naming each
 * unsatisfied branch and the keys it misses, for example
 *   "update needs 2 of 3 (require-at-least-2, line 4); have 1 (missing: signer 8Fq..., signer
 *    2Rt...)".
 * The text names key hashes and line numbers only, never secret values. *allowed set on
 * success; why untouched when the rule holds. 0 or a negative code (malformed tree).
 */
int arca_approval_explain(const struct arca_ap_rule *rule,
                          const struct arca_access_subject *subject, const char *op_name,
                          bool *allowed, struct arca_buf *why);

/*
 * Can rule ever hold? A request has at most one TLS client certificate, so a tree that needs
 * two different client certificates (or the creator and another certificate, or NONE inside a
 * tree) can never be satisfied, whatever is signed. creator (may be NULL: not known yet) is the
 * session's creator key id. Returns 0 if some request could satisfy it; ARCA_ERR_POLICY with a
 * detail naming op_name and the rule's line if none can; another negative code for a
 * malformed tree. A rule that is exactly [NONE] is deliberate and counts as satisfiable.
 */
int arca_approval_satisfiable(const struct arca_ap_rule *rule, const uint8_t *creator,
                              const char *op_name);

#endif
