/*
 * The enclave API's challenge and attest request on the wire (attest_wire.h). The answer, the
 * launch configuration, is in attest_wire_config.c.
 */
#include "api/attest_wire.h"

#include <stdlib.h>
#include <string.h>

#include "base/enc.h"
#include "base/err.h"

#define K_NONCE "nonce"
#define K_EXPIRES_IN "expires_in"
#define K_CONFIG_ID "config_id"
#define K_EVIDENCE_TYPE "evidence_type"
#define K_EVIDENCE "evidence"
#define K_AUX "aux"
#define K_ACCESS_TOKEN "access_token"
#define K_HOST "host"
#define K_HOST_ARGV "argv"
#define K_HOST_ENV "env"

/* ---- challenge ---------------------------------------------------------------------------- */

json_t *arca_challenge_answer_encode(const struct arca_challenge_answer *a)
{
    char hex[2 * ARCA_LAUNCH_NONCE_LEN + 1];
    arca_hex_fmt(hex, a->nonce, sizeof(a->nonce));
    return json_pack("{s:s, s:I}", K_NONCE, hex, K_EXPIRES_IN, (json_int_t)a->expires_in);
}

int arca_challenge_answer_decode(const void *p, size_t n, struct arca_challenge_answer *out)
{
    ARCA_ENSURE_REF(out);
    memset(out, 0, sizeof(*out));
    json_t *j = p != NULL ? json_loadb(p, n, JSON_REJECT_DUPLICATES, NULL) : NULL;
    json_t *nonce = json_is_object(j) ? json_object_get(j, K_NONCE) : NULL;
    json_t *exp = json_is_object(j) ? json_object_get(j, K_EXPIRES_IN) : NULL;
    int rc = 0;
    if (!json_is_string(nonce)) {
        rc = arca_err_set(ARCA_ERR_FORMAT, "answer has no nonce");
    } else {
        rc = arca_hex_decode_fixed(out->nonce, sizeof(out->nonce), json_string_value(nonce),
                                   json_string_length(nonce));
        if (rc < 0)
            rc = arca_err_wrap(rc, "nonce");
    }
    if (rc == 0 && exp != NULL && !json_is_integer(exp))
        rc = arca_err_set(ARCA_ERR_FORMAT, "expires_in: not an integer");
    if (rc == 0 && exp != NULL)
        out->expires_in = json_integer_value(exp);
    json_decref(j);
    if (rc < 0)
        memset(out, 0, sizeof(*out));
    return rc;
}

/* ---- attest request ----------------------------------------------------------------------- */

void arca_attest_request_init(struct arca_attest_request *r)
{
    memset(r, 0, sizeof(*r));
    arca_buf_init(&r->evidence, ARCA_ATTEST_EVIDENCE_MAX);
    arca_buf_init(&r->aux, ARCA_ATTEST_EVIDENCE_MAX);
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++)
        arca_wipe_free_str(v[i]);
    free(v);
}

static void host_free(struct arca_attest_request *r)
{
    free_strv(r->host_argv, r->host_argc);
    free_strv(r->host_env_names, r->host_n_env);
    free_strv(r->host_env_values, r->host_n_env);
    r->host_argv = r->host_env_names = r->host_env_values = NULL;
    r->host_argc = r->host_n_env = 0;
}

void arca_attest_request_free(struct arca_attest_request *r)
{
    if (r == NULL)
        return;
    free(r->config_id);
    arca_wipe_free_str(r->access_token);
    arca_buf_free(&r->evidence);
    arca_buf_free(&r->aux);
    host_free(r);
    memset(r, 0, sizeof(*r));
}

