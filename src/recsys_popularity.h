/*
 * Popularity from interaction events with exponential time decay.  An
 * event of weight w and age a = now - ts counts
 *
 *     w * 2^(-a / half_life)
 *
 * towards its item: 1/2 after one half-life, 1/4 after two.  An event
 * from the future (clock skew) counts as of now; half_life <= 0 means no
 * decay (plain weighted counts).  A category's popularity is the sum of
 * its items'.
 */

#ifndef _RECSYS_POPULARITY_H_INCLUDED_
#define _RECSYS_POPULARITY_H_INCLUDED_


#include "recsys_interactions.h"


#define RECSYS_POPULARITY_REPLACE   0
#define RECSYS_POPULARITY_BLEND     1


/* the weight of one event of age "age" seconds */
double recsys_popularity_decay(int64_t age, double half_life);

/*
 * pop[0..nitems) = the decayed weight of each item's events at "now";
 * events of an unknown item are skipped.  Returns the number of events
 * counted.
 */
uint64_t recsys_popularity_items(const recsys_event_t *events, size_t n,
    uint32_t nitems, int64_t now, double half_life, double *pop);

/*
 * cat_pop[0..ncategories) = the sum of pop over the items of each
 * category; category[i] >= ncategories (no category) is skipped.
 */
void recsys_popularity_categories(const double *pop,
    const uint32_t *category, uint32_t nitems, uint32_t ncategories,
    double *cat_pop);

/*
 * Combines a source's popularity with the events': REPLACE takes the
 * events' as they are; BLEND gives
 *
 *     (1 - weight) * source / max(source) + weight * events / max(events)
 *
 * (a term whose maximum is 0 contributes 0), so both are on [0, 1]
 * whatever their units.  out may be source or events.
 */
void recsys_popularity_blend(const double *source, const double *events,
    uint32_t nitems, int mode, double weight, double *out);


#endif /* _RECSYS_POPULARITY_H_INCLUDED_ */
