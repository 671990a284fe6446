/*
 * Unit tests for recsys_rank.c: the normalised signals, the query of
 * positive and negative examples, greedy MMR on cases computed by hand,
 * intra-list similarity against lambda, explain sums, ties and the
 * guards that keep every score finite.
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

#include "recsys_artifact.h"
#include "recsys_rank.h"


#define EPS  1e-9


static void test_cand(recsys_cand_t *c, uint32_t row, const char *id,
    const float *v, double s);
static void test_order(const recsys_cand_t *c, const char *ids);
static double test_ils(const recsys_cand_t *c, uint32_t k, uint32_t dim);
static uint32_t test_rand(uint32_t *state);


static void
test_cand(recsys_cand_t *c, uint32_t row, const char *id, const float *v,
    double s)
{
    memset(c, 0, sizeof(recsys_cand_t));

    c->row = row;
    c->id = id;
    c->id_len = strlen(id);
    c->vector = v;
    c->similarity = s;
}


/* ids: the expected order, one character per candidate */

static void
test_order(const recsys_cand_t *c, const char *ids)
{
    size_t  i;

    for (i = 0; ids[i]; i++) {
        assert_int_equal(c[i].id_len, 1);
        assert_int_equal(c[i].id[0], ids[i]);
    }
}


static void
test_profile_defaults(void **state)
{
    recsys_profile_t       p;
    recsys_ranking_conf_t  rc;

    (void) state;

    recsys_profile_init(&p);
    assert_null(p.name);
    assert_int_equal(p.candidates, 200);
    assert_true(p.w_similarity == 1.0f);
    assert_true(p.w_popularity == 0.0f);
    assert_true(p.w_freshness == 0.0f);
    assert_int_equal(p.popularity, RECSYS_POP_LOG);
    assert_null(p.freshness_field);
    assert_int_equal(p.nboosts, 0);
    assert_true(p.mmr_lambda < 0);

    recsys_ranking_conf_init(&rc);
    assert_int_equal(rc.dflt, -1);
    assert_int_equal(rc.nprofiles, 0);
    assert_true(rc.negative_weight == 0.5f);
    assert_int_equal(rc.max_batch, 64);

    /* a conf as the catalog parser builds it, freed in one call */
    rc.profiles = calloc(2, sizeof(recsys_profile_t));
    assert_non_null(rc.profiles);
    rc.nprofiles = 2;
    recsys_profile_init(&rc.profiles[0]);
    recsys_profile_init(&rc.profiles[1]);
    rc.profiles[0].name = strdup("balanced");
    rc.profiles[1].name = strdup("fresh");
    rc.profiles[1].freshness_field = strdup("published_at");
    rc.profiles[1].boosts = calloc(1, sizeof(recsys_boost_t));
    assert_non_null(rc.profiles[1].boosts);
    rc.profiles[1].boosts[0].category = strdup("coffee");
    rc.profiles[1].nboosts = 1;
    rc.dflt = 0;

    assert_int_equal(recsys_ranking_find(&rc, "balanced", 8), 0);
    assert_int_equal(recsys_ranking_find(&rc, "fresh", 5), 1);
    assert_int_equal(recsys_ranking_find(&rc, "fres", 4), -1);
    assert_int_equal(recsys_ranking_find(&rc, "freshx", 6), -1);
    assert_int_equal(recsys_ranking_find(&rc, "", 0), -1);

    recsys_ranking_conf_free(&rc);
    assert_null(rc.profiles);
    assert_int_equal(rc.nprofiles, 0);
    assert_int_equal(rc.dflt, -1);

    /* twice is harmless */
    recsys_ranking_conf_free(&rc);
}


