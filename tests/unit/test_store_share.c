/*
 * A shared store's key for a new member (store/share.h), on a real PostgreSQL (tests/pg_util.sh;
 * skipped without server binaries): a member's share sealed under another data dir's sealing
 * key opens the same store and reads what the member wrote; a key-store is never overwritten; a
 * share of another database fails the open by name; a SQLite store has nothing to share.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "crypto/crypto.h"
#include "store/share.h"
#include "store/store.h"
#include "store_test_util.h"

/* dir's data dir on the database of url (NULL: its own new database). */
static char *data_dir(const char *url)
{
    char *d = tdir_make();
    assert_non_null(d);
    if (url != NULL) {
        char f[512];
        snprintf(f, sizeof(f), "%s/pg.url", d);
        FILE *fp = fopen(f, "w");
        assert_non_null(fp);
        fprintf(fp, "%s\n", url);
        fclose(fp);
    }
    return d;
}

static void commit_one(struct arca_store *s, const char *name, uint8_t tag)
{
    struct arca_store_session rec;
    test_session(&rec, name, tag, NULL, 1);
    assert_int_equal(arca_store_session_commit(s, &rec, NULL, 0), 0);
}

static void test_share_opens_the_same_store(void **state)
{
    (void)state;
    struct arca_store_fixed_sealer fa, fb, fc;
    uint8_t k[32];
    test_seal_key(k, 1);
    arca_store_fixed_sealer_init(&fa, k);
    test_seal_key(k, 2);
    arca_store_fixed_sealer_init(&fb, k);
    test_seal_key(k, 3);
    arca_store_fixed_sealer_init(&fc, k);
    char *da = data_dir(NULL);
    char url[512];
    test_store_path(da, url, sizeof(url));
    struct arca_store *a = NULL, *b = NULL, *o = NULL;
    assert_int_equal(test_store_open(da, &fa, true, &a), 0);
    commit_one(a, "shared", 0x11);
    struct arca_store_share sh;
    assert_int_equal(arca_store_share_get(a, &sh), 0);
    assert_int_equal(sh.commit, 1);

    /* B: its own sealing key, the member's share */
    char *db = data_dir(url);
    char ks[600];
    snprintf(ks, sizeof(ks), "%s/arca.db.key-store", db);
    assert_int_equal(arca_store_share_adopt(ks, &fb.sealer, &sh), 0);
    assert_int_equal(arca_store_share_adopt(ks, &fb.sealer, &sh), ARCA_ERR_EXISTS);
    assert_int_equal(test_store_open(db, &fb, false, &b), 0);
    struct arca_store_session *got = NULL;
    assert_int_equal(arca_store_session_get_active(b, "shared", &got), 0);
    assert_int_equal(got->version, 1);
    arca_store_session_free(got);
    commit_one(b, "from-b", 0x22);
    assert_int_equal(arca_store_session_get_active(a, "from-b", &got), 0);
    arca_store_session_free(got);
    arca_wipe(&sh, sizeof(sh));

    /* the share of another database does not open this one */
    char *dother = data_dir(NULL);
    assert_int_equal(test_store_open(dother, &fc, true, &o), 0);
    commit_one(o, "other", 0x33);
    assert_int_equal(arca_store_share_get(o, &sh), 0);
    char *dc = data_dir(url);
    snprintf(ks, sizeof(ks), "%s/arca.db.key-store", dc);
    assert_int_equal(arca_store_share_adopt(ks, &fc.sealer, &sh), 0);
    struct arca_store *c = NULL;
    assert_int_equal(test_store_open(dc, &fc, false, &c), ARCA_ERR_TAMPERED);
    assert_null(c);
    arca_wipe(&sh, sizeof(sh));

    arca_store_close(a);
    arca_store_close(b);
    arca_store_close(o);
    tdir_remove(da);
    tdir_remove(db);
    tdir_remove(dc);
    tdir_remove(dother);
    arca_store_fixed_sealer_wipe(&fa);
    arca_store_fixed_sealer_wipe(&fb);
    arca_store_fixed_sealer_wipe(&fc);
}

static void test_sqlite_has_nothing_to_share(void **state)
{
    (void)state;
    unsetenv("ARCA_TEST_STORE");
    struct arca_store_fixed_sealer fs;
    uint8_t k[32];
    test_seal_key(k, 4);
    arca_store_fixed_sealer_init(&fs, k);
    char *d = data_dir(NULL);
    struct arca_store *s = NULL;
    assert_int_equal(test_store_open(d, &fs, true, &s), 0);
    struct arca_store_share sh;
    memset(&sh, 0x5a, sizeof(sh));
    assert_int_equal(arca_store_share_get(s, &sh), ARCA_ERR_UNSUPPORTED);
    assert_int_equal(sh.commit, 0);
    arca_store_close(s);
    tdir_remove(d);
    arca_store_fixed_sealer_wipe(&fs);
    setenv("ARCA_TEST_STORE", "pg", 1);
}

int main(void)
{
    /* this test is about the shared store: always PostgreSQL (exit 77 without it) */
    setenv("ARCA_TEST_STORE", "pg", 1);
    setenv("PG_FSYNC", "off", 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_share_opens_the_same_store),
        cmocka_unit_test(test_sqlite_has_nothing_to_share),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