int arca_attest_request_set_host(struct arca_attest_request *r, char *const *argv, size_t argc,
                                 char *const *envp)
{
    ARCA_ENSURE_REF(r);
    ARCA_ENSURE(argc == 0 || argv != NULL, ARCA_ERR_INVALID_ARG, "host: argv is NULL");
    host_free(r);
    size_t nenv = 0;
    for (char *const *e = envp; e != NULL && *e != NULL; e++)
        nenv++;
    ARCA_ENSURE(argc <= ARCA_ATTEST_HOST_MAX && nenv <= ARCA_ATTEST_HOST_MAX, ARCA_ERR_TOO_LARGE,
                "host: more than %d arguments or environment variables", ARCA_ATTEST_HOST_MAX);
    r->host_argv = calloc(argc + 1, sizeof(char *));
    r->host_env_names = calloc(nenv + 1, sizeof(char *));
    r->host_env_values = calloc(nenv + 1, sizeof(char *));
    int rc = 0;
    ARCA_GUARD_ENSURE(rc, r->host_argv && r->host_env_names && r->host_env_values, fail,
                      ARCA_ERR_ALLOC, "host: out of memory");
    for (size_t i = 0; i < argc; i++) {
        r->host_argv[i] = strdup(argv[i]);
        ARCA_GUARD_ENSURE(rc, r->host_argv[i] != NULL, fail, ARCA_ERR_ALLOC, "host: out of memory");
        r->host_argc = i + 1;
    }
    for (char *const *e = envp; e != NULL && *e != NULL; e++) {
        const char *eq = strchr(*e, '=');
        if (eq == NULL || eq == *e)
            continue;
        size_t i = r->host_n_env;
        r->host_env_names[i] = strndup(*e, (size_t)(eq - *e));
        r->host_env_values[i] = strdup(eq + 1);
        r->host_n_env = i + 1; /* counted first: a half-filled entry is freed too */
        ARCA_GUARD_ENSURE(rc, r->host_env_names[i] && r->host_env_values[i], fail, ARCA_ERR_ALLOC,
                          "host: out of memory");
    }
    return 0;
fail:
    host_free(r);
    return rc;
}

static int set_b64(json_t *obj, const char *key, const struct arca_buf *b)
{
    struct arca_buf enc;
    arca_buf_init(&enc, 0);
    int rc = arca_base64_encode(&enc, b->data, b->len);
    if (rc == 0 && json_object_set_new(obj, key, json_string(arca_buf_cstr(&enc))) != 0)
        rc = arca_err_set(ARCA_ERR_ALLOC, "attest request: out of memory");
    arca_buf_free(&enc);
    return rc;
}

/* Builds the request object; *out is a new reference. */
static int request_json(const struct arca_attest_request *r, json_t **out)
{
    int rc = 0;
    json_t *req = json_object();
    json_t *host = json_object();
    json_t *hargv = json_array();
    json_t *henv = json_object();
    ARCA_GUARD_ENSURE(rc, req && host && hargv && henv, done, ARCA_ERR_ALLOC,
                      "attest request: out of memory");
    const char *type = arca_evidence_type_name(r->evidence_type);
    ARCA_GUARD_ENSURE(rc, r->config_id != NULL && type != NULL, done, ARCA_ERR_INVALID_ARG,
                      "attest request: no config id or evidence type");
    char nhex[2 * ARCA_LAUNCH_NONCE_LEN + 1];
    arca_hex_fmt(nhex, r->nonce, ARCA_LAUNCH_NONCE_LEN);
    json_t *id = json_string(r->config_id);
    ARCA_GUARD_ENSURE(rc, id != NULL, done, ARCA_ERR_FORMAT, "config id: not UTF-8");
    json_object_set_new(req, K_CONFIG_ID, id);
    json_object_set_new(req, K_NONCE, json_string(nhex));
    json_object_set_new(req, K_EVIDENCE_TYPE, json_string(type));
    ARCA_GUARD(rc, set_b64(req, K_EVIDENCE, &r->evidence), done);
    if (r->aux.len > 0)
        ARCA_GUARD(rc, set_b64(req, K_AUX, &r->aux), done);
    if (r->access_token != NULL) {
        json_t *t = json_string(r->access_token);
        ARCA_GUARD_ENSURE(rc, t != NULL, done, ARCA_ERR_FORMAT, "access token: not UTF-8");
        json_object_set_new(req, K_ACCESS_TOKEN, t);
    }
    for (size_t i = 0; i < r->host_argc; i++) {
        json_t *s = json_string(r->host_argv[i]);
        ARCA_GUARD_ENSURE(rc, s != NULL, done, ARCA_ERR_FORMAT,
                          "host argument %zu is not valid UTF-8", i);
        json_array_append_new(hargv, s);
    }
    for (size_t i = 0; i < r->host_n_env; i++) {
        json_t *v = json_string(r->host_env_values[i]);
        if (v == NULL)
            continue; /* not UTF-8: cannot be pulled in by \@\@NAME anyway */
        json_object_set_new(henv, r->host_env_names[i], v);
    }
    json_object_set(host, K_HOST_ARGV, hargv);
    json_object_set(host, K_HOST_ENV, henv);
    json_object_set(req, K_HOST, host);
    *out = json_incref(req);
done:
    json_decref(hargv);
    json_decref(henv);
    json_decref(host);
    json_decref(req);
    return rc;
}

