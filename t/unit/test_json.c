/*
 * Unit tests for recsys_json.c and recsys_string.c: escaping, UTF-8
 * validation and replacement, cuts on character boundaries, measured
 * lengths, numbers, hex digits, quoted text, decimal arguments.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recsys_json.h"
#include "recsys_string.h"


#define FFFD  "\xef\xbf\xbd"


static void assert_escape(const char *in, size_t len, size_t max,
    const char *out);
static void assert_valid_json_text(const char *s, size_t len);


/* the writer writes exactly what the length said, and nothing past it */

static void
assert_escape(const char *in, size_t len, size_t max, const char *out)
{
    size_t  n;
    char    buf[256], *end;

    n = recsys_json_escape_len(in, len, max);
    assert_int_equal(n, strlen(out));

    memset(buf, 'Z', sizeof(buf));
    end = recsys_json_escape(buf, in, len, max);
    assert_ptr_equal(end, buf + n);
    assert_memory_equal(buf, out, n);
    assert_int_equal(buf[n], 'Z');

    assert_valid_json_text(buf, n);
}


/* valid UTF-8, no raw control character, no unescaped quote */

static void
assert_valid_json_text(const char *s, size_t len)
{
    size_t                i;
    ssize_t               c;
    const unsigned char  *p;

    p = (const unsigned char *) s;

    for (i = 0; i < len; i += (size_t) c) {
        assert_true(p[i] >= 0x20);

        if (p[i] == '\\') {
            assert_true(i + 1 < len);
            assert_non_null(strchr("\"\\bfnrtu", p[i + 1]));
            c = (p[i + 1] == 'u') ? 6 : 2;
            assert_true(i + (size_t) c <= len);
            continue;
        }

        assert_true(p[i] != '"');

        c = recsys_utf8_char(p + i, len - i);
        assert_true(c > 0);
    }
}


static void
test_escape(void **state)
{
    size_t  i, n;
    char    in[2], buf[16];

    (void) state;

    assert_escape("", 0, RECSYS_JSON_NO_LIMIT, "");
    assert_escape("plain id-1", 10, RECSYS_JSON_NO_LIMIT, "plain id-1");
    assert_escape("a\"b\\c", 5, RECSYS_JSON_NO_LIMIT, "a\\\"b\\\\c");
    assert_escape("\n\r\t\b\f", 5, RECSYS_JSON_NO_LIMIT,
                  "\\n\\r\\t\\b\\f");
    assert_escape("\x01\x1f\x0b\x00", 4, RECSYS_JSON_NO_LIMIT,
                  "\\u0001\\u001f\\u000b\\u0000");
    assert_escape("</script>&", 10, RECSYS_JSON_NO_LIMIT, "</script>&");
    assert_escape("\x7f/", 2, RECSYS_JSON_NO_LIMIT, "\x7f/");

    /* every control character escapes to something JSON accepts */

    for (i = 0; i < 0x20; i++) {
        in[0] = (char) i;
        n = recsys_json_escape_len(in, 1, RECSYS_JSON_NO_LIMIT);
        assert_true(n == 2 || n == 6);
        assert_ptr_equal(recsys_json_escape(buf, in, 1, RECSYS_JSON_NO_LIMIT),
                         buf + n);
        assert_int_equal(buf[0], '\\');
        assert_valid_json_text(buf, n);
    }

    /* with quotes */

    n = recsys_json_str_len("a\"", 2, RECSYS_JSON_NO_LIMIT);
    assert_int_equal(n, 5);
    assert_ptr_equal(recsys_json_str(buf, "a\"", 2, RECSYS_JSON_NO_LIMIT),
                     buf + 5);
    assert_memory_equal(buf, "\"a\\\"\"", 5);
    assert_int_equal(recsys_json_str_len("", 0, 0), 2);
}


