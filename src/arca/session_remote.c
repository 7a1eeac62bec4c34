/*
 * arca session create|update|read|list|history|verify: the remote session commands over the
 * client API (docs/cli.md). Dispatched by cli_dispatch from cmd_session.c with argv[0] = the
 * subcommand, -o/--output and --help already taken.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>
#include <jansson.h>

#include "api/client_api.h"
#include "base/enc.h"
#include "base/err.h"
#include "base/time.h"
#include "client.h"
#include "crypto/crypto.h"
#include "govern/signed_session.h"
#include "policy/session.h"

static int fail_rc(const char *what, int rc)
{
    return cli_fail(arca_client_exit_code(rc), "%s: %s", what, arca_err_detail());
}

/* Reads a session file (bounded) into b, a secret buffer: explicit `value:`s may be in it. */
int session_read_file(const char *path, struct arca_buf *b)
{
    arca_buf_init_secret(b, ARCA_SESSION_MAX_BYTES);
    return cli_file_read(path, b);
}

/* Loads the YAML to learn the session name and report errors locally before uploading. */
int session_load_local(const char *path, const struct arca_buf *b, struct arca_session **out)
{
    struct arca_diag d;
    arca_diag_init(&d);
    int rc = arca_session_load((const char *)b->data, b->len, path, out, &d);
    if (rc < 0) {
        struct arca_buf msg;
        arca_buf_init(&msg, 0);
        arca_diag_format(&d, &msg);
        fprintf(stderr, "%s", arca_buf_cstr(&msg));
        arca_buf_free(&msg);
    }
    arca_diag_free(&d);
    return rc;
}

/* Prints an answer re-encoded from its wire struct (j stolen): -o json shows what the CAS
 * answered, through the one mapping of api/client_api.h. */
static void print_answer(json_t *j)
{
    if (j != NULL)
        cli_print_json(j);
    json_decref(j);
}

int session_upload(struct arca_cli *cli, const char *what, const void *body, size_t n)
{
    struct arca_client *c = NULL;
    json_t *a = NULL;
    struct arca_api_version v;
    memset(&v, 0, sizeof(v));
    long status = 0;
    int rc = arca_client_open(cli, true, &c);
    if (rc == 0)
        rc = arca_client_json(c, "POST", "/v1/sessions", body, n, &status, &a);
    arca_client_free(c);
    if (rc == 0)
        rc = arca_api_version_from_json(a, ARCA_API_VERSION_UPLOADED, &v);
    json_decref(a);
    if (rc < 0)
        return fail_rc(what, rc);
    if (cli->output == ARCA_OUTPUT_JSON) {
        print_answer(arca_api_version_to_json(&v, ARCA_API_VERSION_UPLOADED));
    } else {
        char h[65];
        arca_hex_fmt(h, v.hash, 32);
        printf("%s\n", h);
    }
    arca_api_version_clear(&v);
    return ARCA_EXIT_OK;
}

/* The single FILE argument of create/update/verify (--help is handled by cli_dispatch). */
static int one_file_arg(int argc, char **argv, const char *cmd, const char **file)
{
    if (argc != 2 || argv[1][0] == '-')
        return cli_fail(ARCA_EXIT_USAGE, "usage: arca session %s FILE [-o json]", cmd);
    *file = argv[1];
    return ARCA_EXIT_OK;
}

int session_create(struct arca_cli *cli, int argc, char **argv)
{
    const char *file = NULL;
    int u = one_file_arg(argc, argv, "create", &file);
    if (u != ARCA_EXIT_OK)
        return u;
    struct arca_buf b;
    int rc = session_read_file(file, &b);
    struct arca_session *s = NULL;
    if (rc < 0) {
        arca_buf_free(&b);
        return cli_fail(ARCA_EXIT_FAIL, "session create: %s", arca_err_detail());
    }
    if (arca_signed_session_detect(b.data, b.len)) { /* arca session sign's output */
        rc = session_upload(cli, "session create", b.data, b.len);
        arca_buf_free(&b);
        return rc;
    }
    if (session_load_local(file, &b, &s) < 0) {
        arca_buf_free(&b);
        return cli_fail(ARCA_EXIT_FAIL, "session create: %s is not a valid session", file);
    }
    bool pred = s->has_predecessor;
    arca_session_free(s);
    if (pred) {
        arca_buf_free(&b);
        return cli_fail(ARCA_EXIT_FAIL,
                        "session create: %s has a predecessor; use `arca session update`", file);
    }
    rc = session_upload(cli, "session create", b.data, b.len);
    arca_buf_free(&b);
    return rc;
}

