/* Cheaper audit lines (issue 14): a plain line that makes a checkpoint due does not wait for the
 * store commit, a durable line still returns only once that checkpoint is in the store, and a
 * failing checkpoint still fails the appenders (fail-closed); the store's freshness hook (called
 * under its writer lock after each commit) holds or fails a commit. And the line content built
 * member by member is byte for byte what jansson makes of the whole object. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <stdatomic.h>
#include <unistd.h>

#include "audit/audit.h"
#include "audit/audit_internal.h"
#include "base/err.h"
#include "audit_test_util.h"

struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool hold;    /* a commit waits in the hook until released */
    bool holding; /* one does now */
    bool fail;    /* commits are refused */
    int calls;
};

static int gate_committed(void *ctx, uint64_t commit, bool retry)
{
    (void)commit;
    (void)retry;
    struct gate *g = ctx;
    pthread_mutex_lock(&g->mu);
    g->calls++;
    if (g->hold) {
        g->holding = true;
        pthread_cond_broadcast(&g->cond);
        while (g->hold)
            pthread_cond_wait(&g->cond, &g->mu);
        g->holding = false;
    }
    int rc = g->fail ? arca_err_set(ARCA_ERR_NETWORK, "test: commit refused") : 0;
    pthread_mutex_unlock(&g->mu);
    return rc;
}

static void gate_set(struct gate *g, bool hold, bool fail)
{
    pthread_mutex_lock(&g->mu);
    g->hold = hold;
    g->fail = fail;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->mu);
}

struct env {
    struct fx *f;
    struct gate g;
    struct arca_store *store;
    struct arca_audit *a;
};

/* A second store on the fixture's files, with the gate as its freshness hook, and a plain log
 * (not fsync_each) checkpointed every `every` lines into it. */
/* The store part of env_open: e->store over f's files, with the gate as witness hook. */
static void env_open_store(struct env *e, struct fx *f)
{
    memset(e, 0, sizeof(*e));
    e->f = f;
    pthread_mutex_init(&e->g.mu, NULL);
    pthread_cond_init(&e->g.cond, NULL);
    arca_store_close(f->store);
    f->store = NULL;
    char path[512], ks[512];
    test_store_path(f->dir, path, sizeof(path));
    snprintf(ks, sizeof(ks), "%s/arca.db.key-store", f->dir);
    struct arca_store_hook hook = {.committed = gate_committed, .ctx = &e->g};
    struct arca_store_options so = {
        .path = path, .keystore_path = ks, .sealer = &f->fs.sealer, .hook = &hook};
    assert_int_equal(arca_store_open(&so, &e->store), 0);
}

static void env_open(struct env *e, struct fx *f, unsigned every)
{
    env_open_store(e, f);
    struct arca_audit_options o = {
        .path = f->path, .key = f->key, .store = e->store, .checkpoint_every = every};
    assert_int_equal(arca_audit_open(&o, &e->a), 0);
}

static void env_close(struct env *e)
{
    gate_set(&e->g, false, false);
    arca_audit_close(e->a);
    arca_store_close(e->store);
    pthread_cond_destroy(&e->g.cond);
    pthread_mutex_destroy(&e->g.mu);
    /* the fixture's teardown closes its store: give it one again */
    assert_int_equal(test_store_open(e->f->dir, &e->f->fs, false, &e->f->store), 0);
}

struct app {
    struct arca_audit *a;
    int n;
    bool durable;
    int rc;
    uint64_t seq;
    atomic_bool done;
};

static void *appender(void *arg)
{
    struct app *t = arg;
    t->rc = 0;
    for (int i = 0; i < t->n && t->rc == 0; i++)
        t->rc = t->durable ? arca_audit_append_durable(t->a, ARCA_AUDIT_ATTESTATION, NULL, &t->seq)
                           : arca_audit_append(t->a, ARCA_AUDIT_SESSION_READ, NULL, &t->seq);
    atomic_store(&t->done, true);
    return NULL;
}

/* Waits (bounded: a hang is a failure, not a timing assertion) until done() holds. */
#define WAIT_UNTIL(cond)                                                                           \
    do {                                                                                           \
        for (int spins_ = 0; !(cond); spins_++) {                                                  \
            assert_true(spins_ < 200000);                                                          \
            usleep(100);                                                                           \
        }                                                                                          \
    } while (0)

static bool gate_holding(struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    bool h = g->holding;
    pthread_mutex_unlock(&g->mu);
    return h;
}

/* Lines in the log file so far. */
static size_t file_lines(const char *path)
{
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    size_t n = 0;
    for (int c; (c = fgetc(fp)) != EOF;)
        n += c == '\n';
    fclose(fp);
    return n;
}