static void
test_utf8_valid(void **state)
{
    (void) state;

    /* 2, 3 and 4 bytes, and the edges of each range */

    assert_escape("caf\xc3\xa9", 5, RECSYS_JSON_NO_LIMIT, "caf\xc3\xa9");
    assert_escape("\xc2\x80\xdf\xbf", 4, RECSYS_JSON_NO_LIMIT,
                  "\xc2\x80\xdf\xbf");
    assert_escape("\xe2\x82\xac", 3, RECSYS_JSON_NO_LIMIT, "\xe2\x82\xac");
    assert_escape("\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf", 12,
                  RECSYS_JSON_NO_LIMIT,
                  "\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf");
    assert_escape("\xf0\x9f\x98\x80", 4, RECSYS_JSON_NO_LIMIT,
                  "\xf0\x9f\x98\x80");
    assert_escape("\xf0\x90\x80\x80\xf4\x8f\xbf\xbf", 8, RECSYS_JSON_NO_LIMIT,
                  "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf");

    /* U+FFFD itself is valid */
    assert_escape(FFFD, 3, RECSYS_JSON_NO_LIMIT, FFFD);
}


static void
test_utf8_invalid(void **state)
{
    (void) state;

    /* stray bytes: one U+FFFD each */
    assert_escape("bad\xff\xfe", 5, RECSYS_JSON_NO_LIMIT,
                  "bad" FFFD FFFD);
    assert_escape("\x80\xbf", 2, RECSYS_JSON_NO_LIMIT, FFFD FFFD);
    assert_escape("\xf5\x80\x80\x80", 4, RECSYS_JSON_NO_LIMIT,
                  FFFD FFFD FFFD FFFD);

    /* overlong forms: C0 and C1 never start a character */
    assert_escape("\xc0\x80", 2, RECSYS_JSON_NO_LIMIT, FFFD FFFD);
    assert_escape("\xc1\xbf", 2, RECSYS_JSON_NO_LIMIT, FFFD FFFD);
    assert_escape("\xe0\x80\xaf", 3, RECSYS_JSON_NO_LIMIT,
                  FFFD FFFD FFFD);
    assert_escape("\xf0\x8f\xbf\xbf", 4, RECSYS_JSON_NO_LIMIT,
                  FFFD FFFD FFFD FFFD);

    /* surrogates U+D800..U+DFFF */
    assert_escape("\xed\xa0\x80", 3, RECSYS_JSON_NO_LIMIT, FFFD FFFD FFFD);
    assert_escape("\xed\xbf\xbf", 3, RECSYS_JSON_NO_LIMIT, FFFD FFFD FFFD);

    /* past U+10FFFF */
    assert_escape("\xf4\x90\x80\x80", 4, RECSYS_JSON_NO_LIMIT,
                  FFFD FFFD FFFD FFFD);

    /* truncated: the valid prefix is one U+FFFD, the next byte stays */
    assert_escape("\xe2\x82", 2, RECSYS_JSON_NO_LIMIT, FFFD);
    assert_escape("\xf0\x9f\x98", 3, RECSYS_JSON_NO_LIMIT, FFFD);
    assert_escape("\xe2\x82" "A", 3, RECSYS_JSON_NO_LIMIT, FFFD "A");
    assert_escape("\xf0\x9f\x98\"", 4, RECSYS_JSON_NO_LIMIT, FFFD "\\\"");
    assert_escape("\xc3" "\xc3\xa9", 3, RECSYS_JSON_NO_LIMIT,
                  FFFD "\xc3\xa9");
}


static void
test_cap(void **state)
{
    (void) state;

    /* the cut falls before a character that would not fit */

    assert_escape("abc", 3, 0, "");
    assert_escape("abc", 3, 2, "ab");
    assert_escape("abc", 3, 3, "abc");
    assert_escape("a\xc3\xa9", 3, 2, "a");
    assert_escape("a\xc3\xa9", 3, 3, "a\xc3\xa9");
    assert_escape("a\xf0\x9f\x98\x80", 5, 4, "a");
    assert_escape("a\xf0\x9f\x98\x80", 5, 5, "a\xf0\x9f\x98\x80");

    /* nor inside an escape */

    assert_escape("a\"", 2, 2, "a");
    assert_escape("a\x01", 2, 6, "a");
    assert_escape("a\x01", 2, 7, "a\\u0001");

    /* nor inside a replacement */

    assert_escape("a\xff", 2, 3, "a");
    assert_escape("a\xff", 2, 4, "a" FFFD);
}


