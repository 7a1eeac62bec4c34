/*
 * arca cas provision / register-upgrade / register-backup / owner: the owner's side of
 * docs/operator-lifecycle.md over the /v1/owner routes (docs/api.md "Owner"). Provisioning
 * first attests and pins the CAS exactly like `arca cas attest`, so the token and the owner
 * configuration only ever travel to an attested arcad.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/enc.h"
#include "base/err.h"
#include "crypto/crypto.h"
#include "client.h"
#include "cmd_owner.h"

#define OWNER_CONFIG_MAX (64 * 1024)

/* One JSON request to the pinned CAS with the client identity; *out gets the answer. */
static int owner_call(struct arca_cli *cli, const char *addr, const uint8_t *pin,
                      const char *method, const char *path, json_t *body, json_t **out)
{
    struct arca_client *c = NULL;
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    long status = 0;
    int rc = addr != NULL ? arca_client_open_addr(cli, addr, pin, true, &c)
                          : arca_client_open(cli, true, &c);
    if (rc == 0 && body != NULL && text == NULL)
        rc = arca_err_set(ARCA_ERR_ALLOC, "out of memory");
    if (rc == 0)
        rc = arca_client_json(c, method, path, text, text != NULL ? strlen(text) : 0, &status, out);
    arca_client_free(c);
    if (text != NULL)
        arca_wipe_free_str(text); /* holds the provisioning token */
    return rc;
}

int cas_provision(struct arca_cli *cli, int argc, char **argv)
{
    const char *addr = NULL, *token = NULL, *file = NULL;
    bool skip = false;
    struct cas_attest_opts o = {.quiet = true};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--skip-if-provisioned") == 0) {
            skip = true;
        } else if (strcmp(argv[i], "--token") == 0 || strcmp(argv[i], "--owner-config") == 0) {
            if (i + 1 >= argc)
                return cli_fail(ARCA_EXIT_USAGE, "cas provision: %s needs a value", argv[i]);
            *(argv[i][2] == 't' ? &token : &file) = argv[i + 1];
            i++;
        } else {
            int ex = cas_take_arg("provision", &o, argc, argv, &i, &addr);
            if (ex != ARCA_EXIT_OK)
                return ex;
        }
    }
    if (addr == NULL)
        addr = cli->cas;
    if (addr == NULL || token == NULL || file == NULL)
        return cli_fail(ARCA_EXIT_USAGE,
                        "cas provision: needs HOST:PORT, --token T and --owner-config FILE");
    struct arca_buf yaml;
    arca_buf_init(&yaml, OWNER_CONFIG_MAX);
    if (cli_file_read(file, &yaml) < 0) {
        arca_buf_free(&yaml);
        return cli_fail(ARCA_EXIT_USAGE, "cas provision: --owner-config: %s", arca_err_detail());
    }
    uint8_t cas_key[32];
    int ex = cas_attest_pin(cli, addr, &o, cas_key);
    json_t *st = NULL, *ans = NULL, *body = NULL;
    int rc = 0;
    if (ex != ARCA_EXIT_OK)
        goto out;
    rc = owner_call(cli, addr, cas_key, "GET", "/v1/owner", NULL, &st);
    if (rc == 0 && json_is_true(json_object_get(st, "provisioned"))) {
        const char *owner = json_string_value(json_object_get(st, "owner"));
        if (skip) {
            printf("CAS %s is already provisioned (owner %s); skipped\n", addr,
                   owner != NULL ? owner : "?");
            goto out;
        }
        rc = arca_err_set(ARCA_ERR_EXISTS,
                          "already provisioned (owner %s); the token is single-use "
                          "(--skip-if-provisioned for automation)",
                          owner != NULL ? owner : "?");
    }
    if (rc == 0) {
        body = json_pack("{s:s, s:s%}", "token", token, "config", arca_buf_cstr(&yaml), yaml.len);
        rc = owner_call(cli, addr, cas_key, "POST", "/v1/owner/provision", body, &ans);
    }
    if (rc < 0) {
        ex = cli_fail(arca_client_exit_code(rc), "cas provision %s: %s", addr, arca_err_detail());
        goto out;
    }
    const char *owner = json_string_value(json_object_get(ans, "owner"));
    if (cli->output == ARCA_OUTPUT_JSON)
        cli_print_json(ans);
    else
        printf("provisioned CAS %s\nowner: %s\n", addr, owner != NULL ? owner : "?");
