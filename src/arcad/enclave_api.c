/*
 * The enclave API (DESIGN §4, docs/internals/launch.md): POST /v1/challenge and POST /v1/attest
 * on arcad's enclave listener. A launcher proves with evidence that its program is what a
 * session's service allows, bound to the TLS key it talks to us with, and gets the service's
 * configuration.
 *
 * Order of checks in attest (each refusal audited with its own reason):
 *   request shape -> TLS peer key -> nonce (single use, unexpired) -> evidence type allowed ->
 *   evidence verifies -> REPORTDATA equals the binding recomputed from the peer key we see ->
 *   session and service exist -> appraisal (mode, DEBUG, TCB, variants) -> platforms ->
 *   service access token -> one-time password (consumed last, so a refused launch does not
 *   burn a valid code) -> configuration built.
 *
 * Nothing secret is logged, audited or put in an error: details name secrets, never values.
 */
#include "enclave_api.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/launch_config.h"
#include "audit/audit.h"
#include "base/enc.h"
#include "base/err.h"
#include "base/log.h"
#include "base/time.h"
#include "crypto/totp.h"
#include "enclave_verify.h"
#include "evidence/appraise.h"
#include "evidence/sim.h"
#include "policy/session.h"
#include "secrets/secrets.h"
#include "store/store.h"

#define NONCE_NS "challenge"
#define NONCE_TTL_DEFAULT 60 /* seconds: evidence is made right after the challenge */
#define OTP_STEP 30
#define OTP_DIGITS 6
#define EVIDENCE_MAX ((size_t)256 << 10)

struct enclave_state {
    int nonce_ttl;
    struct enclave_verify_cfg vcfg;
    pthread_mutex_t fetch_lock; /* vcfg.fetch_lock */
    char pcs_cache[4096];       /* DATA_DIR/collateral-cache/pcs */
    char kds_cache[4096];       /* DATA_DIR/collateral-cache/kds */
    uint8_t nonce_key[32];      /* per process: nonces do not outlive arcad */
};

static void state_free(void *p)
{
    if (p != NULL) {
        pthread_mutex_destroy(&((struct enclave_state *)p)->fetch_lock);
        arca_wipe(p, sizeof(struct enclave_state));
    }
    free(p);
}

/*
 * Nonces are stateless until used: N = expiry (u64be) || 8 random bytes || first 16 bytes of
 * HMAC-SHA-256(nonce_key, "arca-nonce-v1" || expiry || random). Issuing one writes nothing
 * (an unauthenticated peer cannot fill the store, and a challenge costs no disk write); using
 * one records it with the store's single-use API until it expires, which refuses a replay.
 */
#define NONCE_LABEL "arca-nonce-v1"

static int nonce_mac(const struct enclave_state *st, const uint8_t n[16], uint8_t mac[32])
{
    uint8_t msg[sizeof(NONCE_LABEL) - 1 + 16];
    memcpy(msg, NONCE_LABEL, sizeof(NONCE_LABEL) - 1);
    memcpy(msg + sizeof(NONCE_LABEL) - 1, n, 16);
    return arca_hmac(ARCA_SHA256, st->nonce_key, sizeof(st->nonce_key), msg, sizeof(msg), mac);
}

static int nonce_make(const struct enclave_state *st, int64_t now,
                      uint8_t nonce[ARCA_LAUNCH_NONCE_LEN])
{
    uint64_t exp = (uint64_t)(now + st->nonce_ttl);
    for (int i = 7; i >= 0; i--) {
        nonce[i] = (uint8_t)(exp & 0xff);
        exp >>= 8;
    }
    ARCA_TRY(arca_random(nonce + 8, 8));
    uint8_t mac[32];
    ARCA_TRY(nonce_mac(st, nonce, mac));
    memcpy(nonce + 16, mac, 16);
    return 0;
}

