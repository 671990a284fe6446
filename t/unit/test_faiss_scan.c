/*
 * Unit tests for recsys_faiss_scan.cpp: recsys_faiss_coarse() and
 * recsys_faiss_scan() give, bit for bit, what FAISS's own entry points
 * give (the quantizer's search and faiss_IndexIVF_search_preassigned())
 * on real IVF indexes of every codec the builder writes, both metrics,
 * in memory and with the lists mapped from a file as workers hold them;
 * and they fail with FAISS's error set, never with a crash.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <faiss/c_api/Index_c.h>
#include <faiss/c_api/IndexIVF_c.h>
#include <faiss/c_api/error_c.h>
#include <faiss/c_api/index_factory_c.h>
#include <faiss/c_api/index_io_c.h>

#include "recsys_faiss_scan.h"


#define DIM        16
#define NTRAIN     1000
#define NQUERY     40
#define MAXK       1200

/* FAISS's IO_FLAG_MMAP, the flag workers open index.faiss with */
#define IO_MMAP    0x646f0000


typedef struct {
    const char         *factory;
    FaissMetricType     metric;
} test_codec_t;


static const test_codec_t  codecs[] = {
    { "IVF16,Flat", METRIC_INNER_PRODUCT },
    { "IVF16,Flat", METRIC_L2 },
    { "IVF16,SQ8", METRIC_INNER_PRODUCT },
    { "IVF16,SQ8", METRIC_L2 },
    { "IVF16,SQfp16", METRIC_INNER_PRODUCT },
    { "IVF16,SQ4", METRIC_L2 },
    { "IVF16,PQ4np", METRIC_INNER_PRODUCT },
    { "IVF16,PQ4np", METRIC_L2 }
};

static uint32_t  rng_state = 4242;

/* the index under test is SQ8 with inner product */
static int       test_sq8_ip;


static float
test_rand(void)
{
    rng_state = rng_state * 1103515245u + 12345u;

    return (float) ((rng_state >> 8) & 0xffff) / 32768.0f - 1.0f;
}


/*
 * nadd of the ntrain training vectors are added, all from one corner of
 * the space when clustered: some lists stay empty
 */

static FaissIndex *
test_index(const test_codec_t *c, float *v, size_t nadd, int clustered)
{
    size_t       i;
    FaissIndex  *idx;

    for (i = 0; i < (size_t) NTRAIN * DIM; i++) {
        v[i] = test_rand();
    }

    test_sq8_ip = strstr(c->factory, "SQ8") != NULL
                  && c->metric == METRIC_INNER_PRODUCT;

    idx = NULL;
    assert_int_equal(faiss_index_factory(&idx, DIM, c->factory, c->metric),
                     0);
    assert_int_equal(faiss_Index_train(idx, NTRAIN, v), 0);

    if (clustered) {
        for (i = 0; i < nadd * DIM; i++) {
            v[i] = 0.9f + 0.01f * test_rand();
        }
    }

    assert_int_equal(faiss_Index_add(idx, nadd, v), 0);

    return idx;
}


/*
 * recsys_faiss_scan_sq8() against FAISS's d and l: the same bytes but for
 * an SQ8 inner-product index (its own kernel in the AVX2 build), whose
 * k-th best scores may differ in their last bits; the same bytes twice
 */

static void
test_sq8(FaissIndexIVF *ivf, const float *q, size_t nprobe,
    const idx_t *assign, const float *cdist, idx_t k, const float *d,
    const idx_t *l)
{
    idx_t   i, *l2, *l3;
    float  *d2, *d3;

    l2 = calloc(k, sizeof(idx_t));
    l3 = calloc(k, sizeof(idx_t));
    d2 = calloc(k, sizeof(float));
    d3 = calloc(k, sizeof(float));
    assert_true(l2 && l3 && d2 && d3);

    assert_int_equal(recsys_faiss_scan_sq8(ivf, q, nprobe, assign, cdist, k,
                                           d2, l2),
                     0);
    assert_int_equal(recsys_faiss_scan_sq8(ivf, q, nprobe, assign, cdist, k,
                                           d3, l3),
                     0);
    assert_memory_equal(l2, l3, k * sizeof(idx_t));
    assert_memory_equal(d2, d3, k * sizeof(float));

    for (i = 0; i < k; i++) {
        assert_true((l[i] < 0) == (l2[i] < 0));
        assert_true(l[i] < 0 || fabsf(d[i] - d2[i]) <= 1e-5f);
    }

    if (!test_sq8_ip) {
        assert_memory_equal(l, l2, k * sizeof(idx_t));
        assert_memory_equal(d, d2, k * sizeof(float));
    }

    free(l2);
    free(l3);
    free(d2);
    free(d3);
}


/* both paths on one query; the results must be the same bytes */

