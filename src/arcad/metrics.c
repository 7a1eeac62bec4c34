/*
 * Prometheus metrics (text exposition format 0.0.4), served on --metrics-listen only.
 * Counters are relaxed atomics updated on the request path without a lock; rendering reads
 * them without stopping anyone, so a scrape is a consistent-enough snapshot.
 */
#include <stdlib.h>
#include <string.h>

#include "arcad_internal.h"
#include "base/err.h"
#include "base/time.h"
#include "pool.h"
#include "evidence/dcap_verify.h"
#include "store/store.h"

static const char *const attest_results[ARCAD_ATTEST_RESULTS] = {"ok", "denied", "invalid",
                                                                 "insecure", "error"};

struct arcad_metrics *arcad_metrics_new(void)
{
    struct arcad_metrics *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        arca_err_set(ARCA_ERR_ALLOC, "metrics: out of memory");
        return NULL;
    }
    m->started_at = arca_time_now();
    return m;
}

void arcad_metrics_free(struct arcad_metrics *m)
{
    free(m);
}

void arcad_metrics_attestation(struct arcad_metrics *m, const char *result)
{
    if (m == NULL || result == NULL)
        return;
    int slot = ARCAD_ATTEST_RESULTS - 1;
    for (int i = 0; i < ARCAD_ATTEST_RESULTS; i++)
        if (strcmp(result, attest_results[i]) == 0)
            slot = i;
    atomic_fetch_add_explicit(&m->attestations[slot], 1, memory_order_relaxed);
}

static int render_route(struct arca_buf *out, const char *api, const char *name,
                        const struct arcad_route_stats *st)
{
    const int *codes = arcad_status_codes();
    for (int i = 0; i < ARCAD_STATUS_SLOTS; i++) {
        uint64_t v = atomic_load_explicit(&st->by_status[i], memory_order_relaxed);
        if (v == 0)
            continue;
        if (codes[i] != 0)
            ARCA_TRY(arca_buf_printf(out,
                                     "arcad_requests_total{api=\"%s\",route=\"%s\",status=\"%d\"} "
                                     "%llu\n",
                                     api, name, codes[i], (unsigned long long)v));
        else
            ARCA_TRY(arca_buf_printf(
                out, "arcad_requests_total{api=\"%s\",route=\"%s\",status=\"other\"} %llu\n", api,
                name, (unsigned long long)v));
    }
    return 0;
}

static int render_latency(struct arca_buf *out, const char *api, const char *name,
                          const struct arcad_route_stats *st)
{
    const double *bounds = arcad_latency_bounds_ms();
    uint64_t count = atomic_load_explicit(&st->latency_count, memory_order_relaxed);
    if (count == 0)
        return 0;
    uint64_t cum = 0;
    for (int i = 0; i < ARCAD_LATENCY_BUCKETS; i++) {
        cum += atomic_load_explicit(&st->latency[i], memory_order_relaxed);
        ARCA_TRY(arca_buf_printf(out,
                                 "arcad_request_duration_seconds_bucket{api=\"%s\",route=\"%s\","
                                 "le=\"%g\"} %llu\n",
                                 api, name, bounds[i] / 1000.0, (unsigned long long)cum));
    }
    ARCA_TRY(arca_buf_printf(out,
                             "arcad_request_duration_seconds_bucket{api=\"%s\",route=\"%s\","
                             "le=\"+Inf\"} %llu\n",
                             api, name, (unsigned long long)count));
    ARCA_TRY(arca_buf_printf(
        out, "arcad_request_duration_seconds_sum{api=\"%s\",route=\"%s\"} %.3f\n", api, name,
        (double)atomic_load_explicit(&st->latency_sum_ms, memory_order_relaxed) / 1000.0));
    ARCA_TRY(arca_buf_printf(out,
                             "arcad_request_duration_seconds_count{api=\"%s\",route=\"%s\"} %llu\n",
                             api, name, (unsigned long long)count));
    return 0;
}

static int render_router(struct arca_buf *out, const char *api, const struct arcad_router *r,
                         bool latency)
{
    if (r == NULL)
        return 0;
    for (size_t i = 0; i < r->count; i++)
        ARCA_TRY(latency ? render_latency(out, api, r->routes[i].name, &r->routes[i].stats)
                         : render_route(out, api, r->routes[i].name, &r->routes[i].stats));
    return latency ? render_latency(out, api, "unmatched", &r->unmatched)
                   : render_route(out, api, "unmatched", &r->unmatched);
}

