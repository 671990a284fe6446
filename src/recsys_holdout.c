/*
 * Hold-out split and ranking metrics.
 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recsys_holdout.h"
#include "recsys_parallel.h"
#include "recsys_rng.h"


#define RECSYS_HOLDOUT_CHUNK   8


typedef struct {
    int64_t             ts;
    uint32_t            item;
    uint32_t            pos;
} recsys_holdout_key_t;


typedef struct {
    const recsys_holdout_t       *test;
    const uint32_t               *users;
    uint32_t                      k;
    recsys_holdout_recommend_pt   fn;
    void                         *data;
    recsys_scored_t              *lists;        /* k per worker */
    double                       *recall;       /* per user */
    double                       *ndcg;
    uint8_t                      *counted;
} recsys_holdout_job_t;


static int recsys_holdout_cmp_u32(const void *a, const void *b);
static int recsys_holdout_cmp_recent(const void *a, const void *b);
static void recsys_holdout_recent(const recsys_matrix_t *m, uint32_t u,
    uint32_t *order, uint64_t n, recsys_holdout_key_t *keys);
static void recsys_holdout_users(void *data, uint64_t begin, uint64_t end,
    unsigned worker);


int
recsys_holdout_split(const recsys_matrix_t *m,
    const recsys_holdout_conf_t *c, recsys_event_t **train,
    uint64_t *ntrain, recsys_holdout_t *test, char *err, size_t errlen)
{
    uint32_t              *order, u, t;
    uint64_t               n, h, i, j, s, nt, ntest, base;
    recsys_event_t        *ev;
    recsys_holdout_key_t  *keys;

    memset(test, 0, sizeof(recsys_holdout_t));
    *train = NULL;
    *ntrain = 0;

    if (!(c->fraction > 0 && c->fraction < 1)) {
        snprintf(err, errlen, "holdout: fraction must be in (0, 1), not %g",
                 c->fraction);
        return -1;
    }

    if (c->min_entries < 2) {
        snprintf(err, errlen, "holdout: min_entries must be >= 2, not %u",
                 c->min_entries);
        return -1;
    }

    if (c->mode != RECSYS_HOLDOUT_RANDOM && c->mode != RECSYS_HOLDOUT_RECENT)
    {
        snprintf(err, errlen, "holdout: unknown mode %d", c->mode);
        return -1;
    }

    ev = malloc((m->nnz ? m->nnz : 1) * sizeof(recsys_event_t));
    order = malloc((m->nnz ? m->nnz : 1) * sizeof(uint32_t));
    test->ptr = calloc((size_t) m->nusers + 1, sizeof(uint64_t));
    test->items = malloc((m->nnz ? m->nnz : 1) * sizeof(uint32_t));
    keys = NULL;

    if (c->mode == RECSYS_HOLDOUT_RECENT) {
        keys = malloc((m->nnz ? m->nnz : 1) * sizeof(recsys_holdout_key_t));
    }

    if (ev == NULL || order == NULL || test->ptr == NULL
        || test->items == NULL
        || (c->mode == RECSYS_HOLDOUT_RECENT && keys == NULL))
    {
        free(ev);
        free(order);
        free(keys);
        recsys_holdout_free(test);
        snprintf(err, errlen, "holdout: out of memory");
        return -1;
    }

    test->nusers = m->nusers;
    nt = 0;
    ntest = 0;

    for (u = 0; u < m->nusers; u++) {
        base = m->user_ptr[u];
        n = m->user_ptr[u + 1] - base;
        h = 0;

        if (n >= c->min_entries) {
            h = (uint64_t) floor(c->fraction * (double) n + 0.5);
            h = h < 1 ? 1 : (h > n - 1 ? n - 1 : h);
        }

        for (i = 0; i < n; i++) {
            order[i] = (uint32_t) i;
        }

        if (h > 0 && c->mode == RECSYS_HOLDOUT_RANDOM) {
            s = c->seed ^ ((uint64_t) (u + 1) * 0xd1342543de82ef95ULL);

            for (i = n - 1; i > 0; i--) {
                j = recsys_rng_below(&s, i + 1);
                t = order[i];
                order[i] = order[j];
                order[j] = t;
            }

        } else if (h > 0) {
            recsys_holdout_recent(m, u, order, n, keys);
        }

        /* order[0..h) go to the test side */

        test->ptr[u] = ntest;

        for (i = 0; i < h; i++) {
            test->items[ntest++] = m->user_items[base + order[i]];
        }

        qsort(test->items + test->ptr[u], h, sizeof(uint32_t),
              recsys_holdout_cmp_u32);

        for (i = h; i < n; i++) {
            j = base + order[i];
            ev[nt].user = u;
            ev[nt].item = m->user_items[j];
            ev[nt].weight = m->user_weights[j];
            ev[nt].ts = m->user_ts[j];
            nt++;
        }

        if (h > 0) {
            test->evaluated++;
        }
    }

    test->ptr[m->nusers] = ntest;
    free(order);
    free(keys);

    *train = ev;
    *ntrain = nt;

    return 0;
}


