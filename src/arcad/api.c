/*
 * The client API (docs/api.md): sessions (create, update, read, list, history), public values,
 * arcad's own attestation, version and health.
 *
 * Access decisions are always taken against the *active* version of a session (or of the
 * parent namespace session for creates), never against the uploaded one, so an update cannot
 * grant itself rights. Reads return YAML through arca_api_session_redact and never secret
 * values; public values come only from secrets marked export_public.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/binding.h"
#include "api/redact.h"
#include "arcad_internal.h"
#include "audit/audit.h"
#include "base/enc.h"
#include "base/err.h"
#include "base/log.h"
#include "base/time.h"
#include "evidence/sim.h"
#include "govern/access.h"
#include "policy/session.h"
#include "secrets/secrets.h"
#include "secrets/session_specs.h"
#include "store/store.h"

#define HISTORY_MAX 10000

static void hexstr(char out[65], const uint8_t in[32])
{
    arca_hex_fmt(out, in, 32);
}

static void audit_event(struct arcad_ctx *ctx, const char *event, json_t *fields)
{
    if (ctx->audit != NULL && arca_audit_append(ctx->audit, event, fields, NULL) < 0)
        arca_error("arcad", "audit: cannot record %s: %s", event, arca_err_detail());
    json_decref(fields);
}

static void audit_denied(struct arcad_request *req, const char *op, const char *name)
{
    char kid[65] = "";
    uint8_t id[32];
    if (arcad_request_peer_key_id(req, id))
        hexstr(kid, id);
    audit_event(req->ctx, ARCA_AUDIT_ACCESS_DENIED,
                json_pack("{s:s, s:s, s:s}", "operation", op, "session", name, "client", kid));
}

/* Loads a stored version's model (stored YAML was validated when it was committed). */
static int load_model(const struct arca_store_session *rec, struct arca_session **out)
{
    struct arca_diag d;
    arca_diag_init(&d);
    int rc = arca_session_load(rec->yaml, rec->yaml_len, rec->name, out, &d);
    arca_diag_free(&d);
    if (rc < 0)
        return arca_err_set(ARCA_ERR_INTERNAL, "stored session '%s' no longer loads", rec->name);
    return 0;
}

/* Evaluates op of the policy in model (creator = stored creator) for the request's client. */
static int check_access(struct arcad_request *req, const struct arca_session *model,
                        const uint8_t creator[32], enum arca_access_op op, bool *allowed)
{
    uint8_t kid[32];
    bool have = arcad_request_peer_key_id(req, kid);
    struct arca_access_subject subj = {.client_key_id = have ? kid : NULL,
                                       .creator_key_id = creator};
    return arca_access_check(arca_access_rule(&model->access, op), &subj, allowed);
}

/*
 * Decides op on stored version rec for the request's client, against rec's own policy. When not
 * allowed or on error, replies (403 with the audit event, else the error) and returns false;
 * `what` completes "not allowed to ..." (e.g. "update 'a/b'").
 */
static bool require_access(struct arcad_request *req, const struct arca_store_session *rec,
                           enum arca_access_op op, const char *what)
{
    struct arca_session *model = NULL;
    bool allowed = false;
    int rc = load_model(rec, &model);
    if (rc == 0)
        rc = check_access(req, model, rec->creator, op, &allowed);
    arca_session_free(model);
    if (rc < 0) {
        arcad_reply_err(req, rc);
        return false;
    }
    if (!allowed) {
        audit_denied(req, arca_access_op_name(op), rec->name);
        arcad_reply_error(req, 403,
                          "not allowed to %s (its access_policy.%s does not list your key)", what,
                          arca_access_op_name(op));
    }
    return allowed;
}

/* ---- secrets ------------------------------------------------------------------------------ */

/* Generates (create) or migrates (update, old_hash given) the session's secrets and appends
 * their serialisation to blob (a secret buffer). */
