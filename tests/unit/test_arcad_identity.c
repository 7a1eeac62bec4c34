/* arcad's identity: created once, reloaded identically, sealed (wrong sealing key or a flipped
 * byte is ARCA_ERR_TAMPERED), certificate bound to the key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "arcad_internal.h"
#include "base/err.h"
#include "store/store.h"

static char dir[64];

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/arcad-id-XXXXXX");
    return mkdtemp(dir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void sealer_with(struct arca_store_fixed_sealer *fs, uint8_t v)
{
    uint8_t key[32];
    memset(key, v, sizeof(key));
    arca_store_fixed_sealer_init(fs, key);
}

static void test_create_reload_tamper(void **state)
{
    struct arca_store_fixed_sealer fs, other;
    sealer_with(&fs, 0x42);
    sealer_with(&other, 0x43);
    struct arcad_identity a, b, c;
    bool created = false;
    assert_int_equal(arcad_identity_load_or_create(dir, &fs.sealer, &a, &created), 0);
    assert_true(created);
    assert_int_equal(strlen(a.key_hex), 64);
    assert_int_equal(strlen(a.key_b58), 50);
    uint8_t cid[32];
    assert_int_equal(arca_x509_key_id(a.cert, cid), 0);
    assert_memory_equal(cid, a.key_id, 32);
    assert_true(arca_x509_is_ca(a.ca));
    assert_false(arca_x509_is_ca(a.cert));

    assert_int_equal(arcad_identity_load_or_create(dir, &fs.sealer, &b, &created), 0);
    assert_false(created);
    assert_string_equal(a.key_hex, b.key_hex);
    arcad_identity_free(&b);

    /* another sealing key (other host / other arcad binary) cannot unseal it */
    assert_int_equal(arcad_identity_load_or_create(dir, &other.sealer, &c, NULL),
                     ARCA_ERR_TAMPERED);
    assert_non_null(strstr(arca_err_detail(), "key.sealed"));

    /* a flipped byte in the sealed key */
    char path[128];
    snprintf(path, sizeof(path), "%s/identity/key.sealed", dir);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, 20, SEEK_SET);
    int ch = fgetc(f);
    fseek(f, 20, SEEK_SET);
    fputc(ch ^ 1, f);
    fclose(f);
    assert_int_equal(arcad_identity_load_or_create(dir, &fs.sealer, &c, NULL), ARCA_ERR_TAMPERED);
    arcad_identity_free(&a);
    arca_store_fixed_sealer_wipe(&fs);
    arca_store_fixed_sealer_wipe(&other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_create_reload_tamper)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
