/*
 * The job pool (pool.h). Each job's completion event is made on its origin loop at submit
 * time, where an allocation failure can still be answered; the pool thread then only calls
 * event_active(), which cannot fail and is safe from any thread once libevent is thread-aware.
 */
#include "pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include <event2/event.h>

#include "base/err.h"

struct job {
    struct job *next;
    arcad_job_fn work, done;
    void *arg;
    struct event *ev; /* on the origin loop; fires done */
};

struct arcad_pool {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct job *head, *tail;
    size_t queued, max_queued;
    size_t idle; /* threads waiting on cond: a submit wakes one only if there is one */
    /* raised under mu with the dequeue (pending() sees the job in queued or running), lowered
     * without it before the job's done is made active: one lock per job less on the hot path */
    atomic_size_t running;
    bool stopping;
    int nthreads;
    pthread_t *threads;
};

static void job_done(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct job *j = arg;
    j->done(j->arg);
    event_free(j->ev);
    free(j);
}

static void *pool_main(void *arg)
{
    struct arcad_pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->head == NULL && !p->stopping) {
            p->idle++;
            pthread_cond_wait(&p->cond, &p->mu);
            p->idle--;
        }
        if (p->head == NULL)
            break; /* stopping and nothing left */
        struct job *j = p->head;
        p->head = j->next;
        if (p->head == NULL)
            p->tail = NULL;
        p->queued--;
        atomic_fetch_add(&p->running, 1);
        pthread_mutex_unlock(&p->mu);
        j->work(j->arg);
        /* Counted out before done can run: arcad_pool_pending() is 0 once every done ran. */
        atomic_fetch_sub(&p->running, 1);
        event_active(j->ev, EV_TIMEOUT, 0); /* j belongs to its loop from here on */
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int arcad_pool_new(const struct arcad_pool_cfg *cfg, struct arcad_pool **out)
{
    ARCA_ENSURE_REF(cfg);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(cfg->threads >= 1 && cfg->threads <= 256 && cfg->max_queued >= 1,
                ARCA_ERR_INVALID_ARG, "job pool: needs 1..256 threads and a queue of at least 1");
    struct arcad_pool *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return arca_err_set(ARCA_ERR_ALLOC, "job pool");
    p->threads = calloc((size_t)cfg->threads, sizeof(*p->threads));
    if (p->threads == NULL) {
        free(p);
        return arca_err_set(ARCA_ERR_ALLOC, "job pool");
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->max_queued = cfg->max_queued;
    for (int i = 0; i < cfg->threads; i++) {
        if (pthread_create(&p->threads[i], NULL, pool_main, p) != 0) {
            arcad_pool_free(p);
            return arca_err_set(ARCA_ERR_INTERNAL, "job pool: cannot start thread %d", i);
        }
        p->nthreads++;
    }
    *out = p;
    return 0;
}

int arcad_pool_submit(struct arcad_pool *p, struct event_base *origin, arcad_job_fn work,
                      arcad_job_fn done, void *arg)
{
    ARCA_ENSURE(p != NULL && origin != NULL && work != NULL && done != NULL, ARCA_ERR_INVALID_ARG,
                "job pool: submit needs a pool, a loop and two functions");
    struct job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return arca_err_set(ARCA_ERR_ALLOC, "job pool: job");
    j->work = work;
    j->done = done;
    j->arg = arg;
    j->ev = event_new(origin, -1, 0, job_done, j);
    if (j->ev == NULL) {
        free(j);
        return arca_err_set(ARCA_ERR_ALLOC, "job pool: job event");
    }
    pthread_mutex_lock(&p->mu);
    int rc = 0;
    bool wake = false;
    if (p->stopping) {
        rc = arca_err_set(ARCA_ERR_LIMIT, "the server is shutting down");
    } else if (p->queued >= p->max_queued) {
        rc = arca_err_set(ARCA_ERR_LIMIT,
                          "the server is busy: %zu requests wait for a job thread already "
                          "(--max-queued-jobs); try again later",
                          p->queued);
    } else {
        if (p->tail != NULL)
            p->tail->next = j;
        else
            p->head = j;
        p->tail = j;
        p->queued++;
        /* a busy thread takes the job when it comes back; none is woken for it */
        wake = p->idle > 0;
    }
    pthread_mutex_unlock(&p->mu);
    /* signalled after the unlock: the woken thread does not block on mu at once */
    if (wake)
        pthread_cond_signal(&p->cond);
    if (rc < 0) {
        event_free(j->ev);
        free(j);
    }
    return rc;
}

size_t arcad_pool_pending(struct arcad_pool *p)
{
    if (p == NULL)
        return 0;
    pthread_mutex_lock(&p->mu);
    size_t n = p->queued + atomic_load(&p->running);
    pthread_mutex_unlock(&p->mu);
    return n;
}

void arcad_pool_drain(struct arcad_pool *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->mu);
    /* Only the thread that owns p drains it, so nthreads needs no lock. */
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    p->nthreads = 0;
}

void arcad_pool_free(struct arcad_pool *p)
{
    if (p == NULL)
        return;
    arcad_pool_drain(p);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
}
