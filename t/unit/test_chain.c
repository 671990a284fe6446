/*
 * Unit tests for recsys_chain.c: which level of the recommendations
 * fallback chain answers, over a five-item generation built by the
 * builder, with a search that fails on demand.
 */

#define _GNU_SOURCE  /* nftw */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recsys_builder.h"
#include "recsys_chain.h"


#define K  3


typedef struct {
    unsigned            fail;           /* query levels whose search fails */
    unsigned            inf;            /* ... or returns a score of inf */
    const float        *query[RECSYS_NQUERY_LEVELS];
    unsigned            calls;
} test_search_t;


static char                 root[64];
static recsys_generation_t  gen;


static int
remove_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;

    return remove(path);
}


/*
 * a1 (1,0) x 5, a2 (0.9,0.1) x 1, b1 (0,1) y 9, b2 (0.1,0.9) y 3,
 * c1 (0.5,0.5) 7: popular b1 c1 a1 b2 a2, in x: a1 a2, in y: b1 b2
 */

static int
group_setup(void **state)
{
    char                    src[128], idx[128], err[RECSYS_ERRLEN];
    FILE                   *f;
    recsys_catalog_t        c;
    recsys_build_result_t   res;

    (void) state;

    snprintf(root, sizeof(root), "/tmp/recsys-chain-XXXXXX");
    if (mkdtemp(root) == NULL) {
        return -1;
    }

    snprintf(src, sizeof(src), "%s/items.jsonl", root);
    snprintf(idx, sizeof(idx), "%s/index", root);

    f = fopen(src, "w");
    if (f == NULL) {
        return -1;
    }

    fputs("{\"id\":\"a1\",\"vector\":[1,0],\"category\":\"x\","
          "\"popularity\":5}\n"
          "{\"id\":\"a2\",\"vector\":[0.9,0.1],\"category\":\"x\","
          "\"popularity\":1}\n"
          "{\"id\":\"b1\",\"vector\":[0,1],\"category\":\"y\","
          "\"popularity\":9}\n"
          "{\"id\":\"b2\",\"vector\":[0.1,0.9],\"category\":\"y\","
          "\"popularity\":3}\n"
          "{\"id\":\"c1\",\"vector\":[0.5,0.5],\"popularity\":7}\n", f);
    fclose(f);

    memset(&c, 0, sizeof(recsys_catalog_t));
    c.file = (char *) "test.yaml";
    c.source.type = RECSYS_SOURCE_FILE;
    c.source.path = src;
    c.index.path = idx;
    c.index.dimension = 2;
    c.index.metric = RECSYS_METRIC_INNER_PRODUCT;
    c.index.factory = (char *) "IVF1,Flat";
    c.index.nprobe = 1;
    c.index.keep = 1;

    if (recsys_build(&c, 1, &res) != 0) {
        fprintf(stderr, "build: %s\n", res.error);
        return -1;
    }

    if (recsys_generation_open_current(&gen, &c.index, err, sizeof(err))
        != 0)
    {
        fprintf(stderr, "open: %s\n", err);
        return -1;
    }

    return 0;
}


static int
group_teardown(void **state)
{
    (void) state;

    recsys_generation_close(&gen);

    return nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}


static int
test_search(void *data, const recsys_generation_t *g, float *query,
    const recsys_filter_t *f, recsys_hit_t *out, uint32_t *nout)
{
    int             level;
    test_search_t  *ts;

    ts = data;
    ts->calls++;

    for (level = 0; level < RECSYS_NQUERY_LEVELS; level++) {
        if (ts->query[level] == query) {
            break;
        }
    }

    assert_true(level < RECSYS_NQUERY_LEVELS);

    if (ts->fail & RECSYS_LEVEL_BIT(level)) {
        return -1;
    }

    if (recsys_search_vector(g, query, f, out, nout) != 0) {
        return -1;
    }

    if ((ts->inf & RECSYS_LEVEL_BIT(level)) && *nout > 0) {
        out[*nout - 1].score = INFINITY;
    }

    return 0;
}


/* the answer's ids, space separated, into buf */

static const char *
test_ids(const recsys_hit_t *hits, uint32_t n, char *buf, size_t size)
{
    size_t         off;
    uint32_t       i;
    recsys_item_t  it;

    off = 0;
    buf[0] = '\0';

    for (i = 0; i < n; i++) {
        recsys_items_get(&gen.items, hits[i].row, &it);
        off += snprintf(buf + off, size - off, "%s%.*s", i ? " " : "",
                        (int) it.id_len, it.id);
    }

    return buf;
}


