/*
 * The peer routes of arcad (api_peer.h): thin adapters over src/lib/peer/ (the channel) and
 * src/lib/cas/cas_export.c (the export rule and the value). Refusals are audited by the cas
 * call (`secret_export`) or here (`peer_refused`) with their reason, never a value.
 */
#include "api_peer.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/json.h"
#include "arcad_internal.h"
#include "attest/attest.h"
#include "audit/audit.h"
#include "base/enc.h"
#include "base/err.h"
#include "base/log.h"
#include "base/time.h"
#include "cas/cas.h"
#include "evidence/claims.h"
#include "evidence/sim.h"
#include "limits/limits.h"
#include "owner/owner.h"
#include "peer/import.h"
#include "peer/join.h"
#include "peer/peer.h"
#include "reload.h"
#include "store/share.h"
#include "witness/witness.h"

struct peer_state {
    struct arcad_ctx *ctx;
    struct arca_attest_ctx nonces; /* our nonces for the callers' evidence */
    struct arca_attest_verify_cfg verify;
    struct arca_peer_self self;
    struct arca_peer_importer *importer;
    /* Refusals before the caller's evidence verified are audited at 5/s (bursts of 100) and
     * only logged beyond, so strangers cannot grow the audit log (as the enclave API does). */
    struct arca_ratelimit *anon_audit;
    /* Joins being answered now (after the caller's evidence verified): each reads the owner
     * record and seals a box, so a few at a time (JOIN_MAX_BUSY) is plenty. */
    atomic_int joins_busy;
};

#define JOIN_MAX_BUSY 2
#define AUDIT_JOIN "store_join"

static void state_free(void *p)
{
    struct peer_state *st = p;
    if (st == NULL)
        return;
    arca_peer_importer_free(st->importer);
    arca_ratelimit_free(st->anon_audit);
    arca_attest_ctx_clear(&st->nonces);
    free(st);
}

/* Our evidence: simulated while arcad runs on the simulation platform (the only provider of
 * arcad's own evidence so far, as for GET /v1/attest). */
static int own_evidence(void *arg, const uint8_t rd[64], int *type, struct arca_buf *ev)
{
    struct arcad_ctx *ctx = arg;
    ARCA_ENSURE(ctx->sim != NULL, ARCA_ERR_UNSUPPORTED, "arcad has no evidence provider");
    *type = ARCA_EVIDENCE_SIM;
    return arca_sim_evidence_make(ctx->sim, ctx->measurement, rd, ev);
}

static void audit_refusal(struct peer_state *st, struct arcad_request *req, const char *route,
                          const uint8_t *spki, size_t spki_len)
{
    /* the request's ctx, not st->ctx: on the start-up server it has no audit log (nor store) */
    const struct arcad_ctx *ctx = arcad_request_ctx(req);
    char peer[65] = "";
    uint8_t kid[32];
    if (spki != NULL && arca_sha256(spki, spki_len, kid) == 0)
        arca_hex_fmt(peer, kid, 32);
    char reason[ARCA_ERR_DETAIL_MAX + 1];
    snprintf(reason, sizeof(reason), "%s", arca_err_detail());
    if (arca_ratelimit_take(st->anon_audit, "peer", 4, arca_time_mono_ms(), NULL) < 0) {
        arca_info("peer", "refused %s from %s: %s", route, peer, reason);
        return;
    }
    if (ctx->audit == NULL) { /* the start-up server */
        arca_info("peer", "refused %s from %s: %s", route, peer, reason);
        return;
    }
    struct arca_cas cas = {.store = ctx->store, .audit = ctx->audit};
    arca_cas_audit(
        &cas, "peer_refused",
        json_pack("{s:s, s:s, s:s}", "route", route, "peer_cas_key", peer, "reason", reason));
}

static bool peer_spki(struct arcad_request *req, struct arca_buf *spki)
{
    struct arca_key *k = NULL;
    bool ok = arcad_request_peer_key(req, &k) == 0 && arca_key_spki_der(k, spki) == 0;
    arca_key_free(k);
    return ok;
}

/*
 * The start of every peer route but hello: the body (*body, json_decref), the caller's TLS key
 * (into spki) and the channel's checks (arca_peer_accept) for route. A refusal is audited
 * (peer_refused) and, with what, its detail starts with what.
 */
