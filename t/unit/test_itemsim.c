/*
 * Unit tests for the item-item models, recsys_ease.c, recsys_knn.c and
 * recsys_itemsim.c, on one 6 x 5 case: EASE's B against numpy
 * (np.linalg.inv of X'X + I; the entries are the rationals 4/9, 11/21,
 * 1/8, ...), bad lambda and the item limit, sparsification to the top m
 * of each row, history scoring with its exclusions; item-kNN cosines
 * worked out by hand: item columns {0,1,5} {0,1,2} {1,2,3} {3,4,5} {4,5}
 * give norms sqrt 3 (x4) and sqrt 2, co-counts (0,1) 2, (0,2) 1, (0,3) 1,
 * (0,4) 1, (1,2) 2, (2,3) 1, (3,4) 2, others 0.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>
#include <sys/mman.h>

#include "recsys_ease.h"
#include "recsys_files.h"
#include "recsys_itemsim.h"
#include "recsys_knn.h"


static const uint8_t  x65[6][5] = {
    { 1, 1, 0, 0, 0 },
    { 1, 1, 1, 0, 0 },
    { 0, 1, 1, 0, 0 },
    { 0, 0, 1, 1, 0 },
    { 0, 0, 0, 1, 1 },
    { 1, 0, 0, 1, 1 },
};

/* numpy: B = -P / diag(P), diagonal 0, P = inv(X'X + 1 I) */
static const double  ref_b[25] = {
    0.0, 4.4444444444444448e-01, -4.7619047619047596e-02,
    1.2499999999999993e-01, 1.6666666666666663e-01,
    5.2380952380952372e-01, 0.0, 5.2380952380952372e-01,
    -2.2916666666666663e-01, 0.0,
    -4.7619047619047630e-02, 4.4444444444444442e-01, 0.0,
    3.3333333333333337e-01, -1.6666666666666671e-01,
    1.4285714285714288e-01, -2.2222222222222224e-01,
    3.8095238095238099e-01, 0.0, 5.0000000000000011e-01,
    2.3809523809523808e-01, 0.0, -2.3809523809523817e-01,
    6.2500000000000011e-01, 0.0
};


static void matrix65(recsys_matrix_t *m, float weight, float weight5);
static void knn(const recsys_matrix_t *m, recsys_itemsim_t *s, uint32_t nb,
    double shrink, int weighted);


/* x65 with "weight" per entry, "weight5" for user 5's */
static void
matrix65(recsys_matrix_t *m, float weight, float weight5)
{
    char            err[256];
    size_t          n;
    uint32_t        u, i;
    recsys_event_t  ev[30];

    n = 0;

    for (u = 0; u < 6; u++) {
        for (i = 0; i < 5; i++) {
            if (x65[u][i]) {
                ev[n].user = u;
                ev[n].item = i;
                ev[n].weight = u == 5 ? weight5 : weight;
                ev[n].ts = 0;
                n++;
            }
        }
    }

    assert_int_equal(recsys_matrix_build(m, 6, 5, ev, n, RECSYS_MERGE_SUM,
                                         NULL, err, sizeof(err)), 0);
}


static void
test_ease_reference(void **state)
{
    char                err[256];
    double             *b, *b2;
    uint32_t            i;
    recsys_matrix_t     m;
    recsys_ease_conf_t  c;

    (void) state;

    /* binary: a weight of 3 changes nothing */

    matrix65(&m, 3.0f, 3.0f);
    memset(&c, 0, sizeof(recsys_ease_conf_t));
    c.lambda = 1.0;
    c.threads = 2;

    assert_int_equal(recsys_ease_train(&m, &c, &b, err, sizeof(err)), 0);

    for (i = 0; i < 25; i++) {
        assert_true(fabs(b[i] - ref_b[i]) < 1e-12);
    }

    assert_true(fabs(b[1] - 4.0 / 9) < 1e-12);
    assert_true(fabs(b[5] - 11.0 / 21) < 1e-12);

    free(b);

    /* weighted: X = 3 * binary gives 9 (X'X + I / 9), so B is binary
       EASE's with lambda 1/9 */

    c.weighted = 1;
    assert_int_equal(recsys_ease_train(&m, &c, &b, err, sizeof(err)), 0);
    assert_true(fabs(b[1] - 4.0 / 9) > 1e-3);
    recsys_matrix_free(&m);

    matrix65(&m, 1.0f, 1.0f);
    c.weighted = 0;
    c.lambda = 1.0 / 9;
    assert_int_equal(recsys_ease_train(&m, &c, &b2, err, sizeof(err)), 0);

    for (i = 0; i < 25; i++) {
        assert_true(fabs(b[i] - b2[i]) < 1e-9);
    }

    free(b2);

    free(b);
    recsys_matrix_free(&m);
}


