/*
 * Query execution over a mapped generation.  FAISS answers unfiltered and
 * lightly filtered queries; small categories and queries FAISS cannot fill
 * (filters removing most candidates, IVF probes running dry) are answered
 * by an exact scan, so a result has k hits whenever k items pass.  Every
 * candidate goes through one bounded heap ordered by score, then id, which
 * makes results deterministic whichever path produced them.
 */

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <faiss/c_api/Index_c.h>
#include <faiss/c_api/IndexIVF_c.h>

#include "recsys_faiss_scan.h"
#include "recsys_search.h"


/* categories up to this many rows are scanned exactly */
#define RECSYS_SEARCH_EXACT_ROWS   4096

/*
 * so are categories holding at most 1/8 of the catalog: FAISS would need
 * about 8k candidates to find k of them
 */
#define RECSYS_SEARCH_EXACT_SHARE  8

/* beyond this many FAISS candidates an exact scan is cheaper */
#define RECSYS_SEARCH_MAX_KK       16384

/* exclude lists longer than this are sorted and binary-searched */
#define RECSYS_SEARCH_LINEAR       16

/*
 * a category filter keeps about its share of FAISS's candidates: the
 * first call asks for this many times what that share needs, so that it
 * is nearly always the only one
 */
#define RECSYS_SEARCH_MARGIN       2

/* probe lists and candidates up to this many live on the stack */
#define RECSYS_SEARCH_STACK        64

#define RECSYS_NO_ROW              0xffffffffu

/* hits asked for by each warm-up search, a usual k */
#define RECSYS_WARM_K              10


typedef struct {
    const recsys_generation_t  *g;
    const uint32_t             *exclude;
    size_t                      nexclude;
    uint32_t                   *sorted;     /* owned copy, or NULL */
    uint32_t                    extra;      /* one more excluded row */
    int64_t                     category;
} recsys_pass_t;


typedef struct {
    const recsys_generation_t  *g;
    recsys_hit_t               *hits;
    uint32_t                    n;
    uint32_t                    cap;
} recsys_heap_t;


/* one query's probed lists, found once for every FAISS call it needs */
typedef struct {
    FaissIndex                 *index;
    FaissIndexIVF              *ivf;        /* NULL: not an IVF index */
    size_t                      nprobe;
    idx_t                      *assign;
    float                      *cdist;
    int                         owned;      /* assign is freed after */
    idx_t                       stack[RECSYS_SEARCH_STACK];
    float                       fstack[RECSYS_SEARCH_STACK];
} recsys_probe_t;


/* the builder's threads share one row counter */
typedef struct {
    const recsys_generation_t  *g;
    uint32_t                    m;
    int32_t                    *rows;
    float                      *scores;
    uint64_t                    next;
    int                         failed;
} recsys_neighbors_job_t;


uint64_t  recsys_search_faiss_calls;


static int recsys_pass_init(recsys_pass_t *p, const recsys_generation_t *g,
    const recsys_filter_t *f, uint32_t extra);
static int recsys_pass_row(const recsys_pass_t *p, uint32_t row,
    int check_category);
static int recsys_cmp_u32(const void *a, const void *b);
static int recsys_hit_worse(const recsys_generation_t *g,
    const recsys_hit_t *a, const recsys_hit_t *b);
static void recsys_heap_sift_down(recsys_heap_t *h, uint32_t i);
static void recsys_heap_push(recsys_heap_t *h, uint32_t row, float score);
static void recsys_heap_sort(recsys_heap_t *h);
static float recsys_score(const recsys_generation_t *g, const float *query,
    uint32_t row);
static void recsys_scan(const recsys_generation_t *g, const float *query,
    const recsys_pass_t *p, const uint32_t *rows, uint64_t nrows,
    recsys_heap_t *h);
static int recsys_probe_init(recsys_probe_t *pr, FaissIndex *index,
    const float *query);
static int recsys_probe_search(recsys_probe_t *pr, const float *query,
    idx_t k, float *dist, idx_t *labels);
static void recsys_probe_free(recsys_probe_t *pr);
static int recsys_faiss_search(FaissIndex *index, const float *query,
    idx_t k, float *dist, idx_t *labels);
static int recsys_search_faiss(const recsys_generation_t *g,
    const float *query, const recsys_lists_t *lists, size_t li,
    const recsys_pass_t *p, recsys_heap_t *h);