static int secrets_for(struct arcad_ctx *ctx, const struct arca_session *s, const uint8_t *old_hash,
                       struct arca_buf *blob)
{
    int rc = 0;
    struct arca_secret_set *old = NULL, *set = NULL;
    if (s->n_secrets == 0)
        return 0;
    if (old_hash != NULL) {
        struct arca_buf ob;
        arca_buf_init_secret(&ob, 0);
        rc = arca_store_secrets_get(ctx->store, old_hash, &ob);
        if (rc == 0)
            rc = arca_secret_set_decode(ob.data, ob.len, &old);
        else if (rc == ARCA_ERR_NOT_FOUND)
            rc = 0;
        arca_buf_free(&ob);
        if (rc < 0)
            return rc;
    }
    ARCA_GUARD(rc, arca_secret_set_new(&set), out);
    ARCA_GUARD(rc, arca_secrets_generate_for_session(s, old, arca_time_now(), set), out);
    ARCA_GUARD(rc, arca_secret_set_encode(set, blob), out);
out:
    arca_secret_set_free(set);
    arca_secret_set_free(old);
    return rc;
}

/* ---- POST /v1/sessions -------------------------------------------------------------------- */

static void reply_diag(struct arcad_request *req, int rc, const struct arca_diag *d)
{
    json_t *msgs = json_array();
    struct arca_buf line;
    arca_buf_init(&line, 4096);
    for (size_t i = 0; i < d->n && i < 50; i++) {
        arca_buf_reset(&line);
        if (arca_diag_entry_format(&d->v[i], &line) == 0)
            json_array_append_new(msgs, json_string(arca_buf_cstr(&line)));
    }
    arca_buf_free(&line);
    if (json_array_size(msgs) == 0)
        json_array_append_new(
            msgs, json_string(arca_err_detail()[0] ? arca_err_detail() : "invalid session"));
    int status = rc == ARCA_ERR_TOO_LARGE ? 413 : 400;
    arcad_reply_json(req, status, json_pack("{s:o}", "msg", msgs));
}

