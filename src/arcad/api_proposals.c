/*
 * The proposal routes of the client API (docs/api.md "Proposals") as a thin adapter over
 * cas/cas_proposals.h:
 *   POST /v1/proposals                 body: the proposed session (YAML)       201
 *   GET  /v1/proposals?session=&state=open&pending=1&wait=SECONDS              200
 *   GET  /v1/proposals/ID                                                      200
 *   POST /v1/proposals/ID/approve      body: {"signer", "signature", "reason"} 200
 *   POST /v1/proposals/ID/reject       the same                                200
 * All need a client certificate and run on the job pool (YAML parsing, signature checks,
 * commits). A list with wait > 0 that finds nothing pending for the caller looks again once a
 * second for up to wait seconds (at most ARCA_PROP_WAIT_MAX), so a checker can long-poll; at
 * most a quarter of the job threads wait at once (others are answered at once), so waiting
 * checkers cannot starve uploads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/json.h"
#include "arcad_internal.h"
#include "base/err.h"
#include "cas/cas_proposals.h"
#include "policy/session.h"

static struct arca_cas_proposal_limits limits_of(const struct arcad_ctx *ctx)
{
    struct arca_cas_proposal_limits l = {.ttl_s = ctx->cfg.proposal_ttl_s,
                                         .max_open = ctx->cfg.max_proposals,
                                         .max_open_per_client = ctx->cfg.max_proposals_per_client};
    return l;
}

static void reply(struct arcad_request *req, int rc, int status, json_t *j)
{
    if (rc < 0)
        arcad_reply_err(req, rc);
    else if (j == NULL)
        arcad_reply_error(req, 500, "out of memory");
    else
        arcad_reply_json(req, status, j); /* takes j */
    if (rc < 0)
        json_decref(j);
}

static void h_submit(struct arcad_request *req, void *arg)
{
    (void)arg;
    struct arcad_ctx *ctx = req->ctx;
    struct arca_cas cas = arcad_cas_of(ctx);
    struct arca_cas_proposal_limits lim = limits_of(ctx);
    uint8_t id[32];
    const uint8_t *client = arcad_request_peer_key_id(req, id) ? id : NULL;
    if (!arcad_within_quota(req, client))
        return;
    struct arca_diag d;
    arca_diag_init(&d);
    json_t *j = NULL;
    bool invalid = false;
    int rc =
        arca_cas_proposal_submit(&cas, &lim, client, req->body, req->body_len, &d, &invalid, &j);
    if (rc < 0 && invalid)
        arcad_reply_diag(req, rc, &d);
    else
        reply(req, rc, 201, j);
    arca_diag_free(&d);
}

/* ?wait=SECONDS: absent 0, else 0..ARCA_PROP_WAIT_MAX. */
static int wait_of(const char *q, int *wait)
{
    *wait = 0;
    if (q == NULL)
        return 0;
    size_t len = strlen(q);
    int n = 0;
    bool ok = len >= 1 && len <= 3;
    for (size_t i = 0; ok && i < len; i++) {
        ok = q[i] >= '0' && q[i] <= '9';
        n = n * 10 + (q[i] - '0');
    }
    ARCA_ENSURE(ok && n <= ARCA_PROP_WAIT_MAX, ARCA_ERR_FORMAT,
                "query wait: expected seconds from 0 to %d", ARCA_PROP_WAIT_MAX);
    *wait = n;
    return 0;
}

