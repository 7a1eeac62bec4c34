/*
 * arca audit verify FILE|DIR... [--key PEMFILE | --cas-key HEX|B58] [--checkpoint SEQ:SIG|FILE]...
 * arca audit show|tail FILE|DIR... [filters] [-n N] [--follow]
 * arca audit rotate --pid PID | --pidfile FILE
 *
 * verify proves an audit log (one file, or a rotated set of files) complete and unmodified, or
 * says in which file, at which line and why it breaks. Exit 0 verified, 1 not verified (or
 * unreadable), 2 usage. show/tail read the log on the operator's host (it holds no secret
 * values: names, hashes and key ids only) without verifying it; rotate asks a local arcad to
 * rotate its log (SIGUSR1).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit/audit.h"
#include "base/enc.h"
#include "base/err.h"
#include "cli.h"
#include "cmd_audit.h"
#include "crypto/crypto.h"

static void audit_usage(FILE *f)
{
    fprintf(f, "usage: arca audit verify FILE|DIR... [--key PEMFILE | --cas-key KEYHASH]\n"
               "                         [--checkpoint SEQ:SIGNATURE|FILE]... [-o json]\n"
               "       arca audit show FILE|DIR... [FILTERS] [-o json]\n"
               "       arca audit tail FILE|DIR... [FILTERS] [-n LINES] [--follow] [-o json]\n"
               "       arca audit rotate --pid PID | --pidfile FILE\n\n"
               "verify checks every line's signature and the chain of signatures and sequence\n"
               "numbers, across rotated files (give them oldest first, or their directory).\n"
               "--key          verify with this public (or private) key in PEM\n"
               "--cas-key      the log's own key must have this key hash (hex SHA-256 of the\n"
               "               SubjectPublicKeyInfo, or its Base58Check form)\n"
               "--checkpoint   a checkpoint from arcad's store (sequence number and base64\n"
               "               signature, or a file written by `arca cas audit-checkpoint`):\n"
               "               detects a truncated or rolled-back log\n"
               "Without --key or --cas-key the key named in the log is used (not pinned).\n"
               "show prints the log's lines, tail the last ones (-n, default 10; --follow waits\n"
               "for new lines, across rotations). They do not verify signatures (use verify).\n"
               "FILTERS: --session NAME, --service NAME, --event EVENT[,EVENT...],\n"
               "         --since TIME, --until TIME (RFC 3339, or a duration ago: 1h, 30m, 2d)\n"
               "rotate makes a local arcad (SIGUSR1) move DATA_DIR/audit.log to\n"
               "audit.log.SEQ and continue in a new file that links to it.\n"
               "Exit status: 0 verified/done, 1 not verified/failed, 2 usage error.\n");
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

/* --checkpoint VALUE: SEQ:SIG, or a file holding that line or the JSON answer of
 * `arca cas audit-checkpoint -o json` (its "checkpoint" member). */
