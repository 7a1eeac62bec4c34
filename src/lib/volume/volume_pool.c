/*
 * A small bounded pool of worker threads for a tree walk. Chunks and files of a volume are
 * independent (each chunk has its own nonce and associated data, each file its own key), so
 * the walk hands whole small files, or batches of a large file's chunks, to workers while the
 * calling thread keeps the order-dependent parts: creating entries (for removal on failure),
 * hashing a large file's chunk tags in order, and progress.
 *
 * Each worker owns a vol_io (its own buffers and crypto contexts; OpenSSL contexts are not
 * shared between threads). Tasks are queued FIFO; at most `cap` wait or run at once, so a walk
 * never holds more than a bounded number of descriptors and tasks. The first failure in task
 * order (not in time order) is the one reported, so errors name the same file or chunk as a
 * walk on one thread would.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "volume/volume_internal.h"

struct vol_pool {
    pthread_mutex_t mu;
    pthread_cond_t work; /* a task was queued, or stop */
    pthread_cond_t room; /* a task finished: room in the queue, maybe idle */
    struct vol_task *head, *tail;
    size_t pending; /* queued or running */
    size_t cap;
    bool stop;
    bool failed;
    uint64_t err_seq;
    int err_rc;
    char err_detail[512];
    uint64_t files_done; /* by workers, for progress */
    uint64_t bytes_done;
    uint64_t gen; /* hands out key generations (vol_pool_gen) */
    unsigned threads;
    unsigned started;
    pthread_t th[VOL_JOBS_MAX];
    struct vol_io io[VOL_JOBS_MAX];
};

unsigned vol_jobs(const struct arca_volume_opts *opts)
{
    long n = opts != NULL && opts->jobs != 0 ? (long)opts->jobs : sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    return n > VOL_JOBS_MAX ? VOL_JOBS_MAX : (unsigned)n;
}

static void *worker(void *arg)
{
    struct vol_io *io = arg;
    struct vol_pool *p = io->pool;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->head == NULL && !p->stop)
            pthread_cond_wait(&p->work, &p->mu);
        if (p->head == NULL)
            break;
        struct vol_task *t = p->head;
        p->head = t->next;
        if (p->head == NULL)
            p->tail = NULL;
        bool skip = p->failed;
        pthread_mutex_unlock(&p->mu);
        uint64_t seq = t->seq;
        /* After a failure the remaining tasks only release what they hold. */
        int rc = t->run(t, io, skip);
        pthread_mutex_lock(&p->mu);
        if (rc < 0 && !skip && (!p->failed || seq < p->err_seq)) {
            p->failed = true;
            p->err_seq = seq;
            p->err_rc = rc;
            snprintf(p->err_detail, sizeof(p->err_detail), "%s", arca_err_detail());
        }
        p->pending--;
        pthread_cond_broadcast(&p->room);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int vol_pool_new(unsigned jobs, uint32_t chunk_size, struct vol_pool **out)
{
    *out = NULL;
    struct vol_pool *p = calloc(1, sizeof(*p));
    ARCA_ENSURE(p != NULL, ARCA_ERR_ALLOC, "volume: out of memory");
    p->threads = jobs < 1 ? 1 : jobs > VOL_JOBS_MAX ? VOL_JOBS_MAX : jobs;
    p->cap = 4 * (size_t)p->threads;
    int rc = 0;
    if (pthread_mutex_init(&p->mu, NULL) != 0 || pthread_cond_init(&p->work, NULL) != 0 ||
        pthread_cond_init(&p->room, NULL) != 0) {
        free(p);
        return arca_err_set(ARCA_ERR_ALLOC, "volume: cannot create the worker pool");
    }
    for (unsigned i = 0; i < p->threads && rc == 0; i++) {
        rc = vol_io_init(&p->io[i], chunk_size, NULL);
        p->io[i].pool = p;
        if (rc == 0 && pthread_create(&p->th[i], NULL, worker, &p->io[i]) != 0)
            rc = arca_err_set(ARCA_ERR_ALLOC, "volume: cannot start a worker thread");
        if (rc == 0)
            p->started++;
        else
            vol_io_free(&p->io[i]);
    }
    if (rc < 0) {
        vol_pool_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void vol_pool_free(struct vol_pool *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->started; i++) {
        pthread_join(p->th[i], NULL);
        vol_io_free(&p->io[i]); /* wipes the worker's plaintext buffer and key schedule */
    }
    pthread_cond_destroy(&p->room);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

unsigned vol_pool_threads(const struct vol_pool *p)
{
    return p->threads;
}

uint64_t vol_pool_gen(struct vol_pool *p)
{
    pthread_mutex_lock(&p->mu);
    uint64_t g = ++p->gen;
    pthread_mutex_unlock(&p->mu);
    return g;
}

void vol_pool_submit(struct vol_pool *p, struct vol_task *t)
{
    t->next = NULL;
    pthread_mutex_lock(&p->mu);
    while (p->pending >= p->cap)
        pthread_cond_wait(&p->room, &p->mu);
    p->pending++;
    if (p->tail != NULL)
        p->tail->next = t;
    else
        p->head = t;
    p->tail = t;
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->mu);
}

bool vol_pool_failed(struct vol_pool *p)
{
    pthread_mutex_lock(&p->mu);
    bool f = p->failed;
    pthread_mutex_unlock(&p->mu);
    return f;
}

void vol_pool_file_done(struct vol_pool *p, uint64_t bytes)
{
    pthread_mutex_lock(&p->mu);
    p->files_done++;
    p->bytes_done += bytes;
    pthread_mutex_unlock(&p->mu);
}

void vol_pool_progress(struct vol_pool *p, uint64_t *files, uint64_t *bytes)
{
    pthread_mutex_lock(&p->mu);
    *files = p->files_done;
    *bytes = p->bytes_done;
    pthread_mutex_unlock(&p->mu);
}

static bool drain(struct vol_pool *p)
{
    pthread_mutex_lock(&p->mu);
    while (p->pending > 0)
        pthread_cond_wait(&p->room, &p->mu);
    bool failed = p->failed;
    pthread_mutex_unlock(&p->mu);
    return failed;
}

void vol_pool_drain(struct vol_pool *p)
{
    (void)drain(p);
}

int vol_pool_wait(struct vol_pool *p)
{
    if (!drain(p))
        return 0;
    /* No task runs now: the record is stable without the lock. */
    return arca_err_set(p->err_rc, "%s", p->err_detail);
}
