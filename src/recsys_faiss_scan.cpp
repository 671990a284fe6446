/*
 * The two halves of IndexIVF::search() for one query without an OpenMP
 * region (recsys_faiss_scan.h says why): the loops of FAISS 1.7's
 * exhaustive_inner_product_seq()/exhaustive_L2sqr_seq() for one query
 * and of IndexIVF::search_preassigned() for one query, with the same
 * distance functions, heaps and scanners, hence the same results.
 */

#include <exception>
#include <memory>

#include <immintrin.h>

#include <faiss/IndexFlat.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexScalarQuantizer.h>
#include <faiss/impl/FaissAssert.h>
#include <faiss/invlists/InvertedLists.h>
#include <faiss/utils/Heap.h>
#include <faiss/utils/distances.h>
#include <faiss/c_api/error_impl.h>

#include "recsys_faiss_scan.h"


/* set by the AVX2 FAISS objects (scripts/faiss-simd-guard.c) when linked */
extern "C" const char recsys_faiss_simd_variant[] __attribute__((weak));


namespace {

typedef faiss::Index::idx_t  recsys_idx_t;


/* the folded SQ8 scan's query, on the stack: up to this dimension */
const size_t  recsys_sq8_max_dim = 1024;


const faiss::IndexIVF *
recsys_ivf(FaissIndexIVF *ivf)
{
    return reinterpret_cast<const faiss::IndexIVF *>(ivf);
}


/*
 * C is the quantizer's heap: CMin keeps the largest inner products.  The
 * centroids are read once for all n queries, each query keeps its heap;
 * a query sees the centroids in the same order as alone, so its lists
 * are those of a search of it alone.
 */

template <class C>
void
recsys_coarse_flat(const faiss::IndexFlat *flat, size_t n,
    const float *queries, size_t nprobe, recsys_idx_t *assign, float *cdist)
{
    bool          ip;
    float         dis;
    size_t        i, j, d;
    const float  *y;

    d = flat->d;
    y = flat->get_xb();
    ip = (flat->metric_type == faiss::METRIC_INNER_PRODUCT);

    for (i = 0; i < n; i++) {
        faiss::heap_heapify<C>(nprobe, cdist + i * nprobe,
                               assign + i * nprobe);
    }

    for (j = 0; j < (size_t) flat->ntotal; j++, y += d) {
        for (i = 0; i < n; i++) {
            dis = ip ? faiss::fvec_inner_product(queries + i * d, y, d)
                     : faiss::fvec_L2sqr(queries + i * d, y, d);

            /* the heap's top is its threshold */
            if (C::cmp(cdist[i * nprobe], dis)) {
                faiss::heap_replace_top<C>(nprobe, cdist + i * nprobe,
                                           assign + i * nprobe, dis, j);
            }
        }
    }

    for (i = 0; i < n; i++) {
        faiss::heap_reorder<C>(nprobe, cdist + i * nprobe,
                               assign + i * nprobe);
    }
}


template <class C>
void
recsys_scan_lists(const faiss::IndexIVF *ivf, const float *query,
    size_t nprobe, const recsys_idx_t *assign, const float *cdist,
    recsys_idx_t k, float *dist, recsys_idx_t *labels)
{
    size_t                                        i, n;
    recsys_idx_t                                  key;
    const faiss::InvertedLists                   *il;
    std::unique_ptr<faiss::InvertedListScanner>   scanner;

    il = ivf->invlists;
    scanner.reset(ivf->get_InvertedListScanner(false, nullptr));

    faiss::heap_heapify<C>(k, dist, labels);
    scanner->set_query(query);

    for (i = 0; i < nprobe; i++) {
        key = assign[i];

        if (key < 0) {
            /* fewer lists than nprobe */
            continue;
        }

        FAISS_THROW_IF_NOT_MSG(key < (recsys_idx_t) ivf->nlist,
                               "list number out of range");

        n = il->list_size(key);
        if (n == 0) {
            continue;
        }

        scanner->set_list(key, cdist[i]);

        faiss::InvertedLists::ScopedCodes  codes(il, key);
        faiss::InvertedLists::ScopedIds    ids(il, key);

        scanner->scan_codes(n, codes.get(), ids.get(), dist, labels, k);
    }

    faiss::heap_reorder<C>(k, dist, labels);
}


/*
 * FAISS decodes each SQ8 component, vmin + (code + 0.5) / 255 * vdiff,
 * then multiplies it by the query's; folded into the query once, the
 * inner product is a constant plus the query scaled by vdiff / 255 times
 * the codes: one multiply-add per component instead of three operations.
 * The scores differ from FAISS's in their last bits (docs/decisions.md).
 */

__attribute__((target("avx2,fma")))
void
recsys_scan_sq8_ip(const faiss::IndexIVFScalarQuantizer *ivf,
    const float *query, size_t nprobe, const recsys_idx_t *assign,
    const float *cdist, recsys_idx_t k, float *dist, recsys_idx_t *labels)
{
    float                        base, bias, score;
    size_t                       i, j, n, d;
    __m128                       s;
    __m256                       a0, a1, x0, x1;
    recsys_idx_t                 key;
    const float                 *vmin, *vdiff;
    const uint8_t               *code;
    const faiss::InvertedLists  *il;
    float                        q[recsys_sq8_max_dim];

    d = ivf->d;
    vmin = ivf->sq.trained.data();
    vdiff = vmin + d;
    base = 0;

    for (i = 0; i < d; i++) {
        q[i] = query[i] * vdiff[i] * (1.0f / 255.0f);
        base += query[i] * (vmin[i] + 0.5f * vdiff[i] * (1.0f / 255.0f));
    }

    il = ivf->invlists;
    faiss::heap_heapify<faiss::CMin<float, recsys_idx_t>>(k, dist, labels);

    for (i = 0; i < nprobe; i++) {
        key = assign[i];

        if (key < 0) {
            continue;
        }

        FAISS_THROW_IF_NOT_MSG(key < (recsys_idx_t) ivf->nlist,
                               "list number out of range");

        n = il->list_size(key);
        if (n == 0) {
            continue;
        }

        /* residual codes: the list's centroid adds its inner product */
        bias = ivf->by_residual ? base + cdist[i] : base;

        faiss::InvertedLists::ScopedCodes  codes(il, key);
        faiss::InvertedLists::ScopedIds    ids(il, key);

        code = codes.get();

        for (j = 0; j < n; j++, code += d) {
            a0 = _mm256_setzero_ps();
            a1 = _mm256_setzero_ps();

            for (size_t c = 0; c < d; c += 16) {
                x0 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(
                         _mm_loadl_epi64((const __m128i *) (code + c))));
                x1 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(
                         _mm_loadl_epi64((const __m128i *) (code + c + 8))));
                a0 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(q + c), a0);
                a1 = _mm256_fmadd_ps(x1, _mm256_loadu_ps(q + c + 8), a1);
            }

