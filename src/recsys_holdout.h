/*
 * Offline evaluation: hold out part of each user's interactions, train
 * on the rest, and score the top-k lists of a model against what was
 * held out.
 *
 * Split: a user with at least min_entries entries gives
 * max(1, round(fraction * n)) of them to the test side, chosen at random
 * (RECSYS_HOLDOUT_RANDOM: a shuffle seeded by seed and the user's row,
 * so a user's split does not depend on the others) or as their most
 * recent (RECSYS_HOLDOUT_RECENT: by ts, ties by item).  Users with
 * fewer stay whole on the training side and are not evaluated.
 *
 * Metrics over a list L of the top k (training items excluded) and the
 * held-out set T:
 *
 *     Recall@k = |L n T| / min(k, |T|)
 *     NDCG@k   = sum_{r <= k, L_r in T} 1 / log2(r + 1)
 *                / sum_{r <= min(k, |T|)} 1 / log2(r + 1)
 *
 * (Recall normalised by min(k, |T|) as in Liang et al. 2018 and Steck
 * 2019, so a perfect list scores 1), averaged over evaluated users.
 */

#ifndef _RECSYS_HOLDOUT_H_INCLUDED_
#define _RECSYS_HOLDOUT_H_INCLUDED_


#include "recsys_interactions.h"
#include "recsys_topk.h"


#define RECSYS_HOLDOUT_RANDOM   0
#define RECSYS_HOLDOUT_RECENT   1

#define RECSYS_HOLDOUT_MAX_K    1000


typedef struct {
    double              fraction;       /* 0 < fraction < 1 */
    uint32_t            min_entries;    /* >= 2 */
    int                 mode;
    uint64_t            seed;
} recsys_holdout_conf_t;


/* held-out items of each user, ascending */
typedef struct {
    uint32_t            nusers;
    uint32_t            evaluated;      /* users with at least one */
    uint64_t           *ptr;            /* nusers + 1 */
    uint32_t           *items;
} recsys_holdout_t;


typedef struct {
    double              recall;
    double              ndcg;
    uint32_t            users;
} recsys_holdout_result_t;


/*
 * The k best items for "user" (training items excluded) into out (k
 * entries); worker indexes per-thread workspaces.  Returns how many.
 */
typedef uint32_t (*recsys_holdout_recommend_pt)(void *data, uint32_t user,
    uint32_t k, recsys_scored_t *out, unsigned worker);


/*
 * Splits m: the training side as events (*train, *ntrain; freed by the
 * caller) for recsys_matrix_build(), the test side into test.  Returns
 * 0, or -1 with err set.
 */
int recsys_holdout_split(const recsys_matrix_t *m,
    const recsys_holdout_conf_t *c, recsys_event_t **train,
    uint64_t *ntrain, recsys_holdout_t *test, char *err, size_t errlen);

void recsys_holdout_free(recsys_holdout_t *test);

/* the metrics of one ranked list against truth (ascending) */
void recsys_holdout_metrics(const recsys_scored_t *list, uint32_t n,
    const uint32_t *truth, size_t ntruth, uint32_t k, double *recall,
    double *ndcg);

/*
 * Averages the metrics over the evaluated users (all of them, or those
 * in users[0..nusers) when users is not NULL), calling fn on "threads"
 * threads.  Returns 0, or -1 when k is out of 1..RECSYS_HOLDOUT_MAX_K
 * or memory runs out.
 */
int recsys_holdout_evaluate(const recsys_holdout_t *test, uint32_t k,
    const uint32_t *users, uint32_t nusers, int threads,
    recsys_holdout_recommend_pt fn, void *data,
    recsys_holdout_result_t *res);


#endif /* _RECSYS_HOLDOUT_H_INCLUDED_ */
