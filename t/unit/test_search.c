/*
 * Unit tests for recsys_search.c.  Generations are written to a temp
 * directory with the artifact writer and real FAISS indexes, opened with
 * recsys_generation_open(), and every search is checked against a brute
 * force computed here in double precision.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <faiss/c_api/Index_c.h>
#include <faiss/c_api/index_factory_c.h>
#include <faiss/c_api/index_io_c.h>

#include "recsys_items_writer.h"
#include "recsys_search.h"


#define NGENS     5
#define GEN_COS   0     /* 300 x 8 cosine, IVF1, 3 categories, ties */
#define GEN_BIG   1     /* 6000 x 4 cosine, IVF1, "big" 5000 + "small" */
#define GEN_L2    2     /* 200 x 8 l2, IVF1 */
#define GEN_IVF   3     /* 800 x 8 cosine, IVF16, nprobe 1 */
#define GEN_QUART 4     /* 20000 x 4 cosine, IVF1, 4 categories of 5000 */

#define MAXK      1000


typedef struct {
    char                 dir[512];
    recsys_generation_t  g;
} test_gen_t;


typedef struct {
    uint32_t             row;
    double               score;
} test_ref_t;


static char                        test_root[256];
static test_gen_t                  gens[NGENS];
static const recsys_generation_t  *sort_gen;
static uint32_t                    rng_state = 12345;


static float test_rand(void);
static const char *test_id(uint32_t gen, uint32_t i, char *buf);
static const char *test_category(uint32_t gen, uint32_t i);
static void test_write_vectors(const char *path, const float *v, size_t n);
static void test_sum_file(const char *dir, const char *name,
    recsys_file_sum_t *fs);
static void test_make_gen(uint32_t gen, uint32_t n, uint32_t dim, int metric,
    const char *factory, uint32_t nlist, uint32_t nprobe);
static int test_id_cmp(uint32_t a, uint32_t b);
static int test_ref_cmp(const void *a, const void *b);
static uint32_t test_brute(const recsys_generation_t *g, const float *query,
    const uint8_t *excluded, int64_t category, uint32_t k, test_ref_t *ref);
static void test_check(const recsys_generation_t *g, const recsys_hit_t *hits,
    uint32_t n, const test_ref_t *ref, uint32_t nref);
static int64_t test_cat(const recsys_generation_t *g, const char *name);
static void test_random_query(uint32_t dim, float *q);
static void test_batch_lists(void **state);
static void test_neighbors_of(uint32_t gen, uint32_t m, int32_t **rows,
    float **scores, recsys_generation_t *ng);
static uint32_t test_neighbors_compare(const recsys_generation_t *ng,
    const recsys_generation_t *g, uint32_t row, const recsys_filter_t *f);


static float
test_rand(void)
{
    rng_state = rng_state * 1103515245u + 12345u;

    return (float) ((rng_state >> 8) & 0xffff) / 32768.0f - 1.0f;
}


static const char *
test_id(uint32_t gen, uint32_t i, char *buf)
{
    /* ids whose order differs from row order: "dup" < "dup-a" < "dupa" */

    if (gen == GEN_COS) {
        switch (i) {
        case 5:
            return "dup-z";
        case 10:
            return "dup";
        case 20:
            return "dup-b";
        case 30:
            return "dup-a";
        case 40:
            return "dupa";
        }
    }

    sprintf(buf, "item%05u", i);

    return buf;
}


static const char *
test_category(uint32_t gen, uint32_t i)
{
    static const char  *three[3] = { "cat0", "cat1", "cat2" };
    static const char  *four[4] = { "q0", "q1", "q2", "q3" };

    switch (gen) {
    case GEN_COS:
        return three[i % 3];
    case GEN_BIG:
        return (i % 6 == 0) ? "small" : "big";
    case GEN_IVF:
        return three[i % 3];
    case GEN_QUART:
        return four[i % 4];
    default:
        return NULL;
    }
}


static void
test_write_vectors(const char *path, const float *v, size_t n)
{
    FILE  *f;

    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(v, sizeof(float), n, f), n);
    assert_int_equal(fclose(f), 0);
}


static void
test_sum_file(const char *dir, const char *name, recsys_file_sum_t *fs)
{
    char   path[600], *data;
    long   size;
    FILE  *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);

    f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    size = ftell(f);
    assert_true(size > 0);
    rewind(f);

    data = malloc(size);
    assert_non_null(data);
    assert_int_equal(fread(data, 1, size, f), (size_t) size);
    fclose(f);

    snprintf(fs->name, sizeof(fs->name), "%s", name);
    fs->size = (uint64_t) size;
    fs->checksum = recsys_checksum(data, size);

    free(data);
}


