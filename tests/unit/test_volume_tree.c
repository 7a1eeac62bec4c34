/*
 * Whole volumes on disk: a round trip keeps contents, sizes and modes; every kind of tampering
 * (a flipped byte in any file or in the manifest, a missing, extra, renamed or swapped file,
 * reordered chunks, truncation, extension, a wrong key or tag) is refused naming the file, and
 * a refused operation leaves nothing behind.
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

#include "test_util.h"

#define CHUNK 4096

struct fx {
    char root[64];
    char src[96];
    char vol[96];
    char out[96];
    uint8_t key[32];
    uint8_t tag[16];
};

static void put_file(const char *dir, const char *rel, const void *p, size_t n, mode_t mode)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, n), (ssize_t)n);
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
}

static void sub(char *out, size_t n, const char *dir, const char *rel)
{
    snprintf(out, n, "%s/%s", dir, rel);
}

static void mk(const char *dir, const char *rel, mode_t mode)
{
    char p[512];
    sub(p, sizeof(p), dir, rel);
    assert_int_equal(mkdir(p, 0700), 0);
    assert_int_equal(chmod(p, mode), 0);
}

/* The files of the sample tree and their sizes: several chunks, an exact chunk, empty. */
static const struct {
    const char *path;
    size_t size;
    mode_t mode;
} files[] = {
    {"main.py", 100, 0644},       {"lib/big.bin", 3 * CHUNK + 17, 0600},
    {"lib/exact", CHUNK, 0640},   {"lib/deep/empty", 0, 0444},
    {"lib/deep/same1", 50, 0644}, {"lib/deep/same2", 50, 0644},
};

static uint8_t *content(size_t i, size_t n)
{
    uint8_t *p = malloc(n + 1);
    assert_non_null(p);
    for (size_t k = 0; k < n; k++)
        p[k] = (uint8_t)(k * 7 + i * 13 + (k >> 8));
    return p;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    strcpy(f->root, "/tmp/arca-volume-XXXXXX");
    assert_non_null(mkdtemp(f->root));
    sub(f->src, sizeof(f->src), f->root, "src");
    sub(f->vol, sizeof(f->vol), f->root, "vol");
    sub(f->out, sizeof(f->out), f->root, "out");
    assert_int_equal(mkdir(f->src, 0750), 0);
    mk(f->src, "lib", 0710);
    mk(f->src, "lib/deep", 0755);
    mk(f->src, "emptydir", 0700);
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        uint8_t *p = content(i, files[i].size);
        put_file(f->src, files[i].path, p, files[i].size, files[i].mode);
        free(p);
    }
    struct arca_volume_opts o = {.chunk_size = CHUNK};
    struct arca_volume_stats st;
    assert_int_equal(arca_volume_encrypt_tree(f->src, f->vol, NULL, &o, f->key, f->tag, &st), 0);
    assert_int_equal(st.files, 6);
    assert_int_equal(st.dirs, 3);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "chmod -R u+rwx %s; rm -rf %s", f->root, f->root);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void assert_absent(const char *path)
{
    struct stat st;
    assert_int_equal(lstat(path, &st), -1);
}

/* Decrypting fails with code, the detail names needle, and out is not left behind. */
static void refused(struct fx *f, const char *vol, const uint8_t *key, const uint8_t *tag, int code,
                    const char *needle)
{
    int rc = arca_volume_decrypt_tree(vol, key, tag, f->out, NULL, NULL);
    if (rc != code || strstr(arca_err_detail(), needle) == NULL)
        fail_msg("expected %d naming '%s', got %d: %s", code, needle, rc, arca_err_detail());
    assert_absent(f->out);
}

/* A scratch copy of the volume to tamper with. */
static void copy_vol(struct fx *f, char *out, size_t n)
{
    snprintf(out, n, "%s/t", f->root);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf %s && cp -a %s %s", out, f->vol, out);
    assert_int_equal(system(cmd), 0);
}