static int checkpoint_arg(const char *v, struct arca_store_checkpoint *cp)
{
    if (parse_checkpoint(v, cp) == 0)
        return 0;
    struct arca_buf b;
    arca_buf_init(&b, 65536);
    int rc = read_all(v, &b);
    while (rc == 0 && b.len > 0 &&
           (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r' || b.data[b.len - 1] == ' '))
        b.len--;
    if (rc == 0 && b.len > 0)
        b.data[b.len] = '\0'; /* the spare byte: cstr ends before the trimmed newline */
    if (rc == 0 && b.len > 0 && b.data[0] == '{') {
        json_error_t e;
        json_t *j = json_loadb((const char *)b.data, b.len, JSON_REJECT_DUPLICATES, &e);
        json_t *c = json_object_get(j, "checkpoint");
        rc = json_is_string(c) ? parse_checkpoint(json_string_value(c), cp) : ARCA_ERR_FORMAT;
        json_decref(j);
    } else if (rc == 0) {
        rc = parse_checkpoint(arca_buf_cstr(&b), cp);
    }
    arca_buf_free(&b);
    return rc;
}

static int audit_verify(struct arca_cli *cli, int argc, char **argv)
{
    const char *keyfile = NULL, *caskey = NULL;
    const char **files = calloc((size_t)argc, sizeof(*files));
    size_t nfiles = 0;
    struct arca_audit_set set = {0};
    struct arca_store_checkpoint *cps = NULL;
    size_t ncp = 0;
    int code = ARCA_EXIT_USAGE;
    struct arca_key *key = NULL;
    uint8_t kh[ARCA_SHA256_LEN];
    if (files == NULL)
        return cli_fail(ARCA_EXIT_FAIL, "out of memory");
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
            if (checkpoint_arg(argv[++i], &cps[ncp]) < 0) {
                code = cli_fail(ARCA_EXIT_USAGE,
                                "audit verify: --checkpoint '%s' is neither SEQ:BASE64-SIGNATURE "
                                "nor a file holding one",
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
        } else {
            files[nfiles++] = a;
        }
    }
    if (nfiles == 0) {
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
                                        .checkpoint_count = ncp,
                                        .allow_continuation = true};
    struct arca_audit_set_result sres;
    int rc = arca_audit_set_expand(files, nfiles, &set);
    if (rc == 0)
        rc = arca_audit_set_verify(&set, &vo, &sres);
    if (rc < 0) {
        code = cli_fail(ARCA_EXIT_FAIL, "audit verify: %s", arca_err_detail());
        goto out;
    }
    const struct arca_audit_verify_result res = sres.v;
    const char *file = set.n == 1 ? set.paths[0] : files[0];
    char setname[4200];
    if (set.n > 1) {
        snprintf(setname, sizeof(setname), "%s .. %s (%zu files)", set.paths[0],
                 set.paths[set.n - 1], set.n);
        file = setname;
    }
    char kid[2 * ARCA_SHA256_LEN + 1];
    arca_hex_fmt(kid, res.key_id, sizeof(res.key_id));
    if (cli->output == ARCA_OUTPUT_JSON) {
        json_t *o =
            json_pack("{s:b, s:s, s:I, s:I, s:s}", "verified", res.ok, "file", file, "lines",
                      (json_int_t)res.lines, "last_seq", (json_int_t)res.last_seq, "key_id", kid);
        json_t *fl = json_array();
        for (size_t i = 0; fl != NULL && i < set.n; i++)
            json_array_append_new(fl, json_string(set.paths[i]));
        if (o != NULL) {
            json_object_set_new(o, "files", fl != NULL ? fl : json_null());
            json_object_set_new(o, "first_seq", json_integer((json_int_t)res.first_seq));
        } else {
            json_decref(fl);
        }
        if (o != NULL && !res.ok) {
            json_object_set_new(o, "line", json_integer((json_int_t)sres.file_line));
            json_object_set_new(o, "bad_file", json_string(set.paths[sres.file]));
            json_object_set_new(o, "reason", json_string(res.reason));
        }
        if (o != NULL && json_dumpf(o, stdout, JSON_INDENT(2) | JSON_SORT_KEYS) == 0)
            fputc('\n', stdout);
        json_decref(o);
    } else if (res.ok) {
        printf("%s: verified: %llu lines, sequence %llu..%llu, signed by key %s%s\n", file,
               (unsigned long long)res.lines, (unsigned long long)res.first_seq,
               (unsigned long long)res.last_seq, kid,
               key == NULL && caskey == NULL ? " (taken from the log: pass --cas-key to pin it)"
                                             : "");
        if (res.first_seq > 1)
            printf("note: the log starts at sequence number %llu, continuing a rotated file; "
                   "give the earlier files too to check them\n",
                   (unsigned long long)res.first_seq);
    } else {
        fprintf(stderr, "arca: %s: line %llu: %s\n", set.paths[sres.file],
                (unsigned long long)sres.file_line, res.reason);
    }
    code = res.ok ? ARCA_EXIT_OK : ARCA_EXIT_FAIL;
out:
    arca_key_free(key);
    arca_audit_set_free(&set);
    free(files);
    free(cps);
    return code;
}

/*
 * arca audit rotate --pid PID | --pidfile FILE: the operator's side of rotation. arcad rotates
 * on SIGUSR1 (the signal any local operator tool can send, as for logrotate), so this needs no
 * API and no owner credentials; arcad logs the archived file's name.
 */
static int audit_rotate(int argc, char **argv)
{
    const char *pidfile = NULL, *pidarg = NULL;
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "--pid") == 0 || strcmp(argv[i], "--pidfile") == 0) && i + 1 < argc) {
            if (strcmp(argv[i], "--pid") == 0)
                pidarg = argv[++i];
            else
                pidfile = argv[++i];
        } else {
            return cli_fail(ARCA_EXIT_USAGE, "audit rotate: unexpected argument '%s'", argv[i]);
        }
    }
    if ((pidfile == NULL) == (pidarg == NULL))
        return cli_fail(ARCA_EXIT_USAGE, "audit rotate: give --pid PID or --pidfile FILE");
    char text[32] = {0};
    if (pidfile != NULL) {
        FILE *f = fopen(pidfile, "r");
        if (f == NULL)
            return cli_fail(ARCA_EXIT_FAIL, "audit rotate: %s: %s", pidfile, strerror(errno));
        size_t n = fread(text, 1, sizeof(text) - 1, f);
        fclose(f);
        text[n] = '\0';
        text[strcspn(text, "\r\n")] = '\0';
        pidarg = text;
    }
    char *end = NULL;
    errno = 0;
    long pid = strtol(pidarg, &end, 10);
    if (errno != 0 || end == pidarg || *end != '\0' || pid <= 1)
        return cli_fail(ARCA_EXIT_USAGE, "audit rotate: '%s' is not a process id", pidarg);
    if (kill((pid_t)pid, SIGUSR1) != 0)
        return cli_fail(ARCA_EXIT_FAIL, "audit rotate: process %ld: %s", pid, strerror(errno));
    printf("asked arcad (process %ld) to rotate its audit log; it logs the archived file\n", pid);
    return ARCA_EXIT_OK;
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
    if (strcmp(argv[1], "show") == 0 || strcmp(argv[1], "tail") == 0)
        return audit_show(cli, argc - 1, argv + 1);
    if (strcmp(argv[1], "rotate") == 0)
        return audit_rotate(argc - 1, argv + 1);
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "--help") == 0) {
        audit_usage(stdout);
        return ARCA_EXIT_OK;
    }
    return cli_fail(ARCA_EXIT_USAGE,
                    "audit: unknown subcommand '%s' (try: arca audit verify|show|tail|rotate)",
                    argv[1]);
}
