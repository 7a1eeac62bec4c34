/* Audit group commit (issue 14): concurrent appenders share one write and one fsync, each
 * returns only once its own line is durable, a failed batch fails every caller in it and
 * leaves a verifiable log, and a crash mid-batch keeps every acknowledged line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit/audit.h"
#include "audit/audit_internal.h"
#include "base/err.h"
#include "audit_test_util.h"

/* The fault hook: counts the calls, can hold the first write until released, and can fail
 * the Nth call of one operation. */
struct hook {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int writes, fsyncs;
    bool hold_first_write; /* the first write waits until released */
    bool holding;          /* a write is held now */
    bool released;
    const char *fail_op; /* "write" or "fsync" (NULL: none) */
    int fail_at;         /* 1-based call of fail_op that fails with EIO */
};

static int hook_fault(void *arg, const char *op)
{
    struct hook *h = arg;
    pthread_mutex_lock(&h->mu);
    bool write = strcmp(op, "write") == 0;
    int n = write ? ++h->writes : ++h->fsyncs;
    if (write && n == 1 && h->hold_first_write) {
        h->holding = true;
        pthread_cond_broadcast(&h->cond);
        while (!h->released)
            pthread_cond_wait(&h->cond, &h->mu);
        h->holding = false;
    }
    int e = h->fail_op != NULL && strcmp(op, h->fail_op) == 0 && n == h->fail_at ? EIO : 0;
    pthread_mutex_unlock(&h->mu);
    return e;
}

static void hook_init(struct hook *h)
{
    memset(h, 0, sizeof(*h));
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cond, NULL);
}

static void hook_destroy(struct hook *h)
{
    pthread_cond_destroy(&h->cond);
    pthread_mutex_destroy(&h->mu);
}

static struct arca_audit *open_durable(struct fx *f, struct arca_store *store, struct hook *h,
                                       unsigned every)
{
    struct arca_audit_options o = {.path = f->path,
                                   .key = f->key,
                                   .store = store,
                                   .checkpoint_every = every,
                                   .fsync_each = true,
                                   .fault = h != NULL ? hook_fault : NULL,
                                   .fault_arg = h};
    struct arca_audit *a = NULL;
    int rc = arca_audit_open(&o, &a);
    if (rc != 0)
        fprintf(stderr, "audit open: %s\n", arca_err_detail());
    assert_int_equal(rc, 0);
    return a;
}

static struct arca_audit_verify_result verify_file(struct fx *f)
{
    struct arca_audit_verify_opts vo = {.key = f->key};
    struct arca_audit_verify_result r;
    assert_int_equal(arca_audit_verify_file(f->path, &vo, &r), 0);
    if (!r.ok)
        fprintf(stderr, "verify: line %llu: %s\n", (unsigned long long)r.bad_line, r.reason);
    return r;
}

struct th {
    struct arca_audit *a;
    int n;
    int fails;
    int last_rc;
    uint64_t seqs[64];
};

static void *appender(void *arg)
{
    struct th *t = arg;
    for (int i = 0; i < t->n; i++) {
        json_t *fl = json_pack("{s:i}", "i", i);
        uint64_t seq = 0;
        t->last_rc = arca_audit_append(t->a, ARCA_AUDIT_ATTESTATION, fl, &seq);
        if (t->last_rc != 0)
            t->fails++;
        else
            t->seqs[i] = seq;
        json_decref(fl);
    }
    return NULL;
}

/* N threads append at once: every line is there once, the chain and checkpoints verify, and
 * no more writes or fsyncs than lines were made (typically far fewer). */
static void test_threads_durable(void **state)
{
    struct fx *f = *state;
    struct hook h;
    hook_init(&h);
    struct arca_audit *a = open_durable(f, f->store, &h, 16);
    enum { T = 8, N = 40 };
    pthread_t tid[T];
    struct th th[T];
    for (int i = 0; i < T; i++) {
        th[i] = (struct th){.a = a, .n = N};
        assert_int_equal(pthread_create(&tid[i], NULL, appender, &th[i]), 0);
    }
    static bool seen[1 + T * N + 1];
    memset(seen, 0, sizeof(seen));
    for (int i = 0; i < T; i++) {
        assert_int_equal(pthread_join(tid[i], NULL), 0);
        assert_int_equal(th[i].fails, 0);
        for (int j = 0; j < N; j++) {
            assert_true(th[i].seqs[j] >= 2 && th[i].seqs[j] <= 1 + T * N);
            assert_false(seen[th[i].seqs[j]]);
            seen[th[i].seqs[j]] = true;
        }
    }
    fprintf(stderr, "%d lines: %d writes, %d fsyncs\n", T * N, h.writes, h.fsyncs);
    assert_true(h.writes <= 1 + T * N);
    arca_audit_close(a);
    struct arca_audit_verify_result r = verify_file(f);
    assert_true(r.ok);
    assert_int_equal(r.lines, 1 + T * N);
    assert_int_equal(r.last_seq, 1 + T * N);
    /* the store's checkpoint names the last line, and reopening accepts the file */
    a = open_durable(f, f->store, NULL, 16);
    arca_audit_close(a);
    hook_destroy(&h);
}