/* Checks that we issued the nonce and that it is unexpired; *expires gets its expiry. */
static int nonce_check(const struct enclave_state *st, const uint8_t nonce[ARCA_LAUNCH_NONCE_LEN],
                       int64_t now, int64_t *expires)
{
    uint8_t mac[32];
    ARCA_TRY(nonce_mac(st, nonce, mac));
    ARCA_ENSURE(arca_memeq(mac, nonce + 16, 16), ARCA_ERR_UNAUTHENTICATED,
                "nonce: not issued by this CAS (or before its last restart)");
    uint64_t exp = 0;
    for (int i = 0; i < 8; i++)
        exp = (exp << 8) | nonce[i];
    ARCA_ENSURE(exp <= (uint64_t)INT64_MAX && (int64_t)exp > now, ARCA_ERR_EXPIRED,
                "nonce: expired (older than %d s)", st->nonce_ttl);
    *expires = (int64_t)exp;
    return 0;
}

/* ---- the outcome record (audit, metrics, log) ------------------------------------------- */

struct outcome {
    char session[ARCA_SESSION_NAME_MAX + 1];
    char service[ARCA_SESSION_COMPONENT_MAX + 1];
    const char *evidence_type;
    char measurement[2 * 48 + 1];
    char platform[2 * 64 + 1];
    char peer[2 * ARCA_SHA256_LEN + 1];
};

static void audit_outcome(struct arcad_ctx *ctx, const struct outcome *o, int rc)
{
    const char *reason = rc == 0 ? "" : arca_err_detail();
    json_t *f =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "session", o->session, "service",
                  o->service, "evidence_type", o->evidence_type ? o->evidence_type : "",
                  "measurement", o->measurement, "platform", o->platform, "peer_key", o->peer,
                  "outcome", rc == 0 ? "accepted" : "refused", "reason", reason);
    if (ctx->audit != NULL && f != NULL &&
        arca_audit_append(ctx->audit, ARCA_AUDIT_ATTESTATION, f, NULL) < 0)
        arca_error("enclave-api", "audit: cannot record an attestation outcome");
    json_decref(f);
    if (ctx->metrics != NULL)
        arcad_metrics_attestation(ctx->metrics, rc == 0 ? "ok" : "refused");
    if (rc == 0)
        arca_info("enclave-api", "attestation accepted: %s/%s measurement %s", o->session,
                  o->service, o->measurement);
    else
        arca_info("enclave-api", "attestation refused: %s/%s: %s", o->session, o->service, reason);
}

/* ---- POST /v1/challenge ------------------------------------------------------------------- */

static void h_challenge(struct arcad_request *req, void *arg)
{
    struct enclave_state *st = arg;
    struct arcad_ctx *ctx = arcad_request_ctx(req);
    uint8_t nonce[ARCA_LAUNCH_NONCE_LEN];
    (void)ctx;
    int rc = nonce_make(st, arca_time_now(), nonce);
    if (rc < 0) {
        arcad_reply_err(req, rc);
        return;
    }
    char hex[2 * ARCA_LAUNCH_NONCE_LEN + 1];
    arca_hex_fmt(hex, nonce, sizeof(nonce));
    arcad_reply_json(req, 200, json_pack("{s:s, s:i}", "nonce", hex, "expires_in", st->nonce_ttl));
}

/* ---- POST /v1/attest ---------------------------------------------------------------------- */

struct attest_req {
    const char *config_id; /* borrowed from the JSON */
    char session[ARCA_SESSION_NAME_MAX + 1];
    char service[ARCA_SESSION_COMPONENT_MAX + 1];
    bool has_otp;
    char otp[16];
    char bound_id[ARCA_SESSION_NAME_MAX + ARCA_SESSION_COMPONENT_MAX + 20];
    int type;
    struct arca_buf ev;
    struct arca_buf aux;
    uint8_t nonce[ARCA_LAUNCH_NONCE_LEN];
    const char *access_token; /* borrowed; secret */
    /* host argv / env, borrowed from the JSON */
    const char **hargv;
    size_t hargc;
    const char **henv_n;
    const char **henv_v;
    size_t henv;
};

static void attest_req_free(struct attest_req *r)
{
    arca_buf_free(&r->ev);
    arca_buf_free(&r->aux);
    free(r->hargv);
    free(r->henv_n);
    free(r->henv_v);
}

