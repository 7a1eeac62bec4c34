/*
 * Group commit (store/group.c): write transactions that arrive together share one backend
 * transaction and one COMMIT. Batches are formed deterministically by holding member threads at
 * fixed points and waiting until the others are queued in tx_begin (engine.h gwaiting), so no
 * test depends on timing:
 * - threads committing at once: every acknowledged write is there after a reopen;
 * - three members in one batch make exactly one commit; one that aborts inside the batch leaves
 *   the others' writes;
 * - an injected fault in the batch's COMMIT fails every member, and the store goes on;
 * - a child writing from several threads is killed at random moments: every acknowledged write
 *   survives and the store opens.
 * Also run against PostgreSQL (unit.test_store_group.pg).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>

#include "base/err.h"
#include "store/engine.h"
#include "store/store.h"
#include "store_test_util.h"

static struct arca_store_fixed_sealer fs;

static void setup_sealer(void)
{
    uint8_t k[32];
    test_seal_key(k, 7);
    arca_store_fixed_sealer_init(&fs, k);
}

static void nap(void)
{
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
}

/* Waits (without a time limit: ctest's timeout bounds it) until n threads queue in tx_begin. */
static void wait_queued(struct arca_store *s, unsigned n)
{
    while (atomic_load(&s->gwaiting) != n)
        nap();
}

static bool meta_has(struct arca_store *s, const char *key)
{
    struct arca_buf b;
    arca_buf_init(&b, 0);
    int rc = arca_store_meta_get(s, key, &b);
    arca_buf_free(&b);
    assert_true(rc == 0 || rc == ARCA_ERR_NOT_FOUND);
    return rc == 0;
}

static uint64_t commit_of(struct arca_store *s)
{
    uint64_t c = 0;
    assert_int_equal(arca_store_state(s, &c, NULL), 0);
    return c;
}

/* ---- concurrent writers -------------------------------------------------------------------- */

#define WRITERS 8
#define PER_WRITER 25

struct writer {
    struct arca_store *s;
    int id;
    int failures;
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    for (int i = 0; i < PER_WRITER; i++) {
        char key[64], val[64];
        snprintf(key, sizeof(key), "w%d/%d", w->id, i);
        snprintf(val, sizeof(val), "value %d of writer %d", i, w->id);
        if (arca_store_meta_put(w->s, key, val, strlen(val)) != 0)
            w->failures++;
    }
    return NULL;
}

