/*
 * The owner API (docs/api.md "Owner", docs/operator-lifecycle.md) as a thin adapter over
 * src/lib/owner/owner.h, which holds the rules (who is the owner, single-use token, guess
 * bounding, audit). Bodies are JSON objects parsed with duplicate keys refused.
 */
#include "api_owner.h"

#include <string.h>

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/json.h"
#include "arcad_internal.h"
#include "attest/binding.h"
#include "audit/audit.h"
#include "base/enc.h"
#include "base/err.h"
#include "base/log.h"
#include "evidence/claims.h"
#include "evidence/sim.h"
#include "owner/backup.h"
#include "owner/owner.h"

#define SEK_BINDING "session-encryption-key:"

#define MAX_OWNER_BODY (ARCA_OWNER_CONFIG_MAX_BYTES + 4096)

/* The client's key id into id, or NULL without a client certificate. */
static const uint8_t *caller_of(struct arcad_request *req, uint8_t id[32])
{
    return arcad_request_peer_key_id(req, id) ? id : NULL;
}

/* A request's authority: its client key and the board approvals of body j (may be NULL):
 * "approvals": [{"key": "<signer SPKI PEM>", "sig": "<base64>"}] (owner/board.h). Holds a
 * reference to j and the decoded signatures until auth_free. */
struct auth {
    struct arca_owner_auth a;
    uint8_t id[32];
    struct arca_approval_sig sigs[ARCA_OWNER_MAX_BOARD];
    struct arca_buf raw[ARCA_OWNER_MAX_BOARD];
    size_t n;
    json_t *body; /* a reference: the keys' text lives in it */
};

static void auth_free(struct auth *x)
{
    for (size_t i = 0; i < x->n; i++)
        arca_buf_free(&x->raw[i]);
    x->n = 0;
    json_decref(x->body);
    x->body = NULL;
}

/* Fills x from req and j; false after answering 400. */
static bool auth_of(struct arcad_request *req, const json_t *j, struct auth *x)
{
    memset(x, 0, sizeof(*x));
    x->a.caller = arcad_request_peer_key_id(req, x->id) ? x->id : NULL;
    x->body = json_incref((json_t *)j);
    json_t *list = json_object_get(j, "approvals");
    if (list == NULL)
        return true;
    if (!json_is_array(list) || json_array_size(list) > ARCA_OWNER_MAX_BOARD) {
        auth_free(x);
        arcad_reply_error(req, 400, "owner request: 'approvals' must be a list of at most %d",
                          ARCA_OWNER_MAX_BOARD);
        return false;
    }
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        const char *key = json_string_value(json_object_get(e, "key"));
        const char *sig = json_string_value(json_object_get(e, "sig"));
        arca_buf_init(&x->raw[i], 1024);
        x->n = i + 1;
        if (key == NULL || sig == NULL || arca_base64_decode(&x->raw[i], sig, strlen(sig)) < 0) {
            auth_free(x);
            arcad_reply_error(
                req, 400, "owner request: approvals[%zu] needs 'key' (PEM) and 'sig' (base64)", i);
            return false;
        }
        x->sigs[i] = (struct arca_approval_sig){key, strlen(key), x->raw[i].data, x->raw[i].len};
    }
    x->a.sigs = x->sigs;
    x->a.n_sigs = x->n;
    return true;
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
        struct auth x;
        int rc = 0;
        if (with_token)
            rc = arca_owner_provision(o, caller_of(req, id), req->peer_net, sizeof(req->peer_net),
                                      token, tlen, yaml, clen, &d, &invalid);
        else if (!auth_of(req, j, &x))
            goto done;
        else
            rc = arca_owner_config_set(o, &x.a, yaml, clen, &d, &invalid);
        if (!with_token)
            auth_free(&x);
        if (rc == 0)
            arcad_reply_json(req, with_token ? 201 : 200, arca_owner_status(o));
        else
            reply_config_error(req, rc, invalid, &d);
    done:
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
    struct arca_owner_auth a = {.caller = caller_of(req, id)};
    int rc = arg == NULL ? arca_owner_get(req->ctx->owner, &a, &rec)
                         : arca_owner_checkpoint(req->ctx->owner, &a, &rec);
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

