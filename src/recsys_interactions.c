/*
 * Matrix build: a counting sort of the valid events by user, a sort of
 * each user's events by (item, ts, input order), one pass merging runs of
 * the same item, then a counting sort of the entries by item for CSC.
 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recsys_interactions.h"


typedef struct {
    uint32_t            item;
    uint32_t            seq;            /* input order, for LAST */
    int64_t             ts;
    float               weight;
} recsys_matrix_ev_t;


static int recsys_matrix_cmp(const void *a, const void *b);
static int recsys_matrix_alloc(recsys_matrix_t *m, uint64_t nnz);
static void recsys_matrix_columns(recsys_matrix_t *m);


int
recsys_matrix_build(recsys_matrix_t *m, uint32_t nusers, uint32_t nitems,
    const recsys_event_t *events, size_t n, int merge,
    recsys_matrix_stats_t *stats, char *err, size_t errlen)
{
    float                   w;
    size_t                  i;
    int64_t                 ts;
    uint32_t                u;
    uint64_t                valid, nnz, j, k, *count;
    recsys_matrix_ev_t     *ev;
    recsys_matrix_stats_t   st;

    memset(m, 0, sizeof(recsys_matrix_t));
    memset(&st, 0, sizeof(recsys_matrix_stats_t));

    if (nusers == 0 || nitems == 0) {
        snprintf(err, errlen, "interactions: no %s",
                 nusers == 0 ? "users" : "items");
        return -1;
    }

    if (merge != RECSYS_MERGE_SUM && merge != RECSYS_MERGE_MAX
        && merge != RECSYS_MERGE_LAST)
    {
        snprintf(err, errlen, "interactions: unknown merge rule %d", merge);
        return -1;
    }

    if (n >= 0xffffffffu) {
        snprintf(err, errlen, "interactions: too many events (%zu)", n);
        return -1;
    }

    st.events = n;

    count = calloc((size_t) nusers + 1, sizeof(uint64_t));
    ev = malloc((n ? n : 1) * sizeof(recsys_matrix_ev_t));

    if (count == NULL || ev == NULL) {
        free(count);
        free(ev);
        snprintf(err, errlen, "interactions: out of memory");
        return -1;
    }

    /* count[u + 1]: valid events of user u */

    for (i = 0; i < n; i++) {
        if (events[i].user >= nusers || events[i].item >= nitems) {
            st.unknown++;
            continue;
        }

        if (!isfinite(events[i].weight)) {
            st.invalid++;
            continue;
        }

        count[events[i].user + 1]++;
    }

    for (u = 0; u < nusers; u++) {
        count[u + 1] += count[u];
    }

    valid = count[nusers];

    /* place, advancing count[u] to the end of user u's run */

    for (i = 0; i < n; i++) {
        if (events[i].user >= nusers || events[i].item >= nitems
            || !isfinite(events[i].weight))
        {
            continue;
        }

        j = count[events[i].user]++;
        ev[j].item = events[i].item;
        ev[j].seq = (uint32_t) i;
        ev[j].ts = events[i].ts;
        ev[j].weight = events[i].weight;
    }

    /* now count[u] is the end of user u's run and the start of u + 1's */

    m->nusers = nusers;
    m->nitems = nitems;

    if (recsys_matrix_alloc(m, valid) != 0) {
        free(count);
        free(ev);
        snprintf(err, errlen, "interactions: out of memory");
        return -1;
    }

    nnz = 0;
    j = 0;

    for (u = 0; u < nusers; u++) {
        m->user_ptr[u] = nnz;

        qsort(ev + j, count[u] - j, sizeof(recsys_matrix_ev_t),
              recsys_matrix_cmp);

        while (j < count[u]) {
            w = ev[j].weight;
            ts = ev[j].ts;

            for (k = j + 1; k < count[u] && ev[k].item == ev[j].item; k++) {
                st.merged++;

                switch (merge) {
                case RECSYS_MERGE_SUM:
                    w += ev[k].weight;
                    break;
                case RECSYS_MERGE_MAX:
                    w = ev[k].weight > w ? ev[k].weight : w;
                    break;
                default:
                    w = ev[k].weight;       /* sorted by ts, then input */
                }

                ts = ev[k].ts > ts ? ev[k].ts : ts;
            }

            if (w > 0 && isfinite(w)) {
                m->user_items[nnz] = ev[j].item;
                m->user_weights[nnz] = w;
                m->user_ts[nnz] = ts;
                nnz++;

            } else {
                st.dropped++;
            }

            j = k;
        }
    }

    m->user_ptr[nusers] = nnz;
    m->nnz = nnz;

    free(count);
    free(ev);

    recsys_matrix_columns(m);

    if (stats != NULL) {
        *stats = st;
    }

    return 0;
}