static void h_session_upload(struct arcad_request *req, void *arg)
{
    struct arcad_ctx *ctx = req->ctx;
    struct arca_session *s = NULL;
    char what[1400];
    struct arca_store_session *active = NULL, *parent = NULL;
    char *parent_name = NULL;
    struct arca_buf blob;
    arca_buf_init_secret(&blob, 0);
    struct arca_diag d;
    arca_diag_init(&d);
    uint8_t client[32];
    int rc = 0;
    if (!arcad_request_peer_key_id(req, client)) {
        arcad_reply_error(req, 401, "uploading a session needs a client certificate");
        goto out;
    }
    if (req->body_len == 0) {
        arcad_reply_error(req, 400, "request body: empty, expected a session in YAML");
        goto out;
    }
    rc = arca_session_load((const char *)req->body, req->body_len, "<upload>", &s, &d);
    if (rc < 0) {
        reply_diag(req, rc, &d);
        goto out;
    }
    const char *name = s->name.s;
    rc = arca_store_session_get_active(ctx->store, name, &active);
    if (rc < 0 && rc != ARCA_ERR_NOT_FOUND) {
        arcad_reply_err(req, rc);
        goto out;
    }
    const uint8_t *creator = client;
    if (!s->has_predecessor) {
        if (active != NULL) {
            char h[65];
            hexstr(h, active->hash);
            arcad_reply_error(req, 409,
                              "session '%s' exists (active version %s); to change it, upload "
                              "with `predecessor: %s` (arca session update does that)",
                              name, h, h);
            goto out;
        }
        parent_name = arca_session_parent_name(s);
        if (parent_name != NULL) {
            rc = arca_store_session_get_active(ctx->store, parent_name, &parent);
            if (rc == ARCA_ERR_NOT_FOUND) {
                arcad_reply_error(req, 404,
                                  "cannot create '%s': its namespace session '%s' does not exist",
                                  name, parent_name);
                goto out;
            }
            if (rc < 0) {
                arcad_reply_err(req, rc);
                goto out;
            }
            snprintf(what, sizeof(what), "create sessions in namespace '%s'", parent_name);
            if (!require_access(req, parent, ARCA_ACCESS_CREATE_SESSIONS, what))
                goto out;
        }
    } else {
        if (active == NULL) {
            arcad_reply_error(req, 404,
                              "cannot update '%s': no such session (remove `predecessor` to "
                              "create it)",
                              name);
            goto out;
        }
        if (!arca_memeq(active->hash, s->predecessor, 32)) {
            char h[65], p[65];
            hexstr(h, active->hash);
            hexstr(p, s->predecessor);
            arcad_reply_error(req, 409,
                              "predecessor %s is not the active version of '%s' (%s); read it "
                              "again and retry",
                              p, name, h);
            goto out;
        }
        snprintf(what, sizeof(what), "update '%s'", name);
        if (!require_access(req, active, ARCA_ACCESS_UPDATE, what))
            goto out;
        creator = active->creator;
    }

    struct arca_store_session rec;
    memset(&rec, 0, sizeof(rec));
    rec.name = (char *)name;
    rec.version = active != NULL ? active->version + 1 : 1;
    rec.has_predecessor = s->has_predecessor;
    if (s->has_predecessor)
        memcpy(rec.predecessor, s->predecessor, 32);
    memcpy(rec.creator, creator, 32);
    rec.created_at = arca_time_now();
    rec.yaml = (char *)req->body;
    rec.yaml_len = req->body_len;
    if ((rc = arca_session_hash(s, creator, rec.hash)) < 0 ||
        (rc = secrets_for(ctx, s, s->has_predecessor ? s->predecessor : NULL, &blob)) < 0) {
        arcad_reply_err(req, rc);
        goto out;
    }
    /* The store keeps the YAML as a C string. */
    char *yaml = strndup((const char *)req->body, req->body_len);
    if (yaml == NULL) {
        arcad_reply_error(req, 500, "out of memory");
        goto out;
    }
    rec.yaml = yaml;
    rc = arca_store_session_commit(ctx->store, &rec, blob.len ? blob.data : NULL, blob.len);
    free(yaml);
    if (rc < 0) {
        if (rc == ARCA_ERR_EXISTS && s->has_predecessor)
            arca_err_set(rc, "this exact version of '%s' is stored already", name);
        arcad_reply_err(req, rc);
        goto out;
    }
    char h[65], c[65];
    hexstr(h, rec.hash);
    hexstr(c, creator);
    atomic_fetch_add_explicit(s->has_predecessor ? &ctx->metrics->sessions_updated
                                                 : &ctx->metrics->sessions_created,
                              1, memory_order_relaxed);
    json_t *fields = json_pack("{s:s, s:s, s:I, s:s}", "session", name, "hash", h, "version",
                               (json_int_t)rec.version, "client", c);
    if (s->has_predecessor) {
        char p[65];
        hexstr(p, rec.predecessor);
        json_object_set_new(fields, "predecessor", json_string(p));
    }
    audit_event(ctx, s->has_predecessor ? ARCA_AUDIT_SESSION_UPDATED : ARCA_AUDIT_SESSION_CREATED,
                fields);
    arca_info("arcad", "session %s: %s version %llu (%s)",
              s->has_predecessor ? "updated" : "created", name, (unsigned long long)rec.version, h);
    arcad_reply_json(req, s->has_predecessor ? 200 : 201,
                     json_pack("{s:s, s:s, s:I, s:s}", "name", name, "hash", h, "version",
                               (json_int_t)rec.version, "creator", c));
out:
    arca_diag_free(&d);
    arca_buf_free(&blob);
    arca_session_free(s);
    arca_store_session_free(active);
    arca_store_session_free(parent);
    free(parent_name);
}

/* ---- GET /v1/sessions/NAME ---------------------------------------------------------------- */

/* Loads the active version of name and checks op for the client; answers on failure. */
static bool authorize_active(struct arcad_request *req, const char *name, enum arca_access_op op,
                             struct arca_store_session **active_out)
{
    struct arcad_ctx *ctx = req->ctx;
    struct arca_store_session *active = NULL;
    int rc = arca_session_name_check(name, strlen(name), true);
    if (rc < 0) {
        arcad_reply_err(req, rc);
        return false;
    }
    rc = arca_store_session_get_active(ctx->store, name, &active);
    if (rc == ARCA_ERR_NOT_FOUND) {
        arcad_reply_error(req, 404, "Session not found: '%s'", name);
        return false;
    }
    if (rc < 0) {
        arcad_reply_err(req, rc);
        return false;
    }
    char what[1200];
    snprintf(what, sizeof(what), "%s session '%s'",
             op == ARCA_ACCESS_READ ? "read" : arca_access_op_name(op), name);
    if (!require_access(req, active, op, what)) {
        arca_store_session_free(active);
        return false;
    }
    *active_out = active;
    return true;
}

