/*
 * Ranking arithmetic over plain arrays: what a profile does to candidates
 * once they are retrieved.  Everything is computed in double from the
 * stored floats, so that the explain parts add up to the score and the
 * order does not depend on the order of the candidates.
 */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "recsys_artifact.h"
#include "recsys_rank.h"


static int recsys_rank_parts(const recsys_profile_t *p,
    const recsys_cand_t *c, recsys_explain_t *e);
static double recsys_rank_lambda(const recsys_profile_t *p);
static int recsys_rank_before(const recsys_cand_t *a, double sa,
    const recsys_cand_t *b, double sb);
static int recsys_rank_cmp(const void *a, const void *b);
static double recsys_rank_norm(uint32_t dimension, const float *v);
static double recsys_rank_dot(uint32_t dimension, const float *a,
    const float *b);
static double recsys_rank_dotf(uint32_t dimension, const float *a,
    const float *b);
static int recsys_rank_mean(int metric, uint32_t dimension,
    const float *const *v, size_t n, double *out);


void
recsys_profile_init(recsys_profile_t *p)
{
    memset(p, 0, sizeof(recsys_profile_t));

    p->candidates = RECSYS_RANK_CANDIDATES;
    p->w_similarity = 1.0f;
    p->popularity = RECSYS_POP_LOG;
    p->mmr_lambda = RECSYS_RANK_MMR_OFF;
}


void
recsys_ranking_conf_init(recsys_ranking_conf_t *rc)
{
    memset(rc, 0, sizeof(recsys_ranking_conf_t));

    rc->dflt = -1;
    rc->negative_weight = RECSYS_RANK_NEGATIVE_WEIGHT;
    rc->max_batch = RECSYS_RANK_MAX_BATCH;
}


void
recsys_ranking_conf_free(recsys_ranking_conf_t *rc)
{
    uint32_t           i, j;
    recsys_profile_t  *p;

    if (rc->profiles) {
        for (i = 0; i < rc->nprofiles; i++) {
            p = &rc->profiles[i];

            for (j = 0; j < p->nboosts; j++) {
                free(p->boosts[j].category);
            }

            free(p->boosts);
            free(p->freshness_field);
            free(p->name);
        }

        free(rc->profiles);
    }

    rc->profiles = NULL;
    rc->nprofiles = 0;
    rc->dflt = -1;
}


int64_t
recsys_ranking_find(const recsys_ranking_conf_t *rc, const char *name,
    size_t len)
{
    uint32_t  i;

    for (i = 0; i < rc->nprofiles; i++) {
        if (rc->profiles[i].name
            && strlen(rc->profiles[i].name) == len
            && memcmp(rc->profiles[i].name, name, len) == 0)
        {
            return i;
        }
    }

    return -1;
}


double
recsys_rank_similarity(int metric, float score)
{
    double  s;

    if (!isfinite(score)) {
        return 0.0;
    }

    switch (metric) {

    case RECSYS_METRIC_COSINE:
        s = (1.0 + score) / 2.0;
        break;

    case RECSYS_METRIC_L2:
        s = 1.0 / (1.0 + sqrt(score < 0 ? -(double) score : 0.0));
        break;

    default:
        s = 1.0 / (1.0 + exp(-(double) score));
    }

    if (!(s > 0.0)) {
        return 0.0;
    }

    return s < 1.0 ? s : 1.0;
}


double
recsys_rank_popularity(int mode, float pop, float max_pop, uint64_t rank,
    uint64_t n)
{
    double  v;

    if (mode == RECSYS_POP_RANK) {
        if (n == 0 || rank >= n) {
            return 0.0;
        }

        return n == 1 ? 1.0 : 1.0 - (double) rank / (double) (n - 1);
    }

    if (!isfinite(pop) || !isfinite(max_pop) || !(max_pop > 0) || !(pop > 0))
    {
        return 0.0;
    }

    if (mode == RECSYS_POP_RAW) {
        v = (double) pop / max_pop;

    } else {
        v = log1p((double) pop) / log1p((double) max_pop);
    }

    if (!(v > 0.0)) {
        return 0.0;
    }

    return v < 1.0 ? v : 1.0;
}


