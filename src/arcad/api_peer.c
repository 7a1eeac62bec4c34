/*
 * The peer routes of arcad (api_peer.h): thin adapters over src/lib/peer/ (the channel) and
 * src/lib/cas/cas_export.c (the export rule and the value). Refusals are audited by the cas
 * call (`secret_export`) or here (`peer_refused`) with their reason, never a value.
 */
#include "api_peer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/json.h"
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
#include "peer/import.h"
#include "peer/peer.h"
#include "reload.h"

struct peer_state {
    struct arcad_ctx *ctx;
    struct arca_attest_ctx nonces; /* our nonces for the callers' evidence */
    struct arca_attest_verify_cfg verify;
    struct arca_peer_self self;
    struct arca_peer_importer *importer;
    /* Refusals before the caller's evidence verified are audited at 5/s (bursts of 100) and
     * only logged beyond, so strangers cannot grow the audit log (as the enclave API does). */
    struct arca_ratelimit *anon_audit;
};

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

static void audit_refusal(struct peer_state *st, const char *route, const uint8_t *spki,
                          size_t spki_len)
{
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
    struct arca_cas cas = {.store = st->ctx->store, .audit = st->ctx->audit};
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
    int rc = arcad_request_json(req, &body);
    bool have = rc == 0 && peer_spki(req, &spki);
    if (rc == 0)
        rc = arca_peer_accept(&st->self, &st->nonces, have ? spki.data : NULL, spki.len,
                              ARCA_PEER_EXPORT_ROUTE, body, arca_time_now(), &who, &payload);
    if (rc == 0)
        rc = arca_peer_export_req_parse(payload, &q, hash);
    if (rc < 0) {
        audit_refusal(st, ARCA_PEER_EXPORT_ROUTE, have ? spki.data : NULL, spki.len);
    } else {
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

int arcad_peer_register(struct arcad_router *r, struct arcad_ctx *ctx)
{
    ARCA_ENSURE_REF(r);
    ARCA_ENSURE_REF(ctx);
    struct peer_state *st = calloc(1, sizeof(*st));
    ARCA_ENSURE(st != NULL, ARCA_ERR_ALLOC, "peer API: out of memory");
    st->ctx = ctx;
    int rc = arca_attest_ctx_init(&st->nonces, 0);
    if (rc < 0) {
        free(st);
        return rc;
    }
    st->nonces.store = ctx->store;
    st->verify.allow_simulation = ctx->cfg.allow_simulation;
    st->verify.sources.collateral = ctx->collateral;
    arcad_collateral_track(ctx->reloader, &st->verify.sources.collateral);
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
    /* Unauthenticated until the evidence verified: rate limited per peer, on the job pool. */
    int fl = ARCAD_ROUTE_EXACT | ARCAD_ROUTE_RATE_LIMITED | ARCAD_ROUTE_OFFLOAD;
    ARCA_GUARD(rc,
               arcad_router_add(r, "POST", ARCA_PEER_HELLO_ROUTE, fl, "peer_hello", h_hello, st),
               fail);
    ARCA_GUARD(rc,
               arcad_router_add(r, "POST", ARCA_PEER_EXPORT_ROUTE, fl, "peer_export", h_export, st),
               fail);
    ctx->peer_state = st;
    ctx->peer_state_free = state_free;
    ctx->remote_import = arca_peer_importer_remote(st->importer);
    return 0;
fail:
    state_free(st);
    return rc;
}