static void
test_raw(void **state)
{
    size_t      n;
    char        buf[64], *end;
    const char  *in, *out;

    (void) state;

    in = "{\"a\":\"x\\\"\xff\\n\",\"b\":[1,\"\xc3\xa9\xe2\x82\"]}";
    out = "{\"a\":\"x\\\"" FFFD "\\n\",\"b\":[1,\"\xc3\xa9" FFFD "\"]}";

    n = recsys_json_raw_len(in, strlen(in));
    assert_int_equal(n, strlen(out));

    memset(buf, 'Z', sizeof(buf));
    end = recsys_json_raw(buf, in, strlen(in));
    assert_ptr_equal(end, buf + n);
    assert_memory_equal(buf, out, n);
    assert_int_equal(buf[n], 'Z');
}


/* any bytes: measured = written, valid JSON text, a cut is a prefix */

static void
test_random(void **state)
{
    int            round;
    char           in[64], full[64 * 6], cut[64 * 6], *end;
    size_t         i, len, n, max;
    unsigned int   seed;

    (void) state;

    seed = 12345;

    for (round = 0; round < 20000; round++) {
        len = (size_t) (rand_r(&seed) % sizeof(in));

        for (i = 0; i < len; i++) {
            /* favour the bytes that matter: high bytes and controls */
            switch (rand_r(&seed) % 4) {
            case 0:
                in[i] = (char) (0x80 | rand_r(&seed) % 0x80);
                break;
            case 1:
                in[i] = (char) (0xc0 | rand_r(&seed) % 0x40);
                break;
            case 2:
                in[i] = (char) (rand_r(&seed) % 0x40);
                break;
            default:
                in[i] = (char) (rand_r(&seed) % 0x100);
                break;
            }
        }

        n = recsys_json_escape_len(in, len, RECSYS_JSON_NO_LIMIT);
        end = recsys_json_escape(full, in, len, RECSYS_JSON_NO_LIMIT);
        assert_int_equal((size_t) (end - full), n);
        assert_valid_json_text(full, n);

        max = (size_t) (rand_r(&seed) % (n + 2));

        i = recsys_json_escape_len(in, len, max);
        end = recsys_json_escape(cut, in, len, max);
        assert_int_equal((size_t) (end - cut), i);
        assert_true(i <= max);
        assert_true(i <= n);
        assert_memory_equal(cut, full, i);
        assert_valid_json_text(cut, i);
    }
}


static void
test_number(void **state)
{
    size_t  i;
    char    buf[RECSYS_JSON_NUMBER_LEN + 1], *end;

    static const struct {
        double       v;
        int          digits;
        const char  *out;
    } cases[] = {
        { 0.5, 7, "0.5" },
        { -3, 7, "-3" },
        { 0, 7, "0" },
        { -0.0, 7, "-0" },
        { 1e38, 7, "1e+38" },
        { 1e-40, 7, "1e-40" },
        { (double) 0.1f, 7, "0.1" },
        { (double) FLT_MAX, 7, "3.402823e+38" },
        { 0.123456789, 3, "0.123" },
        { 2.5, 0, "2" },
        { 1.0 / 3, 99, "0.33333333333333331" },
        { -DBL_MIN, 17, "-2.2250738585072014e-308" },
        { NAN, 7, "null" },
        { -NAN, 7, "null" },
        { INFINITY, 7, "null" },
        { -INFINITY, 17, "null" }
    };

    (void) state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(buf, 'Z', sizeof(buf));
        end = recsys_json_number(buf, cases[i].v, cases[i].digits);
        assert_true(end - buf <= RECSYS_JSON_NUMBER_LEN);
        *end = '\0';
        assert_string_equal(buf, cases[i].out);
    }
}


