/*
 * The CAS's server logic for the client API (docs/internals/cas.md): the rules for creating
 * and updating sessions, who may read, list and see history, and which values are public. No
 * HTTP here: arcad (src/arcad/api.c) turns a request into one call and the answer into JSON
 * with api/client_api.h; tests call it directly over a real store.
 *
 * Errors are arca_err codes whose detail is the human message the client sees:
 *   ARCA_ERR_UNAUTHENTICATED  no client key where one is needed
 *   ARCA_ERR_FORMAT           bad input (empty upload, malformed hash)
 *   ARCA_ERR_NOT_FOUND        no such session / version / namespace session, and also a session
 *                             the client may not read (same detail as a missing one: no oracle)
 *   ARCA_ERR_DENIED           the access policy does not admit a client that may read (audited)
 *   ARCA_ERR_TOO_LARGE        the session asks for more keys/certificates/work than allowed
 *   ARCA_ERR_LIMIT            the client's quota of sessions is used up
 *   ARCA_ERR_EXISTS, ARCA_ERR_CONFLICT  create of an existing name, stale predecessor
 *   other                     store, secrets or internal failures, passed up unchanged
 * Access is always decided against the *active* version (or the namespace session's active
 * version for a create), never against an uploaded one, so an update cannot grant itself
 * rights. Nothing here ever puts a secret value into an answer, a detail, a log or an audit
 * line; session text that passes through is wiped when freed.
 *
 * Thread-safety: every function may run on several threads at once over the same context
 * (the store and the audit log serialise what they must).
 */
#ifndef ARCA_CAS_CAS_H
#define ARCA_CAS_CAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/client_api.h"
#include "secrets/secrets.h"

struct arca_store;
struct arca_attest_remote;
struct arca_audit;
struct arca_diag;
struct arca_session_cache;

#define ARCA_CAS_KEY_LEN 32
/* The longest predecessor walk a history answer makes. */
#define ARCA_CAS_HISTORY_MAX 10000

/* What the server logic needs; every pointer borrowed, outliving the calls. */
struct arca_cas {
    struct arca_store *store;
    struct arca_audit *audit;          /* NULL: no audit events (unit tests) */
    uint8_t cas_key[ARCA_CAS_KEY_LEN]; /* this CAS's key id (SHA-256 of its SPKI) */
    /* What one create/update may make arcad generate (arcad's --max-keys-per-session ...;
     * zeroes: no limit). Refused with ARCA_ERR_TOO_LARGE naming the limit. */
    struct arca_secrets_limits secrets_limits;
    /* Sessions one client key may create (--max-sessions-per-client; 0: no limit). Refused
     * with ARCA_ERR_LIMIT naming the limit. */
    uint64_t max_sessions_per_client;
    /* Imported access policies from another arcad are fetched with this (arcad's peer
     * importer, attest/attest.h); NULL: they stay unresolved and grant nothing. */
    const struct arca_attest_remote *remote;
    /* Parsed approval signer keys kept between uploads (govern/approval.h, thread-safe;
     * borrowed). NULL: every approval key is parsed again. */
    struct arca_approval_cache *approvals;
    /* Parsed versions kept between requests (policy/session_cache.h, thread-safe; borrowed).
     * NULL: every request parses the version it decides on again. */
    struct arca_session_cache *sessions;
};

/*
 * Appends event (audit/audit.h ARCA_AUDIT_*) with fields (stolen; may be NULL) to cas's audit
 * log, if it has one. A failure is logged, not returned: the change it records is durable
 * already, and the caller's answer must not depend on the log.
 */
void arca_cas_audit(const struct arca_cas *cas, const char *event, json_t *fields);

/* The result of arca_cas_session_put. */
struct arca_cas_put {
    struct arca_api_version v; /* name, hash, version, creator of the stored version */
    bool updated;              /* true: an update, false: a create */
    bool invalid;              /* the upload is not a valid session: see the diag */
};

/*
 * The refusals of arca_cas_session_put that depend on the upload s alone, not on what is
 * stored: the secret-generation cost under lim (ARCA_ERR_TOO_LARGE naming the arcad flag),
 * access rules the creator (key id; NULL: not known, that check is skipped) cannot satisfy,
 * and a `creator:` that names another key. The server runs the same checks on every upload;
 * `arca session check` runs them with arcad's default limits.
 */
struct arca_session;
int arca_cas_session_check_static(const struct arca_secrets_limits *lim,
                                  const struct arca_session *s, const uint8_t *creator);

/*
 * Creates (no `predecessor`) or updates (predecessor = active hash) a session from the YAML
 * yaml[0..n) uploaded by the client with key id client (NULL: no certificate). On create of
 * "a/b" the namespace session "a" must exist and its create_sessions rule admit the client;
 * on update the active version's update rule must admit the client. Secrets are generated
 * (create) or migrated (update), then the version and its sealed secrets are committed in one
 * durable write and an audit event is appended. When the YAML does not load, out->invalid is
 * set and diag (the caller's, initialised) holds every diagnostic. yaml stays the caller's (it
 * may hold secret values: the caller wipes it). *out is cleared with arca_cas_put_clear, also
 * after a failure.
 */
