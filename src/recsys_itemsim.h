/*
 * A sparse item-item model: for each item r, at most m (item, weight)
 * pairs, best first (weight descending, or |weight| descending when
 * negative weights are kept; item ascending on ties).  EASE rows
 * sparsified to their top m and item-kNN neighbour lists share it.  A
 * history H is scored as the sum of its items' rows,
 *
 *     score(j) = sum_{h in H} w_h * row_h[j]
 *
 * with the history's own items excluded; only items with a positive
 * score are candidates, so a caller fills short lists from popularity.
 */

#ifndef _RECSYS_ITEMSIM_H_INCLUDED_
#define _RECSYS_ITEMSIM_H_INCLUDED_


#include "recsys_topk.h"


/*
 * itemsim.bin: a 32-byte header (RECSYS_ITEMSIM_MAGIC, version, nitems,
 * m, nnz as uint64, algorithm, reserved), then ptr[nitems + 1] as
 * uint64, cols[nnz] as uint32 and weights[nnz] as float32, rows in the
 * generation's item order.
 */
#define RECSYS_ITEMSIM_MAGIC       0x53495352u     /* "RSIS" */
#define RECSYS_ITEMSIM_VERSION     1
#define RECSYS_ITEMSIM_HEADER      32

#define RECSYS_ITEMSIM_LARGEST     0
#define RECSYS_ITEMSIM_MAGNITUDE   1


typedef struct {
    uint32_t            nitems;
    uint32_t            m;
    uint64_t           *ptr;            /* nitems + 1 */
    uint32_t           *cols;
    float              *weights;
} recsys_itemsim_t;


/* a scorer's workspace: one per thread, reused across histories */
typedef struct {
    uint32_t            nitems;
    float              *acc;
    uint8_t            *flag;
    uint32_t           *touched;
} recsys_itemsim_scorer_t;


/*
 * Room for nitems rows of up to m entries, set independently (by
 * several threads) with recsys_itemsim_set_row(), then packed once.
 */
int recsys_itemsim_alloc(recsys_itemsim_t *s, uint32_t nitems, uint32_t m);

/* row r := list[0..n), n <= m, already best first */
void recsys_itemsim_set_row(recsys_itemsim_t *s, uint32_t r,
    const recsys_scored_t *list, uint32_t n);

/* drops the unused room; every row not set is empty */
void recsys_itemsim_pack(recsys_itemsim_t *s);

/*
 * Rows of the dense n x n matrix b (row-major) cut to m off-diagonal
 * non-zero entries, on "threads" threads (< 1: every CPU): the largest
 * values (RECSYS_ITEMSIM_LARGEST, rows then best first) or the largest
 * magnitudes, negative weights included (RECSYS_ITEMSIM_MAGNITUDE, rows
 * by |weight| descending, item ascending), which keeps EASE's
 * penalties of items a history speaks against.
 */
int recsys_itemsim_from_dense(recsys_itemsim_t *s, const double *b,
    uint32_t n, uint32_t m, int keep, int threads);

void recsys_itemsim_free(recsys_itemsim_t *s);

int recsys_itemsim_scorer_init(recsys_itemsim_scorer_t *sc,
    uint32_t nitems);
void recsys_itemsim_scorer_free(recsys_itemsim_scorer_t *sc);

/*
 * The k best items for the history hist[0..nh) (weights hw, or NULL for
 * 1 each; items out of range are ignored) into out; returns how many.
 */
uint32_t recsys_itemsim_recommend(const recsys_itemsim_t *s,
    recsys_itemsim_scorer_t *sc, const uint32_t *hist, const float *hw,
    size_t nh, uint32_t k, recsys_scored_t *out);


/* writes s as itemsim.bin at path; algorithm is recorded as given */
int recsys_itemsim_write(const recsys_itemsim_t *s, uint32_t algorithm,
    const char *path, char *err, size_t errlen);

/*
 * s := a view of itemsim.bin mapped at base (never freed): the header
 * and the size checked against nitems, in O(1).  Returns 0, or -1 with
 * err set.
 */
int recsys_itemsim_view(recsys_itemsim_t *s, const void *base, size_t size,
    uint64_t nitems, uint32_t *algorithm, char *err, size_t errlen);

/* every row: offsets ascending to nnz, columns items, weights finite */
int recsys_itemsim_check(const recsys_itemsim_t *s, char *err,
    size_t errlen);


#endif /* _RECSYS_ITEMSIM_H_INCLUDED_ */