/* v as recsys_json_number() and as snprintf("%.*g") write it */

static void
test_number_as_printf(double v, int digits)
{
    char  *end, got[RECSYS_JSON_NUMBER_LEN + 1], want[64];

    end = recsys_json_number(got, v, digits);
    *end = '\0';
    snprintf(want, sizeof(want), "%.*g", digits, v);

    if (strcmp(got, want) != 0) {
        fail_msg("%a with %d digits: \"%s\", printf \"%s\"", v, digits,
                 got, want);
    }
}


/*
 * The writer of float scores without printf (1e-5 to 1e7) against
 * printf: rounding edges and a million random floats of that range, at
 * every precision, and doubles around it that go to printf
 */

static void
test_number_float(void **state)
{
    int       i, digits;
    float     f;
    uint32_t  bits, x;
    size_t    j;

    static const double  edges[] = {
        9.9999995, 9.99999949, 0.5, 2.5, 3.5, 0.125, 0.375, 1e-5, 1e-4,
        0.0001, 0.001, 1, 10, 100, 1e6, 9999999, 9999999.5, 1e7, 99999.99,
        0.099999994, 0.00999999977, 1.5, 1234567, 123456.75, 8388608,
        16777215, 0.3, 0.7, 4096, 1024.5, 1e-5 * 1.0000001, 9.9999997e-6,
        1e7 * 0.99999994
    };

    (void) state;

    for (j = 0; j < sizeof(edges) / sizeof(edges[0]); j++) {
        for (digits = 1; digits <= 17; digits++) {
            test_number_as_printf(edges[j], digits);
            test_number_as_printf(-edges[j], digits);
            test_number_as_printf((float) edges[j], digits);
            test_number_as_printf(-(float) edges[j], digits);
            test_number_as_printf(nextafter(edges[j], 0), digits);
            test_number_as_printf(nextafterf((float) edges[j], 0), digits);
            test_number_as_printf(nextafterf((float) edges[j], 1e30),
                                  digits);
        }
    }

    x = 2463534242u;

    for (i = 0; i < 1000000; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;

        /* exponents of 2^-18 to 2^24, any mantissa and sign */
        bits = (x & 0x807fffffu) | ((uint32_t) (109 + (x >> 8) % 43) << 23);
        memcpy(&f, &bits, sizeof(f));

        test_number_as_printf(f, 1 + (int) (i % 17));
    }
}


static void
test_string_helpers(void **state)
{
    int  c;

    (void) state;

    for (c = 0; c < 256; c++) {
        if (c >= '0' && c <= '9') {
            assert_int_equal(recsys_hex_value(c), c - '0');

        } else if (c >= 'a' && c <= 'f') {
            assert_int_equal(recsys_hex_value(c), c - 'a' + 10);

        } else if (c >= 'A' && c <= 'F') {
            assert_int_equal(recsys_hex_value(c), c - 'A' + 10);

        } else {
            assert_int_equal(recsys_hex_value(c), -1);
        }
    }

    for (c = 0; c < 16; c++) {
        assert_int_equal(recsys_hex_value(recsys_hex_digits[c]), c);
        assert_false(recsys_hex_digits[c] >= 'A'
                     && recsys_hex_digits[c] <= 'F');
    }

    assert_int_equal(recsys_utf8_char((const unsigned char *) "A", 1), 1);
    assert_int_equal(recsys_utf8_char((const unsigned char *) "\xc3\xa9", 2),
                     2);
    assert_int_equal(recsys_utf8_char((const unsigned char *) "\xc3\xa9", 1),
                     -1);
    assert_int_equal(recsys_utf8_char((const unsigned char *) "\xe2\x82\xac",
                                      3), 3);
    assert_int_equal(recsys_utf8_char((const unsigned char *) "\xe2\x82\xac",
                                      2), -2);
    assert_int_equal(recsys_utf8_char((const unsigned char *)
                                      "\xf4\x8f\xbf\xbf", 4), 4);
    assert_int_equal(recsys_utf8_char((const unsigned char *)
                                      "\xf0\x9f\x98\x41", 4), -3);
    assert_int_equal(recsys_utf8_char((const unsigned char *) "\xed\xa0", 2),
                     -1);
    assert_int_equal(recsys_utf8_char((const unsigned char *) "\xff", 1), -1);
}