static void
test_make_gen(uint32_t gen, uint32_t n, uint32_t dim, int metric,
    const char *factory, uint32_t nlist, uint32_t nprobe)
{
    char                    path[600], err[RECSYS_ERRLEN], id[32];
    float                  *v;
    uint32_t                i, j;
    FaissIndex             *idx;
    const char             *cat;
    recsys_item_t           it;
    recsys_manifest_t       m;
    recsys_items_writer_t  *w;
    test_gen_t             *t;

    t = &gens[gen];
    snprintf(t->dir, sizeof(t->dir), "%s/g%u", test_root, gen);
    assert_int_equal(mkdir(t->dir, 0755), 0);

    v = malloc((size_t) n * dim * sizeof(float));
    assert_non_null(v);

    for (i = 0; i < (size_t) n * dim; i++) {
        v[i] = test_rand() * (metric == RECSYS_METRIC_L2 ? 3.0f : 1.0f);
    }

    if (gen == GEN_COS) {
        /* five identical vectors: ties broken by id only */
        for (i = 10; i <= 40; i += 10) {
            memcpy(v + i * dim, v + 5 * dim, dim * sizeof(float));
        }
    }

    if (metric == RECSYS_METRIC_COSINE) {
        for (i = 0; i < n; i++) {
            recsys_normalize(v + (size_t) i * dim, dim);
        }
    }

    w = recsys_items_writer_create(dim);
    assert_non_null(w);

    for (i = 0; i < n; i++) {
        memset(&it, 0, sizeof(it));
        it.id = test_id(gen, i, id);
        it.id_len = strlen(it.id);
        cat = test_category(gen, i);
        it.category = cat;
        it.category_len = cat ? strlen(cat) : 0;
        it.popularity = (float) ((i * 37) % 50);

        if (recsys_items_writer_add(w, &it, err, sizeof(err)) != 0) {
            fail_msg("writer add: %s", err);
        }
    }

    snprintf(path, sizeof(path), "%s/%s", t->dir, RECSYS_ITEMS_FILE);
    if (recsys_items_writer_write(w, path, err, sizeof(err)) != 0) {
        fail_msg("writer write: %s", err);
    }

    recsys_items_writer_destroy(w);

    snprintf(path, sizeof(path), "%s/%s", t->dir, RECSYS_VECTORS_FILE);
    test_write_vectors(path, v, (size_t) n * dim);

    idx = NULL;
    assert_int_equal(faiss_index_factory(&idx, dim, factory,
                                         metric == RECSYS_METRIC_L2
                                         ? METRIC_L2 : METRIC_INNER_PRODUCT),
                     0);
    assert_int_equal(faiss_Index_train(idx, n, v), 0);
    assert_int_equal(faiss_Index_add(idx, n, v), 0);

    snprintf(path, sizeof(path), "%s/%s", t->dir, RECSYS_INDEX_FILE);
    assert_int_equal(faiss_write_index_fname(idx, path), 0);
    faiss_Index_free(idx);
    free(v);

    memset(&m, 0, sizeof(m));
    m.format = 1;
    m.generation = 1;
    m.items = n;
    m.dimension = dim;
    m.metric = metric;
    snprintf(m.factory, sizeof(m.factory), "%s", factory);
    m.nlist = nlist;
    snprintf(m.built_at, sizeof(m.built_at), "2024-01-01T00:00:00Z");
    m.build_seconds = 0.5;
    snprintf(m.source_type, sizeof(m.source_type), "file");
    snprintf(m.source, sizeof(m.source), "/dev/null");
    test_sum_file(t->dir, RECSYS_ITEMS_FILE, &m.files[0]);
    test_sum_file(t->dir, RECSYS_VECTORS_FILE, &m.files[1]);
    test_sum_file(t->dir, RECSYS_INDEX_FILE, &m.files[2]);
    m.nfiles = 3;

    snprintf(path, sizeof(path), "%s/%s", t->dir, RECSYS_MANIFEST_FILE);
    if (recsys_manifest_write(path, &m, err, sizeof(err)) != 0) {
        fail_msg("manifest: %s", err);
    }

    if (recsys_generation_open(&t->g, t->dir, dim, metric, nprobe, err,
                               sizeof(err))
        != 0)
    {
        fail_msg("open: %s", err);
    }

    /* rows are in the order items were added */

    for (j = 0; j < n; j++) {
        recsys_items_get(&t->g.items, j, &it);
        cat = test_id(gen, j, id);
        assert_int_equal(it.id_len, strlen(cat));
        assert_memory_equal(it.id, cat, it.id_len);
    }
}


static int
test_id_cmp(uint32_t a, uint32_t b)
{
    int            rc;
    size_t         len;
    recsys_item_t  ia, ib;

    recsys_items_get(&sort_gen->items, a, &ia);
    recsys_items_get(&sort_gen->items, b, &ib);

    len = ia.id_len < ib.id_len ? ia.id_len : ib.id_len;
    rc = memcmp(ia.id, ib.id, len);

    if (rc != 0) {
        return rc;
    }

    return (ia.id_len > ib.id_len) - (ia.id_len < ib.id_len);
}


static int
test_ref_cmp(const void *a, const void *b)
{
    const test_ref_t  *x, *y;

    x = a;
    y = b;

    if (x->score != y->score) {
        return x->score > y->score ? -1 : 1;
    }

    return test_id_cmp(x->row, y->row);
}


static uint32_t
test_brute(const recsys_generation_t *g, const float *query,
    const uint8_t *excluded, int64_t category, uint32_t k, test_ref_t *ref)
{
    double          s, d;
    uint32_t        i, j, n, dim;
    const float    *v;
    recsys_item_t   it;

    dim = g->manifest.dimension;
    n = 0;

    for (i = 0; i < g->items.count; i++) {
        if (excluded != NULL && excluded[i]) {
            continue;
        }

        recsys_items_get(&g->items, i, &it);

        if (category != RECSYS_CATEGORY_ANY
            && (int64_t) it.category_no != category)
        {
            continue;
        }

        v = g->vectors + (size_t) i * dim;
        s = 0;

        for (j = 0; j < dim; j++) {
            if (g->manifest.metric == RECSYS_METRIC_L2) {
                d = (double) query[j] - v[j];
                s -= d * d;

            } else {
                s += (double) query[j] * v[j];
            }
        }

        ref[n].row = i;
        ref[n].score = s;
        n++;
    }

    sort_gen = g;
    qsort(ref, n, sizeof(test_ref_t), test_ref_cmp);

    return n < k ? n : k;
}


static void
test_check(const recsys_generation_t *g, const recsys_hit_t *hits,
    uint32_t n, const test_ref_t *ref, uint32_t nref)
{
    uint32_t  i;

    assert_int_equal(n, nref);

    for (i = 0; i < n; i++) {
        if (hits[i].row != ref[i].row) {
            fail_msg("hit %u: row %u, expected %u (score %g vs %g)", i,
                     hits[i].row, ref[i].row, hits[i].score, ref[i].score);
        }

        assert_true(fabs(hits[i].score - ref[i].score)
                    <= 1e-4 * (1.0 + fabs(ref[i].score)));

        /* score desc, then id asc */
        if (i > 0) {
            sort_gen = g;
            assert_true(hits[i - 1].score > hits[i].score
                        || (hits[i - 1].score == hits[i].score
                            && test_id_cmp(hits[i - 1].row, hits[i].row)
                               < 0));
        }
    }
}


static int64_t
test_cat(const recsys_generation_t *g, const char *name)
{
    int64_t  c;

    c = recsys_items_category_find(&g->items, name, strlen(name));
    assert_true(c >= 0);

    return c;
}


static void
test_random_query(uint32_t dim, float *q)
{
    uint32_t  i;

    for (i = 0; i < dim; i++) {
        q[i] = test_rand();
    }
}


static int
setup(void **state)
{
    (void) state;

    omp_set_num_threads(1);

    snprintf(test_root, sizeof(test_root), "/tmp/recsys_search_XXXXXX");
    if (mkdtemp(test_root) == NULL) {
        return -1;
    }

    test_make_gen(GEN_COS, 300, 8, RECSYS_METRIC_COSINE, "IVF1,Flat", 1, 1);
    test_make_gen(GEN_BIG, 6000, 4, RECSYS_METRIC_COSINE, "IVF1,Flat", 1, 1);
    test_make_gen(GEN_L2, 200, 8, RECSYS_METRIC_L2, "IVF1,Flat", 1, 1);
    test_make_gen(GEN_IVF, 800, 8, RECSYS_METRIC_COSINE, "IVF16,Flat", 16, 1);
    test_make_gen(GEN_QUART, 20000, 4, RECSYS_METRIC_COSINE, "IVF1,Flat", 1,
                  1);

    return 0;
}