/* j's member name as exactly 32 bytes from hex (b64 false) or base64 into b; else a detail. */
static int member(const json_t *j, const char *name, bool b64, struct arca_buf *b)
{
    const char *v = json_string_value(json_object_get(j, name));
    int rc = v == NULL ? ARCA_ERR_FORMAT
             : b64     ? arca_base64_decode(b, v, strlen(v))
                       : arca_hex_decode(b, v, strlen(v));
    if (rc == 0 && !b64 && b->len != 32)
        rc = ARCA_ERR_FORMAT;
    return rc < 0 ? arca_err_set(ARCA_ERR_FORMAT,
                                 "register-backup: '%s' is missing or not %s (arca cas "
                                 "register-backup fetches it from the attested backup arcad)",
                                 name, b64 ? "base64" : "64 hex digits")
                  : 0;
}

/*
 * The backup arcad's answer to GET /v1/session_encryption_key?nonce=N, forwarded by the owner's
 * CLI together with N: its evidence must bind its session-encryption key to its CAS key (like
 * `arca cas show --session-encryption-key` checks). Simulated evidence only with
 * --allow-simulation.
 */
static int backup_target(const struct arcad_ctx *ctx, const json_t *j, struct arca_backup_target *t)
{
    struct arca_buf k, enc, ev, spki, nonce;
    arca_buf_init(&k, 64);
    arca_buf_init(&enc, 64);
    arca_buf_init(&ev, 64 * 1024);
    arca_buf_init(&spki, 4096);
    arca_buf_init(&nonce, 64);
    struct arca_claims c;
    memset(&c, 0, sizeof(c));
    uint8_t rd[64], kid[32];
    char label[sizeof(SEK_BINDING) + 64];
    const char *type = json_string_value(json_object_get(j, "evidence_type"));
    int rc;
    ARCA_GUARD(rc, member(j, "cas_key", false, &k), out);
    ARCA_GUARD(rc, member(j, "session_encryption_key", false, &enc), out);
    ARCA_GUARD(rc, member(j, "nonce", false, &nonce), out);
    ARCA_GUARD(rc, member(j, "evidence", true, &ev), out);
    ARCA_GUARD(rc, member(j, "spki", true, &spki), out);
    ARCA_GUARD_ENSURE(rc, type != NULL && strcmp(type, "sim") == 0, out, ARCA_ERR_UNSUPPORTED,
                      "register-backup: evidence type '%s' is not supported yet",
                      type != NULL ? type : "(none)");
    ARCA_GUARD_ENSURE(rc, ctx->cfg.allow_simulation, out, ARCA_ERR_INSECURE,
                      "register-backup: the backup arcad offers only INSECURE simulated "
                      "evidence and this arcad runs without --allow-simulation");
    ARCA_GUARD(rc, arca_sim_evidence_verify(ev.data, ev.len, &c), out);
    snprintf(label, sizeof(label), "%s%s", SEK_BINDING,
             json_string_value(json_object_get(j, "session_encryption_key")));
    ARCA_GUARD(rc, arca_launch_binding(spki.data, spki.len, nonce.data, label, rd), out);
    ARCA_GUARD_ENSURE(rc, arca_memeq(rd, c.report_data, 64), out, ARCA_ERR_POLICY,
                      "register-backup: the evidence does not bind the session-encryption key "
                      "to the backup's CAS key and nonce");
    ARCA_GUARD(rc, arca_sha256(spki.data, spki.len, kid), out);
    ARCA_GUARD_ENSURE(rc, arca_memeq(kid, k.data, 32), out, ARCA_ERR_POLICY,
                      "register-backup: the evidence is of another arcad than --cas-key");
    memcpy(t->cas_key, k.data, 32);
    memcpy(t->enc_key, enc.data, 32);
    memcpy(t->measurement, c.mrenclave, 32);
out:
    arca_buf_free(&k);
    arca_buf_free(&enc);
    arca_buf_free(&ev);
    arca_buf_free(&spki);
    arca_buf_free(&nonce);
    return rc;
}

/* POST {"measurement": HEX64}: registers an upgrade; POST the backup's attested key (above):
 * registers a backup. */
static void h_register(struct arcad_request *req, void *arg)
{
    bool upgrade = arg != NULL;
    const char *name = upgrade ? "measurement" : "cas_key";
    uint8_t v[32];
    struct auth x;
    json_t *j;
    if (!have_owner(req) || (j = body_of(req)) == NULL)
        return;
    size_t len = 0;
    const char *hex = field(req, j, name, &len);
    if (hex != NULL && arca_hex_decode_fixed(v, 32, hex, len) < 0) {
        arcad_reply_error(req, 400, "owner request: '%s' must be 64 hex digits", name);
    } else if (hex != NULL && auth_of(req, j, &x)) {
        struct arca_backup_target t;
        /* The owner first: a stranger learns nothing about what a backup request needs. */
        int rc = upgrade ? arca_owner_register_upgrade(req->ctx->owner, &x.a, v)
                         : arca_owner_check(req->ctx->owner, &x.a, "register-backup");
        if (rc == 0 && !upgrade)
            rc = backup_target(req->ctx, j, &t);
        if (rc == 0 && !upgrade)
            rc = arca_owner_register_backup(req->ctx->owner, &x.a, &t);
        auth_free(&x);
        if (rc < 0)
            arcad_reply_err(req, rc);
        else
            arcad_reply_json(req, 200, json_pack("{s:s, s:s}", name, hex, "status", "registered"));
    }
    json_decref(j);
}

