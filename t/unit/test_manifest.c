/*
 * Unit tests for recsys_manifest.c: checksums, metric names, manifest
 * write and strict read.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "recsys_manifest.h"
#include "test_tmp.h"


static void test_manifest_fill(recsys_manifest_t *m);


static void
test_manifest_fill(recsys_manifest_t *m)
{
    memset(m, 0, sizeof(recsys_manifest_t));
    m->format = 1;
    m->generation = 42;
    m->items = 5000000000ULL;
    m->dimension = 64;
    m->metric = RECSYS_METRIC_COSINE;
    strcpy(m->factory, "IVF1024,Flat");
    m->nlist = 1024;
    strcpy(m->built_at, "2024-05-01T12:00:00Z");
    m->build_seconds = 12.25;
    strcpy(m->source_type, "file");
    strcpy(m->source, "/data/items \"q\".jsonl");
    m->nfiles = 3;
    strcpy(m->files[0].name, RECSYS_ITEMS_FILE);
    m->files[0].size = 123456;
    m->files[0].checksum = 0x0123456789abcdefULL;
    strcpy(m->files[1].name, RECSYS_VECTORS_FILE);
    m->files[1].size = 0;
    m->files[1].checksum = 0xffffffffffffffffULL;
    strcpy(m->files[2].name, RECSYS_INDEX_FILE);
    m->files[2].size = 1ULL << 40;
    m->files[2].checksum = 0;
}

static void
test_checksum(void **state)
{
    int       i, j;
    char      buf[64], unaligned[72];
    uint64_t  a, b, sums[17];

    (void) state;

    for (i = 0; i < 64; i++) {
        buf[i] = (char) (i * 7 + 1);
    }

    a = recsys_checksum(buf, sizeof(buf));
    b = recsys_checksum(buf, sizeof(buf));
    assert_true(a == b);

    /* the same bytes at an unaligned address give the same sum */
    memcpy(unaligned + 3, buf, sizeof(buf));
    assert_true(recsys_checksum(unaligned + 3, sizeof(buf)) == a);

    /* one flipped bit, in a word and in the tail, changes the sum */
    buf[10] ^= 1;
    assert_true(recsys_checksum(buf, sizeof(buf)) != a);
    buf[10] ^= 1;
    assert_true(recsys_checksum(buf, 61) != recsys_checksum(buf, 60));
    buf[60] ^= 0x80;
    b = recsys_checksum(buf, 61);
    buf[60] ^= 0x80;
    assert_true(b != recsys_checksum(buf, 61));

    /* zero runs of different lengths, tails included, all differ */
    memset(buf, 0, sizeof(buf));

    for (i = 0; i <= 16; i++) {
        sums[i] = recsys_checksum(buf, i);

        for (j = 0; j < i; j++) {
            assert_true(sums[i] != sums[j]);
        }
    }

    assert_true(recsys_checksum(NULL, 0) == sums[0]);
}

static void
test_metric(void **state)
{
    (void) state;

    assert_string_equal(recsys_metric_name(RECSYS_METRIC_INNER_PRODUCT),
                        "inner_product");
    assert_string_equal(recsys_metric_name(RECSYS_METRIC_L2), "l2");
    assert_string_equal(recsys_metric_name(RECSYS_METRIC_COSINE), "cosine");
    assert_null(recsys_metric_name(7));

    assert_int_equal(recsys_metric_parse("inner_product"),
                     RECSYS_METRIC_INNER_PRODUCT);
    assert_int_equal(recsys_metric_parse("l2"), RECSYS_METRIC_L2);
    assert_int_equal(recsys_metric_parse("cosine"), RECSYS_METRIC_COSINE);
    assert_int_equal(recsys_metric_parse("L2"), -1);
    assert_int_equal(recsys_metric_parse(""), -1);
    assert_int_equal(recsys_metric_parse(NULL), -1);
}