static int
teardown(void **state)
{
    int          i, j;
    char         path[600];
    static const char  *files[5] = {
        RECSYS_ITEMS_FILE, RECSYS_VECTORS_FILE, RECSYS_INDEX_FILE,
        RECSYS_MANIFEST_FILE, RECSYS_NEIGHBORS_FILE
    };

    (void) state;

    for (i = 0; i < NGENS; i++) {
        if (gens[i].dir[0] == '\0') {
            continue;
        }

        recsys_generation_close(&gens[i].g);

        for (j = 0; j < 5; j++) {
            if (snprintf(path, sizeof(path), "%s/%s", gens[i].dir, files[j])
                < (int) sizeof(path))
            {
                unlink(path);
            }
        }

        rmdir(gens[i].dir);
    }

    return rmdir(test_root);
}


static void
test_similar_exact(void **state)
{
    uint8_t                    *excluded;
    uint32_t                    row, n, nref, i;
    test_ref_t                  ref[300];
    recsys_hit_t                hits[MAXK];
    recsys_filter_t             f;
    const recsys_generation_t  *g;

    (void) state;

    g = &gens[GEN_COS].g;
    excluded = calloc(g->items.count, 1);
    assert_non_null(excluded);

    memset(&f, 0, sizeof(f));
    f.k = 10;
    f.category = RECSYS_CATEGORY_ANY;

    for (row = 0; row < g->items.count; row++) {
        assert_int_equal(recsys_search_similar(g, row, &f, hits, &n), 0);

        for (i = 0; i < n; i++) {
            assert_int_not_equal(hits[i].row, row);
        }

        excluded[row] = 1;
        nref = test_brute(g, g->vectors + row * 8, excluded,
                          RECSYS_CATEGORY_ANY, f.k, ref);
        excluded[row] = 0;

        test_check(g, hits, n, ref, nref);
        assert_int_equal(n, 10);
    }

    /* k = 0 and an out-of-range row: nothing, no error */

    f.k = 0;
    assert_int_equal(recsys_search_similar(g, 0, &f, hits, &n), 0);
    assert_int_equal(n, 0);

    f.k = 10;
    assert_int_equal(recsys_search_similar(g, 300, &f, hits, &n), 0);
    assert_int_equal(n, 0);

    free(excluded);
}


static void
test_exclude(void **state)
{
    uint8_t                    *excluded;
    uint32_t                    n, nref, i, ex[300], nex;
    test_ref_t                  ref[300];
    recsys_hit_t                hits[MAXK], first[10];
    recsys_filter_t             f;
    const recsys_generation_t  *g;

    (void) state;

    g = &gens[GEN_COS].g;
    excluded = calloc(g->items.count, 1);
    assert_non_null(excluded);

    memset(&f, 0, sizeof(f));
    f.k = 10;
    f.category = RECSYS_CATEGORY_ANY;

    assert_int_equal(recsys_search_similar(g, 100, &f, first, &n), 0);
    assert_int_equal(n, 10);

    /* a short list (linear scan) with duplicates: the top 3 go away */

    ex[0] = first[2].row;
    ex[1] = first[0].row;
    ex[2] = first[1].row;
    ex[3] = first[0].row;
    f.exclude = ex;
    f.nexclude = 4;

    assert_int_equal(recsys_search_similar(g, 100, &f, hits, &n), 0);
    assert_int_equal(n, 10);

    for (i = 0; i < 7; i++) {
        assert_int_equal(hits[i].row, first[i + 3].row);
    }

    /* a long list (sorted copy): every row except multiples of 5 */

    nex = 0;
    for (i = 299; i > 0; i--) {
        if (i % 5 != 0) {
            ex[nex++] = i;
            excluded[i] = 1;
        }
    }

    f.exclude = ex;
    f.nexclude = nex;
    assert_int_equal(nex, 240);

    /* 60 rows pass, 59 besides the item itself: exactly k, then fewer */

    f.k = 50;
    assert_int_equal(recsys_search_similar(g, 0, &f, hits, &n), 0);
    excluded[0] = 1;
    nref = test_brute(g, g->vectors, excluded, RECSYS_CATEGORY_ANY, 50, ref);
    test_check(g, hits, n, ref, nref);
    assert_int_equal(n, 50);

    f.k = 100;
    assert_int_equal(recsys_search_similar(g, 0, &f, hits, &n), 0);
    nref = test_brute(g, g->vectors, excluded, RECSYS_CATEGORY_ANY, 100, ref);
    test_check(g, hits, n, ref, nref);
    assert_int_equal(n, 59);

    for (i = 0; i < n; i++) {
        assert_int_equal(hits[i].row % 5, 0);
        assert_int_not_equal(hits[i].row, 0);
    }

    free(excluded);
}


static void
test_category_small(void **state)
{
    int64_t                     c1;
    uint8_t                    *excluded;
    uint32_t                    n, nref, i, row;
    test_ref_t                  ref[300];
    recsys_hit_t                hits[MAXK];
    recsys_item_t               it;
    recsys_filter_t             f;
    const recsys_generation_t  *g;

    (void) state;

    g = &gens[GEN_COS].g;
    excluded = calloc(g->items.count, 1);
    assert_non_null(excluded);

    c1 = test_cat(g, "cat1");

    memset(&f, 0, sizeof(f));
    f.category = c1;

    /* 100 rows in cat1: scanned exactly */

    for (row = 0; row < 12; row++) {
        f.k = 10;
        assert_int_equal(recsys_search_similar(g, row, &f, hits, &n), 0);

        excluded[row] = 1;
        nref = test_brute(g, g->vectors + row * 8, excluded, c1, 10, ref);
        test_check(g, hits, n, ref, nref);
        assert_int_equal(n, 10);

        for (i = 0; i < n; i++) {
            recsys_items_get(&g->items, hits[i].row, &it);
            assert_int_equal(it.category_no, c1);
        }

        /* all of cat1 but the item itself when it is in cat1 */

        f.k = 200;
        assert_int_equal(recsys_search_similar(g, row, &f, hits, &n), 0);
        nref = test_brute(g, g->vectors + row * 8, excluded, c1, 200, ref);
        test_check(g, hits, n, ref, nref);
        assert_int_equal(n, row % 3 == 1 ? 99 : 100);

        excluded[row] = 0;
    }

    /* unknown category and a category number out of range */

    f.k = 10;
    f.category = RECSYS_CATEGORY_NONE;
    assert_int_equal(recsys_search_similar(g, 1, &f, hits, &n), 0);
    assert_int_equal(n, 0);

    f.category = g->items.ncategories;
    assert_int_equal(recsys_search_similar(g, 1, &f, hits, &n), 0);
    assert_int_equal(n, 0);

    free(excluded);
}


