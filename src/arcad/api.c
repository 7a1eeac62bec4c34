/*
 * The client API (docs/api.md) as a thin adapter: each handler turns its HTTP request into one
 * call of the CAS logic (src/lib/cas/cas.h: sessions, public values), encodes the answer with
 * the wire types of src/lib/api/client_api.h and replies. The rules themselves (predecessors,
 * namespaces, access decisions, secrets migration, audit) live in the library; here only the
 * request quota per client key (429 before any work) and the paging parameters. Also here:
 * arcad's own attestation, version and health.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/client_api.h"
#include "api/json.h"
#include "attest/binding.h"
#include "arcad_internal.h"
#include "audit/audit.h"
#include "base/enc.h"
#include "base/err.h"
#include "base/time.h"
#include "cas/cas.h"
#include "evidence/sim.h"
#include "limits/limits.h"
#include "owner/owner.h"
#include "policy/session.h"
#include "store/store.h"

/* The library's view of arcad: store, audit log, CAS key (all borrowed from ctx). */
static struct arca_cas cas_of(const struct arcad_ctx *ctx)
{
/* The limits are reloadable (SIGHUP, main.c): read with the atomics the reload writes with. */
#define RELOADABLE(field) __atomic_load_n(&ctx->cfg.field, __ATOMIC_RELAXED)
    struct arca_cas cas = {.store = ctx->store,
                           .audit = ctx->audit,
                           .secrets_limits = {.max_keys = RELOADABLE(max_keys_per_session),
                                              .max_certificates = RELOADABLE(max_certs_per_session),
                                              .max_cost_ms = RELOADABLE(max_keygen_ms)},
                           .max_sessions_per_client = RELOADABLE(max_sessions_per_client),
                           .remote = ctx->remote_import,
                           .approvals = ctx->approvals,
                           .sessions = ctx->sessions};
#undef RELOADABLE
    memcpy(cas.cas_key, ctx->id.key_id, sizeof(cas.cas_key));
    return cas;
}

/*
 * Takes one request from client's quota (a token bucket per client key). false once it has
 * answered 429 because the quota is used up. Requests without a certificate are not counted
 * here (those routes answer 401 or are public, with per-peer limits of their own).
 */
static bool within_quota(struct arcad_request *req, const uint8_t *client)
{
    struct arcad_ctx *ctx = req->ctx;
    int64_t wait_ms = 0;
    if (client == NULL || ctx->client_quota == NULL ||
        arca_ratelimit_take(ctx->client_quota, client, 32, arca_time_mono_ms(), &wait_ms) == 0)
        return true;
    arcad_reply_error(req, 429,
                      "quota: this client key sent more than %.0f requests per second (burst "
                      "%.0f; arcad --client-rate, --client-burst); retry in %lld ms",
                      ctx->cfg.client_rate, ctx->cfg.client_burst, (long long)wait_ms);
    return false;
}

/* The client's key id into id, or NULL without a client certificate. */
static const uint8_t *client_of(struct arcad_request *req, uint8_t id[32])
{
    return arcad_request_peer_key_id(req, id) ? id : NULL;
}

/* Replies with the encoded answer j (NULL: out of memory, 500). */
static void reply_answer(struct arcad_request *req, int status, json_t *j)
{
    if (j == NULL) {
        arcad_reply_error(req, 500, "out of memory");
        return;
    }
    arcad_reply_json(req, status, j);
}

/* ---- POST /v1/sessions -------------------------------------------------------------------- */

/* An invalid upload: every diagnostic (at most 50) as one message. */
static void reply_diag(struct arcad_request *req, int rc, const struct arca_diag *d)
{
    char *msgs[50];
    size_t n = 0;
    struct arca_buf line;
    arca_buf_init(&line, 4096);
    for (size_t i = 0; i < d->n && n < 50; i++) {
        arca_buf_reset(&line);
        if (arca_diag_entry_format(&d->v[i], &line) == 0 &&
            (msgs[n] = strdup(arca_buf_cstr(&line))) != NULL)
            n++;
    }
    arca_buf_free(&line);
    const char *fallback = arca_err_detail()[0] ? arca_err_detail() : "invalid session";
    json_t *body =
        n > 0 ? arca_api_error_new((const char *const *)msgs, n) : arca_api_error_new(&fallback, 1);
    for (size_t i = 0; i < n; i++)
        free(msgs[i]);
    reply_answer(req, rc == ARCA_ERR_TOO_LARGE ? 413 : 400, body);
}

