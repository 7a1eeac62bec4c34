/*
 * arca fspf encrypt SRC DST [--key HEX] [--chunk-size N] [--jobs N] [--envar-output] [-o json]
 * arca fspf show DIR [--key HEX --tag HEX] [-o json]
 * arca fspf decrypt DIR DST [--key HEX] [--tag HEX] [--jobs N] [-o json]
 *
 * Protected volumes (src/lib/volume, docs/volumes.md) from the command line: encrypt a tree and
 * print the key and root tag a policy names as fspf_key / fspf_tag, list a volume's manifest,
 * and decrypt a volume for its key holder. Exit 0 ok, 1 failed (refused, I/O), 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "base/enc.h"
#include "base/err.h"
#include "base/time.h"
#include "cli.h"
#include "volume/volume.h"

#define ENV_KEY "SCONE_FSPF_KEY"
#define ENV_TAG "SCONE_FSPF_TAG"
/* Below this a tree is done before a bar would be worth drawing. */
#define BAR_MIN_FILES 1000
#define BAR_MIN_BYTES ((uint64_t)64 << 20)

static void fspf_usage(FILE *f)
{
    fprintf(f,
            "usage: arca fspf encrypt SRC DST [--key HEX] [--chunk-size BYTES] [--jobs N]\n"
            "                 [--envar-output] [-o json]\n"
            "       arca fspf show DIR [--key HEX --tag HEX] [-o json]\n"
            "       arca fspf decrypt DIR DST [--key HEX] [--tag HEX] [--jobs N] [-o json]\n\n"
            "Protected volumes: every file AES-256-GCM encrypted in chunks, with an authenticated\n"
            "manifest (DIR/volume.fspf) whose root tag is the policy's fspf_tag.\n"
            "  encrypt   encrypt the tree SRC into the new (or empty) directory DST; prints the\n"
            "            volume key (fspf_key, generated unless --key) and root tag (fspf_tag)\n"
            "  show      list the manifest (paths, types, modes, sizes) without any content;\n"
            "            with --key and --tag the volume is verified first\n"
            "  decrypt   verify DIR and decrypt it into the new (or empty) directory DST\n"
            "--key HEX         64 hex digits (default for show/decrypt: $" ENV_KEY ")\n"
            "--tag HEX         32 hex digits, the expected root tag (default: $" ENV_TAG ")\n"
            "--chunk-size N    bytes per chunk, a power of two from 4096 to 16777216\n"
            "                  (default 65536)\n"
            "--jobs N          worker threads, 1 to 16 (default: one per online CPU)\n"
            "--envar-output    print only " ENV_KEY "=... and " ENV_TAG "=... lines\n"
            "A progress bar goes to stderr when it is a terminal and the tree is large.\n"
            "Exit status: 0 ok, 1 failed or refused, 2 usage error.\n");
}

/* ---- progress bar ------------------------------------------------------------------------- */

struct bar {
    bool on;
    bool drawn;
    int64_t last_ms;
};

static void bar_draw(const struct arca_volume_progress *p, void *arg)
{
    struct bar *b = arg;
    if (!b->on || (p->files_total < BAR_MIN_FILES && p->bytes_total < BAR_MIN_BYTES))
        return;
    int64_t now = arca_time_mono_ms();
    bool end = p->files_done == p->files_total;
    if (!end && b->drawn && now - b->last_ms < 100)
        return;
    b->last_ms = now;
    b->drawn = true;
    double frac = p->bytes_total > 0   ? (double)p->bytes_done / (double)p->bytes_total
                  : p->files_total > 0 ? (double)p->files_done / (double)p->files_total
                                       : 1.0;
    if (frac > 1.0)
        frac = 1.0;
    char cells[31];
    int full = (int)(frac * 30.0);
    for (int i = 0; i < 30; i++)
        cells[i] = i < full ? '#' : '.';
    cells[30] = '\0';
    fprintf(stderr, "\r[%s] %3d%%  %llu/%llu files  %.1f/%.1f MiB", cells, (int)(frac * 100.0),
            (unsigned long long)p->files_done, (unsigned long long)p->files_total,
            (double)p->bytes_done / 1048576.0, (double)p->bytes_total / 1048576.0);
    fflush(stderr);
}