static void
test_similarity(void **state)
{
    (void) state;

    assert_float_equal(recsys_rank_similarity(RECSYS_METRIC_COSINE, 1), 1,
                       EPS);
    assert_float_equal(recsys_rank_similarity(RECSYS_METRIC_COSINE, -1), 0,
                       EPS);
    assert_float_equal(recsys_rank_similarity(RECSYS_METRIC_COSINE, 0), 0.5,
                       EPS);
    assert_float_equal(recsys_rank_similarity(RECSYS_METRIC_COSINE, 0.5f),
                       0.75, EPS);

    /* rounding may take a unit vector's ip past 1: still in [0, 1] */
    assert_float_equal(recsys_rank_similarity(RECSYS_METRIC_COSINE,
                                              1.0001f), 1, EPS);

    assert_float_equal(recsys_rank_similarity(RECSYS_METRIC_INNER_PRODUCT,
                                              0), 0.5, EPS);
    assert_float_equal(recsys_rank_similarity(RECSYS_METRIC_INNER_PRODUCT,
                                              2),
                       1 / (1 + exp(-2)), EPS);
    assert_float_equal(recsys_rank_similarity(RECSYS_METRIC_INNER_PRODUCT,
                                              -1e30f), 0, EPS);
    assert_float_equal(recsys_rank_similarity(RECSYS_METRIC_INNER_PRODUCT,
                                              1e30f), 1, EPS);

    /* l2 scores are minus the squared distance */
    assert_float_equal(recsys_rank_similarity(RECSYS_METRIC_L2, -4), 1.0 / 3,
                       EPS);
    assert_float_equal(recsys_rank_similarity(RECSYS_METRIC_L2, 0), 1, EPS);
    assert_float_equal(recsys_rank_similarity(RECSYS_METRIC_L2, -1e38f),
                       1 / (1 + sqrt(1e38)), 1e-12);

    assert_float_equal(recsys_rank_similarity(RECSYS_METRIC_COSINE, NAN), 0,
                       EPS);
    assert_float_equal(recsys_rank_similarity(RECSYS_METRIC_L2, -INFINITY),
                       0, EPS);
    assert_float_equal(recsys_rank_similarity(RECSYS_METRIC_INNER_PRODUCT,
                                              INFINITY), 0, EPS);
}


static void
test_popularity(void **state)
{
    float  e1, e2;

    (void) state;

    e1 = (float) (M_E - 1);
    e2 = (float) (M_E * M_E - 1);

    assert_float_equal(recsys_rank_popularity(RECSYS_POP_LOG, e1, e2, 0, 0),
                       0.5, 1e-6);
    assert_float_equal(recsys_rank_popularity(RECSYS_POP_LOG, e2, e2, 0, 0),
                       1, EPS);
    assert_float_equal(recsys_rank_popularity(RECSYS_POP_LOG, 0, e2, 0, 0),
                       0, EPS);
    assert_float_equal(recsys_rank_popularity(RECSYS_POP_LOG, -3, e2, 0, 0),
                       0, EPS);
    assert_float_equal(recsys_rank_popularity(RECSYS_POP_LOG, 5, 0, 0, 0),
                       0, EPS);

    assert_float_equal(recsys_rank_popularity(RECSYS_POP_RAW, 2, 8, 0, 0),
                       0.25, EPS);
    assert_float_equal(recsys_rank_popularity(RECSYS_POP_RAW, -2, 8, 0, 0),
                       0, EPS);
    assert_float_equal(recsys_rank_popularity(RECSYS_POP_RAW, 9, 8, 0, 0),
                       1, EPS);
    assert_float_equal(recsys_rank_popularity(RECSYS_POP_RAW, 2, -1, 0, 0),
                       0, EPS);
    assert_float_equal(recsys_rank_popularity(RECSYS_POP_RAW, NAN, 8, 0, 0),
                       0, EPS);
    assert_float_equal(recsys_rank_popularity(RECSYS_POP_RAW, 1, INFINITY, 0,
                                              0), 0, EPS);

    assert_float_equal(recsys_rank_popularity(RECSYS_POP_RANK, 0, 0, 0, 5),
                       1, EPS);
    assert_float_equal(recsys_rank_popularity(RECSYS_POP_RANK, 0, 0, 2, 5),
                       0.5, EPS);
    assert_float_equal(recsys_rank_popularity(RECSYS_POP_RANK, 0, 0, 4, 5),
                       0, EPS);
    assert_float_equal(recsys_rank_popularity(RECSYS_POP_RANK, 0, 0, 0, 1),
                       1, EPS);
    assert_float_equal(recsys_rank_popularity(RECSYS_POP_RANK, 0, 0, 5, 5),
                       0, EPS);
    assert_float_equal(recsys_rank_popularity(RECSYS_POP_RANK, 0, 0, 0, 0),
                       0, EPS);
}


