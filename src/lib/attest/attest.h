/*
 * The attestation pipeline of the enclave API (DESIGN §4, docs/internals/attest.md): nonces
 * (challenge), then for an attest request the checks in this order, each refusal with its own
 * reason:
 *
 *   TLS peer key -> nonce (issued by us, unexpired, single use) -> evidence type allowed ->
 *   evidence verifies (collateral selection) -> REPORTDATA equals the binding recomputed from
 *   the peer's SPKI -> session and service exist -> appraisal (mode, DEBUG, TCB, variants) ->
 *   platforms -> service access token -> one-time password (consumed last, so a refused launch
 *   does not burn a valid code) -> the launch configuration is built and encoded.
 *
 * No HTTP here: the program (arcad's enclave_api.c) hands over the peer's SPKI and the parsed
 * request body and sends what comes back. Every outcome is one audit line (session, service,
 * evidence type, measurement, platform, peer key id, outcome, reason) and never holds a secret.
 */
#ifndef ARCA_ATTEST_ATTEST_H
#define ARCA_ATTEST_ATTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "api/attest_wire.h"
#include "attest/verify.h"
#include "base/buf.h"
#include "policy/session.h"

struct arca_store;
struct arca_audit;
struct arca_throttle;
struct arca_ratelimit;
struct arca_claims;
struct arca_secret_set;
struct arca_session_cache;

#define ARCA_ATTEST_NONCE_TTL_DEFAULT 60 /* seconds: evidence is made right after the challenge */
#define ARCA_ATTEST_OTP_DIGITS 6
/* Audit event of a session/service locked out after failed attestations. */
#define ARCA_AUDIT_ATTEST_LOCKOUT "attestation_locked_out"

/* One secret a session imports from a session on another arcad. */
struct arca_attest_import {
    const char *session;         /* the importing session */
    const uint8_t *hash;         /* its version hash (32 bytes) */
    const struct arca_secret *d; /* the importing secret (kind, import reference) */
    const char *secret;          /* the secret's name in the exporting session */
};

/*
 * Fetches an imported secret from the exporting arcad named in q->d->import_from (cas_url,
 * cas_key or cas_software_key), into *out (a new value, arca_secret_value_free). Called on the
 * attesting thread; must be thread-safe. Errors name the remote CAS and why, never a value.
 */
struct arca_secret_value;
struct arca_attest_remote {
    int (*fetch)(void *arg, const struct arca_attest_import *q, int64_t now,
                 struct arca_secret_value **out);
    void *arg;
};

/*
 * Everything the pipeline needs; filled by the program before it serves and read-only after,
 * so worker threads share it (the store and the audit log are thread-safe on their own).
 * store, audit and what verify points to are borrowed; nonce_key is the context's own and is
 * wiped by arca_attest_ctx_clear.
 */
struct arca_attest_ctx {
    struct arca_store *store; /* required for attest */
    struct arca_audit *audit; /* NULL: outcomes are not audited (unit tests) */
    struct arca_attest_verify_cfg verify;
    /* Failed guesses per "session/service" (access token, one-time password) of callers whose
     * evidence verified: slowed down, then locked out; a success forgets them; a waiting or
     * locked-out key refuses every attempt. Borrowed; NULL: no throttling (unit tests). */
    struct arca_throttle *throttle;
    /* Audit lines of refusals before the evidence verified (anonymous callers) take a token
     * here; beyond it they are only logged, so strangers cannot grow the audit log faster than
     * this allows. Borrowed; NULL: every refusal is audited. */
    struct arca_ratelimit *unverified_audit;
    /* Imports from another arcad (peer/import.h); NULL: refused as unsupported. Borrowed. */
    const struct arca_attest_remote *remote;
    /* Parsed session versions kept between attestations (policy/session_cache.h; thread-safe,
     * shared with the client API). Borrowed; NULL: each attestation parses its version. */
    struct arca_session_cache *sessions;
    int nonce_ttl;         /* seconds; 1..3600 */
    uint8_t nonce_key[32]; /* per process: nonces do not outlive it */
    /* The nonces used up and not yet expired (nonce.c); owned, made by arca_attest_ctx_init
     * and freed by arca_attest_ctx_clear. Thread-safe on its own. */
    struct arca_nonce_used *used;
};

/* Used nonces held in memory per context by default: at the default lifetime about 1000
 * attestations a second (the set takes 16 bytes a nonce, twice this many slots). */
#define ARCA_ATTEST_NONCES_USED_MAX 65536

/* Sets ttl (<= 0: the default), a fresh random nonce key and an empty used-nonce set of
 * ARCA_ATTEST_NONCES_USED_MAX; the rest is left to the caller. Undone by arca_attest_ctx_clear. */