static void
test_same(FaissIndex *idx, const float *q, size_t nprobe, idx_t k)
{
    idx_t           *a1, *a2, *l1, *l2;
    float           *c1, *c2, *d1, *d2;
    FaissIndexIVF   *ivf;

    ivf = faiss_IndexIVF_cast(idx);
    assert_non_null(ivf);

    /* search_preassigned() reads nprobe lists of assign: the index's */
    faiss_IndexIVF_set_nprobe(ivf, nprobe);

    a1 = calloc(nprobe, sizeof(idx_t));
    a2 = calloc(nprobe, sizeof(idx_t));
    c1 = calloc(nprobe, sizeof(float));
    c2 = calloc(nprobe, sizeof(float));
    l1 = calloc(k, sizeof(idx_t));
    l2 = calloc(k, sizeof(idx_t));
    d1 = calloc(k, sizeof(float));
    d2 = calloc(k, sizeof(float));
    assert_true(a1 && a2 && c1 && c2 && l1 && l2 && d1 && d2);

    assert_int_equal(faiss_Index_search(faiss_IndexIVF_quantizer(ivf), 1, q,
                                        (idx_t) nprobe, c1, a1),
                     0);
    assert_int_equal(recsys_faiss_coarse(ivf, q, nprobe, a2, c2), 0);
    assert_memory_equal(a1, a2, nprobe * sizeof(idx_t));
    assert_memory_equal(c1, c2, nprobe * sizeof(float));

    assert_int_equal(faiss_IndexIVF_search_preassigned(ivf, 1, q, k, a1, c1,
                                                       d1, l1, 0),
                     0);
    assert_int_equal(recsys_faiss_scan(ivf, q, nprobe, a2, c2, k, d2, l2),
                     0);
    assert_memory_equal(l1, l2, k * sizeof(idx_t));
    assert_memory_equal(d1, d2, k * sizeof(float));

    test_sq8(ivf, q, nprobe, a2, c2, k, d1, l1);

    /* a list number FAISS may pass for "no list": skipped by both */
    a1[0] = -1;
    a2[0] = -1;

    assert_int_equal(faiss_IndexIVF_search_preassigned(ivf, 1, q, k, a1, c1,
                                                       d1, l1, 0),
                     0);
    assert_int_equal(recsys_faiss_scan(ivf, q, nprobe, a2, c2, k, d2, l2),
                     0);
    assert_memory_equal(l1, l2, k * sizeof(idx_t));
    assert_memory_equal(d1, d2, k * sizeof(float));

    free(a1);
    free(a2);
    free(c1);
    free(c2);
    free(l1);
    free(l2);
    free(d1);
    free(d2);
}


static void
test_queries(FaissIndex *idx)
{
    int     i, j;
    float   q[DIM];
    size_t  nprobes[] = { 1, 3, 16 };
    idx_t   ks[] = { 1, 10, 200, MAXK };
    size_t  p, kk;

    for (i = 0; i < NQUERY; i++) {
        for (j = 0; j < DIM; j++) {
            q[j] = test_rand();
        }

        p = nprobes[i % 3];
        kk = (size_t) ks[i % 4];

        test_same(idx, q, p, (idx_t) kk);
    }
}


static void
test_codecs_memory(void **state)
{
    size_t       c;
    float       *v;
    FaissIndex  *idx;

    (void) state;

    v = malloc((size_t) NTRAIN * DIM * sizeof(float));
    assert_non_null(v);

    for (c = 0; c < sizeof(codecs) / sizeof(codecs[0]); c++) {
        idx = test_index(&codecs[c], v, NTRAIN, 0);
        test_queries(idx);
        faiss_Index_free(idx);
    }

    free(v);
}


/* lists mapped from the file as workers have them; empty lists */

static void
test_codecs_mapped(void **state)
{
    int          fd;
    size_t       c;
    float       *v;
    char         path[] = "/tmp/recsys-test-scan-XXXXXX";
    FaissIndex  *idx, *mapped;

    (void) state;

    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);

    v = malloc((size_t) NTRAIN * DIM * sizeof(float));
    assert_non_null(v);

    for (c = 0; c < sizeof(codecs) / sizeof(codecs[0]); c++) {
        idx = test_index(&codecs[c], v, 300, 1);
        assert_int_equal(faiss_write_index_fname(idx, path), 0);
        faiss_Index_free(idx);

        mapped = NULL;
        assert_int_equal(faiss_read_index_fname(path, IO_MMAP, &mapped), 0);
        test_queries(mapped);
        faiss_Index_free(mapped);
    }

    unlink(path);
    free(v);
}


static void
test_errors(void **state)
{
    idx_t           assign[17], labels[4];
    float           q[DIM], cdist[17], dist[4];
    FaissIndex     *idx;
    FaissIndexIVF  *ivf;
    float          *v;

    (void) state;

    v = malloc((size_t) NTRAIN * DIM * sizeof(float));
    assert_non_null(v);

    idx = test_index(&codecs[0], v, NTRAIN, 0);
    ivf = faiss_IndexIVF_cast(idx);
    memcpy(q, v, sizeof(q));

    /* nprobe 0 and beyond nlist */
    assert_int_equal(recsys_faiss_coarse(ivf, q, 0, assign, cdist), -1);
    assert_non_null(strstr(faiss_get_last_error(), "nprobe out of range"));
    assert_int_equal(recsys_faiss_coarse(ivf, q, 17, assign, cdist), -1);

    assert_int_equal(recsys_faiss_coarse(ivf, q, 2, assign, cdist), 0);

    /* k 0; a list number past nlist */
    assert_int_equal(recsys_faiss_scan(ivf, q, 2, assign, cdist, 0, dist,
                                       labels),
                     -1);
    assert_non_null(strstr(faiss_get_last_error(), "k must be positive"));

    assign[1] = 16;
    assert_int_equal(recsys_faiss_scan(ivf, q, 2, assign, cdist, 4, dist,
                                       labels),
                     -1);
    assert_non_null(strstr(faiss_get_last_error(), "list number"));

    faiss_Index_free(idx);
    free(v);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_codecs_memory),
        cmocka_unit_test(test_codecs_mapped),
        cmocka_unit_test(test_errors)
    };

    /* training threads spin-wait for work on a busy machine */
    omp_set_num_threads(1);

    return cmocka_run_group_tests(tests, NULL, NULL);
}
