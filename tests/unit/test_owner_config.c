/* The owner configuration parser: a full configuration, and each kind of bad input refused with
 * its position and nothing left in the output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "owner/config.h"

static const char GOOD[] =
    "version: 1\n"
    "audit:\n"
    "  checkpoint-every: 64\n"
    "  export-checkpoints: true\n"
    "collateral:\n"
    "  pcs-url: https://pccs.example/sgx/certification/v4\n"
    "  kds-url: http://kds.example\n"
    "backups:\n"
    "  - cas-key: 1111111111111111111111111111111111111111111111111111111111111111\n"
    "upgrades:\n"
    "  - measurement: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
    "  - measurement: BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB\n"
    "witnesses:\n"
    "  - tpm\n"
    "  - tpm:/dev/tpmrm0\n"
    "  - arcad://10.0.0.2:18765\n";

static void test_good(void **state)
{
    (void)state;
    struct arca_owner_config c;
    struct arca_diag d;
    arca_diag_init(&d);
    assert_int_equal(arca_owner_config_parse(GOOD, strlen(GOOD), "o.yaml", &c, &d), 0);
    assert_int_equal(d.n, 0);
    assert_true(c.has_audit);
    assert_int_equal(c.audit_checkpoint_every, 64);
    assert_true(c.audit_export_checkpoints);
    assert_string_equal(c.pcs_url, "https://pccs.example/sgx/certification/v4");
    assert_string_equal(c.kds_url, "http://kds.example");
    assert_int_equal(c.n_backups, 1);
    assert_int_equal(c.backups[0][31], 0x11);
    assert_int_equal(c.n_upgrades, 2);
    assert_int_equal(c.upgrades[0][0], 0xaa);
    assert_int_equal(c.upgrades[1][0], 0xbb);
    assert_int_equal(c.n_witnesses, 3);
    assert_string_equal(c.witnesses[2], "arcad://10.0.0.2:18765");
    assert_int_equal(c.board_require, 0);
    arca_diag_free(&d);

    const char minimal[] = "version: 1\n";
    assert_int_equal(arca_owner_config_parse(minimal, strlen(minimal), NULL, &c, &d), 0);
    assert_int_equal(c.n_upgrades, 0);
    arca_diag_free(&d);
}

/* yaml must be refused with code, one error at line:col whose text holds needle. */
static void refused(const char *yaml, int code, uint32_t line, uint32_t col, const char *needle)
{
    struct arca_owner_config c;
    memset(&c, 0x5a, sizeof(c));
    struct arca_diag d;
    arca_diag_init(&d);
    int rc = arca_owner_config_parse(yaml, strlen(yaml), "o.yaml", &c, &d);
    if (rc != code || d.n < 1 || strstr(d.v[0].msg, needle) == NULL || d.v[0].line != line ||
        d.v[0].col != col)
        fail_msg("%s: rc %d, %zu errors, first %u:%u '%s'", yaml, rc, d.n, d.n ? d.v[0].line : 0,
                 d.n ? d.v[0].col : 0, d.n ? d.v[0].msg : "");
    /* no partial output */
    static const struct arca_owner_config zero;
    assert_memory_equal(&c, &zero, sizeof(c));
    arca_diag_free(&d);
}

static void test_refused(void **state)
{
    (void)state;
    refused("", ARCA_ERR_FORMAT, 1, 1, "empty");
    refused("audit: {}\n", ARCA_ERR_FORMAT, 1, 1, "missing 'version'");
    refused("version: 2\n", ARCA_ERR_FORMAT, 1, 10, "from 1 to 1");
    refused("version: 1\nowner: x\n", ARCA_ERR_FORMAT, 2, 1, "unknown key 'owner'");
    refused("version: 1\naudit:\n  checkpoint-evry: 5\n", ARCA_ERR_FORMAT, 3, 3,
            "unknown key 'checkpoint-evry'");
    refused("version: 1\naudit:\n  checkpoint-every: 0\n", ARCA_ERR_FORMAT, 3, 21, "whole number");
    refused("version: 1\naudit:\n  export-checkpoints: yes\n", ARCA_ERR_FORMAT, 3, 23,
            "true or false");
    refused("version: 1\ncollateral:\n  pcs-url: ftp://x\n", ARCA_ERR_FORMAT, 3, 12, "http(s)");
    refused("version: 1\nupgrades:\n  - measurement: abc\n", ARCA_ERR_FORMAT, 3, 18, "64 hex");
    refused("version: 1\nupgrades:\n  - abc\n", ARCA_ERR_FORMAT, 3, 5, "expected a mapping");
    refused("version: 1\nbackups:\n  - cas-key: "
            "11111111111111111111111111111111"
            "11111111111111111111111111111111\n  - cas-key: "
            "11111111111111111111111111111111"
            "11111111111111111111111111111111\n",
            ARCA_ERR_FORMAT, 4, 14, "listed twice");
    refused("version: 1\nwitnesses:\n  - tpmx\n", ARCA_ERR_FORMAT, 3, 5, "arcad://");
    refused("version: 1\nwitnesses: [http://x]\n", ARCA_ERR_FORMAT, 2, 13, "arcad://");
    refused("version: 1\nversion: 1\n", ARCA_ERR_FORMAT, 2, 1, "duplicate");
    refused("version: 1\nboard:\n  require-at-least: 2\n  owners: ["
            "11111111111111111111111111111111"
            "11111111111111111111111111111111]\n",
            ARCA_ERR_FORMAT, 3, 21, "from 1 to 1");
}

/* export-checkpoints is true unless written false; the requirements arcad checks against its
 * --witness specs name the first missing kind and the flag. */
static void test_defaults_and_requirements(void **state)
{
    (void)state;
    struct arca_owner_config c;
    struct arca_diag d;
    arca_diag_init(&d);
    const char plain[] = "version: 1\n";
    assert_int_equal(arca_owner_config_parse(plain, strlen(plain), NULL, &c, &d), 0);
    assert_true(c.audit_export_checkpoints);
    assert_null(arca_owner_config_unmet(&c, NULL, 0));
    const char off[] = "version: 1\naudit:\n  export-checkpoints: false\n";
    assert_int_equal(arca_owner_config_parse(off, strlen(off), NULL, &c, &d), 0);
    assert_false(c.audit_export_checkpoints);

    assert_int_equal(arca_owner_config_parse(GOOD, strlen(GOOD), NULL, &c, &d), 0);
    const char *none[] = {"file:/tmp/w"};
    const char *m = arca_owner_config_unmet(&c, none, 1);
    assert_non_null(m);
    assert_non_null(strstr(m, "requires a TPM witness"));
    assert_non_null(strstr(m, "--witness tpm"));
    const char *tpm[] = {"tpm:swtpm:host=127.0.0.1,port=2321"};
    m = arca_owner_config_unmet(&c, tpm, 1);
    assert_non_null(m);
    assert_non_null(strstr(m, "--witness arcad://HOST:PORT"));
    const char *both[] = {"arcad://127.0.0.1:1", "tpm"};
    assert_null(arca_owner_config_unmet(&c, both, 2));
    assert_null(arca_owner_config_unmet(NULL, NULL, 0));
    arca_diag_free(&d);
}

static void test_too_large(void **state)
{
    (void)state;
    static char big[ARCA_OWNER_CONFIG_MAX_BYTES + 2];
    memset(big, '#', sizeof(big) - 1);
    refused(big, ARCA_ERR_TOO_LARGE, 1, 1, "larger than");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_defaults_and_requirements),
        cmocka_unit_test(test_too_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
