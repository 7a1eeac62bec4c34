/*
 * The enclave API (DESIGN §4, docs/internals/launch.md): POST /v1/challenge and POST /v1/attest
 * on arcad's enclave listener. A thin adapter: the wire protocol is api/attest_wire.h, the
 * pipeline (nonces, evidence, binding, appraisal, secrets, OTP, token, the configuration and
 * the audit line) is src/lib/attest/ (attest/attest.h). What stays here is HTTP: the TLS
 * peer's key, the body, the answer, and arcad's metrics and log.
 *
 * Nothing secret is logged, audited or put in an error: details name secrets, never values.
 */
#include "enclave_api.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/attest_wire.h"
#include "api/json.h"
#include "attest/attest.h"
#include "base/err.h"
#include "base/log.h"
#include "base/time.h"
#include "limits/limits.h"
#include "reload.h"

struct enclave_state {
    struct arca_attest_ctx attest;
    pthread_mutex_t fetch_lock;        /* attest.verify.sources.fetch_lock */
    const char *collateral_path;       /* attest.verify.sources.collateral_paths[0] */
    char pcs_cache[4096];              /* DATA_DIR/collateral-cache/pcs */
    char kds_cache[4096];              /* DATA_DIR/collateral-cache/kds */
    struct arca_throttle *throttle;    /* attest.throttle */
    struct arca_ratelimit *anon_audit; /* attest.unverified_audit */
    atomic_uint_fast64_t attempts;     /* attest requests, for the periodic purge */
};

/* Audit lines of refusals before the evidence verified: 5 a second, bursts of 100. */
#define ANON_AUDIT_RATE 5.0
#define ANON_AUDIT_BURST 100.0

static void state_free(void *p)
{
    struct enclave_state *st = p;
    if (st != NULL) {
        pthread_mutex_destroy(&st->fetch_lock);
        arca_attest_ctx_clear(&st->attest);
        arca_throttle_free(st->throttle);
        arca_ratelimit_free(st->anon_audit);
        arca_wipe(st, sizeof(*st));
    }
    free(st);
}

static void h_challenge(struct arcad_request *req, void *arg)
{
    struct enclave_state *st = arg;
    struct arca_challenge_answer a;
    int rc = arca_attest_challenge(&st->attest, arca_time_now(), &a);
    if (rc < 0) {
        arcad_reply_err(req, rc);
        return;
    }
    arcad_reply_json(req, 200, arca_challenge_answer_encode(&a));
}

/* The DER SPKI of the TLS peer's key into spki; false when the peer sent no certificate (the
 * pipeline refuses that in its place in the order of checks). */
static bool peer_spki(struct arcad_request *req, struct arca_buf *spki)
{
    struct arca_key *peer = NULL;
    bool ok = arcad_request_peer_key(req, &peer) == 0 && arca_key_spki_der(peer, spki) == 0;
    arca_key_free(peer);
    return ok;
}

static void h_attest(struct arcad_request *req, void *arg)
{
    struct enclave_state *st = arg;
    struct arcad_ctx *ctx = arcad_request_ctx(req);
    struct arca_attest_outcome o;
    memset(&o, 0, sizeof(o));
    struct arca_buf answer, spki;
    arca_buf_init_secret(&answer, 0);
    arca_buf_init(&spki, 0);
    json_t *body = NULL;
    int64_t now = arca_time_now();
    if (atomic_fetch_add(&st->attempts, 1) % ARCA_ATTEST_PURGE_EVERY == ARCA_ATTEST_PURGE_EVERY - 1)
        arca_attest_purge(&st->attest, now);
    int rc = arcad_request_json(req, &body);
    if (rc == 0) {
        bool have = peer_spki(req, &spki);
        rc = arca_attest_exchange(&st->attest, body, have ? spki.data : NULL, have ? spki.len : 0,
                                  now, &answer, &o);
    } else {
        arca_attest_audit(&st->attest, &o, rc, now);
    }
    if (ctx->metrics != NULL)
        arcad_metrics_attestation(ctx->metrics, rc == 0 ? "ok" : "refused");
    if (rc == 0) {
        arca_info("enclave-api", "attestation accepted: %s/%s measurement %s", o.session, o.service,
                  o.measurement);
        arcad_reply_raw(req, 200, "application/json", answer.data, answer.len);
    } else {
        arca_info("enclave-api", "attestation refused: %s/%s: %s", o.session, o.service,
                  arca_err_detail());
        arcad_reply_err(req, rc);
    }
    arca_buf_free(&answer);
    arca_buf_free(&spki);
    json_decref(body);
}

/* The pipeline's view of arcad's configuration; everything it points to outlives the state
 * (ctx->cfg strings come from argv/env, ctx->collateral and ctx->dcap_cache are freed by main
 * after enclave_state_free). */