static int recsys_search_run(const recsys_generation_t *g,
    const float *query, const recsys_lists_t *lists, size_t li,
    const recsys_pass_t *p, uint32_t k, recsys_hit_t *out, uint32_t *nout);
static int recsys_category_exact(const recsys_generation_t *g, uint32_t n);
static void *recsys_neighbors_worker(void *data);
static int recsys_neighbors_row(const recsys_generation_t *g, uint32_t row,
    uint32_t m, idx_t kk, idx_t *labels, recsys_hit_t *hits, int32_t *rows,
    float *scores);


int
recsys_search_vector(const recsys_generation_t *g, float *query,
    const recsys_filter_t *f, recsys_hit_t *out, uint32_t *nout)
{
    int            rc;
    recsys_pass_t  p;

    *nout = 0;

    if (g->manifest.metric == RECSYS_METRIC_COSINE) {
        recsys_normalize(query, g->manifest.dimension);
    }

    if (recsys_pass_init(&p, g, f, RECSYS_NO_ROW) != 0) {
        return -1;
    }

    rc = recsys_search_run(g, query, NULL, 0, &p, f->k, out, nout);

    free(p.sorted);

    return rc;
}


int
recsys_search_lists(const recsys_generation_t *g, float *queries, size_t n,
    recsys_lists_t *lists)
{
    size_t          i, nlist, dim;
    FaissIndexIVF  *ivf;

    dim = g->manifest.dimension;
    lists->nprobe = 0;
    lists->assign = NULL;
    lists->cdist = NULL;

    if (g->manifest.metric == RECSYS_METRIC_COSINE) {
        for (i = 0; i < n; i++) {
            recsys_normalize(queries + i * dim, (uint32_t) dim);
        }
    }

    ivf = faiss_IndexIVF_cast((FaissIndex *) g->index);

    if (ivf == NULL || n == 0) {
        return 0;
    }

    /* as recsys_probe_init() bounds it */
    lists->nprobe = faiss_IndexIVF_nprobe(ivf);
    nlist = faiss_IndexIVF_nlist(ivf);

    if (lists->nprobe > nlist) {
        lists->nprobe = nlist;
    }

    if (lists->nprobe == 0) {
        lists->nprobe = 1;
    }

    lists->assign = malloc(n * lists->nprobe
                           * (sizeof(int64_t) + sizeof(float)));
    if (lists->assign == NULL) {
        lists->nprobe = 0;
        return -1;
    }

    lists->cdist = (float *) (lists->assign + n * lists->nprobe);

    __atomic_fetch_add(&recsys_search_faiss_calls, 1, __ATOMIC_RELAXED);

    if (recsys_faiss_coarse_n(ivf, n, queries, lists->nprobe, lists->assign,
                              lists->cdist)
        != 0)
    {
        recsys_search_lists_free(lists);
        return -1;
    }

    return 0;
}


void
recsys_search_lists_free(recsys_lists_t *lists)
{
    free(lists->assign);

    lists->assign = NULL;
    lists->cdist = NULL;
    lists->nprobe = 0;
}


int
recsys_search_vector_lists(const recsys_generation_t *g, const float *query,
    const recsys_lists_t *lists, size_t i, const recsys_filter_t *f,
    recsys_hit_t *out, uint32_t *nout)
{
    int            rc;
    recsys_pass_t  p;

    *nout = 0;

    if (recsys_pass_init(&p, g, f, RECSYS_NO_ROW) != 0) {
        return -1;
    }

    rc = recsys_search_run(g, query, lists, i, &p, f->k, out, nout);

    free(p.sorted);

    return rc;
}


int
recsys_search_similar(const recsys_generation_t *g, uint32_t row,
    const recsys_filter_t *f, recsys_hit_t *out, uint32_t *nout)
{
    int            rc;
    recsys_pass_t  p;

    *nout = 0;

    if (row >= g->items.count) {
        return 0;
    }

    if (recsys_pass_init(&p, g, f, row) != 0) {
        return -1;
    }

    /* stored rows are normalized at build time for cosine already */

    rc = recsys_search_run(g, g->vectors + (size_t) row * g->manifest.dimension,
                           NULL, 0,
                           &p, f->k, out, nout);

    free(p.sorted);

    return rc;
}


