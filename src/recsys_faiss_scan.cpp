/*
 * The two halves of IndexIVF::search() for one query without an OpenMP
 * region (recsys_faiss_scan.h says why): the loops of FAISS 1.7's
 * exhaustive_inner_product_seq()/exhaustive_L2sqr_seq() for one query
 * and of IndexIVF::search_preassigned() for one query, with the same
 * distance functions, heaps and scanners, hence the same results.
 */

#include <exception>
#include <memory>

#include <faiss/IndexFlat.h>
#include <faiss/IndexIVF.h>
#include <faiss/impl/FaissAssert.h>
#include <faiss/invlists/InvertedLists.h>
#include <faiss/utils/Heap.h>
#include <faiss/utils/distances.h>
#include <faiss/c_api/error_impl.h>

#include "recsys_faiss_scan.h"


namespace {

typedef faiss::Index::idx_t  recsys_idx_t;


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
