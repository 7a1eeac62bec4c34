/*
 * Challenge nonces (attest.h): stateless until used, single use afterwards.
 */
#include <string.h>

#include "attest/attest.h"
#include "base/err.h"
#include "base/log.h"
#include "crypto/crypto.h"
#include "store/store.h"

#define NONCE_NS "challenge"
#define NONCE_LABEL "arca-nonce-v1"

int arca_attest_ctx_init(struct arca_attest_ctx *ctx, int nonce_ttl)
{
    ARCA_ENSURE_REF(ctx);
    ARCA_ENSURE(nonce_ttl <= 3600, ARCA_ERR_INVALID_ARG, "nonce lifetime: at most 3600 s");
    ctx->nonce_ttl = nonce_ttl > 0 ? nonce_ttl : ARCA_ATTEST_NONCE_TTL_DEFAULT;
    return arca_random(ctx->nonce_key, sizeof(ctx->nonce_key));
}

void arca_attest_ctx_clear(struct arca_attest_ctx *ctx)
{
    if (ctx != NULL)
        arca_wipe(ctx->nonce_key, sizeof(ctx->nonce_key));
}

static int nonce_mac(const struct arca_attest_ctx *ctx, const uint8_t n[16], uint8_t mac[32])
{
    uint8_t msg[sizeof(NONCE_LABEL) - 1 + 16];
    memcpy(msg, NONCE_LABEL, sizeof(NONCE_LABEL) - 1);
    memcpy(msg + sizeof(NONCE_LABEL) - 1, n, 16);
    return arca_hmac(ARCA_SHA256, ctx->nonce_key, sizeof(ctx->nonce_key), msg, sizeof(msg), mac);
}

int arca_attest_challenge(const struct arca_attest_ctx *ctx, int64_t now,
                          struct arca_challenge_answer *out)
{
    ARCA_ENSURE_REF(ctx);
    ARCA_ENSURE_REF(out);
    uint8_t nonce[ARCA_LAUNCH_NONCE_LEN];
    uint64_t exp = (uint64_t)(now + ctx->nonce_ttl);
    for (int i = 7; i >= 0; i--) {
        nonce[i] = (uint8_t)(exp & 0xff);
        exp >>= 8;
    }
    ARCA_TRY(arca_random(nonce + 8, 8));
    uint8_t mac[32];
    ARCA_TRY(nonce_mac(ctx, nonce, mac));
    memcpy(nonce + 16, mac, 16);
    memcpy(out->nonce, nonce, sizeof(nonce));
    out->expires_in = ctx->nonce_ttl;
    return 0;
}

int arca_attest_nonce_check(const struct arca_attest_ctx *ctx,
                            const uint8_t nonce[ARCA_LAUNCH_NONCE_LEN], int64_t now,
                            int64_t *expires)
{
    ARCA_ENSURE_REF(ctx);
    ARCA_ENSURE_REF(nonce);
    uint8_t mac[32];
    ARCA_TRY(nonce_mac(ctx, nonce, mac));
    ARCA_ENSURE(arca_memeq(mac, nonce + 16, 16), ARCA_ERR_UNAUTHENTICATED,
                "nonce: not issued by this CAS (or before its last restart)");
    uint64_t exp = 0;
    for (int i = 0; i < 8; i++)
        exp = (exp << 8) | nonce[i];
    ARCA_ENSURE(exp <= (uint64_t)INT64_MAX && (int64_t)exp > now, ARCA_ERR_EXPIRED,
                "nonce: expired (older than %d s)", ctx->nonce_ttl);
    if (expires != NULL)
        *expires = (int64_t)exp;
    return 0;
}

int arca_attest_nonce_use(const struct arca_attest_ctx *ctx,
                          const uint8_t nonce[ARCA_LAUNCH_NONCE_LEN], int64_t now)
{
    ARCA_ENSURE(ctx != NULL && ctx->store != NULL, ARCA_ERR_INTERNAL, "no store");
    int64_t expires = 0;
    ARCA_TRY(arca_attest_nonce_check(ctx, nonce, now, &expires));
    int rc =
        arca_store_once_put(ctx->store, NONCE_NS, nonce, ARCA_LAUNCH_NONCE_LEN, expires, NULL, 0);
    if (rc == ARCA_ERR_REPLAY)
        rc = arca_err_set(rc, "nonce: used already (replayed attestation)");
    return rc;
}

void arca_attest_purge(const struct arca_attest_ctx *ctx, int64_t now)
{
    size_t n = 0;
    if (ctx == NULL || ctx->store == NULL)
        return;
    if (arca_store_once_purge(ctx->store, now, &n) < 0)
        arca_warn("attest", "purging expired single-use records: %s", arca_err_detail());
    else if (n > 0)
        arca_debug("attest", "purged %zu expired single-use records", n);
}
