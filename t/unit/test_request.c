/*
 * Unit tests for recsys_request.c: query strings, JSON bodies, errors with
 * their HTTP status and code, vector checks per metric, the item id of a
 * URI.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "recsys_artifact.h"
#include "recsys_request.h"


#define DEF_K   10
#define MAX_K   1000
#define DIM     4


static int test_args(recsys_query_t *q, const char *args);
static int test_json(recsys_query_t *q, const char *body, int want);
static void assert_str(recsys_str_t s, const char *expect);
static void assert_bad_args(const char *args, const char *msg);
static void assert_bad_json(const char *body, int want, int status,
    const char *code, const char *msg);
static void assert_bad_batch(const char *body, size_t max, int status,
    const char *code, const char *msg);


static int
test_args(recsys_query_t *q, const char *args)
{
    memset(q, 0, sizeof(recsys_query_t));

    return recsys_query_parse_args(q, args, strlen(args), DEF_K, MAX_K);
}


static int
test_json(recsys_query_t *q, const char *body, int want)
{
    return recsys_query_parse_json(q, body, strlen(body), want, DIM, MAX_K);
}


static void
assert_str(recsys_str_t s, const char *expect)
{
    assert_int_equal(s.len, strlen(expect));
    assert_memory_equal(s.data, expect, s.len);
    assert_int_equal(s.data[s.len], '\0');
}


static void
assert_bad_args(const char *args, const char *msg)
{
    recsys_query_t  q;

    assert_int_equal(test_args(&q, args), RECSYS_REQ_BAD);
    assert_string_equal(q.code, "bad_parameter");

    if (msg != NULL) {
        assert_string_equal(q.error, msg);
    }

    recsys_query_free(&q);
}


static void
assert_bad_json(const char *body, int want, int status, const char *code,
    const char *msg)
{
    recsys_query_t  q;

    assert_int_equal(test_args(&q, ""), RECSYS_REQ_OK);
    assert_int_equal(test_json(&q, body, want), status);
    assert_string_equal(q.code, code);

    if (msg != NULL) {
        assert_string_equal(q.error, msg);
    }

    recsys_query_free(&q);
}


static void
test_defaults(void **state)
{
    recsys_query_t  q;

    (void) state;

    assert_int_equal(test_args(&q, ""), RECSYS_REQ_OK);
    assert_int_equal(q.k, DEF_K);
    assert_int_equal(q.has_category, 0);
    assert_int_equal(q.category.len, 0);
    assert_int_equal(q.nexclude, 0);
    assert_int_equal(q.nhistory, 0);
    assert_null(q.vector);
    recsys_query_free(&q);

    /* NULL args and unknown parameters */

    memset(&q, 0, sizeof(q));
    assert_int_equal(recsys_query_parse_args(&q, NULL, 0, 7, MAX_K),
                     RECSYS_REQ_OK);
    assert_int_equal(q.k, 7);
    recsys_query_free(&q);

    assert_int_equal(test_args(&q, "foo=bar&&=x&kk=zz&x=%zz&k"),
                     RECSYS_REQ_BAD);
    recsys_query_free(&q);

    assert_int_equal(test_args(&q, "foo=bar&&=x&kk=zz&x=%zz&"), RECSYS_REQ_OK);
    assert_int_equal(q.k, DEF_K);
    recsys_query_free(&q);

    /* free is idempotent and NULL-safe */

    recsys_query_free(&q);
    recsys_query_free(NULL);
}


static void
test_k(void **state)
{
    recsys_query_t  q;

    (void) state;

    assert_int_equal(test_args(&q, "k=1"), RECSYS_REQ_OK);
    assert_int_equal(q.k, 1);
    recsys_query_free(&q);

    assert_int_equal(test_args(&q, "k=1000"), RECSYS_REQ_OK);
    assert_int_equal(q.k, 1000);
    recsys_query_free(&q);

    assert_int_equal(test_args(&q, "k=007"), RECSYS_REQ_OK);
    assert_int_equal(q.k, 7);
    recsys_query_free(&q);

    assert_int_equal(test_args(&q, "%6b=%33"), RECSYS_REQ_OK);
    assert_int_equal(q.k, 3);
    recsys_query_free(&q);

    /* last one wins */

    assert_int_equal(test_args(&q, "k=5&k=6"), RECSYS_REQ_OK);
    assert_int_equal(q.k, 6);
    recsys_query_free(&q);

    assert_bad_args("k=0", "\"k\" must be an integer between 1 and 1000");
    assert_bad_args("k=1001", "\"k\" must be an integer between 1 and 1000");
    assert_bad_args("k=abc", NULL);
    assert_bad_args("k=10x", NULL);
    assert_bad_args("k=-1", NULL);
    assert_bad_args("k=", NULL);
    assert_bad_args("k", NULL);
    assert_bad_args("k=+5", NULL);
    assert_bad_args("k=1.0", NULL);
    assert_bad_args("k=99999999999999999999999999", NULL);
    assert_bad_args("k=%zz", "\"k\" has an invalid percent-encoding");
    assert_bad_args("k=abc%zz", "\"k\" has an invalid percent-encoding");
    assert_bad_args("k=%31%3", "\"k\" has an invalid percent-encoding");
    assert_bad_args("k=%3x1", "\"k\" has an invalid percent-encoding");
    assert_bad_args("k=%30", "\"k\" must be an integer between 1 and "
                    "1000");
}