static void
test_freshness(void **state)
{
    int64_t  now;

    (void) state;

    now = 1700000000;

    assert_float_equal(recsys_rank_freshness(now, now, 86400), 1, EPS);
    assert_float_equal(recsys_rank_freshness(now - 86400, now, 86400), 0.5,
                       EPS);
    assert_float_equal(recsys_rank_freshness(now - 2 * 86400, now, 86400),
                       0.25, EPS);
    assert_float_equal(recsys_rank_freshness(now + 3600, now, 86400), 1,
                       EPS);
    assert_float_equal(recsys_rank_freshness(RECSYS_FRESHNESS_MISSING, now,
                                             86400), 0, EPS);
    assert_float_equal(recsys_rank_freshness(now - 10, now, 0), 0, EPS);

    /* extremes do not overflow into nonsense */
    assert_float_equal(recsys_rank_freshness(INT64_MIN + 1, INT64_MAX, 1), 0,
                       EPS);
    assert_float_equal(recsys_rank_freshness(INT64_MAX, INT64_MIN + 1, 1), 1,
                       EPS);
}


static void
test_query(void **state)
{
    float         q[2], a[2] = { 1, 0 }, b[2] = { 0, 1 }, z[2] = { 0, 0 };
    float         l1[2] = { 2, 0 }, l2[2] = { 4, 0 }, l3[2] = { 1, 0 };
    float         nan2[2] = { NAN, 0 }, big[2] = { 3e38f, 3e38f };
    double        n;
    const float  *pos[2], *neg[2];

    (void) state;

    /* cosine: P = unit(a + b), N = a; 0.5 ranks as Qdrant's 2 P - N */
    pos[0] = a;
    pos[1] = b;
    neg[0] = a;

    assert_int_equal(recsys_rank_query(RECSYS_METRIC_COSINE, 2, pos, 2, neg,
                                       1, 0.5f, q), 0);

    n = sqrt(pow(2 * M_SQRT1_2 - 1, 2) + pow(2 * M_SQRT1_2, 2));
    assert_float_equal(q[0], (2 * M_SQRT1_2 - 1) / n, 1e-6);
    assert_float_equal(q[1], 2 * M_SQRT1_2 / n, 1e-6);

    /* no negatives: the unit positive mean */
    assert_int_equal(recsys_rank_query(RECSYS_METRIC_COSINE, 2, pos, 2, NULL,
                                       0, 0.5f, q), 0);
    assert_float_equal(q[0], M_SQRT1_2, 1e-6);
    assert_float_equal(q[1], M_SQRT1_2, 1e-6);

    /* cosine scales each example first: a long one weighs as a short one */
    pos[0] = l2;
    pos[1] = b;
    assert_int_equal(recsys_rank_query(RECSYS_METRIC_COSINE, 2, pos, 2, NULL,
                                       0, 0.5f, q), 0);
    assert_float_equal(q[0], q[1], 1e-6);

    /* l2: (P - w N) / (1 - w), w 0.5: 2 P - N */
    pos[0] = l1;
    pos[1] = l2;
    neg[0] = l3;
    assert_int_equal(recsys_rank_query(RECSYS_METRIC_L2, 2, pos, 2, neg, 1,
                                       0.5f, q), 0);
    assert_float_equal(q[0], 5, 1e-6);
    assert_float_equal(q[1], 0, 1e-6);

    assert_int_equal(recsys_rank_query(RECSYS_METRIC_L2, 2, pos, 2, neg, 1,
                                       0.0f, q), 0);
    assert_float_equal(q[0], 3, 1e-6);

    /* a negative weight of 1 has no point under l2 */
    assert_int_equal(recsys_rank_query(RECSYS_METRIC_L2, 2, pos, 2, neg, 1,
                                       1.0f, q), -1);

    /* inner product: P - w N, not scaled */
    assert_int_equal(recsys_rank_query(RECSYS_METRIC_INNER_PRODUCT, 2, pos,
                                       2, neg, 1, 0.5f, q), 0);
    assert_float_equal(q[0], 2.5, 1e-6);

    /* nothing to search with: the caller falls back */
    assert_int_equal(recsys_rank_query(RECSYS_METRIC_COSINE, 2, pos, 0, neg,
                                       1, 0.5f, q), -1);

    pos[0] = z;
    assert_int_equal(recsys_rank_query(RECSYS_METRIC_COSINE, 2, pos, 1, NULL,
                                       0, 0.5f, q), -1);
    assert_int_equal(recsys_rank_query(RECSYS_METRIC_L2, 2, pos, 1, NULL, 0,
                                       0.5f, q), -1);

    pos[0] = a;
    neg[0] = a;
    assert_int_equal(recsys_rank_query(RECSYS_METRIC_INNER_PRODUCT, 2, pos,
                                       1, neg, 1, 1.0f, q), -1);

    pos[0] = nan2;
    assert_int_equal(recsys_rank_query(RECSYS_METRIC_INNER_PRODUCT, 2, pos,
                                       1, NULL, 0, 0.5f, q), -1);

    /* 2 P - N of huge vectors overflows float */
    pos[0] = big;
    neg[0] = a;
    neg[1] = b;
    assert_int_equal(recsys_rank_query(RECSYS_METRIC_L2, 2, pos, 1, neg, 2,
                                       0.9f, q), -1);

    assert_int_equal(recsys_rank_query(RECSYS_METRIC_COSINE, 2, pos, 1, neg,
                                       2, NAN, q), -1);
    assert_int_equal(recsys_rank_query(RECSYS_METRIC_COSINE, 2, pos, 1, neg,
                                       2, -0.5f, q), -1);
}