/* POST {"cas_key": HEX64}: revokes a backup. */
static void h_revoke(struct arcad_request *req, void *arg)
{
    (void)arg;
    uint8_t v[32];
    struct auth x;
    json_t *j;
    if (!have_owner(req) || (j = body_of(req)) == NULL)
        return;
    size_t len = 0;
    const char *hex = field(req, j, "cas_key", &len);
    if (hex != NULL && arca_hex_decode_fixed(v, 32, hex, len) < 0) {
        arcad_reply_error(req, 400, "owner request: 'cas_key' must be 64 hex digits");
    } else if (hex != NULL && auth_of(req, j, &x)) {
        int rc = arca_owner_revoke_backup(req->ctx->owner, &x.a, v);
        auth_free(&x);
        if (rc < 0)
            arcad_reply_err(req, rc);
        else
            arcad_reply_json(req, 200,
                             json_pack("{s:s, s:s}", "cas_key", hex, "status", "revoked"));
    }
    json_decref(j);
}

/* The optional body of a request without arguments (board approvals): false after answering. */
static bool optional_auth(struct arcad_request *req, struct auth *x)
{
    const uint8_t *p = NULL;
    size_t n = 0;
    arcad_request_body(req, &p, &n);
    json_t *j = NULL;
    if (n > 0 && (j = body_of(req)) == NULL)
        return false;
    bool ok = auth_of(req, j, x);
    json_decref(j);
    return ok;
}

static void h_rotate_key(struct arcad_request *req, void *arg)
{
    (void)arg;
    uint64_t n = 0;
    struct auth x;
    if (!have_owner(req) || !optional_auth(req, &x))
        return;
    int rc = arca_owner_rotate_key(req->ctx->owner, &x.a, &n);
    auth_free(&x);
    if (rc < 0)
        arcad_reply_err(req, rc);
    else
        arcad_reply_json(req, 200, json_pack("{s:I}", "records", (json_int_t)n));
}

static void h_snapshot(struct arcad_request *req, void *arg)
{
    (void)arg;
    char path[4200];
    struct auth x;
    if (!have_owner(req) || !optional_auth(req, &x))
        return;
    int rc = arca_owner_snapshot(req->ctx->owner, &x.a, path, sizeof(path));
    auth_free(&x);
    if (rc < 0)
        arcad_reply_err(req, rc);
    else
        arcad_reply_json(req, 200, json_pack("{s:s}", "path", path));
}

/*
 * A refused restore is audited in the backup machine's own log (DATA_DIR/backup-machine/audit.log,
 * signed with that machine's identity key, verifiable with its CAS key): the snapshot's log is
 * signed with a key this machine was refused, and the snapshot itself is left untouched. A
 * failure to write the event is logged; the refusal stands either way. why is kept.
 */
static void backup_refused_event(const char *machine, struct arcad_identity *me, int why_rc)
{
    char why[ARCA_ERR_DETAIL_MAX], path[4300];
    snprintf(why, sizeof(why), "%s", arca_err_detail());
    snprintf(path, sizeof(path), "%s/audit.log", machine);
    struct arca_audit_options aopt = {.path = path, .key = me->key};
    struct arca_audit *a = NULL;
    json_t *f = json_pack("{s:s,s:s}", "cas_key", me->key_hex, "reason", why);
    if (f == NULL || arca_audit_open(&aopt, &a) < 0 ||
        arca_audit_append(a, "backup_refused", f, NULL) < 0)
        arca_warn("arcad", "backup refusal not audited in %s: %s", path, arca_err_detail());
    json_decref(f);
    arca_audit_close(a);
    arca_err_set(why_rc, "%s", why);
}

