/*
 * The recommendations fallback chain.  Every level sees the same
 * exclusions (history, seen, exclude), so that a lower level never
 * shows what a higher one would have hidden.
 */

#include "recsys_chain.h"


const char  *const recsys_level_names[RECSYS_NLEVELS] = {
    "user", "history", "popular_category", "popular"
};


static int recsys_chain_search(void *data, const recsys_generation_t *g,
    float *query, const recsys_filter_t *f, recsys_hit_t *out,
    uint32_t *nout);


int
recsys_chain_run(const recsys_generation_t *g, recsys_chain_t *c,
    recsys_hit_t *out, uint32_t *nout)
{
    int                     level, first;
    recsys_filter_t         f;
    recsys_chain_search_pt  search;

    search = c->search ? c->search : recsys_chain_search;
    c->failed = 0;

    first = RECSYS_LEVEL_POPULAR_CATEGORY;

    for (level = RECSYS_NQUERY_LEVELS - 1; level >= 0; level--) {
        if (c->asked & RECSYS_LEVEL_BIT(level)) {
            first = level;
        }
    }

    for (level = 0; level < RECSYS_NQUERY_LEVELS; level++) {
        if (c->query[level] == NULL) {
            continue;
        }

        *nout = 0;

        if (search(c->data, g, c->query[level], &c->filter, out, nout) != 0
            || !recsys_hits_finite(out, *nout))
        {
            c->failed |= RECSYS_LEVEL_BIT(level);
            continue;
        }

        if (*nout > 0) {
            goto done;
        }
    }

    level = RECSYS_LEVEL_POPULAR_CATEGORY;

    /* popular items are not re-scored: k of them, not candidates */
    f = c->filter;

    if (c->k > 0 && c->k < f.k) {
        f.k = c->k;
    }

    if (c->category_asked) {
        *nout = 0;

        if (recsys_search_popular(g, &f, out, nout) != 0) {
            c->failed |= RECSYS_LEVEL_BIT(level);

        } else if (*nout > 0) {
            goto done;
        }
    }

    level = RECSYS_LEVEL_POPULAR;

    f.category = RECSYS_CATEGORY_ANY;
    *nout = 0;

    if (recsys_search_popular(g, &f, out, nout) != 0) {
        c->failed |= RECSYS_LEVEL_BIT(level);
        return -1;
    }

done:

    c->level = level;
    c->fallback = (c->asked == 0 || level != first);

    return 0;
}


static int
recsys_chain_search(void *data, const recsys_generation_t *g, float *query,
    const recsys_filter_t *f, recsys_hit_t *out, uint32_t *nout)
{
    (void) data;

    return recsys_search_vector(g, query, f, out, nout);
}
