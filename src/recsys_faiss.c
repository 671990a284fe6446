/*
 * index.faiss and the FAISS C API: the structure of the files the builder
 * writes (faiss/impl/index_write.cpp of FAISS 1.7: a fourcc, the index
 * header, the IVF header with its flat quantizer and direct map, the
 * codec, then "ilar" inverted lists whose codes and ids follow, list by
 * list, up to the end of the file), and FAISS's error text.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <faiss/c_api/error_c.h>

#include "recsys_faiss.h"


#define RECSYS_FAISS_FLAT_IP       0x49467849u     /* "IxFI" */
#define RECSYS_FAISS_FLAT_L2       0x32467849u     /* "IxF2" */
#define RECSYS_FAISS_ILAR          0x72616c69u     /* "ilar" */
#define RECSYS_FAISS_FULL          0x6c6c7566u     /* "full" */
#define RECSYS_FAISS_SPRS          0x73727073u     /* "sprs" */

#define RECSYS_FAISS_DIM_MAX       65536
#define RECSYS_FAISS_NLIST_MAX     (1 << 20)
#define RECSYS_FAISS_NTOTAL_MAX    ((uint64_t) 1 << 40)

/* ScalarQuantizer::QuantizerType values of SQ8, SQ4 and SQfp16 */
#define RECSYS_FAISS_QT_8BIT       0
#define RECSYS_FAISS_QT_4BIT       1
#define RECSYS_FAISS_QT_FP16       4


typedef struct {
    const uint8_t      *base;
    uint64_t            size;
    uint64_t            pos;
    char               *err;
    size_t              errlen;
} recsys_faiss_reader_t;


static int recsys_faiss_read(recsys_faiss_reader_t *r, void *out, size_t n);
static int recsys_faiss_u64(recsys_faiss_reader_t *r, uint64_t *v);
static int recsys_faiss_skip(recsys_faiss_reader_t *r, uint64_t n);
static int recsys_faiss_header(recsys_faiss_reader_t *r, const char *what,
    uint32_t *d, uint64_t *ntotal, int *metric);
static int recsys_faiss_quantizer(recsys_faiss_reader_t *r,
    recsys_faiss_layout_t *l);
static int recsys_faiss_sq(recsys_faiss_reader_t *r,
    recsys_faiss_layout_t *l);
static int recsys_faiss_pq(recsys_faiss_reader_t *r,
    recsys_faiss_layout_t *l);
static int recsys_faiss_lists(recsys_faiss_reader_t *r,
    recsys_faiss_layout_t *l);
static void recsys_faiss_list_size(const uint8_t *sizes, int sparse,
    uint64_t i, uint64_t *list, uint64_t *n);


static int
recsys_faiss_read(recsys_faiss_reader_t *r, void *out, size_t n)
{
    if (n > r->size - r->pos) {
        snprintf(r->err, r->errlen, "%s: truncated at byte %llu of %llu",
                 RECSYS_INDEX_FILE, (unsigned long long) r->pos,
                 (unsigned long long) r->size);
        return -1;
    }

    memcpy(out, r->base + r->pos, n);
    r->pos += n;

    return 0;
}


static int
recsys_faiss_u64(recsys_faiss_reader_t *r, uint64_t *v)
{
    return recsys_faiss_read(r, v, sizeof(uint64_t));
}


static int
recsys_faiss_skip(recsys_faiss_reader_t *r, uint64_t n)
{
    if (n > r->size - r->pos) {
        snprintf(r->err, r->errlen, "%s: truncated at byte %llu of %llu",
                 RECSYS_INDEX_FILE, (unsigned long long) r->pos,
                 (unsigned long long) r->size);
        return -1;
    }

    r->pos += n;

    return 0;
}


/* d, ntotal, two unused words, is_trained and the metric of an Index */

