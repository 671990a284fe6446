/*
 * recsys-eventgen: deterministic synthetic interaction events, JSON Lines
 * on stdout, for timing the training code at scale.
 *
 *   recsys-eventgen EVENTS ITEMS USERS [seed]
 *
 * e.g. "recsys-eventgen 1000000 100000 50000".  Each line is
 * {"user": "u<n>", "item": "i<n>", "type": "view|click|purchase",
 * "ts": "<ISO 8601 UTC>", "weight": 1|2|5}.  The shape:
 *   - item popularity is Zipf (exponent 1) over a seeded permutation of
 *     the items, so a few items get most events;
 *   - users' activity is Zipf (exponent 0.7) over another permutation:
 *     a few very active users, a long tail of light ones;
 *   - items fall in clusters of 100 (item i in cluster i mod C), each user
 *     has two favourite clusters, and 75 % of a user's events pick an
 *     item from one of them (by popularity within it), the rest from the
 *     whole catalog: structure a collaborative model can learn;
 *   - 85 % views (weight 1), 12 % clicks (2), 3 % purchases (5), spread
 *     uniformly over the 90 days from 2026-01-01.
 * Same arguments, same bytes.
 */

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "recsys_rng.h"
#include "recsys_string.h"


#define RECSYS_EVENTGEN_CLUSTER     100
#define RECSYS_EVENTGEN_FAVOURITE   0.75
#define RECSYS_EVENTGEN_START       1767225600      /* 2026-01-01 UTC */
#define RECSYS_EVENTGEN_SPAN        (90 * 86400)
#define RECSYS_EVENTGEN_MAX         100000000


typedef struct {
    uint32_t            nitems;
    uint32_t            nusers;
    uint32_t            nclusters;
    double             *item_cdf;       /* over all items */
    double             *user_cdf;
    uint32_t           *cluster_items;  /* items grouped by cluster */
    double             *cluster_cdf;    /* per cluster, cumulative */
    uint32_t           *cluster_start;  /* nclusters + 1 */
} recsys_eventgen_t;


static int recsys_eventgen_init(recsys_eventgen_t *g, uint32_t nitems,
    uint32_t nusers, uint64_t *seed);
static double *recsys_eventgen_zipf(uint32_t n, double s, uint64_t *seed);
static uint32_t recsys_eventgen_pick(const double *cdf, uint32_t n,
    double u);


int
main(int argc, char **argv)
{
    char               ts[32];
    double             r;
    uint32_t           user, item, c, fav;
    uint64_t           n, nitems, nusers, seed, i, s, us;
    time_t             t;
    struct tm          tm;
    const char        *type;
    int                weight;
    recsys_eventgen_t  g;
    static char        buf[1 << 16];

    seed = 20261130;

    if (argc < 4 || argc > 5
        || recsys_parse_uint_arg(argv[1], 0, RECSYS_EVENTGEN_MAX, &n) != 0
        || recsys_parse_uint_arg(argv[2], 0, RECSYS_EVENTGEN_MAX, &nitems) != 0
        || recsys_parse_uint_arg(argv[3], 0, RECSYS_EVENTGEN_MAX, &nusers) != 0
        || (argc == 5 && recsys_parse_uint_arg(argv[4], 0, UINT64_MAX, &seed)
                         != 0)
        || nitems == 0 || nusers == 0)
    {
        fprintf(stderr, "usage: recsys-eventgen EVENTS ITEMS USERS [seed]\n");
        return 2;
    }

    s = seed;

    if (recsys_eventgen_init(&g, (uint32_t) nitems, (uint32_t) nusers, &s)
        != 0)
    {
        fprintf(stderr, "recsys-eventgen: out of memory\n");
        return 1;
    }

    setvbuf(stdout, buf, _IOFBF, sizeof(buf));

    for (i = 0; i < n; i++) {
        user = recsys_eventgen_pick(g.user_cdf, g.nusers,
                                    recsys_rng_uniform(&s));

        if (recsys_rng_uniform(&s) < RECSYS_EVENTGEN_FAVOURITE) {

            /* the user's two favourite clusters come from its own stream */

            us = seed ^ ((uint64_t) (user + 1) * 0x9e3779b97f4a7c15ULL);
            fav = (uint32_t) recsys_rng_below(&s, 2);
            c = (uint32_t) recsys_rng_below(&us, g.nclusters);

            if (fav) {
                c = (uint32_t) recsys_rng_below(&us, g.nclusters);
            }

            item = g.cluster_items[g.cluster_start[c]
                       + recsys_eventgen_pick(g.cluster_cdf
                                              + g.cluster_start[c],
                                              g.cluster_start[c + 1]
                                              - g.cluster_start[c],
                                              recsys_rng_uniform(&s))];

        } else {
            item = recsys_eventgen_pick(g.item_cdf, g.nitems,
                                        recsys_rng_uniform(&s));
        }

        r = recsys_rng_uniform(&s);
        type = r < 0.85 ? "view" : (r < 0.97 ? "click" : "purchase");
        weight = r < 0.85 ? 1 : (r < 0.97 ? 2 : 5);

        t = RECSYS_EVENTGEN_START
            + (time_t) recsys_rng_below(&s, RECSYS_EVENTGEN_SPAN);
        gmtime_r(&t, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);

        printf("{\"user\":\"u%u\",\"item\":\"i%u\",\"type\":\"%s\","
               "\"ts\":\"%s\",\"weight\":%d}\n", user, item, type, ts,
               weight);
    }

    if (fflush(stdout) != 0) {
        fprintf(stderr, "recsys-eventgen: %s\n", strerror(errno));
        return 1;
    }

    return 0;
}