/*
 * A category holding a quarter of the catalog goes to FAISS, which keeps
 * one candidate in four: one scan of the probed lists must suffice (one
 * call for the coarse quantizer, one for the scan), not a scan per
 * doubling of k; the answer is still the exact one.
 */

static void
test_category_one_scan(void **state)
{
    float                       q[4];
    int64_t                     cat;
    uint32_t                    n, nref, i;
    uint64_t                    calls;
    test_ref_t                 *ref;
    recsys_hit_t                hits[MAXK];
    recsys_filter_t             f;
    const recsys_generation_t  *g;

    (void) state;

    g = &gens[GEN_QUART].g;
    cat = test_cat(g, "q1");
    ref = malloc(g->items.count * sizeof(test_ref_t));
    assert_non_null(ref);

    memset(&f, 0, sizeof(f));

    for (i = 0; i < 100; i++) {
        test_random_query(4, q);
        recsys_normalize(q, 4);

        f.k = (i % 2) ? 10 : 1 + i;
        f.category = (i % 10 == 0) ? RECSYS_CATEGORY_ANY : cat;

        calls = recsys_search_faiss_calls;
        assert_int_equal(recsys_search_vector(g, q, &f, hits, &n), 0);
        assert_int_equal(recsys_search_faiss_calls - calls, 2);

        nref = test_brute(g, q, NULL, f.category, f.k, ref);
        test_check(g, hits, n, ref, nref);
        assert_int_equal(n, f.k);
    }

    free(ref);
}


/* the warm-up runs a search of the live path per call, none failing */
static void
test_warm(void **state)
{
    uint64_t                    calls;
    const recsys_generation_t  *g;

    (void) state;

    g = &gens[GEN_QUART].g;

    calls = recsys_search_faiss_calls;
    assert_int_equal(recsys_search_warm(g, 8), 8);
    assert_true(recsys_search_faiss_calls - calls >= 16);
    assert_int_equal(recsys_search_warm(g, 0), 0);
}


static void
test_category_faiss(void **state)
{
    float                       q[4];
    int64_t                     big, small;
    uint8_t                    *excluded;
    uint32_t                    n, nref, i, nex, *ex;
    test_ref_t                 *ref;
    recsys_hit_t                hits[MAXK];
    recsys_item_t               it;
    recsys_filter_t             f;
    const recsys_generation_t  *g;

    (void) state;

    /*
     * "big" has 5000 of 6000 rows: more than RECSYS_SEARCH_EXACT_ROWS
     * (4096) and more than 1/8 of the catalog, so FAISS answers it, with
     * retries as 1 in 6 candidates is dropped; "small" (1000) is scanned
     */

    g = &gens[GEN_BIG].g;
    big = test_cat(g, "big");
    small = test_cat(g, "small");

    excluded = calloc(g->items.count, 1);
    ex = malloc(g->items.count * sizeof(uint32_t));
    ref = malloc(g->items.count * sizeof(test_ref_t));
    assert_true(excluded && ex && ref);

    memset(&f, 0, sizeof(f));

    for (i = 0; i < 20; i++) {
        test_random_query(4, q);
        recsys_normalize(q, 4);

        f.k = 1 + i * 7;
        f.category = (i % 2) ? small : big;

        assert_int_equal(recsys_search_vector(g, q, &f, hits, &n), 0);
        nref = test_brute(g, q, NULL, f.category, f.k, ref);
        test_check(g, hits, n, ref, nref);
        assert_int_equal(n, f.k);
    }

    /* big category, 2000 of its rows excluded */

    nex = 0;
    for (i = 0; i < g->items.count && nex < 2000; i++) {
        if (i % 6 != 0 && i % 2 == 0) {
            ex[nex++] = i;
            excluded[i] = 1;
        }
    }

    f.exclude = ex;
    f.nexclude = nex;
    f.category = big;
    f.k = 50;

    test_random_query(4, q);
    recsys_normalize(q, 4);
    assert_int_equal(recsys_search_vector(g, q, &f, hits, &n), 0);
    nref = test_brute(g, q, excluded, big, 50, ref);
    test_check(g, hits, n, ref, nref);
    assert_int_equal(n, 50);

    /* all but 30 of the big rows excluded: FAISS cannot fill, 30 come */

    nex = 0;
    memset(excluded, 0, g->items.count);

    for (i = 0; i < g->items.count; i++) {
        if (i % 6 != 0 && i >= 36) {
            ex[nex++] = i;
            excluded[i] = 1;
        }
    }

    f.nexclude = nex;
    f.k = 50;

    assert_int_equal(recsys_search_vector(g, q, &f, hits, &n), 0);
    nref = test_brute(g, q, excluded, big, 50, ref);
    test_check(g, hits, n, ref, nref);
    assert_int_equal(n, 30);

    for (i = 0; i < n; i++) {
        recsys_items_get(&g->items, hits[i].row, &it);
        assert_int_equal(it.category_no, big);
        assert_true(hits[i].row < 36);
    }

    free(ref);
    free(ex);
    free(excluded);
}


static void
test_ties(void **state)
{
    float                       q[8];
    uint32_t                    n, i;
    recsys_hit_t                hits[MAXK];
    recsys_filter_t             f;
    const recsys_generation_t  *g;
    static const uint32_t       order[5] = { 10, 30, 20, 5, 40 };
    static const uint32_t       others[4] = { 10, 30, 20, 40 };

    (void) state;

    /*
     * rows 5, 10, 20, 30, 40 hold one vector; ids set their order:
     * "dup" < "dup-a" < "dup-b" < "dup-z" < "dupa" ('-' < 'a')
     */

    g = &gens[GEN_COS].g;

    memset(&f, 0, sizeof(f));
    f.category = RECSYS_CATEGORY_ANY;

    for (f.k = 1; f.k <= 5; f.k++) {
        memcpy(q, g->vectors + 5 * 8, sizeof(q));
        assert_int_equal(recsys_search_vector(g, q, &f, hits, &n), 0);
        assert_int_equal(n, f.k);

        for (i = 0; i < n; i++) {
            assert_int_equal(hits[i].row, order[i]);
            assert_true(hits[i].score == hits[0].score);
        }
    }

    /* similar to "dup-z": the other four, "dup" first, "dupa" last */

    f.k = 4;
    assert_int_equal(recsys_search_similar(g, 5, &f, hits, &n), 0);
    assert_int_equal(n, 4);

    for (i = 0; i < 4; i++) {
        assert_int_equal(hits[i].row, others[i]);
    }

    /* same through the exact scan of a category: 10 and 40 are in cat1 */

    f.category = test_cat(g, "cat1");
    f.k = 3;
    assert_int_equal(recsys_search_similar(g, 5, &f, hits, &n), 0);
    assert_true(n == 3);
    assert_int_equal(hits[0].row, 10);
    assert_int_equal(hits[1].row, 40);
}


