/*
 * The answer of POST /v1/attest, the launch configuration (attest_wire.h): arcad encodes it,
 * arca-run decodes it. Values are secrets: the encoder writes the JSON text by hand into a
 * secret buffer (no JSON library copies we could not wipe); the decoder treats the text as
 * untrusted (strict schema, bounded sizes, every value that will reach argv / environ checked
 * for NULs) and keeps values in memory wiped on free.
 */
#include "api/attest_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/enc.h"
#include "base/err.h"
#include "base/path.h"
#include "policy/placeholder.h"

#define K_ARGV "argv"
#define K_ENV "env"
#define K_PWD "pwd"
#define K_FILES "files"
#define K_PATH "path"
#define K_MODE "mode"
#define K_CONTENT "content"
#define K_VOLUMES "volumes"
#define K_NAME "name"
#define K_KEY "key"
#define K_TAG "tag"
#define K_POLICY "update_policy"
#define K_VTOKEN "volume_token"
#define K_PTOKEN "provide_token"

static const char *const volume_policy_names[] = {
    [ARCA_LAUNCH_VOLUME_ROLLBACK_PROTECTED] = "rollback_protected",
    [ARCA_LAUNCH_VOLUME_EPHEMERAL] = "ephemeral",
    [ARCA_LAUNCH_VOLUME_NO_ROLLBACK_PROTECTION] = "no_rollback_protection",
};

const char *arca_launch_volume_policy_name(enum arca_launch_volume_policy p)
{
    return (unsigned)p < sizeof(volume_policy_names) / sizeof(volume_policy_names[0])
               ? volume_policy_names[p]
               : NULL;
}

void arca_launch_config_free(struct arca_launch_config *c)
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
    for (size_t i = 0; c->volumes != NULL && i < c->nvolumes; i++) {
        free(c->volumes[i].name);
        free(c->volumes[i].path);
    }
    if (c->volumes != NULL)
        arca_wipe(c->volumes, c->nvolumes * sizeof(*c->volumes));
    free(c->volumes);
    arca_wipe(c, sizeof(*c));
}

/* ---- encoding ------------------------------------------------------------------------------ */

/* Appends p[0..n) as a JSON string literal; what names the member for the error. The escaper
 * is the one that also serves escape(json): it refuses exactly the byte sequences jansson's
 * decoder refuses (RFC 3629: overlong forms, UTF-16 surrogates, bytes >= 0xF5, truncated
 * sequences, anything above U+10FFFF). */
static int put_string(struct arca_buf *out, const void *p, size_t n, const char *what)
{
    ARCA_TRY(arca_buf_put_u8(out, '"'));
    int rc = arca_placeholder_json_escape(p, n, out);
    if (rc < 0)
        ARCA_BAIL(rc, "configuration: %s: not UTF-8 text", what);
    return arca_buf_put_u8(out, '"');
}

static int put_key(struct arca_buf *out, const char *key, bool first)
{
    return arca_buf_printf(out, "%s\"%s\":", first ? "" : ",", key);
}

/* The volumes member (keys in hex, in the secret buffer j). */
static int encode_volumes(const struct arca_launch_config *c, struct arca_buf *j)
{
    char what[48];
    ARCA_TRY(put_key(j, K_VOLUMES, false));
    ARCA_TRY(arca_buf_put_u8(j, '['));
    for (size_t i = 0; i < c->nvolumes; i++) {
        const struct arca_launch_volume *v = &c->volumes[i];
        const char *policy = arca_launch_volume_policy_name(v->policy);
        ARCA_ENSURE(v->name != NULL && v->path != NULL && policy != NULL && v->has_key,
                    ARCA_ERR_INVALID_ARG, "configuration: volumes[%zu]: incomplete", i);
        ARCA_TRY(arca_buf_put_str(j, i > 0 ? ",{" : "{"));
        ARCA_TRY(put_key(j, K_NAME, true));
        snprintf(what, sizeof(what), "volumes[%zu].name", i);
        ARCA_TRY(put_string(j, v->name, strlen(v->name), what));
        ARCA_TRY(put_key(j, K_PATH, false));
        snprintf(what, sizeof(what), "volumes[%zu].path", i);
        ARCA_TRY(put_string(j, v->path, strlen(v->path), what));
        ARCA_TRY(put_key(j, K_KEY, false));
        ARCA_TRY(arca_buf_put_u8(j, '"'));
        ARCA_TRY(arca_hex_encode(j, v->key, sizeof(v->key)));
        ARCA_TRY(arca_buf_put_u8(j, '"'));
        if (v->has_tag) {
            ARCA_TRY(put_key(j, K_TAG, false));
            ARCA_TRY(arca_buf_put_u8(j, '"'));
            ARCA_TRY(arca_hex_encode(j, v->tag, sizeof(v->tag)));
            ARCA_TRY(arca_buf_put_u8(j, '"'));
        }
        ARCA_TRY(put_key(j, K_POLICY, false));
        ARCA_TRY(arca_buf_printf(j, "\"%s\"}", policy));
    }
    ARCA_TRY(arca_buf_put_u8(j, ']'));
    if (!c->has_volume_token)
        return 0;
    ARCA_TRY(put_key(j, K_VTOKEN, false));
    ARCA_TRY(arca_buf_put_u8(j, '"'));
    ARCA_TRY(arca_hex_encode(j, c->volume_token, sizeof(c->volume_token)));
    return arca_buf_put_u8(j, '"');
}