/* GET path from the CAS (identity presented) as JSON into *out (NULL on failure). */
int session_get_json(struct arca_cli *cli, const char *path, json_t **out)
{
    struct arca_client *c = NULL;
    long status = 0;
    *out = NULL;
    int rc = arca_client_open(cli, true, &c);
    if (rc == 0)
        rc = arca_client_json(c, "GET", path, NULL, 0, &status, out);
    arca_client_free(c);
    if (rc < 0) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

/* The active (hash NULL) or the given version of name (read access needed) into *out;
 * *malformed (may be NULL) is set when the CAS answered but not a version. */
int session_get_version(struct arca_cli *cli, const char *name, const char *hash,
                        struct arca_api_version *out, bool *malformed)
{
    char path[1200];
    if (hash != NULL)
        snprintf(path, sizeof(path), "/v1/sessions/%s?hash=%s", name, hash);
    else
        snprintf(path, sizeof(path), "/v1/sessions/%s", name);
    json_t *a = NULL;
    memset(out, 0, sizeof(*out));
    int rc = session_get_json(cli, path, &a);
    if (rc == 0) {
        rc = arca_api_version_from_json(a, ARCA_API_VERSION_READ, out);
        if (rc < 0 && malformed != NULL)
            *malformed = true;
    }
    json_decref(a);
    return rc;
}

/*
 * Sets the top-level `predecessor:` of the YAML text to hash: replaces an existing top-level
 * line, else appends one. The result is loaded again by the caller, so a YAML layout this
 * simple edit does not understand is caught before upload.
 */
int session_set_predecessor(const struct arca_buf *in, const char *hash, struct arca_buf *out)
{
    const char *p = (const char *)in->data;
    size_t n = in->len;
    bool done = false;
    size_t i = 0;
    while (i < n) {
        const char *nl = memchr(p + i, '\n', n - i);
        size_t end = nl != NULL ? (size_t)(nl - p) + 1 : n;
        if (!done && end - i >= 12 && memcmp(p + i, "predecessor:", 12) == 0) {
            ARCA_TRY(arca_buf_printf(out, "predecessor: \"%s\"\n", hash));
            done = true;
        } else {
            ARCA_TRY(arca_buf_put(out, p + i, end - i));
        }
        i = end;
    }
    if (!done) {
        if (n > 0 && p[n - 1] != '\n')
            ARCA_TRY(arca_buf_put_u8(out, '\n'));
        ARCA_TRY(arca_buf_printf(out, "predecessor: \"%s\"\n", hash));
    }
    return 0;
}

int session_update(struct arca_cli *cli, int argc, char **argv)
{
    const char *file = NULL;
    int u = one_file_arg(argc, argv, "update", &file);
    if (u != ARCA_EXIT_OK)
        return u;
    struct arca_buf b, nb;
    arca_buf_init_secret(&nb, ARCA_SESSION_MAX_BYTES);
    struct arca_session *s = NULL, *s2 = NULL;
    struct arca_api_version active;
    memset(&active, 0, sizeof(active));
    int exit_code = ARCA_EXIT_OK;
    int rc = session_read_file(file, &b);
    if (rc < 0) {
        exit_code = cli_fail(ARCA_EXIT_FAIL, "session update: %s", arca_err_detail());
        goto out;
    }
    if (arca_signed_session_detect(b.data, b.len)) { /* signed: its predecessor is fixed */
        exit_code = session_upload(cli, "session update", b.data, b.len);
        goto out;
    }
    if (session_load_local(file, &b, &s) < 0) {
        exit_code = cli_fail(ARCA_EXIT_FAIL, "session update: %s is not a valid session", file);
        goto out;
    }
    rc = session_get_version(cli, s->name.s, NULL, &active, NULL);
    if (rc < 0) {
        exit_code = fail_rc("session update: reading the active version", rc);
        goto out;
    }
    char hash[65];
    arca_hex_fmt(hash, active.hash, 32);
    if (session_set_predecessor(&b, hash, &nb) < 0 || session_load_local(file, &nb, &s2) < 0) {
        exit_code = cli_fail(ARCA_EXIT_FAIL, "session update: cannot set predecessor in %s", file);
        goto out;
    }
    exit_code = session_upload(cli, "session update", nb.data, nb.len);
out:
    arca_session_free(s);
    arca_session_free(s2);
    arca_api_version_clear(&active);
    arca_buf_free(&b);
    arca_buf_free(&nb);
    return exit_code;
}

int session_read(struct arca_cli *cli, int argc, char **argv)
{
    const char *name = NULL, *hash = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--hash") == 0 && i + 1 < argc)
            hash = argv[++i];
        else if (argv[i][0] != '-' && name == NULL)
            name = argv[i];
        else
            return cli_fail(ARCA_EXIT_USAGE,
                            "usage: arca session read NAME [--hash HASH] [-o json]");
    }
    if (name == NULL)
        return cli_fail(ARCA_EXIT_USAGE, "usage: arca session read NAME [--hash HASH] [-o json]");
    if (arca_session_name_check(name, strlen(name), true) < 0)
        return cli_fail(ARCA_EXIT_USAGE, "session read: %s", arca_err_detail());
    if (hash != NULL) {
        uint8_t h[32];
        if (arca_hex_decode_fixed(h, 32, hash, strlen(hash)) < 0)
            return cli_fail(ARCA_EXIT_USAGE, "session read: --hash needs 64 hex digits");
    }
    struct arca_api_version v;
    int rc = session_get_version(cli, name, hash, &v, NULL);
    if (rc < 0)
        return fail_rc("session read", rc);
    if (cli->output == ARCA_OUTPUT_JSON) {
        print_answer(arca_api_version_to_json(&v, ARCA_API_VERSION_READ));
    } else {
        char h[65];
        arca_hex_fmt(h, v.hash, 32);
        printf("# %s version %llu hash %s\n", name, (unsigned long long)v.version, h);
        printf("%s", v.session != NULL ? v.session : "");
    }
    arca_api_version_clear(&v);
    return ARCA_EXIT_OK;
}

