/*
 * Volumes on several threads (opts.jobs): whatever the number of workers, encryption and
 * decryption give volumes and plaintext the other settings read, a damaged file is refused
 * with the same error naming the same file and chunk (the first one in manifest and chunk
 * order, not whichever worker failed first), nothing is left behind, and progress adds up.
 * The large files are split over the workers in more than one window of batches.
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
#include "volume/volume.h"

#define CHUNK 4096
#define SMALL 40
#define BIG_SIZE ((size_t)9 << 20) + 5 /* 2 windows of 2 workers x 4 batches x 1 MiB */
#define MID_SIZE ((size_t)5 << 19)

struct fx {
    char root[64];
    char src[96];
};

static uint8_t *content(size_t seed, size_t n)
{
    uint8_t *p = malloc(n + 1);
    assert_non_null(p);
    uint32_t x = (uint32_t)seed * 2654435761u + 1;
    for (size_t k = 0; k < n; k++) {
        x = x * 1103515245u + 12345u;
        p[k] = (uint8_t)(x >> 16);
    }
    return p;
}

static void put(const char *dir, const char *rel, size_t seed, size_t n)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
    assert_true(fd >= 0);
    uint8_t *p = content(seed, n);
    assert_int_equal(write(fd, p, n), (ssize_t)n);
    free(p);
    close(fd);
}

static void check(const char *dir, const char *rel, size_t seed, size_t n)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    uint8_t *want = content(seed, n), *got = malloc(n + 1);
    assert_non_null(got);
    assert_int_equal(read(fd, got, n + 1), (ssize_t)n);
    assert_memory_equal(got, want, n);
    free(want);
    free(got);
    close(fd);
}

static void small_name(char *out, size_t n, int i)
{
    snprintf(out, n, "a/s%02d", i);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    strcpy(f->root, "/tmp/arca-voljobs-XXXXXX");
    assert_non_null(mkdtemp(f->root));
    snprintf(f->src, sizeof(f->src), "%s/src", f->root);
    assert_int_equal(mkdir(f->src, 0755), 0);
    char p[256];
    snprintf(p, sizeof(p), "%s/a", f->src);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/z", f->src);
    assert_int_equal(mkdir(p, 0755), 0);
    put(f->src, "a/big.bin", 1, BIG_SIZE);
    put(f->src, "z/mid.bin", 2, MID_SIZE);
    for (int i = 0; i < SMALL; i++) {
        small_name(p, sizeof(p), i);
        put(f->src, p, 10 + (size_t)i, 100 * (size_t)i);
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->root);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void check_tree(const char *dir)
{
    check(dir, "a/big.bin", 1, BIG_SIZE);
    check(dir, "z/mid.bin", 2, MID_SIZE);
    char p[64];
    for (int i = 0; i < SMALL; i++) {
        small_name(p, sizeof(p), i);
        check(dir, p, 10 + (size_t)i, 100 * (size_t)i);
    }
}

static void test_any_jobs_round_trip(void **state)
{
    struct fx *f = *state;
    static const unsigned enc_jobs[] = {1, 2, 4}, dec_jobs[] = {1, 3};
    for (size_t i = 0; i < 3; i++) {
        char vol[128];
        snprintf(vol, sizeof(vol), "%s/vol%zu", f->root, i);
        uint8_t key[32], tag[16];
        struct arca_volume_opts eo = {.chunk_size = CHUNK, .jobs = enc_jobs[i]};
        assert_int_equal(arca_volume_encrypt_tree(f->src, vol, NULL, &eo, key, tag, NULL), 0);
        for (size_t j = 0; j < 2; j++) {
            char out[128];
            snprintf(out, sizeof(out), "%s/out%zu%zu", f->root, i, j);
            struct arca_volume_opts d = {.jobs = dec_jobs[j]};
            assert_int_equal(arca_volume_decrypt_tree(vol, key, tag, out, &d, NULL), 0);
            check_tree(out);
        }
    }
}

static void flip(const char *vol, const char *rel, off_t off)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", vol, rel);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b = 0;
    assert_int_equal(pread(fd, &b, 1, off), 1);
    b ^= 0x20;
    assert_int_equal(pwrite(fd, &b, 1, off), 1);
    close(fd);
}