int arca_cas_session_put(const struct arca_cas *cas, const uint8_t *client, const void *yaml,
                         size_t n, struct arca_diag *diag, struct arca_cas_put *out);
void arca_cas_put_clear(struct arca_cas_put *p);

/*
 * The active version of name, or its stored version whose hash is hash_hex (64 hex digits;
 * NULL: the active one), for the client (read rule of the active version), with the session
 * text redacted of secret values. The read is audited. *out (arca_api_version_clear) is
 * cleared on failure.
 */
int arca_cas_session_read(const struct arca_cas *cas, const uint8_t *client, const char *name,
                          const char *hash_hex, struct arca_api_version *out);
/*
 * The same read (same rule, same audit line, same errors), its answer as the JSON text of the
 * client API (arca_api_version_to_json, form READ, unsorted compact dump) into out (reset
 * first; empty on failure). The text of a version is made once and kept with its entry in
 * cas->sessions (policy/session_cache.h "Memos"), keyed by the version and every other input
 * of the answer, so it is never stale.
 */
int arca_cas_session_read_json(const struct arca_cas *cas, const uint8_t *client, const char *name,
                               const char *hash_hex, struct arca_buf *out);

/* Listing pages (GET /v1/sessions?limit=N&after=NAME). */
#define ARCA_CAS_LIST_DEFAULT 100
#define ARCA_CAS_LIST_MAX 1000

/*
 * The sessions whose names start with prefix ("" or NULL: all), sort after after (NULL: from
 * the first) and whose active version's list_sessions rule admits the client, sorted by name,
 * at most limit of them (0: ARCA_CAS_LIST_DEFAULT; above ARCA_CAS_LIST_MAX: ARCA_ERR_FORMAT).
 * Decided from the store's listing index without opening the versions (an entry without one
 * is decided from its version; one that cannot be decided is left out). *next (may be NULL)
 * gets the name to pass as after for the next page (malloc'ed, free()), NULL on the last page.
 * *out (arca_api_versions_clear) is cleared on failure.
 */
int arca_cas_session_list(const struct arca_cas *cas, const uint8_t *client, const char *prefix,
                          const char *after, size_t limit, struct arca_api_versions *out,
                          char **next);

/*
 * The versions of name from the active one back to the first (at most ARCA_CAS_HISTORY_MAX),
 * for a client the active version's read rule admits. *out (arca_api_versions_clear, name
 * set) is cleared on failure.
 */
int arca_cas_session_history(const struct arca_cas *cas, const uint8_t *client, const char *name,
                             struct arca_api_versions *out);

/*
 * The approvals stored with version hash_hex (64 hex) of name (docs/governance.md), for a
 * client the active version's read rule admits: a JSON object (json_decref) with name, hash,
 * message, operation, judged_by, client and approvals [{key_id, signer, signature}].
 * ARCA_ERR_NOT_FOUND when the version was not admitted by approvals.
 */
int arca_cas_session_approvals(const struct arca_cas *cas, const uint8_t *client, const char *name,
                               const char *hash_hex, json_t **out);

/*
 * The public values of session name (secrets marked export_public of its active version; for
 * a private key only its public key), in the order the session declares them; secret (NULL:
 * all) selects one. No client identity is needed. ARCA_ERR_NOT_FOUND if the session does not
 * exist; a session without such secrets gives an empty list (arcad answers both alike). *out (arca_api_values_clear) is
 * cleared on failure.
 */
int arca_cas_values(const struct arca_cas *cas, const char *name, const char *secret,
                    struct arca_api_values *out);

/* ---- remote export (cas_export.c) ---------------------------------------------------------- */

/* What an attested arcad asks for; every pointer borrowed. */
struct arca_cas_export_req {
    const char *session;             /* our exporting session */
    const char *secret;              /* its secret */
    const char *importer;            /* the importing session on the asking arcad */
    const uint8_t *importer_hash;    /* its version hash (32 bytes) */
    const uint8_t *peer_key;         /* the asking arcad's attested CAS key (32 bytes) */
    const uint8_t *peer_measurement; /* its attested measurement (32 bytes) or NULL */
};

/*
 * Checks the secret's export rules for the asking arcad and session and appends the value,
 * encoded as a one-entry secret set (secrets.h), to out (a secret buffer; unchanged on
 * failure). One `secret_export` audit event either way (outcome, reason; never the value). A
 * missing session and a missing secret get the same answer (ARCA_ERR_NOT_FOUND); a rule that
 * does not admit the asker is ARCA_ERR_DENIED.
 */
int arca_cas_export_remote(const struct arca_cas *cas, const struct arca_cas_export_req *q,
                           struct arca_buf *out);

#endif