/*
 * Searches for rows spread over the catalog, as requests would: the
 * first search on a freshly read index costs several times a later one
 * (centroids, scanner, lists and records not in any CPU cache yet), and
 * whoever runs this pays it instead of the first request.
 */

uint32_t
recsys_search_warm(const recsys_generation_t *g, uint32_t searches)
{
    uint32_t         i, n, done;
    recsys_hit_t     hits[RECSYS_WARM_K];
    recsys_filter_t  f;

    memset(&f, 0, sizeof(recsys_filter_t));
    f.k = RECSYS_WARM_K;
    f.category = RECSYS_CATEGORY_ANY;
    done = 0;

    for (i = 0; i < searches && g->items.count > 0; i++) {
        if (recsys_search_similar(g, (uint32_t) ((uint64_t) g->items.count
                                                 * i / searches),
                                  &f, hits, &n)
            == 0)
        {
            done++;
        }
    }

    return done;
}


/*
 * A row's list is a prefix of its live candidates in result order, so the
 * first k passing the filter are the live answer, provided the live search
 * would not look past the list: the list must hold every candidate, or
 * end with a score below the k-th one (ties there may continue past it).
 */

int
recsys_search_neighbors(const recsys_generation_t *g, uint32_t row,
    const recsys_filter_t *f, recsys_hit_t *out, uint32_t *nout)
{
    int32_t                    r;
    uint32_t                   i, m, n, found;
    recsys_pass_t              p;
    const float               *scores;
    const int32_t             *rows;
    const recsys_neighbors_t  *nb;

    *nout = 0;
    nb = &g->neighbors;

    if (nb->rows == NULL || row >= nb->count || f->k == 0 || f->k > nb->m
        || f->category == RECSYS_CATEGORY_NONE)
    {
        return 0;
    }

    /* small categories are scanned exactly by the live search */

    if (f->category >= 0) {
        if ((uint64_t) f->category >= g->items.ncategories
            || recsys_items_category_rows(&g->items, (uint32_t) f->category,
                                          &n)
               == NULL
            || n == 0
            || recsys_category_exact(g, n))
        {
            return 0;
        }
    }

    if (recsys_pass_init(&p, g, f, row) != 0) {
        return -1;
    }

    m = nb->m;
    rows = nb->rows + (size_t) row * m;
    scores = nb->scores + (size_t) row * m;
    found = 0;

    for (i = 0; i < m && found < f->k; i++) {
        r = rows[i];

        if (r < 0) {
            break;
        }

        if ((uint64_t) r >= g->items.count
            || !recsys_pass_row(&p, (uint32_t) r, 1))
        {
            continue;
        }

        out[found].row = (uint32_t) r;
        out[found].score = scores[i];
        found++;
    }

    free(p.sorted);

    if (found < f->k) {
        return 0;
    }

    for ( /* void */ ; i < m && rows[i] >= 0; i++) {
        if (scores[i] != out[found - 1].score) {
            *nout = found;
            return 1;
        }
    }

    if (i < m && rows[i] == RECSYS_NEIGHBORS_END) {
        *nout = found;
        return 1;
    }

    return 0;
}


int
recsys_neighbors_compute(const recsys_generation_t *g, uint32_t m,
    int threads, int32_t *rows, float *scores, char *err, size_t errlen)
{
    int                      i, started;
    pthread_t               *tids;
    recsys_neighbors_job_t   job;

    job.g = g;
    job.m = m;
    job.rows = rows;
    job.scores = scores;
    job.next = 0;
    job.failed = 0;

    if (g->items.count == 0 || m == 0) {
        return 0;
    }

    if (threads < 1) {
        threads = 1;
    }

    tids = calloc(threads, sizeof(pthread_t));
    if (tids == NULL) {
        snprintf(err, errlen, "%s: out of memory", RECSYS_NEIGHBORS_FILE);
        return -1;
    }

    /* this thread is one of them; fewer threads is not an error */

    started = 0;

    for (i = 1; i < threads; i++) {
        if (pthread_create(&tids[started], NULL, recsys_neighbors_worker,
                           &job)
            != 0)
        {
            break;
        }

        started++;
    }

    recsys_neighbors_worker(&job);

    for (i = 0; i < started; i++) {
        pthread_join(tids[i], NULL);
    }

    free(tids);

    if (job.failed) {
        snprintf(err, errlen, "%s: FAISS search or allocation failed",
                 RECSYS_NEIGHBORS_FILE);
        return -1;
    }

    return 0;
}