/* the rate limiter's cost=k reads exactly the k the handler uses */

static void
test_cost_k(void **state)
{
    size_t              i;
    uint32_t            cost;
    recsys_query_t      q;
    static const char  *same[] = {
        "", "k=5", "k=1&k=100", "k=100&k=1", "%6B=100", "%6b=%31%30",
        "a=1&k=7&b=2", "k=0007", "x&k=3&y", "K=9", "kk=9", "k%00=9",
        "k=1000",
    };

    (void) state;

    for (i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        assert_int_equal(test_args(&q, same[i]), RECSYS_REQ_OK);
        cost = recsys_query_cost_k(same[i], strlen(same[i]), DEF_K, MAX_K);
        assert_int_equal(cost, q.k);
        recsys_query_free(&q);
    }

    assert_int_equal(recsys_query_cost_k("k=1&k=100", 9, DEF_K, MAX_K), 100);
    assert_int_equal(recsys_query_cost_k("%6B=100", 7, DEF_K, MAX_K), 100);
    assert_int_equal(recsys_query_cost_k(NULL, 0, DEF_K, MAX_K), DEF_K);

    /* a k the handler refuses (400): too large costs max_k, else default */

    assert_int_equal(recsys_query_cost_k("k=5000", 6, DEF_K, MAX_K), MAX_K);
    assert_int_equal(recsys_query_cost_k("k=5000&k=1", 10, DEF_K, MAX_K),
                     MAX_K);
    assert_int_equal(recsys_query_cost_k("k=1&k=%35000", 12, DEF_K, MAX_K),
                     MAX_K);
    assert_int_equal(recsys_query_cost_k("k=99999999999999999999999", 25,
                                         DEF_K, MAX_K), MAX_K);
    assert_int_equal(recsys_query_cost_k("k=abc&k=500", 11, DEF_K, MAX_K),
                     DEF_K);
    assert_int_equal(recsys_query_cost_k("k=0", 3, DEF_K, MAX_K), DEF_K);
    assert_int_equal(recsys_query_cost_k("k=", 2, DEF_K, MAX_K), DEF_K);
    assert_int_equal(recsys_query_cost_k("k=5%zz", 6, DEF_K, MAX_K), DEF_K);
    assert_int_equal(recsys_query_cost_k("k=900&k=9x", 10, DEF_K, MAX_K),
                     DEF_K);
}


static void
test_percent(void **state)
{
    recsys_query_t  q;

    (void) state;

    assert_int_equal(test_args(&q, "category=Sci%2dFi+%26+more%c3%A9"),
                     RECSYS_REQ_OK);
    assert_int_equal(q.has_category, 1);
    assert_str(q.category, "Sci-Fi & more\xc3\xa9");
    recsys_query_free(&q);

    assert_int_equal(test_args(&q, "category="), RECSYS_REQ_OK);
    assert_int_equal(q.has_category, 0);
    recsys_query_free(&q);

    assert_int_equal(test_args(&q, "category=a&category="), RECSYS_REQ_OK);
    assert_int_equal(q.has_category, 0);
    recsys_query_free(&q);

    assert_int_equal(test_args(&q, "category=%00x"), RECSYS_REQ_OK);
    assert_int_equal(q.category.len, 2);
    assert_int_equal(q.category.data[0], '\0');
    recsys_query_free(&q);

    assert_bad_args("category=%", "\"category\" has an invalid "
                    "percent-encoding");
    assert_bad_args("category=%4", NULL);
    assert_bad_args("category=%4g", NULL);
    assert_bad_args("exclude=a,%g1", "\"exclude\" has an invalid "
                    "percent-encoding");
    assert_bad_args("history=%", "\"history\" has an invalid "
                    "percent-encoding");
}


