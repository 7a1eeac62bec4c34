/*
 * Internals of the session loader, shared by session_load.c (the entry points and the top
 * level) and the load_*.c files (one per section of the session language). Not a public API.
 *
 * Every parse function records its problems in the loader's diagnostics (ld_err, ld_unsup)
 * and carries on, so that one run lists every error; none of them returns an error code.
 * Strings and arrays they store in the model are owned by the model (arca_session_free).
 *
 * The key path ("services[0].attestation.mrenclave") that every diagnostic names is only ever
 * extended through LD_AT_KEY / LD_AT_INDEX, which take an expression (not a statement, so no
 * return or break can skip the restore) and check on the way out that the path is back where
 * it was.
 */
#ifndef ARCA_POLICY_LOAD_INTERNAL_H
#define ARCA_POLICY_LOAD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/session_internal.h"

#define LD_PATH_MAX 512

/* The state of one arca_session_load run. */
struct ld {
    const char *file;
    struct arca_diag *diag;
    unsigned errors;
    unsigned unsupported;
    bool oom;
    bool path_broken; /* a key-path scope was left unbalanced: a loader bug, the load fails */
    char path[LD_PATH_MAX];
    size_t plen;
    unsigned depth; /* key-path scopes open */
    struct arca_session *s;
    struct arca_ynode *root;
    size_t copied; /* nodes copied by fragment substitution (bounded like the input) */
    const struct arca_fragment_value *frags; /* imported fragments' values (borrowed) */
    size_t n_frags;
    struct arca_ynode **frag_trees; /* frags parsed when first used (owned, n_frags slots) */
    bool hash_only; /* arca session hash: features needing Azure at run time are not refused */
    /* security.attestation's mode or tolerate (or an entry) is an imported fragment: the
     * production-mode wildcard rule is checked when it is resolved, at use */
    bool sec_deferred;
};

/* ---- diagnostics (load_core.c) ------------------------------------------------------------- */

