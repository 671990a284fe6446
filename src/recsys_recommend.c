/*
 * Ranking profiles over a mapped generation: what recsys_rank.c computes,
 * fed from items.bin and vectors.f32.  Only candidates are touched: the
 * cost grows with a profile's "candidates", not with the catalog.
 */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "recsys_recommend.h"
#include "recsys_time.h"


#define RECSYS_RECOMMEND_NUMBER_LEN  64

/* boosts looked up by category number; more are compared by name */
#define RECSYS_RECOMMEND_BOOSTS      64

/* seconds: far beyond any date, far within int64 */
#define RECSYS_RECOMMEND_TIME_MAX    1e15


static void recsys_recommend_prefetch(const recsys_generation_t *g,
    uint32_t row);
static uint64_t recsys_recommend_pop_rank(const recsys_items_t *items,
    float pop);
static double recsys_recommend_boost(const recsys_profile_t *p,
    const int64_t *boost_no, const recsys_item_t *it);
static const char *recsys_recommend_ws(const char *p, const char *end);
static const char *recsys_recommend_string(const char *p, const char *end);
static const char *recsys_recommend_skip(const char *p, const char *end);
static int64_t recsys_recommend_time_value(const char *p, const char *end);


int
recsys_recommend_query(const recsys_generation_t *g, const uint32_t *pos,
    size_t npos, const float *posvec, size_t nposvec, const uint32_t *neg,
    size_t nneg, float w, float *out)
{
    int            rc;
    size_t         i, n;
    uint32_t       dim;
    const float  **v;

    dim = g->manifest.dimension;

    if (npos + nposvec == 0) {
        return -1;
    }

    if (nposvec == 0 && nneg == 0) {
        recsys_history_vector(g, pos, npos, out);
        return 0;
    }

    v = malloc((npos + nposvec + nneg) * sizeof(float *));
    if (v == NULL) {
        return -1;
    }

    n = 0;

    for (i = 0; i < npos; i++) {
        if (pos[i] < g->items.count) {
            v[n++] = g->vectors + (size_t) pos[i] * dim;
        }
    }

    for (i = 0; i < nposvec; i++) {
        v[n++] = posvec + i * dim;
    }

    npos = n;

    for (i = 0; i < nneg; i++) {
        if (neg[i] < g->items.count) {
            v[n++] = g->vectors + (size_t) neg[i] * dim;
        }
    }

    rc = recsys_rank_query(g->manifest.metric, dim, v, npos, v + npos,
                           n - npos, w, out);

    free(v);

    return rc;
}


int
recsys_recommend_rank(const recsys_generation_t *g, const recsys_profile_t *p,
    int64_t now, const recsys_hit_t *hits, uint32_t n, uint32_t k,
    recsys_cand_t *c, double *work, uint32_t *nout)
{
    int             mmr;
    int64_t         t, boost_no[RECSYS_RECOMMEND_BOOSTS];
    uint32_t        i, dim;
    recsys_item_t   it, top;
    const float    *vectors;

    dim = g->manifest.dimension;
    vectors = g->vectors;

    top.popularity = 0;

    /* boosts by category number: no category string read per candidate */
    for (i = 0; i < p->nboosts && i < RECSYS_RECOMMEND_BOOSTS; i++) {
        boost_no[i] = recsys_items_category_find(&g->items,
                                                 p->boosts[i].category,
                                                 strlen(p->boosts[i].category));
    }

    if (g->items.count) {
        recsys_items_get(&g->items, g->items.popular[0], &top);
    }

    /*
     * Every candidate's record and vector (for MMR) asked for at once:
     * the cache and TLB misses of scattered rows overlap instead of
     * coming one after another (200 candidates: about half the time)
     */
    mmr = (p->mmr_lambda >= 0 && p->mmr_lambda < 1.0f);

    for (i = 0; i < n; i++) {
        recsys_items_prefetch(&g->items, hits[i].row, 0);

        if (mmr) {
            recsys_recommend_prefetch(g, hits[i].row);
        }
    }

    for (i = 0; i < n; i++) {
        recsys_items_get(&g->items, hits[i].row, &it);

        memset(&c[i], 0, sizeof(recsys_cand_t));
        c[i].row = hits[i].row;
        c[i].id = it.id;
        c[i].id_len = it.id_len;
        c[i].vector = vectors + (size_t) hits[i].row * dim;
        c[i].similarity = recsys_rank_similarity(g->manifest.metric,
                                                 hits[i].score);

        if (p->w_popularity > 0) {
            c[i].popularity = recsys_rank_popularity(p->popularity,
                                  it.popularity, top.popularity,
                                  p->popularity == RECSYS_POP_RANK
                                  ? recsys_recommend_pop_rank(&g->items,
                                                              it.popularity)
                                  : 0,
                                  g->items.count);
        }

        if (p->w_freshness > 0 && p->freshness_field && it.attributes) {
            t = recsys_recommend_timestamp(it.attributes, it.attributes_len,
                                           p->freshness_field);
            c[i].freshness = recsys_rank_freshness(t, now, p->half_life);
        }

        c[i].boost = recsys_recommend_boost(p, boost_no, &it);
    }

    *nout = recsys_rank_select(p, dim, c, n, k, work);

    return 0;
}