static int accept_call(struct peer_state *st, struct arcad_request *req, const char *route,
                       const char *what, json_t **body, struct arca_buf *spki,
                       struct arca_peer_identity *who, const json_t **payload)
{
    int rc = arcad_request_json(req, body);
    bool have = rc == 0 && peer_spki(req, spki);
    if (rc == 0)
        rc = arca_peer_accept(&st->self, &st->nonces, have ? spki->data : NULL, spki->len, route,
                              *body, arca_time_now(), who, payload);
    if (rc < 0 && what != NULL)
        rc = arca_err_wrap(rc, "%s", what);
    if (rc < 0)
        audit_refusal(st, req, route, have ? spki->data : NULL, spki->len);
    return rc;
}

static void h_hello(struct arcad_request *req, void *arg)
{
    struct peer_state *st = arg;
    json_t *body = NULL, *a = NULL;
    int rc = arcad_request_json(req, &body);
    if (rc == 0)
        rc = arca_peer_hello(&st->self, &st->nonces, body, arca_time_now(), &a);
    json_decref(body);
    if (rc < 0)
        arcad_reply_err(req, rc);
    else
        arcad_reply_json(req, 200, a);
}

static void h_export(struct arcad_request *req, void *arg)
{
    struct peer_state *st = arg;
    json_t *body = NULL;
    struct arca_buf spki, enc;
    arca_buf_init(&spki, 0);
    arca_buf_init_secret(&enc, 0);
    struct arca_peer_identity who;
    const json_t *payload = NULL;
    uint8_t hash[32];
    struct arca_cas_export_req q;
    int rc = accept_call(st, req, ARCA_PEER_EXPORT_ROUTE, NULL, &body, &spki, &who, &payload);
    if (rc == 0) {
        rc = arca_peer_export_req_parse(payload, &q, hash);
        if (rc < 0)
            audit_refusal(st, req, ARCA_PEER_EXPORT_ROUTE, spki.data, spki.len);
    }
    if (rc == 0) {
        q.peer_key = who.cas_key;
        q.peer_measurement = who.measurement;
        struct arca_cas cas = {.store = st->ctx->store, .audit = st->ctx->audit};
        memcpy(cas.cas_key, st->ctx->id.key_id, sizeof(cas.cas_key));
        rc = arca_cas_export_remote(&cas, &q, &enc);
    }
    if (rc < 0) {
        arca_info("peer", "export refused: %s", arca_err_detail());
        arcad_reply_err(req, rc);
    } else {
        json_t *a = arca_peer_export_answer(&enc);
        if (a == NULL)
            arcad_reply_err(req, arca_err_set(ARCA_ERR_ALLOC, "export: out of memory"));
        else
            arcad_reply_json(req, 200, a);
    }
    json_decref(body);
    arca_buf_free(&spki);
    arca_buf_free(&enc);
}

/* The answer to {"op": "read"} or {"op": "record", "epoch": E} for the caller's counter
 * (witness/peer.c is the other side). *a a new object. */
static int witness_answer(struct arca_witness_held *h, const uint8_t caller[32],
                          const json_t *payload, json_t **a)
{
    const char *op = json_string_value(json_object_get(payload, "op"));
    ARCA_ENSURE(op != NULL, ARCA_ERR_FORMAT, "peer witness: no op");
    uint64_t v = 0;
    int rc;
    if (strcmp(op, "read") == 0) {
        rc = arca_witness_held_read(h, caller, &v);
        if (rc == ARCA_ERR_NOT_FOUND)
            *a = json_pack("{s:b}", "held", 0);
        else if (rc == 0)
            *a = json_pack("{s:b, s:I}", "held", 1, "value", (json_int_t)v);
        else
            return rc;
    } else if (strcmp(op, "record") == 0) {
        json_t *e = json_object_get(payload, "epoch");
        ARCA_ENSURE(json_is_integer(e) && json_integer_value(e) >= 0, ARCA_ERR_FORMAT,
                    "peer witness: epoch must be a non-negative integer");
        rc = arca_witness_held_record(h, caller, (uint64_t)json_integer_value(e), &v);
        const char *r = rc == 0                   ? "recorded"
                        : rc == ARCA_ERR_EXISTS   ? "exists"
                        : rc == ARCA_ERR_TAMPERED ? "ahead"
                                                  : NULL;
        if (r == NULL)
            return rc;
        if (rc == ARCA_ERR_TAMPERED)
            arca_warn("peer", "witness: %s", arca_err_detail());
        *a = json_pack("{s:s, s:I}", "result", r, "value", (json_int_t)v);
    } else {
        return arca_err_set(ARCA_ERR_FORMAT, "peer witness: op must be read or record");
    }
    ARCA_ENSURE(*a != NULL, ARCA_ERR_ALLOC, "peer witness: out of memory");
    return 0;
}