static void *
recsys_neighbors_worker(void *data)
{
    idx_t                    kk, ntotal;
    idx_t                   *labels;
    uint64_t                 row;
    recsys_hit_t            *hits;
    recsys_neighbors_job_t  *job;

    job = data;

    /* the item itself, m neighbors, and one more to see a tie at the cut */

    ntotal = faiss_Index_ntotal((FaissIndex *) job->g->index);
    kk = (idx_t) job->m + 2;
    if (kk > ntotal) {
        kk = ntotal;
    }

    labels = malloc(kk * (sizeof(idx_t) + sizeof(float)));
    hits = malloc(job->m * sizeof(recsys_hit_t));

    if (kk <= 0 || labels == NULL || hits == NULL) {
        __atomic_store_n(&job->failed, 1, __ATOMIC_RELAXED);
        free(labels);
        free(hits);
        return NULL;
    }

    for ( ;; ) {
        if (__atomic_load_n(&job->failed, __ATOMIC_RELAXED)) {
            break;
        }

        row = __atomic_fetch_add(&job->next, 1, __ATOMIC_RELAXED);
        if (row >= job->g->items.count) {
            break;
        }

        if (recsys_neighbors_row(job->g, (uint32_t) row, job->m, kk, labels,
                                 hits, job->rows + row * job->m,
                                 job->scores + row * job->m)
            != 0)
        {
            __atomic_store_n(&job->failed, 1, __ATOMIC_RELAXED);
            break;
        }
    }

    free(labels);
    free(hits);

    return NULL;
}


/*
 * One row, through the live path's FAISS call and heap, so that ids,
 * scores and tie order are the live search's own.
 */

static int
recsys_neighbors_row(const recsys_generation_t *g, uint32_t row, uint32_t m,
    idx_t kk, idx_t *labels, recsys_hit_t *hits, int32_t *rows,
    float *scores)
{
    int             l2, dry, complete;
    float          *dist, last;
    idx_t           i, ntotal;
    int32_t         pad;
    uint32_t        j, n, ncand;
    recsys_heap_t   h;

    ntotal = faiss_Index_ntotal((FaissIndex *) g->index);
    l2 = (g->manifest.metric == RECSYS_METRIC_L2);
    dist = (float *) (labels + kk);

    if (recsys_faiss_search((FaissIndex *) g->index,
                            g->vectors + (size_t) row * g->manifest.dimension,
                            kk, dist, labels)
        != 0)
    {
        return -1;
    }

    h.g = g;
    h.hits = hits;
    h.n = 0;
    h.cap = m;

    dry = 0;
    ncand = 0;

    for (i = 0; i < kk; i++) {
        if (labels[i] < 0) {
            dry = 1;
            continue;
        }

        if ((uint64_t) labels[i] >= g->items.count
            || (uint32_t) labels[i] == row)
        {
            continue;
        }

        ncand++;
        recsys_heap_push(&h, (uint32_t) labels[i],
                         l2 ? -dist[i] : dist[i]);
    }

    recsys_heap_sort(&h);
    n = h.n;

    if (dry || kk >= ntotal) {
        /* every candidate of the probed lists was seen */
        complete = (ncand <= m);

    } else {
        /* unseen candidates tying the last seen one may have smaller ids */
        last = l2 ? -dist[kk - 1] : dist[kk - 1];
        complete = 0;

        while (n > 0 && hits[n - 1].score == last) {
            n--;
        }
    }

    for (j = 0; j < n; j++) {
        rows[j] = (int32_t) hits[j].row;
        scores[j] = hits[j].score;
    }

    pad = complete ? RECSYS_NEIGHBORS_END : RECSYS_NEIGHBORS_CUT;

    for ( /* void */ ; j < m; j++) {
        rows[j] = pad;
        scores[j] = 0;
    }

    return 0;
}