int arca_attest_ctx_init(struct arca_attest_ctx *ctx, int nonce_ttl);
/* The same with a used-nonce set of used_max (1..2^24) nonces. */
int arca_attest_ctx_init_max(struct arca_attest_ctx *ctx, int nonce_ttl, size_t used_max);
/* Wipes the nonce key and frees the used-nonce set (everything else is borrowed). */
void arca_attest_ctx_clear(struct arca_attest_ctx *ctx);

/* ---- nonces (nonce.c) ---------------------------------------------------------------------- */

/*
 * Nonces are stateless until used: N = expiry (u64be) || 8 random bytes || the first 16 bytes
 * of HMAC-SHA-256(nonce_key, "arca-nonce-v1" || expiry || random). Issuing one writes nothing
 * (an unauthenticated peer cannot fill memory or the store, a challenge costs no disk write).
 * A used nonce is remembered in memory until it expires; the nonce key dies with the process,
 * so after a restart no earlier nonce verifies and forgetting them all is safe. When the set is
 * full of unexpired nonces, new challenges and uses are refused (ARCA_ERR_LIMIT: busy) rather
 * than a used nonce forgotten.
 */
int arca_attest_challenge(const struct arca_attest_ctx *ctx, int64_t now,
                          struct arca_challenge_answer *out);
/* That we issued nonce and that it is unexpired (ARCA_ERR_UNAUTHENTICATED / ARCA_ERR_EXPIRED);
 * *expires gets its expiry. */
int arca_attest_nonce_check(const struct arca_attest_ctx *ctx,
                            const uint8_t nonce[ARCA_LAUNCH_NONCE_LEN], int64_t now,
                            int64_t *expires);
/* Checks and uses up the nonce (in the context's used set until it expires): a second use is
 * ARCA_ERR_REPLAY "used already"; a full set ARCA_ERR_LIMIT. Nothing is written to the store. */
int arca_attest_nonce_use(const struct arca_attest_ctx *ctx,
                          const uint8_t nonce[ARCA_LAUNCH_NONCE_LEN], int64_t now);

/* ---- the target of a request --------------------------------------------------------------- */

struct arca_attest_target {
    char session[ARCA_SESSION_NAME_MAX + 1];
    char service[ARCA_SESSION_COMPONENT_MAX + 1];
    bool has_otp;
    char otp[ARCA_ATTEST_OTP_DIGITS + 1];
};

/* "session/service[@OTP]": the service is after the last '/' (session names may hold '/'),
 * the OTP six digits after '@'. ARCA_ERR_FORMAT naming what is wrong; *t zeroed first. */
int arca_attest_target_parse(const char *config_id, struct arca_attest_target *t);

/* ---- checks after appraisal (checks.c) ----------------------------------------------------- */

/* `platforms`: the evidence's platform id (the sim platform key id, or SHA-256 of a longer id
 * such as an SNP chip id) must be one of the service's 32-byte values (literal, or a secret
 * holding 32 bytes or their hex). ARCA_ERR_POLICY otherwise. */
int arca_attest_check_platforms(const struct arca_service *svc, const struct arca_claims *c,
                                struct arca_secret_set *set);
/* The session's service access token, rendered first (placeholders expanded from set, as
 * everywhere else), compared through digests (neither contents nor length leak through
 * timing). token may be NULL (none sent). */
int arca_attest_check_access_token(const struct arca_session *s, struct arca_secret_set *set,
                                   const char *token);
/* The service's one-time password (TOTP SHA-1, 30 s steps, current step +- 1): required when the
 * service (or session) has a shared secret; an accepted code is recorded so it works once. */
int arca_attest_check_otp(const struct arca_attest_ctx *ctx, const struct arca_session *s,
                          const struct arca_service *svc, struct arca_secret_set *set,
                          const struct arca_attest_target *t, int64_t now);

/* ---- secrets (secrets.c) ------------------------------------------------------------------ */

/*
 * The secrets of the session version rec, with the imported ones resolved from their
 * exporting sessions' active versions (which must export them to this session; relative
 * names resolved against rec's name; the value's kind must be the importing secret's, if it
 * names one), from this arcad's store or through ctx->remote at now. *out is a
 * new set (arca_secret_set_free), NULL on failure.
 */
struct arca_store_session;
/*
 * Adds to set the value uploaded for each provided_by secret of model in session (provided.c);
 * secrets not uploaded yet stay absent. set keeps its own references.
 */
int arca_attest_provided_load(struct arca_store *st, const char *session,
                              const struct arca_session *model, struct arca_secret_set *set);
int arca_attest_secrets_load(const struct arca_attest_ctx *ctx,
                             const struct arca_store_session *rec, const struct arca_session *model,
                             int64_t now, struct arca_secret_set **out);

/*
 * The session yaml[0..len) of session name (version hash, 32 bytes) as a model, with its
 * imported fragments resolved (issue 13 item 3, struct arca_import_use): each import's value is
 * fetched as for arca_attest_secrets_load and the session is loaded again with the values, so
 * they are validated fully where they stand. A session without such places is loaded as is.
 * 0 with *out (arca_session_free); otherwise *out is NULL and the detail names the import and
 * the field: a value that cannot be fetched keeps the fetch's code, a value that is no config
 * fragment is ARCA_ERR_POLICY, one that does not fit there ARCA_ERR_FORMAT (with the first
 * located error).
 */
