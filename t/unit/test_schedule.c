/*
 * Unit tests for recsys_schedule.c: the order of triggers, build_on_start,
 * the interval schedule, deferral when the lock is busy, exponential
 * backoff with its cap and jitter, the breaker's open, half-open (probe)
 * and close rules, and full retries of failed full builds.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "recsys_schedule.h"


#define SEC   1000ULL
#define T0    (1700000000ULL * SEC)   /* an arbitrary "now", in ms */


static void conf(recsys_maintenance_conf_t *mc);


static void
conf(recsys_maintenance_conf_t *mc)
{
    memset(mc, 0, sizeof(recsys_maintenance_conf_t));
    mc->build_on_start = RECSYS_BUILD_ON_START_NEVER;
    mc->backoff_initial = 1;
    mc->backoff_max = 300;
    mc->breaker_threshold = 5;
}


static void
test_admin_request_first(void **state)
{
    recsys_schedule_t          s;
    recsys_maintenance_conf_t  mc;

    (void) state;
    conf(&mc);
    mc.build_on_start = RECSYS_BUILD_ON_START_ALWAYS;
    memset(&s, 0, sizeof(s));

    /* before build_on_start, and it leaves build_on_start to decide */
    assert_int_equal(recsys_schedule_due(&mc, &s, T0, 1, 1),
                     RECSYS_TRIGGER_ADMIN);
    assert_int_equal(s.started, 0);
    assert_int_equal(recsys_schedule_due(&mc, &s, T0, 0, 1),
                     RECSYS_TRIGGER_START);

    /* and before a retry that is due */
    s.state = RECSYS_SCHEDULE_BACKING_OFF;
    s.next_build = T0;
    assert_int_equal(recsys_schedule_due(&mc, &s, T0, 1, 0),
                     RECSYS_TRIGGER_ADMIN);
}


static void
test_build_on_start(void **state)
{
    recsys_schedule_t          s;
    recsys_maintenance_conf_t  mc;

    (void) state;
    conf(&mc);

    /* always: once, missing or not */
    mc.build_on_start = RECSYS_BUILD_ON_START_ALWAYS;
    memset(&s, 0, sizeof(s));
    assert_int_equal(recsys_schedule_due(&mc, &s, T0, 0, 0),
                     RECSYS_TRIGGER_START);
    assert_int_equal(s.started, 1);
    assert_int_equal(recsys_schedule_due(&mc, &s, T0, 0, 0),
                     RECSYS_TRIGGER_NONE);

    /* if_missing: only without "current" */
    mc.build_on_start = RECSYS_BUILD_ON_START_IF_MISSING;
    memset(&s, 0, sizeof(s));
    assert_int_equal(recsys_schedule_due(&mc, &s, T0, 0, 1),
                     RECSYS_TRIGGER_START);
    memset(&s, 0, sizeof(s));
    assert_int_equal(recsys_schedule_due(&mc, &s, T0, 0, 0),
                     RECSYS_TRIGGER_NONE);
    assert_int_equal(s.started, 1);

    /* never */
    mc.build_on_start = RECSYS_BUILD_ON_START_NEVER;
    memset(&s, 0, sizeof(s));
    assert_int_equal(recsys_schedule_due(&mc, &s, T0, 0, 1),
                     RECSYS_TRIGGER_NONE);
    assert_int_equal(s.next_build, 0);
}


static void
test_interval(void **state)
{
    recsys_schedule_t          s;
    recsys_maintenance_conf_t  mc;

    (void) state;
    conf(&mc);
    mc.interval = 3600;
    memset(&s, 0, sizeof(s));

    /* the first look schedules the first build an interval later */
    assert_int_equal(recsys_schedule_due(&mc, &s, T0, 0, 1),
                     RECSYS_TRIGGER_NONE);
    assert_int_equal(s.next_build, T0 + 3600 * SEC);

    assert_int_equal(recsys_schedule_due(&mc, &s, T0 + 3600 * SEC - 1, 0, 0),
                     RECSYS_TRIGGER_NONE);
    assert_int_equal(recsys_schedule_due(&mc, &s, T0 + 3600 * SEC, 0, 0),
                     RECSYS_TRIGGER_SCHEDULE);

    /* a schedule kept in the zone over a reload is not moved */
    s.started = 0;
    s.next_build = T0 + 10 * SEC;
    assert_int_equal(recsys_schedule_due(&mc, &s, T0, 0, 0),
                     RECSYS_TRIGGER_NONE);
    assert_int_equal(s.next_build, T0 + 10 * SEC);

    /* a build on start leaves the schedule to its success */
    mc.build_on_start = RECSYS_BUILD_ON_START_ALWAYS;
    memset(&s, 0, sizeof(s));
    assert_int_equal(recsys_schedule_due(&mc, &s, T0, 0, 0),
                     RECSYS_TRIGGER_START);
    assert_int_equal(s.next_build, 0);
    assert_int_equal(recsys_schedule_begin(&s, RECSYS_TRIGGER_START, 1), 0);
    recsys_schedule_success(&mc, &s, T0 + 5 * SEC);
    assert_int_equal(s.next_build, T0 + 3605 * SEC);
}