static void flip(const char *dir, const char *rel, off_t off)
{
    char p[512];
    sub(p, sizeof(p), dir, rel);
    int fd = open(p, O_RDWR);
    assert_true(fd >= 0);
    uint8_t c;
    assert_int_equal(pread(fd, &c, 1, off), 1);
    c ^= 0x40;
    assert_int_equal(pwrite(fd, &c, 1, off), 1);
    close(fd);
}

static void test_round_trip(void **state)
{
    struct fx *f = *state;
    assert_int_equal(arca_volume_verify(f->vol, f->key, f->tag), 0);
    struct arca_volume_stats st;
    assert_int_equal(arca_volume_decrypt_tree(f->vol, f->key, f->tag, f->out, NULL, &st), 0);
    assert_int_equal(st.bytes, 100 + 3 * CHUNK + 17 + CHUNK + 0 + 50 + 50);
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char p[512];
        sub(p, sizeof(p), f->out, files[i].path);
        size_t n = 0;
        uint8_t *got = slurp(p, &n);
        uint8_t *want = content(i, files[i].size);
        assert_int_equal(n, files[i].size);
        assert_memory_equal(got, want, n);
        free(got);
        free(want);
        struct stat s;
        assert_int_equal(stat(p, &s), 0);
        assert_int_equal(s.st_mode & 07777, files[i].mode);
        /* The ciphertext does not contain the plaintext. */
        sub(p, sizeof(p), f->vol, files[i].path);
        assert_int_equal(stat(p, &s), 0);
        assert_int_equal(s.st_size,
                         files[i].size + 16 * (files[i].size / CHUNK +
                                               (files[i].size % CHUNK != 0 || files[i].size == 0)));
    }
    struct stat s;
    char p[512];
    sub(p, sizeof(p), f->out, "lib");
    assert_int_equal(stat(p, &s), 0);
    assert_int_equal(s.st_mode & 0777, 0710);
    sub(p, sizeof(p), f->out, "emptydir");
    assert_int_equal(stat(p, &s), 0);
    assert_true(S_ISDIR(s.st_mode));
    assert_int_equal(stat(f->out, &s), 0);
    assert_int_equal(s.st_mode & 0777, 0750);
    /* A destination inside the volume is refused and not left behind. */
    char inside[512];
    sub(inside, sizeof(inside), f->vol, "plain");
    assert_int_equal(arca_volume_decrypt_tree(f->vol, f->key, f->tag, inside, NULL, NULL),
                     ARCA_ERR_INVALID_ARG);
    assert_absent(inside);
    assert_int_equal(arca_volume_verify(f->vol, f->key, f->tag), 0);
    /* A non-empty destination is refused. */
    assert_int_equal(arca_volume_decrypt_tree(f->vol, f->key, f->tag, f->out, NULL, NULL),
                     ARCA_ERR_EXISTS);
    /* show without a key lists, without contents. */
    struct arca_volume_manifest *m = NULL;
    assert_int_equal(arca_volume_show(f->vol, NULL, NULL, &m), 0);
    assert_int_equal(m->count, 9);
    assert_memory_equal(m->root_tag, f->tag, 16);
    arca_volume_manifest_free(m);
    uint8_t wrong[32];
    memcpy(wrong, f->key, 32);
    wrong[0] ^= 1;
    assert_int_equal(arca_volume_show(f->vol, wrong, f->tag, &m), ARCA_ERR_SIGNATURE);
}

static void test_given_key(void **state)
{
    struct fx *f = *state;
    char v2[128];
    sub(v2, sizeof(v2), f->root, "v2");
    uint8_t k[32], t[16];
    assert_int_equal(arca_volume_encrypt_tree(f->src, v2, f->key, NULL, k, t, NULL), 0);
    assert_memory_equal(k, f->key, 32);
    /* Same key and tree, fresh volume id: another root tag, and the old tag does not fit. */
    assert_memory_not_equal(t, f->tag, 16);
    assert_int_equal(arca_volume_verify(v2, f->key, f->tag), ARCA_ERR_TAMPERED);
    assert_int_equal(arca_volume_verify(v2, f->key, t), 0);
}

