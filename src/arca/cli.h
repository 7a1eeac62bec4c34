/*
 * The arca CLI (wireguard-tools style: one file per subcommand group, dispatched from main.c).
 *
 * Exit codes (documented in docs/cli.md):
 *   0  success
 *   1  the operation failed or its answer is "no" (invalid policy, denied, not verified, ...)
 *   2  usage error (unknown command or flag, missing argument)
 *   3  could not reach or trust the CAS (network, TLS, pinning)
 */
#ifndef ARCA_CLI_H
#define ARCA_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "base/buf.h"

enum { ARCA_EXIT_OK = 0, ARCA_EXIT_FAIL = 1, ARCA_EXIT_USAGE = 2, ARCA_EXIT_CAS = 3 };

enum arca_output { ARCA_OUTPUT_TEXT = 0, ARCA_OUTPUT_JSON = 1 };

/* Global options, parsed before the group name and passed to every group (no globals). */
struct arca_cli {
    const char *cas;         /* --cas HOST:PORT or $ARCA_CAS; NULL = last attested CAS */
    const char *identity;    /* --identity DIR or $ARCA_IDENTITY; NULL = ~/.config/arca */
    enum arca_output output; /* -o json */
    const char *argv0;
};

/* Each group gets argv starting at its own name (argv[0] = "session"). Returns an exit code. */
int cmd_session(struct arca_cli *cli, int argc, char **argv);
int cmd_self(struct arca_cli *cli, int argc, char **argv);
int cmd_cas(struct arca_cli *cli, int argc, char **argv);
int cmd_audit(struct arca_cli *cli, int argc, char **argv);
int cmd_evidence(struct arca_cli *cli, int argc, char **argv);
int cmd_fspf(struct arca_cli *cli, int argc, char **argv);
int cmd_proposal(struct arca_cli *cli, int argc, char **argv);
int cmd_status(struct arca_cli *cli, int argc, char **argv);

/* Remote session subcommands (session_remote.c), dispatched from cmd_session.c; argv[0] is the
 * subcommand name ("create", ...). */
int session_create(struct arca_cli *cli, int argc, char **argv);
int session_update(struct arca_cli *cli, int argc, char **argv);
int session_read(struct arca_cli *cli, int argc, char **argv);
int session_list(struct arca_cli *cli, int argc, char **argv);
int session_history(struct arca_cli *cli, int argc, char **argv);
int session_verify(struct arca_cli *cli, int argc, char **argv);
/* session_apply.c: create-or-update-or-nothing, and the structural diff against the CAS. */
int session_apply(struct arca_cli *cli, int argc, char **argv);
int session_diff(struct arca_cli *cli, int argc, char **argv);
/* The key id (SHA-256 of the SPKI) of this client's identity certificate (cmd_self.c);
 * ARCA_ERR_NOT_FOUND naming the directory when there is none. */
int cli_self_key_id(const struct arca_cli *cli, uint8_t out[32]);
/* arca session verify NAME (cmd_verify.c): the whole history re-checked offline. */
int session_verify_chain(struct arca_cli *cli, const char *name);
/* GET path from the attested CAS as JSON into *out (session_remote.c; json_decref). */
struct json_t;
int session_get_json(struct arca_cli *cli, const char *path, struct json_t **out);
struct arca_api_versions;
/* The history of name, newest first, into *out (session_remote.c; arca_api_versions_clear). */
int session_get_history(struct arca_cli *cli, const char *name, struct arca_api_versions *out);
/* The key id of the attested CAS the CLI talks to (cmd_sign.c). */
int cli_cas_key_id(const struct arca_cli *cli, uint8_t out[32]);
/* cmd_encrypt.c: encrypted sessions (arca session encrypt, arca cas show
 * --session-encryption-key); pub gets the attested arcad's session-encryption key. */
int session_encrypt(struct arca_cli *cli, int argc, char **argv);
int cas_show_session_key(struct arca_cli *cli);
int cli_session_encryption_key(struct arca_cli *cli, uint8_t pub[32]);
/* arca session sign (cmd_sign.c). */
int session_sign(struct arca_cli *cli, int argc, char **argv);

struct arca_api_version;
/* The active (hash NULL) or given version of name from the CAS into *out (session_remote.c);
 * *malformed (may be NULL) set when the CAS answered but not a version. */
int session_get_version(struct arca_cli *cli, const char *name, const char *hash,
                        struct arca_api_version *out, bool *malformed);
struct arca_session;
/* Loads the session text b (named path in diagnostics, printed to stderr on failure). */
int session_load_local(const char *path, const struct arca_buf *b, struct arca_session **out);
/* Reads a session file (bounded) into b, initialised here as a secret buffer (explicit `value:`s
 * may be in it); free it with arca_buf_free even on failure. */
int session_read_file(const char *path, struct arca_buf *b);
/* POSTs body to /v1/sessions and prints the new version's hash (or -o json the answer); what
 * names the command in errors. Returns an exit code. */
int session_upload(struct arca_cli *cli, const char *what, const void *body, size_t n);
/*
 * Whether the local session text b of file (loaded as *s) is the active version a: a file
 * without predecessor is compared as the next upload of the active version's predecessor
 * would be (*s is then replaced by that load). local gets the local hash under a's creator.
 */
int session_same_as_active(const char *file, const struct arca_buf *b, struct arca_session **s,
                           const struct arca_api_version *a, uint8_t local[32], bool *same);
/* Sets the top-level `predecessor:` of the YAML text in to hash (64 hex), appending to out. */
int session_set_predecessor(const struct arca_buf *in, const char *hash, struct arca_buf *out);

/*
 * Shared option helper for groups: strips "-o FORMAT"/"--output FORMAT"/"-o json" anywhere in
 * argv into cli->output (so `-o json` works everywhere); returns the new argc or -1 on a bad
 * format (message printed).
 */
int cli_take_output_flag(struct arca_cli *cli, int argc, char **argv);

/*
 * GNU-style arguments (cli_opts.c). cli_args_normalize splits every "--flag=value" into
 * "--flag" "value" and "-oVALUE" into "-o" "VALUE" (argv[0] and words after "--" untouched;
 * argv's strings are edited in place) into a new vector *out (free it; the strings stay
 * argv's). Returns the new count, or -1 when out of memory.
 */
int cli_args_normalize(int argc, char **argv, char ***out);
/*
 * Checks argv[1..] against spec, the options a subcommand takes: space-separated words, a
 * trailing '=' marks an option with a value ("--hash= --approvals"). NULL spec: the subcommand
 * checks its own. An unknown option gives "unknown option --foo for 'arca CMD'" (CMD such as
 * "session create") and ARCA_EXIT_USAGE; returns ARCA_EXIT_OK otherwise.
 */
int cli_check_options(const char *cmd, const char *spec, int argc, char **argv);
/* The one of names[0..n) closest to word (a typo: at most two edits), or NULL (borrowed). */
const char *cli_suggest(const char *word, const char *const *names, size_t n);

/* Prints "arca: " + message to stderr; returns code (for `return cli_fail(...)`). */
int cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
