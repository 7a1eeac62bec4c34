/*
 * arca session: local commands (check, hash) and the dispatch of the remote ones (create,
 * update, read, list, history, verify; session_remote.c).
 */
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/enc.h"
#include "base/err.h"
#include "cas/cas.h"
#include "cli.h"
#include "client.h"
#include "policy/session.h"

static void session_usage(FILE *f)
{
    fprintf(f, "usage: arca session COMMAND [ARGS...] [-o json]\n\n"
               "Local commands (no CAS needed):\n"
               "  check FILE...                 validate session files; every error is listed as\n"
               "                                FILE:LINE:COL: key.path: message\n"
               "  hash [--creator-key HEX64 | --self] FILE\n"
               "                                print the canonical session hash (64 hex); the\n"
               "                                creator key id defaults to all zeros; --self:\n"
               "                                this client's key (the hash `create` returns)\n\n"
               "Commands talking to a CAS (after `arca self keygen` and `arca cas attest`):\n"
               "  create FILE                   upload a new session (FILE has no predecessor)\n"
               "  apply FILE                    create or update; nothing (no new version) when\n"
               "                                the CAS has this text already\n"
               "  diff FILE                     what `apply FILE` would change (structural;\n"
               "                                secret values never shown); exit 1 if any\n"
               "  update FILE                   upload FILE as the next version: its predecessor\n"
               "                                is set to the active version's hash\n"
               "  read NAME [--hash HASH]       print the active (or the given) version, without\n"
               "                                secret values\n"
               "  list [PREFIX | --prefix PREFIX] [--page-size N]\n"
               "                                list the sessions you may list (every page;\n"
               "                                N per request, default 1000)\n"
               "  history NAME                  list the versions of NAME, newest first\n"
               "  verify FILE                   check that FILE is the active version of its\n"
               "                                session (same canonical hash)\n"
               "  verify NAME                   re-check the whole history of NAME offline:\n"
               "                                predecessor links, hashes where the text is\n"
               "                                complete, approvals against the rule of the\n"
               "                                version before (an existing file is a FILE)\n"
               "  encrypt FILE [--out OUT]      encrypt FILE to the attested CAS's session-\n"
               "                                encryption key (upload: PUT\n"
               "                                /v1/encrypted_sessions)\n"
               "  sign FILE --key KEY.pem       print FILE (a session or a signed session) as a\n"
               "                                signed session with KEY's approval added\n"
               "  sign FILE message --signer PUB.pem\n"
               "                                write the 32-byte approval message to stdout\n"
               "  sign FILE add-signature --signer PUB.pem SIG\n"
               "                                add an external signature (base64 or a file)\n"
               "  create|update SIGNED.json     upload a signed session (docs/governance.md)\n\n"
               "Options: -o json (anywhere) for machine-readable output; --help after any\n"
               "command shows this help.\n"
               "Exit codes: 0 success/valid, 1 invalid, failed or not verified, 2 usage,\n"
               "3 CAS unreachable or untrusted.\n");
}

/* s as a JSON string; text that is not UTF-8 (a file name, say) is replaced, not dropped. */
static json_t *jstr(const char *s)
{
    json_t *j = json_string(s);
    return j != NULL ? j : json_string("(not UTF-8)");
}

/* One error of `session check -o json`. */
static json_t *check_error(unsigned line, unsigned col, const char *path, const char *msg)
{
    return json_pack("{s:i, s:i, s:o, s:o}", "line", (int)line, "col", (int)col, "path",
                     jstr(path ? path : ""), "message", jstr(msg));
}

/* What arcad would refuse on create of s that depends on s alone (arca_cas_session_check_static
 * with arcad's default limits; creator: the session's `creator:`, else self, else unchecked). */
static int server_refusal(const struct arca_session *s, const uint8_t *self)
{
    struct arca_secrets_limits lim;
    arca_secrets_limits_default(&lim);
    return arca_cas_session_check_static(&lim, s, s->has_creator ? s->creator.key_id : self);
}