static int
recsys_eventgen_init(recsys_eventgen_t *g, uint32_t nitems, uint32_t nusers,
    uint64_t *seed)
{
    double    *w;
    uint32_t   i, c, *fill;

    g->nitems = nitems;
    g->nusers = nusers;
    g->nclusters = (nitems + RECSYS_EVENTGEN_CLUSTER - 1)
                   / RECSYS_EVENTGEN_CLUSTER;

    w = recsys_eventgen_zipf(nitems, 1.0, seed);
    g->user_cdf = recsys_eventgen_zipf(nusers, 0.7, seed);
    g->item_cdf = malloc((size_t) nitems * sizeof(double));
    g->cluster_items = malloc((size_t) nitems * sizeof(uint32_t));
    g->cluster_cdf = malloc((size_t) nitems * sizeof(double));
    g->cluster_start = calloc((size_t) g->nclusters + 1, sizeof(uint32_t));
    fill = calloc((size_t) g->nclusters, sizeof(uint32_t));

    if (w == NULL || g->user_cdf == NULL || g->item_cdf == NULL
        || g->cluster_items == NULL || g->cluster_cdf == NULL
        || g->cluster_start == NULL || fill == NULL)
    {
        return -1;
    }

    /* the CDFs accumulate weights: users', items' and by cluster */

    for (i = 1; i < nusers; i++) {
        g->user_cdf[i] += g->user_cdf[i - 1];
    }

    for (i = 0; i < nitems; i++) {
        g->item_cdf[i] = w[i] + (i ? g->item_cdf[i - 1] : 0);
        g->cluster_start[i % g->nclusters + 1]++;
    }

    for (c = 0; c < g->nclusters; c++) {
        g->cluster_start[c + 1] += g->cluster_start[c];
    }

    for (i = 0; i < nitems; i++) {
        c = i % g->nclusters;
        g->cluster_items[g->cluster_start[c] + fill[c]] = i;
        g->cluster_cdf[g->cluster_start[c] + fill[c]] =
            w[i] + (fill[c] ? g->cluster_cdf[g->cluster_start[c] + fill[c]
                                             - 1]
                            : 0);
        fill[c]++;
    }

    free(w);
    free(fill);

    return 0;
}


/* weights 1 / rank^s, the ranks a seeded permutation of 1..n */
static double *
recsys_eventgen_zipf(uint32_t n, double s, uint64_t *seed)
{
    double    *w;
    uint32_t   i, j, t, *perm;

    w = malloc((size_t) n * sizeof(double));
    perm = malloc((size_t) n * sizeof(uint32_t));

    if (w == NULL || perm == NULL) {
        free(w);
        free(perm);
        return NULL;
    }

    for (i = 0; i < n; i++) {
        perm[i] = i;
    }

    for (i = n - 1; i > 0; i--) {
        j = (uint32_t) recsys_rng_below(seed, (uint64_t) i + 1);
        t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }

    for (i = 0; i < n; i++) {
        w[i] = pow((double) perm[i] + 1, -s);
    }

    free(perm);

    return w;
}


/* the first index whose cumulative weight exceeds u * total */
static uint32_t
recsys_eventgen_pick(const double *cdf, uint32_t n, double u)
{
    double    x;
    uint32_t  lo, hi, mid;

    x = u * cdf[n - 1];
    lo = 0;
    hi = n - 1;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;

        if (cdf[mid] > x) {
            hi = mid;

        } else {
            lo = mid + 1;
        }
    }

    return lo;
}