/* "session/service[@OTP]": the service is after the last '/'; session names may hold '/'. */
static int parse_config_id(struct attest_req *r)
{
    const char *id = r->config_id;
    const char *slash = strrchr(id, '/');
    ARCA_ENSURE(slash != NULL && slash != id && slash[1] != '\0', ARCA_ERR_FORMAT,
                "config_id: expected SESSION/SERVICE[@OTP]");
    size_t sl = (size_t)(slash - id);
    ARCA_ENSURE(sl <= ARCA_SESSION_NAME_MAX, ARCA_ERR_FORMAT, "config_id: session name too long");
    memcpy(r->session, id, sl);
    r->session[sl] = '\0';
    const char *svc = slash + 1;
    const char *at = strchr(svc, '@');
    size_t vl = at ? (size_t)(at - svc) : strlen(svc);
    ARCA_ENSURE(vl > 0 && vl <= ARCA_SESSION_COMPONENT_MAX, ARCA_ERR_FORMAT,
                "config_id: bad service name");
    memcpy(r->service, svc, vl);
    r->service[vl] = '\0';
    ARCA_TRY(arca_session_name_check(r->session, sl, true));
    ARCA_TRY(arca_session_name_check(r->service, vl, false));
    if (at != NULL) {
        size_t ol = strlen(at + 1);
        ARCA_ENSURE(ol == OTP_DIGITS && strspn(at + 1, "0123456789") == ol, ARCA_ERR_FORMAT,
                    "config_id: the one-time password after '@' must be %d digits", OTP_DIGITS);
        memcpy(r->otp, at + 1, ol + 1);
        r->has_otp = true;
    }
    return 0;
}

static int get_b64(json_t *body, const char *name, bool required, struct arca_buf *out)
{
    json_t *v = json_object_get(body, name);
    if (v == NULL && !required)
        return 0;
    ARCA_ENSURE(json_is_string(v), ARCA_ERR_FORMAT, "%s: missing or not a base64 string", name);
    int rc = arca_base64_decode(out, json_string_value(v), json_string_length(v));
    return rc < 0 ? arca_err_wrap(rc, "%s", name) : 0;
}

static int parse_host(json_t *host, struct attest_req *r)
{
    if (host == NULL)
        return 0;
    ARCA_ENSURE(json_is_object(host), ARCA_ERR_FORMAT, "host: not an object");
    json_t *argv = json_object_get(host, "argv");
    json_t *env = json_object_get(host, "env");
    if (argv != NULL) {
        ARCA_ENSURE(json_is_array(argv) && json_array_size(argv) <= 4096, ARCA_ERR_FORMAT,
                    "host.argv: not an array of at most 4096 strings");
        r->hargv = calloc(json_array_size(argv) + 1, sizeof(char *));
        ARCA_ENSURE(r->hargv != NULL, ARCA_ERR_ALLOC, "out of memory");
        for (size_t i = 0; i < json_array_size(argv); i++) {
            json_t *s = json_array_get(argv, i);
            ARCA_ENSURE(json_is_string(s), ARCA_ERR_FORMAT, "host.argv[%zu]: not a string", i);
            r->hargv[r->hargc++] = json_string_value(s);
        }
    }
    if (env != NULL) {
        ARCA_ENSURE(json_is_object(env) && json_object_size(env) <= 4096, ARCA_ERR_FORMAT,
                    "host.env: not an object of at most 4096 strings");
        size_t n = json_object_size(env);
        r->henv_n = calloc(n + 1, sizeof(char *));
        r->henv_v = calloc(n + 1, sizeof(char *));
        ARCA_ENSURE(r->henv_n != NULL && r->henv_v != NULL, ARCA_ERR_ALLOC, "out of memory");
        const char *k;
        json_t *v;
        json_object_foreach(env, k, v)
        {
            ARCA_ENSURE(json_is_string(v), ARCA_ERR_FORMAT, "host.env.%.64s: not a string", k);
            r->henv_n[r->henv] = k;
            r->henv_v[r->henv++] = json_string_value(v);
        }
    }
    return 0;
}

