/*
 * HMAC-SHA-1 and TOTP (totp.h) through OpenSSL 3's EVP_MAC.
 */
#include "crypto/totp.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "base/buf.h"
#include "base/err.h"

int arca_hmac_sha1(const void *key, size_t klen, const void *p, size_t n,
                   uint8_t out[ARCA_SHA1_LEN])
{
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(key != NULL || klen == 0, ARCA_ERR_INVALID_ARG, "hmac-sha1: key is NULL");
    ARCA_ENSURE(p != NULL || n == 0, ARCA_ERR_INVALID_ARG, "hmac-sha1: input is NULL");
    static const uint8_t empty[1];
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA1", 0);
    params[1] = OSSL_PARAM_construct_end();
    size_t outlen = 0;
    int rc = 0;
    if (ctx == NULL || EVP_MAC_init(ctx, klen ? key : empty, klen, params) != 1 ||
        EVP_MAC_update(ctx, n ? p : empty, n) != 1 ||
        EVP_MAC_final(ctx, out, &outlen, ARCA_SHA1_LEN) != 1 || outlen != ARCA_SHA1_LEN) {
        unsigned long e = ERR_get_error();
        ERR_clear_error();
        rc = arca_err_set(ARCA_ERR_CRYPTO, "hmac-sha1 failed: %s",
                          e ? ERR_reason_error_string(e) : "unknown");
    }
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return rc;
}

int arca_totp(const void *key, size_t klen, uint64_t t, unsigned digits, uint32_t *code)
{
    ARCA_ENSURE_REF(code);
    ARCA_ENSURE(digits >= 6 && digits <= 8, ARCA_ERR_INVALID_ARG, "totp: %u digits", digits);
    uint8_t msg[8], mac[ARCA_SHA1_LEN];
    for (int i = 7; i >= 0; i--) {
        msg[i] = (uint8_t)(t & 0xff);
        t >>= 8;
    }
    ARCA_TRY(arca_hmac_sha1(key, klen, msg, sizeof(msg), mac));
    unsigned off = mac[ARCA_SHA1_LEN - 1] & 0x0f;
    uint32_t bin = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
                   ((uint32_t)mac[off + 2] << 8) | (uint32_t)mac[off + 3];
    uint32_t mod = 1;
    for (unsigned i = 0; i < digits; i++)
        mod *= 10;
    *code = bin % mod;
    arca_wipe(mac, sizeof(mac));
    return 0;
}