static json_t *version_json(const struct arca_store_session *rec, bool with_yaml)
{
    char h[65], c[65], p[65] = "";
    char t[ARCA_TIME_RFC3339_LEN];
    hexstr(h, rec->hash);
    hexstr(c, rec->creator);
    if (rec->has_predecessor)
        hexstr(p, rec->predecessor);
    arca_time_format_rfc3339(rec->created_at, t);
    json_t *j = json_pack("{s:s, s:s, s:I, s:s, s:s}", "name", rec->name, "hash", h, "version",
                          (json_int_t)rec->version, "creator", c, "created_at", t);
    if (j == NULL)
        return NULL;
    json_object_set_new(j, "predecessor", rec->has_predecessor ? json_string(p) : json_null());
    if (with_yaml) {
        struct arca_buf y;
        arca_buf_init(&y, 0);
        if (arca_api_session_redact(rec->yaml, rec->yaml_len, &y) == 0)
            json_object_set_new(j, "session", json_stringn((const char *)y.data, y.len));
        else
            json_object_set_new(j, "session", json_null());
        arca_buf_free(&y);
    }
    return j;
}

static void h_session_read(struct arcad_request *req, void *arg)
{
    struct arcad_ctx *ctx = req->ctx;
    const char *name = arcad_request_path_rest(req);
    const char *hash_hex = arcad_request_query(req, "hash");
    struct arca_store_session *active = NULL, *rec = NULL;
    if (!authorize_active(req, name, ARCA_ACCESS_READ, &active))
        return;
    if (hash_hex != NULL) {
        uint8_t h[32];
        int rc = arca_hex_decode_fixed(h, 32, hash_hex, strlen(hash_hex));
        if (rc < 0) {
            arcad_reply_error(req, 400, "query hash: expected 64 hex digits");
            goto out;
        }
        rc = arca_store_session_get(ctx->store, h, &rec);
        if (rc == 0 && strcmp(rec->name, name) != 0)
            rc = ARCA_ERR_NOT_FOUND;
        if (rc == ARCA_ERR_NOT_FOUND) {
            arcad_reply_error(req, 404, "Session not found: '%s' has no version %s", name,
                              hash_hex);
            goto out;
        }
        if (rc < 0) {
            arcad_reply_err(req, rc);
            goto out;
        }
    }
    const struct arca_store_session *show = rec != NULL ? rec : active;
    char h[65], c[65] = "";
    hexstr(h, show->hash);
    uint8_t kid[32];
    if (arcad_request_peer_key_id(req, kid))
        hexstr(c, kid);
    audit_event(ctx, ARCA_AUDIT_SESSION_READ,
                json_pack("{s:s, s:s, s:s}", "session", name, "hash", h, "client", c));
    json_t *j = version_json(show, true);
    if (j != NULL)
        json_object_set_new(j, "active", json_boolean(show == active));
    arcad_reply_json(req, 200, j);
out:
    arca_store_session_free(active);
    arca_store_session_free(rec);
}