            a0 = _mm256_add_ps(a0, a1);
            s = _mm_add_ps(_mm256_castps256_ps128(a0),
                           _mm256_extractf128_ps(a0, 1));
            s = _mm_add_ps(s, _mm_movehl_ps(s, s));
            s = _mm_add_ss(s, _mm_movehdup_ps(s));
            score = bias + _mm_cvtss_f32(s);

            if (score > dist[0]) {
                faiss::heap_replace_top<faiss::CMin<float, recsys_idx_t>>(
                    k, dist, labels, score, ids.get()[j]);
            }
        }
    }

    faiss::heap_reorder<faiss::CMin<float, recsys_idx_t>>(k, dist, labels);
}


/* the SQ8 inner-product index that recsys_scan_sq8_ip() can scan */

const faiss::IndexIVFScalarQuantizer *
recsys_sq8_ip(const faiss::IndexIVF *ivf)
{
    const faiss::IndexIVFScalarQuantizer  *sq;

    /* the AVX2 objects are linked: their guard checked AVX2 and FMA */
    if (recsys_faiss_simd_variant == nullptr
        || ivf->metric_type != faiss::METRIC_INNER_PRODUCT
        || ivf->d % 16 != 0 || (size_t) ivf->d > recsys_sq8_max_dim)
    {
        return nullptr;
    }

    sq = dynamic_cast<const faiss::IndexIVFScalarQuantizer *>(ivf);

    if (sq == nullptr
        || sq->sq.qtype != faiss::ScalarQuantizer::QT_8bit
        || sq->sq.trained.size() != 2 * (size_t) ivf->d)
    {
        return nullptr;
    }

    return sq;
}

} /* namespace */