static void bar_end(struct bar *b)
{
    if (b->drawn)
        fputc('\n', stderr);
    b->drawn = false;
}

/* ---- helpers ------------------------------------------------------------------------------ */

/* Decodes a hex value of n bytes from the flag or, if none, the environment variable. */
static int take_hex(const char *flag_val, const char *env, uint8_t *out, size_t n, const char *what)
{
    const char *v = flag_val != NULL ? flag_val : getenv(env);
    if (v == NULL)
        return cli_fail(ARCA_EXIT_USAGE, "fspf: %s needed (--%s HEX or $%s)", what, what, env);
    if (arca_hex_decode_fixed(out, n, v, strlen(v)) < 0)
        return cli_fail(ARCA_EXIT_USAGE, "fspf: the %s must be %zu hex digits", what, 2 * n);
    return 0;
}

static void print_json(json_t *o)
{
    if (o != NULL && json_dumpf(o, stdout, JSON_INDENT(2) | JSON_SORT_KEYS) == 0)
        fputc('\n', stdout);
    json_decref(o);
}

struct args {
    const char *pos[2];
    int npos;
    const char *key;
    const char *tag;
    const char *chunk;
    const char *jobs;
    bool envar;
};

/* Parses SUB's flags and positionals; returns -1 after printing help (exit 0), or an exit
 * code > 0 on a usage error, or 0. */
static int parse_args(const char *sub, int argc, char **argv, int want_pos, bool encrypt,
                      struct args *a)
{
    memset(a, 0, sizeof(*a));
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        bool valued = strcmp(s, "--key") == 0 || strcmp(s, "--tag") == 0 ||
                      strcmp(s, "--jobs") == 0 || (encrypt && strcmp(s, "--chunk-size") == 0);
        if (valued && i + 1 >= argc)
            return cli_fail(ARCA_EXIT_USAGE, "fspf %s: %s needs a value", sub, s);
        if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
            fspf_usage(stdout);
            return -1;
        } else if (strcmp(s, "--key") == 0) {
            a->key = argv[++i];
        } else if (strcmp(s, "--tag") == 0 && !encrypt) {
            a->tag = argv[++i];
        } else if (strcmp(s, "--jobs") == 0 && strcmp(sub, "show") != 0) {
            a->jobs = argv[++i];
        } else if (encrypt && strcmp(s, "--chunk-size") == 0) {
            a->chunk = argv[++i];
        } else if (encrypt && strcmp(s, "--envar-output") == 0) {
            a->envar = true;
        } else if (s[0] == '-' && s[1] != '\0') {
            return cli_fail(ARCA_EXIT_USAGE, "unknown option %s for 'arca fspf %s'", s, sub);
        } else if (a->npos < want_pos) {
            a->pos[a->npos++] = s;
        } else {
            return cli_fail(ARCA_EXIT_USAGE, "fspf %s: unexpected argument '%s'", sub, s);
        }
    }
    if (a->npos < want_pos) {
        fspf_usage(stderr);
        return cli_fail(ARCA_EXIT_USAGE, "fspf %s: needs %s", sub,
                        want_pos == 2 ? "two directories" : "a directory");
    }
    return 0;
}

/* --jobs into opts->jobs (0 if not given: the library's default). */
static int parse_jobs(const char *sub, const struct args *a, struct arca_volume_opts *opts)
{
    if (a->jobs == NULL)
        return 0;
    char *end = NULL;
    unsigned long v = strtoul(a->jobs, &end, 10);
    if (end == a->jobs || *end != '\0' || v < 1 || v > 16)
        return cli_fail(ARCA_EXIT_USAGE, "fspf %s: --jobs '%s' is not a number from 1 to 16", sub,
                        a->jobs);
    opts->jobs = (unsigned)v;
    return 0;
}

