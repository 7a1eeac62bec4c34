/*
 * Session loader core: diagnostics, the scoped key path, type checks, lists and key allow-lists
 * (load_internal.h).
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "policy/load_internal.h"

/* ---- diagnostics --------------------------------------------------------------------------- */

void ld_err(struct ld *L, struct arca_pos pos, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    L->errors++;
    if (arca_diag_add(L->diag, L->file, pos, L->path, "%s", msg) < 0)
        L->oom = true;
}

/* "<what> is not supported by arca<when>", counted as unsupported. */
static void vunsup(struct ld *L, struct arca_pos pos, const char *when, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
static void vunsup(struct ld *L, struct arca_pos pos, const char *when, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    L->unsupported++;
    ld_err(L, pos, "%s is not supported by arca%s", msg, when);
}

void ld_unsup(struct ld *L, struct arca_pos pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vunsup(L, pos, "", fmt, ap);
    va_end(ap);
}

void ld_unsup_yet(struct ld *L, struct arca_pos pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vunsup(L, pos, " yet", fmt, ap);
    va_end(ap);
}

/* ---- the scoped key path ------------------------------------------------------------------- */

/* Opens a scope whose text took n more characters (truncated at the buffer, never past it). */
static struct ld_mark advance(struct ld *L, size_t old, int n)
{
    if (n > 0)
        L->plen = L->plen + (size_t)n < sizeof(L->path) ? L->plen + (size_t)n : sizeof(L->path) - 1;
    return (struct ld_mark){old, ++L->depth};
}

struct ld_mark ld_scope_enter_key(struct ld *L, const char *key)
{
    size_t old = L->plen;
    return advance(L, old,
                   snprintf(L->path + old, sizeof(L->path) - old, "%s%s", old ? "." : "", key));
}

struct ld_mark ld_scope_enter_index(struct ld *L, size_t i)
{
    size_t old = L->plen;
    return advance(L, old, snprintf(L->path + old, sizeof(L->path) - old, "[%zu]", i));
}

void ld_scope_leave(struct ld *L, struct ld_mark m)
{
    /* Only a scope opened without LD_AT_* can get here unbalanced; stay loud in release too. */
    assert(L->depth == m.depth && L->plen >= m.plen);
    if (L->depth != m.depth || L->plen < m.plen)
        L->path_broken = true;
    L->plen = m.plen;
    L->path[m.plen] = 0;
    L->depth = m.depth - 1;
}

/* ---- structure ----------------------------------------------------------------------------- */

static const char *type_name(const struct arca_ynode *n)
{
    if (n->type == ARCA_YNODE_MAP)
        return "a mapping";
    if (n->type == ARCA_YNODE_SEQ)
        return "a list";
    return "a scalar";
}

bool ld_expect(struct ld *L, const struct arca_ynode *n, enum arca_ynode_type t, const char *what)
{
    if (n->type == t)
        return true;
    ld_err(L, n->pos, "expected %s, got %s", what, type_name(n));
    return false;
}
void *ld_seq_alloc(struct ld *L, const struct arca_ynode *n, const char *what, const char *empty,
                   size_t size)
{
    if (!ld_expect(L, n, ARCA_YNODE_SEQ, what))
        return NULL;
    if (n->n_items == 0) {
        if (empty != NULL)
            ld_err(L, n->pos, "%s", empty);
        return NULL;
    }
    void *arr = calloc(n->n_items, size);
    if (arr == NULL)
        L->oom = true;
    return arr;
}
/*
 * The items of the list n (its key already on the path): an array of n->n_items elements of
 * size bytes (calloc'ed, owned by the model it is stored in), each filled by fn with its index
 * on the path, and *count set. Not a list (error `what` given), an empty one or OOM: NULL and
 * *count 0.
 */
void *ld_parse_seq(struct ld *L, const struct arca_ynode *n, const char *what, size_t size,
                   size_t *count, ld_item_fn fn, void *ctx)
{
    *count = 0;
    void *arr = ld_seq_alloc(L, n, what, NULL, size);
    if (arr == NULL)
        return NULL;
    for (size_t i = 0; i < n->n_items; i++)
        LD_AT_INDEX(L, i, fn(L, &n->items[i], arr, i, ctx));
    *count = n->n_items;
    return arr;
}

/* Reports key k of a `what` mapping: documented but unsupported (uns), or unknown. */
static void report_key(struct ld *L, const struct arca_ynode *k, const char *what,
                       const char *const *allowed, bool uns)
{
    if (uns) {
        ld_unsup(L, k->pos, "key '%s'", k->text);
        return;
    }
    char list[400];
    size_t off = 0;
    list[0] = 0;
    for (size_t j = 0; allowed[j] != NULL && off < sizeof(list); j++) {
        int w = snprintf(list + off, sizeof(list) - off, "%s%s", j ? ", " : "", allowed[j]);
        if (w > 0)
            off += (size_t)w;
    }
    ld_err(L, k->pos, "unknown key '%s' in %s (expected one of: %s)", k->text, what, list);
}

bool ld_check_keys(struct ld *L, const struct arca_ynode *m, const char *what,
                   const char *const *allowed, const char *const *unsupported)
{
    if (m->type != ARCA_YNODE_MAP) {
        ld_err(L, m->pos, "%s must be a mapping, got %s", what, type_name(m));
        return false;
    }
    for (size_t i = 0; i + 1 < m->n_items; i += 2) {
        const struct arca_ynode *k = &m->items[i];
        bool ok = false;
        for (size_t j = 0; allowed[j] != NULL && !ok; j++)
            ok = strcmp(k->text, allowed[j]) == 0;
        if (ok)
            continue;
        bool uns = false;
        for (size_t j = 0; unsupported != NULL && unsupported[j] != NULL && !uns; j++)
            uns = strcmp(k->text, unsupported[j]) == 0;
        LD_AT_KEY(L, k->text, report_key(L, k, what, allowed, uns));
    }
    return true;
}