/*
 * 2-d, lambda 0.7 (by hand):
 *   a (1,0) r 1, b (.8,.6) r .95, c (0,1) r .6, d (.6,.8) r .7
 *   1: .7r: a .7 b .665 c .42 d .49                          -> a .7
 *   2: maxsim b .8 c 0 d .6: b .425 c .42 d .31              -> b .425
 *   3: maxsim c .6 d .96: c .24 d .202                       -> c .24
 *   4: d .202
 * lambda 0.5: a .5; then b .075 c .3 d .05 -> c; then b .075 d -.05 -> b;
 * then d .35 - .5 * .96 = -.13
 */

static void
test_mmr_hand(void **state)
{
    float             va[2] = { 1, 0 }, vb[2] = { 0.8f, 0.6f };
    float             vc[2] = { 0, 1 }, vd[2] = { 0.6f, 0.8f };
    double            work[4];
    recsys_cand_t     c[4];
    recsys_profile_t  p;

    (void) state;

    recsys_profile_init(&p);
    p.mmr_lambda = 0.7f;

    test_cand(&c[0], 3, "d", vd, 0.7);
    test_cand(&c[1], 2, "c", vc, 0.6);
    test_cand(&c[2], 1, "b", vb, 0.95);
    test_cand(&c[3], 0, "a", va, 1.0);

    assert_int_equal(recsys_rank_select(&p, 2, c, 4, 4, work), 4);
    test_order(c, "abcd");
    assert_float_equal(c[0].score, 0.7, 1e-6);
    assert_float_equal(c[1].score, 0.425, 1e-6);
    assert_float_equal(c[2].score, 0.24, 1e-6);
    assert_float_equal(c[3].score, 0.202, 1e-6);
    assert_float_equal(c[3].maxsim, 0.96, 1e-6);

    p.mmr_lambda = 0.5f;
    assert_int_equal(recsys_rank_select(&p, 2, c, 4, 4, work), 4);
    test_order(c, "acbd");
    assert_float_equal(c[0].score, 0.5, 1e-6);
    assert_float_equal(c[1].score, 0.3, 1e-6);
    assert_float_equal(c[2].score, 0.075, 1e-6);
    assert_float_equal(c[3].score, -0.13, 1e-6);

    /* k 2 of 4: the first two picks, the same as in the full list */
    assert_int_equal(recsys_rank_select(&p, 2, c, 4, 2, work), 2);
    test_order(c, "ac");

    /* MMR off: by relevance */
    p.mmr_lambda = RECSYS_RANK_MMR_OFF;
    assert_int_equal(recsys_rank_select(&p, 2, c, 4, 4, NULL), 4);
    test_order(c, "abdc");
    assert_float_equal(c[1].score, 0.95, 1e-12);

    /* lambda 1 is relevance order too */
    p.mmr_lambda = 1.0f;
    assert_int_equal(recsys_rank_select(&p, 2, c, 4, 4, work), 4);
    test_order(c, "abdc");
}


