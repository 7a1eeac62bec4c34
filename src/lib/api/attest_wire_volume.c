/*
 * POST /v1/volumes/tag on the enclave API (attest_wire.h): arca-run reports the root tag of a
 * volume version it wrote, with the credential its attested configuration carried.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/attest_wire.h"
#include "api/json.h"
#include "base/enc.h"
#include "base/err.h"

#define K_CONFIG_ID "config_id"
#define K_VOLUME "volume"
#define K_TOKEN "token"
#define K_OLD_TAG "old_tag"
#define K_TAG "tag"

void arca_volume_report_free(struct arca_volume_report *r)
{
    if (r == NULL)
        return;
    free(r->config_id);
    free(r->volume);
    arca_wipe(r, sizeof(*r));
}

/* "KEY":"HEX" with a leading comma unless first. */
static int put_hex(struct arca_buf *out, const char *key, const uint8_t *p, size_t n, bool first)
{
    ARCA_TRY(arca_buf_printf(out, "%s\"%s\":\"", first ? "" : ",", key));
    ARCA_TRY(arca_hex_encode(out, p, n));
    return arca_buf_put_u8(out, '"');
}

int arca_volume_report_encode(const struct arca_volume_report *r, struct arca_buf *out)
{
    ARCA_ENSURE_REF(r);
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE(r->config_id != NULL && r->volume != NULL && arca_json_plain_text(r->config_id) &&
                    arca_json_plain_text(r->volume),
                ARCA_ERR_INVALID_ARG, "volume report: bad config id or volume name");
    struct arca_buf j;
    arca_buf_init_secret(&j, 0);
    int rc = arca_buf_printf(&j, "{\"%s\":\"%s\",\"%s\":\"%s\"", K_CONFIG_ID, r->config_id,
                             K_VOLUME, r->volume);
    if (rc == 0)
        rc = put_hex(&j, K_TOKEN, r->token, sizeof(r->token), false);
    if (rc == 0 && r->has_old_tag)
        rc = put_hex(&j, K_OLD_TAG, r->old_tag, 16, false);
    if (rc == 0)
        rc = put_hex(&j, K_TAG, r->tag, 16, false);
    if (rc == 0)
        rc = arca_buf_put_u8(&j, '}');
    if (rc == 0)
        rc = arca_buf_put(out, j.data, j.len);
    arca_buf_free(&j);
    return rc;
}

static int get_hex(const json_t *body, const char *key, uint8_t *out, size_t n, bool *present)
{
    json_t *v = json_object_get(body, key);
    if (v == NULL && present != NULL) {
        *present = false;
        return 0;
    }
    ARCA_ENSURE(json_is_string(v) &&
                    arca_hex_decode_fixed(out, n, json_string_value(v), json_string_length(v)) == 0,
                ARCA_ERR_FORMAT, "%s: missing or not %zu hex digits", key, 2 * n);
    if (present != NULL)
        *present = true;
    return 0;
}

static int get_name(const json_t *body, const char *key, size_t max, char **out)
{
    json_t *v = json_object_get(body, key);
    ARCA_ENSURE(json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) <= max &&
                    memchr(json_string_value(v), '\0', json_string_length(v)) == NULL,
                ARCA_ERR_FORMAT, "%s: missing, empty, longer than %zu bytes or with NUL", key, max);
    *out = strndup(json_string_value(v), json_string_length(v));
    ARCA_ENSURE(*out != NULL, ARCA_ERR_ALLOC, "volume report: out of memory");
    return 0;
}

int arca_volume_report_decode_json(const json_t *body, struct arca_volume_report *r)
{
    ARCA_ENSURE_REF(body);
    ARCA_ENSURE_REF(r);
    memset(r, 0, sizeof(*r));
    ARCA_ENSURE(json_is_object(body), ARCA_ERR_FORMAT, "volume report: not a JSON object");
    static const char *const allowed[] = {K_CONFIG_ID, K_VOLUME, K_TOKEN, K_OLD_TAG, K_TAG, NULL};
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)body, key, v)
    {
        bool ok = false;
        for (size_t i = 0; allowed[i] != NULL; i++)
            ok = ok || strcmp(key, allowed[i]) == 0;
        ARCA_ENSURE(ok, ARCA_ERR_FORMAT, "volume report: unknown member \"%.64s\"", key);
    }
    int rc = 0;
    ARCA_GUARD(rc, get_name(body, K_CONFIG_ID, 4096, &r->config_id), fail);
    ARCA_GUARD(rc, get_name(body, K_VOLUME, ARCA_LAUNCH_VOLUME_NAME_MAX, &r->volume), fail);
    ARCA_GUARD(rc, get_hex(body, K_TOKEN, r->token, sizeof(r->token), NULL), fail);
    ARCA_GUARD(rc, get_hex(body, K_OLD_TAG, r->old_tag, 16, &r->has_old_tag), fail);
    ARCA_GUARD(rc, get_hex(body, K_TAG, r->tag, 16, NULL), fail);
    return 0;
fail:
    arca_volume_report_free(r);
    return rc;
}