int arca_attest_request_encode(const struct arca_attest_request *r, struct arca_buf *out)
{
    ARCA_ENSURE_REF(r);
    ARCA_ENSURE_REF(out);
    json_t *req = NULL;
    ARCA_TRY(request_json(r, &req));
    size_t n = json_dumpb(req, NULL, 0, JSON_COMPACT);
    int rc = n > 0 ? arca_buf_reserve(out, n)
                   : arca_err_set(ARCA_ERR_ALLOC, "attest request: out of memory");
    if (rc == 0 && json_dumpb(req, (char *)out->data + out->len, n, JSON_COMPACT) != n)
        rc = arca_err_set(ARCA_ERR_INTERNAL, "attest request: encoding changed size");
    if (rc == 0)
        out->len += n;
    json_decref(req);
    return rc;
}

static int get_b64(const json_t *body, const char *name, bool required, struct arca_buf *out)
{
    json_t *v = json_object_get(body, name);
    if (v == NULL && !required)
        return 0;
    ARCA_ENSURE(json_is_string(v), ARCA_ERR_FORMAT, "%s: missing or not a base64 string", name);
    int rc = arca_base64_decode(out, json_string_value(v), json_string_length(v));
    return rc < 0 ? arca_err_wrap(rc, "%s", name) : 0;
}

static int get_host(const json_t *host, struct arca_attest_request *r)
{
    if (host == NULL)
        return 0;
    ARCA_ENSURE(json_is_object(host), ARCA_ERR_FORMAT, "host: not an object");
    json_t *argv = json_object_get(host, K_HOST_ARGV);
    json_t *env = json_object_get(host, K_HOST_ENV);
    if (argv != NULL) {
        ARCA_ENSURE(json_is_array(argv) && json_array_size(argv) <= ARCA_ATTEST_HOST_MAX,
                    ARCA_ERR_FORMAT, "host.argv: not an array of at most %d strings",
                    ARCA_ATTEST_HOST_MAX);
        r->host_argv = calloc(json_array_size(argv) + 1, sizeof(char *));
        ARCA_ENSURE(r->host_argv != NULL, ARCA_ERR_ALLOC, "out of memory");
        for (size_t i = 0; i < json_array_size(argv); i++) {
            json_t *s = json_array_get(argv, i);
            ARCA_ENSURE(json_is_string(s), ARCA_ERR_FORMAT, "host.argv[%zu]: not a string", i);
            r->host_argv[i] = strndup(json_string_value(s), json_string_length(s));
            ARCA_ENSURE(r->host_argv[i] != NULL, ARCA_ERR_ALLOC, "out of memory");
            r->host_argc = i + 1;
        }
    }
    if (env != NULL) {
        ARCA_ENSURE(json_is_object(env) && json_object_size(env) <= ARCA_ATTEST_HOST_MAX,
                    ARCA_ERR_FORMAT, "host.env: not an object of at most %d strings",
                    ARCA_ATTEST_HOST_MAX);
        size_t n = json_object_size(env);
        r->host_env_names = calloc(n + 1, sizeof(char *));
        r->host_env_values = calloc(n + 1, sizeof(char *));
        ARCA_ENSURE(r->host_env_names != NULL && r->host_env_values != NULL, ARCA_ERR_ALLOC,
                    "out of memory");
        const char *k;
        size_t klen;
        json_t *v;
        json_object_keylen_foreach((json_t *)env, k, klen, v)
        {
            ARCA_ENSURE(json_is_string(v), ARCA_ERR_FORMAT, "host.env.%.64s: not a string", k);
            size_t i = r->host_n_env;
            r->host_env_names[i] = strndup(k, klen);
            r->host_env_values[i] = strndup(json_string_value(v), json_string_length(v));
            r->host_n_env = i + 1;
            ARCA_ENSURE(r->host_env_names[i] && r->host_env_values[i], ARCA_ERR_ALLOC,
                        "out of memory");
        }
    }
    return 0;
}

