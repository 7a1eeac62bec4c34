/*
 * Time as int64 seconds since the Unix epoch (UTC). Verifiers never read the clock: they take
 * "now" as a parameter; only programs call arca_time_now().
 */
#ifndef ARCA_BASE_TIME_H
#define ARCA_BASE_TIME_H

#include <stddef.h>
#include <stdint.h>

int64_t arca_time_now(void);
/* Monotonic milliseconds, for timeouts and latency. */
int64_t arca_time_mono_ms(void);

/* Parses RFC 3339 / ISO 8601 ("2024-05-01T12:00:00Z", fractional seconds and "+hh:mm" offsets
 * allowed). ARCA_ERR_FORMAT on anything else. */
int arca_time_parse_rfc3339(const char *s, int64_t *out);
/* Formats as "YYYY-MM-DDTHH:MM:SSZ" into out (at least ARCA_TIME_RFC3339_LEN bytes). */
#define ARCA_TIME_RFC3339_LEN 32
void arca_time_format_rfc3339(int64_t t, char *out);

/* Parses a duration as the session language writes valid_for: a positive number and a unit,
 * with or without a space: "59d", "90 days", "1 year", "12h", "30 minutes", "3600s", "2 weeks".
 * Units: s/sec/second(s), m/min/minute(s), h/hour(s), d/day(s), w/week(s), y/year(s) (365 d).
 * ARCA_ERR_FORMAT otherwise. */
int arca_duration_parse(const char *s, int64_t *seconds);

#endif