static void
test_manifest(void **state)
{
    char                path[4200], err[RECSYS_ERRLEN];
    uint32_t            i;
    test_tmp_t         *t;
    recsys_manifest_t   m, r;

    t = *state;
    test_path(t, "manifest.json", path);
    test_manifest_fill(&m);

    assert_int_equal(recsys_manifest_write(path, &m, err, sizeof(err)), 0);
    assert_int_equal(recsys_manifest_read(path, &r, err, sizeof(err)), 0);

    assert_int_equal(r.format, 1);
    assert_true(r.generation == m.generation);
    assert_true(r.items == m.items);
    assert_int_equal(r.dimension, m.dimension);
    assert_int_equal(r.metric, m.metric);
    assert_string_equal(r.factory, m.factory);
    assert_int_equal(r.nlist, m.nlist);
    assert_string_equal(r.built_at, m.built_at);
    assert_true(r.build_seconds == m.build_seconds);
    assert_string_equal(r.source_type, m.source_type);
    assert_string_equal(r.source, m.source);
    assert_int_equal(r.nfiles, 3);

    for (i = 0; i < 3; i++) {
        assert_string_equal(r.files[i].name, m.files[i].name);
        assert_true(r.files[i].size == m.files[i].size);
        assert_true(r.files[i].checksum == m.files[i].checksum);
    }

    /* a trained model with factors and a served one keeps its figures */
    m.model.trained = 1;
    strcpy(m.model.algorithm, "als");
    m.model.recall = 0.25;
    m.model.has_served = 1;
    m.model.served_generation = 6;
    m.model.factors.trained = 1;
    m.model.factors.factors = 64;
    m.model.factors.users = 610;
    m.model.factors.recall = 0.5;
    m.model.factors.ndcg = 0.375;
    m.model.factors.gate_recall = 0.75;
    m.model.factors.gate_ndcg = 0.625;
    m.model.factors.has_served = 1;
    m.model.factors.served_recall = 0.125;
    m.model.factors.served_ndcg = 0.0625;

    assert_int_equal(recsys_manifest_write(path, &m, err, sizeof(err)), 0);
    assert_int_equal(recsys_manifest_read(path, &r, err, sizeof(err)), 0);
    assert_int_equal(r.model.trained, 1);
    assert_string_equal(r.model.algorithm, "als");
    assert_true(r.model.served_generation == 6);
    assert_int_equal(r.model.factors.trained, 1);
    assert_int_equal(r.model.factors.factors, 64);
    assert_true(r.model.factors.users == 610);
    assert_true(r.model.factors.recall == 0.5);
    assert_true(r.model.factors.ndcg == 0.375);
    assert_true(r.model.factors.gate_recall == 0.75);
    assert_true(r.model.factors.gate_ndcg == 0.625);
    assert_int_equal(r.model.factors.has_served, 1);
    assert_true(r.model.factors.served_recall == 0.125);
    assert_true(r.model.factors.served_ndcg == 0.0625);

    /* without factors: none read back */
    m.model.factors.trained = 0;
    assert_int_equal(recsys_manifest_write(path, &m, err, sizeof(err)), 0);
    assert_int_equal(recsys_manifest_read(path, &r, err, sizeof(err)), 0);
    assert_int_equal(r.model.factors.trained, 0);
    memset(&m.model, 0, sizeof(m.model));

    m.metric = 9;
    assert_int_equal(recsys_manifest_write(path, &m, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "metric"));

#define MF(body)                                                              \
    "{\"format\":1,\"generation\":3,\"items\":2,\"dimension\":4,"             \
    "\"metric\":\"l2\",\"factory\":\"IVF1,Flat\",\"nlist\":1,"                \
    "\"built_at\":\"x\",\"build_seconds\":0.5,\"source_type\":\"file\","      \
    "\"source\":\"s\"" body "}"
#define F1  "{\"size\":1,\"checksum\":\"0000000000000001\"}"
#define FILES  ",\"files\":{\"items.bin\":{\"size\":1,\"checksum\":"          \
               "\"00000000000000ff\"}}"

    test_write_bytes(path, MF(FILES), strlen(MF(FILES)));
    assert_int_equal(recsys_manifest_read(path, &r, err, sizeof(err)), 0);
    assert_int_equal(r.metric, RECSYS_METRIC_L2);
    assert_int_equal(r.nfiles, 1);
    assert_true(r.files[0].checksum == 0xff);

    test_write_bytes(path, MF(""), strlen(MF("")));
    assert_int_equal(recsys_manifest_read(path, &r, err, sizeof(err)), -1);
    assert_string_equal(err, "manifest.json: missing \"files\"");

    {
        static const char  *bad[][2] = {
            { "{\"format\":1}", "missing \"generation\"" },
            { "{\"generation\":1}", "missing \"format\"" },
            { "[1,2]", "not a JSON object" },
            { "{\"format\":", "invalid JSON" },
            { "{\"format\":2}", "unsupported format 2" },
            { "{\"format\":1,\"generation\":\"3\"}", "\"generation\"" },
            { "{\"format\":1,\"generation\":-1}", "\"generation\"" },
            { "{\"format\":1,\"generation\":1.5}", "\"generation\"" },
            { "{\"format\":1,\"generation\":1,\"items\":1,"
              "\"dimension\":0}", "\"dimension\" must be positive" },
            { "{\"format\":1,\"generation\":1,\"items\":1,"
              "\"dimension\":4,\"metric\":\"dot\"}", "unknown \"metric\"" },
            { "{\"format\":1,\"generation\":1,\"items\":1,"
              "\"dimension\":4,\"metric\":7}", "\"metric\" must be a "
              "string" },
            { "{\"format\":1,\"generation\":1,\"items\":1,"
              "\"dimension\":4,\"metric\":\"l2\",\"factory\":\"f\","
              "\"nlist\":1,\"built_at\":\"x\"}",
              "missing \"build_seconds\"" },
        };

        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            test_write_bytes(path, bad[i][0], strlen(bad[i][0]));
            assert_int_equal(recsys_manifest_read(path, &r, err,
                                                  sizeof(err)), -1);
            assert_non_null(strstr(err, bad[i][1]));
            assert_true(strncmp(err, "manifest.json: ", 15) == 0);
        }
    }

    {
        static const char  *bad[][2] = {
            { MF(",\"files\":[]"), "\"files\" must be an object" },
            { MF(",\"files\":{\"items.bin\":{\"checksum\":\"00\"}}"),
              "files.items.bin: missing \"size\"" },
            { MF(",\"files\":{\"items.bin\":{\"size\":1}}"),
              "files.items.bin: missing \"checksum\"" },
            { MF(",\"files\":{\"items.bin\":{\"size\":1,"
                 "\"checksum\":\"xyz\"}}"), "16 hex digits" },
            { MF(",\"files\":{\"items.bin\":{\"size\":1,"
                 "\"checksum\":\"-000000000000001\"}}"), "16 hex digits" },
            { MF(",\"files\":{\"../x\":{\"size\":1,"
                 "\"checksum\":\"0000000000000001\"}}"), "bad file name" },
            { MF(",\"files\":{\"a\":{},\"b\":{}}"),
              "files.a: missing \"size\"" },
            { MF(",\"files\":{\"a\":" F1 ",\"b\":" F1 ",\"c\":" F1
                 ",\"d\":" F1 ",\"e\":" F1 ",\"f\":" F1 ",\"g\":" F1
                 ",\"h\":" F1 ",\"i\":" F1 "}"), "more than 8 entries" },
            { MF(",\"files\":{\"a\":" F1 ",\"a\":" F1 "}"),
              "duplicate file \"a\"" },
        };

        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            test_write_bytes(path, bad[i][0], strlen(bad[i][0]));
            assert_int_equal(recsys_manifest_read(path, &r, err,
                                                  sizeof(err)), -1);
            assert_non_null(strstr(err, bad[i][1]));
        }
    }

