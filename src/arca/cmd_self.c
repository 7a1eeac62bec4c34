/* arca self keygen|show: this client's identity (key pair and self-signed certificate). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "base/enc.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/time.h"
#include "client.h"
#include "crypto/crypto.h"

static void self_usage(FILE *f)
{
    fprintf(f, "usage: arca self keygen [--force]\n"
               "       arca self show [-o json]\n\n"
               "keygen creates a P-256 key pair and a self-signed certificate in the identity\n"
               "directory (--identity DIR, $ARCA_IDENTITY, default ~/.config/arca); --force\n"
               "replaces an existing one (its sessions' access is lost).\n"
               "show prints the key hash (hex and Base58Check) that access policies list.\n");
}

static int self_show(struct arca_cli *cli);

static int self_keygen(struct arca_cli *cli, int argc, char **argv)
{
    bool force = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--force") == 0)
            force = true;
        else
            return cli_fail(ARCA_EXIT_USAGE, "self keygen: unknown argument '%s'", argv[i]);
    }
    const char *dir = arca_identity_dir(cli);
    char kpath[4200], cpath[4200];
    snprintf(kpath, sizeof(kpath), "%s/key.pem", dir);
    snprintf(cpath, sizeof(cpath), "%s/cert.pem", dir);
    if (!force && access(kpath, F_OK) == 0)
        return cli_fail(ARCA_EXIT_FAIL,
                        "an identity exists in %s already (use --force to replace it)", dir);
    if (arca_mkdirs(dir, 0700) < 0)
        return cli_fail(ARCA_EXIT_FAIL, "%s", arca_err_detail());
    struct arca_key *key = NULL;
    struct arca_x509 *cert = NULL;
    struct arca_buf kpem, cpem;
    arca_buf_init_secret(&kpem, 0);
    arca_buf_init(&cpem, 0);
    int rc = 0;
    int64_t now = arca_time_now();
    struct arca_x509_params p = {.common_name = "arca client",
                                 .path_len = -1,
                                 .eku = ARCA_EKU_CLIENT,
                                 .not_before = now - 3600,
                                 .not_after = now + 10LL * 365 * 86400};
    ARCA_GUARD(rc, arca_key_generate(ARCA_KEY_P256, &key), out);
    ARCA_GUARD(rc, arca_x509_build(&p, key, NULL, NULL, &cert), out);
    ARCA_GUARD(rc, arca_key_private_pem(key, &kpem), out);
    ARCA_GUARD(rc, arca_x509_to_pem(cert, &cpem), out);
    ARCA_GUARD(rc, arca_file_write(kpath, kpem.data, kpem.len, 0600, ARCA_FILE_SECRET), out);
    ARCA_GUARD(rc, arca_file_write(cpath, cpem.data, cpem.len, 0644, 0), out);
out:
    arca_key_free(key);
    arca_x509_free(cert);
    arca_buf_free(&kpem);
    arca_buf_free(&cpem);
    if (rc < 0)
        return cli_fail(ARCA_EXIT_FAIL, "self keygen: %s", arca_err_detail());
    if (cli->output != ARCA_OUTPUT_JSON)
        printf("created identity in %s\n", dir);
    return self_show(cli);
}

static int self_show(struct arca_cli *cli)
{
    const char *dir = arca_identity_dir(cli);
    char cpath[4200];
    snprintf(cpath, sizeof(cpath), "%s/cert.pem", dir);
    struct arca_buf pem, b58;
    arca_buf_init(&pem, 1 << 16);
    arca_buf_init(&b58, 128);
    struct arca_x509 *cert = NULL;
    uint8_t kid[32];
    char hex[65];
    int rc = cli_file_read(cpath, &pem);
    if (rc == ARCA_ERR_NOT_FOUND) {
        arca_buf_free(&pem);
        arca_buf_free(&b58);
        return cli_fail(ARCA_EXIT_FAIL, "no identity in %s: create one with `arca self keygen`",
                        dir);
    }
    if (rc == 0)
        rc = arca_x509_from_pem(pem.data, pem.len, &cert);
    if (rc == 0)
        rc = arca_x509_key_id(cert, kid);
    if (rc == 0)
        rc = arca_base58check_encode(&b58, ARCA_KEYHASH_B58_VERSION, kid, 32);
    if (rc < 0) {
        arca_x509_free(cert);
        arca_buf_free(&pem);
        arca_buf_free(&b58);
        return cli_fail(ARCA_EXIT_FAIL, "self show: %s", arca_err_detail());
    }
    arca_hex_fmt(hex, kid, 32);
    if (cli->output == ARCA_OUTPUT_JSON) {
        json_t *j =
            json_pack("{s:s, s:s, s:s, s:s}", "key_hash", hex, "key_hash_b58", arca_buf_cstr(&b58),
                      "identity", dir, "certificate", arca_buf_cstr(&pem));
        cli_print_json(j);
        json_decref(j);
    } else {
        printf("identity:     %s\nkey hash:     %s\nkey hash b58: %s\n", dir, hex,
               arca_buf_cstr(&b58));
    }
    arca_x509_free(cert);
    arca_buf_free(&pem);
    arca_buf_free(&b58);
    return ARCA_EXIT_OK;
}

int cli_self_key_id(const struct arca_cli *cli, uint8_t out[32])
{
    const char *dir = arca_identity_dir(cli);
    char cpath[4200];
    snprintf(cpath, sizeof(cpath), "%s/cert.pem", dir);
    struct arca_buf pem;
    arca_buf_init(&pem, 1 << 16);
    struct arca_x509 *cert = NULL;
    int rc = cli_file_read(cpath, &pem);
    if (rc == ARCA_ERR_NOT_FOUND)
        rc = arca_err_set(rc, "no identity in %s: create one with `arca self keygen`", dir);
    if (rc == 0)
        rc = arca_x509_from_pem(pem.data, pem.len, &cert);
    if (rc == 0)
        rc = arca_x509_key_id(cert, out);
    arca_x509_free(cert);
    arca_buf_free(&pem);
    return rc;
}

static int self_show_cmd(struct arca_cli *cli, int argc, char **argv)
{
    if (argc > 1)
        return cli_fail(ARCA_EXIT_USAGE, "self show: unknown argument '%s'", argv[1]);
    return self_show(cli);
}

int cmd_self(struct arca_cli *cli, int argc, char **argv)
{
    static const struct cli_sub subs[] = {{"keygen", self_keygen, "--force"},
                                          {"show", self_show_cmd, ""}};
    return cli_dispatch(cli, subs, sizeof(subs) / sizeof(subs[0]), self_usage, argc, argv);
}