static void
test_ease_bad(void **state)
{
    char                err[256];
    double             *b;
    recsys_matrix_t     m;
    recsys_ease_conf_t  c;

    (void) state;

    matrix65(&m, 1.0f, 1.0f);
    memset(&c, 0, sizeof(recsys_ease_conf_t));

    c.lambda = 0;
    assert_int_equal(recsys_ease_train(&m, &c, &b, err, sizeof(err)), -1);
    assert_string_equal(err, "ease: lambda must be > 0, not 0");
    assert_null(b);

    c.lambda = -2;
    assert_int_equal(recsys_ease_train(&m, &c, &b, err, sizeof(err)), -1);

    c.lambda = INFINITY;
    assert_int_equal(recsys_ease_train(&m, &c, &b, err, sizeof(err)), -1);

    c.lambda = 1;
    c.max_items = 4;
    assert_int_equal(recsys_ease_train(&m, &c, &b, err, sizeof(err)), -1);
    assert_string_equal(err, "ease: 5 items are over its limit of 4 "
                        "(0.0 GiB); use item-kNN");

    recsys_matrix_free(&m);
}


static void
test_sparsify(void **state)
{
    recsys_itemsim_t  s;

    (void) state;

    assert_int_equal(recsys_itemsim_from_dense(&s, ref_b, 5, 2,
                                               RECSYS_ITEMSIM_LARGEST, 2), 0);

    /* row 0: 4/9 at 1, then 1/6 at 4 */
    assert_int_equal(s.ptr[0], 0);
    assert_int_equal(s.ptr[1], 2);
    assert_int_equal(s.cols[0], 1);
    assert_true(fabsf(s.weights[0] - 4.0f / 9) < 1e-6);
    assert_int_equal(s.cols[1], 4);

    /* row 1: 11/21 twice (items 0 and 2, ascending); a 0 is never kept */
    assert_int_equal(s.cols[2], 0);
    assert_int_equal(s.cols[3], 2);

    /* row 3: 0.5 at 4, then 8/21 at 2 */
    assert_int_equal(s.cols[6], 4);
    assert_int_equal(s.cols[7], 2);
    assert_int_equal(s.ptr[5], 10);
    recsys_itemsim_free(&s);

    /* m above the row length: every non-zero off-diagonal entry */
    assert_int_equal(recsys_itemsim_from_dense(&s, ref_b, 5, 50,
                                               RECSYS_ITEMSIM_LARGEST, 1), 0);
    assert_int_equal(s.ptr[5], 20 - 2);   /* numpy's two 3e-17 are 0 here */
    recsys_itemsim_free(&s);

    /* row 2 is -1/21, 4/9, 0, 1/3, -1/6: the 3 largest values are 1, 3
       and 0 (-1/21), the 3 largest magnitudes 1, 3 and 4 (-1/6) */

    assert_int_equal(recsys_itemsim_from_dense(&s, ref_b, 5, 3,
                                               RECSYS_ITEMSIM_LARGEST, 1), 0);
    assert_int_equal(s.cols[6], 1);
    assert_int_equal(s.cols[7], 3);
    assert_int_equal(s.cols[8], 0);
    assert_true(fabsf(s.weights[8] + 1.0f / 21) < 1e-6);
    recsys_itemsim_free(&s);

    assert_int_equal(recsys_itemsim_from_dense(&s, ref_b, 5, 3,
                                               RECSYS_ITEMSIM_MAGNITUDE, 2),
                     0);
    assert_int_equal(s.cols[6], 1);
    assert_true(fabsf(s.weights[6] - 4.0f / 9) < 1e-6);
    assert_int_equal(s.cols[7], 3);
    assert_int_equal(s.cols[8], 4);
    assert_true(fabsf(s.weights[8] + 1.0f / 6) < 1e-6);
    recsys_itemsim_free(&s);
}