int
recsys_search_popular(const recsys_generation_t *g,
    const recsys_filter_t *f, recsys_hit_t *out, uint32_t *nout)
{
    uint32_t         i, n, found;
    recsys_pass_t    p;
    recsys_item_t    it;
    const uint32_t  *rows;

    *nout = 0;

    if (f->k == 0 || f->category == RECSYS_CATEGORY_NONE) {
        return 0;
    }

    if (f->category >= 0) {
        if ((uint64_t) f->category >= g->items.ncategories) {
            return 0;
        }

        /* a category's rows are stored by popularity already */

        rows = recsys_items_category_rows(&g->items, (uint32_t) f->category,
                                          &n);

    } else {
        rows = g->items.popular;
        n = (uint32_t) g->items.count;
    }

    if (rows == NULL || n == 0) {
        return 0;
    }

    if (recsys_pass_init(&p, g, f, RECSYS_NO_ROW) != 0) {
        return -1;
    }

    found = 0;

    for (i = 0; i < n && found < f->k; i++) {
        if (!recsys_pass_row(&p, rows[i], 0)) {
            continue;
        }

        recsys_items_get(&g->items, rows[i], &it);

        out[found].row = rows[i];
        out[found].score = it.popularity;
        found++;
    }

    free(p.sorted);

    *nout = found;

    return 0;
}


void
recsys_history_vector(const recsys_generation_t *g, const uint32_t *rows,
    size_t n, float *out)
{
    size_t        i, used;
    uint32_t      j, dim;
    const float  *v;

    dim = g->manifest.dimension;

    memset(out, 0, (size_t) dim * sizeof(float));

    used = 0;

    for (i = 0; i < n; i++) {
        if (rows[i] >= g->items.count) {
            continue;
        }

        v = g->vectors + (size_t) rows[i] * dim;

        for (j = 0; j < dim; j++) {
            out[j] += v[j];
        }

        used++;
    }

    if (used > 1) {
        for (j = 0; j < dim; j++) {
            out[j] /= (float) used;
        }
    }
}


/*
 * In double, like the builder: the norm of a float vector is never 0 or
 * inf there, while 1 / norm of subnormal components overflows a float
 */

void
recsys_normalize(float *v, uint32_t dimension)
{
    double    sum, norm;
    uint32_t  i;

    sum = 0.0;

    for (i = 0; i < dimension; i++) {
        sum += (double) v[i] * v[i];
    }

    if (sum == 0.0) {
        return;
    }

    norm = sqrt(sum);

    for (i = 0; i < dimension; i++) {
        v[i] = (float) (v[i] / norm);
    }
}


int
recsys_hits_finite(const recsys_hit_t *hits, uint32_t n)
{
    uint32_t  i;

    for (i = 0; i < n; i++) {
        if (!isfinite(hits[i].score)) {
            return 0;
        }
    }

    return 1;
}


static int
recsys_pass_init(recsys_pass_t *p, const recsys_generation_t *g,
    const recsys_filter_t *f, uint32_t extra)
{
    p->g = g;
    p->exclude = f->exclude;
    p->nexclude = f->exclude ? f->nexclude : 0;
    p->sorted = NULL;
    p->extra = extra;
    p->category = f->category;

    if (p->nexclude > RECSYS_SEARCH_LINEAR) {
        p->sorted = malloc(p->nexclude * sizeof(uint32_t));
        if (p->sorted == NULL) {
            return -1;
        }

        memcpy(p->sorted, f->exclude, p->nexclude * sizeof(uint32_t));
        qsort(p->sorted, p->nexclude, sizeof(uint32_t), recsys_cmp_u32);
        p->exclude = p->sorted;
    }

    return 0;
}


static int
recsys_pass_row(const recsys_pass_t *p, uint32_t row, int check_category)
{
    size_t         i;
    recsys_item_t  it;

    if (row == p->extra) {
        return 0;
    }

    if (p->sorted) {
        if (bsearch(&row, p->sorted, p->nexclude, sizeof(uint32_t),
                    recsys_cmp_u32)
            != NULL)
        {
            return 0;
        }

    } else {
        for (i = 0; i < p->nexclude; i++) {
            if (p->exclude[i] == row) {
                return 0;
            }
        }
    }

    if (check_category && p->category >= 0) {
        recsys_items_get(&p->g->items, row, &it);
        return (int64_t) it.category_no == p->category;
    }

    return 1;
}


static int
recsys_cmp_u32(const void *a, const void *b)
{
    uint32_t  x, y;

    x = *(const uint32_t *) a;
    y = *(const uint32_t *) b;

    return (x > y) - (x < y);
}


