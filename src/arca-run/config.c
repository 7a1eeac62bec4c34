/*
 * The configuration answer of POST /v1/attest (launch_config.h, "Wire format"). It comes from
 * arcad over a pinned TLS connection, but arca-run still treats it as untrusted input: a strict
 * schema, bounded sizes, and every value that will reach argv / environ checked for NULs.
 * Values are secrets: they live in memory we wipe on free.
 */
#include "arcarun.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/enc.h"
#include "base/err.h"

static char *dup_secret(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d != NULL) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

void arcarun_config_free(struct arcarun_config *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; c->argv != NULL && i < c->argc; i++)
        arca_wipe_free_str(c->argv[i]);
    free(c->argv);
    for (size_t i = 0; c->envp != NULL && i < c->envc; i++)
        arca_wipe_free_str(c->envp[i]);
    free(c->envp);
    free(c->pwd);
    for (size_t i = 0; c->files != NULL && i < c->nfiles; i++) {
        free(c->files[i].path);
        arca_wipe_free(c->files[i].content, c->files[i].len);
    }
    free(c->files);
    memset(c, 0, sizeof(*c));
}

/* An absolute path without empty, "." or ".." components and without a trailing '/'. */
static bool path_is_normal(const char *p, size_t n)
{
    if (n == 0 || n > ARCARUN_CONFIG_MAX_PATH || p[0] != '/' || memchr(p, '\0', n) != NULL)
        return false;
    if (n == 1)
        return true; /* "/" */
    if (p[n - 1] == '/')
        return false;
    size_t i = 1;
    while (i <= n) {
        size_t j = i;
        while (j < n && p[j] != '/')
            j++;
        size_t len = j - i;
        if (len == 0 || (len == 1 && p[i] == '.') || (len == 2 && p[i] == '.' && p[i + 1] == '.'))
            return false;
        i = j + 1;
    }
    return true;
}

static int only_members(json_t *obj, const char *where, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        bool ok = false;
        for (size_t i = 0; allowed[i] != NULL; i++)
            ok = ok || strcmp(key, allowed[i]) == 0;
        ARCA_ENSURE(ok, ARCA_ERR_FORMAT, "configuration: %s: unknown member \"%.64s\"", where, key);
    }
    return 0;
}

static int parse_argv(json_t *a, struct arcarun_config *c)
{
    ARCA_ENSURE(json_is_array(a), ARCA_ERR_FORMAT, "configuration: argv: not an array");
    size_t n = json_array_size(a);
    ARCA_ENSURE(n >= 1, ARCA_ERR_FORMAT, "configuration: argv: empty (argv[0] is required)");
    ARCA_ENSURE(n <= ARCARUN_CONFIG_MAX_ARGS, ARCA_ERR_TOO_LARGE,
                "configuration: argv: %zu arguments (at most %d)", n, ARCARUN_CONFIG_MAX_ARGS);
    c->argv = calloc(n + 1, sizeof(char *));
    ARCA_ENSURE(c->argv != NULL, ARCA_ERR_ALLOC, "configuration: argv: out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_array_get(a, i);
        ARCA_ENSURE(json_is_string(s), ARCA_ERR_FORMAT, "configuration: argv[%zu]: not a string",
                    i);
        size_t len = json_string_length(s);
        ARCA_ENSURE(memchr(json_string_value(s), '\0', len) == NULL, ARCA_ERR_FORMAT,
                    "configuration: argv[%zu]: contains a NUL byte", i);
        c->argv[i] = dup_secret(json_string_value(s), len);
        ARCA_ENSURE(c->argv[i] != NULL, ARCA_ERR_ALLOC, "configuration: argv: out of memory");
        c->argc = i + 1;
    }
    return 0;
}

