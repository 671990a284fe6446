/*
 * Sparse item-item rows.  While rows are being set, row r lives at
 * r * m and ptr[r + 1] holds its length; packing moves rows down in
 * order (never over a row not yet moved) and turns lengths into offsets.
 */

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recsys_artifact.h"
#include "recsys_itemsim.h"
#include "recsys_parallel.h"


#define RECSYS_ITEMSIM_CHUNK   16

#define RECSYS_ITEMSIM_TOUCHED   1
#define RECSYS_ITEMSIM_EXCLUDED  2


typedef struct {
    recsys_itemsim_t   *s;
    const double       *b;
    uint32_t            n;
    int                 keep;
    recsys_scored_t    *work;           /* m per worker */
} recsys_itemsim_dense_t;


static void recsys_itemsim_dense_rows(void *data, uint64_t begin,
    uint64_t end, unsigned worker);


int
recsys_itemsim_alloc(recsys_itemsim_t *s, uint32_t nitems, uint32_t m)
{
    size_t  n;

    memset(s, 0, sizeof(recsys_itemsim_t));

    n = (size_t) nitems * m;
    n = n ? n : 1;

    s->ptr = calloc((size_t) nitems + 1, sizeof(uint64_t));
    s->cols = malloc(n * sizeof(uint32_t));
    s->weights = malloc(n * sizeof(float));

    if (s->ptr == NULL || s->cols == NULL || s->weights == NULL) {
        recsys_itemsim_free(s);
        return -1;
    }

    s->nitems = nitems;
    s->m = m;

    return 0;
}


void
recsys_itemsim_set_row(recsys_itemsim_t *s, uint32_t r,
    const recsys_scored_t *list, uint32_t n)
{
    size_t    base;
    uint32_t  j;

    base = (size_t) r * s->m;

    for (j = 0; j < n; j++) {
        s->cols[base + j] = list[j].row;
        s->weights[base + j] = list[j].score;
    }

    s->ptr[r + 1] = n;
}


void
recsys_itemsim_pack(recsys_itemsim_t *s)
{
    void      *p;
    size_t     len;
    uint32_t   r;
    uint64_t   off;

    off = 0;

    for (r = 0; r < s->nitems; r++) {
        len = s->ptr[r + 1];

        if (off != (uint64_t) r * s->m) {
            memmove(s->cols + off, s->cols + (size_t) r * s->m,
                    len * sizeof(uint32_t));
            memmove(s->weights + off, s->weights + (size_t) r * s->m,
                    len * sizeof(float));
        }

        s->ptr[r] = off;
        off += len;
    }

    s->ptr[s->nitems] = off;

    /* shrinking cannot fail in practice; the larger block stays if so */

    p = realloc(s->cols, (off ? off : 1) * sizeof(uint32_t));
    if (p != NULL) {
        s->cols = p;
    }

    p = realloc(s->weights, (off ? off : 1) * sizeof(float));
    if (p != NULL) {
        s->weights = p;
    }
}


int
recsys_itemsim_from_dense(recsys_itemsim_t *s, const double *b, uint32_t n,
    uint32_t m, int keep, int threads)
{
    unsigned                 t;
    recsys_itemsim_dense_t   job;

    if (m > n) {
        m = n;
    }

    if (recsys_itemsim_alloc(s, n, m) != 0) {
        return -1;
    }

    t = recsys_parallel_threads(threads);

    job.s = s;
    job.b = b;
    job.n = n;
    job.keep = keep;
    job.work = malloc(((size_t) t * m + 1) * sizeof(recsys_scored_t));

    if (job.work == NULL) {
        recsys_itemsim_free(s);
        return -1;
    }

    recsys_parallel_for(n, RECSYS_ITEMSIM_CHUNK, t,
                        recsys_itemsim_dense_rows, &job);

    free(job.work);
    recsys_itemsim_pack(s);

    return 0;
}


void
recsys_itemsim_free(recsys_itemsim_t *s)
{
    free(s->ptr);
    free(s->cols);
    free(s->weights);
    memset(s, 0, sizeof(recsys_itemsim_t));
}