static int parse_attest(json_t *body, struct attest_req *r)
{
    json_t *id = json_object_get(body, "config_id");
    ARCA_ENSURE(json_is_string(id), ARCA_ERR_FORMAT, "config_id: missing or not a string");
    r->config_id = json_string_value(id);
    ARCA_TRY(parse_config_id(r));
    json_t *type = json_object_get(body, "evidence_type");
    ARCA_ENSURE(json_is_string(type), ARCA_ERR_FORMAT, "evidence_type: missing or not a string");
    r->type = enclave_evidence_type_parse(json_string_value(type));
    ARCA_ENSURE(r->type > 0, ARCA_ERR_FORMAT,
                "evidence_type: unknown (expected sim, sgx-dcap, tdx or snp)");
    ARCA_TRY(get_b64(body, "evidence", true, &r->ev));
    ARCA_TRY(get_b64(body, "aux", false, &r->aux));
    json_t *nonce = json_object_get(body, "nonce");
    ARCA_ENSURE(json_is_string(nonce), ARCA_ERR_FORMAT, "nonce: missing or not a string");
    int rc = arca_hex_decode_fixed(r->nonce, sizeof(r->nonce), json_string_value(nonce),
                                   json_string_length(nonce));
    if (rc < 0)
        return arca_err_wrap(rc, "nonce");
    json_t *tok = json_object_get(body, "access_token");
    if (tok != NULL) {
        ARCA_ENSURE(json_is_string(tok), ARCA_ERR_FORMAT, "access_token: not a string");
        r->access_token = json_string_value(tok);
    }
    return parse_host(json_object_get(body, "host"), r);
}

/* The session's secrets, with the imported ones resolved from their exporting sessions. */
static int import_one(struct arcad_ctx *ctx, const char *our_name, const uint8_t our_hash[32],
                      const struct arca_secret *d, struct arca_secret_set *set)
{
    const char *from = d->import_from.session.s;
    ARCA_ENSURE(from != NULL && from[0] != '.', ARCA_ERR_UNSUPPORTED,
                "secrets[%s].import: only absolute session names are supported", d->name.s);
    ARCA_ENSURE(d->import_from.cas_url.s == NULL, ARCA_ERR_UNSUPPORTED,
                "secrets[%s].import: imports from another CAS are not supported", d->name.s);
    const char *theirs = d->import_secret.s ? d->import_secret.s : d->name.s;
    struct arca_store_session *rec = NULL;
    struct arca_session *model = NULL;
    struct arca_secret_set *their_set = NULL;
    struct arca_buf blob;
    arca_buf_init_secret(&blob, 0);
    int rc = arca_store_session_get_active(ctx->store, from, &rec);
    if (rc < 0) {
        rc = arca_err_set(ARCA_ERR_NOT_FOUND, "secrets[%s].import: session %s not found", d->name.s,
                          from);
        goto out;
    }
    ARCA_GUARD_ENSURE(
        rc,
        !d->import_from.has_session_hash || memcmp(d->import_from.session_hash, rec->hash, 32) == 0,
        out, ARCA_ERR_POLICY, "secrets[%s].import: session %s has changed (session_hash differs)",
        d->name.s, from);
    ARCA_GUARD(rc, arca_session_load(rec->yaml, rec->yaml_len, from, &model, NULL), out);
    const struct arca_secret *src = arca_session_find_secret(model, theirs);
    ARCA_GUARD_ENSURE(rc, src != NULL, out, ARCA_ERR_NOT_FOUND,
                      "secrets[%s].import: %s has no secret %s", d->name.s, from, theirs);
    bool exported = false;
    size_t our_len = strlen(our_name);
    for (size_t i = 0; i < src->n_exports && !exported; i++) {
        const struct arca_session_ref *e = &src->exports[i];
        bool name_ok = (e->session.s != NULL && strcmp(e->session.s, our_name) == 0);
        if (e->namespace_.s != NULL && e->namespace_.len < our_len &&
            strncmp(our_name, e->namespace_.s, e->namespace_.len) == 0 &&
            our_name[e->namespace_.len] == '/')
            name_ok = true;
        exported = name_ok && (!e->has_session_hash || memcmp(e->session_hash, our_hash, 32) == 0);
    }
    ARCA_GUARD_ENSURE(rc, exported, out, ARCA_ERR_DENIED,
                      "secrets[%s].import: %s does not export %s to this session", d->name.s, from,
                      theirs);
    ARCA_GUARD(rc, arca_store_secrets_get(ctx->store, rec->hash, &blob), out);
    ARCA_GUARD(rc, arca_secret_set_decode(blob.data, blob.len, &their_set), out);
    struct arca_secret_value *v = arca_secret_set_get(their_set, theirs, strlen(theirs));
    ARCA_GUARD_ENSURE(rc, v != NULL, out, ARCA_ERR_NOT_FOUND,
                      "secrets[%s].import: %s has no value for %s yet", d->name.s, from, theirs);
    ARCA_GUARD(rc, arca_secret_set_put(set, d->name.s, d->name.len, v), out);
out:
    arca_secret_set_free(their_set);
    arca_buf_free(&blob);
    arca_session_free(model);
    arca_store_session_free(rec);
    return rc;
}