/* One page of GET /v1/sessions after after (NULL: the first), appended to all; *next gets the
 * cursor of the following page (malloc'ed) or NULL on the last one. */
static int list_page(struct arca_cli *cli, const char *prefix, const char *after, long page,
                     struct arca_api_versions *all, char **next)
{
    *next = NULL;
    char *pe = curl_easy_escape(NULL, prefix, (int)strlen(prefix));
    char *ae = after != NULL ? curl_easy_escape(NULL, after, (int)strlen(after)) : NULL;
    char path[8192];
    int rc = 0;
    if (pe == NULL || (after != NULL && ae == NULL))
        rc = arca_err_set(ARCA_ERR_ALLOC, "out of memory");
    else if (snprintf(path, sizeof(path), "/v1/sessions?prefix=%s&limit=%ld%s%s", pe, page,
                      ae != NULL ? "&after=" : "", ae != NULL ? ae : "") >= (int)sizeof(path))
        rc = arca_err_set(ARCA_ERR_TOO_LARGE, "session list: cursor too long");
    curl_free(pe);
    curl_free(ae);
    json_t *a = NULL;
    struct arca_api_versions l;
    memset(&l, 0, sizeof(l));
    if (rc == 0)
        rc = session_get_json(cli, path, &a);
    if (rc == 0)
        rc = arca_api_list_from_json(a, &l);
    for (size_t i = 0; rc == 0 && i < l.n; i++)
        rc = arca_api_versions_add(all, &l.v[i]);
    const json_t *n = json_object_get(a, "next");
    if (rc == 0 && json_is_string(n)) {
        /* A cursor must move forward, or a confused server would keep us paging forever. */
        if (after != NULL && strcmp(json_string_value(n), after) <= 0)
            rc = arca_err_set(ARCA_ERR_FORMAT, "CAS answer: 'next' does not move forward");
        else if ((*next = strdup(json_string_value(n))) == NULL)
            rc = arca_err_set(ARCA_ERR_ALLOC, "out of memory");
    }
    arca_api_versions_clear(&l);
    json_decref(a);
    return rc;
}

/* Every page of the listing of prefix into *all (cleared on failure). */
static int list_all(struct arca_cli *cli, const char *prefix, long page,
                    struct arca_api_versions *all)
{
    char *after = NULL;
    int rc = 0;
    do {
        char *next = NULL;
        rc = list_page(cli, prefix, after, page, all, &next);
        free(after);
        after = next;
    } while (rc == 0 && after != NULL);
    free(after);
    if (rc < 0)
        arca_api_versions_clear(all);
    return rc;
}

