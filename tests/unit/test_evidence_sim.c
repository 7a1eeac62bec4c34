/*
 * The INSECURE simulation TEE: platform creation and permissions, measurement, evidence round
 * trip, tampering, wrong key, truncation, seal key stability.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/err.h"
#include "crypto/crypto.h"
#include "evidence/sim.h"

#define assert_fails(expr, code, substr)                                                           \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ != (code) || strstr(arca_err_detail(), (substr)) == NULL)                          \
            fail_msg("%s: got %d (%s), want %d with \"%s\"", #expr, rc_, arca_err_detail(),        \
                     (code), (substr));                                                            \
    } while (0)

struct fx {
    char dir[64];
    char sub[128];
    struct arca_sim_platform *p;
};

static void rm_rf(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "chmod -R u+rwx %s 2>/dev/null; rm -rf %s", dir, dir);
    assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/arca-sim-test-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->sub, sizeof(f->sub), "%s/a/b/arca-sim", f->dir);
    if (arca_sim_platform_open(f->sub, &f->p) != 0) {
        fprintf(stderr, "open: %s\n", arca_err_detail());
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    arca_sim_platform_free(f->p);
    rm_rf(f->dir);
    free(f);
    return 0;
}

static void make(struct fx *f, struct arca_buf *ev, uint8_t m[32], uint8_t rd[64])
{
    for (int i = 0; i < 32; i++)
        m[i] = (uint8_t)i;
    for (int i = 0; i < 64; i++)
        rd[i] = (uint8_t)(0xa0 + i);
    arca_buf_init(ev, 0);
    assert_int_equal(arca_sim_evidence_make(f->p, m, rd, ev), 0);
}

static void test_platform_created_private(void **state)
{
    struct fx *f = *state;
    struct stat st;
    char path[256];
    assert_int_equal(stat(f->sub, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    snprintf(path, sizeof(path), "%s/platform-key.pem", f->sub);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(path, sizeof(path), "%s/platform-secret", f->sub);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 32);
    assert_string_equal(arca_sim_platform_dir(f->p), f->sub);

    /* Reopening finds the same platform (id and seal keys). */
    uint8_t id1[32], id2[32], m[32] = {1}, k1[32], k2[32];
    assert_int_equal(arca_sim_platform_id(f->p, id1), 0);
    assert_int_equal(arca_sim_seal_key(f->p, m, "keystore", k1), 0);
    struct arca_sim_platform *q = NULL;
    assert_int_equal(arca_sim_platform_open(f->sub, &q), 0);
    assert_int_equal(arca_sim_platform_id(q, id2), 0);
    assert_memory_equal(id1, id2, 32);
    assert_int_equal(arca_sim_seal_key(q, m, "keystore", k2), 0);
    assert_memory_equal(k1, k2, 32);
    arca_sim_platform_free(q);
}