static void
test_lists(void **state)
{
    recsys_query_t  q;

    (void) state;

    assert_int_equal(test_args(&q, "exclude=a,b&k=3&exclude=,c,,&exclude="
                               "&history=x%2Cy&history=z&exclude=d+e"),
                     RECSYS_REQ_OK);
    assert_int_equal(q.k, 3);
    assert_int_equal(q.nexclude, 4);
    assert_str(q.exclude[0], "a");
    assert_str(q.exclude[1], "b");
    assert_str(q.exclude[2], "c");
    assert_str(q.exclude[3], "d e");
    assert_int_equal(q.nhistory, 2);
    assert_str(q.history[0], "x,y");
    assert_str(q.history[1], "z");
    recsys_query_free(&q);

    assert_int_equal(test_args(&q, "exclude=,,,&history="), RECSYS_REQ_OK);
    assert_int_equal(q.nexclude, 0);
    assert_int_equal(q.nhistory, 0);
    recsys_query_free(&q);
}


static void
test_caps(void **state)
{
    int             i;
    char           *args, *p;
    recsys_query_t  q;

    (void) state;

    args = malloc(16 * 1001 + 64);
    assert_non_null(args);

    /* 1000 ids in two parameters pass, one more fails */

    p = args + sprintf(args, "exclude=");
    for (i = 0; i < 500; i++) {
        p += sprintf(p, "i%d,", i);
    }

    p += sprintf(p, "&exclude=");
    for (i = 500; i < 1000; i++) {
        p += sprintf(p, "i%d,", i);
    }

    assert_int_equal(test_args(&q, args), RECSYS_REQ_OK);
    assert_int_equal(q.nexclude, 1000);
    assert_str(q.exclude[999], "i999");
    recsys_query_free(&q);

    sprintf(p, "x");
    assert_bad_args(args, "\"exclude\" has more than 1000 ids");

    p = args + sprintf(args, "history=");
    for (i = 0; i < 1001; i++) {
        p += sprintf(p, "%d,", i);
    }

    assert_bad_args(args, "\"history\" has more than 1000 ids");

    free(args);
}


static void
test_json_happy(void **state)
{
    recsys_query_t  q;

    (void) state;

    assert_int_equal(test_args(&q, ""), RECSYS_REQ_OK);
    assert_int_equal(test_json(&q, " {\"k\": 5, \"exclude\": [\"a\", \"b\"],"
                               " \"category\": \"books\", \"history\":"
                               " [\"h1\", \"h\\u00e9\"], \"other\": [1, {}],"
                               " \"vector\": [1, -2.5, 0, 1e3]}\n",
                               RECSYS_WANT_HISTORY | RECSYS_WANT_VECTOR),
                     RECSYS_REQ_OK);
    assert_int_equal(q.k, 5);
    assert_int_equal(q.nexclude, 2);
    assert_str(q.exclude[0], "a");
    assert_str(q.exclude[1], "b");
    assert_int_equal(q.has_category, 1);
    assert_str(q.category, "books");
    assert_int_equal(q.nhistory, 2);
    assert_str(q.history[0], "h1");
    assert_str(q.history[1], "h\xc3\xa9");
    assert_non_null(q.vector);
    assert_int_equal(q.dimension, DIM);
    assert_true(q.vector[0] == 1.0f);
    assert_true(q.vector[1] == -2.5f);
    assert_true(q.vector[2] == 0.0f);
    assert_true(q.vector[3] == 1000.0f);
    recsys_query_free(&q);

    /* empty object keeps the defaults; history ignored unless wanted */

    assert_int_equal(test_args(&q, ""), RECSYS_REQ_OK);
    assert_int_equal(test_json(&q, "{\"history\": 5}", 0), RECSYS_REQ_OK);
    assert_int_equal(q.k, DEF_K);
    assert_int_equal(q.nhistory, 0);
    recsys_query_free(&q);

    /* history is optional even when wanted; empty arrays are fine */

    assert_int_equal(test_args(&q, ""), RECSYS_REQ_OK);
    assert_int_equal(test_json(&q, "{\"history\": [], \"exclude\": [],"
                               " \"category\": \"\"}",
                               RECSYS_WANT_HISTORY), RECSYS_REQ_OK);
    assert_int_equal(q.nhistory, 0);
    assert_int_equal(q.nexclude, 0);
    assert_int_equal(q.has_category, 0);
    recsys_query_free(&q);

    /* "k" as an integral float */

    assert_int_equal(test_args(&q, ""), RECSYS_REQ_OK);
    assert_int_equal(test_json(&q, "{\"k\": 1000.0}", 0), RECSYS_REQ_OK);
    assert_int_equal(q.k, 1000);
    recsys_query_free(&q);
}


