/*
 * Time: RFC 3339 parsing (offsets, fractions, errors), formatting, durations, clocks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "base/time.h"

static void test_rfc3339(void **state)
{
    (void)state;
    int64_t t = 0;
    assert_int_equal(arca_time_parse_rfc3339("1970-01-01T00:00:00Z", &t), 0);
    assert_int_equal(t, 0);
    assert_int_equal(arca_time_parse_rfc3339("2025-07-01T00:00:00Z", &t), 0);
    assert_int_equal(t, 1751328000);
    assert_int_equal(arca_time_parse_rfc3339("2025-07-01T02:00:00.123456+02:00", &t), 0);
    assert_int_equal(t, 1751328000);
    assert_int_equal(arca_time_parse_rfc3339("2025-06-30t19:30:00-04:30", &t), 0);
    assert_int_equal(t, 1751328000);
    assert_int_equal(arca_time_parse_rfc3339("2024-02-29T12:00:00Z", &t), 0);
    assert_int_equal(t, 1709208000);
    assert_int_equal(arca_time_parse_rfc3339("1969-12-31T23:59:59Z", &t), 0);
    assert_int_equal(t, -1);
    static const char *const bad[] = {
        "",
        "2025-07-01",
        "2025-07-01T00:00:00",
        "2025-13-01T00:00:00Z",
        "2025-02-30T00:00:00Z",
        "2023-02-29T00:00:00Z",
        "2100-02-29T00:00:00Z",
        "2025-07-01T00:00:60Z",
        "2025-07-01T24:00:00Z",
        "2025-07-01T00:60:00Z",
        "2025-07-01T00:00:00.Z",
        "2025-07-01T00:00:00+0200",
        "2025-07-01T00:00:00Zjunk",
        "25-07-01T00:00:00Z",
        "2025/07/01T00:00:00Z",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        t = 42;
        if (arca_time_parse_rfc3339(bad[i], &t) != ARCA_ERR_FORMAT)
            fail_msg("'%s' was accepted", bad[i]);
        assert_int_equal(t, 42);
        assert_non_null(strstr(arca_err_detail(), "RFC 3339"));
    }
}

static void test_format(void **state)
{
    (void)state;
    char out[ARCA_TIME_RFC3339_LEN];
    arca_time_format_rfc3339(1751328000, out);
    assert_string_equal(out, "2025-07-01T00:00:00Z");
    arca_time_format_rfc3339(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00Z");
    int64_t back = 0;
    arca_time_format_rfc3339(1709208000, out);
    assert_int_equal(arca_time_parse_rfc3339(out, &back), 0);
    assert_int_equal(back, 1709208000);
}

static void test_duration(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int64_t v;
    } ok[] = {
        {"59d", 59 * 86400},  {"90 days", 90 * 86400}, {"1 year", 31536000},    {"12h", 12 * 3600},
        {"30 minutes", 1800}, {"3600s", 3600},         {"2 weeks", 2 * 604800}, {"1 sec", 1},
        {"5m", 300}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        int64_t v = 0;
        assert_int_equal(arca_duration_parse(ok[i].s, &v), 0);
        assert_int_equal(v, ok[i].v);
    }
    static const char *const bad[] = {"",    "d",    "0d",        "-1d", "5 fortnights",
                                      "5dd", "1.5h", "99999999d", " 5d", "5 D"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t v = 7;
        if (arca_duration_parse(bad[i], &v) != ARCA_ERR_FORMAT)
            fail_msg("'%s' was accepted", bad[i]);
        assert_int_equal(v, 7);
    }
}

static void test_clocks(void **state)
{
    (void)state;
    assert_true(arca_time_now() > 1700000000);
    int64_t a = arca_time_mono_ms();
    int64_t b = arca_time_mono_ms();
    assert_true(b >= a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc3339),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_clocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