/*
 * A near-duplicate of the best item (cosine 1) sinks below an orthogonal
 * item with half its relevance: a .5; b .45 - .5 = -.05; c .25
 */

static void
test_mmr_duplicate(void **state)
{
    float             va[2] = { 1, 0 }, vb[2] = { 2, 0 }, vc[2] = { 0, 3 };
    double            work[3];
    recsys_cand_t     c[3];
    recsys_profile_t  p;

    (void) state;

    recsys_profile_init(&p);
    p.mmr_lambda = 0.5f;

    test_cand(&c[0], 0, "a", va, 1.0);
    test_cand(&c[1], 1, "b", vb, 0.9);
    test_cand(&c[2], 2, "c", vc, 0.5);

    assert_int_equal(recsys_rank_select(&p, 2, c, 3, 3, work), 3);
    test_order(c, "acb");
    assert_float_equal(c[0].score, 0.5, 1e-9);
    assert_float_equal(c[1].score, 0.25, 1e-9);
    assert_float_equal(c[2].score, -0.05, 1e-9);

    /* opposite vectors count as no similarity, not as a bonus */
    vc[0] = -1;
    vc[1] = 0;
    test_cand(&c[0], 0, "a", va, 1.0);
    test_cand(&c[1], 2, "c", vc, 0.5);
    assert_int_equal(recsys_rank_select(&p, 2, c, 2, 2, work), 2);
    assert_float_equal(c[1].maxsim, 0, 1e-12);
    assert_float_equal(c[1].score, 0.25, 1e-9);
}


static double
test_ils(const recsys_cand_t *c, uint32_t k, uint32_t dim)
{
    double    sum;
    uint32_t  i, j, n;

    sum = 0;
    n = 0;

    for (i = 0; i < k; i++) {
        for (j = i + 1; j < k; j++) {
            sum += recsys_rank_cosine(dim, c[i].vector, c[j].vector);
            n++;
        }
    }

    return sum / n;
}


static uint32_t
test_rand(uint32_t *state)
{
    *state = *state * 1103515245u + 12345u;
    return *state >> 8;
}


/*
 * 200 candidates in 10 tight clusters, relevance from the similarity to
 * a query: the intra-list similarity of the top 10 falls as lambda falls
 */

static void
test_mmr_ils(void **state)
{
    char              ids[200][8];
    float            *v, centre[10][16];
    double            ils, prev, work[200];
    uint32_t          i, j, n, dim, seed;
    recsys_cand_t     c[200];
    recsys_profile_t  p;
    static const float lambdas[] = { 1.0f, 0.8f, 0.6f, 0.4f, 0.2f, 0.0f };

    (void) state;

    dim = 16;
    n = 200;
    seed = 7;

    v = malloc(n * dim * sizeof(float));
    assert_non_null(v);

    for (i = 0; i < 10; i++) {
        for (j = 0; j < dim; j++) {
            centre[i][j] = (float) (test_rand(&seed) % 2001) / 1000 - 1;
        }
    }

    for (i = 0; i < n; i++) {
        for (j = 0; j < dim; j++) {
            v[i * dim + j] = centre[i % 10][j]
                             + (float) (test_rand(&seed) % 201) / 2000
                             - 0.05f;
        }

        snprintf(ids[i], sizeof(ids[i]), "i%03u", i);
    }

    recsys_profile_init(&p);
    prev = 2;

    for (i = 0; i < sizeof(lambdas) / sizeof(lambdas[0]); i++) {
        for (j = 0; j < n; j++) {
            test_cand(&c[j], j, ids[j], v + j * dim,
                      recsys_rank_similarity(RECSYS_METRIC_COSINE,
                          (float) recsys_rank_cosine(dim, v + j * dim,
                                                     centre[0])));
        }

        p.mmr_lambda = lambdas[i];
        assert_int_equal(recsys_rank_select(&p, dim, c, n, 10, work), 10);

        ils = test_ils(c, 10, dim);

        print_message("lambda %.1f: intra-list similarity %.4f\n",
                      lambdas[i], ils);

        if (i > 0) {
            assert_true(ils < prev);
        }

        prev = ils;
    }

    free(v);
}