int64_t
recsys_recommend_timestamp(const char *attrs, size_t len, const char *field)
{
    size_t       flen, klen;
    const char  *p, *end, *key;

    flen = strlen(field);
    end = attrs + len;

    p = recsys_recommend_ws(attrs, end);
    if (p == end || *p != '{') {
        return RECSYS_FRESHNESS_MISSING;
    }

    p++;

    for ( ;; ) {
        p = recsys_recommend_ws(p, end);
        if (p == end || *p != '"') {
            return RECSYS_FRESHNESS_MISSING;
        }

        key = p + 1;
        p = recsys_recommend_string(p, end);
        if (p == NULL) {
            return RECSYS_FRESHNESS_MISSING;
        }

        /* a key written with escapes never matches: names are plain */
        klen = (size_t) (p - 1 - key);

        p = recsys_recommend_ws(p, end);
        if (p == end || *p != ':') {
            return RECSYS_FRESHNESS_MISSING;
        }

        p = recsys_recommend_ws(p + 1, end);

        if (klen == flen && memcmp(key, field, flen) == 0) {
            return recsys_recommend_time_value(p, end);
        }

        p = recsys_recommend_skip(p, end);
        if (p == NULL) {
            return RECSYS_FRESHNESS_MISSING;
        }

        p = recsys_recommend_ws(p, end);
        if (p == end || *p != ',') {
            return RECSYS_FRESHNESS_MISSING;
        }

        p++;
    }
}


/* the vector of row, which MMR reads */

static void
recsys_recommend_prefetch(const recsys_generation_t *g, uint32_t row)
{
    size_t       j, size;
    const char  *v;

    size = (size_t) g->manifest.dimension * sizeof(float);

    if (row >= g->items.count || size == 0) {
        return;
    }

    v = (const char *) (g->vectors + (size_t) row * g->manifest.dimension);

    for (j = 0; j < size; j += 64) {
        __builtin_prefetch(v + j);
    }

    __builtin_prefetch(v + size - 1);
}


/* items more popular than pop: popular[] is sorted by popularity desc */

static uint64_t
recsys_recommend_pop_rank(const recsys_items_t *items, float pop)
{
    uint64_t       lo, hi, mid;
    recsys_item_t  it;

    lo = 0;
    hi = items->count;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        recsys_items_get(items, items->popular[mid], &it);

        if (it.popularity > pop) {
            lo = mid + 1;

        } else {
            hi = mid;
        }
    }

    return lo;
}


static double
recsys_recommend_boost(const recsys_profile_t *p, const int64_t *boost_no,
    const recsys_item_t *it)
{
    double    b;
    size_t    len;
    uint32_t  i;

    b = 0;

    if (it->category == NULL) {
        return 0;
    }

    for (i = 0; i < p->nboosts; i++) {
        if (i < RECSYS_RECOMMEND_BOOSTS) {
            if (boost_no[i] >= 0
                && (int64_t) it->category_no == boost_no[i])
            {
                b += p->boosts[i].weight;
            }

            continue;
        }

        len = strlen(p->boosts[i].category);

        if (len == it->category_len
            && memcmp(p->boosts[i].category, it->category, len) == 0)
        {
            b += p->boosts[i].weight;
        }
    }

    return b;
}


static const char *
recsys_recommend_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    {
        p++;
    }

    return p;
}


/* p at an opening quote: just past the closing one, NULL if none */

static const char *
recsys_recommend_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '\\') {
            p++;
            continue;
        }

        if (*p == '"') {
            return p + 1;
        }
    }

    return NULL;
}


/* past one JSON value, nested ones included; NULL when it does not end */

static const char *
recsys_recommend_skip(const char *p, const char *end)
{
    size_t  depth;

    depth = 0;

    while (p < end) {
        if (*p == '"') {
            p = recsys_recommend_string(p, end);
            if (p == NULL) {
                return NULL;
            }

            if (depth == 0) {
                return p;
            }

            continue;
        }

        if (*p == '{' || *p == '[') {
            depth++;

        } else if (*p == '}' || *p == ']') {
            if (depth == 0) {
                return p;
            }

            if (--depth == 0) {
                return p + 1;
            }

        } else if (depth == 0 && (*p == ',' || *p == ' ' || *p == '\t'
                                  || *p == '\n' || *p == '\r'))
        {
            return p;
        }

        p++;
    }

    return depth ? NULL : p;
}


static int64_t
recsys_recommend_time_value(const char *p, const char *end)
{
    char         num[RECSYS_RECOMMEND_NUMBER_LEN];
    char        *e;
    double       d;
    size_t       n;
    int64_t      t;
    const char  *q;

    if (p < end && *p == '"') {
        q = recsys_recommend_string(p, end);

        if (q == NULL || recsys_time_parse(p + 1, (size_t) (q - p - 2), &t))
        {
            return RECSYS_FRESHNESS_MISSING;
        }

        return t;
    }

    for (n = 0; p + n < end && n < sizeof(num) - 1; n++) {
        if (!((p[n] >= '0' && p[n] <= '9') || p[n] == '-' || p[n] == '+'
              || p[n] == '.' || p[n] == 'e' || p[n] == 'E'))
        {
            break;
        }

        num[n] = p[n];
    }

    num[n] = '\0';

    if (n == 0) {
        return RECSYS_FRESHNESS_MISSING;
    }

    d = strtod(num, &e);

    if (*e != '\0' || !isfinite(d) || fabs(d) > RECSYS_RECOMMEND_TIME_MAX) {
        return RECSYS_FRESHNESS_MISSING;
    }

    return (int64_t) floor(d);
}
