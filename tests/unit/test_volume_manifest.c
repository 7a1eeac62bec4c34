/*
 * The volume manifest: canonical encoding, the untrusted-input parser (every refusal names the
 * field and offset), and authentication under the volume key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "volume/manifest.h"

static const uint8_t key[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static void add(struct arca_volume_manifest *m, enum arca_volume_type t, const char *path,
                uint64_t size)
{
    assert_int_equal(arca_volume_manifest_add(m, t, t == ARCA_VOLUME_DIR ? 0755 : 0644, path,
                                              strlen(path), size),
                     0);
}

/* A sealed manifest of a small tree, encoded into *out. */
static struct arca_volume_manifest *sample(struct arca_buf *out)
{
    struct arca_volume_manifest *m = NULL;
    assert_int_equal(arca_volume_manifest_new(ARCA_VOLUME_CHUNK_DEFAULT, 0755, &m), 0);
    add(m, ARCA_VOLUME_FILE, "b.py", 10);
    add(m, ARCA_VOLUME_DIR, "a", 0);
    add(m, ARCA_VOLUME_FILE, "a/x.txt", 0);
    add(m, ARCA_VOLUME_FILE, "a-b", 70000);
    arca_volume_manifest_sort(m);
    for (size_t i = 0; i < m->count; i++)
        m->entries[i].file_tag[0] = (uint8_t)i;
    assert_int_equal(arca_volume_manifest_seal(m, key), 0);
    arca_buf_init(out, 0);
    assert_int_equal(arca_volume_manifest_encode(m, out), 0);
    return m;
}

static void test_canonical_round_trip(void **state)
{
    (void)state;
    struct arca_buf b;
    struct arca_volume_manifest *m = sample(&b);
    /* Bytewise order: a prefix first, '-' (0x2d) before '/' (0x2f). */
    assert_string_equal(m->entries[0].path, "a");
    assert_string_equal(m->entries[1].path, "a-b");
    assert_string_equal(m->entries[2].path, "a/x.txt");
    assert_string_equal(m->entries[3].path, "b.py");
    struct arca_volume_manifest *p = NULL;
    assert_int_equal(arca_volume_manifest_parse(b.data, b.len, &p), 0);
    assert_int_equal(p->count, 4);
    assert_int_equal(p->entries[1].size, 70000);
    assert_int_equal(arca_volume_manifest_authenticate(p, key), 0);
    struct arca_buf again;
    arca_buf_init(&again, 0);
    assert_int_equal(arca_volume_manifest_encode(p, &again), 0);
    assert_int_equal(again.len, b.len);
    assert_memory_equal(again.data, b.data, b.len);
    assert_non_null(arca_volume_manifest_find(p, "a/x.txt", 7));
    assert_null(arca_volume_manifest_find(p, "a/x", 3));
    assert_int_equal(arca_volume_ciphertext_size(0, 65536), 16);
    assert_int_equal(arca_volume_ciphertext_size(65536, 65536), 65536 + 16);
    assert_int_equal(arca_volume_ciphertext_size(65537, 65536), 65537 + 32);
    arca_buf_free(&again);
    arca_volume_manifest_free(p);
    arca_volume_manifest_free(m);
    arca_buf_free(&b);
}

static void test_authenticate(void **state)
{
    (void)state;
    struct arca_buf b;
    struct arca_volume_manifest *m = sample(&b);
    uint8_t wrong[32];
    memcpy(wrong, key, 32);
    wrong[31] ^= 1;
    assert_int_equal(arca_volume_manifest_authenticate(m, wrong), ARCA_ERR_SIGNATURE);
    assert_non_null(strstr(arca_err_detail(), "key does not open"));
    /* Any byte flipped anywhere: refused by the parser or by the root tag, never accepted. */
    for (size_t off = 0; off < b.len; off++) {
        b.data[off] ^= 0x01;
        struct arca_volume_manifest *p = NULL;
        int rc = arca_volume_manifest_parse(b.data, b.len, &p);
        if (rc == 0) {
            rc = arca_volume_manifest_authenticate(p, key);
            arca_volume_manifest_free(p);
        }
        if (rc == 0)
            fail_msg("flipped byte at offset %zu was accepted", off);
        b.data[off] ^= 0x01;
    }
    /* Two seals of the same content give different root tags (fresh nonce). */
    uint8_t first[16];
    memcpy(first, m->root_tag, 16);
    assert_int_equal(arca_volume_manifest_seal(m, key), 0);
    assert_memory_not_equal(first, m->root_tag, 16);
    arca_volume_manifest_free(m);
    arca_buf_free(&b);
}