static void
test_explain_sums(void **state)
{
    char              ids[64][8];
    float             v[64][4];
    double            work[64], sum;
    uint32_t          i, j, seed, round;
    recsys_cand_t     c[64];
    recsys_profile_t  p;
    recsys_explain_t  e;

    (void) state;

    seed = 99;

    for (round = 0; round < 4; round++) {
        recsys_profile_init(&p);
        p.w_similarity = 1.0f;
        p.w_popularity = 0.2f * round;
        p.w_freshness = 0.1f;
        p.mmr_lambda = round == 3 ? RECSYS_RANK_MMR_OFF : 0.25f * (round + 1);

        for (i = 0; i < 64; i++) {
            for (j = 0; j < 4; j++) {
                v[i][j] = (float) (test_rand(&seed) % 1000) / 500 - 1;
            }

            snprintf(ids[i], sizeof(ids[i]), "x%u", i);
            test_cand(&c[i], i, ids[i], v[i],
                      (double) (test_rand(&seed) % 1000) / 1000);
            c[i].popularity = (double) (test_rand(&seed) % 1000) / 1000;
            c[i].freshness = (double) (test_rand(&seed) % 1000) / 1000;
            c[i].boost = (i % 3 == 0) ? -0.05 : (i % 3 == 1 ? 0.1 : 0);
        }

        assert_int_equal(recsys_rank_select(&p, 4, c, 64, 20, work), 20);

        for (i = 0; i < 20; i++) {
            recsys_rank_explain(&p, &c[i], &e);

            sum = e.similarity + e.popularity + e.freshness + e.boost
                  + e.mmr_penalty;

            assert_true(sum == e.score);
            assert_true(e.score == c[i].score);
            assert_true(e.mmr_penalty <= 0);

            if (p.mmr_lambda < 0) {
                assert_true(e.mmr_penalty == 0);
                assert_float_equal(e.score, c[i].relevance, 1e-12);
            }

            /* scores never increase down the list, MMR or not */
            if (i > 0) {
                assert_true(c[i].score <= c[i - 1].score);
            }

            /* no penalty is 0, not -0 (an answer printed "-0") */
            if (e.mmr_penalty == 0) {
                assert_false(signbit(e.mmr_penalty));
            }
        }
    }
}


static void
test_ties(void **state)
{
    float             va[2] = { 1, 0 }, vb[2] = { 0, 1 };
    double            work[5];
    recsys_cand_t     c[5];
    recsys_profile_t  p;

    (void) state;

    recsys_profile_init(&p);

    test_cand(&c[0], 4, "ab", va, 0.5);
    test_cand(&c[1], 3, "b", va, 0.5);
    test_cand(&c[2], 2, "a", va, 0.5);
    test_cand(&c[3], 1, "c", vb, 0.9);
    test_cand(&c[4], 0, "B", vb, 0.5);

    assert_int_equal(recsys_rank_select(&p, 2, c, 5, 5, NULL), 5);
    assert_string_equal(c[0].id, "c");
    assert_string_equal(c[1].id, "B");
    assert_string_equal(c[2].id, "a");
    assert_string_equal(c[3].id, "ab");
    assert_string_equal(c[4].id, "b");

    /* MMR ties by id as well, whatever order the candidates came in */
    p.mmr_lambda = 0.5f;
    test_cand(&c[0], 1, "y", va, 0.5);
    test_cand(&c[1], 0, "x", vb, 0.5);
    assert_int_equal(recsys_rank_select(&p, 2, c, 2, 2, work), 2);
    assert_string_equal(c[0].id, "x");
    assert_string_equal(c[1].id, "y");
}


