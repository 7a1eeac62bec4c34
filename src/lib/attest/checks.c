/*
 * The checks after appraisal (attest.h): platforms, the service access token and the one-time
 * password. Errors name what was expected, never a secret value.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/attest.h"
#include "base/enc.h"
#include "base/err.h"
#include "crypto/crypto.h"
#include "crypto/totp.h"
#include "evidence/claims.h"
#include "policy/placeholder.h"
#include "secrets/secrets.h"
#include "store/store.h"

#define OTP_STEP 30

int arca_attest_check_platforms(const struct arca_service *svc, const struct arca_claims *c,
                                struct arca_secret_set *set)
{
    ARCA_ENSURE_REF(svc);
    ARCA_ENSURE_REF(c);
    if (svc->n_platforms == 0)
        return 0;
    uint8_t id[32];
    if (c->platform_id_len == 32)
        memcpy(id, c->platform_id, 32);
    else
        ARCA_TRY(arca_sha256(c->platform_id, c->platform_id_len, id));
    bool qe_ids = false;
    for (size_t i = 0; i < svc->n_platforms; i++) {
        const struct arca_platform_ref *p = &svc->platforms[i];
        uint8_t want[32];
        if (p->intel_qe_id) {
            /* The claims name a platform by key or FMSPC, never by Intel QE ID (yet). */
            qe_ids = true;
            continue;
        }
        if (p->literal) {
            memcpy(want, p->key, 32);
        } else {
            /* "$$SCONE::name$$": a binary secret of 32 bytes, or its hex. */
            struct arca_secret_value *v = arca_secret_set_get(set, p->secret.s, p->secret.len);
            size_t n = 0;
            const uint8_t *b = v ? arca_secret_value_bytes(v, &n) : NULL;
            if (b == NULL)
                continue;
            if (n == 32)
                memcpy(want, b, 32);
            else if (arca_hex_decode_fixed(want, 32, (const char *)b, n) < 0)
                continue;
        }
        bool same = arca_memeq(want, id, 32);
        arca_wipe(want, sizeof(want)); /* may be a secret's bytes */
        if (same)
            return 0;
    }
    char hex[65];
    arca_hex_fmt(hex, id, 32);
    ARCA_BAIL(ARCA_ERR_POLICY, "platform %s is not listed in services[%s].platforms%s", hex,
              svc->name.s,
              qe_ids ? " (its INTEL_QE_ID entries match no evidence arca verifies: none names an "
                       "Intel QE ID)"
                     : "");
}

int arca_attest_check_access_token(const struct arca_session *s, struct arca_secret_set *set,
                                   const char *token)
{
    ARCA_ENSURE_REF(s);
    const struct arca_str *t = &s->security.service_access_token;
    if (t->s == NULL)
        return 0;
    ARCA_ENSURE(token != NULL, ARCA_ERR_UNAUTHENTICATED,
                "the session requires a service access token and none was sent "
                "(ARCA_SERVICE_ACCESS_TOKEN)");
    /* The token as the session means it: placeholders name secrets, their text is no token. */
    struct arca_buf text;
    arca_buf_init_secret(&text, 4096);
    int rc = arca_placeholder_expand(t->s, t->len, arca_secret_set_render, set, false, &text);
    if (rc < 0) {
        arca_buf_free(&text);
        return arca_err_wrap(rc, "security.service_access_token");
    }
    /* Compare digests so that neither the contents nor the length leak through timing. */
    uint8_t got[ARCA_SHA256_LEN], want[ARCA_SHA256_LEN];
    rc = arca_sha256(token, strlen(token), got);
    if (rc == 0)
        rc = arca_sha256(text.data, text.len, want);
    arca_buf_free(&text);
    bool same = rc == 0 && arca_memeq(got, want, sizeof(got));
    arca_wipe(got, sizeof(got));
    arca_wipe(want, sizeof(want));
    if (rc < 0)
        return rc;
    ARCA_ENSURE(same, ARCA_ERR_UNAUTHENTICATED,
                "the service access token does not match the session's");
    return 0;
}

/* The OTP secret (service-level overrides session-level): base32 text, or a placeholder. */
static int otp_key(const struct arca_session *s, const struct arca_service *svc,
                   struct arca_secret_set *set, struct arca_buf *key)
{
    const struct arca_str *src = svc->otp_secret.s ? &svc->otp_secret : &s->security.otp_secret;
    if (src->s == NULL)
        return 0;
    struct arca_buf text;
    arca_buf_init_secret(&text, 4096);
    int rc = arca_placeholder_expand(src->s, src->len, arca_secret_set_render, set, false, &text);
    if (rc == 0)
        rc = arca_base32_decode(key, (const char *)text.data, text.len);
    arca_buf_free(&text);
    if (rc < 0)
        return arca_err_wrap(rc, "services[%s]: one_time_password_shared_secret", svc->name.s);
    ARCA_ENSURE(key->len >= 16, ARCA_ERR_POLICY,
                "services[%s]: one_time_password_shared_secret shorter than 128 bits", svc->name.s);
    return 0;
}

int arca_attest_check_otp(const struct arca_attest_ctx *ctx, const struct arca_session *s,
                          const struct arca_service *svc, struct arca_secret_set *set,
                          const struct arca_attest_target *t, int64_t now)
{
    struct arca_buf key;
    arca_buf_init_secret(&key, 1024);
    int rc = otp_key(s, svc, set, &key);
    if (rc < 0 || key.len == 0)
        goto out;
    ARCA_GUARD_ENSURE(rc, t->has_otp, out, ARCA_ERR_UNAUTHENTICATED,
                      "services[%s] requires a one-time password: use %s/%s@CODE", svc->name.s,
                      t->session, t->service);
    uint32_t got = (uint32_t)strtoul(t->otp, NULL, 10);
    bool ok = false;
    /* The current step and one either side, for clock skew between host and arcad. */
    for (int d = -1; d <= 1; d++) {
        uint32_t code = 0;
        ARCA_GUARD(rc,
                   arca_totp(key.data, key.len, (uint64_t)(now / OTP_STEP + d),
                             ARCA_ATTEST_OTP_DIGITS, &code),
                   out);
        ok |= code == got;
        arca_wipe(&code, sizeof(code));
    }
    ARCA_GUARD_ENSURE(rc, ok, out, ARCA_ERR_UNAUTHENTICATED,
                      "the one-time password is not valid now");
    char ns[ARCA_SESSION_NAME_MAX + ARCA_SESSION_COMPONENT_MAX + 8];
    snprintf(ns, sizeof(ns), "otp:%s/%s", t->session, t->service);
    rc = arca_store_once_put(ctx->store, ns, t->otp, strlen(t->otp), now + 3 * OTP_STEP + OTP_STEP,
                             NULL, 0);
    if (rc == ARCA_ERR_REPLAY)
        rc = arca_err_set(ARCA_ERR_REPLAY, "the one-time password was used already");
out:
    arca_buf_free(&key);
    return rc;
}
