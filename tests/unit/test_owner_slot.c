/*
 * Successor slots and the owner record: a slot opens only for its measurement and only intact;
 * provisioning is single use with the right token; only the owner registers successors, and a
 * registered upgrade's slot hands over exactly the data directory's sealing keys.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "base/fs.h"
#include "crypto/crypto.h"
#include "owner/owner.h"
#include "owner/slot.h"
#include "store_test_util.h"

/* A request by the client key k, without board signatures. */
#define AUTH(k) (&(struct arca_owner_auth){.caller = (k)})

/* A stand-in platform: K_M = HMAC(platform secret, M). */
static int slot_key(void *ctx, const uint8_t m[32], uint8_t key[32])
{
    return arca_hmac(ARCA_SHA256, ctx, 32, m, 32, key);
}

static void test_slot_roundtrip_and_refusals(void **state)
{
    (void)state;
    char *dir = tdir_make();
    uint8_t platform[32], other_platform[32], m[32], m2[32];
    memset(platform, 1, 32);
    memset(other_platform, 2, 32);
    memset(m, 0xaa, 32);
    memset(m2, 0xbb, 32);
    struct arca_seal_keys keys, got;
    memset(keys.identity, 0x11, 32);
    memset(keys.keystore, 0x22, 32);
    assert_int_equal(arca_slot_write(dir, m, slot_key, platform, &keys), 0);
    assert_int_equal(arca_slot_read(dir, m, slot_key, platform, &got), 0);
    assert_memory_equal(&got, &keys, sizeof(keys));

    /* another measurement has no slot; another platform cannot unwrap this one */
    assert_int_equal(arca_slot_read(dir, m2, slot_key, platform, &got), ARCA_ERR_NOT_FOUND);
    assert_int_equal(arca_slot_read(dir, m, slot_key, other_platform, &got), ARCA_ERR_TAMPERED);
    static const struct arca_seal_keys zero;
    assert_memory_equal(&got, &zero, sizeof(got)); /* wiped on failure */

    /* a slot renamed to another measurement does not verify (M is associated data) */
    char p1[512], p2[512], cmd[1100];
    assert_int_equal(arca_slot_path(dir, m, p1, sizeof(p1)), 0);
    assert_int_equal(arca_slot_path(dir, m2, p2, sizeof(p2)), 0);
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", p1, p2);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(arca_slot_read(dir, m2, slot_key, platform, &got), ARCA_ERR_TAMPERED);
    assert_non_null(strstr(arca_err_detail(), "does not verify"));

    /* every flipped byte and a cut file are refused */
    struct arca_buf b;
    arca_buf_init(&b, 0);
    assert_int_equal(arca_file_read(p1, 0, &b), 0);
    assert_int_equal(b.len, ARCA_SLOT_FILE_LEN);
    for (size_t i = 0; i < b.len; i++) {
        b.data[i] ^= 0x01;
        assert_int_equal(arca_file_write(p1, b.data, b.len, 0600, 0), 0);
        assert_int_equal(arca_slot_read(dir, m, slot_key, platform, &got), ARCA_ERR_TAMPERED);
        b.data[i] ^= 0x01;
    }
    assert_int_equal(arca_file_write(p1, b.data, b.len - 1, 0600, 0), 0);
    assert_int_equal(arca_slot_read(dir, m, slot_key, platform, &got), ARCA_ERR_TAMPERED);
    arca_buf_free(&b);
    tdir_remove(dir);
}

