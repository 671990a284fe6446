/*
 * Unit tests for recsys_als.c.  The reference numbers were computed once
 * with numpy on the dense formulation (every user x item pair, diagonal
 * C_u, np.linalg.solve), from the documented initialisation (splitmix64
 * seed 7, items 0.1 * (U - 0.5), users solved first); they share no code
 * with the sparse solver tested here.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "recsys_als.h"
#include "recsys_rng.h"


#define TOL   1e-5


/* 4 users x 5 items, the weights of the reference */
static const float  tiny[4][5] = {
    { 1, 0, 3, 0, 0 },
    { 0, 2, 0, 0, 1 },
    { 1, 1, 0, 0, 0 },
    { 0, 0, 0, 4, 1 },
};

static const double  ref_loss[3] = {
    8.942339517613496, 6.338909147443353, 6.003223850615363
};

static const double  ref_users[8] = {
    -0.09574382825459046, -2.1166431873208995, 0.5387134839271447,
    -1.3401005569983229, 0.9361149796175805, -0.6348731762976104,
    -1.1586523202657244, -2.052101782852126
};

static const double  ref_items[10] = {
    0.6195325067961257, -0.4120304148771839, 0.826379356195313,
    -0.3309366082344193, 0.11950851645132378, -0.39905902037722146,
    -0.4924284005004027, -0.18979248373787538, 0.03304014482978927,
    -0.4489518111994097
};

/* fold-in of items 0 and 2 with weights 1 and 3 */
static const double  ref_fold[2] = {
    0.12027670646963666, -1.8703728727978077
};


static void tiny_matrix(recsys_matrix_t *m);
static void random_matrix(recsys_matrix_t *m, uint32_t nu, uint32_t ni,
    uint32_t per_user, uint64_t seed);
static void conf(recsys_als_conf_t *c, uint32_t f, uint32_t it,
    double lambda, double alpha, int threads);


static void
tiny_matrix(recsys_matrix_t *m)
{
    char            err[256];
    size_t          n;
    uint32_t        u, i;
    recsys_event_t  ev[20];

    n = 0;

    for (u = 0; u < 4; u++) {
        for (i = 0; i < 5; i++) {
            if (tiny[u][i] > 0) {
                ev[n].user = u;
                ev[n].item = i;
                ev[n].weight = tiny[u][i];
                ev[n].ts = 0;
                n++;
            }
        }
    }

    assert_int_equal(recsys_matrix_build(m, 4, 5, ev, n, RECSYS_MERGE_SUM,
                                         NULL, err, sizeof(err)), 0);
}


static void
random_matrix(recsys_matrix_t *m, uint32_t nu, uint32_t ni,
    uint32_t per_user, uint64_t seed)
{
    char             err[256];
    size_t           n;
    uint32_t         u, j;
    recsys_event_t  *ev;

    ev = malloc((size_t) nu * per_user * sizeof(recsys_event_t));
    assert_non_null(ev);
    n = 0;

    for (u = 0; u < nu; u++) {
        for (j = 0; j < per_user; j++) {
            ev[n].user = u;
            ev[n].item = (uint32_t) recsys_rng_below(&seed, ni);
            ev[n].weight = 1.0f + (float) recsys_rng_below(&seed, 3);
            ev[n].ts = 0;
            n++;
        }
    }

    assert_int_equal(recsys_matrix_build(m, nu, ni, ev, n, RECSYS_MERGE_SUM,
                                         NULL, err, sizeof(err)), 0);
    free(ev);
}


static void
conf(recsys_als_conf_t *c, uint32_t f, uint32_t it, double lambda,
    double alpha, int threads)
{
    memset(c, 0, sizeof(recsys_als_conf_t));
    c->factors = f;
    c->iterations = it;
    c->lambda = lambda;
    c->alpha = alpha;
    c->seed = 7;
    c->threads = threads;
}


