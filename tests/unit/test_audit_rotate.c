/* Audit log rotation: the chain continues across files, the set verifies as one log, a missing
 * middle file or files out of order are named, size-based rotation, reopening after a rotation
 * (also one cut between its two renames) and checkpoints across rotation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sys/stat.h>

#include "audit/audit.h"
#include "base/err.h"
#include "audit_test_util.h"

static struct arca_audit *open_log(struct fx *f, uint64_t rotate_size)
{
    struct arca_audit_options o = {
        .path = f->path, .key = f->key, .store = f->store, .rotate_size = rotate_size};
    return audit_open_ok(&o);
}

/* Verifies the given files (or directories) as one log. */
static struct arca_audit_set_result verify_set(const char *const *args, size_t n, bool cont)
{
    struct arca_audit_set set;
    int rc = arca_audit_set_expand(args, n, &set);
    if (rc != 0)
        fprintf(stderr, "expand: %s\n", arca_err_detail());
    assert_int_equal(rc, 0);
    struct arca_audit_verify_opts vo = {.allow_continuation = cont};
    struct arca_audit_set_result res;
    assert_int_equal(arca_audit_set_verify(&set, &vo, &res), 0);
    arca_audit_set_free(&set);
    return res;
}

static void test_rotate_and_verify_set(void **state)
{
    struct fx *f = *state;
    struct arca_audit *a = open_log(f, 0);
    audit_events(a, 3); /* seq 1..4 */
    char old1[4096], old2[4096];
    assert_int_equal(arca_audit_rotate(a, old1, sizeof(old1)), 0);
    assert_non_null(strstr(old1, "/audit.log.00000000000000000004"));
    audit_events(a, 2); /* rotation line 5, events 6..7 */
    assert_int_equal(arca_audit_rotate(a, old2, sizeof(old2)), 0);
    audit_events(a, 1);
    arca_audit_close(a);

    const char *all[] = {old1, old2, f->path};
    struct arca_audit_set_result r = verify_set(all, 3, false);
    assert_true(r.v.ok);
    assert_int_equal(r.v.first_seq, 1);
    assert_int_equal(r.v.last_seq, 9);

    /* the directory gives the same set (arca.db and the rest are skipped) */
    const char *dir[] = {f->dir};
    r = verify_set(dir, 1, false);
    assert_true(r.v.ok);
    assert_int_equal(r.v.lines, 9);

    /* the newest file alone: only as a continued file */
    const char *cur[] = {f->path};
    r = verify_set(cur, 1, false);
    assert_false(r.v.ok);
    assert_non_null(strstr(r.v.reason, "its beginning was removed"));
    r = verify_set(cur, 1, true);
    assert_true(r.v.ok);
    assert_int_equal(r.v.first_seq, 8);

    /* the middle file missing */
    const char *gap[] = {old1, f->path};
    r = verify_set(gap, 2, false);
    assert_false(r.v.ok);
    assert_int_equal(r.file, 1);
    assert_int_equal(r.file_line, 1);
    assert_non_null(strstr(r.v.reason, "is missing"));
    assert_non_null(strstr(r.v.reason, "3 line(s)"));

    /* out of order */
    const char *swapped[] = {old2, old1, f->path};
    r = verify_set(swapped, 3, true);
    assert_false(r.v.ok);
    assert_int_equal(r.file, 1);
    assert_non_null(strstr(r.v.reason, "out of order"));

    /* a changed line in the middle file is named by file and line */
    FILE *fp = fopen(old2, "r+");
    assert_non_null(fp);
    char buf[8192];
    size_t len = fread(buf, 1, sizeof(buf), fp);
    char *second = memchr(buf, '\n', len) + 1;
    char *ev = strstr(second, "session_read");
    assert_non_null(ev);
    ev[0] = 'S';
    fseek(fp, 0, SEEK_SET);
    fwrite(buf, 1, len, fp);
    fclose(fp);
    r = verify_set(all, 3, false);
    assert_false(r.v.ok);
    assert_int_equal(r.file, 1);
    assert_int_equal(r.file_line, 2);
}