int
recsys_faiss_coarse(FaissIndexIVF *index, const float *query, size_t nprobe,
    idx_t *assign, float *cdist)
{
    return recsys_faiss_coarse_n(index, 1, query, nprobe, assign, cdist);
}


int
recsys_faiss_coarse_n(FaissIndexIVF *index, size_t n, const float *queries,
    size_t nprobe, idx_t *assign, float *cdist)
{
    const faiss::IndexIVF   *ivf;
    const faiss::IndexFlat  *flat;

    try {
        ivf = recsys_ivf(index);

        FAISS_THROW_IF_NOT_MSG(nprobe > 0 && nprobe <= ivf->nlist,
                               "nprobe out of range");

        flat = dynamic_cast<const faiss::IndexFlat *>(ivf->quantizer);

        if (flat == nullptr) {
            ivf->quantizer->search(n, queries, nprobe, cdist, assign);

        } else if (flat->metric_type == faiss::METRIC_INNER_PRODUCT) {
            recsys_coarse_flat<faiss::CMin<float, recsys_idx_t>>(
                flat, n, queries, nprobe, assign, cdist);

        } else {
            recsys_coarse_flat<faiss::CMax<float, recsys_idx_t>>(
                flat, n, queries, nprobe, assign, cdist);
        }

    } catch (...) {
        faiss_last_exception = std::current_exception();
        return -1;
    }

    return 0;
}


int
recsys_faiss_scan(FaissIndexIVF *index, const float *query, size_t nprobe,
    const idx_t *assign, const float *cdist, idx_t k, float *dist,
    idx_t *labels)
{
    const faiss::IndexIVF  *ivf;

    try {
        ivf = recsys_ivf(index);

        FAISS_THROW_IF_NOT_MSG(k > 0, "k must be positive");

        if (ivf->metric_type == faiss::METRIC_INNER_PRODUCT) {
            recsys_scan_lists<faiss::CMin<float, recsys_idx_t>>(
                ivf, query, nprobe, assign, cdist, k, dist, labels);

        } else {
            recsys_scan_lists<faiss::CMax<float, recsys_idx_t>>(
                ivf, query, nprobe, assign, cdist, k, dist, labels);
        }

    } catch (...) {
        faiss_last_exception = std::current_exception();
        return -1;
    }

    return 0;
}


int
recsys_faiss_scan_sq8(FaissIndexIVF *index, const float *query,
    size_t nprobe, const idx_t *assign, const float *cdist, idx_t k,
    float *dist, idx_t *labels)
{
    const faiss::IndexIVFScalarQuantizer  *sq;

    try {
        FAISS_THROW_IF_NOT_MSG(k > 0, "k must be positive");

        sq = recsys_sq8_ip(recsys_ivf(index));

        if (sq == nullptr) {
            return recsys_faiss_scan(index, query, nprobe, assign, cdist, k,
                                     dist, labels);
        }

        recsys_scan_sq8_ip(sq, query, nprobe, assign, cdist, k, dist,
                           labels);

    } catch (...) {
        faiss_last_exception = std::current_exception();
        return -1;
    }

    return 0;
}