double
recsys_rank_freshness(int64_t t, int64_t now, uint64_t half_life)
{
    double  age;

    if (t == RECSYS_FRESHNESS_MISSING || half_life == 0) {
        return 0.0;
    }

    /* in double: now - t of two int64 may overflow */
    age = (double) now - (double) t;

    if (age <= 0) {
        return 1.0;
    }

    return exp2(-age / (double) half_life);
}


int
recsys_rank_query(int metric, uint32_t dimension, const float *const *pos,
    size_t npos, const float *const *neg, size_t nneg, float w, float *out)
{
    int       rc;
    double   *p, *n, scale, sum, v;
    uint32_t  j;

    if (npos == 0 || dimension == 0 || !isfinite(w) || w < 0
        || (metric == RECSYS_METRIC_L2 && nneg && w >= 1))
    {
        return -1;
    }

    p = malloc(2 * (size_t) dimension * sizeof(double));
    if (p == NULL) {
        return -1;
    }

    n = p + dimension;

    rc = recsys_rank_mean(metric, dimension, pos, npos, p);

    if (rc == 0 && nneg) {
        rc = recsys_rank_mean(metric, dimension, neg, nneg, n);

    } else {
        memset(n, 0, (size_t) dimension * sizeof(double));
    }

    if (rc != 0) {
        free(p);
        return -1;
    }

    scale = (metric == RECSYS_METRIC_L2 && nneg) ? 1.0 / (1.0 - w) : 1.0;
    sum = 0;

    for (j = 0; j < dimension; j++) {
        v = (p[j] - w * n[j]) * scale;
        p[j] = v;
        sum += v * v;
    }

    if (!(sum > 0) || !isfinite(sum)) {
        free(p);
        return -1;
    }

    scale = (metric == RECSYS_METRIC_COSINE) ? 1.0 / sqrt(sum) : 1.0;

    for (j = 0; j < dimension; j++) {
        out[j] = (float) (p[j] * scale);

        if (!isfinite(out[j])) {
            free(p);
            return -1;
        }
    }

    free(p);

    return 0;
}


uint32_t
recsys_rank_select(const recsys_profile_t *p, uint32_t dimension,
    recsys_cand_t *c, uint32_t n, uint32_t k, double *work)
{
    double            lambda, best, sim, d, tn;
    uint32_t          i, t, b;
    recsys_cand_t     tmp;
    recsys_explain_t  e;

    if (k > n) {
        k = n;
    }

    for (i = 0; i < n; i++) {
        c[i].relevance = (double) p->w_similarity * c[i].similarity
                         + (double) p->w_popularity * c[i].popularity
                         + (double) p->w_freshness * c[i].freshness
                         + c[i].boost;
        c[i].maxsim = 0;
    }

    if (p->mmr_lambda < 0 || work == NULL) {
        for (i = 0; i < n; i++) {
            recsys_rank_parts(p, &c[i], &e);
            c[i].score = e.score;
        }

        qsort(c, n, sizeof(recsys_cand_t), recsys_rank_cmp);
        return k;
    }

    lambda = recsys_rank_lambda(p);

    /*
     * The parts but the penalty once: base + penalty is the sum
     * recsys_rank_parts() makes, in its order, so picks and explain agree;
     * NaN base: parts that are not finite, a score of 0 whatever the
     * penalty, as recsys_rank_parts() says
     */
    for (i = 0; i < n; i++) {
        d = c[i].vector
            ? sqrt(recsys_rank_dotf(dimension, c[i].vector, c[i].vector))
            : 0;
        work[i] = (d > 0 && isfinite(d)) ? 1.0 / d : 0;    /* 0: none */
        c[i].base = recsys_rank_parts(p, &c[i], &e) ? e.score : NAN;
    }

    for (t = 0; t < k; t++) {
        b = t;
        best = 0;

        for (i = t; i < n; i++) {
            if (isnan(c[i].base)) {
                c[i].score = 0;

            } else {
                c[i].score = c[i].base
                             + ((lambda < 1.0 && c[i].maxsim > 0)
                                ? -((1.0 - lambda) * c[i].maxsim) : 0.0);
            }

            if (i == t
                || recsys_rank_before(&c[i], c[i].score, &c[b], best))
            {
                b = i;
                best = c[i].score;
            }
        }

        if (b != t) {
            tmp = c[t];
            c[t] = c[b];
            c[b] = tmp;

            d = work[t];
            work[t] = work[b];
            work[b] = d;
        }

        if (lambda >= 1.0 || t + 1 == k) {
            continue;
        }

        tn = work[t];

        for (i = t + 1; i < n; i++) {
            if (tn == 0 || work[i] == 0) {
                continue;
            }

            sim = recsys_rank_dotf(dimension, c[i].vector, c[t].vector)
                  * tn * work[i];

            if (isfinite(sim) && sim > c[i].maxsim) {
                c[i].maxsim = sim < 1.0 ? sim : 1.0;
            }
        }
    }

    /* the rest, by what a next pick would have scored */
    for (i = k; i < n; i++) {
        recsys_rank_parts(p, &c[i], &e);
        c[i].score = e.score;
    }

    return k;
}


