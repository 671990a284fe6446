/*
 * EASE: the Gram matrix row by row (row i from item i's users, so rows
 * are written by one thread each), lambda on the diagonal, LAPACK's
 * dpotrf + dpotri in place, then B from P.  LAPACK is column-major; the
 * matrix is symmetric, so only the triangle it fills needs mirroring.
 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recsys_blas.h"
#include "recsys_ease.h"
#include "recsys_parallel.h"


#define RECSYS_EASE_CHUNK   16

/* LAPACK's 32-bit index arithmetic: n^2 must stay below 2^31 */
#define RECSYS_EASE_LAPACK_MAX   46340


typedef struct {
    const recsys_matrix_t  *m;
    int                     weighted;
    double                 *g;
} recsys_ease_job_t;


static void recsys_ease_gram_rows(void *data, uint64_t begin, uint64_t end,
    unsigned worker);


int
recsys_ease_train(const recsys_matrix_t *m, const recsys_ease_conf_t *c,
    double **b, char *err, size_t errlen)
{
    int                n, info;
    double            *g, *diag;
    size_t             i, j, nn;
    uint32_t           max;
    unsigned           t;
    recsys_ease_job_t  job;

    *b = NULL;
    max = c->max_items ? c->max_items : RECSYS_EASE_MAX_ITEMS;

    if (!(c->lambda > 0) || !isfinite(c->lambda)) {
        snprintf(err, errlen, "ease: lambda must be > 0, not %g", c->lambda);
        return -1;
    }

    if (m->nitems == 0) {
        snprintf(err, errlen, "ease: no items");
        return -1;
    }

    if (m->nitems > max || m->nitems > RECSYS_EASE_LAPACK_MAX) {
        snprintf(err, errlen, "ease: %u items are over its limit of %u "
                 "(%.1f GiB); use item-kNN", m->nitems, max,
                 (double) RECSYS_EASE_BYTES(m->nitems) / (1 << 30));
        return -1;
    }

    n = (int) m->nitems;
    nn = (size_t) n * n;
    t = recsys_parallel_threads(c->threads);

    g = calloc(nn, sizeof(double));
    diag = malloc((size_t) n * sizeof(double));

    if (g == NULL || diag == NULL) {
        free(g);
        free(diag);
        snprintf(err, errlen, "ease: out of memory for %u x %u items "
                 "(%.1f GiB)", m->nitems, m->nitems,
                 (double) RECSYS_EASE_BYTES(m->nitems) / (1 << 30));
        return -1;
    }

    job.m = m;
    job.weighted = c->weighted;
    job.g = g;

    recsys_parallel_for(m->nitems, RECSYS_EASE_CHUNK, t,
                        recsys_ease_gram_rows, &job);

    for (i = 0; i < (size_t) n; i++) {
        g[i * n + i] += c->lambda;
    }

    recsys_blas_threads((int) t);

    dpotrf_("L", &n, g, &n, &info, 1);

    if (info == 0) {
        dpotri_("L", &n, g, &n, &info, 1);
    }

    if (info != 0) {
        free(g);
        free(diag);
        snprintf(err, errlen, "ease: LAPACK inverse failed (info %d)", info);
        return -1;
    }

    /* column-major lower = row-major upper: mirror it down */

    for (i = 0; i < (size_t) n; i++) {
        for (j = 0; j < i; j++) {
            g[i * n + j] = g[j * n + i];
        }

        diag[i] = g[i * n + i];
    }

    for (i = 0; i < (size_t) n; i++) {
        for (j = 0; j < (size_t) n; j++) {
            g[i * n + j] = i == j ? 0.0 : -g[i * n + j] / diag[j];
        }
    }

    free(diag);
    *b = g;

    return 0;
}


static void
recsys_ease_gram_rows(void *data, uint64_t begin, uint64_t end,
    unsigned worker)
{
    double                 *row, wi;
    uint32_t                u;
    uint64_t                i, e, f;
    recsys_ease_job_t      *job = data;
    const recsys_matrix_t  *m = job->m;

    for (i = begin; i < end; i++) {
        row = job->g + i * m->nitems;

        for (e = m->item_ptr[i]; e < m->item_ptr[i + 1]; e++) {
            u = m->item_users[e];
            wi = job->weighted ? m->item_weights[e] : 1.0;

            for (f = m->user_ptr[u]; f < m->user_ptr[u + 1]; f++) {
                row[m->user_items[f]] += job->weighted
                                         ? wi * m->user_weights[f] : wi;
            }
        }
    }

    (void) worker;
}