static int encode(const struct arca_launch_config *c, struct arca_buf *j)
{
    char what[48];
    ARCA_TRY(arca_buf_put_u8(j, '{'));
    ARCA_TRY(put_key(j, K_ARGV, true));
    ARCA_TRY(arca_buf_put_u8(j, '['));
    for (size_t i = 0; i < c->argc; i++) {
        if (i > 0)
            ARCA_TRY(arca_buf_put_u8(j, ','));
        snprintf(what, sizeof(what), "argv[%zu]", i);
        ARCA_TRY(put_string(j, c->argv[i], strlen(c->argv[i]), what));
    }
    ARCA_TRY(arca_buf_put_u8(j, ']'));
    ARCA_TRY(put_key(j, K_ENV, false));
    ARCA_TRY(arca_buf_put_u8(j, '{'));
    for (size_t i = 0; i < c->envc; i++) {
        const char *kv = c->envp[i];
        const char *eq = strchr(kv, '=');
        ARCA_ENSURE(eq != NULL && eq != kv, ARCA_ERR_INVALID_ARG,
                    "configuration: env[%zu]: not NAME=VALUE", i);
        if (i > 0)
            ARCA_TRY(arca_buf_put_u8(j, ','));
        snprintf(what, sizeof(what), "env[%zu] name", i);
        ARCA_TRY(put_string(j, kv, (size_t)(eq - kv), what));
        ARCA_TRY(arca_buf_put_u8(j, ':'));
        snprintf(what, sizeof(what), "env[%zu] value", i);
        ARCA_TRY(put_string(j, eq + 1, strlen(eq + 1), what));
    }
    ARCA_TRY(arca_buf_put_u8(j, '}'));
    ARCA_TRY(put_key(j, K_PWD, false));
    ARCA_TRY(put_string(j, c->pwd ? c->pwd : "/", c->pwd ? strlen(c->pwd) : 1, K_PWD));
    ARCA_TRY(put_key(j, K_FILES, false));
    ARCA_TRY(arca_buf_put_u8(j, '['));
    for (size_t i = 0; i < c->nfiles; i++) {
        const struct arca_launch_file *f = &c->files[i];
        ARCA_TRY(arca_buf_put_str(j, i > 0 ? ",{" : "{"));
        ARCA_TRY(put_key(j, K_PATH, true));
        snprintf(what, sizeof(what), "files[%zu].path", i);
        ARCA_TRY(put_string(j, f->path, strlen(f->path), what));
        ARCA_TRY(put_key(j, K_MODE, false));
        ARCA_TRY(arca_buf_printf(j, "%u", f->mode & 07777));
        ARCA_TRY(put_key(j, K_CONTENT, false));
        ARCA_TRY(arca_buf_put_u8(j, '"'));
        ARCA_TRY(arca_base64_encode(j, f->content, f->len));
        ARCA_TRY(arca_buf_put_str(j, "\"}"));
    }
    ARCA_TRY(arca_buf_put_u8(j, ']'));
    if (c->nvolumes > 0)
        ARCA_TRY(encode_volumes(c, j));
    if (c->has_provide_token) {
        ARCA_TRY(put_key(j, K_PTOKEN, false));
        ARCA_TRY(arca_buf_put_u8(j, '"'));
        ARCA_TRY(arca_hex_encode(j, c->provide_token, sizeof(c->provide_token)));
        ARCA_TRY(arca_buf_put_u8(j, '"'));
    }
    return arca_buf_put_u8(j, '}');
}

