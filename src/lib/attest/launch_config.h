/*
 * The configuration delivered to an attested service (DESIGN §4, docs/internals/attest.md):
 * built from the session's service and the launcher's host description, then encoded on the
 * wire by arca_launch_config_encode (api/attest_wire.h).
 */
#ifndef ARCA_ATTEST_LAUNCH_CONFIG_H
#define ARCA_ATTEST_LAUNCH_CONFIG_H

#include <stddef.h>

#include "api/attest_wire.h"
#include "policy/placeholder.h"
#include "policy/session.h"

struct arca_session;
struct arca_service;

/* What the launcher sent about its host (the attest request's "host" member): its own argv
 * (argv[0] = the program as invoked; @@N takes argv[N]) and environment (\@\@NAME). All
 * borrowed. */
struct arca_launch_host {
    const char *const *argv;
    size_t argc;
    const char *const *env_names;
    const char *const *env_values;
    size_t n_env;
};

/*
 * Builds the configuration delivered to an attested service into *out (zeroed first; free
 * with arca_launch_config_free, which wipes every value):
 *   argv  from the service's command (already split by the session loader); an argument that
 *         is exactly "@@N" takes host->argv[N] (missing or used twice: ARCA_ERR_POLICY);
 *         placeholders expanded;
 *   env   only the policy's variables; \@\@NAME takes the host's value ("" when unset);
 *         placeholders expanded;
 *   pwd   the service's pwd ("/" when absent);
 *   files the injection files of the service's image with their content expanded (binary
 *         allowed) and permission; the short form (content read from the program's file
 *         system) is ARCA_ERR_UNSUPPORTED.
 * Every argv and env value must be text the wire can carry (UTF-8 as jansson reads it: no
 * overlong forms, surrogates, bytes >= 0xF5 or truncated sequences) and hold no NUL byte:
 * ARCA_ERR_FORMAT otherwise. render/render_ctx resolve secrets (the session's own and imported
 * ones, e.g. arca_secret_set_render). Errors name the session path of the offending value,
 * never a secret value. On failure *out is empty.
 */
int arca_launch_config_build(const struct arca_session *s, const struct arca_service *svc,
                             const struct arca_launch_host *host, arca_placeholder_render_fn render,
                             void *render_ctx, struct arca_launch_config *out);

/* ---- protected volumes (volume_state.c, docs/volumes.md "Freshness") ---------------------- */

struct arca_store;

/* The delivered policy of a volume for the session's fspf_update_policy / update_policy:
 * rollback_protected(_reinitializable) and the default are rollback_protected. */
enum arca_launch_volume_policy arca_launch_volume_policy_of(enum arca_fspf_policy p);

/*
 * Completes the volumes of a built configuration c of session/service from arcad's store:
 *  - a volume without key in the policy gets arcad's key for it, generated and stored on
 *    first use;
 *  - rollback_protected and ephemeral volumes get the latest tag an attested program reported,
 *    as long as the policy still names the tag that version started from (a session update
 *    with another fspf_tag starts over from that tag); no_rollback_protection gets no tag;
 *  - c->volume_token: the credential for reporting new tags (launch id || HMAC).
 * Without volumes nothing happens. On failure c is unchanged but for keys already filled.
 */
/* Launch credentials (volume_token, provide_token): a random launch id of this length, then
 * arca_launch_token_mac = HMAC-SHA-256(key, label || session || 0 || service || 0 || id); the
 * label keeps the two kinds of credential apart. */
#define ARCA_LAUNCH_TOKEN_ID_LEN 16
int arca_launch_token_mac(const char *label, const uint8_t key[32], const char *session,
                          const char *service, const uint8_t id[ARCA_LAUNCH_TOKEN_ID_LEN],
                          uint8_t mac[32]);
/* Checks that token (launch id || mac) was issued under label to session/service with the
 * store's report key. ARCA_ERR_UNAUTHENTICATED ("WHAT: the credential was not issued to
 * SESSION/SERVICE") if not; compared in constant time, the key and mac wiped. */
int arca_launch_token_check(struct arca_store *st, const char *label, const char *what,
                            const char *session, const char *service,
                            const uint8_t token[ARCA_LAUNCH_TOKEN_ID_LEN + 32]);

int arca_launch_config_volumes_resolve(struct arca_store *st, const char *session,
                                       const char *service, struct arca_launch_config *c);

/*
 * A report of a new root tag (POST /v1/volumes/tag): checks token (made for session/service by
 * arca_launch_config_volumes_resolve; ARCA_ERR_UNAUTHENTICATED otherwise), that volume is one
 * of the service's volumes in the active policy model (ARCA_ERR_NOT_FOUND) and keeps changes
 * (ephemeral: ARCA_ERR_POLICY), and for rollback_protected that old_tag is the latest known
 * tag (ARCA_ERR_CONFLICT: an older version, or another writer reported first). Then stores
 * new_tag as the latest; *seq is its sequence number.
 */
int arca_volume_report_apply(struct arca_store *st, const struct arca_session *model,
                             const char *session, const char *service, const char *volume,
                             const uint8_t token[ARCA_VOLUME_TOKEN_LEN], const uint8_t *old_tag,
                             const uint8_t new_tag[16], uint64_t *seq);

/* ---- provided_by uploads (provided.c, docs/session-language.md "provided_by") ------------- */

/*
 * Gives c->provide_token when service is the provided_by of some secret of model (else
 * nothing happens): launch id || HMAC under arcad's report key with its own label.
 */
int arca_launch_config_provide_resolve(struct arca_store *st, const struct arca_session *model,
                                       const char *session, const char *service,
                                       struct arca_launch_config *c);

/*
 * An upload to POST /v1/provided: checks token (made for session/service by
 * arca_launch_config_provide_resolve; ARCA_ERR_UNAUTHENTICATED otherwise), that secret is a
 * secret of the active model whose provided_by is service (ARCA_ERR_NOT_FOUND / ARCA_ERR_DENIED),
 * that value parses for the secret's kind (ARCA_ERR_FORMAT naming the secret, never the value),
 * then stores it sealed as the secret's current value; *seq counts the uploads.
 */
int arca_provided_apply(struct arca_store *st, const struct arca_session *model,
                        const char *session, const char *service, const char *secret,
                        const uint8_t token[ARCA_VOLUME_TOKEN_LEN], const void *value, size_t len,
                        uint64_t *seq);

#endif