static void test_flipped_byte_in_every_file(void **state)
{
    struct fx *f = *state;
    char t[128];
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        copy_vol(f, t, sizeof(t));
        /* The first byte, and (for big files) one in the last chunk's tag. */
        flip(t, files[i].path, 0);
        assert_int_equal(arca_volume_verify(t, f->key, f->tag), 0); /* sizes still fit */
        refused(f, t, f->key, f->tag, ARCA_ERR_TAMPERED, files[i].path);
        copy_vol(f, t, sizeof(t));
        char p[512];
        struct stat s;
        sub(p, sizeof(p), t, files[i].path);
        assert_int_equal(stat(p, &s), 0);
        flip(t, files[i].path, s.st_size - 1);
        refused(f, t, f->key, f->tag, ARCA_ERR_TAMPERED, files[i].path);
    }
}

static void test_manifest_tampering(void **state)
{
    struct fx *f = *state;
    char t[128], p[512];
    copy_vol(f, t, sizeof(t));
    sub(p, sizeof(p), t, "volume.fspf");
    struct stat s;
    assert_int_equal(stat(p, &s), 0);
    for (off_t off = 0; off < s.st_size; off += 7) {
        flip(t, "volume.fspf", off);
        int rc = arca_volume_verify(t, f->key, f->tag);
        if (rc == 0 || strstr(arca_err_detail(), t) == NULL)
            fail_msg("manifest byte %lld: %d %s", (long long)off, rc, arca_err_detail());
        flip(t, "volume.fspf", off);
    }
    assert_int_equal(arca_volume_verify(t, f->key, f->tag), 0);
    assert_int_equal(unlink(p), 0);
    refused(f, t, f->key, f->tag, ARCA_ERR_NOT_FOUND, "volume.fspf");
}

static void test_structure_tampering(void **state)
{
    struct fx *f = *state;
    char t[128], a[512], b[512];
    copy_vol(f, t, sizeof(t));
    sub(a, sizeof(a), t, "main.py");
    assert_int_equal(unlink(a), 0);
    refused(f, t, f->key, f->tag, ARCA_ERR_TAMPERED, "file 'main.py' of the manifest is missing");

    copy_vol(f, t, sizeof(t));
    put_file(t, "lib/added", "x", 1, 0644);
    refused(f, t, f->key, f->tag, ARCA_ERR_TAMPERED, "file 'lib/added' is not in the manifest");

    copy_vol(f, t, sizeof(t));
    mk(t, "newdir", 0755);
    refused(f, t, f->key, f->tag, ARCA_ERR_TAMPERED, "directory 'newdir' is not in the manifest");

    copy_vol(f, t, sizeof(t));
    sub(a, sizeof(a), t, "emptydir");
    assert_int_equal(rmdir(a), 0);
    refused(f, t, f->key, f->tag, ARCA_ERR_TAMPERED, "directory 'emptydir'");

    copy_vol(f, t, sizeof(t));
    sub(a, sizeof(a), t, "main.py");
    sub(b, sizeof(b), t, "renamed.py");
    assert_int_equal(rename(a, b), 0);
    refused(f, t, f->key, f->tag, ARCA_ERR_TAMPERED, "main.py");

    /* Two files of equal size swapped: sizes fit, the per-file keys do not. */
    copy_vol(f, t, sizeof(t));
    sub(a, sizeof(a), t, "lib/deep/same1");
    sub(b, sizeof(b), t, "lib/deep/same2");
    char c[512];
    sub(c, sizeof(c), t, "lib/deep/tmp");
    assert_int_equal(rename(a, c), 0);
    assert_int_equal(rename(b, a), 0);
    assert_int_equal(rename(c, b), 0);
    refused(f, t, f->key, f->tag, ARCA_ERR_TAMPERED, "lib/deep/same1");

    /* A symbolic link in the volume. */
    copy_vol(f, t, sizeof(t));
    sub(a, sizeof(a), t, "main.py");
    assert_int_equal(unlink(a), 0);
    assert_int_equal(symlink("/etc/passwd", a), 0);
    refused(f, t, f->key, f->tag, ARCA_ERR_TAMPERED, "main.py");
}

