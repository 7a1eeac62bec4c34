#include "base/fs.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "base/err.h"

int arca_mkdirs(const char *path, mode_t mode)
{
    char p[4096];
    size_t n = strlen(path);
    ARCA_ENSURE(n > 0 && n < sizeof(p), ARCA_ERR_INVALID_ARG, "directory path empty or too long");
    memcpy(p, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char saved = p[i];
        p[i] = '\0';
        if (mkdir(p, mode) != 0 && errno != EEXIST)
            return arca_err_set(ARCA_ERR_IO, "cannot create directory %s: %s", p, strerror(errno));
        p[i] = saved;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return arca_err_set(ARCA_ERR_IO, "%s exists and is not a directory", path);
    return 0;
}