static void
test_parse_uint_arg(void **state)
{
    size_t     i;
    uint64_t   v;

    static const char  *bad[] = {
        "", " 5", "\t5", "+5", "-1", "5 ", "5x", "0x10", "1e3",
        "18446744073709551616", "99999999999999999999"
    };

    (void) state;

    assert_int_equal(recsys_parse_uint_arg("0", 0, 10, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(recsys_parse_uint_arg("007", 0, 10, &v), 0);
    assert_int_equal(v, 7);
    assert_int_equal(recsys_parse_uint_arg("18446744073709551615", 0,
                                           UINT64_MAX, &v), 0);
    assert_true(v == UINT64_MAX);

    /* the bounds are inclusive; a refused value leaves *out alone */
    assert_int_equal(recsys_parse_uint_arg("1", 1, 4096, &v), 0);
    assert_int_equal(recsys_parse_uint_arg("4096", 1, 4096, &v), 0);
    assert_int_equal(v, 4096);
    assert_int_equal(recsys_parse_uint_arg("0", 1, 4096, &v), -1);
    assert_int_equal(recsys_parse_uint_arg("4097", 1, 4096, &v), -1);
    assert_int_equal(v, 4096);

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(recsys_parse_uint_arg(bad[i], 0, UINT64_MAX, &v), -1);
    }
}


static void
test_quote(void **state)
{
    char  buf[RECSYS_QUOTE_LEN + 8], want[RECSYS_QUOTE_LEN + 8];
    char  long_s[RECSYS_QUOTE_LEN + 1];

    (void) state;

    recsys_quote("ab", 2, buf, sizeof(buf));
    assert_string_equal(buf, "\"ab\"");

    /* control characters, DEL and quotes become '?', other bytes stay */
    recsys_quote("a\"b\n\x7f\xc3\xa9", 7, buf, sizeof(buf));
    assert_string_equal(buf, "\"a?b??\xc3\xa9\"");

    recsys_quote("", 0, buf, sizeof(buf));
    assert_string_equal(buf, "\"\"");

    /* RECSYS_QUOTE_LEN bytes as they are; one more is cut with "..." */
    memset(long_s, 'x', sizeof(long_s));
    recsys_quote(long_s, RECSYS_QUOTE_LEN, buf, sizeof(buf));
    snprintf(want, sizeof(want), "\"%.*s\"", RECSYS_QUOTE_LEN, long_s);
    assert_string_equal(buf, want);

    recsys_quote(long_s, sizeof(long_s), buf, sizeof(buf));
    snprintf(want, sizeof(want), "\"%.*s...\"", RECSYS_QUOTE_LEN, long_s);
    assert_string_equal(buf, want);
    assert_int_equal(strlen(buf), RECSYS_QUOTE_LEN + 5);

    recsys_quote(NULL, 0, buf, sizeof(buf));
    assert_string_equal(buf, "?");

    recsys_quote("ab", 2, buf, RECSYS_QUOTE_LEN + 5);
    assert_string_equal(buf, "?");
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_utf8_invalid),
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_raw),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_number),
        cmocka_unit_test(test_number_float),
        cmocka_unit_test(test_string_helpers),
        cmocka_unit_test(test_parse_uint_arg),
        cmocka_unit_test(test_quote),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
