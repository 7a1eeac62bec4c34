/*
 * POST /v1/provided on the enclave API (attest_wire.h): an attested instance of the service a
 * secret names in provided_by uploads the value, with the credential its configuration
 * carried. The value travels as the session language's `value` text for the secret's kind.
 */
#include <stdlib.h>
#include <string.h>

#include "api/attest_wire.h"
#include "api/json.h"
#include "base/enc.h"
#include "base/err.h"

#define K_CONFIG_ID "config_id"
#define K_SECRET "secret"
#define K_TOKEN "token"
#define K_VALUE "value"

void arca_provided_upload_free(struct arca_provided_upload *u)
{
    if (u == NULL)
        return;
    free(u->config_id);
    free(u->secret);
    arca_buf_free(&u->value);
    arca_wipe(u, sizeof(*u));
}

/* The value as a JSON string: UTF-8 checked by jansson, escaped by it, into a secret buffer. */
static int put_value(struct arca_buf *j, const struct arca_buf *v)
{
    ARCA_ENSURE(memchr(v->data, '\0', v->len) == NULL, ARCA_ERR_INVALID_ARG,
                "provided value: contains a NUL byte (binary values are given in hex)");
    json_t *s = json_stringn((const char *)v->data, v->len);
    ARCA_ENSURE(s != NULL, ARCA_ERR_INVALID_ARG, "provided value: not UTF-8 text");
    char *text = json_dumps(s, JSON_ENCODE_ANY);
    json_decref(s);
    ARCA_ENSURE(text != NULL, ARCA_ERR_ALLOC, "provided value: out of memory");
    size_t n = strlen(text);
    int rc = arca_buf_put(j, text, n);
    arca_wipe(text, n);
    free(text);
    return rc;
}

int arca_provided_upload_encode(const struct arca_provided_upload *u, struct arca_buf *out)
{
    ARCA_ENSURE_REF(u);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(u->config_id != NULL && u->secret != NULL && arca_json_plain_text(u->config_id) &&
                    arca_json_plain_text(u->secret),
                ARCA_ERR_INVALID_ARG, "provided upload: bad config id or secret name");
    struct arca_buf j;
    arca_buf_init_secret(&j, 0);
    int rc = arca_buf_printf(&j, "{\"%s\":\"%s\",\"%s\":\"%s\",\"%s\":\"", K_CONFIG_ID,
                             u->config_id, K_SECRET, u->secret, K_TOKEN);
    if (rc == 0)
        rc = arca_hex_encode(&j, u->token, sizeof(u->token));
    if (rc == 0)
        rc = arca_buf_printf(&j, "\",\"%s\":", K_VALUE);
    if (rc == 0)
        rc = put_value(&j, &u->value);
    if (rc == 0)
        rc = arca_buf_put_u8(&j, '}');
    if (rc == 0)
        rc = arca_buf_put(out, j.data, j.len);
    arca_buf_free(&j);
    return rc;
}

static int get_str(const json_t *body, const char *key, size_t max, const char **p, size_t *n)
{
    json_t *v = json_object_get(body, key);
    ARCA_ENSURE(json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) <= max &&
                    memchr(json_string_value(v), '\0', json_string_length(v)) == NULL,
                ARCA_ERR_FORMAT, "%s: missing, empty, longer than %zu bytes or with NUL", key, max);
    *p = json_string_value(v);
    *n = json_string_length(v);
    return 0;
}

static int get_name(const json_t *body, const char *key, size_t max, char **out)
{
    const char *p;
    size_t n;
    ARCA_TRY(get_str(body, key, max, &p, &n));
    *out = strndup(p, n);
    ARCA_ENSURE(*out != NULL, ARCA_ERR_ALLOC, "provided upload: out of memory");
    return 0;
}

int arca_provided_upload_decode_json(const json_t *body, struct arca_provided_upload *u)
{
    ARCA_ENSURE_REF(body);
    ARCA_ENSURE_REF(u);
    memset(u, 0, sizeof(*u));
    arca_buf_init_secret(&u->value, ARCA_PROVIDED_VALUE_MAX);
    ARCA_ENSURE(json_is_object(body), ARCA_ERR_FORMAT, "provided upload: not a JSON object");
    static const char *const allowed[] = {K_CONFIG_ID, K_SECRET, K_TOKEN, K_VALUE, NULL};
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)body, key, v)
    {
        bool ok = false;
        for (size_t i = 0; allowed[i] != NULL; i++)
            ok = ok || strcmp(key, allowed[i]) == 0;
        ARCA_ENSURE(ok, ARCA_ERR_FORMAT, "provided upload: unknown member \"%.64s\"", key);
    }
    int rc = 0;
    const char *p;
    size_t n;
    ARCA_GUARD(rc, get_name(body, K_CONFIG_ID, 4096, &u->config_id), fail);
    ARCA_GUARD(rc, get_name(body, K_SECRET, 256, &u->secret), fail);
    json_t *t = json_object_get(body, K_TOKEN);
    ARCA_GUARD_ENSURE(
        rc,
        json_is_string(t) && arca_hex_decode_fixed(u->token, sizeof(u->token), json_string_value(t),
                                                   json_string_length(t)) == 0,
        fail, ARCA_ERR_FORMAT, "%s: missing or not %zu hex digits", K_TOKEN, 2 * sizeof(u->token));
    ARCA_GUARD(rc, get_str(body, K_VALUE, ARCA_PROVIDED_VALUE_MAX, &p, &n), fail);
    ARCA_GUARD(rc, arca_buf_put(&u->value, p, n), fail);
    return 0;
fail:
    arca_provided_upload_free(u);
    return rc;
}
