/* The witness set (majority rule, rollback / fork / lost refusals) and the file witness. */
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
    unsigned records;
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
    /* a witness that lost its counter, once the state was witnessed */
    m[0].has = false;
    m[1].v = m[2].v = 6;
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
        cmocka_unit_test(test_specs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