static void
test_als_reference(void **state)
{
    int                 threads;
    char                err[256];
    float               fold[2];
    double              losses[3];
    uint32_t            i;
    recsys_matrix_t     m;
    recsys_als_conf_t   c;
    recsys_als_model_t  model;
    const uint32_t      hist[2] = { 0, 2 };
    const float         hw[2] = { 1, 3 };

    (void) state;

    tiny_matrix(&m);

    for (threads = 1; threads <= 3; threads++) {
        conf(&c, 2, 3, 0.1, 2.0, threads);
        assert_int_equal(recsys_als_train(&m, &c, &model, losses, err,
                                          sizeof(err)), 0);

        for (i = 0; i < 3; i++) {
            assert_true(fabs(losses[i] - ref_loss[i]) < TOL);
        }

        assert_true(fabs(model.loss - ref_loss[2]) < TOL);

        for (i = 0; i < 8; i++) {
            assert_true(fabs(model.users[i] - ref_users[i]) < TOL);
        }

        for (i = 0; i < 10; i++) {
            assert_true(fabs(model.items[i] - ref_items[i]) < TOL);
        }

        assert_int_equal(model.failed, 0);

        assert_int_equal(recsys_als_fold_in(&model, hist, hw, 2, fold), 0);
        assert_true(fabs(fold[0] - ref_fold[0]) < TOL);
        assert_true(fabs(fold[1] - ref_fold[1]) < TOL);

        recsys_als_free(&model);
    }

    recsys_matrix_free(&m);
}


/*
 * Frequency-scaled regularisation, by hand: one factor, items y = (1, 2,
 * 0.5), so Y'Y = 5.25; a history of items 0 and 1 with weights 1 and 3
 * at alpha 2 has confidences 3 and 7, total confidence over the three
 * items s = 3 + 2 * (1 + 3) = 11 and reg = 0.1 * 11^nu.  The user step
 * x = (3 * 1 + 7 * 2) / (5.25 + reg + 2 * 1 + 6 * 4) = 17 / (31.25 + reg).
 */
static void
test_als_frequency_reg(void **state)
{
    float               out;
    double              gram;
    recsys_als_model_t  model;
    float               items[3] = { 1.0f, 2.0f, 0.5f };
    const uint32_t      hist[2] = { 0, 1 };
    const float         hw[2] = { 1, 3 };

    (void) state;

    gram = 5.25;
    memset(&model, 0, sizeof(recsys_als_model_t));
    model.nitems = 3;
    model.factors = 1;
    model.lambda = 0.1;
    model.alpha = 2;
    model.items = items;
    model.gram = &gram;

    model.nu = 0;
    assert_int_equal(recsys_als_fold_in(&model, hist, hw, 2, &out), 0);
    assert_true(fabs(out - 17 / 31.35) < 1e-6);

    model.nu = 1;
    assert_int_equal(recsys_als_fold_in(&model, hist, hw, 2, &out), 0);
    assert_true(fabs(out - 17 / 32.35) < 1e-6);

    model.nu = 0.5;
    assert_int_equal(recsys_als_fold_in(&model, hist, hw, 2, &out), 0);
    assert_true(fabs(out - 17 / (31.25 + 0.1 * sqrt(11))) < 1e-6);
}


/* the objective, the scaled regularisation included, never increases */
static void
test_als_loss_decreases(void **state)
{
    char                err[256];
    double              losses[12];
    uint32_t            i, pass;
    recsys_matrix_t     m;
    recsys_als_conf_t   c;
    recsys_als_model_t  model;

    (void) state;

    random_matrix(&m, 300, 120, 8, 99);

    for (pass = 0; pass < 2; pass++) {
        conf(&c, 16, 12, pass ? 0.01 : 0.5, 10.0, 2);
        c.nu = pass;
        assert_int_equal(recsys_als_train(&m, &c, &model, losses, err,
                                          sizeof(err)), 0);

        for (i = 1; i < 12; i++) {
            assert_true(losses[i] <= losses[i - 1] * (1 + 1e-12));
        }

        assert_true(losses[11] < losses[0]);
        assert_true(model.nu == pass);
        recsys_als_free(&model);
    }

    recsys_matrix_free(&m);
}


static void
test_als_deterministic(void **state)
{
    char                err[256];
    size_t              nu, ni;
    recsys_matrix_t     m;
    recsys_als_conf_t   c;
    recsys_als_model_t  a, b;

    (void) state;

    random_matrix(&m, 200, 90, 6, 5);
    nu = 200 * 8 * sizeof(float);
    ni = 90 * 8 * sizeof(float);

    conf(&c, 8, 4, 1.0, 5.0, 1);
    assert_int_equal(recsys_als_train(&m, &c, &a, NULL, err, sizeof(err)),
                     0);
    c.threads = 2;
    assert_int_equal(recsys_als_train(&m, &c, &b, NULL, err, sizeof(err)),
                     0);
    assert_memory_equal(a.users, b.users, nu);
    assert_memory_equal(a.items, b.items, ni);
    recsys_als_free(&b);

    c.seed = 8;
    assert_int_equal(recsys_als_train(&m, &c, &b, NULL, err, sizeof(err)),
                     0);
    assert_memory_not_equal(a.items, b.items, ni);

    recsys_als_free(&a);
    recsys_als_free(&b);
    recsys_matrix_free(&m);
}


