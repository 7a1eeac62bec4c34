#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char err_detail[ARCA_ERR_DETAIL_MAX];

const char *arca_strerror(int code)
{
    switch (code) {
    case ARCA_OK:
        return "success";
    case ARCA_ERR_INTERNAL:
        return "internal error";
    case ARCA_ERR_ALLOC:
        return "out of memory";
    case ARCA_ERR_INVALID_ARG:
        return "invalid argument";
    case ARCA_ERR_FORMAT:
        return "malformed input";
    case ARCA_ERR_TRUNCATED:
        return "input truncated";
    case ARCA_ERR_TOO_LARGE:
        return "too large";
    case ARCA_ERR_CRYPTO:
        return "cryptographic operation failed";
    case ARCA_ERR_SIGNATURE:
        return "signature does not verify";
    case ARCA_ERR_NOT_FOUND:
        return "not found";
    case ARCA_ERR_EXISTS:
        return "already exists";
    case ARCA_ERR_CONFLICT:
        return "conflict";
    case ARCA_ERR_DENIED:
        return "permission denied";
    case ARCA_ERR_UNAUTHENTICATED:
        return "not authenticated";
    case ARCA_ERR_IO:
        return "I/O error";
    case ARCA_ERR_TAMPERED:
        return "integrity check failed (tampered data)";
    case ARCA_ERR_EXPIRED:
        return "outside validity period";
    case ARCA_ERR_UNSUPPORTED:
        return "not supported by arca";
    case ARCA_ERR_POLICY:
        return "policy not satisfied";
    case ARCA_ERR_CERT:
        return "certificate verification failed";
    case ARCA_ERR_REVOKED:
        return "certificate revoked";
    case ARCA_ERR_NETWORK:
        return "network error";
    case ARCA_ERR_TIMEOUT:
        return "timed out";
    case ARCA_ERR_LIMIT:
        return "limit exceeded";
    case ARCA_ERR_REPLAY:
        return "replayed single-use value";
    case ARCA_ERR_INSECURE:
        return "refused as insecure";
    default:
        return "unknown error";
    }
}

int arca_err_set(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_detail, sizeof(err_detail), fmt, ap);
    va_end(ap);
    return code;
}

int arca_err_wrap(int code, const char *fmt, ...)
{
    char prefix[ARCA_ERR_DETAIL_MAX];
    char old[ARCA_ERR_DETAIL_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err_detail, sizeof(old));
    size_t n = strlen(prefix);
    memcpy(err_detail, prefix, n + 1);
    if (old[0] != '\0' && n + 2 < sizeof(err_detail)) {
        memcpy(err_detail + n, ": ", 3);
        size_t room = sizeof(err_detail) - n - 3;
        size_t olen = strnlen(old, room);
        memcpy(err_detail + n + 2, old, olen);
        err_detail[n + 2 + olen] = '\0';
    }
    return code;
}

const char *arca_err_detail(void)
{
    return err_detail;
}

void arca_err_clear(void)
{
    err_detail[0] = '\0';
}
