/*
 * Unit tests for recsys_gcra.c: rate parsing, burst exhaustion, refill,
 * cost > 1, costs no bucket can hold, r/m rates, whole-second rounding of
 * Retry-After and reset, undo, and the advertised quota/window.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "recsys_gcra.h"


#define SEC      1000000ULL
#define MS       1000ULL
#define T0       (1000 * SEC)     /* an arbitrary "now" of the clock */


static void policy(recsys_gcra_policy_t *p, const char *rate,
    uint64_t burst);
static uint64_t allow(const recsys_gcra_policy_t *p, uint64_t now,
    uint64_t tat, uint64_t cost, uint64_t remaining, uint64_t reset);
static void reject(const recsys_gcra_policy_t *p, uint64_t now,
    uint64_t tat, uint64_t cost, uint64_t remaining, uint64_t retry_after);


static void
policy(recsys_gcra_policy_t *p, const char *rate, uint64_t burst)
{
    memset(p, 0, sizeof(recsys_gcra_policy_t));
    assert_int_equal(recsys_gcra_parse_rate(rate, strlen(rate), p), 0);
    p->burst = burst;
}


/* asserts an allowed request and returns the new TAT */
static uint64_t
allow(const recsys_gcra_policy_t *p, uint64_t now, uint64_t tat,
    uint64_t cost, uint64_t remaining, uint64_t reset)
{
    recsys_gcra_result_t  res;

    recsys_gcra_check(p, now, tat, cost, &res);

    assert_true(res.allowed);
    assert_false(res.never);
    assert_int_equal(res.remaining, remaining);
    assert_int_equal(res.reset, reset);
    assert_int_equal(res.retry_after, 0);
    assert_int_equal(res.excess, 0);
    assert_true(res.tat > now);

    return res.tat;
}


static void
reject(const recsys_gcra_policy_t *p, uint64_t now, uint64_t tat,
    uint64_t cost, uint64_t remaining, uint64_t retry_after)
{
    recsys_gcra_result_t  res;

    recsys_gcra_check(p, now, tat, cost, &res);

    assert_false(res.allowed);
    assert_int_equal(res.tat, tat);
    assert_int_equal(res.remaining, remaining);
    assert_int_equal(res.retry_after, retry_after);
    assert_true(res.retry_after >= 1);
    assert_true(res.remaining < cost);
}


static void
test_parse_rate(void **state)
{
    size_t                i;
    recsys_gcra_policy_t  p;
    static const char    *bad[] = {
        "", "r/s", "0r/s", "10", "10r", "10r/", "10r/h", "10r/S", "-1r/s",
        "1.5r/s", " 1r/s", "1 r/s", "1r /s", "1000001r/s", "99999999999r/m",
        "18446744073709551617r/s", "r/m", "10/s", "10x/s", "10rs",
    };

    (void) state;

    policy(&p, "10r/s", 0);
    assert_int_equal(p.rate, 10);
    assert_int_equal(p.period, 1);
    assert_int_equal(p.interval, 100 * MS);

    policy(&p, "1r/m", 0);
    assert_int_equal(p.rate, 1);
    assert_int_equal(p.period, 60);
    assert_int_equal(p.interval, 60 * SEC);

    policy(&p, "30r/m", 0);
    assert_int_equal(p.interval, 2 * SEC);

    /* rounded to the nearest microsecond */
    policy(&p, "3r/s", 0);
    assert_int_equal(p.interval, 333333);
    policy(&p, "7r/m", 0);
    assert_int_equal(p.interval, 8571429);

    policy(&p, "1000000r/s", 0);
    assert_int_equal(p.interval, 1);
    policy(&p, "1000000r/m", 0);
    assert_int_equal(p.interval, 60);
    policy(&p, "007r/s", 0);
    assert_int_equal(p.rate, 7);

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&p, 0, sizeof(p));
        assert_int_equal(recsys_gcra_parse_rate(bad[i], strlen(bad[i]), &p),
                         -1);
        assert_int_equal(p.interval, 0);
    }

    assert_int_equal(recsys_gcra_set_rate(&p, 0, 1), -1);
    assert_int_equal(recsys_gcra_set_rate(&p, 5, 2), -1);
    assert_int_equal(recsys_gcra_set_rate(&p, RECSYS_GCRA_MAX_RATE + 1, 60),
                     -1);
    assert_int_equal(recsys_gcra_set_rate(&p, 5, 60), 0);
    assert_int_equal(p.interval, 12 * SEC);
}


