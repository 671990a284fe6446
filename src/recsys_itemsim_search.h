/*
 * History recommendations from the generation's item-item model
 * (itemsim.bin): score(j) = sum over the history items h of row_h[j],
 * the history and the filter's exclusions never returned, the category
 * filter applied, positive scores only, best first (ties by row); a
 * short list is filled with the most popular items that pass, at score
 * 0.  Pure C: no nginx header.
 */

#ifndef _RECSYS_ITEMSIM_SEARCH_H_INCLUDED_
#define _RECSYS_ITEMSIM_SEARCH_H_INCLUDED_


#include "recsys_search.h"


/*
 * hist[0..nhist) are rows of g (also in f->exclude or not: both are
 * excluded).  g must have an item-item model (g->itemsim.nitems != 0).
 * One workspace per process, grown to the largest generation seen: for
 * a single-threaded worker.  Returns 0, or -1 when out of memory.
 */
int recsys_search_itemsim(const recsys_generation_t *g,
    const uint32_t *hist, size_t nhist, const recsys_filter_t *f,
    recsys_hit_t *out, uint32_t *nout);

/* frees the workspace (tests, exit) */
void recsys_search_itemsim_release(void);


#endif /* _RECSYS_ITEMSIM_SEARCH_H_INCLUDED_ */