/* GET /v1/history/NAME: the versions from the active one back to the first. */
static void h_session_history(struct arcad_request *req, void *arg)
{
    struct arcad_ctx *ctx = req->ctx;
    const char *name = arcad_request_path_rest(req);
    struct arca_store_session *active = NULL;
    if (!authorize_active(req, name, ARCA_ACCESS_READ, &active))
        return;
    json_t *versions = json_array();
    json_array_append_new(versions, version_json(active, false));
    bool more = active->has_predecessor;
    uint8_t next[32];
    memcpy(next, active->predecessor, 32);
    int rc = 0;
    for (size_t i = 0; more && i < HISTORY_MAX; i++) {
        struct arca_store_session *rec = NULL;
        rc = arca_store_session_get(ctx->store, next, &rec);
        if (rc < 0)
            break;
        json_array_append_new(versions, version_json(rec, false));
        more = rec->has_predecessor;
        memcpy(next, rec->predecessor, 32);
        arca_store_session_free(rec);
    }
    arca_store_session_free(active);
    if (rc < 0) {
        json_decref(versions);
        arcad_reply_err(req, rc);
        return;
    }
    arcad_reply_json(req, 200, json_pack("{s:s, s:o}", "name", name, "versions", versions));
}

/* GET /v1/sessions?prefix=P: sessions whose list_sessions rule admits the client. */
static void h_session_list(struct arcad_request *req, void *arg)
{
    struct arcad_ctx *ctx = req->ctx;
    const char *prefix = arcad_request_query(req, "prefix");
    struct arca_store_active *list = NULL;
    size_t n = 0;
    int rc = arca_store_active_list(ctx->store, prefix != NULL ? prefix : "", &list, &n);
    if (rc < 0) {
        arcad_reply_err(req, rc);
        return;
    }
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++) {
        struct arca_store_session *rec = NULL;
        struct arca_session *model = NULL;
        bool allowed = false;
        if (arca_store_session_get(ctx->store, list[i].hash, &rec) == 0 &&
            load_model(rec, &model) == 0 &&
            check_access(req, model, rec->creator, ARCA_ACCESS_LIST_SESSIONS, &allowed) == 0 &&
            allowed) {
            char h[65];
            hexstr(h, rec->hash);
            json_array_append_new(out, json_pack("{s:s, s:s, s:I}", "name", rec->name, "hash", h,
                                                 "version", (json_int_t)rec->version));
        }
        arca_err_clear();
        arca_session_free(model);
        arca_store_session_free(rec);
    }
    arca_store_active_list_free(list, n);
    arcad_reply_json(req, 200, json_pack("{s:o}", "sessions", out));
}

/* ---- GET /v1/values/session=NAME[,secret=S] ----------------------------------------------- */

static json_t *public_value_json(const struct arca_secret *d, const struct arca_secret_value *v)
{
    struct arca_buf b;
    arca_buf_init(&b, 0);
    const char *kind = arca_secret_kind_name(d->kind);
    const char *format = NULL;
    switch (d->kind) {
    case ARCA_SECRET_ASCII:
        format = "plain";
        kind = "string";
        break;
    case ARCA_SECRET_BINARY:
        format = "hex";
        break;
    case ARCA_SECRET_X509:
    case ARCA_SECRET_X509_CA:
        format = "crt:pem";
        break;
    case ARCA_SECRET_PRIVATE_KEY: {
        /* export_public of a private key publishes only its public key. */
        struct arca_key *k = arca_secret_value_key(v);
        if (k == NULL || arca_key_public_pem(k, &b) < 0)
            goto fail;
        kind = "public-key";
        break;
    }
    default:
        goto fail;
    }
    if (format != NULL && arca_secret_value_render(v, format, &b) < 0)
        goto fail;
    json_t *j = json_pack("{s:s, s:s%, s:n, s:n}", "kind", kind, "value", (const char *)b.data,
                          b.len, "expires", "renew");
    arca_buf_free(&b);
    return j;
fail:
    arca_buf_free(&b);
    return NULL;
}