/* The 4th line makes a checkpoint due: its plain appender returns while the checkpoint's store
 * commit is held, and so do later plain lines; a durable line written meanwhile returns only
 * once that checkpoint is in the store. */
static void test_plain_line_does_not_wait(void **state)
{
    struct env e;
    env_open(&e, *state, 4);
    gate_set(&e.g, true, false);
    /* lines 2..4 (line 1 is audit_opened): the 4th hands its checkpoint off */
    struct app p = {.a = e.a, .n = 3};
    pthread_t tp;
    assert_int_equal(pthread_create(&tp, NULL, appender, &p), 0);
    WAIT_UNTIL(gate_holding(&e.g));
    WAIT_UNTIL(atomic_load(&p.done)); /* returned while the checkpoint is held */
    assert_int_equal(pthread_join(tp, NULL), 0);
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.seq, 4);
    /* a plain line meanwhile does not wait either (nor for the store's writer lock) */
    assert_int_equal(arca_audit_append(e.a, ARCA_AUDIT_SESSION_READ, NULL, NULL), 0);

    struct app d = {.a = e.a, .n = 1, .durable = true};
    pthread_t td;
    assert_int_equal(pthread_create(&td, NULL, appender, &d), 0);
    WAIT_UNTIL(file_lines(e.f->path) >= 6); /* the durable line is written... */
    usleep(20000);                          /* (a chance to return too early) */
    assert_false(atomic_load(&d.done));     /* ...but waits for the checkpoint before it */
    gate_set(&e.g, false, false);
    assert_int_equal(pthread_join(td, NULL), 0);
    assert_int_equal(d.rc, 0);
    assert_int_equal(d.seq, 6);
    struct arca_store_checkpoint cp;
    assert_int_equal(arca_store_checkpoint_latest(e.store, &cp), 0);
    assert_true(cp.seq >= 4);
    env_close(&e);

    /* the log and its checkpoint agree: a reopen verifies both */
    struct arca_audit_options o = {
        .path = e.f->path, .key = e.f->key, .store = e.f->store, .checkpoint_every = 4};
    struct arca_audit *a = NULL;
    assert_int_equal(arca_audit_open(&o, &a), 0);
    arca_audit_close(a);
}

/* A checkpoint that fails in the background is not lost: the next appender (plain or durable)
 * retries it itself and hears the failure, and once the store takes commits again the log goes
 * on and is checkpointed. */
static void test_failed_checkpoint_fails_closed(void **state)
{
    struct env e;
    env_open(&e, *state, 4);
    gate_set(&e.g, false, true);
    for (int i = 0; i < 3; i++) /* lines 2..4: the 4th hands its checkpoint off, which fails */
        assert_int_equal(arca_audit_append(e.a, ARCA_AUDIT_SESSION_READ, NULL, NULL), 0);
    WAIT_UNTIL(arca_audit_checkpoint_failed(e.a));
    assert_true(arca_audit_append(e.a, ARCA_AUDIT_SESSION_READ, NULL, NULL) < 0);
    assert_true(arca_audit_append_durable(e.a, ARCA_AUDIT_ATTESTATION, NULL, NULL) < 0);
    assert_true(arca_audit_checkpoint(e.a) < 0);

    gate_set(&e.g, false, false);
    uint64_t seq = 0;
    assert_int_equal(arca_audit_append(e.a, ARCA_AUDIT_SESSION_READ, NULL, &seq), 0);
    assert_false(arca_audit_checkpoint_failed(e.a));
    struct arca_store_checkpoint cp;
    assert_int_equal(arca_store_checkpoint_latest(e.store, &cp), 0);
    assert_int_equal(cp.seq, seq); /* retried by that appender itself */
    env_close(&e);
}

/* A durable line that makes a checkpoint due waits for it, as before. */
static void test_durable_line_waits_for_its_checkpoint(void **state)
{
    struct env e;
    env_open(&e, *state, 2);
    uint64_t seq = 0;
    assert_int_equal(arca_audit_append_durable(e.a, ARCA_AUDIT_ATTESTATION, NULL, &seq), 0);
    assert_int_equal(seq, 2);
    struct arca_store_checkpoint cp;
    assert_int_equal(arca_store_checkpoint_latest(e.store, &cp), 0);
    assert_int_equal(cp.seq, 2);
    env_close(&e);
}

/* The content of each line (before ,"sig") is jansson's sorted compact ASCII dump of the line
 * without its sig, for fields with escapes, non-ASCII text, nesting, numbers and none at all;
 * with a store (epoch) and without. */
