/*
 * Unit tests for recsys_correlation.c: which client ids are kept and
 * which traceparent values give the correlation id.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "recsys_correlation.h"


#define TP_REST  "-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
#define TP       "00" TP_REST


static int id_ok(const char *s);
static int tp_ok(const char *s);


static int
id_ok(const char *s)
{
    return recsys_correlation_id_valid((const unsigned char *) s, strlen(s));
}


static int
tp_ok(const char *s)
{
    return recsys_traceparent_valid((const unsigned char *) s, strlen(s));
}


static void
test_id(void **state)
{
    int            c;
    char           buf[RECSYS_CORRELATION_ID_MAX + 2];
    unsigned char  one;

    (void) state;

    assert_true(id_ok("a"));
    assert_true(id_ok("req-1.2_3:4"));
    assert_true(id_ok("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
                      "qrstuvwxyz"));

    memset(buf, 'x', sizeof(buf));
    assert_true(recsys_correlation_id_valid((unsigned char *) buf,
                                            RECSYS_CORRELATION_ID_MAX));
    assert_false(recsys_correlation_id_valid((unsigned char *) buf,
                                             RECSYS_CORRELATION_ID_MAX + 1));
    assert_false(recsys_correlation_id_valid((unsigned char *) buf, 0));

    assert_false(id_ok("a b"));
    assert_false(id_ok("a\"b"));
    assert_false(id_ok("<script>"));
    assert_false(id_ok("a,b"));
    assert_false(id_ok("a/b"));
    assert_false(id_ok("a\r\nb"));
    assert_false(id_ok("caf\xc3\xa9"));

    /* exactly the 65 characters above, byte by byte */

    for (c = 0; c < 256; c++) {
        one = (unsigned char) c;

        assert_int_equal(recsys_correlation_id_valid(&one, 1),
                         (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                         || (c >= '0' && c <= '9') || c == '-' || c == '.'
                         || c == '_' || c == ':');
    }

    /* a NUL inside is not allowed either */
    assert_false(recsys_correlation_id_valid((unsigned char *) "a\0b", 3));
}


static void
test_traceparent(void **state)
{
    size_t  i;
    char    buf[128];

    (void) state;

    assert_true(tp_ok(TP));
    assert_int_equal(strlen(TP), RECSYS_TRACEPARENT_LEN);
    assert_memory_equal(TP + RECSYS_TRACEPARENT_TRACE_ID,
                        "0af7651916cd43dd8448eb211c80319c",
                        RECSYS_TRACEPARENT_TRACE_LEN);

    /* a later version may add fields; version 00 may not */
    assert_true(tp_ok("01" TP_REST));
    assert_true(tp_ok("cc" TP_REST "-what-ever"));
    assert_false(tp_ok("cc" TP_REST "what"));
    assert_false(tp_ok(TP "-x"));
    assert_false(tp_ok(TP "0"));

    assert_false(tp_ok("ff" TP_REST));
    assert_false(tp_ok("00-00000000000000000000000000000000-b7ad6b7169203331"
                       "-01"));
    assert_false(tp_ok("00-0af7651916cd43dd8448eb211c80319c-0000000000000000"
                       "-01"));
    assert_false(tp_ok("00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331"
                       "-01"));
    assert_false(tp_ok("00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331"
                       "-01"));
    assert_false(tp_ok(""));

    /* one byte short, and each byte replaced by a non-hex one */

    assert_false(recsys_traceparent_valid((unsigned char *) TP,
                                          RECSYS_TRACEPARENT_LEN - 1));

    for (i = 0; i < RECSYS_TRACEPARENT_LEN; i++) {
        memcpy(buf, TP, RECSYS_TRACEPARENT_LEN + 1);
        buf[i] = (buf[i] == '-') ? '0' : 'g';
        assert_false(tp_ok(buf));
    }
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_id),
        cmocka_unit_test(test_traceparent),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