static void
test_burst_exhaustion(void **state)
{
    uint64_t              tat;
    recsys_gcra_policy_t  p;
    recsys_gcra_result_t  res;

    (void) state;

    /* burst=2: exactly three pass at once, remaining 2, 1, 0 */
    policy(&p, "1r/s", 2);

    tat = allow(&p, T0, 0, 1, 2, 1);
    assert_int_equal(tat, T0 + SEC);
    tat = allow(&p, T0, tat, 1, 1, 2);
    tat = allow(&p, T0, tat, 1, 0, 3);
    assert_int_equal(tat, T0 + 3 * SEC);

    reject(&p, T0, tat, 1, 0, 1);
    reject(&p, T0, tat, 1, 0, 1);

    recsys_gcra_check(&p, T0, tat, 1, &res);
    assert_int_equal(res.reset, 3);
    assert_int_equal(res.excess, 1000);
    assert_false(res.never);

    /* burst=0: one at a time */
    policy(&p, "10r/s", 0);
    tat = allow(&p, T0, 0, 1, 0, 1);
    reject(&p, T0, tat, 1, 0, 1);
    reject(&p, T0 + 99 * MS, tat, 1, 0, 1);
    allow(&p, T0 + 100 * MS, tat, 1, 0, 1);
}


static void
test_refill(void **state)
{
    uint64_t              tat, now;
    recsys_gcra_policy_t  p;
    recsys_gcra_result_t  res;

    (void) state;

    policy(&p, "1r/s", 2);

    tat = allow(&p, T0, 0, 1, 2, 1);
    tat = allow(&p, T0, tat, 1, 1, 2);
    tat = allow(&p, T0, tat, 1, 0, 3);

    /* half a token back: still rejected, Retry-After rounds up to 1 */
    reject(&p, T0 + 500 * MS, tat, 1, 0, 1);

    /* one token back after exactly T */
    now = T0 + SEC;
    tat = allow(&p, now, tat, 1, 0, 3);
    reject(&p, now, tat, 1, 0, 1);

    /* 1.5 s later one and a half tokens: one passes, reset rounds up */
    now += 1500 * MS;
    recsys_gcra_peek(&p, now, tat, &res);
    assert_int_equal(res.remaining, 1);
    assert_int_equal(res.reset, 2);
    tat = allow(&p, now, tat, 1, 0, 3);

    /* long idle: the bucket is full again and no fuller than burst + 1 */
    now += 3600 * SEC;
    recsys_gcra_peek(&p, now, tat, &res);
    assert_int_equal(res.remaining, 3);
    assert_int_equal(res.reset, 0);
    assert_true(recsys_gcra_expired(tat, now));
    tat = allow(&p, now, tat, 1, 2, 1);
    tat = allow(&p, now, tat, 1, 1, 2);
    tat = allow(&p, now, tat, 1, 0, 3);
    reject(&p, now, tat, 1, 0, 1);

    /* a steady client at exactly the rate is never rejected */
    policy(&p, "50r/s", 0);
    tat = 0;
    for (now = T0; now < T0 + 10 * SEC; now += 20 * MS) {
        tat = allow(&p, now, tat, 1, 0, 1);
    }

    /* and one that is 1 ms early is, once its burst is gone */
    policy(&p, "50r/s", 3);
    tat = 0;
    for (now = T0; ; now += 19 * MS) {
        recsys_gcra_check(&p, now, tat, 1, &res);
        if (!res.allowed) {
            break;
        }
        tat = res.tat;
    }
    assert_true(now > T0 + 3 * 19 * MS);
    assert_int_equal(res.retry_after, 1);
}


static void
test_cost(void **state)
{
    uint64_t              tat;
    recsys_gcra_policy_t  p;
    recsys_gcra_result_t  res;

    (void) state;

    /* capacity 5: cost 3 leaves 2, another 3 does not fit */
    policy(&p, "1r/s", 4);

    tat = allow(&p, T0, 0, 3, 2, 3);
    assert_int_equal(tat, T0 + 3 * SEC);

    recsys_gcra_check(&p, T0, tat, 3, &res);
    assert_false(res.allowed);
    assert_false(res.never);
    assert_int_equal(res.remaining, 2);
    assert_int_equal(res.retry_after, 1);
    assert_int_equal(res.excess, 1000);
    assert_int_equal(res.reset, 3);

    /* but the remaining 2 do, one at a time or together */
    allow(&p, T0, tat, 2, 0, 5);
    tat = allow(&p, T0, tat, 1, 1, 4);
    tat = allow(&p, T0, tat, 1, 0, 5);

    /* a cost of 4 on an empty bucket waits for 4 tokens */
    reject(&p, T0, tat, 4, 0, 4);
    reject(&p, T0 + 2500 * MS, tat, 4, 2, 2);
    allow(&p, T0 + 4 * SEC, tat, 4, 0, 5);

    /* cost == burst + 1 fits a full bucket exactly */
    allow(&p, T0, 0, 5, 0, 5);
}


