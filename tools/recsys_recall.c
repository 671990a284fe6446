/*
 * recsys-recall: measures the served index against exact search.
 *
 *   recsys-recall [-c] <catalog.yaml> [queries=1000] [k=10]
 *
 * Opens the current generation as a worker does (same nprobe, one OpenMP
 * thread), uses evenly spread items' own vectors as queries, and compares
 * FAISS's k+1 nearest with a brute-force scan of vectors.f32.  Both lists
 * include the query item, as the "similar" endpoint asks FAISS for k+1.
 *
 * For IVF indexes it also times quantizer search + search_preassigned:
 * with mmapped inverted lists FAISS 1.7.3's search() starts prefetch
 * threads on every call, search_preassigned() does not.
 *
 * -c (IVF indexes): also builds, in memory, IVF indexes with the Flat,
 * SQfp16 and SQ8 codecs over the served coarse quantizer (the same lists)
 * and prints the recall, the bytes per item and the time per query of
 * each beside the served index's: the numbers behind "factory: auto".
 */

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <omp.h>
#include <faiss/c_api/Index_c.h>
#include <faiss/c_api/IndexIVF_c.h>
#include <faiss/c_api/IndexIVFFlat_c.h>
#include <faiss/c_api/IndexScalarQuantizer_c.h>

#include "recsys_catalog.h"
#include "recsys_faiss.h"
#include "recsys_generation.h"
#include "recsys_search.h"
#include "recsys_string.h"
#include "recsys_time.h"


typedef struct {
    uint64_t            hits;           /* k+1 lists, query included */
    uint64_t            hits_other;     /* k lists, query excluded */
    uint64_t            total;
    uint64_t            total_other;
    uint64_t            differ;         /* preassigned != search */
    double              ivf_seconds;
    double              pre_seconds;
    double              exact_seconds;
} recsys_recall_stats_t;


/* the codecs -c compares, smallest last */
typedef struct {
    const char         *name;
    int                 qt;             /* FaissQuantizerType, -1: Flat */
    uint32_t            bits;           /* per component */
} recsys_recall_codec_t;


static const recsys_recall_codec_t  recsys_recall_codecs[] = {
    { "Flat", -1, 32 },
    { "SQfp16", QT_fp16, 16 },
    { "SQ8", QT_8bit, 8 },
};

#define RECSYS_RECALL_NCODECS                                              \
    (sizeof(recsys_recall_codecs) / sizeof(recsys_recall_codecs[0]))

/* the training sample of a codec: as many rows as the builder takes */
#define RECSYS_RECALL_TRAIN  32768


static int recsys_recall_run(const recsys_generation_t *g, uint64_t queries,
    uint32_t k, recsys_recall_stats_t *st, int64_t *exact);
static int recsys_recall_codec(const recsys_generation_t *g,
    const recsys_recall_codec_t *codec, uint64_t queries, uint32_t k,
    const int64_t *exact);
static int recsys_recall_preassigned(FaissIndexIVF *ivf, const float *q,
    uint32_t kk, float *cdist, int64_t *assign, float *dist,
    int64_t *labels);
static void recsys_recall_exact(const recsys_generation_t *g,
    const float *q, uint32_t kk, int64_t *ids, float *scores);
static uint32_t recsys_recall_overlap(const int64_t *a, const int64_t *b,
    uint32_t n, int64_t skip, uint32_t limit, uint32_t *counted);