static int
recsys_faiss_header(recsys_faiss_reader_t *r, const char *what, uint32_t *d,
    uint64_t *ntotal, int *metric)
{
    int32_t  dim, type;
    int64_t  n, unused[2];
    uint8_t  trained;

    if (recsys_faiss_read(r, &dim, 4) != 0
        || recsys_faiss_read(r, &n, 8) != 0
        || recsys_faiss_read(r, unused, 16) != 0
        || recsys_faiss_read(r, &trained, 1) != 0
        || recsys_faiss_read(r, &type, 4) != 0)
    {
        return -1;
    }

    if (dim <= 0 || dim > RECSYS_FAISS_DIM_MAX || n < 0
        || (uint64_t) n > RECSYS_FAISS_NTOTAL_MAX || trained != 1
        || (type != RECSYS_FAISS_METRIC_IP && type != RECSYS_FAISS_METRIC_L2))
    {
        snprintf(r->err, r->errlen, "%s: %s header: dimension %d, %lld "
                 "vectors, trained %u, metric type %d", RECSYS_INDEX_FILE,
                 what, dim, (long long) n, trained, type);
        return -1;
    }

    *d = (uint32_t) dim;
    *ntotal = (uint64_t) n;
    *metric = type;

    return 0;
}


/* the coarse quantizer: a flat index of nlist centroids; the direct map */

static int
recsys_faiss_quantizer(recsys_faiss_reader_t *r, recsys_faiss_layout_t *l)
{
    int       metric;
    uint8_t   map;
    uint32_t  type, d;
    uint64_t  n, words;

    if (recsys_faiss_read(r, &type, 4) != 0) {
        return -1;
    }

    if (type != (l->metric == RECSYS_FAISS_METRIC_IP
                 ? RECSYS_FAISS_FLAT_IP : RECSYS_FAISS_FLAT_L2))
    {
        snprintf(r->err, r->errlen, "%s: quantizer type 0x%08x is not the "
                 "flat index of the metric", RECSYS_INDEX_FILE, type);
        return -1;
    }

    if (recsys_faiss_header(r, "quantizer", &d, &n, &metric) != 0
        || recsys_faiss_u64(r, &words) != 0)
    {
        return -1;
    }

    if (d != l->dimension || n != l->nlist || metric != l->metric
        || words != n * d)
    {
        snprintf(r->err, r->errlen, "%s: quantizer of %llu centroids of "
                 "dimension %u (%llu floats) for %llu lists of dimension %u",
                 RECSYS_INDEX_FILE, (unsigned long long) n, d,
                 (unsigned long long) words, (unsigned long long) l->nlist,
                 l->dimension);
        return -1;
    }

    if (recsys_faiss_skip(r, words * 4) != 0
        || recsys_faiss_read(r, &map, 1) != 0
        || recsys_faiss_u64(r, &n) != 0)
    {
        return -1;
    }

    if (map != 0 || n != 0) {
        snprintf(r->err, r->errlen, "%s: a direct map (type %u, %llu "
                 "entries) the builder never writes", RECSYS_INDEX_FILE,
                 map, (unsigned long long) n);
        return -1;
    }

    return 0;
}


/* IndexIVFScalarQuantizer: the ScalarQuantizer, code_size, by_residual */