void arcad_session_upload(struct arcad_request *req, const uint8_t *yaml, size_t n)
{
    struct arcad_ctx *ctx = req->ctx;
    struct arca_cas cas = cas_of(ctx);
    uint8_t id[32];
    struct arca_cas_put put;
    struct arca_diag d;
    const uint8_t *client = client_of(req, id);
    if (!within_quota(req, client))
        return;
    arca_diag_init(&d);
    int rc = arca_cas_session_put(&cas, client, yaml, n, &d, &put);
    if (rc < 0 && put.invalid) {
        reply_diag(req, rc, &d);
    } else if (rc < 0) {
        arcad_reply_err(req, rc);
    } else {
        atomic_fetch_add_explicit(put.updated ? &ctx->metrics->sessions_updated
                                              : &ctx->metrics->sessions_created,
                                  1, memory_order_relaxed);
        reply_answer(req, put.updated ? 200 : 201,
                     arca_api_version_to_json(&put.v, ARCA_API_VERSION_UPLOADED));
    }
    arca_cas_put_clear(&put);
    arca_diag_free(&d);
}

static void h_session_upload(struct arcad_request *req, void *arg)
{
    arcad_session_upload(req, req->body, req->body_len);
}

/* ---- GET /v1/sessions/NAME, /v1/history/NAME, /v1/sessions?prefix= ------------------------ */

static void h_session_read(struct arcad_request *req, void *arg)
{
    struct arca_cas cas = cas_of(req->ctx);
    uint8_t id[32];
    const uint8_t *client = client_of(req, id);
    if (!within_quota(req, client))
        return;
    /* The answer's text comes kept with the version (cas.h): no JSON built per read. */
    struct arca_buf text;
    arca_buf_init(&text, 0);
    int rc = arca_cas_session_read_json(&cas, client, arcad_request_path_rest(req),
                                        arcad_request_query(req, "hash"), &text);
    if (rc < 0)
        arcad_reply_err(req, rc);
    else
        arcad_reply_raw(req, 200, "application/json", text.data, text.len);
    arca_buf_free(&text);
}

static void h_session_history(struct arcad_request *req, void *arg)
{
    struct arca_cas cas = cas_of(req->ctx);
    uint8_t id[32];
    struct arca_api_versions l;
    const uint8_t *client = client_of(req, id);
    if (!within_quota(req, client))
        return;
    int rc = arca_cas_session_history(&cas, client, arcad_request_path_rest(req), &l);
    if (rc < 0)
        arcad_reply_err(req, rc);
    else
        reply_answer(req, 200, arca_api_history_to_json(&l));
    arca_api_versions_clear(&l);
}

static void h_session_approvals(struct arcad_request *req, void *arg)
{
    struct arca_cas cas = cas_of(req->ctx);
    uint8_t id[32];
    json_t *j = NULL;
    const uint8_t *client = client_of(req, id);
    if (!within_quota(req, client))
        return;
    const char *hash = arcad_request_query(req, "hash");
    int rc = hash != NULL
                 ? arca_cas_session_approvals(&cas, client, arcad_request_path_rest(req), hash, &j)
                 : arca_err_set(ARCA_ERR_FORMAT, "query: hash=HASH is required");
    if (rc < 0)
        arcad_reply_err(req, rc);
    else
        reply_answer(req, 200, j);
}

/* The limit query of a listing: absent 0 (the default page), else 1..ARCA_CAS_LIST_MAX. */
static int list_limit(const char *q, size_t *limit)
{
    *limit = 0;
    if (q == NULL)
        return 0;
    size_t n = 0, len = strlen(q);
    bool ok = len >= 1 && len <= 4;
    for (size_t i = 0; ok && i < len; i++) {
        ok = q[i] >= '0' && q[i] <= '9';
        n = n * 10 + (size_t)(q[i] - '0');
    }
    ARCA_ENSURE(ok && n >= 1 && n <= ARCA_CAS_LIST_MAX, ARCA_ERR_FORMAT,
                "query limit: expected a number from 1 to %d", ARCA_CAS_LIST_MAX);
    *limit = n;
    return 0;
}

