/*
 * The attest exchange (attest.h): the order of checks, the outcome record and its audit line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/attest.h"
#include "attest/binding.h"
#include "attest/launch_config.h"
#include "audit/audit.h"
#include "base/enc.h"
#include "base/err.h"
#include "base/log.h"
#include "crypto/crypto.h"
#include "evidence/appraise.h"
#include "limits/limits.h"
#include "policy/session.h"
#include "policy/session_cache.h"
#include "secrets/secrets.h"
#include "store/store.h"

int arca_attest_target_parse(const char *config_id, struct arca_attest_target *t)
{
    ARCA_ENSURE_REF(config_id);
    ARCA_ENSURE_REF(t);
    memset(t, 0, sizeof(*t));
    const char *id = config_id;
    const char *slash = strrchr(id, '/');
    ARCA_ENSURE(slash != NULL && slash != id && slash[1] != '\0', ARCA_ERR_FORMAT,
                "config_id: expected SESSION/SERVICE[@OTP]");
    size_t sl = (size_t)(slash - id);
    ARCA_ENSURE(sl <= ARCA_SESSION_NAME_MAX, ARCA_ERR_FORMAT, "config_id: session name too long");
    memcpy(t->session, id, sl);
    t->session[sl] = '\0';
    const char *svc = slash + 1;
    const char *at = strchr(svc, '@');
    size_t vl = at ? (size_t)(at - svc) : strlen(svc);
    ARCA_ENSURE(vl > 0 && vl <= ARCA_SESSION_COMPONENT_MAX, ARCA_ERR_FORMAT,
                "config_id: bad service name");
    memcpy(t->service, svc, vl);
    t->service[vl] = '\0';
    ARCA_TRY(arca_session_name_check(t->session, sl, true));
    ARCA_TRY(arca_session_name_check(t->service, vl, false));
    if (at != NULL) {
        size_t ol = strlen(at + 1);
        ARCA_ENSURE(ol == ARCA_ATTEST_OTP_DIGITS && strspn(at + 1, "0123456789") == ol,
                    ARCA_ERR_FORMAT, "config_id: the one-time password after '@' must be %d digits",
                    ARCA_ATTEST_OTP_DIGITS);
        memcpy(t->otp, at + 1, ol + 1);
        t->has_otp = true;
    }
    return 0;
}

static void measurement_hex(const struct arca_claims *c, char *out)
{
    switch (c->type) {
    case ARCA_EVIDENCE_TDX:
        arca_hex_fmt(out, c->mrtd, 48);
        break;
    case ARCA_EVIDENCE_SNP:
        arca_hex_fmt(out, c->measurement, 48);
        break;
    default:
        arca_hex_fmt(out, c->mrenclave, 32);
        break;
    }
}

/* "session/service", the throttle's key for t (bounded by the name grammar). */
static size_t throttle_key(const struct arca_attest_target *t, char *key, size_t n)
{
    int k = snprintf(key, n, "%s/%s", t->session, t->service);
    return k < 0 ? 0 : (size_t)k < n ? (size_t)k : n - 1;
}

/* Counts a refusal of a verified caller against its session/service. The refusal's own
 * reason stays the error (a full throttle table only makes the next try wait). */
static void count_failure(const struct arca_attest_ctx *ctx, const struct arca_attest_target *t,
                          int64_t now, int rc, struct arca_attest_outcome *o)
{
    if (ctx->throttle == NULL)
        return;
    char key[ARCA_ATTEST_THROTTLE_KEY_MAX + 1];
    size_t klen = throttle_key(t, key, sizeof(key));
    char why[ARCA_ERR_DETAIL_MAX + 1];
    snprintf(why, sizeof(why), "%s", arca_err_detail());
    bool locked = false;
    if (arca_throttle_fail(ctx->throttle, key, klen, now * 1000, &locked) < 0)
        arca_warn("attest", "throttle: no room to count a failure of %s", key);
    o->locked_out = locked;
    arca_err_set(rc, "%s", why);
}

/* The checks a guesser could try to pass: the secrets a launch must know (access token, then
 * one-time password). Appraisal and `platforms` are judged on signed evidence, which guessing
 * cannot improve, so their refusals are not counted (a service that rolls out a new binary is
 * not locked out by the old one). */
static int check_factors(const struct arca_attest_ctx *ctx, const struct arca_attest_request *req,
                         const struct arca_attest_target *t, const struct arca_session *model,
                         const struct arca_service *svc, struct arca_secret_set *set, int64_t now)
{
    ARCA_TRY(arca_attest_check_access_token(model, set, req->access_token));
    return arca_attest_check_otp(ctx, model, svc, set, t, now);
}

/* The model of stored version rec: the parsed text from ctx->sessions, or, when it has
 * imported fragments, resolved for this attestation (fetched values never enter the cache). */