static int
recsys_faiss_sq(recsys_faiss_reader_t *r, recsys_faiss_layout_t *l)
{
    int32_t   qtype, rangestat;
    uint8_t   by_residual;
    uint32_t  arg;
    uint64_t  d, code_size, trained, ivf_code_size, expect, expect_trained;

    if (recsys_faiss_read(r, &qtype, 4) != 0
        || recsys_faiss_read(r, &rangestat, 4) != 0
        || recsys_faiss_read(r, &arg, 4) != 0
        || recsys_faiss_u64(r, &d) != 0
        || recsys_faiss_u64(r, &code_size) != 0
        || recsys_faiss_u64(r, &trained) != 0)
    {
        return -1;
    }

    switch (qtype) {
    case RECSYS_FAISS_QT_8BIT:
        expect = l->dimension;
        expect_trained = 2 * (uint64_t) l->dimension;
        break;
    case RECSYS_FAISS_QT_4BIT:
        expect = ((uint64_t) l->dimension + 1) / 2;
        expect_trained = 2 * (uint64_t) l->dimension;
        break;
    case RECSYS_FAISS_QT_FP16:
        expect = 2 * (uint64_t) l->dimension;
        expect_trained = 0;
        break;
    default:
        snprintf(r->err, r->errlen, "%s: scalar quantizer type %d is not "
                 "one the builder writes", RECSYS_INDEX_FILE, qtype);
        return -1;
    }

    if (d != l->dimension || code_size != expect
        || trained != expect_trained)
    {
        snprintf(r->err, r->errlen, "%s: scalar quantizer of dimension %llu, "
                 "%llu bytes a code, %llu trained values", RECSYS_INDEX_FILE,
                 (unsigned long long) d, (unsigned long long) code_size,
                 (unsigned long long) trained);
        return -1;
    }

    if (recsys_faiss_skip(r, trained * 4) != 0
        || recsys_faiss_u64(r, &ivf_code_size) != 0
        || recsys_faiss_read(r, &by_residual, 1) != 0)
    {
        return -1;
    }

    if (ivf_code_size != code_size || by_residual > 1) {
        snprintf(r->err, r->errlen, "%s: code size %llu, scalar quantizer's "
                 "%llu", RECSYS_INDEX_FILE,
                 (unsigned long long) ivf_code_size,
                 (unsigned long long) code_size);
        return -1;
    }

    l->code_size = code_size;

    return 0;
}


/* IndexIVFPQ: by_residual, code_size, the ProductQuantizer */

static int
recsys_faiss_pq(recsys_faiss_reader_t *r, recsys_faiss_layout_t *l)
{
    uint8_t   by_residual;
    uint64_t  code_size, d, m, nbits, centroids;

    if (recsys_faiss_read(r, &by_residual, 1) != 0
        || recsys_faiss_u64(r, &code_size) != 0
        || recsys_faiss_u64(r, &d) != 0
        || recsys_faiss_u64(r, &m) != 0
        || recsys_faiss_u64(r, &nbits) != 0
        || recsys_faiss_u64(r, &centroids) != 0)
    {
        return -1;
    }

    if (by_residual > 1 || d != l->dimension || m == 0 || d % m != 0
        || nbits == 0 || nbits > 16 || code_size != (m * nbits + 7) / 8
        || centroids != (d << nbits))
    {
        snprintf(r->err, r->errlen, "%s: product quantizer of dimension "
                 "%llu, %llu x %llu bits, %llu bytes a code, %llu centroid "
                 "values", RECSYS_INDEX_FILE, (unsigned long long) d,
                 (unsigned long long) m, (unsigned long long) nbits,
                 (unsigned long long) code_size,
                 (unsigned long long) centroids);
        return -1;
    }

    l->code_size = code_size;

    return recsys_faiss_skip(r, centroids * 4);
}


/* list i of a "full" (a size per list) or "sprs" ((list, size) pairs) */

static void
recsys_faiss_list_size(const uint8_t *sizes, int sparse, uint64_t i,
    uint64_t *list, uint64_t *n)
{
    if (sparse) {
        memcpy(list, sizes + 16 * i, 8);
        memcpy(n, sizes + 16 * i + 8, 8);

    } else {
        *list = i;
        memcpy(n, sizes + 8 * i, 8);
    }
}


