/*
 * recsys-faissbench: raw FAISS speed on a catalog's served index, beside
 * the module's own search path on the same queries.
 *
 *   recsys-faissbench <catalog.yaml> [queries=20000] [k=10] [seed=1]
 *                     [rounds=3] [pool=items]
 *
 * Opens the current generation as a worker does (inverted lists mmapped,
 * the catalog's nprobe, one OpenMP thread) and runs one query at a time;
 * the queries are the stored vectors of rows drawn with a seeded
 * generator among "pool" rows spread evenly over the catalog (a small pool
 * keeps the probed lists in the CPU caches: compute cost without memory
 * traffic).  Each round times, on the same queries:
 *
 *   faiss          quantizer search + search_preassigned(), FAISS's own
 *                  entry points: raw FAISS, what the bar of "make bench"
 *                  compares with
 *   recsys_faiss   recsys_faiss_coarse() + recsys_faiss_scan(): the same
 *                  FAISS kernels, heaps and scanners as the module calls
 *                  them, without an OpenMP region per call
 *   recsys_sq8     recsys_faiss_coarse() + recsys_faiss_scan_sq8(): the
 *                  module's own SQ8 inner-product kernel in the AVX2
 *                  build (scores differ from FAISS's in their last bits),
 *                  recsys_faiss elsewhere
 *   recsys_search  recsys_search_vector(): normalization, k+1 candidates,
 *                  heap, tie check, as POST /v1/search runs it
 *
 * faiss_Index_search() is not timed: on mmapped lists FAISS 1.7.3 starts
 * prefetch threads on every call (milliseconds a query), which is why the
 * module calls the quantizer and the scan itself.  Before timing, faiss
 * and recsys_faiss must agree on the first queries (probed lists, ids and
 * distances, bit for bit); a difference is an error.
 *
 * The round of each path with the least process CPU time is printed (on
 * a busy machine CPU time is steadier than wall time): queries/s and
 * us/query of its wall time, us/query and queries per CPU second.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <omp.h>
#include <faiss/c_api/Index_c.h>
#include <faiss/c_api/IndexIVF_c.h>
#include <faiss/c_api/error_c.h>

#include "recsys_catalog.h"
#include "recsys_faiss_scan.h"
#include "recsys_generation.h"
#include "recsys_search.h"
#include "recsys_string.h"


#define RECSYS_FB_PATHS  4

/* results compared by recsys_fb_same() up to this k + nprobe */
#define RECSYS_FB_CHECK  4096


typedef struct {
    const recsys_generation_t  *g;
    FaissIndexIVF              *ivf;
    size_t                      nprobe;
    uint32_t                    k;
    uint64_t                    nqueries;
    uint32_t                   *rows;       /* the query rows */
    float                      *query;      /* dimension floats */
    float                      *dist;       /* k + nprobe */
    int64_t                    *labels;     /* k + nprobe */
    recsys_hit_t               *hits;       /* k */
} recsys_fb_t;


typedef struct {
    const char                 *name;
    int                       (*run)(recsys_fb_t *fb, uint64_t i);
    double                      wall;       /* that round's seconds */
    double                      cpu;        /* best round, CPU seconds */
} recsys_fb_path_t;


/*
 * Set by the AVX2 FAISS objects (scripts/build-faiss-simd.sh) when they
 * are linked; a generic build leaves it undefined.
 */
extern const char recsys_faiss_simd_variant[] __attribute__((weak));


static int recsys_fb_faiss(recsys_fb_t *fb, uint64_t i);
static int recsys_fb_recsys_faiss(recsys_fb_t *fb, uint64_t i);
static int recsys_fb_recsys_sq8(recsys_fb_t *fb, uint64_t i);
static int recsys_fb_ivf(recsys_fb_t *fb, uint64_t i, int ours);
static int recsys_fb_same(recsys_fb_t *fb, uint64_t n);
static int recsys_fb_recsys_search(recsys_fb_t *fb, uint64_t i);
static int recsys_fb_round(recsys_fb_t *fb, recsys_fb_path_t *p,
    uint64_t n);
static void recsys_fb_draw(uint32_t *rows, uint64_t n, uint64_t count,
    uint64_t pool, uint64_t seed);
static double recsys_fb_clock(clockid_t id);