static int load_secrets(struct arcad_ctx *ctx, const struct arca_store_session *rec,
                        const struct arca_session *model, struct arca_secret_set **out)
{
    struct arca_buf blob;
    arca_buf_init_secret(&blob, 0);
    int rc = arca_store_secrets_get(ctx->store, rec->hash, &blob);
    if (rc == 0)
        rc = arca_secret_set_decode(blob.data, blob.len, out);
    else if (rc == ARCA_ERR_NOT_FOUND)
        rc = arca_secret_set_new(out);
    arca_buf_free(&blob);
    for (size_t i = 0; rc == 0 && i < model->n_secrets; i++) {
        const struct arca_secret *d = &model->secrets[i];
        if (d->has_import)
            rc = import_one(ctx, rec->name, rec->hash, d, *out);
    }
    if (rc < 0) {
        arca_secret_set_free(*out);
        *out = NULL;
    }
    return rc;
}

/* `platforms`: the evidence's platform id (the sim platform key id, or SHA-256 of a longer id
 * such as an SNP chip id) must be one of the listed 32-byte values. */
static int check_platforms(const struct arca_service *svc, const struct arca_claims *c,
                           struct arca_secret_set *set)
{
    if (svc->n_platforms == 0)
        return 0;
    uint8_t id[32];
    if (c->platform_id_len == 32)
        memcpy(id, c->platform_id, 32);
    else
        ARCA_TRY(arca_sha256(c->platform_id, c->platform_id_len, id));
    for (size_t i = 0; i < svc->n_platforms; i++) {
        const struct arca_platform_ref *p = &svc->platforms[i];
        uint8_t want[32];
        if (p->literal) {
            memcpy(want, p->key, 32);
        } else {
            /* "$$SCONE::name$$": a binary secret of 32 bytes, or its hex. */
            struct arca_secret_value *v = arca_secret_set_get(set, p->secret.s, p->secret.len);
            size_t n = 0;
            const uint8_t *b = v ? arca_secret_value_bytes(v, &n) : NULL;
            if (b == NULL)
                continue;
            if (n == 32)
                memcpy(want, b, 32);
            else if (arca_hex_decode_fixed(want, 32, (const char *)b, n) < 0)
                continue;
        }
        if (arca_memeq(want, id, 32))
            return 0;
    }
    char hex[65];
    arca_hex_fmt(hex, id, 32);
    ARCA_BAIL(ARCA_ERR_POLICY, "platform %s is not listed in services[%s].platforms", hex,
              svc->name.s);
}

