/*
 * A ranking profile applied to a generation: the query of positive and
 * negative examples from item rows and vectors, and the candidates of a
 * search re-scored, diversified and ordered (recsys_rank.h does the
 * arithmetic).  Pure C: no nginx header.
 */

#ifndef _RECSYS_RECOMMEND_H_INCLUDED_
#define _RECSYS_RECOMMEND_H_INCLUDED_


#include "recsys_generation.h"
#include "recsys_rank.h"
#include "recsys_search.h"


/*
 * The query of examples into out (dimension floats): pos[0..npos) rows
 * and posvec[0..nposvec) vectors (nposvec x dimension floats) are the
 * positive examples, neg[0..nneg) rows the negative ones, w the negative
 * weight.  Rows only, no negative: the history mean of
 * recsys_history_vector(), the arithmetic of a plain history request.
 * Else recsys_rank_query().  Returns 0, or -1 when no query exists (no
 * positive example, or a zero query).
 */
int recsys_recommend_query(const recsys_generation_t *g,
    const uint32_t *pos, size_t npos, const float *posvec, size_t nposvec,
    const uint32_t *neg, size_t nneg, float w, float *out);

/*
 * Re-scores hits[0..n) (a search's candidates) under p into c[0..n) and
 * orders them (recsys_rank_select()): c[0..*nout) is the answer, *nout =
 * min(k, n).  now is the wall clock in seconds, for freshness.  work
 * holds n doubles.  Returns 0.
 */
int recsys_recommend_rank(const recsys_generation_t *g,
    const recsys_profile_t *p, int64_t now, const recsys_hit_t *hits,
    uint32_t n, uint32_t k, recsys_cand_t *c, double *work, uint32_t *nout);

/*
 * The timestamp of an item's attribute "field" (a top-level key of the
 * attributes object): a JSON number of seconds since the epoch, or a
 * string "YYYY-MM-DDTHH:MM:SS[.fraction]Z".  RECSYS_FRESHNESS_MISSING
 * when there is no such key or its value is neither.
 */
int64_t recsys_recommend_timestamp(const char *attrs, size_t len,
    const char *field);


#endif /* _RECSYS_RECOMMEND_H_INCLUDED_ */
