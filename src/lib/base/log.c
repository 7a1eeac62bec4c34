#include "base/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "base/time.h"

static atomic_int log_level = ARCA_LOG_INFO;
static atomic_bool log_json = false;

void arca_log_set_level(enum arca_log_level level)
{
    atomic_store(&log_level, (int)level);
}

void arca_log_set_json(bool json)
{
    atomic_store(&log_json, json);
}

int arca_log_level_parse(const char *s)
{
    static const char *names[] = {"debug", "info", "warn", "error", "off"};
    for (int i = 0; i < 5; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

static const char *level_name(enum arca_log_level level)
{
    switch (level) {
    case ARCA_LOG_DEBUG:
        return "debug";
    case ARCA_LOG_INFO:
        return "info";
    case ARCA_LOG_WARN:
        return "warn";
    case ARCA_LOG_ERROR:
        return "error";
    default:
        return "off";
    }
}

/* Copies src into dst escaping control characters, backslash and (for JSON) quotes. */
static void escape(char *dst, size_t cap, const char *src, bool json)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)src; *p != '\0' && o + 7 < cap; p++) {
        if (*p < 0x20 || *p == 0x7f || *p == '\\' || (json && *p == '"')) {
            if (json)
                o += (size_t)snprintf(dst + o, cap - o, "\\u%04x", *p);
            else
                o += (size_t)snprintf(dst + o, cap - o, "\\x%02x", *p);
        } else {
            dst[o++] = (char)*p;
        }
    }
    dst[o] = '\0';
}

void arca_log(enum arca_log_level level, const char *component, const char *fmt, ...)
{
    if ((int)level < atomic_load(&log_level))
        return;
    char msg[2048], esc[8192], when[ARCA_TIME_RFC3339_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    arca_time_format_rfc3339(arca_time_now(), when);
    bool json = atomic_load(&log_json);
    escape(esc, sizeof(esc), msg, json);
    if (json)
        fprintf(stderr, "{\"time\":\"%s\",\"level\":\"%s\",\"component\":\"%s\",\"msg\":\"%s\"}\n",
                when, level_name(level), component, esc);
    else
        fprintf(stderr, "%s %s %s: %s\n", when, level_name(level), component, esc);
}