static void
test_als_empty_rows(void **state)
{
    char                err[256];
    uint32_t            k;
    recsys_matrix_t     m;
    recsys_als_conf_t   c;
    recsys_als_model_t  model;
    recsys_event_t      ev[] = {
        { 0, 0, 1.0f, 0 }, { 0, 1, 1.0f, 0 }, { 2, 1, 1.0f, 0 },
    };

    (void) state;

    /* user 1 and item 2 have no entries */

    assert_int_equal(recsys_matrix_build(&m, 3, 3, ev, 3, RECSYS_MERGE_SUM,
                                         NULL, err, sizeof(err)), 0);
    conf(&c, 4, 3, 0.1, 1.0, 2);
    assert_int_equal(recsys_als_train(&m, &c, &model, NULL, err,
                                      sizeof(err)), 0);

    for (k = 0; k < 4; k++) {
        assert_true(model.users[4 + k] == 0.0f);
        assert_true(model.items[8 + k] == 0.0f);
        assert_true(isfinite(model.users[k]));
    }

    recsys_als_free(&model);
    recsys_matrix_free(&m);
}


static void
test_als_bad_conf(void **state)
{
    char                err[256];
    recsys_matrix_t     m, empty;
    recsys_als_conf_t   c;
    recsys_als_model_t  model;

    (void) state;

    tiny_matrix(&m);

    conf(&c, 0, 3, 0.1, 1.0, 1);
    assert_int_equal(recsys_als_train(&m, &c, &model, NULL, err,
                                      sizeof(err)), -1);
    assert_string_equal(err, "als: factors must be 1..1024, not 0");
    assert_null(model.users);

    conf(&c, 2, 0, 0.1, 1.0, 1);
    assert_int_equal(recsys_als_train(&m, &c, &model, NULL, err,
                                      sizeof(err)), -1);
    assert_string_equal(err, "als: iterations must be 1..1000, not 0");

    conf(&c, 2, 3, 0.0, 1.0, 1);
    assert_int_equal(recsys_als_train(&m, &c, &model, NULL, err,
                                      sizeof(err)), -1);
    assert_string_equal(err, "als: lambda must be > 0, not 0");

    conf(&c, 2, 3, -1.0, 1.0, 1);
    assert_int_equal(recsys_als_train(&m, &c, &model, NULL, err,
                                      sizeof(err)), -1);

    conf(&c, 2, 3, NAN, 1.0, 1);
    assert_int_equal(recsys_als_train(&m, &c, &model, NULL, err,
                                      sizeof(err)), -1);

    conf(&c, 2, 3, 0.1, -0.5, 1);
    assert_int_equal(recsys_als_train(&m, &c, &model, NULL, err,
                                      sizeof(err)), -1);
    assert_string_equal(err, "als: alpha must be >= 0, not -0.5");

    conf(&c, 2, 3, 0.1, 1.0, 1);
    c.nu = 2.5;
    assert_int_equal(recsys_als_train(&m, &c, &model, NULL, err,
                                      sizeof(err)), -1);
    assert_string_equal(err, "als: nu must be 0..2, not 2.5");

    c.nu = NAN;
    assert_int_equal(recsys_als_train(&m, &c, &model, NULL, err,
                                      sizeof(err)), -1);

    memset(&empty, 0, sizeof(recsys_matrix_t));
    empty.nitems = 5;
    conf(&c, 2, 3, 0.1, 1.0, 1);
    assert_int_equal(recsys_als_train(&empty, &c, &model, NULL, err,
                                      sizeof(err)), -1);
    assert_string_equal(err, "als: no users");

    recsys_matrix_free(&m);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_als_reference),
        cmocka_unit_test(test_als_frequency_reg),
        cmocka_unit_test(test_als_loss_decreases),
        cmocka_unit_test(test_als_deterministic),
        cmocka_unit_test(test_als_empty_rows),
        cmocka_unit_test(test_als_bad_conf),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
