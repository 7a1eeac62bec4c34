#include "base/time.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"

int64_t arca_time_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

int64_t arca_time_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int read_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

int arca_time_parse_rfc3339(const char *s, int64_t *out)
{
    const char *p = s;
    int Y, M, D, h, m, sec;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (read_digits(&p, 4, &Y) || *p++ != '-' || read_digits(&p, 2, &M) || *p++ != '-' ||
        read_digits(&p, 2, &D) || (*p != 'T' && *p != 't' && *p != ' '))
        goto bad;
    p++;
    if (read_digits(&p, 2, &h) || *p++ != ':' || read_digits(&p, 2, &m) || *p++ != ':' ||
        read_digits(&p, 2, &sec))
        goto bad;
    bool leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
    if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || (M == 2 && D == 29 && !leap) || h > 23 ||
        m > 59 || sec > 59)
        goto bad;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            goto bad;
        while (isdigit((unsigned char)*p))
            p++;
    }
    int64_t offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om;
        p++;
        if (read_digits(&p, 2, &oh) || *p++ != ':' || read_digits(&p, 2, &om) || oh > 23 || om > 59)
            goto bad;
        offset = sign * (oh * 3600 + om * 60);
    } else {
        goto bad;
    }
    if (*p != '\0')
        goto bad;
    *out = days_from_civil(Y, (unsigned)M, (unsigned)D) * 86400 + h * 3600 + m * 60 + sec - offset;
    return 0;
bad:
    return arca_err_set(ARCA_ERR_FORMAT,
                        "'%.64s' is not an RFC 3339 time (like 2025-01-31T12:00:00Z)", s);
}

void arca_time_format_rfc3339(int64_t t, char *out)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (gmtime_r(&tt, &tm) == NULL) {
        snprintf(out, ARCA_TIME_RFC3339_LEN, "invalid-time");
        return;
    }
    strftime(out, ARCA_TIME_RFC3339_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int arca_duration_parse(const char *s, int64_t *seconds)
{
    static const struct {
        const char *name;
        int64_t secs;
    } units[] = {
        {"s", 1},           {"sec", 1},          {"secs", 1},       {"second", 1},
        {"seconds", 1},     {"m", 60},           {"min", 60},       {"mins", 60},
        {"minute", 60},     {"minutes", 60},     {"h", 3600},       {"hour", 3600},
        {"hours", 3600},    {"d", 86400},        {"day", 86400},    {"days", 86400},
        {"w", 604800},      {"week", 604800},    {"weeks", 604800}, {"y", 31536000},
        {"year", 31536000}, {"years", 31536000},
    };
    const char *p = s;
    if (!isdigit((unsigned char)*p))
        goto bad;
    int64_t n = 0;
    while (isdigit((unsigned char)*p)) {
        n = n * 10 + (*p - '0');
        if (n > 1000000)
            goto bad;
        p++;
    }
    if (n == 0)
        goto bad;
    while (*p == ' ')
        p++;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(p, units[i].name) == 0) {
            *seconds = n * units[i].secs;
            return 0;
        }
    }
bad:
    return arca_err_set(
        ARCA_ERR_FORMAT,
        "'%.64s' is not a duration (like \"90 days\", \"59d\", \"1 year\", \"12h\")", s);
}