int arcad_owner_adopt_backup(const char *data_dir, const struct arca_store_sealer *own,
                             struct arca_seal_keys *keys, bool *adopted)
{
    ARCA_ENSURE(data_dir != NULL && own != NULL && keys != NULL && adopted != NULL,
                ARCA_ERR_INVALID_ARG, "backup: missing argument");
    *adopted = false;
    char machine[4200], probe[4300];
    int w = snprintf(machine, sizeof(machine), "%s/" ARCA_BACKUP_MACHINE_DIR, data_dir);
    ARCA_ENSURE(w > 0 && (size_t)w < sizeof(machine), ARCA_ERR_TOO_LARGE, "backup: path too long");
    snprintf(probe, sizeof(probe), "%s/identity/key.sealed", machine);
    if (access(probe, F_OK) != 0)
        return 0;
    struct arcad_identity me;
    struct arca_key *enc = NULL;
    int rc = arcad_identity_load_or_create(machine, own, &me, NULL);
    if (rc < 0)
        return arca_err_wrap(rc, "backup: this machine's identity in %s", machine);
    rc = arcad_session_key(me.key, &enc);
    if (rc == 0)
        rc = arca_backup_slot_read(data_dir, me.key_id, enc, keys);
    if (rc == ARCA_ERR_NOT_FOUND)
        rc = arca_err_set(ARCA_ERR_DENIED,
                          "this snapshot is of another arcad, and this machine (CAS key %s) is "
                          "not its registered backup: the owner attests this machine's arcad, "
                          "runs `arca cas register-backup --cas-key %s` on the running arcad and "
                          "takes a new snapshot to restore; nothing was changed",
                          me.key_hex, me.key_hex);
    if (rc == ARCA_ERR_DENIED || rc == ARCA_ERR_TAMPERED)
        backup_refused_event(machine, &me, rc);
    if (rc == 0) {
        *adopted = true;
        arca_info("arcad",
                  "opening a snapshot of another arcad through the backup slot of this "
                  "machine's CAS key %s",
                  me.key_hex);
    }
    arca_key_free(enc);
    arcad_identity_free(&me);
    return rc;
}

int arcad_owner_settings(struct arcad_ctx *ctx, const struct arca_owner_config *oc,
                         unsigned *checkpoint_every)
{
    ARCA_ENSURE(ctx != NULL && oc != NULL && checkpoint_every != NULL, ARCA_ERR_INVALID_ARG,
                "owner settings: missing argument");
    if (oc->audit_checkpoint_every > 0 && *checkpoint_every > 1) {
        *checkpoint_every = (unsigned)oc->audit_checkpoint_every;
        arca_info("arcad", "owner configuration: audit checkpoint every %u lines",
                  *checkpoint_every);
    }
    if (oc->pcs_url[0] != '\0' || oc->kds_url[0] != '\0') {
        char cdir[4200];
        snprintf(cdir, sizeof(cdir), "%s/collateral-cache", ctx->cfg.data_dir);
        if (mkdir(cdir, 0700) != 0 && errno != EEXIST)
            return arca_err_set(ARCA_ERR_IO, "%s: %s", cdir, strerror(errno));
    }
    /* The owner decides where collateral comes from; the operator's flags are the fallback. */
    if (oc->pcs_url[0] != '\0') {
        ctx->cfg.pcs_url = oc->pcs_url;
        arca_info("arcad", "owner configuration: collateral from %s (pcs-url)", oc->pcs_url);
    }
    if (oc->kds_url[0] != '\0') {
        ctx->cfg.kds_url = oc->kds_url;
        arca_info("arcad", "owner configuration: collateral from %s (kds-url)", oc->kds_url);
    }
    return 0;
}

bool arcad_owner_gate(struct arcad_request *req, const char *method, const char *route)
{
    const char *why = arca_owner_unmet(req->ctx->owner);
    if (why == NULL || strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
        return false;
    /* The owner must still get in to change what it requires; peers' own state is theirs; a
     * challenge changes nothing (the attestation that follows is refused). */
    if (strncmp(route, "owner_", 6) == 0 || strncmp(route, "peer_", 5) == 0 ||
        strcmp(route, "enclave_challenge") == 0)
        return false;
    arcad_reply_error(req, 503, "%s", why);
    return true;
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
    ARCA_TRY(arcad_router_add(r, "POST", "/v1/owner/backups/revoke", ARCAD_ROUTE_EXACT,
                              "owner_register", h_revoke, NULL));
    /* Rewrites every record: on the job pool, not on an event loop. */
    ARCA_TRY(arcad_router_add(r, "POST", "/v1/owner/rotate-key",
                              ARCAD_ROUTE_EXACT | ARCAD_ROUTE_OFFLOAD, "owner_rotate_key",
                              h_rotate_key, ctx));
    ARCA_TRY(arcad_router_add(r, "POST", "/v1/owner/snapshot",
                              ARCAD_ROUTE_EXACT | ARCAD_ROUTE_OFFLOAD, "owner_snapshot", h_snapshot,
                              ctx));
    return 0;
}