static void
test_json_overrides(void **state)
{
    recsys_query_t  q;

    (void) state;

    assert_int_equal(test_args(&q, "k=3&exclude=a,b&category=x&history=h"),
                     RECSYS_REQ_OK);

    /* fields the body carries win; the others stay from the query */

    assert_int_equal(test_json(&q, "{\"k\": 7, \"exclude\": [\"c\"]}",
                               RECSYS_WANT_HISTORY), RECSYS_REQ_OK);
    assert_int_equal(q.k, 7);
    assert_int_equal(q.nexclude, 1);
    assert_str(q.exclude[0], "c");
    assert_str(q.category, "x");
    assert_int_equal(q.nhistory, 1);
    assert_str(q.history[0], "h");

    assert_int_equal(test_json(&q, "{\"category\": \"\", \"history\":"
                               " [\"p\", \"q\"]}", RECSYS_WANT_HISTORY),
                     RECSYS_REQ_OK);
    assert_int_equal(q.has_category, 0);
    assert_int_equal(q.nhistory, 2);
    assert_str(q.history[1], "q");
    assert_int_equal(q.k, 7);

    recsys_query_free(&q);
    recsys_query_free(&q);
}


static void
test_json_errors(void **state)
{
    int    i;
    char  *body, *p;

    (void) state;

    assert_bad_json("", 0, 400, "bad_parameter", "invalid JSON body");
    assert_bad_json("{", 0, 400, "bad_parameter", "invalid JSON body");
    assert_bad_json("{\"k\": 1,}", 0, 400, "bad_parameter",
                    "invalid JSON body");
    assert_bad_json("{} x", 0, 400, "bad_parameter", "invalid JSON body");
    assert_bad_json("{}{}", 0, 400, "bad_parameter", "invalid JSON body");
    assert_bad_json("[1, 2]", 0, 400, "bad_parameter",
                    "body must be a JSON object");
    assert_bad_json("\"s\"", 0, 400, "bad_parameter",
                    "body must be a JSON object");
    assert_bad_json("null", 0, 400, "bad_parameter",
                    "body must be a JSON object");

    assert_bad_json("{\"k\": 0}", 0, 400, "bad_parameter",
                    "\"k\" must be an integer between 1 and 1000");
    assert_bad_json("{\"k\": 1001}", 0, 400, "bad_parameter", NULL);
    assert_bad_json("{\"k\": 2.5}", 0, 400, "bad_parameter", NULL);
    assert_bad_json("{\"k\": -3}", 0, 400, "bad_parameter", NULL);
    assert_bad_json("{\"k\": \"5\"}", 0, 400, "bad_parameter", NULL);
    assert_bad_json("{\"k\": null}", 0, 400, "bad_parameter", NULL);
    assert_bad_json("{\"k\": 1e999}", 0, 400, "bad_parameter", NULL);

    assert_bad_json("{\"exclude\": \"a\"}", 0, 400, "bad_parameter",
                    "\"exclude\" must be an array of strings");
    assert_bad_json("{\"exclude\": [\"a\", 1]}", 0, 400, "bad_parameter",
                    "\"exclude\" must be an array of non-empty strings");
    assert_bad_json("{\"exclude\": [\"\"]}", 0, 400, "bad_parameter", NULL);
    assert_bad_json("{\"history\": {}}", RECSYS_WANT_HISTORY, 400,
                    "bad_parameter",
                    "\"history\" must be an array of strings");
    assert_bad_json("{\"history\": [null]}", RECSYS_WANT_HISTORY, 400,
                    "bad_parameter", NULL);
    assert_bad_json("{\"category\": 3}", 0, 400, "bad_parameter",
                    "\"category\" must be a string");
    assert_bad_json("{\"category\": null}", 0, 400, "bad_parameter", NULL);

    /* caps */

    body = malloc(8 * 1001 + 64);
    assert_non_null(body);

    p = body + sprintf(body, "{\"exclude\": [");
    for (i = 0; i < 1001; i++) {
        p += sprintf(p, "%s\"%d\"", i ? "," : "", i);
    }

    sprintf(p, "]}");
    assert_bad_json(body, 0, 400, "bad_parameter",
                    "\"exclude\" has more than 1000 ids");

    memcpy(body + 2, "history", 7);
    assert_bad_json(body, RECSYS_WANT_HISTORY, 400, "bad_parameter",
                    "\"history\" has more than 1000 ids");

    free(body);
}