static void h_session_list(struct arcad_request *req, void *arg)
{
    struct arca_cas cas = cas_of(req->ctx);
    uint8_t id[32];
    struct arca_api_versions l;
    memset(&l, 0, sizeof(l));
    char *next = NULL;
    size_t limit = 0;
    const uint8_t *client = client_of(req, id);
    if (!within_quota(req, client))
        return;
    int rc = list_limit(arcad_request_query(req, "limit"), &limit);
    if (rc == 0)
        rc = arca_cas_session_list(&cas, client, arcad_request_query(req, "prefix"),
                                   arcad_request_query(req, "after"), limit, &l, &next);
    if (rc < 0) {
        arcad_reply_err(req, rc);
    } else {
        json_t *j = arca_api_list_to_json(&l);
        if (j != NULL &&
            json_object_set_new(j, "next", next != NULL ? json_string(next) : json_null()) < 0) {
            json_decref(j);
            j = NULL;
        }
        reply_answer(req, 200, j);
    }
    free(next);
    arca_api_versions_clear(&l);
}

/* ---- GET /v1/values/session=NAME[,secret=S] ----------------------------------------------- */

static void h_values(struct arcad_request *req, void *arg)
{
    const char *rest = arcad_request_path_rest(req);
    char name[ARCA_SESSION_NAME_MAX + 1] = "", secret[ARCA_SESSION_COMPONENT_MAX + 1] = "";
    const char *p = rest;
    /* The short form /v1/values/SESSION (issue 12) names the session alone. */
    bool bare = strchr(p, '=') == NULL && strchr(p, ',') == NULL;
    if (!bare && strncmp(p, "session=", 8) != 0) {
        arcad_reply_error(req, 400, "expected /v1/values/session=NAME[,secret=NAME]");
        return;
    }
    if (!bare)
        p += 8;
    const char *comma = strchr(p, ',');
    size_t nl = comma != NULL ? (size_t)(comma - p) : strlen(p);
    if (nl == 0 || nl > ARCA_SESSION_NAME_MAX) {
        arcad_reply_error(req, 400, "values: session name missing or too long");
        return;
    }
    memcpy(name, p, nl);
    name[nl] = '\0';
    if (comma != NULL) {
        const char *s = comma + 1;
        size_t sl = strlen(s);
        if (strncmp(s, "secret=", 7) != 0 || sl - 7 == 0 || sl - 7 > ARCA_SESSION_COMPONENT_MAX) {
            arcad_reply_error(req, 400, "expected /v1/values/session=NAME[,secret=NAME]");
            return;
        }
        memcpy(secret, s + 7, sl - 7);
        secret[sl - 7] = '\0';
    }
    struct arca_cas cas = cas_of(req->ctx);
    struct arca_api_values vals;
    int rc = arca_cas_values(&cas, name, secret[0] ? secret : NULL, &vals);
    if (rc < 0 && rc != ARCA_ERR_NOT_FOUND) {
        arcad_reply_err(req, rc);
    } else if (secret[0]) {
        const struct arca_api_value *one = rc == 0 ? arca_api_values_find(&vals, secret) : NULL;
        static const char *const none[] = {
            "Failed to read value requested by a public client",
            "Secret does not exist or is not visible for a public client"};
        if (one == NULL)
            reply_answer(req, 404, arca_api_error_new(none, 2));
        else
            reply_answer(req, 200, arca_api_value_to_json(one));
    } else if (rc == ARCA_ERR_NOT_FOUND || vals.n == 0) {
        /* A session without public values answers like a missing one: no existence oracle. */
        static const char *const none[] = {"Failed to read values requested by a public client",
                                           "Session does not exist or has no public values"};
        reply_answer(req, 404, arca_api_error_new(none, 2));
    } else {
        reply_answer(req, 200, arca_api_values_to_json(&vals));
    }
    arca_api_values_clear(&vals);
}

/* ---- GET /v1/attest?nonce=HEX ------------------------------------------------------------- */

bool arcad_evidence_request(struct arcad_request *req, uint8_t nonce[32])
{
    const char *nonce_hex = arcad_request_query(req, "nonce");
    if (nonce_hex == NULL ||
        arca_hex_decode_fixed(nonce, ARCA_LAUNCH_NONCE_LEN, nonce_hex, strlen(nonce_hex)) < 0) {
        arcad_reply_error(req, 400, "query nonce: expected %d random bytes as %d hex digits",
                          ARCA_LAUNCH_NONCE_LEN, 2 * ARCA_LAUNCH_NONCE_LEN);
        return false;
    }
    if (req->ctx->sim == NULL) {
        arcad_reply_error(req, 503, "arcad has no evidence provider");
        return false;
    }
    return true;
}

