/*
 * Unit tests for recsys_events.c: request bodies into lines (defaults,
 * every refusal with its status, code and event index, nothing kept of
 * a refused batch), lines back into events, the reader's torn last
 * line, and COPY rows.
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
#include <unistd.h>

#include "recsys_events.h"


/* 2026-12-02T00:31:07Z */
#define NOW  1796171467


static char                  *type_names[] = { "view", "click", "dislike" };
static double                 type_values[] = { 1, 2.5, -2 };
static recsys_events_conf_t   conf;


static int parse(recsys_events_batch_t *b, const char *body);
static void refused(const char *body, int status, const char *code,
    long index);
static int collect(void *data, const recsys_events_row_t *e);
static int line(const char *s, recsys_events_row_t *e, void **tree);


static int
parse(recsys_events_batch_t *b, const char *body)
{
    return recsys_events_parse(b, &conf, body, strlen(body), NOW);
}


static int
line(const char *s, recsys_events_row_t *e, void **tree)
{
    return recsys_events_line(s, strlen(s), e, tree);
}


static void
refused(const char *body, int status, const char *code, long index)
{
    int                    rc;
    recsys_events_batch_t  b;

    rc = parse(&b, body);

    if (rc != status || strcmp(b.code, code) != 0 || b.index != index) {
        print_error("%s: got %d %s index %ld (%s)\n", body, rc, b.code,
                    b.index, b.error);
    }

    assert_int_equal(rc, status);
    assert_string_equal(b.code, code);
    assert_int_equal(b.index, index);
    assert_null(b.lines);
    assert_int_equal(b.len, 0);
    assert_true(b.error[0] != '\0');

    recsys_events_batch_free(&b);
}


static void
test_single(void **state)
{
    recsys_events_batch_t  b;

    (void) state;

    /* ts and weight default to now and the type's */
    assert_int_equal(parse(&b, "{\"user\": \"u1\", \"item\": \"sku-9\", "
                               "\"type\": \"click\"}"), 0);
    assert_int_equal(b.n, 1);
    assert_memory_equal(b.lines,
                        "{\"user\":\"u1\",\"item\":\"sku-9\",\"type\":"
                        "\"click\",\"ts\":\"2026-12-02T00:31:07Z\","
                        "\"weight\":2.5}\n", b.len);
    recsys_events_batch_free(&b);

    /* the client's ts (fraction dropped) and weight; integer ids */
    assert_int_equal(parse(&b, "{\"weight\": -0.5, \"ts\": "
                               "\"2026-11-30T10:00:00.75Z\", \"type\": "
                               "\"view\", \"item\": 42, \"user\": "
                               "\"\\u00e9\\\"x\"}"), 0);
    assert_int_equal(b.len, strlen("{\"user\":\"\xc3\xa9\\\"x\",\"item\":"
                                   "\"42\",\"type\":\"view\",\"ts\":"
                                   "\"2026-11-30T10:00:00Z\",\"weight\":"
                                   "-0.5}\n"));
    assert_memory_equal(b.lines,
                        "{\"user\":\"\xc3\xa9\\\"x\",\"item\":\"42\","
                        "\"type\":\"view\",\"ts\":\"2026-11-30T10:00:00Z\","
                        "\"weight\":-0.5}\n", b.len);
    recsys_events_batch_free(&b);

    /* seconds since 1970 are a ts too */
    assert_int_equal(parse(&b, "{\"user\":\"u\",\"item\":\"i\",\"type\":"
                               "\"dislike\",\"ts\":0}"), 0);
    assert_memory_equal(b.lines,
                        "{\"user\":\"u\",\"item\":\"i\",\"type\":"
                        "\"dislike\",\"ts\":\"1970-01-01T00:00:00Z\","
                        "\"weight\":-2}\n", b.len);
    recsys_events_batch_free(&b);
}


static void
test_batch(void **state)
{
    int                    i;
    char                   body[4096], *p;
    recsys_events_batch_t  b;

    (void) state;

    p = body + sprintf(body, "{\"events\": [");

    for (i = 0; i < 4; i++) {
        p += sprintf(p, "%s{\"user\":\"u%d\",\"item\":\"i%d\",\"type\":"
                     "\"view\"}", i ? "," : "", i, i);
    }

    strcpy(p, "]}");

    assert_int_equal(parse(&b, body), 0);
    assert_int_equal(b.n, 4);

    /* four whole lines, in order */
    for (i = 0, p = b.lines; p < b.lines + b.len; i++) {
        char  want[128];

        sprintf(want, "{\"user\":\"u%d\",\"item\":\"i%d\",\"type\":\"view\","
                "\"ts\":\"2026-12-02T00:31:07Z\",\"weight\":1}\n", i, i);
        assert_memory_equal(p, want, strlen(want));
        p += strlen(want);
    }

    assert_int_equal(i, 4);
    assert_ptr_equal(p, b.lines + b.len);
    recsys_events_batch_free(&b);

    /* exactly max_batch is taken; one more is 413 */
    p = body + sprintf(body, "{\"events\": [");

    for (i = 0; i < 5; i++) {
        p += sprintf(p, "%s{\"user\":\"u\",\"item\":\"i\",\"type\":\"view\"}",
                     i ? "," : "");
    }

    strcpy(p, "]}");
    assert_int_equal(parse(&b, body), 0);
    assert_int_equal(b.n, 5);
    recsys_events_batch_free(&b);

    strcpy(p, ",{\"user\":\"u\",\"item\":\"i\",\"type\":\"view\"}]}");
    refused(body, 413, "too_many_events", -1);
}


