/*
 * Decayed popularity.
 */

#include <math.h>
#include <string.h>

#include "recsys_popularity.h"


static double recsys_popularity_max(const double *v, uint32_t n);


double
recsys_popularity_decay(int64_t age, double half_life)
{
    if (half_life <= 0 || age <= 0) {
        return 1.0;
    }

    return exp2(-(double) age / half_life);
}


uint64_t
recsys_popularity_items(const recsys_event_t *events, size_t n,
    uint32_t nitems, int64_t now, double half_life, double *pop)
{
    size_t    i;
    uint64_t  counted;

    memset(pop, 0, (size_t) nitems * sizeof(double));
    counted = 0;

    for (i = 0; i < n; i++) {
        if (events[i].item >= nitems || !isfinite(events[i].weight)) {
            continue;
        }

        pop[events[i].item] += events[i].weight
                               * recsys_popularity_decay(now - events[i].ts,
                                                         half_life);
        counted++;
    }

    return counted;
}


void
recsys_popularity_categories(const double *pop, const uint32_t *category,
    uint32_t nitems, uint32_t ncategories, double *cat_pop)
{
    uint32_t  i;

    memset(cat_pop, 0, (size_t) ncategories * sizeof(double));

    for (i = 0; i < nitems; i++) {
        if (category[i] < ncategories) {
            cat_pop[category[i]] += pop[i];
        }
    }
}


void
recsys_popularity_blend(const double *source, const double *events,
    uint32_t nitems, int mode, double weight, double *out)
{
    double    ms, me, s, e;
    uint32_t  i;

    if (mode == RECSYS_POPULARITY_REPLACE) {
        if (out != events) {
            memmove(out, events, (size_t) nitems * sizeof(double));
        }

        return;
    }

    ms = recsys_popularity_max(source, nitems);
    me = recsys_popularity_max(events, nitems);

    for (i = 0; i < nitems; i++) {
        s = ms > 0 ? source[i] / ms : 0;
        e = me > 0 ? events[i] / me : 0;
        out[i] = (1 - weight) * s + weight * e;
    }
}


static double
recsys_popularity_max(const double *v, uint32_t n)
{
    double    m;
    uint32_t  i;

    m = 0;

    for (i = 0; i < n; i++) {
        if (v[i] > m) {
            m = v[i];
        }
    }

    return m;
}