static int session_check(struct arca_cli *cli, int argc, char **argv)
{
    if (argc < 2)
        return cli_fail(ARCA_EXIT_USAGE, "session check needs at least one FILE");
    int status = ARCA_EXIT_OK;
    bool json = cli->output == ARCA_OUTPUT_JSON;
    /* The creator a create by this client would have; without an identity those rules are not
     * checked. */
    uint8_t self_id[32];
    const uint8_t *self = cli_self_key_id(cli, self_id) == 0 ? self_id : NULL;
    arca_err_clear();
    json_t *all = json ? json_array() : NULL;
    for (int i = 1; i < argc; i++) {
        struct arca_diag diag;
        struct arca_session *s = NULL;
        arca_diag_init(&diag);
        int rc = arca_session_load_file(argv[i], &s, &diag);
        char refused[ARCA_ERR_DETAIL_MAX] = "";
        if (rc == 0 && (rc = server_refusal(s, self)) < 0)
            snprintf(refused, sizeof(refused), "%s", arca_err_detail());
        if (rc == ARCA_ERR_ALLOC) {
            arca_diag_free(&diag);
            json_decref(all);
            return cli_fail(ARCA_EXIT_FAIL, "out of memory");
        }
        if (rc < 0)
            status = ARCA_EXIT_FAIL;
        if (json) {
            json_t *errs = json_array();
            for (size_t j = 0; j < diag.n; j++)
                json_array_append_new(errs, check_error(diag.v[j].line, diag.v[j].col,
                                                        diag.v[j].path, diag.v[j].msg));
            if (refused[0] != '\0')
                json_array_append_new(errs, check_error(0, 0, "", refused));
            json_array_append_new(all, json_pack("{s:o, s:b, s:o}", "file", jstr(argv[i]), "valid",
                                                 rc == 0, "errors", errs));
        } else if (rc < 0) {
            struct arca_buf out;
            arca_buf_init(&out, 0);
            if (arca_diag_format(&diag, &out) == 0)
                fputs(arca_buf_cstr(&out), stderr);
            if (refused[0] != '\0')
                fprintf(stderr, "%s: refused on create: %s\n", argv[i], refused);
            else if (diag.n == 0)
                fprintf(stderr, "%s: invalid (%s)\n", argv[i], arca_strerror(rc));
            arca_buf_free(&out);
        } else {
            printf("%s: ok\n", argv[i]);
        }
        arca_session_free(s);
        arca_diag_free(&diag);
    }
    if (json)
        cli_print_json(all);
    json_decref(all);
    return status;
}

static int session_hash_cmd(struct arca_cli *cli, int argc, char **argv)
{
    uint8_t creator[32] = {0};
    bool creator_given = false;
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--creator-key") == 0) {
            if (i + 1 >= argc)
                return cli_fail(ARCA_EXIT_USAGE, "--creator-key needs 64 hex characters");
            const char *h = argv[++i];
            if (strlen(h) != 64 || arca_hex_decode_fixed(creator, 32, h, 64) < 0)
                return cli_fail(ARCA_EXIT_USAGE,
                                "--creator-key: expected 64 hex characters (a key id)");
            creator_given = true;
        } else if (strcmp(argv[i], "--self") == 0) {
            if (cli_self_key_id(cli, creator) < 0)
                return cli_fail(ARCA_EXIT_FAIL, "session hash --self: %s", arca_err_detail());
            creator_given = true;
        } else if (argv[i][0] == '-' && argv[i][1] != 0) {
            return cli_fail(ARCA_EXIT_USAGE, "session hash: unknown option '%s'", argv[i]);
        } else if (file != NULL) {
            return cli_fail(ARCA_EXIT_USAGE, "session hash takes one FILE");
        } else {
            file = argv[i];
        }
    }
    if (file == NULL)
        return cli_fail(ARCA_EXIT_USAGE, "session hash needs a FILE");
    struct arca_diag diag;
    struct arca_session *s = NULL;
    arca_diag_init(&diag);
    int rc = arca_session_load_file_for_hash(file, &s, &diag);
    if (rc < 0) {
        struct arca_buf out;
        arca_buf_init(&out, 0);
        if (arca_diag_format(&diag, &out) == 0)
            fputs(arca_buf_cstr(&out), stderr);
        arca_buf_free(&out);
        arca_diag_free(&diag);
        return ARCA_EXIT_FAIL;
    }
    arca_diag_free(&diag);
    uint8_t h[32];
    if (s->has_creator && !creator_given) /* the session says who its creator is */
        memcpy(creator, s->creator.key_id, 32);
    rc = arca_session_hash(s, creator, h);
    arca_session_free(s);
    if (rc < 0)
        return cli_fail(ARCA_EXIT_FAIL, "cannot hash the session: %s", arca_err_detail());
    char hex[65];
    arca_hex_fmt(hex, h, 32);
    if (cli->output == ARCA_OUTPUT_JSON) {
        json_t *j = json_pack("{s:o, s:s}", "file", jstr(file), "hash", hex);
        cli_print_json(j);
        json_decref(j);
    } else
        printf("%s\n", hex);
    return ARCA_EXIT_OK;
}

int cmd_session(struct arca_cli *cli, int argc, char **argv)
{
    static const struct cli_sub subs[] = {
        {"check", session_check, ""},
        {"hash", session_hash_cmd, "--creator-key= --self"},
        {"create", session_create, ""},
        {"update", session_update, ""},
        {"read", session_read, "--hash="},
        {"list", session_list, "--prefix= --page-size="},
        {"history", session_history, "--approvals"},
        {"verify", session_verify, ""},
        {"encrypt", session_encrypt, "--out="},
        {"sign", session_sign, "--key= --signer="},
        {"apply", session_apply, ""},
        {"diff", session_diff, ""},
    };
    return cli_dispatch(cli, subs, sizeof(subs) / sizeof(subs[0]), session_usage, argc, argv);
}
