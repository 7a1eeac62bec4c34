/*
 * Audit log figures (moved here from the unit tests: timings are not pass/fail): appends per
 * second with a durable store checkpoint after every line (arcad's setting with witnesses),
 * from 1 and from 8 threads (which share checkpoints), with a checkpoint every 64 lines, and
 * with every line durable (fsync_each) from 1, 16 and 64 threads (group commit); and the
 * verification rate, for Ed25519 and ECDSA P-256 keys. It checks only correctness (exit 1 if
 * an append or the verification fails), never speed.
 *
 * Usage: bench_audit [scale, default 1: lines = 200/400/1000 x scale]
 * (bench/store.sh builds it in Release and runs it with bench_store.)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "audit/audit.h"
#include "base/err.h"
#include "bench_util.h"
#include "store_test_util.h"

#define die(what) bench_die("bench_audit", what)

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

static void run(struct arca_key *key, enum arca_key_type kt, unsigned every, int n, int threads,
                bool durable)
{
    char *dir = tdir_make();
    if (dir == NULL)
        die("temporary directory");
    uint8_t k[32];
    test_seal_key(k, 8);
    struct arca_store_fixed_sealer fs;
    arca_store_fixed_sealer_init(&fs, k);
    struct arca_store *s = NULL;
    if (test_store_open(dir, &fs, true, &s) != 0)
        die("store open");
    char path[600];
    snprintf(path, sizeof(path), "%s/audit.log", dir);
    struct arca_audit_options o = {
        .path = path, .key = key, .store = s, .checkpoint_every = every, .fsync_each = durable};
    struct arca_audit *a = NULL;
    if (arca_audit_open(&o, &a) != 0)
        die("audit open");
    json_t *fl = json_pack("{s:s, s:s}", "session", "app/db", "hash",
                           "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
    double t0 = bench_now_s();
    pthread_t tid[64];
    struct th th[64];
    for (int i = 0; i < threads; i++) {
        th[i] = (struct th){.a = a, .fl = fl, .n = n / threads};
        if (pthread_create(&tid[i], NULL, appender, &th[i]) != 0)
            die("pthread_create");
    }
    int fails = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
        fails += th[i].fails;
    }
    if (fails > 0)
        die("append");
    double dt = bench_now_s() - t0;
    json_decref(fl);
    arca_audit_close(a);
    struct arca_audit_verify_opts vo = {.key = key};
    struct arca_audit_verify_result r;
    t0 = bench_now_s();
    if (arca_audit_verify_file(path, &vo, &r) != 0 || !r.ok)
        die("verify");
    double vt = bench_now_s() - t0;
    printf("audit: %s, %d thread(s), checkpoint every %u line(s)%s: %.0f appends/s; "
           "verify %.0f lines/s\n",
           arca_key_type_name(kt), threads, every, durable ? ", every line durable" : "", n / dt,
           (double)r.lines / vt);
    arca_store_close(s);
    arca_store_fixed_sealer_wipe(&fs);
    tdir_remove(dir);
}

int main(int argc, char **argv)
{
    int scale = argc > 1 ? atoi(argv[1]) : 1;
    if (scale <= 0 || scale > 1000) {
        fprintf(stderr, "usage: bench_audit [scale 1..1000]\n");
        return 2;
    }
    printf("# command: %s %d  (store and log in /tmp)\n", argv[0], scale);
    enum arca_key_type types[] = {ARCA_KEY_ED25519, ARCA_KEY_P256};
    for (int t = 0; t < 2; t++) {
        struct arca_key *key = NULL;
        if (arca_key_generate(types[t], &key) != 0)
            die("key");
        run(key, types[t], 1, 200 * scale, 1, false);
        run(key, types[t], 1, 400 * scale, 8, false); /* concurrent appenders share checkpoints */
        run(key, types[t], 64, 1000 * scale, 1, false);
        /* every line fsynced before its append returns (arcad's attestation lines), with
         * arcad's checkpoint interval: concurrent appenders share one write and one fsync */
        run(key, types[t], 128, 300 * scale, 1, true);
        run(key, types[t], 128, 1024 * scale, 16, true);
        run(key, types[t], 128, 2048 * scale, 64, true);
        arca_key_free(key);
    }
    return 0;
}