static void
test_edges(void **state)
{
    float             va[2] = { 1, 0 }, vn[2] = { NAN, 1 };
    float             vz[2] = { 0, 0 }, vh[2] = { 3e38f, 3e38f };
    double            work[4];
    uint32_t          i;
    recsys_cand_t     c[4];
    recsys_profile_t  p;
    recsys_explain_t  e;

    (void) state;

    recsys_profile_init(&p);
    p.mmr_lambda = 0.5f;

    /* nothing to rank */
    assert_int_equal(recsys_rank_select(&p, 2, c, 0, 10, work), 0);

    /* k larger than the candidates: all of them */
    test_cand(&c[0], 0, "a", va, 0.9);
    test_cand(&c[1], 1, "n", vn, 0.8);
    test_cand(&c[2], 2, "z", vz, 0.7);
    test_cand(&c[3], 3, "h", vh, NAN);

    assert_int_equal(recsys_rank_select(&p, 2, c, 4, 10, work), 4);

    for (i = 0; i < 4; i++) {
        assert_true(isfinite(c[i].score));
        recsys_rank_explain(&p, &c[i], &e);
        assert_true(isfinite(e.similarity) && isfinite(e.mmr_penalty));
        assert_true(e.score == c[i].score);
    }

    /* a NaN signal scores 0, never NaN */
    assert_string_equal(c[3].id, "h");
    assert_true(c[3].score == 0);

    /* NaN and zero vectors have no similarity; huge ones fit a double */
    assert_true(recsys_rank_cosine(2, va, vn) == 0);
    assert_true(recsys_rank_cosine(2, va, vz) == 0);
    assert_float_equal(recsys_rank_cosine(2, vh, vh), 1, 1e-12);
    assert_true(recsys_rank_cosine(2, va, NULL) == 0);

    /* infinite weights do not leak out either */
    p.w_popularity = INFINITY;
    test_cand(&c[0], 0, "a", va, 0.9);
    c[0].popularity = 0.5;
    assert_int_equal(recsys_rank_select(&p, 2, c, 1, 1, work), 1);
    assert_true(c[0].score == 0);
}


static void
test_because(void **state)
{
    float             it[2] = { 1, 0 };
    float             h0[2] = { 0, 1 }, h1[2] = { 1, 0 };
    float             h2[2] = { 0.6f, 0.8f }, h3[2] = { -1, 0 };
    float             h4[2] = { 2, 0 };
    const float      *h[5];
    recsys_because_t  b[3];

    (void) state;

    h[0] = h0;
    h[1] = h1;
    h[2] = h2;
    h[3] = h3;

    assert_int_equal(recsys_rank_because(2, it, h, 4, 3, b), 3);
    assert_int_equal(b[0].index, 1);
    assert_float_equal(b[0].similarity, 1, 1e-9);
    assert_int_equal(b[1].index, 2);
    assert_float_equal(b[1].similarity, 0.6, 1e-6);
    assert_int_equal(b[2].index, 0);
    assert_float_equal(b[2].similarity, 0, 1e-9);

    /* ties keep the history's order */
    h[4] = h4;
    assert_int_equal(recsys_rank_because(2, it, h, 5, 2, b), 2);
    assert_int_equal(b[0].index, 1);
    assert_int_equal(b[1].index, 4);

    /* fewer history items than asked for */
    assert_int_equal(recsys_rank_because(2, it, h, 1, 3, b), 1);
    assert_int_equal(b[0].index, 0);

    assert_int_equal(recsys_rank_because(2, it, h, 0, 3, b), 0);
    assert_int_equal(recsys_rank_because(2, it, h, 4, 0, b), 0);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profile_defaults),
        cmocka_unit_test(test_similarity),
        cmocka_unit_test(test_popularity),
        cmocka_unit_test(test_freshness),
        cmocka_unit_test(test_query),
        cmocka_unit_test(test_mmr_hand),
        cmocka_unit_test(test_mmr_duplicate),
        cmocka_unit_test(test_mmr_ils),
        cmocka_unit_test(test_explain_sums),
        cmocka_unit_test(test_ties),
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_because),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
