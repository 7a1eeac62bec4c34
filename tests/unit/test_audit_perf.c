/*
 * Audit log figures (prints numbers, asserts only correctness): appends per second with a
 * durable store checkpoint after every line (arcad's setting), from 1 and from 8 threads
 * (which share checkpoints), and every 64 lines; and the verification rate.
 * Run: ctest -R test_audit_perf -V
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <time.h>

#include "audit/audit.h"
#include "base/err.h"
#include "store_test_util.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct th {
    struct arca_audit *a;
    json_t *fl;
    int n, fails;
};

static void *appender(void *arg)
{
    struct th *t = arg;
    for (int i = 0; i < t->n; i++)
        if (arca_audit_append(t->a, ARCA_AUDIT_SESSION_READ, t->fl, NULL) != 0)
            t->fails++;
    return NULL;
}

static void run(struct arca_key *key, enum arca_key_type kt, unsigned every, int n, int threads)
{
    char *dir = tdir_make();
    uint8_t k[32];
    test_seal_key(k, 8);
    struct arca_store_fixed_sealer fs;
    arca_store_fixed_sealer_init(&fs, k);
    struct arca_store *s = NULL;
    assert_int_equal(test_store_open(dir, &fs, true, &s), 0);
    char path[600];
    snprintf(path, sizeof(path), "%s/audit.log", dir);
    struct arca_audit_options o = {.path = path, .key = key, .store = s, .checkpoint_every = every};
    struct arca_audit *a = NULL;
    assert_int_equal(arca_audit_open(&o, &a), 0);
    json_t *fl = json_pack("{s:s, s:s}", "session", "app/db", "hash",
                           "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
    double t0 = now_s();
    pthread_t tid[8];
    struct th th[8];
    for (int i = 0; i < threads; i++) {
        th[i] = (struct th){.a = a, .fl = fl, .n = n / threads};
        pthread_create(&tid[i], NULL, appender, &th[i]);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
        assert_int_equal(th[i].fails, 0);
    }
    double dt = now_s() - t0;
    json_decref(fl);
    arca_audit_close(a);
    struct arca_audit_verify_opts vo = {.key = key};
    struct arca_audit_verify_result r;
    t0 = now_s();
    assert_int_equal(arca_audit_verify_file(path, &vo, &r), 0);
    double vt = now_s() - t0;
    assert_true(r.ok);
    printf("audit perf: %s, %d thread(s), checkpoint every %u line(s): %.0f appends/s; "
           "verify %.0f lines/s\n",
           arca_key_type_name(kt), threads, every, n / dt, (double)r.lines / vt);
    arca_store_close(s);
    tdir_remove(dir);
}

static void test_perf(void **state)
{
    (void)state;
    enum arca_key_type types[] = {ARCA_KEY_ED25519, ARCA_KEY_P256};
    for (int t = 0; t < 2; t++) {
        struct arca_key *key = NULL;
        assert_int_equal(arca_key_generate(types[t], &key), 0);
        run(key, types[t], 1, 200, 1);
        run(key, types[t], 1, 400, 8); /* concurrent appenders share checkpoints */
        run(key, types[t], 64, 1000, 1);
        arca_key_free(key);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_perf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