static int check_access_token(const struct arca_session *s, const struct attest_req *r)
{
    const struct arca_str *t = &s->security.service_access_token;
    if (t->s == NULL)
        return 0;
    ARCA_ENSURE(r->access_token != NULL, ARCA_ERR_UNAUTHENTICATED,
                "the session requires a service access token and none was sent "
                "(ARCA_SERVICE_ACCESS_TOKEN)");
    /* Compare digests so that neither the contents nor the length leak through timing. */
    uint8_t got[ARCA_SHA256_LEN], want[ARCA_SHA256_LEN];
    ARCA_TRY(arca_sha256(r->access_token, strlen(r->access_token), got));
    ARCA_TRY(arca_sha256(t->s, t->len, want));
    bool same = arca_memeq(got, want, sizeof(got));
    arca_wipe(got, sizeof(got));
    arca_wipe(want, sizeof(want));
    ARCA_ENSURE(same, ARCA_ERR_UNAUTHENTICATED,
                "the service access token does not match the session's");
    return 0;
}

/* The OTP secret (service-level overrides session-level): base32 text, or a placeholder. */
static int otp_key(const struct arca_session *s, const struct arca_service *svc,
                   struct arca_secret_set *set, struct arca_buf *key)
{
    const struct arca_str *src = svc->otp_secret.s ? &svc->otp_secret : &s->security.otp_secret;
    if (src->s == NULL)
        return 0;
    struct arca_buf text;
    arca_buf_init_secret(&text, 4096);
    int rc = arca_placeholder_expand(src->s, src->len, arca_secret_set_render, set, false, &text);
    if (rc == 0)
        rc = arca_base32_decode(key, (const char *)text.data, text.len);
    arca_buf_free(&text);
    if (rc < 0)
        return arca_err_wrap(rc, "services[%s]: one_time_password_shared_secret", svc->name.s);
    ARCA_ENSURE(key->len >= 16, ARCA_ERR_POLICY,
                "services[%s]: one_time_password_shared_secret shorter than 128 bits", svc->name.s);
    return 0;
}

