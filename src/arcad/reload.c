/*
 * Signal-driven maintenance of a running arcad (reload.h): audit log rotation (SIGUSR1) and the
 * collateral sources part of SIGHUP's reload (main.c re-parses the flags and calls it).
 *
 * The API states' evidence sources are swapped under one rwlock that verifications take only
 * to copy their sources (evidence/collateral_select.h arca_evidence_sources_snapshot). Why
 * replaced collateral and URL sets are kept until exit rather than freed or reference counted:
 * a verification in flight keeps using its copy's pointers for as long as it runs (a fetch may
 * take seconds); keeping the old objects alive makes that safe without a count on the hot path.
 * A reload that changes something costs one retained set (a collateral set is a few hundred
 * KiB; URLs a few hundred bytes), which only an operator's SIGHUP can cause.
 */
#include "reload.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "attest/verify.h"
#include "audit/audit.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/log.h"
#include "evidence/collateral_select.h"
#include "owner/owner.h"

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

/* One published set of fetch sources and SEV-SNP certificates: immutable once the API states
 * point into it; kept until exit. NULL members: none. */
struct fetch_set {
    char *pcs_url, *kds_url, *snp_certs;
    const char *snp_paths[1];
};

enum { SRC_PCS, SRC_KDS, SRC_SNP, SRC_N };
static const char *const src_flag[SRC_N] = {"pcs-url", "kds-url", "snp-certs"};

struct arcad_reload {
    pthread_rwlock_t lock; /* the tracked sources' swap_lock */
    struct {
        struct arca_evidence_sources *src;
        bool fetch; /* gets pcs/kds (the enclave API) or only collateral and snp (peers) */
    } tracked[TRACK_MAX];
    size_t n_tracked;
    struct arca_dcap_collateral **retired; /* replaced by a reload; freed at exit */
    size_t n_retired;
    struct fetch_set **sets; /* every published set; freed at exit */
    size_t n_sets;
    char *path;             /* the --collateral the current collateral came from (after a reload) */
    bool started;           /* cur holds what the sources use (else ctx->cfg's, as at start) */
    const char *cur[SRC_N]; /* in ctx->cfg or the last published set */
};

int arcad_reload_new(struct arcad_reload **out)
{
    *out = calloc(1, sizeof(**out));
    if (*out == NULL)
        return arca_err_set(ARCA_ERR_ALLOC, "out of memory");
    if (pthread_rwlock_init(&(*out)->lock, NULL) != 0) {
        free(*out);
        *out = NULL;
        return arca_err_set(ARCA_ERR_ALLOC, "reload: no lock");
    }
    return 0;
}

static void set_free(struct fetch_set *f)
{
    if (f == NULL)
        return;
    free(f->pcs_url);
    free(f->kds_url);
    free(f->snp_certs);
    free(f);
}

void arcad_reload_free(struct arcad_reload *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_retired; i++)
        arca_attest_collateral_free(r->retired[i]);
    free(r->retired);
    for (size_t i = 0; i < r->n_sets; i++)
        set_free(r->sets[i]);
    free(r->sets);
    free(r->path);
    pthread_rwlock_destroy(&r->lock);
    free(r);
}

void arcad_sources_track(struct arcad_reload *r, struct arca_evidence_sources *src, bool fetch)
{
    if (r == NULL || r->n_tracked == TRACK_MAX)
        return;
    r->tracked[r->n_tracked].src = src;
    r->tracked[r->n_tracked].fetch = fetch;
    r->n_tracked++;
    src->swap_lock = &r->lock;
}

