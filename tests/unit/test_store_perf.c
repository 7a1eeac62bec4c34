/*
 * Store figures (a smoke test that prints numbers; it asserts only correctness, so it never
 * fails on a slow machine): durable session commits per second with p50/p99 latency, reads of
 * the active version per second from 1 and 4 threads, and the time open() takes to verify the
 * whole store. Run: ctest -R test_store_perf -V  (ARCA_PERF_N overrides the 500 sessions).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <time.h>

#include "base/err.h"
#include "store/store.h"
#include "store_test_util.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int dcmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

struct rd {
    struct arca_store *s;
    int n, sessions, errors;
};

static void *reader(void *arg)
{
    struct rd *r = arg;
    for (int i = 0; i < r->n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "perf/s%d", i % r->sessions);
        struct arca_store_session *got = NULL;
        if (arca_store_session_get_active(r->s, name, &got) != 0)
            r->errors++;
        arca_store_session_free(got);
    }
    return NULL;
}

static double read_rate(struct arca_store *s, int threads, int per_thread, int sessions)
{
    pthread_t t[8];
    struct rd r[8];
    double t0 = now_s();
    for (int i = 0; i < threads; i++) {
        r[i] = (struct rd){.s = s, .n = per_thread, .sessions = sessions};
        pthread_create(&t[i], NULL, reader, &r[i]);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(r[i].errors, 0);
    }
    return threads * per_thread / (now_s() - t0);
}

static void test_perf(void **state)
{
    (void)state;
    int n = 500;
    const char *env = getenv("ARCA_PERF_N");
    if (env != NULL && atoi(env) > 0)
        n = atoi(env);
    char *dir = tdir_make();
    uint8_t k[32];
    test_seal_key(k, 4);
    struct arca_store_fixed_sealer fs;
    arca_store_fixed_sealer_init(&fs, k);
    struct arca_store *s = NULL;
    assert_int_equal(test_store_open(dir, &fs, true, &s), 0);
    double *lat = calloc((size_t)n, sizeof(double));
    char yaml[2048];
    memset(yaml, 'y', sizeof(yaml) - 1);
    yaml[sizeof(yaml) - 1] = '\0';
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "perf/s%d", i);
        struct arca_store_session v;
        test_session(&v, name, 0, NULL, 1);
        memset(v.hash, 0, 32);
        memcpy(v.hash, &i, sizeof(i));
        v.yaml = yaml;
        v.yaml_len = sizeof(yaml) - 1;
        double a = now_s();
        assert_int_equal(arca_store_session_commit(s, &v, "secret-blob", 11), 0);
        lat[i] = now_s() - a;
    }
    double wsec = now_s() - t0;
    qsort(lat, (size_t)n, sizeof(double), dcmp);
    printf("store perf: %d durable session commits (2 KiB YAML + secrets + active pointer): "
           "%.0f/s, p50 %.2f ms, p99 %.2f ms\n",
           n, n / wsec, lat[n / 2] * 1e3, lat[(n * 99) / 100] * 1e3);
    printf("store perf: active-version reads: %.0f/s (1 thread), %.0f/s (4 threads)\n",
           read_rate(s, 1, 4 * n, n), read_rate(s, 4, 4 * n, n));
    arca_store_close(s);
    t0 = now_s();
    assert_int_equal(test_store_open(dir, &fs, false, &s), 0);
    printf("store perf: open with full verification of %d sessions (%d records): %.1f ms\n", n,
           3 * n, (now_s() - t0) * 1e3);
    arca_store_close(s);
    free(lat);
    tdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_perf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
