/*
 * The owner API (docs/api.md "Owner", docs/operator-lifecycle.md) as a thin adapter over
 * src/lib/owner/owner.h, which holds the rules (who is the owner, single-use token, guess
 * bounding, audit). Bodies are JSON objects parsed with duplicate keys refused.
 */
#include "api_owner.h"

#include <string.h>

#include "api/json.h"
#include "arcad_internal.h"
#include "base/enc.h"
#include "base/err.h"
#include "owner/owner.h"

#define MAX_OWNER_BODY (ARCA_OWNER_CONFIG_MAX_BYTES + 4096)

/* The client's key id into id, or NULL without a client certificate. */
static const uint8_t *caller_of(struct arcad_request *req, uint8_t id[32])
{
    return arcad_request_peer_key_id(req, id) ? id : NULL;
}

/* The body as a JSON object, or NULL after answering 400/413. */
static json_t *body_of(struct arcad_request *req)
{
    const uint8_t *p = NULL;
    size_t n = 0;
    arcad_request_body(req, &p, &n);
    if (n > MAX_OWNER_BODY) {
        arcad_reply_error(req, 413, "owner request larger than %d bytes", MAX_OWNER_BODY);
        return NULL;
    }
    json_t *j = NULL;
    int rc = arca_json_parse_object(p, n, "owner request", &j);
    if (rc < 0) {
        arcad_reply_err(req, rc);
        return NULL;
    }
    return j;
}

/* A required string field of j, or NULL after answering 400. */
static const char *field(struct arcad_request *req, json_t *j, const char *name, size_t *len)
{
    json_t *v = json_object_get(j, name);
    if (!json_is_string(v)) {
        arcad_reply_error(req, 400, "owner request: field '%s' (a string) is required", name);
        return NULL;
    }
    *len = json_string_length(v);
    return json_string_value(v);
}

/* Answers a failed configuration upload: the located errors, or the error detail. */
static void reply_config_error(struct arcad_request *req, int rc, bool invalid,
                               const struct arca_diag *d)
{
    if (!invalid) {
        arcad_reply_err(req, rc);
        return;
    }
    struct arca_buf all;
    arca_buf_init(&all, 64 * 1024);
    if (arca_diag_format(d, &all) < 0 || all.len == 0)
        arcad_reply_err(req, rc);
    else
        arcad_reply_error(
            req, rc == ARCA_ERR_TOO_LARGE ? 413 : 400, "%.*s",
            (int)(all.len > 0 && all.data[all.len - 1] == '\n' ? all.len - 1 : all.len),
            (const char *)all.data);
    arca_buf_free(&all);
}

static bool have_owner(struct arcad_request *req)
{
    if (req->ctx->owner != NULL)
        return true;
    arcad_reply_error(req, 503, "arcad runs without owner support");
    return false;
}

static void h_status(struct arcad_request *req, void *arg)
{
    (void)arg;
    if (!have_owner(req))
        return;
    json_t *j = arca_owner_status(req->ctx->owner);
    if (j == NULL)
        arcad_reply_error(req, 500, "out of memory");
    else
        arcad_reply_json(req, 200, j);
}

/* Uploads an owner configuration: with_token provisions (POST, 201), else replaces (PUT, 200). */
static void config_upload(struct arcad_request *req, bool with_token)
{
    uint8_t id[32];
    json_t *j;
    if (!have_owner(req) || (j = body_of(req)) == NULL)
        return;
    size_t tlen = 0, clen = 0;
    const char *token = with_token ? field(req, j, "token", &tlen) : "";
    const char *yaml = token != NULL ? field(req, j, "config", &clen) : NULL;
    if (yaml != NULL) {
        struct arca_diag d;
        arca_diag_init(&d);
        bool invalid = false;
        struct arca_owner *o = req->ctx->owner;
        int rc =
            with_token
                ? arca_owner_provision(o, caller_of(req, id), req->peer_net, sizeof(req->peer_net),
                                       token, tlen, yaml, clen, &d, &invalid)
                : arca_owner_config_set(o, caller_of(req, id), yaml, clen, &d, &invalid);
        if (rc == 0)
            arcad_reply_json(req, with_token ? 201 : 200, arca_owner_status(o));
        else
            reply_config_error(req, rc, invalid, &d);
        arca_diag_free(&d);
    }
    json_decref(j);
}

static void h_provision(struct arcad_request *req, void *arg)
{
    (void)arg;
    config_upload(req, true);
}

