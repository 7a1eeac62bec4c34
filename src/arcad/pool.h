/*
 * A bounded pool of threads for work that must not run on arcad's event loops: secret
 * generation (RSA above all), parsing large policies, listing. The event-loop threads only
 * accept, handshake and route, so a costly request delays nobody else's handshake or /healthz.
 *
 * A job is submitted from a loop thread with the loop's event_base; its work function runs on a
 * pool thread, then its done function runs back on that loop (where it may touch the request
 * and reply). The queue is bounded: a full queue refuses the job at once (ARCA_ERR_LIMIT, the
 * caller answers 503) rather than let waiting work pile up in memory.
 */
#ifndef ARCAD_POOL_H
#define ARCAD_POOL_H

#include <stddef.h>

struct event_base;
struct arcad_pool;

struct arcad_pool_cfg {
    int threads;       /* pool threads (>= 1) */
    size_t max_queued; /* jobs waiting for a thread at most (>= 1) */
};

typedef void (*arcad_job_fn)(void *arg);

/* A new pool with its threads started (free with arcad_pool_free). */
int arcad_pool_new(const struct arcad_pool_cfg *cfg, struct arcad_pool **out);

/*
 * Queues work(arg) for a pool thread, then done(arg) on origin's loop. Call from the thread that
 * runs origin (libevent must have been made thread-aware with evthread_use_pthreads). 0, or
 * ARCA_ERR_LIMIT when max_queued jobs wait already, or ARCA_ERR_ALLOC; on failure nothing runs
 * and arg stays the caller's.
 */
int arcad_pool_submit(struct arcad_pool *p, struct event_base *origin, arcad_job_fn work,
                      arcad_job_fn done, void *arg);

/* Jobs waiting and running now (for metrics and tests). */
size_t arcad_pool_pending(struct arcad_pool *p);

/*
 * Refuses new jobs (submit answers ARCA_ERR_LIMIT "shutting down" from then on), waits until
 * every queued and running job's work has finished and its done has been handed to its loop,
 * and joins the threads. The loops must keep running until their done callbacks ran (arcad
 * drains the pool on SIGTERM before it stops the loops). Idempotent; NULL is fine. Loops may
 * still call arcad_pool_submit afterwards, until arcad_pool_free.
 */
void arcad_pool_drain(struct arcad_pool *p);

/* Drains p (arcad_pool_drain) and frees it; no loop may submit to it any more. NULL is fine. */
void arcad_pool_free(struct arcad_pool *p);

#endif
