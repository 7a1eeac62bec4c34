/* arca: the command-line client. See `arca --help` and docs/cli.md. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/json.h"
#include "cli.h"

struct group {
    const char *name;
    int (*run)(struct arca_cli *cli, int argc, char **argv);
    const char *summary;
};

static const struct group groups[] = {
    {"session", cmd_session, "check, hash, create, update, read, list, history, verify sessions"},
    {"self", cmd_self, "create and show this client's identity (key pair and certificate)"},
    {"cas", cmd_cas, "attest a CAS (arcad) and pin its key; show the pinned CAS"},
    {"audit", cmd_audit, "verify, read (show, tail) and rotate the audit log"},
    {"evidence", cmd_evidence, "verify SGX, TDX and SEV-SNP evidence"},
    {"fspf", cmd_fspf, "encrypt a tree into a protected volume; show or decrypt a volume"},
    {"proposal", cmd_proposal, "submit, list, show, approve and reject online proposals"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: arca [--cas HOST:PORT] [--identity DIR] [-o json] COMMAND [ARGS...]\n\n"
               "Commands:\n");
    for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
        fprintf(f, "  %-10s %s\n", groups[i].name, groups[i].summary);
    fprintf(f, "\nGlobal options:\n"
               "  --cas HOST:PORT   CAS client API address (default: $ARCA_CAS, else the last\n"
               "                    attested CAS)\n"
               "  --identity DIR    client identity directory (default: $ARCA_IDENTITY, else\n"
               "                    ~/.config/arca)\n"
               "  -o json           machine-readable output\n"
               "  -h, --help        this help; `arca COMMAND --help` for a command\n"
               "  --version         print the version\n\n"
               "Exit codes: 0 success, 1 failed or invalid, 2 usage error, 3 CAS unreachable or\n"
               "untrusted.\n");
}

int cli_fail(int code, const char *fmt, ...)
{
    va_list ap;
    fputs("arca: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

int cli_take_output_flag(struct arca_cli *cli, int argc, char **argv)
{
    int out = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            if (i + 1 >= argc) {
                cli_fail(ARCA_EXIT_USAGE, "%s needs a format (json or text)", a);
                return -1;
            }
            val = argv[++i];
        } else if (strncmp(a, "--output=", 9) == 0) {
            val = a + 9;
        } else {
            argv[out++] = argv[i];
            continue;
        }
        if (strcmp(val, "json") == 0)
            cli->output = ARCA_OUTPUT_JSON;
        else if (strcmp(val, "text") == 0)
            cli->output = ARCA_OUTPUT_TEXT;
        else {
            cli_fail(ARCA_EXIT_USAGE, "unknown output format '%s' (use json or text)", val);
            return -1;
        }
    }
    argv[out] = NULL;
    return out;
}

int main(int argc, char **argv)
{
    /* A CAS closing the TLS connection mid-write must give exit code 3 with a message, not a
     * silent death by SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    arca_json_wipe_on_free(); /* answers and pinned-CAS data pass through jansson */
    struct arca_cli cli = {.cas = getenv("ARCA_CAS"),
                           .identity = getenv("ARCA_IDENTITY"),
                           .output = ARCA_OUTPUT_TEXT,
                           .argv0 = argv[0]};
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return ARCA_EXIT_OK;
        } else if (strcmp(a, "--version") == 0) {
            printf("arca %s\n", ARCA_VERSION);
            return ARCA_EXIT_OK;
        } else if ((strcmp(a, "--cas") == 0 || strcmp(a, "--identity") == 0 ||
                    strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0)) {
            if (i + 1 >= argc)
                return cli_fail(ARCA_EXIT_USAGE, "%s needs a value", a);
            const char *v = argv[++i];
            if (strcmp(a, "--cas") == 0)
                cli.cas = v;
            else if (strcmp(a, "--identity") == 0)
                cli.identity = v;
            else if (strcmp(v, "json") == 0)
                cli.output = ARCA_OUTPUT_JSON;
            else if (strcmp(v, "text") != 0)
                return cli_fail(ARCA_EXIT_USAGE, "unknown output format '%s' (use json or text)",
                                v);
        } else {
            usage(stderr);
            return cli_fail(ARCA_EXIT_USAGE, "unknown option '%s'", a);
        }
    }
    if (i >= argc) {
        usage(stderr);
        return ARCA_EXIT_USAGE;
    }
    for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++)
        if (strcmp(argv[i], groups[g].name) == 0)
            return groups[g].run(&cli, argc - i, argv + i);
    usage(stderr);
    return cli_fail(ARCA_EXIT_USAGE, "unknown command '%s'", argv[i]);
}