static void
test_defer(void **state)
{
    recsys_schedule_t          s;
    recsys_maintenance_conf_t  mc;

    (void) state;
    conf(&mc);
    mc.build_on_start = RECSYS_BUILD_ON_START_ALWAYS;
    memset(&s, 0, sizeof(s));

    assert_int_equal(recsys_schedule_due(&mc, &s, T0, 0, 0),
                     RECSYS_TRIGGER_START);
    recsys_schedule_defer(&s, RECSYS_TRIGGER_START);
    assert_int_equal(recsys_schedule_due(&mc, &s, T0, 0, 0),
                     RECSYS_TRIGGER_START);

    /* a deferred retry stays due */
    s.state = RECSYS_SCHEDULE_BACKING_OFF;
    s.next_build = T0;
    assert_int_equal(recsys_schedule_due(&mc, &s, T0 + 1, 0, 0),
                     RECSYS_TRIGGER_RETRY);
    recsys_schedule_defer(&s, RECSYS_TRIGGER_RETRY);
    assert_int_equal(recsys_schedule_due(&mc, &s, T0 + 2, 0, 0),
                     RECSYS_TRIGGER_RETRY);
}


static void
test_begin(void **state)
{
    recsys_schedule_t  s;

    (void) state;
    memset(&s, 0, sizeof(s));
    s.next_build = T0;

    assert_int_equal(recsys_schedule_begin(&s, RECSYS_TRIGGER_ADMIN, 1), 1);
    assert_int_equal(s.state, RECSYS_SCHEDULE_RUNNING);
    assert_int_equal(s.next_build, 0);

    assert_int_equal(recsys_schedule_begin(&s, RECSYS_TRIGGER_ADMIN, 0), 0);
    assert_int_equal(recsys_schedule_begin(&s, RECSYS_TRIGGER_SCHEDULE, 1),
                     0);
    assert_int_equal(recsys_schedule_begin(&s, RECSYS_TRIGGER_START, 1), 0);
}


static void
test_backoff_doubles_to_cap(void **state)
{
    unsigned                   f;
    uint64_t                   want;
    recsys_maintenance_conf_t  mc;

    (void) state;
    conf(&mc);
    mc.backoff_initial = 2;
    mc.backoff_max = 60;

    /* rnd 0 gives the low end, 3/4 of the nominal delay */
    want = 2 * SEC;

    for (f = 1; f <= 10; f++) {
        assert_int_equal(recsys_schedule_backoff(&mc, f, 0, 0),
                         want * 3 / 4);
        want = want * 2 > 60 * SEC ? 60 * SEC : want * 2;
    }

    /* 2, 4, 8, 16, 32, then capped at 60 */
    assert_int_equal(recsys_schedule_backoff(&mc, 5, 0, 0), 32 * SEC * 3 / 4);
    assert_int_equal(recsys_schedule_backoff(&mc, 6, 0, 0), 60 * SEC * 3 / 4);
    assert_int_equal(recsys_schedule_backoff(&mc, 1000, 0, 0),
                     60 * SEC * 3 / 4);

    /* no failure yet: the initial delay */
    assert_int_equal(recsys_schedule_backoff(&mc, 0, 0, 0), 2 * SEC * 3 / 4);
}


static void
test_backoff_jitter(void **state)
{
    uint32_t                   rnd;
    uint64_t                   d, lo, hi;
    recsys_maintenance_conf_t  mc;

    (void) state;
    conf(&mc);
    mc.backoff_initial = 4;

    /* [0.75, 1.25] of 4 s, whatever the random number */
    lo = 3 * SEC;
    hi = 5 * SEC;

    for (rnd = 0; rnd < 5000; rnd += 7) {
        d = recsys_schedule_backoff(&mc, 1, 0, rnd);
        assert_true(d >= lo && d <= hi);
    }

    assert_int_equal(recsys_schedule_backoff(&mc, 1, 0, 2000), hi);
    assert_int_equal(recsys_schedule_backoff(&mc, 1, 0, 2001), lo);
    assert_true(recsys_schedule_backoff(&mc, 1, 0, 0xffffffff) >= lo);
}


