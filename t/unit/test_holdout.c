/*
 * Unit tests for recsys_holdout.c, recsys_topk.c and recsys_parallel.c:
 * Recall@k and NDCG@k on hand-computed lists, the per-user split (sizes,
 * the minimum, seeds, most-recent mode, nothing lost or doubled),
 * averaging over users on several threads, top-k order and ties, and
 * the parallel loop covering every index once.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "recsys_holdout.h"
#include "recsys_parallel.h"
#include "recsys_rng.h"


static void list(recsys_scored_t *l, const uint32_t *rows, uint32_t n);
static void users_matrix(recsys_matrix_t *m, const uint32_t *sizes,
    uint32_t nusers, uint32_t nitems);
static uint32_t fixed_recommend(void *data, uint32_t user, uint32_t k,
    recsys_scored_t *out, unsigned worker);
static void count_indexes(void *data, uint64_t begin, uint64_t end,
    unsigned worker);


static void
list(recsys_scored_t *l, const uint32_t *rows, uint32_t n)
{
    uint32_t  i;

    for (i = 0; i < n; i++) {
        l[i].row = rows[i];
        l[i].score = (float) (n - i);
    }
}


/* user u has sizes[u] items, u, u + 1, ..., with ts = the item */
static void
users_matrix(recsys_matrix_t *m, const uint32_t *sizes, uint32_t nusers,
    uint32_t nitems)
{
    char            err[256];
    size_t          n;
    uint32_t        u, j;
    recsys_event_t  ev[1000];

    n = 0;

    for (u = 0; u < nusers; u++) {
        for (j = 0; j < sizes[u]; j++) {
            ev[n].user = u;
            ev[n].item = (u + j) % nitems;
            ev[n].weight = 1;
            ev[n].ts = (u + j) % nitems;
            n++;
        }
    }

    assert_int_equal(recsys_matrix_build(m, nusers, nitems, ev, n,
                                         RECSYS_MERGE_SUM, NULL, err,
                                         sizeof(err)), 0);
}