int
main(int argc, char **argv)
{
    int                  rc;
    char                 err[RECSYS_CATALOG_ERRLEN];
    uint64_t             nq, k, seed, rounds, pool, r, warm;
    uint32_t             i, dim;
    recsys_fb_t          fb;
    recsys_catalog_t    *c;
    recsys_fb_path_t     paths[RECSYS_FB_PATHS] = {
        { "faiss", recsys_fb_faiss, 0, 0 },
        { "recsys_faiss", recsys_fb_recsys_faiss, 0, 0 },
        { "recsys_sq8", recsys_fb_recsys_sq8, 0, 0 },
        { "recsys_search", recsys_fb_recsys_search, 0, 0 }
    };
    recsys_generation_t  g;

    nq = 20000;
    k = 10;
    seed = 1;
    rounds = 3;
    pool = UINT32_MAX;

    if (argc < 2 || argc > 7
        || (argc > 2 && recsys_parse_uint_arg(argv[2], 1, 10000000, &nq))
        || (argc > 3 && recsys_parse_uint_arg(argv[3], 1, 1000, &k))
        || (argc > 4 && recsys_parse_uint_arg(argv[4], 0, UINT64_MAX, &seed))
        || (argc > 5 && recsys_parse_uint_arg(argv[5], 1, 100, &rounds))
        || (argc > 6 && recsys_parse_uint_arg(argv[6], 1, UINT32_MAX, &pool)))
    {
        fprintf(stderr, "usage: recsys-faissbench <catalog.yaml> "
                "[queries=20000] [k=10] [seed=1] [rounds=3] "
                "[pool=items]\n");
        return 2;
    }

    omp_set_num_threads(1);

    c = recsys_catalog_load(argv[1], err, sizeof(err));
    if (c == NULL) {
        fprintf(stderr, "recsys-faissbench: %s\n", err);
        return 1;
    }

    if (recsys_generation_open_current(&g, &c->index, err, sizeof(err))
        != 0)
    {
        fprintf(stderr, "recsys-faissbench: %s\n", err);
        recsys_catalog_free(c);
        return 1;
    }

    memset(&fb, 0, sizeof(recsys_fb_t));
    dim = g.manifest.dimension;
    fb.g = &g;
    fb.k = (uint32_t) (k < g.manifest.items ? k : g.manifest.items);
    fb.nqueries = nq;
    fb.ivf = faiss_IndexIVF_cast(g.index);
    fb.nprobe = recsys_generation_nprobe(&g);

    fb.rows = malloc(nq * sizeof(uint32_t));
    fb.query = malloc(dim * sizeof(float));
    fb.dist = malloc((fb.k + fb.nprobe) * sizeof(float));
    fb.labels = malloc((fb.k + fb.nprobe) * sizeof(int64_t));
    fb.hits = malloc(fb.k * sizeof(recsys_hit_t));

    rc = 1;

    if (fb.rows == NULL || fb.query == NULL || fb.dist == NULL
        || fb.labels == NULL || fb.hits == NULL)
    {
        fprintf(stderr, "recsys-faissbench: out of memory\n");
        goto done;
    }

    if (pool > g.manifest.items) {
        pool = g.manifest.items;
    }

    recsys_fb_draw(fb.rows, nq, g.manifest.items, pool, seed);

    /* pages of the mapped lists and vectors come in before timing */
    warm = nq < 2000 ? nq : 2000;

    if (recsys_fb_same(&fb, warm) != 0) {
        goto done;
    }

    for (i = 0; i < RECSYS_FB_PATHS; i++) {
        if (recsys_fb_round(&fb, &paths[i], warm) != 0) {
            goto done;
        }

        paths[i].cpu = 0;
    }

    /* paths alternate within each round so that load spikes spread */
    for (r = 0; r < rounds; r++) {
        for (i = 0; i < RECSYS_FB_PATHS; i++) {
            if (recsys_fb_round(&fb, &paths[i], nq) != 0) {
                goto done;
            }
        }
    }

    printf("catalog        %s\n"
           "faiss          %s\n"
           "index          %s, %llu x %u %s, nprobe %zu\n"
           "queries        %llu per round (rows drawn from %llu with seed"
           " %llu), k = %u, 1 thread, least CPU of %llu rounds\n"
           "check          faiss and recsys_faiss agree on %llu queries\n\n"
           "%-14s %12s %12s %12s %12s\n",
           argv[1],
           recsys_faiss_simd_variant ? recsys_faiss_simd_variant
                                     : "generic",
           g.manifest.factory, (unsigned long long) g.manifest.items, dim,
           recsys_metric_name(g.manifest.metric), fb.nprobe,
           (unsigned long long) nq, (unsigned long long) pool,
           (unsigned long long) seed, fb.k,
           (unsigned long long) rounds, (unsigned long long) warm,
           "path", "queries/s", "us/query", "cpu us/query",
           "q/cpu-s");

    for (i = 0; i < RECSYS_FB_PATHS; i++) {
        printf("%-14s %12.0f %12.2f %12.2f %12.0f\n", paths[i].name,
               (double) nq / paths[i].wall, paths[i].wall * 1e6 / nq,
               paths[i].cpu * 1e6 / nq,
               paths[i].cpu > 0 ? (double) nq / paths[i].cpu : 0);
    }

    rc = 0;

done:

    free(fb.rows);
    free(fb.query);
    free(fb.dist);
    free(fb.labels);
    free(fb.hits);
    recsys_generation_close(&g);
    recsys_catalog_free(c);

    return rc;
}


static int
recsys_fb_faiss(recsys_fb_t *fb, uint64_t i)
{
    return recsys_fb_ivf(fb, i, 0);
}


static int
recsys_fb_recsys_faiss(recsys_fb_t *fb, uint64_t i)
{
    return recsys_fb_ivf(fb, i, 1);
}


static int
recsys_fb_recsys_sq8(recsys_fb_t *fb, uint64_t i)
{
    return recsys_fb_ivf(fb, i, 2);
}