static void test_platform_permissions(void **state)
{
    struct fx *f = *state;
    struct arca_sim_platform *q = NULL;
    char path[256];

    assert_int_equal(chmod(f->sub, 0755), 0);
    assert_fails(arca_sim_platform_open(f->sub, &q), ARCA_ERR_INSECURE, "has mode 0755");
    assert_null(q);
    assert_true(strstr(arca_err_detail(), "INSECURE") != NULL);
    assert_int_equal(chmod(f->sub, 0700), 0);

    snprintf(path, sizeof(path), "%s/platform-secret", f->sub);
    assert_int_equal(chmod(path, 0640), 0);
    assert_fails(arca_sim_platform_open(f->sub, &q), ARCA_ERR_INSECURE,
                 "platform-secret has mode 0640");
    assert_int_equal(chmod(path, 0600), 0);

    snprintf(path, sizeof(path), "%s/platform-key.pem", f->sub);
    assert_int_equal(chmod(path, 0604), 0);
    assert_fails(arca_sim_platform_open(f->sub, &q), ARCA_ERR_INSECURE,
                 "platform-key.pem has mode 0604");
    assert_int_equal(chmod(path, 0600), 0);

    /* A secret file of the wrong size. */
    snprintf(path, sizeof(path), "%s/platform-secret", f->sub);
    assert_int_equal(truncate(path, 31), 0);
    assert_fails(arca_sim_platform_open(f->sub, &q), ARCA_ERR_FORMAT, "holds 31 bytes");

    /* A file where the directory should be. */
    snprintf(path, sizeof(path), "%s/file", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fclose(fp);
    assert_fails(arca_sim_platform_open(path, &q), ARCA_ERR_INSECURE, "is not a directory");
}

static void test_default_dir_env(void **state)
{
    struct fx *f = *state;
    char d[256];
    snprintf(d, sizeof(d), "%s/env-dir", f->dir);
    setenv("ARCA_SIM_DIR", d, 1);
    struct arca_sim_platform *q = NULL;
    assert_int_equal(arca_sim_platform_open(NULL, &q), 0);
    assert_string_equal(arca_sim_platform_dir(q), d);
    arca_sim_platform_free(q);
    unsetenv("ARCA_SIM_DIR");
    char xdg[256];
    snprintf(xdg, sizeof(xdg), "%s/xdg", f->dir);
    setenv("XDG_DATA_HOME", xdg, 1);
    assert_int_equal(arca_sim_platform_open(NULL, &q), 0);
    snprintf(d, sizeof(d), "%s/xdg/arca-sim", f->dir);
    assert_string_equal(arca_sim_platform_dir(q), d);
    arca_sim_platform_free(q);
    unsetenv("XDG_DATA_HOME");
}

static void test_round_trip(void **state)
{
    struct fx *f = *state;
    struct arca_buf ev;
    uint8_t m[32], rd[64], id[32];
    make(f, &ev, m, rd);
    assert_memory_equal(ev.data, "ARCASIM1", 8);
    struct arca_claims cl;
    int rc = arca_sim_evidence_verify(ev.data, ev.len, &cl);
    if (rc != 0)
        fail_msg("verify: %s", arca_err_detail());
    assert_int_equal(cl.type, ARCA_EVIDENCE_SIM);
    assert_false(cl.debug);
    assert_int_equal(cl.tcb_status, ARCA_TCB_UP_TO_DATE);
    assert_memory_equal(cl.mrenclave, m, 32);
    assert_memory_equal(cl.report_data, rd, 64);
    assert_int_equal(cl.platform_id_len, 32);
    assert_int_equal(arca_sim_platform_id(f->p, id), 0);
    assert_memory_equal(cl.platform_id, id, 32);
    assert_int_equal(arca_sim_evidence_verify(ev.data, ev.len, NULL), 0);
    arca_buf_free(&ev);
}

static void test_tampered(void **state)
{
    struct fx *f = *state;
    struct arca_buf ev;
    uint8_t m[32], rd[64];
    make(f, &ev, m, rd);
    struct arca_claims cl, before;
    memset(&cl, 0x77, sizeof(cl));
    before = cl;
    struct {
        size_t off;
        int code;
        const char *why;
    } cases[] = {
        {0, ARCA_ERR_FORMAT, "bad magic at offset 0"},
        {9, ARCA_ERR_UNSUPPORTED, "version 0 at offset 8"},
        {10, ARCA_ERR_SIGNATURE, "signature does not verify"},         /* measurement */
        {10 + 31, ARCA_ERR_SIGNATURE, "signature does not verify"},    /* measurement */
        {42, ARCA_ERR_SIGNATURE, "signature does not verify"},         /* report data */
        {42 + 63, ARCA_ERR_SIGNATURE, "signature does not verify"},    /* report data */
        {ev.len - 1, ARCA_ERR_SIGNATURE, "signature does not verify"}, /* signature */
        {ev.len - 20, ARCA_ERR_SIGNATURE, "signature does not verify"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t x = cases[i].off == 9 ? 0x01 : 0x10; /* version 1 -> 0 */
        ev.data[cases[i].off] ^= x;
        assert_fails(arca_sim_evidence_verify(ev.data, ev.len, &cl), cases[i].code, cases[i].why);
        assert_memory_equal(&cl, &before, sizeof(cl));
        ev.data[cases[i].off] ^= x;
    }
    assert_int_equal(arca_sim_evidence_verify(ev.data, ev.len, &cl), 0);

    /* A trailing byte. */
    assert_int_equal(arca_buf_put_u8(&ev, 0), 0);
    assert_fails(arca_sim_evidence_verify(ev.data, ev.len, &cl), ARCA_ERR_FORMAT,
                 "1 trailing bytes after the signature");
    arca_buf_free(&ev);
}

static void test_wrong_key(void **state)
{
    struct fx *f = *state;
    struct arca_buf ev, other;
    uint8_t m[32], rd[64];
    make(f, &ev, m, rd);
    /* Another platform's evidence for the same values: swap in its key, keep our signature. */
    char d2[256];
    snprintf(d2, sizeof(d2), "%s/other", f->dir);
    struct arca_sim_platform *q = NULL;
    assert_int_equal(arca_sim_platform_open(d2, &q), 0);
    arca_buf_init(&other, 0);
    assert_int_equal(arca_sim_evidence_make(q, m, rd, &other), 0);
    size_t spki_off = 8 + 2 + 32 + 64 + 2;
    size_t spki_len = ((size_t)ev.data[spki_off - 2] << 8) | ev.data[spki_off - 1];
    assert_int_equal(spki_len, ((size_t)other.data[spki_off - 2] << 8) | other.data[spki_off - 1]);
    memcpy(ev.data + spki_off, other.data + spki_off, spki_len);
    assert_fails(arca_sim_evidence_verify(ev.data, ev.len, NULL), ARCA_ERR_SIGNATURE,
                 "does not verify with the platform key it names");
    /* A broken key. */
    ev.data[spki_off + 2] ^= 0xff;
    assert_fails(arca_sim_evidence_verify(ev.data, ev.len, NULL), ARCA_ERR_FORMAT,
                 "platform key at offset 108");

    /* Platforms differ in id and seal keys. */
    uint8_t id1[32], id2[32], k1[32], k2[32];
    assert_int_equal(arca_sim_platform_id(f->p, id1), 0);
    assert_int_equal(arca_sim_platform_id(q, id2), 0);
    assert_memory_not_equal(id1, id2, 32);
    assert_int_equal(arca_sim_seal_key(f->p, m, "p", k1), 0);
    assert_int_equal(arca_sim_seal_key(q, m, "p", k2), 0);
    assert_memory_not_equal(k1, k2, 32);
    arca_sim_platform_free(q);
    arca_buf_free(&ev);
    arca_buf_free(&other);
}

static void test_truncated(void **state)
{
    struct fx *f = *state;
    struct arca_buf ev;
    uint8_t m[32], rd[64];
    make(f, &ev, m, rd);
    for (size_t n = 0; n < ev.len; n++) {
        int rc = arca_sim_evidence_verify(ev.data, n, NULL);
        if (rc != ARCA_ERR_TRUNCATED && rc != ARCA_ERR_FORMAT)
            fail_msg("prefix %zu: %d %s", n, rc, arca_err_detail());
    }
    assert_fails(arca_sim_evidence_verify(ev.data, 50, NULL), ARCA_ERR_TRUNCATED,
                 "truncated in report data at offset 42 of 50");
    assert_fails(arca_sim_evidence_verify(ev.data, 0, NULL), ARCA_ERR_TRUNCATED,
                 "truncated in magic");
    arca_buf_free(&ev);
}

/* The cached verifier agrees with the uncached one, on good evidence (a hit after the first
 * call) and on every flip, including one in the platform key's bytes (other bytes: a miss). */
static void test_cached(void **state)
{
    struct fx *f = *state;
    struct arca_buf ev;
    uint8_t m[32], rd[64];
    make(f, &ev, m, rd);
    struct arca_key_cache *keys = NULL;
    assert_int_equal(arca_key_cache_new(2, &keys), 0);
    struct arca_claims a, b;
    for (int round = 0; round < 3; round++) {
        assert_int_equal(arca_sim_evidence_verify_cached(keys, ev.data, ev.len, &a), 0);
        assert_int_equal(arca_sim_evidence_verify(ev.data, ev.len, &b), 0);
        assert_memory_equal(&a, &b, sizeof(a));
    }
    for (size_t off = 0; off < ev.len; off += 7) {
        ev.data[off] ^= 0x10;
        int rc1 = arca_sim_evidence_verify(ev.data, ev.len, &b);
        char why[ARCA_ERR_DETAIL_MAX];
        snprintf(why, sizeof(why), "%s", arca_err_detail());
        int rc2 = arca_sim_evidence_verify_cached(keys, ev.data, ev.len, &a);
        assert_int_equal(rc1, rc2);
        assert_true(rc1 < 0);
        assert_string_equal(why, arca_err_detail());
        ev.data[off] ^= 0x10;
        assert_int_equal(arca_sim_evidence_verify_cached(keys, ev.data, ev.len, &a), 0);
    }
    arca_key_cache_free(keys);
    arca_buf_free(&ev);
}

static void test_seal_key(void **state)
{
    struct fx *f = *state;
    uint8_t m1[32] = {1}, m2[32] = {2}, a[32], b[32], c[32], d[32];
    assert_int_equal(arca_sim_seal_key(f->p, m1, "keystore", a), 0);
    assert_int_equal(arca_sim_seal_key(f->p, m1, "keystore", b), 0);
    assert_memory_equal(a, b, 32);
    assert_int_equal(arca_sim_seal_key(f->p, m2, "keystore", c), 0);
    assert_memory_not_equal(a, c, 32);
    assert_int_equal(arca_sim_seal_key(f->p, m1, "other", d), 0);
    assert_memory_not_equal(a, d, 32);
    assert_fails(arca_sim_seal_key(f->p, m1, "", d), ARCA_ERR_INVALID_ARG, "purpose");
}

static void test_measure(void **state)
{
    struct fx *f = *state;
    char path[256];
    snprintf(path, sizeof(path), "%s/prog", f->dir);
    /* Larger than one read chunk, to cover the loop. */
    size_t n = 200000;
    uint8_t *data = malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (uint8_t)(i * 7);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, n, fp), n);
    fclose(fp);
    uint8_t want[32], got[32];
    assert_int_equal(arca_sha256(data, n, want), 0);
    assert_int_equal(arca_sim_measure_path(path, got), 0);
    assert_memory_equal(want, got, 32);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(lseek(fd, 5, SEEK_SET), 5);
    assert_int_equal(arca_sim_measure_fd(fd, got), 0);
    assert_memory_equal(want, got, 32);
    assert_int_equal(lseek(fd, 0, SEEK_CUR), 5); /* offset untouched, for fexecve */
    close(fd);
    assert_fails(arca_sim_measure_path(f->dir, got), ARCA_ERR_INVALID_ARG, "not a regular file");
    snprintf(path, sizeof(path), "%s/missing", f->dir);
    assert_fails(arca_sim_measure_path(path, got), ARCA_ERR_NOT_FOUND, "missing");
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_platform_created_private, setup, teardown),
        cmocka_unit_test_setup_teardown(test_platform_permissions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_dir_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tampered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cached, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seal_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_measure, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