static void test_content_is_jansson_dump(void **state)
{
    struct fx *f = *state;
    for (int with_store = 0; with_store < 2; with_store++) {
        (void)unlink(f->path);
        struct arca_audit_options o = {.path = f->path,
                                       .key = f->key,
                                       .store = with_store ? f->store : NULL,
                                       .checkpoint_every = 1000};
        struct arca_audit *a = NULL;
        assert_int_equal(arca_audit_open(&o, &a), 0);
        json_t *fl[] = {
            NULL,
            json_object(),
            json_pack("{s:s, s:s, s:i}", "zeta", "quote \" back \\ tab \t nl \n", "alpha",
                      "\xc3\xa9t\xc3\xa9 \xf0\x9f\x94\x92 \x01", "mid", -42),
            json_pack("{s:{s:[i,f,b,n], s:s}, s:s}", "nested", "list", 1, 2.5, 1, "b", "/x<y>&",
                      "a", ""),
        };
        for (size_t i = 0; i < sizeof(fl) / sizeof(fl[0]); i++) {
            assert_int_equal(arca_audit_append(a, ARCA_AUDIT_SESSION_READ, fl[i], NULL), 0);
            json_decref(fl[i]);
        }
        arca_audit_close(a);
        struct arca_buf file;
        arca_buf_init(&file, 0);
        FILE *fp = fopen(f->path, "r");
        assert_non_null(fp);
        char chunk[4096];
        for (size_t n; (n = fread(chunk, 1, sizeof(chunk), fp)) > 0;)
            assert_int_equal(arca_buf_put(&file, chunk, n), 0);
        fclose(fp);
        int lines = 0;
        for (size_t at = 0; at < file.len; lines++) {
            const char *l = (const char *)file.data + at;
            const char *nl = memchr(l, '\n', file.len - at);
            assert_non_null(nl);
            const char *content = NULL;
            size_t clen = 0;
            uint64_t seq = 0;
            struct arca_buf sig;
            arca_buf_init(&sig, 0);
            json_t *obj = NULL;
            assert_int_equal(
                arca_audit_line_parse(l, (size_t)(nl - l), &content, &clen, &seq, &sig, &obj), 0);
            assert_int_equal(json_object_del(obj, "sig"), 0);
            assert_int_equal(json_object_get(obj, "epoch") != NULL, with_store);
            char *want = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
            assert_non_null(want);
            /* content is the line up to ,"sig" (the verifier adds the closing brace) */
            assert_true(clen + 1 == strlen(want) || clen == strlen(want));
            assert_memory_equal(content, want, strlen(want) - 1);
            free(want);
            json_decref(obj);
            arca_buf_free(&sig);
            at = (size_t)(nl - (const char *)file.data) + 1;
        }
        assert_int_equal(lines, 5);
        arca_buf_free(&file);
    }
}

/* How many threads of this process other than the caller block SIGTERM (their SigBlk in
 * /proc/self/task/TID/status). */
static int threads_blocking_sigterm(void)
{
    DIR *d = opendir("/proc/self/task");
    assert_non_null(d);
    int found = 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        if (de->d_name[0] == '.' || atoi(de->d_name) == (int)syscall(SYS_gettid))
            continue;
        char path[300], line[256];
        snprintf(path, sizeof(path), "/proc/self/task/%s/status", de->d_name);
        FILE *fp = fopen(path, "r");
        if (fp == NULL)
            continue;
        while (fgets(line, sizeof(line), fp) != NULL)
            if (strncmp(line, "SigBlk:", 7) == 0 &&
                (strtoull(line + 7, NULL, 16) & (1ull << (SIGTERM - 1))) != 0)
                found++;
        fclose(fp);
    }
    closedir(d);
    return found;
}

/* The checkpoint thread takes no signals: arcad waits for SIGTERM with sigwait and blocks it
 * only after the log is open, so a thread that took it would end the process instead. (The
 * store's own WAL checkpoint thread blocks them too, hence the count before the log opens.) */
static void test_checkpoint_thread_blocks_signals(void **state)
{
    struct env e;
    struct fx *f = *state;
    env_open_store(&e, f);
    int before = threads_blocking_sigterm();
    struct arca_audit_options o = {
        .path = f->path, .key = f->key, .store = e.store, .checkpoint_every = 4};
    assert_int_equal(arca_audit_open(&o, &e.a), 0);
    assert_int_equal(threads_blocking_sigterm(), before + 1);
    env_close(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plain_line_does_not_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_checkpoint_fails_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_durable_line_waits_for_its_checkpoint, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_content_is_jansson_dump, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_thread_blocks_signals, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
