/*
 * arca audit verify FILE [--key PEMFILE | --cas-key HEX|B58] [--checkpoint SEQ:SIG]... [-o json]
 *
 * Proves an audit log complete and unmodified, or says at which line and why it breaks.
 * Exit 0 verified, 1 not verified (or unreadable), 2 usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit/audit.h"
#include "base/enc.h"
#include "base/err.h"
#include "cli.h"
#include "crypto/crypto.h"

static void audit_usage(FILE *f)
{
    fprintf(f, "usage: arca audit verify FILE [--key PEMFILE | --cas-key KEYHASH]\n"
               "                         [--checkpoint SEQ:SIGNATURE]... [-o json]\n\n"
               "Checks every line's signature and the chain of signatures and sequence numbers.\n"
               "--key          verify with this public (or private) key in PEM\n"
               "--cas-key      the log's own key must have this key hash (hex SHA-256 of the\n"
               "               SubjectPublicKeyInfo, or its Base58Check form)\n"
               "--checkpoint   a checkpoint from arcad's store (sequence number and base64\n"
               "               signature): detects a truncated or rolled-back log\n"
               "Without --key or --cas-key the key named in the log is used (not pinned).\n"
               "Exit status: 0 verified, 1 not verified, 2 usage error.\n");
}

static int read_all(const char *path, struct arca_buf *out)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return arca_err_set(ARCA_ERR_IO, "%s: %s", path, strerror(errno));
    uint8_t tmp[8192];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        rc = arca_buf_put(out, tmp, n);
    if (rc == 0 && ferror(f))
        rc = arca_err_set(ARCA_ERR_IO, "%s: read error", path);
    fclose(f);
    return rc;
}

static int parse_cas_key(const char *s, uint8_t out[ARCA_SHA256_LEN])
{
    if (arca_hex_decode_fixed(out, ARCA_SHA256_LEN, s, strlen(s)) == 0)
        return 0;
    struct arca_buf b;
    arca_buf_init(&b, 256);
    uint8_t ver = 0;
    int rc = arca_base58check_decode(&b, &ver, s, strlen(s));
    if (rc == 0 && (b.len != ARCA_SHA256_LEN || ver != ARCA_KEYHASH_B58_VERSION))
        rc = ARCA_ERR_FORMAT;
    if (rc == 0)
        memcpy(out, b.data, ARCA_SHA256_LEN);
    arca_buf_free(&b);
    return rc;
}

static int parse_checkpoint(const char *s, struct arca_store_checkpoint *cp)
{
    const char *colon = strchr(s, ':');
    if (colon == NULL || colon == s)
        return ARCA_ERR_FORMAT;
    char *end = NULL;
    errno = 0;
    unsigned long long seq = strtoull(s, &end, 10);
    if (errno != 0 || end != colon || seq == 0)
        return ARCA_ERR_FORMAT;
    struct arca_buf b;
    arca_buf_init(&b, ARCA_STORE_SIG_MAX);
    int rc = arca_base64_decode(&b, colon + 1, strlen(colon + 1));
    if (rc == 0 && b.len == 0)
        rc = ARCA_ERR_FORMAT;
    if (rc == 0) {
        memset(cp, 0, sizeof(*cp));
        cp->seq = seq;
        cp->sig_len = b.len;
        memcpy(cp->sig, b.data, b.len);
    }
    arca_buf_free(&b);
    return rc;
}

static int audit_verify(struct arca_cli *cli, int argc, char **argv)
{
    const char *file = NULL, *keyfile = NULL, *caskey = NULL;
    struct arca_store_checkpoint *cps = NULL;
    size_t ncp = 0;
    int code = ARCA_EXIT_USAGE;
    struct arca_key *key = NULL;
    uint8_t kh[ARCA_SHA256_LEN];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "--key") == 0 || strcmp(a, "--cas-key") == 0 ||
             strcmp(a, "--checkpoint") == 0) &&
            i + 1 >= argc) {
            code = cli_fail(ARCA_EXIT_USAGE, "audit verify: %s needs a value", a);
            goto out;
        }
        if (strcmp(a, "--key") == 0) {
            keyfile = argv[++i];
        } else if (strcmp(a, "--cas-key") == 0) {
            caskey = argv[++i];
        } else if (strcmp(a, "--checkpoint") == 0) {
            struct arca_store_checkpoint *n = realloc(cps, (ncp + 1) * sizeof(*cps));
            if (n == NULL) {
                code = cli_fail(ARCA_EXIT_FAIL, "out of memory");
                goto out;
            }
            cps = n;
            if (parse_checkpoint(argv[++i], &cps[ncp]) < 0) {
                code = cli_fail(ARCA_EXIT_USAGE,
                                "audit verify: --checkpoint '%s' is not SEQ:BASE64-SIGNATURE",
                                argv[i]);
                goto out;
            }
            ncp++;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            audit_usage(stdout);
            code = ARCA_EXIT_OK;
            goto out;
        } else if (a[0] == '-' && a[1] != '\0') {
            code = cli_fail(ARCA_EXIT_USAGE, "audit verify: unknown option '%s'", a);
            goto out;
        } else if (file == NULL) {
            file = a;
        } else {
            code = cli_fail(ARCA_EXIT_USAGE, "audit verify: more than one FILE ('%s')", a);
            goto out;
        }
    }
    if (file == NULL) {
        audit_usage(stderr);
        code = ARCA_EXIT_USAGE;
        goto out;
    }
    if (keyfile != NULL && caskey != NULL) {
        code = cli_fail(ARCA_EXIT_USAGE, "audit verify: give --key or --cas-key, not both");
        goto out;
    }
    if (caskey != NULL && parse_cas_key(caskey, kh) < 0) {
        code = cli_fail(ARCA_EXIT_USAGE,
                        "audit verify: --cas-key '%s' is neither 64 hex digits nor a "
                        "Base58Check key hash",
                        caskey);
        goto out;
    }
    if (keyfile != NULL) {
        struct arca_buf pem;
        arca_buf_init_secret(&pem, 1 << 20);
        int rc = read_all(keyfile, &pem);
        if (rc == 0)
            rc = arca_key_from_pem(pem.data, pem.len, &key);
        arca_buf_free(&pem);
        if (rc < 0) {
            code =
                cli_fail(ARCA_EXIT_FAIL, "audit verify: --key %s: %s", keyfile, arca_err_detail());
            goto out;
        }
    }
    struct arca_audit_verify_opts vo = {.key = key,
                                        .cas_key = caskey != NULL ? kh : NULL,
                                        .checkpoints = cps,
                                        .checkpoint_count = ncp};
    struct arca_audit_verify_result res;
    int rc = arca_audit_verify_file(file, &vo, &res);
    if (rc < 0) {
        code = cli_fail(ARCA_EXIT_FAIL, "audit verify: %s", arca_err_detail());
        goto out;
    }
    char kid[2 * ARCA_SHA256_LEN + 1];
    arca_hex_fmt(kid, res.key_id, sizeof(res.key_id));
    if (cli->output == ARCA_OUTPUT_JSON) {
        json_t *o =
            json_pack("{s:b, s:s, s:I, s:I, s:s}", "verified", res.ok, "file", file, "lines",
                      (json_int_t)res.lines, "last_seq", (json_int_t)res.last_seq, "key_id", kid);
        if (o != NULL && !res.ok) {
            json_object_set_new(o, "line", json_integer((json_int_t)res.bad_line));
            json_object_set_new(o, "reason", json_string(res.reason));
        }
        if (o != NULL && json_dumpf(o, stdout, JSON_INDENT(2) | JSON_SORT_KEYS) == 0)
            fputc('\n', stdout);
        json_decref(o);
    } else if (res.ok) {
        printf("%s: verified: %llu lines, sequence 1..%llu, signed by key %s%s\n", file,
               (unsigned long long)res.lines, (unsigned long long)res.last_seq, kid,
               key == NULL && caskey == NULL ? " (taken from the log: pass --cas-key to pin it)"
                                             : "");
    } else {
        fprintf(stderr, "arca: %s: line %llu: %s\n", file, (unsigned long long)res.bad_line,
                res.reason);
    }
    code = res.ok ? ARCA_EXIT_OK : ARCA_EXIT_FAIL;
out:
    arca_key_free(key);
    free(cps);
    return code;
}

int cmd_audit(struct arca_cli *cli, int argc, char **argv)
{
    argc = cli_take_output_flag(cli, argc, argv);
    if (argc < 0)
        return ARCA_EXIT_USAGE;
    if (argc < 2) {
        audit_usage(stderr);
        return ARCA_EXIT_USAGE;
    }
    if (strcmp(argv[1], "verify") == 0)
        return audit_verify(cli, argc - 1, argv + 1);
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "--help") == 0) {
        audit_usage(stdout);
        return ARCA_EXIT_OK;
    }
    return cli_fail(ARCA_EXIT_USAGE, "audit: unknown subcommand '%s' (try: arca audit verify)",
                    argv[1]);
}
