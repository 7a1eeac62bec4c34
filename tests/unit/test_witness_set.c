/* The witness set (majority rule, rollback / fork / lost refusals) and the file witness. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "store_test_util.h"
#include "witness/witness.h"

/* An in-memory witness that can be taken down. */
struct mem {
    bool up, has;
    uint64_t v;
    unsigned records, calls;
};

static int mem_read(void *impl, uint64_t *value)
{
    struct mem *m = impl;
    if (!m->up)
        return arca_err_set(ARCA_ERR_NETWORK, "mem witness down");
    if (!m->has)
        return ARCA_ERR_NOT_FOUND;
    *value = m->v;
    return 0;
}

static int mem_record(void *impl, uint64_t epoch)
{
    struct mem *m = impl;
    m->calls++;
    if (!m->up)
        return arca_err_set(ARCA_ERR_NETWORK, "mem witness down");
    if (m->has && m->v == epoch)
        return arca_err_set(ARCA_ERR_EXISTS, "at %llu", (unsigned long long)epoch);
    if (m->has && m->v > epoch)
        return arca_err_set(ARCA_ERR_TAMPERED, "ahead");
    m->has = true;
    m->v = epoch;
    m->records++;
    return 0;
}

static const uint8_t KEY[ARCA_WITNESS_KEY_LEN] = {7};

static struct arca_witness *mem_set(struct mem *m, size_t n)
{
    struct arca_witness *w = NULL;
    assert_int_equal(arca_witness_open(NULL, 0, KEY, &w), 0);
    for (size_t i = 0; i < n; i++) {
        struct arca_witness_backend b = {.read = mem_read, .record = mem_record, .impl = &m[i]};
        snprintf(b.label, sizeof(b.label), "mem%zu", i);
        m[i].up = true;
        assert_int_equal(arca_witness_add(w, &b), 0);
    }
    return w;
}

static void test_majority_of_three(void **state)
{
    (void)state;
    struct mem m[3];
    memset(m, 0, sizeof(m));
    struct arca_witness *w = mem_set(m, 3);
    assert_int_equal(arca_witness_quorum(w), 2);
    assert_int_equal(arca_witness_check(w, 0, true, NULL), 0); /* fresh: initialised at 0 */
    assert_int_equal(arca_witness_record(w, 1), 0);
    m[2].up = false; /* one down: still a majority */
    assert_int_equal(arca_witness_record(w, 2), 0);
    assert_int_equal(arca_witness_check(w, 2, false, NULL), 0);
    m[1].up = false; /* two down: refused, naming the count */
    assert_int_equal(arca_witness_record(w, 3), ARCA_ERR_NETWORK);
    assert_non_null(strstr(arca_err_detail(), "only 1 of 3 witnesses recorded commit 3"));
    assert_non_null(strstr(arca_err_detail(), "no answer from mem1, mem2"));
    assert_int_equal(arca_witness_check(w, 3, false, NULL), ARCA_ERR_NETWORK);
    assert_non_null(strstr(arca_err_detail(), "answered (2 needed; no answer from mem1, mem2)"));
    /* both back: the retry (check) brings the laggards to 3, and m[0] (at 3) is fine */
    m[1].up = m[2].up = true;
    assert_int_equal(arca_witness_check(w, 3, false, NULL), 0);
    assert_int_equal(m[1].v, 3);
    assert_int_equal(m[2].v, 3);
    arca_witness_free(w);
}