/* Records an error at pos with the current key path. */
void ld_err(struct ld *L, struct arca_pos pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Records "<what> is not supported by arca" (counted apart: only these give UNSUPPORTED). */
void ld_unsup(struct ld *L, struct arca_pos pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Records "<what> is not supported by arca yet": planned, refused until it is implemented. */
void ld_unsup_yet(struct ld *L, struct arca_pos pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- the scoped key path (load_core.c) ----------------------------------------------------- */

/* Where a key-path scope began. Only LD_AT_KEY / LD_AT_INDEX use these. */
struct ld_mark {
    size_t plen;
    unsigned depth; /* L->depth inside the scope */
};
struct ld_mark ld_scope_enter_key(struct ld *L, const char *key);
struct ld_mark ld_scope_enter_index(struct ld *L, size_t i);
/*
 * Closes the scope m: restores the path. If another scope opened inside was not closed (only a
 * bug can do that), it asserts in debug builds and, in every build, marks the load broken
 * (arca_session_load then fails with ARCA_ERR_INTERNAL) and still restores the path.
 */
void ld_scope_leave(struct ld *L, struct ld_mark m);

/* Evaluates expr with ".key" appended to the key path, then restores the path (checked). */
#define LD_AT_KEY(L, key, expr)                                                                    \
    do {                                                                                           \
        const struct ld_mark ld_mark_ = ld_scope_enter_key((L), (key));                            \
        (void)(expr);                                                                              \
        ld_scope_leave((L), ld_mark_);                                                             \
    } while (0)

/* Evaluates expr with "[i]" appended to the key path, then restores the path (checked). */
#define LD_AT_INDEX(L, i, expr)                                                                    \
    do {                                                                                           \
        const struct ld_mark ld_mark_ = ld_scope_enter_index((L), (i));                            \
        (void)(expr);                                                                              \
        ld_scope_leave((L), ld_mark_);                                                             \
    } while (0)

/* Evaluates expr with "key[i]" appended to the key path, then restores it (both checked). */
#define LD_AT_ITEM(L, key, i, expr)                                                                \
    do {                                                                                           \
        const struct ld_mark ld_mark_key_ = ld_scope_enter_key((L), (key));                        \
        const struct ld_mark ld_mark_index_ = ld_scope_enter_index((L), (i));                      \
        (void)(expr);                                                                              \
        ld_scope_leave((L), ld_mark_index_);                                                       \
        ld_scope_leave((L), ld_mark_key_);                                                         \
    } while (0)

/* ---- structure (load_core.c) --------------------------------------------------------------- */

/* n has type t; otherwise "expected <what>, got ..." and false. */
bool ld_expect(struct ld *L, const struct arca_ynode *n, enum arca_ynode_type t, const char *what);

/*
 * The zeroed array (size bytes an element) for the items of list n, or NULL when n is not a list
 * (error `what`), is empty (error `empty` at n, or silently when empty is NULL) or on OOM.
 * Owned by the model the caller stores it in.
 */
void *ld_seq_alloc(struct ld *L, const struct arca_ynode *n, const char *what, const char *empty,
                   size_t size);

/*
 * Parses one list item into base[i] (base is the array of items; earlier items are base[0..i)).
 * ctx is the caller's.
 */
typedef void (*ld_item_fn)(struct ld *L, const struct arca_ynode *it, void *base, size_t i,
                           void *ctx);

/*
 * The items of the list n (its key already on the path): an array of n->n_items elements of
 * size bytes (calloc'ed, owned by the model it is stored in), each filled by fn with its index
 * on the path, and *count set. Not a list (error `what` given), an empty one or OOM: NULL and
 * *count 0.
 */
void *ld_parse_seq(struct ld *L, const struct arca_ynode *n, const char *what, size_t size,
                   size_t *count, ld_item_fn fn, void *ctx);

/*
 * Reports keys of map m not in allowed (NULL-terminated) as unknown, and keys in unsupported
 * as documented but not supported by arca. Returns false if m is not a map.
 */
bool ld_check_keys(struct ld *L, const struct arca_ynode *m, const char *what,
                   const char *const *allowed, const char *const *unsupported);

/* ---- scalar fields (load_fields.c) --------------------------------------------------------- */

/* Copies s[0..len) into out (replacing and wiping what it held). False on OOM. */
bool ld_set_str(struct ld *L, struct arca_str *out, const char *s, size_t len, struct arca_pos pos);
/* A string value (numbers and booleans as written). Null/empty is an error unless allow_empty. */
bool ld_get_str(struct ld *L, const struct arca_ynode *n, struct arca_str *out, bool allow_empty);
/* The string field key of map m (error if absent and required). */
void ld_field_str(struct ld *L, const struct arca_ynode *m, const char *key, struct arca_str *out,
                  bool required);
/* The boolean field key of map m, if present. */
void ld_field_bool(struct ld *L, const struct arca_ynode *m, const char *key, bool *out);
/* Unsigned integer up to max: decimal, 0x hex, 0o octal (or leading-0 octal when octal_ok). */
bool ld_get_uint(struct ld *L, const struct arca_ynode *n, uint64_t max, bool octal_ok,
                 uint64_t *out);
/* The 16-bit field key of map m (0 when absent; *has set when present and valid). */
uint16_t ld_field_u16(struct ld *L, const struct arca_ynode *m, const char *key, bool *has);
/* A hex digit in any case (isxdigit without the locale). */
bool ld_is_hex_digit(char c);
/* Exactly n bytes of hex in t[0..len); messages say how long it should be, never the text. */
bool ld_decode_hex_fixed(struct ld *L, const char *what, const char *t, size_t len,
                         struct arca_pos pos, uint8_t *out, size_t n);
/* A scalar of exactly len bytes of hex. */
bool ld_get_hex_fixed(struct ld *L, const struct arca_ynode *n, const char *what, uint8_t *out,
                      size_t len);
/* The hex field key of map m (*has, if given, says whether it was valid). */
void ld_field_hex(struct ld *L, const struct arca_ynode *m, const char *key, uint8_t *out,
                  size_t len, bool *has, bool required);
/* Whole-text "$$SCONE::name[:format]$$" (no surrounding text): name/format offsets. */
bool ld_whole_placeholder(const char *t, size_t len, const char **name, size_t *nlen,
                          const char **fmt, size_t *flen);
/* t contains a placeholder start. */
bool ld_has_placeholder(const char *t);
/*
 * n is a placeholder where only a config fragment's value may stand, and fragment substitution
 * left it (it names no config-fragment with a value): reported, true.
 */
bool ld_unsubstituted_fragment(struct ld *L, const struct arca_ynode *n);
/* Key hash: 64 hex, or Base58Check of a 32-byte hash (the 50-character form). */
bool ld_decode_key_hash(struct ld *L, const char *what, const char *t, size_t len,
                        struct arca_pos pos, uint8_t out[32]);
/* A string or a list of strings; *out (owned by the model) holds the *count valid ones. */
void ld_parse_str_list(struct ld *L, const struct arca_ynode *n, struct arca_str **out,
                       size_t *count);
/* A 32-byte key field: 64 hex, or a whole placeholder naming the secret that holds it. */
void ld_parse_key32(struct ld *L, const struct arca_ynode *m, const char *key,
                    struct arca_key32_ref *k);
/* An fspf update policy (service = the service-level set of values). */
enum arca_fspf_policy ld_parse_policy(struct ld *L, const struct arca_ynode *n, bool service);
/* update_policy of a volume export or mount, if given (out unchanged when absent). */
void ld_field_update_policy(struct ld *L, const struct arca_ynode *it, enum arca_fspf_policy *out);
/* A session/service/secret name s (of field key) follows the name rules. */
void ld_check_name(struct ld *L, const char *key, const struct arca_str *s, bool allow_slash);
/*
 * An image name s (of field key): any non-empty text up to ARCA_SESSION_NAME_MAX without control
 * characters ("registry/path:tag" is how the docs name images); only session, service, secret
 * and volume names have the restricted character set.
 */
void ld_check_label(struct ld *L, const char *key, const struct arca_str *s);
/* one_time_password_shared_secret of map m: base32 of at least 128 bits, or a placeholder. */
void ld_parse_otp(struct ld *L, const struct arca_ynode *m, struct arca_str *out);

/* ---- sections ------------------------------------------------------------------------------ */

/*
 * load_fragment.c: replaces config-fragment placeholders (imported ones too when their value
 * was given) and records the places of imports without a value in L->s->import_uses; 0,
 * ARCA_ERR_ALLOC or _TOO_LARGE.
 */
int ld_substitute_fragments(struct ld *L);
/* n is a placeholder recorded as an import use (its value comes at use): skip it, no error. */
bool ld_is_pending(const struct ld *L, const struct arca_ynode *n);
/* The first import use at field or below it ("x" matches "x", "x.y", "x[0]"), or NULL. */
const struct arca_import_use *ld_import_under(const struct ld *L, const char *field);
/* Frees the parsed fragment trees. */
void ld_fragments_clear(struct ld *L);

/* load_ref.c: session references (secret exports and imports, volume exports and imports). */
bool ld_check_ref_name(struct ld *L, const char *t, size_t len, struct arca_pos pos);
void ld_parse_short_ref(struct ld *L, const struct arca_ynode *n, struct arca_session_ref *r);
void ld_parse_ref_fields(struct ld *L, const struct arca_ynode *m, struct arca_session_ref *r,
                         bool allow_namespace);

/* load_attest.c: attestation variants, digest lists, platform keys. */
void ld_parse_attestation(struct ld *L, const struct arca_ynode *n, struct arca_service *svc);
void ld_parse_digest_list(struct ld *L, const struct arca_ynode *n, const char *what,
                          struct arca_digest32 **out, size_t *count);
void ld_parse_platform_list(struct ld *L, const struct arca_ynode *n, const char *what,
                            struct arca_platform_ref **out, size_t *count);

/* load_service.c, load_secret.c, load_volume.c: one list item each. */
void ld_parse_service(struct ld *L, const struct arca_ynode *n, struct arca_service *svc);
void ld_parse_secret(struct ld *L, const struct arca_ynode *n, struct arca_secret *x);
/* After every secret is loaded: the signer of jwt secret x is a private-key secret of this
 * session (or imported) whose key fits the algorithm. */
void ld_check_jwt_signer(struct ld *L, const struct arca_secret *x);
void ld_parse_volume(struct ld *L, const struct arca_ynode *n, struct arca_volume *vo);
void ld_parse_image(struct ld *L, const struct arca_ynode *n, struct arca_image *im);

/* load_access.c: access_policy (n may be NULL) with the defaults materialised. */
void ld_parse_access(struct ld *L, const struct arca_ynode *n);

/*
 * load_access.c: the top-level creator: a PEM certificate or {signer: PEM} (what the
 * established CAS writes into read-back and signed sessions).
 */
void ld_parse_creator(struct ld *L, const struct arca_ynode *n);

/* load_security.c: the security section. */
void ld_parse_security(struct ld *L, const struct arca_ynode *n);

/* load_cross.c: checks across sections (names, references, placeholders). */
void ld_check_cross(struct ld *L);

/*
 * load_azure.c: the Azure forms of a secret (kind aad-token; import_akv) and their cross
 * check (an import_akv's token names an aad-token). ld_needs_azure refuses a feature that
 * needs Azure at run time, as "<feature> is not supported by arca", unless L->hash_only.
 */
void ld_parse_aad_token(struct ld *L, const struct arca_ynode *n, struct arca_secret *x,
                        const struct arca_ynode *kind);
void ld_parse_import_akv(struct ld *L, const struct arca_ynode *n, struct arca_secret *x);
void ld_check_azure(struct ld *L);
void ld_needs_azure(struct ld *L, struct arca_pos pos, const char *feature);

#endif