int session_list(struct arca_cli *cli, int argc, char **argv)
{
    const char *prefix = "";
    long page = 1000; /* arcad's largest page (ARCA_CAS_LIST_MAX) */
    for (int i = 1; i < argc; i++) {
        char *end = NULL;
        if (strcmp(argv[i], "--prefix") == 0 && i + 1 < argc) {
            prefix = argv[++i];
        } else if (strcmp(argv[i], "--page-size") == 0 && i + 1 < argc) {
            page = strtol(argv[++i], &end, 10);
            if (*end != '\0' || page < 1 || page > 1000)
                return cli_fail(ARCA_EXIT_USAGE, "session list: --page-size: 1 to 1000");
        } else if (argv[i][0] != '-') {
            prefix = argv[i];
        } else {
            return cli_fail(ARCA_EXIT_USAGE,
                            "usage: arca session list [PREFIX] [--page-size N] [-o json]");
        }
    }
    struct arca_api_versions l;
    memset(&l, 0, sizeof(l));
    int rc = list_all(cli, prefix, page, &l);
    if (rc < 0)
        return fail_rc("session list", rc);
    if (cli->output == ARCA_OUTPUT_JSON) {
        print_answer(arca_api_list_to_json(&l));
    } else {
        for (size_t i = 0; i < l.n; i++) {
            char h[65];
            arca_hex_fmt(h, l.v[i].hash, 32);
            printf("%s\t%llu\t%s\n", l.v[i].name, (unsigned long long)l.v[i].version, h);
        }
    }
    arca_api_versions_clear(&l);
    return ARCA_EXIT_OK;
}

/* The approvals stored with version hash of name: a list of signer key ids (hex) into *ids
 * (json_decref), an empty list when the version was admitted without approvals. */
static int version_approvals(struct arca_cli *cli, const char *name, const uint8_t hash[32],
                             json_t **ids)
{
    char h[65], path[1300];
    arca_hex_fmt(h, hash, 32);
    snprintf(path, sizeof(path), "/v1/approvals/%s?hash=%s", name, h);
    json_t *a = NULL;
    *ids = json_array();
    int rc = session_get_json(cli, path, &a);
    if (rc == ARCA_ERR_NOT_FOUND) {
        arca_err_clear();
        return 0;
    }
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(a, "approvals"), i, e)
    {
        json_t *k = json_object_get(e, "key_id");
        if (json_is_string(k))
            json_array_append(*ids, k);
    }
    json_decref(a);
    return rc;
}

int session_get_history(struct arca_cli *cli, const char *name, struct arca_api_versions *out)
{
    char path[1200];
    snprintf(path, sizeof(path), "/v1/history/%s", name);
    json_t *a = NULL;
    memset(out, 0, sizeof(*out));
    int rc = session_get_json(cli, path, &a);
    if (rc == 0)
        rc = arca_api_history_from_json(a, out);
    json_decref(a);
    return rc;
}

int session_history(struct arca_cli *cli, int argc, char **argv)
{
    bool approvals = argc == 3 && strcmp(argv[2], "--approvals") == 0;
    if ((argc != 2 && !approvals) || argv[1][0] == '-')
        return cli_fail(ARCA_EXIT_USAGE,
                        "usage: arca session history NAME [--approvals] [-o json]");
    const char *name = argv[1];
    if (arca_session_name_check(name, strlen(name), true) < 0)
        return cli_fail(ARCA_EXIT_USAGE, "session history: %s", arca_err_detail());
    struct arca_api_versions l;
    int rc = session_get_history(cli, name, &l);
    if (rc < 0)
        return fail_rc("session history", rc);
    json_t *out = cli->output == ARCA_OUTPUT_JSON ? arca_api_history_to_json(&l) : NULL;
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        json_t *ids = NULL;
        if (approvals)
            rc = version_approvals(cli, name, l.v[i].hash, &ids);
        if (rc == 0 && out != NULL && ids != NULL)
            json_object_set(json_array_get(json_object_get(out, "versions"), i), "approvals", ids);
        if (rc == 0 && out == NULL) {
            char h[65], t[ARCA_TIME_RFC3339_LEN];
            arca_hex_fmt(h, l.v[i].hash, 32);
            arca_time_format_rfc3339(l.v[i].created_at, t);
            printf("%llu\t%s\t%s", (unsigned long long)l.v[i].version, h, t);
            size_t j;
            json_t *k;
            json_array_foreach(ids, j, k)
            {
                uint8_t kid[32];
                struct arca_buf b;
                arca_buf_init(&b, 128);
                const char *hex = json_string_value(k);
                if (arca_hex_decode_fixed(kid, 32, hex, strlen(hex)) == 0 &&
                    arca_base58check_encode(&b, ARCA_KEYHASH_B58_VERSION, kid, 32) == 0)
                    printf("%s%s", j == 0 ? "\tapproved by " : ", ", arca_buf_cstr(&b));
                arca_buf_free(&b);
            }
            printf("\n");
        }
        json_decref(ids);
    }
    if (rc == 0 && out != NULL)
        print_answer(out);
    else
        json_decref(out);
    arca_api_versions_clear(&l);
    return rc < 0 ? fail_rc("session history: approvals", rc) : ARCA_EXIT_OK;
}

