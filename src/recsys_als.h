/*
 * Implicit-feedback matrix factorisation by alternating least squares
 * (Hu, Koren, Volinsky 2008).  An entry of weight w gives preference 1
 * and confidence c = 1 + alpha * w; every other pair preference 0 and
 * confidence 1.  ALS minimises
 *
 *     sum_{u,i} c_ui (p_ui - x_u . y_i)^2
 *         + sum_u lambda_u |x_u|^2 + sum_i lambda_i |y_i|^2
 *
 * solving each user's x_u exactly with the items fixed (a Cholesky solve
 * of (Y'Y + Y'(C_u - I)Y + lambda_u I) x_u = Y'C_u p_u, with Y'Y computed
 * once per sweep), then each item's y_i with the users fixed.
 *
 * The regularisation of a row is frequency-scaled (Rendle et al. 2021,
 * "Revisiting the performance of iALS"): lambda_u = lambda * s_u^nu,
 * s_u = sum_i c_ui = n_items + alpha * sum_i w_ui the row's total
 * confidence over all its pairs (items' rows alike over the users).
 * nu = 0 is the plain lambda of Hu et al.; nu = 1 makes lambda a weight
 * per unit of loss, so heavy and light rows are shrunk alike.
 *
 * Item factors start as 0.1 * (U - 0.5), U uniform on [0, 1) drawn from
 * splitmix64 seeded with "seed" in row-major order; users are solved
 * first, so their start does not matter.  Same input, seed and factors:
 * same model, whatever the thread count.  Runs on threads in the calling
 * process: for the helper or recsys-build, never a worker.
 */

#ifndef _RECSYS_ALS_H_INCLUDED_
#define _RECSYS_ALS_H_INCLUDED_


#include "recsys_interactions.h"


#define RECSYS_ALS_MAX_FACTORS     1024
#define RECSYS_ALS_MAX_ITERATIONS  1000
#define RECSYS_ALS_MAX_NU          2


typedef struct {
    uint32_t            factors;
    uint32_t            iterations;
    double              lambda;         /* > 0 */
    double              alpha;          /* >= 0 */
    double              nu;             /* 0 .. RECSYS_ALS_MAX_NU */
    uint64_t            seed;
    int                 threads;        /* < 1: every CPU */
} recsys_als_conf_t;


typedef struct {
    uint32_t            nusers;
    uint32_t            nitems;
    uint32_t            factors;
    double              lambda;
    double              alpha;
    double              nu;
    float              *users;          /* nusers x factors */
    float              *items;          /* nitems x factors */
    double             *gram;           /* Y'Y of the final items, f x f */
    double              loss;           /* the objective at the end */
    uint64_t            failed;         /* solves that were not definite */
} recsys_als_model_t;


/*
 * Trains on m.  losses, when not NULL, receives the objective after each
 * iteration (it never increases).  Returns 0, or -1 with err set (bad
 * configuration, out of memory); on failure model holds nothing.
 */
int recsys_als_train(const recsys_matrix_t *m, const recsys_als_conf_t *c,
    recsys_als_model_t *model, double *losses, char *err, size_t errlen);

/*
 * The user vector a history of n items (weights, or NULL for 1 each)
 * gets from the trained items: one user step of the training.  Items out
 * of range are ignored.  Returns 0, or -1 when out of memory.
 */
int recsys_als_fold_in(const recsys_als_model_t *model,
    const uint32_t *items, const float *weights, size_t n, float *out);

void recsys_als_free(recsys_als_model_t *model);


#endif /* _RECSYS_ALS_H_INCLUDED_ */
