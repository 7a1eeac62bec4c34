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
#include "base/fs.h"
#include "crypto/crypto.h"
#include "govern/approval.h"
#include "owner/board.h"
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

/* Board signing of an owner change: --sign-with KEY (a board member's private key PEM), or
 * offline --message-out FILE (write the owner-op message and stop) and --approval PUB SIG (a
 * signature an external signer made over that message: SPKI PEM file, raw signature file). */
#define MAX_SIGNERS 16
struct signers {
    const char *keys[MAX_SIGNERS];
    size_t n;
    const char *pubs[MAX_SIGNERS], *sigs[MAX_SIGNERS];
    size_t m;
    const char *msg_out;
};
#define MESSAGE_WRITTEN 1 /* board_sign wrote the message (--message-out): stop, exit 0 */

/* Takes a signing flag at argv[*i]: true if it was one (*ex set on a usage error). */
static bool take_signer(struct signers *sg, int argc, char **argv, int *i, int *ex)
{
    const char *a = argv[*i];
    int need = strcmp(a, "--approval") == 0                                       ? 2
               : strcmp(a, "--sign-with") == 0 || strcmp(a, "--message-out") == 0 ? 1
                                                                                  : 0;
    if (need == 0)
        return false;
    if (*i + need >= argc || sg->n >= MAX_SIGNERS || sg->m >= MAX_SIGNERS) {
        *ex = cli_fail(ARCA_EXIT_USAGE, "cas %s: %s needs %s (at most %d)", argv[0], a,
                       need == 2 ? "PUB.pem SIG" : "a file", MAX_SIGNERS);
    } else if (a[2] == 's') {
        sg->keys[sg->n++] = argv[*i + 1];
    } else if (a[2] == 'm') {
        sg->msg_out = argv[*i + 1];
    } else {
        sg->pubs[sg->m] = argv[*i + 1];
        sg->sigs[sg->m++] = argv[*i + 2];
    }
    *i += need;
    return true;
}

/* An external signer's approval (PEM public key file, raw signature file) into list. */
static int approval_of(const char *pub_file, const char *sig_file, json_t *list)
{
    struct arca_buf pub, sig, b64;
    arca_buf_init(&pub, 64 * 1024);
    arca_buf_init(&sig, 4096);
    arca_buf_init(&b64, 0);
    int rc = cli_file_read(pub_file, &pub);
    if (rc == 0)
        rc = cli_file_read(sig_file, &sig);
    if (rc == 0)
        rc = arca_base64_encode(&b64, sig.data, sig.len);
    if (rc == 0 && json_array_append_new(list, json_pack("{s:s, s:s}", "key", arca_buf_cstr(&pub),
                                                         "sig", arca_buf_cstr(&b64))) != 0)
        rc = arca_err_set(ARCA_ERR_ALLOC, "out of memory");
    arca_buf_free(&pub);
    arca_buf_free(&sig);
    arca_buf_free(&b64);
    return rc < 0 ? arca_err_wrap(rc, "--approval %s %s", pub_file, sig_file) : 0;
}

/* One approval of msg by the private key in file into list. */
static int sign_one(const char *file, const uint8_t msg[32], json_t *list)
{
    struct arca_buf pem, sig, b64, pub;
    arca_buf_init_secret(&pem, 64 * 1024);
    arca_buf_init(&sig, 0);
    arca_buf_init(&b64, 0);
    arca_buf_init(&pub, 0);
    struct arca_key *k = NULL;
    int rc = cli_file_read(file, &pem);
    if (rc == 0)
        rc = arca_key_from_pem(pem.data, pem.len, &k);
    if (rc == 0)
        rc = arca_approval_sign(k, msg, &sig);
    if (rc == 0)
        rc = arca_base64_encode(&b64, sig.data, sig.len);
    if (rc == 0)
        rc = arca_key_public_pem(k, &pub);
    if (rc == 0 && json_array_append_new(list, json_pack("{s:s, s:s}", "key", arca_buf_cstr(&pub),
                                                         "sig", arca_buf_cstr(&b64))) != 0)
        rc = arca_err_set(ARCA_ERR_ALLOC, "out of memory");
    arca_key_free(k);
    arca_buf_free(&pem);
    arca_buf_free(&sig);
    arca_buf_free(&b64);
    arca_buf_free(&pub);
    return rc < 0 ? arca_err_wrap(rc, "--sign-with %s", file) : 0;
}

/* With signers: adds "approvals" to *body (made if NULL) — each signer's signature over the
 * owner-op message of op/args under arcad's current owner-op counter (owner/board.h). */