static void h_attest(struct arcad_request *req, void *arg)
{
    struct arcad_ctx *ctx = req->ctx;
    struct arca_api_cas_evidence e;
    arca_api_cas_evidence_init(&e);
    uint8_t rd[64];
    if (!arcad_evidence_request(req, e.nonce))
        return;
    _Static_assert(sizeof(e.nonce) == ARCA_LAUNCH_NONCE_LEN, "nonce length");
    int rc = 0;
    snprintf(e.type, sizeof(e.type), "%s", ARCA_API_EVIDENCE_SIM);
    e.insecure = true;
    memcpy(e.cas_key, ctx->id.key_id, sizeof(e.cas_key));
    snprintf(e.cas_key_b58, sizeof(e.cas_key_b58), "%s", ctx->id.key_b58);
    e.has_measurement = true;
    memcpy(e.measurement, ctx->measurement, sizeof(e.measurement));
    ARCA_GUARD(rc, arca_key_spki_der(ctx->id.key, &e.spki), out);
    ARCA_GUARD(rc, arca_launch_binding(e.spki.data, e.spki.len, e.nonce, "", rd), out);
    ARCA_GUARD(rc, arca_sim_evidence_make(ctx->sim, ctx->measurement, rd, &e.evidence), out);
    ARCA_GUARD(rc, arca_x509_to_pem(ctx->id.cert, &e.cert_chain), out);
    ARCA_GUARD(rc, arca_x509_to_pem(ctx->id.ca, &e.cert_chain), out);
    json_t *j = arca_api_cas_evidence_to_json(&e);
    arcad_metrics_attestation(ctx->metrics, "ok");
    struct arca_cas cas = cas_of(ctx);
    arca_cas_audit(&cas, ARCA_AUDIT_ATTESTATION,
                   json_pack("{s:s, s:s, s:s}", "subject", "cas", "type", ARCA_API_EVIDENCE_SIM,
                             "outcome", "evidence_served"));
    reply_answer(req, 200, j);
out:
    if (rc < 0)
        arcad_reply_err(req, rc);
    arca_api_cas_evidence_clear(&e);
}

/* ---- version, health ---------------------------------------------------------------------- */

static void h_version(struct arcad_request *req, void *arg)
{
    struct arca_api_cas_version v = {.simulation = req->ctx->cfg.allow_simulation};
    snprintf(v.version, sizeof(v.version), "%s", ARCA_VERSION);
    memcpy(v.cas_key, req->ctx->id.key_id, sizeof(v.cas_key));
    reply_answer(req, 200, arca_api_cas_version_to_json(&v));
}

/* GET /v1/status: liveness and progress for `arca status` (client certificate required, read
 * from the store and the audit checkpoint; no secret, no other client's data). */
static void h_status(struct arcad_request *req, void *arg)
{
    (void)arg;
    struct arcad_ctx *ctx = req->ctx;
    struct arca_api_status st = {.uptime_s = 0};
    snprintf(st.version, sizeof(st.version), "%s", ARCA_VERSION);
    snprintf(st.enclave_address, sizeof(st.enclave_address), "%s",
             ctx->enclave_bound[0] != '\0'     ? ctx->enclave_bound
             : ctx->cfg.enclave_listen != NULL ? ctx->cfg.enclave_listen
                                               : "");
    int64_t up = ctx->metrics != NULL ? arca_time_now() - ctx->metrics->started_at : 0;
    st.uptime_s = up > 0 ? (uint64_t)up : 0;
    uint8_t head[32];
    int rc = 0;
    if (ctx->store != NULL) {
        struct arca_store_active *l = NULL;
        size_t n = 0;
        struct arca_store_checkpoint cp;
        rc = arca_store_state(ctx->store, &st.store_commit, head);
        if (rc == 0)
            rc = arca_store_active_list(ctx->store, "", &l, &n);
        if (rc == 0) {
            st.sessions = n;
            arca_store_active_list_free(l, n);
            rc = arca_store_checkpoint_latest(ctx->store, &cp);
        }
        if (rc == 0) {
            st.audit_seq = cp.seq;
            st.audit_time = cp.time;
        } else if (rc == ARCA_ERR_NOT_FOUND) {
            rc = 0;
        }
    }
    /* Whether arcad has an owner is public (GET /v1/owner says it to anyone). */
    json_t *rec = rc == 0 && ctx->owner != NULL ? arca_owner_status(ctx->owner) : NULL;
    st.provisioned = json_is_true(json_object_get(rec, "provisioned"));
    json_decref(rec);
    arca_err_clear();
    if (rc < 0)
        arcad_reply_err(req, rc);
    else
        reply_answer(req, 200, arca_api_status_to_json(&st));
}