static void
test_popular(void **state)
{
    int64_t                     c2;
    uint32_t                    n, i, ex[3];
    test_ref_t                  ref[300];
    recsys_hit_t                hits[MAXK];
    recsys_item_t               it;
    recsys_filter_t             f;
    const recsys_generation_t  *g;

    (void) state;

    g = &gens[GEN_COS].g;

    for (i = 0; i < g->items.count; i++) {
        recsys_items_get(&g->items, i, &it);
        ref[i].row = i;
        ref[i].score = it.popularity;
    }

    sort_gen = g;
    qsort(ref, g->items.count, sizeof(test_ref_t), test_ref_cmp);

    memset(&f, 0, sizeof(f));
    f.category = RECSYS_CATEGORY_ANY;
    f.k = 20;

    assert_int_equal(recsys_search_popular(g, &f, hits, &n), 0);
    test_check(g, hits, n, ref, 20);

    f.k = MAXK;
    assert_int_equal(recsys_search_popular(g, &f, hits, &n), 0);
    test_check(g, hits, n, ref, 300);

    /* the three most popular excluded */

    ex[0] = ref[1].row;
    ex[1] = ref[0].row;
    ex[2] = ref[2].row;
    f.exclude = ex;
    f.nexclude = 3;
    f.k = 10;

    assert_int_equal(recsys_search_popular(g, &f, hits, &n), 0);
    test_check(g, hits, n, ref + 3, 10);

    /* a category: its rows in the same order */

    c2 = test_cat(g, "cat2");
    f.category = c2;
    f.nexclude = 0;
    f.k = MAXK;

    assert_int_equal(recsys_search_popular(g, &f, hits, &n), 0);
    assert_int_equal(n, 100);

    for (i = 0; i < n; i++) {
        recsys_items_get(&g->items, hits[i].row, &it);
        assert_int_equal(it.category_no, c2);
        assert_true(hits[i].score == it.popularity);

        if (i > 0) {
            assert_true(hits[i - 1].score > hits[i].score
                        || (hits[i - 1].score == hits[i].score
                            && test_id_cmp(hits[i - 1].row, hits[i].row)
                               < 0));
        }
    }

    f.category = RECSYS_CATEGORY_NONE;
    assert_int_equal(recsys_search_popular(g, &f, hits, &n), 0);
    assert_int_equal(n, 0);

    f.category = RECSYS_CATEGORY_ANY;
    f.k = 0;
    assert_int_equal(recsys_search_popular(g, &f, hits, &n), 0);
    assert_int_equal(n, 0);
}


static void
test_l2(void **state)
{
    float                       q[8];
    double                      d, s;
    uint8_t                     excluded[200];
    uint32_t                    n, nref, i, j;
    test_ref_t                  ref[200];
    recsys_hit_t                hits[MAXK];
    recsys_filter_t             f;
    const float                *v;
    const recsys_generation_t  *g;

    (void) state;

    g = &gens[GEN_L2].g;

    memset(&f, 0, sizeof(f));
    f.category = RECSYS_CATEGORY_ANY;
    f.k = 15;

    for (i = 0; i < 8; i++) {
        q[i] = test_rand() * 3.0f;
    }

    assert_int_equal(recsys_search_vector(g, q, &f, hits, &n), 0);
    nref = test_brute(g, q, NULL, RECSYS_CATEGORY_ANY, 15, ref);
    test_check(g, hits, n, ref, nref);
    assert_int_equal(n, 15);

    /* scores are minus the squared distance */

    for (i = 0; i < n; i++) {
        v = g->vectors + hits[i].row * 8;
        s = 0;

        for (j = 0; j < 8; j++) {
            d = (double) q[j] - v[j];
            s += d * d;
        }

        assert_true(hits[i].score <= 0);
        assert_true(fabs(hits[i].score + s) <= 1e-4 * (1.0 + s));
    }

    /* similar: the item itself (distance 0) never comes back */

    memset(excluded, 0, sizeof(excluded));
    excluded[7] = 1;

    assert_int_equal(recsys_search_similar(g, 7, &f, hits, &n), 0);
    nref = test_brute(g, g->vectors + 7 * 8, excluded, RECSYS_CATEGORY_ANY,
                      15, ref);
    test_check(g, hits, n, ref, nref);
    assert_int_equal(n, 15);
}


static void
test_ivf_fallback(void **state)
{
    float                       q[8], qn[8];
    uint8_t                     excluded[800];
    uint32_t                    n, nref, i, k;
    test_ref_t                  ref[800];
    recsys_hit_t                hits[MAXK];
    recsys_filter_t             f;
    const recsys_generation_t  *g;

    (void) state;

    /* 16 lists of about 50, one probed: FAISS runs dry, a scan fills */

    g = &gens[GEN_IVF].g;

    memset(&f, 0, sizeof(f));
    f.category = RECSYS_CATEGORY_ANY;

    for (i = 0; i < 5; i++) {
        k = 300 + i * 100;
        f.k = k;

        test_random_query(8, q);
        memcpy(qn, q, sizeof(q));
        recsys_normalize(qn, 8);

        assert_int_equal(recsys_search_vector(g, q, &f, hits, &n), 0);
        nref = test_brute(g, qn, NULL, RECSYS_CATEGORY_ANY, k, ref);
        test_check(g, hits, n, ref, nref);
        assert_int_equal(n, k > 800 ? 800 : k);

        /* the query was normalized in place for cosine */
        assert_true(fabsf(q[0] - qn[0]) < 1e-6f);
    }

    /* similar, k larger than one list: exactly k */

    memset(excluded, 0, sizeof(excluded));
    excluded[3] = 1;
    f.k = 200;

    assert_int_equal(recsys_search_similar(g, 3, &f, hits, &n), 0);
    nref = test_brute(g, g->vectors + 3 * 8, excluded, RECSYS_CATEGORY_ANY,
                      200, ref);
    test_check(g, hits, n, ref, nref);
    assert_int_equal(n, 200);

    /* a small k is answered by FAISS alone: k distinct rows, in order */

    f.k = 5;
    assert_int_equal(recsys_search_similar(g, 3, &f, hits, &n), 0);
    assert_int_equal(n, 5);

    for (i = 1; i < n; i++) {
        assert_true(hits[i - 1].score >= hits[i].score);
        assert_int_not_equal(hits[i].row, hits[i - 1].row);
        assert_int_not_equal(hits[i].row, 3);
    }
}