static void
test_backoff_bad_conf(void **state)
{
    recsys_maintenance_conf_t  mc;

    (void) state;
    memset(&mc, 0, sizeof(mc));

    /* unset values fall back to 1 s and 5 min */
    assert_int_equal(recsys_schedule_backoff(&mc, 1, 0, 0), SEC * 3 / 4);
    assert_int_equal(recsys_schedule_backoff(&mc, 30, 0, 0),
                     300 * SEC * 3 / 4);

    /* a cap below the first delay is raised to it */
    mc.backoff_initial = 10;
    mc.backoff_max = 5;
    assert_int_equal(recsys_schedule_backoff(&mc, 3, 0, 0), 10 * SEC * 3 / 4);

    assert_int_equal(recsys_schedule_threshold(&mc), 5);
    mc.breaker_threshold = 2;
    assert_int_equal(recsys_schedule_threshold(&mc), 2);
}


static void
test_failure_schedules_retry(void **state)
{
    uint64_t                   d;
    recsys_schedule_t          s;
    recsys_maintenance_conf_t  mc;

    (void) state;
    conf(&mc);
    memset(&s, 0, sizeof(s));
    s.started = 1;

    (void) recsys_schedule_begin(&s, RECSYS_TRIGGER_SCHEDULE, 0);
    d = recsys_schedule_failure(&mc, &s, T0, 0, 0);

    assert_int_equal(d, SEC * 3 / 4);
    assert_int_equal(s.failures, 1);
    assert_int_equal(s.state, RECSYS_SCHEDULE_BACKING_OFF);
    assert_int_equal(s.next_build, T0 + d);

    assert_int_equal(recsys_schedule_due(&mc, &s, T0 + d - 1, 0, 0),
                     RECSYS_TRIGGER_NONE);
    assert_int_equal(recsys_schedule_due(&mc, &s, T0 + d, 0, 0),
                     RECSYS_TRIGGER_RETRY);

    d = recsys_schedule_failure(&mc, &s, T0 + SEC, 0, 0);
    assert_int_equal(d, 2 * SEC * 3 / 4);
    assert_int_equal(s.failures, 2);
}


static void
test_breaker_opens_at_threshold(void **state)
{
    unsigned                   i;
    recsys_schedule_t          s;
    recsys_maintenance_conf_t  mc;

    (void) state;
    conf(&mc);
    mc.breaker_threshold = 3;
    memset(&s, 0, sizeof(s));

    for (i = 1; i < 3; i++) {
        (void) recsys_schedule_failure(&mc, &s, T0, 0, 0);
        assert_int_equal(s.breaker_open, 0);
    }

    (void) recsys_schedule_failure(&mc, &s, T0, 0, 0);
    assert_int_equal(s.failures, 3);
    assert_int_equal(s.breaker_open, 1);
}


static void
test_breaker_open_probes_at_max(void **state)
{
    unsigned                   i;
    uint64_t                   d;
    recsys_schedule_t          s;
    recsys_maintenance_conf_t  mc;

    (void) state;
    conf(&mc);
    mc.breaker_threshold = 2;
    mc.backoff_max = 600;
    memset(&s, 0, sizeof(s));
    s.started = 1;

    (void) recsys_schedule_failure(&mc, &s, T0, 0, 0);

    /* open after 2 failures: the delay jumps to the cap at once */
    d = recsys_schedule_failure(&mc, &s, T0, 0, 0);
    assert_int_equal(s.breaker_open, 1);
    assert_int_equal(d, 600 * SEC * 3 / 4);

    /* a probe (half-open) that fails keeps it open, still at the cap */
    for (i = 0; i < 3; i++) {
        assert_int_equal(recsys_schedule_due(&mc, &s, s.next_build, 0, 0),
                         RECSYS_TRIGGER_RETRY);
        (void) recsys_schedule_begin(&s, RECSYS_TRIGGER_RETRY, 0);
        d = recsys_schedule_failure(&mc, &s, T0, 0, 0);
        assert_int_equal(s.breaker_open, 1);
        assert_int_equal(d, 600 * SEC * 3 / 4);
    }

    assert_int_equal(s.failures, 5);
}


static void
test_success_closes(void **state)
{
    unsigned                   i;
    recsys_schedule_t          s;
    recsys_maintenance_conf_t  mc;

    (void) state;
    conf(&mc);
    mc.breaker_threshold = 2;
    memset(&s, 0, sizeof(s));

    for (i = 0; i < 4; i++) {
        (void) recsys_schedule_failure(&mc, &s, T0, 0, 0);
    }

    assert_int_equal(s.breaker_open, 1);

    (void) recsys_schedule_begin(&s, RECSYS_TRIGGER_RETRY, 0);
    recsys_schedule_success(&mc, &s, T0);

    assert_int_equal(s.breaker_open, 0);
    assert_int_equal(s.failures, 0);
    assert_int_equal(s.state, RECSYS_SCHEDULE_IDLE);
    assert_int_equal(s.next_build, 0);

    /* closed again: the next failure starts from backoff_initial */
    assert_int_equal(recsys_schedule_failure(&mc, &s, T0, 0, 0), SEC * 3 / 4);
    assert_int_equal(s.breaker_open, 0);
}