/* ---- encrypt ------------------------------------------------------------------------------ */

static int fspf_encrypt(struct arca_cli *cli, int argc, char **argv)
{
    struct args a;
    int u = parse_args("encrypt", argc, argv, 2, true, &a);
    if (u != 0)
        return u < 0 ? ARCA_EXIT_OK : u;
    if (a.envar && cli->output == ARCA_OUTPUT_JSON)
        return cli_fail(ARCA_EXIT_USAGE, "fspf encrypt: --envar-output and -o json exclude "
                                         "each other");
    struct arca_volume_opts opts = {0};
    if ((u = parse_jobs("encrypt", &a, &opts)) != 0)
        return u;
    if (a.chunk != NULL) {
        char *end = NULL;
        unsigned long v = strtoul(a.chunk, &end, 10);
        if (end == a.chunk || *end != '\0' || v < ARCA_VOLUME_CHUNK_MIN ||
            v > ARCA_VOLUME_CHUNK_MAX || (v & (v - 1)) != 0)
            return cli_fail(ARCA_EXIT_USAGE,
                            "fspf encrypt: --chunk-size '%s' is not a power of two in %u..%u",
                            a.chunk, ARCA_VOLUME_CHUNK_MIN, ARCA_VOLUME_CHUNK_MAX);
        opts.chunk_size = (uint32_t)v;
    }
    uint8_t given[ARCA_VOLUME_KEY_LEN], key[ARCA_VOLUME_KEY_LEN], tag[ARCA_VOLUME_TAG_LEN];
    if (a.key != NULL && arca_hex_decode_fixed(given, sizeof(given), a.key, strlen(a.key)) < 0)
        return cli_fail(ARCA_EXIT_USAGE, "fspf encrypt: the key must be 64 hex digits");
    struct bar bar = {.on = isatty(STDERR_FILENO) == 1};
    opts.progress = bar_draw;
    opts.progress_arg = &bar;
    struct arca_volume_stats st;
    int rc = arca_volume_encrypt_tree(a.pos[0], a.pos[1], a.key != NULL ? given : NULL, &opts, key,
                                      tag, &st);
    bar_end(&bar);
    arca_wipe(given, sizeof(given));
    if (rc < 0)
        return cli_fail(ARCA_EXIT_FAIL, "fspf encrypt: %s", arca_err_detail());
    char khex[2 * ARCA_VOLUME_KEY_LEN + 1], thex[2 * ARCA_VOLUME_TAG_LEN + 1];
    arca_hex_fmt(khex, key, sizeof(key));
    arca_hex_fmt(thex, tag, sizeof(tag));
    arca_wipe(key, sizeof(key));
    if (a.envar) {
        printf(ENV_KEY "=%s\n" ENV_TAG "=%s\n", khex, thex);
    } else if (cli->output == ARCA_OUTPUT_JSON) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "volume", a.pos[1], "key", khex,
                              "tag", thex, "files", (json_int_t)st.files, "directories",
                              (json_int_t)st.dirs, "bytes", (json_int_t)st.bytes);
        print_json(o);
    } else {
        printf("volume %s: %llu files, %llu directories, %llu bytes\n"
               "fspf_key: %s\nfspf_tag: %s\n",
               a.pos[1], (unsigned long long)st.files, (unsigned long long)st.dirs,
               (unsigned long long)st.bytes, khex, thex);
    }
    fflush(stdout);
    arca_wipe(khex, sizeof(khex));
    return ARCA_EXIT_OK;
}

/* ---- show --------------------------------------------------------------------------------- */

static void mode_text(char out[11], enum arca_volume_type t, uint32_t mode)
{
    static const char rwx[] = "rwxrwxrwx";
    out[0] = t == ARCA_VOLUME_DIR ? 'd' : '-';
    for (int i = 0; i < 9; i++)
        out[1 + i] = (mode & (1u << (8 - i))) ? rwx[i] : '-';
    out[10] = '\0';
}

