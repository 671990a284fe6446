/*
 * Unit tests for recsys_recommend.c: the freshness timestamp read from an
 * item's attributes.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "recsys_recommend.h"


static int64_t
test_ts(const char *attrs, const char *field)
{
    return recsys_recommend_timestamp(attrs, strlen(attrs), field);
}


static void
test_timestamp(void **state)
{
    (void) state;

    assert_int_equal(test_ts("{\"t\":1700000000}", "t"), 1700000000);
    assert_int_equal(test_ts("{\"t\": 1700000000.9 }", "t"), 1700000000);
    assert_int_equal(test_ts("{\"t\":-5}", "t"), -5);
    assert_int_equal(test_ts("{\"t\":1.7e9}", "t"), 1700000000);
    assert_int_equal(test_ts("{\"t\":\"1970-01-02T00:00:00Z\"}", "t"),
                     86400);
    assert_int_equal(test_ts("{\"t\":\"2026-12-01T00:00:00.250Z\"}", "t"),
                     1796083200);

    /* the key among others, nested values skipped whole */
    assert_int_equal(test_ts("{\"a\":{\"t\":1,\"b\":[1,{\"t\":2}]},"
                             "\"s\":\"x\\\"t\\\":3\",\"n\":null,"
                             "\"tt\":4,\"t\":5}", "t"), 5);
    assert_int_equal(test_ts(" { \"x\" : [ ] , \"t\" : 7 } ", "t"), 7);

    /* absent, or not a time */
    assert_true(test_ts("{\"a\":{\"t\":1}}", "t")
                == RECSYS_FRESHNESS_MISSING);
    assert_true(test_ts("{}", "t") == RECSYS_FRESHNESS_MISSING);
    assert_true(test_ts("{\"t\":\"yesterday\"}", "t")
                == RECSYS_FRESHNESS_MISSING);
    assert_true(test_ts("{\"t\":true}", "t") == RECSYS_FRESHNESS_MISSING);
    assert_true(test_ts("{\"t\":null}", "t") == RECSYS_FRESHNESS_MISSING);
    assert_true(test_ts("{\"t\":1e300}", "t") == RECSYS_FRESHNESS_MISSING);
    assert_true(test_ts("{\"t\":[1]}", "t") == RECSYS_FRESHNESS_MISSING);
    assert_true(test_ts("{\"t\\u0000\":1}", "t")
                == RECSYS_FRESHNESS_MISSING);
    assert_true(test_ts("[1]", "t") == RECSYS_FRESHNESS_MISSING);
    assert_true(test_ts("", "t") == RECSYS_FRESHNESS_MISSING);

    /* cut short anywhere: missing, never a read past the end */
    assert_true(recsys_recommend_timestamp("{\"t\":123", 5, "t")
                == RECSYS_FRESHNESS_MISSING);
    assert_true(recsys_recommend_timestamp("{\"a\":\"xyz\",\"t\":1}", 8,
                                           "t")
                == RECSYS_FRESHNESS_MISSING);
    assert_int_equal(recsys_recommend_timestamp("{\"t\":12345}", 8, "t"),
                     123);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_timestamp),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