static void
test_json_strict(void **state)
{
    size_t        i;
    cJSON        *root;
    recsys_query_t  q;

    static const struct {
        const char  *body;
        size_t       len;
        int          ok;
    } cases[] = {
        { "{\"full\": true}", 14, 1 },
        { " \t\r\n{} \t\r\n", 10, 1 },
        { "[1]", 3, 1 },
        { "{\"full\": true} trailing garbage", 31, 0 },
        { "{}{}", 4, 0 },
        { "\0{}", 3, 0 },               /* cJSON skips a leading NUL */
        { "{}\0", 3, 0 },
        { "\x01{}", 3, 0 },             /* and any control byte */
        { "{}\x1f", 3, 0 },
        { "\x0b{}", 3, 0 },             /* \v is no JSON space */
        { "\0", 1, 0 },
        { "   ", 3, 0 },
        { "", 0, 0 },
    };

    (void) state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        root = recsys_json_parse_strict(cases[i].body, cases[i].len);

        if (cases[i].ok) {
            assert_non_null(root);

        } else {
            assert_null(root);
        }

        cJSON_Delete(root);
    }

    /* the query bodies use it */
    memset(&q, 0, sizeof(q));
    assert_int_equal(recsys_query_parse_json(&q, "\0{\"k\": 3}", 9, 0, DIM,
                                             MAX_K),
                     400);
    recsys_query_free(&q);
}


static void
test_json_vector(void **state)
{
    (void) state;

    assert_bad_json("{}", RECSYS_WANT_VECTOR, 400, "bad_parameter",
                    "\"vector\" is required");
    assert_bad_json("{\"vector\": null}", RECSYS_WANT_VECTOR, 400,
                    "bad_parameter", "\"vector\" must be an array of numbers");
    assert_bad_json("{\"vector\": {\"0\": 1}}", RECSYS_WANT_VECTOR, 400,
                    "bad_parameter", NULL);
    assert_bad_json("{\"vector\": [1, 2, \"3\", 4]}", RECSYS_WANT_VECTOR,
                    400, "bad_parameter",
                    "\"vector\" must be an array of numbers");
    assert_bad_json("{\"vector\": [1, 2, [3], 4]}", RECSYS_WANT_VECTOR,
                    400, "bad_parameter", NULL);

    assert_bad_json("{\"vector\": [1, 2, 3]}", RECSYS_WANT_VECTOR, 422,
                    "wrong_dimension",
                    "\"vector\" has 3 numbers, expected 4");
    assert_bad_json("{\"vector\": []}", RECSYS_WANT_VECTOR, 422,
                    "wrong_dimension",
                    "\"vector\" has 0 numbers, expected 4");
    assert_bad_json("{\"vector\": [1, 2, 3, 4, 5]}", RECSYS_WANT_VECTOR, 422,
                    "wrong_dimension", NULL);

    assert_bad_json("{\"vector\": [1, 2, 1e999, 4]}", RECSYS_WANT_VECTOR,
                    422, "non_finite",
                    "\"vector\" has a non-finite number at index 2");
    assert_bad_json("{\"vector\": [-1e999, 2, 3, 4]}", RECSYS_WANT_VECTOR,
                    422, "non_finite", NULL);
    assert_bad_json("{\"vector\": [1, 2, 3, 1e39]}", RECSYS_WANT_VECTOR,
                    422, "non_finite", NULL);

    /* without RECSYS_WANT_VECTOR the key is ignored */

    assert_bad_json("{\"vector\": 5, \"k\": 0}", 0, 400, "bad_parameter",
                    "\"k\" must be an integer between 1 and 1000");
}