static int show_json(const char *dir, const struct arca_volume_manifest *m, bool verified,
                     const struct arca_volume_stats *st)
{
    char hex[2 * ARCA_VOLUME_FILE_TAG_LEN + 1], mode[8];
    json_t *list = json_array();
    for (size_t i = 0; list != NULL && i < m->count; i++) {
        const struct arca_volume_entry *e = &m->entries[i];
        json_t *path = json_stringn(e->path, e->path_len);
        if (path == NULL) {
            json_decref(list);
            return cli_fail(ARCA_EXIT_FAIL, "fspf show: a path is not UTF-8 (use text output)");
        }
        snprintf(mode, sizeof(mode), "0%03o", e->mode);
        json_t *o = json_pack("{s:o, s:s, s:s}", "path", path, "type",
                              e->type == ARCA_VOLUME_DIR ? "directory" : "file", "mode", mode);
        if (o != NULL && e->type == ARCA_VOLUME_FILE) {
            arca_hex_fmt(hex, e->file_tag, sizeof(e->file_tag));
            json_object_set_new(o, "size", json_integer((json_int_t)e->size));
            json_object_set_new(o, "file_tag", json_string(hex));
        }
        json_array_append_new(list, o);
    }
    arca_hex_fmt(hex, m->root_tag, sizeof(m->root_tag));
    snprintf(mode, sizeof(mode), "0%03o", m->root_mode);
    json_t *o = json_pack("{s:s, s:i, s:I, s:s, s:s, s:b, s:I, s:I, s:I, s:o}", "volume", dir,
                          "format", (int)m->format, "chunk_size", (json_int_t)m->chunk_size,
                          "root_mode", mode, "root_tag", hex, "verified", verified, "files",
                          (json_int_t)st->files, "directories", (json_int_t)st->dirs, "bytes",
                          (json_int_t)st->bytes, "entries", list);
    print_json(o);
    return ARCA_EXIT_OK;
}

static int fspf_show(struct arca_cli *cli, int argc, char **argv)
{
    struct args a;
    int u = parse_args("show", argc, argv, 1, false, &a);
    if (u != 0)
        return u < 0 ? ARCA_EXIT_OK : u;
    if ((a.key == NULL) != (a.tag == NULL))
        return cli_fail(ARCA_EXIT_USAGE, "fspf show: give --key and --tag together, or neither");
    uint8_t key[ARCA_VOLUME_KEY_LEN], tag[ARCA_VOLUME_TAG_LEN];
    bool verify = a.key != NULL;
    if (verify && (take_hex(a.key, ENV_KEY, key, sizeof(key), "key") != 0 ||
                   take_hex(a.tag, ENV_TAG, tag, sizeof(tag), "tag") != 0)) {
        arca_wipe(key, sizeof(key));
        return ARCA_EXIT_USAGE;
    }
    struct arca_volume_manifest *m = NULL;
    int rc = arca_volume_show(a.pos[0], verify ? key : NULL, verify ? tag : NULL, &m);
    arca_wipe(key, sizeof(key));
    if (rc < 0)
        return cli_fail(ARCA_EXIT_FAIL, "fspf show: %s", arca_err_detail());
    struct arca_volume_stats st = {0};
    for (size_t i = 0; i < m->count; i++) {
        if (m->entries[i].type == ARCA_VOLUME_FILE) {
            st.files++;
            st.bytes += m->entries[i].size;
        } else {
            st.dirs++;
        }
    }
    int code = ARCA_EXIT_OK;
    if (cli->output == ARCA_OUTPUT_JSON) {
        code = show_json(a.pos[0], m, verify, &st);
    } else {
        char hex[2 * ARCA_VOLUME_TAG_LEN + 1], mode[11];
        arca_hex_fmt(hex, m->root_tag, sizeof(m->root_tag));
        printf("volume %s: format %u, chunk size %u, %llu files, %llu directories, %llu bytes\n"
               "root tag: %s (%s)\n",
               a.pos[0], m->format, m->chunk_size, (unsigned long long)st.files,
               (unsigned long long)st.dirs, (unsigned long long)st.bytes, hex,
               verify ? "verified with the given key and tag"
                      : "NOT verified: pass --key and --tag to check the volume");
        for (size_t i = 0; i < m->count; i++) {
            const struct arca_volume_entry *e = &m->entries[i];
            mode_text(mode, e->type, e->mode);
            if (e->type == ARCA_VOLUME_FILE)
                printf("%s %12llu  %s\n", mode, (unsigned long long)e->size, e->path);
            else
                printf("%s %12s  %s/\n", mode, "", e->path);
        }
    }
    arca_volume_manifest_free(m);
    return code;
}