static void
test_history_scoring(void **state)
{
    int                      round;
    uint32_t                 n;
    recsys_scored_t          out[5];
    recsys_itemsim_t         s;
    recsys_itemsim_scorer_t  sc;
    const uint32_t           hist[3] = { 0, 1, 77 };     /* 77: unknown */
    const float              hw[2] = { 1.0f, 2.0f };

    (void) state;

    assert_int_equal(recsys_itemsim_from_dense(&s, ref_b, 5, 5,
                                               RECSYS_ITEMSIM_MAGNITUDE, 1), 0);
    assert_int_equal(recsys_itemsim_scorer_init(&sc, 5), 0);

    /* history {0, 1}: numpy's sums are 0.476 (2), 0.167 (4), -0.104 (3);
       the history is excluded and the negative score is no candidate */

    for (round = 0; round < 2; round++) {
        n = recsys_itemsim_recommend(&s, &sc, hist, NULL, 3, 5, out);
        assert_int_equal(n, 2);
        assert_int_equal(out[0].row, 2);
        assert_true(fabsf(out[0].score - 0.4761905f) < 1e-6);
        assert_int_equal(out[1].row, 4);
        assert_true(fabsf(out[1].score - 1.0f / 6) < 1e-6);
    }

    /* weights: item 1 counts twice: 2 gets -1/21 + 2 * 11/21 = 1.0 */
    n = recsys_itemsim_recommend(&s, &sc, hist, hw, 2, 1, out);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].row, 2);
    assert_true(fabsf(out[0].score - 1.0f) < 1e-6);

    /* the workspace is clean afterwards */
    for (n = 0; n < 5; n++) {
        assert_true(sc.acc[n] == 0.0f);
        assert_int_equal(sc.flag[n], 0);
    }

    n = recsys_itemsim_recommend(&s, &sc, hist, NULL, 0, 5, out);
    assert_int_equal(n, 0);

    recsys_itemsim_scorer_free(&sc);
    recsys_itemsim_free(&s);
}


static void
knn(const recsys_matrix_t *m, recsys_itemsim_t *s, uint32_t nb,
    double shrink, int weighted)
{
    char               err[256];
    recsys_knn_conf_t  c;

    c.neighbours = nb;
    c.shrink = shrink;
    c.weighted = weighted;
    c.threads = 2;

    assert_int_equal(recsys_knn_train(m, &c, s, err, sizeof(err)), 0);
    assert_int_equal(s->nitems, 5);
}