static void
test_check_vector(void **state)
{
    float           v[DIM];
    recsys_query_t  q;

    (void) state;

    memset(&q, 0, sizeof(q));

    /* no vector: nothing to check */
    assert_int_equal(recsys_query_check_vector(&q, RECSYS_METRIC_COSINE),
                     RECSYS_REQ_OK);

    q.vector = v;
    q.dimension = DIM;

    /* zero: no direction under cosine, a point like another for the rest */

    memset(v, 0, sizeof(v));
    v[2] = -0.0f;
    assert_int_equal(recsys_query_check_vector(&q, RECSYS_METRIC_COSINE),
                     RECSYS_REQ_UNPROCESSABLE);
    assert_string_equal(q.code, "zero_vector");
    assert_int_equal(recsys_query_check_vector(&q, RECSYS_METRIC_L2),
                     RECSYS_REQ_OK);
    assert_int_equal(recsys_query_check_vector(&q,
                                               RECSYS_METRIC_INNER_PRODUCT),
                     RECSYS_REQ_OK);

    /* subnormal components are a direction (they used to give NaN) */

    v[0] = 1e-40f;
    assert_int_equal(recsys_query_check_vector(&q, RECSYS_METRIC_COSINE),
                     RECSYS_REQ_OK);
    v[0] = 1e-45f;
    assert_int_equal(recsys_query_check_vector(&q, RECSYS_METRIC_COSINE),
                     RECSYS_REQ_OK);

    /* huge: fine under cosine, refused where scores would overflow */

    v[0] = 3e38f;
    v[1] = 3e38f;
    v[2] = 3e38f;
    v[3] = 3e38f;
    assert_int_equal(recsys_query_check_vector(&q, RECSYS_METRIC_COSINE),
                     RECSYS_REQ_OK);
    assert_int_equal(recsys_query_check_vector(&q, RECSYS_METRIC_L2),
                     RECSYS_REQ_UNPROCESSABLE);
    assert_string_equal(q.code, "vector_too_large");
    assert_int_equal(recsys_query_check_vector(&q,
                                               RECSYS_METRIC_INNER_PRODUCT),
                     RECSYS_REQ_UNPROCESSABLE);
    assert_string_equal(q.code, "vector_too_large");

    /* the edge: a squared norm just under FLT_MAX passes */

    memset(v, 0, sizeof(v));
    v[0] = 1.8e19f;
    assert_int_equal(recsys_query_check_vector(&q, RECSYS_METRIC_L2),
                     RECSYS_REQ_OK);
    v[1] = 1e19f;
    assert_int_equal(recsys_query_check_vector(&q, RECSYS_METRIC_L2),
                     RECSYS_REQ_UNPROCESSABLE);
}


static void
test_uri_item_id(void **state)
{
    size_t        i;
    recsys_str_t  id;

    static const struct {
        const char  *uri;
        const char  *id;
    } cases[] = {
        { "/v1/items/apple/similar", "apple" },
        { "/v1/items/apple/similar/", "apple" },
        { "/v1/items/apple/similar//", "apple" },
        { "/v1/items/a%20b/similar", "a%20b" },
        { "/items//similar", "" },
        { "/apple/similar", "apple" },
        { "apple/similar", "apple" },
        { "/similar", "" },
        { "similar", "" },
        { "/", "" },
        { "", "" }
    };

    (void) state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        recsys_uri_item_id(cases[i].uri, strlen(cases[i].uri), &id);
        assert_int_equal(id.len, strlen(cases[i].id));
        assert_memory_equal(id.data, cases[i].id, id.len);
        assert_true(id.data >= cases[i].uri
                    && id.data + id.len <= cases[i].uri
                                           + strlen(cases[i].uri));
    }
}


static void
test_rank_args(void **state)
{
    recsys_query_t  q;

    (void) state;

    assert_int_equal(test_args(&q, "profile=balanced&explain=true"
                                   "&positive=a,b&positive=c"
                                   "&negative=x%2Cy,z"), RECSYS_REQ_OK);
    assert_str(q.profile, "balanced");
    assert_int_equal(q.explain, 1);
    assert_int_equal(q.npositive, 3);
    assert_str(q.positive[0], "a");
    assert_str(q.positive[2], "c");
    assert_int_equal(q.nnegative, 2);
    assert_str(q.negative[0], "x,y");
    assert_str(q.negative[1], "z");
    recsys_query_free(&q);

    assert_int_equal(test_args(&q, "explain=1&explain=0"), RECSYS_REQ_OK);
    assert_int_equal(q.explain, 0);
    assert_int_equal(q.profile.len, 0);
    recsys_query_free(&q);

    assert_bad_args("explain=2", "\"explain\" must be true or false");
    assert_bad_args("explain=", "\"explain\" must be true or false");
    assert_bad_args("explain=TRUE", "\"explain\" must be true or false");
    assert_bad_args("profile=%zz",
                    "\"profile\" has an invalid percent-encoding");
}