static int board_sign(struct arca_cli *cli, const struct signers *sg, const char *op,
                      const void *args, size_t len, json_t **body)
{
    if (sg->n == 0 && sg->m == 0 && sg->msg_out == NULL)
        return 0;
    json_t *st = NULL, *list = json_array();
    uint8_t cas[32], msg[32];
    struct arca_client *c = NULL;
    long status = 0;
    int rc = list != NULL ? arca_client_open(cli, true, &c)
                          : arca_err_set(ARCA_ERR_ALLOC, "out of memory");
    if (rc == 0)
        rc = arca_client_json(c, "GET", "/v1/owner", NULL, 0, &status, &st);
    arca_client_free(c);
    const char *k = json_string_value(json_object_get(st, "cas_key"));
    json_t *ctr = json_object_get(st, "op_counter");
    if (rc == 0 &&
        (k == NULL || !json_is_integer(ctr) || arca_hex_decode_fixed(cas, 32, k, strlen(k)) < 0))
        rc = arca_err_set(ARCA_ERR_FORMAT, "the CAS does not say its owner-op counter");
    if (rc == 0)
        rc = arca_owner_op_message(cas, op, args, len, (uint64_t)json_integer_value(ctr), msg);
    if (rc == 0 && sg->msg_out != NULL) {
        rc = arca_file_write(sg->msg_out, msg, sizeof(msg), 0644, 0);
        json_decref(list);
        json_decref(st);
        return rc < 0 ? arca_err_wrap(rc, "--message-out %s", sg->msg_out) : MESSAGE_WRITTEN;
    }
    for (size_t i = 0; rc == 0 && i < sg->n; i++)
        rc = sign_one(sg->keys[i], msg, list);
    for (size_t i = 0; rc == 0 && i < sg->m; i++)
        rc = approval_of(sg->pubs[i], sg->sigs[i], list);
    if (rc == 0 && *body == NULL && (*body = json_object()) == NULL)
        rc = arca_err_set(ARCA_ERR_ALLOC, "out of memory");
    if (rc == 0 && json_object_set(*body, "approvals", list) != 0)
        rc = arca_err_set(ARCA_ERR_ALLOC, "out of memory");
    json_decref(list);
    json_decref(st);
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
    struct signers sg = {0};
    int ex = ARCA_EXIT_OK;
    for (int i = 1; i < argc; i++) {
        if (take_signer(&sg, argc, argv, &i, &ex)) {
            if (ex != ARCA_EXIT_OK)
                return ex;
        } else if (strcmp(argv[i], flag) == 0 && i + 1 < argc)
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
    if (rc == 0 && backup && !revoke) {
        /* the key wrapped to is part of what the board approves */
        const char *ek = json_string_value(json_object_get(body, "session_encryption_key"));
        uint8_t args[64];
        memcpy(args, v, 32);
        rc = ek != NULL && arca_hex_decode_fixed(args + 32, 32, ek, strlen(ek)) == 0
                 ? board_sign(cli, &sg, "register-backup", args, sizeof(args), &body)
                 : arca_err_set(ARCA_ERR_FORMAT, "the backup arcad sent no session-encryption key");
    } else if (rc == 0) {
        rc = board_sign(cli, &sg, backup ? "revoke-backup" : "register-upgrade", v, 32, &body);
    }
    if (rc == MESSAGE_WRITTEN) {
        json_decref(body);
        printf("owner-op message written to %s\n", sg.msg_out);
        return ARCA_EXIT_OK;
    }
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
    struct signers sg = {0};
    int ex = ARCA_EXIT_OK;
    for (int i = 1; i < argc; i++) {
        if (take_signer(&sg, argc, argv, &i, &ex)) {
            if (ex != ARCA_EXIT_OK)
                return ex;
        } else if (strcmp(argv[i], "--set-config") == 0 && i + 1 < argc) {
            file = argv[++i];
        } else {
            return cli_fail(ARCA_EXIT_USAGE, "cas owner: unexpected argument '%s'", argv[i]);
        }
    }
    json_t *body = NULL, *ans = NULL;
    int rc = 0;
    if (file != NULL) {
        struct arca_buf yaml;
        arca_buf_init(&yaml, OWNER_CONFIG_MAX);
        rc = cli_file_read(file, &yaml);
        if (rc == 0)
            body = json_pack("{s:s%}", "config", arca_buf_cstr(&yaml), yaml.len);
        if (rc < 0) {
            arca_buf_free(&yaml);
            return cli_fail(ARCA_EXIT_USAGE, "cas owner: --set-config: %s", arca_err_detail());
        }
        rc = board_sign(cli, &sg, "config", yaml.data, yaml.len, &body);
        arca_buf_free(&yaml);
    }
    if (rc == MESSAGE_WRITTEN) {
        json_decref(body);
        printf("owner-op message written to %s\n", sg.msg_out);
        return ARCA_EXIT_OK;
    }
    if (rc == 0)
        rc = owner_call(cli, NULL, NULL, file != NULL ? "PUT" : "GET", "/v1/owner/config", body,
                        &ans);
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
    struct signers sg = {0};
    int ex = ARCA_EXIT_OK;
    for (int i = 1; i < argc; i++) {
        if (!take_signer(&sg, argc, argv, &i, &ex))
            return cli_fail(ARCA_EXIT_USAGE, "cas %s: unexpected argument '%s'", argv[0], argv[i]);
        if (ex != ARCA_EXIT_OK)
            return ex;
    }
    json_t *ans = NULL, *body = NULL;
    /* the operation name is the command's (rotate-key, snapshot) */
    int rc = strcmp(method, "POST") == 0 ? board_sign(cli, &sg, argv[0], NULL, 0, &body) : 0;
    if (rc == MESSAGE_WRITTEN) {
        json_decref(body);
        printf("owner-op message written to %s\n", sg.msg_out);
        return ARCA_EXIT_OK;
    }
    if (rc == 0)
        rc = owner_call(cli, NULL, NULL, method, path, body, &ans);
    json_decref(body);
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
