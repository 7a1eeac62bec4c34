/* arcad's witnesses over a real store (arcad_witness.c + the store's hook): every commit is
 * recorded, a rolled-back store is refused at open, a witness that is down stops writes (the
 * commit stays) until it is back, a lost witness is refused, and the audit tail is covered. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "arcad_witness.h"
#include "base/err.h"
#include "store_test_util.h"
#include "witness/witness.h"

struct wfx {
    char *dir;
    char wpath[512], spec[600];
    struct arca_store_fixed_sealer fs;
    struct arcad_witness *aw;
    struct arca_store *s;
};

static int wopen(struct wfx *f)
{
    const char *specs[] = {f->spec};
    static const uint8_t cas_key[32] = {1, 2, 3};
    int rc = arcad_witness_new(specs, 1, &f->fs.sealer, cas_key, NULL, &f->aw);
    if (rc < 0)
        return rc;
    char path[512];
    snprintf(path, sizeof(path), "%s/arca.db", f->dir);
    struct arca_store_options o = {
        .path = path, .sealer = &f->fs.sealer, .create = true, .hook = arcad_witness_hook(f->aw)};
    rc = arca_store_open(&o, &f->s);
    if (rc == 0)
        rc = arcad_witness_start(f->aw, f->s, NULL, 3600);
    return rc;
}

static void wclose(struct wfx *f)
{
    arcad_witness_stop(f->aw);
    arca_store_close(f->s);
    arcad_witness_free(f->aw);
    f->s = NULL;
    f->aw = NULL;
}

static uint64_t witness_value(struct wfx *f)
{
    struct arca_witness_backend b;
    assert_int_equal(arca_witness_file_new(f->wpath, &b), 0);
    uint64_t v = 0;
    assert_int_equal(b.read(b.impl, &v), 0);
    b.free(b.impl);
    return v;
}

static uint64_t commit_of(struct arca_store *s)
{
    uint64_t c = 0;
    assert_int_equal(arca_store_state(s, &c, NULL), 0);
    return c;
}

static void copy_file(const char *from, const char *to)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "cp -p '%s' '%s'", from, to);
    assert_int_equal(system(cmd), 0);
}

static void snapshot(struct wfx *f, const char *tag, bool restore)
{
    static const char *files[] = {"arca.db", "arca.db.key-store"};
    for (size_t i = 0; i < 2; i++) {
        char a[700], b[700];
        snprintf(a, sizeof(a), "%s/%s", f->dir, files[i]);
        snprintf(b, sizeof(b), "%s/%s.%s", f->dir, files[i], tag);
        if (restore)
            copy_file(b, a);
        else
            copy_file(a, b);
    }
}

static int setup(void **state)
{
    struct wfx *f = calloc(1, sizeof(*f));
    f->dir = tdir_make();
    uint8_t k[32];
    test_seal_key(k, 3);
    arca_store_fixed_sealer_init(&f->fs, k);
    snprintf(f->wpath, sizeof(f->wpath), "%s/witness", f->dir);
    snprintf(f->spec, sizeof(f->spec), "file:%s", f->wpath);
    *state = f;
    return wopen(f) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    struct wfx *f = *state;
    wclose(f);
    arca_store_fixed_sealer_wipe(&f->fs);
    tdir_remove(f->dir);
    free(f);
    return 0;
}

static void test_every_commit_is_witnessed(void **state)
{
    struct wfx *f = *state;
    /* the first start marked the state as witnessed: one commit, witnessed */
    assert_int_equal(commit_of(f->s), 1);
    assert_int_equal(witness_value(f), 1);
    for (int i = 0; i < 5; i++)
        assert_int_equal(arca_store_meta_put(f->s, "k", "v", 1), 0);
    assert_int_equal(commit_of(f->s), 6);
    assert_int_equal(witness_value(f), 6);
    wclose(f);
    assert_int_equal(wopen(f), 0);
    assert_int_equal(witness_value(f), 6);
}