static void
test_history_normalize(void **state)
{
    float                       out[8], v[3], z[3];
    uint32_t                    rows[3], j;
    const recsys_generation_t  *g;

    (void) state;

    g = &gens[GEN_L2].g;

    rows[0] = 1;
    rows[1] = 50;
    rows[2] = 199;

    recsys_history_vector(g, rows, 3, out);

    for (j = 0; j < 8; j++) {
        assert_true(fabsf(out[j] - (g->vectors[8 + j] + g->vectors[400 + j]
                                    + g->vectors[199 * 8 + j]) / 3.0f)
                    < 1e-5f);
    }

    recsys_history_vector(g, rows, 1, out);
    assert_memory_equal(out, g->vectors + 8, sizeof(out));

    recsys_history_vector(g, rows, 0, out);

    for (j = 0; j < 8; j++) {
        assert_true(out[j] == 0.0f);
    }

    v[0] = 3;
    v[1] = 0;
    v[2] = -4;
    recsys_normalize(v, 3);
    assert_true(fabsf(v[0] - 0.6f) < 1e-6f);
    assert_true(v[1] == 0.0f);
    assert_true(fabsf(v[2] + 0.8f) < 1e-6f);

    memset(z, 0, sizeof(z));
    recsys_normalize(z, 3);
    assert_true(z[0] == 0.0f && z[1] == 0.0f && z[2] == 0.0f);

    /* subnormal components: 1 / norm overflows a float (it gave NaN) */

    v[0] = 1e-40f;
    v[1] = 0;
    v[2] = 0;
    recsys_normalize(v, 3);
    assert_true(v[0] == 1.0f && v[1] == 0.0f && v[2] == 0.0f);

    v[0] = 1e-45f;
    v[1] = 1e-45f;
    v[2] = -1e-45f;

    recsys_normalize(v, 3);

    for (j = 0; j < 3; j++) {
        assert_true(isfinite(v[j]));
        assert_true(fabsf(fabsf(v[j]) - 0.57735027f) < 1e-6f);
    }

    /* and components whose squares overflow a float */

    v[0] = 3e38f;
    v[1] = 3e38f;
    v[2] = -3e38f;
    recsys_normalize(v, 3);

    for (j = 0; j < 3; j++) {
        assert_true(fabsf(fabsf(v[j]) - 0.57735027f) < 1e-6f);
    }
}


static void
test_hits_finite(void **state)
{
    recsys_hit_t  hits[3];

    (void) state;

    hits[0].score = 1.0f;
    hits[1].score = -FLT_MAX;
    hits[2].score = 1e-45f;

    assert_true(recsys_hits_finite(hits, 0));
    assert_true(recsys_hits_finite(hits, 3));

    hits[2].score = -INFINITY;
    assert_false(recsys_hits_finite(hits, 3));
    assert_true(recsys_hits_finite(hits, 2));

    hits[0].score = NAN;
    assert_false(recsys_hits_finite(hits, 1));
}


/* neighbors of every row of gens[gen], and a copy of it serving them */

static void
test_neighbors_of(uint32_t gen, uint32_t m, int32_t **rows, float **scores,
    recsys_generation_t *ng)
{
    char                        err[RECSYS_ERRLEN];
    const recsys_generation_t  *g;

    g = &gens[gen].g;

    *rows = malloc(g->items.count * m * sizeof(int32_t));
    *scores = malloc(g->items.count * m * sizeof(float));
    assert_non_null(*rows);
    assert_non_null(*scores);

    if (recsys_neighbors_compute(g, m, 3, *rows, *scores, err, sizeof(err))
        != 0)
    {
        fail_msg("neighbors: %s", err);
    }

    *ng = *g;
    ng->neighbors.m = m;
    ng->neighbors.count = g->items.count;
    ng->neighbors.nprobe = recsys_generation_nprobe(g);
    ng->neighbors.rows = *rows;
    ng->neighbors.scores = *scores;
}


/* 1 when the neighbors answered, and then exactly as the live search */

static uint32_t
test_neighbors_compare(const recsys_generation_t *ng,
    const recsys_generation_t *g, uint32_t row, const recsys_filter_t *f)
{
    int           rc;
    uint32_t      n, nlive, i;
    recsys_hit_t  hits[MAXK], live[MAXK];

    rc = recsys_search_neighbors(ng, row, f, hits, &n);
    assert_true(rc == 0 || rc == 1);

    if (rc == 0) {
        return 0;
    }

    assert_int_equal(recsys_search_similar(g, row, f, live, &nlive), 0);
    assert_int_equal(n, nlive);

    for (i = 0; i < n; i++) {
        if (hits[i].row != live[i].row || hits[i].score != live[i].score) {
            fail_msg("row %u k %u hit %u: %u %.9g, live %u %.9g", row, f->k,
                     i, hits[i].row, hits[i].score, live[i].row,
                     live[i].score);
        }
    }

    return 1;
}