/* ---- decrypt ------------------------------------------------------------------------------ */

static int fspf_decrypt(struct arca_cli *cli, int argc, char **argv)
{
    struct args a;
    int u = parse_args("decrypt", argc, argv, 2, false, &a);
    if (u != 0)
        return u < 0 ? ARCA_EXIT_OK : u;
    uint8_t key[ARCA_VOLUME_KEY_LEN], tag[ARCA_VOLUME_TAG_LEN];
    if (take_hex(a.key, ENV_KEY, key, sizeof(key), "key") != 0 ||
        take_hex(a.tag, ENV_TAG, tag, sizeof(tag), "tag") != 0) {
        arca_wipe(key, sizeof(key));
        return ARCA_EXIT_USAGE;
    }
    struct bar bar = {.on = isatty(STDERR_FILENO) == 1};
    struct arca_volume_opts opts = {.progress = bar_draw, .progress_arg = &bar};
    if ((u = parse_jobs("decrypt", &a, &opts)) != 0)
        return u;
    struct arca_volume_stats st;
    int rc = arca_volume_decrypt_tree(a.pos[0], key, tag, a.pos[1], &opts, &st);
    bar_end(&bar);
    arca_wipe(key, sizeof(key));
    if (rc < 0)
        return cli_fail(ARCA_EXIT_FAIL, "fspf decrypt: %s", arca_err_detail());
    if (cli->output == ARCA_OUTPUT_JSON) {
        print_json(json_pack("{s:s, s:s, s:b, s:I, s:I, s:I}", "volume", a.pos[0], "destination",
                             a.pos[1], "verified", 1, "files", (json_int_t)st.files, "directories",
                             (json_int_t)st.dirs, "bytes", (json_int_t)st.bytes));
    } else {
        printf("volume %s verified and decrypted into %s: %llu files, %llu directories, %llu "
               "bytes\n",
               a.pos[0], a.pos[1], (unsigned long long)st.files, (unsigned long long)st.dirs,
               (unsigned long long)st.bytes);
    }
    return ARCA_EXIT_OK;
}

int cmd_fspf(struct arca_cli *cli, int argc, char **argv)
{
    argc = cli_take_output_flag(cli, argc, argv);
    if (argc < 0)
        return ARCA_EXIT_USAGE;
    if (argc < 2) {
        fspf_usage(stderr);
        return ARCA_EXIT_USAGE;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "encrypt") == 0)
        return fspf_encrypt(cli, argc - 1, argv + 1);
    if (strcmp(sub, "show") == 0)
        return fspf_show(cli, argc - 1, argv + 1);
    if (strcmp(sub, "decrypt") == 0)
        return fspf_decrypt(cli, argc - 1, argv + 1);
    if (strcmp(sub, "help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
        fspf_usage(stdout);
        return ARCA_EXIT_OK;
    }
    return cli_fail(ARCA_EXIT_USAGE, "fspf: unknown subcommand '%s' (try: encrypt, show, decrypt)",
                    sub);
}
