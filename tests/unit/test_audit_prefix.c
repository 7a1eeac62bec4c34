/* Start-up that does not grow with the log: the latest checkpoint's prefix (length, SHA-256 of
 * the current file up to its line) spares arca_audit_open the signatures before it, and every
 * mismatch falls back to the full check, which names a bad line as before. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"
#include "audit/audit_internal.h"
#include "base/err.h"
#include "audit_test_util.h"

/* Opens f's log on store (NULL = none). */
static struct arca_audit *open_log(struct fx *f, struct arca_store *store)
{
    struct arca_audit_options o = {
        .path = f->path, .key = f->key, .store = store, .checkpoint_every = 1000};
    return audit_open_ok(&o);
}

/* Opens the log on the store, notes how many lines the open verified, closes it (which
 * checkpoints its audit_opened line). */
static uint64_t reopen_count(struct fx *f)
{
    struct arca_audit *a = open_log(f, f->store);
    uint64_t n = arca_audit_open_verified(a);
    arca_audit_close(a);
    return n;
}

/* Lines in the file. */
static uint64_t file_lines(const char *path)
{
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    uint64_t n = 0;
    int c;
    while ((c = fgetc(fp)) != EOF)
        n += c == '\n';
    fclose(fp);
    return n;
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

/* The open refuses the file with ARCA_ERR_TAMPERED and a detail holding want. */
static void expect_refused(struct fx *f, const char *want)
{
    struct arca_audit_options o = {.path = f->path, .key = f->key, .store = f->store};
    struct arca_audit *a = NULL;
    assert_int_equal(arca_audit_open(&o, &a), ARCA_ERR_TAMPERED);
    if (strstr(arca_err_detail(), want) == NULL)
        fprintf(stderr, "detail: %s (want %s)\n", arca_err_detail(), want);
    assert_non_null(strstr(arca_err_detail(), want));
    assert_null(a);
}

/* Many lines, then a checkpoint: the next open checks only the checkpoint's own line; lines
 * written after the checkpoint (here by a log without a store, as after a crash before the
 * next checkpoint) are verified too, and only they. */
static void test_tail_only(void **state)
{
    struct fx *f = *state;
    struct arca_audit *a = open_log(f, f->store);
    audit_events(a, 300);
    arca_audit_close(a);
    struct arca_store_checkpoint cp;
    assert_int_equal(arca_store_checkpoint_latest(f->store, &cp), 0);
    assert_int_equal(cp.seq, 301);
    assert_int_equal(cp.prefix_len, file_size(f->path));
    assert_int_equal(reopen_count(f), 1);

    a = open_log(f, NULL); /* its lines reach no checkpoint */
    audit_events(a, 7);
    arca_audit_close(a);
    assert_int_equal(reopen_count(f), 1 + 8);
    /* the whole file still verifies offline, and the open continued its chain */
    struct arca_audit_verify_opts vo = {.key = f->key};
    struct arca_audit_verify_result r;
    assert_int_equal(arca_audit_verify_file(f->path, &vo, &r), 0);
    assert_true(r.ok);
    assert_int_equal(r.lines, file_lines(f->path));
    assert_int_equal(r.last_seq, r.lines);
}

/* A byte changed inside the prefix: the digest differs, the full check names the line. */
static void test_flip_in_prefix(void **state)
{
    struct fx *f = *state;
    struct arca_audit *a = open_log(f, f->store);
    audit_events(a, 20);
    arca_audit_close(a);
    struct lines ls;
    read_lines(f->path, &ls);
    char *p = strstr(ls.l[4], "\"i\":3");
    assert_non_null(p);
    p[4] = '8';
    write_lines(f->path, &ls);
    free_lines(&ls);
    expect_refused(f, "line 5: signature does not verify");
}

/* A file cut below the prefix: refused as truncated, as without the prefix. */
static void test_truncated_below_prefix(void **state)
{
    struct fx *f = *state;
    struct arca_audit *a = open_log(f, f->store);
    audit_events(a, 10);
    arca_audit_close(a);
    struct lines ls;
    read_lines(f->path, &ls);
    ls.n -= 3;
    write_lines(f->path, &ls);
    ls.n += 3;
    free_lines(&ls);
    expect_refused(f, "3 line(s) missing at the end (sequence numbers 9 to 11)");
    /* a cut inside the last line */
    assert_int_equal(truncate(f->path, (off_t)file_size(f->path) - 1), 0);
    expect_refused(f, "line 8: the last line is incomplete");
}

/* Lines appended after the prefix by someone else: the tail does not verify, the full check
 * names the first of them. */
static void test_stranger_after_prefix(void **state)
{
    struct fx *f = *state;
    struct arca_audit *a = open_log(f, f->store);
    audit_events(a, 5);
    arca_audit_close(a);
    uint64_t n = file_lines(f->path);
    struct arca_key *other = NULL;
    assert_int_equal(arca_key_generate(ARCA_KEY_ED25519, &other), 0);
    append_signed(f, other,
                  "{\"event\":\"session_read\",\"fields\":{},\"seq\":%llu,"
                  "\"time\":\"2026-12-03T00:00:00Z\"",
                  (unsigned long long)n + 1);
    char want[64];
    snprintf(want, sizeof(want), "line %llu: signature does not verify", (unsigned long long)n + 1);
    expect_refused(f, want);
    arca_key_free(other);
    /* a line of our key that skips a seq */
    struct lines ls;
    read_lines(f->path, &ls);
    free(ls.l[--ls.n]);
    write_lines(f->path, &ls);
    free_lines(&ls);
    append_signed(f, f->key,
                  "{\"event\":\"session_read\",\"fields\":{},\"seq\":%llu,"
                  "\"time\":\"2026-12-03T00:00:00Z\"",
                  (unsigned long long)n + 2);
    snprintf(want, sizeof(want), "line %llu: sequence number %llu follows %llu",
             (unsigned long long)n + 1, (unsigned long long)n + 2, (unsigned long long)n);
    expect_refused(f, want);
}

/* A checkpoint record as main wrote it (no prefix): full check; the next one has a prefix. */
static void test_checkpoint_without_prefix(void **state)
{
    struct fx *f = *state;
    struct arca_audit *a = open_log(f, f->store);
    audit_events(a, 30);
    arca_audit_close(a);
    struct arca_store_checkpoint cp;
    assert_int_equal(arca_store_checkpoint_latest(f->store, &cp), 0);
    assert_true(cp.prefix_len > 0);
    cp.prefix_len = 0;
    assert_int_equal(arca_store_checkpoint_put(f->store, &cp, false), 0);
    assert_int_equal(reopen_count(f), 31);
    assert_int_equal(reopen_count(f), 1);
}

/* Captures what the log writes to stderr (the warning) while reopening. */
static uint64_t reopen_capture(struct fx *f, char *out, size_t n)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/stderr", f->dir);
    fflush(stderr);
    int saved = dup(2);
    FILE *fp = fopen(path, "w+");
    assert_non_null(fp);
    dup2(fileno(fp), 2);
    uint64_t verified = reopen_count(f);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(fp);
    size_t got = fread(out, 1, n - 1, fp);
    out[got] = '\0';
    fclose(fp);
    return verified;
}

