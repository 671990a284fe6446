/*
 * The user x item interactions matrix the models train on, built from
 * (user, item, weight, ts) events: CSR by user and CSC by item over the
 * same entries, one entry per (user, item) pair after merging.
 *
 * Rules:
 *   - an event whose user or item is RECSYS_ROW_NONE (an id no map
 *     knows, e.g. an item not in the catalog) or out of range is skipped
 *     and counted as unknown; a non-finite weight is skipped as invalid;
 *   - events of one (user, item) pair merge into one entry: the sum of
 *     their weights (RECSYS_MERGE_SUM), the largest (MAX), or the weight
 *     of the latest event, ties by input order (LAST); the entry's ts is
 *     the latest event's;
 *   - an entry whose merged weight is <= 0 is dropped (a negative event
 *     can cancel a positive one under SUM).
 * Rows list items ascending, columns users ascending.
 */

#ifndef _RECSYS_INTERACTIONS_H_INCLUDED_
#define _RECSYS_INTERACTIONS_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define RECSYS_ROW_NONE     0xffffffffu

#define RECSYS_MERGE_SUM    0
#define RECSYS_MERGE_MAX    1
#define RECSYS_MERGE_LAST   2


typedef struct {
    uint32_t            user;
    uint32_t            item;
    float               weight;
    int64_t             ts;             /* seconds since the epoch */
} recsys_event_t;


typedef struct {
    uint64_t            events;         /* given */
    uint64_t            unknown;        /* user or item not known */
    uint64_t            invalid;        /* weight not finite */
    uint64_t            merged;         /* folded into an earlier entry */
    uint64_t            dropped;        /* entries of merged weight <= 0 */
} recsys_matrix_stats_t;


typedef struct {
    uint32_t            nusers;
    uint32_t            nitems;
    uint64_t            nnz;
    uint64_t           *user_ptr;       /* nusers + 1 */
    uint32_t           *user_items;     /* nnz, by user */
    float              *user_weights;
    int64_t            *user_ts;
    uint64_t           *item_ptr;       /* nitems + 1 */
    uint32_t           *item_users;     /* nnz, by item */
    float              *item_weights;
} recsys_matrix_t;


/*
 * Builds m from events[0..n) for nusers x nitems (both >= 1).  stats may
 * be NULL.  Returns 0, or -1 with err set (bad arguments, out of memory);
 * on failure m holds nothing to free.
 */
int recsys_matrix_build(recsys_matrix_t *m, uint32_t nusers,
    uint32_t nitems, const recsys_event_t *events, size_t n, int merge,
    recsys_matrix_stats_t *stats, char *err, size_t errlen);

void recsys_matrix_free(recsys_matrix_t *m);

/*
 * Appends ev to the array events[0..*n) of *cap, growing it by doubling.
 * Returns 0, or -1 when out of memory (the array is left as it was).
 */
int recsys_events_append(recsys_event_t **events, size_t *n, size_t *cap,
    const recsys_event_t *ev);

/* the entries of m as events (one per entry, its ts), for re-splitting */
recsys_event_t *recsys_matrix_events(const recsys_matrix_t *m);


#endif /* _RECSYS_INTERACTIONS_H_INCLUDED_ */