int
recsys_itemsim_scorer_init(recsys_itemsim_scorer_t *sc, uint32_t nitems)
{
    size_t  n;

    n = nitems ? nitems : 1;

    sc->nitems = nitems;
    sc->acc = calloc(n, sizeof(float));
    sc->flag = calloc(n, 1);
    sc->touched = malloc(n * sizeof(uint32_t));

    if (sc->acc == NULL || sc->flag == NULL || sc->touched == NULL) {
        recsys_itemsim_scorer_free(sc);
        return -1;
    }

    return 0;
}


void
recsys_itemsim_scorer_free(recsys_itemsim_scorer_t *sc)
{
    free(sc->acc);
    free(sc->flag);
    free(sc->touched);
    memset(sc, 0, sizeof(recsys_itemsim_scorer_t));
}


uint32_t
recsys_itemsim_recommend(const recsys_itemsim_t *s,
    recsys_itemsim_scorer_t *sc, const uint32_t *hist, const float *hw,
    size_t nh, uint32_t k, recsys_scored_t *out)
{
    float          w;
    size_t         h;
    uint32_t       j, c, ntouched;
    uint64_t       e;
    recsys_topk_t  t;

    for (h = 0; h < nh; h++) {
        if (hist[h] < s->nitems) {
            sc->flag[hist[h]] |= RECSYS_ITEMSIM_EXCLUDED;
        }
    }

    ntouched = 0;

    for (h = 0; h < nh; h++) {
        if (hist[h] >= s->nitems) {
            continue;
        }

        w = hw ? hw[h] : 1.0f;

        for (e = s->ptr[hist[h]]; e < s->ptr[hist[h] + 1]; e++) {
            c = s->cols[e];

            if (!(sc->flag[c] & RECSYS_ITEMSIM_TOUCHED)) {
                sc->flag[c] |= RECSYS_ITEMSIM_TOUCHED;
                sc->touched[ntouched++] = c;
            }

            sc->acc[c] += w * s->weights[e];
        }
    }

    recsys_topk_init(&t, out, k);

    for (j = 0; j < ntouched; j++) {
        c = sc->touched[j];

        if (!(sc->flag[c] & RECSYS_ITEMSIM_EXCLUDED) && sc->acc[c] > 0) {
            recsys_topk_push(&t, c, sc->acc[c]);
        }

        sc->acc[c] = 0;
        sc->flag[c] = 0;
    }

    for (h = 0; h < nh; h++) {
        if (hist[h] < s->nitems) {
            sc->flag[hist[h]] = 0;
        }
    }

    return recsys_topk_sort(&t);
}


static void
recsys_itemsim_dense_rows(void *data, uint64_t begin, uint64_t end,
    unsigned worker)
{
    double                   v;
    uint32_t                 j, m, got;
    uint64_t                 r;
    const double            *row;
    recsys_topk_t            t;
    recsys_itemsim_dense_t  *job = data;

    m = job->s->m;

    for (r = begin; r < end; r++) {
        row = job->b + r * job->n;
        recsys_topk_init(&t, job->work + (size_t) worker * m, m);

        for (j = 0; j < job->n; j++) {
            v = row[j];

            if (j != r && v != 0 && isfinite(v)) {
                recsys_topk_push(&t, j, (float) (job->keep ? fabs(v) : v));
            }
        }

        got = recsys_topk_sort(&t);

        /* ordered by magnitude: the weights get their signs back */

        for (j = 0; job->keep && j < got; j++) {
            t.heap[j].score = (float) row[t.heap[j].row];
        }

        recsys_itemsim_set_row(job->s, (uint32_t) r, t.heap, got);
    }
}


