/* Minimal DER TLV reader over arca_cur. */
#include "evidence/der.h"

#include "base/err.h"

int arca_der_get(struct arca_cur *c, uint8_t *tag, struct arca_cur *content)
{
    struct arca_cur t = *c;
    uint8_t tg, l0;
    size_t len = 0;

    if (arca_cur_get_u8(&t, &tg) < 0 || arca_cur_get_u8(&t, &l0) < 0)
        ARCA_BAIL(ARCA_ERR_TRUNCATED, "DER: element at offset %zu ends early", c->off);
    ARCA_ENSURE((tg & 0x1f) != 0x1f, ARCA_ERR_FORMAT,
                "DER: multi-byte tag at offset %zu is not supported", c->off);
    if (l0 < 0x80) {
        len = l0;
    } else {
        unsigned nb = l0 & 0x7f;
        ARCA_ENSURE(nb >= 1 && nb <= 3, ARCA_ERR_FORMAT,
                    "DER: length form 0x%02x at offset %zu is indefinite or too long", l0,
                    c->off + 1);
        for (unsigned i = 0; i < nb; i++) {
            uint8_t b;
            if (arca_cur_get_u8(&t, &b) < 0)
                ARCA_BAIL(ARCA_ERR_TRUNCATED, "DER: length at offset %zu ends early", c->off + 1);
            ARCA_ENSURE(!(i == 0 && b == 0), ARCA_ERR_FORMAT,
                        "DER: non-minimal length at offset %zu", c->off + 1);
            len = (len << 8) | b;
        }
        ARCA_ENSURE(len >= 0x80, ARCA_ERR_FORMAT, "DER: non-minimal length at offset %zu",
                    c->off + 1);
    }
    struct arca_cur sub;
    if (arca_cur_get_sub(&t, &sub, len) < 0)
        ARCA_BAIL(ARCA_ERR_TRUNCATED, "DER: element at offset %zu declares %zu bytes, %zu left",
                  c->off, len, arca_cur_left(&t));
    *tag = tg;
    *content = sub;
    *c = t;
    return 0;
}

int arca_der_expect(struct arca_cur *c, uint8_t want, struct arca_cur *content, const char *what)
{
    struct arca_cur t = *c;
    uint8_t tag;
    ARCA_TRY(arca_der_get(&t, &tag, content));
    ARCA_ENSURE(tag == want, ARCA_ERR_FORMAT, "DER: %s at offset %zu has tag 0x%02x, want 0x%02x",
                what, c->off, tag, want);
    *c = t;
    return 0;
}

int arca_der_uint(const struct arca_cur *content, uint64_t max, uint64_t *out)
{
    size_t n = arca_cur_left(content);
    const uint8_t *p = content->p + content->off;
    uint64_t v = 0;

    ARCA_ENSURE(n >= 1, ARCA_ERR_FORMAT, "DER: empty INTEGER");
    ARCA_ENSURE(!(p[0] & 0x80), ARCA_ERR_FORMAT, "DER: negative INTEGER");
    ARCA_ENSURE(!(n > 1 && p[0] == 0 && !(p[1] & 0x80)), ARCA_ERR_FORMAT,
                "DER: non-minimal INTEGER");
    ARCA_ENSURE(n <= 9, ARCA_ERR_FORMAT, "DER: INTEGER of %zu bytes is too large", n);
    for (size_t i = 0; i < n; i++) {
        ARCA_ENSURE(v <= (UINT64_MAX >> 8), ARCA_ERR_FORMAT, "DER: INTEGER too large");
        v = (v << 8) | p[i];
    }
    ARCA_ENSURE(v <= max, ARCA_ERR_FORMAT, "DER: INTEGER %llu exceeds %llu", (unsigned long long)v,
                (unsigned long long)max);
    *out = v;
    return 0;
}