static void
test_cost_over_capacity(void **state)
{
    uint64_t              tat;
    recsys_gcra_policy_t  p;
    recsys_gcra_result_t  res;

    (void) state;

    policy(&p, "1r/s", 2);

    /* a full bucket: rejected, never, Retry-After still >= 1 */
    recsys_gcra_check(&p, T0, 0, 4, &res);
    assert_false(res.allowed);
    assert_true(res.never);
    assert_int_equal(res.tat, 0);
    assert_int_equal(res.remaining, 3);
    assert_int_equal(res.retry_after, 1);
    assert_int_equal(res.reset, 0);
    assert_int_equal(res.excess, 1000);

    /* and at any later time: waiting never helps */
    recsys_gcra_check(&p, T0 + 3600 * SEC, 0, 4, &res);
    assert_false(res.allowed);
    assert_true(res.never);

    /* with a used bucket Retry-After is the time until it is full */
    tat = allow(&p, T0, 0, 1, 2, 1);
    tat = allow(&p, T0, tat, 1, 1, 2);
    recsys_gcra_check(&p, T0 + 200 * MS, tat, 100, &res);
    assert_false(res.allowed);
    assert_true(res.never);
    assert_int_equal(res.retry_after, 2);
    assert_int_equal(res.reset, 2);
    assert_int_equal(res.remaining, 1);
    assert_int_equal(res.tat, tat);

    /* the maximum cost and burst do not overflow */
    policy(&p, "1r/m", RECSYS_GCRA_MAX_BURST);
    recsys_gcra_check(&p, T0, 0, RECSYS_GCRA_MAX_COST, &res);
    assert_true(res.allowed);
    assert_int_equal(res.remaining,
                     RECSYS_GCRA_MAX_BURST + 1 - RECSYS_GCRA_MAX_COST);
    assert_int_equal(res.reset, RECSYS_GCRA_MAX_COST * 60);

    policy(&p, "1r/m", 0);
    recsys_gcra_check(&p, T0, T0 + 60 * SEC, RECSYS_GCRA_MAX_COST, &res);
    assert_false(res.allowed);
    assert_true(res.never);
    assert_int_equal(res.excess, (uint64_t) RECSYS_GCRA_MAX_COST * 1000);
    assert_int_equal(res.retry_after, 60);
}


static void
test_per_minute(void **state)
{
    uint64_t              tat;
    recsys_gcra_policy_t  p;
    recsys_gcra_result_t  res;

    (void) state;

    policy(&p, "1r/m", 0);

    tat = allow(&p, T0, 0, 1, 0, 60);
    assert_int_equal(tat, T0 + 60 * SEC);

    /* Retry-After counts down in whole seconds, rounded up, never 0 */
    reject(&p, T0, tat, 1, 0, 60);
    reject(&p, T0 + 1 * MS, tat, 1, 0, 60);
    reject(&p, T0 + 999 * MS, tat, 1, 0, 60);
    reject(&p, T0 + 1000 * MS, tat, 1, 0, 59);
    reject(&p, T0 + 1001 * MS, tat, 1, 0, 59);
    reject(&p, T0 + 59 * SEC, tat, 1, 0, 1);
    reject(&p, T0 + 59999 * MS, tat, 1, 0, 1);
    reject(&p, T0 + 60 * SEC - 1, tat, 1, 0, 1);
    allow(&p, T0 + 60 * SEC, tat, 1, 0, 60);

    /* 6r/m with burst 2: three at once, then one every 10 s */
    policy(&p, "6r/m", 2);
    tat = allow(&p, T0, 0, 1, 2, 10);
    tat = allow(&p, T0, tat, 1, 1, 20);
    tat = allow(&p, T0, tat, 1, 0, 30);
    reject(&p, T0 + 4 * SEC, tat, 1, 0, 6);
    tat = allow(&p, T0 + 10 * SEC, tat, 1, 0, 30);

    recsys_gcra_peek(&p, T0 + 10 * SEC, tat, &res);
    assert_int_equal(res.remaining, 0);
    assert_int_equal(res.reset, 30);
    recsys_gcra_peek(&p, T0 + 25 * SEC, tat, &res);
    assert_int_equal(res.remaining, 1);
    assert_int_equal(res.reset, 15);
}


