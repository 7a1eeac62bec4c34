/*
 * Audit log figures (moved here from the unit tests: timings are not pass/fail): appends per
 * second with a durable store checkpoint after every line (arcad's setting with witnesses),
 * from 1 and from 8 threads (which share checkpoints), with a checkpoint every 64 lines, and
 * with every line durable (fsync_each) from 1, 16 and 64 threads (group commit); and the
 * verification rate, for Ed25519 and ECDSA P-256 keys. Then arcad's session-read setting: plain
 * lines (not durable) with a checkpoint every 128 lines from 1 and 16 threads, with the latency
 * of each append (the 128th used to wait for the store commit of its checkpoint); and the cost
 * of each part of a line ("parts": signing, JSON encoding, write, fsync, checkpoint commit;
 * docs/performance.md "Audit line cost"). It checks only correctness (exit 1 if an append or
 * the verification fails), never speed.
 *
 * Usage: bench_audit [scale, default 1: lines = 200/400/1000 x scale] [durable: only the
 * durable-line runs]
 * (bench/store.sh builds it in Release and runs it with bench_store.)
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "base/err.h"
#include "bench_util.h"
#include "store_test_util.h"

#define die(what) bench_die("bench_audit", what)

struct th {
    struct arca_audit *a;
    json_t *fl;
    int n, fails;
    double *lat; /* NULL, or each append's seconds */
};

static void *appender(void *arg)
{
    struct th *t = arg;
    for (int i = 0; i < t->n; i++) {
        double t0 = t->lat != NULL ? bench_now_s() : 0;
        if (arca_audit_append(t->a, ARCA_AUDIT_SESSION_READ, t->fl, NULL) != 0)
            t->fails++;
        if (t->lat != NULL)
            t->lat[i] = bench_now_s() - t0;
    }
    return NULL;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static void run(struct arca_key *key, enum arca_key_type kt, unsigned every, int n, int threads,
                bool durable, bool latency)
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
    double *lat = latency ? calloc((size_t)n, sizeof(double)) : NULL;
    if (latency && lat == NULL)
        die("latencies");
    for (int i = 0; i < threads; i++) {
        th[i] = (struct th){.a = a,
                            .fl = fl,
                            .n = n / threads,
                            .lat = lat != NULL ? lat + i * (n / threads) : NULL};
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
           "verify %.0f lines/s",
           arca_key_type_name(kt), threads, every,
           durable ? ", every line durable" : (latency ? ", plain lines" : ""), n / dt,
           (double)r.lines / vt);
    if (lat != NULL) {
        size_t m = (size_t)(n / threads) * (size_t)threads;
        qsort(lat, m, sizeof(double), cmp_double);
        printf("; append latency us p50 %.0f p99 %.0f p99.9 %.0f max %.0f", lat[m / 2] * 1e6,
               lat[m * 99 / 100] * 1e6, lat[m * 999 / 1000] * 1e6, lat[m - 1] * 1e6);
        free(lat);
    }
    printf("\n");
    arca_store_close(s);
    arca_store_fixed_sealer_wipe(&fs);
    tdir_remove(dir);
}

/* A session_read line's fields as arcad writes them. */
static json_t *read_fields(void)
{
    return json_pack("{s:s, s:s, s:s}", "session", "bench-read", "hash",
                     "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", "client",
                     "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100");
}

/* The line content as audit.c built it before issue 14: one jansson object per line. */
static char *content_object(const json_t *fields, uint64_t seq)
{
    json_t *o = json_object(), *f = json_deep_copy(fields);
    json_object_set_new(o, "epoch", json_integer(41));
    json_object_set_new(o, "event", json_string(ARCA_AUDIT_SESSION_READ));
    json_object_set(o, "fields", f);
    json_object_set_new(o, "seq", json_integer((json_int_t)seq));
    json_object_set_new(o, "time", json_string("2026-12-03T06:00:00Z"));
    char *c = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    json_decref(f);
    json_decref(o);
    return c;
}

static int dump_cb(const char *p, size_t n, void *arg)
{
    return arca_buf_put(arg, p, n) == 0 ? 0 : -1;
}

/* The same bytes as audit.c builds them now: a printed frame around jansson's dump of fields. */
static void content_direct(const json_t *fields, uint64_t seq, struct arca_buf *c)
{
    arca_buf_reset(c);
    if (arca_buf_printf(c, "{\"epoch\":%d,\"event\":\"%s\",\"fields\":", 41,
                        ARCA_AUDIT_SESSION_READ) != 0 ||
        json_dump_callback(fields, dump_cb, c, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII) !=
            0 ||
        arca_buf_printf(c, ",\"seq\":%llu,\"time\":\"%s\"}", (unsigned long long)seq,
                        "2026-12-03T06:00:00Z") != 0)
        die("content");
}