void
recsys_matrix_free(recsys_matrix_t *m)
{
    free(m->user_ptr);
    free(m->user_items);
    free(m->user_weights);
    free(m->user_ts);
    free(m->item_ptr);
    free(m->item_users);
    free(m->item_weights);
    memset(m, 0, sizeof(recsys_matrix_t));
}


recsys_event_t *
recsys_matrix_events(const recsys_matrix_t *m)
{
    uint32_t         u;
    uint64_t         j;
    recsys_event_t  *ev;

    ev = malloc((m->nnz ? m->nnz : 1) * sizeof(recsys_event_t));
    if (ev == NULL) {
        return NULL;
    }

    for (u = 0; u < m->nusers; u++) {
        for (j = m->user_ptr[u]; j < m->user_ptr[u + 1]; j++) {
            ev[j].user = u;
            ev[j].item = m->user_items[j];
            ev[j].weight = m->user_weights[j];
            ev[j].ts = m->user_ts[j];
        }
    }

    return ev;
}


static int
recsys_matrix_cmp(const void *a, const void *b)
{
    const recsys_matrix_ev_t  *x = a, *y = b;

    if (x->item != y->item) {
        return x->item < y->item ? -1 : 1;
    }

    if (x->ts != y->ts) {
        return x->ts < y->ts ? -1 : 1;
    }

    return x->seq < y->seq ? -1 : (x->seq > y->seq);
}


/* room for nnz entries (the merged count is at most that), both ways */
static int
recsys_matrix_alloc(recsys_matrix_t *m, uint64_t nnz)
{
    size_t  n;

    n = nnz ? nnz : 1;

    m->user_ptr = malloc(((size_t) m->nusers + 1) * sizeof(uint64_t));
    m->user_items = malloc(n * sizeof(uint32_t));
    m->user_weights = malloc(n * sizeof(float));
    m->user_ts = malloc(n * sizeof(int64_t));
    m->item_ptr = calloc((size_t) m->nitems + 1, sizeof(uint64_t));
    m->item_users = malloc(n * sizeof(uint32_t));
    m->item_weights = malloc(n * sizeof(float));

    if (m->user_ptr == NULL || m->user_items == NULL
        || m->user_weights == NULL || m->user_ts == NULL
        || m->item_ptr == NULL || m->item_users == NULL
        || m->item_weights == NULL)
    {
        recsys_matrix_free(m);
        return -1;
    }

    return 0;
}


/* CSC from CSR: users are visited in order, so columns come out sorted */
static void
recsys_matrix_columns(recsys_matrix_t *m)
{
    uint32_t   u, i;
    uint64_t   j, k, *next;

    next = m->item_ptr;

    for (j = 0; j < m->nnz; j++) {
        next[m->user_items[j] + 1]++;
    }

    for (i = 0; i < m->nitems; i++) {
        next[i + 1] += next[i];
    }

    /* item_ptr[i] advances to the end of column i, then shifts back */

    for (u = 0; u < m->nusers; u++) {
        for (j = m->user_ptr[u]; j < m->user_ptr[u + 1]; j++) {
            k = next[m->user_items[j]]++;
            m->item_users[k] = u;
            m->item_weights[k] = m->user_weights[j];
        }
    }

    for (i = m->nitems; i > 0; i--) {
        next[i] = next[i - 1];
    }

    next[0] = 0;
}


int
recsys_events_append(recsys_event_t **events, size_t *n, size_t *cap,
    const recsys_event_t *ev)
{
    void    *p;
    size_t   c;

    if (*n == *cap) {
        c = *cap ? *cap * 2 : 4096;

        p = realloc(*events, c * sizeof(recsys_event_t));
        if (p == NULL) {
            return -1;
        }

        *events = p;
        *cap = c;
    }

    (*events)[(*n)++] = *ev;

    return 0;
}
