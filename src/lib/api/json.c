/* Strict JSON parsing, the error body and the wiping jansson allocator (api/json.h). */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "api/json.h"
#include "base/err.h"

static void *json_wipe_malloc(size_t n)
{
    return malloc(n);
}

/* jansson does not pass sizes to its free function: the allocator knows the block's size. */
static void json_wipe_free(void *p)
{
    if (p == NULL)
        return;
    arca_wipe(p, malloc_usable_size(p));
    free(p);
}

void arca_json_wipe_on_free(void)
{
    json_set_alloc_funcs(json_wipe_malloc, json_wipe_free);
}

int arca_json_parse_object(const void *p, size_t n, const char *what, json_t **out)
{
    ARCA_ENSURE_REF(out);
    ARCA_ENSURE_REF(what);
    ARCA_ENSURE(p != NULL && n > 0, ARCA_ERR_FORMAT, "%s: empty, expected a JSON object", what);
    json_error_t jerr;
    json_t *j = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, &jerr);
    ARCA_ENSURE(j != NULL, ARCA_ERR_FORMAT, "%s: invalid JSON at line %d column %d", what,
                jerr.line, jerr.column);
    if (!json_is_object(j)) {
        json_decref(j);
        ARCA_BAIL(ARCA_ERR_FORMAT, "%s: expected a JSON object", what);
    }
    *out = j;
    return 0;
}

int arca_json_dump(const json_t *j, bool sorted, struct arca_buf *out)
{
    ARCA_ENSURE_REF(j);
    ARCA_ENSURE_REF(out);
    char *s = json_dumps(j, JSON_COMPACT | (sorted ? JSON_SORT_KEYS : 0));
    ARCA_ENSURE(s != NULL, ARCA_ERR_ALLOC, "JSON: out of memory");
    size_t n = strlen(s);
    arca_buf_reset(out);
    int rc = arca_buf_put(out, s, n);
    arca_wipe(s, n);
    free(s);
    return rc;
}

json_t *arca_api_error_new(const char *const *msgs, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < n; i++)
        if (json_array_append_new(a, json_string(msgs[i])) != 0) {
            json_decref(a);
            a = NULL;
        }
    return a != NULL ? json_pack("{s:o}", ARCA_API_KEY_MSG, a) : NULL;
}

size_t arca_api_error_join(const json_t *j, struct arca_buf *out)
{
    size_t i, found = 0;
    json_t *v;
    json_array_foreach(json_object_get(j, ARCA_API_KEY_MSG), i, v)
    {
        if (json_is_string(v) &&
            arca_buf_printf(out, "%s%s", found ? "; " : "", json_string_value(v)) == 0)
            found++;
    }
    return found;
}

int arca_api_status_err(long status)
{
    switch (status) {
    case 400:
        return ARCA_ERR_FORMAT;
    case 401:
        return ARCA_ERR_UNAUTHENTICATED;
    case 403:
        return ARCA_ERR_DENIED;
    case 404:
        return ARCA_ERR_NOT_FOUND;
    case 409:
        return ARCA_ERR_CONFLICT;
    case 413:
        return ARCA_ERR_TOO_LARGE;
    default:
        return ARCA_ERR_NETWORK;
    }
}

bool arca_json_plain_text(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == '"' || *s == '\\')
            return false;
    return true;
}
