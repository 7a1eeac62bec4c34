/* The Gramine-SGX sealer over a stand-in for /dev/attestation/keys/_sgx_mrenclave: a
 * known-answer key (HKDF-SHA-256 computed independently), one key per purpose, and refusals of
 * a missing file and of files that are not 16 bytes. The real pseudo-file only exists inside a
 * Gramine enclave (deploy/gramine/README.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/err.h"
#include "store/store.h"

/* HKDF-SHA-256(salt "arca-gramine-seal-v1", ikm 00 01 .. 0f, info "arca-keystore"), by
 * Python's hmac module. */
static const uint8_t kat[ARCA_STORE_KEY_LEN] = {
    0x95, 0x8d, 0x9d, 0x96, 0x14, 0x40, 0x5a, 0x61, 0xa6, 0x27, 0x95, 0x3b, 0x2a, 0x42, 0x17, 0xa5,
    0xe1, 0xc7, 0xef, 0x7d, 0xdf, 0x07, 0x7e, 0xb1, 0xb5, 0xf7, 0x9e, 0x6f, 0x74, 0x71, 0x78, 0xd5};

static void write_key_file(const char *path, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (size_t i = 0; i < n; i++)
        fputc((int)i, f);
    fclose(f);
}

static void test_known_answer_and_purposes(void **state)
{
    (void)state;
    char path[] = "/tmp/arca-gramine-keyXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    write_key_file(path, 16);
    uint8_t k1[ARCA_STORE_KEY_LEN], k2[ARCA_STORE_KEY_LEN];
    assert_int_equal(arca_store_gramine_get_key(path, "arca-keystore", k1), 0);
    assert_memory_equal(k1, kat, sizeof(kat));
    assert_int_equal(arca_store_gramine_get_key(path, "arcad-identity", k2), 0);
    assert_memory_not_equal(k1, k2, sizeof(k1));
    unlink(path);
}

static void test_refusals(void **state)
{
    (void)state;
    uint8_t key[ARCA_STORE_KEY_LEN];
    memset(key, 0xaa, sizeof(key));
    assert_int_equal(arca_store_gramine_get_key("/nonexistent/_sgx_mrenclave", "p", key),
                     ARCA_ERR_NOT_FOUND);
    assert_non_null(strstr(arca_err_detail(), "inside Gramine"));
    char path[] = "/tmp/arca-gramine-keyXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    const size_t bad[] = {0, 15, 17, 32};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        write_key_file(path, bad[i]);
        assert_int_equal(arca_store_gramine_get_key(path, "p", key), ARCA_ERR_FORMAT);
    }
    unlink(path);
    /* No partial output on failure. */
    for (size_t i = 0; i < sizeof(key); i++)
        assert_int_equal(key[i], 0xaa);
    assert_int_equal(arca_store_gramine_get_key(NULL, NULL, key), ARCA_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answer_and_purposes),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