static void test_chunk_tampering(void **state)
{
    struct fx *f = *state;
    char t[128], p[512];
    const size_t ct = CHUNK + 16;
    /* Reordered chunks: swap the first two chunks of lib/big.bin. */
    copy_vol(f, t, sizeof(t));
    sub(p, sizeof(p), t, "lib/big.bin");
    int fd = open(p, O_RDWR);
    assert_true(fd >= 0);
    uint8_t *x = malloc(ct), *y = malloc(ct);
    assert_int_equal(pread(fd, x, ct, 0), (ssize_t)ct);
    assert_int_equal(pread(fd, y, ct, (off_t)ct), (ssize_t)ct);
    assert_int_equal(pwrite(fd, y, ct, 0), (ssize_t)ct);
    assert_int_equal(pwrite(fd, x, ct, (off_t)ct), (ssize_t)ct);
    close(fd);
    free(x);
    free(y);
    refused(f, t, f->key, f->tag, ARCA_ERR_TAMPERED, "file 'lib/big.bin': chunk 0 of 4");

    /* Truncated at a chunk boundary, and extended. */
    copy_vol(f, t, sizeof(t));
    sub(p, sizeof(p), t, "lib/big.bin");
    assert_int_equal(truncate(p, (off_t)(3 * ct)), 0);
    refused(f, t, f->key, f->tag, ARCA_ERR_TAMPERED, "file 'lib/big.bin' has");
    copy_vol(f, t, sizeof(t));
    sub(p, sizeof(p), t, "lib/deep/empty");
    assert_int_equal(truncate(p, 0), 0);
    refused(f, t, f->key, f->tag, ARCA_ERR_TAMPERED, "lib/deep/empty");
    copy_vol(f, t, sizeof(t));
    sub(p, sizeof(p), t, "main.py");
    assert_int_equal(truncate(p, 100 + 16 + 1), 0);
    refused(f, t, f->key, f->tag, ARCA_ERR_TAMPERED, "file 'main.py' has");

    /* Even a key holder's manifest that claims a shorter file fails on the chunk that is not
     * marked last (the last-chunk flag in the nonce). */
    copy_vol(f, t, sizeof(t));
    sub(p, sizeof(p), t, "lib/big.bin");
    assert_int_equal(truncate(p, (off_t)(3 * ct)), 0);
    struct arca_volume_manifest *m = NULL;
    assert_int_equal(arca_volume_show(t, NULL, NULL, &m), 0);
    struct arca_volume_entry *e =
        (struct arca_volume_entry *)arca_volume_manifest_find(m, "lib/big.bin", 11);
    assert_non_null(e);
    e->size = 3 * CHUNK;
    assert_int_equal(arca_volume_manifest_seal(m, f->key), 0);
    struct arca_buf b;
    arca_buf_init(&b, 0);
    assert_int_equal(arca_volume_manifest_encode(m, &b), 0);
    sub(p, sizeof(p), t, "volume.fspf");
    unlink(p);
    put_file(t, "volume.fspf", b.data, b.len, 0644);
    assert_int_equal(arca_volume_verify(t, f->key, m->root_tag), 0);
    int rc = arca_volume_decrypt_tree(t, f->key, m->root_tag, f->out, NULL, NULL);
    assert_int_equal(rc, ARCA_ERR_TAMPERED);
    assert_non_null(strstr(arca_err_detail(), "lib/big.bin"));
    assert_absent(f->out);
    arca_buf_free(&b);
    arca_volume_manifest_free(m);
}

static void test_wrong_key_and_tag(void **state)
{
    struct fx *f = *state;
    uint8_t k[32], t[16];
    memcpy(k, f->key, 32);
    k[5] ^= 0x80;
    refused(f, f->vol, k, f->tag, ARCA_ERR_SIGNATURE, "key does not open");
    memcpy(t, f->tag, 16);
    t[15] ^= 1;
    refused(f, f->vol, f->key, t, ARCA_ERR_TAMPERED, "is not the expected");
}