int
main(int argc, char **argv)
{
    int                     rc, codecs;
    char                    err[RECSYS_CATALOG_ERRLEN];
    int64_t                *exact;
    uint64_t                queries, k, n;
    uint32_t                i;
    recsys_catalog_t       *c;
    recsys_generation_t     g;
    recsys_recall_stats_t   st;

    queries = 1000;
    k = 10;
    codecs = (argc > 1 && strcmp(argv[1], "-c") == 0);

    if (codecs) {
        argc--;
        argv++;
    }

    if (argc < 2 || argc > 4
        || (argc > 2 && recsys_parse_uint_arg(argv[2], 1, 100000000, &queries))
        || (argc > 3 && recsys_parse_uint_arg(argv[3], 1, 10000, &k)))
    {
        fprintf(stderr, "usage: recsys-recall [-c] <catalog.yaml> "
                "[queries=1000] [k=10]\n");
        return 2;
    }

    /* the number a worker sees: one thread per process */
    omp_set_num_threads(1);

    c = recsys_catalog_load(argv[1], err, sizeof(err));
    if (c == NULL) {
        fprintf(stderr, "recsys-recall: %s\n", err);
        return 1;
    }

    if (recsys_generation_open_current(&g, &c->index, err, sizeof(err))
        != 0)
    {
        fprintf(stderr, "recsys-recall: %s\n", err);
        recsys_catalog_free(c);
        return 1;
    }

    n = g.manifest.items;
    if (queries > n) {
        queries = n;
    }

    memset(&st, 0, sizeof(recsys_recall_stats_t));

    /* the exact k + 1 nearest of every query, for the codecs too */
    exact = malloc(queries * (k + 1) * sizeof(int64_t));
    if (exact == NULL) {
        fprintf(stderr, "recsys-recall: out of memory\n");
        recsys_generation_close(&g);
        recsys_catalog_free(c);
        return 1;
    }

    rc = recsys_recall_run(&g, queries, (uint32_t) k, &st, exact);

    if (rc == 0) {
        printf("catalog            %s\n"
               "generation         %llu\n"
               "items              %llu\n"
               "dimension          %u (%s)\n"
               "factory            %s\n"
               "nprobe             %u\n"
               "queries            %llu, k = %llu\n"
               "recall@%-3llu         %.4f  (top %llu, query item in both)\n"
               "recall@%-3llu         %.4f  (query item left out)\n"
               "us/query IVF       %.1f  (faiss_Index_search)\n",
               argv[1], (unsigned long long) g.manifest.generation,
               (unsigned long long) n, g.manifest.dimension,
               recsys_metric_name(g.manifest.metric), g.manifest.factory,
               c->index.nprobe, (unsigned long long) queries,
               (unsigned long long) k, (unsigned long long) k,
               st.total ? (double) st.hits / st.total : 0.0,
               (unsigned long long) k + 1, (unsigned long long) k,
               st.total_other
               ? (double) st.hits_other / st.total_other : 0.0,
               st.ivf_seconds * 1e6 / (double) queries);

        if (st.pre_seconds > 0) {
            printf("us/query IVF       %.1f  (quantizer + search_preassigned"
                   ", %llu lists differ)\n",
                   st.pre_seconds * 1e6 / (double) queries,
                   (unsigned long long) st.differ);
        }

        printf("us/query exact     %.1f  (scan of vectors.f32)\n",
               st.exact_seconds * 1e6 / (double) queries);
    }

    if (rc == 0 && codecs && faiss_IndexIVF_cast(g.index) != NULL) {
        printf("\ncodecs over the served coarse quantizer, in memory "
               "(score error: the largest\n|FAISS score - exact score| "
               "among the answers):\n"
               "%-8s %12s %10s %10s %10s %12s\n", "codec", "bytes/item",
               "index MB", "recall@k", "us/query", "score error");

        for (i = 0; rc == 0 && i < RECSYS_RECALL_NCODECS; i++) {
            rc = recsys_recall_codec(&g, &recsys_recall_codecs[i], queries,
                                     (uint32_t) k, exact);
        }
    }

    free(exact);
    recsys_generation_close(&g);
    recsys_catalog_free(c);

    return rc ? 1 : 0;
}


static int
recsys_recall_run(const recsys_generation_t *g, uint64_t queries,
    uint32_t k, recsys_recall_stats_t *st, int64_t *exact)
{
    int             rc;
    float          *dist, *scores, *cdist;
    double          t;
    size_t          nprobe;
    int64_t        *labels, *ids, *assign;
    uint32_t        kk, dim, counted;
    uint64_t        i, n, row;
    const float    *q;
    FaissIndexIVF  *ivf;

    n = g->manifest.items;
    dim = g->manifest.dimension;
    kk = (k + 1 > n) ? (uint32_t) n : k + 1;

    dist = malloc(kk * sizeof(float));
    scores = malloc(kk * sizeof(float));
    labels = malloc(kk * sizeof(int64_t));
    ids = malloc(kk * sizeof(int64_t));

    ivf = faiss_IndexIVF_cast(g->index);
    nprobe = 0;

    if (ivf != NULL) {
        nprobe = faiss_IndexIVF_nprobe(ivf);
        if (nprobe > faiss_IndexIVF_nlist(ivf)) {
            nprobe = faiss_IndexIVF_nlist(ivf);
        }
    }

    cdist = malloc((nprobe + kk) * sizeof(float));
    assign = malloc((nprobe + kk) * sizeof(int64_t));

    rc = -1;

    if (dist == NULL || scores == NULL || labels == NULL || ids == NULL
        || cdist == NULL || assign == NULL)
    {
        fprintf(stderr, "recsys-recall: out of memory\n");
        goto done;
    }

    for (i = 0; i < queries; i++) {
        row = i * n / queries;
        q = g->vectors + row * dim;

        t = recsys_now_seconds();

        if (faiss_Index_search(g->index, 1, q, kk, dist, labels) != 0) {
            fprintf(stderr, "recsys-recall: faiss search: %s\n",
                    recsys_faiss_error());
            goto done;
        }

        st->ivf_seconds += recsys_now_seconds() - t;

        if (ivf != NULL) {
            t = recsys_now_seconds();

            if (recsys_recall_preassigned(ivf, q, kk, cdist, assign,
                                          cdist + nprobe, assign + nprobe)
                != 0)
            {
                goto done;
            }

            st->pre_seconds += recsys_now_seconds() - t;

            if (memcmp(assign + nprobe, labels, kk * sizeof(int64_t)) != 0) {
                st->differ++;
            }
        }

        t = recsys_now_seconds();
        recsys_recall_exact(g, q, kk, ids, scores);
        st->exact_seconds += recsys_now_seconds() - t;

        st->hits += recsys_recall_overlap(labels, ids, kk, -1, kk, &counted);
        st->total += kk;

        st->hits_other += recsys_recall_overlap(labels, ids, kk,
                                                (int64_t) row, k, &counted);
        st->total_other += counted;

        memcpy(exact + i * kk, ids, kk * sizeof(int64_t));
    }

    rc = 0;

done:

    free(dist);
    free(scores);
    free(labels);
    free(ids);
    free(cdist);
    free(assign);

    return rc;
}


