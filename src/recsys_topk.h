/*
 * Bounded top-k selection over (row, score) pairs, best first: score
 * descending, row ascending on ties, so results are deterministic.  Also
 * the brute-force scorer of a query vector against dense row vectors
 * (user vectors against item vectors) used by evaluation.
 */

#ifndef _RECSYS_TOPK_H_INCLUDED_
#define _RECSYS_TOPK_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


typedef struct {
    uint32_t            row;
    float               score;
} recsys_scored_t;


/* a heap over a caller's buffer of k entries; its worst entry at the root */
typedef struct {
    recsys_scored_t    *heap;
    uint32_t            k;
    uint32_t            n;
} recsys_topk_t;


void recsys_topk_init(recsys_topk_t *t, recsys_scored_t *buf, uint32_t k);

/* offers one candidate; a NaN score is never kept */
void recsys_topk_push(recsys_topk_t *t, uint32_t row, float score);

/* would (row, score) enter the heap now? */
int recsys_topk_accepts(const recsys_topk_t *t, uint32_t row, float score);

/* sorts the buffer best first; returns the number of entries */
uint32_t recsys_topk_sort(recsys_topk_t *t);

/*
 * The k rows r of m (n x d floats, row-major) with the largest q . m[r],
 * rows listed in exclude (ascending) skipped; out holds k entries.
 * Returns the number found.
 */
uint32_t recsys_topk_dot(const float *m, uint32_t n, uint32_t d,
    const float *q, const uint32_t *exclude, size_t nexclude, uint32_t k,
    recsys_scored_t *out);


#endif /* _RECSYS_TOPK_H_INCLUDED_ */
