/*
 * Fuzzes the strict RFC 4648 decoders (hex, base64, base64url, base32). Properties: a decoder
 * either fails leaving the output untouched, or succeeds and re-encoding gives back the
 * canonical form of the input (same text for base64/base64url/hex modulo case, same text
 * modulo case and padding for base32).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/enc.h"
#include "base/err.h"

static void check(int (*dec)(struct arca_buf *, const char *, size_t),
                  int (*enc)(struct arca_buf *, const void *, size_t), const char *s, size_t n,
                  int mode)
{
    struct arca_buf d, e;
    arca_buf_init(&d, 1 << 20);
    arca_buf_init(&e, 1 << 20);
    if (arca_buf_put_str(&d, "pre") != 0)
        abort();
    arca_err_clear();
    int rc = dec(&d, s, n);
    if (rc < 0) {
        if (d.len != 3 || memcmp(d.data, "pre", 3) != 0)
            abort(); /* a failed decode changed the output */
        if (arca_err_detail()[0] == '\0')
            abort(); /* every failure says why */
    } else {
        if (enc != NULL) {
            if (enc(&e, d.data + 3, d.len - 3) != 0)
                abort();
        } else if (arca_base32_encode(&e, d.data + 3, d.len - 3, false) != 0) {
            abort();
        }
        size_t cmp = n;
        if (mode == 2) /* base32: compare without padding */
            while (cmp > 0 && s[cmp - 1] == '=')
                cmp--;
        if (e.len != cmp)
            abort();
        /* hex and base32 accept either case; base64 forms must match exactly. */
        if (mode == 1 ? memcmp(e.data, s, cmp) != 0 : strncasecmp(arca_buf_cstr(&e), s, cmp) != 0)
            abort();
    }
    arca_buf_free(&d);
    arca_buf_free(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    const char *s = (const char *)data;
    check(arca_hex_decode, arca_hex_encode, s, size, 0);
    check(arca_base64_decode, arca_base64_encode, s, size, 1);
    check(arca_base64url_decode, arca_base64url_encode, s, size, 1);
    check(arca_base32_decode, NULL, s, size, 2);
    uint8_t fixed[32];
    (void)arca_hex_decode_fixed(fixed, sizeof(fixed), s, size);
    arca_err_clear();
    return 0;
}
