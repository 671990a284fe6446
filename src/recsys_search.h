/*
 * Query execution over a mapped generation: vector search through FAISS
 * with filters, exact fallback so results fill to k, popularity lists,
 * history averaging.  Pure C plus FAISS's C API: no nginx header.
 */

#ifndef _RECSYS_SEARCH_H_INCLUDED_
#define _RECSYS_SEARCH_H_INCLUDED_


#include "recsys_generation.h"


#define RECSYS_CATEGORY_ANY      -1
#define RECSYS_CATEGORY_NONE     -2     /* asked for an unknown category */


typedef struct {
    uint32_t            k;
    const uint32_t     *exclude;        /* rows never returned */
    size_t              nexclude;
    int64_t             category;       /* category_no or RECSYS_CATEGORY_* */
} recsys_filter_t;


typedef struct {
    uint32_t            row;
    float               score;          /* higher is better */
} recsys_hit_t;


/*
 * The score of b for query a (dim floats), higher is better: the inner
 * product, or under l2 minus the squared distance; four partial sums, the
 * one kernel of the exact scan and of recsys-recall's ground truth.
 */
static inline float
recsys_vector_score(const float *a, const float *b, uint32_t dim, int l2)
{
    float     s0, s1, s2, s3, d0, d1, d2, d3;
    uint32_t  i;

    s0 = 0;
    s1 = 0;
    s2 = 0;
    s3 = 0;

    if (l2) {
        for (i = 0; i + 4 <= dim; i += 4) {
            d0 = a[i] - b[i];
            d1 = a[i + 1] - b[i + 1];
            d2 = a[i + 2] - b[i + 2];
            d3 = a[i + 3] - b[i + 3];
            s0 += d0 * d0;
            s1 += d1 * d1;
            s2 += d2 * d2;
            s3 += d3 * d3;
        }

        for ( /* void */ ; i < dim; i++) {
            d0 = a[i] - b[i];
            s0 += d0 * d0;
        }

        return -((s0 + s1) + (s2 + s3));
    }

    for (i = 0; i + 4 <= dim; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }

    for ( /* void */ ; i < dim; i++) {
        s0 += a[i] * b[i];
    }

    return (s0 + s1) + (s2 + s3);
}


/*
 * Nearest items to query (dimension floats; normalized by the callee for
 * the cosine metric, so it may be modified).  Fills out[0..*nout) with at
 * most f->k hits sorted by score desc, ties by id asc; exactly k when at
 * least k items pass the filter.  Scores: inner product for inner_product
 * and cosine, negative squared distance for l2.  Returns 0, or -1 on FAISS
 * or allocation failure.
 */
int recsys_search_vector(const recsys_generation_t *g, float *query,
    const recsys_filter_t *f, recsys_hit_t *out, uint32_t *nout);

/*
 * The IVF lists of n queries (n x dimension floats, normalized here for
 * the cosine metric as recsys_search_vector() does) found in one FAISS
 * call, for recsys_search_vector_lists(); an index that is not IVF gets
 * nprobe 0 and no call.  Returns 0, or -1 on FAISS or allocation
 * failure.  Free with recsys_search_lists_free().
 */
typedef struct {
    size_t              nprobe;
    int64_t            *assign;         /* n x nprobe lists, best first */
    float              *cdist;          /* their coarse distances */
} recsys_lists_t;

int recsys_search_lists(const recsys_generation_t *g, float *queries,
    size_t n, recsys_lists_t *lists);

void recsys_search_lists_free(recsys_lists_t *lists);

/*
 * recsys_search_vector() of query i of recsys_search_lists(), the lists
 * not searched again: the same hits, one FAISS call less
 */
int recsys_search_vector_lists(const recsys_generation_t *g,
    const float *query, const recsys_lists_t *lists, size_t i,
    const recsys_filter_t *f, recsys_hit_t *out, uint32_t *nout);

/* items nearest to item "row", the item itself excluded */
int recsys_search_similar(const recsys_generation_t *g, uint32_t row,
    const recsys_filter_t *f, recsys_hit_t *out, uint32_t *nout);

/*
 * Answers a similar query from the generation's precomputed neighbors
 * when they hold the answer: returns 1 with out filled exactly as
 * recsys_search_similar() would, 0 when a live search must answer, -1 on
 * allocation failure.
 */
int recsys_search_neighbors(const recsys_generation_t *g, uint32_t row,
    const recsys_filter_t *f, recsys_hit_t *out, uint32_t *nout);

/*
 * Computes the neighbors of every row of g with the live search path:
 * rows and scores are count x m, padded with RECSYS_NEIGHBORS_END or _CUT.
 * Runs on "threads" threads.  Returns 0, or -1 with err set.
 */
int recsys_neighbors_compute(const recsys_generation_t *g, uint32_t m,
    int threads, int32_t *rows, float *scores, char *err, size_t errlen);

/*
 * Runs "searches" similar searches over rows spread across g, so that the
 * first request on a new generation does not pay for the first ones.
 * Returns how many succeeded.
 */
uint32_t recsys_search_warm(const recsys_generation_t *g, uint32_t searches);

/* most popular items passing the filter; score is the popularity */
int recsys_search_popular(const recsys_generation_t *g,
    const recsys_filter_t *f, recsys_hit_t *out, uint32_t *nout);

/* mean of the vectors of rows[0..n) into out (dimension floats) */
void recsys_history_vector(const recsys_generation_t *g,
    const uint32_t *rows, size_t n, float *out);

/* scales v to unit length; leaves a zero vector as it is */
void recsys_normalize(float *v, uint32_t dimension);

/*
 * FAISS calls made by this process (a coarse quantizer search, a scan of
 * the probed lists, or a search of a non-IVF index each count one): what
 * a request costs, for the tests
 */
extern uint64_t  recsys_search_faiss_calls;

/*
 * 1 when every score of hits[0..n) is finite; else an overflow of float
 * scores (huge vectors under l2 or inner_product) that no answer may show
 */
int recsys_hits_finite(const recsys_hit_t *hits, uint32_t n);


#endif /* _RECSYS_SEARCH_H_INCLUDED_ */