static void
test_rank_json(void **state)
{
    recsys_query_t  q;

    (void) state;

    assert_int_equal(test_args(&q, "profile=a&explain=true"), RECSYS_REQ_OK);
    assert_int_equal(test_json(&q, "{\"profile\": \"b\", \"explain\": false,"
                                   " \"positive\": [\"p1\", [1, 2, 3, 4],"
                                   " \"p2\", [0, 0, 0, 0.5]],"
                                   " \"negative\": [\"n1\"]}",
                               RECSYS_WANT_HISTORY), RECSYS_REQ_OK);
    assert_str(q.profile, "b");
    assert_int_equal(q.explain, 0);
    assert_int_equal(q.npositive, 2);
    assert_str(q.positive[0], "p1");
    assert_str(q.positive[1], "p2");
    assert_int_equal(q.npositive_vectors, 2);
    assert_true(q.positive_vectors[3] == 4.0f);
    assert_true(q.positive_vectors[7] == 0.5f);
    assert_int_equal(q.nnegative, 1);
    assert_str(q.negative[0], "n1");
    recsys_query_free(&q);

    /* search takes profile and explain, not examples */
    assert_int_equal(test_args(&q, ""), RECSYS_REQ_OK);
    assert_int_equal(test_json(&q, "{\"explain\": true, \"positive\": 5,"
                                   " \"vector\": [1, 0, 0, 0]}",
                               RECSYS_WANT_VECTOR), RECSYS_REQ_OK);
    assert_int_equal(q.explain, 1);
    assert_int_equal(q.npositive, 0);
    recsys_query_free(&q);

    assert_bad_json("{\"explain\": 2}", RECSYS_WANT_HISTORY, 400,
                    "bad_parameter", "\"explain\" must be true or false");
    assert_bad_json("{\"explain\": \"true\"}", RECSYS_WANT_HISTORY, 400,
                    "bad_parameter", "\"explain\" must be true or false");
    assert_bad_json("{\"profile\": 1}", RECSYS_WANT_HISTORY, 400,
                    "bad_parameter", "\"profile\" must be a string");
    assert_bad_json("{\"positive\": \"a\"}", RECSYS_WANT_HISTORY, 400,
                    "bad_parameter", "\"positive\" must be an array of"
                    " non-empty ids and vectors");
    assert_bad_json("{\"positive\": [\"\"]}", RECSYS_WANT_HISTORY, 400,
                    "bad_parameter", NULL);
    assert_bad_json("{\"positive\": [[1, \"a\", 0, 0]]}",
                    RECSYS_WANT_HISTORY, 400, "bad_parameter", NULL);
    assert_bad_json("{\"positive\": [[1, 2]]}", RECSYS_WANT_HISTORY, 422,
                    "wrong_dimension", "a \"positive\" vector has 2"
                    " numbers, expected 4");
    assert_bad_json("{\"positive\": [[1, 2, 3, 1e39]]}",
                    RECSYS_WANT_HISTORY, 422, "non_finite",
                    "a \"positive\" vector has a non-finite number at"
                    " index 3");
    assert_bad_json("{\"negative\": [[1, 2, 3, 4]]}", RECSYS_WANT_HISTORY,
                    400, "bad_parameter", "\"negative\" must be an array of"
                    " non-empty strings");
}