/*
 * One codec: an IVF index over the served quantizer, trained on an evenly
 * spread sample, every vector added, searched as a worker searches; the
 * line printed has recall@k with the query item left out.
 */

static int
recsys_recall_codec(const recsys_generation_t *g,
    const recsys_recall_codec_t *codec, uint64_t queries, uint32_t k,
    const int64_t *exact)
{
    int                             rc, metric;
    float                          *sample, *buf, *dist, e;
    double                          t, seconds, maxerr;
    size_t                          nprobe, nlist;
    int64_t                        *ibuf, *labels;
    uint32_t                        dim, kk, counted, j;
    uint64_t                        i, n, m, row, hits, total;
    FaissIndex                     *quantizer, *idx;
    FaissIndexIVF                  *served, *ivf;
    FaissIndexIVFFlat              *flat;
    FaissIndexIVFScalarQuantizer   *sq;

    n = g->manifest.items;
    dim = g->manifest.dimension;
    kk = (k + 1 > n) ? (uint32_t) n : k + 1;
    served = faiss_IndexIVF_cast(g->index);
    quantizer = faiss_IndexIVF_quantizer(served);
    nlist = faiss_IndexIVF_nlist(served);
    nprobe = faiss_IndexIVF_nprobe(served);
    if (nprobe > nlist) {
        nprobe = nlist;
    }

    metric = (g->manifest.metric == RECSYS_METRIC_L2)
             ? METRIC_L2 : METRIC_INNER_PRODUCT;

    idx = NULL;
    sample = NULL;
    buf = malloc((nprobe + kk) * sizeof(float));
    ibuf = malloc((nprobe + kk) * sizeof(int64_t));
    rc = -1;

    if (buf == NULL || ibuf == NULL) {
        fprintf(stderr, "recsys-recall: out of memory\n");
        goto done;
    }

    /* the served index owns the quantizer; these only borrow it */

    if (codec->qt < 0) {
        if (faiss_IndexIVFFlat_new_with_metric(&flat, quantizer, dim, nlist,
                                               (FaissMetricType) metric)
            != 0)
        {
            goto failed;
        }

        idx = (FaissIndex *) flat;

    } else {
        if (faiss_IndexIVFScalarQuantizer_new_with_metric(&sq, quantizer,
                                       dim, nlist,
                                       (FaissQuantizerType) codec->qt,
                                       (FaissMetricType) metric, 1)
            != 0)
        {
            goto failed;
        }

        idx = (FaissIndex *) sq;

        m = n < RECSYS_RECALL_TRAIN ? n : RECSYS_RECALL_TRAIN;
        sample = malloc(m * dim * sizeof(float));
        if (sample == NULL) {
            fprintf(stderr, "recsys-recall: out of memory\n");
            goto done;
        }

        for (i = 0; i < m; i++) {
            row = i * n / m;
            memcpy(sample + i * dim, g->vectors + row * dim,
                   dim * sizeof(float));
        }

        if (faiss_Index_train(idx, (idx_t) m, sample) != 0) {
            goto failed;
        }
    }

    if (faiss_Index_add(idx, (idx_t) n, g->vectors) != 0) {
        goto failed;
    }

    ivf = faiss_IndexIVF_cast(idx);
    faiss_IndexIVF_set_nprobe(ivf, nprobe);

    hits = 0;
    total = 0;
    seconds = 0;
    maxerr = 0;
    labels = ibuf + nprobe;
    dist = buf + nprobe;

    for (i = 0; i < queries; i++) {
        row = i * n / queries;

        t = recsys_now_seconds();

        if (recsys_recall_preassigned(ivf, g->vectors + row * dim, kk, buf,
                                      ibuf, buf + nprobe, labels)
            != 0)
        {
            goto done;
        }

        seconds += recsys_now_seconds() - t;

        hits += recsys_recall_overlap(labels, exact + i * kk, kk,
                                      (int64_t) row, k, &counted);
        total += counted;

        /* FAISS gives squared distances for l2, the score is minus that */
        for (j = 0; j < kk; j++) {
            if (labels[j] < 0) {
                continue;
            }

            e = recsys_vector_score(g->vectors + row * dim,
                                    g->vectors + labels[j] * dim, dim,
                                    metric == METRIC_L2)
                - (metric == METRIC_L2 ? -dist[j] : dist[j]);

            if (fabs(e) > maxerr) {
                maxerr = fabs(e);
            }
        }
    }

    printf("%-8s %12llu %10.1f %10.4f %10.1f %12.6f\n", codec->name,
           (unsigned long long) (dim * codec->bits / 8 + sizeof(int64_t)),
           (double) n * (dim * codec->bits / 8 + sizeof(int64_t)) / 1e6,
           total ? (double) hits / total : 0.0,
           seconds * 1e6 / (double) queries, maxerr);

    rc = 0;
    goto done;

failed:

    fprintf(stderr, "recsys-recall: %s: %s\n", codec->name,
            recsys_faiss_error());

done:

    if (idx != NULL) {
        faiss_Index_free(idx);
    }

    free(sample);
    free(buf);
    free(ibuf);

    return rc;
}