static void
test_rounding(void **state)
{
    uint64_t              tat;
    recsys_gcra_policy_t  p;
    recsys_gcra_result_t  res;

    (void) state;

    /* a rejection by a single microsecond still says 1 second */
    policy(&p, "1r/s", 0);
    tat = allow(&p, T0, 0, 1, 0, 1);
    reject(&p, T0 + SEC - 1, tat, 1, 0, 1);

    recsys_gcra_check(&p, T0 + SEC - 1, tat, 1, &res);
    assert_int_equal(res.excess, 1);          /* 0.000001, rounded up */
    assert_int_equal(res.reset, 1);

    /* sub-second intervals: three per second at 3r/s, not four */
    policy(&p, "3r/s", 0);
    tat = allow(&p, T0, 0, 1, 0, 1);
    reject(&p, T0 + 333 * MS, tat, 1, 0, 1);
    tat = allow(&p, T0 + 334 * MS, tat, 1, 0, 1);
    reject(&p, T0 + 667 * MS, tat, 1, 0, 1);
    tat = allow(&p, T0 + 668 * MS, tat, 1, 0, 1);
    reject(&p, T0 + 999 * MS, tat, 1, 0, 1);

    /* reset rounds up to whole seconds */
    policy(&p, "4r/s", 9);
    tat = allow(&p, T0, 0, 1, 9, 1);
    tat = allow(&p, T0, tat, 4, 5, 2);
    tat = allow(&p, T0, tat, 1, 4, 2);
    assert_int_equal(tat, T0 + 1500 * MS);
}


static void
test_undo_and_expiry(void **state)
{
    uint64_t              tat, before;
    recsys_gcra_policy_t  p;
    recsys_gcra_result_t  res;

    (void) state;

    policy(&p, "1r/s", 4);

    before = allow(&p, T0, 0, 1, 4, 1);
    tat = allow(&p, T0, before, 2, 2, 3);
    assert_int_equal(recsys_gcra_undo(&p, tat, 2), before);

    /* undo of a first request leaves a full bucket */
    tat = allow(&p, T0, 0, 3, 2, 3);
    tat = recsys_gcra_undo(&p, tat, 3);
    recsys_gcra_peek(&p, T0, tat, &res);
    assert_int_equal(res.remaining, 5);
    assert_int_equal(res.reset, 0);

    assert_int_equal(recsys_gcra_undo(&p, 5, 1), 0);
    assert_int_equal(recsys_gcra_undo(&p, 0, 1), 0);

    assert_true(recsys_gcra_expired(0, T0));
    assert_true(recsys_gcra_expired(T0, T0));
    assert_false(recsys_gcra_expired(T0 + 1, T0));

    /* peek on a fresh key */
    recsys_gcra_peek(&p, T0, 0, &res);
    assert_true(res.allowed);
    assert_int_equal(res.remaining, 5);
    assert_int_equal(res.reset, 0);
    assert_int_equal(res.retry_after, 0);
}


static void
test_quota_window(void **state)
{
    uint64_t              q, w, tat, now, i, n, start;
    recsys_gcra_policy_t  p;
    recsys_gcra_result_t  res;
    static const struct {
        const char  *rate;
        uint64_t     burst, q, w;
    } v[] = {
        { "10r/s", 20, 21, 3 },
        { "1r/m", 0, 1, 60 },
        { "6r/m", 2, 3, 30 },
        { "1r/s", 2, 3, 3 },
        { "3r/s", 0, 1, 1 },
        { "1000000r/s", 0, 1, 1 },
        { "7r/m", 1, 2, 18 },
        { "100r/s", 499, 500, 5 },
    };

    (void) state;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        policy(&p, v[i].rate, v[i].burst);
        q = recsys_gcra_quota(&p);
        w = recsys_gcra_window(&p);
        assert_int_equal(q, v[i].q);
        assert_int_equal(w, v[i].w);

        /*
         * Following the policy is never rejected, even sending the whole
         * quota at the start of every window; and r never exceeds q.
         */

        tat = 0;
        for (start = T0; start < T0 + 20 * w * SEC; start += w * SEC) {
            for (n = 0; n < q; n++) {
                now = start + n;
                recsys_gcra_check(&p, now, tat, 1, &res);
                assert_true(res.allowed);
                assert_true(res.remaining < q);
                assert_true(res.reset <= w);
                tat = res.tat;
            }
        }
    }
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_parse_rate),
        cmocka_unit_test(test_burst_exhaustion),
        cmocka_unit_test(test_refill),
        cmocka_unit_test(test_cost),
        cmocka_unit_test(test_cost_over_capacity),
        cmocka_unit_test(test_per_minute),
        cmocka_unit_test(test_rounding),
        cmocka_unit_test(test_undo_and_expiry),
        cmocka_unit_test(test_quota_window),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
