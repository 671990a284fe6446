/*
 * Item-kNN: for item i, walk its users and their items, accumulating
 * co-occurrence dot products in a dense per-thread array (zero means
 * untouched: every weight is positive), then keep the m best.
 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recsys_knn.h"
#include "recsys_parallel.h"


#define RECSYS_KNN_CHUNK   64


typedef struct {
    const recsys_matrix_t  *m;
    const recsys_knn_conf_t  *c;
    recsys_itemsim_t       *out;
    double                 *norm;
    double                 *acc;        /* nitems per worker */
    uint32_t               *touched;    /* nitems per worker */
    recsys_scored_t        *list;       /* m per worker */
} recsys_knn_job_t;


static void recsys_knn_rows(void *data, uint64_t begin, uint64_t end,
    unsigned worker);


int
recsys_knn_train(const recsys_matrix_t *m, const recsys_knn_conf_t *c,
    recsys_itemsim_t *out, char *err, size_t errlen)
{
    double            v;
    size_t            n;
    uint32_t          i, nb;
    uint64_t          e;
    unsigned          t;
    recsys_knn_job_t  job;

    memset(out, 0, sizeof(recsys_itemsim_t));

    if (c->neighbours == 0 || c->neighbours > RECSYS_KNN_MAX_NEIGHBOURS) {
        snprintf(err, errlen, "knn: neighbours must be 1..%d, not %u",
                 RECSYS_KNN_MAX_NEIGHBOURS, c->neighbours);
        return -1;
    }

    if (!(c->shrink >= 0) || !isfinite(c->shrink)) {
        snprintf(err, errlen, "knn: shrink must be >= 0, not %g", c->shrink);
        return -1;
    }

    if (m->nitems == 0) {
        snprintf(err, errlen, "knn: no items");
        return -1;
    }

    nb = c->neighbours < m->nitems ? c->neighbours : m->nitems;
    t = recsys_parallel_threads(c->threads);
    n = m->nitems;

    job.m = m;
    job.c = c;
    job.out = out;
    job.norm = malloc(n * sizeof(double));
    job.acc = calloc(t * n, sizeof(double));
    job.touched = malloc(t * n * sizeof(uint32_t));
    job.list = malloc((size_t) t * nb * sizeof(recsys_scored_t));

    if (job.norm == NULL || job.acc == NULL || job.touched == NULL
        || job.list == NULL || recsys_itemsim_alloc(out, m->nitems, nb) != 0)
    {
        free(job.norm);
        free(job.acc);
        free(job.touched);
        free(job.list);
        snprintf(err, errlen, "knn: out of memory for %u items x %u",
                 m->nitems, nb);
        return -1;
    }

    for (i = 0; i < m->nitems; i++) {
        v = 0;

        for (e = m->item_ptr[i]; e < m->item_ptr[i + 1]; e++) {
            v += c->weighted ? (double) m->item_weights[e]
                               * m->item_weights[e]
                             : 1.0;
        }

        job.norm[i] = sqrt(v);
    }

    recsys_parallel_for(m->nitems, RECSYS_KNN_CHUNK, t, recsys_knn_rows,
                        &job);

    free(job.norm);
    free(job.acc);
    free(job.touched);
    free(job.list);

    recsys_itemsim_pack(out);

    return 0;
}


static void
recsys_knn_rows(void *data, uint64_t begin, uint64_t end, unsigned worker)
{
    double             *acc, wi, wj, s;
    uint32_t           *touched, ntouched, u, j, k;
    uint64_t            i, e, f;
    recsys_topk_t       t;
    recsys_knn_job_t   *job = data;
    const recsys_matrix_t  *m = job->m;

    acc = job->acc + (size_t) worker * m->nitems;
    touched = job->touched + (size_t) worker * m->nitems;

    for (i = begin; i < end; i++) {
        ntouched = 0;

        for (e = m->item_ptr[i]; e < m->item_ptr[i + 1]; e++) {
            u = m->item_users[e];
            wi = job->c->weighted ? m->item_weights[e] : 1.0;

            for (f = m->user_ptr[u]; f < m->user_ptr[u + 1]; f++) {
                j = m->user_items[f];

                if (j == i) {
                    continue;
                }

                wj = job->c->weighted ? m->user_weights[f] : 1.0;

                if (acc[j] == 0) {
                    touched[ntouched++] = j;
                }

                acc[j] += wi * wj;
            }
        }

        recsys_topk_init(&t, job->list + (size_t) worker * job->out->m,
                         job->out->m);

        for (k = 0; k < ntouched; k++) {
            j = touched[k];
            s = acc[j] / (job->norm[i] * job->norm[j] + job->c->shrink);
            acc[j] = 0;
            recsys_topk_push(&t, j, (float) s);
        }

        recsys_itemsim_set_row(job->out, (uint32_t) i, t.heap,
                               recsys_topk_sort(&t));
    }
}