static int
recsys_recall_preassigned(FaissIndexIVF *ivf, const float *q, uint32_t kk,
    float *cdist, int64_t *assign, float *dist, int64_t *labels)
{
    size_t  nprobe;

    nprobe = faiss_IndexIVF_nprobe(ivf);
    if (nprobe > faiss_IndexIVF_nlist(ivf)) {
        nprobe = faiss_IndexIVF_nlist(ivf);
    }

    if (faiss_Index_search(faiss_IndexIVF_quantizer(ivf), 1, q,
                           (idx_t) nprobe, cdist, assign)
        != 0
        || faiss_IndexIVF_search_preassigned(ivf, 1, q, kk, assign, cdist,
                                             dist, labels, 0)
           != 0)
    {
        fprintf(stderr, "recsys-recall: faiss search: %s\n",
                recsys_faiss_error());
        return -1;
    }

    return 0;
}


/* a plain scan keeping the kk best in a sorted array */

static void
recsys_recall_exact(const recsys_generation_t *g, const float *q,
    uint32_t kk, int64_t *ids, float *scores)
{
    int       l2;
    float     s;
    uint32_t  j, dim, filled;
    uint64_t  row, n;

    n = g->manifest.items;
    dim = g->manifest.dimension;
    l2 = (g->manifest.metric == RECSYS_METRIC_L2);
    filled = 0;

    for (row = 0; row < n; row++) {
        s = recsys_vector_score(q, g->vectors + row * dim, dim, l2);

        if (filled == kk && s <= scores[kk - 1]) {
            continue;
        }

        j = (filled < kk) ? filled++ : kk - 1;

        while (j > 0 && scores[j - 1] < s) {
            scores[j] = scores[j - 1];
            ids[j] = ids[j - 1];
            j--;
        }

        scores[j] = s;
        ids[j] = (int64_t) row;
    }
}


/*
 * How many of the first "limit" ids of b other than skip are among the
 * first "limit" ids of a other than skip; *counted gets the list length.
 */

static uint32_t
recsys_recall_overlap(const int64_t *a, const int64_t *b, uint32_t n,
    int64_t skip, uint32_t limit, uint32_t *counted)
{
    uint32_t  i, j, na, nb, hits;

    hits = 0;
    nb = 0;

    for (i = 0; i < n && nb < limit; i++) {
        if (b[i] == skip) {
            continue;
        }

        nb++;
        na = 0;

        for (j = 0; j < n && na < limit; j++) {
            if (a[j] == skip || a[j] < 0) {
                continue;
            }

            na++;

            if (a[j] == b[i]) {
                hits++;
                break;
            }
        }
    }

    *counted = nb;

    return hits;
}
