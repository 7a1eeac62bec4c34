/* Signed audit log: writing, reopening, checkpoints, and detection of every kind of tampering
 * (changed, deleted, reordered, inserted lines, truncation, another key). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>

#include "audit/audit.h"
#include "base/enc.h"
#include "base/err.h"
#include "audit_test_util.h"

static struct arca_audit *open_log(struct fx *f, struct arca_store *store)
{
    struct arca_audit_options o = {.path = f->path, .key = f->key, .store = store};
    return audit_open_ok(&o);
}

/* Writes the opened line plus n events (n+1 lines). */
static void write_log(struct fx *f, int n, struct arca_store *store)
{
    struct arca_audit *a = open_log(f, store);
    audit_events(a, n);
    arca_audit_close(a);
}

static struct arca_audit_verify_result verify(struct fx *f, const struct arca_key *key,
                                              const struct arca_store_checkpoint *cp)
{
    struct arca_audit_verify_opts vo = {
        .key = key, .checkpoints = cp, .checkpoint_count = cp ? 1 : 0};
    struct arca_audit_verify_result res;
    assert_int_equal(arca_audit_verify_file(f->path, &vo, &res), 0);
    return res;
}

static void test_roundtrip(void **state)
{
    struct fx *f = *state;
    write_log(f, 5, NULL);
    write_log(f, 3, NULL); /* reopen continues the chain */
    struct arca_audit_verify_result r = verify(f, NULL, NULL);
    assert_true(r.ok);
    assert_int_equal(r.lines, 10);
    assert_int_equal(r.last_seq, 10);
    uint8_t kid[32];
    assert_int_equal(arca_key_id(f->key, kid), 0);
    assert_memory_equal(r.key_id, kid, 32);
    r = verify(f, f->key, NULL);
    assert_true(r.ok);
    /* pinned cas key: right and wrong */
    struct arca_audit_verify_opts vo = {.cas_key = kid};
    assert_int_equal(arca_audit_verify_file(f->path, &vo, &r), 0);
    assert_true(r.ok);
    kid[0] ^= 1;
    assert_int_equal(arca_audit_verify_file(f->path, &vo, &r), 0);
    assert_false(r.ok);
    assert_int_equal(r.bad_line, 1);
    /* another key */
    struct arca_key *other = NULL;
    assert_int_equal(arca_key_generate(ARCA_KEY_P256, &other), 0);
    r = verify(f, other, NULL);
    assert_false(r.ok);
    assert_int_equal(r.bad_line, 1);
    assert_non_null(strstr(r.reason, "signature"));
    arca_key_free(other);
    /* event names are checked */
    struct arca_audit *a = open_log(f, NULL);
    assert_int_equal(arca_audit_append(a, "Bad Event", NULL, NULL), ARCA_ERR_INVALID_ARG);
    arca_audit_close(a);
}

static void expect_break(struct fx *f, uint64_t line, const char *why)
{
    struct arca_audit_verify_result r = verify(f, NULL, NULL);
    if (r.ok || r.bad_line != line || strstr(r.reason, why) == NULL)
        fprintf(stderr, "ok=%d line=%llu reason=%s\n", r.ok, (unsigned long long)r.bad_line,
                r.reason);
    assert_false(r.ok);
    assert_int_equal(r.bad_line, line);
    assert_non_null(strstr(r.reason, why));
}

static void test_tamper_line(void **state)
{
    struct fx *f = *state;
    write_log(f, 6, NULL);
    struct lines ls;
    read_lines(f->path, &ls);
    char *p = strstr(ls.l[3], "\"i\":2");
    assert_non_null(p);
    p[4] = '7';
    write_lines(f->path, &ls);
    expect_break(f, 4, "signature does not verify");
    /* a change in the signature itself */
    p[4] = '2';
    char *s = strstr(ls.l[2], "\"sig\":\"");
    s[8] = s[8] == 'A' ? 'B' : 'A';
    write_lines(f->path, &ls);
    struct arca_audit_verify_result r = verify(f, NULL, NULL);
    assert_false(r.ok);
    assert_int_equal(r.bad_line, 3);
    free_lines(&ls);
}