static void h_list(struct arcad_request *req, void *arg)
{
    (void)arg;
    struct arcad_ctx *ctx = req->ctx;
    struct arca_cas cas = arcad_cas_of(ctx);
    uint8_t id[32];
    const uint8_t *client = arcad_request_peer_key_id(req, id) ? id : NULL;
    if (!arcad_within_quota(req, client))
        return;
    const char *state = arcad_request_query(req, "state");
    const char *pending = arcad_request_query(req, "pending");
    struct arca_cas_proposal_filter f = {.session = arcad_request_query(req, "session"),
                                         .open_only = state != NULL && strcmp(state, "open") == 0,
                                         .pending_only =
                                             pending != NULL && strcmp(pending, "1") == 0};
    int wait = 0, rc = wait_of(arcad_request_query(req, "wait"), &wait);
    if (rc == 0 && state != NULL && strcmp(state, "open") != 0 && strcmp(state, "all") != 0)
        rc = arca_err_set(ARCA_ERR_FORMAT, "query state: expected open or all");
    if (rc == 0 && f.session != NULL)
        rc = arca_session_name_check(f.session, strlen(f.session), true);
    json_t *j = NULL;
    if (rc == 0)
        rc = arca_cas_proposal_list(&cas, client, &f, &j);
    /* Only a pending list waits: an empty "all" list has nothing to wait for. */
    bool waiting = false;
    if (rc == 0 && wait > 0 && f.pending_only && ctx->pool != NULL) {
        int jobs = ctx->cfg.jobs > 0 ? ctx->cfg.jobs : 4;
        int cap = jobs / 4 > 0 ? jobs / 4 : 1;
        waiting = atomic_fetch_add(&ctx->proposal_waiters, 1) < cap;
        if (!waiting)
            atomic_fetch_sub(&ctx->proposal_waiters, 1);
    }
    for (int s = 0; rc == 0 && waiting && s < wait &&
                    json_array_size(json_object_get(j, ARCA_PROP_PROPOSALS)) == 0;
         s++) {
        sleep(1);
        json_decref(j);
        j = NULL;
        rc = arca_cas_proposal_list(&cas, client, &f, &j);
    }
    if (waiting)
        atomic_fetch_sub(&ctx->proposal_waiters, 1);
    reply(req, rc, 200, j);
}

/* ID or ID/approve, ID/reject from the path rest: the id into id (bounded), the action. */
static int split_rest(const char *rest, char id[ARCA_PROP_ID_MAX + 1], const char **action)
{
    const char *slash = strchr(rest, '/');
    size_t n = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
    ARCA_ENSURE(n >= 1 && n <= ARCA_PROP_ID_MAX, ARCA_ERR_NOT_FOUND, "no such proposal");
    memcpy(id, rest, n);
    id[n] = '\0';
    *action = slash != NULL ? slash + 1 : "";
    return 0;
}

/* GET /v1/proposals/ID (show) and POST /v1/proposals/ID/approve|reject (vote). */
static void h_one(struct arcad_request *req, void *arg)
{
    (void)arg;
    struct arca_cas cas = arcad_cas_of(req->ctx);
    uint8_t kid[32];
    const uint8_t *client = arcad_request_peer_key_id(req, kid) ? kid : NULL;
    if (!arcad_within_quota(req, client))
        return;
    char id[ARCA_PROP_ID_MAX + 1];
    const char *action = NULL;
    json_t *j = NULL, *holder = NULL;
    struct arca_buf sig;
    arca_buf_init(&sig, 4096);
    struct arca_cas_vote vote;
    bool get = strcmp(arcad_request_method(req), "GET") == 0;
    int rc = split_rest(arcad_request_path_rest(req), id, &action);
    bool approve = rc == 0 && strcmp(action, "approve") == 0;
    if (rc == 0 && (get ? action[0] != '\0' : !approve && strcmp(action, "reject") != 0))
        rc = arca_err_set(ARCA_ERR_NOT_FOUND,
                          "no such endpoint: %s %s (GET /v1/proposals/ID, POST "
                          "/v1/proposals/ID/approve or /reject)",
                          arcad_request_method(req), arcad_request_path(req));
    if (rc == 0 && get)
        rc = arca_cas_proposal_show(&cas, client, id, &j);
    else if (rc == 0)
        rc = arca_cas_vote_from_json(req->body, req->body_len, approve, &holder, &sig, &vote);
    if (rc == 0 && !get)
        rc = arca_cas_proposal_vote(&cas, client, id, &vote, &j);
    reply(req, rc, 200, j);
    json_decref(holder);
    arca_buf_free(&sig);
}

int arcad_proposals_register(struct arcad_router *r, struct arcad_ctx *ctx)
{
    int f = ARCAD_ROUTE_OFFLOAD;
    ARCA_TRY(arcad_router_add(r, "POST", "/v1/proposals", ARCAD_ROUTE_EXACT | f, "proposals_submit",
                              h_submit, ctx));
    ARCA_TRY(arcad_router_add(r, "GET", "/v1/proposals", ARCAD_ROUTE_EXACT | f, "proposals_list",
                              h_list, ctx));
    ARCA_TRY(arcad_router_add(r, "GET", "/v1/proposals/", ARCAD_ROUTE_PREFIX | f, "proposals_show",
                              h_one, ctx));
    ARCA_TRY(arcad_router_add(r, "POST", "/v1/proposals/", ARCAD_ROUTE_PREFIX | f, "proposals_vote",
                              h_one, ctx));
    return 0;
}