static int parse_env(json_t *o, struct arcarun_config *c)
{
    ARCA_ENSURE(json_is_object(o), ARCA_ERR_FORMAT, "configuration: env: not an object");
    size_t n = json_object_size(o);
    ARCA_ENSURE(n <= ARCARUN_CONFIG_MAX_ENV, ARCA_ERR_TOO_LARGE,
                "configuration: env: %zu variables (at most %d)", n, ARCARUN_CONFIG_MAX_ENV);
    c->envp = calloc(n + 1, sizeof(char *));
    ARCA_ENSURE(c->envp != NULL, ARCA_ERR_ALLOC, "configuration: env: out of memory");
    const char *key;
    size_t klen;
    json_t *v;
    json_object_keylen_foreach(o, key, klen, v)
    {
        ARCA_ENSURE(klen > 0, ARCA_ERR_FORMAT, "configuration: env: empty variable name");
        ARCA_ENSURE(memchr(key, '\0', klen) == NULL && memchr(key, '=', klen) == NULL,
                    ARCA_ERR_FORMAT,
                    "configuration: env: variable name \"%.64s\" contains '=' or NUL", key);
        ARCA_ENSURE(json_is_string(v), ARCA_ERR_FORMAT, "configuration: env.%.64s: not a string",
                    key);
        size_t vlen = json_string_length(v);
        ARCA_ENSURE(memchr(json_string_value(v), '\0', vlen) == NULL, ARCA_ERR_FORMAT,
                    "configuration: env.%.64s: value contains a NUL byte", key);
        char *kv = malloc(klen + 1 + vlen + 1);
        ARCA_ENSURE(kv != NULL, ARCA_ERR_ALLOC, "configuration: env: out of memory");
        memcpy(kv, key, klen);
        kv[klen] = '=';
        memcpy(kv + klen + 1, json_string_value(v), vlen);
        kv[klen + 1 + vlen] = '\0';
        c->envp[c->envc++] = kv;
    }
    return 0;
}

static int parse_file(json_t *f, size_t i, struct arcarun_file *out)
{
    static const char *const members[] = {"path", "mode", "content", NULL};
    char where[32];
    snprintf(where, sizeof(where), "files[%zu]", i);
    ARCA_ENSURE(json_is_object(f), ARCA_ERR_FORMAT, "configuration: %s: not an object", where);
    ARCA_TRY(only_members(f, where, members));
    json_t *path = json_object_get(f, "path");
    json_t *mode = json_object_get(f, "mode");
    json_t *content = json_object_get(f, "content");
    ARCA_ENSURE(json_is_string(path), ARCA_ERR_FORMAT,
                "configuration: %s.path: missing or not a string", where);
    ARCA_ENSURE(path_is_normal(json_string_value(path), json_string_length(path)), ARCA_ERR_FORMAT,
                "configuration: %s.path: not a normalised absolute path (no '.', '..', '//', "
                "trailing '/')",
                where);
    ARCA_ENSURE(strcmp(json_string_value(path), "/") != 0, ARCA_ERR_FORMAT,
                "configuration: %s.path: \"/\" is not a file", where);
    ARCA_ENSURE(json_is_integer(mode), ARCA_ERR_FORMAT,
                "configuration: %s.mode: missing or not an integer", where);
    json_int_t m = json_integer_value(mode);
    ARCA_ENSURE(m >= 0 && m <= 07777, ARCA_ERR_FORMAT,
                "configuration: %s.mode: %lld is not a permission (0..0o7777)", where,
                (long long)m);
    ARCA_ENSURE(json_is_string(content), ARCA_ERR_FORMAT,
                "configuration: %s.content: missing or not a base64 string", where);
    struct arca_buf b;
    arca_buf_init_secret(&b, ARCARUN_CONFIG_MAX_BYTES);
    int rc = arca_base64_decode(&b, json_string_value(content), json_string_length(content));
    if (rc < 0) {
        arca_buf_free(&b);
        return arca_err_wrap(rc, "configuration: %s.content", where);
    }
    out->path = strdup(json_string_value(path));
    if (out->path == NULL) {
        arca_buf_free(&b);
        ARCA_BAIL(ARCA_ERR_ALLOC, "configuration: out of memory");
    }
    out->mode = (unsigned)m;
    char *content_bytes = NULL;
    size_t len = 0;
    rc = arca_buf_steal(&b, &content_bytes, &len);
    arca_buf_free(&b);
    if (rc < 0)
        return rc;
    out->content = (uint8_t *)content_bytes;
    out->len = len;
    return 0;
}