static void
test_knn_cosine(void **state)
{
    recsys_matrix_t   m;
    recsys_itemsim_t  s;

    (void) state;

    matrix65(&m, 1.0f, 1.0f);
    knn(&m, &s, 2, 0, 0);

    /* row 0: 2/3 at 1, then 1/sqrt 6 at 4 (over 1/3 at 2 and 3) */
    assert_int_equal(s.ptr[1] - s.ptr[0], 2);
    assert_int_equal(s.cols[0], 1);
    assert_true(fabsf(s.weights[0] - 2.0f / 3) < 1e-6);
    assert_int_equal(s.cols[1], 4);
    assert_true(fabsf(s.weights[1] - 1 / sqrtf(6)) < 1e-6);

    /* row 1 has only two neighbours: 0 and 2 at 2/3, ascending */
    assert_int_equal(s.ptr[2] - s.ptr[1], 2);
    assert_int_equal(s.cols[s.ptr[1]], 0);
    assert_int_equal(s.cols[s.ptr[1] + 1], 2);

    /* row 3: 2/sqrt 6 at 4, then the 1/3 tie of 0 and 2 goes to 0 */
    assert_int_equal(s.cols[s.ptr[3]], 4);
    assert_true(fabsf(s.weights[s.ptr[3]] - 2 / sqrtf(6)) < 1e-6);
    assert_int_equal(s.cols[s.ptr[3] + 1], 0);
    assert_true(fabsf(s.weights[s.ptr[3] + 1] - 1.0f / 3) < 1e-6);

    /* row 4: 3 (2/sqrt 6), 0 (1/sqrt 6); no zero-similarity items */
    assert_int_equal(s.ptr[5] - s.ptr[4], 2);
    assert_int_equal(s.cols[s.ptr[4]], 3);
    assert_int_equal(s.cols[s.ptr[4] + 1], 0);
    recsys_itemsim_free(&s);

    /* more neighbours than exist: row 1 still lists 2 */
    knn(&m, &s, 10, 0, 0);
    assert_int_equal(s.ptr[2] - s.ptr[1], 2);
    assert_int_equal(s.ptr[1] - s.ptr[0], 4);
    recsys_itemsim_free(&s);

    recsys_matrix_free(&m);
}


static void
test_knn_shrink_and_weights(void **state)
{
    recsys_matrix_t   m;
    recsys_itemsim_t  s;

    (void) state;

    /* shrink 1: (0,1) 2/(3+1) = 0.5, (0,4) 1/(sqrt 6 + 1), (0,2) 1/4 */

    matrix65(&m, 1.0f, 1.0f);
    knn(&m, &s, 3, 1.0, 0);
    assert_int_equal(s.cols[0], 1);
    assert_true(fabsf(s.weights[0] - 0.5f) < 1e-6);
    assert_int_equal(s.cols[1], 4);
    assert_true(fabsf(s.weights[1] - 1 / (sqrtf(6) + 1)) < 1e-6);
    assert_int_equal(s.cols[2], 2);
    assert_true(fabsf(s.weights[2] - 0.25f) < 1e-6);
    recsys_itemsim_free(&s);
    recsys_matrix_free(&m);

    /* user 5 weighs 3 (items 0, 3, 4): weighted, row 0 is 4 at
       9 / (sqrt 11 sqrt 10), then 3 at 9 / 11; 1 falls to 2 / sqrt 33 */

    matrix65(&m, 1.0f, 3.0f);
    knn(&m, &s, 2, 0, 1);
    assert_int_equal(s.cols[0], 4);
    assert_true(fabsf(s.weights[0] - 9 / (sqrtf(11) * sqrtf(10))) < 1e-6);
    assert_int_equal(s.cols[1], 3);
    assert_true(fabsf(s.weights[1] - 9.0f / 11) < 1e-6);
    recsys_itemsim_free(&s);

    /* and binary ignores the weights */
    knn(&m, &s, 2, 0, 0);
    assert_int_equal(s.cols[0], 1);
    assert_true(fabsf(s.weights[0] - 2.0f / 3) < 1e-6);
    recsys_itemsim_free(&s);

    recsys_matrix_free(&m);
}


static void
test_knn_bad(void **state)
{
    char               err[256];
    recsys_matrix_t    m;
    recsys_itemsim_t   s;
    recsys_knn_conf_t  c;

    (void) state;

    matrix65(&m, 1.0f, 1.0f);
    memset(&c, 0, sizeof(recsys_knn_conf_t));

    assert_int_equal(recsys_knn_train(&m, &c, &s, err, sizeof(err)), -1);
    assert_string_equal(err, "knn: neighbours must be 1..10000, not 0");
    assert_null(s.ptr);

    c.neighbours = 5;
    c.shrink = -1;
    assert_int_equal(recsys_knn_train(&m, &c, &s, err, sizeof(err)), -1);
    assert_string_equal(err, "knn: shrink must be >= 0, not -1");

    c.shrink = NAN;
    assert_int_equal(recsys_knn_train(&m, &c, &s, err, sizeof(err)), -1);

    recsys_matrix_free(&m);
}