int arca_attest_request_decode_json(const json_t *body, struct arca_attest_request *r)
{
    ARCA_ENSURE_REF(r);
    ARCA_ENSURE(json_is_object(body), ARCA_ERR_FORMAT, "request body: expected a JSON object");
    json_t *id = json_object_get(body, K_CONFIG_ID);
    ARCA_ENSURE(json_is_string(id), ARCA_ERR_FORMAT, "config_id: missing or not a string");
    r->config_id = strndup(json_string_value(id), json_string_length(id));
    ARCA_ENSURE(r->config_id != NULL, ARCA_ERR_ALLOC, "out of memory");
    ARCA_ENSURE(strlen(r->config_id) == json_string_length(id), ARCA_ERR_FORMAT,
                "config_id: contains a NUL byte");
    json_t *type = json_object_get(body, K_EVIDENCE_TYPE);
    ARCA_ENSURE(json_is_string(type), ARCA_ERR_FORMAT, "evidence_type: missing or not a string");
    int t = arca_evidence_type_from_wire(json_string_value(type));
    ARCA_ENSURE(t > 0, ARCA_ERR_FORMAT,
                "evidence_type: unknown (expected sim, sgx-dcap, tdx or snp)");
    r->evidence_type = (enum arca_evidence_type)t;
    ARCA_TRY(get_b64(body, K_EVIDENCE, true, &r->evidence));
    ARCA_TRY(get_b64(body, K_AUX, false, &r->aux));
    json_t *nonce = json_object_get(body, K_NONCE);
    ARCA_ENSURE(json_is_string(nonce), ARCA_ERR_FORMAT, "nonce: missing or not a string");
    int rc = arca_hex_decode_fixed(r->nonce, sizeof(r->nonce), json_string_value(nonce),
                                   json_string_length(nonce));
    if (rc < 0)
        return arca_err_wrap(rc, "nonce");
    json_t *tok = json_object_get(body, K_ACCESS_TOKEN);
    if (tok != NULL) {
        ARCA_ENSURE(json_is_string(tok), ARCA_ERR_FORMAT, "access_token: not a string");
        r->access_token = strndup(json_string_value(tok), json_string_length(tok));
        ARCA_ENSURE(r->access_token != NULL, ARCA_ERR_ALLOC, "out of memory");
    }
    return get_host(json_object_get(body, K_HOST), r);
}

int arca_attest_request_decode(const void *p, size_t n, struct arca_attest_request *r)
{
    ARCA_ENSURE_REF(r);
    ARCA_ENSURE(p != NULL && n > 0, ARCA_ERR_FORMAT, "request body: empty, expected a JSON object");
    json_error_t jerr;
    json_t *body = json_loadb(p, n, JSON_REJECT_DUPLICATES, &jerr);
    /* Only the position: jansson's text quotes the input, which may hold the token. */
    ARCA_ENSURE(body != NULL, ARCA_ERR_FORMAT, "request body: invalid JSON at line %d column %d",
                jerr.line, jerr.column);
    int rc = arca_attest_request_decode_json(body, r);
    json_decref(body);
    return rc;
}
