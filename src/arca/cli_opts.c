/*
 * GNU-style option handling shared by every command group (cli.h): `--flag=value` and `-oVALUE`
 * are split into two words once, in main, so each subcommand parses only the plain
 * `--flag value` form; unknown options are named against the subcommand's declared options;
 * a mistyped command or subcommand gets the closest known name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"

int cli_args_normalize(int argc, char **argv, char ***out)
{
    /* Each word becomes at most two: 2 * argc + 1 slots bound the new vector. */
    char **v = calloc((size_t)argc * 2 + 1, sizeof(*v));
    if (v == NULL)
        return -1;
    int n = 0;
    bool rest = false; /* after "--" every word is an operand */
    for (int i = 0; i < argc; i++) {
        char *a = argv[i];
        char *eq = strchr(a, '=');
        if (!rest && i > 0 && strcmp(a, "--") == 0) {
            rest = true;
            v[n++] = a;
        } else if (!rest && i > 0 && strncmp(a, "--", 2) == 0 && eq != NULL && eq > a + 2) {
            *eq = '\0'; /* argv is ours to edit: "--flag=value" becomes "--flag" "value" */
            v[n++] = a;
            v[n++] = eq + 1;
        } else if (!rest && i > 0 && strncmp(a, "-o", 2) == 0 && a[2] != '\0') {
            v[n++] = "-o";
            v[n++] = a + 2;
        } else {
            v[n++] = a;
        }
    }
    v[n] = NULL;
    *out = v;
    return n;
}

/* True when opt (a whole word such as "--hash") is in spec; *takes_value when spec lists it as
 * "--hash=". */
static bool spec_has(const char *spec, const char *opt, bool *takes_value)
{
    size_t n = strlen(opt);
    const char *p = spec;
    while (*p != '\0') {
        while (*p == ' ')
            p++;
        size_t len = strcspn(p, " ");
        if (len == 0)
            break;
        bool val = p[len - 1] == '=';
        size_t name_len = val ? len - 1 : len;
        if (name_len == n && memcmp(p, opt, n) == 0) {
            *takes_value = val;
            return true;
        }
        p += len;
    }
    return false;
}

int cli_check_options(const char *cmd, const char *spec, int argc, char **argv)
{
    if (spec == NULL)
        return ARCA_EXIT_OK;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0)
            break;
        if (a[0] != '-' || a[1] == '\0')
            continue;
        bool takes_value = false;
        if (!spec_has(spec, a, &takes_value))
            return cli_fail(ARCA_EXIT_USAGE, "unknown option %s for 'arca %s'", a, cmd);
        if (takes_value) {
            if (i + 1 >= argc)
                return cli_fail(ARCA_EXIT_USAGE, "option %s for 'arca %s' needs a value", a, cmd);
            i++;
        }
    }
    return ARCA_EXIT_OK;
}

/* Levenshtein distance of a and b, both short command names (longer ones count as far). */
static size_t edit_distance(const char *a, const char *b)
{
    enum { MAXLEN = 32 };
    size_t la = strlen(a), lb = strlen(b);
    if (la >= MAXLEN || lb >= MAXLEN)
        return (size_t)-1;
    size_t prev[MAXLEN + 1], cur[MAXLEN + 1];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, sizeof(prev));
    }
    return prev[lb];
}

const char *cli_suggest(const char *word, const char *const *names, size_t n)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    size_t wl = strlen(word);
    for (size_t i = 0; i < n; i++) {
        size_t d = edit_distance(word, names[i]);
        /* A prefix of a name ("sess" for "session") beats any typo: it is what was meant. */
        if (wl >= 3 && strncmp(word, names[i], wl) == 0)
            d = 0;
        if (d < best_d) {
            best_d = d;
            best = names[i];
        }
    }
    /* More than two edits, or half the word, is not a typo of it any more. */
    return best != NULL && best_d <= 2 && best_d * 2 <= wl ? best : NULL;
}
