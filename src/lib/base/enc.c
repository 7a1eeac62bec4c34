/*
 * RFC 4648 encodings (hex, base64, base64url, base32). Base58Check needs SHA-256 and therefore
 * lives in the crypto module (src/lib/crypto/crypto_b58.c): base/ links no crypto library.
 *
 * Decoders write straight into reserved space of the output buffer and only commit the length
 * when the whole input was valid; on failure the scratch bytes are wiped (the input may have
 * been an encoded secret) and the buffer is left as it was.
 */
#include "base/enc.h"

#include <string.h>

#include "base/err.h"

static const char hex_digits[] = "0123456789abcdef";
static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char b32_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/* Makes sure len never overflows the size arithmetic of an encoder. */
#define ENC_MAX_INPUT (SIZE_MAX / 4)

static void fail_wipe(struct arca_buf *out, size_t n)
{
    if (n > 0 && out->data != NULL)
        arca_wipe(out->data + out->len, n);
    if (out->data != NULL)
        out->data[out->len] = 0;
}

static void commit(struct arca_buf *out, size_t n)
{
    out->len += n;
    out->data[out->len] = 0;
}

/* ---- hex ---------------------------------------------------------------------------------- */

static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void arca_hex_fmt(char *out, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex_digits[b[i] >> 4];
        out[2 * i + 1] = hex_digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

int arca_hex_encode(struct arca_buf *out, const void *p, size_t n)
{
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(p != NULL || n == 0, ARCA_ERR_INVALID_ARG, "hex encode: input is NULL");
    ARCA_ENSURE(n <= ENC_MAX_INPUT, ARCA_ERR_TOO_LARGE, "hex encode: input too large");
    ARCA_TRY(arca_buf_reserve(out, 2 * n));
    arca_hex_fmt((char *)out->data + out->len, p, n);
    commit(out, 2 * n);
    return 0;
}

/* Decodes len hex digits (len even) into dst; returns 0 or ARCA_ERR_FORMAT. */
static int hex_decode_into(uint8_t *dst, const char *s, size_t len)
{
    if (len % 2 != 0)
        return arca_err_set(ARCA_ERR_FORMAT, "hex: odd length %zu", len);
    for (size_t i = 0; i < len; i += 2) {
        int hi = hex_val(s[i]);
        int lo = hex_val(s[i + 1]);
        if (hi < 0 || lo < 0)
            return arca_err_set(ARCA_ERR_FORMAT, "hex: invalid character at offset %zu",
                                hi < 0 ? i : i + 1);
        dst[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

int arca_hex_decode(struct arca_buf *out, const char *s, size_t len)
{
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(s != NULL || len == 0, ARCA_ERR_INVALID_ARG, "hex decode: input is NULL");
    if (len % 2 != 0)
        return arca_err_set(ARCA_ERR_FORMAT, "hex: odd length %zu", len);
    ARCA_TRY(arca_buf_reserve(out, len / 2));
    int rc = hex_decode_into(out->data + out->len, s, len);
    if (rc < 0) {
        fail_wipe(out, len / 2);
        return rc;
    }
    commit(out, len / 2);
    return 0;
}

int arca_hex_decode_fixed(uint8_t *out, size_t n, const char *s, size_t len)
{
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(s != NULL || len == 0, ARCA_ERR_INVALID_ARG, "hex decode: input is NULL");
    ARCA_ENSURE(n <= ENC_MAX_INPUT && len == 2 * n, ARCA_ERR_FORMAT,
                "hex: expected %zu hex digits (%zu bytes), got %zu", 2 * n, n, len);
    /* Decode into a scratch copy so out is untouched on failure. */
    uint8_t scratch[256];
    if (n <= sizeof(scratch)) {
        int rc = hex_decode_into(scratch, s, len);
        if (rc == 0)
            memcpy(out, scratch, n);
        arca_wipe(scratch, n);
        return rc;
    }
    for (size_t i = 0; i < len; i++)
        if (hex_val(s[i]) < 0)
            return arca_err_set(ARCA_ERR_FORMAT, "hex: invalid character at offset %zu", i);
    return hex_decode_into(out, s, len);
}

/* ---- base64 ------------------------------------------------------------------------------- */

static int b64_encode(struct arca_buf *out, const void *p, size_t n, const char *alpha, bool pad)
{
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(p != NULL || n == 0, ARCA_ERR_INVALID_ARG, "base64 encode: input is NULL");
    ARCA_ENSURE(n <= ENC_MAX_INPUT, ARCA_ERR_TOO_LARGE, "base64 encode: input too large");
    size_t full = (n + 2) / 3 * 4;
    ARCA_TRY(arca_buf_reserve(out, full));
    const uint8_t *b = p;
    char *d = (char *)out->data + out->len;
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)b[i] << 16 | (uint32_t)b[i + 1] << 8 | b[i + 2];
        d[o++] = alpha[v >> 18];
        d[o++] = alpha[(v >> 12) & 63];
        d[o++] = alpha[(v >> 6) & 63];
        d[o++] = alpha[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)b[i] << 16;
        d[o++] = alpha[v >> 18];
        d[o++] = alpha[(v >> 12) & 63];
        if (pad) {
            d[o++] = '=';
            d[o++] = '=';
        }
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)b[i] << 16 | (uint32_t)b[i + 1] << 8;
        d[o++] = alpha[v >> 18];
        d[o++] = alpha[(v >> 12) & 63];
        d[o++] = alpha[(v >> 6) & 63];
        if (pad)
            d[o++] = '=';
    }
    commit(out, o);
    return 0;
}

static int b64_val(char c, bool url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    if (c == (url ? '_' : '/'))
        return 63;
    return -1;
}

static int b64_decode(struct arca_buf *out, const char *s, size_t len, bool url)
{
    const char *name = url ? "base64url" : "base64";
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(s != NULL || len == 0, ARCA_ERR_INVALID_ARG, "%s decode: input is NULL", name);
    size_t data_len = len;
    if (!url) {
        if (len % 4 != 0)
            return arca_err_set(ARCA_ERR_FORMAT, "%s: length %zu is not a multiple of 4", name,
                                len);
        if (len > 0 && s[len - 1] == '=')
            data_len--;
        if (len > 1 && s[len - 2] == '=')
            data_len--;
    }
    if (data_len % 4 == 1)
        return arca_err_set(ARCA_ERR_FORMAT, "%s: impossible length %zu", name, data_len);
    size_t outn = data_len / 4 * 3 + (data_len % 4 ? data_len % 4 - 1 : 0);
    ARCA_TRY(arca_buf_reserve(out, outn));
    uint8_t *d = out->data + out->len;
    size_t o = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < data_len; i++) {
        int v = b64_val(s[i], url);
        if (v < 0) {
            fail_wipe(out, o);
            return arca_err_set(ARCA_ERR_FORMAT, "%s: invalid character at offset %zu%s", name, i,
                                s[i] == '=' ? " (misplaced padding)" : "");
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            d[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* RFC 4648 §3.5: the unused low bits of the last character must be zero. */
    if (acc != 0) {
        fail_wipe(out, o);
        return arca_err_set(ARCA_ERR_FORMAT, "%s: non-zero trailing bits at offset %zu", name,
                            data_len - 1);
    }
    commit(out, o);
    return 0;
}

int arca_base64_encode(struct arca_buf *out, const void *p, size_t n)
{
    return b64_encode(out, p, n, b64_std, true);
}

int arca_base64_decode(struct arca_buf *out, const char *s, size_t len)
{
    return b64_decode(out, s, len, false);
}

int arca_base64url_encode(struct arca_buf *out, const void *p, size_t n)
{
    return b64_encode(out, p, n, b64_url, false);
}

int arca_base64url_decode(struct arca_buf *out, const char *s, size_t len)
{
    return b64_decode(out, s, len, true);
}

/* ---- base32 ------------------------------------------------------------------------------- */

int arca_base32_encode(struct arca_buf *out, const void *p, size_t n, bool pad)
{
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(p != NULL || n == 0, ARCA_ERR_INVALID_ARG, "base32 encode: input is NULL");
    ARCA_ENSURE(n <= ENC_MAX_INPUT, ARCA_ERR_TOO_LARGE, "base32 encode: input too large");
    size_t full = (n + 4) / 5 * 8;
    ARCA_TRY(arca_buf_reserve(out, full));
    const uint8_t *b = p;
    char *d = (char *)out->data + out->len;
    size_t o = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | b[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            d[o++] = b32_alpha[(acc >> bits) & 31];
        }
        acc &= (1u << bits) - 1;
    }
    if (bits > 0)
        d[o++] = b32_alpha[(acc << (5 - bits)) & 31];
    if (pad)
        while (o % 8 != 0)
            d[o++] = '=';
    commit(out, o);
    return 0;
}

static int b32_val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a';
    if (c >= '2' && c <= '7')
        return c - '2' + 26;
    return -1;
}

int arca_base32_decode(struct arca_buf *out, const char *s, size_t len)
{
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(s != NULL || len == 0, ARCA_ERR_INVALID_ARG, "base32 decode: input is NULL");
    size_t data_len = len;
    while (data_len > 0 && s[data_len - 1] == '=')
        data_len--;
    if (data_len < len) {
        /* Padding present: the whole must be a multiple of 8 characters with the exact
         * number of '=' that the final group needs. */
        if (len % 8 != 0)
            return arca_err_set(ARCA_ERR_FORMAT, "base32: padded length %zu is not a multiple of 8",
                                len);
        if (len - data_len >= 8)
            return arca_err_set(ARCA_ERR_FORMAT, "base32: too much padding at offset %zu",
                                data_len);
    }
    /* Valid lengths of the last group: 0, 2, 4, 5, 7 characters. */
    size_t rem = data_len % 8;
    if (rem == 1 || rem == 3 || rem == 6)
        return arca_err_set(ARCA_ERR_FORMAT, "base32: impossible length %zu", data_len);
    size_t outn = data_len * 5 / 8;
    ARCA_TRY(arca_buf_reserve(out, outn));
    uint8_t *d = out->data + out->len;
    size_t o = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < data_len; i++) {
        int v = b32_val(s[i]);
        if (v < 0) {
            fail_wipe(out, o);
            return arca_err_set(ARCA_ERR_FORMAT, "base32: invalid character at offset %zu%s", i,
                                s[i] == '=' ? " (misplaced padding)" : "");
        }
        acc = (acc << 5) | (uint32_t)v;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            d[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) {
        fail_wipe(out, o);
        return arca_err_set(ARCA_ERR_FORMAT, "base32: non-zero trailing bits at offset %zu",
                            data_len - 1);
    }
    commit(out, o);
    return 0;
}
