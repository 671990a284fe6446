/*
 * The item-item history scorer of the workers.  The workspace is
 * touched sparsely: only rows of the history's lists are accumulated
 * and reset, so a request costs the history's row lengths, not the
 * catalog's size.
 */

#include <stdlib.h>
#include <string.h>

#include "recsys_itemsim_search.h"
#include "recsys_topk.h"


#define RECSYS_REC_TOUCHED    1
#define RECSYS_REC_EXCLUDED   2
#define RECSYS_REC_RETURNED   4


typedef struct {
    uint32_t            cap;
    float              *acc;
    uint8_t            *flag;
    uint32_t           *touched;
} recsys_rec_work_t;


static int recsys_rec_grow(uint32_t n);
static int recsys_rec_category(const recsys_generation_t *g, uint32_t row,
    int64_t category);


static recsys_rec_work_t  recsys_rec_work;


int
recsys_search_itemsim(const recsys_generation_t *g, const uint32_t *hist,
    size_t nhist, const recsys_filter_t *f, recsys_hit_t *out,
    uint32_t *nout)
{
    float                    w;
    size_t                   i;
    uint32_t                 n, r, c, ntouched, found, nrows, k;
    uint64_t                 e;
    const uint32_t          *rows;
    recsys_topk_t            top;
    recsys_scored_t         *best;
    recsys_rec_work_t       *ws;
    const recsys_itemsim_t  *s;

    *nout = 0;
    s = &g->itemsim;
    n = s->nitems;
    k = f->k;

    if (k == 0 || f->category == RECSYS_CATEGORY_NONE) {
        return 0;
    }

    if (recsys_rec_grow(n) != 0) {
        return -1;
    }

    ws = &recsys_rec_work;

    best = malloc((size_t) k * sizeof(recsys_scored_t));
    if (best == NULL) {
        return -1;
    }

    for (i = 0; i < nhist; i++) {
        if (hist[i] < n) {
            ws->flag[hist[i]] |= RECSYS_REC_EXCLUDED;
        }
    }

    for (i = 0; i < f->nexclude; i++) {
        if (f->exclude[i] < n) {
            ws->flag[f->exclude[i]] |= RECSYS_REC_EXCLUDED;
        }
    }

    ntouched = 0;

    for (i = 0; i < nhist; i++) {
        r = hist[i];

        if (r >= n) {
            continue;
        }

        for (e = s->ptr[r]; e < s->ptr[r + 1]; e++) {
            c = s->cols[e];
            w = s->weights[e];

            if (!(ws->flag[c] & RECSYS_REC_TOUCHED)) {
                ws->flag[c] |= RECSYS_REC_TOUCHED;
                ws->acc[c] = 0;
                ws->touched[ntouched++] = c;
            }

            ws->acc[c] += w;
        }
    }

    recsys_topk_init(&top, best, k);

    for (i = 0; i < ntouched; i++) {
        c = ws->touched[i];

        if (ws->acc[c] > 0 && !(ws->flag[c] & RECSYS_REC_EXCLUDED)
            && recsys_rec_category(g, c, f->category))
        {
            recsys_topk_push(&top, c, ws->acc[c]);
        }
    }

    found = recsys_topk_sort(&top);

    for (i = 0; i < found; i++) {
        out[i].row = best[i].row;
        out[i].score = best[i].score;
        ws->flag[best[i].row] |= RECSYS_REC_RETURNED;
    }

    free(best);

    /* the fill: popular items passing the filter, in popularity order */

    if (found < k) {
        if (f->category >= 0) {
            rows = (uint64_t) f->category < g->items.ncategories
                   ? recsys_items_category_rows(&g->items,
                                                (uint32_t) f->category,
                                                &nrows)
                   : NULL;

        } else {
            rows = g->items.popular;
            nrows = (uint32_t) g->items.count;
        }

        for (i = 0; rows != NULL && i < nrows && found < k; i++) {
            r = rows[i];

            if (r < n && (ws->flag[r] & (RECSYS_REC_EXCLUDED
                                         | RECSYS_REC_RETURNED)))
            {
                continue;
            }

            out[found].row = r;
            out[found].score = 0;
            found++;
        }
    }

    /* the workspace back to zero, touching only what was set */

    for (i = 0; i < ntouched; i++) {
        ws->flag[ws->touched[i]] = 0;
    }

    for (i = 0; i < found; i++) {
        if (out[i].row < n) {
            ws->flag[out[i].row] = 0;
        }
    }

    for (i = 0; i < nhist; i++) {
        if (hist[i] < n) {
            ws->flag[hist[i]] = 0;
        }
    }

    for (i = 0; i < f->nexclude; i++) {
        if (f->exclude[i] < n) {
            ws->flag[f->exclude[i]] = 0;
        }
    }

    *nout = found;

    return 0;
}


void
recsys_search_itemsim_release(void)
{
    free(recsys_rec_work.acc);
    free(recsys_rec_work.flag);
    free(recsys_rec_work.touched);
    memset(&recsys_rec_work, 0, sizeof(recsys_rec_work_t));
}


static int
recsys_rec_grow(uint32_t n)
{
    recsys_rec_work_t  *ws;

    ws = &recsys_rec_work;

    if (n <= ws->cap && ws->acc != NULL) {
        return 0;
    }

    recsys_search_itemsim_release();

    ws->acc = malloc(((size_t) n + 1) * sizeof(float));
    ws->flag = calloc((size_t) n + 1, 1);
    ws->touched = malloc(((size_t) n + 1) * sizeof(uint32_t));

    if (ws->acc == NULL || ws->flag == NULL || ws->touched == NULL) {
        recsys_search_itemsim_release();
        return -1;
    }

    ws->cap = n;

    return 0;
}


static int
recsys_rec_category(const recsys_generation_t *g, uint32_t row,
    int64_t category)
{
    recsys_item_t  it;

    if (category < 0) {
        return 1;
    }

    recsys_items_get(&g->items, row, &it);

    return (int64_t) it.category_no == category;
}