/* Prefixes that do not apply: the full check runs and the log opens (a digest that differed
 * although every line verifies is logged, naming the file). */
static void test_prefix_does_not_apply(void **state)
{
    struct fx *f = *state;
    struct arca_audit *a = open_log(f, f->store);
    audit_events(a, 12);
    arca_audit_close(a);
    struct arca_store_checkpoint good;
    assert_int_equal(arca_store_checkpoint_latest(f->store, &good), 0);
    const uint64_t lines = file_lines(f->path);
    char err[4096];

    struct arca_store_checkpoint cp = good;
    cp.prefix_sha256[0] ^= 1;
    assert_int_equal(arca_store_checkpoint_put(f->store, &cp, false), 0);
    assert_int_equal(reopen_capture(f, err, sizeof(err)), lines);
    assert_non_null(strstr(err, "differ from the store's checkpoint"));
    assert_non_null(strstr(err, f->path));

    /* not on a line boundary (with the digest of those bytes) */
    uint8_t *file = malloc(good.prefix_len);
    FILE *fp = fopen(f->path, "r");
    assert_non_null(fp);
    assert_int_equal(fread(file, 1, good.prefix_len, fp), good.prefix_len);
    fclose(fp);
    cp = good;
    cp.prefix_len = good.prefix_len - 1;
    assert_int_equal(arca_sha256(file, cp.prefix_len, cp.prefix_sha256), 0);
    assert_int_equal(arca_store_checkpoint_put(f->store, &cp, false), 0);
    assert_int_equal(reopen_capture(f, err, sizeof(err)), lines + 1);
    assert_null(strstr(err, "differ"));

    /* a boundary of an earlier line than the checkpoint's */
    cp = good;
    cp.prefix_len = (uint64_t)((uint8_t *)memchr(file, '\n', good.prefix_len) - file) + 1;
    cp.prefix_len +=
        (uint64_t)((uint8_t *)memchr(file + cp.prefix_len, '\n', good.prefix_len - cp.prefix_len) -
                   (file + cp.prefix_len)) +
        1; /* two lines */
    assert_int_equal(arca_sha256(file, cp.prefix_len, cp.prefix_sha256), 0);
    assert_int_equal(arca_store_checkpoint_put(f->store, &cp, false), 0);
    assert_int_equal(reopen_capture(f, err, sizeof(err)), lines + 2);

    /* longer than the file */
    cp = good;
    cp.prefix_len = file_size(f->path) + 1;
    assert_int_equal(arca_store_checkpoint_put(f->store, &cp, false), 0);
    assert_int_equal(reopen_capture(f, err, sizeof(err)), lines + 3);
    free(file);
    assert_int_equal(reopen_count(f), 1); /* and the close's checkpoint applies again */
}