static void test_rollback_fork_and_lost(void **state)
{
    (void)state;
    struct mem m[3];
    memset(m, 0, sizeof(m));
    struct arca_witness *w = mem_set(m, 3);
    assert_int_equal(arca_witness_check(w, 5, true, NULL), 0);
    assert_int_equal(arca_witness_record(w, 6), 0);
    /* a state at 4 (an older copy): refused naming both numbers */
    uint64_t v = 0;
    assert_int_equal(arca_witness_check(w, 4, false, &v), ARCA_ERR_TAMPERED);
    assert_non_null(strstr(arca_err_detail(), "is at commit 6 but the state is at commit 4"));
    /* a copy that commits 6 again: a fork */
    assert_int_equal(arca_witness_record(w, 6), ARCA_ERR_TAMPERED);
    assert_non_null(strstr(arca_err_detail(), "state forked"));
    /* the one witness that saw 6 is enough to refuse, even with the other two behind */
    m[1].v = m[2].v = 4;
    assert_int_equal(arca_witness_check(w, 4, false, NULL), ARCA_ERR_TAMPERED);
    /* one witness without a counter while the two holding one are a quorum (it never got a
     * record, or was reset): they alone would have seen a rollback, so it is brought to the
     * state */
    m[0].has = false;
    m[1].v = m[2].v = 6;
    assert_int_equal(arca_witness_check(w, 6, false, NULL), 0);
    assert_true(m[0].has);
    assert_int_equal(m[0].v, 6);
    /* two without a counter once the state was witnessed: the one left is no quorum, and
     * re-initialising them at this state could be the rollback they guard against */
    m[0].has = m[1].has = false;
    assert_int_equal(arca_witness_check(w, 6, false, NULL), ARCA_ERR_TAMPERED);
    assert_non_null(strstr(arca_err_detail(), "witness lost"));
    arca_witness_free(w);
}

static void test_file_witness(void **state)
{
    (void)state;
    char *dir = tdir_make();
    char path[512];
    snprintf(path, sizeof(path), "%s/w", dir);
    struct arca_witness_backend b;
    assert_int_equal(arca_witness_file_new(path, &b), 0);
    uint64_t v = 0;
    assert_int_equal(b.read(b.impl, &v), ARCA_ERR_NOT_FOUND);
    assert_int_equal(b.record(b.impl, 3), 0);
    assert_int_equal(b.read(b.impl, &v), 0);
    assert_int_equal(v, 3);
    assert_int_equal(b.record(b.impl, 3), ARCA_ERR_EXISTS);
    assert_int_equal(b.record(b.impl, 2), ARCA_ERR_TAMPERED);
    assert_int_equal(b.record(b.impl, 9), 0);
    /* not a witness file, an overflowing number, trailing bytes */
    static const char *bad[] = {"hello\n", "arca-witness-file v1 99999999999999999999999\n",
                                "arca-witness-file v1 5\nx", "arca-witness-file v1 \n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(bad[i], f);
        fclose(f);
        assert_int_equal(b.read(b.impl, &v), ARCA_ERR_FORMAT);
        assert_non_null(strstr(arca_err_detail(), "not a witness file"));
    }
    b.free(b.impl);
    tdir_remove(dir);
}

/* A witness whose record waits until the test opens its gate, then answers rc: a slow peer. */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool entered, open, stay_open;
    int rc;
    unsigned records;
};

static int gate_record(void *impl, uint64_t epoch)
{
    struct gate *g = impl;
    (void)epoch;
    pthread_mutex_lock(&g->mu);
    g->entered = true;
    pthread_cond_broadcast(&g->cv);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    g->open = g->stay_open; /* one answer per opening */
    g->records++;
    int rc = g->rc;
    pthread_mutex_unlock(&g->mu);
    return rc < 0 ? arca_err_set(rc, "gate: is at commit 9, ahead") : 0;
}

static int gate_read(void *impl, uint64_t *value)
{
    (void)impl;
    *value = 0;
    return ARCA_ERR_NOT_FOUND;
}