static void configure(struct enclave_state *st, struct arcad_ctx *ctx)
{
    struct arca_attest_ctx *a = &st->attest;
    struct arca_evidence_sources *src = &a->verify.sources;
    a->store = ctx->store;
    a->audit = ctx->audit;
    a->verify.allow_simulation = ctx->cfg.allow_simulation;
    a->verify.sim_keys = ctx->sim_keys;
    a->remote = ctx->remote_import; /* api_peer.c: imports from other arcads */
    a->sessions = ctx->sessions;
    /* Collateral is loaded once by main (ctx->collateral); only unit tests that build a
     * context by hand still name a path, which is then read on every attestation. */
    src->collateral = ctx->collateral;
    arcad_sources_track(ctx->reloader, src, true);
    if (ctx->collateral == NULL && ctx->cfg.collateral != NULL) {
        st->collateral_path = ctx->cfg.collateral;
        src->collateral_paths = &st->collateral_path;
        src->n_collateral_paths = 1;
    }
    if (ctx->cfg.snp_certs != NULL) {
        src->snp_paths = &ctx->cfg.snp_certs;
        src->n_snp_paths = 1;
    }
    src->dcap.cache = ctx->dcap_cache;
    src->pcs_fetch = ctx->cfg.pcs_url != NULL;
    src->pcs_url = ctx->cfg.pcs_url;
    src->kds_fetch = ctx->cfg.kds_url != NULL;
    src->kds_url = ctx->cfg.kds_url;
    if (ctx->cfg.data_dir != NULL) {
        snprintf(st->pcs_cache, sizeof(st->pcs_cache), "%s/collateral-cache/pcs",
                 ctx->cfg.data_dir);
        snprintf(st->kds_cache, sizeof(st->kds_cache), "%s/collateral-cache/kds",
                 ctx->cfg.data_dir);
        src->pcs_cache_dir = st->pcs_cache;
        src->kds_cache_dir = st->kds_cache;
    }
    src->fetch_lock = &st->fetch_lock;
}

/* The guessing throttle (--attest-free-failures, --attest-lockout-failures,
 * --attest-lockout-time; 0 = the default of docs/arcad.md) and the audit rate for refusals of
 * unverified callers. */
static int limits_new(struct enclave_state *st, const struct arcad_config *cfg)
{
    struct arca_throttle_cfg tc;
    arca_throttle_cfg_default(&tc);
    if (cfg->attest_free_failures > 0)
        tc.free_failures = (unsigned)cfg->attest_free_failures;
    if (cfg->attest_lockout_failures > 0)
        tc.lockout_failures = (unsigned)cfg->attest_lockout_failures;
    if (cfg->attest_lockout_s > 0)
        tc.lockout_ms = (int64_t)cfg->attest_lockout_s * 1000;
    ARCA_TRY(arca_throttle_new(&tc, &st->throttle));
    struct arca_ratelimit_cfg rc = {
        .per_key_rate = ANON_AUDIT_RATE, .per_key_burst = ANON_AUDIT_BURST, .capacity = 8};
    ARCA_TRY(arca_ratelimit_new(&rc, &st->anon_audit));
    st->attest.throttle = st->throttle;
    st->attest.unverified_audit = st->anon_audit;
    return 0;
}

/* Any GET the enclave API does not serve: a client (arca, curl) pointed at this port instead of
 * the client API. The answer names both ("api": "enclave" marks it for the CLI). */
static void h_wrong_port(struct arcad_request *req, void *arg)
{
    const struct arcad_ctx *ctx = arg;
    const char *client = ctx->client_bound[0] != '\0'     ? ctx->client_bound
                         : ctx->cfg.client_listen != NULL ? ctx->cfg.client_listen
                                                          : "";
    char msg[600];
    snprintf(msg, sizeof(msg),
             "no such endpoint: GET %.200s; this is arcad's enclave port; the client API is %s",
             arcad_request_path(req), client);
    const char *m = msg;
    json_t *j = arca_api_error_new(&m, 1);
    json_object_set_new(j, "api", json_string("enclave"));
    json_object_set_new(j, "client_api", json_string(client));
    arcad_reply_json(req, 404, j);
}

int enclave_api_register(struct arcad_router *r, struct arcad_ctx *ctx)
{
    ARCA_ENSURE_REF(r);
    ARCA_ENSURE_REF(ctx);
    struct enclave_state *st = calloc(1, sizeof(*st));
    ARCA_ENSURE(st != NULL, ARCA_ERR_ALLOC, "enclave API: out of memory");
    /* Test hook (docs/internals/launch.md): shorter nonce lifetime for expiry tests. */
    const char *ttl = getenv("ARCA_TEST_NONCE_TTL");
    int nonce_ttl = ttl != NULL && atoi(ttl) > 0 && atoi(ttl) <= 3600 ? atoi(ttl) : 0;
    int rk = arca_attest_ctx_init(&st->attest, nonce_ttl);
    if (rk < 0) {
        free(st);
        return rk;
    }
    pthread_mutex_init(&st->fetch_lock, NULL);
    configure(st, ctx);
    int rl = limits_new(st, &ctx->cfg);
    if (rl < 0) {
        state_free(st);
        return rl;
    }
    /* Both unauthenticated: rate limited per peer; evidence verification on the job pool. */
    int rc =
        arcad_router_add(r, "POST", "/v1/challenge", ARCAD_ROUTE_EXACT | ARCAD_ROUTE_RATE_LIMITED,
                         "enclave_challenge", h_challenge, st);
    if (rc == 0)
        rc = arcad_router_add(r, "POST", "/v1/attest",
                              ARCAD_ROUTE_EXACT | ARCAD_ROUTE_RATE_LIMITED | ARCAD_ROUTE_OFFLOAD,
                              "enclave_attest", h_attest, st);
    if (rc == 0)
        rc = arcad_volume_api_register(r, ctx);
    if (rc == 0)
        rc = arcad_provided_api_register(r, ctx);
    /* Last, so every enclave route wins: any other GET is a client pointed at the wrong port. */
    if (rc == 0)
        rc = arcad_router_add(r, "GET", "/", ARCAD_ROUTE_PREFIX | ARCAD_ROUTE_NO_CERT,
                              "enclave_wrong_port", h_wrong_port, ctx);
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
