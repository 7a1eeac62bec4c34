/*
 * Logging. One line per event on stderr: "TIME LEVEL component: message", or a JSON object per
 * line with arca_log_set_json(true).
 *
 * Secret safety: secret values only ever exist in struct arca_buf buffers marked secret and in
 * the secret engine's types, none of which has a formatting helper; the rule (checked by
 * review and by e2e tests that search every log line for every generated secret) is that
 * nothing from a secret buffer is passed to a log call. The logger also escapes control
 * characters so that untrusted input cannot forge log lines.
 */
#ifndef ARCA_BASE_LOG_H
#define ARCA_BASE_LOG_H

#include <stdbool.h>

enum arca_log_level {
    ARCA_LOG_DEBUG = 0,
    ARCA_LOG_INFO = 1,
    ARCA_LOG_WARN = 2,
    ARCA_LOG_ERROR = 3,
    ARCA_LOG_OFF = 4,
};

void arca_log_set_level(enum arca_log_level level);
void arca_log_set_json(bool json);
/* Parses "debug", "info", "warn", "error", "off"; -1 if unknown. */
int arca_log_level_parse(const char *s);

void arca_log(enum arca_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define arca_debug(comp, ...) arca_log(ARCA_LOG_DEBUG, comp, __VA_ARGS__)
#define arca_info(comp, ...) arca_log(ARCA_LOG_INFO, comp, __VA_ARGS__)
#define arca_warn(comp, ...) arca_log(ARCA_LOG_WARN, comp, __VA_ARGS__)
#define arca_error(comp, ...) arca_log(ARCA_LOG_ERROR, comp, __VA_ARGS__)

#endif