/* a ranks after b: lower score, or the same score and a greater id */

static int
recsys_hit_worse(const recsys_generation_t *g, const recsys_hit_t *a,
    const recsys_hit_t *b)
{
    int            rc;
    size_t         len;
    recsys_item_t  ia, ib;

    if (a->score != b->score) {
        return a->score < b->score;
    }

    recsys_items_get(&g->items, a->row, &ia);
    recsys_items_get(&g->items, b->row, &ib);

    len = ia.id_len < ib.id_len ? ia.id_len : ib.id_len;

    rc = memcmp(ia.id, ib.id, len);
    if (rc != 0) {
        return rc > 0;
    }

    return ia.id_len > ib.id_len;
}


/* the heap keeps its worst hit at the root, ready to be replaced */

static void
recsys_heap_sift_down(recsys_heap_t *h, uint32_t i)
{
    uint32_t      c, worst;
    recsys_hit_t  t;

    for ( ;; ) {
        worst = i;
        c = 2 * i + 1;

        if (c < h->n && recsys_hit_worse(h->g, &h->hits[c], &h->hits[worst]))
        {
            worst = c;
        }

        c++;

        if (c < h->n && recsys_hit_worse(h->g, &h->hits[c], &h->hits[worst]))
        {
            worst = c;
        }

        if (worst == i) {
            return;
        }

        t = h->hits[i];
        h->hits[i] = h->hits[worst];
        h->hits[worst] = t;
        i = worst;
    }
}


static void
recsys_heap_push(recsys_heap_t *h, uint32_t row, float score)
{
    uint32_t      i, parent;
    recsys_hit_t  hit, t;

    if (h->cap == 0) {
        return;
    }

    hit.row = row;
    hit.score = score;

    if (h->n == h->cap) {
        if (!recsys_hit_worse(h->g, &h->hits[0], &hit)) {
            return;
        }

        h->hits[0] = hit;
        recsys_heap_sift_down(h, 0);
        return;
    }

    i = h->n++;
    h->hits[i] = hit;

    while (i > 0) {
        parent = (i - 1) / 2;

        if (!recsys_hit_worse(h->g, &h->hits[i], &h->hits[parent])) {
            break;
        }

        t = h->hits[i];
        h->hits[i] = h->hits[parent];
        h->hits[parent] = t;
        i = parent;
    }
}


/* heapsort in place: the worst goes last, so hits end up best first */

static void
recsys_heap_sort(recsys_heap_t *h)
{
    uint32_t      n;
    recsys_hit_t  t;

    n = h->n;

    while (h->n > 1) {
        t = h->hits[0];
        h->hits[0] = h->hits[h->n - 1];
        h->hits[h->n - 1] = t;
        h->n--;
        recsys_heap_sift_down(h, 0);
    }

    h->n = n;
}


static float
recsys_score(const recsys_generation_t *g, const float *query, uint32_t row)
{
    uint32_t  dim;

    dim = g->manifest.dimension;

    return recsys_vector_score(query, g->vectors + (size_t) row * dim, dim,
                               g->manifest.metric == RECSYS_METRIC_L2);
}


/* exact scan of rows[0..nrows), or of every row when rows is NULL */

static void
recsys_scan(const recsys_generation_t *g, const float *query,
    const recsys_pass_t *p, const uint32_t *rows, uint64_t nrows,
    recsys_heap_t *h)
{
    int       check_category;
    uint32_t  row;
    uint64_t  i;

    h->n = 0;
    check_category = (rows == NULL);

    for (i = 0; i < nrows; i++) {
        row = rows ? rows[i] : (uint32_t) i;

        if (row >= g->items.count || !recsys_pass_row(p, row, check_category))
        {
            continue;
        }

        recsys_heap_push(h, row, recsys_score(g, query, row));
    }
}


/*
 * The coarse quantizer's lists of one query.  For IVF indexes the two
 * halves of the search are called directly: IndexIVF::search() first asks
 * the inverted lists to prefetch, and mmapped (on-disk) lists start up to
 * 32 threads per query for that, which costs far more than the search;
 * recsys_faiss_scan.h runs the halves without their OpenMP regions.
 */