static void test_concurrent_writers(void **state)
{
    (void)state;
    char *dir = tdir_make();
    struct arca_store *s = NULL;
    assert_int_equal(test_store_open(dir, &fs, true, &s), 0);
    uint64_t before = commit_of(s);
    pthread_t t[WRITERS];
    struct writer w[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        w[i] = (struct writer){.s = s, .id = i};
        assert_int_equal(pthread_create(&t[i], NULL, writer_main, &w[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    uint64_t commits = commit_of(s) - before;
    assert_true(commits >= 1 && commits <= WRITERS * PER_WRITER);
    printf("# %d writes in %llu commits\n", WRITERS * PER_WRITER, (unsigned long long)commits);
    arca_store_close(s);
    assert_int_equal(test_store_open(dir, &fs, false, &s), 0);
    for (int i = 0; i < WRITERS; i++)
        for (int j = 0; j < PER_WRITER; j++) {
            char key[64], val[64];
            snprintf(key, sizeof(key), "w%d/%d", i, j);
            snprintf(val, sizeof(val), "value %d of writer %d", j, i);
            struct arca_buf b;
            arca_buf_init(&b, 0);
            assert_int_equal(arca_store_meta_get(s, key, &b), 0);
            assert_int_equal(b.len, strlen(val));
            assert_memory_equal(b.data, val, b.len);
            arca_buf_free(&b);
        }
    arca_store_close(s);
    tdir_remove(dir);
}

/* ---- members held at fixed points ------------------------------------------------------------ */

/* A member: begins, writes key, reports ready, waits for go, then commits (or aborts). */
struct member {
    struct arca_store *s;
    const char *key;
    bool abort;
    atomic_int ready, go, done;
    int rc;
};

static void *member_main(void *arg)
{
    struct member *m = arg;
    struct arca_store_tx tx;
    m->rc = arca_store_tx_begin(m->s, &tx);
    if (m->rc == 0) {
        struct arca_store_record r;
        memset(&r, 0, sizeof(r));
        r.tbl = ARCA_ST_META;
        r.key = (const uint8_t *)m->key;
        r.key_len = strlen(m->key);
        r.data = (const uint8_t *)"v";
        r.data_len = 1;
        m->rc = arca_store_tx_put(&tx, &r);
        atomic_store(&m->ready, 1);
        while (!atomic_load(&m->go))
            nap();
        if (m->rc == 0 && !m->abort)
            m->rc = arca_store_tx_commit(&tx);
        else
            arca_store_tx_abort(&tx);
    }
    atomic_store(&m->ready, 1);
    atomic_store(&m->done, 1);
    return NULL;
}

/* The member of m[0..n) that is ready and not yet released (there is at most one: it holds the
 * writer). */
static struct member *next_ready(struct member *m, int n)
{
    for (;;) {
        for (int i = 0; i < n; i++)
            if (atomic_load(&m[i].ready) && !atomic_load(&m[i].go))
                return &m[i];
        nap();
    }
}

/*
 * Forms one batch of three: m[0] begins alone, m[1] and m[2] queue behind it; each is released
 * in turn once it holds the writer, so the first two defer the COMMIT to the last.
 * before_last runs while the last member holds the writer, just before it is released.
 */
static void run_batch(struct arca_store *s, struct member m[3], void (*before_last)(void))
{
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        m[i].s = s;
    assert_int_equal(pthread_create(&t[0], NULL, member_main, &m[0]), 0);
    while (!atomic_load(&m[0].ready))
        nap();
    assert_int_equal(pthread_create(&t[1], NULL, member_main, &m[1]), 0);
    assert_int_equal(pthread_create(&t[2], NULL, member_main, &m[2]), 0);
    wait_queued(s, 2);
    atomic_store(&m[0].go, 1);
    struct member *x = next_ready(&m[1], 2); /* one of m[1], m[2] holds the writer */
    atomic_store(&x->go, 1);
    struct member *y = next_ready(&m[1], 2);
    if (before_last != NULL)
        before_last();
    atomic_store(&y->go, 1);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
}

static void test_batch_one_commit_and_abort(void **state)
{
    (void)state;
    char *dir = tdir_make();
    struct arca_store *s = NULL;
    assert_int_equal(test_store_open(dir, &fs, true, &s), 0);
    assert_int_equal(arca_store_meta_put(s, "before", "x", 1), 0);
    uint64_t c0 = commit_of(s);
    struct member m[3] = {{.key = "a"}, {.key = "b"}, {.key = "c", .abort = true}};
    run_batch(s, m, NULL);
    assert_int_equal(m[0].rc, 0);
    assert_int_equal(m[1].rc, 0);
    assert_int_equal(m[2].rc, 0);           /* its put succeeded; it then aborted */
    assert_int_equal(commit_of(s), c0 + 1); /* one COMMIT for the batch */
    assert_true(meta_has(s, "a") && meta_has(s, "b") && !meta_has(s, "c"));
    /* the first member aborting: the others still commit */
    struct member n[3] = {{.key = "d", .abort = true}, {.key = "e"}, {.key = "f"}};
    run_batch(s, n, NULL);
    assert_int_equal(n[1].rc, 0);
    assert_int_equal(n[2].rc, 0);
    assert_true(!meta_has(s, "d") && meta_has(s, "e") && meta_has(s, "f"));
    arca_store_close(s);
    assert_int_equal(test_store_open(dir, &fs, false, &s), 0);
    assert_true(meta_has(s, "before") && meta_has(s, "a") && meta_has(s, "b"));
    assert_true(!meta_has(s, "c") && !meta_has(s, "d") && meta_has(s, "e") && meta_has(s, "f"));
    arca_store_close(s);
    tdir_remove(dir);
}

/* The last member's commit: release of its savepoint (1st), then the batch's first write to
 * the backend after it (SQLite: COMMIT; PostgreSQL: the head row) fails. */
static void arm_batch_commit(void)
{
    arca_store_fault_arm(2);
}

static void test_batch_commit_fails_all(void **state)
{
    (void)state;
    char *dir = tdir_make();
    struct arca_store *s = NULL;
    assert_int_equal(test_store_open(dir, &fs, true, &s), 0);
    assert_int_equal(arca_store_meta_put(s, "before", "x", 1), 0);
    uint64_t c0 = commit_of(s);
    struct member m[3] = {{.key = "a"}, {.key = "b"}, {.key = "c"}};
    run_batch(s, m, arm_batch_commit);
    arca_store_fault_arm(0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(m[i].rc, ARCA_ERR_IO);
    assert_int_equal(commit_of(s), c0);
    assert_true(!meta_has(s, "a") && !meta_has(s, "b") && !meta_has(s, "c"));
    /* the store goes on */
    assert_int_equal(arca_store_meta_put(s, "after", "y", 1), 0);
    arca_store_close(s);
    assert_int_equal(test_store_open(dir, &fs, false, &s), 0);
    assert_true(meta_has(s, "before") && meta_has(s, "after"));
    assert_true(!meta_has(s, "a") && !meta_has(s, "b") && !meta_has(s, "c"));
    arca_store_close(s);
    tdir_remove(dir);
}

/* ---- SIGKILL during batched commits ------------------------------------------------------------ */

#define KILL_ROUNDS 12
#define CHILD_THREADS 6

struct kchild {
    struct arca_store *s;
    int id;
    uint32_t start;
    int wfd;
    pthread_mutex_t *mu;
};

static void *kchild_main(void *arg)
{
    struct kchild *k = arg;
    for (uint32_t n = k->start;; n++) {
        char key[64];
        snprintf(key, sizeof(key), "k%d/%u", k->id, n);
        if (arca_store_meta_put(k->s, key, key, strlen(key)) != 0) {
            fprintf(stderr, "child write: %s\n", arca_err_detail());
            _exit(4);
        }
        uint32_t ack[2] = {(uint32_t)k->id, n};
        pthread_mutex_lock(k->mu);
        ssize_t w = write(k->wfd, ack, sizeof(ack));
        pthread_mutex_unlock(k->mu);
        if (w != (ssize_t)sizeof(ack))
            _exit(5);
    }
    return NULL;
}

static void kill_child(const char *dir, uint32_t start, int wfd)
{
    struct arca_store *s = NULL;
    if (test_store_open(dir, &fs, false, &s) != 0) {
        fprintf(stderr, "child open: %s\n", arca_err_detail());
        _exit(3);
    }
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    struct kchild k[CHILD_THREADS];
    pthread_t t[CHILD_THREADS];
    for (int i = 0; i < CHILD_THREADS; i++) {
        k[i] = (struct kchild){.s = s, .id = i, .start = start, .wfd = wfd, .mu = &mu};
        if (pthread_create(&t[i], NULL, kchild_main, &k[i]) != 0)
            _exit(6);
    }
    for (;;)
        pause();
}

struct acks {
    uint32_t (*v)[2]; /* (thread, n) */
    size_t n, cap;
};

static void ack_add(struct acks *a, const uint32_t ack[2])
{
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 1024;
        a->v = realloc(a->v, a->cap * sizeof(*a->v));
        assert_non_null(a->v);
    }
    a->v[a->n][0] = ack[0];
    a->v[a->n][1] = ack[1];
    a->n++;
}

static void test_kill_during_batches(void **state)
{
    (void)state;
    char *dir = tdir_make();
    struct arca_store *s = NULL;
    assert_int_equal(test_store_open(dir, &fs, true, &s), 0);
    /* a shared database exists once something was committed */
    assert_int_equal(arca_store_meta_put(s, "start", "x", 1), 0);
    arca_store_close(s);
    struct acks acked = {0};
    uint64_t rng = 0x5eedULL;
    for (int round = 0; round < KILL_ROUNDS; round++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            kill_child(dir, (uint32_t)round * 100000u, p[1]);
        }
        close(p[1]);
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        /* wait for some acks (a count, not a time), then kill at a random moment after them */
        size_t want = 5 + (size_t)(rng % 40), got = 0;
        uint32_t ack[2];
        while (got < want && read(p[0], ack, sizeof(ack)) == (ssize_t)sizeof(ack)) {
            ack_add(&acked, ack);
            got++;
        }
        struct timespec ts = {0, (long)(rng % 3000) * 1000};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int st;
        waitpid(pid, &st, 0);
        assert_true(WIFSIGNALED(st));
        while (read(p[0], ack, sizeof(ack)) == (ssize_t)sizeof(ack))
            ack_add(&acked, ack);
        close(p[0]);
        assert_int_equal(test_store_open(dir, &fs, false, &s), 0);
        for (size_t i = 0; i < acked.n; i++) {
            char key[64];
            snprintf(key, sizeof(key), "k%u/%u", acked.v[i][0], acked.v[i][1]);
            assert_true(meta_has(s, key));
        }
        arca_store_close(s);
    }
    printf("# %zu acknowledged writes checked after %d kills\n", acked.n, KILL_ROUNDS);
    free(acked.v);
    tdir_remove(dir);
}

int main(void)
{
    setup_sealer();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_writers),
        cmocka_unit_test(test_batch_one_commit_and_abort),
        cmocka_unit_test(test_batch_commit_fails_all),
        cmocka_unit_test(test_kill_during_batches),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    arca_store_fixed_sealer_wipe(&fs);
    return rc;
}
