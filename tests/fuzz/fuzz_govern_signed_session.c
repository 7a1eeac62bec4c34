/*
 * Fuzzes the signed-session JSON parser (untrusted upload bodies): parsing must never crash or
 * leave partial output, and what parses must encode to JSON that parses and encodes again to
 * the same bytes (a fixed point); computing its approval message must not crash either.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "govern/signed_session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)arca_signed_session_detect(data, size);
    struct arca_signed_session *s = NULL;
    if (arca_signed_session_parse(data, size, &s) < 0) {
        if (s != NULL)
            abort(); /* no partial output on failure */
        return 0;
    }
    uint8_t msg[ARCA_APPROVAL_MSG_LEN];
    (void)arca_signed_session_message(s, msg);
    struct arca_buf a, b;
    arca_buf_init_secret(&a, 0);
    arca_buf_init_secret(&b, 0);
    struct arca_signed_session *t = NULL;
    if (arca_signed_session_encode(s, &a) < 0 || arca_signed_session_parse(a.data, a.len, &t) < 0 ||
        arca_signed_session_encode(t, &b) < 0 || a.len != b.len ||
        memcmp(a.data, b.data, a.len) != 0)
        abort();
    arca_signed_session_free(t);
    arca_signed_session_free(s);
    arca_buf_free(&a);
    arca_buf_free(&b);
    return 0;
}