static void h_values(struct arcad_request *req, void *arg)
{
    struct arcad_ctx *ctx = req->ctx;
    const char *rest = arcad_request_path_rest(req);
    char name[ARCA_SESSION_NAME_MAX + 1] = "", secret[ARCA_SESSION_COMPONENT_MAX + 1] = "";
    const char *p = rest;
    if (strncmp(p, "session=", 8) != 0) {
        arcad_reply_error(req, 400, "expected /v1/values/session=NAME[,secret=NAME]");
        return;
    }
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
    struct arca_store_session *active = NULL;
    struct arca_session *model = NULL;
    struct arca_secret_set *set = NULL;
    struct arca_buf blob;
    arca_buf_init_secret(&blob, 0);
    json_t *values = NULL;
    int rc = arca_session_name_check(name, nl, true);
    if (rc == 0)
        rc = arca_store_session_get_active(ctx->store, name, &active);
    if (rc == 0)
        rc = load_model(active, &model);
    if (rc == 0) {
        rc = arca_store_secrets_get(ctx->store, active->hash, &blob);
        if (rc == 0)
            rc = arca_secret_set_decode(blob.data, blob.len, &set);
        else if (rc == ARCA_ERR_NOT_FOUND)
            rc = 0;
    }
    if (rc < 0 && rc != ARCA_ERR_NOT_FOUND) {
        arcad_reply_err(req, rc);
        goto out;
    }
    values = json_object();
    for (size_t i = 0; rc == 0 && model != NULL && i < model->n_secrets; i++) {
        const struct arca_secret *d = &model->secrets[i];
        if (!d->export_public || (secret[0] && strcmp(secret, d->name.s) != 0))
            continue;
        struct arca_secret_value *v =
            set != NULL ? arca_secret_set_get(set, d->name.s, d->name.len) : NULL;
        json_t *j = v != NULL ? public_value_json(d, v) : NULL;
        if (j != NULL)
            json_object_set_new(values, d->name.s, j);
    }
    if (secret[0]) {
        json_t *one = json_object_get(values, secret);
        if (one == NULL) {
            arcad_reply_json(req, 404,
                             json_pack("{s:[s, s]}", "msg",
                                       "Failed to read value requested by "
                                       "a public client",
                                       "Secret does not exist or is not visible for a public "
                                       "client"));
        } else {
            arcad_reply_json(req, 200, json_incref(one));
        }
    } else if (rc == ARCA_ERR_NOT_FOUND) {
        arcad_reply_json(req, 404,
                         json_pack("{s:[s, s]}", "msg",
                                   "Failed to read values requested by a public client",
                                   "Session does not exist or has no public values"));
    } else {
        arcad_reply_json(req, 200, json_pack("{s:O}", "values", values));
    }
out:
    json_decref(values);
    arca_buf_free(&blob);
    arca_secret_set_free(set);
    arca_session_free(model);
    arca_store_session_free(active);
}

/* ---- GET /v1/attest?nonce=HEX ------------------------------------------------------------- */

static void h_attest(struct arcad_request *req, void *arg)
{
    struct arcad_ctx *ctx = req->ctx;
    const char *nonce_hex = arcad_request_query(req, "nonce");
    uint8_t nonce[ARCA_LAUNCH_NONCE_LEN], rd[64];
    if (nonce_hex == NULL ||
        arca_hex_decode_fixed(nonce, sizeof(nonce), nonce_hex, strlen(nonce_hex)) < 0) {
        arcad_reply_error(req, 400, "query nonce: expected %d random bytes as %d hex digits",
                          ARCA_LAUNCH_NONCE_LEN, 2 * ARCA_LAUNCH_NONCE_LEN);
        return;
    }
    if (ctx->sim == NULL) {
        arcad_reply_error(req, 503, "arcad has no evidence provider");
        return;
    }
    struct arca_buf spki, ev, ev64, chain;
    arca_buf_init(&spki, 0);
    arca_buf_init(&ev, 0);
    arca_buf_init(&ev64, 0);
    arca_buf_init(&chain, 0);
    int rc = 0;
    ARCA_GUARD(rc, arca_key_spki_der(ctx->id.key, &spki), out);
    ARCA_GUARD(rc, arca_launch_binding(spki.data, spki.len, nonce, "", rd), out);
    ARCA_GUARD(rc, arca_sim_evidence_make(ctx->sim, ctx->measurement, rd, &ev), out);
    ARCA_GUARD(rc, arca_base64_encode(&ev64, ev.data, ev.len), out);
    ARCA_GUARD(rc, arca_x509_to_pem(ctx->id.cert, &chain), out);
    ARCA_GUARD(rc, arca_x509_to_pem(ctx->id.ca, &chain), out);
    struct arca_buf spki64;
    arca_buf_init(&spki64, 0);
    ARCA_GUARD(rc, arca_base64_encode(&spki64, spki.data, spki.len), out);
    char m[65];
    hexstr(m, ctx->measurement);
    json_t *j =
        json_pack("{s:s, s:b, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "type", "sim", "insecure",
                  1, "warning", "INSECURE simulated evidence: no TEE protects this arcad",
                  "evidence", arca_buf_cstr(&ev64), "nonce", nonce_hex, "cas_key", ctx->id.key_hex,
                  "cas_key_b58", ctx->id.key_b58, "spki", arca_buf_cstr(&spki64), "measurement", m,
                  "cert_chain", arca_buf_cstr(&chain));
    arca_buf_free(&spki64);
    if (j != NULL)
        json_object_set_new(j, "binding",
                            json_string("REPORTDATA = SHA-512(\"arca-attest-v1\" || SPKI || "
                                        "nonce)"));
    arcad_metrics_attestation(ctx->metrics, "ok");
    audit_event(ctx, ARCA_AUDIT_ATTESTATION,
                json_pack("{s:s, s:s, s:s}", "subject", "cas", "type", "sim", "outcome",
                          "evidence_served"));
    arcad_reply_json(req, 200, j);
out:
    if (rc < 0)
        arcad_reply_err(req, rc);
    arca_buf_free(&spki);
    arca_buf_free(&ev);
    arca_buf_free(&ev64);
    arca_buf_free(&chain);
}