static void
test_refused(void **state)
{
    recsys_events_batch_t  b;

    (void) state;

    /* not events at all: 400 */
    refused("", 400, "bad_json", -1);
    refused("{", 400, "bad_json", -1);
    refused("[]", 400, "bad_json", -1);
    refused("{} {}", 400, "bad_json", -1);
    refused("{\"events\": {}}", 400, "bad_json", -1);
    refused("{\"events\": [], \"x\": 1}", 400, "bad_json", -1);
    refused("{\"events\": []}", 400, "no_events", -1);
    refused("{\"events\": [1]}", 400, "bad_json", 0);

    /* events that cannot be taken: 422, naming the event */
    refused("{\"item\":\"i\",\"type\":\"view\"}", 422, "missing_field", 0);
    refused("{\"user\":\"u\",\"type\":\"view\"}", 422, "missing_field", 0);
    refused("{\"user\":\"u\",\"item\":\"i\"}", 422, "missing_field", 0);
    refused("{\"user\":\"u\",\"item\":\"i\",\"type\":\"buy\"}", 422,
            "unknown_type", 0);
    refused("{\"user\":\"u\",\"item\":\"i\",\"type\":\"View\"}", 422,
            "unknown_type", 0);
    refused("{\"user\":\"u\",\"item\":\"i\",\"type\":1}", 422, "bad_field",
            0);
    refused("{\"user\":true,\"item\":\"i\",\"type\":\"view\"}", 422,
            "bad_field", 0);
    refused("{\"user\":\"\",\"item\":\"i\",\"type\":\"view\"}", 422,
            "bad_id", 0);
    refused("{\"user\":\"a\\u0001b\",\"item\":\"i\",\"type\":\"view\"}",
            422, "bad_id", 0);
    refused("{\"user\":\"\xff\",\"item\":\"i\",\"type\":\"view\"}", 422,
            "bad_id", 0);
    refused("{\"user\":1.5,\"item\":\"i\",\"type\":\"view\"}", 422,
            "bad_id", 0);
    refused("{\"user\":\"0123456789abcdefg\",\"item\":\"i\",\"type\":"
            "\"view\"}", 422, "bad_id", 0);
    refused("{\"user\":\"u\",\"item\":\"i\",\"type\":\"view\",\"ts\":"
            "\"2026-02-30T00:00:00Z\"}", 422, "bad_ts", 0);
    refused("{\"user\":\"u\",\"item\":\"i\",\"type\":\"view\",\"ts\":"
            "\"2026-11-30 10:00:00\"}", 422, "bad_ts", 0);
    refused("{\"user\":\"u\",\"item\":\"i\",\"type\":\"view\",\"ts\":-1}",
            422, "bad_ts", 0);
    refused("{\"user\":\"u\",\"item\":\"i\",\"type\":\"view\",\"ts\":null}",
            422, "bad_ts", 0);
    refused("{\"user\":\"u\",\"item\":\"i\",\"type\":\"view\",\"weight\":"
            "1e999}", 422, "bad_weight", 0);
    refused("{\"user\":\"u\",\"item\":\"i\",\"type\":\"view\",\"weight\":"
            "-1e7}", 422, "bad_weight", 0);
    refused("{\"user\":\"u\",\"item\":\"i\",\"type\":\"view\",\"weight\":"
            "\"2\"}", 422, "bad_weight", 0);
    refused("{\"user\":\"u\",\"item\":\"i\",\"type\":\"view\",\"wieght\":2}",
            422, "unknown_field", 0);
    refused("{\"user\":\"u\",\"user\":\"v\",\"item\":\"i\",\"type\":"
            "\"view\"}", 422, "duplicate_field", 0);

    /* the first bad event of a batch is named; nothing is kept */
    refused("{\"events\":[{\"user\":\"u\",\"item\":\"i\",\"type\":\"view\"},"
            "{\"user\":\"u\",\"item\":\"i\",\"type\":\"view\"},"
            "{\"user\":\"u\",\"item\":\"i\",\"type\":\"nope\"},"
            "{\"user\":\"u\",\"type\":\"view\"}]}", 422, "unknown_type", 2);

    assert_int_equal(parse(&b, "{\"events\":[{\"user\":\"u\",\"item\":\"i\","
                               "\"type\":\"view\"},{\"item\":\"i\"}]}"),
                     422);
    assert_int_equal(b.n, 2);
    assert_non_null(strstr(b.error, "events[1]: "));
    assert_non_null(strstr(b.error, "\"user\""));
    recsys_events_batch_free(&b);

    assert_int_equal(parse(&b, "{\"item\":\"i\",\"type\":\"view\"}"), 422);
    assert_string_equal(b.error, "event: \"user\" is missing");
    recsys_events_batch_free(&b);
}


