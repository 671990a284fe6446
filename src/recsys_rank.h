/*
 * Ranking: the parsed form of the catalog's "ranking:" profiles, and the
 * arithmetic of a ranked answer over plain arrays: the query of positive
 * and negative examples, the normalised signals, relevance, greedy MMR,
 * the explain parts and the history items behind a result.  Pure C: no
 * nginx header, no generation (recsys_recommend.h applies it to one).
 */

#ifndef _RECSYS_RANK_H_INCLUDED_
#define _RECSYS_RANK_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/* how a profile normalises an item's popularity to [0, 1] */
#define RECSYS_POP_LOG               0
#define RECSYS_POP_RANK              1
#define RECSYS_POP_RAW               2

#define RECSYS_RANK_CANDIDATES       200
#define RECSYS_RANK_CANDIDATES_MAX   16384
#define RECSYS_RANK_NEGATIVE_WEIGHT  0.5f
#define RECSYS_RANK_MAX_BATCH        64
#define RECSYS_RANK_MAX_BATCH_MAX    1024

/* mmr_lambda below 0: MMR off */
#define RECSYS_RANK_MMR_OFF          -1.0f

/* history items listed per result in "because" */
#define RECSYS_RANK_BECAUSE          3

/* a freshness column's value for an item without the attribute */
#define RECSYS_FRESHNESS_MISSING     INT64_MIN


typedef struct {
    char               *category;       /* exact category name */
    float               weight;         /* added to relevance, may be < 0 */
} recsys_boost_t;


/* one profile of "ranking.profiles"; strings and boosts are malloc'ed */
typedef struct {
    char               *name;
    uint32_t            candidates;     /* 1..16384, default 200 */
    float               w_similarity;   /* >= 0, default 1 */
    float               w_popularity;   /* >= 0, default 0 */
    float               w_freshness;    /* >= 0, default 0 */
    int                 popularity;     /* RECSYS_POP_*, default log */
    char               *freshness_field; /* attribute name, NULL: none */
    uint64_t            half_life;      /* seconds, > 0 when field set */
    recsys_boost_t     *boosts;
    uint32_t            nboosts;
    float               mmr_lambda;     /* 0..1; RECSYS_RANK_MMR_OFF */
} recsys_profile_t;


/* "ranking:"; owns its profiles */
typedef struct {
    recsys_profile_t   *profiles;
    uint32_t            nprofiles;
    int32_t             dflt;           /* ranking.default, -1: plain */
    float               negative_weight; /* 0 <= w < 1, default 0.5 */
    uint32_t            max_batch;      /* queries per batch, default 64 */
} recsys_ranking_conf_t;


/*
 * One candidate of an answer.  The caller fills row, id, vector and the
 * normalised signals; recsys_rank_select() sets relevance, penalty and
 * score.  Parts are double so that explain adds up to the score.
 */
typedef struct {
    uint32_t            row;
    const char         *id;             /* ties: id ascending, bytewise */
    size_t              id_len;
    const float        *vector;         /* dimension floats, MMR/because */
    double              similarity;     /* s in [0, 1] */
    double              popularity;     /* p in [0, 1] */
    double              freshness;      /* f in [0, 1] */
    double              boost;          /* b: sum of matching boosts */
    double              relevance;      /* w_s s + w_p p + w_f f + b */
    double              maxsim;         /* MMR: max sim to those before */
    double              base;           /* MMR: the score but the penalty */
    double              score;
} recsys_cand_t;


/* the parts of a score: their sum is score */
typedef struct {
    double              similarity;
    double              popularity;
    double              freshness;
    double              boost;
    double              mmr_penalty;    /* <= 0 */
    double              score;
} recsys_explain_t;


typedef struct {
    uint32_t            index;          /* into the history array */
    double              similarity;     /* cosine */
} recsys_because_t;


/* defaults of a profile (name NULL) and of "ranking:" (no profiles) */
void recsys_profile_init(recsys_profile_t *p);
void recsys_ranking_conf_init(recsys_ranking_conf_t *rc);

/* frees every profile's strings and boosts, then the profiles */
void recsys_ranking_conf_free(recsys_ranking_conf_t *rc);

/* the profile named name[0..len), or -1 */
int64_t recsys_ranking_find(const recsys_ranking_conf_t *rc, const char *name,
    size_t len);

/*
 * The normalised signals, each in [0, 1] and 0 for non-finite input:
 *   similarity of a search score (recsys_search.h's: inner product for
 *   cosine and inner_product, minus the squared distance for l2):
 *     cosine (1 + ip) / 2, inner_product 1 / (1 + e^-ip), l2 1 / (1 + d);
 *   popularity, max_pop the catalog's largest, rank the number of items
 *   more popular than this one among n:
 *     log  log1p(pop) / log1p(max_pop), raw pop / max_pop (negative
 *     popularity counts as 0, max_pop <= 0 gives 0),
 *     rank 1 - rank / (n - 1) (1 for a catalog of one);
 *   freshness of timestamp t at now (seconds):
 *     2^(-max(0, now - t) / half_life), 0 when t is missing or
 *     half_life is 0.
 */
double recsys_rank_similarity(int metric, float score);
double recsys_rank_popularity(int mode, float pop, float max_pop,
    uint64_t rank, uint64_t n);
double recsys_rank_freshness(int64_t t, int64_t now, uint64_t half_life);

/*
 * The query of positive and negative examples (dimension floats each):
 * P and N are their means, each example scaled to unit length first under
 * cosine and the means too; the query is
 *   cosine, inner_product:  P - w N              (then unit length)
 *   l2:                     (P - w N) / (1 - w)  = P + w/(1-w) (P - N)
 * so that w = 0.5 ranks as Qdrant's average_vector, 2 P - N, under every
 * metric.  No negatives: P.  Returns 0, or -1 when there is no positive
 * or the query is zero or not finite (the caller falls back).
 */
int recsys_rank_query(int metric, uint32_t dimension,
    const float *const *pos, size_t npos, const float *const *neg,
    size_t nneg, float w, float *out);

/*
 * Orders c[0..n) into the answer and returns min(k, n): relevance from the
 * profile's weights, then, MMR off, by relevance; MMR on with lambda, each
 * pick maximises lambda r - (1 - lambda) maxsim, maxsim the largest
 * max(0, cosine) with the items picked before (0 for the first), and the
 * pick's score is that value (cosines of the vectors in float, fixed
 * order).  Ties: score desc, then id asc.  work holds
 * n doubles (MMR only; may be NULL otherwise).  c[0..k) are the answer in
 * order, the rest unordered.
 */
uint32_t recsys_rank_select(const recsys_profile_t *p, uint32_t dimension,
    recsys_cand_t *c, uint32_t n, uint32_t k, double *work);

/* the parts of c's score under p (after recsys_rank_select()) */
void recsys_rank_explain(const recsys_profile_t *p, const recsys_cand_t *c,
    recsys_explain_t *e);

/*
 * The (at most) top history items most similar (cosine) to item, best
 * first, ties by the history's order; returns how many were written.
 */
uint32_t recsys_rank_because(uint32_t dimension, const float *item,
    const float *const *history, size_t nhistory, uint32_t top,
    recsys_because_t *out);

/* cosine of a and b; 0 when either is zero or the result not finite */
double recsys_rank_cosine(uint32_t dimension, const float *a,
    const float *b);


#endif /* _RECSYS_RANK_H_INCLUDED_ */