static void
test_metrics(void **state)
{
    double           r, nd;
    recsys_scored_t  l[10];
    const uint32_t   ranked[10] = { 5, 1, 7, 3, 9, 11, 13, 15, 17, 19 };
    const uint32_t   truth2[2] = { 1, 3 };
    const uint32_t   truth12[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
    const uint32_t   none[1] = { 100 };

    (void) state;

    list(l, ranked, 10);

    /* hits at ranks 2 and 4 of |T| = 2: recall 1, NDCG
       (1/log2 3 + 1/log2 5) / (1 + 1/log2 3) */
    recsys_holdout_metrics(l, 10, truth2, 2, 10, &r, &nd);
    assert_true(r == 1.0);
    assert_true(fabs(nd - (1 / log2(3) + 1 / log2(5)) / (1 + 1 / log2(3)))
                < 1e-12);
    assert_true(fabs(nd - 0.6509209298071326) < 1e-12);

    /* at k = 3 only rank 2 counts: recall 1/2 */
    recsys_holdout_metrics(l, 10, truth2, 2, 3, &r, &nd);
    assert_true(r == 0.5);

    /* |T| = 12 > k: 1, 3, 5, 7, 9, 11 hit; recall 6 / min(10, 12) */
    recsys_holdout_metrics(l, 10, truth12, 12, 10, &r, &nd);
    assert_true(fabs(r - 0.6) < 1e-12);

    recsys_holdout_metrics(l, 10, none, 1, 10, &r, &nd);
    assert_true(r == 0 && nd == 0);

    /* a perfect list */
    list(l, truth2, 2);
    recsys_holdout_metrics(l, 2, truth2, 2, 10, &r, &nd);
    assert_true(r == 1.0 && fabs(nd - 1.0) < 1e-12);

    /* a short list, and no truth at all */
    recsys_holdout_metrics(l, 0, truth2, 2, 10, &r, &nd);
    assert_true(r == 0 && nd == 0);
    recsys_holdout_metrics(l, 2, truth2, 0, 10, &r, &nd);
    assert_true(r == 0 && nd == 0);
}


static void
test_split(void **state)
{
    char                    err[256];
    uint32_t                u, a, b;
    uint64_t                ntrain, ntrain2, j;
    recsys_event_t         *train, *train2;
    recsys_matrix_t         m;
    recsys_holdout_t        test, test2;
    recsys_holdout_conf_t   c;
    const uint32_t          sizes[5] = { 10, 4, 5, 7, 2 };

    (void) state;

    users_matrix(&m, sizes, 5, 20);

    c.fraction = 0.2;
    c.min_entries = 5;
    c.mode = RECSYS_HOLDOUT_RANDOM;
    c.seed = 42;

    assert_int_equal(recsys_holdout_split(&m, &c, &train, &ntrain, &test,
                                          err, sizeof(err)), 0);

    /* 10 -> 2, 4 -> none (below 5), 5 -> 1, 7 -> round(1.4) = 1, 2 -> 0 */
    assert_int_equal(test.ptr[1] - test.ptr[0], 2);
    assert_int_equal(test.ptr[2] - test.ptr[1], 0);
    assert_int_equal(test.ptr[3] - test.ptr[2], 1);
    assert_int_equal(test.ptr[4] - test.ptr[3], 1);
    assert_int_equal(test.ptr[5] - test.ptr[4], 0);
    assert_int_equal(test.evaluated, 3);
    assert_int_equal(ntrain + test.ptr[5], m.nnz);

    /* nothing lost or doubled: train + test is each user's row */
    for (u = 0; u < 5; u++) {
        for (j = m.user_ptr[u]; j < m.user_ptr[u + 1]; j++) {
            a = 0;

            for (b = 0; b < ntrain; b++) {
                a += train[b].user == u && train[b].item == m.user_items[j];
            }

            for (b = test.ptr[u]; b < test.ptr[u + 1]; b++) {
                a += test.items[b] == m.user_items[j];
            }

            assert_int_equal(a, 1);
        }
    }

    /* the same seed, the same split; another seed, another one */
    assert_int_equal(recsys_holdout_split(&m, &c, &train2, &ntrain2, &test2,
                                          err, sizeof(err)), 0);
    assert_int_equal(ntrain2, ntrain);
    assert_memory_equal(test2.items, test.items, test.ptr[5] * 4);
    free(train2);
    recsys_holdout_free(&test2);

    a = 0;

    for (c.seed = 1; c.seed < 20; c.seed++) {
        assert_int_equal(recsys_holdout_split(&m, &c, &train2, &ntrain2,
                                              &test2, err, sizeof(err)), 0);
        a += memcmp(test2.items, test.items, test.ptr[5] * 4) != 0;
        free(train2);
        recsys_holdout_free(&test2);
    }

    assert_true(a >= 15);

    /* most recent: ts = item here, so user 0 (items 0..9) gives 8, 9 */
    c.mode = RECSYS_HOLDOUT_RECENT;
    assert_int_equal(recsys_holdout_split(&m, &c, &train2, &ntrain2, &test2,
                                          err, sizeof(err)), 0);
    assert_int_equal(test2.items[0], 8);
    assert_int_equal(test2.items[1], 9);
    assert_int_equal(test2.items[2], 6);            /* user 2: 2..6 */
    free(train2);
    recsys_holdout_free(&test2);

    c.fraction = 1.0;
    assert_int_equal(recsys_holdout_split(&m, &c, &train2, &ntrain2, &test2,
                                          err, sizeof(err)), -1);
    assert_string_equal(err, "holdout: fraction must be in (0, 1), not 1");
    c.fraction = 0.2;
    c.min_entries = 1;
    assert_int_equal(recsys_holdout_split(&m, &c, &train2, &ntrain2, &test2,
                                          err, sizeof(err)), -1);
    c.min_entries = 5;
    c.mode = 3;
    assert_int_equal(recsys_holdout_split(&m, &c, &train2, &ntrain2, &test2,
                                          err, sizeof(err)), -1);

    free(train);
    recsys_holdout_free(&test);
    recsys_matrix_free(&m);
}


/* user u's list: u's first held-out item when u is even, else junk */
static uint32_t
fixed_recommend(void *data, uint32_t user, uint32_t k, recsys_scored_t *out,
    unsigned worker)
{
    const recsys_holdout_t  *test = data;

    (void) worker;

    out[0].row = user % 2 == 0 ? test->items[test->ptr[user]] : 999;
    out[0].score = 1;

    return k >= 1 ? 1 : 0;
}


static void
test_evaluate(void **state)
{
    uint32_t                 i;
    recsys_holdout_t         test;
    recsys_holdout_result_t  res, res1;
    uint64_t                 ptr[41];
    uint32_t                 items[40], sub[3] = { 0, 2, 39 };

    (void) state;

    /* 40 users, one held-out item each: half are hits at rank 1 */

    for (i = 0; i < 40; i++) {
        ptr[i] = i;
        items[i] = i;
    }

    ptr[40] = 40;
    test.nusers = 40;
    test.evaluated = 40;
    test.ptr = ptr;
    test.items = items;

    assert_int_equal(recsys_holdout_evaluate(&test, 10, NULL, 0, 3,
                                             fixed_recommend, &test, &res),
                     0);
    assert_int_equal(res.users, 40);
    assert_true(fabs(res.recall - 0.5) < 1e-12);
    assert_true(fabs(res.ndcg - 0.5) < 1e-12);

    assert_int_equal(recsys_holdout_evaluate(&test, 10, NULL, 0, 1,
                                             fixed_recommend, &test, &res1),
                     0);
    assert_true(res1.recall == res.recall && res1.ndcg == res.ndcg);

    /* a subset: users 0 and 2 hit, 39 misses */
    assert_int_equal(recsys_holdout_evaluate(&test, 10, sub, 3, 2,
                                             fixed_recommend, &test, &res),
                     0);
    assert_int_equal(res.users, 3);
    assert_true(fabs(res.recall - 2.0 / 3) < 1e-12);

    assert_int_equal(recsys_holdout_evaluate(&test, 0, NULL, 0, 1,
                                             fixed_recommend, &test, &res),
                     -1);
}


static void
test_topk(void **state)
{
    uint32_t         n;
    recsys_topk_t    t;
    recsys_scored_t  buf[3], out[4];
    const float      m[5 * 2] = { 1, 0,  0, 1,  1, 1,  2, 0,  -1, -1 };
    const float      q[2] = { 1, 0 };
    const uint32_t   ex[1] = { 3 };

    (void) state;

    recsys_topk_init(&t, buf, 3);
    recsys_topk_push(&t, 4, 1.0f);
    recsys_topk_push(&t, 2, 3.0f);
    recsys_topk_push(&t, 9, NAN);
    recsys_topk_push(&t, 1, 1.0f);          /* ties with 4: row 1 first */
    recsys_topk_push(&t, 7, 0.5f);          /* the heap is full: out */
    assert_false(recsys_topk_accepts(&t, 8, 1.0f));
    assert_true(recsys_topk_accepts(&t, 0, 1.0f));
    n = recsys_topk_sort(&t);
    assert_int_equal(n, 3);
    assert_int_equal(buf[0].row, 2);
    assert_int_equal(buf[1].row, 1);
    assert_int_equal(buf[2].row, 4);

    recsys_topk_init(&t, buf, 0);
    recsys_topk_push(&t, 1, 1.0f);
    assert_int_equal(recsys_topk_sort(&t), 0);

    /* dot products 1, 0, 1, 2 (excluded), -1 */
    n = recsys_topk_dot(m, 5, 2, q, ex, 1, 4, out);
    assert_int_equal(n, 4);
    assert_int_equal(out[0].row, 0);
    assert_int_equal(out[1].row, 2);
    assert_int_equal(out[2].row, 1);
    assert_int_equal(out[3].row, 4);
    assert_true(out[3].score == -1.0f);
}


static void
count_indexes(void *data, uint64_t begin, uint64_t end, unsigned worker)
{
    uint64_t   i;
    uint32_t  *seen = data;

    assert_true(worker < 3);

    for (i = begin; i < end; i++) {
        __atomic_fetch_add(&seen[i], 1, __ATOMIC_RELAXED);
    }
}


static void
test_parallel(void **state)
{
    uint32_t  i, seen[1001];

    (void) state;

    memset(seen, 0, sizeof(seen));
    recsys_parallel_for(1001, 7, 3, count_indexes, seen);

    for (i = 0; i < 1001; i++) {
        assert_int_equal(seen[i], 1);
    }

    recsys_parallel_for(0, 7, 3, count_indexes, seen);
    assert_int_equal(recsys_parallel_threads(5), 5);
    assert_true(recsys_parallel_threads(0) >= 1);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_evaluate),
        cmocka_unit_test(test_topk),
        cmocka_unit_test(test_parallel),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