static void
test_chain_init(recsys_chain_t *c, test_search_t *ts, float *user,
    float *history)
{
    memset(c, 0, sizeof(recsys_chain_t));
    memset(ts, 0, sizeof(test_search_t));

    c->query[RECSYS_LEVEL_USER] = user;
    c->query[RECSYS_LEVEL_HISTORY] = history;
    c->filter.k = K;
    c->filter.category = RECSYS_CATEGORY_ANY;
    c->search = test_search;
    c->data = ts;

    ts->query[RECSYS_LEVEL_USER] = user;
    ts->query[RECSYS_LEVEL_HISTORY] = history;
}


static void
test_chain_levels(void **state)
{
    char            buf[128];
    float           user[2], hist[2];
    uint32_t        n, exclude[1];
    recsys_hit_t    hits[K];
    recsys_chain_t  c;
    test_search_t   ts;

    (void) state;

    /* the user's vector answers; history is not searched */
    user[0] = 1; user[1] = 0;
    hist[0] = 0; hist[1] = 1;
    test_chain_init(&c, &ts, user, hist);
    c.asked = RECSYS_LEVEL_BIT(RECSYS_LEVEL_USER)
              | RECSYS_LEVEL_BIT(RECSYS_LEVEL_HISTORY);

    assert_int_equal(recsys_chain_run(&gen, &c, hits, &n), 0);
    assert_int_equal(c.level, RECSYS_LEVEL_USER);
    assert_int_equal(c.fallback, 0);
    assert_int_equal(c.failed, 0);
    assert_int_equal(ts.calls, 1);
    assert_string_equal(test_ids(hits, n, buf, sizeof(buf)), "a1 a2 c1");

    /* an unknown user: the history answers, a fallback */
    test_chain_init(&c, &ts, NULL, hist);
    c.asked = RECSYS_LEVEL_BIT(RECSYS_LEVEL_USER)
              | RECSYS_LEVEL_BIT(RECSYS_LEVEL_HISTORY);

    assert_int_equal(recsys_chain_run(&gen, &c, hits, &n), 0);
    assert_int_equal(c.level, RECSYS_LEVEL_HISTORY);
    assert_int_equal(c.fallback, 1);
    assert_string_equal(test_ids(hits, n, buf, sizeof(buf)), "b1 b2 c1");

    /* only a history was asked for: its answer is no fallback */
    test_chain_init(&c, &ts, NULL, hist);
    c.asked = RECSYS_LEVEL_BIT(RECSYS_LEVEL_HISTORY);

    assert_int_equal(recsys_chain_run(&gen, &c, hits, &n), 0);
    assert_int_equal(c.level, RECSYS_LEVEL_HISTORY);
    assert_int_equal(c.fallback, 0);

    /* the user's search fails: the history answers */
    test_chain_init(&c, &ts, user, hist);
    c.asked = RECSYS_LEVEL_BIT(RECSYS_LEVEL_USER);
    ts.fail = RECSYS_LEVEL_BIT(RECSYS_LEVEL_USER);

    assert_int_equal(recsys_chain_run(&gen, &c, hits, &n), 0);
    assert_int_equal(c.level, RECSYS_LEVEL_HISTORY);
    assert_int_equal(c.fallback, 1);
    assert_int_equal(c.failed, RECSYS_LEVEL_BIT(RECSYS_LEVEL_USER));
    assert_int_equal(ts.calls, 2);

    /* both fail, one with a score that is not finite: popular in "y" */
    test_chain_init(&c, &ts, user, hist);
    c.asked = RECSYS_LEVEL_BIT(RECSYS_LEVEL_USER);
    ts.fail = RECSYS_LEVEL_BIT(RECSYS_LEVEL_USER);
    ts.inf = RECSYS_LEVEL_BIT(RECSYS_LEVEL_HISTORY);
    c.category_asked = 1;
    c.filter.category = recsys_items_category_find(&gen.items, "y", 1);
    assert_true(c.filter.category >= 0);

    assert_int_equal(recsys_chain_run(&gen, &c, hits, &n), 0);
    assert_int_equal(c.level, RECSYS_LEVEL_POPULAR_CATEGORY);
    assert_int_equal(c.fallback, 1);
    assert_int_equal(c.failed, RECSYS_LEVEL_BIT(RECSYS_LEVEL_USER)
                               | RECSYS_LEVEL_BIT(RECSYS_LEVEL_HISTORY));
    assert_string_equal(test_ids(hits, n, buf, sizeof(buf)), "b1 b2");

    /* an unknown category: nothing in it, popular overall answers */
    test_chain_init(&c, &ts, user, NULL);
    c.asked = RECSYS_LEVEL_BIT(RECSYS_LEVEL_USER);
    c.category_asked = 1;
    c.filter.category = RECSYS_CATEGORY_NONE;

    assert_int_equal(recsys_chain_run(&gen, &c, hits, &n), 0);
    assert_int_equal(c.level, RECSYS_LEVEL_POPULAR);
    assert_int_equal(c.fallback, 1);
    assert_int_equal(c.failed, 0);
    assert_string_equal(test_ids(hits, n, buf, sizeof(buf)), "b1 c1 a1");

    /* every item of "x" excluded: the exclusions hold on every level */
    test_chain_init(&c, &ts, user, NULL);
    c.asked = RECSYS_LEVEL_BIT(RECSYS_LEVEL_USER);
    c.category_asked = 1;
    c.filter.category = recsys_items_category_find(&gen.items, "x", 1);
    exclude[0] = (uint32_t) recsys_items_find(&gen.items, "b1", 2);
    c.filter.exclude = exclude;
    c.filter.nexclude = 1;

    assert_int_equal(recsys_chain_run(&gen, &c, hits, &n), 0);
    assert_int_equal(c.level, RECSYS_LEVEL_USER);
    assert_string_equal(test_ids(hits, n, buf, sizeof(buf)), "a1 a2");

    c.filter.category = RECSYS_CATEGORY_ANY;
    c.category_asked = 0;
    c.query[RECSYS_LEVEL_USER] = NULL;

    assert_int_equal(recsys_chain_run(&gen, &c, hits, &n), 0);
    assert_int_equal(c.level, RECSYS_LEVEL_POPULAR);
    assert_string_equal(test_ids(hits, n, buf, sizeof(buf)), "c1 a1 b2");

    /* nothing asked: popular, which counts as a fallback as it always did */
    test_chain_init(&c, &ts, NULL, NULL);

    assert_int_equal(recsys_chain_run(&gen, &c, hits, &n), 0);
    assert_int_equal(c.level, RECSYS_LEVEL_POPULAR);
    assert_int_equal(c.fallback, 1);
    assert_int_equal(ts.calls, 0);
    assert_string_equal(test_ids(hits, n, buf, sizeof(buf)), "b1 c1 a1");
}