/*
 * query i by FAISS's own entry points, or the module's ("ours": 1 its
 * FAISS scanner, 2 its SQ8 kernel)
 */

static int
recsys_fb_ivf(recsys_fb_t *fb, uint64_t i, int ours)
{
    float         *cdist;
    int64_t       *assign;
    const float   *q;

    q = fb->g->vectors + (uint64_t) fb->rows[i] * fb->g->manifest.dimension;

    if (fb->ivf == NULL) {
        return faiss_Index_search(fb->g->index, 1, q, fb->k, fb->dist,
                                  fb->labels);
    }

    cdist = fb->dist + fb->k;
    assign = fb->labels + fb->k;

    if (ours) {
        if (recsys_faiss_coarse(fb->ivf, q, fb->nprobe, assign, cdist) != 0)
        {
            return -1;
        }

        if (ours == 2) {
            return recsys_faiss_scan_sq8(fb->ivf, q, fb->nprobe, assign,
                                         cdist, fb->k, fb->dist, fb->labels);
        }

        return recsys_faiss_scan(fb->ivf, q, fb->nprobe, assign, cdist,
                                 fb->k, fb->dist, fb->labels);
    }

    if (faiss_Index_search(faiss_IndexIVF_quantizer(fb->ivf), 1, q,
                           (idx_t) fb->nprobe, cdist, assign)
        != 0)
    {
        return -1;
    }

    return faiss_IndexIVF_search_preassigned(fb->ivf, 1, q, fb->k, assign,
                                             cdist, fb->dist, fb->labels,
                                             0);
}


/* both FAISS paths probe the same lists and find the same ids, distances */

static int
recsys_fb_same(recsys_fb_t *fb, uint64_t n)
{
    size_t    m;
    uint64_t  i;
    float     dist[RECSYS_FB_CHECK];
    int64_t   labels[RECSYS_FB_CHECK];

    m = fb->k + fb->nprobe;

    if (m > RECSYS_FB_CHECK) {
        n = 0;
    }

    for (i = 0; i < n; i++) {
        if (recsys_fb_faiss(fb, i) != 0) {
            return -1;
        }

        memcpy(dist, fb->dist, m * sizeof(float));
        memcpy(labels, fb->labels, m * sizeof(int64_t));

        if (recsys_fb_recsys_faiss(fb, i) != 0) {
            return -1;
        }

        if (memcmp(dist, fb->dist, m * sizeof(float)) != 0
            || memcmp(labels, fb->labels, m * sizeof(int64_t)) != 0)
        {
            fprintf(stderr, "recsys-faissbench: query %llu (row %u): "
                    "recsys_faiss differs from faiss\n",
                    (unsigned long long) i, fb->rows[i]);
            return -1;
        }
    }

    return 0;
}


static int
recsys_fb_recsys_search(recsys_fb_t *fb, uint64_t i)
{
    uint32_t         dim, n;
    recsys_filter_t  f;

    dim = fb->g->manifest.dimension;

    /* the module's path normalizes its query in place: give it a copy */
    memcpy(fb->query, fb->g->vectors + (uint64_t) fb->rows[i] * dim,
           dim * sizeof(float));

    memset(&f, 0, sizeof(recsys_filter_t));
    f.k = fb->k;
    f.category = RECSYS_CATEGORY_ANY;

    return recsys_search_vector(fb->g, fb->query, &f, fb->hits, &n);
}


/* times n queries of path p; keeps the round of p's least CPU time */

static int
recsys_fb_round(recsys_fb_t *fb, recsys_fb_path_t *p, uint64_t n)
{
    double    wall, cpu;
    uint64_t  i;

    wall = recsys_fb_clock(CLOCK_MONOTONIC);
    cpu = recsys_fb_clock(CLOCK_PROCESS_CPUTIME_ID);

    for (i = 0; i < n; i++) {
        if (p->run(fb, i) != 0) {
            fprintf(stderr, "recsys-faissbench: %s failed: %s\n", p->name,
                    faiss_get_last_error() ? faiss_get_last_error()
                                           : "out of memory");
            return -1;
        }
    }

    wall = recsys_fb_clock(CLOCK_MONOTONIC) - wall;
    cpu = recsys_fb_clock(CLOCK_PROCESS_CPUTIME_ID) - cpu;

    if (p->cpu == 0 || cpu < p->cpu) {
        p->wall = wall;
        p->cpu = cpu;
    }

    return 0;
}


/*
 * splitmix64, so the same seed draws the same rows on every machine; the
 * pool's rows are spread evenly over the count rows
 */

static void
recsys_fb_draw(uint32_t *rows, uint64_t n, uint64_t count, uint64_t pool,
    uint64_t seed)
{
    uint64_t  i, x, z;

    x = seed;

    for (i = 0; i < n; i++) {
        x += 0x9e3779b97f4a7c15ULL;
        z = x;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        rows[i] = (uint32_t) (z % pool * (count / pool));
    }
}


static double
recsys_fb_clock(clockid_t id)
{
    struct timespec  ts;

    clock_gettime(id, &ts);

    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}