/* GET: the owner record (arg NULL) or the latest audit checkpoint. */
static void h_owner_get(struct arcad_request *req, void *arg)
{
    uint8_t id[32];
    json_t *rec = NULL;
    if (!have_owner(req))
        return;
    int rc = arg == NULL ? arca_owner_get(req->ctx->owner, caller_of(req, id), &rec)
                         : arca_owner_checkpoint(req->ctx->owner, caller_of(req, id), &rec);
    if (rc < 0)
        arcad_reply_err(req, rc);
    else
        arcad_reply_json(req, 200, rec);
}

static void h_config_put(struct arcad_request *req, void *arg)
{
    (void)arg;
    config_upload(req, false);
}

/* POST {"measurement": HEX64} or {"cas_key": HEX64}: registers a successor. */
static void h_register(struct arcad_request *req, void *arg)
{
    bool upgrade = arg != NULL;
    const char *name = upgrade ? "measurement" : "cas_key";
    uint8_t id[32], v[32];
    json_t *j;
    if (!have_owner(req) || (j = body_of(req)) == NULL)
        return;
    size_t len = 0;
    const char *hex = field(req, j, name, &len);
    if (hex != NULL && arca_hex_decode_fixed(v, 32, hex, len) < 0) {
        arcad_reply_error(req, 400, "owner request: '%s' must be 64 hex digits", name);
    } else if (hex != NULL) {
        int rc = upgrade ? arca_owner_register_upgrade(req->ctx->owner, caller_of(req, id), v)
                         : arca_owner_register_backup(req->ctx->owner, caller_of(req, id), v);
        if (rc < 0)
            arcad_reply_err(req, rc);
        else
            arcad_reply_json(req, 200, json_pack("{s:s, s:s}", name, hex, "status", "registered"));
    }
    json_decref(j);
}

static void h_rotate_key(struct arcad_request *req, void *arg)
{
    (void)arg;
    uint8_t id[32];
    uint64_t n = 0;
    if (!have_owner(req))
        return;
    int rc = arca_owner_rotate_key(req->ctx->owner, caller_of(req, id), &n);
    if (rc < 0)
        arcad_reply_err(req, rc);
    else
        arcad_reply_json(req, 200, json_pack("{s:I}", "records", (json_int_t)n));
}

static void h_snapshot(struct arcad_request *req, void *arg)
{
    (void)arg;
    uint8_t id[32];
    char path[4200];
    if (!have_owner(req))
        return;
    int rc = arca_owner_snapshot(req->ctx->owner, caller_of(req, id), path, sizeof(path));
    if (rc < 0)
        arcad_reply_err(req, rc);
    else
        arcad_reply_json(req, 200, json_pack("{s:s}", "path", path));
}

int arcad_owner_api_register(struct arcad_router *r, struct arcad_ctx *ctx)
{
    /* A non-NULL arg selects the second job of a handler that serves two routes. */
    static int second;
    ARCA_TRY(arcad_router_add(r, "GET", "/v1/owner", ARCAD_ROUTE_EXACT | ARCAD_ROUTE_NO_CERT,
                              "owner_status", h_status, ctx));
    /* Token guesses without a prior relationship: rate limited per peer like other strangers'
     * work, and bounded per address by the owner module's throttle. */
    ARCA_TRY(arcad_router_add(r, "POST", "/v1/owner/provision",
                              ARCAD_ROUTE_EXACT | ARCAD_ROUTE_RATE_LIMITED, "owner_provision",
                              h_provision, ctx));
    ARCA_TRY(arcad_router_add(r, "GET", "/v1/owner/config", ARCAD_ROUTE_EXACT, "owner_config",
                              h_owner_get, NULL));
    ARCA_TRY(arcad_router_add(r, "GET", "/v1/owner/audit-checkpoint", ARCAD_ROUTE_EXACT,
                              "owner_checkpoint", h_owner_get, &second));
    ARCA_TRY(arcad_router_add(r, "PUT", "/v1/owner/config", ARCAD_ROUTE_EXACT, "owner_config",
                              h_config_put, ctx));
    ARCA_TRY(arcad_router_add(r, "POST", "/v1/owner/upgrades", ARCAD_ROUTE_EXACT, "owner_register",
                              h_register, &second));
    ARCA_TRY(arcad_router_add(r, "POST", "/v1/owner/backups", ARCAD_ROUTE_EXACT, "owner_register",
                              h_register, NULL));
    /* Rewrites every record: on the job pool, not on an event loop. */
    ARCA_TRY(arcad_router_add(r, "POST", "/v1/owner/rotate-key",
                              ARCAD_ROUTE_EXACT | ARCAD_ROUTE_OFFLOAD, "owner_rotate_key",
                              h_rotate_key, ctx));
    ARCA_TRY(arcad_router_add(r, "POST", "/v1/owner/snapshot",
                              ARCAD_ROUTE_EXACT | ARCAD_ROUTE_OFFLOAD, "owner_snapshot", h_snapshot,
                              ctx));
    return 0;
}