/* without a search of its own the chain runs recsys_search_vector() */

static void
test_chain_default_search(void **state)
{
    char            buf[128];
    float           user[2];
    uint32_t        n;
    recsys_hit_t    hits[K];
    recsys_chain_t  c;

    (void) state;

    memset(&c, 0, sizeof(recsys_chain_t));
    user[0] = 0;
    user[1] = 1;
    c.query[RECSYS_LEVEL_USER] = user;
    c.asked = RECSYS_LEVEL_BIT(RECSYS_LEVEL_USER);
    c.filter.k = K;
    c.filter.category = RECSYS_CATEGORY_ANY;

    assert_int_equal(recsys_chain_run(&gen, &c, hits, &n), 0);
    assert_int_equal(c.level, RECSYS_LEVEL_USER);
    assert_string_equal(test_ids(hits, n, buf, sizeof(buf)), "b1 b2 c1");

    assert_string_equal(recsys_level_names[RECSYS_LEVEL_POPULAR_CATEGORY],
                        "popular_category");

    /* a profile's candidates: the query levels get filter.k, popular k */
    c.filter.k = K;
    c.k = 2;
    assert_int_equal(recsys_chain_run(&gen, &c, hits, &n), 0);
    assert_int_equal(n, K);

    c.query[RECSYS_LEVEL_USER] = NULL;
    assert_int_equal(recsys_chain_run(&gen, &c, hits, &n), 0);
    assert_int_equal(c.level, RECSYS_LEVEL_POPULAR);
    assert_string_equal(test_ids(hits, n, buf, sizeof(buf)), "b1 c1");
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_levels),
        cmocka_unit_test(test_chain_default_search),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
