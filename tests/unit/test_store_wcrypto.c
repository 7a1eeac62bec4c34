/*
 * The writer's kept crypto contexts (store/engine.h arca_store_wcrypto): row nonces drawn 16 at
 * a time never repeat, within one transaction, across transactions and across the refills of
 * the batch; rows sealed with the kept contexts read back (also after a reopen, i.e. with
 * one-shot calls); a key rotation re-keys the kept sealing context.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "base/err.h"
#include "store/engine.h"
#include "store/store.h"
#include "store_test_util.h"

#define ROWS 70 /* 4 refills of 16, and a remainder */

struct nonces {
    uint8_t n[2 * ROWS][ARCA_STORE_NONCE_LEN];
    size_t count;
};

static int collect(void *arg, const struct arca_store_row *row)
{
    struct nonces *c = arg;
    if (row->tbl == ARCA_ST_META && row->present && c->count < 2 * ROWS)
        memcpy(c->n[c->count++], row->nonce, ARCA_STORE_NONCE_LEN);
    return 0;
}

static void put_meta(struct arca_store *s, int i, const char *tag)
{
    char key[32], val[32];
    snprintf(key, sizeof(key), "k%d", i);
    snprintf(val, sizeof(val), "%s-%d", tag, i);
    assert_int_equal(arca_store_meta_put(s, key, val, strlen(val)), 0);
}

static void assert_distinct(struct arca_store *s, size_t want)
{
    struct nonces *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    assert_int_equal(s->ops->scan_all(s->be, collect, c), 0);
    assert_true(c->count >= want); /* the store may keep meta rows of its own */
    for (size_t i = 0; i < c->count; i++)
        for (size_t j = i + 1; j < c->count; j++)
            assert_memory_not_equal(c->n[i], c->n[j], ARCA_STORE_NONCE_LEN);
    free(c);
}

static void assert_values(struct arca_store *s, const char *tag)
{
    struct arca_buf out;
    arca_buf_init_secret(&out, 0);
    char key[32], val[32];
    for (int i = 0; i < ROWS; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        snprintf(val, sizeof(val), "%s-%d", tag, i);
        arca_buf_reset(&out);
        assert_int_equal(arca_store_meta_get(s, key, &out), 0);
        assert_int_equal(out.len, strlen(val));
        assert_memory_equal(out.data, val, out.len);
    }
    arca_buf_free(&out);
}

static void test_nonces_and_keys(void **state)
{
    (void)state;
    char *dir = tdir_make();
    uint8_t k[32];
    test_seal_key(k, 11);
    struct arca_store_fixed_sealer fs;
    arca_store_fixed_sealer_init(&fs, k);
    struct arca_store *s = NULL;
    assert_int_equal(test_store_open(dir, &fs, true, &s), 0);
    for (int i = 0; i < ROWS; i++)
        put_meta(s, i, "one");
    assert_non_null(s->wc);
    assert_distinct(s, ROWS);
    /* a rotation re-seals every row under a new key: the kept context must follow it */
    uint64_t n = 0;
    assert_int_equal(arca_store_rotate_key(s, &n), 0);
    for (int i = 0; i < ROWS; i++)
        put_meta(s, i, "two");
    assert_values(s, "two");
    arca_store_close(s);
    /* reopened: every row verified and opened with one-shot calls and the rotated key */
    assert_int_equal(test_store_open(dir, &fs, false, &s), 0);
    assert_values(s, "two");
    assert_distinct(s, ROWS);
    arca_store_close(s);
    arca_store_fixed_sealer_wipe(&fs);
    tdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nonces_and_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
