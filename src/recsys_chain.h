/*
 * The fallback chain of recommendations: the levels a request allows are
 * tried in order, user vector, history (or positive/negative) query,
 * popular in the requested category, popular overall, and the first
 * level that answers with items wins.  Pure C: no nginx header.
 */

#ifndef _RECSYS_CHAIN_H_INCLUDED_
#define _RECSYS_CHAIN_H_INCLUDED_


#include "recsys_search.h"


#define RECSYS_LEVEL_USER              0
#define RECSYS_LEVEL_HISTORY           1
#define RECSYS_LEVEL_POPULAR_CATEGORY  2
#define RECSYS_LEVEL_POPULAR           3
#define RECSYS_NLEVELS                 4

/* the levels that search with a query vector */
#define RECSYS_NQUERY_LEVELS           2

#define RECSYS_LEVEL_BIT(level)        (1u << (level))


/*
 * A query level's search (recsys_search_vector() when NULL): 0 with
 * out[0..*nout) filled, or -1 when it cannot answer (a FAISS error).
 * query may be modified.
 */
typedef int (*recsys_chain_search_pt)(void *data,
    const recsys_generation_t *g, float *query, const recsys_filter_t *f,
    recsys_hit_t *out, uint32_t *nout);


typedef struct {
    /* in */
    unsigned            asked;          /* RECSYS_LEVEL_BIT()s of the query
                                           levels the request named: a user
                                           id, a history, positives */
    float              *query[RECSYS_NQUERY_LEVELS];
                                        /* by level; NULL when the request
                                           gave none that is known (unknown
                                           user, all history unknown) */
    recsys_filter_t     filter;         /* k, exclusions, category: for
                                           every level; popular ignores
                                           the category */
    uint32_t            k;              /* what the popular levels return
                                           (filter.k may be a profile's
                                           candidates); 0: filter.k */
    int                 category_asked; /* popular_category applies */
    recsys_chain_search_pt  search;
    void               *data;

    /* out */
    int                 level;          /* RECSYS_LEVEL_* that answered */
    int                 fallback;       /* not the first level asked, or
                                           nothing asked at all */
    unsigned            failed;         /* levels that ran and failed:
                                           search error, scores not
                                           finite */
} recsys_chain_t;


extern const char  *const recsys_level_names[RECSYS_NLEVELS];


/*
 * Runs the chain into out (f->k entries).  A query level answers when its
 * search succeeds with at least one hit, all scores finite; a popular
 * level when it has at least one item, except popular overall, which
 * always answers.  Returns 0 with c->level set, or -1 when even popular
 * overall failed (out of memory).
 */
int recsys_chain_run(const recsys_generation_t *g, recsys_chain_t *c,
    recsys_hit_t *out, uint32_t *nout);


#endif /* _RECSYS_CHAIN_H_INCLUDED_ */