out:
    json_decref(st);
    json_decref(ans);
    json_decref(body);
    arca_buf_free(&yaml);
    return ex;
}

/* The address under which the CAS with key hex was attested (`arca cas attest`), into addr. */
static int attested_addr(const struct arca_cli *cli, const char *hex, char *addr, size_t n)
{
    json_t *db = NULL;
    ARCA_TRY(arca_cas_db_load(cli, &db));
    const char *a;
    json_t *e;
    int rc = arca_err_set(ARCA_ERR_NOT_FOUND,
                          "no attested CAS has key %s: attest the backup arcad first (arca cas "
                          "attest HOST:PORT)",
                          hex);
    json_object_foreach(json_object_get(db, "cas"), a, e)
    {
        const char *k = json_string_value(json_object_get(e, "cas_key"));
        if (k != NULL && strcmp(k, hex) == 0 && strlen(a) < n) {
            memcpy(addr, a, strlen(a) + 1);
            rc = 0;
            break;
        }
    }
    json_decref(db);
    return rc;
}

/* The backup arcad's session-encryption key with evidence for a fresh nonce (the answer of
 * GET /v1/session_encryption_key, over TLS pinned to its attested key), plus the nonce and its
 * key: what arcad checks before it wraps its keys to it (new reference into *out). */
static int backup_answer(struct arca_cli *cli, const char *hex, json_t **out)
{
    char addr[512], path[128], nhex[65];
    uint8_t pin[32], nonce[32];
    ARCA_TRY(attested_addr(cli, hex, addr, sizeof(addr)));
    ARCA_TRY(arca_hex_decode_fixed(pin, 32, hex, strlen(hex)));
    ARCA_TRY(arca_random(nonce, sizeof(nonce)));
    arca_hex_fmt(nhex, nonce, sizeof(nonce));
    snprintf(path, sizeof(path), "/v1/session_encryption_key?nonce=%s", nhex);
    struct arca_client *c = NULL;
    long status = 0;
    int rc = arca_client_open_addr(cli, addr, pin, false, &c);
    if (rc == 0)
        rc = arca_client_json(c, "GET", path, NULL, 0, &status, out);
    arca_client_free(c);
    if (rc == 0 && (json_object_set_new(*out, "nonce", json_string(nhex)) != 0 ||
                    json_object_set_new(*out, "cas_key", json_string(hex)) != 0))
        rc = arca_err_set(ARCA_ERR_ALLOC, "out of memory");
    if (rc < 0) {
        json_decref(*out);
        *out = NULL;
        return arca_err_wrap(rc, "backup arcad %s", addr);
    }
    return 0;
}

/* register-upgrade --measurement HEX / register-backup --cas-key HEX [--revoke]. */
static int cas_register(struct arca_cli *cli, int argc, char **argv, bool backup)
{
    const char *flag = backup ? "--cas-key" : "--measurement", *hex = NULL;
    bool revoke = false;
    uint8_t v[32];
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], flag) == 0 && i + 1 < argc)
            hex = argv[++i];
        else if (backup && strcmp(argv[i], "--revoke") == 0)
            revoke = true;
        else
            return cli_fail(ARCA_EXIT_USAGE, "cas %s: unexpected argument '%s'", argv[0], argv[i]);
    }
    if (hex == NULL || arca_hex_decode_fixed(v, 32, hex, strlen(hex)) < 0)
        return cli_fail(ARCA_EXIT_USAGE, "cas %s: %s needs 64 hex digits", argv[0], flag);
    const char *field = backup ? "cas_key" : "measurement";
    const char *path = !backup  ? "/v1/owner/upgrades"
                       : revoke ? "/v1/owner/backups/revoke"
                                : "/v1/owner/backups";
    json_t *body = NULL, *ans = NULL;
    int rc = backup && !revoke ? backup_answer(cli, hex, &body)
             : (body = json_pack("{s:s}", field, hex)) != NULL
                 ? 0
                 : arca_err_set(ARCA_ERR_ALLOC, "out of memory");
    if (rc == 0)
        rc = owner_call(cli, NULL, NULL, "POST", path, body, &ans);
    json_decref(body);
    if (rc < 0) {
        json_decref(ans);
        return cli_fail(arca_client_exit_code(rc), "cas %s: %s", argv[0], arca_err_detail());
    }
    if (cli->output == ARCA_OUTPUT_JSON)
        cli_print_json(ans);
    else if (backup)
        printf("%s backup %s\n", revoke ? "revoked" : "registered", hex);
    else
        printf("registered %s %s\n", field, hex);
    json_decref(ans);
    return ARCA_EXIT_OK;
}