/* Decrypts with jobs workers, expecting failure; returns the detail (static). */
static const char *refused(const char *vol, const uint8_t *key, const uint8_t *tag, const char *out,
                           unsigned jobs, int want)
{
    static char detail[1024];
    struct arca_volume_opts d = {.jobs = jobs};
    assert_int_equal(arca_volume_decrypt_tree(vol, key, tag, out, &d, NULL), want);
    snprintf(detail, sizeof(detail), "%s", arca_err_detail());
    struct stat st;
    assert_int_equal(lstat(out, &st), -1); /* nothing left behind */
    return detail;
}

static void test_same_error_any_jobs(void **state)
{
    struct fx *f = *state;
    char vol[128], out[128];
    snprintf(vol, sizeof(vol), "%s/vol", f->root);
    snprintf(out, sizeof(out), "%s/out", f->root);
    uint8_t key[32], tag[16];
    struct arca_volume_opts eo = {.chunk_size = CHUNK, .jobs = 3};
    assert_int_equal(arca_volume_encrypt_tree(f->src, vol, NULL, &eo, key, tag, NULL), 0);
    /* Two damaged chunks of the large file, one in each window: the earlier one is named. */
    const off_t sealed = CHUNK + 16;
    flip(vol, "a/big.bin", 2100 * sealed + 9);
    flip(vol, "a/big.bin", 700 * sealed + 9);
    char one[1024];
    snprintf(one, sizeof(one), "%s", refused(vol, key, tag, out, 1, ARCA_ERR_TAMPERED));
    assert_non_null(strstr(one, "file 'a/big.bin': chunk 700 of 2305"));
    for (unsigned jobs = 2; jobs <= 5; jobs++)
        assert_string_equal(refused(vol, key, tag, out, jobs, ARCA_ERR_TAMPERED), one);
    /* Restore it; damage two small files: the first in manifest order is named. */
    flip(vol, "a/big.bin", 2100 * sealed + 9);
    flip(vol, "a/big.bin", 700 * sealed + 9);
    flip(vol, "a/s31", 3);
    flip(vol, "a/s07", 3);
    snprintf(one, sizeof(one), "%s", refused(vol, key, tag, out, 1, ARCA_ERR_TAMPERED));
    assert_non_null(strstr(one, "file 'a/s07'"));
    for (unsigned jobs = 2; jobs <= 5; jobs++)
        assert_string_equal(refused(vol, key, tag, out, jobs, ARCA_ERR_TAMPERED), one);
}

static void last_progress(const struct arca_volume_progress *p, void *arg)
{
    struct arca_volume_progress *last = arg;
    assert_true(p->files_done <= p->files_total);
    assert_true(p->bytes_done <= p->bytes_total);
    assert_true(p->files_done >= last->files_done);
    assert_true(p->bytes_done >= last->bytes_done);
    *last = *p;
}

static void test_progress_adds_up(void **state)
{
    struct fx *f = *state;
    char vol[128], out[128];
    snprintf(vol, sizeof(vol), "%s/vol", f->root);
    snprintf(out, sizeof(out), "%s/out", f->root);
    uint8_t key[32], tag[16];
    struct arca_volume_progress last = {0};
    struct arca_volume_opts o = {
        .chunk_size = CHUNK, .jobs = 3, .progress = last_progress, .progress_arg = &last};
    assert_int_equal(arca_volume_encrypt_tree(f->src, vol, NULL, &o, key, tag, NULL), 0);
    assert_int_equal(last.files_done, SMALL + 2);
    assert_int_equal(last.files_done, last.files_total);
    assert_int_equal(last.bytes_done, last.bytes_total);
    memset(&last, 0, sizeof(last));
    assert_int_equal(arca_volume_decrypt_tree(vol, key, tag, out, &o, NULL), 0);
    assert_int_equal(last.files_done, SMALL + 2);
    assert_int_equal(last.bytes_done, last.bytes_total);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_any_jobs_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_error_any_jobs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_progress_adds_up, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