static void h_witness(struct arcad_request *req, void *arg)
{
    struct peer_state *st = arg;
    json_t *body = NULL, *a = NULL;
    struct arca_buf spki;
    arca_buf_init(&spki, 0);
    struct arca_peer_identity who;
    const json_t *payload = NULL;
    int rc = accept_call(st, req, ARCA_WITNESS_PEER_ROUTE, NULL, &body, &spki, &who, &payload);
    if (rc == 0)
        rc = witness_answer(st->ctx->witness_held, who.cas_key, payload, &a);
    if (rc == 0)
        rc = arca_peer_next_nonce(&st->nonces, arca_time_now(), a);
    if (rc < 0) {
        json_decref(a);
        arcad_reply_err(req, rc);
    } else {
        arcad_reply_json(req, 200, a);
    }
    json_decref(body);
    arca_buf_free(&spki);
}

/* The member's side of a join, for an attested caller: its platform and measurement must be
 * admitted (owner/owner.h arca_owner_admit_member), then the store's key goes to it boxed to
 * the enc_key it sent; or the caller's report of its own check. Audited either way. */
static int join_answer(struct peer_state *st, const struct arca_peer_identity *who,
                       const struct arca_peer_join_req *q, json_t **a)
{
    struct arcad_ctx *ctx = st->ctx;
    char peer[65], m[65];
    arca_hex_fmt(peer, who->cas_key, 32);
    arca_hex_fmt(m, who->measurement, 32);
    const char *outcome;
    int rc = 0;
    if (q->op == ARCA_PEER_JOIN_RESULT) {
        outcome = q->ok ? "joined" : "failed";
        *a = json_object();
        if (*a == NULL)
            rc = arca_err_set(ARCA_ERR_ALLOC, "join: out of memory");
    } else {
        outcome = "key_sent";
        struct arca_store_share sh;
        memset(&sh, 0, sizeof(sh));
        /* the platform: this member's own evidence is simulated (own_evidence) */
        if (who->evidence_type != ARCA_EVIDENCE_SIM)
            rc = arca_err_set(ARCA_ERR_POLICY,
                              "join: platform not admitted: the joining arcad offers %s "
                              "evidence, this member runs on the simulation platform",
                              arca_evidence_type_name((enum arca_evidence_type)who->evidence_type));
        if (rc == 0)
            rc = arca_owner_admit_member(ctx->owner, who->measurement);
        if (rc == 0)
            rc = arca_store_share_get(ctx->store, &sh);
        if (rc == 0)
            rc = arca_peer_join_answer(q->enc_key, who->cas_key, &sh, a);
        arca_wipe(&sh, sizeof(sh));
        if (rc < 0)
            outcome = "refused";
    }
    char reason[ARCA_ERR_DETAIL_MAX + 1] = "";
    if (rc < 0)
        snprintf(reason, sizeof(reason), "%s", arca_err_detail());
    else if (q->op == ARCA_PEER_JOIN_RESULT)
        snprintf(reason, sizeof(reason), "%s", q->reason);
    arca_info("peer", "join from %s (measurement %s): %s%s%s", peer, m, outcome,
              reason[0] ? ": " : "", reason);
    struct arca_cas cas = {.store = ctx->store, .audit = ctx->audit};
    arca_cas_audit(&cas, AUDIT_JOIN,
                   json_pack("{s:s, s:s, s:s, s:s}", "peer_cas_key", peer, "measurement", m,
                             "outcome", outcome, "reason", reason));
    if (rc < 0)
        arca_err_set(rc, "%s", reason);
    return rc;
}

static void h_join(struct arcad_request *req, void *arg)
{
    struct peer_state *st = arg;
    json_t *body = NULL, *a = NULL;
    struct arca_buf spki;
    arca_buf_init(&spki, 0);
    struct arca_peer_identity who;
    const json_t *payload = NULL;
    struct arca_peer_join_req q;
    memset(&q, 0, sizeof(q));
    int rc = accept_call(st, req, ARCA_PEER_JOIN_ROUTE, "join: evidence invalid", &body, &spki,
                         &who, &payload);
    if (rc == 0) {
        rc = arca_peer_join_req_parse(payload, &q);
        if (rc < 0)
            audit_refusal(st, req, ARCA_PEER_JOIN_ROUTE, spki.data, spki.len);
    }
    if (rc == 0) {
        if (atomic_fetch_add(&st->joins_busy, 1) < JOIN_MAX_BUSY)
            rc = join_answer(st, &who, &q, &a);
        else
            rc = arca_err_set(ARCA_ERR_LIMIT, "join: busy with other joins; try again");
        atomic_fetch_sub(&st->joins_busy, 1);
    }
    if (rc < 0)
        arcad_reply_err(req, rc);
    else
        arcad_reply_json(req, 200, a);
    json_decref(body);
    arca_buf_free(&spki);
}