/* Microseconds per call of each part of an audit line, one thread. */
static void parts(struct arca_key *key, enum arca_key_type kt, int n)
{
    json_t *fl = read_fields();
    char *content = content_object(fl, 1000);
    struct arca_buf c, sig;
    arca_buf_init(&c, 0);
    arca_buf_init(&sig, 0);
    content_direct(fl, 1000, &c);
    if (c.len != strlen(content) || memcmp(c.data, content, c.len) != 0)
        die("direct content differs from jansson's");
    /* the signed message: domain, previous signature, content */
    uint8_t msg[1024];
    size_t mlen = 14 + 4 + 72 + strlen(content);
    memset(msg, 0x5a, sizeof(msg));
    memcpy(msg + 90, content, strlen(content));
    free(content);

    double t0 = bench_now_s();
    for (int i = 0; i < n; i++) {
        arca_buf_reset(&sig);
        if (arca_sign(key, ARCA_SHA256, msg, mlen, &sig) != 0)
            die("sign");
    }
    double sign_us = (bench_now_s() - t0) * 1e6 / n;
    t0 = bench_now_s();
    for (int i = 0; i < n; i++)
        free(content_object(fl, (uint64_t)i));
    double obj_us = (bench_now_s() - t0) * 1e6 / n;
    t0 = bench_now_s();
    for (int i = 0; i < n; i++)
        content_direct(fl, (uint64_t)i, &c);
    double direct_us = (bench_now_s() - t0) * 1e6 / n;

    char *dir = tdir_make();
    if (dir == NULL)
        die("temporary directory");
    char path[600];
    snprintf(path, sizeof(path), "%s/lines", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        die("open");
    char line[400];
    memset(line, 'x', sizeof(line));
    line[sizeof(line) - 1] = '\n';
    t0 = bench_now_s();
    for (int i = 0; i < n; i++)
        if (write(fd, line, sizeof(line)) != (ssize_t)sizeof(line))
            die("write");
    double write_us = (bench_now_s() - t0) * 1e6 / n;
    const int ns = 50;
    t0 = bench_now_s();
    for (int i = 0; i < ns; i++)
        if (write(fd, line, sizeof(line)) != (ssize_t)sizeof(line) || fsync(fd) != 0)
            die("fsync");
    double fsync_us = (bench_now_s() - t0) * 1e6 / ns;
    close(fd);

    uint8_t k[32];
    test_seal_key(k, 9);
    struct arca_store_fixed_sealer fs;
    arca_store_fixed_sealer_init(&fs, k);
    struct arca_store *s = NULL;
    if (test_store_open(dir, &fs, true, &s) != 0)
        die("store open");
    struct arca_store_checkpoint cp;
    memset(&cp, 0, sizeof(cp));
    cp.sig_len = sig.len;
    memcpy(cp.sig, sig.data, sig.len);
    double cp_us[2];
    for (int h = 0; h < 2; h++) {
        t0 = bench_now_s();
        for (int i = 0; i < ns; i++) {
            cp.seq = (uint64_t)(h * ns + i + 1);
            if (arca_store_checkpoint_put(s, &cp, h == 1) != 0)
                die("checkpoint");
        }
        cp_us[h] = (bench_now_s() - t0) * 1e6 / ns;
    }
    arca_store_close(s);
    arca_store_fixed_sealer_wipe(&fs);
    tdir_remove(dir);
    printf("audit parts (%s, us per call): sign %.1f; content as a jansson object %.1f, "
           "printed around the fields %.1f; write(2) of a line %.1f; write + fsync %.0f; "
           "checkpoint commit %.0f (with history %.0f), per line at 1/128 + 1/250: %.1f\n",
           arca_key_type_name(kt), sign_us, obj_us, direct_us, write_us, fsync_us, cp_us[0],
           cp_us[1], cp_us[0] / 128 + cp_us[1] / 250);
    arca_buf_free(&c);
    arca_buf_free(&sig);
    json_decref(fl);
}

int main(int argc, char **argv)
{
    int scale = argc > 1 ? atoi(argv[1]) : 1;
    bool only_durable = argc > 2 && strcmp(argv[2], "durable") == 0;
    if (scale <= 0 || scale > 1000 || (argc > 2 && !only_durable)) {
        fprintf(stderr, "usage: bench_audit [scale 1..1000 [durable]]\n");
        return 2;
    }
    printf("# command: %s %d%s  (store and log in /tmp)\n", argv[0], scale,
           only_durable ? " durable" : "");
    enum arca_key_type types[] = {ARCA_KEY_ED25519, ARCA_KEY_P256};
    for (int t = 0; t < 2; t++) {
        struct arca_key *key = NULL;
        if (arca_key_generate(types[t], &key) != 0)
            die("key");
        if (only_durable)
            goto durable;
        run(key, types[t], 1, 200 * scale, 1, false, false);
        /* concurrent appenders share checkpoints */
        run(key, types[t], 1, 400 * scale, 8, false, false);
        run(key, types[t], 64, 1000 * scale, 1, false, false);
    durable:
        /* every line fsynced before its append returns (arcad's attestation lines), with
         * arcad's checkpoint interval: concurrent appenders share one write and one fsync */
        run(key, types[t], 128, 300 * scale, 1, true, false);
        run(key, types[t], 128, 1024 * scale, 16, true, false);
        run(key, types[t], 128, 2048 * scale, 64, true, false);
        if (only_durable) {
            arca_key_free(key);
            continue;
        }
        /* arcad's session reads: plain lines, a checkpoint every 128 */
        run(key, types[t], 128, 4096 * scale, 1, false, true);
        run(key, types[t], 128, 4096 * scale, 16, false, true);
        parts(key, types[t], 2000 * scale);
        arca_key_free(key);
    }
    return 0;
}
