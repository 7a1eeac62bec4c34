#include "base/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

void arca_wipe(void *p, size_t n)
{
    if (p != NULL && n > 0)
        explicit_bzero(p, n);
}

void arca_wipe_free(void *p, size_t n)
{
    arca_wipe(p, n);
    free(p);
}

void arca_wipe_free_str(char *s)
{
    if (s != NULL)
        arca_wipe_free(s, strlen(s));
}

void arca_buf_init(struct arca_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max ? max : ARCA_BUF_MAX_DEFAULT;
    b->secret = false;
}

void arca_buf_init_secret(struct arca_buf *b, size_t max)
{
    arca_buf_init(b, max);
    b->secret = true;
}

void arca_buf_free(struct arca_buf *b)
{
    if (b->data != NULL) {
        if (b->secret)
            arca_wipe(b->data, b->cap);
        free(b->data);
    }
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void arca_buf_reset(struct arca_buf *b)
{
    if (b->secret && b->data != NULL)
        arca_wipe(b->data, b->len);
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = 0;
}

int arca_buf_reserve(struct arca_buf *b, size_t n)
{
    if (n > b->max || b->len > b->max - n)
        return arca_err_set(ARCA_ERR_TOO_LARGE, "buffer limit of %zu bytes exceeded", b->max);
    size_t need = b->len + n + 1; /* spare NUL */
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *p = malloc(cap);
    if (p == NULL)
        return arca_err_set(ARCA_ERR_ALLOC, "cannot allocate %zu bytes", cap);
    if (b->data != NULL) {
        memcpy(p, b->data, b->len);
        if (b->secret)
            arca_wipe(b->data, b->cap);
        free(b->data);
    }
    b->data = p;
    b->cap = cap;
    b->data[b->len] = 0;
    return 0;
}

int arca_buf_put(struct arca_buf *b, const void *p, size_t n)
{
    ARCA_TRY(arca_buf_reserve(b, n));
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return 0;
}

int arca_buf_put_u8(struct arca_buf *b, uint8_t v)
{
    return arca_buf_put(b, &v, 1);
}

int arca_buf_put_u16be(struct arca_buf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    return arca_buf_put(b, x, sizeof(x));
}

int arca_buf_put_u32be(struct arca_buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    return arca_buf_put(b, x, sizeof(x));
}

int arca_buf_put_u64be(struct arca_buf *b, uint64_t v)
{
    uint8_t x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (uint8_t)(v >> (56 - 8 * i));
    return arca_buf_put(b, x, sizeof(x));
}

int arca_buf_put_u16le(struct arca_buf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    return arca_buf_put(b, x, sizeof(x));
}

int arca_buf_put_u32le(struct arca_buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    return arca_buf_put(b, x, sizeof(x));
}

int arca_buf_put_str(struct arca_buf *b, const char *s)
{
    return arca_buf_put(b, s, strlen(s));
}

int arca_buf_printf(struct arca_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return arca_err_set(ARCA_ERR_INVALID_ARG, "bad format string");
    ARCA_TRY(arca_buf_reserve(b, (size_t)n));
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int arca_buf_put_lv(struct arca_buf *b, const void *p, size_t n)
{
    if (n > UINT32_MAX)
        return arca_err_set(ARCA_ERR_TOO_LARGE, "field of %zu bytes too long to frame", n);
    size_t old = b->len;
    int rc = arca_buf_put_u32be(b, (uint32_t)n);
    if (rc == 0)
        rc = arca_buf_put(b, p, n);
    if (rc < 0)
        b->len = old;
    return rc;
}

const char *arca_buf_cstr(const struct arca_buf *b)
{
    return b->data != NULL ? (const char *)b->data : "";
}

int arca_buf_steal(struct arca_buf *b, char **out, size_t *len)
{
    if (b->data == NULL)
        ARCA_TRY(arca_buf_reserve(b, 0));
    *out = (char *)b->data;
    if (len != NULL)
        *len = b->len;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return 0;
}

void arca_cur_init(struct arca_cur *c, const void *p, size_t len)
{
    c->p = p;
    c->len = p != NULL ? len : 0;
    c->off = 0;
}

size_t arca_cur_left(const struct arca_cur *c)
{
    return c->len - c->off;
}

bool arca_cur_done(const struct arca_cur *c)
{
    return c->off == c->len;
}

#define CUR_NEED(c, n)                                                                             \
    ARCA_ENSURE(arca_cur_left(c) >= (n), ARCA_ERR_TRUNCATED,                                       \
                "input truncated at offset %zu: need %zu bytes, %zu left", (c)->off, (size_t)(n),  \
                arca_cur_left(c))

int arca_cur_skip(struct arca_cur *c, size_t n)
{
    CUR_NEED(c, n);
    c->off += n;
    return 0;
}

int arca_cur_get(struct arca_cur *c, void *out, size_t n)
{
    CUR_NEED(c, n);
    if (n > 0)
        memcpy(out, c->p + c->off, n);
    c->off += n;
    return 0;
}

int arca_cur_get_ptr(struct arca_cur *c, const uint8_t **p, size_t n)
{
    CUR_NEED(c, n);
    *p = c->p + c->off;
    c->off += n;
    return 0;
}

int arca_cur_get_sub(struct arca_cur *c, struct arca_cur *sub, size_t n)
{
    const uint8_t *p = NULL;
    ARCA_TRY(arca_cur_get_ptr(c, &p, n));
    arca_cur_init(sub, p, n);
    return 0;
}

int arca_cur_get_u8(struct arca_cur *c, uint8_t *v)
{
    CUR_NEED(c, 1);
    *v = c->p[c->off++];
    return 0;
}

static uint64_t load_le(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = n; i > 0; i--)
        v = (v << 8) | p[i - 1];
    return v;
}

static uint64_t load_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

#define CUR_GETTER(name, type, n, load)                                                            \
    int name(struct arca_cur *c, type *v)                                                          \
    {                                                                                              \
        CUR_NEED(c, n);                                                                            \
        *v = (type)load(c->p + c->off, n);                                                         \
        c->off += n;                                                                               \
        return 0;                                                                                  \
    }

CUR_GETTER(arca_cur_get_u16le, uint16_t, 2, load_le)
CUR_GETTER(arca_cur_get_u32le, uint32_t, 4, load_le)
CUR_GETTER(arca_cur_get_u64le, uint64_t, 8, load_le)
CUR_GETTER(arca_cur_get_u16be, uint16_t, 2, load_be)
CUR_GETTER(arca_cur_get_u32be, uint32_t, 4, load_be)
CUR_GETTER(arca_cur_get_u64be, uint64_t, 8, load_be)
