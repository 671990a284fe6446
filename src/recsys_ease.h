/*
 * EASE (Steck 2019), the closed-form item-item model:
 *
 *     P = (X'X + lambda I)^-1,    B = I - P diag(1 / diag(P))
 *
 * i.e. B_ij = -P_ij / P_jj off the diagonal and B_ii = 0; a history's
 * score for item j is sum_{h in H} B_hj.  X is binary (1 per entry)
 * unless "weighted".  It needs the dense n x n Gram matrix in memory,
 * RECSYS_EASE_BYTES(n) = 8 n^2 bytes (16384 items: 2 GiB), and about
 * n^3 floating-point operations (a Cholesky factorisation and inverse
 * through LAPACK), so catalogs above max_items use item-kNN instead.
 * Runs LAPACK's threads: for the helper or recsys-build.
 */

#ifndef _RECSYS_EASE_H_INCLUDED_
#define _RECSYS_EASE_H_INCLUDED_


#include "recsys_interactions.h"


#define RECSYS_EASE_MAX_ITEMS   16384
#define RECSYS_EASE_BYTES(n)    ((uint64_t) (n) * (n) * sizeof(double))


typedef struct {
    double              lambda;         /* > 0 */
    int                 weighted;
    uint32_t            max_items;      /* 0: RECSYS_EASE_MAX_ITEMS */
    int                 threads;        /* < 1: every CPU */
} recsys_ease_conf_t;


/*
 * Dense B of m (nitems x nitems doubles, row-major: row h holds history
 * item h's weights) into *b, which the caller frees.  Returns 0, or -1
 * with err set (bad lambda, too many items, out of memory, LAPACK).
 */
int recsys_ease_train(const recsys_matrix_t *m, const recsys_ease_conf_t *c,
    double **b, char *err, size_t errlen);


#endif /* _RECSYS_EASE_H_INCLUDED_ */