static void test_delete_reorder_insert(void **state)
{
    struct fx *f = *state;
    write_log(f, 6, NULL);
    struct lines ls, orig;
    read_lines(f->path, &orig);
    /* delete line 3 */
    read_lines(f->path, &ls);
    free(ls.l[2]);
    memmove(&ls.l[2], &ls.l[3], (size_t)(ls.n - 3) * sizeof(char *));
    ls.n--;
    write_lines(f->path, &ls);
    expect_break(f, 3, "removed");
    free_lines(&ls);
    /* swap lines 4 and 5 */
    read_lines(f->path, &ls);
    write_lines(f->path, &orig);
    free_lines(&ls);
    read_lines(f->path, &ls);
    char *t = ls.l[3];
    ls.l[3] = ls.l[4];
    ls.l[4] = t;
    write_lines(f->path, &ls);
    expect_break(f, 4, "removed"); /* seq 5 after seq 3 */
    free_lines(&ls);
    /* duplicate line 2 after itself */
    read_lines(f->path, &ls);
    write_lines(f->path, &orig);
    free_lines(&ls);
    read_lines(f->path, &ls);
    memmove(&ls.l[2], &ls.l[1], (size_t)(ls.n - 1) * sizeof(char *));
    ls.l[1] = strdup(ls.l[2]);
    ls.n++;
    write_lines(f->path, &ls);
    expect_break(f, 3, "reordered or repeated");
    free_lines(&ls);
    /* delete the first line */
    write_lines(f->path, &orig);
    read_lines(f->path, &ls);
    free(ls.l[0]);
    memmove(&ls.l[0], &ls.l[1], (size_t)(ls.n - 1) * sizeof(char *));
    ls.n--;
    write_lines(f->path, &ls);
    expect_break(f, 1, "beginning was removed");
    free_lines(&ls);
    /* not JSON */
    write_lines(f->path, &orig);
    read_lines(f->path, &ls);
    free(ls.l[1]);
    ls.l[1] = strdup("hello\n");
    write_lines(f->path, &ls);
    expect_break(f, 2, "not a JSON object line");
    free_lines(&ls);
    free_lines(&orig);
}

static void test_truncate(void **state)
{
    struct fx *f = *state;
    write_log(f, 6, f->store);
    struct arca_store_checkpoint cp;
    assert_int_equal(arca_store_checkpoint_latest(f->store, &cp), 0);
    assert_int_equal(cp.seq, 7);
    struct arca_audit_verify_result r = verify(f, NULL, &cp);
    assert_true(r.ok);
    struct lines ls, orig;
    read_lines(f->path, &orig);
    /* cut in the middle of the last line */
    read_lines(f->path, &ls);
    ls.l[6][10] = '\0';
    write_lines(f->path, &ls);
    expect_break(f, 7, "incomplete");
    free_lines(&ls);
    /* drop the last two lines: fine without the checkpoint, detected with it */
    read_lines(f->path, &ls);
    write_lines(f->path, &orig);
    free_lines(&ls);
    read_lines(f->path, &ls);
    ls.n -= 2;
    write_lines(f->path, &ls);
    ls.n += 2;
    r = verify(f, NULL, NULL);
    assert_true(r.ok);
    r = verify(f, NULL, &cp);
    assert_false(r.ok);
    assert_int_equal(r.bad_line, 6);
    assert_non_null(strstr(r.reason, "truncated"));
    /* the verifier names the cut lines */
    assert_non_null(strstr(r.reason, "2 line(s) missing at the end (sequence numbers 6 to 7)"));
    /* arcad refuses to reopen a truncated log */
    struct arca_audit_options o = {.path = f->path, .key = f->key, .store = f->store};
    struct arca_audit *a = NULL;
    assert_int_equal(arca_audit_open(&o, &a), ARCA_ERR_TAMPERED);
    assert_non_null(strstr(arca_err_detail(), "truncated"));
    /* ... and a removed log */
    unlink(f->path);
    assert_int_equal(arca_audit_open(&o, &a), ARCA_ERR_TAMPERED);
    /* a log replaced by another one of the same length */
    write_lines(f->path, &orig);
    a = open_log(f, f->store);
    arca_audit_close(a);
    free_lines(&ls);
    free_lines(&orig);
}

struct th {
    struct arca_audit *a;
    int fails;
};

static void *appender(void *arg)
{
    struct th *t = arg;
    for (int i = 0; i < 50; i++) {
        json_t *fl = json_pack("{s:i}", "i", i);
        if (arca_audit_append(t->a, ARCA_AUDIT_ATTESTATION, fl, NULL) != 0)
            t->fails++;
        json_decref(fl);
    }
    return NULL;
}