int arca_launch_config_encode(const struct arca_launch_config *c, struct arca_buf *out)
{
    ARCA_ENSURE_REF(c);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(c->argc == 0 || c->argv != NULL, ARCA_ERR_INVALID_ARG, "configuration: no argv");
    ARCA_ENSURE(c->envc == 0 || c->envp != NULL, ARCA_ERR_INVALID_ARG, "configuration: no env");
    ARCA_ENSURE(c->nfiles == 0 || c->files != NULL, ARCA_ERR_INVALID_ARG,
                "configuration: no files");
    ARCA_ENSURE(c->nvolumes == 0 || c->volumes != NULL, ARCA_ERR_INVALID_ARG,
                "configuration: no volumes");
    struct arca_buf j;
    arca_buf_init_secret(&j, out->max);
    int rc = encode(c, &j);
    if (rc == 0)
        rc = arca_buf_put(out, j.data, j.len);
    arca_buf_free(&j);
    return rc;
}

/* ---- decoding ------------------------------------------------------------------------------ */

/* The one path rule (base/path.h), so a path arca-run refuses was refused at upload already. */
static bool path_is_normal(const char *p, size_t n)
{
    return n <= ARCA_LAUNCH_CONFIG_MAX_PATH && arca_path_check(p, n) == 0;
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

/* o is an object with only the allowed members; where names it ("files[3]"). */
static int member_object(json_t *o, const char *where, const char *const *allowed)
{
    ARCA_ENSURE(json_is_object(o), ARCA_ERR_FORMAT, "configuration: %s: not an object", where);
    return only_members(o, where, allowed);
}

static int parse_argv(json_t *a, struct arca_launch_config *c)
{
    ARCA_ENSURE(json_is_array(a), ARCA_ERR_FORMAT, "configuration: argv: not an array");
    size_t n = json_array_size(a);
    ARCA_ENSURE(n >= 1, ARCA_ERR_FORMAT, "configuration: argv: empty (argv[0] is required)");
    ARCA_ENSURE(n <= ARCA_LAUNCH_CONFIG_MAX_ARGS, ARCA_ERR_TOO_LARGE,
                "configuration: argv: %zu arguments (at most %d)", n, ARCA_LAUNCH_CONFIG_MAX_ARGS);
    c->argv = calloc(n + 1, sizeof(char *));
    ARCA_ENSURE(c->argv != NULL, ARCA_ERR_ALLOC, "configuration: argv: out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_array_get(a, i);
        ARCA_ENSURE(json_is_string(s), ARCA_ERR_FORMAT, "configuration: argv[%zu]: not a string",
                    i);
        size_t len = json_string_length(s);
        ARCA_ENSURE(memchr(json_string_value(s), '\0', len) == NULL, ARCA_ERR_FORMAT,
                    "configuration: argv[%zu]: contains a NUL byte", i);
        c->argv[i] = strndup(json_string_value(s), len);
        ARCA_ENSURE(c->argv[i] != NULL, ARCA_ERR_ALLOC, "configuration: argv: out of memory");
        c->argc = i + 1;
    }
    return 0;
}

static int parse_env(json_t *o, struct arca_launch_config *c)
{
    ARCA_ENSURE(json_is_object(o), ARCA_ERR_FORMAT, "configuration: env: not an object");
    size_t n = json_object_size(o);
    ARCA_ENSURE(n <= ARCA_LAUNCH_CONFIG_MAX_ENV, ARCA_ERR_TOO_LARGE,
                "configuration: env: %zu variables (at most %d)", n, ARCA_LAUNCH_CONFIG_MAX_ENV);
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

static int parse_file(json_t *f, size_t i, struct arca_launch_file *out)
{
    static const char *const members[] = {K_PATH, K_MODE, K_CONTENT, NULL};
    char where[32];
    snprintf(where, sizeof(where), "files[%zu]", i);
    ARCA_TRY(member_object(f, where, members));
    json_t *path = json_object_get(f, K_PATH);
    json_t *mode = json_object_get(f, K_MODE);
    json_t *content = json_object_get(f, K_CONTENT);
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
    arca_buf_init_secret(&b, ARCA_LAUNCH_CONFIG_MAX_BYTES);
    int rc = arca_base64_decode(&b, json_string_value(content), json_string_length(content));
    if (rc < 0) {
        arca_buf_free(&b);
        return arca_err_wrap(rc, "configuration: %s.content", where);
    }
    out->path = strndup(json_string_value(path), json_string_length(path));
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

static int parse_files(json_t *a, struct arca_launch_config *c)
{
    ARCA_ENSURE(json_is_array(a), ARCA_ERR_FORMAT, "configuration: files: not an array");
    size_t n = json_array_size(a);
    ARCA_ENSURE(n <= ARCA_LAUNCH_CONFIG_MAX_FILES, ARCA_ERR_TOO_LARGE,
                "configuration: files: %zu files (at most %d)", n, ARCA_LAUNCH_CONFIG_MAX_FILES);
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

/* A hex member of exactly n bytes into out; what names it. */
static int parse_hex(json_t *v, uint8_t *out, size_t n, const char *what)
{
    ARCA_ENSURE(json_is_string(v), ARCA_ERR_FORMAT, "configuration: %s: missing or not a string",
                what);
    ARCA_ENSURE(arca_hex_decode_fixed(out, n, json_string_value(v), json_string_length(v)) == 0,
                ARCA_ERR_FORMAT, "configuration: %s: not %zu hex digits", what, 2 * n);
    return 0;
}

static int parse_volume(json_t *o, size_t i, struct arca_launch_volume *out)
{
    static const char *const members[] = {K_NAME, K_PATH, K_KEY, K_TAG, K_POLICY, NULL};
    char where[32], what[48];
    snprintf(where, sizeof(where), "volumes[%zu]", i);
    ARCA_TRY(member_object(o, where, members));
    json_t *name = json_object_get(o, K_NAME);
    json_t *path = json_object_get(o, K_PATH);
    json_t *policy = json_object_get(o, K_POLICY);
    ARCA_ENSURE(json_is_string(name) && json_string_length(name) > 0 &&
                    json_string_length(name) <= ARCA_LAUNCH_VOLUME_NAME_MAX &&
                    memchr(json_string_value(name), '\0', json_string_length(name)) == NULL,
                ARCA_ERR_FORMAT, "configuration: %s.name: missing, empty, too long or with NUL",
                where);
    ARCA_ENSURE(json_is_string(path) &&
                    path_is_normal(json_string_value(path), json_string_length(path)) &&
                    strcmp(json_string_value(path), "/") != 0,
                ARCA_ERR_FORMAT,
                "configuration: %s.path: not a normalised absolute path below \"/\"", where);
    snprintf(what, sizeof(what), "%s.key", where);
    ARCA_TRY(parse_hex(json_object_get(o, K_KEY), out->key, sizeof(out->key), what));
    out->has_key = true;
    json_t *tag = json_object_get(o, K_TAG);
    if (tag != NULL) {
        snprintf(what, sizeof(what), "%s.tag", where);
        ARCA_TRY(parse_hex(tag, out->tag, sizeof(out->tag), what));
        out->has_tag = true;
    }
    ARCA_ENSURE(json_is_string(policy), ARCA_ERR_FORMAT,
                "configuration: %s.update_policy: missing or not a string", where);
    bool known = false;
    for (size_t p = 0; !known && p < sizeof(volume_policy_names) / sizeof(*volume_policy_names);
         p++) {
        known = strcmp(json_string_value(policy), volume_policy_names[p]) == 0;
        out->policy = (enum arca_launch_volume_policy)p;
    }
    ARCA_ENSURE(known, ARCA_ERR_FORMAT, "configuration: %s.update_policy: unknown \"%.40s\"", where,
                json_string_value(policy));
    out->name = strndup(json_string_value(name), json_string_length(name));
    out->path = strndup(json_string_value(path), json_string_length(path));
    ARCA_ENSURE(out->name != NULL && out->path != NULL, ARCA_ERR_ALLOC,
                "configuration: out of memory");
    return 0;
}

/* Paths must neither repeat nor nest: one volume's plaintext would hide another's. */
static bool paths_nest(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    const char *s = la <= lb ? a : b, *l = la <= lb ? b : a;
    size_t ls = la <= lb ? la : lb;
    return strncmp(s, l, ls) == 0 && (l[ls] == '\0' || l[ls] == '/');
}

static int parse_volumes(json_t *a, struct arca_launch_config *c)
{
    ARCA_ENSURE(json_is_array(a), ARCA_ERR_FORMAT, "configuration: volumes: not an array");
    size_t n = json_array_size(a);
    ARCA_ENSURE(n <= ARCA_LAUNCH_CONFIG_MAX_VOLUMES, ARCA_ERR_TOO_LARGE,
                "configuration: volumes: %zu volumes (at most %d)", n,
                ARCA_LAUNCH_CONFIG_MAX_VOLUMES);
    if (n == 0)
        return 0;
    c->volumes = calloc(n, sizeof(*c->volumes));
    ARCA_ENSURE(c->volumes != NULL, ARCA_ERR_ALLOC, "configuration: volumes: out of memory");
    for (size_t i = 0; i < n; i++) {
        c->nvolumes = i + 1; /* counted first: a half-filled entry is freed too */
        ARCA_TRY(parse_volume(json_array_get(a, i), i, &c->volumes[i]));
        for (size_t j = 0; j < i; j++) {
            ARCA_ENSURE(!paths_nest(c->volumes[j].path, c->volumes[i].path), ARCA_ERR_FORMAT,
                        "configuration: volumes[%zu].path: same as or nested with volumes[%zu]", i,
                        j);
            ARCA_ENSURE(strcmp(c->volumes[j].name, c->volumes[i].name) != 0, ARCA_ERR_FORMAT,
                        "configuration: volumes[%zu].name: same name as volumes[%zu]", i, j);
        }
    }
    return 0;
}

int arca_launch_config_decode(const void *json, size_t len, struct arca_launch_config *out)
{
    ARCA_ENSURE_REF(json);
    ARCA_ENSURE_REF(out);
    memset(out, 0, sizeof(*out));
    ARCA_ENSURE(len <= ARCA_LAUNCH_CONFIG_MAX_BYTES, ARCA_ERR_TOO_LARGE,
                "configuration: %zu bytes (at most %zu)", len, ARCA_LAUNCH_CONFIG_MAX_BYTES);
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (root == NULL)
        /* Not jerr.text: jansson quotes the token "near" the error, which may be a secret. */
        ARCA_BAIL(ARCA_ERR_FORMAT, "configuration: not JSON (line %d column %d)", jerr.line,
                  jerr.column);
    static const char *const members[] = {K_ARGV,    K_ENV,    K_PWD,    K_FILES,
                                          K_VOLUMES, K_VTOKEN, K_PTOKEN, NULL};
    int rc = 0;
    ARCA_GUARD_ENSURE(rc, json_is_object(root), out, ARCA_ERR_FORMAT,
                      "configuration: not a JSON object");
    ARCA_GUARD(rc, only_members(root, "top level", members), out);
    json_t *argv = json_object_get(root, K_ARGV);
    json_t *env = json_object_get(root, K_ENV);
    json_t *pwd = json_object_get(root, K_PWD);
    json_t *files = json_object_get(root, K_FILES);
    json_t *volumes = json_object_get(root, K_VOLUMES);
    json_t *vtoken = json_object_get(root, K_VTOKEN);
    ARCA_GUARD_ENSURE(rc, argv != NULL, out, ARCA_ERR_FORMAT, "configuration: argv: missing");
    ARCA_GUARD_ENSURE(rc, env != NULL, out, ARCA_ERR_FORMAT, "configuration: env: missing");
    ARCA_GUARD_ENSURE(rc, json_is_string(pwd), out, ARCA_ERR_FORMAT,
                      "configuration: pwd: missing or not a string");
    ARCA_GUARD_ENSURE(rc, path_is_normal(json_string_value(pwd), json_string_length(pwd)), out,
                      ARCA_ERR_FORMAT, "configuration: pwd: not a normalised absolute path");
    ARCA_GUARD(rc, parse_argv(argv, out), out);
    ARCA_GUARD(rc, parse_env(env, out), out);
    out->pwd = strndup(json_string_value(pwd), json_string_length(pwd));
    ARCA_GUARD_ENSURE(rc, out->pwd != NULL, out, ARCA_ERR_ALLOC, "configuration: out of memory");
    if (files != NULL)
        ARCA_GUARD(rc, parse_files(files, out), out);
    else {
        out->files = calloc(1, sizeof(*out->files));
        ARCA_GUARD_ENSURE(rc, out->files != NULL, out, ARCA_ERR_ALLOC,
                          "configuration: out of memory");
    }
    if (volumes != NULL)
        ARCA_GUARD(rc, parse_volumes(volumes, out), out);
    if (vtoken != NULL) {
        ARCA_GUARD(rc, parse_hex(vtoken, out->volume_token, sizeof(out->volume_token), K_VTOKEN),
                   out);
        out->has_volume_token = true;
    }
    json_t *ptoken = json_object_get(root, K_PTOKEN);
    if (ptoken != NULL) {
        ARCA_GUARD(rc, parse_hex(ptoken, out->provide_token, sizeof(out->provide_token), K_PTOKEN),
                   out);
        out->has_provide_token = true;
    }
out:
    json_decref(root);
    if (rc < 0)
        arca_launch_config_free(out);
    return rc;
}