int cas_register_upgrade(struct arca_cli *cli, int argc, char **argv)
{
    return cas_register(cli, argc, argv, false);
}

int cas_register_backup(struct arca_cli *cli, int argc, char **argv)
{
    return cas_register(cli, argc, argv, true);
}

int cas_owner(struct arca_cli *cli, int argc, char **argv)
{
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--set-config") == 0 && i + 1 < argc)
            file = argv[++i];
        else
            return cli_fail(ARCA_EXIT_USAGE, "cas owner: unexpected argument '%s'", argv[i]);
    }
    json_t *body = NULL, *ans = NULL;
    int rc = 0;
    if (file != NULL) {
        struct arca_buf yaml;
        arca_buf_init(&yaml, OWNER_CONFIG_MAX);
        rc = cli_file_read(file, &yaml);
        if (rc == 0)
            body = json_pack("{s:s%}", "config", arca_buf_cstr(&yaml), yaml.len);
        arca_buf_free(&yaml);
        if (rc < 0)
            return cli_fail(ARCA_EXIT_USAGE, "cas owner: --set-config: %s", arca_err_detail());
    }
    rc = owner_call(cli, NULL, NULL, file != NULL ? "PUT" : "GET", "/v1/owner/config", body, &ans);
    json_decref(body);
    if (rc < 0) {
        json_decref(ans);
        return cli_fail(arca_client_exit_code(rc), "cas owner: %s", arca_err_detail());
    }
    if (cli->output == ARCA_OUTPUT_JSON || file == NULL)
        cli_print_json(ans);
    else
        printf("owner configuration replaced\n");
    json_decref(ans);
    return ARCA_EXIT_OK;
}

/* rotate-key, snapshot (POST) and audit-checkpoint (GET): no arguments, one owner call. */
static int owner_simple(struct arca_cli *cli, int argc, char **argv, const char *method,
                        const char *path)
{
    if (argc > 1)
        return cli_fail(ARCA_EXIT_USAGE, "cas %s: unexpected argument '%s'", argv[0], argv[1]);
    json_t *ans = NULL;
    int rc = owner_call(cli, NULL, NULL, method, path, NULL, &ans);
    if (rc == 0 && cli->output == ARCA_OUTPUT_JSON)
        cli_print_json(ans);
    else if (rc == 0 && json_object_get(ans, "checkpoint") != NULL)
        printf("%s\n", json_string_value(json_object_get(ans, "checkpoint")));
    else if (rc == 0 && json_object_get(ans, "path") != NULL)
        printf("snapshot written on the CAS host: %s\n",
               json_string_value(json_object_get(ans, "path")));
    else if (rc == 0)
        printf("database key rotated: %lld records re-encrypted\n",
               (long long)json_integer_value(json_object_get(ans, "records")));
    json_decref(ans);
    return rc < 0 ? cli_fail(arca_client_exit_code(rc), "cas %s: %s", argv[0], arca_err_detail())
                  : ARCA_EXIT_OK;
}

int cas_rotate_key(struct arca_cli *cli, int argc, char **argv)
{
    return owner_simple(cli, argc, argv, "POST", "/v1/owner/rotate-key");
}

int cas_audit_checkpoint(struct arca_cli *cli, int argc, char **argv)
{
    return owner_simple(cli, argc, argv, "GET", "/v1/owner/audit-checkpoint");
}

int cas_snapshot(struct arca_cli *cli, int argc, char **argv)
{
    return owner_simple(cli, argc, argv, "POST", "/v1/owner/snapshot");
}