/* A rotation starts a new file and a new hash: the next open checks only the new file's
 * checkpointed line. If the rotation's checkpoint did not land, the older checkpoint (of the
 * archived file) does not apply, and that is no reason for a warning. */
static void test_rotation(void **state)
{
    struct fx *f = *state;
    struct arca_audit *a = open_log(f, f->store);
    audit_events(a, 2);
    struct arca_store_checkpoint before;
    assert_int_equal(arca_audit_checkpoint(a), 0);
    assert_int_equal(arca_store_checkpoint_latest(f->store, &before), 0);
    char archived[600];
    assert_int_equal(arca_audit_rotate(a, archived, sizeof(archived)), 0);
    audit_events(a, 40); /* the new file outgrows the old one: its start is hashed and differs */
    arca_audit_close(a);
    struct arca_store_checkpoint cp;
    assert_int_equal(arca_store_checkpoint_latest(f->store, &cp), 0);
    assert_int_equal(cp.prefix_len, file_size(f->path));
    assert_int_equal(reopen_count(f), 1);

    assert_int_equal(arca_store_checkpoint_put(f->store, &before, false), 0);
    char err[4096];
    const uint64_t lines = file_lines(f->path); /* before the open adds its line */
    assert_int_equal(reopen_capture(f, err, sizeof(err)), lines);
    assert_null(strstr(err, "differ"));
    assert_int_equal(reopen_count(f), 1);
}

/* A store rolled back to an older copy holds an older checkpoint with a shorter prefix, so the
 * lines that prove the rollback are verified; the error names their line in the whole file. */
static void test_rollback_with_prefix(void **state)
{
    struct fx *f = *state;
    struct arca_audit *a = open_log(f, f->store);
    audit_events(a, 20);
    arca_audit_close(a);
    arca_store_close(f->store);
    char saved[600], cmd[2048];
    snprintf(saved, sizeof(saved), "%s/saved", f->dir);
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s' && cp -p '%s'/arca.db* '%s'/", saved, f->dir, saved);
    assert_int_equal(system(cmd), 0);

    assert_int_equal(test_store_open(f->dir, &f->fs, false, &f->store), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(arca_store_meta_put(f->store, "k", "v", 1), 0);
    a = open_log(f, f->store);
    audit_events(a, 10);
    arca_audit_close(a);
    struct arca_audit_verify_opts vo = {.key = f->key};
    struct arca_audit_verify_result r;
    assert_int_equal(arca_audit_verify_file(f->path, &vo, &r), 0);
    assert_true(r.ok);
    arca_store_close(f->store);

    snprintf(cmd, sizeof(cmd), "cp -p '%s'/arca.db* '%s'/", saved, f->dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(test_store_open(f->dir, &f->fs, false, &f->store), 0);
    char want[768];
    snprintf(want, sizeof(want), "state rolled back: audit log %s line %llu was written", f->path,
             (unsigned long long)r.max_epoch_line);
    expect_refused(f, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tail_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flip_in_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_below_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stranger_after_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_without_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prefix_does_not_apply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollback_with_prefix, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