/* Holds the first line's write until `others` more lines wait in the next batch. */
static void form_batch(struct arca_audit *a, struct hook *h, struct th *th, pthread_t *tid,
                       int others)
{
    th[0] = (struct th){.a = a, .n = 1};
    assert_int_equal(pthread_create(&tid[0], NULL, appender, &th[0]), 0);
    pthread_mutex_lock(&h->mu);
    while (!h->holding)
        pthread_cond_wait(&h->cond, &h->mu);
    pthread_mutex_unlock(&h->mu);
    for (int i = 1; i <= others; i++) {
        th[i] = (struct th){.a = a, .n = 1};
        assert_int_equal(pthread_create(&tid[i], NULL, appender, &th[i]), 0);
    }
    /* a wait, not a timing assertion: the appenders queue behind the held write */
    for (int spins = 0; arca_audit_pending(a) < (size_t)others; spins++) {
        assert_true(spins < 100000);
        usleep(100);
    }
    pthread_mutex_lock(&h->mu);
    h->released = true;
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->mu);
    for (int i = 0; i <= others; i++)
        assert_int_equal(pthread_join(tid[i], NULL), 0);
}

/* Lines that arrive while a flush runs go out together: one write and one fsync. */
static void test_batch_shares_write_and_fsync(void **state)
{
    struct fx *f = *state;
    struct hook h;
    hook_init(&h);
    struct arca_audit *a = open_durable(f, NULL, &h, 1);
    h.writes = h.fsyncs = 0; /* the audit_opened line */
    h.hold_first_write = true;
    enum { OTHERS = 5 };
    pthread_t tid[OTHERS + 1];
    struct th th[OTHERS + 1];
    form_batch(a, &h, th, tid, OTHERS);
    for (int i = 0; i <= OTHERS; i++)
        assert_int_equal(th[i].fails, 0);
    assert_int_equal(h.writes, 2);
    assert_int_equal(h.fsyncs, 2);
    arca_audit_close(a);
    struct arca_audit_verify_result r = verify_file(f);
    assert_true(r.ok);
    assert_int_equal(r.lines, 2 + OTHERS);
    hook_destroy(&h);
}

/* A failed write or fsync of a batch fails each of its callers (and only them: the line
 * before, in its own batch, stands); the log refuses more lines, stays verifiable, and a
 * reopen continues it. */
static void batch_failure(struct fx *f, const char *op)
{
    struct hook h;
    hook_init(&h);
    /* no store: a checkpoint after the held line would cover (and share the fate of) the
     * failing batch, which is fail-closed but not what this test counts */
    struct arca_audit *a = open_durable(f, NULL, &h, 1);
    pthread_mutex_lock(&h.mu);
    h.writes = h.fsyncs = 0;
    h.hold_first_write = true;
    h.fail_op = op;
    h.fail_at = 2; /* the batch after the held line */
    pthread_mutex_unlock(&h.mu);
    enum { OTHERS = 4 };
    pthread_t tid[OTHERS + 1];
    struct th th[OTHERS + 1];
    form_batch(a, &h, th, tid, OTHERS);
    assert_int_equal(th[0].fails, 0);
    assert_int_equal(th[0].seqs[0], 2);
    for (int i = 1; i <= OTHERS; i++) {
        assert_int_equal(th[i].fails, 1);
        assert_int_equal(th[i].last_rc, ARCA_ERR_IO);
    }
    assert_int_equal(h.writes, 2);
    /* later lines are refused, not written after a gap */
    assert_int_equal(arca_audit_append(a, ARCA_AUDIT_SESSION_READ, NULL, NULL), ARCA_ERR_IO);
    assert_non_null(strstr(arca_err_detail(), "restart"));
    arca_audit_close(a);
    struct arca_audit_verify_result r = verify_file(f);
    assert_true(r.ok);
    /* a failed write leaves the acknowledged lines; a failed fsync may leave more (written,
     * never acknowledged), still a valid chain */
    assert_int_equal(r.lines, strcmp(op, "write") == 0 ? 2 : 2 + OTHERS);
    a = open_durable(f, NULL, NULL, 1);
    assert_int_equal(arca_audit_append(a, ARCA_AUDIT_SESSION_READ, NULL, NULL), 0);
    arca_audit_close(a);
    r = verify_file(f);
    assert_true(r.ok);
    hook_destroy(&h);
}