/* The cache lifetime of remote imports: $ARCA_IMPORT_CACHE_TTL (0..3600 s), else the default. */
static int import_ttl(void)
{
    const char *s = getenv("ARCA_IMPORT_CACHE_TTL");
    if (s == NULL || s[0] == '\0')
        return -1;
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (*end != '\0' || v < 0 || v > 3600) {
        arca_warn("peer", "ARCA_IMPORT_CACHE_TTL=%.32s is not 0..3600: using %d s", s,
                  ARCA_PEER_IMPORT_TTL_DEFAULT);
        return -1;
    }
    return (int)v;
}

int arcad_peer_new(struct arcad_ctx *ctx)
{
    ARCA_ENSURE_REF(ctx);
    if (ctx->peer_state != NULL)
        return 0;
    struct peer_state *st = calloc(1, sizeof(*st));
    ARCA_ENSURE(st != NULL, ARCA_ERR_ALLOC, "peer API: out of memory");
    st->ctx = ctx;
    int rc = arca_attest_ctx_init(&st->nonces, 0);
    if (rc < 0) {
        free(st);
        return rc;
    }
    st->verify.allow_simulation = ctx->cfg.allow_simulation;
    st->verify.sim_keys = ctx->sim_keys;
    st->verify.sources.collateral = ctx->collateral;
    arcad_sources_track(ctx->reloader, &st->verify.sources, false);
    st->verify.sources.dcap.cache = ctx->dcap_cache;
    if (ctx->cfg.snp_certs != NULL) {
        st->verify.sources.snp_paths = &ctx->cfg.snp_certs;
        st->verify.sources.n_snp_paths = 1;
    }
    st->self = (struct arca_peer_self){.cert = ctx->id.cert,
                                       .key = ctx->id.key,
                                       .evidence = own_evidence,
                                       .evidence_arg = ctx,
                                       .verify = &st->verify};
    ARCA_GUARD(rc, arca_peer_importer_new(&st->self, import_ttl(), &st->importer), fail);
    struct arca_ratelimit_cfg rl = {.per_key_rate = 5.0, .per_key_burst = 100.0, .capacity = 8};
    ARCA_GUARD(rc, arca_ratelimit_new(&rl, &st->anon_audit), fail);
    ctx->peer_state = st;
    ctx->peer_state_free = state_free;
    ctx->remote_import = arca_peer_importer_remote(st->importer);
    return 0;
fail:
    state_free(st);
    return rc;
}

const struct arca_peer_self *arcad_peer_self(const struct arcad_ctx *ctx)
{
    const struct peer_state *st = ctx != NULL ? ctx->peer_state : NULL;
    return st != NULL ? &st->self : NULL;
}

/* Unauthenticated until the evidence verified: rate limited per peer, on the job pool. */
#define PEER_ROUTE_FLAGS (ARCAD_ROUTE_EXACT | ARCAD_ROUTE_RATE_LIMITED | ARCAD_ROUTE_OFFLOAD)

int arcad_peer_register_witness(struct arcad_router *r, struct arcad_ctx *ctx)
{
    ARCA_ENSURE_REF(r);
    ARCA_ENSURE_REF(ctx);
    ARCA_TRY(arcad_peer_new(ctx));
    struct peer_state *st = ctx->peer_state;
    ARCA_TRY(arcad_router_add(r, "POST", ARCA_PEER_HELLO_ROUTE, PEER_ROUTE_FLAGS, "peer_hello",
                              h_hello, st));
    if (ctx->witness_held != NULL)
        ARCA_TRY(arcad_router_add(r, "POST", ARCA_WITNESS_PEER_ROUTE, PEER_ROUTE_FLAGS,
                                  "peer_witness", h_witness, st));
    return 0;
}

int arcad_peer_register(struct arcad_router *r, struct arcad_ctx *ctx)
{
    ARCA_TRY(arcad_peer_register_witness(r, ctx));
    ARCA_TRY(arcad_router_add(r, "POST", ARCA_PEER_EXPORT_ROUTE, PEER_ROUTE_FLAGS, "peer_export",
                              h_export, ctx->peer_state));
    /* Also on SQLite: a joiner pointed at such an arcad hears why (arca_store_share_get). */
    return arcad_router_add(r, "POST", ARCA_PEER_JOIN_ROUTE, PEER_ROUTE_FLAGS, "peer_join", h_join,
                            ctx->peer_state);
}