/*
 * For access checks: when *model (loaded from yaml of session name, version hash) has access
 * rules that are imported fragments, resolves them (as arca_attest_session_resolve) from this
 * arcad's sessions, and from another arcad through remote (peer/import.h: its cache of
 * ARCA_IMPORT_CACHE_TTL seconds per import and importer version; NULL: such imports are
 * refused as not enabled) at time now, and replaces *model by the resolved one. 0 when there
 * was nothing to resolve or it was resolved; on failure (an unreachable exporter included)
 * *model is unchanged, so its imported rules grant nothing, and the code is returned.
 */
int arca_attest_access_resolve(struct arca_store *store, const struct arca_attest_remote *remote,
                               const char *name, const uint8_t hash[32], const char *yaml,
                               size_t len, int64_t now, struct arca_session **model);
int arca_attest_session_resolve(const struct arca_attest_ctx *ctx, const char *name,
                                const uint8_t hash[32], const char *yaml, size_t len, int64_t now,
                                struct arca_session **out);

/* ---- the whole exchange (pipeline.c) ------------------------------------------------------- */

/* What the audit line, the log and the metrics say about one attest request. */
struct arca_attest_outcome {
    char session[ARCA_SESSION_NAME_MAX + 1];
    char service[ARCA_SESSION_COMPONENT_MAX + 1];
    const char *evidence_type; /* static name, or NULL */
    char measurement[2 * 48 + 1];
    char platform[2 * 64 + 1];
    char peer[2 * 32 + 1]; /* SHA-256 of the peer's SPKI, hex */
    /* The evidence verified and is bound to this connection, nonce and config id: the caller
     * is the attested program (not a stranger). */
    bool verified;
    bool locked_out; /* this refusal locked session/service out (audited as its own event) */
};

/*
 * Runs every check on a decoded request and builds the launch configuration into *answer
 * (zeroed first; arca_launch_config_free wipes it). spki is the DER SubjectPublicKeyInfo of
 * the TLS peer (NULL: no client certificate, refused). Fills *o as far as it got. Does not
 * audit (arca_attest_exchange does). With ctx->throttle, a session/service that must wait is
 * refused first with ARCA_ERR_LIMIT ("try again in N s"); nothing is written to the store
 * before the evidence verified and is bound to the connection (the nonce's single-use record
 * comes right after that).
 */
int arca_attest_run(const struct arca_attest_ctx *ctx, const uint8_t *spki, size_t spki_len,
                    const struct arca_attest_request *req, int64_t now,
                    struct arca_launch_config *answer, struct arca_attest_outcome *o);

/*
 * The attest exchange for a request body already parsed (with JSON_REJECT_DUPLICATES): decode,
 * arca_attest_run, encode the configuration into answer (a secret buffer the caller
 * initialised; unchanged on failure), and append the one audit line of the outcome. *o is
 * zeroed first. Returns 0 or the refusal (arca_err_detail() is the audited reason).
 */
int arca_attest_exchange(const struct arca_attest_ctx *ctx, const json_t *body, const uint8_t *spki,
                         size_t spki_len, int64_t now, struct arca_buf *answer,
                         struct arca_attest_outcome *o);

/* Appends the audit line of an outcome (rc: 0 accepted, else refused with arca_err_detail()),
 * and an `attestation_locked_out` line when o->locked_out. For refusals before a body could be
 * decoded. A refusal of an unverified caller is audited only while ctx->unverified_audit has
 * a token (else logged). Every field is bounded (names by their grammar, the reason by
 * ARCA_ERR_DETAIL_MAX). The outcome line is durable (arca_audit_append_durable) on return 0;
 * a failure is logged and returned (arca_attest_exchange then refuses an acceptance). */
int arca_attest_audit(const struct arca_attest_ctx *ctx, const struct arca_attest_outcome *o,
                      int rc, int64_t now);

/* Throttle key of a target: "session/service" (at most ARCA_ATTEST_THROTTLE_KEY_MAX bytes). */
#define ARCA_ATTEST_THROTTLE_KEY_MAX (ARCA_SESSION_NAME_MAX + ARCA_SESSION_COMPONENT_MAX + 2)

/* Expired single-use records (nonces, one-time passwords) are purged every this many
 * attestations (arca_attest_purge_due). */
#define ARCA_ATTEST_PURGE_EVERY 64

/*
 * Purges the store's expired single-use records. The work is bounded by the records that can
 * exist: at most one per nonce (a nonce lives nonce_ttl s) and one per accepted one-time
 * password, and they were purged ARCA_ATTEST_PURGE_EVERY attestations ago. Failing is logged.
 */
void arca_attest_purge(const struct arca_attest_ctx *ctx, int64_t now);

#endif
