/*
 * Diagnostics: the list of "FILE:LINE:COL: key.path: message" errors a load produces.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "policy/session.h"

void arca_diag_init(struct arca_diag *d)
{
    memset(d, 0, sizeof(*d));
}

void arca_diag_free(struct arca_diag *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->n; i++) {
        free(d->v[i].file);
        free(d->v[i].path);
        free(d->v[i].msg);
    }
    free(d->v);
    memset(d, 0, sizeof(*d));
}

static char *dup_or_null(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

int arca_diag_add(struct arca_diag *d, const char *file, struct arca_pos pos, const char *path,
                  const char *fmt, ...)
{
    if (d == NULL)
        return 0;
    if (d->n >= ARCA_SESSION_MAX_DIAGS) {
        d->dropped++;
        return 0;
    }
    if (d->n == d->cap) {
        size_t ncap = d->cap ? d->cap * 2 : 8;
        struct arca_diag_entry *nv = realloc(d->v, ncap * sizeof(*nv));
        if (nv == NULL)
            return ARCA_ERR_ALLOC;
        d->v = nv;
        d->cap = ncap;
    }
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    struct arca_diag_entry *e = &d->v[d->n];
    memset(e, 0, sizeof(*e));
    e->file = dup_or_null(file != NULL ? file : "<input>");
    e->path = dup_or_null(path);
    e->msg = strdup(msg);
    e->line = pos.line;
    e->col = pos.col;
    if (e->file == NULL || e->msg == NULL || (path != NULL && e->path == NULL)) {
        free(e->file);
        free(e->path);
        free(e->msg);
        return ARCA_ERR_ALLOC;
    }
    d->n++;
    return 0;
}

int arca_diag_entry_format(const struct arca_diag_entry *e, struct arca_buf *out)
{
    if (e->path != NULL && e->path[0] != 0)
        return arca_buf_printf(out, "%s:%u:%u: %s: %s", e->file, e->line, e->col, e->path, e->msg);
    return arca_buf_printf(out, "%s:%u:%u: %s", e->file, e->line, e->col, e->msg);
}

int arca_diag_format(const struct arca_diag *d, struct arca_buf *out)
{
    for (size_t i = 0; i < d->n; i++) {
        ARCA_TRY(arca_diag_entry_format(&d->v[i], out));
        ARCA_TRY(arca_buf_put_u8(out, '\n'));
    }
    if (d->dropped > 0)
        ARCA_TRY(arca_buf_printf(out, "... and %zu more errors\n", d->dropped));
    return 0;
}