static void
test_line(void **state)
{
    void                   *tree;
    recsys_events_row_t     e;
    recsys_events_batch_t   b;

    (void) state;

    tree = NULL;

    assert_int_equal(parse(&b, "{\"user\":\"u\\\\1\",\"item\":\"a b\","
                               "\"type\":\"click\",\"weight\":0.1}"), 0);

    /* what the parser writes reads back */
    assert_int_equal(recsys_events_line(b.lines, b.len - 1, &e, &tree), 0);
    assert_int_equal(e.user_len, 3);
    assert_memory_equal(e.user, "u\\1", 3);
    assert_memory_equal(e.item, "a b", 3);
    assert_memory_equal(e.type, "click", 5);
    assert_int_equal(e.ts, NOW);
    assert_true(e.weight == 0.1);

    {
        char  row[256], *end;

        assert_true(recsys_events_copy_len(&e) < sizeof(row));
        end = recsys_events_copy_row(row, &e);
        *end = '\0';
        assert_string_equal(row, "u\\\\1\ta b\tclick\t"
                                 "2026-12-02 00:31:07+00\t"
                                 "0.10000000000000001\n");

        /* a file store written by others may hold any string */
        e.item = "t\tn\nr\r";
        e.item_len = 6;
        end = recsys_events_copy_row(row, &e);
        *end = '\0';
        assert_string_equal(row, "u\\\\1\tt\\tn\\nr\\r\tclick\t"
                                 "2026-12-02 00:31:07+00\t"
                                 "0.10000000000000001\n");
    }

    recsys_events_batch_free(&b);

    /* eventgen's lines; the weight defaults to 1 */
    assert_int_equal(line("{\"user\":\"u1\",\"item\":\"i2\","
                          "\"type\":\"view\",\"ts\":5}", &e, &tree), 0);
    assert_int_equal(e.ts, 5);
    assert_true(e.weight == 1);

    assert_int_equal(line("{\"user\":\"u1\"}", &e, &tree), -1);
    assert_int_equal(line("{\"user\":\"u1\",\"item\":\"i\",\"type\":\"v\","
                          "\"ts\":\"x\"}", &e, &tree), -1);
    assert_int_equal(line("{\"user\":\"u1\",\"item\":\"i\",\"type\":\"v\","
                          "\"ts\":1,\"weight\":\"2\"}", &e, &tree), -1);
    assert_int_equal(line("nope", &e, &tree), -1);

    recsys_events_line_free(tree);
}


typedef struct {
    int                 n;
    char                users[8][16];
} collected_t;


static int
collect(void *data, const recsys_events_row_t *e)
{
    collected_t  *c = data;

    if (c->n < 8) {
        snprintf(c->users[c->n], 16, "%.*s", (int) e->user_len, e->user);
    }

    c->n++;

    return 0;
}


static void
test_read(void **state)
{
    FILE         *fp;
    char          path[64], err[256];
    uint64_t      bad;
    collected_t   c;

    (void) state;

    strcpy(path, "/tmp/test_events.XXXXXX");
    assert_int_not_equal(mkstemp(path), -1);

    fp = fopen(path, "w");
    assert_non_null(fp);
    fprintf(fp, "{\"user\":\"a\",\"item\":\"i\",\"type\":\"view\","
            "\"ts\":\"2026-11-30T10:00:00Z\",\"weight\":1}\n"
            "not a line\n"
            "{\"user\":\"b\",\"item\":\"i\",\"type\":\"view\",\"ts\":1}\n"
            "{\"user\":\"c\",\"item\":\"i\",\"type\":\"vi");
    fclose(fp);

    memset(&c, 0, sizeof(c));
    assert_int_equal(recsys_events_read(path, collect, &c, &bad, err,
                                        sizeof(err)), 0);

    /* the torn last line is not read, the bad one is counted */
    assert_int_equal(c.n, 2);
    assert_string_equal(c.users[0], "a");
    assert_string_equal(c.users[1], "b");
    assert_int_equal(bad, 1);

    unlink(path);

    /* no file yet: no events */
    memset(&c, 0, sizeof(c));
    assert_int_equal(recsys_events_read(path, collect, &c, &bad, err,
                                        sizeof(err)), 0);
    assert_int_equal(c.n, 0);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_single),
        cmocka_unit_test(test_batch),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_line),
        cmocka_unit_test(test_read),
    };

    conf.enabled = 1;
    conf.types.names = type_names;
    conf.types.values = type_values;
    conf.types.n = 3;
    conf.max_batch = 5;
    conf.max_id_length = 16;

    return cmocka_run_group_tests(tests, NULL, NULL);
}