/* ---- version, health ---------------------------------------------------------------------- */

static void h_version(struct arcad_request *req, void *arg)
{
    arcad_reply_json(req, 200,
                     json_pack("{s:s, s:s, s:s, s:b}", "name", "arcad", "version", ARCA_VERSION,
                               "cas_key", req->ctx->id.key_hex, "simulation",
                               req->ctx->cfg.allow_simulation));
}

static void h_healthz(struct arcad_request *req, void *arg)
{
    uint64_t commit = 0;
    uint8_t head[32];
    if (req->ctx->store != NULL && arca_store_state(req->ctx->store, &commit, head) < 0) {
        arcad_reply_err(req, ARCA_ERR_IO);
        return;
    }
    arcad_reply_json(req, 200,
                     json_pack("{s:s, s:I}", "status", "ok", "commit", (json_int_t)commit));
}

int arcad_api_register(struct arcad_router *r, struct arcad_ctx *ctx)
{
    ARCA_TRY(arcad_router_add(r, "POST", "/v1/sessions", ARCAD_ROUTE_EXACT, "sessions_upload",
                              h_session_upload, ctx));
    ARCA_TRY(arcad_router_add(r, "POST", "/session", ARCAD_ROUTE_EXACT, "sessions_upload",
                              h_session_upload, ctx));
    ARCA_TRY(arcad_router_add(r, "GET", "/v1/sessions", ARCAD_ROUTE_EXACT, "sessions_list",
                              h_session_list, ctx));
    ARCA_TRY(arcad_router_add(r, "GET", "/v1/sessions/", ARCAD_ROUTE_PREFIX, "sessions_read",
                              h_session_read, ctx));
    ARCA_TRY(arcad_router_add(r, "GET", "/v1/history/", ARCAD_ROUTE_PREFIX, "sessions_history",
                              h_session_history, ctx));
    ARCA_TRY(arcad_router_add(r, "GET", "/v1/values/", ARCAD_ROUTE_PREFIX | ARCAD_ROUTE_NO_CERT,
                              "values", h_values, ctx));
    ARCA_TRY(arcad_router_add(r, "GET", "/v1/attest", ARCAD_ROUTE_EXACT | ARCAD_ROUTE_NO_CERT,
                              "attest", h_attest, ctx));
    ARCA_TRY(arcad_router_add(r, "GET", "/v1/version", ARCAD_ROUTE_EXACT | ARCAD_ROUTE_NO_CERT,
                              "version", h_version, ctx));
    ARCA_TRY(arcad_router_add(r, "GET", "/healthz", ARCAD_ROUTE_EXACT | ARCAD_ROUTE_NO_CERT,
                              "healthz", h_healthz, ctx));
    return 0;
}