static int
recsys_probe_init(recsys_probe_t *pr, FaissIndex *index, const float *query)
{
    size_t  nlist;

    pr->index = index;
    pr->ivf = faiss_IndexIVF_cast(index);
    pr->assign = NULL;
    pr->cdist = NULL;
    pr->nprobe = 0;
    pr->owned = 1;

    if (pr->ivf == NULL) {
        return 0;
    }

    pr->nprobe = faiss_IndexIVF_nprobe(pr->ivf);
    nlist = faiss_IndexIVF_nlist(pr->ivf);

    if (pr->nprobe > nlist) {
        pr->nprobe = nlist;
    }

    if (pr->nprobe == 0) {
        pr->nprobe = 1;
    }

    if (pr->nprobe <= RECSYS_SEARCH_STACK) {
        pr->assign = pr->stack;
        pr->cdist = pr->fstack;

    } else {
        pr->assign = malloc(pr->nprobe * (sizeof(idx_t) + sizeof(float)));
        if (pr->assign == NULL) {
            return -1;
        }

        pr->cdist = (float *) (pr->assign + pr->nprobe);
    }

    __atomic_fetch_add(&recsys_search_faiss_calls, 1, __ATOMIC_RELAXED);

    return recsys_faiss_coarse(pr->ivf, query, pr->nprobe, pr->assign,
                               pr->cdist);
}


/* the k best of the probed lists; may be called again with another k */

static int
recsys_probe_search(recsys_probe_t *pr, const float *query, idx_t k,
    float *dist, idx_t *labels)
{
    __atomic_fetch_add(&recsys_search_faiss_calls, 1, __ATOMIC_RELAXED);

    if (pr->ivf == NULL) {
        return faiss_Index_search(pr->index, 1, query, k, dist, labels);
    }

    return recsys_faiss_scan_sq8(pr->ivf, query, pr->nprobe, pr->assign,
                                 pr->cdist, k, dist, labels);
}


static void
recsys_probe_free(recsys_probe_t *pr)
{
    if (pr->assign != NULL && pr->assign != pr->stack && pr->owned) {
        free(pr->assign);
    }

    pr->assign = NULL;
}


static int
recsys_faiss_search(FaissIndex *index, const float *query, idx_t k,
    float *dist, idx_t *labels)
{
    int             rc;
    recsys_probe_t  pr;

    rc = recsys_probe_init(&pr, index, query);
    if (rc == 0) {
        rc = recsys_probe_search(&pr, query, k, dist, labels);
    }

    recsys_probe_free(&pr);

    return rc;
}


/*
 * Asks FAISS for more candidates than k so that filtered rows can be
 * dropped: under a category filter as many as its share of the catalog
 * needs, twice over, then doubling while it is worth it; the lists are
 * probed once whatever the number of scans.  Returns 1 when the heap is
 * full, 0 when FAISS cannot fill it (an exact scan must), -1 on error.
 */