static void test_failed_write_fails_batch(void **state)
{
    batch_failure(*state, "write");
}

static void test_failed_fsync_fails_batch(void **state)
{
    batch_failure(*state, "fsync");
}

/* On a log that is not fsync_each, a plain line is written at once without an fsync, and a
 * durable one (an attestation) is written and fsynced before its append returns. */
static void test_durable_on_plain_log(void **state)
{
    struct fx *f = *state;
    struct hook h;
    hook_init(&h);
    struct arca_audit_options o = {
        .path = f->path, .key = f->key, .fault = hook_fault, .fault_arg = &h};
    struct arca_audit *a = NULL;
    assert_int_equal(arca_audit_open(&o, &a), 0);
    assert_int_equal(h.writes, 1);
    assert_int_equal(h.fsyncs, 0);
    assert_int_equal(arca_audit_append(a, ARCA_AUDIT_SESSION_READ, NULL, NULL), 0);
    assert_int_equal(h.writes, 2);
    assert_int_equal(h.fsyncs, 0);
    uint64_t seq = 0;
    assert_int_equal(arca_audit_append_durable(a, ARCA_AUDIT_ATTESTATION, NULL, &seq), 0);
    assert_int_equal(seq, 3);
    assert_int_equal(h.writes, 3);
    assert_int_equal(h.fsyncs, 1);
    h.fail_op = "fsync";
    h.fail_at = 2;
    assert_int_equal(arca_audit_append_durable(a, ARCA_AUDIT_ATTESTATION, NULL, NULL), ARCA_ERR_IO);
    assert_non_null(strstr(arca_err_detail(), "fsync"));
    arca_audit_close(a);
    struct arca_audit_verify_result r = verify_file(f);
    assert_true(r.ok);
    hook_destroy(&h);
}

/* Child: 4 threads append durable lines for ever, reporting each acknowledged seq. */
static void crash_child(struct fx *f, int wfd)
{
    struct arca_audit_options o = {.path = f->path, .key = f->key, .fsync_each = true};
    struct arca_audit *a = NULL;
    if (arca_audit_open(&o, &a) != 0)
        _exit(3);
    for (;;) {
        /* one appender per loop turn of each thread; acks go as 8-byte seqs */
        pthread_t tid[4];
        struct th th[4];
        for (int i = 0; i < 4; i++) {
            th[i] = (struct th){.a = a, .n = 8};
            if (pthread_create(&tid[i], NULL, appender, &th[i]) != 0)
                _exit(4);
        }
        for (int i = 0; i < 4; i++) {
            pthread_join(tid[i], NULL);
            for (int j = 0; j < th[i].n; j++)
                if (th[i].seqs[j] != 0 &&
                    write(wfd, &th[i].seqs[j], sizeof(uint64_t)) != sizeof(uint64_t))
                    _exit(5);
        }
    }
}

/* SIGKILL while batches are in flight: the file up to its last complete line verifies and
 * holds every line an appender was told is durable. */
static void test_crash_mid_batch(void **state)
{
    struct fx *f = *state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        crash_child(f, p[1]);
    }
    close(p[1]);
    uint64_t max_ack = 0, seq;
    int acks = 0;
    while (acks < 150 && read(p[0], &seq, sizeof(seq)) == (ssize_t)sizeof(seq)) {
        acks++;
        if (seq > max_ack)
            max_ack = seq;
    }
    assert_int_equal(acks, 150);
    kill(pid, SIGKILL);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st));
    while (read(p[0], &seq, sizeof(seq)) == (ssize_t)sizeof(seq))
        if (seq > max_ack)
            max_ack = seq;
    close(p[0]);

    struct arca_buf file;
    arca_buf_init(&file, (size_t)1 << 30);
    FILE *fp = fopen(f->path, "rb");
    assert_non_null(fp);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
        assert_int_equal(arca_buf_put(&file, chunk, n), 0);
    fclose(fp);
    size_t end = file.len;
    while (end > 0 && file.data[end - 1] != '\n')
        end--;
    struct arca_audit_verify_opts vo = {.key = f->key};
    struct arca_audit_verify_result r;
    assert_int_equal(arca_audit_verify_buf(file.data, end, &vo, &r), 0);
    if (!r.ok)
        fprintf(stderr, "verify: line %llu: %s\n", (unsigned long long)r.bad_line, r.reason);
    assert_true(r.ok);
    assert_true(r.last_seq >= max_ack);
    arca_buf_free(&file);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_threads_durable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_shares_write_and_fsync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_write_fails_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_fsync_fails_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_durable_on_plain_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_mid_batch, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