/*
 * itemsim.bin: the item-kNN model of the 6 x 5 case written, mapped and
 * viewed back entry for entry; a file of other rows, a cut file and a
 * bad column or weight are refused.
 */
static void
test_itemsim_file(void **state)
{
    char               err[256], path[] = "/tmp/recsys_itemsim_XXXXXX";
    int                fd;
    size_t             size;
    uint8_t           *copy;
    uint32_t           alg;
    uint64_t           j;
    const void        *base;
    recsys_matrix_t    m;
    recsys_itemsim_t   s, v;
    recsys_knn_conf_t  c;

    (void) state;

    matrix65(&m, 1.0f, 1.0f);
    memset(&c, 0, sizeof(c));
    c.neighbours = 3;
    c.threads = 1;
    assert_int_equal(recsys_knn_train(&m, &c, &s, err, sizeof(err)), 0);

    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);

    assert_int_equal(recsys_itemsim_write(&s, 2, path, err, sizeof(err)),
                     0);
    assert_int_equal(recsys_file_map(path, &base, &size, err, sizeof(err)),
                     0);
    assert_int_equal(size, 32 + 6 * 8 + s.ptr[5] * 8);

    assert_int_equal(recsys_itemsim_view(&v, base, size, 5, &alg, err,
                                         sizeof(err)), 0);
    assert_int_equal(alg, 2);
    assert_int_equal(v.nitems, 5);
    assert_int_equal(v.m, 3);
    assert_int_equal(recsys_itemsim_check(&v, err, sizeof(err)), 0);

    for (j = 0; j <= 5; j++) {
        assert_int_equal(v.ptr[j], s.ptr[j]);
    }

    for (j = 0; j < s.ptr[5]; j++) {
        assert_int_equal(v.cols[j], s.cols[j]);
        assert_true(v.weights[j] == s.weights[j]);
    }

    assert_int_equal(recsys_itemsim_view(&v, base, size, 6, NULL, err,
                                         sizeof(err)), -1);
    assert_non_null(strstr(err, "do not match the generation's 6 items"));
    assert_int_equal(recsys_itemsim_view(&v, base, size - 4, 5, NULL, err,
                                         sizeof(err)), -1);
    assert_non_null(strstr(err, "expected"));

    /* a column out of range, then a NaN weight: what the builder checks */
    copy = malloc(size);
    assert_non_null(copy);
    memcpy(copy, base, size);
    assert_int_equal(recsys_itemsim_view(&v, copy, size, 5, NULL, err,
                                         sizeof(err)), 0);
    v.cols[1] = 5;
    assert_int_equal(recsys_itemsim_check(&v, err, sizeof(err)), -1);
    assert_string_equal(err, "itemsim.bin: row 0, entry 1: item 5, weight"
                        " 0.408248");
    v.cols[1] = s.cols[1];
    v.weights[0] = NAN;
    assert_int_equal(recsys_itemsim_check(&v, err, sizeof(err)), -1);
    v.weights[0] = 0;
    v.ptr[2] = v.ptr[1] - 1;
    assert_int_equal(recsys_itemsim_check(&v, err, sizeof(err)), -1);
    assert_string_equal(err, "itemsim.bin: row 1: bad offsets");

    free(copy);
    munmap((void *) base, size);
    unlink(path);
    recsys_itemsim_free(&s);
    recsys_matrix_free(&m);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ease_reference),
        cmocka_unit_test(test_ease_bad),
        cmocka_unit_test(test_sparsify),
        cmocka_unit_test(test_history_scoring),
        cmocka_unit_test(test_knn_cosine),
        cmocka_unit_test(test_knn_shrink_and_weights),
        cmocka_unit_test(test_knn_bad),
        cmocka_unit_test(test_itemsim_file),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
