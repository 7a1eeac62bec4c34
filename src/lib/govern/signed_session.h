/*
 * Signed sessions (the established CAS's 5.8 form, docs/governance.md): a session text fixed
 * together with everything its approval message binds, and the approvals gathered so far.
 *
 *   {
 *     "format": "arca-signed-session-v1",
 *     "name": "ns/app",                 the session's name (must match the text)
 *     "session": "<YAML text>",         with `predecessor:` set for an update
 *     "cas_key": "<64 hex>",            the CAS the change is for
 *     "predecessor": "<64 hex>" | null, the version replaced (must match the text); null: create
 *     "creator": "<64 hex>",            the creator key id folded into the hash
 *     "hash": "<64 hex>",               the canonical hash of the text with that creator
 *     "signatures": [ {"signer": "<SPKI PEM>", "signature": "<base64>"}, ... ]
 *   }
 *
 * Parsing is strict: every field present with its type, no other field, no duplicate key,
 * bounded sizes. The parser checks form only; the CAS checks the meaning (the text loads, name,
 * predecessor and hash agree, the signatures verify, the rule holds).
 */
#ifndef ARCA_GOVERN_SIGNED_SESSION_H
#define ARCA_GOVERN_SIGNED_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "govern/approval.h"

#define ARCA_SIGNED_SESSION_FORMAT "arca-signed-session-v1"
/* The longest signer PEM and signature accepted (P-384 SPKI PEM is ~215 bytes). */
#define ARCA_SIGNED_SIGNER_MAX 4096
#define ARCA_SIGNED_SIG_MAX 512

struct arca_signed_sig {
    char *signer; /* SPKI PEM, NUL-terminated (owned) */
    size_t signer_len;
    uint8_t *sig; /* owned */
    size_t sig_len;
};

struct arca_signed_session {
    char *name;    /* owned, NUL-terminated */
    char *session; /* the YAML text (owned, wiped when freed: it may hold explicit values) */
    size_t session_len;
    uint8_t cas_key[32];
    bool has_predecessor;
    uint8_t predecessor[32];
    uint8_t creator[32];
    uint8_t hash[32];
    struct arca_signed_sig *sigs; /* owned array */
    size_t n_sigs;
};

/* Does p[0..n) look like a signed session (a JSON object naming the format)? A cheap test to
 * route an upload; the parse decides. */
bool arca_signed_session_detect(const void *p, size_t n);

/* Parses p[0..n) strictly (see above). ARCA_ERR_FORMAT naming the field, ARCA_ERR_TOO_LARGE /
 * ARCA_ERR_LIMIT for sizes. *out freed with arca_signed_session_free; untouched on failure. */
int arca_signed_session_parse(const void *p, size_t n, struct arca_signed_session **out);

/* Appends the JSON form of s (keys in a fixed order, 2-space indent, trailing newline) to out
 * (use a secret buffer: the text may hold explicit values). */
int arca_signed_session_encode(const struct arca_signed_session *s, struct arca_buf *out);

/* The approval message of s (its cas_key, name, predecessor and hash). */
int arca_signed_session_message(const struct arca_signed_session *s,
                                uint8_t msg[ARCA_APPROVAL_MSG_LEN]);

/* Adds signer's signature (signer: SPKI PEM or DER; stored as PEM). A signature by the same key
 * replaces the earlier one, so signing again does not duplicate. The signature is verified
 * over s's message first (ARCA_ERR_SIGNATURE naming the signer otherwise). s unchanged on
 * failure. */
int arca_signed_session_add(struct arca_signed_session *s, const void *signer, size_t signer_len,
                            const void *sig, size_t sig_len);

/* The signatures of s as verification input (borrowed pointers into s; free(*out)). */
int arca_signed_session_sigs(const struct arca_signed_session *s, struct arca_approval_sig **out);

void arca_signed_session_free(struct arca_signed_session *s);

#endif
