/* Strict JSON for signed documents (signed_json.h): the jansson loader and the raw scanner. */
#include "evidence/signed_json.h"

#include <jansson.h>
#include <stdbool.h>
#include <string.h>

#include "base/err.h"

int arca_json_load_object(const char *json, size_t n, const char *what, json_t **root)
{
    json_error_t jerr;
    ARCA_ENSURE_REF(json);
    ARCA_ENSURE_REF(what);
    ARCA_ENSURE_REF(root);
    json_t *j = json_loadb(json, n, JSON_REJECT_DUPLICATES, &jerr);
    ARCA_ENSURE(j != NULL, ARCA_ERR_FORMAT, "%s: JSON error at line %d column %d: %s", what,
                jerr.line, jerr.column, jerr.text);
    if (!json_is_object(j)) {
        json_decref(j);
        ARCA_BAIL(ARCA_ERR_FORMAT, "%s: the JSON document is not an object", what);
    }
    *root = j;
    return 0;
}

/* ---- raw member scanner ------------------------------------------------------------------ */

static size_t skip_ws(const char *s, size_t i, size_t n)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* s[i] == '"': returns the index just past the closing quote, or 0 on error. */
static size_t skip_string(const char *s, size_t i, size_t n)
{
    for (i++; i < n; i++) {
        if (s[i] == '\\') {
            i++;
            continue;
        }
        if (s[i] == '"')
            return i + 1;
    }
    return 0;
}

/* Returns the index just past the value starting at s[i], or 0 on error. Depth-limited. */
static size_t skip_value(const char *s, size_t i, size_t n)
{
    int depth = 0;
    if (i >= n)
        return 0;
    if (s[i] == '"')
        return skip_string(s, i, n);
    if (s[i] != '{' && s[i] != '[') {
        while (i < n && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\n' &&
               s[i] != '\r' && s[i] != '\t')
            i++;
        return i;
    }
    for (; i < n; i++) {
        if (s[i] == '"') {
            size_t j = skip_string(s, i, n);
            if (!j)
                return 0;
            i = j - 1;
        } else if (s[i] == '{' || s[i] == '[') {
            if (++depth > 64)
                return 0;
        } else if (s[i] == '}' || s[i] == ']') {
            if (--depth == 0)
                return i + 1;
        }
    }
    return 0;
}

int arca_json_raw_member(const char *json, size_t n, const char *key, const char **start,
                         size_t *len)
{
    struct {
        size_t off, len;
    } seen[ARCA_JSON_RAW_MAX_MEMBERS];
    size_t nseen = 0, found = 0, found_len = 0;
    bool have = false;

    ARCA_ENSURE_REF(json);
    ARCA_ENSURE_REF(key);
    ARCA_ENSURE_REF(start);
    ARCA_ENSURE_REF(len);
    size_t i = skip_ws(json, 0, n), klen = strlen(key);
    ARCA_ENSURE(i < n && json[i] == '{', ARCA_ERR_FORMAT, "JSON: expected an object at offset %zu",
                i);
    i = skip_ws(json, i + 1, n);
    bool more = i < n && json[i] != '}';
    while (more) {
        ARCA_ENSURE(i < n && json[i] == '"', ARCA_ERR_FORMAT,
                    "JSON: expected a member name at offset %zu", i);
        size_t kend = skip_string(json, i, n);
        ARCA_ENSURE(kend, ARCA_ERR_FORMAT, "JSON: unterminated string at offset %zu", i);
        size_t name = i + 1, nlen = kend - i - 2;
        /* Compared as written, so an escape could hide a duplicate: refuse it. */
        ARCA_ENSURE(memchr(json + name, '\\', nlen) == NULL, ARCA_ERR_FORMAT,
                    "JSON: escape sequence in the member name at offset %zu", i);
        bool match = nlen == klen && memcmp(json + name, key, klen) == 0;
        for (size_t k = 0; k < nseen; k++) {
            if (seen[k].len != nlen || memcmp(json + seen[k].off, json + name, nlen) != 0)
                continue;
            if (match)
                ARCA_BAIL(ARCA_ERR_FORMAT, "JSON: duplicate member \"%s\" at offset %zu", key, i);
            ARCA_BAIL(ARCA_ERR_FORMAT, "JSON: duplicate member name at offset %zu", i);
        }
        ARCA_ENSURE(nseen < ARCA_JSON_RAW_MAX_MEMBERS, ARCA_ERR_TOO_LARGE,
                    "JSON: more than %d members in the object", ARCA_JSON_RAW_MAX_MEMBERS);
        seen[nseen].off = name;
        seen[nseen].len = nlen;
        nseen++;
        i = skip_ws(json, kend, n);
        ARCA_ENSURE(i < n && json[i] == ':', ARCA_ERR_FORMAT, "JSON: expected ':' at offset %zu",
                    i);
        i = skip_ws(json, i + 1, n);
        size_t vend = skip_value(json, i, n);
        ARCA_ENSURE(vend > i, ARCA_ERR_FORMAT, "JSON: bad value at offset %zu", i);
        if (match) {
            have = true;
            found = i;
            found_len = vend - i;
        }
        i = skip_ws(json, vend, n);
        ARCA_ENSURE(i < n && (json[i] == ',' || json[i] == '}'), ARCA_ERR_FORMAT,
                    "JSON: expected ',' or '}' at offset %zu", i);
        more = json[i] == ',';
        if (more)
            i = skip_ws(json, i + 1, n);
    }
    ARCA_ENSURE(i < n && json[i] == '}', ARCA_ERR_FORMAT, "JSON: unterminated object");
    i = skip_ws(json, i + 1, n);
    ARCA_ENSURE(i == n, ARCA_ERR_FORMAT, "JSON: unexpected bytes after the object at offset %zu",
                i);
    ARCA_ENSURE(have, ARCA_ERR_NOT_FOUND, "JSON: no member \"%s\"", key);
    *start = json + found;
    *len = found_len;
    return 0;
}