/* a batch body: its queries in order, each merged over the query string */
static void
test_batch(void **state)
{
    size_t          n;
    recsys_query_t  q, qi;

    (void) state;

    assert_int_equal(test_args(&q, "k=3"), RECSYS_REQ_OK);
    assert_int_equal(test_json(&q,
                               "{\"queries\": [{\"vector\": [1,2,3,4]},"
                               " {\"vector\": [1,0,0,0], \"k\": 7},"
                               " 5, {\"queries\": []}, {\"k\": 2}]}",
                               RECSYS_WANT_VECTOR),
                     RECSYS_REQ_BATCH);
    assert_int_equal(recsys_batch_count(&q, 5, &n), RECSYS_REQ_OK);
    assert_int_equal(n, 5);

    assert_int_equal(test_args(&qi, "k=3"), RECSYS_REQ_OK);
    assert_int_equal(recsys_batch_next(&q, &qi, RECSYS_WANT_VECTOR, DIM,
                                       MAX_K), RECSYS_REQ_OK);
    assert_int_equal(qi.k, 3);
    assert_non_null(qi.vector);
    assert_true(qi.vector[3] == 4.0f);
    recsys_query_free(&qi);

    assert_int_equal(test_args(&qi, "k=3"), RECSYS_REQ_OK);
    assert_int_equal(recsys_batch_next(&q, &qi, RECSYS_WANT_VECTOR, DIM,
                                       MAX_K), RECSYS_REQ_OK);
    assert_int_equal(qi.k, 7);
    assert_true(qi.vector[0] == 1.0f);
    recsys_query_free(&qi);

    assert_int_equal(test_args(&qi, ""), RECSYS_REQ_OK);
    assert_int_equal(recsys_batch_next(&q, &qi, RECSYS_WANT_VECTOR, DIM,
                                       MAX_K), RECSYS_REQ_BAD);
    assert_string_equal(qi.code, "bad_parameter");
    assert_string_equal(qi.error, "a query must be a JSON object");
    recsys_query_free(&qi);

    assert_int_equal(test_args(&qi, ""), RECSYS_REQ_OK);
    assert_int_equal(recsys_batch_next(&q, &qi, RECSYS_WANT_VECTOR, DIM,
                                       MAX_K), RECSYS_REQ_BAD);
    assert_string_equal(qi.error, "a query of a batch cannot be a batch");
    recsys_query_free(&qi);

    /* the single body's own errors, word for word */
    assert_int_equal(test_args(&qi, ""), RECSYS_REQ_OK);
    assert_int_equal(recsys_batch_next(&q, &qi, RECSYS_WANT_VECTOR, DIM,
                                       MAX_K), RECSYS_REQ_BAD);
    assert_string_equal(qi.error, "\"vector\" is required");
    recsys_query_free(&qi);

    recsys_query_free(&q);
    assert_null(q.batch);

    /* history queries; an empty batch is a batch of none */
    assert_int_equal(test_args(&q, ""), RECSYS_REQ_OK);
    assert_int_equal(test_json(&q, "{\"queries\": []}", RECSYS_WANT_HISTORY),
                     RECSYS_REQ_BATCH);
    assert_int_equal(recsys_batch_count(&q, 64, &n), RECSYS_REQ_OK);
    assert_int_equal(n, 0);
    recsys_query_free(&q);

    assert_int_equal(test_args(&q, ""), RECSYS_REQ_OK);
    assert_int_equal(test_json(&q, "{\"queries\": [{\"history\": [\"a\"]}]}",
                               RECSYS_WANT_HISTORY),
                     RECSYS_REQ_BATCH);
    assert_int_equal(recsys_batch_count(&q, 64, &n), RECSYS_REQ_OK);
    assert_int_equal(test_args(&qi, ""), RECSYS_REQ_OK);
    assert_int_equal(recsys_batch_next(&q, &qi, RECSYS_WANT_HISTORY, DIM,
                                       MAX_K), RECSYS_REQ_OK);
    assert_int_equal(qi.nhistory, 1);
    assert_str(qi.history[0], "a");
    recsys_query_free(&qi);
    recsys_query_free(&q);
}


static void
assert_bad_batch(const char *body, size_t max, int status, const char *code,
    const char *msg)
{
    size_t          n;
    recsys_query_t  q;

    assert_int_equal(test_args(&q, ""), RECSYS_REQ_OK);
    assert_int_equal(test_json(&q, body, RECSYS_WANT_HISTORY),
                     RECSYS_REQ_BATCH);
    assert_int_equal(recsys_batch_count(&q, max, &n), status);
    assert_string_equal(q.code, code);
    assert_string_equal(q.error, msg);
    recsys_query_free(&q);
}


static void
test_batch_errors(void **state)
{
    (void) state;

    assert_bad_batch("{\"queries\": [{}, {}, {}]}", 2, RECSYS_REQ_TOO_LARGE,
                     "too_many_queries",
                     "3 queries, at most 2 in one request");
    assert_bad_batch("{\"queries\": {\"history\": [\"a\"]}}", 64,
                     RECSYS_REQ_BAD, "bad_parameter",
                     "\"queries\" must be an array of objects");
    assert_bad_batch("{\"queries\": null}", 64, RECSYS_REQ_BAD,
                     "bad_parameter",
                     "\"queries\" must be an array of objects");
    assert_bad_batch("{\"queries\": [], \"queries\": []}", 64,
                     RECSYS_REQ_BAD, "bad_parameter",
                     "\"queries\" is given twice");
    assert_bad_batch("{\"k\": 5, \"queries\": []}", 64, RECSYS_REQ_BAD,
                     "bad_parameter",
                     "a batch body holds \"queries\" only, \"k\" belongs "
                     "in each query or the query string");
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_k),
        cmocka_unit_test(test_cost_k),
        cmocka_unit_test(test_percent),
        cmocka_unit_test(test_lists),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_json_happy),
        cmocka_unit_test(test_json_overrides),
        cmocka_unit_test(test_json_errors),
        cmocka_unit_test(test_json_strict),
        cmocka_unit_test(test_json_vector),
        cmocka_unit_test(test_check_vector),
        cmocka_unit_test(test_uri_item_id),
        cmocka_unit_test(test_rank_args),
        cmocka_unit_test(test_rank_json),
        cmocka_unit_test(test_batch),
        cmocka_unit_test(test_batch_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
