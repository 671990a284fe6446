/*
 * Unit tests for recsys_vecbody.c: the number parser gives strtod()'s
 * double bit for bit (edge values, 200000 random decimals, both of its
 * paths) and refuses what is not a JSON number; the body parser takes
 * only {"vector": [...], "k": n}; through recsys_query_parse_json() the
 * fast path and cJSON's path give the same query, and every body the fast
 * path refuses still gets its old answer.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recsys_request.h"
#include "recsys_vecbody.h"


#define DIM  4


static uint64_t  rng = 0x9e3779b97f4a7c15ULL;


static uint64_t
test_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;

    return rng;
}


/* s is a JSON number: parsed whole, to strtod()'s double */

static void
test_number_ok(const char *s)
{
    char        *e;
    double       d, ref;
    const char  *end;

    end = recsys_number_parse(s, s + strlen(s), &d);

    if (end != s + strlen(s)) {
        fail_msg("\"%s\" not parsed whole", s);
    }

    ref = strtod(s, &e);

    if (memcmp(&d, &ref, sizeof(double)) != 0) {
        fail_msg("\"%s\": %.17g, strtod %.17g", s, d, ref);
    }
}


/* s is not one JSON number: refused, or only a prefix of it read */

static void
test_number_bad(const char *s)
{
    double       d;
    const char  *end;

    end = recsys_number_parse(s, s + strlen(s), &d);

    if (end == s + strlen(s)) {
        fail_msg("\"%s\" taken for a number", s);
    }
}


static void
test_numbers_edge(void **state)
{
    size_t       i;
    double       d;
    const char  *s;
    char         buf[80];

    static const char  *ok[] = {
        "0", "-0", "1", "-1", "0.5", "1e10", "1E+10", "1e-10", "-1.5e-3",
        "0.1", "0.3", "1.638435", "-2.327813", "3.4028235e38",
        "3.4028236e38", "1e39", "1.401298e-45", "7e-46",
        "123456789012345678", "1234567890123456789",
        "12345678901234567890", "9007199254740992", "9007199254740993",
        "9007199254740995", "0.000000000000000000000000000001",
        "-0.0000000000000000000000000000000000000000000000000000000",
        "2.2250738585072014e-308", "4.9e-324", "2e-324",
        "1.7976931348623157e308", "1.7976931348623159e308", "1e400",
        "-1e400", "1e-400", "0e999", "0e-999", "0.0e+0", "1e22", "1e23",
        "1e-22", "1e-23", "4503599627370497e-22", "0.1e1", "100e-2",
        "1.00000000000000000000000000000000000000000000000001"
    };

    static const char  *bad[] = {
        "", "-", "+1", "01", "-01", "00", "1.", ".5", "-.5", "1e", "1e+",
        "1E-", "1.e5", "0x10", "inf", "-inf", "nan", "--1", "- 1", "e5",
        "\"1\"", "true"
    };

    (void) state;

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        test_number_ok(ok[i]);
    }

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        test_number_bad(bad[i]);
    }

    /* a number ends where the grammar does; the rest is not read */
    s = "1.5.3";
    assert_ptr_equal(recsys_number_parse(s, s + 5, &d), s + 3);
    assert_true(d == 1.5);

    s = "12,";
    assert_ptr_equal(recsys_number_parse(s, s + 3, &d), s + 2);
    assert_ptr_equal(recsys_number_parse(s, s + 1, &d), s + 1);
    assert_true(d == 1);

    s = "-1.25e2]";
    assert_ptr_equal(recsys_number_parse(s, s + 8, &d), s + 7);
    assert_true(d == -125);

    /* cJSON reads 63 bytes of a number: 63 are one, 64 are not */
    memset(buf, '0', sizeof(buf));
    buf[0] = '1';
    buf[1] = '.';
    buf[RECSYS_NUMBER_MAX] = '\0';
    test_number_ok(buf);

    buf[RECSYS_NUMBER_MAX] = '5';
    buf[RECSYS_NUMBER_MAX + 1] = '\0';
    test_number_bad(buf);
}


/* random decimals of up to 20 digits and exponents up to 10^+-40 */