void
recsys_rank_explain(const recsys_profile_t *p, const recsys_cand_t *c,
    recsys_explain_t *e)
{
    recsys_rank_parts(p, c, e);
}


uint32_t
recsys_rank_because(uint32_t dimension, const float *item,
    const float *const *history, size_t nhistory, uint32_t top,
    recsys_because_t *out)
{
    size_t    i;
    double    sim;
    uint32_t  n, j;

    n = 0;

    for (i = 0; i < nhistory && top; i++) {
        sim = recsys_rank_cosine(dimension, item, history[i]);

        if (n == top && !(sim > out[n - 1].similarity)) {
            continue;
        }

        j = (n < top) ? n++ : n - 1;

        while (j > 0 && sim > out[j - 1].similarity) {
            out[j] = out[j - 1];
            j--;
        }

        out[j].index = (uint32_t) i;
        out[j].similarity = sim;
    }

    return n;
}


double
recsys_rank_cosine(uint32_t dimension, const float *a, const float *b)
{
    double  na, nb, v;

    if (a == NULL || b == NULL) {
        return 0.0;
    }

    na = recsys_rank_norm(dimension, a);
    nb = recsys_rank_norm(dimension, b);

    if (na == 0 || nb == 0) {
        return 0.0;
    }

    v = recsys_rank_dot(dimension, a, b) / (na * nb);

    if (!isfinite(v)) {
        return 0.0;
    }

    return v > 1.0 ? 1.0 : (v < -1.0 ? -1.0 : v);
}


/* one order of summation for select and explain: they agree exactly */

static int
recsys_rank_parts(const recsys_profile_t *p, const recsys_cand_t *c,
    recsys_explain_t *e)
{
    double  lambda;

    lambda = recsys_rank_lambda(p);

    e->similarity = lambda * ((double) p->w_similarity * c->similarity);
    e->popularity = lambda * ((double) p->w_popularity * c->popularity);
    e->freshness = lambda * ((double) p->w_freshness * c->freshness);
    e->boost = lambda * c->boost;
    /* no -0 in an answer: no penalty is 0 (select() repeats this) */
    e->mmr_penalty = (lambda < 1.0 && c->maxsim > 0)
                     ? -((1.0 - lambda) * c->maxsim) : 0.0;

    e->score = e->similarity + e->popularity + e->freshness + e->boost
               + e->mmr_penalty;

    if (!isfinite(e->score)) {
        e->similarity = 0;
        e->popularity = 0;
        e->freshness = 0;
        e->boost = 0;
        e->mmr_penalty = 0;
        e->score = 0;

        return 0;
    }

    return 1;
}


static double
recsys_rank_lambda(const recsys_profile_t *p)
{
    if (!(p->mmr_lambda >= 0)) {
        return 1.0;
    }

    return p->mmr_lambda < 1.0f ? (double) p->mmr_lambda : 1.0;
}


/* a ranks before b: higher score, or the same score and a smaller id */

