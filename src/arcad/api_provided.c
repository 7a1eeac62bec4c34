/*
 * POST /v1/provided on the enclave listener (docs/session-language.md "provided_by"): an
 * attested instance of the service a secret names in provided_by uploads the secret's value.
 * The credential is the provide_token of its configuration, bound to the session and service
 * (attest/provided.c, which also says why no update approval is needed). The request is
 * bounded (ARCA_PROVIDED_VALUE_MAX), rate limited per peer like the attest route, offloaded
 * (it writes the store) and audited with names and the upload count, never the value.
 */
#include <stdio.h>
#include <string.h>

#include "api/attest_wire.h"
#include "attest/attest.h"
#include "attest/launch_config.h"
#include "audit/audit.h"
#include "base/err.h"
#include "base/log.h"
#include "cas/cas.h"
#include "enclave_api.h"
#include "policy/session.h"
#include "store/store.h"

#define AUDIT_SECRET_PROVIDED "secret_provided"

/* Loads the active policy of the uploader's session and applies the upload. */
static int apply(struct arcad_ctx *ctx, const struct arca_provided_upload *u,
                 struct arca_attest_target *t, uint64_t *seq)
{
    ARCA_TRY(arca_attest_target_parse(u->config_id, t));
    ARCA_ENSURE(!t->has_otp, ARCA_ERR_FORMAT, "config_id: no one-time password here");
    struct arca_store_session *rec = NULL;
    struct arca_session *model = NULL;
    int rc = arca_store_session_get_active(ctx->store, t->session, &rec);
    if (rc == ARCA_ERR_NOT_FOUND)
        rc = arca_err_set(rc, "unknown session %s", t->session);
    if (rc == 0)
        rc = arca_session_load(rec->yaml, rec->yaml_len, t->session, &model, NULL);
    if (rc == 0)
        rc = arca_provided_apply(ctx->store, model, t->session, t->service, u->secret, u->token,
                                 u->value.data, u->value.len, seq);
    arca_session_free(model);
    arca_store_session_free(rec);
    return rc;
}

static void h_provided(struct arcad_request *req, void *arg)
{
    (void)arg;
    struct arcad_ctx *ctx = arcad_request_ctx(req);
    json_t *body = NULL;
    struct arca_provided_upload u;
    memset(&u, 0, sizeof(u));
    struct arca_attest_target t;
    memset(&t, 0, sizeof(t));
    uint64_t seq = 0;
    int rc = arcad_request_json(req, &body);
    if (rc == 0)
        rc = arca_provided_upload_decode_json(body, &u);
    json_decref(body); /* holds the value: dropped (wiped by arcad's allocator) early */
    if (rc == 0)
        rc = apply(ctx, &u, &t, &seq);
    struct arca_cas cas = {.store = ctx->store, .audit = ctx->audit};
    if (rc == 0) {
        arca_info("enclave-api", "secret %s of session %s provided by %s (upload %llu)", u.secret,
                  t.session, t.service, (unsigned long long)seq);
        arca_cas_audit(&cas, AUDIT_SECRET_PROVIDED,
                       json_pack("{s:s, s:s, s:s, s:I, s:s}", "session", t.session, "service",
                                 t.service, "secret", u.secret, "upload", (json_int_t)seq,
                                 "outcome", "stored"));
        arcad_reply_json(req, 200, json_pack("{s:I}", "upload", (json_int_t)seq));
    } else {
        arca_info("enclave-api", "provided value refused: %s", arca_err_detail());
        arcad_reply_err(req, rc);
    }
    arca_provided_upload_free(&u);
}

int arcad_provided_api_register(struct arcad_router *r, struct arcad_ctx *ctx)
{
    ARCA_ENSURE_REF(r);
    ARCA_ENSURE_REF(ctx);
    return arcad_router_add(r, "POST", "/v1/provided",
                            ARCAD_ROUTE_EXACT | ARCAD_ROUTE_RATE_LIMITED | ARCAD_ROUTE_OFFLOAD,
                            "enclave_provided", h_provided, NULL);
}
