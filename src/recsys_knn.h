/*
 * Item-kNN: each item's m most similar items by cosine over the users'
 * interactions, with an optional shrinkage h that damps similarities
 * resting on few common users:
 *
 *     sim(i, j) = x_i . x_j / (|x_i| |x_j| + h)
 *
 * x_i being item i's column of the matrix, binary (1 per entry) unless
 * "weighted".  The cost is sum over users of their entry count squared,
 * with O(items) memory per thread, so it scales to catalogs EASE cannot
 * hold.  Runs on threads: for the helper or recsys-build.
 */

#ifndef _RECSYS_KNN_H_INCLUDED_
#define _RECSYS_KNN_H_INCLUDED_


#include "recsys_interactions.h"
#include "recsys_itemsim.h"


#define RECSYS_KNN_MAX_NEIGHBOURS  10000


typedef struct {
    uint32_t            neighbours;     /* m */
    double              shrink;         /* h >= 0 */
    int                 weighted;
    int                 threads;        /* < 1: every CPU */
} recsys_knn_conf_t;


/* Returns 0, or -1 with err set; on failure out holds nothing */
int recsys_knn_train(const recsys_matrix_t *m, const recsys_knn_conf_t *c,
    recsys_itemsim_t *out, char *err, size_t errlen);


#endif /* _RECSYS_KNN_H_INCLUDED_ */
