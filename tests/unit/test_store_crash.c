/*
 * Crash consistency: a child process writes a stream of records (metadata values and session
 * updates) and reports each one on a pipe after the store call returned; the parent kills it
 * with SIGKILL at random moments, 60 times. The child also compacts the journal every 16
 * writes, so some kills land inside a compaction. After every kill the store must open
 * (recovering an interrupted key-store update), every acknowledged record must be there, and
 * the state chain must verify (open checks it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "base/err.h"
#include "store/store.h"
#include "store_test_util.h"

#define ROUNDS 60

static uint64_t rng_state = 0x5eed5eed12345678ULL;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void hash_of(uint64_t v, uint8_t h[32])
{
    memset(h, 0, 32);
    for (int i = 0; i < 8; i++)
        h[i] = (uint8_t)(v >> (8 * i));
    h[31] = 0xaa;
}

/* The child: writes records n = start, start+1, ... forever; acks each with its number. */
static void child(const char *dir, struct arca_store_fixed_sealer *fs, uint32_t start, int wfd)
{
    struct arca_store *s = NULL;
    if (test_store_open(dir, fs, false, &s) != 0) {
        fprintf(stderr, "child open: %s\n", arca_err_detail());
        _exit(3);
    }
    struct arca_store_active a;
    memset(&a, 0, sizeof(a));
    uint64_t version = 0;
    uint8_t prev[32];
    if (arca_store_active_get(s, "crash/app", &a) == 0) {
        version = a.version;
        memcpy(prev, a.hash, 32);
        arca_store_active_clear(&a);
    }
    for (uint32_t n = start;; n++) {
        int rc;
        uint32_t ack;
        if (n % 2 == 0) {
            char key[32], val[64];
            snprintf(key, sizeof(key), "rec%u", n);
            snprintf(val, sizeof(val), "value of record %u", n);
            rc = arca_store_meta_put(s, key, val, strlen(val));
            ack = n;
        } else {
            struct arca_store_session v;
            test_session(&v, "crash/app", 0, version ? prev : NULL, version + 1);
            hash_of(version + 1, v.hash);
            rc = arca_store_session_commit(s, &v, "s", 1);
            if (rc == 0) {
                version++;
                memcpy(prev, v.hash, 32);
            }
            ack = 0x80000000u | (uint32_t)version;
        }
        if (rc != 0) {
            fprintf(stderr, "child write: %s\n", arca_err_detail());
            _exit(4);
        }
        if (write(wfd, &ack, sizeof(ack)) != sizeof(ack))
            _exit(5);
        /* compact now and then, so that kills also land inside a compaction */
        if (n % 16 == 15 && arca_store_compact(s, NULL) != 0) {
            fprintf(stderr, "child compact: %s\n", arca_err_detail());
            _exit(6);
        }
    }
}

static void test_kill9(void **state)
{
    (void)state;
    char *dir = tdir_make();
    uint8_t k[32];
    test_seal_key(k, 5);
    struct arca_store_fixed_sealer fs;
    arca_store_fixed_sealer_init(&fs, k);
    struct arca_store *s = NULL;
    assert_int_equal(test_store_open(dir, &fs, true, &s), 0);
    arca_store_close(s);

    uint32_t next = 0, acked_meta = 0, have_meta = 0;
    uint64_t acked_version = 0;
    uint64_t total_acks = 0;
    for (int round = 0; round < ROUNDS; round++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            child(dir, &fs, next, p[1]);
        }
        close(p[1]);
        /* let it run for a random 0..40 ms after its first ack, then kill it */
        uint32_t ack;
        struct pollfd pfd = {.fd = p[0], .events = POLLIN};
        assert_true(poll(&pfd, 1, 10000) == 1);
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)(rng() % 40000) * 1000};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
        /* every ack in the pipe was written after the store call returned */
        ssize_t r;
        while ((r = read(p[0], &ack, sizeof(ack))) == sizeof(ack)) {
            total_acks++;
            if (ack & 0x80000000u) {
                acked_version = ack & 0x7fffffffu;
            } else {
                acked_meta = ack;
                have_meta = 1;
            }
            if ((ack & 0x80000000u) == 0)
                next = ack + 1;
        }
        close(p[0]);
        if (next % 2 == 1)
            next++; /* restart on a metadata record */

        s = NULL;
        int rc = test_store_open(dir, &fs, false, &s);
        if (rc != 0)
            fprintf(stderr, "round %d: open: %s\n", round, arca_err_detail());
        assert_int_equal(rc, 0);
        /* the latest acknowledged records are there (older ones are checked by the chain) */
        if (have_meta) {
            char key[32], val[64];
            snprintf(key, sizeof(key), "rec%u", acked_meta);
            snprintf(val, sizeof(val), "value of record %u", acked_meta);
            struct arca_buf b;
            arca_buf_init(&b, 0);
            assert_int_equal(arca_store_meta_get(s, key, &b), 0);
            assert_int_equal(b.len, strlen(val));
            assert_memory_equal(b.data, val, b.len);
            arca_buf_free(&b);
        }
        if (acked_version > 0) {
            struct arca_store_active a;
            assert_int_equal(arca_store_active_get(s, "crash/app", &a), 0);
            assert_true(a.version >= acked_version);
            arca_store_active_clear(&a);
            uint8_t h[32];
            hash_of(acked_version, h);
            struct arca_store_session *got = NULL;
            assert_int_equal(arca_store_session_get(s, h, &got), 0);
            assert_int_equal(got->version, acked_version);
            arca_store_session_free(got);
        }
        arca_store_close(s);
    }
    /* finally every acknowledged metadata record of every round */
    assert_int_equal(test_store_open(dir, &fs, false, &s), 0);
    for (uint32_t n = 0; n <= acked_meta; n += 2) {
        char key[32];
        snprintf(key, sizeof(key), "rec%u", n);
        struct arca_buf b;
        arca_buf_init(&b, 0);
        int rc = arca_store_meta_get(s, key, &b);
        arca_buf_free(&b);
        if (rc != 0)
            fprintf(stderr, "rec%u: %s\n", n, arca_err_detail());
        assert_int_equal(rc, 0);
    }
    uint64_t commit;
    arca_store_state(s, &commit, NULL);
    arca_store_close(s);
    printf("%d kills, %llu acknowledged writes, %llu commits, last version %llu\n", ROUNDS,
           (unsigned long long)total_acks, (unsigned long long)commit,
           (unsigned long long)acked_version);
    tdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill9),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
