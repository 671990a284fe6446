/*
 * Unit tests for recsys_time.c: the ISO 8601 parser against timegm(),
 * every malformed form, and the monotonic clock.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "recsys_time.h"


static int parse(const char *s, int64_t *t);


static int
parse(const char *s, int64_t *t)
{
    return recsys_time_parse(s, strlen(s), t);
}


static void
test_valid(void **state)
{
    int64_t  t;

    (void) state;

    assert_int_equal(parse("1970-01-01T00:00:00Z", &t), 0);
    assert_int_equal(t, 0);

    assert_int_equal(parse("2026-12-02T00:31:07Z", &t), 0);
    assert_int_equal(t, 1796171467);

    /* the fraction is dropped, of any length */
    assert_int_equal(parse("2026-12-02T00:31:07.999Z", &t), 0);
    assert_int_equal(t, 1796171467);
    assert_int_equal(parse("2026-12-02T00:31:07.123456789Z", &t), 0);
    assert_int_equal(t, 1796171467);

    /* leap days, a leap second, the end of a century */
    assert_int_equal(parse("2024-02-29T12:00:00Z", &t), 0);
    assert_int_equal(t, 1709208000);
    assert_int_equal(parse("2000-02-29T00:00:00Z", &t), 0);
    assert_int_equal(t, 951782400);
    assert_int_equal(parse("2016-12-31T23:59:60Z", &t), 0);
    assert_int_equal(t, 1483228800);
    assert_int_equal(parse("2038-01-19T03:14:08Z", &t), 0);
    assert_int_equal(t, 2147483648LL);
    assert_int_equal(parse("9999-12-31T23:59:59Z", &t), 0);
    assert_int_equal(t, 253402300799LL);
}


/* every day from 1970 to 2100 at some time of day agrees with timegm() */

static void
test_against_timegm(void **state)
{
    char       buf[32];
    time_t     u;
    int64_t    t;
    struct tm  tm;

    (void) state;

    for (u = 0; u < 4102444800; u += 86400 + 3607) {
        gmtime_r(&u, &tm);
        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);

        assert_int_equal(parse(buf, &t), 0);
        assert_int_equal(t, (int64_t) u);
    }
}


static void
test_invalid(void **state)
{
    size_t              i;
    int64_t             t;
    static const char  *bad[] = {
        "", "Z", "2026-12-02", "2026-12-02T00:31:07", "2026-12-02T00:31Z",
        "2026-12-02 00:31:07Z", "2026-12-02t00:31:07Z", "2026-12-02T00:31:07z",
        "2026-12-02T00:31:07+00:00", "2026-12-02T00:31:07.Z",
        "2026-12-02T00:31:07.5", "2026-12-02T00:31:07ZZ",
        "2026-12-02T00:31:07Z ", " 2026-12-02T00:31:07Z",
        "2026-1-02T00:31:07Z", "20261202T003107Z", "+026-12-02T00:31:07Z",
        "2026-12-02T00:31:0xZ", "2026-13-01T00:00:00Z",
        "2026-00-01T00:00:00Z", "2026-01-00T00:00:00Z",
        "2026-01-32T00:00:00Z", "2026-02-29T00:00:00Z",
        "2100-02-29T00:00:00Z", "2026-04-31T00:00:00Z",
        "2026-01-01T24:00:00Z", "2026-01-01T00:60:00Z",
        "2026-01-01T00:00:61Z", "1969-12-31T23:59:59Z",
        "2026-12-02T00:31:07.1.2Z",
    };

    (void) state;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        t = 42;
        assert_int_equal(parse(bad[i], &t), -1);
        assert_int_equal(t, 42);
    }

    /* the length is the string's: no reading past it */
    assert_int_equal(recsys_time_parse("2026-12-02T00:31:07Z", 19, &t), -1);
    assert_int_equal(recsys_time_parse("2026-12-02T00:31:07.5Z", 21, &t),
                     -1);
}


static void
test_clock(void **state)
{
    uint64_t         a, b;
    struct timespec  pause;

    (void) state;

    pause.tv_sec = 0;
    pause.tv_nsec = 20 * 1000 * 1000;

    a = recsys_now_us();
    nanosleep(&pause, NULL);
    b = recsys_now_us();

    assert_true(b >= a + 20000);
    assert_true(b < a + 20000 * 1000);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_against_timegm),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_clock),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