static int
recsys_faiss_lists(recsys_faiss_reader_t *r, recsys_faiss_layout_t *l)
{
    uint32_t        type;
    uint64_t        nlist, code_size, nsizes, count, i, list, n, sum;
    uint64_t        next, need;
    const uint8_t  *sizes;

    if (recsys_faiss_read(r, &type, 4) != 0) {
        return -1;
    }

    if (type != RECSYS_FAISS_ILAR) {
        snprintf(r->err, r->errlen, "%s: inverted lists of type 0x%08x, not "
                 "\"ilar\"", RECSYS_INDEX_FILE, type);
        return -1;
    }

    if (recsys_faiss_u64(r, &nlist) != 0
        || recsys_faiss_u64(r, &code_size) != 0
        || recsys_faiss_read(r, &type, 4) != 0)
    {
        return -1;
    }

    if (nlist != l->nlist || code_size != l->code_size
        || (type != RECSYS_FAISS_FULL && type != RECSYS_FAISS_SPRS))
    {
        snprintf(r->err, r->errlen, "%s: %llu inverted lists of %llu-byte "
                 "codes (type 0x%08x) for %llu lists of %llu-byte codes",
                 RECSYS_INDEX_FILE, (unsigned long long) nlist,
                 (unsigned long long) code_size, type,
                 (unsigned long long) l->nlist,
                 (unsigned long long) l->code_size);
        return -1;
    }

    l->sparse = (type == RECSYS_FAISS_SPRS);
    l->sizes_offset = r->pos;

    if (recsys_faiss_u64(r, &nsizes) != 0) {
        return -1;
    }

    count = l->sparse ? nsizes / 2 : nsizes;

    if ((l->sparse && (nsizes % 2 != 0 || count > nlist))
        || (!l->sparse && nsizes != nlist))
    {
        snprintf(r->err, r->errlen, "%s: %llu list sizes for %llu lists",
                 RECSYS_INDEX_FILE, (unsigned long long) nsizes,
                 (unsigned long long) nlist);
        return -1;
    }

    sizes = r->base + r->pos;

    if (recsys_faiss_skip(r, nsizes * 8) != 0) {
        return -1;
    }

    l->nsizes = nsizes;
    sum = 0;
    next = 0;

    for (i = 0; i < count; i++) {
        recsys_faiss_list_size(sizes, l->sparse, i, &list, &n);

        /* sparse entries come in list order, once each, never empty */
        if (l->sparse && (list < next || list >= nlist || n == 0)) {
            snprintf(r->err, r->errlen, "%s: sparse list entry %llu names "
                     "list %llu of size %llu", RECSYS_INDEX_FILE,
                     (unsigned long long) i, (unsigned long long) list,
                     (unsigned long long) n);
            return -1;
        }

        next = list + 1;

        if (n > l->ntotal - sum) {
            snprintf(r->err, r->errlen, "%s: list %llu holds %llu vectors, "
                     "more than the %llu of the index are left",
                     RECSYS_INDEX_FILE, (unsigned long long) list,
                     (unsigned long long) n,
                     (unsigned long long) (l->ntotal - sum));
            return -1;
        }

        sum += n;
    }

    if (sum != l->ntotal) {
        snprintf(r->err, r->errlen, "%s: list sizes add up to %llu, the "
                 "index holds %llu vectors", RECSYS_INDEX_FILE,
                 (unsigned long long) sum, (unsigned long long) l->ntotal);
        return -1;
    }

    l->data_offset = r->pos;

    /* ntotal < 2^40 and a code is < 2^20 bytes: no overflow */
    need = l->ntotal * (l->code_size + sizeof(int64_t));

    if (need != r->size - r->pos) {
        snprintf(r->err, r->errlen, "%s: the lists take %llu bytes from "
                 "byte %llu, the file has %llu", RECSYS_INDEX_FILE,
                 (unsigned long long) need, (unsigned long long) r->pos,
                 (unsigned long long) r->size);
        return -1;
    }

    return 0;
}