static void
test_numbers_random(void **state)
{
    int       i, j, n, point, exp;
    char      buf[64], *p;
    uint64_t  r;

    (void) state;

    for (i = 0; i < 200000; i++) {
        r = test_rand();
        p = buf;

        if (r & 1) {
            *p++ = '-';
        }

        n = 1 + (int) ((r >> 1) % 20);
        point = (int) ((r >> 8) % (n + 1));

        for (j = 0; j < n; j++) {
            if (j == point && j > 0) {
                *p++ = '.';
            }

            *p++ = (char) ('0' + (j == 0 && n > 1 && point != 1
                                  ? 1 + test_rand() % 9
                                  : test_rand() % 10));
        }

        if ((r >> 16) & 1) {
            exp = (int) ((r >> 17) % 81) - 40;
            p += sprintf(p, "e%d", exp);
        }

        *p = '\0';

        test_number_ok(buf);
    }
}


static int
test_body(const char *s, uint32_t dim, float *vec, int *has_k, double *k)
{
    return recsys_vecbody_parse(s, strlen(s), dim, vec, has_k, k);
}


static void
test_bodies(void **state)
{
    int          has_k;
    float        v[DIM];
    double       k;
    size_t       i;

    static const char  *bad[] = {
        "", " ", "[1,2,3,4]", "{}", "{\"k\":3}",
        "{\"vector\":[1,2,3]}", "{\"vector\":[1,2,3,4,5]}",
        "{\"vector\":[]}", "{\"vector\":[1,2,3,4],}",
        "{\"vector\":[1,2,3,4,]}", "{\"vector\":[1,,2,3,4]}",
        "{\"vector\":[1,2,3,4]", "{\"vector\":[1,2,3,4]}x",
        "{\"vector\":[1,2,3,4]}{}", "\x01{\"vector\":[1,2,3,4]}",
        "{\"vector\":[1,2,3,4]}\x01", "{\"vector\"\x01:[1,2,3,4]}",
        "{\"vector\":[1,2,3,4],\"vector\":[1,2,3,4]}",
        "{\"k\":1,\"vector\":[1,2,3,4],\"k\":2}",
        "{\"vec\\u0074or\":[1,2,3,4]}", "{\"Vector\":[1,2,3,4]}",
        "{\"vectors\":[1,2,3,4]}", "{\"vector\":[1,2,3,4],\"x\":0}",
        "{\"vector\":[1,2,3,4],\"exclude\":[]}",
        "{\"vector\":[1,\"2\",3,4]}", "{\"vector\":[1,null,3,4]}",
        "{\"vector\":[1,[2],3,4]}", "{\"vector\":[1,2,3,1e39]}",
        "{\"vector\":[1,2,3,1e999]}", "{\"vector\":[01,2,3,4]}",
        "{\"vector\":[1.,2,3,4]}", "{\"vector\":[+1,2,3,4]}",
        "{\"vector\":{\"a\":1}}", "{\"vector\":[1,2,3,4],\"k\":\"3\"}",
        "{\"vector\":[1,2,3,4],\"k\":true}", "{vector:[1,2,3,4]}",
        "{'vector':[1,2,3,4]}", "{\"vector\" [1,2,3,4]}",
        "{\"vector\":[1 2,3,4]}"
    };

    (void) state;

    assert_int_equal(test_body("{\"vector\":[1,2,3,4]}", DIM, v, &has_k, &k),
                     0);
    assert_int_equal(has_k, 0);
    assert_true(v[0] == 1 && v[1] == 2 && v[2] == 3 && v[3] == 4);

    assert_int_equal(test_body(" \t\r\n{ \"k\" : 7 ,\n\"vector\" : [ -0.5 ,"
                               "1e-3,\t2.25E1 , 0 ] }\n", DIM, v, &has_k,
                               &k),
                     0);
    assert_int_equal(has_k, 1);
    assert_true(k == 7);
    assert_true(v[0] == -0.5f && v[1] == (float) 1e-3 && v[2] == 22.5f
                && v[3] == 0);

    /* a k the request refuses is still a number here */
    assert_int_equal(test_body("{\"vector\":[1,2,3,4],\"k\":-2.5}", DIM, v,
                               &has_k, &k),
                     0);
    assert_true(has_k && k == -2.5);

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (test_body(bad[i], DIM, v, &has_k, &k) != -1) {
            fail_msg("body %zu '%s' taken", i, bad[i]);
        }
    }

    /* the length given, not the NUL: nothing past it is read */
    assert_int_equal(recsys_vecbody_parse("{\"vector\":[1,2,3,4]}", 19, DIM,
                                          v, &has_k, &k),
                     -1);
}