static int
recsys_rank_before(const recsys_cand_t *a, double sa, const recsys_cand_t *b,
    double sb)
{
    int     rc;
    size_t  len;

    if (sa != sb) {
        return sa > sb;
    }

    len = a->id_len < b->id_len ? a->id_len : b->id_len;

    rc = len ? memcmp(a->id, b->id, len) : 0;
    if (rc != 0) {
        return rc < 0;
    }

    if (a->id_len != b->id_len) {
        return a->id_len < b->id_len;
    }

    return a->row < b->row;
}


static int
recsys_rank_cmp(const void *a, const void *b)
{
    const recsys_cand_t  *x, *y;

    x = a;
    y = b;

    if (recsys_rank_before(x, x->score, y, y->score)) {
        return -1;
    }

    return recsys_rank_before(y, y->score, x, x->score);
}


static double
recsys_rank_norm(uint32_t dimension, const float *v)
{
    double  n;

    if (v == NULL) {
        return 0.0;
    }

    n = sqrt(recsys_rank_dot(dimension, v, v));

    return isfinite(n) ? n : 0.0;
}


static double
recsys_rank_dot(uint32_t dimension, const float *a, const float *b)
{
    double    s0, s1;
    uint32_t  i;

    s0 = 0;
    s1 = 0;

    for (i = 0; i + 2 <= dimension; i += 2) {
        s0 += (double) a[i] * b[i];
        s1 += (double) a[i + 1] * b[i + 1];
    }

    if (i < dimension) {
        s0 += (double) a[i] * b[i];
    }

    return s0 + s1;
}


/* mean of v[0..n) into out; under cosine of unit vectors, then unit */

static int
recsys_rank_mean(int metric, uint32_t dimension, const float *const *v,
    size_t n, double *out)
{
    size_t    i, used;
    double    norm, sum;
    uint32_t  j;

    memset(out, 0, (size_t) dimension * sizeof(double));
    used = 0;

    for (i = 0; i < n; i++) {
        if (v[i] == NULL) {
            continue;
        }

        norm = 1.0;

        if (metric == RECSYS_METRIC_COSINE) {
            norm = recsys_rank_norm(dimension, v[i]);
            if (norm == 0) {
                continue;
            }
        }

        for (j = 0; j < dimension; j++) {
            out[j] += v[i][j] / norm;
        }

        used++;
    }

    if (used == 0) {
        return -1;
    }

    sum = 0;

    for (j = 0; j < dimension; j++) {
        out[j] /= (double) used;
        sum += out[j] * out[j];
    }

    if (!isfinite(sum)) {
        return -1;
    }

    if (metric == RECSYS_METRIC_COSINE) {
        if (sum == 0) {
            return -1;
        }

        norm = sqrt(sum);

        for (j = 0; j < dimension; j++) {
            out[j] /= norm;
        }
    }

    return 0;
}


/*
 * MMR's cosines: k x candidates of them per request.  Float products in
 * two registers of four sums (GCC vector extensions: SSE on any x86-64),
 * added in a fixed order: the same vectors always give the same value.
 */

typedef float  recsys_rank_v4_t __attribute__((vector_size(16)));

static double
recsys_rank_dotf(uint32_t dimension, const float *a, const float *b)
{
    float             s;
    uint32_t          i;
    recsys_rank_v4_t  s0, s1, x0, x1, y0, y1;

    s0 = (recsys_rank_v4_t) { 0, 0, 0, 0 };
    s1 = s0;

    for (i = 0; i + 8 <= dimension; i += 8) {
        memcpy(&x0, a + i, sizeof(x0));
        memcpy(&x1, a + i + 4, sizeof(x1));
        memcpy(&y0, b + i, sizeof(y0));
        memcpy(&y1, b + i + 4, sizeof(y1));
        s0 += x0 * y0;
        s1 += x1 * y1;
    }

    s0 += s1;
    s = (s0[0] + s0[1]) + (s0[2] + s0[3]);

    for ( /* void */ ; i < dimension; i++) {
        s += a[i] * b[i];
    }

    return (double) s;
}