static int session_model(const struct arca_attest_ctx *ctx, const struct arca_store_session *rec,
                         int64_t now, struct arca_cached_session **out)
{
    ARCA_TRY(
        arca_session_cache_get(ctx->sessions, rec->name, rec->hash, rec->yaml, rec->yaml_len, out));
    if (arca_cached_session_model(*out)->n_import_uses == 0)
        return 0;
    arca_cached_session_put(*out);
    *out = NULL;
    struct arca_session *own = NULL;
    ARCA_TRY(arca_attest_session_resolve(ctx, rec->name, rec->hash, rec->yaml, rec->yaml_len, now,
                                         &own));
    return arca_cached_session_own(own, out);
}

/* Everything after the binding: the session's rules for this evidence, then the build. */
static int appraise_and_build(const struct arca_attest_ctx *ctx, const struct arca_claims *claims,
                              const struct arca_attest_request *req,
                              const struct arca_attest_target *t, int64_t now,
                              struct arca_launch_config *answer, struct arca_attest_outcome *o)
{
    struct arca_store_session *rec = NULL;
    struct arca_cached_session *ref = NULL;
    struct arca_secret_set *set = NULL;
    int rc = arca_store_session_get_active(ctx->store, t->session, &rec);
    if (rc == ARCA_ERR_NOT_FOUND)
        rc = arca_err_set(rc, "unknown session %s", t->session);
    if (rc < 0)
        goto out;
    ARCA_GUARD(rc, session_model(ctx, rec, now, &ref), out);
    const struct arca_session *model = arca_cached_session_model(ref);
    const struct arca_service *svc = arca_session_find_service(model, t->service);
    ARCA_GUARD_ENSURE(rc, svc != NULL, out, ARCA_ERR_NOT_FOUND, "unknown service %s in session %s",
                      t->service, t->session);
    if (model->security.mode != ARCA_ATT_MODE_NONE) {
        ARCA_GUARD(
            rc, arca_appraise(claims, &model->security, svc->variants, svc->n_variants, NULL), out);
    }
    ARCA_GUARD(rc, arca_attest_secrets_load(ctx, rec, model, now, &set), out);
    ARCA_GUARD(rc, arca_attest_check_platforms(svc, claims, set), out);
    rc = check_factors(ctx, req, t, model, svc, set, now);
    if (rc < 0) {
        count_failure(ctx, t, now, rc, o);
        goto out;
    }
    struct arca_launch_host host = {(const char *const *)req->host_argv, req->host_argc,
                                    (const char *const *)req->host_env_names,
                                    (const char *const *)req->host_env_values, req->host_n_env};
    ARCA_GUARD(rc, arca_launch_config_build(model, svc, &host, arca_secret_set_render, set, answer),
               out);
    ARCA_GUARD(rc, arca_launch_config_volumes_resolve(ctx->store, t->session, t->service, answer),
               out);
    ARCA_GUARD(
        rc, arca_launch_config_provide_resolve(ctx->store, model, t->session, t->service, answer),
        out);
    if (ctx->throttle != NULL) {
        char key[ARCA_ATTEST_THROTTLE_KEY_MAX + 1];
        arca_throttle_success(ctx->throttle, key, throttle_key(t, key, sizeof(key)));
    }
out:
    arca_secret_set_free(set);
    arca_cached_session_put(ref);
    arca_store_session_free(rec);
    return rc;
}

/* Refuses a session/service that must wait after failed attestations (before any work). */
static int throttle_check(const struct arca_attest_ctx *ctx, const struct arca_attest_target *t,
                          int64_t now)
{
    if (ctx->throttle == NULL)
        return 0;
    char key[ARCA_ATTEST_THROTTLE_KEY_MAX + 1];
    size_t klen = throttle_key(t, key, sizeof(key));
    int rc = arca_throttle_check(ctx->throttle, key, klen, now * 1000, NULL, NULL);
    return rc < 0 ? arca_err_wrap(rc, "%s", key) : 0;
}

int arca_attest_run(const struct arca_attest_ctx *ctx, const uint8_t *spki, size_t spki_len,
                    const struct arca_attest_request *req, int64_t now,
                    struct arca_launch_config *answer, struct arca_attest_outcome *o)
{
    ARCA_ENSURE_REF(ctx);
    ARCA_ENSURE_REF(req);
    ARCA_ENSURE_REF(answer);
    ARCA_ENSURE_REF(o);
    memset(answer, 0, sizeof(*answer));
    ARCA_ENSURE(req->config_id != NULL, ARCA_ERR_FORMAT, "config_id: missing or not a string");
    struct arca_attest_target t;
    ARCA_TRY(arca_attest_target_parse(req->config_id, &t));
    snprintf(o->session, sizeof(o->session), "%s", t.session);
    snprintf(o->service, sizeof(o->service), "%s", t.service);
    o->evidence_type = arca_evidence_type_name(req->evidence_type);

    ARCA_ENSURE(spki != NULL && spki_len > 0, ARCA_ERR_UNAUTHENTICATED, "no client certificate");
    uint8_t kid[ARCA_SHA256_LEN];
    ARCA_TRY(arca_sha256(spki, spki_len, kid));
    arca_hex_fmt(o->peer, kid, sizeof(kid));
    ARCA_TRY(throttle_check(ctx, &t, now));