static void h_healthz(struct arcad_request *req, void *arg)
{
    uint64_t commit = 0;
    uint8_t head[32];
    if (req->ctx->store != NULL && arca_store_state(req->ctx->store, &commit, head) < 0) {
        arcad_reply_err(req, ARCA_ERR_IO);
        return;
    }
    reply_answer(req, 200, arca_api_health_to_json(commit));
}

/* For the other client API files (arcad_internal.h). */
struct arca_cas arcad_cas_of(const struct arcad_ctx *ctx)
{
    return cas_of(ctx);
}
bool arcad_within_quota(struct arcad_request *req, const uint8_t *client)
{
    return within_quota(req, client);
}
void arcad_reply_diag(struct arcad_request *req, int rc, const struct arca_diag *d)
{
    reply_diag(req, rc, d);
}

int arcad_api_register(struct arcad_router *r, struct arcad_ctx *ctx)
{
    /* Policy parsing, secret generation (RSA), listing and history run on the job pool. */
    ARCA_TRY(arcad_router_add(r, "POST", "/v1/sessions", ARCAD_ROUTE_EXACT | ARCAD_ROUTE_OFFLOAD,
                              "sessions_upload", h_session_upload, ctx));
    ARCA_TRY(arcad_router_add(r, "POST", "/session", ARCAD_ROUTE_EXACT | ARCAD_ROUTE_OFFLOAD,
                              "sessions_upload", h_session_upload, ctx));
    ARCA_TRY(arcad_router_add(r, "GET", "/v1/sessions", ARCAD_ROUTE_EXACT | ARCAD_ROUTE_OFFLOAD,
                              "sessions_list", h_session_list, ctx));
    ARCA_TRY(arcad_router_add(r, "GET", "/v1/sessions/", ARCAD_ROUTE_PREFIX, "sessions_read",
                              h_session_read, ctx));
    ARCA_TRY(arcad_router_add(r, "GET", "/v1/history/", ARCAD_ROUTE_PREFIX | ARCAD_ROUTE_OFFLOAD,
                              "sessions_history", h_session_history, ctx));
    ARCA_TRY(arcad_router_add(r, "GET", "/v1/approvals/", ARCAD_ROUTE_PREFIX, "sessions_approvals",
                              h_session_approvals, ctx));
    /* Unauthenticated: rate limited per peer address. */
    ARCA_TRY(arcad_router_add(r, "GET", "/v1/values/",
                              ARCAD_ROUTE_PREFIX | ARCAD_ROUTE_NO_CERT | ARCAD_ROUTE_RATE_LIMITED,
                              "values", h_values, ctx));
    ARCA_TRY(arcad_router_add(r, "GET", "/v1/attest",
                              ARCAD_ROUTE_EXACT | ARCAD_ROUTE_NO_CERT | ARCAD_ROUTE_RATE_LIMITED,
                              "attest", h_attest, ctx));
    ARCA_TRY(arcad_router_add(r, "GET", "/v1/version", ARCAD_ROUTE_EXACT | ARCAD_ROUTE_NO_CERT,
                              "version", h_version, ctx));
    ARCA_TRY(arcad_router_add(r, "GET", "/v1/status", ARCAD_ROUTE_EXACT | ARCAD_ROUTE_OFFLOAD,
                              "status", h_status, ctx));
    ARCA_TRY(arcad_router_add(r, "GET", "/healthz", ARCAD_ROUTE_EXACT | ARCAD_ROUTE_NO_CERT,
                              "healthz", h_healthz, ctx));
    ARCA_TRY(arcad_encrypted_register(r, ctx)); /* api_encrypted.c */
    return arcad_proposals_register(r, ctx);
}