static void test_reopen_and_checkpoint(void **state)
{
    struct fx *f = *state;
    struct arca_audit *a = open_log(f, 0);
    audit_events(a, 2);
    char old[4096];
    assert_int_equal(arca_audit_rotate(a, old, sizeof(old)), 0);
    /* the rotation line is checkpointed at once: it is in the new file */
    struct arca_store_checkpoint cp;
    assert_int_equal(arca_store_checkpoint_latest(f->store, &cp), 0);
    assert_int_equal(cp.seq, 4);
    arca_audit_close(a);

    /* reopening continues the chain in the new file */
    a = open_log(f, 0);
    audit_events(a, 1);
    arca_audit_close(a);
    assert_int_equal(arca_store_checkpoint_latest(f->store, &cp), 0);
    const char *all[] = {old, f->path};
    struct arca_audit_set set;
    assert_int_equal(arca_audit_set_expand(all, 2, &set), 0);
    struct arca_audit_verify_opts vo = {.checkpoints = &cp, .checkpoint_count = 1};
    struct arca_audit_set_result r;
    assert_int_equal(arca_audit_set_verify(&set, &vo, &r), 0);
    assert_true(r.v.ok);
    assert_int_equal(r.v.last_seq, cp.seq);

    /* the old file put back in place of the new one is refused at open */
    char cur[600];
    snprintf(cur, sizeof(cur), "%s.keep", f->path);
    assert_int_equal(rename(f->path, cur), 0);
    assert_int_equal(rename(old, f->path), 0);
    struct arca_audit_options o = {.path = f->path, .key = f->key, .store = f->store};
    struct arca_audit *b = NULL;
    assert_int_equal(arca_audit_open(&o, &b), ARCA_ERR_TAMPERED);
    assert_int_equal(rename(f->path, old), 0);
    assert_int_equal(rename(cur, f->path), 0);

    /* a crash between the rotation's renames: PATH absent, PATH.new complete */
    a = open_log(f, 0);
    assert_int_equal(arca_audit_rotate(a, old, sizeof(old)), 0);
    arca_audit_close(a);
    char tmp[600];
    snprintf(tmp, sizeof(tmp), "%s.new", f->path);
    assert_int_equal(rename(f->path, tmp), 0);
    a = open_log(f, 0);
    arca_audit_close(a);
    assert_int_not_equal(access(tmp, F_OK), 0);
    const char *dir[] = {f->dir};
    r = verify_set(dir, 1, false);
    assert_true(r.v.ok);
    arca_audit_set_free(&set);
}

static void test_size_rotation(void **state)
{
    struct fx *f = *state;
    struct arca_audit *a = open_log(f, 1500);
    audit_events(a, 40);
    arca_audit_close(a);
    const char *dir[] = {f->dir};
    struct arca_audit_set set;
    assert_int_equal(arca_audit_set_expand(dir, 1, &set), 0);
    assert_true(set.n >= 3);
    for (size_t i = 1; i < set.n; i++)
        assert_true(set.first_seq[i] > set.first_seq[i - 1]);
    arca_audit_set_free(&set);
    struct arca_audit_set_result r = verify_set(dir, 1, false);
    assert_true(r.v.ok);
    assert_int_equal(r.v.first_seq, 1);
    /* the current file never grows far beyond the limit */
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_true(st.st_size < 3000);
    a = open_log(f, 1500);
    arca_audit_close(a);
}

static void test_expand_errors(void **state)
{
    struct fx *f = *state;
    struct arca_audit_set set;
    const char *none[] = {"/nonexistent/audit.log"};
    assert_int_equal(arca_audit_set_expand(none, 1, &set), ARCA_ERR_NOT_FOUND);
    assert_int_equal(set.n, 0);
    const char *dir[] = {f->dir}; /* only arca.db: no audit file */
    assert_int_equal(arca_audit_set_expand(dir, 1, &set), ARCA_ERR_NOT_FOUND);
    assert_non_null(strstr(arca_err_detail(), "no audit log files"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rotate_and_verify_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_and_checkpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_size_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expand_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
