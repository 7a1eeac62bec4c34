/*
 * Sealed store figures (moved here from the unit tests: timings are not pass/fail): durable
 * session commits per second with p50/p99 latency, reads of the active version per second
 * from 1 and 4 threads, the time open() takes to verify the whole store, and durable session
 * commits from 16 and 64 threads at once (group commit: store/group.c). It checks only
 * correctness (exit 1 if an operation fails), never speed.
 *
 * Usage: bench_store [sessions, default 500]
 * (bench/store.sh builds it in Release and runs it with bench_audit.)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "bench_util.h"
#include "store/store.h"
#include "store_test_util.h"

#define die(what) bench_die("bench_store", what)

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
    double t0 = bench_now_s();
    for (int i = 0; i < threads; i++) {
        r[i] = (struct rd){.s = s, .n = per_thread, .sessions = sessions};
        if (pthread_create(&t[i], NULL, reader, &r[i]) != 0)
            die("pthread_create");
    }
    int errors = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        errors += r[i].errors;
    }
    if (errors > 0)
        die("active-version read");
    return threads * per_thread / (bench_now_s() - t0);
}

struct wr {
    struct arca_store *s;
    int id, n, errors;
    const char *yaml;
    double *lat;
};

static void *writer(void *arg)
{
    struct wr *w = arg;
    for (int i = 0; i < w->n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "perf/w%d-%d", w->id, i);
        struct arca_store_session v;
        test_session(&v, name, 0, NULL, 1);
        memset(v.hash, 0, 32);
        memcpy(v.hash, &w->id, sizeof(w->id));
        memcpy(v.hash + 8, &i, sizeof(i));
        v.hash[16] = 0xee;
        v.yaml = (char *)w->yaml;
        v.yaml_len = strlen(w->yaml);
        double a = bench_now_s();
        if (arca_store_session_commit(w->s, &v, "secret-blob", 11) != 0)
            w->errors++;
        w->lat[i] = bench_now_s() - a;
    }
    return NULL;
}

/* total session commits from threads at once: prints the rate with p50/p99 latency. */
static void concurrent_commits(struct arca_store *s, int threads, int total, const char *yaml)
{
    int per = total / threads > 0 ? total / threads : 1;
    double *lat = calloc((size_t)threads * (size_t)per, sizeof(double));
    struct wr *w = calloc((size_t)threads, sizeof(*w));
    pthread_t *t = calloc((size_t)threads, sizeof(*t));
    if (lat == NULL || w == NULL || t == NULL)
        die("calloc");
    double t0 = bench_now_s();
    for (int i = 0; i < threads; i++) {
        w[i] = (struct wr){.s = s,
                           .id = threads * 1000 + i,
                           .n = per,
                           .yaml = yaml,
                           .lat = lat + (size_t)i * (size_t)per};
        if (pthread_create(&t[i], NULL, writer, &w[i]) != 0)
            die("pthread_create");
    }
    int errors = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        errors += w[i].errors;
    }
    double sec = bench_now_s() - t0;
    if (errors > 0)
        die("concurrent commit");
    size_t n = (size_t)threads * (size_t)per;
    qsort(lat, n, sizeof(double), dcmp);
    uint64_t commits = 0;
    (void)arca_store_state(s, &commits, NULL);
    printf("store: %zu durable session commits from %d threads: %.0f/s, p50 %.2f ms, "
           "p99 %.2f ms (store commit counter now %llu)\n",
           n, threads, n / sec, lat[n / 2] * 1e3, lat[(n * 99) / 100] * 1e3,
           (unsigned long long)commits);
    free(lat);
    free(w);
    free(t);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 500;
    if (n <= 0 || n > 1000000) {
        fprintf(stderr, "usage: bench_store [sessions 1..1000000]\n");
        return 2;
    }
    char *dir = tdir_make();
    if (dir == NULL)
        die("temporary directory");
    printf("# command: %s %d  (store files in /tmp)\n", argv[0], n);
    uint8_t k[32];
    test_seal_key(k, 4);
    struct arca_store_fixed_sealer fs;
    arca_store_fixed_sealer_init(&fs, k);
    struct arca_store *s = NULL;
    if (test_store_open(dir, &fs, true, &s) != 0)
        die("open");
    double *lat = calloc((size_t)n, sizeof(double));
    if (lat == NULL)
        die("calloc");
    char yaml[2048];
    memset(yaml, 'y', sizeof(yaml) - 1);
    yaml[sizeof(yaml) - 1] = '\0';
    double t0 = bench_now_s();
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "perf/s%d", i);
        struct arca_store_session v;
        test_session(&v, name, 0, NULL, 1);
        memset(v.hash, 0, 32);
        memcpy(v.hash, &i, sizeof(i));
        v.yaml = yaml;
        v.yaml_len = sizeof(yaml) - 1;
        double a = bench_now_s();
        if (arca_store_session_commit(s, &v, "secret-blob", 11) != 0)
            die("commit");
        lat[i] = bench_now_s() - a;
    }
    double wsec = bench_now_s() - t0;
    qsort(lat, (size_t)n, sizeof(double), dcmp);
    printf("store: %d durable session commits (2 KiB YAML + secrets + active pointer): "
           "%.0f/s, p50 %.2f ms, p99 %.2f ms\n",
           n, n / wsec, lat[n / 2] * 1e3, lat[(n * 99) / 100] * 1e3);
    double r1 = read_rate(s, 1, 4 * n, n), r4 = read_rate(s, 4, 4 * n, n);
    printf("store: active-version reads: %.0f/s (1 thread), %.0f/s (4 threads)\n", r1, r4);
    arca_store_close(s);
    t0 = bench_now_s();
    if (test_store_open(dir, &fs, false, &s) != 0)
        die("reopen");
    printf("store: open with full verification of %d sessions (%d records): %.1f ms\n", n, 3 * n,
           (bench_now_s() - t0) * 1e3);
    concurrent_commits(s, 16, n, yaml);
    concurrent_commits(s, 64, n, yaml);
    arca_store_close(s);
    arca_store_fixed_sealer_wipe(&fs);
    free(lat);
    tdir_remove(dir);
    return 0;
}