static void
test_neighbors_match(void **state)
{
    float                      *scores;
    int32_t                    *rows, *list;
    uint32_t                    c, gen, row, step, v, i, m, asked, answered;
    uint32_t                    plain, plain_answered, ex[24];
    recsys_filter_t             f;
    recsys_generation_t         ng;
    const recsys_generation_t  *g;
    static const uint32_t       cases[][2] = {
        { GEN_COS, 32 }, { GEN_COS, 8 }, { GEN_BIG, 32 }, { GEN_L2, 16 },
        { GEN_IVF, 32 }, { GEN_IVF, 64 }
    };

    (void) state;

    for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        gen = cases[c][0];
        m = cases[c][1];
        g = &gens[gen].g;

        test_neighbors_of(gen, m, &rows, &scores, &ng);

        asked = 0;
        answered = 0;
        plain = 0;
        plain_answered = 0;
        step = g->items.count > 300 ? g->items.count / 300 : 1;

        for (row = 0; row < g->items.count; row += step) {
            list = rows + (size_t) row * m;

            for (v = 0; v < 5; v++) {
                memset(&f, 0, sizeof(f));
                f.category = RECSYS_CATEGORY_ANY;
                f.exclude = ex;

                switch (v) {

                case 0:
                    f.k = 10;
                    break;

                case 1:
                    /* k around m, some beyond it */
                    f.k = 1 + row % (m + 2);
                    break;

                case 2:
                    /* a few of its own neighbors excluded */
                    f.k = 4;
                    for (i = 0; i < m && f.nexclude < 3; i += 2) {
                        if (list[i] >= 0) {
                            ex[f.nexclude++] = (uint32_t) list[i];
                        }
                    }
                    break;

                case 3:
                    /* more than the linear limit: sorted and searched */
                    f.k = 3;
                    for (i = 0; i < 24; i++) {
                        ex[i] = (i % 2 && list[i % m] >= 0)
                                ? (uint32_t) list[i % m]
                                : (row * 7 + i * 13) % g->items.count;
                    }
                    f.nexclude = 24;
                    break;

                default:
                    f.k = 5;
                    if (test_category(gen, row) != NULL) {
                        f.category = test_cat(g, test_category(gen, row));
                    }
                }

                asked++;
                answered += test_neighbors_compare(&ng, g, row, &f);

                if (v == 0) {
                    plain++;
                    plain_answered += test_neighbors_compare(&ng, g, row,
                                                             &f);
                }
            }
        }

        /* most plain k=10 queries need no search; filters may */
        assert_true(answered > 0);

        if (m >= 16) {
            assert_true(plain_answered * 10 >= plain * 9);
        }

        print_message("neighbors gen %u m %u: %u of %u answered\n", gen, m,
                      answered, asked);

        free(rows);
        free(scores);
    }
}


static void
test_neighbors_ties(void **state)
{
    float                      *scores;
    int32_t                    *rows;
    uint32_t                    i, n, row, complete;
    recsys_hit_t                hits[MAXK];
    recsys_filter_t             f;
    recsys_generation_t         ng;
    const recsys_generation_t  *g;
    static const uint32_t       others[4] = { 10, 30, 20, 40 };

    (void) state;

    /* the identical rows of "dup-z" come first, in id order */

    g = &gens[GEN_COS].g;
    test_neighbors_of(GEN_COS, 8, &rows, &scores, &ng);

    for (i = 0; i < 4; i++) {
        assert_int_equal(rows[5 * 8 + i], others[i]);
        assert_true(scores[5 * 8 + i] == scores[5 * 8]);
    }

    memset(&f, 0, sizeof(f));
    f.category = RECSYS_CATEGORY_ANY;

    for (f.k = 1; f.k <= 4; f.k++) {
        assert_int_equal(test_neighbors_compare(&ng, g, 5, &f), 1);
    }

    /* "dup" excluded: "dup-a" first */

    f.k = 2;
    f.exclude = &others[0];
    f.nexclude = 1;
    assert_int_equal(recsys_search_neighbors(&ng, 5, &f, hits, &n), 1);
    assert_int_equal(n, 2);
    assert_int_equal(hits[0].row, 30);
    assert_int_equal(hits[1].row, 20);

    /* small categories and unknown ones are the live search's */

    f.exclude = NULL;
    f.nexclude = 0;
    f.category = test_cat(g, "cat1");
    assert_int_equal(recsys_search_neighbors(&ng, 5, &f, hits, &n), 0);

    f.category = RECSYS_CATEGORY_NONE;
    assert_int_equal(recsys_search_neighbors(&ng, 5, &f, hits, &n), 0);

    /* k beyond m, or no neighbors at all */

    f.category = RECSYS_CATEGORY_ANY;
    f.k = 9;
    assert_int_equal(recsys_search_neighbors(&ng, 5, &f, hits, &n), 0);

    f.k = 3;
    assert_int_equal(recsys_search_neighbors(g, 5, &f, hits, &n), 0);

    free(rows);
    free(scores);

    /* 16 lists of about 50, one probed, m 64: lists end complete */

    g = &gens[GEN_IVF].g;
    test_neighbors_of(GEN_IVF, 64, &rows, &scores, &ng);

    complete = 0;

    for (row = 0; row < g->items.count; row++) {
        for (i = 0; i < 64 && rows[row * 64 + i] >= 0; i++) {
            /* score desc */
            assert_true(i == 0
                        || scores[row * 64 + i - 1]
                           >= scores[row * 64 + i]);
        }

        if (i < 64 && rows[row * 64 + i] == RECSYS_NEIGHBORS_END) {
            complete++;

            /* all of them, and one past the list falls back */
            f.k = i;
            if (i > 0) {
                assert_int_equal(test_neighbors_compare(&ng, g, row, &f), 1);
            }

            f.k = i + 1;
            assert_int_equal(recsys_search_neighbors(&ng, row, &f, hits, &n),
                             0);
        }
    }

    assert_true(complete > 0);

    free(rows);
    free(scores);
}


/* neighbors.bin through the manifest: mapped, nprobe-checked, validated */

static void
test_neighbors_file(void **state)
{
    char                  path[600], err[RECSYS_ERRLEN];
    float                *scores;
    int32_t              *rows;
    recsys_manifest_t     m;
    recsys_generation_t   ng, g2;
    const test_gen_t     *t;

    (void) state;

    t = &gens[GEN_IVF];
    test_neighbors_of(GEN_IVF, 16, &rows, &scores, &ng);

    snprintf(path, sizeof(path), "%s/%s", t->dir, RECSYS_NEIGHBORS_FILE);
    assert_int_equal(recsys_neighbors_write(path, 16, 1, 800,
                                            RECSYS_METRIC_COSINE, rows,
                                            scores, err, sizeof(err)),
                     0);

    m = t->g.manifest;
    test_sum_file(t->dir, RECSYS_NEIGHBORS_FILE, &m.files[m.nfiles]);
    m.nfiles++;

    snprintf(path, sizeof(path), "%s/%s", t->dir, RECSYS_MANIFEST_FILE);
    assert_int_equal(recsys_manifest_write(path, &m, err, sizeof(err)), 0);

    if (recsys_generation_open(&g2, t->dir, 8, RECSYS_METRIC_COSINE, 1, err,
                               sizeof(err))
        != 0)
    {
        fail_msg("open: %s", err);
    }

    assert_int_equal(g2.neighbors.m, 16);
    assert_int_equal(g2.neighbors.count, 800);
    assert_int_equal(g2.neighbors.nprobe, 1);
    assert_memory_equal(g2.neighbors.rows, rows, 800 * 16 * sizeof(int32_t));
    assert_memory_equal(g2.neighbors.scores, scores,
                        800 * 16 * sizeof(float));
    recsys_generation_close(&g2);

    /* served at another nprobe: opened without them */

    assert_int_equal(recsys_generation_open(&g2, t->dir, 8,
                                            RECSYS_METRIC_COSINE, 4, err,
                                            sizeof(err)),
                     0);
    assert_null(g2.neighbors.rows);
    assert_null(g2.neighbors.base);
    recsys_generation_close(&g2);

    /* a header that does not match the generation refuses it */

    snprintf(path, sizeof(path), "%s/%s", t->dir, RECSYS_NEIGHBORS_FILE);
    assert_int_equal(recsys_neighbors_write(path, 16, 1, 799,
                                            RECSYS_METRIC_COSINE, rows,
                                            scores, err, sizeof(err)),
                     0);
    m.nfiles--;
    test_sum_file(t->dir, RECSYS_NEIGHBORS_FILE, &m.files[m.nfiles]);
    m.nfiles++;

    snprintf(path, sizeof(path), "%s/%s", t->dir, RECSYS_MANIFEST_FILE);
    assert_int_equal(recsys_manifest_write(path, &m, err, sizeof(err)), 0);

    assert_int_equal(recsys_generation_open(&g2, t->dir, 8,
                                            RECSYS_METRIC_COSINE, 1, err,
                                            sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "neighbors.bin"));

    free(rows);
    free(scores);
}