static void test_rolled_back_store_is_refused(void **state)
{
    struct wfx *f = *state;
    assert_int_equal(arca_store_meta_put(f->s, "k", "1", 1), 0);
    wclose(f);
    snapshot(f, "old", false);
    assert_int_equal(wopen(f), 0);
    assert_int_equal(arca_store_meta_put(f->s, "k", "2", 1), 0);
    wclose(f);
    snapshot(f, "old", true);
    assert_int_equal(wopen(f), ARCA_ERR_TAMPERED);
    assert_non_null(strstr(arca_err_detail(), "is at commit 3 but the state is at commit 2"));
    const char *why = NULL;
    assert_true(arcad_witness_refused(f->aw, &why));
    assert_non_null(strstr(why, "state rolled back"));
    /* the refusal changed nothing: the witness is where it was */
    assert_int_equal(witness_value(f), 3);
    arcad_witness_free(f->aw);
    f->aw = NULL;
    /* for teardown */
    snprintf(f->spec, sizeof(f->spec), "file:%s.fresh", f->wpath);
    f->s = NULL;
}

static void test_witness_down_stops_writes_until_back(void **state)
{
    struct wfx *f = *state;
    char hidden[600];
    snprintf(hidden, sizeof(hidden), "%s.away", f->wpath);
    assert_int_equal(rename(f->wpath, hidden), 0);
    assert_int_equal(mkdir(f->wpath, 0700), 0); /* unreadable as a file: the witness is down */
    int rc = arca_store_meta_put(f->s, "k", "x", 1);
    assert_int_equal(rc, ARCA_ERR_NETWORK);
    assert_non_null(strstr(arca_err_detail(), "durable but not witnessed"));
    assert_int_equal(commit_of(f->s), 2); /* the write itself stayed */
    rc = arca_store_meta_put(f->s, "k", "y", 1);
    assert_true(rc < 0);
    assert_non_null(strstr(arca_err_detail(), "writes are refused until"));
    assert_int_equal(commit_of(f->s), 2);
    /* reads go on */
    struct arca_buf b;
    arca_buf_init(&b, 16);
    assert_int_equal(arca_store_meta_get(f->s, "k", &b), 0);
    assert_memory_equal(b.data, "x", 1);
    arca_buf_free(&b);
    /* back: the next write first brings the witness to commit 2 */
    assert_int_equal(rmdir(f->wpath), 0);
    assert_int_equal(rename(hidden, f->wpath), 0);
    assert_int_equal(arca_store_meta_put(f->s, "k", "z", 1), 0);
    assert_int_equal(commit_of(f->s), 3);
    assert_int_equal(witness_value(f), 3);
}

static void test_lost_witness_is_refused(void **state)
{
    struct wfx *f = *state;
    wclose(f);
    assert_int_equal(unlink(f->wpath), 0);
    assert_int_equal(wopen(f), ARCA_ERR_TAMPERED);
    assert_non_null(strstr(arca_err_detail(), "witness lost"));
    arcad_witness_free(f->aw);
    f->aw = NULL;
    f->s = NULL;
}

static void test_recheck_sees_a_witness_ahead(void **state)
{
    struct wfx *f = *state;
    /* another copy of the state advanced the witness (or it was forged ahead) */
    struct arca_witness_backend b;
    assert_int_equal(arca_witness_file_new(f->wpath, &b), 0);
    assert_int_equal(b.record(b.impl, 10), 0);
    b.free(b.impl);
    assert_int_equal(arca_store_recheck(f->s), ARCA_ERR_TAMPERED);
    assert_non_null(strstr(arca_err_detail(), "is at commit 10 but the state is at commit 1"));
    assert_true(arca_store_meta_put(f->s, "k", "x", 1) < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_commit_is_witnessed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rolled_back_store_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_witness_down_stops_writes_until_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_witness_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recheck_sees_a_witness_ahead, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
