/*
 * Base58Check (crypto.h). It is a crypto function rather than a base/ encoding because its
 * checksum is a double SHA-256 and base/ links no crypto library.
 *
 * Base58 is a base conversion (quadratic in the input size), so both directions refuse inputs
 * beyond B58_MAX_PAYLOAD bytes; arca only encodes key hashes of a few dozen bytes.
 */
#include <string.h>

#include "base/err.h"
#include "crypto/crypto.h"

#define B58_MAX_PAYLOAD 1024
#define B58_MAX_TEXT (B58_MAX_PAYLOAD * 2)

static const char b58_alpha[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

static int b58_val(char c)
{
    const char *p = c != '\0' ? strchr(b58_alpha, c) : NULL;
    return p != NULL ? (int)(p - b58_alpha) : -1;
}

static int checksum(const uint8_t *p, size_t n, uint8_t out[4])
{
    uint8_t h1[ARCA_SHA256_LEN], h2[ARCA_SHA256_LEN];
    ARCA_TRY(arca_sha256(p, n, h1));
    ARCA_TRY(arca_sha256(h1, sizeof(h1), h2));
    memcpy(out, h2, 4);
    return 0;
}

int arca_base58check_encode(struct arca_buf *out, uint8_t version, const void *p, size_t n)
{
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(p != NULL || n == 0, ARCA_ERR_INVALID_ARG, "base58check: input is NULL");
    ARCA_ENSURE(n <= B58_MAX_PAYLOAD, ARCA_ERR_TOO_LARGE,
                "base58check: payload of %zu bytes exceeds %d", n, B58_MAX_PAYLOAD);
    uint8_t raw[1 + B58_MAX_PAYLOAD + 4];
    size_t rn = 1 + n + 4;
    raw[0] = version;
    if (n > 0)
        memcpy(raw + 1, p, n);
    ARCA_TRY(checksum(raw, 1 + n, raw + 1 + n));

    /* Repeated division of the big-endian number by 58; digits come out least significant
     * first. 138/100 > log(256)/log(58) bounds the number of digits. */
    uint8_t digits[(1 + B58_MAX_PAYLOAD + 4) * 138 / 100 + 1];
    size_t nd = 0;
    size_t zeros = 0;
    while (zeros < rn && raw[zeros] == 0)
        zeros++;
    for (size_t i = zeros; i < rn; i++) {
        unsigned carry = raw[i];
        for (size_t j = 0; j < nd; j++) {
            carry += (unsigned)digits[j] << 8;
            digits[j] = (uint8_t)(carry % 58);
            carry /= 58;
        }
        while (carry > 0) {
            digits[nd++] = (uint8_t)(carry % 58);
            carry /= 58;
        }
    }
    ARCA_TRY(arca_buf_reserve(out, zeros + nd));
    char *d = (char *)out->data + out->len;
    size_t o = 0;
    for (size_t i = 0; i < zeros; i++)
        d[o++] = '1';
    for (size_t i = nd; i > 0; i--)
        d[o++] = b58_alpha[digits[i - 1]];
    out->len += o;
    out->data[out->len] = 0;
    return 0;
}

int arca_base58check_decode(struct arca_buf *out, uint8_t *version, const char *s, size_t len)
{
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE_REF(version);
    ARCA_ENSURE(s != NULL || len == 0, ARCA_ERR_INVALID_ARG, "base58check: input is NULL");
    ARCA_ENSURE(len <= B58_MAX_TEXT, ARCA_ERR_TOO_LARGE, "base58check: %zu characters exceed %d",
                len, B58_MAX_TEXT);
    uint8_t bytes[B58_MAX_TEXT];
    size_t nb = 0;
    size_t zeros = 0;
    while (zeros < len && s[zeros] == '1')
        zeros++;
    for (size_t i = zeros; i < len; i++) {
        int v = b58_val(s[i]);
        if (v < 0)
            return arca_err_set(ARCA_ERR_FORMAT, "base58check: invalid character at offset %zu", i);
        /* bytes holds the number little-endian; multiply by 58 and add v. */
        unsigned carry = (unsigned)v;
        for (size_t j = 0; j < nb; j++) {
            carry += (unsigned)bytes[j] * 58;
            bytes[j] = (uint8_t)carry;
            carry >>= 8;
        }
        while (carry > 0) {
            bytes[nb++] = (uint8_t)carry;
            carry >>= 8;
        }
    }
    size_t total = zeros + nb;
    if (total < 5)
        return arca_err_set(ARCA_ERR_FORMAT,
                            "base58check: %zu bytes decoded, need version and checksum", total);
    if (total - 5 > B58_MAX_PAYLOAD)
        return arca_err_set(ARCA_ERR_TOO_LARGE, "base58check: payload too large");
    uint8_t raw[B58_MAX_TEXT + 1];
    memset(raw, 0, zeros);
    for (size_t i = 0; i < nb; i++)
        raw[zeros + i] = bytes[nb - 1 - i];
    uint8_t sum[4];
    ARCA_TRY(checksum(raw, total - 4, sum));
    if (!arca_memeq(sum, raw + total - 4, 4))
        return arca_err_set(ARCA_ERR_FORMAT, "base58check: checksum mismatch");
    ARCA_TRY(arca_buf_put(out, raw + 1, total - 5));
    *version = raw[0];
    return 0;
}