/* through recsys_query_parse_json(), k defaults to 10, max_k 100 */

static int
test_parse(recsys_query_t *q, const char *body)
{
    memset(q, 0, sizeof(recsys_query_t));
    assert_int_equal(recsys_query_parse_args(q, NULL, 0, 10, 100),
                     RECSYS_REQ_OK);

    return recsys_query_parse_json(q, body, strlen(body), RECSYS_WANT_VECTOR,
                                   DIM, 100);
}


static void
test_request_same(void **state)
{
    int             i, j;
    char            fast[512], slow[600], *p;
    recsys_query_t  a, b;

    (void) state;

    /* an unknown member sends the same vector through cJSON */

    for (i = 0; i < 2000; i++) {
        p = fast;
        p += sprintf(p, "{\"vector\":[");

        for (j = 0; j < DIM; j++) {
            p += sprintf(p, "%s%.*g", j ? "," : "",
                         1 + (int) (test_rand() % 17),
                         ((double) (int64_t) test_rand()) / 1e18
                         * pow(10, (int) (test_rand() % 21) - 10));
        }

        p += sprintf(p, "],\"k\":%d}", 1 + i % 100);
        snprintf(slow, sizeof(slow), "{\"x\":0,%s", fast + 1);

        assert_int_equal(test_parse(&a, fast), RECSYS_REQ_OK);
        assert_int_equal(test_parse(&b, slow), RECSYS_REQ_OK);
        assert_non_null(a.vector);
        assert_non_null(b.vector);
        assert_int_equal(a.dimension, DIM);
        assert_int_equal(a.k, b.k);
        assert_int_equal(a.k, 1 + i % 100);
        assert_memory_equal(a.vector, b.vector, DIM * sizeof(float));

        recsys_query_free(&a);
        recsys_query_free(&b);
    }
}


/* bodies the fast path refuses keep their old answers */

static void
test_request_fallback(void **state)
{
    size_t          i;
    recsys_query_t  q;

    static const struct {
        const char  *body;
        int          status;
        const char  *code;
    } cases[] = {
        { "{\"vector\":[1,2,3,4],\"k\":0}", RECSYS_REQ_BAD, "bad_parameter" },
        { "{\"vector\":[1,2,3,4],\"k\":2.5}", RECSYS_REQ_BAD,
          "bad_parameter" },
        { "{\"vector\":[1,2,3,4],\"k\":101}", RECSYS_REQ_BAD,
          "bad_parameter" },
        { "{\"vector\":[1,2,3]}", RECSYS_REQ_UNPROCESSABLE,
          "wrong_dimension" },
        { "{\"vector\":[1,2,3,1e39]}", RECSYS_REQ_UNPROCESSABLE,
          "non_finite" },
        { "{\"vector\":[1,\"2\",3,4]}", RECSYS_REQ_BAD, "bad_parameter" },
        { "{\"vector\":[1,2,3,4]", RECSYS_REQ_BAD, "bad_parameter" },
        { "{\"vector\":[1,2,3,4]}x", RECSYS_REQ_BAD, "bad_parameter" },
        { "{\"k\":3}", RECSYS_REQ_BAD, "bad_parameter" },
        { "[1,2,3,4]", RECSYS_REQ_BAD, "bad_parameter" }
    };

    (void) state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (test_parse(&q, cases[i].body) != cases[i].status
            || strcmp(q.code, cases[i].code) != 0)
        {
            fail_msg("body '%s': %s (%s)", cases[i].body, q.code, q.error);
        }

        recsys_query_free(&q);
    }

    /* cJSON's leniencies stay cJSON's: "01" and a duplicate member */

    assert_int_equal(test_parse(&q, "{\"vector\":[01,2,3,4]}"),
                     RECSYS_REQ_OK);
    assert_true(q.vector[0] == 1);
    recsys_query_free(&q);

    assert_int_equal(test_parse(&q, "{\"vector\":[1,2,3,4],"
                                    "\"vector\":[5,6,7,8],\"k\":3}"),
                     RECSYS_REQ_OK);
    assert_true(q.vector[0] == 1 && q.k == 3);
    recsys_query_free(&q);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_numbers_edge),
        cmocka_unit_test(test_numbers_random),
        cmocka_unit_test(test_bodies),
        cmocka_unit_test(test_request_same),
        cmocka_unit_test(test_request_fallback)
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
