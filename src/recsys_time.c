/*
 * The monotonic clock and the ISO 8601 parser.
 */

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "recsys_time.h"


static int recsys_time_digits(const char *s, size_t n, int *v);


uint64_t
recsys_now_us(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}


double
recsys_now_seconds(void)
{
    return (double) recsys_now_us() / 1e6;
}


int
recsys_time_parse(const char *s, size_t len, int64_t *t)
{
    int                year, mon, mday, hour, min, sec, leap;
    size_t             i;
    int64_t            y, era, yoe, doy, doe;
    static const int   days[] = {
        31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
    };

    /* "dddd-dd-ddTdd:dd:dd" then an optional fraction, then "Z" */

    if (len < sizeof("1970-01-01T00:00:00Z") - 1
        || s[4] != '-' || s[7] != '-' || s[10] != 'T'
        || s[13] != ':' || s[16] != ':'
        || recsys_time_digits(s, 4, &year) != 0
        || recsys_time_digits(s + 5, 2, &mon) != 0
        || recsys_time_digits(s + 8, 2, &mday) != 0
        || recsys_time_digits(s + 11, 2, &hour) != 0
        || recsys_time_digits(s + 14, 2, &min) != 0
        || recsys_time_digits(s + 17, 2, &sec) != 0)
    {
        return -1;
    }

    i = 19;

    if (s[i] == '.') {
        i++;

        if (i == len || s[i] < '0' || s[i] > '9') {
            return -1;
        }

        while (i < len && s[i] >= '0' && s[i] <= '9') {
            i++;
        }
    }

    if (i != len - 1 || s[i] != 'Z') {
        return -1;
    }

    leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

    if (year < 1970 || mon < 1 || mon > 12 || mday < 1
        || mday > days[mon - 1] + (mon == 2 && leap)
        || hour > 23 || min > 59 || sec > 60)
    {
        return -1;
    }

    /*
     * Days since 1970-01-01 of the proleptic Gregorian calendar, counted
     * in 400-year eras of years that start on March 1, so that the leap
     * day ends the year.
     */

    y = year - (mon <= 2);
    era = y / 400;
    yoe = y - era * 400;
    doy = (153 * (mon > 2 ? mon - 3 : mon + 9) + 2) / 5 + mday - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    *t = (era * 146097 + doe - 719468) * 86400
         + hour * 3600 + min * 60 + sec;

    return 0;
}


static int
recsys_time_digits(const char *s, size_t n, int *v)
{
    size_t  i;

    *v = 0;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }

        *v = *v * 10 + (s[i] - '0');
    }

    return 0;
}
