/*
 * The few BLAS/LAPACK routines training uses, declared with their
 * Fortran ABI (every argument by reference, hidden string lengths last),
 * and which BLAS the process is linked with at run time: Debian switches
 * libblas.so.3/liblapack.so.3 between reference BLAS and OpenBLAS with
 * update-alternatives, without relinking.
 */

#ifndef _RECSYS_BLAS_H_INCLUDED_
#define _RECSYS_BLAS_H_INCLUDED_


#include <stddef.h>


/* C := alpha A A' + beta C (trans "N"), upper or lower triangle only */
void dsyrk_(const char *uplo, const char *trans, const int *n, const int *k,
    const double *alpha, const double *a, const int *lda,
    const double *beta, double *c, const int *ldc, size_t luplo,
    size_t ltrans);

/* Cholesky factorisation of a symmetric positive definite matrix */
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda,
    int *info, size_t luplo);

/* inverse from dpotrf's factor, in the same triangle */
void dpotri_(const char *uplo, const int *n, double *a, const int *lda,
    int *info, size_t luplo);

/* singular value decomposition, divide and conquer */
void dgesdd_(const char *jobz, const int *m, const int *n, double *a,
    const int *lda, double *s, double *u, const int *ldu, double *vt,
    const int *ldvt, double *work, const int *lwork, int *iwork, int *info,
    size_t ljobz);


/* OpenBLAS's configuration ("OpenBLAS 0.3.21 ...") or "reference BLAS" */
const char *recsys_blas_name(void);

/*
 * Sets OpenBLAS's own thread count (it ignores OMP_NUM_THREADS once
 * loaded); a no-op with reference BLAS, which is single-threaded.
 */
void recsys_blas_threads(int n);


#endif /* _RECSYS_BLAS_H_INCLUDED_ */