static void test_source_refusals(void **state)
{
    struct fx *f = *state;
    char s2[128], d2[128], p[512];
    uint8_t k[32], t[16];
    sub(s2, sizeof(s2), f->root, "s2");
    sub(d2, sizeof(d2), f->root, "d2");
    assert_int_equal(mkdir(s2, 0755), 0);
    mk(s2, "a", 0755);
    put_file(s2, "a/ok", "x", 1, 0644);
    sub(p, sizeof(p), s2, "a/zlink");
    assert_int_equal(symlink("ok", p), 0);
    assert_int_equal(arca_volume_encrypt_tree(s2, d2, NULL, NULL, k, t, NULL),
                     ARCA_ERR_UNSUPPORTED);
    assert_non_null(strstr(arca_err_detail(), "a/zlink: is a symbolic link"));
    assert_absent(d2);
    assert_int_equal(unlink(p), 0);
    sub(p, sizeof(p), s2, "fifo");
    assert_int_equal(mkfifo(p, 0600), 0);
    assert_int_equal(arca_volume_encrypt_tree(s2, d2, NULL, NULL, k, t, NULL),
                     ARCA_ERR_UNSUPPORTED);
    assert_non_null(strstr(arca_err_detail(), "fifo: is a FIFO"));
    assert_absent(d2);
    assert_int_equal(unlink(p), 0);
    put_file(s2, "volume.fspf", "x", 1, 0644);
    assert_true(arca_volume_encrypt_tree(s2, d2, NULL, NULL, k, t, NULL) < 0);
    assert_non_null(strstr(arca_err_detail(), "reserved"));
    sub(p, sizeof(p), s2, "volume.fspf");
    assert_int_equal(unlink(p), 0);
    /* The destination inside the source, or the source itself. */
    sub(p, sizeof(p), s2, "inside");
    assert_int_equal(arca_volume_encrypt_tree(s2, p, NULL, NULL, k, t, NULL), ARCA_ERR_INVALID_ARG);
    assert_absent(p);
    assert_int_equal(arca_volume_encrypt_tree(s2, s2, NULL, NULL, k, t, NULL), ARCA_ERR_EXISTS);
    /* A non-empty destination; a bad chunk size. */
    assert_int_equal(arca_volume_encrypt_tree(s2, f->vol, NULL, NULL, k, t, NULL), ARCA_ERR_EXISTS);
    struct arca_volume_opts o = {.chunk_size = 5000};
    assert_int_equal(arca_volume_encrypt_tree(s2, d2, NULL, &o, k, t, NULL), ARCA_ERR_INVALID_ARG);
    /* An existing empty destination is used. */
    assert_int_equal(mkdir(d2, 0700), 0);
    assert_int_equal(arca_volume_encrypt_tree(s2, d2, NULL, NULL, k, t, NULL), 0);
    assert_int_equal(arca_volume_verify(d2, k, t), 0);
}

static void count_calls(const struct arca_volume_progress *p, void *arg)
{
    struct arca_volume_progress *last = arg;
    assert_true(p->files_done <= p->files_total);
    assert_true(p->bytes_done <= p->bytes_total);
    *last = *p;
}

static void test_progress(void **state)
{
    struct fx *f = *state;
    struct arca_volume_progress last = {0};
    struct arca_volume_opts o = {.progress = count_calls, .progress_arg = &last};
    assert_int_equal(arca_volume_decrypt_tree(f->vol, f->key, f->tag, f->out, &o, NULL), 0);
    assert_int_equal(last.files_done, 6);
    assert_int_equal(last.files_total, 6);
    assert_int_equal(last.bytes_done, last.bytes_total);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_given_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flipped_byte_in_every_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_manifest_tampering, setup, teardown),
        cmocka_unit_test_setup_teardown(test_structure_tampering, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chunk_tampering, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_key_and_tag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_source_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_progress, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