/* the scan's kernel against a plain loop, for every tail length */
static void
test_vector_score(void **state)
{
    float     a[11], b[11];
    double    ip, l2, d;
    uint32_t  i, dim;

    (void) state;

    for (i = 0; i < 11; i++) {
        a[i] = (float) i * 0.25f - 1.0f;
        b[i] = 2.0f - (float) (i * i) * 0.125f;
    }

    assert_true(recsys_vector_score(a, b, 0, 0) == 0.0f);
    assert_true(recsys_vector_score(a, b, 0, 1) == 0.0f);

    for (dim = 1; dim <= 11; dim++) {
        ip = 0;
        l2 = 0;

        for (i = 0; i < dim; i++) {
            ip += (double) a[i] * b[i];
            d = (double) a[i] - b[i];
            l2 += d * d;
        }

        assert_float_equal(recsys_vector_score(a, b, dim, 0), ip,
                           1e-5 * (fabs(ip) + 1));
        assert_float_equal(recsys_vector_score(a, b, dim, 1), -l2,
                           1e-5 * (l2 + 1));
        assert_true(recsys_vector_score(a, a, dim, 1) == 0.0f);
    }
}


/*
 * A batch: the lists of every query in one FAISS call, then each query's
 * scans; the hits are those of each query searched alone, to the bit
 */
static void
test_batch_lists(void **state)
{
    float                      *qs, *one, *orig;
    size_t                      i, j, b, dim;
    uint32_t                    n, nb, ex[3];
    uint64_t                    calls, alone;
    recsys_hit_t                hits[MAXK], bhits[MAXK];
    recsys_lists_t              lists;
    recsys_filter_t             f[16];
    const recsys_generation_t  *g;

    static const uint32_t       which[] = { GEN_IVF, GEN_L2, GEN_BIG };

    (void) state;

    for (b = 0; b < sizeof(which) / sizeof(which[0]); b++) {
        g = &gens[which[b]].g;
        dim = g->manifest.dimension;
        qs = malloc(3 * 16 * dim * sizeof(float));
        assert_non_null(qs);
        one = qs + 16 * dim;
        orig = one + 16 * dim;

        for (i = 0; i < 16; i++) {
            test_random_query((uint32_t) dim, qs + i * dim);
        }

        /* the searches normalize their queries in place */
        memcpy(one, qs, 16 * dim * sizeof(float));
        memcpy(orig, qs, 16 * dim * sizeof(float));

        /* a shape per query: k, an exclude list, a category */
        ex[0] = 1;
        ex[1] = 2;
        ex[2] = 3;

        for (i = 0; i < 16; i++) {
            memset(&f[i], 0, sizeof(recsys_filter_t));
            f[i].k = 1 + (uint32_t) i * 3;
            f[i].category = RECSYS_CATEGORY_ANY;

            if (i % 3 == 1) {
                f[i].exclude = ex;
                f[i].nexclude = 3;
            }

            if (which[b] == GEN_BIG && i % 4 == 2) {
                f[i].category = test_cat(g, "big");
            }
        }

        calls = recsys_search_faiss_calls;

        for (i = 0; i < 16; i++) {
            assert_int_equal(recsys_search_vector(g, one + i * dim, &f[i],
                                                  hits, &n), 0);
        }

        alone = recsys_search_faiss_calls - calls;

        calls = recsys_search_faiss_calls;
        assert_int_equal(recsys_search_lists(g, qs, 16, &lists), 0);
        assert_int_equal(recsys_search_faiss_calls - calls, 1);

        for (i = 0; i < 16; i++) {
            memcpy(one, orig + i * dim, dim * sizeof(float));

            assert_int_equal(recsys_search_vector_lists(g, qs + i * dim,
                                                        &lists, i, &f[i],
                                                        bhits, &nb), 0);
            assert_int_equal(recsys_search_vector(g, one, &f[i], hits, &n),
                             0);
            assert_int_equal(nb, n);

            for (j = 0; j < n; j++) {
                assert_int_equal(bhits[j].row, hits[j].row);
                assert_true(bhits[j].score == hits[j].score);
            }
        }

        /* one coarse search for the 16 instead of one each */
        recsys_search_lists_free(&lists);
        memcpy(qs, orig, 16 * dim * sizeof(float));
        calls = recsys_search_faiss_calls;
        assert_int_equal(recsys_search_lists(g, qs, 16, &lists), 0);

        for (i = 0; i < 16; i++) {
            assert_int_equal(recsys_search_vector_lists(g, qs + i * dim,
                                                        &lists, i, &f[i],
                                                        bhits, &nb), 0);
        }

        assert_int_equal(recsys_search_faiss_calls - calls, 1 + alone - 16);

        recsys_search_lists_free(&lists);
        free(qs);
    }
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_similar_exact),
        cmocka_unit_test(test_exclude),
        cmocka_unit_test(test_category_small),
        cmocka_unit_test(test_category_faiss),
        cmocka_unit_test(test_category_one_scan),
        cmocka_unit_test(test_batch_lists),
        cmocka_unit_test(test_ties),
        cmocka_unit_test(test_popular),
        cmocka_unit_test(test_l2),
        cmocka_unit_test(test_ivf_fallback),
        cmocka_unit_test(test_history_normalize),
        cmocka_unit_test(test_hits_finite),
        cmocka_unit_test(test_neighbors_match),
        cmocka_unit_test(test_neighbors_ties),
        cmocka_unit_test(test_neighbors_file),
        cmocka_unit_test(test_vector_score),
        cmocka_unit_test(test_warm),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