static int
recsys_search_faiss(const recsys_generation_t *g, const float *query,
    const recsys_lists_t *lists, size_t li, const recsys_pass_t *p,
    recsys_heap_t *h)
{
    int              rc, dry, l2;
    float           *dist, last;
    idx_t           *labels, kk, ntotal, i;
    uint32_t         row, n;
    recsys_probe_t   pr;
    idx_t            stack[RECSYS_SEARCH_STACK];
    float            fstack[RECSYS_SEARCH_STACK];

    ntotal = faiss_Index_ntotal((FaissIndex *) g->index);

    if (ntotal <= 0) {
        return 0;
    }

    /* one more than can be dropped, to see whether the k-th score ties */

    kk = (idx_t) h->cap + (idx_t) p->nexclude
         + (p->extra != RECSYS_NO_ROW) + 1;

    if (p->category >= 0
        && recsys_items_category_rows(&g->items, (uint32_t) p->category, &n)
           != NULL
        && n > 0)
    {
        kk = kk * RECSYS_SEARCH_MARGIN * (idx_t) g->items.count / n;

        if (kk > RECSYS_SEARCH_MAX_KK) {
            kk = RECSYS_SEARCH_MAX_KK;
        }
    }

    if (kk > ntotal) {
        kk = ntotal;
    }

    l2 = (g->manifest.metric == RECSYS_METRIC_L2);

    /*
     * the lists are probed once, or were with the rest of a batch; a
     * retry only scans them for more
     */
    if (lists != NULL && lists->nprobe) {
        pr.index = (FaissIndex *) g->index;
        pr.ivf = faiss_IndexIVF_cast(pr.index);
        pr.nprobe = lists->nprobe;
        pr.assign = lists->assign + li * lists->nprobe;
        pr.cdist = lists->cdist + li * lists->nprobe;
        pr.owned = 0;

    } else if (recsys_probe_init(&pr, (FaissIndex *) g->index, query) != 0) {
        recsys_probe_free(&pr);
        return -1;
    }

    for ( ;; ) {
        if (kk <= RECSYS_SEARCH_STACK) {
            labels = stack;
            dist = fstack;

        } else {
            labels = malloc(kk * (sizeof(idx_t) + sizeof(float)));
            if (labels == NULL) {
                recsys_probe_free(&pr);
                return -1;
            }

            dist = (float *) (labels + kk);
        }

        rc = recsys_probe_search(&pr, query, kk, dist, labels);
        if (rc != 0) {
            rc = -1;
            goto done;
        }

        h->n = 0;
        dry = 0;
        last = l2 ? -dist[kk - 1] : dist[kk - 1];

        for (i = 0; i < kk; i++) {
            if (labels[i] < 0) {
                /* the probed lists hold fewer than kk vectors */
                dry = 1;
                continue;
            }

            if ((uint64_t) labels[i] >= g->items.count) {
                continue;
            }

            row = (uint32_t) labels[i];

            if (!recsys_pass_row(p, row, 1)) {
                continue;
            }

            recsys_heap_push(h, row, l2 ? -dist[i] : dist[i]);
        }

        /*
         * FAISS cuts a run of equal scores anywhere: when the last
         * candidate ties with the worst hit kept, rows with smaller ids
         * may lie past kk
         */

        if (h->n == h->cap
            && (dry || kk >= ntotal || last != h->hits[0].score))
        {
            rc = 1;
            goto done;
        }

        if (dry || kk >= ntotal || kk >= RECSYS_SEARCH_MAX_KK) {
            rc = 0;
            goto done;
        }

        if (labels != stack) {
            free(labels);
        }

        kk *= 2;
        if (kk > ntotal) {
            kk = ntotal;
        }
    }

done:

    if (labels != stack) {
        free(labels);
    }

    recsys_probe_free(&pr);

    return rc;
}


static int
recsys_search_run(const recsys_generation_t *g, const float *query,
    const recsys_lists_t *lists, size_t li, const recsys_pass_t *p,
    uint32_t k, recsys_hit_t *out, uint32_t *nout)
{
    int              rc;
    uint32_t         i, n;
    recsys_heap_t    h;
    const uint32_t  *rows;

    *nout = 0;

    if (k == 0 || p->category == RECSYS_CATEGORY_NONE
        || g->items.count == 0)
    {
        return 0;
    }

    h.g = g;
    h.hits = out;
    h.n = 0;
    h.cap = k;

    rows = NULL;
    n = 0;

    if (p->category >= 0) {
        if ((uint64_t) p->category >= g->items.ncategories) {
            return 0;
        }

        rows = recsys_items_category_rows(&g->items, (uint32_t) p->category,
                                          &n);
        if (rows == NULL || n == 0) {
            return 0;
        }

        if (recsys_category_exact(g, n)) {
            recsys_scan(g, query, p, rows, n, &h);
            goto done;
        }
    }

    rc = recsys_search_faiss(g, query, lists, li, p, &h);
    if (rc < 0) {
        return -1;
    }

    if (rc == 0) {
        if (rows) {
            recsys_scan(g, query, p, rows, n, &h);

        } else {
            recsys_scan(g, query, p, NULL, g->items.count, &h);
        }
    }

done:

    recsys_heap_sort(&h);
    *nout = h.n;

    /* every answer's records and strings are read next */
    for (i = 0; i < h.n; i++) {
        recsys_items_prefetch(&g->items, out[i].row, 0);
    }

    for (i = 0; i < h.n; i++) {
        recsys_items_prefetch(&g->items, out[i].row, 1);
    }

    return 0;
}


/* the live search scans small categories exactly instead of asking FAISS */

static int
recsys_category_exact(const recsys_generation_t *g, uint32_t n)
{
    return n <= RECSYS_SEARCH_EXACT_ROWS
           || (uint64_t) n * RECSYS_SEARCH_EXACT_SHARE <= g->items.count;
}