static void
test_failed_full_retried_full(void **state)
{
    recsys_schedule_t          s;
    recsys_maintenance_conf_t  mc;

    (void) state;
    conf(&mc);
    memset(&s, 0, sizeof(s));
    s.started = 1;

    /* {"full": true} fails: its retries stay full until one succeeds */
    assert_int_equal(recsys_schedule_begin(&s, RECSYS_TRIGGER_ADMIN, 1), 1);
    (void) recsys_schedule_failure(&mc, &s, T0, 1, 0);
    assert_int_equal(recsys_schedule_due(&mc, &s, s.next_build, 0, 0),
                     RECSYS_TRIGGER_RETRY);
    assert_int_equal(recsys_schedule_begin(&s, RECSYS_TRIGGER_RETRY, 0), 1);
    (void) recsys_schedule_failure(&mc, &s, T0, 1, 0);
    assert_int_equal(recsys_schedule_begin(&s, RECSYS_TRIGGER_RETRY, 0), 1);

    /* an incremental admin build in between keeps the full retry */
    (void) recsys_schedule_failure(&mc, &s, T0, 0, 0);
    assert_int_equal(recsys_schedule_begin(&s, RECSYS_TRIGGER_ADMIN, 0), 0);
    (void) recsys_schedule_failure(&mc, &s, T0, 0, 0);
    assert_int_equal(recsys_schedule_begin(&s, RECSYS_TRIGGER_RETRY, 0), 1);

    /* a success forgets it */
    recsys_schedule_success(&mc, &s, T0);
    (void) recsys_schedule_begin(&s, RECSYS_TRIGGER_SCHEDULE, 0);
    (void) recsys_schedule_failure(&mc, &s, T0, 0, 0);
    assert_int_equal(recsys_schedule_begin(&s, RECSYS_TRIGGER_RETRY, 0), 0);

    /* a scheduled or start build is never full by itself */
    assert_int_equal(recsys_schedule_begin(&s, RECSYS_TRIGGER_SCHEDULE, 1),
                     0);
}


static void
test_sleep(void **state)
{
    recsys_schedule_t  s;

    (void) state;
    memset(&s, 0, sizeof(s));

    assert_int_equal(recsys_schedule_sleep(&s, T0, 1000), 1000);

    s.next_build = T0 + 250;
    assert_int_equal(recsys_schedule_sleep(&s, T0, 1000), 250);

    s.next_build = T0 + 5000;
    assert_int_equal(recsys_schedule_sleep(&s, T0, 1000), 1000);

    s.next_build = T0;
    assert_int_equal(recsys_schedule_sleep(&s, T0, 1000), 1);
    assert_int_equal(recsys_schedule_sleep(&s, T0 + 10, 1000), 1);
}


static void
test_names(void **state)
{
    (void) state;

    assert_string_equal(recsys_schedule_state_name(RECSYS_SCHEDULE_IDLE),
                        "idle");
    assert_string_equal(recsys_schedule_state_name(RECSYS_SCHEDULE_RUNNING),
                        "running");
    assert_string_equal(
        recsys_schedule_state_name(RECSYS_SCHEDULE_BACKING_OFF),
        "backing_off");
    assert_string_equal(recsys_schedule_state_name(3), "unknown");

    assert_string_equal(recsys_trigger_name(RECSYS_TRIGGER_ADMIN), "admin");
    assert_string_equal(recsys_trigger_name(RECSYS_TRIGGER_START), "start");
    assert_string_equal(recsys_trigger_name(RECSYS_TRIGGER_SCHEDULE),
                        "schedule");
    assert_string_equal(recsys_trigger_name(RECSYS_TRIGGER_RETRY), "retry");
    assert_string_equal(recsys_trigger_name(RECSYS_TRIGGER_NONE), "unknown");
    assert_string_equal(recsys_trigger_name((recsys_trigger_t) 99),
                        "unknown");
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_admin_request_first),
        cmocka_unit_test(test_build_on_start),
        cmocka_unit_test(test_interval),
        cmocka_unit_test(test_defer),
        cmocka_unit_test(test_begin),
        cmocka_unit_test(test_backoff_doubles_to_cap),
        cmocka_unit_test(test_backoff_jitter),
        cmocka_unit_test(test_backoff_bad_conf),
        cmocka_unit_test(test_failure_schedules_retry),
        cmocka_unit_test(test_breaker_opens_at_threshold),
        cmocka_unit_test(test_breaker_open_probes_at_max),
        cmocka_unit_test(test_success_closes),
        cmocka_unit_test(test_failed_full_retried_full),
        cmocka_unit_test(test_sleep),
        cmocka_unit_test(test_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