#undef MF
#undef F1
#undef FILES

    assert_int_equal(recsys_manifest_read("/nonexistent/manifest.json", &r,
                                          err, sizeof(err)), -1);
    assert_non_null(strstr(err, "manifest.json: open failed"));
}


/* a sum refreshed in place (recsys-gen tamper): name is sum->name itself */

static void
test_file_sum_in_place(void **state)
{
    char               dir[TEST_PATHLEN], path[TEST_PATHLEN];
    char               err[RECSYS_ERRLEN];
    recsys_file_sum_t  sum;
    test_tmp_t        *t;

    t = *state;
    snprintf(dir, sizeof(dir), "%s", t->dir);
    test_path(t, "items.bin", path);
    test_write_bytes(path, "abcdef", 6);

    memset(&sum, 0, sizeof(sum));
    strcpy(sum.name, "items.bin");

    assert_int_equal(recsys_file_sum(dir, sum.name, &sum, err, sizeof(err)),
                     0);
    assert_string_equal(sum.name, "items.bin");
    assert_int_equal(sum.size, 6);
    assert_true(sum.checksum == recsys_checksum("abcdef", 6));
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_checksum),
        cmocka_unit_test(test_metric),
        cmocka_unit_test_setup_teardown(test_manifest, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_file_sum_in_place, test_setup,
                                        test_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