    /* The nonce is checked first but recorded only once the evidence is bound to it: a
     * stranger's request writes nothing (the evidence is what proves the caller). */
    ARCA_TRY(arca_attest_nonce_check(ctx, req->nonce, now, NULL));

    struct arca_claims claims;
    ARCA_TRY(arca_attest_evidence_verify(&ctx->verify, (int)req->evidence_type, req->evidence.data,
                                         req->evidence.len, req->aux.data, req->aux.len, now,
                                         &claims));
    measurement_hex(&claims, o->measurement);
    if (claims.platform_id_len > 0)
        arca_hex_fmt(o->platform, claims.platform_id, claims.platform_id_len);

    uint8_t want[64];
    ARCA_TRY(arca_launch_binding(spki, spki_len, req->nonce, req->config_id, want));
    ARCA_ENSURE(arca_memeq(want, claims.report_data, 64), ARCA_ERR_POLICY,
                "evidence: REPORTDATA is not bound to this TLS connection's key, nonce and "
                "config id (evidence relayed by a man in the middle?)");
    o->verified = true;
    /* Used up by any attempt of the attested program, successful or not. */
    ARCA_TRY(arca_attest_nonce_use(ctx, req->nonce, now));
    return appraise_and_build(ctx, &claims, req, &t, now, answer, o);
}

/* Whether the refusal of an unverified caller may take an audit line now. */
static bool audit_allowed(const struct arca_attest_ctx *ctx, const struct arca_attest_outcome *o,
                          int64_t now)
{
    if (o->verified || ctx->unverified_audit == NULL)
        return true;
    return arca_ratelimit_take(ctx->unverified_audit, "unverified", 10, now * 1000, NULL) == 0;
}

int arca_attest_audit(const struct arca_attest_ctx *ctx, const struct arca_attest_outcome *o,
                      int rc, int64_t now)
{
    if (ctx == NULL || ctx->audit == NULL || o == NULL)
        return 0;
    const char *reason = rc == 0 ? "" : arca_err_detail();
    if (rc != 0 && !audit_allowed(ctx, o, now)) {
        arca_debug("attest", "audit: refusal of an unverified caller not recorded (rate)");
        return 0;
    }
    json_t *f =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "session", o->session, "service",
                  o->service, "evidence_type", o->evidence_type ? o->evidence_type : "",
                  "measurement", o->measurement, "platform", o->platform, "peer_key", o->peer,
                  "outcome", rc == 0 ? "accepted" : "refused", "reason", reason);
    /* durable before the answer goes (group commit shares the fsync) */
    int arc = f == NULL ? arca_err_set(ARCA_ERR_ALLOC, "attestation audit line")
                        : arca_audit_append_durable(ctx->audit, ARCA_AUDIT_ATTESTATION, f, NULL);
    if (arc < 0)
        arca_error("attest", "audit: cannot record an attestation outcome: %s", arca_err_detail());
    json_decref(f);
    if (!o->locked_out)
        return arc;
    f = json_pack("{s:s, s:s, s:s}", "session", o->session, "service", o->service, "peer_key",
                  o->peer);
    if (f == NULL || arca_audit_append(ctx->audit, ARCA_AUDIT_ATTEST_LOCKOUT, f, NULL) < 0)
        arca_error("attest", "audit: cannot record a lockout");
    json_decref(f);
    return arc;
}

int arca_attest_exchange(const struct arca_attest_ctx *ctx, const json_t *body, const uint8_t *spki,
                         size_t spki_len, int64_t now, struct arca_buf *answer,
                         struct arca_attest_outcome *o)
{
    ARCA_ENSURE_REF(ctx);
    ARCA_ENSURE_REF(answer);
    ARCA_ENSURE_REF(o);
    memset(o, 0, sizeof(*o));
    struct arca_attest_request req;
    arca_attest_request_init(&req);
    struct arca_launch_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    char reason[ARCA_ERR_DETAIL_MAX + 1];
    int rc = arca_attest_request_decode_json(body, &req);
    if (rc < 0 && req.config_id != NULL) {
        /* Name the session and service in the audit line when the id itself was fine; an id
         * that is not is the first error (config_id is the first member read). */
        snprintf(reason, sizeof(reason), "%s", arca_err_detail());
        struct arca_attest_target t;
        int trc = arca_attest_target_parse(req.config_id, &t);
        if (trc == 0) {
            snprintf(o->session, sizeof(o->session), "%s", t.session);
            snprintf(o->service, sizeof(o->service), "%s", t.service);
            rc = arca_err_set(rc, "%s", reason);
        } else {
            rc = trc;
        }
    }
    if (rc == 0)
        rc = arca_attest_run(ctx, spki, spki_len, &req, now, &cfg, o);
    if (rc == 0)
        rc = arca_launch_config_encode(&cfg, answer);
    if (arca_attest_audit(ctx, o, rc, now) < 0 && rc == 0) {
        /* fail-closed: an acceptance that is not on record is not answered */
        rc = arca_err_set(ARCA_ERR_IO, "attestation accepted but its audit line could not be "
                                       "written; refused");
        arca_buf_reset(answer);
    }
    arca_launch_config_free(&cfg);
    arca_attest_request_free(&req);
    return rc;
}