/* SIGHUP's --collateral: loads path (NULL: none) and publishes it; logs what changed. */
static void collateral_reload(struct arcad_ctx *ctx, const char *path)
{
    struct arcad_reload *r = ctx->reloader;
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
    pthread_rwlock_wrlock(&r->lock);
    ctx->collateral = col;
    for (size_t i = 0; i < r->n_tracked; i++)
        r->tracked[i].src->collateral = col;
    pthread_rwlock_unlock(&r->lock);
    if (old != NULL)
        r->retired[r->n_retired++] = old; /* verifications in flight may still use it */
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

/* Whether an operator's new value v of source k can be used; logs why not. The same test as
 * the owner configuration's URLs (http(s)://, printable, no spaces), and an SNP path must exist
 * (as at start). */
static bool usable(int k, const char *v, const char *keep)
{
    const char *why = NULL;
    if (k == SRC_SNP) {
        struct stat st;
        if (stat(v, &st) != 0)
            why = "no such file or directory";
    } else {
        size_t n = strlen(v), pre = strncmp(v, "https://", 8) == 0  ? 8
                                    : strncmp(v, "http://", 7) == 0 ? 7
                                                                    : 0;
        bool ok = pre > 0 && n > pre && n < ARCA_OWNER_URL_MAX;
        for (size_t i = 0; ok && i < n; i++)
            ok = v[i] > 0x20 && v[i] < 0x7f;
        if (!ok)
            why = "expected an http(s):// URL without spaces";
    }
    if (why != NULL)
        arca_error("arcad", "SIGHUP: --%s %s not reloaded: %s; %s stays in use", src_flag[k], v,
                   why, keep != NULL ? keep : "none (as before)");
    return why == NULL;
}

static bool same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Publishes want[] to the tracked sources as a new set; false (logged) when out of memory. */
static bool publish(struct arcad_ctx *ctx, const char *const want[SRC_N])
{
    struct arcad_reload *r = ctx->reloader;
    struct fetch_set *f = calloc(1, sizeof(*f));
    struct fetch_set **sets = realloc(r->sets, (r->n_sets + 1) * sizeof(*r->sets));
    if (sets != NULL)
        r->sets = sets;
    char **dst[SRC_N] = {&f->pcs_url, &f->kds_url, &f->snp_certs};
    bool ok = f != NULL && sets != NULL;
    for (int k = 0; ok && k < SRC_N; k++)
        ok = want[k] == NULL || (*dst[k] = strdup(want[k])) != NULL;
    if (!ok) {
        set_free(f);
        arca_error("arcad", "SIGHUP: out of memory; collateral sources not reloaded");
        return false;
    }
    f->snp_paths[0] = f->snp_certs;
    if ((f->pcs_url != NULL || f->kds_url != NULL) && ctx->cfg.data_dir != NULL) {
        /* The fetchers' caches live below it, as at start. */
        char cdir[4200];
        snprintf(cdir, sizeof(cdir), "%s/collateral-cache", ctx->cfg.data_dir);
        if (arca_mkdirs(cdir, 0700) < 0)
            arca_warn("arcad", "SIGHUP: %s: %s (fetches go on without a cache)", cdir,
                      arca_err_detail());
    }
    pthread_rwlock_wrlock(&r->lock);
    for (size_t i = 0; i < r->n_tracked; i++) {
        struct arca_evidence_sources *s = r->tracked[i].src;
        if (r->tracked[i].fetch) {
            s->pcs_fetch = f->pcs_url != NULL;
            s->pcs_url = f->pcs_url;
            s->kds_fetch = f->kds_url != NULL;
            s->kds_url = f->kds_url;
        }
        s->snp_paths = f->snp_certs != NULL ? f->snp_paths : NULL;
        s->n_snp_paths = f->snp_certs != NULL ? 1 : 0;
    }
    pthread_rwlock_unlock(&r->lock);
    r->sets[r->n_sets++] = f;
    r->cur[SRC_PCS] = f->pcs_url;
    r->cur[SRC_KDS] = f->kds_url;
    r->cur[SRC_SNP] = f->snp_certs;
    return true;
}

void arcad_sources_reload(struct arcad_ctx *ctx, const struct arcad_sources *op)
{
    struct arcad_reload *r = ctx->reloader;
    if (r == NULL || op == NULL)
        return;
    collateral_reload(ctx, op->collateral);
    if (!r->started) {
        r->cur[SRC_PCS] = ctx->cfg.pcs_url; /* the owner's at start, else the operator's */
        r->cur[SRC_KDS] = ctx->cfg.kds_url;
        r->cur[SRC_SNP] = ctx->cfg.snp_certs;
        r->started = true;
    }
    /* The owner decides where collateral comes from, as at start: its stored configuration,
     * read afresh (a change by arca cas owner --set-config acts at this reload). */
    struct arca_owner_config oc;
    bool owned = ctx->store != NULL && arca_owner_stored_config(ctx->store, &oc) == 0;
    const char *owner[SRC_N] = {owned && oc.pcs_url[0] ? oc.pcs_url : NULL,
                                owned && oc.kds_url[0] ? oc.kds_url : NULL, NULL};
    const char *given[SRC_N] = {op->pcs_url, op->kds_url, op->snp_certs};
    const char *want[SRC_N];
    bool change = false;
    for (int k = 0; k < SRC_N; k++) {
        want[k] = given[k];
        if (owner[k] != NULL) {
            if (given[k] != NULL && strcmp(given[k], owner[k]) != 0)
                arca_info("arcad",
                          "SIGHUP: --%s %s not applied: the owner configuration's collateral.%s "
                          "%s decides",
                          src_flag[k], given[k], src_flag[k], owner[k]);
            want[k] = owner[k];
        } else if (given[k] != NULL && !usable(k, given[k], r->cur[k])) {
            want[k] = r->cur[k];
        }
        change = change || !same(want[k], r->cur[k]);
    }
    if (!change)
        return;
    const char *was[SRC_N] = {r->cur[SRC_PCS], r->cur[SRC_KDS], r->cur[SRC_SNP]};
    if (!publish(ctx, want))
        return;
    for (int k = 0; k < SRC_N; k++) {
        if (same(want[k], was[k]))
            continue;
        if (want[k] == NULL)
            arca_info("arcad", "SIGHUP: --%s removed (was %s)", src_flag[k], was[k]);
        else
            arca_info("arcad", "SIGHUP: --%s now %s (was %s)", src_flag[k], want[k],
                      was[k] != NULL ? was[k] : "none");
    }
    /* oc's strings were copied into the set: nothing points into it after this. */
}