static void test_threads_and_history(void **state)
{
    struct fx *f = *state;
    struct arca_audit_options o = {
        .path = f->path, .key = f->key, .store = f->store, .checkpoint_every = 16};
    struct arca_audit *a = NULL;
    assert_int_equal(arca_audit_open(&o, &a), 0);
    pthread_t t[6];
    struct th th[6];
    for (int i = 0; i < 6; i++) {
        th[i].a = a;
        th[i].fails = 0;
        pthread_create(&t[i], NULL, appender, &th[i]);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(th[i].fails, 0);
    }
    arca_audit_close(a);
    struct arca_store_checkpoint *list = NULL;
    size_t n = 0;
    assert_int_equal(arca_store_checkpoint_list(f->store, 100, &list, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(list[0].seq, 250);
    struct arca_audit_verify_opts vo = {.checkpoints = list, .checkpoint_count = n};
    struct arca_audit_verify_result r;
    assert_int_equal(arca_audit_verify_file(f->path, &vo, &r), 0);
    assert_true(r.ok);
    assert_int_equal(r.lines, 301);
    free(list);
}

/* Copies the store's files (database, its WAL, the key-store) from dir to dir/NAME. */
static void copy_store(const char *from, const char *to)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s' && cp -p '%s'/arca.db* '%s'/", to, from, to);
    assert_int_equal(system(cmd), 0);
}

/* Database and key-store rolled back together to an older consistent copy: the store alone
 * cannot tell (its chain and seal agree), the audit log that outlived it can. */
static void test_store_rollback(void **state)
{
    struct fx *f = *state;
    write_log(f, 2, f->store);
    arca_store_close(f->store);
    char saved[600];
    snprintf(saved, sizeof(saved), "%s/saved", f->dir);
    copy_store(f->dir, saved);

    assert_int_equal(test_store_open(f->dir, &f->fs, false, &f->store), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(arca_store_meta_put(f->store, "k", "v", 1), 0);
    uint64_t commit = 0;
    assert_int_equal(arca_store_state(f->store, &commit, NULL), 0);
    write_log(f, 1, f->store);
    struct arca_audit_verify_result r = verify(f, NULL, NULL);
    assert_true(r.ok);
    assert_true(r.max_epoch >= commit);
    assert_int_equal(r.max_epoch_line, r.lines);
    arca_store_close(f->store);

    copy_store(saved, f->dir); /* the older copy of both files goes back */
    assert_int_equal(test_store_open(f->dir, &f->fs, false, &f->store), 0);
    struct arca_audit_options o = {.path = f->path, .key = f->key, .store = f->store};
    struct arca_audit *a = NULL;
    assert_int_equal(arca_audit_open(&o, &a), ARCA_ERR_TAMPERED);
    assert_non_null(strstr(arca_err_detail(), "state rolled back"));
    assert_null(a);

    /* the current state opens, and a log without a store carries no epochs */
    struct arca_audit_options nostore = {.path = f->path, .key = f->key};
    unlink(f->path);
    a = NULL;
    assert_int_equal(arca_audit_open(&nostore, &a), 0);
    arca_audit_close(a);
    r = verify(f, NULL, NULL);
    assert_true(r.ok);
    assert_int_equal(r.max_epoch_line, 0);
}

/* An epoch that goes back along the log is evidence that a rolled-back state was served. */
static void test_epoch_goes_back(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < 4; i++)
        assert_int_equal(arca_store_meta_put(f->store, "k", "v", 1), 0);
    write_log(f, 1, f->store);
    struct arca_audit_verify_result r = verify(f, NULL, NULL);
    assert_true(r.ok);
    uint64_t n = r.lines;
    append_signed(f, f->key,
                  "{\"epoch\":1,\"event\":\"session_read\",\"fields\":{},\"seq\":%llu,"
                  "\"time\":\"2026-12-02T00:00:00Z\"",
                  (unsigned long long)r.last_seq + 1);
    expect_break(f, n + 1, "rolled back");
    /* a malformed epoch is named */
    struct lines ls;
    read_lines(f->path, &ls);
    ls.n--;
    free(ls.l[ls.n]);
    write_lines(f->path, &ls);
    free_lines(&ls);
    append_signed(f, f->key,
                  "{\"epoch\":\"x\",\"event\":\"session_read\",\"fields\":{},\"seq\":%llu,"
                  "\"time\":\"2026-12-02T00:00:00Z\"",
                  (unsigned long long)r.last_seq + 1);
    expect_break(f, n + 1, "\"epoch\" is not a non-negative integer");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_reorder_insert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_and_history, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_epoch_goes_back, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
