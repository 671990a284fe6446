/*
 * Unit tests for recsys_knn.c on the 6 x 5 case of test_ease.c, whose
 * cosines are worked out by hand: item columns {0,1,5} {0,1,2} {1,2,3}
 * {3,4,5} {4,5} give norms sqrt 3 (x4) and sqrt 2, co-counts (0,1) 2,
 * (0,2) 1, (0,3) 1, (0,4) 1, (1,2) 2, (2,3) 1, (3,4) 2, others 0.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "recsys_knn.h"


static const uint8_t  x65[6][5] = {
    { 1, 1, 0, 0, 0 },
    { 1, 1, 1, 0, 0 },
    { 0, 1, 1, 0, 0 },
    { 0, 0, 1, 1, 0 },
    { 0, 0, 0, 1, 1 },
    { 1, 0, 0, 1, 1 },
};


static void matrix65(recsys_matrix_t *m, float weight_of_user5);
static void knn(const recsys_matrix_t *m, recsys_itemsim_t *s, uint32_t nb,
    double shrink, int weighted);


static void
matrix65(recsys_matrix_t *m, float weight_of_user5)
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
                ev[n].weight = u == 5 ? weight_of_user5 : 1.0f;
                ev[n].ts = 0;
                n++;
            }
        }
    }

    assert_int_equal(recsys_matrix_build(m, 6, 5, ev, n, RECSYS_MERGE_SUM,
                                         NULL, err, sizeof(err)), 0);
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

    matrix65(&m, 1.0f);
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

    matrix65(&m, 1.0f);
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

    matrix65(&m, 3.0f);
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

    matrix65(&m, 1.0f);
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


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_knn_cosine),
        cmocka_unit_test(test_knn_shrink_and_weights),
        cmocka_unit_test(test_knn_bad),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
