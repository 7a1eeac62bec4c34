/*
 * Signal-driven maintenance of a running arcad (reload.h): audit log rotation (SIGUSR1) and the
 * collateral part of SIGHUP's reload (main.c re-parses the flags and calls it).
 *
 * Why replaced collateral is kept until exit rather than freed: the API states hand the pointer
 * to verifications running on other threads without a reference count; keeping the old object
 * alive makes the swap safe without a lock on the hot path. A reload that loads costs one
 * retained collateral set (a few hundred KiB), which only an operator's SIGHUP can cause.
 */
#include "reload.h"

#include <stdlib.h>
#include <string.h>

#include "attest/verify.h"
#include "audit/audit.h"
#include "base/err.h"
#include "base/log.h"

void arcad_audit_rotate(struct arcad_ctx *ctx)
{
    if (ctx->audit == NULL) {
        arca_warn("arcad", "SIGUSR1: no audit log to rotate");
        return;
    }
    char archived[4096];
    if (arca_audit_rotate(ctx->audit, archived, sizeof(archived)) < 0)
        arca_error("arcad", "SIGUSR1: audit log not rotated (it goes on in the same file): %s",
                   arca_err_detail());
    else
        arca_info("arcad", "SIGUSR1: audit log rotated: the earlier lines are in %s", archived);
}

#define TRACK_MAX 8

struct arcad_reload {
    const struct arca_dcap_collateral **slots[TRACK_MAX];
    size_t n_slots;
    struct arca_dcap_collateral **retired; /* replaced by a reload; freed at exit */
    size_t n_retired;
    char *path; /* the --collateral the current collateral came from (after a reload) */
};

int arcad_reload_new(struct arcad_reload **out)
{
    *out = calloc(1, sizeof(**out));
    return *out != NULL ? 0 : arca_err_set(ARCA_ERR_ALLOC, "out of memory");
}

void arcad_reload_free(struct arcad_reload *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_retired; i++)
        arca_attest_collateral_free(r->retired[i]);
    free(r->retired);
    free(r->path);
    free(r);
}

void arcad_collateral_track(struct arcad_reload *r, const struct arca_dcap_collateral **slot)
{
    if (r != NULL && r->n_slots < TRACK_MAX)
        r->slots[r->n_slots++] = slot;
}

void arcad_collateral_reload(struct arcad_ctx *ctx, const char *path)
{
    struct arcad_reload *r = ctx->reloader;
    if (r == NULL)
        return;
    const char *was = r->path != NULL ? r->path : ctx->cfg.collateral;
    if (path == NULL && ctx->collateral == NULL)
        return; /* none before, none now */
    struct arca_dcap_collateral *col = NULL;
    char *copy = NULL;
    if (path != NULL) {
        if (arca_attest_collateral_load(path, &col) < 0) {
            arca_error("arcad",
                       "SIGHUP: --collateral %s not reloaded: %s; the collateral loaded before "
                       "stays in use",
                       path, arca_err_detail());
            return;
        }
        copy = strdup(path);
    }
    struct arca_dcap_collateral **ret =
        realloc(r->retired, (r->n_retired + 1) * sizeof(*r->retired));
    if ((path != NULL && copy == NULL) || ret == NULL) {
        r->retired = ret != NULL ? ret : r->retired;
        arca_attest_collateral_free(col);
        free(copy);
        arca_error("arcad", "SIGHUP: out of memory; collateral not reloaded");
        return;
    }
    r->retired = ret;
    struct arca_dcap_collateral *old = ctx->collateral;
    /* Readers load these pointers per verification; the old object stays valid (retired). */
    __atomic_store_n(&ctx->collateral, col, __ATOMIC_RELEASE);
    for (size_t i = 0; i < r->n_slots; i++)
        __atomic_store_n(r->slots[i], (const struct arca_dcap_collateral *)col, __ATOMIC_RELEASE);
    if (old != NULL)
        r->retired[r->n_retired++] = old;
    if (path == NULL)
        arca_info("arcad", "SIGHUP: collateral removed (was %s)", was != NULL ? was : "loaded");
    else if (was != NULL && strcmp(was, path) == 0)
        arca_info("arcad", "SIGHUP: collateral reloaded from %s", path);
    else
        arca_info("arcad", "SIGHUP: collateral reloaded from %s (was %s)", path,
                  was != NULL ? was : "none");
    free(r->path);
    r->path = copy;
}
