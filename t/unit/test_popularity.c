/*
 * Unit tests for recsys_popularity.c: decay values at 0, 1, 2 and 1.5
 * half-lives, events from the future, no decay, per-item and
 * per-category sums, and blending with a source's popularity.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "recsys_popularity.h"


#define DAY   86400
#define NOW   1700000000


static void
test_decay_values(void **state)
{
    (void) state;

    assert_true(recsys_popularity_decay(0, 7 * DAY) == 1.0);
    assert_true(fabs(recsys_popularity_decay(7 * DAY, 7 * DAY) - 0.5)
                < 1e-15);
    assert_true(fabs(recsys_popularity_decay(14 * DAY, 7 * DAY) - 0.25)
                < 1e-15);
    assert_true(fabs(recsys_popularity_decay(3 * DAY, 2 * DAY)
                     - 0.35355339059327373) < 1e-15);    /* 2^-1.5 */
    assert_true(recsys_popularity_decay(-DAY, 7 * DAY) == 1.0);
    assert_true(recsys_popularity_decay(365 * DAY, 0) == 1.0);
    assert_true(recsys_popularity_decay(365 * DAY, -1) == 1.0);
    assert_true(recsys_popularity_decay(3650 * DAY, 1) == 0.0);
}


static void
test_items_and_categories(void **state)
{
    double                pop[4], cat[2];
    uint64_t              n;
    const uint32_t        category[4] = { 0, 1, 0, 0xffffffffu };
    const recsys_event_t  ev[] = {
        { 0, 0, 1.0f, NOW },
        { 1, 0, 2.0f, NOW - 7 * DAY },          /* 2 * 1/2 */
        { 2, 1, 4.0f, NOW - 14 * DAY },         /* 4 * 1/4 */
        { 0, 2, 1.0f, NOW + DAY },              /* future: 1 */
        { 0, 3, 8.0f, NOW - 21 * DAY },         /* 8 * 1/8, no category */
        { 0, 9, 5.0f, NOW },                    /* unknown item */
        { 0, 1, NAN, NOW },
    };

    (void) state;

    n = recsys_popularity_items(ev, 7, 4, NOW, 7 * DAY, pop);
    assert_int_equal(n, 5);
    assert_true(fabs(pop[0] - 2.0) < 1e-12);
    assert_true(fabs(pop[1] - 1.0) < 1e-12);
    assert_true(fabs(pop[2] - 1.0) < 1e-12);
    assert_true(fabs(pop[3] - 1.0) < 1e-12);

    recsys_popularity_categories(pop, category, 4, 2, cat);
    assert_true(fabs(cat[0] - 3.0) < 1e-12);
    assert_true(fabs(cat[1] - 1.0) < 1e-12);

    /* no decay: weighted counts */
    n = recsys_popularity_items(ev, 7, 4, NOW, 0, pop);
    assert_int_equal(n, 5);
    assert_true(pop[0] == 3.0 && pop[1] == 4.0 && pop[3] == 8.0);
}


static void
test_blend(void **state)
{
    double        out[3], ev[3];
    const double  src[3] = { 10, 5, 0 };
    const double  zero[3] = { 0, 0, 0 };

    (void) state;

    ev[0] = 1;
    ev[1] = 4;
    ev[2] = 2;

    recsys_popularity_blend(src, ev, 3, RECSYS_POPULARITY_BLEND, 0.25, out);
    assert_true(fabs(out[0] - (0.75 * 1.0 + 0.25 * 0.25)) < 1e-12);
    assert_true(fabs(out[1] - (0.75 * 0.5 + 0.25 * 1.0)) < 1e-12);
    assert_true(fabs(out[2] - (0.25 * 0.5)) < 1e-12);

    /* a source without popularity: only the events' part remains */
    recsys_popularity_blend(zero, ev, 3, RECSYS_POPULARITY_BLEND, 0.5, out);
    assert_true(fabs(out[1] - 0.5) < 1e-12);
    assert_true(fabs(out[0] - 0.125) < 1e-12);

    recsys_popularity_blend(src, ev, 3, RECSYS_POPULARITY_REPLACE, 0.5, out);
    assert_memory_equal(out, ev, sizeof(ev));

    /* in place */
    recsys_popularity_blend(src, ev, 3, RECSYS_POPULARITY_BLEND, 1.0, ev);
    assert_true(ev[1] == 1.0 && ev[0] == 0.25);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decay_values),
        cmocka_unit_test(test_items_and_categories),
        cmocka_unit_test(test_blend),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
