/*
 * One query's IVF search without OpenMP: the nprobe lists of the flat
 * coarse quantizer nearest to the query, and the scan of those lists by
 * FAISS's own InvertedListScanner.  These are the two halves of
 * IndexIVF::search() for one query, with FAISS's kernels and heaps, so
 * the results are those of faiss_Index_search() on the quantizer and
 * faiss_IndexIVF_search_preassigned(); what is left out is the OpenMP
 * parallel region each of those opens on every call, even on one thread
 * (libgomp ends a region and its loop with futex wake-ups: four system
 * calls a query).  C++ (FAISS's C API has no entry point for a scanner).
 */

#ifndef _RECSYS_FAISS_SCAN_H_INCLUDED_
#define _RECSYS_FAISS_SCAN_H_INCLUDED_


#include <stddef.h>

#include <faiss/c_api/IndexIVF_c.h>


#ifdef __cplusplus
extern "C" {
#endif

/*
 * The nprobe nearest lists, best first, and their coarse distances (inner
 * products or squared L2 distances, as the quantizer's metric has them);
 * nprobe <= nlist.  A quantizer that is not a flat index is searched by
 * FAISS as usual.  0, or -1 with FAISS's last error set.
 */
int recsys_faiss_coarse(FaissIndexIVF *ivf, const float *query,
    size_t nprobe, idx_t *assign, float *cdist);

/*
 * recsys_faiss_coarse() of n queries (n x d floats) in one call, the
 * centroids read once: n x nprobe lists and distances, query by query,
 * each equal to what recsys_faiss_coarse() gives for that query alone.
 */
int recsys_faiss_coarse_n(FaissIndexIVF *ivf, size_t n,
    const float *queries, size_t nprobe, idx_t *assign, float *cdist);

/*
 * The k best of the lists assign[0..nprobe) (negative entries skipped),
 * best first in dist and labels; unfilled places have the label -1.
 * 0, or -1 with FAISS's last error set.
 */
int recsys_faiss_scan(FaissIndexIVF *ivf, const float *query,
    size_t nprobe, const idx_t *assign, const float *cdist, idx_t k,
    float *dist, idx_t *labels);

/*
 * recsys_faiss_scan() with a kernel of our own for SQ8 inner-product
 * indexes in the AVX2 build (the codec folded into the query once): the
 * same lists and heap, scores that differ from FAISS's in their last
 * bits.  Any other index or build: recsys_faiss_scan() itself.
 */
int recsys_faiss_scan_sq8(FaissIndexIVF *ivf, const float *query,
    size_t nprobe, const idx_t *assign, const float *cdist, idx_t k,
    float *dist, idx_t *labels);

#ifdef __cplusplus
}
#endif


#endif /* _RECSYS_FAISS_SCAN_H_INCLUDED_ */
