#include "base/path.h"

#include <string.h>

#include "base/err.h"

int arca_path_check(const char *path, size_t len)
{
    ARCA_ENSURE(path != NULL && len > 0, ARCA_ERR_FORMAT, "path: empty");
    ARCA_ENSURE(len <= ARCA_PATH_MAX, ARCA_ERR_FORMAT, "path: %zu bytes, more than %d", len,
                ARCA_PATH_MAX);
    ARCA_ENSURE(path[0] == '/', ARCA_ERR_FORMAT, "path: not absolute (does not start with '/')");
    const char *nul = memchr(path, '\0', len);
    ARCA_ENSURE(nul == NULL, ARCA_ERR_FORMAT, "path: NUL byte at offset %zu",
                nul != NULL ? (size_t)(nul - path) : 0);
    if (len == 1)
        return 0;
    ARCA_ENSURE(path[len - 1] != '/', ARCA_ERR_FORMAT, "path: trailing '/'");
    /* Every component starts after a '/' and runs to the next one or the end. */
    for (size_t i = 1; i <= len;) {
        size_t j = i;
        while (j < len && path[j] != '/')
            j++;
        size_t n = j - i;
        ARCA_ENSURE(n > 0, ARCA_ERR_FORMAT, "path: empty component ('//') at offset %zu", i - 1);
        ARCA_ENSURE(!(n == 1 && path[i] == '.'), ARCA_ERR_FORMAT,
                    "path: '.' component at offset %zu", i);
        ARCA_ENSURE(!(n == 2 && path[i] == '.' && path[i + 1] == '.'), ARCA_ERR_FORMAT,
                    "path: '..' component at offset %zu", i);
        ARCA_ENSURE(n <= ARCA_PATH_NAME_MAX, ARCA_ERR_FORMAT,
                    "path: component at offset %zu is longer than %d bytes", i, ARCA_PATH_NAME_MAX);
        i = j + 1;
    }
    return 0;
}

bool arca_path_next(const char *path, size_t len, size_t *off, const char **name, size_t *name_len,
                    bool *is_last)
{
    size_t i = *off;
    while (i < len && path[i] == '/')
        i++;
    if (i >= len)
        return false;
    size_t j = i;
    while (j < len && path[j] != '/')
        j++;
    *name = path + i;
    *name_len = j - i;
    *is_last = j >= len;
    *off = j;
    return true;
}
