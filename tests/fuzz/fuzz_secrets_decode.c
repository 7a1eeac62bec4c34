/*
 * Fuzzes the sealed-store serialisation of secret sets: decoding must never crash, and what
 * decodes must encode to bytes that decode and encode again to the same bytes (a fixed point).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "secrets/secrets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct arca_secret_set *s = NULL;
    if (arca_secret_set_decode(data, size, &s) < 0) {
        if (s != NULL)
            abort(); /* no partial output on failure */
        return 0;
    }
    struct arca_buf a, b;
    arca_buf_init_secret(&a, 0);
    arca_buf_init_secret(&b, 0);
    struct arca_secret_set *t = NULL;
    if (arca_secret_set_encode(s, &a) < 0 || arca_secret_set_decode(a.data, a.len, &t) < 0 ||
        arca_secret_set_encode(t, &b) < 0 || a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
        abort();
    /* Every value renders in its default format. */
    for (size_t i = 0; i < arca_secret_set_count(t); i++) {
        struct arca_buf r;
        arca_buf_init_secret(&r, 0);
        (void)arca_secret_set_render(t, arca_secret_set_name_at(t, i),
                                     strlen(arca_secret_set_name_at(t, i)), "", &r);
        arca_buf_free(&r);
    }
    arca_secret_set_free(t);
    arca_secret_set_free(s);
    arca_buf_free(&a);
    arca_buf_free(&b);
    return 0;
}