static int check_otp(struct arcad_ctx *ctx, const struct arca_session *s,
                     const struct arca_service *svc, struct arca_secret_set *set,
                     const struct attest_req *r, int64_t now)
{
    struct arca_buf key;
    arca_buf_init_secret(&key, 1024);
    int rc = otp_key(s, svc, set, &key);
    if (rc < 0 || key.len == 0)
        goto out;
    ARCA_GUARD_ENSURE(rc, r->has_otp, out, ARCA_ERR_UNAUTHENTICATED,
                      "services[%s] requires a one-time password: use %s/%s@CODE", svc->name.s,
                      r->session, r->service);
    uint32_t got = (uint32_t)strtoul(r->otp, NULL, 10);
    bool ok = false;
    /* The current step and one either side, for clock skew between host and arcad. */
    for (int d = -1; d <= 1; d++) {
        uint32_t code = 0;
        ARCA_GUARD(rc,
                   arca_totp(key.data, key.len, (uint64_t)(now / OTP_STEP + d), OTP_DIGITS, &code),
                   out);
        ok |= code == got;
        arca_wipe(&code, sizeof(code));
    }
    ARCA_GUARD_ENSURE(rc, ok, out, ARCA_ERR_UNAUTHENTICATED,
                      "the one-time password is not valid now");
    char ns[ARCA_SESSION_NAME_MAX + ARCA_SESSION_COMPONENT_MAX + 8];
    snprintf(ns, sizeof(ns), "otp:%s/%s", r->session, r->service);
    rc = arca_store_once_put(ctx->store, ns, r->otp, strlen(r->otp), now + 3 * OTP_STEP + OTP_STEP,
                             NULL, 0);
    if (rc == ARCA_ERR_REPLAY)
        rc = arca_err_set(ARCA_ERR_REPLAY, "the one-time password was used already");
out:
    arca_buf_free(&key);
    return rc;
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

/* Runs every check; on success appends the configuration JSON to answer. */
static int attest(struct arcad_ctx *ctx, struct enclave_state *st, struct arcad_request *req,
                  struct attest_req *r, struct outcome *o, struct arca_buf *answer)
{
    int64_t now = arca_time_now();
    struct arca_key *peer = NULL;
    struct arca_buf spki;
    arca_buf_init(&spki, 0);
    struct arca_store_session *rec = NULL;
    struct arca_session *model = NULL;
    struct arca_secret_set *set = NULL;
    struct arca_claims claims;
    memset(&claims, 0, sizeof(claims));
    int rc = 0;

    snprintf(o->session, sizeof(o->session), "%s", r->session);
    snprintf(o->service, sizeof(o->service), "%s", r->service);
    o->evidence_type = enclave_evidence_type_name(r->type);
    ARCA_GUARD(rc, arcad_request_peer_key(req, &peer), out);
    uint8_t kid[32];
    ARCA_GUARD(rc, arca_key_id(peer, kid), out);
    arca_hex_fmt(o->peer, kid, 32);
    ARCA_GUARD(rc, arca_key_spki_der(peer, &spki), out);

    /* The nonce first: it is used up by any attempt, successful or not. */
    ARCA_GUARD_ENSURE(rc, ctx->store != NULL, out, ARCA_ERR_INTERNAL, "no store");
    int64_t expires = 0;
    ARCA_GUARD(rc, nonce_check(st, r->nonce, now, &expires), out);
    rc = arca_store_once_put(ctx->store, NONCE_NS, r->nonce, sizeof(r->nonce), expires, NULL, 0);
    if (rc == ARCA_ERR_REPLAY)
        rc = arca_err_set(rc, "nonce: used already (replayed attestation)");
    if (rc < 0)
        goto out;

    ARCA_GUARD(rc,
               enclave_evidence_verify(&st->vcfg, r->type, r->ev.data, r->ev.len, r->aux.data,
                                       r->aux.len, now, &claims),
               out);
    measurement_hex(&claims, o->measurement);
    if (claims.platform_id_len > 0)
        arca_hex_fmt(o->platform, claims.platform_id, claims.platform_id_len);

    uint8_t want[64];
    ARCA_GUARD(rc, arca_launch_binding(spki.data, spki.len, r->nonce, r->config_id, want), out);
    ARCA_GUARD_ENSURE(rc, arca_memeq(want, claims.report_data, 64), out, ARCA_ERR_POLICY,
                      "evidence: REPORTDATA is not bound to this TLS connection's key, nonce and "
                      "config id (evidence relayed by a man in the middle?)");

    rc = arca_store_session_get_active(ctx->store, r->session, &rec);
    if (rc == ARCA_ERR_NOT_FOUND)
        rc = arca_err_set(rc, "unknown session %s", r->session);
    if (rc < 0)
        goto out;
    ARCA_GUARD(rc, arca_session_load(rec->yaml, rec->yaml_len, r->session, &model, NULL), out);
    const struct arca_service *svc = arca_session_find_service(model, r->service);
    ARCA_GUARD_ENSURE(rc, svc != NULL, out, ARCA_ERR_NOT_FOUND, "unknown service %s in session %s",
                      r->service, r->session);

    if (model->security.mode != ARCA_ATT_MODE_NONE) {
        ARCA_GUARD(rc,
                   arca_appraise(&claims, &model->security, svc->variants, svc->n_variants, NULL),
                   out);
    }
    ARCA_GUARD(rc, load_secrets(ctx, rec, model, &set), out);
    ARCA_GUARD(rc, check_platforms(svc, &claims, set), out);
    ARCA_GUARD(rc, check_access_token(model, r), out);
    ARCA_GUARD(rc, check_otp(ctx, model, svc, set, r, now), out);

    struct arca_launch_host host = {r->hargv, r->hargc, r->henv_n, r->henv_v, r->henv};
    ARCA_GUARD(rc, arca_launch_config_build(model, svc, &host, arca_secret_set_render, set, answer),
               out);
out:
    arca_secret_set_free(set);
    arca_session_free(model);
    arca_store_session_free(rec);
    arca_buf_free(&spki);
    arca_key_free(peer);
    return rc;
}

static void h_attest(struct arcad_request *req, void *arg)
{
    struct enclave_state *st = arg;
    struct arcad_ctx *ctx = arcad_request_ctx(req);
    struct outcome o;
    memset(&o, 0, sizeof(o));
    struct attest_req r;
    memset(&r, 0, sizeof(r));
    arca_buf_init(&r.ev, EVIDENCE_MAX);
    arca_buf_init(&r.aux, EVIDENCE_MAX);
    struct arca_buf answer;
    arca_buf_init_secret(&answer, 0);
    json_t *body = NULL;
    int rc = arcad_request_json(req, &body);
    if (rc == 0)
        rc = parse_attest(body, &r);
    if (rc == 0) {
        rc = attest(ctx, st, req, &r, &o, &answer);
    } else {
        snprintf(o.session, sizeof(o.session), "%s", r.session);
        snprintf(o.service, sizeof(o.service), "%s", r.service);
    }
    audit_outcome(ctx, &o, rc);
    if (rc == 0)
        arcad_reply_raw(req, 200, "application/json", answer.data, answer.len);
    else
        arcad_reply_err(req, rc);
    arca_buf_free(&answer);
    attest_req_free(&r);
    json_decref(body);
}

int enclave_api_register(struct arcad_router *r, struct arcad_ctx *ctx)
{
    ARCA_ENSURE_REF(r);
    ARCA_ENSURE_REF(ctx);
    struct enclave_state *st = calloc(1, sizeof(*st));
    ARCA_ENSURE(st != NULL, ARCA_ERR_ALLOC, "enclave API: out of memory");
    st->nonce_ttl = NONCE_TTL_DEFAULT;
    int rk = arca_random(st->nonce_key, sizeof(st->nonce_key));
    if (rk < 0) {
        free(st);
        return rk;
    }
    /* Test hook (docs/internals/launch.md): shorter nonce lifetime for expiry tests. */
    const char *ttl = getenv("ARCA_TEST_NONCE_TTL");
    if (ttl != NULL && atoi(ttl) > 0 && atoi(ttl) <= 3600)
        st->nonce_ttl = atoi(ttl);
    st->vcfg.allow_simulation = ctx->cfg.allow_simulation;
    /* Collateral is loaded once by main (ctx->collateral); only unit tests that build a
     * context by hand still name a path, which is then read on every attestation. */
    st->vcfg.collateral = ctx->collateral;
    st->vcfg.collateral_path = ctx->collateral == NULL ? ctx->cfg.collateral : NULL;
    st->vcfg.snp_certs_path = ctx->cfg.snp_certs;
    st->vcfg.dcap_cache = ctx->dcap_cache;
    st->vcfg.pcs_url = ctx->cfg.pcs_url;
    st->vcfg.kds_url = ctx->cfg.kds_url;
    if (ctx->cfg.data_dir != NULL) {
        snprintf(st->pcs_cache, sizeof(st->pcs_cache), "%s/collateral-cache/pcs",
                 ctx->cfg.data_dir);
        snprintf(st->kds_cache, sizeof(st->kds_cache), "%s/collateral-cache/kds",
                 ctx->cfg.data_dir);
        st->vcfg.pcs_cache_dir = st->pcs_cache;
        st->vcfg.kds_cache_dir = st->kds_cache;
    }
    pthread_mutex_init(&st->fetch_lock, NULL);
    st->vcfg.fetch_lock = &st->fetch_lock;
    int rc = arcad_router_add(r, "POST", "/v1/challenge", ARCAD_ROUTE_EXACT, "enclave_challenge",
                              h_challenge, st);
    if (rc == 0)
        rc = arcad_router_add(r, "POST", "/v1/attest", ARCAD_ROUTE_EXACT, "enclave_attest",
                              h_attest, st);
    if (rc < 0) {
        state_free(st);
        return rc;
    }
    ctx->enclave_state = st;
    ctx->enclave_state_free = state_free;
    if (ctx->cfg.allow_simulation)
        arca_warn("enclave-api", "simulated evidence is accepted for sessions in mode "
                                 "simulation: INSECURE, for development only");
    return 0;
}