int session_same_as_active(const char *file, const struct arca_buf *b, struct arca_session **s,
                           const struct arca_api_version *a, uint8_t local[32], bool *same)
{
    /* The file may be the update template without predecessor: compare with the active one's. */
    if (!(*s)->has_predecessor && a->has_predecessor) {
        char pred[65];
        arca_hex_fmt(pred, a->predecessor, 32);
        struct arca_buf nb;
        arca_buf_init_secret(&nb, ARCA_SESSION_MAX_BYTES);
        struct arca_session *s2 = NULL;
        if (session_set_predecessor(b, pred, &nb) == 0 && session_load_local(file, &nb, &s2) == 0) {
            arca_session_free(*s);
            *s = s2;
        }
        arca_buf_free(&nb);
    }
    ARCA_TRY(arca_session_hash(*s, a->creator, local));
    *same = arca_memeq(local, a->hash, 32);
    return 0;
}

int session_verify(struct arca_cli *cli, int argc, char **argv)
{
    const char *file = NULL;
    int u = one_file_arg(argc, argv, "verify", &file);
    if (u != ARCA_EXIT_OK)
        return u;
    /* An existing file is a local session text; anything else names a session. */
    struct stat st;
    if (stat(file, &st) != 0 || !S_ISREG(st.st_mode))
        return session_verify_chain(cli, file);
    struct arca_buf b;
    struct arca_session *s = NULL;
    struct arca_api_version a;
    memset(&a, 0, sizeof(a));
    int exit_code = ARCA_EXIT_OK;
    int rc = session_read_file(file, &b);
    if (rc < 0 || session_load_local(file, &b, &s) < 0) {
        exit_code = cli_fail(ARCA_EXIT_FAIL, "session verify: %s",
                             rc < 0 ? arca_err_detail() : "invalid session");
        goto out;
    }
    bool malformed = false;
    rc = session_get_version(cli, s->name.s, NULL, &a, &malformed);
    if (malformed) {
        exit_code = cli_fail(ARCA_EXIT_CAS, "session verify: the CAS answer lacks hash/creator");
        goto out;
    }
    if (rc < 0) {
        exit_code = fail_rc("session verify", rc);
        goto out;
    }
    char hash[65];
    arca_hex_fmt(hash, a.hash, 32);
    uint8_t local[32];
    bool same = false;
    if (session_same_as_active(file, &b, &s, &a, local, &same) < 0) {
        exit_code = cli_fail(ARCA_EXIT_FAIL, "session verify: %s", arca_err_detail());
        goto out;
    }
    char lh[65];
    arca_hex_fmt(lh, local, 32);
    if (cli->output == ARCA_OUTPUT_JSON) {
        json_t *o = json_pack("{s:s, s:b, s:s, s:s}", "name", s->name.s, "verified", same,
                              "active_hash", hash, "local_hash", lh);
        cli_print_json(o);
        json_decref(o);
    } else if (same) {
        printf("verified: %s is the active version of '%s'\n%s\n", file, s->name.s, hash);
    } else {
        fprintf(stderr,
                "arca: session verify: %s differs from the active version of '%s'\n"
                "  local  %s\n  active %s\n",
                file, s->name.s, lh, hash);
    }
    exit_code = same ? ARCA_EXIT_OK : ARCA_EXIT_FAIL;
out:
    arca_session_free(s);
    arca_api_version_clear(&a);
    arca_buf_free(&b);
    return exit_code;
}