static int parse_files(json_t *a, struct arcarun_config *c)
{
    ARCA_ENSURE(json_is_array(a), ARCA_ERR_FORMAT, "configuration: files: not an array");
    size_t n = json_array_size(a);
    ARCA_ENSURE(n <= ARCARUN_CONFIG_MAX_FILES, ARCA_ERR_TOO_LARGE,
                "configuration: files: %zu files (at most %d)", n, ARCARUN_CONFIG_MAX_FILES);
    c->files = calloc(n + 1, sizeof(*c->files));
    ARCA_ENSURE(c->files != NULL, ARCA_ERR_ALLOC, "configuration: files: out of memory");
    for (size_t i = 0; i < n; i++) {
        c->nfiles = i + 1; /* counted first: a half-filled entry is freed too */
        ARCA_TRY(parse_file(json_array_get(a, i), i, &c->files[i]));
        for (size_t j = 0; j < i; j++)
            ARCA_ENSURE(strcmp(c->files[j].path, c->files[i].path) != 0, ARCA_ERR_FORMAT,
                        "configuration: files[%zu].path: same path as files[%zu]", i, j);
    }
    return 0;
}

int arcarun_config_parse(const void *json, size_t len, struct arcarun_config *out)
{
    ARCA_ENSURE_REF(json);
    ARCA_ENSURE_REF(out);
    memset(out, 0, sizeof(*out));
    ARCA_ENSURE(len <= ARCARUN_CONFIG_MAX_BYTES, ARCA_ERR_TOO_LARGE,
                "configuration: %zu bytes (at most %zu)", len, ARCARUN_CONFIG_MAX_BYTES);
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (root == NULL)
        /* Not jerr.text: jansson quotes the token "near" the error, which may be a secret. */
        ARCA_BAIL(ARCA_ERR_FORMAT, "configuration: not JSON (line %d column %d)", jerr.line,
                  jerr.column);
    static const char *const members[] = {"argv", "env", "pwd", "files", NULL};
    int rc = 0;
    ARCA_GUARD_ENSURE(rc, json_is_object(root), out, ARCA_ERR_FORMAT,
                      "configuration: not a JSON object");
    ARCA_GUARD(rc, only_members(root, "top level", members), out);
    json_t *argv = json_object_get(root, "argv");
    json_t *env = json_object_get(root, "env");
    json_t *pwd = json_object_get(root, "pwd");
    json_t *files = json_object_get(root, "files");
    ARCA_GUARD_ENSURE(rc, argv != NULL, out, ARCA_ERR_FORMAT, "configuration: argv: missing");
    ARCA_GUARD_ENSURE(rc, env != NULL, out, ARCA_ERR_FORMAT, "configuration: env: missing");
    ARCA_GUARD_ENSURE(rc, json_is_string(pwd), out, ARCA_ERR_FORMAT,
                      "configuration: pwd: missing or not a string");
    ARCA_GUARD_ENSURE(rc, path_is_normal(json_string_value(pwd), json_string_length(pwd)), out,
                      ARCA_ERR_FORMAT, "configuration: pwd: not a normalised absolute path");
    ARCA_GUARD(rc, parse_argv(argv, out), out);
    ARCA_GUARD(rc, parse_env(env, out), out);
    out->pwd = strdup(json_string_value(pwd));
    ARCA_GUARD_ENSURE(rc, out->pwd != NULL, out, ARCA_ERR_ALLOC, "configuration: out of memory");
    if (files != NULL)
        ARCA_GUARD(rc, parse_files(files, out), out);
    else {
        out->files = calloc(1, sizeof(*out->files));
        ARCA_GUARD_ENSURE(rc, out->files != NULL, out, ARCA_ERR_ALLOC,
                          "configuration: out of memory");
    }
out:
    json_decref(root);
    if (rc < 0)
        arcarun_config_free(out);
    return rc;
}