/* Connection admission (conns.h): who waits for a request, and who was closed for what. */
static int render_admission(struct arca_buf *out, struct arcad_ctx *ctx, struct arcad_metrics *m)
{
    ARCA_TRY(arca_buf_printf(out,
                             "# HELP arcad_connections_pending Open connections that have not "
                             "sent a complete request yet.\n"
                             "# TYPE arcad_connections_pending gauge\n"
                             "arcad_connections_pending %lld\n"
                             "# HELP arcad_connections_closed_total Connections arcad closed "
                             "before a complete request, by reason.\n"
                             "# TYPE arcad_connections_closed_total counter\n",
                             (long long)atomic_load(&m->pending)));
    for (int i = 0; i < ARCAD_CLOSE_REASONS; i++)
        ARCA_TRY(arca_buf_printf(out, "arcad_connections_closed_total{reason=\"%s\"} %llu\n",
                                 arcad_close_reason_name((enum arcad_close_reason)i),
                                 (unsigned long long)atomic_load(&m->conns_closed[i])));
    ARCA_TRY(arca_buf_printf(out,
                             "# HELP arcad_accept_paused_total Times a listener paused after "
                             "accept() failed (out of file descriptors, ...).\n"
                             "# TYPE arcad_accept_paused_total counter\n"
                             "arcad_accept_paused_total %llu\n",
                             (unsigned long long)atomic_load(&m->accept_paused)));
    /* The pool exists only while arcad serves (NULL in unit tests: 0). */
    return arca_buf_printf(out,
                           "# HELP arcad_jobs_pending Requests queued for or running on the job "
                           "pool (--jobs, --max-queued-jobs).\n"
                           "# TYPE arcad_jobs_pending gauge\n"
                           "arcad_jobs_pending %zu\n",
                           arcad_pool_pending(ctx->pool));
}

int arcad_metrics_render(struct arcad_ctx *ctx, struct arca_buf *out)
{
    ARCA_ENSURE_REF(ctx);
    ARCA_ENSURE_REF(out);
    struct arcad_metrics *m = ctx->metrics;
    ARCA_TRY(arca_buf_put_str(out, "# HELP arcad_requests_total HTTP requests by API, route and "
                                   "status.\n# TYPE arcad_requests_total counter\n"));
    ARCA_TRY(render_router(out, "client", ctx->client_router, false));
    ARCA_TRY(render_router(out, "enclave", ctx->enclave_router, false));
    ARCA_TRY(arca_buf_put_str(out, "# HELP arcad_request_duration_seconds Request handling time.\n"
                                   "# TYPE arcad_request_duration_seconds histogram\n"));
    ARCA_TRY(render_router(out, "client", ctx->client_router, true));
    ARCA_TRY(render_router(out, "enclave", ctx->enclave_router, true));
    ARCA_TRY(arca_buf_printf(out,
                             "# HELP arcad_connections Open client connections that sent a "
                             "request.\n# TYPE arcad_connections gauge\narcad_connections %lld\n",
                             (long long)atomic_load(&m->connections)));
    ARCA_TRY(render_admission(out, ctx, m));
    ARCA_TRY(arca_buf_put_str(out, "# HELP arcad_attestations_total Attestations by result.\n"
                                   "# TYPE arcad_attestations_total counter\n"));
    for (int i = 0; i < ARCAD_ATTEST_RESULTS; i++)
        ARCA_TRY(arca_buf_printf(out, "arcad_attestations_total{result=\"%s\"} %llu\n",
                                 attest_results[i],
                                 (unsigned long long)atomic_load(&m->attestations[i])));
    if (ctx->dcap_cache != NULL) {
        uint64_t hits = 0, misses = 0;
        arca_dcap_cache_stats(ctx->dcap_cache, &hits, &misses);
        ARCA_TRY(arca_buf_printf(out,
                                 "# HELP arcad_collateral_cache_hits_total DCAP verification "
                                 "steps answered by the cache.\n"
                                 "# TYPE arcad_collateral_cache_hits_total counter\n"
                                 "arcad_collateral_cache_hits_total %llu\n"
                                 "# HELP arcad_collateral_cache_misses_total DCAP verification "
                                 "steps computed in full.\n"
                                 "# TYPE arcad_collateral_cache_misses_total counter\n"
                                 "arcad_collateral_cache_misses_total %llu\n",
                                 (unsigned long long)hits, (unsigned long long)misses));
    }
    ARCA_TRY(arca_buf_printf(out,
                             "# HELP arcad_session_writes_total Session versions committed.\n"
                             "# TYPE arcad_session_writes_total counter\n"
                             "arcad_session_writes_total{op=\"create\"} %llu\n"
                             "arcad_session_writes_total{op=\"update\"} %llu\n",
                             (unsigned long long)atomic_load(&m->sessions_created),
                             (unsigned long long)atomic_load(&m->sessions_updated)));
    if (ctx->store != NULL) {
        struct arca_store_active *list = NULL;
        size_t n = 0;
        if (arca_store_active_list(ctx->store, NULL, &list, &n) == 0) {
            arca_store_active_list_free(list, n);
            ARCA_TRY(arca_buf_printf(out,
                                     "# HELP arcad_sessions Sessions with an active version.\n"
                                     "# TYPE arcad_sessions gauge\narcad_sessions %zu\n",
                                     n));
        }
    }
    ARCA_TRY(arca_buf_printf(out,
                             "# HELP arcad_start_time_seconds When arcad started.\n"
                             "# TYPE arcad_start_time_seconds gauge\narcad_start_time_seconds "
                             "%lld\n",
                             (long long)m->started_at));
    return 0;
}
