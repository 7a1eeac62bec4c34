/* The job pool: work runs off the loop thread, done runs on it, the queue bound refuses at
 * once, and freeing the pool finishes every queued job. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdatomic.h>

#include "base/err.h"
#include "pool.h"

struct t_job {
    pthread_t loop, work_thread, done_thread;
    pthread_mutex_t *gate; /* work blocks on it, so jobs pile up */
    atomic_int *worked;
    int *done_count;
    int expect;
    struct event_base *base;
};

static void work(void *arg)
{
    struct t_job *j = arg;
    j->work_thread = pthread_self();
    if (j->gate != NULL) {
        pthread_mutex_lock(j->gate);
        pthread_mutex_unlock(j->gate);
    }
    atomic_fetch_add(j->worked, 1);
}

static void done(void *arg)
{
    struct t_job *j = arg;
    j->done_thread = pthread_self();
    if (++*j->done_count == j->expect)
        event_base_loopexit(j->base, NULL);
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

/* A loop that stays up like arcad's (its listeners keep it busy); free with loop_free. */
static struct event_base *loop_new(struct event **keep)
{
    struct event_base *base = event_base_new();
    *keep = event_new(base, -1, EV_PERSIST, tick, NULL);
    struct timeval tv = {1, 0};
    event_add(*keep, &tv);
    return base;
}

static void loop_free(struct event_base *base, struct event *keep)
{
    event_free(keep);
    event_base_free(base);
}

static void test_work_off_loop_done_on_loop(void **state)
{
    (void)state;
    struct event *keep;
    struct event_base *base = loop_new(&keep);
    struct arcad_pool_cfg cfg = {.threads = 2, .max_queued = 64};
    struct arcad_pool *p = NULL;
    assert_int_equal(arcad_pool_new(&cfg, &p), 0);
    atomic_int worked = 0;
    int ndone = 0;
    struct t_job jobs[20];
    for (int i = 0; i < 20; i++) {
        jobs[i] = (struct t_job){.loop = pthread_self(),
                                 .worked = &worked,
                                 .done_count = &ndone,
                                 .expect = 20,
                                 .base = base};
        assert_int_equal(arcad_pool_submit(p, base, work, done, &jobs[i]), 0);
    }
    assert_int_equal(event_base_dispatch(base), 0);
    assert_int_equal(ndone, 20);
    assert_int_equal(atomic_load(&worked), 20);
    for (int i = 0; i < 20; i++) {
        assert_false(pthread_equal(jobs[i].work_thread, pthread_self()));
        assert_true(pthread_equal(jobs[i].done_thread, pthread_self()));
    }
    arcad_pool_free(p);
    loop_free(base, keep);
}

static void test_full_queue_refuses(void **state)
{
    (void)state;
    struct event *keep;
    struct event_base *base = loop_new(&keep);
    struct arcad_pool_cfg cfg = {.threads = 1, .max_queued = 3};
    struct arcad_pool *p = NULL;
    assert_int_equal(arcad_pool_new(&cfg, &p), 0);
    pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&gate);
    atomic_int worked = 0;
    int ndone = 0;
    struct t_job jobs[5];
    int accepted = 0, refused = 0;
    for (int i = 0; i < 5; i++) {
        jobs[i] = (struct t_job){
            .gate = &gate, .worked = &worked, .done_count = &ndone, .expect = -1, .base = base};
        int rc = arcad_pool_submit(p, base, work, done, &jobs[i]);
        if (rc == 0)
            accepted++;
        else {
            assert_int_equal(rc, ARCA_ERR_LIMIT);
            assert_non_null(strstr(arca_err_detail(), "busy"));
            refused++;
        }
    }
    /* one job may already run on the only thread; at most 3 wait */
    assert_true(accepted >= 3 && accepted <= 4);
    assert_int_equal(accepted + refused, 5);
    assert_int_equal(arcad_pool_pending(p), (size_t)accepted); /* waiting or held at the gate */
    pthread_mutex_unlock(&gate);
    for (int i = 0; i < accepted; i++)
        jobs[i].expect = accepted;
    while (ndone < accepted)
        event_base_loop(base, EVLOOP_ONCE);
    assert_int_equal(atomic_load(&worked), accepted);
    arcad_pool_free(p);
    loop_free(base, keep);
}

static void test_free_finishes_queued_work(void **state)
{
    (void)state;
    struct event *keep;
    struct event_base *base = loop_new(&keep);
    struct arcad_pool_cfg cfg = {.threads = 1, .max_queued = 16};
    struct arcad_pool *p = NULL;
    assert_int_equal(arcad_pool_new(&cfg, &p), 0);
    atomic_int worked = 0;
    int ndone = 0;
    struct t_job jobs[10];
    for (int i = 0; i < 10; i++) {
        jobs[i] =
            (struct t_job){.worked = &worked, .done_count = &ndone, .expect = 10, .base = base};
        assert_int_equal(arcad_pool_submit(p, base, work, done, &jobs[i]), 0);
    }
    arcad_pool_free(p); /* every work ran; the done events wait on the loop */
    assert_int_equal(atomic_load(&worked), 10);
    assert_int_equal(event_base_dispatch(base), 0);
    assert_int_equal(ndone, 10);
    loop_free(base, keep);
}

/* arcad's SIGTERM order: drain while the loops still run, refuse later submits, free last. */
static void test_drain_then_refuse(void **state)
{
    (void)state;
    struct event *keep;
    struct event_base *base = loop_new(&keep);
    struct arcad_pool_cfg cfg = {.threads = 2, .max_queued = 16};
    struct arcad_pool *p = NULL;
    assert_int_equal(arcad_pool_new(&cfg, &p), 0);
    atomic_int worked = 0;
    int ndone = 0;
    struct t_job jobs[6];
    for (int i = 0; i < 6; i++) {
        jobs[i] =
            (struct t_job){.worked = &worked, .done_count = &ndone, .expect = 6, .base = base};
        assert_int_equal(arcad_pool_submit(p, base, work, done, &jobs[i]), 0);
    }
    arcad_pool_drain(p);
    assert_int_equal(atomic_load(&worked), 6);
    assert_int_equal(arcad_pool_pending(p), 0);
    struct t_job late = {.worked = &worked, .done_count = &ndone, .base = base};
    assert_int_equal(arcad_pool_submit(p, base, work, done, &late), ARCA_ERR_LIMIT);
    assert_non_null(strstr(arca_err_detail(), "shutting down"));
    arcad_pool_drain(p); /* idempotent */
    assert_int_equal(event_base_dispatch(base), 0);
    assert_int_equal(ndone, 6);
    arcad_pool_free(p);
    loop_free(base, keep);
}

static void test_bad_args(void **state)
{
    (void)state;
    struct arcad_pool_cfg cfg = {.threads = 0, .max_queued = 1};
    struct arcad_pool *p = NULL;
    assert_int_equal(arcad_pool_new(&cfg, &p), ARCA_ERR_INVALID_ARG);
    assert_null(p);
}

int main(void)
{
    evthread_use_pthreads();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_work_off_loop_done_on_loop),
        cmocka_unit_test(test_full_queue_refuses),
        cmocka_unit_test(test_free_finishes_queued_work),
        cmocka_unit_test(test_drain_then_refuse),
        cmocka_unit_test(test_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