int
recsys_itemsim_write(const recsys_itemsim_t *s, uint32_t algorithm,
    const char *path, char *err, size_t errlen)
{
    FILE      *fp;
    uint64_t   nnz;
    uint32_t   h[RECSYS_ITEMSIM_HEADER / 4];

    nnz = s->ptr[s->nitems];

    memset(h, 0, sizeof(h));
    h[0] = RECSYS_ITEMSIM_MAGIC;
    h[1] = RECSYS_ITEMSIM_VERSION;
    h[2] = s->nitems;
    h[3] = s->m;
    memcpy(&h[4], &nnz, sizeof(uint64_t));
    h[6] = algorithm;

    fp = fopen(path, "wb");
    if (fp == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }

    if (fwrite(h, sizeof(h), 1, fp) != 1
        || fwrite(s->ptr, sizeof(uint64_t), (size_t) s->nitems + 1, fp)
           != (size_t) s->nitems + 1
        || (nnz && fwrite(s->cols, sizeof(uint32_t), nnz, fp) != nnz)
        || (nnz && fwrite(s->weights, sizeof(float), nnz, fp) != nnz))
    {
        snprintf(err, errlen, "%s: write failed: %s", path, strerror(errno));
        fclose(fp);
        return -1;
    }

    if (fclose(fp) != 0) {
        snprintf(err, errlen, "%s: close failed: %s", path, strerror(errno));
        return -1;
    }

    return 0;
}


int
recsys_itemsim_view(recsys_itemsim_t *s, const void *base, size_t size,
    uint64_t nitems, uint32_t *algorithm, char *err, size_t errlen)
{
    uint8_t   *p;
    uint64_t   nnz, need;
    uint32_t   h[RECSYS_ITEMSIM_HEADER / 4];

    memset(s, 0, sizeof(recsys_itemsim_t));

    if (size < RECSYS_ITEMSIM_HEADER) {
        snprintf(err, errlen, "%s: truncated header", RECSYS_ITEMSIM_FILE);
        return -1;
    }

    memcpy(h, base, sizeof(h));
    memcpy(&nnz, &h[4], sizeof(uint64_t));

    if (h[0] != RECSYS_ITEMSIM_MAGIC || h[1] != RECSYS_ITEMSIM_VERSION) {
        snprintf(err, errlen, "%s: bad magic or version",
                 RECSYS_ITEMSIM_FILE);
        return -1;
    }

    if (h[2] != nitems || h[3] == 0 || nnz > (uint64_t) h[2] * h[3]) {
        snprintf(err, errlen, "%s: %u rows of at most %u, %llu entries, do"
                 " not match the generation's %llu items",
                 RECSYS_ITEMSIM_FILE, h[2], h[3], (unsigned long long) nnz,
                 (unsigned long long) nitems);
        return -1;
    }

    need = RECSYS_ITEMSIM_HEADER + ((uint64_t) h[2] + 1) * 8 + nnz * 8;

    if (size != need) {
        snprintf(err, errlen, "%s: size %llu, expected %llu",
                 RECSYS_ITEMSIM_FILE, (unsigned long long) size,
                 (unsigned long long) need);
        return -1;
    }

    p = (uint8_t *) base + RECSYS_ITEMSIM_HEADER;

    s->nitems = h[2];
    s->m = h[3];
    s->ptr = (uint64_t *) p;
    s->cols = (uint32_t *) (p + ((size_t) h[2] + 1) * 8);
    s->weights = (float *) (p + ((size_t) h[2] + 1) * 8 + nnz * 4);

    if (algorithm != NULL) {
        *algorithm = h[6];
    }

    return 0;
}


int
recsys_itemsim_check(const recsys_itemsim_t *s, char *err, size_t errlen)
{
    uint32_t  r;
    uint64_t  j, nnz;

    nnz = s->ptr[s->nitems];

    if (s->ptr[0] != 0) {
        snprintf(err, errlen, "%s: the first row does not start at 0",
                 RECSYS_ITEMSIM_FILE);
        return -1;
    }

    for (r = 0; r < s->nitems; r++) {
        if (s->ptr[r + 1] < s->ptr[r] || s->ptr[r + 1] > nnz
            || s->ptr[r + 1] - s->ptr[r] > s->m)
        {
            snprintf(err, errlen, "%s: row %u: bad offsets",
                     RECSYS_ITEMSIM_FILE, r);
            return -1;
        }

        for (j = s->ptr[r]; j < s->ptr[r + 1]; j++) {
            if (s->cols[j] >= s->nitems || !isfinite(s->weights[j])) {
                snprintf(err, errlen, "%s: row %u, entry %llu: item %u,"
                         " weight %g", RECSYS_ITEMSIM_FILE, r,
                         (unsigned long long) (j - s->ptr[r]), s->cols[j],
                         (double) s->weights[j]);
                return -1;
            }
        }
    }

    return 0;
}