int
recsys_faiss_check(const void *base, size_t size, recsys_faiss_layout_t *l,
    char *err, size_t errlen)
{
    uint64_t               nprobe;
    recsys_faiss_reader_t  r;

    memset(l, 0, sizeof(recsys_faiss_layout_t));

    r.base = base;
    r.size = size;
    r.pos = 0;
    r.err = err;
    r.errlen = errlen;

    if (recsys_faiss_read(&r, &l->type, 4) != 0) {
        return -1;
    }

    if (l->type != RECSYS_FAISS_IVF_FLAT && l->type != RECSYS_FAISS_IVF_SQ
        && l->type != RECSYS_FAISS_IVF_PQ)
    {
        snprintf(err, errlen, "%s: index type 0x%08x is not one the builder "
                 "writes (IVF with Flat, SQ or PQ)", RECSYS_INDEX_FILE,
                 l->type);
        return -1;
    }

    if (recsys_faiss_header(&r, "index", &l->dimension, &l->ntotal,
                            &l->metric)
        != 0
        || recsys_faiss_u64(&r, &l->nlist) != 0
        || recsys_faiss_u64(&r, &nprobe) != 0)
    {
        return -1;
    }

    if (l->nlist == 0 || l->nlist > RECSYS_FAISS_NLIST_MAX) {
        snprintf(err, errlen, "%s: %llu lists", RECSYS_INDEX_FILE,
                 (unsigned long long) l->nlist);
        return -1;
    }

    if (recsys_faiss_quantizer(&r, l) != 0) {
        return -1;
    }

    switch (l->type) {
    case RECSYS_FAISS_IVF_SQ:
        if (recsys_faiss_sq(&r, l) != 0) {
            return -1;
        }
        break;
    case RECSYS_FAISS_IVF_PQ:
        if (recsys_faiss_pq(&r, l) != 0) {
            return -1;
        }
        break;
    default:
        l->code_size = (uint64_t) l->dimension * sizeof(float);
    }

    return recsys_faiss_lists(&r, l);
}


int
recsys_faiss_check_ids(const void *base, size_t size,
    const recsys_faiss_layout_t *l, char *err, size_t errlen)
{
    int64_t         id;
    uint8_t        *seen;
    uint64_t        count, i, j, list, n, pos;
    const uint8_t  *p, *sizes;

    p = base;

    if (l->data_offset > size || l->sizes_offset + 8 + l->nsizes * 8 > size) {
        snprintf(err, errlen, "%s: layout outside the file",
                 RECSYS_INDEX_FILE);
        return -1;
    }

    seen = calloc(l->ntotal / 8 + 1, 1);
    if (seen == NULL) {
        snprintf(err, errlen, "%s: out of memory", RECSYS_INDEX_FILE);
        return -1;
    }

    sizes = p + l->sizes_offset + 8;
    count = l->sparse ? l->nsizes / 2 : l->nsizes;
    pos = l->data_offset;

    for (i = 0; i < count; i++) {
        recsys_faiss_list_size(sizes, l->sparse, i, &list, &n);

        /* the codes, then the ids of the list */
        pos += n * l->code_size;

        for (j = 0; j < n; j++, pos += 8) {
            if (pos + 8 > size) {
                goto outside;
            }

            memcpy(&id, p + pos, 8);

            if (id < 0 || (uint64_t) id >= l->ntotal
                || (seen[id / 8] & (1 << (id % 8))))
            {
                snprintf(err, errlen, "%s: list %llu holds id %lld twice or "
                         "out of 0..%llu", RECSYS_INDEX_FILE,
                         (unsigned long long) list, (long long) id,
                         (unsigned long long) l->ntotal);
                free(seen);
                return -1;
            }

            seen[id / 8] |= 1 << (id % 8);
        }
    }

    free(seen);

    return 0;

outside:

    snprintf(err, errlen, "%s: lists outside the file", RECSYS_INDEX_FILE);
    free(seen);

    return -1;
}


/*
 * FAISS messages start with "Error in <C++ signature> at <file>:<line>:
 * Error: '<condition>' failed: "; the reason is what follows.
 */

const char *
recsys_faiss_error(void)
{
    const char  *e, *p;

    e = faiss_get_last_error();
    if (e == NULL) {
        return "unknown FAISS error";
    }

    p = strstr(e, "' failed: ");
    if (p != NULL) {
        return p + sizeof("' failed: ") - 1;
    }

    p = strstr(e, "Error: ");
    if (p != NULL) {
        return p + sizeof("Error: ") - 1;
    }

    return e;
}