static void expect_refused(const uint8_t *p, size_t n, const char *needle)
{
    struct arca_volume_manifest *m = NULL;
    int rc = arca_volume_manifest_parse(p, n, &m);
    assert_true(rc < 0);
    assert_null(m);
    if (strstr(arca_err_detail(), needle) == NULL)
        fail_msg("detail '%s' lacks '%s'", arca_err_detail(), needle);
}

/* Encodes m without sealing (the parser does not look at tags) and expects a refusal. */
static void expect_refused_m(struct arca_volume_manifest *m, const char *needle)
{
    struct arca_buf b;
    arca_buf_init(&b, 0);
    assert_int_equal(arca_volume_manifest_encode(m, &b), 0);
    expect_refused(b.data, b.len, needle);
    arca_buf_free(&b);
    arca_volume_manifest_free(m);
}

static struct arca_volume_manifest *fresh(void)
{
    struct arca_volume_manifest *m = NULL;
    assert_int_equal(arca_volume_manifest_new(ARCA_VOLUME_CHUNK_DEFAULT, 0755, &m), 0);
    return m;
}

static void test_parser_refusals(void **state)
{
    (void)state;
    struct arca_buf b;
    struct arca_volume_manifest *m = sample(&b);
    arca_volume_manifest_free(m);
    /* Every truncation. */
    for (size_t n = 0; n < b.len; n++)
        expect_refused(b.data, n, "offset");
    expect_refused(b.data, 3, "magic at offset 0");
    expect_refused(b.data, b.len - 1, "root tag at offset");
    expect_refused(b.data, b.len - 26, "entry 3 file tag at offset");
    /* Trailing bytes. */
    assert_int_equal(arca_buf_put_u8(&b, 0), 0);
    expect_refused(b.data, b.len, "trailing");
    b.len--;
    /* Header fields. */
    b.data[0] = 'X';
    expect_refused(b.data, b.len, "magic at offset 0");
    b.data[0] = 'A';
    b.data[11] = 2;
    expect_refused(b.data, b.len, "format at offset 8");
    b.data[11] = 1;
    b.data[14] = 0x01; /* chunk size 0x10100 + ...: not a power of two */
    expect_refused(b.data, b.len, "chunk size at offset 12");
    b.data[14] = 0x00;
    uint8_t saved = b.data[18];
    b.data[18] = 0x10; /* root mode with bits beyond 0777 */
    expect_refused(b.data, b.len, "root mode at offset 16");
    b.data[18] = saved;
    b.data[64] = 0x7f; /* entry count far beyond the bytes present */
    expect_refused(b.data, b.len, "entry count at offset 64");
    b.data[64] = 0;
    b.data[68] = 9; /* first entry's type */
    expect_refused(b.data, b.len, "entry 0 at offset 68: unknown type 9");
    arca_buf_free(&b);

    m = fresh();
    add(m, ARCA_VOLUME_FILE, "b", 1);
    add(m, ARCA_VOLUME_FILE, "a", 1);
    expect_refused_m(m, "not after 'b' (entries must be sorted and unique)");
    m = fresh();
    add(m, ARCA_VOLUME_FILE, "a", 1);
    add(m, ARCA_VOLUME_FILE, "a", 1);
    expect_refused_m(m, "entry 1");
    m = fresh();
    add(m, ARCA_VOLUME_FILE, "d/x", 1);
    expect_refused_m(m, "parent directory 'd' is not listed");
    m = fresh();
    add(m, ARCA_VOLUME_FILE, "d", 1);
    add(m, ARCA_VOLUME_FILE, "d/x", 1);
    expect_refused_m(m, "parent directory 'd'");
    m = fresh();
    add(m, ARCA_VOLUME_DIR, "d", 0);
    add(m, ARCA_VOLUME_FILE, "d/../x", 1);
    expect_refused_m(m, "'.' or '..'");
    m = fresh();
    add(m, ARCA_VOLUME_FILE, "/abs", 1);
    expect_refused_m(m, "empty path component");
    m = fresh();
    add(m, ARCA_VOLUME_FILE, "a\nb", 1);
    expect_refused_m(m, "byte 0x0a");
    m = fresh();
    add(m, ARCA_VOLUME_FILE, ARCA_VOLUME_MANIFEST_NAME, 1);
    expect_refused_m(m, "reserved for the manifest");
    m = fresh();
    add(m, ARCA_VOLUME_FILE, "big", ARCA_VOLUME_FILE_MAX + 1);
    expect_refused_m(m, "entry 0 size at offset");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical_round_trip),
        cmocka_unit_test(test_authenticate),
        cmocka_unit_test(test_parser_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
