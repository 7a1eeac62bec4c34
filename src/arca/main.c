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
    {"cas", cmd_cas, "attest a CAS (arcad) and pin its key; list, use, forget, show pinned CASes"},
    {"status", cmd_status, "the CAS's version, provisioning, store, sessions, audit head, uptime"},
    {"audit", cmd_audit, "verify, read (show, tail) and rotate the audit log"},
    {"evidence", cmd_evidence, "verify SGX, TDX and SEV-SNP evidence"},
    {"fspf", cmd_fspf, "encrypt a tree into a protected volume; show or decrypt a volume"},
    {"proposal", cmd_proposal, "submit, list, show, approve and reject online proposals"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: arca [--cas HOST:PORT] [--identity DIR] [-o json] COMMAND [ARGS...]\n"
               "       arca help [COMMAND]\n\n"
               "Commands:\n");
    for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
        fprintf(f, "  %-10s %s\n", groups[i].name, groups[i].summary);
    fprintf(f, "\nGlobal options:\n"
               "  --cas HOST:PORT   CAS client API address (default: $ARCA_CAS, else the\n"
               "                    default CAS: `arca cas list`, `arca cas use`)\n"
               "  --identity DIR    client identity directory (default: $ARCA_IDENTITY, else\n"
               "                    ~/.config/arca)\n"
               "  -o json           machine-readable output (also -ojson, --output=json; every\n"
               "                    option takes --flag=value too)\n"
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

/* The group named name, or NULL. */
static const struct group *group_find(const char *name)
{
    for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++)
        if (strcmp(name, groups[g].name) == 0)
            return &groups[g];
    return NULL;
}

/* "unknown command" with the closest group name, after the usage. */
static int unknown_command(const char *word)
{
    const char *names[sizeof(groups) / sizeof(groups[0]) + 1];
    size_t n = 0;
    for (; n < sizeof(groups) / sizeof(groups[0]); n++)
        names[n] = groups[n].name;
    names[n++] = "help";
    const char *hint = cli_suggest(word, names, n);
    usage(stderr);
    if (hint != NULL)
        return cli_fail(ARCA_EXIT_USAGE, "unknown command '%s'; did you mean '%s'?", word, hint);
    return cli_fail(ARCA_EXIT_USAGE, "unknown command '%s'", word);
}

/* arca help [GROUP [SUB...]]: the group's help on stdout (as `arca GROUP --help`). */
static int help_cmd(struct arca_cli *cli, int argc, char **argv)
{
    if (argc < 2) {
        usage(stdout);
        return ARCA_EXIT_OK;
    }
    const struct group *g = group_find(argv[1]);
    if (g == NULL)
        return unknown_command(argv[1]);
    char *v[] = {argv[1], "--help", NULL};
    return g->run(cli, 2, v);
}

static int run_main(int argc, char **argv);

int main(int argc, char **argv)
{
    char **v = NULL;
    int n = cli_args_normalize(argc, argv, &v);
    if (n < 0)
        return cli_fail(ARCA_EXIT_FAIL, "out of memory");
    int ex = run_main(n, v);
    free(v);
    return ex;
}

static int run_main(int argc, char **argv)
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
            return cli_fail(ARCA_EXIT_USAGE, "unknown option %s for 'arca'", a);
        }
    }
    if (i >= argc) {
        usage(stderr);
        return ARCA_EXIT_USAGE;
    }
    if (strcmp(argv[i], "help") == 0)
        return help_cmd(&cli, argc - i, argv + i);
    const struct group *g = group_find(argv[i]);
    if (g == NULL)
        return unknown_command(argv[i]);
    return g->run(&cli, argc - i, argv + i);
}
