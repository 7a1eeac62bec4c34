/*
 * Fuzzes the placeholder engine: scanning, format normalisation and expansion of arbitrary
 * text. The first input byte selects binary_ok; a renderer derives a kind from the secret
 * name's first character so every kind's format table is reached.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "policy/placeholder.h"

static int fuzz_render(void *ctx, const char *name, size_t name_len, const char *format,
                       struct arca_buf *out)
{
    (void)ctx;
    if (name_len == 0 || name[0] == 'z')
        return arca_err_set(ARCA_ERR_NOT_FOUND, "none");
    enum arca_secret_kind kind = (enum arca_secret_kind)(1 + (unsigned char)name[0] % 8);
    const char *canon;
    ARCA_TRY(arca_placeholder_format_check(kind, format, strlen(format), &canon));
    /* A value with every awkward byte: quotes, controls, NUL, non-ASCII. */
    static const char value[] = "v\"\\\n\x01\x00\xc3\xbc";
    size_t n = (unsigned char)name[name_len - 1] % 2 ? sizeof(value) - 1 : 1;
    return arca_buf_put(out, value, n);
}

static enum arca_secret_kind fuzz_kind(void *ctx, const char *name, size_t name_len)
{
    (void)ctx;
    if (name_len == 0 || name[0] == 'z')
        return ARCA_SECRET_NONE;
    return (enum arca_secret_kind)(1 + (unsigned char)name[0] % 8);
}

/* Secrets starting with 'y' exist with a kind not known yet (imports without a kind). */
static bool fuzz_lookup(void *ctx, const char *name, size_t name_len, enum arca_secret_kind *kind)
{
    if (name_len > 0 && name[0] == 'y') {
        *kind = ARCA_SECRET_NONE;
        return true;
    }
    *kind = fuzz_kind(ctx, name, name_len);
    return *kind != ARCA_SECRET_NONE;
}

struct fuzz_problems {
    const char *text;
    size_t len, n;
};

/* Every problem lies inside the text and names a part of it. */
static void fuzz_problem(void *ctx, const struct arca_placeholder_problem *p)
{
    struct fuzz_problems *f = ctx;
    if (p->rc >= 0 || p->detail == NULL || p->offset > f->len)
        abort();
    if (p->name != NULL && (p->name < f->text || p->name + p->name_len > f->text + f->len))
        abort();
    f->n++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    bool binary_ok = data[0] & 1;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;

    size_t pos = 0;
    struct arca_placeholder ph;
    int rc;
    while ((rc = arca_placeholder_next(text, len, &pos, &ph)) == 1) {
        if (ph.start >= ph.end || ph.end > len || ph.name < text ||
            ph.name + ph.name_len > text + len || ph.name_len == 0)
            abort();
    }

    size_t count;
    rc = arca_placeholder_check(text, len, fuzz_kind, NULL, &count);
    /* The collecting validator agrees with the first-error one on whether the text is fine. */
    struct fuzz_problems fp = {text, len, 0};
    int rc_each = arca_placeholder_check_each(text, len, fuzz_lookup, fuzz_problem, &fp, NULL);
    if ((rc_each == 0) != (fp.n == 0))
        abort();

    struct arca_buf out;
    arca_buf_init_secret(&out, 1 << 20);
    rc = arca_placeholder_expand(text, len, fuzz_render, NULL, binary_ok, &out);
    /* Rendered values never bring a NUL where binary is not allowed (literal text is the
     * caller's business). */
    if (rc == 0 && !binary_ok && out.len > 0 && memchr(out.data, 0, out.len) != NULL &&
        (len == 0 || memchr(text, 0, len) == NULL))
        abort();
    arca_buf_free(&out);

    arca_buf_init(&out, 0);
    (void)arca_placeholder_json_escape(text, len, &out);
    arca_buf_free(&out);
    return 0;
}