void
recsys_holdout_free(recsys_holdout_t *test)
{
    free(test->ptr);
    free(test->items);
    memset(test, 0, sizeof(recsys_holdout_t));
}


void
recsys_holdout_metrics(const recsys_scored_t *list, uint32_t n,
    const uint32_t *truth, size_t ntruth, uint32_t k, double *recall,
    double *ndcg)
{
    double    dcg, idcg;
    uint32_t  r, hits, ideal;

    *recall = 0;
    *ndcg = 0;

    if (ntruth == 0 || k == 0) {
        return;
    }

    n = n < k ? n : k;
    hits = 0;
    dcg = 0;

    for (r = 0; r < n; r++) {
        if (bsearch(&list[r].row, truth, ntruth, sizeof(uint32_t),
                    recsys_holdout_cmp_u32)
            != NULL)
        {
            hits++;
            dcg += 1.0 / log2(r + 2.0);
        }
    }

    ideal = ntruth < k ? (uint32_t) ntruth : k;
    idcg = 0;

    for (r = 0; r < ideal; r++) {
        idcg += 1.0 / log2(r + 2.0);
    }

    *recall = (double) hits / ideal;
    *ndcg = dcg / idcg;
}


int
recsys_holdout_evaluate(const recsys_holdout_t *test, uint32_t k,
    const uint32_t *users, uint32_t nusers, int threads,
    recsys_holdout_recommend_pt fn, void *data, recsys_holdout_result_t *res)
{
    uint32_t              i, n;
    unsigned              t;
    recsys_holdout_job_t  job;

    memset(res, 0, sizeof(recsys_holdout_result_t));

    if (k == 0 || k > RECSYS_HOLDOUT_MAX_K) {
        return -1;
    }

    n = users ? nusers : test->nusers;
    t = recsys_parallel_threads(threads);

    job.test = test;
    job.users = users;
    job.k = k;
    job.fn = fn;
    job.data = data;
    job.lists = malloc((size_t) t * k * sizeof(recsys_scored_t));
    job.recall = calloc((size_t) n + 1, sizeof(double));
    job.ndcg = calloc((size_t) n + 1, sizeof(double));
    job.counted = calloc((size_t) n + 1, 1);

    if (job.lists == NULL || job.recall == NULL || job.ndcg == NULL
        || job.counted == NULL)
    {
        free(job.lists);
        free(job.recall);
        free(job.ndcg);
        free(job.counted);
        return -1;
    }

    recsys_parallel_for(n, RECSYS_HOLDOUT_CHUNK, t, recsys_holdout_users,
                        &job);

    /* summed in user order: the same result whatever the threads */

    for (i = 0; i < n; i++) {
        if (job.counted[i]) {
            res->recall += job.recall[i];
            res->ndcg += job.ndcg[i];
            res->users++;
        }
    }

    if (res->users > 0) {
        res->recall /= res->users;
        res->ndcg /= res->users;
    }

    free(job.lists);
    free(job.recall);
    free(job.ndcg);
    free(job.counted);

    return 0;
}


static void
recsys_holdout_users(void *data, uint64_t begin, uint64_t end,
    unsigned worker)
{
    uint32_t               u, got;
    uint64_t               i, lo, hi;
    recsys_scored_t       *list;
    recsys_holdout_job_t  *job = data;

    list = job->lists + (size_t) worker * job->k;

    for (i = begin; i < end; i++) {
        u = job->users ? job->users[i] : (uint32_t) i;

        if (u >= job->test->nusers) {
            continue;
        }

        lo = job->test->ptr[u];
        hi = job->test->ptr[u + 1];

        if (lo == hi) {
            continue;
        }

        got = job->fn(job->data, u, job->k, list, worker);

        recsys_holdout_metrics(list, got, job->test->items + lo, hi - lo,
                               job->k, &job->recall[i], &job->ndcg[i]);
        job->counted[i] = 1;
    }
}


/* most recent first, ties by item ascending */
static int
recsys_holdout_cmp_recent(const void *a, const void *b)
{
    const recsys_holdout_key_t  *x = a, *y = b;

    if (x->ts != y->ts) {
        return x->ts > y->ts ? -1 : 1;
    }

    return x->item < y->item ? -1 : (x->item > y->item);
}


static void
recsys_holdout_recent(const recsys_matrix_t *m, uint32_t u, uint32_t *order,
    uint64_t n, recsys_holdout_key_t *keys)
{
    uint64_t  i, base;

    base = m->user_ptr[u];

    for (i = 0; i < n; i++) {
        keys[i].ts = m->user_ts[base + i];
        keys[i].item = m->user_items[base + i];
        keys[i].pos = (uint32_t) i;
    }

    qsort(keys, n, sizeof(recsys_holdout_key_t), recsys_holdout_cmp_recent);

    for (i = 0; i < n; i++) {
        order[i] = keys[i].pos;
    }
}


static int
recsys_holdout_cmp_u32(const void *a, const void *b)
{
    uint32_t  x = *(const uint32_t *) a, y = *(const uint32_t *) b;

    return x < y ? -1 : (x > y);
}
