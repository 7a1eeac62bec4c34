/*
 * POST /v1/volumes/tag on the enclave listener (docs/volumes.md "Freshness"): an attested
 * arca-run reports the root tag of a volume version it wrote. The credential is the
 * volume_token of its configuration, bound to the session and service (attest/volume_state.c);
 * the rules (ephemeral refused, rollback_protected only from the latest version) and the
 * ordering of writers (compare-and-set in one store transaction) are the library's. The
 * request is small and bounded, rate limited per peer like the attest route, and offloaded
 * (it writes the store).
 */
#include <stdio.h>
#include <string.h>

#include "api/attest_wire.h"
#include "attest/attest.h"
#include "attest/launch_config.h"
#include "base/enc.h"
#include "base/err.h"
#include "base/log.h"
#include "enclave_api.h"
#include "policy/session.h"
#include "store/store.h"

/* Loads the active policy of session and applies the report. */
static int apply(struct arcad_ctx *ctx, const struct arca_volume_report *r, uint64_t *seq)
{
    struct arca_attest_target t;
    ARCA_TRY(arca_attest_target_parse(r->config_id, &t));
    ARCA_ENSURE(!t.has_otp, ARCA_ERR_FORMAT, "config_id: no one-time password here");
    struct arca_store_session *rec = NULL;
    struct arca_session *model = NULL;
    int rc = arca_store_session_get_active(ctx->store, t.session, &rec);
    if (rc == ARCA_ERR_NOT_FOUND)
        rc = arca_err_set(rc, "unknown session %s", t.session);
    if (rc == 0)
        rc = arca_session_load(rec->yaml, rec->yaml_len, t.session, &model, NULL);
    if (rc == 0)
        rc = arca_volume_report_apply(ctx->store, model, t.session, t.service, r->volume, r->token,
                                      r->has_old_tag ? r->old_tag : NULL, r->tag, seq);
    arca_session_free(model);
    arca_store_session_free(rec);
    return rc;
}

static void h_volume_tag(struct arcad_request *req, void *arg)
{
    (void)arg;
    struct arcad_ctx *ctx = arcad_request_ctx(req);
    json_t *body = NULL;
    struct arca_volume_report r;
    memset(&r, 0, sizeof(r));
    uint64_t seq = 0;
    int rc = arcad_request_json(req, &body);
    if (rc == 0)
        rc = arca_volume_report_decode_json(body, &r);
    if (rc == 0)
        rc = apply(ctx, &r, &seq);
    if (rc == 0) {
        char hex[33];
        arca_hex_fmt(hex, r.tag, 16);
        arca_info("enclave-api", "volume %s of %s: new tag %s (version %llu)", r.volume,
                  r.config_id, hex, (unsigned long long)seq);
        arcad_reply_json(req, 200, json_pack("{s:I}", "seq", (json_int_t)seq));
    } else {
        arca_info("enclave-api", "volume report refused: %s", arca_err_detail());
        arcad_reply_err(req, rc);
    }
    arca_volume_report_free(&r);
    json_decref(body);
}

int arcad_volume_api_register(struct arcad_router *r, struct arcad_ctx *ctx)
{
    ARCA_ENSURE_REF(r);
    ARCA_ENSURE_REF(ctx);
    return arcad_router_add(r, "POST", "/v1/volumes/tag",
                            ARCAD_ROUTE_EXACT | ARCAD_ROUTE_RATE_LIMITED | ARCAD_ROUTE_OFFLOAD,
                            "enclave_volume_tag", h_volume_tag, NULL);
}