/* ---- the start-up server (main.c's start order) --------------------------------------------- */

struct arcad_peer_early {
    struct arcad_ctx ctx; /* main's identity, TLS and limits; its own routers, metrics, pool */
    pthread_t thread;
    atomic_bool done; /* arcad_serve returned (stopped by us, a signal, or a failure) */
    int rc;
    char why[ARCA_ERR_DETAIL_MAX];
};

static void h_starting(struct arcad_request *req, void *arg)
{
    (void)arg;
    arcad_reply_error(req, 503, "arcad is starting: waiting for its freshness witnesses");
}

static void *early_main(void *arg)
{
    struct arcad_peer_early *e = arg;
    e->rc = arcad_serve(&e->ctx);
    if (e->rc < 0)
        snprintf(e->why, sizeof(e->why), "%s", arca_err_detail());
    atomic_store(&e->done, true);
    return NULL;
}

static int early_catch_all(struct arcad_router *r)
{
    static const char *const methods[] = {"GET", "POST", "PUT", "DELETE"};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        ARCA_TRY(arcad_router_add(r, methods[i], "/", ARCAD_ROUTE_PREFIX | ARCAD_ROUTE_NO_CERT,
                                  "starting", h_starting, NULL));
    return 0;
}

static void early_free(struct arcad_peer_early *e)
{
    arcad_router_free(e->ctx.client_router);
    arcad_router_free(e->ctx.enclave_router);
    arcad_metrics_free(e->ctx.metrics);
    free(e);
}

int arcad_peer_early_start(struct arcad_ctx *ctx, struct arcad_peer_early **out)
{
    ARCA_ENSURE_REF(ctx);
    ARCA_ENSURE_REF(out);
    struct arcad_peer_early *e = calloc(1, sizeof(*e));
    ARCA_ENSURE(e != NULL, ARCA_ERR_ALLOC, "start-up server: out of memory");
    e->ctx.cfg = ctx->cfg;
    e->ctx.id = ctx->id;
    e->ctx.client_tls = ctx->client_tls;
    e->ctx.enclave_tls = ctx->enclave_tls;
    e->ctx.sim = ctx->sim;
    memcpy(e->ctx.measurement, ctx->measurement, sizeof(e->ctx.measurement));
    e->ctx.collateral = ctx->collateral;
    e->ctx.dcap_cache = ctx->dcap_cache;
    e->ctx.ratelimit = ctx->ratelimit;
    e->ctx.witness_held = ctx->witness_held;
    e->ctx.starting = true;
    e->ctx.metrics = arcad_metrics_new();
    e->ctx.client_router = arcad_router_new();
    e->ctx.enclave_router = arcad_router_new();
    int rc = 0;
    ARCA_GUARD_ENSURE(
        rc, e->ctx.metrics != NULL && e->ctx.client_router != NULL && e->ctx.enclave_router != NULL,
        fail, ARCA_ERR_ALLOC, "start-up server: out of memory");
    /* The handlers run on main's peer state (one nonce space for both servers) and see this
     * server's ctx in their requests, without store or audit log. */
    ARCA_GUARD(rc, arcad_peer_register_witness(e->ctx.enclave_router, ctx), fail);
    ARCA_GUARD(rc, early_catch_all(e->ctx.enclave_router), fail);
    ARCA_GUARD(rc, early_catch_all(e->ctx.client_router), fail);
    int pe = pthread_create(&e->thread, NULL, early_main, e);
    ARCA_GUARD_ENSURE(rc, pe == 0, fail, ARCA_ERR_INTERNAL, "start-up server: thread: %s",
                      strerror(pe));
    *out = e;
    return 0;
fail:
    early_free(e);
    return rc;
}

bool arcad_peer_early_done(struct arcad_peer_early *e, const char **why)
{
    if (e == NULL || !atomic_load(&e->done))
        return false;
    if (why != NULL)
        *why = e->rc < 0 ? e->why : "stopped by a signal";
    return true;
}

void arcad_peer_early_stop(struct arcad_peer_early *e)
{
    if (e == NULL)
        return;
    /* arcad_serve waits for SIGTERM with sigwait on its thread (blocked there and in main) */
    if (!atomic_load(&e->done))
        pthread_kill(e->thread, SIGTERM);
    pthread_join(e->thread, NULL);
    early_free(e);
}
