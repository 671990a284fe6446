/*
 * Top-k: a binary min-heap ordered by "worse" (lower score, then higher
 * row), heapsorted at the end.
 */

#include <math.h>

#include "recsys_topk.h"


static int recsys_topk_worse(const recsys_scored_t *a,
    const recsys_scored_t *b);
static void recsys_topk_sift_down(recsys_topk_t *t, uint32_t i,
    uint32_t n);


void
recsys_topk_init(recsys_topk_t *t, recsys_scored_t *buf, uint32_t k)
{
    t->heap = buf;
    t->k = k;
    t->n = 0;
}


int
recsys_topk_accepts(const recsys_topk_t *t, uint32_t row, float score)
{
    recsys_scored_t  c;

    if (isnan(score) || t->k == 0) {
        return 0;
    }

    if (t->n < t->k) {
        return 1;
    }

    c.row = row;
    c.score = score;

    return recsys_topk_worse(&t->heap[0], &c);
}


void
recsys_topk_push(recsys_topk_t *t, uint32_t row, float score)
{
    uint32_t         i, parent;
    recsys_scored_t  c, tmp;

    if (!recsys_topk_accepts(t, row, score)) {
        return;
    }

    c.row = row;
    c.score = score;

    if (t->n == t->k) {
        t->heap[0] = c;
        recsys_topk_sift_down(t, 0, t->n);
        return;
    }

    i = t->n++;
    t->heap[i] = c;

    while (i > 0) {
        parent = (i - 1) / 2;

        if (!recsys_topk_worse(&t->heap[i], &t->heap[parent])) {
            break;
        }

        tmp = t->heap[i];
        t->heap[i] = t->heap[parent];
        t->heap[parent] = tmp;
        i = parent;
    }
}


uint32_t
recsys_topk_sort(recsys_topk_t *t)
{
    uint32_t         n;
    recsys_scored_t  tmp;

    /* the worst goes last each round, so the buffer ends best first */

    for (n = t->n; n > 1; n--) {
        tmp = t->heap[0];
        t->heap[0] = t->heap[n - 1];
        t->heap[n - 1] = tmp;
        recsys_topk_sift_down(t, 0, n - 1);
    }

    return t->n;
}


uint32_t
recsys_topk_dot(const float *m, uint32_t n, uint32_t d, const float *q,
    const uint32_t *exclude, size_t nexclude, uint32_t k,
    recsys_scored_t *out)
{
    float          s;
    size_t         e;
    uint32_t       r, j;
    const float   *v;
    recsys_topk_t  t;

    recsys_topk_init(&t, out, k);
    e = 0;

    for (r = 0; r < n; r++) {
        while (e < nexclude && exclude[e] < r) {
            e++;
        }

        if (e < nexclude && exclude[e] == r) {
            continue;
        }

        v = m + (size_t) r * d;
        s = 0;

        for (j = 0; j < d; j++) {
            s += q[j] * v[j];
        }

        recsys_topk_push(&t, r, s);
    }

    return recsys_topk_sort(&t);
}


/* a is worse than b: lower score, or the same score and a higher row */
static int
recsys_topk_worse(const recsys_scored_t *a, const recsys_scored_t *b)
{
    if (a->score != b->score) {
        return a->score < b->score;
    }

    return a->row > b->row;
}


static void
recsys_topk_sift_down(recsys_topk_t *t, uint32_t i, uint32_t n)
{
    uint32_t         l, r, w;
    recsys_scored_t  tmp;

    for ( ;; ) {
        l = 2 * i + 1;
        r = l + 1;
        w = i;

        if (l < n && recsys_topk_worse(&t->heap[l], &t->heap[w])) {
            w = l;
        }

        if (r < n && recsys_topk_worse(&t->heap[r], &t->heap[w])) {
            w = r;
        }

        if (w == i) {
            return;
        }

        tmp = t->heap[i];
        t->heap[i] = t->heap[w];
        t->heap[w] = tmp;
        i = w;
    }
}