static void gate_open(struct gate *g, int rc)
{
    pthread_mutex_lock(&g->mu);
    g->rc = rc;
    g->open = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* The record round with one slow witness of three: the majority answers, the write does not
 * wait; while it is still busy it is not asked again (no answer), and what it refuses late
 * (ahead) refuses the next round. */
static void test_slow_witness_does_not_hold_the_write(void **state)
{
    (void)state;
    struct mem m[2];
    memset(m, 0, sizeof(m));
    struct arca_witness *w = mem_set(m, 2);
    struct gate g = {.rc = 0};
    pthread_mutex_init(&g.mu, NULL);
    pthread_cond_init(&g.cv, NULL);
    struct arca_witness_backend b = {.read = gate_read, .record = gate_record, .impl = &g};
    snprintf(b.label, sizeof(b.label), "slow2");
    assert_int_equal(arca_witness_add(w, &b), 0);

    assert_int_equal(arca_witness_record(w, 1), 0); /* mem0 + mem1; slow2 still in record(1) */
    pthread_mutex_lock(&g.mu);
    while (!g.entered)
        pthread_cond_wait(&g.cv, &g.mu);
    assert_int_equal(g.records, 0);
    pthread_mutex_unlock(&g.mu);
    /* slow2 busy: record(2) is queued for it, and mem0 + mem1 make the majority alone */
    assert_int_equal(arca_witness_record(w, 2), 0);
    assert_int_equal(g.records, 0);

    /* slow2 answers record(1) (and the queued record(2)) late with "ahead": that refuses the
     * next round, here the check's (which waits for slow2's answers before reading it) */
    pthread_mutex_lock(&g.mu);
    g.stay_open = true;
    pthread_mutex_unlock(&g.mu);
    gate_open(&g, ARCA_ERR_TAMPERED);
    assert_int_equal(arca_witness_check(w, 2, true, NULL), ARCA_ERR_TAMPERED);
    assert_non_null(strstr(arca_err_detail(), "gate: is at commit 9, ahead"));
    assert_true(g.records >= 1);
    /* told once: the round after is judged on its own answers */
    gate_open(&g, 0);
    assert_int_equal(arca_witness_record(w, 3), 0);
    arca_witness_free(w); /* waits for slow2's last answer */
    pthread_cond_destroy(&g.cv);
    pthread_mutex_destroy(&g.mu);
}

/* A witness that failed is not asked while the others make a majority without it, and is
 * asked when they do not. */
static void test_down_witness_backs_off(void **state)
{
    (void)state;
    struct mem m[3];
    memset(m, 0, sizeof(m));
    struct arca_witness *w = mem_set(m, 3);
    assert_int_equal(arca_witness_check(w, 0, true, NULL), 0);
    assert_int_equal(arca_witness_record(w, 1), 0);
    assert_int_equal(arca_witness_check(w, 1, false, NULL), 0); /* all answered */
    m[2].up = false;
    assert_int_equal(arca_witness_record(w, 2), 0);
    assert_int_equal(arca_witness_check(w, 2, false, NULL), 0); /* mem2's failure is in */
    unsigned calls = m[2].calls;
    assert_int_equal(arca_witness_record(w, 3), 0);
    assert_int_equal(arca_witness_record(w, 4), 0);
    assert_int_equal(arca_witness_check(w, 4, false, NULL), 0);
    assert_int_equal(m[2].calls, calls); /* resting: the writes did not ask it */
    m[1].up = false;                     /* now the others are no majority: ask it anyway */
    assert_int_equal(arca_witness_record(w, 5), ARCA_ERR_NETWORK);
    assert_int_equal(m[2].calls, calls + 1);
    assert_non_null(strstr(arca_err_detail(), "no answer from mem1, mem2"));
    m[1].up = m[2].up = true;
    assert_int_equal(arca_witness_check(w, 5, false, NULL), 0); /* back: caught up */
    assert_int_equal(m[1].v, 5);
    assert_int_equal(m[2].v, 5);
    arca_witness_free(w);
}

static void test_specs(void **state)
{
    (void)state;
    struct arca_witness *w = NULL;
    const char *bad[] = {"nfs:/x"};
    assert_int_equal(arca_witness_open(bad, 1, KEY, &w), ARCA_ERR_INVALID_ARG);
    assert_non_null(strstr(arca_err_detail(), "nfs:/x"));
    const char *ok[] = {"file:/tmp/x", "tpm", "tpm:/dev/tpmrm9", "tpm:swtpm:port=1"};
    assert_int_equal(arca_witness_open(ok, 4, KEY, &w), 0);
    assert_int_equal(arca_witness_count(w), 4);
    assert_non_null(strstr(arca_witness_label(w, 2), "tpm:device:/dev/tpmrm9"));
    arca_witness_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_majority_of_three),
        cmocka_unit_test(test_rollback_fork_and_lost),
        cmocka_unit_test(test_file_witness),
        cmocka_unit_test(test_slow_witness_does_not_hold_the_write),
        cmocka_unit_test(test_down_witness_backs_off),
        cmocka_unit_test(test_specs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