static void test_owner_lifecycle(void **state)
{
    (void)state;
    char *dir = tdir_make();
    uint8_t k[32], platform[32], caller[32], stranger[32], m[32];
    test_seal_key(k, 5);
    memset(platform, 7, 32);
    memset(caller, 0xc1, 32);
    memset(stranger, 0x5e, 32);
    memset(m, 0x4d, 32);
    struct arca_store_fixed_sealer fs;
    arca_store_fixed_sealer_init(&fs, k);
    struct arca_store *s = NULL;
    assert_int_equal(test_store_open(dir, &fs, true, &s), 0);
    struct arca_owner_opts opts = {.store = s,
                                   .data_dir = dir,
                                   .sealer = &fs.sealer,
                                   .slot_key = slot_key,
                                   .slot_key_ctx = platform};
    struct arca_owner *o = NULL;
    char token[ARCA_OWNER_TOKEN_HEX_LEN + 1];
    assert_int_equal(arca_owner_open(&opts, &o, token), 0);
    assert_int_equal(strlen(token), 32);
    const char yaml[] = "version: 1\n";
    struct arca_diag d;
    arca_diag_init(&d);
    bool invalid = false;
    assert_int_equal(arca_owner_check(o, AUTH(caller), "x"), ARCA_ERR_CONFLICT);
    char wrong[33];
    memcpy(wrong, token, 33);
    wrong[0] = wrong[0] == '0' ? '1' : '0';
    assert_int_equal(
        arca_owner_provision(o, caller, "net", 3, wrong, 32, yaml, strlen(yaml), &d, &invalid),
        ARCA_ERR_DENIED);
    assert_int_equal(
        arca_owner_provision(o, caller, "net", 3, token, 32, "version: 9\n", 11, &d, &invalid),
        ARCA_ERR_FORMAT);
    assert_true(invalid);
    arca_diag_free(&d);
    assert_int_equal(
        arca_owner_provision(o, NULL, "net", 3, token, 32, yaml, strlen(yaml), &d, &invalid),
        ARCA_ERR_UNAUTHENTICATED);
    assert_int_equal(
        arca_owner_provision(o, caller, "net", 3, token, 32, yaml, strlen(yaml), &d, &invalid), 0);
    assert_int_equal(
        arca_owner_provision(o, stranger, "n2", 2, token, 32, yaml, strlen(yaml), &d, &invalid),
        ARCA_ERR_EXISTS);
    assert_int_equal(arca_owner_check(o, AUTH(caller), "x"), 0);
    assert_int_equal(arca_owner_check(o, AUTH(stranger), "x"), ARCA_ERR_DENIED);
    assert_int_equal(arca_owner_register_upgrade(o, AUTH(stranger), m), ARCA_ERR_DENIED);
    assert_int_equal(arca_owner_register_upgrade(o, AUTH(caller), m), 0);

    /* the slot hands over exactly this data directory's sealing keys */
    struct arca_seal_keys want, got;
    assert_int_equal(arca_seal_keys_get(&fs.sealer, &want), 0);
    assert_int_equal(arca_slot_read(dir, m, slot_key, platform, &got), 0);
    assert_memory_equal(&got, &want, sizeof(got));

    /* after a reopen: provisioned, no token, same owner and registrations */
    arca_owner_free(o);
    o = NULL;
    assert_int_equal(arca_owner_open(&opts, &o, token), 0);
    assert_string_equal(token, "");
    json_t *rec = NULL;
    assert_int_equal(arca_owner_get(o, AUTH(stranger), &rec), ARCA_ERR_DENIED);
    assert_int_equal(arca_owner_get(o, AUTH(caller), &rec), 0);
    assert_int_equal(json_array_size(json_object_get(rec, "upgrades")), 1);
    assert_string_equal(json_string_value(json_object_get(rec, "config")), yaml);
    json_decref(rec);
    uint64_t n = 0;
    assert_int_equal(arca_owner_rotate_key(o, AUTH(stranger), &n), ARCA_ERR_DENIED);
    assert_int_equal(arca_owner_rotate_key(o, AUTH(caller), &n), 0);
    assert_true(n >= 1);
    arca_diag_free(&d);
    arca_owner_free(o);
    arca_store_close(s);
    arca_store_fixed_sealer_wipe(&fs);
    tdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slot_roundtrip_and_refusals),
        cmocka_unit_test(test_owner_lifecycle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
